"""Output conventions as data: v0.4.0's and HEAD's (v0.8), table-tested against the semantics
files (rbg-semantics.md §3-§4; rbg-v1alpha2-semantics.md §0, §2.2-§2.4, §2.10-§2.11, §13)."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from rbgc.cli import main
from rbgc.k8s import conventions as cv
from rbgc.k8s.conventions import V04, V08, conventions_for

GROUP = textwrap.dedent(
    """\
    apiVersion: workloads.x-k8s.io/v1alpha1
    kind: RoleBasedGroup
    metadata:
      name: demo
      namespace: default
    spec:
      roles:
        - name: prefill
          replicas: 2
          servicePorts: [{name: http-port, port: 8000}]
          template:
            spec:
              containers:
                - name: main
                  image: nginx:1.27
                  env: [{name: USER_VAR, value: "1"}]
        - name: router
          replicas: 1
          workload: {apiVersion: apps/v1, kind: Deployment}
          template:
            spec:
              containers: [{name: main, image: nginx:1.27}]
    """
)


@pytest.mark.parametrize(
    ("conventions", "group", "role", "workload", "service"),
    [
        (V04, "demo", "p", "demo-p", "demo-p"),
        (V08, "demo", "p", "demo-p", "s-demo-p"),
        # HEAD cuts to 63 characters, then drops trailing dashes (helper.go:87-115)
        (V08, "g" * 40, "r" * 30, "g" * 40 + "-" + "r" * 22, "s-" + "g" * 40 + "-" + "r" * 20),
        (V08, "g" * 61, "r", "g" * 61 + "-r", "s-" + "g" * 61),
        (V08, "g" * 62, "r", "g" * 62, "s-" + "g" * 61),
        # v0.4.0 never truncated (validate refuses names Kubernetes would reject)
        (V04, "g" * 62, "r", "g" * 62 + "-r", "g" * 62 + "-r"),
    ],
)
def test_names_and_truncation(
    conventions: cv.Conventions, group: str, role: str, workload: str, service: str
) -> None:
    assert conventions.workload_name(group, role) == workload
    assert conventions.service_name(group, role) == service
    assert len(conventions.workload_name(group, role)) <= (conventions.max_name or 10**6)


@pytest.mark.parametrize(
    ("conventions", "keys", "env", "config_map"),
    [
        (
            V04,
            (
                "rolebasedgroup.workloads.x-k8s.io/name",
                "rolebasedgroup.workloads.x-k8s.io/role",
                "rolebasedgroup.workloads.x-k8s.io/group-unique-key",
            ),
            ("GROUP_NAME", "ROLE_INDEX", "ROLE_NAME"),
            "demo-p",
        ),
        (
            V08,
            (
                "rbg.workloads.x-k8s.io/group-name",
                "rbg.workloads.x-k8s.io/role-name",
                "rbg.workloads.x-k8s.io/group-uid",
            ),
            ("RBG_GROUP_NAME", "RBG_ROLE_INDEX", "RBG_ROLE_NAME"),
            "demo",
        ),
    ],
)
def test_keys_env_and_config_map(
    conventions: cv.Conventions, keys: tuple[str, str, str], env: tuple[str, ...], config_map: str
) -> None:
    assert conventions.reserved_labels == keys
    assert conventions.reserved_env == env
    assert conventions.config_map_name("demo", "p") == config_map


def test_group_uid_test_vector() -> None:
    # rbg-v1alpha2-semantics.md §13.1
    assert cv.group_unique_key("default", "demo") == "60712f45d72293f5714d00f45a6b901b93958596"


@pytest.mark.parametrize(
    ("api_version", "chosen", "release"),
    [
        ("workloads.x-k8s.io/v1alpha1", None, "v0.4"),
        ("workloads.x-k8s.io/v1alpha2", None, "v0.8"),
        ("workloads.x-k8s.io/v1alpha1", "v0.8", "v0.8"),
        ("workloads.x-k8s.io/v1alpha2", "v0.4", "v0.4"),
    ],
)
def test_default_follows_the_input(api_version: str, chosen: str | None, release: str) -> None:
    assert conventions_for(api_version, chosen).release == release


def _build(*args: str, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    result = CliRunner().invoke(main, ["build", "-", *args], input=GROUP, env=env or {})
    assert result.exit_code == 0, result.output
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def _by(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def test_v0_4_output_one_config_map_per_role() -> None:
    objects = _build()
    assert sorted(_by(objects, "ConfigMap")) == ["demo-prefill", "demo-router"]
    assert sorted(_by(objects, "Service")) == ["demo-prefill"]
    sts = _by(objects, "StatefulSet")["demo-prefill"]
    assert sts["spec"]["serviceName"] == "demo-prefill"
    env = [e["name"] for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert env == ["GROUP_NAME", "ROLE_INDEX", "ROLE_NAME", "USER_VAR"]


@pytest.mark.parametrize("how", ["flag", "env"])
def test_v0_8_output(how: str) -> None:
    if how == "flag":
        objects = _build("--conventions", "v0.8")
    else:
        objects = _build(env={"ARGOCD_ENV_RBGC_CONVENTIONS": "v0.8"})
    # one ConfigMap `R`, listing only the stateful roles (§2.11)
    config_maps = _by(objects, "ConfigMap")
    assert list(config_maps) == ["demo"]
    config = yaml.safe_load(config_maps["demo"]["data"]["config.yaml"])
    assert config["group"] == {"name": "demo", "roles": ["prefill"], "size": 1}
    assert [i["address"] for i in config["roles"]["prefill"]["instances"]] == [
        "demo-prefill-0.s-demo-prefill",
        "demo-prefill-1.s-demo-prefill",
    ]
    # Service `s-{R}-{r}`, type ClusterIP, selecting the HEAD keys (§2.10)
    service = _by(objects, "Service")["s-demo-prefill"]
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["selector"] == {
        "rbg.workloads.x-k8s.io/group-name": "demo",
        "rbg.workloads.x-k8s.io/role-name": "prefill",
    }
    sts = _by(objects, "StatefulSet")["demo-prefill"]
    assert sts["spec"]["serviceName"] == "s-demo-prefill"
    assert set(sts["spec"]["selector"]["matchLabels"]) == set(V08.reserved_labels)
    assert sts["metadata"]["annotations"]["rbg.workloads.x-k8s.io/role-size"] == "2"
    pod = sts["spec"]["template"]["spec"]
    # RBG_* first (sorted batch), the user's after, in their order (§2.4)
    env = [e["name"] for e in pod["containers"][0]["env"]]
    assert env == ["RBG_GROUP_NAME", "RBG_ROLE_INDEX", "RBG_ROLE_NAME", "USER_VAR"]
    assert pod["volumes"][-1]["configMap"]["name"] == "demo"
    # Deployments: no config mount, no index (§2.8)
    deploy = _by(objects, "Deployment")["demo-router"]["spec"]["template"]["spec"]
    assert "volumes" not in deploy
    assert [e["name"] for e in deploy["containers"][0]["env"]] == [
        "RBG_GROUP_NAME",
        "RBG_ROLE_NAME",
    ]
    assert not any(
        k.startswith("rolebasedgroup.") for o in objects for k in o["metadata"].get("labels", {})
    )


def test_unknown_release_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["build", "-", "--conventions", "v0.5"], input=GROUP)
    assert result.exit_code == 2
    assert "v0.4" in result.output and "v0.8" in result.output


@pytest.mark.parametrize("command", ["build", "validate", "diff", "plan", "sync", "krm"])
def test_every_compiling_command_takes_the_flag(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert "--conventions" in result.output
    assert "ARGOCD_ENV_RBGC_CONVENTIONS" in result.output


EXCLUSIVE = textwrap.dedent(
    """\
    apiVersion: workloads.x-k8s.io/v1alpha1
    kind: RoleBasedGroup
    metadata:
      name: demo
      namespace: default
      annotations:
        rolebasedgroup.workloads.x-k8s.io/exclusive-topology: kubernetes.io/hostname
    spec:
      roles:
        - name: a
          template:
            spec:
              containers: [{name: main, image: nginx:1.27}]
        - name: b
          template:
            metadata:
              annotations:
                rolebasedgroup.workloads.x-k8s.io/disable-exclusive-topology: "true"
            spec:
              containers: [{name: main, image: nginx:1.27}]
    """
)


@pytest.mark.parametrize("release", ["v0.4", "v0.8"])
def test_exclusive_topology_reads_the_input_key_writes_the_release_key(release: str) -> None:
    out = CliRunner().invoke(main, ["build", "-", "--conventions", release], input=EXCLUSIVE)
    assert out.exit_code == 0, out.output
    conventions = cv.RELEASES[release]
    sts = {
        d["metadata"]["name"]: d["spec"]["template"]
        for d in yaml.safe_load_all(out.stdout)
        if d and d["kind"] == "StatefulSet"
    }
    a = sts["demo-a"]
    assert a["metadata"]["annotations"] == {
        conventions.annotation_exclusive_topology: "kubernetes.io/hostname"
    }
    term = a["spec"]["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    # the affinity selects a label the pods carry (HEAD's group-unique-hash would not)
    assert term[0]["labelSelector"]["matchExpressions"][0]["key"] == conventions.label_group_key
    assert conventions.label_group_key in a["metadata"]["labels"]
    assert "affinity" not in sts["demo-b"]["spec"]
