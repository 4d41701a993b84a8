"""rbgc's placement documents (`rbgc.io/v1alpha1` `Topology` and `Placement`) -> the IR.

Inputs, never emitted; schema in `schemas/placement.v1alpha1.schema.json`, checked by the same
walker as the RoleBasedGroup and Overlay schemas (no jsonschema on the build path).

A `Topology` lists a cluster's interconnect tiers, best first, each with the node label whose
values are its domains. A `Placement` binds to the group of the same name and namespace (or to
every member of the RoleBasedGroupSet of that name) and states rules over its roles. A level is
a tier name of the active topology, else a node label key taken verbatim (as KAI does); with
no `Topology` given, `default` applies (host, nvlink, rack, zone).

The IR is one `PlacementRule` per rule, the shape of KEP-473's `TopologyConstraint`
(`pack.required` / `pack.preferred` over `roles`), with `scope` saying whether the roles' pods
pack together (a CoordinatedPolicy rule) or each instance's pods do
(`instanceTopologyConstraint`), and `spread` / `separate` as rbgc's extensions.
"""

from __future__ import annotations

import enum
import functools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from rbgc.diagnostics import Diagnostic, Span, did_you_mean, error
from rbgc.jsonpath import find
from rbgc.k8s import conventions as cv
from rbgc.schema import Walker
from rbgc.source import Document, JsonPath

API_VERSION = cv.RBGC_API_VERSION
TOPOLOGY_KIND = cv.TOPOLOGY_KIND
PLACEMENT_KIND = cv.PLACEMENT_KIND
KINDS = cv.PLACEMENT_KINDS
SCHEMA_PATH = os.path.join(os.path.dirname(__file__), "schemas", "placement.v1alpha1.schema.json")
_SCHEMA_HELP = "see schemas/placement.v1alpha1.schema.json for the Topology and Placement format"


@dataclass(frozen=True, slots=True, kw_only=True)
class Tier:
    name: str
    node_label: str
    volcano_tier: str | int | None = None  # its HyperNodes' `tierName` or `tier`, if declared
    span: Span | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Topology:
    """Tiers, best interconnect first (the order rbgc trusts)."""

    name: str
    tiers: tuple[Tier, ...]
    span: Span | None = None

    def tier(self, name: str) -> Tier | None:
        return next((t for t in self.tiers if t.name == name), None)

    def rank_of_label(self, node_label: str) -> int | None:
        return next((i for i, t in enumerate(self.tiers) if t.node_label == node_label), None)


# host < NVLink clique < rack < zone (scheduler-semantics.md, "Hardware tiers"): on multi-node
# NVLink systems (GB200 NVL72) one clique, published by the GPU operator as
# `nvidia.com/gpu.clique`, spans several hosts. HGX-class hosts keep NVLink inside the host and
# carry no clique label: pack them at `host`. No Kubernetes label names a rack; NVIDIA
# Topograph labels the switch a node connects to directly (its top-of-rack switch) as
# `network.topology.nvidia.com/block` (Topograph docs/k8s.md), the default here. A Topology
# document overrides the order; `rbgc fit` warns where an inventory's domains do not nest (RBG353).
DEFAULT_TOPOLOGY = Topology(
    name="default",
    tiers=(
        Tier(name="host", node_label="kubernetes.io/hostname"),
        Tier(name="nvlink", node_label="nvidia.com/gpu.clique"),
        Tier(name="rack", node_label="network.topology.nvidia.com/block"),
        Tier(name="zone", node_label="topology.kubernetes.io/zone"),
    ),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Level:
    """A level as written, resolved: its node label key and its tier's rank (0 = best).
    `rank` is None for a node label key that names no tier (it cannot be ordered).

    `verbatim`: a KEP-473 level that names no tier and is no node label key, kept as written
    for a scheduler with its own vocabulary (a Volcano HyperNode tier name); only
    `--scheduler volcano` can lower it (the placement pass refuses it elsewhere, RBG312)."""

    written: str
    node_label: str
    rank: int | None
    span: Span | None = None
    verbatim: bool = False

    @property
    def text(self) -> str:
        return (
            self.written
            if self.written == self.node_label
            else f"{self.written} ({self.node_label})"
        )


class RuleKind(enum.StrEnum):
    PACK = "pack"
    SPREAD = "spread"
    SEPARATE = "separate"


class Scope(enum.StrEnum):
    GROUP = "group"  # all the roles' pods together (Placement rules, CoordinatedPolicy rules)
    INSTANCE = "instance"  # each instance's pods (upstream's instanceTopologyConstraint)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlacementRule:
    """One rule. pack: `required` and/or `preferred`; spread: the level in `required` when
    `DoNotSchedule`, else in `preferred`; separate: likewise for required/preferred
    anti-affinity."""

    kind: RuleKind
    roles: tuple[str, ...]
    required: Level | None = None
    preferred: Level | None = None
    max_skew: int = 1
    min_domains: int | None = None  # spread: `minDomains` (DoNotSchedule only)
    scope: Scope = Scope.GROUP
    span: Span | None = None  # the rule's kind key (`pack:`), where diagnostics point
    # written in upstream's KEP-473 fields: levels are the scheduler's words, passed verbatim
    upstream: bool = False
    topology_name: str | None = None  # KEP-473's `topologyName`: the scheduler's resource

    @property
    def level(self) -> Level:
        """The narrowest level the rule states (spread/separate have exactly one)."""
        found = self.preferred or self.required
        assert found is not None, "a rule states at least one level"
        return found

    def fallback(self, topology: Topology) -> tuple[Level, ...]:
        """A pack's preferred levels, best first: the tiers from `preferred` outward, up to
        (not including) `required`, else to the broadest tier."""
        pref = self.preferred
        if pref is None:
            return ()
        if pref.rank is None:
            return (pref,)
        stop = self.required.rank if self.required and self.required.rank is not None else None
        end = stop if stop is not None else len(topology.tiers)
        return tuple(
            Level(written=t.name, node_label=t.node_label, rank=i, span=pref.span)
            for i, t in enumerate(topology.tiers)
            if pref.rank <= i < end
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PlacementSpec:
    """A group's placement: the active topology and its rules."""

    topology: Topology
    rules: tuple[PlacementRule, ...]
    span: Span | None = None  # the Placement's metadata.name


def is_placement_document(doc: Document) -> bool:
    return cv.is_placement_kind(doc.api_version, doc.kind)


@functools.cache
def schema() -> dict[str, Any]:
    with open(SCHEMA_PATH, encoding="utf-8") as fh:
        loaded: dict[str, Any] = json.load(fh)
    return loaded


def check(doc: Document) -> list[Diagnostic]:
    """Schema problems of one Topology or Placement document (RBG310)."""
    defs = schema()["$defs"]
    walker = Walker(doc, defs=defs, noun=doc.kind)
    return [
        replace(d, code="RBG310", help=d.help or _SCHEMA_HELP)
        for d in walker.walk(defs[doc.kind], doc.body, ())
    ]


def bind(
    groups: Sequence[Any], documents: Sequence[Document], default_namespace: str
) -> tuple[list[Any], list[Diagnostic]]:
    """Attach each Placement to its group(s) (`Group.placement`). Returns the groups and the
    problems; `groups` are `rbgc.model.Group`s (typed loosely: this module stays below model)."""
    problems: list[Diagnostic] = []
    topologies: dict[str, Topology] = {}
    placements: list[Document] = []
    for doc in documents:
        found = check(doc)
        if found:
            problems.extend(found)
        elif doc.kind == TOPOLOGY_KIND:
            topo = _topology(doc, problems)
            if topo.name in topologies:
                problems.append(
                    error(
                        "RBG113",
                        f"Topology {topo.name} is defined twice",
                        topo.span,
                        notes=((topologies[topo.name].span, "first defined here"),),
                    )
                )
            topologies[topo.name] = topo
        else:
            placements.append(doc)
    out = [_with_upstream(g, topologies, problems) for g in groups]
    bound: dict[tuple[str, str], Span] = {}
    for doc in placements:
        meta = doc.body["metadata"]
        name = str(meta["name"])
        namespace = str(meta.get("namespace") or default_namespace)
        targets = [
            i
            for i, g in enumerate(out)
            if g.namespace == namespace and name in (g.name, g.set_name)
        ]
        where = doc.span("metadata", "name")
        if not targets:
            known = sorted({g.name for g in out if g.namespace == namespace})
            problems.append(
                error(
                    "RBG311",
                    f"Placement {namespace}/{name} binds to no RoleBasedGroup: no group "
                    f"{name!r} in namespace {namespace}",
                    where,
                    help=did_you_mean(
                        name, known, "a Placement binds to the group of the same name and namespace"
                    ),
                )
            )
            continue
        if (namespace, name) in bound:
            problems.append(
                error(
                    "RBG113",
                    f"Placement {namespace}/{name} is defined twice",
                    where,
                    notes=((bound[(namespace, name)], "first defined here"),),
                )
            )
            continue
        bound[(namespace, name)] = where
        topology = _active_topology(
            doc.body["spec"].get("topology"),
            doc.span("spec", "topology"),
            doc.span("spec"),
            topologies,
            problems,
        )
        if topology is None:
            continue
        roles = {r.name for i in targets for r in out[i].roles}
        rules = _rules(doc, topology, roles, problems)
        spec = PlacementSpec(topology=topology, rules=tuple(rules), span=where)
        for i in targets:
            out[i] = replace(out[i], placement=_merge(out[i].placement, spec, problems))
    # a set's members share their template's constraints: say each problem once
    return out, list(dict.fromkeys(problems))


def _with_upstream(
    group: Any, topologies: Mapping[str, Topology], problems: list[Diagnostic]
) -> Any:
    """KEP-473's fields of a v1alpha2 group, as rules: each role's `instanceTopologyConstraint`
    (scope INSTANCE) and each bound CoordinatedPolicy rule's
    `strategy.scheduling.topologyConstraint` over the rule's roles (scope GROUP)."""
    found: list[tuple[Document, JsonPath, tuple[str, ...], Scope]] = []
    for i, role in enumerate(find(group.document.body, (*group.spec_path, "roles")) or ()):
        if isinstance(role, dict) and "instanceTopologyConstraint" in role:
            path: JsonPath = (*group.spec_path, "roles", i, "instanceTopologyConstraint")
            found.append((group.document, path, (str(role["name"]),), Scope.INSTANCE))
    for rule in group.coordination:
        if rule.document is None or rule.path is None:
            continue
        path = (*rule.path, "strategy", "scheduling", "topologyConstraint")
        # a stashed rule's path leads into an annotation's text: only a mapping is a constraint
        if isinstance(find(rule.document.body, path), dict):
            found.append((rule.document, path, tuple(rule.roles), Scope.GROUP))
    spec: PlacementSpec | None = None
    for doc, path, roles, scope in found:
        raw = find(doc.body, path)
        # `topologyName` names the scheduler's topology resource (KAI's Topology, KEP-473);
        # an rbgc Topology of that name describes its tiers, else the group's own applies
        named = raw.get("topologyName")
        topology = _active_topology(
            named if named in topologies else None,
            doc.span(*path, "topologyName"),
            doc.span(*path, key=True),
            topologies,
            problems,
        )
        if topology is None:
            continue
        rule = _upstream_rule(doc, path, raw["pack"], roles, scope, topology, problems)
        if rule is not None and named is not None:
            rule = replace(rule, topology_name=str(named))
        if rule is not None:
            one = PlacementSpec(topology=topology, rules=(rule,), span=doc.span(*path, key=True))
            spec = _merge(spec, one, problems)
    return group if spec is None else replace(group, placement=spec)


def _upstream_rule(
    doc: Document,
    path: JsonPath,
    pack: dict[str, Any],
    roles: tuple[str, ...],
    scope: Scope,
    topology: Topology,
    problems: list[Diagnostic],
) -> PlacementRule | None:
    at: JsonPath = (*path, "pack")
    if "required" not in pack and "preferred" not in pack:
        problems.append(
            error(
                "RBG310",
                "a topologyConstraint's pack states neither `required` nor `preferred`",
                doc.span(*at, key=True),
                help="pack: {required: zone, preferred: nvlink} (KEP-473 needs at least one)",
            )
        )
        return None
    before = len(problems)
    required, preferred = (
        None
        if pack.get(key) is None
        else _level(doc, (*at, key), pack[key], topology, problems, verbatim=True)
        for key in ("required", "preferred")
    )
    if required and preferred and not (required.verbatim or preferred.verbatim):
        _orderable(required, preferred, problems)
    if len(problems) > before:
        return None
    return PlacementRule(
        kind=RuleKind.PACK,
        roles=roles,
        required=required,
        preferred=preferred,
        scope=scope,
        span=doc.span(*at, key=True),
        upstream=True,
    )


def _merge(
    before: PlacementSpec | None, added: PlacementSpec, problems: list[Diagnostic]
) -> PlacementSpec:
    """A group's rules from several places (upstream's fields, a Placement) share one
    topology: levels from two topologies cannot be ordered against each other."""
    if before is None:
        return added
    if before.topology.name != added.topology.name:
        problems.append(
            error(
                "RBG312",
                f"this group's topology rules use Topology {before.topology.name}; this one "
                f"uses {added.topology.name}",
                added.span,
                help="name one Topology in every rule of a group (`topologyName:` or `topology:`)",
                notes=((before.span, f"{before.topology.name} used here"),),
            )
        )
        return before
    return replace(before, rules=(*before.rules, *added.rules))


def _topology(doc: Document, problems: list[Diagnostic]) -> Topology:
    tiers: list[Tier] = []
    for i, raw in enumerate(doc.body["spec"]["tiers"]):
        tier = Tier(
            name=raw["name"],
            node_label=raw["nodeLabel"],
            volcano_tier=raw.get("volcanoTier"),
            span=doc.span("spec", "tiers", i),
        )
        for field, value in (("name", tier.name), ("nodeLabel", tier.node_label)):
            first = next(
                (t for t in tiers if (t.name if field == "name" else t.node_label) == value), None
            )
            if first is not None:
                problems.append(
                    error(
                        "RBG313",
                        f"two tiers have the {'name' if field == 'name' else 'node label'} "
                        f"{value!r}",
                        doc.span("spec", "tiers", i, field),
                        help="each tier names one interconnect level: give it its own name and "
                        "node label",
                        notes=((first.span, "first used here"),),
                    )
                )
        tiers.append(tier)
    return Topology(
        name=str(doc.body["metadata"]["name"]),
        tiers=tuple(tiers),
        span=doc.span("metadata", "name"),
    )


def _active_topology(
    wanted: str | None,
    wanted_span: Span,
    unnamed_span: Span,
    topologies: Mapping[str, Topology],
    problems: list[Diagnostic],
) -> Topology | None:
    """The Topology named, else the only one given, else `default`."""
    if wanted is None:
        if len(topologies) <= 1:
            return next(iter(topologies.values()), DEFAULT_TOPOLOGY)
        problems.append(
            error(
                "RBG312",
                f"{len(topologies)} Topology documents are given and this names none",
                unnamed_span,
                help="name one of "
                + ", ".join(sorted(topologies))
                + " (`topology:` in a Placement, `topologyName:` in a topologyConstraint)",
            )
        )
        return None
    if wanted in topologies:
        return topologies[wanted]
    if wanted == DEFAULT_TOPOLOGY.name:
        return DEFAULT_TOPOLOGY
    problems.append(
        error(
            "RBG312",
            f"unknown Topology {wanted!r}",
            wanted_span,
            help=did_you_mean(
                wanted,
                [*topologies, DEFAULT_TOPOLOGY.name],
                "give a Topology document of that name, or omit the name for the default "
                "(host, nvlink, rack, zone)",
            ),
        )
    )
    return None


def _rules(
    doc: Document, topology: Topology, roles: set[str], problems: list[Diagnostic]
) -> list[PlacementRule]:
    out: list[PlacementRule] = []
    for i, raw in enumerate(doc.body["spec"]["rules"]):
        path: JsonPath = ("spec", "rules", i)
        kinds = [k for k in RuleKind if k.value in raw]
        if len(kinds) != 1:
            problems.append(
                error(
                    "RBG310",
                    f"Placement rule {i} states {len(kinds)} of pack, spread, separate",
                    doc.span(*path),
                    help="write exactly one of `pack:`, `spread:`, `separate:` per rule; "
                    "give each its own rule",
                )
            )
            continue
        kind = kinds[0]
        before = len(problems)
        for j, role in enumerate(raw["roles"]):
            if role not in roles:
                problems.append(
                    error(
                        "RBG312",
                        f"Placement rule names unknown role {role!r}",
                        doc.span(*path, "roles", j),
                        help=did_you_mean(
                            role, sorted(roles), "roles: " + ", ".join(sorted(roles))
                        ),
                    )
                )
        body = raw[kind.value]
        at: JsonPath = (*path, kind.value)

        def level(key: str, body: dict[str, Any] = body, at: JsonPath = at) -> Level | None:
            value = body.get(key)
            return None if value is None else _level(doc, (*at, key), value, topology, problems)

        if kind is RuleKind.PACK:
            required, preferred = level("required"), level("preferred")
            if "required" not in body and "preferred" not in body:
                problems.append(
                    error(
                        "RBG310",
                        "a pack states neither `required` nor `preferred`",
                        doc.span(*at, key=True),
                        help="pack: {required: zone, preferred: nvlink}",
                    )
                )
            elif required and preferred:
                _orderable(required, preferred, problems)
        else:
            lvl = level("level")
            strict = bool(body.get("required", kind is RuleKind.SEPARATE))
            required, preferred = (lvl, None) if strict else (None, lvl)
            if "minDomains" in body and not strict:
                # the API server refuses minDomains beside ScheduleAnyway (a PodSpec rule)
                problems.append(
                    error(
                        "RBG310",
                        "minDomains applies only to a required spread (DoNotSchedule)",
                        doc.span(*at, "minDomains", key=True),
                        help="add `required: true`, or drop `minDomains`",
                    )
                )
        if len(problems) > before or (required or preferred) is None:
            continue
        out.append(
            PlacementRule(
                kind=kind,
                roles=tuple(raw["roles"]),
                required=required,
                preferred=preferred,
                max_skew=int(body.get("maxSkew", 1)) if kind is RuleKind.SPREAD else 1,
                min_domains=int(body["minDomains"]) if "minDomains" in body else None,
                span=doc.span(*at, key=True),
            )
        )
    return out


def _level(
    doc: Document,
    path: JsonPath,
    value: str,
    topology: Topology,
    problems: list[Diagnostic],
    *,
    verbatim: bool = False,
) -> Level | None:
    """`verbatim` (KEP-473's fields): a word that is neither a tier nor a node label key is
    kept for the scheduler, not refused here."""
    span = doc.span(*path)
    tier = topology.tier(value)
    if tier is not None:
        return Level(
            written=value,
            node_label=tier.node_label,
            rank=topology.tiers.index(tier),
            span=span,
        )
    if "/" not in value and verbatim:
        return Level(written=value, node_label=value, rank=None, span=span, verbatim=True)
    if "/" not in value:
        problems.append(
            error(
                "RBG312",
                f"unknown tier {value!r} in Topology {topology.name}",
                span,
                help=did_you_mean(
                    value,
                    [t.name for t in topology.tiers],
                    "tiers: "
                    + ", ".join(t.name for t in topology.tiers)
                    + "; or write a node label key such as example.com/rack",
                ),
            )
        )
        return None
    return Level(written=value, node_label=value, rank=topology.rank_of_label(value), span=span)


def _orderable(required: Level, preferred: Level, problems: list[Diagnostic]) -> None:
    if required.node_label == preferred.node_label:
        return
    if required.rank is None or preferred.rank is None:
        problems.append(
            error(
                "RBG310",
                f"cannot fall back from {preferred.written} to {required.written}: a node "
                "label key that names no tier has no place in the tier order",
                preferred.span,
                help="add the label as a tier of the Topology, or use the same level for both",
            )
        )
        return
    if preferred.rank > required.rank:
        problems.append(
            error(
                "RBG314",
                f"pack prefers {preferred.written}, which is broader than its required "
                f"{required.written}",
                preferred.span,
                help="`preferred` names a tier at least as tight as `required` (best first)",
                notes=((required.span, "required here"),),
            )
        )
