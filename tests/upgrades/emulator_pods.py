"""tests/sync/emulator.py's API server with pods, for in-place updates and warm-ups over HTTP.

Added to the emulator (kmock's, extended by tests/sync/emulator.py):
- a toy StatefulSet controller that keeps real Pod objects: `{name}-{i}` with a UID and a node
  (`node-{name}-{i}`, kept while the pod lives), the template's labels plus
  `controller-revision-hash: {name}-{hash}`; `OnDelete` leaves pods alone on a template change
  (a deleted pod comes back at the new revision, with a new UID), `RollingUpdate` recreates the
  pods not at the new revision; its status counts Ready pods and pods at `updateRevision`;
- a toy kubelet: a pod's containers run their spec's images (at once) and are ready; a patched
  image restarts its container (`restartCount` + 1); the pod's Ready condition is its
  containers' readiness and every readiness gate's condition True (KEP-580);
- strategic merge patches (`application/strategic-merge-patch+json`) of pods and their
  `status`, merging containers by name and conditions by type, and refusing (422) a pod spec
  change Kubernetes' pod update validation refuses (`ValidatePodUpdate`);
- a toy Job controller: a Job is Complete as soon as it is written, unless its node (its pod's
  `matchFields` pin) is in `failing_nodes`: then it is Failed.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import aiohttp.web

from tests.sync.emulator import ApiServer, _status

PODS = "v1/pods"
STATEFULSETS = "apps/v1/statefulsets"
JOBS = "batch/v1/jobs"
STRATEGIC = "application/strategic-merge-patch+json"
GATE = "InPlaceUpdateReady"


def _revision(sts: Mapping[str, Any]) -> str:
    template = json.dumps(sts["spec"]["template"], sort_keys=True)
    return f"{sts['metadata']['name']}-{hashlib.sha256(template.encode()).hexdigest()[:10]}"


def _merge_list(old: list[dict[str, Any]], new: list[dict[str, Any]], key: str) -> list[Any]:
    out = [copy.deepcopy(item) for item in old]
    for item in new:
        found = next((o for o in out if o.get(key) == item.get(key)), None)
        if found is None:
            out.append(copy.deepcopy(item))
        else:
            found.update(copy.deepcopy(item))
    return out


class PodServer(ApiServer):
    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.uids = 0
        self.failing_nodes: set[str] = set()
        self.patches: list[tuple[str, str, dict[str, Any]]] = []  # (pod, subresource, patch)

    # --- the toy kubelet -------------------------------------------------------------------

    def _ready(self, pod: dict[str, Any]) -> None:
        status = pod.setdefault("status", {})
        statuses = {c["name"]: c for c in status.get("containerStatuses") or ()}
        running = []
        for c in pod["spec"]["containers"]:
            seen = statuses.get(c["name"], {"restartCount": 0})
            restarts = int(seen.get("restartCount", 0))
            if "image" in seen and seen["image"] != c["image"]:
                restarts += 1  # the kubelet restarts the container with the new image
            running.append(
                {"name": c["name"], "image": c["image"], "ready": True, "restartCount": restarts}
            )
        status["phase"] = "Running"
        status["containerStatuses"] = running
        gates = [g["conditionType"] for g in pod["spec"].get("readinessGates") or ()]
        conditions = [c for c in status.get("conditions") or () if c["type"] in gates]
        opened = all(
            any(c["type"] == g and c["status"] == "True" for c in conditions) for g in gates
        )
        conditions.append({"type": "ContainersReady", "status": "True"})
        conditions.append({"type": "Ready", "status": "True" if opened else "False"})
        status["conditions"] = conditions

    def _pod(self, sts: Mapping[str, Any], ordinal: int) -> dict[str, Any]:
        self.uids += 1
        meta = sts["metadata"]
        template = copy.deepcopy(sts["spec"]["template"])
        name = f"{meta['name']}-{ordinal}"
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        labels["controller-revision-hash"] = _revision(sts)
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": meta.get("namespace", ""),
                "uid": f"pod-uid-{self.uids}",
                "labels": labels,
                "annotations": dict((template.get("metadata") or {}).get("annotations") or {}),
            },
            "spec": {**template.get("spec", {}), "nodeName": f"node-{name}"},
        }
        self._ready(pod)
        return pod

    def _store_pod(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        key = (PODS, meta["namespace"], meta["name"])
        self.version = next(self.revision)
        meta["resourceVersion"] = str(self.version)
        kind = "MODIFIED" if key in self.store else "ADDED"
        self.store[key] = pod
        self._event(kind, PODS, pod)

    # --- the toy StatefulSet controller ------------------------------------------------------

    def _reconcile(self, sts: dict[str, Any]) -> None:
        meta = sts["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        want = int(sts["spec"].get("replicas", 1))
        revision = _revision(sts)
        on_delete = (sts["spec"].get("updateStrategy") or {}).get("type") == "OnDelete"
        for i in range(max(want, 64)):
            key = (PODS, ns, f"{name}-{i}")
            pod = self.store.get(key)
            if i >= want:
                if pod is not None:
                    del self.store[key]
                    self._event("DELETED", PODS, pod)
                continue
            stale = (
                pod is not None
                and pod["metadata"]["labels"].get("controller-revision-hash") != revision
            )
            if pod is None or (stale and not on_delete):
                self._store_pod(self._pod(sts, i))
        pods = [self.store[(PODS, ns, f"{name}-{i}")] for i in range(want)]
        sts["status"] = {
            "observedGeneration": meta["generation"],
            "replicas": want,
            "readyReplicas": sum(
                1
                for p in pods
                if any(
                    c["type"] == "Ready" and c["status"] == "True"
                    for c in p["status"]["conditions"]
                )
            ),
            "updatedReplicas": sum(
                1
                for p in pods
                if p["metadata"]["labels"].get("controller-revision-hash") == revision
            ),
            "updateRevision": revision,
        }

    def _refresh(self, namespace: str) -> None:
        """After a pod changed: its StatefulSets' status, as a status update watches see."""
        for (plural, ns, _), body in list(self.store.items()):
            if plural == STATEFULSETS and ns == namespace:
                before = copy.deepcopy(body.get("status"))
                self._reconcile(body)
                if body["status"] != before:
                    self.version = next(self.revision)
                    body["metadata"]["resourceVersion"] = str(self.version)
                    self._event("MODIFIED", STATEFULSETS, body)

    def _server_fields(
        self, body: dict[str, Any], previous: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        body = super()._server_fields(body, previous)
        if body.get("kind") == "StatefulSet":
            self._reconcile(body)
        if body.get("kind") == "Job":
            self._complete(body)
        return body

    def _complete(self, job: dict[str, Any]) -> None:
        terms = job["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"
        ]["nodeSelectorTerms"]
        node = terms[0]["matchFields"][0]["values"][0]
        kind = "Failed" if node in self.failing_nodes else "Complete"
        job["status"] = {"conditions": [{"type": kind, "status": "True"}]}
        if kind == "Complete":
            job["status"]["succeeded"] = 1

    # --- serving -------------------------------------------------------------------------------

    async def _handle(self, request: Any) -> Any:
        method = str(request.method).rpartition(".")[2].upper()
        resource = request.resource
        plural = (
            f"{resource.group}/{resource.version}/{resource.plural}".lstrip("/") if resource else ""
        )
        if method == "PATCH" and request.headers.get("Content-Type") == STRATEGIC:
            return self._patch(request, plural)
        if method == "DELETE" and plural == PODS and request.name:
            key = (PODS, request.namespace or "", request.name)
            if key not in self.store:
                return _status(404, "NotFound", f'pods "{request.name}" not found')
            found = self.store.pop(key)
            self._event("DELETED", PODS, found)
            self.writes.append(("delete", PODS, request.name))
            self._refresh(request.namespace or "")  # its StatefulSet makes it again
            return aiohttp.web.json_response(found)
        return await super()._handle(request)

    def _patch(self, request: Any, plural: str) -> Any:
        key = (plural, request.namespace or "", request.name or "")
        pod = self.store.get(key)
        if plural != PODS or pod is None:
            return _status(404, "NotFound", f"{plural} {request.name!r} not found")
        patch = request.data if isinstance(request.data, dict) else {}
        sub = request.subresource or ""
        self.patches.append((request.name, sub, copy.deepcopy(patch)))
        self.writes.append(("patch", f"{plural}/{sub}".rstrip("/"), request.name))
        pod = copy.deepcopy(pod)
        if sub == "status":
            conditions = (patch.get("status") or {}).get("conditions") or []
            status = pod.setdefault("status", {})
            status["conditions"] = _merge_list(status.get("conditions") or [], conditions, "type")
        else:
            spec = patch.get("spec") or {}
            fields = {f for c in spec.get("containers") or () for f in c} - {"name", "image"}
            if set(spec) - {"containers"} or fields:
                return _status(
                    422,
                    "Invalid",
                    f'Pod "{request.name}" is invalid: spec: Forbidden: pod updates may not '
                    "change fields other than `spec.containers[*].image`, ...",
                )
            pod["spec"]["containers"] = _merge_list(
                pod["spec"]["containers"], spec.get("containers") or [], "name"
            )
            for field in ("labels", "annotations"):
                values = pod["metadata"].setdefault(field, {})
                for k, v in ((patch.get("metadata") or {}).get(field) or {}).items():
                    if v is None:
                        values.pop(k, None)
                    else:
                        values[k] = v
        self._ready(pod)
        self._store_pod(pod)
        self._refresh(request.namespace or "")
        return aiohttp.web.json_response(pod)
