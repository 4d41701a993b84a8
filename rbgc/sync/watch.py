"""`rbgc sync --watch`: keep the groups converged, and perform their restart policies.

One watcher leads at a time: it holds the Lease `rbgc-watch` in the namespace of the first group
(client-go's leader election: renewed every third of its duration, taken over only once
expired); the others stand by and try again. The leader converges every group (a normal sync,
under the groups' own sync Leases, so a CI `rbgc sync` and the watcher never interleave), then
follows the groups' pods with an informer (informer.py: one list and one watch per namespace,
from the list's resourceVersion, with bookmarks; a 410 Gone lists again). A pod that restarted,
in a role whose compiled facts carry a `Restart`, leads to the recreation restarts.py decides,
backed off; after recreating a group the watcher converges it again. Every `resync` seconds it
converges anyway, so drift (a deleted workload, a changed field) is repaired. A `Stop` (SIGTERM:
the Pod is being stopped) ends it between two writes, giving its Leases up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rbgc.bundle import Bundle
from rbgc.diagnostics import Diagnostic, warning
from rbgc.k8s.controllers import Version
from rbgc.sync import lease, restarts
from rbgc.sync.cluster import Clock, Cluster, ClusterError, Feed, Object
from rbgc.sync.connect import Connection, Where, connect
from rbgc.sync.failure import Event, Failure, Interrupted, Progress, Stop, SyncFailed, failed
from rbgc.sync.informer import Informer
from rbgc.sync.metrics import CONTENT_TYPE, Metrics, address, serve
from rbgc.sync.run import sync

LEASE = "rbgc-watch"
GONE_WITHIN = 300.0  # seconds to wait for a recreated group's workloads to go
# Every pod of the namespace: the facts tell which are ours, whichever operator release's
# labels (v0.4.0's or HEAD's) the build gave them; no one label key selects both.
SELECTOR = ""
SLICE = 2.0  # a wait is cut into slices this long, so that a signal is heard within one


@dataclass(slots=True, kw_only=True)
class Watcher:
    cluster: Cluster
    bundle: Bundle
    clock: Clock
    wall: Callable[[], float]  # epoch seconds, for Lease times
    converge: Callable[[], None]  # one sync of the bundle; raises SyncFailed
    emit: Callable[[str], None] = lambda line: None
    events: Callable[[Event], None] = lambda event: None
    warn: Callable[[Diagnostic], None] = lambda diagnostic: None
    resync: float = 300.0
    watch_seconds: float = lease.DURATION / 3  # a round ends in time to renew the Lease
    retry: float = 5.0  # seconds between tries while standing by or after an error
    holder: str = field(default_factory=lease.identity)
    leading: bool = False
    stop: Stop = field(default_factory=Stop)
    history: dict[str, restarts.History] = field(default_factory=dict)
    recreated: list[tuple[float, restarts.Recreate]] = field(default_factory=list)  # when, what
    reachable: bool = False  # the last round reached the API server (/readyz)
    _informer: Informer | None = None
    _lock: lease.Lock | None = None
    _converged: float = float("-inf")
    _standing_by: bool = False

    @property
    def namespaces(self) -> list[str]:
        return sorted({g.namespace for g in self.bundle.groups})

    @property
    def informer(self) -> Informer:
        if self._informer is None:
            self._informer = Informer(self.cluster)
        return self._informer

    @property
    def pods(self) -> dict[tuple[str, str], Object]:
        """The groups' namespaces' pods, as the watch last showed them."""
        out = {}
        for namespace in self.namespaces:
            for name, body in self.informer.store.get(_pods(namespace), {}).items():
                out[(namespace, name)] = body
        return out

    @property
    def relists(self) -> int:
        return self.informer.relists

    @property
    def versions(self) -> dict[str, str]:
        """namespace -> the pods' resourceVersion the watch got to."""
        return {f.namespace: v for f, v in self.informer.versions.items() if f.kind == "Pod"}

    @property
    def leases(self) -> int:
        return len(self._lock.held) if self._lock is not None else 0

    def run(self, until: Callable[[], bool] = lambda: False) -> None:
        """Watch until `until()` says stop (a test) or a signal did; gives the Lease up then."""
        try:
            while not until() and not self.stop.requested:
                self.step()
        finally:
            self.close()

    def step(self) -> None:
        """One round: lead (or stand by a while), converge when due, watch, recreate."""
        try:
            if not self._lead():
                self._pause(self.retry)
                return
            self._round()
            self.reachable = True
        except lease.LeaseLost as lost:
            self._lost(lost)
        except Interrupted:
            return  # `run` sees the signal and gives the Lease up
        except ClusterError as exc:  # the API server hiccuped: try again shortly
            self.reachable = False
            self._say("error", f"{exc.code} {exc.reason}: {exc.message}")
            self._pause(self.retry)

    def keep_leading(self) -> None:
        """Renew the leader Lease while a convergence runs (it may wait for minutes);
        `LeaseLost` stops that sync before its next write."""
        if self._lock is not None:
            self._lock.renew()

    def close(self) -> None:
        """Give the leader Lease up, so that a standby takes over at once; end the watches."""
        if self._informer is not None:
            self._informer.close()
            self._informer = None
        if self._lock is not None:
            self._lock.release()
            self._lock, self.leading = None, False

    def _lead(self) -> bool:
        """Take or renew the leader Lease; whether this watcher leads."""
        if self._lock is None:
            lock = lease.Lock(self.cluster, now=self.wall, holder=self.holder, prefix=LEASE)
            try:
                lock.acquire([(self.namespaces[0], "")])
            except lease.LeaseHeld as held:
                self.reachable = True
                if not self._standing_by:
                    self._say("standby", f"standing by: {held.holder} leads")
                    self._standing_by = True
                return False
            self._lock, self.leading, self._standing_by = lock, True, False
            self._converged = float("-inf")  # a new leader converges first
            self._say("leading", f"leading as {self.holder}")
            return True
        try:
            self._lock.renew()
        except lease.LeaseLost as lost:
            self._lost(lost)
            return False
        return True

    def _round(self) -> None:
        if self.clock.now() - self._converged >= self.resync:
            self._converge()
        for namespace in self.namespaces:
            self.informer.follow(_pods(namespace))
        self._act()  # what the list showed
        ends = self.clock.now() + self.watch_seconds
        while self.clock.now() < ends and not self.stop.requested:
            news = self.informer.wait(min(SLICE, ends - self.clock.now()))
            if any(e.get("type") != "DELETED" and restarts.restarted(e["object"]) for _, e in news):
                break  # act at once
        self._act()

    def _converge(self) -> None:
        try:
            self.converge()
        except SyncFailed as failure:  # reported; the watch goes on and converges again later
            if failure.failure in (Failure.SIGINT, Failure.SIGTERM):
                raise Interrupted(self.stop.signum) from None
            self._say("not-converged", failure.diagnostic.message)
            self.warn(failure.diagnostic)
        self._converged = self.clock.now()

    def _act(self) -> None:
        due, _ = restarts.due(
            self.bundle.groups, self.pods.values(), self.history, self.clock.now()
        )
        for recreate in due:
            assert self._lock is not None
            self.stop.check()
            self._lock.renew()  # still the leader before every write
            self._say(
                "recreate",
                recreate.describe() + f" (recreation {recreate.count})",
                group=recreate.group,
                role=recreate.role,
                instance=recreate.instance,
                pod=recreate.pod,
                count=recreate.count,
            )
            self.warn(
                warning(
                    "RBG916",
                    f"{recreate.describe()}; recreation {recreate.count} in a row",
                    None,
                    help="see why the pod restarted (kubectl logs --previous); "
                    "`restartPolicy: None` lets Kubernetes restart the single pod instead",
                )
            )
            for ref in recreate.delete:
                self.informer.follow(Feed.of(ref))  # watched before it goes
                self.cluster.delete(ref)
            restarts.remember(self.history, recreate, self.clock.now())
            self.recreated.append((self.clock.now(), recreate))
            if recreate.instance is None:
                self._gone(recreate)
                self._converge()  # the deleted workloads are applied again, wave by wave

    def _lost(self, lost: lease.LeaseLost) -> None:
        self._say("lost-leadership", str(lost))
        self.warn(
            warning(
                "RBG917",
                f"this watcher no longer leads: {lost}",
                None,
                help="another replica leads now; this one stands by and tries again",
            )
        )
        self.leading, self._lock = False, None

    def _gone(self, recreate: restarts.Recreate) -> None:
        """Wait (as upstream, at most 5 minutes) until the deleted workloads are gone: a
        foreground delete ends once their pods have."""
        deadline = self.clock.now() + GONE_WITHIN
        while any(self.informer.get(ref) is not None for ref in recreate.delete):
            if self.clock.now() >= deadline:
                self._say("error", f"{recreate.group}: workloads still terminating; applying")
                return
            assert self._lock is not None
            self._lock.renew()
            self.stop.check()
            self.informer.wait(min(SLICE, deadline - self.clock.now()))

    def _pause(self, seconds: float) -> None:
        ends = self.clock.now() + seconds
        while self.clock.now() < ends and not self.stop.requested:
            self.clock.wait(self.stop.wake, min(SLICE, ends - self.clock.now()))

    def _say(self, kind: str, text: str, **fields: object) -> None:
        self.emit(text)
        self.events({"event": kind, "message": text, **fields})


def _pods(namespace: str) -> Feed:
    return Feed("v1", "Pod", namespace, SELECTOR)


def watch(
    new: Bundle,
    *,
    version: Version,
    where: Where,
    timeout: float,
    force_conflicts: bool = False,
    parallel: int = 16,
    emit: Callable[[str], None] = lambda line: None,
    events: Callable[[Event], None] = lambda event: None,
    warn: Callable[[Diagnostic], None] = lambda diagnostic: None,
    stop: Stop | None = None,
    seconds: float | None = None,
    connected: Connection | None = None,
    metrics_bind: str = "0",
    probe_bind: str = "0",
    started: Callable[[Watcher], None] = lambda watcher: None,
) -> Watcher:
    """`--watch`: keep NEW converged and perform its restart policies until `stop` (a signal)
    or for `seconds` on the cluster's clock (simulated seconds on the simulator). Each
    convergence is a sync bounded by `timeout`; its failure is reported and watched on.
    Serves Prometheus metrics on `metrics_bind` and `/healthz`, `/readyz` on `probe_bind`
    (HOST:PORT, ":PORT"; "0": not served). `started` hears of the watcher before it runs.
    Returns the `Watcher`. Raises `SyncFailed` when no cluster can be reached."""
    stop = Stop() if stop is None else stop
    binds = [address(metrics_bind), address(probe_bind)]  # ValueError before connecting
    try:
        link = connected or connect(where, version, timeout)
    except Exception as exc:
        failure = failed(exc, Progress())
        if failure is None:
            raise
        raise failure from None
    sender = link.sender
    converging = [False]
    metrics = Metrics(
        now=link.clock.now,
        gauges={"rbgc_leases_held": lambda: watcher.leases + converging[0] * len(new.groups)},
    )
    metrics.expect({g.key: max((r.wave for r in g.roles), default=0) for g in new.groups})
    told = events

    def heard(event: Event) -> None:
        metrics.event(event)
        told(event)

    if sender is not None:
        sender.on_answer = metrics.answer

    def converge() -> None:
        if sender is not None:  # each sync gets the whole --timeout
            sender.bound(timeout)
        converging[0] = True
        try:
            sync(
                new,
                version=version,
                where=where,
                timeout=timeout,
                force_conflicts=force_conflicts,
                wait_lock=True,
                parallel=parallel,
                emit=emit,
                connected=link,
                events=heard,
                heartbeat=lambda: watcher.keep_leading(),
                stop=stop,
            )
        finally:
            converging[0] = False
            if sender is not None:  # watching runs for ever: no overall --timeout
                sender.bound(None)

    if sender is not None:
        sender.bound(None)
    watcher = Watcher(
        cluster=link.cluster,
        bundle=new,
        clock=link.clock,
        wall=link.wall,
        converge=converge,
        emit=emit,
        events=heard,
        warn=warn,
        stop=stop,
    )
    routes = [
        {"/metrics": lambda: (200, CONTENT_TYPE, metrics.exposition())},
        {"/healthz": lambda: (200, "text/plain", "ok\n"), "/readyz": lambda: _ready(watcher)},
    ]
    if binds[0] is not None and binds[0] == binds[1]:  # one address: one server for both
        routes, binds = [{**routes[0], **routes[1]}], [binds[0]]
    servers = [
        serve(bind, paths) for bind, paths in zip(binds, routes, strict=True) if bind is not None
    ]
    started(watcher)
    ends = None if seconds is None else link.clock.now() + seconds
    try:
        watcher.run(lambda: ends is not None and link.clock.now() >= ends)
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    return watcher


def _ready(watcher: Watcher) -> tuple[int, str, str]:
    """/readyz: the last round reached the API server (leading or standing by)."""
    if watcher.reachable:
        return 200, "text/plain", "ok\n"
    return 503, "text/plain", "not ready: the API server was not reached in the last round\n"
