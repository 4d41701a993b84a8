"""Resume exactly (issue 12 item 5): a sync killed at any write, rerun, converges, keeps the
plan's maxSkew during the rerun, and applies nothing the plan did not contain. On the
simulator (kill -9 before every single write of the upgrade, lease writes included)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rbgc.bundle import template_hash
from rbgc.plan.formulas import skew_within_bound
from rbgc.sync import lease, resume
from rbgc.sync.cluster import Ref
from rbgc.sync.controller import prepare
from rbgc.sync.run import Connection, Where, status
from rbgc.sync.run import sync as run_sync
from rbgc.sync.simulator import Killed, Simulator
from tests.sync.helpers import V, compiled

COORDINATED = """
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata: {name: pd, namespace: llm}
spec:
  coordination:
    - name: pd-balance
      roles: [prefill, decode]
      strategy:
        rollingUpdate: {maxSkew: "25%"}
  roles:
    - name: prefill
      replicas: 12
      rolloutStrategy: {rollingUpdate: {maxUnavailable: 1}}
      template: {spec: {containers: [{name: s, image: "engine:IMAGE"}]}}
    - name: decode
      replicas: 4
      rolloutStrategy: {rollingUpdate: {maxUnavailable: 1}}
      template: {spec: {containers: [{name: s, image: "engine:IMAGE"}]}}
"""
ROLES = {"prefill": ("StatefulSet", "pd-prefill"), "decode": ("StatefulSet", "pd-decode")}


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[str, str]:
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(COORDINATED.replace("IMAGE", "1"), encoding="utf-8")
    new.write_text(COORDINATED.replace("IMAGE", "2"), encoding="utf-8")
    return str(old), str(new)


def _run(sim: Simulator, path: str, **kw: Any) -> str:
    connected = Connection.simulated(sim)
    return run_sync(
        compiled(path), version=V, where=Where(simulate=True), connected=connected, **kw
    )


def _canonical(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True)


class SkewWatch:
    """After every tick: pods at NEW's revision per role, and whether maxSkew held."""

    def __init__(self, sim: Simulator, new: str) -> None:
        self.sim = sim
        self.revision = {
            m.role: template_hash(m.body) for m in compiled(new).manifests if m.role in ROLES
        }
        self.worst = 0.0
        self.broken: list[dict[str, int]] = []

    def __call__(self) -> None:
        updated, desired = {}, {}
        for role, (kind, name) in ROLES.items():
            pods = self.sim.pods(kind, "llm", name)
            updated[role] = sum(1 for _, rev, _ in pods if rev == self.revision[role])
            desired[role] = len(pods)
        ok, value = skew_within_bound(updated, desired, 25)
        self.worst = max(self.worst, value)
        if not ok:
            self.broken.append(updated)


def test_an_uninterrupted_upgrade_keeps_the_skew(inputs: tuple[str, str]) -> None:
    old, new = inputs
    sim = Simulator()
    _run(sim, old, timeout=600)
    watch = SkewWatch(sim, new)
    sim.observers.append(watch)
    assert _run(sim, new, timeout=600).startswith("converged:")
    assert not watch.broken and watch.worst > 0  # it moved, within the bound
    # Converged: nothing recorded to resume.
    parent = sim.get(Ref("v1", "ConfigMap", "llm", "rbgc-applyset-pd"))
    assert parent is not None and "binaryData" not in parent
    assert resume.OLD_HASH not in parent["metadata"]["annotations"]
    held = sim.get(lease.lease_ref("llm", "pd"))
    assert held is not None and lease.RECORD not in (held["metadata"].get("annotations") or {})


def _upgrade_writes(old: str, new: str) -> int:
    sim = Simulator()
    _run(sim, old, timeout=600)
    before = len(sim.writes)
    _run(sim, new, timeout=600)
    return len(sim.writes) - before


def test_killed_at_every_write_the_rerun_resumes_the_plan(inputs: tuple[str, str]) -> None:
    # issue 12: "a rerun after a kill sees old == new and finishes the remaining partition
    # steps in one apply: with a maxSkew: 25% rule, 4 of 26 cut points reached 50% skew"
    old, new = inputs
    total = _upgrade_writes(old, new)
    assert total > 10
    for cut in range(total):
        sim = Simulator()
        _run(sim, old, timeout=600)
        planned = prepare(sim, compiled(new), V)
        contained = {_canonical(b) for s in planned.steps for b in s.apply}
        sim.kill_after = len(sim.writes) + cut
        with pytest.raises(Killed):
            _run(sim, new, timeout=600)
        sim.kill_after = None
        watch = SkewWatch(sim, new)
        sim.observers.append(watch)
        mark = len(sim.sent)
        out = _run(sim, new, timeout=600, wait_lock=True)  # the dead sync's lock expires
        assert out.startswith("converged:"), cut
        assert not watch.broken, (cut, watch.broken)
        extra = [b for b in sim.sent[mark:] if _canonical(b) not in contained]
        assert not extra, (cut, [Ref.of(b) for b in extra])
        for role, (kind, name) in ROLES.items():
            pods = sim.pods(kind, "llm", name)
            assert {rev for _, rev, _ in pods} == {watch.revision[role]}, (cut, role)
            assert all(ready for *_, ready in pods), (cut, role)
    assert cut == total - 1


def test_the_rerun_plan_skips_the_steps_recorded_done(inputs: tuple[str, str]) -> None:
    old, new = inputs
    sim = Simulator()
    _run(sim, old, timeout=600)
    full = prepare(sim, compiled(new), V)
    rollouts = [s for s in full.steps if s.rollout_step]
    lines: list[str] = []

    def kill_at_the_third_step(line: str) -> None:
        lines.append(line)
        if f"step {rollouts[2].rollout_step}:" in line:
            sim.kill_after = len(sim.writes)  # dead: not even its lock is released
            raise Killed("killed")

    with pytest.raises(Killed):
        _run(sim, new, timeout=600, emit=kill_at_the_third_step)
    sim.kill_after = None
    sim.tick()
    dead = sim.get(lease.lease_ref("llm", "pd"))
    assert dead is not None
    record = json.loads(dead["metadata"]["annotations"][lease.RECORD])
    assert record["done"] == rollouts[1].rollout_step
    # --status shows where the upgrade stands, and who holds the lock.
    connected = Connection.simulated(sim)
    shown = status(
        compiled(new), version=V, where=Where(simulate=True), timeout=60, connected=connected
    )
    total = len(full.rollout.steps)
    assert shown.startswith("llm/pd: ApplySet rbgc-applyset-pd; lock held by rbgc@"), shown
    assert f"upgrade unfinished: OLD {record['old']} -> NEW {record['new']}, " in shown
    assert f"planner step {record['done']} of {total} reached" in shown
    # The plan a rerun makes: OLD from the parent's record, the first two steps skipped.
    records = {"llm/pd": record}
    again = prepare(sim, compiled(new), V, records=records)
    assert [s.rollout_step for s in again.steps if s.rollout_step] == [
        s.rollout_step for s in rollouts[2:]
    ]
    assert f"note: llm/pd: resuming the upgrade after planner step {record['done']}" in "\n".join(
        f"note: {n}" for n in again.notes
    )


def test_an_interrupted_upgrade_resumes_over_http(inputs: tuple[str, str]) -> None:
    # The records round-trip through a real API surface: the parent's binaryData and the
    # Lease's annotation, over HTTP against the emulator.
    from tests.sync.emulator import serve

    old, new = inputs
    with serve() as (emu, url):
        run_sync(compiled(old), version=V, where=Where(server=url), timeout=60)
        lines: list[str] = []

        def stop_at_the_third_planner_step(line: str) -> None:
            lines.append(line)
            if sum("llm/pd step" in x for x in lines) == 3:
                raise KeyboardInterrupt  # Ctrl-C: the lock is released, the records stay

        with pytest.raises(KeyboardInterrupt):
            run_sync(
                compiled(new),
                version=V,
                where=Where(server=url),
                timeout=60,
                emit=stop_at_the_third_planner_step,
            )
        parent = emu.get_object("v1/configmaps", "llm", "rbgc-applyset-pd")
        assert parent is not None and resume.SNAPSHOT in parent["binaryData"]
        record = emu.get_object("coordination.k8s.io/v1/leases", "llm", "rbgc-sync-pd")
        assert record is not None
        assert json.loads(record["metadata"]["annotations"][lease.RECORD])["done"] == 2
        rest: list[str] = []
        out = run_sync(
            compiled(new), version=V, where=Where(server=url), timeout=60, emit=rest.append
        )
        assert out.startswith("converged:")
        planner_steps = [x for x in rest if "llm/pd step" in x]
        assert planner_steps and "llm/pd step 3:" in planner_steps[0]  # 1 and 2 were done
