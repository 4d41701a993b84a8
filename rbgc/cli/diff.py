"""`rbgc diff`: what changes between two versions, and what it does to pods."""

from __future__ import annotations

import sys
from dataclasses import replace

import click

from rbgc.cli import COMMANDS
from rbgc.cli.options import CompileOptions, compile_options
from rbgc.cli.output import ReviewExit, guarded
from rbgc.cli.review import compare, review_exit, review_options


@click.command("diff", short_help=COMMANDS["diff"][1])
@review_options
@compile_options
@guarded
def command(
    paths: tuple[str, ...], git_ref: str | None, output: str, warmup: bool, opts: CompileOptions
) -> None:
    """Show what changes between two versions of the manifests, and what it does to pods.

    OLD and NEW are files or folders; both are compiled as `build` would, and the compiled
    objects are compared. Each change is classified: restarts (pod template changed),
    in-place (images only, on a role updated in place: see --in-place), scale, config,
    recreate (an immutable field changed), metadata. Secret values are masked. With --git
    REF, OLD is PATH... as committed at REF and NEW the working tree.

    \b
    Examples:
      rbgc diff examples/pd-disaggregated.yaml upgrades/pd-v2.yaml
      rbgc diff --git origin/main examples/ -o markdown     # a pull-request comment
      rbgc diff -o json old/ new/ | jq -r '.changes[] | "\\(.kind) \\(.name) \\(.classes)"'
      rbgc diff --in-place --warmup examples/pd-inplace.yaml upgrades/pd-inplace-v2.yaml

    \b
    Exit codes, as kubectl diff: 0 no change, 1 changes, 2 error (invalid input or usage),
    3 internal error.
    """
    from rbgc.diagnostics import DiagnosticError
    from rbgc.plan import render

    out = opts.out
    try:
        found = compare(paths, git_ref, replace(opts, warmup_later=True).pipeline_options())
    except DiagnosticError as exc:
        out.fail(exc.diagnostics, ReviewExit.ERROR, writes=False)
    changes = found.changes
    if warmup:
        from rbgc.plan.warmups import with_warmup

        changes = with_warmup(changes)
    sys.stdout.write(render.diff_view(changes, output, color=out.color_for(sys.stdout)))
    review_exit(bool(found.changes))
