"""Where each value of a changed document came from: the base's file or the overlay's."""

from __future__ import annotations

from rbgc.diagnostics import Span
from rbgc.source import (
    JsonPath,
    SpanIndex,
)


class Spans:
    """Builds the span index of a changed document from its base's and the overlay's."""

    def __init__(self, base: SpanIndex, overlay: SpanIndex) -> None:
        self.base = base
        self.overlay = overlay
        self.out = SpanIndex(base.path, dict(base.values), dict(base.keys), dict(base.files))

    def rebase(self) -> None:
        """Later grafts from the base read the document as changed so far."""
        out = self.out
        self.base = SpanIndex(out.path, dict(out.values), dict(out.keys), dict(out.files))

    def overlay_span(self, path: JsonPath) -> Span:
        return self.overlay.at(path)

    def from_base(self, dst: JsonPath, src: JsonPath) -> None:
        if dst != src:
            self._graft(dst, self.base, src)

    def from_overlay(self, dst: JsonPath, src: JsonPath) -> None:
        self._graft(dst, self.overlay, src)

    def _graft(self, dst: JsonPath, source: SpanIndex, src: JsonPath) -> None:
        n, out = len(dst), self.out
        for table in (out.values, out.keys, out.files):
            for stale in [p for p in table if p[:n] == dst]:
                del table[stale]
        m = len(src)
        for table, into in ((source.values, out.values), (source.keys, out.keys)):
            for path, pos in table.items():
                if path[:m] == src:
                    new = (*dst, *path[m:])
                    into[new] = pos
                    where = source.files.get(path, source.path)
                    if where != out.path:
                        out.files[new] = where
