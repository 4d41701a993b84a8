"""What every `kubectl apply` refuses, rbgc refuses, at the user's line (issue 18, item 4).

- A container without `image`: the OpenAPI schema lets it through, the API server's validation
  does not (kubernetes/kubernetes pkg/apis/core/validation/validation.go,
  `validateContainerCommon`: `if len(ctr.Image) == 0 { field.Required(path.Child("image"),
  "") }`, for containers and init containers of pods and pod templates). `build` refuses it
  (RBG603), in generated and pass-through objects.
- Pod templates inside the custom resources rbgc emits (a LeaderWorkerSet's leader and worker
  templates, `leaderworkerset.x-k8s.io/v1` `LeaderWorkerTemplate.{leaderTemplate,
  workerTemplate}` are `corev1.PodTemplateSpec`) are checked against the Kubernetes schema as a
  StatefulSet's template is (`validate`, `build --strict`), under the default `--lws native`.
- Values of a pod the schema leaves free and the API server's validation refuses (RBG604), in
  every build, at the user's line; each test names the function of kubernetes/kubernetes that
  refuses it (pkg/apis/{core,apps,batch}/validation/validation.go).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import COMPAT, COMPAT_V08, COMPAT_V08_REFUSED, EXAMPLES
from tests.test_hostile import Ran, rbgc

CHECKED = [["build"], ["build", "--strict"], ["build", "--lws", "statefulsets"], ["validate"]]
STANDALONE = """\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata:
  name: g
spec:
  roles:
    - name: a
      template:
        spec:
          initContainers:
            - name: init
              image: example.com/init:v1
          containers:
            - name: c
              {image}
"""
LWS_V1 = """\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata:
  name: g
spec:
  roles:
    - name: a
      workload: {{apiVersion: leaderworkerset.x-k8s.io/v1, kind: LeaderWorkerSet}}
      leaderWorkerSet:
        size: 2
      template:
        spec:
          containers:
            - name: c
              {image}
              ports:
                - containerPort: {port}
"""
LWS_V2 = """\
apiVersion: workloads.x-k8s.io/v1alpha2
kind: RoleBasedGroup
metadata:
  name: g
spec:
  roles:
    - name: a
      leaderWorkerPattern:
        size: 2
        template:
          spec:
            containers:
              - name: c
                {image}
                ports:
                  - containerPort: {port}
"""
PASS_THROUGH = """\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: report
              {image}
"""


def each(tmp_path: Path, text: str) -> Iterator[tuple[list[str], Ran]]:
    (tmp_path / "in.yaml").write_text(text)
    for command in CHECKED:
        yield command, rbgc([*command, "in.yaml"], tmp_path)


@pytest.mark.parametrize("image", ["", 'image: ""', "image: null"], ids=["absent", "empty", "null"])
@pytest.mark.parametrize(
    ("text", "line", "kind"),
    [
        (STANDALONE, "14:15", "StatefulSet default/g-a"),
        (LWS_V1, "14:15", "LeaderWorkerSet default/g-a"),
        (LWS_V2, "13:17", "LeaderWorkerSet default/g-a"),
        (PASS_THROUGH.replace("report", "c"), "13:15", "CronJob nightly"),
    ],
    ids=["standalone", "lws-v1alpha1", "lws-v1alpha2", "cronjob"],
)
def test_a_container_without_an_image_is_refused_at_its_line(
    tmp_path: Path, image: str, text: str, line: str, kind: str
) -> None:
    source = text.format(image=image or "# no image", port=8000)
    for command, ran in each(tmp_path, source):
        assert (ran.returncode, ran.stdout) == (1, ""), f"{command}: {ran.stderr}"
        shown = kind
        if "statefulsets" in command and kind.startswith("LeaderWorkerSet"):
            shown = "StatefulSet default/g-a"  # the leader StatefulSet is reported first
        assert (
            f'in.yaml:{line}: error[RBG603]: {shown}: container "c" has no image, which the API '
            "server requires of every container"
        ) in ran.stderr, f"{command}: {ran.stderr}"


def test_an_init_container_without_an_image_is_refused(tmp_path: Path) -> None:
    source = STANDALONE.format(image="image: example.com/c:v1").replace(
        "image: example.com/init:v1", "command: [sh]"
    )
    for command, ran in each(tmp_path, source):
        assert ran.returncode == 1, f"{command}: {ran.stderr}"
        assert 'in.yaml:11:15: error[RBG603]: StatefulSet default/g-a: container "init"' in (
            ran.stderr
        )


@pytest.mark.parametrize(("text", "line"), [(LWS_V1, "17:34"), (LWS_V2, "16:36")])
def test_a_leader_worker_set_template_is_checked_against_the_kubernetes_schema(
    tmp_path: Path, text: str, line: str
) -> None:
    """`containerPort: "8000"` in a leader/worker role was "valid" under --lws native while the
    same in a standalone role was RBG601."""
    source = text.format(image="image: example.com/c:v1", port='"8000"')
    (tmp_path / "in.yaml").write_text(source)
    for command in (["validate"], ["build", "--strict"]):
        ran = rbgc([*command, "in.yaml"], tmp_path)
        assert ran.returncode == 1, f"{command}: {ran.stderr}"
        for template in ("leaderTemplate", "workerTemplate"):
            assert (
                f"in.yaml:{line}: error[RBG601]: LeaderWorkerSet default/g-a: "
                f"spec.leaderWorkerTemplate.{template}.spec.containers[0].ports[0]."
                'containerPort: expected an integer, got "8000"'
            ) in ran.stderr, ran.stderr
    plain = rbgc(["build", "in.yaml"], tmp_path)
    assert plain.returncode == 0, "the schema check is validate's and --strict's"


def test_a_leader_worker_set_passed_through_is_checked_too(tmp_path: Path) -> None:
    source = """\
apiVersion: leaderworkerset.x-k8s.io/v1
kind: LeaderWorkerSet
metadata: {name: own}
spec:
  replicas: 1
  leaderWorkerTemplate:
    size: 2
    workerTemplate:
      spec:
        containers:
          - name: c
            image: example.com/c:v1
            terminationMessagePath: [/dev/log]
"""
    (tmp_path / "in.yaml").write_text(source)
    ran = rbgc(["validate", "in.yaml"], tmp_path)
    assert ran.returncode == 1, ran.stderr
    assert (
        "in.yaml:13:37: error[RBG601]: LeaderWorkerSet own: spec.leaderWorkerTemplate."
        "workerTemplate.spec.containers[0].terminationMessagePath: expected a string or null"
    ) in ran.stderr, ran.stderr


def _corpus() -> list[Path]:
    refused = {COMPAT_V08 / name for name in COMPAT_V08_REFUSED}
    found = [*EXAMPLES.glob("*.yaml"), *COMPAT.rglob("*.yaml"), *COMPAT_V08.rglob("*.yaml")]
    return sorted(p for p in found if p not in refused)


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.name)
def test_every_example_and_upstream_manifest_has_its_images(path: Path) -> None:
    ran = rbgc(["validate", "--lws", "native", str(path)], Path.cwd())
    assert ran.returncode == 0, ran.stderr


ROLE_V1 = """\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata:
  name: g
spec:
  roles:
    - name: a
      {workload}
      template:
        spec:
          {pod}
          containers:
            - name: c
              image: example.com/c:v1
              {container}
"""
LWS_WORKLOAD = "workload: {apiVersion: leaderworkerset.x-k8s.io/v1, kind: LeaderWorkerSet}"
DEPLOYMENT_WORKLOAD = "workload: {apiVersion: apps/v1, kind: Deployment}"


def _refused(
    tmp_path: Path, *, pod: str = "", container: str = "", workload: str = ""
) -> dict[str, str]:
    """Each command's RBG604 lines (after checking it refused and printed nothing)."""
    source = ROLE_V1.format(pod=pod or "{}", container=container or "{}", workload=workload)
    source = source.replace("          {}\n", "").replace("              {}\n", "")
    said = {}
    for command, ran in each(tmp_path, source):
        assert (ran.returncode, ran.stdout) == (1, ""), f"{command}: {ran.stderr}"
        said[" ".join(command)] = "\n".join(
            line for line in ran.stderr.splitlines() if "error[RBG604]" in line
        )
    return said


@pytest.mark.parametrize(
    ("workload", "kind"),
    [("", "StatefulSet"), (DEPLOYMENT_WORKLOAD, "Deployment"), (LWS_WORKLOAD, "LeaderWorkerSet")],
)
@pytest.mark.parametrize("policy", ["Never", "OnFailure", "always"])
def test_a_restart_policy_the_workload_does_not_run_is_refused(
    tmp_path: Path, workload: str, kind: str, policy: str
) -> None:
    """apps/validation `ValidateStatefulSetSpec` and `ValidatePodTemplateSpecForReplicaSet`
    (Deployments): `if spec.Template.Spec.RestartPolicy != api.RestartPolicyAlways {
    field.NotSupported(...) }`; a LeaderWorkerSet's templates are its StatefulSets'."""
    said = _refused(tmp_path, pod=f"restartPolicy: {policy}", workload=workload)
    for command, lines in said.items():
        shown = kind
        if "statefulsets" in command and kind == "LeaderWorkerSet":
            shown = "StatefulSet"  # the leader and worker StatefulSets hold the templates
        assert (
            f"in.yaml:11:26: error[RBG604]: {shown} default/g-a: the API server accepts only "
            f'restartPolicy Always for a {shown}\'s pods, not "{policy}"'
        ) in lines, f"{command}: {lines}"


def test_a_job_must_say_it_restarts_on_failure_or_never(tmp_path: Path) -> None:
    """batch/validation `validateJobSpec`: `if spec.Template.Spec.RestartPolicy ==
    api.RestartPolicyAlways || spec.Template.Spec.RestartPolicy == "" { field.Required(...,
    "valid values: OnFailure, Never") }` (defaulting made an unset one Always)."""
    job = PASS_THROUGH.format(image="image: example.com/r:v1")
    (tmp_path / "in.yaml").write_text(job.replace("restartPolicy: Never", "restartPolicy: Always"))
    ran = rbgc(["build", "in.yaml"], tmp_path)
    assert ran.returncode == 1
    assert (
        "in.yaml:11:26: error[RBG604]: CronJob nightly: the API server accepts only "
        'restartPolicy OnFailure or Never for a CronJob\'s pods, not "Always"'
    ) in ran.stderr, ran.stderr
    (tmp_path / "in.yaml").write_text(job.replace("          restartPolicy: Never\n", ""))
    ran = rbgc(["build", "in.yaml"], tmp_path)
    assert ran.returncode == 1
    assert (
        "in.yaml:11:11: error[RBG604]: CronJob nightly: the API server accepts only restartPolicy "
        "OnFailure or Never for a CronJob's pods, not an unset one (defaulting makes it Always)"
    ) in ran.stderr, ran.stderr
    (tmp_path / "in.yaml").write_text(job)
    assert rbgc(["build", "in.yaml"], tmp_path).returncode == 0


@pytest.mark.parametrize(
    ("container", "where", "message"),
    [
        # core/validation `validatePullPolicy`: Always, IfNotPresent, Never (supportedPullPolicies)
        (
            "imagePullPolicy: always",
            "14:32",
            'imagePullPolicy "always" is not one the API server accepts',
        ),
        # `validateContainerPorts`: `!supportedPortProtocols.Has(port.Protocol)` -> NotSupported
        (
            "ports: [{containerPort: 80, protocol: tcp}]",
            "14:53",
            'port protocol "tcp" is not one the API server accepts',
        ),
        # `validateContainerPorts`: `validation.IsValidPortNum(int(port.ContainerPort))`
        ("ports: [{containerPort: 0}]", "14:39", "containerPort 0 is not a port number (1-65535)"),
        (
            "ports: [{containerPort: 80, hostPort: 65536}]",
            "14:53",
            "hostPort 65536 is not a port number (1-65535)",
        ),
        # apimachinery resource.Quantity: the request does not decode ("quantities must match
        # the regular expression")
        (
            "resources: {limits: {cpu: two}}",
            "14:41",
            "limits cpu: 'two' is not a Kubernetes quantity",
        ),
        # core/validation `ValidateResourceQuantityValue`: `ValidateNonnegativeQuantity`
        ("resources: {requests: {memory: -1Gi}}", "14:46", 'requests memory: "-1Gi" is negative'),
        # `ValidateResourceRequirements`: "must be less than or equal to %s limit of %s"
        (
            "resources: {limits: {cpu: 1}, requests: {cpu: 1500m}}",
            "14:61",
            'requests cpu: "1500m" is more than its limit 1, which the API server refuses',
        ),
    ],
    ids=["pull-policy", "protocol", "container-port", "host-port", "quantity", "negative", "limit"],
)
def test_a_container_value_the_api_server_refuses_is_refused_at_its_line(
    tmp_path: Path, container: str, where: str, message: str
) -> None:
    for command, lines in _refused(tmp_path, container=container).items():
        assert (
            f'in.yaml:{where}: error[RBG604]: StatefulSet default/g-a: container "c": {message}'
        ) in lines, f"{command}: {lines}"


def test_the_values_the_api_server_accepts_pass(tmp_path: Path) -> None:
    """The other side of each rule: the enums' values, a hostPort of 0 (none), a request
    equal to its limit, a number as a quantity, an empty policy (defaulted)."""
    container = (
        "imagePullPolicy: IfNotPresent\n"
        "              ports: [{containerPort: 1, protocol: SCTP, hostPort: 0},"
        " {containerPort: 65535, protocol: UDP}]\n"
        '              resources: {limits: {cpu: 2, memory: 1Gi}, requests: {cpu: "2",'
        " memory: 1024Mi, nvidia.com/gpu: 8}}"
    )
    source = ROLE_V1.format(pod="restartPolicy: Always", container=container, workload="")
    for command, ran in each(tmp_path, source):
        assert ran.returncode == 0, f"{command}: {ran.stderr}"
