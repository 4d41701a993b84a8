"""A role as a StatefulSet plus its headless Service (rbg-semantics.md §4.2-§4.3).

Upstream drives surge itself (replicas temporarily n+maxSurge, partition walking down); a
compiled object can only hold the steady state: `replicas: n`, `partition` = the role's.
The rest needs a controller; `validate` warns where a role relies on it (RBG141).
"""

from __future__ import annotations

from typing import Any

from rbgc.k8s import conventions as cv
from rbgc.k8s.controllers import scaled
from rbgc.k8s.manifest import Manifest
from rbgc.workloads.context import PodTemplate, RoleContext, min_ready_seconds
from rbgc.workloads.instance_env import (
    ENV_COMPONENT_INDEX,
    ENV_COMPONENT_NAME,
    ENV_GROUP_SIZE,
    ENV_INSTANCE_NAME,
    ENV_ROLE_INDEX,
    INSTANCE_LABELS,
    OPERATOR_LABELS,
    field_ref,
    literal,
    standalone_instance,
    with_env,
    with_labels,
)

TEMPLATE: tuple[str, ...] = ("spec", "template")


def lower(ctx: RoleContext) -> tuple[Manifest, ...]:
    if ctx.role.instance_set is not None and ctx.role.instance_set.components:
        return lower_components(ctx)
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
    if (seconds := min_ready_seconds(role)) is not None:
        spec["minReadySeconds"] = seconds
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": ctx.metadata(name=name),
        "spec": spec,
    }


def lower_components(ctx: RoleContext) -> tuple[Manifest, ...]:
    """customComponentsPattern (v1alpha2 semantics §3.5): one StatefulSet `{W}-{i}-{c}` per
    instance i and component c, `size` replicas, so its pods are the operator's
    `{W}-{i}-{c}-{k}` with the same DNS; the role's partition holds whole instances."""
    role = ctx.role
    assert role.instance_set is not None
    ru = role.rolling_update
    held = scaled(ru.partition, role.replicas, round_up=False) if ru else 0
    if role.instance_set.paused:
        held = role.replicas
    out = []
    for i in range(role.replicas):
        instance = f"{ctx.name}-{i}"
        for component in role.instance_set.components:
            pod = ctx.templates[f"component:{component.name}"]
            # the index label tells instances apart (placement and fit read it), even on a
            # Stateless instance, which has no RBG_ROLE_INDEX (`env_builder.go:91-101`)
            selector = {
                **ctx.selector,
                cv.COMPONENT_NAME_LABEL: component.name,
                cv.INSTANCE_INDEX_LABEL: str(i),
            }
            env = [
                field_ref(ENV_COMPONENT_INDEX, cv.POD_INDEX_FIELD),
                literal(ENV_COMPONENT_NAME, component.name),
                *([literal(ENV_ROLE_INDEX, str(i))] if role.stateful else []),
                literal(ENV_INSTANCE_NAME, instance),
            ]
            known = [literal(ENV_GROUP_SIZE, str(component.size))]
            labels = INSTANCE_LABELS if role.stateful else OPERATOR_LABELS
            body = with_env(pod.body, env, known, labels)
            # and the labels every pod of the component's instance shares (§2.6)
            shared = {cv.COMPONENT_SIZE_LABEL: str(component.size)}
            if role.stateful:
                shared[cv.INSTANCE_NAME_LABEL] = instance
            body = with_labels(body, {**shared, **selector})
            template = PodTemplate(body=body, source_path=pod.source_path)
            sts = statefulset(
                ctx,
                name=f"{instance}-{component.name}",
                replicas=component.size,
                selector=selector,
                template=body,
                service=component.service_name or ctx.service_name,
            )
            rolling = sts["spec"]["updateStrategy"]["rollingUpdate"]
            rolling["partition"] = component.size if i < held else 0
            out.append(ctx.manifest(sts, templates={TEMPLATE: template}))
    out.append(ctx.manifest(headless_service(ctx, name=ctx.service_name)))
    return tuple(out)


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
