"""Parallel where independent (issue 12 item 6): groups progress together, bounded, each in
its own order; 500 small groups converge on the simulator well inside the default timeout
(they timed out at step 301 of 1,506 when every step ran after the previous one)."""

from __future__ import annotations

from pathlib import Path

from rbgc.sync.run import Connection, Where
from rbgc.sync.run import sync as run_sync
from rbgc.sync.simulator import Simulator
from tests.sync.helpers import V, compiled

GROUP = """apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata: {{name: g{i:03d}, namespace: llm}}
spec:
  roles:
    - name: worker
      replicas: 1
      template: {{spec: {{containers: [{{name: s, image: "engine:1"}}]}}}}
"""


def _groups(tmp_path: Path, n: int) -> str:
    path = tmp_path / "groups.yaml"
    path.write_text("---\n".join(GROUP.format(i=i) for i in range(n)), encoding="utf-8")
    return str(path)


def _run(sim: Simulator, path: str, lines: list[str], **kw: object) -> str:
    connected = Connection.simulated(sim)
    return run_sync(
        compiled(path),
        version=V,
        where=Where(simulate=True),
        connected=connected,
        emit=lines.append,
        timeout=600,
        **kw,  # type: ignore[arg-type]
    )


def test_500_groups_converge_well_inside_the_default_timeout(tmp_path: Path) -> None:
    sim = Simulator()
    lines: list[str] = []
    out = _run(sim, _groups(tmp_path, 500), lines)
    assert out.startswith("converged: 1502 step(s) in ")
    assert sim.now < 150  # simulated seconds, of the default 600
    ready = [
        w.body["status"]["readyReplicas"]
        for (k, _, _), w in sim.objects.items()
        if k == "StatefulSet"
    ]
    assert len(ready) == 500 and set(ready) == {1}


def test_parallel_is_bounded_and_each_group_keeps_its_order(tmp_path: Path) -> None:
    path = _groups(tmp_path, 20)
    times = {}
    for parallel in (1, 4, 20):
        sim = Simulator()
        lines: list[str] = []
        _run(sim, path, lines, parallel=parallel)
        times[parallel] = sim.now
        for i in range(20):  # one group's steps start in the plan's order
            mine = [int(x[1:].split("/")[0]) for x in lines if f"llm/g{i:03d}" in x]
            assert mine == sorted(mine) and len(mine) == 3, (parallel, i)
    assert times[1] > times[4] > times[20]
