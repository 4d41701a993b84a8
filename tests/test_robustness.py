"""No input, however malformed, makes rbgc crash: it compiles or it reports diagnostics.

A hypothesis fuzz over every example and compat group: a value anywhere in the document
(pod templates included) is replaced by a random JSON value or gets an unknown sibling.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from rbgc.diagnostics import DiagnosticError
from rbgc.pipeline import Options, compile_documents
from rbgc.source import parse_text
from tests.conftest import COMPAT, EXAMPLES

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False),
    st.sampled_from(
        [
            "",
            "x",
            "25%",
            "-1%",
            "1e3",
            "apps/v1",
            "LeaderWorkerSet",
            "Prefill",
            "$patch",
            "delete",
            "replace",
            "None",
            "a" * 70,
        ]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                ["name", "size", "env", "containers", "spec", "metadata", "labels", "$patch", "x"]
            ),
            inner,
            max_size=3,
        ),
    ),
    max_leaves=6,
)


def _documents() -> list[dict[str, Any]]:
    docs = []
    for path in [*sorted(EXAMPLES.glob("*.yaml")), *sorted(COMPAT.rglob("*.yaml"))]:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") in ("RoleBasedGroup", "RoleBasedGroupSet"):
                docs.append(doc)
    return docs


DOCS = _documents()


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def compiles_or_diagnoses(doc: Any) -> None:
    try:
        documents = parse_text(json.dumps(doc), "fuzz.json")
        compile_documents(documents, Options())
    except DiagnosticError as exc:
        assert exc.diagnostics, "a DiagnosticError must carry diagnostics"
        assert all(d.code != "RBG901" for d in exc.diagnostics)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(DOCS), st.data(), VALUES)
def test_any_mutation_compiles_or_is_diagnosed(
    doc: dict[str, Any], data: st.DataObject, value: Any
) -> None:
    mutated = copy.deepcopy(doc)
    path = data.draw(st.sampled_from(_paths(mutated)[1:]))
    parent: Any = mutated
    for part in path[:-1]:
        parent = parent[part]
    if isinstance(parent, dict) and data.draw(st.booleans()):
        parent[f"{path[-1]}x"] = value
    else:
        parent[path[-1]] = value
    compiles_or_diagnoses(mutated)


@pytest.mark.parametrize(
    "patch",
    [
        {"spec": {"containers": None}},
        {"spec": {"containers": [{"name": "c", "env": "oops"}]}},
        {"spec": {"containers": [{"name": "c", "volumeMounts": [None]}]}},
        {"metadata": {"labels": ["x"]}},
        {"spec": {"affinity": {"podAffinity": [1]}}},
    ],
)
def test_patches_that_break_the_template_are_diagnosed(patch: dict[str, Any]) -> None:
    doc = {
        "apiVersion": "workloads.x-k8s.io/v1alpha1",
        "kind": "RoleBasedGroup",
        "metadata": {
            "name": "g",
            "annotations": {
                "rolebasedgroup.workloads.x-k8s.io/exclusive-topology": "kubernetes.io/hostname"
            },
        },
        "spec": {
            "roles": [
                {
                    "name": "w",
                    "workload": {
                        "apiVersion": "leaderworkerset.x-k8s.io/v1",
                        "kind": "LeaderWorkerSet",
                    },
                    "leaderWorkerSet": {"size": 2, "patchWorkerTemplate": patch},
                    "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}},
                }
            ]
        },
    }
    with pytest.raises(DiagnosticError) as exc:
        compile_documents(parse_text(json.dumps(doc), "p.json"), Options())
    # a malformed result (RBG101/RBG103) or a patch strategic merge cannot apply (RBG132)
    codes = {d.code for d in exc.value.diagnostics}
    assert codes and codes <= {"RBG101", "RBG103", "RBG132"}
