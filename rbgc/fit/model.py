"""The placement problem `rbgc fit` solves: pods with their node requirements, and constraints.

A level is a node label key (`nvidia.com/gpu.clique`, `kubernetes.io/hostname`,
`topology.kubernetes.io/zone`, ...); a domain is one value of it. Nodes without the label
belong to no domain of that level. The constraint kinds map 1:1 onto the rules a placement
document states (KEP-473's `pack`, rbgc's `spread` and `separate`), onto instance packing and
onto exclusive topology; today `constraints.py` derives them from the compiled pod templates.

- `Pack`: all `pods` in one domain; tried at each `preferred` level in order, then at
  `required` (None: anywhere, once the preferred levels failed). The answer reports the level
  each pack was satisfied at.
- `Spread`: among the eligible domains of `level`, the number of matching pods per domain
  differs by at most `max_skew` (Kubernetes' `DoNotSchedule` rule, `minDomains` included).
- `Separate`: no pod of `pods` shares a domain of `level` with another pod of `against`
  (`against` empty: with another pod of `pods`).
- `InstancePack`: each instance's pods (one LWS group) in one domain of `level`.
- `Exclusive`: `pods` share no domain of `level` with a pod of another group.
- `Near` / `Avoid`: a required pod (anti-)affinity term towards pods outside the group
  (running pods and groups placed before).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from rbgc.diagnostics import Span
from rbgc.fit.matching import NodeSelectorTerm, PodTerm, Toleration

Level = str


@dataclass(frozen=True, slots=True, kw_only=True)
class PodDemand:
    """One pod the bundle will create, and what it needs from a node."""

    name: str
    role: str
    namespace: str
    labels: Mapping[str, str]
    requests: Mapping[str, int]  # scheduler units (cpu in millicores), `pods: 1` included
    node_name: str | None = None
    node_selector: Mapping[str, str] = field(default_factory=dict)
    node_affinity: tuple[NodeSelectorTerm, ...] = ()  # ORed; () means any node
    tolerations: tuple[Toleration, ...] = ()
    instance: str | None = None  # the LWS group (`{lws}/{index}`) the pod belongs to
    span: Span | None = None  # the pod template in the user's text


@dataclass(frozen=True, slots=True, kw_only=True)
class Pack:
    pods: tuple[str, ...]
    required: Level | None
    preferred: tuple[Level, ...] = ()
    label: str = ""

    @property
    def levels(self) -> tuple[Level | None, ...]:
        """Levels to try, best first; `None` is "anywhere"."""
        out: list[Level | None] = []
        for level in (*self.preferred, self.required):
            if level not in out:
                out.append(level)
        return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class Spread:
    pods: tuple[str, ...]
    level: Level
    max_skew: int = 1
    required: bool = True
    min_domains: int | None = None
    counts: PodTerm | None = None  # running pods this selects count too (Kubernetes does)
    label: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Separate:
    pods: tuple[str, ...]
    level: Level
    against: tuple[str, ...] = ()
    label: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class InstancePack:
    instances: tuple[tuple[str, ...], ...]
    level: Level
    label: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Exclusive:
    pods: tuple[str, ...]
    level: Level
    group_key: str  # the pods' own group-unique-key: pods with another value are foreign
    namespaces: frozenset[str] | None = None  # where foreign pods count (None: everywhere)
    label: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Near:
    pods: tuple[str, ...]
    term: PodTerm
    label: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Avoid:
    pods: tuple[str, ...]
    term: PodTerm
    label: str = ""


Constraint = Pack | Spread | Separate | InstancePack | Exclusive | Near | Avoid


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One group to place: all of its pods or none."""

    namespace: str
    name: str
    pods: tuple[PodDemand, ...]
    constraints: tuple[Constraint, ...] = ()

    def required(self) -> tuple[Constraint, ...]:
        return tuple(c for c in self.constraints if not isinstance(c, Spread) or c.required)
