"""What every command shares on its way out: exit codes, how diagnostics are shown, and the
guard that turns a bug into RBG901 instead of a traceback."""

from __future__ import annotations

import enum
import functools
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, NoReturn, TypeVar, cast

import click

if TYPE_CHECKING:
    from rbgc.diagnostics import Diagnostic

F = TypeVar("F", bound=Callable[..., Any])


class ExitCode(enum.IntEnum):
    OK = 0
    INVALID = 1  # invalid input (build, validate); changes found (diff)
    USAGE = 2
    INTERNAL = 3
    # sync: 4 the cluster did not converge before --timeout, 5 the cluster refused or failed.
    TIMEOUT = 4
    CLUSTER = 5


class ReviewExit(enum.IntEnum):
    """diff and plan follow `kubectl diff`: 1 means changes, every error is >= 2."""

    NO_CHANGES = 0
    CHANGES = 1
    ERROR = 2


def use_color(mode: str, stream: IO[str] | None = None) -> bool:
    """`--color auto|always|never` for `stream` (stderr by default); NO_COLOR wins over auto."""
    if mode == "always":
        return True
    if mode == "never" or os.environ.get("NO_COLOR"):
        return False
    return bool((stream or sys.stderr).isatty())


@dataclass(frozen=True, slots=True)
class Output:
    """How a command shows its diagnostics: `--format`, `--color`, and the warnings the user
    accepted with `--ignore` (never shown, never counted, never fatal)."""

    fmt: str = "text"  # text | json
    color_mode: str = "auto"  # auto | always | never
    ignore: frozenset[str] = frozenset()

    @property
    def color(self) -> bool:
        """Colour on stderr, where diagnostics go."""
        return use_color(self.color_mode)

    def color_for(self, stream: IO[str]) -> bool:
        """Colour on another stream (diff and plan colour their stdout)."""
        return use_color(self.color_mode, stream)

    def shown(self, diagnostics: Sequence[Diagnostic]) -> list[Diagnostic]:
        from rbgc.diagnostics import Severity

        # Errors are never ignored (--ignore refuses error codes); this only drops warnings.
        return [d for d in diagnostics if d.severity is Severity.ERROR or d.code not in self.ignore]

    def report(self, diagnostics: Sequence[Diagnostic]) -> None:
        from rbgc import report

        shown = self.shown(diagnostics)
        if self.fmt == "json":
            sys.stderr.write(report.as_json(shown))
        elif shown:
            sys.stderr.write(report.text(shown, color=self.color))

    def fail(
        self,
        diagnostics: Sequence[Diagnostic],
        code: int = ExitCode.INVALID,
        *,
        writes: bool = True,
    ) -> NoReturn:
        """Report and exit; `writes`: the command would have written output (build, krm)."""
        from rbgc import report

        self.report(diagnostics)
        if self.fmt == "text":
            done = "; nothing was written" if writes else ""
            sys.stderr.write(f"rbgc: {report.summary(self.shown(diagnostics))}{done}\n")
        raise SystemExit(code)


def internal(exc: BaseException) -> NoReturn:
    import traceback

    sys.stderr.write(
        "rbgc: error[RBG901]: internal error: "
        f"{type(exc).__name__}: {exc}\n"
        "  help: this is a bug in rbgc, not in your manifests; please report it with the input "
        "and the details below\n"
    )
    if os.environ.get("RBGC_DEBUG"):
        traceback.print_exception(exc)
    else:
        sys.stderr.write("  note: set RBGC_DEBUG=1 to include the traceback in the report\n")
    raise SystemExit(ExitCode.INTERNAL)


def guarded(func: F) -> F:
    """Every command's last line of defence: an exception that is not a clean exit or a
    usage error is a bug in rbgc, reported as RBG901 (exit 3) without a traceback."""

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (SystemExit, KeyboardInterrupt, click.ClickException):
            raise
        except Exception as exc:
            internal(exc)

    return cast(F, run)
