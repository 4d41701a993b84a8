"""How often `rbgc fit`'s heuristic search misses a placement that exists.

Run: .venv/bin/python -m benchmarks.fit_search [EXAMPLES]   (a measurement, never a test)

Random small problems from the property test's strategies (up to 10 nodes, 8 pods, every
constraint kind; those with more than 20,000 possible placements are skipped) are solved, and
every possible placement is checked by the tests' oracle (`tests/fit/oracle.py`): a "fits"
must be right (the property test asserts it), a "does not fit" is counted as missed when some
placement keeps every rule.
"""

from __future__ import annotations

import itertools
import sys
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings

from rbgc.fit.cluster import Cluster
from rbgc.fit.model import Problem
from rbgc.fit.search import solve
from tests.fit import oracle
from tests.fit.helpers import inventory
from tests.fit.test_properties import cluster, group

LIMIT = 20_000


def main() -> None:
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
    tally: Counter[str] = Counter()

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(cluster(), group())
    def measure(parts: tuple[list[dict[str, Any]], list[dict[str, Any]]], p: Problem) -> None:
        nodes, pods = parts
        if len(nodes) ** len(p.pods) > LIMIT:
            tally["skipped (too many placements)"] += 1
            return
        inv = inventory(nodes, pods)
        answer = solve(p, Cluster.of(inv))
        names = [n.name for n in inv.nodes]
        pod_names = [pod.name for pod in p.pods]
        exists = any(
            not oracle.violations(p, inv, list(zip(pod_names, combo, strict=True)))
            for combo in itertools.product(names, repeat=len(pod_names))
        )
        if answer.fits:
            tally["fits (and a placement exists)" if exists else "WRONG fits"] += 1
        else:
            tally["missed" if exists else "does not fit (none exists)"] += 1

    measure()
    for outcome, count in sorted(tally.items()):
        print(f"{count:6d}  {outcome}")


if __name__ == "__main__":
    main()
