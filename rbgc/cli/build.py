"""`rbgc build`: compile to stdout (`-o yaml|json`) or to a folder (`--out DIR`)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

import click

from rbgc.cli import COMMANDS
from rbgc.cli.options import (
    CompileOptions,
    Option,
    argocd_env,
    compile_options,
    fail_on_warning_option,
    repository_root,
)
from rbgc.cli.output import ExitCode, guarded

if TYPE_CHECKING:
    from rbgc.diagnostics import Diagnostic
    from rbgc.pipeline import Result


@click.command("build", short_help=COMMANDS["build"][1])
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option(
    "-o",
    "--output",
    type=click.Choice(["yaml", "json"]),
    default="yaml",
    show_default=True,
    help="Format of the compiled objects on stdout.",
)
@click.option(
    "--out", "out_dir", metavar="DIR", help="Write one file per object into DIR instead of stdout."
)
@click.option(
    "--layout",
    type=click.Choice(["flat", "waves"]),
    help="With --out: all files in DIR (flat, the default) or one folder per sync wave.",
)
@click.option(
    "--flux",
    is_flag=True,
    help="With --out: also write DIR/flux/, one Flux Kustomization per wave chained with "
    "dependsOn and wait (implies --layout waves).",
)
@click.option(
    "--flux-source",
    metavar="NAME",
    default="flux-system",
    show_default=True,
    help="The Flux GitRepository (in flux-system) that holds DIR.",
)
@click.option(
    "--check",
    is_flag=True,
    help="With --out: write nothing; exit 1 if DIR differs from what would be written.",
)
@click.option(
    "--strict",
    cls=Option,
    is_flag=True,
    envvar=argocd_env("STRICT"),
    help="Also check every core object against the Kubernetes schema (slower start) "
    f"[env: {argocd_env('STRICT')}].",
)
@click.option("--explain", is_flag=True, help="Print what each pass decided to stderr.")
@click.option(
    "--nodes",
    cls=Option,
    metavar="FILE",
    envvar=argocd_env("NODES"),
    help="The cluster's nodes (`kubectl get nodes -o json`, the file `rbgc fit` reads): a "
    f"RoleBasedGroupWarmup's nodeSelector is resolved on them [env: {argocd_env('NODES')}].",
)
@fail_on_warning_option
@compile_options
@guarded
def command(
    paths: tuple[str, ...],
    output: str,
    out_dir: str | None,
    layout: str | None,
    flux: bool,
    flux_source: str,
    check: bool,
    strict: bool,
    explain: bool,
    nodes: str | None,
    fail_on_warning: bool,
    opts: CompileOptions,
) -> None:
    """Compile PATH... (files, folders, or - for stdin) to Kubernetes objects.

    Folders are read recursively (*.yaml, *.yml; hidden entries skipped); an Overlay document
    is replaced by its base as the overlay changes it. Documents that are not RoleBasedGroups
    pass through unchanged. Nothing is written unless the whole input compiles: on any error
    the output is empty and the exit code is 1.

    \b
    Examples:
      rbgc build examples/pd-disaggregated.yaml
      rbgc build overlays/prod -o json
      cat examples/single-node.yaml | rbgc build -
      rbgc build examples/ --out rendered/
      rbgc build --strict --kubernetes-version 1.35 examples/
      rbgc build --lws statefulsets examples/multi-node-gang.yaml   # no LWS controller
      rbgc build --ignore RBG315 examples/pd-topology.yaml         # a warning you accept
      rbgc build --nodes nodes.json warmup.yaml      # a warm-up's nodeSelector, resolved

    \b
    Exit codes: 0 compiled (warnings may be printed), 1 invalid input, 2 usage error,
    3 internal error.
    """
    if out_dir is None and (layout or flux or check):
        raise click.UsageError("--layout, --flux and --check need --out DIR")
    if out_dir is not None and output != "yaml":
        raise click.UsageError("--out writes YAML files; -o json goes with stdout only")
    if flux and layout == "flat":
        raise click.UsageError("--flux writes one folder per wave; drop --layout flat")
    opts = replace(opts, nodes=nodes)
    result = compiled(paths, opts, strict=strict, explain=explain, fail_on_warning=fail_on_warning)
    if out_dir is None:
        write_stream(result, output)
        return
    files = _layout_files(result, out_dir, layout, flux, flux_source, opts.root)
    if check:
        _check_dir(files, out_dir)
    else:
        _write_dir(files, out_dir, len(result.bundle.manifests))


def compiled(
    paths: Iterable[str],
    opts: CompileOptions,
    *,
    strict: bool = False,
    explain: bool = False,
    fail_on_warning: bool = False,
) -> Result:
    """Compile and report: what `build` and `post-render` share before they write."""
    out = opts.out
    result = opts.compile(paths)
    if explain:
        sys.stderr.write(result.trace.render())
    diagnostics = list(result.warnings)
    if strict:
        diagnostics = _strict(result, opts)
    if fail_on_warning and out.shown(diagnostics):
        out.fail(diagnostics)
    out.report(diagnostics)
    return result


def _strict(result: Result, opts: CompileOptions) -> list[Diagnostic]:
    from rbgc.diagnostics import DiagnosticError, Severity
    from rbgc.kubeschema import check_bundle, normalize_version

    try:
        version = normalize_version(opts.version_text)
    except DiagnosticError as exc:
        opts.out.fail(exc.diagnostics)
    found = check_bundle(result.bundle.manifests, version)
    if any(d.severity is Severity.ERROR for d in found):
        opts.out.fail([*found, *result.warnings])
    return [*result.warnings, *found]


def write_stream(result: Result, output: str) -> None:
    from rbgc import emit

    if output == "json":
        chunks: Iterable[str] = emit.json_documents(result.bundle)
        if not emit.json_ready(result.bundle):
            sys.stderr.write(
                "rbgc: error: a value is NaN or infinite (.nan/.inf), which JSON cannot hold\n"
                "  help: use -o yaml, or quote the value if it is meant as a string\n"
            )
            raise SystemExit(ExitCode.INVALID)
    else:
        chunks = emit.yaml_documents(result.bundle)
    try:
        for chunk in chunks:
            sys.stdout.write(chunk)
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader went away (`rbgc build | head`): exit as a process killed by SIGPIPE would
        sys.stderr.close()
        raise SystemExit(128 + 13) from None
    except OSError as exc:
        sys.stderr.write(f"rbgc: error: cannot write the output: {exc.strerror}\n")
        raise SystemExit(ExitCode.INVALID) from None


def _layout_files(
    result: Result,
    out_dir: str,
    layout: str | None,
    flux: bool,
    flux_source: str,
    root: str | None,
) -> Iterable[tuple[str, str]]:
    from pathlib import Path

    from rbgc import layouts

    chosen = layouts.Layout.WAVES if flux else layouts.Layout(layout or "flat")
    config = None
    if flux:
        out = Path(out_dir).resolve()
        base = Path(repository_root(root)).resolve()
        if not out.is_relative_to(base):
            raise click.UsageError(f"--flux needs --out inside the repository root {base}")
        config = layouts.Flux(
            path=out.relative_to(base).as_posix(), name=out.name, source=flux_source
        )
    return layouts.files(result.bundle, chosen, config)


def _write_dir(files: Iterable[tuple[str, str]], out_dir: str, objects: int) -> None:
    from rbgc import outdir

    try:
        outdir.write_tree(files, out_dir)
    except (outdir.OutputDirError, OSError) as exc:
        raise click.UsageError(str(exc)) from None
    sys.stderr.write(f"rbgc: wrote {objects} object(s) to {out_dir}\n")


def _check_dir(files: Iterable[tuple[str, str]], out_dir: str) -> None:
    from rbgc import outdir

    try:
        changes = outdir.stale_files(files, out_dir)
    except (outdir.OutputDirError, OSError) as exc:
        raise click.UsageError(str(exc)) from None
    if changes:
        sys.stderr.write(
            f"rbgc: {out_dir} is stale ({len(changes)} file(s) differ):\n"
            + "".join(f"  {line}\n" for line in changes)
            + "  help: run the same command without --check to rewrite it, and commit the result\n"
        )
        raise SystemExit(ExitCode.INVALID)
    sys.stderr.write(f"rbgc: {out_dir} is up to date\n")
