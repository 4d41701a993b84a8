"""A loaded document: its plain value, and where each of its values was written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rbgc.diagnostics import Span
from rbgc.jsonpath import JsonPath


@dataclass(frozen=True, slots=True)
class SpanIndex:
    """Where every value of a document came from (1-based line and column)."""

    path: str
    values: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)
    # Values an overlay set come from another file: their path, where it is not `path`.
    files: dict[JsonPath, str] = field(default_factory=dict)

    def at(self, jpath: JsonPath, *, key: bool = False) -> Span:
        """The span of `jpath`, or of its nearest ancestor that has one."""
        table = self.keys if key else self.values
        probe = tuple(jpath)
        while True:
            pos = table.get(probe) or self.values.get(probe)
            if pos is not None:
                return Span(self.files.get(probe, self.path), *pos)
            if not probe:
                return Span(self.path)
            probe = probe[:-1]


@dataclass(frozen=True, slots=True)
class Document:
    """One YAML document: its plain value and where it came from."""

    path: str
    index: int  # position of the document in its file, from 0
    body: dict[str, Any]
    spans: SpanIndex

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def api_version(self) -> str:
        return str(self.body.get("apiVersion", ""))

    def span(self, *jpath: str | int, key: bool = False) -> Span:
        return self.spans.at(jpath, key=key)
