"""The facts the build records agree with the objects it emits, for every example and every
upstream compat file, with both LWS lowerings."""

from __future__ import annotations

from pathlib import Path

import pytest

from rbgc.k8s import controllers
from rbgc.model import LwsLowering, Target
from rbgc.pipeline import Options, compile_paths
from tests.conftest import COMPAT, EXAMPLES

SOURCES = sorted(EXAMPLES.glob("*.yaml")) + sorted(COMPAT.rglob("*.yaml"))


@pytest.mark.parametrize("lws", list(LwsLowering))
@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_facts_describe_the_emitted_workloads(path: Path, lws: LwsLowering) -> None:
    bundle = compile_paths([str(path)], Options(target=Target(lws=lws))).bundle
    emitted = {
        m.identity(): m
        for m in bundle.manifests
        if m.group is not None and controllers.shape_of(m.body) is not None
    }
    recorded = {w.identity(): w for g in bundle.groups for w in g.workloads()}
    assert recorded.keys() == emitted.keys()
    for g in bundle.groups:
        waves = {r.name: r.wave for r in g.roles}
        for role in g.roles:
            assert role.workloads, role.name
            head = role.workloads[0]
            assert head.primary and head.role == role.name
            assert all(w.wave == role.wave for w in role.workloads)
            assert all(waves[d] < role.wave for d in role.depends_on)
            if lws is LwsLowering.NATIVE or role.kind != "LeaderWorkerSet":
                assert len(role.workloads) == 1
                assert head.pods == role.pods
            else:  # a leader StatefulSet and a worker StatefulSet per group of size > 1
                assert sum(w.pods for w in role.workloads) == role.pods
        for identity, w in recorded.items():
            m = emitted[identity]
            assert (w.replicas, w.wave) == (controllers.replicas(m.body), m.wave)
        if g.pod_group is not None:
            assert any(m.kind == "PodGroup" and m.name == g.pod_group for m in bundle.manifests)


LWS_WITH_BACKOFF = """\
apiVersion: workloads.x-k8s.io/v1alpha2
kind: RoleBasedGroup
metadata: {name: g}
spec:
  roles:
  - name: infer
    replicas: 2
    leaderWorkerPattern:
      size: 2
      restartPolicyConfig: {type: RecreateRoleInstanceOnPodRestart, baseDelaySeconds: 5,
        maxDelaySeconds: 40}
      template: {spec: {containers: [{name: c, image: i}]}}
"""


def test_restart_back_off_is_the_pattern_s(tmp_path: Path) -> None:
    """`rbgc sync --watch` backs off as the role's leaderWorkerPattern.restartPolicyConfig
    says (v1alpha2 CRD: baseDelaySeconds, maxDelaySeconds), not with the defaults."""
    path = tmp_path / "g.yaml"
    path.write_text(LWS_WITH_BACKOFF)
    options = Options(target=Target(lws=LwsLowering.STATEFULSETS))
    (group,) = compile_paths([str(path)], options).bundle.groups
    restart = group.roles[0].restart
    assert restart is not None
    assert (restart.scope, restart.base_delay, restart.max_delay) == ("instance", 5, 40)
    default = LWS_WITH_BACKOFF.replace(", baseDelaySeconds: 5,\n        maxDelaySeconds: 40", "")
    path.write_text(default)
    (group,) = compile_paths([str(path)], options).bundle.groups
    restart = group.roles[0].restart
    assert restart is not None and (restart.base_delay, restart.max_delay) == (30, 600)


def test_facts_carry_the_group_s_conventions(tmp_path: Path) -> None:
    """Back ends read each group's output conventions from its facts (`--conventions`, else
    by the input's API version), and `facts_of` reads them back from applied objects."""
    from rbgc.bundle import facts_of
    from rbgc.k8s.conventions import V04, V08

    path = tmp_path / "g.yaml"
    path.write_text(LWS_WITH_BACKOFF)
    for chosen, expected in ((None, V08), ("v0.4", V04), ("v0.8", V08)):
        bundle = compile_paths([str(path)], Options(target=Target(conventions=chosen))).bundle
        assert bundle.groups[0].conventions is expected
        (applied,) = facts_of([m for m in bundle.manifests if m.group is not None])
        assert applied.conventions is expected
