"""The ruamel.yaml edit kit: ordered-mapping edits that keep comments with their keys.

One `Editor` per document: it knows the document's mapping indent, so a value moved one level
deeper or shallower has its comments moved by that many columns and they stay where they were
relative to it.
"""

from __future__ import annotations

import copy
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, ScalarString
from ruamel.yaml.tokens import CommentToken

from rbgc.convert.mapping import Map


@dataclass(frozen=True, slots=True)
class Editor:
    """Edits of one document whose block mappings are indented `indent` columns."""

    indent: int = 2

    def index(self, m: Map, key: str) -> int:
        return list(m).index(key)

    def insert(self, m: Map, index: int, key: str, value: Any) -> None:
        if isinstance(m, CommentedMap):
            m.insert(index, key, value)
            return
        items = list(m.items())
        items.insert(index, (key, value))
        m.clear()
        m.update(items)

    def comment(self, m: Map, key: str) -> Any:
        return m.ca.items.pop(key, None) if isinstance(m, CommentedMap) else None

    def set_comment(self, m: Map, key: str, comment: Any) -> None:
        if comment is not None and isinstance(m, CommentedMap):
            m.ca.items[key] = comment

    def pop(self, m: Map, key: str) -> Any:
        """Remove `key`; the comment lines that followed its value go to the key before it."""
        index = self.index(m, key)
        comment = self.comment(m, key)
        value = m.pop(key)
        trailing = self.trailing_comment(value) or comment
        if trailing is not None and index > 0 and isinstance(m, CommentedMap):
            before = list(m)[index - 1]
            if before not in m.ca.items and not isinstance(m[before], dict | list):
                m.ca.items[before] = trailing
        return value

    def trailing_comment(self, value: Any) -> Any:
        """The comment entry ruamel keeps on the last scalar of a nested value (lines after it)."""
        while isinstance(value, CommentedMap | CommentedSeq) and len(value):
            last = list(value)[-1] if isinstance(value, CommentedMap) else len(value) - 1
            inner = value[last]
            if not isinstance(inner, CommentedMap | CommentedSeq) or not len(inner):
                entry = value.ca.items.pop(last, None)
                return entry
            value = inner
        return None

    def shift(self, node: Any, levels: int, seen: set[int] | None = None) -> None:
        """Move the comments inside `node` (and `node` itself, if it is a comment entry)."""
        seen = set() if seen is None else seen
        if not levels or id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, CommentToken):
            mark = getattr(node, "start_mark", None)
            if mark is not None and hasattr(mark, "column"):
                mark = copy.copy(mark)
                mark.column = max(mark.column + levels * self.indent, 0)
                node.start_mark = mark
        elif isinstance(node, list | tuple) and not isinstance(node, CommentedSeq):
            for item in node:
                self.shift(item, levels, seen)
        if isinstance(node, CommentedMap | CommentedSeq):
            self.shift(node.ca.comment, levels, seen)
            for entry in node.ca.items.values():
                self.shift(entry, levels, seen)
            for item in node.values() if isinstance(node, CommentedMap) else node:
                self.shift(item, levels, seen)

    def reset_column(self, entry: Any) -> None:
        for token in entry if isinstance(entry, list) else [entry]:
            if isinstance(token, CommentToken) and getattr(token, "start_mark", None) is not None:
                mark = copy.copy(token.start_mark)
                mark.column = 0
                token.start_mark = mark

    def comment_lines(self, node: Any, skip: Any = None) -> list[str]:
        """The text of every comment inside `node` (a value, or a key's comment entry), but
        `skip` (a token ruamel may reference from two places)."""
        tokens: list[CommentToken] = []
        seen: set[int] = {id(skip)} if skip is not None else set()

        def walk(item: Any) -> None:
            if id(item) in seen:
                return
            seen.add(id(item))
            if isinstance(item, CommentToken):
                tokens.append(item)
            elif isinstance(item, list | tuple) and not isinstance(item, CommentedSeq):
                for part in item:
                    walk(part)
            if isinstance(item, CommentedMap | CommentedSeq):
                walk(item.ca.comment)
                for entry in item.ca.items.values():
                    walk(entry)
                for part in item.values() if isinstance(item, CommentedMap) else item:
                    walk(part)

        walk(node)
        lines = []
        for token in tokens:
            for line in token.value.splitlines():
                line = line.strip()
                if line.startswith("#"):
                    lines.append(line[2:] if line.startswith("# ") else line[1:])
        return lines

    def remove_moving_comments(self, m: Map, key: str) -> list[str]:
        """Remove `key` from `m`, returning the comments inside its value (they travel with it
        to where the value goes); comment lines after its last line stay above the next key."""
        entry = self.trailing_comment(m[key])
        token = entry[2] if isinstance(entry, list) and len(entry) > 2 else None
        lines = self.comment_lines(m[key], skip=token)
        after: list[str] = []
        indent = 0
        if isinstance(token, CommentToken):
            first, _, rest = token.value.partition("\n")
            lines += self.comment_lines(CommentToken(first, column=0))
            after = self.comment_lines(CommentToken(rest, column=0))
            indent = len(rest) - len(rest.lstrip(" "))
        self.comment(m, key)  # the key's own entry repeats the value's first comment
        index = self.index(m, key)
        del m[key]
        if after and isinstance(m, CommentedMap) and index < len(m):
            m.yaml_set_comment_before_after_key(
                list(m)[index], before="\n".join(after), indent=indent
            )
        return lines

    def take_comment_before(self, parent: Map, name: str, key: str) -> list[str]:
        """Remove and return the comment lines just above `key` in `parent[name]` (ruamel keeps
        them on the key before it, or, above the first key, at the start of the mapping)."""
        m = parent.get(name)
        if not isinstance(m, CommentedMap) or key not in m:
            return []
        index = self.index(m, key)
        if index == 0:
            lines = self.comment_lines(m.ca.comment)
            if m.ca.comment:
                m.ca.comment[1] = None
            entry = parent.ca.items.get(name) if isinstance(parent, CommentedMap) else None
            if entry and len(entry) > 3:
                entry[3] = None  # ruamel's second reference to the same comments
            return lines
        entry = m.ca.items.get(list(m)[index - 1])
        token = entry[2] if entry and len(entry) > 2 else None
        if not isinstance(token, CommentToken) or "\n" not in token.value.rstrip("\n"):
            return []
        first, rest = token.value.split("\n", 1)
        token.value = first + "\n"
        return self.comment_lines(CommentToken(rest, column=0))

    def move(
        self, src: Map, key: str, dst: Map, new_key: str | None = None, levels: int = 0
    ) -> None:
        """Move `key` with its value and comment from `src` to the end of `dst`, `levels`
        deeper (negative: shallower)."""
        comment = self.comment(src, key)
        dst[new_key or key] = src.pop(key)
        self.set_comment(dst, new_key or key, comment)
        seen: set[int] = set()  # ruamel keeps some comments both on the key and in its value
        self.shift(comment, levels, seen)
        self.shift(dst[new_key or key], levels, seen)

    def rename(self, m: Map, old: str, new: str, value: Any = None) -> None:
        """Rename `old` to `new` in place (optionally with a new value), keeping its comment."""
        index = self.index(m, old)
        comment = self.comment(m, old)
        current = m.pop(old)
        self.insert(m, index, new, current if value is None else value)
        self.set_comment(m, new, comment)

    def new_map(self, *like: Any) -> Map:
        """A new mapping, in flow style when it replaces or wraps only mappings and lists the
        user wrote in flow style (`{size: 2}` stays `{...}`), else in block style."""
        made = CommentedMap()
        if like and all(flow(value) for value in like):
            made.fa.set_flow_style()
        return made

    def same_style(self, old: Any, new: str) -> str:
        return type(old)(new) if isinstance(old, ScalarString) else new

    def annotation(self, value: str) -> str:
        """Annotation values that YAML would read as another type are double-quoted."""
        if value in ("true", "false") or value.isdigit():
            quoted: str = DoubleQuotedScalarString(value)
            return quoted
        return value

    def annotations_of(self, meta: Map) -> Map:
        """metadata.annotations, created at the end of metadata when absent."""
        if not isinstance(meta.get("annotations"), MutableMapping):
            if isinstance(meta, CommentedMap) and meta.fa.flow_style():
                meta.fa.set_block_style()  # `metadata: {name: x}` grows a block of annotations
            meta["annotations"] = self.new_map()
        annotations: Map = meta["annotations"]
        return annotations

    def block(self, value: Any, *, like: Any = None) -> Any:
        """Plain JSON values as ruamel collections that dump like hand-written YAML: in block
        style, or in flow style where `like`, the collection they come from, was."""
        out: CommentedMap | CommentedSeq
        if isinstance(value, dict):
            out = CommentedMap()
            for k, v in value.items():
                out[k] = self.block(v)
        elif isinstance(value, list):
            out = CommentedSeq(self.block(v) for v in value)
        else:
            return value
        if flow(like):
            out.fa.set_flow_style()
        return out


def flow(value: Any) -> bool:
    """Whether the user wrote `value`, a mapping or list, in flow style (`{...}`, `[...]`)."""
    return isinstance(value, CommentedMap | CommentedSeq) and bool(value.fa.flow_style())
