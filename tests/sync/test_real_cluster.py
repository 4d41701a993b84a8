"""The sync scenarios against a real cluster, opt-in: set RBGC_TEST_KUBECONFIG to a
kubeconfig whose current context may create and delete a namespace `rbgc-e2e-<random>` (and a
ClusterRole for the RBAC test). Without it every test here is skipped, saying so (the same
scenarios run on the simulator and over HTTP against the emulator in the other test files).

What only a real API server proves: server-side apply's merge of lists by key, its own
conflict texts, the RBAC of examples/in-cluster/, Leases and watches as it serves them.
One command runs it against a throw-away kind cluster: `tests/sync/kind.sh`."""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from rbgc.sync import applyset, lease
from rbgc.sync.cluster import ENDED, Feed, Ref
from rbgc.sync.informer import Informer
from rbgc.sync.kube import KubeCluster, Request, connect
from rbgc.sync.run import Connection, SyncFailed, Where
from rbgc.sync.run import sync as run_sync
from rbgc.sync.watch import watch
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


def _ssa(cluster: KubeCluster, body: dict[str, Any], manager: str, force: bool = False) -> Any:
    """A server-side apply as another tool (field manager `manager`) sends it."""
    ref = Ref.of(body)
    path = f"/apis/apps/v1/namespaces/{ref.namespace}/statefulsets/{ref.name}"
    headers = {"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"}
    query = (("fieldManager", manager),) + ((("force", "true"),) if force else ())
    return cluster.send(Request(method="PATCH", path=path, query=query, headers=headers, body=body))


def test_server_side_apply_merges_lists_by_key_and_names_the_real_conflict(
    real: tuple[KubeCluster, str, Any],
) -> None:
    # What the emulator cannot prove: containers and env merge by name (a list map), so
    # another manager's env var beside rbgc's survives rbgc's next apply; and the API
    # server's own conflict text, parsed into field and manager.
    cluster, ns, write = real
    assert _sync(write("3600")).startswith("converged:")
    sts = Ref("apps/v1", "StatefulSet", ns, "e2e-worker")
    sidecar_env: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": sts.name, "namespace": ns},
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "s", "env": [{"name": "EXTRA", "value": "1"}]}]}
            }
        },
    }
    _ssa(cluster, sidecar_env, "e2e-injector")
    assert _sync(write("3600")).startswith("converged:")  # no conflict: disjoint fields
    live = cluster.get(sts)
    assert live is not None
    container = live["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["sleep", "3600"]  # rbgc's field
    assert {"name": "EXTRA", "value": "1"} in container["env"]  # theirs, merged by key
    managers = {m["manager"] for m in live["metadata"]["managedFields"]}
    assert {"rbgc", "e2e-injector"} <= managers
    # A conflict as the API server words it: the field path with its list key.
    taken = json.loads(json.dumps(sidecar_env))
    taken["spec"]["template"]["spec"]["containers"][0] = {"name": "s", "command": ["sleep", "7"]}
    _ssa(cluster, taken, "e2e-human", force=True)
    with pytest.raises(SyncFailed) as caught:
        _sync(write("3600"))
    message = caught.value.diagnostic.message
    assert caught.value.diagnostic.code == "RBG913"
    assert '.spec.template.spec.containers[name="s"].command' in message
    assert "'e2e-human'" in message


def test_two_syncs_at_once_one_is_refused_by_the_lease(real: tuple[KubeCluster, str, Any]) -> None:
    cluster, ns, write = real
    path = write("3600")
    results: list[Any] = []

    def one() -> None:
        try:
            results.append(_sync(path))
        except SyncFailed as exc:
            results.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    codes = sorted(r.diagnostic.code if isinstance(r, SyncFailed) else "ok" for r in results)
    assert codes in (["RBG915", "ok"], ["ok", "ok"])  # the second may start after the first
    held = cluster.get(lease.lease_ref(ns, "e2e"))
    assert held is not None and held["spec"]["holderIdentity"] == ""


def test_a_watch_sees_changes_and_relists_when_its_version_is_gone(
    real: tuple[KubeCluster, str, Any],
) -> None:
    cluster, ns, _ = real
    informer = Informer(cluster)
    feed = Feed("v1", "ConfigMap", ns)
    informer.follow(feed)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "seen", "namespace": ns}}
    cluster.apply(cm)
    for _ in range(30):
        if informer.get(Ref.of(cm)) is not None:
            break
        informer.wait(2.0)
    assert informer.get(Ref.of(cm)) is not None
    # A watch from a version long compacted away (resourceVersion 1) is 410 Gone on a real
    # API server, once etcd has compacted (every 5 minutes): the informer lists again.
    watches = cluster.watches()
    watches.start(feed, "1")
    events = watches.wait(10.0)
    watches.stop()
    kinds = {e.get("type") for _, e in events}
    gone = [e for _, e in events if e.get("type") == "ERROR"]
    assert kinds <= {"ERROR", "ADDED", "MODIFIED", "DELETED", "BOOKMARK", ENDED}
    if gone:
        assert gone[0]["object"]["code"] == 410
    informer.close()


def test_the_in_cluster_rbac_lets_a_watcher_do_its_work(real: tuple[KubeCluster, str, Any]) -> None:
    # examples/in-cluster/rbac.yaml, bound in the test namespace, impersonated: a watcher
    # converges the group, lists and watches its pods, and is refused nothing (a 403 fails).
    cluster, ns, write = real
    here = Path(__file__).resolve().parents[2] / "examples" / "in-cluster" / "rbac.yaml"
    role_name = f"rbgc-watch-{ns}"
    for doc in yaml.safe_load_all(here.read_text()):
        doc["metadata"]["namespace"] = ns
        if doc["kind"] == "ClusterRole":
            doc["metadata"]["name"] = role_name
            doc["metadata"].pop("namespace")
        if doc["kind"] == "RoleBinding":
            doc["roleRef"]["name"] = role_name
            doc["subjects"][0]["namespace"] = ns
        cluster.apply(doc)
    try:
        watcher_cluster = connect(kubeconfig=KUBECONFIG, context=None, server=None, timeout=30)
        watcher_cluster.api.set_default_header(
            "Impersonate-User", f"system:serviceaccount:{ns}:rbgc-watch"
        )
        bundle = compiled(write("3600"))
        watcher = watch(
            bundle,
            version=V,
            where=Where(kubeconfig=KUBECONFIG),
            timeout=300,
            connected=Connection.real(watcher_cluster),
            seconds=30,
        )
        assert watcher.reachable and watcher.recreated == []
        assert watcher.pods  # listed and watched under the Role's rules
    finally:
        cluster.delete(Ref("rbac.authorization.k8s.io/v1", "ClusterRole", "", role_name))
