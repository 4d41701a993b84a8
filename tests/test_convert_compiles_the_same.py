"""Converting must not change what runs (issue 10, item 7): compiling `rbgc convert`'s output
gives the same workloads and pod templates as compiling the v1alpha1 original with
`--conventions v0.8`, the release that serves both API versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from rbgc.convert.rewrite import convert_text
from rbgc.diagnostics import DiagnosticError
from rbgc.model import Target
from rbgc.pipeline import Options, compile_documents
from rbgc.source import parse_text
from tests.conftest import COMPAT, EXAMPLES
from tests.test_convert import _groups

WORKLOADS = ("StatefulSet", "Deployment", "LeaderWorkerSet", "PodGroup", "Service", "ConfigMap")


def _compiled(text: str) -> dict[tuple[str, str], Any] | set[str]:
    """What runs: each workload-like object's labels and spec, by kind and name; or, when the
    build refuses the input, the codes of its errors."""
    options = Options(target=Target(conventions="v0.8"))
    try:
        result = compile_documents(parse_text(text, "g.yaml"), options)
    except DiagnosticError as exc:
        return {d.code for d in exc.diagnostics if d.severity == "error"}
    out: dict[tuple[str, str], Any] = {
        (m.kind, m.name): (m.body["metadata"].get("labels"), m.body.get("spec", m.body.get("data")))
        for m in result.bundle.manifests
        if m.kind in WORKLOADS and m.group is not None
    }
    # the coordination rules the back ends read (from the stash, HEAD's migration controller)
    for g in result.bundle.groups:
        rules = [(r.name, r.roles, r.max_skew, r.partition, r.scaling_max_skew) for r in g.rules]
        out[("rules", g.key)] = rules
    return out


def _same(text: str) -> None:
    converted = convert_text(text, "g.yaml", "v1alpha2")
    assert not [d for d in converted.diagnostics if d.severity == "error"]
    assert _compiled(converted.text) == _compiled(text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_groups())
def test_converted_groups_compile_to_the_same_objects(doc: dict[str, Any]) -> None:
    _same(yaml.safe_dump(doc, sort_keys=False))


CORPUS = [
    p
    for p in [*sorted(COMPAT.rglob("*.yaml")), *sorted(EXAMPLES.glob("*.yaml"))]
    if "RoleBasedGroup" in p.read_text(encoding="utf-8")
]


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_converted_corpus_compiles_to_the_same_objects(path: Path) -> None:
    _same(path.read_text(encoding="utf-8"))
