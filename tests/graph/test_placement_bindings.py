"""Placement rules drawn as bindings, from the recorded facts (GroupFacts.placement)."""

from __future__ import annotations

from rbgc.graph.scene import BindingKind, scene_of
from rbgc.pipeline import Options, compile_paths
from tests.conftest import EXAMPLES


def test_pack_spread_separate_are_bindings_of_their_roles() -> None:
    result = compile_paths([str(EXAMPLES / "pd-topology.yaml")], Options())
    (cluster,) = scene_of(result.bundle).clusters
    roles = {n.id: n.lines[0] for w in cluster.waves for n in w.roles}
    drawn = [(b.kind, b.node.lines, sorted(roles[r] for r in b.roles)) for b in cluster.bindings]
    assert drawn == [
        (BindingKind.PACK, ("pack in one zone", "prefer host > nvlink"), ["decode", "prefill"]),
        (BindingKind.SPREAD, ("spread over zone", "maxSkew 1, required"), ["router"]),
        (BindingKind.SEPARATE, ("separate by host", "required"), ["router"]),
    ]
