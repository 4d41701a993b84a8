"""In-place updates in the build, `rbgc diff` and `rbgc plan`.

What a live pod may change: Kubernetes' pod update validation (`ValidatePodUpdate` and its
`updatablePodSpecFields`, kubernetes pkg/apis/core/validation/validation.go: containers' and
init containers' `image`, `activeDeadlineSeconds`, added tolerations,
`terminationGracePeriodSeconds` from negative to 1; metadata through ValidateObjectMetaUpdate).
What upstream updates in place: `defaultCalculateInPlaceUpdateSpec`
(sgl-project/rbg pkg/inplace/pod/inplaceupdate/inplace_update_defaults.go:79-138, the pattern
`^/spec/containers/([0-9]+)/image$` of inplace_update.go:42): replaced container images and
template metadata, nothing else. Its default update type: InPlaceIfPossible
(pkg/reconciler/roleinstanceset_reconciler.go:229); its readiness gate: InPlaceUpdateReady
(api/workloads/constants/external.go:35-39). A StatefulSet with `updateStrategy: OnDelete`
recreates only pods that are deleted (Kubernetes apps/v1 StatefulSetUpdateStrategy), and the
API server refuses `rollingUpdate` beside it (apps validation `ValidateStatefulSetSpec`:
"only allowed for updateStrategy 'RollingUpdate'").
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from rbgc.bundle import Bundle
from rbgc.diagnostics import DiagnosticError
from rbgc.k8s import inplace
from rbgc.kubeschema import check_bundle
from rbgc.model import LwsLowering, Target
from rbgc.pipeline import Options, Result, compile_documents
from rbgc.plan.changes import group_changes
from rbgc.plan.diff import Changed, diff_bundles
from rbgc.plan.impact import ChangeClass
from rbgc.plan.model import Op, Plan
from rbgc.plan.planner import plan
from rbgc.source import parse_text

GROUP = """\
apiVersion: workloads.x-k8s.io/v1alpha2
kind: RoleBasedGroup
metadata: {name: g, namespace: llm}
spec:
  roles:
    - name: engine
      replicas: 5
      ROLLOUT
      standalonePattern:
        template:
          spec:
            containers:
              - name: sglang
                image: IMAGE
                env: [{name: MODE, value: ENV}]
"""


def group(
    image: str = "sglang:1",
    env: str = "a",
    rollout: str = "rolloutStrategy: {rollingUpdate: {maxUnavailable: 2}}",
) -> str:
    return GROUP.replace("IMAGE", image).replace("ENV", env).replace("ROLLOUT", rollout)


def build(text: str, *, in_place: bool = True, **target: Any) -> Result:
    docs = parse_text(textwrap.dedent(text), "g.yaml")
    return compile_documents(docs, Options(target=Target(in_place=in_place, **target)))


def statefulsets(result: Result) -> list[dict[str, Any]]:
    return [m.body for m in result.bundle.manifests if m.kind == "StatefulSet"]


def rollout(old: str, new: str, **kw: Any) -> tuple[tuple[Any, ...], Plan]:
    a, b = build(old).bundle, build(new).bundle
    changes = diff_bundles(a, b)
    return changes, plan(group_changes(a, b, changes), **kw)


# --- what a live pod can take -------------------------------------------------------------


TEMPLATE = {
    "metadata": {"labels": {"app": "x"}},
    "spec": {
        "initContainers": [{"name": "init", "image": "busybox:1"}],
        "containers": [{"name": "main", "image": "img:1", "env": [{"name": "A", "value": "1"}]}],
    },
}


def changed(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(TEMPLATE))
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


@pytest.mark.parametrize(
    ("path", "value", "live"),
    [
        (("spec", "containers", 0, "image"), "img:2", True),  # both rules allow it
        (("metadata", "labels", "app"), "y", True),  # metadata: upstream patches it
        (("spec", "containers", 0, "env"), [{"name": "A", "value": "2"}], False),
        # Kubernetes allows an init container's image, upstream does not: it never runs again
        (("spec", "initContainers", 0, "image"), "busybox:2", False),
        (("spec", "containers", 0, "resources"), {"limits": {"cpu": "1"}}, False),
    ],
)
def test_what_a_running_pod_can_take(path: tuple[str | int, ...], value: Any, live: bool) -> None:
    assert inplace.in_place_change(TEMPLATE, changed(path, value)) is live


def test_the_pod_patch_sets_images_metadata_and_the_revision() -> None:
    new = changed(("spec", "containers", 0, "image"), "img:2")
    new["metadata"]["labels"] = {"app": "x", "tier": "gpu"}
    old = json.loads(json.dumps(TEMPLATE))
    old["metadata"]["annotations"] = {"gone": "1"}
    assert inplace.pod_patch(new, "sts-abc", old) == {
        "metadata": {
            "labels": {"app": "x", "tier": "gpu", "controller-revision-hash": "sts-abc"},
            "annotations": {"gone": None},  # a strategic merge patch deletes it
        },
        "spec": {"containers": [{"name": "main", "image": "img:2"}]},
    }


@pytest.mark.parametrize(
    ("spec", "status", "runs"),
    [
        ("nginx:1.25", "docker.io/library/nginx:1.25", True),  # as containerd reports it
        ("nginx", "docker.io/library/nginx:latest", True),
        ("reg.io:5000/a/b:1", "reg.io:5000/a/b:1", True),
        ("nginx:1.25", "docker.io/library/nginx:1.24", False),
    ],
)
def test_a_pod_runs_its_spec_once_the_runtime_reports_the_image(
    spec: str, status: str, runs: bool
) -> None:
    pod = {
        "spec": {"containers": [{"name": "c", "image": spec}]},
        "status": {"containerStatuses": [{"name": "c", "image": status, "ready": True}]},
    }
    assert inplace.runs_spec(pod) is runs


# --- the build ----------------------------------------------------------------------------


def test_an_in_place_role_compiles_to_an_on_delete_statefulset_with_the_gate() -> None:
    (sts,) = statefulsets(build(group()))
    assert sts["spec"]["updateStrategy"] == {"type": "OnDelete"}  # no rollingUpdate beside it
    template = sts["spec"]["template"]
    assert {"conditionType": "InPlaceUpdateReady"} in template["spec"]["readinessGates"]
    assert template["metadata"]["annotations"]["rbgc.io/pod-shape"] == inplace.shape(template)
    recorded = json.loads(sts["metadata"]["annotations"]["rbgc.io/in-place-update"])
    # upstream's default type when the role writes none
    assert recorded == {
        "type": "InPlaceIfPossible",
        "gracePeriodSeconds": 0,
        "maxUnavailable": 2,
        "partition": 0,
    }


def test_a_plain_build_keeps_a_rolling_statefulset() -> None:
    (sts,) = statefulsets(build(group(), in_place=False))
    assert sts["spec"]["updateStrategy"]["type"] == "RollingUpdate"
    assert "readinessGates" not in sts["spec"]["template"]["spec"]


def test_recreate_pod_roles_and_v1alpha1_roles_keep_rolling() -> None:
    recreate = group(rollout="rolloutStrategy: {rollingUpdate: {type: RecreatePod}}")
    (sts,) = statefulsets(build(recreate))
    assert sts["spec"]["updateStrategy"]["type"] == "RollingUpdate"
    v1 = """\
    apiVersion: workloads.x-k8s.io/v1alpha1
    kind: RoleBasedGroup
    metadata: {name: g}
    spec:
      roles:
        - name: a
          replicas: 1
          template: {spec: {containers: [{name: c, image: i}]}}
    """
    (sts,) = statefulsets(build(v1))
    assert sts["spec"]["updateStrategy"]["type"] == "RollingUpdate"


def test_the_in_place_statefulsets_pass_the_kubernetes_schema() -> None:
    result = build(group())
    assert [d for d in check_bundle(result.bundle.manifests, "1.35")] == []


def test_the_facts_carry_the_update_and_the_strategy_the_body_cannot() -> None:
    (role,) = build(group()).bundle.groups[0].roles
    (w,) = role.workloads
    assert w.in_place == inplace.InPlace(type="InPlaceIfPossible", grace_period=0)
    assert w.strategy.max_unavailable == 2


LWS = """\
apiVersion: workloads.x-k8s.io/v1alpha2
kind: RoleBasedGroup
metadata: {name: g, namespace: llm}
spec:
  roles:
    - name: decode
      replicas: 2
      rolloutStrategy: {rollingUpdate: {type: InPlaceOnly}}
      leaderWorkerPattern:
        size: 2
        template: {spec: {containers: [{name: c, image: i}]}}
"""


def test_a_native_leaderworkerset_cannot_and_says_so_but_its_statefulsets_can() -> None:
    native = build(LWS)
    assert statefulsets(native) == []
    assert [d.code for d in native.warnings] == ["RBG141"]  # its pods are still replaced
    lowered = build(LWS, lws=LwsLowering.STATEFULSETS)
    kinds = {s["spec"]["updateStrategy"]["type"] for s in statefulsets(lowered)}
    assert kinds == {"OnDelete"}  # leader and worker StatefulSets
    # only the restart policy's RBG141 stays (--lws statefulsets restarts pods one by one)
    assert not [d for d in lowered.warnings if "updates pods in place" in d.message]
    assert [d for d in native.warnings if "updates pods in place" in d.message]


def test_rbg141_and_the_grace_warning_go_where_pods_are_updated_in_place() -> None:
    text = group(
        rollout="rolloutStrategy: {rollingUpdate: "
        "{type: InPlaceIfPossible, inPlaceUpdateStrategy: {gracePeriodSeconds: 5}}}"
    )
    assert sorted(d.code for d in build(text, in_place=False).warnings) == ["RBG122", "RBG141"]
    assert [d.code for d in build(text).warnings] == []


# --- diff and plan ------------------------------------------------------------------------


def test_an_image_change_is_in_place_with_no_restart() -> None:
    changes, result = rollout(group(), group(image="sglang:2"))
    (change,) = [c for c in changes if isinstance(c, Changed)]
    assert change.classes == (ChangeClass.IN_PLACE,)
    assert (change.restarts, change.in_place) == (0, 5)
    assert result.restarts == 0 and result.in_place == 5
    # maxUnavailable 2, highest ordinals first, on 1.33 too: rbgc takes the pods down, not the
    # StatefulSet controller, whose maxUnavailable waits for 1.35
    assert [a.updated_in_place for s in result.steps for a in s.actions] == [
        ("g-engine-4", "g-engine-3"),
        ("g-engine-2", "g-engine-1"),
        ("g-engine-0",),
    ]
    assert all(a.op is Op.IN_PLACE and a.pods_down == 0 for s in result.steps for a in s.actions)
    assert [s.down for s in result.steps] == [2, 2, 1]  # out of service while updated
    assert {i.name: i.holds for i in result.invariants}["in-place"]


def test_a_change_a_pod_cannot_take_recreates_its_pods_one_by_one() -> None:
    changes, result = rollout(group(), group(image="sglang:2", env="b"))
    (change,) = [c for c in changes if isinstance(c, Changed)]
    assert ChangeClass.RESTARTS in change.classes and change.restarts == 5
    assert "recreates the pods one by one" in " ".join(change.consequences)
    assert result.restarts == 5 and result.in_place == 0
    first = result.steps[0].actions[0]
    assert first.op is Op.ROLL and first.partition is None  # OnDelete: rbgc names the pods
    assert first.replaced == ("g-engine-4", "g-engine-3")


def test_in_place_only_refuses_a_change_a_pod_cannot_take() -> None:
    only = "rolloutStrategy: {rollingUpdate: {type: InPlaceOnly}}"
    a, b = build(group(rollout=only)).bundle, build(group(env="b", rollout=only)).bundle
    with pytest.raises(DiagnosticError) as exc:
        group_changes(a, b, diff_bundles(a, b))
    (found,) = exc.value.diagnostics
    assert found.code == "RBG804"
    assert "spec.template.spec.containers[sglang].env[MODE].value" in found.message
    assert found.span is not None and found.span.line == 6  # the role
    # images alone are fine
    c = build(group(image="sglang:2", rollout=only)).bundle
    group_changes(a, c, diff_bundles(a, c))


def test_a_partition_holds_the_lowest_ordinals_at_old() -> None:
    held = "rolloutStrategy: {rollingUpdate: {maxUnavailable: 2, partition: 3}}"
    _, result = rollout(group(rollout=held), group(image="sglang:2", rollout=held))
    updated = [n for s in result.steps for a in s.actions for n in a.updated_in_place]
    assert updated == ["g-engine-4", "g-engine-3"]


def test_scaling_up_while_updating_in_place_starts_new_pods_at_new() -> None:
    old = group().replace("replicas: 5", "replicas: 2")
    new = group(image="sglang:2").replace("replicas: 5", "replicas: 4")
    _, result = rollout(old, new)
    ops = [(a.op, a.updated_in_place, a.created) for s in result.steps for a in s.actions]
    # the kept pods first (an OnDelete StatefulSet would start new ordinals at NEW anyway)
    assert ops == [
        (Op.IN_PLACE, ("g-engine-1", "g-engine-0"), ()),
        (Op.SCALE, (), ("g-engine-2", "g-engine-3")),
    ]


def test_coordinated_in_place_roles_keep_their_skew() -> None:
    two = """\
apiVersion: workloads.x-k8s.io/v1alpha2
kind: RoleBasedGroup
metadata: {name: g, namespace: llm}
spec:
  roles:
    - name: prefill
      replicas: 4
      standalonePattern: {template: {spec: {containers: [{name: c, image: IMAGE}]}}}
    - name: decode
      replicas: 2
      standalonePattern: {template: {spec: {containers: [{name: c, image: IMAGE}]}}}
---
apiVersion: workloads.x-k8s.io/v1alpha2
kind: CoordinatedPolicy
metadata: {name: g, namespace: llm}
spec:
  policies:
    - name: pd
      roles: [prefill, decode]
      strategy: {rollingUpdate: {maxSkew: 25%}}
"""
    _, result = rollout(two.replace("IMAGE", "i:1"), two.replace("IMAGE", "i:2"))
    skews = [s.skew["pd"] for s in result.steps]
    assert max(skews) <= 50  # 25% plus one replica of the smallest role (decode: 1 of 2)
    assert result.in_place == 6 and result.restarts == 0


def test_the_plan_bundle_reads_in_place_from_the_bodies_alone() -> None:
    """sync rebuilds OLD's facts from the live objects (bundle.facts_of): the same facts."""
    from rbgc.bundle import facts_of

    compiled = build(group()).bundle
    rebuilt = Bundle(manifests=compiled.manifests, groups=facts_of(compiled.manifests))
    assert [w.in_place for g in rebuilt.groups for w in g.workloads()] == [
        w.in_place for g in compiled.groups for w in g.workloads()
    ]
    assert [w.strategy for g in rebuilt.groups for w in g.workloads()] == [
        w.strategy for g in compiled.groups for w in g.workloads()
    ]


def test_plan_reports_rbg804_at_the_role_and_exits_2(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from rbgc.cli import main

    only = "rolloutStrategy: {rollingUpdate: {type: InPlaceOnly}}"
    (tmp_path / "old.yaml").write_text(group(rollout=only))
    (tmp_path / "new.yaml").write_text(group(env="b", rollout=only))
    done = CliRunner().invoke(
        main,
        ["plan", "--in-place", str(tmp_path / "old.yaml"), str(tmp_path / "new.yaml")],
        env={"NO_COLOR": "1"},
    )
    assert (done.exit_code, done.stdout) == (2, "")
    assert (
        f"{tmp_path / 'new.yaml'}:6:13: error[RBG804]: role 'engine' is InPlaceOnly" in done.stderr
    )
    assert "Traceback" not in done.stderr
