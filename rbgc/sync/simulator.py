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

Faults: pods that never become ready (by name), images that crash-loop, applies that fail,
kinds the cluster does not serve (a CRD that is not installed). `writes` records every apply
and delete, `ready_log` every workload's ready count after every tick.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rbgc.bundle import template_hash
from rbgc.k8s import controllers
from rbgc.sync.cluster import ClusterError, KindNotServed, Object, Ref


@dataclass(frozen=True, slots=True, kw_only=True)
class Faults:
    never_ready: frozenset[str] = frozenset()  # pod names (LWS: the leader, `{name}-{i}`)
    crash_images: frozenset[str] = frozenset()  # pods running one of these never get ready
    fail_apply: Mapping[str, ClusterError] = field(default_factory=dict)  # object name -> error
    unserved: frozenset[str] = frozenset()  # kinds whose CRD is not installed


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


class SimClock:
    """The controller's clock over a simulator: sleeping advances ticks."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def now(self) -> float:
        return float(self.sim.now)

    def sleep(self, seconds: float) -> None:
        for _ in range(max(int(seconds), 1)):
            self.sim.tick()


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
        self.ready_log: dict[str, list[int]] = {}  # "Kind/ns/name" -> ready count per tick
        self.terminated = 0  # pods stopped, by any controller or delete (LWS: group * size)

    # --- the Cluster protocol ---

    def apply(self, body: Mapping[str, Any]) -> Object:
        ref = Ref.of(body)
        self._served(ref.api_version, ref.kind)
        failure = self.faults.fail_apply.get(ref.name)
        if failure is not None:
            raise failure
        self.writes.append(("apply", ref))
        applied = copy.deepcopy(dict(body))
        key = (ref.kind, ref.namespace, ref.name)
        found = self.objects.get(key)
        if found is None:
            applied.setdefault("metadata", {})["generation"] = 1
            found = self.objects[key] = _Workload(body=applied)
            found.current = _revision(applied)
        else:
            old = found.body
            generation = int(old["metadata"].get("generation", 1))
            if old.get("spec") != applied.get("spec"):
                generation += 1
            applied.setdefault("metadata", {})["generation"] = generation
            if "status" in old:
                applied["status"] = old["status"]
            found.body = applied
        self._status(found)
        return copy.deepcopy(found.body)

    def get(self, ref: Ref) -> Object | None:
        self._served(ref.api_version, ref.kind)
        found = self.objects.get((ref.kind, ref.namespace, ref.name))
        return copy.deepcopy(found.body) if found else None

    def list(
        self, api_version: str, kind: str, namespace: str, labels: Mapping[str, str]
    ) -> Sequence[Object]:
        self._served(api_version, kind)
        out = []
        for (k, ns, _), w in sorted(self.objects.items()):
            have = (w.body.get("metadata") or {}).get("labels") or {}
            if k == kind and ns == namespace and all(have.get(a) == b for a, b in labels.items()):
                out.append(copy.deepcopy(w.body))
        return out

    def delete(self, ref: Ref) -> None:
        self._served(ref.api_version, ref.kind)
        self.writes.append(("delete", ref))
        gone = self.objects.pop((ref.kind, ref.namespace, ref.name), None)
        if gone is not None:
            self._stop(gone, len(gone.pods))

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
                pod.ready = (
                    pod.age >= self.ready_after
                    and not crashing
                    and self._pod_name(w, pod) not in self.faults.never_ready
                )
            if shape is not None:
                self._status(w)
                ready = int(w.body["status"]["readyReplicas"])
                self.ready_log.setdefault("/".join(key), []).append(ready)

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
        return f"{name}-{pod.ordinal}"

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


def _templates(body: Mapping[str, Any]) -> list[Any]:
    shape = controllers.shape_of(body)
    return [controllers.at(body, path) for path in shape.templates] if shape else []


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
