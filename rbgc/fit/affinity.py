"""What a required pod affinity means on this cluster, as kube-scheduler's Filter decides it.

`interpodaffinity/filtering.go`: a node passes the incoming pod's required affinity when, for
every term, its domain of the term's topology key holds a pod that matches ALL the pod's terms
(`updateWithAffinityTerms` counts a pod only if `podMatchesAllAffinityTerms`; see
kubernetes#130784), and the node has every term's topology key. When no pod anywhere matches
them all, the pod may still go first if it matches its own terms (the self-affinity exception
of `satisfyPodAffinity`), on a node with every topology key (kubernetes#91168). So, for the
pods of one `Affinity` (the same terms, merged with their labels):

- a placed pod (running, or of a group placed before) matches every term: each carrier must go
  to a domain of each term's key holding one (`Near`); the group's own matching pods are not
  counted on, which is sufficient whatever order the pods bind in;
- else some of the group's pods match every term (`targets`): carriers and targets together in
  one domain of each term's key (`Pack`): sufficient, the first target binds by the exception
  or because it carries no such term, the others join it. The packs of one written term set
  whose `matchLabelKeys` gave each instance its own terms become one `InstancePack`;
- else no pod can ever satisfy the terms: the group does not fit, and the reason says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rbgc.fit.cluster import Cluster
from rbgc.fit.matching import PodTerm, describe
from rbgc.fit.model import Affinity, Constraint, InstancePack, Near, Pack


@dataclass(frozen=True, slots=True)
class Resolved:
    constraints: tuple[Constraint, ...]
    reason: str | None = None  # why the group can never fit


def resolve(constraints: Sequence[Constraint], cluster: Cluster) -> Resolved:
    """`constraints` with each `Affinity` replaced by what it means on `cluster`."""
    out: list[Constraint] = []
    packs: dict[int, list[Affinity]] = {}
    for c in constraints:
        if not isinstance(c, Affinity):
            out.append(c)
        elif _anchored(c.terms, cluster):
            out.append(Near(pods=c.pods, terms=c.terms, label=c.label))
        elif c.targets:
            packs.setdefault(c.family, []).append(c)
        else:
            return Resolved((), unsatisfiable(c))
    for family in packs.values():
        levels = tuple(dict.fromkeys(t.topology_key for t in family[0].terms))
        members = [tuple(dict.fromkeys((*c.pods, *c.targets))) for c in family]
        disjoint = len({p for m in members for p in m}) == sum(len(m) for m in members)
        for level in levels:
            if len(family) > 1 and disjoint:
                out.append(
                    InstancePack(instances=tuple(members), level=level, label=family[0].label)
                )
                continue
            for c, pods in zip(family, members, strict=True):
                out.append(Pack(pods=pods, required=level, label=c.label))
    return Resolved(tuple(out))


def _anchored(terms: Sequence[PodTerm], cluster: Cluster) -> bool:
    """A placed pod matches every term, on a node with one of their topology keys: the
    scheduler's affinity counts are not empty, so the self-affinity exception is off."""
    keys = {t.topology_key for t in terms}
    for e in cluster.existing:
        if all(t.selects(e.namespace, e.labels) for t in terms):
            if any(k in cluster.nodes[e.node].labels for k in keys):
                return True
    return False


def unsatisfiable(c: Affinity) -> str:
    terms = "; ".join(f"{describe(t.selector)} per {t.topology_key}" for t in c.terms)
    if len(c.terms) == 1:
        return (
            f"{c.label}: no pod matches its required pod affinity ({terms}), and no pod of the "
            "group does, so none of them can be placed"
        )
    return (
        f"{c.label}: no pod matches all {len(c.terms)} of its required pod affinity terms at "
        f"once ({terms}); kube-scheduler places the pod only where one pod matches every term "
        "(kubernetes#130784)"
    )
