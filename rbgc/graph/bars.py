"""Per-role progress bars for a terminal: how far each role is on the new revision, and how
many of its replicas are ready, against its capacity floor.

In: role states (`RoleState`, as a plan `Step` records them, or as `rbgc sync` observes a
live workload). Out: one aligned line per role, e.g.

    decode   updated [##########..........]  1/2   ready [##########..........]  1/2   floor 1
    prefill  updated [####################] 12/12  ready [###############.....]  9/12  floor 10

Meant for `rbgc sync`'s live view (and anything else that draws a step); nothing here writes
to a stream. With `color`, a ready bar below the floor is red (the role serves less than its
strategy promises), else green; updated bars are cyan.
"""

from __future__ import annotations

from collections.abc import Mapping

from rbgc.plan.model import RoleState

_RESET = "\x1b[0m"
_UPDATED = "\x1b[36m"
_READY = "\x1b[32m"
_SHORT = "\x1b[1;31m"


def bar(count: int, total: int, width: int = 20, *, unicode: bool = False) -> str:
    """`[###.....]`: `count` of `total` (clamped), `width` cells, rounded down so a full bar
    means all of them."""
    full, empty = ("█", "░") if unicode else ("#", ".")
    filled = width if total <= 0 and count > 0 else (width * min(count, total)) // max(total, 1)
    return "[" + full * filled + empty * (width - filled) + "]"


def _paint(text: str, style: str, color: bool) -> str:
    return f"{style}{text}{_RESET}" if color else text


def role_line(
    name: str,
    state: RoleState,
    *,
    name_width: int = 0,
    digits: int = 0,
    width: int = 20,
    color: bool = False,
    unicode: bool = False,
) -> str:
    """One role: its updated bar, its ready bar and its floor (counts right-aligned to
    `digits`, names padded to `name_width`, so that lines of one step align)."""
    digits = max(digits, len(str(state.replicas)))
    total = state.replicas
    updated = min(state.updated, total)
    ready_style = _SHORT if state.available < state.floor else _READY
    updated_bar = _paint(bar(updated, total, width, unicode=unicode), _UPDATED, color)
    ready_bar = _paint(bar(state.available, total, width, unicode=unicode), ready_style, color)
    return (
        f"{name:<{name_width}}  updated {updated_bar} {updated:>{digits}}/{total:<{digits}}  "
        f"ready {ready_bar} {state.available:>{digits}}/{total:<{digits}}  floor {state.floor}"
    )


def step_bars(
    roles: Mapping[str, RoleState],
    *,
    width: int = 20,
    color: bool = False,
    unicode: bool = False,
) -> list[str]:
    """One aligned line per role, in the mapping's order (a `Step.roles`)."""
    name_width = max((len(n) for n in roles), default=0)
    digits = max((len(str(s.replicas)) for s in roles.values()), default=1)
    return [
        role_line(
            n, s, name_width=name_width, digits=digits, width=width, color=color, unicode=unicode
        )
        for n, s in roles.items()
    ]
