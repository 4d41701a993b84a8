"""Pass 5 of 5: discovery. In: Group, Waves, Placement, Expanded. Out: Discovered. Errors: RBG5xx.

How a role's pods find the rest of the group, as upstream v0.4.0 provides it (rbg-semantics.md
§4.6-§4.7): a ConfigMap `{group}-{role}` holding `config.yaml` (the same text for every role),
mounted read-only at `/etc/rbg` in every container, and the env vars `GROUP_NAME`, `ROLE_NAME`
and, for StatefulSet-backed roles, `ROLE_INDEX`.

Two upstream fixes are taken (design.md): instance addresses are the pods' real DNS names
(`{group}-{role}-{i}.{group}-{role}`), and injected variables come first while the user's own
keep their order, so `$(GROUP_NAME)` references in later variables work. The file carries no
pod counts beyond `size`, so scaling a role changes the ConfigMap but never a pod template.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Any

from rbgc.diagnostics import Diagnostic, warning
from rbgc.k8s import conventions as cv
from rbgc.k8s.goyaml import marshal
from rbgc.k8s.manifest import Manifest
from rbgc.k8s.naming import instance_address, role_object_name
from rbgc.model import Group, Placement, Role, Waves
from rbgc.passes.expand import Expanded
from rbgc.source import JsonPath


@dataclass(frozen=True, slots=True, kw_only=True)
class Discovered:
    manifests: tuple[Manifest, ...]
    warnings: tuple[Diagnostic, ...] = ()


def inject_discovery(
    group: Group, waves: Waves, placement: Placement, expanded: Expanded
) -> Discovered:
    config = config_yaml(group)
    roles = {role.name: role for role in group.roles}
    out: list[Manifest] = []
    warnings: list[Diagnostic] = []
    for manifest in expanded.manifests:
        role = roles.get(manifest.role or "")
        if role is None or not manifest.pod_templates:
            out.append(manifest)
            continue
        body = copy.deepcopy(manifest.body)
        for path in manifest.pod_templates:
            template = _at(body, path)
            warnings.extend(_inject(group, role, template))
        out.append(_replace_body(manifest, body))
    for role in group.roles:
        out.append(
            _config_map(group, role, config, waves.of_role[role.name] + placement.wave_offset)
        )
    return Discovered(manifests=tuple(out), warnings=_unique(warnings))


def config_yaml(group: Group) -> str:
    """The `/etc/rbg/config.yaml` text: the whole group, in upstream's structure and key order."""
    roles: dict[str, Any] = {}
    for role in group.roles:
        ports = {_port_key(p.name, p.port): p.port for p in role.service_ports}
        instances = []
        for i in range(role.replicas):
            instance: dict[str, Any] = {"address": instance_address(group.name, role.name, i)}
            if ports:
                instance["ports"] = ports
            instances.append(instance)
        roles[role.name] = {"instances": instances, "size": role.replicas}
    doc = {
        "group": {
            "name": group.name,
            "roles": [r.name for r in group.roles],
            "size": len(group.roles),
        },
        "roles": roles,
    }
    return marshal(doc)


def _port_key(name: str | None, port: int) -> str:
    return name.replace("-", "_").lower() if name else f"port{port}"


def env_for(group: Group, role: Role) -> list[dict[str, Any]]:
    """The injected variables, sorted by name as upstream sorts them."""
    env: list[dict[str, Any]] = [
        {"name": cv.ENV_GROUP_NAME, "value": group.name},
        {"name": cv.ENV_ROLE_NAME, "value": role.name},
    ]
    kind = role.kind
    if kind is not None and kind.has_pod_index:
        env.append(
            {
                "name": cv.ENV_ROLE_INDEX,
                "valueFrom": {"fieldRef": {"fieldPath": cv.POD_INDEX_FIELD}},
            }
        )
    return sorted(env, key=lambda e: e["name"])


def _inject(group: Group, role: Role, template: dict[str, Any]) -> list[Diagnostic]:
    spec = template.setdefault("spec", {})
    name = role_object_name(group.name, role.name)
    volumes = spec.setdefault("volumes", [])
    if all(v.get("name") != cv.CONFIG_VOLUME for v in volumes):
        volumes.append(
            {
                "name": cv.CONFIG_VOLUME,
                "configMap": {
                    "name": name,
                    "items": [{"key": cv.CONFIG_KEY, "path": cv.CONFIG_KEY}],
                },
            }
        )
    injected = env_for(group, role)
    reserved = {e["name"] for e in injected}
    warnings: list[Diagnostic] = []
    for c_index, container in enumerate(spec.get("containers") or ()):
        mounts = container.setdefault("volumeMounts", [])
        if not any(
            m.get("name") == cv.CONFIG_VOLUME and m.get("mountPath") == cv.CONFIG_MOUNT_PATH
            for m in mounts
        ):
            mounts.append(
                {"name": cv.CONFIG_VOLUME, "mountPath": cv.CONFIG_MOUNT_PATH, "readOnly": True}
            )
        user_env = container.get("env") or []
        for e_index, var in enumerate(user_env):
            if var.get("name") in reserved:
                where: JsonPath = (
                    *role.template_path,
                    "spec",
                    "containers",
                    c_index,
                    "env",
                    e_index,
                )
                warnings.append(
                    warning(
                        "RBG501",
                        f"container {container.get('name')!r} sets {var['name']}, which rbgc "
                        "injects; your value is replaced",
                        group.document.span(*where),
                        help=f"remove {var['name']} from the container's env",
                    )
                )
        container["env"] = [
            *copy.deepcopy(injected),
            *(v for v in user_env if v.get("name") not in reserved),
        ]
    return warnings


def _config_map(group: Group, role: Role, config: str, wave: int) -> Manifest:
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": role_object_name(group.name, role.name),
            "namespace": group.namespace,
            "labels": dict(
                sorted(
                    {
                        cv.LABEL_NAME: group.name,
                        cv.LABEL_ROLE: role.name,
                        cv.MANAGED_BY: cv.MANAGER,
                    }.items()
                )
            ),
            "annotations": {cv.SYNC_WAVE: str(wave)},
        },
        "data": {cv.CONFIG_KEY: config},
    }
    return Manifest(
        body=body,
        wave=wave,
        origin=role.span,
        order=group.order,
        group=group.name,
        role=role.name,
        source=group.document,
    )


def _at(body: dict[str, Any], path: JsonPath) -> dict[str, Any]:
    value: Any = body
    for part in path:
        value = value[part]
    assert isinstance(value, dict)
    return value


def _replace_body(manifest: Manifest, body: dict[str, Any]) -> Manifest:
    return replace(manifest, body=body)


def _unique(found: list[Diagnostic]) -> tuple[Diagnostic, ...]:
    # A role lowered to several workloads (LWS) would otherwise warn once per template.
    return tuple(dict.fromkeys(found))
