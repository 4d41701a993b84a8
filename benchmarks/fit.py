"""Speed and memory of `rbgc fit`: how they grow with nodes x pods, up to 10,000 x 1,000.

Run: .venv/bin/python benchmarks/fit.py   (a script, never a timed test)

The cluster: 4 zones; per zone NVLink cliques of 4 hosts with 8 GPUs each (4/5 of the nodes),
the rest CPU nodes; a quarter of the GPUs already taken by running pods. The group: prefill
(40% of the pods, 8 GPUs each) and decode (40%, 4 GPUs) packed in one zone, preferring one
clique then one host (they never fit in one, so every clique and host is tried first); a
router (20%, 2 CPUs) spread over the zones with maxSkew 1. Figures are the best of three
runs, in-process: reading the inventory (JSON, as `kubectl get nodes -o json` prints it),
compiling the group, and the search; and the peak memory of the process that measured one
size (each size runs in a process of its own, so peaks do not carry over).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import TypeVar

from rbgc.fit.cluster import Cluster
from rbgc.fit.constraints import problem
from rbgc.fit.demand import Features, group_pods
from rbgc.fit.inventory import read
from rbgc.fit.model import Pack, Problem, Spread
from rbgc.fit.search import solve
from rbgc.k8s.controllers import DEFAULT_KUBERNETES_VERSION
from rbgc.pipeline import Options, compile_documents
from rbgc.source import parse_text

ZONE = "topology.kubernetes.io/zone"
CLIQUE = "nvidia.com/gpu.clique"
HOST = "kubernetes.io/hostname"
T = TypeVar("T")


def inventory_json(nodes: int) -> tuple[str, str]:
    items, pods = [], []
    for i in range(nodes):
        gpu = i % 5 != 4
        name = f"node-{i:04d}"
        labels = {HOST: name, ZONE: f"zone-{i % 4}"}
        allocatable = {"cpu": "96" if gpu else "32", "memory": "1000Gi", "pods": "110"}
        if gpu:
            labels[CLIQUE] = f"clique-{i % 4}-{i // 20}"
            allocatable["nvidia.com/gpu"] = "8"
            if i % 4 == 0:
                limits = {"nvidia.com/gpu": "8", "cpu": "8"}
                pods.append(
                    {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "metadata": {"name": f"busy-{i}", "namespace": "other"},
                        "spec": {
                            "nodeName": name,
                            "containers": [{"name": "c", "resources": {"limits": limits}}],
                        },
                        "status": {"phase": "Running"},
                    }
                )
        items.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": name, "labels": labels},
                "status": {"allocatable": allocatable, "capacity": allocatable},
            }
        )
    return (
        json.dumps({"apiVersion": "v1", "kind": "List", "items": items}),
        json.dumps({"apiVersion": "v1", "kind": "List", "items": pods}),
    )


def group(pods: int) -> str:
    prefill, decode = pods * 2 // 5, pods * 2 // 5
    router = pods - prefill - decode

    def role(name: str, replicas: int, limits: str) -> str:
        return (
            f"    - name: {name}\n      replicas: {replicas}\n      template:\n        spec:\n"
            f"          containers: [{{name: main, image: x, resources: {{limits: {limits}}}}}]\n"
        )

    return (
        "apiVersion: workloads.x-k8s.io/v1alpha1\nkind: RoleBasedGroup\n"
        "metadata: {name: big, namespace: bench}\nspec:\n  roles:\n"
        + role("prefill", prefill, "{nvidia.com/gpu: 8}")
        + role("decode", decode, "{nvidia.com/gpu: 4}")
        + role("router", router, "{cpu: 2}")
    )


def posed(pods: int) -> Problem:
    result = compile_documents(parse_text(group(pods), "bench.yaml"), Options())
    (found,) = group_pods(result.bundle, Features(DEFAULT_KUBERNETES_VERSION))
    names = {r: tuple(p.name for p in found.pods if p.role == r) for r in ("prefill", "decode")}
    router = tuple(p.name for p in found.pods if p.role == "router")
    pack = Pack(
        pods=names["prefill"] + names["decode"],
        required=ZONE,
        preferred=(CLIQUE, HOST),
        label="prefill+decode",
    )
    spread = Spread(pods=router, level=ZONE, max_skew=1, label="router")
    return problem(found.namespace, found.name, found.pods, (pack, spread))


def best(fn: Callable[[], T], runs: int = 3) -> tuple[float, T]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def measure(nodes: int, pods: int, folder: str) -> tuple[float, float, float, str]:
    node_text, pod_text = inventory_json(nodes)
    node_path, pod_path = os.path.join(folder, "nodes.json"), os.path.join(folder, "pods.json")
    with open(node_path, "w") as fh:
        fh.write(node_text)
    with open(pod_path, "w") as fh:
        fh.write(pod_text)
    read_s, inv = best(lambda: read(node_path, pod_path))
    compile_s, posed_problem = best(lambda: posed(pods))
    solve_s, answer = best(lambda: solve(posed_problem, Cluster.of(inv)))
    verdict = f"fits at {answer.tier}" if answer.fits else "does not fit"
    return read_s, compile_s, solve_s, verdict


def command(folder: str, nodes: int, pods: int, suffix: str) -> tuple[float, float]:
    """`rbgc fit` as a process (start-up included), the inventory as .json or .yaml: the best
    wall time of three runs, and the peak memory (MiB) of the largest run."""
    import yaml

    paths = []
    for kind, text in zip(("nodes", "pods"), inventory_json(nodes), strict=True):
        paths.append(os.path.join(folder, f"{kind}{suffix}"))
        with open(paths[-1], "w") as fh:
            if suffix == ".yaml":  # block style, as `kubectl get nodes -o yaml` prints it
                fh.write(yaml.safe_dump(json.loads(text), sort_keys=False))
            else:
                fh.write(text)
    spec = os.path.join(folder, "group.yaml")
    exclusive = f"annotations: {{rolebasedgroup.workloads.x-k8s.io/exclusive-topology: {ZONE}}}"
    with open(spec, "w") as fh:  # exclusive topology: the whole group in one zone
        fh.write(group(pods).replace("namespace: bench}", f"namespace: bench, {exclusive}}}"))
    rbgc = os.path.join(os.path.dirname(sys.executable), "rbgc")
    argv = [rbgc, "fit", "--nodes", paths[0], "--pods", paths[1], spec]
    runs = [run_measured(argv) for _ in range(3)]
    return min(took for took, _ in runs), max(peak for _, peak in runs)


def run_measured(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak memory (MiB) of one run of `argv`, from the OS's own accounting
    of that child (`wait4`), so earlier children do not count."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    took = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return took, usage.ru_maxrss / 1024


def one_size(nodes: int, pods: int) -> str:
    """One table row, measured in this process."""
    with tempfile.TemporaryDirectory() as folder:
        read_s, compile_s, solve_s, verdict = measure(nodes, pods, folder)
    total = read_s + compile_s + solve_s
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return (
        f"| {nodes:,} | {pods:,} | {read_s * 1000:.0f} ms | {compile_s * 1000:.0f} ms "
        f"| {solve_s * 1000:.0f} ms | {total * 1000:.0f} ms | {peak:.0f} MiB | {verdict} |"
    )


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":  # one size, in a process of its own
        nodes, pods = (int(n) for n in sys.argv[2].split("x"))
        print(one_size(nodes, pods), flush=True)
        return
    sizes = [
        (100, 20),
        (100, 200),
        (1000, 20),
        (1000, 200),
        (1000, 1000),
        (3000, 200),
        (10000, 200),
        (10000, 1000),
    ]
    if len(sys.argv) > 1:  # e.g. `benchmarks/fit.py 1000x200 3000x600`
        sizes = [(int(a), int(b)) for a, b in (arg.split("x") for arg in sys.argv[1:])]
    print("| nodes | pods | read inventory | compile | search | total | peak memory | answer |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    for nodes, pods in sizes:
        row = subprocess.run(
            [sys.executable, __file__, "--one", f"{nodes}x{pods}"],
            capture_output=True,
            text=True,
            check=True,
        )
        print(row.stdout.strip(), flush=True)
    print()
    with tempfile.TemporaryDirectory() as folder:
        for nodes, pods, suffix in (
            (1000, 200, ".json"),
            (1000, 200, ".yaml"),
            (10000, 1000, ".json"),
        ):
            took, peak = command(folder, nodes, pods, suffix)
            print(
                f"`rbgc fit` as a process, {nodes:,} nodes ({suffix}), {pods:,} pods: "
                f"{took * 1000:.0f} ms, peak {peak:.0f} MiB"
            )


if __name__ == "__main__":
    main()
