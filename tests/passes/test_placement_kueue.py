"""Packs lowered for Kueue's Topology Aware Scheduling (`--scheduler kueue`, issue 17 item 9),
each against Kueue's own source and docs (kubernetes-sigs/kueue at HEAD):

- apis/kueue/v1beta2/topology_types.go: `podset-required-topology` / `-preferred-topology`
  name a node label on a PodSet's pod template; `podset-group-name` puts PodSets in one domain;
- pkg/controller/jobframework/tas_validation.go: at most one of required/preferred/
  unconstrained per PodSet; `podset-group-name` needs one of required/preferred;
- site "Run StatefulSet": a StatefulSet is one workload (a plain pod group); "Run
  LeaderWorkerSet": one workload per LWS group, with TAS on both templates and the same
  `podset-group-name`; "Run Deployment": every pod its own workload;
- pkg/controller/constants QueueLabel `kueue.x-k8s.io/queue-name`, on the workload's labels.
"""

from __future__ import annotations

from typing import Any

from rbgc.jsonpath import find as at
from rbgc.model import Scheduler, Target
from rbgc.pipeline import Options, Result, compile_documents
from rbgc.source import parse_text

REQUIRED = "kueue.x-k8s.io/podset-required-topology"
PREFERRED = "kueue.x-k8s.io/podset-preferred-topology"
GROUP_NAME = "kueue.x-k8s.io/podset-group-name"
QUEUE = "kueue.x-k8s.io/queue-name"

GROUP = """\
apiVersion: workloads.x-k8s.io/v1alpha2
kind: RoleBasedGroup
metadata:
  name: pd
  namespace: llm
  annotations: {kueue.x-k8s.io/queue-name: from-annotation}
spec:
  roles:
  - name: prefill
    replicas: 2
    instanceTopologyConstraint: {pack: {required: nvlink}}
    leaderWorkerPattern:
      size: 2
      template: {spec: {containers: [{name: main, image: x:1}]}}
  - name: decode
    replicas: 3
    standalonePattern:
      template: {spec: {containers: [{name: main, image: x:1}]}}
  - name: router
    replicas: 2
    annotations: {rbg.workloads.x-k8s.io/role-instance-pattern: Stateless}  # a Deployment
    standalonePattern:
      template: {spec: {containers: [{name: main, image: x:1}]}}
"""


def placement(rules: str) -> str:
    body = "\n".join("  " + line for line in rules.strip().splitlines())
    return (
        "---\napiVersion: rbgc.io/v1alpha1\nkind: Placement\n"
        f"metadata: {{name: pd, namespace: llm}}\nspec:\n  rules:\n{body}\n"
    )


def build(text: str, queue: str | None = None) -> Result:
    target = Target(scheduler=Scheduler.KUEUE, kueue_queue=queue)
    return compile_documents(parse_text(text, "pd.yaml"), Options(target=target))


def templates(result: Result, role: str) -> list[dict[str, Any]]:
    out = []
    for m in result.bundle.manifests:
        if m.role == role:
            out += [at(m.body, path) for path in m.pod_templates]
    return out


def template_annotations(result: Result, role: str) -> list[dict[str, str]]:
    return [t["metadata"].get("annotations") or {} for t in templates(result, role)]


def codes(result: Result) -> set[str]:
    return {w.code for w in result.warnings}


def test_a_pack_over_one_statefulset_role_is_its_podset_annotation() -> None:
    result = build(GROUP + placement("- roles: [decode]\n  pack: {required: rack}"))
    (found,) = template_annotations(result, "decode")
    assert found[REQUIRED] == "network.topology.nvidia.com/block"  # the level's node label
    assert PREFERRED not in found
    facts = result.bundle.group("llm", "pd")
    assert facts is not None
    decode = next(r for r in facts.placement if r.roles == ("decode",))
    assert (decode.lowered, decode.enforced_by) == (True, "kueue")


def test_preferred_alone_is_the_preferred_annotation_and_both_keep_required() -> None:
    preferred = build(GROUP + placement("- roles: [decode]\n  pack: {preferred: host}"))
    (found,) = template_annotations(preferred, "decode")
    assert found[PREFERRED] == "kubernetes.io/hostname" and REQUIRED not in found
    both = build(GROUP + placement("- roles: [decode]\n  pack: {required: zone, preferred: host}"))
    (found,) = template_annotations(both, "decode")
    assert REQUIRED in found and PREFERRED not in found  # never both (tas_validation.go)
    assert "RBG323" in codes(both)


def test_an_lws_instance_pack_is_a_podset_group_on_leader_and_workers() -> None:
    result = build(GROUP)
    leader, worker = template_annotations(result, "prefill")
    for found in (leader, worker):
        assert found[REQUIRED] == "nvidia.com/gpu.clique"
        assert found[GROUP_NAME] == "prefill"


def test_a_cross_role_pack_is_said_and_stays_pod_affinity() -> None:
    result = build(GROUP + placement("- roles: [decode, router]\n  pack: {required: zone}"))
    assert "RBG322" in codes(result)
    for role in ("decode", "router"):
        assert all(
            REQUIRED not in a and PREFERRED not in a for a in template_annotations(result, role)
        )
        (template,) = templates(result, role)
        required = template["spec"]["affinity"]["podAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"
        ]
        assert required[-1]["topologyKey"] == "topology.kubernetes.io/zone"
    facts = result.bundle.group("llm", "pd")
    assert facts is not None
    pack = next(r for r in facts.placement if r.roles == ("decode", "router"))
    assert (pack.lowered, pack.enforced_by) == (True, "kube-scheduler")


def test_a_deployment_pack_is_not_a_kueue_podset() -> None:
    # a Deployment's pods are admitted one by one: no annotation, RBG322
    result = build(GROUP + placement("- roles: [router]\n  pack: {required: zone}"))
    assert "RBG322" in codes(result)
    assert all(REQUIRED not in a for a in template_annotations(result, "router"))


def test_every_workload_joins_the_queue_flag_first() -> None:
    for queue, expected in ((None, "from-annotation"), ("team-a", "team-a")):
        result = build(GROUP, queue)
        workloads = [m for m in result.bundle.manifests if m.pod_templates]
        assert {m.kind for m in workloads} == {"LeaderWorkerSet", "StatefulSet", "Deployment"}
        assert all(m.body["metadata"]["labels"][QUEUE] == expected for m in workloads)
    bare = GROUP.replace("  annotations: {kueue.x-k8s.io/queue-name: from-annotation}\n", "")
    assert "RBG320" in codes(build(bare))
