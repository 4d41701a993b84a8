"""The v1alpha2 front end: `workloads.x-k8s.io/v1alpha2` groups -> the same IR as v1alpha1.

Runs after `schema.check_v1alpha2`, so shapes are trusted here. What the operator at HEAD
reads (rbg-v1alpha2-semantics.md §1.3-§1.4, §2.1, §4) becomes the fields v1alpha1 spells
differently, so every pass and the compiled facts stay one:

- the workload is the role annotation `rbg.workloads.x-k8s.io/role-workload-type`, else the
  operator's RoleInstanceSet, which rbgc lowers to plain objects (§3.5): a standalone role
  becomes a StatefulSet (same pod names and DNS), a leaderWorkerPattern role a LeaderWorkerSet
  (`--lws` chooses native or StatefulSets); `Role.instance_set` keeps what only the operator
  would do (in-place updates, `paused`) for the passes to warn about, `Role.pattern` the
  pattern and `Role.restart_backoff` the restart delays;
- `standalonePattern` / `leaderWorkerPattern` carry `template` or `templateRef {name, patch}`;
  leader/worker patches are `leaderTemplatePatch` / `workerTemplatePatch`;
- the effective restart policy: standalone roles `None`; leaderWorkerPattern roles
  `restartPolicyConfig.type`, else the deprecated `restartPolicy`, else
  `RecreateRoleInstanceOnPodRestart` (`helper.go:304`);
- gang scheduling is the group annotation `rbg.workloads.x-k8s.io/group-gang-scheduling:
  "true"` (timeout from `…-timeout`, else 60), a scheduler-plugins PodGroup as the operator
  creates with its default `--scheduler-name`.

What the v1alpha2 CRD refuses that its JSON Schema cannot say (CEL rules, the webhook) and
what v1alpha1 keys it ignores is found here (`Group.findings`); `validate` reports it with
the group's other problems.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

from rbgc.diagnostics import Diagnostic, error, warning
from rbgc.k8s import conventions as cv
from rbgc.k8s.controllers import scaled
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
    Pattern,
    RestartBackoff,
    Role,
    RoleTemplate,
    RollingUpdate,
    ServicePort,
    Workload,
    WorkloadKind,
)
from rbgc.source import Document, JsonPath, value_at


def group(
    doc: Document,
    spec_path: JsonPath,
    default_namespace: str,
    order: int,
    name: str | None = None,
    set_index: int | None = None,
    metadata_path: JsonPath = ("metadata",),
    conventions: cv.Conventions = cv.V08,
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
            if k.startswith((cv.HEAD_PREFIX + "group-", cv.STASH_PREFIX))
        }
        annotations = {**inherited, **annotations}
    ns = meta.get("namespace")
    templates = role_templates(doc, spec_path, spec)
    roles = []
    findings = list(_stale_group_keys(doc, annotations, metadata_path))
    for i, raw in enumerate(spec["roles"]):
        role = _role(doc, (*spec_path, "roles", i), raw)
        roles.append(role)
        findings += _admission(doc, role, raw, templates)
    return Group(
        name=name or meta["name"],
        namespace=str(ns) if ns else default_namespace,
        roles=tuple(roles),
        annotations=annotations,
        labels=dict(group_meta.get("labels") or {}),
        span=doc.span("metadata", "name"),
        document=doc,
        spec_path=spec_path,
        conventions=conventions,
        order=order,
        pod_group_policy=_gang(annotations),
        coordination=_stashed_coordination(doc, annotations, metadata_path),
        role_templates=templates,
        set_name=meta["name"] if set_index is not None else None,
        set_index=set_index,
        findings=tuple(findings),
    )


def _gang(annotations: dict[str, str]) -> dict[str, Any] | None:
    """The v1alpha1 `podGroupPolicy` the annotations mean at HEAD (§4). HEAD takes the
    PodGroup flavour from its `--scheduler-name` flag (scheduler-plugins by default); rbgc has
    no flag, so a converted group's stashed policy says which flavour it had."""
    if annotations.get(cv.ANNOTATION_GANG) != "true":
        return None
    try:
        stashed = cv.stash_decode(annotations.get(cv.STASH_POD_GROUP_POLICY, ""))
    except ValueError:
        stashed = None
    if isinstance(stashed, dict) and (
        "kubeScheduling" in stashed or "volcanoScheduling" in stashed
    ):
        return stashed
    try:
        timeout = int(annotations.get(cv.ANNOTATION_GANG_TIMEOUT, ""))
    except ValueError:
        timeout = cv.DEFAULT_SCHEDULE_TIMEOUT  # the operator's fallback when it does not parse
    return {"kubeScheduling": {"scheduleTimeoutSeconds": timeout}}


def _stashed_coordination(
    doc: Document, annotations: dict[str, str], metadata_path: JsonPath
) -> tuple[Coordination, ...]:
    """A converted group's v1alpha1 `coordination`: HEAD's migration controller turns the
    stash into a CoordinatedPolicy named after the group (§6.3), which binds it."""
    try:
        rules = cv.stash_decode(annotations.get(cv.STASH_COORDINATION, ""))
    except ValueError:
        return ()
    if not isinstance(rules, list):
        return ()
    span = doc.span(*metadata_path, "annotations", cv.STASH_COORDINATION)
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
                path=(*metadata_path, "annotations", cv.STASH_COORDINATION),
            )
        )
    return tuple(out)


def pattern_of(raw: dict[str, Any]) -> Pattern | None:
    """The pattern the operator uses: standalone, else leaderWorker, else components."""
    return next((p for p in Pattern if raw.get(p.value) is not None), None)


def _role(doc: Document, path: JsonPath, raw: dict[str, Any]) -> Role:
    annotations = dict(raw.get("annotations") or {})
    pattern_key = pattern_of(raw)
    pattern: dict[str, Any] = (raw.get(pattern_key) or {}) if pattern_key else {}
    pattern_path = (*path, pattern_key) if pattern_key else path
    workload_type = annotations.get(cv.ANNOTATION_WORKLOAD_TYPE) or cv.INSTANCE_SET_WORKLOAD
    leader_worker = pattern_key is Pattern.LEADER_WORKER
    stateless = annotations.get(cv.ANNOTATION_INSTANCE_PATTERN) == "Stateless"
    instance_set = None
    if workload_type == cv.INSTANCE_SET_WORKLOAD:
        kind = WorkloadKind.STATEFULSET
        if leader_worker:
            kind = WorkloadKind.LEADERWORKERSET
        elif pattern_key is Pattern.STANDALONE and stateless:
            kind = WorkloadKind.DEPLOYMENT  # random instance names, no index (§3.1)
        api_version, kind_name = kind.api_version, kind.kind
        instance_set = _instance_set(doc, path, raw, pattern_key, stateless=stateless)
    else:
        api_version, _, kind_name = workload_type.rpartition("/")
    workload = Workload(
        api_version=api_version,
        kind=kind_name,
        span=doc.span(*path, "annotations", cv.ANNOTATION_WORKLOAD_TYPE)
        if cv.ANNOTATION_WORKLOAD_TYPE in annotations
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
        restart_backoff=_backoff(pattern),
        pattern=pattern_key,
        service_ports=service_ports(doc, path, raw),
        labels=dict(raw.get("labels") or {}),
        annotations=annotations,
        min_ready_seconds=raw.get("minReadySeconds"),
        leader_worker_set=lws,
        engine_runtimes=engine_runtimes(doc, path, raw),
        scaling_adapter=bool((raw.get("scalingAdapter") or {}).get("enable")),
        template_ref=ref.get("name") if isinstance(ref, dict) else None,
        template_patch=(ref.get("patch") or {}) if isinstance(ref, dict) else None,
        path=path,
        template_patch_path=(*pattern_path, "templateRef", "patch"),
        instance_set=instance_set,
    )


def restart_policy(raw: dict[str, Any]) -> str:
    """The effective restart type (`helper.go:304`): standalone is always `None`."""
    pattern_key = pattern_of(raw)
    if pattern_key not in (Pattern.LEADER_WORKER, Pattern.COMPONENTS):
        return "None"
    pattern = raw[pattern_key.value]
    config = pattern.get("restartPolicyConfig") or {}
    return str(
        config.get("type") or pattern.get("restartPolicy") or "RecreateRoleInstanceOnPodRestart"
    )


def _backoff(pattern: Mapping[str, Any]) -> RestartBackoff:
    config = pattern.get("restartPolicyConfig") or {}
    return RestartBackoff(
        base_delay=config.get("baseDelaySeconds", cv.RESTART_BASE_DELAY),
        max_delay=config.get("maxDelaySeconds", cv.RESTART_MAX_DELAY),
        written="baseDelaySeconds" in config or "maxDelaySeconds" in config,
    )


def _instance_set(
    doc: Document,
    path: JsonPath,
    raw: dict[str, Any],
    pattern: Pattern | None,
    *,
    stateless: bool,
) -> InstanceSet:
    rolling = (raw.get("rolloutStrategy") or {}).get("rollingUpdate") or {}
    components = []
    if pattern is Pattern.COMPONENTS:
        key = pattern.value
        for i, c in enumerate(raw[key].get("components") or ()):
            template = copy.deepcopy(dict(c.get("template") or {}))
            meta = template.setdefault("metadata", {})
            for field in ("labels", "annotations"):  # the component's values win (§2.4)
                if c.get(field):
                    meta[field] = {**(meta.get(field) or {}), **c[field]}
            components.append(
                Component(
                    name=c["name"],
                    size=c.get("size", 0),  # `_admission` refuses a missing size
                    template=template,
                    template_path=(*path, key, "components", i, "template"),
                    service_name=c.get("serviceName") or None,
                )
            )
    written = (raw.get(pattern.value) or {}) if pattern is not None else {}
    return InstanceSet(
        components=tuple(components),
        leader_only=pattern is Pattern.LEADER_WORKER
        and written.get("sharedServiceSelection", "LeaderOnly") == "LeaderOnly",
        pod_management_policy=raw.get("podManagementPolicy") or "Parallel",
        update_type=rolling.get("type"),
        paused=bool(rolling.get("paused")),
        grace_period=(rolling.get("inPlaceUpdateStrategy") or {}).get("gracePeriodSeconds"),
        stateless=stateless,
        span=doc.span(*path, "name"),
    )


def engine_runtimes(
    doc: Document, path: JsonPath, raw: Mapping[str, Any]
) -> tuple[EngineRuntime, ...]:
    """`engineRuntimes`: the same field in both API versions, read once for both."""
    out = []
    for i, e in enumerate(raw.get("engineRuntimes") or ()):
        at = (*path, "engineRuntimes", i)
        out.append(
            EngineRuntime(
                profile=e["profileName"],
                containers=tuple(e.get("containers") or ()),
                span=doc.span(*at, "profileName"),
                path=at,
                inject_containers=doc.span(*at, "injectContainers", key=True)
                if "injectContainers" in e
                else None,
            )
        )
    return tuple(out)


def service_ports(doc: Document, path: JsonPath, raw: Mapping[str, Any]) -> tuple[ServicePort, ...]:
    """`servicePorts`: the same field in both API versions, read once for both."""
    return tuple(
        ServicePort(
            name=p.get("name"),
            port=p["port"],
            unused=tuple(
                (key, doc.span(*path, "servicePorts", i, key, key=True))
                for key in p
                if key not in ("name", "port")
            ),
        )
        for i, p in enumerate(raw.get("servicePorts") or ())
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


# --- what the v1alpha2 CRD admits (its CEL rules and webhook), beyond its JSON Schema --------


def _admission(
    doc: Document, role: Role, raw: dict[str, Any], templates: tuple[RoleTemplate, ...]
) -> Iterator[Diagnostic]:
    """A role's pattern and template as the operator needs them (semantics §1.4-§1.7), and
    the CEL rules and validating webhook of the v1alpha2 CRD its JSON Schema cannot say."""
    yield from _stale_role_keys(doc, role, templates)
    pattern = role.pattern
    if role.kind is None:
        return  # validate refuses the workload kind: nothing of the role is compiled
    if pattern is None:
        yield error(
            "RBG103",
            f"role {role.name!r} has no pattern: the operator fails it at reconcile time",
            role.span,
            help="add `standalonePattern: {template: ...}` (one pod per replica) or "
            "`leaderWorkerPattern`",
        )
        return
    at = role.pattern_path
    written = raw.get(pattern.value) or {}
    if pattern is Pattern.COMPONENTS:
        default_workload = role.instance_set is not None and role.kind is WorkloadKind.STATEFULSET
        for i, spec in enumerate(written.get("components") or () if default_workload else ()):
            if "size" not in spec:
                yield error(
                    "RBG103",
                    f"role {role.name!r}: component {spec['name']!r} has no `size` (the "
                    "operator's RoleInstanceSet controller crashes on it)",
                    doc.span(*at, "components", i, "name"),
                    help="add `size: 1` (pods of this component per instance)",
                )
    elif role.template_ref is not None:
        if role.kind is WorkloadKind.LEADERWORKERSET and role.instance_set is None:
            yield error(
                "RBG130",
                f"role {role.name!r}: `templateRef` is not allowed on LeaderWorkerSet "
                "workloads (upstream rule)",
                doc.span(*at, "templateRef", key=True),
                help="use `template`, or drop the role-workload-type annotation (the default "
                "workload takes templateRef)",
            )
    elif "template" not in written:
        yield error(
            "RBG103",
            f"role {role.name!r} has no pod `template`",
            doc.span(*at, key=True),
            help=f"add `template:` (or `templateRef`) under `{pattern.value}`",
        )
    backoff = role.restart_backoff
    if backoff.max_delay < backoff.base_delay:
        yield error(
            "RBG101",
            f"role {role.name!r}: maxDelaySeconds must be greater than or equal to "
            f"baseDelaySeconds ({backoff.max_delay} < {backoff.base_delay})",
            doc.span(*at, "restartPolicyConfig", "maxDelaySeconds"),
            help="raise maxDelaySeconds or lower baseDelaySeconds (defaults: "
            f"{cv.RESTART_BASE_DELAY} and {cv.RESTART_MAX_DELAY})",
        )
    if written.get("sharedServiceSelection") == "LeaderOnly" and role.instance_set is None:
        yield error(
            "RBG101",
            f"role {role.name!r}: leaderWorkerPattern.sharedServiceSelection=LeaderOnly is only "
            "supported for RoleInstanceSet + leaderWorkerPattern",
            doc.span(*at, "sharedServiceSelection"),
            help="remove it, or drop the role-workload-type annotation",
        )
    ru = role.rolling_update
    if ru is not None and role.replicas > 0:
        partition = scaled(ru.partition, role.replicas, round_up=True)
        if partition >= role.replicas:
            yield error(
                "RBG116",
                f"role {role.name!r}: partition {ru.partition} ({partition} of "
                f"{role.replicas}) must be less than replicas",
                doc.span(*role.role_path, "rolloutStrategy", "rollingUpdate", "partition"),
                help="to hold every pod at its revision, use `paused: true`",
            )


# v1alpha1 keys a v1alpha2 group may still carry, and what HEAD reads instead (§12 #20)
STALE_GROUP_KEYS = {
    cv.ANNOTATION_EXCLUSIVE_TOPOLOGY: cv.V08.annotation_exclusive_topology,
    cv.ANNOTATION_EXCLUSIVE_TOPOLOGY_MIXED: cv.V08.annotation_exclusive_topology,
}


def _stale_group_keys(
    doc: Document, annotations: Mapping[str, str], metadata_path: JsonPath
) -> Iterator[Diagnostic]:
    """Keys of v0.4.0 on a v1alpha2 group: the operator ignores them (so does rbgc)."""
    for key in annotations:
        right = STALE_GROUP_KEYS.get(key)
        if right is not None and right not in annotations:
            yield warning(
                "RBG123",
                f"{key} is a v1alpha1 key, which the v1alpha2 operator ignores: the group gets "
                "no exclusive topology",
                doc.span(*metadata_path, "annotations", key, key=True),
                help=f"write {right} instead",
            )


def _stale_role_keys(
    doc: Document, role: Role, templates: tuple[RoleTemplate, ...]
) -> Iterator[Diagnostic]:
    """v0.4.0's exclusive-topology opt-out on a v1alpha2 pod template (rbgc honours it)."""
    if role.template_ref is None:
        path, template = role.template_path, role.template
    else:
        ref = next((t for t in templates if t.name == role.template_ref), None)
        if ref is None:
            return  # validate reports the unknown template
        path, template = ref.path, ref.template
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    if cv.ANNOTATION_DISABLE_EXCLUSIVE in annotations:
        yield warning(
            "RBG123",
            f"{cv.ANNOTATION_DISABLE_EXCLUSIVE} is a v1alpha1 key: the v1alpha2 operator "
            f"reads {cv.V08.annotation_disable_exclusive} (rbgc honours both)",
            doc.span(*path, "metadata", "annotations", cv.ANNOTATION_DISABLE_EXCLUSIVE, key=True),
            help=f"write {cv.V08.annotation_disable_exclusive} instead",
        )


# --- what becomes of every field of a v1alpha2 role (tests/test_operator_parity.py holds this
# table against schemas/rolebasedgroup.v1alpha2.schema.json): lowered into the output, or
# warned at the user's line with the reason. Nothing is dropped without a word. -------------

LOWERED, WARNED = "lowered", "warned"
ROLE_FIELDS: Mapping[str, tuple[str, str]] = {
    "name": (LOWERED, "object names `{R}-{r}`, `s-{R}-{r}`; the role-name label"),
    "labels": (LOWERED, "the workload's labels"),
    "annotations": (
        LOWERED,
        "the workload's annotations; role-workload-type and "
        "role-instance-pattern choose the workload",
    ),
    "replicas": (LOWERED, "the workload's replicas (LWS: groups)"),
    "rolloutStrategy.type": (LOWERED, "RollingUpdate, the only value: the workloads' own"),
    "rolloutStrategy.rollingUpdate.partition": (
        LOWERED,
        "partition (StatefulSet, LWS; components: whole instances)",
    ),
    "rolloutStrategy.rollingUpdate.maxUnavailable": (LOWERED, "maxUnavailable"),
    "rolloutStrategy.rollingUpdate.maxSurge": (
        LOWERED,
        "maxSurge (Deployment, LWS); a StatefulSet's is carried out by rbgc sync (RBG141)",
    ),
    "rolloutStrategy.rollingUpdate.type": (
        LOWERED,
        "RecreatePod is what the compiled workloads do; InPlaceIfPossible / InPlaceOnly warn "
        "(RBG141)",
    ),
    "rolloutStrategy.rollingUpdate.paused": (
        LOWERED,
        "partition = replicas (RBG141 says scaling still happens); a Deployment's paused",
    ),
    "rolloutStrategy.rollingUpdate.inPlaceUpdateStrategy.gracePeriodSeconds": (
        WARNED,
        "RBG122: compiled pods are never updated in place",
    ),
    "dependencies": (LOWERED, "sync waves, and the order of rbgc sync"),
    "standalonePattern.template": (LOWERED, "the pod template"),
    "standalonePattern.templateRef.name": (LOWERED, "the role template it names"),
    "standalonePattern.templateRef.patch": (LOWERED, "strategic merge over it"),
    "leaderWorkerPattern.template": (LOWERED, "the leader and worker pod templates"),
    "leaderWorkerPattern.templateRef.name": (LOWERED, "the role template it names"),
    "leaderWorkerPattern.templateRef.patch": (LOWERED, "strategic merge over it"),
    "leaderWorkerPattern.size": (LOWERED, "LWS size, or the worker StatefulSets' replicas"),
    "leaderWorkerPattern.leaderTemplatePatch": (LOWERED, "strategic merge: the leader's"),
    "leaderWorkerPattern.workerTemplatePatch": (LOWERED, "strategic merge: the workers'"),
    "leaderWorkerPattern.sharedServiceSelection": (
        LOWERED,
        "the s-{R}-{r} Service selects the leaders or every pod",
    ),
    "leaderWorkerPattern.restartPolicy": (LOWERED, "as restartPolicyConfig.type"),
    "leaderWorkerPattern.restartPolicyConfig.type": (
        LOWERED,
        "the LWS restartPolicy; with --lws statefulsets rbgc sync --watch (RBG141)",
    ),
    "leaderWorkerPattern.restartPolicyConfig.baseDelaySeconds": (
        WARNED,
        "RBG141 on a native LWS, which recreates at once; with --lws statefulsets rbgc sync "
        "--watch backs off as written",
    ),
    "leaderWorkerPattern.restartPolicyConfig.maxDelaySeconds": (
        WARNED,
        "RBG141 on a native LWS, which recreates at once; with --lws statefulsets rbgc sync "
        "--watch backs off as written",
    ),
    "customComponentsPattern.components.name": (LOWERED, "StatefulSet `{R}-{r}-{i}-{c}`"),
    "customComponentsPattern.components.size": (LOWERED, "its replicas"),
    "customComponentsPattern.components.serviceName": (LOWERED, "its serviceName"),
    "customComponentsPattern.components.labels": (LOWERED, "its pod labels"),
    "customComponentsPattern.components.annotations": (
        LOWERED,
        "its pod annotations; the operator-only ones warn (RBG141)",
    ),
    "customComponentsPattern.components.template": (LOWERED, "its pod template"),
    "customComponentsPattern.restartPolicy": (
        LOWERED,
        "as restartPolicyConfig.type",
    ),
    "customComponentsPattern.restartPolicyConfig.type": (
        LOWERED,
        "None is what the compiled pods do; any other type warns (RBG141: instance restart "
        "needs the operator)",
    ),
    "customComponentsPattern.restartPolicyConfig.baseDelaySeconds": (
        WARNED,
        "RBG141 at restartPolicyConfig unless the type is None, where the operator never "
        "waits either",
    ),
    "customComponentsPattern.restartPolicyConfig.maxDelaySeconds": (
        WARNED,
        "RBG141 at restartPolicyConfig unless the type is None, where the operator never "
        "waits either",
    ),
    "servicePorts.name": (LOWERED, "config.yaml's port key"),
    "servicePorts.port": (LOWERED, "config.yaml's port"),
    "servicePorts.protocol": (WARNED, "RBG122: read nowhere, as upstream"),
    "servicePorts.appProtocol": (WARNED, "RBG122: read nowhere, as upstream"),
    "servicePorts.targetPort": (WARNED, "RBG122: read nowhere, as upstream"),
    "servicePorts.nodePort": (WARNED, "RBG122: read nowhere, as upstream"),
    "engineRuntimes.profileName": (LOWERED, "the profile's sidecars, volumes, init containers"),
    "engineRuntimes.injectContainers": (WARNED, "RBG122: read nowhere, as upstream"),
    "engineRuntimes.containers.name": (
        LOWERED,
        "the profile container it extends; one the profile lacks warns (RBG511)",
    ),
    "engineRuntimes.containers.env": (LOWERED, "appended to that container's env (HEAD)"),
    "engineRuntimes.containers.args": (LOWERED, "appended to that container's args"),
    "scalingAdapter.enable": (
        WARNED,
        "RBG143 (RBG124 on components, and leader/worker under --lws statefulsets): no "
        "adapter without the operator; an HPA on it is retargeted (RBG144)",
    ),
    "scalingAdapter.labels": (WARNED, "with enable, RBG143: the adapter is not emitted"),
    "minReadySeconds": (
        LOWERED,
        "the default workload's StatefulSets and Deployments, and a StatefulSet type's; RBG122 "
        "on a native LWS, and on a Deployment or LWS type (the operator sets none)",
    ),
    "podManagementPolicy": (LOWERED, "StatefulSets; OrderedReady on a LWS warns (RBG122)"),
    "instanceTopologyConstraint.topologyName": (LOWERED, "the placement pass (topology.py)"),
    "instanceTopologyConstraint.pack.required": (LOWERED, "the placement pass (topology.py)"),
    "instanceTopologyConstraint.pack.preferred": (LOWERED, "the placement pass (topology.py)"),
}
