"""Upstream's KEP-473 topology fields on v1alpha2 groups -> the placement IR and its lowering.

`spec.policies[].strategy.scheduling.topologyConstraint` (a CoordinatedPolicy rule) packs the
rule's roles (scope GROUP); `spec.roles[].instanceTopologyConstraint` packs each instance of
its role (scope INSTANCE). Levels resolve like a Placement document's.
"""

from __future__ import annotations

from typing import Any

import pytest

from rbgc.diagnostics import DiagnosticError
from rbgc.model import Group
from rbgc.parse import parse
from rbgc.source import parse_text
from rbgc.topology import PlacementRule, RuleKind, Scope
from tests.conftest import compile_yaml

NVLINK, HOST, BLOCK, ZONE = (
    "nvidia.com/gpu.clique",
    "kubernetes.io/hostname",
    "network.topology.nvidia.com/block",
    "topology.kubernetes.io/zone",
)


def group(instance: str = "") -> str:
    """A v1alpha2 group of prefill, decode, router; `instance` goes on prefill."""
    roles = []
    for name in ("prefill", "decode", "router"):
        extra = (
            f"\n    instanceTopologyConstraint: {instance}"
            if instance and name == "prefill"
            else ""
        )
        roles.append(
            f"  - name: {name}\n    replicas: 2{extra}\n    standalonePattern:\n"
            "      template: {spec: {containers: [{name: main, image: x:1}]}}\n"
        )
    return (
        "apiVersion: workloads.x-k8s.io/v1alpha2\nkind: RoleBasedGroup\n"
        "metadata: {name: pd, namespace: llm}\nspec:\n  roles:\n" + "".join(roles)
    )


def policy(*rules: tuple[str, str]) -> str:
    """A CoordinatedPolicy bound to `pd`: (roles, topologyConstraint) per rule."""
    body = "".join(
        f"  - name: r{i}\n    roles: {roles}\n    strategy:\n      scheduling:\n"
        f"        topologyConstraint: {constraint}\n"
        for i, (roles, constraint) in enumerate(rules)
    )
    return (
        "---\napiVersion: workloads.x-k8s.io/v1alpha2\nkind: CoordinatedPolicy\n"
        "metadata: {name: pd, namespace: llm}\nspec:\n  policies:\n" + body
    )


TOPOLOGY = """\
---
apiVersion: rbgc.io/v1alpha1
kind: Topology
metadata: {name: racks}
spec:
  tiers:
  - {name: host, nodeLabel: kubernetes.io/hostname}
  - {name: rack, nodeLabel: example.com/rack}
"""


def parsed(text: str) -> Group:
    program = parse(parse_text(text, "t.yaml"), "default")
    (only,) = program.groups
    return only


def shape(rule: PlacementRule) -> tuple[Any, ...]:
    return (
        rule.kind,
        rule.roles,
        rule.scope,
        rule.required and rule.required.node_label,
        rule.preferred and rule.preferred.node_label,
    )


MAPPING = [
    # (inputs, topology name, rules as (kind, roles, scope, required, preferred))
    (
        group() + policy(("[prefill, decode]", "{pack: {required: zone, preferred: nvlink}}")),
        "default",
        [(RuleKind.PACK, ("prefill", "decode"), Scope.GROUP, ZONE, NVLINK)],
    ),
    (
        group() + policy(("[router]", "{pack: {preferred: host}}")),
        "default",
        [(RuleKind.PACK, ("router",), Scope.GROUP, None, HOST)],
    ),
    (
        group("{pack: {required: host}}"),
        "default",
        [(RuleKind.PACK, ("prefill",), Scope.INSTANCE, HOST, None)],
    ),
    (
        group("{pack: {required: example.com/slice}}"),
        "default",
        [(RuleKind.PACK, ("prefill",), Scope.INSTANCE, "example.com/slice", None)],
    ),
    (  # an instance pack nests inside a group pack of the same role
        group("{topologyName: racks, pack: {required: host}}")
        + policy(("[prefill, decode]", "{topologyName: racks, pack: {required: rack}}"))
        + TOPOLOGY,
        "racks",
        [
            (RuleKind.PACK, ("prefill",), Scope.INSTANCE, HOST, None),
            (RuleKind.PACK, ("prefill", "decode"), Scope.GROUP, "example.com/rack", None),
        ],
    ),
    (  # the only Topology given applies when none is named, as for a Placement
        group() + policy(("[prefill, decode]", "{pack: {required: rack}}")) + TOPOLOGY,
        "racks",
        [(RuleKind.PACK, ("prefill", "decode"), Scope.GROUP, "example.com/rack", None)],
    ),
]


@pytest.mark.parametrize(("text", "topology", "rules"), MAPPING)
def test_upstream_fields_map_to_placement_rules(
    text: str, topology: str, rules: list[tuple[Any, ...]]
) -> None:
    placement = parsed(text).placement
    assert placement is not None
    assert placement.topology.name == topology
    assert [shape(r) for r in placement.rules] == rules


def test_a_group_without_the_fields_has_no_placement() -> None:
    assert parsed(group()).placement is None


def test_a_placement_document_joins_the_upstream_rules() -> None:
    text = (
        group()
        + policy(("[prefill, decode]", "{pack: {required: zone}}"))
        + "---\napiVersion: rbgc.io/v1alpha1\nkind: Placement\n"
        "metadata: {name: pd, namespace: llm}\n"
        "spec:\n  rules:\n  - roles: [router]\n    separate: {level: host}\n"
    )
    placement = parsed(text).placement
    assert placement is not None
    assert [r.kind for r in placement.rules] == [RuleKind.PACK, RuleKind.SEPARATE]


def test_a_group_pack_lowers_like_a_placement_pack() -> None:
    result = compile_yaml(
        group() + policy(("[prefill, decode]", "{pack: {required: zone, preferred: nvlink}}"))
    )
    (prefill,) = [
        m for m in result.bundle.manifests if m.role == "prefill" and m.kind == "StatefulSet"
    ]
    affinity = prefill.body["spec"]["template"]["spec"]["affinity"]["podAffinity"]
    assert [
        t["topologyKey"] for t in affinity["requiredDuringSchedulingIgnoredDuringExecution"]
    ] == [ZONE]
    preferred = affinity["preferredDuringSchedulingIgnoredDuringExecution"]
    assert [(t["podAffinityTerm"]["topologyKey"], t["weight"]) for t in preferred] == [
        (NVLINK, 100),
        (BLOCK, 50),
    ]
    assert [w.code for w in result.warnings] == ["RBG315"]


def test_an_instance_of_one_pod_is_always_packed() -> None:
    # a standalone role's instance is one pod: nothing to compile, and nothing to warn about
    result = compile_yaml(group("{pack: {required: host}}"))
    (prefill,) = [
        m for m in result.bundle.manifests if m.role == "prefill" and m.kind == "StatefulSet"
    ]
    assert "affinity" not in prefill.body["spec"]["template"]["spec"]
    assert not {"RBG315", "RBG317"} & {w.code for w in result.warnings}
    facts = result.bundle.group("llm", "pd")
    assert facts is not None and facts.placement[0].lowered


def test_topology_name_names_the_schedulers_resource_not_an_rbgc_topology() -> None:
    # KEP-473: `topologyName` names the scheduler's topology resource (KAI's Topology); rbgc
    # needs no document of that name, and reads the levels against the group's topology
    placement = parsed(group("{topologyName: kai-gb200, pack: {required: host}}")).placement
    assert placement is not None and placement.topology.name == "default"
    # an rbgc Topology of that name describes the resource's tiers
    text = group("{topologyName: racks, pack: {required: rack}}") + TOPOLOGY + OTHER_TOPOLOGY
    named = parsed(text).placement
    assert named is not None and named.topology.name == "racks"


OTHER_TOPOLOGY = """\
---
apiVersion: rbgc.io/v1alpha1
kind: Topology
metadata: {name: zones}
spec:
  tiers:
  - {name: zone, nodeLabel: topology.kubernetes.io/zone}
"""


ERRORS = [
    # (inputs, code, needle, line)
    (group("{pack: {}}"), "RBG310", "neither `required` nor `preferred`", 8),
    (group("{pack: {required: ''}}"), "RBG101", "", 8),
    (group("{pack: {required: hots}}"), "RBG312", "unknown tier 'hots'", 8),
    (group("{pack: {required: host, preferred: zone}}"), "RBG314", "broader", 8),
    (
        group()
        + policy(
            ("[prefill, decode]", "{pack: {required: zone}}"),
            ("[decode, router]", "{pack: {required: host}}"),
        ),
        "RBG314",
        "packed by two rules",
        None,
    ),
    (  # two rbgc Topologies, and the scheduler's resource named is neither
        group("{topologyName: kai-gb200, pack: {required: host}}") + TOPOLOGY + OTHER_TOPOLOGY,
        "RBG312",
        "2 Topology documents are given and this names none",
        8,
    ),
    (  # a word that is no tier and no node label: only Volcano reads it (a HyperNode tier)
        group("{pack: {required: spine}}"),
        "RBG312",
        "unknown tier 'spine'",
        8,
    ),
]


@pytest.mark.parametrize(("text", "code", "needle", "line"), ERRORS)
def test_kep473_validation_is_reported_at_the_users_line(
    text: str, code: str, needle: str, line: int | None
) -> None:
    with pytest.raises(DiagnosticError) as exc:
        compile_yaml(text)
    found = [d for d in exc.value.diagnostics if d.code == code]
    assert found, [d.message for d in exc.value.diagnostics]
    assert needle in found[0].message
    if line is not None:
        assert found[0].span is not None and found[0].span.line == line
