"""Where a cold `rbgc build` spends its time, and how it compares with `kubectl kustomize`.

    .venv/bin/python -m benchmarks.startup [RUNS]

1. Paired runs, in one call: `rbgc build` of N groups (1, 20, 200 copies of the PD example)
   against `kubectl kustomize` of a folder that holds the very objects rbgc wrote, started in
   turn (A B A B ...) so that both see the same machine; the ratio is taken pair by pair and
   its median reported (these machines are shared and noisy: the ratio is the figure to read).
2. The import-time budget of the build path, in a fresh interpreter each time: the
   interpreter alone, `click`, `yaml`, and every rbgc module the build imports, with the
   dataclasses defined on the way and what they cost (each one compiles its generated methods
   at import: Python 3.11 `exec`s six snippets for a frozen class).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PD = ROOT / "examples" / "pd-disaggregated.yaml"
RBGC = [sys.executable, "-m", "rbgc"]

# Run in a fresh interpreter: count and time every dataclass the build path defines.
_PROBE = """
import dataclasses, sys, time
original = dataclasses._process_class
spent = [0.0, 0]
def timed(*args, **kwargs):
    start = time.perf_counter()
    made = original(*args, **kwargs)
    spent[0] += time.perf_counter() - start
    spent[1] += 1
    return made
dataclasses._process_class = timed
start = time.perf_counter()
import click, yaml
third = time.perf_counter() - start
import rbgc.cli.build, rbgc.pipeline, rbgc.emit
total = time.perf_counter() - start
rbgc_modules = sum(1 for m in sys.modules if m == "rbgc" or m.startswith("rbgc."))
print(third, total, spent[0], spent[1], rbgc_modules)
"""


def wall(cmd: list[str], cwd: Path = ROOT) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def paired(a: list[str], b: list[str], runs: int) -> tuple[float, float, float]:
    """Median wall seconds of A and of B, and the median of the pairwise ratios A/B."""
    wall(a), wall(b)  # warm the file cache for both
    times_a, times_b, ratios = [], [], []
    for _ in range(runs):
        ta, tb = wall(a), wall(b)
        times_a.append(ta)
        times_b.append(tb)
        ratios.append(ta / tb)
    return statistics.median(times_a), statistics.median(times_b), statistics.median(ratios)


def groups(count: int) -> str:
    """`count` copies of the PD example, renamed so that they are distinct groups."""
    text = PD.read_text(encoding="utf-8")
    assert "sglang-pd" in text  # the group, its router's Service and the addresses it names
    return "\n---\n".join(text.replace("sglang-pd", f"sglang-pd-{i}") for i in range(count))


def import_budget(runs: int) -> None:
    rows = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True
        )
        rows.append([float(x) for x in done.stdout.split()])
    bare = statistics.median(wall([sys.executable, "-c", "pass"]) for _ in range(runs))
    third, total, dataclasses, count, modules = (
        statistics.median(col) for col in zip(*rows, strict=True)
    )
    print("2. the build path's imports (median, fresh interpreter each run)")
    print(f"   interpreter start-up        {bare * 1000:7.1f} ms")
    print(f"   click + yaml                {third * 1000:7.1f} ms")
    print(f"   rbgc's modules ({modules:.0f})        {(total - third) * 1000:7.1f} ms")
    print(f"     of which {count:.0f} dataclasses  {dataclasses * 1000:7.1f} ms")


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 11
    kubectl = shutil.which("kubectl")
    load = os.getloadavg()[0]
    print(f"rbgc start-up ({runs} paired runs, {os.cpu_count()} cores, load {load:.1f})\n")
    print("1. cold `rbgc build` / `kubectl kustomize` of the same objects (medians)")
    if kubectl is None:
        print("   kubectl not found: no comparison")
    else:
        print("   groups   objects   rbgc ms   kustomize ms   rbgc/kustomize")
        with tempfile.TemporaryDirectory() as tmp:
            for count in (1, 20, 200):
                folder = Path(tmp) / f"g{count}"
                folder.mkdir()
                source = folder / "groups.yaml"
                source.write_text(groups(count), encoding="utf-8")
                rendered = subprocess.run(
                    [*RBGC, "build", str(source)], capture_output=True, check=True
                ).stdout
                out = folder / "out"
                out.mkdir()
                (out / "all.yaml").write_bytes(rendered)
                (out / "kustomization.yaml").write_text("resources: [all.yaml]\n")
                objects = rendered.count(b"\napiVersion:") + 1
                a, b, ratio = paired(
                    [*RBGC, "build", str(source)], [kubectl, "kustomize", str(out)], runs
                )
                row = f"   {count:6d}   {objects:7d}   {a * 1000:7.1f}   {b * 1000:12.1f}"
                print(f"{row}   {ratio:14.2f}")
    print()
    import_budget(runs)


if __name__ == "__main__":
    main()
