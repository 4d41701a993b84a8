"""Packs lowered for Volcano (`--scheduler volcano`), issue 17 items 1, 2 and 7: what Volcano's
own code does with the PodGroup rbgc writes, cited per test (volcano-sh/volcano at HEAD,
volcano-sh/apis scheduling/v1beta1)."""

from __future__ import annotations

from typing import Any

import pytest

from rbgc.jsonpath import find
from rbgc.k8s import conventions as cv
from rbgc.model import Scheduler, Target
from rbgc.pipeline import Options, Result, compile_documents
from rbgc.source import parse_text

V2_GROUP = """\
apiVersion: workloads.x-k8s.io/v1alpha2
kind: RoleBasedGroup
metadata: {name: pd, namespace: llm}
spec:
  roles:
  - name: prefill
    replicas: 2
    standalonePattern:
      template: {spec: {schedulerName: volcano, containers: [{name: main, image: x:1}]}}
  - name: decode
    replicas: 2
    leaderWorkerPattern:
      size: 4
      template: {spec: {schedulerName: volcano, containers: [{name: main, image: x:1}]}}
  - name: router
    replicas: 1
    standalonePattern:
      template: {spec: {schedulerName: volcano, containers: [{name: main, image: x:1}]}}
"""


def policy(roles: str, constraint: str) -> str:
    return (
        "---\napiVersion: workloads.x-k8s.io/v1alpha2\nkind: CoordinatedPolicy\n"
        "metadata: {name: pd, namespace: llm}\nspec:\n  policies:\n  - name: r\n"
        f"    roles: {roles}\n    strategy:\n      scheduling:\n"
        f"        topologyConstraint: {constraint}\n"
    )


def placement(rules: str, topology: str | None = None) -> str:
    body = "\n".join("  " + line for line in rules.strip().splitlines())
    head = f"  topology: {topology}\n" if topology else ""
    return (
        "---\napiVersion: rbgc.io/v1alpha1\nkind: Placement\n"
        f"metadata: {{name: pd, namespace: llm}}\nspec:\n{head}  rules:\n{body}\n"
    )


TOPOLOGY = """\
---
apiVersion: rbgc.io/v1alpha1
kind: Topology
metadata: {name: hypernodes}
spec:
  tiers:
  - {name: host, nodeLabel: kubernetes.io/hostname, volcanoTier: 1}
  - {name: nvlink, nodeLabel: nvidia.com/gpu.clique, volcanoTier: nvl72}
  - {name: zone, nodeLabel: topology.kubernetes.io/zone}
"""


def build(text: str, scheduler: Scheduler = Scheduler.VOLCANO) -> Result:
    target = Target(scheduler=scheduler)
    return compile_documents(parse_text(text, "pd.yaml"), Options(target=target))


def pod_group(result: Result) -> dict[str, Any]:
    (m,) = [m for m in result.bundle.manifests if m.kind == "PodGroup"]
    spec: dict[str, Any] = m.body["spec"]
    return spec


def codes(result: Result) -> list[str]:
    return [w.code for w in result.warnings]


def selector(*roles: str) -> dict[str, Any]:
    return cv.V08.roles_selector(cv.group_unique_key("llm", "pd"), roles)


# --- item 1: a subgroup forms only from matchLabelKeys -----------------------------------------
# volcano pkg/scheduler/api/job_info.go getOrCreateSubJob: a pod joins a policy's subgroup only
# when getSubJobMatchValues (sub_job_info.go) returns values, i.e. the pod matches the
# labelSelector AND carries every matchLabelKeys label; with no keys it returns an empty slice
# and the pod joins the default subgroup, which carries only the job-level networkTopology.


def test_a_pack_over_some_roles_is_one_subgroup_keyed_on_the_group_label() -> None:
    result = build(V2_GROUP + policy("[prefill, decode]", "{pack: {required: zone}}"))
    (entry,) = pod_group(result)["subGroupPolicy"]
    assert entry["labelSelector"] == selector("prefill", "decode")  # only the rule's roles
    # every pod of the group carries the group-uid label with the same value: one subgroup
    assert entry["matchLabelKeys"] == [cv.V08.label_group_key]
    # ...and every pod of the rule's roles carries it (the identity labels, expand.py)
    for m in result.bundle.manifests:
        if m.role in ("prefill", "decode") and m.pod_templates:
            for path in m.pod_templates:
                labels = find(m.body, (*path, "metadata", "labels"))
                assert cv.V08.label_group_key in labels
    assert "networkTopology" not in pod_group(result)


def test_an_instance_pack_is_one_subgroup_per_instance() -> None:
    text = V2_GROUP.replace(
        "  - name: decode\n    replicas: 2\n",
        "  - name: decode\n    replicas: 2\n    instanceTopologyConstraint: "
        "{pack: {required: nvl72}}\n",
    )
    (entry,) = pod_group(build(text))["subGroupPolicy"]
    # the LWS controller labels a group's leader and workers with its group index
    assert entry["matchLabelKeys"] == [cv.LWS_GROUP_INDEX_LABEL]
    assert entry["labelSelector"] == selector("decode")
    assert entry["networkTopology"] == {"mode": "hard", "highestTierName": "nvl72"}


def test_a_pack_over_every_role_is_the_job_level_topology() -> None:
    result = build(V2_GROUP + policy("[prefill, decode, router]", "{pack: {required: zone}}"))
    spec = pod_group(result)
    assert spec["networkTopology"] == {"mode": "hard", "highestTierName": "zone"}
    assert "subGroupPolicy" not in spec


# --- item 2: Volcano's tier names ------------------------------------------------------------
# session.go adjustNetworkTopologySpec / translateHighestTierNameToAllowed: a highestTierName
# no HyperNode has is logged ("Failed to translate highestTierName ... skip translation") and
# the hard bound is lost; validate_podgroup.go refuses highestTierAllowed beside
# highestTierName; convertSoftToHardTopology gives a soft constraint the cluster's top tier.


@pytest.mark.parametrize(
    ("level", "bound", "warned"),
    [
        ("host", {"highestTierAllowed": 1}, False),  # volcanoTier: a tier number
        ("nvlink", {"highestTierName": "nvl72"}, False),  # volcanoTier: a tierName
        ("zone", {"highestTierName": "zone"}, True),  # rbgc's own name: unverified
    ],
)
def test_a_topology_tier_names_its_hypernode_tier(
    level: str, bound: dict[str, Any], warned: bool
) -> None:
    rules = f"- roles: [prefill, decode]\n  pack: {{required: {level}}}"
    result = build(V2_GROUP + TOPOLOGY + placement(rules, "hypernodes"))
    (entry,) = pod_group(result)["subGroupPolicy"]
    assert entry["networkTopology"] == {"mode": "hard", **bound}
    assert not {"highestTierAllowed", "highestTierName"} <= set(entry["networkTopology"])
    assert ("RBG319" in codes(result)) is warned


def test_soft_mode_names_no_tier() -> None:
    rules = "- roles: [prefill, decode]\n  pack: {preferred: nvlink}"
    (entry,) = pod_group(build(V2_GROUP + TOPOLOGY + placement(rules, "hypernodes")))[
        "subGroupPolicy"
    ]
    assert entry["networkTopology"] == {"mode": "soft"}


def test_kep473_levels_pass_through_verbatim() -> None:
    # KEP-473: levels are the scheduler's own words; upstream hands them to Volcano as they are
    result = build(V2_GROUP + policy("[prefill, decode]", "{pack: {required: spine}}"))
    (entry,) = pod_group(result)["subGroupPolicy"]
    assert entry["networkTopology"] == {"mode": "hard", "highestTierName": "spine"}
    assert "RBG319" not in codes(result)
    facts = result.bundle.group("llm", "pd")
    assert facts is not None and facts.placement[0].enforced_by == "volcano"


def test_a_verbatim_word_needs_volcano() -> None:
    from rbgc.diagnostics import DiagnosticError

    text = V2_GROUP + policy("[prefill, decode]", "{pack: {required: spine}}")
    with pytest.raises(DiagnosticError) as exc:
        build(text, Scheduler.DEFAULT)
    (found,) = [d for d in exc.value.diagnostics if d.severity == "error"]
    assert found.code == "RBG312" and "HyperNode tier name" in (found.help or "")
