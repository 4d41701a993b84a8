"""Run a `SyncPlan` against a `Cluster`: the thin, imperative half of `rbgc sync`.

Reads the live workloads of NEW's groups (OLD), asks plan.py for the steps, then for each step:
delete (and wait until gone), apply, and poll until every target is reached. One deadline
covers the whole sync. Time comes from an injected `Clock`, so the simulator runs on ticks and
a real cluster on the wall clock. Progress goes to `emit`, one line per step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from rbgc.bundle import Bundle
from rbgc.k8s.controllers import WORKLOAD_KINDS, Readiness, readiness
from rbgc.k8s.conventions import GROUP_LABELS
from rbgc.sync.cluster import Cluster, KindNotServed, Object, Ref
from rbgc.sync.plan import SyncPlan, SyncStep, Target, group_kinds, sync_plan


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class WallClock:
    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class SyncTimeout(Exception):
    """The deadline passed while a step waited; `target` is the first one not reached."""

    def __init__(self, target: Target, state: Readiness | None, timeout: float) -> None:
        seen = state.describe() if state is not None else "not found"
        super().__init__(
            f"timed out after {timeout:g}s waiting for {target.who} ({target.ref}): "
            f"{seen}; want {target.wanted()}"
        )
        self.target = target
        self.state = state


@dataclass(slots=True)
class Progress:
    """What a running sync has written so far (read when it fails)."""

    writes: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    steps: int
    elapsed: float


def read_live(cluster: Cluster, bundle: Bundle) -> list[Object]:
    """The live workloads of NEW's groups. Every kind the groups use is listed, so a missing
    CRD is reported (`KindNotServed`) before anything is applied; a missing workload kind
    (no LeaderWorkerSet CRD) only means no such workload exists yet."""
    used = {(m.api_version, m.kind) for m in bundle.manifests}
    live: dict[Ref, Object] = {}
    for namespace, group, api_version, kind in group_kinds(bundle):
        # under either release's group label: a migration finds the other release's objects
        for label in GROUP_LABELS:
            try:
                found = cluster.list(api_version, kind, namespace, {label: group})
            except KindNotServed:
                if kind not in WORKLOAD_KINDS or (api_version, kind) in used:
                    raise
                break
            live.update((Ref.of(o), o) for o in found)
    return [o for o in live.values() if o.get("kind") in WORKLOAD_KINDS]


def prepare(cluster: Cluster, bundle: Bundle, kubernetes_version: tuple[int, int]) -> SyncPlan:
    return sync_plan(bundle, read_live(cluster, bundle), kubernetes_version)


def execute(
    cluster: Cluster,
    plan: SyncPlan,
    *,
    clock: Clock,
    timeout: float,
    interval: float = 2.0,
    emit: Callable[[str], None] = lambda line: None,
    progress: Progress | None = None,
) -> Outcome:
    """Run every step; raises `SyncTimeout` or `ClusterError`."""
    progress = progress or Progress()
    start = clock.now()
    deadline = start + timeout
    total = len(plan.steps)
    for step in plan.steps:
        emit(f"[{step.number}/{total}] {step.summary}")
        for ref in step.delete:
            cluster.delete(ref)
            progress.writes += 1
        _wait_gone(cluster, step.delete, clock, deadline, timeout, interval)
        for body in step.apply:
            cluster.apply(body)
            progress.writes += 1
        _wait(cluster, step, clock, deadline, timeout, interval)
    return Outcome(steps=total, elapsed=clock.now() - start)


def _wait_gone(
    cluster: Cluster,
    refs: Sequence[Ref],
    clock: Clock,
    deadline: float,
    timeout: float,
    interval: float,
) -> None:
    for ref in refs:
        while cluster.get(ref) is not None:
            if clock.now() >= deadline:
                gone = Target(ref=ref, who=str(ref), span=None, replicas=0)
                raise SyncTimeout(gone, None, timeout)
            clock.sleep(interval)


def _wait(
    cluster: Cluster,
    step: SyncStep,
    clock: Clock,
    deadline: float,
    timeout: float,
    interval: float,
) -> None:
    pending = list(step.wait)
    while pending:
        states = {t: _state(cluster, t.ref) for t in pending}
        pending = [t for t in pending if not t.done(states[t])]
        if not pending:
            return
        if clock.now() >= deadline:
            raise SyncTimeout(pending[0], states[pending[0]], timeout)
        clock.sleep(interval)


def _state(cluster: Cluster, ref: Ref) -> Readiness | None:
    body = cluster.get(ref)
    return readiness(body) if body is not None else None


def render_steps(plan: SyncPlan) -> str:
    """`--dry-run`: the steps, one line each, then what each applies, deletes and waits for."""
    lines = []
    for s in plan.steps:
        lines.append(f"{s.number}. {s.summary}")
        for ref in s.delete:
            lines.append(f"     delete {ref}")
        for body in s.apply:
            lines.append(f"     apply  {Ref.of(body)}")
        for t in s.wait:
            lines.append(f"     wait   {t.ref}: {t.wanted()}")
    for note in plan.rollout.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines) + "\n"
