"""A scene as a Graphviz DOT digraph (`dot -Tsvg`, `dot -Tpng`).

Every string is double-quoted with `\\` and `"` escaped, so a backslash in user text stays a
backslash (not one of DOT's `\\N`, `\\l`, ... label escapes) and no text can end a string;
label lines are joined with `\\n`. Ids come from the scene and are quoted all the same.
"""

from __future__ import annotations

from collections.abc import Iterable

from rbgc.graph.scene import EMPTY_NOTE, Binding, BindingKind, Cluster, Node, Scene

_HEAD = (
    "digraph rbgc {",
    '  graph [rankdir=TB, fontname="Helvetica", fontsize=12, newrank=true];',
    '  node [shape=box, style="rounded,filled", fillcolor="#eef3ff", color="#3b5b9a", '
    'fontname="Helvetica", fontsize=11];',
    '  edge [color="#444444"];',
)

# attributes of each binding kind's node
_STYLES = {
    BindingKind.GANG: 'shape=hexagon, style="dashed,filled", fillcolor="#fff4e0", color="#b36b00"',
    BindingKind.COORDINATION: (
        'shape=parallelogram, style="dashed,filled", fillcolor="#eaf7ea", color="#2e7d32"'
    ),
    BindingKind.PACK: (
        'shape=box, style="rounded,dashed,filled", fillcolor="#f3eafb", color="#6a1b9a"'
    ),
    BindingKind.SPREAD: (
        'shape=trapezium, style="dashed,filled", fillcolor="#e6f4f8", color="#00695c"'
    ),
    BindingKind.SEPARATE: (
        'shape=octagon, style="dashed,filled", fillcolor="#fdecea", color="#b71c1c"'
    ),
}


def _escape(text: str) -> str:
    text = " ".join(text.splitlines())
    return text.replace("\\", "\\\\").replace('"', '\\"')


def quote(text: str) -> str:
    """One line of text as a DOT string: backslashes and quotes escaped, newlines spaced."""
    return '"' + _escape(text) + '"'


def label(lines: Iterable[str]) -> str:
    """Label lines as one DOT string, each line centred (DOT's `\\n`)."""
    return '"' + "\\n".join(_escape(line) for line in lines) + '"'


def _node(node: Node, extra: str = "") -> str:
    attrs = f"label={label(node.lines)}" + (f", {extra}" if extra else "")
    return f"{quote(node.id)} [{attrs}];"


def _binding(b: Binding) -> str:
    return _node(b.node, _STYLES[b.kind])


def _cluster(c: Cluster) -> list[str]:
    out = [
        f"  subgraph {quote('cluster_' + c.id)} {{",
        f"    label={quote(c.title)};",
        '    labeljust=l; style="rounded"; color="#666666";',
    ]
    for wave in c.waves:
        out += [
            f"    subgraph {quote('cluster_' + wave.id)} {{",
            f"      label={quote(wave.title)};",
            '      style="dashed"; color="#999999";',
        ]
        out += [f"      {_node(n)}" for n in wave.roles]
        out.append("    }")
    out += [f"    {_binding(b)}" for b in c.bindings]
    out.append("  }")
    return out


def render(scene: Scene) -> str:
    out = list(_HEAD)
    if not scene.clusters:
        out.append(f'  "empty" [label={quote(EMPTY_NOTE)}, shape=note];')
    for c in scene.clusters:
        out += _cluster(c)
    out += [f"  {quote(e.source)} -> {quote(e.target)};" for e in scene.edges]
    for c in scene.clusters:
        for b in c.bindings:
            out += [
                f"  {quote(b.node.id)} -> {quote(role)} [style=dashed, arrowhead=none];"
                for role in b.roles
            ]
    out.append("}")
    return "\n".join(out) + "\n"
