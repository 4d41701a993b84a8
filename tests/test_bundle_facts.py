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
