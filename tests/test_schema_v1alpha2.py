"""The v1alpha2 input schema: upstream's current examples validate, its own mistakes do not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from rbgc import schema as rbg_schema
from rbgc.source import parse_text
from tests.conftest import ROOT

CORPUS = ROOT.parent / "shared" / "compat" / "rbg-v0.8.0-alpha.5"
V1 = rbg_schema.schema()
V2 = rbg_schema.schema_v1alpha2()

# Files of upstream's v0.8.0-alpha.5 examples that its own CRD does not accept as written.
EXPECTED_FAILURES = {
    "basic/rbgs/rbgs-base.yaml": "groupTemplate.metadata is not a field of the CRD "
    "(labels and annotations sit directly under groupTemplate); the API server prunes it, "
    "so the children never get the labels",
    "basic/rbgs/rbgs-exclusive-topology.yaml": "groupTemplate.metadata is not a field of the "
    "CRD (pruned, so the annotation never reaches the children); its key also has the stale "
    "rolebasedgroup.workloads.x-k8s.io/ prefix (semantics §10)",
}


def _rbg_documents() -> list[tuple[str, int, dict[str, Any]]]:
    found = []
    for path in sorted(CORPUS.rglob("*.yaml")):
        rel = path.relative_to(CORPUS).as_posix()
        for i, doc in enumerate(yaml.safe_load_all(path.read_text(encoding="utf-8"))):
            if doc and str(doc.get("apiVersion", "")).startswith("workloads.x-k8s.io/"):
                found.append((rel, i, doc))
    return found


DOCS = _rbg_documents()
VALIDATOR = jsonschema.Draft202012Validator(V2)


def test_corpus_is_there_and_all_v1alpha2() -> None:
    assert len({rel for rel, _, _ in DOCS}) == 19
    assert {d["apiVersion"] for _, _, d in DOCS} == {"workloads.x-k8s.io/v1alpha2"}
    kinds = {d["kind"] for _, _, d in DOCS}
    assert kinds == set(rbg_schema.KINDS_V1ALPHA2)


@pytest.mark.parametrize(("rel", "index", "doc"), DOCS, ids=lambda x: str(x)[:60])
def test_upstream_examples_validate(rel: str, index: int, doc: dict[str, Any]) -> None:
    errors = list(VALIDATOR.iter_errors(doc))
    (parsed,) = parse_text(json.dumps(doc), rel)
    walker = rbg_schema.check_v1alpha2(parsed)
    if rel in EXPECTED_FAILURES:
        assert errors, f"{rel} was expected to fail: {EXPECTED_FAILURES[rel]}"
        best = jsonschema.exceptions.best_match(errors)
        assert best is not None and list(best.absolute_path) == ["spec", "groupTemplate"]
        assert best.message == "Additional properties are not allowed ('metadata' was unexpected)"
        assert [d.message for d in walker] == ["unknown field spec.groupTemplate.metadata"]
    else:
        assert errors == []
        assert walker == []


def test_walker_points_at_the_line_of_a_cel_rule() -> None:
    text = """\
apiVersion: workloads.x-k8s.io/v1alpha2
kind: RoleBasedGroup
metadata: {name: g}
spec:
  roles:
    - name: a
      standalonePattern:
        template: {spec: {containers: [{name: c, image: i}]}}
        templateRef: {name: base, patch: {}}
      leaderWorkerPattern: {size: 2, sharedServiceSelection: Some}
"""
    (doc,) = parse_text(text, "g.yaml")
    found = {(d.span.line, d.span.col, d.message) for d in rbg_schema.check_v1alpha2(doc)}  # type: ignore[union-attr]
    assert found == {
        (
            6,
            7,
            "spec.roles[0]: expected `standalonePattern` or `leaderWorkerPattern`, not both, "
            "got a mapping",
        ),
    }
    del_lwp = text.rsplit("\n", 2)[0] + "\n"
    (doc,) = parse_text(del_lwp, "g.yaml")
    (d,) = rbg_schema.check_v1alpha2(doc)
    assert (d.span.line, d.span.col) == (8, 9)  # type: ignore[union-attr]
    assert d.message == (
        "spec.roles[0].standalonePattern: expected `template` or `templateRef`, not both, "
        "got a mapping"
    )
    assert VALIDATOR.is_valid(yaml.safe_load(del_lwp)) is False


def test_schema_is_valid_and_uses_only_walker_keywords() -> None:
    jsonschema.Draft202012Validator.check_schema(V2)

    def keywords(node: Any, inside_properties: bool = False) -> set[str]:
        found: set[str] = set()
        if isinstance(node, dict):
            for key, value in node.items():
                if not inside_properties:
                    found.add(key)
                found |= keywords(value, key in ("properties", "$defs"))
        elif isinstance(node, list):
            for item in node:
                found |= keywords(item)
        return found

    assert keywords({k: v for k, v in V2.items() if k != "oneOf"}) <= rbg_schema.KEYWORDS
    assert [r["$ref"].rsplit("/", 1)[1] for r in V2["oneOf"]] == list(rbg_schema.KINDS_V1ALPHA2)


@pytest.mark.parametrize(
    "name",
    [
        "objectMeta",
        "podTemplateSpec",
        "podMetadata",
        "podSpec",
        "container",
        "envVar",
        "volume",
        "rollingUpdate",
        "servicePort",
    ],
)
def test_shared_definitions_are_the_v1alpha1_ones(name: str) -> None:
    assert V2["$defs"][name] == V1["$defs"][name]


def test_installed_copy_is_the_repository_file() -> None:
    schemas = Path(rbg_schema.SCHEMA_V1ALPHA2_PATH)
    assert schemas.read_bytes() == (ROOT / "schemas" / schemas.name).read_bytes()
