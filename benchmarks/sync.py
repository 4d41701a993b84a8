"""Cost of `rbgc sync` itself, on the simulator: the controller's own CPU time and API calls
per pod, side by side with the plan's length.

Run: .venv/bin/python -m benchmarks.sync   (a script, never a timed test)

Two scenarios (issue 12's): the 100-role / 1,000-pod group of benchmarks/plan_diff.py upgraded
(every image changes; OLD is converged first, not measured), and 500 one-role groups
installed. Every call into the simulator (API requests, and the ticks in which it plays the
workload controllers) is metered and subtracted, so "controller CPU" is rbgc's share only:
compiling NEW excluded, reading the cluster, planning, executing and waiting included.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from benchmarks.plan_diff import compiled as big_group
from rbgc.bundle import Bundle
from rbgc.pipeline import Options, compile_documents
from rbgc.source import parse_text
from rbgc.sync.cluster import Object, Ref
from rbgc.sync.run import SIMULATED_EPOCH, Where
from rbgc.sync.run import sync as run_sync
from rbgc.sync.simulator import SimClock, Simulator

V = (1, 33)


class Metered:
    """A `Cluster` over the simulator that counts requests and the CPU time spent in it."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.calls: Counter[str] = Counter()
        self.inside = 0.0

    def _call(self, verb: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        self.calls[verb] += 1
        start = time.process_time()
        try:
            return fn(*args, **kw)
        finally:
            self.inside += time.process_time() - start

    def apply(self, body: Mapping[str, Any], *, force: bool = False) -> Object:
        return self._call("apply", self.sim.apply, body, force=force)  # type: ignore[no-any-return]

    def create(self, body: Mapping[str, Any]) -> Object:
        return self._call("create", self.sim.create, body)  # type: ignore[no-any-return]

    def replace(self, body: Mapping[str, Any]) -> Object:
        return self._call("replace", self.sim.replace, body)  # type: ignore[no-any-return]

    def get(self, ref: Ref) -> Object | None:
        return self._call("get", self.sim.get, ref)  # type: ignore[no-any-return]

    def list(
        self, api_version: str, kind: str, namespace: str, labels: Mapping[str, str]
    ) -> Sequence[Object]:
        return self._call("list", self.sim.list, api_version, kind, namespace, labels)  # type: ignore[no-any-return]

    def delete(self, ref: Ref) -> None:
        self._call("delete", self.sim.delete, ref)

    def patch(self, ref: Ref, patch: Mapping[str, Any], *, subresource: str = "") -> Object:
        return self._call("patch", self.sim.patch, ref, patch, subresource=subresource)  # type: ignore[no-any-return]

    def list_pods(self, namespace: str, selector: str) -> tuple[Sequence[Object], str]:
        return self._call("list", self.sim.list_pods, namespace, selector)  # type: ignore[no-any-return]

    def watch_pods(
        self, namespace: str, selector: str, resource_version: str, timeout: float
    ) -> Iterator[Object]:
        watch = self.sim.watch_pods
        return self._call("watch", watch, namespace, selector, resource_version, timeout)  # type: ignore[no-any-return]


class MeteredClock(SimClock):
    def __init__(self, sim: Simulator, meter: Metered) -> None:
        super().__init__(sim)
        self.meter = meter

    def sleep(self, seconds: float) -> None:
        start = time.process_time()
        super().sleep(seconds)
        self.meter.inside += time.process_time() - start


def measure(name: str, sim: Simulator, new: Bundle, pods: int) -> None:
    meter = Metered(sim)
    clock = MeteredClock(sim, meter)
    steps: list[str] = []
    start_ticks = sim.now
    start = time.process_time()
    run_sync(
        new,
        version=V,
        where=Where(simulate=True),
        timeout=86400,
        connected=(meter, clock, 1.0, lambda: SIMULATED_EPOCH + sim.now),
        emit=steps.append,
    )
    total = time.process_time() - start
    own = total - meter.inside
    calls = sum(meter.calls.values())
    writes = sum(meter.calls[v] for v in ("apply", "create", "replace", "delete"))
    print(
        f"{name:<34} {len(steps):>6} {own:>9.2f}s {meter.inside:>9.2f}s "
        f"{calls / pods:>9.2f} {writes / pods:>8.2f} {sim.now - start_ticks:>8}"
    )
    print(f"{'':<34} calls: " + ", ".join(f"{v} {n}" for v, n in sorted(meter.calls.items())))


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
        f"{'scenario':<34} {'steps':>6} {'rbgc CPU':>10} {'sim CPU':>10} "
        f"{'calls/pod':>9} {'wr/pod':>8} {'sim s':>8}"
    )
    sim = Simulator()
    old, new = big_group("engine:1").bundle, big_group("engine:2").bundle
    run_sync(
        old,
        version=V,
        where=Where(simulate=True),
        timeout=86400,
        connected=(sim, SimClock(sim), 1.0, lambda: SIMULATED_EPOCH + sim.now),
    )
    measure("100 roles / 1,000 pods upgrade", sim, new, pods=1000)
    measure("500 groups install", Simulator(), groups(500), pods=500)


if __name__ == "__main__":
    main()
