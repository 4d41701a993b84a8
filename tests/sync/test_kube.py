"""The real adapter over real HTTP on loopback, against kmock's Kubernetes emulator: the wire
(paths, fieldManager, force, Content-Type) and errors mapped to `ClusterError`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import kmock
import pytest

from rbgc.sync.cluster import ClusterError, ConfigError, KindNotServed, Ref
from rbgc.sync.kube import KubeCluster, connect
from tests.sync.emulator import serve

STS = {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": {
        "name": "g-a",
        "namespace": "llm",
        "labels": {"rolebasedgroup.workloads.x-k8s.io/name": "g"},
    },
    "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c", "image": "i:1"}]}}},
}
LWS = {
    "apiVersion": "leaderworkerset.x-k8s.io/v1",
    "kind": "LeaderWorkerSet",
    "metadata": {"name": "g-b", "namespace": "llm"},
    "spec": {"replicas": 1, "leaderWorkerTemplate": {"size": 2}},
}


@pytest.fixture
def emulator() -> Iterator[tuple[Any, KubeCluster]]:
    with serve() as (emu, url):
        emu.resources["apps/v1/statefulsets"] = kmock.ResourceInfo(
            kind="StatefulSet", namespaced=True
        )
        yield emu, connect(kubeconfig=None, context=None, server=url, timeout=10)


def _wire(emu: Any) -> list[tuple[str, str, dict[str, str], str | None]]:
    return [
        (
            str(r.method).rpartition(".")[2].upper(),
            r.url.path,
            dict(r.params),
            r.headers.get("Content-Type"),
        )
        for r in list(emu)
    ]


def test_apply_is_server_side_apply_with_field_manager_rbgc(
    emulator: tuple[Any, KubeCluster],
) -> None:
    emu, cluster = emulator
    cluster.apply(STS)
    method, path, params, content_type = _wire(emu)[-1]
    assert (method, path) == ("PATCH", "/apis/apps/v1/namespaces/llm/statefulsets/g-a")
    assert params == {"fieldManager": "rbgc"}  # conflicts are not forced unless asked
    assert content_type == "application/apply-patch+yaml"
    sent = list(emu)[-1]
    assert json.loads(sent.body) == STS  # the plain dict, untouched by client models
    stored = cluster.get(Ref.of(STS))
    assert stored is not None and stored["spec"] == STS["spec"]
    assert [m["manager"] for m in stored["metadata"]["managedFields"]] == ["rbgc"]


def test_get_list_delete_paths_and_absent_objects(emulator: tuple[Any, KubeCluster]) -> None:
    emu, cluster = emulator
    cluster.apply(STS)
    found = cluster.list(
        "apps/v1", "StatefulSet", "llm", {"rolebasedgroup.workloads.x-k8s.io/name": "g"}
    )
    assert [Ref.of(o) for o in found] == [Ref.of(STS)]
    assert cluster.get(Ref("apps/v1", "StatefulSet", "llm", "nope")) is None
    cluster.delete(Ref.of(STS))
    assert cluster.get(Ref.of(STS)) is None
    cluster.delete(Ref.of(STS))  # already gone: not an error
    wire = _wire(emu)
    assert wire[1][:3] == (
        "GET",
        "/apis/apps/v1/namespaces/llm/statefulsets",
        {"labelSelector": "rolebasedgroup.workloads.x-k8s.io/name=g"},
    )
    assert (
        "DELETE",
        "/apis/apps/v1/namespaces/llm/statefulsets/g-a",
        {},
        "application/json",
    ) in wire
    deletes = [r for r in list(emu) if str(r.method).upper().endswith("DELETE")]
    assert json.loads(deletes[0].body)["propagationPolicy"] == "Foreground"


def test_core_kinds_use_the_core_group_path(emulator: tuple[Any, KubeCluster]) -> None:
    emu, cluster = emulator
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "llm"},
        "data": {"a": "1"},
    }
    cluster.apply(cm)
    assert _wire(emu)[-1][1] == "/api/v1/namespaces/llm/configmaps/c"


def test_a_crd_that_is_not_installed_is_kind_not_served(emulator: tuple[Any, KubeCluster]) -> None:
    emu, cluster = emulator
    with pytest.raises(KindNotServed) as caught:
        cluster.apply(LWS)
    assert caught.value.code == 404
    assert "LeaderWorkerSet" in caught.value.message and "CRD" in caught.value.message
    # Discovery asked for the group/version; nothing was written.
    assert [w[:2] for w in _wire(emu)] == [("GET", "/apis/leaderworkerset.x-k8s.io/v1")]
    with pytest.raises(KindNotServed):  # and is not asked again
        cluster.list("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet", "llm", {})
    assert len(_wire(emu)) == 1


def test_an_installed_crd_is_found_by_discovery(emulator: tuple[Any, KubeCluster]) -> None:
    emu, cluster = emulator
    emu.resources["leaderworkerset.x-k8s.io/v1/leaderworkersets"] = kmock.ResourceInfo(
        kind="LeaderWorkerSet", namespaced=True, subresources={"status"}
    )
    cluster.apply(LWS)
    cluster.apply(LWS)  # discovery is asked once per group/version
    wire = _wire(emu)
    assert [w[1] for w in wire] == [
        "/apis/leaderworkerset.x-k8s.io/v1",
        "/apis/leaderworkerset.x-k8s.io/v1/namespaces/llm/leaderworkersets/g-b",
        "/apis/leaderworkerset.x-k8s.io/v1/namespaces/llm/leaderworkersets/g-b",
    ]


def test_a_refused_request_becomes_cluster_error_from_the_status_body() -> None:
    emu = kmock.KubernetesEmulator()
    with serve(emu) as (emu, url):
        emu.resources["apps/v1/statefulsets"] = kmock.ResourceInfo(
            kind="StatefulSet", namespaced=True
        )
        cluster = connect(kubeconfig=None, context=None, server=url, timeout=10)
        # Plain kmock answers an apply of an absent object as a merge patch: 404 with a Status.
        with pytest.raises(ClusterError) as caught:
            cluster.apply(STS)
    assert (caught.value.code, caught.value.reason) == (404, "Object Not Found")
    assert not isinstance(caught.value, KindNotServed)


def test_an_unreachable_server_is_cluster_error() -> None:
    with serve() as (_, url):
        pass  # the server is gone now: its port refuses connections
    cluster = connect(kubeconfig=None, context=None, server=url, timeout=2)
    cluster.bound(1)  # retried (a refused connection is transient) within one second
    with pytest.raises(ClusterError) as caught:
        cluster.get(Ref.of(STS))
    assert (caught.value.code, caught.value.reason) == (0, "Unreachable")
    assert caught.value.attempts >= 2  # retried, until the next backoff would pass the second


def test_a_missing_kubeconfig_is_a_config_error(tmp_path: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        connect(kubeconfig=str(tmp_path / "nope"), context=None, server=None)
    assert str(caught.value).startswith("kubeconfig: ")
