"""Packs lowered for Kueue's Topology Aware Scheduling (`--scheduler kueue`).

Kueue admits a workload's PodSet at once and places it in one domain of the level its pod
template names (kueue.sigs.k8s.io "Topology Aware Scheduling", apis/kueue/v1beta2
topology_types.go): `kueue.x-k8s.io/podset-required-topology: <node label>`, or
`podset-preferred-topology` (Kueue climbs its own Topology's levels from there), at most one of
them per PodSet (pkg/controller/jobframework/tas_validation.go). What a PodSet is depends on
Kueue's integration for the workload rbgc emits:

- a StatefulSet is one workload of one PodSet (the `statefulset` integration, a plain pod
  group): a pack over exactly one StatefulSet role is its PodSet's annotation;
- a LeaderWorkerSet is one workload per group, leader and workers as two PodSets; the
  `podset-group-name` annotation on both templates puts them in one domain (Kueue's "Run
  LeaderWorkerSet" guide): that is an instance pack of a native LWS role;
- a Deployment's pods are admitted one by one, and a pack over several roles spans several
  workloads: Kueue cannot hold them in one domain. Such a pack is said (RBG322) and compiled
  as pod affinity, which kube-scheduler still enforces pod by pod after Kueue admits the pods.

A pack with both `required` and `preferred` keeps the required level (RBG323). Workloads join
Kueue through a LocalQueue: the `kueue.x-k8s.io/queue-name` label (pkg/controller/constants
QueueLabel) on every workload, from `--kueue-queue`, else the group's own annotation of that
key; without one Kueue leaves the workloads alone unless configured to manage them (RBG320).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rbgc.diagnostics import Diagnostic, warning
from rbgc.model import Group, LwsLowering, Role, RuleLowering, Target, WorkloadKind
from rbgc.topology import PlacementRule, PlacementSpec, RuleKind, Scope

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
REQUIRED = "kueue.x-k8s.io/podset-required-topology"
PREFERRED = "kueue.x-k8s.io/podset-preferred-topology"
GROUP_NAME = "kueue.x-k8s.io/podset-group-name"


@dataclass(slots=True)
class KueueTopology:
    """Pod-template annotations per role, the workloads' labels, and per rule index how it
    was lowered (rules Kueue cannot hold are absent: they stay pod affinity)."""

    annotations: dict[str, dict[str, str]] = field(default_factory=dict)
    workload_labels: dict[str, str] = field(default_factory=dict)
    lowering: dict[int, RuleLowering] = field(default_factory=dict)
    reasons: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[Diagnostic] = field(default_factory=list)


def lower(group: Group, spec: PlacementSpec | None, target: Target) -> KueueTopology:
    out = KueueTopology()
    queue = target.kueue_queue or group.annotations.get(QUEUE_LABEL)
    if queue:
        out.workload_labels[QUEUE_LABEL] = queue
    else:
        out.warnings.append(
            warning(
                "RBG320",
                f"--scheduler kueue: group {group.name} names no LocalQueue, so Kueue does not "
                "admit its workloads (unless it manages workloads without a queue name) and "
                "its topology annotations are not read",
                group.span,
                help=f"pass --kueue-queue NAME, or annotate the group `{QUEUE_LABEL}: NAME`",
            )
        )
    for index, rule in enumerate(spec.rules if spec is not None else ()):
        if rule.kind is not RuleKind.PACK:
            continue
        role = group.role(rule.roles[0]) if len(rule.roles) == 1 else None
        if role is not None and one_pod_set(role, rule, target):
            annotations = out.annotations.setdefault(role.name, {})
            annotations.update(_annotations(rule, role))
            out.lowering[index] = RuleLowering(enforced_by="kueue")
            said = ", ".join(f"{k} {v}" for k, v in annotations.items())
            what = "each instance" if rule.scope is Scope.INSTANCE else "the role"
            out.reasons.setdefault(role.name, []).append(
                f"pack [{role.name}]: Kueue TAS admits {what} in one domain ({said})"
            )
            if rule.required is not None and rule.preferred is not None:
                out.warnings.append(_preference_dropped(rule))
        elif rule.scope is Scope.GROUP:
            out.warnings.append(_not_expressible(group, rule))
    return out


def one_pod_set(role: Role, rule: PlacementRule, target: Target) -> bool:
    """All the pods the rule packs are one unit of admission: one StatefulSet (not a
    component one), or one group of a native LWS for an instance pack (Kueue's PodSet group,
    KAI's PodGroup)."""
    if rule.scope is Scope.INSTANCE:
        # a native LWS group is one workload of two PodSets, joined by podset-group-name
        return role.kind is WorkloadKind.LEADERWORKERSET and target.lws is LwsLowering.NATIVE
    components = role.instance_set is not None and bool(role.instance_set.components)
    return role.kind is WorkloadKind.STATEFULSET and not components


def _annotations(rule: PlacementRule, role: Role) -> dict[str, str]:
    level = rule.required or rule.preferred
    assert level is not None, "a pack states required or preferred"
    found = {REQUIRED if rule.required is not None else PREFERRED: level.node_label}
    if rule.scope is Scope.INSTANCE:
        found[GROUP_NAME] = role.name  # leader and workers: one PodSet group
    return found


def _preference_dropped(rule: PlacementRule) -> Diagnostic:
    assert rule.required is not None and rule.preferred is not None
    return warning(
        "RBG323",
        f"Kueue takes one topology annotation per PodSet: the pack stays within one "
        f"{rule.required.written} domain, the preference for {rule.preferred.written} is not "
        "expressed",
        rule.preferred.span,
        help="Kueue's own algorithm packs the PodSet into as few domains as it can; `rbgc fit` "
        "reports the tier the pack fits at",
    )


def _not_expressible(group: Group, rule: PlacementRule) -> Diagnostic:
    roles = [group.role(name) for name in rule.roles]
    why = (
        "its roles are separate Kueue workloads"
        if len(rule.roles) > 1
        else "Kueue admits the role's pods as more than one workload (a Deployment's pods one "
        "by one, a LeaderWorkerSet group by group, a component StatefulSet per instance)"
    )
    kinds = {r.kind.kind for r in roles if r is not None and r.kind is not None}
    return warning(
        "RBG322",
        f"Kueue TAS cannot admit pack [{', '.join(rule.roles)}] in one domain: {why}; it is "
        "compiled as pod affinity, which kube-scheduler checks pod by pod after Kueue admits "
        "the pods",
        rule.span,
        help="pack one StatefulSet role per rule for Kueue"
        + (f" (here: {', '.join(sorted(kinds))})" if kinds else "")
        + ", or use --scheduler volcano for a PodGroup over several roles",
    )
