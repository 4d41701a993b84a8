"""In-place updates and warm-ups over real HTTP: the official client against kmock's emulator
with pods (tests/upgrades/emulator_pods.py).

The wire is what Kubernetes serves: a strategic merge patch of the pod (`PATCH
/api/v1/namespaces/NS/pods/NAME`, `application/strategic-merge-patch+json`) for its images and
labels, and of its `status` subresource for the readiness-gate condition (pods/status is how
upstream's controller writes it: inplace_update.go `updateCondition` :154-168 calls
`UpdatePodStatus`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rbgc.bundle import Bundle
from rbgc.model import Target
from rbgc.pipeline import Options, compile_documents
from rbgc.source import parse_text
from rbgc.sync import run
from rbgc.sync.connect import Connection
from rbgc.sync.kube import KubeCluster, connect
from tests.conftest import ROOT
from tests.sync.emulator import serve
from tests.sync.helpers import FastClock
from tests.upgrades.emulator_pods import PODS, PodServer

V = (1, 33)
# The PD example without prefill's 10 s grace period: the simulator's tests wait it out in
# simulated seconds; here every wait without news costs a real second.
OLD_TEXT = (
    (ROOT / "examples" / "pd-inplace.yaml")
    .read_text()
    .replace("gracePeriodSeconds: 10", "gracePeriodSeconds: 0")
)
NEW_TEXT = (
    (ROOT / "upgrades" / "pd-inplace-v2.yaml")
    .read_text()
    .replace("gracePeriodSeconds: 10", "gracePeriodSeconds: 0")
)


def compiled(text: str) -> Bundle:
    docs = parse_text(text, "pd.yaml")
    options = Options(target=Target(in_place=True), warmup_later=True)
    return compile_documents(docs, options).bundle


OLD, NEW = OLD_TEXT, NEW_TEXT


@pytest.fixture
def served() -> Iterator[tuple[PodServer, KubeCluster, FastClock]]:
    with serve(PodServer()) as (emu, url):
        cluster = connect(kubeconfig=None, context=None, server=url, timeout=10)
        clock = FastClock()
        cluster.clock = clock  # its watches wait on the test's clock
        yield emu, cluster, clock


def sync(cluster: KubeCluster, clock: FastClock, path: str, **kw: Any) -> str:
    return run.sync(
        compiled(path),
        version=V,
        where=run.Where(server="emulator"),
        timeout=600,
        connected=Connection(
            cluster=cluster, clock=clock, wall=lambda: 1_800_000_000.0 + clock.t, poll=1.0
        ),
        **kw,
    )


def pods(emu: PodServer, prefix: str) -> dict[str, tuple[str, str, str]]:
    return {
        name: (p["metadata"]["uid"], p["spec"]["nodeName"], p["spec"]["containers"][0]["image"])
        for (plural, _, name), p in sorted(emu.store.items())
        if plural == PODS and name.startswith(prefix)
    }


def test_the_same_pods_get_the_new_images_over_http(
    served: tuple[PodServer, KubeCluster, FastClock],
) -> None:
    emu, cluster, clock = served
    sync(cluster, clock, OLD)
    before = {r: pods(emu, f"llm-pd-{r}-") for r in ("prefill", "decode")}
    assert len(before["prefill"]) == 4 and len(before["decode"]) == 2
    emu.patches.clear()
    sync(cluster, clock, NEW)
    for role, was in before.items():
        now = pods(emu, f"llm-pd-{role}-")
        # same names, UIDs and nodes; the new image
        assert {n: v[:2] for n, v in now.items()} == {n: v[:2] for n, v in was.items()}
        assert {v[2] for v in now.values()} == {"lmsysorg/sglang:v0.5.5"}
        sts = emu.store[("apps/v1/statefulsets", "llm", f"llm-pd-{role}")]
        assert sts["status"]["updatedReplicas"] == sts["status"]["readyReplicas"] == len(was)
    order: dict[str, list[str]] = {}
    for pod, sub, patch in emu.patches:
        if sub == "status":
            (condition,) = patch["status"]["conditions"]
            order.setdefault(pod, []).append(f"gate {condition['status']}")
        else:
            order.setdefault(pod, []).append("images")
            assert patch["spec"]["containers"] == [
                {"name": "sglang", "image": "lmsysorg/sglang:v0.5.5"}
            ]
            assert patch["metadata"]["labels"]["controller-revision-hash"].startswith("llm-pd-")
    assert order == {
        name: ["gate False", "images", "gate True"]
        for role in ("prefill", "decode")
        for name in before[role]
    }
    # highest ordinal first, one prefill pod at a time (maxUnavailable 1)
    prefill = [p for p, sub, _ in emu.patches if sub == "" and "prefill" in p]
    assert prefill == [f"llm-pd-prefill-{i}" for i in (3, 2, 1, 0)]


def test_a_warm_up_over_http_creates_pinned_jobs_and_removes_them(
    served: tuple[PodServer, KubeCluster, FastClock],
) -> None:
    emu, cluster, clock = served
    sync(cluster, clock, OLD)
    nodes = {
        v[1] for r in ("prefill", "decode", "router") for v in pods(emu, f"llm-pd-{r}-").values()
    }
    mark = len(emu.writes)
    sync(cluster, clock, NEW, warmup=True)
    writes = emu.writes[mark:]
    applied = [
        name for verb, plural, name in writes if plural == "batch/v1/jobs" and verb == "apply"
    ]
    deleted = [
        name for verb, plural, name in writes if plural == "batch/v1/jobs" and verb == "delete"
    ]
    engine_nodes = {n for n in nodes if "router" not in n}
    assert {a.rpartition("-warmup-")[2] for a in applied if "router" not in a} == engine_nodes
    assert sorted(applied) == sorted(deleted)  # what rbgc made for the upgrade, removed
    first_update = next(i for i, (verb, plural, _) in enumerate(writes) if verb == "patch")
    last_engine_job = max(
        i
        for i, (verb, plural, name) in enumerate(writes)
        if plural == "batch/v1/jobs" and verb == "apply"
    )
    assert last_engine_job < first_update


def test_a_node_that_cannot_pull_is_rbg805_over_http(
    served: tuple[PodServer, KubeCluster, FastClock],
) -> None:
    emu, cluster, clock = served
    sync(cluster, clock, OLD)
    emu.failing_nodes.add("node-llm-pd-prefill-2")
    emu.patches.clear()
    with pytest.raises(run.SyncFailed) as exc:
        sync(cluster, clock, NEW, warmup=True)
    assert exc.value.diagnostic.code == "RBG805"
    assert not emu.patches  # no pod was touched
