"""The typed IR of rbgc's input language, and what the passes produce.

Frozen dataclasses for RBG's own language; pod templates and other Kubernetes structures stay
plain dicts, governed by Kubernetes' own schema (and never mutated: passes copy before they
change one). Every node keeps the `Span` of the text it came from.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rbgc.diagnostics import Diagnostic, Span
from rbgc.k8s import controllers
from rbgc.k8s import conventions as cv
from rbgc.k8s.controllers import IntOrPercent, WorkloadKind
from rbgc.k8s.manifest import Manifest
from rbgc.source import Document, JsonPath
from rbgc.warmup.spec import Warmup

if TYPE_CHECKING:  # the IR holds them; only a group with placement rules imports topology.py
    from rbgc.topology import PlacementRule, PlacementSpec

__all__ = ["WorkloadKind"]  # the kinds are k8s/controllers.py's table; the IR names them


@dataclass(frozen=True, slots=True, kw_only=True)
class Workload:
    """The role's `workload` (apiVersion and kind), defaulted as the CRD does."""

    api_version: str
    kind: str
    span: Span

    @property
    def key(self) -> str:
        return f"{self.api_version}/{self.kind}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RollingUpdate:
    """`rolloutStrategy.rollingUpdate`, with the CRD's nested defaults applied."""

    partition: IntOrPercent = 0
    max_unavailable: IntOrPercent = 1
    max_surge: IntOrPercent = 0
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class Dependency:
    """One entry of a role's `dependencies`, with where it was written."""

    name: str
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class ServicePort:
    """A `servicePorts` entry: only its name and port reach `config.yaml`."""

    name: str | None
    port: int
    unused: tuple[tuple[str, Span], ...] = ()  # other keys written (upstream reads none)


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaderWorkerSetSpec:
    """`leaderWorkerSet`: pods per group (leader included) and the leader/worker patches."""

    size: int = 1
    patch_leader: Mapping[str, Any] | None = None
    patch_worker: Mapping[str, Any] | None = None
    span: Span | None = None
    # where the leader/worker patches sit (None: v1alpha1's `leaderWorkerSet.patch*Template`)
    patch_paths: tuple[JsonPath, JsonPath] | None = None


class Pattern(enum.StrEnum):
    """A v1alpha2 role's pattern, by the key it is written under (the operator takes the
    first present: standalone, leaderWorker, components)."""

    STANDALONE = "standalonePattern"
    LEADER_WORKER = "leaderWorkerPattern"
    COMPONENTS = "customComponentsPattern"


@dataclass(frozen=True, slots=True, kw_only=True)
class RestartBackoff:
    """`restartPolicyConfig`'s delays between recreations of an instance (the CRD's
    defaults when absent); v1alpha1 has no such field."""

    base_delay: int = cv.RESTART_BASE_DELAY
    max_delay: int = cv.RESTART_MAX_DELAY
    written: bool = False  # the input sets baseDelaySeconds or maxDelaySeconds


@dataclass(frozen=True, slots=True, kw_only=True)
class Component:
    """A customComponentsPattern component: `size` pods of its own template per instance."""

    name: str
    size: int
    template: Mapping[str, Any]  # with the component's labels/annotations merged in
    template_path: JsonPath
    service_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceSet:
    """A v1alpha2 role on the operator's default workload, RoleInstanceSet. rbgc lowers it to
    plain objects (v1alpha2 semantics §3.5); this is what they must reproduce or warn about."""

    pod_management_policy: str = "Parallel"
    update_type: str | None = None  # rollingUpdate.type as written (operator: InPlaceIfPossible)
    paused: bool = False
    grace_period: int | None = None  # rollingUpdate.inPlaceUpdateStrategy.gracePeriodSeconds
    components: tuple[Component, ...] = ()  # customComponentsPattern
    # the shared Service selects only the leaders (leaderWorkerPattern's sharedServiceSelection,
    # LeaderOnly unless written All: `helper.go:288`); every other pattern selects all pods
    leader_only: bool = False
    # role annotation role-instance-pattern: Stateless: random instance names, and not a
    # stateful role (no index, no discovery file: `helper.go:500-515`)
    stateless: bool = False
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineRuntime:
    """`engineRuntimes[]`: sidecars from a ClusterEngineRuntimeProfile, plus overrides."""

    profile: str
    containers: tuple[Mapping[str, Any], ...]
    span: Span
    path: JsonPath | None = None  # the entry in the document
    inject_containers: Span | None = None  # where `injectContainers` is written (unread)


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """A ClusterEngineRuntimeProfile document (an input, not emitted)."""

    name: str
    init_containers: tuple[Mapping[str, Any], ...]
    containers: tuple[Mapping[str, Any], ...]
    volumes: tuple[Mapping[str, Any], ...]
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleTemplate:
    """`spec.roleTemplates[]`: a named pod template roles can reference."""

    name: str
    template: Mapping[str, Any]
    path: JsonPath
    span: Span


class LwsLowering(enum.StrEnum):
    """How LeaderWorkerSet roles are emitted."""

    NATIVE = "native"  # leaderworkerset.x-k8s.io/v1 objects: needs the LWS controller
    STATEFULSETS = "statefulsets"  # a leader StatefulSet + one worker StatefulSet per group


class Scheduler(enum.StrEnum):
    """Who places the pods: what placement rules are lowered for."""

    DEFAULT = "default"  # kube-scheduler: pod (anti-)affinity and spread constraints
    VOLCANO = "volcano"  # Volcano: packs become the PodGroup's networkTopology (KEP-473)
    KUEUE = "kueue"  # kube-scheduler after Kueue admits: packs become TAS annotations
    KAI = "kai"  # NVIDIA KAI Scheduler: packs become the workloads' topology annotations


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """What the output is for: the cluster's Kubernetes version and available controllers."""

    kubernetes_version: controllers.Version = controllers.DEFAULT_KUBERNETES_VERSION
    lws: LwsLowering = LwsLowering.NATIVE
    conventions: str | None = None  # "v0.4" | "v0.8"; None: by the input's API version
    scheduler: Scheduler = Scheduler.DEFAULT
    kueue_queue: str | None = None  # `--kueue-queue`: the LocalQueue every workload joins
    # roles updated in place compile to OnDelete StatefulSets that rbgc sync (or its watcher)
    # updates pod by pod: always under `rbgc sync`, with `--in-place` elsewhere (passes/inplace.py)
    in_place: bool = False

    @property
    def version_text(self) -> str:
        return controllers.version_text(self.kubernetes_version)


@dataclass(frozen=True, slots=True, kw_only=True)
class Role:
    """One `spec.roles[]` entry, with the CRD's defaults applied."""

    name: str
    replicas: int
    workload: Workload
    template: Mapping[str, Any]
    span: Span
    template_path: JsonPath  # where `template` sits in the source document
    dependencies: tuple[Dependency, ...] = ()
    rolling_update: RollingUpdate | None = None  # None: `rollingUpdate` absent
    restart_policy: str | None = None
    service_ports: tuple[ServicePort, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    min_ready_seconds: int | None = None
    leader_worker_set: LeaderWorkerSetSpec | None = None
    engine_runtimes: tuple[EngineRuntime, ...] = ()
    scaling_adapter: bool = False
    template_ref: str | None = None
    template_patch: Mapping[str, Any] | None = None
    restart_backoff: RestartBackoff = RestartBackoff()
    pattern: Pattern | None = None  # v1alpha2: the pattern the operator uses (None: v1alpha1)
    path: JsonPath | None = None  # the role in the document (None: `template_path[:-1]`)
    template_patch_path: JsonPath | None = None  # None: v1alpha1's `templatePatch`
    instance_set: InstanceSet | None = None  # v1alpha2 RoleInstanceSet roles

    @property
    def role_path(self) -> JsonPath:
        return self.path if self.path is not None else self.template_path[:-1]

    @property
    def pattern_path(self) -> JsonPath:
        """Where the v1alpha2 pattern sits (the role itself for v1alpha1)."""
        return self.role_path if self.pattern is None else (*self.role_path, self.pattern.value)

    @property
    def leader_worker_patch_paths(self) -> tuple[JsonPath, JsonPath]:
        """Where the leader and worker patches sit: v1alpha2's pattern keys, v1alpha1's
        `leaderWorkerSet.patch{Leader,Worker}Template`."""
        lws = self.leader_worker_set
        if lws is not None and lws.patch_paths is not None:
            return lws.patch_paths
        base = (*self.template_path[:-1], "leaderWorkerSet")
        return (*base, "patchLeaderTemplate"), (*base, "patchWorkerTemplate")

    @property
    def patch_path(self) -> JsonPath:
        if self.template_patch_path is not None:
            return self.template_patch_path
        return (*self.template_path[:-1], "templatePatch")

    @property
    def size(self) -> int:
        """Pods per replica: the LWS group size, the components' sizes, else 1."""
        lws = self.leader_worker_set
        if lws is not None and self.kind is WorkloadKind.LEADERWORKERSET:
            return lws.size
        if self.instance_set is not None and self.instance_set.components:
            return sum(c.size for c in self.instance_set.components)
        return 1

    @property
    def stateful(self) -> bool:
        """Upstream's IsStatefulRole (`api/workloads/v1alpha2/helper.go:500-515`): pods with an
        index (`RBG_ROLE_INDEX`) and the discovery file; not a Deployment, nor a Stateless
        RoleInstanceSet of any pattern."""
        if self.instance_set is not None and self.instance_set.stateless:
            return False
        return self.kind is not WorkloadKind.DEPLOYMENT

    @property
    def kind(self) -> WorkloadKind | None:
        try:
            return WorkloadKind(self.workload.key)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True, kw_only=True)
class CoordinatedRollingUpdate:
    """`coordination[].strategy.rollingUpdate`: percent strings, as upstream requires."""

    max_skew: str | None = None
    partition: IntOrPercent | None = None  # v1alpha1: percent strings; v1alpha2: either
    max_unavailable: IntOrPercent | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CoordinatedScaling:
    """`coordination[].strategy.scaling`."""

    max_skew: str = "100%"
    progression: str = "OrderScheduled"


@dataclass(frozen=True, slots=True, kw_only=True)
class Coordination:
    """One `spec.coordination[]` rule: roles that roll out or scale in step."""

    name: str
    roles: tuple[str, ...]
    span: Span
    rolling_update: CoordinatedRollingUpdate | None = None
    scaling: CoordinatedScaling | None = None
    # where the rule is written, when not in the group's own document (a CoordinatedPolicy)
    document: Document | None = None
    path: JsonPath | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    """One RoleBasedGroup (a RoleBasedGroupSet contributes one per replica)."""

    name: str
    namespace: str
    roles: tuple[Role, ...]
    annotations: Mapping[str, str]
    labels: Mapping[str, str]
    span: Span
    document: Document
    spec_path: JsonPath  # where the group's spec sits in the document ("spec" or "spec.template")
    conventions: cv.Conventions  # the operator release the output is named and labelled as
    order: int = 0
    pod_group_policy: Mapping[str, Any] | None = None
    coordination: tuple[Coordination, ...] = ()
    role_templates: tuple[RoleTemplate, ...] = ()
    set_name: str | None = None
    set_index: int | None = None
    placement: PlacementSpec | None = None  # from a Placement document (rbgc/topology.py)
    # what the front end found wrong in the group's text (its input form): `validate` reports
    # it with the group's other problems
    findings: tuple[Diagnostic, ...] = ()

    @property
    def set_labels(self) -> dict[str, str]:
        """The labels upstream gives a RoleBasedGroupSet's member; rbgc puts them on every
        object the member produces (never in selectors)."""
        if self.set_name is None:
            return {}
        return {cv.SET_LABEL_NAME: self.set_name, cv.SET_LABEL_INDEX: str(self.set_index)}

    def role(self, name: str) -> Role | None:
        return next((r for r in self.roles if r.name == name), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScalingAdapter:
    """A RoleBasedGroupScalingAdapter document: an input for HPAs, not emitted."""

    name: str
    namespace: str
    group: str
    role: str
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class Program:
    """Everything the inputs hold: groups to compile and documents that pass through."""

    groups: tuple[Group, ...]
    passthrough: tuple[Manifest, ...]
    profiles: Mapping[str, Profile] = field(default_factory=dict)
    adapters: tuple[ScalingAdapter, ...] = ()
    warnings: tuple[Diagnostic, ...] = ()  # what reading the inputs found
    warmups: tuple[Warmup, ...] = ()  # RoleBasedGroupWarmup documents (rbgc/warmup/)


@dataclass(frozen=True, slots=True, kw_only=True)
class Waves:
    """Start order of a group's roles: wave = 1 + the deepest dependency's wave."""

    of_role: Mapping[str, int]
    order: tuple[str, ...]  # roles by (wave, name)

    @property
    def count(self) -> int:
        return max(self.of_role.values(), default=-1) + 1


@dataclass(frozen=True, slots=True, kw_only=True)
class RolePlacement:
    """What placement decided for one role's pods."""

    exclusive_topology: str | None = None  # the group's topology key, unless opted out
    scheduler: str | None = None  # the scheduler the pods must ask for (Volcano gangs)
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    pod_annotations: Mapping[str, str] = field(default_factory=dict)
    # placement rules lowered for the default scheduler: `affinity` and
    # `topologySpreadConstraints` fragments appended after the user's (passes/placement_rules.py)
    scheduling: Mapping[str, Any] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleLowering:
    """How the placement pass lowered one rule of `Group.placement` (record.py's facts)."""

    lowered: bool = True  # False: the compiled objects do not enforce it for the scheduler
    enforced_by: str = "kube-scheduler"  # kube-scheduler | volcano | kueue | kai
    match_label_keys: tuple[str, ...] = ()
    node_taints_policy: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InstancePin:
    """An instance pack compiled as pod affinity into each instance's own pod templates after
    expand, where literal per-instance values exist (passes/placement_instances.py)."""

    role: str
    rule: PlacementRule
    how: str  # leader-labels | leader-name | instance-label


@dataclass(frozen=True, slots=True, kw_only=True)
class Placement:
    """What placement decided for a whole group."""

    of_role: Mapping[str, RolePlacement]
    wave_offset: int = 0  # objects that gate the whole group (a PodGroup) need an earlier wave
    manifests: tuple[Manifest, ...] = ()
    warnings: tuple[Diagnostic, ...] = ()
    lowering: tuple[RuleLowering, ...] = ()  # one per rule of `Group.placement`, in order
    pins: tuple[InstancePin, ...] = ()  # applied to the expanded manifests
    workload_labels: Mapping[str, str] = field(default_factory=dict)  # on every workload
    # per role, on its workloads' own metadata (KAI reads the pod owner's)
    workload_annotations: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
