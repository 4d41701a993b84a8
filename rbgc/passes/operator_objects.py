"""After every group is compiled: the user's objects that lean on the operator.

In: the Program, the compiled manifests (the user's own objects included) and each group's
conventions. Out: the manifests to emit, and warnings. Without the operator:

- a `RoleBasedGroupScalingAdapter` of the inputs is not emitted (nothing would serve it,
  RBG143); an autoscaling/v2 HorizontalPodAutoscaler whose `scaleTargetRef` is one (written
  by hand, or the `{group}-{role}` one `scalingAdapter.enable` asks for) scales the role's
  compiled workload instead, which has a scale subresource (RBG144);
- a user's object of the same kind and name as a generated one gives way to it, as the
  operator's server-side apply overrides it (RBG504);
- a Service of the user's that selects a group's pods by a label key they do not carry (the
  other release's, or upstream examples' `workloads.x-k8s.io/group-name`) selects nothing:
  RBG123 names the key the pods carry.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from rbgc.bundle import is_primary
from rbgc.diagnostics import Diagnostic, warning
from rbgc.k8s import conventions as cv
from rbgc.k8s.manifest import Manifest
from rbgc.model import Group, Program, Role, WorkloadKind
from rbgc.workloads.context import Unscalable, unscalable_by

ADAPTER_KIND = "RoleBasedGroupScalingAdapter"
WORKLOAD_KINDS = ("StatefulSet", "Deployment", "LeaderWorkerSet")
# keys upstream's own examples select groups by, which no operator release writes (§10)
EXAMPLE_KEYS = {"workloads.x-k8s.io/group-name": "group", "workloads.x-k8s.io/role-name": "role"}

GroupKey = tuple[str, str]  # (namespace, group)


def operator_objects(
    program: Program,
    manifests: Sequence[Manifest],
    conventions: Mapping[GroupKey, cv.Conventions],
    namespace: str,
) -> tuple[list[Manifest], list[Diagnostic]]:
    workloads: dict[tuple[str, str, str], Manifest] = {}
    for m in manifests:
        if m.kind in WORKLOAD_KINDS and m.group is not None and m.role is not None:
            if is_primary(m.body):
                workloads.setdefault((m.namespace, m.group, m.role), m)
    # roles no compiled object scales by whole instances, as the operator does
    unscalable = {
        (group.namespace, group.name, role.name): why
        for group in program.groups
        for role in group.roles
        if (why := unscalable_by(role, lws_as_statefulsets=_lowered(role, workloads, group)))
    }
    lowered = {  # (namespace, kind, name) of every object such a role became, and its LWS
        (m.namespace, kind, name): (m.group, m.role)
        for m in manifests
        if (m.namespace, m.group, m.role) in unscalable and m.kind == "StatefulSet"
        for kind, name in ((m.kind, m.name), (WorkloadKind.LEADERWORKERSET.kind, m.name))
    }
    adapters: dict[tuple[str, str], tuple[str, str]] = {}
    for group in program.groups:
        for role in group.roles:
            if role.scaling_adapter:
                key = (group.namespace, f"{group.name}-{role.name}")
                adapters[key] = (group.name, role.name)
    warnings: list[Diagnostic] = []
    for adapter in program.adapters:
        adapters[(adapter.namespace, adapter.name)] = (adapter.group, adapter.role)
        helps = (
            "an HPA that targets it is retargeted to the role's workload; point KEDA "
            "or other scalers at the workload (it has a scale subresource)"
        )
        why = unscalable.get((adapter.namespace, adapter.group, adapter.role))
        if why is not None:
            helps = f"nothing compiled scales the role's whole instances: {why.help}"
        warnings.append(
            warning(
                "RBG143",
                f"RoleBasedGroupScalingAdapter {adapter.name} is not emitted: only the operator "
                "serves it",
                adapter.span,
                help=helps,
            )
        )
    generated = {_key(m, namespace): m for m in manifests if m.group is not None}
    out = []
    for m in manifests:
        replaced_by = generated.get(_key(m, namespace)) if m.group is None else None
        if replaced_by is not None:
            warnings.append(_replaced(m, replaced_by))
            continue
        if m.group is None and m.kind == "HorizontalPodAutoscaler":
            m, found = _retarget(m, adapters, workloads, unscalable, lowered, namespace)
            warnings.extend(found)
        elif m.group is None and m.kind == "Service":
            warnings.extend(_stale_selector(m, program, conventions, namespace))
        out.append(m)
    return out, warnings


def _lowered(role: Role, workloads: Mapping[tuple[str, str, str], Manifest], group: Group) -> bool:
    """Whether a LeaderWorkerSet role became StatefulSets (`--lws statefulsets`)."""
    workload = workloads.get((group.namespace, group.name, role.name))
    return workload is not None and role.kind is not None and workload.kind != role.kind.kind


def _retarget(
    hpa: Manifest,
    adapters: Mapping[tuple[str, str], tuple[str, str]],
    workloads: Mapping[tuple[str, str, str], Manifest],
    unscalable: Mapping[tuple[str, str, str], Unscalable],
    lowered: Mapping[tuple[str, str, str], tuple[str | None, str | None]],
    namespace: str,
) -> tuple[Manifest, list[Diagnostic]]:
    ref = (hpa.body.get("spec") or {}).get("scaleTargetRef")
    if not isinstance(ref, dict):
        return hpa, []
    ns = hpa.namespace or namespace
    span = hpa.source.span("spec", "scaleTargetRef") if hpa.source else hpa.origin
    written = lowered.get((ns, str(ref.get("kind")), str(ref.get("name"))))
    if written is not None:
        why = unscalable[(ns, str(written[0]), str(written[1]))]
        what = f"{ref.get('kind')} {ref.get('name')}"
        return hpa, [_unscalable(hpa, what, written, why, span)]
    if ref.get("kind") != ADAPTER_KIND:
        return hpa, []
    target = adapters.get((ns, str(ref.get("name"))))
    if target is not None and (ns, *target) in unscalable:
        what = f"RoleBasedGroupScalingAdapter {ref.get('name')}"
        return hpa, [_unscalable(hpa, what, target, unscalable[(ns, *target)], span)]
    workload = workloads.get((ns, *target)) if target else None
    if target is None or workload is None:
        return hpa, [
            warning(
                "RBG144",
                f"HorizontalPodAutoscaler {hpa.name} targets RoleBasedGroupScalingAdapter "
                f"{ref.get('name')}, which names no compiled role: it is left as written and "
                "scales nothing without the operator",
                span,
                help="point scaleTargetRef at the role's StatefulSet, Deployment or "
                "LeaderWorkerSet",
            )
        ]
    body = copy.deepcopy(hpa.body)
    body["spec"]["scaleTargetRef"] = {
        "apiVersion": workload.api_version,
        "kind": workload.kind,
        "name": workload.name,
    }
    return replace(hpa, body=body), [
        warning(
            "RBG144",
            f"HorizontalPodAutoscaler {hpa.name} now scales {workload.kind} {workload.name} "
            f"(role {target[1]!r} of group {target[0]!r}) instead of RoleBasedGroupScalingAdapter "
            f"{ref.get('name')}, which needs the operator",
            span,
            help="write that scaleTargetRef yourself to silence this; keep GitOps from "
            "resetting /spec/replicas of the workload",
        )
    ]


def _key(m: Manifest, namespace: str) -> tuple[str, str, str, str]:
    group, kind, ns, name = m.identity()
    if not ns and kind not in cv.CLUSTER_SCOPED_KINDS:
        ns = namespace  # applied without a namespace, it lands in the default one
    return group, kind, ns, name


def _replaced(mine: Manifest, generated: Manifest) -> Diagnostic:
    """RBG504: the operator server-side-applies its object over a user's of the same name
    (`svc_reconciler.go:92`, `utils.go:65-70`); rbgc emits the generated one only."""
    span = mine.source.span("metadata", "name") if mine.source else mine.origin
    return warning(
        "RBG504",
        f"{mine.kind} {mine.name} is also generated for role {generated.role!r} of group "
        f"{generated.group!r}: the operator applies its own over yours, so only the generated "
        "one is emitted",
        span,
        help="remove this object, or rename it if it must exist beside the generated one",
    )


def _unscalable(
    hpa: Manifest, target: str, role: tuple[str | None, str | None], why: Unscalable, span: Any
) -> Diagnostic:
    """RBG124: the HPA of a role no compiled object scales by whole instances (the operator
    scales instances: its adapter sets the role's replicas)."""
    return warning(
        "RBG124",
        f"HorizontalPodAutoscaler {hpa.name} targets {target} (role {role[1]!r} of group "
        f"{role[0]!r}): {why.reason}; it is left as written and scales nothing that works",
        span,
        help=why.help,
    )


def _stale_selector(
    service: Manifest,
    program: Program,
    conventions: Mapping[GroupKey, cv.Conventions],
    namespace: str,
) -> Iterator[Diagnostic]:
    selector = (service.body.get("spec") or {}).get("selector")
    if not isinstance(selector, dict):
        return
    ns = service.namespace or namespace
    groups = {g.name for g in program.groups if g.namespace == ns}
    for key, value in selector.items():
        what = EXAMPLE_KEYS.get(key)
        for release in cv.RELEASES.values():
            if key == release.label_group:
                what = "group"
            elif key == release.label_role:
                what = "role"
        if what is None:
            continue
        group = value if what == "group" else _group_of(selector, groups)
        chosen = conventions.get((ns, str(group)))
        if chosen is None:
            continue
        right = chosen.label_group if what == "group" else chosen.label_role
        if key != right:
            yield warning(
                "RBG123",
                f"Service {service.name} selects {key}={value}, a label the compiled pods of "
                f"group {group!r} do not carry: it selects nothing",
                _span(service, key),
                help=f"select {right} instead (the {chosen.release} operator's key, which "
                "rbgc writes for this group)",
            )


def _group_of(selector: Mapping[str, Any], groups: set[str]) -> str | None:
    """The group a role selector belongs to: the group value of its own selector."""
    keys = [*EXAMPLE_KEYS, *(c.label_group for c in cv.RELEASES.values())]
    # a value that is not a string names no group (and the API server refuses it: RBG601)
    named = (selector.get(k) for k in keys)
    return next((v for v in named if isinstance(v, str) and v in groups), None)


def _span(service: Manifest, key: str) -> Any:
    if service.source is None:
        return service.origin
    return service.source.span("spec", "selector", key, key=True)
