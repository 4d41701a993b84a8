"""The pods a compiled bundle creates, and what each asks of a node."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
import yaml

from rbgc.diagnostics import DiagnosticError
from rbgc.fit.demand import Features, group_pods
from rbgc.fit.resources import pod_requests
from rbgc.k8s.controllers import DEFAULT_KUBERNETES_VERSION
from rbgc.model import LwsLowering, Target
from rbgc.pipeline import Options, compile_documents
from rbgc.report import text
from rbgc.source import parse_text
from tests.conftest import ROOT
from tests.fit.helpers import GPU

GI = 2**30
FEATURES = Features(DEFAULT_KUBERNETES_VERSION)


def requests(spec: str) -> dict[str, int]:
    return pod_requests(yaml.safe_load(textwrap.dedent(spec)), ("spec",))


def test_containers_add_up_and_limits_stand_in_for_missing_requests() -> None:
    assert requests(
        """\
        containers:
          - {name: a, resources: {requests: {cpu: 500m, memory: 1Gi}, limits: {cpu: '2'}}}
          - {name: b, resources: {limits: {cpu: '1', nvidia.com/gpu: 2}}}
          - {name: c}
        """
    ) == {"cpu": 1500, GPU: 2, "memory": GI, "pods": 1}


def test_init_containers_take_the_max_and_sidecars_add() -> None:
    assert requests(
        """\
        initContainers:
          - {name: big, resources: {requests: {cpu: '4', memory: 8Gi}}}
          - {name: side, restartPolicy: Always, resources: {requests: {cpu: '1'}}}
          - {name: after, resources: {requests: {cpu: '3'}}}
        containers:
          - {name: main, resources: {requests: {cpu: '2', memory: 2Gi}}}
        """
    ) == {
        # steady state: main 2 + sidecar 1 = 3; init peaks: big 4, after 3 + sidecar 1 = 4
        "cpu": 4000,
        "memory": 8 * GI,
        "pods": 1,
    }


def test_overhead_is_added() -> None:
    assert requests(
        """\
        overhead: {cpu: 250m, memory: 120Mi}
        containers: [{name: a, resources: {requests: {cpu: '1'}}}]
        """
    ) == {"cpu": 1250, "memory": 120 * 2**20, "pods": 1}


LWS = """\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata: {name: g, namespace: llm}
spec:
  roles:
    - name: decode
      replicas: 2
      workload: {apiVersion: leaderworkerset.x-k8s.io/v1, kind: LeaderWorkerSet}
      leaderWorkerSet:
        size: 3
        patchLeaderTemplate:
          spec:
            containers:
              - name: main
                resources: {limits: {cpu: '1'}}
      template:
        spec:
          containers:
            - {name: main, image: x, resources: {limits: {nvidia.com/gpu: 8}}}
    - name: router
      replicas: 2
      workload: {apiVersion: apps/v1, kind: Deployment}
      template:
        spec:
          containers: [{name: main, image: x}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: not-a-group}
spec:
  replicas: 3
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec: {containers: [{name: main, image: x}]}
"""


def pods(lws: LwsLowering) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    options = Options(target=Target(lws=lws))
    result = compile_documents(parse_text(LWS, "g.yaml"), options)
    (found,) = group_pods(result.bundle, FEATURES)
    return [(p.name, p.role, p.instance, dict(p.requests)) for p in found.pods]


def test_leader_worker_sets_deployments_and_pass_through_objects() -> None:
    leader = {"cpu": 1000, GPU: 8, "pods": 1}
    worker = {GPU: 8, "pods": 1}
    assert sorted(pods(LwsLowering.NATIVE)) == [
        ("g-decode-0", "decode", "g-decode/0", leader),
        ("g-decode-0-1", "decode", "g-decode/0", worker),
        ("g-decode-0-2", "decode", "g-decode/0", worker),
        ("g-decode-1", "decode", "g-decode/1", leader),
        ("g-decode-1-1", "decode", "g-decode/1", worker),
        ("g-decode-1-2", "decode", "g-decode/1", worker),
        ("g-router-0", "router", None, {"pods": 1}),
        ("g-router-1", "router", None, {"pods": 1}),
    ]


def test_both_lws_lowerings_create_the_same_pods() -> None:
    assert sorted(pods(LwsLowering.STATEFULSETS)) == sorted(pods(LwsLowering.NATIVE))


def test_an_unreadable_request_never_reaches_fit() -> None:
    """The build refuses it first (RBG604, the API server does not decode it), so every bundle
    `group_pods` reads has quantities it can read."""
    bad = LWS.replace("{limits: {nvidia.com/gpu: 8}}", "{limits: {memory: 8 GB}}")
    with pytest.raises(DiagnosticError) as caught:
        compile_documents(parse_text(bad, "g.yaml"), Options())
    assert text(caught.value.diagnostics).startswith(
        'g.yaml:19:67: error[RBG604]: LeaderWorkerSet llm/g-decode: container "main": '
        "limits memory: '8 GB' is not a Kubernetes quantity"
    )


TERM = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
            "{nodeSelectorTerms: [{matchExpressions: [{key: a, operator: Near}]}]}}}",
            f"{TERM}nodeSelectorTerms[0].matchExpressions[0].operator: "
            "operator 'Near' is not one of DoesNotExist, Exists, Gt, In, Lt, NotIn",
        ),
        (
            "affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
            "{nodeSelectorTerms: [{matchExpressions: [{key: a, operator: Gt, values: [x]}]}]}}}",
            f"{TERM}nodeSelectorTerms[0].matchExpressions[0].values: "
            "operator Gt needs exactly one integer value",
        ),
        (
            "tolerations: [{key: a, operator: Maybe}]",
            "spec.tolerations[0].operator: operator 'Maybe' is not Equal or Exists",
        ),
        (
            "topologySpreadConstraints: [{maxSkew: 0, topologyKey: z, "
            "whenUnsatisfiable: DoNotSchedule}]",
            "spec.topologySpreadConstraints[0].maxSkew: maxSkew must be an integer of at least 1",
        ),
        (  # which field is not a string: the message names it, as kubectl's do
            "topologySpreadConstraints: [{maxSkew: 1, topologyKey: z, whenUnsatisfiable: 5}]",
            "spec.topologySpreadConstraints[0].whenUnsatisfiable: expected a string",
        ),
    ],
)
def test_unreadable_scheduling_fields(spec: str, message: str) -> None:
    doc = f"""\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata: {{name: g}}
spec:
  roles:
    - name: w
      replicas: 1
      template:
        spec:
          containers: [{{name: main, image: x}}]
          {spec}
"""
    result = compile_documents(parse_text(doc, "g.yaml"), Options())
    with pytest.raises(DiagnosticError) as caught:
        group_pods(result.bundle, FEATURES)
    (d,) = caught.value.diagnostics
    assert (d.code, d.message) == ("RBG351", f"StatefulSet g-w: {message}")
    assert d.span is not None and d.span.line == 11


def test_custom_components_pods_belong_to_their_role_instance() -> None:
    # upstream's customComponentsPattern: rbgc emits one StatefulSet per (instance, component),
    # labelled with the instance's index (rbg-v1alpha2-semantics.md); an instance is all of them
    path = (
        ROOT.parent
        / "shared/compat/rbg-v0.8.0-alpha.5/basic/rbg/patterns/custom-components-pattern.yaml"
    )
    result = compile_documents(parse_text(path.read_text(encoding="utf-8"), str(path)), Options())
    (found,) = group_pods(result.bundle, FEATURES)
    instances: dict[str | None, int] = {}
    for pod in found.pods:
        instances[pod.instance] = instances.get(pod.instance, 0) + 1
    assert instances == {"engine/0": 4, "engine/1": 4, "engine/2": 4}
