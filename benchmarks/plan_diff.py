"""Speed of `rbgc diff` and `rbgc plan` on a 100-role group with 1,000 replicas in total.

Run: .venv/bin/python benchmarks/plan_diff.py   (a script, never a timed test)

Every role is a StatefulSet of 10 replicas, in ten dependency waves (role i depends on role
i-10), with maxUnavailable 2 and maxSurge 1; NEW changes every role's image, so all 1,000 pods
restart. Figures are the best of five runs, in-process (no interpreter start-up).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rbgc.pipeline import Options, Result, compile_documents
from rbgc.plan.changes import group_changes
from rbgc.plan.diff import diff_bundles
from rbgc.plan.planner import plan
from rbgc.source import parse_text

ROLES, REPLICAS = 100, 10


def group(image: str) -> str:
    lines = [
        "apiVersion: workloads.x-k8s.io/v1alpha1",
        "kind: RoleBasedGroup",
        "metadata: {name: big, namespace: bench}",
        "spec:",
        "  roles:",
    ]
    for i in range(ROLES):
        deps = f"[r{i - 10:03d}]" if i >= 10 else "[]"
        lines += [
            f"    - name: r{i:03d}",
            f"      replicas: {REPLICAS}",
            f"      dependencies: {deps}",
            "      rolloutStrategy: {rollingUpdate: {maxUnavailable: 2, maxSurge: 1}}",
            f"      template: {{spec: {{containers: [{{name: main, image: '{image}'}}]}}}}",
        ]
    return "\n".join(lines) + "\n"


def compiled(image: str) -> Result:
    return compile_documents(parse_text(group(image), "bench.yaml"), Options())


def best(fn: Callable[[], object], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    old, new = compiled("engine:1"), compiled("engine:2")
    changes = diff_bundles(old.bundle, new.bundle)
    groups = group_changes(old.bundle, new.bundle, changes)
    for version in ((1, 33), (1, 35)):
        result = plan(groups, kubernetes_version=version)
        print(f"plan ({version}): {result.total_steps} steps, {result.restarts} pods restart")
    print(f"objects per side: {len(new.bundle.manifests)}; changed: {len(changes)}")
    figures = {
        "compile one side": best(lambda: compiled("engine:2")),
        "diff (compiled bundles)": best(lambda: diff_bundles(old.bundle, new.bundle)),
        "plan, Kubernetes 1.33": best(
            lambda: plan(group_changes(old.bundle, new.bundle, changes), kubernetes_version=(1, 33))
        ),
        "plan, Kubernetes 1.35": best(
            lambda: plan(group_changes(old.bundle, new.bundle, changes), kubernetes_version=(1, 35))
        ),
        "diff end to end (2 compiles + diff)": best(
            lambda: diff_bundles(compiled("engine:1").bundle, compiled("engine:2").bundle)
        ),
    }
    for name, seconds in figures.items():
        print(f"{name:<38} {seconds * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
