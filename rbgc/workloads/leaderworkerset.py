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
from rbgc.workloads import PodTemplate, RoleContext
from rbgc.workloads.statefulset import headless_service, statefulset

LEADER: tuple[str, ...] = ("spec", "leaderWorkerTemplate", "leaderTemplate")
WORKER: tuple[str, ...] = ("spec", "leaderWorkerTemplate", "workerTemplate")
TEMPLATE: tuple[str, ...] = ("spec", "template")

LWS_NAME = "leaderworkerset.sigs.k8s.io/name"
LWS_GROUP_INDEX = "leaderworkerset.sigs.k8s.io/group-index"
LWS_WORKER_INDEX = "leaderworkerset.sigs.k8s.io/worker-index"
MEMBER = cv.LWS_MEMBER
POD_NAME_VAR = "RBGC_POD_NAME"


def restart_policy(policy: str | None) -> str:
    """Upstream: `None` stays None; anything else (even unset) recreates the group."""
    return "None" if policy == "None" else "RecreateGroupOnPodRestart"


def lower_native(ctx: RoleContext) -> tuple[Manifest, ...]:
    role = ctx.role
    assert role.leader_worker_set is not None
    leader, worker = ctx.templates["leader"], ctx.templates["worker"]
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
                "partition": scaled(ru.partition, role.replicas, round_up=True),
            }
        }
    body = {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "metadata": ctx.metadata(),
        "spec": spec,
    }
    return (ctx.manifest(body, templates={LEADER: leader, WORKER: worker}, workers=(WORKER,)),)


def lower_statefulsets(ctx: RoleContext) -> tuple[Manifest, ...]:
    role = ctx.role
    assert role.leader_worker_set is not None
    size = role.leader_worker_set.size
    name = ctx.name
    namespace = ctx.group.namespace
    leader_selector = {**ctx.selector, LWS_NAME: name, MEMBER: "leader"}
    leader_body = _with_lws(
        ctx.templates["leader"].body,
        labels={**leader_selector, LWS_WORKER_INDEX: "0"},
        env=[
            {"name": POD_NAME_VAR, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "LWS_LEADER_ADDRESS", "value": f"$({POD_NAME_VAR}).{name}.{namespace}"},
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
                service=name,
            ),
            templates={TEMPLATE: leader},
        ),
        ctx.manifest(headless_service(ctx, selector={LWS_NAME: name})),
    ]
    if size > 1:
        for group_index in range(role.replicas):
            out.append(_worker(ctx, group_index, size))
    return tuple(out)


def _worker(ctx: RoleContext, group_index: int, size: int) -> Manifest:
    name = ctx.name
    selector = {**ctx.selector, LWS_NAME: name, MEMBER: "worker", LWS_GROUP_INDEX: str(group_index)}
    pod_index = {"fieldRef": {"fieldPath": cv.POD_INDEX_FIELD}}
    body = _with_lws(
        ctx.templates["worker"].body,
        labels=selector,
        env=[
            {
                "name": "LWS_LEADER_ADDRESS",
                "value": f"{name}-{group_index}.{name}.{ctx.group.namespace}",
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
        service=name,
    )
    sts["spec"]["ordinals"] = {"start": 1}
    # Workers roll with Kubernetes' defaults; the role's partition counts leaders (groups).
    sts["spec"]["updateStrategy"] = {"type": "RollingUpdate"}
    return ctx.manifest(sts, templates={TEMPLATE: worker}, workers=(TEMPLATE,))


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
