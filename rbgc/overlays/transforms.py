"""One overlay applied to its base's documents: patches, images, namespace, names, metadata."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

from rbgc.diagnostics import Diagnostic, DiagnosticError, error
from rbgc.jsonpath import find
from rbgc.k8s import conventions as cv
from rbgc.overlays.merge import Merge
from rbgc.overlays.spans import Spans
from rbgc.overlays.spec import API_VERSION
from rbgc.source import (
    Document,
    JsonPath,
    object_shape_problems,
    value_at,
)

_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


class Transform:
    """One overlay applied to its base's documents."""

    def __init__(self, overlay: Document) -> None:
        self.overlay = overlay
        self.spec = overlay.body

    def apply(self, documents: list[Document]) -> list[Document]:
        problems: list[Diagnostic] = []
        work = [(d, copy.deepcopy(d.body), Spans(d.spans, self.overlay.spans)) for d in documents]
        for i, patch in enumerate(self.spec.get("patches") or ()):
            matched = 0
            for n, (doc, body, spans) in enumerate(work):
                if _targets(patch.get("target") or {}, body):
                    matched += 1
                    spans.rebase()
                    try:
                        merged = Merge(spans).merge(
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

    def images(self, body: dict[str, Any], spans: Spans) -> None:
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

    def namespace(self, body: dict[str, Any], spans: Spans) -> None:
        namespace = self.spec.get("namespace")
        if namespace is None or body.get("kind") in cv.CLUSTER_SCOPED_KINDS:
            return
        body.setdefault("metadata", {})["namespace"] = namespace
        spans.from_overlay(("metadata", "namespace"), ("namespace",))

    def names(
        self,
        body: dict[str, Any],
        spans: Spans,
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

    def metadata(self, body: dict[str, Any], spans: Spans) -> None:
        for field_name, meta_key, role_key in (
            ("commonLabels", "labels", "labels"),
            ("commonAnnotations", "annotations", "annotations"),
        ):
            extra: dict[str, str] = self.spec.get(field_name) or {}
            if not extra:
                continue
            for path in _metadata_paths(body):
                node = value_at(body, path)
                node[meta_key] = {**(node.get(meta_key) or {}), **extra}
                for key in extra:
                    spans.from_overlay((*path, meta_key, key), (field_name, key))
            for path in _role_paths(body):
                role = value_at(body, path)
                role[role_key] = {**(role.get(role_key) or {}), **extra}
                for key in extra:
                    spans.from_overlay((*path, role_key, key), (field_name, key))


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
        shared = find(body, (*spec_path, "roleTemplates"))
        if isinstance(shared, list):
            templates += [(*spec_path, "roleTemplates", i, "template") for i in range(len(shared))]
    kind = str(body.get("kind", ""))
    if kind in _POD_TEMPLATES:
        templates.append(_POD_TEMPLATES[kind])
    paths: list[JsonPath] = [("metadata",)]
    for template in templates:
        node = find(body, template)  # a role with templateRef has no template of its own
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
            if key in cv.GROUP_LABELS and isinstance(child, str) and child in renamed:
                value[key] = renamed[child]
            else:
                _follow_renames(child, renamed)
    elif isinstance(value, list):
        for child in value:
            _follow_renames(child, renamed)
