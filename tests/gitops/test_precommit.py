"""The hooks in .pre-commit-hooks.yaml, run by the real pre-commit in a throwaway repository.

Slow on purpose (pre-commit builds the hooks' virtualenv from this checkout with pip): marked
`slow`, never skipped. The hook repository is a snapshot of this working tree (uncommitted
changes included) committed to a temporary git repository, so what is tested is what is here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.gitops.helpers import ROOT, rbgc_bin, run

pytestmark = pytest.mark.slow

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
    (user / ".pre-commit-config.yaml").write_text(
        "repos:\n"
        f"  - repo: {base / 'hooks'}\n"
        f"    rev: {sha}\n"
        "    hooks:\n"
        "      - id: rbgc-validate\n"
        "        files: ^(overlays/|bad)\n"
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
    return run([rbgc_bin("pre-commit"), "run", *args], repo, extra_env=env, timeout=900)


def test_validate_hook_passes_good_files_and_fails_bad_ones(repo: Path) -> None:
    good = pre_commit(repo, "rbgc-validate", "--files", "overlays/prod/overlay.yaml")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "rbgc validate" in good.stdout and "Passed" in good.stdout
    (repo / "bad.yaml").write_text(BAD)
    bad = pre_commit(repo, "rbgc-validate", "--files", "bad.yaml")
    assert bad.returncode == 1, bad.stdout
    assert "bad.yaml:8:22: error[RBG201]: role 'a' depends on unknown role 'b'" in bad.stdout
    (repo / "bad.yaml").unlink()


def test_build_check_hook_fails_when_the_rendered_folder_is_stale(repo: Path) -> None:
    fresh = pre_commit(repo, "rbgc-build-check", "--all-files")
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    overlay = repo / "overlays/prod/overlay.yaml"
    overlay.write_text(overlay.read_text().replace("replicas: 4", "replicas: 6"))
    stale = pre_commit(repo, "rbgc-build-check", "--all-files")
    assert stale.returncode == 1, stale.stdout
    assert "rbgc: rendered/prod is stale (" in stale.stdout
    assert "~ wave-0/llm-prod_statefulset_sglang-pd-prod-prefill.yaml" in stale.stdout
