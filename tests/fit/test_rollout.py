"""A Deployment role's rolling update, where its own placement would deadlock it (issue 17.4).

The Deployment controller's rule (pkg/controller/deployment/rolling.go): it adds up to
`maxSurge` pods of the new ReplicaSet (`reconcileNewReplicaSet`), and removes old pods only
`maxScaledDown = allPodsCount - minAvailable - newRSUnavailablePodCount` at a time
(`reconcileOldReplicaSets`), `minAvailable = replicas - maxUnavailable`. With maxUnavailable 0
and the surge pod Pending, that is `(N + s) - N - s = 0`: no old pod ever goes. A required
anti-affinity (or pod affinity to a full domain) counts the old ReplicaSet's pods unless the
term has `matchLabelKeys: [pod-template-hash]`, which the API server merges from the new pod's
labels from Kubernetes 1.31 (MatchLabelKeysInPodAffinity beta, on by default; kubernetes/
website `feature-gates/MatchLabelKeysInPodAffinity.md`; pkg/registry/core/pod/strategy.go
`applyMatchLabelKeysAndMismatchLabelKeys`). A StatefulSet deletes a pod before recreating it.
"""

from __future__ import annotations

import textwrap
from typing import Any

from rbgc.fit import fit
from rbgc.k8s.controllers import Version
from rbgc.model import Target
from rbgc.pipeline import Options, compile_documents
from rbgc.report import text
from rbgc.source import parse_text
from tests.fit.helpers import GPU, HOST, inventory, node, placement

SEPARATE = placement("- roles: [web]\n  separate: {level: host}")


def deployment(strategy: str = "", spec: str = "", replicas: int = 2, gpu: int = 0) -> str:
    limits = f"\n              resources: {{limits: {{{GPU}: {gpu}}}}}" if gpu else ""
    extra = textwrap.indent(textwrap.dedent(spec), " " * 10) if spec else ""
    return (
        "apiVersion: workloads.x-k8s.io/v1alpha1\nkind: RoleBasedGroup\n"
        "metadata: {name: g, namespace: default}\nspec:\n  roles:\n"
        f"    - name: web\n      replicas: {replicas}\n"
        "      workload: {apiVersion: apps/v1, kind: Deployment}\n"
        f"{textwrap.indent(textwrap.dedent(strategy), ' ' * 6)}"
        "      template:\n        spec:\n"
        f"          containers:\n            - name: main\n              image: x{limits}\n"
        f"{extra}"
    )


def check(text_: str, nodes: list[dict[str, Any]], version: Version = (1, 33)) -> Any:
    """Build for `version` (rbgc's own terms count one revision from 1.31) and fit on it."""
    built = compile_documents(
        parse_text(textwrap.dedent(text_), "test.yaml"),
        Options(target=Target(kubernetes_version=version)),
    )
    (answer,), warnings = fit(built.bundle, inventory(nodes), version)
    return answer, warnings


HOSTS = [node("h0"), node("h1")]


def test_a_separate_deployment_on_as_many_hosts_as_replicas_cannot_roll() -> None:
    # 2 replicas, default 25%/25%: maxSurge 1 (rounded up), maxUnavailable 0 (rounded down);
    # Kubernetes 1.30: the build's separate cannot count one revision (no matchLabelKeys)
    answer, warnings = check(deployment() + SEPARATE, HOSTS, version=(1, 30))
    assert answer.fits  # it deploys ...
    (rollout,) = answer.rollouts  # ... but never upgrades
    assert (rollout.role, rollout.surge, rollout.proceeds) == ("web", 1, False)
    assert rollout.reason == (
        "maxUnavailable 0 keeps all 2 old pod(s) until a new one runs, and the first new one "
        "cannot be placed beside them: pod g-web-2 (web) fits on none of the 2 node(s): 2 have "
        "a pod its anti-affinity excludes in their kubernetes.io/hostname domain"
    )
    assert text([w for w in warnings if w.code == "RBG355"]) == (
        "test.yaml:6:13: warning[RBG355]: default/g: a rolling update of role web cannot "
        "proceed: with maxSurge 1 and maxUnavailable 0 its old pods stay until a new one runs, "
        "and the first new pod has no node (`rbgc fit`'s answer says why)\n"
        "  help: let old pods go first (rollingUpdate.maxUnavailable: 1), leave room for 1 more "
        "pod(s), or, from Kubernetes 1.31, add `matchLabelKeys: [pod-template-hash]` to the "
        "term so that old and new pods do not count against each other\n"
    )
    # from 1.31 the build writes `matchLabelKeys: [pod-template-hash]` itself: it rolls
    answer, warnings = check(deployment() + SEPARATE, HOSTS)
    assert [r.proceeds for r in answer.rollouts] == [True]
    assert not [w for w in warnings if w.code == "RBG355"]


def test_a_spare_host_or_a_pod_that_may_go_first_lets_it_roll() -> None:
    answer, _ = check(deployment() + SEPARATE, [*HOSTS, node("h2")])
    assert [r.proceeds for r in answer.rollouts] == [True]
    # maxUnavailable 1: the controller removes an old pod before it needs room for a new one
    strategy = "rolloutStrategy: {rollingUpdate: {maxUnavailable: 1, maxSurge: 1}}\n"
    answer, warnings = check(deployment(strategy) + SEPARATE, HOSTS)
    assert [r.proceeds for r in answer.rollouts] == [True]
    assert not [w for w in warnings if w.code == "RBG355"]


ANTI_BY_REVISION = """\
affinity:
  podAntiAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      - topologyKey: kubernetes.io/hostname
        labelSelector: {matchLabels: {rolebasedgroup.workloads.x-k8s.io/role: web}}
        matchLabelKeys: [pod-template-hash]
"""


def test_match_label_keys_on_the_template_hash_keeps_revisions_apart_from_1_31() -> None:
    answer, _ = check(deployment(spec=ANTI_BY_REVISION), HOSTS)
    assert answer.fits
    assert [r.proceeds for r in answer.rollouts] == [True]
    # below 1.31 the API server drops the field (the feature is off): old pods count again
    answer, warnings = check(deployment(spec=ANTI_BY_REVISION), HOSTS, version=(1, 30))
    assert [r.proceeds for r in answer.rollouts] == [False]
    assert [w.message for w in warnings if w.code == "RBG356"] == [
        "Deployment g-web: matchLabelKeys in podAntiAffinity is ignored by Kubernetes 1.30 (on "
        "by default from 1.31): `rbgc fit` reads the term without it"
    ]


PACK_ON_HOST = placement("- roles: [web]\n  pack: {required: host}")


def test_a_full_packed_domain_leaves_no_room_for_the_surge_pod() -> None:
    # both replicas (4 GPUs each) fill one 8-GPU host; the new pod's affinity selects the old
    # pods, so it must join them on that host: no room
    nodes = [node("h0", gpu=8), node("h1", gpu=8)]
    answer, _ = check(deployment(gpu=4) + PACK_ON_HOST, nodes, version=(1, 30))
    assert answer.fits and answer.tier == HOST
    (rollout,) = answer.rollouts
    assert not rollout.proceeds
    assert "have too little free nvidia.com/gpu" in str(rollout.reason)
    # from 1.31 the build's pack counts one revision: the new pod may start on the other host
    answer, _ = check(deployment(gpu=4) + PACK_ON_HOST, nodes)
    assert [r.proceeds for r in answer.rollouts] == [True]
    # with room on the host for one more, it rolls
    answer, _ = check(deployment(gpu=2) + PACK_ON_HOST, [node("h0", gpu=6)])
    assert [r.proceeds for r in answer.rollouts] == [True]


def test_statefulsets_are_not_surged() -> None:
    statefulset = deployment().replace("kind: Deployment", "kind: StatefulSet")
    answer, _ = check(statefulset + SEPARATE, HOSTS)
    assert answer.fits and answer.rollouts == ()
