"""A warm-up as Kubernetes Jobs: one Job per target node, its one pod pinned there.

Upstream's controller makes one warm-up pod per node (`buildWarmupPod`,
internal/controller/workloads/rolebasedgroupwarmup_controller.go:535-632): a container per
distinct image whose command exits at once (`sh -c "exit 0"`, `IfNotPresent`: the kubelet pulls
the image, nothing runs), then the customized containers (deduplicated by their spec without
the name, renamed `custom-N`), volumes first-wins by name, pull secrets at pod level
deduplicated by name, `restartPolicy: Never`, the warm-up's tolerations. rbgc wraps that pod in
a Job so that plain Kubernetes carries out the policies:

- the node pin is the DaemonSet controller's (`ReplaceDaemonSetPodNodeNameNodeAffinity`,
  kubernetes pkg/controller/daemon/util/daemonset_util.go): required node affinity on the
  node's `metadata.name`, which the scheduler honours with taints and tolerations; upstream's
  `nodeSelector: {kubernetes.io/hostname: node}` misses nodes whose hostname label differs
  from their name;
- `backoffLimitPerNode` is the Job's `backoffLimit` (both: failed pods beyond it fail the node);
  unset, retried for ever, is the largest backoffLimit;
- `globalTimeoutSeconds` is each Job's `activeDeadlineSeconds` (from that Job's start);
- `ttlSecondsAfterFinished` is each Job's (from that Job's end);
- `paused` is `suspend: true`;
- `parallelism` N puts the sorted nodes in batches of N, one sync wave each (Argo CD and
  `rbgc sync` start a wave when the previous one is healthy).

The build lowers what it resolved; `rbgc sync` calls the same function for nodes it finds.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rbgc.k8s import conventions as cv
from rbgc.warmup.spec import Actions, Warmup

MAX_BACKOFF_LIMIT = 2147483647  # int32: "retried for ever", as upstream's unset limit
PRELOAD_COMMAND = ("sh", "-c", "exit 0")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@dataclass(frozen=True, slots=True, kw_only=True)
class WarmupPod:
    """One node's warm-up pod spec, and whether two roles' volumes of one name differed
    (upstream's `VolumeConflict`: the first definition wins)."""

    spec: dict[str, Any]
    volume_conflicts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class WarmupJob:
    """One node's Job, its batch's wave, and the volume names two roles defined apart."""

    node: str
    wave: int
    body: dict[str, Any]
    volume_conflicts: tuple[str, ...] = ()


def job_name(warmup: str, node: str) -> str:
    """`{warmup}-{node}` when it fits a Job's 63 characters (its name is a pod label value),
    else a cut with a hash of the node name, so that two long node names never collide."""
    name = f"{warmup}-{node}"
    if len(name) <= 63:
        return name
    digest = hashlib.sha1(node.encode()).hexdigest()[:8]
    head = name[: 63 - len(digest) - 1].rstrip("-.")
    return f"{head}-{digest}"


def pod_spec(warmup: Warmup, node: str, actions: Sequence[Actions]) -> WarmupPod:
    """`buildWarmupPod` of upstream's controller, for one node and the actions it gets."""
    containers: list[dict[str, Any]] = []
    images: set[str] = set()
    for action in actions:
        for image in action.images:
            if image not in images:
                images.add(image)
                containers.append(
                    {
                        "name": f"image-preload-{len(containers)}",
                        "image": image,
                        "command": list(PRELOAD_COMMAND),
                        "imagePullPolicy": "IfNotPresent",
                    }
                )
    secrets = list(dict.fromkeys(s for a in actions for s in a.pull_secrets))
    seen: set[str] = set()
    volumes: dict[str, Mapping[str, Any]] = {}
    conflicts: list[str] = []
    for action in actions:
        for container in action.containers:
            unnamed = {k: v for k, v in container.items() if k != "name"}
            digest = json.dumps(unnamed, sort_keys=True)
            if digest in seen:
                continue
            seen.add(digest)
            containers.append(
                {**copy.deepcopy(dict(container)), "name": f"custom-{len(containers)}"}
            )
        for volume in action.volumes:
            name = str(volume["name"])
            if name in volumes:
                if volumes[name] != volume and name not in conflicts:
                    conflicts.append(name)
                continue
            volumes[name] = volume
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "affinity": pinned_to(node),
        "containers": containers,
    }
    if volumes:
        spec["volumes"] = [copy.deepcopy(dict(v)) for v in volumes.values()]
    if secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in secrets]
    if warmup.tolerations:
        spec["tolerations"] = [copy.deepcopy(dict(t)) for t in warmup.tolerations]
    return WarmupPod(spec=spec, volume_conflicts=tuple(conflicts))


def pinned_to(node: str) -> dict[str, Any]:
    """Required node affinity on the node's name, as the DaemonSet controller pins its pods."""
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}
        }
    }


def labels(warmup: Warmup, node: str) -> dict[str, str]:
    out = {cv.WARMUP_NAME_LABEL: warmup.name}
    if len(node) <= 63 and _LABEL_VALUE.match(node):
        out[cv.WARMUP_NODE_LABEL] = node
    return out


def job(warmup: Warmup, node: str, actions: Sequence[Actions], *, wave: int) -> WarmupJob:
    """The Job that warms `node` up; `wave`: its batch's sync wave."""
    pod = pod_spec(warmup, node, actions)
    policies = warmup.policies
    spec: dict[str, Any] = {}
    if warmup.paused:
        spec["suspend"] = True
    limit = policies.backoff_limit_per_node
    spec["backoffLimit"] = MAX_BACKOFF_LIMIT if limit is None else limit
    if policies.global_timeout_seconds is not None:
        spec["activeDeadlineSeconds"] = policies.global_timeout_seconds
    if policies.ttl_seconds_after_finished is not None:
        spec["ttlSecondsAfterFinished"] = policies.ttl_seconds_after_finished
    spec["template"] = {"metadata": {"labels": labels(warmup, node)}, "spec": pod.spec}
    body = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(warmup.name, node),
            "namespace": warmup.namespace,
            "labels": {**labels(warmup, node), cv.MANAGED_BY: cv.MANAGER},
            "annotations": {cv.SYNC_WAVE: str(wave), cv.WARMUP_NODE_ANNOTATION: node},
        },
        "spec": spec,
    }
    return WarmupJob(node=node, wave=wave, body=body, volume_conflicts=pod.volume_conflicts)


def batch_wave(warmup: Warmup, index: int) -> int:
    """The sync wave of the `index`-th node (sorted): batches of `parallelism`."""
    size = warmup.policies.parallelism
    return warmup.wave + (index // size if size else 0)


def jobs(warmup: Warmup, nodes: Mapping[str, tuple[str, ...]]) -> tuple[WarmupJob, ...]:
    """A Job per node, in node-name order (upstream's `sort.Strings`), for the roles each node
    runs (targetRoleBasedGroup; ignored for targetNodes). Nodes with no action are skipped."""
    out: list[WarmupJob] = []
    for node in sorted(nodes):
        actions = warmup.actions_for(nodes[node])
        if actions:
            out.append(job(warmup, node, actions, wave=batch_wave(warmup, len(out))))
    return tuple(out)
