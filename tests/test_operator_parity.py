"""v1alpha2 output that behaves as the operator at HEAD (issue 16): each test cites the
upstream source line it follows (sgl-project/rbg at v0.8.0-alpha.5, `git show HEAD:<path>`)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rbgc.diagnostics import DiagnosticError
from rbgc.model import LwsLowering, Target
from rbgc.parse_v1alpha2 import LOWERED, ROLE_FIELDS, WARNED
from rbgc.pipeline import Options, Result, compile_documents
from rbgc.source import parse_text
from tests.conftest import ROOT
from tests.test_compat_v1alpha2 import INSTANCE_ENV, LWP_ENV

P = "rbg.workloads.x-k8s.io/"


def build(text: str, lws: LwsLowering = LwsLowering.NATIVE) -> Result:
    return compile_documents(parse_text(text, "g.yaml"), Options(target=Target(lws=lws)))


def objects(result: Result) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m.kind, m.name): m.body for m in result.bundle.manifests}


def env_of(template: dict[str, Any], container: int = 0) -> dict[str, Any]:
    spec = template["spec"]["containers"][container]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in spec.get("env", ())}


def leader_worker(selection: str = "", size: int = 3) -> str:
    shared = f"\n      sharedServiceSelection: {selection}" if selection else ""
    return f"""\
apiVersion: workloads.x-k8s.io/v1alpha2
kind: RoleBasedGroup
metadata: {{name: demo, namespace: llm}}
spec:
  roles:
  - name: decode
    replicas: 2
    leaderWorkerPattern:
      size: {size}{shared}
      template:
        spec:
          containers: [{{name: c, image: i}}]
"""


def stateless(extra: str = "") -> str:
    return f"""\
apiVersion: workloads.x-k8s.io/v1alpha2
kind: RoleBasedGroup
metadata: {{name: demo}}
spec:
  roles:
  - name: api
    replicas: 2{extra}
    annotations: {{rbg.workloads.x-k8s.io/role-instance-pattern: Stateless}}
    standalonePattern:
      template: {{spec: {{containers: [{{name: c, image: i}}]}}}}
"""


def templates(result: Result, lws: LwsLowering) -> tuple[dict[str, Any], dict[str, Any]]:
    objs = objects(result)
    if lws is LwsLowering.NATIVE:
        spec = objs[("LeaderWorkerSet", "demo-decode")]["spec"]["leaderWorkerTemplate"]
        return spec["leaderTemplate"], spec["workerTemplate"]
    leader = objs[("StatefulSet", "demo-decode")]["spec"]["template"]
    return leader, objs[("StatefulSet", "demo-decode-0")]["spec"]["template"]


# --- 16.1 the shared Service of a leader/worker role ---------------------------------------


@pytest.mark.parametrize("lws", list(LwsLowering), ids=str)
@pytest.mark.parametrize("selection", ["", "LeaderOnly", "All"])
def test_leader_worker_role_gets_the_shared_headless_service(
    lws: LwsLowering, selection: str
) -> None:
    """pkg/reconciler/roleinstanceset_reconciler.go:76 reconciles the headless Service of every
    RoleInstanceSet role; svc_reconciler.go:106-124 writes it: ClusterIP None,
    publishNotReadyAddresses, selector group/role, plus component-name: leader under LeaderOnly,
    the default of RoleInstanceSet + leaderWorkerPattern (api/workloads/v1alpha2/helper.go:
    288-299). The pods carry component-name (roleinstanceset_reconciler.go:411-431)."""
    result = build(leader_worker(selection), lws)
    service = objects(result)[("Service", "s-demo-decode")]
    selector = {P + "group-name": "demo", P + "role-name": "decode"}
    if selection != "All":
        selector[P + "component-name"] = "leader"
    assert service["spec"] == {
        "type": "ClusterIP",
        "clusterIP": "None",
        "selector": selector,
        "publishNotReadyAddresses": True,
    }
    leader, worker = templates(result, lws)
    assert leader["metadata"]["labels"][P + "component-name"] == "leader"
    assert worker["metadata"]["labels"][P + "component-name"] == "worker"
    assert selector.items() <= leader["metadata"]["labels"].items()
    assert (selection == "All") == (selector.items() <= worker["metadata"]["labels"].items())


@pytest.mark.parametrize("selection", ["LeaderOnly", "All"])
def test_statefulsets_lowering_names_the_leaders_under_the_shared_service(selection: str) -> None:
    """Under --lws statefulsets rbgc chooses the pods' subdomain: the leaders take the shared
    Service (the operator gives the leader component serviceName svc, roleinstanceset_
    reconciler.go:426), so HEAD's config.yaml address `{W}-{i}.{svc}` (pkg/discovery/
    config_builder.go:126) names the leader pod; under All the workers join it too
    (roleinstanceset_reconciler.go:418-420)."""
    result = build(leader_worker(selection), LwsLowering.STATEFULSETS)
    objs = objects(result)
    leader = objs[("StatefulSet", "demo-decode")]
    worker = objs[("StatefulSet", "demo-decode-1")]
    assert leader["spec"]["serviceName"] == "s-demo-decode"
    workers_service = "s-demo-decode" if selection == "All" else "demo-decode"
    assert worker["spec"]["serviceName"] == workers_service
    services = sorted(name for kind, name in objs if kind == "Service")
    assert services == sorted({"s-demo-decode", workers_service})
    config = objs[("ConfigMap", "demo")]["data"]["config.yaml"]
    assert "- address: demo-decode-1.s-demo-decode\n" in config
    address = "demo-decode-1.s-demo-decode.llm"
    assert env_of(worker["spec"]["template"])["RBG_LWP_LEADER_ADDRESS"] == address
    assert env_of(worker["spec"]["template"])["LWS_LEADER_ADDRESS"] == address
    leader_env = env_of(leader["spec"]["template"])
    assert leader_env["RBG_LWP_LEADER_ADDRESS"] == "$(RBG_ROLE_INSTANCE_NAME).s-demo-decode.llm"


def test_native_lowering_keeps_the_lws_names_for_each_pod() -> None:
    """A native LWS names its pods under its own Service `{W}` (the LWS controller sets their
    subdomain), so per-pod names are `{W}-{i}.{W}`; the shared Service resolves to the
    leaders' addresses only."""
    objs = objects(build(leader_worker()))
    config = objs[("ConfigMap", "demo")]["data"]["config.yaml"]
    assert "- address: demo-decode-1.demo-decode\n" in config
    assert ("Service", "demo-decode") not in objs  # the LWS controller makes it


def test_stateless_role_gets_the_shared_headless_service() -> None:
    """A Stateless RoleInstanceSet is still a RoleInstanceSet: roleinstanceset_reconciler.go:76
    gives it the Service (svc_reconciler.go:106-124, selector group/role: no leader key off
    leaderWorkerPattern, helper.go:289-290)."""
    result = build(stateless())
    objs = objects(result)
    assert ("Deployment", "demo-api") in objs
    service = objs[("Service", "s-demo-api")]
    assert service["spec"] == {
        "type": "ClusterIP",
        "clusterIP": "None",
        "selector": {P + "group-name": "demo", P + "role-name": "api"},
        "publishNotReadyAddresses": True,
    }


# --- 16.5 minReadySeconds ------------------------------------------------------------------


def with_min_ready(text: str) -> str:
    return text.replace("    replicas: 2\n", "    replicas: 2\n    minReadySeconds: 15\n", 1)


def test_min_ready_seconds_reaches_every_workload_that_has_the_field() -> None:
    """The operator sets minReadySeconds on the RoleInstanceSet of every pattern
    (pkg/reconciler/roleinstanceset_reconciler.go:211); Deployment and StatefulSet have the
    field (apps/v1 DeploymentSpec, StatefulSetSpec)."""
    deploy = objects(build(stateless("\n    minReadySeconds: 15")))[("Deployment", "demo-api")]
    assert deploy["spec"]["minReadySeconds"] == 15
    result = build(with_min_ready(leader_worker()), LwsLowering.STATEFULSETS)
    workloads = [b for (kind, _), b in objects(result).items() if kind == "StatefulSet"]
    assert len(workloads) == 3  # the leaders, and the workers of each of 2 groups
    assert all(w["spec"]["minReadySeconds"] == 15 for w in workloads)
    assert not [d for d in result.warnings if d.code == "RBG122"]


def test_min_ready_seconds_on_a_native_leader_worker_set_is_warned_at_its_line() -> None:
    """LeaderWorkerSetSpec has no minReadySeconds (kubernetes-sigs/lws api/leaderworkerset/
    v1/leaderworkerset_types.go: replicas, leaderWorkerTemplate, rolloutStrategy,
    startupPolicy, networkConfig)."""
    result = build(with_min_ready(leader_worker()))
    lws = objects(result)[("LeaderWorkerSet", "demo-decode")]
    assert "minReadySeconds" not in lws["spec"]
    [warned] = [d for d in result.warnings if d.code == "RBG122"]
    assert warned.span is not None and warned.span.line == 8  # minReadySeconds: 15
    assert "minReadySeconds" in warned.message and "--lws statefulsets" in (warned.help or "")


# --- 16.2 engine-runtime sidecars get every RBG_* variable --------------------------------

PROFILE = """\
---
apiVersion: workloads.x-k8s.io/v1alpha2
kind: ClusterEngineRuntimeProfile
metadata: {name: patio}
spec:
  initContainers: [{name: init, image: i}]
  containers:
  - name: sidecar
    image: s
    env: [{name: OWN, value: "1"}]
"""
RBG_ENV = INSTANCE_ENV


def with_runtime(text: str) -> str:
    runtime = "    engineRuntimes: [{profileName: patio}]\n"
    return text.replace("    replicas: 2\n", "    replicas: 2\n" + runtime, 1) + PROFILE


def containers(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {c["name"]: c.get("env", []) for c in template["spec"]["containers"]}


@pytest.mark.parametrize("lws", list(LwsLowering), ids=str)
def test_sidecars_get_every_rbg_variable_in_the_two_phase_order(lws: LwsLowering) -> None:
    """pkg/reconciler/pod_reconciler.go:91-111: config, then sidecar ("the sidecar containers
    also need rbg-related envs, so inject them first", :97), then common_env and, on a
    leaderWorkerPattern leader, lwp_env (roleinstanceset_reconciler.go:374) into every
    container (pkg/discovery/injector.go:136-138, 157-160), merged RBG_* first, the new batch,
    RBG_LWP_*, then the container's own (injector.go:173-216). Workers get no sidecars
    (roleinstanceset_reconciler.go:392-393)."""
    leader, worker = templates(build(with_runtime(leader_worker()), lws), lws)
    envs = containers(leader)
    assert list(envs) == ["c", "sidecar"]
    names = [e["name"] for e in envs["sidecar"]]
    assert names[: len(RBG_ENV) + len(LWP_ENV)] == RBG_ENV + LWP_ENV
    assert names[-1] == "OWN"
    user = {e["name"]: e for e in envs["c"]}
    for var in envs["sidecar"]:  # the same values as the role's own container
        if var["name"].startswith("RBG_"):
            assert user[var["name"]] == var, var["name"]
    assert list(containers(worker)) == ["c"]
    assert [c["name"] for c in leader["spec"]["initContainers"]] == ["init"]


def test_standalone_sidecars_get_the_instance_variables() -> None:
    text = with_runtime(leader_worker()).replace(
        "    leaderWorkerPattern:\n      size: 3\n", "    standalonePattern:\n"
    )
    sts = objects(build(text))[("StatefulSet", "demo-decode")]
    envs = containers(sts["spec"]["template"])
    assert [e["name"] for e in envs["sidecar"]] == [*RBG_ENV, "OWN"]


# --- 16.6 an HPA on a leader/worker role ----------------------------------------------------

HPA = """\
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: scale-decode, namespace: llm}
spec:
  scaleTargetRef:
    apiVersion: workloads.x-k8s.io/v1alpha2
    kind: RoleBasedGroupScalingAdapter
    name: demo-decode
  minReplicas: 1
  maxReplicas: 4
"""


def with_adapter(text: str) -> str:
    adapter = "    scalingAdapter: {enable: true}\n"
    return text.replace("    replicas: 2\n", "    replicas: 2\n" + adapter, 1) + HPA


def test_an_hpa_on_a_leader_worker_role_scales_whole_groups_or_nothing() -> None:
    """The operator scales a role's whole instances: the adapter sets the role's replicas
    (internal/controller/workloads/rolebasedgroupscalingadapter_controller.go:506). A native
    LeaderWorkerSet has a scale subresource over groups, so the HPA is retargeted to it; with
    --lws statefulsets no compiled object scales whole groups (the leader StatefulSet would
    add leaders without workers: the worker StatefulSets are one per group, fixed at build
    time), so the HPA is left as written and no message names a LeaderWorkerSet."""
    native = build(with_adapter(leader_worker()))
    hpa = objects(native)[("HorizontalPodAutoscaler", "scale-decode")]
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "LeaderWorkerSet"
    lowered = build(with_adapter(leader_worker()), LwsLowering.STATEFULSETS)
    hpa = objects(lowered)[("HorizontalPodAutoscaler", "scale-decode")]
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "RoleBasedGroupScalingAdapter"
    messages = [d for d in lowered.warnings if d.code in ("RBG124", "RBG143", "RBG144")]
    assert {d.code for d in messages} == {"RBG124"}
    assert len(messages) == 2  # at scalingAdapter and at the HPA's scaleTargetRef
    for d in messages:
        assert "LeaderWorkerSet" not in d.message
        assert "--lws native" in (d.help or "")


def test_an_hpa_written_against_a_leader_statefulset_is_warned() -> None:
    text = leader_worker() + HPA.replace(
        "    apiVersion: workloads.x-k8s.io/v1alpha2\n    kind: RoleBasedGroupScalingAdapter",
        "    apiVersion: apps/v1\n    kind: StatefulSet",
    )
    result = build(text, LwsLowering.STATEFULSETS)
    [warned] = [d for d in result.warnings if d.code == "RBG124"]
    assert warned.span is not None and warned.span.line == 19  # its scaleTargetRef


# --- 16.7 a user's object under a generated name -------------------------------------------

OWN_SERVICE = """\
---
apiVersion: v1
kind: Service
metadata:
  name: s-demo-decode
  namespace: llm
spec:
  clusterIP: None
  selector: {workloads.x-k8s.io/group-name: demo}
"""


def test_a_user_object_under_a_generated_name_gives_way_to_the_generated_one() -> None:
    """The operator server-side-applies its Service over the user's, forcing its own fields
    (pkg/reconciler/svc_reconciler.go:92, pkg/utils/utils.go:65-70): one object, the
    generated one, and a warning at the user's line (upstream's custom-components-ordered-
    discovery.yaml ships its own s-pd-server-prefill)."""
    result = build(leader_worker() + OWN_SERVICE)
    services = [m for m in result.bundle.manifests if m.kind == "Service"]
    assert [(m.name, m.group) for m in services] == [("s-demo-decode", "demo")]
    [warned] = [d for d in result.warnings if d.code == "RBG504"]
    assert warned.span is not None and (warned.span.line, warned.span.col) == (17, 9)
    assert "s-demo-decode" in warned.message


# --- 16.11 no silent drops -----------------------------------------------------------------

SCHEMA = ROOT / "schemas" / "rolebasedgroup.v1alpha2.schema.json"
# Kubernetes' own structures: their fields are the pod's, carried whole
KUBERNETES = {"podTemplateSpec", "objectMeta", "podSpec", "podMetadata", "container", "envVar"}


def schema_fields() -> set[str]:
    """Every field path of a v1alpha2 role, as the schema defines it (lists and maps as one)."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    defs = schema["$defs"]
    found: set[str] = set()

    def walk(node: dict[str, Any], path: str) -> None:
        ref = node.get("$ref")
        if ref is not None:
            name = ref.rsplit("/", 1)[1]
            if name in KUBERNETES:
                found.add(path)
            else:
                walk(defs[name], path)
            return
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in node.get(key, ()):
                walk(sub, path)
        if "properties" in node:
            for key, sub in node["properties"].items():
                walk(sub, f"{path}.{key}" if path else key)
        elif node.get("type") == "array" and "items" in node:
            walk(node["items"], path)
        elif path and not any(k in node for k in ("allOf", "anyOf", "oneOf")):
            found.add(path)

    walk(defs["role"], "")
    return found


def test_every_role_field_is_lowered_or_warned() -> None:
    """One table says what becomes of each field of a v1alpha2 role; it covers the schema
    exactly, so a field the schema gains fails here until it is decided."""
    assert set(ROLE_FIELDS) == schema_fields()
    for path, (fate, how) in ROLE_FIELDS.items():
        assert fate in (LOWERED, WARNED), path
        assert how, path
        if fate == WARNED:
            assert "RBG" in how, f"{path}: say which code warns"


DROPPED = """\
apiVersion: workloads.x-k8s.io/v1alpha2
kind: RoleBasedGroup
metadata: {name: demo}
spec:
  roles:
  - name: api
    replicas: 1
    servicePorts:
    - {name: http, port: 80, protocol: TCP, targetPort: 8080}
    engineRuntimes:
    - profileName: patio
      injectContainers: [c]
      containers:
      - {name: sidecar, env: [{name: A, value: "1"}]}
      - {name: sidcar, args: [--x]}
      - {name: sidecar, image: other}
    standalonePattern:
      template: {spec: {containers: [{name: c, image: i}]}}
"""


def test_fields_upstream_reads_nowhere_are_warned_at_their_line() -> None:
    """pkg/discovery/sidecar_builder.go:131-155 appends only an override's env and args, to a
    profile container of the same name, and skips any other name (:134-141); nothing reads
    injectContainers (api/workloads/v1alpha2/rolebasedgroup_types.go:441-443 only declares
    it); config.yaml keeps a port's name and port (pkg/discovery/config_builder.go) and the
    headless Service has none (svc_reconciler.go:118-125)."""
    result = build(DROPPED + PROFILE)
    found = {(d.code, d.span.line if d.span else 0) for d in result.warnings}
    assert {
        ("RBG122", 9),  # protocol
        ("RBG122", 12),  # injectContainers
        ("RBG511", 15),  # sidcar: no such profile container
        ("RBG122", 16),  # image of an override
    } <= found
    ports = [d for d in result.warnings if d.code == "RBG122" and d.span and d.span.line == 9]
    assert len(ports) == 2  # protocol and targetPort, each at its key
    [typo] = [d for d in result.warnings if d.code == "RBG511"]
    assert "did you mean 'sidecar'" in (typo.help or "")


# --- 16.9 hand-written addresses ------------------------------------------------------------

# upstream's examples/inference/pd-disagg-leader-worker.yaml, trimmed: its router hard-codes
# the instances' names under the shared Service (lines 56, 58)
PD_DISAGG = """\
apiVersion: workloads.x-k8s.io/v1alpha2
kind: RoleBasedGroup
metadata: {name: pd-disagg-lws}
spec:
  roles:
  - name: router
    replicas: 1
    dependencies: [prefill]
    standalonePattern:
      template:
        spec:
          containers:
          - name: router
            image: r
            command: [python3, -m, sglang_router.launch_router, --prefill,
              "http://pd-disagg-lws-prefill-0.s-pd-disagg-lws-prefill:8000",
              --host, "0.0.0.0", --model-path, Qwen/Qwen3-0.6B]
            env:
            - {name: PEER, value: "pd-disagg-lws-router-0.s-pd-disagg-lws-router.default.svc"}
            - {name: TYPO, value: "s-pd-disagg-lws-prefil:8000"}
  - name: prefill
    replicas: 1
    leaderWorkerPattern:
      size: 2
      template:
        spec:
          containers: [{name: sglang, image: s}]
"""


def test_a_hand_written_address_is_checked_against_the_compiled_pods() -> None:
    """Under the operator `pd-disagg-lws-prefill-0` is an instance, its leader pod
    `...-prefill-0-0` (roleinstanceset_reconciler.go:422-431, pod names §2.6); a native LWS
    names its leader `...-prefill-0` under the LWS's own Service. Either way
    `pd-disagg-lws-prefill-0.s-pd-disagg-lws-prefill` resolves nowhere: warned at its line.
    With --lws statefulsets the leader is that very name (16.1): no warning."""
    native = build(PD_DISAGG)
    found = [d for d in native.warnings if d.code == "RBG503"]
    assert [(d.span.line if d.span else 0) for d in found] == [16, 20]
    first = found[0]
    assert "pd-disagg-lws-prefill-0.s-pd-disagg-lws-prefill" in first.message
    assert "pd-disagg-lws-prefill-0.pd-disagg-lws-prefill" in (first.help or "")
    assert "did you mean 's-pd-disagg-lws-prefill'" in (found[1].help or "")
    lowered = build(PD_DISAGG, LwsLowering.STATEFULSETS)
    assert [d.span.line for d in lowered.warnings if d.code == "RBG503" and d.span] == [20]


def test_restart_backoff_is_warned_only_where_nothing_carries_it_out() -> None:
    """A native LeaderWorkerSet recreates a group at once (RecreateGroupOnPodRestart); with
    --lws statefulsets `rbgc sync --watch` recreates it and backs off as written
    (tests/test_bundle_facts.py::test_restart_back_off_is_the_pattern_s)."""
    text = leader_worker().replace(
        "      size: 3\n", "      size: 3\n      restartPolicyConfig: {baseDelaySeconds: 5}\n"
    )

    def backoff(lws: LwsLowering) -> list[str]:
        return [d.message for d in build(text, lws).warnings if "backoff" in d.message]

    assert len(backoff(LwsLowering.NATIVE)) == 1
    assert backoff(LwsLowering.STATEFULSETS) == []


def test_a_failed_build_reports_no_address_of_the_objects_it_did_not_make() -> None:
    """When a group fails, its pods are not in the output, so its peers' addresses cannot be
    checked: the build reports the error, not warnings about names it never compiled."""
    peer = (
        leader_worker()
        .replace("name: demo,", "name: other,")
        .replace("    replicas: 2\n", "    replicas: 2\n    dependencies: [nothing]\n", 1)
    )
    caller = stateless().replace("metadata: {name: demo}", "metadata: {name: demo, namespace: llm}")
    caller = caller.replace(
        "[{name: c, image: i}]", '[{name: c, image: i, args: ["other-decode-0.other-decode"]}]'
    )
    with pytest.raises(DiagnosticError) as caught:
        build(caller + "---\n" + peer)
    assert [d.code for d in caught.value.diagnostics] == ["RBG201"]
    assert [
        d.code
        for d in build(
            caller + "---\n" + leader_worker().replace("name: demo,", "name: other,")
        ).warnings
        if d.code == "RBG503"
    ] == []
