"""Whether a Deployment role's rolling update can start on the cluster the bundle leaves.

The Deployment controller first adds up to `maxSurge` pods of the new template, and removes
old pods only while at least `replicas - maxUnavailable` stay available (`rolling.go`,
`reconcileNewReplicaSet` / `reconcileOldReplicaSets`; the rounding and fencepost rule are
`k8s/controllers.surge_and_unavailable`). With `maxUnavailable` of at least 1 old pods make
room before any surge pod needs it, and each new pod takes the place an old one left. With 0,
every old pod stays until a surge pod runs: when no surge pod can be placed next to all of
them, the rollout never progresses. That is the case a required anti-affinity (`separate`)
or a full packed domain makes, as long as its term counts the old revision's pods too (no
`matchLabelKeys: [pod-template-hash]`, or Kubernetes below 1.31, where the API server drops
it). So one surge pod is read from the template, labelled with a new `pod-template-hash`,
and placed with the group's pods (the old revision) where they are.
"""

from __future__ import annotations

from rbgc.bundle import GroupFacts
from rbgc.diagnostics import Diagnostic, warning
from rbgc.fit.cluster import Cluster, Rollout
from rbgc.fit.constraints import Own, problem
from rbgc.fit.demand import Features, GroupPods, Template, read_pod
from rbgc.fit.search import solve
from rbgc.jsonpath import find
from rbgc.k8s import controllers
from rbgc.k8s import conventions as cv

NEXT = "-next"  # the new revision's pod-template-hash: the old one's, changed


def rollouts(
    group: GroupPods, cluster: Cluster, features: Features, warnings: list[Diagnostic]
) -> tuple[Rollout, ...]:
    """One `Rollout` per Deployment of the group (placed on `cluster` already)."""
    out = []
    for template in group.deployments:
        found = _rollout(group, template, cluster, features)
        if found is None:
            continue
        out.append(found)
        if not found.proceeds:
            warnings.append(_stuck(group.facts, found))
    return tuple(out)


def _rollout(
    group: GroupPods, template: Template, cluster: Cluster, features: Features
) -> Rollout | None:
    workload = template.workload
    m = template.manifest
    if workload.replicas == 0 or find(m.body, ("spec", "strategy", "type")) == "Recreate":
        return None
    surge, unavailable = controllers.surge_and_unavailable(workload.strategy, workload.replicas)
    if unavailable > 0 or surge == 0:
        return Rollout(role=workload.role, surge=surge, proceeds=True)
    name = f"{m.name}-{workload.replicas}"
    labels = {cv.POD_TEMPLATE_HASH_LABEL: workload.template_hash + NEXT}
    pod, _notes = read_pod(m, template.path, group.namespace, name, labels, features)
    own = Own(group.conventions.label_group_key, group.key)
    posed = problem(group.namespace, group.name, [pod], own=own)
    answer = solve(posed, cluster)
    if answer.fits:
        return Rollout(role=workload.role, surge=surge, proceeds=True)
    reason = (
        f"maxUnavailable 0 keeps all {workload.replicas} old pod(s) until a new one runs, and "
        f"the first new one cannot be placed beside them: {answer.reason}"
    )
    return Rollout(role=workload.role, surge=surge, proceeds=False, reason=reason)


def _stuck(facts: GroupFacts, rollout: Rollout) -> Diagnostic:
    role = next((r for r in facts.roles if r.name == rollout.role), None)
    gate = controllers.version_text(controllers.MATCH_LABEL_KEYS_IN_POD_AFFINITY)
    return warning(
        "RBG355",
        f"{facts.namespace}/{facts.name}: a rolling update of role {rollout.role} cannot "
        f"proceed: with maxSurge {rollout.surge} and maxUnavailable 0 its old pods stay until "
        "a new one runs, and the first new pod has no node (`rbgc fit`'s answer says why)",
        role.span if role is not None else None,
        help="let old pods go first (rollingUpdate.maxUnavailable: 1), leave room for "
        f"{rollout.surge} more pod(s), or, from Kubernetes {gate}, add `matchLabelKeys: "
        f"[{cv.POD_TEMPLATE_HASH_LABEL}]` to the term so that old and new pods do not count "
        "against each other",
    )
