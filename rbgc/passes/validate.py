"""Pass 1 of 5: validate. In: Group, Target, profiles. Out: Checked. Errors: RBG1xx.

Checks the meaning the schema cannot express: names Kubernetes would reject once they become
`{group}-{role}` objects, duplicates, template references, rollouts that can never progress,
coordination rules, and workload kinds rbgc does not compile. Every problem of the group is
reported, not just the first, with what the front ends found in its input form
(`Group.findings`). It reads the typed IR only, never the document.

It also warns where a manifest relies on something only a running controller gives (surge
stepping, whole-group restarts, coordinated rollouts): rbgc compiles the steady state, and
the user should know what the compiled objects will not do on their own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from rbgc.diagnostics import (
    Diagnostic,
    DiagnosticError,
    Severity,
    Span,
    did_you_mean,
    error,
    warning,
)
from rbgc.jsonpath import find
from rbgc.k8s import controllers
from rbgc.k8s import conventions as cv
from rbgc.k8s.controllers import scaled, written_zero
from rbgc.k8s.naming import (
    DNS1035_LABEL,
    DNS1123_LABEL,
    MAX_LABEL,
    MAX_STATEFULSET_NAME,
)
from rbgc.model import (
    Coordination,
    Group,
    LwsLowering,
    Pattern,
    Profile,
    Role,
    Target,
    WorkloadKind,
)
from rbgc.passes.inplace import lowered_in_place
from rbgc.workloads.context import min_ready_seconds, unscalable_by


@dataclass(frozen=True, slots=True, kw_only=True)
class Checked:
    """A group that passed validation, and the warnings found on the way."""

    group: Group
    warnings: tuple[Diagnostic, ...] = ()


def validate(group: Group, target: Target, profiles: Mapping[str, Profile]) -> Checked:
    found = [
        *_group_name(group),
        *_duplicates(group),
        *_coordination(group),
        *group.findings,  # the front end's, about the group's input form
    ]
    for role in group.roles:
        found.extend(_role(group, role, target, profiles))
    errors = [d for d in found if d.severity is Severity.ERROR]
    if errors:
        raise DiagnosticError(errors)
    return Checked(group=group, warnings=tuple(d for d in found if d.severity is Severity.WARNING))


def _group_name(group: Group) -> Iterator[Diagnostic]:
    name = group.name
    if not DNS1035_LABEL.match(name) or len(name) > MAX_LABEL:
        yield error(
            "RBG111",
            f"group name {name!r} cannot prefix Service and label names",
            group.span,
            help="use lowercase letters, digits and '-', starting with a letter, at most 63 "
            "characters (it becomes part of every `{group}-{role}` name)",
        )


def _duplicates(group: Group) -> Iterator[Diagnostic]:
    for what, items in (
        ("role", [(r.name, r.span) for r in group.roles]),
        ("role template", [(t.name, t.span) for t in group.role_templates]),
        ("coordination rule", [(c.name, c.span) for c in group.coordination]),
    ):
        first: dict[str, Span] = {}
        for name, span in items:
            if name in first:
                yield error(
                    "RBG110",
                    f"{what} {name!r} is defined twice",
                    span,
                    help="names are the keys of their list; rename or merge one",
                    notes=((first[name], "first defined here"),),
                )
            else:
                first[name] = span


def _schedules(rule: Coordination) -> bool:
    """A CoordinatedPolicy rule with `strategy.scheduling` (upstream's topology constraint)."""
    if rule.document is None or rule.path is None:
        return False
    body: Any = rule.document.body
    for key in (*rule.path, "strategy"):
        if isinstance(key, int):
            body = body[key] if isinstance(body, list) and key < len(body) else None
        else:
            body = body.get(key) if isinstance(body, dict) else None
    return isinstance(body, dict) and "scheduling" in body


def _coordination(group: Group) -> Iterator[Diagnostic]:
    names = sorted(r.name for r in group.roles)
    for rule in group.coordination:
        for i, role in enumerate(rule.roles):
            if role not in names:
                yield error(
                    "RBG150",
                    f"coordination {rule.name!r} names unknown role {role!r}",
                    _rule_span(group, rule.name, "roles", i),
                    help=did_you_mean(role, names, "known roles: " + ", ".join(names)),
                )
        if rule.rolling_update is None and rule.scaling is None and _schedules(rule):
            continue  # a KEP-473 topology rule only: the placement pass owns it
        if len(set(rule.roles)) < 2:
            yield error(
                "RBG151",
                f"coordination {rule.name!r} needs at least two roles",
                _rule_span(group, rule.name, "roles"),
                help="a coordination rule keeps several roles in step; list two or more",
            )
        if rule.rolling_update is None and rule.scaling is None:
            yield error(
                "RBG151",
                f"coordination {rule.name!r} has no strategy",
                rule.span,
                help="add `strategy.rollingUpdate` and/or `strategy.scaling`",
            )
        yield warning(
            "RBG141",
            f"coordination {rule.name!r} needs a controller: applied as compiled, each role "
            "rolls out on its own",
            rule.span,
            help="review the rollout with `rbgc plan OLD NEW`, which models the coordination "
            "and shows the skew between roles at every step",
        )


def _rule_span(group: Group, name: str, *rest: str | int) -> Span:
    index, rule = next((i, c) for i, c in enumerate(group.coordination) if c.name == name)
    if rule.document is not None and rule.path is not None:  # a bound CoordinatedPolicy
        return rule.document.span(*rule.path, *rest)
    return group.document.span(*group.spec_path, "coordination", index, *rest)


def _role(
    group: Group, role: Role, target: Target, profiles: Mapping[str, Profile]
) -> Iterator[Diagnostic]:
    doc = group.document
    role_path = role.role_path
    if not DNS1123_LABEL.match(role.name) or len(role.name) > MAX_LABEL:
        yield error(
            "RBG111",
            f"role name {role.name!r} cannot be used in object names",
            role.span,
            help="use lowercase letters, digits and '-', starting and ending with a letter or "
            "digit, at most 63 characters",
        )
    kind = role.kind
    if kind is None:
        yield error(
            "RBG121",
            f"unsupported workload type {role.workload.key!r}",
            role.workload.span,
            help=did_you_mean(
                role.workload.key,
                (k.value for k in WorkloadKind),
                "use apps/v1 StatefulSet, apps/v1 Deployment or "
                "leaderworkerset.x-k8s.io/v1 LeaderWorkerSet",
            ),
        )
        return
    name = group.conventions.workload_name(group.name, role.name)
    limit = MAX_STATEFULSET_NAME if kind.shape.ordered else MAX_LABEL
    if kind is WorkloadKind.LEADERWORKERSET and role.size > 1:
        # worker StatefulSets `{name}-{group index}`: made by rbgc (--lws statefulsets) or by
        # the LWS controller (native), the pods' revision label needs the room either way
        limit -= len(str(max(role.replicas - 1, 0))) + 1
    if len(name) > limit:
        yield error(
            "RBG112",
            f"object name {name!r} is {len(name)} characters; a {kind.kind} role allows at "
            f"most {limit}",
            role.span,
            help="shorten the group or role name (StatefulSet pod labels need the room)",
        )
    yield from _template_ref(group, role)
    if role.pattern is Pattern.COMPONENTS:
        yield from _components(group, role, kind)
    elif role.pattern is Pattern.LEADER_WORKER and kind is not WorkloadKind.LEADERWORKERSET:
        yield warning(
            "RBG122",
            f"role {role.name!r}: leaderWorkerPattern's size and patches are ignored on a "
            f"{kind.kind} (the operator uses its base template only)",
            doc.span(*role.pattern_path, key=True),
            help="drop the role-workload-type annotation to get leader/worker groups",
        )
    yield from _instance_set(group, role, kind, target)
    yield from _rollout(group, role, kind, target)
    yield from _restart(group, role, kind, target)
    native_lws = kind is WorkloadKind.LEADERWORKERSET and target.lws is LwsLowering.NATIVE
    if role.min_ready_seconds and min_ready_seconds(role) is None:
        yield warning(
            "RBG122",
            f"role {role.name!r}: minReadySeconds has no effect: the operator sets it on no "
            f"{kind.kind} workload, so neither does rbgc",
            doc.span(*role_path, "minReadySeconds"),
            help="remove it: only StatefulSets and the v1alpha2 default workload "
            "(RoleInstanceSet) honour it",
        )
    elif role.min_ready_seconds and native_lws:
        yield warning(
            "RBG122",
            f"role {role.name!r}: minReadySeconds is dropped: a LeaderWorkerSet has no such "
            "field, so a group counts as available as soon as its pods are ready",
            doc.span(*role_path, "minReadySeconds"),
            help="use --lws statefulsets (its StatefulSets carry minReadySeconds), or remove it",
        )
    if role.leader_worker_set is not None and kind is not WorkloadKind.LEADERWORKERSET:
        yield warning(
            "RBG122",
            f"`leaderWorkerSet` is ignored: role {role.name!r} is a {kind.kind}",
            doc.span(*role_path, "leaderWorkerSet", key=True),
            help="remove it, or set `workload.kind: LeaderWorkerSet`",
        )
    yield from _unread_fields(group, role, profiles)
    for runtime in role.engine_runtimes:
        if runtime.profile not in profiles:
            yield error(
                "RBG510",
                f"ClusterEngineRuntimeProfile {runtime.profile!r} is not among the inputs",
                runtime.span,
                help=did_you_mean(
                    runtime.profile,
                    profiles,
                    "pass the file that defines the profile to rbgc with the group",
                ),
            )
    why = unscalable_by(role, lws_as_statefulsets=target.lws is LwsLowering.STATEFULSETS)
    if role.scaling_adapter and why is not None:
        yield warning(
            "RBG124",
            f"role {role.name!r}: no RoleBasedGroupScalingAdapter exists without the operator, "
            f"and {why.reason}",
            doc.span(*role_path, "scalingAdapter", key=True),
            help=why.help,
        )
    elif role.scaling_adapter:
        yield warning(
            "RBG143",
            f"role {role.name!r}: no RoleBasedGroupScalingAdapter exists without the operator; "
            f"point an HPA or KEDA at {kind.kind} {name} (it has a scale subresource)",
            doc.span(*role_path, "scalingAdapter", key=True),
            help="keep GitOps from resetting replicas: in Argo CD add ignoreDifferences on "
            "/spec/replicas with the RespectIgnoreDifferences=true sync option; with Flux, "
            "remove `replicas` from what it applies (e.g. a kustomize patch)",
        )


def _unread_fields(
    group: Group, role: Role, profiles: Mapping[str, Profile]
) -> Iterator[Diagnostic]:
    """Fields the operator reads nowhere, which rbgc drops too: said, never silent."""
    doc = group.document
    for port in role.service_ports:
        for key, span in port.unused:
            yield warning(
                "RBG122",
                f"role {role.name!r}: servicePorts[].{key} has no effect: config.yaml lists "
                "each port's name and port only, and the role's headless Service has no ports "
                "(the operator's neither)",
                span,
                help=f"remove {key}; expose the port through a Service of your own if needed",
            )
    for runtime in role.engine_runtimes:
        if runtime.inject_containers is not None:
            yield warning(
                "RBG122",
                f"role {role.name!r}: injectContainers has no effect: the operator reads it "
                "nowhere and adds the profile's containers beside the template's",
                runtime.inject_containers,
                help="remove it; the profile's sidecars join every pod of the role but the "
                "leader/worker workers",
            )
        profile = profiles.get(runtime.profile)
        if profile is None or runtime.path is None:
            continue  # RBG510 below
        names = [str(c.get("name")) for c in profile.containers]
        inits = {str(c.get("name")) for c in profile.init_containers} - set(names)
        for j, override in enumerate(runtime.containers):
            at = (*runtime.path, "containers", j)
            name = str(override.get("name"))
            if name in inits and name not in _template_containers(group, role):
                # upstream counts it (sidecar_builder.go:89-90) but appends to containers only
                yield warning(
                    "RBG511",
                    f"role {role.name!r}: engine runtime container {name!r} names an init "
                    f"container of ClusterEngineRuntimeProfile {runtime.profile}, and no "
                    "container of the role has that name: its env and args go nowhere",
                    doc.span(*at, "name"),
                    help=f"the profile's containers: {', '.join(names) or 'none'}",
                )
            elif name not in names and name not in inits:
                yield warning(
                    "RBG511",
                    f"role {role.name!r}: engine runtime container {name!r} "
                    f"names no container of ClusterEngineRuntimeProfile {runtime.profile}: its "
                    "env and args go nowhere",
                    doc.span(*at, "name"),
                    help=did_you_mean(
                        name,
                        names,
                        f"the profile's containers: {', '.join(names) or 'none'}",
                    ),
                )
            for key in override:
                if key not in ("name", "env", "args"):
                    yield warning(
                        "RBG122",
                        f"role {role.name!r}: engine runtime container field {key!r} has no "
                        "effect: only `env` and `args` are appended to the profile's container",
                        doc.span(*at, key, key=True),
                        help="set it in the ClusterEngineRuntimeProfile instead",
                    )


def _template_containers(group: Group, role: Role) -> set[str]:
    """The container names of a role's pod template(s) as written (before patches)."""
    templates: list[Any] = [role.template]
    templates += [t.template for t in group.role_templates if t.name == role.template_ref]
    if role.instance_set is not None:
        templates += [c.template for c in role.instance_set.components]
    return {
        str(c.get("name"))
        for t in templates
        for c in find(t, ("spec", "containers")) or ()
        if isinstance(c, dict)
    }


def _template_ref(group: Group, role: Role) -> Iterator[Diagnostic]:
    if role.template_ref is None:
        return
    known = sorted(t.name for t in group.role_templates)
    if role.template_ref not in known:
        yield error(
            "RBG131",
            f"role {role.name!r} references unknown role template {role.template_ref!r}",
            group.document.span(*role.pattern_path, "templateRef", "name"),
            help=did_you_mean(
                role.template_ref,
                known,
                "known templates: " + ", ".join(known) if known else "add `spec.roleTemplates`",
            ),
        )


def _components(group: Group, role: Role, kind: WorkloadKind) -> Iterator[Diagnostic]:
    """customComponentsPattern: what upstream needs of it, and what plain StatefulSets per
    (instance, component) will not do (v1alpha2 semantics §3.2, §3.5, §8)."""
    doc = group.document
    at = role.pattern_path
    if role.instance_set is None or kind is not WorkloadKind.STATEFULSET:
        yield error(
            "RBG120",
            f"role {role.name!r}: customComponentsPattern needs the default workload "
            "(the operator fails it on any other)",
            doc.span(*at, key=True),
            help="drop the role-workload-type annotation",
        )
        return
    name = group.conventions.workload_name(group.name, role.name)
    for i, component in enumerate(role.instance_set.components):
        longest = f"{name}-{max(role.replicas - 1, 0)}-{component.name}"
        if not DNS1123_LABEL.match(component.name) or len(longest) > MAX_STATEFULSET_NAME:
            yield error(
                "RBG112",
                f"StatefulSet name {longest!r} (instance, component) is {len(longest)} "
                f"characters or not a DNS label; at most {MAX_STATEFULSET_NAME}",
                doc.span(*at, "components", i, "name"),
                help="shorten the group, role or component name",
            )
        annotations = (component.template.get("metadata") or {}).get("annotations") or {}
        for key, what in cv.COMPONENT_OPERATOR_ANNOTATIONS.items():
            if key in annotations:
                yield warning(
                    "RBG141",
                    f"role {role.name!r}: component {component.name!r} asks for {what}, which "
                    "needs the operator; the compiled StatefulSets start in parallel and get "
                    "none of it",
                    doc.span(*at, "components", i, "template", "metadata", "annotations", key),
                    help="order start-up with an init container that waits for its peers' DNS "
                    "names, and write ports and addresses as literals",
                )
    if role.restart_policy != "None":
        yield warning(
            "RBG141",
            f"role {role.name!r}: {role.restart_policy} (recreate all of an instance's pods "
            "when one restarts) needs the operator; compiled pods restart one by one",
            doc.span(*at, "restartPolicyConfig"),
            help="set `restartPolicyConfig: {type: None}` to say what will happen",
        )


def _instance_set(
    group: Group, role: Role, kind: WorkloadKind, target: Target
) -> Iterator[Diagnostic]:
    """What the compiled StatefulSet / LeaderWorkerSet will not do of a RoleInstanceSet."""
    instance_set = role.instance_set
    if instance_set is None:
        return
    doc = group.document
    rolling = (*role.role_path, "rolloutStrategy", "rollingUpdate")
    updated_in_place = lowered_in_place(role, target)  # OnDelete: rbgc sync updates the pods
    if instance_set.update_type in ("InPlaceIfPossible", "InPlaceOnly") and not updated_in_place:
        yield warning(
            "RBG141",
            f"role {role.name!r}: rollingUpdate.type {instance_set.update_type} updates pods "
            f"in place, which needs a controller; the {kind.kind} of this build replaces each "
            "pod (a new pod, a restart) on every template change",
            doc.span(*rolling, "type"),
            help="`rbgc sync` updates its pods in place, and so does `rbgc build --in-place` "
            "where `rbgc sync --watch` runs (LeaderWorkerSet roles need --lws statefulsets); "
            "else write `type: RecreatePod` to say what will happen",
        )
    if instance_set.grace_period is not None and not updated_in_place:
        yield warning(
            "RBG122",
            f"role {role.name!r}: inPlaceUpdateStrategy.gracePeriodSeconds has no effect: "
            "this build's pods are never updated in place",
            doc.span(*rolling, "inPlaceUpdateStrategy", key=True),
            help="it takes effect under `rbgc sync` and `rbgc build --in-place`; else use a "
            "preStop hook or terminationGracePeriodSeconds to drain",
        )
    if instance_set.paused and kind is not WorkloadKind.DEPLOYMENT:  # Deployments pause
        yield warning(
            "RBG141",
            f"role {role.name!r}: `paused` is compiled as partition = replicas "
            f"({role.replicas}): no pod moves to a new template until you remove it, but "
            "scaling still happens",
            doc.span(*rolling, "paused"),
            help="remove `paused` to let the rollout proceed",
        )
    if kind is WorkloadKind.LEADERWORKERSET:
        # with --lws statefulsets `rbgc sync --watch` recreates groups, backing off as written
        if role.restart_backoff.written and target.lws is LwsLowering.NATIVE:
            yield warning(
                "RBG141",
                f"role {role.name!r}: restart backoff (baseDelaySeconds / maxDelaySeconds) "
                "needs the operator; a LeaderWorkerSet recreates a failed group at once",
                doc.span(*role.pattern_path, "restartPolicyConfig"),
                help="remove the delays; the kubelet's own crash-loop backoff still applies "
                "to each container",
            )
        if instance_set.pod_management_policy == "OrderedReady":
            yield warning(
                "RBG122",
                f"role {role.name!r}: podManagementPolicy OrderedReady has no LeaderWorkerSet "
                "equivalent; groups start in parallel",
                doc.span(*role.role_path, "podManagementPolicy"),
                help="remove it, or use dependencies between roles to order start-up",
            )


def _rollout(group: Group, role: Role, kind: WorkloadKind, target: Target) -> Iterator[Diagnostic]:
    ru = role.rolling_update
    if ru is None or role.replicas == 0:
        return
    base = (*role.role_path, "rolloutStrategy", "rollingUpdate")

    def at(field: str) -> Span:
        return group.document.span(*base, field)

    surge = scaled(ru.max_surge, role.replicas, round_up=True)
    if kind is WorkloadKind.STATEFULSET:
        # upstream's own check, on the values scaled against the replicas (§1.5)
        stuck = surge == 0 and scaled(ru.max_unavailable, role.replicas, round_up=False) == 0
    else:
        # Kubernetes' Deployment (and LWS) validation compares the values as written
        stuck = written_zero(ru.max_surge) and written_zero(ru.max_unavailable)
    if stuck:
        yield error(
            "RBG114",
            f"role {role.name!r}: maxUnavailable and maxSurge are both 0 "
            f"(for {role.replicas} replicas)",
            at("maxUnavailable"),
            help="allow at least one pod down (maxUnavailable: 1) or one extra (maxSurge: 1)",
        )
        return
    if kind is WorkloadKind.STATEFULSET:
        honoured = controllers.honours_statefulset_max_unavailable(target.kubernetes_version)
        if written_zero(ru.max_unavailable) and honoured:
            yield error(
                "RBG115",
                f"role {role.name!r}: a StatefulSet's maxUnavailable may not be 0 on Kubernetes "
                f"{target.version_text}; the API server rejects it",
                at("maxUnavailable"),
                help="a StatefulSet cannot surge without a controller: allow maxUnavailable: 1 "
                "(or a percentage), and add replicas if the capacity must not drop",
            )
        # What the controller would take down from 1.35 on (rounded down), against what it
        # does now: one pod at a time.
        asked = controllers.statefulset_max_unavailable(
            ru.max_unavailable, role.replicas, controllers.MAX_UNAVAILABLE_STATEFULSET
        )
        if asked > 1 and not honoured:
            yield warning(
                "RBG140",
                f"role {role.name!r}: StatefulSet maxUnavailable {ru.max_unavailable} is ignored "
                f"on Kubernetes {target.version_text}: pods are replaced one at a time",
                at("maxUnavailable"),
                help="MaxUnavailableStatefulSet is on by default from Kubernetes 1.35; pass "
                "--kubernetes-version to match your cluster",
            )
        if surge > 0:
            yield warning(
                "RBG141",
                f"role {role.name!r}: StatefulSet maxSurge {ru.max_surge} needs a controller; "
                "the compiled StatefulSet rolls without extra pods",
                at("maxSurge"),
                help="upstream's operator adds the surge pods itself; a StatefulSet cannot. "
                "`rbgc plan` shows the rollout that will really happen",
            )


def _restart(group: Group, role: Role, kind: WorkloadKind, target: Target) -> Iterator[Diagnostic]:
    policy = role.restart_policy
    span = group.document.span(*role.role_path, "restartPolicy")
    if policy == "RecreateRBGOnPodRestart":
        yield warning(
            "RBG141",
            f"role {role.name!r}: RecreateRBGOnPodRestart (recreate the whole group when a pod "
            "restarts) needs a controller; Kubernetes restarts single pods",
            span,
            help="run `rbgc sync --watch`, which performs it; or accept single-pod restarts "
            "(`restartPolicy: None`); upstream itself removed the policy in v0.7.0",
        )
    elif (
        policy == "RecreateRoleInstanceOnPodRestart"
        and kind is not WorkloadKind.LEADERWORKERSET
        and role.instance_set is None  # components: `_components` says what happens
    ):
        yield warning(
            "RBG142",
            f"role {role.name!r}: RecreateRoleInstanceOnPodRestart has no effect on a "
            f"{kind.kind} (upstream ignores it too)",
            span,
            help="remove it, or use a LeaderWorkerSet role where it recreates the pod group",
        )
    if (
        kind is WorkloadKind.LEADERWORKERSET
        and target.lws is LwsLowering.STATEFULSETS
        and policy != "None"
    ):
        what = f"restartPolicy {policy}" if policy else "the default restartPolicy"
        yield warning(
            "RBG141",
            f"role {role.name!r}: {what} recreates a leader/worker group when one pod "
            "restarts, which needs the LWS controller; with --lws statefulsets pods restart "
            "one by one",
            span if policy else role.span,
            help="run `rbgc sync --watch`, which performs it; set `restartPolicy: None` to "
            "accept that, or use --lws native",
        )
