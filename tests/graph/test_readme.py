"""The README's pictures are the tools' output for the bundled examples, so they cannot go
stale: each is rendered here and compared with the README, and parsed by Mermaid."""

from __future__ import annotations

import re

import pytest

from tests.conftest import EXAMPLES, ROOT
from tests.graph import tools
from tests.graph.test_graph import golden_path, render_graph
from tests.plan.test_cli import render_review

README = (ROOT / "README.md").read_text(encoding="utf-8")
MERMAID_BLOCK = re.compile(r"```mermaid\n(.*?)```", re.S)


def _section() -> str:
    return README.split("## See it: rbgc graph and the rollout chart\n")[1].split("\n## ")[0]


def test_the_readme_graph_is_rbgc_graph_of_the_multi_level_example() -> None:
    shown = _section().split("`rbgc graph examples/multi-level.yaml`:\n\n```mermaid\n")[1]
    shown = shown.split("```")[0]
    example = EXAMPLES / "multi-level.yaml"
    assert shown == render_graph(example, "mermaid")
    assert shown == golden_path(example, "mermaid").read_text(encoding="utf-8")


def test_the_readme_charts_are_the_pd_upgrade_plan_charts() -> None:
    plan = render_review("pd-v2.plan.md")
    rendered = MERMAID_BLOCK.findall(plan)
    shown = MERMAID_BLOCK.findall(_section())[1:]
    legend = "```\n\nLines: decode blue, prefill orange.\n"
    assert legend in plan and legend in _section()
    assert len(shown) == 2
    assert shown == rendered[:2]  # the pace chart, then decode's capacity
    assert "xychart-beta" in shown[0] and 'line "prefill"' in shown[0]
    assert 'title "decode: ready during the step (%)"' in shown[1]


@pytest.mark.tools
def test_every_readme_picture_parses() -> None:
    blocks = MERMAID_BLOCK.findall(README)
    assert len(blocks) == 3
    for verdict in tools.mermaid(blocks):
        assert verdict["ok"], verdict.get("error")
