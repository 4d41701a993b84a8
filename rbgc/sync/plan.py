"""Compiled bundle x live workloads -> the ordered `SyncStep`s of `rbgc sync`. Pure: no I/O.

In: the compiled `Result` (NEW), the live workloads of NEW's groups as the cluster returned
them (OLD), the target Kubernetes version. Out: `SyncPlan`. Errors: RBG802/RBG803 from the
rollout planner, whose steps this module executes and never recomputes.

OLD is read from the cluster: a workload rbgc applied carries the compiled body it was given in
the annotation `rbgc.io/applied` (as kubectl's last-applied-configuration), so the diff of OLD
and NEW sees what the user changed, not the defaults the API server filled in. A workload
without it (applied by another tool) is compared as it stands, which at worst calls a change
a rolling update. OLD's replica counts are the live `spec.replicas`.

Per wave, in order:
1. `apply`: the wave's objects that are no role workload (ConfigMaps, Services, PodGroups,
   pass-through documents), and role workloads the rollout does not move;
2. `rollout`: each planner step of the wave: the role workloads with the step's `replicas`
   and `partition` (recreated roles deleted first), then a wait until every acted workload
   reached the step's state (replicas, updated pods, all ready);
3. `gate`: NEW's role workloads of the wave as compiled (the planner's last step already
   equals them, so this changes nothing unless a final partition differs), then the dependency
   gate: every workload of the wave ready (rbg-semantics.md §5.1, §11).
Roles only OLD has are deleted after the last wave, as Argo CD prunes last.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rbgc.diagnostics import Span
from rbgc.k8s.conventions import LABEL_NAME, LABEL_ROLE, SYNC_WAVE
from rbgc.k8s.manifest import Manifest
from rbgc.k8s.naming import role_object_name
from rbgc.model import Bundle, Group, WorkloadKind
from rbgc.passes.dependencies import resolve_dependencies
from rbgc.pipeline import Result
from rbgc.plan.diff import Change, diff_bundles
from rbgc.plan.inputs import classify, role_input, rules_of
from rbgc.plan.rollout import (
    Action,
    GroupChange,
    Plan,
    RoleChange,
    RoleInput,
    Step,
    Strategy,
    plan,
)
from rbgc.sync.cluster import WORKLOAD_KINDS, Object, Readiness, Ref

APPLIED = "rbgc.io/applied"  # the compiled body rbgc applied last: OLD of the next sync
LIVE = Span("<cluster>")
_SERVER_FIELDS = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields")


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """A workload state a step waits for; `settle`: no surplus (old or surge) pods either."""

    ref: Ref
    who: str  # "role prefill of llm/sglang-pd", or the object for pass-through workloads
    span: Span | None
    replicas: int
    updated: int = 0
    settle: bool = False

    def done(self, state: Readiness | None) -> bool:
        return (
            state is not None
            and state.observed
            and state.replicas == self.replicas
            and state.ready >= self.replicas
            and state.updated >= self.updated
            and (not self.settle or state.current <= self.replicas)
        )

    def wanted(self) -> str:
        return f"{self.replicas} ready, {self.updated} updated"


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncStep:
    number: int
    wave: int
    op: str  # "apply" | "rollout" | "gate" | "delete"
    summary: str
    delete: tuple[Ref, ...] = ()
    apply: tuple[Object, ...] = ()
    wait: tuple[Target, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncPlan:
    steps: tuple[SyncStep, ...]
    rollout: Plan


def group_kinds(result: Result) -> list[tuple[str, str, str, str]]:
    """(namespace, group, apiVersion, kind) to read live: every workload kind, and every other
    kind the group's objects use (so a CRD that is missing shows before anything is applied)."""
    out: set[tuple[str, str, str, str]] = set()
    for g in result.program.groups:
        for kind in WorkloadKind:
            out.add((g.namespace, g.name, kind.api_version, kind.kind))
    for m in result.bundle.manifests:
        if m.group is not None:
            out.add((m.namespace, m.group, m.api_version, m.kind))
    return sorted(out)


def sync_plan(
    result: Result, live: Sequence[Mapping[str, Any]], kubernetes_version: tuple[int, int]
) -> SyncPlan:
    """The steps that take the cluster from `live` to NEW; raises RBG802/RBG803."""
    role_manifests = {
        (m.namespace, str(m.group), str(m.role)): m
        for m in result.bundle.manifests
        if m.group is not None and m.role is not None and m.kind in WORKLOAD_KINDS
    }
    live_roles = _live_roles(result.program.groups, live)
    changes = diff_bundles(
        Bundle(manifests=tuple(_old_manifest(o) for o in live_roles.values())),
        Bundle(manifests=tuple(role_manifests.values())),
    )
    by_identity = {c.subject.identity(): c for c in changes}
    groups = tuple(_group(g, live_roles, by_identity) for g in result.program.groups)
    rollout = plan(groups, kubernetes_version=kubernetes_version)
    return SyncPlan(steps=_steps(result, rollout, role_manifests, live_roles), rollout=rollout)


def _live_roles(
    groups: Sequence[Group], live: Sequence[Mapping[str, Any]]
) -> dict[tuple[str, str, str], Object]:
    wanted = {(g.namespace, g.name) for g in groups}
    out: dict[tuple[str, str, str], Object] = {}
    for body in live:
        ref = Ref.of(body)
        labels = (body.get("metadata") or {}).get("labels") or {}
        group, role = labels.get(LABEL_NAME), labels.get(LABEL_ROLE)
        if ref.kind in WORKLOAD_KINDS and (ref.namespace, group) in wanted and role:
            out[(ref.namespace, str(group), str(role))] = dict(body)
    return out


def _old_manifest(body: Mapping[str, Any]) -> Manifest:
    meta = body.get("metadata") or {}
    applied = (meta.get("annotations") or {}).get(APPLIED)
    if applied:
        old: dict[str, Any] = json.loads(applied)
    else:
        old = {k: copy.deepcopy(v) for k, v in body.items() if k != "status"}
        old["metadata"] = {k: v for k, v in meta.items() if k not in _SERVER_FIELDS}
    return Manifest(body=old, wave=_wave(body), origin=LIVE)


def _wave(body: Mapping[str, Any]) -> int:
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    try:
        return int(annotations.get(SYNC_WAVE, 0))
    except ValueError:
        return 0


def _replicas(body: Mapping[str, Any]) -> int:
    return int((body.get("spec") or {}).get("replicas", 1))


def _group(
    g: Group,
    live_roles: Mapping[tuple[str, str, str], Object],
    changes: Mapping[tuple[str, str, str, str], Change],
) -> GroupChange:
    waves = resolve_dependencies(g).of_role
    roles: list[RoleInput] = []
    for role in g.roles:
        kind = role.kind or WorkloadKind.STATEFULSET
        name = role_object_name(g.name, role.name)
        found = live_roles.get((g.namespace, g.name, role.name))
        if found is None:
            change, old = RoleChange.ADD, 0
        elif found.get("kind") != kind.kind:
            change, old = RoleChange.RECREATE, _replicas(found)
        else:
            identity = (kind.api_version.rpartition("/")[0], kind.kind, g.namespace, name)
            change, old = classify(changes.get(identity)), _replicas(found)
        roles.append(role_input(role, kind, name, waves[role.name], old, change))
    present = {r.name for r in g.roles}
    for (ns, group, role_name), body in sorted(live_roles.items()):
        if (ns, group) != (g.namespace, g.name) or role_name in present:
            continue
        kind = WorkloadKind(f"{body['apiVersion']}/{body['kind']}")
        lwt = (body.get("spec") or {}).get("leaderWorkerTemplate") or {}
        roles.append(
            RoleInput(
                name=role_name,
                kind=kind,
                wave=_wave(body),
                old_replicas=_replicas(body),
                new_replicas=0,
                change=RoleChange.REMOVE,
                strategy=Strategy.default(kind),
                object_name=Ref.of(body).name,
                size=int(lwt.get("size", 1)),
            )
        )
    return GroupChange(namespace=g.namespace, name=g.name, roles=tuple(roles), rules=rules_of(g))


def with_step(body: Mapping[str, Any], replicas: int, partition: int | None) -> Object:
    """A compiled workload as one step applies it: `replicas`, `partition` (None: as compiled),
    and the compiled body itself in the `rbgc.io/applied` annotation."""
    out = copy.deepcopy(dict(body))
    compiled = json.dumps(body, sort_keys=True, separators=(",", ":"))
    out.setdefault("metadata", {}).setdefault("annotations", {})[APPLIED] = compiled
    spec = out.setdefault("spec", {})
    spec["replicas"] = replicas
    if partition is not None and out.get("kind") == "StatefulSet":
        strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        strategy.setdefault("rollingUpdate", {})["partition"] = partition
    elif partition is not None and out.get("kind") == "LeaderWorkerSet":
        strategy = spec.setdefault("rolloutStrategy", {"type": "RollingUpdate"})
        strategy.setdefault("rollingUpdateConfiguration", {})["partition"] = partition
    return out


def _who(m: Manifest) -> str:
    if m.role is None:
        return str(Ref.of(m.body))
    return f"role {m.role} of {m.namespace}/{m.group}"


def _steps(
    result: Result,
    rollout: Plan,
    role_manifests: Mapping[tuple[str, str, str], Manifest],
    live_roles: Mapping[tuple[str, str, str], Object],
) -> tuple[SyncStep, ...]:
    by_object = {(m.kind, m.namespace, m.name): m for m in role_manifests.values()}
    deletes = [s for s in rollout.steps if all(a.op == "delete" for a in s.actions)]
    moves = [s for s in rollout.steps if s not in deletes]
    moved = {(s.group, a.role) for s in moves for a in s.actions}
    manifests = result.bundle.manifests
    # The bundle's waves, not the planner's dependency levels: a gang-scheduled group's
    # workloads sit one wave after their PodGroup (design.md §3).
    wave_of = {
        s.number: max(by_object[(a.kind, s.group.split("/")[0], a.object)].wave for a in s.actions)
        for s in moves
    }
    waves = sorted({m.wave for m in manifests} | set(wave_of.values()))
    steps: list[SyncStep] = []

    def add(wave: int, op: str, summary: str, **kw: Any) -> None:
        steps.append(SyncStep(number=len(steps) + 1, wave=wave, op=op, summary=summary, **kw))

    for wave in waves:
        here = [m for m in manifests if m.wave == wave]
        covered = [
            m
            for m in here
            if m.kind in WORKLOAD_KINDS and (f"{m.namespace}/{m.group}", m.role) in moved
        ]
        plain = [m for m in here if m not in covered]
        if plain:
            bodies = tuple(
                with_step(m.body, _replicas(m.body), None)
                if m.role is not None and m.kind in WORKLOAD_KINDS
                else m.body
                for m in plain
            )
            kinds = Counter(m.kind for m in plain)
            listed = ", ".join(f"{k} x{n}" if n > 1 else k for k, n in kinds.items())
            add(wave, "apply", f"wave {wave}: apply {len(plain)} object(s): {listed}", apply=bodies)
        for s in (s for s in moves if wave_of[s.number] == wave):
            delete, apply, wait = _rollout(s, by_object, live_roles)
            add(wave, "rollout", _describe(s, wave), delete=delete, apply=apply, wait=wait)
        workloads = [m for m in here if m.kind in WORKLOAD_KINDS]
        if workloads:
            targets = tuple(
                Target(
                    ref=Ref.of(m.body),
                    who=_who(m),
                    span=m.origin,
                    replicas=_replicas(m.body),
                    updated=_final_updated(m, rollout),
                )
                for m in workloads
            )
            names = ", ".join(m.name for m in workloads)
            add(
                wave,
                "gate",
                f"wave {wave}: wait until ready: {names}",
                apply=tuple(with_step(m.body, _replicas(m.body), None) for m in covered),
                wait=targets,
            )
    for s in deletes:
        namespace, group = s.group.split("/", 1)
        refs = tuple(Ref.of(live_roles[(namespace, group, a.role)]) for a in s.actions)
        add(s.wave, "delete", f"{s.group}: delete removed role(s) " + _roles(s), delete=refs)
    return tuple(steps)


def _final_updated(m: Manifest, rollout: Plan) -> int:
    """Updated replicas NEW leaves a role with (its rolling partition holds the rest)."""
    last = None
    for s in rollout.steps:
        if s.group == f"{m.namespace}/{m.group}" and m.role is not None and m.role in s.roles:
            last = s.roles[m.role]
    return last.updated if last is not None else _replicas(m.body)


def _rollout(
    s: Step,
    by_object: Mapping[tuple[str, str, str], Manifest],
    live_roles: Mapping[tuple[str, str, str], Object],
) -> tuple[tuple[Ref, ...], tuple[Object, ...], tuple[Target, ...]]:
    namespace, group = s.group.split("/", 1)
    delete: list[Ref] = []
    apply: list[Object] = []
    wait: list[Target] = []
    for a in s.actions:
        m = by_object[(a.kind, namespace, a.object)]
        if a.op == "recreate":
            delete.append(Ref.of(live_roles[(namespace, group, a.role)]))
        partition = a.partition if _moves_partition(a, s) else None
        apply.append(with_step(m.body, a.replicas, partition))
        state = s.roles[a.role]
        wait.append(
            Target(
                ref=Ref.of(m.body),
                who=_who(m),
                span=m.origin,
                replicas=a.replicas,
                updated=state.updated,
                settle=True,
            )
        )
    return tuple(delete), tuple(apply), tuple(wait)


def _moves_partition(a: Action, s: Step) -> bool:
    """A rolling update steps the partition; a new, scaled or recreated role keeps NEW's."""
    return a.op == "roll" or (a.op == "scale" and s.roles[a.role].partition == a.replicas)


def _roles(s: Step) -> str:
    return ", ".join(a.role for a in s.actions)


def _describe(s: Step, wave: int) -> str:
    parts = []
    for a in s.actions:
        text = f"{a.role} {a.op} replicas {a.replicas}"
        if a.partition is not None and _moves_partition(a, s):
            text += f" partition {a.partition}"
        moved = [f"{w} {n}" for w, n in (("+", a.create), ("~", a.replace), ("-", a.delete)) if n]
        if moved:
            text += f" ({' '.join(moved)})"
        parts.append(text)
    return f"wave {wave}: {s.group} step {s.number}: " + "; ".join(parts)
