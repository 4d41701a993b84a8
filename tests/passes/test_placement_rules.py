"""Placement documents (Topology, Placement) and their lowering for the default scheduler."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
import yaml

from rbgc.diagnostics import DiagnosticError
from rbgc.k8s import conventions as cv
from rbgc.model import Scheduler, Target
from rbgc.passes.placement_rules import merge, weights
from rbgc.pipeline import Options, Result, compile_documents, compile_paths
from rbgc.source import parse_text
from tests.conftest import EXAMPLES, ROOT, compile_yaml

GROUP = """\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata: {name: pd, namespace: llm}
spec:
  roles:
  - name: prefill
    replicas: 2
    template:
      metadata: {labels: {app: pd}}
      spec: {containers: [{name: main, image: x:1}]}
  - name: decode
    replicas: 2
    template:
      metadata: {labels: {app: pd}}
      spec:
        containers: [{name: main, image: x:1}]
        affinity:  # the user's own term, which prefill and decode pods both match
          podAffinity:
            requiredDuringSchedulingIgnoredDuringExecution:
            - labelSelector: {matchLabels: {app: pd}}
              topologyKey: kubernetes.io/hostname
  - name: router
    replicas: 2
    template: {spec: {containers: [{name: main, image: x:1}]}}
"""

NVLINK, HOST, RACK, ZONE = (
    "nvidia.com/gpu.clique",
    "kubernetes.io/hostname",
    "example.com/rack",
    "topology.kubernetes.io/zone",
)
# the default topology's rack: the switch a node connects to, as NVIDIA Topograph labels it
BLOCK = "network.topology.nvidia.com/block"
REQ = "requiredDuringSchedulingIgnoredDuringExecution"
PREF = "preferredDuringSchedulingIgnoredDuringExecution"

TOPOLOGY = """\
---
apiVersion: rbgc.io/v1alpha1
kind: Topology
metadata: {name: gpu-cluster}
spec:
  tiers:
  - {name: nvlink, nodeLabel: nvidia.com/gpu.clique}
  - {name: host,   nodeLabel: kubernetes.io/hostname}
  - {name: rack,   nodeLabel: example.com/rack}
  - {name: zone,   nodeLabel: topology.kubernetes.io/zone}
"""


def placement(rules: str, *, topology: str | None = None, name: str = "pd") -> str:
    head = f"  topology: {topology}\n" if topology else ""
    body = "\n".join("  " + line for line in rules.strip().splitlines())
    return (
        "---\napiVersion: rbgc.io/v1alpha1\nkind: Placement\n"
        f"metadata: {{name: {name}, namespace: llm}}\nspec:\n{head}  rules:\n{body}\n"
    )


def two(roles_a: str, rule_a: str, roles_b: str, rule_b: str) -> str:
    return f"- roles: [{roles_a}]\n  {rule_a}\n- roles: [{roles_b}]\n  {rule_b}"


def build(*parts: str) -> Result:
    return compile_yaml(GROUP + "".join(parts))


def pod_spec(result: Result, role: str) -> dict[str, Any]:
    (m,) = [m for m in result.bundle.manifests if m.role == role and m.kind == "StatefulSet"]
    spec: dict[str, Any] = m.body["spec"]["template"]["spec"]
    return spec


def selector(*roles: str) -> dict[str, Any]:
    return {
        "matchExpressions": [
            {
                "key": cv.LABEL_GROUP_KEY,
                "operator": "In",
                "values": [cv.group_unique_key("llm", "pd")],
            },
            {"key": cv.LABEL_ROLE, "operator": "In", "values": sorted(roles)},
        ]
    }


def codes(exc: pytest.ExceptionInfo[DiagnosticError]) -> list[str]:
    return [d.code for d in exc.value.diagnostics if d.severity == "error"]


# --- lowering tables -------------------------------------------------------------------------

PACK_TABLE = [
    # (pack, topology?, required key, preferred keys with weights)
    ("{required: zone}", None, ZONE, []),
    # the default order is host < nvlink < rack < zone: a fallback never goes tighter
    ("{required: zone, preferred: nvlink}", None, ZONE, [(NVLINK, 100), (BLOCK, 50)]),
    ("{preferred: host}", None, None, [(HOST, 100), (NVLINK, 75), (BLOCK, 50), (ZONE, 25)]),
    # a multi-node NVLink clique (GB200 NVL72) holds several hosts (issue 17 item 8)
    ("{required: nvlink, preferred: host}", None, NVLINK, [(HOST, 100)]),
    ("{required: host, preferred: host}", None, HOST, []),
    (
        "{required: zone, preferred: nvlink}",
        "gpu-cluster",
        ZONE,
        [(NVLINK, 100), (HOST, 66), (RACK, 33)],
    ),
    ("{required: example.com/pod-slice}", None, "example.com/pod-slice", []),
    ("{preferred: example.com/pod-slice}", None, None, [("example.com/pod-slice", 100)]),
]


@pytest.mark.parametrize(("pack", "topo", "required", "preferred"), PACK_TABLE)
def test_pack_lowers_to_pod_affinity(
    pack: str, topo: str | None, required: str | None, preferred: list[tuple[str, int]]
) -> None:
    parts = [TOPOLOGY] if topo else []
    result = build(*parts, placement(f"- roles: [prefill, decode]\n  pack: {pack}", topology=topo))
    for role in ("prefill", "decode"):
        affinity = pod_spec(result, role)["affinity"]["podAffinity"]
        ours = [
            t for t in affinity.get(REQ, []) if t["labelSelector"] == selector("prefill", "decode")
        ]
        assert ours == (
            [{"labelSelector": selector("prefill", "decode"), "topologyKey": required}]
            if required
            else []
        )
        got = [(t["podAffinityTerm"]["topologyKey"], t["weight"]) for t in affinity.get(PREF, [])]
        assert got == preferred
        for t in affinity.get(PREF, []):
            assert t["podAffinityTerm"]["labelSelector"] == selector("prefill", "decode")
    assert "affinity" not in pod_spec(result, "router")


def test_user_terms_stay_first() -> None:
    result = build(placement("- roles: [prefill, decode]\n  pack: {required: zone}"))
    terms = pod_spec(result, "decode")["affinity"]["podAffinity"][REQ]
    assert terms[0] == {"labelSelector": {"matchLabels": {"app": "pd"}}, "topologyKey": HOST}
    assert terms[1]["topologyKey"] == ZONE


@pytest.mark.parametrize(
    ("spread", "when", "skew"),
    [
        ("{level: zone, maxSkew: 1, required: true}", "DoNotSchedule", 1),
        ("{level: zone, maxSkew: 2}", "ScheduleAnyway", 2),
        ("{level: host, required: false}", "ScheduleAnyway", 1),
    ],
)
def test_spread_lowers_to_topology_spread(spread: str, when: str, skew: int) -> None:
    result = build(placement(f"- roles: [router]\n  spread: {spread}"))
    (constraint,) = pod_spec(result, "router")["topologySpreadConstraints"]
    assert constraint["whenUnsatisfiable"] == when
    assert constraint["maxSkew"] == skew
    assert constraint["labelSelector"] == selector("router")
    assert "topologySpreadConstraints" not in pod_spec(result, "prefill")


def test_separate_lowers_to_anti_affinity() -> None:
    result = build(
        placement(
            "- roles: [router]\n  separate: {level: host}\n"
            "- roles: [prefill]\n  separate: {level: zone, required: false}"
        )
    )
    anti = pod_spec(result, "router")["affinity"]["podAntiAffinity"]
    assert anti == {REQ: [{"labelSelector": selector("router"), "topologyKey": HOST}]}
    anti = pod_spec(result, "prefill")["affinity"]["podAntiAffinity"]
    assert anti == {
        PREF: [
            {
                "podAffinityTerm": {"labelSelector": selector("prefill"), "topologyKey": ZONE},
                "weight": 100,
            }
        ]
    }


@pytest.mark.parametrize("count", range(1, 12))
def test_preferred_weights_strictly_decrease(count: int) -> None:
    found = weights(count)
    assert len(found) == count and found[0] == 100
    assert all(a > b >= 1 for a, b in itertools.pairwise(found))


def test_merge_is_idempotent() -> None:
    result = build(
        placement(
            "- roles: [router]\n  spread: {level: zone, required: true}\n"
            "- roles: [router]\n  separate: {level: host}"
        )
    )
    spec = pod_spec(result, "router")
    fragment = {k: spec[k] for k in ("affinity", "topologySpreadConstraints")}
    assert merge(spec, fragment) == spec


def test_merged_with_exclusive_topology() -> None:
    text = GROUP.replace(
        "metadata: {name: pd, namespace: llm}",
        "metadata:\n  name: pd\n  namespace: llm\n  annotations:\n"
        "    rolebasedgroup.workloads.x-k8s.io/exclusive-topology: kubernetes.io/hostname",
    )
    result = compile_yaml(text + placement("- roles: [prefill, decode]\n  pack: {required: zone}"))
    terms = pod_spec(result, "prefill")["affinity"]["podAffinity"][REQ]
    assert [t["topologyKey"] for t in terms] == [HOST, ZONE]  # exclusive first, then the pack


def test_one_not_atomic_warning_per_group() -> None:
    result = build(
        placement(
            "- roles: [prefill, decode]\n  pack: {required: zone}\n"
            "- roles: [router]\n  pack: {preferred: host}"
        )
    )
    assert [w.code for w in result.warnings] == ["RBG315"]


def test_spread_alone_warns_nothing() -> None:
    result = build(placement("- roles: [router]\n  spread: {level: zone}"))
    assert result.warnings == ()


def test_explain_names_rule_level_and_terms() -> None:
    result = build(
        placement("- roles: [prefill, decode]\n  pack: {required: zone, preferred: nvlink}")
    )
    lines = [line for stage, _, line in result.trace.entries if stage == "placement"]
    assert (
        "role prefill: pack [prefill, decode]: required zone (topology.kubernetes.io/zone) -> "
        "podAffinity required term; preferred nvlink (nvidia.com/gpu.clique) -> podAffinity "
        "preferred term, weight 100; preferred rack (network.topology.nvidia.com/block) -> "
        "podAffinity preferred term, weight 50"
    ) in lines
    assert "role router: no placement constraints" in lines


def test_facts_record_rules_as_node_label_keys() -> None:
    result = build(
        TOPOLOGY,
        placement(
            "- roles: [prefill, decode]\n  pack: {required: zone, preferred: nvlink}\n"
            "- roles: [router]\n  spread: {level: zone, maxSkew: 2}",
            topology="gpu-cluster",
        ),
    )
    facts = result.bundle.group("llm", "pd")
    assert facts is not None
    pack, spread = facts.placement
    assert (pack.kind, pack.roles, pack.required, pack.preferred) == (
        "pack",
        ("prefill", "decode"),
        ZONE,
        (NVLINK, HOST, RACK),
    )
    assert dict(pack.tiers)["rack"] == RACK
    assert (spread.kind, spread.required, spread.preferred, spread.max_skew) == (
        "spread",
        None,
        (ZONE,),
        2,
    )


def test_placement_documents_are_never_emitted() -> None:
    result = build(TOPOLOGY, placement("- roles: [router]\n  spread: {level: zone}"))
    assert not [m for m in result.bundle.manifests if m.api_version.startswith("rbgc.io/")]


def test_placement_binds_to_every_member_of_a_set() -> None:
    text = """\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroupSet
metadata: {name: pd, namespace: llm}
spec:
  replicas: 2
  template:
    roles:
    - name: router
      replicas: 2
      template: {spec: {containers: [{name: main, image: x:1}]}}
"""
    result = compile_yaml(text + placement("- roles: [router]\n  separate: {level: host}"))
    assert len(result.bundle.groups) == 2
    assert all(g.placement for g in result.bundle.groups)


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parts", "code", "needle"),
    [
        ((placement("- roles: [router]\n  pack: {}"),), "RBG310", "neither"),
        (
            (placement("- roles: [router]\n  pack: {required: zone}\n  spread: {level: zone}"),),
            "RBG310",
            "2 of pack, spread, separate",
        ),
        (
            (placement("- roles: [router]\n  pack: {required: zone, preferred: example.com/x}"),),
            "RBG310",
            "no place in the tier order",
        ),
        (
            (placement("- roles: [router]\n  pack: {required: zone}", name="nope"),),
            "RBG311",
            "binds to no",
        ),
        ((placement("- roles: [routr]\n  pack: {required: zone}"),), "RBG312", "unknown role"),
        ((placement("- roles: [router]\n  pack: {required: row}"),), "RBG312", "unknown tier"),
        (
            (placement("- roles: [router]\n  pack: {required: zone}", topology="nope"),),
            "RBG312",
            "unknown Topology",
        ),
        (
            (
                TOPOLOGY,
                TOPOLOGY.replace("gpu-cluster", "other"),
                placement("- roles: [router]\n  pack: {required: zone}"),
            ),
            "RBG312",
            "names none",
        ),
        (
            (
                TOPOLOGY.replace("{name: rack, ", "{name: host, "),
                placement("- roles: [router]\n  pack: {required: zone}"),
            ),
            "RBG313",
            "name 'host'",
        ),
        (
            (placement("- roles: [router]\n  pack: {required: host, preferred: zone}"),),
            "RBG314",
            "broader than its required",
        ),
    ],
)
def test_errors(parts: tuple[str, ...], code: str, needle: str) -> None:
    with pytest.raises(DiagnosticError) as exc:
        build(*parts)
    assert codes(exc) == [code]
    assert needle in exc.value.diagnostics[0].message


CONFLICTS = [
    # required pack narrower than (or as narrow as) a required spread of the same roles
    (
        two("router", "pack: {required: host}", "router", "spread: {level: zone, required: true}"),
        "spread over",
    ),
    (
        two("router", "pack: {required: zone}", "router", "spread: {level: zone, required: true}"),
        "spread over",
    ),
    # packed and separated at the same or a broader level
    (
        two("router, prefill", "pack: {required: host}", "router", "separate: {level: host}"),
        "separated at",
    ),
    (
        two("router", "pack: {required: host}", "router", "separate: {level: zone}"),
        "separated at",
    ),
    # a role in two pack rules
    (
        two("router", "pack: {required: host}", "prefill, router", "pack: {required: zone}"),
        "two rules",
    ),
]


@pytest.mark.parametrize(("rules", "needle"), CONFLICTS)
def test_conflicts_are_errors_with_both_locations(rules: str, needle: str) -> None:
    with pytest.raises(DiagnosticError) as exc:
        build(placement(rules))
    (found,) = exc.value.diagnostics
    assert found.code == "RBG314" and needle in found.message
    assert found.span is not None and found.notes
    assert found.notes[0][0] is not None and found.notes[0][0].line != found.span.line


REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (
            two("router", "pack: {required: zone}", "router", "separate: {level: host}"),
            {"router": (["podAffinity", "podAntiAffinity"], [])},
        ),
        (
            two(
                "router",
                "pack: {required: zone}",
                "router",
                "spread: {level: host, required: true}",
            ),
            {"router": (["podAffinity"], [("kubernetes.io/hostname", "DoNotSchedule")])},
        ),
        (
            two("router", "pack: {required: host}", "router", "spread: {level: zone}"),
            {"router": (["podAffinity"], [("topology.kubernetes.io/zone", "ScheduleAnyway")])},
        ),
        (
            two("prefill", "pack: {required: host}", "router", "separate: {level: host}"),
            {"prefill": (["podAffinity"], []), "router": (["podAntiAffinity"], [])},
        ),
    ],
)
def test_compatible_rules_build(
    rules: str, expected: dict[str, tuple[list[str], list[tuple[str, str]]]]
) -> None:
    """Both rules of each pair land on the pods they name, required terms as required; the
    other roles' pods are as without the Placement."""
    result, without = build(placement(rules)), build()
    for role in ("prefill", "decode", "router"):
        spec = pod_spec(result, role)
        if role not in expected:
            assert spec == pod_spec(without, role), role
            continue
        affinity, spreads = expected[role]
        assert sorted(spec.get("affinity", {})) == affinity, role
        for kind in affinity:
            assert list(spec["affinity"][kind]) == [REQUIRED], (role, kind)
        constraints = spec.get("topologySpreadConstraints", [])
        assert [(t["topologyKey"], t["whenUnsatisfiable"]) for t in constraints] == spreads


def test_exclusive_topology_broader_than_required_pack() -> None:
    text = GROUP.replace(
        "metadata: {name: pd, namespace: llm}",
        "metadata:\n  name: pd\n  namespace: llm\n  annotations:\n"
        "    rolebasedgroup.workloads.x-k8s.io/exclusive-topology: topology.kubernetes.io/zone",
    )
    with pytest.raises(DiagnosticError) as exc:
        compile_yaml(text + placement("- roles: [prefill, decode]\n  pack: {required: host}"))
    (found,) = exc.value.diagnostics
    assert found.code == "RBG314" and "exclusive topology" in found.message
    assert found.notes and found.notes[0][0] is not None and found.notes[0][0].line == 7


# --- Volcano (--scheduler volcano) -----------------------------------------------------------


def build_volcano(text: str) -> Result:
    docs = parse_text(text, "test.yaml")
    target = Target(scheduler=Scheduler.VOLCANO)
    return compile_documents(docs, Options(target=target))


def pod_group(result: Result) -> dict[str, Any]:
    (m,) = [m for m in result.bundle.manifests if m.kind == "PodGroup"]
    assert m.api_version == "scheduling.volcano.sh/v1beta1"
    spec: dict[str, Any] = m.body["spec"]
    return spec


def test_volcano_pack_over_some_roles_is_a_sub_group() -> None:
    result = build_volcano(
        GROUP
        + placement(
            "- roles: [prefill, decode]\n  pack: {required: zone, preferred: nvlink}\n"
            "- roles: [router]\n  spread: {level: zone, required: true}"
        )
    )
    spec = pod_group(result)
    assert spec == {
        "minMember": 0,  # topology only: no gang
        "subGroupPolicy": [
            {
                "name": "prefill-decode",
                "labelSelector": selector("prefill", "decode"),
                # Volcano forms a subgroup only from matchLabelKeys (job_info.go
                # getOrCreateSubJob, sub_job_info.go getSubJobMatchValues: no keys, the
                # default subgroup); every pod of the group carries the group key, one value
                "matchLabelKeys": [cv.LABEL_GROUP_KEY],
                "networkTopology": {"mode": "hard", "highestTierName": "zone"},
            }
        ],
    }
    prefill = pod_spec(result, "prefill")
    assert "podAffinity" not in prefill.get("affinity", {})  # the PodGroup packs instead
    assert pod_spec(result, "router")["topologySpreadConstraints"]  # spread stays a pod field
    (sts,) = [m for m in result.bundle.manifests if m.role == "prefill" and m.kind == "StatefulSet"]
    annotations = sts.body["spec"]["template"]["metadata"]["annotations"]
    assert annotations["scheduling.k8s.io/group-name"] == "pd"
    found = {w.code for w in result.warnings}
    assert "RBG316" in found and "RBG315" not in found
    # rbgc's own tier name, which no Topology maps to a HyperNode tier: unverified
    assert "RBG319" in found
    # no gang here: the warning names the PodGroup, not a gang
    assert "role 'prefill' is in Volcano PodGroup pd but its pods do not set " in {
        w.message.split("`")[0] for w in result.warnings if w.code == "RBG301"
    }


def test_volcano_pack_over_every_role_is_the_group_topology() -> None:
    result = build_volcano(
        GROUP + placement("- roles: [prefill, decode, router]\n  pack: {preferred: nvlink}")
    )
    # soft mode takes no tier: Volcano replaces it with the cluster's top tier
    # (session.go convertSoftToHardTopology)
    assert pod_group(result)["networkTopology"] == {"mode": "soft"}
    assert [w.message for w in result.warnings if w.code == "RBG316"] == [
        "Volcano's soft mode packs as tightly as it can but does not anchor at nvlink"
    ]


def test_volcano_gang_keeps_its_min_member_and_sizes_sub_groups() -> None:
    text = GROUP.replace(
        "spec:\n  roles:",
        "spec:\n  podGroupPolicy:\n    volcanoScheduling: {queue: q}\n  roles:",
        1,
    )
    result = build_volcano(text + placement("- roles: [prefill, decode]\n  pack: {required: host}"))
    spec = pod_group(result)
    assert spec["minMember"] == 6 and spec["queue"] == "q"
    assert spec["subGroupPolicy"][0]["subGroupSize"] == 4
    assert spec["subGroupPolicy"][0]["networkTopology"] == {
        "mode": "hard",
        "highestTierName": "host",
    }
    assert not [w for w in result.warnings if w.code == "RBG316"]


def test_volcano_with_a_scheduler_plugins_gang_keeps_pod_affinity() -> None:
    text = GROUP.replace(
        "spec:\n  roles:", "spec:\n  podGroupPolicy:\n    kubeScheduling: {}\n  roles:", 1
    )
    result = build_volcano(text + placement("- roles: [prefill, decode]\n  pack: {required: host}"))
    assert pod_spec(result, "prefill")["affinity"]["podAffinity"][REQ][-1]["topologyKey"] == HOST
    assert "RBG316" in {w.code for w in result.warnings}


def test_volcano_level_that_is_no_tier_warns() -> None:
    result = build_volcano(
        GROUP + placement("- roles: [prefill, decode, router]\n  pack: {required: example.com/x}")
    )
    assert pod_group(result)["networkTopology"]["highestTierName"] == "example.com/x"
    assert any("HyperNodes have a tier of that name" in w.message for w in result.warnings)


def test_readme_shows_the_example_as_built() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Placement by hardware tier", 1)[1].split("\n## ", 1)[0]
    example = str(EXAMPLES / "pd-topology.yaml")
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    golden = (ROOT / "tests" / "golden" / "examples" / "pd-topology.yaml").read_text()
    assert blocks[1] in golden  # the prefill pods' affinity, as built
    trace = compile_paths([example], Options()).trace.render()
    (explain, _fit) = re.findall(r"```text\n(.*?)```", section, re.S)
    for line in explain.splitlines():
        assert line + "\n" in trace
    built = compile_paths([example], Options(target=Target(scheduler=Scheduler.VOLCANO)))
    (pg,) = [m for m in built.bundle.manifests if m.kind == "PodGroup"]
    # upstream's fields, as the v1alpha2 example writes them
    upstream = (EXAMPLES / "pd-topology-v1alpha2.yaml").read_text(encoding="utf-8")
    (policy,) = [d for d in yaml.safe_load_all(upstream) if d["kind"] == "CoordinatedPolicy"]
    assert yaml.safe_load(blocks[2]) == policy
    assert yaml.safe_load(blocks[3]) == {"spec": pg.body["spec"]}
