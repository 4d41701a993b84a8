"""`rbgc sync`: apply the compiled objects to a cluster in waves, following the plan.

The sync-specific flags are read into one frozen `SyncFlags`, whose `check` holds every rule
about which flags go together: the one place those rules live.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from rbgc.cli import COMMANDS
from rbgc.cli.options import CompileOptions, compile_options
from rbgc.cli.output import guarded

if TYPE_CHECKING:
    from rbgc.bundle import Bundle
    from rbgc.diagnostics import Diagnostic
    from rbgc.k8s.controllers import Version
    from rbgc.sync.cluster import Clock
    from rbgc.sync.live import LiveView
    from rbgc.sync.plan import SyncPlan
    from rbgc.sync.run import Where
    from rbgc.sync.simulator import Faults


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncFlags:
    """The flags only `sync` has, as given."""

    kubeconfig: str | None
    context: str | None
    server: str | None
    timeout: float
    dry_run: bool
    prune: bool
    force_conflicts: bool
    output: str
    show_status: bool
    parallel: int
    wait_lock: bool
    watch: bool
    watch_seconds: float | None
    simulate: bool
    faults: tuple[str, ...]
    faults_file: str | None
    simulate_from: str | None
    qps: float
    burst: int
    metrics_bind_address: str
    health_probe_bind_address: str
    log_format: str

    def check(self) -> None:
        """Refuse flags that do not go together (a usage error, exit 2)."""
        if self.simulate and (self.kubeconfig or self.context or self.server):
            raise click.UsageError(
                "--simulate contacts no cluster: drop --kubeconfig/--context/--server"
            )
        if self.simulate_from and not self.simulate:
            raise click.UsageError("--simulate-from needs --simulate")
        if (self.faults or self.faults_file) and not self.simulate:
            raise click.UsageError("--fault / --faults-file need --simulate")
        if self.output == "json" and (self.dry_run or self.show_status):
            raise click.UsageError("-o json streams a sync's events: drop --dry-run / --status")
        if self.watch and (self.dry_run or self.show_status or self.simulate_from or self.prune):
            raise click.UsageError(
                "--watch applies and keeps applying: drop --dry-run / --status "
                "/ --simulate-from / --prune"
            )
        if self.watch_seconds is not None and not self.watch:
            raise click.UsageError("--watch-seconds needs --watch")
        from rbgc.sync.metrics import address

        for flag, value in (
            ("--metrics-bind-address", self.metrics_bind_address),
            ("--health-probe-bind-address", self.health_probe_bind_address),
        ):
            try:
                bound = address(value)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint=flag) from None
            if bound is not None and not self.watch:
                raise click.UsageError(f"{flag} serves a watcher: it needs --watch")

    def where(self) -> Where:
        """The cluster these flags name (with the rehearsed faults under --simulate)."""
        from rbgc.sync.run import Where

        return Where(
            simulate=self.simulate,
            faults=_faults(self.faults, self.faults_file) if self.simulate else None,
            kubeconfig=self.kubeconfig,
            context=self.context,
            server=self.server,
            qps=self.qps,
            burst=self.burst,
        )


@click.command("sync", short_help=COMMANDS["sync"][1])
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
    "--qps",
    type=click.FloatRange(min=0),
    default=20.0,
    show_default=True,
    metavar="N",
    help="At most N API requests a second on average, every request counted (retries and "
    "watches too); 0: no client-side limit (the API server's priority and fairness alone).",
)
@click.option(
    "--burst",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    metavar="N",
    help="Up to N requests at once above --qps before it holds them back (a token bucket, "
    "as client-go's; 20 / 30 are controller-runtime's defaults through v0.20).",
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
    "--metrics-bind-address",
    default="0",
    show_default=True,
    metavar="ADDRESS",
    help="With --watch: serve Prometheus metrics (rbgc_*) at http://ADDRESS/metrics "
    "(HOST:PORT or :PORT, e.g. :8080); 0 serves nothing.",
)
@click.option(
    "--health-probe-bind-address",
    default="0",
    show_default=True,
    metavar="ADDRESS",
    help="With --watch: serve /healthz and /readyz (ready once a round reached the API "
    "server) at ADDRESS (e.g. :8081); 0 serves nothing.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Progress on stderr as lines of text, or as JSON lines (ts, level, logger, msg) for "
    "a log collector; diagnostics follow --format.",
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
@compile_options
@guarded
def command(paths: tuple[str, ...], opts: CompileOptions, **given: Any) -> None:
    """Compile PATH... as `build` does, then apply it to a cluster wave by wave.

    Each wave's objects are applied by server-side apply (field manager rbgc); role
    workloads move by the steps `rbgc plan` computes against the live objects (replicas and
    partition per step); each step waits until its workloads are ready (read by list + watch,
    not polled), and a wave starts only when the previous one is ready. Progress goes to
    stderr: on a terminal a live view redrawn in place (per group its step, per wave and role
    its pods); otherwise (a log, CI) one line per step.

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
    4 timed out before converging (RBG912, RBG914), 5 cluster error (RBG910, RBG911, RBG913,
    RBG915), 130 stopped by SIGINT, 143 stopped by SIGTERM (RBG918: between two writes, every
    lock released; run it again to continue). --watch ends on SIGTERM with 0.
    """
    flags = SyncFlags(**given)
    flags.check()
    where = flags.where()
    from rbgc.diagnostics import DiagnosticError
    from rbgc.sync.run import SyncFailed
    from rbgc.sync.run import sync as run_sync

    out = opts.out
    version = opts.pipeline_options().target.kubernetes_version
    result = opts.compile(paths)
    old = opts.compile((flags.simulate_from,)) if flags.simulate_from else None
    out.report(result.warnings)
    try:
        if flags.show_status:
            from rbgc.sync.run import status

            sys.stdout.write(
                status(result.bundle, version=version, where=where, timeout=flags.timeout)
            )
            return
        if flags.watch:
            _watch(result.bundle, version, where, flags, lambda d: out.report([d]))
            return
        live = (
            live_view(sys.stderr, out.color)
            if flags.output == "text" and not flags.dry_run and flags.log_format == "text"
            else None
        )
        import signal

        from rbgc.sync.failure import Stop

        with Stop().caught(signal.SIGTERM, signal.SIGINT) as stop:
            text = run_sync(
                result.bundle,
                version=version,
                where=where,
                timeout=flags.timeout,
                dry_run=flags.dry_run,
                prune=flags.prune,
                force_conflicts=flags.force_conflicts,
                wait_lock=flags.wait_lock,
                parallel=flags.parallel,
                simulate_from=old.bundle if old else None,
                emit=_progress(flags.log_format) if live is None else lambda line: None,
                events=_event if flags.output == "json" else lambda event: None,
                live=live,
                stop=stop,
            )
    except DiagnosticError as exc:
        out.fail(exc.diagnostics)
    except SyncFailed as exc:
        out.report([exc.diagnostic])
        if out.fmt == "text":
            sys.stderr.write(exc.aftermath() + "\n")
        raise SystemExit(exc.failure) from None
    if flags.output == "text":
        sys.stdout.write(text)


def _watch(
    bundle: Bundle,
    version: Version,
    where: Where,
    flags: SyncFlags,
    report: Callable[[Diagnostic], None],
) -> None:
    """`--watch` until SIGTERM / SIGINT (Kubernetes stops a pod with SIGTERM) or
    `--watch-seconds`."""
    import signal

    from rbgc.sync.failure import Stop
    from rbgc.sync.watch import watch

    with Stop().caught(signal.SIGTERM, signal.SIGINT) as stop:
        watch(
            bundle,
            version=version,
            where=where,
            timeout=flags.timeout,
            force_conflicts=flags.force_conflicts,
            parallel=flags.parallel,
            emit=_progress(flags.log_format),
            events=_event if flags.output == "json" else lambda event: None,
            warn=report,
            stop=stop,
            seconds=flags.watch_seconds,
            metrics_bind=flags.metrics_bind_address,
            probe_bind=flags.health_probe_bind_address,
        )


def _faults(pairs: tuple[str, ...], path: str | None) -> Faults:
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


def live_view(stream: Any, color: bool) -> Callable[[SyncPlan, Clock], LiveView] | None:
    """On a terminal, a live view per group, wave and role (sync/live.py) in place of one
    line per step; None when `stream` is not a terminal (a log, CI)."""
    if not stream.isatty():
        return None
    from rbgc.sync.live import LiveView

    def write(text: str) -> None:
        stream.write(text)
        stream.flush()

    return lambda plan, clock: LiveView(plan=plan, now=clock.now, write=write, color=color)


def _progress(log_format: str) -> Callable[[str], None]:
    """A progress line to stderr: text, or a JSON line as log collectors read them."""
    if log_format == "text":
        return lambda line: print(f"rbgc sync: {line}", file=sys.stderr)

    def json_line(line: str) -> None:
        import datetime
        import json

        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
        record = {"ts": now.replace("+00:00", "Z"), "level": "info", "logger": "rbgc.sync"}
        sys.stderr.write(json.dumps({**record, "msg": line}) + "\n")
        sys.stderr.flush()

    return json_line


def _event(event: dict[str, object]) -> None:
    import json

    sys.stdout.write(json.dumps(event, sort_keys=True) + "\n")
    sys.stdout.flush()
