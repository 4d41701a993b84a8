"""A group's placement rules, as the build recorded them (`GroupFacts.placement`), as the
constraint model: `rbgc fit` reads the facts, never the Placement documents.

pack -> `Pack` (best preferred tier first, then `required`; the answer names the level it was
satisfied at); required spread -> `Spread`; required separate -> `Separate`. Preferred spread
and separate are soft: the scheduler may ignore them, so `fit` does not require them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rbgc.bundle import GroupFacts, PlacementFacts
from rbgc.fit.constraints import pods_of
from rbgc.fit.demand import GroupPods
from rbgc.fit.model import Constraint, Pack, Separate, Spread


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
    if rule.kind == "pack":
        return Pack(pods=pods, required=rule.required, preferred=rule.preferred, label=label)
    if rule.required is None:
        return None
    if rule.kind == "spread":
        return Spread(pods=pods, level=rule.required, max_skew=rule.max_skew, label=label)
    return Separate(pods=pods, level=rule.required, label=label)
