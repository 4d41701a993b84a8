"""The `rbgc` command line: flags -> library -> reporter -> exit code.

One module per command (as ruff's `commands/`), loaded only when that command runs, so
`rbgc build` never imports what `sync` or `fit` need:

    output.py    exit codes, the diagnostics reporter (`--format`, `--color`, `--ignore`), the guard
    options.py   the common compile options, read once into a frozen `CompileOptions`
    build.py validate.py graph.py diff.py plan.py review.py fit.py sync.py krm.py
    post_render.py convert.py explain.py

Thin on purpose: heavy modules are imported inside the commands that need them. Normal output
goes to stdout; diagnostics, progress and explanations go to stderr.
"""

from __future__ import annotations

import importlib

import click

from rbgc import __version__

# command -> (module under rbgc.cli, one-line help shown by `rbgc --help` without importing it)
COMMANDS: dict[str, tuple[str, str]] = {
    "build": ("build", "Compile manifests to plain Kubernetes objects (stdout or --out DIR)."),
    "validate": ("validate", "Check manifests and their compiled objects; write nothing."),
    "graph": ("graph", "Draw each group's roles, waves and dependencies (Mermaid or DOT)."),
    "diff": ("diff", "Compare two versions: changed objects and the pods they restart."),
    "plan": ("plan", "Show the rollout from OLD to NEW, step by step, with its invariants."),
    "fit": ("fit", "Check offline whether each group fits on a cluster's nodes."),
    "sync": ("sync", "Apply the compiled objects to a cluster in waves, following the plan."),
    "krm": ("krm", "Run as a KRM function (kpt, kustomize): ResourceList in, out."),
    "post-render": (
        "post_render",
        "Run as a Helm post-renderer: manifests on stdin, compiled on stdout.",
    ),
    "convert": ("convert", "Rewrite v1alpha1 manifests as v1alpha2 (or back), keeping comments."),
    "explain": ("explain", "Explain a diagnostic code, or list them all."),
}


class LazyGroup(click.Group):
    """Imports a command's module only when the command is looked up (click's lazy-loading
    pattern); `rbgc --help` lists the table's own short help without importing any."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(f"rbgc.cli.{entry[0]}")
        command = module.command
        assert isinstance(command, click.Command)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and name not in COMMANDS and not name.startswith("-") and not ctx.resilient_parsing:
            import difflib

            close = difflib.get_close_matches(name, list(COMMANDS), n=1)
            if close:  # a typo, as kubectl and git say
                ctx.fail(f"No such command '{name}'. Did you mean '{close[0]}'?")
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, short) for name, (_module, short) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "-V", "--version", prog_name="rbgc")
def main() -> None:
    """Compile RoleBasedGroup specs into plain, deterministic Kubernetes YAML.

    rbgc reads upstream RBG (workloads.x-k8s.io/v1alpha1 and v1alpha2) manifests and emits the
    StatefulSets, Deployments, headless Services and discovery ConfigMaps the RBG operator
    would create, each with an Argo CD sync wave that encodes the roles' start order. No
    operator is needed in the cluster.

    \b
    Examples:
      rbgc build examples/pd-disaggregated.yaml     YAML stream on stdout
      rbgc build overlays/prod -o json              an overlay, as a JSON List
      cat examples/single-node.yaml | rbgc build -  from stdin
      rbgc build examples/ --out rendered/          one file per object
      rbgc validate examples/ overlays/             check only (pre-commit)
      rbgc explain RBG203                           what a diagnostic code means
      rbgc diff old/ new/                           what an upgrade changes and restarts
      rbgc plan --git main examples/                the rollout, step by step
      rbgc sync --simulate examples/                apply in waves to a simulated cluster
      rbgc convert examples/single-node.yaml        a v1alpha1 file as v1alpha2
      rbgc graph examples/multi-level.yaml          the groups as a picture (Mermaid, DOT)
      rbgc fit --nodes examples/inventory/nodes.json examples/pd-disaggregated.yaml
                                                    will it fit on these nodes?

    \b
    Exit codes: 0 success, 1 invalid input, 2 usage error, 3 internal error.
    diff and plan, as kubectl diff: 0 no change, 1 changes, 2 any error, 3 internal error.
    sync: 0 converged, 1 invalid input, 2 usage, 3 internal, 4 timed out, 5 cluster error.
    fit: 0 every group fits, 1 a group does not fit, 2 usage or input error, 3 internal error.

    \b
    Warnings you have accepted: --ignore CODE on any compiling command, or $RBGC_IGNORE.

    \b
    Shell completion (commands, options, choices, file names), in ~/.bashrc:
      eval "$(_RBGC_COMPLETE=bash_source rbgc)"
    zsh: zsh_source in ~/.zshrc; fish: _RBGC_COMPLETE=fish_source rbgc | source
    """


def kubectl_main() -> None:
    """`kubectl rbgc ...`: kubectl runs `kubectl-rbgc` from PATH with the remaining arguments."""
    main(prog_name="kubectl rbgc")


__all__ = ["COMMANDS", "kubectl_main", "main"]
