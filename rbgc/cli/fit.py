"""`rbgc fit`: will each compiled group fit on a cluster's nodes, decided offline."""

from __future__ import annotations

import sys

import click

from rbgc.cli import COMMANDS
from rbgc.cli.options import CompileOptions, compile_options
from rbgc.cli.output import ExitCode, guarded


@click.command("fit", short_help=COMMANDS["fit"][1])
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option(
    "--nodes",
    "nodes_path",
    required=True,
    metavar="FILE",
    help="The nodes, as `kubectl get nodes -o yaml` prints them (a List or a stream of Nodes); "
    "`-o json` output reads several times faster.",
)
@click.option(
    "--pods",
    "pods_path",
    metavar="FILE",
    help="Running pods (`kubectl get pods -A -o yaml`): their requests are taken off their nodes.",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="The answer on stdout: a report for people, or JSON.",
)
@compile_options
@guarded
def command(
    paths: tuple[str, ...],
    nodes_path: str,
    pods_path: str | None,
    output: str,
    opts: CompileOptions,
) -> None:
    """Compile PATH... as `build` does, then decide whether each group can be placed.

    Atomically, as a gang scheduler would: all pods of a group or none, with CPU, memory,
    GPUs and other extended resources, node selectors and affinity, taints, cordoned nodes,
    pod (anti-)affinity as kube-scheduler reads it (all required terms met by one pod,
    matchLabelKeys), spread constraints (minDomains, node inclusion policies) and exclusive
    topology, for the --kubernetes-version given. Each group gets a placement (pod -> node,
    and the level each pack was satisfied at) or the tightest constraint that fails and by how
    much. Groups are placed in (namespace, name) order, each on what the earlier ones left;
    then each Deployment is checked for room to start its next rolling update.

    \b
    Examples:
      kubectl get nodes -o yaml > nodes.yaml
      rbgc fit --nodes nodes.yaml examples/pd-disaggregated.yaml
      rbgc fit --nodes nodes.yaml --pods pods.yaml -o json gitops/apps/

    \b
    Exit codes: 0 every group fits, 1 a group does not fit or a rollout cannot proceed,
    2 usage or input error, 3 internal error.
    """
    from rbgc.diagnostics import DiagnosticError
    from rbgc.fit import fit as place
    from rbgc.fit import inventory, render
    from rbgc.fit.rules import SUPERSEDED, nesting

    out = opts.out
    options = opts.pipeline_options()
    result = opts.compile(paths, ExitCode.USAGE)
    try:
        cluster = inventory.read(nodes_path, pods_path)
        answers, warnings = place(result.bundle, cluster, options.target.kubernetes_version)
        warnings = [*nesting(result.bundle.groups, cluster.nodes), *warnings]
    except DiagnosticError as exc:
        out.fail(exc.diagnostics, ExitCode.USAGE)
    built = [w for w in result.warnings if w.code not in SUPERSEDED]
    out.report([*built, *warnings])
    if output == "json":
        sys.stdout.write(render.as_json(answers))
    else:
        sys.stdout.write(render.as_text(answers, len(cluster.nodes)))
    raise SystemExit(ExitCode.OK if render.passed(answers) else ExitCode.INVALID)
