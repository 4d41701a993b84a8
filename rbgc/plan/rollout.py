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

import enum
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from rbgc.diagnostics import DiagnosticError, Span, error
from rbgc.model import IntOrPercent, WorkloadKind
from rbgc.rollout import scaled

MAX_UNAVAILABLE_STATEFULSET = (1, 35)  # MaxUnavailableStatefulSet beta, on by default
DEFAULT_KUBERNETES_VERSION = (1, 33)


class RoleChange(enum.StrEnum):
    NONE = "none"  # pods keep running (maybe scaled)
    ROLL = "roll"  # pod template changed: rolling update
    RECREATE = "recreate"  # immutable field changed: delete and create
    ADD = "add"  # role only in NEW
    REMOVE = "remove"  # role only in OLD


@dataclass(frozen=True, slots=True, kw_only=True)
class Strategy:
    max_unavailable: IntOrPercent
    max_surge: IntOrPercent
    partition: IntOrPercent = 0

    @staticmethod
    def default(kind: WorkloadKind) -> Strategy:
        if kind is WorkloadKind.DEPLOYMENT:
            return Strategy(max_unavailable="25%", max_surge="25%")
        return Strategy(max_unavailable=1, max_surge=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleInput:
    name: str
    kind: WorkloadKind
    wave: int
    old_replicas: int
    new_replicas: int
    change: RoleChange
    strategy: Strategy
    object_name: str
    size: int = 1  # pods per replica (LeaderWorkerSet group size)
    span: Span | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One `coordination[]` entry."""

    name: str
    roles: tuple[str, ...]
    max_skew: str | None = None  # rollingUpdate.maxSkew
    partition: str | None = None  # rollingUpdate.partition
    max_unavailable: str | None = None  # rollingUpdate.maxUnavailable
    scaling_max_skew: str | None = None  # scaling.maxSkew; None: no scaling rule
    span: Span | None = None


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
    op: str  # "scale" | "roll" | "create" | "recreate" | "delete"
    replicas: int
    partition: int | None = None
    create: int = 0  # replicas started (not ready before the step ends)
    replace: int = 0  # old replicas terminated for new ones
    delete: int = 0  # replicas removed
    created: tuple[str, ...] = ()  # pod names where Kubernetes makes them predictable
    replaced: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    pods_per_replica: int = 1  # LeaderWorkerSet: a replica is a group of `size` pods

    @property
    def down(self) -> int:
        """Pods this action takes down (replaced or deleted)."""
        return (self.replace + self.delete) * self.pods_per_replica


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


# --- upstream's formulas -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pod:
    ready: bool
    updated: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveStatefulSet:
    replicas: int
    partition: int
    pods: tuple[Pod, ...]  # by ordinal, for ordinals < replicas (missing: not ready, not updated)
    role_size: int  # the role-size annotation: replicas the role had when the rollout began


def rolling_parameters(
    *,
    replicas: int,
    strategy: Strategy,
    live: LiveStatefulSet | None,
    template_changed: bool,
) -> tuple[int, int]:
    """(partition, replicas) upstream writes to the StatefulSet (rbg-semantics.md §6.1).

    >>> s = Strategy(max_unavailable=2, max_surge=2)
    >>> old = LiveStatefulSet(replicas=4, partition=0, pods=(Pod(True, False),) * 4, role_size=4)
    >>> rolling_parameters(replicas=4, strategy=s, live=old, template_changed=True)
    (4, 6)
    """
    n = replicas
    ms = min(scaled(strategy.max_surge, n, round_up=True), n)
    mu = scaled(strategy.max_unavailable, n, round_up=False)
    burst = n + ms
    p0 = min(max(scaled(strategy.partition, n, round_up=True), 0), n)

    def want(u: int) -> int:
        return n + max(u - 1, 0) if u <= ms else burst

    if live is None:
        return p0, n
    if template_changed:
        partition, target = min(n, live.replicas), want(n)
    elif live.partition == 0 and live.replicas == n:
        partition, target = 0, n
    else:
        pods = live.pods
        # rbgc counts only the ordinals the rollout must update (from the role's partition up):
        # counting the held ones too, as upstream does, keeps the surge pods forever.
        u = sum(
            1 for i in range(p0, n) if i >= len(pods) or not (pods[i].ready and pods[i].updated)
        )
        if live.role_size != n:
            partition, target = min(live.partition, burst), want(u)
        else:
            size = live.replicas
            step = mu + ms - (burst - size)
            c = 0
            for i in range(size - 1, -1, -1):
                if i < len(pods) and pods[i].ready and pods[i].updated:
                    c += 1
                else:
                    break
            q = max(size - c - step, 0)
            partition = q + sum(1 for i in range(q) if i >= len(pods) or not pods[i].ready)
            for i in range(min(partition, size - 1), q - 1, -1):
                pod = pods[i] if i < len(pods) else Pod(False, False)
                if not pod.ready or pod.updated:
                    partition = i
                else:
                    break
            partition = min(partition, live.partition)
            target = want(u)
    return max(partition, p0), target


def coordinated_partition(percent: str, replicas: int) -> int:
    """`CalculatePartitionReplicas`: round up, but never the whole role unless "100%"."""
    value = scaled(percent, replicas, round_up=True)
    if value == replicas and percent != "100%":
        value = replicas - 1
    return min(max(value, 0), replicas)


def _round_half_away(num: int, den: int) -> int:
    """Go's math.Round(num/den) for num >= 0, den > 0, in exact integers."""
    return (2 * num + den) // (2 * den)


def next_rolling_target(
    *, u_slow: int, d_slow: int, u_fast: int, d_fast: int, ready_fast: int, max_skew: int
) -> int:
    """Updated-replica target of the slowest role (rbg-semantics.md §6.3, HEAD variant).

    >>> next_rolling_target(u_slow=0, d_slow=4, u_fast=0, d_fast=2, ready_fast=2, max_skew=25)
    1
    """
    s = max_skew
    skew_abs = max(-(-s * d_slow // 100), 1)
    lower = _round_half_away(max(100 * u_fast * d_slow - s * d_fast * d_slow, 0), 100 * d_fast)
    upper = _round_half_away(s * d_fast * d_slow + 100 * u_fast * d_slow, 100 * d_fast)
    bal = (lower + upper + 1) >> 1
    step = max(max(bal - u_slow, 0), skew_abs >> 1)
    if step == 0 and u_slow < d_slow:
        step = 1
    if ready_fast == d_fast:
        step = max(step, 1)
    return min(u_slow + step, upper + 1)


def progress_order(updated: Mapping[str, int], desired: Mapping[str, int]) -> list[str]:
    """Roles by updated/desired ascending; ratios within 1e-6 put the larger role first."""

    def compare(a: str, b: str) -> int:
        ra, rb = updated[a] / desired[a], updated[b] / desired[b]
        if abs(ra - rb) < 1e-6:
            return desired[b] - desired[a] or (a > b) - (a < b)
        return -1 if ra < rb else 1

    return sorted(desired, key=functools.cmp_to_key(compare))


def skew_within_bound(
    updated: Mapping[str, int], desired: Mapping[str, int], max_skew: int
) -> tuple[bool, float]:
    """Upstream's property-test invariant over the given roles, and the skew in percent:
    ceil(10000 (u_f/d_f - u_s/d_s)) <= 100 maxSkew + max_r ceil(10000 / d_r)."""
    if len(desired) < 2:
        return True, 0.0
    ratios = {r: Fraction(updated[r], desired[r]) for r in desired}
    fast = max(ratios.values())
    slow = min(ratios.values())
    basis = math.ceil(10000 * (fast - slow))
    bound = 100 * max_skew + max(-(-10000 // d) for d in desired.values())
    return basis <= bound, float(round((fast - slow) * 100, 2))


def scaling_targets(
    current: Mapping[str, int], desired: Mapping[str, int], max_skew: int
) -> dict[str, int]:
    """Replica targets of one coordinated-scaling step (rbg-semantics.md §6.4), in exact
    fractions (upstream's float64 can round differently at exact multiples)."""

    def progress(r: str) -> Fraction:
        if desired[r] == 0:
            return Fraction(1 if current[r] == 0 else 0)
        return Fraction(current[r], desired[r])

    order = sorted(desired, key=lambda r: (progress(r), r))
    behind = [r for r in order if current[r] < desired[r]]
    min_p = progress(behind[0] if behind else order[0])
    max_p = min_p + Fraction(max_skew, 100)
    out = {}
    for r in order:
        if current[r] >= desired[r]:
            out[r] = desired[r]
        elif progress(r) >= max_p:
            out[r] = current[r]
        else:
            t = min(math.ceil(max_p * desired[r]), desired[r])
            out[r] = current[r] + 1 if t <= current[r] else t
    return out


def percent(value: str) -> int:
    return int(value.rstrip("%"))


# --- the planner ---------------------------------------------------------------------------


def final_partition(role: RoleInput, group: GroupChange) -> int:
    """The partition NEW leaves on a StatefulSet/LWS role: the larger of its own and those of
    the rules that coordinate it."""
    n = role.new_replicas
    if role.kind is WorkloadKind.DEPLOYMENT or role.change is RoleChange.REMOVE:
        return 0
    roles = {r.name: r for r in group.roles}
    values = [min(max(scaled(role.strategy.partition, n, round_up=True), 0), n)]
    for rule in group.rules:
        scope = rule_scope(rule, roles, role.wave)
        if rule.max_skew and rule.partition is not None and role.name in scope and len(scope) > 1:
            values.append(coordinated_partition(rule.partition, n))
    return max(values)


def floor(role: RoleInput) -> int:
    """Fewest ready replicas the role's strategy promises while NEW is applied."""
    if role.change in (RoleChange.ADD, RoleChange.REMOVE, RoleChange.RECREATE):
        return 0
    kept = min(role.old_replicas, role.new_replicas)
    if role.change is RoleChange.NONE:
        return kept
    _, mu = surge_and_unavailable(role.strategy, role.new_replicas)
    return max(kept - mu, 0)


def surge_and_unavailable(strategy: Strategy, replicas: int) -> tuple[int, int]:
    """maxSurge (rounded up) and maxUnavailable (rounded down) for `replicas`, with
    Kubernetes' ResolveFenceposts rule: when both come to 0, one pod may be unavailable
    (build refuses values that are 0 as written, so this only meets rounding)."""
    ms = scaled(strategy.max_surge, replicas, round_up=True)
    mu = scaled(strategy.max_unavailable, replicas, round_up=False)
    if ms == 0 and mu == 0:
        mu = 1
    return ms, mu


def rule_scope(rule: Rule, roles: Mapping[str, RoleInput], wave: int) -> list[str]:
    """Roles a rolling rule coordinates in a wave: rolling StatefulSet/LWS roles with pods.

    Roles whose pods do not change are left out: upstream counts them as fully updated, which
    would let the slowest role run ahead of the others that do roll.
    """
    return [
        n
        for n in rule.roles
        if n in roles
        and roles[n].change is RoleChange.ROLL
        and roles[n].kind is not WorkloadKind.DEPLOYMENT
        and roles[n].new_replicas > 0
        and roles[n].wave == wave
    ]


def skew_members(
    rule: Rule, group: GroupChange, step: Step
) -> tuple[dict[str, int], dict[str, int]]:
    """(updated, replicas) of the roles whose skew a rule bounds after a step; a role held
    at its own final partition is left out (it has finished)."""
    roles = {r.name: r for r in group.roles}
    updated, desired = {}, {}
    for n in rule_scope(rule, roles, step.wave):
        state = step.roles[n]
        held = final_partition(roles[n], group)
        if held > 0 and state.updated >= state.replicas - held:
            continue
        if state.replicas > 0:
            updated[n], desired[n] = min(state.updated, state.replicas), state.replicas
    return updated, desired


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
        number = first
        present = [r for r in self.roles.values() if r.spec.change is not RoleChange.REMOVE]
        for wave in sorted({r.spec.wave for r in present}):
            members = [r for r in present if r.spec.wave == wave]
            number = self._recreate(wave, members, number)
            number = self._scale(wave, members, number)
            number = self._roll(wave, members, number)
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

    def _action(self, r: _Role, op: str, replicas: int, **kw: object) -> Action:
        return Action(
            role=r.spec.name,
            kind=r.spec.kind.kind,
            object=r.spec.object_name,
            op=op,
            replicas=replicas,
            pods_per_replica=r.spec.size,
            **kw,  # type: ignore[arg-type]
        )

    def _delete_all(self, r: _Role) -> Action:
        gone = list(range(r.replicas - 1, -1, -1))
        return self._action(r, "delete", 0, delete=len(gone), deleted=self._names(r, gone))

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
                    "recreate",
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
        """Replica changes of roles that do not roll, and of coordinated rolling roles (which
        upstream never surges)."""
        moving = [
            r
            for r in members
            if r.replicas != r.spec.new_replicas
            and (
                r.spec.change in (RoleChange.NONE, RoleChange.ADD)
                or (r.spec.change is RoleChange.ROLL and self._rules_for(r))
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
            r.partition = t
            r.started = True
        return self._action(
            r,
            "create" if r.spec.change is RoleChange.ADD else "scale",
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
        if self.version < MAX_UNAVAILABLE_STATEFULSET:
            return 1
        return max(scaled(r.spec.strategy.max_unavailable, size, round_up=True), 1)

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
            "roll",
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
        r.old -= down
        r.new += up
        r.replicas = n
        r.done = r.old == 0 and r.new == n
        return self._action(r, "roll", n, create=up, replace=down), available


def plan(
    groups: Sequence[GroupChange],
    *,
    kubernetes_version: tuple[int, int] = DEFAULT_KUBERNETES_VERSION,
    stop_after: int | None = None,
) -> Plan:
    """The rollout of every group, steps numbered across groups; raises RBG802/RBG803."""
    version = kubernetes_version
    notes: list[str] = []
    steps: list[Step] = []
    for group in sorted(groups, key=lambda g: g.key):
        try:
            steps.extend(_GroupPlanner(group, version, notes).run(len(steps) + 1))
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
    notes.extend(_version_notes(groups, version))
    notes.extend(_outage_notes(groups))
    invariants = check(groups, steps)
    broken = [i for i in invariants if not i.holds]
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
        kubernetes_version=f"{version[0]}.{version[1]}",
        steps=shown,
        total_steps=len(steps),
        invariants=invariants,
        notes=tuple(dict.fromkeys(notes)),
        restarts=sum(a.replace * a.pods_per_replica for s in shown for a in s.actions),
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
    if version >= MAX_UNAVAILABLE_STATEFULSET:
        return notes
    for g in sorted(groups, key=lambda g: g.key):
        for r in sorted(g.roles, key=lambda r: r.name):
            if (
                r.change is RoleChange.ROLL
                and r.kind is not WorkloadKind.DEPLOYMENT
                and scaled(r.strategy.max_unavailable, r.new_replicas, round_up=True) > 1
            ):
                notes.append(
                    f"Kubernetes {version[0]}.{version[1]}: StatefulSet maxUnavailable is "
                    "ignored before 1.35 (MaxUnavailableStatefulSet gate off), so "
                    f"{g.key} role {r.name} replaces one pod at a time, not "
                    f"{r.strategy.max_unavailable}"
                )
    return notes


def step_bound(group: GroupChange) -> int:
    """Most steps a group's plan may take: every replica moving alone, twice (surge and the
    removal of surge pods), per wave phase."""
    return sum(2 * (r.old_replicas + r.new_replicas) + 3 for r in group.roles) + 1


def check(groups: Sequence[GroupChange], steps: Sequence[Step]) -> tuple[Invariant, ...]:
    """The invariants every plan must keep, recomputed from the steps alone."""
    by_group: dict[str, list[Step]] = {}
    for s in steps:
        by_group.setdefault(s.group, []).append(s)
    floor_ok, floor_detail = True, "no role drops below its floor"
    tightest: tuple[int, str] | None = None
    skew_ok, skew_detail = True, "no coordination rule with maxSkew"
    worst: tuple[float, str] | None = None
    final_ok, final_detail = True, "every role ends as NEW declares it"
    ends_ok, ends_detail = True, f"finishes after {len(steps)} step(s)"
    for g in groups:
        inputs = {r.name: r for r in g.roles}
        bound = step_bound(g)
        if len(by_group.get(g.key, [])) > bound:
            ends_ok = False
            ends_detail = f"{g.key} takes {len(by_group[g.key])} steps, more than its bound {bound}"
        for s in by_group.get(g.key, []):
            for name, state in s.roles.items():
                margin = state.available - state.floor
                if tightest is None or margin < tightest[0]:
                    tightest = (margin, f"{g.key} {name} at step {s.number}")
                if margin < 0:
                    floor_ok = False
                    floor_detail = (
                        f"{g.key} role {name}: {state.available} available < floor "
                        f"{state.floor} at step {s.number}"
                    )
            for rule in g.rules:
                if rule.max_skew is None:
                    continue
                updated, desired = skew_members(rule, g, s)
                ok, value = skew_within_bound(updated, desired, percent(rule.max_skew))
                if worst is None or value > worst[0]:
                    worst = (value, f"{rule.name} at step {s.number}")
                if not ok:
                    skew_ok = False
                    skew_detail = (
                        f"{g.key} rule {rule.name}: skew {value}% beyond maxSkew "
                        f"{rule.max_skew} plus one replica at step {s.number}"
                    )
        last = by_group.get(g.key, [])
        for name, r in inputs.items():
            if last:
                state = last[-1].roles[name]
                got = (state.replicas, state.updated)
            else:
                n = 0 if r.change is RoleChange.ADD else r.old_replicas
                got = (n, n if r.change is RoleChange.NONE else 0)
            # Only a rolling update leaves pods below the partition at the old template: a new
            # or recreated StatefulSet creates every pod at its one revision.
            held = final_partition(r, g) if r.change is RoleChange.ROLL else 0
            want = (r.new_replicas, r.new_replicas - held)
            if r.change is RoleChange.REMOVE:
                want = (0, 0)
            if got != want:
                final_ok = False
                final_detail = (
                    f"{g.key} role {name} ends with (replicas, updated) {got}, NEW wants {want}"
                )
    if floor_ok and tightest is not None:
        floor_detail = f"tightest margin {tightest[0]} ({tightest[1]})"
    if skew_ok and worst is not None:
        skew_detail = f"largest skew {worst[0]}% ({worst[1]})"
    return (
        Invariant(name="capacity-floor", holds=floor_ok, detail=floor_detail),
        Invariant(name="max-skew", holds=skew_ok, detail=skew_detail),
        Invariant(name="terminates", holds=ends_ok, detail=ends_detail),
        Invariant(name="final-state", holds=final_ok, detail=final_detail),
    )
