"""Property tests: random groups, strategies and coordination rules.

For every generated input the planner either returns a plan whose invariants all hold
(capacity floor, skew bound, termination, final state == NEW; a violation would raise
RBG803 and fail here) or reports RBG802 for a rollout that cannot finish, and only in the
situations where no pod may go down and none can be added. Plans are deterministic.
"""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rbgc.diagnostics import DiagnosticError
from rbgc.k8s.controllers import scaled
from rbgc.model import WorkloadKind
from rbgc.plan.model import GroupChange, RoleChange, RoleInput, Rule, Strategy
from rbgc.plan.planner import plan
from rbgc.plan.render import plan_json
from rbgc.plan.rules import rule_scope

AMOUNTS: st.SearchStrategy[int | str] = st.sampled_from([0, 1, 2, 3, "25%", "50%", "100%"])
CHANGES = st.sampled_from(list(RoleChange))


@st.composite
def roles(draw: st.DrawFn) -> list[RoleInput]:
    count = draw(st.integers(1, 4))
    out = []
    for i in range(count):
        kind = draw(st.sampled_from(list(WorkloadKind)))
        change = draw(CHANGES)
        # an in-place update is compiled only as an OnDelete StatefulSet (passes/inplace.py),
        # and such a StatefulSet may also roll (a change a live pod cannot take)
        if change is RoleChange.IN_PLACE:
            kind = WorkloadKind.STATEFULSET
        on_delete = kind is WorkloadKind.STATEFULSET and (
            change is RoleChange.IN_PLACE or draw(st.booleans())
        )
        old = 0 if change is RoleChange.ADD else draw(st.integers(1, 8))
        new = 0 if change is RoleChange.REMOVE else draw(st.integers(1, 8))
        mu, ms = draw(AMOUNTS), draw(AMOUNTS)
        n = max(new, 1)
        # validate (RBG114) refuses a strategy that may neither take a pod down nor add one
        assume(scaled(mu, n, round_up=False) > 0 or scaled(ms, n, round_up=True) > 0)
        held: st.SearchStrategy[int | str] = st.sampled_from([0, 1, "50%"])
        partition = 0 if kind is WorkloadKind.DEPLOYMENT else draw(held)
        out.append(
            RoleInput(
                name=f"r{i}",
                kind=kind,
                wave=draw(st.integers(0, 2)),
                old_replicas=old,
                new_replicas=new,
                change=change,
                strategy=Strategy(max_unavailable=mu, max_surge=ms, partition=partition),
                object_name=f"g-r{i}",
                size=draw(st.integers(1, 3)) if kind is WorkloadKind.LEADERWORKERSET else 1,
                on_delete=on_delete,
            )
        )
    return out


@st.composite
def groups(draw: st.DrawFn) -> GroupChange:
    members = draw(roles())
    rules: tuple[Rule, ...] = ()
    if len(members) >= 2 and draw(st.booleans()):
        names = draw(st.lists(st.sampled_from([r.name for r in members]), min_size=2, unique=True))
        rules = (
            Rule(
                name="rule",
                roles=tuple(names),
                max_skew=draw(st.sampled_from([None, "1%", "10%", "25%", "50%", "100%"])),
                partition=draw(st.sampled_from([None, "50%"])),
                scaling_max_skew=draw(st.sampled_from([None, "10%", "50%", "100%"])),
            ),
        )
    return GroupChange(namespace="ns", name="g", roles=tuple(members), rules=rules)


def _can_stall(g: GroupChange) -> bool:
    """Where RBG802 is the right answer: a rolling StatefulSet/LWS role that may take no pod
    down and gets no surge pod (coordinated roles never surge; upstream surges a single
    replica never)."""
    roles = {r.name: r for r in g.roles}
    for r in g.roles:
        if r.change is not RoleChange.ROLL or r.kind is WorkloadKind.DEPLOYMENT:
            continue
        n = r.new_replicas
        if scaled(r.strategy.max_unavailable, n, round_up=False) > 0:
            continue
        coordinated = any(
            x.max_skew is not None
            and r.name in rule_scope(x, roles, r.wave)
            and len(rule_scope(x, roles, r.wave)) >= 2
            for x in g.rules
        )
        if coordinated or n <= 1:
            return True
    return False


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(groups(), st.sampled_from([(1, 33), (1, 35)]))
def test_every_plan_keeps_its_invariants(g: GroupChange, version: tuple[int, int]) -> None:
    try:
        result = plan([g], kubernetes_version=version)
    except DiagnosticError as exc:
        assert [d.code for d in exc.diagnostics] == ["RBG802"], exc.diagnostics
        assert _can_stall(g), exc.diagnostics[0].message
        return
    assert all(i.holds for i in result.invariants)
    assert result.total_steps == len(result.steps)
    untouched = {r.name for r in g.roles if r.change is RoleChange.NONE}
    for step in result.steps:
        for action in step.actions:
            if action.role in untouched:
                assert action.replace == 0
    again = plan([g], kubernetes_version=version)
    assert again == result
    assert plan_json(again) == plan_json(result)
