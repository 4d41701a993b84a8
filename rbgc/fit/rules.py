"""A group's placement rules, as the build recorded them (`GroupFacts.placement`), as the
constraint model: `rbgc fit` reads the facts, never the Placement documents.

pack -> `Pack` (best preferred tier first, then `required`; the answer names the level it was
satisfied at); required spread -> `Spread`; required separate -> `Separate`. Preferred spread
and separate are soft: the scheduler may ignore them, so `fit` does not require them.
A rule of instance scope (upstream's `instanceTopologyConstraint`, recorded by the v1alpha2
front end) -> `InstancePack` of each instance's pods at `required`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rbgc.bundle import GroupFacts, PlacementFacts
from rbgc.diagnostics import Diagnostic, warning
from rbgc.fit.constraints import instances_of, pods_of
from rbgc.fit.demand import GroupPods
from rbgc.fit.inventory import Node
from rbgc.fit.model import Constraint, InstancePack, Pack, Separate, Spread


def from_facts(groups: Sequence[GroupFacts]) -> Callable[[GroupPods], Sequence[Constraint]]:
    """The `rules` hook of `rbgc.fit.fit` for a bundle's facts."""
    by_key = {(g.namespace, g.name): g.placement for g in groups}

    def rules(group: GroupPods) -> Sequence[Constraint]:
        return [
            c
            for rule in by_key.get((group.namespace, group.name), ())
            if (c := constraint(rule, group)) is not None
        ]

    return rules


def constraint(rule: PlacementFacts, group: GroupPods) -> Constraint | None:
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
