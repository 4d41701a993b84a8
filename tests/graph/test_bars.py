"""Per-role progress bars (for `rbgc sync`'s live view), drawn from a plan step's states."""

from __future__ import annotations

from rbgc.graph.bars import bar, role_line, step_bars
from rbgc.pipeline import Options
from rbgc.plan.changes import group_changes
from rbgc.plan.model import RoleState
from rbgc.plan.planner import plan
from rbgc.plan.review import compare
from tests.conftest import EXAMPLES, ROOT


def state(replicas: int, updated: int, available: int, floor: int) -> RoleState:
    return RoleState(
        replicas=replicas, updated=updated, available=available, partition=None, floor=floor
    )


def test_lines_align_and_show_updated_ready_and_floor() -> None:
    lines = step_bars(
        {"decode": state(2, 1, 1, 1), "prefill": state(12, 12, 9, 10), "router": state(2, 2, 2, 2)},
        width=10,
    )
    assert lines == [
        "decode   updated [#####.....]  1/2   ready [#####.....]  1/2   floor 1",
        "prefill  updated [##########] 12/12  ready [#######...]  9/12  floor 10",
        "router   updated [##########]  2/2   ready [##########]  2/2   floor 2",
    ]


def test_a_bar_is_full_only_when_all_are_there() -> None:
    assert bar(19, 20, 10) == "[#########.]"
    assert bar(20, 20, 10) == "[##########]"
    assert bar(0, 3, 6) == "[......]"
    assert bar(1, 3, 6) == "[##....]"
    assert bar(5, 3, 6) == "[######]"  # surge: more than desired is a full bar
    assert bar(0, 0, 4) == "[....]"
    assert bar(2, 4, 4, unicode=True) == "[██░░]"


def test_colour_marks_a_role_below_its_floor() -> None:
    below = role_line("decode", state(2, 1, 0, 1), color=True)
    at = role_line("decode", state(2, 1, 1, 1), color=True)
    assert "\x1b[1;31m[" in below and "\x1b[32m[" not in below
    assert "\x1b[32m[" in at and "\x1b[1;31m" not in at
    assert "\x1b[" not in role_line("decode", state(2, 1, 0, 1))


def test_the_steps_of_a_real_plan_draw_one_line_per_role() -> None:
    found = compare(
        [str(EXAMPLES / "pd-disaggregated.yaml")],
        [str(ROOT / "upgrades" / "pd-v2.yaml")],
        Options(),
    )
    steps = plan(group_changes(found.old, found.new, found.changes)).steps
    first, last = (step_bars(s.roles) for s in (steps[0], steps[-1]))
    assert [line.split()[0] for line in first] == ["decode", "prefill", "router"]
    # step 1: prefill has one of two pods on the new revision; at the end, all of them
    assert "prefill  updated [##########..........] 1/2" in first[1]
    assert all("updated [####################]" in line for line in last)
