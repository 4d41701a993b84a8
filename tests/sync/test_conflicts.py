"""Conflicts (issue 12 item 2): server-side apply without force; a field another manager owns is
reported with the field and the manager (RBG913), `--force-conflicts` takes it; the replicas of
a workload an HPA scales are not sent. On the simulator and over HTTP against the emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rbgc.sync.cluster import Cluster, ConflictError, Ref
from rbgc.sync.controller import prepare, render_steps
from rbgc.sync.run import SyncFailed, Where
from rbgc.sync.run import sync as run_sync
from rbgc.sync.simulator import Simulator
from tests.sync.emulator import serve
from tests.sync.helpers import PD, PD_V2, V, compiled, sync

PREFILL = Ref("apps/v1", "StatefulSet", "llm", "sglang-pd-prefill")
DECODE = Ref("apps/v1", "StatefulSet", "llm", "sglang-pd-decode")
CONTAINERS = ("spec", "template", "spec", "containers")


@pytest.fixture(params=["simulator", "http"])
def cluster(request: pytest.FixtureRequest) -> Iterator[tuple[Cluster, Any, str]]:
    """The simulator, or the real adapter over HTTP against the emulator; and its URL."""
    if request.param == "simulator":
        yield Simulator(), None, ""
        return
    from rbgc.sync.kube import connect

    with serve() as (emu, url):
        yield connect(kubeconfig=None, context=None, server=url, timeout=10), emu, url


def _change_as(c: Cluster, emu: Any, ref: Ref, path: tuple[str, ...], value: Any, who: str) -> None:
    """Another field manager changes one field of a live object (and so owns it)."""
    if emu is None:
        assert isinstance(c, Simulator)
        body: dict[str, Any] = {
            "apiVersion": ref.api_version,
            "kind": ref.kind,
            "metadata": {"name": ref.name, "namespace": ref.namespace},
        }
        node = body
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
        c.apply(body, force=True, manager=who)
    else:
        emu.update_as(f"apps/v1/{ref.kind.lower()}s", ref.namespace, ref.name, {path: value}, who)


def _emergency_patch(c: Cluster, emu: Any) -> list[dict[str, Any]]:
    live = c.get(PREFILL)
    assert live is not None
    containers = live["spec"]["template"]["spec"]["containers"]
    containers[0].setdefault("env", []).append({"name": "HOTFIX", "value": "1"})
    _change_as(c, emu, PREFILL, CONTAINERS, containers, "kubectl-edit")
    return list(containers)


def test_a_field_another_manager_owns_is_a_conflict_naming_field_and_manager(
    cluster: tuple[Cluster, Any, str],
) -> None:
    c, emu, _ = cluster
    sync(c, [PD])
    patched = _emergency_patch(c, emu)
    with pytest.raises(ConflictError) as caught:
        sync(c, [PD_V2])
    assert caught.value.conflicts == ((".spec.template.spec.containers", "kubectl-edit"),)
    assert caught.value.subject == str(PREFILL)
    live = c.get(PREFILL)
    assert live is not None and live["spec"]["template"]["spec"]["containers"] == patched


def test_force_conflicts_takes_ownership(cluster: tuple[Cluster, Any, str]) -> None:
    c, emu, _ = cluster
    sync(c, [PD])
    _emergency_patch(c, emu)
    sync(c, [PD_V2], force=True)
    live = c.get(PREFILL)
    assert live is not None
    containers = live["spec"]["template"]["spec"]["containers"]
    assert "HOTFIX" not in json.dumps(containers)
    assert containers[0]["image"] == "lmsysorg/sglang:v0.5.3"
    sync(c, [PD_V2])  # rbgc owns them now: no conflict without force either


def test_the_conflict_is_rbg913_with_exit_5_over_http() -> None:
    from rbgc.sync.kube import connect

    with serve() as (emu, url):
        c = connect(kubeconfig=None, context=None, server=url, timeout=10)
        sync(c, [PD])
        _emergency_patch(c, emu)
        with pytest.raises(SyncFailed) as caught:
            run_sync(compiled(PD_V2), version=V, where=Where(server=url), timeout=30)
        out = run_sync(
            compiled(PD_V2), version=V, where=Where(server=url), timeout=30, force_conflicts=True
        )
    d = caught.value.diagnostic
    assert d.code == "RBG913" and caught.value.failure == 5
    assert (
        "StatefulSet llm/sglang-pd-prefill: .spec.template.spec.containers is owned by field "
        "manager 'kubectl-edit'" in d.message
    )
    assert "--force-conflicts" in (d.help or "")
    assert out.startswith("converged:")


HPA = {
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "decode", "namespace": "llm"},
    "spec": {
        "scaleTargetRef": {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "name": "sglang-pd-decode",
        },
        "minReplicas": 1,
        "maxReplicas": 8,
    },
}


def _sent_replicas(c: Cluster, emu: Any, ref: Ref, since: int) -> list[Any]:
    """`spec.replicas` of every apply of `ref` after the first `since` writes/requests."""
    if emu is None:
        assert isinstance(c, Simulator)
        return [
            b.get("spec", {}).get("replicas", "absent") for b in c.sent[since:] if Ref.of(b) == ref
        ]
    out = []
    for r in list(emu)[since:]:
        if str(r.method).upper().endswith("PATCH") and r.url.path.endswith(f"/{ref.name}"):
            out.append(json.loads(r.body).get("spec", {}).get("replicas", "absent"))
    return out


def _mark(c: Cluster, emu: Any) -> int:
    return len(c.sent) if isinstance(c, Simulator) else len(list(emu))


def test_an_hpa_in_the_cluster_keeps_its_replicas(cluster: tuple[Cluster, Any, str]) -> None:
    c, emu, _ = cluster
    sync(c, [PD])
    c.apply(HPA)
    _change_as(c, emu, DECODE, ("spec", "replicas"), 5, "kube-controller-manager")
    steps = render_steps(prepare(c, compiled(PD_V2), V))
    assert "note: StatefulSet llm/sglang-pd-decode: replicas are not sent" in steps
    mark = _mark(c, emu)
    sync(c, [PD_V2])
    sent = _sent_replicas(c, emu, DECODE, mark)
    assert sent and set(sent) == {"absent"}
    live = c.get(DECODE)
    assert live is not None and live["spec"]["replicas"] == 5
    assert live["status"]["readyReplicas"] == 5  # the waits followed the HPA's count


def test_an_hpa_in_the_bundle_keeps_its_replicas_once_created(
    cluster: tuple[Cluster, Any, str], tmp_path: Path
) -> None:
    c, emu, _ = cluster
    source = tmp_path / "pd.yaml"
    hpa = json.dumps(HPA)
    source.write_text(Path(PD).read_text(encoding="utf-8") + "\n---\n" + hpa + "\n", "utf-8")
    sync(c, [str(source)])
    live = c.get(DECODE)
    assert live is not None and live["spec"]["replicas"] == 1  # created as compiled
    _change_as(c, emu, DECODE, ("spec", "replicas"), 4, "kube-controller-manager")
    mark = _mark(c, emu)
    sync(c, [str(source)])
    assert set(_sent_replicas(c, emu, DECODE, mark)) <= {"absent"}
    live = c.get(DECODE)
    assert live is not None and live["spec"]["replicas"] == 4
