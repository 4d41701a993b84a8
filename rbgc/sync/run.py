"""`rbgc sync` as one library call: choose the cluster, plan against it, carry the plan out.

In: NEW's compiled bundle (and, for `--simulate-from`, OLD's), the target version, where the
cluster is and how long to wait. Out: what the command prints on stdout. Failures are typed:
`SyncFailed` carries the diagnostic, the exit it deserves and whether anything was written, so
that the CLI only maps them to exit codes and never claims steps stayed applied when the sync
never reached the cluster.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from rbgc.bundle import Bundle
from rbgc.diagnostics import Diagnostic, error
from rbgc.k8s.controllers import Version
from rbgc.sync import controller
from rbgc.sync.cluster import Cluster, ClusterError, ConfigError, ConflictError, KindNotServed


class Failure(enum.IntEnum):
    """Exit codes of a sync that could not finish (the CLI's, for input errors, are 1-3)."""

    TIMEOUT = 4
    CLUSTER = 5


class SyncFailed(Exception):
    def __init__(self, diagnostic: Diagnostic, failure: Failure, writes: int) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic
        self.failure = failure
        self.writes = writes  # objects applied or deleted before the failure

    def aftermath(self) -> str:
        if self.writes == 0:
            return "rbgc: sync stopped before changing anything in the cluster"
        return (
            f"rbgc: sync stopped after {self.writes} write(s); what was applied stays applied: "
            "run `rbgc sync` again to continue"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Where:
    """The cluster to sync with: a simulated one, or a kubeconfig / context / server."""

    simulate: bool = False
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
    simulate_from: Bundle | None = None,
    emit: Callable[[str], None] = lambda line: None,
) -> str:
    """Plan and (unless `dry_run`) carry out NEW; the text for stdout. Raises `SyncFailed`,
    and `DiagnosticError` (RBG802/RBG803) when no rollout can reach NEW."""
    progress = controller.Progress()
    try:
        cluster, clock, interval = _connect(where, version)
        if simulate_from is not None:
            controller.execute(
                cluster,
                controller.prepare(cluster, simulate_from, version),
                clock=clock,
                timeout=86400,
            )
        plan = controller.prepare(cluster, new, version, prune=prune)
        if dry_run:
            return controller.render_steps(plan)
        outcome = controller.execute(
            cluster,
            plan,
            clock=clock,
            timeout=timeout,
            interval=interval,
            emit=emit,
            progress=progress,
            force=force_conflicts,
        )
    except ConfigError as exc:
        raise SyncFailed(
            error(
                "RBG910",
                f"no cluster to sync with: {exc}",
                None,
                help="pass --kubeconfig, --context or --server (or set KUBECONFIG); "
                "--simulate previews the sync without a cluster",
            ),
            Failure.CLUSTER,
            0,
        ) from None
    except KindNotServed as exc:
        raise SyncFailed(
            error(
                "RBG911",
                exc.message,
                None,
                help="install its CRD and controller, or build "
                "LeaderWorkerSet roles with --lws statefulsets",
            ),
            Failure.CLUSTER,
            progress.writes,
        ) from None
    except ConflictError as exc:
        raise SyncFailed(
            error(
                "RBG913",
                f"field conflict: {exc.describe()}; rbgc did not take these fields over",
                None,
                help="another tool or a person changed them since rbgc applied: keep their "
                "change by putting it in the input, or run again with --force-conflicts to "
                "take ownership",
            ),
            Failure.CLUSTER,
            progress.writes,
        ) from None
    except ClusterError as exc:
        raise SyncFailed(
            error("RBG910", f"the cluster answered {exc.code} {exc.reason}: {exc.message}", None),
            Failure.CLUSTER,
            progress.writes,
        ) from None
    except controller.SyncTimeout as exc:
        raise SyncFailed(
            error(
                "RBG912",
                str(exc),
                exc.target.span,
                help="look at the role's pods "
                "(kubectl describe pod); raise --timeout if they are only slow to start",
            ),
            Failure.TIMEOUT,
            progress.writes,
        ) from None
    simulated = " (simulated)" if where.simulate else ""
    return f"converged: {outcome.steps} step(s) in {outcome.elapsed:g}s{simulated}\n"


def _connect(where: Where, version: Version) -> tuple[Cluster, controller.Clock, float]:
    """The cluster, its clock and how often to poll it."""
    if where.simulate:
        from rbgc.sync.simulator import SimClock, Simulator

        sim = Simulator(kubernetes_version=version)
        return sim, SimClock(sim), 1.0
    from rbgc.sync import kube

    cluster = kube.connect(kubeconfig=where.kubeconfig, context=where.context, server=where.server)
    return cluster, controller.WallClock(), 2.0
