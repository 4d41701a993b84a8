"""Why a group does not fit, in words a user acts on: what binds, and by how much.

Each bound below is a proof that no placement exists, with its size (the share of the demand
it cannot meet); the largest wins:

- a pod no node takes on its own, with the count of nodes each filter removed and, per
  resource, the most free on a node that passed every other filter;
- a kind of pod (one template's pods, which ask the same of every node) against how many of
  them the nodes they may use hold (`only 4 of 5 pods fit: each needs 6 nvidia.com/gpu and a
  node holds one`);
- the group's total against what the nodes its pods may use have free;
- a pack or an instance against the largest free domain; a spread against the most pods the
  domains can hold within `maxSkew`; a separation against the domains with room.

When none proves it, the search's best attempt is described: how many pods it placed and
which one then found no node, and why. Figures of one resource are shown in one form.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from rbgc.fit.cluster import copies, eligible
from rbgc.fit.context import Context
from rbgc.fit.filtering import NodeSet
from rbgc.fit.leaf import Leaf
from rbgc.fit.model import InstancePack, Level, Pack, Separate, Spread
from rbgc.fit.resources import POD_SLOT
from rbgc.k8s.quantity import show_all

Reason = tuple[float, str]  # (share of the demand that cannot be met, the words)


def explain(ctx: Context, leaves: int, gave_up: bool, best: Leaf | None) -> str:
    for i, found in enumerate(ctx.candidates):
        if not found:
            return no_node(ctx, i)
    allowed = ctx.candidates
    reasons = [
        total_short(ctx, range(len(ctx.pods)), allowed),
        *kinds_short(ctx, allowed),
        *(pack_short(ctx, p, allowed) for p in ctx.packs),
        *(instance_short(ctx, c, allowed) for c in ctx.instance_packs),
        *(spread_short(ctx, c, allowed) for c in ctx.spreads),
        *(separate_short(ctx, c, allowed) for c in ctx.separates),
    ]
    found_reasons = [r for r in reasons if r is not None]
    if found_reasons:
        return max(found_reasons, key=lambda r: r[0])[1]
    tried = f"after {leaves} attempt(s)" + (", the search's limit" if gave_up else "")
    if best is None or best.stuck is None:
        return f"no placement keeps every constraint at once; each holds on its own ({tried})"
    return f"{stuck(ctx, best)} ({tried})"


def _noun(resource: str) -> str:
    return "pod slots" if resource == POD_SLOT else resource


def no_node(ctx: Context, i: int) -> str:
    pod = ctx.pods[i]
    refused = ctx.filtered.refusals[i]
    parts = []
    for why, count in sorted(refused.counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if why.startswith("have too little free "):
            resource = why.removeprefix("have too little free ")
            most = refused.most_free.get(resource)
            if most is None:
                why += f" (needs {show_all(resource, pod.requests[resource])[0]})"
            else:
                need, got = show_all(resource, pod.requests[resource], max(most, 0))
                why += (
                    f" (needs {need}; at most {got} free on a node that passes the other filters)"
                )
        parts.append(f"{count} {why}")
    return (
        f"pod {pod.name} ({pod.role}) fits on none of the {len(ctx.nodes)} node(s): "
        + "; ".join(parts)
    )


def kinds_short(ctx: Context, allowed: Sequence[NodeSet]) -> list[Reason | None]:
    """Per kind of pod (same requests, same nodes): how many of them the nodes can hold."""
    kinds: dict[tuple[object, int], list[int]] = {}
    for i in range(len(ctx.pods)):
        kinds.setdefault((ctx.request_keys[i], id(allowed[i])), []).append(i)
    out: list[Reason | None] = []
    for members in kinds.values():
        pod = ctx.pods[members[0]]
        nodes = allowed[members[0]].ordered
        held = [copies(pod.requests, ctx.cluster.free[n]) for n in nodes]
        room = sum(held)
        if room >= len(members):
            continue
        binding = _binding(pod.requests, [ctx.cluster.free[n] for n in nodes])
        need = show_all(binding, pod.requests[binding])[0]
        if len(set(held)) == 1:
            each = "one" if held[0] == 1 else str(held[0])
            hold = f"a node holds {each}"
        else:
            hold = f"the {len(nodes)} node(s) they may use hold {room} in all"
        roles = " and ".join(dict.fromkeys(ctx.pods[i].role for i in members))
        out.append(
            (
                (len(members) - room) / len(members),
                f"only {room} of {len(members)} pods ({roles}) fit: each needs {need} "
                f"{_noun(binding)} and {hold}",
            )
        )
    return out


def _binding(requests: Mapping[str, int], frees: Sequence[Mapping[str, int]]) -> str:
    """The resource that limits the copies on most nodes (ties: the scarcer in all)."""
    tally: dict[str, int] = {}
    for free in frees:
        best = min(
            (r for r in requests if requests[r] > 0),
            key=lambda r: (max(free.get(r, 0), 0) // requests[r], r),
        )
        tally[best] = tally.get(best, 0) + 1
    return max(sorted(tally), key=lambda r: (tally[r], r != POD_SLOT))


def _short(
    label: str, need: Mapping[str, int], have: Mapping[str, int], where: str, largest: str
) -> Reason | None:
    worst: Reason | None = None
    for resource in sorted(need):
        wanted, got = need[resource], max(have.get(resource, 0), 0)
        if got >= wanted:
            continue
        ratio = (wanted - got) / wanted
        want_text, got_text = show_all(resource, wanted, got)
        text = f"{label} need {want_text} {_noun(resource)} {where}; {largest} {got_text}"
        if worst is None or ratio > worst[0]:
            worst = (ratio, text)
    return worst


def total_short(ctx: Context, members: Iterable[int], allowed: Sequence[NodeSet]) -> Reason | None:
    members = list(members)
    free: dict[str, int] = {}
    for n in ctx.usable(members, allowed):
        for resource, amount in ctx.cluster.free[n].items():
            free[resource] = free.get(resource, 0) + max(amount, 0)
    return _short(
        "the group's pods", ctx.demand(members), free, "in all", "the nodes they may use have"
    )


def _largest(
    ctx: Context, members: Sequence[int], level: Level, allowed: Sequence[NodeSet]
) -> Reason | None:
    need = ctx.demand(members)
    options = ctx.domain_free(members, level, allowed)
    if any(all(free.get(r, 0) >= a for r, a in need.items()) for _, _, free in options):
        return None
    resource = ctx.bottleneck(need)
    best: dict[str, int] = {}
    for _, _, free in options:
        if free.get(resource, 0) >= best.get(resource, -1):
            best = free
    wanted = need[resource]
    want_text, got_text = show_all(resource, wanted, max(best.get(resource, 0), 0))
    if not options:
        return (
            1.0,
            f"need {want_text} {_noun(resource)} in one {level} domain; "
            f"no node they may use has the label {level}",
        )
    ratio = max(wanted - best.get(resource, 0), 0) / wanted if wanted else 0.0
    return (
        ratio,
        f"need {want_text} {_noun(resource)} in one {level} domain; "
        f"the largest free one has {got_text}",
    )


def pack_short(ctx: Context, pack: Pack, allowed: Sequence[NodeSet]) -> Reason | None:
    if pack.required is None:
        return None
    members = [ctx.index[p] for p in pack.pods]
    found = _largest(ctx, members, pack.required, allowed)
    return None if not found else (found[0], f"{pack.label} {found[1]}")


def instance_short(ctx: Context, c: InstancePack, allowed: Sequence[NodeSet]) -> Reason | None:
    worst = None
    for instance in c.instances:
        members = [ctx.index[p] for p in instance]
        found = _largest(ctx, members, c.level, allowed)
        if found and (worst is None or found[0] > worst[0]):
            name = ctx.pods[members[0]].instance or instance[0]
            worst = (found[0], f"instance {name} ({c.label}) {found[1]}")
    return worst


def spread_short(ctx: Context, c: Spread, allowed: Sequence[NodeSet]) -> Reason | None:
    members = [ctx.index[p] for p in c.pods]
    pod = ctx.pods[members[0]]
    counted = eligible(ctx.nodes, pod, c)
    room: dict[str, int] = dict.fromkeys(sorted(set(counted.values())), 0)
    for n in ctx.usable(members, allowed):
        value = counted.get(n)
        if value is not None:
            room[value] += copies(pod.requests, ctx.cluster.free[n])
    if not room:
        return (1.0, f"{c.label}: no node the pods may use has the label {c.level}")
    floor = len(room) < (c.min_domains or 1)
    low = 0 if floor else min(room.values())
    most = sum(min(r, low + c.max_skew) for r in room.values())
    if most >= len(members):
        return None
    tight = min(sorted(room), key=lambda d: room[d])
    why = (
        f"{len(room)} eligible domain(s) are fewer than minDomains {c.min_domains}, so each "
        f"takes at most {c.max_skew}"
        if floor
        else f"{tight} has room for {low}"
    )
    return (
        (len(members) - most) / len(members),
        f"{c.label}: {len(members)} pods spread over {len(room)} {c.level} domain(s) with "
        f"maxSkew {c.max_skew}: at most {most} can be placed ({why})",
    )


def separate_short(ctx: Context, c: Separate, allowed: Sequence[NodeSet]) -> Reason | None:
    if c.against:
        return None
    members = [ctx.index[p] for p in c.pods]
    domains = {ctx.nodes[n].labels.get(c.level) for n in ctx.usable(members, allowed)} - {None}
    if len(domains) >= len(members):
        return None
    return (
        (len(members) - len(domains)) / len(members),
        f"{c.label} need {len(members)} separate {c.level} domains; {len(domains)} have room",
    )


def stuck(ctx: Context, leaf: Leaf) -> str:
    """The best attempt: how far it got, and why the next pod found no node."""
    assert leaf.stuck is not None
    i = leaf.stuck
    pod = ctx.pods[i]
    placed = sum(n >= 0 for n in leaf.placed)
    head = f"the pods fit one by one but not all at once: {placed} of {len(ctx.pods)} placed, "
    if pod.instance is not None and any(
        pod.name in inst for c in ctx.instance_packs for inst in c.instances
    ):
        return head + (
            f"then instance {pod.instance} ({pod.role}) found no domain with room for all its pods"
        )
    nodes = leaf.allowed[i].ordered
    frees = [leaf.free.get(n, ctx.cluster.free[n]) for n in nodes]
    roomy = [n for n, free in zip(nodes, frees, strict=True) if copies(pod.requests, free) > 0]
    if not roomy:
        resource = _binding(pod.requests, frees)
        most = max((max(f.get(resource, 0), 0) for f in frees), default=0)
        need, got = show_all(resource, pod.requests[resource], most)
        return head + (
            f"then pod {pod.name} ({pod.role}) found no node: it needs {need} "
            f"{_noun(resource)} and the most left on a node it may use is {got}"
        )
    rules = [c.label for c in ctx.separates if pod.name in c.pods or pod.name in c.against]
    rules += [c.label for c in ctx.spreads if pod.name in c.pods]
    kept = ", ".join(dict.fromkeys(rules)) or "its constraints"
    return head + (
        f"then pod {pod.name} ({pod.role}) found no node: the {len(roomy)} with room for it "
        f"would break {kept}"
    )
