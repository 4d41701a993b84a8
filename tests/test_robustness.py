"""No input, however malformed, makes rbgc crash: it compiles or it reports diagnostics.

A hypothesis fuzz over every example and compat group: a value anywhere in the document
(pod templates included) is replaced by a random JSON value or gets an unknown sibling.
Then the mutation classes that once crashed or hung some command (non-mapping metadata,
labels, annotations and spec, invalid kinds, deep nesting, huge integers, on RBG and
pass-through objects alike, and special files) go through every command, in process.
"""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from rbgc import emit
from rbgc.cli import main
from rbgc.diagnostics import DiagnosticError
from rbgc.pipeline import Options, compile_documents
from rbgc.source import MAX_DEPTH, parse_text
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
    """Either located diagnostics (no internal error), or objects a cluster would take: each
    with apiVersion, kind and a name, written as YAML that reads back as the same objects."""
    try:
        documents = parse_text(json.dumps(doc), "fuzz.json")
        result = compile_documents(documents, Options())
    except DiagnosticError as exc:
        assert exc.diagnostics, "a DiagnosticError must carry diagnostics"
        assert all(d.code != "RBG901" for d in exc.diagnostics)
        return
    bodies = [m.body for m in result.bundle.manifests]
    assert bodies, "a compiled input gives objects"
    for body in bodies:
        assert body["apiVersion"] and body["kind"] and body["metadata"]["name"], body
    assert list(yaml.safe_load_all(emit.yaml_stream(result.bundle))) == bodies


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


# -- Hostile mutations through every command (issue 8, items 20-25) ---------------------------
#
# Each class below once crashed some command (RBG901), hung it, or let a half-written output
# out. Every mutated input must end, in every command, with the class's diagnostic, a non-zero
# exit, no traceback and no Python repr, nothing on stdout and nothing on disk.

PASS_THROUGH = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}},
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "labels": {"app": "d"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    },
    {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "metadata": {"name": "l", "annotations": {"argocd.argoproj.io/sync-wave": "1"}},
        "spec": {"replicas": 1, "leaderWorkerTemplate": {"size": 2}},
    },
    {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}},
]
HOLE = "@@hole@@"
NOT_A_MAPPING = st.one_of(
    st.integers(-5, 5),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=5),
    st.lists(st.integers(-9, 9), max_size=2),
    st.booleans(),
)
NOT_STRINGS = st.dictionaries(
    st.sampled_from(["a", "app"]), st.one_of(st.integers(-9, 9), st.booleans()), min_size=1
)
# (mutation class, the code it must be reported with)
CLASSES = {
    "metadata": "RBG009",
    "labels": "RBG009",
    "annotations": "RBG009",
    "spec": "RBG009",
    "kind": "RBG009",
    "deep": "RBG013",
    "huge": "RBG012",
}
REPR = re.compile(r"\{'|\['|\('|\bobject at 0x|<class '")


def _hostile_text(doc: dict[str, Any], kind: str, data: st.DataObject) -> str:
    """The document as JSON (which YAML reads), mutated by one class."""
    mutated = copy.deepcopy(doc)
    raw = None
    if kind == "metadata":
        mutated["metadata"] = data.draw(NOT_A_MAPPING)
    elif kind in ("labels", "annotations"):
        mutated["metadata"][kind] = data.draw(st.one_of(NOT_A_MAPPING, NOT_STRINGS))
    elif kind == "spec":
        mutated["spec"] = data.draw(NOT_A_MAPPING.filter(lambda v: v is not None))
    elif kind == "kind":
        mutated["kind"] = data.draw(st.sampled_from(["a/b", "../../x", "Config Map", "v1/Pod"]))
    else:
        path = data.draw(st.sampled_from(_paths(mutated)[1:]))
        parent: Any = mutated
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = HOLE
        if kind == "deep":
            depth = data.draw(st.integers(MAX_DEPTH + 1, 900))
            raw = "[" * depth + "]" * depth
        else:
            digits = data.draw(st.integers(20, 5000))
            raw = data.draw(st.sampled_from(["", "-", "0x"])) + "9" * digits
    text = json.dumps(mutated, indent=1, ensure_ascii=False)
    return text.replace(json.dumps(HOLE), raw) if raw is not None else text


def _invoke(args: list[str], cwd: str, stdin: str | None = None) -> Any:
    before = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, args, input=stdin, env={"KUBE_VERSION": None})
    finally:
        os.chdir(before)


def _resource_list(text: str) -> str:
    return (
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- "
        + text.replace("\n", "\n  ")
        + "\n"
    )


COMMANDS = [
    ["build", "in.yaml"],
    ["build", "in.yaml", "--out", "out"],
    ["build", "in.yaml", "-o", "json"],
    ["build", "in.yaml", "--strict"],
    ["validate", "in.yaml"],
    ["diff", "old.yaml", "in.yaml"],
    ["plan", "old.yaml", "in.yaml"],
    ["sync", "--simulate", "in.yaml"],
    ["post-render"],
    ["krm"],
]


def _diagnosed(result: Any, args: list[str], code: str, folder: str) -> None:
    what = f"rbgc {' '.join(args)}: {result.stderr}"
    assert result.exit_code in (1, 2), what
    assert f"error[{code}]" in result.stderr, what
    assert "RBG901" not in result.stderr and "Traceback" not in result.stderr, what
    assert REPR.search(result.stderr) is None, what
    if args[0] == "krm" and code == "RBG009":
        assert f"[{code}]" in result.stdout  # KRM: results travel in the ResourceList
    else:
        assert result.stdout == "", what
    assert not os.path.exists(os.path.join(folder, "out")), what


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(DOCS[:4] + PASS_THROUGH),
    st.sampled_from(sorted(CLASSES)),
    st.data(),
)
def test_hostile_mutations_are_diagnosed_by_every_command(
    doc: dict[str, Any], kind: str, data: st.DataObject
) -> None:
    text = _hostile_text(doc, kind, data)
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "in.yaml").write_text(text)
        Path(folder, "old.yaml").write_text(json.dumps(doc))
        for args in COMMANDS:
            stdin = {"post-render": text, "krm": _resource_list(text)}.get(args[0])
            _diagnosed(_invoke(args, folder, stdin), args, CLASSES[kind], folder)


SPECIAL_FILES: dict[str, Callable[[Path], None]] = {
    "fifo": os.mkfifo,
    "device": lambda p: p.symlink_to("/dev/zero"),
    "loop": lambda p: p.symlink_to(p),
    "broken": lambda p: p.symlink_to("missing.yaml"),
}


@pytest.mark.parametrize("special", sorted(SPECIAL_FILES))
@pytest.mark.parametrize("where", ["folder", "direct"])
def test_special_files_are_diagnosed_by_every_command(special: str, where: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        apps = Path(folder, "apps")
        apps.mkdir()
        (apps / "ok.yaml").write_text(json.dumps(PASS_THROUGH[0]))
        SPECIAL_FILES[special](apps / "x.yaml")
        Path(folder, "old.yaml").write_text(json.dumps(PASS_THROUGH[0]))
        target = "apps" if where == "folder" else "apps/x.yaml"
        # a regression that blocks on a FIFO must fail the test, not hang it
        signal.signal(signal.SIGALRM, lambda *_: pytest.fail(f"rbgc blocked on a {special}"))
        for args in COMMANDS[:8]:
            args = [target if a == "in.yaml" else a for a in args]
            signal.alarm(20)
            try:
                result = _invoke(args, folder)
            finally:
                signal.alarm(0)
            _diagnosed(result, args, "RBG008", folder)
            assert "apps/x.yaml: error[RBG008]" in result.stderr
