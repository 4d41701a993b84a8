"""Kubernetes' matching rules: label selectors, node selector terms, taints and tolerations.

Each structure is read once from its dict into a small frozen value (`Unreadable` carries the
JSON path of a field that cannot be read, so the caller can point at the user's line) and then
matched many times by the solver.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rbgc.source import JsonPath, path_text

LABEL_OPERATORS = frozenset({"In", "NotIn", "Exists", "DoesNotExist"})
NODE_OPERATORS = LABEL_OPERATORS | {"Gt", "Lt"}
BLOCKING_EFFECTS = frozenset({"NoSchedule", "NoExecute"})  # PreferNoSchedule only scores
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"


class Unreadable(Exception):
    """A field that cannot be read: where (relative JSON path) and why."""

    def __init__(self, path: JsonPath, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message

    def said(self) -> str:
        """The message after the field it is about, as kubectl names a field."""
        return f"{path_text(self.path)}: {self.message}" if self.path else self.message


@dataclass(frozen=True, slots=True)
class Requirement:
    """One `matchExpressions` / `matchFields` entry."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op, present = self.operator, self.key in labels
        if op == "Exists":
            return present
        if op == "DoesNotExist":
            return not present
        if op == "In":
            return present and labels[self.key] in self.values
        if op == "NotIn":
            return not present or labels[self.key] not in self.values
        if not present:  # Gt / Lt need an integer label
            return False
        try:
            have, bound = int(labels[self.key]), int(self.values[0])
        except ValueError:
            return False
        return have > bound if op == "Gt" else have < bound


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """`metav1.LabelSelector`: matchLabels and matchExpressions, all must hold."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False  # a null selector matches no object

    def matches(self, labels: Mapping[str, str]) -> bool:
        return not self.nothing and all(r.matches(labels) for r in self.requirements)


@dataclass(frozen=True, slots=True)
class NodeSelectorTerm:
    """One `nodeSelectorTerms` entry: expressions on labels and fields, all must hold."""

    expressions: tuple[Requirement, ...] = ()
    fields: tuple[Requirement, ...] = ()

    def matches(self, node_name: str, labels: Mapping[str, str]) -> bool:
        if not self.expressions and not self.fields:
            return False  # an empty term matches no node (Kubernetes' rule)
        return all(r.matches(labels) for r in self.expressions) and all(
            r.matches({"metadata.name": node_name}) for r in self.fields
        )


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str
    effect: str


@dataclass(frozen=True, slots=True)
class Toleration:
    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""

    def tolerates(self, taint: Taint) -> bool:
        if self.effect and self.effect != taint.effect:
            return False
        if self.operator == "Exists":
            return not self.key or self.key == taint.key
        return self.key == taint.key and self.value == taint.value


def tolerated(taints: Sequence[Taint], tolerations: Sequence[Toleration]) -> Taint | None:
    """The first blocking taint no toleration tolerates, or None when the pod may land."""
    for taint in taints:
        if taint.effect in BLOCKING_EFFECTS and not any(t.tolerates(taint) for t in tolerations):
            return taint
    return None


# -- reading -----------------------------------------------------------------------------------


def mapping(raw: Any, path: JsonPath) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise Unreadable(path, "expected a mapping")
    return raw


def items(raw: Any, path: JsonPath) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise Unreadable(path, "expected a list")
    return raw


def text(raw: Any, path: JsonPath, *, default: str | None = None) -> str:
    if raw is None and default is not None:
        return default
    if not isinstance(raw, str):
        raise Unreadable(path, "expected a string")
    return raw


def string_map(raw: Any, path: JsonPath) -> dict[str, str]:
    out = {}
    for key, value in mapping(raw, path).items():
        out[key] = text(value, (*path, key))
    return out


def requirement(raw: Any, path: JsonPath, operators: frozenset[str]) -> Requirement:
    entry = mapping(raw, path)
    key = text(entry.get("key"), (*path, "key"))
    op = text(entry.get("operator"), (*path, "operator"))
    if op not in operators:
        raise Unreadable(
            (*path, "operator"), f"operator {op!r} is not one of {', '.join(sorted(operators))}"
        )
    values = tuple(
        text(v, (*path, "values", i)) for i, v in enumerate(items(entry.get("values"), path))
    )
    if op in ("In", "NotIn") and not values:
        raise Unreadable((*path, "values"), f"operator {op} needs at least one value")
    if op in ("Exists", "DoesNotExist") and values:
        raise Unreadable((*path, "values"), f"operator {op} takes no values")
    if op in ("Gt", "Lt"):
        if len(values) != 1 or not values[0].lstrip("-").isdigit():
            raise Unreadable((*path, "values"), f"operator {op} needs exactly one integer value")
    return Requirement(key, op, values)


def label_selector(raw: Any, path: JsonPath) -> LabelSelector:
    if raw is None:
        return LabelSelector(nothing=True)
    body = mapping(raw, path)
    reqs = [
        Requirement(k, "In", (v,))
        for k, v in sorted(string_map(body.get("matchLabels"), (*path, "matchLabels")).items())
    ]
    for i, entry in enumerate(items(body.get("matchExpressions"), (*path, "matchExpressions"))):
        reqs.append(requirement(entry, (*path, "matchExpressions", i), LABEL_OPERATORS))
    return LabelSelector(tuple(reqs))


def node_selector_terms(raw: Any, path: JsonPath) -> tuple[NodeSelectorTerm, ...]:
    terms = []
    body = mapping(raw, path)
    for i, term in enumerate(items(body.get("nodeSelectorTerms"), (*path, "nodeSelectorTerms"))):
        where = (*path, "nodeSelectorTerms", i)
        entry = mapping(term, where)
        exprs = tuple(
            requirement(e, (*where, "matchExpressions", j), NODE_OPERATORS)
            for j, e in enumerate(items(entry.get("matchExpressions"), where))
        )
        fields = []
        for j, e in enumerate(items(entry.get("matchFields"), where)):
            req = requirement(e, (*where, "matchFields", j), NODE_OPERATORS)
            if req.key != "metadata.name":
                raise Unreadable(
                    (*where, "matchFields", j, "key"), "matchFields supports only metadata.name"
                )
            fields.append(req)
        terms.append(NodeSelectorTerm(exprs, tuple(fields)))
    return tuple(terms)


def tolerations(raw: Any, path: JsonPath) -> tuple[Toleration, ...]:
    out = []
    for i, entry in enumerate(items(raw, path)):
        where = (*path, i)
        body = mapping(entry, where)
        op = text(body.get("operator"), (*where, "operator"), default="Equal")
        if op not in ("Equal", "Exists"):
            raise Unreadable((*where, "operator"), f"operator {op!r} is not Equal or Exists")
        out.append(
            Toleration(
                key=text(body.get("key"), (*where, "key"), default=""),
                operator=op,
                value=text(body.get("value"), (*where, "value"), default=""),
                effect=text(body.get("effect"), (*where, "effect"), default=""),
            )
        )
    return tuple(out)


def taints(raw: Any, path: JsonPath) -> tuple[Taint, ...]:
    out = []
    for i, entry in enumerate(items(raw, path)):
        where = (*path, i)
        body = mapping(entry, where)
        out.append(
            Taint(
                key=text(body.get("key"), (*where, "key")),
                value=text(body.get("value"), (*where, "value"), default=""),
                effect=text(body.get("effect"), (*where, "effect")),
            )
        )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class PodTerm:
    """A required pod (anti-)affinity term: which pods, in which namespaces, at which level.

    `match_label_keys` / `mismatch_label_keys` are as written in the pod template: the API
    server merges them into the selector when it creates each pod, as `key In (value)` /
    `key NotIn (value)` with the value from the new pod's own labels, keys the pod lacks
    ignored (`applyMatchLabelKeysAndMismatchLabelKeys`, pkg/registry/core/pod/strategy.go);
    `merged` does that for one pod."""

    selector: LabelSelector
    namespaces: frozenset[str] | None  # None: every namespace (`namespaceSelector: {}`)
    topology_key: str
    match_label_keys: tuple[str, ...] = ()
    mismatch_label_keys: tuple[str, ...] = ()

    def selects(self, namespace: str, labels: Mapping[str, str]) -> bool:
        in_scope = self.namespaces is None or namespace in self.namespaces
        return in_scope and self.selector.matches(labels)

    def merged(self, labels: Mapping[str, str]) -> PodTerm:
        """The term as the API server stores it in a pod with `labels`."""
        if not self.match_label_keys and not self.mismatch_label_keys:
            return self
        added = [Requirement(k, "In", (labels[k],)) for k in self.match_label_keys if k in labels]
        added += [
            Requirement(k, "NotIn", (labels[k],)) for k in self.mismatch_label_keys if k in labels
        ]
        selector = self.selector
        if not selector.nothing:  # a null selector matches nothing, merged or not
            selector = LabelSelector((*selector.requirements, *added))
        return PodTerm(selector, self.namespaces, self.topology_key)


def describe(selector: LabelSelector) -> str:
    """A selector as kubectl's `-l` would take it: `app=db,tier in (a, b),!legacy`."""
    if selector.nothing:
        return "(no pod)"
    parts = []
    for r in selector.requirements:
        if r.operator == "In" and len(r.values) == 1:
            parts.append(f"{r.key}={r.values[0]}")
        elif r.operator == "NotIn" and len(r.values) == 1:
            parts.append(f"{r.key}!={r.values[0]}")
        elif r.operator in ("In", "NotIn"):
            parts.append(f"{r.key} {r.operator.lower()} ({', '.join(r.values)})")
        elif r.operator == "Exists":
            parts.append(r.key)
        else:
            parts.append(f"!{r.key}")
    return ",".join(parts) or "(every pod)"


def pod_terms(
    raw: Any, path: JsonPath, namespace: str, *, label_keys: bool = True
) -> tuple[tuple[PodTerm, ...], list[str]]:
    """Required pod (anti-)affinity terms, and notes on what could not be evaluated exactly.

    `label_keys` False: `matchLabelKeys` / `mismatchLabelKeys` are dropped, as an API server
    without the MatchLabelKeysInPodAffinity feature drops them."""
    terms, notes = [], []
    for i, entry in enumerate(items(raw, path)):
        where = (*path, i)
        body = mapping(entry, where)
        names = frozenset(
            text(n, (*where, "namespaces", j))
            for j, n in enumerate(items(body.get("namespaces"), (*where, "namespaces")))
        )
        scope: frozenset[str] | None = names or frozenset({namespace})
        ns_selector = body.get("namespaceSelector")
        if ns_selector is not None:
            if mapping(ns_selector, (*where, "namespaceSelector")):
                notes.append(
                    "a namespaceSelector is not evaluated (namespace labels are not in the "
                    "inventory): the term is read as selecting pods of the pod's own namespace"
                )
            else:
                scope = None
        key = text(body.get("topologyKey"), (*where, "topologyKey"))
        if not key:
            raise Unreadable((*where, "topologyKey"), "topologyKey must not be empty")
        selector = label_selector(body.get("labelSelector"), (*where, "labelSelector"))
        keys = {
            field: tuple(
                text(k, (*where, field, j))
                for j, k in enumerate(items(body.get(field), (*where, field)))
            )
            for field in ("matchLabelKeys", "mismatchLabelKeys")
        }
        if not label_keys:
            keys = {field: () for field in keys}
        terms.append(
            PodTerm(selector, scope, key, keys["matchLabelKeys"], keys["mismatchLabelKeys"])
        )
    return tuple(terms), notes
