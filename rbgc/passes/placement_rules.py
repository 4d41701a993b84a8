"""Placement rules (rbgc/topology.py) lowered for the default scheduler, and their conflicts.

Standard fields only, on the group's identity labels (group-unique-key + role):

- pack -> pod affinity among the rule's pods: a required term at `required`; one weighted
  preferred term per tier from `preferred` outward to `required` (exclusive), weights strictly
  decreasing, so the scheduler tries the best tier first and falls back;
- spread -> a `topologySpreadConstraints` entry (`DoNotSchedule` when required, else
  `ScheduleAnyway`; `minDomains` when given; `nodeTaintsPolicy: Honor`, so a zone of only
  tainted nodes is no domain, scheduler-semantics.md "Topology spread");
- separate -> pod anti-affinity among the rule's pods (required, or preferred with weight 100);
- a pack or separate over one Deployment role counts one revision (`matchLabelKeys:
  [pod-template-hash]`, Kubernetes >= 1.31), so a rollout's surge pod can be placed.

Pod affinity is decided pod by pod, not for the gang at once: the first pod picks a domain the
others may not fit in. `rbgc fit` checks the whole group; a warning (RBG315) says so once per
group. The fragments are appended after the user's terms by `merge` (in `expand`), skipping
terms already present, so building twice or over already-lowered templates changes nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from rbgc.diagnostics import Diagnostic, Span, did_you_mean, error, warning
from rbgc.k8s import controllers
from rbgc.k8s import conventions as cv
from rbgc.model import RuleLowering, Scheduler, Target
from rbgc.topology import Level, PlacementRule, PlacementSpec, RuleKind, Scope, Topology

_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
_PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"


@dataclass(slots=True)
class Lowered:
    """Per role: the fragments to merge into its pod templates, and what `--explain` says;
    per rule index: how it was lowered (the facts)."""

    scheduling: dict[str, dict[str, Any]] = field(default_factory=dict)
    reasons: dict[str, list[str]] = field(default_factory=dict)
    lowering: dict[int, RuleLowering] = field(default_factory=dict)


def weights(count: int) -> tuple[int, ...]:
    """Preferred-term weights for `count` tiers, best first: strictly decreasing, 100 down."""
    return tuple(max(1, 100 * (count - i) // count) for i in range(count))


def pack_terms(
    rule: PlacementRule,
    topology: Topology,
    base: Mapping[str, Any],
    said: list[str],
    *,
    demote: bool = False,
) -> dict[str, Any]:
    """A pack's podAffinity: a required term at `required`, then one preferred term per tier
    from `preferred` outward, weights strictly decreasing. `base` holds the term's selector
    (and `matchLabelKeys`). `demote`: the required level becomes the last preferred term."""
    affinity: dict[str, Any] = {}
    levels = list(rule.fallback(topology))
    if rule.required is not None and demote:
        if all(level.node_label != rule.required.node_label for level in levels):
            levels.append(rule.required)
    elif rule.required is not None:
        affinity[_REQUIRED] = [{**base, "topologyKey": rule.required.node_label}]
        said.append(f"required {rule.required.text} -> podAffinity required term")
    for level, weight in zip(levels, weights(len(levels)), strict=True):
        affinity.setdefault(_PREFERRED, []).append(
            {"podAffinityTerm": {**base, "topologyKey": level.node_label}, "weight": weight}
        )
        said.append(f"preferred {level.text} -> podAffinity preferred term, weight {weight}")
    return affinity


def lower(
    spec: PlacementSpec,
    group_key: str,
    roles: tuple[str, ...],
    *,
    rules: Collection[int] | None = None,
    demoted: Collection[int] = (),
    deployments: Collection[str] = (),
    version: controllers.Version = controllers.DEFAULT_KUBERNETES_VERSION,
    conventions: cv.Conventions = cv.V04,
) -> Lowered:
    """The fragments per role of the group rules whose index is in `rules` (default: every
    group rule; packs a gang scheduler expresses are left out by the caller). A pack in
    `demoted` gets preferred terms only (its required term could never be met, RBG318).
    Instance packs are lowered by passes/placement_instances.py.

    A rule over one Deployment role counts only its own revision from Kubernetes 1.31:
    `matchLabelKeys: [pod-template-hash]` on its terms, so a rollout's surge pod is neither
    repelled by the old ReplicaSet's pods (separate) nor tied to their full domain (pack).
    A rule over several roles keeps counting them all: each workload has its own hash."""
    out = Lowered(scheduling={r: {} for r in roles}, reasons={r: [] for r in roles})
    per_revision = controllers.honours_affinity_match_label_keys(version)
    taints = controllers.honours_spread_node_taints_policy(version)
    min_domains = controllers.honours_spread_min_domains(version)
    for index, rule in enumerate(spec.rules):
        if rule.scope is Scope.INSTANCE or (rules is not None and index not in rules):
            continue
        fragment: dict[str, Any] = {}
        said: list[str] = []
        selector = conventions.roles_selector(group_key, rule.roles)
        keys: tuple[str, ...] = ()
        one_deployment = len(rule.roles) == 1 and rule.roles[0] in deployments
        if per_revision and one_deployment and rule.kind is not RuleKind.SPREAD:
            keys = (cv.POD_TEMPLATE_HASH,)
        terms: dict[str, Any] = {"labelSelector": selector}
        if keys:
            terms["matchLabelKeys"] = list(keys)
        how = RuleLowering(match_label_keys=keys)
        if rule.kind is RuleKind.PACK:
            demote = index in demoted
            fragment["affinity"] = {
                "podAffinity": pack_terms(rule, spec.topology, terms, said, demote=demote)
            }
            if demote:
                how = RuleLowering(lowered=False, match_label_keys=keys)
        elif rule.kind is RuleKind.SPREAD:
            strict = rule.required is not None
            constraint: dict[str, Any] = {
                "labelSelector": selector,
                "maxSkew": rule.max_skew,
                "topologyKey": rule.level.node_label,
                "whenUnsatisfiable": "DoNotSchedule" if strict else "ScheduleAnyway",
            }
            extra = ""
            if strict and rule.min_domains is not None and min_domains:
                constraint["minDomains"] = rule.min_domains
                extra += f", minDomains {rule.min_domains}"
            if taints:
                # a domain whose nodes all carry a taint the pods do not tolerate is no
                # domain at all (the default, Ignore, counts it and can block placement)
                constraint["nodeTaintsPolicy"] = "Honor"
                extra += ", nodeTaintsPolicy Honor"
                how = RuleLowering(node_taints_policy="Honor")
            fragment["topologySpreadConstraints"] = [constraint]
            said.append(
                f"{'required' if strict else 'preferred'} {rule.level.text} -> "
                f"topologySpreadConstraints maxSkew {rule.max_skew}, "
                f"{'DoNotSchedule' if strict else 'ScheduleAnyway'}{extra}"
            )
        else:
            anti = fragment.setdefault("affinity", {}).setdefault("podAntiAffinity", {})
            term = {**terms, "topologyKey": rule.level.node_label}
            if rule.required is not None:
                anti.setdefault(_REQUIRED, []).append(term)
                said.append(f"required {rule.level.text} -> podAntiAffinity required term")
            else:
                anti.setdefault(_PREFERRED, []).append({"podAffinityTerm": term, "weight": 100})
                said.append(
                    f"preferred {rule.level.text} -> podAntiAffinity preferred term, weight 100"
                )
        if keys:
            said.append("each term counts only the pods of the same Deployment revision")
        head = f"{rule.kind.value} [{', '.join(rule.roles)}]: "
        for role in rule.roles:
            out.scheduling[role] = merge(out.scheduling[role], fragment)
            out.reasons[role].append(head + "; ".join(said))
        out.lowering[index] = how
    return out


def merge(spec: Mapping[str, Any], fragment: Mapping[str, Any]) -> dict[str, Any]:
    """A pod spec with `fragment`'s affinity terms and spread constraints appended after its
    own, each only when not already there."""
    out = copy.deepcopy(dict(spec))
    for kind, section in (fragment.get("affinity") or {}).items():
        target = out.setdefault("affinity", {}).setdefault(kind, {})
        for when, terms in section.items():
            present = target.setdefault(when, [])
            for term in terms:
                if term not in present:
                    present.append(copy.deepcopy(term))
    spreads = fragment.get("topologySpreadConstraints") or []
    if spreads:
        present = out.setdefault("topologySpreadConstraints", [])
        for spread in spreads:
            # the API server refuses two constraints with one topologyKey and whenUnsatisfiable
            if not any(
                (p.get("topologyKey"), p.get("whenUnsatisfiable"))
                == (spread["topologyKey"], spread["whenUnsatisfiable"])
                and p.get("labelSelector") == spread["labelSelector"]
                for p in present
            ):
                present.append(copy.deepcopy(spread))
    return out


def conflicts(
    spec: PlacementSpec, exclusive: str | None, exclusive_span: Span | None
) -> Iterator[Diagnostic]:
    """Rules that cannot all hold (RBG314), each with both locations."""
    every_pack = [r for r in spec.rules if r.kind is RuleKind.PACK]
    for i, first in enumerate(every_pack):
        for second in every_pack[i + 1 :]:
            shared = _shared(first, second)
            if shared and first.scope is not second.scope:
                group, instance = (
                    (first, second) if second.scope is Scope.INSTANCE else (second, first)
                )
                broader = _broader(instance, group)
                if broader is not None:
                    yield broader
                continue
            # an instance pack nests inside a group pack of the same role: both may hold
            if shared and first.scope is second.scope:
                yield error(
                    "RBG314",
                    f"role {shared[0]!r} is packed by two rules",
                    second.span,
                    help="a role belongs to at most one pack rule (KEP-473); merge the rules",
                    notes=((first.span, "also packed here"),),
                )
    # one instance's pods can sit in one domain while the role spreads: only group packs
    # conflict with a spread, a separate or exclusive topology
    packs = [r for r in every_pack if r.scope is Scope.GROUP]
    for pack in packs:
        if pack.required is None:
            continue
        for other in spec.rules:
            shared = _shared(pack, other)
            if not shared or other.required is None:
                continue
            if other.kind is RuleKind.SPREAD and _at_most(pack.required, other.required):
                yield error(
                    "RBG314",
                    f"role {shared[0]!r} must be packed into one {pack.required.written} domain "
                    f"and spread over {other.required.written} domains",
                    other.span,
                    help="one domain of a level lies inside one domain of every broader level: "
                    "spread at a level narrower than the pack, or make one of them preferred",
                    notes=((pack.span, "packed here"),),
                )
            if other.kind is RuleKind.SEPARATE and _at_most(pack.required, other.required):
                yield error(
                    "RBG314",
                    f"role {shared[0]!r} is packed into one {pack.required.written} domain and "
                    f"separated at {other.required.written}",
                    other.span,
                    help="separate at a level narrower than the pack (e.g. pack zone, separate "
                    "host)",
                    notes=((pack.span, "packed here"),),
                )
        if exclusive is not None:
            rank = spec.topology.rank_of_label(exclusive)
            if rank is not None and pack.required.rank is not None and rank > pack.required.rank:
                yield error(
                    "RBG314",
                    f"exclusive topology {exclusive} reserves a whole "
                    f"{spec.topology.tiers[rank].name} domain for the group, broader than its "
                    f"required pack at {pack.required.written}",
                    pack.span,
                    help="set the exclusive topology at the pack's level or narrower, or drop "
                    "one of them",
                    notes=((exclusive_span, "exclusive topology set here"),),
                )


def not_atomic(spec: PlacementSpec, by_pod: Collection[int]) -> Diagnostic | None:
    """The one warning per group that pod affinity places pods one by one (RBG315), at the
    first group pack lowered as pod affinity (`by_pod`: rule indices)."""
    pack = next(
        (
            r
            for i, r in enumerate(spec.rules)
            if i in by_pod and r.kind is RuleKind.PACK and r.scope is Scope.GROUP
        ),
        None,
    )
    if pack is None:
        return None
    return warning(
        "RBG315",
        f"pack [{', '.join(pack.roles)}] becomes pod affinity, which the default scheduler "
        "checks pod by pod, not for all pods at once",
        pack.span,
        help="run `rbgc fit` on a node inventory to check the whole group fits; a "
        "topology-aware gang scheduler packs it atomically (--scheduler volcano)",
    )


def _shared(a: PlacementRule, b: PlacementRule) -> list[str]:
    return [r for r in a.roles if r in b.roles]


def _at_most(narrow: Level, broad: Level) -> bool:
    """`narrow` is the same level as `broad` or a tighter one."""
    if narrow.node_label == broad.node_label:
        return True
    return narrow.rank is not None and broad.rank is not None and narrow.rank <= broad.rank


def _broader(instance: PlacementRule, group: PlacementRule) -> Diagnostic | None:
    """KEP-473's InvalidLevelOrder: an instance's pods packed at a broader level than the
    group's pack of the same role (the instance pack could never be the tighter one)."""
    inner = instance.required or instance.preferred
    outer = group.required or group.preferred
    if inner is None or outer is None or inner.rank is None or outer.rank is None:
        return None
    if inner.rank <= outer.rank:
        return None
    return error(
        "RBG314",
        f"role {instance.roles[0]!r} packs each instance at {inner.written}, broader than its "
        f"group pack at {outer.written} (KEP-473: InvalidLevelOrder)",
        inner.span,
        help="an instance lies inside its group: pack instances at the group's level or tighter",
        notes=((outer.span, "the group pack's level"),),
    )


def scheduler_words(spec: PlacementSpec, scheduler: Scheduler) -> Iterator[Diagnostic]:
    """KEP-473 levels that name no tier and no node label: only Volcano reads them (as
    HyperNode tier names); any other scheduler needs a node label (RBG312)."""
    if scheduler is Scheduler.VOLCANO:
        return
    for rule in spec.rules:
        for level in (rule.required, rule.preferred):
            if level is not None and level.verbatim:
                yield error(
                    "RBG312",
                    f"unknown tier {level.written!r} in Topology {spec.topology.name}",
                    level.span,
                    help=did_you_mean(
                        level.written,
                        [t.name for t in spec.topology.tiers],
                        "tiers: "
                        + ", ".join(t.name for t in spec.topology.tiers)
                        + "; or a node label key; with --scheduler volcano a KEP-473 level "
                        "is a HyperNode tier name, passed as written",
                    ),
                )


def version_gaps(spec: PlacementSpec, target: Target) -> Iterator[Diagnostic]:
    """Fields the rules ask for that the target Kubernetes version drops (RBG324)."""
    if controllers.honours_spread_min_domains(target.kubernetes_version):
        return
    for rule in spec.rules:
        if rule.kind is RuleKind.SPREAD and rule.min_domains is not None:
            yield warning(
                "RBG324",
                f"minDomains is not written: Kubernetes honours it from "
                f"{controllers.version_text(controllers.MIN_DOMAINS_IN_POD_TOPOLOGY_SPREAD)} "
                f"(target {target.version_text}), so the spread counts only the domains "
                "that have eligible nodes",
                rule.span,
                help="raise --kubernetes-version if the cluster is newer",
            )
