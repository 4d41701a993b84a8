"""Pack rules lowered for Volcano (`--scheduler volcano`): the PodGroup's `networkTopology`.

KEP-473's translation: topology constraints ride the gang channel, so a group with pack rules
gets a Volcano PodGroup even without gang scheduling, with `minMember: 0` (carrying
`networkTopology` imposes no gang). A group pack over every role of the group sets
`spec.networkTopology`; a pack over some roles, and each instance pack, a `spec.subGroupPolicy`
entry. Volcano forms a subgroup only from `matchLabelKeys` (`job_info.go` `getOrCreateSubJob`,
`sub_job_info.go` `getSubJobMatchValues`: without keys a pod joins the default subgroup, which
carries only the job-level topology), so each entry selects the rule's roles
(`labelSelector`) and groups them by a label with one value per subgroup: the group-key label
for a group pack (every pod of the group carries the same value), the instance label for an
instance pack (`leaderworkerset.sigs.k8s.io/group-index` on a native LWS group's pods,
`rbg.workloads.x-k8s.io/role-instance-index` on a custom-components instance's).

Tiers: `required` becomes `mode: hard` with the tier as Volcano names it: the Topology tier's
`volcanoTier` (a HyperNode `tierName` -> `highestTierName`, a tier number ->
`highestTierAllowed`, never both: `validate_podgroup.go` refuses it); a level from KEP-473's
fields verbatim (the scheduler's vocabulary); otherwise rbgc's tier name, with a warning
(RBG319): Volcano drops a hard bound whose tier name no HyperNode has (`session.go`
`translateHighestTierNameToAllowed`, "skip translation"). `preferred` alone is `mode: soft`
with no tier: Volcano replaces a soft constraint's tier with the cluster's top tier
(`convertSoftToHardTopology`).

Fidelity losses, each a warning (RBG316): one mode and one tier per constraint, so a pack with
both `required` and `preferred` keeps the hard bound and drops the preference; soft mode does
not anchor at the named tier. Spread and separate stay standard pod fields, which Volcano's
predicates honour.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rbgc.diagnostics import Diagnostic, warning
from rbgc.k8s import conventions as cv
from rbgc.topology import Level, PlacementRule, PlacementSpec, RuleKind, Scope


@dataclass(slots=True)
class VolcanoTopology:
    """PodGroup spec fields, explain lines per role, the fidelity warnings, and the rules
    (by index) the PodGroup expresses."""

    spec: dict[str, Any] = field(default_factory=dict)
    reasons: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[Diagnostic] = field(default_factory=list)
    lowered: set[int] = field(default_factory=set)
    # instance packs of roles already in a gang's per-instance subgroups (KEP-430): the
    # networkTopology each such subgroup gets, by role
    on_gang: dict[str, dict[str, Any]] = field(default_factory=dict)


def network_topology(
    spec: PlacementSpec,
    group_key: str,
    roles: Sequence[str],
    sizes: Mapping[str, tuple[int, int]],
    gang: bool,
    conventions: cv.Conventions = cv.V04,
    instance_keys: Mapping[str, str | None] | None = None,
    gang_sub_groups: Collection[str] = (),
) -> VolcanoTopology:
    """`sizes`: each role's instances and pods per instance; `instance_keys`: the label
    telling one instance's pods from another's, per role (None: the role's pods carry none)."""
    out = VolcanoTopology(reasons={r: [] for r in roles})
    sub_groups: list[dict[str, Any]] = []
    in_sub_group: set[str] = set()
    # group packs first: an instance pack of a role already in a group pack's subgroup is the
    # one that cannot be compiled
    ordered = sorted(enumerate(spec.rules), key=lambda item: item[1].scope is Scope.INSTANCE)
    for index, rule in ordered:
        if rule.kind is not RuleKind.PACK:
            continue
        whole = rule.scope is Scope.GROUP and set(rule.roles) == set(roles)
        if whole:
            out.spec["networkTopology"] = topology = _mode(spec, rule, out.warnings)
            where = "PodGroup networkTopology"
        elif rule.scope is Scope.INSTANCE and rule.roles[0] in gang_sub_groups:
            out.on_gang[rule.roles[0]] = topology = _mode(spec, rule, out.warnings)
            where = f"PodGroup subGroupPolicy {rule.roles[0]} (the gang's, one per instance)"
        else:
            if any(r in in_sub_group for r in rule.roles):
                # Volcano puts a pod in the first subgroup it matches: an instance pack of a
                # role in a group pack's subgroup is left to pod affinity
                continue
            found = _grouping(rule, sizes, conventions, instance_keys)
            if found is None:
                continue  # an instance label the role's pods lack: RBG317
            name, key, size = found
            topology = _mode(spec, rule, out.warnings)
            entry: dict[str, Any] = {
                "name": name,
                "labelSelector": conventions.roles_selector(group_key, rule.roles),
                "matchLabelKeys": [key],
                "networkTopology": topology,
            }
            if gang:  # gang fields only for gang-scheduled groups (KEP-473)
                entry["subGroupSize"] = size
            sub_groups.append(entry)
            in_sub_group.update(rule.roles)
            where = f"PodGroup subGroupPolicy {name} (one subgroup per value of {key})"
        out.lowered.add(index)
        said = ", ".join(f"{k} {v}" for k, v in topology.items())
        for role in rule.roles:
            out.reasons[role].append(f"pack [{', '.join(rule.roles)}]: {where} ({said})")
    if sub_groups:
        out.spec["subGroupPolicy"] = sub_groups
    return out


def _grouping(
    rule: PlacementRule,
    sizes: Mapping[str, tuple[int, int]],
    conventions: cv.Conventions,
    instance_keys: Mapping[str, str | None] | None,
) -> tuple[str, str, int] | None:
    """A subgroup's name, the label whose values split the rule's pods into subgroups, and the
    pods in one subgroup; None where the role's pods carry no such label."""
    if rule.scope is Scope.INSTANCE:
        (role,) = rule.roles
        key = (instance_keys or {}).get(role)
        return None if key is None else (f"{role}-instance", key, sizes[role][1])
    # every pod of the group carries the group key with one value: the rule's pods are one
    # subgroup
    size = sum(instances * pods for instances, pods in (sizes[r] for r in rule.roles))
    return "-".join(rule.roles), conventions.label_group_key, size


def _mode(spec: PlacementSpec, rule: PlacementRule, warnings: list[Diagnostic]) -> dict[str, Any]:
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
        return {"mode": "hard", **tier_bound(spec, rule, rule.required, warnings)}
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
    return {"mode": "soft"}


def tier_bound(
    spec: PlacementSpec, rule: PlacementRule, level: Level, warnings: list[Diagnostic]
) -> dict[str, Any]:
    """`highestTierName` or `highestTierAllowed` for a hard bound at `level`."""
    if rule.upstream:
        return {"highestTierName": level.written}  # KEP-473: the scheduler's own words
    tier = spec.topology.tiers[level.rank] if level.rank is not None else None
    if tier is not None and isinstance(tier.volcano_tier, int):
        return {"highestTierAllowed": tier.volcano_tier}
    if tier is not None and tier.volcano_tier is not None:
        return {"highestTierName": tier.volcano_tier}
    name = tier.name if tier is not None else level.written
    warnings.append(
        warning(
            "RBG319",
            f"{name!r} is written as Volcano's highestTierName, but nothing says the "
            "cluster's HyperNodes have a tier of that name; Volcano drops a hard bound whose "
            "tier name it does not know",
            level.span,
            help="declare the tier's Volcano name in the Topology: `volcanoTier: <HyperNode "
            "tierName>` (or its tier number)",
            notes=((tier.span, "the tier is declared here"),) if tier and tier.span else (),
        )
    )
    return {"highestTierName": name}
