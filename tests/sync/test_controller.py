"""The sync controller against the simulator: waves, readiness gates, upgrades by the plan's
steps, faults, dry runs, determinism."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rbgc.model import Target as Build
from rbgc.pipeline import Options, Result, compile_paths
from rbgc.sync.cluster import ClusterError, Ref
from rbgc.sync.controller import SyncTimeout, execute, prepare, render_steps
from rbgc.sync.simulator import Faults, SimClock, Simulator

ROOT = Path(__file__).resolve().parents[2]
PD = str(ROOT / "examples" / "pd-disaggregated.yaml")
PD_V2 = str(ROOT / "upgrades" / "pd-v2.yaml")
GANG = str(ROOT / "examples" / "multi-node-gang.yaml")
V = (1, 33)


def _compile(path: str) -> Result:
    return compile_paths([path], Options(namespace="default", target=Build(kubernetes_version=V)))


def _sync(sim: Simulator, path: str, timeout: float = 600) -> list[str]:
    lines: list[str] = []
    plan = prepare(sim, _compile(path).bundle, V)
    execute(sim, plan, clock=SimClock(sim), timeout=timeout, interval=1, emit=lines.append)
    return lines


def test_first_install_applies_waves_in_order_gated_on_readiness() -> None:
    sim = Simulator()
    lines = _sync(sim, PD)
    applied = [ref for verb, ref in sim.writes if verb == "apply"]
    router = applied.index(Ref("apps/v1", "Deployment", "llm", "sglang-pd-router"))
    prefill = applied.index(Ref("apps/v1", "StatefulSet", "llm", "sglang-pd-prefill"))
    assert prefill < router
    # The router (wave 1) was applied only once wave 0 was ready: its first ready tick comes
    # after the prefill's log shows both pods ready.
    assert sim.ready_log["StatefulSet/llm/sglang-pd-prefill"][-1] == 2
    assert len(sim.ready_log["Deployment/llm/sglang-pd-router"]) < len(
        sim.ready_log["StatefulSet/llm/sglang-pd-prefill"]
    )
    assert all(line.startswith(f"[{i}/{len(lines)}]") for i, line in enumerate(lines, 1))
    assert any("wave 1" in line for line in lines)


def test_gang_podgroup_lands_a_wave_before_its_workloads() -> None:
    sim = Simulator()
    _sync(sim, GANG)
    applied = [ref.kind for verb, ref in sim.writes if verb == "apply"]
    assert applied.index("PodGroup") < applied.index("LeaderWorkerSet")
    assert (
        sim.objects[("LeaderWorkerSet", "llm", "llama-70b-decode")].body["status"]["readyReplicas"]
        == 2
    )


def test_image_upgrade_follows_the_plans_partitions_and_keeps_the_floor() -> None:
    sim = Simulator()
    _sync(sim, PD)
    start = len(sim.ready_log["StatefulSet/llm/sglang-pd-prefill"])
    plan = prepare(sim, _compile(PD_V2).bundle, V)
    wanted = [
        a.partition
        for s in plan.rollout.steps
        for a in s.actions
        if a.role == "prefill" and a.op == "roll"
    ]
    assert wanted == [1, 0]  # walk down as planned
    floor = min(s.roles["prefill"].floor for s in plan.rollout.steps)
    execute(sim, plan, clock=SimClock(sim), timeout=600, interval=1)
    applied = [
        sim_body["spec"]["updateStrategy"]["rollingUpdate"]["partition"]
        for sim_body in [sim.objects[("StatefulSet", "llm", "sglang-pd-prefill")].body]
    ]
    assert applied == [0]
    during = sim.ready_log["StatefulSet/llm/sglang-pd-prefill"][start:]
    assert min(during) >= floor == 1
    pods = sim.pods("StatefulSet", "llm", "sglang-pd-prefill")
    assert len({rev for _, rev, _ in pods}) == 1 and all(ready for *_, ready in pods)


def test_partitions_applied_step_by_step() -> None:
    sim = Simulator()
    _sync(sim, PD)
    partitions: list[int] = []
    plan = prepare(sim, _compile(PD_V2).bundle, V)
    for step in plan.steps:
        for body in step.apply:
            if body["kind"] == "StatefulSet" and body["metadata"]["name"] == "sglang-pd-prefill":
                partitions.append(body["spec"]["updateStrategy"]["rollingUpdate"]["partition"])
    assert partitions == [1, 0, 0]  # two planned steps, then NEW as compiled


def test_scale_only_change_restarts_nothing(tmp_path: Path) -> None:
    sim = Simulator()
    _sync(sim, PD)
    before = {name: rev for name, rev, _ in sim.pods("StatefulSet", "llm", "sglang-pd-prefill")}
    scaled = tmp_path / "pd.yaml"
    text = Path(PD).read_text(encoding="utf-8")
    scaled.write_text(
        text.replace(
            "    - name: prefill\n      replicas: 2", "    - name: prefill\n      replicas: 3"
        ),
        encoding="utf-8",
    )
    plan = prepare(sim, _compile(str(scaled)).bundle, V)
    assert all(a.op == "scale" and a.replace == 0 for s in plan.rollout.steps for a in s.actions)
    execute(sim, plan, clock=SimClock(sim), timeout=600, interval=1)
    after = {name: rev for name, rev, _ in sim.pods("StatefulSet", "llm", "sglang-pd-prefill")}
    assert len(after) == 3
    assert {k: after[k] for k in before} == before  # same pods, same revision


def test_a_pod_that_never_gets_ready_times_out_naming_the_role() -> None:
    sim = Simulator(faults=Faults(never_ready=frozenset({"sglang-pd-prefill-1"})))
    with pytest.raises(SyncTimeout) as caught:
        _sync(sim, PD, timeout=60)
    assert "role prefill of llm/sglang-pd" in str(caught.value)
    assert "1/2 ready" in str(caught.value)
    # Wave 1 was never applied.
    assert not any(ref.kind == "Deployment" for _, ref in sim.writes)


def test_a_crash_looping_image_stops_the_upgrade_at_its_first_step() -> None:
    sim = Simulator()
    _sync(sim, PD)
    sim.faults = Faults(crash_images=frozenset({"lmsysorg/sglang:v0.5.3"}))
    with pytest.raises(SyncTimeout) as caught:
        _sync(sim, PD_V2, timeout=30)
    assert "role" in str(caught.value)
    # Only the first step's pod went down: the others still run the old, ready revision.
    ready = [r for *_, r in sim.pods("StatefulSet", "llm", "sglang-pd-prefill")]
    assert ready == [True, False]


def test_a_failing_apply_is_a_cluster_error() -> None:
    boom = ClusterError(403, "Forbidden", "statefulsets is forbidden")
    sim = Simulator(faults=Faults(fail_apply={"sglang-pd-prefill": boom}))
    with pytest.raises(ClusterError) as caught:
        _sync(sim, PD)
    assert caught.value.code == 403


def test_dry_run_touches_nothing_and_is_deterministic() -> None:
    sim = Simulator()
    _sync(sim, PD)
    writes = list(sim.writes)
    now = sim.now
    first = render_steps(prepare(sim, _compile(PD_V2).bundle, V))
    second = render_steps(prepare(sim, _compile(PD_V2).bundle, V))
    assert first == second
    assert sim.writes == writes and sim.now == now
    assert "prefill roll replicas 2 partition 1" in first


def test_runs_are_deterministic() -> None:
    def run() -> tuple[list[str], dict[str, list[int]], int]:
        sim = Simulator()
        lines = _sync(sim, PD) + _sync(sim, PD_V2)
        return lines, sim.ready_log, sim.now

    assert run() == run()


def test_statefulset_max_unavailable_is_honoured_only_from_1_35() -> None:
    for version, at_once in (((1, 33), 1), ((1, 35), 2)):
        sim = Simulator(kubernetes_version=version)
        body: dict[str, Any] = {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "s", "namespace": "n"},
            "spec": {
                "replicas": 4,
                "updateStrategy": {"rollingUpdate": {"maxUnavailable": 2, "partition": 0}},
                "template": {"spec": {"containers": [{"name": "c", "image": "a"}]}},
            },
        }
        sim.apply(body)
        for _ in range(5):
            sim.tick()
        body["spec"]["template"]["spec"]["containers"][0]["image"] = "b"
        sim.apply(body)
        sim.tick()
        down = sum(1 for *_, ready in sim.pods("StatefulSet", "n", "s") if not ready)
        assert down == at_once, version
