"""`rbgc fit`'s answers on synthetic inventories: each scenario the issue names, and why."""

from __future__ import annotations

import random

from rbgc.fit.cluster import Cluster
from rbgc.fit.model import InstancePack, Pack, Separate, Spread
from rbgc.fit.search import solve
from tests.fit import oracle
from tests.fit.helpers import (
    CLIQUE,
    HOST,
    ZONE,
    group,
    inventory,
    node,
    one,
    pods_of,
    posed,
    role,
    running,
    solved,
)

PD = group(role("prefill", 1, gpu=8) + role("decode", 1, gpu=8))
EIGHT_GPU_CLIQUES = [
    node("a-0", gpu=8, zone="z1", clique="A"),
    node("a-1", gpu=8, zone="z1", clique="A"),
    node("b-0", gpu=8, zone="z1", clique="B"),
    node("b-1", gpu=8, zone="z1", clique="B"),
]


def test_fits_exactly_when_every_gpu_is_taken() -> None:
    inv = inventory([node("n1", gpu=8), node("n2", gpu=8)])
    answer = one(group(role("w", 2, gpu=8)), inv)
    assert answer.fits and answer.reason is None
    assert answer.assignments == (("g-w-0", "n1"), ("g-w-1", "n2"))
    assert oracle.violations(posed(group(role("w", 2, gpu=8))), inv, answer.assignments) == []


def test_one_gpu_more_does_not_fit_and_says_by_how_much() -> None:
    inv = inventory([node("n1", gpu=8), node("n2", gpu=8)])
    answer = one(group(role("w", 3, gpu=8)), inv)
    assert not answer.fits and answer.assignments == ()
    assert answer.reason == (
        "the group's pods need 24 nvidia.com/gpu in all; the nodes they may use have 16"
    )


def test_one_gpu_short_in_one_domain_fits_in_the_other() -> None:
    # clique A has 15 free GPUs (one is taken by a running pod), clique B all 16
    inv = inventory(EIGHT_GPU_CLIQUES, [running("busy", "a-0", gpu=1)])
    p = posed(PD, Pack(pods=pods_of(posed(PD)), required=CLIQUE, label="prefill+decode"))
    answer = solved(p, inv)
    assert answer.fits
    assert {n for _, n in answer.assignments} == {"b-0", "b-1"}
    assert answer.packs == (("prefill+decode", CLIQUE),)
    assert oracle.violations(p, inv, answer.assignments) == []


def test_no_domain_with_room_names_the_pack_and_the_largest_free_one() -> None:
    rule = pods_of(posed(PD), "prefill") + pods_of(posed(PD), "decode")  # as a rule lists them
    p = posed(PD, Pack(pods=rule, required=CLIQUE))  # no label: named after its roles
    inv = inventory([node("a-0", gpu=8, clique="A"), node("b-0", gpu=8, clique="B")])
    answer = solved(p, inv)
    assert not answer.fits
    assert answer.reason == (
        "prefill+decode need 16 nvidia.com/gpu in one nvidia.com/gpu.clique domain; "
        "the largest free one has 8"
    )


def test_fits_only_at_a_broader_tier_and_reports_it() -> None:
    nodes = [
        node("a-0", gpu=8, zone="z1", clique="A"),
        node("b-0", gpu=8, zone="z1", clique="B"),
        node("c-0", gpu=8, zone="z2", clique="C"),
    ]
    pack = Pack(pods=pods_of(posed(PD)), required=ZONE, preferred=(CLIQUE, HOST), label="pd")
    answer = solved(posed(PD, pack), inventory(nodes))
    assert answer.fits and answer.tier == ZONE
    assert {n for _, n in answer.assignments} == {"a-0", "b-0"}  # both in z1, not z2


def test_the_preferred_tier_wins_when_it_has_room() -> None:
    pack = Pack(pods=pods_of(posed(PD)), required=ZONE, preferred=(CLIQUE,), label="pd")
    nodes = [*EIGHT_GPU_CLIQUES, node("c-0", gpu=8, zone="z1", clique="C")]
    answer = solved(posed(PD, pack), inventory(nodes))
    assert answer.tier == CLIQUE
    assert len({n[0] for _, n in answer.assignments}) == 1  # both pods in one clique


def test_preferred_only_falls_back_to_anywhere() -> None:
    pack = Pack(pods=pods_of(posed(PD)), required=None, preferred=(CLIQUE,), label="pd")
    nodes = [node("a-0", gpu=8, clique="A"), node("b-0", gpu=8, clique="B")]
    answer = solved(posed(PD, pack), inventory(nodes))
    assert answer.fits and answer.packs == (("pd", None),)


def test_a_taint_blocks_and_a_toleration_unblocks() -> None:
    taint = [{"key": "dedicated", "value": "llm", "effect": "NoSchedule"}]
    inv = inventory([node("n1", gpu=8, taints=taint)])
    blocked = one(group(role("w", 1, gpu=8)), inv)
    assert not blocked.fits
    assert blocked.reason == (
        "pod g-w-0 (w) fits on none of the 1 node(s): 1 have a taint the pod does not "
        "tolerate (dedicated=llm:NoSchedule)"
    )
    tolerant = role(
        "w", 1, gpu=8, spec="tolerations: [{key: dedicated, operator: Equal, value: llm}]\n"
    )
    assert one(group(tolerant), inv).fits
    exists = role("w", 1, gpu=8, spec="tolerations: [{operator: Exists}]\n")
    assert one(group(exists), inv).fits
    wrong = role("w", 1, gpu=8, spec="tolerations: [{key: dedicated, value: other}]\n")
    assert not one(group(wrong), inv).fits


def test_prefer_no_schedule_and_no_execute_taints() -> None:
    soft = [{"key": "k", "effect": "PreferNoSchedule"}]
    hard = [{"key": "k", "effect": "NoExecute"}]
    assert one(group(role("w")), inventory([node("n1", taints=soft)])).fits
    assert not one(group(role("w")), inventory([node("n1", taints=hard)])).fits


def test_a_required_zone_spread_that_cannot_hold() -> None:
    # zone z3 has no room left, so with maxSkew 1 at most one pod per zone can land... and
    # only z1 and z2 take them: 3 pods cannot keep the skew
    nodes = [
        node("n1", gpu=8, zone="z1"),
        node("n2", gpu=8, zone="z2"),
        node("n3", gpu=8, zone="z3"),
    ]
    inv = inventory(nodes, [running("busy", "n3", gpu=8)])
    text = group(role("router", 3, gpu=1))
    p = posed(text)
    spread = Spread(pods=pods_of(p), level=ZONE, max_skew=1, label="router")
    answer = solved(posed(text, spread), inv)
    assert not answer.fits
    assert answer.reason == (
        "router: 3 pods spread over 3 topology.kubernetes.io/zone domain(s) with maxSkew 1: "
        "at most 2 can be placed (z3 has room for 0)"
    )
    # the same spread holds when z3 is free, one pod per zone
    free = solved(posed(text, spread), inventory(nodes))
    assert free.fits
    assert sorted(n for _, n in free.assignments) == ["n1", "n2", "n3"]


def test_a_spread_from_the_pod_template_is_read() -> None:
    spread = """\
        topologySpreadConstraints:
          - maxSkew: 1
            topologyKey: topology.kubernetes.io/zone
            whenUnsatisfiable: DoNotSchedule
            labelSelector:
              matchLabels: {rolebasedgroup.workloads.x-k8s.io/role: w}
        """
    nodes = [node("n1", zone="z1"), node("n2", zone="z1"), node("n3", zone="z2")]
    answer = one(group(role("w", 2, spec=spread)), inventory(nodes))
    assert answer.fits
    assert sorted(n for _, n in answer.assignments) == ["n1", "n3"]  # one per zone


def test_gang_all_or_nothing_and_a_failed_group_takes_nothing() -> None:
    # `a` (3 x 8 GPUs) cannot fit on 2 nodes; it must take nothing, so `b` (2 x 8) still fits
    inv = inventory([node("n1", gpu=8), node("n2", gpu=8)])
    text = group(role("w", 3, gpu=8), name="a") + "---\n" + group(role("w", 2, gpu=8), name="b")
    from tests.fit.helpers import answer

    first, second = answer(text, inv)
    assert (first.name, first.fits, first.assignments) == ("a", False, ())
    assert (second.name, second.fits) == ("b", True)


def test_groups_are_placed_in_order_on_what_earlier_ones_left() -> None:
    inv = inventory([node("n1", gpu=8), node("n2", gpu=8)])
    text = group(role("w", 1, gpu=8), name="a") + "---\n" + group(role("w", 2, gpu=8), name="b")
    from tests.fit.helpers import answer

    first, second = answer(text, inv)
    assert first.fits and not second.fits
    assert second.reason == (
        "the group's pods need 16 nvidia.com/gpu in all; the nodes they may use have 8"
    )


def test_node_selector_and_required_node_affinity() -> None:
    nodes = [
        node("n1", labels={"gpu": "h100", "gen": "9"}),
        node("n2", labels={"gpu": "a100", "gen": "8"}),
        node("n3", labels={"gen": "10"}),
    ]
    inv = inventory(nodes)

    def where(spec: str) -> list[str]:
        found = one(group(role("w", 1, spec=spec)), inv)
        return [n for _, n in found.assignments]

    def affinity(expression: str, field: str = "matchExpressions") -> str:
        return (
            "affinity:\n  nodeAffinity:\n    requiredDuringSchedulingIgnoredDuringExecution:\n"
            f"      nodeSelectorTerms:\n        - {field}: [{expression}]\n"
        )

    assert where("nodeSelector: {gpu: a100}\n") == ["n2"]
    assert where(affinity("{key: gpu, operator: In, values: [a100]}")) == ["n2"]
    assert where(affinity("{key: gpu, operator: NotIn, values: [h100]}")) == ["n2"]
    assert where(affinity("{key: gpu, operator: DoesNotExist}")) == ["n3"]
    assert where(affinity("{key: gpu, operator: Exists}")) == ["n1"]
    assert where(affinity("{key: gen, operator: Gt, values: ['9']}")) == ["n3"]
    assert where(affinity("{key: gen, operator: Lt, values: ['9']}")) == ["n2"]
    assert where(affinity("{key: metadata.name, operator: In, values: [n2]}", "matchFields")) == [
        "n2"
    ]
    assert where("nodeSelector: {gpu: b200}\n") == []


def test_init_containers_count_as_kubernetes_counts_them() -> None:
    # main 2 CPU; init 6 CPU: the pod needs max(2, 6) = 6, not 8 -> fits a 6-CPU node
    spec = """\
        initContainers:
          - {name: fetch, image: x, resources: {requests: {cpu: '6'}}}
        """
    inv = inventory([node("n1", cpu="6")])
    assert one(group(role("w", 1, cpu="2", spec=spec)), inv).fits
    # a sidecar (restartPolicy Always) runs beside the main container: 2 + 1 = 3, and the init
    # container after it runs beside it too: 6 + 1 = 7 > 6
    sidecar = """\
        initContainers:
          - {name: proxy, image: x, restartPolicy: Always, resources: {requests: {cpu: '1'}}}
          - {name: fetch, image: x, resources: {requests: {cpu: '6'}}}
        """
    blocked = one(group(role("w", 1, cpu="2", spec=sidecar)), inv)
    assert not blocked.fits
    assert (
        "have too little free cpu (needs 7; at most 6 free on a node that passes the other "
        "filters)" in str(blocked.reason)
    )


def test_unschedulable_nodes_take_nothing_unless_tolerated() -> None:
    inv = inventory([node("n1", unschedulable=True), node("n2", gpu=8, unschedulable=True)])
    blocked = one(group(role("w", 1)), inv)
    assert blocked.reason == (
        "pod g-w-0 (w) fits on none of the 2 node(s): 2 are unschedulable (cordoned)"
    )
    spec = "tolerations: [{key: node.kubernetes.io/unschedulable, operator: Exists}]\n"
    assert one(group(role("w", 1, spec=spec)), inv).fits


def test_running_pods_are_subtracted_but_finished_ones_are_not() -> None:
    nodes = [node("n1", gpu=8), node("n2", gpu=8)]
    text = group(role("w", 2, gpu=4))
    assert one(text, inventory(nodes, [running("r", "n1", gpu=6)])).assignments == (
        ("g-w-0", "n2"),
        ("g-w-1", "n2"),
    )
    done = running("r", "n1", gpu=8, phase="Succeeded")
    assert one(text, inventory(nodes, [done])).assignments == (("g-w-0", "n1"), ("g-w-1", "n1"))
    assert not one(
        text, inventory(nodes, [running("r", "n1", gpu=8), running("s", "n2", gpu=8)])
    ).fits


def test_the_pod_slot_counts() -> None:
    assert not one(group(role("w", 3)), inventory([node("n1", pods="2")])).fits


def test_exclusive_topology_packs_the_group_and_keeps_other_groups_out() -> None:
    ann = "rolebasedgroup.workloads.x-k8s.io/exclusive-topology: kubernetes.io/hostname\n"
    nodes = [node("n1", gpu=8), node("n2", gpu=8)]
    text = (
        group(role("w", 2, gpu=2), name="a", annotations=ann)
        + "---\n"
        + group(role("w", 1, gpu=2), name="b", annotations=ann)
    )
    from tests.fit.helpers import answer

    first, second = answer(text, inventory(nodes))
    assert first.assignments == (("a-w-0", "n1"), ("a-w-1", "n1"))
    assert first.tier == HOST
    assert second.assignments == (("b-w-0", "n2"),)  # n1 has room, but belongs to `a`
    # with one node, `b` has nowhere to go
    (_, alone) = answer(text, inventory(nodes[:1]))
    assert not alone.fits
    assert alone.reason == (
        "pod b-w-0 (w) fits on none of the 1 node(s): 1 have another group's pods in their "
        "kubernetes.io/hostname domain"
    )


def test_separate_and_instance_packs() -> None:
    nodes = [node(f"n{i}", gpu=8, clique="AB"[i // 2]) for i in range(4)]
    text = group(role("w", 2, gpu=4))
    p = posed(text)
    apart = solved(posed(text, Separate(pods=pods_of(p), level=HOST, label="w")), inventory(nodes))
    assert len({n for _, n in apart.assignments}) == 2
    too_many = posed(
        group(role("w", 5)),
        Separate(pods=pods_of(posed(group(role("w", 5)))), level=HOST, label="w"),
    )
    refused = solved(too_many, inventory(nodes))
    assert refused.reason == "w need 5 separate kubernetes.io/hostname domains; 4 have room"
    lws = """\
        - name: w
          replicas: 2
          workload: {apiVersion: leaderworkerset.x-k8s.io/v1, kind: LeaderWorkerSet}
          leaderWorkerSet: {size: 2}
          template:
            spec:
              containers:
                - {name: main, image: x, resources: {limits: {nvidia.com/gpu: 6}}}
        """
    base = posed(group(lws))
    instances: dict[str | None, list[str]] = {}
    for pod in base.pods:
        instances.setdefault(pod.instance, []).append(pod.name)
    packed = InstancePack(instances=tuple(tuple(v) for v in instances.values()), level=CLIQUE)
    answer = solved(posed(group(lws), packed), inventory(nodes))
    assert answer.fits
    where = dict(answer.assignments)
    assert where["g-w-0"][:2] in ("n0", "n1") and where["g-w-0-1"] in ("n0", "n1")
    assert where["g-w-1"] in ("n2", "n3") and where["g-w-1-1"] in ("n2", "n3")
    assert oracle.violations(posed(group(lws), packed), inventory(nodes), answer.assignments) == []


def test_same_answer_whatever_the_node_order() -> None:
    nodes = [node(f"n{i:02}", gpu=8, zone=f"z{i % 3}", clique=f"c{i % 5}") for i in range(20)]
    text = group(role("prefill", 3, gpu=4) + role("decode", 2, gpu=8) + role("router", 2, cpu="2"))
    pack = Pack(pods=pods_of(posed(text), "prefill", "decode"), required=ZONE, preferred=(CLIQUE,))
    first = solved(posed(text, pack), inventory(nodes))
    assert first.fits
    for seed in range(5):
        shuffled = list(nodes)
        random.Random(seed).shuffle(shuffled)
        assert solved(posed(text, pack), inventory(shuffled)) == first
    assert solve(posed(text, pack), Cluster.of(inventory(nodes))) == first


LWS_EXCLUSIVE = """\
- name: w
  replicas: {replicas}
  annotations: {{leaderworkerset.sigs.k8s.io/exclusive-topology: nvidia.com/gpu.clique}}
  workload: {{apiVersion: leaderworkerset.x-k8s.io/v1, kind: LeaderWorkerSet}}
  leaderWorkerSet: {{size: 2}}
  template:
    spec:
      containers: [{{name: main, image: x}}]
"""


def test_lws_exclusive_topology_keeps_one_group_per_domain() -> None:
    nodes = [node("a0", clique="A"), node("a1", clique="A"), node("b0", clique="B")]
    two = one(group(LWS_EXCLUSIVE.format(replicas=2)), inventory(nodes))
    assert two.assignments == (
        ("g-w-0", "a0"),
        ("g-w-0-1", "a0"),
        ("g-w-1", "b0"),
        ("g-w-1-1", "b0"),
    )
    three = one(group(LWS_EXCLUSIVE.format(replicas=3)), inventory(nodes))
    assert three.reason == (
        "w (LWS exclusive topology) need 3 separate nvidia.com/gpu.clique domains; 2 have room"
    )


def test_rules_from_a_placement_feed_the_same_model() -> None:
    """What a Placement's rules become: roles in, pods and instances out."""
    from rbgc.fit.rules import instances_of, pods_of
    from tests.fit.helpers import pods_read

    text = group(role("prefill", 1, gpu=8) + role("decode", 1, gpu=8) + role("router", 2))
    g = pods_read(text)
    rules = (
        Pack(pods=pods_of(g, ["prefill", "decode"]), required=ZONE, preferred=(CLIQUE,)),
        Separate(pods=pods_of(g, ["router"]), level=HOST),
        InstancePack(instances=instances_of(g, "router"), level=HOST),
    )
    nodes = [*EIGHT_GPU_CLIQUES, node("c-0", zone="z1"), node("c-1", zone="z1")]
    answer = solved(posed(text, *rules), inventory(nodes))
    assert answer.packs == (("prefill+decode", CLIQUE),)
    where = dict(answer.assignments)
    assert where["g-router-0"] != where["g-router-1"]


def test_many_preferred_domains_that_fail_do_not_starve_the_required_level() -> None:
    # 40 cliques of 2 hosts: each has the GPUs for 4 pods but not 4 separate hosts, so every
    # clique fails; the search must still reach the zone level, where it fits
    nodes = [node(f"n{i:02}", gpu=8, zone="z1", clique=f"c{i // 2:02}") for i in range(80)]
    text = group(role("w", 4, gpu=4))
    pods = pods_of(posed(text))
    p = posed(
        text,
        Pack(pods=pods, required=ZONE, preferred=(CLIQUE,)),
        Separate(pods=pods, level=HOST),
    )
    answer = solved(p, inventory(nodes))
    assert answer.fits and answer.tier == ZONE
