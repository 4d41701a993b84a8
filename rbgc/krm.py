"""`rbgc krm`: a KRM function (kustomize / kpt) that compiles the RoleBasedGroups of a ResourceList.

Input and output follow the KRM Functions spec: a `ResourceList` (`config.kubernetes.io/v1`, or
the older `v1beta1`) with `items`. Each RoleBasedGroup item is replaced, where it stood, by the
objects it compiles to; every other item passes through untouched, its `config.kubernetes.io/*`
annotations included. Compiled objects inherit the group's file (`config.kubernetes.io/path`)
with fresh indexes, so `kpt fn eval` writes them where the group was. Diagnostics become
`results` with severity, resource, field and file; any error leaves the items as they came and
makes the function exit non-zero.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from rbgc.diagnostics import Diagnostic, DiagnosticError, Severity, Span, error
from rbgc.emit import to_yaml
from rbgc.pipeline import Options, compile_documents
from rbgc.schema import _field, is_rbg_document
from rbgc.source import Document, JsonPath, SpanIndex, object_shape_problems, parse_text

API_VERSIONS = ("config.kubernetes.io/v1", "config.kubernetes.io/v1beta1")
PATH = "config.kubernetes.io/path"
INDEX = "config.kubernetes.io/index"
INTERNAL_PATH = "internal.config.kubernetes.io/path"
INTERNAL_INDEX = "internal.config.kubernetes.io/index"
# Bookkeeping annotations the orchestrator adds; they must not leak into compiled objects.
_BOOKKEEPING = ("config.kubernetes.io/", "internal.config.kubernetes.io/", "config.k8s.io/")
STDIN = "-"
V1ALPHA2 = "workloads.x-k8s.io/v1alpha2"
CONSUMED_V1ALPHA2 = ("CoordinatedPolicy", "RoleBasedGroupScalingAdapter")


@dataclass(frozen=True, slots=True)
class Outcome:
    """The ResourceList to print, its diagnostics, and whether it succeeded."""

    text: str  # the ResourceList to write on stdout
    diagnostics: tuple[Diagnostic, ...]
    # the same, for stderr: at the file each item came from, not at the stream on stdin
    shown: tuple[Diagnostic, ...] = ()

    @property
    def ok(self) -> bool:
        return not any(d.severity is Severity.ERROR for d in self.diagnostics)


def run(text: str, options: Options) -> Outcome:
    """Process one ResourceList. Raises DiagnosticError only when the input is no ResourceList."""
    resource_list = _resource_list(text)
    body = resource_list.body
    items: list[Any] = body.get("items") or []
    documents = [_item_document(resource_list, i, item) for i, item in enumerate(items)]
    try:
        shapes = [
            p
            for d in documents
            if d is not None
            for p in object_shape_problems(d.body, d.spans, f"item {d.index + 1}")
        ]
        if shapes:
            raise DiagnosticError(shapes)
        result = compile_documents([d for d in documents if d is not None], options)
    except DiagnosticError as exc:
        diagnostics = exc.diagnostics
        out_items = items
    else:
        diagnostics = result.warnings
        compiled: dict[int, list[dict[str, Any]]] = {}
        for m in result.bundle.manifests:
            assert m.source is not None, "every compiled object knows its input item"
            compiled.setdefault(m.source.index, []).append(m.body)
        out_items = _replace(items, documents, compiled)
    out = {
        "apiVersion": body["apiVersion"],
        "kind": "ResourceList",
        "items": out_items,
    }
    if "functionConfig" in body:
        out["functionConfig"] = body["functionConfig"]
    results = [_result(d, resource_list, items) for d in diagnostics]
    if results:
        out["results"] = results
    shown = tuple(_for_people(d, resource_list, items) for d in diagnostics)
    return Outcome(to_yaml(out), tuple(diagnostics), shown)


def _for_people(d: Diagnostic, resource_list: Document, items: list[Any]) -> Diagnostic:
    """`d` at the file kpt or kustomize read its item from, naming the resource and field: a
    line of the ResourceList on stdin means nothing to the user who reads stderr."""
    moved = _in_file(d.span, resource_list, items)
    if moved is None:
        return d
    notes = []
    for span, note in d.notes:
        at = _in_file(span, resource_list, items)
        notes.append((span, note) if at is None else (at[0], f"{at[1]}: {note}"))
    return replace(d, span=moved[0], message=f"{moved[1]}: {d.message}", notes=tuple(notes))


def _in_file(
    span: Span | None, resource_list: Document, items: list[Any]
) -> tuple[Span, str] | None:
    """The file of the item at `span` and `Kind name field` within it, when the item says."""
    if span is None or span.path != STDIN:
        return None
    entry = _where(span, resource_list, items)
    where = (entry.get("file") or {}).get("path")
    if not where:
        return None
    ref = entry.get("resourceRef", {})
    field = (entry.get("field") or {}).get("path")
    said = " ".join(str(p) for p in (ref.get("kind"), ref.get("name"), field) if p)
    return Span(str(where)), said


def namespace_option(text: str) -> str | None:
    """`functionConfig` (a ConfigMap) `data.namespace`, if the pipeline sets it."""
    try:
        body = _resource_list(text).body
    except DiagnosticError:
        return None
    data = (body.get("functionConfig") or {}).get("data") or {}
    value = data.get("namespace") if isinstance(data, dict) else None
    return str(value) if value else None


def _resource_list(text: str) -> Document:
    docs = parse_text(text, STDIN)
    if (
        len(docs) != 1
        or docs[0].kind != "ResourceList"
        or docs[0].api_version not in API_VERSIONS
        or not isinstance(docs[0].body.get("items", []), list)
    ):
        raise DiagnosticError(
            [
                error(
                    "RBG707",
                    "stdin is not a KRM ResourceList",
                    docs[0].span() if docs else None,
                    help="`rbgc krm` is run by kpt or kustomize with a ResourceList "
                    f"({' or '.join(API_VERSIONS)}) on stdin; use `rbgc build -` for manifests",
                )
            ]
        )
    return docs[0]


def _item_document(resource_list: Document, i: int, item: Any) -> Document | None:
    if not isinstance(item, dict):
        return None
    spans = _subtree(resource_list.spans, ("items", i))
    doc = Document(STDIN, i, item, spans)
    if not is_rbg_document(doc):
        return doc
    body = copy.deepcopy(item)
    annotations = _metadata(body).get("annotations")
    if isinstance(annotations, dict):
        for key in [k for k in annotations if k.startswith(_BOOKKEEPING)]:
            del annotations[key]
        if not annotations:
            del body["metadata"]["annotations"]
    return Document(STDIN, i, body, spans)


def _subtree(spans: SpanIndex, root: JsonPath) -> SpanIndex:
    n = len(root)
    return SpanIndex(
        spans.path,
        {p[n:]: v for p, v in spans.values.items() if p[:n] == root},
        {p[n:]: v for p, v in spans.keys.items() if p[:n] == root},
    )


def _replace(
    items: list[Any],
    documents: list[Document | None],
    compiled: Mapping[int, list[dict[str, Any]]],
) -> list[Any]:
    """Items in input order, each RoleBasedGroup replaced by its objects, indexes renumbered."""
    used: dict[str, set[str]] = {}
    for item, doc in zip(items, documents, strict=True):
        if doc is not None and not is_rbg_document(doc):
            annotations = _annotations(item)
            if PATH in annotations:
                used.setdefault(annotations[PATH], set()).add(str(annotations.get(INDEX, "0")))
    out: list[Any] = []
    for i, (item, doc) in enumerate(zip(items, documents, strict=True)):
        if doc is not None and _consumed(doc):
            continue  # an input of the build (CoordinatedPolicy, ScalingAdapter), not emitted
        if doc is None or not is_rbg_document(doc):
            # the user's object as the build left it (an HPA may have been retargeted)
            out.append((compiled.get(i) or [item])[0] if doc is not None else item)
            continue
        source = _annotations(item)
        for body in compiled.get(i, []):
            body = copy.deepcopy(body)
            if PATH in source:
                taken = used.setdefault(source[PATH], set())
                index = next(str(n) for n in range(len(taken) + 1) if str(n) not in taken)
                taken.add(index)
                meta = body.setdefault("metadata", {})
                marks = {PATH: source[PATH], INDEX: index}
                if INTERNAL_PATH in source:
                    marks |= {INTERNAL_PATH: source[PATH], INTERNAL_INDEX: index}
                meta["annotations"] = {**(meta.get("annotations") or {}), **marks}
            out.append(body)
    return out


def _consumed(doc: Document) -> bool:
    return doc.api_version == V1ALPHA2 and doc.kind in CONSUMED_V1ALPHA2


def _annotations(item: Any) -> dict[str, str]:
    if not isinstance(item, dict):
        return {}
    found = _metadata(item).get("annotations") or {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def _metadata(item: dict[str, Any]) -> dict[str, Any]:
    """An item's metadata; an item whose metadata is no mapping is reported, not crashed on."""
    meta = item.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _result(d: Diagnostic, resource_list: Document, items: list[Any]) -> dict[str, Any]:
    """A KRM `results` entry: message, severity, and where (resource, field, file)."""
    return {
        "message": f"[{d.code}] {d.message}" + (f" (help: {d.help})" if d.help else ""),
        "severity": str(d.severity),
        **_where(d.span, resource_list, items),
    }


def _where(span: Span | None, resource_list: Document, items: list[Any]) -> dict[str, Any]:
    """A `results` entry's `resourceRef`, `field` and `file` for a position on stdin."""
    entry: dict[str, Any] = {}
    located = _locate(span, resource_list)
    if located is None:
        return entry
    i, field_path = located
    item = items[i] if isinstance(items[i], dict) else {}
    meta = _metadata(item)
    entry["resourceRef"] = {
        k: v
        for k, v in (
            ("apiVersion", item.get("apiVersion")),
            ("kind", item.get("kind")),
            ("name", meta.get("name")),
            ("namespace", meta.get("namespace")),
        )
        if v
    }
    if field_path:
        entry["field"] = {"path": _field(field_path)}
    annotations = _annotations(item)
    where = annotations.get(PATH) or annotations.get(INTERNAL_PATH)
    if where:
        index = annotations.get(INDEX) or annotations.get(INTERNAL_INDEX) or "0"
        entry["file"] = {"path": where, "index": int(index) if index.isdigit() else 0}
    return entry


def _locate(span: Span | None, resource_list: Document) -> tuple[int, JsonPath] | None:
    """Which item a position is in, and the field at it (shortest match)."""
    if span is None or span.line <= 0:
        return None
    pos = (span.line, span.col)
    best: JsonPath | None = None
    for table in (resource_list.spans.values, resource_list.spans.keys):
        for path, at in table.items():
            if (
                at == pos
                and len(path) >= 2
                and path[0] == "items"
                and (best is None or len(path) < len(best))
            ):
                best = path
        if best is not None:
            break
    if best is None:
        starts = sorted(
            (at, path[1])
            for path, at in resource_list.spans.values.items()
            if len(path) == 2 and path[0] == "items"
        )
        before = [i for at, i in starts if at <= pos]
        return (int(before[-1]), ()) if before else None
    return int(best[1]), best[2:]
