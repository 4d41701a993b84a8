"""Run a `SyncPlan` against a `Cluster`: the thin, imperative half of `rbgc sync`.

Reads the live workloads of NEW's groups (OLD), asks plan.py for the steps, then for each step:
delete (and wait until gone), apply, and poll until every target is reached. One deadline
covers the whole sync. Time comes from an injected `Clock`, so the simulator runs on ticks and
a real cluster on the wall clock. Progress goes to `emit`, one line per step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rbgc.bundle import Bundle
from rbgc.k8s.controllers import Readiness, readiness
from rbgc.k8s.conventions import group_and_role
from rbgc.sync import inplace, ownership
from rbgc.sync.applyset import NEVER_DELETED
from rbgc.sync.cluster import Clock, Cluster, ConflictError, Ref
from rbgc.sync.inplace import StepPods, admit
from rbgc.sync.plan import StepOp, SyncPlan, SyncStep, Target
from rbgc.sync.warmup import Warmups


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
    step: int = 0  # the last step started
    total: int = 0
    summary: str = ""
    started: set[int] = field(default_factory=set)
    done: set[int] = field(default_factory=set)


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
    warmup: bool = False,
) -> SyncPlan:
    """Read what the cluster holds of NEW's groups (ownership.py) and plan against it;
    `records`: how far an unfinished upgrade got (the Leases' resume records); `warmup`:
    each role's new images are pulled on its pods' nodes first (plan/warmups.py)."""
    live = ownership.read_live(cluster, bundle)
    return ownership.owned_plan(
        bundle, live, kubernetes_version, prune=prune, records=records, warmup=warmup
    )


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
    parallel: int = 16,
    events: Callable[[Event], None] = lambda event: None,
    observe: Callable[[SyncStep, Mapping[Target, Readiness | None]], None] = lambda s, seen: None,
    wall: Callable[[], float] | None = None,
) -> Outcome:
    """Run every step; raises `SyncTimeout` or `ClusterError`. The plan's phases run in
    order; in a phase, up to `parallel` lanes (groups) advance together: one thread, each
    lane doing what it can (writes, a readiness check), a sleep only when none could."""
    progress = progress or Progress()
    start = clock.now()
    run = _Run(
        cluster=cluster,
        clock=clock,
        deadline=start + timeout,
        timeout=timeout,
        emit=emit,
        progress=progress,
        force=force,
        heartbeat=heartbeat,
        on_step_done=on_step_done,
        total=len(plan.steps),
        events=events,
        observe=observe,
        upgrades=Upgrades(cluster=cluster, wall=wall or clock.now),
    )
    progress.total = len(plan.steps)
    by_number = {s.number: s for s in plan.steps}
    phases = plan.phases or ((tuple(s.number for s in plan.steps),),)
    for phase in phases:
        waiting = [_Lane([by_number[n] for n in lane]) for lane in phase]
        active: list[_Lane] = []
        while waiting or active:
            while waiting and len(active) < max(parallel, 1):
                active.append(waiting.pop(0))
            moved = False
            for lane in list(active):
                moved = run.advance(lane) or moved
                if lane.finished:
                    active.remove(lane)
            if active and not moved:
                run.check_deadline(active[0])
                clock.sleep(interval)
    return Outcome(steps=len(plan.steps), elapsed=clock.now() - start)


Event = dict[str, Any]  # one line of `rbgc sync -o json`


def step_event(kind: str, step: SyncStep) -> Event:
    """`step-started` / `step-done`: the group, the role(s) it moves, the step."""
    found = (group_and_role((b.get("metadata") or {}).get("labels") or {}) for b in step.apply)
    roles = sorted({f[1] for f in found if f is not None})
    return {
        "event": kind,
        "group": step.group or None,
        "role": roles[0] if len(roles) == 1 else None,
        "roles": roles,
        "step": step.number,
        "op": str(step.op),
        "wave": step.wave,
        "summary": step.summary,
    }


@dataclass(slots=True)
class _Lane:
    """One group's steps, and where it stands: about to start a step, waiting for the
    step's deletions to be gone, or waiting for its targets."""

    steps: list[SyncStep]
    at: int = 0
    phase: str = "start"
    gone: list[Ref] = field(default_factory=list)
    pending: list[Target] = field(default_factory=list)
    states: dict[Target, Readiness | None] = field(default_factory=dict)
    pods: StepPods | None = None  # the step's in-place updates and pod recreations

    @property
    def finished(self) -> bool:
        return self.at >= len(self.steps)


@dataclass(slots=True, kw_only=True)
class _Run:
    cluster: Cluster
    clock: Clock
    deadline: float
    timeout: float
    emit: Callable[[str], None]
    progress: Progress
    force: bool
    heartbeat: Callable[[], None]
    on_step_done: Callable[[SyncStep], None]
    total: int
    events: Callable[[Event], None]
    observe: Callable[[SyncStep, Mapping[Target, Readiness | None]], None]  # the live view
    upgrades: Upgrades  # warm-ups and in-place updates (sync/warmup.py, sync/inplace.py)

    def advance(self, lane: _Lane) -> bool:
        """Move `lane` as far as it goes without waiting; whether anything happened."""
        moved = self.upgrades.warmups.advance()  # warm-ups run beside the steps
        while not lane.finished:
            step = lane.steps[lane.at]
            if lane.phase == "start" and not self.upgrades.warmups.done(step.needs):
                return moved  # its role's new images are still being pulled
            if lane.phase == "start":
                self.heartbeat()  # the lock is renewed (or found lost) before every write
                self.progress.step, self.progress.summary = step.number, step.summary
                self.progress.started.add(step.number)
                self.emit(f"[{step.number}/{self.total}] {step.summary}")
                self.events(step_event("step-started", step))
                for ref in step.delete:
                    if ref.kind in NEVER_DELETED:  # the plan never lists one: data stays
                        continue
                    self.cluster.delete(ref)
                    self.progress.writes += 1
                lane.gone = [r for r in step.delete if r.kind not in NEVER_DELETED]
                lane.phase, moved = "gone", True
            if lane.phase == "gone":
                lane.gone = [r for r in lane.gone if self.cluster.get(r) is not None]
                if lane.gone:
                    return moved
                self.heartbeat()
                for body in step.apply:
                    try:
                        self.cluster.apply(body, force=self.force)  # force: take fields over
                    except ConflictError as exc:
                        raise ConflictError(exc.message, exc.conflicts, str(Ref.of(body))) from None
                    self.progress.writes += 1
                lane.pods = self.upgrades.start(step)
                lane.phase, moved = "pods", True
            if lane.phase == "pods":
                assert lane.pods is not None
                self.heartbeat()
                moved = lane.pods.advance() or moved
                if not lane.pods.done or not self.upgrades.finished(step):
                    return moved
                lane.pending, lane.phase, moved = list(step.wait), "wait", True
            if lane.pending:
                self.heartbeat()
                self.upgrades.admit(lane.pending)
                lane.states = {t: _state(self.cluster, t.ref) for t in lane.pending}
                self.observe(step, lane.states)
                lane.pending = [t for t in lane.pending if not t.done(lane.states[t])]
                if lane.pending:
                    return moved
            self.on_step_done(step)
            self.progress.done.add(step.number)
            self.events(step_event("step-done", step))
            if step.op is StepOp.GATE:  # the group's wave is ready: the next one may start
                self.events({"event": "wave-ready", "group": step.group, "wave": step.wave})
            lane.at, lane.phase, moved = lane.at + 1, "start", True
        return moved

    def check_deadline(self, lane: _Lane) -> None:
        if self.clock.now() < self.deadline:
            return
        step = lane.steps[lane.at] if not lane.finished else None
        waiting = self.upgrades.waiting(step, lane.phase) if step is not None else None
        if waiting is not None:
            raise SyncTimeout(waiting, None, self.timeout)
        if lane.gone:
            gone = Target(ref=lane.gone[0], who=str(lane.gone[0]), span=None, replicas=0)
            raise SyncTimeout(gone, None, self.timeout)
        first = lane.pending[0]
        raise SyncTimeout(first, lane.states.get(first), self.timeout)


@dataclass(slots=True)
class Upgrades:
    """What a sync does beyond applying objects: warm-ups (started by their step, advanced on
    every pass, awaited by the steps that need them) and the work on pods of OnDelete
    StatefulSets (in-place updates, recreations, readiness gates of new pods)."""

    cluster: Cluster
    wall: Callable[[], float]
    warmups: Warmups = field(init=False)

    def __post_init__(self) -> None:
        self.warmups = Warmups(cluster=self.cluster, now=self.wall)

    def start(self, step: SyncStep) -> StepPods:
        if step.warmup is not None:
            self.warmups.start(step.warmup)
        pods = StepPods(
            cluster=self.cluster,
            updates=step.in_place,
            deletes=tuple(pod for pod, _ in step.recreate),
            delete_of=dict(step.recreate),
            wall=self.wall,
        )
        pods.done = not (step.in_place or step.recreate)
        return pods

    def finished(self, step: SyncStep) -> bool:
        """A blocking warm-up (one of the inputs) holds its step until it is done."""
        task = step.warmup
        if task is None or task.background:
            return True
        self.warmups.advance()
        return self.warmups.done((task.key,))

    def admit(self, targets: Sequence[Target]) -> None:
        """Open the gates of new pods; where no step moves a workload's pods, bring those
        still behind to the update revision (the template came from elsewhere)."""
        for t in targets:
            if t.gated:
                if t.catch_up:
                    inplace.catch_up(self.cluster, t.ref, self.wall)
                admit(self.cluster, t.ref, self.wall)

    def waiting(self, step: SyncStep, phase: str) -> Target | None:
        """What a lane waits for that is no workload: a warm-up, or pods being updated."""
        keys = step.needs if phase == "start" else ()
        if phase == "pods" and step.warmup is not None:
            keys = (step.warmup.key,)
        if keys and not self.warmups.done(keys):
            key = next(k for k in keys if not self.warmups.done((k,)))
            ref = Ref("batch/v1", "Job", "", key)
            return Target(ref=ref, who=f"warm-up {key}", span=None, replicas=0)
        if phase == "pods" and step.in_place:
            update = step.in_place[0]
            return Target(ref=update.workload, who="pods updated in place", span=None, replicas=0)
        return None


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
        for update in s.in_place:
            lines.append(f"     update in place {', '.join(update.pods)} ({update.workload})")
        for pod, _ in s.recreate:
            lines.append(f"     recreate {pod}")
        if s.needs:
            lines.append(f"     after  warm-up {', '.join(s.needs)}")
        for t in s.wait:
            lines.append(f"     wait   {t.ref}: {t.wanted()}")
    for note in (*plan.rollout.notes, *plan.notes):
        lines.append(f"note: {note}")
    return "\n".join(lines) + "\n"
