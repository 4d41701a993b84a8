"""A role as a StatefulSet plus its headless Service (rbg-semantics.md §4.2-§4.3).

Upstream drives surge itself (replicas temporarily n+maxSurge, partition walking down); a
compiled object can only hold the steady state: `replicas: n`, `partition` = the role's.
`rbgc sync` carries out the rest.
"""

from __future__ import annotations

from typing import Any

from rbgc.k8s import conventions as cv
from rbgc.k8s.manifest import Manifest
from rbgc.rollout import scaled
from rbgc.workloads import RoleContext


def lower(ctx: RoleContext) -> tuple[Manifest, ...]:
    role = ctx.role
    ru = role.rolling_update
    # Absent rolloutStrategy: upstream's Go default for StatefulSets, 1 unavailable, partition 0.
    max_unavailable = ru.max_unavailable if ru else 1
    partition = scaled(ru.partition, role.replicas, round_up=True) if ru else 0
    spec: dict[str, Any] = {
        "serviceName": ctx.name,
        "replicas": role.replicas,
        "podManagementPolicy": "Parallel",
        "selector": {"matchLabels": dict(ctx.selector)},
        "template": ctx.pod_template,
        "updateStrategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": max_unavailable, "partition": partition},
        },
    }
    if role.min_ready_seconds is not None:
        spec["minReadySeconds"] = role.min_ready_seconds
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": ctx.metadata(), "spec": spec}
    return (
        ctx.manifest(
            sts, template_path=("spec", "template"), pod_templates=(("spec", "template"),)
        ),
        ctx.manifest(headless_service(ctx)),
    )


def headless_service(ctx: RoleContext) -> dict[str, Any]:
    """The Service that gives each pod its DNS name; no ports, as upstream (§16.7)."""
    meta = ctx.metadata(role_metadata=False)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "clusterIP": "None",
            "selector": {cv.LABEL_NAME: ctx.group.name, cv.LABEL_ROLE: ctx.role.name},
            "publishNotReadyAddresses": True,
        },
    }
