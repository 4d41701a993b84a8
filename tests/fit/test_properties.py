"""Whatever placement `fit` returns keeps every required constraint, re-checked independently.

Random inventories (zones, NVLink cliques, hosts without some labels, taints, cordons, running
pods of other groups) and random groups with random constraints of every kind: when the solver
says "fits", `check.violations` must find nothing; when it says "does not fit", it must say
why; and the answer must not depend on the order of the nodes.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from rbgc.fit import check
from rbgc.fit.matching import LabelSelector, PodTerm, Requirement, Toleration
from rbgc.fit.model import (
    Avoid,
    Constraint,
    Exclusive,
    InstancePack,
    Near,
    Pack,
    PodDemand,
    Problem,
    Separate,
    Spread,
)
from rbgc.fit.solver import Cluster, solve
from rbgc.k8s import conventions as cv
from tests.fit.helpers import CLIQUE, GPU, HOST, ZONE, inventory, node, running

LEVELS = [CLIQUE, HOST, ZONE]
TAINT = [{"key": "t", "value": "x", "effect": "NoSchedule"}]


@st.composite
def cluster(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    nodes = []
    for i in range(draw(st.integers(1, 10))):
        nodes.append(
            node(
                f"n{i}",
                gpu=draw(st.sampled_from([0, 2, 4, 8])),
                cpu=str(draw(st.integers(1, 8))),
                zone=draw(st.sampled_from(["z0", "z1", "z2", None])),
                clique=draw(st.sampled_from(["c0", "c1", "c2", None])),
                labels={"tier": draw(st.sampled_from(["a", "b"]))},
                taints=TAINT if draw(st.integers(0, 5)) == 0 else None,
                unschedulable=draw(st.integers(0, 7)) == 0,
            )
        )
    pods = []
    for j in range(draw(st.integers(0, 4))):
        on = f"n{draw(st.integers(0, len(nodes) - 1))}"
        labels = {"app": draw(st.sampled_from(["db", "web"]))}
        if draw(st.booleans()):
            labels[cv.LABEL_GROUP_KEY] = "other"
        pod = running(f"r{j}", on, gpu=draw(st.sampled_from([0, 1, 2])), labels=labels)
        if draw(st.integers(0, 3)) == 0:  # a running pod that keeps group pods away
            level = draw(st.sampled_from(LEVELS))
            term = {
                "topologyKey": level,
                "labelSelector": {"matchLabels": {cv.LABEL_ROLE: "r0"}},
            }
            pod["spec"]["affinity"] = {
                "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}
            }
        pods.append(pod)
    return nodes, pods


@st.composite
def group(draw: st.DrawFn) -> Problem:
    count = draw(st.integers(1, 8))
    pods = []
    for i in range(count):
        role = f"r{i % draw(st.integers(1, 3))}"
        requests = {"pods": 1, "cpu": draw(st.sampled_from([0, 500, 1000, 2000]))}
        gpu = draw(st.sampled_from([0, 0, 1, 2, 4]))
        if gpu:
            requests[GPU] = gpu
        pods.append(
            PodDemand(
                name=f"p{i}",
                role=role,
                namespace="default",
                labels={cv.LABEL_GROUP_KEY: "mine", cv.LABEL_ROLE: role},
                requests={k: v for k, v in requests.items() if v},
                node_selector={"tier": "a"} if draw(st.integers(0, 3)) == 0 else {},
                tolerations=(Toleration(key="t", operator="Exists"),)
                if draw(st.booleans())
                else (),
                instance=f"i{i // 2}",
            )
        )
    names = [p.name for p in pods]
    constraints: list[Constraint] = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(
            st.sampled_from(
                ["pack", "spread", "separate", "instance", "exclusive", "avoid", "near"]
            )
        )
        chosen = tuple(sorted(draw(st.sets(st.sampled_from(names), min_size=1))))
        level = draw(st.sampled_from(LEVELS))
        if kind == "pack":
            preferred = tuple(draw(st.lists(st.sampled_from(LEVELS), max_size=2)))
            required = draw(st.sampled_from([*LEVELS, None]))
            constraints.append(Pack(pods=chosen, required=required, preferred=preferred))
        elif kind == "spread":
            constraints.append(Spread(pods=chosen, level=ZONE, max_skew=draw(st.integers(1, 2))))
        elif kind == "separate":
            constraints.append(Separate(pods=chosen, level=level))
        elif kind == "instance":
            instances: dict[str, list[str]] = {}
            for p in pods:
                instances.setdefault(str(p.instance), []).append(p.name)
            constraints.append(
                InstancePack(instances=tuple(tuple(v) for v in instances.values()), level=level)
            )
        elif kind == "exclusive":
            constraints.append(Exclusive(pods=chosen, level=level, group_key="mine"))
        elif kind == "avoid":
            term = PodTerm(LabelSelector((Requirement("app", "In", ("db",)),)), None, level)
            constraints.append(Avoid(pods=chosen, term=term))
        else:
            term = PodTerm(LabelSelector((Requirement("app", "In", ("web",)),)), None, level)
            constraints.append(Near(pods=chosen, term=term))
    # spread constraints are built over pods with the same node selector (as one role's are)
    for c in constraints:
        if isinstance(c, Spread):
            first = next(p for p in pods if p.name == c.pods[0])
            pods = [
                p if p.name not in c.pods else _with_selector(p, first.node_selector) for p in pods
            ]
    return Problem(namespace="default", name="g", pods=tuple(pods), constraints=tuple(constraints))


def _with_selector(pod: PodDemand, selector: Any) -> PodDemand:
    from dataclasses import replace

    return replace(pod, node_selector=selector)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cluster(), group(), st.randoms(use_true_random=False))
def test_every_placement_keeps_every_required_constraint(
    inv_parts: tuple[list[dict[str, Any]], list[dict[str, Any]]],
    problem: Problem,
    rnd: random.Random,
) -> None:
    nodes, pods = inv_parts
    inv = inventory(nodes, pods)
    answer = solve(problem, Cluster.of(inv))
    event("fits" if answer.fits else "does not fit")
    if answer.fits:
        assert sorted(p for p, _ in answer.assignments) == sorted(p.name for p in problem.pods)
        assert check.violations(problem, inv, answer.assignments) == []
        assert len(answer.packs) == sum(isinstance(c, Pack) for c in problem.constraints)
    else:
        assert answer.assignments == () and answer.reason
    shuffled = list(nodes)
    rnd.shuffle(shuffled)
    assert solve(problem, Cluster.of(inventory(shuffled, pods))) == answer
