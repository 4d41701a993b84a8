"""The invariants every plan must keep, recomputed from its steps alone (never from the planner's
own state): the capacity floor, the coordination skew, termination and the final state."""

from __future__ import annotations

from collections.abc import Sequence

from rbgc.plan.formulas import percent, skew_within_bound
from rbgc.plan.model import GroupChange, Invariant, Op, RoleChange, Step
from rbgc.plan.rules import ROLLING, final_partition, skew_members


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
            held = final_partition(r, g) if r.change in ROLLING else 0
            if r.on_delete and r.change in ROLLING:
                # an OnDelete StatefulSet starts new ordinals at NEW: only kept pods are held
                held = min(held, r.old_replicas, r.new_replicas)
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
    found: tuple[Invariant, ...] = (
        Invariant(name="capacity-floor", holds=floor_ok, detail=floor_detail),
        Invariant(name="max-skew", holds=skew_ok, detail=skew_detail),
        Invariant(name="terminates", holds=ends_ok, detail=ends_detail),
        Invariant(name="final-state", holds=final_ok, detail=final_detail),
    )
    if any(r.change is RoleChange.IN_PLACE for g in groups for r in g.roles):
        ok, detail = _in_place(groups, by_group)
        found += (Invariant(name="in-place", holds=ok, detail=detail),)
    return found


def _in_place(groups: Sequence[GroupChange], by_group: dict[str, list[Step]]) -> tuple[bool, str]:
    """A role updated in place keeps its pods: no step replaces or recreates one of them (a
    scale-down still removes surplus ordinals), and each of its pods is updated once."""
    count = 0
    for g in groups:
        units = {r.name for r in g.roles if r.change is RoleChange.IN_PLACE}
        seen: set[str] = set()
        for s in by_group.get(g.key, []):
            for a in s.actions:
                if a.role not in units:
                    continue
                if a.op not in (Op.IN_PLACE, Op.SCALE) or a.replace or a.pods_restarted:
                    return False, f"{g.key} role {a.role}: step {s.number} replaces its pods"
                again = seen & set(a.updated_in_place)
                if again:
                    return False, f"{g.key}: {sorted(again)[0]} updated twice (step {s.number})"
                seen |= set(a.updated_in_place)
                count += a.pods_in_place
    return True, f"{count} pod(s) updated in place, none replaced"
