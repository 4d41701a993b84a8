"""Where a sync runs (`Where`: the simulator, or a kubeconfig / context / server and the rate
limit), and the `Connection` made from it: the cluster, its clocks, and, for a real cluster,
the sender whose requests a sync bounds by its --timeout and whose retries it reports."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rbgc.k8s.controllers import Version
from rbgc.sync.cluster import Clock, Cluster, Sender
from rbgc.sync.ratelimit import DEFAULT_BURST, DEFAULT_QPS

SIMULATED_EPOCH = 1_800_000_000.0  # the simulator's wall time: a fixed epoch plus its ticks


@dataclass(frozen=True, slots=True, kw_only=True)
class Where:
    """The cluster to sync with: a simulated one, or a kubeconfig / context / server."""

    simulate: bool = False
    faults: Any = None  # simulator.Faults, for --simulate
    kubeconfig: str | None = None
    context: str | None = None
    server: str | None = None
    qps: float = DEFAULT_QPS  # --qps / --burst: the client-side rate limit (qps 0: none)
    burst: int = DEFAULT_BURST


@dataclass(frozen=True, slots=True, kw_only=True)
class Connection:
    """A cluster to sync with: the cluster, the clock its time runs on, its wall time (epoch
    seconds, for Lease times), how often to look at a Lease another sync holds, and the real
    adapter's `sender` (None on the simulator, whose requests take no time)."""

    cluster: Cluster
    clock: Clock
    wall: Callable[[], float]
    poll: float = 2.0
    sender: Sender | None = None

    @staticmethod
    def simulated(sim: Any) -> Connection:
        """Over a `simulator.Simulator`: simulated seconds, from a fixed epoch."""
        from rbgc.sync.simulator import SimClock

        return Connection(
            cluster=sim, clock=SimClock(sim), wall=lambda: SIMULATED_EPOCH + sim.now, poll=1.0
        )

    @staticmethod
    def real(cluster: Any) -> Connection:
        """Over a `kube.KubeCluster`: its clock, the wall clock, and it as the sender."""
        return Connection(cluster=cluster, clock=cluster.clock, wall=time.time, sender=cluster)


def connect(where: Where, version: Version, timeout: float) -> Connection:
    """The connection `where` says; a real cluster's requests are bounded by `timeout` from
    now (and retried within it). Raises `ConfigError` when no cluster is configured."""
    if where.simulate:
        from rbgc.sync.simulator import Simulator

        return Connection.simulated(Simulator(kubernetes_version=version, faults=where.faults))
    from rbgc.sync import kube

    cluster = kube.connect(
        kubeconfig=where.kubeconfig,
        context=where.context,
        server=where.server,
        qps=where.qps,
        burst=where.burst,
    )
    cluster.bound(timeout)
    return Connection.real(cluster)
