"""`rbgc sync` as one library call: choose the cluster, lock, plan against it, carry the plan out.

In: NEW's compiled bundle (and, for `--simulate-from`, OLD's), the target version, where the
cluster is and how long to wait. Out: what the command prints on stdout. Failures are typed
(failure.py): `SyncFailed` carries the diagnostic, the exit it deserves and what was written,
so that the CLI only maps them to exit codes. Every Lease is released however the sync ends:
converged, failed, or stopped by a signal between two writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rbgc.bundle import Bundle
from rbgc.k8s.controllers import Version
from rbgc.sync import applyset, controller, lease, resume
from rbgc.sync.applyset import ApplySet
from rbgc.sync.cluster import ClusterError
from rbgc.sync.connect import SIMULATED_EPOCH, Connection, Where, connect
from rbgc.sync.failure import (
    Event,
    Failure,
    Progress,
    Stop,
    SyncFailed,
    conflict_events,
    failed,
    told,
)
from rbgc.sync.plan import StepOp, SyncPlan, SyncStep

RELEASE_SECONDS = 10.0  # how long giving the Leases up may take, once the sync has ended

__all__ = ["SIMULATED_EPOCH", "Connection", "Failure", "SyncFailed", "Where", "status", "sync"]


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
    connected: Connection | None = None,
    events: Callable[[Event], None] = lambda event: None,
    live: Callable[[SyncPlan, Any], Any] | None = None,
    heartbeat: Callable[[], None] = lambda: None,
    stop: Stop | None = None,
) -> str:
    """Plan and (unless `dry_run`) carry out NEW under the groups' Leases; the text for
    stdout. `live(plan, clock)` makes a live view (live.py) that follows the sync;
    `heartbeat` is called with each renewal of the groups' locks (a watcher renews its own
    leader Lease with it); `stop` (a signal) ends it before its next write. Raises
    `SyncFailed`, and `DiagnosticError` (RBG802/RBG803) when no rollout can reach NEW.
    `connected` replaces `where`."""
    progress = Progress()
    stop = Stop() if stop is None else stop
    lock: lease.Lock | None = None
    link: Connection | None = None
    try:
        link = connected or connect(where, version, timeout)
        cluster, clock = link.cluster, link.clock
        if link.sender is not None:  # the real adapter says when it retries

            def retried(request: str, exc: ClusterError, attempt: int, delay: float) -> None:
                events(
                    {
                        "event": "retry",
                        "request": request,
                        "code": exc.code,
                        "reason": exc.reason,
                        "attempt": attempt,
                        "delay": round(delay, 3),
                    }
                )

            link.sender.on_retry = retried
        if simulate_from is not None:
            controller.execute(
                cluster,
                controller.prepare(cluster, simulate_from, version),
                clock=clock,
                timeout=86400,
            )
        started = clock.now()  # --timeout covers the whole sync: waiting for the lock too
        if dry_run:
            return controller.render_steps(controller.prepare(cluster, new, version, prune=prune))
        # The plan is made under the lock: it reads what no other sync moves.
        lock = lease.Lock(cluster, now=link.wall)
        groups = [(g.namespace, g.name) for g in new.groups]
        _acquire(lock, groups, link, timeout, wait_lock, stop)
        plan = controller.prepare(cluster, new, version, prune=prune, records=lock.records())
        while set(plan.retired) - lock.groups:
            # A group that left the inputs is pruned under its own lock too (another sync may
            # still have it in its inputs), and planned again under it.
            _acquire(lock, plan.retired, link, timeout, wait_lock, stop)
            plan = controller.prepare(cluster, new, version, prune=prune, records=lock.records())
        held = lock
        view = live(plan, clock) if live is not None else None
        observe = view.observe if view is not None else (lambda step, seen: None)
        if view is not None:
            told_before = events

            def events(event: Event) -> None:
                view.event(event)
                told_before(event)

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
            interval=link.poll,
            emit=emit,
            progress=progress,
            force=force_conflicts,
            heartbeat=renew,
            on_step_done=step_done,
            parallel=parallel,
            events=events,
            observe=observe,
            stop=stop,
        )
        lock.retire(plan.retired)  # their groups are gone: their Leases go too
        # Converged: nothing to resume; and the locks were ours to the end (else LeaseLost).
        lock.release(converged=True)
    except Exception as exc:
        failure = failed(exc, progress)
        if failure is None:
            raise
        for event in conflict_events(exc):
            events(event)
        raise told(events, failure) from None
    finally:
        if lock is not None:
            if link is not None and link.sender is not None and lock.held:
                link.sender.bound(RELEASE_SECONDS)  # released even after --timeout ran out
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
    connected: Connection | None = None,
) -> str:
    """`--status`: per group of NEW, its ApplySet, its lock and where an upgrade stands.
    Reads only. Raises `SyncFailed` as `sync` does."""
    progress = Progress()
    try:
        link = connected or connect(where, version, timeout)
        cluster = link.cluster
        lines: list[str] = []
        records: dict[str, dict[str, object]] = {}
        leases: dict[str, str] = {}
        for g in new.groups:
            key = f"{g.namespace}/{g.name}"
            held = cluster.get(lease.lease_ref(g.namespace, g.name))
            leases[key] = _lock_text(held, link.wall())
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
    except Exception as exc:
        failure = failed(exc, progress)
        if failure is None:
            raise
        raise failure from None


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


def _acquire(
    lock: lease.Lock,
    groups: Sequence[tuple[str, str]],
    link: Connection,
    timeout: float,
    wait: bool,
    stop: Stop,
) -> None:
    """Take the Leases of `groups` ((namespace, name)); with `wait`, look again until they
    are free or `timeout` passed."""
    deadline = link.clock.now() + timeout
    while True:
        stop.check()
        try:
            lock.acquire(groups)
            return
        except lease.LeaseHeld as held:
            if not wait or link.clock.now() + link.poll > deadline:
                raise
            link.clock.sleep(min(max(held.expires_in, link.poll), link.poll * 5))
