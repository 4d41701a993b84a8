"""An independent check of a placement, by kube-scheduler's rules, for the tests.

Written apart from the solver on purpose: it reads each pod's own terms as the pod template
wrote them (not what `constraints.derive` made of them) and the problem's placement rules, and
shares with rbgc only the label-selector, node-selector and toleration primitives of
`matching.py`. Each rule is taken from the scheduler's source:

- the API server merges `matchLabelKeys` / `mismatchLabelKeys` into a pod's affinity terms
  from its own labels (`applyMatchLabelKeysAndMismatchLabelKeys`, pkg/registry/core/pod/
  strategy.go);
- required pod affinity (interpodaffinity `satisfyPodAffinity`, filtering.go): for each term,
  the node's domain holds a pod matching ALL the pod's terms (`updateWithAffinityTerms` /
  `podMatchesAllAffinityTerms`), the node has every topology key; or no pod in the cluster
  matches them all and the pod matches its own terms (the first of a series). A final
  placement is accepted when some binding order lets every pod pass;
- required anti-affinity, both ways (`satisfyPodAntiAffinity`,
  `satisfyExistingPodsAntiAffinity`): order does not matter, the later pod of a pair fails;
- spread (podtopologyspread `calPreFilterState` / `Filter`, common.go): counted over the nodes
  that carry every topology key of the pod's constraints and pass its node inclusion policies
  (`nodeAffinityPolicy` default Honor, `nodeTaintsPolicy` default Ignore), pods of the pod's
  namespace matching the selector merged with `matchLabelKeys`; each pod lands where
  `count + 1 - global minimum <= maxSkew`, the global minimum 0 while fewer domains are
  eligible than `minDomains` (nil: 1). A final placement is accepted when filling the least
  loaded domain first passes. A spread that counts other pods of the group than its carriers
  is not checked (`rbgc fit` warns it does not evaluate it, RBG352).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rbgc.fit.inventory import Inventory, Node
from rbgc.fit.matching import (
    BLOCKING_EFFECTS,
    UNSCHEDULABLE_TAINT,
    LabelSelector,
    PodTerm,
    Requirement,
    Taint,
)
from rbgc.fit.model import InstancePack, Pack, PodDemand, Problem, Separate, Spread, SpreadTerm

NOTHING = None  # a null label selector: matches no pod


@dataclass(frozen=True, slots=True)
class Placed:
    """A pod on a node, for the check: running, placed earlier, or placed by the answer."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    node: str
    requests: Mapping[str, int]
    anti_affinity: tuple[PodTerm, ...] = ()


@dataclass(frozen=True, slots=True)
class Term:
    """A pod (anti-)affinity term as the API server stores it in one pod."""

    requirements: tuple[Requirement, ...] | None  # None: a null selector
    namespaces: frozenset[str] | None
    key: str

    def selects(self, pod: Placed) -> bool:
        if self.namespaces is not None and pod.namespace not in self.namespaces:
            return False
        return self.requirements is not None and all(
            r.matches(pod.labels) for r in self.requirements
        )


def stored(term: PodTerm, labels: Mapping[str, str]) -> Term:
    """applyMatchLabelKeysAndMismatchLabelKeys: `key In (value)` / `key NotIn (value)` per key
    the pod's labels have; a null selector stays null."""
    if term.selector.nothing:
        return Term(NOTHING, term.namespaces, term.topology_key)
    reqs = list(term.selector.requirements)
    reqs += [Requirement(k, "In", (labels[k],)) for k in term.match_label_keys if k in labels]
    reqs += [Requirement(k, "NotIn", (labels[k],)) for k in term.mismatch_label_keys if k in labels]
    return Term(tuple(reqs), term.namespaces, term.topology_key)


def violations(
    problem: Problem,
    inventory: Inventory,
    assignments: Sequence[tuple[str, str]],
    earlier: Sequence[Placed] = (),
) -> list[str]:
    """Every rule the placement breaks, in words ([] when it holds)."""
    nodes = {n.name: n for n in inventory.nodes}
    pods = {p.name: p for p in problem.pods}
    where = dict(assignments)
    if sorted(where) != sorted(pods) or len(where) != len(assignments):
        return [f"the placement does not place each pod exactly once: {sorted(where)}"]
    for pod_name, node_name in assignments:
        if node_name not in nodes:
            return [f"{pod_name} is placed on {node_name}, which is not in the inventory"]
    others = [
        Placed(p.name, p.namespace, p.labels, p.node, p.requests, p.anti_affinity)
        for p in inventory.running
    ] + list(earlier)
    mine = [Placed(p.name, p.namespace, p.labels, where[p.name], p.requests) for p in problem.pods]
    out = _capacity(nodes, others, mine)
    for pod in problem.pods:
        out += _node_rules(pod, nodes[where[pod.name]])
    out += _anti_affinity(problem.pods, mine, others, nodes)
    out += _affinity(problem.pods, mine, others, nodes)
    out += _pod_spreads(problem.pods, mine, others, nodes)
    for rule in problem.rules:
        out += _rule(rule, pods, nodes, where)
    return out


def _value(nodes: Mapping[str, Node], node: str, key: str) -> str | None:
    return nodes[node].labels.get(key) if node in nodes else None


def _same(nodes: Mapping[str, Node], a: str, b: str, key: str) -> bool:
    value = _value(nodes, a, key)
    return value is not None and value == _value(nodes, b, key)


def _capacity(
    nodes: Mapping[str, Node], others: Sequence[Placed], mine: Sequence[Placed]
) -> list[str]:
    """Nodes the group's pods take more of a resource on than the node has (only resources
    the group asks for, on nodes it uses: an inventory may show a node over-committed)."""
    used: dict[str, Counter[str]] = {name: Counter() for name in nodes}
    asked: dict[str, set[str]] = {}
    for p in [*others, *mine]:
        if p.node in used:
            used[p.node].update(p.requests)
    for p in mine:
        asked.setdefault(p.node, set()).update(r for r, n in p.requests.items() if n > 0)
    out = []
    for name, resources in sorted(asked.items()):
        for resource in sorted(resources):
            if used[name][resource] > nodes[name].allocatable.get(resource, 0):
                out.append(f"node {name} is over its allocatable {resource}")
    return out


def _untolerated(pod: PodDemand, taints: Sequence[Taint]) -> list[Taint]:
    return [
        t
        for t in taints
        if t.effect in BLOCKING_EFFECTS and not any(tol.tolerates(t) for tol in pod.tolerations)
    ]


def _affinity_allows(pod: PodDemand, node: Node) -> bool:
    if any(node.labels.get(k) != v for k, v in pod.node_selector.items()):
        return False
    return not pod.node_affinity or any(
        t.matches(node.name, node.labels) for t in pod.node_affinity
    )


def _node_rules(pod: PodDemand, node: Node) -> list[str]:
    out = []
    if pod.node_name is not None and node.name != pod.node_name:
        out.append(f"{pod.name} is not on its spec.nodeName")
    taints = list(node.taints)
    if node.unschedulable:
        taints.append(Taint(UNSCHEDULABLE_TAINT, "", "NoSchedule"))
    for taint in _untolerated(pod, taints):
        out.append(f"{pod.name} is on {node.name} with untolerated taint {taint.key}")
    if not _affinity_allows(pod, node):
        out.append(f"{pod.name} is on {node.name}, outside its node selector or affinity")
    return out


def _anti_affinity(
    pods: Sequence[PodDemand],
    mine: Sequence[Placed],
    others: Sequence[Placed],
    nodes: Mapping[str, Node],
) -> list[str]:
    out = []
    everyone = [*others, *mine]
    for pod, me in zip(pods, mine, strict=True):
        for raw in pod.terms.anti_affinity:
            term = stored(raw, pod.labels)
            for other in everyone:
                if other.name != me.name and _same(nodes, me.node, other.node, term.key):
                    if term.selects(other):
                        out.append(f"{me.name}'s anti-affinity excludes {other.name} there")
        for other in others:
            for raw in other.anti_affinity:
                term = stored(raw, other.labels)
                if term.selects(me) and _same(nodes, me.node, other.node, term.key):
                    out.append(f"{me.name} is next to {other.name}, whose anti-affinity forbids it")
    return out


def _affinity(
    pods: Sequence[PodDemand],
    mine: Sequence[Placed],
    others: Sequence[Placed],
    nodes: Mapping[str, Node],
) -> list[str]:
    """Per set of terms (merged), whether some binding order lets every carrier pass."""
    families: dict[tuple[Term, ...], list[int]] = {}
    for i, pod in enumerate(pods):
        if pod.terms.affinity:
            terms = tuple(dict.fromkeys(stored(t, pod.labels) for t in pod.terms.affinity))
            families.setdefault(terms, []).append(i)
    out = []
    for terms, carriers in families.items():
        if not _bindable(terms, [mine[i] for i in carriers], mine, others, nodes):
            names = ", ".join(mine[i].name for i in carriers)
            out.append(f"affinity: no binding order lets {names} pass their pod affinity")
    return out


def _bindable(
    terms: tuple[Term, ...],
    carriers: Sequence[Placed],
    mine: Sequence[Placed],
    others: Sequence[Placed],
    nodes: Mapping[str, Node],
) -> bool:
    keys = {t.key for t in terms}

    def matches_all(p: Placed) -> bool:
        return all(t.selects(p) for t in terms)

    def counted(p: Placed) -> bool:  # affinityCounts: on a node with the term's key
        return matches_all(p) and any(_value(nodes, p.node, k) is not None for k in keys)

    carrier_names = {c.name for c in carriers}
    free_targets = [p for p in mine if p.name not in carrier_names and matches_all(p)]

    def passes(pod: Placed, bound: Sequence[Placed]) -> bool:
        if any(_value(nodes, pod.node, k) is None for k in keys):
            return False  # all topology labels must exist on the node
        return all(
            any(matches_all(q) and _same(nodes, pod.node, q.node, t.key) for q in bound)
            for t in terms
        )

    def fixpoint(bound: list[Placed], waiting: list[Placed]) -> bool:
        progress = True
        while waiting and progress:
            progress = False
            for pod in list(waiting):
                if passes(pod, bound):
                    bound.append(pod)
                    waiting.remove(pod)
                    progress = True
        return not waiting

    # without the exception: placed pods and the group's pods that carry no such term first
    if fixpoint([*others, *free_targets], list(carriers)):
        return True
    if any(counted(p) for p in others):
        return False  # a pod matches all terms: the exception is off
    # the first pod of a series: it matches its own terms, on a node with every key
    for first in carriers:
        if matches_all(first) and all(_value(nodes, first.node, k) is not None for k in keys):
            rest = [c for c in carriers if c is not first]
            if fixpoint([*others, first, *free_targets], rest):
                return True
    return False


def _pod_spreads(
    pods: Sequence[PodDemand],
    mine: Sequence[Placed],
    others: Sequence[Placed],
    nodes: Mapping[str, Node],
) -> list[str]:
    Family = tuple[SpreadTerm, tuple[Requirement, ...] | None, frozenset[tuple[str, str]]]
    families: dict[Family, list[int]] = {}
    eligible_of: dict[tuple[int, SpreadTerm], dict[str, str]] = {}
    for i, pod in enumerate(pods):
        keys = {s.level for s in pod.terms.spread}
        for spread in pod.terms.spread:
            counted = _eligible(pod, spread, keys, nodes)
            eligible_of[(i, spread)] = counted
            selector = _spread_selector(spread, pod.labels)
            family = (spread, selector, frozenset(counted.items()))
            families.setdefault(family, []).append(i)
    out = []
    for (spread, selector, _), carriers in families.items():
        namespace = pods[carriers[0]].namespace
        group = {i for i, p in enumerate(mine) if _counts(namespace, selector, p)}
        if group != set(carriers):
            continue  # counts other pods of the group than its carriers: not evaluated (RBG352)
        counted = eligible_of[(carriers[0], spread)]
        before = Counter(dict.fromkeys(counted.values(), 0))
        for p in others:
            if p.node in counted and _counts(namespace, selector, p):
                before[counted[p.node]] += 1
        out += _water_fill(spread, before, [mine[i] for i in carriers], counted, nodes)
    return out


def _counts(namespace: str, selector: tuple[Requirement, ...] | None, p: Placed) -> bool:
    """countPodsMatchSelector: pods of the incoming pod's namespace the selector matches."""
    return (
        p.namespace == namespace
        and selector is not None
        and all(r.matches(p.labels) for r in selector)
    )


def _spread_selector(
    spread: SpreadTerm, labels: Mapping[str, str]
) -> tuple[Requirement, ...] | None:
    """The selector with `key=value` per matchLabelKeys key the pod has (common.go)."""
    if spread.selector.nothing:
        return None
    added = [Requirement(k, "In", (labels[k],)) for k in spread.match_label_keys if k in labels]
    return (*spread.selector.requirements, *added)


def _eligible(
    pod: PodDemand, spread: SpreadTerm, keys: set[str], nodes: Mapping[str, Node]
) -> dict[str, str]:
    """node name -> domain, for the nodes the spread counts (calPreFilterState)."""
    out = {}
    for node in nodes.values():
        if any(k not in node.labels for k in keys):
            continue
        if spread.node_affinity_policy == "Honor" and not _affinity_allows(pod, node):
            continue
        if spread.node_taints_policy == "Honor" and _untolerated(pod, node.taints):
            continue
        out[node.name] = node.labels[spread.level]
    return out


def _water_fill(
    spread: SpreadTerm | Spread,
    before: Counter[str],
    carriers: Sequence[Placed],
    counted: Mapping[str, str],
    nodes: Mapping[str, Node],
) -> list[str]:
    """Bind the carriers least loaded domain first, each by the Filter's skew rule."""
    level = spread.level
    label = getattr(spread, "label", "") or level
    counts = Counter(before)
    waiting = []
    out = []
    for p in carriers:
        if _value(nodes, p.node, level) is None:
            out.append(f"spread {label}: {p.name} is on a node without {level}")
        elif p.node not in counted:
            out.append(f"spread {label}: {p.name} is on a node the spread does not count")
        else:
            waiting.append(p)
    floor = len(counts) < (spread.min_domains or 1)
    while waiting:
        waiting.sort(key=lambda p: (counts[counted[p.node]], p.name))
        p = waiting.pop(0)
        domain = counted[p.node]
        low = 0 if floor else min(counts.values())
        if counts[domain] + 1 - low > spread.max_skew:
            out.append(f"spread {label}: {p.name} would make the skew {counts[domain] + 1 - low}")
            break
        counts[domain] += 1
    return out


def _rule(
    c: Pack | Spread | Separate | InstancePack,
    pods: Mapping[str, PodDemand],
    nodes: Mapping[str, Node],
    where: Mapping[str, str],
) -> list[str]:
    def value(pod: str, level: str) -> str | None:
        return nodes[where[pod]].labels.get(level)

    out: list[str] = []
    if isinstance(c, Pack) and c.required is not None:
        found = {value(p, c.required) for p in c.pods}
        if None in found or len(found) > 1:
            out.append(f"pack {c.label}: pods in {sorted(map(str, found))} of {c.required}")
    elif isinstance(c, InstancePack):
        for instance in c.instances:
            found = {value(p, c.level) for p in instance}
            if None in found or len(found) > 1:
                out.append(f"instance {instance[0]}: pods in several {c.level} domains")
    elif isinstance(c, Separate):
        against = c.against or c.pods
        for a in c.pods:
            for b in against:
                if a != b and value(a, c.level) is not None:
                    if value(a, c.level) == value(b, c.level):
                        out.append(f"separate {c.label}: {a} and {b} share a {c.level} domain")
    elif isinstance(c, Spread) and c.required and c.pods:
        first = pods[c.pods[0]]
        as_term = SpreadTerm(
            level=c.level, max_skew=c.max_skew, selector=LabelSelector(), min_domains=c.min_domains
        )
        counted = _eligible(first, as_term, {c.level}, nodes)
        before = Counter(dict.fromkeys(counted.values(), 0))
        mine = [Placed(p, pods[p].namespace, pods[p].labels, where[p], {}) for p in c.pods]
        out += _water_fill(c, before, mine, counted, nodes)
    return out
