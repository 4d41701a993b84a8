"""Every command block of the README, run as written in a fresh clone of this repository, in
the order a reader runs them: the set-up's `make demo` first, then each block in turn in the
same folder, so a block sees what the blocks before it left (`rendered/demo/`, `pd.yaml`, ...).

A fresh clone is emulated: the tracked (and new, not ignored) files copied into a git
repository with one commit and an `origin/main`, `.venv/bin` first on PATH as
`source .venv/bin/activate` puts it. A block may be preceded by one marker comment:

- `<!-- setup: why -->`: the set-up commands themselves (not run here; the reason says where
  they are exercised);
- `<!-- simulate: why -->`: needs a cluster; run with `--simulate` in place of `--context NAME`
  and added to `--dry-run`;
- `<!-- not run: why -->`: needs what this machine does not have (a Docker daemon, Helm, a
  cluster); every repository file it names must exist, and the reason must name what checks
  it instead (a test, or .ci/run).

`rbgc diff` / `rbgc plan` exit 1 when they find changes (as `kubectl diff`), which is what the
README's examples show: the runner accepts exit 1 from them, and nothing else.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.gitops.helpers import BIN, ROOT, rbgc_bin, run
from tests.tools import need

README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"(?:<!-- (setup|simulate|not run): (.*?) -->\n)?```sh\n(.*?)```", re.S)
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_COMMITTER_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}
PRELUDE = """\
rbgc() {  # diff and plan: exit 1 means "changes found"
  local rc=0
  command rbgc "$@" || rc=$?
  if [[ $rc == 1 && ( ${1-} == diff || ${1-} == plan ) ]]; then rc=0; fi
  return $rc
}
"""


@dataclass(frozen=True)
class Block:
    mark: str  # "" (run as written), "setup", "simulate" or "not run"
    reason: str
    script: str

    @property
    def id(self) -> str:
        return self.script.splitlines()[0][:40]


BLOCKS = [Block(m or "", r or "", s) for m, r, s in BLOCK.findall(README)]
RUN = [b for b in BLOCKS if b.mark in ("", "simulate")]
NOT_RUN = [b for b in BLOCKS if b.mark in ("setup", "not run")]


def simulated(script: str) -> str:
    lines = []
    for line in script.splitlines():
        if line.startswith("rbgc sync") and "--simulate" not in line:
            line = re.sub(r"--context \S+", "--simulate", line)
            if "--simulate" not in line:
                line = line.replace("rbgc sync", "rbgc sync --simulate", 1)
        lines.append(line)
    return "\n".join(lines) + "\n"


def git(cwd: Path, *args: str) -> None:
    done = run(["git", *args], cwd, extra_env=GIT_ENV)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This working tree as a fresh clone would have it (no .venv, no rendered output)."""
    dest = tmp_path_factory.mktemp("clone") / "rbgc"
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in filter(None, listed.split("\0")):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "clone")
    git(dest, "update-ref", "refs/remotes/origin/main", "HEAD")
    return dest


def test_the_readme_runs_a_block_for_each_tool() -> None:
    text = "\n".join(b.script for b in RUN)
    for tool in (
        "rbgc build overlays/",
        "ARGOCD_APP_NAMESPACE",
        "--flux",
        "--check",
        "kpt fn",
        "kubectl rbgc",
        "post-render",
        "kubectl kustomize",
        "rbgc diff --git origin/main",
        "rbgc sync",
        "_RBGC_COMPLETE",
    ):
        assert tool in text, f"no README command that is run uses {tool}"
    assert len(NOT_RUN) <= 5, "every block is run unless it truly cannot be"


class Reader:
    """One clone, worked through as a reader does: `make demo`, then the blocks in order."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ran = 0  # blocks of RUN done so far
        demo = run([need("make"), "-s", "-o", ".venv/.installed", "demo", f"BIN={BIN}"], folder)
        assert demo.returncode == 0, f"make demo\n{demo.stdout}\n{demo.stderr}"
        assert (folder / "rendered" / "demo").is_dir()

    def block(self, index: int) -> subprocess.CompletedProcess[str]:
        """Run the blocks before `index` that have not run yet (each must pass), then it."""
        while self.ran < index:
            done = self._run(RUN[self.ran])
            assert done.returncode == 0, f"an earlier block failed:\n{_said(RUN[self.ran], done)}"
        return self._run(RUN[index])

    def _run(self, block: Block) -> subprocess.CompletedProcess[str]:
        self.ran += 1
        script = simulated(block.script) if block.mark == "simulate" else block.script
        return run(["bash", "-euo", "pipefail", "-c", PRELUDE + script], self.folder, timeout=300)


def _said(block: Block, done: subprocess.CompletedProcess[str]) -> str:
    return f"{block.script}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"


@pytest.fixture(scope="module")
def reader(clone: Path) -> Reader:
    return Reader(clone)


@pytest.mark.tools
@pytest.mark.parametrize("index", range(len(RUN)), ids=[b.id for b in RUN])
def test_readme_block(index: int, reader: Reader) -> None:
    for tool in ("kubectl", "kpt"):
        if re.search(rf"(^|[|;&(]\s*|\n){tool} ", RUN[index].script):
            need(tool)
    done = reader.block(index)
    assert done.returncode == 0, _said(RUN[index], done)


@pytest.mark.parametrize("block", NOT_RUN, ids=[b.id for b in NOT_RUN])
def test_a_block_that_is_not_run_says_why_and_names_files_that_exist(block: Block) -> None:
    assert len(block.reason.split()) >= 4, f"say why this block is not run: {block.script}"
    named = re.findall(
        r"(?:integrations|examples|overlays|upgrades|scripts)/[\w./-]*\w", block.script
    )
    for path in named:
        assert (ROOT / path).exists(), f"{path} (named in the README) does not exist"
    if block.mark == "not run":
        checker = re.search(r"tests/[\w/]+\.py|\.ci/run", block.reason)
        assert checker and (ROOT / checker[0]).exists(), "name what checks it instead"


def test_the_plan_transcript_is_what_rbgc_prints() -> None:
    found = re.findall(r"```text\n\$ (rbgc [^\n]*)\n(.*?)```", README, re.S)
    assert found, "the README lost its `rbgc plan` transcript"
    for command, expected in found:
        done = run([rbgc_bin(), *command.split()[1:]], ROOT)
        assert done.returncode in (0, 1), done.stderr
        assert done.stdout == expected, command
