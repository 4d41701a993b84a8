"""The hooks in .pre-commit-hooks.yaml, run by the real pre-commit in a throwaway repository.

Slow on purpose (pre-commit builds the hooks' virtualenv from this checkout with pip): marked
`slow`, never skipped. The hook repository is a snapshot of this working tree (uncommitted
changes included) committed to a temporary git repository, so what is tested is what is here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.gitops.helpers import ROOT, rbgc_bin, run
from tests.tools import need

pytestmark = [pytest.mark.slow, pytest.mark.tools]

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_COMMITTER_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}
BAD = """\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata:
  name: bad
spec:
  roles:
    - name: a
      dependencies: [b]
      template:
        spec:
          containers: [{name: c, image: example.com/c:v1}]
"""
RENDER = ["overlays/prod", "--out", "rendered/prod", "--layout", "waves"]
PROFILE = """\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: ClusterEngineRuntimeProfile
metadata:
  name: patio
spec:
  containers:
    - name: patio-runtime
      image: example.com/patio:v1
"""
APP = """\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata:
  name: app{n}
spec:
  roles:
    - name: server
      engineRuntimes: [{{profileName: patio}}]
      template:
        spec:
          containers: [{{name: c, image: example.com/c:v1}}]
"""
APPS = 12  # more than pre-commit would give one process, had it been allowed to split them


def git(cwd: Path, *args: str) -> str:
    done = run(["git", *args], cwd, extra_env=GIT_ENV)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def snapshot(dest: Path) -> str:
    """This working tree (tracked and new files) as a one-commit repository; its sha."""
    listed = git(ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
    for name in filter(None, listed.split("\0")):
        src, out = ROOT / name, dest / name
        if not src.exists() and not src.is_symlink():
            continue  # deleted in the working tree
        out.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), out)
        else:
            shutil.copy2(src, out)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "snapshot")
    return git(dest, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("precommit")
    sha = snapshot(base / "hooks")
    user = base / "user"
    shutil.copytree(ROOT / "overlays", user / "overlays")
    (user / "apps/profiles").mkdir(parents=True)
    (user / "apps/profiles/patio.yaml").write_text(PROFILE)
    for n in range(APPS):
        (user / f"apps/app{n}.yaml").write_text(APP.format(n=n))
    (user / ".pre-commit-config.yaml").write_text(
        "repos:\n"
        f"  - repo: {base / 'hooks'}\n"
        f"    rev: {sha}\n"
        "    hooks:\n"
        "      - id: rbgc-validate\n"
        "        files: ^(apps|overlays)/\n"
        "        args: [apps/, overlays/]\n"
        "      - id: rbgc-build-check\n"
        f"        args: [{', '.join(RENDER)}]\n"
    )
    git(user, "init", "-q")
    done = run([rbgc_bin(), "build", *RENDER], user)
    assert done.returncode == 0, done.stderr
    git(user, "add", "-A")
    return user


def pre_commit(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**GIT_ENV, "PRE_COMMIT_HOME": str(repo.parent / "cache")}
    return run([need("pre-commit"), "run", *args], repo, extra_env=env, timeout=900)


def test_validate_hook_passes_good_files_and_fails_bad_ones(repo: Path) -> None:
    good = pre_commit(repo, "rbgc-validate", "--files", "overlays/prod/overlay.yaml")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "rbgc validate" in good.stdout and "Passed" in good.stdout
    (repo / "apps/bad.yaml").write_text(BAD)
    bad = pre_commit(repo, "rbgc-validate", "--files", "apps/bad.yaml")
    assert bad.returncode == 1, bad.stdout
    assert "apps/bad.yaml:8:22: error[RBG201]: role 'a' depends on unknown role 'b'" in bad.stdout
    (repo / "apps/bad.yaml").unlink()


def validate_tree(repo: Path) -> subprocess.CompletedProcess[str]:
    return run([rbgc_bin(), "validate", "--quiet", "apps/", "overlays/"], repo)


def test_a_commit_of_one_app_finds_its_profile_in_another_file(repo: Path) -> None:
    """Was RBG510: the hook got only apps/app1.yaml, so the profile was not among its inputs;
    and --all-files failed for the apps pre-commit put in a process without the profile."""
    assert validate_tree(repo).returncode == 0
    one = pre_commit(repo, "rbgc-validate", "--files", "apps/app1.yaml")
    assert one.returncode == 0, one.stdout
    every = pre_commit(repo, "rbgc-validate", "--all-files")
    assert every.returncode == 0, every.stdout


def test_a_changed_base_fails_the_hook_as_it_fails_the_tree(repo: Path) -> None:
    """Was a pass: the hook got only the base, which is valid alone, while the prod and dev
    overlays over it no longer were."""
    path = repo / "overlays/base/pd-disaggregated.yaml"
    before = path.read_text()
    path.write_text(before.replace("- name: router", "- name: gateway", 1))
    try:
        tree = validate_tree(repo)
        assert tree.returncode == 1
        assert "error[RBG705]" in tree.stderr
        hook = pre_commit(repo, "rbgc-validate", "--files", "overlays/base/pd-disaggregated.yaml")
        assert hook.returncode == 1, hook.stdout
        for line in tree.stderr.splitlines():
            assert line in hook.stdout
    finally:
        path.write_text(before)


def test_build_check_hook_fails_when_the_rendered_folder_is_stale(repo: Path) -> None:
    fresh = pre_commit(repo, "rbgc-build-check", "--all-files")
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    overlay = repo / "overlays/prod/overlay.yaml"
    overlay.write_text(overlay.read_text().replace("replicas: 4", "replicas: 6"))
    stale = pre_commit(repo, "rbgc-build-check", "--all-files")
    assert stale.returncode == 1, stale.stdout
    assert "rbgc: rendered/prod is stale (" in stale.stdout
    assert "~ wave-0/llm-prod_statefulset_sglang-pd-prod-prefill.yaml" in stale.stdout


def test_the_readme_local_hook_judges_the_tree(repo: Path, tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    config = re.search(r"<!-- local-hook -->\n```yaml\n(.*?)```", readme, re.S)
    assert config is not None, "the README lost its local pre-commit hook"
    local = tmp_path / "local"
    shutil.copytree(repo / "apps", local / "apps")
    shutil.copytree(repo / "overlays", local / "overlays")
    (local / ".pre-commit-config.yaml").write_text(config[1])
    git(local, "init", "-q")
    git(local, "add", "-A")
    good = pre_commit(local, "--files", "apps/app1.yaml")
    assert good.returncode == 0, good.stdout
    base = local / "overlays/base/pd-disaggregated.yaml"
    base.write_text(base.read_text().replace("- name: router", "- name: gateway", 1))
    bad = pre_commit(local, "--files", "overlays/base/pd-disaggregated.yaml")
    assert bad.returncode == 1, bad.stdout
    assert "error[RBG705]" in bad.stdout


def test_the_hook_without_args_checks_the_repository_from_its_root(repo: Path) -> None:
    """Issue 18, item 6: the first config a person writes has no `args:`, and the hook then
    blocked every commit touching YAML with `Missing argument 'PATH...'`. Without args it checks
    the repository from its root: every app and overlay, not rendered/prod (rbgc's output)."""
    found = re.search(
        r"repo: (\S+)\n    rev: (\S+)", (repo / ".pre-commit-config.yaml").read_text()
    )
    assert found is not None
    local = repo.parent / "no-args"  # beside the fixture: the same PRE_COMMIT_HOME
    shutil.copytree(repo, local, ignore=shutil.ignore_patterns(".git"))
    (local / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {found[1]}\n    rev: {found[2]}\n"
        "    hooks:\n      - id: rbgc-validate\n"
    )
    git(local, "init", "-q")
    git(local, "add", "-A")
    good = pre_commit(local, "--files", "apps/app1.yaml")
    assert good.returncode == 0, good.stdout + good.stderr
    (local / "apps/bad.yaml").write_text(BAD)
    git(local, "add", "apps/bad.yaml")
    bad = pre_commit(local, "--files", "apps/bad.yaml")
    assert bad.returncode == 1, bad.stdout
    assert "apps/bad.yaml:8:22: error[RBG201]: role 'a' depends on unknown role 'b'" in bad.stdout
    assert "Missing argument" not in bad.stdout
