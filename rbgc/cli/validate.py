"""`rbgc validate`: the whole compiler plus both schemas; writes nothing (pre-commit)."""

from __future__ import annotations

import sys
from dataclasses import replace

import click

from rbgc.cli import COMMANDS
from rbgc.cli.options import (
    CompileOptions,
    compile_options,
    fail_on_warning_option,
    repository_root,
)
from rbgc.cli.output import guarded


@click.command("validate", short_help=COMMANDS["validate"][1])
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing when everything is valid.")
@click.option(
    "--separately",
    is_flag=True,
    help="Compile each file on its own (independent apps that reuse group names; a "
    "ClusterEngineRuntimeProfile is still found in any input); by default all files form one "
    "program, as one `kubectl apply -f` of them would.",
)
@fail_on_warning_option
@compile_options
@guarded
def command(
    paths: tuple[str, ...],
    quiet: bool,
    separately: bool,
    fail_on_warning: bool,
    opts: CompileOptions,
) -> None:
    """Check PATH... without writing anything (made for pre-commit: many files per call).

    Runs the whole compiler, checks RBG documents against the JSON Schema in schemas/ with
    jsonschema, and checks every compiled core object against the Kubernetes schema of the
    target version (of custom resources, the pod templates they embed). Files are read as
    `rbgc build` reads them, so what passes here builds: files with no Kubernetes object at all
    (no document with two of apiVersion, kind and metadata: CI workflows, Helm values and
    Chart.yaml, docker-compose files, kustomization.yaml) are skipped and counted. With no
    PATH, the repository is checked from its root: the YAML files git sees, less rbgc's own
    --out folders.

    \b
    Examples:
      rbgc validate examples/
      rbgc validate                             # the whole repository (pre-commit, no args)
      rbgc validate $(git ls-files "*.yaml")    # files without objects are skipped
      rbgc validate --kubernetes-version 1.30 --format json manifests/
      rbgc validate --fail-on-warning overlays/prod   # as the Argo CD plugin renders it

    \b
    Exit codes: 0 valid (warnings may be printed), 1 problems found (or warnings, with
    --fail-on-warning), 2 usage error, 3 internal error.
    """
    from rbgc.diagnostics import DiagnosticError
    from rbgc.validation import validate_paths, validate_repository

    out = opts.out
    try:
        options = opts.pipeline_options()
        if paths:
            outcome = validate_paths(paths, options, opts.version_text, separately=separately)
        else:
            root = repository_root(opts.root)
            outcome = validate_repository(root, options, opts.version_text, separately=separately)
    except DiagnosticError as exc:
        out.fail(exc.diagnostics, writes=False)
    if outcome.errors or (fail_on_warning and out.shown(outcome.diagnostics)):
        out.fail(outcome.diagnostics, writes=False)
    outcome = replace(outcome, diagnostics=tuple(out.shown(outcome.diagnostics)))
    out.report(outcome.diagnostics)
    if not quiet and out.fmt == "text":
        sys.stdout.write(outcome.summary() + "\n")
