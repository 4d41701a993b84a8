"""Passes 1 and 4: validation of names and rollouts; expansion of roles into workloads."""

from __future__ import annotations

from typing import Any

import pytest

from rbgc.diagnostics import DiagnosticError
from rbgc.pipeline import Result
from tests.conftest import compile_yaml


def _role(extra: str = "", *, name: str = "r", group: str = "g", replicas: int = 4) -> str:
    return f"""
        apiVersion: workloads.x-k8s.io/v1alpha1
        kind: RoleBasedGroup
        metadata: {{name: {group}}}
        spec:
          roles:
          - name: {name}
            replicas: {replicas}
            {extra}
            template: {{spec: {{containers: [{{name: c, image: i}}]}}}}
        """


def _codes(text: str) -> list[str]:
    with pytest.raises(DiagnosticError) as exc:
        compile_yaml(text)
    return [d.code for d in exc.value.diagnostics]


def _workload(result: Result) -> dict[str, Any]:
    return next(m.body for m in result.bundle.manifests if m.kind in ("StatefulSet", "Deployment"))


@pytest.mark.parametrize(
    ("group", "name", "code"),
    [
        ("g", "Prefill", "RBG111"),
        ("g", "pre_fill", "RBG111"),
        ("g", "-a", "RBG111"),
        ("1g", "r", "RBG111"),  # the group prefixes Service names: must start with a letter
        ("g" * 30, "r" * 22, "RBG112"),  # 53 characters: too long for a StatefulSet
    ],
)
def test_bad_names(group: str, name: str, code: str) -> None:
    assert _codes(_role(name=name, group=group)) == [code]


def test_longest_statefulset_name_is_accepted() -> None:
    workload = _workload(compile_yaml(_role(group="g" * 30, name="r" * 21)))
    assert (workload["kind"], workload["metadata"]["name"]) == (
        "StatefulSet",
        "g" * 30 + "-" + "r" * 21,
    )
    assert len(workload["metadata"]["name"]) == 52  # pods add -N and a revision hash label


def test_deployment_may_use_63_characters() -> None:
    text = _role("workload: {kind: Deployment}", group="g" * 30, name="r" * 32)
    workload = _workload(compile_yaml(text))
    assert (workload["kind"], workload["metadata"]["name"]) == (
        "Deployment",
        "g" * 30 + "-" + "r" * 32,
    )
    assert len(workload["metadata"]["name"]) == 63


def test_duplicate_role_names() -> None:
    text = _role().replace(
        "spec:\n          roles:\n",
        "spec:\n          roles:\n          - name: r\n"
        "            template: {spec: {containers: [{name: c, image: i}]}}\n",
    )
    assert _codes(text) == ["RBG110"]


@pytest.mark.parametrize(
    "rolling",
    [
        "{maxUnavailable: 0, maxSurge: 0}",
        "{maxUnavailable: 0}",  # maxSurge defaults to 0
        "{maxUnavailable: 10%, maxSurge: 0}",  # 10% of 4 rounds down to 0
    ],
)
def test_rollout_that_cannot_progress(rolling: str) -> None:
    assert _codes(_role(f"rolloutStrategy: {{rollingUpdate: {rolling}}}")) == ["RBG114"]


def test_unsupported_workload_kind() -> None:
    assert _codes(_role("workload: {apiVersion: apps/v1, kind: DaemonSet}")) == ["RBG121"]


def test_a_misspelt_workload_kind_gets_the_one_it_meant() -> None:
    """As a misspelt kind of document does (RBG104): a guess beats a list to read."""
    with pytest.raises(DiagnosticError) as exc:
        compile_yaml(_role("workload: {apiVersion: apps/v1, kind: Deploymnet}"))
    (found,) = exc.value.diagnostics
    assert (found.code, found.help) == ("RBG121", "did you mean 'apps/v1/Deployment'?")


@pytest.mark.parametrize(
    ("extra", "update"),
    [
        ("", {"maxUnavailable": 1, "partition": 0}),
        ("rolloutStrategy: {type: RollingUpdate}", {"maxUnavailable": 1, "partition": 0}),
        ("rolloutStrategy: {rollingUpdate: {}}", {"maxUnavailable": 1, "partition": 0}),
        (
            "rolloutStrategy: {rollingUpdate: {maxUnavailable: 2, maxSurge: 2, partition: 1}}",
            {"maxUnavailable": 2, "partition": 1},
        ),
        (
            "rolloutStrategy: {rollingUpdate: {maxUnavailable: 50%, partition: 30%}}",
            {"maxUnavailable": "50%", "partition": 2},
        ),  # partition percent rounds up (v0.5.0+)
    ],
)
def test_statefulset_update_strategy(extra: str, update: dict[str, Any]) -> None:
    sts = _workload(compile_yaml(_role(extra)))
    assert sts["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": update}


@pytest.mark.parametrize(
    ("extra", "strategy"),
    [
        ("", None),  # Kubernetes' 25%/25% default, as upstream
        ("rolloutStrategy: {type: RollingUpdate}", None),
        (
            "rolloutStrategy: {rollingUpdate: {maxSurge: 2}}",
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 1}},
        ),
    ],
)
def test_deployment_strategy(extra: str, strategy: dict[str, Any] | None) -> None:
    deploy = _workload(compile_yaml(_role(f"workload: {{kind: Deployment}}\n            {extra}")))
    assert deploy["spec"].get("strategy") == strategy


def test_role_labels_annotations_and_min_ready_seconds_reach_the_workload_only() -> None:
    sts = _workload(
        compile_yaml(
            _role(
                "labels: {team: infra}\n            annotations: {note: x}\n"
                "            minReadySeconds: 5"
            )
        )
    )
    assert sts["metadata"]["labels"]["team"] == "infra"
    assert sts["metadata"]["annotations"]["note"] == "x"
    assert sts["spec"]["minReadySeconds"] == 5
    assert "team" not in sts["spec"]["template"]["metadata"]["labels"]


def test_user_pod_labels_kept_identity_labels_win_with_a_warning() -> None:
    result = compile_yaml("""
        apiVersion: workloads.x-k8s.io/v1alpha1
        kind: RoleBasedGroup
        metadata: {name: g}
        spec:
          roles:
          - name: r
            template:
              metadata:
                labels: {app: x, rolebasedgroup.workloads.x-k8s.io/role: other}
              spec: {containers: [{name: c, image: i}]}
        """)
    labels = _workload(result)["spec"]["template"]["metadata"]["labels"]
    assert labels["app"] == "x"
    assert labels["rolebasedgroup.workloads.x-k8s.io/role"] == "r"
    assert [w.code for w in result.warnings] == ["RBG502"]


def test_namespace_sets_group_unique_key() -> None:
    import hashlib

    a = _workload(compile_yaml(_role(), namespace="team-a"))
    b = _workload(
        compile_yaml(
            _role().replace("{name: g}", "{name: g, namespace: team-b}"), namespace="team-a"
        )
    )
    key = "rolebasedgroup.workloads.x-k8s.io/group-unique-key"
    assert a["metadata"]["labels"][key] == hashlib.sha1(b"team-a/g").hexdigest()
    assert b["metadata"]["labels"][key] == hashlib.sha1(b"team-b/g").hexdigest()
    assert b["metadata"]["namespace"] == "team-b"


def test_deployment_zero_check_uses_the_values_as_written() -> None:
    """Kubernetes checks a Deployment's unscaled values: 10% of 4 pods is fine there."""
    compile_yaml(
        _role(
            "workload: {kind: Deployment}\n            "
            "rolloutStrategy: {rollingUpdate: {maxUnavailable: 10%, maxSurge: 0}}"
        )
    )
    assert _codes(
        _role(
            "workload: {kind: Deployment}\n            "
            "rolloutStrategy: {rollingUpdate: {maxUnavailable: 0%, maxSurge: 0}}"
        )
    ) == ["RBG114"]


@pytest.mark.parametrize("size", [1, 2])
def test_lws_names_leave_room_for_worker_statefulsets_in_both_lowerings(size: int) -> None:
    lws = (
        "workload: {apiVersion: leaderworkerset.x-k8s.io/v1, kind: LeaderWorkerSet}\n"
        f"            leaderWorkerSet: {{size: {size}}}"
    )
    text = _role(lws, group="g" * 48, name="lws", replicas=2)  # 52 characters
    if size == 1:
        compile_yaml(text)  # no worker StatefulSets: the leader's 52 characters fit
    else:
        assert _codes(text) == ["RBG112"]  # `{name}-1` would be 54


def test_a_namespaceless_object_is_its_default_namespace_twin() -> None:
    """A user's Service without a namespace lands in the default one, where the role's
    generated Service of that name is: it gives way to the generated one (RBG504)."""
    text = (
        _role().rstrip() + "\n        ---\n        apiVersion: v1\n        kind: Service\n"
        "        metadata: {name: g-r}\n        spec: {clusterIP: None}\n"
    )
    result = compile_yaml(text)
    services = [m for m in result.bundle.manifests if m.kind == "Service"]
    assert [(m.name, m.group) for m in services] == [("g-r", "g")]
    assert [d.code for d in result.warnings] == ["RBG504"]
    # two objects of the user's under one identity (one namespaceless) stay an error
    own = (
        "        ---\n        apiVersion: v1\n        kind: Service\n"
        "        metadata: {name: mine%s}\n"
    )
    assert "RBG113" in _codes(_role().rstrip() + "\n" + own % "" + own % ", namespace: default")


def test_a_role_set_reports_each_problem_once() -> None:
    text = """
        apiVersion: workloads.x-k8s.io/v1alpha1
        kind: RoleBasedGroupSet
        metadata: {name: s}
        spec:
          replicas: 3
          template:
            roles:
            - name: Bad
              template: {spec: {containers: [{name: c, image: i}]}}
        """
    with pytest.raises(DiagnosticError) as exc:
        compile_yaml(text)
    assert [(d.code, d.span.line) for d in exc.value.diagnostics] == [("RBG111", 9)]  # type: ignore[union-attr]
