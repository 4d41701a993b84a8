"""Pass 3 of 5: placement. In: Group, Waves. Out: Placement. Errors: RBG3xx.

Decides where each role's pods may run and what gates the whole group:

- exclusive topology (rbg-semantics.md §9): the group annotation
  `rolebasedgroup.workloads.x-k8s.io/exclusive-topology: <key>` gives every pod template the
  upstream affinity/anti-affinity pair on the group-unique-key label (applied per template in
  `expand`, where a template may opt out);
- placement rules (a `Placement` document, rbgc/topology.py): pack/spread/separate lowered for
  the default scheduler (passes/placement_rules.py), conflicts refused (RBG314);
- gang scheduling (§8): `podGroupPolicy` becomes one PodGroup `{group}` with
  `minMember` = all pods of the group (LWS roles count size * replicas). Argo CD applies custom
  resources last within a wave, so the PodGroup goes one wave before every role.
"""

from __future__ import annotations

from rbgc.diagnostics import Diagnostic, DiagnosticError, error, warning
from rbgc.k8s import conventions as cv
from rbgc.k8s.manifest import Manifest
from rbgc.model import (
    Group,
    Placement,
    RolePlacement,
    RuleLowering,
    Scheduler,
    Target,
    Waves,
    WorkloadKind,
)
from rbgc.passes import placement_gang, placement_rules, placement_volcano
from rbgc.topology import PlacementSpec, RuleKind, Scope


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
        span = (
            group.document.span("metadata", "annotations", cv.ANNOTATION_EXCLUSIVE_TOPOLOGY)
            if key
            else None
        )
        problems.extend(placement_rules.conflicts(rules, key or None, span))
    if problems:
        raise DiagnosticError(problems)

    gang = placement_gang.gang(group, target)
    warnings = list(placement_gang.warnings(group, gang))
    roles = tuple(r.name for r in group.roles)
    group_key = cv.group_unique_key(group.namespace, group.name)
    volcano = _volcano(group, gang, target, warnings, conventions)
    topology_only = False
    if volcano is not None:
        if gang is None:  # topology rides the gang channel without imposing a gang (KEP-473)
            gang, topology_only = placement_gang.Gang(api_version=cv.VOLCANO_PODGROUP_API), True
            gang.spec["minMember"] = 0
        gang.spec.update(volcano.spec)
        warnings.extend(volcano.warnings)
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    manifests: tuple[Manifest, ...] = ()
    reasons: list[str] = []
    if gang is not None:
        api_version, spec = gang.api_version, gang.spec
        if gang.volcano:
            annotations = {cv.VOLCANO_GROUP_ANNOTATION: group.name}
        else:
            labels = {cv.GANG_LABEL_LEGACY: group.name, cv.GANG_LABEL: group.name}
        manifests = (placement_gang.pod_group(group, api_version, spec, conventions),)
        reasons.append(
            f"in Volcano PodGroup {group.name} for its network topology (minMember 0: no gang)"
            if topology_only
            else f"gang-scheduled in PodGroup {group.name} (minMember {spec['minMember']})"
        )
    if key:
        reasons.append(f"exclusive topology {key}: one group per domain")
    lowered = placement_rules.Lowered()
    if rules is not None:
        # packs Volcano's networkTopology expresses are not pod affinity as well
        by_pod = {
            i
            for i, rule in enumerate(rules.rules)
            if volcano is None or rule.kind is not RuleKind.PACK
        }
        deployments = {r.name for r in group.roles if r.kind is WorkloadKind.DEPLOYMENT}
        lowered = placement_rules.lower(
            rules,
            group_key,
            roles,
            rules=by_pod,
            deployments=deployments,
            version=target.kubernetes_version,
            conventions=conventions,
        )
        warnings.extend(placement_rules.instance_packs(rules))
        atomic = placement_rules.not_atomic(rules) if volcano is None else None
        if atomic is not None:
            warnings.append(atomic)
    if volcano is not None:
        for role, said in volcano.reasons.items():
            lowered.reasons.setdefault(role, []).extend(said)
    of_role = {
        role.name: RolePlacement(
            exclusive_topology=key or None,
            scheduler="volcano" if annotations else None,
            pod_labels=labels,
            pod_annotations=annotations,
            scheduling=lowered.scheduling.get(role.name, {}),
            reasons=(*reasons, *lowered.reasons.get(role.name, ())),
        )
        for role in group.roles
    }
    return Placement(
        of_role=of_role,
        wave_offset=1 if manifests else 0,
        manifests=manifests,
        warnings=tuple(warnings),
        lowering=_lowering(rules, lowered, volcano is not None),
    )


def _lowering(
    rules: PlacementSpec | None, lowered: placement_rules.Lowered, volcano: bool
) -> tuple[RuleLowering, ...]:
    """How each rule reached the objects, in the order of `rules.rules` (the facts)."""
    if rules is None:
        return ()
    out = []
    for i, rule in enumerate(rules.rules):
        if i in lowered.lowering:
            out.append(lowered.lowering[i])
        elif rule.scope is Scope.INSTANCE:
            out.append(RuleLowering(lowered=False))  # RBG317
        else:  # a group pack in the PodGroup's networkTopology
            out.append(RuleLowering(enforced_by="volcano" if volcano else "kube-scheduler"))
    return tuple(out)


def _volcano(
    group: Group,
    gang: placement_gang.Gang | None,
    target: Target,
    warnings: list[Diagnostic],
    conventions: cv.Conventions,
) -> placement_volcano.VolcanoTopology | None:
    """The pack rules as Volcano networkTopology, when lowered for Volcano (None: not)."""
    rules = group.placement
    if target.scheduler is not Scheduler.VOLCANO or rules is None:
        return None
    pack = next(
        (r for r in rules.rules if r.kind is RuleKind.PACK and r.scope is Scope.GROUP), None
    )
    if pack is None:  # instance packs alone: nothing for networkTopology (RBG317)
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
    return placement_volcano.network_topology(
        rules,
        cv.group_unique_key(group.namespace, group.name),
        tuple(r.name for r in group.roles),
        {r.name: r.replicas * r.size for r in group.roles},
        gang=gang is not None,
        conventions=conventions,
    )
