"""IR x IR x changes -> what the planner needs per group: roles, waves, strategies, rules.

A role rolls when the diff says its workload's pod template changed, is recreated when an
immutable field (or its workload kind) changed, and otherwise keeps its pods (it may scale).
Waves come from the dependency pass, as `build` computes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rbgc.k8s.naming import role_object_name
from rbgc.model import Group, Program, Role, WorkloadKind
from rbgc.passes.dependencies import resolve_dependencies
from rbgc.plan.diff import Change, Changed
from rbgc.plan.impact import ChangeClass
from rbgc.plan.rollout import GroupChange, RoleChange, RoleInput, Rule, Strategy


def group_changes(old: Program, new: Program, changes: Sequence[Change]) -> tuple[GroupChange, ...]:
    by_identity = {c.subject.identity(): c for c in changes}
    before = {(g.namespace, g.name): g for g in old.groups}
    after = {(g.namespace, g.name): g for g in new.groups}
    out = []
    for key in sorted(before.keys() | after.keys()):
        out.append(_group(before.get(key), after.get(key), by_identity))
    return tuple(out)


def _group(
    old: Group | None,
    new: Group | None,
    changes: Mapping[tuple[str, str, str, str], Change],
) -> GroupChange:
    some = new or old
    assert some is not None
    old_waves = resolve_dependencies(old).of_role if old else {}
    new_waves = resolve_dependencies(new).of_role if new else {}
    roles: list[RoleInput] = []
    for role in new.roles if new else ():
        previous = old.role(role.name) if old else None
        kind = role.kind or WorkloadKind.STATEFULSET
        name = role_object_name(some.name, role.name)
        if previous is None:
            change = RoleChange.ADD
        elif previous.kind is not role.kind:
            change = RoleChange.RECREATE
        else:
            found = changes.get(
                (kind.api_version.rpartition("/")[0], kind.kind, some.namespace, name)
            )
            change = classify(found)
        old_replicas = previous.replicas if previous else 0
        roles.append(role_input(role, kind, name, new_waves[role.name], old_replicas, change))
    for role in old.roles if old else ():
        if new is None or new.role(role.name) is None:
            kind = role.kind or WorkloadKind.STATEFULSET
            name = role_object_name(some.name, role.name)
            roles.append(
                role_input(role, kind, name, old_waves[role.name], role.replicas, RoleChange.REMOVE)
            )
    return GroupChange(
        namespace=some.namespace, name=some.name, roles=tuple(roles), rules=rules_of(new)
    )


def rules_of(group: Group | None) -> tuple[Rule, ...]:
    """The group's coordination rules, as the planner reads them."""
    return tuple(
        Rule(
            name=c.name,
            roles=c.roles,
            max_skew=c.rolling_update.max_skew if c.rolling_update else None,
            partition=c.rolling_update.partition if c.rolling_update else None,
            max_unavailable=c.rolling_update.max_unavailable if c.rolling_update else None,
            scaling_max_skew=c.scaling.max_skew if c.scaling else None,
            span=c.span,
        )
        for c in (group.coordination if group else ())
    )


def classify(found: Change | None) -> RoleChange:
    """How a role's workload changes, from the diff of its object."""
    if not isinstance(found, Changed):
        return RoleChange.NONE
    if ChangeClass.RECREATE in found.classes:
        return RoleChange.RECREATE
    if ChangeClass.RESTARTS in found.classes:
        return RoleChange.ROLL
    return RoleChange.NONE


def role_input(
    role: Role,
    kind: WorkloadKind,
    name: str,
    wave: int,
    old_replicas: int,
    change: RoleChange,
) -> RoleInput:
    """A role as the planner sees it; `old_replicas` from OLD's IR, or (sync) the cluster."""
    ru = role.rolling_update
    strategy = (
        Strategy(max_unavailable=ru.max_unavailable, max_surge=ru.max_surge, partition=ru.partition)
        if ru is not None
        else Strategy.default(kind)
    )
    size = 1
    if kind is WorkloadKind.LEADERWORKERSET:
        lws = role.raw.get("leaderWorkerSet") or {}
        size = int(lws.get("size", 1))
    return RoleInput(
        name=role.name,
        kind=kind,
        wave=wave,
        old_replicas=old_replicas,
        new_replicas=0 if change is RoleChange.REMOVE else role.replicas,
        change=change,
        strategy=strategy,
        object_name=name,
        size=size,
        span=role.span,
    )
