"""What a change to one compiled object does to the running pods.

Every changed field falls in exactly one class; an object's classes are the set of its
fields' classes, most disruptive first:

    recreate   an immutable field changed: the object must be deleted and created again
    restarts   the pod template changed: the workload rolls its pods to the new template
    scale      `replicas` changed: pods are added or removed, none restarts
    config     any other content (ConfigMap data, Service ports, rollout strategy): pods run on
    metadata   only labels or annotations of the object itself

Immutable fields are those the API server refuses to update (StatefulSet: everything in
`spec` but replicas, ordinals, template, updateStrategy, revisionHistoryLimit,
persistentVolumeClaimRetentionPolicy and minReadySeconds; Deployment and Job: `selector`;
Job: `template`; Service: `clusterIP(s)`; LeaderWorkerSet: `leaderWorkerTemplate.size`; an
`immutable: true` ConfigMap or Secret: its data).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any

from rbgc.jsonpath import find
from rbgc.k8s import controllers
from rbgc.k8s import conventions as cv
from rbgc.k8s.controllers import Path, pods, replicas


class ChangeClass(enum.StrEnum):
    RECREATE = "recreate"
    RESTARTS = "restarts"
    SCALE = "scale"
    CONFIG = "config"
    METADATA = "metadata"

    @property
    def rank(self) -> int:
        return list(ChangeClass).index(self)


def ordered(classes: Iterable[ChangeClass]) -> tuple[ChangeClass, ...]:
    return tuple(sorted(set(classes), key=lambda c: c.rank))


# (api group, kind) -> spec paths the API server refuses to change, beyond the workloads'.
_IMMUTABLE: Mapping[tuple[str, str], tuple[Path, ...]] = {
    ("apps", "ReplicaSet"): (("spec", "selector"),),
    ("apps", "DaemonSet"): (("spec", "selector"),),
    ("batch", "Job"): (("spec", "selector"), ("spec", "template")),
    ("", "Service"): (("spec", "clusterIP"), ("spec", "clusterIPs")),
    **{key: shape.immutable for key, shape in controllers.WORKLOADS.items()},
}


def classify(api_group: str, kind: str, old: Mapping[str, Any], path: Path) -> ChangeClass:
    """The class of one changed field at `path` of an object (`old` is its previous body)."""
    if not path or path[0] in ("apiVersion", "kind"):
        return ChangeClass.METADATA
    if path[0] == "metadata":
        return ChangeClass.METADATA
    key = (api_group, kind)
    if kind in ("ConfigMap", "Secret") and api_group == "":
        # An immutable ConfigMap/Secret refuses any data change, and cannot become mutable.
        return ChangeClass.RECREATE if old.get("immutable") is True else ChangeClass.CONFIG
    if key == ("apps", "StatefulSet") and path[0] == "spec":
        if len(path) == 1 or path[1] not in controllers.STATEFULSET_MUTABLE:
            return ChangeClass.RECREATE
    if any(path[: len(p)] == p for p in _IMMUTABLE.get(key, ())):
        return ChangeClass.RECREATE
    shape = controllers.WORKLOADS.get(key)
    if shape is not None:
        if any(path[: len(t)] == t for t in shape.templates):
            return ChangeClass.RESTARTS
        if path == ("spec", "replicas"):
            return ChangeClass.SCALE
    return ChangeClass.CONFIG


def restarts(
    api_group: str,
    kind: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    classes: tuple[ChangeClass, ...],
) -> int:
    """Pods replaced by this change: old pods that are terminated and whose place a pod at the
    new template takes.

    Pods added by a scale-up start at the new template and pods removed by a scale-down are
    not replaced, so neither counts. A StatefulSet or LeaderWorkerSet keeps the ordinals
    below the new `partition` at the old template. A recreate terminates every old pod; as
    many of them as NEW runs are replaced, the rest are removed.
    """
    shape = controllers.WORKLOADS.get((api_group, kind))
    if shape is None:
        return 0
    if ChangeClass.RECREATE in classes:
        return min(pods(old), pods(new))
    if ChangeClass.RESTARTS not in classes:
        return 0
    kept = min(replicas(old), replicas(new))
    where = controllers.partition_path(shape)
    partition = find(new, where) if where else 0
    held = partition if isinstance(partition, int) else 0
    return max(kept - held, 0) * controllers.pods_per_replica(new)


def consequences(
    api_group: str,
    kind: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    classes: tuple[ChangeClass, ...],
    immutable_paths: tuple[str, ...],
) -> tuple[str, ...]:
    """What applying the change means, in words a reviewer acts on."""
    out: list[str] = []
    n_old = pods(old)
    if ChangeClass.RECREATE in classes:
        fields = ", ".join(immutable_paths)
        out.append(
            f"{fields} cannot be changed in place: `kubectl apply` and an Argo CD sync fail "
            "with 'Forbidden' until the object is deleted and created again "
            "(Argo CD: sync option Replace=true)"
        )
        if n_old:
            out.append(
                f"deleting it terminates all {n_old} pod(s) at once: no rolling update, "
                "no capacity until the new pods are ready"
            )
        if kind == "StatefulSet":
            out.append(
                "PersistentVolumeClaims of volumeClaimTemplates outlive the StatefulSet and are "
                "re-attached by ordinal; `kubectl delete --cascade=orphan` keeps the pods "
                "running while the object is replaced"
            )
    if ChangeClass.SCALE in classes:
        r_old, r_new = replicas(old), replicas(new)
        verb = "added" if r_new > r_old else "removed"
        out.append(f"replicas {r_old} -> {r_new}: {abs(r_new - r_old)} replica(s) {verb}")
    if ChangeClass.CONFIG in classes and kind == "ConfigMap":
        managed = find(new, ("metadata", "labels", cv.MANAGED_BY)) == cv.MANAGER
        if managed and find(new, ("data", cv.CONFIG_KEY)) is not None:
            out.append(
                "discovery file /etc/rbg/config.yaml: running pods see the new content after "
                "the kubelet's next sync, without a restart; a process that reads it only at "
                "start-up keeps the old view until its pod restarts"
            )
    return tuple(out)
