"""Reading `kubectl get nodes/pods -o yaml`: the shapes kubectl prints, and located errors."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from rbgc.diagnostics import DiagnosticError
from rbgc.fit.inventory import build, read
from rbgc.report import text
from rbgc.source import parse_text
from tests.fit.helpers import GPU, as_list, inventory, node, running

NODES = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Node
  metadata:
    name: n2
    labels: {kubernetes.io/hostname: n2}
  spec:
    taints:
    - {key: nvidia.com/gpu, value: present, effect: NoSchedule}
  status:
    allocatable: {cpu: 7910m, memory: 31Gi, pods: "110", nvidia.com/gpu: "8"}
- apiVersion: v1
  kind: Node
  metadata: {name: n1}
  spec: {unschedulable: true}
  status:
    capacity: {cpu: "4", memory: 16Gi}
"""


def read_text(nodes: str, pods: str = "") -> object:
    docs = parse_text(textwrap.dedent(nodes), "nodes.yaml")
    pod_docs = parse_text(textwrap.dedent(pods), "pods.yaml") if pods else []
    return build(docs, pod_docs, "nodes.yaml")


def errors(nodes: str, pods: str = "") -> str:
    with pytest.raises(DiagnosticError) as caught:
        read_text(nodes, pods)
    return text(caught.value.diagnostics)


def test_a_list_of_nodes() -> None:
    inv = build(parse_text(NODES, "nodes.yaml"), [], "nodes.yaml")
    n1, n2 = inv.nodes  # sorted by name
    assert (n1.name, n1.unschedulable, dict(n1.allocatable)) == (
        "n1",
        True,
        {"cpu": 4000, "memory": 16 * 2**30},  # capacity when allocatable is absent
    )
    assert n2.allocatable == {"cpu": 7910, GPU: 8, "memory": 31 * 2**30, "pods": 110}
    assert [(t.key, t.value, t.effect) for t in n2.taints] == [
        ("nvidia.com/gpu", "present", "NoSchedule")
    ]
    assert n2.labels == {"kubernetes.io/hostname": "n2"}


def test_a_stream_of_nodes_and_a_node_list_read_the_same() -> None:
    items = [node("a", gpu=8), node("b")]
    stream = "---\n".join(json.dumps(i) + "\n" for i in items)
    as_stream = build(parse_text(stream, "n.yaml"), [], "n.yaml")
    listed = json.dumps({"apiVersion": "v1", "kind": "NodeList", "items": items})
    assert as_stream == build(parse_text(listed, "n.yaml"), [], "n.yaml")


def test_running_pods_hold_what_they_request_on_their_node() -> None:
    pods = [
        running("a", "n1", gpu=3, cpu="500m"),
        running("b", "n1", gpu=1),
        running("done", "n1", gpu=4, phase="Failed"),
        running("elsewhere", "not-in-inventory", gpu=4),
    ]
    pending = running("pending", "n1", gpu=4)
    del pending["spec"]["nodeName"]
    inv = inventory([node("n1", gpu=8)], [*pods, pending])
    assert [p.name for p in inv.running] == ["a", "b"]
    assert inv.free(inv.nodes[0]) == {
        "cpu": 31500,
        "memory": 256 * 2**30,
        GPU: 4,
        "pods": 108,
    }


def test_a_bad_quantity_is_an_error_at_its_line() -> None:
    bad = NODES.replace('nvidia.com/gpu: "8"', "nvidia.com/gpu: eight")
    assert errors(bad) == (
        "nodes.yaml:13:74: error[RBG350]: Node n2: status.allocatable.nvidia.com/gpu: "
        "'eight' is not a Kubernetes quantity (a number with an optional suffix such as m, "
        "k, M, G, Ki, Mi, Gi or e3)\n"
        "  help: the file should be `kubectl get nodes -o yaml` output\n"
    )


def test_other_kinds_duplicates_and_empty_nodes_are_errors() -> None:
    found = errors(
        """\
        apiVersion: v1
        kind: List
        items:
        - {apiVersion: v1, kind: Node, metadata: {name: a}, status: {allocatable: {cpu: "1"}}}
        - {apiVersion: v1, kind: Node, metadata: {name: a}, status: {allocatable: {cpu: "1"}}}
        - {apiVersion: v1, kind: Pod, metadata: {name: p}}
        - {apiVersion: v1, kind: Node, metadata: {name: b}}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: c}
        """
    )
    assert found == (
        "nodes.yaml:5:49: error[RBG350]: node a is listed twice\n"
        "  help: give each node once (one `kubectl get nodes -o yaml`)\n"
        "nodes.yaml:6:3: error[RBG350]: List item 3 is a Pod, not a Node\n"
        "  help: the file should hold only Node objects\n"
        "nodes.yaml:7:3: error[RBG350]: Node b: status: has no status.allocatable (nor "
        "status.capacity): nothing could run on it\n"
        "  help: the file should be `kubectl get nodes -o yaml` output\n"
        "nodes.yaml:10:7: error[RBG350]: expected a Node or a List of Nodes, found ConfigMap\n"
        "  help: the file should be `kubectl get nodes -o yaml` output\n"
    )


def test_an_inventory_without_nodes() -> None:
    assert errors("apiVersion: v1\nkind: List\nitems: []\n") == (
        "nodes.yaml: error[RBG350]: the inventory holds no Node\n"
        "  help: pass the output of `kubectl get nodes -o yaml`\n"
    )


def test_a_bad_pod_is_an_error_in_the_pods_file() -> None:
    pods = as_list([running("a", "n1", cpu="lots")])
    with pytest.raises(DiagnosticError) as caught:
        build(parse_text(as_list([node("n1")]), "n.yaml"), parse_text(pods, "p.yaml"), "n.yaml")
    (d,) = caught.value.diagnostics
    assert (d.code, d.span and d.span.path) == ("RBG350", "p.yaml")
    assert d.message.startswith("Pod a: spec.containers[0].resources.limits.cpu: 'lots'")


def test_json_is_read_fast_and_still_located_on_error(tmp_path: Path) -> None:
    nodes = [node("n1", gpu=8), node("n2")]
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": nodes}, indent=4))
    assert [n.name for n in read(str(good)).nodes] == ["n1", "n2"]
    nodes[1]["status"]["allocatable"]["cpu"] = "fast"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": nodes}, indent=4))
    with pytest.raises(DiagnosticError) as caught:
        read(str(bad))
    (d,) = caught.value.diagnostics
    assert (d.code, str(d.span)) == ("RBG350", f"{bad}:42:28")
    duplicate = tmp_path / "dup.json"
    duplicate.write_text('{"apiVersion": "v1", "kind": "List", "kind": "List", "items": []}')
    with pytest.raises(DiagnosticError) as caught:
        read(str(duplicate))
    # the reader's words and place, under the inventory's code (README: "an unreadable
    # inventory is RBG350")
    (d,) = caught.value.diagnostics
    assert (d.code, d.message, str(d.span)) == (
        "RBG350",
        "duplicate key 'kind'",
        f"{duplicate}:1:38",
    )


def test_an_inventory_larger_than_the_manifest_cap_is_read(tmp_path: Path) -> None:
    big = node("n1")
    big["metadata"]["annotations"] = {"padding": "x" * (9 * 1024 * 1024)}
    path = tmp_path / "nodes.json"
    path.write_text(json.dumps(big))
    assert read(str(path)).nodes[0].name == "n1"
