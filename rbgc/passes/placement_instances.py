"""Instance packs (KEP-473's `instanceTopologyConstraint`): each instance's pods in one domain.

How, by what rbgc emits for the role and the scheduler chosen:

- an instance of one pod (a standalone role, a Deployment, an LWS of size 1) is always in one
  domain: nothing to compile;
- `--scheduler volcano`, where every pod of an instance carries one label with one value per
  instance (`placement_gang.instance_key`): a `subGroupPolicy` entry (passes/placement_volcano.py);
- `--scheduler kueue`, a native LWS role: TAS annotations on its templates
  (passes/placement_kueue.py);
- otherwise pod affinity to the instance's anchor, which every scheduler here honours
  (Volcano's predicates, and kube-scheduler after Kueue admits, run the same filter):
  - leader/worker roles: each worker gets a required term selecting its own leader at the
    required level, and preferred terms at the fallback tiers. A native LWS worker selects
    `worker-index: "0"` with `matchLabelKeys: [leaderworkerset.sigs.k8s.io/group-index]`,
    which the API server fills from the new pod's label (MatchLabelKeysInPodAffinity,
    Kubernetes >= 1.31; the LWS webhook labels every pod of a group with its index); under
    `--lws statefulsets` each group's workers are their own StatefulSet, so they select the
    leader's literal `statefulset.kubernetes.io/pod-name` (any version). The leader carries
    only the group's terms, so it is the one pod that meets all of a worker's terms
    (passes/placement_anchors.py), and workers wait for it;
  - custom components (one StatefulSet per instance and component): a term selecting the
    instance's literal `rbg.workloads.x-k8s.io/role-instance-index` on every pod. The first
    pod of an instance goes wherever its own terms allow (the self-affinity exception), so a
    role whose pods carry another required pod affinity (exclusive topology, a group pack, the
    user's) cannot pack its instances this way: RBG321.

Literal values differ per workload, so these terms are added after expand (`pin`).
Below Kubernetes 1.31 a native LWS role has no lowering: RBG317.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rbgc.diagnostics import Diagnostic, warning
from rbgc.jsonpath import find
from rbgc.k8s import controllers
from rbgc.k8s import conventions as cv
from rbgc.k8s.manifest import Manifest
from rbgc.model import (
    Group,
    InstancePin,
    LwsLowering,
    Role,
    RuleLowering,
    Target,
    WorkloadKind,
)
from rbgc.passes import placement_anchors
from rbgc.passes.placement_rules import merge, pack_terms
from rbgc.topology import PlacementSpec, RuleKind, Scope, Topology

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"  # the StatefulSet controller's, per pod
LEADER_BY_LABELS = "leader-labels"  # native LWS: worker-index 0 of my group-index
LEADER_BY_NAME = "leader-name"  # --lws statefulsets: my group's leader pod, by name
INSTANCE_LABEL = "instance-label"  # components: my instance's role-instance-index


@dataclass(slots=True)
class Planned:
    """Per rule index how it is lowered, the pins `pin` applies, explain lines, warnings."""

    lowering: dict[int, RuleLowering] = field(default_factory=dict)
    pins: list[InstancePin] = field(default_factory=list)
    reasons: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[Diagnostic] = field(default_factory=list)


def native_lws(role: Role, target: Target) -> bool:
    return role.kind is WorkloadKind.LEADERWORKERSET and target.lws is LwsLowering.NATIVE


def plan(
    group: Group,
    spec: PlacementSpec,
    target: Target,
    conventions: cv.Conventions,
    *,
    handled: Mapping[int, RuleLowering],
    anchored: Collection[str],
) -> Planned:
    """The instance packs a scheduler back end did not take (`handled`), as pod affinity.
    `anchored`: roles whose pods carry a required pod-affinity term of rbgc's own (exclusive
    topology, a group pack lowered as pod affinity)."""
    out = Planned()
    for index, rule in enumerate(spec.rules):
        if rule.kind is not RuleKind.PACK or rule.scope is not Scope.INSTANCE:
            continue
        if index in handled:
            out.lowering[index] = handled[index]
            continue
        (name,) = rule.roles
        role = group.role(name)
        assert role is not None, "topology.bind checks the roles"
        said = out.reasons.setdefault(name, [])
        scheduler = "kube-scheduler"  # pod affinity: the inter-pod filter, pod by pod
        if role.size == 1:
            out.lowering[index] = RuleLowering(enforced_by=scheduler)
            said.append("instance pack: one pod per instance, always in one domain")
            continue
        how = _how(group, role, target, conventions, anchored=name in anchored)
        if isinstance(how, Diagnostic):
            out.lowering[index] = RuleLowering(lowered=False, enforced_by=scheduler)
            out.warnings.append(how)
            continue
        keys = (cv.LWS_GROUP_INDEX_LABEL,) if how == LEADER_BY_LABELS else ()
        out.lowering[index] = RuleLowering(enforced_by=scheduler, match_label_keys=keys)
        out.pins.append(InstancePin(role=name, rule=rule, how=how))
        anchor = {
            LEADER_BY_LABELS: "each worker to its group's leader (matchLabelKeys group-index)",
            LEADER_BY_NAME: "each worker StatefulSet to its group's leader pod, by name",
            INSTANCE_LABEL: "each instance's pods to its role-instance-index",
        }[how]
        said.append(f"instance pack [{name}]: podAffinity of {anchor}")
    return out


def _how(
    group: Group, role: Role, target: Target, conventions: cv.Conventions, *, anchored: bool
) -> str | Diagnostic:
    """The pod-affinity mechanism for the role's instances, else the warning why none."""
    rule_span = next(
        r.span
        for r in (group.placement.rules if group.placement else ())
        if r.scope is Scope.INSTANCE and r.roles == (role.name,)
    )
    own = placement_anchors.pod_labels(group, role, conventions)
    foreign = [
        t
        for t in placement_anchors.user_terms(group, role)
        if placement_anchors.outside(t, group.namespace, [own])
    ]
    if foreign:
        return warning(
            "RBG321",
            f"instanceTopologyConstraint of role {role.name} is not compiled: its pods carry a "
            "required pod affinity to pods outside the instance, and kube-scheduler needs one "
            "pod to match every required term",
            rule_span,
            help="--scheduler volcano packs instances in PodGroup subgroups instead; or make "
            "the role's own affinity preferred",
            notes=((foreign[0].span, "the role's own required term"),),
        )
    components = role.instance_set is not None and bool(role.instance_set.components)
    if components and (anchored or placement_anchors.user_terms(group, role)):
        return warning(
            "RBG321",
            f"instanceTopologyConstraint of role {role.name} is not compiled: the first pod of "
            "each instance would be placed by its own terms alone, and its pods already carry "
            "another required pod affinity (exclusive topology, a group pack, or their own)",
            rule_span,
            help="--scheduler volcano packs instances in PodGroup subgroups instead",
        )
    if components:
        return INSTANCE_LABEL
    if role.kind is WorkloadKind.LEADERWORKERSET and not native_lws(role, target):
        return LEADER_BY_NAME
    if native_lws(role, target):
        if controllers.honours_affinity_match_label_keys(target.kubernetes_version):
            return LEADER_BY_LABELS
        return warning(
            "RBG317",
            f"instanceTopologyConstraint of role {role.name} is not compiled: a native "
            "LeaderWorkerSet's workers find their leader through `matchLabelKeys`, which "
            f"Kubernetes honours from {controllers.version_text(_MLK)} (target "
            f"{target.version_text})",
            rule_span,
            help="raise --kubernetes-version if the cluster is newer, build with --lws "
            "statefulsets, or --scheduler volcano; `rbgc fit` still checks the pack",
        )
    return warning(  # a multi-pod instance of a kind rbgc has no anchor for
        "RBG317",
        f"instanceTopologyConstraint of role {role.name} is not compiled for its workload",
        rule_span,
        help="`rbgc fit` still checks it against a node inventory",
    )


_MLK = controllers.MATCH_LABEL_KEYS_IN_POD_AFFINITY


def pin(
    manifests: Sequence[Manifest],
    pins: Sequence[InstancePin],
    group_key: str,
    topology: Topology,
    conventions: cv.Conventions,
) -> tuple[Manifest, ...]:
    """The expanded manifests with each pinned role's instance terms in its pod templates."""
    by_role = {p.role: p for p in pins}
    out = []
    for m in manifests:
        found = by_role.get(m.role) if m.role is not None else None
        out.append(m if found is None else _pinned(m, found, group_key, topology, conventions))
    return tuple(out)


def _pinned(
    m: Manifest,
    found: InstancePin,
    group_key: str,
    topology: Topology,
    conventions: cv.Conventions,
) -> Manifest:
    body = copy.deepcopy(m.body)
    changed = False
    # native LWS: the worker template; a worker StatefulSet (`--lws statefulsets`) is told from
    # the leaders' by the group index its pods carry (`_anchor`)
    workers = found.how == LEADER_BY_LABELS
    for path in (p for p in m.pod_templates if not workers or p[-1] == "workerTemplate"):
        template = find(body, path)
        if not isinstance(template, dict):
            continue
        labels = (template.get("metadata") or {}).get("labels") or {}
        extra = _anchor(found.how, labels)
        if extra is None:
            continue
        selector = conventions.roles_selector(group_key, (found.role,))
        selector["matchExpressions"].append(extra)
        base: dict[str, Any] = {"labelSelector": selector}
        if found.how == LEADER_BY_LABELS:
            base["matchLabelKeys"] = [cv.LWS_GROUP_INDEX_LABEL]
        affinity = pack_terms(found.rule, topology, base, [])
        template["spec"] = merge(
            template.get("spec") or {}, {"affinity": {"podAffinity": affinity}}
        )
        changed = True
    return replace(m, body=body) if changed else m


def _anchor(how: str, labels: Mapping[str, str]) -> dict[str, Any] | None:
    """The selector expression naming a template's anchor pods (None: not this template)."""
    if how == LEADER_BY_LABELS:
        return {"key": cv.LWS_WORKER_INDEX_LABEL, "operator": "In", "values": ["0"]}
    if how == LEADER_BY_NAME:
        name, index = labels.get(cv.LWS_NAME_LABEL), labels.get(cv.LWS_GROUP_INDEX_LABEL)
        if name is None or index is None:
            return None
        return {"key": POD_NAME_LABEL, "operator": "In", "values": [f"{name}-{index}"]}
    index = labels.get(cv.INSTANCE_INDEX_LABEL)
    if index is None:
        return None
    return {"key": cv.INSTANCE_INDEX_LABEL, "operator": "In", "values": [index]}
