"""`rbgc explain`: what a diagnostic code means, or the list of them all."""

from __future__ import annotations

import click

from rbgc.cli import COMMANDS


@click.command("explain", short_help=COMMANDS["explain"][1])
@click.argument("code", required=False)
def command(code: str | None) -> None:
    """Explain a diagnostic code (e.g. RBG203), or list them all.

    \b
    Examples:
      rbgc explain                 list every code
      rbgc explain RBG203          what a dependency cycle is and how to fix it
      rbgc explain dependency-cycle

    \b
    Exit codes: 0 printed, 2 unknown code.
    """
    from rbgc.codes import CODES, CodeDoc

    if code is None:
        for entry in CODES.values():
            click.echo(f"{entry.code}  {entry.name:<32} {entry.summary}")
        return
    by_name = {d.name: d for d in CODES.values()}
    doc: CodeDoc | None = CODES.get(code.upper()) or by_name.get(code)
    if doc is None:
        raise click.UsageError(f"unknown code {code!r}; `rbgc explain` lists them")
    click.echo(doc.render(), nl=False)
