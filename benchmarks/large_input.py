"""A flat 7 MiB list through `rbgc build` and `rbgc validate` (issue 18.13; never a timed test).

`.venv/bin/python benchmarks/large_input.py [RBGC]` writes the file the fuzzer found (a flow
list of 3.67 million zeros, 7 MiB: under the 8 MiB cap) and a ConfigMap holding the same list,
then runs each command on each, best of 3, printing wall seconds, CPU seconds and peak memory
of the whole process and the diagnostic's first line. RBGC (default: this checkout's
`.venv/bin/rbgc`) lets the same script time another checkout, for a before/after pair.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZE = 7 * 1024 * 1024
RUNS = 3


def files(folder: Path) -> dict[str, Path]:
    zeros = "0," * (SIZE // 2 - 64) + "0"
    flat, inside = folder / "flat.yaml", folder / "configmap.yaml"
    flat.write_text(f"[{zeros}]\n")
    inside.write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x}}\ndata:\n  k: [{zeros}]\n"
    )
    return {"flat list": flat, "in a ConfigMap": inside}


def run(cmd: list[str]) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds, peak RSS (MiB) and the first line of stderr."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    _, _, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    first = err.splitlines()[0] if err else ""
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024, first


def main() -> None:
    rbgc = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / ".venv" / "bin" / "rbgc")
    with tempfile.TemporaryDirectory() as tmp:
        for what, path in files(Path(tmp)).items():
            for command in ("build", "validate"):
                best = min(run([rbgc, command, str(path)]) for _ in range(RUNS))
                wall, cpu, peak, first = best
                print(f"{command:8} {what:15} {wall:6.2f} s wall {cpu:6.2f} s cpu {peak:6} MiB")
                print(f"         {first.split(': ', 1)[-1][:100]}")


if __name__ == "__main__":
    main()
