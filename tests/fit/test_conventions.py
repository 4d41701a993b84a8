"""`rbgc fit` reads each group's output conventions from the bundle's facts (issue 16.10, 21.1).

Upstream's exclusive topology is a pod affinity `group-key In [own]` and an anti-affinity
`group-key Exists, NotIn [own]` on the group-key label of the operator release chosen
(`rbg-semantics.md` §3 for v0.4.0's `rolebasedgroup.workloads.x-k8s.io/group-unique-key`,
`rbg-v1alpha2-semantics.md` §2.2 for HEAD's `rbg.workloads.x-k8s.io/group-uid`): `fit` must
recognise both, and keep other groups' pods away under either.
"""

from __future__ import annotations

import pytest

from rbgc.bundle import Bundle
from rbgc.fit import fit
from rbgc.fit.constraints import Own, problem
from rbgc.fit.demand import Features, group_pods
from rbgc.k8s.controllers import DEFAULT_KUBERNETES_VERSION
from rbgc.k8s.conventions import RELEASES, V04, V08, Conventions, group_unique_key
from rbgc.model import Target
from rbgc.pipeline import Options, compile_documents
from rbgc.source import parse_text
from tests.fit.helpers import GPU, ZONE, group, inventory, node, role, running
from tests.fit.oracle import violations

EXCLUSIVE = f"rolebasedgroup.workloads.x-k8s.io/exclusive-topology: {ZONE}\n"
BY_RELEASE = pytest.mark.parametrize("conventions", [V04, V08], ids=lambda c: c.release)


def compiled(release: str, text: str) -> Bundle:
    options = Options(namespace="default", target=Target(conventions=release))
    return compile_documents(parse_text(text, "g.yaml"), options).bundle


@pytest.mark.parametrize("release", sorted(RELEASES))
def test_the_facts_record_the_conventions_each_group_was_built_with(release: str) -> None:
    (facts,) = compiled(release, group(role("w", 1, gpu=8), annotations=EXCLUSIVE)).groups
    assert facts.conventions is RELEASES[release]


@BY_RELEASE
def test_exclusive_topology_is_recognised_under_either_release(conventions: Conventions) -> None:
    bundle = compiled(conventions.release, group(role("w", 2, gpu=8), annotations=EXCLUSIVE))
    inv = inventory([node("a", gpu=8, zone="z1"), node("b", gpu=8, zone="z1")])
    (answer,), _ = fit(bundle, inv)
    assert answer.fits
    assert answer.packs == (("w (exclusive topology)", ZONE),)


def other_groups_pod(conventions: Conventions) -> dict[str, object]:
    labels = {conventions.label_group_key: group_unique_key("default", "other")}
    return running("theirs", "a", labels=labels)


NODES = [node("a", gpu=8, zone="z1"), node("b", gpu=8, zone="z1"), node("c", gpu=8, zone="z2")]


@BY_RELEASE
def test_another_groups_pods_keep_an_exclusive_group_out_of_their_zone(
    conventions: Conventions,
) -> None:
    # a pod of another group, labelled by the same release, runs in zone z1: exclusive
    # topology keeps this group out of z1, so only z2 (one 8-GPU node) is left for 2 pods
    inv = inventory(NODES, [other_groups_pod(conventions)])
    bundle = compiled(conventions.release, group(role("w", 2, gpu=8), annotations=EXCLUSIVE))
    (answer,), _ = fit(bundle, inv)
    assert not answer.fits
    assert answer.reason is not None and GPU in answer.reason


@BY_RELEASE
def test_the_oracle_sees_other_groups_pods_under_either_release(conventions: Conventions) -> None:
    # placing the group beside the other group's pod in z1 breaks exclusive topology
    inv = inventory(NODES, [other_groups_pod(conventions)])
    bundle = compiled(conventions.release, group(role("w", 2, gpu=8), annotations=EXCLUSIVE))
    (pods,) = group_pods(bundle, Features(DEFAULT_KUBERNETES_VERSION))
    own = Own(conventions.label_group_key, pods.key)
    posed = problem(pods.namespace, pods.name, pods.pods, (), own)
    found = violations(posed, inv, [("g-w-0", "a"), ("g-w-1", "b")])
    assert found == [
        "g-w-0's anti-affinity excludes theirs there",
        "g-w-1's anti-affinity excludes theirs there",
    ]
