"""In-place updates: what a live pod can take without being recreated, declared once.

Kubernetes lets an update of a running pod change only `spec.containers[*].image`,
`spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, added `spec.tolerations` and
`spec.terminationGracePeriodSeconds` (to 1 from a negative value), and its metadata (pod update
validation: `ValidatePodUpdate` and `updatablePodSpecFields`, kubernetes
pkg/apis/core/validation/validation.go). Upstream RBG narrows that to what it updates in place
(pkg/inplace/pod/inplaceupdate/inplace_update_defaults.go `defaultCalculateInPlaceUpdateSpec`,
and :42's pattern `^/spec/containers/([0-9]+)/image$`): images of `containers` replaced, and
the template's metadata; any other change recreates the pod. rbgc follows upstream: an init
container has run already, so a new image there would never run in the pod.

A workload compiled for in-place updates (passes/inplace.py) is a StatefulSet with
`updateStrategy: OnDelete`, so its controller leaves pods alone; it records the role's update
(`rbgc.io/in-place-update`), and its pods carry the readiness gate `InPlaceUpdateReady` and the
hash of what a live pod cannot change (`rbgc.io/pod-shape`). Pure functions on plain dicts.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rbgc.jsonpath import find
from rbgc.k8s import conventions as cv
from rbgc.k8s.controllers import IntOrPercent, Strategy

IN_PLACE_TYPES = ("InPlaceIfPossible", "InPlaceOnly")  # upstream's default: InPlaceIfPossible
RECREATE = "RecreatePod"


@dataclass(frozen=True, slots=True, kw_only=True)
class InPlace:
    """A workload's in-place update, as compiled: upstream's `rollingUpdate.type` and
    `inPlaceUpdateStrategy.gracePeriodSeconds` (seconds between a pod leaving its Services and
    its images changing)."""

    type: str
    grace_period: int = 0

    @property
    def only(self) -> bool:
        """`InPlaceOnly`: a change a live pod cannot take is refused, not a recreation."""
        return self.type == "InPlaceOnly"


def record(update: InPlace, strategy: Strategy) -> str:
    """The annotation an in-place workload carries: its update and the rolling fields that an
    `OnDelete` StatefulSet cannot hold (the API server refuses `rollingUpdate` beside it)."""
    value = {
        "type": update.type,
        "gracePeriodSeconds": update.grace_period,
        "maxUnavailable": strategy.max_unavailable,
        "partition": strategy.partition,
    }
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _recorded(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if find(body, ("spec", "updateStrategy", "type")) != "OnDelete":
        return None
    text = find(body, ("metadata", "annotations", cv.IN_PLACE_UPDATE))
    try:
        found = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return found if isinstance(found, Mapping) else None


def compiled(body: Mapping[str, Any]) -> InPlace | None:
    """The in-place update a compiled (or applied) workload carries; None: not in place."""
    found = _recorded(body)
    if found is None or found.get("type") not in IN_PLACE_TYPES:
        return None
    grace = found.get("gracePeriodSeconds")
    return InPlace(type=str(found["type"]), grace_period=grace if isinstance(grace, int) else 0)


def strategy(body: Mapping[str, Any], max_surge: IntOrPercent) -> Strategy | None:
    """The rolling strategy an in-place workload records (None: not an in-place workload)."""
    found = _recorded(body)
    if found is None:
        return None

    def amount(key: str, default: IntOrPercent) -> IntOrPercent:
        value = found.get(key)
        return value if isinstance(value, int | str) and not isinstance(value, bool) else default

    return Strategy(
        max_unavailable=amount("maxUnavailable", 1),
        max_surge=max_surge,
        partition=amount("partition", 0),
    )


def images(template: Mapping[str, Any]) -> dict[str, str]:
    """Container name -> image of a pod template (or a pod)."""
    containers = find(template, ("spec", "containers"))
    return {
        str(c.get("name")): str(c.get("image", ""))
        for c in containers or ()
        if isinstance(c, Mapping)
    }


def shape(template: Mapping[str, Any]) -> str:
    """sha256 of what a live pod cannot change (upstream's rule): the template's spec with the
    containers' images blanked. Two templates of one shape differ only in place."""
    spec = copy.deepcopy(dict(template.get("spec") or {}))
    for c in spec.get("containers") or ():
        if isinstance(c, dict):
            c.pop("image", None)
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def in_place_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether a pod at template `old` can become `new` without being recreated."""
    return shape(old) == shape(new)


def pod_patch(
    template: Mapping[str, Any], revision: str, old: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The strategic merge patch that takes a live pod to `template` in place: container images
    by name, the template's labels and annotations (those only `old` had removed), and the
    workload's revision label, so its controller counts the pod as updated."""
    meta = template.get("metadata") or {}
    before = (old or {}).get("metadata") or {}
    patch_meta: dict[str, Any] = {}
    for field in ("labels", "annotations"):
        want = dict(meta.get(field) or {})
        gone = {k: None for k in before.get(field) or {} if k not in want}
        if want or gone:
            patch_meta[field] = {**gone, **want}
    patch_meta.setdefault("labels", {})[cv.REVISION_LABEL] = revision
    containers = [{"name": n, "image": i} for n, i in sorted(images(template).items())]
    return {"metadata": patch_meta, "spec": {"containers": containers}}


# --- pod state -------------------------------------------------------------------------------


def condition(pod: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for c in find(pod, ("status", "conditions")) or ():
        if isinstance(c, Mapping) and c.get("type") == kind:
            return c
    return None


def gated(pod: Mapping[str, Any]) -> bool:
    """The pod carries the in-place readiness gate (it was created from an in-place template)."""
    gates = find(pod, ("spec", "readinessGates")) or ()
    return any(
        isinstance(g, Mapping) and g.get("conditionType") == cv.IN_PLACE_READY for g in gates
    )


def gate_open(pod: Mapping[str, Any]) -> bool:
    found = condition(pod, cv.IN_PLACE_READY)
    return found is not None and found.get("status") == "True"


def normalized(image: str) -> str:
    """An image reference as container runtimes report it: `nginx` is
    `docker.io/library/nginx:latest`."""
    name, digest = image.split("@", 1) if "@" in image else (image, "")
    first = name.split("/", 1)[0]
    if "/" not in name or ("." not in first and ":" not in first and first != "localhost"):
        name = "docker.io/" + (name if "/" in name else f"library/{name}")
    if ":" not in name.rsplit("/", 1)[-1] and not digest:
        name += ":latest"
    return f"{name}@{digest}" if digest else name


def runs_spec(pod: Mapping[str, Any]) -> bool:
    """Every container of the pod's spec runs, ready, with the image the spec names."""
    want = images(pod)
    seen = {
        str(s.get("name")): s
        for s in find(pod, ("status", "containerStatuses")) or ()
        if isinstance(s, Mapping)
    }
    for name, image in want.items():
        status = seen.get(name)
        if status is None or status.get("ready") is not True:
            return False
        if normalized(str(status.get("image", ""))) != normalized(image):
            return False
    return True


def gate_condition(open_: bool, reason: str, now: str) -> dict[str, Any]:
    """The `InPlaceUpdateReady` condition as upstream writes it (inplace_update.go:146-151,
    :234-239): False with reason `StartInPlaceUpdate` before the images change, True after."""
    found: dict[str, Any] = {
        "type": cv.IN_PLACE_READY,
        "status": "True" if open_ else "False",
        "lastTransitionTime": now,
    }
    if reason:
        found["reason"] = reason
    return found
