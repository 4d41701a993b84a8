"""What the search, the leaf placement and the explanation share about one group on one cluster.

The group's pods and constraints (affinity already resolved against the cluster), each pod's
candidate nodes, and caches of what is asked many times: the nodes of each domain, node-set
intersections (shared by every pod of a kind), per-domain free capacity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rbgc.fit.cluster import Cluster
from rbgc.fit.filtering import Filtered, NodeSet
from rbgc.fit.inventory import Node
from rbgc.fit.model import Constraint, InstancePack, Level, Pack, PodDemand, Separate, Spread
from rbgc.fit.resources import POD_SLOT


@dataclass(slots=True)
class Context:
    pods: tuple[PodDemand, ...]
    cluster: Cluster
    constraints: tuple[Constraint, ...]
    filtered: Filtered
    index: dict[str, int] = field(init=False)
    packs: list[Pack] = field(init=False)
    instance_packs: list[InstancePack] = field(init=False)
    separates: list[Separate] = field(init=False)
    spreads: list[Spread] = field(init=False)
    weight: list[float] = field(init=False)
    request_keys: list[tuple[tuple[str, int], ...]] = field(init=False)
    _domains: dict[Level, dict[str, list[int]]] = field(init=False, default_factory=dict)
    _domain_sets: dict[tuple[Level, str], NodeSet] = field(init=False, default_factory=dict)
    _restricted: dict[tuple[int, int], NodeSet] = field(init=False, default_factory=dict)
    _by_domain: dict[tuple[int, tuple[Level, ...]], dict[tuple[str, ...], tuple[int, ...]]] = field(
        init=False, default_factory=dict
    )
    totals: dict[str, int] = field(init=False)  # free capacity of the whole cluster
    _keep: list[NodeSet] = field(init=False, default_factory=list)  # ids stay unique

    def __post_init__(self) -> None:
        self.index = {p.name: i for i, p in enumerate(self.pods)}
        self.packs = sorted(
            (c for c in self.constraints if isinstance(c, Pack)),
            key=lambda c: (-len(c.pods), c.label, c.pods),
        )
        self.instance_packs = [c for c in self.constraints if isinstance(c, InstancePack)]
        self.separates = [c for c in self.constraints if isinstance(c, Separate)]
        self.spreads = [c for c in self.constraints if isinstance(c, Spread) and c.required]
        biggest: dict[str, int] = {}
        for node in self.nodes:
            for resource, amount in node.allocatable.items():
                biggest[resource] = max(biggest.get(resource, 0), amount)
        self.weight = [_weight(p, biggest) for p in self.pods]
        self.request_keys = [tuple(p.requests.items()) for p in self.pods]
        self.totals = {}
        for free in self.cluster.free:
            for resource, amount in free.items():
                self.totals[resource] = self.totals.get(resource, 0) + max(amount, 0)

    @property
    def nodes(self) -> tuple[Node, ...]:
        return self.cluster.nodes

    @property
    def candidates(self) -> list[NodeSet]:
        return self.filtered.candidates

    def domain_nodes(self, level: Level) -> dict[str, list[int]]:
        """Domain -> its nodes (in name order) at `level`."""
        found = self._domains.get(level)
        if found is None:
            found = {}
            for i, node in enumerate(self.nodes):
                value = node.labels.get(level)
                if value is not None:
                    found.setdefault(value, []).append(i)
            self._domains[level] = found
        return found

    def domain_set(self, level: Level, value: str) -> NodeSet:
        found = self._domain_sets.get((level, value))
        if found is None:
            found = self._domain_sets[(level, value)] = NodeSet.of(
                self.domain_nodes(level).get(value, [])
            )
        return found

    def restrict(self, a: NodeSet, b: NodeSet) -> NodeSet:
        """`a` ∩ `b`, computed once per pair of shared sets."""
        key = (id(a), id(b))
        found = self._restricted.get(key)
        if found is None:
            small, big = (a, b) if len(a) <= len(b) else (b, a)
            found = NodeSet.of([n for n in small.ordered if n in big.members])
            self._restricted[key] = found
            self._keep += (a, b)
        return found

    def by_domain(
        self, nodes: NodeSet, levels: tuple[Level, ...]
    ) -> dict[tuple[str, ...], tuple[int, ...]]:
        """`nodes` by their domains at `levels` (nodes without one of the labels left out)."""
        key = (id(nodes), levels)
        found = self._by_domain.get(key)
        if found is None:
            groups: dict[tuple[str, ...], list[int]] = {}
            for n in nodes.ordered:
                labels = self.nodes[n].labels
                values = tuple(labels.get(level) for level in levels)
                if None not in values:
                    groups.setdefault(values, []).append(n)  # type: ignore[arg-type]
            found = self._by_domain[key] = {k: tuple(v) for k, v in groups.items()}
            self._keep.append(nodes)
        return found

    def usable(self, members: Sequence[int], allowed: Sequence[NodeSet]) -> set[int]:
        """The nodes any of `members` may use."""
        distinct = {id(allowed[i]): allowed[i] for i in members}
        out: set[int] = set()
        for nodes in distinct.values():
            out.update(nodes.members)
        return out

    def demand(self, members: Sequence[int]) -> dict[str, int]:
        total: dict[str, int] = {}
        for i in members:
            for resource, amount in self.pods[i].requests.items():
                total[resource] = total.get(resource, 0) + amount
        return total

    def domain_free(
        self,
        members: Sequence[int],
        level: Level,
        allowed: Sequence[NodeSet],
        within: Level | None = None,
    ) -> list[tuple[str, set[int], dict[str, int]]]:
        """(domain, usable nodes, their total free capacity) of each domain at `level`.

        With `within` (the pack's required level), a domain is cut along it: a preferred
        domain only counts inside one required domain, whether or not the labels nest.
        """
        usable = self.usable(members, allowed)
        parts: list[tuple[str, set[int]]] = []
        for value, nodes in sorted(self.domain_nodes(level).items()):
            inside = usable.intersection(nodes)
            if within is None or within == level:
                parts.append((value, inside))
                continue
            by_outer: dict[str, set[int]] = {}
            for n in inside:
                outer = self.nodes[n].labels.get(within)
                if outer is not None:
                    by_outer.setdefault(outer, set()).add(n)
            parts.extend((f"{value} in {outer}", part) for outer, part in sorted(by_outer.items()))
        out = []
        for value, inside in parts:
            if not inside:
                continue
            free: dict[str, int] = {}
            for n in inside:
                for resource, amount in self.cluster.free[n].items():
                    if amount > 0:
                        free[resource] = free.get(resource, 0) + amount
            out.append((value, inside, free))
        return out

    def bottleneck(self, need: Mapping[str, int]) -> str:
        """The resource the request takes the largest share of, over the whole cluster."""
        totals = self.totals
        return max(
            sorted(need), key=lambda r: need[r] / totals[r] if totals.get(r) else float("inf")
        )


def _weight(pod: PodDemand, biggest: Mapping[str, int]) -> float:
    """Size for "decreasing": each request as a share of the largest node's capacity."""
    total = 0.0
    for resource, amount in pod.requests.items():
        if resource != POD_SLOT and biggest.get(resource):
            total += amount / biggest[resource]
    return total
