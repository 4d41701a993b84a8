"""From the pods' required terms to the model's constraints (what the build emits today).

- exclusive topology (upstream's pair on the group-unique-key label): the affinity term
  `key In [own]` becomes `Pack(all carriers and the pods they select, required=level)`, the
  anti-affinity term `key Exists, key NotIn [own]` becomes `Exclusive(level)`;
- any other required pod affinity term that selects pods of the group becomes a `Pack` of
  its carriers and the pods it selects (a sufficient condition whatever order the scheduler
  binds them in); one that selects none of the group's pods a `Near` (running pods);
- a required pod anti-affinity term becomes `Separate` among the group's pods it selects and
  `Avoid` towards pods outside the group;
- a `DoNotSchedule` spread carried by exactly the pods it selects becomes a `Spread`;
- a LeaderWorkerSet with LWS's `exclusive-topology` annotation becomes an `InstancePack` of
  its groups at that key and a `Separate` of their leaders (one group per domain); otherwise
  LWS groups only give `InstancePack` its instances (the lowering of
  `instanceTopologyConstraint` will supply a level).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from rbgc.diagnostics import Diagnostic, warning
from rbgc.fit.demand import GroupPods, SpreadTerm
from rbgc.fit.matching import PodTerm, Requirement
from rbgc.fit.model import (
    Avoid,
    Constraint,
    Exclusive,
    InstancePack,
    Near,
    Pack,
    PodDemand,
    Problem,
    Separate,
    Spread,
)
from rbgc.k8s import conventions as cv


def problem(group: GroupPods, extra: tuple[Constraint, ...] = ()) -> Problem:
    """The group's placement problem: its pods, derived constraints, then `extra` ones."""
    # A placement rule's pack arrives twice: from the pod affinity the build lowered it to, and
    # as the rule itself, which also knows the tiers to try first; keep the rule's.
    ruled = {(frozenset(c.pods), c.required) for c in extra if isinstance(c, Pack)}
    derived = [
        c
        for c in derive(group)
        if not (isinstance(c, Pack) and (frozenset(c.pods), c.required) in ruled)
    ]
    return Problem(
        namespace=group.namespace,
        name=group.name,
        pods=tuple(group.pods),
        constraints=(*derived, *extra),
    )


def pods_of(group: GroupPods, roles: Sequence[str]) -> tuple[str, ...]:
    """The pods of `roles`, role by role in the order given (how a placement rule lists them)."""
    return tuple(p.name for role in roles for p in group.pods if p.role == role)


def instances_of(group: GroupPods, role: str) -> tuple[tuple[str, ...], ...]:
    """The role's instances: one per LeaderWorkerSet group, else one per pod."""
    found: dict[str, list[str]] = {}
    for p in group.pods:
        if p.role == role:
            found.setdefault(p.instance or p.name, []).append(p.name)
    return tuple(tuple(members) for members in found.values())


def derive(group: GroupPods) -> list[Constraint]:
    out: list[Constraint] = []
    by_term: dict[tuple[str, PodTerm], list[str]] = defaultdict(list)
    by_spread: dict[SpreadTerm, list[str]] = defaultdict(list)
    for pod in group.pods:
        terms = group.terms[pod.name]
        for term in dict.fromkeys(terms.affinity):
            by_term[("affinity", term)].append(pod.name)
        for term in dict.fromkeys(terms.anti_affinity):
            by_term[("anti", term)].append(pod.name)
        for spread in dict.fromkeys(terms.spread):
            by_spread[spread].append(pod.name)
    roles = {p.name: p.role for p in group.pods}
    for (kind, term), carriers in by_term.items():
        selected = [p.name for p in group.pods if term.selects(p.namespace, p.labels)]
        level = term.topology_key
        if kind == "affinity":
            if selected:
                pods = _union(carriers, selected)
                label = _roles(pods, roles)
                if _is_own_key(term, group.key, "In"):
                    label += " (exclusive topology)"
                out.append(Pack(pods=pods, required=level, label=label))
            else:
                out.append(Near(pods=tuple(carriers), term=term, label=_roles(carriers, roles)))
            continue
        if _is_exclusive(term, group.key):
            out.append(
                Exclusive(
                    pods=tuple(carriers),
                    level=level,
                    group_key=group.key,
                    namespaces=term.namespaces,
                    label=f"{_roles(carriers, roles)} (exclusive topology)",
                )
            )
            continue
        if selected:
            against = () if sorted(selected) == sorted(carriers) else tuple(selected)
            out.append(
                Separate(
                    pods=tuple(carriers),
                    level=level,
                    against=against,
                    label=_roles(carriers, roles),
                )
            )
        out.append(Avoid(pods=tuple(carriers), term=term, label=_roles(carriers, roles)))
    for lws, key in sorted(group.exclusive_instances.items()):
        instances: dict[str, list[str]] = {}
        for pod in group.pods:
            if pod.instance is not None and pod.instance.startswith(f"{lws}/"):
                instances.setdefault(pod.instance, []).append(pod.name)
        label = f"{_roles(next(iter(instances.values()), []), roles)} (LWS exclusive topology)"
        out.append(
            InstancePack(instances=tuple(map(tuple, instances.values())), level=key, label=label)
        )
        leaders = tuple(members[0] for members in instances.values())
        out.append(Separate(pods=leaders, level=key, label=label))
    for spread, carriers in by_spread.items():
        selected = [p.name for p in group.pods if spread.selector.selects(p.namespace, p.labels)]
        if sorted(selected) != sorted(carriers):
            group.warnings.append(_spread_note(group, carriers, spread))
            continue
        out.append(
            Spread(
                pods=tuple(carriers),
                level=spread.level,
                max_skew=spread.max_skew,
                min_domains=spread.min_domains,
                counts=spread.selector,
                label=_roles(carriers, roles),
            )
        )
    return out


def _spread_note(group: GroupPods, carriers: list[str], spread: SpreadTerm) -> Diagnostic:
    pod: PodDemand = next(p for p in group.pods if p.name == carriers[0])
    return warning(
        "RBG352",
        f"a topologySpreadConstraint on {spread.level} selects other pods than the ones that "
        "carry it: `rbgc fit` does not evaluate it",
        pod.span,
        help="spread a role over its own pods (labelSelector on the role label)",
    )


def _union(a: list[str], b: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*a, *b]))


def _roles(pods: list[str] | tuple[str, ...], roles: dict[str, str]) -> str:
    return "+".join(dict.fromkeys(roles[p] for p in pods))


def _is_own_key(term: PodTerm, key: str, op: str) -> bool:
    return term.selector.requirements == (Requirement(cv.LABEL_GROUP_KEY, op, (key,)),)


def _is_exclusive(term: PodTerm, key: str) -> bool:
    return set(term.selector.requirements) == {
        Requirement(cv.LABEL_GROUP_KEY, "Exists", ()),
        Requirement(cv.LABEL_GROUP_KEY, "NotIn", (key,)),
    }
