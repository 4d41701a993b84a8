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
import enum
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rbgc.bundle import Bundle, WorkloadFacts, facts_of
from rbgc.diagnostics import Span
from rbgc.jsonpath import find
from rbgc.k8s import controllers
from rbgc.k8s.controllers import WORKLOAD_KINDS, Readiness
from rbgc.k8s.conventions import SYNC_WAVE, group_and_role
from rbgc.k8s.manifest import Manifest
from rbgc.plan.changes import group_changes
from rbgc.plan.diff import diff_bundles
from rbgc.plan.model import Action, Op, Plan, Step
from rbgc.plan.planner import plan
from rbgc.sync.cluster import Object, Ref

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
    autoscaled: bool = False  # an HPA owns spec.replicas: wait for what it asks

    def done(self, state: Readiness | None) -> bool:
        if state is None:
            return False
        if self.autoscaled:  # the partition still holds back replicas - updated pods
            held = self.replicas - self.updated
            want = state.replicas
            return state.reaches(want, max(want - held, 0), settle=self.settle)
        return state.reaches(self.replicas, self.updated, settle=self.settle)

    def wanted(self) -> str:
        if self.autoscaled:
            return "every replica the HPA asks for ready"
        return f"{self.replicas} ready, {self.updated} updated"


class StepOp(enum.StrEnum):
    APPLY = "apply"  # objects that need no rollout step
    ROLLOUT = "rollout"  # one planner step: workloads with its replicas and partition
    GATE = "gate"  # a wave's workloads as compiled, then wait until they are ready
    DELETE = "delete"  # workloads of removed roles, after the last wave
    OWN = "own"  # the groups' ApplySet parents (ownership.py)
    PRUNE = "prune"  # members that left the inputs (ownership.py, --prune)


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncStep:
    number: int
    wave: int
    op: StepOp
    summary: str
    delete: tuple[Ref, ...] = ()
    apply: tuple[Object, ...] = ()
    wait: tuple[Target, ...] = ()
    group: str = ""  # ROLLOUT: the group ("namespace/name") and the planner's step number,
    rollout_step: int = 0  # which a resumed sync skips once recorded done
    why: Mapping[Ref, str] = field(default_factory=dict)  # PRUNE: why each is deleted


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncPlan:
    steps: tuple[SyncStep, ...]
    rollout: Plan
    notes: tuple[str, ...] = ()
    upgrades: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # group: (OLD, NEW)
    # Step numbers: phases run in order; a phase's lanes (one per group) run concurrently.
    # Empty: every step in order.
    phases: tuple[tuple[tuple[int, ...], ...], ...] = ()
    # (namespace, group) of groups that left the inputs and are pruned whole: their Leases
    # are taken before and deleted after.
    retired: tuple[tuple[str, str], ...] = ()


def group_kinds(bundle: Bundle) -> list[tuple[str, str, str, str]]:
    """(namespace, group, apiVersion, kind) to read live: every workload kind, and every other
    kind the group's objects use (so a CRD that is missing shows before anything is applied)."""
    out: set[tuple[str, str, str, str]] = set()
    for g in bundle.groups:
        for shape in controllers.WORKLOADS.values():
            out.add((g.namespace, g.name, shape.api_version, shape.kind))
    for m in bundle.manifests:
        if m.group is not None:
            out.add((m.namespace, m.group, m.api_version, m.kind))
    return sorted(out)


def sync_plan(
    bundle: Bundle, live: Sequence[Mapping[str, Any]], version: tuple[int, int]
) -> SyncPlan:
    """The steps that take the cluster from `live` to NEW; raises RBG802/RBG803."""
    workloads = tuple(
        m
        for m in bundle.manifests
        if m.group is not None and m.role is not None and m.kind in WORKLOAD_KINDS
    )
    applied = live_manifests(bundle, live)
    old = Bundle(manifests=applied, groups=facts_of(applied))
    new = Bundle(manifests=workloads, groups=bundle.groups)
    rollout = plan(group_changes(old, new, diff_bundles(old, new)), kubernetes_version=version)
    return SyncPlan(steps=_steps(bundle, rollout, old), rollout=rollout)


def live_manifests(bundle: Bundle, live: Sequence[Mapping[str, Any]]) -> tuple[Manifest, ...]:
    """The live workloads of NEW's groups as rbgc last applied them (OLD of this sync)."""
    wanted = {(g.namespace, g.name) for g in bundle.groups}
    out = []
    for body in live:
        labels = find(body, ("metadata", "labels"))
        labels = labels if isinstance(labels, Mapping) else {}
        found = group_and_role(labels)
        ref = Ref.of(body)
        if found is not None and ref.kind in WORKLOAD_KINDS and (ref.namespace, found[0]) in wanted:
            group, role = found
            out.append(
                Manifest(
                    body=_old_body(body),
                    wave=_wave(body),
                    origin=LIVE,
                    group=str(group),
                    role=str(role),
                )
            )
    return tuple(out)


def _old_body(body: Mapping[str, Any]) -> Object:
    meta = body.get("metadata") or {}
    applied = (meta.get("annotations") or {}).get(APPLIED)
    if applied:
        try:
            found = json.loads(applied)
        except ValueError:
            found = None
        if isinstance(found, dict):
            return found
    old = {k: copy.deepcopy(v) for k, v in body.items() if k != "status"}
    old["metadata"] = {k: v for k, v in meta.items() if k not in _SERVER_FIELDS}
    return old


def _wave(body: Mapping[str, Any]) -> int:
    value = find(body, ("metadata", "annotations", SYNC_WAVE))
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def with_step(body: Mapping[str, Any], replicas: int, partition: int | None) -> Object:
    """A compiled workload as one step applies it: `replicas`, `partition` (None: as compiled),
    and the compiled body itself in the `rbgc.io/applied` annotation."""
    out = copy.deepcopy(dict(body))
    compiled = json.dumps(body, sort_keys=True, separators=(",", ":"))
    out.setdefault("metadata", {}).setdefault("annotations", {})[APPLIED] = compiled
    out.setdefault("spec", {})["replicas"] = replicas
    shape = controllers.shape_of(out)
    where = controllers.partition_path(shape) if shape else None
    if partition is not None and where is not None:
        node = out
        for key in where[:-1]:
            node = node.setdefault(str(key), {})
        node[str(where[-1])] = partition
    return out


def _who(m: Manifest) -> str:
    if m.role is None:
        return str(Ref.of(m.body))
    return f"role {m.role} of {m.namespace}/{m.group}"


def _steps(bundle: Bundle, rollout: Plan, old: Bundle) -> tuple[SyncStep, ...]:
    unit_of = {w.identity(): (g.key, w.unit) for g in bundle.groups for w in g.workloads()}
    by_unit = {unit_of[m.identity()]: m for m in bundle.manifests if m.identity() in unit_of}
    removed = {(g.key, w.unit): w for g in old.groups for w in g.workloads()}
    deletes = [s for s in rollout.steps if all(a.op is Op.DELETE for a in s.actions)]
    moves = [s for s in rollout.steps if s not in deletes]
    moved = {(s.group, a.role) for s in moves for a in s.actions}
    manifests = bundle.manifests
    waves = sorted({m.wave for m in manifests} | {s.wave for s in moves})
    steps: list[SyncStep] = []

    def add(wave: int, op: StepOp, summary: str, **kw: Any) -> None:
        steps.append(SyncStep(number=len(steps) + 1, wave=wave, op=op, summary=summary, **kw))

    for wave in waves:
        here = [m for m in manifests if m.wave == wave]
        covered = [m for m in here if unit_of.get(m.identity()) in moved]
        plain = [m for m in here if m not in covered]
        if plain:
            bodies = tuple(
                with_step(m.body, controllers.replicas(m.body), None)
                if m.identity() in unit_of
                else m.body
                for m in plain
            )
            kinds = Counter(m.kind for m in plain)
            listed = ", ".join(f"{k} x{n}" if n > 1 else k for k, n in kinds.items())
            add(
                wave,
                StepOp.APPLY,
                f"wave {wave}: apply {len(plain)} object(s): {listed}",
                apply=bodies,
            )
        for s in (s for s in moves if s.wave == wave):
            delete, apply, wait = _rollout(s, by_unit, removed)
            add(
                wave,
                StepOp.ROLLOUT,
                _describe(s, wave),
                delete=delete,
                apply=apply,
                wait=wait,
                group=s.group,
                rollout_step=s.number,
            )
        workloads = [m for m in here if m.identity() in unit_of]
        if workloads:
            targets = tuple(
                Target(
                    ref=Ref.of(m.body),
                    who=_who(m),
                    span=m.origin,
                    replicas=controllers.replicas(m.body),
                    updated=_final_updated(unit_of[m.identity()], m, rollout),
                )
                for m in workloads
            )
            names = ", ".join(m.name for m in workloads)
            add(
                wave,
                StepOp.GATE,
                f"wave {wave}: wait until ready: {names}",
                apply=tuple(with_step(m.body, controllers.replicas(m.body), None) for m in covered),
                wait=targets,
            )
    for s in deletes:
        refs = tuple(_ref(removed[(s.group, a.role)]) for a in s.actions)
        add(
            s.wave,
            StepOp.DELETE,
            f"{s.group}: delete removed role(s) " + _roles(s),
            delete=refs,
            group=s.group,
        )
    return tuple(steps)


def _ref(w: WorkloadFacts) -> Ref:
    return Ref(w.api_version, w.kind, w.namespace, w.name)


def _final_updated(unit: tuple[str, str], m: Manifest, rollout: Plan) -> int:
    """Updated replicas NEW leaves a unit with (its rolling partition holds the rest)."""
    group, name = unit
    last = None
    for s in rollout.steps:
        if s.group == group and name in s.roles:
            last = s.roles[name]
    return last.updated if last is not None else controllers.replicas(m.body)


def _rollout(
    s: Step,
    by_unit: Mapping[tuple[str, str], Manifest],
    removed: Mapping[tuple[str, str], WorkloadFacts],
) -> tuple[tuple[Ref, ...], tuple[Object, ...], tuple[Target, ...]]:
    delete: list[Ref] = []
    apply: list[Object] = []
    wait: list[Target] = []
    for a in s.actions:
        m = by_unit[(s.group, a.role)]
        if a.op is Op.RECREATE:
            delete.append(_ref(removed[(s.group, a.role)]))
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
    return a.op is Op.ROLL or (a.op is Op.SCALE and s.roles[a.role].partition == a.replicas)


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
