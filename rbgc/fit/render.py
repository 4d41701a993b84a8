"""`rbgc fit` answers: a readable text report, or stable JSON for machines."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rbgc.fit.solver import Answer


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
        for label, level in a.packs:
            lines.append(
                f"  pack {label}: in one {level} domain"
                if level
                else f"  pack {label}: no domain had room; placed anywhere"
            )
        width = max((len(pod) for pod, _ in a.assignments), default=0)
        lines += [f"  {pod:<{width}}  {node}" for pod, node in a.assignments]
        lines.append("")
    fitting = sum(a.fits for a in answers)
    lines.append(f"rbgc fit: {fitting} of {len(answers)} group(s) fit on {node_count} node(s)")
    return "\n".join(lines) + "\n"
