"""`make golden`: rewrite the golden outputs. Review `git diff tests/golden` line by line after.

A golden file is a claim about upstream-compatible output, not a snapshot to refresh.
"""

from __future__ import annotations

from tests.graph.test_graph import EXAMPLE_FILES, SUFFIX, golden_path, render_graph
from tests.plan.test_cli import GOLDEN as REVIEW_GOLDEN
from tests.plan.test_cli import REVIEWS, render_review
from tests.test_golden import CASES, render


def main() -> None:
    for case in CASES:
        case.expected.parent.mkdir(parents=True, exist_ok=True)
        case.expected.write_text(render(case), encoding="utf-8")
        print(f"wrote {case.expected}")
    REVIEW_GOLDEN.mkdir(parents=True, exist_ok=True)
    for name in sorted(REVIEWS):
        (REVIEW_GOLDEN / name).write_text(render_review(name), encoding="utf-8")
        print(f"wrote {REVIEW_GOLDEN / name}")
    for example in EXAMPLE_FILES:
        for output in SUFFIX:
            path = golden_path(example, output)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render_graph(example, output), encoding="utf-8")
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
