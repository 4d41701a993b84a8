"""Pass 5 of 5: discovery. In: Group, Waves, Placement, Expanded. Out: Discovered. Errors: RBG5xx.

How a role's pods find the rest of the group, as upstream v0.4.0 provides it (rbg-semantics.md
§4.6-§4.7): a ConfigMap `{group}-{role}` holding `config.yaml` (the same text for every role),
mounted read-only at `/etc/rbg` (expand mounts it, before the sidecars, as upstream: see
passes/injectors.py), and the env vars `GROUP_NAME`, `ROLE_NAME` and, for StatefulSet-backed
roles, `ROLE_INDEX`, in every container, the sidecars included.

Two upstream fixes are taken (design.md): instance addresses are the pods' real DNS names
(`{group}-{role}-{i}.{group}-{role}`), and injected variables come first while the user's own
keep their order, so `$(GROUP_NAME)` references in later variables work. The file carries no
pod counts beyond `size`, so scaling a role changes the ConfigMap but never a pod template.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from rbgc.diagnostics import Diagnostic, DiagnosticError, error, warning
from rbgc.jsonpath import find
from rbgc.k8s import conventions as cv
from rbgc.k8s.goyaml import marshal
from rbgc.k8s.manifest import Manifest
from rbgc.model import Group, LwsLowering, Placement, Role, Waves, WorkloadKind
from rbgc.passes.expand import Expanded
from rbgc.passes.injectors import mounts_config
from rbgc.source import JsonPath, value_at
from rbgc.workloads.instance_env import lowered_variables
from rbgc.workloads.leaderworkerset import leader_subdomain


@dataclass(frozen=True, slots=True, kw_only=True)
class Discovered:
    """The group's manifests with discovery injected, plus its ConfigMaps."""

    manifests: tuple[Manifest, ...]
    warnings: tuple[Diagnostic, ...] = ()


# A ConfigMap holds at most 1 MiB; each instance line takes at least ~20 bytes, so a group
# with more instances than this is refused before its text is built.
MAX_CONFIG_BYTES = 1024 * 1024
MAX_INSTANCES = MAX_CONFIG_BYTES // 20


def inject_discovery(
    group: Group,
    waves: Waves,
    placement: Placement,
    expanded: Expanded,
    *,
    services: Sequence[Manifest] = (),
    conventions: cv.Conventions = cv.V04,
    lws: LwsLowering = LwsLowering.NATIVE,
) -> Discovered:
    """`services`: the inputs' own objects; a Service among them that selects a Deployment
    role's pods is how its peers reach it (no RBG503 then).

    Under HEAD's conventions (v0.8) the file lists only the stateful roles (not Deployments),
    lives in one ConfigMap `{group}` and is mounted only by them."""
    instances = sum(role.replicas for role in group.roles)
    if instances > MAX_INSTANCES:
        raise DiagnosticError([_too_large(group, f"{instances:,} instances")])
    config = config_yaml(group, conventions, lws)
    if len(config.encode()) > MAX_CONFIG_BYTES:
        raise DiagnosticError([_too_large(group, f"{len(config.encode()):,} bytes")])
    roles = {role.name: role for role in group.roles}
    out: list[Manifest] = []
    for manifest in expanded.manifests:
        role = roles.get(manifest.role or "")
        if role is None or not manifest.pod_templates:
            out.append(manifest)
            continue
        body = copy.deepcopy(manifest.body)
        for path in manifest.pod_templates:
            _inject(group, role, value_at(body, path), conventions)
        out.append(replace(manifest, body=body))
    if conventions.config_map_per_group:
        stateful = [r for r in group.roles if mounts_config(r, conventions)]
        if stateful:
            wave = min(waves.of_role[r.name] for r in stateful)
            out.append(_config_map(group, None, config, wave, conventions))
    else:
        for role in group.roles:
            wave = waves.of_role[role.name]
            out.append(_config_map(group, role, config, wave, conventions))
    warnings = [w for role in group.roles for w in _reserved_env(group, role, conventions)]
    warnings += _unresolvable_readers(group, expanded, services, conventions)
    return Discovered(manifests=tuple(out), warnings=tuple(dict.fromkeys(warnings)))


def instance_address(
    group: Group,
    role: Role,
    index: int,
    conventions: cv.Conventions = cv.V04,
    lws: LwsLowering = LwsLowering.NATIVE,
) -> str:
    """DNS name of a role's i-th instance through its headless Service: `{W}-{i}.{svc}`.

    v0.4.0 wrote `{role}-{i}.{group}-{role}`, which does not resolve; upstream fixed it in
    v0.6.0 to the pod's real name, which rbgc uses. A LeaderWorkerSet's Service is named
    after the workload (the LWS controller makes it), so its leaders are `{W}-{i}.{W}`.
    With `--lws statefulsets` a RoleInstanceSet role's leaders are under the shared Service.
    A components role's instance is named by its first component's first pod
    `{W}-{i}-{c}-0`: HEAD's `{W}-{i}.{svc}` names no pod there (§12 #3)."""
    name = conventions.workload_name(group.name, role.name)
    service = conventions.service_name(group.name, role.name)
    if role.kind is WorkloadKind.LEADERWORKERSET:
        service = leader_subdomain(role, name, service, native=lws is LwsLowering.NATIVE)
    components = role.instance_set.components if role.instance_set else ()
    if components:
        first = components[0]
        return f"{name}-{index}-{first.name}-0.{first.service_name or service}"
    return f"{name}-{index}.{service}"


def config_yaml(
    group: Group, conventions: cv.Conventions = cv.V04, lws: LwsLowering = LwsLowering.NATIVE
) -> str:
    """The `/etc/rbg/config.yaml` text: the whole group, in upstream's structure and key order."""
    listed = [r for r in group.roles if mounts_config(r, conventions)]
    roles: dict[str, Any] = {}
    for role in listed:
        ports = {_port_key(p.name, p.port): p.port for p in role.service_ports}
        instances = []
        for i in range(role.replicas):
            address = instance_address(group, role, i, conventions, lws)
            instance: dict[str, Any] = {"address": address}
            if ports:
                instance["ports"] = ports
            instances.append(instance)
        roles[role.name] = {"instances": instances, "size": role.replicas}
    doc = {
        "group": {
            "name": group.name,
            "roles": [r.name for r in listed],
            "size": len(listed),
        },
        "roles": roles,
    }
    return marshal(doc)


def _port_key(name: str | None, port: int) -> str:
    return name.replace("-", "_").lower() if name else f"port{port}"


def env_for(group: Group, role: Role, conventions: cv.Conventions = cv.V04) -> list[dict[str, Any]]:
    """The injected variables, sorted by name as upstream sorts them."""
    env: list[dict[str, Any]] = [
        {"name": conventions.env_group_name, "value": group.name},
        {"name": conventions.env_role_name, "value": role.name},
    ]
    kind = role.kind
    # a leaderWorkerPattern role's index is its LWS group's, a components role's the
    # instance of each StatefulSet: their lowerings set it
    instance_set = role.instance_set
    own_index = instance_set is not None and (
        kind is WorkloadKind.LEADERWORKERSET or bool(instance_set.components)
    )
    if kind is not None and role.stateful and not own_index:
        env.append(
            {
                "name": conventions.env_role_index,
                "valueFrom": {"fieldRef": {"fieldPath": cv.POD_INDEX_FIELD}},
            }
        )
    return sorted(env, key=lambda e: e["name"])


def _inject(
    group: Group, role: Role, template: dict[str, Any], conventions: cv.Conventions
) -> None:
    """Upstream's common env (§4.1), into every container: the sidecars too, which expand
    injected before the lowering, as upstream injects them before the env."""
    injected = env_for(group, role, conventions)
    # a RoleInstanceSet role's lowering already set the rest of HEAD's batch (its values)
    lowered = lowered_variables(role)
    for container in template.setdefault("spec", {}).get("containers") or ():
        env = container.get("env") or []
        container["env"] = merged_env(injected, env, conventions, lowered=lowered)


def merged_env(
    injected: list[dict[str, Any]],
    env: list[Any],
    conventions: cv.Conventions,
    *,
    lowered: frozenset[str] = frozenset(),
) -> list[Any]:
    """The injected variables, then the container's own without the names injected.

    Under HEAD's conventions, as its injector merges (`pkg/discovery/injector.go:183-216`):
    the container's env keeps each name's last occurrence (`:226-246`); its own `RBG_*`
    variables come first, then the batch sorted by name (the injected ones and those of
    `lowered`, which the lowering set), then `RBG_LWP_*` in their order (the lowering's
    first), then the rest in theirs."""
    names = {e["name"] for e in injected}
    own = [v for v in env if not (isinstance(v, dict) and v.get("name") in names)]
    prefix = conventions.env_prefix
    if prefix is None:
        return [*copy.deepcopy(injected), *own]

    def name(var: Any) -> str:
        return str(var.get("name", "")) if isinstance(var, dict) else ""

    own = _last_of_each(own)
    batch = [v for v in own if name(v) in lowered]
    lwp = [v for v in own if name(v).startswith(prefix + "LWP_")]
    theirs = [v for v in own if name(v).startswith(prefix) and v not in (*batch, *lwp)]
    rest = [v for v in own if not name(v).startswith(prefix)]
    return [*theirs, *sorted([*copy.deepcopy(injected), *batch], key=name), *lwp, *rest]


def _last_of_each(env: list[Any]) -> list[Any]:
    """Each named variable once, at its last occurrence (`injector.go:226-246`)."""

    def named(var: Any) -> bool:
        return isinstance(var, dict) and "name" in var

    last = {v["name"]: i for i, v in enumerate(env) if named(v)}
    return [v for i, v in enumerate(env) if not named(v) or last[v["name"]] == i]


def _unresolvable_readers(
    group: Group,
    expanded: Expanded,
    services: Sequence[Manifest],
    conventions: cv.Conventions,
) -> list[Diagnostic]:
    """A role that depends on a Deployment role finds, in config.yaml, addresses for it that
    name no pod: a Deployment has no headless Service and random pod names (upstream lists the
    same addresses). Depending on it is the sign that the role means to reach it; a Service of
    the user's that selects the Deployment's pods is the way it can."""
    pod_labels = {
        m.role: _dig(m.body, "spec", "template", "metadata", "labels")
        for m in expanded.manifests
        if m.kind == "Deployment" and m.role is not None
    }
    selectors = []
    for svc in services:  # the user's objects: any shape may come (only mappings count)
        selector = _dig(svc.body, "spec", "selector")
        same_namespace = (svc.namespace or group.namespace) == group.namespace
        if svc.kind == "Service" and same_namespace and selector:
            if all(isinstance(v, str) for v in selector.values()):
                selectors.append(selector)
    deployments = {
        r.name: r
        for r in group.roles
        if r.kind is WorkloadKind.DEPLOYMENT
        and r.replicas > 0
        and not any(s.items() <= pod_labels.get(r.name, {}).items() for s in selectors)
    }
    found = []
    for role in group.roles:
        for dep in role.dependencies:
            if dep.name not in deployments or dep.name == role.name:
                continue
            if conventions.config_map_per_group:
                continue  # HEAD lists no Deployment in config.yaml
            first = instance_address(group, deployments[dep.name], 0, conventions)
            more = ", ..." if deployments[dep.name].replicas > 1 else ""
            found.append(
                warning(
                    "RBG503",
                    f"role {role.name!r} depends on {dep.name!r}, a Deployment: the addresses "
                    f"/etc/rbg/config.yaml lists for it ({first}{more}) name no pod and resolve "
                    "nowhere",
                    dep.span,
                    help=f"reach {dep.name!r} through a Service that selects its pods, or run it "
                    "as a StatefulSet (the default workload) if each pod must be addressed",
                )
            )
    return found


def _dig(body: Any, *keys: str) -> dict[str, Any]:
    """The mapping at `keys`, or {} where a level is missing or not a mapping."""
    found = find(body, keys)
    return found if isinstance(found, dict) else {}


def _reserved_env(group: Group, role: Role, conventions: cv.Conventions) -> list[Diagnostic]:
    """Warn where the user's text sets a variable rbgc injects (it would be replaced)."""
    reserved = {e["name"] for e in env_for(group, role, conventions)}
    sources: list[tuple[JsonPath, Any]] = []
    if role.template_ref is None:
        sources.append((role.template_path, role.template))
    else:
        ref = next((t for t in group.role_templates if t.name == role.template_ref), None)
        if ref is not None:
            sources.append((ref.path, ref.template))
        sources.append((role.patch_path, role.template_patch))
    lws = role.leader_worker_set
    # the patches are applied only where the role becomes a LeaderWorkerSet; elsewhere they
    # are ignored (RBG122) and may be any JSON
    if lws is not None and role.kind is WorkloadKind.LEADERWORKERSET:
        leader, worker = role.leader_worker_patch_paths
        sources += [(leader, lws.patch_leader), (worker, lws.patch_worker)]
    found = []
    for path, template in sources:
        containers = ((template or {}).get("spec") or {}).get("containers") or ()
        for c_index, container in enumerate(containers):
            for e_index, var in enumerate(container.get("env") or ()):
                if var.get("name") in reserved:
                    where = (*path, "spec", "containers", c_index, "env", e_index)
                    found.append(
                        warning(
                            "RBG501",
                            f"container {container.get('name')!r} sets {var['name']}, which rbgc "
                            "injects; your value is replaced",
                            group.document.span(*where),
                            help=f"remove {var['name']} from the container's env",
                        )
                    )
    return found


def _config_map(
    group: Group, role: Role | None, config: str, wave: int, conventions: cv.Conventions
) -> Manifest:
    """The discovery ConfigMap: of one role (v0.4.0), or of the whole group (role None)."""
    labels = {
        conventions.label_group: group.name,
        cv.MANAGED_BY: cv.MANAGER,
        **conventions.set_labels(group.set_name, group.set_index),
    }
    if role is not None:
        labels[conventions.label_role] = role.name
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": group.name
            if role is None
            else conventions.config_map_name(group.name, role.name),
            "namespace": group.namespace,
            "labels": dict(sorted(labels.items())),
            "annotations": {cv.SYNC_WAVE: str(wave)},
        },
        "data": {cv.CONFIG_KEY: config},
    }
    return Manifest(
        body=body,
        wave=wave,
        origin=group.span if role is None else role.span,
        order=group.order,
        group=group.name,
        role=None if role is None else role.name,
        source=group.document,
    )


def _too_large(group: Group, what: str) -> Diagnostic:
    return error(
        "RBG520",
        f"the discovery file of group {group.name!r} would hold {what}, more than a "
        "ConfigMap can (1 MiB)",
        group.span,
        help="lower the replicas, or split the group into several groups",
    )
