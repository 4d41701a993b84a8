"""A RoleBasedGroupWarmup of the inputs, run by `rbgc sync` on the simulator: nodes found in
the cluster, `parallelism`, retries per node, `maxFailedNodes`.

Upstream's controller (internal/controller/workloads/rolebasedgroupwarmup_controller.go):
nodes by `nodeSelector` from the cluster's Nodes and by `targetRoleBasedGroup` from the group's
scheduled pods (`getDesiredNodesToWarmup` :414-507), at most `parallelism` at once in node-name
order (`createPodsForNodes` :284-336), a node failed once its failures exceed
`backoffLimitPerNode` (:229-252), the job Failed once failed nodes exceed `maxFailedNodes`
(:700-715).
"""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from rbgc.bundle import Bundle
from rbgc.model import Target
from rbgc.pipeline import Options, compile_documents, compile_paths
from rbgc.source import parse_text
from rbgc.sync.controller import execute, prepare
from rbgc.sync.simulator import Faults, SimClock, Simulator
from rbgc.sync.warmup import WarmupFailed
from tests.conftest import ROOT

V = (1, 33)
OPTIONS = Options(target=Target(in_place=True), warmup_later=True)


def warmup(spec: str) -> Bundle:
    text = "apiVersion: workloads.x-k8s.io/v1alpha2\nkind: RoleBasedGroupWarmup\n"
    text += "metadata: {name: w, namespace: llm}\nspec:\n" + textwrap.indent(
        textwrap.dedent(spec), "  "
    )
    return compile_documents(parse_text(text, "w.yaml"), OPTIONS).bundle


def node(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}


def run(sim: Simulator, bundle: Bundle) -> None:
    execute(sim, prepare(sim, bundle, V), clock=SimClock(sim), timeout=3600, interval=1)


def jobs(sim: Simulator) -> dict[str, Any]:
    return {name: w for (kind, _, name), w in sorted(sim.objects.items()) if kind == "Job"}


def test_a_node_selector_is_resolved_on_the_clusters_nodes_one_at_a_time() -> None:
    sim = Simulator()
    for n, gpu in (("n3", "a100"), ("n1", "a100"), ("n2", "h100")):
        sim.apply(node(n, gpu=gpu), manager="kubelet")
    run(
        sim,
        warmup(
            """\
            policies: {parallelism: 1}
            targetNodes:
              nodeSelector: {gpu: a100}
              imagePreload: {images: [sglang:2]}
            """
        ),
    )
    found = jobs(sim)
    assert list(found) == ["w-n1", "w-n3"]
    first, second = found["w-n1"].job, found["w-n3"].job
    assert first.done and second.done
    assert second.started >= first.ends  # parallelism 1: n3 only once n1 finished
    assert "sglang:2" in sim.node_images["n1"] and "sglang:2" in sim.node_images["n3"]
    assert "n2" not in sim.node_images  # not selected


def test_target_role_based_group_warms_the_nodes_its_pods_run_on() -> None:
    sim = Simulator()
    group = compile_paths([str(ROOT / "examples" / "pd-inplace.yaml")], OPTIONS).bundle
    run(sim, group)
    run(
        sim,
        warmup(
            """\
            targetRoleBasedGroup:
              name: llm-pd
              roles:
                decode: {imagePreload: {images: [sglang:next]}}
            """
        ),
    )
    decode = sim.objects[("StatefulSet", "llm", "llm-pd-decode")]
    assert sorted(jobs(sim)) == sorted(f"w-{p.node}" for p in decode.pods)


def test_retries_per_node_then_max_failed_nodes_fails_the_warm_up() -> None:
    spec = """\
        policies: {backoffLimitPerNode: 1, maxFailedNodes: 0}
        targetNodes:
          nodeNames: [n1, n2]
          imagePreload: {images: [sglang:2]}
        """
    sim = Simulator(faults=Faults(fail_warmup={"n2": 1}))  # one failure: its retry succeeds
    run(sim, warmup(spec))
    assert jobs(sim)["w-n2"].job.failed == 1 and jobs(sim)["w-n2"].job.done
    sim = Simulator(faults=Faults(fail_warmup={"n2": 5}))  # beyond backoffLimitPerNode 1
    with pytest.raises(WarmupFailed) as exc:
        run(sim, warmup(spec))
    assert "w-n2" in str(exc.value)


def test_without_max_failed_nodes_a_failed_node_is_tolerated() -> None:
    sim = Simulator(faults=Faults(fail_warmup={"n2": 5}))
    run(
        sim,
        warmup(
            """\
            policies: {backoffLimitPerNode: 0}
            targetNodes:
              nodeNames: [n1, n2]
              imagePreload: {images: [sglang:2]}
            """
        ),
    )
    assert jobs(sim)["w-n2"].body["status"]["conditions"][0]["type"] == "Failed"
    assert jobs(sim)["w-n1"].job.done  # upstream's "Completed" with failures within tolerance
