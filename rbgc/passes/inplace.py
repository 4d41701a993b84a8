"""Compile roles that upstream updates in place so that no controller recreates their pods.

A v1alpha2 role on upstream's default workload (RoleInstanceSet) with `rollingUpdate.type`
`InPlaceIfPossible` (upstream's default, `pkg/reconciler/roleinstanceset_reconciler.go:229`) or
`InPlaceOnly` gets its images changed on the same pods. rbgc's StatefulSets can do that only
if the StatefulSet controller leaves the pods alone when the template changes:
`updateStrategy: OnDelete` (it then recreates only pods that are deleted, from the new
template). Whoever drives the roll, `rbgc sync` or its in-cluster watcher, updates each pod:
readiness gate `InPlaceUpdateReady` False (the pod leaves its Services' endpoints),
`gracePeriodSeconds`, images and revision label patched, gate True once it runs them.

Only when asked (`Target.in_place`: always under `rbgc sync`, else `--in-place`): a plain
build keeps `RollingUpdate`, so a cluster where only Argo CD applies the output still rolls.
Roles lowered to a native LeaderWorkerSet keep it (its controller has no `OnDelete`).

In: the group and its compiled manifests (after discovery: the templates are final). Out: the
manifests, in-place StatefulSets changed: `OnDelete`, the role's update and rolling fields in
`rbgc.io/in-place-update`, the readiness gate and `rbgc.io/pod-shape` on the pod template.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace

from rbgc.k8s import controllers, inplace
from rbgc.k8s import conventions as cv
from rbgc.k8s.manifest import Manifest
from rbgc.model import Group, LwsLowering, Role, Target, WorkloadKind


def update_of(role: Role) -> inplace.InPlace | None:
    """The role's in-place update as upstream defines it; None: upstream recreates its pods
    (a `RecreatePod` role, or a role on a StatefulSet/Deployment/LWS workload type)."""
    instance_set = role.instance_set
    if instance_set is None or instance_set.update_type == inplace.RECREATE:
        return None
    return inplace.InPlace(
        type=instance_set.update_type or "InPlaceIfPossible",
        grace_period=instance_set.grace_period or 0,
    )


def lowered_in_place(role: Role, target: Target) -> bool:
    """Whether this build updates the role's pods in place: asked for, an in-place role, and
    lowered to StatefulSets (a native LeaderWorkerSet's controller always recreates)."""
    if not target.in_place or update_of(role) is None:
        return False
    return role.kind is not WorkloadKind.LEADERWORKERSET or target.lws is LwsLowering.STATEFULSETS


def compile_in_place(
    group: Group, manifests: Sequence[Manifest], target: Target
) -> tuple[tuple[Manifest, ...], tuple[str, ...]]:
    """The manifests with in-place roles' StatefulSets compiled `OnDelete`; and what was done,
    one line per role, for `--explain`."""
    roles = {r.name: r for r in group.roles if lowered_in_place(r, target)}
    out: list[Manifest] = []
    done: dict[str, int] = {}
    for m in manifests:
        role = roles.get(m.role or "")
        update = update_of(role) if role is not None else None
        if update is None or m.kind != "StatefulSet":
            out.append(m)
            continue
        out.append(replace(m, body=on_delete(m.body, update)))
        done[m.role or ""] = done.get(m.role or "", 0) + 1
    lines = []
    for name, count in sorted(done.items()):
        update = update_of(roles[name])
        assert update is not None
        lines.append(
            f"role {name}: {update.type}: {count} StatefulSet(s) OnDelete, pods updated in "
            "place by rbgc sync"
        )
    return tuple(out), tuple(lines)


def on_delete(body: dict[str, object], update: inplace.InPlace) -> dict[str, object]:
    out = copy.deepcopy(body)
    spec = out["spec"]
    assert isinstance(spec, dict)
    # the rolling fields as compiled (strategy_of reads them), before OnDelete drops them
    strategy = controllers.strategy_of(out)
    spec["updateStrategy"] = {"type": "OnDelete"}
    meta = out.setdefault("metadata", {})
    assert isinstance(meta, dict)
    meta.setdefault("annotations", {})[cv.IN_PLACE_UPDATE] = inplace.record(update, strategy)
    template = spec["template"]
    pod = template.setdefault("spec", {})
    gates = pod.setdefault("readinessGates", [])
    if not any(g.get("conditionType") == cv.IN_PLACE_READY for g in gates):
        gates.append({"conditionType": cv.IN_PLACE_READY})
    template_meta = template.setdefault("metadata", {})
    template_meta.setdefault("annotations", {})[cv.POD_SHAPE] = inplace.shape(template)
    return out
