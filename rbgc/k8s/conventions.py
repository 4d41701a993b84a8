"""Upstream RBG output conventions and Kubernetes apply order, as data.

Every key here is what the upstream operator writes: v0.4.0's (rbg-semantics.md §3-§4) and
HEAD's, v0.8 (rbg-v1alpha2-semantics.md §0, §2.2-§2.4, §2.10-§2.11). The compat corpus tests
pin them. Nothing else in rbgc spells these strings. The passes read a `Conventions` value
(`V04` or `V08`) chosen per group; the module constants below are v0.4.0's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

API_GROUP = "workloads.x-k8s.io"
API_VERSION = "workloads.x-k8s.io/v1alpha1"
RBG_KIND = "RoleBasedGroup"
RBGSET_KIND = "RoleBasedGroupSet"
PROFILE_KIND = "ClusterEngineRuntimeProfile"

# rbgc's own inputs beside upstream's: the placement documents (rbgc/topology.py reads them)
RBGC_API_VERSION = "rbgc.io/v1alpha1"
TOPOLOGY_KIND = "Topology"
PLACEMENT_KIND = "Placement"
PLACEMENT_KINDS = (TOPOLOGY_KIND, PLACEMENT_KIND)


def is_placement_kind(api_version: object, kind: object) -> bool:
    """A Topology or Placement document: an input of the placement pass, never emitted."""
    return api_version == RBGC_API_VERSION and kind in PLACEMENT_KINDS


PREFIX = "rolebasedgroup.workloads.x-k8s.io/"
LABEL_NAME = PREFIX + "name"
LABEL_ROLE = PREFIX + "role"
LABEL_GROUP_KEY = PREFIX + "group-unique-key"
ANNOTATION_ROLE_SIZE = PREFIX + "role-size"
ANNOTATION_EXCLUSIVE_TOPOLOGY = PREFIX + "exclusive-topology"
ANNOTATION_DISABLE_EXCLUSIVE = PREFIX + "disable-exclusive-topology"
RESERVED_LABELS = (LABEL_NAME, LABEL_ROLE, LABEL_GROUP_KEY)
# v0.4.0's exclusive-topology key under HEAD's name pattern, which no release reads (§12 #20)
ANNOTATION_EXCLUSIVE_TOPOLOGY_MIXED = PREFIX + "group-exclusive-topology"
# component annotations only the operator's RoleInstance controller acts on (v1alpha2 §3.2)
COMPONENT_OPERATOR_ANNOTATIONS = {
    PREFIX + "component-depends-on": "start/stop order between components",
    PREFIX + "port-allocator": "port allocation",
    PREFIX + "component-discovery": "component discovery env",
}

# Gang scheduling: v0.4.0 labels pods with the 2020 lightweight-coscheduling key only; current
# scheduler-plugins read `scheduling.x-k8s.io/pod-group`. rbgc sets both so pods really join.
GANG_LABEL_LEGACY = "pod-group.scheduling.sigs.k8s.io/name"
GANG_LABEL = "scheduling.x-k8s.io/pod-group"
VOLCANO_GROUP_ANNOTATION = "scheduling.k8s.io/group-name"
KUBE_PODGROUP_API = "scheduling.x-k8s.io/v1alpha1"
VOLCANO_PODGROUP_API = "scheduling.volcano.sh/v1beta1"
DEFAULT_SCHEDULE_TIMEOUT = 60
# What the operator at HEAD copies from the group's annotations onto its PodGroup
# (pkg/scheduler/common/annotation_inheritance.go): scheduler-plugins' prefix
# (k8s-scheduler-plugin/manager.go) and Volcano's (volcano-sh/apis scheduling/v1beta1
# labels.go `AnnotationPrefix`).
KUBE_PODGROUP_INHERITED = "scheduling.x-k8s.io/"
VOLCANO_PODGROUP_INHERITED = "volcano.sh/"
# `restartPolicyConfig`'s defaults (v1alpha2 CRD): seconds before the first recreation, and the
# cap of its exponential back-off; v1alpha1 recreates with the same back-off.
RESTART_BASE_DELAY = 30
RESTART_MAX_DELAY = 600

SET_LABEL_NAME = "rolebasedgroupset.workloads.x-k8s.io/name"
SET_LABEL_INDEX = "rolebasedgroupset.workloads.x-k8s.io/rbg-index"

# rbgc's own documents (inputs, never emitted): Overlay, and the placement documents.
RBGC_API_GROUP = "rbgc.io"
OVERLAY_KIND = "Overlay"

MANAGED_BY = "app.kubernetes.io/managed-by"
# `--lws statefulsets`: tells the leader StatefulSet's pods from the workers' (selector label).
LWS_MEMBER = "rbgc.io/lws-member"
# The Deployment controller labels each ReplicaSet's pods with its template's hash.
POD_TEMPLATE_HASH = "pod-template-hash"
MANAGER = "rbgc"
SYNC_WAVE = "argocd.argoproj.io/sync-wave"

ENV_GROUP_NAME = "GROUP_NAME"
ENV_ROLE_NAME = "ROLE_NAME"
ENV_ROLE_INDEX = "ROLE_INDEX"
RESERVED_ENV = (ENV_GROUP_NAME, ENV_ROLE_INDEX, ENV_ROLE_NAME)
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"  # a StatefulSet pod's ordinal (PodIndexLabel)
POD_INDEX_FIELD = f"metadata.labels['{POD_INDEX_LABEL}']"
# the StatefulSet controller's pod label, which HEAD's RoleInstanceSet sets to the instance's
# name on every pod of an instance (stateful_instance_set_utils.go:199-207)
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"

CONFIG_VOLUME = "rbg-cluster-config"
CONFIG_MOUNT_PATH = "/etc/rbg"
CONFIG_KEY = "config.yaml"

DEFAULT_NAMESPACE = "default"

# Apply order of kinds inside one wave: Argo CD's (gitops-engine sync_tasks.go, from Helm's
# kind sorter). Kinds not listed (all custom resources) sort after these.
KIND_ORDER = (
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
)
# Kinds that have no namespace; every other kind is namespaced (custom resources included,
# which is the common case for the operators rbgc's users run).
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "StorageClass",
        "CSIDriver",
        "CSINode",
        "VolumeAttachment",
        "CustomResourceDefinition",
        "APIService",
        "ClusterRole",
        "ClusterRoleBinding",
        "PriorityClass",
        "RuntimeClass",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ComponentStatus",
        "CertificateSigningRequest",
        "FlowSchema",
        "PriorityLevelConfiguration",
        "ClusterEngineRuntimeProfile",
    }
)

KIND_RANK = {kind: rank for rank, kind in enumerate(KIND_ORDER)}
UNKNOWN_KIND_RANK = len(KIND_ORDER)


@dataclass(frozen=True, slots=True, kw_only=True)
class Conventions:
    """What one operator release writes: keys, env names, object names.

    rbgc keeps its own fixes under both (real pod addresses, injected env first, an
    exclusive-topology key the pods carry); the README's compatibility table lists them."""

    release: str  # "v0.4" | "v0.8"
    label_group: str
    label_role: str
    label_group_key: str  # sha1(ns/R); also the exclusive-topology affinity key
    annotation_role_size: str
    annotation_exclusive_topology: str  # on the group (and copied onto pod templates)
    annotation_disable_exclusive: str  # pod template opt-out
    set_label_name: str
    set_label_index: str
    env_group_name: str
    env_role_name: str
    env_role_index: str
    service_prefix: str  # headless Service `{prefix}{R}-{r}`
    service_type: bool  # HEAD writes `type: ClusterIP` on the headless Service
    max_name: int | None  # HEAD cuts workload/Service names to 63, then trailing '-'
    config_map_per_group: bool  # HEAD: one ConfigMap `R` for the stateful roles
    # HEAD's env merge (§2.4): `{prefix}*` vars first, sorted; `{prefix}LWP_*` next; then the
    # rest in order. None: v0.4.0's names, injected before the user's (whose order is kept).
    env_prefix: str | None

    @property
    def reserved_labels(self) -> tuple[str, str, str]:
        return (self.label_group, self.label_role, self.label_group_key)

    @property
    def reserved_env(self) -> tuple[str, str, str]:
        return (self.env_group_name, self.env_role_index, self.env_role_name)

    def _cut(self, name: str) -> str:
        if self.max_name is None or len(name) <= self.max_name:
            return name
        return name[: self.max_name].rstrip("-")

    def workload_name(self, group: str, role: str) -> str:
        """`{R}-{r}`: v0.4.0 as is; HEAD cut to 63 without a trailing '-'."""
        return self._cut(f"{group}-{role}")

    def service_name(self, group: str, role: str) -> str:
        """The role's headless Service: `{R}-{r}` (v0.4.0) or `s-{R}-{r}` (HEAD, fresh)."""
        return self._cut(f"{self.service_prefix}{group}-{role}")

    def config_map_name(self, group: str, role: str) -> str:
        return group if self.config_map_per_group else f"{group}-{role}"

    def selector(self, group: str, role: str) -> dict[str, str]:
        """The labels a role's headless Service selects."""
        return {self.label_group: group, self.label_role: role}

    def roles_selector(self, group_key: str, roles: Sequence[str]) -> dict[str, Any]:
        """A label selector for some roles' pods of one group (placement terms)."""
        return {
            "matchExpressions": [
                {"key": self.label_group_key, "operator": "In", "values": [group_key]},
                {"key": self.label_role, "operator": "In", "values": sorted(set(roles))},
            ]
        }

    def set_labels(self, set_name: str | None, set_index: int | None) -> dict[str, str]:
        """The labels a RoleBasedGroupSet gives its member's objects (never in selectors)."""
        if set_name is None:
            return {}
        return {self.set_label_name: set_name, self.set_label_index: str(set_index)}


V04 = Conventions(
    release="v0.4",
    label_group=LABEL_NAME,
    label_role=LABEL_ROLE,
    label_group_key=LABEL_GROUP_KEY,
    annotation_role_size=ANNOTATION_ROLE_SIZE,
    annotation_exclusive_topology=ANNOTATION_EXCLUSIVE_TOPOLOGY,
    annotation_disable_exclusive=ANNOTATION_DISABLE_EXCLUSIVE,
    set_label_name=SET_LABEL_NAME,
    set_label_index=SET_LABEL_INDEX,
    env_group_name=ENV_GROUP_NAME,
    env_role_name=ENV_ROLE_NAME,
    env_role_index=ENV_ROLE_INDEX,
    service_prefix="",
    service_type=False,
    max_name=None,
    config_map_per_group=False,
    env_prefix=None,
)

HEAD_PREFIX = "rbg.workloads.x-k8s.io/"
# Labels the RoleInstance controller puts on a customComponentsPattern pod; rbgc's
# StatefulSet per (instance, component) selects by them, as constants of each.
COMPONENT_NAME_LABEL = HEAD_PREFIX + "component-name"
INSTANCE_INDEX_LABEL = HEAD_PREFIX + "role-instance-index"
# ... and labels only that controller stamps, which no compiled pod carries (§2.4)
INSTANCE_NAME_LABEL = HEAD_PREFIX + "role-instance-name"
COMPONENT_ID_LABEL = HEAD_PREFIX + "component-id"
COMPONENT_INDEX_LABEL = HEAD_PREFIX + "component-index"
COMPONENT_SIZE_LABEL = HEAD_PREFIX + "component-size"

# v1alpha2 annotations the operator at HEAD reads (rbg-v1alpha2-semantics.md §1.3, §3.1, §4)
ANNOTATION_WORKLOAD_TYPE = HEAD_PREFIX + "role-workload-type"  # `apiVersion/kind`
ANNOTATION_INSTANCE_PATTERN = HEAD_PREFIX + "role-instance-pattern"  # Stateful | Stateless
ANNOTATION_GANG = HEAD_PREFIX + "group-gang-scheduling"  # "true"
ANNOTATION_GANG_TIMEOUT = ANNOTATION_GANG + "-timeout"
ANNOTATION_GANG_QUEUE = ANNOTATION_GANG + "-volcano-queue"
ANNOTATION_GANG_PRIORITY = ANNOTATION_GANG + "-volcano-priority"
# the v1alpha2 default workload, as `role-workload-type` names it
INSTANCE_SET_WORKLOAD = API_GROUP + "/v1alpha2/RoleInstanceSet"

# What HEAD's conversion webhook stashes of a v1alpha1 object in v1alpha2 annotations (§7.3),
# and its codec: Go's json.Marshal, read back by any JSON parser.
STASH_PREFIX = "conversion.workloads.x-k8s.io/"
STASH_POD_GROUP_POLICY = STASH_PREFIX + "v1alpha1-pod-group-policy"
STASH_COORDINATION = STASH_PREFIX + "v1alpha1-coordination"


def stash_encode(value: Any) -> str:
    """`json.Marshal` of Go: compact, UTF-8, with <, > and & escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def stash_decode(text: str) -> Any:
    """A stashed value; ValueError where the text is not JSON."""
    return json.loads(text)


# The LeaderWorkerSet controller's keys, which `--lws statefulsets` writes as it would.
LWS_NAME_LABEL = "leaderworkerset.sigs.k8s.io/name"
LWS_GROUP_INDEX_LABEL = "leaderworkerset.sigs.k8s.io/group-index"
LWS_WORKER_INDEX_LABEL = "leaderworkerset.sigs.k8s.io/worker-index"
LWS_LEADER_NAME_ANNOTATION = "leaderworkerset.sigs.k8s.io/leader-name"  # on worker pods
# LWS's own exclusive placement (on the LeaderWorkerSet): one group per domain of the key.
LWS_EXCLUSIVE_TOPOLOGY_ANNOTATION = "leaderworkerset.sigs.k8s.io/exclusive-topology"
# The Deployment controller labels each ReplicaSet's pods with its template's hash.
POD_TEMPLATE_HASH_LABEL = "pod-template-hash"
V08 = Conventions(
    release="v0.8",
    label_group=HEAD_PREFIX + "group-name",
    label_role=HEAD_PREFIX + "role-name",
    label_group_key=HEAD_PREFIX + "group-uid",
    annotation_role_size=HEAD_PREFIX + "role-size",
    annotation_exclusive_topology=HEAD_PREFIX + "group-exclusive-topology",
    annotation_disable_exclusive=HEAD_PREFIX + "role-disable-exclusive",
    set_label_name=HEAD_PREFIX + "groupset-name",
    set_label_index=HEAD_PREFIX + "groupset-index",
    env_group_name="RBG_GROUP_NAME",
    env_role_name="RBG_ROLE_NAME",
    env_role_index="RBG_ROLE_INDEX",
    service_prefix="s-",
    service_type=True,
    max_name=63,
    config_map_per_group=True,
    env_prefix="RBG_",
)

RELEASES = {c.release: c for c in (V04, V08)}
API_VERSION_V1ALPHA2 = "workloads.x-k8s.io/v1alpha2"
# Every group label key either release writes: overlays rename groups under both.
GROUP_LABELS = (V04.label_group, V08.label_group)


def group_and_role(labels: Mapping[str, Any]) -> tuple[str, str] | None:
    """(group, role) of a live object, from its labels under either release's keys (a
    migration between releases meets both); None when it carries neither."""
    for c in (V08, V04):
        group, role = labels.get(c.label_group), labels.get(c.label_role)
        if isinstance(group, str) and isinstance(role, str):
            return group, role
    return None


DISABLE_EXCLUSIVE_KEYS = (V04.annotation_disable_exclusive, V08.annotation_disable_exclusive)


def conventions_for(api_version: str, chosen: str | None = None) -> Conventions:
    """`--conventions` if given, else by the input: v1alpha1 gets v0.4.0's, v1alpha2 HEAD's."""
    if chosen is not None:
        return RELEASES[chosen]
    return V08 if api_version == API_VERSION_V1ALPHA2 else V04


def group_unique_key(namespace: str, group: str) -> str:
    """sha1 of `{namespace}/{group}`, as upstream's GenGroupUniqueKey.

    >>> group_unique_key("default", "nginx-cluster")[:12]
    '4c81010f509b'
    """
    return hashlib.sha1(f"{namespace}/{group}".encode()).hexdigest()


# --- upgrades: warm-up Jobs and in-place updates -------------------------------------------
# Upstream's warm-up pod labels (internal/controller/workloads/rolebasedgroupwarmup_controller.go
# LabelWarmupName, LabelNodeName); its third, the warm-up's UID, names an object rbgc never
# creates.
WARMUP_NAME_LABEL = "workloads.x-k8s.io/warmup-name"
WARMUP_NODE_LABEL = "workloads.x-k8s.io/node-name"
WARMUP_NODE_ANNOTATION = "rbgc.io/warmup-node"  # always: a node name may be no label value
# The readiness gate upstream puts on every RoleInstance pod (api/workloads/constants/
# external.go InPlaceUpdateReady): False while a pod's images change, so it leaves its
# Services' endpoints first.
IN_PLACE_READY = "InPlaceUpdateReady"
# rbgc's own: on a workload compiled for in-place updates, the role's update as JSON
# (`type`, `gracePeriodSeconds`, and the rolling fields an `OnDelete` StatefulSet cannot hold);
# on its pod template, the hash of what a live pod cannot change (k8s/inplace.py).
IN_PLACE_UPDATE = "rbgc.io/in-place-update"
POD_SHAPE = "rbgc.io/pod-shape"
# The StatefulSet controller's revision label on its pods (apps/v1 ControllerRevisionHashLabelKey).
REVISION_LABEL = "controller-revision-hash"
# rbgc's own, on a pod it updated in place: its containers' restart counts once the new images
# run; restarts up to them are the update's, not crashes (sync/restarts.py).
IN_PLACE_RESTARTS = "rbgc.io/in-place-restarts"

# --- the conversion webhook's values (v1alpha1 <-> v1alpha2) ----------------------------------
# HEAD's conversion (api/workloads/v1alpha1/rolebasedgroup_conversion.go, semantics §7) keeps
# what v1alpha2 has no field for in the annotations above: v1alpha1's podGroupPolicy and
# coordination as the Go structs marshal (the stash, `stash_encode`), and gang scheduling as
# v1alpha2 reads it. `rbgc convert` writes them; the v1alpha2 parser reads them.
GANG_ANNOTATIONS = (
    ANNOTATION_GANG,
    ANNOTATION_GANG_TIMEOUT,
    ANNOTATION_GANG_QUEUE,
    ANNOTATION_GANG_PRIORITY,
)
# removeConversionAnnotations: what ConvertFrom strips from the v1alpha1 view
CONVERSION_ONLY = (
    STASH_POD_GROUP_POLICY,
    STASH_COORDINATION,
    *GANG_ANNOTATIONS,
    V08.annotation_exclusive_topology,
)
DEFAULT_PROGRESSION = "OrderScheduled"  # v1alpha1 CRD default of scaling.progression


def _present(m: Any, key: str) -> bool:
    return isinstance(m, Mapping) and m.get(key) is not None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def pod_group_policy_value(policy: Mapping[str, Any]) -> dict[str, Any]:
    """The v1alpha1 PodGroupPolicy after CRD defaulting, in Go struct field order."""
    out: dict[str, Any] = {}
    if _present(policy, "kubeScheduling"):
        kube = _mapping(policy["kubeScheduling"])
        timeout = kube.get("scheduleTimeoutSeconds", DEFAULT_SCHEDULE_TIMEOUT)
        out["kubeScheduling"] = {} if timeout is None else {"scheduleTimeoutSeconds": int(timeout)}
    if _present(policy, "volcanoScheduling"):
        volcano = _mapping(policy["volcanoScheduling"])
        out["volcanoScheduling"] = {
            k: str(volcano[k]) for k in ("priorityClassName", "queue") if volcano.get(k)
        }
    return out


def gang_annotations(policy: Mapping[str, Any]) -> dict[str, str]:
    """What preserveV1alpha1Fields translates a PodGroupPolicy into (kube wins over volcano)."""
    out: dict[str, str] = {}
    if "kubeScheduling" in policy:
        out[ANNOTATION_GANG] = "true"
        if "scheduleTimeoutSeconds" in policy["kubeScheduling"]:
            timeout = policy["kubeScheduling"]["scheduleTimeoutSeconds"]
            out[ANNOTATION_GANG_TIMEOUT] = str(timeout)
    elif "volcanoScheduling" in policy:
        out[ANNOTATION_GANG] = "true"
        volcano = policy["volcanoScheduling"]
        if volcano.get("queue"):
            out[ANNOTATION_GANG_QUEUE] = volcano["queue"]
        if volcano.get("priorityClassName"):
            out[ANNOTATION_GANG_PRIORITY] = volcano["priorityClassName"]
    return out


def coordination_value(rules: Sequence[Any]) -> list[dict[str, Any]]:
    """The v1alpha1 coordination list after CRD defaulting, in Go struct field order."""
    out: list[dict[str, Any]] = []
    for raw in rules:
        rule = _mapping(raw)
        item: dict[str, Any] = {"name": rule.get("name", "")}
        roles = rule.get("roles")
        item["roles"] = None if roles is None else [str(r) for r in roles]
        if _present(rule, "strategy"):
            strategy = _mapping(rule["strategy"])
            value: dict[str, Any] = {}
            if _present(strategy, "rollingUpdate"):
                rolling = _mapping(strategy["rollingUpdate"])
                value["rollingUpdate"] = {
                    k: rolling[k]
                    for k in ("maxSkew", "partition", "maxUnavailable")
                    if rolling.get(k) is not None
                }
            if _present(strategy, "scaling"):
                scaling = _mapping(strategy["scaling"])
                scale: dict[str, Any] = {}
                if scaling.get("maxSkew") is not None:
                    scale["maxSkew"] = scaling["maxSkew"]
                scale["progression"] = scaling.get("progression") or DEFAULT_PROGRESSION
                value["scaling"] = scale
            item["strategy"] = value
        out.append(item)
    return out
