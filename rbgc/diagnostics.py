"""Diagnostics are data: a code, a message, a place in the user's text and a hint.

Passes raise `DiagnosticError` carrying every problem they found; rendering lives in
`report.py` and the library never prints. Codes are stable and grouped by stage:

    RBG0xx  loading YAML          RBG1xx  schema and validation
    RBG2xx  dependencies          RBG3xx  placement
    RBG4xx  expansion             RBG5xx  discovery
    RBG6xx  output checks         RBG7xx  overlays, GitOps, convert (72x)
    RBG8xx  diff and plan         RBG9xx  internal (901), sync (91x)
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """A 1-based position in a source file (`-` is standard input)."""

    path: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.path
        return f"{self.path}:{self.line}:{self.col}"


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagnostic:
    """One problem: code, message, place in the input, and how to fix it."""

    code: str
    message: str
    span: Span | None = None
    help: str | None = None
    notes: tuple[tuple[Span, str], ...] = ()
    severity: Severity = Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str, str]:
        span = self.span or Span("")
        return (span.path, span.line, span.col, self.code, self.message)


class DiagnosticError(Exception):
    """Raised by a stage with all the problems it found (never just the first)."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        # A RoleBasedGroupSet compiles one group per replica: report each problem once.
        self.diagnostics = tuple(sorted(dict.fromkeys(diagnostics), key=Diagnostic.sort_key))
        super().__init__("; ".join(d.message for d in self.diagnostics))


def error(code: str, message: str, span: Span | None = None, **kw: object) -> Diagnostic:
    return Diagnostic(code=code, message=message, span=span, **kw)  # type: ignore[arg-type]


def warning(code: str, message: str, span: Span | None = None, **kw: object) -> Diagnostic:
    return Diagnostic(
        code=code,
        message=message,
        span=span,
        severity=Severity.WARNING,
        **kw,  # type: ignore[arg-type]
    )


def did_you_mean(word: str, choices: Iterable[str], otherwise: str) -> str:
    """A help line: the closest choice if one is close, else `otherwise`.

    difflib is imported here, on the error path only, to keep the build's start-up lean.
    """
    import difflib

    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else otherwise
