"""Which required pod-affinity terms a role's pods carry, and whether one pod can meet them all.

kube-scheduler passes a node for required pod affinity only when one existing pod in the
domain matches *every* required term at once (`updateWithAffinityTerms` and
`satisfyPodAffinity` in pkg/scheduler/framework/plugins/interpodaffinity/filtering.go;
kubernetes/kubernetes#130784, #134534). The exception for the first pod of a series applies
only while no pod in the cluster matches all terms and the pod matches all its own. So a term
rbgc appends (a pack) beside a term of the user's that selects pods the pack's pods are not
(a cache, another app) can never be satisfied: no pod carries both label sets (issue 17 item 3).

rbgc reads the user's required terms from the role's templates as written (the template, a
role template with its patch, the leader/worker patches, the components' templates) and
checks each against the labels the rule's own pods will carry; Volcano's predicates use the
same filter, so this holds whatever the scheduler.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rbgc.diagnostics import Span
from rbgc.k8s import conventions as cv
from rbgc.model import Group, Role
from rbgc.source import JsonPath

REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"


@dataclass(frozen=True, slots=True, kw_only=True)
class UserTerm:
    """One required pod-affinity term the user wrote, and where."""

    term: Mapping[str, Any]
    span: Span


def user_terms(group: Group, role: Role) -> list[UserTerm]:
    """The user's required pod-affinity terms on any of the role's pod templates."""
    out: list[UserTerm] = []
    for template, path in _templates(group, role):
        spec = template.get("spec") if isinstance(template, Mapping) else None
        affinity = (spec or {}).get("affinity") if isinstance(spec, Mapping) else None
        pod_affinity = (
            (affinity or {}).get("podAffinity") if isinstance(affinity, Mapping) else None
        )
        terms = (pod_affinity or {}).get(REQUIRED) if isinstance(pod_affinity, Mapping) else None
        for i, term in enumerate(terms if isinstance(terms, list) else ()):
            if isinstance(term, Mapping):
                at = (*path, "spec", "affinity", "podAffinity", REQUIRED, i)
                out.append(UserTerm(term=term, span=group.document.span(*at)))
    return out


def pod_labels(group: Group, role: Role, conventions: cv.Conventions) -> dict[str, str]:
    """The labels every pod of the role carries: its template's, then the identity labels."""
    labels: dict[str, str] = {}
    for template, _ in _templates(group, role):
        meta = template.get("metadata") if isinstance(template, Mapping) else None
        found = (meta or {}).get("labels") if isinstance(meta, Mapping) else None
        if isinstance(found, Mapping):
            labels.update({str(k): str(v) for k, v in found.items()})
    return {
        **labels,
        conventions.label_group_key: cv.group_unique_key(group.namespace, group.name),
        conventions.label_group: group.name,
        conventions.label_role: role.name,
    }


def outside(term: UserTerm, namespace: str, anchors: Sequence[Mapping[str, str]]) -> bool:
    """True when no pod with one of the `anchors` label sets can match `term`: it selects
    pods in another namespace, or its selector misses some anchor's labels."""
    t = term.term
    if t.get("namespaceSelector") is not None:
        return True  # pods chosen by namespace labels: rbgc cannot tell they are the group's
    namespaces = t.get("namespaces")
    if isinstance(namespaces, list) and namespaces and namespace not in namespaces:
        return True
    selector = t.get("labelSelector")
    return not all(selects(selector, labels) for labels in anchors)


def selects(selector: Any, labels: Mapping[str, str]) -> bool:
    """`metav1.LabelSelector` semantics; a null selector selects nothing."""
    if not isinstance(selector, Mapping):
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or ():
        if not isinstance(expression, Mapping) or not _holds(expression, labels):
            return False
    return True


def _holds(expression: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, op = expression.get("key"), expression.get("operator")
    values = expression.get("values") or ()
    present = key in labels
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op == "In":
        return present and labels[str(key)] in values
    if op == "NotIn":
        return not present or labels[str(key)] not in values
    return False


def _templates(group: Group, role: Role) -> Iterator[tuple[Mapping[str, Any], JsonPath]]:
    yield role.template, role.template_path
    if role.template_ref is not None:
        ref = next((t for t in group.role_templates if t.name == role.template_ref), None)
        if ref is not None:
            yield ref.template, ref.path
    if role.template_patch:
        yield role.template_patch, role.patch_path
    lws = role.leader_worker_set
    if lws is not None:
        lws_path = (*role.template_path[:-1], "leaderWorkerSet")  # v1alpha1's patches
        paths = lws.patch_paths or (
            (*lws_path, "patchLeaderTemplate"),
            (*lws_path, "patchWorkerTemplate"),
        )
        for patch, path in ((lws.patch_leader, paths[0]), (lws.patch_worker, paths[1])):
            if patch:
                yield patch, path
    if role.instance_set is not None:
        for component in role.instance_set.components:
            yield component.template, component.template_path
