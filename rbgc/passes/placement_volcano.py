"""Pack rules lowered for Volcano (`--scheduler volcano`): the PodGroup's `networkTopology`.

KEP-473's translation: topology constraints ride the gang channel, so a group with pack rules
gets a Volcano PodGroup even without gang scheduling, with `minMember: 0` (carrying
`networkTopology` imposes no gang). A rule over every role of the group sets
`spec.networkTopology`; a rule over some roles a `spec.subGroupPolicy` entry selecting their
pods. `required` becomes `mode: hard` with `highestTierName` the required tier; `preferred`
alone `mode: soft`. Volcano names tiers by its HyperNodes' tier names, so rbgc's tier name is
passed as written.

Fidelity losses, each a warning (RBG316): Volcano has one mode and one tier per constraint, so
a pack with both `required` and `preferred` keeps the hard bound and drops the preference (its
scoring prefers lower tiers anyway); soft mode does not anchor at the named tier; a level that
is a node label key, not a tier name, is passed verbatim and must match a HyperNode tier name.
Spread and separate stay standard pod fields, which Volcano's predicates honour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rbgc.diagnostics import Diagnostic, warning
from rbgc.k8s import conventions as cv
from rbgc.topology import Level, PlacementRule, PlacementSpec, RuleKind, Scope


@dataclass(slots=True)
class VolcanoTopology:
    """PodGroup spec fields, explain lines per role, and the fidelity warnings."""

    spec: dict[str, Any] = field(default_factory=dict)
    reasons: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[Diagnostic] = field(default_factory=list)


def network_topology(
    spec: PlacementSpec,
    group_key: str,
    roles: Sequence[str],
    pods_of_role: dict[str, int],
    gang: bool,
    conventions: cv.Conventions = cv.V04,
) -> VolcanoTopology:
    out = VolcanoTopology(reasons={r: [] for r in roles})
    sub_groups: list[dict[str, Any]] = []
    for rule in spec.rules:
        if rule.kind is not RuleKind.PACK or rule.scope is Scope.INSTANCE:
            continue  # instance packs: RBG317 (placement_rules.instance_packs)
        topology = _mode(rule, out.warnings)
        if set(rule.roles) == set(roles):
            out.spec["networkTopology"] = topology
            where = "PodGroup networkTopology"
        else:
            entry: dict[str, Any] = {
                "name": "-".join(rule.roles),
                "labelSelector": conventions.roles_selector(group_key, rule.roles),
                "networkTopology": topology,
            }
            if gang:  # gang fields only for gang-scheduled groups (KEP-473)
                entry["subGroupSize"] = sum(pods_of_role[r] for r in rule.roles)
            sub_groups.append(entry)
            where = f"PodGroup subGroupPolicy {entry['name']}"
        said = ", ".join(f"{k} {v}" for k, v in topology.items())
        for role in rule.roles:
            out.reasons[role].append(f"pack [{', '.join(rule.roles)}]: {where} ({said})")
    if sub_groups:
        out.spec["subGroupPolicy"] = sub_groups
    return out


def _mode(rule: PlacementRule, warnings: list[Diagnostic]) -> dict[str, Any]:
    if rule.required is not None:
        if rule.preferred is not None and rule.preferred.node_label != rule.required.node_label:
            warnings.append(
                warning(
                    "RBG316",
                    f"Volcano keeps one tier per constraint: the pack stays within one "
                    f"{rule.required.written} domain (mode hard), the preference for "
                    f"{rule.preferred.written} is not expressed",
                    rule.preferred.span,
                    help="Volcano's scoring already prefers lower tiers within the hard bound; "
                    "`rbgc fit` reports the tier the pack fits at",
                )
            )
        return {"mode": "hard", "highestTierName": _tier(rule.required, warnings)}
    assert rule.preferred is not None, "a pack states required or preferred"
    warnings.append(
        warning(
            "RBG316",
            f"Volcano's soft mode packs as tightly as it can but does not anchor at "
            f"{rule.preferred.written}",
            rule.preferred.span,
            help="add `required:` to bound the pack (mode hard)",
        )
    )
    return {"mode": "soft", "highestTierName": _tier(rule.preferred, warnings)}


def _tier(level: Level, warnings: list[Diagnostic]) -> str:
    if level.rank is None:
        warnings.append(
            warning(
                "RBG316",
                f"{level.written} is a node label key, not a tier of the Topology; Volcano "
                "reads highestTierName as a HyperNode tier name",
                level.span,
                help="name a tier whose name matches the HyperNode tier name",
            )
        )
    return level.written
