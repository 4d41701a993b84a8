"""A group's placement rules, as the build recorded them (`GroupFacts.placement`), as the
constraint model: `rbgc fit` reads the facts, never the Placement documents.

pack -> `Pack` (best preferred tier first, then `required`; the answer names the level it was
satisfied at); required spread -> `Spread`; required separate -> `Separate`. Preferred spread
and separate are soft: the scheduler may ignore them, so `fit` does not require them.
A rule of instance scope (upstream's `instanceTopologyConstraint`) -> `InstancePack` of each
instance's pods at `required`.

A rule no compiled object enforces (`lowered` False: the build said so with RBG317) is not
counted on: the cluster will not keep it, so `fit` warns (RBG354) instead of answering
"fits" on its strength. A LeaderWorkerSet's own `exclusive-topology` annotation, which its
controller enforces, packs each of its groups in one domain, one group per domain.
"""

from __future__ import annotations

from collections.abc import Sequence

from rbgc.bundle import GroupFacts, PlacementFacts
from rbgc.diagnostics import Diagnostic, warning
from rbgc.fit.demand import GroupPods
from rbgc.fit.inventory import Node
from rbgc.fit.model import InstancePack, Pack, Rule, Separate, Spread

# Build warnings `rbgc fit` answers itself, so it does not repeat them: that pod affinity is
# checked pod by pod (RBG315: the answer is the whole-group check its hint asks for), and that
# an instance pack is not compiled (RBG317: RBG354 says what that means for the answer).
SUPERSEDED = frozenset({"RBG315", "RBG317"})


def rules_of(group: GroupPods, warnings: list[Diagnostic]) -> list[Rule]:
    """The constraints the group's recorded rules (and its LWS annotations) enforce."""
    out: list[Rule] = []
    for rule in group.facts.placement:
        found = constraint(rule, group)
        if found is None:
            continue
        if not rule.lowered:
            warnings.append(not_enforced(rule))
            continue
        out.append(found)
    out += lws_exclusive(group)
    return out


def not_enforced(rule: PlacementFacts) -> Diagnostic:
    what = (
        f"the instanceTopologyConstraint of role {rule.roles[0]}"
        if rule.scope == "instance"
        else f"the {rule.kind} rule of {', '.join(rule.roles)}"
    )
    return warning(
        "RBG354",
        f"{what} is not in the compiled objects: the cluster will not keep it, so `rbgc fit` "
        "does not count on it",
        rule.span,
        help="the answer holds without the rule; keep it only if a scheduler that reads it "
        "is added, or express it where rbgc compiles it (a CoordinatedPolicy topologyConstraint "
        "packs every pod of its roles)",
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


def constraint(rule: PlacementFacts, group: GroupPods) -> Rule | None:
    pods = pods_of(group, rule.roles)
    if not pods:
        return None
    label = "+".join(rule.roles)
    if rule.scope == "instance":  # upstream's instanceTopologyConstraint: each instance packs
        if rule.kind != "pack" or rule.required is None:
            return None  # a preferred instance pack only scores
        instances = tuple(i for role in rule.roles for i in instances_of(group, role))
        return InstancePack(instances=instances, level=rule.required, label=label)
    if rule.kind == "pack":
        return Pack(pods=pods, required=rule.required, preferred=rule.preferred, label=label)
    if rule.required is None:
        return None
    if rule.kind == "spread":
        return Spread(pods=pods, level=rule.required, max_skew=rule.max_skew, label=label)
    return Separate(pods=pods, level=rule.required, label=label)


def lws_exclusive(group: GroupPods) -> list[Rule]:
    """LWS's `exclusive-topology`: each group (instance) in one domain of the key, one group
    per domain (the LWS controller adds the pod affinity and anti-affinity for it)."""
    roles = {p.name: p.role for p in group.pods}
    out: list[Rule] = []
    for lws, key in sorted(group.exclusive_instances.items()):
        instances: dict[str, list[str]] = {}
        for pod in group.pods:
            if pod.instance is not None and pod.instance.startswith(f"{lws}/"):
                instances.setdefault(pod.instance, []).append(pod.name)
        if not instances:
            continue
        first = next(iter(instances.values()))
        label = "+".join(dict.fromkeys(roles[p] for p in first)) + " (LWS exclusive topology)"
        out.append(
            InstancePack(instances=tuple(map(tuple, instances.values())), level=key, label=label)
        )
        leaders = tuple(members[0] for members in instances.values())
        out.append(Separate(pods=leaders, level=key, label=label))
    return out


def nesting(groups: Sequence[GroupFacts], nodes: Sequence[Node]) -> list[Diagnostic]:
    """RBG353 where the inventory's domains of a tier do not nest in the next broader tier's:
    rbgc trusts the declared order, so a fallback may then not be what the user meant."""
    out: list[Diagnostic] = []
    checked: set[tuple[tuple[str, str], ...]] = set()
    for group in groups:
        for rule in group.placement:
            if rule.tiers in checked:
                continue
            checked.add(rule.tiers)
            for (narrow, narrow_key), (broad, broad_key) in zip(
                rule.tiers, rule.tiers[1:], strict=False
            ):
                parents: dict[str, set[str]] = {}
                for node in nodes:
                    inner, outer = node.labels.get(narrow_key), node.labels.get(broad_key)
                    if inner is not None and outer is not None:
                        parents.setdefault(inner, set()).add(outer)
                split = sorted(d for d, found in parents.items() if len(found) > 1)
                if split:
                    out.append(
                        warning(
                            "RBG353",
                            f"the inventory's {narrow} domains do not nest in {broad} domains: "
                            f"{narrow} {split[0]} spans {broad} "
                            + ", ".join(sorted(parents[split[0]])),
                            rule.span,
                            help="rbgc trusts the Topology's tier order (best interconnect "
                            "first, each tier inside the next): fix the node labels or the order",
                        )
                    )
    return out
