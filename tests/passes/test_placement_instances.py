"""`instanceTopologyConstraint` compiled (issue 17 item 5), by lowering and scheduler.

The Kubernetes rules each lowering rests on:
- required pod affinity passes a node only where one existing pod matches every required term
  (pkg/scheduler/framework/plugins/interpodaffinity/filtering.go `satisfyPodAffinity`,
  `updateWithAffinityTerms`); the first pod of a series passes when no pod matches and it
  matches its own terms;
- `matchLabelKeys` in a pod (anti-)affinity term is merged into its selector with the incoming
  pod's label values by the API server (KEP-3633 MatchLabelKeysInPodAffinity, on by default
  from 1.31);
- the LWS controller labels every pod of a group `leaderworkerset.sigs.k8s.io/group-index` and
  `worker-index` (leader: "0"); the StatefulSet controller labels each pod
  `statefulset.kubernetes.io/pod-name`.
"""

from __future__ import annotations

from typing import Any

from rbgc.jsonpath import find as at
from rbgc.k8s import conventions as cv
from rbgc.model import LwsLowering, Scheduler, Target
from rbgc.pipeline import Options, Result, compile_documents
from rbgc.source import parse_text

REQ = "requiredDuringSchedulingIgnoredDuringExecution"
PREF = "preferredDuringSchedulingIgnoredDuringExecution"
CLIQUE, HOST = "nvidia.com/gpu.clique", "kubernetes.io/hostname"


def group(pattern: str, *, annotations: str = "", pack: str = "{required: nvlink}") -> str:
    return f"""\
apiVersion: workloads.x-k8s.io/v1alpha2
kind: RoleBasedGroup
metadata:
  name: pd
  namespace: llm
{annotations}spec:
  roles:
  - name: prefill
    replicas: 2
    instanceTopologyConstraint: {{pack: {pack}}}
{pattern}"""


LWS = """\
    leaderWorkerPattern:
      size: 3
      template: {spec: {containers: [{name: main, image: x:1}]}}
"""
COMPONENTS = """\
    customComponentsPattern:
      components:
      - name: shard
        size: 2
        template: {spec: {containers: [{name: main, image: x:1}]}}
      - name: router
        size: 1
        template: {spec: {containers: [{name: main, image: x:1}]}}
"""


def build(
    text: str,
    *,
    lws: LwsLowering = LwsLowering.NATIVE,
    version: tuple[int, int] = (1, 33),
    scheduler: Scheduler = Scheduler.DEFAULT,
) -> Result:
    target = Target(lws=lws, kubernetes_version=version, scheduler=scheduler)
    return compile_documents(parse_text(text, "pd.yaml"), Options(target=target))


def affinity_of(result: Result) -> dict[str, dict[str, Any]]:
    """Each pod template of prefill by `{kind}/{name}:{template}`, its podAffinity."""
    out = {}
    for m in result.bundle.manifests:
        if m.role != "prefill":
            continue
        for path in m.pod_templates:
            spec = at(m.body, (*path, "spec"))
            where = f"{m.kind}/{m.name}:{path[-1]}"
            out[where] = (spec.get("affinity") or {}).get("podAffinity") or {}
    return out


def facts(result: Result) -> tuple[bool, str, tuple[str, ...]]:
    found = result.bundle.group("llm", "pd")
    assert found is not None
    (rule,) = found.placement
    return rule.lowered, rule.enforced_by, rule.match_label_keys


def expressions(term: dict[str, Any]) -> dict[str, list[str]]:
    return {e["key"]: e["values"] for e in term["labelSelector"]["matchExpressions"]}


def test_native_lws_workers_follow_their_leader() -> None:
    result = build(group(LWS, pack="{required: nvlink, preferred: host}"))
    found = affinity_of(result)
    leader = found["LeaderWorkerSet/pd-prefill:leaderTemplate"]
    (term,) = found["LeaderWorkerSet/pd-prefill:workerTemplate"][REQ]
    assert leader == {}  # the leader carries only the group's terms: the workers' anchor
    assert term["topologyKey"] == CLIQUE
    assert expressions(term)[cv.LWS_WORKER_INDEX_LABEL] == ["0"]  # the leader
    assert term["matchLabelKeys"] == [cv.LWS_GROUP_INDEX_LABEL]  # of my own group
    (preferred,) = found["LeaderWorkerSet/pd-prefill:workerTemplate"][PREF]
    assert preferred["podAffinityTerm"]["topologyKey"] == HOST
    assert facts(result) == (True, "kube-scheduler", (cv.LWS_GROUP_INDEX_LABEL,))
    assert "RBG317" not in {w.code for w in result.warnings}


def test_native_lws_before_1_31_cannot_and_says_so() -> None:
    result = build(group(LWS), version=(1, 30))
    assert all(a == {} for a in affinity_of(result).values())
    assert "RBG317" in {w.code for w in result.warnings}
    assert facts(result)[0] is False


def test_lws_statefulsets_workers_select_their_leader_by_name() -> None:
    result = build(group(LWS), lws=LwsLowering.STATEFULSETS, version=(1, 27))
    found = affinity_of(result)
    assert found["StatefulSet/pd-prefill:template"] == {}  # the leaders
    for i in (0, 1):
        (term,) = found[f"StatefulSet/pd-prefill-{i}:template"][REQ]
        assert expressions(term)["statefulset.kubernetes.io/pod-name"] == [f"pd-prefill-{i}"]
        assert "matchLabelKeys" not in term  # literal: any Kubernetes version
    assert facts(result)[0] is True


def test_components_select_their_instance_literally() -> None:
    result = build(group(COMPONENTS), version=(1, 27))
    found = affinity_of(result)
    assert len(found) == 4  # 2 instances x 2 components
    for where, affinity in found.items():
        (term,) = affinity[REQ]
        instance = where.split("/")[1].split("-")[2]  # pd-prefill-{i}-{component}
        assert expressions(term)[cv.INSTANCE_INDEX_LABEL] == [instance]


def test_components_beside_another_required_affinity_cannot() -> None:
    # exclusive topology gives every pod a required term on the group: the first pod of a new
    # instance matches no pod of its instance, so its own terms alone would place it
    annotations = (
        "  annotations:\n    rbg.workloads.x-k8s.io/group-exclusive-topology: "
        "topology.kubernetes.io/zone\n"
    )
    result = build(group(COMPONENTS, annotations=annotations))
    assert "RBG321" in {w.code for w in result.warnings}
    for affinity in affinity_of(result).values():
        assert all(cv.INSTANCE_INDEX_LABEL not in str(t) for t in affinity.get(REQ, []))
    assert facts(result)[0] is False


def test_volcano_packs_instances_in_subgroups() -> None:
    result = build(group(COMPONENTS), scheduler=Scheduler.VOLCANO)
    (pg,) = [m for m in result.bundle.manifests if m.kind == "PodGroup"]
    (entry,) = pg.body["spec"]["subGroupPolicy"]
    assert entry["matchLabelKeys"] == [cv.INSTANCE_INDEX_LABEL]
    assert all(a == {} for a in affinity_of(result).values())  # no pod affinity as well
    assert facts(result)[:2] == (True, "volcano")


def test_volcano_without_a_shared_instance_label_uses_pod_affinity() -> None:
    # --lws statefulsets: leaders carry no group-index label, so no subgroup key exists;
    # Volcano's predicates run the same inter-pod affinity filter as kube-scheduler
    result = build(group(LWS), lws=LwsLowering.STATEFULSETS, scheduler=Scheduler.VOLCANO)
    assert not [m for m in result.bundle.manifests if m.kind == "PodGroup"]
    (term,) = affinity_of(result)["StatefulSet/pd-prefill-0:template"][REQ]
    assert expressions(term)["statefulset.kubernetes.io/pod-name"] == ["pd-prefill-0"]
    assert facts(result)[:2] == (True, "kube-scheduler")  # the inter-pod filter, pod by pod


def test_an_instance_pack_broader_than_the_group_pack_is_refused() -> None:
    from rbgc.diagnostics import DiagnosticError

    text = group(LWS, pack="{required: zone}") + (
        "---\napiVersion: rbgc.io/v1alpha1\nkind: Placement\n"
        "metadata: {name: pd, namespace: llm}\nspec:\n  rules:\n"
        "  - roles: [prefill]\n    pack: {required: nvlink}\n"
    )
    try:
        build(text)
    except DiagnosticError as exc:
        (found,) = [d for d in exc.diagnostics if d.severity == "error"]
        assert found.code == "RBG314" and "InvalidLevelOrder" in found.message
        assert found.span is not None and found.span.line == 10
    else:
        raise AssertionError("an instance pack broader than its group pack compiled")
