"""Shared helpers: compile inline YAML, locate the compat corpus, check invariants."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rbgc.pipeline import Options, Result, compile_documents
from rbgc.source import parse_text

ROOT = Path(__file__).resolve().parent.parent
COMPAT = ROOT.parent / "shared" / "compat" / "rbg-v0.4.0"
EXAMPLES = ROOT / "examples"


def compile_yaml(text: str, *, namespace: str = "default", path: str = "test.yaml") -> Result:
    """Compile an inline YAML stream (dedented) exactly as `rbgc build` would."""
    docs = parse_text(textwrap.dedent(text), path)
    return compile_documents(docs, Options(namespace=namespace))


@pytest.fixture(scope="session")
def compat_dir() -> Path:
    if not COMPAT.is_dir():  # pragma: no cover - CI always has ../shared
        pytest.fail(f"conformance corpus missing at {COMPAT}")
    return COMPAT
