"""An in-memory `Cluster` that plays the StatefulSet, Deployment and LeaderWorkerSet controllers.

Deterministic: time is a tick counter (one tick = one simulated second) that only `tick()`
advances, and nothing is random. Per tick every workload's controller acts once, then every
pod ages; a pod is ready `ready_after` ticks after it was created, unless a fault says
otherwise. What the controllers honour, as Kubernetes does (ecosystem.md §E.4):

- StatefulSet: pods by ordinal; `partition` pins ordinals below it to the current revision;
  updates go from the highest ordinal down, at most `maxUnavailable` pods unavailable at once
  from Kubernetes 1.35 (MaxUnavailableStatefulSet), one at a time before;
- Deployment: `maxSurge` / `maxUnavailable` (25 % / 25 % by default) between old and new pods;
- LeaderWorkerSet: a replica is a group of `size` pods, updated like a StatefulSet (partition
  in `rolloutStrategy.rollingUpdateConfiguration`).

Field managers as server-side apply keeps them (leaf fields; lists atomic): an apply that would
change a field another manager owns is a `ConflictError` naming field and manager unless
forced; `apply(..., manager=...)` plays other tools (kubectl, an HPA). `create` / `replace`
honour `resourceVersion` as the API server does (a Lease is taken with them).

Faults: pods that never become ready (by name), images that crash-loop, applies that fail,
kinds the cluster does not serve (a CRD that is not installed). `writes` records every apply
and delete, `requests` every request by RBAC verb, `ready_log` every workload's ready count
after every tick.

Watches: once something lists a feed, every change (writes, deletes, a status that changed in
a tick, pods appearing, changing and going) is an event with a resourceVersion in one bounded
log, as etcd keeps its history; `compact()` drops it (older watches get 410 Gone). `watches()`
follows feeds in that log, ticking the clock while it waits for their next event.
"""

from __future__ import annotations

import bisect
import copy
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rbgc.bundle import template_hash
from rbgc.jsonpath import find
from rbgc.k8s import controllers
from rbgc.sync.cluster import (
    ENDED,
    FIELD_MANAGER,
    ClusterError,
    ConflictError,
    Feed,
    KindNotServed,
    Object,
    Ref,
)

FieldPath = tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Faults:
    never_ready: frozenset[str] = frozenset()  # pod names (LWS: the leader, `{name}-{i}`)
    crash_images: frozenset[str] = frozenset()  # pods running one of these never get ready
    fail_apply: Mapping[str, ClusterError] = field(default_factory=dict)  # object name -> error
    unserved: frozenset[str] = frozenset()  # kinds whose CRD is not installed
    restart: frozenset[str] = frozenset()  # pods whose container restarts once, when ready


FAULT_KEYS = ("never-ready", "crash-image", "fail-apply", "unserved", "restart")


def faults_from(pairs: Sequence[str], document: Any = None) -> Faults:
    """Faults from `--fault KEY=VALUE` flags and a faults file (YAML: `never_ready: [pod]`,
    `crash_images: [image]`, `fail_apply: {object: status}`, `unserved: [kind]`,
    `restart: [pod]`).
    Raises ValueError saying what is wrong."""
    never: set[str] = set()
    crash: set[str] = set()
    unserved: set[str] = set()
    restart: set[str] = set()
    fail: dict[str, ClusterError] = {}

    def failing(name: str, code: Any) -> None:
        try:
            status = int(code)
        except (TypeError, ValueError):
            raise ValueError(f"fail-apply {name}: {code!s} is no HTTP status") from None
        if not 400 <= status <= 599:
            raise ValueError(f"fail-apply {name}: {status} is no error status (400-599)")
        fail[name] = ClusterError(status, "InjectedFault", f"--fault fail-apply={name}:{status}")

    if document is not None:
        if not isinstance(document, Mapping):
            raise ValueError("a faults file is a mapping: never_ready, crash_images, ...")
        keys = {"never_ready", "crash_images", "fail_apply", "unserved", "restart"}
        unknown = sorted(set(document) - keys)
        if unknown:
            raise ValueError(f"unknown fault(s) {', '.join(map(str, unknown))}")
        for key, into in (
            ("never_ready", never),
            ("crash_images", crash),
            ("unserved", unserved),
            ("restart", restart),
        ):
            value = document.get(key) or []
            if not isinstance(value, list):
                raise ValueError(f"{key} is a list")
            into.update(str(v) for v in value)
        applied = document.get("fail_apply") or {}
        if not isinstance(applied, Mapping):
            raise ValueError("fail_apply maps an object name to an HTTP status")
        for name, code in applied.items():
            failing(str(name), code)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not value or key not in FAULT_KEYS:
            raise ValueError(f"{pair}: expected one of {', '.join(FAULT_KEYS)} as KEY=VALUE")
        if key == "never-ready":
            never.add(value)
        elif key == "crash-image":
            crash.add(value)
        elif key == "unserved":
            unserved.add(value)
        elif key == "restart":
            restart.add(value)
        else:
            name, _, code = value.partition(":")
            failing(name, code or "500")
    return Faults(
        never_ready=frozenset(never),
        crash_images=frozenset(crash),
        fail_apply=fail,
        unserved=frozenset(unserved),
        restart=frozenset(restart),
    )


@dataclass(slots=True)
class _Pod:
    ordinal: int
    revision: str
    images: tuple[str, ...]
    age: int = 0
    ready: bool = False
    restarts: int = 0


@dataclass(slots=True)
class _Workload:
    body: Object
    pods: list[_Pod] = field(default_factory=list)
    current: str = ""  # StatefulSet/LWS currentRevision: what pods below the partition run
    serial: int = 0  # Deployment pod names
    owners: dict[str, set[FieldPath]] = field(default_factory=dict)  # field manager -> fields


class Killed(BaseException):
    """The sync process died (kill -9) just before a write: nothing catches it."""


class SimClock:
    """The controller's clock over a simulator: sleeping advances ticks."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def now(self) -> float:
        return float(self.sim.now)

    def sleep(self, seconds: float) -> None:
        for _ in range(max(int(seconds), 1)):
            self.sim.tick()

    def wait(self, wake: Any, seconds: float) -> None:
        self.sleep(seconds)  # nothing runs beside the simulator: no event comes sooner


class Simulator:
    def __init__(
        self,
        *,
        kubernetes_version: controllers.Version = controllers.DEFAULT_KUBERNETES_VERSION,
        ready_after: int = 2,
        faults: Faults | None = None,
    ) -> None:
        self.version = kubernetes_version
        self.ready_after = ready_after
        self.faults = faults or Faults()
        self.now = 0
        self.objects: dict[tuple[str, str, str], _Workload] = {}
        self.writes: list[tuple[str, Ref]] = []
        self.requests: Counter[str] = Counter()  # by RBAC verb: get, list, watch, patch, ...
        self.sent: list[Object] = []  # every apply's body, as sent
        self.ready_log: dict[str, list[int]] = {}  # "Kind/ns/name" -> ready count per tick
        self.terminated = 0  # pods stopped, by any controller or delete (LWS: group * size)
        self.version_counter = 0  # resourceVersion
        self.kill_after: int | None = None  # die (`Killed`) before write number kill_after + 1
        self.observers: list[Callable[[], None]] = []  # called after every tick
        # Every change as a watch event, once someone lists a feed: the log watches read, and
        # the oldest resourceVersion it still holds (older: 410 Gone, as etcd compacts).
        self.watched = False
        self.pods_watched = False  # pods are published only once someone lists them
        self.log: list[tuple[int, str, Object]] = []  # (resourceVersion, type, object)
        self.floor = 0
        self.cuts = 0
        self.log_limit = 100_000
        self._seen: dict[tuple[str, str], Object] = {}  # the pods as last published
        self._restarted: set[str] = set()  # `restart` faults already played

    # --- the Cluster protocol ---

    def apply(
        self, body: Mapping[str, Any], *, force: bool = False, manager: str = FIELD_MANAGER
    ) -> Object:
        ref = Ref.of(body)
        self.requests["patch"] += 1
        self._served(ref.api_version, ref.kind)
        failure = self.faults.fail_apply.get(ref.name)
        if failure is not None:
            raise failure
        self.sent.append(copy.deepcopy(dict(body)))
        key = (ref.kind, ref.namespace, ref.name)
        found = self.objects.get(key)
        sent = _leaves(body)
        mine = {p for p in sent if p[0] != "status" and p[:2] not in _SERVER_FIELDS}
        owners = copy.deepcopy(found.owners) if found is not None else {}
        live = found.body if found is not None else {}
        changed = {p for p in mine if find(live, p, _ABSENT) != sent[p]}
        conflicts = [
            ("." + ".".join(p), other)
            for other, paths in sorted(owners.items())
            if other != manager
            for p in sorted(paths & changed)
        ]
        if conflicts and not force and found is not None:
            listed = ", ".join(f"{f} (manager {m!r})" for f, m in conflicts)
            message = f"Apply failed with {len(conflicts)} conflict(s): {listed}"
            raise ConflictError(message, conflicts)
        self._write("apply", ref)
        merged = copy.deepcopy(live)
        for p in owners.get(manager, set()) - mine:  # fields this manager stopped sending
            if not any(p in paths for other, paths in owners.items() if other != manager):
                _drop(merged, p)
        for p in mine:
            _put(merged, p, sent[p])
        for other, paths in owners.items():
            if other != manager:
                paths -= changed
        owners[manager] = mine
        return self._store(key, found, merged, owners)

    def create(self, body: Mapping[str, Any]) -> Object:
        ref = Ref.of(body)
        self.requests["create"] += 1
        self._served(ref.api_version, ref.kind)
        key = (ref.kind, ref.namespace, ref.name)
        if key in self.objects:
            raise ClusterError(409, "AlreadyExists", f"{ref} already exists")
        self._write("create", ref)
        owned = {p for p in _leaves(body) if p[0] != "status"}
        return self._store(key, None, copy.deepcopy(dict(body)), {FIELD_MANAGER: owned})

    def replace(self, body: Mapping[str, Any]) -> Object:
        ref = Ref.of(body)
        self.requests["update"] += 1
        self._served(ref.api_version, ref.kind)
        key = (ref.kind, ref.namespace, ref.name)
        found = self.objects.get(key)
        if found is None:
            raise ClusterError(404, "NotFound", f"{ref} not found")
        want = (body.get("metadata") or {}).get("resourceVersion")
        if want is not None and want != found.body["metadata"].get("resourceVersion"):
            raise ClusterError(409, "Conflict", f"{ref} has been modified; try again")
        self._write("replace", ref)
        return self._store(key, found, copy.deepcopy(dict(body)), found.owners)

    def _write(self, verb: str, ref: Ref) -> None:
        if self.kill_after is not None and len(self.writes) >= self.kill_after:
            raise Killed(f"killed before {verb} {ref}")
        self.writes.append((verb, ref))

    def _store(
        self,
        key: tuple[str, str, str],
        found: _Workload | None,
        applied: Object,
        owners: dict[str, set[FieldPath]],
    ) -> Object:
        self.version_counter += 1
        meta = applied.setdefault("metadata", {})
        meta["resourceVersion"] = str(self.version_counter)
        meta.setdefault("uid", f"uid-{self.version_counter}")
        meta.pop("managedFields", None)  # the server's to say (`_shown`), not a writer's
        is_new = found is None
        if found is None:
            meta["generation"] = 1
            found = self.objects[key] = _Workload(body=applied)
            found.current = _revision(applied)
        else:
            old = found.body
            generation = int(old["metadata"].get("generation", 1))
            if old.get("spec") != applied.get("spec"):
                generation += 1
            meta["generation"] = generation
            if "status" in old:
                applied["status"] = old["status"]
            found.body = applied
        found.owners = {m: paths for m, paths in owners.items() if paths}
        if controllers.shape_of(found.body) is not None:
            self._status(found)
        self._event("ADDED" if is_new else "MODIFIED", found.body)
        return self._shown(found)

    def _shown(self, w: _Workload) -> Object:
        """The object as a read returns it: a copy, with its managed fields."""
        out = copy.deepcopy(w.body)
        out["metadata"]["managedFields"] = managed_fields(w.owners, str(out.get("apiVersion")))
        return out

    def get(self, ref: Ref) -> Object | None:
        self.requests["get"] += 1
        self._served(ref.api_version, ref.kind)
        found = self.objects.get((ref.kind, ref.namespace, ref.name))
        return self._shown(found) if found else None

    def list(
        self, api_version: str, kind: str, namespace: str, labels: Mapping[str, str]
    ) -> Sequence[Object]:
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        return self.list_feed(Feed(api_version, kind, namespace, selector))[0]

    def list_feed(self, feed: Feed) -> tuple[Sequence[Object], str]:
        self.requests["list"] += 1
        self._served(feed.api_version, feed.kind)
        if feed.kind == "Pod":
            self.watched = self.pods_watched = True
            self._publish()
            found = [
                copy.deepcopy(body)
                for (ns, _), body in sorted(self._seen.items())
                if ns == feed.namespace and _selected(body, feed.selector)
            ]
            return found, str(self.version_counter)
        self.watched = True
        out = [
            self._shown(w)
            for (k, ns, _), w in sorted(self.objects.items())
            if k == feed.kind and ns == feed.namespace and _selected(w.body, feed.selector)
        ]
        return out, str(self.version_counter)

    def watches(self) -> SimWatches:
        return SimWatches(self)

    def delete(self, ref: Ref) -> None:
        self.requests["delete"] += 1
        self._served(ref.api_version, ref.kind)
        self._write("delete", ref)
        if ref.kind == "Pod":  # its controller makes a new one on the next tick
            for (_, ns, _), w in self.objects.items():
                for pod in w.pods:
                    if ns == ref.namespace and self._pod_name(w, pod) == ref.name:
                        w.pods.remove(pod)
                        self._stop(w, 1)
                        self._status(w)
                        self._event("MODIFIED", w.body, bump=True)
                        self._publish()
                        return
            return
        gone = self.objects.pop((ref.kind, ref.namespace, ref.name), None)
        if gone is not None:
            self._stop(gone, len(gone.pods))
            self.version_counter += 1
            body = copy.deepcopy(gone.body)
            body["metadata"]["resourceVersion"] = str(self.version_counter)
            self._event("DELETED", body, bump=False)
        self._publish()

    def compact(self) -> None:
        """Forget the watch history, as etcd's compaction does: a watch started from an
        older version gets 410 Gone (one already open goes on)."""
        self.floor = self.version_counter
        self.log.clear()

    def cut_watches(self) -> None:
        """End every open watch, as an API server that restarts does."""
        self.cuts += 1

    def _event(self, kind: str, body: Object, *, bump: bool = False) -> None:
        """Log a change of a stored object (its resourceVersion already set, unless `bump`)."""
        if bump:
            self.version_counter += 1
            body["metadata"]["resourceVersion"] = str(self.version_counter)
        if not self.watched:
            return
        version = int(body["metadata"]["resourceVersion"])
        # A snapshot: writes replace a body's parts, they never change them in place, but
        # for its metadata (resourceVersion) and status.
        self.log.append((version, kind, {**body, "metadata": dict(body["metadata"])}))
        if len(self.log) > self.log_limit:  # bounded, as etcd's history is
            half = self.log_limit // 2
            self.floor = self.log[-half][0] - 1
            del self.log[:-half]

    def _publish(self) -> None:
        """Record the pods' changes since the last call as watch events."""
        if not self.pods_watched:
            return
        now: dict[tuple[str, str], Object] = {}
        for (_, ns, _), w in sorted(self.objects.items()):
            for pod in w.pods:
                body = self._pod_object(w, pod)
                now[(ns, body["metadata"]["name"])] = body
        for key in sorted(set(self._seen) | set(now)):
            before, after = self._seen.get(key), now.get(key)
            if after is not None and before is not None:
                version = before["metadata"]["resourceVersion"]
                after["metadata"]["resourceVersion"] = version
                if after == before:
                    continue
            kind = "DELETED" if after is None else "ADDED" if before is None else "MODIFIED"
            body = after if after is not None else copy.deepcopy(before or {})
            self._event(kind, body, bump=True)
            if after is not None:
                now[key] = body
        self._seen = now

    def _pod_object(self, w: _Workload, pod: _Pod) -> Object:
        templates = _templates(w.body)
        template = templates[0] if templates and isinstance(templates[0], dict) else {}
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        containers = (template.get("spec") or {}).get("containers") or [{"name": "main"}]
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": self._pod_name(w, pod),
                "namespace": str(w.body["metadata"].get("namespace") or ""),
                "labels": labels,
                "resourceVersion": "",
            },
            "status": {
                "phase": "Running",
                "containerStatuses": [
                    {"name": str(c.get("name")), "ready": pod.ready, "restartCount": pod.restarts}
                    for c in containers
                    if isinstance(c, dict)
                ],
            },
        }

    # --- time ---

    def tick(self) -> None:
        self.now += 1
        for key in sorted(self.objects):
            w = self.objects[key]
            shape = controllers.shape_of(w.body)
            if shape is not None and shape.ordered:
                self._ordered(w)
            elif shape is not None:
                self._deployment(w)
            for pod in w.pods:
                pod.age += 1
                crashing = bool(set(pod.images) & self.faults.crash_images)
                if crashing:
                    pod.restarts += 1
                name = self._pod_name(w, pod)
                if pod.ready and name in self.faults.restart and name not in self._restarted:
                    self._restarted.add(name)  # one container restart: the pod stays up
                    pod.restarts += 1
                pod.ready = (
                    pod.age >= self.ready_after
                    and not crashing
                    and self._pod_name(w, pod) not in self.faults.never_ready
                )
            if shape is not None:
                before = w.body.get("status")
                self._status(w)
                if w.body["status"] != before:  # a status update is a version of its own
                    self._event("MODIFIED", w.body, bump=True)
                ready = int(w.body["status"]["readyReplicas"])
                self.ready_log.setdefault("/".join(key), []).append(ready)
        self._publish()
        for observe in self.observers:
            observe()

    def pods(self, kind: str, namespace: str, name: str) -> Sequence[tuple[str, str, bool]]:
        """(pod name, revision, ready) of a workload, for tests and previews."""
        w = self.objects[(kind, namespace, name)]
        return [(self._pod_name(w, p), p.revision, p.ready) for p in w.pods]

    # --- the controllers ---

    def _stop(self, w: _Workload, count: int) -> None:
        self.terminated += count * controllers.pods_per_replica(w.body)

    def _served(self, api_version: str, kind: str) -> None:
        if kind in self.faults.unserved:
            raise KindNotServed(api_version, kind)

    def _pod_name(self, w: _Workload, pod: _Pod) -> str:
        name = str(w.body["metadata"]["name"])
        if w.body.get("kind") == "Deployment":
            return f"{name}-{pod.revision[:6]}-{pod.ordinal}"
        start = find(w.body, ("spec", "ordinals", "start"))  # a StatefulSet's
        return f"{name}-{pod.ordinal + (start if isinstance(start, int) else 0)}"

    def _new_pod(self, w: _Workload, ordinal: int, revision: str) -> _Pod:
        images = _images(w.body) if revision == _revision(w.body) else ()
        return _Pod(ordinal=ordinal, revision=revision, images=images)

    def _ordered(self, w: _Workload) -> None:
        n = controllers.replicas(w.body)
        update = _revision(w.body)
        strategy = controllers.strategy_of(w.body)
        partition = controllers.scaled(strategy.partition, n, round_up=True)
        mu = controllers.statefulset_max_unavailable(strategy.max_unavailable, n, self.version)
        # Scale: missing ordinals appear (Parallel), ordinals >= replicas go.
        self._stop(w, sum(1 for p in w.pods if p.ordinal >= n))
        w.pods = [p for p in w.pods if p.ordinal < n]
        have = {p.ordinal for p in w.pods}
        for i in range(n):
            if i not in have:
                w.pods.append(self._new_pod(w, i, update if i >= partition else w.current))
        w.pods.sort(key=lambda p: p.ordinal)
        # Update: highest ordinal first, never more than maxUnavailable unavailable.
        unavailable = sum(1 for p in w.pods if not p.ready)
        for pod in sorted(w.pods, key=lambda p: -p.ordinal):
            if pod.ordinal < partition or pod.revision == update:
                continue
            if unavailable >= mu:
                break
            w.pods[w.pods.index(pod)] = self._new_pod(w, pod.ordinal, update)
            self._stop(w, 1)
            unavailable += 0 if not pod.ready else 1
        if all(p.revision == update for p in w.pods):
            w.current = update

    def _deployment(self, w: _Workload) -> None:
        n = controllers.replicas(w.body)
        ms, mu = controllers.surge_and_unavailable(controllers.strategy_of(w.body), n)
        update = _revision(w.body)
        new = [p for p in w.pods if p.revision == update]
        old = [p for p in w.pods if p.revision != update]
        # Scale the new ReplicaSet up within the surge, then old pods down within the floor.
        room = min(n - len(new), n + ms - len(w.pods))
        for _ in range(max(room, 0)):
            w.serial += 1
            pod = self._new_pod(w, w.serial, update)
            w.pods.append(pod)
            new.append(pod)
        for pod in sorted(old, key=lambda p: (p.ready, -p.ordinal)):
            ready = sum(1 for p in w.pods if p.ready)
            if pod.ready and ready - 1 < n - mu:
                break
            w.pods.remove(pod)
            self._stop(w, 1)
        surplus = len(new) - n
        for pod in sorted(new, key=lambda p: (p.ready, -p.ordinal))[: max(surplus, 0)]:
            w.pods.remove(pod)
            self._stop(w, 1)

    def _status(self, w: _Workload) -> None:
        update = _revision(w.body)
        w.body["status"] = {
            "observedGeneration": w.body["metadata"].get("generation", 1),
            "replicas": len(w.pods),
            "readyReplicas": sum(1 for p in w.pods if p.ready),
            "updatedReplicas": sum(1 for p in w.pods if p.revision == update),
        }
        if w.body.get("kind") == "LeaderWorkerSet":
            del w.body["status"]["observedGeneration"]


class SimWatches:
    """`Watches` over the simulator's log: `wait` ticks the clock until one of the started
    feeds has an event or the time passed; a quiet wait ends with a bookmark per feed."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.since: dict[Feed, int] = {}
        self.expired: list[Feed] = []
        self.cuts = sim.cuts

    def start(self, feed: Feed, resource_version: str) -> None:
        self.sim.requests["watch"] += 1
        self.sim._served(feed.api_version, feed.kind)
        since = int(resource_version or self.sim.version_counter)
        self.since[feed] = since
        if since < self.sim.floor:
            self.expired.append(feed)

    def wait(self, seconds: float) -> list[tuple[Feed, Object]]:
        ends = self.sim.now + max(int(seconds), 0)
        while True:
            found = self._due()
            if found or self.sim.now >= ends:
                break
            self.sim.tick()
        if not found:
            version = {"resourceVersion": str(self.sim.version_counter)}
            for feed in self.since:
                mark = {"apiVersion": feed.api_version, "kind": feed.kind, "metadata": version}
                found.append((feed, {"type": "BOOKMARK", "object": mark}))
                self.since[feed] = self.sim.version_counter
        return found

    def _due(self) -> list[tuple[Feed, Object]]:
        out: list[tuple[Feed, Object]] = []
        if self.cuts != self.sim.cuts:  # the API server restarted: every watch ended
            self.cuts = self.sim.cuts
            out = [(feed, {"type": ENDED}) for feed in self.since]
            self.since.clear()
        for feed in self.expired:
            gone = {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}
            out.append((feed, {"type": "ERROR", "object": gone}))
            del self.since[feed]
        self.expired = []
        if not self.since:
            return out
        log = self.sim.log
        first = bisect.bisect_right(log, min(self.since.values()), key=lambda e: e[0])
        for version, kind, body in log[first:]:
            meta = body.get("metadata") or {}
            for feed, since in self.since.items():
                if (
                    version > since
                    and body.get("kind") == feed.kind
                    and meta.get("namespace") == feed.namespace
                    and _selected(body, feed.selector)
                ):
                    out.append((feed, {"type": kind, "object": body}))  # read, never changed
        for feed in self.since:
            self.since[feed] = max(self.since[feed], log[-1][0] if log else 0)
        return out

    def stop(self) -> None:
        self.since.clear()


def managed_fields(owners: Mapping[str, set[FieldPath]], api_version: str) -> list[Object]:
    """`metadata.managedFields` as the API server shows it: per manager, its fields."""
    out: list[Object] = []
    for manager, paths in sorted(owners.items()):
        tree: dict[str, Any] = {}
        for path in sorted(paths):
            node = tree
            for key in path:
                node = node.setdefault(f"f:{key}", {})
        out.append(
            {
                "manager": manager,
                "operation": "Apply",
                "apiVersion": api_version,
                "fieldsType": "FieldsV1",
                "fieldsV1": tree,
            }
        )
    return out


def _selected(body: Mapping[str, Any], selector: str) -> bool:
    """A label selector's `key` and `key=value` terms (comma separated), as the API reads them."""
    labels = (body.get("metadata") or {}).get("labels") or {}
    for term in filter(None, (t.strip() for t in selector.split(","))):
        key, eq, value = term.partition("=")
        if key not in labels or (eq and labels[key] != value):
            return False
    return True


_SERVER_FIELDS = {
    ("metadata", k) for k in ("generation", "resourceVersion", "uid", "managedFields")
}  # a body read back and sent again (a Lease) carries them: never a manager's fields


def _leaves(node: Any, prefix: FieldPath = ()) -> dict[FieldPath, Any]:
    """Leaf fields of an object (lists are atomic, as for most fields of these kinds)."""
    if isinstance(node, Mapping) and node:
        out: dict[FieldPath, Any] = {}
        for key, value in node.items():
            out.update(_leaves(value, (*prefix, str(key))))
        return out
    return {prefix: node} if prefix else {}


_ABSENT = object()


def _put(node: dict[str, Any], path: FieldPath, value: Any) -> None:
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[path[-1]] = copy.deepcopy(value)


def _drop(node: dict[str, Any], path: FieldPath) -> None:
    chain = []
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            return
        chain.append((node, key))
        node = child
    node.pop(path[-1], None)
    for parent, key in reversed(chain):  # maps only this manager filled go with it
        if parent[key] == {}:
            del parent[key]


def _templates(body: Mapping[str, Any]) -> list[Any]:
    shape = controllers.shape_of(body)
    return [find(body, path) for path in shape.templates] if shape else []


def _revision(body: Mapping[str, Any]) -> str:
    return template_hash(body)


def _images(body: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(set(_find_images(_templates(body)))))


def _find_images(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "containers" and isinstance(value, list):
                yield from (str(c.get("image", "")) for c in value if isinstance(c, dict))
            else:
                yield from _find_images(value)
    elif isinstance(node, list):
        for item in node:
            yield from _find_images(item)
