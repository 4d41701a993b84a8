"""diff, plan and sync --simulate agree on any change between two generated groups.

For OLD and NEW drawn by hypothesis (every workload kind, both LWS lowerings, rollout fields,
replicas, partitions, sizes, images; Kubernetes 1.30 and 1.35):
- the pods `rbgc diff` says restart are the pods `rbgc plan` restarts;
- `rbgc sync --simulate` carries out exactly the plan's rollout steps, stops exactly the pods
  the plan takes down, and leaves every workload as NEW compiled it: its replicas all ready,
  every pod from the partition up at NEW's template.
Coordination rules are left out: their partitions are a rollout decision, not a compiled one.
Both sides read the rules of rbgc/k8s/controllers.py; the tests at the end pin those rules to
Kubernetes' own test tables, so agreement here is agreement with the cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rbgc.bundle import Bundle, template_hash
from rbgc.diagnostics import DiagnosticError
from rbgc.k8s import controllers
from rbgc.model import LwsLowering, Target
from rbgc.pipeline import Options, compile_documents
from rbgc.plan.changes import group_changes
from rbgc.plan.diff import diff_bundles, summary
from rbgc.plan.planner import plan
from rbgc.source import parse_text
from rbgc.sync.controller import execute, prepare
from rbgc.sync.plan import StepOp
from rbgc.sync.simulator import SimClock, Simulator

KINDS = {
    "sts": ("apps/v1", "StatefulSet"),
    "deploy": ("apps/v1", "Deployment"),
    "lws": ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet"),
}
AMOUNTS = st.sampled_from([0, 1, 2, "25%", "50%"])


@dataclass(frozen=True)
class RoleSpec:
    name: str
    kind: str
    replicas: int
    size: int
    image: str
    rollout: tuple[object, object, object] | None  # maxUnavailable, maxSurge, partition

    def yaml(self) -> str:
        api, kind = KINDS[self.kind]
        lines = [
            f"  - name: {self.name}",
            f"    replicas: {self.replicas}",
            f"    workload: {{apiVersion: {api}, kind: {kind}}}",
        ]
        if self.kind == "lws":
            lines.append(f"    leaderWorkerSet: {{size: {self.size}}}")
        if self.rollout is not None:
            mu, ms, part = (f'"{v}"' if isinstance(v, str) else str(v) for v in self.rollout)
            lines.append(
                "    rolloutStrategy: {rollingUpdate: "
                f"{{maxUnavailable: {mu}, maxSurge: {ms}, partition: {part}}}}}"
            )
        lines += [
            "    template:",
            "      spec:",
            f"        containers: [{{name: main, image: '{self.image}'}}]",
        ]
        return "\n".join(lines)


def group_yaml(roles: list[RoleSpec]) -> str:
    head = "apiVersion: workloads.x-k8s.io/v1alpha1\nkind: RoleBasedGroup\n"
    head += "metadata: {name: g, namespace: ns}\nspec:\n  roles:\n"
    return head + "\n".join(r.yaml() for r in roles) + "\n"


@st.composite
def role_pair(draw: st.DrawFn, name: str) -> tuple[RoleSpec, RoleSpec]:
    kind = draw(st.sampled_from(sorted(KINDS)))
    rollout = draw(st.none() | st.tuples(AMOUNTS, AMOUNTS, st.sampled_from([0, 1, "50%"])))
    if kind == "deploy" and rollout is not None:
        rollout = (rollout[0], rollout[1], 0)

    def side(image: str) -> RoleSpec:
        return RoleSpec(
            name=name,
            kind=kind,
            replicas=draw(st.integers(0, 4)),
            size=draw(st.integers(1, 3)),
            image=image,
            rollout=rollout,
        )

    old = side("img:1")
    new = side(draw(st.sampled_from(["img:1", "img:2"])))
    return old, new


def compile_text(text: str, target: Target) -> Bundle:
    return compile_documents(parse_text(text, "g.yaml"), Options(target=target)).bundle


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    pairs=st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True).flatmap(
        lambda names: st.tuples(*(role_pair(n) for n in names))
    ),
    lws=st.sampled_from(list(LwsLowering)),
    version=st.sampled_from([(1, 30), (1, 35)]),
)
def test_diff_plan_and_simulated_sync_agree(
    pairs: tuple[tuple[RoleSpec, RoleSpec], ...], lws: LwsLowering, version: tuple[int, int]
) -> None:
    target = Target(kubernetes_version=version, lws=lws)
    try:
        old = compile_text(group_yaml([o for o, _ in pairs]), target)
        new = compile_text(group_yaml([n for _, n in pairs]), target)
    except DiagnosticError:
        assume(False)  # a rollout build refuses (both zero, 0 on 1.35): nothing to compare
        raise
    changes = diff_bundles(old, new)
    try:
        rollout = plan(group_changes(old, new, changes), kubernetes_version=version)
    except DiagnosticError as exc:
        assert {d.code for d in exc.diagnostics} == {"RBG802"}
        assume(False)
        raise
    assert summary(changes)["restarts"] == rollout.restarts

    sim = Simulator(kubernetes_version=version)
    clock = SimClock(sim)
    execute(sim, prepare(sim, old, version), clock=clock, timeout=10**6)
    before = sim.terminated
    steps = prepare(sim, new, version)
    executed = [s for s in steps.steps if s.op in (StepOp.ROLLOUT, StepOp.DELETE)]
    assert len(executed) == rollout.total_steps
    execute(sim, steps, clock=clock, timeout=10**6)
    down = sum(a.pods_down for s in rollout.steps for a in s.actions)
    assert sim.terminated - before == down

    for m in new.manifests:
        if controllers.shape_of(m.body) is None:
            continue
        n = controllers.replicas(m.body)
        pods = sim.pods(m.kind, m.namespace, m.name)
        assert len(pods) == n, m.name
        held = controllers.scaled(controllers.strategy_of(m.body).partition, n, round_up=True)
        fresh = template_hash(m.body)
        updated = sum(1 for _, rev, _ in pods if rev == fresh)
        assert n - min(held, n) <= updated <= n, m.name
        assert all(ready for _, _, ready in pods), m.name


# --- the rules both sides share, pinned to Kubernetes' own tests ---------------------------
# Planner and simulator agreeing proves them consistent; these numbers are Kubernetes', so
# the rules they both read (rbgc/k8s/controllers.py) are proven against the cluster's.


@pytest.mark.parametrize(
    ("value", "total", "round_up", "expected"),
    [
        # kubernetes/kubernetes staging/src/k8s.io/apimachinery/pkg/util/intstr/intstr_test.go,
        # TestGetIntFromIntOrPercent (GetScaledValueFromIntOrPercent)
        (123, 0, False, 123),
        ("90%", 100, True, 90),
        ("90%", 95, True, 86),
        ("90%", 95, False, 85),
    ],
)
def test_int_or_percent_scales_as_kubernetes(
    value: int | str, total: int, round_up: bool, expected: int
) -> None:
    assert controllers.scaled(value, total, round_up=round_up) == expected


@pytest.mark.parametrize(
    ("max_surge", "max_unavailable", "desired", "surge", "unavailable"),
    [
        # kubernetes/kubernetes pkg/controller/deployment/util/deployment_util_test.go,
        # TestResolveFenceposts (surge rounded up, unavailable down, both 0 -> 1 unavailable)
        ("0%", "0%", 0, 0, 1),
        ("39%", "39%", 10, 4, 3),
        (0, "39%", 10, 0, 3),  # maxSurge nil there: 0
        ("39%", 0, 10, 4, 0),  # maxUnavailable nil there: 0
        (0, 0, 10, 0, 1),  # both nil there
    ],
)
def test_the_fencepost_is_kubernetes(
    max_surge: int | str, max_unavailable: int | str, desired: int, surge: int, unavailable: int
) -> None:
    strategy = controllers.Strategy(max_surge=max_surge, max_unavailable=max_unavailable)
    assert controllers.surge_and_unavailable(strategy, desired) == (surge, unavailable)


@pytest.mark.parametrize(
    ("max_unavailable", "replicas", "expected"),
    [
        # kubernetes/kubernetes pkg/controller/statefulset/stateful_set_utils_test.go,
        # TestGetStatefulSetMaxUnavailable (getStatefulSetMaxUnavailable: the percentage
        # rounded down, at least 1; maxUnavailable nil there is the default, 1)
        (1, 10, 1),
        (3, 10, 3),
        (3, 0, 3),
        (0, 0, 1),
        ("10%", 25, 2),
        ("100%", 5, 5),
        ("50%", 5, 2),
        ("10%", 5, 1),
        ("1%", 0, 1),
        ("0%", 0, 1),
    ],
)
def test_statefulset_max_unavailable_is_kubernetes(
    max_unavailable: int | str, replicas: int, expected: int
) -> None:
    on = controllers.MAX_UNAVAILABLE_STATEFULSET
    assert controllers.statefulset_max_unavailable(max_unavailable, replicas, on) == expected
    before = (on[0], on[1] - 1)  # the feature gate off: one pod at a time
    assert controllers.statefulset_max_unavailable(max_unavailable, replicas, before) == 1
