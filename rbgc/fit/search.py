"""Place one group, all of its pods or none: a deterministic search, as a gang scheduler would.

1. Resolve: each required pod affinity against the cluster (`affinity.py`); the placement
   rules next to what the pods' own terms say (a rule's pack replaces the pod-affinity pack it
   was lowered to, as it knows the tiers to try; the pods' own spread and separation replace
   the rule's, as they know what the scheduler counts).
2. Filter: per pod, the nodes it may use on its own (`filtering.py`). A pod with none ends the
   search: the reason counts the nodes each filter removed.
3. Packs: a backtracking choice of one domain per `Pack` (largest first), level by level in
   the pack's order (preferred levels first, then the required one, so the first answer found
   uses the best tier each pack can get); at one level, domains whose total free capacity
   cannot hold the pack are skipped and the others are tried tightest first (best fit, ties by
   name), which keeps large domains for later groups.
4. Leaf (`leaf.py`): first-fit decreasing; when a pod is left without room, once more with
   the units that may use the fewest nodes first (a pod that can go anywhere no longer takes
   the only node another has).

The search is bounded: `MAX_DOMAINS` domains per pack and level (the tightest ones that hold
the pack), `MAX_LEAVES` complete attempts in all; when it fails, `explain.py` names the
tightest constraint it can prove unsatisfiable and by how much.
"""

from __future__ import annotations

from dataclasses import replace

from rbgc.fit.affinity import resolve
from rbgc.fit.cluster import Answer, Cluster, fits
from rbgc.fit.context import Context
from rbgc.fit.explain import explain
from rbgc.fit.filtering import NodeSet, filter_pods
from rbgc.fit.leaf import Leaf
from rbgc.fit.model import Constraint, InstancePack, Level, Pack, Problem, Separate, Spread

MAX_LEAVES = 256  # complete placement attempts per group
MAX_DOMAINS = 16  # domains tried per pack and level, so failing tiers cannot starve broader ones


def solve(problem: Problem, cluster: Cluster) -> Answer:
    def no(reason: str) -> Answer:
        return Answer(namespace=problem.namespace, name=problem.name, fits=False, reason=reason)

    if not problem.pods:
        return Answer(namespace=problem.namespace, name=problem.name, fits=True)
    resolved = resolve(problem.derived, cluster)
    if resolved.reason is not None:
        return no(resolved.reason)
    constraints = _labelled(problem, _combined(resolved.constraints, problem.rules))
    ctx = Context(
        problem.pods, cluster, constraints, filter_pods(problem.pods, constraints, cluster)
    )
    search = _Search(ctx)
    if all(ctx.candidates):
        found = search.choose(0, list(ctx.candidates), [])
        if found is not None:
            placed, levels = found
            assignments = tuple(
                sorted((ctx.pods[i].name, ctx.nodes[n].name) for i, n in enumerate(placed))
            )
            packs = tuple((p.label, level) for p, level in zip(ctx.packs, levels, strict=True))
            return Answer(
                namespace=problem.namespace,
                name=problem.name,
                fits=True,
                assignments=assignments,
                packs=packs,
            )
    return no(explain(ctx, search.leaves, search.leaves >= MAX_LEAVES, search.best))


def _combined(derived: tuple[Constraint, ...], rules: tuple[Constraint, ...]) -> list[Constraint]:
    """The constraints to keep: one of each pair that says the same thing."""
    ruled_packs = {(frozenset(c.pods), c.required) for c in rules if isinstance(c, Pack)}
    ruled_instances = {
        (frozenset(map(frozenset, c.instances)), c.level)
        for c in rules
        if isinstance(c, InstancePack)
    }
    own = {
        (type(c), frozenset(c.pods), c.level)
        for c in derived
        if isinstance(c, Spread | Separate) and not (isinstance(c, Separate) and c.against)
    }
    out: list[Constraint] = []
    rules = tuple(c for c in rules if (c.instances if isinstance(c, InstancePack) else c.pods))
    for c in derived:
        if isinstance(c, Pack) and (frozenset(c.pods), c.required) in ruled_packs:
            continue
        if isinstance(c, InstancePack):
            if (frozenset(map(frozenset, c.instances)), c.level) in ruled_instances:
                continue
        out.append(c)
    for c in rules:
        if isinstance(c, Spread | Separate) and (type(c), frozenset(c.pods), c.level) in own:
            continue
        out.append(c)
    return out


def _labelled(problem: Problem, constraints: list[Constraint]) -> tuple[Constraint, ...]:
    """Constraints without a label are named after their roles (`prefill+decode`)."""
    roles = {p.name: p.role for p in problem.pods}
    named: list[Constraint] = []
    for c in constraints:
        if not c.label:
            pods = [p for i in c.instances for p in i] if isinstance(c, InstancePack) else c.pods
            c = replace(c, label="+".join(dict.fromkeys(roles[p] for p in pods)))
        named.append(c)
    return tuple(named)


class _Search:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.leaves = 0
        self.best: Leaf | None = None  # the attempt that placed the most pods

    def choose(
        self, k: int, allowed: list[NodeSet], levels: list[Level | None]
    ) -> tuple[list[int], list[Level | None]] | None:
        ctx = self.ctx
        if k == len(ctx.packs):
            # First fit decreasing; when that leaves a pod without room, once more with the
            # pods that may use the fewest nodes first (they lose most to others' choices).
            for constrained_first in (False, True):
                if self.leaves >= MAX_LEAVES:
                    return None
                self.leaves += 1
                leaf = Leaf(ctx, allowed, constrained_first)
                placed = leaf.run()
                if placed is not None:
                    return placed, levels
                if self.best is None or _count(leaf) > _count(self.best):
                    self.best = leaf
            return None
        pack = ctx.packs[k]
        members = [ctx.index[p] for p in pack.pods]
        for level in pack.levels:
            if self.leaves >= MAX_LEAVES:
                return None
            if level is None:
                found = self.choose(k + 1, allowed, [*levels, None])
                if found is not None:
                    return found
                continue
            for nodes in self.pack_domains(members, level, pack.required, allowed)[:MAX_DOMAINS]:
                restricted = list(allowed)
                for i in members:
                    restricted[i] = ctx.restrict(allowed[i], nodes)
                if all(restricted[i] for i in members):
                    found = self.choose(k + 1, restricted, [*levels, level])
                    if found is not None:
                        return found
                if self.leaves >= MAX_LEAVES:
                    return None
        return None

    def pack_domains(
        self,
        members: list[int],
        level: Level,
        within: Level | None,
        allowed: list[NodeSet],
    ) -> list[NodeSet]:
        ctx = self.ctx
        need = ctx.demand(members)
        bottleneck = ctx.bottleneck(need)
        room = [
            (free.get(bottleneck, 0), value, nodes)
            for value, nodes, free in ctx.domain_free(members, level, allowed, within)
            if fits(need, free) is None
        ]
        return [NodeSet.of(list(nodes)) for _, _, nodes in sorted(room, key=lambda r: (r[0], r[1]))]


def _count(leaf: Leaf) -> int:
    return sum(n >= 0 for n in leaf.placed)
