"""Shared helpers: compile inline YAML, locate the compat corpus, check invariants."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from rbgc.pipeline import Options, Result, compile_documents
from rbgc.source import parse_text
from tests import tools

ROOT = Path(__file__).resolve().parent.parent
COMPAT = ROOT.parent / "shared" / "compat" / "rbg-v0.4.0"
EXAMPLES = ROOT / "examples"
# upstream's examples/basic at v0.8.0-alpha.5 (workloads.x-k8s.io/v1alpha2)
COMPAT_V08 = ROOT.parent / "shared" / "compat" / "rbg-v0.8.0-alpha.5"
# files of that corpus rbgc refuses, with the code it reports and why
COMPAT_V08_REFUSED: dict[str, tuple[str, str]] = {
    # `groupTemplate.metadata` is no field of RoleBasedGroupSet (labels and annotations sit
    # directly under groupTemplate): the API server prunes it, so the labels are lost
    "basic/rbgs/rbgs-base.yaml": ("RBG102", "groupTemplate.metadata is not a field"),
    "basic/rbgs/rbgs-exclusive-topology.yaml": ("RBG102", "groupTemplate.metadata is not a field"),
}


def compile_yaml(text: str, *, namespace: str = "default", path: str = "test.yaml") -> Result:
    """Compile an inline YAML stream (dedented) exactly as `rbgc build` would."""
    docs = parse_text(textwrap.dedent(text), path)
    return compile_documents(docs, Options(namespace=namespace))


def pytest_sessionstart(session: pytest.Session) -> None:
    """Without upstream's corpora the compat tests would collect empty and skip in silence,
    and a suite that looks green would have tested nothing against upstream: stop at once."""
    missing = [str(corpus) for corpus in (COMPAT, COMPAT_V08) if not corpus.is_dir()]
    if missing:
        pytest.exit(
            "upstream's conformance corpora are missing: "
            + ", ".join(missing)
            + "\nThe tests compile upstream's examples from ../shared/compat, next to this "
            "checkout; clone the project with its shared folder beside it.",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )


@pytest.fixture(autouse=True)
def _tools_need_the_marker(request: pytest.FixtureRequest) -> Iterator[None]:
    """Lets `tests.tools.need` check that a test running an outside tool is marked `tools`."""
    tools.current = request.node
    yield
    tools.current = None
