"""`rbgc fit` answers: a readable text report, or stable JSON for machines."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rbgc.fit.cluster import Answer


def as_json(answers: Sequence[Answer]) -> str:
    groups = []
    for a in sorted(answers, key=lambda a: (a.namespace, a.name)):
        groups.append(
            {
                "name": a.name,
                "namespace": a.namespace,
                "fits": a.fits,
                "tier": a.tier,
                "assignments": [{"pod": pod, "node": node} for pod, node in a.assignments],
                "packs": [{"constraint": label, "level": level} for label, level in a.packs],
                "rollouts": [
                    {"role": r.role, "surge": r.surge, "proceeds": r.proceeds, "reason": r.reason}
                    for r in a.rollouts
                ],
                "reason": a.reason,
            }
        )
    return json.dumps({"groups": groups}, indent=2) + "\n"


def as_text(answers: Sequence[Answer], node_count: int) -> str:
    lines = []
    for a in sorted(answers, key=lambda a: (a.namespace, a.name)):
        head = f"{a.namespace}/{a.name}: "
        if not a.fits:
            lines += [head + "does not fit", f"  reason: {a.reason}", ""]
            continue
        pods = len(a.assignments)
        used = len({node for _, node in a.assignments})
        lines.append(head + f"fits: {pods} pod(s) on {used} node(s)")
        for r in a.rollouts:
            if not r.proceeds:
                lines.append(f"  rollout of {r.role} cannot proceed: {r.reason}")
        for (label, level), count in _counted(a.packs):
            each = f" (each of {count})" if count > 1 else ""
            lines.append(
                f"  pack {label}{each}: in one {level} domain"
                if level
                else f"  pack {label}{each}: no domain had room; placed anywhere"
            )
        width = max((len(pod) for pod, _ in a.assignments), default=0)
        lines += [f"  {pod:<{width}}  {node}" for pod, node in a.assignments]
        lines.append("")
    if not answers:  # a wrong path, not a verdict
        return "rbgc fit: no RoleBasedGroup in the inputs, nothing to place\n"
    fitting = sum(a.fits for a in answers)
    summary = f"rbgc fit: {fitting} of {len(answers)} group(s) fit on {node_count} node(s)"
    stuck = sum(not r.proceeds for a in answers for r in a.rollouts)
    if stuck:
        summary += f"; {stuck} rollout(s) cannot proceed"
    lines.append(summary)
    return "\n".join(lines) + "\n"


def passed(answers: Sequence[Answer]) -> bool:
    """Every group fits and every rollout can proceed (`rbgc fit` exits 0)."""
    return all(a.fits and all(r.proceeds for r in a.rollouts) for a in answers)


def _counted(
    packs: Sequence[tuple[str, str | None]],
) -> list[tuple[tuple[str, str | None], int]]:
    """Packs in order, identical ones (one per instance) once with their count."""
    counts: dict[tuple[str, str | None], int] = {}
    for pack in packs:
        counts[pack] = counts.get(pack, 0) + 1
    return list(counts.items())
