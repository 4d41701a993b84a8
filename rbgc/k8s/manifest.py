"""The record every emitted object travels in: identity and wave are fields, the body a dict."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rbgc.diagnostics import Span
from rbgc.k8s.conventions import KIND_RANK, UNKNOWN_KIND_RANK
from rbgc.source import Document, JsonPath


@dataclass(frozen=True, slots=True, kw_only=True)
class Manifest:
    """One Kubernetes object of the output.

    `origin` is where the object comes from in the user's text (the role for generated objects,
    the document for pass-through ones). `template_sources` lets a later check map a field of the
    body back to the input: body path `prefix + rest` came from `source_prefix + rest` of
    `source`. `pod_templates` lists where pod templates sit in the body (discovery injects
    there).
    """

    body: dict[str, Any]
    wave: int
    origin: Span
    order: int = 0  # input position, the last tie-break so pass-through order stays stable
    group: str | None = None
    role: str | None = None
    source: Document | None = None
    template_sources: tuple[tuple[JsonPath, JsonPath], ...] = ()
    pod_templates: tuple[JsonPath, ...] = ()

    @property
    def api_version(self) -> str:
        return str(self.body.get("apiVersion", ""))

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def name(self) -> str:
        return str((self.body.get("metadata") or {}).get("name", ""))

    @property
    def namespace(self) -> str:
        return str((self.body.get("metadata") or {}).get("namespace", "") or "")

    @property
    def api_group(self) -> str:
        return self.api_version.rpartition("/")[0]

    def identity(self) -> tuple[str, str, str, str]:
        return (self.api_group, self.kind, self.namespace, self.name)

    def sort_key(self) -> tuple[int, int, str, str, str, str, int]:
        rank = KIND_RANK.get(self.kind, UNKNOWN_KIND_RANK)
        # The API group keeps same-named kinds of different groups in a fixed order whatever
        # the input order; `order` only separates true duplicates, which are errors anyway.
        return (self.wave, rank, self.kind, self.api_group, self.namespace, self.name, self.order)

    def span_of(self, body_path: JsonPath, *, key: bool = False) -> Span:
        """Best input location for a field of the body (used by output schema errors)."""
        if self.source is None:
            return self.origin
        for prefix, source_prefix in self.template_sources:
            if body_path[: len(prefix)] == prefix:
                return self.source.span(*source_prefix, *body_path[len(prefix) :], key=key)
        if self.group is None:  # a pass-through document: the body is the user's text
            return self.source.span(*body_path, key=key)
        return self.origin
