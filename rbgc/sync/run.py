"""`rbgc sync` as one library call: choose the cluster, plan against it, carry the plan out.

In: NEW's compiled bundle (and, for `--simulate-from`, OLD's), the target version, where the
cluster is and how long to wait. Out: what the command prints on stdout. Failures are typed:
`SyncFailed` carries the diagnostic, the exit it deserves and whether anything was written, so
that the CLI only maps them to exit codes and never claims steps stayed applied when the sync
never reached the cluster.
"""

from __future__ import annotations

import enum
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rbgc.bundle import Bundle
from rbgc.diagnostics import Diagnostic, error
from rbgc.k8s.controllers import Version
from rbgc.sync import applyset, controller, lease, resume
from rbgc.sync.applyset import ApplySet
from rbgc.sync.cluster import (
    Clock,
    Cluster,
    ClusterError,
    ConfigError,
    ConflictError,
    DeadlineExceeded,
    KindNotServed,
)
from rbgc.sync.plan import StepOp, SyncPlan, SyncStep
from rbgc.sync.warmup import WarmupFailed


class Failure(enum.IntEnum):
    """Exit codes of a sync that could not finish (the CLI's, for input errors, are 1-3)."""

    TIMEOUT = 4
    CLUSTER = 5


class SyncFailed(Exception):
    def __init__(
        self, diagnostic: Diagnostic, failure: Failure, progress: controller.Progress
    ) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic
        self.failure = failure
        self.progress = progress

    @property
    def writes(self) -> int:
        """Objects applied or deleted before the failure."""
        return self.progress.writes

    def aftermath(self) -> str:
        """What was and was not applied, from the steps the sync reached."""
        p = self.progress
        if p.writes == 0:
            return "rbgc: sync stopped before changing anything in the cluster"
        partly = p.started - p.done
        rest = set(range(1, p.total + 1)) - p.started
        said = [f"{_steps(p.done)} applied" if p.done else "", f"{_steps(partly)} in part"]
        text = ", ".join(x for x in said if x)
        if rest:
            text += f"; {_steps(rest)} not"
        return (
            f"rbgc: sync stopped in step {p.step}/{p.total} ({p.summary}) after {p.writes} "
            f"write(s): {text}. What was applied stays applied: run `rbgc sync` again to "
            "continue"
        )


def _told(events: Callable[[controller.Event], None], failed: SyncFailed) -> SyncFailed:
    """`failed`, once it is an event too (the last line of `-o json`)."""
    events(
        {
            "event": "failed",
            "code": failed.diagnostic.code,
            "message": failed.diagnostic.message,
            "exit": int(failed.failure),
            "writes": failed.writes,
            "applied": sorted(failed.progress.done),
            "in_part": sorted(failed.progress.started - failed.progress.done),
        }
    )
    return failed


def _steps(numbers: set[int]) -> str:
    """`steps 1-5, 7`, `step 6`."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    listed = ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)
    return f"step {listed}" if len(numbers) == 1 else f"steps {listed}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Where:
    """The cluster to sync with: a simulated one, or a kubeconfig / context / server."""

    simulate: bool = False
    faults: Any = None  # simulator.Faults, for --simulate
    kubeconfig: str | None = None
    context: str | None = None
    server: str | None = None


def sync(
    new: Bundle,
    *,
    version: Version,
    where: Where,
    timeout: float,
    dry_run: bool = False,
    prune: bool = False,
    force_conflicts: bool = False,
    wait_lock: bool = False,
    parallel: int = 16,
    simulate_from: Bundle | None = None,
    emit: Callable[[str], None] = lambda line: None,
    connected: tuple[Cluster, Clock, float, Callable[[], float]] | None = None,
    events: Callable[[controller.Event], None] = lambda event: None,
    live: Callable[[SyncPlan, Clock], Any] | None = None,
    heartbeat: Callable[[], None] = lambda: None,
    warmup: bool = False,
) -> str:
    """Plan and (unless `dry_run`) carry out NEW under the groups' Leases; the text for
    stdout; `live(plan, clock)` makes a live view (live.py) that follows the sync;
    `heartbeat` is called with each renewal of the groups' locks (a watcher renews its own
    leader Lease with it). Raises
    `SyncFailed`, and `DiagnosticError` (RBG802/RBG803) when no rollout can
    reach NEW. `connected` (cluster, clock, poll interval, wall time) replaces `where`."""
    progress = controller.Progress()
    lock: lease.Lock | None = None
    try:
        cluster, clock, interval, wall = connected or _connect(where, version, timeout)
        if hasattr(cluster, "on_retry"):  # the real adapter says when it retries

            def retried(request: Any, exc: ClusterError, attempt: int, delay: float) -> None:
                events(
                    {
                        "event": "retry",
                        "request": request.describe(),
                        "code": exc.code,
                        "reason": exc.reason,
                        "attempt": attempt,
                        "delay": round(delay, 3),
                    }
                )

            cluster.on_retry = retried
        if simulate_from is not None:
            controller.execute(
                cluster,
                controller.prepare(cluster, simulate_from, version),
                clock=clock,
                timeout=86400,
            )
        started = clock.now()  # --timeout covers the whole sync: waiting for the lock too
        if not dry_run:  # the plan is made under the lock: it reads what no other sync moves
            lock = lease.Lock(cluster, now=wall)
            _acquire(lock, new, clock, timeout, interval, wait_lock)
        records = lock.records() if lock is not None else None
        plan = controller.prepare(
            cluster, new, version, prune=prune, records=records, warmup=warmup
        )
        if dry_run:
            return controller.render_steps(plan)
        assert lock is not None
        held = lock
        view = live(plan, clock) if live is not None else None
        observe = view.observe if view is not None else (lambda step, seen: None)
        if view is not None:
            told = events

            def events(event: controller.Event) -> None:
                view.event(event)
                told(event)

        def renew() -> None:
            held.renew()
            heartbeat()

        def step_done(step: SyncStep) -> None:
            # How far an upgrade got, for a rerun after a kill (resume.py); a first install
            # (OLD empty) plans the same from what it finds, and is not recorded.
            if step.op is StepOp.ROLLOUT and step.group in plan.upgrades:
                old, new_hash = plan.upgrades[step.group]
                if old == resume.EMPTY:
                    return
                held.record(step.group, {"old": old, "new": new_hash, "done": step.rollout_step})

        outcome = controller.execute(
            cluster,
            plan,
            clock=clock,
            timeout=max(timeout - (clock.now() - started), 0.0),
            interval=interval,
            emit=emit,
            progress=progress,
            force=force_conflicts,
            heartbeat=renew,
            on_step_done=step_done,
            parallel=parallel,
            events=events,
            observe=observe,
            wall=wall,
        )
        # Converged: nothing to resume; and the locks were ours to the end (else LeaseLost).
        lock.release(converged=True)
    except (lease.LeaseHeld, lease.LeaseLost) as exc:
        raise _told(
            events,
            SyncFailed(
                error(
                    "RBG915",
                    str(exc),
                    None,
                    help="wait for it with --wait-lock (bounded by --timeout); a lock whose sync "
                    "died expires by itself",
                ),
                Failure.CLUSTER,
                progress,
            ),
        ) from None
    except ConfigError as exc:
        raise _told(
            events,
            SyncFailed(
                error(
                    "RBG910",
                    f"no cluster to sync with: {exc}",
                    None,
                    help="pass --kubeconfig, --context or --server (or set KUBECONFIG); "
                    "--simulate previews the sync without a cluster",
                ),
                Failure.CLUSTER,
                progress,
            ),
        ) from None
    except KindNotServed as exc:
        raise _told(
            events,
            SyncFailed(
                error(
                    "RBG911",
                    exc.message,
                    None,
                    help="install its CRD and controller, or build "
                    "LeaderWorkerSet roles with --lws statefulsets",
                ),
                Failure.CLUSTER,
                progress,
            ),
        ) from None
    except ConflictError as exc:
        for field_path, manager in exc.conflicts:
            events(
                {
                    "event": "conflict",
                    "object": exc.subject,
                    "field": field_path,
                    "manager": manager,
                }
            )
        raise _told(
            events,
            SyncFailed(
                error(
                    "RBG913",
                    f"field conflict: {exc.describe()}; rbgc did not take these fields over",
                    None,
                    help="another tool or a person changed them since rbgc applied: keep their "
                    "change by putting it in the input, or run again with --force-conflicts to "
                    "take ownership",
                ),
                Failure.CLUSTER,
                progress,
            ),
        ) from None
    except DeadlineExceeded as exc:
        raise _told(
            events,
            SyncFailed(
                error(
                    "RBG914",
                    f"the cluster did not answer in time: {exc.message}"
                    + (f" ({exc.attempts} attempt(s))" if exc.attempts > 1 else ""),
                    None,
                    help="check that the API server is reachable and healthy; raise --timeout "
                    "if it is only slow",
                ),
                Failure.TIMEOUT,
                progress,
            ),
        ) from None
    except ClusterError as exc:
        raise _told(events, SyncFailed(_cluster_error(exc), Failure.CLUSTER, progress)) from None
    except WarmupFailed as exc:
        raise _told(
            events,
            SyncFailed(
                error(
                    "RBG805",
                    str(exc),
                    exc.task.warmup.span,
                    help="look at the warm-up Jobs' pods (kubectl describe pod -l "
                    "workloads.x-k8s.io/warmup-name): an image that cannot be pulled, a node "
                    "that cannot run the pod; nothing of the group was replaced after it",
                ),
                Failure.CLUSTER,
                progress,
            ),
        ) from None
    except controller.SyncTimeout as exc:
        raise _told(
            events,
            SyncFailed(
                error(
                    "RBG912",
                    str(exc),
                    exc.target.span,
                    help="look at the role's pods "
                    "(kubectl describe pod); raise --timeout if they are only slow to start",
                ),
                Failure.TIMEOUT,
                progress,
            ),
        ) from None
    finally:
        if lock is not None:
            lock.release()
    simulated = " (simulated)" if where.simulate else ""
    events(
        {
            "event": "converged",
            "steps": outcome.steps,
            "elapsed": outcome.elapsed,
            "simulated": where.simulate,
        }
    )
    return f"converged: {outcome.steps} step(s) in {outcome.elapsed:g}s{simulated}\n"


def status(
    new: Bundle,
    *,
    version: Version,
    where: Where,
    timeout: float,
    connected: tuple[Cluster, Clock, float, Callable[[], float]] | None = None,
) -> str:
    """`--status`: per group of NEW, its ApplySet, its lock and where an upgrade stands.
    Reads only. Raises `SyncFailed` as `sync` does."""
    progress = controller.Progress()
    try:
        cluster, _, _, wall = connected or _connect(where, version, timeout)
        lines: list[str] = []
        records: dict[str, dict[str, object]] = {}
        leases: dict[str, str] = {}
        for g in new.groups:
            key = f"{g.namespace}/{g.name}"
            held = cluster.get(lease.lease_ref(g.namespace, g.name))
            leases[key] = _lock_text(held, wall())
            notes = ((held or {}).get("metadata") or {}).get("annotations") or {}
            try:
                found = json.loads(notes.get(lease.RECORD) or "null")
            except ValueError:
                found = None
            if isinstance(found, dict):
                records[key] = found
        plan = controller.prepare(cluster, new, version, records=records)
        for g in new.groups:
            key = f"{g.namespace}/{g.name}"
            parent = cluster.get(ApplySet(group=g.name, namespace=g.namespace).ref)
            owned = "ApplySet " + (
                f"{applyset.parent_name(g.name)}" if parent is not None else "not recorded yet"
            )
            lines.append(f"{key}: {owned}; lock {leases[key]}")
            total = sum(1 for s in plan.rollout.steps if s.group == key)
            if key in plan.upgrades:
                old, new_hash = plan.upgrades[key]
                reached = resume.done(records.get(key), old, new_hash)
                state = "unfinished" if resume.recorded(parent, new_hash) else "to do"
                lines.append(
                    f"  upgrade {state}: OLD {old} -> NEW {new_hash}, "
                    f"planner step {reached} of {total} reached"
                )
            else:
                lines.append("  no upgrade to do: the workloads are as the inputs say")
        return "\n".join(lines) + "\n"
    except ConfigError as exc:
        raise SyncFailed(
            error("RBG910", f"no cluster to sync with: {exc}", None), Failure.CLUSTER, progress
        ) from None
    except ClusterError as exc:
        raise SyncFailed(_cluster_error(exc), Failure.CLUSTER, progress) from None


def _lock_text(held: Mapping[str, Any] | None, now: float) -> str:
    spec = (held or {}).get("spec") or {}
    holder = spec.get("holderIdentity")
    if not holder:
        return "free"
    renewed = lease.parse_time(spec.get("renewTime")) or 0.0
    left = renewed + float(spec.get("leaseDurationSeconds") or lease.DURATION) - now
    if left <= 0:
        return f"expired (last held by {holder})"
    return f"held by {holder} (renewed {now - renewed:.0f}s ago, expires in {left:.0f}s)"


def _cluster_error(exc: ClusterError) -> Diagnostic:
    """RBG910 naming what was asked; a 403 says which RBAC rule is missing."""
    asked = f" to `{exc.request}`" if exc.request else ""
    tries = f" (after {exc.attempts} attempts)" if exc.attempts > 1 else ""
    message = f"the cluster answered {exc.code} {exc.reason}{asked}{tries}: {exc.message}"
    if exc.code == 403 and exc.request:
        verb, _, rest = exc.request.partition(" ")
        resource = rest.split(" ")[0]
        return error(
            "RBG910",
            message,
            None,
            help=f"grant rbgc's identity `{verb}` on `{resource}` (a Role or ClusterRole rule)",
        )
    if exc.code == 0:
        return error("RBG910", message, None, help="check --server / the kubeconfig's cluster")
    return error("RBG910", message, None)


def _acquire(
    lock: lease.Lock,
    new: Bundle,
    clock: Clock,
    timeout: float,
    interval: float,
    wait: bool,
) -> None:
    """Take the groups' Leases; with `wait`, poll until they are free or `timeout` passed."""
    deadline = clock.now() + timeout
    while True:
        try:
            lock.acquire([(g.namespace, g.name) for g in new.groups])
            return
        except lease.LeaseHeld as held:
            if not wait or clock.now() + interval > deadline:
                raise
            clock.sleep(min(max(held.expires_in, interval), interval * 5))


SIMULATED_EPOCH = 1_800_000_000.0  # the simulator's wall time: a fixed epoch plus its ticks


def _connect(
    where: Where, version: Version, timeout: float
) -> tuple[Cluster, Clock, float, Callable[[], float]]:
    """The cluster, its clock, how often to poll it and its wall time; a real cluster's
    requests are bounded by `timeout` from now (and retried within it)."""
    if where.simulate:
        from rbgc.sync.simulator import SimClock, Simulator

        sim = Simulator(kubernetes_version=version, faults=where.faults)
        return sim, SimClock(sim), 1.0, lambda: SIMULATED_EPOCH + sim.now
    from rbgc.sync import kube

    cluster = kube.connect(kubeconfig=where.kubeconfig, context=where.context, server=where.server)
    cluster.bound(timeout)
    return cluster, cluster.clock, 2.0, time.time


def watch(
    new: Bundle,
    *,
    version: Version,
    where: Where,
    timeout: float,
    force_conflicts: bool = False,
    parallel: int = 16,
    emit: Callable[[str], None] = lambda line: None,
    events: Callable[[controller.Event], None] = lambda event: None,
    warn: Callable[[Diagnostic], None] = lambda diagnostic: None,
    until: Callable[[], bool] = lambda: False,
    seconds: float | None = None,
    connected: tuple[Cluster, Clock, float, Callable[[], float]] | None = None,
) -> Any:
    """`--watch`: keep NEW converged and perform its restart policies until `until()` (a
    signal) or for `seconds` on the cluster's clock (simulated seconds on the simulator).
    Each convergence is a sync bounded by `timeout`; its failure is reported and watched on.
    Returns the `Watcher` (for tests). Raises `SyncFailed` when no cluster can be reached."""
    from rbgc.sync.watch import Watcher

    progress = controller.Progress()
    try:
        link = connected or _connect(where, version, timeout)
    except ConfigError as exc:
        raise SyncFailed(
            error("RBG910", f"no cluster to sync with: {exc}", None), Failure.CLUSTER, progress
        ) from None
    cluster, clock, _, wall = link

    def unbound() -> None:
        if hasattr(cluster, "retry"):  # watching runs for ever: no overall --timeout
            import dataclasses

            cluster.retry = dataclasses.replace(cluster.retry, deadline=None)

    def converge() -> None:
        if hasattr(cluster, "bound"):  # each sync gets the whole --timeout
            cluster.bound(timeout)
        try:
            sync(
                new,
                version=version,
                where=where,
                timeout=timeout,
                force_conflicts=force_conflicts,
                wait_lock=True,
                parallel=parallel,
                emit=emit,
                connected=link,
                events=events,
                heartbeat=lambda: watcher.keep_leading(),
            )
        finally:
            unbound()

    unbound()
    watcher = Watcher(
        cluster=cluster,
        bundle=new,
        clock=clock,
        wall=wall,
        converge=converge,
        emit=emit,
        events=events,
        warn=warn,
    )
    ends = None if seconds is None else clock.now() + seconds
    watcher.run(lambda: until() or (ends is not None and clock.now() >= ends))
    return watcher
