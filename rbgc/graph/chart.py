"""The rollout as Mermaid `xychart-beta` charts, for `rbgc plan -o markdown` (a PR comment).

In: a `Plan`. Out: markdown lines. Per group, one chart of its pace: a line per role the plan
acts on, the share of its replicas on the new revision after each step, so the skew between
roles is the gap between lines. Then, per such role, its capacity: bars for the share of
replicas ready during each step (the fewest), a red line for the capacity floor its strategy
promises; a bar below the line would be an outage the plan allows.

Mermaid draws a legend only in recent releases, so the colours are fixed (a palette in the
chart's front matter) and named under each chart. Roles the plan never touches are left out:
they stay at 100% and would only hide the others. Shares are whole percents; a role with no
replicas plots at 0.
"""

from __future__ import annotations

from collections.abc import Sequence

from rbgc.plan.model import Plan, RoleState, Step

# (colour, its name in the caption); the floor's red is kept out of the role palette
PALETTE = (
    ("#1f77b4", "blue"),
    ("#ff7f0e", "orange"),
    ("#2ca02c", "green"),
    ("#9467bd", "purple"),
    ("#8c564b", "brown"),
    ("#e377c2", "pink"),
    ("#17becf", "cyan"),
    ("#7f7f7f", "grey"),
)
READY = "#9ecae1"
FLOOR = "#d62728"


def _share(count: int, state: RoleState) -> int:
    return round(100 * min(count, state.replicas) / state.replicas) if state.replicas else 0


def _text(text: str) -> str:
    """A chart string: xychart has no escape for a double quote."""
    return '"' + text.replace('"', "'") + '"'


def _chart(title: str, steps: Sequence[Step], plots: list[str], colours: list[str]) -> list[str]:
    axis = ", ".join(_text(str(s.number)) for s in steps)
    return [
        "```mermaid",
        "---",
        "config:",
        "  xyChart:",
        "    width: 640",
        "    height: 280",
        "  themeVariables:",
        "    xyChart:",
        f'      plotColorPalette: "{", ".join(colours)}"',
        "---",
        "xychart-beta",
        f"  title {_text(title)}",
        f"  x-axis {_text('step')} [{axis}]",
        f"  y-axis {_text('% of replicas')} 0 --> 100",
        *[f"  {p}" for p in plots],
        "```",
    ]


def _values(numbers: Sequence[int]) -> str:
    return "[" + ", ".join(str(n) for n in numbers) + "]"


def _group(key: str, steps: Sequence[Step]) -> list[str]:
    acted = {a.role for s in steps for a in s.actions}
    roles = [name for name in steps[0].roles if name in acted]
    roles += sorted(acted - set(roles))  # a role only a later step knows
    if not roles:
        return []

    def states(role: str) -> list[RoleState]:
        empty = RoleState(replicas=0, updated=0, available=0, partition=None, floor=0)
        return [s.roles.get(role, empty) for s in steps]

    colours = [PALETTE[i % len(PALETTE)] for i in range(len(roles))]
    pace = [
        f"line {_text(role)} {_values([_share(r.updated, r) for r in states(role)])}"
        for role in roles
    ]
    out = [f"**`{key}`: pods on the new revision after each step**", ""]
    out += _chart(f"{key}: on the new revision (%)", steps, pace, [c for c, _ in colours])
    legend = ", ".join(f"{role} {name}" for role, (_, name) in zip(roles, colours, strict=True))
    out += ["", f"Lines: {legend}.", ""]
    out += [f"**`{key}`: ready replicas during each step, against the capacity floor**", ""]
    for role in roles:
        found = states(role)
        plots = [
            f"bar {_text('ready')} {_values([_share(r.available, r) for r in found])}",
            f"line {_text('floor')} {_values([_share(r.floor, r) for r in found])}",
        ]
        out += _chart(f"{role}: ready during the step (%)", steps, plots, [READY, FLOOR])
        out.append("")
    out += ["Bars: the fewest ready replicas during the step; red line: the capacity floor.", ""]
    return out


def rollout_charts(plan: Plan) -> list[str]:
    """Markdown lines: the pace and capacity charts of every group the plan's steps touch."""
    order: list[str] = []
    for s in plan.steps:
        if s.group not in order:
            order.append(s.group)
    out: list[str] = []
    for key in order:
        out += _group(key, [s for s in plan.steps if s.group == key])
    return out
