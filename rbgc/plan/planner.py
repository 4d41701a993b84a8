"""The ordered rollout of NEW over OLD: steps, and the invariants every plan is checked against.

In: one `GroupChange` per group (roles with their old/new replicas, what changes, strategy,
wave; coordination rules), the target Kubernetes version. Out: `Plan` (frozen, the data
`rbgc sync` executes). Errors: RBG802 when a rollout can never finish, RBG803 when a plan
breaks an invariant (a bug in the planner).

The step model, stated once: a step is one action per moving role; pods a step takes down are
down for the whole step, pods it creates are not ready before its end, and at the end of a
step every pod is ready. Waves run one after another (Argo CD starts wave n+1 only when wave
n is healthy); inside a wave:

1. roles that only scale, or are new, change their replicas (coordinated scaling, §6.4, when
   a `scaling` rule covers them), and roles whose immutable fields changed are recreated;
2. then the rolling roles roll, concurrently, each by its kind:
   - StatefulSet and LeaderWorkerSet (whole groups of `size` pods): upstream's surge and
     partition algorithm (rbg-semantics.md §6.1, the same in LWS), with two fixes: when
     removing surge pods and replacing old ones at once would take the role below
     `replicas - maxUnavailable`, the surge pods are removed a step later; and pods held
     below the role's own partition do not count as "still to update" (upstream's count
     includes them, so a partitioned role would keep its surge pods for ever);
   - StatefulSet `maxUnavailable` is only honoured from Kubernetes 1.35 (the
     MaxUnavailableStatefulSet gate): below, the controller replaces one pod at a time;
   - Deployment: the Deployment controller's maxSurge / maxUnavailable (25%/25% default);
   - roles under a `rollingUpdate` rule with `maxSkew` move by upstream's coordinated
     partitions (§6.3): the slowest role advances, the others hold, until all are done; one
     fix again: a role that reached its own final partition no longer holds the others;
3. roles that exist only in OLD are deleted after the last wave (Argo CD prunes last).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from rbgc.diagnostics import DiagnosticError, error
from rbgc.k8s import controllers
from rbgc.k8s.controllers import WorkloadKind, surge_and_unavailable
from rbgc.plan import invariants
from rbgc.plan.formulas import (
    LiveStatefulSet,
    Pod,
    next_rolling_target,
    percent,
    progress_order,
    rolling_parameters,
    scaling_targets,
    skew_within_bound,
)
from rbgc.plan.model import (
    Action,
    GroupChange,
    Op,
    Plan,
    RoleChange,
    RoleInput,
    RoleState,
    Rule,
    Step,
)
from rbgc.plan.rules import final_partition, floor, rule_scope, skew_members


@dataclass(slots=True)
class _Role:
    """Simulation state of one role (private and mutable; steps record frozen copies)."""

    spec: RoleInput
    replicas: int
    pods: list[bool]  # StatefulSet/LWS: updated or not, by ordinal
    partition: int | None
    floor: int
    final_partition: int
    old: int = 0  # Deployment: old pods
    new: int = 0  # Deployment: new pods
    replaced: int = 0  # Deployment: old pods replaced so far
    started: bool = False
    done: bool = True
    coordinated: bool = False

    @property
    def stateful(self) -> bool:
        return self.spec.kind is not WorkloadKind.DEPLOYMENT

    @property
    def updated(self) -> int:
        if self.spec.change in (RoleChange.NONE, RoleChange.ADD):
            return self.replicas  # pods already run (or start at) NEW's template
        if self.spec.change is RoleChange.RECREATE:
            return self.replicas if self.started else 0
        if not self.stateful:
            return self.new
        return sum(self.pods[: self.replicas])

    def state(self, available: int | None = None) -> RoleState:
        return RoleState(
            replicas=self.replicas,
            updated=self.updated,
            available=self.replicas if available is None else available,
            partition=self.partition,
            floor=self.floor,
        )


class _Stall(Exception):
    def __init__(self, role: RoleInput, why: str) -> None:
        super().__init__(why)
        self.role = role
        self.why = why


class _GroupPlanner:
    def __init__(self, group: GroupChange, version: tuple[int, int], notes: list[str]) -> None:
        self.group = group
        self.inputs = {r.name: r for r in group.roles}
        self.version = version
        self.notes = notes
        self.roles: dict[str, _Role] = {}
        for r in sorted(group.roles, key=lambda r: r.name):
            start = 0 if r.change is RoleChange.ADD else r.old_replicas
            self.roles[r.name] = _Role(
                spec=r,
                replicas=start,
                pods=[r.change is RoleChange.NONE] * start,
                partition=None if r.kind is WorkloadKind.DEPLOYMENT else 0,
                floor=floor(r),
                final_partition=final_partition(r, group),
                old=start,
            )
        self.steps: list[Step] = []

    def _record(self, number: int, wave: int, actions: list[Action], avail: dict[str, int]) -> None:
        states = {name: r.state(avail.get(name)) for name, r in self.roles.items()}
        step = Step(
            number=number,
            group=self.group.key,
            wave=wave,
            actions=tuple(sorted(actions, key=lambda a: a.role)),
            roles=states,
            skew={},
        )
        skew: dict[str, float] = {}
        rolling = {
            n: s
            for n, s in states.items()
            if self.inputs[n].change is RoleChange.ROLL and self.inputs[n].wave == wave
        }
        live = {n: s for n, s in rolling.items() if s.replicas > 0}
        if len(live) >= 2:
            skew["rolling"] = skew_within_bound(
                {n: min(s.updated, s.replicas) for n, s in live.items()},
                {n: s.replicas for n, s in live.items()},
                100,
            )[1]
        for rule in self.group.rules:
            if rule.max_skew is not None:
                updated, desired = skew_members(rule, self.group, step)
                skew[rule.name] = skew_within_bound(updated, desired, percent(rule.max_skew))[1]
        self.steps.append(
            Step(
                number=number,
                group=step.group,
                wave=wave,
                actions=step.actions,
                roles=states,
                skew=dict(sorted(skew.items())),
            )
        )

    def run(self, first: int) -> list[Step]:
        """The group's waves, in order; roles only OLD has are left to `remove`."""
        number = first
        present = [r for r in self.roles.values() if r.spec.change is not RoleChange.REMOVE]
        for wave in sorted({r.spec.wave for r in present}):
            members = [r for r in present if r.spec.wave == wave]
            number = self._recreate(wave, members, number)
            number = self._scale(wave, members, number)
            number = self._roll(wave, members, number)
        return self.steps

    def remove(self, number: int) -> list[Step]:
        """One step deleting every role only OLD has: run after every group's last wave, so a
        renamed group's new roles are up before its old ones go (Argo CD prunes last)."""
        self.steps = []
        removed = [r for r in self.roles.values() if r.spec.change is RoleChange.REMOVE]
        if removed:
            actions = [self._delete_all(r) for r in removed]
            for r in removed:
                r.replicas, r.pods, r.old, r.partition = 0, [], 0, None
            avail = {r.spec.name: 0 for r in removed}
            self._record(number, max(r.spec.wave for r in removed), actions, avail)
        return self.steps

    def _names(self, r: _Role, ordinals: Sequence[int]) -> tuple[str, ...]:
        if not r.stateful:
            return ()
        return tuple(f"{r.spec.object_name}-{i}" for i in ordinals)

    def _action(self, r: _Role, op: Op, replicas: int, **kw: Any) -> Action:
        action = Action(
            role=r.spec.name,
            kind=r.spec.kind.kind,
            object=r.spec.object_name,
            op=op,
            replicas=replicas,
            pods_per_replica=r.spec.size,
            **kw,
        )
        old = r.spec.old_pods_per_replica
        if op is Op.RECREATE:  # every old pod goes; as many as NEW runs are replaced
            down = action.delete * old
            restarted = min(down, action.create * r.spec.size)
        else:
            down = (action.replace + action.delete) * old
            restarted = action.replace * old
        return replace(action, pods_down=down, pods_restarted=restarted)

    def _delete_all(self, r: _Role) -> Action:
        gone = list(range(r.replicas - 1, -1, -1))
        return self._action(r, Op.DELETE, 0, delete=len(gone), deleted=self._names(r, gone))

    def _recreate(self, wave: int, members: list[_Role], number: int) -> int:
        targets = [r for r in members if r.spec.change is RoleChange.RECREATE]
        if not targets:
            return number
        actions = []
        for r in targets:
            n = r.spec.new_replicas
            gone = list(range(r.replicas - 1, -1, -1))
            actions.append(
                self._action(
                    r,
                    Op.RECREATE,
                    n,
                    partition=r.final_partition if r.stateful else None,
                    delete=len(gone),
                    deleted=self._names(r, gone),
                    create=n,
                    created=self._names(r, range(n)),
                )
            )
            r.replicas, r.pods, r.old, r.new = n, [True] * n, 0, n
            r.partition = r.final_partition if r.stateful else None
            r.started = True
        self._record(number, wave, actions, {r.spec.name: 0 for r in targets})
        return number + 1

    def _scale(self, wave: int, members: list[_Role], number: int) -> int:
        """Replica changes of roles that do not roll, of coordinated rolling roles (which
        upstream never surges), and the scale-down of rolling StatefulSet/LWS roles: their
        surplus ordinals go first, so no pod is replaced only to be removed."""
        moving = [
            r
            for r in members
            if r.replicas != r.spec.new_replicas
            and (
                r.spec.change in (RoleChange.NONE, RoleChange.ADD)
                or (r.spec.change is RoleChange.ROLL and self._rules_for(r))
                or (
                    r.spec.change is RoleChange.ROLL
                    and r.stateful
                    and r.replicas > r.spec.new_replicas
                )
            )
        ]
        if not moving:
            return number
        names = {r.spec.name for r in moving}
        rules = [
            x
            for x in self.group.rules
            if x.scaling_max_skew is not None and len(names & set(x.roles)) >= 2
        ]
        while any(r.replicas != r.spec.new_replicas for r in moving):
            target = {r.spec.name: r.spec.new_replicas for r in moving}
            for rule in rules:
                scope = [n for n in rule.roles if n in names]
                proposed = scaling_targets(
                    {n: self.roles[n].replicas for n in scope},
                    {n: self.roles[n].spec.new_replicas for n in scope},
                    percent(rule.scaling_max_skew or "100%"),
                )
                for n, t in proposed.items():
                    target[n] = min(target[n], t)
            actions, avail = [], {}
            for r in moving:
                t = target[r.spec.name]
                if t != r.replicas:
                    actions.append(self._resize(r, t))
                    avail[r.spec.name] = min(r.replicas, t)
                    self._apply_size(r, t)
            if not actions:
                stuck = next(r for r in moving if r.replicas != r.spec.new_replicas)
                raise _Stall(
                    stuck.spec,
                    f"coordinated scaling holds role {stuck.spec.name!r} at {stuck.replicas} of "
                    f"{stuck.spec.new_replicas} replicas (maxSkew 0% never lets a role lead)",
                )
            self._record(number, wave, actions, avail)
            number += 1
        return number

    def _resize(self, r: _Role, t: int) -> Action:
        grow = list(range(r.replicas, t))
        shrink = list(range(r.replicas - 1, t - 1, -1))
        if r.spec.change is RoleChange.ROLL:
            # A coordinated role scales first with every pod held (partition = replicas), so
            # its new pods start at the old template and the rule's skew covers all of them.
            # A rolling role scaling down first holds every pod the same way; its update then
            # starts as upstream's does, from the template change.
            r.partition = t
            r.started = bool(self._rules_for(r))
        return self._action(
            r,
            Op.CREATE if r.spec.change is RoleChange.ADD else Op.SCALE,
            t,
            partition=r.partition if r.stateful else None,
            create=len(grow),
            delete=len(shrink),
            created=self._names(r, grow),
            deleted=self._names(r, shrink),
        )

    def _apply_size(self, r: _Role, t: int) -> None:
        if t > r.replicas:
            # New pods start at NEW's template, except under a coordinated rollout (held).
            r.pods += [r.spec.change is not RoleChange.ROLL] * (t - r.replicas)
        else:
            del r.pods[t:]
            r.old = min(r.old, t)
        r.replicas = t

    # -- rolling --

    def _rules_for(self, r: _Role) -> list[Rule]:
        return [
            x
            for x in self.group.rules
            if x.max_skew is not None
            and r.spec.name in rule_scope(x, self.inputs, r.spec.wave)
            and len(rule_scope(x, self.inputs, r.spec.wave)) >= 2
        ]

    def _roll(self, wave: int, members: list[_Role], number: int) -> int:
        rolling = [r for r in members if r.spec.change is RoleChange.ROLL]
        for r in rolling:
            r.done = False
            r.coordinated = bool(self._rules_for(r))
            if not r.stateful and any(
                x.max_skew is not None and r.spec.name in x.roles for x in self.group.rules
            ):
                self.notes.append(
                    f"{self.group.key}: role {r.spec.name} is a Deployment, which has no "
                    "partition: coordination cannot hold it back, so it rolls on its own"
                )
        guard = 4 * sum(r.spec.old_replicas + r.spec.new_replicas + 4 for r in rolling)
        while not all(r.done for r in rolling):
            guard -= 1
            if guard < 0:  # pragma: no cover - a safety net: every step moves a pod or stalls
                raise _Stall(rolling[0].spec, "the rollout does not converge")
            actions: list[Action] = []
            avail: dict[str, int] = {}
            targets = self._coordinated_targets(wave)
            for r in rolling:
                if r.done:
                    continue
                moved = (
                    self._roll_stateful(r, targets.get(r.spec.name))
                    if r.stateful
                    else self._roll_deployment(r)
                )
                if moved is not None:
                    actions.append(moved[0])
                    avail[r.spec.name] = moved[1]
            if not actions:
                if all(r.done for r in rolling):
                    break
                stuck = next(r for r in rolling if not r.done)
                raise _Stall(stuck.spec, self._why_stuck(stuck))
            self._record(number, wave, actions, avail)
            number += 1
        return number

    def _why_stuck(self, r: _Role) -> str:
        if r.coordinated:
            names = ", ".join(x.name for x in self._rules_for(r))
            return (
                f"coordination rule(s) {names} hold role {r.spec.name!r} at "
                f"{r.updated}/{r.replicas} updated while the other roles wait for it"
            )
        return (
            f"role {r.spec.name!r} may take no pod down (maxUnavailable "
            f"{r.spec.strategy.max_unavailable} of {r.spec.new_replicas}) and gets no surge pod "
            f"(maxSurge {r.spec.strategy.max_surge}; upstream surges only when replicas exceed "
            "maxSurge), so no pod can ever be replaced"
        )

    def _concurrency(self, r: _Role, size: int) -> int:
        """Pods the StatefulSet controller replaces at once (LWS: its leader StatefulSet)."""
        return controllers.statefulset_max_unavailable(
            r.spec.strategy.max_unavailable, size, self.version
        )

    def _coordinated_targets(self, wave: int) -> dict[str, int]:
        """Updated-replica target per coordinated role for this step: the slowest role of each
        rule advances, the others hold; a role in several rules takes the smallest target."""
        out: dict[str, int] = {}
        for rule in self.group.rules:
            scope = rule_scope(rule, self.inputs, wave) if rule.max_skew is not None else []
            if len(scope) < 2:
                continue
            u = {n: self.roles[n].updated for n in scope}
            d = {n: self.roles[n].spec.new_replicas for n in scope}
            order = progress_order(u, d)
            active = [n for n in order if u[n] < d[n] - self.roles[n].final_partition]
            proposal = dict(u)
            if active:
                slow, fast = active[0], order[-1]
                proposal[slow] = next_rolling_target(
                    u_slow=u[slow],
                    d_slow=d[slow],
                    u_fast=u[fast],
                    d_fast=d[fast],
                    ready_fast=d[fast],
                    max_skew=percent(rule.max_skew or "100%"),
                )
            for n, t in proposal.items():
                out[n] = min(out.get(n, t), t)
        return out

    def _roll_stateful(self, r: _Role, target: int | None) -> tuple[Action, int] | None:
        n = r.spec.new_replicas
        size = r.replicas
        if r.coordinated:
            # Upstream bypasses surge for coordinated roles: replicas n, partition from the rule.
            goal = r.updated if target is None else target
            partition, want = max(n - goal, r.final_partition), n
        else:
            live = LiveStatefulSet(
                replicas=size,
                partition=r.partition or 0,
                pods=tuple(Pod(True, u) for u in r.pods),
                role_size=n,
            )
            partition, want = rolling_parameters(
                replicas=n, strategy=r.spec.strategy, live=live, template_changed=not r.started
            )
            if not r.started and want == size and partition >= size:
                # Upstream's first answer only applies the template with every pod held;
                # its next reconcile (same pods) decides the first real move.
                live = LiveStatefulSet(
                    replicas=size, partition=partition, pods=live.pods, role_size=n
                )
                partition, want = rolling_parameters(
                    replicas=n, strategy=r.spec.strategy, live=live, template_changed=False
                )
        r.started = True
        created = list(range(size, want))
        deleted = list(range(size - 1, want - 1, -1))
        old = [i for i in range(min(size, want) - 1, -1, -1) if i >= partition and not r.pods[i]]
        # The controller takes down at most its concurrency (new pods count as unavailable);
        # rbgc keeps the floor by replacing first and removing surge pods later.
        room = max(size - r.floor, 0)
        replaced = old[: min(max(self._concurrency(r, size) - len(created), 0), room)]
        deleted = deleted[: max(room - len(replaced), 0)]
        new_size = want if want >= size else size - len(deleted)
        if not (created or deleted or replaced) and partition == r.partition:
            if self._stateful_done(r):
                r.done, r.partition = True, r.final_partition
                return None
            if r.coordinated:
                return None  # held by its rule(s) this step
            raise _Stall(r.spec, self._why_stuck(r))
        for i in replaced:
            r.pods[i] = True
        del r.pods[new_size:]
        r.pods += [i >= partition for i in created]
        r.replicas, r.partition = new_size, partition
        if self._stateful_done(r):
            r.done, r.partition = True, r.final_partition
        action = self._action(
            r,
            Op.ROLL,
            new_size,
            partition=partition,
            create=len(created),
            replace=len(replaced),
            delete=len(deleted),
            created=self._names(r, created),
            replaced=self._names(r, replaced),
            deleted=self._names(r, deleted),
        )
        return action, size - len(deleted) - len(replaced)

    def _stateful_done(self, r: _Role) -> bool:
        n = r.spec.new_replicas
        return r.replicas == n and all(r.pods[r.final_partition : n])

    def _roll_deployment(self, r: _Role) -> tuple[Action, int] | None:
        n = r.spec.new_replicas
        ms, mu = surge_and_unavailable(r.spec.strategy, n)
        r.started = True
        down = min(r.old, max(r.old + r.new - (n - mu), 0))
        up = max(min(n - r.new, n + ms - (r.old - down + r.new)), 0)
        if down == 0 and up == 0:
            if r.old == 0 and r.new == n:
                r.done = True
                return None
            raise _Stall(r.spec, self._why_stuck(r))
        available = r.old + r.new - down
        # Old pods beyond NEW's replicas are removed, not replaced: count them apart, as the
        # diff does (which ones go first is the ReplicaSet controller's choice).
        replaced = min(down, max(min(r.spec.old_replicas, n) - r.replaced, 0))
        r.replaced += replaced
        r.old -= down
        r.new += up
        r.replicas = n
        r.done = r.old == 0 and r.new == n
        action = self._action(r, Op.ROLL, n, create=up, replace=replaced, delete=down - replaced)
        return action, available


def plan(
    groups: Sequence[GroupChange],
    *,
    kubernetes_version: controllers.Version = controllers.DEFAULT_KUBERNETES_VERSION,
    stop_after: int | None = None,
) -> Plan:
    """The rollout of every group, steps numbered across groups; raises RBG802/RBG803."""
    version = kubernetes_version
    notes: list[str] = []
    steps: list[Step] = []
    planners = []
    for group in sorted(groups, key=lambda g: g.key):
        planner = _GroupPlanner(group, version, notes)
        try:
            steps.extend(planner.run(len(steps) + 1))
        except _Stall as stall:
            raise DiagnosticError(
                [
                    error(
                        "RBG802",
                        f"the rollout of {group.key} never finishes: {stall.why}",
                        stall.role.span,
                        help="allow one pod down (maxUnavailable: 1), or add maxSurge with more "
                        "replicas than maxSurge, or loosen the coordination rule",
                    )
                ]
            ) from None
        planners.append(planner)
    for planner in planners:
        steps.extend(planner.remove(len(steps) + 1))
    notes.extend(_version_notes(groups, version))
    notes.extend(_outage_notes(groups))
    held = invariants.check(groups, steps)
    broken = [i for i in held if not i.holds]
    if broken:
        raise DiagnosticError(
            [
                error(
                    "RBG803",
                    f"the plan breaks its invariant {i.name!r}: {i.detail}",
                    None,
                    help="this is a bug in rbgc's planner; please report it with both inputs",
                )
                for i in broken
            ]
        )
    shown = tuple(steps if stop_after is None else steps[:stop_after])
    return Plan(
        kubernetes_version=controllers.version_text(version),
        steps=shown,
        total_steps=len(steps),
        invariants=held,
        notes=tuple(dict.fromkeys(notes)),
        restarts=sum(a.pods_restarted for s in steps for a in s.actions),
        stopped_after=stop_after if stop_after is not None and stop_after < len(steps) else None,
    )


def _outage_notes(groups: Sequence[GroupChange]) -> list[str]:
    """Rolling roles whose strategy lets every pod be down at once: say so plainly."""
    notes = []
    for g in sorted(groups, key=lambda g: g.key):
        for r in sorted(g.roles, key=lambda r: r.name):
            if r.change is RoleChange.ROLL and r.old_replicas > 0 and floor(r) == 0:
                notes.append(
                    f"{g.key} role {r.name}: with {r.new_replicas} replica(s) and maxUnavailable "
                    f"{r.strategy.max_unavailable} its floor is 0, so it serves nothing while "
                    "its pods are replaced; add replicas or maxSurge to keep it up"
                )
    return notes


def _version_notes(groups: Sequence[GroupChange], version: tuple[int, int]) -> list[str]:
    notes: list[str] = []
    if controllers.honours_statefulset_max_unavailable(version):
        return notes
    for g in sorted(groups, key=lambda g: g.key):
        for r in sorted(g.roles, key=lambda r: r.name):
            if (
                r.change is RoleChange.ROLL
                and r.kind is not WorkloadKind.DEPLOYMENT
                and controllers.statefulset_max_unavailable(
                    r.strategy.max_unavailable,
                    r.new_replicas,
                    controllers.MAX_UNAVAILABLE_STATEFULSET,
                )
                > 1
            ):
                notes.append(
                    f"Kubernetes {version[0]}.{version[1]}: StatefulSet maxUnavailable is "
                    "ignored before 1.35 (MaxUnavailableStatefulSet gate off), so "
                    f"{g.key} role {r.name} replaces one pod at a time, not "
                    f"{r.strategy.max_unavailable}"
                )
    return notes
