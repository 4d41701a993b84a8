"""Whatever placement `fit` returns keeps every scheduler rule, re-checked independently.

Random inventories (zones, NVLink cliques, hosts without some labels, taints, cordons, running
pods of this group's release and others, some with anti-affinity) and random groups whose
roles carry what pod templates carry: required pod affinity (several terms at once, towards
the group or towards running pods), anti-affinity, `DoNotSchedule` spreads with `minDomains`
and node inclusion policies, `matchLabelKeys` on all of them; plus random placement rules.
When the solver says "fits", `oracle.violations` (kube-scheduler's rules, read from the
pods' own terms) must find nothing; when it says "does not fit", it must say why; and the
answer must not depend on the order of the nodes.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from rbgc.fit.cluster import Cluster
from rbgc.fit.constraints import Own, problem
from rbgc.fit.matching import LabelSelector, PodTerm, Requirement, Toleration
from rbgc.fit.model import (
    HONOR,
    IGNORE,
    InstancePack,
    Pack,
    PodDemand,
    Problem,
    Rule,
    Separate,
    Spread,
    SpreadTerm,
    Terms,
)
from rbgc.fit.search import solve
from rbgc.k8s import conventions as cv
from tests.fit import oracle
from tests.fit.helpers import CLIQUE, GPU, HOST, ZONE, inventory, node, running

LEVELS = [CLIQUE, HOST, ZONE]
TAINT = [{"key": "t", "value": "x", "effect": "NoSchedule"}]
KEY = cv.V04.label_group_key
INSTANCE = cv.LWS_GROUP_INDEX_LABEL
HASH = cv.POD_TEMPLATE_HASH_LABEL


def match(**labels: str) -> LabelSelector:
    return LabelSelector(tuple(Requirement(k, "In", (v,)) for k, v in sorted(labels.items())))


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
        if draw(st.booleans()):  # a pod of this group's release (or the other's), another group
            release = draw(st.sampled_from([cv.V04, cv.V08]))
            labels[release.label_group_key] = "other"
        if draw(st.integers(0, 3)) == 0:  # it even carries a role label of ours
            labels[cv.LABEL_ROLE] = "r0"
        pod = running(f"r{j}", on, gpu=draw(st.sampled_from([0, 1, 2])), labels=labels)
        if draw(st.integers(0, 3)) == 0:  # a running pod that keeps group pods away
            term = {
                "topologyKey": draw(st.sampled_from(LEVELS)),
                "labelSelector": {"matchLabels": {cv.LABEL_ROLE: "r0"}},
            }
            pod["spec"]["affinity"] = {
                "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}
            }
        pods.append(pod)
    return nodes, pods


@st.composite
def affinity(draw: st.DrawFn, role: str) -> tuple[PodTerm, ...]:
    """A role's required pod affinity: one to three terms, all of which must hold at once."""
    choices = {
        # pack with the group's pods of some roles (as a placement pack lowers it)
        "pack": lambda: PodTerm(
            LabelSelector(
                (
                    Requirement(KEY, "In", ("mine",)),
                    Requirement(
                        cv.LABEL_ROLE,
                        "In",
                        tuple(draw(st.sets(st.sampled_from(["r0", "r1", "r2"]), min_size=1))),
                    ),
                )
            ),
            frozenset({"default"}),
            draw(st.sampled_from(LEVELS)),
        ),
        # each instance packs (matchLabelKeys on the instance label)
        "instance": lambda: PodTerm(
            match(**{cv.LABEL_ROLE: role}),
            frozenset({"default"}),
            draw(st.sampled_from(LEVELS)),
            match_label_keys=(INSTANCE,),
        ),
        # next to running pods (app=web), in every namespace
        "near": lambda: PodTerm(match(app="web"), None, draw(st.sampled_from(LEVELS))),
        # a user's term no pod of ours carries: with a pack term, never satisfiable
        "cache": lambda: PodTerm(match(app="cache"), None, HOST),
    }
    # mostly one term; a second one (and the unsatisfiable user term) now and then
    common = st.sampled_from(["pack", "pack", "instance", "near"])
    kinds = [draw(common)]
    if draw(st.integers(0, 3)) == 0:
        kinds.append(draw(common))
    if draw(st.integers(0, 5)) == 0:
        kinds.append("cache")
    return tuple(choices[k]() for k in dict.fromkeys(kinds))


@st.composite
def anti_affinity(draw: st.DrawFn, role: str) -> tuple[PodTerm, ...]:
    choices = {
        "separate": lambda: PodTerm(
            match(**{cv.LABEL_ROLE: role}),
            frozenset({"default"}),
            draw(st.sampled_from(LEVELS)),
            match_label_keys=(HASH,) if draw(st.booleans()) else (),
        ),
        # instances apart from each other, an instance's pods free to share a domain
        "instances": lambda: PodTerm(
            match(**{cv.LABEL_ROLE: role}),
            frozenset({"default"}),
            draw(st.sampled_from(LEVELS)),
            mismatch_label_keys=(INSTANCE,),
        ),
        "avoid": lambda: PodTerm(match(app="db"), None, draw(st.sampled_from(LEVELS))),
        "exclusive": lambda: PodTerm(
            LabelSelector((Requirement(KEY, "Exists"), Requirement(KEY, "NotIn", ("mine",)))),
            None,
            draw(st.sampled_from(LEVELS)),
        ),
    }
    kinds = draw(st.lists(st.sampled_from(sorted(choices)), max_size=1 + draw(st.booleans())))
    return tuple(choices[k]() for k in dict.fromkeys(kinds))


@st.composite
def spreads(draw: st.DrawFn, role: str) -> tuple[SpreadTerm, ...]:
    out = []
    for level in draw(st.lists(st.sampled_from([ZONE, HOST]), max_size=2, unique=True)):
        out.append(
            SpreadTerm(
                level=level,
                max_skew=draw(st.integers(1, 2)),
                selector=match(**{cv.LABEL_ROLE: role}),
                min_domains=draw(st.sampled_from([None, None, 2, 3, 4, 6])),
                match_label_keys=(HASH,) if draw(st.booleans()) else (),
                node_affinity_policy=draw(st.sampled_from([HONOR, IGNORE])),
                node_taints_policy=draw(st.sampled_from([IGNORE, HONOR])),
            )
        )
    return tuple(out)


@st.composite
def group(draw: st.DrawFn) -> Problem:
    roles = [f"r{i}" for i in range(draw(st.integers(1, 3)))]
    templates: dict[str, PodDemand] = {}
    for role in roles:  # what one role's pod template says, shared by its pods
        terms = Terms(
            affinity=draw(affinity(role)) if draw(st.integers(0, 3)) == 0 else (),
            anti_affinity=draw(anti_affinity(role)) if draw(st.booleans()) else (),
            spread=draw(spreads(role)) if draw(st.booleans()) else (),
        )
        requests = {"pods": 1, "cpu": draw(st.sampled_from([0, 500, 1000, 2000]))}
        if gpu := draw(st.sampled_from([0, 0, 1, 2, 4])):
            requests[GPU] = gpu
        templates[role] = PodDemand(
            name="",
            role=role,
            namespace="default",
            labels={},
            terms=terms,
            requests={k: v for k, v in requests.items() if v},
            node_selector={"tier": "a"} if draw(st.integers(0, 3)) == 0 else {},
            tolerations=(Toleration(key="t", operator="Exists"),) if draw(st.booleans()) else (),
        )
    pods = []
    for i in range(draw(st.integers(1, 10))):
        role = roles[i % len(roles)]
        instance = f"{role}-{i // len(roles) // 2}"  # two pods of a role per instance
        labels = {KEY: "mine", cv.LABEL_ROLE: role, INSTANCE: instance, HASH: "h1"}
        pods.append(replace(templates[role], name=f"p{i}", labels=labels, instance=instance))
    names = [p.name for p in pods]
    rules: list[Rule] = []
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["pack", "spread", "separate", "instance"]))
        chosen = tuple(sorted(draw(st.sets(st.sampled_from(names), min_size=1))))
        level = draw(st.sampled_from(LEVELS))
        if kind == "pack":
            preferred = tuple(draw(st.lists(st.sampled_from(LEVELS), max_size=2)))
            required = draw(st.sampled_from([*LEVELS, None]))
            rules.append(Pack(pods=chosen, required=required, preferred=preferred))
        elif kind == "spread":  # over one role's pods: they share a node selector
            role = draw(st.sampled_from(roles))
            mine = tuple(p.name for p in pods if p.role == role)
            rules.append(Spread(pods=mine, level=ZONE, max_skew=draw(st.integers(1, 2))))
        elif kind == "separate":
            rules.append(Separate(pods=chosen, level=level))
        else:
            instances: dict[str, list[str]] = {}
            for p in pods:
                instances.setdefault(str(p.instance), []).append(p.name)
            rules.append(
                InstancePack(instances=tuple(tuple(v) for v in instances.values()), level=level)
            )
    return problem("default", "g", pods, rules, Own(KEY, "mine"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cluster(), group(), st.randoms(use_true_random=False))
def test_every_placement_keeps_every_scheduler_rule(
    inv_parts: tuple[list[dict[str, Any]], list[dict[str, Any]]],
    posed: Problem,
    rnd: random.Random,
) -> None:
    nodes, pods = inv_parts
    inv = inventory(nodes, pods)
    answer = solve(posed, Cluster.of(inv))
    event("fits" if answer.fits else "does not fit")
    if answer.fits:
        assert sorted(p for p, _ in answer.assignments) == sorted(p.name for p in posed.pods)
        assert oracle.violations(posed, inv, answer.assignments) == []
    else:
        assert answer.assignments == () and answer.reason
    shuffled = list(nodes)
    rnd.shuffle(shuffled)
    assert solve(posed, Cluster.of(inventory(shuffled, pods))) == answer
