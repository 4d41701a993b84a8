"""Retries and time (issue 12 item 3), over real HTTP: transient failures are retried with
exponential backoff and jitter (deterministic: an injected clock and random), honouring
Retry-After; every request is bounded by what is left of --timeout; permanent errors are
reported at once with what was and was not applied."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from rbgc.sync.cluster import DeadlineExceeded, Ref
from rbgc.sync.kube import KubeCluster, connect
from rbgc.sync.run import SyncFailed, Where
from rbgc.sync.run import sync as run_sync
from tests.sync.emulator import Fault, serve
from tests.sync.helpers import PD, V, compiled, sync

PREFILL_PATH = r"/statefulsets/sglang-pd-prefill$"
ROUTER_PATH = r"/deployments/sglang-pd-router$"


class TickingClock:
    """The retries' clock: sleeping only advances it (and is recorded)."""

    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds

    def wait(self, wake: threading.Event, seconds: float) -> None:
        """A watch's event comes over loopback within milliseconds: waited for in real
        time; the fake time moves on only when none came."""
        if not wake.wait(min(seconds, 1.0)):
            self.sleep(seconds)


@pytest.fixture
def http() -> Iterator[tuple[Any, KubeCluster, TickingClock]]:
    with serve() as (emu, url):
        cluster = connect(kubeconfig=None, context=None, server=url, timeout=10)
        clock = TickingClock()
        cluster.clock = clock
        cluster.random = lambda: 0.5  # jitter, made deterministic
        cluster.bound(600)
        yield emu, cluster, clock


def _sent(emu: Any, method: str, path: str) -> int:
    import re

    return sum(
        1
        for r in list(emu)
        if str(r.method).upper().endswith(method) and re.search(path, r.url.path)
    )


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (500, "InternalError"),
        (503, "ServiceUnavailable"),
        (429, "TooManyRequests"),
        (409, "Conflict"),
    ],
)
def test_transient_answers_are_retried_and_the_sync_converges(
    http: tuple[Any, KubeCluster, TickingClock], status: int, reason: str
) -> None:
    emu, cluster, clock = http
    emu.faults.append(Fault("PATCH", PREFILL_PATH, status, times=3, reason=reason))
    sync(cluster, [PD])
    assert _sent(emu, "PATCH", PREFILL_PATH) == 5  # three refusals, then its two applies
    # Exponential backoff with equal jitter: (step/2 + 0.5 * step/2) for steps 0.5, 1, 2.
    assert clock.slept == [0.375, 0.75, 1.5]
    assert cluster.get(Ref("apps/v1", "StatefulSet", "llm", "sglang-pd-prefill")) is not None


def test_retry_after_is_honoured(http: tuple[Any, KubeCluster, TickingClock]) -> None:
    emu, cluster, clock = http
    emu.faults.append(
        Fault("PATCH", PREFILL_PATH, 429, reason="TooManyRequests", headers={"Retry-After": "7"})
    )
    sync(cluster, [PD])
    assert clock.slept == [7.0]


def test_a_connection_reset_is_retried(http: tuple[Any, KubeCluster, TickingClock]) -> None:
    emu, cluster, clock = http
    emu.faults.append(Fault("GET", r"/statefulsets$", 0, times=2))
    sync(cluster, [PD])
    assert clock.slept == [0.375, 0.75]


def test_retries_stop_when_the_timeout_would_pass(
    http: tuple[Any, KubeCluster, TickingClock],
) -> None:
    emu, cluster, clock = http
    cluster.bound(10)
    emu.faults.append(Fault("PATCH", PREFILL_PATH, 503, times=100, headers={"Retry-After": "4"}))
    with pytest.raises(DeadlineExceeded) as caught:
        sync(cluster, [PD])
    # The third answer asks for 4 s more with 2 s left: the sync stops without waiting.
    assert caught.value.attempts == 3 and caught.value.retry_after == 4.0
    assert caught.value.cause is not None and caught.value.cause.code == 503
    assert caught.value.left == pytest.approx(2.0)
    assert clock.slept == [4.0, 4.0] and clock.t <= 10


def test_a_retry_after_past_the_timeout_says_that_is_why_it_stopped() -> None:
    # issue 20 item 6: a 429 asking for 30 s with 5 s of --timeout left ended in a plain
    # "429 TooManyRequests" (RBG910, exit 5), as if the server had refused for good
    with serve() as (emu, url):
        emu.faults.append(
            Fault(
                "GET",
                r"/statefulsets$",
                429,
                reason="TooManyRequests",
                headers={"Retry-After": "30"},
            )
        )
        with pytest.raises(SyncFailed) as caught:
            run_sync(compiled(PD), version=V, where=Where(server=url), timeout=5)
        assert _sent(emu, "GET", r"/statefulsets$") == 1  # no waiting that could not help
    failed = caught.value
    assert failed.diagnostic.code == "RBG914" and failed.failure == 4
    assert failed.diagnostic.message.startswith(
        "the cluster answered 429 TooManyRequests to `list statefulsets.apps in namespace llm` "
        "and asked to retry after 30s (Retry-After), but only "
    )
    assert "s of --timeout 5s were left: stopped without waiting" in failed.diagnostic.message
    assert "--qps" in (failed.diagnostic.help or "")


def test_a_hung_server_ends_within_the_timeout() -> None:
    # issue 12: with the API server hung and --timeout 5 the sync exited after 120.7 s
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)  # accepts connections (the kernel does), never answers
    url = f"http://127.0.0.1:{server.getsockname()[1]}"
    start = time.monotonic()
    try:
        with pytest.raises(SyncFailed) as caught:
            run_sync(compiled(PD), version=V, where=Where(server=url), timeout=2)
    finally:
        server.close()
    elapsed = time.monotonic() - start
    assert elapsed < 4, elapsed
    failed = caught.value
    assert failed.diagnostic.code == "RBG914" and failed.failure == 4
    assert "within --timeout 2s" in failed.diagnostic.message
    assert failed.aftermath() == "rbgc: sync stopped before changing anything in the cluster"


def test_a_deadline_that_passed_sends_nothing(http: tuple[Any, KubeCluster, TickingClock]) -> None:
    emu, cluster, _ = http
    cluster.bound(0)
    before = len(list(emu))
    with pytest.raises(DeadlineExceeded):
        cluster.get(Ref("apps/v1", "StatefulSet", "llm", "x"))
    assert len(list(emu)) == before


def test_a_403_on_the_first_list_names_verb_and_resource_and_claims_nothing() -> None:
    # issue 12: "A 403 on the very first list says 'steps before this one stay applied'"
    with serve() as (emu, url):
        emu.faults.append(Fault("GET", r"/statefulsets$", 403, times=100, reason="Forbidden"))
        with pytest.raises(SyncFailed) as caught:
            run_sync(compiled(PD), version=V, where=Where(server=url), timeout=30)
        assert _sent(emu, "GET", r"/statefulsets$") == 1  # permanent: not retried
    failed = caught.value
    assert failed.failure == 5 and failed.diagnostic.code == "RBG910"
    assert "403 Forbidden to `list statefulsets.apps in namespace llm`" in failed.diagnostic.message
    assert "grant rbgc's identity `list` on `statefulsets.apps`" in (failed.diagnostic.help or "")
    assert failed.aftermath() == "rbgc: sync stopped before changing anything in the cluster"


@pytest.mark.parametrize("status", [403, 422])
def test_a_permanent_error_mid_sync_says_what_was_and_was_not_applied(status: int) -> None:
    with serve() as (emu, url):
        emu.faults.append(Fault("PATCH", ROUTER_PATH, status, times=100, reason="Refused"))
        with pytest.raises(SyncFailed) as caught:
            run_sync(compiled(PD), version=V, where=Where(server=url), timeout=30)
        assert _sent(emu, "PATCH", ROUTER_PATH) == 1
    failed = caught.value
    assert f'{status} Refused to `patch deployments.apps "sglang-pd-router"' in (
        failed.diagnostic.message
    )
    # 9 steps: the parent, the pass-through Service, wave 0 (apply, a rollout, gate), wave 1
    # (apply, the router, gate), the parent
    assert failed.aftermath().startswith(
        "rbgc: sync stopped in step 7/9 (wave 1: llm/sglang-pd step 2: router create replicas 2 "
    )
    assert "steps 1-6 applied, step 7 in part; steps 8-9 not." in failed.aftermath()
