"""The outside tools some tests run: Graphviz `dot`, Node.js and npm (Mermaid's parser),
kubectl, kpt, pre-commit and make.

A test that runs one carries the `tools` marker and asks `need()` for it, which skips the test
with the reason (and how to install the tool) when it is absent; `need()` fails a test that runs
a tool without the marker, so `pytest -m "not tools"` (the inner loop) never needs one. The
tool is looked up on PATH after the virtualenv's bin/, so `~/.local/bin`, `/opt/homebrew/bin`
or wherever a person installed it is found. `.ci/run` installs every tool it can.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

VENV_BIN = Path(sys.executable).parent
HOW = {
    "dot": "apt-get install graphviz (brew install graphviz)",
    "node": "apt-get install nodejs npm (brew install node)",
    "npm": "apt-get install nodejs npm (brew install node)",
    "kubectl": "see https://kubernetes.io/docs/tasks/tools/; .ci/run installs it from npm",
    "kpt": "see https://kpt.dev/installation/",
    "pre-commit": "make venv installs it (pip install pre-commit)",
    "make": "apt-get install make",
}
# The test being run, set by tests/conftest.py, so `need` can tell whether it is marked.
current: pytest.Item | None = None


def search_path() -> str:
    return os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", os.defpath)])


def need(name: str) -> str:
    """The path of tool `name`; skips the test when it is not installed."""
    if current is not None and current.get_closest_marker("tools") is None:
        pytest.fail(f"{current.nodeid} runs `{name}`: mark it @pytest.mark.tools")
    found = shutil.which(name, path=search_path())
    if found is None:
        pytest.skip(f"`{name}` is not installed: {HOW[name]}")
    return found
