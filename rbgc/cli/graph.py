"""`rbgc graph`: the compiled groups as one picture (Mermaid or DOT) on stdout."""

from __future__ import annotations

import sys

import click

from rbgc.cli import COMMANDS
from rbgc.cli.options import CompileOptions, compile_options
from rbgc.cli.output import guarded


@click.command("graph", short_help=COMMANDS["graph"][1])
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option(
    "-o",
    "--output",
    type=click.Choice(["mermaid", "dot"]),
    default="mermaid",
    show_default=True,
    help="mermaid (GitHub and GitLab render it in markdown) or dot (Graphviz: dot -Tsvg).",
)
@compile_options
@guarded
def command(paths: tuple[str, ...], output: str, opts: CompileOptions) -> None:
    """Draw what the build decides for PATH..., as one picture on stdout.

    PATH... is compiled as `build` compiles it (one program, same options, overlays
    resolved), then drawn: every group is a box; inside it one box per sync wave, in start
    order (wave 0 first); each role is a node labelled with its workload kind, replicas and
    pods per replica. A solid arrow A -> B means B starts only when A is ready (a
    dependency). A gang PodGroup (hexagon), each coordination rule (parallelogram) and
    each placement rule (pack rounded, spread trapezoid, separate octagon or subroutine) are
    linked by dashed lines to the roles they bind.

    \b
    Examples:
      rbgc graph examples/multi-level.yaml                    Mermaid, for a README or a PR
      rbgc graph examples/ -o dot | dot -Tsvg > groups.svg    Graphviz
      rbgc graph overlays/prod                                an environment overlay

    \b
    In markdown, put the Mermaid text in a ```mermaid fenced block.

    \b
    Exit codes: 0 drawn (warnings may be printed), 1 invalid input, 2 usage error,
    3 internal error.
    """
    result = opts.compile(paths)
    from rbgc.graph import render

    text = render(result.bundle, output)
    opts.out.report(result.warnings)
    sys.stdout.write(text)
