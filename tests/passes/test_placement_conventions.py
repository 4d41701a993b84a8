"""Placement terms select the group's own pods, whichever operator release's labels they carry.

Found when v1alpha2 (HEAD's labels, `rbg.workloads.x-k8s.io/*`) met placement: the terms were
written with v0.4.0's keys only, so under `--conventions v0.8` they selected no pod at all.
"""

from __future__ import annotations

from typing import Any

import pytest

from rbgc.model import Scheduler, Target
from rbgc.pipeline import Options, compile_paths
from tests.conftest import EXAMPLES

EXAMPLE = str(EXAMPLES / "pd-topology.yaml")


def _selectors(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "labelSelector" and isinstance(value, dict):
                found.append(value)
            else:
                found.extend(_selectors(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_selectors(item))
    return found


def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for expr in selector.get("matchExpressions", ()):
        value = labels.get(expr["key"])
        op = expr["operator"]
        if op == "In" and value not in expr["values"]:
            return False
        if op == "NotIn" and value in expr["values"]:
            return False
        if op == "Exists" and value is None:
            return False
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


@pytest.mark.parametrize("conventions", ["v0.4", "v0.8"])
@pytest.mark.parametrize("scheduler", list(Scheduler))
def test_every_placement_term_selects_pods_of_the_group(
    conventions: str, scheduler: Scheduler
) -> None:
    target = Target(conventions=conventions, scheduler=scheduler)
    bundle = compile_paths([EXAMPLE], Options(target=target)).bundle
    pods = [
        m.body["spec"]["template"]["metadata"]["labels"]
        for m in bundle.manifests
        if m.kind in ("StatefulSet", "Deployment")
    ]
    terms = [
        s
        for m in bundle.manifests
        for s in _selectors(m.body.get("spec"))
        if m.kind != "Service"  # a Service's selector is matchLabels at spec.selector
    ]
    own = [
        s
        for s in terms
        if not any(e.get("operator") in ("NotIn", "Exists") for e in s.get("matchExpressions", ()))
    ]
    assert own, "the example has placement terms"
    for selector in own:
        assert any(_matches(selector, p) for p in pods), (conventions, selector)
