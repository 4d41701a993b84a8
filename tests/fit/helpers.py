"""Builders for synthetic inventories and groups, so each test states only what it is about."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from typing import Any

from rbgc.fit import fit
from rbgc.fit.cluster import Answer, Cluster
from rbgc.fit.constraints import Own, problem
from rbgc.fit.demand import Features, GroupPods, group_pods
from rbgc.fit.inventory import Inventory, build
from rbgc.fit.model import Problem, Rule
from rbgc.fit.search import solve
from rbgc.k8s.controllers import DEFAULT_KUBERNETES_VERSION
from rbgc.source import Document, SpanIndex
from tests.conftest import compile_yaml

GPU = "nvidia.com/gpu"
ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"
CLIQUE = "nvidia.com/gpu.clique"


def node(
    name: str,
    *,
    gpu: int = 0,
    cpu: str = "32",
    memory: str = "256Gi",
    pods: str = "110",
    zone: str | None = None,
    clique: str | None = None,
    labels: dict[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
    unschedulable: bool = False,
) -> dict[str, Any]:
    all_labels = {HOST: name, **({ZONE: zone} if zone else {}), **(labels or {})}
    if clique:
        all_labels[CLIQUE] = clique
    allocatable = {"cpu": cpu, "memory": memory, "pods": pods}
    if gpu:
        allocatable[GPU] = str(gpu)
    spec: dict[str, Any] = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": all_labels},
        "spec": spec,
        "status": {"allocatable": allocatable, "capacity": allocatable},
    }


def running(
    name: str,
    on: str,
    *,
    gpu: int = 0,
    cpu: str | None = None,
    namespace: str = "default",
    labels: dict[str, str] | None = None,
    phase: str = "Running",
) -> dict[str, Any]:
    limits: dict[str, Any] = {}
    if gpu:
        limits[GPU] = gpu
    if cpu:
        limits["cpu"] = cpu
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {
            "nodeName": on,
            "containers": [{"name": "c", "image": "x", "resources": {"limits": limits}}],
        },
        "status": {"phase": phase},
    }


def as_list(items: list[dict[str, Any]]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def inventory(nodes: list[dict[str, Any]], pods: Sequence[dict[str, Any]] = ()) -> Inventory:
    """The inventory of these objects, as `rbgc fit` reads a JSON file (no positions)."""

    def listed(path: str, items: list[dict[str, Any]]) -> Document:
        body = json.loads(as_list(items))  # a copy, as a file would give
        return Document(path, 0, body, SpanIndex(path))

    pod_docs = [listed("pods.json", list(pods))] if pods else []
    return build([listed("nodes.json", nodes)], pod_docs, "nodes.json")


def group(roles: str, *, name: str = "g", namespace: str = "default", annotations: str = "") -> str:
    """A RoleBasedGroup around `roles` (YAML list items, indented as written)."""
    meta = (
        f"\n  annotations:\n{textwrap.indent(textwrap.dedent(annotations), '    ')}"
        if annotations
        else ""
    )
    return (
        "apiVersion: workloads.x-k8s.io/v1alpha1\nkind: RoleBasedGroup\n"
        f"metadata:\n  name: {name}\n  namespace: {namespace}{meta}\n"
        f"spec:\n  roles:\n{textwrap.indent(textwrap.dedent(roles), '    ')}"
    )


def placement(rules: str) -> str:
    """A Placement document joining group `g` (`rules`: YAML list items, as written)."""
    body = "\n".join("    " + line for line in textwrap.dedent(rules).strip().splitlines())
    return (
        "\n---\napiVersion: rbgc.io/v1alpha1\nkind: Placement\n"
        f"metadata: {{name: g, namespace: default}}\nspec:\n  rules:\n{body}\n"
    )


def role(
    name: str, replicas: int = 1, *, gpu: int = 0, cpu: str | None = None, spec: str = ""
) -> str:
    """One role item: a StatefulSet whose single container asks for `gpu` / `cpu`."""
    limits = []
    if gpu:
        limits.append(f"{GPU}: {gpu}")
    if cpu:
        limits.append(f"cpu: {cpu}")
    resources = (
        f"\n          resources:\n            limits: {{{', '.join(limits)}}}" if limits else ""
    )
    extra = textwrap.indent(textwrap.dedent(spec), " " * 6) if spec else ""
    return (
        f"- name: {name}\n  replicas: {replicas}\n  template:\n    spec:\n"
        f"      containers:\n        - name: main\n          image: x{resources}\n{extra}"
    )


def answer(text: str, inv: Inventory) -> list[Answer]:
    result = compile_yaml(text)
    answers, _ = fit(result.bundle, inv)
    return answers


def one(text: str, inv: Inventory) -> Answer:
    (only,) = answer(text, inv)
    return only


def pods_read(text: str) -> GroupPods:
    """The one group's pods of a compiled text."""
    result = compile_yaml(text)
    (found,) = group_pods(result.bundle, Features(DEFAULT_KUBERNETES_VERSION))
    return found


def posed(text: str, *extra: Rule) -> Problem:
    """The compiled group's problem with `extra` rules (what a Placement adds)."""
    found = pods_read(text)
    own = Own(found.conventions.label_group_key, found.key)
    return problem(found.namespace, found.name, found.pods, extra, own)


def solved(p: Problem, inv: Inventory) -> Answer:
    return solve(p, Cluster.of(inv))


def pods_of(p: Problem, *roles: str) -> tuple[str, ...]:
    return tuple(pod.name for pod in p.pods if not roles or pod.role in roles)
