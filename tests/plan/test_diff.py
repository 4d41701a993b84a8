"""diff: classification tables for every change class and workload kind, masking, counts."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from rbgc.bundle import Bundle
from rbgc.diagnostics import Span
from rbgc.k8s.manifest import Manifest
from rbgc.plan.diff import ABSENT, MASK, Added, Changed, Removed, diff_bundles, diff_objects
from rbgc.plan.impact import ChangeClass
from tests.conftest import compile_yaml

R, S, C, X, M = (
    ChangeClass.RESTARTS,
    ChangeClass.SCALE,
    ChangeClass.CONFIG,
    ChangeClass.RECREATE,
    ChangeClass.METADATA,
)


def manifest(body: dict[str, Any]) -> Manifest:
    return Manifest(body=body, wave=0, origin=Span("t.yaml"))


def sts(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "serviceName": "g-r",
        "replicas": 4,
        "podManagementPolicy": "Parallel",
        "selector": {"matchLabels": {"a": "b"}},
        "template": {
            "metadata": {"labels": {"a": "b"}},
            "spec": {"containers": [{"name": "main", "image": "img:1"}]},
        },
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
    }
    base.update(spec)
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "g-r", "namespace": "ns", "labels": {"x": "1"}},
        "spec": base,
    }


def deploy() -> dict[str, Any]:
    body = sts()
    body["kind"] = "Deployment"
    for key in ("serviceName", "podManagementPolicy", "updateStrategy"):
        del body["spec"][key]
    body["spec"]["strategy"] = {"type": "RollingUpdate"}
    return body


def lws() -> dict[str, Any]:
    template = sts()["spec"]["template"]
    return {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "metadata": {"name": "g-r", "namespace": "ns"},
        "spec": {
            "replicas": 3,
            "leaderWorkerTemplate": {
                "size": 4,
                "leaderTemplate": copy.deepcopy(template),
                "workerTemplate": copy.deepcopy(template),
            },
            "rolloutStrategy": {"rollingUpdateConfiguration": {"partition": 1}},
        },
    }


def configmap(**extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "ns"},
        "data": {"config.yaml": "a: 1\n"},
        **extra,
    }


def change(body: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    new = copy.deepcopy(body)
    target = new
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return new


IMAGE = ("spec", "template", "spec", "containers", 0, "image")
LWS_WORKER_IMAGE = (
    "spec",
    "leaderWorkerTemplate",
    "workerTemplate",
    "spec",
    "containers",
    0,
    "image",
)

# (case, old body, changed path, new value, classes, restarts)
TABLE: list[tuple[str, dict[str, Any], tuple[Any, ...], Any, tuple[ChangeClass, ...], int]] = [
    ("sts image", sts(), IMAGE, "img:2", (R,), 4),
    ("sts template label", sts(), ("spec", "template", "metadata", "labels", "v"), "2", (R,), 4),
    ("sts replicas", sts(), ("spec", "replicas"), 6, (S,), 0),
    ("sts partition", sts(), ("spec", "updateStrategy", "rollingUpdate", "partition"), 2, (C,), 0),
    ("sts minReadySeconds", sts(), ("spec", "minReadySeconds"), 10, (C,), 0),
    ("sts label", sts(), ("metadata", "labels", "x"), "2", (M,), 0),
    ("sts selector", sts(), ("spec", "selector", "matchLabels", "a"), "c", (X,), 4),
    ("sts serviceName", sts(), ("spec", "serviceName"), "other", (X,), 4),
    ("sts podManagementPolicy", sts(), ("spec", "podManagementPolicy"), "OrderedReady", (X,), 4),
    (
        "sts volumeClaimTemplates",
        sts(),
        ("spec", "volumeClaimTemplates"),
        [{"metadata": {}}],
        (X,),
        4,
    ),
    ("deploy image", deploy(), IMAGE, "img:2", (R,), 4),
    ("deploy replicas", deploy(), ("spec", "replicas"), 2, (S,), 0),
    ("deploy strategy", deploy(), ("spec", "strategy", "type"), "Recreate", (C,), 0),
    ("deploy selector", deploy(), ("spec", "selector", "matchLabels", "a"), "c", (X,), 4),
    ("deploy annotation", deploy(), ("metadata", "annotations"), {"a": "b"}, (M,), 0),
    # LWS: a whole group of `size` pods restarts; groups below the partition (1) are kept.
    ("lws worker image", lws(), LWS_WORKER_IMAGE, "img:2", (R,), 8),
    ("lws replicas", lws(), ("spec", "replicas"), 5, (S,), 0),
    ("lws size", lws(), ("spec", "leaderWorkerTemplate", "size"), 8, (X,), 12),
    ("configmap data", configmap(), ("data", "config.yaml"), "a: 2\n", (C,), 0),
    ("immutable configmap data", configmap(immutable=True), ("data", "config.yaml"), "b", (X,), 0),
    ("configmap label", configmap(), ("metadata", "labels"), {"a": "b"}, (M,), 0),
    (
        "service clusterIP",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "s"},
            "spec": {"clusterIP": "None", "selector": {"a": "b"}},
        },
        ("spec", "clusterIP"),
        "",
        (X,),
        0,
    ),
    (
        "service selector",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "s"},
            "spec": {"clusterIP": "None", "selector": {"a": "b"}},
        },
        ("spec", "selector", "a"),
        "c",
        (C,),
        0,
    ),
    (
        "job template",
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "j"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "a"}]}}},
        },
        ("spec", "template", "spec", "containers", 0, "image"),
        "b",
        (X,),
        0,
    ),
]


@pytest.mark.parametrize(
    ("old", "path", "value", "classes", "restarts"),
    [case[1:] for case in TABLE],
    ids=[case[0] for case in TABLE],
)
def test_classification(
    old: dict[str, Any],
    path: tuple[Any, ...],
    value: Any,
    classes: tuple[ChangeClass, ...],
    restarts: int,
) -> None:
    found = diff_objects(manifest(old), manifest(change(old, path, value)))
    assert found is not None
    assert found.classes == classes
    assert found.restarts == restarts
    assert [f.cls for f in found.fields] == list(classes)


def test_equal_objects_are_no_change() -> None:
    assert diff_objects(manifest(sts()), manifest(sts())) is None


def test_field_paths_name_list_items_and_keep_old_and_new() -> None:
    found = diff_objects(manifest(sts()), manifest(change(sts(), IMAGE, "img:2")))
    assert found is not None
    (field,) = found.fields
    assert field.display == "spec.template.spec.containers[main].image"
    assert (field.old, field.new) == ("img:1", "img:2")


def test_added_and_removed_fields_are_absent_on_one_side() -> None:
    old = sts()
    new = change(old, ("spec", "minReadySeconds"), 5)
    found = diff_objects(manifest(old), manifest(new))
    assert found is not None and found.fields[0].old is ABSENT
    back = diff_objects(manifest(new), manifest(old))
    assert back is not None and back.fields[0].new is ABSENT


def test_recreate_consequences_are_spelled_out() -> None:
    found = diff_objects(manifest(sts()), manifest(change(sts(), ("spec", "serviceName"), "x")))
    assert found is not None
    text = " ".join(found.consequences)
    assert "spec.serviceName cannot be changed in place" in text
    assert "terminates all 4 pod(s) at once" in text
    assert "Replace=true" in text


def secret(**data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "ns"},
        "data": dict(data),
    }


def test_secret_values_are_masked_and_changes_still_show() -> None:
    old = manifest(secret(token="c2VjcmV0", same="eA=="))
    new = manifest(secret(token="bmV3", same="eA==", extra="eQ=="))
    found = diff_objects(old, new)
    assert found is not None
    text = repr(found)
    for plain in ("c2VjcmV0", "bmV3", "eA==", "eQ=="):
        assert plain not in text
    by_path = {f.display: f for f in found.fields}
    assert by_path["data.token"].old == MASK
    assert by_path["data.token"].new == MASK + "++++"
    assert by_path["data.extra"].new == MASK
    assert "data.same" not in by_path
    assert found.classes == (C,)


def test_added_secret_is_masked() -> None:
    (added,) = diff_bundles(Bundle(manifests=()), Bundle(manifests=(manifest(secret(k="dg==")),)))
    assert isinstance(added, Added)
    assert added.manifest.body["data"] == {"k": MASK}


def test_bundle_diff_matches_by_identity_and_orders_by_apply_order() -> None:
    a, b = manifest(configmap()), manifest(sts())
    gone = manifest({**configmap(), "metadata": {"name": "gone", "namespace": "ns"}})
    changes = diff_bundles(
        Bundle(manifests=(a, gone, b)),
        Bundle(manifests=(manifest(change(sts(), IMAGE, "x")), a)),
    )
    assert [type(c) for c in changes] == [Removed, Changed]
    assert [c.subject.name for c in changes] == ["gone", "g-r"]


PD = """
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata: {name: pd, namespace: llm}
spec:
  roles:
    - name: router
      replicas: 2
      dependencies: [prefill, decode]
      workload: {apiVersion: apps/v1, kind: Deployment}
      template: {spec: {containers: [{name: r, image: "router:ROUTER"}]}}
    - name: prefill
      replicas: PREFILL
      servicePorts: [{name: http, port: PORT}]
      template: {spec: {containers: [{name: s, image: "engine:1"}]}}
    - name: decode
      replicas: 1
      template: {spec: {containers: [{name: s, image: "engine:DECODE"}]}}
"""


def pd(prefill: int = 2, port: int = 8000, router: str = "1", decode: str = "1") -> Bundle:
    text = (
        PD.replace("PREFILL", str(prefill))
        .replace("PORT", str(port))
        .replace("ROUTER", router)
        .replace("DECODE", decode)
    )
    return compile_yaml(text).bundle


def _by_object(changes: tuple[Any, ...]) -> dict[str, tuple[str, ...]]:
    return {
        f"{c.subject.kind}/{c.subject.name}": tuple(k.value for k in c.classes) for c in changes
    }


def test_scaling_only_restarts_nothing() -> None:
    changes = diff_bundles(pd(), pd(prefill=3))
    assert sum(c.restarts for c in changes if isinstance(c, Changed)) == 0
    assert _by_object(changes) == {
        "ConfigMap/pd-decode": ("config",),
        "ConfigMap/pd-prefill": ("config",),
        "StatefulSet/pd-prefill": ("scale", "metadata"),  # the role-size annotation
        "Service/pd-prefill": ("metadata",),
        "ConfigMap/pd-router": ("config",),
    }


def test_config_only_restarts_nothing() -> None:
    changes = diff_bundles(pd(), pd(port=9000))
    assert {classes for classes in _by_object(changes).values()} == {("config",)}
    assert all(c.restarts == 0 for c in changes if isinstance(c, Changed))


def test_unrelated_role_change_restarts_only_that_role() -> None:
    changes = diff_bundles(pd(), pd(router="2"))
    assert _by_object(changes) == {"Deployment/pd-router": ("restarts",)}
    (only,) = changes
    assert isinstance(only, Changed) and only.restarts == 2
