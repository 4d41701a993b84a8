"""OLD bundle x NEW bundle -> what the planner moves: one `GroupChange` per group.

Used by `rbgc plan` (OLD compiled from the old manifests) and by `rbgc sync` (OLD read back
from the objects rbgc applied) alike. Everything comes from the bundles' facts and the diff of
their objects; nothing is re-derived from the IR:

- every workload object of a NEW role is a unit; it is added when OLD has no object of that
  identity, recreated when the diff finds an immutable field changed, rolled when it finds
  the pod template changed, and otherwise keeps its pods (it may scale);
- every workload object only OLD has is removed (after every group's last wave);
- waves, strategies and sizes are NEW's as compiled; coordination rules are NEW's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rbgc.bundle import Bundle, GroupFacts, RoleFacts, WorkloadFacts
from rbgc.k8s.controllers import WorkloadKind
from rbgc.plan.diff import Change, Changed
from rbgc.plan.impact import ChangeClass
from rbgc.plan.model import GroupChange, RoleChange, RoleInput

Identity = tuple[str, str, str, str]


def group_changes(old: Bundle, new: Bundle, changes: Sequence[Change]) -> tuple[GroupChange, ...]:
    by_identity = {c.subject.identity(): c for c in changes}
    before = {(g.namespace, g.name): g for g in old.groups}
    after = {(g.namespace, g.name): g for g in new.groups}
    return tuple(
        _group(before.get(key), after.get(key), by_identity)
        for key in sorted(before.keys() | after.keys())
    )


def classify(found: Change | None) -> RoleChange:
    """How a workload changes, from the diff of its object."""
    if not isinstance(found, Changed):
        return RoleChange.NONE
    if ChangeClass.RECREATE in found.classes:
        return RoleChange.RECREATE
    if ChangeClass.RESTARTS in found.classes:
        return RoleChange.ROLL
    return RoleChange.NONE


def _group(
    old: GroupFacts | None, new: GroupFacts | None, changes: Mapping[Identity, Change]
) -> GroupChange:
    some = new or old
    assert some is not None
    previous = {w.identity(): w for w in old.workloads()} if old else {}
    units: list[RoleInput] = []
    kept: set[Identity] = set()
    for role in new.roles if new else ():
        for w in role.workloads:
            was = previous.get(w.identity())
            if was is None:
                change = RoleChange.ADD
            else:
                change = classify(changes.get(w.identity()))
                kept.add(w.identity())
            units.append(_unit(role, w, was, change))
    for role in old.roles if old else ():
        for w in role.workloads:
            if w.identity() not in kept:
                units.append(_unit(role, w, w, RoleChange.REMOVE))
    return GroupChange(
        namespace=some.namespace,
        name=some.name,
        roles=tuple(units),
        rules=new.rules if new else (),
    )


def _unit(
    role: RoleFacts, w: WorkloadFacts, was: WorkloadFacts | None, change: RoleChange
) -> RoleInput:
    return RoleInput(
        name=w.unit,
        kind=WorkloadKind(f"{w.api_version}/{w.kind}"),
        wave=w.wave,
        old_replicas=was.replicas if was else 0,
        new_replicas=0 if change is RoleChange.REMOVE else w.replicas,
        change=change,
        strategy=w.strategy,
        object_name=w.name,
        size=w.pods_per_replica,
        old_size=was.pods_per_replica if was else w.pods_per_replica,
        span=role.span,
    )
