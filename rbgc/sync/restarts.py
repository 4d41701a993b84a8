"""When `rbgc sync --watch` recreates what a pod restart touched, and what (pure: no I/O).

In: the compiled facts (each role's `Restart`, recorded by the build), the pods as the watch
last saw them, when each group / role instance was last recreated, and the time. Out: the
recreations due now, and when the next one held back by its backoff falls due.

Upstream's rules (rbg-semantics.md §7, rbg-v1alpha2-semantics.md §8): a pod counts as
restarted when it is Running or Pending and one of its containers or init containers (other
than `patio-runtime`) has `restartCount > 0`, or it is Failed. Unlike v0.4.0, a pod being
deleted is not a trigger: that is every rolling update and scale-down (and our own
recreations). `RecreateRBGOnPodRestart` deletes the group's workloads, wave by wave, and the
sync re-applies them; a role instance (one leader/worker group) is recreated by deleting its
pods, which its StatefulSets make again. Recreations of one group or instance back off:
`min(base x 2^(n-1), max)` seconds after the n-th, the first at once, the count forgotten once
it has been quiet for `max(2 x max, 600)` seconds (upstream's stable threshold).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from rbgc.bundle import GroupFacts, RoleFacts
from rbgc.k8s.conventions import IN_PLACE_RESTARTS, group_and_role
from rbgc.sync.cluster import Ref

IGNORED_CONTAINER = "patio-runtime"  # upstream's runtime sidecar: its restarts never count


def restarted(pod: Mapping[str, Any]) -> str | None:
    """Why `pod` counts as restarted (e.g. `container vllm restarted 2 time(s)`), or None."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return None
    status = pod.get("status") or {}
    phase = status.get("phase")
    if phase == "Failed":
        return "it failed"
    if phase not in ("Running", "Pending"):
        return None
    baseline = _in_place_restarts(pod)
    for s in (
        *(status.get("initContainerStatuses") or ()),
        *(status.get("containerStatuses") or ()),
    ):
        count = int(s.get("restartCount") or 0) - baseline.get(str(s.get("name")), 0)
        if s.get("name") != IGNORED_CONTAINER and count > 0:
            return f"container {s.get('name')} restarted {count} time(s)"
    return None


def _in_place_restarts(pod: Mapping[str, Any]) -> dict[str, int]:
    """Restarts an in-place update caused (rbgc's record on the pod, sync/inplace.py)."""
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(IN_PLACE_RESTARTS)
    try:
        found = json.loads(text) if isinstance(text, str) else {}
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {str(k): v for k, v in found.items() if isinstance(v, int)}


def delay(count: int, base: int, cap: int) -> float:
    """Seconds to wait after the `count`-th recreation before the next (0 before the first)."""
    if count <= 0 or base <= 0:
        return 0.0
    return float(min(base * 2 ** min(count - 1, 32), cap))


@dataclass(slots=True)
class History:
    """How often a group or instance was recreated lately, and when last."""

    count: int = 0
    last: float = float("-inf")


@dataclass(frozen=True, slots=True, kw_only=True)
class Recreate:
    """One recreation: of a whole group (`instance` None) or one role instance."""

    key: str  # "ns/group", or "ns/group/role/instance": what the backoff counts
    group: str  # "ns/group"
    role: str  # the role whose pod restarted
    instance: int | None
    pod: str  # the pod that restarted
    reason: str
    count: int  # this recreation is the count-th in a row
    delete: tuple[Ref, ...]  # workloads in wave order (group) or the instance's pods

    def describe(self) -> str:
        what = (
            f"group {self.group}"
            if self.instance is None
            else f"instance {self.instance} of role {self.role} in group {self.group}"
        )
        return f"recreating {what}: pod {self.pod}: {self.reason}"


def instance_of(role: RoleFacts, pod: str) -> int | None:
    """Which leader/worker group a pod of a LeaderWorkerSet built as StatefulSets is in: the
    leader StatefulSet `{name}`'s pod `{name}-{i}`, or a pod of the worker StatefulSet
    `{name}-{i}`."""
    leader = next((w for w in role.workloads if w.primary), None)
    if leader is None:
        return None
    owner, _, ordinal = pod.rpartition("-")
    if owner == leader.name and ordinal.isdigit():
        return int(ordinal)
    workers = {w.name for w in role.workloads if not w.primary}
    index = owner.removeprefix(f"{leader.name}-")
    return int(index) if owner in workers and index.isdigit() else None


def instance_pods(role: RoleFacts, namespace: str, instance: int) -> tuple[Ref, ...]:
    leader = next(w for w in role.workloads if w.primary)
    names = [f"{leader.name}-{instance}"]
    names += [f"{leader.name}-{instance}-{j}" for j in range(1, role.size)]
    return tuple(Ref("v1", "Pod", namespace, n) for n in names)


def group_workloads(group: GroupFacts) -> tuple[Ref, ...]:
    """The group's workloads in wave order (upstream deletes in dependency order)."""
    roles = sorted(group.roles, key=lambda r: r.wave)
    return tuple(
        Ref(w.api_version, w.kind, w.namespace, w.name) for r in roles for w in r.workloads
    )


def due(
    groups: Iterable[GroupFacts],
    pods: Iterable[Mapping[str, Any]],
    history: Mapping[str, History],
    now: float,
) -> tuple[list[Recreate], float | None]:
    """The recreations due at `now`, one per group or instance; and the earliest time one
    held back by its backoff falls due (None: none is)."""
    facts = {g.key: g for g in groups}
    out: list[Recreate] = []
    taken: set[str] = set()
    later: float | None = None
    for pod in sorted(pods, key=lambda p: (p["metadata"].get("namespace"), p["metadata"]["name"])):
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        identity = group_and_role(labels)
        group = facts.get(f"{meta.get('namespace')}/{identity[0]}") if identity else None
        role = (
            next((r for r in group.roles if identity and r.name == identity[1]), None)
            if group
            else None
        )
        if group is None or role is None or role.restart is None:
            continue
        why = restarted(pod)
        if why is None:
            continue
        name = str(meta["name"])
        policy = role.restart
        instance = None
        if policy.scope == "instance":
            instance = instance_of(role, name)
            if instance is None:
                continue
        key = group.key if instance is None else f"{group.key}/{role.name}/{instance}"
        if key in taken or group.key in taken:
            continue
        past = history.get(key, History())
        quiet = now - past.last > max(2 * policy.max_delay, 600)
        count = 0 if quiet else past.count
        ready_at = past.last + delay(count, policy.base_delay, policy.max_delay)
        if now < ready_at:
            later = ready_at if later is None else min(later, ready_at)
            continue
        taken.add(key)
        delete = (
            group_workloads(group)
            if instance is None
            else instance_pods(role, group.namespace, instance)
        )
        out.append(
            Recreate(
                key=key,
                group=group.key,
                role=role.name,
                instance=instance,
                pod=name,
                reason=why,
                count=count + 1,
                delete=delete,
            )
        )
    return out, later


def remember(history: MutableMapping[str, History], done: Recreate, now: float) -> None:
    history[done.key] = History(count=done.count, last=now)
