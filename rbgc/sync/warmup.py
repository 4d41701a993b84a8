"""`rbgc sync` runs warm-ups: a RoleBasedGroupWarmup of the inputs, and `--warmup`'s pulls.

Per warm-up, as upstream's controller (internal/controller/workloads/
rolebasedgroupwarmup_controller.go) but with one Job per node (rbgc/warmup/jobs.py):
1. the nodes: as the build resolved them, else the cluster's nodes with the `nodeSelector`'s
   labels, else the nodes that run the group's pods, per role (`getDesiredNodesToWarmup`
   :414-507: scheduled pods not being deleted, by the group and role labels; rbgc also reads
   v0.4.0's keys, so a group rbgc compiled from v1alpha1 is found);
2. Jobs created in node-name order, at most `parallelism` running (`createPodsForNodes`
   :284-336); each retries its node up to `backoffLimitPerNode` (the Job's backoffLimit);
3. done when every Job has finished: failed nodes beyond `maxFailedNodes` fail it
   (`updateStatus` :700-733), and so does `globalTimeoutSeconds` from the first Job, after
   deleting the Jobs still running (`failWarmupJob` :358-411).
A `--warmup` warm-up tolerates no failed node (the new image cannot be pulled: replacing a pod
would leave it failing), and its Jobs are deleted once done; a warm-up of the inputs keeps its
Jobs, as upstream keeps its pods (its `ttlSecondsAfterFinished` deletes them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rbgc.jsonpath import find
from rbgc.k8s import conventions as cv
from rbgc.sync.cluster import Cluster, Feed, Ref
from rbgc.warmup import jobs
from rbgc.warmup.spec import Warmup


@dataclass(frozen=True, slots=True, kw_only=True)
class WarmupTask:
    """A warm-up a sync step starts. `background`: the step does not wait for it, a later
    step does (`--warmup`); `strict`: any failed node fails it and its Jobs are deleted once
    done (rbgc's own warm-ups)."""

    key: str
    warmup: Warmup
    background: bool = False
    strict: bool = False

    def describe(self) -> str:
        what = self.warmup.actions_for(tuple(self.warmup.roles))
        images = sorted({i for a in what for i in a.images})
        where = (
            f"the nodes of {self.warmup.namespace}/{self.warmup.group}'s "
            f"{', '.join(sorted(self.warmup.roles))} pods"
            if self.warmup.group
            else "nodes " + ", ".join(self.warmup.nodes)
            if self.warmup.nodes is not None
            else "nodes with "
            + ", ".join(f"{k}={v}" for k, v in (self.warmup.node_selector or {}).items())
        )
        return f"warm-up {self.key}: pull {', '.join(images) or 'nothing'} on {where}"


class WarmupFailed(Exception):
    def __init__(self, task: WarmupTask, why: str) -> None:
        super().__init__(f"{task.describe()} failed: {why}")
        self.task = task
        self.why = why


def nodes_of(cluster: Cluster, w: Warmup) -> dict[str, tuple[str, ...]]:
    """Target node -> the roles it runs (targetRoleBasedGroup), from the build or the cluster."""
    if w.nodes is not None:
        return {n: () for n in w.nodes}
    if w.node_selector is not None:
        selected = cluster.list("v1", "Node", "", w.node_selector)
        return {str(find(n, ("metadata", "name"))): () for n in selected}
    out: dict[str, set[str]] = {}
    for key in cv.GROUP_LABELS:  # HEAD's key, and v0.4.0's for groups rbgc compiled so
        pods, _ = cluster.list_feed(Feed("v1", "Pod", w.namespace, f"{key}={w.group}"))
        for pod in pods:
            node = find(pod, ("spec", "nodeName"))
            found = cv.group_and_role(find(pod, ("metadata", "labels")) or {})
            if node and found and not find(pod, ("metadata", "deletionTimestamp")):
                out.setdefault(str(node), set()).add(found[1])
    return {n: tuple(sorted(r)) for n, r in out.items()}


def _finished(body: Mapping[str, Any] | None) -> str | None:
    """ "Complete" or "Failed" once the Job controller says so; None while it runs."""
    if body is None:
        return "Complete"  # gone: its ttlSecondsAfterFinished deleted it once it finished
    for c in find(body, ("status", "conditions")) or ():
        if c.get("status") == "True" and c.get("type") in ("Complete", "Failed"):
            return str(c["type"])
    return None


@dataclass(slots=True)
class WarmupRun:
    task: WarmupTask
    cluster: Cluster
    now: Callable[[], float]
    jobs: list[jobs.WarmupJob] | None = None  # None: nodes not resolved yet
    created: list[Ref] = field(default_factory=list)
    active: list[Ref] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # nodes
    conflicts: list[str] = field(default_factory=list)  # volume names two roles define apart
    started: float | None = None
    done: bool = False

    def advance(self) -> bool:
        """Do what can be done now; raises WarmupFailed."""
        if self.done:
            return False
        w = self.task.warmup
        moved = False
        if self.jobs is None:
            self.jobs = list(jobs.jobs(w, nodes_of(self.cluster, w)))
            self.conflicts = sorted({v for j in self.jobs for v in j.volume_conflicts})
            moved = True
        for ref in list(self.active):
            state = _finished(self.cluster.get(ref))
            if state is not None:
                self.active.remove(ref)
                if state == "Failed":
                    self.failed.append(ref.name)
                moved = True
        limit = w.policies.max_failed_nodes
        if self.failed and (self.task.strict or (limit is not None and len(self.failed) > limit)):
            self._stop()
            raise WarmupFailed(self.task, f"Job(s) {', '.join(self.failed)} failed")
        timeout = w.policies.global_timeout_seconds
        if (
            timeout is not None
            and self.started is not None
            and self.now() - self.started >= timeout
        ):
            self._stop()
            raise WarmupFailed(self.task, f"globalTimeoutSeconds {timeout} passed")
        budget = (w.policies.parallelism or len(self.jobs)) - len(self.active)
        for job in self.jobs[len(self.created) :][: max(budget, 0)]:
            self.cluster.apply(job.body)
            ref = Ref.of(job.body)
            self.created.append(ref)
            self.active.append(ref)
            self.started = self.now() if self.started is None else self.started
            moved = True
        if not self.active and len(self.created) == len(self.jobs):
            if self.task.strict:
                for ref in self.created:  # what rbgc made for the upgrade goes with it
                    self.cluster.delete(ref)
            self.done, moved = True, True
        return moved

    def _stop(self) -> None:
        """Failed: the running Jobs are deleted (upstream deletes the active pods); rbgc's own
        succeeded ones too, its failed ones stay for `kubectl describe`."""
        gone = self.created if self.task.strict else self.active
        for ref in list(gone):
            if ref.name not in self.failed:
                self.cluster.delete(ref)
        self.active.clear()


@dataclass(slots=True)
class Warmups:
    """The warm-ups of one sync, by key: started by their step, advanced on every pass."""

    cluster: Cluster
    now: Callable[[], float]
    runs: dict[str, WarmupRun] = field(default_factory=dict)

    def start(self, task: WarmupTask) -> WarmupRun:
        if task.key not in self.runs:
            self.runs[task.key] = WarmupRun(task=task, cluster=self.cluster, now=self.now)
        return self.runs[task.key]

    def advance(self) -> bool:
        moved = False
        for run in self.runs.values():
            moved = run.advance() or moved
        return moved

    def running(self) -> bool:
        return any(not run.done for run in self.runs.values())

    def done(self, keys: Sequence[str]) -> bool:
        return all(k in self.runs and self.runs[k].done for k in keys)
