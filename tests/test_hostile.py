"""Hostile and malformed input (issue 8, items 20-25): every case ends with a located
diagnostic, a non-zero exit, nothing on stdout and no traceback, through every command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from rbgc.cli import main
from rbgc.diagnostics import DiagnosticError
from rbgc.source import MAX_DEPTH, parse_text
from tests.conftest import COMPAT, ROOT

CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: first\ndata:\n  a: b\n"
GROUP = """\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata:
  name: g
spec:
  roles:
    - name: a
      template:
        spec:
          containers: [{name: c, image: i}]
"""


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


def rbgc(args: list[str], cwd: Path, stdin: str | None = None) -> Ran:
    """The CLI in this process (fast), from `cwd`."""
    before = os.getcwd()
    os.chdir(cwd)
    try:
        env: dict[str, str | None] = {"RBGC_DEBUG": None, "KUBE_VERSION": None}
        out = CliRunner().invoke(main, args, input=stdin, env=env)
    finally:
        os.chdir(before)
    return Ran(out.exit_code, out.stdout, out.stderr)


def rbgc_process(args: list[str], cwd: Path) -> Ran:
    """The CLI as a process with a timeout: for inputs that could make it block."""
    env = {k: v for k, v in os.environ.items() if k not in ("RBGC_DEBUG", "KUBE_VERSION")}
    done = subprocess.run(
        [sys.executable, "-m", "rbgc", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


def refused(proc: Ran, code: str, where: str) -> None:
    """Exit non-zero with a diagnostic `code` at `where` (a prefix of its location), nothing on
    stdout, no internal error."""
    assert proc.returncode in (1, 2), proc.stderr
    assert proc.stdout == ""
    assert any(
        line.startswith(where) and f": error[{code}]: " in line for line in proc.stderr.splitlines()
    ), proc.stderr
    assert "RBG901" not in proc.stderr and "Traceback" not in proc.stderr


def problems(text: str) -> list[tuple[str, int, str]]:
    with pytest.raises(DiagnosticError) as caught:
        parse_text(text, "x.yaml")
    return [(d.code, d.span.line if d.span else 0, d.message) for d in caught.value.diagnostics]


# -- 20: deep nesting ---------------------------------------------------------------------------


def nested(depth: int) -> str:
    return "apiVersion: x.io/v1\nkind: Widget\nmetadata: {name: w}\nspec:\n  a: " + (
        "[" * depth + "]" * depth + "\n"
    )


def test_nesting_up_to_the_limit_loads() -> None:
    (doc,) = parse_text(nested(MAX_DEPTH - 2), "x.yaml")  # spec.a adds two levels
    assert doc.body["spec"]["a"]


@pytest.mark.parametrize("depth", [MAX_DEPTH, 500, 990])
def test_deeper_nesting_is_located(depth: int) -> None:
    ((code, line, message),) = problems(nested(depth))
    assert (code, line) == ("RBG013", 5)
    assert message == f"document 1 nests values more than {MAX_DEPTH} levels deep"


@pytest.mark.parametrize("args", [["build"], ["build", "-o", "json"], ["validate"]])
def test_deep_document_after_a_valid_one_prints_nothing(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "m.yaml").write_text(CONFIG_MAP + "---\n" + nested(600))
    refused(rbgc([*args, "m.yaml"], tmp_path), "RBG013", "m.yaml:12:")


@pytest.mark.parametrize(
    "text",
    [
        "[" + "0," * 260_000 + "0]\n",  # a flat list, no object at all
        CONFIG_MAP + "extra: [" + "0," * 260_000 + "0]\n",  # inside an object
    ],
    ids=["flat-list", "in-an-object"],
)
def test_build_and_validate_refuse_a_document_of_too_many_values_alike(
    tmp_path: Path, text: str
) -> None:
    """18.13: validate skipped a flat list as holding no object while build refused it, each
    after composing every value; both refuse it now, with one diagnostic."""
    (tmp_path / "m.yaml").write_text(text)
    found = []
    for args in (["build"], ["validate"]):
        proc = rbgc([*args, "m.yaml"], tmp_path)
        refused(proc, "RBG005", "m.yaml:")
        found.append([line for line in proc.stderr.splitlines() if "RBG005" in line])
    assert found[0] == found[1]
    assert found[0][0].endswith("has more than 250,000 values")


# -- 21: huge integers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number", ["1" * 4301, "0x" + "f" * 4000, str(2**64), str(-(2**63) - 1), "1_" * 30 + "1"]
)
def test_integers_beyond_64_bits_are_refused(number: str) -> None:
    ((code, line, message),) = problems(CONFIG_MAP + f"extra: {number}\n")
    assert (code, line) == ("RBG012", 7)
    assert message.endswith(f"({len(number):,} characters) does not fit in 64 bits")
    assert len(message) < 100, "the number itself is shortened"


def test_64_bit_integers_load() -> None:
    (doc,) = parse_text(CONFIG_MAP + f"a: {2**64 - 1}\nb: {-(2**63)}\n", "x.yaml")
    assert (doc.body["a"], doc.body["b"]) == (2**64 - 1, -(2**63))


def test_huge_integer_through_the_cli(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(CONFIG_MAP + "---\n" + CONFIG_MAP + "n: " + "9" * 4301)
    refused(rbgc(["build", "m.yaml"], tmp_path), "RBG012", "m.yaml:14:4")


# -- 22: special files --------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["build", "validate"])
def test_a_fifo_in_a_folder_is_refused_without_blocking(tmp_path: Path, command: str) -> None:
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "a.yaml").write_text(CONFIG_MAP)
    os.mkfifo(tmp_path / "apps" / "pipe.yaml")
    proc = rbgc_process([command, "apps"], tmp_path)
    refused(proc, "RBG008", "apps/pipe.yaml")
    assert "a named pipe (FIFO), not a regular file" in proc.stderr


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (os.mkfifo, "a named pipe (FIFO), not a regular file"),
        (lambda p: p.symlink_to("/dev/zero"), "a character device, not a regular file"),
        (lambda p: p.symlink_to(p), "a loop of symbolic links"),
        (lambda p: p.symlink_to("gone.yaml"), "a symbolic link to gone.yaml, which does not exist"),
    ],
)
def test_special_files_given_directly_name_the_real_problem(
    tmp_path: Path, make: Callable[[Path], None], message: str
) -> None:
    path = tmp_path / "in.yaml"
    make(path)
    proc = rbgc_process(["build", "in.yaml"], tmp_path)
    refused(proc, "RBG008", "in.yaml")
    assert f"in.yaml: error[RBG008]: {message}\n" in proc.stderr


def test_dev_zero_is_refused(tmp_path: Path) -> None:
    proc = rbgc_process(["validate", "/dev/zero"], tmp_path)
    refused(proc, "RBG008", "/dev/zero")


# -- 23, 24: overlay bases ----------------------------------------------------------------------

OVERLAY = "apiVersion: rbgc.io/v1alpha1\nkind: Overlay\nbase: {base}\n"


def test_nul_byte_in_an_overlay_base(tmp_path: Path) -> None:
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "overlay.yaml").write_text(OVERLAY.format(base='"../ba\\0se"'))
    proc = rbgc(["build", "env", "--root", "."], tmp_path)
    refused(proc, "RBG704", "env/overlay.yaml:3:7")
    assert "contains a NUL character" in proc.stderr


def test_file_symlink_out_of_the_root_inside_a_base_folder(tmp_path: Path) -> None:
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    for folder in (repo / "base", repo / "env", outside):
        folder.mkdir(parents=True)
    (outside / "secret.yaml").write_text(CONFIG_MAP.replace("first", "secret"))
    (repo / "base" / "group.yaml").write_text(GROUP)
    (repo / "base" / "evil.yaml").symlink_to(outside / "secret.yaml")
    (repo / "env" / "overlay.yaml").write_text(OVERLAY.format(base="../base"))
    proc = rbgc(["build", "env", "--root", "."], repo)
    refused(proc, "RBG703", "env/overlay.yaml:3:7")
    assert f"base file base/evil.yaml is a symbolic link to {outside}/secret.yaml" in proc.stderr

    (repo / "base" / "evil.yaml").unlink()  # a link that stays inside the root is fine
    (repo / "base" / "group.yaml").rename(repo / "group.yaml")
    (repo / "base" / "fine.yaml").symlink_to(repo / "group.yaml")
    ok = rbgc(["build", "env", "--root", "."], repo)
    assert ok.returncode == 0, ok.stderr
    assert "name: g-a" in ok.stdout


# -- 25: shapes every object shares -------------------------------------------------------------

BAD_SHAPES = {
    "annotations": (CONFIG_MAP.replace("  name: first\n", "  name: x\n  annotations: oops\n"), 5),
    "labels": (CONFIG_MAP.replace("  name: first\n", "  name: x\n  labels: [a]\n"), 5),
    "label value": (CONFIG_MAP.replace("  name: first\n", "  name: x\n  labels: {a: 1}\n"), 5),
    "name": (CONFIG_MAP.replace("  name: first\n", "  name: [x]\n"), 4),
    "kind": (CONFIG_MAP.replace("kind: ConfigMap", "kind: a/b"), 2),
    "apiVersion": (CONFIG_MAP.replace("apiVersion: v1", "apiVersion: a/b/c"), 1),
    "spec": ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: 5\n", 4),
}


@pytest.mark.parametrize("case", sorted(BAD_SHAPES))
@pytest.mark.parametrize(
    "command",
    [
        ["build"],
        ["build", "--strict"],
        ["build", "-o", "json"],
        ["validate"],
        ["diff", "old.yaml"],
        ["plan", "old.yaml"],
    ],
)
def test_bad_shapes_are_diagnosed_by_every_command(
    tmp_path: Path, case: str, command: list[str]
) -> None:
    text, line = BAD_SHAPES[case]
    (tmp_path / "old.yaml").write_text(GROUP)
    (tmp_path / "m.yaml").write_text(GROUP + "---\n" + text)
    proc = rbgc([*command, "m.yaml"], tmp_path)
    refused(proc, "RBG009", f"m.yaml:{line + 11}:")


@pytest.mark.parametrize("case", sorted(BAD_SHAPES))
def test_bad_shapes_through_post_render(tmp_path: Path, case: str) -> None:
    text, line = BAD_SHAPES[case]
    refused(rbgc(["post-render"], tmp_path, stdin=text), "RBG009", f"-:{line}:")


def test_bad_shapes_through_sync_simulate(tmp_path: Path) -> None:
    text, line = BAD_SHAPES["annotations"]
    (tmp_path / "m.yaml").write_text(text)
    refused(rbgc(["sync", "--simulate", "m.yaml"], tmp_path), "RBG009", f"m.yaml:{line}:")


def test_krm_item_whose_metadata_is_not_a_mapping(tmp_path: Path) -> None:
    resource_list = (
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n"
        "  - {apiVersion: v1, kind: ConfigMap, metadata: oops}\n"
        "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: b, annotations: [1]}}\n"
    )
    proc = rbgc(["krm"], tmp_path, stdin=resource_list)
    assert proc.returncode == 1
    assert "RBG901" not in proc.stderr
    assert "-:4:49: error[RBG009]: item 1: metadata must be a mapping" in proc.stderr
    assert "-:5:72: error[RBG009]: item 2: metadata.annotations must be a mapping" in proc.stderr
    assert "severity: error" in proc.stdout  # KRM: the results travel in the ResourceList
    assert "metadata: oops" in proc.stdout  # and the items are handed back untouched


def test_an_overlay_patch_cannot_break_the_shapes(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "env").mkdir()
    (tmp_path / "base" / "cm.yaml").write_text(CONFIG_MAP)
    (tmp_path / "env" / "overlay.yaml").write_text(
        OVERLAY.format(base="../base")
        + "patches:\n  - target: {kind: ConfigMap}\n    patch: {metadata: {labels: [x]}}\n"
    )
    proc = rbgc(["build", "env", "--root", "."], tmp_path)
    refused(proc, "RBG009", "env/overlay.yaml:6:32")
    assert "ConfigMap first as the overlay changes it: metadata.labels must be" in proc.stderr


# -- 5: a misspelt kind or API group is not passed through --------------------------------------

TYPOS = {
    "kind": (
        "workloads.x-k8s.io/v1alpha1",
        "RoleBaseGroup",
        "RBG104",
        "did you mean 'RoleBasedGroup'?",
    ),
    "kind case": ("workloads.x-k8s.io/v1alpha1", "RolebasedGroup", "RBG104", "'RoleBasedGroup'?"),
    "group": (
        "workload.x-k8s.io/v1alpha1",
        "RoleBasedGroup",
        "RBG104",
        "did you mean 'workloads.x-k8s.io/v1alpha1'?",
    ),
    "group and kind": ("workloads.k8s.io/v1alpha1", "RoleBaseGroup", "RBG104", "workloads.x-k8s"),
    "core group": ("v1", "RoleBasedGroup", "RBG104", "'apiVersion: workloads.x-k8s.io/v1alpha1'"),
    "profile": (
        "workloads.x-k8s.io/v1alpha1",
        "ClusterEngineRuntimeProfiles",
        "RBG104",
        "'ClusterEngineRuntimeProfile'?",
    ),
    "operator kind": (
        "workloads.x-k8s.io/v1alpha1",
        "RoleBasedGroupScalingAdapter",
        "RBG120",
        "an HPA can target the compiled workload",
    ),
    "unknown version": (
        "workloads.x-k8s.io/v1beta1",
        "RoleBasedGroup",
        "RBG120",
        "write the object as workloads.x-k8s.io/v1alpha2",
    ),
    "v1alpha2 kind": (
        "workloads.x-k8s.io/v1alpha2",
        "RoleBaseGroup",
        "RBG104",
        "'RoleBasedGroup'?",
    ),
}


@pytest.mark.parametrize("case", sorted(TYPOS))
@pytest.mark.parametrize("command", ["build", "validate"])
def test_misspelt_rbg_documents_are_errors(tmp_path: Path, case: str, command: str) -> None:
    api_version, kind, code, hint = TYPOS[case]
    text = GROUP.replace("workloads.x-k8s.io/v1alpha1", api_version).replace(
        "kind: RoleBasedGroup", f"kind: {kind}"
    )
    (tmp_path / "m.yaml").write_text(CONFIG_MAP + "---\n" + text)
    proc = rbgc([command, "m.yaml"], tmp_path)
    refused(proc, code, "m.yaml:")
    assert f"  help: {hint}" in proc.stderr or hint in proc.stderr
    assert proc.stderr.count("error[") == 1, proc.stderr  # one clear error, no schema noise


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [
        ("scheduling.x-k8s.io/v1alpha1", "PodGroup"),
        ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding"),
        ("workloads.sigs.k8s.io/v1", "Workload"),
        ("jobset.x-k8s.io/v1alpha2", "JobSet"),
        ("v1", "ServiceAccount"),
    ],
)
def test_neighbours_of_rbg_kinds_pass_through(tmp_path: Path, api_version: str, kind: str) -> None:
    text = f"apiVersion: {api_version}\nkind: {kind}\nmetadata: {{name: x, namespace: ns}}\n"
    (tmp_path / "m.yaml").write_text(text)
    proc = rbgc(["build", "m.yaml"], tmp_path)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert f"kind: {kind}\n" in proc.stdout


# -- 6: no diagnostic prints a Python repr ------------------------------------------------------

# What a repr looks like in a message: a dict or list or tuple of strings, an object's address.
REPR = re.compile(r"\{'|\['|\('|\bobject at 0x|<class '|\bOrderedDict\(")
FIXTURES = sorted((Path(__file__).parent / "diagnostics").glob("RBG*.yaml"))
V1ALPHA2 = COMPAT.parent / "rbg-v0.8.0-alpha.5"


@pytest.mark.parametrize(
    "command", [["validate"], ["build", "--strict"], ["validate", "--format", "json"]]
)
def test_no_diagnostic_prints_a_repr(command: list[str]) -> None:
    seen = 0
    for path in [*FIXTURES, V1ALPHA2]:
        proc = rbgc([*command, str(path)], ROOT)
        seen += proc.stderr.count("RBG")
        found = REPR.search(proc.stderr)
        assert found is None, f"{path.name}: {proc.stderr[max(0, found.start() - 80) :][:200]}"
    assert seen > len(FIXTURES), "the scan saw the diagnostics"


def test_v1alpha2_validates_against_its_own_schema(tmp_path: Path) -> None:
    # v1alpha2 was one clear RBG120 while rbgc compiled v1alpha1 only; it now compiles, and
    # `validate` checks it against the v1alpha2 schema (not v1alpha1's, which every field broke)
    proc = rbgc(["validate", str(V1ALPHA2 / "basic" / "rbg" / "base.yaml")], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "error[" not in proc.stderr


def test_schema_messages_of_wrong_types_name_the_expected_type(tmp_path: Path) -> None:
    pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
    pod += "  containers: [{name: c, image: {a: 1}}]\n"
    (tmp_path / "m.yaml").write_text(pod)
    proc = rbgc(["validate", "m.yaml"], tmp_path)
    assert (
        "m.yaml:5:33: error[RBG601]: Pod p: spec.containers[0].image: expected a string or null, "
        "got a mapping (Kubernetes 1.33 schema)"
    ) in proc.stderr


# -- 27: a committed link out of the tree, under diff/plan --git ---------------------------------


@pytest.mark.parametrize("target", ["/etc/passwd", "../../../outside.yaml"])
@pytest.mark.parametrize("command", ["diff", "plan"])
def test_git_revision_with_a_link_out_of_the_tree(
    tmp_path: Path, target: str, command: str
) -> None:
    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "cm.yaml").write_text(CONFIG_MAP)
    (tmp_path / "apps" / "docs").mkdir()
    (tmp_path / "apps" / "docs" / "shared.yaml").symlink_to(target)
    git("add", "-A")
    git("commit", "-q", "-m", "link")
    proc = rbgc([command, "--git", "HEAD", "apps"], tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith(
        f"HEAD:apps/docs/shared.yaml: error[RBG801]: apps/docs/shared.yaml is a symbolic link "
        f"to {target}, outside the repository\n"
    ), proc.stderr
    assert "RBG901" not in proc.stderr


# -- found by the fuzz test ---------------------------------------------------------------------


def test_a_control_character_is_located() -> None:
    ((code, line, message),) = problems(CONFIG_MAP + "x: a\x7fb\n")
    assert (code, line, message) == ("RBG001", 7, "character U+007F is not allowed in YAML")
