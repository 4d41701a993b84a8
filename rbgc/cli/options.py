"""The options every compiling command shares, read once into one frozen object.

A command decorated with `@compile_options` receives `opts: CompileOptions` instead of a dozen
flag parameters; `@output_options` gives the diagnostics part alone (`convert`). Every option
that changes what is compiled also reads an `ARGOCD_ENV_RBGC_*` variable, so an Argo CD
Application can set it (`integrations/argocd/plugin.yaml`; a test holds every option to it).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from rbgc.cli.output import ExitCode, Output
from rbgc.k8s.controllers import DEFAULT_KUBERNETES_VERSION, version_text

if TYPE_CHECKING:
    from rbgc.pipeline import Options, Result

F = TypeVar("F", bound=Callable[..., Any])

# Variables that name warnings to ignore, beside --ignore; all of them count.
IGNORE_VARIABLES = ("RBGC_IGNORE", "ARGOCD_ENV_RBGC_IGNORE")
LWS_CHOICES = ("native", "statefulsets")
CONVENTIONS_CHOICES = ("v0.4", "v0.8")
SCHEDULER_CHOICES = ("default", "volcano", "kueue", "kai")


def argocd_env(name: str) -> str:
    """The variable an Argo CD Application's plugin env sets for `name` (ARGOCD_ENV_ prefix)."""
    return f"ARGOCD_ENV_RBGC_{name}"


class Option(click.Option):
    """An option whose usage errors name the variable a bad value came from: an Argo CD user
    sets `RBGC_LWS` in an Application, never `--lws`."""

    def get_error_hint(self, ctx: click.Context | None) -> str:
        hint = super().get_error_hint(ctx)
        given = given_by(self.name or "", ctx)
        return f"{given} (for {hint})" if given and given.startswith("$") else hint


def given_by(name: str, ctx: click.Context | None = None) -> str | None:
    """How the user gave option `name`: `--flag`, `$VARIABLE`, or None (not given)."""
    from click.core import ParameterSource

    ctx = ctx or click.get_current_context(silent=True)
    if ctx is None:
        return None
    param = next((p for p in ctx.command.params if p.name == name), None)
    source = ctx.get_parameter_source(name)
    if param is None or source is None:
        return None
    if source is ParameterSource.ENVIRONMENT and isinstance(param.envvar, str):
        return f"${param.envvar}"
    if source is ParameterSource.COMMANDLINE:
        return max(param.opts, key=len)
    return None


def default_namespace(flag: str | None) -> str:
    # metadata.namespace wins inside parse; then the flag, then Argo CD's app namespace.
    return flag or os.environ.get("ARGOCD_APP_NAMESPACE") or "default"


def kubernetes_version_text(flag: str | None) -> str:
    return flag or os.environ.get("KUBE_VERSION") or version_text(DEFAULT_KUBERNETES_VERSION)


def repository_root(flag: str | None) -> str:
    from pathlib import Path

    from rbgc.overlays import find_root

    return flag or str(find_root(Path.cwd(), os.environ))


@dataclass(frozen=True, slots=True, kw_only=True)
class CompileOptions:
    """The common flags of a compiling command, as given (validated by `pipeline_options`)."""

    namespace: str | None
    kubernetes_version: str | None
    root: str | None
    lws: str
    conventions: str | None
    scheduler: str
    out: Output
    kueue_queue: str | None = None
    in_place: bool = False  # in-place roles compile OnDelete (always under `rbgc sync`)
    nodes: str | None = None  # build --nodes: the node inventory a warm-up's selector reads
    warmup_later: bool = False  # sync, diff, plan: what the build cannot resolve, sync will

    @property
    def version_text(self) -> str:
        """The Kubernetes version as the user wrote it: flag, else $KUBE_VERSION, else default."""
        return kubernetes_version_text(self.kubernetes_version)

    def pipeline_options(self, namespace: str | None = None) -> Options:
        """The build's Options; a usage error (exit 2) for a bad version or namespace.
        `namespace` replaces the flag (krm's function config)."""
        from rbgc.k8s import controllers
        from rbgc.k8s.naming import DNS1123_LABEL
        from rbgc.model import LwsLowering, Scheduler, Target
        from rbgc.pipeline import Options

        try:
            version = controllers.parse_version(self.version_text)
        except ValueError as exc:
            given = given_by("kubernetes_version") or "$KUBE_VERSION"
            raise click.UsageError(f"{given}: {exc}") from None
        chosen = default_namespace(namespace or self.namespace)
        if not DNS1123_LABEL.match(chosen) or len(chosen) > 63:
            # it would end up in every object and in the group-unique-key hash
            given = (
                "the function config's data.namespace"
                if namespace and not self.namespace
                else given_by("namespace") or "$ARGOCD_APP_NAMESPACE"
            )
            raise click.UsageError(
                f"namespace '{chosen}' (from {given}) is not a valid namespace name: lowercase "
                "letters, digits and '-', at most 63 characters"
            )
        target = Target(
            kubernetes_version=version,
            lws=LwsLowering(self.lws),
            conventions=self.conventions,
            scheduler=Scheduler(self.scheduler),
            kueue_queue=self.kueue_queue,
            in_place=self.in_place,
        )
        # The repository root is only looked up when an overlay needs it (overlays.resolve).
        return Options(
            namespace=chosen,
            target=target,
            root=self.root,
            nodes=self._nodes(),
            warmup_later=self.warmup_later,
        )

    def _nodes(self) -> dict[str, dict[str, str]] | None:
        """The `--nodes` inventory as node name -> labels (the reader `rbgc fit` uses)."""
        if self.nodes is None:
            return None
        from rbgc.diagnostics import DiagnosticError
        from rbgc.fit import inventory

        try:
            found = inventory.read(self.nodes)
        except DiagnosticError as exc:
            self.out.fail(exc.diagnostics)
        return {n.name: dict(n.labels) for n in found.nodes}

    def compile(self, paths: Iterable[str], code: int = ExitCode.INVALID) -> Result:
        """Compile `paths` as `build` does; on invalid input report and exit with `code`."""
        from rbgc.diagnostics import DiagnosticError
        from rbgc.pipeline import compile_paths

        options = self.pipeline_options()
        try:
            return compile_paths(tuple(paths), options)
        except DiagnosticError as exc:
            self.out.fail(exc.diagnostics, code)


def _ignored(given: Iterable[str], environ: Mapping[str, str]) -> frozenset[str]:
    """The warning codes of `--ignore` and the IGNORE_VARIABLES, as codes; a usage error for an
    unknown code or an error code (an error means the output would be wrong)."""
    words = [w for raw in given for w in re.split(r"[\s,]+", raw) if w]
    for variable in IGNORE_VARIABLES:
        words += [w for w in re.split(r"[\s,]+", environ.get(variable, "")) if w]
    if not words:
        return frozenset()  # the code table is read only when there is something to look up
    from rbgc.codes import CODES
    from rbgc.diagnostics import Severity

    by_name = {doc.name: doc for doc in CODES.values()}
    codes = set()
    for word in words:
        doc = CODES.get(word.upper()) or by_name.get(word.lower())
        if doc is None:
            _bad_ignore(f"unknown diagnostic code {word!r}; `rbgc explain` lists them")
        if doc.severity is Severity.ERROR:
            _bad_ignore(
                f"{doc.code} ({doc.name}) is an error, and errors cannot be ignored: only "
                "warnings can (`rbgc explain " + doc.code + "` says how to fix it)"
            )
        codes.add(doc.code)
    return frozenset(codes)


def _bad_ignore(message: str) -> NoReturn:
    variables = " / ".join(f"${v}" for v in IGNORE_VARIABLES)
    raise click.BadParameter(message, param_hint=f"--ignore (or {variables})")


def _output_params() -> list[Callable[[F], F]]:
    return [
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
        click.option(
            "--ignore",
            "ignore",
            multiple=True,
            metavar="CODE[,CODE]",
            help="Accept these warnings: not shown, not counted, not fatal with "
            "--fail-on-warning (repeatable; codes or names, e.g. RBG315 or pack-not-atomic). "
            f"Also read from {' and '.join('$' + v for v in IGNORE_VARIABLES)}. Errors cannot "
            "be ignored.",
        ),
    ]


def output_of(fmt: str, color: str, ignore: tuple[str, ...]) -> Output:
    """The Output for `--format`, `--color` and `--ignore` (plus the ignore variables)."""
    return Output(fmt=fmt, color_mode=color, ignore=_ignored(ignore, os.environ))


def output_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """`--format`, `--color`, `--ignore` as one `out: Output` argument."""

    @functools.wraps(func)
    def run(*args: Any, fmt: str, color: str, ignore: tuple[str, ...], **kwargs: Any) -> Any:
        return func(*args, out=output_of(fmt, color, ignore), **kwargs)

    return _decorate(run, _output_params())


def compile_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The common compile flags as one `opts: CompileOptions` argument."""

    @functools.wraps(func)
    def run(
        *args: Any,
        namespace: str | None,
        kubernetes_version: str | None,
        root: str | None,
        lws: str,
        conventions: str | None,
        scheduler: str,
        kueue_queue: str | None,
        in_place: bool,
        fmt: str,
        color: str,
        ignore: tuple[str, ...],
        **kwargs: Any,
    ) -> Any:
        opts = CompileOptions(
            namespace=namespace,
            kubernetes_version=kubernetes_version,
            root=root,
            lws=lws,
            conventions=conventions,
            scheduler=scheduler,
            kueue_queue=kueue_queue,
            out=output_of(fmt, color, ignore),
            in_place=in_place,
        )
        return func(*args, opts=opts, **kwargs)

    params = [
        click.option(
            "-n",
            "--namespace",
            cls=Option,
            metavar="NS",
            envvar=argocd_env("NAMESPACE"),
            help=f"Namespace for objects without metadata.namespace [env: "
            f"{argocd_env('NAMESPACE')}; default: $ARGOCD_APP_NAMESPACE, else 'default'].",
        ),
        click.option(
            "--kubernetes-version",
            cls=Option,
            metavar="X.Y",
            envvar=argocd_env("KUBERNETES_VERSION"),
            help=f"Kubernetes version of the target cluster [env: "
            f"{argocd_env('KUBERNETES_VERSION')}; default: $KUBE_VERSION, else "
            f"{version_text(DEFAULT_KUBERNETES_VERSION)}].",
        ),
        click.option(
            "--root",
            cls=Option,
            metavar="DIR",
            envvar=argocd_env("ROOT"),
            help="Overlay bases must lie inside DIR [env: "
            f"{argocd_env('ROOT')}; default: the enclosing git checkout, else the Argo CD "
            "repository copy, else the current folder].",
        ),
        click.option(
            "--lws",
            cls=Option,
            type=click.Choice(LWS_CHOICES),
            default="native",
            show_default=True,
            envvar=argocd_env("LWS"),
            help="LeaderWorkerSet roles as native LWS objects (needs the LWS controller) or as "
            f"plain StatefulSets [env: {argocd_env('LWS')}].",
        ),
        click.option(
            "--conventions",
            cls=Option,
            type=click.Choice(CONVENTIONS_CHOICES),
            envvar=argocd_env("CONVENTIONS"),
            help="Output conventions of the operator release to reproduce: labels, env names, "
            f"ConfigMap and Service names [env: {argocd_env('CONVENTIONS')}; default: v0.4 for "
            "v1alpha1 input, v0.8 for v1alpha2].",
        ),
        click.option(
            "--scheduler",
            cls=Option,
            type=click.Choice(SCHEDULER_CHOICES),
            default="default",
            show_default=True,
            envvar=argocd_env("SCHEDULER"),
            help="What placement rules are lowered for: kube-scheduler's pod affinity and "
            "spread constraints, Volcano's PodGroup networkTopology, Kueue's Topology Aware "
            "Scheduling annotations, or KAI Scheduler's topology annotations [env: "
            f"{argocd_env('SCHEDULER')}].",
        ),
        click.option(
            "--kueue-queue",
            metavar="NAME",
            envvar=argocd_env("KUEUE_QUEUE"),
            help="With --scheduler kueue: the LocalQueue every workload joins, as its "
            "`kueue.x-k8s.io/queue-name` label [env: "
            f"{argocd_env('KUEUE_QUEUE')}; default: the group's annotation of that key].",
        ),
        click.option(
            "--in-place",
            cls=Option,
            is_flag=True,
            envvar=argocd_env("IN_PLACE"),
            help="v1alpha2 roles updated in place (InPlaceIfPossible, upstream's default, or "
            "InPlaceOnly) become OnDelete StatefulSets whose pods rbgc sync or its in-cluster "
            "watcher updates in place; without it they roll as plain StatefulSets (Argo CD "
            f"alone). `rbgc sync` always compiles so [env: {argocd_env('IN_PLACE')}].",
        ),
        *_output_params(),
    ]
    return _decorate(run, params)


def fail_on_warning_option(func: F) -> F:
    """`--fail-on-warning`, read by `build` and `validate` alike, so a check passes only what
    the Argo CD plugin (which sets the variable) renders."""
    return click.option(
        "--fail-on-warning",
        cls=Option,
        is_flag=True,
        envvar=argocd_env("FAIL_ON_WARNING"),
        help="Exit 1 when there are warnings (those not ignored with --ignore) "
        f"[env: {argocd_env('FAIL_ON_WARNING')}].",
    )(func)


def _decorate(func: Callable[..., Any], params: list[Callable[[Any], Any]]) -> Callable[..., Any]:
    for param in reversed(params):
        func = param(func)
    return func
