"""Tests that need an outside tool are marked and skip without it (issue 18, item 14)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import tools
from tests.gitops.helpers import BIN, env


def test_subprocesses_find_tools_where_a_person_installed_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """helpers.env pinned PATH to the venv and /usr/local/bin:/usr/bin:/bin."""
    monkeypatch.setenv("PATH", os.pathsep.join(["/opt/homebrew/bin", "/home/me/.local/bin"]))
    path = env()["PATH"].split(os.pathsep)
    assert path[0] == str(BIN)
    assert "/opt/homebrew/bin" in path and "/home/me/.local/bin" in path


@pytest.mark.tools
def test_a_missing_tool_skips_with_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(tools, "VENV_BIN", tmp_path)
    with pytest.raises(pytest.skip.Exception, match=r"`kpt` is not installed: see https://kpt"):
        tools.need("kpt")


@pytest.mark.tools
def test_a_tool_in_a_folder_on_path_is_found(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "kubectl"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert tools.need("kubectl") == str(fake)


def test_a_test_that_runs_a_tool_without_the_marker_fails() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"mark it @pytest\.mark\.tools"):
        tools.need("dot")


def test_the_marker_is_registered_with_the_inner_loop_in_its_help() -> None:
    text = (Path(__file__).parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert '"tools: needs an outside tool' in text and 'pytest -m \\"not tools\\"' in text


def test_the_readme_names_every_tool_beside_make_test_and_ci_installs_them() -> None:
    root = Path(__file__).parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    setup = readme[: readme.index("\n## ")]
    assert "make test" in setup
    names = {"dot": "Graphviz", "node": "Node.js", "npm": "npm", "kubectl": "kubectl"}
    names |= {"kpt": "kpt", "pre-commit": "pre-commit", "make": "make"}
    assert names.keys() == tools.HOW.keys()
    for word in names.values():
        assert word in setup, f"the README's set-up does not name {word}"
    script = (root / ".ci" / "install-tools").read_text(encoding="utf-8")
    assert (root / ".ci" / "run").read_text(encoding="utf-8").count(".ci/install-tools") == 1
    for tool in ("make", "dot", "npm", "kubectl", "kpt"):
        assert f"command -v {tool} " in script, tool
