"""Upstream RBG v0.4.0 conventions and Kubernetes apply order, as data.

Every key here is what the upstream operator writes (rbg-semantics.md §3-§4); the compat
corpus tests pin them. Nothing else in rbgc spells these strings.
"""

from __future__ import annotations

import hashlib

API_GROUP = "workloads.x-k8s.io"
API_VERSION = "workloads.x-k8s.io/v1alpha1"
RBG_KIND = "RoleBasedGroup"
RBGSET_KIND = "RoleBasedGroupSet"
PROFILE_KIND = "ClusterEngineRuntimeProfile"

PREFIX = "rolebasedgroup.workloads.x-k8s.io/"
LABEL_NAME = PREFIX + "name"
LABEL_ROLE = PREFIX + "role"
LABEL_GROUP_KEY = PREFIX + "group-unique-key"
ANNOTATION_ROLE_SIZE = PREFIX + "role-size"
ANNOTATION_EXCLUSIVE_TOPOLOGY = PREFIX + "exclusive-topology"
ANNOTATION_DISABLE_EXCLUSIVE = PREFIX + "disable-exclusive-topology"
RESERVED_LABELS = (LABEL_NAME, LABEL_ROLE, LABEL_GROUP_KEY)

# Gang scheduling: v0.4.0 labels pods with the 2020 lightweight-coscheduling key only; current
# scheduler-plugins read `scheduling.x-k8s.io/pod-group`. rbgc sets both so pods really join.
GANG_LABEL_LEGACY = "pod-group.scheduling.sigs.k8s.io/name"
GANG_LABEL = "scheduling.x-k8s.io/pod-group"
VOLCANO_GROUP_ANNOTATION = "scheduling.k8s.io/group-name"
KUBE_PODGROUP_API = "scheduling.x-k8s.io/v1alpha1"
VOLCANO_PODGROUP_API = "scheduling.volcano.sh/v1beta1"
DEFAULT_SCHEDULE_TIMEOUT = 60

SET_LABEL_NAME = "rolebasedgroupset.workloads.x-k8s.io/name"
SET_LABEL_INDEX = "rolebasedgroupset.workloads.x-k8s.io/rbg-index"

# rbgc's own documents (inputs, never emitted): Overlay, and the placement documents.
RBGC_API_GROUP = "rbgc.io"
OVERLAY_KIND = "Overlay"

MANAGED_BY = "app.kubernetes.io/managed-by"
# `--lws statefulsets`: tells the leader StatefulSet's pods from the workers' (selector label).
LWS_MEMBER = "rbgc.io/lws-member"
MANAGER = "rbgc"
SYNC_WAVE = "argocd.argoproj.io/sync-wave"

ENV_GROUP_NAME = "GROUP_NAME"
ENV_ROLE_NAME = "ROLE_NAME"
ENV_ROLE_INDEX = "ROLE_INDEX"
RESERVED_ENV = (ENV_GROUP_NAME, ENV_ROLE_INDEX, ENV_ROLE_NAME)
POD_INDEX_FIELD = "metadata.labels['apps.kubernetes.io/pod-index']"

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


def group_unique_key(namespace: str, group: str) -> str:
    """sha1 of `{namespace}/{group}`, as upstream's GenGroupUniqueKey.

    >>> group_unique_key("default", "nginx-cluster")[:12]
    '4c81010f509b'
    """
    return hashlib.sha1(f"{namespace}/{group}".encode()).hexdigest()
