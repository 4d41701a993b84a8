"""The rollout plan's data: what the planner reads (one unit per workload object) and what it
produces (steps of actions, role states after each, invariants). Frozen; `rbgc sync` executes
a `Plan` and the views in render.py print it."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from rbgc.bundle import Rule
from rbgc.diagnostics import Span
from rbgc.k8s.controllers import Strategy, WorkloadKind

__all__ = ["Rule", "Strategy"]


class RoleChange(enum.StrEnum):
    NONE = "none"  # pods keep running (maybe scaled)
    ROLL = "roll"  # pod template changed: rolling update
    RECREATE = "recreate"  # immutable field changed: delete and create
    ADD = "add"  # role only in NEW
    REMOVE = "remove"  # role only in OLD


class Op(enum.StrEnum):
    """What `rbgc sync` does to a workload in a step."""

    SCALE = "scale"
    ROLL = "roll"
    CREATE = "create"
    RECREATE = "recreate"
    DELETE = "delete"


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleInput:
    """One unit of the rollout: a workload object of a role (a role has one, except LWS roles
    built with `--lws statefulsets`: a leader and one worker StatefulSet per group)."""

    name: str  # the role's name, or `role:object` for a worker StatefulSet
    kind: WorkloadKind
    wave: int
    old_replicas: int
    new_replicas: int
    change: RoleChange
    strategy: Strategy
    object_name: str
    size: int = 1  # pods per replica (LeaderWorkerSet group size) in NEW
    old_size: int | None = None  # in OLD, where a recreate changed it
    span: Span | None = None

    @property
    def old_pods_per_replica(self) -> int:
        return self.size if self.old_size is None else self.old_size


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupChange:
    namespace: str
    name: str
    roles: tuple[RoleInput, ...]
    rules: tuple[Rule, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleState:
    """A role once a step is done; `available` is the fewest ready replicas during the step."""

    replicas: int
    updated: int
    available: int
    partition: int | None
    floor: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """What `rbgc sync` sets on one workload in a step, and what the controller then does."""

    role: str
    kind: str
    object: str
    op: Op
    replicas: int
    partition: int | None = None
    create: int = 0  # replicas started (not ready before the step ends)
    replace: int = 0  # old replicas terminated for new ones
    delete: int = 0  # replicas removed
    created: tuple[str, ...] = ()  # pod names where Kubernetes makes them predictable
    replaced: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    pods_per_replica: int = 1  # LeaderWorkerSet: a replica is a group of `size` pods
    pods_down: int = 0  # old pods this action terminates (replaced, removed, recreated)
    pods_restarted: int = 0  # of those, the ones whose place a new pod takes

    @property
    def down(self) -> int:
        return self.pods_down


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    number: int
    group: str
    wave: int
    actions: tuple[Action, ...]
    roles: Mapping[str, RoleState]
    skew: Mapping[str, float]  # rule name -> percent, after the step

    @property
    def down(self) -> int:
        return sum(a.down for a in self.actions)


@dataclass(frozen=True, slots=True, kw_only=True)
class Invariant:
    name: str
    holds: bool
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    kubernetes_version: str
    steps: tuple[Step, ...]
    total_steps: int
    invariants: tuple[Invariant, ...]
    notes: tuple[str, ...]
    restarts: int  # pods replaced over the whole plan
    stopped_after: int | None = None
