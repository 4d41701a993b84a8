"""The v1alpha2 front end: `workloads.x-k8s.io/v1alpha2` groups -> the same IR as v1alpha1.

Runs after `schema.check_v1alpha2`, so shapes are trusted here. What the operator at HEAD
reads (rbg-v1alpha2-semantics.md §1.3-§1.4, §2.1, §4) becomes the fields v1alpha1 spells
differently, so every pass and the compiled facts stay one:

- the workload is the role annotation `rbg.workloads.x-k8s.io/role-workload-type`, else the
  operator's RoleInstanceSet, which rbgc lowers to plain objects (§3.5): a standalone role
  becomes a StatefulSet (same pod names and DNS), a leaderWorkerPattern role a LeaderWorkerSet
  (`--lws` chooses native or StatefulSets); `Role.instance_set` keeps what only the operator
  would do (in-place updates, `paused`, restart backoff) for the passes to warn about;
- `standalonePattern` / `leaderWorkerPattern` carry `template` or `templateRef {name, patch}`;
  leader/worker patches are `leaderTemplatePatch` / `workerTemplatePatch`;
- the effective restart policy: standalone roles `None`; leaderWorkerPattern roles
  `restartPolicyConfig.type`, else the deprecated `restartPolicy`, else
  `RecreateRoleInstanceOnPodRestart` (`helper.go:304`);
- gang scheduling is the group annotation `rbg.workloads.x-k8s.io/group-gang-scheduling:
  "true"` (timeout from `…-timeout`, else 60), a scheduler-plugins PodGroup as the operator
  creates with its default `--scheduler-name`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from rbgc.k8s import conventions as cv
from rbgc.model import (
    Component,
    CoordinatedRollingUpdate,
    CoordinatedScaling,
    Coordination,
    Dependency,
    EngineRuntime,
    Group,
    InstanceSet,
    LeaderWorkerSetSpec,
    Role,
    RoleTemplate,
    RollingUpdate,
    ServicePort,
    Workload,
    WorkloadKind,
)
from rbgc.source import Document, JsonPath, value_at

P = cv.HEAD_PREFIX
WORKLOAD_TYPE = P + "role-workload-type"
INSTANCE_SET = "workloads.x-k8s.io/v1alpha2/RoleInstanceSet"
INSTANCE_PATTERN = P + "role-instance-pattern"  # Stateful (default) | Stateless
GANG = P + "group-gang-scheduling"
GANG_TIMEOUT = P + "group-gang-scheduling-timeout"
# what HEAD's conversion webhook stashes from a v1alpha1 object (semantics §7.3)
STASH = "conversion.workloads.x-k8s.io/"
STASH_POD_GROUP = STASH + "v1alpha1-pod-group-policy"
STASH_COORDINATION = STASH + "v1alpha1-coordination"
PATTERNS = ("standalonePattern", "leaderWorkerPattern", "customComponentsPattern")


def group(
    doc: Document,
    spec_path: JsonPath,
    default_namespace: str,
    order: int,
    name: str | None = None,
    set_index: int | None = None,
    metadata_path: JsonPath = ("metadata",),
) -> Group:
    meta = doc.body["metadata"]
    group_meta = value_at(doc.body, metadata_path) or {}
    spec = value_at(doc.body, spec_path)
    annotations = dict(group_meta.get("annotations") or {})
    if set_index is not None:
        # A converted v1alpha1 set keeps gang scheduling and exclusive topology on its own
        # metadata, which HEAD never copies to its groups (§12 #19): rbgc does, so
        # converting does not change what runs. The group template's own values win.
        inherited = {
            k: v
            for k, v in (meta.get("annotations") or {}).items()
            if k.startswith((P + "group-", STASH))
        }
        annotations = {**inherited, **annotations}
    ns = meta.get("namespace")
    return Group(
        name=name or meta["name"],
        namespace=str(ns) if ns else default_namespace,
        roles=tuple(_role(doc, (*spec_path, "roles", i), r) for i, r in enumerate(spec["roles"])),
        annotations=annotations,
        labels=dict(group_meta.get("labels") or {}),
        span=doc.span("metadata", "name"),
        document=doc,
        spec_path=spec_path,
        order=order,
        pod_group_policy=_gang(annotations),
        coordination=_stashed_coordination(doc, annotations, metadata_path),
        role_templates=role_templates(doc, spec_path, spec),
        set_name=meta["name"] if set_index is not None else None,
        set_index=set_index,
    )


def _gang(annotations: dict[str, str]) -> dict[str, Any] | None:
    """The v1alpha1 `podGroupPolicy` the annotations mean at HEAD (§4). HEAD takes the
    PodGroup flavour from its `--scheduler-name` flag (scheduler-plugins by default); rbgc has
    no flag, so a converted group's stashed policy says which flavour it had."""
    if annotations.get(GANG) != "true":
        return None
    try:
        stashed = json.loads(annotations.get(STASH_POD_GROUP, ""))
    except ValueError:
        stashed = None
    if isinstance(stashed, dict) and (
        "kubeScheduling" in stashed or "volcanoScheduling" in stashed
    ):
        return stashed
    try:
        timeout = int(annotations.get(GANG_TIMEOUT, ""))
    except ValueError:
        timeout = cv.DEFAULT_SCHEDULE_TIMEOUT  # the operator's fallback when it does not parse
    return {"kubeScheduling": {"scheduleTimeoutSeconds": timeout}}


def _stashed_coordination(
    doc: Document, annotations: dict[str, str], metadata_path: JsonPath
) -> tuple[Coordination, ...]:
    """A converted group's v1alpha1 `coordination`: HEAD's migration controller turns the
    stash into a CoordinatedPolicy named after the group (§6.3), which binds it."""
    try:
        rules = json.loads(annotations.get(STASH_COORDINATION, ""))
    except ValueError:
        return ()
    if not isinstance(rules, list):
        return ()
    span = doc.span(*metadata_path, "annotations", STASH_COORDINATION)
    out = []
    for rule in rules:
        if not isinstance(rule, dict) or not isinstance(rule.get("roles"), list):
            continue
        strategy = rule.get("strategy") or {}
        rolling, scaling = strategy.get("rollingUpdate"), strategy.get("scaling")
        out.append(
            Coordination(
                name=str(rule.get("name", "")),
                roles=tuple(str(r) for r in rule["roles"]),
                span=span,
                rolling_update=None
                if not isinstance(rolling, dict)
                else CoordinatedRollingUpdate(
                    max_skew=rolling.get("maxSkew"),
                    partition=rolling.get("partition"),
                    max_unavailable=rolling.get("maxUnavailable"),
                ),
                scaling=None
                if not isinstance(scaling, dict)
                else CoordinatedScaling(
                    max_skew=scaling.get("maxSkew", "100%"),
                    progression=scaling.get("progression", "OrderScheduled"),
                ),
                document=doc,
                path=(*metadata_path, "annotations", STASH_COORDINATION),
            )
        )
    return tuple(out)


def pattern_of(raw: dict[str, Any]) -> str | None:
    """The pattern the operator uses: standalone, else leaderWorker, else components."""
    return next((p for p in PATTERNS if raw.get(p) is not None), None)


def _role(doc: Document, path: JsonPath, raw: dict[str, Any]) -> Role:
    annotations = dict(raw.get("annotations") or {})
    pattern_key = pattern_of(raw)
    pattern: dict[str, Any] = (raw.get(pattern_key) or {}) if pattern_key else {}
    pattern_path = (*path, pattern_key) if pattern_key else path
    workload_type = annotations.get(WORKLOAD_TYPE) or INSTANCE_SET
    leader_worker = pattern_key == "leaderWorkerPattern"
    instance_set = None
    if workload_type == INSTANCE_SET:
        kind = WorkloadKind.STATEFULSET
        if leader_worker:
            kind = WorkloadKind.LEADERWORKERSET
        elif annotations.get(INSTANCE_PATTERN) == "Stateless":
            kind = WorkloadKind.DEPLOYMENT  # random instance names, no index (§3.1)
        api_version, kind_name = kind.api_version, kind.kind
        instance_set = _instance_set(doc, path, raw, pattern_key or "")
    else:
        api_version, _, kind_name = workload_type.rpartition("/")
    workload = Workload(
        api_version=api_version,
        kind=kind_name,
        span=doc.span(*path, "annotations", WORKLOAD_TYPE)
        if WORKLOAD_TYPE in annotations
        else doc.span(*path, "name"),
    )
    lws = None
    if (api_version, kind_name) == (
        WorkloadKind.LEADERWORKERSET.api_version,
        WorkloadKind.LEADERWORKERSET.kind,
    ):
        # an LWS role without leaderWorkerPattern is an LWS of size 1 (§2.1)
        size = pattern.get("size", 1) if leader_worker else 1
        lws = LeaderWorkerSetSpec(
            size=1 if size is None else size,
            patch_leader=pattern.get("leaderTemplatePatch") if leader_worker else None,
            patch_worker=pattern.get("workerTemplatePatch") if leader_worker else None,
            span=doc.span(*pattern_path),
            patch_paths=(
                (*pattern_path, "leaderTemplatePatch"),
                (*pattern_path, "workerTemplatePatch"),
            ),
        )
    ref = pattern.get("templateRef")
    rolling = (raw.get("rolloutStrategy") or {}).get("rollingUpdate")
    return Role(
        name=raw["name"],
        replicas=raw.get("replicas", 1),
        workload=workload,
        template=pattern.get("template") or {},
        template_path=(*pattern_path, "template"),
        span=doc.span(*path, "name"),
        dependencies=tuple(
            Dependency(name=d, span=doc.span(*path, "dependencies", i))
            for i, d in enumerate(raw.get("dependencies") or ())
        ),
        rolling_update=None
        if rolling is None
        else RollingUpdate(
            partition=rolling.get("partition", 0),
            max_unavailable=rolling.get("maxUnavailable", 1),
            max_surge=rolling.get("maxSurge", 0),
            span=doc.span(*path, "rolloutStrategy", "rollingUpdate"),
        ),
        restart_policy=restart_policy(raw),
        service_ports=tuple(
            ServicePort(name=p.get("name"), port=p["port"]) for p in raw.get("servicePorts") or ()
        ),
        labels=dict(raw.get("labels") or {}),
        annotations=annotations,
        min_ready_seconds=raw.get("minReadySeconds"),
        leader_worker_set=lws,
        engine_runtimes=tuple(
            EngineRuntime(
                profile=e["profileName"],
                containers=tuple(e.get("containers") or ()),
                span=doc.span(*path, "engineRuntimes", i, "profileName"),
            )
            for i, e in enumerate(raw.get("engineRuntimes") or ())
        ),
        scaling_adapter=bool((raw.get("scalingAdapter") or {}).get("enable")),
        template_ref=ref.get("name") if isinstance(ref, dict) else None,
        template_patch=(ref.get("patch") or {}) if isinstance(ref, dict) else None,
        raw=raw,
        path=path,
        template_patch_path=(*pattern_path, "templateRef", "patch"),
        instance_set=instance_set,
    )


def restart_policy(raw: dict[str, Any]) -> str:
    """The effective restart type (`helper.go:304`): standalone is always `None`."""
    pattern_key = pattern_of(raw)
    if pattern_key not in ("leaderWorkerPattern", "customComponentsPattern"):
        return "None"
    pattern = raw[pattern_key]
    config = pattern.get("restartPolicyConfig") or {}
    return str(
        config.get("type") or pattern.get("restartPolicy") or "RecreateRoleInstanceOnPodRestart"
    )


def _instance_set(doc: Document, path: JsonPath, raw: dict[str, Any], key: str) -> InstanceSet:
    rolling = (raw.get("rolloutStrategy") or {}).get("rollingUpdate") or {}
    config = (raw.get(key) or {}).get("restartPolicyConfig") or {}
    components = []
    if key == "customComponentsPattern":
        for i, c in enumerate(raw[key].get("components") or ()):
            template = copy.deepcopy(dict(c.get("template") or {}))
            meta = template.setdefault("metadata", {})
            for field in ("labels", "annotations"):  # the component's values win (§2.4)
                if c.get(field):
                    meta[field] = {**(meta.get(field) or {}), **c[field]}
            components.append(
                Component(
                    name=c["name"],
                    size=c.get("size", 0),  # validate refuses a missing size
                    template=template,
                    template_path=(*path, key, "components", i, "template"),
                    service_name=c.get("serviceName") or None,
                )
            )
    patterns = {"leaderWorkerPattern": "leaderWorker", "customComponentsPattern": "components"}
    return InstanceSet(
        pattern=patterns.get(key, "standalone"),
        components=tuple(components),
        pod_management_policy=raw.get("podManagementPolicy") or "Parallel",
        update_type=rolling.get("type"),
        paused=bool(rolling.get("paused")),
        grace_period=(rolling.get("inPlaceUpdateStrategy") or {}).get("gracePeriodSeconds"),
        restart_delays="baseDelaySeconds" in config or "maxDelaySeconds" in config,
        span=doc.span(*path, "name"),
    )


def role_templates(
    doc: Document, spec_path: JsonPath, spec: Mapping[str, Any]
) -> tuple[RoleTemplate, ...]:
    """`spec.roleTemplates`: the same field in both API versions, read once for both."""
    return tuple(
        RoleTemplate(
            name=t["name"],
            template=t["template"],
            path=(*spec_path, "roleTemplates", i, "template"),
            span=doc.span(*spec_path, "roleTemplates", i, "name"),
        )
        for i, t in enumerate(spec.get("roleTemplates") or ())
    )
