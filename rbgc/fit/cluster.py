"""The cluster as the search sees it: free capacity, placed pods, and the per-node rules.

Groups are placed one after another; `Cluster.commit` takes a placed group's requests off its
nodes and keeps its pods (labels and anti-affinity terms) for the next groups to respect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rbgc.fit.inventory import Inventory, Node
from rbgc.fit.matching import UNSCHEDULABLE_TAINT, NodeSelectorTerm, PodTerm, Taint, tolerated
from rbgc.fit.model import HONOR, Level, PodDemand, Spread


@dataclass(frozen=True, slots=True)
class Existing:
    """A pod already on a node: running, or placed by an earlier group of this run."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    node: int
    anti_affinity: tuple[PodTerm, ...] = ()  # as stored: matchLabelKeys already merged


@dataclass(frozen=True, slots=True, kw_only=True)
class Rollout:
    """Whether a Deployment role's rolling update can start on what the group left."""

    role: str
    surge: int  # pods the controller adds before it removes any (maxSurge)
    proceeds: bool
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    namespace: str
    name: str
    fits: bool
    assignments: tuple[tuple[str, str], ...] = ()  # (pod, node), sorted by pod
    packs: tuple[tuple[str, Level | None], ...] = ()  # (pack label, level it was satisfied at)
    reason: str | None = None
    rollouts: tuple[Rollout, ...] = ()

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
            Existing(
                p.name,
                p.namespace,
                p.labels,
                index[p.node],
                tuple(t.merged(p.labels) for t in p.anti_affinity),
            )
            for p in inventory.running
        ]
        return cls(inventory.nodes, [inventory.free(n) for n in inventory.nodes], existing)

    def copy(self) -> Cluster:
        return Cluster(self.nodes, [dict(f) for f in self.free], list(self.existing))

    def commit(self, pods: Sequence[PodDemand], assignments: Sequence[tuple[str, str]]) -> None:
        """The placed pods hold their requests, labels and anti-affinity from now on."""
        index = {n.name: i for i, n in enumerate(self.nodes)}
        by_name = {p.name: p for p in pods}
        for pod_name, node_name in assignments:
            pod, node = by_name[pod_name], index[node_name]
            free = self.free[node]
            for resource, amount in pod.requests.items():
                free[resource] = free.get(resource, 0) - amount
            terms = tuple(t.merged(pod.labels) for t in pod.terms.anti_affinity)
            self.existing.append(Existing(pod.name, pod.namespace, pod.labels, node, terms))


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
    if not selected(pod.node_selector, pod.node_affinity, node):
        if any(node.labels.get(k) != v for k, v in pod.node_selector.items()):
            return "do not match the pod's nodeSelector"
        return "do not match the pod's required node affinity"
    return None


def selected(
    node_selector: Mapping[str, str], affinity: Sequence[NodeSelectorTerm], node: Node
) -> bool:
    """The pod's nodeSelector and required node affinity allow `node`
    (`nodeaffinity.GetRequiredNodeAffinity(pod).Match`)."""
    if any(node.labels.get(k) != v for k, v in node_selector.items()):
        return False
    return not affinity or any(t.matches(node.name, node.labels) for t in affinity)


def fits(requests: Mapping[str, int], free: Mapping[str, int]) -> str | None:
    """The first resource `free` lacks for `requests` (None: it fits)."""
    for resource, amount in requests.items():
        if free.get(resource, 0) < amount:
            return resource
    return None


def copies(requests: Mapping[str, int], free: Mapping[str, int]) -> int:
    """How many pods with `requests` fit in `free`."""
    most = None
    for resource, amount in requests.items():
        if amount > 0:
            count = max(free.get(resource, 0), 0) // amount
            most = count if most is None else min(most, count)
    return most or 0


def eligible(nodes: Sequence[Node], pod: PodDemand, spread: Spread) -> dict[int, str]:
    """The nodes (index -> domain) a spread counts for `pod`, as podtopologyspread's PreFilter
    collects them (`calPreFilterState`, filtering.go): nodes that carry every topology key of
    the pod's spread constraints and pass the constraint's node inclusion policies
    (`matchNodeInclusionPolicies`, common.go): `nodeAffinityPolicy: Honor` (the default) keeps
    the nodes the pod's nodeSelector and required node affinity allow, `nodeTaintsPolicy:
    Honor` (default `Ignore`) drops nodes with a NoSchedule / NoExecute taint it does not
    tolerate. Only pods on these nodes are counted, and only their domains are eligible."""
    found: dict[int, str] = {}
    keys = spread.keys or (spread.level,)
    for n, node in enumerate(nodes):
        if any(key not in node.labels for key in keys):
            continue
        if spread.node_affinity_policy == HONOR and not selected(
            pod.node_selector, pod.node_affinity, node
        ):
            continue
        if spread.node_taints_policy == HONOR and tolerated(node.taints, pod.tolerations):
            continue
        found[n] = node.labels[spread.level]
    return found
