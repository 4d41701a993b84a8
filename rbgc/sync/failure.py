"""How a sync ends early, typed: what stopped it, the diagnostic and exit code it deserves, and
what it had applied by then.

In: the exception a sync raised (a cluster error, a timeout, a held Lease, a signal) and its
`Progress`. Out: `SyncFailed`, which the CLI only maps to an exit code and prints; the sync
never claims steps stayed applied when it never reached the cluster. A signal (`Stop`) is
honoured between writes: SIGINT exits 130 and SIGTERM 143, as shells report them.
"""

from __future__ import annotations

import contextlib
import enum
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from rbgc.diagnostics import Diagnostic, error
from rbgc.sync import lease
from rbgc.sync.cluster import (
    ClusterError,
    ConfigError,
    ConflictError,
    DeadlineExceeded,
    KindNotServed,
)

Event = dict[str, Any]  # one line of `rbgc sync -o json`


class Failure(enum.IntEnum):
    """Exit codes of a sync that could not finish (the CLI's, for input errors, are 1-3)."""

    TIMEOUT = 4
    CLUSTER = 5
    SIGINT = 128 + signal.SIGINT  # 130, as a shell reports a process ^C stopped
    SIGTERM = 128 + signal.SIGTERM  # 143: a Pod being stopped, a CI job cancelled


@dataclass(slots=True)
class Progress:
    """How far a running sync got (read when it fails): writes, the step each lane is in."""

    writes: int = 0
    total: int = 0
    started: set[int] = field(default_factory=set)
    done: set[int] = field(default_factory=set)
    current: dict[str, tuple[int, str]] = field(default_factory=dict)  # lane -> (step, summary)
    failed_lane: str | None = None  # the lane whose step failed, when one did

    def where(self) -> tuple[int, str] | None:
        """The step the failure is about: the failed lane's, else the last one started."""
        if self.failed_lane is not None and self.failed_lane in self.current:
            return self.current[self.failed_lane]
        unfinished = [s for s in self.current.values() if s[0] not in self.done]
        return max(unfinished or self.current.values(), default=None)


class Stop:
    """Set by a signal handler (`catch`); a sync stops before its next write, and a wait
    returns at once, so that it releases its Leases and says what it applied."""

    def __init__(self) -> None:
        self.signum = 0
        self.wake = threading.Event()

    @property
    def requested(self) -> bool:
        return self.signum != 0

    def set(self, signum: int) -> None:
        self.signum = self.signum or signum
        self.wake.set()

    @contextlib.contextmanager
    def caught(self, *signums: int) -> Iterator[Stop]:
        """Within the block, the first SIGINT / SIGTERM asks the sync to stop; a second one
        of the same kind stops the process at once (as a second ^C does). The handlers
        before are put back after it."""

        def handler(signum: int, frame: object) -> None:
            if self.signum == signum:
                raise SystemExit(128 + signum)
            self.set(signum)

        before = {signum: signal.signal(signum, handler) for signum in signums}
        try:
            yield self
        finally:
            for signum, previous in before.items():
                signal.signal(signum, previous)

    def check(self) -> None:
        if self.signum:
            raise Interrupted(self.signum)


class Interrupted(Exception):
    """A signal asked the sync to stop: it did, between two writes."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class SyncFailed(Exception):
    def __init__(self, diagnostic: Diagnostic, failure: Failure, progress: Progress) -> None:
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
        text = ", ".join(x for x, n in zip(said, (p.done, partly), strict=True) if n)
        if rest:
            text += f"; {_steps(rest)} not"
        at = p.where()
        where = f" in step {at[0]}/{p.total} ({at[1]})" if at else ""
        return (
            f"rbgc: sync stopped{where} after {p.writes} write(s): {text}. What was applied "
            "stays applied: run `rbgc sync` again to continue"
        )


def told(events: Callable[[Event], None], failed: SyncFailed) -> SyncFailed:
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


class SyncTimeout(Exception):
    """The deadline passed while a step waited: `what` was not reached (RBG912)."""

    def __init__(self, what: str, seen: str, want: str, timeout: float, span: Any) -> None:
        super().__init__(f"timed out after {timeout:g}s waiting for {what}: {seen}; want {want}")
        self.span = span


def failed(exc: BaseException, progress: Progress) -> SyncFailed | None:
    """The `SyncFailed` an exception of a sync stands for; None for one that is no sync
    failure (a bug, or a diagnostic of the inputs, which propagate as they are)."""
    if isinstance(exc, Interrupted):
        name = signal.Signals(exc.signum).name
        code = Failure.SIGTERM if exc.signum == signal.SIGTERM else Failure.SIGINT
        return SyncFailed(
            error(
                "RBG918",
                f"stopped by {name} between two writes; every lock was released",
                None,
                help="run the same `rbgc sync` again: it carries on where this one stopped",
            ),
            code,
            progress,
        )
    if isinstance(exc, (lease.LeaseHeld, lease.LeaseLost)):
        return SyncFailed(
            error(
                "RBG915",
                str(exc),
                None,
                help="wait for it with --wait-lock (bounded by --timeout); a lock whose sync "
                "died expires by itself",
            ),
            Failure.CLUSTER,
            progress,
        )
    if isinstance(exc, ConfigError):
        return SyncFailed(
            error(
                "RBG910",
                f"no cluster to sync with: {exc}",
                None,
                help="pass --kubeconfig, --context or --server (or set KUBECONFIG); "
                "--simulate previews the sync without a cluster",
            ),
            Failure.CLUSTER,
            progress,
        )
    if isinstance(exc, KindNotServed):
        return SyncFailed(
            error(
                "RBG911",
                exc.message,
                None,
                help="install its CRD and controller, or build "
                "LeaderWorkerSet roles with --lws statefulsets",
            ),
            Failure.CLUSTER,
            progress,
        )
    if isinstance(exc, ConflictError):
        return SyncFailed(
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
        )
    if isinstance(exc, DeadlineExceeded):
        return SyncFailed(_deadline(exc), Failure.TIMEOUT, progress)
    if isinstance(exc, ClusterError):
        return SyncFailed(cluster_error(exc), Failure.CLUSTER, progress)
    if isinstance(exc, SyncTimeout):
        return SyncFailed(
            error(
                "RBG912",
                str(exc),
                exc.span,
                help="look at the role's pods "
                "(kubectl describe pod); raise --timeout if they are only slow to start",
            ),
            Failure.TIMEOUT,
            progress,
        )
    return None


def conflict_events(exc: BaseException) -> list[Event]:
    """A field conflict's `conflict` events, one per field (before the `failed` event)."""
    if not isinstance(exc, ConflictError):
        return []
    return [
        {"event": "conflict", "object": exc.subject, "field": f, "manager": m}
        for f, m in exc.conflicts
    ]


def _deadline(exc: DeadlineExceeded) -> Diagnostic:
    if exc.retry_after is not None and exc.cause is not None:
        # The server asked for a pause that would end past --timeout: waiting would only
        # end in a timeout, so the sync stops now and says why.
        cause = exc.cause
        return error(
            "RBG914",
            f"the cluster answered {cause.code} {cause.reason} to `{exc.request}` and asked to "
            f"retry after {exc.retry_after:g}s (Retry-After), but only {exc.left:.0f}s of "
            f"--timeout {exc.timeout:g}s were left: stopped without waiting",
            None,
            help="the API server is overloaded or throttling rbgc: sync again later, with a "
            "longer --timeout, or a lower --qps",
        )
    return error(
        "RBG914",
        f"the cluster did not answer in time: {exc.message}"
        + (f" ({exc.attempts} attempt(s))" if exc.attempts > 1 else ""),
        None,
        help="check that the API server is reachable and healthy; raise --timeout "
        "if it is only slow",
    )


def cluster_error(exc: ClusterError) -> Diagnostic:
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
