"""The pods a compiled bundle will create, group by group, and what each one asks for.

StatefulSets (`replicas`, `ordinals.start`), Deployments and LeaderWorkerSets (`replicas`
groups of `size` pods: a leader from `leaderTemplate`, else `workerTemplate`, and `size - 1`
workers) of every RoleBasedGroup; objects that pass through unchanged belong to no group and
are not placed. Deployment pods are numbered here (`{deployment}-0`, ...) where Kubernetes
gives them random suffixes. Per pod: the effective request (`resources.py`), nodeSelector,
required node affinity, tolerations, `nodeName`, and the required pod (anti-)affinity terms
and `DoNotSchedule` spread constraints, which `constraints.py` turns into the model's
constraints. Preferred terms and `ScheduleAnyway` spreads only score: they cannot make a
group fit or not fit, and are not read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from rbgc.diagnostics import Diagnostic, DiagnosticError, error, warning
from rbgc.fit.matching import (
    LabelSelector,
    PodTerm,
    Unreadable,
    items,
    label_selector,
    mapping,
    node_selector_terms,
    pod_terms,
    string_map,
    text,
    tolerations,
)
from rbgc.fit.model import PodDemand
from rbgc.fit.resources import pod_requests
from rbgc.jsonpath import find
from rbgc.k8s import conventions as cv
from rbgc.k8s.manifest import Manifest
from rbgc.source import JsonPath

LWS_NAME = "leaderworkerset.sigs.k8s.io/name"
LWS_GROUP_INDEX = "leaderworkerset.sigs.k8s.io/group-index"
LWS_WORKER_INDEX = "leaderworkerset.sigs.k8s.io/worker-index"
LWS_MEMBER = "rbgc.io/lws-member"
# LWS's own exclusive placement: the controller keeps each group (instance) in one domain of
# the key, one group per domain. Only a LeaderWorkerSet object has it enforced.
LWS_EXCLUSIVE = "leaderworkerset.sigs.k8s.io/exclusive-topology"
TEMPLATE: JsonPath = ("spec", "template")
LEADER: JsonPath = ("spec", "leaderWorkerTemplate", "leaderTemplate")
WORKER: JsonPath = ("spec", "leaderWorkerTemplate", "workerTemplate")


@dataclass(frozen=True, slots=True, kw_only=True)
class SpreadTerm:
    """A `topologySpreadConstraints` entry with `whenUnsatisfiable: DoNotSchedule`."""

    level: str
    max_skew: int
    min_domains: int | None
    selector: PodTerm  # the pods counted (the pod's namespace, its labelSelector)


@dataclass(frozen=True, slots=True, kw_only=True)
class Terms:
    """A pod's required inter-pod terms, as written in its template."""

    affinity: tuple[PodTerm, ...] = ()
    anti_affinity: tuple[PodTerm, ...] = ()
    spread: tuple[SpreadTerm, ...] = ()


@dataclass(slots=True, kw_only=True)
class GroupPods:
    """Every pod of one group, in creation order, with its terms."""

    namespace: str
    name: str
    key: str  # the group-unique-key label value
    pods: list[PodDemand] = field(default_factory=list)
    terms: dict[str, Terms] = field(default_factory=dict)
    exclusive_instances: dict[str, str] = field(default_factory=dict)  # LWS name -> its key
    warnings: list[Diagnostic] = field(default_factory=list)


def group_pods(manifests: tuple[Manifest, ...], namespace: str) -> list[GroupPods]:
    """Groups sorted by (namespace, name); DiagnosticError (RBG351) for unreadable fields."""
    groups: dict[tuple[str, str], GroupPods] = {}
    problems: list[Diagnostic] = []
    for m in manifests:
        if m.group is None or m.kind not in ("StatefulSet", "Deployment", "LeaderWorkerSet"):
            continue
        ns = m.namespace or namespace
        found = groups.get((ns, m.group))
        if found is None:
            found = GroupPods(namespace=ns, name=m.group, key=cv.group_unique_key(ns, m.group))
            groups[(ns, m.group)] = found
        key = ((m.body.get("metadata") or {}).get("annotations") or {}).get(LWS_EXCLUSIVE)
        if m.kind == "LeaderWorkerSet" and isinstance(key, str) and key:
            found.exclusive_instances[m.name] = key
        for template_path, pod_name, labels, instance in _pods(m):
            template = _template(m, template_path)
            try:
                pod, terms, notes = _read(template, m, ns, pod_name, labels, instance)
            except Unreadable as exc:
                problems.append(
                    error(
                        "RBG351",
                        f"{m.kind} {m.name}: {exc.message}",
                        m.span_of((*template_path, *exc.path)),
                        help="fix the pod template: `rbgc fit` reads it as the scheduler would",
                    )
                )
                break
            found.pods.append(pod)
            found.terms[pod.name] = terms
            for note in dict.fromkeys(notes):
                found.warnings.append(
                    warning("RBG352", f"{m.kind} {m.name}: {note}", m.span_of(template_path))
                )
    if problems:
        raise DiagnosticError(problems)
    for g in groups.values():
        g.warnings = list(dict.fromkeys(g.warnings))
    return [groups[k] for k in sorted(groups)]


def _template(m: Manifest, path: JsonPath) -> Mapping[str, Any]:
    found = find(m.body, path)
    return found if isinstance(found, dict) else {}


def _count(raw: Any, default: int) -> int:
    return raw if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0 else default


def _pods(m: Manifest) -> Iterator[tuple[JsonPath, str, dict[str, str], str | None]]:
    """(template path, pod name, extra labels, instance) of every pod `m` creates."""
    spec = m.body.get("spec") or {}
    replicas = _count(spec.get("replicas"), 1)
    if m.kind == "Deployment":
        for i in range(replicas):
            yield TEMPLATE, f"{m.name}-{i}", {}, None
        return
    if m.kind == "StatefulSet":
        start = _count((spec.get("ordinals") or {}).get("start"), 0)
        labels = _template(m, (*TEMPLATE, "metadata")).get("labels") or {}
        lws = labels.get(LWS_NAME) if isinstance(labels, dict) else None
        for ordinal in range(start, start + replicas):
            instance = None
            if lws is not None:  # `--lws statefulsets`: a leader StatefulSet or a group's workers
                leader = labels.get(LWS_MEMBER) == "leader"
                group = ordinal if leader else labels.get(LWS_GROUP_INDEX)
                instance = f"{lws}/{group}"
            yield TEMPLATE, f"{m.name}-{ordinal}", {}, instance
        return
    lws_template = spec.get("leaderWorkerTemplate") or {}
    size = _count(lws_template.get("size"), 1)
    leader = LEADER if isinstance(lws_template.get("leaderTemplate"), dict) else WORKER
    for group in range(replicas):
        instance = f"{m.name}/{group}"
        extra = {LWS_NAME: m.name, LWS_GROUP_INDEX: str(group)}
        yield leader, f"{m.name}-{group}", {**extra, LWS_WORKER_INDEX: "0"}, instance
        for worker in range(1, size):
            labels = {**extra, LWS_WORKER_INDEX: str(worker)}
            yield WORKER, f"{m.name}-{group}-{worker}", labels, instance


def _read(
    template: Mapping[str, Any],
    m: Manifest,
    namespace: str,
    pod_name: str,
    extra: dict[str, str],
    instance: str | None,
) -> tuple[PodDemand, Terms, list[str]]:
    meta = mapping(template.get("metadata"), ("metadata",))
    labels = {**string_map(meta.get("labels"), ("metadata", "labels")), **extra}
    spec = mapping(template.get("spec"), ("spec",))
    affinity = mapping(spec.get("affinity"), ("spec", "affinity"))
    node_affinity = mapping(affinity.get("nodeAffinity"), ("spec", "affinity", "nodeAffinity"))
    required_nodes = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    node_terms = (
        node_selector_terms(
            required_nodes,
            ("spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution"),
        )
        if required_nodes is not None
        else ()
    )
    notes: list[str] = []
    found: dict[str, tuple[PodTerm, ...]] = {}
    for kind in ("podAffinity", "podAntiAffinity"):
        section = mapping(affinity.get(kind), ("spec", "affinity", kind))
        where = ("spec", "affinity", kind, "requiredDuringSchedulingIgnoredDuringExecution")
        found[kind], more = pod_terms(
            section.get("requiredDuringSchedulingIgnoredDuringExecution"), where, namespace
        )
        notes.extend(more)
    node_name = spec.get("nodeName")
    pod = PodDemand(
        name=pod_name,
        role=m.role or "",
        namespace=namespace,
        labels=dict(sorted(labels.items())),
        requests=pod_requests(spec, ("spec",)),
        node_name=text(node_name, ("spec", "nodeName")) if node_name is not None else None,
        node_selector=string_map(spec.get("nodeSelector"), ("spec", "nodeSelector")),
        node_affinity=node_terms,
        tolerations=tolerations(spec.get("tolerations"), ("spec", "tolerations")),
        instance=instance,
        span=m.span_of(("spec",)),
    )
    spreads = _spreads(spec, namespace, notes)
    return (
        pod,
        Terms(
            affinity=found["podAffinity"], anti_affinity=found["podAntiAffinity"], spread=spreads
        ),
        notes,
    )


def _spreads(spec: Mapping[str, Any], namespace: str, notes: list[str]) -> tuple[SpreadTerm, ...]:
    out = []
    path: JsonPath = ("spec", "topologySpreadConstraints")
    for i, raw in enumerate(items(spec.get("topologySpreadConstraints"), path)):
        where = (*path, i)
        body = mapping(raw, where)
        when = text(body.get("whenUnsatisfiable"), (*where, "whenUnsatisfiable"))
        if when not in ("DoNotSchedule", "ScheduleAnyway"):
            raise Unreadable(
                (*where, "whenUnsatisfiable"), f"{when!r} is not DoNotSchedule or ScheduleAnyway"
            )
        if when == "ScheduleAnyway":
            continue  # scoring only
        skew = body.get("maxSkew")
        if not isinstance(skew, int) or isinstance(skew, bool) or skew < 1:
            raise Unreadable((*where, "maxSkew"), "maxSkew must be an integer of at least 1")
        min_domains = body.get("minDomains")
        if min_domains is not None and (not isinstance(min_domains, int) or min_domains < 1):
            raise Unreadable((*where, "minDomains"), "minDomains must be an integer of at least 1")
        if body.get("nodeAffinityPolicy") == "Ignore" or body.get("nodeTaintsPolicy") == "Honor":
            notes.append(
                "nodeAffinityPolicy / nodeTaintsPolicy other than the defaults are not "
                "evaluated: eligible domains are those of the nodes the pod's node affinity allows"
            )
        selector: LabelSelector = label_selector(
            body.get("labelSelector"), (*where, "labelSelector")
        )
        out.append(
            SpreadTerm(
                level=text(body.get("topologyKey"), (*where, "topologyKey")),
                max_skew=skew,
                min_domains=min_domains,
                selector=PodTerm(selector, frozenset({namespace}), ""),
            )
        )
    return tuple(out)
