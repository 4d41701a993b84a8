"""RoleBasedGroupWarmup compiled to one Job per node, pinned, as upstream's controller builds
its warm-up pod.

Upstream (sgl-project/rbg at HEAD, v0.8.0-alpha.5):
- types: api/workloads/v1alpha2/rolebasedgroupwarmup_types.go (CEL rules at :64, :75-76, :110,
  :156-157; MinItems/MinProperties at :83, :89, :105);
- controller: internal/controller/workloads/rolebasedgroupwarmup_controller.go (`buildWarmupPod`
  :535-632, nodes sorted :279, parallelism budget :291-303, a node fails once its failed pods
  exceed backoffLimitPerNode :245).
The node pin is the DaemonSet controller's (kubernetes pkg/controller/daemon/util/
daemonset_util.go `ReplaceDaemonSetPodNodeNameNodeAffinity`: matchFields metadata.name In).
Job fields (kubernetes batch/v1 JobSpec): a Job fails once its failed pods exceed
`backoffLimit`, `activeDeadlineSeconds` bounds it from its start, `ttlSecondsAfterFinished`
deletes it and its pods after it finishes, `suspend: true` keeps it from creating pods.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from rbgc.diagnostics import DiagnosticError
from rbgc.pipeline import Options, Result, compile_documents
from rbgc.source import parse_text
from rbgc.warmup import jobs
from rbgc.warmup.spec import Actions, Warmup
from tests.conftest import EXAMPLES
from tests.test_cli import _imported_by_build

KEP_EXAMPLE = """\
apiVersion: workloads.x-k8s.io/v1alpha2
kind: RoleBasedGroupWarmup
metadata:
  name: warmup-demo
  namespace: default
spec:
  policies:
    parallelism: 2
    backoffLimitPerNode: 3
    maxFailedNodes: 2
    globalTimeoutSeconds: 3600
    ttlSecondsAfterFinished: 86400
  tolerations:
  - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
  targetNodes:
    nodeNames: [gpu-c, gpu-a, gpu-b]
    imagePreload:
      images:
      - registry.example.com/sglang:v0.6.0
      - registry.example.com/model-loader:v2.0
      - registry.example.com/sglang:v0.6.0
      pullSecrets: [{name: registry-secret}, {name: registry-secret}]
    customizedAction:
      containers:
      - name: cuda-warmup
        image: registry.example.com/cuda-compiler:12.0
        command: ["sh", "-c", "compile-kernels.sh && exit 0"]
        volumeMounts: [{name: kernel-cache, mountPath: /cache}]
      volumes:
      - name: kernel-cache
        hostPath: {path: /var/cache/cuda-kernels}
"""


def build(text: str, **options: Any) -> Result:
    return compile_documents(parse_text(textwrap.dedent(text), "w.yaml"), Options(**options))


def job_bodies(result: Result) -> list[dict[str, Any]]:
    return [m.body for m in result.bundle.manifests if m.kind == "Job"]


def codes(exc: pytest.ExceptionInfo[DiagnosticError]) -> list[str]:
    return [d.code for d in exc.value.diagnostics]


def test_one_job_per_node_with_upstreams_warmup_pod() -> None:
    result = build(KEP_EXAMPLE)
    found = job_bodies(result)
    # one per node, in node-name order (upstream sorts the pending nodes, controller.go:279)
    assert [j["metadata"]["name"] for j in found] == [
        "warmup-demo-gpu-a",
        "warmup-demo-gpu-b",
        "warmup-demo-gpu-c",
    ]
    pod = found[0]["spec"]["template"]["spec"]
    # buildWarmupPod (controller.go:540-607): one container per distinct image, `sh -c exit 0`,
    # IfNotPresent; customized containers renamed custom-<index>; volumes; secrets deduplicated
    assert pod["containers"] == [
        {
            "name": "image-preload-0",
            "image": "registry.example.com/sglang:v0.6.0",
            "command": ["sh", "-c", "exit 0"],
            "imagePullPolicy": "IfNotPresent",
        },
        {
            "name": "image-preload-1",
            "image": "registry.example.com/model-loader:v2.0",
            "command": ["sh", "-c", "exit 0"],
            "imagePullPolicy": "IfNotPresent",
        },
        {
            "name": "custom-2",
            "image": "registry.example.com/cuda-compiler:12.0",
            "command": ["sh", "-c", "compile-kernels.sh && exit 0"],
            "volumeMounts": [{"name": "kernel-cache", "mountPath": "/cache"}],
        },
    ]
    assert pod["volumes"] == [
        {"name": "kernel-cache", "hostPath": {"path": "/var/cache/cuda-kernels"}}
    ]
    assert pod["imagePullSecrets"] == [{"name": "registry-secret"}]
    assert pod["restartPolicy"] == "Never"  # controller.go:623
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]


def test_each_pod_is_pinned_to_its_node_by_name() -> None:
    for body in job_bodies(build(KEP_EXAMPLE)):
        node = body["metadata"]["annotations"]["rbgc.io/warmup-node"]
        terms = body["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"
        ]["nodeSelectorTerms"]
        # the DaemonSet controller's pin: exactly the node whose metadata.name is `node`
        assert terms == [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
        ]
        labels = body["spec"]["template"]["metadata"]["labels"]
        # upstream's pod labels (controller.go:46-48), minus the UID of a CR rbgc never creates
        assert labels == {
            "workloads.x-k8s.io/warmup-name": "warmup-demo",
            "workloads.x-k8s.io/node-name": node,
        }


def test_policies_become_job_fields_and_batches_become_waves() -> None:
    found = job_bodies(build(KEP_EXAMPLE))
    for body in found:
        spec = body["spec"]
        assert spec["backoffLimit"] == 3  # failed pods beyond 3 fail the node, as upstream :245
        assert spec["activeDeadlineSeconds"] == 3600
        assert spec["ttlSecondsAfterFinished"] == 86400
        assert "suspend" not in spec
    # parallelism 2: nodes a and b first, then c (upstream's budget, controller.go:291-303)
    waves = [b["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] for b in found]
    assert waves == ["0", "0", "1"]


def test_unset_policies_mean_all_at_once_retried_for_ever_and_paused_suspends() -> None:
    text = """\
    apiVersion: workloads.x-k8s.io/v1alpha2
    kind: RoleBasedGroupWarmup
    metadata:
      name: w
      annotations: {argocd.argoproj.io/sync-wave: "-3"}
    spec:
      paused: true
      targetNodes:
        nodeNames: [n1, n2, n3]
        imagePreload: {images: [img:1]}
    """
    found = job_bodies(build(text))
    assert {b["spec"]["backoffLimit"] for b in found} == {2147483647}
    assert {b["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] for b in found} == {"-3"}
    assert all(b["spec"]["suspend"] is True for b in found)
    assert not any("activeDeadlineSeconds" in b["spec"] for b in found)
    assert not any("ttlSecondsAfterFinished" in b["spec"] for b in found)


def test_node_order_in_the_input_does_not_change_the_output() -> None:
    swapped = KEP_EXAMPLE.replace("[gpu-c, gpu-a, gpu-b]", "[gpu-b, gpu-c, gpu-a, gpu-b]")
    assert job_bodies(build(swapped)) == job_bodies(build(KEP_EXAMPLE))


def test_a_node_selector_is_resolved_against_the_inventory() -> None:
    text = KEP_EXAMPLE.replace("nodeNames: [gpu-c, gpu-a, gpu-b]", "nodeSelector: {gpu-type: a100}")
    nodes = {
        "n2": {"gpu-type": "a100", "zone": "a"},
        "n1": {"gpu-type": "a100"},
        "n3": {"gpu-type": "h100"},
    }
    result = build(text, nodes=nodes)
    assert [j["metadata"]["name"] for j in job_bodies(result)] == [
        "warmup-demo-n1",
        "warmup-demo-n2",
    ]
    (warmup,) = result.bundle.warmups
    assert warmup.nodes == ("n1", "n2")


def test_a_selector_matching_no_node_warns_and_emits_nothing() -> None:
    text = KEP_EXAMPLE.replace("nodeNames: [gpu-c, gpu-a, gpu-b]", "nodeSelector: {gpu: x}")
    result = build(text, nodes={"n1": {"gpu": "y"}})
    assert job_bodies(result) == []
    assert [d.code for d in result.warnings] == ["RBG532"]


def test_a_named_node_missing_from_the_inventory_warns() -> None:
    result = build(KEP_EXAMPLE, nodes={"gpu-a": {}, "gpu-b": {}})
    assert [d.code for d in result.warnings] == ["RBG533"]
    assert "gpu-c" in result.warnings[0].message
    assert len(job_bodies(result)) == 3  # still pinned there: the node may join later


@pytest.mark.parametrize(
    "target",
    [
        "targetNodes:\n    nodeSelector: {gpu: a100}\n    imagePreload: {images: [i]}",
        "targetRoleBasedGroup:\n    name: pd\n    roles: {decode: {imagePreload: {images: [i]}}}",
    ],
)
def test_what_only_the_cluster_knows_is_an_error_for_build_and_left_to_sync(target: str) -> None:
    text = f"""\
apiVersion: workloads.x-k8s.io/v1alpha2
kind: RoleBasedGroupWarmup
metadata: {{name: w, namespace: llm}}
spec:
  {target}
"""
    with pytest.raises(DiagnosticError) as exc:
        build(text)
    assert codes(exc) == ["RBG531"]
    result = build(text, warmup_later=True)
    (warmup,) = result.bundle.warmups
    assert warmup.nodes is None
    assert job_bodies(result) == []


@pytest.mark.parametrize(
    ("spec", "message", "line"),
    [
        # :156 / :157: exactly one target
        ("{}", "either targetNodes or targetRoleBasedGroup must be specified", 4),
        (
            "{targetNodes: {nodeNames: [a], imagePreload: {images: [i]}}, "
            "targetRoleBasedGroup: {name: g, roles: {r: {imagePreload: {images: [i]}}}}}",
            "targetNodes and targetRoleBasedGroup are mutually exclusive",
            4,
        ),
        # :75 / :76: nodeNames or nodeSelector
        (
            "{targetNodes: {imagePreload: {images: [i]}}}",
            "either nodeNames or nodeSelector must be specified",
            4,
        ),
        (
            "{targetNodes: {nodeNames: [a], nodeSelector: {x: y}, imagePreload: {images: [i]}}}",
            "nodeNames and nodeSelector are mutually exclusive",
            4,
        ),
        # :89 MinProperties=1
        (
            "{targetNodes: {nodeSelector: {}, imagePreload: {images: [i]}}}",
            "nodeSelector needs at least one label",
            4,
        ),
        # :64: an action
        ("{targetNodes: {nodeNames: [a]}}", "at least one of imagePreload or customizedAction", 4),
        (
            "{targetRoleBasedGroup: {name: g, roles: {decode: {}}}}",
            "at least one of imagePreload or customizedAction",
            4,
        ),
        # :110: maxFailedNodes needs backoffLimitPerNode
        (
            "{policies: {maxFailedNodes: 1}, "
            "targetNodes: {nodeNames: [a], imagePreload: {images: [i]}}}",
            "backoffLimitPerNode must be set when maxFailedNodes is specified",
            4,
        ),
    ],
)
def test_upstreams_admission_rules_are_rbg530(spec: str, message: str, line: int) -> None:
    text = "apiVersion: workloads.x-k8s.io/v1alpha2\nkind: RoleBasedGroupWarmup\n"
    text += f"metadata: {{name: w}}\nspec: {spec}\n"
    with pytest.raises(DiagnosticError) as exc:
        build(text)
    assert codes(exc) == ["RBG530"]
    found = exc.value.diagnostics[0]
    assert message in found.message
    assert found.span is not None and found.span.line == line


def test_schema_problems_point_at_the_field() -> None:
    text = KEP_EXAMPLE.replace("    parallelism: 2", "    parallelism: 0\n    retries: 2")
    with pytest.raises(DiagnosticError) as exc:
        build(text)
    assert sorted(codes(exc)) == ["RBG101", "RBG102"]  # minimum 1 (types.go :115); no `retries`


def test_a_customized_container_the_api_server_refuses_is_rbg604() -> None:
    """The warm-up's pod is a Job's: the pod values core validation refuses (an
    imagePullPolicy outside its enum, kubernetes pkg/apis/core/validation `validatePullPolicy`)
    are refused as in every other pod template the build emits (k8s/pods.py)."""
    image = "        image: registry.example.com/cuda-compiler:12.0\n"
    text = KEP_EXAMPLE.replace(image, image + "        imagePullPolicy: Sometimes\n")
    with pytest.raises(DiagnosticError) as exc:
        build(text)
    assert set(codes(exc)) == {"RBG604"}
    assert all('imagePullPolicy "Sometimes"' in d.message for d in exc.value.diagnostics)


def test_roles_sharing_a_node_merge_into_one_pod_as_upstream() -> None:
    """targetRoleBasedGroup, nodes found by sync: the actions of every role a node runs go
    into one pod (KEP-129 "Multi-Role Merge"): images once, containers by spec, volumes
    first-wins with the conflict reported. Roles merge in name order (upstream iterates a Go
    map, so its first-wins volume is a matter of chance)."""
    custom = {"name": "dl", "image": "loader:1", "command": ["dl"]}
    warmup = Warmup(
        name="w",
        namespace="llm",
        group="pd",
        roles={
            "prefill": Actions(
                images=("sglang:2",),
                containers=(custom,),
                volumes=({"name": "m", "hostPath": {"path": "/a"}},),
            ),
            "decode": Actions(
                images=("sglang:2", "router:2"),
                pull_secrets=("s",),
                containers=({**custom, "name": "other-name"},),
                volumes=({"name": "m", "hostPath": {"path": "/b"}},),
            ),
        },
    )
    (one,) = jobs.jobs(warmup, {"node-1": ("prefill", "decode", "router")})
    pod = one.body["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == [
        "image-preload-0",
        "image-preload-1",
        "custom-2",
    ]
    assert [c["image"] for c in pod["containers"]] == ["sglang:2", "router:2", "loader:1"]
    assert pod["volumes"] == [{"name": "m", "hostPath": {"path": "/b"}}]  # decode's: first
    assert one.volume_conflicts == ("m",)
    assert jobs.jobs(warmup, {"node-2": ("router",)}) == ()  # no action for its roles


def test_long_node_names_give_distinct_valid_job_names() -> None:
    long_a = "ip-10-0-0-1." + "x" * 60 + ".compute.internal"
    long_b = "ip-10-0-0-2." + "x" * 60 + ".compute.internal"
    a, b = jobs.job_name("warmup", long_a), jobs.job_name("warmup", long_b)
    assert a != b and len(a) <= 63 and len(b) <= 63
    warmup = Warmup(
        name="warmup", namespace="d", node_names=(long_a,), actions=Actions(images=("i",))
    )
    (one,) = jobs.jobs(warmup, {long_a: ()})
    # a node name over 63 characters is no label value: only the annotation names it
    assert "workloads.x-k8s.io/node-name" not in one.body["metadata"]["labels"]
    assert one.body["metadata"]["annotations"]["rbgc.io/warmup-node"] == long_a


WARMUP_ONLY = ("rbgc.warmup.build", "rbgc.warmup.jobs")


def test_a_build_without_warm_ups_does_not_import_their_lowering(tmp_path: Path) -> None:
    """`rbgc build` runs on every Argo CD refresh: the Job lowering is imported only when the
    inputs hold a RoleBasedGroupWarmup (as the placement lowerings, tests/test_cli.py)."""
    assert _imported_by_build(str(EXAMPLES / "pd-inplace.yaml"), WARMUP_ONLY) == []
    warmup = tmp_path / "warmup.yaml"
    warmup.write_text(KEP_EXAMPLE, encoding="utf-8")
    assert _imported_by_build(str(warmup), WARMUP_ONLY) == list(WARMUP_ONLY)
