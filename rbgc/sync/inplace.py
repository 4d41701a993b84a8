"""`rbgc sync`'s work on pods of OnDelete StatefulSets: in-place updates, the pods a roll
recreates, and the readiness gate of new pods.

Upstream's order for one pod (sgl-project/rbg pkg/inplace/pod/inplaceupdate/inplace_update.go
`Update` :223-269 and `refreshCondition` :129-152): the condition `InPlaceUpdateReady` False
(reason `StartInPlaceUpdate`), so the pod leaves its Services' endpoints; `gracePeriodSeconds`;
its images and revision label patched (`updatePodInPlace` :271-315); once the kubelet runs the
new containers and they are ready, the condition True. Every step is decided from the pod as
it stands (its condition and when it changed, its revision label, its images), so a sync that
dies half-way and runs again carries on where each pod is.

A pod rbgc updates in place has its restart counts recorded first (`rbgc.io/in-place-restarts`):
the kubelet counts the container restart the new image needs, and `--watch` must not take it
for a crash (restarts.py).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rbgc.jsonpath import find
from rbgc.k8s import conventions as cv
from rbgc.k8s import inplace
from rbgc.k8s.controllers import scaled
from rbgc.sync.cluster import Cluster, Feed, Object, Ref
from rbgc.sync.lease import parse_time

START_REASON = "StartInPlaceUpdate"  # upstream's reason for the False condition


class Move(enum.StrEnum):
    CLOSE = "close"  # condition False: out of the Services first
    WAIT = "wait"  # the grace period, or the kubelet
    PATCH = "patch"  # images and revision label
    OPEN = "open"  # condition True: it runs the new images
    DONE = "done"


@dataclass(frozen=True, slots=True, kw_only=True)
class PodUpdate:
    """Pods of one OnDelete StatefulSet that a step updates in place."""

    workload: Ref
    pods: tuple[str, ...]
    template: Mapping[str, Any]  # NEW's pod template, as compiled
    old_template: Mapping[str, Any] | None = None  # OLD's: labels and annotations it drops
    grace: int = 0  # gracePeriodSeconds


def stamp(seconds: float) -> str:
    """A condition's time (metav1.Time: seconds)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def revision_of(pod: Mapping[str, Any]) -> str:
    return str(find(pod, ("metadata", "labels", cv.REVISION_LABEL)) or "")


def next_move(
    pod: Mapping[str, Any], revision: str, template: Mapping[str, Any], grace: int, now: float
) -> Move:
    """What one pod needs next to reach `template` at `revision` in place."""
    want = inplace.images(template)
    has = inplace.images(pod)
    if revision_of(pod) == revision and all(has.get(n) == i for n, i in want.items()):
        if inplace.gate_open(pod):
            return Move.DONE if inplace.runs_spec(pod) else Move.WAIT
        return Move.OPEN if inplace.runs_spec(pod) else Move.WAIT
    gate = inplace.condition(pod, cv.IN_PLACE_READY)
    if gate is None or gate.get("status") == "True":
        return Move.CLOSE
    since = parse_time(gate.get("lastTransitionTime"))
    if grace and since is not None and now - since < grace:
        return Move.WAIT
    return Move.PATCH


def restart_baseline(pod: Mapping[str, Any], template: Mapping[str, Any]) -> str:
    """The restart counts the pod will have once its changed containers restarted."""
    want = inplace.images(template)
    has = inplace.images(pod)
    counts = {}
    for status in find(pod, ("status", "containerStatuses")) or ():
        name = str(status.get("name"))
        count = int(status.get("restartCount") or 0)
        counts[name] = count + (1 if name in want and want[name] != has.get(name) else 0)
    return json.dumps(dict(sorted(counts.items())), separators=(",", ":"))


def _gate(cluster: Cluster, ref: Ref, open_: bool, now: float) -> None:
    condition = inplace.gate_condition(open_, "" if open_ else START_REASON, stamp(now))
    cluster.patch(ref, {"status": {"conditions": [condition]}}, subresource="status")


def _revision(cluster: Cluster, workload: Ref) -> str | None:
    """The StatefulSet's update revision, once its controller has seen the latest spec."""
    body = cluster.get(workload)
    if body is None:
        return None
    status = body.get("status") or {}
    seen, generation = status.get("observedGeneration"), find(body, ("metadata", "generation"))
    if isinstance(seen, int) and isinstance(generation, int) and seen < generation:
        return None
    found = status.get("updateRevision")
    return str(found) if found else None


@dataclass(slots=True)
class StepPods:
    """A step's work on pods: in-place updates, and the pods of an OnDelete roll to delete
    (its StatefulSet creates each anew at the new revision). `advance` does what it can now
    and says whether it did anything; `done` once every pod is through."""

    cluster: Cluster
    updates: Sequence[PodUpdate]
    deletes: Sequence[Ref]  # pods of OnDelete StatefulSets (workload, pod) to recreate
    delete_of: Mapping[Ref, Ref]  # pod -> its StatefulSet
    wall: Callable[[], float]
    done: bool = False
    moves: list[tuple[str, Move]] = field(default_factory=list)  # every write, in order

    def advance(self) -> bool:
        moved, pending = False, False
        for update in self.updates:
            revision = _revision(self.cluster, update.workload)
            if revision is None:
                pending = True
                continue
            for name in update.pods:
                ref = Ref("v1", "Pod", update.workload.namespace, name)
                pod = self.cluster.get(ref)
                if pod is None:  # deleted meanwhile: its StatefulSet makes it at NEW
                    pending = True
                    continue
                move = next_move(pod, revision, update.template, update.grace, self.wall())
                if move is Move.DONE:
                    continue
                pending = True
                if move is Move.WAIT:
                    continue
                if move is Move.CLOSE:
                    _gate(self.cluster, ref, False, self.wall())
                elif move is Move.OPEN:
                    _gate(self.cluster, ref, True, self.wall())
                else:
                    body = inplace.pod_patch(update.template, revision, update.old_template)
                    body["metadata"].setdefault("annotations", {})[cv.IN_PLACE_RESTARTS] = (
                        restart_baseline(pod, update.template)
                    )
                    self.cluster.patch(ref, body)
                self.moves.append((name, move))
                moved = True
        for ref in self.deletes:
            revision = _revision(self.cluster, self.delete_of[ref])
            if revision is None:
                pending = True
                continue
            pod = self.cluster.get(ref)
            if pod is not None and revision_of(pod) != revision:
                self.cluster.delete(ref)
                self.moves.append((ref.name, Move.PATCH))
                moved = True
        self.done = not pending
        return moved


def admit(cluster: Cluster, workload: Ref, wall: Callable[[], float]) -> int:
    """Open the readiness gate of the workload's pods that run their spec and are not being
    updated (new pods: created by a scale-up, a recreation, a node's failure); how many."""
    body = cluster.get(workload)
    revision = _revision(cluster, workload) if body is not None else None
    selector = find(body, ("spec", "selector", "matchLabels")) if body is not None else None
    if not isinstance(selector, Mapping) or revision is None:
        return 0
    pods = _pods(cluster, workload.namespace, selector)
    opened = 0
    for pod in pods:
        if not inplace.gated(pod) or inplace.gate_open(pod) or not inplace.runs_spec(pod):
            continue
        if inplace.condition(pod, cv.IN_PLACE_READY) is not None and revision_of(pod) != revision:
            continue  # being drained for its update: it opens once it runs the new images
        name = str(find(pod, ("metadata", "name")))
        _gate(cluster, Ref("v1", "Pod", workload.namespace, name), True, wall())
        opened += 1
    return opened


def _pods(cluster: Cluster, namespace: str, selector: Mapping[str, Any]) -> Sequence[Object]:
    """The pods a workload's `matchLabels` selects (from the watch's cache where it has one)."""
    labels = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    return cluster.list_feed(Feed("v1", "Pod", namespace, labels))[0]


def template_of(body: Object) -> Mapping[str, Any]:
    found = find(body, ("spec", "template"))
    return found if isinstance(found, Mapping) else {}


def _ordinal(pod: Mapping[str, Any]) -> int:
    tail = str(find(pod, ("metadata", "name")) or "").rpartition("-")[2]
    return int(tail) if tail.isdigit() else -1


def _busy(pod: Mapping[str, Any]) -> bool:
    """Out of service: drained for its update, or its containers not ready (a pod whose gate
    was never opened is not: `admit` opens it)."""
    gate = inplace.condition(pod, cv.IN_PLACE_READY)
    ready = inplace.condition(pod, "ContainersReady")
    closed = gate is not None and gate.get("status") != "True"
    return closed or ready is None or ready.get("status") != "True"


def catch_up(cluster: Cluster, workload: Ref, wall: Callable[[], float]) -> None:
    """Take an in-place workload's pods still behind its update revision there, when no plan
    step does (the template came from elsewhere: Argo CD applying `build --in-place`, a sync
    that died before its steps): highest ordinal first, above the partition, at most
    maxUnavailable out of service; in place when the pod's shape (`rbgc.io/pod-shape`) is the
    template's, else deleted for its StatefulSet to recreate (`InPlaceOnly`: left alone)."""
    body = cluster.get(workload)
    update = inplace.compiled(body) if body is not None else None
    revision = _revision(cluster, workload) if update is not None else None
    strategy = inplace.strategy(body, 0) if body is not None else None
    selector = find(body, ("spec", "selector", "matchLabels"))
    if body is None or update is None or revision is None or strategy is None:
        return
    if not isinstance(selector, Mapping):
        return
    n = int(find(body, ("spec", "replicas")) or 0)
    partition = scaled(strategy.partition, n, round_up=True)
    room = max(scaled(strategy.max_unavailable, n, round_up=True), 1)
    pods = _pods(cluster, workload.namespace, selector)
    template = template_of(body)
    shape = find(template, ("metadata", "annotations", cv.POD_SHAPE))
    behind = sorted(
        (p for p in pods if revision_of(p) != revision and _ordinal(p) >= partition),
        key=lambda p: -_ordinal(p),
    )
    room -= sum(1 for p in pods if _busy(p))  # out of service already, behind or not
    moving: list[str] = []
    for pod in behind:
        if not _busy(pod):  # a busy one carries on where it is
            if room <= 0:
                continue
            room -= 1
        name = str(find(pod, ("metadata", "name")))
        if find(pod, ("metadata", "annotations", cv.POD_SHAPE)) == shape:
            moving.append(name)
        elif not update.only:
            cluster.delete(Ref("v1", "Pod", workload.namespace, name))
    if moving:
        work = StepPods(
            cluster=cluster,
            updates=(
                PodUpdate(
                    workload=workload,
                    pods=tuple(moving),
                    template=template,
                    grace=update.grace_period,
                ),
            ),
            deletes=(),
            delete_of={},
            wall=wall,
        )
        work.advance()


def unopened(pods: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """New pods of in-place workloads whose gate no one has set yet, running their spec."""
    return [
        p
        for p in pods
        if inplace.gated(p)
        and inplace.condition(p, cv.IN_PLACE_READY) is None
        and inplace.runs_spec(p)
        and not find(p, ("metadata", "deletionTimestamp"))
    ]


def open_gates(
    cluster: Cluster, pods: Iterable[Mapping[str, Any]], wall: Callable[[], float]
) -> int:
    """`--watch`: open the gate of each new pod (a StatefulSet recreated it), so that it serves
    without waiting for the next convergence; how many."""
    found = unopened(pods)
    for pod in found:
        meta = pod.get("metadata") or {}
        _gate(
            cluster,
            Ref("v1", "Pod", str(meta.get("namespace")), str(meta.get("name"))),
            True,
            wall(),
        )
    return len(found)
