"""The simulator's pods and nodes: what a kubelet and the Job controller show, for in-place
updates and warm-ups (simulator.py plays the workload controllers over these).

- A pod has an identity (uid, node) that lives as long as the pod: an in-place update keeps
  it, a recreation gives a new one. Its Ready condition is its containers' readiness and every
  readiness gate it carries (`InPlaceUpdateReady` on in-place pods), as the kubelet computes it.
- A patch of a pod may change only what Kubernetes' pod update validation lets a live pod
  change (containers' images, metadata); a changed image restarts that container, which runs
  the new image once the node has pulled it (restartCount + 1, as the kubelet counts it).
- Time to readiness, in simulated seconds: `ready_after` by default; with `Costs`, scheduling
  (a new pod), the pulls of images the node does not hold (size / the node's bandwidth) and
  the model load, per pod start: what a warm-up saves is the pull.
- A warm-up Job runs one pod on the node its affinity pins: it pulls its images into that
  node's cache and completes; `fail_warmup` makes a node's pulls fail, retried up to the
  Job's backoffLimit (the Job controller's rule: failed pods beyond it fail the Job).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rbgc.jsonpath import find
from rbgc.k8s import conventions as cv
from rbgc.sync.cluster import ClusterError, Object


@dataclass(frozen=True, slots=True, kw_only=True)
class Costs:
    """What a pod start costs, in seconds: scheduling a new pod, pulling images the node does
    not hold (size / bandwidth, sequential on a node), loading the model."""

    image_gb: Mapping[str, float] = field(default_factory=dict)
    default_gb: float = 0.0
    bandwidth_gbps: float = 1.0  # per node
    load_seconds: int = 0
    schedule_seconds: int = 0

    def pull(self, images: tuple[str, ...], cached: set[str]) -> int:
        size = sum(self.image_gb.get(i, self.default_gb) for i in set(images) - cached)
        return math.ceil(size / self.bandwidth_gbps) if size else 0


@dataclass(slots=True)
class Pod:
    ordinal: int
    revision: str
    images: tuple[str, ...]  # the images of its spec, sorted (faults read them)
    age: int = 0
    ready: bool = False
    restarts: int = 0
    uid: str = ""
    node: str = ""
    spec_images: dict[str, str] = field(default_factory=dict)  # container -> image
    running: dict[str, str] = field(default_factory=dict)  # container -> image it runs
    needed: int = 0  # seconds from its (re)start until its containers are ready
    containers_ready: bool = False
    gated: bool = False  # carries the InPlaceUpdateReady readiness gate
    gate: dict[str, str] | None = None  # that condition, as last patched
    labels: dict[str, str] = field(default_factory=dict)  # set by patches
    annotations: dict[str, str] = field(default_factory=dict)

    def compute_ready(self) -> None:
        open_gate = not self.gated or (self.gate or {}).get("status") == "True"
        self.ready = self.containers_ready and open_gate


def pod_object(
    name: str, namespace: str, workload: str, template: Mapping[str, Any], pod: Pod
) -> Object:
    """The pod as the API server would show it (the fields rbgc reads)."""
    meta = template.get("metadata") or {}
    labels = {**dict(meta.get("labels") or {}), **pod.labels}
    labels[cv.REVISION_LABEL] = f"{workload}-{pod.revision}"
    annotations = {**dict(meta.get("annotations") or {}), **pod.annotations}
    spec = dict(template.get("spec") or {})
    containers = [dict(c) for c in spec.get("containers") or [{"name": "main"}]]
    for c in containers:
        c["image"] = pod.spec_images.get(str(c.get("name")), c.get("image", ""))
    conditions: list[Object] = []
    if pod.gate is not None:
        conditions.append(dict(pod.gate))
    conditions.append({"type": "ContainersReady", "status": str(pod.containers_ready)})
    conditions.append({"type": "Ready", "status": str(pod.ready)})
    body: Object = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": pod.uid,
            "labels": labels,
            "resourceVersion": "",
        },
        "spec": {"nodeName": pod.node, "containers": containers},
        "status": {
            "phase": "Running",
            "conditions": conditions,
            "containerStatuses": [
                {
                    "name": str(c.get("name")),
                    "image": pod.running.get(str(c.get("name")), str(c.get("image", ""))),
                    "ready": pod.containers_ready,
                    "restartCount": pod.restarts,
                }
                for c in containers
            ],
        },
    }
    if annotations:
        body["metadata"]["annotations"] = annotations
    if spec.get("readinessGates"):
        body["spec"]["readinessGates"] = spec["readinessGates"]
    return body


def patch_pod(pod: Pod, workload: str, patch: Mapping[str, Any], subresource: str) -> bool:
    """Apply a strategic merge patch (lists by name / type) to a pod; whether an image changed.
    Refuses what a live pod cannot change, as the API server does (422)."""
    if subresource == "status":
        for c in (patch.get("status") or {}).get("conditions") or ():
            if c.get("type") == cv.IN_PLACE_READY:
                pod.gate = {k: str(v) for k, v in c.items()}
        pod.compute_ready()
        return False
    meta = patch.get("metadata") or {}
    for key, value in (meta.get("labels") or {}).items():
        if key == cv.REVISION_LABEL:
            pod.revision = str(value).removeprefix(f"{workload}-")
        elif value is None:
            pod.labels.pop(key, None)
        else:
            pod.labels[key] = str(value)
    for key, value in (meta.get("annotations") or {}).items():
        if value is None:
            pod.annotations.pop(key, None)
        else:
            pod.annotations[key] = str(value)
    spec = patch.get("spec") or {}
    extra = sorted(set(spec) - {"containers"})
    fields = [f for c in spec.get("containers") or () for f in c if f not in ("name", "image")]
    if extra or fields:
        raise ClusterError(
            422,
            "Invalid",
            "spec: Forbidden: pod updates may not change fields other than "
            "`spec.containers[*].image`,`spec.initContainers[*].image`,"
            "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
            "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it "
            "was previously negative)",
        )
    changed = False
    for c in spec.get("containers") or ():
        name, image = str(c.get("name")), str(c.get("image", ""))
        if name in pod.spec_images and pod.spec_images[name] != image:
            pod.spec_images[name] = image
            changed = True
    if changed:
        pod.images = tuple(sorted(set(pod.spec_images.values())))
        pod.restarts += 1  # the kubelet restarts the container with the new image
        pod.age, pod.containers_ready = 0, False
        pod.compute_ready()
    return changed


def pinned_node(job: Mapping[str, Any]) -> str | None:
    """The node a warm-up Job's pod is pinned to (matchFields metadata.name In [node])."""
    terms = find(
        job,
        (
            "spec",
            "template",
            "spec",
            "affinity",
            "nodeAffinity",
            "requiredDuringSchedulingIgnoredDuringExecution",
            "nodeSelectorTerms",
        ),
    )
    for term in terms or ():
        for field_ in term.get("matchFields") or ():
            if field_.get("key") == "metadata.name" and field_.get("values"):
                return str(field_["values"][0])
    return None


def job_images(job: Mapping[str, Any]) -> tuple[str, ...]:
    spec = find(job, ("spec", "template", "spec")) or {}
    return tuple(str(c.get("image", "")) for c in spec.get("containers") or ())


@dataclass(slots=True)
class JobRun:
    """A Job's one pod at a time: when it started and when its pulls end."""

    started: int = -1
    ends: int = -1
    failed: int = 0
    done: bool = False
    conditions: list[Object] = field(default_factory=list)


def job_status(run: JobRun) -> Object:
    status: Object = {"active": 0 if run.done else int(run.started >= 0)}
    if run.failed:
        status["failed"] = run.failed
    if run.conditions:
        status["conditions"] = run.conditions
        if run.conditions[0]["type"] == "Complete":
            status["succeeded"] = 1
    return status
