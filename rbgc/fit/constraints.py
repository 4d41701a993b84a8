"""From the pods' own required terms to the constraints the search works with.

Each term is first merged with the carrying pod's labels, as the API server stores it
(`PodTerm.merged`: `matchLabelKeys` / `mismatchLabelKeys`), so pods of one template whose
labels differ (one LeaderWorkerSet group each, one Deployment revision each) may carry
different terms. Then:

- a pod's required pod affinity terms, all of them at once, become an `Affinity` of the pods
  carrying the same terms, with the group's pods that match every term (`targets`): one pod
  must match all terms (kube-scheduler's `updateWithAffinityTerms` counts only pods that match
  all of them), which the search resolves against the cluster; upstream's exclusive-topology
  term on the group's own key (the key of the conventions the group was built with) is named
  so;
- a required pod anti-affinity term becomes `Separate` among the group's pods it selects and
  `Avoid` towards pods outside the group (upstream's exclusive-topology pair: another group's
  pods);
- a `DoNotSchedule` spread carried by exactly the pods it selects becomes a `Spread`; one that
  counts other pods is warned about (RBG352) and not evaluated.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rbgc.diagnostics import Diagnostic, warning
from rbgc.fit.matching import LabelSelector, PodTerm, Requirement
from rbgc.fit.model import (
    Affinity,
    Avoid,
    Constraint,
    PodDemand,
    Problem,
    Rule,
    Separate,
    Spread,
    SpreadTerm,
)


@dataclass(frozen=True, slots=True)
class Own:
    """The group's own key: the label its pods carry and its value (exclusive topology)."""

    label: str
    value: str

    def is_pack(self, term: PodTerm) -> bool:
        """Upstream's exclusive-topology affinity: `key In [own]`."""
        return term.selector.requirements == (Requirement(self.label, "In", (self.value,)),)

    def is_exclusive(self, term: PodTerm) -> bool:
        """Upstream's exclusive-topology anti-affinity: `key Exists, key NotIn [own]`."""
        return set(term.selector.requirements) == {
            Requirement(self.label, "Exists", ()),
            Requirement(self.label, "NotIn", (self.value,)),
        }


def problem(
    namespace: str,
    name: str,
    pods: Sequence[PodDemand],
    rules: Sequence[Rule] = (),
    own: Own | None = None,
    warnings: list[Diagnostic] | None = None,
) -> Problem:
    """A group's placement problem: its pods, what their terms mean, and its rules."""
    derived, notes = derive(pods, own)
    if warnings is not None:
        warnings.extend(notes)
    return Problem(
        namespace=namespace, name=name, pods=tuple(pods), rules=tuple(rules), derived=derived
    )


class _Labels:
    """The group's pods by (namespace, labels), so a term is matched once per label set."""

    def __init__(self, pods: Sequence[PodDemand]) -> None:
        by_set: dict[tuple[str, tuple[tuple[str, str], ...]], list[str]] = {}
        for p in pods:
            by_set.setdefault((p.namespace, tuple(sorted(p.labels.items()))), []).append(p.name)
        self.sets = [(ns, dict(labels), names) for (ns, labels), names in by_set.items()]
        self.order = {p.name: i for i, p in enumerate(pods)}

    def selected(self, term: PodTerm) -> list[str]:
        found = [n for ns, labels, names in self.sets if term.selects(ns, labels) for n in names]
        return sorted(found, key=self.order.__getitem__)

    def matching_all(self, terms: Sequence[PodTerm]) -> list[str]:
        found = [
            n
            for ns, labels, names in self.sets
            if all(t.selects(ns, labels) for t in terms)
            for n in names
        ]
        return sorted(found, key=self.order.__getitem__)


def derive(
    pods: Sequence[PodDemand], own: Own | None = None
) -> tuple[tuple[Constraint, ...], list[Diagnostic]]:
    """The constraints the pods' terms mean, and warnings about terms not evaluated."""
    labels = _Labels(pods)
    roles = {p.name: p.role for p in pods}
    notes: list[Diagnostic] = []
    out = [
        *_affinities(pods, labels, roles, own),
        *_anti_affinities(pods, labels, roles, own),
        *_spreads(pods, labels, roles, notes),
    ]
    return tuple(out), notes


def _affinities(
    pods: Sequence[PodDemand], labels: _Labels, roles: Mapping[str, str], own: Own | None
) -> list[Constraint]:
    """One `Affinity` per set of terms as merged, grouped by the terms as written."""
    families: dict[tuple[PodTerm, ...], dict[tuple[PodTerm, ...], list[str]]] = {}
    for pod in pods:
        written = tuple(dict.fromkeys(pod.terms.affinity))
        if written:
            merged = tuple(dict.fromkeys(t.merged(pod.labels) for t in written))
            families.setdefault(written, {}).setdefault(merged, []).append(pod.name)
    out: list[Constraint] = []
    for family, resolved in enumerate(families.values()):
        for terms, carriers in resolved.items():
            targets = labels.matching_all(terms)
            label = _roles([*carriers, *targets], roles)
            if own is not None and len(terms) == 1 and own.is_pack(terms[0]):
                label += " (exclusive topology)"
            out.append(
                Affinity(
                    pods=tuple(carriers),
                    terms=terms,
                    targets=tuple(targets),
                    family=family,
                    label=label,
                )
            )
    return out


def _anti_affinities(
    pods: Sequence[PodDemand], labels: _Labels, roles: Mapping[str, str], own: Own | None
) -> list[Constraint]:
    anti: dict[PodTerm, list[str]] = defaultdict(list)
    for pod in pods:
        for term in dict.fromkeys(pod.terms.anti_affinity):
            anti[term.merged(pod.labels)].append(pod.name)
    out: list[Constraint] = []
    for term, carriers in anti.items():
        exclusive = own is not None and own.is_exclusive(term)
        label = _roles(carriers, roles) + (" (exclusive topology)" if exclusive else "")
        selected = labels.selected(term)
        if selected:
            against = () if sorted(selected) == sorted(carriers) else tuple(selected)
            out.append(
                Separate(
                    pods=tuple(carriers), level=term.topology_key, against=against, label=label
                )
            )
        out.append(Avoid(pods=tuple(carriers), term=term, exclusive=exclusive, label=label))
    return out


def _spreads(
    pods: Sequence[PodDemand], labels: _Labels, roles: Mapping[str, str], notes: list[Diagnostic]
) -> list[Constraint]:
    by_name = {p.name: p for p in pods}
    spreads: dict[tuple[SpreadTerm, LabelSelector], list[str]] = defaultdict(list)
    keys: dict[tuple[SpreadTerm, LabelSelector], set[str]] = defaultdict(set)
    for pod in pods:
        levels = {s.level for s in pod.terms.spread}
        for spread in dict.fromkeys(pod.terms.spread):
            counted = _spread_selector(spread, pod.labels)
            spreads[(spread, counted)].append(pod.name)
            keys[(spread, counted)].update(levels)
    out: list[Constraint] = []
    for (spread, counted), carriers in spreads.items():
        first = by_name[carriers[0]]
        counts = PodTerm(counted, frozenset({first.namespace}), "")
        if sorted(labels.selected(counts)) != sorted(carriers):
            notes.append(_spread_note(first, spread))
            continue
        out.append(
            Spread(
                pods=tuple(carriers),
                level=spread.level,
                max_skew=spread.max_skew,
                min_domains=spread.min_domains,
                counts=counts,
                node_affinity_policy=spread.node_affinity_policy,
                node_taints_policy=spread.node_taints_policy,
                keys=tuple(sorted(keys[(spread, counted)])),
                label=_roles(carriers, roles),
            )
        )
    return out


def _spread_selector(spread: SpreadTerm, labels: Mapping[str, str]) -> LabelSelector:
    """The pods a spread counts for a pod with `labels`: its selector and, per
    `matchLabelKeys` the pod has, `key=value` (`mergeLabelSetWithSelector`, common.go)."""
    added = tuple(
        Requirement(k, "In", (labels[k],)) for k in spread.match_label_keys if k in labels
    )
    if not added or spread.selector.nothing:
        return spread.selector
    return LabelSelector((*added, *spread.selector.requirements))


def _spread_note(pod: PodDemand, spread: SpreadTerm) -> Diagnostic:
    return warning(
        "RBG352",
        f"a topologySpreadConstraint on {spread.level} selects other pods than the ones that "
        "carry it: `rbgc fit` does not evaluate it",
        pod.span,
        help="spread a role over its own pods (labelSelector on the role label)",
    )


def _roles(pods: Sequence[str], roles: Mapping[str, str]) -> str:
    return "+".join(dict.fromkeys(roles[p] for p in pods))
