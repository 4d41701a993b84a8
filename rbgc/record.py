"""What the build decided about a group, recorded once for the back ends (see bundle.py).

In: the validated group, its waves as emitted and its compiled manifests. Out: `GroupFacts`.
Runs after the last pass; it reads the compiled objects, and from the IR only what no object
can carry: the role's declared kind and size, its StatefulSet surge (carried out by `rbgc
sync`), its restart policy and back-off, the coordination rules, the placement rules and the
output conventions the group was compiled under.
"""

from __future__ import annotations

from collections.abc import Sequence

from rbgc.bundle import (
    GroupFacts,
    PlacementFacts,
    Restart,
    RoleFacts,
    Rule,
    WorkloadFacts,
    workload_facts,
)
from rbgc.k8s.manifest import Manifest
from rbgc.model import Group, Role, RuleLowering, WorkloadKind


def record_group(
    group: Group, manifests: Sequence[Manifest], lowering: Sequence[RuleLowering] = ()
) -> GroupFacts:
    roles = []
    for role in group.roles:
        surge = role.rolling_update.max_surge if role.rolling_update else None
        workloads: list[WorkloadFacts] = []
        for m in manifests:
            if m.role == role.name:
                found = workload_facts(m, max_surge=surge)
                if found is not None:
                    workloads.append(found)
        workloads.sort(key=lambda w: (not w.primary, w.name))
        kind = role.kind or WorkloadKind.STATEFULSET
        roles.append(
            RoleFacts(
                name=role.name,
                kind=kind.kind,
                wave=workloads[0].wave if workloads else 0,
                replicas=role.replicas,
                size=role.size,
                workloads=tuple(workloads),
                depends_on=tuple(dict.fromkeys(d.name for d in role.dependencies)),
                restart=restart_of(role, kind, workloads),
                span=role.span,
            )
        )
    pod_group = next((m.name for m in manifests if m.kind == "PodGroup"), None)
    return GroupFacts(
        namespace=group.namespace,
        name=group.name,
        roles=tuple(roles),
        rules=rules_of(group),
        pod_group=pod_group,
        set_name=group.set_name,
        placement=placement_of(group, lowering),
        conventions=group.conventions,
    )


def placement_of(group: Group, lowering: Sequence[RuleLowering] = ()) -> tuple[PlacementFacts, ...]:
    """The rules as built; `lowering` (the placement pass's, one per rule) says how."""
    spec = group.placement
    if spec is None:
        return ()
    tiers = tuple((t.name, t.node_label) for t in spec.topology.tiers)
    out = []
    for i, rule in enumerate(spec.rules):
        how = lowering[i] if i < len(lowering) else RuleLowering()
        if rule.kind.value == "pack":
            preferred = tuple(level.node_label for level in rule.fallback(spec.topology))
        else:
            preferred = (rule.preferred.node_label,) if rule.preferred else ()
        out.append(
            PlacementFacts(
                kind=rule.kind.value,
                roles=rule.roles,
                required=rule.required.node_label if rule.required else None,
                preferred=preferred,
                tiers=tiers,
                max_skew=rule.max_skew,
                scope=rule.scope.value,
                span=rule.span,
                lowered=how.lowered,
                enforced_by=how.enforced_by,
                match_label_keys=how.match_label_keys,
                min_domains=rule.min_domains,
                node_taints_policy=how.node_taints_policy,
            )
        )
    return tuple(out)


def rules_of(group: Group) -> tuple[Rule, ...]:
    return tuple(
        Rule(
            name=c.name,
            roles=c.roles,
            max_skew=c.rolling_update.max_skew if c.rolling_update else None,
            partition=c.rolling_update.partition if c.rolling_update else None,
            max_unavailable=c.rolling_update.max_unavailable if c.rolling_update else None,
            scaling_max_skew=c.scaling.max_skew if c.scaling else None,
            span=c.span,
        )
        for c in group.coordination
    )


def restart_of(
    role: Role, kind: WorkloadKind, workloads: Sequence[WorkloadFacts]
) -> Restart | None:
    """What `rbgc sync --watch` must do when one of the role's pods restarts (rbg-semantics.md
    §7): `RecreateRBGOnPodRestart` recreates the group whatever the kind; a LeaderWorkerSet
    built as StatefulSets recreates its leader/worker group unless `None` (the LWS controller
    would: `RecreateGroupOnPodRestart`); a native LWS does it itself, and on a StatefulSet or
    Deployment `RecreateRoleInstanceOnPodRestart` has no effect upstream either (RBG142)."""
    policy = role.restart_policy
    base = role.restart_backoff.base_delay
    cap = max(role.restart_backoff.max_delay, base)
    if policy == "RecreateRBGOnPodRestart":
        return Restart(policy=policy, scope="group", base_delay=base, max_delay=cap)
    lowered = any(w.kind != WorkloadKind.LEADERWORKERSET.kind for w in workloads)
    if kind is WorkloadKind.LEADERWORKERSET and lowered and policy != "None":
        return Restart(
            policy=policy or "RecreateRoleInstanceOnPodRestart",
            scope="instance",
            base_delay=base,
            max_delay=cap,
        )
    return None
