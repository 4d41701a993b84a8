"""Apply the field mapping to YAML text, keeping everything else as the user wrote it.

A file is cut into its documents at the text level; only the documents that are converted are
loaded with ruamel.yaml's round-trip loader, changed by `to_v1alpha2.py` or `to_v1alpha1.py`
and dumped again (same indentation, quotes and comments), every other byte of the file is
copied as it was. Before
anything is changed the file goes through rbgc's own loader (duplicate keys, tags, alias bombs:
RBG0xx) and each document through the schema of the version it is written in, so a
diagnostic points at the user's line, and the result is checked against the target schema.
"""

from __future__ import annotations

import io
import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from ruamel.yaml import YAML

from rbgc import schema
from rbgc.convert import mapping, to_v1alpha1, to_v1alpha2
from rbgc.convert.edit import Editor
from rbgc.diagnostics import Diagnostic, DiagnosticError, did_you_mean, error, warning
from rbgc.source import Document, expand_paths, parse_text, read_text

VERSIONS = {"v1alpha1": mapping.V1, "v1alpha2": mapping.V2}


@dataclass
class Converted:
    """One input file after conversion."""

    path: str
    original: str
    text: str
    converted: int = 0  # documents rewritten
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.text != self.original


def convert_paths(paths: Sequence[str], to: str, stdin: Any = None) -> list[Converted]:
    """Every input converted; raises DiagnosticError with every error of every file."""
    results: list[Converted] = []
    problems: list[Diagnostic] = []
    try:
        files = expand_paths(list(paths))
    except DiagnosticError as exc:
        problems.extend(exc.diagnostics)
        files = []
    for path in files:
        try:
            results.append(convert_text(read_text(path, stdin), path, to))
        except DiagnosticError as exc:
            problems.extend(exc.diagnostics)
    problems += [d for r in results for d in r.diagnostics if d.severity == "error"]
    if problems:
        raise DiagnosticError(problems + [d for r in results for d in r.diagnostics])
    return results


def convert_text(text: str, path: str, to: str) -> Converted:
    """One file's text with its `to`-convertible documents converted.

    Errors are in `diagnostics` (the text is then unchanged); YAML that cannot be loaded at
    all raises DiagnosticError.
    """
    target = VERSIONS[to]
    source = mapping.V2 if target == mapping.V1 else mapping.V1
    documents = {d.index: d for d in parse_text(text, path)}
    result = Converted(path, text, text)
    pieces: list[str] = []
    for index, (prefix, body) in enumerate(split_documents(text)):
        doc = documents.get(index)
        if doc is not None and (typo := _misspelt(doc)) is not None:
            result.diagnostics.append(typo)
            pieces.append(prefix + body)
            continue
        if doc is None or doc.api_version != source:
            pieces.append(prefix + body)
            continue
        if doc.kind not in mapping.CONVERTIBLE:
            if doc.kind in mapping.ONLY_V2 or doc.kind in ("InstanceSet", "Instance"):
                result.diagnostics.append(
                    warning(
                        mapping.DROPPED,
                        f"{doc.kind} has no {to} form; left as {doc.api_version}",
                        doc.span("kind"),
                    )
                )
            pieces.append(prefix + body)
            continue
        problems = _check(doc, source)
        if problems:
            result.diagnostics += problems
            pieces.append(prefix + body)
            continue
        new_body, found = _convert_body(body, to)
        diagnostics = [_located(f, doc) for f in found]
        result.diagnostics += diagnostics
        if any(d.severity == "error" for d in diagnostics):
            pieces.append(prefix + body)
            continue
        result.diagnostics += _check_result(new_body, path, doc, target)
        pieces.append(prefix + new_body)
        result.converted += 1
    if not any(d.severity == "error" for d in result.diagnostics):
        result.text = "".join(pieces)
    return result


def _misspelt(doc: Document) -> Diagnostic | None:
    """A kind of RBG's group that neither version has: a typo, which copying the document
    unchanged would hide (`rbgc build` reports it too)."""
    group = doc.api_version.rpartition("/")[0]
    if group != mapping.API_GROUP or doc.kind in mapping.KINDS:
        return None
    return error(
        "RBG104",
        f"{group} has no kind {doc.kind}",
        doc.span("kind"),
        help=did_you_mean(
            doc.kind, mapping.CONVERTIBLE, "rbgc converts " + ", ".join(mapping.CONVERTIBLE)
        ),
    )


def split_documents(text: str) -> list[tuple[str, str]]:
    """(prefix, body) per YAML document: the prefix runs up to and including its `---` line
    (with the comments before it), the body is what ruamel.yaml will read."""
    starts: list[tuple[int, bool]] = []
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        if isinstance(event, yaml.DocumentStartEvent) and event.start_mark is not None:
            starts.append((event.start_mark.line, bool(event.explicit)))
    if not starts:
        return [("", text)]
    line_starts = [0]
    for match in re.finditer("\n", text):
        line_starts.append(match.end())

    def offset(line: int) -> int:
        return line_starts[line] if line < len(line_starts) else len(text)

    cuts = [0] + [offset(line) for line, _ in starts[1:]] + [len(text)]
    pieces = []
    for (line, explicit), begin, end in zip(starts, cuts, cuts[1:], strict=False):
        segment = text[begin:end]
        marker = text[offset(line) : offset(line + 1)]
        if explicit and re.match(r"---[ \t]*(#.*)?\r?\n?$", marker):
            split = offset(line + 1) - begin
            pieces.append((segment[:split], segment[split:]))
        else:
            pieces.append(("", segment))
    return pieces


def _yaml_for(body: str) -> tuple[YAML, int]:
    """A round-trip dumper that writes the document's own indentation back, and that indent."""
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 4096  # never fold a long line the user did not fold
    mapping_indent, sequence, offset = guess_indent(body)
    rt.indent(mapping=mapping_indent, sequence=max(sequence, offset + 2), offset=offset)
    if re.match(r"---[ \t]", body):
        rt.explicit_start = True
    return rt, mapping_indent


def guess_indent(body: str) -> tuple[int, int, int]:
    """(mapping indent, sequence indent, dash offset) of block collections, as the file
    writes them (`- name:` two under its key is (2, 4, 2); `-   name:` flush is (4, 4, 0))."""
    lines = [line for line in body.splitlines() if line.strip() and line.lstrip()[0] != "#"]
    nested = [
        len(line) - len(line.lstrip())
        for line in lines
        if line[0] == " " and not line.lstrip().startswith("-")
    ]
    indent = min(nested) if nested else 2
    for before, line in itertools.pairwise(lines):
        item = re.match(r"( *)-( +)\S", line)
        if item and before.rstrip().endswith(":"):
            offset = max(len(item[1]) - (len(before) - len(before.lstrip())), 0)
            return indent, offset + 1 + len(item[2]), offset
    return indent, indent + 2, 2 if indent >= 2 else 0


def _convert_body(body: str, to: str) -> tuple[str, list[mapping.Finding]]:
    rt, indent = _yaml_for(body)
    tree = rt.load(body)
    direction = to_v1alpha2 if to == "v1alpha2" else to_v1alpha1
    found = direction.convert(tree, Editor(indent))
    if any(f.error for f in found):
        return body, found
    out = io.StringIO()
    rt.dump(tree, out)
    text = out.getvalue()
    if "\r\n" in body:  # ruamel writes \n: keep a Windows file's line ends
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    return text, found


def _located(finding: mapping.Finding, doc: Document) -> Diagnostic:
    span = doc.span(*finding.jpath, key=finding.key)
    make = error if finding.error else warning
    return make(finding.code, finding.message, span, help=finding.help)


def _check(doc: Document, version: str) -> list[Diagnostic]:
    """The input's problems against the schema of the version it is written in."""
    if version == mapping.V2:
        return schema.check_v1alpha2(doc)
    if doc.kind == "RoleBasedGroupScalingAdapter":
        # rbgc's v1alpha1 schema has no adapter: the v1alpha2 one is the same but apiVersion
        body = {**doc.body, "apiVersion": mapping.V2}
        return schema.check_v1alpha2(Document(doc.path, doc.index, body, doc.spans))
    return schema.check(doc)


def _check_result(body: str, path: str, doc: Document, version: str) -> list[Diagnostic]:
    """The converted document must match the target schema: a mismatch is a bug in rbgc."""
    plain = json.loads(json.dumps(YAML(typ="safe", pure=True).load(body), default=str))
    (converted,) = parse_text(json.dumps(plain), path)
    if version == mapping.V2 or doc.kind == "RoleBasedGroupScalingAdapter":
        checked = Document(path, doc.index, {**plain, "apiVersion": mapping.V2}, converted.spans)
        problems = schema.check_v1alpha2(checked)
    else:
        problems = schema.check(converted)
    return [
        error(
            "RBG901",
            f"the converted {doc.kind} does not match the {version} schema: {p.message}",
            doc.span("kind"),
            help="this is a bug in rbgc convert; please report it with the input",
        )
        for p in problems
    ]
