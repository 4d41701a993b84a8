"""A role as a StatefulSet plus its headless Service (rbg-semantics.md §4.2-§4.3).

Upstream drives surge itself (replicas temporarily n+maxSurge, partition walking down); a
compiled object can only hold the steady state: `replicas: n`, `partition` = the role's.
The rest needs a controller; `validate` warns where a role relies on it (RBG141).
"""

from __future__ import annotations

from typing import Any

from rbgc.k8s.controllers import scaled
from rbgc.k8s.manifest import Manifest
from rbgc.workloads import RoleContext, standalone_instance

TEMPLATE: tuple[str, ...] = ("spec", "template")


def lower(ctx: RoleContext) -> tuple[Manifest, ...]:
    pod = standalone_instance(ctx, ctx.templates["pod"])
    sts = statefulset(
        ctx,
        name=ctx.name,
        replicas=ctx.role.replicas,
        selector=ctx.selector,
        template=pod.body,
        service=ctx.service_name,
    )
    service = headless_service(ctx, name=ctx.service_name)
    return (ctx.manifest(sts, templates={TEMPLATE: pod}), ctx.manifest(service))


def statefulset(
    ctx: RoleContext,
    *,
    name: str,
    replicas: int,
    selector: dict[str, str],
    template: dict[str, Any],
    service: str,
) -> dict[str, Any]:
    role = ctx.role
    ru = role.rolling_update
    # Absent rolloutStrategy: upstream's Go default for StatefulSets, 1 unavailable, partition 0.
    max_unavailable = ru.max_unavailable if ru else 1
    partition = scaled(ru.partition, role.replicas, round_up=True) if ru else 0
    instance_set = role.instance_set
    if instance_set is not None and instance_set.paused:
        partition = role.replicas  # `paused`: no pod moves to a new revision (§3.5)
    spec: dict[str, Any] = {
        "serviceName": service,
        "replicas": replicas,
        # a RoleInstanceSet honours the role's policy; upstream's StatefulSets are Parallel
        "podManagementPolicy": instance_set.pod_management_policy if instance_set else "Parallel",
        "selector": {"matchLabels": dict(sorted(selector.items()))},
        "template": template,
        "updateStrategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": max_unavailable, "partition": partition},
        },
    }
    if role.min_ready_seconds is not None:
        spec["minReadySeconds"] = role.min_ready_seconds
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": ctx.metadata(name=name),
        "spec": spec,
    }


def headless_service(
    ctx: RoleContext, selector: dict[str, str] | None = None, *, name: str | None = None
) -> dict[str, Any]:
    """The Service that gives each pod its DNS name; no ports, as upstream (§16.7)."""
    conventions = ctx.conventions
    spec: dict[str, Any] = {"type": "ClusterIP"} if conventions.service_type else {}
    spec["clusterIP"] = "None"
    spec["selector"] = selector or conventions.selector(ctx.group.name, ctx.role.name)
    spec["publishNotReadyAddresses"] = True
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": ctx.metadata(name=name, role_metadata=False),
        "spec": spec,
    }
