"""Packs lowered for NVIDIA KAI Scheduler (`--scheduler kai`), its API read from its source
(NVIDIA/KAI-Scheduler at HEAD):

- KAI's pod grouper makes one PodGroup per top owner and reads the topology constraint from the
  owner's annotations (pkg/podgrouper/podgrouper/plugins/defaultgrouper/default_grouper.go:
  `kai.scheduler/topology` names KAI's `Topology` resource, `kai.scheduler/topology-required-
  placement` / `-preferred-placement` name node label keys; both may be set: required bounds
  the domain, preferred steers within it, docs/topology/README.md);
- a StatefulSet is one PodGroup (hub.go maps apps/v1 StatefulSet to the default grouper), and
  pods allocated later stay in the domain of those already running
  (plugins/topology/job_filtering.go `getRelevantDomainsWithAllocatedPods`): a pack over one
  StatefulSet role;
- a LeaderWorkerSet is one PodGroup per group, `{name}-group-{i}`, of the group's size
  (plugins/leaderworkerset/lws_grouper.go), with the LWS object's annotations: an instance pack
  of a native LWS role, placed atomically;
- a Deployment is one PodGroup per pod (plugins/deployment), and several roles are several
  owners: such packs stay pod affinity, and rbgc says so (RBG326);
- without `kai.scheduler/topology` KAI applies no constraint (job_filtering.go `getJobTopology`):
  the name is KEP-473's `topologyName` (the KAI resource, as the KEP intends it), else the
  rbgc Topology's name; the built-in `default` names no KAI resource (RBG327).

KAI places only pods that ask for it (`schedulerName: kai-scheduler`); the queue is the
owner's `kai.scheduler/queue` label, which a role's `labels` carry onto its workload.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rbgc.diagnostics import Diagnostic, warning
from rbgc.model import Group, RuleLowering, Target
from rbgc.passes.placement_kueue import one_pod_set
from rbgc.topology import DEFAULT_TOPOLOGY, PlacementRule, PlacementSpec, RuleKind, Scope

TOPOLOGY = "kai.scheduler/topology"
REQUIRED = "kai.scheduler/topology-required-placement"
PREFERRED = "kai.scheduler/topology-preferred-placement"
SCHEDULER_NAME = "kai-scheduler"


@dataclass(slots=True)
class KaiTopology:
    """Workload annotations per role, and per rule index how it was lowered."""

    workload_annotations: dict[str, dict[str, str]] = field(default_factory=dict)
    lowering: dict[int, RuleLowering] = field(default_factory=dict)
    reasons: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[Diagnostic] = field(default_factory=list)


def lower(group: Group, spec: PlacementSpec | None, target: Target) -> KaiTopology:
    out = KaiTopology()
    if spec is None:
        return out
    for index, rule in enumerate(spec.rules):
        if rule.kind is not RuleKind.PACK:
            continue
        role = group.role(rule.roles[0]) if len(rule.roles) == 1 else None
        if role is None or not one_pod_set(role, rule, target):
            if rule.scope is Scope.GROUP:
                out.warnings.append(_not_expressible(rule))
            continue
        name = rule.topology_name or spec.topology.name
        if rule.topology_name is None and spec.topology.name == DEFAULT_TOPOLOGY.name:
            out.warnings.append(_unnamed(rule))
        found = {TOPOLOGY: name}
        if rule.required is not None:
            found[REQUIRED] = rule.required.node_label
        if rule.preferred is not None:
            found[PREFERRED] = rule.preferred.node_label
        out.workload_annotations.setdefault(role.name, {}).update(found)
        out.lowering[index] = RuleLowering(enforced_by="kai")
        what = "each LWS group" if rule.scope is Scope.INSTANCE else "the StatefulSet"
        said = ", ".join(f"{k} {v}" for k, v in found.items())
        out.reasons.setdefault(role.name, []).append(
            f"pack [{role.name}]: KAI places {what} as one PodGroup ({said})"
        )
    for role in group.roles:
        if role.name in out.workload_annotations:
            scheduler = (role.template.get("spec") or {}).get("schedulerName")
            if scheduler != SCHEDULER_NAME:
                out.warnings.append(
                    warning(
                        "RBG325",
                        f"role {role.name!r} is packed by KAI, but its pods do not set "
                        f"`schedulerName: {SCHEDULER_NAME}`: another scheduler would place "
                        "them and ignore the pack",
                        group.document.span(*role.template_path, "spec"),
                        help=f"add `schedulerName: {SCHEDULER_NAME}` to the pod template spec",
                    )
                )
    return out


def _not_expressible(rule: PlacementRule) -> Diagnostic:
    return warning(
        "RBG326",
        f"KAI cannot place pack [{', '.join(rule.roles)}] as one PodGroup: KAI groups pods by "
        "their owner (one per StatefulSet, per LWS group, per Deployment pod); it is compiled "
        "as pod affinity, checked pod by pod",
        rule.span,
        help="pack one StatefulSet role per rule for KAI, or use --scheduler volcano for a "
        "PodGroup over several roles",
    )


def _unnamed(rule: PlacementRule) -> Diagnostic:
    return warning(
        "RBG327",
        "KAI applies a topology constraint only with the name of its Topology resource, and "
        f"this pack has none: `{TOPOLOGY}: {DEFAULT_TOPOLOGY.name}` is written",
        rule.span,
        help="name KAI's Topology: `topologyName` in a KEP-473 topologyConstraint, or a "
        "Topology document of that name and `topology:` in the Placement",
    )
