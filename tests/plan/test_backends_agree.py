"""diff, plan and sync read the same compiled facts, so they agree (issue 8, items 9-14).

Each case failed before the back ends read the bundle's facts: `--lws statefulsets` was
invisible to plan and crashed sync, a renamed group lost its old roles first, counts differed,
a Secret in a List was shown, and the simulator stalled where the planner used the fencepost.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from click.testing import CliRunner

from rbgc.bundle import Bundle, template_hash
from rbgc.cli import main
from rbgc.model import LwsLowering, Target
from rbgc.pipeline import Options, compile_paths
from rbgc.plan.changes import group_changes
from rbgc.plan.diff import Changed, diff_bundles, summary
from rbgc.plan.model import Op
from rbgc.plan.planner import plan
from rbgc.plan.render import diff_view
from rbgc.sync.controller import execute, prepare
from rbgc.sync.simulator import SimClock, Simulator

ROOT = Path(__file__).resolve().parents[2]
LWS_ROLE = """\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata: {{name: {name}, namespace: llm}}
spec:
  roles:
  - name: {role}
    replicas: {replicas}
    workload: {{apiVersion: {api}, kind: {kind}}}
    {extra}
    template:
      spec:
        containers:
        - {{name: main, image: {image}}}
"""


def _write(tmp: Path, filename: str, **kw: str) -> str:
    fields = {
        "name": "g",
        "role": "w",
        "replicas": "2",
        "api": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "extra": "leaderWorkerSet: {size: 3}",
        "image": "img:1",
        **kw,
    }
    path = tmp / filename
    path.write_text(LWS_ROLE.format(**fields), encoding="utf-8")
    return str(path)


def _bundle(path: str, lws: LwsLowering = LwsLowering.NATIVE) -> Bundle:
    options = Options(namespace="llm", target=Target(lws=lws))
    return compile_paths([path], options).bundle


def _plan_restarts(old: Bundle, new: Bundle) -> tuple[int, int]:
    changes = diff_bundles(old, new)
    found = plan(group_changes(old, new, changes))
    return summary(changes)["restarts"], found.restarts


def test_lws_statefulsets_image_change_is_planned_like_the_diff(tmp_path: Path) -> None:
    old = _write(tmp_path, "old.yaml")
    new = _write(tmp_path, "new.yaml", image="img:2")
    for lws in LwsLowering:
        diffed, planned = _plan_restarts(_bundle(old, lws), _bundle(new, lws))
        assert diffed == planned == 6, lws  # 2 groups of 3 pods


def test_sync_simulate_lws_statefulsets_upgrade_converges(tmp_path: Path) -> None:
    old = _write(tmp_path, "old.yaml")
    new = _write(tmp_path, "new.yaml", image="img:2")
    result = CliRunner().invoke(
        main, ["sync", "--simulate", "--lws", "statefulsets", "--simulate-from", old, new]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("converged:")


def test_renamed_group_is_removed_after_the_new_one_is_up(tmp_path: Path) -> None:
    kw = {"api": "apps/v1", "kind": "StatefulSet", "extra": ""}
    old = _bundle(_write(tmp_path, "old.yaml", name="a-old", **kw))
    new = _bundle(_write(tmp_path, "new.yaml", name="z-new", **kw))
    found = plan(group_changes(old, new, diff_bundles(old, new)))
    ops = [(s.group, a.op) for s in found.steps for a in s.actions]
    assert ops == [("llm/z-new", Op.CREATE), ("llm/a-old", Op.DELETE)]


def test_deployment_scale_down_with_new_template_counts_as_the_diff(tmp_path: Path) -> None:
    kw = {"api": "apps/v1", "kind": "Deployment", "extra": ""}
    old = _bundle(_write(tmp_path, "old.yaml", replicas="4", **kw))
    new = _bundle(_write(tmp_path, "new.yaml", replicas="2", image="img:2", **kw))
    assert _plan_restarts(old, new) == (2, 2)


def test_lws_recreate_counts_old_pods_at_their_old_size(tmp_path: Path) -> None:
    old = _bundle(_write(tmp_path, "old.yaml", extra="leaderWorkerSet: {size: 4}"))
    new = _bundle(_write(tmp_path, "new.yaml", extra="leaderWorkerSet: {size: 2}"))
    changes = diff_bundles(old, new)
    (changed,) = [c for c in changes if isinstance(c, Changed)]
    found = plan(group_changes(old, new, changes))
    (action,) = [a for s in found.steps for a in s.actions]
    assert action.op is Op.RECREATE and action.pods_down == 8  # 2 groups of 4 old pods
    assert changed.restarts == found.restarts == 4  # as many as NEW runs: 2 groups of 2


def test_secrets_inside_a_list_are_masked(tmp_path: Path) -> None:
    def secret_list(value: str) -> str:
        path = tmp_path / f"{value}.yaml"
        path.write_text(
            textwrap.dedent(
                f"""\
                apiVersion: v1
                kind: List
                items:
                - apiVersion: v1
                  kind: Secret
                  metadata: {{name: s, namespace: llm}}
                  stringData: {{password: {value}}}
                """
            ),
            encoding="utf-8",
        )
        return str(path)

    old, new = _bundle(secret_list("LIST-OLD-SECRET")), _bundle(secret_list("LIST-NEW-SECRET"))
    changes = diff_bundles(old, new)
    assert changes
    for output in ("text", "json", "markdown"):
        shown = diff_view(changes, output)
        assert "LIST-OLD-SECRET" not in shown and "LIST-NEW-SECRET" not in shown, output


def test_deployment_fencepost_plan_and_simulator_agree(tmp_path: Path) -> None:
    extra = "rolloutStrategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: 10%}}"
    kw = {"api": "apps/v1", "kind": "Deployment", "extra": extra, "replicas": "4"}
    old = _bundle(_write(tmp_path, "old.yaml", **kw))
    new = _bundle(_write(tmp_path, "new.yaml", image="img:2", **kw))
    sim = Simulator()
    clock = SimClock(sim)
    execute(sim, prepare(sim, old, sim.version), clock=clock, timeout=3600)
    steps = prepare(sim, new, sim.version)
    assert steps.rollout.total_steps == 4  # one pod at a time: Kubernetes' fencepost
    execute(sim, steps, clock=clock, timeout=3600)
    body = next(m.body for m in new.manifests if m.kind == "Deployment")
    assert {rev for _, rev, _ in sim.pods("Deployment", "llm", "g-w")} == {template_hash(body)}
