"""The gang PodGroup: which flavour, its spec and annotations, and which pods join it.

v1alpha1 (rbg-semantics.md §8, operator v0.4.0): `podGroupPolicy.kubeScheduling` is a
scheduler-plugins PodGroup (`scheduling.x-k8s.io/v1alpha1`), `volcanoScheduling` a Volcano
one (`scheduling.volcano.sh/v1beta1`); `kubeScheduling` wins when both are set.

v1alpha2 (rbg-v1alpha2-semantics.md §4, operator at HEAD): the group annotation
`rbg.workloads.x-k8s.io/group-gang-scheduling: "true"` turns it on, and the operator's
`--scheduler-name` flag picks the flavour. rbgc's `--scheduler volcano` is that flag: a Volcano
PodGroup as `pkg/scheduler/volcano/manager.go` makes it (`minMember` the group size; `queue` and
`priorityClassName` from the `group-gang-scheduling-volcano-queue/-priority` annotations),
every pod annotated `scheduling.k8s.io/group-name`. Without it, scheduler-plugins (the
operator's default), unless a converted group's stashed policy says Volcano.

KEP-430 (sgl-project/rbg#430): a CoordinatedPolicy rule's `strategy.scheduling.gang` turns gang
scheduling on and takes priority over the annotation. `gang: {}` gangs every pod (`minMember`
the group size); `minReplicas: {role: n}` gangs only the roles listed, each as Volcano
subgroups of one instance (`minSubGroups: n`, `subGroupSize` the pods of an instance,
`minMember` the sum of n x size), and only those roles' pods join the PodGroup. A scheduler
without subgroups (scheduler-plugins) cannot: the operator's webhook refuses it (RBG306).
Rules with overlapping roles take the larger minimum (the KEP's controller flow).

Under HEAD's conventions the PodGroup inherits the group's annotations with its scheduler's
prefix (`pkg/scheduler/common/annotation_inheritance.go`: `scheduling.x-k8s.io/` for
scheduler-plugins, `volcano.sh/` for Volcano); v0.4.0 copies none.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rbgc.diagnostics import Diagnostic, Span, did_you_mean, error, warning
from rbgc.jsonpath import find
from rbgc.k8s import conventions as cv
from rbgc.k8s.manifest import Manifest
from rbgc.model import Group, LwsLowering, Role, Scheduler, Target, WorkloadKind

if TYPE_CHECKING:
    from rbgc.topology import PlacementSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class Gang:
    """The PodGroup a group's pods join: its API version, spec, and the roles whose pods join
    (None: every role)."""

    api_version: str
    spec: dict[str, Any] = field(default_factory=dict)
    members: tuple[str, ...] | None = None

    @property
    def volcano(self) -> bool:
        return self.api_version == cv.VOLCANO_PODGROUP_API


@dataclass(frozen=True, slots=True, kw_only=True)
class Strategy:
    """KEP-430's `strategy.scheduling.gang`, merged over the group's CoordinatedPolicy rules."""

    min_replicas: dict[str, int]  # empty: every role, all or nothing
    spans: dict[str, Span]  # where each role's minimum is written
    span: Span | None  # the first `gang:` key


def strategy(group: Group) -> Strategy | None:
    found: Strategy | None = None
    for rule in group.coordination:
        if rule.document is None or rule.path is None:
            continue
        path = (*rule.path, "strategy", "scheduling", "gang")
        raw = find(rule.document.body, path)
        if not isinstance(raw, Mapping):
            continue  # absent, or a stashed rule's path into annotation text
        if found is None:
            found = Strategy(min_replicas={}, spans={}, span=rule.document.span(*path, key=True))
        for role, count in (raw.get("minReplicas") or {}).items():
            if count >= found.min_replicas.get(role, -1):  # overlapping rules: the larger
                found.min_replicas[role] = int(count)
                found.spans[role] = rule.document.span(*path, "minReplicas", role, key=True)
    return found


def problems(group: Group, target: Target) -> Iterator[Diagnostic]:
    """What KEP-430's webhook refuses (RBG306) and minimums naming no role (RBG308)."""
    found = strategy(group)
    if found is None or not found.min_replicas:
        return
    names = [r.name for r in group.roles]
    for name, span in found.spans.items():
        if name not in names:
            yield error(
                "RBG308",
                f"gang minReplicas names unknown role {name!r}",
                span,
                help=did_you_mean(name, names, "roles: " + ", ".join(names)),
            )
    if target.scheduler is not Scheduler.VOLCANO:
        yield error(
            "RBG306",
            "gang minReplicas needs a scheduler with subgroups: scheduler-plugins gangs only "
            "the whole group, and the operator's webhook refuses the policy (KEP-430)",
            found.span,
            help="build with --scheduler volcano (PodGroup subGroupPolicy), or write `gang: {}` "
            "to gang every pod",
        )
        return
    for role in group.roles:
        if role.name in found.min_replicas and role.size > 1 and instance_key(role, target) is None:
            yield error(
                "RBG306",
                f"gang minReplicas of role {role.name!r} cannot be compiled: its instances' pods "
                "share no label Volcano could group them by (a leader StatefulSet's pods carry "
                "no group index)",
                found.spans[role.name],
                help="build with --lws native (LWS labels every pod of a group with its index)",
            )


def scope_conflicts(group: Group, rules: PlacementSpec, target: Target) -> Iterator[Diagnostic]:
    """KEP-473's IncompatiblePlacementGroups: a group pack whose roles partly overlap the
    gang's (neither holds the other); and under Volcano, a pack over some roles that share
    pods with minReplicas' per-instance subgroups (Volcano puts a pod in one subgroup only,
    job_info.go getOrCreateSubJob)."""
    from rbgc.topology import RuleKind, Scope

    found = strategy(group)
    if found is None:
        return
    every = {r.name for r in group.roles}
    gang_roles = set(found.min_replicas) or every
    for rule in rules.rules:
        if rule.kind is not RuleKind.PACK or rule.scope is not Scope.GROUP:
            continue
        packed = set(rule.roles)
        shared = sorted(packed & gang_roles)
        if not shared:
            continue
        if not (packed <= gang_roles or gang_roles <= packed):
            yield error(
                "RBG307",
                f"the pack over [{', '.join(rule.roles)}] and the gang over "
                f"[{', '.join(sorted(gang_roles))}] share {', '.join(shared)} but neither holds "
                "the other (KEP-473: IncompatiblePlacementGroups)",
                rule.span,
                help="pack every role of the group, or only roles the gang holds (with "
                "minReplicas under Volcano: every role, or each instance)",
                notes=((found.span, "the gang"),),
            )
        elif found.min_replicas and packed != every and target.scheduler is Scheduler.VOLCANO:
            yield error(
                "RBG307",
                f"the pack over [{', '.join(rule.roles)}] would be a Volcano subgroup, but "
                f"{', '.join(shared)} already form minReplicas' subgroups, one per instance; "
                "Volcano puts a pod in the first subgroup it matches",
                rule.span,
                help="pack every role of the group (the PodGroup's own networkTopology), or pack "
                "each instance (instanceTopologyConstraint)",
                notes=((found.span, "the gang"),),
            )


def min_member(group: Group) -> int:
    """Every pod of the group: LWS roles count `size * replicas` (upstream GetGroupSize)."""
    return sum(role.replicas * role.size for role in group.roles)


def gang(group: Group, target: Target, conventions: cv.Conventions = cv.V04) -> Gang | None:
    """The group's gang PodGroup, None when it is not gang-scheduled."""
    kep430 = strategy(group)
    if kep430 is not None:
        return _kep430(group, target, kep430, conventions)
    policy = group.pod_group_policy
    if not policy:
        return None
    head = group.document.api_version == cv.API_VERSION_V1ALPHA2
    if head and target.scheduler is Scheduler.VOLCANO:
        # the operator's --scheduler-name=volcano, whatever a converted group had stashed
        volcano = dict(policy.get("volcanoScheduling") or {})
        for key, annotation in (
            ("queue", cv.ANNOTATION_GANG_QUEUE),
            ("priorityClassName", cv.ANNOTATION_GANG_PRIORITY),
        ):
            volcano[key] = group.annotations.get(annotation) or volcano.get(key)
        return _volcano(group, volcano)
    if "kubeScheduling" in policy:  # upstream checks it first
        timeout = (policy["kubeScheduling"] or {}).get(
            "scheduleTimeoutSeconds", cv.DEFAULT_SCHEDULE_TIMEOUT
        )
        return Gang(
            api_version=cv.KUBE_PODGROUP_API,
            spec={"minMember": min_member(group), "scheduleTimeoutSeconds": timeout},
        )
    if "volcanoScheduling" in policy:
        return _volcano(group, policy["volcanoScheduling"] or {})
    return None


def _kep430(group: Group, target: Target, found: Strategy, conventions: cv.Conventions) -> Gang:
    volcano = {
        key: group.annotations.get(annotation)
        for key, annotation in (
            ("queue", cv.ANNOTATION_GANG_QUEUE),
            ("priorityClassName", cv.ANNOTATION_GANG_PRIORITY),
        )
    }
    if target.scheduler is not Scheduler.VOLCANO:  # `gang: {}` (minReplicas is RBG306)
        return Gang(
            api_version=cv.KUBE_PODGROUP_API,
            spec={"minMember": min_member(group), "scheduleTimeoutSeconds": _timeout(group)},
        )
    base = _volcano(group, volcano)
    if not found.min_replicas:
        return base
    group_key = cv.group_unique_key(group.namespace, group.name)
    sub_groups = []
    members = [r for r in group.roles if r.name in found.min_replicas]
    for role in members:
        count = found.min_replicas[role.name]
        key = instance_key(role, target) if role.size > 1 else None
        entry: dict[str, Any] = {
            "name": role.name,
            "labelSelector": conventions.roles_selector(group_key, (role.name,)),
        }
        if key is None:  # one pod per instance: n of the role's pods, in one subgroup
            entry["matchLabelKeys"] = [conventions.label_group_key]
            entry.update(minSubGroups=1, subGroupSize=count)
        else:  # one subgroup per instance, as KEP-430's Volcano manager partitions them
            entry["matchLabelKeys"] = [key]
            entry.update(minSubGroups=count, subGroupSize=role.size)
        sub_groups.append(entry)
    spec = dict(base.spec)
    spec["minMember"] = sum(found.min_replicas[r.name] * r.size for r in members)
    spec["subGroupPolicy"] = sub_groups
    return Gang(api_version=base.api_version, spec=spec, members=tuple(r.name for r in members))


def _timeout(group: Group) -> int:
    try:
        return int(group.annotations.get(cv.ANNOTATION_GANG_TIMEOUT, ""))
    except ValueError:
        return cv.DEFAULT_SCHEDULE_TIMEOUT  # the operator's fallback when it does not parse


def instance_key(role: Role, target: Target) -> str | None:
    """A label every pod of one instance carries, one value per instance (None: none)."""
    if role.instance_set is not None and role.instance_set.components:
        return cv.INSTANCE_INDEX_LABEL
    if role.kind is WorkloadKind.LEADERWORKERSET and target.lws is LwsLowering.NATIVE:
        return cv.LWS_GROUP_INDEX_LABEL
    return None


def _volcano(group: Group, volcano: Mapping[str, Any]) -> Gang:
    spec: dict[str, Any] = {"minMember": min_member(group)}
    # upstream writes empty strings, which the PodGroup's `omitempty` drops; Volcano then
    # defaults the queue to "default"
    for key in ("queue", "priorityClassName"):
        if volcano.get(key):
            spec[key] = volcano[key]
    return Gang(api_version=cv.VOLCANO_PODGROUP_API, spec=spec)


def inherited(group: Group, api_version: str, conventions: cv.Conventions) -> dict[str, str]:
    """The group annotations HEAD's operator copies onto its PodGroup (none under v0.4)."""
    if conventions.release == cv.V04.release:
        return {}
    prefix = (
        cv.VOLCANO_PODGROUP_INHERITED
        if api_version == cv.VOLCANO_PODGROUP_API
        else cv.KUBE_PODGROUP_INHERITED
    )
    return {k: v for k, v in group.annotations.items() if k.startswith(prefix)}


def pod_group(
    group: Group, api_version: str, spec: dict[str, Any], conventions: cv.Conventions
) -> Manifest:
    annotations = {**inherited(group, api_version, conventions), cv.SYNC_WAVE: "0"}
    body = {
        "apiVersion": api_version,
        "kind": "PodGroup",
        "metadata": {
            "name": group.name,
            "namespace": group.namespace,
            "labels": dict(
                sorted(
                    {
                        cv.MANAGED_BY: cv.MANAGER,
                        conventions.label_group: group.name,
                        **conventions.set_labels(group.set_name, group.set_index),
                    }.items()
                )
            ),
            "annotations": dict(sorted(annotations.items())),
        },
        "spec": spec,
    }
    return Manifest(
        body=body,
        wave=0,
        origin=group.document.span(*group.spec_path, "podGroupPolicy"),
        order=group.order,
        group=group.name,
        source=group.document,
    )


def warnings(group: Group, found: Gang | None) -> Iterator[Diagnostic]:
    policy: Mapping[str, Any] = group.pod_group_policy or {}
    if "kubeScheduling" in policy and "volcanoScheduling" in policy:
        yield warning(
            "RBG302",
            "volcanoScheduling is ignored: kubeScheduling is also set",
            group.document.span(*group.spec_path, "podGroupPolicy", "volcanoScheduling", key=True),
            help="keep one gang-scheduling source",
        )
    if found is None:
        return
    kep430 = strategy(group)
    for role in group.roles:
        wanted = (kep430.min_replicas if kep430 else {}).get(role.name)
        if kep430 is not None and wanted is not None and wanted > role.replicas:
            # KEP-430 leaves it unvalidated: "gang can never be satisfied, pods remain Pending"
            yield warning(
                "RBG309",
                f"gang minReplicas asks for {wanted} instances of role {role.name!r}, which has "
                f"{role.replicas}: the gang can never be satisfied and its pods stay Pending",
                kep430.spans[role.name],
                help=f"at most {role.replicas}, or raise the role's replicas",
            )
    waiting = [r for r in group.roles if r.dependencies]
    if waiting:
        yield warning(
            "RBG304",
            f"gang scheduling waits for all {found.spec['minMember']} pods, but role "
            f"{waiting[0].name!r} starts only after its dependencies are ready: the first "
            "roles can never be scheduled",
            waiting[0].dependencies[0].span,
            help="drop the dependencies of gang-scheduled roles, or gang-schedule only "
            "roles that start together",
        )
    if not found.volcano:
        head = group.document.api_version == cv.API_VERSION_V1ALPHA2
        fix = (
            "build with `--scheduler volcano` (the operator's `--scheduler-name=volcano`) for "
            "a Volcano PodGroup"
            if head
            else "use `podGroupPolicy.volcanoScheduling` for a Volcano PodGroup"
        )
        for role in group.roles:
            spec = role.template.get("spec") or {}
            if spec.get("schedulerName") == "volcano":
                # Volcano ignores a scheduler-plugins PodGroup: the pods start one by one
                yield warning(
                    "RBG305",
                    f"role {role.name!r} asks for Volcano (`schedulerName: volcano`), but its "
                    f"gang is a scheduler-plugins PodGroup ({cv.KUBE_PODGROUP_API}), which "
                    "Volcano does not read: the pods are not gang-scheduled",
                    group.document.span(*role.template_path, "spec", "schedulerName"),
                    help=f"{fix}, or drop `schedulerName` to use scheduler-plugins",
                )
