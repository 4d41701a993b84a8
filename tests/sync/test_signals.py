"""A sync stopped by a signal (issue 20 item 1): `rbgc sync` run as a real process, sent a real
SIGTERM (a Pod being stopped, a CI job cancelled) or SIGINT (^C) while it waits for pods,
stops between two writes, releases every Lease, says what it applied and how to continue, and
exits 143 / 130 as shells report those signals. Against the emulator over HTTP (where the
Lease is looked at, and a rerun is not refused) and against the simulator."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rbgc.sync import lease
from rbgc.sync.failure import Stop
from rbgc.sync.run import Connection, SyncFailed, Where
from rbgc.sync.run import sync as run_sync
from rbgc.sync.simulator import Faults, Simulator
from tests.sync.emulator import serve
from tests.sync.helpers import PD, V, compiled

ROOT = Path(__file__).resolve().parents[2]
LEASE = ("coordination.k8s.io/v1/leases", "llm", "rbgc-sync-sglang-pd")


class Process:
    """`rbgc sync ...` as a child process; its stderr lines as they come."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
        self.child = subprocess.Popen(
            [sys.executable, "-m", "rbgc", "sync", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        self.lines: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.said: list[str] = []
        assert self.child.stderr is not None
        stream = self.child.stderr

        def read() -> None:
            for line in stream:
                self.lines.put(line)

        self.reader = threading.Thread(target=read)
        self.reader.start()

    def wait_for(self, text: str) -> None:
        """Until a stderr line holds `text`; fails after 60 s or when the process ends."""
        while True:
            try:
                line = self.lines.get(timeout=60)
            except queue.Empty:
                self.child.kill()
                raise AssertionError(f"no line with {text!r} in 60 s: {self.said}") from None
            self.said.append(line)
            if text in line:
                return

    def end(self, signum: int) -> tuple[int, str]:
        self.child.send_signal(signum)
        try:
            self.child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.child.kill()
            raise
        self.reader.join(timeout=60)
        assert self.child.stdout is not None and self.child.stderr is not None
        self.child.stdout.close()
        self.child.stderr.close()
        while not self.lines.empty():
            self.said.append(self.lines.get())
        return self.child.returncode, "".join(self.said)


@pytest.fixture
def slow_emulator() -> Iterator[tuple[Any, str]]:
    with serve() as (emu, url):
        emu.ready_after = 600.0  # pods take ten minutes: the sync waits in wave 0
        yield emu, url


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_sync_releases_its_lease_and_says_how_to_go_on(
    slow_emulator: tuple[Any, str], signum: int, code: int
) -> None:
    # issue 20: SIGTERM killed a plain sync with nothing printed and its Lease held for 60 s
    # (the next run was refused); SIGINT printed `Aborted!` and exited 1 ("invalid input")
    emu, url = slow_emulator
    sync = Process("--server", url, "--timeout", "900", PD)
    sync.wait_for("wave 0: llm/sglang-pd step 1")  # applied; now waiting for its pods
    held = emu.get_object(*LEASE)
    assert held is not None and held["spec"]["holderIdentity"].startswith("rbgc@")
    exit_code, said = sync.end(signum)
    name = signal.Signals(signum).name
    assert exit_code == code, said
    assert f"error[RBG918]: stopped by {name} between two writes; every lock was released" in said
    assert "rbgc: sync stopped in step 4/9 (wave 0: llm/sglang-pd step 1" in said
    assert "What was applied stays applied: run `rbgc sync` again to continue" in said
    assert "Traceback" not in said and "Aborted" not in said
    released = emu.get_object(*LEASE)
    assert released is not None and released["spec"]["holderIdentity"] == ""
    # The rerun is not refused (no RBG915): it takes the Lease and converges.
    emu.ready_after = 0.0
    emu.make_ready()
    out = run_sync(compiled(PD), version=V, where=Where(server=url), timeout=60)
    assert out.startswith("converged: 9 step(s)")


def test_a_signal_stops_a_simulated_sync_too() -> None:
    sync = Process(
        "--simulate", "--timeout", "100000", "--fault", "never-ready=sglang-pd-decode-0", PD
    )
    sync.wait_for("wave 0: llm/sglang-pd step 1")
    exit_code, said = sync.end(signal.SIGTERM)
    assert exit_code == 143, said
    assert "error[RBG918]: stopped by SIGTERM between two writes" in said
    assert "run `rbgc sync` again to continue" in said


def test_the_stop_is_honoured_before_the_next_write_and_the_lease_is_released() -> None:
    sim = Simulator(
        kubernetes_version=V, faults=Faults(never_ready=frozenset({"sglang-pd-decode-0"}))
    )
    stop = Stop()
    writes: list[int] = []

    def event(e: dict[str, Any]) -> None:
        if e.get("event") == "step-started" and e["step"] == 4:
            writes.append(len(sim.writes))
            stop.set(signal.SIGTERM)  # as the handler does, in the middle of step 4's start

    with pytest.raises(SyncFailed) as caught:
        run_sync(
            compiled(PD),
            version=V,
            where=Where(simulate=True),
            timeout=600,
            connected=Connection.simulated(sim),
            events=event,
            stop=stop,
        )
    assert caught.value.failure == 143 and caught.value.diagnostic.code == "RBG918"
    # Nothing was written after the signal but the release of the Lease.
    after = sim.writes[writes[0] :]
    assert [(verb, ref.kind) for verb, ref in after] == [("replace", "Lease")]
    held = sim.get(lease.lease_ref("llm", "sglang-pd"))
    assert held is not None and held["spec"]["holderIdentity"] == ""
    assert caught.value.progress.done == {1, 2, 3}
    assert caught.value.aftermath().startswith(
        "rbgc: sync stopped in step 4/9 (wave 0: llm/sglang-pd step 1"
    )
    assert "steps 1-3 applied, step 4 in part; steps 5-9 not." in caught.value.aftermath()
