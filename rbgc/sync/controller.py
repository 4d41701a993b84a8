"""Run a `SyncPlan` against a `Cluster`: the thin, imperative half of `rbgc sync`.

Reads the live workloads of NEW's groups (OLD), asks plan.py for the steps, then for each step:
delete (and wait until gone), apply, and wait until every target is reached. What a step waits
on is read by list + watch (informer.py): one watch per kind and namespace, so the requests do
not grow with how long pods take to get ready. One deadline covers the whole sync. Time comes
from an injected `Clock`, so the simulator runs on ticks and a real cluster on the wall clock.
A `Stop` (a signal) is honoured before every write. Progress goes to `emit`, one line per step
(and to `events`, which the live view and `-o json` follow).

A step is a lane's unit of work, carried out in phases (`_Lane.phase`): `start` (its deletions
sent), `gone` (they are gone), `apply` (its objects applied), `wait` (its targets reached),
then the next step. A new kind of step adds its phase to `_Run.advance`'s table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from rbgc.bundle import Bundle
from rbgc.k8s.controllers import Readiness, readiness
from rbgc.k8s.conventions import group_and_role
from rbgc.sync import ownership
from rbgc.sync.applyset import NEVER_DELETED
from rbgc.sync.cluster import Clock, Cluster, ConflictError, Feed, Ref
from rbgc.sync.failure import Event, Progress, Stop, SyncTimeout
from rbgc.sync.informer import Informer
from rbgc.sync.plan import StepOp, SyncPlan, SyncStep, Target

__all__ = ["Event", "Outcome", "Progress", "SyncTimeout", "execute", "prepare", "render_steps"]


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
    parallel: int = 16,
    events: Callable[[Event], None] = lambda event: None,
    observe: Callable[[SyncStep, Mapping[Target, Readiness | None]], None] = lambda s, seen: None,
    stop: Stop | None = None,
) -> Outcome:
    """Run every step; raises `SyncTimeout`, `ClusterError` or `Interrupted` (`stop` was set:
    before the next write). The plan's phases run in order; in a phase, up to `parallel`
    lanes (groups) advance together: one thread, each lane doing what it can (writes, a look
    at what the watches showed), a wait for the watches' next events only when none could;
    `interval` bounds a wait, so the locks are renewed (`heartbeat`) while pods get ready."""
    progress = progress or Progress()
    start = clock.now()
    run = _Run(
        cluster=cluster,
        informer=Informer(cluster),
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
        stop=Stop() if stop is None else stop,
    )
    progress.total = len(plan.steps)
    by_number = {s.number: s for s in plan.steps}
    phases = plan.phases or ((tuple(s.number for s in plan.steps),),)
    try:
        for phase in phases:
            waiting = [_Lane([by_number[n] for n in lane]) for lane in phase]
            active: list[_Lane] = []
            while waiting or active:
                while waiting and len(active) < max(parallel, 1):
                    active.append(waiting.pop(0))
                moved = False
                for lane in list(active):
                    try:
                        moved = run.advance(lane) or moved
                    except Exception:
                        progress.failed_lane = lane.name  # the failure is about its step
                        raise
                    if lane.finished:
                        active.remove(lane)
                if active and not moved:
                    run.check_deadline(active)
                    run.wait(min(interval, run.deadline - clock.now()))
    finally:
        run.informer.close()
    return Outcome(steps=len(plan.steps), elapsed=clock.now() - start)


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
    """One group's steps, and where it stands in the current one (`phase`): about to start
    it, waiting for its deletions to be gone, about to apply, or waiting for its targets."""

    steps: list[SyncStep]
    at: int = 0
    phase: str = "start"
    gone: list[Ref] = field(default_factory=list)
    pending: list[Target] = field(default_factory=list)
    states: dict[Target, Readiness | None] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.at >= len(self.steps)

    @property
    def step(self) -> SyncStep:
        return self.steps[self.at]

    @property
    def name(self) -> str:
        return self.steps[0].group if self.steps else ""


@dataclass(slots=True, kw_only=True)
class _Run:
    cluster: Cluster
    informer: Informer
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
    stop: Stop

    def advance(self, lane: _Lane) -> bool:
        """Move `lane` as far as it goes without waiting; whether anything happened."""
        phases: dict[str, Callable[[_Lane], bool | None]] = {
            "start": self._start,
            "gone": self._gone,
            "apply": self._apply,
            "wait": self._wait,
        }
        moved = False
        while not lane.finished:
            went = phases[lane.phase](lane)
            if went is None:  # waiting for the cluster
                return moved
            moved = moved or went
        return moved

    def _start(self, lane: _Lane) -> bool:
        step = lane.step
        self._before_write()  # the lock is renewed (or found lost) before every write
        self.progress.current[lane.name] = (step.number, step.summary)
        self.progress.started.add(step.number)
        self.emit(f"[{step.number}/{self.total}] {step.summary}")
        self.events(step_event("step-started", step))
        lane.gone = []
        for ref in step.delete:
            if ref.kind in NEVER_DELETED:  # the plan never lists one: data stays
                continue
            self.informer.follow(Feed.of(ref))  # watched before it goes: its deletion is seen
            self._before_write()
            self.cluster.delete(ref)
            self.progress.writes += 1
            lane.gone.append(ref)
        lane.phase = "gone"
        return True

    def _gone(self, lane: _Lane) -> bool | None:
        lane.gone = [r for r in lane.gone if self.informer.get(r) is not None]
        if lane.gone:
            return None
        lane.phase = "apply"
        return False

    def _apply(self, lane: _Lane) -> bool:
        step = lane.step
        for body in step.apply:
            self._before_write()
            try:
                answer = self.cluster.apply(body, force=self.force)  # force: take fields over
            except ConflictError as exc:
                raise ConflictError(exc.message, exc.conflicts, str(Ref.of(body))) from None
            self.informer.wrote(answer)
            self.progress.writes += 1
        lane.pending, lane.phase = list(step.wait), "wait"
        return True

    def _wait(self, lane: _Lane) -> bool | None:
        step = lane.step
        if lane.pending:
            self.heartbeat()
            lane.states = {t: _state(self.informer, t.ref) for t in lane.pending}
            self.observe(step, lane.states)
            lane.pending = [t for t in lane.pending if not t.done(lane.states[t])]
            if lane.pending:
                return None
        self.on_step_done(step)
        self.progress.done.add(step.number)
        self.events(step_event("step-done", step))
        if step.op is StepOp.GATE:  # the group's wave is ready: the next one may start
            self.events({"event": "wave-ready", "group": step.group, "wave": step.wave})
        lane.at, lane.phase = lane.at + 1, "start"
        return True

    def _before_write(self) -> None:
        self.stop.check()
        self.heartbeat()

    def wait(self, seconds: float) -> None:
        """Until the watches bring news, `seconds` pass, or a signal arrives."""
        if not self.stop.requested:
            self.informer.wait(max(seconds, 0.0))
        self.stop.check()

    def check_deadline(self, active: list[_Lane]) -> None:
        if self.clock.now() < self.deadline:
            return
        lane = active[0]
        self.progress.failed_lane = lane.name
        if lane.gone:
            ref = lane.gone[0]
            raise SyncTimeout(f"{ref} to be deleted", "still there", "gone", self.timeout, None)
        first = lane.pending[0]
        state = lane.states.get(first)
        seen = state.describe() if state is not None else "not found"
        what = f"{first.who} ({first.ref})"
        raise SyncTimeout(what, seen, first.wanted(), self.timeout, first.span)


def _state(informer: Informer, ref: Ref) -> Readiness | None:
    body = informer.get(ref)
    return readiness(body) if body is not None else None


def render_steps(plan: SyncPlan) -> str:
    """`--dry-run`: the steps, one line each, then what each applies, deletes and waits for."""
    lines = []
    for s in plan.steps:
        lines.append(f"{s.number}. {s.summary}")
        for ref in s.delete:
            why = s.why.get(ref)
            lines.append(f"     delete {ref}" + (f": {why}" if why else ""))
        for body in s.apply:
            lines.append(f"     apply  {Ref.of(body)}")
        for t in s.wait:
            lines.append(f"     wait   {t.ref}: {t.wanted()}")
    for note in (*plan.rollout.notes, *plan.notes):
        lines.append(f"note: {note}")
    return "\n".join(lines) + "\n"
