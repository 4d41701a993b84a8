"""The invariants every plan must keep, recomputed from its steps alone (never from the planner's
own state): the capacity floor, the coordination skew, termination and the final state."""

from __future__ import annotations

from collections.abc import Sequence

from rbgc.plan.formulas import percent, skew_within_bound
from rbgc.plan.model import GroupChange, Invariant, RoleChange, Step
from rbgc.plan.rules import final_partition, skew_members


def step_bound(group: GroupChange) -> int:
    """Most steps a group's plan may take: every replica moving alone, twice (surge and the
    removal of surge pods), per wave phase."""
    return sum(2 * (r.old_replicas + r.new_replicas) + 3 for r in group.roles) + 1


def check(groups: Sequence[GroupChange], steps: Sequence[Step]) -> tuple[Invariant, ...]:
    """The invariants every plan must keep, recomputed from the steps alone."""
    by_group: dict[str, list[Step]] = {}
    for s in steps:
        by_group.setdefault(s.group, []).append(s)
    floor_ok, floor_detail = True, "no role drops below its floor"
    tightest: tuple[int, str] | None = None
    skew_ok, skew_detail = True, "no coordination rule with maxSkew"
    worst: tuple[float, str] | None = None
    final_ok, final_detail = True, "every role ends as NEW declares it"
    ends_ok, ends_detail = True, f"finishes after {len(steps)} step(s)"
    for g in groups:
        inputs = {r.name: r for r in g.roles}
        bound = step_bound(g)
        if len(by_group.get(g.key, [])) > bound:
            ends_ok = False
            ends_detail = f"{g.key} takes {len(by_group[g.key])} steps, more than its bound {bound}"
        for s in by_group.get(g.key, []):
            for name, state in s.roles.items():
                margin = state.available - state.floor
                if tightest is None or margin < tightest[0]:
                    tightest = (margin, f"{g.key} {name} at step {s.number}")
                if margin < 0:
                    floor_ok = False
                    floor_detail = (
                        f"{g.key} role {name}: {state.available} available < floor "
                        f"{state.floor} at step {s.number}"
                    )
            for rule in g.rules:
                if rule.max_skew is None:
                    continue
                updated, desired = skew_members(rule, g, s)
                ok, value = skew_within_bound(updated, desired, percent(rule.max_skew))
                if worst is None or value > worst[0]:
                    worst = (value, f"{rule.name} at step {s.number}")
                if not ok:
                    skew_ok = False
                    skew_detail = (
                        f"{g.key} rule {rule.name}: skew {value}% beyond maxSkew "
                        f"{rule.max_skew} plus one replica at step {s.number}"
                    )
        last = by_group.get(g.key, [])
        for name, r in inputs.items():
            if last:
                state = last[-1].roles[name]
                got = (state.replicas, state.updated)
            else:
                n = 0 if r.change is RoleChange.ADD else r.old_replicas
                got = (n, n if r.change is RoleChange.NONE else 0)
            # Only a rolling update leaves pods below the partition at the old template: a new
            # or recreated StatefulSet creates every pod at its one revision.
            held = final_partition(r, g) if r.change is RoleChange.ROLL else 0
            want = (r.new_replicas, r.new_replicas - held)
            if r.change is RoleChange.REMOVE:
                want = (0, 0)
            if got != want:
                final_ok = False
                final_detail = (
                    f"{g.key} role {name} ends with (replicas, updated) {got}, NEW wants {want}"
                )
    if floor_ok and tightest is not None:
        floor_detail = f"tightest margin {tightest[0]} ({tightest[1]})"
    if skew_ok and worst is not None:
        skew_detail = f"largest skew {worst[0]}% ({worst[1]})"
    return (
        Invariant(name="capacity-floor", holds=floor_ok, detail=floor_detail),
        Invariant(name="max-skew", holds=skew_ok, detail=skew_detail),
        Invariant(name="terminates", holds=ends_ok, detail=ends_detail),
        Invariant(name="final-state", holds=final_ok, detail=final_detail),
    )
