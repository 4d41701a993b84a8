"""`rbgc plan`: the rollout from OLD to NEW, step by step, with its invariants."""

from __future__ import annotations

import sys
from dataclasses import replace

import click

from rbgc.cli import COMMANDS
from rbgc.cli.options import CompileOptions, compile_options
from rbgc.cli.output import ReviewExit, guarded
from rbgc.cli.review import compare, review_exit, review_options


@click.command("plan", short_help=COMMANDS["plan"][1])
@review_options
@click.option(
    "--stop-after",
    type=click.IntRange(min=1),
    metavar="N",
    help="Show only the first N steps (a canary); invariants still cover the whole plan.",
)
@compile_options
@guarded
def command(
    paths: tuple[str, ...],
    git_ref: str | None,
    output: str,
    warmup: bool,
    stop_after: int | None,
    opts: CompileOptions,
) -> None:
    """Show the ordered rollout that applying NEW over OLD takes, step by step.

    Steps follow the dependency waves, each role's rolling strategy (partition,
    maxUnavailable, maxSurge) and the coordination rules (maxSkew). Each step lists the pods
    going down and, per role, replicas, updated and available pods and the capacity floor.
    Invariants are checked on every plan. Roles updated in place (--in-place, as `rbgc
    sync` compiles them) keep their pods; --warmup pulls new images first. With --git REF,
    OLD is PATH... as committed at REF and NEW the working tree.

    \b
    Examples:
      rbgc plan examples/pd-disaggregated.yaml upgrades/pd-v2.yaml
      rbgc plan --git origin/main examples/ -o markdown      # a pull-request comment
      rbgc plan --git origin/main examples/ --stop-after 1   # a canary's first step
      rbgc plan --kubernetes-version 1.35 old/ new/          # StatefulSet maxUnavailable counts
      rbgc plan --in-place --warmup examples/pd-inplace.yaml upgrades/pd-inplace-v2.yaml

    \b
    Exit codes, as kubectl diff: 0 no change, 1 changes, 2 error (invalid input, usage, or a
    rollout that can never finish, RBG802), 3 internal error.
    """
    from rbgc.diagnostics import DiagnosticError
    from rbgc.plan import render
    from rbgc.plan.changes import group_changes
    from rbgc.plan.planner import plan as make_plan

    out = opts.out
    try:
        options = replace(opts, warmup_later=True).pipeline_options()
        found = compare(paths, git_ref, options)
        groups = group_changes(found.old, found.new, found.changes)
        result = make_plan(
            groups,
            kubernetes_version=options.target.kubernetes_version,
            stop_after=stop_after,
            warmup=warmup,
        )
    except DiagnosticError as exc:
        out.fail(exc.diagnostics, ReviewExit.ERROR, writes=False)
    sys.stdout.write(render.plan_view(result, output, color=out.color_for(sys.stdout)))
    review_exit(bool(found.changes))
