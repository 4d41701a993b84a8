"""One sync at a time (issue 12 item 4): a Lease per group; a second sync stops (RBG915) or
waits (--wait-lock); an expired Lease is taken over and its old holder cannot report success.
On the simulator (deterministic interleavings) and over HTTP with two real threads."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from rbgc.sync import lease
from rbgc.sync.cluster import Ref
from rbgc.sync.run import SIMULATED_EPOCH, Connection, SyncFailed, Where
from rbgc.sync.run import sync as run_sync
from rbgc.sync.simulator import Simulator
from tests.sync.emulator import serve
from tests.sync.helpers import PD, PD_V2, V, compiled

LEASE = lease.lease_ref("llm", "sglang-pd")
PREFILL = Ref("apps/v1", "StatefulSet", "llm", "sglang-pd-prefill")


def _wall(sim: Simulator) -> Any:
    return lambda: SIMULATED_EPOCH + sim.now


def _run(sim: Simulator, path: str, **kw: Any) -> str:
    connected = Connection.simulated(sim)
    return run_sync(
        compiled(path), version=V, where=Where(simulate=True), connected=connected, **kw
    )


def _spec(sim: Simulator) -> dict[str, Any]:
    found = sim.get(LEASE)
    assert found is not None
    return dict(found["spec"])


def test_a_sync_takes_and_releases_the_groups_lease() -> None:
    sim = Simulator()
    assert _run(sim, PD, timeout=600).startswith("converged:")
    spec = _spec(sim)
    assert spec["holderIdentity"] == ""  # released
    assert spec["leaseDurationSeconds"] == lease.DURATION
    assert spec["renewTime"].endswith("Z") and lease.parse_time(spec["renewTime"]) is not None
    creates = [ref for verb, ref in sim.writes if verb == "create"]
    assert creates == [LEASE]  # taken before anything else was written
    assert sim.writes[0] == ("create", LEASE)


def test_a_held_lease_stops_a_second_sync_before_it_writes() -> None:
    sim = Simulator()
    other = lease.Lock(sim, now=_wall(sim), holder="rbgc@ci-runner/42/abc")
    other.acquire([("llm", "sglang-pd")])
    before = list(sim.writes)
    with pytest.raises(SyncFailed) as caught:
        _run(sim, PD, timeout=600)
    failed = caught.value
    assert failed.diagnostic.code == "RBG915" and failed.failure == 5
    assert "group llm/sglang-pd is being synced by rbgc@ci-runner/42/abc" in str(failed)
    assert "--wait-lock" in (failed.diagnostic.help or "")
    assert sim.writes == before  # nothing applied, the lease untouched
    assert failed.aftermath() == "rbgc: sync stopped before changing anything in the cluster"


def test_wait_lock_waits_until_a_dead_syncs_lease_expires_then_takes_it() -> None:
    sim = Simulator()
    dead = lease.Lock(sim, now=_wall(sim), holder="rbgc@gone/1/dead")
    dead.acquire([("llm", "sglang-pd")])  # never renewed nor released: its process died
    out = _run(sim, PD, timeout=600, wait_lock=True)
    assert out.startswith("converged:")
    assert sim.now >= lease.DURATION  # it waited for the expiry, not less
    assert _spec(sim)["leaseTransitions"] == 1


def test_wait_lock_gives_up_at_the_timeout() -> None:
    sim = Simulator()
    lease.Lock(sim, now=_wall(sim), holder="rbgc@busy/1/x").acquire([("llm", "sglang-pd")])
    with pytest.raises(SyncFailed) as caught:
        _run(sim, PD, timeout=30, wait_lock=True)
    assert caught.value.diagnostic.code == "RBG915"
    assert sim.now <= 30


def test_a_sync_whose_lease_was_taken_over_cannot_report_success() -> None:
    # issue 12: sync A (to v2) and sync B (back to v1) both printed "converged"
    sim = Simulator()
    _run(sim, PD, timeout=600)
    taker = lease.Lock(sim, now=_wall(sim), holder="rbgc@b/2/b")
    took: list[bool] = []

    def stall_then_lose_the_lock(line: str) -> None:
        # A stalls past its lease's expiry during its first rollout step; B takes the lock.
        if not took and "step" in line and "prefill" in line:
            for _ in range(lease.DURATION + 1):
                sim.tick()
            taker.acquire([("llm", "sglang-pd")])
            took.append(True)

    with pytest.raises(SyncFailed) as caught:
        _run(sim, PD_V2, timeout=600, emit=stall_then_lose_the_lock)
    assert took
    assert caught.value.diagnostic.code == "RBG915"
    assert "taken over by rbgc@b/2/b" in str(caught.value)
    assert _spec(sim)["holderIdentity"] == "rbgc@b/2/b"  # A did not release B's lock


def test_two_concurrent_syncs_over_http_cannot_both_succeed() -> None:
    with serve() as (emu, url):
        emu.ready = False  # A's first wave waits until the toy controller catches up
        results: dict[str, Any] = {}

        def sync_a() -> None:
            try:
                results["a"] = run_sync(
                    compiled(PD_V2), version=V, where=Where(server=url), timeout=60
                )
            except SyncFailed as exc:
                results["a"] = exc

        a = threading.Thread(target=sync_a)
        a.start()

        def a_holds_the_lock_and_applied() -> bool:
            held = emu.get_object("coordination.k8s.io/v1/leases", "llm", LEASE.name)
            return bool(
                held
                and held["spec"]["holderIdentity"]
                and emu.get_object("apps/v1/statefulsets", "llm", PREFILL.name)
            )

        if not emu.wait_until(a_holds_the_lock_and_applied, timeout=30):
            emu.make_ready()
            a.join(timeout=60)
            pytest.fail(f"A never held the lock with something applied: {results}")
        try:
            with pytest.raises(SyncFailed) as caught:
                run_sync(compiled(PD), version=V, where=Where(server=url), timeout=60)
        finally:
            emu.make_ready()
            a.join(timeout=60)
        assert caught.value.diagnostic.code == "RBG915"
        assert str(results["a"]).startswith("converged:")
        live = emu.get_object("apps/v1/statefulsets", "llm", PREFILL.name)
        assert live is not None
        assert live["spec"]["template"]["spec"]["containers"][0]["image"].endswith("v0.5.3")


def test_the_time_waited_for_the_lock_counts_against_the_timeout() -> None:
    sim = Simulator()
    lease.Lock(sim, now=_wall(sim), holder="rbgc@gone/1/dead").acquire([("llm", "sglang-pd")])
    with pytest.raises(SyncFailed) as caught:
        _run(sim, PD, timeout=lease.DURATION + 2, wait_lock=True)  # 2 s left to converge
    assert caught.value.diagnostic.code == "RBG912"
    assert sim.now <= lease.DURATION + 4


def test_the_locks_of_several_groups_are_taken_all_or_none() -> None:
    sim = Simulator()
    lease.Lock(sim, now=_wall(sim), holder="rbgc@other/1/x").acquire([("llm", "b")])
    mine = lease.Lock(sim, now=_wall(sim), holder="rbgc@me/2/y")
    with pytest.raises(lease.LeaseHeld):
        mine.acquire([("llm", "a"), ("llm", "b"), ("llm", "c")])
    assert not mine.held
    a = sim.get(lease.lease_ref("llm", "a"))
    assert a is not None and a["spec"]["holderIdentity"] == ""  # taken, then given back
    assert sim.get(lease.lease_ref("llm", "c")) is None  # never reached
