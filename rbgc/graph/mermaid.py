"""A scene as a Mermaid flowchart (GitHub and GitLab render it inside markdown).

Labels are double-quoted and escaped with Mermaid's entity codes (`#quot;`, `#35;`, ...), so
no user text can end a label or open HTML; ids come from the scene and never need escaping.
Every node is declared inside its subgraph before any link: Mermaid puts a node in the
subgraph where it first appears.
"""

from __future__ import annotations

from collections.abc import Iterable

from rbgc.graph.scene import EMPTY_NOTE, Binding, BindingKind, Cluster, Node, Scene

# Mermaid's entity codes; '#' first, since every other replacement writes one.
_ENTITIES = (
    ("#", "#35;"),
    ('"', "#quot;"),
    ("&", "#amp;"),
    ("<", "#lt;"),
    (">", "#gt;"),
    ("`", "#96;"),
)

# (opening, closing) of each binding kind's node shape
_SHAPES = {
    BindingKind.GANG: ("{{", "}}"),  # hexagon
    BindingKind.COORDINATION: ("[/", "/]"),  # parallelogram
    BindingKind.PACK: ("([", "])"),  # stadium
    BindingKind.SPREAD: ("[/", "\\]"),  # trapezoid
    BindingKind.SEPARATE: ("[[", "]]"),  # subroutine
}

_GROUP_CLASS = "fill:#ffffff,stroke:#666666,color:#111"
_WAVE_CLASS = "fill:#f7f7f7,stroke:#999999,stroke-dasharray:4 3,color:#111"
_ROLE_CLASS = "fill:#eef3ff,stroke:#3b5b9a,color:#111"
_BINDING_CLASSES = {
    BindingKind.GANG: "fill:#fff4e0,stroke:#b36b00,stroke-dasharray:4 3,color:#111",
    BindingKind.COORDINATION: "fill:#eaf7ea,stroke:#2e7d32,stroke-dasharray:4 3,color:#111",
    BindingKind.PACK: "fill:#f3eafb,stroke:#6a1b9a,stroke-dasharray:4 3,color:#111",
    BindingKind.SPREAD: "fill:#e6f4f8,stroke:#00695c,stroke-dasharray:4 3,color:#111",
    BindingKind.SEPARATE: "fill:#fdecea,stroke:#b71c1c,stroke-dasharray:4 3,color:#111",
}


def escape(text: str) -> str:
    """One line of label text, safe inside a double-quoted Mermaid label."""
    for raw, code in _ENTITIES:
        text = text.replace(raw, code)
    return " ".join(text.splitlines())


def label(lines: Iterable[str]) -> str:
    return '"' + "<br>".join(escape(line) for line in lines) + '"'


def _node(node: Node, shape: tuple[str, str] = ("[", "]")) -> str:
    return f"{node.id}{shape[0]}{label(node.lines)}{shape[1]}"


def _binding(b: Binding) -> str:
    return _node(b.node, _SHAPES[b.kind])


def _cluster(c: Cluster) -> list[str]:
    out = [f"  subgraph {c.id}[{label([c.title])}]", "    direction TB"]
    for wave in c.waves:
        out.append(f"    subgraph {wave.id}[{label([wave.title])}]")
        out += [f"      {_node(n)}" for n in wave.roles]
        out.append("    end")
    out += [f"    {_binding(b)}" for b in c.bindings]
    out.append("  end")
    return out


def _styles(scene: Scene) -> list[str]:
    """classDef lines, then which ids wear each class (only classes in use)."""
    waves = [w for c in scene.clusters for w in c.waves]
    bindings = [b for c in scene.clusters for b in c.bindings]
    members = {
        "group": ([c.id for c in scene.clusters], _GROUP_CLASS),
        "wave": ([w.id for w in waves], _WAVE_CLASS),
        "role": ([n.id for w in waves for n in w.roles], _ROLE_CLASS),
    }
    for kind in BindingKind:
        ids = [b.node.id for b in bindings if b.kind is kind]
        members[kind.value] = (ids, _BINDING_CLASSES[kind])
    used = {name: entry for name, entry in members.items() if entry[0]}
    lines = [f"classDef {name} {style}" for name, (_, style) in used.items()]
    lines += [f"class {','.join(ids)} {name}" for name, (ids, _) in used.items()]
    return lines


def render(scene: Scene) -> str:
    out = ["flowchart TB"]
    if not scene.clusters:
        out.append(f"  empty[{label([EMPTY_NOTE])}]")
        return "\n".join(out) + "\n"
    for c in scene.clusters:
        out += _cluster(c)
    out += [f"  {e.source} --> {e.target}" for e in scene.edges]
    bindings = [b for c in scene.clusters for b in c.bindings]
    out += [f"  {b.node.id} -.- {role}" for b in bindings for role in b.roles]
    out += [f"  {line}" for line in _styles(scene)]
    return "\n".join(out) + "\n"
