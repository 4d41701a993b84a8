"""`rbgc sync --watch`: keep the groups converged, and perform their restart policies.

One watcher leads at a time: it holds the Lease `rbgc-watch` in the namespace of the first group
(client-go's leader election: renewed every third of its duration, taken over only once
expired); the others stand by and try again. The leader converges every group (a normal sync,
under the groups' own sync Leases, so a CI `rbgc sync` and the watcher never interleave), then
lists the groups' pods once per namespace and follows them with watches from the list's
resourceVersion: bookmarks keep that version fresh on a quiet watch, and a 410 Gone (the
version was compacted away) makes it list again. A pod that restarted, in a role whose compiled
facts carry a `Restart`, leads to the recreation restarts.py decides, backed off; after
recreating a group the watcher converges it again. Every `resync` seconds it converges anyway,
so drift (a deleted workload, a changed field) is repaired.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rbgc.bundle import Bundle
from rbgc.diagnostics import Diagnostic, warning
from rbgc.sync import inplace, lease, restarts
from rbgc.sync.cluster import GONE, Clock, Cluster, ClusterError, Object
from rbgc.sync.controller import Event

LEASE = "rbgc-watch"
GONE_WITHIN = 300.0  # seconds to wait for a recreated group's workloads to go
# Every pod of the namespace: the facts tell which are ours, whichever operator release's
# labels (v0.4.0's or HEAD's) the build gave them; no one label key selects both.
SELECTOR = ""


@dataclass(slots=True, kw_only=True)
class Watcher:
    cluster: Cluster
    bundle: Bundle
    clock: Clock
    wall: Callable[[], float]  # epoch seconds, for Lease times
    converge: Callable[[], None]  # one sync of the bundle; raises run.SyncFailed
    emit: Callable[[str], None] = lambda line: None
    events: Callable[[Event], None] = lambda event: None
    warn: Callable[[Diagnostic], None] = lambda diagnostic: None
    resync: float = 300.0
    watch_seconds: float = lease.DURATION / 3  # a watch ends in time to renew the Lease
    retry: float = 5.0  # seconds between tries while standing by or after an error
    holder: str = field(default_factory=lease.identity)
    leading: bool = False
    pods: dict[tuple[str, str], Object] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)  # namespace -> resourceVersion
    history: dict[str, restarts.History] = field(default_factory=dict)
    recreated: list[tuple[float, restarts.Recreate]] = field(default_factory=list)  # when, what
    relists: int = 0
    _lock: lease.Lock | None = None
    _converged: float = float("-inf")
    _standing_by: bool = False

    @property
    def namespaces(self) -> list[str]:
        return sorted({g.namespace for g in self.bundle.groups})

    def run(self, until: Callable[[], bool]) -> None:
        """Watch until `until()` says stop (a signal, a test); gives up the Lease then."""
        try:
            while not until():
                self.step()
        finally:
            self.stop()

    def step(self) -> None:
        """One round: lead (or stand by a while), converge when due, watch, recreate."""
        try:
            if not self._lead():
                self.clock.sleep(self.retry)
                return
            self._round()
        except lease.LeaseLost as lost:
            self._lost(lost)
        except ClusterError as exc:  # the API server hiccuped: try again shortly
            self._say("error", f"{exc.code} {exc.reason}: {exc.message}")
            self.clock.sleep(self.retry)

    def keep_leading(self) -> None:
        """Renew the leader Lease while a convergence runs (it may wait for minutes);
        `LeaseLost` stops that sync before its next write."""
        if self._lock is not None:
            self._lock.renew()

    def stop(self) -> None:
        """Give the leader Lease up, so that a standby takes over at once."""
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
                self._list(namespace)
        self._act()  # what the list showed
        budget = self.watch_seconds / max(len(self.namespaces), 1)
        for namespace in self.namespaces:
            self._watch(namespace, budget)
        self._act()

    def _converge(self) -> None:
        from rbgc.sync.run import SyncFailed

        try:
            self.converge()
        except SyncFailed as failed:  # reported; the watch goes on and converges again later
            self._say("not-converged", failed.diagnostic.message)
            self.warn(failed.diagnostic)
        self._converged = self.clock.now()

    def _list(self, namespace: str) -> None:
        found, version = self.cluster.list_pods(namespace, SELECTOR)
        for key in [k for k in self.pods if k[0] == namespace]:
            del self.pods[key]
        for pod in found:
            self.pods[(namespace, str(pod["metadata"]["name"]))] = pod
        self.versions[namespace] = version

    def _watch(self, namespace: str, seconds: float) -> None:
        since = self.versions.get(namespace, "")
        try:
            for event in self.cluster.watch_pods(namespace, SELECTOR, since, seconds):
                body = event.get("object") or {}
                meta = body.get("metadata") or {}
                version = str(meta.get("resourceVersion") or "")
                if version:
                    self.versions[namespace] = version
                if event.get("type") == "BOOKMARK":
                    continue
                key = (namespace, str(meta.get("name")))
                if event.get("type") == "DELETED":
                    self.pods.pop(key, None)
                else:
                    self.pods[key] = body
                    if restarts.restarted(body):
                        break  # act at once; the watch resumes from this version
        except ClusterError as exc:
            if exc.code != GONE:
                raise
            self.relists += 1
            self._say("relist", f"watch of {namespace} expired ({exc.message}): listing again")
            self._list(namespace)

    def _act(self) -> None:
        due, _ = restarts.due(
            self.bundle.groups, self.pods.values(), self.history, self.clock.now()
        )
        for recreate in due:
            assert self._lock is not None
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
                self.cluster.delete(ref)
            restarts.remember(self.history, recreate, self.clock.now())
            self.recreated.append((self.clock.now(), recreate))
            if recreate.instance is None:
                self._gone(recreate)
                self._converge()  # the deleted workloads are applied again, wave by wave
        if due:
            for namespace in self.namespaces:
                self._list(namespace)
        if inplace.unopened(self.pods.values()):  # new pods of in-place workloads serve at once
            assert self._lock is not None
            self._lock.renew()
            inplace.open_gates(self.cluster, self.pods.values(), self.wall)

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
        while any(self.cluster.get(ref) is not None for ref in recreate.delete):
            if self.clock.now() >= deadline:
                self._say("error", f"{recreate.group}: workloads still terminating; applying")
                return
            assert self._lock is not None
            self._lock.renew()
            self.clock.sleep(self.retry)

    def _say(self, kind: str, text: str, **fields: object) -> None:
        self.emit(text)
        self.events({"event": kind, "message": text, **fields})
