"""The overlay's merge: mappings key by key, lists of named items by `name`, `$patch`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rbgc.diagnostics import DiagnosticError, error
from rbgc.overlays.spans import Spans
from rbgc.source import (
    JsonPath,
)

DIRECTIVE = "$patch"


class Merge:
    """Strategic merge by name, recording where every merged value came from."""

    def __init__(self, spans: Spans) -> None:
        self.spans = spans

    def merge(self, base: Any, patch: Any, out: JsonPath, src: JsonPath, at: JsonPath) -> Any:
        """`patch` (at `src` in the overlay) over `base` (at `at` in the base), placed at `out`."""
        if isinstance(patch, dict) and isinstance(base, dict):
            directive = self.directive(patch, src)
            if directive == "replace":
                self.spans.from_overlay(out, src)
                return clean(patch)
            merged = dict(base)
            for key, value in patch.items():
                if key == DIRECTIVE:
                    continue
                if value is None or (isinstance(value, dict) and value.get(DIRECTIVE) == "delete"):
                    merged.pop(key, None)
                elif key in merged:
                    merged[key] = self.merge(
                        merged[key], value, (*out, key), (*src, key), (*at, key)
                    )
                else:
                    merged[key] = clean(value)
                    self.spans.from_overlay((*out, key), (*src, key))
            return merged
        if isinstance(patch, list) and isinstance(base, list) and patch and named(patch + base):
            return self.mergenamed(base, patch, out, src, at)
        self.spans.from_overlay(out, src)
        return clean(patch)

    def mergenamed(
        self,
        base: list[dict[str, Any]],
        patch: list[dict[str, Any]],
        out: JsonPath,
        src: JsonPath,
        at: JsonPath,
    ) -> list[Any]:
        present = {item["name"] for item in base}
        patches: dict[str, tuple[int, dict[str, Any]]] = {}
        added: list[tuple[int, dict[str, Any]]] = []
        problems = []
        for j, item in enumerate(patch):
            delete = self.directive(item, (*src, j)) == "delete"
            if item["name"] in present:
                patches[item["name"]] = (j, item)
            elif delete:
                problems.append(
                    error(
                        "RBG705",
                        f"`$patch: delete` names {item['name']!r}, which the base does not have",
                        self.spans.overlay_span((*src, j, "name")),
                        help="known: " + ", ".join(sorted(present)) if present else None,
                    )
                )
            else:
                added.append((j, item))
        if problems:
            raise DiagnosticError(problems)
        merged: list[Any] = []
        for i, item in enumerate(base):
            j, change = patches.get(item["name"], (-1, None))
            if change is not None and change.get(DIRECTIVE) == "delete":
                continue
            place = (*out, len(merged))
            self.spans.from_base(place, (*at, i))
            if change is not None:
                item = self.merge(item, change, place, (*src, j), (*at, i))
            merged.append(item)
        for j, item in added:
            self.spans.from_overlay((*out, len(merged)), (*src, j))
            merged.append(clean(item))
        return merged

    def directive(self, patch: dict[str, Any], src: JsonPath) -> str | None:
        value = patch.get(DIRECTIVE)
        if value is None or value in ("delete", "replace", "merge"):
            return value if isinstance(value, str) else None
        raise DiagnosticError(
            [
                error(
                    "RBG706",
                    f"unknown patch directive `$patch: {value}`",
                    self.spans.overlay_span((*src, DIRECTIVE)),
                    help="use `$patch: delete` (drop a named item), `$patch: replace` or "
                    "`$patch: merge` (the default)",
                )
            ]
        )


def named(items: Sequence[Any]) -> bool:
    return all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items)


def clean(value: Any) -> Any:
    """A patch value as it lands in the object: no `$patch` directives left in it."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items() if k != DIRECTIVE}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value
