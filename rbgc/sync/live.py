"""`rbgc sync`'s live view on a terminal: per group, wave and role, how many replicas are
ready and updated of how many, the step each group is in, and the time elapsed, redrawn in
place as the sync's watches bring news (bars.py draws the role lines). Step numbers are the
plan's, as the header counts them; a group's line says when its step is done. Not a
terminal: the plain lines of before, one per step.

In: the sync's events (`step-started`, `step-done`, `wave-ready`, as `-o json` streams them)
and what each poll observed of a step's workloads (`observe`). Out: frames, written with the
cursor moved back over the previous one; `frame()` alone is pure, for tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from rbgc.graph.bars import step_bars
from rbgc.k8s.controllers import Readiness
from rbgc.plan.model import RoleState
from rbgc.sync.controller import Event
from rbgc.sync.plan import SyncPlan, SyncStep, Target

_UP_AND_CLEAR = "\x1b[{n}F\x1b[J"  # to the start of the line n lines up, clear below


@dataclass(slots=True)
class _Wave:
    roles: dict[str, RoleState] = field(default_factory=dict)
    ready: bool = False


@dataclass(slots=True, kw_only=True)
class LiveView:
    plan: SyncPlan
    now: Callable[[], float]  # the sync's clock (simulated seconds with --simulate)
    write: Callable[[str], None]
    color: bool = False
    width: int = 20
    started: float | None = None
    steps: dict[str, str] = field(default_factory=dict)  # group -> the step it is in
    waves: dict[tuple[str, int], _Wave] = field(default_factory=dict)
    done: int = 0
    drawn: int = 0  # lines of the last frame, to move back over
    floors: dict[tuple[str, int, str], int] = field(default_factory=dict)  # (group, step, role)

    def __post_init__(self) -> None:
        self.started = self.now() if self.started is None else self.started
        self.floors = {
            (s.group, s.number, role): state.floor
            for s in self.plan.rollout.steps
            for role, state in s.roles.items()
        }

    def event(self, event: Event) -> None:
        kind, group = event.get("event"), str(event.get("group") or "")
        total = len(self.plan.steps)
        if kind == "step-started":
            self.steps[group] = f"step {event['step']}/{total}: {event['summary']}"
        elif kind == "step-done":
            self.done += 1
            # One counter: a group whose step is done says so, beside the header's count.
            self.steps[group] = f"step {event['step']}/{total} done: {event['summary']}"
        elif kind == "wave-ready":
            self.waves.setdefault((group, int(event["wave"])), _Wave()).ready = True
        self.draw()

    def observe(self, step: SyncStep, states: Mapping[Target, Readiness | None]) -> None:
        """What a poll found of `step`'s workloads."""
        wave = self.waves.setdefault((step.group, step.wave), _Wave())
        for target, state in states.items():
            role = target.who.split()[1] if target.who.startswith("role ") else target.who
            floor = self._floor(step, role, target.replicas)
            wave.roles[role] = RoleState(
                replicas=target.replicas,
                updated=state.updated if state else 0,
                available=state.ready if state else 0,
                partition=None,
                floor=floor,
            )
        self.draw()

    def _floor(self, step: SyncStep, role: str, replicas: int) -> int:
        """The floor `rbgc plan` gives the role at this step; at a gate (no planner step),
        the floor of the role's last planner step; a role the rollout does not move keeps
        every replica."""
        if step.rollout_step:
            found = self.floors.get((step.group, step.rollout_step, role))
            if found is not None:
                return found
        planned = [
            (number, floor)
            for (group, number, name), floor in self.floors.items()
            if group == step.group
            and name == role
            and (not step.rollout_step or number <= step.rollout_step)
        ]
        return max(planned)[1] if planned else replicas

    def frame(self) -> str:
        elapsed = self.now() - (self.started or 0.0)
        head = f"rbgc sync: {self.done}/{len(self.plan.steps)} steps done, {elapsed:.0f}s"
        outside = self.steps.get("")  # steps of no group: ownership records, pass-through
        lines = [f"{head}  ({outside})" if outside else head]
        for group in sorted(({g for g, _ in self.waves} | set(self.steps)) - {""}):
            lines.append(f"{group}  {self.steps.get(group, '')}".rstrip())
            for (g, number), wave in sorted(self.waves.items()):
                if g != group or not wave.roles:
                    continue
                lines.append(f"  wave {number}{'  ready' if wave.ready else ''}")
                bars = step_bars(wave.roles, width=self.width, color=self.color)
                lines.extend(f"    {line}" for line in bars)
        return "\n".join(lines) + "\n"

    def draw(self) -> None:
        text = self.frame()
        self.write((_UP_AND_CLEAR.format(n=self.drawn) if self.drawn else "") + text)
        self.drawn = text.count("\n")
