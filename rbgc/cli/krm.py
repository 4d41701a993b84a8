"""`rbgc krm`: a KRM function (kpt, kustomize): a ResourceList in, the same out."""

from __future__ import annotations

import sys

import click

from rbgc.cli import COMMANDS
from rbgc.cli.options import CompileOptions, compile_options
from rbgc.cli.output import ExitCode, guarded


@click.command("krm", short_help=COMMANDS["krm"][1])
@compile_options
@guarded
def command(opts: CompileOptions) -> None:
    """KRM function for kpt and kustomize: a ResourceList on stdin, the same on stdout.

    RoleBasedGroups in `items` are replaced by their compiled objects, everything else passes
    through with its config.kubernetes.io annotations. Diagnostics go to `results` (and to
    stderr); any error exits 1. The namespace comes from --namespace, else the function
    config's `data.namespace`, else as for `build`.

    \b
    Examples:
      kpt fn eval apps/ --exec "rbgc krm"

    \b
    Exit codes: 0 compiled (warnings in `results`), 1 invalid input or not a ResourceList,
    2 usage error, 3 internal error.
    """
    from rbgc import krm as function
    from rbgc.diagnostics import DiagnosticError
    from rbgc.source import STDIN, read_text

    out = opts.out
    try:
        text = read_text(STDIN)  # size-capped, as every input
        chosen = opts.namespace or function.namespace_option(text)
        outcome = function.run(text, opts.pipeline_options(namespace=chosen))
    except DiagnosticError as exc:
        out.fail(exc.diagnostics)
    sys.stdout.write(outcome.text)
    out.report(outcome.shown)
    if not outcome.ok:
        raise SystemExit(ExitCode.INVALID)
