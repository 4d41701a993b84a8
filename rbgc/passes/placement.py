"""Pass 3 of 5: placement. In: Group, Waves. Out: Placement. Errors: RBG3xx.

Decides where each role's pods may run and what gates the whole group:

- exclusive topology (rbg-semantics.md §9): the group annotation
  `rolebasedgroup.workloads.x-k8s.io/exclusive-topology: <key>` gives every pod template the
  upstream affinity/anti-affinity pair on the group-unique-key label (applied per template in
  `expand`, where a template may opt out);
- placement rules (a `Placement` document or KEP-473's fields, rbgc/topology.py), lowered for
  the scheduler chosen: pod (anti-)affinity and spreads (passes/placement_rules.py), Volcano
  networkTopology and subgroups (placement_volcano.py), Kueue TAS (placement_kueue.py), KAI
  (placement_kai.py),
  instance packs (placement_instances.py); conflicts refused (RBG314), a pack no pod could
  anchor demoted (RBG318, placement_anchors.py);
- gang scheduling (passes/placement_gang.py): one PodGroup `{group}`. Argo CD applies custom
  resources last within a wave, so the PodGroup goes one wave before every role.

Every rule's lowering is recorded (`Placement.lowering`, the facts' `lowered`/`enforced_by`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from rbgc.diagnostics import Diagnostic, DiagnosticError, error, warning
from rbgc.k8s import conventions as cv
from rbgc.k8s.manifest import Manifest
from rbgc.model import (
    Group,
    InstancePin,
    Placement,
    RolePlacement,
    RuleLowering,
    Scheduler,
    Target,
    Waves,
    WorkloadKind,
)
from rbgc.passes import placement_gang

if TYPE_CHECKING:
    from rbgc.passes.placement_kai import KaiTopology
    from rbgc.passes.placement_kueue import KueueTopology
    from rbgc.passes.placement_volcano import VolcanoTopology
    from rbgc.topology import PlacementSpec

# A group without placement rules, on the default scheduler, needs only the gang: the rules'
# lowerings (and rbgc/topology.py) are imported where a group has them, so that a plain build
# does not define their classes at start-up (issue 21.7).


def place(
    group: Group,
    waves: Waves,
    target: Target | None = None,
    conventions: cv.Conventions = cv.V04,
) -> Placement:
    target = target or Target()
    problems: list[Diagnostic] = []
    # The key the user writes follows the input's API (HEAD's conversion webhook translates
    # v1alpha1's); the key written on pod templates follows `conventions` (in `expand`).
    exclusive = cv.conventions_for(group.document.api_version).annotation_exclusive_topology
    key = group.annotations.get(exclusive)
    if key is not None and not key.strip():
        problems.append(
            error(
                "RBG303",
                "exclusive-topology annotation has an empty topology key",
                group.document.span("metadata", "annotations", exclusive),
                help="use a node label key such as kubernetes.io/hostname or "
                "topology.kubernetes.io/zone",
            )
        )
    rules = group.placement
    if rules is not None:
        from rbgc.passes import placement_rules

        span = group.document.span("metadata", "annotations", exclusive) if key else None
        problems.extend(placement_rules.conflicts(rules, key or None, span))
        problems.extend(placement_rules.scheduler_words(rules, target.scheduler))
        problems.extend(placement_gang.scope_conflicts(group, rules, target))
    problems.extend(placement_gang.problems(group, target))
    if problems:
        raise DiagnosticError(problems)

    gang = placement_gang.gang(group, target, conventions)
    warnings = list(placement_gang.warnings(group, gang))
    volcano = _volcano(group, gang, target, warnings, conventions)
    topology_only = False
    if volcano is not None and (volcano.spec or volcano.on_gang):
        if gang is None:  # topology rides the gang channel without imposing a gang (KEP-473)
            gang, topology_only = placement_gang.Gang(api_version=cv.VOLCANO_PODGROUP_API), True
            gang.spec["minMember"] = 0
        _join(gang.spec, volcano)
        warnings.extend(volcano.warnings)
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    manifests: tuple[Manifest, ...] = ()
    reasons: list[str] = []
    members = {r.name for r in group.roles}
    if gang is not None and gang.members is not None:
        members = set(gang.members)  # KEP-430 minReplicas: only the listed roles join
    if gang is not None:
        if gang.volcano:
            annotations = {cv.VOLCANO_GROUP_ANNOTATION: group.name}
        else:
            labels = {cv.GANG_LABEL_LEGACY: group.name, cv.GANG_LABEL: group.name}
        manifests = (placement_gang.pod_group(group, gang.api_version, gang.spec, conventions),)
        reasons.append(
            f"in Volcano PodGroup {group.name} for its network topology (minMember 0: no gang)"
            if topology_only
            else f"gang-scheduled in PodGroup {group.name} (minMember {gang.spec['minMember']})"
        )
    if key:
        reasons.append(f"exclusive topology {key}: one group per domain")
    scheduling: dict[str, dict[str, Any]] = {}  # per role: the rules' pod-template fragments
    rule_reasons: dict[str, list[str]] = {}  # per role: what --explain says of its rules
    pins: tuple[InstancePin, ...] = ()
    lowering: tuple[RuleLowering, ...] = ()
    kueue: KueueTopology | None = None
    kai: KaiTopology | None = None
    if target.scheduler is Scheduler.KUEUE:
        from rbgc.passes import placement_kueue

        kueue = placement_kueue.lower(group, rules, target)
    if target.scheduler is Scheduler.KAI:
        from rbgc.passes import placement_kai

        kai = placement_kai.lower(group, rules, target)
    for back_end in (kueue, kai):
        warnings.extend(back_end.warnings if back_end is not None else ())
    if rules is not None:
        from rbgc.passes import placement_instances
        from rbgc.topology import RuleKind, Scope

        handled: dict[int, RuleLowering] = {}
        if volcano is not None:
            handled = {i: RuleLowering(enforced_by="volcano") for i in volcano.lowered}
        if kueue is not None:
            handled = dict(kueue.lowering)
        if kai is not None:
            handled = dict(kai.lowering)
        taken = set(handled)
        by_pod = {
            i for i, rule in enumerate(rules.rules) if rule.scope is Scope.GROUP and i not in taken
        }
        demoted = _demoted(group, rules, by_pod, conventions, warnings)
        deployments = {r.name for r in group.roles if r.kind is WorkloadKind.DEPLOYMENT}
        lowered = placement_rules.lower(
            rules,
            cv.group_unique_key(group.namespace, group.name),
            tuple(r.name for r in group.roles),
            rules=by_pod,
            demoted=demoted,
            deployments=deployments,
            version=target.kubernetes_version,
            conventions=conventions,
        )
        warnings.extend(placement_rules.version_gaps(rules, target))
        anchored = {r.name for r in group.roles} if key else set()
        for i in by_pod - demoted:
            rule = rules.rules[i]
            if rule.kind is RuleKind.PACK and rule.required is not None:
                anchored.update(rule.roles)
        instances = placement_instances.plan(
            group,
            rules,
            target,
            conventions,
            handled=handled,
            anchored=anchored,
        )
        warnings.extend(instances.warnings)
        scheduling, rule_reasons = lowered.scheduling, lowered.reasons
        for role, said in instances.reasons.items():
            rule_reasons.setdefault(role, []).extend(said)
        pins = tuple(instances.pins)
        # under Kueue each such pack is said by RBG322 already
        atomic = (
            None
            if kueue is not None or kai is not None
            else placement_rules.not_atomic(rules, by_pod - demoted)
        )
        if atomic is not None:
            warnings.append(atomic)
        lowering = tuple(
            lowered.lowering.get(i) or instances.lowering.get(i) or handled[i]
            for i in range(len(rules.rules))
        )
    for reasoned in (volcano, kueue, kai):
        for role, said in (reasoned.reasons if reasoned is not None else {}).items():
            rule_reasons.setdefault(role, []).extend(said)
    of_role = {
        role.name: RolePlacement(
            exclusive_topology=key or None,
            scheduler="volcano" if annotations and role.name in members else None,
            pod_labels=labels if role.name in members else {},
            pod_annotations={
                **(annotations if role.name in members else {}),
                **(kueue.annotations.get(role.name, {}) if kueue is not None else {}),
            },
            scheduling=scheduling.get(role.name, {}),
            reasons=(
                *(reasons if role.name in members else ()),
                *rule_reasons.get(role.name, ()),
            ),
        )
        for role in group.roles
    }
    return Placement(
        of_role=of_role,
        wave_offset=1 if manifests else 0,
        manifests=manifests,
        warnings=tuple(warnings),
        lowering=lowering,
        pins=pins,
        workload_labels=kueue.workload_labels if kueue is not None else {},
        workload_annotations=kai.workload_annotations if kai is not None else {},
    )


def finish(
    manifests: Sequence[Manifest], group: Group, placement: Placement
) -> tuple[Manifest, ...]:
    """What placement adds once the workloads exist: instance packs whose terms carry each
    instance's own literal values (placement_instances.pin), and the labels every workload
    carries (Kueue's queue name)."""
    out = tuple(manifests)
    if placement.pins and group.placement is not None:
        from rbgc.passes import placement_instances

        out = placement_instances.pin(
            out,
            placement.pins,
            cv.group_unique_key(group.namespace, group.name),
            group.placement.topology,
            group.conventions,
        )
    if placement.workload_labels or placement.workload_annotations:
        out = tuple(_marked(m, placement) for m in out)
    return out


def _marked(m: Manifest, placement: Placement) -> Manifest:
    if m.group is None or m.role is None or not m.pod_templates:
        return m  # only workloads (the objects with pod templates) join a queue
    annotations = placement.workload_annotations.get(m.role, {})
    if not placement.workload_labels and not annotations:
        return m
    body = copy.deepcopy(m.body)
    meta = body.setdefault("metadata", {})
    for key, extra in (("labels", placement.workload_labels), ("annotations", annotations)):
        if extra:
            meta[key] = dict(sorted({**(meta.get(key) or {}), **extra}.items()))
    return replace(m, body=body)


def _demoted(
    group: Group,
    rules: PlacementSpec,
    by_pod: set[int],
    conventions: cv.Conventions,
    warnings: list[Diagnostic],
) -> set[int]:
    """Required packs lowered as pod affinity that no pod could anchor: a role of the pack
    carries a required term of the user's that the pack's pods do not match (RBG318)."""
    from rbgc.passes import placement_anchors
    from rbgc.topology import RuleKind

    out = set()
    for i in sorted(by_pod):
        rule = rules.rules[i]
        if rule.kind is not RuleKind.PACK or rule.required is None:
            continue
        members = [r for r in (group.role(name) for name in rule.roles) if r is not None]
        anchors = [placement_anchors.pod_labels(group, r, conventions) for r in members]
        for role in members:
            foreign = next(
                (
                    t
                    for t in placement_anchors.user_terms(group, role)
                    if placement_anchors.outside(t, group.namespace, anchors)
                ),
                None,
            )
            if foreign is None:
                continue
            out.add(i)
            warnings.append(
                warning(
                    "RBG318",
                    f"pack [{', '.join(rule.roles)}] cannot be a required pod affinity: role "
                    f"{role.name!r} already requires pods the pack's pods are not, and "
                    "kube-scheduler needs one pod to match every required term, so its pods "
                    f"would never schedule; {rule.required.written} is only preferred",
                    rule.span,
                    help="make the role's own term preferred, or pack with --scheduler volcano "
                    "(PodGroup networkTopology, no pod affinity); `rbgc fit` does not count "
                    "on the pack",
                    notes=((foreign.span, "the role's own required term"),),
                )
            )
            break
    return out


def _volcano(
    group: Group,
    gang: placement_gang.Gang | None,
    target: Target,
    warnings: list[Diagnostic],
    conventions: cv.Conventions,
) -> VolcanoTopology | None:
    """The packs as Volcano networkTopology and subgroups, when lowered for Volcano."""
    rules = group.placement
    if target.scheduler is not Scheduler.VOLCANO or rules is None:
        return None
    from rbgc.passes import placement_volcano
    from rbgc.topology import RuleKind

    pack = next((r for r in rules.rules if r.kind is RuleKind.PACK), None)
    if pack is None:
        return None
    if gang is not None and not gang.volcano:
        warnings.append(
            warning(
                "RBG316",
                "packs are lowered to pod affinity, not Volcano networkTopology: the group's "
                "pods join a scheduler-plugins PodGroup (podGroupPolicy.kubeScheduling)",
                pack.span,
                help="use podGroupPolicy.volcanoScheduling for a Volcano gang",
            )
        )
        return None
    keys: Mapping[str, str | None] = {
        r.name: placement_gang.instance_key(r, target) for r in group.roles if r.size > 1
    }
    in_gang = {
        entry["name"]
        for entry in (gang.spec.get("subGroupPolicy") or [] if gang is not None else [])
        if entry["name"] in keys
    }
    return placement_volcano.network_topology(
        rules,
        cv.group_unique_key(group.namespace, group.name),
        tuple(r.name for r in group.roles),
        {r.name: (r.replicas, r.size) for r in group.roles},
        gang=gang is not None,
        conventions=conventions,
        instance_keys=keys,
        gang_sub_groups=in_gang,
    )


def _join(spec: dict[str, Any], volcano: VolcanoTopology) -> None:
    """Volcano's topology into the PodGroup spec: an instance pack's networkTopology onto the
    gang's subgroup of the same instances, the rest after the gang's subgroups."""
    gang_entries = [dict(e) for e in spec.get("subGroupPolicy") or []]
    for entry in gang_entries:
        if entry["name"] in volcano.on_gang:
            entry["networkTopology"] = volcano.on_gang[entry["name"]]
    own = volcano.spec.get("subGroupPolicy") or []
    if gang_entries or own:
        spec["subGroupPolicy"] = [*gang_entries, *own]
    if "networkTopology" in volcano.spec:
        spec["networkTopology"] = volcano.spec["networkTopology"]
