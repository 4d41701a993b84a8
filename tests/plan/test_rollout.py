"""plan: upstream's §6 figures as tables, the planner's behaviour, its invariants and errors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from rbgc.diagnostics import DiagnosticError
from rbgc.model import WorkloadKind
from rbgc.plan.formulas import (
    LiveStatefulSet,
    Pod,
    _round_half_away,
    coordinated_partition,
    next_rolling_target,
    progress_order,
    rolling_parameters,
    scaling_targets,
    skew_within_bound,
)
from rbgc.plan.invariants import check
from rbgc.plan.model import (
    GroupChange,
    Invariant,
    RoleChange,
    RoleInput,
    RoleState,
    Rule,
    Step,
    Strategy,
)
from rbgc.plan.planner import plan

STS, DEPLOY, LWS = WorkloadKind.STATEFULSET, WorkloadKind.DEPLOYMENT, WorkloadKind.LEADERWORKERSET
OLD_READY, NEW_READY, NEW_UNREADY = Pod(True, False), Pod(True, True), Pod(False, True)


# --- §6.1: the oracle of upstream's sts_reconciler_test.go (n=4, maxSurge=2, maxUnavailable=2)


@pytest.mark.parametrize(
    ("live", "template_changed", "expected"),
    [
        (
            LiveStatefulSet(replicas=4, partition=0, pods=(OLD_READY,) * 4, role_size=4),
            True,
            (4, 6),
        ),
        (
            LiveStatefulSet(
                replicas=6, partition=4, pods=(OLD_READY,) * 4 + (NEW_UNREADY,) * 2, role_size=4
            ),
            False,
            (2, 6),
        ),
        (
            LiveStatefulSet(
                replicas=6, partition=2, pods=(OLD_READY,) * 2 + (NEW_READY,) * 4, role_size=4
            ),
            False,
            (0, 5),
        ),
    ],
    ids=["template change", "surge pods unready", "two old pods left"],
)
def test_upstream_sts_oracle(
    live: LiveStatefulSet, template_changed: bool, expected: tuple[int, int]
) -> None:
    strategy = Strategy(max_unavailable=2, max_surge=2)
    got = rolling_parameters(
        replicas=4, strategy=strategy, live=live, template_changed=template_changed
    )
    assert got == expected


def test_upstream_sts_cases_absent_and_steady() -> None:
    s = Strategy(max_unavailable=1, max_surge=0, partition=1)
    assert rolling_parameters(replicas=3, strategy=s, live=None, template_changed=False) == (1, 3)
    steady = LiveStatefulSet(replicas=3, partition=0, pods=(NEW_READY,) * 3, role_size=3)
    assert rolling_parameters(
        replicas=3, strategy=replace(s, partition=0), live=steady, template_changed=False
    ) == (0, 3)


def test_upstream_surges_only_when_replicas_exceed_max_surge() -> None:
    old = LiveStatefulSet(replicas=2, partition=0, pods=(OLD_READY,) * 2, role_size=2)
    s = Strategy(max_unavailable=0, max_surge=2)
    # want(n) = n + n - 1 when n <= maxSurge: one surge pod, not two.
    assert rolling_parameters(replicas=2, strategy=s, live=old, template_changed=True) == (2, 3)


# --- §6.3: coordinated rolling update formulas ------------------------------------------


@pytest.mark.parametrize(
    ("num", "den", "expected"), [(1, 2, 1), (3, 2, 2), (5, 2, 3), (3, 10, 0), (7, 10, 1), (0, 5, 0)]
)
def test_go_math_round_is_half_away_from_zero(num: int, den: int, expected: int) -> None:
    assert _round_half_away(num, den) == expected


@pytest.mark.parametrize(
    ("u_slow", "d_slow", "u_fast", "d_fast", "skew", "target"),
    [
        (0, 4, 0, 2, 25, 1),  # lower 0, upper 1, bal 1, step 1
        (1, 10, 5, 10, 10, 5),  # lower 4, upper 6, bal 5, step 4
        (0, 2, 1, 4, 10, 1),  # lower round(0.3)=0, upper round(0.7)=1
        (0, 1, 0, 1, 50, 1),  # upper = round(0.5) = 1 (half away from zero)
        (3, 3, 3, 3, 10, 4),  # HEAD: fast fully ready -> step at least 1, capped by upper + 1
    ],
)
def test_next_rolling_target(
    u_slow: int, d_slow: int, u_fast: int, d_fast: int, skew: int, target: int
) -> None:
    got = next_rolling_target(
        u_slow=u_slow,
        d_slow=d_slow,
        u_fast=u_fast,
        d_fast=d_fast,
        ready_fast=d_fast,
        max_skew=skew,
    )
    assert got == target


@pytest.mark.parametrize(
    ("value", "replicas", "expected"),
    [("50%", 3, 2), ("100%", 3, 3), ("99%", 3, 2), ("0%", 5, 0), ("34%", 3, 2)],
)
def test_coordinated_partition(value: str, replicas: int, expected: int) -> None:
    assert coordinated_partition(value, replicas) == expected


def test_progress_order_ties_put_the_larger_role_first() -> None:
    assert progress_order({"a": 1, "b": 2}, {"a": 2, "b": 4}) == ["b", "a"]
    assert progress_order({"a": 1, "b": 1}, {"a": 2, "b": 4}) == ["b", "a"]
    assert progress_order({"a": 0, "b": 3}, {"a": 2, "b": 4}) == ["a", "b"]


def test_upstream_property_test_every_pair_at_one_percent() -> None:
    """Test_CalculateNextRollingTarget_WithNormalCases at 1%, iterating u := target until done:
    it terminates and the skew stays within maxSkew plus one replica of the smallest role after
    every step. Upstream runs all 1..99 x 1..99 pairs; this runs 1..99 against a spread of
    twelve sizes (the full grid passes too, in ten seconds)."""
    skew = 1
    for d1 in range(1, 100):
        for d2 in (1, 2, 3, 5, 7, 10, 16, 25, 33, 50, 64, 99):
            u = {"a": 0, "b": 0}
            d = {"a": d1, "b": d2}
            for _ in range(d1 + d2 + 2):
                if u == d:
                    break
                order = progress_order(u, d)
                active = [r for r in order if u[r] < d[r]]
                slow, fast = active[0], order[-1]
                target = next_rolling_target(
                    u_slow=u[slow],
                    d_slow=d[slow],
                    u_fast=u[fast],
                    d_fast=d[fast],
                    ready_fast=d[fast],
                    max_skew=skew,
                )
                u[slow] = min(target, d[slow])
                ok, _ = skew_within_bound(u, d, skew)
                assert ok, (d1, d2, u)
            assert u == d, (d1, d2)


def test_skew_bound_formula() -> None:
    # ceil(10000 * (3/4 - 1/4)) = 5000 <= 100 * 40 + ceil(10000 / 4) = 6500
    assert skew_within_bound({"a": 3, "b": 1}, {"a": 4, "b": 4}, 40) == (True, 50.0)
    # 5000 > 100 * 20 + 2500
    assert skew_within_bound({"a": 3, "b": 1}, {"a": 4, "b": 4}, 20)[0] is False


# --- §6.4: coordinated scaling -----------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "desired", "skew", "expected"),
    [
        ({"p": 0, "d": 0}, {"p": 4, "d": 2}, 50, {"p": 2, "d": 1}),  # first batch ceil(50%*n)
        ({"p": 2, "d": 1}, {"p": 4, "d": 2}, 50, {"p": 4, "d": 2}),
        ({"p": 4, "d": 1}, {"p": 4, "d": 4}, 25, {"p": 4, "d": 2}),
        ({"a": 3, "b": 1}, {"a": 4, "b": 4}, 25, {"a": 3, "b": 2}),  # a is ahead: held
        # maxSkew 0%: even the slowest role is at maxP and holds (the planner reports RBG802)
        ({"a": 2}, {"a": 300}, 0, {"a": 2}),
        ({"a": 5, "b": 1}, {"a": 2, "b": 4}, 10, {"a": 2, "b": 2}),  # scale-down is immediate
    ],
)
def test_scaling_targets(
    current: dict[str, int], desired: dict[str, int], skew: int, expected: dict[str, int]
) -> None:
    assert scaling_targets(current, desired, skew) == expected


# --- the planner -------------------------------------------------------------------------


def role(
    name: str,
    kind: WorkloadKind = STS,
    *,
    old: int = 2,
    new: int | None = None,
    change: RoleChange = RoleChange.ROLL,
    wave: int = 0,
    mu: int | str = 1,
    ms: int | str = 0,
    partition: int | str = 0,
    size: int = 1,
) -> RoleInput:
    return RoleInput(
        name=name,
        kind=kind,
        wave=wave,
        old_replicas=old,
        new_replicas=old if new is None else new,
        change=change,
        strategy=Strategy(max_unavailable=mu, max_surge=ms, partition=partition),
        object_name=f"g-{name}",
        size=size,
    )


def group(*roles: RoleInput, rules: tuple[Rule, ...] = ()) -> GroupChange:
    return GroupChange(namespace="ns", name="g", roles=roles, rules=rules)


def test_surge_plan_follows_upstream_and_keeps_the_floor() -> None:
    p = plan([group(role("a", old=4, mu=2, ms=2))], kubernetes_version=(1, 35))
    moves = [
        (a.replicas, a.partition, a.created, a.replaced, a.deleted)
        for s in p.steps
        for a in s.actions
    ]
    assert moves[0] == (6, 4, ("g-a-4", "g-a-5"), (), ())  # the oracle's first answer
    # upstream then drops the partition to 0; the controller replaces two at a time
    assert moves[1] == (6, 0, (), ("g-a-3", "g-a-2"), ())
    # with two old pods left upstream shrinks to 5 while replacing: 3 down, floor 2 kept
    assert moves[2] == (5, 0, (), ("g-a-1", "g-a-0"), ("g-a-5",))
    assert moves[3] == (4, 0, (), (), ("g-a-4",))
    assert [s.roles["a"].available for s in p.steps] == [4, 4, 3, 4]
    assert p.steps[-1].roles["a"] == RoleState(
        replicas=4, updated=4, available=4, partition=0, floor=2
    )


def test_statefulset_max_unavailable_is_ignored_before_1_35() -> None:
    g = group(role("a", old=4, mu=2))
    old_k8s = plan([g], kubernetes_version=(1, 33))
    new_k8s = plan([g], kubernetes_version=(1, 35))
    assert [s.down for s in old_k8s.steps] == [1, 1, 1, 1]
    assert [s.down for s in new_k8s.steps] == [2, 2]
    assert any("ignored before 1.35" in n for n in old_k8s.notes)
    assert not any("ignored" in n for n in new_k8s.notes)


def test_partition_keeps_low_ordinals_at_the_old_template() -> None:
    p = plan([group(role("a", old=4, partition=2))])
    replaced = [name for s in p.steps for a in s.actions for name in a.replaced]
    assert replaced == ["g-a-3", "g-a-2"]
    assert p.steps[-1].roles["a"].updated == 2
    assert p.steps[-1].roles["a"].partition == 2


def test_deployment_rolls_with_surge_and_unavailable() -> None:
    p = plan([group(role("r", DEPLOY, old=2, mu=0, ms=1))])
    assert [(a.create, a.replace) for s in p.steps for a in s.actions] == [(1, 0), (1, 1), (0, 1)]
    assert {s.roles["r"].available for s in p.steps} == {2}


def test_leaderworkerset_rolls_whole_groups() -> None:
    p = plan([group(role("w", LWS, old=2, size=4))])
    assert [s.down for s in p.steps] == [4, 4]
    assert p.restarts == 8


def test_waves_run_in_order() -> None:
    g = group(role("router", DEPLOY, wave=1, mu=1), role("prefill"), role("decode", old=1))
    p = plan([g])
    waves = [s.wave for s in p.steps]
    assert waves == sorted(waves) and waves[0] == 0 and waves[-1] == 1
    first_router = next(s for s in p.steps if s.wave == 1)
    assert first_router.roles["prefill"].updated == 2 and first_router.roles["decode"].updated == 1


def test_untouched_roles_never_restart() -> None:
    g = group(
        role("prefill"),
        role("decode", change=RoleChange.NONE, old=1, new=3),
        role("router", DEPLOY, change=RoleChange.NONE, wave=1),
    )
    p = plan([g])
    for s in p.steps:
        for a in s.actions:
            if a.role != "prefill":
                assert a.replace == 0 and a.delete == 0
    assert [a.op for s in p.steps for a in s.actions if a.role == "decode"] == ["scale"]


def test_scaling_and_config_only_plans_restart_nothing() -> None:
    scale = plan([group(role("a", change=RoleChange.NONE, old=1, new=4))])
    assert scale.restarts == 0 and scale.total_steps == 1
    config = plan([group(role("a", change=RoleChange.NONE))])
    assert config.steps == () and config.restarts == 0


def test_coordinated_rollout_keeps_skew_and_moves_the_slowest() -> None:
    rule = Rule(name="pd", roles=("prefill", "decode"), max_skew="10%")
    g = group(role("prefill", old=4), role("decode", old=2), rules=(rule,))
    p = plan([g], kubernetes_version=(1, 35))
    assert all(i.holds for i in p.invariants)
    for s in p.steps:
        assert sum(1 for a in s.actions if a.replace) == 1  # only the slowest role moves
        assert "pd" in s.skew
    assert p.steps[-1].roles["prefill"].updated == 4 and p.steps[-1].roles["decode"].updated == 2


def test_coordinated_scaling_grows_roles_in_proportion() -> None:
    rule = Rule(name="pd", roles=("p", "d"), scaling_max_skew="50%")
    g = group(
        role("p", change=RoleChange.NONE, old=0, new=4),
        role("d", change=RoleChange.NONE, old=0, new=2),
        rules=(rule,),
    )
    p = plan([g])
    assert [(s.roles["p"].replicas, s.roles["d"].replicas) for s in p.steps] == [(2, 1), (4, 2)]


def test_recreate_added_and_removed_roles() -> None:
    g = group(
        role("a", change=RoleChange.RECREATE, old=3),
        role("b", change=RoleChange.ADD, old=0, new=2),
        role("c", change=RoleChange.REMOVE, old=2, new=0),
    )
    p = plan([g])
    ops = [(a.role, a.op) for s in p.steps for a in s.actions]
    assert ops == [("a", "recreate"), ("b", "create"), ("c", "delete")]
    assert p.steps[0].roles["a"].available == 0 and p.steps[0].roles["a"].floor == 0


def test_stop_after_shows_a_canary_and_still_checks_everything() -> None:
    p = plan([group(role("a", old=4))], stop_after=1)
    assert len(p.steps) == 1 and p.total_steps == 4 and p.stopped_after == 1
    assert p.restarts == 4  # the whole plan's, not the shown steps' (issue 8, item 12)


def test_plans_are_deterministic() -> None:
    rule = Rule(name="pd", roles=("a", "b"), max_skew="20%")
    g = group(role("a", old=5, ms=1), role("b", old=3), rules=(rule,))
    assert plan([g]) == plan([g])


def test_rbg802_a_rollout_that_never_finishes() -> None:
    with pytest.raises(DiagnosticError) as exc:
        plan([group(role("a", old=1, mu=0, ms=1))])
    (d,) = exc.value.diagnostics
    assert d.code == "RBG802"
    assert "never finishes" in d.message and "maxSurge" in d.message


def test_rbg802_coordinated_role_that_may_take_nothing_down() -> None:
    rule = Rule(name="pd", roles=("a", "b"), max_skew="10%")
    with pytest.raises(DiagnosticError) as exc:
        plan([group(role("a", mu=0, ms=1), role("b"), rules=(rule,))])
    assert [d.code for d in exc.value.diagnostics] == ["RBG802"]


def test_check_reports_each_broken_invariant() -> None:
    g = group(role("a", old=4))
    good = plan([g])
    assert [i.name for i in good.invariants] == [
        "capacity-floor",
        "max-skew",
        "terminates",
        "final-state",
    ]
    assert all(i.holds for i in good.invariants)
    below = replace(good.steps[0], roles={"a": replace(good.steps[0].roles["a"], available=0)})
    short = good.steps[:-1]
    broken = {i.name: i.holds for i in check([g], (below, *good.steps[1:]))}
    assert broken["capacity-floor"] is False
    assert {i.name: i.holds for i in check([g], short)}["final-state"] is False
    rule = Rule(name="pd", roles=("a", "b"), max_skew="1%")
    g2 = group(role("a", old=4), role("b", old=4), rules=(rule,))
    steps = plan([g2]).steps
    skewed = replace(
        steps[0], roles={**steps[0].roles, "a": replace(steps[0].roles["a"], updated=4)}
    )
    assert {i.name: i.holds for i in check([g2], (skewed,))}["max-skew"] is False
    long = tuple(replace(good.steps[0], number=i) for i in range(100))
    assert {i.name: i.holds for i in check([g], long)}["terminates"] is False


def test_rbg803_when_a_plan_breaks_an_invariant(monkeypatch: pytest.MonkeyPatch) -> None:
    from rbgc.plan import invariants

    real = invariants.check

    def strict_check(groups: Sequence[GroupChange], steps: Sequence[Step]) -> tuple[Invariant, ...]:
        # The same plan judged against a floor no rollout can keep (every replica up).
        raised = [
            replace(s, roles={n: replace(r, floor=r.replicas) for n, r in s.roles.items()})
            for s in steps
        ]
        return real(groups, raised)

    monkeypatch.setattr(invariants, "check", strict_check)
    with pytest.raises(DiagnosticError) as exc:
        plan([group(role("a", old=4))])
    (d,) = exc.value.diagnostics
    assert d.code == "RBG803" and "capacity-floor" in d.message


def test_rbg802_coordinated_scaling_with_zero_skew() -> None:
    rule = Rule(name="pd", roles=("p", "d"), scaling_max_skew="0%")
    g = group(
        role("p", change=RoleChange.NONE, old=1, new=4),
        role("d", change=RoleChange.NONE, old=1, new=2),
        rules=(rule,),
    )
    with pytest.raises(DiagnosticError) as exc:
        plan([g])
    assert [d.code for d in exc.value.diagnostics] == ["RBG802"]


def test_fenceposts_one_pod_may_be_unavailable_when_both_round_to_zero() -> None:
    """Kubernetes' ResolveFenceposts: 10% of 4 rounds to 0 unavailable, 0 surge -> 1."""
    from rbgc.k8s.controllers import Strategy, surge_and_unavailable

    assert surge_and_unavailable(Strategy(max_unavailable="10%", max_surge=0), 4) == (0, 1)
    assert surge_and_unavailable(Strategy(max_unavailable="50%", max_surge=0), 4) == (0, 2)
