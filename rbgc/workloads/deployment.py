"""A role as a Deployment (rbg-semantics.md §4.4): no Service, no pod index.

Also a v1alpha2 standalone role whose RoleInstanceSet is `Stateless` (random instance
names, no index: v1alpha2 semantics §3.5), which keeps the RoleInstanceSet's shared headless
Service `s-{R}-{r}`.

Only an explicit `rollingUpdate` sets `strategy`; otherwise Kubernetes' 25%/25% default
applies, as with upstream (which differs from the StatefulSet default of 1/0).
"""

from __future__ import annotations

from typing import Any

from rbgc.k8s.manifest import Manifest
from rbgc.workloads.context import RoleContext, min_ready_seconds
from rbgc.workloads.instance_env import standalone_instance
from rbgc.workloads.statefulset import headless_service

TEMPLATE: tuple[str, ...] = ("spec", "template")


def lower(ctx: RoleContext) -> tuple[Manifest, ...]:
    role = ctx.role
    pod = standalone_instance(ctx, ctx.templates["pod"])
    spec: dict[str, Any] = {
        "replicas": role.replicas,
        "selector": {"matchLabels": dict(ctx.selector)},
        "template": pod.body,
    }
    if (seconds := min_ready_seconds(role)) is not None:
        spec["minReadySeconds"] = seconds
    if role.instance_set is not None and role.instance_set.paused:
        spec["paused"] = True  # a Deployment pauses its rollout as the RoleInstanceSet does
    ru = role.rolling_update
    if ru is not None:
        spec["strategy"] = {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": ru.max_surge, "maxUnavailable": ru.max_unavailable},
        }
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": ctx.metadata(),
        "spec": spec,
    }
    workload = ctx.manifest(deploy, templates={TEMPLATE: pod})
    if role.instance_set is None:
        return (workload,)
    # a Stateless RoleInstanceSet keeps its shared Service (`roleinstanceset_reconciler.go:76`);
    # it resolves to the pods' addresses, but a Deployment's pods set no hostname/subdomain,
    # so no per-pod name exists under it
    service = headless_service(ctx, name=ctx.service_name)
    return (workload, ctx.manifest(service))
