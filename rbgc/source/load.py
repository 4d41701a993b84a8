"""Loading YAML: one stream of text into plain documents that remember where each value was.

libyaml (through PyYAML's C composer) builds the node tree with marks; we turn it into
JSON-shaped Python values ourselves so that nothing the user did not write can appear: custom
tags are refused, aliases are expanded under a size cap, duplicate and non-string keys are
errors. Every mapping value, mapping key and sequence item gets a 1-based `(line, col)` in the
document's `SpanIndex`, so any later stage can point at the user's text.

Values are counted from libyaml's event stream before anything is composed, so a document of
millions of values is refused after reading the first `MAX_VALUES` of them, not after building
them all (a flat 7 MiB list took 18 s and 1.6 GB before). We compose with libyaml rather than
ruamel.yaml's round-trip loader because it is an order of magnitude faster (0.16 s against
2.1 s for a 1,000-role file) and `rbgc build` runs on every Argo CD refresh; ruamel.yaml is
used where rbgc rewrites YAML a human keeps editing.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from rbgc.diagnostics import Diagnostic, DiagnosticError, Span, error
from rbgc.jsonpath import JsonPath
from rbgc.source.document import Document, SpanIndex
from rbgc.source.shapes import document_problems

# Values (mapping keys, scalars, lists, mappings) one document may hold. etcd stores an object
# of at most 1.5 MiB, and real manifests spend 12 bytes or more per value (the densest file of
# the compat corpus and the goldens; upstream's 3 MiB RoleBasedGroupSet CRD holds 65,000), so
# an object the API server keeps has at most about 130,000. Counting stops at the limit, about
# a microsecond a value: the refusal takes a fraction of a second.
MAX_VALUES = 250_000
# Aliases may repeat a block a few times (YAML anchors for shared settings), never explode.
MAX_ALIAS_VALUES = 100_000
# Deeper values would exhaust Python's recursion limit in the passes and the emitter (about
# 330 levels); real manifests stay far below (a CRD embedding a pod template: about 50).
MAX_DEPTH = 200
# Kubernetes stores integers in 64 bits: a larger one is rejected or silently made a float.
MIN_INT, MAX_INT = -(2**63), 2**64 - 1

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
# Timestamps stay the text the user wrote: JSON has no timestamp type and Kubernetes wants strings.
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_SCALAR_TAGS = frozenset({_STR, _INT, _FLOAT, _BOOL, _NULL, _TIMESTAMP})
_VALUE_EVENTS = (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)

_constructor = yaml.constructor.SafeConstructor()


class _Builder:
    """Turns one composed node tree into plain values, recording spans and refusing abuse."""

    def __init__(self, path: str, spans: SpanIndex) -> None:
        self.path = path
        self.spans = spans
        self.active: set[int] = set()
        self.built: set[int] = set()  # collections seen: meeting one again is an alias
        self.alias_depth = 0
        self.alias_values = 0
        self.problems: list[Diagnostic] = []

    def span(self, mark: yaml.Mark) -> Span:
        return Span(self.path, mark.line + 1, mark.column + 1)

    def build(self, node: yaml.Node, jpath: JsonPath) -> Any:
        if len(jpath) > MAX_DEPTH:
            raise _TooDeep(self.span(node.start_mark))
        if self.alias_depth:
            self.alias_values += 1
            if self.alias_values > MAX_ALIAS_VALUES:
                raise _TooLarge(
                    self.span(node.start_mark),
                    f"aliases that expand to more than {MAX_ALIAS_VALUES:,} values",
                )
        self.spans.values.setdefault(jpath, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if id(node) in self.active:
            self.problems.append(
                error(
                    "RBG010",
                    "this anchored node contains an alias to itself (a recursive alias)",
                    self.span(node.start_mark),
                    help="YAML aliases must not be recursive",
                )
            )
            return None
        reused = id(node) in self.built
        self.built.add(id(node))
        self.alias_depth += reused
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                if node.tag != _SEQ:
                    return self.bad_tag(node)
                return [self.build(item, (*jpath, i)) for i, item in enumerate(node.value)]
            assert isinstance(node, yaml.MappingNode)
            if node.tag != _MAP:
                return self.bad_tag(node)
            return self.mapping(node, jpath)
        finally:
            self.active.discard(id(node))
            self.alias_depth -= reused

    def scalar(self, node: yaml.ScalarNode) -> Any:
        tag = node.tag
        if tag not in _SCALAR_TAGS:
            return self.bad_tag(node)
        if tag == _STR or tag == _TIMESTAMP:
            return node.value
        if tag == _INT:
            return self.integer(node)
        if tag == _FLOAT:
            return _constructor.construct_yaml_float(node)
        if tag == _BOOL:
            return _constructor.construct_yaml_bool(node)
        return None

    def integer(self, node: yaml.ScalarNode) -> int | None:
        try:
            value: int = _constructor.construct_yaml_int(node)
        except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
            value = MAX_INT + 1
        if MIN_INT <= value <= MAX_INT:
            return value
        text = node.value if len(node.value) <= 24 else node.value[:20] + "..."
        self.problems.append(
            error(
                "RBG012",
                f"integer {text} ({len(node.value):,} characters) does not fit in 64 bits",
                self.span(node.start_mark),
                help="Kubernetes stores integers in 64 bits; quote the value if it is meant "
                "as a string",
            )
        )
        return None

    def mapping(self, node: yaml.MappingNode, jpath: JsonPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        seen: dict[str, yaml.Mark] = {}
        merged: list[tuple[yaml.MappingNode, JsonPath]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.extend(self.merge_sources(value_node, jpath))
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STR:
                self.problems.append(
                    error(
                        "RBG004",
                        f"mapping key {_show(key_node)} is not a string",
                        self.span(key_node.start_mark),
                        help="quote the key; Kubernetes objects only have string keys",
                    )
                )
                continue
            key = key_node.value
            if key in seen:
                first = seen[key]
                self.problems.append(
                    error(
                        "RBG002",
                        f"duplicate key {key!r}",
                        self.span(key_node.start_mark),
                        help="keep one of them; rbgc does not guess which value you meant",
                        notes=((self.span(first), "first defined here"),),
                    )
                )
                continue
            seen[key] = key_node.start_mark
            child = (*jpath, key)
            self.spans.keys[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.build(value_node, child)
        # `<<` merge keys: explicit keys win, earlier sources win over later ones (YAML 1.1).
        for source, _ in merged:
            for key_node, value_node in source.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _STR:
                    if key_node.value not in out:
                        child = (*jpath, key_node.value)
                        out[key_node.value] = self.build(value_node, child)
        return out

    def merge_sources(
        self, node: yaml.Node, jpath: JsonPath
    ) -> list[tuple[yaml.MappingNode, JsonPath]]:
        if isinstance(node, yaml.MappingNode):
            return [(node, jpath)]
        if isinstance(node, yaml.SequenceNode) and all(
            isinstance(n, yaml.MappingNode) for n in node.value
        ):
            return [(n, jpath) for n in node.value]
        self.problems.append(
            error(
                "RBG001",
                "a `<<` merge key needs a mapping or a list of mappings",
                self.span(node.start_mark),
            )
        )
        return []

    def bad_tag(self, node: yaml.Node) -> None:
        self.problems.append(
            error(
                "RBG003",
                f"unsupported YAML tag {_tag_text(node.tag)}",
                self.span(node.start_mark),
                help="rbgc only reads plain YAML values (strings, numbers, booleans, null, "
                "mappings, lists); remove the tag",
            )
        )
        return None


class _TooLarge(Exception):
    def __init__(self, span: Span, what: str) -> None:
        self.span = span
        self.what = what


class _TooDeep(Exception):
    def __init__(self, span: Span) -> None:
        self.span = span


def _tag_text(tag: str) -> str:
    """A tag as the user wrote it: `tag:yaml.org,2002:binary` was `!!binary`."""
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org") else tag


def _show(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        kind = node.tag.rsplit(":", 1)[-1]
        return f"{node.value!r} (read as {kind})" if node.value else f"(empty, read as {kind})"
    return "(a mapping or list)"


# Refusals already counted in this process, by (path, limit, hash of the text): `validate`
# probes a file for objects before it loads it, and counting to the limit twice costs twice.
_REFUSED: dict[tuple[str, int, int], Diagnostic] = {}


def count_values(text: str, path: str, limit: int = MAX_VALUES) -> Diagnostic | None:
    """RBG005 for the first document holding more than `limit` values, counted from the
    parser's events and stopping there; None when every document stays below (a syntax error
    is left for the composer to report with its place)."""
    key = (path, limit, hash(text))
    if key in _REFUSED:
        return _REFUSED[key]
    found = _count(text, path, limit)
    if found is not None:
        _REFUSED[key] = found
    return found


def _count(text: str, path: str, limit: int) -> Diagnostic | None:
    count = document = 0
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(event, _VALUE_EVENTS):
                count += 1
                if count > limit:
                    mark = event.start_mark
                    where = Span(path, mark.line + 1, mark.column + 1) if mark else Span(path)
                    return error(
                        "RBG005",
                        f"document {document} has more than {limit:,} values",
                        where,
                        help="no Kubernetes object holds that many (etcd stores at most 1.5 MiB "
                        "per object); split the data, or generate it where it is used",
                    )
            elif isinstance(event, yaml.DocumentStartEvent):
                count, document = 0, document + 1
    except yaml.YAMLError:
        return None
    return None


def parse_text(text: str, path: str, *, max_values: int = MAX_VALUES) -> list[Document]:
    """All documents of one YAML stream. Raises DiagnosticError with every problem found.

    `max_values`: the most values one document may hold (a cluster inventory, one `List` of
    every node, holds more than any object)."""
    too_many = count_values(text, path, max_values)
    if too_many is not None:
        raise DiagnosticError([too_many])
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.CSafeLoader))
    except yaml.YAMLError as exc:
        raise DiagnosticError([syntax_error(exc, text, path)]) from None
    problems: list[Diagnostic] = []
    documents: list[Document] = []
    for index, node in enumerate(nodes):
        if node is None:
            continue
        spans = SpanIndex(path)
        builder = _Builder(path, spans)
        try:
            body = builder.build(node, ())
        except _TooLarge as exc:
            problems.append(
                error(
                    "RBG005",
                    f"document {index + 1} has {exc.what}",
                    exc.span,
                    help="check for aliases that multiply (a 'billion laughs' pattern)",
                )
            )
            continue
        except _TooDeep as exc:
            problems.append(
                error(
                    "RBG013",
                    f"document {index + 1} nests values more than {MAX_DEPTH} levels deep",
                    exc.span,
                    help="Kubernetes objects are a few dozen levels deep; look for a runaway "
                    "[ or { (or an alias that nests itself)",
                )
            )
            continue
        problems.extend(builder.problems)
        if body is None:
            continue  # an empty document, e.g. a trailing `---`
        span = Span(path, node.start_mark.line + 1, node.start_mark.column + 1)
        shape = document_problems(body, spans, index, span)
        if shape:
            problems.extend(shape)
            continue
        documents.append(Document(path, index, body, spans))
    if problems:
        raise DiagnosticError(problems)
    return documents


def syntax_error(exc: yaml.YAMLError, text: str, path: str) -> Diagnostic:
    """RBG001 in the parser's words, located, with a hint where they leave the user guessing."""
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML forbids; it has no mark
        before = text[: exc.position]
        row, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return error(
            "RBG001",
            f"character U+{char:04X} is not allowed in YAML",
            Span(path, row, col),
            help=f'remove it, or write it as an escape in a double-quoted string ("\\u{char:04x}")',
        )
    if not isinstance(exc, yaml.MarkedYAMLError):
        return error("RBG001", str(exc), Span(path))
    mark = exc.problem_mark or exc.context_mark
    span = Span(path, mark.line + 1, mark.column + 1) if mark else Span(path)
    problem = exc.problem or "invalid YAML"
    if exc.context:
        problem = f"{problem} ({exc.context})"
    lines = text.splitlines()
    hint = None
    if mark and problem.startswith("found undefined alias"):
        # libyaml does not say which alias: read it from the text at the mark
        line = lines[mark.line] if mark.line < len(lines) else ""
        name = re.match(r"\*([^\s,\[\]{}]+)", line[mark.column :])
        if name:
            problem = f"alias *{name[1]} has no anchor &{name[1]} before it"
            hint = f"define `&{name[1]}` on an earlier value, or write the value out"
    elif mark:
        hint = indentation_hint(exc, lines)
    return error("RBG001", problem, span, help=hint)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _spaces(count: int) -> str:
    return f"{count} space{'s' if count != 1 else ''}"


def indentation_hint(exc: yaml.MarkedYAMLError, lines: list[str]) -> str | None:
    """Which line's indentation to compare the offending line with, for the parser errors
    that misplaced indentation causes (libyaml names the construct, not the lines)."""
    mark, context = exc.problem_mark, exc.context_mark
    if mark is None or mark.line >= len(lines):
        return None
    row, line = mark.line + 1, lines[mark.line]
    problem = exc.problem or ""
    if line[mark.column : mark.column + 1] == "\t" or (
        "cannot start any token" in problem and "\t" in line[: _indent(line) + 1]
    ):
        return f"line {row} is indented with a tab; YAML indents with spaces only"
    if context is None or context.line >= len(lines):
        if problem.startswith("mapping values are not allowed"):
            return _deeper_than_its_key(row, lines)
        return None
    has = f"line {row} has {_spaces(_indent(line))}"
    if problem.startswith("did not find expected '-' indicator"):
        item = re.match(r"( *)- +([^\s:#]+)", lines[context.line])
        field = (
            f"a field of the item there starts at {_spaces(len(item[0]) - len(item[2]))} "
            f"(like `{item[2]}`), "
            if item
            else ""
        )
        return (
            f"compare line {row} with line {context.line + 1}: {field}a new item's `-` at "
            f"{_spaces(context.column)}; {has}"
        )
    if problem.startswith("did not find expected key"):
        return (
            f"compare line {row} with line {context.line + 1}: the keys of the mapping that "
            f"starts there are indented {_spaces(context.column)}; {has}"
        )
    return None


def _deeper_than_its_key(row: int, lines: list[str]) -> str | None:
    """`key: value` indented under a line that opens nothing (or `a: b: c` on one line)."""
    line = lines[row - 1]
    before = next(
        (
            (i + 1, text)
            for i, text in reversed(list(enumerate(lines[: row - 1])))
            if text.strip() and not text.lstrip().startswith("#")
        ),
        None,
    )
    if before is not None and _indent(line) > _indent(before[1]):
        number, above = before
        key = re.match(r"( *(?:- +)*)([^\s#].*?):(?:\s|$)", above)
        if not above.rstrip().endswith((":", "-", "|", ">", "[", "{", ",")) and key:
            column = len(key[1])
            return (
                f"compare line {row} with line {number}: `{key[2]}` there, indented "
                f"{_spaces(column)}, already has a value, so nothing nests under it; line "
                f"{row} has {_spaces(_indent(line))}"
            )
    return 'a plain value cannot hold `: `; quote it ("a: b"), or give the key its own line'
