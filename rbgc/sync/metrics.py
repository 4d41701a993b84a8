"""What `rbgc sync --watch` tells Prometheus and the kubelet: metrics, `/healthz`, `/readyz`.

In: the sync's events (as `-o json` streams them), every API request's verb and status (the
real adapter's `on_answer`), and gauges read when scraped. Out: the Prometheus text exposition
format 0.0.4 (`# HELP`, `# TYPE`, one sample a line, label values escaped as the format says),
served with the probes by `serve` on the addresses controller-runtime managers take
(`--metrics-bind-address`, `--health-probe-bind-address`; "0" serves nothing).

A few families do not call for the `prometheus_client` dependency: `Metrics` keeps counters,
one histogram and gauge callbacks, and `exposition` writes them (tests parse it with
prometheus_client's own parser).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Labels = tuple[tuple[str, str], ...]
BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)  # a step: seconds to hours
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

HELP = {
    "rbgc_syncs_total": ("counter", "Syncs (convergences) the watcher ran, by result."),
    "rbgc_steps_total": ("counter", "Sync steps finished, by step kind and result."),
    "rbgc_step_duration_seconds": ("histogram", "Time from a step's start to its end, by kind."),
    "rbgc_recreations_total": ("counter", "Recreations a restart policy called for, by scope."),
    "rbgc_api_requests_total": ("counter", "API requests sent, by verb and HTTP status (0: none)."),
    "rbgc_leases_held": ("gauge", "Leases this process holds: the leader's and its syncs'."),
    "rbgc_groups_converged": ("gauge", "Groups the last convergence brought to their state."),
}
RESULTS = {4: "timeout", 5: "cluster_error", 130: "interrupted", 143: "interrupted"}


@dataclass(slots=True)
class Metrics:
    now: Callable[[], float]  # the clock step durations are read on
    gauges: Mapping[str, Callable[[], float]] = field(default_factory=dict)
    counters: dict[str, dict[Labels, float]] = field(default_factory=lambda: defaultdict(dict))
    buckets: dict[Labels, list[int]] = field(default_factory=dict)
    sums: dict[Labels, float] = field(default_factory=dict)
    converged: int = 0
    _started: dict[int, tuple[str, float, str]] = field(default_factory=dict)  # op, at, group
    _ready: set[str] = field(default_factory=set)  # groups whose last wave was ready
    _last_wave: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def expect(self, last_waves: Mapping[str, int]) -> None:
        """Each group's last wave: its `wave-ready` means the group converged."""
        self._last_wave = dict(last_waves)

    def count(self, name: str, labels: Mapping[str, str], by: float = 1.0) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            self.counters[name][key] = self.counters[name].get(key, 0.0) + by

    def answer(self, verb: str, code: int) -> None:
        """One API request (the real adapter's `on_answer`)."""
        self.count("rbgc_api_requests_total", {"verb": verb, "code": str(code)})

    def event(self, event: Mapping[str, Any]) -> None:
        """One of the sync's or the watcher's events."""
        kind = event.get("event")
        if kind == "step-started":
            self._started[int(event["step"])] = (
                str(event["op"]),
                self.now(),
                str(event.get("group") or ""),
            )
        elif kind == "step-done":
            op, at, _ = self._started.pop(int(event["step"]), (str(event["op"]), self.now(), ""))
            self.count("rbgc_steps_total", {"op": op, "result": "done"})
            self._observe(op, self.now() - at)
        elif kind == "wave-ready":
            group = str(event.get("group") or "")
            if self._last_wave.get(group) == event.get("wave"):
                self._ready.add(group)
        elif kind in ("converged", "failed"):
            for op, _, _ in self._started.values():
                self.count("rbgc_steps_total", {"op": op, "result": "failed"})
            self._started.clear()
            result = "converged" if kind == "converged" else RESULTS.get(event.get("exit", 5))
            self.count("rbgc_syncs_total", {"result": result or "cluster_error"})
            self.converged = len(self._last_wave) if kind == "converged" else len(self._ready)
            self._ready = set()
        elif kind == "recreate":
            scope = "group" if event.get("instance") is None else "instance"
            self.count("rbgc_recreations_total", {"scope": scope})

    def _observe(self, op: str, seconds: float) -> None:
        key = (("op", op),)
        with self._lock:
            counts = self.buckets.setdefault(key, [0] * (len(BUCKETS) + 1))
            for i, bound in enumerate((*BUCKETS, float("inf"))):
                if seconds <= bound:
                    counts[i] += 1
            self.sums[key] = self.sums.get(key, 0.0) + seconds

    def exposition(self) -> str:
        """The text format 0.0.4: every family with its HELP and TYPE, samples sorted."""
        lines: list[str] = []
        with self._lock:
            for name, (kind, text) in HELP.items():
                lines += [f"# HELP {name} {_help(text)}", f"# TYPE {name} {kind}"]
                if kind == "counter":
                    for labels, value in sorted(self.counters.get(name, {}).items()):
                        lines.append(f"{name}{_labels(labels)} {_number(value)}")
                elif kind == "histogram":
                    for labels, counts in sorted(self.buckets.items()):
                        bounds = [*(_number(b) for b in BUCKETS), "+Inf"]
                        for bound, n in zip(bounds, counts, strict=True):
                            le = (*labels, ("le", bound))
                            lines.append(f"{name}_bucket{_labels(le)} {n}")
                        lines.append(f"{name}_sum{_labels(labels)} {_number(self.sums[labels])}")
                        lines.append(f"{name}_count{_labels(labels)} {counts[-1]}")
                elif name == "rbgc_groups_converged":
                    lines.append(f"{name} {self.converged}")
                else:
                    read = self.gauges.get(name)
                    lines.append(f"{name} {_number(read() if read else 0)}")
        return "\n".join(lines) + "\n"


def _help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _labels(labels: Iterable[tuple[str, str]]) -> str:
    def escaped(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    inner = ",".join(f'{k}="{escaped(v)}"' for k, v in labels)
    return f"{{{inner}}}" if inner else ""


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def address(text: str) -> tuple[str, int] | None:
    """`:8080`, `127.0.0.1:8081`, `[::1]:9090` as (host, port); "0" or "": None (off)."""
    if text in ("", "0"):
        return None
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"{text}: expected HOST:PORT or :PORT (or 0 to serve nothing)")
    return host.strip("[]"), int(port)


def serve(
    bind: tuple[str, int], routes: Mapping[str, Callable[[], tuple[int, str, str]]]
) -> ThreadingHTTPServer:
    """An HTTP server on `bind` (in a thread of its own) answering GETs of `routes`:
    path -> (status, content type, body). Close it with `shutdown()`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route = routes.get(self.path.split("?", 1)[0])
            status, kind, body = route() if route else (404, "text/plain", "not found\n")
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return  # scrapes and probes are not the log's business

    server = ThreadingHTTPServer(bind, Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
