"""The sync scenarios against a real cluster, opt-in: set RBGC_TEST_KUBECONFIG to a
kubeconfig whose current context may create and delete a namespace `rbgc-e2e-<random>`.
Without it every test here is skipped, saying so (the same scenarios run on the simulator and
over HTTP against the emulator in the other test files)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rbgc.sync import applyset, lease
from rbgc.sync.cluster import Ref
from rbgc.sync.kube import KubeCluster, Request, connect
from rbgc.sync.run import SyncFailed, Where
from rbgc.sync.run import sync as run_sync
from tests.sync.helpers import V, compiled

KUBECONFIG = os.environ.get("RBGC_TEST_KUBECONFIG")
pytestmark = pytest.mark.skipif(
    not KUBECONFIG,
    reason="opt-in: set RBGC_TEST_KUBECONFIG to run the sync scenarios against a real cluster",
)

GROUP = """apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata: {{name: e2e, namespace: {ns}}}
spec:
  roles:
    - name: worker
      replicas: 1
      template:
        spec:
          containers: [{{name: s, image: "busybox:1.36", command: [sleep, "{sleep}"]}}]
"""


@pytest.fixture
def real(tmp_path: Path) -> Iterator[tuple[KubeCluster, str, Any]]:
    ns = f"rbgc-e2e-{secrets.token_hex(3)}"
    cluster = connect(kubeconfig=KUBECONFIG, context=None, server=None, timeout=30)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
    cluster.apply(namespace)

    def write(sleep: str) -> str:
        path = tmp_path / f"group-{sleep}.yaml"
        path.write_text(GROUP.format(ns=ns, sleep=sleep), encoding="utf-8")
        return str(path)

    try:
        yield cluster, ns, write
    finally:
        cluster.delete(Ref.of(namespace))


def _sync(path: str, **kw: Any) -> str:
    where = Where(kubeconfig=KUBECONFIG)
    return run_sync(compiled(path), version=V, where=where, timeout=300, **kw)


def test_ownership_locking_and_conflicts(real: tuple[KubeCluster, str, Any]) -> None:
    cluster, ns, write = real
    assert _sync(write("3600")).startswith("converged:")
    parent = cluster.get(Ref("v1", "ConfigMap", ns, "rbgc-applyset-e2e"))
    assert parent is not None and applyset.from_parent(parent) is not None
    held = cluster.get(lease.lease_ref(ns, "e2e"))
    assert held is not None and held["spec"]["holderIdentity"] == ""
    # A planted workload with the group's labels survives --prune.
    planted = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "hand-made",
            "namespace": ns,
            "labels": {"rolebasedgroup.workloads.x-k8s.io/name": "e2e"},
        },
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "hand-made"}},
            "template": {
                "metadata": {"labels": {"app": "hand-made"}},
                "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
            },
        },
    }
    cluster.apply(planted)
    _sync(write("3600"), prune=True)
    assert cluster.get(Ref.of(planted)) is not None
    # Another manager's change to a field rbgc sets is a conflict until --force-conflicts.
    sts = Ref("apps/v1", "StatefulSet", ns, "e2e-worker")
    live = cluster.get(sts)
    assert live is not None
    containers = live["spec"]["template"]["spec"]["containers"]
    containers[0]["command"] = ["sleep", "7200"]
    human: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": sts.name, "namespace": ns},
        "spec": {"template": {"spec": {"containers": containers}}},
    }
    path = f"/apis/apps/v1/namespaces/{ns}/statefulsets/{sts.name}"
    headers = {"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"}
    query = (("fieldManager", "e2e-human"), ("force", "true"))
    cluster.send(Request(method="PATCH", path=path, query=query, headers=headers, body=human))
    with pytest.raises(SyncFailed) as caught:
        _sync(write("1800"))
    assert caught.value.diagnostic.code == "RBG913"
    assert "e2e-human" in caught.value.diagnostic.message
    assert _sync(write("1800"), force_conflicts=True).startswith("converged:")
