"""An audit of issue 16 against upstream's Go source at HEAD (sgl-project/rbg v0.8.0-alpha.5,
`git show HEAD:<path>`): differences a running program would see between the pods rbgc's
output gives and the pods the operator makes, each pinned to the upstream line it follows."""

from __future__ import annotations

from typing import Any

import pytest

from rbgc.model import LwsLowering
from tests.test_compat_v1alpha2 import INSTANCE_ENV, LWP_ENV
from tests.test_operator_parity import HPA as HPA_ON_DECODE
from tests.test_operator_parity import PROFILE as PARITY_PROFILE
from tests.test_operator_parity import build, containers, objects

P = "rbg.workloads.x-k8s.io/"


def group(*roles: str, extra: str = "") -> str:
    return (
        "apiVersion: workloads.x-k8s.io/v1alpha2\nkind: RoleBasedGroup\n"
        "metadata: {name: demo, namespace: llm}\nspec:\n  roles:\n" + "".join(roles) + extra
    )


def standalone(env: str = "[]", *, name: str = "api", more: str = "") -> str:
    return f"""\
  - name: {name}
    replicas: 2{more}
    standalonePattern:
      template: {{spec: {{containers: [{{name: c, image: i, env: {env}}}]}}}}
"""


def leader_worker(env: str = "[]", *, more: str = "") -> str:
    return f"""\
  - name: lw
    replicas: 2{more}
    leaderWorkerPattern:
      size: 3
      template: {{spec: {{containers: [{{name: c, image: i, env: {env}}}]}}}}
"""


def names(env: list[dict[str, Any]]) -> list[str]:
    return [e["name"] for e in env]


def pod_template(result: Any, kind: str, name: str) -> dict[str, Any]:
    body = objects(result)[(kind, name)]
    if kind == "LeaderWorkerSet":
        return body["spec"]["leaderWorkerTemplate"]["leaderTemplate"]  # type: ignore[no-any-return]
    return body["spec"]["template"]  # type: ignore[no-any-return]


# --- the env merge: a user's RBG_* variables, duplicates -----------------------------------


@pytest.mark.parametrize("lws", list(LwsLowering), ids=str)
def test_a_users_own_rbg_variables_come_before_the_injected_batch(lws: LwsLowering) -> None:
    """pkg/discovery/injector.go:183-216 (mergeEnvVars): the container's RBG_* variables that
    are not being injected go first (`existingInjectedBase`, :211), then the batch, sorted by
    name (env_builder.go:44-46), then RBG_LWP_* (:213), then the rest (:214). On a
    leaderWorkerPattern leader the second phase (lwp_env, roleinstanceset_reconciler.go:374)
    keeps the first phase's RBG_* block, user's first, before its own batch."""
    user = "[{name: X, value: x}, {name: RBG_MINE, value: m}, {name: RBG_LWP_MINE, value: l}]"
    result = build(group(standalone(user), leader_worker(user)), lws)
    sts = pod_template(result, "StatefulSet", "demo-api")
    assert names(containers(sts)["c"]) == ["RBG_MINE", *INSTANCE_ENV, "RBG_LWP_MINE", "X"]
    kind = "LeaderWorkerSet" if lws is LwsLowering.NATIVE else "StatefulSet"
    leader = names(containers(pod_template(result, kind, "demo-lw"))["c"])
    rbg = [n for n in leader if n.startswith("RBG_")]  # the LWS's own LWS_* aside
    assert rbg == ["RBG_MINE", *INSTANCE_ENV, *LWP_ENV, "RBG_LWP_MINE"]
    assert leader[-1] == "X"


def test_a_variable_written_twice_keeps_its_last_occurrence_in_its_place() -> None:
    """injector.go:184 de-duplicates the container's env keeping each name's last occurrence
    (dedupeEnvVarsPreserveLast, :226-246): [A=1, B=$(A), A=2] becomes [B, A=2], where B no
    longer sees A (the kubelet expands only variables defined before)."""
    env = '[{name: A, value: "1"}, {name: B, value: "$(A)"}, {name: A, value: "2"}]'
    sts = pod_template(build(group(standalone(env))), "StatefulSet", "demo-api")
    own = containers(sts)["c"][len(INSTANCE_ENV) :]
    assert own == [{"name": "B", "value": "$(A)"}, {"name": "A", "value": "2"}]


# --- engine-runtime overrides ---------------------------------------------------------------

# the parity tests' profile patio, its init container named `c` and its sidecar's env A, B=$(A)
PROFILE = PARITY_PROFILE.replace("{name: init, image: i}", "{name: c, image: i}").replace(
    'env: [{name: OWN, value: "1"}]', 'env: [{name: A, value: "1"}, {name: B, value: "$(A)"}]'
)


def with_runtime(overrides: str) -> str:
    more = f"\n    engineRuntimes: [{{profileName: patio, containers: {overrides}}}]"
    return group(standalone(more=more)) + PROFILE


def test_an_override_variable_the_sidecar_has_moves_to_its_end() -> None:
    """pkg/discovery/sidecar_builder.go:146-148 appends an override's env to the profile
    container; the env injection then keeps each name's last occurrence (injector.go:184,
    226-246): the overridden variable takes the override's value at the override's place."""
    result = build(with_runtime('[{name: sidecar, env: [{name: A, value: "2"}, {name: C}]}]'))
    sidecar = containers(pod_template(result, "StatefulSet", "demo-api"))["sidecar"]
    assert sidecar[len(INSTANCE_ENV) :] == [
        {"name": "B", "value": "$(A)"},
        {"name": "A", "value": "2"},
        {"name": "C"},
    ]


def test_an_override_naming_a_profile_init_container_reaches_the_container_of_its_name() -> None:
    """sidecar_builder.go:89-90 counts the profile's init containers among its names, and
    :143-154 appends an override of such a name to the pod's *container* of that name (the
    template's `c` here, since the profile's init container `c` never joins the
    containers)."""
    result = build(with_runtime('[{name: c, env: [{name: O, value: "o"}], args: [--o]}]'))
    template = pod_template(result, "StatefulSet", "demo-api")
    own = next(c for c in template["spec"]["containers"] if c["name"] == "c")
    assert own["env"][-1] == {"name": "O", "value": "o"}
    assert own["args"] == ["--o"]
    assert not [d for d in result.warnings if d.code == "RBG511"]


def test_an_override_naming_only_an_init_container_that_no_container_shares_is_warned() -> None:
    """The same rule (sidecar_builder.go:143-154) appends to containers only: with no container
    of that name in the pod, the override goes nowhere, which is said at its name."""
    text = with_runtime('[{name: c, env: [{name: O, value: "o"}]}]').replace(
        "containers: [{name: c, image: i", "containers: [{name: main, image: i"
    )
    result = build(text)
    [warned] = [d for d in result.warnings if d.code == "RBG511"]
    assert warned.span is not None and warned.span.line == 8  # engineRuntimes[0].containers[0]
    assert "init container" in warned.message


# --- minReadySeconds by workload type -------------------------------------------------------


def typed(name: str, workload_type: str, pattern: str) -> str:
    """A role of the given role-workload-type, minReadySeconds 5 (on the role's third line)."""
    return f"""\
  - name: {name}
    replicas: 1
    minReadySeconds: 5
    annotations:
      rbg.workloads.x-k8s.io/role-workload-type: {workload_type}
{pattern}
"""


STANDALONE = "    standalonePattern: {template: {spec: {containers: [{name: c, image: i}]}}}"
LEADER_WORKER = (
    "    leaderWorkerPattern: {size: 2, template: {spec: {containers: [{name: c, image: i}]}}}"
)
KINDS = (
    typed("dep", "apps/v1/Deployment", STANDALONE)
    + typed("lws", "leaderworkerset.x-k8s.io/v1/LeaderWorkerSet", LEADER_WORKER)
    + typed("sts", "apps/v1/StatefulSet", STANDALONE)
)


@pytest.mark.parametrize("lws", list(LwsLowering), ids=str)
def test_min_ready_seconds_follows_the_operators_reconciler_of_each_workload_type(
    lws: LwsLowering,
) -> None:
    """The RoleInstanceSet (roleinstanceset_reconciler.go:211) and StatefulSet
    (sts_reconciler.go:487) reconcilers set minReadySeconds; the Deployment reconciler's spec
    is replicas, template and selector only (deploy_reconciler.go:147-156) and the
    LeaderWorkerSet reconciler's has no such field (lws_reconciler.go:291-298), so the LWS
    controller's StatefulSets have none either. Not dropped without a word: warned at it."""
    result = build(group(KINDS), lws)
    workloads = {
        name: body["spec"].get("minReadySeconds")
        for (kind, name), body in objects(result).items()
        if kind in ("StatefulSet", "Deployment", "LeaderWorkerSet")
    }
    assert workloads.pop("demo-sts") == 5
    assert set(workloads.values()) == {None}, workloads
    warned = {d.span.line for d in result.warnings if d.code == "RBG122" and d.span}
    assert {8, 14} <= warned  # minReadySeconds of dep and lws


def test_min_ready_seconds_of_a_v1alpha1_deployment_or_lws_role_is_warned_not_emitted() -> None:
    """v0.5.0, which introduced the field, writes it in its StatefulSet and InstanceSet
    reconcilers only (`git show v0.5.0:pkg/reconciler/sts_reconciler.go`:465,
    instanceset_reconciler.go:181), as HEAD does for the workload types v1alpha1 converts to."""
    text = """\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata: {name: demo}
spec:
  roles:
  - name: dep
    minReadySeconds: 5
    workload: {apiVersion: apps/v1, kind: Deployment}
    template: {spec: {containers: [{name: c, image: i}]}}
  - name: sts
    minReadySeconds: 5
    template: {spec: {containers: [{name: c, image: i}]}}
"""
    result = build(text)
    objs = objects(result)
    assert "minReadySeconds" not in objs[("Deployment", "demo-dep")]["spec"]
    assert objs[("StatefulSet", "demo-sts")]["spec"]["minReadySeconds"] == 5
    assert [d.span.line for d in result.warnings if d.code == "RBG122" and d.span] == [7]


# --- scaling a customComponentsPattern role -------------------------------------------------

COMPONENTS = """\
  - name: cc
    replicas: 2
    scalingAdapter: {enable: true}
    customComponentsPattern:
      components:
      - {name: a, size: 1, template: {spec: {containers: [{name: c, image: i}]}}}
"""
HPA = HPA_ON_DECODE.replace("decode", "cc")  # HPA scale-cc on adapter demo-cc


def test_no_message_names_a_statefulset_a_components_role_does_not_have() -> None:
    """The operator scales a role's whole instances (the adapter sets the role's replicas,
    internal/controller/workloads/rolebasedgroupscalingadapter_controller.go:506); a
    customComponentsPattern role is one StatefulSet per instance and component, made at build
    time, so nothing compiled scales it: the HPA is left as written, and no message names a
    StatefulSet `demo-cc`, which is not emitted."""
    result = build(group(COMPONENTS) + HPA)
    assert ("StatefulSet", "demo-cc") not in objects(result)
    hpa = objects(result)[("HorizontalPodAutoscaler", "scale-cc")]
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "RoleBasedGroupScalingAdapter"
    about = [d for d in result.warnings if d.code in ("RBG124", "RBG143", "RBG144")]
    assert {d.code for d in about} == {"RBG124"}
    assert len(about) == 2  # at scalingAdapter and at the HPA's scaleTargetRef
    for d in about:
        assert "StatefulSet demo-cc " not in d.message + " "
        assert "no compiled role" not in d.message
        assert "--lws" not in (d.help or "")


# --- Stateless roles of every pattern -------------------------------------------------------

STATELESS = "\n    annotations: {rbg.workloads.x-k8s.io/role-instance-pattern: Stateless}"


@pytest.mark.parametrize("lws", list(LwsLowering), ids=str)
def test_a_stateless_leader_worker_role_has_no_index_and_no_discovery_file(
    lws: LwsLowering,
) -> None:
    """api/workloads/v1alpha2/helper.go:500-515: a Stateless RoleInstanceSet is not a stateful
    role, so it gets no RBG_ROLE_INDEX (pkg/discovery/env_builder.go:91-101), no config mount
    (injector.go:73-75), and the discovery ConfigMap lists only stateful roles
    (internal/controller/workloads/rolebasedgroup_controller.go:413-421), none here, so it
    does not exist (:407-409)."""
    result = build(group(leader_worker(more=STATELESS)), lws)
    objs = objects(result)
    assert not [k for k in objs if k[0] == "ConfigMap"]
    kind = "LeaderWorkerSet" if lws is LwsLowering.NATIVE else "StatefulSet"
    bodies = [b for (k, _), b in objs.items() if k == kind]
    for body in bodies:
        templates = (
            [body["spec"]["leaderWorkerTemplate"][t] for t in ("leaderTemplate", "workerTemplate")]
            if kind == "LeaderWorkerSet"
            else [body["spec"]["template"]]
        )
        for template in templates:
            assert "volumes" not in template["spec"]
            for container in template["spec"]["containers"]:
                assert "volumeMounts" not in container
                expected = [n for n in INSTANCE_ENV if n != "RBG_ROLE_INDEX"] + LWP_ENV
                assert [n for n in names(container["env"]) if n.startswith("RBG_")] == expected


def test_a_stateless_components_role_compiles() -> None:
    """roleinstanceset_reconciler.go:170-183 builds a customComponentsPattern RoleInstanceSet
    whatever its instance pattern; Stateless only changes how instances are named
    (internal/controller/workloads/roleinstanceset_controller.go:70-99)."""
    text = group(COMPONENTS.replace("scalingAdapter: {enable: true}", STATELESS.strip()))
    sts = pod_template(build(text), "StatefulSet", "demo-cc-0-a")
    rbg = [n for n in names(containers(sts)["c"]) if n.startswith("RBG_")]
    assert rbg == [n for n in INSTANCE_ENV if n != "RBG_ROLE_INDEX"]
    assert "volumes" not in sts["spec"]


# --- fieldRefs in init containers -----------------------------------------------------------


@pytest.mark.parametrize("lws", list(LwsLowering), ids=str)
def test_init_container_fieldrefs_to_operator_labels_read_the_same_values(
    lws: LwsLowering,
) -> None:
    """The labels the RoleInstance controllers stamp are the pod's (stateful_instance_set_
    utils.go:199-207 and :114-123 put role-instance-index and statefulset.kubernetes.io/
    pod-name = the instance name on every component template; roleinstance/utils/
    instance_utils.go:91-103 the component labels), so an init container's fieldRef reads
    them as a container's does."""
    text = group(f"""\
  - name: api
    replicas: 2
    standalonePattern:
      template:
        spec:
          initContainers:
          - name: init
            image: i
            env:
            - name: IDX
              valueFrom: {{fieldRef: {{fieldPath: "metadata.labels['{P}role-instance-index']"}}}}
            - name: NAME
              valueFrom: {{fieldRef: {{fieldPath: "metadata.labels['{P}component-name']"}}}}
          containers: [{{name: c, image: i}}]
""")
    sts = pod_template(build(text, lws), "StatefulSet", "demo-api")
    [init_container] = sts["spec"]["initContainers"]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in init_container["env"]}
    assert env["IDX"] == {
        "fieldRef": {"fieldPath": "metadata.labels['apps.kubernetes.io/pod-index']"}
    }
    assert env["NAME"] == "api"
    assert [e["name"] for e in init_container["env"]] == ["IDX", "NAME"]  # nothing injected


def test_the_instance_name_a_components_pod_reads_from_its_pod_name_label() -> None:
    """stateful_instance_set_utils.go:199-207: every pod of instance i carries
    statefulset.kubernetes.io/pod-name = `{W}-{i}`, the instance's name, not its own."""
    ref = (
        "[{name: N, valueFrom: {fieldRef: {fieldPath: "
        "\"metadata.labels['statefulset.kubernetes.io/pod-name']\"}}}]"
    )
    text = group(COMPONENTS.replace("scalingAdapter: {enable: true}\n    ", "")).replace(
        "image: i}", f"image: i, env: {ref}}}"
    )
    sts = pod_template(build(text), "StatefulSet", "demo-cc-1-a")
    env = {e["name"]: e for e in containers(sts)["c"]}
    assert env["N"] == {"name": "N", "value": "demo-cc-1"}


# --- labels every pod of a template shares ---------------------------------------------------


@pytest.mark.parametrize("lws", list(LwsLowering), ids=str)
def test_the_operators_labels_that_do_not_vary_by_pod_are_on_the_pods(lws: LwsLowering) -> None:
    """The operator's pods carry component-name (instance_utils.go:93), component-id
    (:94), component-size (roleinstanceset_reconciler.go:330-332, 411-431, 462-464) and
    component-index on leader/worker pods (instance_utils.go:95-100); per instance,
    role-instance-name (:92). A selector may read them (a user's Service, PodMonitor,
    NetworkPolicy): where every pod of a compiled template has the same value, the template
    carries it."""
    objs = objects(build(group(standalone(), leader_worker(), COMPONENTS), lws))
    api = pod_template_of(objs, "StatefulSet", "demo-api")
    assert {
        P + "component-name": "api",
        P + "component-size": "1",
        P + "component-id": "0",
    }.items() <= api.items()
    cc = pod_template_of(objs, "StatefulSet", "demo-cc-1-a")
    assert {P + "component-size": "1", P + "role-instance-name": "demo-cc-1"}.items() <= cc.items()
    if lws is LwsLowering.NATIVE:
        spec = objs[("LeaderWorkerSet", "demo-lw")]["spec"]["leaderWorkerTemplate"]
        leader = spec["leaderTemplate"]["metadata"]["labels"]
        worker = spec["workerTemplate"]["metadata"]["labels"]
    else:
        leader = pod_template_of(objs, "StatefulSet", "demo-lw")
        worker = pod_template_of(objs, "StatefulSet", "demo-lw-1")
        assert worker[P + "role-instance-name"] == "demo-lw-1"
    assert {
        P + "component-size": "3",
        P + "component-id": "0",
        P + "component-index": "0",
    }.items() <= leader.items()
    assert worker[P + "component-size"] == "3"


def pod_template_of(
    objs: dict[tuple[str, str], dict[str, Any]], kind: str, name: str
) -> dict[str, str]:
    return objs[(kind, name)]["spec"]["template"]["metadata"]["labels"]  # type: ignore[no-any-return]
