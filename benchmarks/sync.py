"""Cost of `rbgc sync` itself, on the simulator: the controller's own CPU time, and the API
requests it sends per applied object.

Run: .venv/bin/python -m benchmarks.sync   (a script, never a timed test)

1. CPU (issue 12's scenarios): the 100-role / 1,000-pod group of benchmarks/plan_diff.py
   upgraded (every image changes; OLD is converged first, not measured), and 500 one-role
   groups installed. Every call into the simulator (API requests, and the ticks in which it
   plays the workload controllers) is metered and subtracted, so "rbgc CPU" is rbgc's share
   only: compiling NEW excluded, reading the cluster, planning, executing and waiting included.
2. Requests (issue 20 item 2): 1, 50 and 500 one-role groups installed, pods ready 5 s or
   120 s after they start (a model server loading its weights takes minutes). Reads (get,
   list, watch) must not grow with the readiness time; writes are the applies and deletes;
   Lease writes are each group's lock taken, renewed every 20 s while the sync runs, and
   released (they do grow with the time the sync runs).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from benchmarks.plan_diff import compiled as big_group
from rbgc.bundle import Bundle
from rbgc.pipeline import Options, compile_documents
from rbgc.source import parse_text
from rbgc.sync.cluster import FIELD_MANAGER, Feed, Object, Ref
from rbgc.sync.run import Connection, Where
from rbgc.sync.run import sync as run_sync
from rbgc.sync.simulator import Simulator

V = (1, 33)
READS = ("get", "list", "watch")
WRITES = ("patch", "delete")
LEASE_WRITES = ("create", "update")  # rbgc creates and updates nothing but its Leases


class Metered(Simulator):
    """The simulator, with the CPU time spent inside it (requests and ticks) metered."""

    inside = 0.0

    def _timed(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        start = time.process_time()
        try:
            return fn(*args, **kw)
        finally:
            self.inside += time.process_time() - start

    def apply(
        self, body: Mapping[str, Any], *, force: bool = False, manager: str = FIELD_MANAGER
    ) -> Object:
        return self._timed(super().apply, body, force=force, manager=manager)  # type: ignore[no-any-return]

    def replace(self, body: Mapping[str, Any]) -> Object:
        return self._timed(super().replace, body)  # type: ignore[no-any-return]

    def get(self, ref: Ref) -> Object | None:
        return self._timed(super().get, ref)  # type: ignore[no-any-return]

    def list_feed(self, feed: Feed) -> tuple[Sequence[Object], str]:
        return self._timed(super().list_feed, feed)  # type: ignore[no-any-return]

    def delete(self, ref: Ref) -> None:
        self._timed(super().delete, ref)

    def tick(self) -> None:
        self._timed(super().tick)


def measure(name: str, sim: Metered, new: Bundle, pods: int) -> None:
    before = sum(sim.requests.values())
    steps: list[str] = []
    start_ticks, inside = sim.now, sim.inside
    start = time.process_time()
    run_sync(
        new,
        version=V,
        where=Where(simulate=True),
        timeout=86400,
        connected=Connection.simulated(sim),
        emit=steps.append,
    )
    total = time.process_time() - start
    spent = sim.inside - inside
    calls = sum(sim.requests.values()) - before
    print(
        f"{name:<34} {len(steps):>6} {total - spent:>9.2f}s {spent:>9.2f}s "
        f"{calls / pods:>9.2f} {sim.now - start_ticks:>8}"
    )


def requests(groups_n: int, ready_after: int) -> None:
    sim = Simulator(ready_after=ready_after)
    run_sync(
        groups(groups_n),
        version=V,
        where=Where(simulate=True),
        timeout=86400,
        connected=Connection.simulated(sim),
    )
    r = sim.requests
    applied = r["patch"]

    def per(verbs: tuple[str, ...]) -> float:
        return sum(r[v] for v in verbs) / applied

    print(
        f"| {groups_n:,} | {ready_after} s | {applied:,} | {per(READS):.2f} | {per(WRITES):.2f} "
        f"| {per(LEASE_WRITES):.2f} | {per(READS + WRITES + LEASE_WRITES):.2f} | {sim.now:,} |",
        flush=True,
    )


def groups(n: int) -> Bundle:
    text = "---\n".join(
        f"apiVersion: workloads.x-k8s.io/v1alpha1\nkind: RoleBasedGroup\n"
        f"metadata: {{name: g{i:03d}, namespace: bench}}\nspec:\n  roles:\n"
        f"    - name: worker\n      replicas: 1\n"
        f"      template: {{spec: {{containers: [{{name: s, image: 'engine:1'}}]}}}}\n"
        for i in range(n)
    )
    return compile_documents(parse_text(text, "groups.yaml"), Options()).bundle


def main() -> None:
    print(
        "| groups | pods ready after | applied objects | reads | writes | Lease writes "
        "| requests | simulated s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in (1, 50, 500):
        for ready in (5, 120):
            requests(n, ready)
    if "--requests" in sys.argv:
        return
    print()
    print(
        f"{'scenario':<34} {'steps':>6} {'rbgc CPU':>10} {'sim CPU':>10} "
        f"{'calls/pod':>9} {'sim s':>8}"
    )
    sim = Metered()
    old, new = big_group("engine:1").bundle, big_group("engine:2").bundle
    run_sync(
        old,
        version=V,
        where=Where(simulate=True),
        timeout=86400,
        connected=Connection.simulated(sim),
    )
    measure("100 roles / 1,000 pods upgrade", sim, new, pods=1000)
    measure("500 groups install", Metered(), groups(500), pods=500)


if __name__ == "__main__":
    main()
