"""Pass 1 of 5: validate. In: Group. Out: Checked (the group, plus warnings). Errors: RBG1xx.

Checks the meaning the schema cannot express: names Kubernetes would reject once they become
`{group}-{role}` objects, duplicate roles, rollouts that can never progress, workload kinds and
features rbgc does not compile. Every problem of the group is reported, not just the first.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rbgc.diagnostics import Diagnostic, DiagnosticError, Severity, Span, error
from rbgc.k8s import conventions as cv
from rbgc.k8s.naming import (
    DNS1035_LABEL,
    DNS1123_LABEL,
    MAX_LABEL,
    MAX_STATEFULSET_NAME,
    role_object_name,
)
from rbgc.model import Group, Role, WorkloadKind
from rbgc.rollout import scaled


@dataclass(frozen=True, slots=True, kw_only=True)
class Checked:
    group: Group
    warnings: tuple[Diagnostic, ...] = ()


def validate(group: Group) -> Checked:
    found = [*_group_name(group), *_duplicate_roles(group)]
    for role in group.roles:
        found.extend(_role(group, role))
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


def _duplicate_roles(group: Group) -> Iterator[Diagnostic]:
    first: dict[str, Role] = {}
    for role in group.roles:
        if role.name in first:
            yield error(
                "RBG110",
                f"role {role.name!r} is defined twice",
                role.span,
                help="role names are the keys of `spec.roles`; rename or merge one",
                notes=((first[role.name].span, "first defined here"),),
            )
        else:
            first[role.name] = role


def _role(group: Group, role: Role) -> Iterator[Diagnostic]:
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
            help="use apps/v1 StatefulSet, apps/v1 Deployment or "
            "leaderworkerset.x-k8s.io/v1 LeaderWorkerSet",
        )
        return
    name = role_object_name(group.name, role.name)
    limit = MAX_STATEFULSET_NAME if kind is not WorkloadKind.DEPLOYMENT else MAX_LABEL
    if len(name) > limit:
        yield error(
            "RBG112",
            f"object name {name!r} is {len(name)} characters; a {kind.kind} "
            f"role allows at most {limit}",
            role.span,
            help="shorten the group or role name (StatefulSet pod labels need the room)",
        )
    yield from _unsupported(group, role, kind)
    if "template" not in role.raw and "templateRef" not in role.raw:
        yield error(
            "RBG103",
            f"role {role.name!r} has no pod `template`",
            role.span,
            help="add `template:` with the role's pod spec",
        )
    ru = role.rolling_update
    if ru is not None and role.replicas > 0 and kind is not WorkloadKind.LEADERWORKERSET:
        surge = scaled(ru.max_surge, role.replicas, round_up=True)
        unavailable = scaled(ru.max_unavailable, role.replicas, round_up=False)
        if surge == 0 and unavailable == 0:
            yield error(
                "RBG114",
                f"role {role.name!r}: maxUnavailable and maxSurge are both 0 "
                f"(for {role.replicas} replicas)",
                ru.span,
                help="allow at least one pod down (maxUnavailable: 1) or one extra (maxSurge: 1)",
            )


def _unsupported(group: Group, role: Role, kind: WorkloadKind) -> Iterator[Diagnostic]:
    """Features of the full v1alpha1 surface that this build does not lower yet."""
    doc = group.document
    if kind is WorkloadKind.LEADERWORKERSET:
        yield _not_yet(role.workload.span, "LeaderWorkerSet roles")
    for key in ("engineRuntimes", "templateRef", "templatePatch", "components"):
        if key in role.raw:
            yield _not_yet(doc.span(*role.template_path[:-1], key, key=True), f"`{key}`")
    if role.raw.get("scalingAdapter", {}).get("enable"):
        yield _not_yet(
            doc.span(*role.template_path[:-1], "scalingAdapter", key=True), "`scalingAdapter`"
        )
    if role.restart_policy not in (None, "None"):
        yield _not_yet(
            doc.span(*role.template_path[:-1], "restartPolicy"),
            f"restartPolicy {role.restart_policy}",
        )
    if role is group.roles[0]:
        spec: Any = doc.body
        for part in group.spec_path:
            spec = spec[part]
        for key in ("podGroupPolicy", "roleTemplates", "coordination"):
            if key in spec:
                yield _not_yet(doc.span(*group.spec_path, key, key=True), f"`{key}`")
        if cv.ANNOTATION_EXCLUSIVE_TOPOLOGY in group.annotations:
            yield _not_yet(
                doc.span("metadata", "annotations", cv.ANNOTATION_EXCLUSIVE_TOPOLOGY, key=True),
                "exclusive topology",
            )


def _not_yet(span: Span, what: str) -> Diagnostic:
    return error(
        "RBG120",
        f"{what} not supported yet",
        span,
        help="this rbgc release compiles StatefulSet and Deployment roles",
    )
