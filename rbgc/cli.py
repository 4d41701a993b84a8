"""The `rbgc` command line: flags -> library -> reporter -> exit code.

Thin on purpose. Heavy modules (yaml, jsonschema, kubernetes_validate) are imported inside the
commands that need them, so `rbgc --help` and `rbgc --version` start in a few tens of ms.
Normal output goes to stdout; diagnostics, progress and explanations go to stderr.
"""

from __future__ import annotations

import enum
import functools
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

import click

from rbgc import __version__
from rbgc.k8s.controllers import DEFAULT_KUBERNETES_VERSION, version_text

if TYPE_CHECKING:
    from rbgc.diagnostics import Diagnostic
    from rbgc.pipeline import Options, Result

F = TypeVar("F", bound=Callable[..., Any])


class ExitCode(enum.IntEnum):
    OK = 0
    INVALID = 1  # invalid input (build, validate); changes found (diff)
    USAGE = 2
    INTERNAL = 3
    # sync: 4 the cluster did not converge before --timeout, 5 the cluster refused or failed.
    TIMEOUT = 4
    CLUSTER = 5


class ReviewExit(enum.IntEnum):
    """diff and plan follow `kubectl diff`: 1 means changes, every error is >= 2."""

    NO_CHANGES = 0
    CHANGES = 1
    ERROR = 2


def _color(mode: str, stream: Any = None) -> bool:
    if mode == "always":
        return True
    if mode == "never" or os.environ.get("NO_COLOR"):
        return False
    return bool((stream or sys.stderr).isatty())


def _report(diagnostics: Sequence[Diagnostic], fmt: str, color: bool) -> None:
    from rbgc import report

    if fmt == "json":
        sys.stderr.write(report.as_json(diagnostics))
    elif diagnostics:
        sys.stderr.write(report.text(diagnostics, color=color))


def _fail(
    diagnostics: Sequence[Diagnostic],
    fmt: str,
    color: bool,
    code: int = ExitCode.INVALID,
    *,
    writes: bool = True,
) -> NoReturn:
    """Report and exit; `writes`: the command would have written output (build, krm)."""
    from rbgc import report

    _report(diagnostics, fmt, color)
    if fmt == "text":
        done = "; nothing was written" if writes else ""
        sys.stderr.write(f"rbgc: {report.summary(diagnostics)}{done}\n")
    raise SystemExit(code)


def _internal(exc: BaseException) -> NoReturn:
    import traceback

    sys.stderr.write(
        "rbgc: error[RBG901]: internal error: "
        f"{type(exc).__name__}: {exc}\n"
        "  help: this is a bug in rbgc, not in your manifests; please report it with the input "
        "and the details below\n"
    )
    if os.environ.get("RBGC_DEBUG"):
        traceback.print_exception(exc)
    else:
        sys.stderr.write("  note: set RBGC_DEBUG=1 to include the traceback in the report\n")
    raise SystemExit(ExitCode.INTERNAL)


def _guarded(func: F) -> F:
    """Every command's last line of defence: an exception that is not a clean exit or a
    usage error is a bug in rbgc, reported as RBG901 (exit 3) without a traceback."""

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (SystemExit, KeyboardInterrupt, click.ClickException):
            raise
        except Exception as exc:
            _internal(exc)

    return cast(F, run)


def _namespace(flag: str | None) -> str:
    # metadata.namespace wins inside parse; then the flag, then Argo CD's app namespace.
    return flag or os.environ.get("ARGOCD_APP_NAMESPACE") or "default"


def _root(flag: str | None) -> str:
    from pathlib import Path

    from rbgc.overlays import find_root

    return flag or str(find_root(Path.cwd(), os.environ))


def _kubernetes_version(flag: str | None) -> str:
    return flag or os.environ.get("KUBE_VERSION") or version_text(DEFAULT_KUBERNETES_VERSION)


def _remember_conventions(ctx: click.Context, _param: Any, value: str | None) -> None:
    # Kept on the context, not passed as an argument: every compiling command reads it in
    # `_options` without growing its signature.
    ctx.meta[_CONVENTIONS] = value


def _remember_scheduler(ctx: click.Context, _param: Any, value: str | None) -> None:
    ctx.meta[_SCHEDULER] = value


_CONVENTIONS = "rbgc.conventions"
_SCHEDULER = "rbgc.scheduler"


def _common(func: F) -> F:
    options = [
        click.option(
            "-n",
            "--namespace",
            metavar="NS",
            envvar="ARGOCD_ENV_RBGC_NAMESPACE",
            help="Namespace for objects without metadata.namespace [env: "
            "ARGOCD_ENV_RBGC_NAMESPACE; default: $ARGOCD_APP_NAMESPACE, else 'default'].",
        ),
        click.option(
            "--kubernetes-version",
            metavar="X.Y",
            envvar="ARGOCD_ENV_RBGC_KUBERNETES_VERSION",
            help=f"Kubernetes version of the target cluster [env: "
            f"ARGOCD_ENV_RBGC_KUBERNETES_VERSION; default: $KUBE_VERSION, else "
            f"{version_text(DEFAULT_KUBERNETES_VERSION)}].",
        ),
        click.option(
            "--root",
            metavar="DIR",
            help="Overlay bases must lie inside DIR [default: the enclosing git checkout, "
            "else the Argo CD repository copy, else the current folder].",
        ),
        click.option(
            "--lws",
            type=click.Choice(["native", "statefulsets"]),
            default="native",
            show_default=True,
            help="LeaderWorkerSet roles as native LWS objects (needs the LWS controller) or as "
            "plain StatefulSets.",
        ),
        click.option(
            "--conventions",
            type=click.Choice(["v0.4", "v0.8"]),
            envvar="ARGOCD_ENV_RBGC_CONVENTIONS",
            expose_value=False,
            callback=_remember_conventions,
            help="Output conventions of the operator release to reproduce: labels, env names, "
            "ConfigMap and Service names [env: ARGOCD_ENV_RBGC_CONVENTIONS; default: v0.4 for "
            "v1alpha1 input, v0.8 for v1alpha2].",
        ),
        click.option(
            "--scheduler",
            type=click.Choice(["default", "volcano"]),
            default="default",
            show_default=True,
            envvar="ARGOCD_ENV_RBGC_SCHEDULER",
            expose_value=False,
            callback=_remember_scheduler,
            help="What placement rules are lowered for: kube-scheduler's pod affinity and "
            "spread constraints, or Volcano's PodGroup networkTopology [env: "
            "ARGOCD_ENV_RBGC_SCHEDULER].",
        ),
        click.option(
            "--format",
            "fmt",
            type=click.Choice(["text", "json"]),
            default="text",
            show_default=True,
            help="How diagnostics are written to stderr.",
        ),
        click.option(
            "--color",
            type=click.Choice(["auto", "always", "never"]),
            default="auto",
            show_default=True,
            help="Colour diagnostics (auto: on a terminal, unless NO_COLOR).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
    Shell completion (commands, options, choices, file names), in ~/.bashrc:
      eval "$(_RBGC_COMPLETE=bash_source rbgc)"
    zsh: zsh_source in ~/.zshrc; fish: _RBGC_COMPLETE=fish_source rbgc | source
    """


def _options(
    namespace: str | None, kubernetes_version: str | None, lws: str, root: str | None
) -> Options:
    from rbgc.k8s import controllers
    from rbgc.k8s.naming import DNS1123_LABEL
    from rbgc.model import LwsLowering, Scheduler, Target
    from rbgc.pipeline import Options

    raw = _kubernetes_version(kubernetes_version)
    try:
        version = controllers.parse_version(raw)
    except ValueError as exc:
        raise click.UsageError(f"--kubernetes-version / KUBE_VERSION: {exc}") from None
    default_namespace = _namespace(namespace)
    if not DNS1123_LABEL.match(default_namespace) or len(default_namespace) > 63:
        # it would end up in every object and in the group-unique-key hash
        raise click.UsageError(
            f"namespace {default_namespace!r} (from --namespace or ARGOCD_APP_NAMESPACE) is not a "
            "valid namespace name: lowercase letters, digits and '-', at most 63 characters"
        )
    context = click.get_current_context(silent=True)
    conventions = context.meta.get(_CONVENTIONS) if context is not None else None
    scheduler = context.meta.get(_SCHEDULER) or "default" if context is not None else "default"
    target = Target(
        kubernetes_version=version,
        lws=LwsLowering(lws),
        conventions=conventions,
        scheduler=Scheduler(scheduler),
    )
    # The repository root is only looked up when an overlay needs it (see overlays.resolve).
    return Options(namespace=default_namespace, target=target, root=root)


def _compile(
    paths: tuple[str, ...],
    namespace: str | None,
    kubernetes_version: str | None,
    lws: str,
    root: str | None,
    fmt: str,
    color: bool,
    code: int = ExitCode.INVALID,
) -> Result:
    from rbgc.diagnostics import DiagnosticError
    from rbgc.pipeline import compile_paths

    try:
        return compile_paths(paths, _options(namespace, kubernetes_version, lws, root))
    except DiagnosticError as exc:
        _fail(exc.diagnostics, fmt, color, code)


@main.command(short_help="Compile manifests to plain Kubernetes objects (stdout or --out DIR).")
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
    is_flag=True,
    envvar="ARGOCD_ENV_RBGC_STRICT",
    help="Also check every core object against the Kubernetes schema (slower start) "
    "[env: ARGOCD_ENV_RBGC_STRICT].",
)
@click.option("--explain", is_flag=True, help="Print what each pass decided to stderr.")
@click.option(
    "--fail-on-warning",
    is_flag=True,
    envvar="ARGOCD_ENV_RBGC_FAIL_ON_WARNING",
    help="Exit 1 when there are warnings [env: ARGOCD_ENV_RBGC_FAIL_ON_WARNING].",
)
@_common
@_guarded
def build(
    paths: tuple[str, ...],
    output: str,
    out_dir: str | None,
    layout: str | None,
    flux: bool,
    flux_source: str,
    check: bool,
    strict: bool,
    explain: bool,
    fail_on_warning: bool,
    namespace: str | None,
    kubernetes_version: str | None,
    lws: str,
    root: str | None,
    fmt: str,
    color: str,
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

    \b
    Exit codes: 0 compiled (warnings may be printed), 1 invalid input, 2 usage error,
    3 internal error.
    """
    use_color = _color(color)
    if out_dir is None and (layout or flux or check):
        raise click.UsageError("--layout, --flux and --check need --out DIR")
    if out_dir is not None and output != "yaml":
        raise click.UsageError("--out writes YAML files; -o json goes with stdout only")
    if flux and layout == "flat":
        raise click.UsageError("--flux writes one folder per wave; drop --layout flat")
    result = _compile(paths, namespace, kubernetes_version, lws, root, fmt, use_color)
    if explain:
        sys.stderr.write(result.trace.render())
    diagnostics = list(result.warnings)
    if strict:
        diagnostics = _strict(result, _kubernetes_version(kubernetes_version), fmt, use_color)
    if fail_on_warning and diagnostics:
        _fail(diagnostics, fmt, use_color)
    _report(diagnostics, fmt, use_color)
    if out_dir is None:
        _write(result, output)
    else:
        files = _layout_files(result, out_dir, layout, flux, flux_source, root)
        if check:
            _check_dir(files, out_dir)
        else:
            _write_dir(files, out_dir, len(result.bundle.manifests))


def _strict(result: Result, version_flag: str, fmt: str, color: bool) -> list[Diagnostic]:
    from rbgc.diagnostics import DiagnosticError, Severity
    from rbgc.kubeschema import check_bundle, normalize_version

    try:
        version = normalize_version(version_flag)
    except DiagnosticError as exc:
        _fail(exc.diagnostics, fmt, color)
    found = check_bundle(result.bundle.manifests, version)
    if any(d.severity is Severity.ERROR for d in found):
        _fail([*found, *result.warnings], fmt, color)
    return [*result.warnings, *found]


def _write(result: Result, output: str) -> None:
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
        base = Path(_root(root)).resolve()
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


@main.command(short_help="Check manifests and their compiled objects; write nothing.")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing when everything is valid.")
@click.option(
    "--separately",
    is_flag=True,
    help="Compile each file on its own (independent apps that reuse group names; a "
    "ClusterEngineRuntimeProfile is still found in any input); by default all files form one "
    "program, as one `kubectl apply -f` of them would.",
)
@_common
@_guarded
def validate(
    paths: tuple[str, ...],
    quiet: bool,
    separately: bool,
    namespace: str | None,
    kubernetes_version: str | None,
    lws: str,
    root: str | None,
    fmt: str,
    color: str,
) -> None:
    """Check PATH... without writing anything (made for pre-commit: many files per call).

    Runs the whole compiler, checks RBG documents against the JSON Schema in schemas/ with
    jsonschema, and checks every compiled core object against the Kubernetes schema of the
    target version (custom resources are skipped). Files with no Kubernetes object at all (no
    document with apiVersion or kind: CI workflows, docker-compose files, kustomization.yaml)
    are skipped and counted.

    \b
    Examples:
      rbgc validate examples/
      rbgc validate $(git ls-files "*.yaml")    # files without objects are skipped
      rbgc validate --kubernetes-version 1.30 --format json manifests/

    \b
    Exit codes: 0 valid, 1 problems found, 2 usage error, 3 internal error.
    """
    use_color = _color(color)
    from rbgc.diagnostics import DiagnosticError
    from rbgc.validation import validate_paths

    try:
        options = _options(namespace, kubernetes_version, lws, root)
        version = _kubernetes_version(kubernetes_version)
        outcome = validate_paths(paths, options, version, separately=separately)
    except DiagnosticError as exc:
        _fail(exc.diagnostics, fmt, use_color, writes=False)
    if outcome.errors:
        _fail(outcome.diagnostics, fmt, use_color, writes=False)
    _report(outcome.diagnostics, fmt, use_color)
    if not quiet and fmt == "text":
        sys.stdout.write(outcome.summary() + "\n")


@main.command(short_help="Draw each group's roles, waves and dependencies (Mermaid or DOT).")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option(
    "-o",
    "--output",
    type=click.Choice(["mermaid", "dot"]),
    default="mermaid",
    show_default=True,
    help="mermaid (GitHub and GitLab render it in markdown) or dot (Graphviz: dot -Tsvg).",
)
@_common
@_guarded
def graph(
    paths: tuple[str, ...],
    output: str,
    namespace: str | None,
    kubernetes_version: str | None,
    lws: str,
    root: str | None,
    fmt: str,
    color: str,
) -> None:
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
    use_color = _color(color)
    result = _compile(paths, namespace, kubernetes_version, lws, root, fmt, use_color)
    from rbgc.graph import render

    text = render(result.bundle, output)
    _report(result.warnings, fmt, use_color)
    sys.stdout.write(text)


def _review_options(func: F) -> F:
    options = [
        click.argument("paths", nargs=-1, metavar="OLD NEW | --git REF [PATH...]"),
        click.option(
            "--git",
            "git_ref",
            metavar="REF",
            help="Compare PATH... (default: .) in the working tree against git revision REF.",
        ),
        click.option(
            "-o",
            "--output",
            type=click.Choice(["text", "json", "markdown"]),
            default="text",
            show_default=True,
            help="text (coloured on a terminal), json (docs/diff-format.md) or markdown "
            "(a pull-request comment).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _compare(paths: tuple[str, ...], git_ref: str | None, options: Options) -> Any:
    from rbgc.plan.review import compare, compare_git

    if git_ref is None and len(paths) != 2:
        raise click.UsageError("expected OLD and NEW (or --git REF [PATH...])")
    if git_ref is not None:
        return compare_git(git_ref, paths or (".",), options)
    return compare([paths[0]], [paths[1]], options)


def _review_exit(changed: bool) -> NoReturn:
    raise SystemExit(ReviewExit.CHANGES if changed else ReviewExit.NO_CHANGES)


@main.command(short_help="Compare two versions: changed objects and the pods they restart.")
@_review_options
@_common
@_guarded
def diff(
    paths: tuple[str, ...],
    git_ref: str | None,
    output: str,
    namespace: str | None,
    kubernetes_version: str | None,
    root: str | None,
    lws: str,
    fmt: str,
    color: str,
) -> None:
    """Show what changes between two versions of the manifests, and what it does to pods.

    OLD and NEW are files or folders; both are compiled as `build` would, and the compiled
    objects are compared. Each change is classified: restarts (pod template changed),
    scale, config, recreate (an immutable field changed), metadata. Secret values are
    masked. Exit 0 no change, 1 changes, 2 error (as kubectl diff).
    """
    use_color = _color(color)
    from rbgc.diagnostics import DiagnosticError
    from rbgc.plan import render

    try:
        options = _options(namespace, kubernetes_version, lws, root)
        found = _compare(paths, git_ref, options)
    except DiagnosticError as exc:
        _fail(exc.diagnostics, fmt, use_color, ReviewExit.ERROR, writes=False)
    sys.stdout.write(render.diff_view(found.changes, output, color=_color(color, sys.stdout)))
    _review_exit(bool(found.changes))


@main.command(short_help="Show the rollout from OLD to NEW, step by step, with its invariants.")
@_review_options
@click.option(
    "--stop-after",
    type=click.IntRange(min=1),
    metavar="N",
    help="Show only the first N steps (a canary); invariants still cover the whole plan.",
)
@_common
@_guarded
def plan(
    paths: tuple[str, ...],
    git_ref: str | None,
    output: str,
    stop_after: int | None,
    namespace: str | None,
    kubernetes_version: str | None,
    root: str | None,
    lws: str,
    fmt: str,
    color: str,
) -> None:
    """Show the ordered rollout that applying NEW over OLD takes, step by step.

    Steps follow the dependency waves, each role's rolling strategy (partition,
    maxUnavailable, maxSurge) and the coordination rules (maxSkew). Each step lists the pods
    going down and, per role, replicas, updated and available pods and the capacity floor.
    Invariants are checked on every plan. Exit 0 no change, 1 changes, 2 error.
    """
    use_color = _color(color)
    from rbgc.diagnostics import DiagnosticError
    from rbgc.plan import render
    from rbgc.plan.changes import group_changes
    from rbgc.plan.planner import plan as make_plan

    try:
        options = _options(namespace, kubernetes_version, lws, root)
        found = _compare(paths, git_ref, options)
        groups = group_changes(found.old, found.new, found.changes)
        result = make_plan(
            groups,
            kubernetes_version=options.target.kubernetes_version,
            stop_after=stop_after,
        )
    except DiagnosticError as exc:
        _fail(exc.diagnostics, fmt, use_color, ReviewExit.ERROR, writes=False)
    sys.stdout.write(render.plan_view(result, output, color=_color(color, sys.stdout)))
    _review_exit(bool(found.changes))


@main.command(short_help="Check offline whether each group fits on a cluster's nodes.")
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
@_common
@_guarded
def fit(
    paths: tuple[str, ...],
    nodes_path: str,
    pods_path: str | None,
    output: str,
    namespace: str | None,
    kubernetes_version: str | None,
    root: str | None,
    lws: str,
    fmt: str,
    color: str,
) -> None:
    """Compile PATH... as `build` does, then decide whether each group can be placed.

    Atomically, as a gang scheduler would: all pods of a group or none, with CPU, memory,
    GPUs and other extended resources, node selectors and affinity, taints, cordoned nodes,
    pod (anti-)affinity, spread constraints and exclusive topology. Each group gets a
    placement (pod -> node, and the level each pack was satisfied at) or the tightest
    constraint that fails and by how much. Groups are placed in (namespace, name) order, each
    on what the earlier ones left.

    \b
    Examples:
      kubectl get nodes -o yaml > nodes.yaml
      rbgc fit --nodes nodes.yaml examples/pd-disaggregated.yaml
      rbgc fit --nodes nodes.yaml --pods pods.yaml -o json gitops/apps/

    \b
    Exit codes: 0 every group fits, 1 a group does not fit, 2 usage or input error,
    3 internal error.
    """
    use_color = _color(color)
    from rbgc.diagnostics import DiagnosticError
    from rbgc.fit import fit as place
    from rbgc.fit import inventory, render
    from rbgc.fit.rules import from_facts as placement_rules
    from rbgc.fit.rules import nesting

    options = _options(namespace, kubernetes_version, lws, root)
    result = _compile(
        paths, namespace, kubernetes_version, lws, root, fmt, use_color, ExitCode.USAGE
    )
    try:
        cluster = inventory.read(nodes_path, pods_path)
        answers, warnings = place(
            result.bundle.manifests,
            cluster,
            options.namespace,
            rules=placement_rules(result.bundle.groups),
        )
        warnings = [*nesting(result.bundle.groups, cluster.nodes), *warnings]
    except DiagnosticError as exc:
        _fail(exc.diagnostics, fmt, use_color, ExitCode.USAGE)
    _report([*result.warnings, *warnings], fmt, use_color)
    if output == "json":
        sys.stdout.write(render.as_json(answers))
    else:
        sys.stdout.write(render.as_text(answers, len(cluster.nodes)))
    raise SystemExit(ExitCode.OK if all(a.fits for a in answers) else ExitCode.INVALID)


@main.command(short_help="Apply the compiled objects to a cluster in waves, following the plan.")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option(
    "--kubeconfig",
    metavar="FILE",
    help="kubeconfig file [default: $KUBECONFIG, else "
    "~/.kube/config, else the in-cluster service account].",
)
@click.option("--context", metavar="NAME", help="kubeconfig context [default: the current one].")
@click.option("--server", metavar="URL", help="API server URL (overrides the context's).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=600,
    show_default=True,
    metavar="SECONDS",
    help="Give up (exit 4) when the whole sync has not converged after SECONDS.",
)
@click.option("--dry-run", is_flag=True, help="Print the steps to stdout; change nothing.")
@click.option(
    "--prune",
    is_flag=True,
    help="Also delete what rbgc applied that left the inputs: objects of a group, and groups "
    "(their ApplySet in a namespace the inputs use). Never a PersistentVolumeClaim.",
)
@click.option(
    "--force-conflicts",
    is_flag=True,
    help="Take over fields another field manager owns (server-side apply force); without it "
    "such a field stops the sync (RBG913, exit 5) naming the field and the manager.",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: stdout is a stream of events, one JSON object a line (step-started, "
    "step-done, wave-ready, conflict, retry, converged, failed).",
)
@click.option(
    "--status",
    "show_status",
    is_flag=True,
    help="Print where each group stands (its ApplySet, its lock, an unfinished upgrade and "
    "the planner step it reached); change nothing.",
)
@click.option(
    "--parallel",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    metavar="N",
    help="Groups that progress at once (each group's waves and steps stay in order).",
)
@click.option(
    "--wait-lock",
    is_flag=True,
    help="When another sync holds a group's lock (a Lease), wait for it (within --timeout) "
    "instead of stopping (RBG915, exit 5).",
)
@click.option(
    "--watch",
    is_flag=True,
    help="Keep the groups converged and perform their restart policies (RecreateRBGOnPodRestart"
    ", leader/worker group recreation) until SIGTERM; one of several watchers leads (a Lease). "
    "Meant to run in the cluster: examples/in-cluster/.",
)
@click.option(
    "--watch-seconds",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="With --watch: stop after SECONDS (simulated seconds with --simulate).",
)
@click.option(
    "--simulate",
    is_flag=True,
    help="Run against an in-memory cluster that plays the workload controllers (simulated "
    "seconds; no cluster is contacted).",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="KEY=VALUE",
    help="With --simulate, rehearse a failure: never-ready=POD, crash-image=IMAGE, "
    "fail-apply=OBJECT[:STATUS], unserved=KIND, restart=POD (its container restarts once: "
    "for --watch) (repeatable).",
)
@click.option(
    "--faults-file",
    metavar="FILE",
    type=click.Path(exists=True, dir_okay=False),
    help="With --simulate, faults from a YAML file: never_ready: [POD], crash_images: "
    "[IMAGE], fail_apply: {OBJECT: STATUS}, unserved: [KIND], restart: [POD].",
)
@click.option(
    "--simulate-from",
    metavar="PATH",
    help="With --simulate: first converge the simulated cluster on PATH (OLD), so that the "
    "sync previews the upgrade from PATH.",
)
@_common
@_guarded
def sync(
    paths: tuple[str, ...],
    kubeconfig: str | None,
    context: str | None,
    server: str | None,
    timeout: float,
    dry_run: bool,
    prune: bool,
    force_conflicts: bool,
    output: str,
    show_status: bool,
    parallel: int,
    wait_lock: bool,
    watch: bool,
    watch_seconds: float | None,
    simulate: bool,
    faults: tuple[str, ...],
    faults_file: str | None,
    simulate_from: str | None,
    namespace: str | None,
    kubernetes_version: str | None,
    root: str | None,
    lws: str,
    fmt: str,
    color: str,
) -> None:
    """Compile PATH... as `build` does, then apply it to a cluster wave by wave.

    Each wave's objects are applied by server-side apply (field manager rbgc); role
    workloads move by the steps `rbgc plan` computes against the live objects (replicas and
    partition per step); each step waits until its workloads are ready, and a wave starts only
    when the previous one is ready. Progress goes to stderr, one line per step.

    rbgc records what it applied as an ApplySet per group and deletes or prunes only that;
    it never forces a field another manager owns (--force-conflicts does); one sync at a time
    holds each group's Lease; an interrupted upgrade resumes at the step it reached.
    With --watch it keeps running (in the cluster: examples/in-cluster/), keeps the groups
    converged and recreates what a restarted pod's restart policy says, one watcher leading.

    \b
    Examples:
      rbgc sync examples/pd-disaggregated.yaml --context prod
      rbgc sync upgrades/pd-v2.yaml --dry-run
      rbgc sync --simulate --simulate-from examples/pd-disaggregated.yaml upgrades/pd-v2.yaml
      rbgc sync --watch --lws statefulsets /etc/rbgc/groups      # in a Pod

    \b
    Exit codes: 0 converged, 1 invalid input, 2 usage error, 3 internal error,
    4 timed out before converging (RBG912), 5 cluster error (RBG910, RBG911, RBG913, RBG915).
    """
    use_color = _color(color)
    if simulate and (kubeconfig or context or server):
        raise click.UsageError(
            "--simulate contacts no cluster: drop --kubeconfig/--context/--server"
        )
    if simulate_from and not simulate:
        raise click.UsageError("--simulate-from needs --simulate")
    if (faults or faults_file) and not simulate:
        raise click.UsageError("--fault / --faults-file need --simulate")
    rehearsed = _faults(faults, faults_file) if simulate else None
    if output == "json" and (dry_run or show_status):
        raise click.UsageError("-o json streams a sync's events: drop --dry-run / --status")
    if watch and (dry_run or show_status or simulate_from or prune):
        raise click.UsageError(
            "--watch applies and keeps applying: drop --dry-run / --status "
            "/ --simulate-from / --prune"
        )
    if watch_seconds is not None and not watch:
        raise click.UsageError("--watch-seconds needs --watch")
    from rbgc.diagnostics import DiagnosticError
    from rbgc.sync.run import SyncFailed, Where
    from rbgc.sync.run import sync as run_sync

    options = _options(namespace, kubernetes_version, lws, root)
    result = _compile(paths, namespace, kubernetes_version, lws, root, fmt, use_color)
    old = (
        _compile((simulate_from,), namespace, kubernetes_version, lws, root, fmt, use_color)
        if simulate_from
        else None
    )
    _report(result.warnings, fmt, use_color)
    try:
        if show_status:
            from rbgc.sync.run import status

            where = Where(simulate=simulate, kubeconfig=kubeconfig, context=context, server=server)
            version = options.target.kubernetes_version
            sys.stdout.write(status(result.bundle, version=version, where=where, timeout=timeout))
            return
        live = _live(sys.stderr, use_color) if output == "text" and not dry_run else None
        if watch:
            _watch(
                result.bundle,
                options.target.kubernetes_version,
                Where(
                    simulate=simulate,
                    faults=rehearsed,
                    kubeconfig=kubeconfig,
                    context=context,
                    server=server,
                ),
                timeout=timeout,
                seconds=watch_seconds,
                force_conflicts=force_conflicts,
                parallel=parallel,
                json_events=output == "json",
                report=lambda d: _report([d], fmt, use_color),
            )
            return
        import signal

        from rbgc.sync.failure import Stop

        with Stop().caught(signal.SIGTERM, signal.SIGINT) as stop:
            text = run_sync(
                result.bundle,
                version=options.target.kubernetes_version,
                where=Where(
                    simulate=simulate,
                    faults=rehearsed,
                    kubeconfig=kubeconfig,
                    context=context,
                    server=server,
                ),
                timeout=timeout,
                dry_run=dry_run,
                prune=prune,
                force_conflicts=force_conflicts,
                wait_lock=wait_lock,
                parallel=parallel,
                simulate_from=old.bundle if old else None,
                emit=_progress if live is None else lambda line: None,
                events=_event if output == "json" else lambda event: None,
                live=live,
                stop=stop,
            )
    except DiagnosticError as exc:
        _fail(exc.diagnostics, fmt, use_color)
    except SyncFailed as exc:
        _report([exc.diagnostic], fmt, use_color)
        if fmt == "text":
            sys.stderr.write(exc.aftermath() + "\n")
        raise SystemExit(exc.failure) from None
    if output == "text":
        sys.stdout.write(text)


def _watch(
    bundle: Any,
    version: Any,
    where: Any,
    *,
    timeout: float,
    seconds: float | None,
    force_conflicts: bool,
    parallel: int,
    json_events: bool,
    report: Callable[[Any], None],
) -> None:
    """`--watch` until SIGTERM / SIGINT (Kubernetes stops a pod with SIGTERM) or `seconds`."""
    import signal

    from rbgc.sync.failure import Stop
    from rbgc.sync.watch import watch

    with Stop().caught(signal.SIGTERM, signal.SIGINT) as stop:
        watch(
            bundle,
            version=version,
            where=where,
            timeout=timeout,
            force_conflicts=force_conflicts,
            parallel=parallel,
            emit=_progress,
            events=_event if json_events else lambda event: None,
            warn=report,
            stop=stop,
            seconds=seconds,
        )


def _faults(pairs: tuple[str, ...], path: str | None) -> object:
    """`--fault` / `--faults-file` as the simulator's Faults; a usage error when malformed."""
    from rbgc.sync.simulator import faults_from

    document = None
    if path is not None:
        import yaml

        try:
            with open(path, encoding="utf-8") as handle:
                document = yaml.safe_load(handle)
        except (OSError, yaml.YAMLError) as exc:
            raise click.BadParameter(str(exc), param_hint="--faults-file") from None
    try:
        return faults_from(pairs, document)
    except ValueError as exc:
        hint = "--faults-file" if path and not pairs else "--fault"
        raise click.BadParameter(str(exc), param_hint=hint) from None


def _live(stream: Any, color: bool) -> Callable[[Any, Any], Any] | None:
    """On a terminal, a live view per group, wave and role (sync/live.py) in place of one
    line per step; None when `stream` is not a terminal (a log, CI)."""
    if not stream.isatty():
        return None
    from rbgc.sync.live import LiveView

    def write(text: str) -> None:
        stream.write(text)
        stream.flush()

    return lambda plan, clock: LiveView(plan=plan, now=clock.now, write=write, color=color)


def _progress(line: str) -> None:
    sys.stderr.write(f"rbgc sync: {line}\n")


def _event(event: dict[str, object]) -> None:
    import json

    sys.stdout.write(json.dumps(event, sort_keys=True) + "\n")
    sys.stdout.flush()


@main.command(short_help="Run as a KRM function (kpt, kustomize): ResourceList in, out.")
@_common
@_guarded
def krm(
    namespace: str | None,
    kubernetes_version: str | None,
    root: str | None,
    lws: str,
    fmt: str,
    color: str,
) -> None:
    """KRM function for kpt and kustomize: a ResourceList on stdin, the same on stdout.

    RoleBasedGroups in `items` are replaced by their compiled objects, everything else passes
    through with its config.kubernetes.io annotations. Diagnostics go to `results` (and to
    stderr); any error exits 1. The namespace comes from --namespace, else the function
    config's `data.namespace`, else as for `build`.

    \b
      kpt fn eval apps/ --exec "rbgc krm"
    """
    use_color = _color(color)
    from rbgc import krm as function
    from rbgc.diagnostics import DiagnosticError
    from rbgc.source import decode

    try:
        text = decode(sys.stdin.buffer.read(), "-")
        chosen = namespace or function.namespace_option(text)
        outcome = function.run(text, _options(chosen, kubernetes_version, lws, root))
    except DiagnosticError as exc:
        _fail(exc.diagnostics, fmt, use_color)
    sys.stdout.write(outcome.text)
    _report(outcome.diagnostics, fmt, use_color)
    if not outcome.ok:
        raise SystemExit(ExitCode.INVALID)


@main.command(
    "post-render", short_help="Run as a Helm post-renderer: manifests on stdin, compiled on stdout."
)
@click.option(
    "-n",
    "--namespace",
    metavar="NS",
    envvar="HELM_NAMESPACE",
    help="The release namespace, for groups without metadata.namespace [env: HELM_NAMESPACE].",
)
@click.pass_context
def post_render(ctx: click.Context, namespace: str | None) -> None:
    """Helm post-renderer: rendered manifests on stdin, compiled manifests on stdout.

    Same as `rbgc build -` with the release namespace. Helm 3:
    `helm install NAME CHART --post-renderer rbgc --post-renderer-args post-render`;
    Helm 4: install integrations/helm as a plugin and pass `--post-renderer rbgc`.
    """
    ctx.invoke(build, paths=("-",), namespace=namespace)


@main.command(short_help="Rewrite v1alpha1 manifests as v1alpha2 (or back), keeping comments.")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option(
    "--to",
    "version",
    type=click.Choice(["v1alpha2", "v1alpha1"]),
    default="v1alpha2",
    show_default=True,
    help="The API version to write.",
)
@click.option("-w", "--write", is_flag=True, help="Rewrite the files in place (else: stdout).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="How diagnostics are written to stderr.",
)
@click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Colour diagnostics (auto: on a terminal, unless NO_COLOR).",
)
@_guarded
def convert(paths: tuple[str, ...], version: str, write: bool, fmt: str, color: str) -> None:
    """Rewrite RoleBasedGroup manifests from workloads.x-k8s.io/v1alpha1 to v1alpha2 (or back).

    The conversion is upstream's own (its conversion webhook, v0.8): `workload` becomes the
    rbg.workloads.x-k8s.io/role-workload-type annotation, `template` / `leaderWorkerSet` /
    `components` become standalonePattern / leaderWorkerPattern / customComponentsPattern,
    RoleBasedGroupSet `template` becomes `groupTemplate.spec`, and podGroupPolicy and
    coordination move to conversion.workloads.x-k8s.io/* annotations that keep them for the
    way back. Comments, key order and quoting are kept; documents that are not converted
    (other kinds, or already in the target version) are copied byte for byte.

    Whatever upstream's conversion drops or changes is a warning at its line. --to v1alpha1
    refuses documents that use what v1alpha1 cannot hold (sharedServiceSelection, restart
    backoff, podManagementPolicy, ...), so converting back never loses anything silently.

    \b
    Examples:
      rbgc convert examples/pd-disaggregated.yaml          v1alpha2 on stdout
      rbgc convert --write manifests/                      every *.yaml below, in place
      rbgc convert --to v1alpha1 new.yaml > old.yaml       back, where nothing is lost
      diff -u old.yaml <(rbgc convert old.yaml)            review before --write

    \b
    Exit codes: 0 converted (or nothing to convert), 1 invalid input (nothing is written),
    2 usage error, 3 internal error.
    """
    use_color = _color(color)
    if write and "-" in paths:
        raise click.UsageError("--write cannot rewrite standard input; drop --write or the '-'")
    from rbgc.convert.rewrite import convert_paths
    from rbgc.diagnostics import DiagnosticError

    try:
        results = convert_paths(paths, version)
    except DiagnosticError as exc:
        # RBG901: a converted document fails the target schema, a bug in rbgc (exit 3)
        bug = any(d.code == "RBG901" for d in exc.diagnostics)
        _fail(exc.diagnostics, fmt, use_color, ExitCode.INTERNAL if bug else ExitCode.INVALID)
    _report([d for r in results for d in r.diagnostics], fmt, use_color)
    if write:
        for result in results:
            if result.changed:
                _replace_file(result.path, result.text)
                sys.stderr.write(
                    f"rbgc: {result.path}: {result.converted} document(s) now {version}\n"
                )
        if not any(r.changed for r in results) and fmt == "text":
            sys.stderr.write(f"rbgc: nothing to convert to {version}\n")
        return
    for i, result in enumerate(results):
        text = result.text
        if i and not text.lstrip().startswith("---"):
            sys.stdout.write("---\n")
        sys.stdout.write(text if not text or text.endswith("\n") else text + "\n")


def _replace_file(path: str, text: str) -> None:
    """Write `text` over `path` atomically, keeping the file's permissions."""
    import tempfile

    folder = os.path.dirname(path) or "."
    mode = os.stat(path).st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".rbgc-convert-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


@main.command(short_help="Explain a diagnostic code, or list them all.")
@click.argument("code", required=False)
def explain(code: str | None) -> None:
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


def kubectl_main() -> None:
    """`kubectl rbgc ...`: kubectl runs `kubectl-rbgc` from PATH with the remaining arguments."""
    main(prog_name="kubectl rbgc")


if __name__ == "__main__":  # pragma: no cover
    main()
