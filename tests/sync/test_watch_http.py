"""`rbgc sync --watch` over real HTTP against the emulator: list, watch with bookmarks, 410
re-list, a restarted pod's instance recreated and backed off, two watchers of which one acts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rbgc.bundle import Bundle
from rbgc.k8s.conventions import LABEL_NAME, LABEL_ROLE
from rbgc.sync import restarts
from rbgc.sync.cluster import WallClock
from rbgc.sync.kube import KubeCluster, connect
from rbgc.sync.run import Connection, Where, sync
from rbgc.sync.watch import Watcher
from tests.sync.emulator import serve
from tests.sync.helpers import V
from tests.sync.test_watch import build


def pod(name: str, role: str, restarts: int = 0) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "llm",
            "labels": {LABEL_NAME: "g", LABEL_ROLE: role},
        },
        "status": {
            "phase": "Running",
            "containerStatuses": [{"name": role, "ready": True, "restartCount": restarts}],
        },
    }


def watcher(url: str, bundle: Bundle) -> Watcher:
    cluster: KubeCluster = connect(kubeconfig=None, context=None, server=url, timeout=10)

    def converge() -> None:
        link = Connection.real(cluster)
        sync(bundle, version=V, where=Where(server=url), timeout=30, connected=link)

    return Watcher(
        cluster=cluster,
        bundle=bundle,
        clock=WallClock(),
        wall=time.time,
        converge=converge,
        watch_seconds=1.0,
        retry=0.1,
    )


@pytest.fixture
def emulator() -> Iterator[tuple[Any, str]]:
    with serve() as (emu, url):
        yield emu, url


def test_over_http_a_restart_recreates_the_instance_backs_off_and_410_relists(
    tmp_path: Path, emulator: tuple[Any, str]
) -> None:
    emu, url = emulator
    w = watcher(url, build(tmp_path))
    w.step()  # leads, converges (applies the group), lists, watches a quiet second
    assert w.leading and ("apply", "apps/v1/statefulsets", "g-engine") in emu.writes
    assert w.versions["llm"] == str(emu.version)  # a bookmark brought the version forward
    watches = [dict(r.params) for r in list(emu) if dict(r.params).get("watch")]
    assert watches and all(p["allowWatchBookmarks"] == "true" for p in watches)
    for name in ("g-engine-1", "g-engine-1-1"):
        emu.put_object("v1/pods", pod(name, "engine", restarts=1 if name.endswith("-1-1") else 0))
    w.step()  # the watch streams the pods; the restarted one's instance is recreated
    assert [(r.instance, r.pod) for _, r in w.recreated] == [(1, "g-engine-1-1")]
    deleted = [name for verb, plural, name in emu.writes if verb == "delete"]
    assert deleted == ["g-engine-1", "g-engine-1-1"]
    # It crashes again at once: the next recreation waits 30 s (upstream's base delay).
    emu.put_object("v1/pods", pod("g-engine-1-1", "engine", restarts=1))
    w.step()
    assert len(w.recreated) == 1
    due, later = restarts.due(w.bundle.groups, w.pods.values(), w.history, w.clock.now())
    assert due == [] and later is not None and 25 < later - w.clock.now() <= 30
    # etcd compacts past the watcher's version: the next watch is 410 Gone, it lists again.
    emu.put_object("v1/configmaps", {"metadata": {"name": "x", "namespace": "llm"}})
    emu.compact()
    emu.cut()  # and the API server ends the open watch: it is started again from that version
    w.step()
    assert w.relists == 1 and ("llm", "g-engine-1-1") in w.pods
    w.close()


def test_over_http_of_two_watchers_only_the_leader_recreates(
    tmp_path: Path, emulator: tuple[Any, str]
) -> None:
    emu, url = emulator
    bundle = build(tmp_path)
    a, b = watcher(url, bundle), watcher(url, bundle)
    a.step()
    emu.put_object("v1/pods", pod("g-engine-0-1", "engine", restarts=2))
    for _ in range(2):
        b.step()
        a.step()
    assert a.leading and not b.leading
    assert [r.pod for _, r in a.recreated] == ["g-engine-0-1"] and b.recreated == []
    lease = emu.get_object("coordination.k8s.io/v1/leases", "llm", "rbgc-watch")
    assert lease is not None and lease["spec"]["holderIdentity"] == a.holder
    a.close()  # gives the Lease up: b leads at its next try
    b.step()
    assert b.leading
    b.close()
