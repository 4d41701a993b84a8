"""Bundle x Bundle -> typed changes: `Added | Removed | Changed`.

Objects are matched by identity (API group, kind, namespace, name). deepdiff is the
comparison engine for the bodies of matched objects and stays inside this module: what leaves
it are frozen records with a class per field (impact.py), never deepdiff's result dicts.
Secret values are masked before anything is compared, as Argo CD does (`++++++++`; a changed
value gets a longer mask so that the change still shows).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from rbgc.bundle import Bundle
from rbgc.k8s.controllers import Path
from rbgc.k8s.manifest import Manifest
from rbgc.plan import impact
from rbgc.plan.impact import ChangeClass

MASK = "++++++++"


class _Absent:
    """The value of a field that does not exist on one side."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldChange:
    path: Path
    display: str  # `spec.template.spec.containers[sglang].image`: list items by name
    old: Any  # ABSENT when the field was added
    new: Any  # ABSENT when the field was removed
    cls: ChangeClass


@dataclass(frozen=True, slots=True, kw_only=True)
class Added:
    manifest: Manifest

    @property
    def subject(self) -> Manifest:
        return self.manifest


@dataclass(frozen=True, slots=True, kw_only=True)
class Removed:
    manifest: Manifest

    @property
    def subject(self) -> Manifest:
        return self.manifest


@dataclass(frozen=True, slots=True, kw_only=True)
class Changed:
    old: Manifest
    new: Manifest
    fields: tuple[FieldChange, ...]
    classes: tuple[ChangeClass, ...]
    restarts: int  # pods that will be replaced
    consequences: tuple[str, ...]
    in_place: int = 0  # pods that keep running and get the new images

    @property
    def subject(self) -> Manifest:
        return self.new


Change = Added | Removed | Changed


def diff_bundles(old: Bundle, new: Bundle) -> tuple[Change, ...]:
    """Every object that differs, in apply order (removed objects where they used to be)."""
    before = {m.identity(): m for m in old.manifests}
    after = {m.identity(): m for m in new.manifests}
    changes: list[Change] = []
    for key, m in after.items():
        previous = before.get(key)
        if previous is None:
            changes.append(Added(manifest=masked(m)))
        elif previous.body != m.body:
            changed = diff_objects(previous, m)
            if changed is not None:
                changes.append(changed)
    changes.extend(Removed(manifest=masked(m)) for key, m in before.items() if key not in after)
    return tuple(sorted(changes, key=lambda c: (*c.subject.sort_key(), type(c).__name__)))


def diff_objects(old: Manifest, new: Manifest) -> Changed | None:
    """The typed change between two versions of one object, or None when they are equal."""
    from deepdiff import DeepDiff
    from deepdiff.helper import NotPresent

    old_body, new_body = _mask_pair(old.body, new.body)
    tree = DeepDiff(old_body, new_body, view="tree")
    fields: list[FieldChange] = []
    group, kind = new.api_group, new.kind
    for levels in tree.values():
        for level in levels:
            path: Path = tuple(level.path(output_format="list"))
            before = ABSENT if isinstance(level.t1, NotPresent) else level.t1
            after = ABSENT if isinstance(level.t2, NotPresent) else level.t2
            fields.append(
                FieldChange(
                    path=path,
                    display=display_path(path, new_body if after is not ABSENT else old_body),
                    old=before,
                    new=after,
                    cls=impact.classify(group, kind, old_body, path),
                )
            )
    if not fields:
        return None
    if impact.in_place_classes(group, kind, old_body, new_body):
        fields = [
            replace(f, cls=ChangeClass.IN_PLACE) if f.cls is ChangeClass.RESTARTS else f
            for f in fields
        ]
    fields.sort(key=lambda f: _path_key(f.path))
    classes = impact.ordered(f.cls for f in fields)
    immutable = tuple(dict.fromkeys(f.display for f in fields if f.cls is ChangeClass.RECREATE))
    return Changed(
        old=_with_body(old, old_body),
        new=_with_body(new, new_body),
        fields=tuple(fields),
        classes=classes,
        restarts=impact.restarts(group, kind, old_body, new_body, classes),
        in_place=impact.updated_in_place(group, kind, old_body, new_body)
        if ChangeClass.IN_PLACE in classes
        else 0,
        consequences=impact.consequences(group, kind, old_body, new_body, classes, immutable),
    )


def display_path(path: Path, body: Mapping[str, Any]) -> str:
    """`('spec', 'containers', 0, 'image')` -> `spec.containers[sglang].image` when item 0 has
    the name `sglang` (Kubernetes merges such lists by name), else `[0]`."""
    out = ""
    value: Any = body
    for part in path:
        if isinstance(part, int):
            item = value[part] if isinstance(value, list) and part < len(value) else None
            name = item.get("name") if isinstance(item, Mapping) else None
            out += f"[{name}]" if isinstance(name, str) and name else f"[{part}]"
            value = item
        else:
            out += f".{part}" if out else part
            value = value.get(part) if isinstance(value, Mapping) else None
    return out


def _path_key(path: Path) -> tuple[tuple[int, str], ...]:
    return tuple((0, f"{p:09d}") if isinstance(p, int) else (1, p) for p in path)


def _with_body(m: Manifest, body: dict[str, Any]) -> Manifest:
    if body is m.body:
        return m
    return replace(m, body=body)


def _is_secret(body: Any) -> bool:
    return (
        isinstance(body, dict) and body.get("kind") == "Secret" and body.get("apiVersion") == "v1"
    )


def _secrets(body: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """The Secrets a body holds, by (namespace, name): itself, or the items of a `v1 List`."""
    if _is_secret(body):
        return {("", ""): body}
    items = body.get("items") if body.get("kind") == "List" else None
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for i, item in enumerate(items if isinstance(items, list) else ()):
        if _is_secret(item):
            meta = item.get("metadata")
            meta = meta if isinstance(meta, dict) else {}
            out[(str(meta.get("namespace", "")), str(meta.get("name", f"#{i}")))] = item
    return out


def masked(m: Manifest) -> Manifest:
    """The manifest with its Secret values replaced by `++++++++`."""
    if not _secrets(m.body):
        return m
    (body,) = _mask(m.body)
    return _with_body(m, body)


def _mask_pair(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    if not (_secrets(old) or _secrets(new)):
        return old, new
    a, b = _mask(old, new)
    return a, b


def _mask(*bodies: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """gitops-engine's HideSecretData: per key, equal values get equal masks and every other
    value one four `+` longer, so a reviewer sees that a value changed but never the value."""
    out = tuple(copy.deepcopy(b) for b in bodies)
    found = [_secrets(b) for b in out]
    for which in sorted({k for f in found for k in f}):
        secrets = [f.get(which) for f in found]
        for section in ("data", "stringData"):
            maps = [s.get(section) if s is not None else None for s in secrets]
            keys = sorted({k for m in maps if isinstance(m, dict) for k in m})
            for key in keys:
                seen: dict[str, str] = {}
                for m in maps:
                    if isinstance(m, dict) and key in m:
                        value = str(m[key])
                        m[key] = seen.setdefault(value, MASK + "++++" * len(seen))
        for s in secrets:
            annotations = (s or {}).get("metadata", {}).get("annotations")
            if isinstance(annotations, dict):
                for key in ("kubectl.kubernetes.io/last-applied-configuration",):
                    if key in annotations:
                        annotations[key] = MASK
    return out


def summary(changes: Iterable[Change]) -> dict[str, int]:
    counts = {"added": 0, "removed": 0, "changed": 0, "restarts": 0, "in_place": 0}
    for c in changes:
        if isinstance(c, Added):
            counts["added"] += 1
        elif isinstance(c, Removed):
            counts["removed"] += 1
        else:
            counts["changed"] += 1
            counts["restarts"] += c.restarts
            counts["in_place"] += c.in_place
    return counts
