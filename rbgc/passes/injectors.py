"""Upstream's injectors that run on a finished pod template before the lowering: the
discovery file's mount, then the engine-runtime sidecars (pkg/reconciler/pod_reconciler.go:
91-101, pkg/discovery/injector.go:60-123, sidecar_builder.go). The lowering's instance
variables and discovery's common env come after, so the sidecars get every `RBG_*` variable
(`pod_reconciler.go:97`) but not the mount, as upstream gives them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from rbgc.k8s import conventions as cv
from rbgc.model import Group, Profile, Role


def inject(
    group: Group,
    role: Role,
    spec: dict[str, Any],
    profiles: Mapping[str, Profile],
    *,
    sidecars: bool,
) -> None:
    """The config mount (stateful roles under HEAD's conventions, every role under v0.4.0's),
    then, unless `sidecars` is False (leader/worker workers), the role's engine runtimes."""
    conventions = group.conventions
    if mounts_config(role, conventions):
        mount_config(spec, conventions.config_map_name(group.name, role.name))
    if sidecars:
        # HEAD appends an override's env; its env injection then keeps each name's last
        # occurrence (discovery.merged_env). v0.4.0 kept both, which rbgc merges by name.
        append = conventions.env_prefix is not None
        for runtime in role.engine_runtimes:
            inject_sidecars(spec, profiles[runtime.profile], runtime.containers, append_env=append)


def mounts_config(role: Role, conventions: cv.Conventions) -> bool:
    """v0.4.0 mounts the file in every role; HEAD only in stateful ones (`injector.go:73-75`:
    not Deployments, nor Stateless RoleInstanceSets)."""
    return not conventions.config_map_per_group or role.stateful


def mount_config(spec: dict[str, Any], config_map: str) -> None:
    volumes = spec.setdefault("volumes", [])
    if all(v.get("name") != cv.CONFIG_VOLUME for v in volumes):
        volumes.append(
            {
                "name": cv.CONFIG_VOLUME,
                "configMap": {
                    "name": config_map,
                    "items": [{"key": cv.CONFIG_KEY, "path": cv.CONFIG_KEY}],
                },
            }
        )
    for container in spec.get("containers") or ():
        mounts = container.setdefault("volumeMounts", [])
        if not any(
            m.get("name") == cv.CONFIG_VOLUME and m.get("mountPath") == cv.CONFIG_MOUNT_PATH
            for m in mounts
        ):
            mounts.append(
                {"name": cv.CONFIG_VOLUME, "mountPath": cv.CONFIG_MOUNT_PATH, "readOnly": True}
            )


def inject_sidecars(
    spec: dict[str, Any],
    profile: Profile,
    overrides: tuple[Mapping[str, Any], ...],
    *,
    append_env: bool = False,
) -> None:
    """Upstream's sidecar builder (§3.4): append the profile's init containers, containers and
    volumes whose names are not taken (what the template has wins, no merge), then append each
    override's `env` and `args` to the pod's container of its name, if the profile has a
    container or init container of that name (`sidecar_builder.go:89-90,131-155`).

    Unless `append_env` (HEAD, whose env injection then de-duplicates), `env` is merged by
    name: a variable the container already has keeps its position and takes the override's
    value (last wins). Duplicates would make the API server refuse a LeaderWorkerSet (its CRD
    keys `env` by name) and server-side apply fail."""
    for key, items in (
        ("initContainers", profile.init_containers),
        ("containers", profile.containers),
        ("volumes", profile.volumes),
    ):
        present = spec.setdefault(key, [])
        taken = {item.get("name") for item in present}
        present.extend(copy.deepcopy(dict(item)) for item in items if item.get("name") not in taken)
    profile_names = {c.get("name") for c in (*profile.init_containers, *profile.containers)}
    for override in overrides:
        if override.get("name") not in profile_names:
            continue
        for container in spec["containers"]:
            if container.get("name") == override.get("name"):
                if override.get("env"):
                    env, more = container.get("env") or [], copy.deepcopy(list(override["env"]))
                    container["env"] = [*env, *more] if append_env else merge_env(env, more)
                if override.get("args"):
                    container["args"] = [
                        *(container.get("args") or []),
                        *copy.deepcopy(list(override["args"])),
                    ]


def merge_env(env: list[Any], more: list[Any]) -> list[Any]:
    """`env` then `more`, one entry per name: the first position, the last value."""
    merged: dict[Any, Any] = {}
    unnamed: list[Any] = []  # not valid, but reported by the schema check, never dropped here
    for var in [*env, *more]:
        name = var.get("name") if isinstance(var, dict) else None
        if name is None:
            unnamed.append(var)
        else:
            merged[name] = var  # a dict keeps a key's first position, takes its last value
    return [*merged.values(), *unnamed]
