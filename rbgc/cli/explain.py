"""`rbgc explain`: what a diagnostic code means, or the list of them all."""

from __future__ import annotations

import difflib
import re

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
    # a code as a diagnostic prints it, copied from stderr: `warning[RBG315]:`
    pasted = re.search(r"RBG\d{3}", code, re.IGNORECASE)
    key = pasted.group(0).upper() if pasted else code
    doc: CodeDoc | None = CODES.get(key) or by_name.get(code.lower())
    if doc is None:
        close = difflib.get_close_matches(code.lower(), list(by_name), n=1)
        near = f"did you mean '{close[0]}' ({by_name[close[0]].code})?" if close else ""
        raise click.UsageError(f"unknown code '{code}'; {near or '`rbgc explain` lists them'}")
    click.echo(doc.render(), nl=False)
