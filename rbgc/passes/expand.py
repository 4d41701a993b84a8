"""Pass 4 of 5: expand. In: Group, Waves, Placement, Target. Out: Expanded. Errors: RBG4xx.

Each role becomes its workload(s) through the lowering for its kind. First the effective pod
template(s) are built as upstream builds them (rbg-semantics.md §4.1, §4.5, §2):

- `templateRef` + `templatePatch`: strategic-merge the patch over the role template;
- LeaderWorkerSet: leader and worker templates strategic-merge `patchLeaderTemplate` /
  `patchWorkerTemplate` over `template`;
- then, per template: the exclusive-topology affinity (unless the template opts out), the
  placement rules' terms (after the user's and exclusive topology's), gang
  labels/annotations, and the upstream identity labels over the user's;
- then upstream's config and sidecar injectors (passes/injectors.py), so the lowering's
  instance variables and discovery's env reach the sidecars too.

Nothing else about a template changes, so editing one role never changes another role's pods.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rbgc.diagnostics import Diagnostic, DiagnosticError, error, warning
from rbgc.k8s import conventions as cv
from rbgc.k8s.manifest import Manifest
from rbgc.k8s.smp import PatchError, strategic_merge
from rbgc.model import (
    Group,
    Placement,
    Profile,
    Role,
    RolePlacement,
    Target,
    Waves,
    WorkloadKind,
)
from rbgc.passes.injectors import inject
from rbgc.schema import check_value
from rbgc.source import JsonPath
from rbgc.workloads import lowerings
from rbgc.workloads.context import PodTemplate, RoleContext


@dataclass(frozen=True, slots=True, kw_only=True)
class Expanded:
    """The workloads, Services and PodGroup of a group, before discovery."""

    manifests: tuple[Manifest, ...]
    warnings: tuple[Diagnostic, ...] = ()


def selector_labels(
    group: Group, role: Role, conventions: cv.Conventions = cv.V04
) -> dict[str, str]:
    """L(r): the labels that identify a role's pods; also its immutable selector."""
    return {
        conventions.label_group_key: cv.group_unique_key(group.namespace, group.name),
        conventions.label_group: group.name,
        conventions.label_role: role.name,
    }


def expand(
    group: Group,
    waves: Waves,
    placement: Placement,
    target: Target,
    conventions: cv.Conventions = cv.V04,
    profiles: Mapping[str, Profile] | None = None,
) -> Expanded:
    table = lowerings(target)
    manifests: list[Manifest] = list(placement.manifests)
    warnings: list[Diagnostic] = []
    problems: list[Diagnostic] = []
    for role in group.roles:
        kind = role.kind
        assert kind is not None, "validate refuses unknown workload kinds"
        selector = selector_labels(group, role, conventions)
        placed = placement.of_role[role.name]
        try:
            base, source_path = _base_template(group, role)
            templates = {"pod": (base, source_path)}
            if role.instance_set is not None and role.instance_set.components:
                templates = {
                    f"component:{c.name}": (copy.deepcopy(dict(c.template)), c.template_path)
                    for c in role.instance_set.components
                }
            elif kind is WorkloadKind.LEADERWORKERSET:
                templates = _leader_worker(group, role, base, source_path)
        except DiagnosticError as exc:
            problems.extend(exc.diagnostics)
            continue
        finished: dict[str, PodTemplate] = {}
        for which, (template, path) in templates.items():
            built, found = _finish(group, role, selector, placed, template, path, conventions)
            # upstream's config and sidecar injectors, before the lowering's env (none on
            # leader/worker workers: roleinstanceset_reconciler.go:392-393)
            inject(group, role, built["spec"], profiles or {}, sidecars=which != "worker")
            warnings.extend(found)
            finished[which] = PodTemplate(body=built, source_path=path)
        ctx = RoleContext(
            group=group,
            role=role,
            selector=selector,
            templates=finished,
            wave=waves.of_role[role.name],
            conventions=conventions,
        )
        manifests.extend(table[kind](ctx))
    if problems:
        raise DiagnosticError(problems)
    return Expanded(manifests=tuple(manifests), warnings=tuple(dict.fromkeys(warnings)))


def _base_template(group: Group, role: Role) -> tuple[dict[str, Any], JsonPath]:
    """The role's own pod template, or its role template with `templatePatch` applied."""
    if role.template_ref is None:
        return copy.deepcopy(dict(role.template)), role.template_path
    ref = next(t for t in group.role_templates if t.name == role.template_ref)
    patched = _patch(group, dict(ref.template), role.template_patch or {}, role.patch_path)
    return patched, ref.path


def _leader_worker(
    group: Group, role: Role, base: dict[str, Any], source_path: JsonPath
) -> dict[str, tuple[dict[str, Any], JsonPath]]:
    lws = role.leader_worker_set
    assert lws is not None, "parse gives every LeaderWorkerSet role a leaderWorkerSet spec"
    paths = role.leader_worker_patch_paths
    out = {}
    for which, patch, path in (
        ("leader", lws.patch_leader, paths[0]),
        ("worker", lws.patch_worker, paths[1]),
    ):
        template = base if patch is None else _patch(group, base, patch, path)
        out[which] = (template, source_path)
    return out


def _patch(
    group: Group, original: dict[str, Any], patch: Mapping[str, Any], path: JsonPath
) -> dict[str, Any]:
    try:
        merged = strategic_merge(original, dict(patch))
    except PatchError as exc:
        raise DiagnosticError(
            [
                error(
                    "RBG132",
                    f"cannot apply the patch: {exc}",
                    group.document.span(*path, *exc.path),
                    help="containers, volumes and env merge by `name`, ports by "
                    "`containerPort`, volumeMounts by `mountPath`",
                )
            ]
        ) from None
    # The patch may make the template malformed (e.g. `containers: null`): say so here.
    found = check_value(merged, "podTemplateSpec", group.document, path, "patched template")
    if found:
        raise DiagnosticError(found)
    return merged


def _finish(
    group: Group,
    role: Role,
    selector: dict[str, str],
    placed: RolePlacement,
    template: dict[str, Any],
    source_path: JsonPath,
    conventions: cv.Conventions,
) -> tuple[dict[str, Any], list[Diagnostic]]:
    template = copy.deepcopy(template)
    meta = dict(template.get("metadata") or {})
    user_labels = dict(meta.get("labels") or {})
    found = [
        warning(
            "RBG502",
            f"pod label {key}={user_labels[key]!r} is replaced by {value!r}",
            group.document.span(*source_path, "metadata", "labels", key, key=True),
            help="remove the label; rbgc sets the group's identity labels itself",
        )
        for key, value in selector.items()
        if key in user_labels and user_labels[key] != value
    ]
    meta["labels"] = dict(sorted({**user_labels, **placed.pod_labels, **selector}.items()))
    annotations = {**(meta.get("annotations") or {}), **placed.pod_annotations}
    spec = dict(template.get("spec") or {})
    key = placed.exclusive_topology
    # Either release's opt-out counts: HEAD's conversion drops v1alpha1's (semantics §12 #18),
    # rbgc keeps what the user asked for.
    if key and not any(annotations.get(k) for k in cv.DISABLE_EXCLUSIVE_KEYS):
        annotations[conventions.annotation_exclusive_topology] = key
        spec["affinity"] = exclusive_affinity(
            spec.get("affinity") or {},
            key,
            cv.group_unique_key(group.namespace, group.name),
            conventions.label_group_key,
        )
    if placed.scheduling:
        from rbgc.passes.placement_rules import merge as merge_placement

        spec = merge_placement(spec, placed.scheduling)
    if annotations:
        meta["annotations"] = dict(sorted(annotations.items()))
    if placed.scheduler and spec.get("schedulerName") != placed.scheduler:
        found.append(
            warning(
                "RBG301",
                f"role {role.name!r} is in Volcano PodGroup {group.name} but its pods do not "
                f"set `schedulerName: {placed.scheduler}`",
                group.document.span(*source_path, "spec"),
                help=f"add `schedulerName: {placed.scheduler}` to the pod template spec; the "
                "default scheduler ignores Volcano PodGroups",
            )
        )
    rest = {k: v for k, v in template.items() if k not in ("metadata", "spec")}
    return {"metadata": meta, "spec": spec, **rest}, found


def exclusive_affinity(
    affinity: Mapping[str, Any],
    topology_key: str,
    group_key: str,
    label: str = cv.LABEL_GROUP_KEY,
) -> dict[str, Any]:
    """Upstream's setExclusiveAffinities: append a pod affinity to the own group and an
    anti-affinity to every other group in `topology_key`, after the user's terms, unless
    both are already there. `label` is the group-key label the pods carry: HEAD selects
    `group-unique-hash`, which no pod carries (v1alpha2 semantics §12 #1), so rbgc selects
    `group-uid` under v0.8 conventions."""
    out = copy.deepcopy(dict(affinity))
    affinity_terms = _required(out, "podAffinity")
    anti_terms = _required(out, "podAntiAffinity")
    if _has_key(affinity_terms, topology_key) and _has_key(anti_terms, topology_key):
        return out
    affinity_terms.append(
        {
            "labelSelector": {
                "matchExpressions": [{"key": label, "operator": "In", "values": [group_key]}]
            },
            "topologyKey": topology_key,
        }
    )
    anti_terms.append(
        {
            "labelSelector": {
                "matchExpressions": [
                    {"key": label, "operator": "Exists"},
                    {"key": label, "operator": "NotIn", "values": [group_key]},
                ]
            },
            "topologyKey": topology_key,
        }
    )
    return out


def _required(affinity: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    section = affinity.setdefault(kind, {})
    terms: list[dict[str, Any]] = section.setdefault(
        "requiredDuringSchedulingIgnoredDuringExecution", []
    )
    return terms


def _has_key(terms: list[dict[str, Any]], topology_key: str) -> bool:
    return any(t.get("topologyKey") == topology_key for t in terms)
