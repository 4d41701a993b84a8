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
    IN_PLACE = "in-place"  # images changed on a workload compiled in place: same pods
    RECREATE = "recreate"  # immutable field changed: delete and create
    ADD = "add"  # role only in NEW
    REMOVE = "remove"  # role only in OLD


class Op(enum.StrEnum):
    """What `rbgc sync` does to a workload in a step."""

    SCALE = "scale"
    ROLL = "roll"
    IN_PLACE = "in-place"  # rbgc sync updates pods' images: same pods, out of Services meanwhile
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
    on_delete: bool = False  # NEW is OnDelete: rbgc replaces (deletes) or updates its pods
    grace: int = 0  # in place: seconds a pod is out of its Services before its images change
    images: tuple[str, ...] = ()  # NEW's images
    old_images: tuple[str, ...] = ()  # OLD's images

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
    updated_in_place: tuple[str, ...] = ()  # pods whose images change (StatefulSet names)
    pods_in_place: int = 0  # pods updated in place: out of service, never terminated
    grace: int = 0  # seconds each is out of its Services before its images change

    @property
    def down(self) -> int:
        """Pods not serving during the step: terminated, or being updated in place."""
        return self.pods_down + self.pods_in_place


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
class Warmup:
    """`plan --warmup`: pull a role's new images on the nodes its pods run on, from the
    group's first step on (overlapping earlier waves), done before the step that first
    replaces or updates one of its pods (`before`), which waits for it."""

    name: str  # W1, W2, ... across the plan
    group: str
    role: str
    wave: int
    images: tuple[str, ...]  # NEW's images its OLD pods do not run
    pods: tuple[str, ...]  # the pods whose nodes are warmed (StatefulSet-backed: by name)
    pod_count: int
    starts: int  # created when this step starts (the group's first)
    before: int  # this step waits until it is done


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
    in_place: int = 0  # pods updated in place over the whole plan (none of them recreated)
    warmups: tuple[Warmup, ...] = ()  # `--warmup`
