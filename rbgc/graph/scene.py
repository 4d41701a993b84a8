"""A bundle's groups as a drawing-neutral scene: what `rbgc graph` draws, in no language.

In: the compiled `Bundle` (its recorded `GroupFacts` and, for the gang PodGroup's size, its
manifests). Out: a `Scene`. Every group is a cluster; its roles are nodes inside one sub-cluster
per wave, waves in start order; a dependency is an edge from the role that must be ready to
the role that waits for it. Whatever binds several roles together (the gang PodGroup, a
coordination rule, a placement rule's pack, spread or separate) is a binding: a node of its
own, linked to every role it binds.

Node ids are made of positions (`g0`, `g0_w1`, `g0_r2`), never of user text, so no renderer has
to escape an id; labels are plain text lines that each renderer escapes for its language.
Order is fixed: groups by namespace and name, roles by wave then name (as `--explain` lists
them), rules as declared.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from rbgc.bundle import Bundle, GroupFacts, PlacementFacts, RoleFacts, Rule


class BindingKind(enum.StrEnum):
    GANG = "gang"  # a gang PodGroup: every pod of the group is scheduled at once, or none
    COORDINATION = "coordination"  # a coordination rule: roles roll out or scale in step
    PACK = "pack"  # a placement rule: the roles' pods in one domain of a tier
    SPREAD = "spread"  # a placement rule: the roles' pods spread over a tier's domains
    SEPARATE = "separate"  # a placement rule: no two of the roles' pods in one domain


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    id: str
    lines: tuple[str, ...]  # the label, one entry per line


@dataclass(frozen=True, slots=True, kw_only=True)
class Wave:
    id: str
    number: int
    roles: tuple[Node, ...]

    @property
    def title(self) -> str:
        return f"wave {self.number}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Binding:
    kind: BindingKind
    node: Node
    roles: tuple[str, ...]  # ids of the role nodes it binds


@dataclass(frozen=True, slots=True, kw_only=True)
class Cluster:
    id: str
    title: str
    waves: tuple[Wave, ...]
    bindings: tuple[Binding, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Edge:
    """`source` must be ready before `target` starts."""

    source: str
    target: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Scene:
    clusters: tuple[Cluster, ...]
    edges: tuple[Edge, ...]


EMPTY_NOTE = "no RoleBasedGroup in the inputs"
TIMES = "\N{MULTIPLICATION SIGN}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def role_lines(role: RoleFacts) -> tuple[str, ...]:
    """A role's label: name, declared workload kind, replicas and pods per replica."""
    shape = f"{_plural(role.replicas, 'replica')} {TIMES} {_plural(role.size, 'pod')}"
    return (role.name, role.kind, shape)


def _rule_lines(rule: Rule) -> tuple[str, ...]:
    settings = [
        ("maxSkew", rule.max_skew),
        ("partition", rule.partition),
        ("maxUnavailable", rule.max_unavailable),
        ("scaling maxSkew", rule.scaling_max_skew),
    ]
    shown = [f"{name} {value}" for name, value in settings if value is not None]
    return (f"coordination {rule.name}", *shown)


def _placement_lines(rule: PlacementFacts) -> tuple[str, ...]:
    """`pack` / `spread` / `separate`, then its levels by tier name (node label key if none)."""
    names = {label: name for name, label in rule.tiers}
    required = names.get(rule.required, rule.required) if rule.required else None
    preferred = [names.get(level, level) for level in rule.preferred]
    if rule.kind == "pack":
        lines = [f"pack in one {required}" if required else "pack"]
        if preferred:
            lines.append("prefer " + " > ".join(preferred))
        return tuple(lines)
    level = required or preferred[0]
    how = "required" if required else "preferred"
    if rule.kind == "spread":
        return (f"spread over {level}", f"maxSkew {rule.max_skew}, {how}")
    return (f"separate by {level}", how)


def _gang_pods(bundle: Bundle, group: GroupFacts) -> int:
    """The PodGroup's minMember as emitted; the group's pods if the object does not say."""
    for m in bundle.manifests:
        if (m.kind, m.namespace, m.name) == ("PodGroup", group.namespace, group.pod_group):
            value = (m.body.get("spec") or {}).get("minMember")
            if isinstance(value, int):
                return value
    return sum(r.pods for r in group.roles)


def _cluster(bundle: Bundle, group: GroupFacts, index: int) -> tuple[Cluster, list[Edge]]:
    gid = f"g{index}"
    ordered = sorted(group.roles, key=lambda r: (r.wave, r.name))
    ids = {r.name: f"{gid}_r{i}" for i, r in enumerate(ordered)}
    waves = []
    for number in sorted({r.wave for r in ordered}):
        members = [r for r in ordered if r.wave == number]
        nodes = tuple(Node(id=ids[r.name], lines=role_lines(r)) for r in members)
        waves.append(Wave(id=f"{gid}_w{number}", number=number, roles=nodes))
    edges = [
        Edge(source=ids[dep], target=ids[r.name])
        for r in ordered
        for dep in sorted(r.depends_on, key=lambda d: ids.get(d, d))
        if dep in ids
    ]
    bindings = []
    if group.pod_group is not None:
        lines = (
            f"gang PodGroup {group.pod_group}",
            f"{_gang_pods(bundle, group)} pods start together",
        )
        bindings.append(
            Binding(
                kind=BindingKind.GANG,
                node=Node(id=f"{gid}_gang", lines=lines),
                roles=tuple(ids[r.name] for r in ordered),
            )
        )
    for i, rule in enumerate(group.rules):
        bindings.append(
            Binding(
                kind=BindingKind.COORDINATION,
                node=Node(id=f"{gid}_c{i}", lines=_rule_lines(rule)),
                roles=tuple(ids[name] for name in rule.roles if name in ids),
            )
        )
    for i, placed in enumerate(group.placement):
        bindings.append(
            Binding(
                kind=BindingKind(placed.kind),
                node=Node(id=f"{gid}_p{i}", lines=_placement_lines(placed)),
                roles=tuple(ids[name] for name in placed.roles if name in ids),
            )
        )
    title = group.key if group.set_name is None else f"{group.key} (set {group.set_name})"
    return Cluster(id=gid, title=title, waves=tuple(waves), bindings=tuple(bindings)), edges


def scene_of(bundle: Bundle) -> Scene:
    clusters = []
    edges: list[Edge] = []
    groups = sorted(bundle.groups, key=lambda g: (g.namespace, g.name))
    for index, group in enumerate(groups):
        cluster, found = _cluster(bundle, group, index)
        clusters.append(cluster)
        edges += found
    return Scene(clusters=tuple(clusters), edges=tuple(edges))
