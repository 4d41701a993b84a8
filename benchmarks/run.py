"""`make bench`: rbgc's speed, side by side with `kubectl kustomize` (never a timed test).

Prints, in one run on this machine:
  1. cold `rbgc build` of the PD example vs `kubectl kustomize` rendering a folder that holds
     the same output (best of N process runs each, wall clock);
  2. `rbgc --help` wall time;
  3. compile throughput for synthetic groups of 1, 10, 100 and 1000 roles: objects/s and peak
     RSS of the whole `rbgc build` process, to show the cost grows linearly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PD = ROOT / "examples" / "pd-disaggregated.yaml"
RUNS = 7
LAST_COUNT = [0]  # documents in the last run's output


def run(cmd: list[str], cwd: Path = ROOT) -> tuple[float, int, bytes]:
    """Wall seconds, peak RSS (KiB) and stdout of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    # Count documents as the output streams by and keep only its start: a forked child's
    # peak RSS includes the parent's pages, so holding 140 MB here would inflate the next one.
    head, documents = b"", 0
    assert proc.stdout is not None
    while chunk := proc.stdout.read(1 << 20):
        documents += chunk.count(b"\napiVersion:")
        if len(head) < (1 << 20):
            head += chunk
    out = head if len(head) < (1 << 20) else b""
    LAST_COUNT[0] = documents + 1
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return elapsed, usage.ru_maxrss, out


def best(cmd: list[str], cwd: Path = ROOT) -> tuple[float, int, bytes]:
    results = [run(cmd, cwd) for _ in range(RUNS)]
    return min(results, key=lambda r: r[0])


def synthetic(roles: int) -> str:
    parts = [
        "apiVersion: workloads.x-k8s.io/v1alpha1\nkind: RoleBasedGroup\n"
        "metadata: {name: big}\nspec:\n  roles:\n"
    ]
    for i in range(roles):
        deps = f"    dependencies: [r{i - 1}]\n" if i % 10 else ""
        parts.append(
            f"  - name: r{i}\n    replicas: 2\n{deps}"
            "    template:\n      spec:\n        containers:\n"
            f"        - name: c\n          image: img:{i}\n"
            "          ports: [{containerPort: 8000, name: http}]\n"
            "          resources: {limits: {cpu: '1'}}\n"
        )
    return "".join(parts)


def main() -> None:
    rbgc = [sys.executable, "-m", "rbgc"]
    print(f"rbgc benchmarks (best of {RUNS} runs, {os.cpu_count()} cores)\n")

    t_rbgc, _, rendered = best([*rbgc, "build", str(PD)])
    kubectl = shutil.which("kubectl")
    print("1. cold build of examples/pd-disaggregated.yaml")
    print(f"   rbgc build               {t_rbgc * 1000:7.1f} ms")
    if kubectl:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "all.yaml").write_bytes(rendered)
            (folder / "kustomization.yaml").write_text("resources: [all.yaml]\n")
            t_kust, _, _ = best([kubectl, "kustomize", str(folder)])
        print(f"   kubectl kustomize        {t_kust * 1000:7.1f} ms  (same objects, pre-rendered)")
        print(f"   ratio rbgc / kustomize   {t_rbgc / t_kust:7.2f}")
    else:
        print("   kubectl not found: no kustomize comparison")

    t_help, _, _ = best([*rbgc, "--help"])
    print(f"\n2. rbgc --help             {t_help * 1000:7.1f} ms")

    print("\n3. synthetic groups (rbgc build, whole process)")
    print("   roles   objects   wall ms   objects/s   peak RSS MiB")
    with tempfile.TemporaryDirectory() as tmp:
        for roles in (1, 10, 100, 1000):
            path = Path(tmp) / f"g{roles}.yaml"
            path.write_text(synthetic(roles))
            elapsed, rss, _ = best([*rbgc, "build", str(path)])
            objects = LAST_COUNT[0]
            print(
                f"   {roles:5d}   {objects:7d}   {elapsed * 1000:7.1f}   {objects / elapsed:9.0f}"
                f"   {rss / 1024:12.1f}"
            )


if __name__ == "__main__":
    main()
