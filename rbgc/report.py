"""Diagnostic reporters: concise text for people, JSON for machines.

Text is ruff's concise shape with rustc's `help:`/`note:` lines:

    examples/pd.yaml:12:9: error[RBG203]: dependency cycle: prefill -> router -> prefill
      help: remove one of these dependencies so the roles have a start order
      note: examples/pd.yaml:12:9: 'prefill' depends on 'router' here
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from rbgc.diagnostics import Diagnostic, Severity

_COLORS = {Severity.ERROR: "\x1b[1;31m", Severity.WARNING: "\x1b[1;33m"}
_BOLD, _CYAN, _RESET = "\x1b[1m", "\x1b[36m", "\x1b[0m"


def text(diagnostics: Sequence[Diagnostic], *, color: bool = False) -> str:
    lines = []
    for d in diagnostics:
        where = f"{d.span}: " if d.span else "rbgc: "
        label = f"{d.severity}[{d.code}]"
        if color:
            where = f"{_BOLD}{where}{_RESET}"
            label = f"{_COLORS[d.severity]}{label}{_RESET}"
        lines.append(f"{where}{label}: {d.message}")
        if d.help:
            lines.append(f"  {_CYAN + 'help' + _RESET if color else 'help'}: {d.help}")
        for span, note in d.notes:
            lines.append(f"  note: {span}: {note}")
    return "".join(line + "\n" for line in lines)


def summary(diagnostics: Sequence[Diagnostic]) -> str:
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = len(diagnostics) - errors
    parts = []
    if errors:
        parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return ", ".join(parts)


def as_json(diagnostics: Sequence[Diagnostic]) -> str:
    """Every diagnostic with its code's name, read from the code table (`rbgc.codes`): only
    this reporter needs the table, so a build that reports nothing never builds it."""
    from rbgc.codes import CODES

    items = []
    for d in diagnostics:
        items.append(
            {
                "code": d.code,
                "name": CODES[d.code].name,
                "severity": str(d.severity),
                "message": d.message,
                "help": d.help,
                "path": d.span.path if d.span else None,
                "line": d.span.line if d.span and d.span.line else None,
                "col": d.span.col if d.span and d.span.col else None,
                "notes": [
                    {"path": s.path, "line": s.line, "col": s.col, "message": m} for s, m in d.notes
                ],
            }
        )
    return json.dumps({"diagnostics": items}, indent=2) + "\n"
