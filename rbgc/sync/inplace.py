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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rbgc.k8s import conventions as cv
from rbgc.k8s import inplace
from rbgc.k8s.controllers import at
from rbgc.sync.cluster import Cluster, Object, Ref

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
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(text: Any) -> float | None:
    try:
        return datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def revision_of(pod: Mapping[str, Any]) -> str:
    return str(at(pod, ("metadata", "labels", cv.REVISION_LABEL)) or "")


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
    since = _seconds(gate.get("lastTransitionTime"))
    if grace and since is not None and now - since < grace:
        return Move.WAIT
    return Move.PATCH


def restart_baseline(pod: Mapping[str, Any], template: Mapping[str, Any]) -> str:
    """The restart counts the pod will have once its changed containers restarted."""
    want = inplace.images(template)
    has = inplace.images(pod)
    counts = {}
    for status in at(pod, ("status", "containerStatuses")) or ():
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
    seen, generation = status.get("observedGeneration"), at(body, ("metadata", "generation"))
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
    selector = at(body, ("spec", "selector", "matchLabels")) if body is not None else None
    if not isinstance(selector, Mapping) or revision is None:
        return 0
    pods, _ = cluster.list_pods(
        workload.namespace, ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    )
    opened = 0
    for pod in pods:
        if not inplace.gated(pod) or inplace.gate_open(pod) or not inplace.runs_spec(pod):
            continue
        if inplace.condition(pod, cv.IN_PLACE_READY) is not None and revision_of(pod) != revision:
            continue  # being drained for its update: it opens once it runs the new images
        name = str(at(pod, ("metadata", "name")))
        _gate(cluster, Ref("v1", "Pod", workload.namespace, name), True, wall())
        opened += 1
    return opened


def template_of(body: Object) -> Mapping[str, Any]:
    found = at(body, ("spec", "template"))
    return found if isinstance(found, Mapping) else {}
