"""`rbgc fit`: will each compiled group fit on this cluster, before anything is applied?

    inventory.py    nodes (and running pods) as kubectl prints them
    demand.py       the pods a compiled bundle creates (from its facts), what each asks for
    constraints.py  what the pods' own terms mean, as constraints (`model.py`)
    rules.py        the placement rules the build recorded, as constraints
    search.py       the search: all pods of a group or none, best tier first; with
                    affinity.py (required pod affinity against the cluster), filtering.py
                    (each pod's nodes), leaf.py (the placement) and explain.py (why not)
    rollout.py      whether a Deployment's rolling update can start where the group stands
    render.py       text and JSON answers

Groups are placed one after another in (namespace, name) order, each on what the earlier ones
left, as applying the whole bundle would; then each Deployment's rollout is checked on the
cluster they all leave.
"""

from __future__ import annotations

from dataclasses import replace

from rbgc.bundle import Bundle
from rbgc.diagnostics import Diagnostic
from rbgc.fit.cluster import Answer, Cluster
from rbgc.fit.constraints import Own, problem
from rbgc.fit.demand import Features, group_pods
from rbgc.fit.inventory import Inventory
from rbgc.fit.rollout import rollouts
from rbgc.fit.rules import rules_of
from rbgc.fit.search import solve
from rbgc.k8s import controllers
from rbgc.k8s.controllers import Version


def fit(
    bundle: Bundle,
    inventory: Inventory,
    kubernetes_version: Version = controllers.DEFAULT_KUBERNETES_VERSION,
) -> tuple[list[Answer], list[Diagnostic]]:
    """An answer per group, and warnings about what could not be evaluated exactly."""
    features = Features(kubernetes_version)
    cluster = Cluster.of(inventory)
    answers: list[Answer] = []
    warnings: list[Diagnostic] = []
    groups = group_pods(bundle, features)
    for group in groups:
        warnings.extend(group.warnings)
        rules = rules_of(group, warnings)
        own = Own(group.conventions.label_group_key, group.key)
        posed = problem(group.namespace, group.name, group.pods, rules, own, warnings)
        answer = solve(posed, cluster)
        if answer.fits:
            cluster.commit(posed.pods, answer.assignments)
        answers.append(answer)
    for i, (group, answer) in enumerate(zip(groups, answers, strict=True)):
        if answer.fits and group.deployments:
            answers[i] = replace(answer, rollouts=rollouts(group, cluster, features, warnings))
    return answers, list(dict.fromkeys(warnings))
