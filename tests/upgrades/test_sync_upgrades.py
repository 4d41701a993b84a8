"""`rbgc sync` carries out in-place updates and warm-ups, on the simulator.

The per-pod order is upstream's (sgl-project/rbg pkg/inplace/pod/inplaceupdate/
inplace_update.go `Update` :223-269: InPlaceUpdateReady False with reason StartInPlaceUpdate,
`gracePeriodSeconds`, images and revision label patched; `refreshCondition` :129-152: True once
the new containers run). A pod's Ready condition is its containers' readiness and its
readiness gates (Kubernetes pod readiness gates, KEP-580): the simulator computes it so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rbgc.bundle import Bundle
from rbgc.diagnostics import DiagnosticError
from rbgc.model import Target
from rbgc.pipeline import Options, compile_paths
from rbgc.sync import run
from rbgc.sync.cluster import Ref
from rbgc.sync.connect import Connection
from rbgc.sync.controller import execute, prepare, render_steps
from rbgc.sync.simulator import Faults, SimClock, Simulator
from rbgc.sync.watch import watch
from tests.conftest import ROOT

OLD = str(ROOT / "examples" / "pd-inplace.yaml")
NEW = str(ROOT / "upgrades" / "pd-inplace-v2.yaml")
V = (1, 33)


def compiled(path: str) -> Bundle:
    options = Options(target=Target(in_place=True), warmup_later=True)
    return compile_paths([path], options).bundle


def sync(sim: Simulator, bundle: Bundle, **kw: Any) -> list[str]:
    lines: list[str] = []
    plan = prepare(sim, bundle, V, warmup=kw.pop("warmup", False))
    execute(
        sim,
        plan,
        clock=SimClock(sim),
        timeout=kw.pop("timeout", 3600),
        interval=1,
        emit=lines.append,
        **kw,
    )
    return lines


@pytest.fixture
def installed() -> Iterator[Simulator]:
    sim = Simulator()
    sync(sim, compiled(OLD))
    yield sim


def pods_of(sim: Simulator, name: str) -> dict[str, tuple[str, str]]:
    return sim.identities("StatefulSet", "llm", name)


def test_an_image_change_keeps_the_same_pods(installed: Simulator) -> None:
    sim = installed
    before = {n: pods_of(sim, f"llm-pd-{n}") for n in ("prefill", "decode")}
    terminated = sim.terminated
    sync(sim, compiled(NEW))
    for role, pods in before.items():
        # same names, UIDs and nodes: no pod was recreated
        assert pods_of(sim, f"llm-pd-{role}") == pods
        body = sim.objects[("StatefulSet", "llm", f"llm-pd-{role}")].body
        assert body["status"]["updatedReplicas"] == body["status"]["readyReplicas"] == len(pods)
        for name in pods:
            pod = sim.get(Ref("v1", "Pod", "llm", name))
            assert pod is not None
            assert {c["image"] for c in pod["spec"]["containers"]} == {"lmsysorg/sglang:v0.5.5"}
            assert (
                pod["metadata"]["labels"]["controller-revision-hash"]
                == body["status"]["updateRevision"]
            )
    # only the router (a Deployment, recreated) lost pods: 2 replaced
    assert sim.terminated - terminated == 2


def test_each_pod_leaves_its_services_for_the_grace_period_first(installed: Simulator) -> None:
    sim = installed
    start = len(sim.patched)
    sync(sim, compiled(NEW))
    moves: dict[str, list[tuple[int, str]]] = {}
    for tick, pod, sub in sim.patched[start:]:
        moves.setdefault(pod, []).append((tick, sub))
    for pod, seen in moves.items():
        # close the gate (status), patch the images (spec), open the gate (status)
        assert [sub for _, sub in seen] == ["status", "", "status"], pod
        grace = 10 if "prefill" in pod else 0
        assert seen[1][0] - seen[0][0] >= grace, pod
    assert sorted(moves) == [f"llm-pd-decode-{i}" for i in range(2)] + [
        f"llm-pd-prefill-{i}" for i in range(4)
    ]


def test_capacity_stays_within_max_unavailable(installed: Simulator) -> None:
    sim = installed
    mark = len(sim.ready_log["StatefulSet/llm/llm-pd-prefill"])
    sync(sim, compiled(NEW))
    during = sim.ready_log["StatefulSet/llm/llm-pd-prefill"][mark:]
    assert min(during) == 3  # 4 replicas, maxUnavailable 1: one pod at a time out of service


def test_new_pods_of_an_in_place_workload_get_their_gate_opened() -> None:
    """A gated pod is never Ready until someone sets its condition: a first install (and any
    pod its StatefulSet recreates) waits for rbgc to open it, once its containers run."""
    sim = Simulator()
    sync(sim, compiled(OLD))
    for name in pods_of(sim, "llm-pd-prefill"):
        pod = sim.get(Ref("v1", "Pod", "llm", name))
        assert pod is not None
        assert {"type": "InPlaceUpdateReady", "status": "True"}.items() <= next(
            c for c in pod["status"]["conditions"] if c["type"] == "InPlaceUpdateReady"
        ).items()


def test_a_change_a_pod_cannot_take_recreates_pods_one_by_one(
    installed: Simulator, tmp_path: Path
) -> None:
    sim = installed
    text = Path(NEW).read_text().replace("--tp=4]", "--tp=8]")
    (tmp_path / "new.yaml").write_text(text)
    before = pods_of(sim, "llm-pd-prefill")
    mark = len(sim.ready_log["StatefulSet/llm/llm-pd-prefill"])
    sync(sim, compiled(str(tmp_path / "new.yaml")))
    after = pods_of(sim, "llm-pd-prefill")
    assert after.keys() == before.keys()
    assert all(after[n][0] != before[n][0] for n in before)  # new UIDs: recreated
    assert min(sim.ready_log["StatefulSet/llm/llm-pd-prefill"][mark:]) == 3  # one at a time
    deleted = [ref.name for verb, ref in sim.writes if verb == "delete" and ref.kind == "Pod"]
    assert deleted[:4] == [f"llm-pd-prefill-{i}" for i in (3, 2, 1, 0)] or set(deleted) >= {
        f"llm-pd-prefill-{i}" for i in range(4)
    }


def test_in_place_only_refuses_what_a_pod_cannot_take(installed: Simulator, tmp_path: Path) -> None:
    only = Path(OLD).read_text().replace("type: InPlaceIfPossible", "type: InPlaceOnly")
    (tmp_path / "old.yaml").write_text(only)
    sim = Simulator()
    sync(sim, compiled(str(tmp_path / "old.yaml")))
    (tmp_path / "new.yaml").write_text(only.replace("--tp=4]", "--tp=8]", 1))
    writes = len(sim.writes)
    with pytest.raises(DiagnosticError) as exc:
        prepare(sim, compiled(str(tmp_path / "new.yaml")), V)
    assert [d.code for d in exc.value.diagnostics] == ["RBG804"]
    assert len(sim.writes) == writes  # refused before anything is written


def test_warmup_pulls_on_every_pods_node_before_its_first_update(installed: Simulator) -> None:
    sim = installed
    # the nodes the role's pods run on before the upgrade (the router's are replaced after)
    nodes = {node for n in ("prefill", "decode", "router") for _, node in _nodes(sim, n)}
    mark = len(sim.writes)
    lines = sync(sim, compiled(NEW), warmup=True)
    writes = sim.writes[mark:]
    jobs = [
        (i, ref) for i, (verb, ref) in enumerate(writes) if verb == "apply" and ref.kind == "Job"
    ]
    created = {ref.name for _, ref in jobs}
    assert {name.rpartition("-warmup-")[2] for name in created} == nodes
    first_patch = next(i for i, (verb, ref) in enumerate(writes) if verb == "patch")
    engine_jobs = [i for i, ref in jobs if "router" not in ref.name]
    assert max(engine_jobs) < first_patch  # created before any pod is touched
    # the router's (wave 1) were created with the engines' (the group's first step), so
    # their pulls overlapped wave 0's in-place updates
    router_jobs = [i for i, ref in jobs if "router" in ref.name]
    assert max(router_jobs) < first_patch
    # every Job rbgc made for the upgrade is gone again
    assert not [k for k in sim.objects if k[0] == "Job"]
    assert any("warm-up llm/llm-pd prefill" in line for line in lines)
    for role in ("prefill", "decode"):
        for _, node in _nodes(sim, role):
            assert "lmsysorg/sglang:v0.5.5" in sim.node_images[node]


def _nodes(sim: Simulator, role: str) -> list[tuple[str, str]]:
    kind = "Deployment" if role == "router" else "StatefulSet"
    w = sim.objects[(kind, "llm", f"llm-pd-{role}")]
    return [(p.uid, p.node) for p in w.pods]


def test_a_node_that_cannot_pull_stops_the_sync_before_any_pod_is_touched() -> None:
    sim = Simulator(faults=Faults(fail_warmup={"node-llm-pd-decode-1": 10}))
    sync(sim, compiled(OLD))
    mark = len(sim.writes)
    with pytest.raises(Exception) as exc:
        run.sync(
            compiled(NEW),
            version=V,
            where=run.Where(simulate=True),
            timeout=3600,
            warmup=True,
            connected=Connection.simulated(sim),
        )
    failed = exc.value
    assert isinstance(failed, run.SyncFailed)
    assert failed.diagnostic.code == "RBG805"
    assert "llm-pd-decode-warmup-node-llm-pd-decode-1" in failed.diagnostic.message
    assert not [ref for verb, ref in sim.writes[mark:] if verb == "patch"]  # no pod touched
    assert "nothing of the group was replaced" in (failed.diagnostic.help or "")


def test_dry_run_lists_warm_ups_and_in_place_updates(installed: Simulator) -> None:
    text = render_steps(prepare(installed, compiled(NEW), V, warmup=True))
    assert "warm-up llm/llm-pd prefill: pull lmsysorg/sglang:v0.5.5" in text
    assert "update in place llm-pd-prefill-3 (StatefulSet llm/llm-pd-prefill)" in text
    assert "after  warm-up llm/llm-pd decode, llm/llm-pd prefill" in text


def test_pods_another_tool_left_behind_are_updated_in_place_at_the_gate() -> None:
    """`build --in-place` applied by Argo CD: the StatefulSets hold NEW's template, their pods
    OLD's images, and no plan step moves them (the live objects already equal NEW). The wave's
    gate brings them over, in place, within maxUnavailable, as `rbgc sync --watch` would."""
    sim = Simulator()
    for m in compiled(OLD).manifests:
        sim.apply(m.body, manager="argocd")
    for _ in range(3):
        sim.tick()
    before = pods_of(sim, "llm-pd-prefill")
    for m in compiled(NEW).manifests:
        sim.apply(m.body, manager="argocd")
    mark = len(sim.ready_log["StatefulSet/llm/llm-pd-prefill"])
    sync(sim, compiled(NEW))
    assert pods_of(sim, "llm-pd-prefill") == before  # the same pods
    body = sim.objects[("StatefulSet", "llm", "llm-pd-prefill")].body
    assert body["status"]["updatedReplicas"] == body["status"]["readyReplicas"] == 4
    # no one had opened the gates Argo CD's pods carry: they count from the first tick rbgc
    # opened them, and from then on one pod at a time is out of service
    ready = sim.ready_log["StatefulSet/llm/llm-pd-prefill"][mark:]
    first = ready.index(max(ready[:5]))
    assert max(ready[:5]) >= 3 and min(ready[first:]) >= 3


def test_the_watcher_opens_the_gate_of_a_pod_its_statefulset_recreated() -> None:
    """A gated pod is never Ready until someone sets its condition: a pod a StatefulSet makes
    anew (a node died, someone deleted it) would wait for the next convergence; the watcher
    opens it as soon as its watch shows it running."""
    sim = Simulator()
    deleted: list[int] = []

    def delete_once() -> None:
        ready = sim.objects.get(("Deployment", "llm", "llm-pd-router"))
        if not deleted and ready is not None and sim.now > 30:
            sim.delete(Ref("v1", "Pod", "llm", "llm-pd-decode-1"))
            deleted.append(sim.now)

    sim.observers.append(delete_once)
    watcher = watch(
        compiled(OLD),
        version=V,
        where=run.Where(simulate=True),
        timeout=600,
        connected=Connection.simulated(sim),
        seconds=120,  # within its 300 s resync: one convergence, at the start
    )
    assert deleted and watcher._converged < deleted[0]
    pod = sim.get(Ref("v1", "Pod", "llm", "llm-pd-decode-1"))
    assert pod is not None
    assert next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")["status"] == "True"
