"""The pods a compiled bundle will create, group by group, and what each one asks for.

Read from the bundle's facts (`GroupFacts`): each role's workloads, their replicas and pods
per replica, and the group's output conventions; where a kind keeps its pod templates comes
from the kind table (`k8s/controllers.py`). A workload of `size` pods per replica (a
LeaderWorkerSet group) has a leader from its first template, else the last, and `size - 1`
workers from the last. Objects that belong to no group are not placed. Pods are named as their
controllers name them, except Deployment pods, numbered here (`{deployment}-0`, ...) where
Kubernetes gives them random suffixes; they carry `pod-template-hash` (the template's hash from
the facts), as the Deployment controller labels them.

Per pod: the effective request (`resources.py`), nodeSelector, required node affinity,
tolerations, `nodeName`, and its required terms as written (pod affinity and anti-affinity,
`DoNotSchedule` spread constraints), which `constraints.py` turns into constraints. Preferred
terms and `ScheduleAnyway` spreads only score: they cannot make a group fit or not, and are not
read. A field the target Kubernetes version ignores is dropped with a warning (RBG356).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from rbgc.bundle import Bundle, GroupFacts, WorkloadFacts
from rbgc.diagnostics import Diagnostic, DiagnosticError, error, warning
from rbgc.fit.matching import (
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
from rbgc.fit.model import HONOR, IGNORE, PodDemand, SpreadTerm, Terms
from rbgc.fit.resources import pod_requests
from rbgc.jsonpath import find
from rbgc.k8s import controllers
from rbgc.k8s import conventions as cv
from rbgc.k8s.controllers import Version
from rbgc.k8s.manifest import Manifest
from rbgc.source import JsonPath

AFFINITY_KINDS = ("podAffinity", "podAntiAffinity")


@dataclass(frozen=True, slots=True)
class Features:
    """The scheduling fields the target Kubernetes version honours (on by default)."""

    version: Version

    def has(self, since: Version) -> bool:
        return self.version >= since

    def ignored(self, what: str, since: Version) -> str:
        return (
            f"{what} is ignored by Kubernetes {controllers.version_text(self.version)} (on by "
            f"default from {controllers.version_text(since)}): `rbgc fit` reads the term without it"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Template:
    """Where a pod of a workload comes from: to read one more of them (a rollout's surge)."""

    manifest: Manifest
    path: JsonPath
    workload: WorkloadFacts


@dataclass(slots=True, kw_only=True)
class GroupPods:
    """Every pod of one group, in creation order."""

    facts: GroupFacts
    pods: list[PodDemand] = field(default_factory=list)
    exclusive_instances: dict[str, str] = field(default_factory=dict)  # LWS name -> its key
    deployments: list[Template] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def namespace(self) -> str:
        return self.facts.namespace

    @property
    def name(self) -> str:
        return self.facts.name

    @property
    def conventions(self) -> cv.Conventions:
        return self.facts.conventions

    @property
    def key(self) -> str:
        """The group-unique-key label's value on every pod of the group."""
        return cv.group_unique_key(self.namespace, self.name)


def group_pods(bundle: Bundle, features: Features) -> list[GroupPods]:
    """Groups sorted by (namespace, name); DiagnosticError (RBG351) for unreadable fields."""
    by_identity = {m.identity(): m for m in bundle.manifests}
    groups: list[GroupPods] = []
    problems: list[Diagnostic] = []
    for facts in sorted(bundle.groups, key=lambda g: (g.namespace, g.name)):
        found = GroupPods(facts=facts)
        for workload in facts.workloads():
            m = by_identity.get(workload.identity())
            if m is not None:
                _read_workload(found, m, workload, features, problems)
        found.warnings = list(dict.fromkeys(found.warnings))
        groups.append(found)
    if problems:
        raise DiagnosticError(problems)
    return groups


def _read_workload(
    group: GroupPods,
    m: Manifest,
    workload: WorkloadFacts,
    features: Features,
    problems: list[Diagnostic],
) -> None:
    shape = controllers.shape_of(m.body)
    key = find(m.body, ("metadata", "annotations", cv.LWS_EXCLUSIVE_TOPOLOGY_ANNOTATION))
    if shape is not None and shape.size is not None and isinstance(key, str) and key:
        group.exclusive_instances[m.name] = key  # the LeaderWorkerSet controller enforces it
    for template_path, pod_name, labels, instance in _pods(m, workload):
        try:
            pod, notes = read_pod(m, template_path, group.namespace, pod_name, labels, features)
        except Unreadable as exc:
            problems.append(
                error(
                    "RBG351",
                    f"{m.kind} {m.name}: {exc.said()}",
                    m.span_of((*template_path, *exc.path)),
                    help="fix the pod template: `rbgc fit` reads it as the scheduler would",
                )
            )
            return
        group.pods.append(_with_instance(pod, instance))
        for code, note in dict.fromkeys(notes):
            group.warnings.append(
                warning(code, f"{m.kind} {m.name}: {note}", m.span_of(template_path))
            )
    if shape is not None and not shape.ordered:  # a Deployment: its rollout surges
        group.deployments.append(Template(manifest=m, path=shape.templates[0], workload=workload))


def _with_instance(pod: PodDemand, instance: str | None) -> PodDemand:
    return pod if instance is None else replace(pod, instance=instance)


PodPlan = tuple[JsonPath, str, dict[str, str], str | None]  # template, name, labels, instance


def _pods(m: Manifest, workload: WorkloadFacts) -> Iterator[PodPlan]:
    """(template path, pod name, labels the controller adds, instance) of every pod."""
    shape = controllers.shape_of(m.body)
    if shape is None:
        return iter(())
    if shape.size is not None:  # groups of pods: a LeaderWorkerSet
        return _groups(m, workload, shape.templates)
    if not shape.ordered:  # a Deployment: numbered here, labelled with its template's hash
        labels = {cv.POD_TEMPLATE_HASH_LABEL: workload.template_hash}
        path = shape.templates[0]
        return ((path, f"{m.name}-{i}", labels, None) for i in range(workload.replicas))
    return _ordinals(m, workload, shape.templates[0])


def _groups(
    m: Manifest, workload: WorkloadFacts, templates: tuple[JsonPath, ...]
) -> Iterator[PodPlan]:
    """A leader (from the first template, else the last) and `size - 1` workers per group."""
    first, last = templates[0], templates[-1]
    leader = first if isinstance(find(m.body, first), Mapping) else last
    for index in range(workload.replicas):
        instance = f"{m.name}/{index}"
        extra = {cv.LWS_NAME_LABEL: m.name, cv.LWS_GROUP_INDEX_LABEL: str(index)}
        yield leader, f"{m.name}-{index}", {**extra, cv.LWS_WORKER_INDEX_LABEL: "0"}, instance
        for worker in range(1, workload.pods_per_replica):
            labels = {**extra, cv.LWS_WORKER_INDEX_LABEL: str(worker)}
            yield last, f"{m.name}-{index}-{worker}", labels, instance


def _ordinals(m: Manifest, workload: WorkloadFacts, template: JsonPath) -> Iterator[PodPlan]:
    """A StatefulSet's pods from `ordinals.start`; under `--lws statefulsets` each belongs to
    the LWS group its leader StatefulSet's ordinal, or its worker StatefulSet, names; a
    custom-components StatefulSet's pods to the role instance its label names."""
    start = find(m.body, ("spec", "ordinals", "start"))
    start = start if isinstance(start, int) and not isinstance(start, bool) and start > 0 else 0
    labels = find(m.body, (*template, "metadata", "labels"))
    labels = labels if isinstance(labels, Mapping) else {}
    lws = labels.get(cv.LWS_NAME_LABEL)
    leads = labels.get(cv.LWS_MEMBER) == "leader"
    component_of = labels.get(cv.INSTANCE_INDEX_LABEL)  # one StatefulSet per instance and component
    for ordinal in range(start, start + workload.replicas):
        instance = None
        if lws is not None:
            instance = f"{lws}/{ordinal if leads else labels.get(cv.LWS_GROUP_INDEX_LABEL)}"
        elif component_of is not None:
            instance = f"{workload.role}/{component_of}"
        yield template, f"{m.name}-{ordinal}", {}, instance


def read_pod(
    m: Manifest,
    template_path: JsonPath,
    namespace: str,
    pod_name: str,
    extra: Mapping[str, str],
    features: Features,
) -> tuple[PodDemand, list[tuple[str, str]]]:
    """One pod of the template at `template_path`, and (code, note) warnings about it."""
    template = find(m.body, template_path)
    template = template if isinstance(template, Mapping) else {}
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
    notes: list[tuple[str, str]] = []
    found: dict[str, tuple[Any, ...]] = {}
    label_keys = features.has(controllers.MATCH_LABEL_KEYS_IN_POD_AFFINITY)
    for kind in AFFINITY_KINDS:
        section = mapping(affinity.get(kind), ("spec", "affinity", kind))
        where = ("spec", "affinity", kind, "requiredDuringSchedulingIgnoredDuringExecution")
        raw = section.get("requiredDuringSchedulingIgnoredDuringExecution")
        found[kind], more = pod_terms(raw, where, namespace, label_keys=label_keys)
        notes += [("RBG352", note) for note in more]
        if not label_keys and _names_label_keys(raw):
            since = controllers.MATCH_LABEL_KEYS_IN_POD_AFFINITY
            notes.append(("RBG356", features.ignored(f"matchLabelKeys in {kind}", since)))
    node_name = spec.get("nodeName")
    terms = Terms(
        affinity=found["podAffinity"],
        anti_affinity=found["podAntiAffinity"],
        spread=_spreads(spec, features, notes),
    )
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
        terms=terms,
        span=m.span_of(("spec",)),
    )
    return pod, notes


def _names_label_keys(raw: Any) -> bool:
    return isinstance(raw, list) and any(
        isinstance(t, dict) and (t.get("matchLabelKeys") or t.get("mismatchLabelKeys")) for t in raw
    )


def _spreads(
    spec: Mapping[str, Any], features: Features, notes: list[tuple[str, str]]
) -> tuple[SpreadTerm, ...]:
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
        if min_domains is not None and (
            not isinstance(min_domains, int) or isinstance(min_domains, bool) or min_domains < 1
        ):
            raise Unreadable((*where, "minDomains"), "minDomains must be an integer of at least 1")
        if min_domains is not None and not features.has(
            controllers.MIN_DOMAINS_IN_POD_TOPOLOGY_SPREAD
        ):
            since = controllers.MIN_DOMAINS_IN_POD_TOPOLOGY_SPREAD
            notes.append(("RBG356", features.ignored("minDomains", since)))
            min_domains = None
        policies = {
            name: _policy(body, where, name, default, features, notes)
            for name, default in (("nodeAffinityPolicy", HONOR), ("nodeTaintsPolicy", IGNORE))
        }
        keys = tuple(
            text(k, (*where, "matchLabelKeys", j))
            for j, k in enumerate(items(body.get("matchLabelKeys"), (*where, "matchLabelKeys")))
        )
        if keys and not features.has(controllers.MATCH_LABEL_KEYS_IN_POD_TOPOLOGY_SPREAD):
            since = controllers.MATCH_LABEL_KEYS_IN_POD_TOPOLOGY_SPREAD
            notes.append(("RBG356", features.ignored("matchLabelKeys in a spread", since)))
            keys = ()
        out.append(
            SpreadTerm(
                level=text(body.get("topologyKey"), (*where, "topologyKey")),
                max_skew=skew,
                selector=label_selector(body.get("labelSelector"), (*where, "labelSelector")),
                min_domains=min_domains,
                match_label_keys=keys,
                node_affinity_policy=policies["nodeAffinityPolicy"],
                node_taints_policy=policies["nodeTaintsPolicy"],
            )
        )
    return tuple(out)


def _policy(
    body: Mapping[str, Any],
    where: JsonPath,
    name: str,
    default: str,
    features: Features,
    notes: list[tuple[str, str]],
) -> str:
    raw = body.get(name)
    if raw is None:
        return default
    value = text(raw, (*where, name))
    if value not in (HONOR, IGNORE):
        raise Unreadable((*where, name), f"{value!r} is not Honor or Ignore")
    if not features.has(controllers.NODE_INCLUSION_POLICY_IN_POD_TOPOLOGY_SPREAD):
        since = controllers.NODE_INCLUSION_POLICY_IN_POD_TOPOLOGY_SPREAD
        notes.append(("RBG356", features.ignored(name, since)))
        return default
    return value
