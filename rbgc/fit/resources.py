"""What one pod asks of a node, counted as the scheduler counts it (`resource.PodRequests`).

Per resource: the containers' requests summed, sidecars (init containers with
`restartPolicy: Always`) added to that, compared with the largest of the init containers'
requests (each one plus the sidecars started before it); the larger wins, then the pod's
`overhead` is added. A container's missing request defaults to its limit, as the API server
defaults it. Every pod also takes one of the node's `pods` slots.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rbgc.fit.matching import Unreadable, items, mapping
from rbgc.k8s import quantity
from rbgc.source import JsonPath

Resources = dict[str, int]
POD_SLOT = "pods"


def container_requests(raw: Any, path: JsonPath) -> Resources:
    body = mapping(raw, path)
    resources = mapping(body.get("resources"), (*path, "resources"))
    limits = mapping(resources.get("limits"), (*path, "resources", "limits"))
    requests = mapping(resources.get("requests"), (*path, "resources", "requests"))
    out: Resources = {}
    for source, values in (("limits", limits), ("requests", requests)):
        for name, value in values.items():  # requests come second: they win over limits
            try:
                out[name] = quantity.units(name, value)
            except ValueError as exc:
                raise Unreadable((*path, "resources", source, name), str(exc)) from None
    return out


def pod_requests(spec: Mapping[str, Any], path: JsonPath) -> Resources:
    """The effective request of a pod with this spec (`path` is where the spec sits)."""
    total: Resources = {}
    for i, container in enumerate(items(spec.get("containers"), (*path, "containers"))):
        add(total, container_requests(container, (*path, "containers", i)))
    sidecars: Resources = {}
    init_peak: Resources = {}
    for i, container in enumerate(items(spec.get("initContainers"), (*path, "initContainers"))):
        where = (*path, "initContainers", i)
        own = container_requests(container, where)
        if mapping(container, where).get("restartPolicy") == "Always":
            add(total, own)
            add(sidecars, own)
            during = dict(sidecars)
        else:
            during = dict(own)
            add(during, sidecars)
        for name, amount in during.items():
            init_peak[name] = max(init_peak.get(name, 0), amount)
    for name, amount in init_peak.items():
        total[name] = max(total.get(name, 0), amount)
    overhead = mapping(spec.get("overhead"), (*path, "overhead"))
    for name, value in overhead.items():
        try:
            add(total, {name: quantity.units(name, value)})
        except ValueError as exc:
            raise Unreadable((*path, "overhead", name), str(exc)) from None
    total[POD_SLOT] = 1
    return {name: amount for name, amount in sorted(total.items()) if amount}


def add(into: Resources, more: Mapping[str, int]) -> None:
    for name, amount in more.items():
        into[name] = into.get(name, 0) + amount
