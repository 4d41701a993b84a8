"""`rbgc plan --warmup`: a warm-up per role whose images change, and the invariant it keeps.

Upstream's KEP-129 leaves tying a warm-up to the upgrade to the user ("co-design with the RBG
upgrade process" is a non-goal): create a RoleBasedGroupWarmup, wait for it, then change the
image. The plan can do better, since it knows which pods each step replaces or updates: for
every role whose NEW images its OLD pods do not run, the new images are pulled on the nodes
its pods run on (`rbgc sync` finds them), starting with the group's first step, so the pulls
overlap every earlier step and wave, and the step that first replaces or updates one of the
role's pods waits until they are done. A role with no OLD pod (new, or scaled from 0) gets no
warm-up: its pods have no node yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rbgc.bundle import images_of
from rbgc.k8s import controllers
from rbgc.k8s.controllers import WorkloadKind
from rbgc.plan.diff import Change, Changed
from rbgc.plan.model import Action, GroupChange, Invariant, Op, RoleChange, RoleInput, Step, Warmup

CHANGES_IMAGES = (RoleChange.ROLL, RoleChange.IN_PLACE, RoleChange.RECREATE)


def disrupts(action: Action) -> bool:
    """The action replaces, recreates or updates in place one of the role's OLD pods."""
    return action.op is Op.RECREATE or action.replace > 0 or action.pods_in_place > 0


def first_disruption(steps: Sequence[Step], unit: str) -> Step | None:
    return next((s for s in steps for a in s.actions if a.role == unit and disrupts(a)), None)


def new_images(role: RoleInput) -> tuple[str, ...]:
    return tuple(i for i in role.images if i not in role.old_images)


def needs_warmup(role: RoleInput) -> bool:
    return role.change in CHANGES_IMAGES and role.old_replicas > 0 and bool(new_images(role))


def warmups(groups: Sequence[GroupChange], steps: Sequence[Step]) -> tuple[Warmup, ...]:
    """One warm-up per role unit that needs one, numbered W1.. in group and role order."""
    out: list[Warmup] = []
    for g in sorted(groups, key=lambda g: g.key):
        mine = [s for s in steps if s.group == g.key]
        if not mine:
            continue
        for r in sorted(g.roles, key=lambda r: r.name):
            hit = first_disruption(mine, r.name) if needs_warmup(r) else None
            if hit is None:
                continue  # no image changes, or a partition holds every pod
            stateful = r.kind is not WorkloadKind.DEPLOYMENT
            out.append(
                Warmup(
                    name=f"W{len(out) + 1}",
                    group=g.key,
                    role=r.name,
                    wave=r.wave,
                    images=new_images(r),
                    pods=tuple(f"{r.object_name}-{i}" for i in range(r.old_replicas))
                    if stateful
                    else (),
                    pod_count=r.old_replicas * r.old_pods_per_replica,
                    starts=mine[0].number,
                    before=hit.number,
                )
            )
    return tuple(out)


def check(
    groups: Sequence[GroupChange], steps: Sequence[Step], found: Sequence[Warmup]
) -> Invariant:
    """Recomputed from the steps alone: every role whose pods get new images is warmed up
    before the first step that replaces or updates one of them, from its group's first step."""
    by_unit = {(w.group, w.role): w for w in found}
    for g in groups:
        mine = [s for s in steps if s.group == g.key]
        for r in g.roles:
            hit = first_disruption(mine, r.name) if needs_warmup(r) else None
            w = by_unit.get((g.key, r.name))
            if hit is None:
                if w is not None:
                    return Invariant(
                        name="warm-up", holds=False, detail=f"{w.name} warms a role no step changes"
                    )
                continue
            if w is None or w.before != hit.number or w.starts != mine[0].number:
                return Invariant(
                    name="warm-up",
                    holds=False,
                    detail=f"{g.key} role {r.name}: step {hit.number} replaces its pods before "
                    "its images are pulled",
                )
    overlap = sum(w.before - w.starts for w in found)
    return Invariant(
        name="warm-up",
        holds=True,
        detail=f"{len(found)} warm-up(s), each done before its role's first pod is replaced "
        f"or updated; {overlap} step(s) overlapped",
    )


def with_warmup(changes: Sequence[Change]) -> tuple[Change, ...]:
    """`diff --warmup`: each changed workload whose pods get images they do not run says that
    `rbgc sync --warmup` pulls them on its pods' nodes before the first is touched."""
    out: list[Change] = []
    for c in changes:
        if isinstance(c, Changed) and (c.restarts or c.in_place):
            before = images_of(c.old.body)
            fresh = [i for i in images_of(c.new.body) if i not in before]
            if fresh:
                how = "updated in place" if c.in_place else "replaced"
                note = (
                    f"warm-up (--warmup): rbgc sync pulls {', '.join(fresh)} on the nodes of "
                    f"its {controllers.pods(c.old.body)} pod(s) before the first is {how}"
                )
                c = replace(c, consequences=(*c.consequences, note))
        out.append(c)
    return tuple(out)
