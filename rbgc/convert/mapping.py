"""The v1alpha1 <-> v1alpha2 field mapping, as upstream's conversion webhook does it: what
both directions share.

Source: `api/workloads/v1alpha1/rolebasedgroup_conversion.go` and
`rolebasedgroupset_conversion.go` at v0.8.0-alpha.5 (semantics file §7). `to_v1alpha2.py` is
upstream's `ConvertTo` (v1alpha1 -> the v1alpha2 hub), `to_v1alpha1.py` its `ConvertFrom`; both
edit a document in place (a ruamel.yaml round-trip tree, or plain dicts in tests) through the
edit kit of `edit.py`, so a human's file keeps its shape. They never raise on bad input;
they return `Finding`s (errors refuse the document, warnings say what upstream's conversion
drops or changes) located at paths of the document as it was read.

Where rbgc writes less than the webhook stores, the difference is a default the target
version's CRD fills in identically (`restartPolicyConfig: {}`, `workload: apps/v1
StatefulSet`, `scheduleTimeoutSeconds: 60`, `progression: OrderScheduled` on the way back),
so the object the API server ends up with is the same. One deliberate difference: going back
to v1alpha1, the `role-workload-type` annotation that became `workload` is removed (the
webhook leaves it in the v1alpha1 view, where rbgc would copy it onto the workload).

Upstream's keys and the stash codec are `k8s/conventions.py`'s; the names below are theirs.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from rbgc.jsonpath import JsonPath
from rbgc.k8s import conventions as cv

API_GROUP = cv.API_GROUP
V1 = cv.API_VERSION
V2 = cv.API_VERSION_V1ALPHA2
WORKLOAD_TYPE = cv.ANNOTATION_WORKLOAD_TYPE
STASH_PGP = cv.STASH_POD_GROUP_POLICY
STASH_COORD = cv.STASH_COORDINATION
GANG = cv.ANNOTATION_GANG
GANG_KEYS = cv.GANG_ANNOTATIONS
EXCLUSIVE_V1 = cv.V04.annotation_exclusive_topology
EXCLUSIVE_V2 = cv.V08.annotation_exclusive_topology
DISABLE_EXCLUSIVE_V1 = cv.V04.annotation_disable_exclusive
DISABLE_EXCLUSIVE_V2 = cv.V08.annotation_disable_exclusive

STATEFULSET = ("apps/v1", "StatefulSet")  # the v1alpha1 CRD's default workload
ROLE_INSTANCE_SET = (V2, "RoleInstanceSet")
DEFAULT_TIMEOUT = cv.DEFAULT_SCHEDULE_TIMEOUT  # v1alpha1 default of scheduleTimeoutSeconds
DEFAULT_DELAYS = {
    "baseDelaySeconds": cv.RESTART_BASE_DELAY,
    "maxDelaySeconds": cv.RESTART_MAX_DELAY,
}

# Kinds whose schema is the same in both versions (no conversion webhook): only apiVersion.
SAME_SCHEMA = ("ClusterEngineRuntimeProfile", "RoleBasedGroupScalingAdapter")
CONVERTIBLE = ("RoleBasedGroup", "RoleBasedGroupSet", *SAME_SCHEMA)
ONLY_V2 = ("CoordinatedPolicy", "RoleInstanceSet", "RoleInstance", "RoleBasedGroupWarmup")
# every kind of the group in either version; another is a typo (RBG104)
KINDS = (*CONVERTIBLE, *ONLY_V2, "InstanceSet", "Instance")

CANNOT = "RBG720"  # error: upstream would refuse the input, or it is malformed
LOSSY = "RBG721"  # error: the v1alpha2 document holds what v1alpha1 cannot
DROPPED = "RBG722"  # warning: upstream's conversion drops or changes something

Map = MutableMapping[str, Any]


@dataclass(frozen=True, slots=True)
class Finding:
    """A refusal or a loss, at a path of the document as it was read."""

    jpath: JsonPath
    code: str
    message: str
    help: str | None = None
    error: bool = False
    key: bool = False


class Findings(list[Finding]):
    def error(
        self, jpath: JsonPath, code: str, message: str, help: str | None = None, key: bool = True
    ) -> None:
        self.append(Finding(jpath, code, message, help, error=True, key=key))

    def warn(
        self, jpath: JsonPath, message: str, help: str | None = None, key: bool = True
    ) -> None:
        self.append(Finding(jpath, DROPPED, message, help, key=key))


def present(m: Any, key: str) -> bool:
    return isinstance(m, dict) and m.get(key) is not None


def as_map(value: Any) -> Map:
    return value if isinstance(value, MutableMapping) else {}
