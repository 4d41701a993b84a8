"""One complete placement attempt with the pack domains fixed: first-fit decreasing.

Units (one pod, or one instance of an `InstancePack`) go largest first onto the first node,
in name order, that keeps every constraint: resources, `Separate`, `Spread` by
kube-scheduler's incremental skew rule (`existing matching + 1 - global minimum <= maxSkew`,
the global minimum 0 while fewer domains are eligible than `minDomains`; podtopologyspread
`Filter`), a spread's pods trying the least loaded domain first. An instance tries its domains
in name order and is undone when one of its pods has no room.

Speed: nodes that lacked room for a kind of pod stay without room while the attempt only
adds pods, so each (node set, request) keeps a cursor past them; a spread's pods look at one
domain at a time, whose nodes share its counts.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterator, Sequence

from rbgc.fit.cluster import eligible, fits
from rbgc.fit.context import Context
from rbgc.fit.filtering import NodeSet
from rbgc.fit.model import Level


class Leaf:
    def __init__(
        self, ctx: Context, allowed: Sequence[NodeSet], constrained_first: bool = False
    ) -> None:
        self.ctx = ctx
        self.allowed = allowed
        self.constrained_first = constrained_first
        self.free: dict[int, dict[str, int]] = {}  # the nodes this attempt changed
        self.placed = [-1] * len(ctx.pods)
        self.undo: list[tuple[int, int]] = []
        self.cursor: dict[tuple[object, ...], int] = {}
        self.stuck: int | None = None  # the first pod that found no node
        pods = ctx.pods
        self.sep_of: list[list[tuple[int, bool]]] = [[] for _ in pods]
        self.sep_count: list[tuple[Counter[str], Counter[str]]] = []
        for k, c in enumerate(ctx.separates):
            self.sep_count.append((Counter(), Counter()))
            for p in c.pods:
                self.sep_of[ctx.index[p]].append((k, True))
            for p in c.against:
                self.sep_of[ctx.index[p]].append((k, False))
        self.spread_of: list[list[int]] = [[] for _ in pods]
        self.spread_count: list[Counter[str]] = []
        self.spread_floor: list[bool] = []  # the global minimum is 0 (minDomains)
        for k, spread in enumerate(ctx.spreads):
            first = pods[ctx.index[spread.pods[0]]]
            counted = eligible(ctx.nodes, first, spread)
            counts: Counter[str] = Counter(dict.fromkeys(counted.values(), 0))
            if spread.counts is not None:
                for e in ctx.cluster.existing:
                    value = counted.get(e.node)
                    if value is not None and spread.counts.selects(e.namespace, e.labels):
                        counts[value] += 1
            self.spread_count.append(counts)
            minimum = (
                spread.min_domains or 1
            )  # nil minDomains is 1 (filterTopologySpreadConstraints)
            self.spread_floor.append(len(counts) < minimum)
            for p in spread.pods:
                self.spread_of[ctx.index[p]].append(k)

    def units(self) -> list[tuple[list[int], tuple[Level, ...]]]:
        """Pods placed together: instances (merged where two instance packs overlap, with the
        levels of both) and single pods; largest first."""
        ctx = self.ctx
        root = list(range(len(ctx.pods)))

        def find(i: int) -> int:
            while root[i] != i:
                root[i] = root[root[i]]
                i = root[i]
            return i

        levels: dict[int, set[Level]] = {}
        for c in ctx.instance_packs:
            for instance in c.instances:
                members = [ctx.index[p] for p in instance]
                for i in members[1:]:
                    root[find(i)] = find(members[0])
                levels.setdefault(members[0], set()).add(c.level)
        merged: dict[int, set[Level]] = {}
        for i, found in levels.items():
            merged.setdefault(find(i), set()).update(found)
        units: dict[int, list[int]] = {}
        for i in range(len(ctx.pods)):
            units.setdefault(find(i), []).append(i)

        def order(unit: tuple[list[int], tuple[Level, ...]]) -> tuple[int, float, str]:
            members = unit[0]
            room = min(len(self.allowed[i]) for i in members) if self.constrained_first else 0
            return (room, -sum(ctx.weight[i] for i in members), ctx.pods[members[0]].name)

        return sorted(
            ((members, tuple(sorted(merged.get(r, ())))) for r, members in units.items()),
            key=order,
        )

    def run(self) -> list[int] | None:
        for members, levels in self.units():
            if not levels:
                if not self.place_one(members[0], self.allowed[members[0]]):
                    self.stuck = members[0]
                    return None
            elif not self.place_instance(members, levels):
                self.stuck = members[0]
                return None
        return self.placed

    def place_instance(self, members: list[int], levels: tuple[Level, ...]) -> bool:
        """All of `members` inside one domain of every level, domains tried in name order."""
        ctx = self.ctx
        usable = ctx.usable(members, self.allowed)
        domains: set[tuple[str, ...]] = set()
        for n in usable:
            labels = ctx.nodes[n].labels
            key = tuple(labels.get(level) for level in levels)
            if all(v is not None for v in key):
                domains.add(key)  # type: ignore[arg-type]
        for key in sorted(domains):
            mark = len(self.undo)
            if all(self.place_one(i, self._inside(i, levels, key)) for i in members):
                return True
            self.rollback(mark)
        return False

    def _inside(self, i: int, levels: tuple[Level, ...], key: tuple[str, ...]) -> NodeSet:
        nodes = self.allowed[i]
        for level, value in zip(levels, key, strict=True):
            nodes = self.ctx.restrict(nodes, self.ctx.domain_set(level, value))
        return nodes

    def place_one(self, i: int, nodes: NodeSet) -> bool:
        if self.spread_of[i]:
            return self._place_spread(i, nodes)
        for n in self._first_fit(i, nodes.ordered, (id(nodes),)):
            if self._separated(i, n):
                self.put(i, n)
                return True
        return False

    def _first_fit(
        self, i: int, ordered: Sequence[int], where: tuple[object, ...]
    ) -> Iterator[int]:
        """The nodes of `ordered` with room for pod `i`, in order; the cursor skips the
        leading ones that had none before."""
        requests = self.ctx.pods[i].requests
        key = (*where, self.ctx.request_keys[i])
        start = self.cursor.get(key, 0)
        advancing = True
        free, base = self.free, self.ctx.cluster.free
        for pos in range(start, len(ordered)):
            n = ordered[pos]
            if fits(requests, free[n] if n in free else base[n]) is not None:
                if advancing:
                    self.cursor[key] = pos + 1
                continue
            advancing = False
            yield n

    def _place_spread(self, i: int, nodes: NodeSet) -> bool:
        """Least loaded domains first (the sum of the pod's spreads' counts), nodes of equal
        load in name order; a domain whose counts refuse the pod is skipped whole."""
        ctx = self.ctx
        levels = tuple(ctx.spreads[k].level for k in self.spread_of[i])
        groups = ctx.by_domain(nodes, levels)
        loads: dict[int, list[tuple[str, ...]]] = {}
        for key in groups:
            if self._spread_ok(i, key):
                load = sum(
                    self.spread_count[k][v] for k, v in zip(self.spread_of[i], key, strict=True)
                )
                loads.setdefault(load, []).append(key)
        for load in sorted(loads):
            streams = [
                self._first_fit(i, groups[key], (id(nodes), levels, key)) for key in loads[load]
            ]
            for n in heapq.merge(*streams):
                if self._separated(i, n):
                    self.put(i, n)
                    return True
        return False

    def _spread_ok(self, i: int, key: tuple[str, ...]) -> bool:
        for k, value in zip(self.spread_of[i], key, strict=True):
            counts = self.spread_count[k]
            if value not in counts:
                return False  # not an eligible domain
            low = 0 if self.spread_floor[k] else min(counts.values())
            if counts[value] + 1 - low > self.ctx.spreads[k].max_skew:
                return False
        return True

    def _separated(self, i: int, n: int) -> bool:
        labels = self.ctx.nodes[n].labels
        for k, mine in self.sep_of[i]:
            c = self.ctx.separates[k]
            value = labels.get(c.level)
            if value is None:
                continue
            own, other = self.sep_count[k]
            if not c.against:
                if own[value] > 0:
                    return False
            elif (other if mine else own)[value] > 0:
                return False
        return True

    def node_free(self, n: int) -> dict[str, int]:
        found = self.free.get(n)
        if found is None:
            found = self.free[n] = dict(self.ctx.cluster.free[n])
        return found

    def put(self, i: int, n: int) -> None:
        self.move(i, n, +1)
        self.placed[i] = n
        self.undo.append((i, n))

    def rollback(self, mark: int) -> None:
        while len(self.undo) > mark:
            i, n = self.undo.pop()
            self.move(i, n, -1)
            self.placed[i] = -1
        self.cursor.clear()  # room came back: the cursors no longer hold

    def move(self, i: int, n: int, sign: int) -> None:
        ctx = self.ctx
        free = self.node_free(n)
        for resource, amount in ctx.pods[i].requests.items():
            free[resource] = free.get(resource, 0) - sign * amount
        labels = ctx.nodes[n].labels
        for k, mine in self.sep_of[i]:
            value = labels.get(ctx.separates[k].level)
            if value is not None:
                self.sep_count[k][0 if mine else 1][value] += sign
        for k in self.spread_of[i]:
            value = labels.get(ctx.spreads[k].level)
            if value is not None:
                self.spread_count[k][value] += sign
