"""Run a `SyncPlan` against a `Cluster`: the thin, imperative half of `rbgc sync`.

Reads the live workloads of NEW's groups (OLD), asks plan.py for the steps, then for each step:
delete (and wait until gone), apply, and poll until every target is reached. One deadline
covers the whole sync. Time comes from an injected `Clock`, so the simulator runs on ticks and
a real cluster on the wall clock. Progress goes to `emit`, one line per step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from rbgc.bundle import Bundle
from rbgc.k8s.controllers import Readiness, readiness
from rbgc.sync import ownership
from rbgc.sync.applyset import NEVER_DELETED
from rbgc.sync.cluster import Clock, Cluster, ConflictError, Ref
from rbgc.sync.plan import SyncPlan, SyncStep, Target


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
    """How far a running sync got (read when it fails): writes, the step it is in."""

    writes: int = 0
    step: int = 0
    total: int = 0
    summary: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    steps: int
    elapsed: float


def prepare(
    cluster: Cluster,
    bundle: Bundle,
    kubernetes_version: tuple[int, int],
    *,
    prune: bool = False,
    records: Mapping[str, Mapping[str, object]] | None = None,
) -> SyncPlan:
    """Read what the cluster holds of NEW's groups (ownership.py) and plan against it;
    `records`: how far an unfinished upgrade got (the Leases' resume records)."""
    live = ownership.read_live(cluster, bundle)
    return ownership.owned_plan(bundle, live, kubernetes_version, prune=prune, records=records)


def execute(
    cluster: Cluster,
    plan: SyncPlan,
    *,
    clock: Clock,
    timeout: float,
    interval: float = 2.0,
    emit: Callable[[str], None] = lambda line: None,
    progress: Progress | None = None,
    force: bool = False,
    heartbeat: Callable[[], None] = lambda: None,
    on_step_done: Callable[[SyncStep], None] = lambda step: None,
) -> Outcome:
    """Run every step; raises `SyncTimeout` or `ClusterError`."""
    progress = progress or Progress()
    start = clock.now()
    deadline = start + timeout
    total = len(plan.steps)
    progress.total = total
    for step in plan.steps:
        progress.step, progress.summary = step.number, step.summary
        heartbeat()  # the lock is renewed (or found lost) before every step's writes
        emit(f"[{step.number}/{total}] {step.summary}")
        for ref in step.delete:
            if ref.kind in NEVER_DELETED:  # the plan never lists one; data is never at stake
                continue
            cluster.delete(ref)
            progress.writes += 1
        _wait_gone(cluster, step.delete, clock, deadline, timeout, interval)
        heartbeat()
        for body in step.apply:
            try:
                cluster.apply(body, force=force)  # force: --force-conflicts takes fields over
            except ConflictError as exc:
                raise ConflictError(exc.message, exc.conflicts, str(Ref.of(body))) from None
            progress.writes += 1
        _wait(cluster, step, clock, deadline, timeout, interval, heartbeat)
        on_step_done(step)
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
    heartbeat: Callable[[], None],
) -> None:
    pending = list(step.wait)
    while pending:
        heartbeat()
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
    for note in (*plan.rollout.notes, *plan.notes):
        lines.append(f"note: {note}")
    return "\n".join(lines) + "\n"
