"""The README's GitOps commands, run as written (blocks marked `<!-- tested -->`)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.gitops.helpers import ROOT, run

BLOCK = re.compile(r"<!-- tested -->\n```sh\n(.*?)```", re.S)
BLOCKS = BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))


def test_the_readme_has_tested_blocks_for_each_tool() -> None:
    text = "\n".join(BLOCKS)
    for tool in (
        "rbgc build overlays/",
        "ARGOCD_APP_NAMESPACE",
        "--flux",
        "--check",
        "kpt fn",
        "kubectl rbgc",
        "post-render",
        "kubectl kustomize",
    ):
        assert tool in text, f"no tested README command uses {tool}"


@pytest.mark.parametrize("script", BLOCKS, ids=[b.splitlines()[0][:40] for b in BLOCKS])
def test_readme_block(script: str, tmp_path: Path) -> None:
    for folder in ("examples", "overlays", "schemas", "integrations"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    done = run(["bash", "-euo", "pipefail", "-c", script], tmp_path)
    assert done.returncode == 0, f"{script}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
