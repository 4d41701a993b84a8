"""Overlays: an environment's changes to a base, applied to plain documents before parsing.

An overlay is a document of its own (`rbgc.io/v1alpha1` `Overlay`, schema in
`schemas/overlay.v1alpha1.schema.json`) that names a base (a file or a folder, which may hold
another overlay) and says how to change it, the way kustomize users expect:

    patches -> images -> namespace -> namePrefix/nameSuffix -> commonLabels/commonAnnotations

Patches merge mappings key by key and lists of named items (roles, containers, env, ports,
volumes...) by `name`, which kustomize cannot do for a custom resource's lists; `$patch: delete`
drops a named item (a role), `$patch: replace` replaces a value instead of merging it, and
`null` removes a key. Labels never go into selectors: rbgc derives those from the group and role
names, so a name prefix or suffix renames the group (and label selectors of other documents
that pointed at the old group name follow it).

The result is ordinary `Document`s whose spans point at the base file for what the base wrote
and at the overlay file for what the overlay set, so later diagnostics land on the right line.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rbgc.diagnostics import Diagnostic, DiagnosticError, Span, error
from rbgc.k8s import conventions as cv
from rbgc.schema import Walker
from rbgc.source import (
    STDIN,
    Document,
    JsonPath,
    SpanIndex,
    expand_paths,
    object_shape_problems,
    read_path,
    value_at,
)

API_VERSION = "rbgc.io/v1alpha1"
KIND = "Overlay"
SCHEMA_PATH = Path(__file__).parent / "schemas" / "overlay.v1alpha1.schema.json"

_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
_DIRECTIVE = "$patch"
_SCHEMA_HELP = "see schemas/overlay.v1alpha1.schema.json for the overlay format"


def is_overlay(doc: Document) -> bool:
    return doc.api_version == API_VERSION and doc.kind == KIND


def find_root(cwd: Path, environ: Mapping[str, str]) -> Path:
    """The folder overlay bases must stay inside when no root is given.

    The nearest ancestor of `cwd` holding `.git` (a repository checkout); else, under Argo CD,
    the repository copy the app's source path (`ARGOCD_APP_SOURCE_PATH`) sits in; else `cwd`.
    """
    cwd = cwd.resolve()
    for folder in (cwd, *cwd.parents):
        if (folder / ".git").exists():
            return folder
    source = environ.get("ARGOCD_APP_SOURCE_PATH", "").strip("/")
    if source and source != ".":
        parts = Path(source).parts
        if cwd.parts[-len(parts) :] == parts:
            return Path(*cwd.parts[: -len(parts)])
    return cwd


def resolve(
    documents: list[Document], root: str | os.PathLike[str] | None = None
) -> list[Document]:
    """Replace every Overlay document by the changed documents of its base."""
    if not any(is_overlay(d) for d in documents):
        return documents
    resolver = _Resolver(Path(root).resolve() if root else find_root(Path.cwd(), os.environ))
    out: list[Document] = []
    problems: list[Diagnostic] = []
    for doc in documents:
        if not is_overlay(doc):
            out.append(doc)
            continue
        try:
            out.extend(resolver.overlay(doc, ()))
        except DiagnosticError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise DiagnosticError(problems)
    return out


@functools.cache
def schema() -> dict[str, Any]:
    with open(SCHEMA_PATH, encoding="utf-8") as fh:
        loaded: dict[str, Any] = json.load(fh)
    return loaded


def check(doc: Document) -> list[Diagnostic]:
    """Schema problems of one overlay document, each at its location (RBG704).

    The same walker as the RoleBasedGroup schema: no jsonschema on the build path."""
    walker = Walker(doc, defs=schema().get("$defs", {}), noun="overlay")
    return [
        replace(d, code="RBG704", help=d.help or _SCHEMA_HELP)
        for d in walker.walk(schema(), doc.body, ())
    ]


@dataclass(frozen=True, slots=True)
class _Frame:
    """One overlay on the way from the built path to the current base."""

    key: tuple[Path, int]
    base_span: Span
    label: str


class _Resolver:
    def __init__(self, root: Path) -> None:
        self.root = root

    def overlay(self, doc: Document, stack: tuple[_Frame, ...]) -> list[Document]:
        problems = check(doc)
        if problems:
            raise DiagnosticError(problems)
        base = str(doc.body["base"])
        span = doc.span("base")
        folder = Path.cwd() if doc.path == STDIN else Path(doc.path).parent
        key = ((Path.cwd() / "-") if doc.path == STDIN else Path(doc.path).resolve(), doc.index)
        frame = _Frame(key, span, f"{doc.path} (base: {base})")
        if any(f.key == key for f in stack):
            chain = [*stack[[f.key for f in stack].index(key) :], frame]
            raise DiagnosticError(
                [
                    error(
                        "RBG701",
                        "overlay cycle: " + " -> ".join(f.label for f in chain),
                        stack[-1].base_span,
                        help="an overlay's base must not lead back to the overlay itself",
                        notes=tuple((f.base_span, "this base is part of the cycle") for f in chain),
                    )
                ]
            )
        target = self._base_path(base, folder, span)
        docs = self._load_base(target, span, (*stack, frame))
        return _Transform(doc).apply(docs)

    def _base_path(self, base: str, folder: Path, span: Span) -> str:
        if "\0" in base:  # YAML can write one ("\0"); no file system path holds it
            raise DiagnosticError(
                [
                    error(
                        "RBG704",
                        f"base {base!r} contains a NUL character, which no path can hold",
                        span,
                        help="name the base folder or file relative to the overlay's folder",
                    )
                ]
            )
        if os.path.isabs(base):
            raise DiagnosticError(
                [
                    error(
                        "RBG703",
                        f"base {base!r} is an absolute path",
                        span,
                        help="name the base relative to the overlay's folder, inside the "
                        "repository",
                    )
                ]
            )
        joined = folder / base
        real = joined.resolve()
        if not real.is_relative_to(self.root):
            raise DiagnosticError(
                [
                    error(
                        "RBG703",
                        f"base {base!r} resolves to {real}, outside the root {self.root}",
                        span,
                        help="keep bases inside the repository the build starts from "
                        "(or pass --root to name a wider root)",
                    )
                ]
            )
        if not real.exists():
            raise DiagnosticError(
                [
                    error(
                        "RBG702",
                        f"base {base!r} does not exist",
                        span,
                        help=f"bases are relative to the overlay's folder ({folder})",
                    )
                ]
            )
        return os.path.normpath(joined)

    def _load_base(self, target: str, span: Span, stack: tuple[_Frame, ...]) -> list[Document]:
        documents: list[Document] = []
        problems: list[Diagnostic] = []
        for path in expand_paths([target]):
            real = os.path.realpath(path)
            if not Path(real).is_relative_to(self.root):
                # a file symlink inside the base would read anything on the machine
                problems.append(
                    error(
                        "RBG703",
                        f"base file {path} is a symbolic link to {real}, outside the root "
                        f"{self.root}",
                        span,
                        help="copy the file into the repository instead of linking to it "
                        "(or pass --root to name a wider root)",
                    )
                )
                continue
            try:
                loaded = read_path(path)
            except DiagnosticError as exc:
                problems.extend(exc.diagnostics)
                continue
            for doc in loaded:
                if not is_overlay(doc):
                    documents.append(doc)
                    continue
                try:
                    documents.extend(self.overlay(doc, stack))
                except DiagnosticError as exc:
                    problems.extend(exc.diagnostics)
        if problems:
            raise DiagnosticError(problems)
        if not documents:
            raise DiagnosticError(
                [
                    error(
                        "RBG702",
                        f"base {target!r} holds no Kubernetes objects",
                        span,
                        help="point the base at a file or folder with *.yaml manifests",
                    )
                ]
            )
        return documents


class _Spans:
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


class _Transform:
    """One overlay applied to its base's documents."""

    def __init__(self, overlay: Document) -> None:
        self.overlay = overlay
        self.spec = overlay.body

    def apply(self, documents: list[Document]) -> list[Document]:
        problems: list[Diagnostic] = []
        work = [(d, copy.deepcopy(d.body), _Spans(d.spans, self.overlay.spans)) for d in documents]
        for i, patch in enumerate(self.spec.get("patches") or ()):
            matched = 0
            for n, (doc, body, spans) in enumerate(work):
                if _targets(patch.get("target") or {}, body):
                    matched += 1
                    spans.rebase()
                    try:
                        merged = _Merge(spans).merge(
                            body, patch["patch"], (), ("patches", i, "patch"), ()
                        )
                    except DiagnosticError as exc:
                        problems.extend(exc.diagnostics)
                        continue
                    work[n] = (doc, merged, spans)
            if not matched:
                problems.append(
                    error(
                        "RBG705",
                        f"patch {i + 1} matches no object of the base",
                        self.overlay.span("patches", i),
                        help="check `target` (kind and name as the base spells them, before any "
                        "name prefix or suffix)",
                    )
                )
        if problems:
            raise DiagnosticError(problems)
        renamed: dict[str, str] = {}
        topologies: dict[str, str] = {}  # renamed Topology documents (rbgc/topology.py)
        for _, body, spans in work:
            self.images(body, spans)
            self.namespace(body, spans)
            self.names(body, spans, renamed, topologies)
            self.metadata(body, spans)
        for _, body, _ in work:
            _follow_topology(body, topologies)
        if renamed:
            for _, body, _ in work:
                if not _is_rbg(body):
                    _follow_renames(body, renamed)
        out = [Document(doc.path, doc.index, body, spans.out) for doc, body, spans in work]
        for changed in out:  # a patch may have broken what loading checked
            meta = changed.body.get("metadata")
            name = meta.get("name") if isinstance(meta, dict) else None
            what = f"{changed.kind or 'document'} {name or ''} as the overlay changes it"
            problems.extend(object_shape_problems(changed.body, changed.spans, what))
        if problems:
            raise DiagnosticError(problems)
        return out

    def images(self, body: dict[str, Any], spans: _Spans) -> None:
        rules = self.spec.get("images") or ()
        for path, container in _containers(body, ()):
            image = container.get("image")
            if not isinstance(image, str):
                continue
            name, tag, digest = split_image(image)
            for i, rule in enumerate(rules):
                if rule["name"] == name:
                    container["image"] = join_image(
                        rule.get("newName", name),
                        rule.get("newTag", tag),
                        rule.get("digest", "" if "newTag" in rule else digest),
                    )
                    spans.from_overlay((*path, "image"), ("images", i))
                    break

    def namespace(self, body: dict[str, Any], spans: _Spans) -> None:
        namespace = self.spec.get("namespace")
        if namespace is None or body.get("kind") in cv.CLUSTER_SCOPED_KINDS:
            return
        body.setdefault("metadata", {})["namespace"] = namespace
        spans.from_overlay(("metadata", "namespace"), ("namespace",))

    def names(
        self,
        body: dict[str, Any],
        spans: _Spans,
        renamed: dict[str, str],
        topologies: dict[str, str],
    ) -> None:
        prefix, suffix = self.spec.get("namePrefix", ""), self.spec.get("nameSuffix", "")
        meta = body.get("metadata")
        if not (prefix or suffix) or body.get("kind") == "Namespace" or not isinstance(meta, dict):
            return
        old = str(meta.get("name", ""))
        meta["name"] = f"{prefix}{old}{suffix}"
        if body.get("kind") == cv.RBG_KIND:
            renamed[old] = meta["name"]
        elif (body.get("apiVersion"), body.get("kind")) == (API_VERSION, "Topology"):
            topologies[old] = meta["name"]
        spans.from_overlay(("metadata", "name"), ("nameSuffix" if suffix else "namePrefix",))

    def metadata(self, body: dict[str, Any], spans: _Spans) -> None:
        for field_name, meta_key, role_key in (
            ("commonLabels", "labels", "labels"),
            ("commonAnnotations", "annotations", "annotations"),
        ):
            extra: dict[str, str] = self.spec.get(field_name) or {}
            if not extra:
                continue
            for path in _metadata_paths(body):
                node = _at(body, path)
                node[meta_key] = {**(node.get(meta_key) or {}), **extra}
                for key in extra:
                    spans.from_overlay((*path, meta_key, key), (field_name, key))
            for path in _role_paths(body):
                role = _at(body, path)
                role[role_key] = {**(role.get(role_key) or {}), **extra}
                for key in extra:
                    spans.from_overlay((*path, role_key, key), (field_name, key))


class _Merge:
    """Strategic merge by name, recording where every merged value came from."""

    def __init__(self, spans: _Spans) -> None:
        self.spans = spans

    def merge(self, base: Any, patch: Any, out: JsonPath, src: JsonPath, at: JsonPath) -> Any:
        """`patch` (at `src` in the overlay) over `base` (at `at` in the base), placed at `out`."""
        if isinstance(patch, dict) and isinstance(base, dict):
            directive = self.directive(patch, src)
            if directive == "replace":
                self.spans.from_overlay(out, src)
                return _clean(patch)
            merged = dict(base)
            for key, value in patch.items():
                if key == _DIRECTIVE:
                    continue
                if value is None or (isinstance(value, dict) and value.get(_DIRECTIVE) == "delete"):
                    merged.pop(key, None)
                elif key in merged:
                    merged[key] = self.merge(
                        merged[key], value, (*out, key), (*src, key), (*at, key)
                    )
                else:
                    merged[key] = _clean(value)
                    self.spans.from_overlay((*out, key), (*src, key))
            return merged
        if isinstance(patch, list) and isinstance(base, list) and patch and _named(patch + base):
            return self.merge_named(base, patch, out, src, at)
        self.spans.from_overlay(out, src)
        return _clean(patch)

    def merge_named(
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
            if change is not None and change.get(_DIRECTIVE) == "delete":
                continue
            place = (*out, len(merged))
            self.spans.from_base(place, (*at, i))
            if change is not None:
                item = self.merge(item, change, place, (*src, j), (*at, i))
            merged.append(item)
        for j, item in added:
            self.spans.from_overlay((*out, len(merged)), (*src, j))
            merged.append(_clean(item))
        return merged

    def directive(self, patch: dict[str, Any], src: JsonPath) -> str | None:
        value = patch.get(_DIRECTIVE)
        if value is None or value in ("delete", "replace", "merge"):
            return value if isinstance(value, str) else None
        raise DiagnosticError(
            [
                error(
                    "RBG706",
                    f"unknown patch directive `$patch: {value}`",
                    self.spans.overlay_span((*src, _DIRECTIVE)),
                    help="use `$patch: delete` (drop a named item), `$patch: replace` or "
                    "`$patch: merge` (the default)",
                )
            ]
        )


def split_image(image: str) -> tuple[str, str, str]:
    """`registry:5000/a/b:tag@sha256:...` -> (`registry:5000/a/b`, `tag`, `sha256:...`)."""
    name, _, digest = image.partition("@")
    slash, colon = name.rfind("/"), name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :], digest
    return name, "", digest


def join_image(name: str, tag: str, digest: str) -> str:
    """A digest pins the image, so it replaces the tag (as kustomize's `images` does)."""
    if digest:
        return f"{name}@{digest}"
    return f"{name}:{tag}" if tag else name


def _targets(target: Mapping[str, Any], body: dict[str, Any]) -> bool:
    if body.get("kind") != target.get("kind", cv.RBG_KIND):
        return False
    return "name" not in target or (body.get("metadata") or {}).get("name") == target["name"]


def _is_rbg(body: dict[str, Any]) -> bool:
    return str(body.get("apiVersion", "")).startswith(cv.API_GROUP + "/") and body.get("kind") in (
        cv.RBG_KIND,
        cv.RBGSET_KIND,
    )


def _group_spec_path(body: dict[str, Any]) -> JsonPath | None:
    if not _is_rbg(body):
        return None
    return ("spec",) if body.get("kind") == cv.RBG_KIND else ("spec", "template")


def _role_paths(body: dict[str, Any]) -> list[JsonPath]:
    spec_path = _group_spec_path(body)
    if spec_path is None:
        return []
    roles = value_at(body, (*spec_path, "roles"))
    if not isinstance(roles, list):
        return []
    return [(*spec_path, "roles", i) for i, role in enumerate(roles) if isinstance(role, dict)]


_POD_TEMPLATES: dict[str, JsonPath] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


def _metadata_paths(body: dict[str, Any]) -> list[JsonPath]:
    """The object's metadata and its pod templates' (never a selector)."""
    templates = [(*role, "template") for role in _role_paths(body)]
    spec_path = _group_spec_path(body)
    if spec_path is not None:  # roles may take their pod template from spec.roleTemplates
        shared = _find(body, (*spec_path, "roleTemplates"))
        if isinstance(shared, list):
            templates += [(*spec_path, "roleTemplates", i, "template") for i in range(len(shared))]
    kind = str(body.get("kind", ""))
    if kind in _POD_TEMPLATES:
        templates.append(_POD_TEMPLATES[kind])
    paths: list[JsonPath] = [("metadata",)]
    for template in templates:
        node = _find(body, template)  # a role with templateRef has no template of its own
        if isinstance(node, dict):
            paths.append((*template, "metadata"))
    for path in paths:
        parent = value_at(body, path[:-1])
        if not isinstance(parent.get(path[-1]), dict):
            parent[path[-1]] = {}
    return paths


def _containers(value: Any, path: JsonPath) -> Iterator[tuple[JsonPath, dict[str, Any]]]:
    if isinstance(value, dict):
        for key, child in value.items():
            if key in _CONTAINER_LISTS and isinstance(child, list):
                for i, item in enumerate(child):
                    if isinstance(item, dict):
                        yield (*path, key, i), item
            else:
                yield from _containers(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _containers(child, (*path, i))


def _follow_topology(body: dict[str, Any], topologies: Mapping[str, str]) -> None:
    """A Placement's `spec.topology` names its Topology's new name."""
    spec = body.get("spec")
    if (body.get("apiVersion"), body.get("kind")) == (API_VERSION, "Placement") and isinstance(
        spec, dict
    ):
        name = spec.get("topology")
        if isinstance(name, str) and name in topologies:
            spec["topology"] = topologies[name]


def _follow_renames(value: Any, renamed: Mapping[str, str]) -> None:
    """Label selectors that named a renamed group name the new one."""
    if isinstance(value, dict):
        for key, child in value.items():
            if key == cv.LABEL_NAME and isinstance(child, str) and child in renamed:
                value[key] = renamed[child]
            else:
                _follow_renames(child, renamed)
    elif isinstance(value, list):
        for child in value:
            _follow_renames(child, renamed)


def _named(items: Sequence[Any]) -> bool:
    return all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items)


def _clean(value: Any) -> Any:
    """A patch value as it lands in the object: no `$patch` directives left in it."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k != _DIRECTIVE}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _find(body: Any, path: JsonPath) -> Any:
    """The value at `path`, or None where the path does not exist."""
    for part in path:
        if isinstance(body, dict) and isinstance(part, str) and part in body:
            body = body[part]
        elif isinstance(body, list) and isinstance(part, int) and 0 <= part < len(body):
            body = body[part]
        else:
            return None
    return body


def _at(body: dict[str, Any], path: JsonPath) -> dict[str, Any]:
    node = value_at(body, path)
    assert isinstance(node, dict)
    return node
