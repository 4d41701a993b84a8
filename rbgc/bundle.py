"""The compiled bundle: the ordered objects, and the facts the build decided about each group.

The back ends read these facts and never re-run a pass or re-derive a decision from the IR,
which they may not import (tests/test_layers.py): `diff`, `plan` and `sync` read the facts and
the objects; `fit` reads its placement rules here and each pod's requests and terms from the
compiled pod templates, as the scheduler sees them.

Per role the build records what it built: the role's declared kind, its wave, replicas, pods
per replica and in all, and every workload object it became (one for a StatefulSet,
Deployment or native LeaderWorkerSet; a leader StatefulSet and one worker StatefulSet per
group with `--lws statefulsets`), each with the rollout strategy as compiled and the hash of
its pod templates.

A workload's facts are read from its compiled body through the kind table of
`k8s/controllers.py` (`workload_facts`), so the same function reads a body rbgc applied to a
cluster: `rbgc sync` rebuilds OLD's facts from the live objects that way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from rbgc.diagnostics import Span
from rbgc.jsonpath import find
from rbgc.k8s import controllers, inplace
from rbgc.k8s.controllers import IntOrPercent, Strategy
from rbgc.k8s.conventions import (
    COMPONENT_NAME_LABEL,
    LWS_MEMBER,
    RELEASES,
    RESTART_BASE_DELAY,
    RESTART_MAX_DELAY,
    V04,
    Conventions,
)
from rbgc.k8s.manifest import Manifest
from rbgc.warmup.spec import Warmup


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadFacts:
    """One workload object a role became, as compiled."""

    api_version: str
    kind: str
    namespace: str
    name: str
    role: str
    wave: int
    replicas: int
    pods_per_replica: int
    strategy: Strategy  # as compiled; StatefulSet maxSurge is the role's, carried out by sync
    template_hash: str
    primary: bool = True  # False: a worker StatefulSet of `--lws statefulsets`
    in_place: inplace.InPlace | None = None  # OnDelete: rbgc updates its pods in place
    images: tuple[str, ...] = ()  # its pod templates' images (init containers too), in order

    def identity(self) -> tuple[str, str, str, str]:
        return (controllers.api_group(self.api_version), self.kind, self.namespace, self.name)

    @property
    def pods(self) -> int:
        return self.replicas * self.pods_per_replica

    @property
    def unit(self) -> str:
        """The name the rollout plan gives this workload: the role's, or for a worker
        StatefulSet the role's and the object's."""
        return self.role if self.primary else f"{self.role}:{self.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One `coordination[]` rule, as the planner reads it."""

    name: str
    roles: tuple[str, ...]
    max_skew: str | None = None  # rollingUpdate.maxSkew
    partition: IntOrPercent | None = None  # rollingUpdate.partition
    max_unavailable: IntOrPercent | None = None  # rollingUpdate.maxUnavailable
    scaling_max_skew: str | None = None  # scaling.maxSkew; None: no scaling rule
    span: Span | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PlacementFacts:
    """One placement rule as built (rbgc/topology.py), levels as node label keys.

    pack: `required` and the `preferred` levels best first (the tiers the build falls back
    through); spread/separate: their level in `required` when required, else in `preferred`."""

    kind: str  # pack | spread | separate
    roles: tuple[str, ...]
    required: str | None = None
    preferred: tuple[str, ...] = ()
    tiers: tuple[tuple[str, str], ...] = ()  # (tier name, node label key), best first
    max_skew: int = 1
    scope: str = "group"  # group | instance (upstream's instanceTopologyConstraint)
    # False: no compiled object enforces the rule (RBG317); `fit` does not count on it
    lowered: bool = True
    span: Span | None = None
    # how the build lowered it (passes/placement*.py)
    # the mechanism: kube-scheduler (pod affinity and spreads, the inter-pod filter pod by pod,
    # whichever scheduler runs it) | volcano (PodGroup) | kueue (TAS admission) | kai (PodGroup)
    enforced_by: str = "kube-scheduler"
    match_label_keys: tuple[str, ...] = ()  # pod (anti-)affinity/spread terms: per revision, ...
    min_domains: int | None = None  # spread: `minDomains` (DoNotSchedule only)
    node_taints_policy: str | None = None  # spread: as compiled (Honor)


@dataclass(frozen=True, slots=True, kw_only=True)
class Restart:
    """What a role's restart policy asks of `rbgc sync --watch`, as the build decided it: the
    compiled objects cannot do it (rbg-semantics.md §7, rbg-v1alpha2-semantics.md §8).

    `scope` "group": recreate the whole group when one of its pods restarts
    (`RecreateRBGOnPodRestart`); "instance": recreate the role instance (one leader/worker
    group of a LeaderWorkerSet built as StatefulSets) whose pod restarted. Recreations back
    off exponentially: `min(base x 2^(n-1), max)` seconds after the n-th, the first at once
    (upstream's `restartPolicyConfig` defaults, 30 s and 600 s)."""

    policy: str  # as the input says it (or upstream's default for the role's kind)
    scope: str  # "group" | "instance"
    base_delay: int = RESTART_BASE_DELAY
    max_delay: int = RESTART_MAX_DELAY


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleFacts:
    """What the build made of one role."""

    name: str
    kind: str  # the workload kind the role declares (LeaderWorkerSet even when lowered)
    wave: int
    replicas: int
    size: int  # pods per replica
    workloads: tuple[WorkloadFacts, ...]
    depends_on: tuple[str, ...] = ()  # roles that must be ready before this one starts
    restart: Restart | None = None  # None: Kubernetes (or the LWS controller) restarts pods
    span: Span | None = None

    @property
    def pods(self) -> int:
        return self.replicas * self.size


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupFacts:
    namespace: str
    name: str
    roles: tuple[RoleFacts, ...]
    rules: tuple[Rule, ...] = ()
    pod_group: str | None = None  # the gang PodGroup's name, when the group is gang-scheduled
    set_name: str | None = None  # the RoleBasedGroupSet it belongs to
    placement: tuple[PlacementFacts, ...] = ()  # the Placement's rules
    # the operator release the objects are named and labelled as (its label keys, names)
    conventions: Conventions = V04

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def workloads(self) -> Iterable[WorkloadFacts]:
        for role in self.roles:
            yield from role.workloads


@dataclass(frozen=True, slots=True, kw_only=True)
class Bundle:
    """The compiled output: ordered manifests, and the facts of every group."""

    manifests: tuple[Manifest, ...]
    groups: tuple[GroupFacts, ...] = ()
    warmups: tuple[Warmup, ...] = ()  # as resolved; `nodes` None: rbgc sync resolves them

    def group(self, namespace: str, name: str) -> GroupFacts | None:
        return next((g for g in self.groups if (g.namespace, g.name) == (namespace, name)), None)


def template_hash(body: Mapping[str, Any]) -> str:
    """sha256 of a workload's pod templates (and LWS size): equal hashes, same pods."""
    shape = controllers.shape_of(body)
    parts: list[Any] = [find(body, p) for p in shape.templates] if shape else []
    if shape and shape.size:
        parts.append(controllers.pods_per_replica(body))
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def is_primary(body: Mapping[str, Any]) -> bool:
    selector = find(body, ("spec", "selector", "matchLabels"))
    if not isinstance(selector, Mapping):
        return True
    # a worker StatefulSet of `--lws statefulsets`, or one component of one instance
    return selector.get(LWS_MEMBER) != "worker" and COMPONENT_NAME_LABEL not in selector


def workload_facts(m: Manifest, *, max_surge: IntOrPercent | None = None) -> WorkloadFacts | None:
    """A compiled (or applied) workload's facts; None for objects that are not workloads.
    `max_surge` is the role's StatefulSet surge, which no StatefulSet body can carry."""
    if controllers.shape_of(m.body) is None or m.role is None:
        return None
    strategy = controllers.strategy_of(m.body)
    if max_surge is not None and m.kind == "StatefulSet" and is_primary(m.body):
        strategy = replace(strategy, max_surge=max_surge)
    strategy = inplace.strategy(m.body, strategy.max_surge) or strategy
    return WorkloadFacts(
        api_version=m.api_version,
        kind=m.kind,
        namespace=m.namespace,
        name=m.name,
        role=m.role,
        wave=m.wave,
        replicas=controllers.replicas(m.body),
        pods_per_replica=controllers.pods_per_replica(m.body),
        strategy=strategy,
        template_hash=template_hash(m.body),
        primary=is_primary(m.body),
        in_place=inplace.compiled(m.body),
        images=images_of(m.body),
    )


def images_of(body: Mapping[str, Any]) -> tuple[str, ...]:
    """Every image a workload's pods run (init containers first), each once, in order."""
    shape = controllers.shape_of(body)
    found: list[str] = []
    for path in shape.templates if shape else ():
        for key in ("initContainers", "containers"):
            for c in find(body, (*path, "spec", key)) or ():
                image = c.get("image") if isinstance(c, Mapping) else None
                if isinstance(image, str) and image not in found:
                    found.append(image)
    return tuple(found)


def facts_of(manifests: Sequence[Manifest]) -> tuple[GroupFacts, ...]:
    """Group facts from workload manifests alone (no IR): how `rbgc sync` reads OLD from the
    objects it applied. A role's kind, replicas and size are its primary workload's."""
    by_group: dict[tuple[str, str], dict[str, list[WorkloadFacts]]] = {}
    releases: dict[tuple[str, str], Conventions] = {}  # by the label keys the objects carry
    for m in manifests:
        found = workload_facts(m)
        if found is not None and m.group is not None:
            roles = by_group.setdefault((m.namespace, m.group), {})
            roles.setdefault(found.role, []).append(found)
            labels = (m.body.get("metadata") or {}).get("labels") or {}
            for release in RELEASES.values():
                if release.label_group in labels:
                    releases[(m.namespace, m.group)] = release
    out = []
    for (namespace, group), roles in sorted(by_group.items()):
        facts = []
        for role, workloads in sorted(roles.items()):
            ordered = tuple(sorted(workloads, key=lambda w: (not w.primary, w.name)))
            head = ordered[0]
            facts.append(
                RoleFacts(
                    name=role,
                    kind=head.kind,
                    wave=head.wave,
                    replicas=head.replicas,
                    size=head.pods_per_replica,
                    workloads=ordered,
                )
            )
        out.append(
            GroupFacts(
                namespace=namespace,
                name=group,
                roles=tuple(facts),
                conventions=releases.get((namespace, group), V04),
            )
        )
    return tuple(out)
