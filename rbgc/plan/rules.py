"""What a group's strategies and coordination rules imply for one unit of the rollout: the
partition NEW leaves it at, the floor its strategy promises, the roles a rule coordinates.
Read by the planner and, independently, by the invariant checker."""

from __future__ import annotations

from collections.abc import Mapping

from rbgc.k8s.controllers import WorkloadKind, scaled, surge_and_unavailable
from rbgc.plan.formulas import coordinated_partition
from rbgc.plan.model import GroupChange, RoleChange, RoleInput, Rule, Step


def final_partition(role: RoleInput, group: GroupChange) -> int:
    """The partition NEW leaves on a StatefulSet/LWS role: the larger of its own and those of
    the rules that coordinate it."""
    n = role.new_replicas
    if role.kind is WorkloadKind.DEPLOYMENT or role.change is RoleChange.REMOVE:
        return 0
    roles = {r.name: r for r in group.roles}
    values = [min(max(scaled(role.strategy.partition, n, round_up=True), 0), n)]
    for rule in group.rules:
        scope = rule_scope(rule, roles, role.wave)
        if rule.max_skew and rule.partition is not None and role.name in scope and len(scope) > 1:
            values.append(coordinated_partition(rule.partition, n))
    return max(values)


def floor(role: RoleInput) -> int:
    """Fewest ready replicas the role's strategy promises while NEW is applied."""
    if role.change in (RoleChange.ADD, RoleChange.REMOVE, RoleChange.RECREATE):
        return 0
    kept = min(role.old_replicas, role.new_replicas)
    if role.change is RoleChange.NONE:
        return kept
    _, mu = surge_and_unavailable(role.strategy, role.new_replicas)
    return max(kept - mu, 0)


def rule_scope(rule: Rule, roles: Mapping[str, RoleInput], wave: int) -> list[str]:
    """Roles a rolling rule coordinates in a wave: rolling StatefulSet/LWS roles with pods.

    Roles whose pods do not change are left out: upstream counts them as fully updated, which
    would let the slowest role run ahead of the others that do roll.
    """
    return [
        n
        for n in rule.roles
        if n in roles
        and roles[n].change is RoleChange.ROLL
        and roles[n].kind is not WorkloadKind.DEPLOYMENT
        and roles[n].new_replicas > 0
        and roles[n].wave == wave
    ]


def skew_members(
    rule: Rule, group: GroupChange, step: Step
) -> tuple[dict[str, int], dict[str, int]]:
    """(updated, replicas) of the roles whose skew a rule bounds after a step; a role held
    at its own final partition is left out (it has finished)."""
    roles = {r.name: r for r in group.roles}
    updated, desired = {}, {}
    for n in rule_scope(rule, roles, step.wave):
        state = step.roles[n]
        held = final_partition(roles[n], group)
        if held > 0 and state.updated >= state.replicas - held:
            continue
        if state.replicas > 0:
            updated[n], desired[n] = min(state.updated, state.replicas), state.replicas
    return updated, desired
