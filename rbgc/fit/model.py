"""The placement problem `rbgc fit` solves: pods with their own scheduling terms, and rules.

A level is a node label key (`nvidia.com/gpu.clique`, `kubernetes.io/hostname`,
`topology.kubernetes.io/zone`, ...); a domain is one value of it. Nodes without the label
belong to no domain of that level.

Each pod carries its template's required terms as written (`Terms`): pod affinity and
anti-affinity, `DoNotSchedule` spread constraints. `constraints.derive` turns them into the
constraint kinds below, which the search works with; the tests' oracle checks an answer
against the terms themselves, by kube-scheduler's rules. A problem's `rules` are the placement
rules the build recorded (`GroupFacts.placement`) and the cluster enforces:

- `Pack`: all `pods` in one domain; tried at each `preferred` level in order, then at
  `required` (None: anywhere, once the preferred levels failed). The answer reports the level
  each pack was satisfied at.
- `Spread`: among the eligible domains of `level`, the number of matching pods per domain
  differs by at most `max_skew` (Kubernetes' `DoNotSchedule` rule, `minDomains` and the node
  inclusion policies included).
- `Separate`: no pod of `pods` shares a domain of `level` with another pod of `against`
  (`against` empty: with another pod of `pods`).
- `InstancePack`: each instance's pods (one LWS group) in one domain of `level`.

Derived from the pods' terms only:

- `Affinity`: required pod affinity, all `terms` at once (kube-scheduler's rule: one pod must
  match every term); the search resolves it against the cluster into a `Pack`, an
  `InstancePack` or a `Near`, or proves it unsatisfiable.
- `Near`: each of `pods` needs, per term, a placed pod matching every term in its domain.
- `Avoid`: a required anti-affinity term towards pods outside the group (running pods and
  groups placed before); `exclusive` marks upstream's exclusive topology.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from rbgc.diagnostics import Span
from rbgc.fit.matching import LabelSelector, NodeSelectorTerm, PodTerm, Toleration

Level = str
HONOR, IGNORE = "Honor", "Ignore"  # a spread's node inclusion policies


@dataclass(frozen=True, slots=True, kw_only=True)
class SpreadTerm:
    """A `topologySpreadConstraints` entry with `whenUnsatisfiable: DoNotSchedule`."""

    level: str
    max_skew: int
    selector: LabelSelector  # counts pods of the pod's own namespace
    min_domains: int | None = None
    match_label_keys: tuple[str, ...] = ()  # merged with the pod's own label values
    node_affinity_policy: str = HONOR
    node_taints_policy: str = IGNORE


@dataclass(frozen=True, slots=True, kw_only=True)
class Terms:
    """A pod's required inter-pod terms, as written in its template."""

    affinity: tuple[PodTerm, ...] = ()
    anti_affinity: tuple[PodTerm, ...] = ()
    spread: tuple[SpreadTerm, ...] = ()


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
    terms: Terms = Terms()
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
    node_affinity_policy: str = HONOR
    node_taints_policy: str = IGNORE
    # every topology key the pods' spread constraints name: a node lacking one of them is in
    # no domain of any (`nodeLabelsMatchSpreadConstraints`)
    keys: tuple[Level, ...] = ()
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
class Affinity:
    pods: tuple[str, ...]
    terms: tuple[PodTerm, ...]  # merged with the pods' labels: the same for every one of them
    targets: tuple[str, ...] = ()  # the group's pods that match every term
    family: int = 0  # affinities of one written term set (one per instance under matchLabelKeys)
    label: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Near:
    pods: tuple[str, ...]
    terms: tuple[PodTerm, ...]
    label: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Avoid:
    pods: tuple[str, ...]
    term: PodTerm
    exclusive: bool = False  # upstream's exclusive topology: the term keeps other groups out
    label: str = ""


Constraint = Pack | Spread | Separate | InstancePack | Affinity | Near | Avoid
Rule = Pack | Spread | Separate | InstancePack  # what a placement rule becomes


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One group to place: all of its pods or none.

    `derived` holds what `constraints.derive` made of the pods' terms; the search keeps it and
    `rules`, the oracle checks the terms and `rules`."""

    namespace: str
    name: str
    pods: tuple[PodDemand, ...]
    rules: tuple[Rule, ...] = ()
    derived: tuple[Constraint, ...] = ()

    @property
    def constraints(self) -> tuple[Constraint, ...]:
        return (*self.derived, *self.rules)
