"""A LeaderWorkerSet role, in two lowerings (`rbgc build --lws native|statefulsets`).

native (default, rbg-semantics.md §4.5): a `leaderworkerset.x-k8s.io/v1` LeaderWorkerSet, as
upstream creates it. Needs the LWS controller (>= 0.7 for `partition`). Argo CD has no built-in
health check for it: ship `integrations/argocd/health-leaderworkerset.lua`, or sync waves will
not wait for it.

statefulsets: what the LWS controller (v0.7) would create, as plain objects, for clusters
without it: a leader StatefulSet `{name}` (one leader per group), one worker StatefulSet
`{name}-{group}` per group whose ordinals start at 1, a headless Service `{name}`, the LWS pod
labels and the `LWS_LEADER_ADDRESS` / `LWS_GROUP_SIZE` / `LWS_WORKER_INDEX` env (prepended to
containers and init containers). Pod DNS names are the same as under the LWS controller.
What only a controller can do (recreating a group when one pod restarts, group-wise rolling
updates) is not emulated; `validate` warns where a role relies on it (RBG141).
"""

from __future__ import annotations

import copy
from typing import Any

from rbgc.k8s import conventions as cv
from rbgc.k8s.controllers import scaled
from rbgc.k8s.manifest import Manifest
from rbgc.model import Role
from rbgc.workloads.context import PodTemplate, RoleContext
from rbgc.workloads.instance_env import (
    ENV_COMPONENT_INDEX,
    ENV_COMPONENT_NAME,
    ENV_GROUP_SIZE,
    ENV_INSTANCE_NAME,
    ENV_LEADER_ADDRESS,
    ENV_ROLE_INDEX,
    ENV_WORKER_INDEX,
    INSTANCE_LABELS,
    OPERATOR_LABELS,
    field_ref,
    label_ref,
    literal,
    with_env,
    with_labels,
)
from rbgc.workloads.statefulset import headless_service, statefulset

LEADER: tuple[str, ...] = ("spec", "leaderWorkerTemplate", "leaderTemplate")
WORKER: tuple[str, ...] = ("spec", "leaderWorkerTemplate", "workerTemplate")
TEMPLATE: tuple[str, ...] = ("spec", "template")

MEMBER = cv.LWS_MEMBER
POD_NAME_VAR = "RBGC_POD_NAME"


def restart_policy(policy: str | None) -> str:
    """Upstream: `None` stays None; anything else (even unset) recreates the group."""
    return "None" if policy == "None" else "RecreateGroupOnPodRestart"


def leader_service(ctx: RoleContext, *, native: bool) -> str:
    return leader_subdomain(ctx.role, ctx.name, ctx.service_name, native=native)


def leader_subdomain(role: Role, name: str, service: str, *, native: bool) -> str:
    """The Service the leader pods' DNS names are under (their subdomain): a native LWS's own
    `{W}` (its controller sets it); with `--lws statefulsets` rbgc chooses, and a
    RoleInstanceSet role's leaders take the shared Service, as the operator's leader component
    does (`roleinstanceset_reconciler.go:426`), so HEAD's `{W}-{i}.{svc}` names them."""
    if native or role.instance_set is None:
        return name
    return service


def shared_service(ctx: RoleContext) -> Manifest | None:
    """The shared headless Service `s-{R}-{r}` the operator gives a RoleInstanceSet role
    (`roleinstanceset_reconciler.go:76`, `svc_reconciler.go:106-124`): every pod, or only the
    leaders (LeaderOnly). None off the default workload, and where the name is the LWS's own
    Service (v0.4 conventions name both `{R}-{r}`)."""
    instance_set = ctx.role.instance_set
    if instance_set is None or ctx.service_name == ctx.name:
        return None
    selector = ctx.conventions.selector(ctx.group.name, ctx.role.name)
    if instance_set.leader_only:
        selector[cv.COMPONENT_NAME_LABEL] = "leader"
    service = headless_service(ctx, selector=dict(sorted(selector.items())), name=ctx.service_name)
    return ctx.manifest(service)


def instance_env(
    ctx: RoleContext, which: str, group_index: int | None = None, *, native: bool = True
) -> list[dict[str, Any]]:
    """The RoleInstance variables of a leaderWorkerPattern role (v1alpha2 semantics §2.4),
    from what an LWS pod knows: the instance is the LWS group, named after its leader
    `{W}-{i}`; the leader is worker index 0. Workers count RBG_COMPONENT_INDEX from 1 (the
    LWS worker index; the operator counts them from 0): no field holds index - 1.

    `group_index`: a worker StatefulSet of `--lws statefulsets` (one per group) knows its
    group, so its values are literals; a native LWS pod reads labels its controller sets."""
    assert ctx.role.leader_worker_set is not None
    size = str(ctx.role.leader_worker_set.size)
    address = f".{leader_service(ctx, native=native)}.{ctx.group.namespace}"
    if which == "leader":
        own = [
            literal(ENV_COMPONENT_INDEX, "0"),
            literal(ENV_COMPONENT_NAME, "leader"),
            label_ref(ENV_ROLE_INDEX, cv.LWS_GROUP_INDEX_LABEL)
            if native
            else field_ref(ENV_ROLE_INDEX, cv.POD_INDEX_FIELD),
            field_ref(ENV_INSTANCE_NAME, "metadata.name"),
            literal(ENV_LEADER_ADDRESS, f"$({ENV_INSTANCE_NAME}){address}"),
            literal(ENV_WORKER_INDEX, "0"),
        ]
    elif group_index is None:
        own = [
            label_ref(ENV_COMPONENT_INDEX, cv.LWS_WORKER_INDEX_LABEL),
            literal(ENV_COMPONENT_NAME, "worker"),
            label_ref(ENV_ROLE_INDEX, cv.LWS_GROUP_INDEX_LABEL),
            field_ref(
                ENV_INSTANCE_NAME, f"metadata.annotations['{cv.LWS_LEADER_NAME_ANNOTATION}']"
            ),
            literal(ENV_LEADER_ADDRESS, f"$({ENV_INSTANCE_NAME}){address}"),
            label_ref(ENV_WORKER_INDEX, cv.LWS_WORKER_INDEX_LABEL),
        ]
    else:
        instance = f"{ctx.name}-{group_index}"
        own = [
            field_ref(ENV_COMPONENT_INDEX, cv.POD_INDEX_FIELD),
            literal(ENV_COMPONENT_NAME, "worker"),
            literal(ENV_ROLE_INDEX, str(group_index)),
            literal(ENV_INSTANCE_NAME, instance),
            literal(ENV_LEADER_ADDRESS, f"{instance}{address}"),
            field_ref(ENV_WORKER_INDEX, cv.POD_INDEX_FIELD),
        ]
    if not ctx.role.stateful:  # a Stateless instance has no index (`env_builder.go:91-101`)
        own = [e for e in own if e["name"] != ENV_ROLE_INDEX]
    return [*own, literal(ENV_GROUP_SIZE, size)]


def _instance(
    ctx: RoleContext, which: str, group_index: int | None = None, *, native: bool = True
) -> PodTemplate:
    template = ctx.templates[which]
    if ctx.role.instance_set is None:
        return template
    env = instance_env(ctx, which, group_index, native=native)
    stateful = ctx.role.stateful
    body = with_env(template.body, env, labels=INSTANCE_LABELS if stateful else OPERATOR_LABELS)
    # the RoleInstance component's labels every pod of this template shares; component-name
    # is what the LeaderOnly Service selects (`roleinstanceset_reconciler.go:411-431`)
    size = str(ctx.role.leader_worker_set.size if ctx.role.leader_worker_set else 1)
    labels = {cv.COMPONENT_NAME_LABEL: which, cv.COMPONENT_SIZE_LABEL: size}
    if which == "leader":  # the leader component's only pod (`instance_utils.go:91-103`)
        labels |= {cv.COMPONENT_ID_LABEL: "0", cv.COMPONENT_INDEX_LABEL: "0"}
    elif group_index is not None and stateful:  # one group's workers (--lws statefulsets)
        labels |= {
            cv.INSTANCE_NAME_LABEL: f"{ctx.name}-{group_index}",
            cv.INSTANCE_INDEX_LABEL: str(group_index),
        }
    return PodTemplate(body=with_labels(body, labels), source_path=template.source_path)


def _partition(ctx: RoleContext, written: Any) -> int:
    instance_set = ctx.role.instance_set
    if instance_set is not None and instance_set.paused:
        return ctx.role.replicas  # `paused`: no group moves to a new revision
    return scaled(written, ctx.role.replicas, round_up=True)


def lower_native(ctx: RoleContext) -> tuple[Manifest, ...]:
    role = ctx.role
    assert role.leader_worker_set is not None
    leader, worker = _instance(ctx, "leader"), _instance(ctx, "worker")
    spec: dict[str, Any] = {
        "replicas": role.replicas,
        "leaderWorkerTemplate": {
            "size": role.leader_worker_set.size,
            "restartPolicy": restart_policy(role.restart_policy),
            "leaderTemplate": leader.body,
            "workerTemplate": worker.body,
        },
    }
    ru = role.rolling_update
    if ru is not None:
        spec["rolloutStrategy"] = {
            "rollingUpdateConfiguration": {
                "maxSurge": ru.max_surge,
                "maxUnavailable": ru.max_unavailable,
                "partition": _partition(ctx, ru.partition),
            }
        }
    body = {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "metadata": ctx.metadata(),
        "spec": spec,
    }
    workload = ctx.manifest(body, templates={LEADER: leader, WORKER: worker})
    service = shared_service(ctx)
    return (workload,) if service is None else (workload, service)


def lower_statefulsets(ctx: RoleContext) -> tuple[Manifest, ...]:
    role = ctx.role
    assert role.leader_worker_set is not None
    size = role.leader_worker_set.size
    name = ctx.name
    namespace = ctx.group.namespace
    lead = leader_service(ctx, native=False)
    leader_selector = {**ctx.selector, cv.LWS_NAME_LABEL: name, MEMBER: "leader"}
    leader_body = _with_lws(
        _instance(ctx, "leader", native=False).body,
        labels={**leader_selector, cv.LWS_WORKER_INDEX_LABEL: "0"},
        env=[
            {"name": POD_NAME_VAR, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "LWS_LEADER_ADDRESS", "value": f"$({POD_NAME_VAR}).{lead}.{namespace}"},
            {"name": "LWS_GROUP_SIZE", "value": str(size)},
            {"name": "LWS_WORKER_INDEX", "value": "0"},
        ],
    )
    leader = PodTemplate(body=leader_body, source_path=ctx.templates["leader"].source_path)
    out = [
        ctx.manifest(
            statefulset(
                ctx,
                name=name,
                replicas=role.replicas,
                selector=leader_selector,
                template=leader.body,
                service=lead,
            ),
            templates={TEMPLATE: leader},
        ),
    ]
    workers = workers_service(ctx)
    if lead == name or (size > 1 and workers == name):
        # the LWS controller's Service, for the pods whose DNS names are under it
        out.append(ctx.manifest(headless_service(ctx, selector={cv.LWS_NAME_LABEL: name})))
    service = shared_service(ctx)
    if service is not None:
        out.append(service)
    if size > 1:
        for group_index in range(role.replicas):
            out.append(_worker(ctx, group_index, size))
    return tuple(out)


def workers_service(ctx: RoleContext) -> str:
    """The workers' subdomain under `--lws statefulsets`: the shared Service when it selects
    them (All: the operator gives the worker component serviceName svc,
    `roleinstanceset_reconciler.go:418-420`), else the LWS controller's `{W}`."""
    instance_set = ctx.role.instance_set
    if instance_set is None or instance_set.leader_only:
        return ctx.name
    return ctx.service_name


def _worker(ctx: RoleContext, group_index: int, size: int) -> Manifest:
    name = ctx.name
    lead = leader_service(ctx, native=False)
    selector = {
        **ctx.selector,
        cv.LWS_NAME_LABEL: name,
        MEMBER: "worker",
        cv.LWS_GROUP_INDEX_LABEL: str(group_index),
    }
    pod_index = {"fieldRef": {"fieldPath": cv.POD_INDEX_FIELD}}
    body = _with_lws(
        _instance(ctx, "worker", group_index, native=False).body,
        labels=selector,
        env=[
            {
                "name": "LWS_LEADER_ADDRESS",
                "value": f"{name}-{group_index}.{lead}.{ctx.group.namespace}",
            },
            {"name": "LWS_GROUP_SIZE", "value": str(size)},
            {"name": "LWS_WORKER_INDEX", "valueFrom": pod_index},
        ],
    )
    worker = PodTemplate(body=body, source_path=ctx.templates["worker"].source_path)
    sts = statefulset(
        ctx,
        name=f"{name}-{group_index}",
        replicas=size - 1,
        selector=selector,
        template=worker.body,
        service=workers_service(ctx),
    )
    sts["spec"]["ordinals"] = {"start": 1}
    # Workers roll with Kubernetes' defaults; the role's partition counts leaders (groups).
    sts["spec"]["updateStrategy"] = {"type": "RollingUpdate"}
    return ctx.manifest(sts, templates={TEMPLATE: worker})


def _with_lws(
    template: dict[str, Any], *, labels: dict[str, str], env: list[dict[str, Any]]
) -> dict[str, Any]:
    """The labels and env the LWS controller's pod webhook would add (env goes first)."""
    out = copy.deepcopy(template)
    meta = out.setdefault("metadata", {})
    meta["labels"] = dict(sorted({**meta.get("labels", {}), **labels}.items()))
    names = {e["name"] for e in env}
    for key in ("initContainers", "containers"):
        for container in out.get("spec", {}).get(key) or ():
            own = [e for e in container.get("env") or () if e.get("name") not in names]
            container["env"] = [*copy.deepcopy(env), *own]
    return out
