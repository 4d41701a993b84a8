"""Pictures of what the build decided: `rbgc graph` (Mermaid, Graphviz DOT), the rollout chart
of `rbgc plan -o markdown`, and per-role progress bars for a terminal.

`scene.py` turns a bundle's recorded facts into a drawing-neutral scene (clusters, waves,
nodes, edges, bindings); `mermaid.py` and `dot.py` each print a scene in their language;
`chart.py` draws a Plan; `bars.py` draws a Plan step's role states. Nothing here reads a pass
or the IR, and `rbgc build` never imports this package.
"""

from __future__ import annotations

from rbgc.bundle import Bundle

FORMATS = ("mermaid", "dot")


def render(bundle: Bundle, output: str) -> str:
    """The picture of every group of `bundle`, in `output` (one of FORMATS)."""
    from rbgc.graph import dot, mermaid
    from rbgc.graph.scene import scene_of

    scene = scene_of(bundle)
    return dot.render(scene) if output == "dot" else mermaid.render(scene)
