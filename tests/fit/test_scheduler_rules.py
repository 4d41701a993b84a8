"""`rbgc fit` against kube-scheduler's own rules, one rule per test, each with its source.

- interpodaffinity (pkg/scheduler/framework/plugins/interpodaffinity/filtering.go):
  `updateWithAffinityTerms` counts an existing pod for a topology pair only when it matches
  ALL the incoming pod's required affinity terms (`podMatchesAllAffinityTerms`), so a pod whose
  terms no single pod satisfies never schedules (kubernetes#130784); `satisfyPodAffinity` lets
  the first pod of a series through when no pod matches and it matches its own terms, on a node
  that has every topology key (kubernetes#91168).
- The API server merges `matchLabelKeys` into the stored term from the pod's own labels
  (pkg/registry/core/pod/strategy.go `applyMatchLabelKeysAndMismatchLabelKeys`).
- podtopologyspread (filtering.go `calPreFilterState`, `minMatchNum`, `Filter`; common.go
  `matchNodeInclusionPolicies`, `filterTopologySpreadConstraints`): the global minimum is 0 while
  fewer domains are eligible than `minDomains`; `nodeTaintsPolicy` (default Ignore) and
  `nodeAffinityPolicy` (default Honor) decide which nodes' domains are eligible.
"""

from __future__ import annotations

import textwrap

from rbgc.fit import fit
from rbgc.fit.cluster import Answer
from rbgc.fit.inventory import Inventory
from rbgc.k8s import conventions as cv
from tests.conftest import compile_yaml
from tests.fit.helpers import ZONE, group, inventory, node, placement, role, running


def answer_of(text: str, inv: Inventory) -> Answer:
    (answer,), _ = fit(compile_yaml(text).bundle, inv)
    return answer


def affinity(*terms: str) -> str:
    body = "".join(textwrap.indent(textwrap.dedent(t), "      ") for t in terms)
    return "affinity:\n  podAffinity:\n    requiredDuringSchedulingIgnoredDuringExecution:\n" + body


CACHE = """\
- topologyKey: kubernetes.io/hostname
  labelSelector: {matchLabels: {app: cache}}
  namespaceSelector: {}
"""
FAST = """\
- topologyKey: kubernetes.io/hostname
  labelSelector: {matchLabels: {tier: fast}}
  namespaceSelector: {}
"""


def test_one_pod_must_match_every_required_affinity_term() -> None:
    text = group(role("w", 1, spec=affinity(CACHE, FAST)))
    # a cache pod and a fast pod share host h0: each term alone is satisfied there, but no
    # single pod matches both, so kube-scheduler counts nothing (kubernetes#130784)
    apart = [
        running("cache", "h0", labels={"app": "cache"}),
        running("fast", "h0", labels={"tier": "fast"}),
    ]
    nodes = [node("h0"), node("h1")]
    refused = answer_of(text, inventory(nodes, apart))
    assert not refused.fits
    assert refused.reason == (
        "w: no pod matches all 2 of its required pod affinity terms at once (app=cache per "
        "kubernetes.io/hostname; tier=fast per kubernetes.io/hostname); kube-scheduler places "
        "the pod only where one pod matches every term (kubernetes#130784)"
    )
    # one pod carrying both labels, on h1: the pod goes there
    both = running("both", "h1", labels={"app": "cache", "tier": "fast"})
    placed = answer_of(text, inventory(nodes, [*apart, both]))
    assert placed.fits and placed.assignments == (("g-w-0", "h1"),)


PACK = placement("- roles: [prefill, decode]\n  pack: {required: zone}")


def test_a_pack_on_a_role_with_its_own_affinity_to_other_pods_is_only_preferred() -> None:
    # issue 17.3: the pack's term (group key + roles) and the user's `app: cache` term on the
    # same pod could never both hold (the cache pods carry no group label, the group's pods no
    # `app: cache`), so the build writes the pack as preferred terms only (RBG318, not
    # lowered): the pod goes next to the cache pod, and fit does not count on the pack
    prefill = role("prefill", 1, spec=affinity(CACHE))
    text = group(prefill + role("decode", 1)) + PACK
    nodes = [node("h0", zone="z1"), node("h1", zone="z1")]
    inv = inventory(nodes, [running("cache", "h0", labels={"app": "cache"})])
    found = answer_of(text, inv)
    assert found.fits and dict(found.assignments)["g-prefill-0"] == "h0"
    # the same role without the pack goes there too
    alone = answer_of(group(prefill + role("decode", 1)), inv)
    assert alone.fits and dict(alone.assignments)["g-prefill-0"] == "h0"


SELF = """\
- topologyKey: topology.kubernetes.io/zone
  labelSelector: {matchLabels: {rolebasedgroup.workloads.x-k8s.io/role: w}}
"""


def test_the_first_pod_of_a_self_affine_role_needs_a_node_with_the_topology_key() -> None:
    # no pod matches yet: the first goes where it may, but only to a node with the zone label
    # (kubernetes#91168); the others follow it into its zone
    text = group(role("w", 2, spec=affinity(SELF)))
    nodes = [node("a-big", cpu="64"), node("b", zone="z1"), node("c", zone="z1")]
    placed = answer_of(text, inventory(nodes))
    assert placed.fits
    assert {n for _, n in placed.assignments} <= {"b", "c"}
    unlabelled = answer_of(text, inventory([node("a-big", cpu="64")]))
    assert not unlabelled.fits
    assert "topology.kubernetes.io/zone" in str(unlabelled.reason)


def test_a_running_pod_that_matches_turns_the_exception_off() -> None:
    # a pod of the same role labels already runs in z2: the new pods must join it there
    text = group(role("w", 2, spec=affinity(SELF)))
    nodes = [node("b", zone="z1"), node("c", zone="z1"), node("d", zone="z2")]
    there = running("old", "d", labels={cv.LABEL_ROLE: "w"})
    placed = answer_of(text, inventory(nodes, [there]))
    assert placed.fits and {n for _, n in placed.assignments} == {"d"}


PER_INSTANCE = """\
- topologyKey: kubernetes.io/hostname
  labelSelector: {matchLabels: {rolebasedgroup.workloads.x-k8s.io/role: w}}
  matchLabelKeys: [leaderworkerset.sigs.k8s.io/group-index]
"""

LWS = """\
- name: w
  replicas: 2
  workload: {{apiVersion: leaderworkerset.x-k8s.io/v1, kind: LeaderWorkerSet}}
  leaderWorkerSet: {{size: 2}}
  template:
    spec:
      containers: [{{name: main, image: x, resources: {{limits: {{nvidia.com/gpu: 4}}}}}}]
{affinity}"""


def test_match_label_keys_give_each_instance_its_own_pack() -> None:
    # the LWS controller labels each group's pods with its group-index; merged into the term,
    # each group packs on a host of its own (two 8-GPU hosts hold two groups of 2 x 4 GPUs)
    per_instance = LWS.format(affinity=textwrap.indent(affinity(PER_INSTANCE), " " * 6))
    hosts = inventory([node("h0", gpu=8), node("h1", gpu=8)])
    placed = answer_of(group(per_instance), hosts)
    assert placed.fits
    where = dict(placed.assignments)
    assert where["g-w-0"] == where["g-w-0-1"] != where["g-w-1"] == where["g-w-1-1"]
    # without the key the term selects every pod of the role: all four on one host
    whole = PER_INSTANCE.replace(
        "  matchLabelKeys: [leaderworkerset.sigs.k8s.io/group-index]\n", ""
    )
    one_pack = LWS.format(affinity=textwrap.indent(affinity(whole), " " * 6))
    assert not answer_of(group(one_pack), hosts).fits


def spread(extra: str = "") -> str:
    return textwrap.dedent(
        """\
        topologySpreadConstraints:
          - maxSkew: 1
            topologyKey: topology.kubernetes.io/zone
            whenUnsatisfiable: DoNotSchedule
            labelSelector: {matchLabels: {rolebasedgroup.workloads.x-k8s.io/role: w}}
        """
    ) + textwrap.indent(textwrap.dedent(extra), "    ")


TWO_ZONES = [
    node("a0", zone="z1"),
    node("a1", zone="z1"),
    node("b0", zone="z2"),
    node("b1", zone="z2"),
]


def test_min_domains_makes_the_global_minimum_zero_while_domains_are_too_few() -> None:
    # 3 pods over 2 zones, maxSkew 1: 2/1 is fine ...
    assert answer_of(group(role("w", 3, spec=spread())), inventory(TWO_ZONES)).fits
    # ... but with minDomains 3 the minimum is 0 while only 2 zones are eligible: 1 per zone
    refused = answer_of(group(role("w", 3, spec=spread("minDomains: 3\n"))), inventory(TWO_ZONES))
    assert not refused.fits
    assert refused.reason == (
        "w: 3 pods spread over 2 topology.kubernetes.io/zone domain(s) with maxSkew 1: at most "
        "2 can be placed (2 eligible domain(s) are fewer than minDomains 3, so each takes at "
        "most 1)"
    )
    # minDomains 2 is met: as without it
    assert answer_of(group(role("w", 3, spec=spread("minDomains: 2\n"))), inventory(TWO_ZONES)).fits


TAINT = [{"key": "maintenance", "value": "true", "effect": "NoSchedule"}]


def test_node_taints_policy_honor_leaves_out_a_zone_of_tainted_nodes() -> None:
    # z3's only node is tainted: under the default (Ignore) z3 still counts as a domain with 0
    # pods, so z1 and z2 may take one pod each and the third has nowhere to go
    nodes = [*TWO_ZONES, node("c0", zone="z3", taints=TAINT)]
    assert not answer_of(group(role("w", 3, spec=spread())), inventory(nodes)).fits
    honor = spread("nodeTaintsPolicy: Honor\n")
    assert answer_of(group(role("w", 3, spec=honor)), inventory(nodes)).fits


def test_node_affinity_policy_ignore_counts_zones_the_pod_may_not_use() -> None:
    # the pods may use only tier=a nodes (z1, z2); z3 has a tier=b node
    nodes = [
        *(
            node(n["metadata"]["name"], zone=n["metadata"]["labels"][ZONE], labels={"tier": "a"})
            for n in TWO_ZONES
        ),
        node("c0", zone="z3", labels={"tier": "b"}),
    ]
    selector = "nodeSelector: {tier: a}\n"
    assert answer_of(group(role("w", 3, spec=spread() + selector)), inventory(nodes)).fits
    ignore = spread("nodeAffinityPolicy: Ignore\n") + selector
    assert not answer_of(group(role("w", 3, spec=ignore)), inventory(nodes)).fits
