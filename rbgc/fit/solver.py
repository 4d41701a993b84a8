"""Place one group, all of its pods or none: a deterministic search, as a gang scheduler would.

1. Filter: per pod, the nodes it may use on its own (nodeName, unschedulable, taints, node
   selector and affinity, free resources, terms towards running pods). A pod with none ends
   the search: the reason counts the nodes each filter removed.
2. Packs: a backtracking choice of one domain per `Pack` (largest first), level by level in
   the pack's order (preferred levels first, then the required one, so the first answer found
   uses the best tier each pack can get); at one level, domains whose total free capacity
   cannot hold the pack are skipped and the others are tried tightest first (best fit, ties by
   name), which keeps large domains for later groups.
3. Leaf: first-fit decreasing. Units (one pod, or one instance of an `InstancePack`) go
   largest first onto the first node, in name order, that keeps every constraint (resources,
   `Separate`, `Spread` by Kubernetes' incremental skew rule, least-loaded domain first).
   An instance tries its domains in name order and is undone when one of its pods has no room.
   When a pod is left without room, the leaf runs once more with the units that may use the
   fewest nodes first (a pod that can go anywhere no longer takes the only node another has).

The search is bounded: `MAX_DOMAINS` domains per pack and level (the tightest ones that
hold the pack), `MAX_LEAVES` complete attempts in all; when it fails, `explain` names the
tightest constraint it can prove unsatisfiable and by how much.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import cast

from rbgc.fit.inventory import Inventory, Node
from rbgc.fit.matching import (
    UNSCHEDULABLE_TAINT,
    LabelSelector,
    PodTerm,
    Requirement,
    Taint,
    tolerated,
)
from rbgc.fit.model import (
    Avoid,
    Constraint,
    Exclusive,
    InstancePack,
    Level,
    Near,
    Pack,
    PodDemand,
    Problem,
    Separate,
    Spread,
)
from rbgc.fit.quantity import show
from rbgc.fit.resources import POD_SLOT
from rbgc.k8s import conventions as cv

MAX_LEAVES = 256  # complete placement attempts per group
MAX_DOMAINS = 16  # domains tried per pack and level, so failing tiers cannot starve broader ones


@dataclass(frozen=True, slots=True)
class Existing:
    """A pod already on a node: running, or placed by an earlier group of this run."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    node: int
    anti_affinity: tuple[PodTerm, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    namespace: str
    name: str
    fits: bool
    assignments: tuple[tuple[str, str], ...] = ()  # (pod, node), sorted by pod
    packs: tuple[tuple[str, Level | None], ...] = ()  # (pack label, level it was satisfied at)
    reason: str | None = None

    @property
    def tier(self) -> Level | None:
        """The level the group's first (largest) pack was satisfied at."""
        return self.packs[0][1] if self.packs else None


@dataclass(slots=True)
class Cluster:
    """Free capacity and placed pods; groups placed by `fit` are committed one after another."""

    nodes: tuple[Node, ...]
    free: list[dict[str, int]]
    existing: list[Existing] = field(default_factory=list)

    @classmethod
    def of(cls, inventory: Inventory) -> Cluster:
        index = {n.name: i for i, n in enumerate(inventory.nodes)}
        existing = [
            Existing(p.name, p.namespace, p.labels, index[p.node], p.anti_affinity)
            for p in inventory.running
        ]
        return cls(inventory.nodes, [inventory.free(n) for n in inventory.nodes], existing)

    def commit(self, problem: Problem, answer: Answer) -> None:
        index = {n.name: i for i, n in enumerate(self.nodes)}
        pods = {p.name: p for p in problem.pods}
        terms: dict[str, list[PodTerm]] = {p: [] for p in pods}
        for c in problem.constraints:
            if isinstance(c, Avoid):
                for p in c.pods:
                    terms[p].append(c.term)
            elif isinstance(c, Exclusive):
                for p in c.pods:
                    terms[p].append(exclusive_term(c))
        for pod_name, node_name in answer.assignments:
            pod, node = pods[pod_name], index[node_name]
            free = self.free[node]
            for resource, amount in pod.requests.items():
                free[resource] = free.get(resource, 0) - amount
            self.existing.append(
                Existing(pod.name, pod.namespace, pod.labels, node, tuple(terms[pod_name]))
            )


def exclusive_term(c: Exclusive) -> PodTerm:
    """The anti-affinity term an `Exclusive` stands for (upstream's exclusive-topology one)."""
    selector = LabelSelector(
        (
            Requirement(cv.LABEL_GROUP_KEY, "Exists"),
            Requirement(cv.LABEL_GROUP_KEY, "NotIn", (c.group_key,)),
        )
    )
    return PodTerm(selector, c.namespaces, c.level)


def solve(problem: Problem, cluster: Cluster) -> Answer:
    return _Search(_labelled(problem), cluster).run()


def _labelled(problem: Problem) -> Problem:
    """Constraints without a label are named after their roles (`prefill+decode`)."""
    roles = {p.name: p.role for p in problem.pods}
    named: list[Constraint] = []
    for c in problem.constraints:
        if not c.label:
            pods = [p for i in c.instances for p in i] if isinstance(c, InstancePack) else c.pods
            c = replace(c, label="+".join(dict.fromkeys(roles[p] for p in pods)))
        named.append(c)
    return replace(problem, constraints=tuple(named))


def domain_of(node: Node, level: Level | None) -> str | None:
    return None if level is None else node.labels.get(level)


def node_filter(pod: PodDemand, node: Node) -> str | None:
    """Why `pod` may not use `node` whatever else runs there (None: it may)."""
    if pod.node_name is not None and pod.node_name != node.name:
        return "are not the pod's spec.nodeName"
    if node.unschedulable:
        blocked = Taint(UNSCHEDULABLE_TAINT, "", "NoSchedule")
        if tolerated((blocked,), pod.tolerations) is not None:
            return "are unschedulable (cordoned)"
    taint = tolerated(node.taints, pod.tolerations)
    if taint is not None:
        value = f"={taint.value}" if taint.value else ""
        return f"have a taint the pod does not tolerate ({taint.key}{value}:{taint.effect})"
    if any(node.labels.get(k) != v for k, v in pod.node_selector.items()):
        return "do not match the pod's nodeSelector"
    if pod.node_affinity and not any(t.matches(node.name, node.labels) for t in pod.node_affinity):
        return "do not match the pod's required node affinity"
    return None


def fits(requests: Mapping[str, int], free: Mapping[str, int]) -> str | None:
    """The first resource `free` lacks for `requests` (None: it fits)."""
    for resource, amount in requests.items():
        if free.get(resource, 0) < amount:
            return resource
    return None


class _Search:
    def __init__(self, problem: Problem, cluster: Cluster) -> None:
        self.problem = problem
        self.cluster = cluster
        self.pods = problem.pods
        self.nodes = cluster.nodes
        self.index = {p.name: i for i, p in enumerate(self.pods)}
        self.packs = sorted(
            (c for c in problem.constraints if isinstance(c, Pack)),
            key=lambda c: (-len(c.pods), c.label, c.pods),
        )
        self.instance_packs = [c for c in problem.constraints if isinstance(c, InstancePack)]
        self.separates = [c for c in problem.constraints if isinstance(c, Separate)]
        self.spreads = [c for c in problem.constraints if isinstance(c, Spread) and c.required]
        self.domains: dict[Level, dict[str, list[int]]] = {}
        self.matched_domains: dict[PodTerm, set[str | None]] = {}
        self.leaves = 0
        self.rejections: list[Counter[str]] = []
        self.short: list[dict[str, int]] = []  # per pod: resource -> most free on a node
        self.candidates: list[list[int]] = []
        # Pods of one template ask the same of every node: filter each kind once.
        memo: dict[object, tuple[list[int], Counter[str], dict[str, int]]] = {}
        for i in range(len(self.pods)):
            key = self._signature(i)
            if key not in memo:
                memo[key] = self._candidates(i)
            found, rejected, most = memo[key]
            self.candidates.append(found)
            self.rejections.append(rejected)
            self.short.append(most)
        biggest: dict[str, int] = {}
        for node in self.nodes:
            for resource, amount in node.allocatable.items():
                biggest[resource] = max(biggest.get(resource, 0), amount)
        self.weight = [self._weight(p, biggest) for p in self.pods]

    # -- static filtering ---------------------------------------------------------------------

    def domain_nodes(self, level: Level) -> dict[str, list[int]]:
        found = self.domains.get(level)
        if found is None:
            found = {}
            for i, node in enumerate(self.nodes):
                value = node.labels.get(level)
                if value is not None:
                    found.setdefault(value, []).append(i)
            self.domains[level] = found
        return found

    def matched(self, term: PodTerm) -> set[str | None]:
        """The domains (at the term's level) that hold a placed pod the term selects."""
        found = self.matched_domains.get(term)
        if found is None:
            found = {
                self.nodes[e.node].labels.get(term.topology_key)
                for e in self.cluster.existing
                if term.selects(e.namespace, e.labels)
            }
            found.discard(None)
            self.matched_domains[term] = found
        return found

    def _signature(self, i: int) -> object:
        pod = self.pods[i]
        terms = tuple(
            k
            for k, c in enumerate(self.problem.constraints)
            if isinstance(c, Near | Avoid | Exclusive) and pod.name in c.pods
        )
        return (
            tuple(pod.requests.items()),
            pod.node_name,
            tuple(pod.node_selector.items()),
            pod.node_affinity,
            pod.tolerations,
            pod.namespace,
            tuple(pod.labels.items()),
            terms,
        )

    def _candidates(self, i: int) -> tuple[list[int], Counter[str], dict[str, int]]:
        """The nodes pod `i` may use on its own, why the others were refused, and the most
        free of each requested resource on a node that passed every other filter."""
        pod = self.pods[i]
        near = [c for c in self.problem.constraints if isinstance(c, Near) and pod.name in c.pods]
        avoid = [
            c
            for c in self.problem.constraints
            if isinstance(c, Avoid | Exclusive)
            if pod.name in c.pods
        ]
        # placed pods whose required anti-affinity selects this pod: (level, domain) -> a pod
        hostile: dict[tuple[Level, str], Existing] = {}
        for e in self.cluster.existing:
            for t in e.anti_affinity:
                value = self.nodes[e.node].labels.get(t.topology_key)
                if value is not None and t.selects(pod.namespace, pod.labels):
                    hostile.setdefault((t.topology_key, value), e)
        rejected: Counter[str] = Counter()
        most: dict[str, int] = {}
        out = []
        for n, node in enumerate(self.nodes):
            why = node_filter(pod, node) or self._terms(pod, n, near, avoid, hostile)
            if why is None:
                free = self.cluster.free[n]
                lacking = fits(pod.requests, free)
                for resource in pod.requests:
                    most[resource] = max(most.get(resource, 0), free.get(resource, 0))
                if lacking is not None:
                    why = f"have too little free {lacking}"
            if why is None:
                out.append(n)
            else:
                rejected[why] += 1
        return out, rejected, most

    def _terms(
        self,
        pod: PodDemand,
        n: int,
        near: list[Near],
        avoid: list[Avoid | Exclusive],
        hostile: Mapping[tuple[Level, str], Existing],
    ) -> str | None:
        labels = self.nodes[n].labels
        for wanted in near:
            key = wanted.term.topology_key
            if labels.get(key) not in self.matched(wanted.term):
                return f"have no pod its pod affinity needs in their {key} domain"
        for c in avoid:
            term = c.term if isinstance(c, Avoid) else exclusive_term(c)
            if labels.get(term.topology_key) in self.matched(term):
                what = "another group" if isinstance(c, Exclusive) else "a pod its anti-affinity"
                return f"have {what} in their {term.topology_key} domain"
        for key, value in sorted(labels.items()) if hostile else ():
            e = hostile.get((key, value))
            if e is not None:
                return f"have a pod whose anti-affinity excludes it ({e.namespace}/{e.name})"
        return None

    @staticmethod
    def _weight(pod: PodDemand, biggest: Mapping[str, int]) -> float:
        """Size for "decreasing": each request as a share of the largest node's capacity."""
        total = 0.0
        for resource, amount in pod.requests.items():
            if resource != POD_SLOT and biggest.get(resource):
                total += amount / biggest[resource]
        return total

    # -- search -------------------------------------------------------------------------------

    def run(self) -> Answer:
        problem = self.problem
        if not self.pods:
            return Answer(namespace=problem.namespace, name=problem.name, fits=True)
        if all(self.candidates):
            allowed = [set(c) for c in self.candidates]
            found = self._choose(0, allowed, [])
            if found is not None:
                placed, levels = found
                assignments = tuple(
                    sorted((self.pods[i].name, self.nodes[n].name) for i, n in enumerate(placed))
                )
                packs = tuple((p.label, level) for p, level in zip(self.packs, levels, strict=True))
                return Answer(
                    namespace=problem.namespace,
                    name=problem.name,
                    fits=True,
                    assignments=assignments,
                    packs=packs,
                )
        return Answer(
            namespace=problem.namespace, name=problem.name, fits=False, reason=self.explain()
        )

    def _choose(
        self, k: int, allowed: list[set[int]], levels: list[Level | None]
    ) -> tuple[list[int], list[Level | None]] | None:
        if k == len(self.packs):
            # First fit decreasing; when that leaves a pod without room, once more with the
            # pods that may use the fewest nodes first (they lose most to others' choices).
            for constrained_first in (False, True):
                if self.leaves >= MAX_LEAVES:
                    return None
                self.leaves += 1
                placed = _Leaf(self, allowed, constrained_first).run()
                if placed is not None:
                    return placed, levels
            return None
        pack = self.packs[k]
        members = [self.index[p] for p in pack.pods]
        for level in pack.levels:
            if self.leaves >= MAX_LEAVES:
                return None
            if level is None:
                found = self._choose(k + 1, allowed, [*levels, None])
                if found is not None:
                    return found
                continue
            domains = self.pack_domains(members, level, pack.required, allowed)
            for nodes in domains[:MAX_DOMAINS]:
                restricted = list(allowed)
                for i in members:
                    restricted[i] = allowed[i] & nodes
                if all(restricted[i] for i in members):
                    found = self._choose(k + 1, restricted, [*levels, level])
                    if found is not None:
                        return found
                if self.leaves >= MAX_LEAVES:
                    return None
        return None

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
        allowed: Sequence[set[int]],
        within: Level | None = None,
    ) -> list[tuple[str, set[int], dict[str, int]]]:
        """(domain, usable nodes, their total free capacity) of each domain at `level`.

        With `within` (the pack's required level), a domain is cut along it: a preferred
        domain only counts inside one required domain, whether or not the labels nest.
        """
        usable = set().union(*(allowed[i] for i in members))
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

    def pack_domains(
        self,
        members: Sequence[int],
        level: Level,
        within: Level | None,
        allowed: Sequence[set[int]],
    ) -> list[set[int]]:
        need = self.demand(members)
        bottleneck = self.bottleneck(need)
        room = [
            (free.get(bottleneck, 0), value, nodes)
            for value, nodes, free in self.domain_free(members, level, allowed, within)
            if fits(need, free) is None
        ]
        return [nodes for _, _, nodes in sorted(room, key=lambda r: (r[0], r[1]))]

    def bottleneck(self, need: Mapping[str, int]) -> str:
        """The resource the request takes the largest share of, over the whole cluster."""
        totals: dict[str, int] = {}
        for free in self.cluster.free:
            for resource, amount in free.items():
                totals[resource] = totals.get(resource, 0) + max(amount, 0)
        return max(
            sorted(need), key=lambda r: need[r] / totals[r] if totals.get(r) else float("inf")
        )

    # -- why not ------------------------------------------------------------------------------

    def explain(self) -> str:
        for i, found in enumerate(self.candidates):
            if not found:
                return self._no_node(i)
        allowed = [set(c) for c in self.candidates]
        everyone = range(len(self.pods))
        reasons = [
            self._total_short(everyone, allowed),
            *(self._pack_short(p, allowed) for p in self.packs),
            *(self._instance_short(c, allowed) for c in self.instance_packs),
            *(self._spread_short(c, allowed) for c in self.spreads),
            *(self._separate_short(c, allowed) for c in self.separates),
        ]
        found_reasons = [r for r in reasons if r is not None]
        if found_reasons:
            return max(found_reasons, key=lambda r: r[0])[1]
        gave_up = " (search limit reached)" if self.leaves >= MAX_LEAVES else ""
        return (
            "no placement keeps every constraint at once; each holds on its own "
            f"(tried {self.leaves} combination(s) of pack domains{gave_up})"
        )

    def _no_node(self, i: int) -> str:
        pod = self.pods[i]
        parts = []
        for why, count in sorted(self.rejections[i].items(), key=lambda kv: (-kv[1], kv[0])):
            if why.startswith("have too little free "):
                resource = why.removeprefix("have too little free ")
                most = self.short[i].get(resource, 0)
                why += (
                    f" (needs {show(resource, pod.requests[resource])}; the most free on one of "
                    f"them is {show(resource, max(most, 0))})"
                )
            parts.append(f"{count} {why}")
        return (
            f"pod {pod.name} ({pod.role}) fits on none of the {len(self.nodes)} node(s): "
            + "; ".join(parts)
        )

    def _short(
        self, label: str, need: Mapping[str, int], have: Mapping[str, int], where: str, largest: str
    ) -> tuple[float, str] | None:
        worst: tuple[float, str] | None = None
        for resource in sorted(need):
            wanted, got = need[resource], max(have.get(resource, 0), 0)
            if got >= wanted:
                continue
            ratio = (wanted - got) / wanted
            noun = "pod slots" if resource == POD_SLOT else resource
            text = (
                f"{label} need {show(resource, wanted)} {noun} {where}; "
                f"{largest} {show(resource, got)}"
            )
            if worst is None or ratio > worst[0]:
                worst = (ratio, text)
        return worst

    def _total_short(
        self, members: Iterable[int], allowed: Sequence[set[int]]
    ) -> tuple[float, str] | None:
        members = list(members)
        usable = set().union(*(allowed[i] for i in members))
        free: dict[str, int] = {}
        for n in usable:
            for resource, amount in self.cluster.free[n].items():
                free[resource] = free.get(resource, 0) + max(amount, 0)
        return self._short(
            "the group's pods",
            self.demand(members),
            free,
            "in all",
            "the nodes they may use have",
        )

    def _largest(
        self, members: Sequence[int], level: Level, allowed: Sequence[set[int]]
    ) -> tuple[float, str] | None:
        need = self.demand(members)
        options = self.domain_free(members, level, allowed)
        if any(fits(need, free) is None for _, _, free in options):
            return None
        resource = self.bottleneck(need)
        best: dict[str, int] = {}
        for _, _, free in options:
            if free.get(resource, 0) >= best.get(resource, -1):
                best = free
        return self._short_one(resource, need, best, level, len(options))

    def _short_one(
        self,
        resource: str,
        need: Mapping[str, int],
        best: Mapping[str, int],
        level: Level,
        count: int,
    ) -> tuple[float, str] | None:
        wanted, got = need[resource], max(best.get(resource, 0), 0)
        noun = "pod slots" if resource == POD_SLOT else resource
        if count == 0:
            return (
                1.0,
                f"need {show(resource, wanted)} {noun} in one {level} domain; "
                f"no node they may use has the label {level}",
            )
        ratio = max(wanted - got, 0) / wanted if wanted else 0.0
        return (
            ratio,
            f"need {show(resource, wanted)} {noun} in one {level} domain; "
            f"the largest free one has {show(resource, got)}",
        )

    def _pack_short(self, pack: Pack, allowed: Sequence[set[int]]) -> tuple[float, str] | None:
        level = pack.required
        if level is None:
            return None
        members = [self.index[p] for p in pack.pods]
        found = self._largest(members, level, allowed)
        return None if not found else (found[0], f"{pack.label} {found[1]}")

    def _instance_short(
        self, c: InstancePack, allowed: Sequence[set[int]]
    ) -> tuple[float, str] | None:
        worst = None
        for instance in c.instances:
            members = [self.index[p] for p in instance]
            found = self._largest(members, c.level, allowed)
            if found and (worst is None or found[0] > worst[0]):
                name = self.pods[members[0]].instance or instance[0]
                worst = (found[0], f"instance {name} ({c.label}) {found[1]}")
        return worst

    def _spread_short(self, c: Spread, allowed: Sequence[set[int]]) -> tuple[float, str] | None:
        members = [self.index[p] for p in c.pods]
        pod = self.pods[members[0]]
        eligible = _eligible(self.nodes, pod, c.level)
        room: dict[str, int] = dict.fromkeys(eligible, 0)
        usable = set().union(*(allowed[i] for i in members))
        for n in usable:
            value = self.nodes[n].labels.get(c.level)
            if value in room:
                room[value] += _copies(pod.requests, self.cluster.free[n])
        if not room:
            return (1.0, f"{c.label}: no node the pods may use has the label {c.level}")
        low = min(room.values())
        most = sum(min(r, low + c.max_skew) for r in room.values())
        if most >= len(members):
            return None
        tight = min(sorted(room), key=lambda d: room[d])
        return (
            (len(members) - most) / len(members),
            f"{c.label}: {len(members)} pods spread over {len(room)} {c.level} domain(s) with "
            f"maxSkew {c.max_skew}: at most {most} can be placed ({tight} has room for {low})",
        )

    def _separate_short(self, c: Separate, allowed: Sequence[set[int]]) -> tuple[float, str] | None:
        if c.against:
            return None
        members = [self.index[p] for p in c.pods]
        usable = set().union(*(allowed[i] for i in members))
        domains = {self.nodes[n].labels.get(c.level) for n in usable} - {None}
        if len(domains) >= len(members):
            return None
        return (
            (len(members) - len(domains)) / len(members),
            f"{c.label} need {len(members)} separate {c.level} domains; {len(domains)} have room",
        )


def _eligible(nodes: Sequence[Node], pod: PodDemand, level: Level) -> list[str]:
    """Spread domains: those of the nodes the pod's node selector and affinity allow."""
    found = set()
    for node in nodes:
        value = node.labels.get(level)
        if value is None:
            continue
        if any(node.labels.get(k) != v for k, v in pod.node_selector.items()):
            continue
        if pod.node_affinity and not any(
            t.matches(node.name, node.labels) for t in pod.node_affinity
        ):
            continue
        found.add(value)
    return sorted(found)


def _copies(requests: Mapping[str, int], free: Mapping[str, int]) -> int:
    """How many pods with `requests` fit in `free`."""
    most = None
    for resource, amount in requests.items():
        if amount > 0:
            count = max(free.get(resource, 0), 0) // amount
            most = count if most is None else min(most, count)
    return most or 0


class _Leaf:
    """One first-fit-decreasing attempt with the pack domains fixed."""

    def __init__(
        self, search: _Search, allowed: list[set[int]], constrained_first: bool = False
    ) -> None:
        self.s = search
        self.allowed = allowed
        self.constrained_first = constrained_first
        self.free: dict[int, dict[str, int]] = {}
        self.placed = [-1] * len(search.pods)
        self.undo: list[tuple[int, int]] = []
        pods = search.pods
        self.sep_of: list[list[tuple[int, bool]]] = [[] for _ in pods]
        self.sep_count: list[tuple[Counter[str], Counter[str]]] = []
        for k, c in enumerate(search.separates):
            self.sep_count.append((Counter(), Counter()))
            for p in c.pods:
                self.sep_of[search.index[p]].append((k, True))
            for p in c.against:
                self.sep_of[search.index[p]].append((k, False))
        self.spread_of: list[list[int]] = [[] for _ in pods]
        self.spread_count: list[Counter[str]] = []
        self.spread_min_ok: list[bool] = []
        for k, spread in enumerate(search.spreads):
            first = pods[search.index[spread.pods[0]]]
            eligible = _eligible(search.nodes, first, spread.level)
            counts: Counter[str] = Counter(dict.fromkeys(eligible, 0))
            if spread.counts is not None:
                for e in search.cluster.existing:
                    value = search.nodes[e.node].labels.get(spread.level)
                    if value is not None and value in counts:
                        counts[value] += spread.counts.selects(e.namespace, e.labels)
            self.spread_count.append(counts)
            minimum = spread.min_domains
            self.spread_min_ok.append(minimum is None or len(eligible) >= minimum)
            for p in spread.pods:
                self.spread_of[search.index[p]].append(k)

    def node_free(self, n: int) -> dict[str, int]:
        found = self.free.get(n)
        if found is None:
            found = self.free[n] = dict(self.s.cluster.free[n])
        return found

    def units(self) -> list[tuple[list[int], tuple[Level, ...]]]:
        """Pods placed together: instances (merged where two instance packs overlap, with the
        levels of both) and single pods; largest first."""
        s = self.s
        root = list(range(len(s.pods)))

        def find(i: int) -> int:
            while root[i] != i:
                root[i] = root[root[i]]
                i = root[i]
            return i

        levels: dict[int, set[Level]] = {}
        for c in s.instance_packs:
            for instance in c.instances:
                members = [s.index[p] for p in instance]
                for i in members[1:]:
                    root[find(i)] = find(members[0])
                levels.setdefault(members[0], set()).add(c.level)
        merged: dict[int, set[Level]] = {}
        for i, found in levels.items():
            merged.setdefault(find(i), set()).update(found)
        units: dict[int, list[int]] = {}
        for i in range(len(s.pods)):
            units.setdefault(find(i), []).append(i)

        def order(unit: tuple[list[int], tuple[Level, ...]]) -> tuple[int, float, str]:
            members = unit[0]
            room = min(len(self.allowed[i]) for i in members) if self.constrained_first else 0
            return (room, -sum(s.weight[i] for i in members), s.pods[members[0]].name)

        return sorted(
            ((members, tuple(sorted(merged.get(r, ())))) for r, members in units.items()),
            key=order,
        )

    def run(self) -> list[int] | None:
        for members, levels in self.units():
            if not levels:
                if not self.place_one(members[0], self.allowed[members[0]]):
                    return None
            elif not self.place_instance(members, levels):
                return None
        return self.placed

    def place_instance(self, members: list[int], levels: tuple[Level, ...]) -> bool:
        """All of `members` inside one domain of every level, domains tried in name order."""
        s = self.s
        usable = set().union(*(self.allowed[i] for i in members))
        domains: dict[tuple[str, ...], set[int]] = {}
        for n in usable:
            key = tuple(s.nodes[n].labels.get(level) for level in levels)
            if all(v is not None for v in key):
                domains.setdefault(cast("tuple[str, ...]", key), set()).add(n)
        for _key, inside in sorted(domains.items()):
            mark = len(self.undo)
            if all(self.place_one(i, self.allowed[i] & inside) for i in members):
                return True
            self.rollback(mark)
        return False

    def place_one(self, i: int, nodes: set[int]) -> bool:
        order = [n for n in self.s.candidates[i] if n in nodes]
        if self.spread_of[i]:
            order.sort(key=self.spread_load(i))
        for n in order:
            if self.ok(i, n):
                self.put(i, n)
                return True
        return False

    def spread_load(self, i: int) -> Callable[[int], tuple[int, int]]:
        s = self.s

        def key(n: int) -> tuple[int, int]:
            load = 0
            for k in self.spread_of[i]:
                value = s.nodes[n].labels.get(s.spreads[k].level)
                load += self.spread_count[k].get(value, 0) if value is not None else 0
            return (load, n)

        return key

    def ok(self, i: int, n: int) -> bool:
        s = self.s
        if fits(s.pods[i].requests, self.free.get(n) or s.cluster.free[n]) is not None:
            return False
        labels = s.nodes[n].labels
        for k, mine in self.sep_of[i]:
            c = s.separates[k]
            value = labels.get(c.level)
            if value is None:
                continue
            own, other = self.sep_count[k]
            if not c.against:
                if own[value] > 0:
                    return False
            elif (other if mine else own)[value] > 0:
                return False
        for k in self.spread_of[i]:
            spread = s.spreads[k]
            value = labels.get(spread.level)
            counts = self.spread_count[k]
            if value is None or value not in counts:
                return False
            low = min(counts.values()) if self.spread_min_ok[k] else 0
            if counts[value] + 1 - low > spread.max_skew:
                return False
        return True

    def put(self, i: int, n: int) -> None:
        self.move(i, n, +1)
        self.placed[i] = n
        self.undo.append((i, n))

    def rollback(self, mark: int) -> None:
        while len(self.undo) > mark:
            i, n = self.undo.pop()
            self.move(i, n, -1)
            self.placed[i] = -1

    def move(self, i: int, n: int, sign: int) -> None:
        s = self.s
        free = self.node_free(n)
        for resource, amount in s.pods[i].requests.items():
            free[resource] = free.get(resource, 0) - sign * amount
        labels = s.nodes[n].labels
        for k, mine in self.sep_of[i]:
            value = labels.get(s.separates[k].level)
            if value is not None:
                self.sep_count[k][0 if mine else 1][value] += sign
        for k in self.spread_of[i]:
            value = labels.get(s.spreads[k].level)
            if value is not None:
                self.spread_count[k][value] += sign
