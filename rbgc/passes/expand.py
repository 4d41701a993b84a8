"""Pass 4 of 5: expand. In: Group, Waves, Placement. Out: Expanded. Errors: RBG4xx.

Each role becomes its workload (and a StatefulSet role its headless Service) through the
lowering for its kind. The pod template gets the upstream identity labels over the user's
(rbg-semantics.md §4.1 step 6) and what placement decided; nothing else about it changes, so
editing one role never changes another role's pods.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from rbgc.diagnostics import Diagnostic, warning
from rbgc.k8s import conventions as cv
from rbgc.k8s.manifest import Manifest
from rbgc.model import Group, Placement, Role, RolePlacement, Waves
from rbgc.workloads import RoleContext, lowerings


@dataclass(frozen=True, slots=True, kw_only=True)
class Expanded:
    manifests: tuple[Manifest, ...]
    warnings: tuple[Diagnostic, ...] = ()


def selector_labels(group: Group, role: Role) -> dict[str, str]:
    """L(r): the labels that identify a role's pods; also its immutable selector."""
    return {
        cv.LABEL_GROUP_KEY: cv.group_unique_key(group.namespace, group.name),
        cv.LABEL_NAME: group.name,
        cv.LABEL_ROLE: role.name,
    }


def expand(group: Group, waves: Waves, placement: Placement) -> Expanded:
    table = lowerings()
    manifests: list[Manifest] = list(placement.manifests)
    warnings: list[Diagnostic] = []
    for role in group.roles:
        kind = role.kind
        assert kind is not None, "validate refuses unknown workload kinds"
        selector = selector_labels(group, role)
        template, found = _pod_template(group, role, selector, placement.of_role[role.name])
        warnings.extend(found)
        ctx = RoleContext(
            group=group,
            role=role,
            selector=selector,
            pod_template=template,
            wave=waves.of_role[role.name] + placement.wave_offset,
        )
        manifests.extend(table[kind](ctx))
    return Expanded(manifests=tuple(manifests), warnings=tuple(warnings))


def _pod_template(
    group: Group, role: Role, selector: dict[str, str], placed: RolePlacement
) -> tuple[dict[str, Any], list[Diagnostic]]:
    template = copy.deepcopy(dict(role.template))
    meta = dict(template.get("metadata") or {})
    user_labels = dict(meta.get("labels") or {})
    found = [
        warning(
            "RBG502",
            f"pod label {key}={user_labels[key]!r} is replaced by {value!r}",
            group.document.span(*role.template_path, "metadata", "labels", key, key=True),
            help="remove the label; rbgc sets the group's identity labels itself",
        )
        for key, value in selector.items()
        if key in user_labels and user_labels[key] != value
    ]
    meta["labels"] = dict(sorted({**user_labels, **placed.pod_labels, **selector}.items()))
    annotations = {**(meta.get("annotations") or {}), **placed.pod_annotations}
    if annotations:
        meta["annotations"] = dict(sorted(annotations.items()))
    spec = dict(template.get("spec") or {})
    if placed.affinity_terms:
        spec["affinity"] = placed.affinity_terms
    # metadata first, then spec, then anything else the user wrote, in their order.
    rest = {k: v for k, v in template.items() if k not in ("metadata", "spec")}
    return {"metadata": meta, "spec": spec, **rest}, found
