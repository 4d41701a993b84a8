"""Ownership: what of the live cluster is rbgc's, read once; the plan's steps made to record it.

In: the cluster (read) and NEW's bundle. Out: `Live` (the ApplySets of NEW's groups and their
members, the ApplySets of groups that left the inputs, the workloads OLD is made of), then the
sync plan with ownership steps around plan.py's (`owned_plan`):

    own    first: each group's ApplySet parent with the kinds it will hold (a superset of what it
           held, as kubectl writes it before applying, so an interrupted sync loses no member)
    ...    plan.py's steps, every applied object of a group labelled as a member
    prune  with --prune: members of NEW's groups that are no longer in NEW, and every member
           and the parent of a group that left the inputs (listed by --dry-run first, each
           with why); a member only if rbgc applied it: its managed fields show rbgc's field
           manager owning its part-of label (applyset.prune_reason)
    own    last: the parents with the kinds that remain

Only members are ever deleted: an object that merely carries a group's labels (another tool's,
a human's) is neither OLD nor pruned. A PersistentVolumeClaim is never deleted. A workload
applied by an rbgc from before ApplySets (it has `rbgc.io/applied` and a name NEW still uses)
is adopted: it is OLD, so it moves by the plan, and becomes a member when applied.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rbgc.bundle import Bundle
from rbgc.k8s.controllers import WORKLOAD_KINDS
from rbgc.k8s.conventions import GROUP_LABELS, MANAGED_BY, MANAGER, group_and_role
from rbgc.sync import applyset, resume
from rbgc.sync.applyset import ApplySet, Kind
from rbgc.sync.cluster import Cluster, KindNotServed, Object, Ref
from rbgc.sync.plan import (
    APPLIED,
    StepOp,
    SyncPlan,
    SyncStep,
    Target,
    group_kinds,
    sync_plan,
)

GroupKey = tuple[str, str]  # (namespace, group)


@dataclass(frozen=True, slots=True, kw_only=True)
class Live:
    sets: Mapping[GroupKey, ApplySet]  # NEW's groups (a parent that does not exist yet too)
    members: Mapping[GroupKey, tuple[Object, ...]]  # live members, NEW's groups and orphans'
    orphans: tuple[ApplySet, ...] = ()  # ApplySets whose group left the inputs
    workloads: tuple[Object, ...] = ()  # OLD: NEW's groups' member (or adopted) workloads
    autoscaled: Mapping[Ref, str] = field(default_factory=dict)  # workload -> its HPA
    resumed: Mapping[GroupKey, str] = field(default_factory=dict)  # OLD's hash, from a record


def read_live(cluster: Cluster, bundle: Bundle) -> Live:
    """Every ApplySet and member the sync needs, and OLD's workloads. Every kind NEW's groups
    use is listed, so a missing CRD is `KindNotServed` before anything is applied; a workload
    kind no group uses (no LeaderWorkerSet CRD) only means no such workload exists."""
    used = {(m.api_version, m.kind) for m in bundle.manifests}
    names = {Ref.of(m.body) for m in bundle.manifests}
    sets: dict[GroupKey, ApplySet] = {}
    parents: dict[GroupKey, Object | None] = {}
    for g in bundle.groups:
        found = cluster.get(ApplySet(group=g.name, namespace=g.namespace).ref)
        here = applyset.from_parent(found) if found is not None else None
        sets[(g.namespace, g.name)] = here or ApplySet(group=g.name, namespace=g.namespace)
        parents[(g.namespace, g.name)] = found if here is not None else None
    wanted: set[tuple[str, str, str, str]] = set(group_kinds(bundle))
    for (namespace, group), aset in sets.items():
        wanted |= {(namespace, group, *k) for k in aset.kinds}
    members: dict[GroupKey, list[Object]] = {key: [] for key in sets}
    workloads: list[Object] = []
    for namespace, group, api_version, kind in sorted(wanted):
        # An object of the group outside its namespace is listed with an ApplySet of its own.
        aset = sets.get((namespace, group)) or ApplySet(group=group, namespace=namespace)
        # Workloads under either release's group label: a migration finds the other's.
        selectors = (
            [{label: group} for label in GROUP_LABELS]
            if kind in WORKLOAD_KINDS
            else [{applyset.PART_OF: aset.id}]
        )
        try:
            listed = {
                Ref.of(o): o
                for s in selectors
                for o in cluster.list(api_version, kind, namespace, s)
            }
        except KindNotServed:
            if (api_version, kind) in used:
                raise
            continue
        found_objects = [listed[ref] for ref in sorted(listed, key=str)]
        for body in found_objects:
            owned = aset.owns(body)
            if owned:
                members.setdefault((namespace, group), []).append(body)
            if kind in WORKLOAD_KINDS and (owned or _adoptable(body, names)):
                workloads.append(body)
    # An upgrade a killed sync left unfinished: OLD is what it recorded, not the live
    # workloads (which already carry NEW in rbgc.io/applied).
    resumed: dict[GroupKey, str] = {}
    compiled = workloads_by_group(bundle)
    for key, parent in parents.items():
        if parent is None:
            continue
        found_old = resume.recorded(parent, resume.new_digest(compiled.get(key, [])))
        if found_old is not None:
            resumed[key] = found_old[0]
            workloads = [w for w in workloads if _group_of(w) != key] + found_old[1]
    orphans = _orphans(cluster, bundle, sets)
    for aset in orphans:
        members[(aset.namespace, aset.group)] = _members(cluster, aset)
    hpas = [m.body for m in bundle.manifests if m.kind == HPA[1]]
    for namespace in sorted({ns for ns, _ in sets}):
        try:
            hpas.extend(cluster.list(*HPA, namespace, {}))
        except KindNotServed:  # a cluster without autoscaling/v2 has no HPA
            pass
    return Live(
        sets=sets,
        members={k: tuple(v) for k, v in members.items()},
        orphans=tuple(orphans),
        workloads=tuple(workloads),
        # A workload that does not exist yet is created with its replicas; then the HPA's.
        autoscaled={
            ref: hpa
            for ref, hpa in autoscaled(hpas).items()
            if ref in {Ref.of(w) for w in workloads}
        },
        resumed=resumed,
    )


def workloads_by_group(bundle: Bundle) -> dict[GroupKey, list[Object]]:
    """NEW's compiled role workloads, by group."""
    out: dict[GroupKey, list[Object]] = {}
    for m in bundle.manifests:
        if m.group is not None and m.role is not None and m.kind in WORKLOAD_KINDS:
            out.setdefault((m.namespace, m.group), []).append(m.body)
    return out


def _group_of(body: Mapping[str, object]) -> GroupKey:
    meta = body.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    labels = meta.get("labels")
    labels = labels if isinstance(labels, Mapping) else {}
    found = group_and_role(labels)
    return (str(meta.get("namespace") or ""), found[0] if found else "")


HPA = ("autoscaling/v2", "HorizontalPodAutoscaler")


def autoscaled(hpas: Sequence[Mapping[str, object]]) -> dict[Ref, str]:
    """Workload -> the HPA whose `scaleTargetRef` it is (the HPA owns its replicas)."""
    out: dict[Ref, str] = {}
    for hpa in hpas:
        spec = hpa.get("spec")
        target = spec.get("scaleTargetRef") if isinstance(spec, Mapping) else None
        if not isinstance(target, Mapping):
            continue
        ref = Ref.of(hpa)
        kind = str(target.get("kind", ""))
        api_version = str(target.get("apiVersion", ""))
        out[Ref(api_version, kind, ref.namespace, str(target.get("name", "")))] = ref.name
    return out


def _adoptable(body: Mapping[str, object], names: set[Ref]) -> bool:
    meta = body.get("metadata")
    notes = meta.get("annotations") if isinstance(meta, Mapping) else None
    return isinstance(notes, Mapping) and APPLIED in notes and Ref.of(body) in names


def _orphans(cluster: Cluster, bundle: Bundle, sets: Mapping[GroupKey, ApplySet]) -> list[ApplySet]:
    """rbgc ApplySets in the namespaces NEW's groups use whose group is not in NEW."""
    out = []
    for namespace in sorted({ns for ns, _ in sets}):
        parents = cluster.list(
            applyset.PARENT_API_VERSION, applyset.PARENT_KIND, namespace, {MANAGED_BY: MANAGER}
        )
        for body in parents:
            found = applyset.from_parent(body)
            if found is not None and (found.namespace, found.group) not in sets:
                out.append(found)
    return sorted(out, key=lambda a: (a.namespace, a.group))


def _members(cluster: Cluster, aset: ApplySet) -> list[Object]:
    out: list[Object] = []
    for api_version, kind in sorted(aset.kinds):
        for namespace in sorted({aset.namespace} | aset.namespaces):
            try:
                listed = cluster.list(api_version, kind, namespace, {applyset.PART_OF: aset.id})
            except KindNotServed:
                continue
            out.extend(b for b in listed if aset.owns(b))
    return out


def _kind(body: Mapping[str, object]) -> Kind:
    return (str(body.get("apiVersion", "")), str(body.get("kind", "")))


def owned_plan(
    bundle: Bundle,
    live: Live,
    version: tuple[int, int],
    *,
    prune: bool = False,
    records: Mapping[str, Mapping[str, object]] | None = None,
) -> SyncPlan:
    """plan.py's steps over OLD's workloads, with the ownership steps (see the module); an
    upgrade `records` (Lease annotations per group) says were partly done resumes after it."""
    base = sync_plan(bundle, live.workloads, version)
    upgrading = sorted({s.group for s in base.steps if s.op is StepOp.ROLLOUT})
    upgrades: dict[str, tuple[str, str]] = {}
    snapshots: dict[GroupKey, dict[str, dict[str, str]]] = {}
    compiled = workloads_by_group(bundle)
    old_of: dict[GroupKey, list[Object]] = {}
    for w in live.workloads:
        old_of.setdefault(_group_of(w), []).append(w)
    for name in upgrading:
        namespace, _, group = name.partition("/")
        key = (namespace, group)
        olds = old_of.get(key, [])
        old_hash = resume.digest(olds)
        new_hash = resume.new_digest(compiled.get(key, []))
        upgrades[name] = (old_hash, new_hash)
        snapshots[key] = {
            "annotations": {resume.OLD_HASH: old_hash, resume.NEW_HASH: new_hash},
            "binary": {resume.SNAPSHOT: resume.encode(olds)},
        }
    reached = {
        name: resume.done((records or {}).get(name), *hashes) for name, hashes in upgrades.items()
    }
    group_of = {
        Ref.of(m.body): (m.namespace, m.group) for m in bundle.manifests if m.group is not None
    }
    new_kinds: dict[GroupKey, set[Kind]] = {key: set() for key in live.sets}
    new_spaces: dict[GroupKey, set[str]] = {key: set() for key in live.sets}
    for m in bundle.manifests:
        if m.group is not None:
            new_kinds[(m.namespace, m.group)].add((m.api_version, m.kind))
            new_spaces[(m.namespace, m.group)].add(m.namespace)

    def label(body: Object) -> Object:
        ref = Ref.of(body)
        key = group_of.get(ref)
        out = applyset.member(body, live.sets[key]) if key is not None else body
        if ref in live.autoscaled and isinstance(out.get("spec"), dict):
            out = {**out, "spec": {k: v for k, v in out["spec"].items() if k != "replicas"}}
        return out

    def autoscale(target: Target) -> Target:
        if target.ref in live.autoscaled:
            return dataclasses.replace(target, autoscaled=True)
        return target

    steps: list[SyncStep] = []
    first_wave = min((s.wave for s in base.steps), default=0)
    last_wave = max((s.wave for s in base.steps), default=0)
    steps.append(
        SyncStep(
            number=0,
            wave=first_wave,
            op=StepOp.OWN,
            summary=f"record ownership: ApplySet of {_count(live.sets)}",
            apply=tuple(
                aset.parent(
                    new_kinds[key] | aset.kinds,
                    new_spaces[key] | aset.namespaces,
                    **snapshots.get(key, {}),
                )
                for key, aset in sorted(live.sets.items())
            ),
        )
    )
    deleted = {ref for s in base.steps for ref in s.delete}
    lanes: dict[str, list[SyncStep]] = {}
    for s in base.steps:
        if s.op is StepOp.ROLLOUT and s.rollout_step <= reached.get(s.group, 0):
            continue  # recorded done by the sync this one resumes
        labelled = dataclasses.replace(
            s,
            apply=tuple(label(b) for b in s.apply),
            wait=tuple(autoscale(t) for t in s.wait),
        )
        for lane, part in _split(labelled, group_of):
            if lane:
                lanes.setdefault(lane, []).append(part)
            else:  # pass-through documents (no group): before every group, in their waves
                steps.append(part)
    keep_kinds = {key: set(kinds) for key, kinds in new_kinds.items()}
    notes = list(base.notes)
    for name, n in sorted(reached.items()):
        if n:
            total = sum(1 for s in base.rollout.steps if s.group == name)
            notes.append(f"{name}: resuming the upgrade after planner step {n} of {total}")
    for ref, hpa in sorted(live.autoscaled.items(), key=lambda item: str(item[0])):
        if ref in group_of:
            notes.append(f"{ref}: replicas are not sent, HorizontalPodAutoscaler {hpa} owns them")
    stale: dict[Ref, str] = {}  # what --prune deletes, and why
    for key in sorted(live.sets):
        for body in live.members.get(key, ()):
            ref = Ref.of(body)
            if ref in group_of or ref in deleted:
                continue
            if prune and ref.kind not in applyset.NEVER_DELETED:
                ours, why = applyset.prune_reason(body, key[1])
                if ours:
                    stale[ref] = why
                    continue
                notes.append(f"{ref}: {why}")
            else:
                why = "a PersistentVolumeClaim is never pruned" if prune else "--prune deletes it"
                notes.append(f"{ref} left the inputs of group {key[1]}; {why}")
            keep_kinds[key].add(_kind(body))
    gone_sets: list[ApplySet] = []
    for aset in live.orphans:
        members = live.members.get((aset.namespace, aset.group), ())
        if prune:
            for body in members:
                ref = Ref.of(body)
                if ref.kind in applyset.NEVER_DELETED:
                    continue
                ours, why = applyset.prune_reason(body, aset.group)
                if ours:
                    stale[ref] = f"{why}: the group left the inputs"
                else:
                    notes.append(f"{ref}: {why}")
            gone_sets.append(aset)
        else:
            notes.append(
                f"group {aset.namespace}/{aset.group} left the inputs; --prune deletes what "
                f"rbgc applied of its {len(members)} object(s), its ApplySet and its lock"
            )
    for aset in gone_sets:
        stale[aset.ref] = f"the ApplySet parent of group {aset.group}, which left the inputs"
    after: list[SyncStep] = []
    if stale:
        objects = len(stale) - len(gone_sets)
        after.append(
            SyncStep(
                number=0,
                wave=last_wave,
                op=StepOp.PRUNE,
                summary=f"prune {objects} object(s) that left the inputs"
                + (f", and {len(gone_sets)} group(s)' ApplySet and lock" if gone_sets else ""),
                delete=tuple(stale),
                why=stale,
            )
        )
    after.append(
        SyncStep(
            number=0,
            wave=last_wave,
            op=StepOp.OWN,
            summary=f"record ownership: ApplySet of {_count(live.sets)}, final kinds",
            apply=tuple(
                aset.parent(keep_kinds[key], new_spaces[key])
                for key, aset in sorted(live.sets.items())
            ),
        )
    )
    # Phases run one after the other; the lanes of a phase (groups) concurrently.
    ordered = [steps, *(lanes[k] for k in sorted(lanes)), after]
    numbered: list[SyncStep] = []
    phases: list[list[tuple[int, ...]]] = [[], [], []]
    for i, lane_steps in enumerate(ordered):
        first = len(numbered) + 1
        numbered.extend(dataclasses.replace(s, number=n) for n, s in enumerate(lane_steps, first))
        phase = 0 if i == 0 else (2 if i == len(ordered) - 1 else 1)
        if lane_steps:
            phases[phase].append(tuple(range(first, len(numbered) + 1)))
    return dataclasses.replace(
        base,
        steps=tuple(numbered),
        notes=tuple(notes),
        upgrades=upgrades,
        phases=tuple(tuple(p) for p in phases if p),
        retired=tuple((a.namespace, a.group) for a in gone_sets),
    )


def _split(step: SyncStep, group_of: Mapping[Ref, GroupKey]) -> list[tuple[str, SyncStep]]:
    """A step cut by group (lane "namespace/name"; "" for pass-through documents): groups
    are independent, so each waits only for its own workloads."""
    if step.group:
        return [(step.group, step)]

    def lane(ref: Ref) -> str:
        key = group_of.get(ref)
        return f"{key[0]}/{key[1]}" if key is not None else ""

    bodies_of: dict[str, list[Object]] = {}
    waits_of: dict[str, list[Target]] = {}
    for b in step.apply:
        bodies_of.setdefault(lane(Ref.of(b)), []).append(b)
    for t in step.wait:
        waits_of.setdefault(lane(t.ref), []).append(t)
    out = []
    for name in sorted(set(bodies_of) | set(waits_of)):
        bodies = tuple(bodies_of.get(name, ()))
        wait = tuple(waits_of.get(name, ()))
        where = f"{name}: " if name else ""
        if step.op is StepOp.GATE:
            summary = f"wave {step.wave}: {where}wait until ready: " + ", ".join(
                t.ref.name for t in wait
            )
        else:
            kinds = Counter(str(b.get("kind", "")) for b in bodies)
            listed = ", ".join(f"{k} x{n}" if n > 1 else k for k, n in kinds.items())
            summary = f"wave {step.wave}: {where}apply {len(bodies)} object(s): {listed}"
        out.append(
            (name, dataclasses.replace(step, apply=bodies, wait=wait, summary=summary, group=name))
        )
    return out


def _count(sets: Sequence[object] | Mapping[GroupKey, ApplySet]) -> str:
    return f"{len(sets)} group(s)" if len(sets) != 1 else "1 group"
