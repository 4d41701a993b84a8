"""The input schema: the build's walker gives located messages and agrees with jsonschema."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rbgc import schema as rbg_schema
from rbgc.diagnostics import Diagnostic, DiagnosticError
from rbgc.source import parse_text
from rbgc.validation import reference_validator
from tests.conftest import EXAMPLES

BASE = """\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata:
  name: g
spec:
  roles:
    - name: r
      replicas: 2
      dependecies: [x]
      rolloutStrategy:
        rollingUpdate: {maxSurge: "150%"}
      workload: {kind: StatefulSet, apiVersion: "apps"}
      template: {spec: {containers: [{name: c, image: i}]}}
"""


def _check(text: str) -> list[Diagnostic]:
    (doc,) = parse_text(text, "s.yaml")
    return rbg_schema.check(doc)


def test_messages_point_at_the_offending_key_or_value() -> None:
    found = {(d.code, d.span.line, d.span.col): d for d in _check(BASE)}  # type: ignore[union-attr]
    unknown = found[("RBG102", 9, 7)]
    assert unknown.message == "unknown field spec.roles[0].dependecies"
    assert unknown.help == "did you mean 'dependencies'?"
    surge = found[("RBG101", 11, 35)]
    assert "maxSurge" in surge.message and "percentage" in surge.message
    api = found[("RBG101", 12, 49)]
    assert api.message == (
        'spec.roles[0].workload.apiVersion: expected an API version such as "apps/v1", got "apps"'
    )
    assert len(found) == 3


def test_missing_required_field_points_at_the_mapping() -> None:
    (d,) = _check(
        "apiVersion: workloads.x-k8s.io/v1alpha1\nkind: RoleBasedGroup\n"
        "metadata: {name: g}\nspec:\n  roles:\n  - replicas: 1\n"
    )
    assert (d.code, d.span.line, d.span.col) == ("RBG103", 6, 5)  # type: ignore[union-attr]
    assert d.message == "spec.roles[0] is missing required field 'name'"


def test_schema_uses_only_keywords_the_walker_understands() -> None:
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

    from rbgc import overlays, topology

    # The root's oneOf only lists the kinds; the walker picks the definition by `kind`.
    rbg_root = {k: v for k, v in rbg_schema.schema().items() if k != "oneOf"}
    assert keywords(rbg_root) <= rbg_schema.KEYWORDS
    assert keywords(overlays.schema()) <= rbg_schema.KEYWORDS
    assert keywords(topology.schema()) <= rbg_schema.KEYWORDS


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(rbg_schema.schema())


# Mutations of valid documents: both validators must agree on every one.
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 70000),
    st.sampled_from([2.0, 1.5, -0.0]),
    st.sampled_from(
        [
            "",
            "x",
            "25%",
            "150%",
            "apps/v1",
            "StatefulSet",
            "None",
            "RollingUpdate",
            "OrderReady",
            "10%",
            "Bad_Name",
            "a-b",
        ]
    ),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(["name", "replicas", "size", "x", "maxSkew", "enable", "port"]),
            inner,
            max_size=3,
        ),
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            if k != "template" and (prefix or k not in ("apiVersion", "kind")):
                out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _documents() -> list[dict[str, Any]]:
    import yaml

    docs = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d["kind"] == "RoleBasedGroup"]
    # the v1alpha1 schema's examples (the v1alpha2 one has tests/test_schema_v1alpha2.py)
    return [d for d in docs if d["apiVersion"] == "workloads.x-k8s.io/v1alpha1"]


DOCS = _documents()
REFERENCE = reference_validator()


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(DOCS), st.data(), _VALUES)
def test_walker_agrees_with_jsonschema(
    doc: dict[str, Any], data: st.DataObject, value: Any
) -> None:
    mutated = copy.deepcopy(doc)
    path = data.draw(st.sampled_from(_paths(mutated)[1:]))
    parent: Any = mutated
    for part in path[:-1]:
        parent = parent[part]
    if isinstance(parent, dict) and data.draw(st.booleans()):
        parent[f"{path[-1]}x"] = value  # an unknown sibling key
    else:
        parent[path[-1]] = value
    try:
        (parsed,) = parse_text(json.dumps(mutated), "m.json")
    except DiagnosticError:  # the loader refuses it first (e.g. metadata not a mapping)
        assert not REFERENCE.is_valid(mutated)
        return
    walker_ok = not rbg_schema.check(parsed)
    assert walker_ok == REFERENCE.is_valid(mutated), json.dumps(mutated)[:400]


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d["metadata"]["name"])
def test_examples_are_valid_for_both(doc: dict[str, Any]) -> None:
    (parsed,) = parse_text(json.dumps(doc), "e.json")
    assert rbg_schema.check(parsed) == []
    assert REFERENCE.is_valid(doc)
