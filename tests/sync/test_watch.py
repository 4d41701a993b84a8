"""`rbgc sync --watch` on the simulator: restart policies as upstream defines them (the
recreation, its backoff), leader election between two watchers, and the decisions read from
the compiled facts."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rbgc.bundle import Bundle, Restart
from rbgc.model import LwsLowering
from rbgc.model import Target as Build
from rbgc.pipeline import Options, compile_paths
from rbgc.sync.cluster import Ref
from rbgc.sync.run import Connection, Where
from rbgc.sync.simulator import Faults, SimClock, Simulator
from rbgc.sync.watch import Watcher, watch
from tests.sync.helpers import V

GROUP = """\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata: {{name: g, namespace: llm}}
spec:
  roles:
    - name: router
      replicas: 1
      {router_policy}
      template:
        spec:
          containers: [{{name: router, image: {router_image}}}]
    - name: engine
      replicas: 2
      dependencies: [router]
      workload: {{apiVersion: leaderworkerset.x-k8s.io/v1, kind: LeaderWorkerSet}}
      leaderWorkerSet: {{size: 2}}
      {engine_policy}
      template:
        spec:
          containers: [{{name: engine, image: {engine_image}}}]
"""


def build(
    tmp_path: Path,
    *,
    router_policy: str = "",
    engine_policy: str = "",
    router_image: str = "router:1",
    engine_image: str = "engine:1",
    conventions: str | None = None,
) -> Bundle:
    path = tmp_path / "g.yaml"
    path.write_text(
        GROUP.format(
            router_policy=router_policy,
            engine_policy=engine_policy,
            router_image=router_image,
            engine_image=engine_image,
        )
    )
    target = Build(kubernetes_version=V, lws=LwsLowering.STATEFULSETS, conventions=conventions)
    return compile_paths([str(path)], Options(namespace="default", target=target)).bundle


def watched(sim: Simulator, bundle: Bundle, seconds: int, **kw: Any) -> Watcher:
    found: Watcher = watch(
        bundle,
        version=V,
        where=Where(simulate=True),
        timeout=kw.pop("timeout", 600),
        connected=Connection.simulated(sim),
        seconds=seconds,
        **kw,
    )
    return found


def test_the_build_records_each_roles_restart_policy_in_the_facts(tmp_path: Path) -> None:
    bundle = build(tmp_path, router_policy="restartPolicy: RecreateRBGOnPodRestart")
    roles = {r.name: r.restart for r in bundle.groups[0].roles}
    assert roles["router"] == Restart(policy="RecreateRBGOnPodRestart", scope="group")
    # An LWS built as StatefulSets: upstream's default recreates the leader/worker group.
    assert roles["engine"] == Restart(policy="RecreateRoleInstanceOnPodRestart", scope="instance")
    quiet = build(tmp_path, engine_policy="restartPolicy: None")
    assert [r.restart for r in quiet.groups[0].roles] == [None, None]


@pytest.mark.parametrize("conventions", ["v0.4", "v0.8"])
def test_a_restarted_pod_recreates_its_leader_worker_group_only(
    tmp_path: Path, conventions: str
) -> None:
    # v0.8: pods carry HEAD's labels (rbg.workloads.x-k8s.io/*); the watch once selected
    # v0.4.0's group label only, and saw none of them
    bundle = build(tmp_path, conventions=conventions)
    sim = Simulator(kubernetes_version=V, faults=Faults(restart=frozenset({"g-engine-1-1"})))
    w = watched(sim, bundle, 120)
    assert [(r.role, r.instance, r.pod) for _, r in w.recreated] == [("engine", 1, "g-engine-1-1")]
    deleted = [ref.name for verb, ref in sim.writes if verb == "delete"]
    assert deleted == ["g-engine-1", "g-engine-1-1"]  # the instance's leader and its worker
    assert all(ready for *_, ready in sim.pods("StatefulSet", "llm", "g-engine-1"))


def test_recreate_rbg_deletes_every_workload_and_the_sync_applies_them_again(
    tmp_path: Path,
) -> None:
    bundle = build(
        tmp_path,
        router_policy="restartPolicy: RecreateRBGOnPodRestart",
        engine_policy="restartPolicy: None",
    )
    sim = Simulator(kubernetes_version=V, faults=Faults(restart=frozenset({"g-router-0"})))
    w = watched(sim, bundle, 200)
    assert [(r.instance, r.pod) for _, r in w.recreated] == [(None, "g-router-0")]
    deleted = [ref.name for verb, ref in sim.writes if verb == "delete"]
    assert deleted == ["g-router", "g-engine", "g-engine-0", "g-engine-1"]  # wave order
    for kind, name in (("StatefulSet", "g-router"), ("StatefulSet", "g-engine-1")):
        assert all(ready for *_, ready in sim.pods(kind, "llm", name))


def test_a_crash_loop_is_recreated_with_exponential_backoff(tmp_path: Path) -> None:
    bundle = build(tmp_path, engine_image="engine:crash")
    sim = Simulator(kubernetes_version=V, faults=Faults(crash_images=frozenset({"engine:crash"})))
    w = watched(sim, bundle, 400, timeout=30)
    times = [t for t, r in w.recreated if r.instance == 0]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Upstream's backoff: at once, then 30 s, 60 s, 120 s (restartPolicyConfig's defaults).
    assert gaps[:3] == [30, 60, 120]
    assert [r.count for t, r in w.recreated if r.instance == 0][:4] == [1, 2, 3, 4]


def _watcher(sim: Simulator, bundle: Bundle, lines: list[str]) -> Watcher:
    from rbgc.sync.run import sync

    clock = SimClock(sim)

    def converge() -> None:
        link = Connection.simulated(sim)
        sync(bundle, version=V, where=Where(simulate=True), timeout=600, connected=link)

    return Watcher(
        cluster=sim,
        bundle=bundle,
        clock=clock,
        wall=lambda: 1_800_000_000.0 + sim.now,
        converge=converge,
        emit=lines.append,
    )


def _step_until(done: Callable[[], bool], *watchers: Any, rounds: int = 10_000) -> None:
    """Step the watchers until `done()`; fail, not hang, when a watcher never gets there."""
    for _ in range(rounds):
        if done():
            return
        for w in watchers:
            w.step()
    pytest.fail(f"still not done after {rounds} rounds of steps")


def test_of_two_watchers_one_leads_and_acts_the_other_takes_over_when_it_dies(
    tmp_path: Path,
) -> None:
    bundle = build(tmp_path)
    sim = Simulator(kubernetes_version=V, faults=Faults(restart=frozenset({"g-engine-0-1"})))
    said_a: list[str] = []
    said_b: list[str] = []
    a, b = _watcher(sim, bundle, said_a), _watcher(sim, bundle, said_b)
    _step_until(lambda: sim.now >= 150, a, b)
    assert a.leading and not b.leading
    assert [r.pod for _, r in a.recreated] == ["g-engine-0-1"] and b.recreated == []
    assert any("standing by" in line and a.holder in line for line in said_b)
    lease = sim.get(Ref("coordination.k8s.io/v1", "Lease", "llm", "rbgc-watch"))
    assert lease is not None and lease["spec"]["holderIdentity"] == a.holder
    died = sim.now  # a stops without giving the Lease up (kill -9): b waits for it to expire
    _step_until(lambda: b.leading, b)
    assert 40 <= sim.now - died <= 70  # the Lease lasts 60 s from a's last renewal
    assert any(line.startswith("leading") for line in said_b)


def test_a_watch_whose_version_was_compacted_lists_again(tmp_path: Path) -> None:
    bundle = build(tmp_path)
    sim = Simulator(kubernetes_version=V)
    w = _watcher(sim, bundle, [])
    w.step()  # leads, converges, lists, watches
    assert w.relists == 0 and len(w.pods) == 5
    note = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "llm"}}
    sim.apply(note, manager="kubectl")  # the store moves on ...
    sim.compact()  # ... and etcd forgets the history the watcher's version points into,
    sim.cut_watches()  # ... and the watch ends: started again from that version, it is Gone
    w.step()
    assert w.relists == 1
    assert sorted(name for _, name in w.pods) == [
        "g-engine-0",
        "g-engine-0-1",
        "g-engine-1",
        "g-engine-1-1",
        "g-router-0",
    ]
    w.step()
    assert w.relists == 1  # the new version is watched from: no second re-list


def test_the_cli_watches_a_simulated_cluster_and_warns_rbg916_for_each_recreation(
    tmp_path: Path,
) -> None:
    from click.testing import CliRunner

    from rbgc.cli import main

    build(tmp_path)  # writes g.yaml
    args = ["sync", "--simulate", "--watch", "--watch-seconds", "120", "--lws", "statefulsets"]
    args += ["--fault", "restart=g-engine-1-1", str(tmp_path / "g.yaml")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.stderr
    warned = [x for x in result.stderr.splitlines() if "warning[RBG916]" in x]
    assert len(warned) == 1
    assert "instance 1 of role engine in group llm/g: pod g-engine-1-1" in warned[0]
    assert "rbgc sync: leading as rbgc@" in result.stderr


def test_a_watcher_that_lost_its_lease_warns_rbg917_and_stands_by(tmp_path: Path) -> None:
    from rbgc.diagnostics import Diagnostic

    bundle = build(tmp_path)
    sim = Simulator(kubernetes_version=V)
    warned: list[Diagnostic] = []
    a = _watcher(sim, bundle, [])
    a.warn = warned.append
    a.step()
    ref = Ref("coordination.k8s.io/v1", "Lease", "llm", "rbgc-watch")
    taken = sim.get(ref)
    assert taken is not None
    taken["spec"]["holderIdentity"] = "someone-else"  # it took the Lease over meanwhile
    sim.replace(taken)
    lost = sim.now
    _step_until(lambda: bool(warned), a)
    assert not a.leading and sim.now - lost <= 20  # found at its next renewal
    assert [d.code for d in warned] == ["RBG917"] and "someone-else" in warned[0].message
    _step_until(lambda: a.leading, a)  # someone-else never renews: its Lease expires
    assert sim.now - lost >= 60


def _pod(
    phase: str = "Running", restarts: int = 0, container: str = "engine", **meta: Any
) -> dict[str, Any]:
    from rbgc.k8s.conventions import LABEL_NAME, LABEL_ROLE

    labels = {LABEL_NAME: "g", LABEL_ROLE: "router"}
    return {
        "metadata": {"name": "g-router-0", "namespace": "llm", "labels": labels, **meta},
        "status": {
            "phase": phase,
            "containerStatuses": [{"name": container, "restartCount": restarts}],
        },
    }


def test_what_counts_as_a_restart_is_upstreams() -> None:
    from rbgc.sync.restarts import restarted

    assert restarted(_pod(restarts=1)) == "container engine restarted 1 time(s)"
    assert restarted(_pod(phase="Pending", restarts=2)) is not None
    assert restarted(_pod(phase="Failed")) == "it failed"
    assert restarted(_pod(restarts=0)) is None
    assert restarted(_pod(restarts=3, container="patio-runtime")) is None  # upstream's sidecar
    assert restarted(_pod(restarts=1, deletionTimestamp="2026-01-01T00:00:00Z")) is None
    assert restarted(_pod(phase="Succeeded", restarts=1)) is None


def test_a_groups_recreations_back_off_and_are_forgotten_after_a_quiet_spell(
    tmp_path: Path,
) -> None:
    from rbgc.sync.restarts import History, due, remember

    bundle = build(tmp_path, router_policy="restartPolicy: RecreateRBGOnPodRestart")
    history: dict[str, History] = {}
    crashed = [_pod(restarts=1)]
    done, _ = due(bundle.groups, crashed, history, now=0)
    assert [(r.key, r.count, [d.name for d in r.delete]) for r in done] == [
        ("llm/g", 1, ["g-router", "g-engine", "g-engine-0", "g-engine-1"])
    ]
    remember(history, done[0], 0)
    assert due(bundle.groups, crashed, history, now=29) == ([], 30)
    second, _ = due(bundle.groups, crashed, history, now=30)
    remember(history, second[0], 30)
    assert due(bundle.groups, crashed, history, now=31) == ([], 90)  # the third waits 60 s
    # Quiet for longer than the stable threshold (max(2 x 600 s, 10 min)): counted afresh.
    again, _ = due(bundle.groups, crashed, history, now=30 + 1201)
    assert again[0].count == 1


def test_an_api_error_while_taking_the_lease_is_said_and_tried_again(tmp_path: Path) -> None:
    from rbgc.sync.cluster import ClusterError

    bundle = build(tmp_path)
    sim = Simulator(kubernetes_version=V)
    said: list[str] = []
    w = _watcher(sim, bundle, said)
    real_get = sim.get
    failures = [ClusterError(503, "ServiceUnavailable", "etcd is busy")]

    def get(ref: Ref) -> Any:
        if ref.kind == "Lease" and failures:
            raise failures.pop()
        return real_get(ref)

    sim.get = get  # type: ignore[method-assign]
    w.step()  # no traceback: the watcher says it and tries again
    assert not w.leading and said == ["503 ServiceUnavailable: etcd is busy"]
    w.step()
    assert w.leading


def test_the_leader_keeps_its_lease_through_a_long_convergence(tmp_path: Path) -> None:
    from rbgc.sync.lease import parse_time

    bundle = build(tmp_path)
    sim = Simulator(kubernetes_version=V, ready_after=90)  # slow pods: converging takes minutes
    watched(sim, bundle, 1)  # one round: the convergence, then a watch; then it lets go
    assert sim.now > 180
    held = sim.get(Ref("coordination.k8s.io/v1", "Lease", "llm", "rbgc-watch"))
    assert held is not None and held["spec"]["holderIdentity"] == ""  # given up at the end
    renewed = (parse_time(held["spec"]["renewTime"]) or 0) - 1_800_000_000.0
    assert sim.now - renewed <= 40  # renewed while it converged, not only when it took it
