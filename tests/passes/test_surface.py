"""The v1alpha1 surface beyond StatefulSet/Deployment: LWS, role templates, engine runtimes,
restart policies, coordination, scaling adapters, RoleBasedGroupSets (rbg-semantics.md §2-§10)."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from rbgc.diagnostics import DiagnosticError
from rbgc.model import LwsLowering, Target
from rbgc.pipeline import Options, Result, compile_documents
from rbgc.source import parse_text

HEAD = """\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata: {name: g}
spec:
"""


def build(
    spec: str,
    *,
    lws: LwsLowering = LwsLowering.NATIVE,
    version: tuple[int, int] = (1, 33),
    extra: str = "",
) -> Result:
    text = HEAD + textwrap.indent(textwrap.dedent(spec), "  ") + extra
    options = Options(target=Target(lws=lws, kubernetes_version=version))
    return compile_documents(parse_text(text, "t.yaml"), options)


def codes(spec: str, **kw: Any) -> list[str]:
    with pytest.raises(DiagnosticError) as exc:
        build(spec, **kw)
    return [d.code for d in exc.value.diagnostics]


def objects(result: Result) -> dict[str, dict[str, Any]]:
    return {f"{m.kind}/{m.name}": m.body for m in result.bundle.manifests}


LWS_ROLE = """\
roles:
- name: w
  replicas: 2
  restartPolicy: {policy}
  workload: {{apiVersion: leaderworkerset.x-k8s.io/v1, kind: LeaderWorkerSet}}
  leaderWorkerSet:
    size: 3
    patchLeaderTemplate:
      metadata: {{labels: {{role: leader}}}}
      spec:
        containers: [{{name: engine, args: [--leader]}}]
  template:
    spec:
      initContainers: [{{name: init, image: busybox}}]
      containers: [{{name: engine, image: e:1, args: [--serve]}}]
"""


@pytest.mark.parametrize(
    ("policy", "lws_policy"),
    [
        ("None", "None"),
        ("RecreateRoleInstanceOnPodRestart", "RecreateGroupOnPodRestart"),
        ("RecreateRBGOnPodRestart", "RecreateGroupOnPodRestart"),
    ],
)
def test_native_lws(policy: str, lws_policy: str) -> None:
    lws = objects(build(LWS_ROLE.format(policy=policy)))["LeaderWorkerSet/g-w"]
    template = lws["spec"]["leaderWorkerTemplate"]
    assert lws["spec"]["replicas"] == 2
    assert template["size"] == 3
    assert template["restartPolicy"] == lws_policy
    assert template["leaderTemplate"]["spec"]["containers"][0]["args"] == ["--leader"]
    assert template["workerTemplate"]["spec"]["containers"][0]["args"] == ["--serve"]
    assert template["leaderTemplate"]["metadata"]["labels"]["role"] == "leader"
    assert "role" not in template["workerTemplate"]["metadata"]["labels"]
    assert "rolloutStrategy" not in lws["spec"], "only an explicit rollingUpdate sets it"


def test_unset_restart_policy_on_lws_recreates_the_group() -> None:
    role = LWS_ROLE.format(policy="None").replace("  restartPolicy: None\n", "")
    template = objects(build(role))["LeaderWorkerSet/g-w"]["spec"]["leaderWorkerTemplate"]
    assert template["restartPolicy"] == "RecreateGroupOnPodRestart"


def test_lws_without_leader_worker_set_has_size_one() -> None:
    result = build("""\
        roles:
        - name: w
          workload: {apiVersion: leaderworkerset.x-k8s.io/v1, kind: LeaderWorkerSet}
          template: {spec: {containers: [{name: c, image: i}]}}
        """)
    assert objects(result)["LeaderWorkerSet/g-w"]["spec"]["leaderWorkerTemplate"]["size"] == 1


def test_lws_rollout_configuration_with_percent_partition() -> None:
    role = LWS_ROLE.format(policy="None").replace(
        "  leaderWorkerSet:",
        "  rolloutStrategy: {rollingUpdate: {partition: 50%, maxSurge: 1}}\n  leaderWorkerSet:",
    )
    lws = objects(build(role))["LeaderWorkerSet/g-w"]
    assert lws["spec"]["rolloutStrategy"] == {
        "rollingUpdateConfiguration": {"maxSurge": 1, "maxUnavailable": 1, "partition": 1}
    }


def test_plain_lws_lowering() -> None:
    result = build(LWS_ROLE.format(policy="None"), lws=LwsLowering.STATEFULSETS)
    objs = objects(result)
    assert sorted(objs) == [
        "ConfigMap/g-w",
        "Service/g-w",
        "StatefulSet/g-w",
        "StatefulSet/g-w-0",
        "StatefulSet/g-w-1",
    ]
    leader, worker = objs["StatefulSet/g-w"], objs["StatefulSet/g-w-1"]
    assert leader["spec"]["replicas"] == 2 and worker["spec"]["replicas"] == 2
    assert worker["spec"]["ordinals"] == {"start": 1}
    assert leader["spec"]["serviceName"] == worker["spec"]["serviceName"] == "g-w"
    assert objs["Service/g-w"]["spec"]["selector"] == {"leaderworkerset.sigs.k8s.io/name": "g-w"}

    def env(sts: dict[str, Any], key: str = "containers") -> dict[str, Any]:
        return {
            e["name"]: e.get("value", e.get("valueFrom"))
            for e in sts["spec"]["template"]["spec"][key][0]["env"]
        }

    assert env(worker)["LWS_LEADER_ADDRESS"] == "g-w-1.g-w.default"
    assert env(worker)["LWS_GROUP_SIZE"] == "3"
    assert env(leader)["LWS_WORKER_INDEX"] == "0"
    assert env(leader)["LWS_LEADER_ADDRESS"] == "$(RBGC_POD_NAME).g-w.default"
    assert env(worker, "initContainers")["LWS_GROUP_SIZE"] == "3", "init containers get LWS env"
    names = [e["name"] for e in worker["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert names[:3] == ["GROUP_NAME", "ROLE_INDEX", "ROLE_NAME"]
    # the leader patch reaches only the leader StatefulSet
    assert leader["spec"]["template"]["spec"]["containers"][0]["args"] == ["--leader"]
    assert worker["spec"]["template"]["spec"]["containers"][0]["args"] == ["--serve"]
    assert [w.code for w in result.warnings] == []


def test_plain_lws_warns_that_group_restarts_need_a_controller() -> None:
    role = LWS_ROLE.format(policy="RecreateRoleInstanceOnPodRestart")
    result = build(role, lws=LwsLowering.STATEFULSETS)
    assert [w.code for w in result.warnings] == ["RBG141"]


ROLE_TEMPLATES = """\
roleTemplates:
- name: base
  template:
    metadata: {labels: {app: sglang}}
    spec:
      containers:
      - name: engine
        image: sglang:1
        env: [{name: MODE, value: base}, {name: KEEP, value: "1"}]
roles:
- name: prefill
  templateRef: {name: base}
  templatePatch:
    spec:
      containers:
      - name: engine
        env: [{name: MODE, value: prefill}]
- name: decode
  templateRef: {name: base}
  templatePatch: {}
"""


def test_role_templates_are_strategic_merged_with_the_patch() -> None:
    objs = objects(build(ROLE_TEMPLATES))
    prefill = objs["StatefulSet/g-prefill"]["spec"]["template"]
    decode = objs["StatefulSet/g-decode"]["spec"]["template"]
    user = [e for e in prefill["spec"]["containers"][0]["env"] if e["name"] in ("MODE", "KEEP")]
    assert user == [{"name": "MODE", "value": "prefill"}, {"name": "KEEP", "value": "1"}]
    assert {"name": "MODE", "value": "base"} in decode["spec"]["containers"][0]["env"]
    assert prefill["metadata"]["labels"]["app"] == "sglang"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            (
                "templatePatch: {}",
                "template: {spec: {containers: [{name: c, image: i}]}}\n  templatePatch: {}",
            ),
            ["RBG130"],
        ),
        (("  templatePatch: {}\n", ""), ["RBG130"]),
        (
            (
                "templateRef: {name: base}\n  templatePatch: {}",
                "templateRef: {name: bse}\n  templatePatch: {}",
            ),
            ["RBG131"],
        ),
    ],
)
def test_role_template_rules(change: tuple[str, str], expected: list[str]) -> None:
    assert codes(ROLE_TEMPLATES.replace(*change)) == expected


def test_template_patch_without_template_ref() -> None:
    spec = """\
        roles:
        - name: a
          template: {spec: {containers: [{name: c, image: i}]}}
          templatePatch: {spec: {}}
        """
    assert codes(spec) == ["RBG130"]


PROFILE = """
---
apiVersion: workloads.x-k8s.io/v1alpha1
kind: ClusterEngineRuntimeProfile
metadata: {name: patio}
spec:
  initContainers: [{name: prepare, image: p:1}]
  containers:
  - name: patio-runtime
    image: patio:1
    env: [{name: A, value: "1"}]
    args: [--x]
  - name: engine
    image: never-used
  volumes: [{name: patio-sock, emptyDir: {}}, {name: model, emptyDir: {}}]
"""

RUNTIME_ROLE = """\
roles:
- name: r
  engineRuntimes:
  - profileName: patio
    containers:
    - name: patio-runtime
      env: [{name: B, value: "2"}]
      args: [--y]
    - name: not-in-profile
      env: [{name: C, value: "3"}]
  template:
    spec:
      volumes: [{name: model, persistentVolumeClaim: {claimName: m}}]
      containers: [{name: engine, image: e:1}]
"""


def test_engine_runtime_sidecars_as_upstream_injects_them() -> None:
    result = build(RUNTIME_ROLE, extra=PROFILE)
    objs = objects(result)
    assert "ClusterEngineRuntimeProfile/patio" not in objs, "profiles are inputs, not output"
    spec = objs["StatefulSet/g-r"]["spec"]["template"]["spec"]
    assert [c["name"] for c in spec["containers"]] == ["engine", "patio-runtime"]
    assert spec["containers"][0]["image"] == "e:1", "same-name items of the template win"
    assert [c["name"] for c in spec["initContainers"]] == ["prepare"]
    # upstream order: the config volume is added before the sidecars are
    assert [v["name"] for v in spec["volumes"]] == ["model", "rbg-cluster-config", "patio-sock"]
    assert spec["volumes"][0] == {"name": "model", "persistentVolumeClaim": {"claimName": "m"}}
    sidecar = spec["containers"][1]
    assert sidecar["args"] == ["--x", "--y"]
    assert [e["name"] for e in sidecar["env"]] == [
        "GROUP_NAME",
        "ROLE_INDEX",
        "ROLE_NAME",
        "A",
        "B",
    ]
    assert "volumeMounts" not in sidecar, "sidecars are injected after the config mount"
    assert "env" not in spec["initContainers"][0]


def test_missing_engine_runtime_profile() -> None:
    assert codes(RUNTIME_ROLE) == ["RBG510"]


def test_lws_workers_get_no_sidecars() -> None:
    role = RUNTIME_ROLE.replace(
        "- name: r\n",
        "- name: r\n  workload: {apiVersion: "
        "leaderworkerset.x-k8s.io/v1, kind: LeaderWorkerSet}\n"
        "  leaderWorkerSet: {size: 2}\n",
    )
    lws = objects(build(role, extra=PROFILE))["LeaderWorkerSet/g-r"]["spec"]["leaderWorkerTemplate"]
    assert len(lws["leaderTemplate"]["spec"]["containers"]) == 2
    assert len(lws["workerTemplate"]["spec"]["containers"]) == 1


COORDINATED = """\
coordination:
- name: pd
  roles: [prefill, decode]
  strategy:
    rollingUpdate: {maxSkew: 10%, maxUnavailable: 20%}
    scaling: {maxSkew: 50%, progression: OrderReady}
roles:
- name: prefill
  replicas: 4
  template: {spec: {containers: [{name: c, image: i}]}}
- name: decode
  replicas: 2
  template: {spec: {containers: [{name: c, image: i}]}}
"""


def test_coordination_is_kept_in_the_ir_and_warned_about() -> None:
    result = build(COORDINATED)
    (group,) = result.program.groups
    (rule,) = group.coordination
    assert rule.roles == ("prefill", "decode")
    assert rule.rolling_update is not None and rule.rolling_update.max_skew == "10%"
    assert rule.scaling is not None and rule.scaling.progression == "OrderReady"
    assert [w.code for w in result.warnings] == ["RBG141"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("[prefill, decode]", "[prefill, decoder]"), ["RBG150"]),
        (("[prefill, decode]", "[prefill]"), ["RBG151"]),
        (("maxSkew: 10%", "maxSkew: 10"), ["RBG101"]),
        (("maxSkew: 10%", "maxSkew: 101%"), ["RBG101"]),
        (("progression: OrderReady", "progression: Eventually"), ["RBG101"]),
    ],
)
def test_coordination_rules(change: tuple[str, str], expected: list[str]) -> None:
    assert codes(COORDINATED.replace(*change)) == expected


STS_ROLLOUT = """\
roles:
- name: r
  replicas: 4
  rolloutStrategy: {rollingUpdate: {maxUnavailable: 2, maxSurge: 0}}
  template: {spec: {containers: [{name: c, image: i}]}}
"""


def test_statefulset_max_unavailable_warns_below_1_35_only() -> None:
    assert [w.code for w in build(STS_ROLLOUT, version=(1, 33)).warnings] == ["RBG140"]
    assert build(STS_ROLLOUT, version=(1, 35)).warnings == ()


def test_statefulset_surge_needs_sync() -> None:
    result = build(STS_ROLLOUT.replace("maxSurge: 0", "maxSurge: 1"), version=(1, 35))
    assert [w.code for w in result.warnings] == ["RBG141"]


def test_scaling_adapter_warns_and_emits_no_adapter() -> None:
    result = build("""\
        roles:
        - name: r
          scalingAdapter: {enable: true}
          template: {spec: {containers: [{name: c, image: i}]}}
        """)
    assert [w.code for w in result.warnings] == ["RBG143"]
    assert all("ScalingAdapter" not in m.kind for m in result.bundle.manifests)


def test_leader_worker_set_on_a_statefulset_role_is_reported_not_dropped() -> None:
    result = build("""\
        roles:
        - name: r
          leaderWorkerSet: {size: 2}
          template: {spec: {containers: [{name: c, image: i}]}}
        """)
    assert [w.code for w in result.warnings] == ["RBG122"]


def test_role_set_keeps_pod_group_policy_that_v0_4_0_dropped() -> None:
    text = """\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroupSet
metadata: {name: s, annotations: {rolebasedgroup.workloads.x-k8s.io/exclusive-topology: zone}}
spec:
  replicas: 2
  template:
    podGroupPolicy: {kubeScheduling: {}}
    roles:
    - name: r
      replicas: 3
      template: {spec: {containers: [{name: c, image: i}]}}
"""
    result = compile_documents(parse_text(text, "s.yaml"), Options())
    groups = [m for m in result.bundle.manifests if m.kind == "PodGroup"]
    assert [(m.name, m.body["spec"]["minMember"]) for m in groups] == [("s-0", 3), ("s-1", 3)]
    sts = objects(result)["StatefulSet/s-1-r"]
    assert sts["metadata"]["labels"]["rolebasedgroupset.workloads.x-k8s.io/rbg-index"] == "1"
    affinity = sts["spec"]["template"]["spec"]["affinity"]
    assert (
        affinity["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0][
            "topologyKey"
        ]
        == "zone"
    )


def test_engine_runtime_env_override_replaces_the_profile_value_in_place() -> None:
    """Issue 8 item 7: a container's env is a map keyed by name (the LWS CRD declares it so,
    and server-side apply refuses duplicates): an override of a variable the profile container
    already has replaces its value where it stands, last value wins."""
    role = RUNTIME_ROLE.replace(
        'env: [{name: B, value: "2"}]',
        'env: [{name: A, value: "override"}, {name: B, value: "2"}, {name: B, value: "3"}]',
    )
    sidecar = objects(build(role, extra=PROFILE))["StatefulSet/g-r"]["spec"]["template"]["spec"][
        "containers"
    ][1]
    env = [(e["name"], e.get("value")) for e in sidecar["env"]]
    assert env[3:] == [("A", "override"), ("B", "3")]
    assert len({name for name, _ in env}) == len(env), env


DEPLOYMENT_PEERS = """\
roles:
- name: router
  workload: {apiVersion: apps/v1, kind: Deployment}
  template: {spec: {containers: [{name: c, image: i}]}}
- name: gateway
  dependencies: [router]
  template: {spec: {containers: [{name: c, image: i}]}}
- name: batch
  template: {spec: {containers: [{name: c, image: i}]}}
"""
ROUTER_SERVICE = """
---
apiVersion: v1
kind: Service
metadata: {name: g-router}
spec:
  selector:
    rolebasedgroup.workloads.x-k8s.io/name: g
    rolebasedgroup.workloads.x-k8s.io/role: router
  ports: [{port: 80}]
"""


def test_a_role_that_depends_on_a_deployment_is_warned_its_addresses_resolve_nowhere() -> None:
    """Issue 8 item 8: config.yaml lists `g-router-0.g-router` for a Deployment role."""
    result = build(DEPLOYMENT_PEERS)
    (found,) = [w for w in result.warnings if w.code == "RBG503"]
    assert "role 'gateway' depends on 'router', a Deployment" in found.message
    assert "g-router-0.g-router" in found.message
    # a Service of the user's that selects the router's pods is how the gateway reaches it
    assert not [
        w for w in build(DEPLOYMENT_PEERS, extra=ROUTER_SERVICE).warnings if w.code == "RBG503"
    ]
    # no role depends on the Deployment: nothing says another role reads its addresses
    alone = DEPLOYMENT_PEERS.replace("  dependencies: [router]\n", "")
    assert not [w for w in build(alone).warnings if w.code == "RBG503"]
