"""`rbgc plan --warmup`: a role's new images pulled on its pods' nodes before the first step
that replaces or updates one of them, starting with the group's first step.

Upstream's KEP-129 (keps/129-rbg-warmup/README.md, "Non-Goals" and "Coordination with RBG
Upgrades") leaves this to the user: create the warm-up, wait for `Completed`, then change the
image. These tests pin rbgc's own rule, which the warm-up invariant re-checks on every plan.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner

from rbgc.cli import main
from rbgc.model import Target
from rbgc.pipeline import Options
from rbgc.plan import warmups
from rbgc.plan.changes import group_changes
from rbgc.plan.model import Plan
from rbgc.plan.planner import plan
from rbgc.plan.review import compare
from tests.conftest import ROOT

OLD = str(ROOT / "examples" / "pd-inplace.yaml")
NEW = str(ROOT / "upgrades" / "pd-inplace-v2.yaml")


def planned(old: str, new: str, *, in_place: bool = True) -> tuple[Plan, object]:
    found = compare([old], [new], Options(target=Target(in_place=in_place)))
    groups = group_changes(found.old, found.new, found.changes)
    return plan(groups, warmup=True), groups


def test_every_role_is_warmed_before_its_first_pod_is_touched() -> None:
    result, _ = planned(OLD, NEW)
    got = {w.role: (w.images, w.starts, w.before, w.pod_count) for w in result.warmups}
    assert got == {
        "decode": (("lmsysorg/sglang:v0.5.5",), 1, 1, 2),
        "prefill": (("lmsysorg/sglang:v0.5.5",), 1, 1, 4),
        # wave 1: its pulls overlap the four in-place steps of wave 0
        "router": (("lmsysorg/sglang-router:v0.2.2",), 1, 6, 2),
    }
    for w in result.warmups:
        first = warmups.first_disruption(result.steps, w.role)
        assert first is not None and first.number == w.before
        # no step before it touches the role's pods
        assert all(
            not warmups.disrupts(a)
            for s in result.steps
            if s.number < w.before
            for a in s.actions
            if a.role == w.role
        )
    (invariant,) = [i for i in result.invariants if i.name == "warm-up"]
    assert invariant.holds and "5 step(s) overlapped" in invariant.detail


def test_roles_whose_images_stay_get_no_warm_up() -> None:
    result, _ = planned(
        str(ROOT / "examples/pd-disaggregated.yaml"), str(ROOT / "upgrades/pd-v2.yaml")
    )
    assert {w.role for w in result.warmups} == {"prefill", "decode"}  # the router keeps v0.5.2


def test_a_paused_role_whose_pods_all_stay_gets_no_warm_up(tmp_path: Path) -> None:
    """`paused` holds every pod at its revision (partition = replicas, v1alpha2 semantics
    §3.3): no step touches prefill, so nothing is pulled for it."""
    old = (
        Path(OLD)
        .read_text()
        .replace("maxUnavailable: 1\n", "maxUnavailable: 1\n          paused: true\n", 1)
    )
    (tmp_path / "old.yaml").write_text(old)
    (tmp_path / "new.yaml").write_text(old.replace("sglang:v0.5.4", "sglang:v0.5.5"))
    result, _ = planned(str(tmp_path / "old.yaml"), str(tmp_path / "new.yaml"))
    assert {w.role for w in result.warmups} == {"decode"}


def test_the_invariant_fails_a_warm_up_that_comes_too_late() -> None:
    result, groups = planned(OLD, NEW)
    late = tuple(
        replace(w, before=w.before + 1) if w.role == "router" else w for w in result.warmups
    )
    broken = warmups.check(groups, result.steps, late)  # type: ignore[arg-type]
    assert not broken.holds and "router" in broken.detail
    missing = warmups.check(groups, result.steps, result.warmups[:1])  # type: ignore[arg-type]
    assert not missing.holds


def test_plan_and_diff_show_it_in_text_and_markdown() -> None:
    runner = CliRunner()
    md = runner.invoke(main, ["plan", "--in-place", "--warmup", "-o", "markdown", OLD, NEW])
    assert md.exit_code == 1, md.stderr
    assert "| W3 | `llm/llm-pd` | router | pull lmsysorg/sglang-router:v0.2.2" in md.stdout
    assert "waits for warm-up W3" in md.stdout
    text = runner.invoke(main, ["diff", "--in-place", "--warmup", OLD, NEW])
    assert (
        "warm-up (--warmup): rbgc sync pulls lmsysorg/sglang:v0.5.5 on the nodes of its 4 "
        "pod(s) before the first is updated in place" in text.stdout
    )
    assert "2 pod(s) restart, 6 updated in place" in text.stdout  # the router is replaced
    plain = runner.invoke(main, ["plan", OLD, NEW])
    assert "warm-up" not in plain.stdout and "updated in place" not in plain.stdout
