"""Strategic merge patch of pod templates, as k8s.io/apimachinery's strategicpatch does it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rbgc.k8s import smp

BASE: dict[str, Any] = {
    "metadata": {"labels": {"app": "x", "tier": "a"}},
    "spec": {
        "containers": [
            {
                "name": "main",
                "image": "img:1",
                "args": ["a", "b"],
                "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 81}],
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "volumeMounts": [{"name": "v", "mountPath": "/data"}],
            },
            {"name": "side", "image": "side:1"},
        ],
        "volumes": [{"name": "v", "emptyDir": {}}],
        "tolerations": [{"key": "gpu", "operator": "Exists"}],
        "nodeSelector": {"pool": "a"},
    },
}


@pytest.mark.parametrize(
    ("patch", "check"),
    [
        # containers merge by name: only the named one changes, others stay in place
        (
            {"spec": {"containers": [{"name": "main", "image": "img:2"}]}},
            lambda r: [c["image"] for c in r["spec"]["containers"]] == ["img:2", "side:1"],
        ),
        # a new container goes first: strategicpatch's normalizeElementOrder puts items the
        # original lacks before the original's remaining ones
        (
            {"spec": {"containers": [{"name": "new", "image": "n"}]}},
            lambda r: [c["name"] for c in r["spec"]["containers"]] == ["new", "main", "side"],
        ),
        # ports merge by containerPort
        (
            {
                "spec": {
                    "containers": [
                        {"name": "main", "ports": [{"containerPort": 80, "name": "web"}]}
                    ]
                }
            },
            lambda r: (
                r["spec"]["containers"][0]["ports"]
                == [{"containerPort": 80, "name": "web"}, {"containerPort": 81}]
            ),
        ),
        # env merges by name; volumeMounts by mountPath
        (
            {
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "env": [{"name": "B", "value": "9"}],
                            "volumeMounts": [{"name": "w", "mountPath": "/data"}],
                        }
                    ]
                }
            },
            lambda r: (
                r["spec"]["containers"][0]["env"][1] == {"name": "B", "value": "9"}
                and r["spec"]["containers"][0]["volumeMounts"]
                == [{"name": "w", "mountPath": "/data"}]
            ),
        ),
        # lists without a merge strategy are replaced (args, tolerations)
        (
            {
                "spec": {
                    "containers": [{"name": "main", "args": ["c"]}],
                    "tolerations": [{"key": "x", "operator": "Exists"}],
                }
            },
            lambda r: (
                r["spec"]["containers"][0]["args"] == ["c"]
                and r["spec"]["tolerations"] == [{"key": "x", "operator": "Exists"}]
            ),
        ),
        # maps merge; null deletes a key
        (
            {"metadata": {"labels": {"role": "leader", "tier": None}}},
            lambda r: r["metadata"]["labels"] == {"app": "x", "role": "leader"},
        ),
        # $patch: delete removes one list element
        (
            {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}},
            lambda r: [c["name"] for c in r["spec"]["containers"]] == ["main"],
        ),
        # $patch: replace on a map replaces it whole
        (
            {"spec": {"nodeSelector": {"$patch": "replace", "pool": "b"}}},
            lambda r: r["spec"]["nodeSelector"] == {"pool": "b"},
        ),
        # $patch: replace inside a merged list replaces the list
        (
            {"spec": {"volumes": [{"$patch": "replace"}, {"name": "only", "emptyDir": {}}]}},
            lambda r: r["spec"]["volumes"] == [{"name": "only", "emptyDir": {}}],
        ),
        # $patch: delete on a map removes it
        (
            {"spec": {"nodeSelector": {"$patch": "delete"}}},
            lambda r: "nodeSelector" not in r["spec"],
        ),
        # $deleteFromPrimitiveList on a merged primitive list, $retainKeys on a map
        (
            {"spec": {"containers": [{"name": "main", "$retainKeys": ["name", "image"]}]}},
            lambda r: r["spec"]["containers"][0] == {"name": "main", "image": "img:1"},
        ),
    ],
)
def test_strategic_merge(patch: dict[str, Any], check: Any) -> None:
    before = json.dumps(BASE, sort_keys=True)
    result = smp.strategic_merge(BASE, patch)
    assert check(result), json.dumps(result, indent=1)
    assert json.dumps(BASE, sort_keys=True) == before, "the original must not change"


def test_empty_patch_is_identity() -> None:
    assert smp.strategic_merge(BASE, {}) == BASE


@pytest.mark.parametrize(
    "patch",
    [
        {"spec": {"containers": [{"image": "no-name"}]}},
        {"spec": {"containers": ["not-an-object"]}},
        {"$patch": "sideways"},
    ],
)
def test_invalid_patches_are_refused(patch: dict[str, Any]) -> None:
    with pytest.raises(smp.PatchError):
        smp.strategic_merge(BASE, patch)


def test_patch_table_is_generated_from_the_bundled_kubernetes_schema() -> None:
    assert smp._regenerate() == smp.table(), "run `python -m rbgc.k8s.smp` to refresh it"
    containers = smp.table()["io.k8s.api.core.v1.PodSpec"]["containers"]
    assert containers == {
        "mergeKey": "name",
        "strategy": "merge",
        "type": "io.k8s.api.core.v1.Container",
    }


@pytest.mark.parametrize(
    ("original", "patch", "expected"),
    [
        # the patch's order wins for the items it names, new items come before the rest
        (["main"], ["sidecar", "main"], ["sidecar", "main"]),
        (["a", "b", "c"], ["b"], ["a", "b", "c"]),
        (["a", "b", "c"], ["x", "c"], ["x", "a", "b", "c"]),
        # mergeSortedSlice: b (original index 1) precedes c (index 2), then the patch's c, a
        (["a", "b", "c"], ["c", "a"], ["b", "c", "a"]),
    ],
)
def test_list_order_follows_kubernetes(
    original: list[str], patch: list[str], expected: list[str]
) -> None:
    base = {"spec": {"containers": [{"name": n, "image": "i"} for n in original]}}
    result = smp.strategic_merge(base, {"spec": {"containers": [{"name": n} for n in patch]}})
    assert [c["name"] for c in result["spec"]["containers"]] == expected


def test_env_added_by_a_patch_precedes_the_env_that_refers_to_it() -> None:
    base = {"spec": {"containers": [{"name": "m", "env": [{"name": "OLD", "value": "$(NEW)"}]}]}}
    patch = {"spec": {"containers": [{"name": "m", "env": [{"name": "NEW", "value": "1"}]}]}}
    env = smp.strategic_merge(base, patch)["spec"]["containers"][0]["env"]
    assert [e["name"] for e in env] == ["NEW", "OLD"]
