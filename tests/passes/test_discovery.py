"""Pass 5: discovery. config.yaml as upstream's config_builder_test, env and mounts."""

from __future__ import annotations

import pytest

from rbgc.k8s.goyaml import marshal, natural_key
from rbgc.pipeline import Result
from tests.conftest import compile_yaml


def _pd(ports: str = "", replicas: int = 2, env: str = "", kind: str = "StatefulSet") -> Result:
    return compile_yaml(f"""
        apiVersion: workloads.x-k8s.io/v1alpha1
        kind: RoleBasedGroup
        metadata: {{name: test-cluster}}
        spec:
          roles:
          - name: worker
            replicas: {replicas}
            workload: {{kind: {kind}}}
            {ports}
            template:
              spec:
                containers:
                - name: c
                  image: i
                  {env}
        """)


def _config(result: Result) -> str:
    cm = next(m for m in result.bundle.manifests if m.kind == "ConfigMap")
    text = cm.body["data"]["config.yaml"]
    assert isinstance(text, str)
    return text


def test_config_without_ports() -> None:
    assert _config(_pd()) == (
        "group:\n  name: test-cluster\n  roles:\n  - worker\n  size: 1\n"
        "roles:\n  worker:\n    instances:\n"
        "    - address: test-cluster-worker-0.test-cluster-worker\n"
        "    - address: test-cluster-worker-1.test-cluster-worker\n"
        "    size: 2\n"
    )


def test_config_port_keys_and_natural_order() -> None:
    ports = (
        "servicePorts: [{port: 443}, {port: 80}, {name: HTTP-Alt, port: 8080}, "
        "{name: grpc, port: 9000}]"
    )
    text = _config(_pd(ports=ports, replicas=1))
    # upstream: name lower-cased with '-' -> '_', else port<N>; yaml.v2 natural order
    assert (
        "      ports:\n        grpc: 9000\n        http_alt: 8080\n        port80: 80\n"
        "        port443: 443\n" in text
    )


def test_zero_replicas_has_empty_instances() -> None:
    assert "  worker:\n    instances: []\n    size: 0\n" in _config(_pd(replicas=0))


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (["worker-10", "worker-2", "worker-1"], ["worker-1", "worker-2", "worker-10"]),
        (["port443", "port80"], ["port80", "port443"]),
        (["b", "a1", "a"], ["a", "a1", "b"]),
        (["x-1", "xa"], ["x-1", "xa"]),  # a non-letter sorts before a letter
        (["a10", "a9", "a09"], ["a9", "a09", "a10"]),
    ],
)
def test_natural_key_order(keys: list[str], expected: list[str]) -> None:
    assert sorted(keys, key=natural_key) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("true", 'name: "true"\n'),
        ("1", 'name: "1"\n'),
        ("y", 'name: "y"\n'),
        ("", 'name: ""\n'),  # resolves to null in yaml.v2
        ("1e3", 'name: "1e3"\n'),  # yamlStyleFloat needs no dot
        ("0o755", 'name: "0o755"\n'),  # Go's base-0 ParseInt
        ("0x1F", 'name: "0x1F"\n'),
        ("1_000", 'name: "1_000"\n'),  # underscores are dropped before parsing
        ("2024-01-02", 'name: "2024-01-02"\n'),  # a timestamp
        ("1:30", 'name: "1:30"\n'),  # base-60 float
        (".5", 'name: ".5"\n'),
        ("1.2.3", "name: 1.2.3\n"),
        ("v1", "name: v1\n"),
        ("plain", "name: plain\n"),
        ("a: b", "name: 'a: b'\n"),
    ],
)
def test_go_yaml_quoting(value: str, text: str) -> None:
    assert marshal({"name": value}) == text


def test_env_injected_first_user_order_kept_and_overrides_warned() -> None:
    env = (
        "env: [{name: Z, value: '1'}, {name: ROLE_NAME, value: mine}, "
        "{name: A, value: $(GROUP_NAME)}]"
    )
    result = _pd(env=env)
    sts = next(m for m in result.bundle.manifests if m.kind == "StatefulSet")
    names = [e["name"] for e in sts.body["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert names == ["GROUP_NAME", "ROLE_INDEX", "ROLE_NAME", "Z", "A"]
    (w,) = result.warnings
    assert w.code == "RBG501" and "ROLE_NAME" in w.message


def test_deployment_roles_get_no_role_index() -> None:
    result = _pd(kind="Deployment")
    dep = next(m for m in result.bundle.manifests if m.kind == "Deployment")
    names = [e["name"] for e in dep.body["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert names == ["GROUP_NAME", "ROLE_NAME"]


def test_existing_volume_and_mount_are_not_duplicated() -> None:
    result = compile_yaml("""
        apiVersion: workloads.x-k8s.io/v1alpha1
        kind: RoleBasedGroup
        metadata: {name: g}
        spec:
          roles:
          - name: r
            template:
              spec:
                volumes: [{name: rbg-cluster-config, emptyDir: {}}]
                containers:
                - name: c
                  image: i
                  volumeMounts: [{name: rbg-cluster-config, mountPath: /etc/rbg}]
                initContainers: [{name: init, image: i}]
        """)
    sts = next(m for m in result.bundle.manifests if m.kind == "StatefulSet")
    spec = sts.body["spec"]["template"]["spec"]
    assert spec["volumes"] == [{"name": "rbg-cluster-config", "emptyDir": {}}]
    assert spec["containers"][0]["volumeMounts"] == [
        {"name": "rbg-cluster-config", "mountPath": "/etc/rbg"}
    ]
    assert "env" not in spec["initContainers"][0], "init containers get no env (upstream)"


def test_config_yaml_never_uses_anchors() -> None:
    """yaml.v2 writes a shared `ports` map out for every instance; PyYAML would alias it."""
    text = _config(_pd(ports="servicePorts: [{name: http, port: 8000}]", replicas=3))
    assert "&" not in text and "*" not in text
    assert text.count("        http: 8000\n") == 3
