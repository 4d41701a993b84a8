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

Under HEAD's conventions the PodGroup inherits the group's annotations with its scheduler's
prefix (`pkg/scheduler/common/annotation_inheritance.go`: `scheduling.x-k8s.io/` for
scheduler-plugins, `volcano.sh/` for Volcano); v0.4.0 copies none.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from rbgc.diagnostics import Diagnostic, warning
from rbgc.k8s import conventions as cv
from rbgc.k8s.manifest import Manifest
from rbgc.model import Group, Scheduler, Target


@dataclass(frozen=True, slots=True, kw_only=True)
class Gang:
    """The PodGroup a group's pods join: its API version and spec."""

    api_version: str
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def volcano(self) -> bool:
        return self.api_version == cv.VOLCANO_PODGROUP_API


def min_member(group: Group) -> int:
    """Every pod of the group: LWS roles count `size * replicas` (upstream GetGroupSize)."""
    return sum(role.replicas * role.size for role in group.roles)


def gang(group: Group, target: Target) -> Gang | None:
    """The group's gang PodGroup, None when it is not gang-scheduled."""
    policy = group.pod_group_policy
    if not policy:
        return None
    head = group.document.api_version == cv.API_VERSION_V1ALPHA2
    if head and target.scheduler is Scheduler.VOLCANO:
        # the operator's --scheduler-name=volcano, whatever a converted group had stashed
        volcano = dict(policy.get("volcanoScheduling") or {})
        for key, annotation in (
            ("queue", cv.GANG_VOLCANO_QUEUE),
            ("priorityClassName", cv.GANG_VOLCANO_PRIORITY),
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
