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
from rbgc.k8s import controllers, inplace
from rbgc.k8s import conventions as cv
from rbgc.sync import simpods
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
    fail_warmup: Mapping[str, int] = field(default_factory=dict)  # node -> failed pulls first


FAULT_KEYS = ("never-ready", "crash-image", "fail-apply", "unserved", "restart", "fail-warmup")


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
    warmups: dict[str, int] = {}

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
        elif key == "fail-warmup":
            node, _, times = value.partition(":")
            if times and not times.isdigit():
                raise ValueError(f"fail-warmup {node}: {times} is no count of failed pulls")
            warmups[node] = int(times or 1_000_000)
        else:
            name, _, code = value.partition(":")
            failing(name, code or "500")
    return Faults(
        never_ready=frozenset(never),
        crash_images=frozenset(crash),
        fail_apply=fail,
        unserved=frozenset(unserved),
        restart=frozenset(restart),
        fail_warmup=warmups,
    )


_Pod = simpods.Pod


@dataclass(slots=True)
class _Workload:
    body: Object
    pods: list[_Pod] = field(default_factory=list)
    current: str = ""  # StatefulSet/LWS currentRevision: what pods below the partition run
    serial: int = 0  # Deployment pod names
    owners: dict[str, set[FieldPath]] = field(default_factory=dict)  # field manager -> fields
    templates: dict[str, Object] = field(default_factory=dict)  # revision -> its pod template
    job: simpods.JobRun | None = None  # a Job's run


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
        costs: simpods.Costs | None = None,
    ) -> None:
        self.version = kubernetes_version
        self.ready_after = ready_after
        self.faults = faults or Faults()
        self.costs = costs  # None: every pod start takes `ready_after`
        self.node_images: dict[str, set[str]] = {}  # what each node has pulled
        self.uids = 0
        self.patched: list[tuple[int, str, str]] = []  # (tick, pod, subresource) per pod patch
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
            templates = _templates(found.body)
            if templates and isinstance(templates[0], dict):
                found.templates.setdefault(_revision(found.body), copy.deepcopy(templates[0]))
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
        if ref.kind == "Pod":
            at = self._find_pod(ref.namespace, ref.name)
            return self._pod_object(*at) if at is not None else None
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

    def patch(self, ref: Ref, patch: Mapping[str, Any], *, subresource: str = "") -> Object:
        """A strategic merge patch of a pod (or its status): what in-place updates send."""
        self._served(ref.api_version, ref.kind)
        at = self._find_pod(ref.namespace, ref.name) if ref.kind == "Pod" else None
        if at is None:
            raise ClusterError(404, "NotFound", f"{ref} not found")
        self._write("patch", ref)
        w, pod = at
        if simpods.patch_pod(pod, str(w.body["metadata"]["name"]), patch, subresource):
            pod.needed = self._startup(pod, fresh=False)
        self.patched.append((self.now, ref.name, subresource))
        before = w.body.get("status")
        self._status(w)
        if w.body["status"] != before:  # a pod's readiness moved its workload's status
            self._event("MODIFIED", w.body, bump=True)
        self._publish()
        return self._pod_object(w, pod)

    def _find_pod(self, namespace: str, name: str) -> tuple[_Workload, _Pod] | None:
        for (_, ns, _), w in self.objects.items():
            if ns == namespace:
                for pod in w.pods:
                    if self._pod_name(w, pod) == name:
                        return w, pod
        return None

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
        return simpods.pod_object(
            self._pod_name(w, pod),
            str(w.body["metadata"].get("namespace") or ""),
            str(w.body["metadata"]["name"]),
            self._template(w, pod.revision),
            pod,
        )

    def _template(self, w: _Workload, revision: str) -> Object:
        found = w.templates.get(revision)
        if found is None:
            templates = _templates(w.body)
            found = templates[0] if templates and isinstance(templates[0], dict) else {}
        return found

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
            if w.body.get("kind") == "Job" and w.body.get("apiVersion") == "batch/v1":
                self._job(w)
            for pod in w.pods:
                pod.age += 1
                crashing = bool(set(pod.images) & self.faults.crash_images)
                if crashing:
                    pod.restarts += 1
                name = self._pod_name(w, pod)
                if pod.ready and name in self.faults.restart and name not in self._restarted:
                    self._restarted.add(name)  # one container restart: the pod stays up
                    pod.restarts += 1
                pod.containers_ready = (
                    pod.age >= pod.needed
                    and not crashing
                    and self._pod_name(w, pod) not in self.faults.never_ready
                )
                if pod.containers_ready:
                    pod.running = dict(pod.spec_images)
                pod.compute_ready()
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

    def identities(self, kind: str, namespace: str, name: str) -> dict[str, tuple[str, str]]:
        """pod name -> (uid, node) of a workload's pods: what a recreation changes."""
        w = self.objects[(kind, namespace, name)]
        return {self._pod_name(w, p): (p.uid, p.node) for p in w.pods}

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
        template = self._template(w, revision)
        self.uids += 1
        pod = _Pod(
            ordinal=ordinal,
            revision=revision,
            images=images,
            uid=f"uid-{self.uids}",
            spec_images=inplace.images(template),
            gated=any(
                g.get("conditionType") == cv.IN_PLACE_READY
                for g in find(template, ("spec", "readinessGates")) or ()
            ),
        )
        # a pod lands on the node its name had (a full GPU cluster, local volumes)
        pod.node = f"node-{self._pod_name(w, pod)}"
        pod.needed = self._startup(pod, fresh=True)
        return pod

    def _startup(self, pod: _Pod, *, fresh: bool) -> int:
        """Seconds until a (re)started pod's containers are ready (simpods.Costs)."""
        if self.costs is None:
            return self.ready_after
        wanted = tuple(pod.spec_images.values())
        cached = self.node_images.setdefault(pod.node, set())
        pull = self.costs.pull(wanted, cached)
        cached.update(wanted)
        schedule = self.costs.schedule_seconds if fresh else 0
        return max(schedule + pull + self.costs.load_seconds, 1)

    def _job(self, w: _Workload) -> None:
        """A warm-up Job: one pod on its pinned node pulls the images, then it completes; a
        node's `fail_warmup` pulls fail first, retried within `backoffLimit`."""
        run = w.job = w.job or simpods.JobRun()
        spec = w.body.get("spec") or {}
        if run.done or spec.get("suspend"):
            return
        node = simpods.pinned_node(w.body) or "node-unpinned"
        images = simpods.job_images(w.body)
        if run.started < 0:
            cached = self.node_images.setdefault(node, set())
            pull = self.costs.pull(images, cached) if self.costs else 0
            run.started, run.ends = self.now, self.now + max(pull, 1)
        deadline = spec.get("activeDeadlineSeconds")
        if isinstance(deadline, int) and self.now - run.started >= deadline:
            run.done = True
            run.conditions = [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}]
        elif self.now >= run.ends:
            if run.failed < self.faults.fail_warmup.get(node, 0):
                run.failed += 1
                limit = spec.get("backoffLimit", 6)
                if run.failed > limit:
                    run.done = True
                    run.conditions = [
                        {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}
                    ]
                else:
                    run.started = -1  # a new pod, next tick
            else:
                self.node_images.setdefault(node, set()).update(images)
                run.done = True
                run.conditions = [{"type": "Complete", "status": "True"}]
        w.body["status"] = simpods.job_status(run)

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
        on_delete = find(w.body, ("spec", "updateStrategy", "type")) == "OnDelete"
        for i in range(n):
            if i not in have:
                held = i < partition and not on_delete  # OnDelete: new pods at the new revision
                w.pods.append(self._new_pod(w, i, w.current if held else update))
        w.pods.sort(key=lambda p: p.ordinal)
        if find(w.body, ("spec", "updateStrategy", "type")) == "OnDelete":
            return  # pods change only when deleted (they come back at the new revision)
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
        if w.body.get("kind") == "StatefulSet":
            name = w.body["metadata"]["name"]
            w.body["status"]["updateRevision"] = f"{name}-{update}"
            w.body["status"]["currentRevision"] = f"{name}-{w.current or update}"


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
