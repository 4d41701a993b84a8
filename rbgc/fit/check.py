"""An independent re-check of a placement against every required constraint.

Written apart from the solver on purpose (no shared search code, only Kubernetes' matching
rules from `matching.py`): whatever `solver.solve` answers is verified here by the tests,
straight from the inventory, the running pods and the problem, in the plainest terms.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rbgc.fit.inventory import Inventory, Node
from rbgc.fit.matching import (
    BLOCKING_EFFECTS,
    UNSCHEDULABLE_TAINT,
    PodTerm,
    Taint,
)
from rbgc.fit.model import (
    Avoid,
    Exclusive,
    InstancePack,
    Near,
    Pack,
    PodDemand,
    Problem,
    Separate,
    Spread,
)
from rbgc.k8s import conventions as cv


@dataclass(frozen=True, slots=True)
class Placed:
    """A pod on a node, for the check: running, placed earlier, or placed by the answer."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    node: str
    requests: Mapping[str, int]
    anti_affinity: tuple[PodTerm, ...] = ()


def violations(
    problem: Problem,
    inventory: Inventory,
    assignments: Sequence[tuple[str, str]],
    earlier: Sequence[Placed] = (),
) -> list[str]:
    """Every required constraint the placement breaks, in words ([] when it holds)."""
    nodes = {n.name: n for n in inventory.nodes}
    pods = {p.name: p for p in problem.pods}
    where = dict(assignments)
    out: list[str] = []
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
    out += _capacity(nodes, others, mine)
    for pod in problem.pods:
        out += _node_rules(pod, nodes[where[pod.name]])
        for other in others:
            for term in other.anti_affinity:
                if term.selects(pod.namespace, pod.labels) and _same(
                    nodes, other.node, where[pod.name], term.topology_key
                ):
                    out.append(
                        f"{pod.name} is next to {other.name}, whose anti-affinity forbids it"
                    )
    for c in problem.constraints:
        out += _constraint(c, pods, nodes, where, others)
    return out


def _same(nodes: Mapping[str, Node], a: str, b: str, level: str) -> bool:
    value = nodes[a].labels.get(level)
    return value is not None and value == nodes[b].labels.get(level)


def _capacity(
    nodes: Mapping[str, Node], others: Sequence[Placed], mine: Sequence[Placed]
) -> list[str]:
    """Nodes the group's pods take more of a resource on than the node has.

    Only resources the group asks for, on nodes it uses: an inventory may already show a node
    over-committed by its running pods, which the placement did not cause.
    """
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


def _node_rules(pod: PodDemand, node: Node) -> list[str]:
    out = []
    if pod.node_name is not None and node.name != pod.node_name:
        out.append(f"{pod.name} is not on its spec.nodeName")
    taints = list(node.taints)
    if node.unschedulable:
        taints.append(Taint(UNSCHEDULABLE_TAINT, "", "NoSchedule"))
    for taint in taints:
        if taint.effect in BLOCKING_EFFECTS and not any(
            t.tolerates(taint) for t in pod.tolerations
        ):
            out.append(f"{pod.name} is on {node.name} with untolerated taint {taint.key}")
    for key, value in pod.node_selector.items():
        if node.labels.get(key) != value:
            out.append(f"{pod.name} is on {node.name}, which does not match nodeSelector {key}")
    if pod.node_affinity and not any(t.matches(node.name, node.labels) for t in pod.node_affinity):
        out.append(f"{pod.name} is on {node.name}, outside its required node affinity")
    return out


def _constraint(
    c: object,
    pods: Mapping[str, PodDemand],
    nodes: Mapping[str, Node],
    where: Mapping[str, str],
    others: Sequence[Placed],
) -> list[str]:
    def value(pod: str, level: str) -> str | None:
        return nodes[where[pod]].labels.get(level)

    out: list[str] = []
    if isinstance(c, Pack):
        if c.required is not None:
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
    elif isinstance(c, Spread) and c.required:
        out += _spread(c, pods, nodes, where, others)
    elif isinstance(c, Exclusive):
        for p in c.pods:
            for other in others:
                foreign = other.labels.get(cv.LABEL_GROUP_KEY)
                in_scope = c.namespaces is None or other.namespace in c.namespaces
                if foreign is not None and foreign != c.group_key and in_scope:
                    if _same(nodes, other.node, where[p], c.level):
                        out.append(f"exclusive: {p} shares a {c.level} domain with {other.name}")
    elif isinstance(c, Near):
        for p in c.pods:
            if not any(
                c.term.selects(o.namespace, o.labels)
                and _same(nodes, o.node, where[p], c.term.topology_key)
                for o in others
            ):
                out.append(f"affinity: {p} has no matching pod in its domain")
    elif isinstance(c, Avoid):
        for p in c.pods:
            for o in others:
                if c.term.selects(o.namespace, o.labels) and _same(
                    nodes, o.node, where[p], c.term.topology_key
                ):
                    out.append(f"anti-affinity: {p} shares a domain with {o.name}")
    return out


def _spread(
    c: Spread,
    pods: Mapping[str, PodDemand],
    nodes: Mapping[str, Node],
    where: Mapping[str, str],
    others: Sequence[Placed],
) -> list[str]:
    first = pods[c.pods[0]]
    eligible = set()
    for node in nodes.values():
        if c.level not in node.labels:
            continue
        if any(node.labels.get(k) != v for k, v in first.node_selector.items()):
            continue
        if first.node_affinity and not any(
            t.matches(node.name, node.labels) for t in first.node_affinity
        ):
            continue
        eligible.add(node.labels[c.level])
    before = Counter(dict.fromkeys(eligible, 0))
    if c.counts is not None:
        for o in others:
            domain = nodes[o.node].labels.get(c.level) if o.node in nodes else None
            if domain in eligible and c.counts.selects(o.namespace, o.labels):
                before[domain] += 1
    counts = Counter(before)
    out = []
    for p in c.pods:
        domain = nodes[where[p]].labels.get(c.level)
        if domain not in eligible:
            out.append(f"spread {c.label}: {p} is on a node outside the eligible {c.level} domains")
        else:
            counts[domain] += 1
    if counts:
        floor = c.min_domains is not None and len(eligible) < c.min_domains

        def skew(found: Counter[str]) -> int:
            return max(found.values()) - (0 if floor else min(found.values()))

        # Kubernetes checks each pod as it lands: a skew the running pods already had may stay.
        allowed = max(c.max_skew, skew(before))
        if skew(counts) > allowed:
            out.append(f"spread {c.label}: skew {skew(counts)} > {allowed}")
    return out
