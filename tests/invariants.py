"""Invariants every compiled bundle must satisfy, checked on every test input.

Like sqlglot's structural checks after each rule: whatever the input, the output must be
self-consistent and acceptable to Kubernetes.
"""

from __future__ import annotations

import re
from typing import Any

from rbgc.k8s import conventions as cv
from rbgc.k8s.manifest import Manifest
from rbgc.kubeschema import check_bundle
from rbgc.passes.dependencies import resolve_dependencies
from rbgc.pipeline import Result

STRICT_VERSIONS = ("1.30", "1.35")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
WORKLOAD_KINDS = ("StatefulSet", "Deployment", "LeaderWorkerSet")


def _pod_templates(m: Manifest) -> list[dict[str, Any]]:
    out = []
    for path in m.pod_templates:
        value: Any = m.body
        for part in path:
            value = value[part]
        out.append(value)
    return out


# Set in each pod by the LeaderWorkerSet controller (native LWS only).
LWS_ENV = ("LWS_LEADER_ADDRESS", "LWS_GROUP_SIZE", "LWS_WORKER_INDEX", "LWS_NAME")
REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def _conventions(labels: dict[str, str]) -> cv.Conventions:
    """The release whose keys an object carries."""
    return cv.V08 if cv.V08.label_group in labels else cv.V04


def undefined_references(m: Manifest) -> list[str]:
    """`$(VAR)` in a compiled container's command/args that its env does not define (the
    kubelet would pass the text through unexpanded). `$$(VAR)` is an escaped literal."""
    missing = []
    for template in _pod_templates(m):
        spec = template.get("spec", {})
        for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
            if container.get("envFrom"):
                continue  # names come from a ConfigMap/Secret rbgc cannot see
            defined = {e["name"] for e in container.get("env", [])}
            if m.kind == "LeaderWorkerSet":
                defined |= set(LWS_ENV)
            for text in [*container.get("command", []), *container.get("args", [])]:
                for name in REFERENCE.findall(str(text).replace("$$", "")):
                    if name not in defined:
                        missing.append(f"{m.kind} {m.name} container {container['name']}: {name}")
    return missing


def check_invariants(result: Result, versions: tuple[str, ...] = STRICT_VERSIONS) -> None:
    manifests = result.bundle.manifests
    by_identity = {m.identity(): m for m in manifests}
    assert len(by_identity) == len(manifests), "duplicate objects in the bundle"
    assert list(manifests) == sorted(manifests, key=Manifest.sort_key), "bundle not sorted"

    for m in manifests:
        if m.group is None:
            continue
        meta = m.body["metadata"]
        labels, annotations = meta.get("labels", {}), meta.get("annotations", {})
        keys = _conventions(labels)
        assert labels.get(cv.MANAGED_BY) == cv.MANAGER, f"{m.kind} {m.name}: no managed-by"
        assert labels.get(keys.label_group) == m.group, f"{m.kind} {m.name}: no group label"
        if m.role is not None:
            assert labels.get(keys.label_role) == m.role, f"{m.kind} {m.name}: no role label"
        assert not undefined_references(m), undefined_references(m)
        assert annotations.get(cv.SYNC_WAVE) == str(m.wave), f"{m.kind} {m.name}: wave mismatch"
        assert DNS1123_LABEL.match(m.name) and len(m.name) <= 63, f"bad name {m.name!r}"
        if m.kind == "Service":
            assert DNS1035_LABEL.match(m.name), f"Service name {m.name!r} not DNS-1035"
        if m.kind == "StatefulSet":
            assert len(m.name) <= 52, f"StatefulSet name {m.name!r} too long for its pods"
        for template in _pod_templates(m):
            pod_labels = template["metadata"]["labels"]
            # A LeaderWorkerSet has no selector of its own; its controller labels the pods.
            selector = m.body["spec"].get("selector", {"matchLabels": {}})["matchLabels"]
            assert selector.items() <= pod_labels.items(), f"{m.name}: selector misses pods"
            identity = {k: v for k, v in labels.items() if k in keys.reserved_labels}
            assert identity.items() <= pod_labels.items(), f"{m.name}: pods lack identity labels"
            for volume in template["spec"].get("volumes", []):
                if "configMap" in volume:
                    key = ("", "ConfigMap", m.namespace, volume["configMap"]["name"])
                    assert key in by_identity, f"{m.name}: mounts missing ConfigMap {key}"

    for group in result.program.groups:
        waves = resolve_dependencies(group)
        mine = [m for m in manifests if m.group == group.name and m.namespace == group.namespace]
        wave_of: dict[str | None, int] = {}
        for m in mine:
            if m.kind in WORKLOAD_KINDS:
                wave_of[m.role] = min(m.wave, wave_of.get(m.role, m.wave))
        selectors = [
            m.body["spec"]["selector"]["matchLabels"]
            for m in mine
            if m.kind == "StatefulSet" or m.kind == "Deployment"
        ]
        for i, a in enumerate(selectors):
            for b in selectors[i + 1 :]:
                assert not (a.items() <= b.items() or b.items() <= a.items()), (
                    f"overlapping selectors {a} {b}"
                )
        for role in group.roles:
            for dep in role.dependencies:
                assert wave_of[role.name] > wave_of[dep.name], f"{role.name} not after {dep.name}"
            assert wave_of[role.name] >= waves.of_role[role.name]
        for service in (m for m in mine if m.kind == "Service"):
            selector = service.body["spec"]["selector"].items()
            # every generated Service selects some compiled pods ...
            selected = [
                w
                for w in mine
                for t in _pod_templates(w)
                if selector <= t["metadata"]["labels"].items()
            ]
            assert selected, f"Service {service.name} selects no compiled pod"
            # ... and every pod whose subdomain it is (a StatefulSet's serviceName)
            for workload in mine:
                if (
                    workload.kind == "StatefulSet"
                    and workload.body["spec"]["serviceName"] == service.name
                ):
                    pod_labels = _pod_templates(workload)[0]["metadata"]["labels"]
                    assert selector <= pod_labels.items(), f"{service.name} misses {workload.name}"
        gangs = [m for m in mine if m.kind == "PodGroup"]
        for gang in gangs:
            assert gang.wave < min(wave_of.values()), "PodGroup must precede every workload"
            expected = sum(r.replicas * r.size for r in group.roles)
            if not group.pod_group_policy:  # a Volcano PodGroup for topology only (KEP-473)
                expected = 0
            assert gang.body["spec"]["minMember"] == expected

    # Generated objects must validate for every supported version; pass-through documents are
    # the user's (upstream's single-node StatefulSets omit serviceName, required before 1.33).
    generated = [m for m in manifests if m.group is not None]
    for version in versions:
        problems = check_bundle(generated, version)
        assert not problems, "\n".join(d.message for d in problems)
