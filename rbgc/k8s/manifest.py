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
    the document for pass-through ones). `source`/`source_path` let a later check map a field of
    the body back to the input: body path `template_path + rest` came from `source_path + rest`.
    """

    body: dict[str, Any]
    wave: int
    origin: Span
    order: int = 0  # input position, the last tie-break so pass-through order stays stable
    group: str | None = None
    role: str | None = None
    source: Document | None = None
    template_path: JsonPath | None = None
    source_path: JsonPath | None = None
    pod_templates: tuple[JsonPath, ...] = ()  # where pod templates sit in the body

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

    def sort_key(self) -> tuple[int, int, str, str, str, int]:
        rank = KIND_RANK.get(self.kind, UNKNOWN_KIND_RANK)
        return (self.wave, rank, self.kind, self.namespace, self.name, self.order)

    def span_of(self, body_path: JsonPath) -> Span:
        """Best input location for a field of the body (used by output schema errors)."""
        if (
            self.source is not None
            and self.template_path is not None
            and self.source_path is not None
            and body_path[: len(self.template_path)] == self.template_path
        ):
            rest = body_path[len(self.template_path) :]
            return self.source.span(*self.source_path, *rest)
        if self.source is not None and self.template_path is None and self.role is None:
            return self.source.span(*body_path)
        return self.origin
