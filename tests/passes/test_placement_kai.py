"""Packs lowered for KAI Scheduler (`--scheduler kai`, issue 17 item 9), each against KAI's
own source (NVIDIA/KAI-Scheduler at HEAD):

- pkg/podgrouper/podgrouper/plugins/defaultgrouper/default_grouper.go GetPodGroupMetadata: the
  PodGroup's topology constraint comes from the pod owner's annotations
  `kai.scheduler/topology`, `-required-placement`, `-preferred-placement`;
- pkg/podgrouper/podgrouper/hub/hub.go: a StatefulSet uses the default grouper (one PodGroup);
  plugins/leaderworkerset/lws_grouper.go: one PodGroup per LWS group of the group's size;
  plugins/deployment: one PodGroup per pod;
- pkg/scheduler/plugins/topology/job_filtering.go getJobTopology: no topology name, no
  constraint; getRelevantDomainsWithAllocatedPods: later pods stay in the running pods' domain.
"""

from __future__ import annotations

from rbgc.model import Scheduler, Target
from rbgc.pipeline import Options, Result, compile_documents
from rbgc.source import parse_text

TOPOLOGY, REQUIRED, PREFERRED = (
    "kai.scheduler/topology",
    "kai.scheduler/topology-required-placement",
    "kai.scheduler/topology-preferred-placement",
)

GROUP = """\
apiVersion: workloads.x-k8s.io/v1alpha2
kind: RoleBasedGroup
metadata: {name: pd, namespace: llm}
spec:
  roles:
  - name: prefill
    replicas: 2
    instanceTopologyConstraint:
      topologyName: gb200
      pack: {required: nvidia.com/gpu.clique, preferred: kubernetes.io/hostname}
    leaderWorkerPattern:
      size: 4
      template: {spec: {schedulerName: kai-scheduler, containers: [{name: main, image: x:1}]}}
  - name: decode
    replicas: 3
    standalonePattern:
      template: {spec: {schedulerName: kai-scheduler, containers: [{name: main, image: x:1}]}}
"""


def policy(roles: str, constraint: str) -> str:
    return (
        "---\napiVersion: workloads.x-k8s.io/v1alpha2\nkind: CoordinatedPolicy\n"
        "metadata: {name: pd, namespace: llm}\nspec:\n  policies:\n  - name: r\n"
        f"    roles: {roles}\n    strategy: {{scheduling: {{topologyConstraint: {constraint}}}}}\n"
    )


def build(text: str) -> Result:
    target = Target(scheduler=Scheduler.KAI)
    return compile_documents(parse_text(text, "pd.yaml"), Options(target=target))


def owner_annotations(result: Result, role: str) -> dict[str, str]:
    (m,) = [m for m in result.bundle.manifests if m.role == role and m.pod_templates]
    found: dict[str, str] = m.body["metadata"]["annotations"]
    return found


def codes(result: Result) -> set[str]:
    return {w.code for w in result.warnings}


def test_an_lws_instance_pack_annotates_the_lws_owner_of_each_group_pod_group() -> None:
    result = build(GROUP)
    found = owner_annotations(result, "prefill")
    assert (found[TOPOLOGY], found[REQUIRED], found[PREFERRED]) == (
        "gb200",  # KEP-473's topologyName names KAI's Topology resource
        "nvidia.com/gpu.clique",
        "kubernetes.io/hostname",
    )
    facts = result.bundle.group("llm", "pd")
    assert facts is not None and facts.placement[0].enforced_by == "kai"
    assert not codes(result) & {"RBG317", "RBG325", "RBG326", "RBG327"}


def test_a_pack_over_one_statefulset_role_annotates_the_statefulset() -> None:
    zone = "{topologyName: gb200, pack: {required: topology.kubernetes.io/zone}}"
    text = GROUP + policy("[decode]", zone)
    found = owner_annotations(build(text), "decode")
    assert found[REQUIRED] == "topology.kubernetes.io/zone" and PREFERRED not in found


def test_several_roles_stay_pod_affinity_and_say_so() -> None:
    text = GROUP + policy("[prefill, decode]", "{pack: {required: topology.kubernetes.io/zone}}")
    result = build(text)
    assert "RBG326" in codes(result)
    assert REQUIRED not in owner_annotations(result, "decode")


def test_no_kai_topology_name_is_said() -> None:
    text = GROUP.replace("      topologyName: gb200\n", "")
    result = build(text)
    assert owner_annotations(result, "prefill")[TOPOLOGY] == "default"
    assert "RBG327" in codes(result)
