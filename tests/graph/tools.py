"""The real parsers the pictures are checked with: Graphviz's `dot` and Mermaid's own parser.

`dot` comes from Debian's graphviz package (.ci/run installs it); Mermaid's parser is the
`mermaid` npm package run headless under Node (tools/mermaid-parser: jsdom stands in for the
DOM, no browser). Tests that use them are marked `tools` and skipped with the reason where a
tool is not installed (tests/tools.py); .ci/run installs both. Where `npm ci` itself fails,
the test is skipped, except in CI (`CI` set), where that is a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any, NoReturn

import pytest

from tests.conftest import ROOT
from tests.tools import need

MERMAID = ROOT / "tools" / "mermaid-parser"


def _unavailable(why: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{why} (CI installs it in .ci/run)")
    pytest.skip(why)


def dot(text: str, fmt: str = "svg") -> str:
    """Graphviz's output for `text`; fails the test on any error or warning."""
    exe = need("dot")
    done = subprocess.run(
        [exe, f"-T{fmt}"], input=text, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return done.stdout


def _mermaid_ready() -> str:
    node, npm = need("node"), need("npm")
    if not (MERMAID / "node_modules" / "mermaid").is_dir():
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=MERMAID,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            _unavailable(f"`npm ci` in {MERMAID} failed:\n{done.stderr[-2000:]}")
    return node


def mermaid(texts: list[str]) -> list[dict[str, Any]]:
    """Mermaid's verdict on each diagram (see tools/mermaid-parser/check.mjs)."""
    node = _mermaid_ready()
    done = subprocess.run(
        [node, str(MERMAID / "check.mjs")],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results
