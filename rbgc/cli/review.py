"""What `diff` and `plan` share: OLD and NEW (or `--git REF`), compiled as `build` would."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from rbgc.cli.output import ReviewExit
from rbgc.diagnostics import DiagnosticError

if TYPE_CHECKING:
    from rbgc.pipeline import Options
    from rbgc.plan.review import Comparison

F = TypeVar("F", bound=Callable[..., Any])


def review_options(func: F) -> F:
    options = [
        click.argument("paths", nargs=-1, metavar="OLD NEW | --git REF [PATH...]"),
        click.option(
            "--git",
            "git_ref",
            metavar="REF",
            help="Compare PATH... (default: .) in the working tree against git revision REF.",
        ),
        click.option(
            "-o",
            "--output",
            type=click.Choice(["text", "json", "markdown"]),
            default="text",
            show_default=True,
            help="text (coloured on a terminal), json (docs/diff-format.md) or markdown "
            "(a pull-request comment).",
        ),
        click.option(
            "--warmup",
            is_flag=True,
            help="Pull each role's new images on the nodes its pods run on before the first of "
            "them is replaced or updated in place (from the group's first step; `rbgc sync "
            "--warmup` does it).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def compare(paths: tuple[str, ...], git_ref: str | None, options: Options) -> Comparison:
    from rbgc.plan.review import compare, compare_git

    if git_ref is None and len(paths) != 2:
        raise click.UsageError("expected OLD and NEW (or --git REF [PATH...])")
    if git_ref is not None:
        try:
            return compare_git(git_ref, paths or (".",), options)
        except DiagnosticError as exc:
            raise _two_versions_hint(exc, paths) from None
    return compare([paths[0]], [paths[1]], options)


def _two_versions_hint(exc: DiagnosticError, paths: tuple[str, ...]) -> DiagnosticError:
    """`--git REF old.yaml new.yaml` compiles both files as one version, whose objects then
    clash (RBG113): say that the two modes do not mix."""
    if len(paths) < 2 or not any(d.code == "RBG113" for d in exc.diagnostics):
        return exc
    hint = (
        "with --git REF, the PATHs are one version (as committed at REF against the working "
        "tree); to compare two files, drop --git: rbgc diff OLD NEW"
    )
    return DiagnosticError(
        replace(d, help=hint) if d.code == "RBG113" else d for d in exc.diagnostics
    )


def review_exit(changed: bool) -> NoReturn:
    raise SystemExit(ReviewExit.CHANGES if changed else ReviewExit.NO_CHANGES)
