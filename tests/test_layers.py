"""The import graph keeps the architecture: each layer imports only the layers below it.

Every `import` and `from ... import` in rbgc/ is read with `ast`, lazy ones inside functions
included, and checked against the table the README's architecture section states.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "rbgc"

# module prefix -> rbgc modules it must never import (the most specific prefix applies)
FORBIDDEN: dict[str, tuple[str, ...]] = {
    # Paths into JSON values: every layer follows them, so they stand on nothing.
    "rbgc.jsonpath": ("rbgc",),
    # Kubernetes facts and rules: plain data and functions, below everything else.
    "rbgc.k8s": (
        "rbgc.model",
        "rbgc.parse",
        "rbgc.passes",
        "rbgc.pipeline",
        "rbgc.plan",
        "rbgc.sync",
        "rbgc.cli",
    ),
    # A pure reader: overlays are applied by rbgc.inputs, above it (no import cycle).
    "rbgc.source": ("rbgc.overlays", "rbgc.inputs", "rbgc.parse", "rbgc.pipeline", "rbgc.model"),
    "rbgc.overlays": ("rbgc.inputs", "rbgc.parse", "rbgc.passes", "rbgc.pipeline", "rbgc.plan"),
    # The build never reaches for a back end.
    "rbgc.passes": ("rbgc.pipeline", "rbgc.plan", "rbgc.sync", "rbgc.cli"),
    "rbgc.workloads": ("rbgc.passes", "rbgc.pipeline", "rbgc.plan", "rbgc.sync", "rbgc.cli"),
    "rbgc.bundle": ("rbgc.model", "rbgc.passes", "rbgc.pipeline", "rbgc.plan", "rbgc.sync"),
    # Back ends read the compiled bundle's facts: never the IR, its parser, a pass or a lowering.
    "rbgc.plan": (
        "rbgc.model",
        "rbgc.parse",
        "rbgc.parse_v1alpha2",
        "rbgc.passes",
        "rbgc.workloads",
        "rbgc.record",
        "rbgc.pipeline",
        "rbgc.sync",
        "rbgc.cli",
    ),
    "rbgc.sync": (
        "rbgc.model",
        "rbgc.parse",
        "rbgc.parse_v1alpha2",
        "rbgc.passes",
        "rbgc.workloads",
        "rbgc.record",
        "rbgc.pipeline",
        "rbgc.plan.review",
        "rbgc.cli",
    ),
    # A warm-up's front end and lowering: below the pipeline, read by the build and by sync.
    "rbgc.warmup": (
        "rbgc.model",
        "rbgc.parse",
        "rbgc.passes",
        "rbgc.pipeline",
        "rbgc.plan",
        "rbgc.sync",
        "rbgc.fit",
        "rbgc.cli",
    ),
    # Both sides of a review are compiled here: the one back-end module that calls the build.
    "rbgc.plan.review": (
        "rbgc.model",
        "rbgc.parse",
        "rbgc.passes",
        "rbgc.workloads",
        "rbgc.sync",
        "rbgc.cli",
    ),
    "rbgc.fit": ("rbgc.model", "rbgc.parse", "rbgc.passes", "rbgc.workloads", "rbgc.record"),
    "rbgc.graph": ("rbgc.model", "rbgc.parse", "rbgc.passes", "rbgc.workloads", "rbgc.record"),
}


def _module(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return {name for name in found if name == "rbgc" or name.startswith("rbgc.")}


def _rule(module: str) -> tuple[str, ...]:
    best = ""
    for prefix in FORBIDDEN:
        if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
            best = prefix
    return FORBIDDEN.get(best, ())


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module(p))
def test_module_imports_only_the_layers_below_it(path: Path) -> None:
    module = _module(path)
    forbidden = _rule(module)
    bad = sorted(
        name
        for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    )
    assert not bad, f"{module} imports {', '.join(bad)}"


def test_the_table_names_real_modules() -> None:
    modules = {_module(p) for p in MODULES}
    for prefix, names in FORBIDDEN.items():
        for name in (prefix, *names):
            assert any(m == name or m.startswith(name + ".") for m in modules), name


def test_the_readme_architecture_table_names_every_module() -> None:
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Architecture: where a rule lives", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    named: set[str] = set()
    for row in rows:
        cell = row.split("|")[1]
        first = cell.split("`")[1]
        folder = first.rsplit("/", 1)[0] + "/" if "/" in first.rstrip("/") else ""
        for name in cell.split("`")[1::2]:
            path = name if "/" in name else folder + name
            named.add(path)
            if "/" in path.rstrip("/"):
                named.add(path.split("/", 1)[0] + "/")
    for name in named:
        assert (PACKAGE / name).exists(), f"README names rbgc/{name}, which does not exist"
    top = {p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")}
    top |= {p.name + "/" for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert top <= named, f"modules the README's table leaves out: {sorted(top - named)}"


def _graph() -> dict[str, set[str]]:
    """module -> the rbgc modules it imports (lazy imports included; `from pkg import mod`
    is an import of `pkg.mod`, `from mod import name` one of `mod`)."""
    modules = {_module(p): p for p in MODULES}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for a in node.names:
                    child = f"{node.module}.{a.name}"
                    edges.add(child if child in modules else node.module)
        graph[name] = {m for m in edges if m in modules and m != name}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected set of two or more modules (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            members = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                members.append(top)
                if top == node:
                    break
            if len(members) > 1:
                found.append(sorted(members))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_circle_finder_finds_a_lazy_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == [["a", "b", "c"]]
    assert _circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles_lazy_imports_included() -> None:
    """A module imported lazily still belongs to a circle (issue 21.5): none is left."""
    assert _circles(_graph()) == []


def test_no_module_but_the_code_table_is_over_900_lines() -> None:
    """One job per module (issue 21.4): a module past 900 lines is doing several."""
    long = {
        _module(p): n
        for p in MODULES
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 900
        and p != PACKAGE / "codes.py"
    }
    assert long == {}
