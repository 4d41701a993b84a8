"""`rbgc fit`: will each compiled group fit on this cluster, before anything is applied?

    inventory.py   nodes (and running pods) as kubectl prints them
    demand.py      the pods a compiled bundle creates, and what each asks of a node
    constraints.py their required terms as the constraint model (`model.py`)
    solver.py      the search: all pods of a group or none, best tier first
    check.py       an independent re-check of any placement (used by the tests)
    render.py      text and JSON answers

Groups are placed one after another in (namespace, name) order, each on what the earlier ones
left, as applying the whole bundle would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rbgc.diagnostics import Diagnostic
from rbgc.fit.constraints import problem
from rbgc.fit.demand import GroupPods, group_pods
from rbgc.fit.inventory import Inventory
from rbgc.fit.model import Constraint
from rbgc.fit.solver import Answer, Cluster, solve
from rbgc.k8s.manifest import Manifest


def fit(
    manifests: Sequence[Manifest],
    inventory: Inventory,
    namespace: str,
    rules: Callable[[GroupPods], Sequence[Constraint]] | None = None,
) -> tuple[list[Answer], list[Diagnostic]]:
    """An answer per group, and warnings about what could not be evaluated exactly.

    `rules` adds constraints to a group beyond those its pod templates carry: the hook the
    lowering of `Placement` / `instanceTopologyConstraint` rules feeds (`constraints.pods_of`
    and `instances_of` turn a rule's roles into the model's pods).
    """
    cluster = Cluster.of(inventory)
    answers: list[Answer] = []
    warnings: list[Diagnostic] = []
    for group in group_pods(tuple(manifests), namespace):
        posed = problem(group, tuple(rules(group)) if rules is not None else ())
        warnings.extend(group.warnings)
        answer = solve(posed, cluster)
        if answer.fits:
            cluster.commit(posed, answer)
        answers.append(answer)
    return answers, warnings
