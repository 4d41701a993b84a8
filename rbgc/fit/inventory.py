"""The cluster as `kubectl get nodes -o yaml` (and `kubectl get pods -A -o yaml`) shows it.

Nodes: name, labels, taints, `spec.unschedulable` and `status.allocatable` (else
`status.capacity`) in scheduler units. Running pods: bound (`spec.nodeName`), not finished
(`Succeeded` / `Failed` pods hold nothing); their effective requests are taken off their
node's free capacity, and their labels and required anti-affinity stay known so that new pods
respect them. Pods bound to nodes outside the inventory are ignored (an inventory may be a
filtered `kubectl get nodes -l ...`). Accepted shapes: a `v1 List` (or `NodeList` /
`PodList`) of the objects, or a stream of the objects themselves.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from rbgc.diagnostics import Diagnostic, DiagnosticError, Span, error
from rbgc.fit.matching import (
    PodTerm,
    Taint,
    Unreadable,
    mapping,
    pod_terms,
    string_map,
    taints,
    text,
)
from rbgc.fit.resources import Resources, pod_requests
from rbgc.k8s import quantity
from rbgc.source import (
    STDIN,
    Document,
    JsonPath,
    SpanIndex,
    decode,
    parse_text,
    read_bytes,
    read_text,
)

# Inventories of large clusters are big (`kubectl get nodes -o json` keeps images and managed
# fields); the manifests' 8 MiB cap would refuse them.
MAX_INVENTORY_BYTES = 512 * 1024 * 1024
# One `kubectl get nodes -o yaml` List is one document: a few hundred values per node.
MAX_INVENTORY_VALUES = 2_000_000

LIST_KINDS = {"Node": ("List", "NodeList"), "Pod": ("List", "PodList")}


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    labels: Mapping[str, str]
    taints: tuple[Taint, ...]
    unschedulable: bool
    allocatable: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class RunningPod:
    """A pod already bound to a node of the inventory."""

    name: str
    namespace: str
    node: str
    labels: Mapping[str, str]
    requests: Mapping[str, int]
    anti_affinity: tuple[PodTerm, ...] = ()


@dataclass(frozen=True, slots=True)
class Inventory:
    nodes: tuple[Node, ...]  # sorted by name: the input order never changes an answer
    running: tuple[RunningPod, ...] = ()
    used: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # node -> requests

    def free(self, node: Node) -> Resources:
        used = self.used.get(node.name, {})
        names = set(node.allocatable) | set(used)
        return {n: node.allocatable.get(n, 0) - used.get(n, 0) for n in sorted(names)}


def read(nodes_path: str, pods_path: str | None = None) -> Inventory:
    """Read both files; DiagnosticError (RBG350, at the line) for anything unreadable: a file
    that cannot be opened or parsed as much as a Node that cannot be read.

    JSON (`kubectl get ... -o json`) is first read by the json module, several times faster
    than the YAML reader that records every value's line; a file with any problem is read
    again that way, so each diagnostic still points at its line.
    """
    try:
        return _read(nodes_path, pods_path)
    except DiagnosticError as exc:
        raise DiagnosticError([_as_inventory(d) for d in exc.diagnostics]) from None


def _as_inventory(d: Diagnostic) -> Diagnostic:
    """A reading error of an inventory file is RBG350, with the reader's words and place."""
    if d.code == "RBG350" and d.help:
        return d
    return replace(
        d,
        code="RBG350",
        help=d.help or "pass what `kubectl get nodes -o json` (or `get pods -A -o json`) prints",
    )


def _read(nodes_path: str, pods_path: str | None) -> Inventory:
    quick_nodes = _quick(nodes_path)
    quick_pods = _quick(pods_path) if pods_path is not None else []
    if quick_nodes is not None and quick_pods is not None:
        try:
            return build(quick_nodes, quick_pods, nodes_path)
        except DiagnosticError:
            pass  # read again with positions
    pods = _located(pods_path) if pods_path is not None else []
    return build(_located(nodes_path), pods, nodes_path)


def _read_bytes(path: str) -> bytes:
    return read_bytes(
        path,
        limit=MAX_INVENTORY_BYTES,
        too_large="select fewer nodes (`kubectl get nodes -l ...`)",
    )


def _located(path: str) -> list[Document]:
    text = read_text(path) if path == STDIN else decode(_read_bytes(path), path)
    return parse_text(text, path, max_values=MAX_INVENTORY_VALUES)


def _quick(path: str) -> list[Document] | None:
    """The documents of a plain JSON file without positions (None: not one, or suspicious)."""
    if path == STDIN:
        return None
    text = decode(_read_bytes(path), path)
    if not text.lstrip().startswith("{"):
        return None

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        found = dict(pairs)
        if len(found) != len(pairs):
            raise ValueError("duplicate key")  # the located reader reports it (RBG002)
        return found

    def refuse(constant: str) -> Any:
        raise ValueError(constant)  # NaN / Infinity: not JSON, the located reader decides

    try:
        body = json.loads(text, object_pairs_hook=unique, parse_constant=refuse)
    except ValueError:
        return None
    if not isinstance(body, dict) or not body.get("kind"):
        return None
    return [Document(path, 0, body, SpanIndex(path))]


def build(nodes_docs: list[Document], pods_docs: list[Document], nodes_path: str) -> Inventory:
    """The inventory of already loaded documents (`nodes_path` names an empty inventory)."""
    problems: list[Diagnostic] = []
    seen: dict[str, Node] = {}
    for node, doc, where in _collect(nodes_docs, "Node", _node, problems):
        if node.name in seen:
            problems.append(
                error(
                    "RBG350",
                    f"node {node.name} is listed twice",
                    doc.span(*where, "metadata", "name"),
                    help="give each node once (one `kubectl get nodes -o yaml`)",
                )
            )
        seen[node.name] = node
    running = [
        pod
        for pod, _, _ in _collect(pods_docs, "Pod", _pod, problems)
        if pod is not None and pod.node in seen
    ]
    if problems:
        raise DiagnosticError(problems)
    if not seen:
        raise DiagnosticError(
            [
                error(
                    "RBG350",
                    "the inventory holds no Node",
                    Span(nodes_path),
                    help="pass the output of `kubectl get nodes -o yaml`",
                )
            ]
        )
    used: dict[str, Resources] = {}
    for pod in running:
        bucket = used.setdefault(pod.node, {})
        for name, amount in pod.requests.items():
            bucket[name] = bucket.get(name, 0) + amount
    return Inventory(
        nodes=tuple(sorted(seen.values(), key=lambda n: n.name)),
        running=tuple(sorted(running, key=lambda p: (p.namespace, p.name))),
        used=used,
    )


def _collect(
    documents: list[Document], kind: str, reader: Any, problems: list[Diagnostic]
) -> list[Any]:
    """(object, document, path in document) of every `kind` object of the documents."""
    out = []
    for doc in documents:
        for where in _objects(doc, kind, problems):
            try:
                out.append((reader(value_at(doc.body, where), where), doc, where))
            except Unreadable as exc:
                problems.append(
                    error(
                        "RBG350",
                        f"{kind} {_name(doc.body, where)}: {exc.said()}",
                        doc.span(*where, *exc.path),
                        help=f"the file should be `kubectl get {kind.lower()}s -o yaml` output",
                    )
                )
    return out


def value_at(body: Any, where: JsonPath) -> Any:
    for part in where:
        body = body[part]
    return body


def _objects(doc: Document, kind: str, problems: list[Diagnostic]) -> Iterator[JsonPath]:
    if doc.kind == kind:
        yield ()
        return
    if doc.kind in LIST_KINDS[kind]:
        listed = doc.body.get("items")
        if not isinstance(listed, list):
            if listed is None:
                return  # an empty list prints `items: []` or nothing at all
            problems.append(error("RBG350", f"{doc.kind}: items must be a list", doc.span("items")))
            return
        for i, item in enumerate(listed):
            if isinstance(item, dict) and item.get("kind", kind) == kind:
                yield ("items", i)
            else:
                got = item.get("kind") if isinstance(item, dict) else None
                problems.append(
                    error(
                        "RBG350",
                        f"{doc.kind} item {i + 1} is {'a ' + str(got) if got else 'not an object'}"
                        f", not a {kind}",
                        doc.span("items", i),
                        help=f"the file should hold only {kind} objects",
                    )
                )
        return
    problems.append(
        error(
            "RBG350",
            f"expected a {kind} or a List of {kind}s, found {doc.kind}",
            doc.span("kind"),
            help=f"the file should be `kubectl get {kind.lower()}s -o yaml` output",
        )
    )


def _name(body: Any, where: JsonPath) -> str:
    try:
        name = value_at(body, where)["metadata"]["name"]
    except (KeyError, TypeError):
        return "(unnamed)"
    return str(name) if isinstance(name, str) else "(unnamed)"


def _node(raw: Any, where: JsonPath) -> Node:
    body = mapping(raw, ())
    meta = mapping(body.get("metadata"), ("metadata",))
    name = text(meta.get("name"), ("metadata", "name"))
    spec = mapping(body.get("spec"), ("spec",))
    status = mapping(body.get("status"), ("status",))
    source = "allocatable" if "allocatable" in status else "capacity"
    raw_alloc = mapping(status.get(source), ("status", source))
    if not raw_alloc:
        raise Unreadable(
            ("status",), "has no status.allocatable (nor status.capacity): nothing could run on it"
        )
    allocatable = {}
    for resource, value in raw_alloc.items():
        try:
            allocatable[resource] = quantity.units(resource, value)
        except ValueError as exc:
            raise Unreadable(("status", source, resource), str(exc)) from None
    unschedulable = spec.get("unschedulable", False)
    if not isinstance(unschedulable, bool):
        raise Unreadable(("spec", "unschedulable"), "expected true or false")
    return Node(
        name=name,
        labels=string_map(meta.get("labels"), ("metadata", "labels")),
        taints=taints(spec.get("taints"), ("spec", "taints")),
        unschedulable=unschedulable,
        allocatable=dict(sorted(allocatable.items())),
    )


def _pod(raw: Any, where: JsonPath) -> RunningPod | None:
    body = mapping(raw, ())
    meta = mapping(body.get("metadata"), ("metadata",))
    name = text(meta.get("name"), ("metadata", "name"))
    namespace = text(meta.get("namespace"), ("metadata", "namespace"), default="default")
    spec = mapping(body.get("spec"), ("spec",))
    status = mapping(body.get("status"), ("status",))
    if status.get("phase") in ("Succeeded", "Failed"):
        return None
    node = spec.get("nodeName")
    if node is None:
        return None  # pending: it holds nothing yet
    affinity = mapping(spec.get("affinity"), ("spec", "affinity"))
    anti = mapping(affinity.get("podAntiAffinity"), ("spec", "affinity", "podAntiAffinity"))
    terms, _notes = pod_terms(
        anti.get("requiredDuringSchedulingIgnoredDuringExecution"),
        ("spec", "affinity", "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution"),
        namespace,
    )
    return RunningPod(
        name=name,
        namespace=namespace,
        node=text(node, ("spec", "nodeName")),
        labels=string_map(meta.get("labels"), ("metadata", "labels")),
        requests=pod_requests(spec, ("spec",)),
        anti_affinity=terms,
    )
