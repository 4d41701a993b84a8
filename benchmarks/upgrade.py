"""A PD group's upgrade on the simulator, with what LLM pods really cost to start: how long
until every pod serves the new version, and how low the capacity goes on the way, for four
ways of upgrading (issue 19 item 4).

Run: .venv/bin/python -m benchmarks.upgrade   (a script, never a timed test; simulated seconds)

The group (v1alpha2): prefill 8 replicas and decode 4 (one GPU node each, `maxUnavailable` 2
and 1), a router Deployment of 2 in the next wave; every image changes. The costs
(rbgc/sync/simpods.py `Costs`), after upstream's KEP-129 figures: the engine image 27.5 GB,
pulled at 0.25 GB/s per node (110 s); the model (Qwen3-32B, 61 GB) loaded in 60 s per pod
start; 10 s to schedule a new pod and start its sandbox; the router image 0.5 GB. A recreated
pod comes back on the node it left (a full GPU cluster, local model cache), so it pulls the
new image there; a pod updated in place restarts its container on its node.

    recreate             `rbgc sync` of roles with type RecreatePod (a plain StatefulSet roll)
    recreate + warm-up   the same with `--warmup`: the pulls first, overlapping earlier steps
    in-place             the upstream default, InPlaceIfPossible: the same pods, new images
    in-place + warm-up   both

Capacity is the engines' (prefill + decode) ready pods over their 12; "pod-minutes lost" the
engines' missing ready pods integrated over the upgrade. On Kubernetes 1.35 every way takes
the same number of pods down at once; before 1.35 a StatefulSet ignores maxUnavailable and
recreates one pod at a time, while rbgc, updating pods itself, still takes two.
"""

from __future__ import annotations

from dataclasses import dataclass

from rbgc.bundle import Bundle
from rbgc.model import Target
from rbgc.pipeline import Options, compile_documents
from rbgc.source import parse_text
from rbgc.sync.controller import execute, prepare
from rbgc.sync.simpods import Costs
from rbgc.sync.simulator import SimClock, Simulator

VERSIONS = ((1, 35), (1, 33))  # StatefulSet maxUnavailable honoured from 1.35, not before
ENGINE_OLD, ENGINE_NEW = "lmsysorg/sglang:v0.5.4", "lmsysorg/sglang:v0.5.5"
ROUTER_OLD, ROUTER_NEW = "lmsysorg/sglang-router:v0.2.1", "lmsysorg/sglang-router:v0.2.2"
COSTS = Costs(
    image_gb={ENGINE_OLD: 27.5, ENGINE_NEW: 27.5, ROUTER_OLD: 0.5, ROUTER_NEW: 0.5},
    bandwidth_gbps=0.25,
    load_seconds=60,
    schedule_seconds=10,
)
ENGINES = {"llm-pd-prefill": 8, "llm-pd-decode": 4}

GROUP = """\
apiVersion: workloads.x-k8s.io/v1alpha2
kind: RoleBasedGroup
metadata: {{name: llm-pd, namespace: llm}}
spec:
  roles:
    - name: router
      replicas: 2
      dependencies: [prefill, decode]
      annotations: {{rbg.workloads.x-k8s.io/role-workload-type: apps/v1/Deployment}}
      standalonePattern:
        template: {{spec: {{containers: [{{name: router, image: "{router}"}}]}}}}
    - name: prefill
      replicas: 8
      rolloutStrategy: {{rollingUpdate: {{type: {type}, maxUnavailable: 2}}}}
      standalonePattern:
        template: {{spec: {{containers: [{{name: sglang, image: "{engine}"}}]}}}}
    - name: decode
      replicas: 4
      rolloutStrategy: {{rollingUpdate: {{type: {type}, maxUnavailable: 1}}}}
      standalonePattern:
        template: {{spec: {{containers: [{{name: sglang, image: "{engine}"}}]}}}}
"""


def bundle(update: str, engine: str, router: str) -> Bundle:
    text = GROUP.format(type=update, engine=engine, router=router)
    options = Options(target=Target(in_place=True), warmup_later=True)
    return compile_documents(parse_text(text, "pd.yaml"), options).bundle


@dataclass(frozen=True)
class Outcome:
    name: str
    seconds: int  # until every pod serves NEW
    lowest: float  # the engines' lowest ready share during it
    below: int  # seconds the engines ran below full capacity
    lost: float  # engine pod-minutes lost


def measure(name: str, update: str, warmup: bool, version: tuple[int, int]) -> Outcome:
    sim = Simulator(costs=COSTS, kubernetes_version=version)
    clock = SimClock(sim)
    execute(
        sim,
        prepare(sim, bundle(update, ENGINE_OLD, ROUTER_OLD), version),
        clock=clock,
        timeout=10**6,
    )
    start = sim.now
    marks = {w: len(sim.ready_log[f"StatefulSet/llm/{w}"]) for w in ENGINES}
    new = bundle(update, ENGINE_NEW, ROUTER_NEW)
    execute(sim, prepare(sim, new, version, warmup=warmup), clock=clock, timeout=10**6, interval=1)
    ready = [
        sum(pods)
        for pods in zip(
            *(sim.ready_log[f"StatefulSet/llm/{w}"][marks[w] :] for w in ENGINES), strict=False
        )
    ]
    total = sum(ENGINES.values())
    return Outcome(
        name=name,
        seconds=sim.now - start,
        lowest=min(ready) / total,
        below=sum(1 for r in ready if r < total),
        lost=sum(total - r for r in ready) / 60,
    )


SCENARIOS = (
    ("recreate", "RecreatePod", False),
    ("recreate + warm-up", "RecreatePod", True),
    ("in-place", "InPlaceIfPossible", False),
    ("in-place + warm-up", "InPlaceIfPossible", True),
)


def main() -> None:
    for version in VERSIONS:
        print(f"\nKubernetes {version[0]}.{version[1]}:\n")
        print(
            "| upgrade | time to full upgrade | lowest engine capacity | below full capacity "
            "| engine pod-minutes lost |"
        )
        print("|---|---:|---:|---:|---:|")
        for r in (measure(*s, version) for s in SCENARIOS):
            print(
                f"| {r.name} | {r.seconds // 60} min {r.seconds % 60:02d} s | {r.lowest:.0%} | "
                f"{r.below // 60} min {r.below % 60:02d} s | {r.lost:.0f} |"
            )


if __name__ == "__main__":
    main()
