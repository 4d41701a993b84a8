"""The gang PodGroup of a v1alpha2 group, as the operator at HEAD makes it (issue 16 items 3
and 8): upstream's Go source is the authority, cited per test."""

from __future__ import annotations

from typing import Any

import pytest

from rbgc.k8s import conventions as cv
from rbgc.model import Scheduler, Target
from rbgc.pipeline import Options, Result, compile_documents
from rbgc.source import parse_text
from tests.conftest import COMPAT_V08


def group(annotations: str = "", scheduler_name: str = "volcano", api: str = "v1alpha2") -> str:
    return f"""\
apiVersion: workloads.x-k8s.io/{api}
kind: RoleBasedGroup
metadata:
  name: pd
  namespace: llm
  annotations:
    rbg.workloads.x-k8s.io/group-gang-scheduling: "true"
{annotations}spec:
  roles:
  - name: prefill
    replicas: 2
    standalonePattern:
      template:
        spec:
          schedulerName: {scheduler_name}
          containers: [{{name: main, image: x:1}}]
  - name: decode
    replicas: 2
    leaderWorkerPattern:
      size: 3
      template:
        spec:
          schedulerName: {scheduler_name}
          containers: [{{name: main, image: x:1}}]
"""


def build(text: str, scheduler: Scheduler = Scheduler.DEFAULT) -> Result:
    target = Target(scheduler=scheduler)
    return compile_documents(parse_text(text, "pd.yaml"), Options(target=target))


def pod_group(result: Result) -> dict[str, Any]:
    (m,) = [m for m in result.bundle.manifests if m.kind == "PodGroup"]
    return m.body


def templates(result: Result) -> list[dict[str, Any]]:
    out = []
    for m in result.bundle.manifests:
        spec = m.body.get("spec") or {}
        if "template" in spec:
            out.append(spec["template"])
        lws = spec.get("leaderWorkerTemplate") or {}
        out += [lws[k] for k in ("leaderTemplate", "workerTemplate") if k in lws]
    return out


# --- 16.3: under --scheduler volcano, the operator's Volcano PodGroup ----------------------
# pkg/scheduler/volcano/manager.go: `queue` and `priorityClassName` from the group annotations
# (:105-106), `MinMember: rbg.GetGroupSize()` (:119, LWS roles count size x replicas,
# api/workloads/v1alpha2/helper.go:69), and every pod template annotated
# `scheduling.k8s.io/group-name: <group>` (:52, :95).

QUEUE = (
    "    rbg.workloads.x-k8s.io/group-gang-scheduling-volcano-queue: gpu\n"
    "    rbg.workloads.x-k8s.io/group-gang-scheduling-volcano-priority: high\n"
)


def test_volcano_flag_makes_the_operators_volcano_pod_group() -> None:
    result = build(group(QUEUE), Scheduler.VOLCANO)
    body = pod_group(result)
    assert body["apiVersion"] == cv.VOLCANO_PODGROUP_API
    assert body["spec"] == {"minMember": 2 + 2 * 3, "queue": "gpu", "priorityClassName": "high"}
    found = templates(result)
    assert len(found) == 3  # prefill; decode's leader and worker
    for template in found:
        annotations = template["metadata"]["annotations"]
        assert annotations[cv.VOLCANO_GROUP_ANNOTATION] == "pd"
        assert cv.GANG_LABEL not in template["metadata"]["labels"]
    assert "RBG305" not in {w.code for w in result.warnings}


def test_empty_queue_and_priority_are_left_to_volcanos_defaults() -> None:
    # manager.go writes "" when the annotations are absent; the PodGroup's json tags are
    # `omitempty` (volcano-sh/apis scheduling/v1beta1 types.go PodGroupSpec), so "" is absent
    body = pod_group(build(group(), Scheduler.VOLCANO))
    assert body["spec"] == {"minMember": 8}


def test_without_the_flag_a_scheduler_plugins_pod_group_and_a_warning_per_role() -> None:
    # the operator's default --scheduler-name is scheduler-plugins (k8s-scheduler-plugin/
    # manager.go): Volcano ignores that PodGroup, so pods naming Volcano are not gang-scheduled
    result = build(group(QUEUE))
    assert pod_group(result)["apiVersion"] == cv.KUBE_PODGROUP_API
    warned = [w for w in result.warnings if w.code == "RBG305"]
    assert [(w.span.line, w.span.col) for w in warned if w.span] == [(17, 26), (25, 26)]
    assert "--scheduler volcano" in (warned[0].help or "")
    # pods that do not name Volcano are gang-scheduled by scheduler-plugins: nothing to say
    quiet = build(group(QUEUE, scheduler_name="default-scheduler"))
    assert "RBG305" not in {w.code for w in quiet.warnings}


def test_upstream_volcano_example_compiles_to_a_volcano_gang_under_the_flag() -> None:
    path = COMPAT_V08 / "basic" / "rbg" / "scheduling" / "volcano-gang.yaml"
    text = path.read_text(encoding="utf-8")
    result = build(text, Scheduler.VOLCANO)
    assert pod_group(result)["spec"] == {"minMember": 6}
    assert not [w for w in result.warnings if w.code in ("RBG301", "RBG305")]
    assert {w.code for w in build(text).warnings} >= {"RBG305"}


# --- 16.8: the PodGroup inherits the group's scheduler annotations --------------------------
# pkg/scheduler/common/annotation_inheritance.go: keys with the scheduler's prefix are copied
# (strings.HasPrefix, :31); Volcano's prefix is `volcano.sh/` (volcano/manager.go:107,
# volcano-sh/apis scheduling/v1beta1 labels.go AnnotationPrefix), scheduler-plugins'
# `scheduling.x-k8s.io/` (k8s-scheduler-plugin/manager.go:53, :125).

SCHEDULER_ANNOTATIONS = (
    "    volcano.sh/preemptable: 'false'\n"
    "    scheduling.x-k8s.io/min-available-hint: '3'\n"
    "    example.com/other: kept-off\n"
)


def test_volcano_pod_group_inherits_volcano_annotations_only() -> None:
    body = pod_group(build(group(SCHEDULER_ANNOTATIONS), Scheduler.VOLCANO))
    assert body["metadata"]["annotations"] == {
        cv.SYNC_WAVE: "0",
        "volcano.sh/preemptable": "false",
    }


def test_scheduler_plugins_pod_group_inherits_its_prefix_only() -> None:
    body = pod_group(build(group(SCHEDULER_ANNOTATIONS)))
    assert body["metadata"]["annotations"] == {
        cv.SYNC_WAVE: "0",
        "scheduling.x-k8s.io/min-available-hint": "3",
    }


def test_v0_4_conventions_copy_nothing() -> None:
    # operator v0.4.0's PodGroup has no annotations (rbg-semantics.md §8)
    v1 = """\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata:
  name: pd
  annotations: {volcano.sh/preemptable: 'false'}
spec:
  podGroupPolicy: {volcanoScheduling: {queue: gpu}}
  roles:
  - name: prefill
    template: {spec: {schedulerName: volcano, containers: [{name: main, image: x:1}]}}
"""
    body = pod_group(build(v1))
    assert body["metadata"]["annotations"] == {cv.SYNC_WAVE: "0"}
    assert body["spec"] == {"minMember": 1, "queue": "gpu"}


# --- KEP-430: CoordinatedPolicy strategy.scheduling.gang (issue 17 item 7) ---------------------
# sgl-project/rbg keps/430-gang-scheduling/README.md (commit 830c24af): `gang` present turns gang
# scheduling on and wins over the annotation; empty minReplicas: minMember = GetGroupSize();
# otherwise Volcano subGroupPolicy per listed role (minSubGroups = minReplicas, subGroupSize =
# computeSubGroupSize, matchLabelKeys one per instance), minMember = sum(minReplicas x size),
# only listed roles' pods annotated; a scheduler without subgroups: the webhook rejects.

KEP430 = """\
apiVersion: workloads.x-k8s.io/v1alpha2
kind: RoleBasedGroup
metadata: {name: pd, namespace: llm}
spec:
  roles:
  - name: prefill
    replicas: 4
    leaderWorkerPattern:
      size: 2
      template: {spec: {schedulerName: volcano, containers: [{name: main, image: x:1}]}}
  - name: decode
    replicas: 6
    standalonePattern:
      template: {spec: {schedulerName: volcano, containers: [{name: main, image: x:1}]}}
  - name: router
    replicas: 1
    standalonePattern:
      template: {spec: {containers: [{name: main, image: x:1}]}}
---
apiVersion: workloads.x-k8s.io/v1alpha2
kind: CoordinatedPolicy
metadata: {name: pd, namespace: llm}
spec:
  policies:
  - name: gang
    roles: [prefill, decode]
    strategy: {scheduling: {gang: GANG}}
"""


def test_kep430_min_replicas_are_volcano_subgroups_per_instance() -> None:
    text = KEP430.replace("GANG", "{minReplicas: {prefill: 2, decode: 1}}")
    result = build(text, Scheduler.VOLCANO)
    spec = pod_group(result)["spec"]
    assert spec["minMember"] == 2 * 2 + 1 * 1
    prefill, decode = spec["subGroupPolicy"]
    # an LWS group is an instance: one subgroup per group-index, 2 of them at least
    assert (prefill["name"], prefill["matchLabelKeys"]) == ("prefill", [cv.LWS_GROUP_INDEX_LABEL])
    assert (prefill["minSubGroups"], prefill["subGroupSize"]) == (2, 2)
    # a one-pod instance: "at least 1 decode pod" is one subgroup of 1 of them
    assert (decode["minSubGroups"], decode["subGroupSize"]) == (1, 1)
    # only the listed roles' pods join the PodGroup
    joined = {
        m.role
        for m in result.bundle.manifests
        for t in templates_of(m)
        if cv.VOLCANO_GROUP_ANNOTATION in (t["metadata"].get("annotations") or {})
    }
    assert joined == {"prefill", "decode"}


def test_kep430_empty_gang_is_the_whole_group() -> None:
    text = KEP430.replace("GANG", "{}")
    assert pod_group(build(text, Scheduler.VOLCANO))["spec"] == {"minMember": 8 + 6 + 1}
    kube = pod_group(build(text))
    assert kube["apiVersion"] == cv.KUBE_PODGROUP_API and kube["spec"]["minMember"] == 15


def test_kep430_min_replicas_without_subgroups_is_refused() -> None:
    from rbgc.diagnostics import DiagnosticError

    text = KEP430.replace("GANG", "{minReplicas: {prefill: 2}}")
    with pytest.raises(DiagnosticError) as exc:
        build(text)
    assert {d.code for d in exc.value.diagnostics if d.severity == "error"} == {"RBG306"}


def test_kep430_an_instance_pack_rides_the_gangs_subgroup() -> None:
    pack = "    instanceTopologyConstraint: {pack: {required: nvl}}\n"
    text = KEP430.replace("GANG", "{minReplicas: {prefill: 2}}").replace(
        "    replicas: 4\n", "    replicas: 4\n" + pack
    )
    (prefill,) = pod_group(build(text, Scheduler.VOLCANO))["spec"]["subGroupPolicy"]
    assert prefill["networkTopology"] == {"mode": "hard", "highestTierName": "nvl"}


def templates_of(m: Any) -> list[dict[str, Any]]:
    spec = m.body.get("spec") or {}
    lws = spec.get("leaderWorkerTemplate") or {}
    found = [spec["template"]] if "template" in spec else []
    return found + [lws[k] for k in ("leaderTemplate", "workerTemplate") if k in lws]
