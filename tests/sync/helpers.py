"""Shared by the sync tests: compile an example, sync it on the simulator or over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rbgc.bundle import Bundle
from rbgc.model import Target as Build
from rbgc.pipeline import Options, compile_paths
from rbgc.sync.cluster import Cluster
from rbgc.sync.controller import Outcome, execute, prepare
from rbgc.sync.simulator import SimClock, Simulator

ROOT = Path(__file__).resolve().parents[2]
PD = str(ROOT / "examples" / "pd-disaggregated.yaml")
PD_V2 = str(ROOT / "upgrades" / "pd-v2.yaml")
GANG = str(ROOT / "examples" / "multi-node-gang.yaml")
SINGLE = str(ROOT / "examples" / "single-node.yaml")
V = (1, 33)
GROUP_LABEL = "rolebasedgroup.workloads.x-k8s.io/name"
ROLE_LABEL = "rolebasedgroup.workloads.x-k8s.io/role"


def compiled(*paths: str) -> Bundle:
    options = Options(namespace="default", target=Build(kubernetes_version=V))
    return compile_paths(list(paths), options).bundle


class FastClock:
    """Wall-clock time for the emulator (its toy controller is ready at once): no sleeping."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds

    def wait(self, wake: threading.Event, seconds: float) -> None:
        """A watch's event comes over loopback within milliseconds: waited for in real
        time; the fake time moves on only when none came."""
        if not wake.wait(min(seconds, 1.0)):
            self.sleep(seconds)


def sync(cluster: Cluster, paths: Sequence[str], **kw: Any) -> Outcome:
    """Plan NEW (`paths`) against `cluster` and carry it out; `prune` is passed to the plan."""
    prune = bool(kw.pop("prune", False))
    plan = prepare(cluster, compiled(*paths), V, prune=prune)
    clock = SimClock(cluster) if isinstance(cluster, Simulator) else FastClock()
    return execute(cluster, plan, clock=clock, timeout=kw.pop("timeout", 600), interval=1, **kw)


def sync_run(cluster: Cluster, paths: Sequence[str], **kw: Any) -> str:
    """`rbgc sync` of `paths` as the command runs it (its Leases too) over `cluster`: the
    simulator, or the real adapter over HTTP."""
    from rbgc.sync.kube import KubeCluster
    from rbgc.sync.run import Connection, Where
    from rbgc.sync.run import sync as run_sync

    if isinstance(cluster, Simulator):
        link = Connection.simulated(cluster)
    else:
        assert isinstance(cluster, KubeCluster)
        link = Connection.real(cluster)
    where = Where(simulate=isinstance(cluster, Simulator))
    timeout = kw.pop("timeout", 600)
    return run_sync(compiled(*paths), version=V, where=where, timeout=timeout, connected=link, **kw)


def planted(kind: str, name: str, group: str, role: str | None = None) -> dict[str, Any]:
    """An object another tool made that carries a group's labels (issue 12's
    `hand-made-decode` and `legacy-monitor`)."""
    labels = {GROUP_LABEL: group, **({ROLE_LABEL: role} if role else {})}
    spec: dict[str, Any] = {
        "replicas": 1,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "c", "image": "busybox:1"}]},
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "llm", "labels": labels},
        "spec": spec,
    }
