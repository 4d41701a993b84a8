"""One wave number per role, whoever shows it (issue 18, item 5).

The build decides a role's sync wave once: one after its deepest dependency, and one more when
the group has a PodGroup, which goes first (Argo CD applies custom resources last within a
wave). `--explain` (and so `make demo`), the objects' `argocd.argoproj.io/sync-wave`, the
bundle's facts, `rbgc graph` and the steps of `rbgc sync` all show that number. Was: a gang
group's roles were "wave 0" in `--explain` and wave 1 in their objects.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rbgc.graph.scene import scene_of
from rbgc.k8s import conventions as cv
from rbgc.model import Scheduler, Target
from rbgc.pipeline import Options, Result, compile_paths
from rbgc.sync.plan import StepOp, sync_plan
from tests.conftest import COMPAT, COMPAT_V08, COMPAT_V08_REFUSED, EXAMPLES

INPUTS = [
    *sorted(EXAMPLES.glob("*.yaml")),
    *sorted(COMPAT.rglob("*.yaml")),
    *(
        p
        for p in sorted(COMPAT_V08.rglob("*.yaml"))
        if p.relative_to(COMPAT_V08).as_posix() not in COMPAT_V08_REFUSED
    ),
]
EXPLAINED = re.compile(r"^\[dependencies\] (\S+): wave (\d+): (.*)$")
GANG = re.compile(r"^PodGroup (\S+) \(gang: before every role\)$")


def explained_waves(result: Result) -> dict[tuple[str, str], int]:
    """(group, role) -> wave, as `rbgc build --explain` prints them."""
    waves: dict[tuple[str, str], int] = {}
    for line in result.trace.render().splitlines():
        found = EXPLAINED.match(line)
        if found and not GANG.match(found[3]):
            for role in found[3].split(", "):
                waves[(found[1], role)] = int(found[2])
    return waves


def compiled(path: Path, scheduler: str = "default") -> Result:
    target = Target(scheduler=Scheduler(scheduler))
    return compile_paths([str(path)], Options(namespace="default", target=target))


@pytest.mark.parametrize("scheduler", ["default", "volcano"])
@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.name)
def test_every_view_shows_the_wave_the_objects_carry(path: Path, scheduler: str) -> None:
    result = compiled(path, scheduler)
    explained = explained_waves(result)
    facts = {(g.key, r.name): r.wave for g in result.bundle.groups for r in g.roles}
    assert explained == facts, "--explain and the bundle's facts disagree"
    for m in result.bundle.manifests:
        if m.group is None or m.role is None:
            continue
        key = (f"{m.namespace}/{m.group}", m.role)
        annotated = int(m.body["metadata"]["annotations"][cv.SYNC_WAVE])
        assert (m.wave, annotated) == (facts[key], facts[key]), f"{m.kind} {m.name}"
    drawn = {
        (cluster.title.split(" ")[0], node.lines[0]): wave.number
        for cluster in scene_of(result.bundle).clusters
        for wave in cluster.waves
        for node in wave.roles
    }
    assert drawn == facts, "rbgc graph draws other waves"
    plan = sync_plan(result.bundle, [], (1, 33))
    for step in plan.steps:
        if step.op is StepOp.GATE:
            for target in step.wait:
                who = re.fullmatch(r"role (\S+) of (\S+)", target.who)
                if who:
                    assert step.wave == facts[(who[2], who[1])], step.summary


def test_a_gang_group_explains_its_podgroup_in_wave_0_and_its_roles_after() -> None:
    result = compiled(EXAMPLES / "multi-node-gang.yaml")
    lines = [x for x in result.trace.render().splitlines() if x.startswith("[dependencies]")]
    assert lines == [
        "[dependencies] llm/llama-70b: wave 0: PodGroup llama-70b (gang: before every role)",
        "[dependencies] llm/llama-70b: wave 1: decode, prefill",
    ]
    pod_group = next(m for m in result.bundle.manifests if m.kind == "PodGroup")
    assert pod_group.wave == 0
