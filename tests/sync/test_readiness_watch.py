"""Waiting for readiness reads by list + watch (issue 20 item 2): the requests a sync sends do
not grow with how long pods take to get ready, on the simulator and over real HTTP against
the emulator; a write's answer is never overtaken by an older event."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from rbgc.sync.cluster import Feed, Ref
from rbgc.sync.informer import Informer
from rbgc.sync.run import Connection, Where
from rbgc.sync.run import sync as run_sync
from rbgc.sync.simulator import Simulator
from tests.sync.emulator import serve
from tests.sync.helpers import PD, PD_V2, V, compiled

READS = ("get", "list", "watch")


def _simulated(ready_after: int, *paths: str) -> tuple[Counter[str], int]:
    sim = Simulator(kubernetes_version=V, ready_after=ready_after)
    for path in paths:
        out = run_sync(
            compiled(path),
            version=V,
            where=Where(simulate=True),
            timeout=3600,
            connected=Connection.simulated(sim),
        )
        assert out.startswith("converged")
    return sim.requests, sim.now


def test_reads_do_not_grow_with_readiness_time_on_the_simulator() -> None:
    # issue 20: 25 reads when pods were ready in 1 s, 37 in 9 s, for one small group
    quick, quick_s = _simulated(1, PD, PD_V2)
    slow, slow_s = _simulated(120, PD, PD_V2)
    assert slow_s > 10 * quick_s  # the same install and upgrade, ten times as long
    assert {v: slow[v] for v in READS} == {v: quick[v] for v in READS}
    assert slow["patch"] == quick["patch"] and slow["delete"] == quick["delete"]
    # One watch per kind and namespace a sync waits on, per sync: StatefulSets and
    # Deployments in llm.
    assert quick["watch"] == 2 * 2
    # Only the Leases' renewals (every 20 s while the sync runs) grow with the time.
    assert slow["update"] > quick["update"]


def _over_http(ready_after: float, steps: int) -> Counter[str]:
    with serve() as (emu, url):
        emu.ready_after, emu.ready_steps = ready_after, steps
        out = run_sync(compiled(PD), version=V, where=Where(server=url), timeout=60)
        assert out.startswith("converged")
        sent: Counter[str] = Counter()
        for r in list(emu):
            method = str(r.method).rpartition(".")[2].upper()
            params = dict(r.params)
            sent["watch" if params.get("watch") else method] += 1
        # Every workload went through each status update the toy controller made.
        for key in (
            ("apps/v1/statefulsets", "llm", "sglang-pd-prefill"),
            ("apps/v1/deployments", "llm", "sglang-pd-router"),
        ):
            body = emu.get_object(*key)
            assert body is not None and body["status"]["readyReplicas"] == body["spec"]["replicas"]
        return sent


def test_reads_do_not_grow_with_readiness_time_over_http() -> None:
    quick = _over_http(0.05, 1)
    slow = _over_http(1.0, 10)  # twenty times as long, a status update every 0.1 s
    assert slow == quick
    assert quick["watch"] == 2  # StatefulSets and Deployments in llm, each watched once


def test_a_writes_answer_is_not_overtaken_by_an_older_event() -> None:
    sim = Simulator(kubernetes_version=V, ready_after=5)
    cm = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "n"},
    }
    body: dict[str, Any] = {
        **cm,
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"a": "d"}},
            "template": {"spec": {"containers": [{"name": "c", "image": "i:1"}]}},
        },
    }
    sim.apply(body)
    informer = Informer(sim)
    feed = Feed("apps/v1", "Deployment", "n")
    informer.follow(feed)
    for _ in range(6):
        sim.tick()
    informer.wait(0)
    ready = informer.get(Ref.of(body))
    assert ready is not None and ready["status"]["readyReplicas"] == 1
    # A new template: the answer (generation 2, nothing updated yet) goes in the cache ...
    body["spec"]["template"]["spec"]["containers"][0]["image"] = "i:2"
    answer = sim.apply(body)
    informer.wrote(answer)
    # ... and the watch's older events (generation 1, all ready) cannot undo it.
    assert informer.get(Ref.of(body)) == {**answer, "apiVersion": "apps/v1", "kind": "Deployment"}
    stale = {**ready, "metadata": {**ready["metadata"], "generation": 1}}
    assert not informer._take(feed, "MODIFIED", stale)
    current = informer.get(Ref.of(body))
    assert current is not None and current["metadata"]["generation"] == 2
    informer.close()


@pytest.mark.parametrize("where", ["simulator", "http"])
def test_a_compacted_version_lists_again_once_the_watch_ends(where: str) -> None:
    def check(cluster: Any, compact: Any, cut: Any) -> None:
        informer = Informer(cluster)
        feed = Feed("v1", "ConfigMap", "llm")
        informer.follow(feed)
        assert informer.objects(feed) == []
        cm = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "x", "namespace": "llm"},
        }
        cluster.apply(cm)
        while not informer.objects(feed):
            assert informer.wait(1.0) or informer.objects(feed), "the watch brought nothing"
        # The watch ends (an API server restart); meanwhile y is written and etcd compacts
        # past the version the informer got to: started again from there, it is 410 Gone.
        cut()
        cluster.apply({**cm, "metadata": {"name": "y", "namespace": "llm"}})
        compact()
        for _ in range(20):
            informer.wait(1.0)
            if informer.relists:
                break
        names = [o["metadata"]["name"] for o in informer.objects(feed)]
        assert names == ["x", "y"] and informer.relists == 1
        informer.close()

    if where == "simulator":
        sim = Simulator(kubernetes_version=V)
        check(sim, sim.compact, sim.cut_watches)
        return
    from rbgc.sync.kube import connect

    with serve() as (emu, url):
        check(connect(kubeconfig=None, context=None, server=url), emu.compact, emu.cut)
