"""Pass 2: dependencies -> waves; unknown, self and cyclic dependencies."""

from __future__ import annotations

import pytest

from rbgc.diagnostics import DiagnosticError
from rbgc.parse import parse
from rbgc.passes.dependencies import resolve_dependencies
from rbgc.source import parse_text


def _group(deps: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    roles = "".join(
        f"  - name: {name}\n    dependencies: [{', '.join(d)}]\n"
        f"    template: {{spec: {{containers: [{{name: c, image: i}}]}}}}\n"
        for name, d in deps.items()
    )
    text = (
        "apiVersion: workloads.x-k8s.io/v1alpha1\nkind: RoleBasedGroup\n"
        f"metadata: {{name: g}}\nspec:\n  roles:\n{roles}"
    )
    return parse(parse_text(text, "g.yaml"), "default").groups[0]


@pytest.mark.parametrize(
    ("deps", "waves"),
    [
        ({"a": []}, {"a": 0}),
        ({"a": [], "b": ["a"]}, {"a": 0, "b": 1}),
        # router after both; prefill and decode start together
        (
            {"router": ["prefill", "decode"], "prefill": [], "decode": []},
            {"router": 1, "prefill": 0, "decode": 0},
        ),
        # the deepest dependency decides: d waits for c (wave 2), not a (wave 0)
        ({"a": [], "b": ["a"], "c": ["b"], "d": ["a", "c"]}, {"a": 0, "b": 1, "c": 2, "d": 3}),
        # duplicate entries are harmless, as upstream
        ({"a": [], "b": ["a", "a"]}, {"a": 0, "b": 1}),
    ],
)
def test_waves(deps: dict[str, list[str]], waves: dict[str, int]) -> None:
    result = resolve_dependencies(_group(deps))
    assert dict(result.of_role) == waves
    assert list(result.order) == sorted(waves, key=lambda r: (waves[r], r))


def test_long_chain_does_not_recurse() -> None:
    deps = {f"r{i}": [f"r{i - 1}"] if i else [] for i in range(1500)}
    assert resolve_dependencies(_group(deps)).of_role["r1499"] == 1499


def test_unknown_dependency_suggests_the_closest_role() -> None:
    with pytest.raises(DiagnosticError) as exc:
        resolve_dependencies(_group({"prefill": [], "router": ["prefil"]}))
    (d,) = exc.value.diagnostics
    assert d.code == "RBG201"
    assert d.message == "role 'router' depends on unknown role 'prefil'"
    assert d.help == "did you mean 'prefill'?"
    assert (d.span.line, d.span.col) == (10, 20)  # type: ignore[union-attr]


def test_self_dependency() -> None:
    with pytest.raises(DiagnosticError) as exc:
        resolve_dependencies(_group({"a": ["a"]}))
    assert [d.code for d in exc.value.diagnostics] == ["RBG202"]


def test_cycle_is_reported_whole_with_a_note_per_edge() -> None:
    with pytest.raises(DiagnosticError) as exc:
        resolve_dependencies(
            _group(
                {"router": ["prefill"], "prefill": ["decode"], "decode": ["router"], "other": []}
            )
        )
    (d,) = exc.value.diagnostics
    assert d.code == "RBG203"
    assert d.message == "dependency cycle: decode -> router -> prefill -> decode"
    assert [n for _, n in d.notes] == [
        "'decode' depends on 'router' here",
        "'router' depends on 'prefill' here",
        "'prefill' depends on 'decode' here",
    ]
    assert len({s.line for s, _ in d.notes}) == 3


def test_two_separate_cycles_are_both_reported() -> None:
    with pytest.raises(DiagnosticError) as exc:
        resolve_dependencies(_group({"a": ["b"], "b": ["a"], "c": ["d"], "d": ["c"]}))
    assert [d.message for d in exc.value.diagnostics] == [
        "dependency cycle: a -> b -> a",
        "dependency cycle: c -> d -> c",
    ]
