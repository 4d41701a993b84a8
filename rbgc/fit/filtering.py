"""Per pod, the nodes it may use on its own, and why the others were refused.

The filters a pod meets alone, in kube-scheduler's terms: nodeName, cordon, taints, node
selector and affinity (`cluster.node_filter`); pod affinity towards placed pods (`Near`); its
anti-affinity towards placed pods (`Avoid`) and theirs towards it (`satisfyExistingPodsAnti
Affinity`); free resources. Pods of one template ask the same of every node: each kind of pod
is filtered once and its pods share one `NodeSet`, so memory grows with nodes x kinds, not
nodes x pods.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rbgc.fit.cluster import Cluster, Existing, node_filter
from rbgc.fit.matching import PodTerm
from rbgc.fit.model import Avoid, Constraint, Level, Near, PodDemand

Cache = dict[tuple[PodTerm, tuple[PodTerm, ...]], set[str]]


@dataclass(frozen=True, slots=True, eq=False)
class NodeSet:
    """Node indices, in name order, and the same as a set (shared between pods)."""

    ordered: tuple[int, ...]
    members: frozenset[int]

    @classmethod
    def of(cls, nodes: Sequence[int]) -> NodeSet:
        ordered = tuple(sorted(nodes))
        return cls(ordered, frozenset(ordered))

    def __len__(self) -> int:
        return len(self.ordered)

    def __bool__(self) -> bool:
        return bool(self.ordered)


@dataclass(slots=True)
class Refusals:
    """Why one kind of pod was refused by the nodes it may not use."""

    counts: Counter[str] = field(default_factory=Counter)
    # per resource: the most free on a node that passed every other filter (None: no node did)
    most_free: dict[str, int | None] = field(default_factory=dict)


@dataclass(slots=True)
class Filtered:
    candidates: list[NodeSet]
    refusals: list[Refusals]


def filter_pods(
    pods: Sequence[PodDemand], constraints: Sequence[Constraint], cluster: Cluster
) -> Filtered:
    near: dict[str, list[Near]] = {}
    avoid: dict[str, list[Avoid]] = {}
    for c in constraints:
        if isinstance(c, Near):
            for p in c.pods:
                near.setdefault(p, []).append(c)
        elif isinstance(c, Avoid):
            for p in c.pods:
                avoid.setdefault(p, []).append(c)
    cache: Cache = {}
    memo: dict[object, tuple[NodeSet, Refusals]] = {}
    candidates: list[NodeSet] = []
    refusals: list[Refusals] = []
    for pod in pods:
        mine_near, mine_avoid = near.get(pod.name, []), avoid.get(pod.name, [])
        key = (
            tuple(pod.requests.items()),
            pod.node_name,
            tuple(pod.node_selector.items()),
            pod.node_affinity,
            pod.tolerations,
            pod.namespace,
            tuple(pod.labels.items()),
            tuple(id(c) for c in mine_near),
            tuple(id(c) for c in mine_avoid),
        )
        found = memo.get(key)
        if found is None:
            found = memo[key] = _filter(pod, mine_near, mine_avoid, cluster, cache)
        candidates.append(found[0])
        refusals.append(found[1])
    return Filtered(candidates, refusals)


def _filter(
    pod: PodDemand,
    near: Sequence[Near],
    avoid: Sequence[Avoid],
    cluster: Cluster,
    cache: Cache,
) -> tuple[NodeSet, Refusals]:
    nodes = cluster.nodes
    # placed pods whose required anti-affinity selects this pod: (level, domain) -> a pod
    hostile: dict[tuple[Level, str], Existing] = {}
    for e in cluster.existing:
        for t in e.anti_affinity:
            value = nodes[e.node].labels.get(t.topology_key)
            if value is not None and t.selects(pod.namespace, pod.labels):
                hostile.setdefault((t.topology_key, value), e)
    wanted = [[_domains(t, c.terms, cluster, cache) for t in c.terms] for c in near]
    avoided = [_domains(a.term, (a.term,), cluster, cache) for a in avoid]
    refused = Refusals()
    out = []
    for n, node in enumerate(nodes):
        why = node_filter(pod, node) or _terms(n, near, wanted, avoid, avoided, hostile, cluster)
        if why is None:
            free = cluster.free[n]
            lacking = [r for r, amount in pod.requests.items() if free.get(r, 0) < amount]
            if len(lacking) <= 1:  # passed every filter but (at most) this resource
                for resource in lacking or pod.requests:
                    have = free.get(resource, 0)
                    best = refused.most_free.get(resource)
                    refused.most_free[resource] = have if best is None else max(best, have)
            if lacking:
                why = f"have too little free {lacking[0]}"
        if why is None:
            out.append(n)
        else:
            refused.counts[why] += 1
    return NodeSet.of(out), refused


def _domains(
    term: PodTerm, all_of: tuple[PodTerm, ...], cluster: Cluster, cache: Cache
) -> set[str]:
    """The domains (at `term`'s level) holding a placed pod that matches every term of
    `all_of`."""
    found = cache.get((term, all_of))
    if found is None:
        found = set()
        for e in cluster.existing:
            if all(t.selects(e.namespace, e.labels) for t in all_of):
                value = cluster.nodes[e.node].labels.get(term.topology_key)
                if value is not None:
                    found.add(value)
        cache[(term, all_of)] = found
    return found


def _terms(
    n: int,
    near: Sequence[Near],
    wanted: Sequence[Sequence[set[str]]],
    avoid: Sequence[Avoid],
    avoided: Sequence[set[str]],
    hostile: Mapping[tuple[Level, str], Existing],
    cluster: Cluster,
) -> str | None:
    labels = cluster.nodes[n].labels
    for c, domains in zip(near, wanted, strict=True):
        for term, found in zip(c.terms, domains, strict=True):
            key = term.topology_key
            if key not in labels:
                return f"have no {key} label, which the pod's pod affinity needs"
            if labels[key] not in found:
                what = (
                    "matching all its affinity terms" if len(c.terms) > 1 else "its affinity needs"
                )
                return f"have no pod {what} in their {key} domain"
    for away, taken in zip(avoid, avoided, strict=True):
        key = away.term.topology_key
        if labels.get(key) in taken:
            what = "another group's pods" if away.exclusive else "a pod its anti-affinity excludes"
            return f"have {what} in their {key} domain"
    for key, value in sorted(labels.items()) if hostile else ():
        e = hostile.get((key, value))
        if e is not None:
            return f"have a pod whose anti-affinity excludes it ({e.namespace}/{e.name})"
    return None
