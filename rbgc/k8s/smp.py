"""Kubernetes strategic merge patch for pod templates, driven by Kubernetes' own schema.

Upstream builds LWS leader/worker templates and `templatePatch` results with
`strategicpatch.StrategicMergePatch(..., corev1.PodTemplateSpec)`: lists of containers,
volumes and env merge by `name`, ports by `containerPort`, volume mounts by `mountPath`;
other lists are replaced; `$patch: replace|delete`, `$retainKeys`,
`$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>` directives apply.

Which list merges by which key is not a hand-kept table: `patch_strategy.json` is generated
from the `x-kubernetes-patch-merge-key` / `x-kubernetes-patch-strategy` metadata of the
Kubernetes schemas that kubernetes-validate ships (`python -m rbgc.k8s.smp`), and a test
regenerates it to prove it is current. Loading that small table costs far less than the
1.5 MB schema on every build.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from typing import Any

from rbgc.source import path_text

TABLE = os.path.join(os.path.dirname(__file__), "patch_strategy.json")
ROOT_TYPE = "io.k8s.api.core.v1.PodTemplateSpec"
SCHEMA_VERSION = "1.35"


class PatchError(ValueError):
    """A patch Kubernetes' strategic merge would refuse; `path` is where in the patch."""

    def __init__(self, message: str, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.path = path


@functools.cache
def table() -> dict[str, dict[str, dict[str, str]]]:
    with open(TABLE, encoding="utf-8") as fh:
        loaded: dict[str, dict[str, dict[str, str]]] = json.load(fh)
    return loaded


def build_table(definitions: dict[str, Any], root: str = ROOT_TYPE) -> dict[str, Any]:
    """Per type reachable from `root`: field -> {type, mergeKey, strategy} (only what matters)."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    pending = [root]
    while pending:
        name = pending.pop()
        if name in out or name not in definitions:
            continue
        fields: dict[str, dict[str, str]] = {}
        for field, prop in sorted((definitions[name].get("properties") or {}).items()):
            entry: dict[str, str] = {}
            target = prop.get("items", prop) if "items" in prop else prop
            ref = target.get("$ref") or next(
                (a.get("$ref") for a in target.get("allOf", []) if "$ref" in a), None
            )
            if ref:
                entry["type"] = ref.rsplit("/", 1)[1]
                pending.append(entry["type"])
            if "x-kubernetes-patch-merge-key" in prop:
                entry["mergeKey"] = prop["x-kubernetes-patch-merge-key"]
            if "x-kubernetes-patch-strategy" in prop:
                entry["strategy"] = prop["x-kubernetes-patch-strategy"]
            if entry:
                fields[field] = entry
        out[name] = fields
    return dict(sorted(out.items()))


def strategic_merge(
    original: dict[str, Any], patch: dict[str, Any], type_name: str = ROOT_TYPE
) -> dict[str, Any]:
    """A new value: `patch` applied to `original` (neither is modified)."""
    result = _merge_map(copy.deepcopy(original), copy.deepcopy(patch), type_name, ())
    return result if result is not None else {}


def _field_info(type_name: str | None, field: str) -> dict[str, str]:
    if type_name is None:
        return {}
    return table().get(type_name, {}).get(field, {})


def _merge_map(
    original: Any, patch: dict[str, Any], type_name: str | None, at: tuple[str | int, ...]
) -> Any:
    directive = patch.pop("$patch", None)
    if directive == "replace":
        return patch
    if directive == "delete":
        return None
    if directive not in (None, "merge"):
        raise PatchError(f"unknown $patch directive {directive!r}", (*at, "$patch"))
    if not isinstance(original, dict):
        original = {}
    retain = patch.pop("$retainKeys", None)
    for key in [k for k in patch if k.startswith("$setElementOrder/")]:
        patch.pop(key)  # order hints: merged lists keep the original order, then new items
    for key in [k for k in patch if k.startswith("$deleteFromPrimitiveList/")]:
        field = key.split("/", 1)[1]
        doomed = patch.pop(key)
        if isinstance(original.get(field), list):
            original[field] = [v for v in original[field] if v not in doomed]
    for key, value in patch.items():
        info = _field_info(type_name, key)
        if value is None:
            original.pop(key, None)
        elif isinstance(value, dict):
            merged = _merge_map(original.get(key), value, info.get("type"), (*at, key))
            if merged is None:
                original.pop(key, None)
            else:
                original[key] = merged
        elif isinstance(value, list):
            original[key] = _merge_list(original.get(key), value, info, (*at, key))
        else:
            original[key] = value
    if retain is not None:
        original = {k: v for k, v in original.items() if k in retain}
    return original


def _merge_list(
    original: Any, patch: list[Any], info: dict[str, str], at: tuple[str | int, ...]
) -> list[Any]:
    if "merge" not in info.get("strategy", "").split(","):
        return [item for item in patch if not _is_directive(item)]
    base = list(original) if isinstance(original, list) else []
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [item for item in patch if not _is_directive(item)]
    key = info.get("mergeKey")
    if key is None:  # a primitive list with merge strategy: the union
        values = [v for v in patch if not _is_directive(v)]
        return _merge_sorted([v for v in base if v not in values], values, base, _hashable)
    merged: list[Any] = []  # the patch's items, merged with their originals, in patch order
    for i, item in enumerate(patch):
        where = path_text((*at, i))
        if not isinstance(item, dict):
            raise PatchError(f"{where} must be an object (the list merges by {key!r})", (*at, i))
        if key not in item:
            raise PatchError(f"{where} has no {key!r}, the key this list merges by", (*at, i))
        if not isinstance(item[key], str | int | float | bool):
            raise PatchError(f"{where}.{key} must be a string or a number", (*at, i, key))
        if item.get("$patch") == "delete":
            continue
        old = next((o for o in base if isinstance(o, dict) and o.get(key) == item[key]), None)
        if old is None:
            item.pop("$patch", None)
            merged.append(item)
        else:
            merged.append(_merge_map(old, item, info.get("type"), (*at, i)))
    patched = {item[key] for item in patch}

    def ident(o: Any) -> Any:
        return _hashable(o.get(key)) if isinstance(o, dict) else _hashable(o)

    server_only = [o for o in base if ident(o) not in patched]
    return _merge_sorted(server_only, merged, base, ident)


def _merge_sorted(
    server_only: list[Any], patched: list[Any], server: list[Any], ident: Any
) -> list[Any]:
    """strategicpatch's normalizeElementOrder + mergeSortedSlice: both lists keep their order;
    at each step the earlier item of the original wins, and an item the original lacks (a new
    one from the patch) goes first."""
    order = {ident(v): i for i, v in reversed(list(enumerate(server)))}
    out: list[Any] = []
    i = j = 0
    while i < len(server_only) and j < len(patched):
        left, right = order.get(ident(server_only[i])), order.get(ident(patched[j]))
        if left is not None and right is not None and left < right:
            out.append(server_only[i])
            i += 1
        else:
            out.append(patched[j])
            j += 1
    return out + server_only[i:] + patched[j:]


def _hashable(value: Any) -> Any:
    """A dict key for any JSON value (the original's items are not schema-checked)."""
    try:
        hash(value)
    except TypeError:
        return json.dumps(value, sort_keys=True)
    return value


def _is_directive(item: Any) -> bool:
    return isinstance(item, dict) and set(item) == {"$patch"}


def _regenerate() -> dict[str, Any]:
    import kubernetes_validate.utils as kv

    full = next(v for v in kv.all_versions() if kv.major_minor(v) == SCHEMA_VERSION)
    defs = kv.schema_contents(
        f"kubernetes-json-schema/v{full}-local/_definitions.json", SCHEMA_VERSION
    )["$defs"]
    return build_table(defs)


if __name__ == "__main__":  # python -m rbgc.k8s.smp: rewrite patch_strategy.json
    with open(TABLE, "w", encoding="utf-8") as out:
        out.write(json.dumps(_regenerate(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {TABLE}")
