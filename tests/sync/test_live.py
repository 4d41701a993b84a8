"""The live view of `rbgc sync` on a terminal, rendered deterministically: a fake TTY collects
the frames of a simulated upgrade; not a terminal, the plain lines of before."""

from __future__ import annotations

import io
import re
from typing import Any

from rbgc.cli.sync import live_view as _live
from rbgc.sync.run import Connection, Where, sync
from rbgc.sync.simulator import Simulator
from tests.sync.helpers import PD, PD_V2, V, compiled


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def _frames(text: str) -> list[str]:
    """The frames a terminal showed: each one starts where the cursor was moved back to."""
    return [f for f in re.split(r"\x1b\[\d+F\x1b\[J", text) if f]


def test_a_terminal_gets_a_live_view_per_wave_and_role_redrawn_in_place() -> None:
    tty = FakeTTY()
    live = _live(tty, color=False)
    assert live is not None
    sim = Simulator(kubernetes_version=V)
    link = Connection.simulated(sim)
    where = Where(simulate=True)
    sync(compiled(PD), version=V, where=where, timeout=600, connected=link)
    text = sync(compiled(PD_V2), version=V, where=where, timeout=600, connected=link, live=live)
    assert text.startswith("converged")
    frames = _frames(tty.getvalue())
    assert len(frames) > 10
    # Each redraw moves back over exactly the lines of the frame before.
    moves = [int(n) for n in re.findall(r"\x1b\[(\d+)F", tty.getvalue())]
    assert moves == [f.count("\n") for f in frames[:-1]]
    last = frames[-1].splitlines()
    # One counter (issue 18 item 9: `9/9 steps done` beside `step 8/9`): every step done,
    # each line says so.
    assert re.fullmatch(
        r"rbgc sync: (\d+)/\1 steps done, \d+s  \(step \1/\1 done: record .*\)", last[0]
    )
    assert re.match(r"llm/sglang-pd  step (\d+)/\d+ done: ", last[1])
    # The floors are the plan's: at every frame, a role's floor is the one `rbgc plan` gives
    # it at some planner step of the upgrade (never a floor 0 the plan does not have).
    planned = {
        (role, state.floor)
        for step in prepare_plan().rollout.steps
        for role, state in step.roles.items()
    }
    shown = set(re.findall(r"(prefill|decode|router) +updated .* floor (\d+)", tty.getvalue()))
    assert shown and {(r, int(f)) for r, f in shown} <= planned
    assert "  wave 0  ready" in last and "  wave 1  ready" in last
    prefill = next(x for x in last if x.strip().startswith("prefill"))
    assert re.search(r"updated \[#{20}\] 2/2 +ready \[#{20}\] 2/2 +floor \d", prefill)
    # Mid-rollout, some frame showed prefill partly updated and the step it was in.
    assert any(
        re.search(r"prefill +updated \[#+\.+\] 1/2", f) and "prefill roll" in f for f in frames
    )


def prepare_plan() -> Any:
    """The upgrade's plan as `rbgc plan` makes it: PD converged, then PD_V2."""
    from rbgc.sync.controller import prepare

    sim = Simulator(kubernetes_version=V)
    sync(
        compiled(PD),
        version=V,
        where=Where(simulate=True),
        timeout=600,
        connected=Connection.simulated(sim),
    )
    return prepare(sim, compiled(PD_V2), V)


def test_not_a_terminal_keeps_the_plain_lines() -> None:
    assert _live(io.StringIO(), color=False) is None
