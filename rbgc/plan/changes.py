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
from rbgc.diagnostics import Diagnostic, DiagnosticError, error
from rbgc.k8s import inplace
from rbgc.k8s.controllers import WorkloadKind
from rbgc.plan.diff import Change, Changed
from rbgc.plan.impact import ChangeClass
from rbgc.plan.model import GroupChange, RoleChange, RoleInput

Identity = tuple[str, str, str, str]


def group_changes(old: Bundle, new: Bundle, changes: Sequence[Change]) -> tuple[GroupChange, ...]:
    """Raises RBG804 where an InPlaceOnly role's pods would be recreated."""
    by_identity = {c.subject.identity(): c for c in changes}
    before = {(g.namespace, g.name): g for g in old.groups}
    after = {(g.namespace, g.name): g for g in new.groups}
    problems = [
        d
        for g in new.groups
        for role in g.roles
        for w in role.workloads
        if (d := refused(by_identity.get(w.identity()), role, w)) is not None
    ]
    if problems:
        raise DiagnosticError(problems)
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
    if ChangeClass.IN_PLACE in found.classes:
        return RoleChange.IN_PLACE
    return RoleChange.NONE


def refused(found: Change | None, role: RoleFacts, w: WorkloadFacts) -> Diagnostic | None:
    """RBG804: an `InPlaceOnly` workload, already updated in place, whose pods a change would
    recreate (upstream's type says: never recreate; upstream itself falls back, its bug #10 in
    rbg-v1alpha2-semantics.md §12)."""
    if not isinstance(found, Changed) or ChangeClass.RESTARTS not in found.classes:
        return None
    if w.in_place is None or not w.in_place.only or inplace.compiled(found.old.body) is None:
        return None
    fields = ", ".join(
        dict.fromkeys(f.display for f in found.fields if f.cls is ChangeClass.RESTARTS)
    )
    return error(
        "RBG804",
        f"role {role.name!r} is InPlaceOnly, but its pods cannot take this change in place "
        f"({fields}): a running pod may change only its containers' images and its labels "
        "and annotations",
        role.span,
        help="change only images in this revision (and the rest in another, with type "
        "InPlaceIfPossible or RecreatePod, which recreate the pods)",
    )


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
        on_delete=w.in_place is not None and change is not RoleChange.REMOVE,
        grace=w.in_place.grace_period if w.in_place else 0,
        images=w.images,
        old_images=was.images if was else (),
    )
