"""The conformance corpus: upstream v0.4.0 examples, checked against rbg-semantics.md §3-§4.

Every RoleBasedGroup/RoleBasedGroupSet document in ../shared/compat must compile, with native
LeaderWorkerSets and with their plain-StatefulSet lowering, for every supported Kubernetes
version.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from rbgc.model import LwsLowering, Target
from rbgc.pipeline import Options, Result, compile_paths
from tests.conftest import COMPAT
from tests.invariants import check_invariants

P = "rolebasedgroup.workloads.x-k8s.io/"
FILES = sorted(COMPAT.rglob("*.yaml"))


def _compile(path: Path) -> Result:
    return compile_paths([str(path)], Options())


def _objects(result: Result) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m.kind, m.name): m.body for m in result.bundle.manifests}


@pytest.mark.parametrize("lws", list(LwsLowering), ids=str)
@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(COMPAT)))
def test_every_compat_file_compiles_and_holds_the_invariants(path: Path, lws: LwsLowering) -> None:
    result = compile_paths([str(path)], Options(target=Target(lws=lws)))
    check_invariants(result)


def test_rbg_base_objects_names_labels_env() -> None:
    objs = _objects(_compile(COMPAT / "basics" / "rbg-base.yaml"))
    key = hashlib.sha1(b"default/nginx-cluster").hexdigest()
    identity = {P + "name": "nginx-cluster", P + "role": "leader", P + "group-unique-key": key}

    sts = objs[("StatefulSet", "nginx-cluster-leader")]
    assert sts["spec"]["serviceName"] == "nginx-cluster-leader"
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    assert sts["spec"]["selector"]["matchLabels"] == identity
    assert identity.items() <= sts["metadata"]["labels"].items()
    assert sts["metadata"]["annotations"][P + "role-size"] == "1"
    assert sts["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "partition": 0},
    }
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert [e["name"] for e in container["env"]] == ["GROUP_NAME", "ROLE_INDEX", "ROLE_NAME"]
    assert container["env"][1]["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.labels['apps.kubernetes.io/pod-index']"
    )
    assert {"name": "rbg-cluster-config", "mountPath": "/etc/rbg", "readOnly": True} in (
        container["volumeMounts"]
    )
    assert sts["spec"]["template"]["spec"]["volumes"] == [
        {
            "name": "rbg-cluster-config",
            "configMap": {
                "name": "nginx-cluster-leader",
                "items": [{"key": "config.yaml", "path": "config.yaml"}],
            },
        }
    ]

    svc = objs[("Service", "nginx-cluster-leader")]
    assert svc["spec"] == {
        "clusterIP": "None",
        "selector": {P + "name": "nginx-cluster", P + "role": "leader"},
        "publishNotReadyAddresses": True,
    }

    deploy = objs[("Deployment", "nginx-cluster-worker")]
    assert "strategy" not in deploy["spec"], "no rollingUpdate: Kubernetes' default applies"
    env = deploy["spec"]["template"]["spec"]["containers"][0]["env"]
    assert [e["name"] for e in env] == ["GROUP_NAME", "ROLE_NAME"], "Deployments have no index"
    assert ("Service", "nginx-cluster-worker") not in objs, "no Service for Deployment roles"
    assert ("ConfigMap", "nginx-cluster-worker") in objs, "every role gets a ConfigMap"


def test_rbg_base_waves_follow_dependencies() -> None:
    result = _compile(COMPAT / "basics" / "rbg-base.yaml")
    waves = {(m.kind, m.name): m.wave for m in result.bundle.manifests}
    assert waves[("StatefulSet", "nginx-cluster-leader")] == 0
    assert waves[("Deployment", "nginx-cluster-worker")] == 1
    assert waves[("ConfigMap", "nginx-cluster-worker")] == 1


def test_sglang_pd_config_yaml_is_upstreams_structure_with_resolving_addresses() -> None:
    objs = _objects(_compile(COMPAT / "pd-disagg" / "sglang" / "sglang-pd.yaml"))
    texts = {
        objs[("ConfigMap", f"sglang-pd-{r}")]["data"]["config.yaml"]
        for r in ("scheduler", "prefill", "decode")
    }
    assert len(texts) == 1, "every role's ConfigMap carries the same file"
    assert texts.pop() == (
        "group:\n"
        "  name: sglang-pd\n"
        "  roles:\n"
        "  - scheduler\n"
        "  - prefill\n"
        "  - decode\n"
        "  size: 3\n"
        "roles:\n"
        "  decode:\n"
        "    instances:\n"
        "    - address: sglang-pd-decode-0.sglang-pd-decode\n"
        "    size: 1\n"
        "  prefill:\n"
        "    instances:\n"
        "    - address: sglang-pd-prefill-0.sglang-pd-prefill\n"
        "    - address: sglang-pd-prefill-1.sglang-pd-prefill\n"
        "    size: 2\n"
        "  scheduler:\n"
        "    instances:\n"
        "    - address: sglang-pd-scheduler-0.sglang-pd-scheduler\n"
        "    size: 1\n"
    )


def test_sglang_pd_hard_coded_dns_names_resolve() -> None:
    """The example's router hard-codes `sglang-pd-prefill-0.sglang-pd-prefill` (v0.4.0 names)."""
    objs = _objects(_compile(COMPAT / "pd-disagg" / "sglang" / "sglang-pd.yaml"))
    assert objs[("StatefulSet", "sglang-pd-prefill")]["spec"]["serviceName"] == "sglang-pd-prefill"
    assert ("Service", "sglang-pd-prefill") in objs
    user_env = objs[("StatefulSet", "sglang-pd-prefill")]["spec"]["template"]["spec"]["containers"][
        0
    ]["env"]
    assert [e["name"] for e in user_env] == ["GROUP_NAME", "ROLE_INDEX", "ROLE_NAME", "POD_IP"]


def test_passthrough_documents_are_unchanged() -> None:
    path = COMPAT / "pd-disagg" / "sglang" / "sglang-pd.yaml"
    objs = _objects(_compile(path))
    import yaml

    docs = [d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] == "Service"]
    assert objs[("Service", "sglang-pd")] == docs[0]


def test_role_set_expands_to_named_groups() -> None:
    objs = _objects(_compile(COMPAT / "rbgs" / "rbgs-base.yaml"))
    for i in (0, 1):
        sts = objs[("StatefulSet", f"rbgs-test-{i}-role-1")]
        assert sts["metadata"]["labels"][P + "name"] == f"rbgs-test-{i}"
        assert ("Deployment", f"rbgs-test-{i}-role-2") in objs
    assert ("StatefulSet", "rbgs-test-2-role-1") not in objs
