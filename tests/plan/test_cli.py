"""`rbgc diff` / `rbgc plan` end to end: goldens, exit codes, --git, colour, lean start-up."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rbgc.cli import main
from tests.conftest import EXAMPLES, ROOT

GOLDEN = ROOT / "tests" / "golden" / "upgrades"
OLD = str(EXAMPLES / "pd-disaggregated.yaml")
NEW = str(ROOT / "upgrades" / "pd-v2.yaml")

# golden file -> arguments after the command
REVIEWS = {
    "pd-v2.diff.txt": ["diff", "OLD", "NEW"],
    "pd-v2.diff.json": ["diff", "-o", "json", "OLD", "NEW"],
    "pd-v2.diff.md": ["diff", "-o", "markdown", "OLD", "NEW"],
    "pd-v2.plan.txt": ["plan", "OLD", "NEW"],
    "pd-v2.plan.json": ["plan", "-o", "json", "OLD", "NEW"],
    "pd-v2.plan.md": ["plan", "-o", "markdown", "OLD", "NEW"],
    "pd-v2.plan-canary.txt": ["plan", "--stop-after", "1", "OLD", "NEW"],
}


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    base = {"NO_COLOR": "", "KUBE_VERSION": ""}
    return CliRunner().invoke(main, list(args), env={**base, **(env or {})})


def render_review(name: str) -> str:
    """Output of one golden review, with the repository-relative paths (cwd = repo root)."""
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        args = [
            {"OLD": "examples/pd-disaggregated.yaml", "NEW": "upgrades/pd-v2.yaml"}.get(a, a)
            for a in REVIEWS[name]
        ]
        result = run(*args)
    finally:
        os.chdir(here)
    assert result.exit_code == 1, result.stderr
    return result.stdout


@pytest.mark.parametrize("name", sorted(REVIEWS))
def test_golden_review(name: str) -> None:
    expected = (GOLDEN / name).read_text(encoding="utf-8")
    assert render_review(name) == expected, f"run `make golden` and review tests/golden/{name}"


def test_plan_json_has_the_documented_shape() -> None:
    doc = json.loads(render_review("pd-v2.plan.json"))
    assert doc["format"] == "rbgc.plan/v1"
    for step in doc["steps"]:
        assert set(step["roles"]) == {"router", "prefill", "decode"}
        for state in step["roles"].values():
            assert {"replicas", "updated", "available"} <= set(state)
    assert all(i["holds"] for i in doc["invariants"])


def test_diff_json_has_the_documented_shape() -> None:
    doc = json.loads(render_review("pd-v2.diff.json"))
    assert doc["format"] == "rbgc.diff/v1"
    for change in doc["changes"]:
        assert {"kind", "namespace", "name", "change", "classes", "restarts"} <= set(change)
    assert sorted((c["name"], c["restarts"]) for c in doc["changes"]) == [
        ("sglang-pd-decode", 1),
        ("sglang-pd-prefill", 2),
    ]


def test_no_change_exits_0() -> None:
    for command in ("diff", "plan"):
        result = run(command, OLD, OLD)
        assert result.exit_code == 0, result.stderr
    assert run("diff", OLD, OLD).stdout == "rbgc diff: no changes\n"


def test_invalid_input_exits_2_with_no_stdout(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nkey: [\n")
    for command in ("diff", "plan"):
        result = run(command, OLD, str(bad))
        assert result.exit_code == 2
        assert result.stdout == ""
        assert "error[RBG001]" in result.stderr and "Traceback" not in result.stderr


def test_usage_errors_exit_2() -> None:
    assert run("diff", OLD).exit_code == 2
    assert run("plan", "--stop-after", "0", OLD, NEW).exit_code == 2


def test_bad_kubernetes_version_exits_2() -> None:
    result = run("plan", OLD, NEW, env={"KUBE_VERSION": "latest"})
    assert result.exit_code == 2 and result.stdout == ""
    assert "cannot read Kubernetes version 'latest'" in result.stderr


def test_kube_version_from_the_environment() -> None:
    result = run("plan", "-o", "json", OLD, NEW, env={"KUBE_VERSION": "v1.35.1"})
    assert json.loads(result.stdout)["kubernetes_version"] == "1.35"


def test_stop_after_shows_a_canary() -> None:
    result = run("plan", "--stop-after", "1", OLD, NEW)
    assert result.exit_code == 1
    assert "step 2" not in result.stdout
    assert "stopped after step 1 of 2 (--stop-after)" in result.stdout


def test_colour_only_when_asked_and_never_with_no_color() -> None:
    assert "\x1b[" in run("diff", "--color", "always", OLD, NEW).stdout
    assert "\x1b[" not in run("diff", OLD, NEW).stdout  # not a terminal
    assert "\x1b[" not in run("diff", OLD, NEW, env={"NO_COLOR": "1"}).stdout


def test_rbg802_is_reported_at_the_role(tmp_path: Path) -> None:
    text = """
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata: {name: g}
spec:
  roles:
    - name: solo
      replicas: 1
      rolloutStrategy: {rollingUpdate: {maxUnavailable: 0, maxSurge: 1}}
      template: {spec: {containers: [{name: c, image: "img:IMAGE"}]}}
"""
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(text.replace("IMAGE", "1"))
    new.write_text(text.replace("IMAGE", "2"))
    result = run("plan", str(old), str(new))
    assert result.exit_code == 2 and result.stdout == ""
    assert f"{new}:7:13: error[RBG802]" in result.stderr
    assert run("diff", str(old), str(new)).exit_code == 1  # the diff itself is fine


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def test_diff_git_against_real_commits(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "apps").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "apps" / "pd.yaml").write_text((EXAMPLES / "pd-disaggregated.yaml").read_text())
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "v1")
    (repo / "apps" / "pd.yaml").write_text((ROOT / "upgrades" / "pd-v2.yaml").read_text())
    here = os.getcwd()
    os.chdir(repo)
    try:
        changed = run("diff", "--git", "main", "apps", "-o", "json")
        plan = run("plan", "--git", "HEAD", "-o", "json")
        git(repo, "commit", "-q", "-am", "v2")
        clean = run("diff", "--git", "HEAD", "apps")
        older = run("diff", "--git", "HEAD~1")
        (repo / "apps" / "new.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra, namespace: llm}\n"
        )
        added = run("diff", "--git", "HEAD", "apps/new.yaml", "-o", "json")
        (repo / "apps" / "pd.yaml").write_text("apiVersion: v1\nkind: [\n")
        broken = run("diff", "--git", "HEAD~1", "apps")
        unknown = run("diff", "--git", "no-such-ref", "apps")
    finally:
        os.chdir(here)
    assert changed.exit_code == 1, changed.stderr
    assert {c["name"] for c in json.loads(changed.stdout)["changes"]} == {
        "sglang-pd-prefill",
        "sglang-pd-decode",
    }
    assert plan.exit_code == 1 and json.loads(plan.stdout)["total_steps"] == 2
    assert clean.exit_code == 0 and clean.stdout == "rbgc diff: no changes\n"
    assert older.exit_code == 1
    assert added.exit_code == 1
    assert [c["change"] for c in json.loads(added.stdout)["changes"]] == ["added"]
    assert broken.exit_code == 2 and "apps/pd.yaml" in broken.stderr
    assert unknown.exit_code == 2 and "error[RBG801]: unknown git revision" in unknown.stderr


@pytest.mark.parametrize("command", ["diff", "plan"])
def test_git_with_two_versions_of_a_file_says_the_modes_do_not_mix(
    tmp_path: Path, command: str
) -> None:
    """`--git HEAD old.yaml new.yaml` read both files as one version, whose objects clash
    (RBG113): the help line says how to compare two files instead."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for name in ("old.yaml", "new.yaml"):
        (repo / name).write_text((EXAMPLES / "pd-disaggregated.yaml").read_text())
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "v1")
    here = os.getcwd()
    os.chdir(repo)
    try:
        mixed = run(command, "--git", "HEAD", "old.yaml", "new.yaml")
    finally:
        os.chdir(here)
    assert mixed.exit_code == 2 and mixed.stdout == ""
    assert "error[RBG113]" in mixed.stderr
    assert (
        "help: with --git REF, the PATHs are one version (as committed at REF against the "
        "working tree); to compare two files, drop --git: rbgc diff OLD NEW"
    ) in mixed.stderr


def test_rbg801_diagnostics_of_the_old_side_name_the_revision(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "a.yaml").write_text("apiVersion: v1\nkind: [\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "broken")
    (repo / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    here = os.getcwd()
    os.chdir(repo)
    try:
        result = run("diff", "--git", "main", "a.yaml")
    finally:
        os.chdir(here)
    assert result.exit_code == 2
    assert result.stderr.startswith("main:a.yaml:")
    outside = run("diff", "--git", "HEAD", str(tmp_path))
    assert outside.exit_code == 2 and "RBG801" in outside.stderr


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["build", str(EXAMPLES / "single-node.yaml")], ["diff", "--help"]],
)
def test_deepdiff_is_not_imported_at_start_up_or_by_build(argv: list[str]) -> None:
    code = (
        "import sys\n"
        "from rbgc.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert 'deepdiff' not in sys.modules, 'deepdiff imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_readme_shows_the_golden_plan() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("$ rbgc plan examples/pd-disaggregated.yaml upgrades/pd-v2.yaml\n")[1]
    shown = block.split("```")[0]
    assert shown == (GOLDEN / "pd-v2.plan.txt").read_text(encoding="utf-8")


COORDINATED = """
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata: {name: pd, namespace: llm}
spec:
  coordination:
    - name: pd-balance
      roles: [prefill, decode]
      strategy:
        rollingUpdate: {maxSkew: "25%"}
  roles:
    - name: prefill
      replicas: 4
      rolloutStrategy: {rollingUpdate: {maxUnavailable: 1}}
      template: {spec: {containers: [{name: s, image: "engine:IMAGE"}]}}
    - name: decode
      replicas: 2
      rolloutStrategy: {rollingUpdate: {maxUnavailable: 1}}
      template: {spec: {containers: [{name: s, image: "engine:IMAGE"}]}}
"""


def test_plan_end_to_end_with_a_coordination_rule(tmp_path: Path) -> None:
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(COORDINATED.replace("IMAGE", "1"))
    new.write_text(COORDINATED.replace("IMAGE", "2"))
    result = run("plan", "-o", "json", str(old), str(new))
    assert result.exit_code == 1, result.stderr
    doc = json.loads(result.stdout)
    # one pod at a time, the slower of prefill/decode first, skew never above 25%
    assert [s["down"] for s in doc["steps"]] == [1] * 6
    assert max(s["skew"]["pd-balance"] for s in doc["steps"]) == 25.0
    progress = [
        (s["roles"]["prefill"]["updated"], s["roles"]["decode"]["updated"]) for s in doc["steps"]
    ]
    assert progress == [(1, 0), (1, 1), (2, 1), (3, 1), (3, 2), (4, 2)]


def test_diff_git_of_an_overlay_reads_its_bases_at_the_revision(tmp_path: Path) -> None:
    # issue 8 item 10: only the given paths were archived, so the overlay's base was missing
    repo = tmp_path / "repo"
    (repo / "overlays").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    shutil.copytree(ROOT / "overlays" / "base", repo / "overlays" / "base")
    shutil.copytree(ROOT / "overlays" / "prod", repo / "overlays" / "prod")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "v1")
    base = repo / "overlays" / "base" / "pd-disaggregated.yaml"
    base.write_text(base.read_text().replace("- --pd-disaggregation", "- --pd-disagg", 1))
    here = os.getcwd()
    os.chdir(repo)
    try:
        found = run("diff", "--git", "HEAD", "overlays/prod", "-o", "json")
    finally:
        os.chdir(here)
    assert found.exit_code == 1, found.stderr
    assert json.loads(found.stdout)["changes"]
