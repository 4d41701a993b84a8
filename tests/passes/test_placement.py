"""Pass 3: placement. Exclusive topology (upstream setExclusiveAffinities) and gang scheduling."""

from __future__ import annotations

from typing import Any

import pytest

from rbgc.diagnostics import DiagnosticError
from rbgc.passes.expand import exclusive_affinity
from rbgc.pipeline import Result
from tests.conftest import compile_yaml

P = "rolebasedgroup.workloads.x-k8s.io/"
KEY = "kubernetes.io/hostname"


def _affinity_term(group_key: str) -> dict[str, Any]:
    return {
        "labelSelector": {
            "matchExpressions": [
                {"key": P + "group-unique-key", "operator": "In", "values": [group_key]}
            ]
        },
        "topologyKey": KEY,
    }


def _anti_term(group_key: str) -> dict[str, Any]:
    return {
        "labelSelector": {
            "matchExpressions": [
                {"key": P + "group-unique-key", "operator": "Exists"},
                {"key": P + "group-unique-key", "operator": "NotIn", "values": [group_key]},
            ]
        },
        "topologyKey": KEY,
    }


def test_exclusive_affinity_on_an_empty_affinity() -> None:
    assert exclusive_affinity({}, KEY, "h") == {
        "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [_affinity_term("h")]},
        "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [_anti_term("h")]},
    }


def test_exclusive_affinity_is_appended_after_user_terms() -> None:
    user = {"topologyKey": "zone", "labelSelector": {"matchLabels": {"a": "b"}}}
    node: dict[str, Any] = {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}
    }
    result = exclusive_affinity(
        {
            "nodeAffinity": node,
            "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [user]},
        },
        KEY,
        "h",
    )
    assert result["nodeAffinity"] == node
    assert result["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == [
        user,
        _affinity_term("h"),
    ]


def test_exclusive_affinity_is_idempotent() -> None:
    once = exclusive_affinity({}, KEY, "h")
    assert exclusive_affinity(once, KEY, "h") == once


def _group(
    annotations: str = "", policy: str = "", template_meta: str = "", scheduler: str = ""
) -> Result:
    return compile_yaml(f"""
        apiVersion: workloads.x-k8s.io/v1alpha1
        kind: RoleBasedGroup
        metadata:
          name: g
          annotations: {{{annotations}}}
        spec:
          {policy}
          roles:
          - name: a
            replicas: 2
            template:
              metadata: {{annotations: {{{template_meta}}}}}
              spec: {{{scheduler} containers: [{{name: c, image: i}}]}}
          - name: b
            replicas: 3
            workload: {{apiVersion: leaderworkerset.x-k8s.io/v1, kind: LeaderWorkerSet}}
            leaderWorkerSet: {{size: 4}}
            template: {{spec: {{{scheduler} containers: [{{name: c, image: i}}]}}}}
        """)


def _templates(result: Result) -> dict[str, dict[str, Any]]:
    out = {}
    for m in result.bundle.manifests:
        for path in m.pod_templates:
            value: Any = m.body
            for part in path:
                value = value[part]
            out[f"{m.name}:{path[-1]}"] = value
    return out


def test_exclusive_topology_on_every_template_with_a_per_template_opt_out() -> None:
    result = _group(
        annotations=f"{P}exclusive-topology: {KEY}",
        template_meta=f"{P}disable-exclusive-topology: 'true'",
    )
    templates = _templates(result)
    opted_out = templates["g-a:template"]
    assert "affinity" not in opted_out["spec"]
    assert P + "exclusive-topology" not in opted_out["metadata"]["annotations"]
    for name in ("g-b:leaderTemplate", "g-b:workerTemplate"):
        assert templates[name]["metadata"]["annotations"][P + "exclusive-topology"] == KEY
        anti = templates[name]["spec"]["affinity"]["podAntiAffinity"]
        assert anti["requiredDuringSchedulingIgnoredDuringExecution"][0]["topologyKey"] == KEY


def test_empty_topology_key_is_an_error() -> None:
    with pytest.raises(DiagnosticError) as exc:
        _group(annotations=f"{P}exclusive-topology: ''")
    assert [d.code for d in exc.value.diagnostics] == ["RBG303"]


def test_kube_gang_podgroup_counts_every_pod_and_goes_first() -> None:
    result = _group(policy="podGroupPolicy: {kubeScheduling: {scheduleTimeoutSeconds: 120}}")
    (pg,) = [m for m in result.bundle.manifests if m.kind == "PodGroup"]
    assert pg.api_version == "scheduling.x-k8s.io/v1alpha1"
    assert pg.body["spec"] == {"minMember": 2 + 3 * 4, "scheduleTimeoutSeconds": 120}
    assert pg.wave == 0
    assert min(m.wave for m in result.bundle.manifests if m.kind != "PodGroup") == 1
    assert result.bundle.manifests[0] is pg
    for template in _templates(result).values():
        labels = template["metadata"]["labels"]
        assert labels["pod-group.scheduling.sigs.k8s.io/name"] == "g"
        assert labels["scheduling.x-k8s.io/pod-group"] == "g"


def test_kube_gang_default_timeout() -> None:
    result = _group(policy="podGroupPolicy: {kubeScheduling: {}}")
    (pg,) = [m for m in result.bundle.manifests if m.kind == "PodGroup"]
    assert pg.body["spec"]["scheduleTimeoutSeconds"] == 60


def test_volcano_gang_annotation_and_scheduler_warning() -> None:
    result = _group(policy="podGroupPolicy: {volcanoScheduling: {queue: q1}}")
    (pg,) = [m for m in result.bundle.manifests if m.kind == "PodGroup"]
    assert pg.api_version == "scheduling.volcano.sh/v1beta1"
    assert pg.body["spec"] == {"minMember": 14, "queue": "q1"}
    for template in _templates(result).values():
        assert template["metadata"]["annotations"]["scheduling.k8s.io/group-name"] == "g"
    assert sorted(w.code for w in result.warnings) == ["RBG301", "RBG301"]
    quiet = _group(
        policy="podGroupPolicy: {volcanoScheduling: {}}", scheduler="schedulerName: volcano,"
    )
    assert not [w for w in quiet.warnings if w.code == "RBG301"]


def test_both_gang_sources_kube_wins_with_a_warning() -> None:
    result = _group(policy="podGroupPolicy: {kubeScheduling: {}, volcanoScheduling: {}}")
    (pg,) = [m for m in result.bundle.manifests if m.kind == "PodGroup"]
    assert pg.api_version == "scheduling.x-k8s.io/v1alpha1"
    assert [w.code for w in result.warnings] == ["RBG302"]


def test_gang_with_dependencies_warns_of_the_deadlock() -> None:
    result = compile_yaml("""
        apiVersion: workloads.x-k8s.io/v1alpha1
        kind: RoleBasedGroup
        metadata: {name: g}
        spec:
          podGroupPolicy: {kubeScheduling: {}}
          roles:
          - name: a
            template: {spec: {containers: [{name: c, image: i}]}}
          - name: b
            dependencies: [a]
            template: {spec: {containers: [{name: c, image: i}]}}
        """)
    (w,) = result.warnings
    assert w.code == "RBG304"
    assert "role 'b' starts only after its dependencies" in w.message
    assert (w.span.line, w.span.col) == (11, 20)  # type: ignore[union-attr]
