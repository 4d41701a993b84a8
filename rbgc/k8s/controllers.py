"""Kubernetes' workload-controller rules, declared once.

The build's checks, the rollout planner, the workload simulator and `rbgc sync` all read these;
none of them spells a default, a rounding rule or a version gate of its own:

- int-or-percent scaling as `intstr.GetScaledValueFromIntOrPercent` does it;
- the rolling strategy of each workload kind as the API server defaults it (Deployment 25% /
  25%, StatefulSet and LeaderWorkerSet 1 unavailable, no surge), and the fencepost rule
  (`ResolveFenceposts`: surge and unavailable both 0 after rounding means one unavailable);
- StatefulSet `maxUnavailable`, honoured only from Kubernetes 1.35 (MaxUnavailableStatefulSet
  beta, on by default), rounded down, at least 1;
- the scheduling fields rbgc's placement writes, by the version that honours them
  (`matchLabelKeys` in pod affinity, `nodeTaintsPolicy` and `minDomains` in spreads);
- the workload kinds: where each keeps its pod templates, replicas, partition, strategy and
  pods per replica, and which of its fields are immutable;
- readiness as a dependent role waits for it (rbg-semantics.md §5.1, §11).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rbgc.jsonpath import find

IntOrPercent = int | str
Version = tuple[int, int]
Path = tuple[str | int, ...]

DEFAULT_KUBERNETES_VERSION: Version = (1, 33)
MAX_UNAVAILABLE_STATEFULSET: Version = (1, 35)  # MaxUnavailableStatefulSet beta, on by default
# Scheduling features, from the release that turns them on by default (kubernetes/website
# `feature-gates/<name>.md`); below it the API server drops the field or the scheduler ignores it.
MATCH_LABEL_KEYS_IN_POD_AFFINITY: Version = (1, 31)  # pod (anti-)affinity matchLabelKeys
MATCH_LABEL_KEYS_IN_POD_TOPOLOGY_SPREAD: Version = (1, 27)
MIN_DOMAINS_IN_POD_TOPOLOGY_SPREAD: Version = (1, 27)
NODE_INCLUSION_POLICY_IN_POD_TOPOLOGY_SPREAD: Version = (1, 26)  # nodeAffinity/TaintsPolicy
# The most pods one cluster holds: the largest cluster Kubernetes supports (sig-scalability
# configs-and-limits/thresholds.md, #Pods at cluster scope; docs "Considerations for large
# clusters": no more than 150,000 total pods).
MAX_CLUSTER_PODS = 150_000


def scaled(value: IntOrPercent, total: int, *, round_up: bool) -> int:
    """An int stays; "N%" of `total`, rounded up or down.

    >>> scaled("25%", 10, round_up=True), scaled("25%", 10, round_up=False)
    (3, 2)
    """
    if isinstance(value, int):
        return value
    percent = int(value.rstrip("%"))
    exact = percent * total
    return -(-exact // 100) if round_up else math.floor(exact / 100)


def parse_version(raw: str) -> Version:
    """`v1.33.2`, `1.33+`, `1.33` -> (1, 33); ValueError otherwise.

    >>> parse_version("v1.35.1")
    (1, 35)
    """
    head = raw.strip().removeprefix("v")
    major, dot, rest = head.partition(".")
    minor = ""
    for ch in rest:
        if not ch.isdigit():
            break
        minor += ch
    if not (dot and major.isdigit() and minor):
        raise ValueError(f"cannot read Kubernetes version {raw!r}; use MAJOR.MINOR, e.g. 1.33")
    return int(major), int(minor)


def version_text(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def honours_statefulset_max_unavailable(version: Version) -> bool:
    return version >= MAX_UNAVAILABLE_STATEFULSET


def honours_affinity_match_label_keys(version: Version) -> bool:
    """The API server merges a pod (anti-)affinity term's `matchLabelKeys` into its selector
    with the new pod's label values (only then does a term count one revision, one instance)."""
    return version >= MATCH_LABEL_KEYS_IN_POD_AFFINITY


def honours_spread_node_taints_policy(version: Version) -> bool:
    return version >= NODE_INCLUSION_POLICY_IN_POD_TOPOLOGY_SPREAD


def honours_spread_min_domains(version: Version) -> bool:
    return version >= MIN_DOMAINS_IN_POD_TOPOLOGY_SPREAD


@dataclass(frozen=True, slots=True, kw_only=True)
class Strategy:
    """A rolling update as a workload carries it (percentages kept as written)."""

    max_unavailable: IntOrPercent
    max_surge: IntOrPercent
    partition: IntOrPercent = 0


DEPLOYMENT_DEFAULT = Strategy(max_unavailable="25%", max_surge="25%")
ORDERED_DEFAULT = Strategy(max_unavailable=1, max_surge=0)  # StatefulSet, LeaderWorkerSet


def default_strategy(kind: str) -> Strategy:
    return DEPLOYMENT_DEFAULT if kind == "Deployment" else ORDERED_DEFAULT


def surge_and_unavailable(strategy: Strategy, replicas: int) -> tuple[int, int]:
    """maxSurge (rounded up) and maxUnavailable (rounded down) for `replicas`, with
    Kubernetes' ResolveFenceposts rule: when both come to 0, one pod may be unavailable."""
    ms = scaled(strategy.max_surge, replicas, round_up=True)
    mu = scaled(strategy.max_unavailable, replicas, round_up=False)
    if ms == 0 and mu == 0:
        mu = 1
    return ms, mu


def statefulset_max_unavailable(value: IntOrPercent, replicas: int, version: Version) -> int:
    """Pods the StatefulSet controller takes down at once: 1 before Kubernetes 1.35; from
    1.35 `maxUnavailable` rounded down, at least 1 (pkg/controller/statefulset
    getStatefulSetMaxUnavailable: GetScaledValueFromIntOrPercent(..., false))."""
    if not honours_statefulset_max_unavailable(version):
        return 1
    return max(scaled(value, replicas, round_up=False), 1)


def written_zero(value: IntOrPercent) -> bool:
    """0 or "0%" as written: what Deployment and LWS validation refuse for both fields."""
    return value == 0 or value == "0%"


# --- the workload kinds ----------------------------------------------------------------------


def api_group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadShape:
    """Where a workload kind keeps its pods and its rollout."""

    api_version: str
    kind: str
    templates: tuple[Path, ...]
    rolling: Path | None  # the mapping with maxUnavailable / maxSurge / partition
    partition: bool  # whether `rolling` holds a partition
    size: Path | None = None  # pods per replica (LeaderWorkerSet groups)
    immutable: tuple[Path, ...] = ()

    @property
    def key(self) -> str:
        """`apiVersion/kind`, as a role names its workload."""
        return f"{self.api_version}/{self.kind}"

    @property
    def ordered(self) -> bool:
        """StatefulSet-backed (every kind but Deployment): pods by ordinal, labelled with
        `apps.kubernetes.io/pod-index`, updated from the highest ordinal down."""
        return self.kind != "Deployment"


STATEFULSET = WorkloadShape(
    api_version="apps/v1",
    kind="StatefulSet",
    templates=(("spec", "template"),),
    rolling=("spec", "updateStrategy", "rollingUpdate"),
    partition=True,
)
DEPLOYMENT = WorkloadShape(
    api_version="apps/v1",
    kind="Deployment",
    templates=(("spec", "template"),),
    rolling=("spec", "strategy", "rollingUpdate"),
    partition=False,
    immutable=(("spec", "selector"),),
)
LEADERWORKERSET = WorkloadShape(
    api_version="leaderworkerset.x-k8s.io/v1",
    kind="LeaderWorkerSet",
    templates=(
        ("spec", "leaderWorkerTemplate", "leaderTemplate"),
        ("spec", "leaderWorkerTemplate", "workerTemplate"),
    ),
    rolling=("spec", "rolloutStrategy", "rollingUpdateConfiguration"),
    partition=True,
    size=("spec", "leaderWorkerTemplate", "size"),
    immutable=(("spec", "leaderWorkerTemplate", "size"),),
)
WORKLOADS: Mapping[tuple[str, str], WorkloadShape] = {
    (api_group(shape.api_version), shape.kind): shape
    for shape in (STATEFULSET, DEPLOYMENT, LEADERWORKERSET)
}
WORKLOAD_KINDS = frozenset(shape.kind for shape in WORKLOADS.values())
_BY_KEY = {shape.key: shape for shape in WORKLOADS.values()}


class WorkloadKind(enum.StrEnum):
    """The workload kinds a role can be: `apiVersion/kind` of `k8s/py`'s table,
    which says everything else about each (templates, rollout, pods per replica)."""

    STATEFULSET = STATEFULSET.key
    DEPLOYMENT = DEPLOYMENT.key
    LEADERWORKERSET = LEADERWORKERSET.key

    @property
    def shape(self) -> WorkloadShape:
        return shape_of_key(self.value)

    @property
    def kind(self) -> str:
        return self.shape.kind

    @property
    def api_version(self) -> str:
        return self.shape.api_version


# Everything in a StatefulSet's spec is immutable except these (the API server's update check).
STATEFULSET_MUTABLE = frozenset(
    {
        "replicas",
        "ordinals",
        "template",
        "updateStrategy",
        "revisionHistoryLimit",
        "persistentVolumeClaimRetentionPolicy",
        "minReadySeconds",
    }
)


def shape_of_key(key: str) -> WorkloadShape:
    """The shape of a compiled kind by `apiVersion/kind`; KeyError for any other."""
    return _BY_KEY[key]


def shape_of(body: Mapping[str, Any]) -> WorkloadShape | None:
    """The kind's shape, for a body of a workload kind (any API version of its group)."""
    return WORKLOADS.get((api_group(str(body.get("apiVersion", ""))), str(body.get("kind", ""))))


def _count(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def replicas(body: Mapping[str, Any]) -> int:
    """`spec.replicas`, defaulted to 1 as the API server does."""
    return _count(find(body, ("spec", "replicas")), 1)


def pods_per_replica(body: Mapping[str, Any]) -> int:
    shape = shape_of(body)
    return _count(find(body, shape.size), 1) if shape and shape.size else 1


def pods(body: Mapping[str, Any]) -> int:
    """How many pods an object runs (0 for objects that are not workloads)."""
    return replicas(body) * pods_per_replica(body) if shape_of(body) else 0


def _int_or_percent(value: Any, default: IntOrPercent) -> IntOrPercent:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return value
    return default


def strategy_of(body: Mapping[str, Any]) -> Strategy:
    """The rolling strategy a workload body carries, defaulted as its kind is."""
    shape = shape_of(body)
    kind = shape.kind if shape else str(body.get("kind", ""))
    default = default_strategy(kind)
    rolling = find(body, shape.rolling) if shape and shape.rolling else None
    if not isinstance(rolling, Mapping):
        return default
    return Strategy(
        max_unavailable=_int_or_percent(rolling.get("maxUnavailable"), default.max_unavailable),
        max_surge=_int_or_percent(rolling.get("maxSurge"), default.max_surge),
        partition=_int_or_percent(rolling.get("partition"), 0) if shape and shape.partition else 0,
    )


def partition_path(shape: WorkloadShape) -> Path | None:
    return (*shape.rolling, "partition") if shape.rolling and shape.partition else None


# --- readiness ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Readiness:
    """What a workload's status says. LeaderWorkerSet counts groups, the others pods."""

    replicas: int  # spec.replicas: what was asked
    current: int  # status.replicas: what exists (surge and old Deployment pods included)
    ready: int
    updated: int  # at the newest template
    observed: bool  # the controller has seen the latest spec (observedGeneration)

    def describe(self) -> str:
        return f"{self.ready}/{self.replicas} ready, {self.updated}/{self.replicas} updated"

    def reaches(self, replicas: int, updated: int, *, settle: bool) -> bool:
        """The controller has seen the spec asking for `replicas`, every one of them is ready
        and at least `updated` run the newest template; `settle`: no surplus pods (surge or
        old Deployment pods) remain either. Between waves this is upstream's dependency gate
        (rbg-semantics.md §5.1, §11), stricter than v0.4.0 for LeaderWorkerSet (ready ==
        spec.replicas, not status.replicas, which a fresh LWS reports as 0/0)."""
        return (
            self.observed
            and self.replicas == replicas
            and self.ready >= replicas
            and self.updated >= updated
            and (not settle or self.current <= replicas)
        )


def readiness(body: Mapping[str, Any]) -> Readiness | None:
    """A workload's readiness from its status; None for kinds that have none to wait for."""
    if body.get("kind") not in WORKLOAD_KINDS:
        return None
    status = body.get("status")
    status = status if isinstance(status, Mapping) else {}
    generation = find(body, ("metadata", "generation"))
    seen = status.get("observedGeneration")
    return Readiness(
        replicas=replicas(body),
        current=_count(status.get("replicas"), 0),
        ready=_count(status.get("readyReplicas"), 0),
        updated=_count(status.get("updatedReplicas"), 0),
        # LeaderWorkerSet has no observedGeneration: its status is read as it stands.
        observed=not isinstance(generation, int) or not isinstance(seen, int) or seen >= generation,
    )
