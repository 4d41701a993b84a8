"""Inputs found by fuzzing (issue 18, items 11 and 12). Each ended every compiling command in
an internal error (RBG901, exit 3) or ran without end; now each compiles or is refused with a
diagnostic at the user's line, at once, in every command."""

from __future__ import annotations

import signal
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from rbgc.parse import parse
from rbgc.source import parse_text
from tests.conftest import EXAMPLES
from tests.test_hostile import GROUP, Ran, rbgc

# every command that compiles its input; {in} is the file under test
COMMANDS = [
    ["build", "{in}"],
    ["build", "--strict", "{in}"],
    ["build", "--lws", "statefulsets", "{in}"],
    ["validate", "{in}"],
    ["graph", "{in}"],
    ["diff", "old.yaml", "{in}"],
    ["plan", "old.yaml", "{in}"],
    ["sync", "--simulate", "{in}"],
    ["fit", "--nodes", str(EXAMPLES / "inventory" / "nodes.json"), "{in}"],
]


@pytest.fixture(autouse=True)
def _no_hang() -> Iterator[None]:
    """A regression that runs without end fails the test instead of hanging the suite."""

    def stop(*_: object) -> None:
        pytest.fail("rbgc ran for more than 20 s")

    signal.signal(signal.SIGALRM, stop)
    signal.alarm(20)
    yield
    signal.alarm(0)


def every_command(tmp_path: Path, text: str) -> Iterator[tuple[list[str], Ran]]:
    (tmp_path / "in.yaml").write_text(textwrap.dedent(text))
    (tmp_path / "old.yaml").write_text(GROUP)
    for command in COMMANDS:
        args = [a.replace("{in}", "in.yaml") for a in command]
        yield args, rbgc(args, tmp_path)


def assert_no_crash(args: list[str], ran: Ran) -> None:
    what = f"rbgc {' '.join(args)}: {ran.stderr}"
    assert ran.returncode != 3 and "RBG901" not in ran.stderr, what
    assert "Traceback" not in ran.stderr, what


SERVICE = """\
---
apiVersion: v1
kind: Service
metadata: {{name: by-role}}
spec:
  selector:
    rolebasedgroup.workloads.x-k8s.io/role: a
    rolebasedgroup.workloads.x-k8s.io/name: {group}
"""


@pytest.mark.parametrize("group", ["[g]", "{name: g}"], ids=["list", "mapping"])
def test_a_service_selecting_a_role_by_a_group_that_is_not_a_string(
    tmp_path: Path, group: str
) -> None:
    """Was TypeError (unhashable) in passes/operator_objects.py `_group_of`. A label value is a
    string (ServiceSpec.selector is map[string]string): no group is named, so the Service is
    not taken for one of the group's; what checks the object (`validate`, `--strict`) refuses
    it at the value, as the API server would."""
    for args, ran in every_command(tmp_path, GROUP + SERVICE.format(group=group)):
        assert_no_crash(args, ran)
        if args[0] == "validate" or "--strict" in args:
            assert ran.returncode == 1, ran.stderr
            assert (
                "in.yaml:18:45: error[RBG601]: Service by-role: spec.selector."
                "rolebasedgroup.workloads.x-k8s.io/name: expected a string or null, got a "
                + ("list" if group.startswith("[") else "mapping")
            ) in ran.stderr


IGNORED_PATCH = """\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata:
  name: g
spec:
  roles:
    - name: a
      leaderWorkerSet:
        size: 2
        patchLeaderTemplate: {patch}
      template:
        spec:
          containers: [{{name: c, image: example.com/c:v1}}]
"""


@pytest.mark.parametrize(
    "patch",
    [
        '{spec: {containers: "oops"}}',
        "{spec: {containers: {name: c}}}",
        '{spec: {containers: ["c"]}}',
        '{spec: {containers: [{name: c, env: "x"}]}}',
        '{spec: "oops"}',
    ],
)
def test_a_malformed_patch_of_a_role_that_is_not_a_leader_worker_set(
    tmp_path: Path, patch: str
) -> None:
    """Was AttributeError in discovery's reserved-variable check, which read the patch of a
    StatefulSet role. The patch is not applied there (the role is no LeaderWorkerSet), which
    RBG122 says at the field; upstream's CRD takes the patch as raw JSON, so it is no error."""
    for args, ran in every_command(tmp_path, IGNORED_PATCH.format(patch=patch)):
        assert_no_crash(args, ran)
        if args[0] in ("build", "validate", "graph"):
            assert ran.returncode == 0, f"{args}: {ran.stderr}"
            assert "in.yaml:8:7: warning[RBG122]: " in ran.stderr, ran.stderr


SETS = {
    "v1alpha1": """\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroupSet
metadata:
  name: s
spec:
  replicas: {replicas}
  template:
    roles:
      - name: a
        replicas: {role_replicas}
        template:
          spec:
            containers: [{{name: c, image: example.com/c:v1}}]
""",
    "v1alpha2": """\
apiVersion: workloads.x-k8s.io/v1alpha2
kind: RoleBasedGroupSet
metadata:
  name: s
spec:
  replicas: {replicas}
  groupTemplate:
    spec:
      roles:
        - name: a
          replicas: {role_replicas}
          standalonePattern:
            template:
              spec:
                containers: [{{name: c, image: example.com/c:v1}}]
""",
}


@pytest.mark.parametrize("version", sorted(SETS))
@pytest.mark.parametrize(
    ("replicas", "role_replicas"),
    [(2147483647, 1), (2147483647, 0), (150_001, 1), (1_000, 200)],
)
def test_a_group_set_beyond_what_a_cluster_holds_is_refused_at_once(
    tmp_path: Path, version: str, replicas: int, role_replicas: int
) -> None:
    """Was: `spec.replicas: 2147483647` ran without end past 3 GB, printing nothing, while a
    role with as many replicas is refused at once (RBG520). A set is refused at its replicas
    when its groups would hold more pods than the largest cluster Kubernetes supports (150,000:
    kubernetes/community sig-scalability/configs-and-limits/thresholds.md, #Pods, cluster
    scope), counting a group without pods as one."""
    text = SETS[version].format(replicas=replicas, role_replicas=role_replicas)
    for args, ran in every_command(tmp_path, text):
        assert_no_crash(args, ran)
        assert ran.returncode in (1, 2), f"{args}: {ran.stderr}"
        assert "in.yaml:6:13: error[RBG117]: " in ran.stderr, ran.stderr


@pytest.mark.parametrize("version", sorted(SETS))
def test_a_group_set_at_the_bound_is_read(version: str) -> None:
    """150,000 pods exactly: every group is read (compiling them all would take minutes)."""
    text = SETS[version].format(replicas=1_500, role_replicas=100)
    program = parse(parse_text(text, "in.yaml"), "default")
    assert len(program.groups) == 1_500
    assert {g.set_name for g in program.groups} == {"s"}
