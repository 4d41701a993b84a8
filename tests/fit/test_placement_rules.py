"""`rbgc fit` with Placement rules: read from the bundle's facts (`GroupFacts.placement`), never
from the documents, and answered with the tier each pack was satisfied at."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from rbgc.bundle import PlacementFacts
from rbgc.fit import fit
from rbgc.fit.cluster import Answer
from rbgc.fit.constraints import Own, problem
from rbgc.fit.demand import Features, group_pods
from rbgc.fit.inventory import Inventory
from rbgc.fit.model import InstancePack
from rbgc.fit.rules import constraint, rules_of
from rbgc.k8s.controllers import DEFAULT_KUBERNETES_VERSION
from rbgc.model import Target
from rbgc.pipeline import Options, compile_documents
from rbgc.source import parse_text
from tests.conftest import compile_yaml
from tests.fit.helpers import (
    CLIQUE,
    HOST,
    ZONE,
    as_list,
    group,
    inventory,
    node,
    placement,
    role,
    solved,
)
from tests.fit.oracle import violations

PD = group(role("prefill", 2, gpu=4) + role("decode", 2, gpu=4)) + placement(
    "- roles: [prefill, decode]\n  pack: {required: zone, preferred: nvlink}"
)


FEATURES = Features(DEFAULT_KUBERNETES_VERSION)


def solve(text: str, inv: Inventory) -> Answer:
    result = compile_yaml(text)
    (answer,), _ = fit(result.bundle, inv)
    if answer.fits:  # whatever fit answers holds, re-checked independently
        (pods,) = group_pods(result.bundle, FEATURES)
        posed = problem(pods.namespace, pods.name, pods.pods, rules_of(pods, []))
        assert violations(posed, inv, answer.assignments) == []
    return answer


def gpu_nodes(cliques: dict[str, tuple[str, int, int]]) -> list[dict[str, Any]]:
    """clique -> (zone, nodes, GPUs per node)."""
    out = []
    for clique, (zone, count, gpu) in cliques.items():
        out += [node(f"{clique}-{i}", gpu=gpu, zone=zone, clique=clique) for i in range(count)]
    return out


def test_fits_at_nvlink() -> None:
    inv = inventory(gpu_nodes({"c1": ("a", 2, 8), "c2": ("a", 2, 8)}))
    found = solve(PD, inv)
    assert found.fits and found.tier == CLIQUE
    assert {n for _, n in found.assignments} <= {"c1-0", "c1-1"}


def test_one_gpu_short_in_one_domain_fits_in_another() -> None:
    inv = inventory(
        [
            node("c1-0", gpu=8, zone="a", clique="c1"),
            node("c1-1", gpu=7, zone="a", clique="c1"),
            *gpu_nodes({"c2": ("a", 2, 8)}),
        ]
    )
    found = solve(PD, inv)
    assert found.fits and found.tier == CLIQUE
    assert {n for _, n in found.assignments} == {"c2-0", "c2-1"}


def test_falls_back_to_host_then_zone() -> None:
    # the default order is host < nvlink < rack < zone: a pack preferring host tries one host
    # (a PCIe box outside any NVLink domain holds 16 GPUs), then one clique, rack, zone
    pd_host = PD.replace("preferred: nvlink", "preferred: host")
    big = [node("big", gpu=16, zone="a"), *gpu_nodes({"c1": ("a", 1, 8)})]
    found = solve(pd_host, inventory(big))
    assert found.fits and found.tier == HOST
    # no host, no clique: the zone (required) still holds them
    found = solve(pd_host, inventory(gpu_nodes({f"c{i}": ("a", 1, 8) for i in range(2)})))
    assert found.fits and found.tier == ZONE


def test_required_zone_cannot_hold_the_pack() -> None:
    inv = inventory(gpu_nodes({"c1": ("a", 1, 8), "c2": ("b", 1, 8)}))
    found = solve(PD, inv)
    assert not found.fits
    assert found.reason is not None and "16" in found.reason


def test_required_spread_impossible() -> None:
    text = group(role("router", 3, cpu="1")) + placement(
        "- roles: [router]\n  spread: {level: zone, maxSkew: 1, required: true}\n"
        "- roles: [router]\n  separate: {level: host}"
    )
    # one zone has two hosts, the other one: 3 routers spread 2/1 fits ...
    inv = inventory([node("a-0", zone="a"), node("a-1", zone="a"), node("b-0", zone="b")])
    assert solve(text, inv).fits
    # ... but with the second zone's only host cordoned, skew 1 is impossible
    inv = inventory(
        [node("a-0", zone="a"), node("a-1", zone="a"), node("b-0", zone="b", unschedulable=True)]
    )
    found = solve(text, inv)
    assert not found.fits and found.reason


def test_required_separate_is_checked() -> None:
    text = group(role("router", 3, cpu="1")) + placement(
        "- roles: [router]\n  separate: {level: host}"
    )
    assert not solve(text, inventory([node("h0"), node("h1")])).fits
    assert solve(text, inventory([node("h0"), node("h1"), node("h2")])).fits


def test_preferred_separate_is_not_required() -> None:
    text = group(role("router", 3, cpu="1")) + placement(
        "- roles: [router]\n  separate: {level: host, required: false}"
    )
    assert solve(text, inventory([node("h0")])).fits


def test_groups_without_rules_are_unchanged() -> None:
    result = compile_yaml(group(role("w", 2, gpu=1)))
    (pods,) = group_pods(result.bundle, FEATURES)
    assert rules_of(pods, []) == []


HOST_FIRST = """
---
apiVersion: rbgc.io/v1alpha1
kind: Topology
metadata: {name: gb200}
spec:
  tiers:
  - {name: host, nodeLabel: kubernetes.io/hostname}
  - {name: nvlink, nodeLabel: nvidia.com/gpu.clique}
  - {name: zone, nodeLabel: topology.kubernetes.io/zone}
"""


def nest_warnings(tmp_path: Path, text: str, nodes: list[dict[str, Any]]) -> list[str]:
    spec = tmp_path / "pd.yaml"
    spec.write_text(text, encoding="utf-8")
    inv = tmp_path / "nodes.json"
    inv.write_text(as_list(nodes), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "rbgc", "fit", "--nodes", str(inv), str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr  # c2 holds the pack either way
    return [
        line.replace(str(spec), "pd.yaml") for line in done.stderr.splitlines() if "RBG353" in line
    ]


NVLINK_FIRST = HOST_FIRST.replace("gb200", "hgx").replace(
    "  - {name: host, nodeLabel: kubernetes.io/hostname}\n"
    "  - {name: nvlink, nodeLabel: nvidia.com/gpu.clique}\n",
    "  - {name: nvlink, nodeLabel: nvidia.com/gpu.clique}\n"
    "  - {name: host, nodeLabel: kubernetes.io/hostname}\n",
)

CLIQUES = [
    node("c1-0", gpu=8, zone="a", clique="c1"),
    node("c1-1", gpu=8, zone="b", clique="c1"),  # c1 spans two zones
    node("c2-0", gpu=8, zone="a", clique="c2"),
    node("c2-1", gpu=8, zone="a", clique="c2"),
]


def test_tiers_that_do_not_nest_warn(tmp_path: Path) -> None:
    # an order listing nvlink before host (HGX-class hosts): a multi-host clique contradicts it
    text = PD.replace("spec:\n  rules:", "spec:\n  topology: hgx\n  rules:") + NVLINK_FIRST
    assert nest_warnings(tmp_path, text, CLIQUES) == [
        "pd.yaml:35:7: warning[RBG353]: the inventory's nvlink domains do not nest in host "
        "domains: nvlink c1 spans host c1-0, c1-1"
    ]
    # host first: hosts nest in cliques, but clique c1 spans zones a and b
    text = PD.replace("spec:\n  rules:", "spec:\n  topology: gb200\n  rules:") + HOST_FIRST
    assert nest_warnings(tmp_path, text, CLIQUES) == [
        "pd.yaml:35:7: warning[RBG353]: the inventory's nvlink domains do not nest in zone "
        "domains: nvlink c1 spans zone a, b"
    ]
    nested = [*CLIQUES[:1], node("c1-1", gpu=8, zone="a", clique="c1"), *CLIQUES[2:]]
    assert nest_warnings(tmp_path, text, nested) == []


def test_an_instance_pack_packs_each_lws_group() -> None:
    text = group(
        """\
        - name: worker
          replicas: 2
          workload: {apiVersion: leaderworkerset.x-k8s.io/v1, kind: LeaderWorkerSet}
          leaderWorkerSet: {size: 2}
          template:
            spec:
              containers: [{name: main, image: x, resources: {limits: {nvidia.com/gpu: 4}}}]
        """
    )
    result = compile_yaml(text)
    (pods,) = group_pods(result.bundle, FEATURES)
    rule = PlacementFacts(kind="pack", roles=("worker",), required=HOST, scope="instance")
    found = constraint(rule, pods)
    assert isinstance(found, InstancePack) and found.level == HOST
    assert sorted(len(i) for i in found.instances) == [2, 2]
    own = Own(pods.conventions.label_group_key, pods.key)
    posed = problem(pods.namespace, pods.name, pods.pods, (found,), own)
    inv = inventory([node("h0", gpu=8), node("h1", gpu=8)])
    answer = solved(posed, inv)
    assert answer.fits
    assert violations(posed, inv, answer.assignments) == []
    # four 4-GPU hosts hold the 16 GPUs, but no host holds an instance's 8
    small = inventory([node(f"h{i}", gpu=4) for i in range(4)])
    assert solved(problem(pods.namespace, pods.name, pods.pods, (), own), small).fits
    assert not solved(posed, small).fits


INSTANCE_PACK_V1ALPHA2 = """\
apiVersion: workloads.x-k8s.io/v1alpha2
kind: RoleBasedGroup
metadata: {name: demo, namespace: default}
spec:
  roles:
    - name: worker
      replicas: 2
      instanceTopologyConstraint:
        pack: {required: host}
      leaderWorkerPattern:
        size: 2
        template:
          spec:
            containers:
              - {name: main, image: x, resources: {limits: {nvidia.com/gpu: 4}}}
"""


def test_an_instance_pack_no_object_enforces_is_not_counted_on() -> None:
    # issue 17.5: for Kubernetes 1.30 a native LWS's workers cannot find their leader by
    # matchLabelKeys, so the build records the rule as not lowered (it warns RBG317); the
    # cluster will not keep each instance on one host, so `fit` neither refuses the group for
    # it nor promises it, and says so (RBG354)
    result = compile_documents(
        parse_text(INSTANCE_PACK_V1ALPHA2, "test.yaml"),
        Options(target=Target(kubernetes_version=(1, 30))),
    )
    (facts,) = result.bundle.groups
    (rule,) = facts.placement
    assert (rule.scope, rule.lowered) == ("instance", False)
    small = inventory([node(f"h{i}", gpu=4) for i in range(4)])  # no host holds an instance
    (answer,), warnings = fit(result.bundle, small)
    assert answer.fits
    assert [(w.code, w.message) for w in warnings] == [
        (
            "RBG354",
            "the instanceTopologyConstraint of role worker is not in the compiled objects: the "
            "cluster will not keep it, so `rbgc fit` does not count on it",
        )
    ]
    # from 1.31 the build compiles it (workers to their leader): fit counts on it
    compiled = compile_yaml(INSTANCE_PACK_V1ALPHA2)
    assert compiled.bundle.groups[0].placement[0].lowered
    (answer,), _ = fit(compiled.bundle, small)
    assert not answer.fits


def test_rbgc_fit_does_not_repeat_the_build_warnings_it_answers(tmp_path: Path) -> None:
    # RBG315's hint is to run `rbgc fit`, RBG317's that fit checks the rule: under `rbgc fit`
    # the answer (and RBG354) say it instead
    spec = tmp_path / "specs"
    spec.mkdir()
    (spec / "instances.yaml").write_text(INSTANCE_PACK_V1ALPHA2, encoding="utf-8")
    (spec / "pd.yaml").write_text(PD, encoding="utf-8")
    inv = tmp_path / "nodes.json"
    inv.write_text(as_list(gpu_nodes({"c1": ("a", 4, 8)})), encoding="utf-8")
    old = ("--kubernetes-version", "1.30")  # the instance pack is not compiled (RBG317)
    built = subprocess.run(
        [sys.executable, "-m", "rbgc", "build", *old, str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "RBG315" in built.stderr and "RBG317" in built.stderr
    done = subprocess.run(
        [sys.executable, "-m", "rbgc", "fit", *old, "--nodes", str(inv), str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "RBG315" not in done.stderr and "RBG317" not in done.stderr
    assert "RBG354" in done.stderr
    assert "run `rbgc fit`" not in done.stderr
