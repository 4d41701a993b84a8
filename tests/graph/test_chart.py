"""The rollout charts of `rbgc plan -o markdown`: what they plot, and that Mermaid parses them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from rbgc.cli import main
from tests.graph import tools
from tests.plan.test_cli import COORDINATED, GOLDEN

MERMAID_BLOCK = re.compile(r"```mermaid\n(.*?)```", re.S)


def plan(*args: str) -> str:
    result = CliRunner().invoke(main, ["plan", *args], env={"NO_COLOR": "1", "KUBE_VERSION": ""})
    assert result.exit_code == 1, result.stderr
    return result.stdout


def _series(chart: str) -> dict[str, list[int]]:
    found = re.findall(r'^  (?:line|bar) "([^"]+)" \[([^\]]*)\]$', chart, re.M)
    return {name: [int(v) for v in values.split(", ")] for name, values in found}


def _coordinated(tmp_path: Path) -> tuple[str, str]:
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(COORDINATED.replace("IMAGE", "1"))
    new.write_text(COORDINATED.replace("IMAGE", "2"))
    return str(old), str(new)


def test_the_pace_chart_plots_the_share_updated_after_each_step(tmp_path: Path) -> None:
    old, new = _coordinated(tmp_path)
    doc = json.loads(plan("-o", "json", old, new))
    pace, decode, prefill = MERMAID_BLOCK.findall(plan("-o", "markdown", old, new))
    expected = {
        role: [
            round(100 * s["roles"][role]["updated"] / s["roles"][role]["replicas"])
            for s in doc["steps"]
        ]
        for role in ("decode", "prefill")
    }
    assert _series(pace) == expected  # the skew between the roles is the gap between lines
    assert '  x-axis "step" ["1", "2", "3", "4", "5", "6"]' in pace
    # capacity: the fewest ready replicas during each step, against the floor
    for chart, role in ((decode, "decode"), (prefill, "prefill")):
        states = [s["roles"][role] for s in doc["steps"]]
        assert _series(chart) == {
            "ready": [round(100 * s["available"] / s["replicas"]) for s in states],
            "floor": [round(100 * s["floor"] / s["replicas"]) for s in states],
        }
        assert f'title "{role}: ready during the step (%)"' in chart


def test_roles_the_plan_never_touches_are_not_drawn() -> None:
    text = (GOLDEN / "pd-v2.plan.md").read_text(encoding="utf-8")
    charts = MERMAID_BLOCK.findall(text)
    assert [sorted(_series(c)) for c in charts] == [
        ["decode", "prefill"],
        ["floor", "ready"],
        ["floor", "ready"],
    ]
    assert "router" not in "".join(charts)
    assert "Lines: decode blue, prefill orange." in text


def test_no_change_draws_no_chart() -> None:
    same = str(Path(__file__).resolve().parents[2] / "examples" / "pd-disaggregated.yaml")
    result = CliRunner().invoke(main, ["plan", "-o", "markdown", same, same])
    assert result.exit_code == 0 and "```mermaid" not in result.stdout


def test_json_carries_no_chart(tmp_path: Path) -> None:
    old, new = _coordinated(tmp_path)
    assert "mermaid" not in plan("-o", "json", old, new)


@pytest.mark.tools
def test_mermaid_parses_every_chart(tmp_path: Path) -> None:
    old, new = _coordinated(tmp_path)
    texts = MERMAID_BLOCK.findall((GOLDEN / "pd-v2.plan.md").read_text(encoding="utf-8"))
    texts += MERMAID_BLOCK.findall(plan("-o", "markdown", old, new))
    assert len(texts) == 6
    for verdict in tools.mermaid(texts):
        assert verdict == {"ok": True, "type": "xychart"}
