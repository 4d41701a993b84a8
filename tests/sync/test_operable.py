"""The in-cluster watcher is operable (issue 20 items 3-4): a client-side rate limit over every
request (deterministic, on an injected clock), Prometheus metrics parsed by Prometheus' own
parser, /healthz and /readyz, JSON log lines."""

from __future__ import annotations

import json
import socket
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from rbgc.cli import main
from rbgc.sync.cluster import Ref
from rbgc.sync.failure import Stop
from rbgc.sync.kube import connect
from rbgc.sync.metrics import Metrics, address
from rbgc.sync.ratelimit import TokenBucket
from rbgc.sync.run import Connection, Where
from rbgc.sync.watch import watch
from tests.sync.emulator import serve
from tests.sync.helpers import PD, V, compiled
from tests.sync.test_retries import TickingClock


def test_the_token_bucket_lets_a_burst_through_then_qps() -> None:
    # client-go's token bucket (x/time/rate): starts full with `burst` tokens, refills at qps
    clock = TickingClock()
    bucket = TokenBucket(qps=5, burst=10)
    waits = [bucket.take(clock) for _ in range(20)]
    assert waits[:10] == [0.0] * 10  # the burst
    assert waits[10:] == [pytest.approx(0.2)] * 10  # then one every 1/5 s
    assert clock.t == pytest.approx(2.0)
    clock.t += 10  # idle: the bucket refills, to `burst` at most
    assert [bucket.take(clock) for _ in range(10)] == [0.0] * 10
    assert bucket.take(clock) == pytest.approx(0.2)
    assert TokenBucket(qps=0, burst=1).take(clock) == 0.0  # 0: no limit


def test_every_request_goes_through_the_limit_over_http() -> None:
    with serve() as (_, url):
        cluster = connect(kubeconfig=None, context=None, server=url, qps=5, burst=10)
        clock = TickingClock()
        cluster.clock = clock
        for i in range(25):
            cluster.get(Ref("v1", "ConfigMap", "llm", f"c{i}"))
        # 10 at once, then 15 at 5 a second: 3 s of waiting on the clock, not the wall.
        assert clock.t == pytest.approx(3.0)
        assert sum(clock.slept) == pytest.approx(3.0)


def test_the_exposition_follows_the_text_format() -> None:
    metrics = Metrics(now=lambda: 0.0, gauges={"rbgc_leases_held": lambda: 2})
    metrics.answer("patch", 200)
    metrics.answer("get", 0)
    metrics.count("rbgc_recreations_total", {"scope": 'odd "quote"\\ and\nline'})
    metrics.event({"event": "step-started", "step": 1, "op": "gate", "group": "llm/g"})
    metrics.event({"event": "step-done", "step": 1, "op": "gate"})
    metrics.event({"event": "converged"})
    found = {f.name: f for f in text_string_to_metric_families(metrics.exposition())}
    assert set(found) == {
        "rbgc_syncs",
        "rbgc_steps",
        "rbgc_step_duration_seconds",
        "rbgc_recreations",
        "rbgc_api_requests",
        "rbgc_leases_held",
        "rbgc_groups_converged",
    }
    requests = {
        (s.labels["verb"], s.labels["code"]): s.value for s in found["rbgc_api_requests"].samples
    }
    assert requests == {("patch", "200"): 1.0, ("get", "0"): 1.0}
    scope = next(s for s in found["rbgc_recreations"].samples).labels["scope"]
    assert scope == 'odd "quote"\\ and\nline'  # escaped, and read back the same
    histogram = {
        s.name: s.value
        for s in found["rbgc_step_duration_seconds"].samples
        if s.labels.get("le") in (None, "+Inf")
    }
    assert histogram == {
        "rbgc_step_duration_seconds_bucket": 1.0,
        "rbgc_step_duration_seconds_count": 1.0,
        "rbgc_step_duration_seconds_sum": 0.0,
    }
    assert found["rbgc_leases_held"].samples[0].value == 2
    assert found["rbgc_syncs"].type == "counter"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_a_watcher_serves_metrics_and_probes_over_http() -> None:
    metrics_port, probe_port = _free_port(), _free_port()
    with serve() as (emu, url):
        cluster = connect(kubeconfig=None, context=None, server=url, timeout=10)
        stop = Stop()
        scraped: dict[str, Any] = {}

        def started(watcher: Any) -> None:
            def scrape() -> None:
                scraped["healthz"] = _get(f"http://127.0.0.1:{probe_port}/healthz")
                scraped["readyz-before"] = _get(f"http://127.0.0.1:{probe_port}/readyz")
                # Ready once a round reached the API server: wait for the first convergence.
                ok = emu.wait_until(
                    lambda: ("apply", "apps/v1/deployments", "sglang-pd-router") in emu.writes, 30
                )
                assert ok
                while not watcher.reachable and not stop.requested:
                    stop.wake.wait(0.05)
                scraped["readyz"] = _get(f"http://127.0.0.1:{probe_port}/readyz")
                scraped["metrics"] = _get(f"http://127.0.0.1:{metrics_port}/metrics")
                stop.set(15)

            threading.Thread(target=scrape, daemon=True).start()

        watch(
            compiled(PD),
            version=V,
            where=Where(server=url),
            timeout=30,
            connected=Connection.real(cluster),
            stop=stop,
            seconds=60,
            metrics_bind=f"127.0.0.1:{metrics_port}",
            probe_bind=f"127.0.0.1:{probe_port}",
            started=started,
        )
    assert scraped["healthz"] == (200, "ok\n")
    assert scraped["readyz-before"][0] == 503
    assert scraped["readyz"] == (200, "ok\n")
    status, text = scraped["metrics"]
    assert status == 200
    found = {f.name: f for f in text_string_to_metric_families(text)}
    syncs = {s.labels["result"]: s.value for s in found["rbgc_syncs"].samples}
    assert syncs == {"converged": 1.0}
    steps = {(s.labels["op"], s.labels["result"]): s.value for s in found["rbgc_steps"].samples}
    assert steps[("gate", "done")] == 2  # the group's two waves
    requests = {(s.labels["verb"], s.labels["code"]) for s in found["rbgc_api_requests"].samples}
    assert {("patch", "200"), ("watch", "200"), ("list", "200")} <= requests
    assert found["rbgc_groups_converged"].samples[0].value == 1
    assert found["rbgc_leases_held"].samples[0].value >= 1  # the leader's


def test_addresses_are_those_controller_runtime_takes() -> None:
    assert address("0") is None and address("") is None
    assert address(":8080") == ("", 8080)
    assert address("127.0.0.1:8081") == ("127.0.0.1", 8081)
    with pytest.raises(ValueError, match="HOST:PORT"):
        address("8080")


def test_the_flags_need_watch_and_json_logs_are_json_lines(tmp_path: Path) -> None:
    run = CliRunner().invoke(main, ["sync", "--simulate", "--metrics-bind-address", ":8080", PD])
    assert run.exit_code == 2 and "--metrics-bind-address serves a watcher" in run.stderr
    run = CliRunner().invoke(main, ["sync", "--simulate", "--log-format", "json", PD])
    assert run.exit_code == 0, run.stderr
    lines = [json.loads(x) for x in run.stderr.splitlines() if x.startswith("{")]
    assert len(lines) == 9 and {"ts", "level", "logger", "msg"} <= set(lines[0])
    assert lines[0]["msg"].startswith("[1/9] record ownership")
    help_text = CliRunner().invoke(main, ["sync", "--help"]).stdout
    assert "--qps N" in help_text and "--burst N" in help_text
    assert "143 stopped by" in help_text and "one line per step" in help_text
    assert "live view" in help_text
