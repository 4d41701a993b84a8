"""Lowerings: one module per workload kind a role can become.

A lowering turns one role (with its finished pod templates) into Kubernetes objects. It is
pure and knows nothing about discovery: `discovery` later injects into the pod templates each
manifest lists in `pod_templates`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rbgc.k8s import conventions as cv
from rbgc.k8s.manifest import Manifest
from rbgc.model import Group, LwsLowering, Role, Target, WorkloadKind
from rbgc.source import JsonPath


@dataclass(frozen=True, slots=True, kw_only=True)
class PodTemplate:
    """A finished pod template and where it came from in the input."""

    body: dict[str, Any]
    source_path: JsonPath  # where the template (before patches) sits in the input


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleContext:
    """Everything a lowering needs about one role."""

    group: Group
    role: Role
    wave: int
    templates: Mapping[str, PodTemplate]  # "pod", or "leader" and "worker" for LWS roles
    selector: dict[str, str]  # the upstream identity labels L(r), also the immutable selector
    conventions: cv.Conventions = cv.V04

    @property
    def name(self) -> str:
        return self.conventions.workload_name(self.group.name, self.role.name)

    @property
    def service_name(self) -> str:
        return self.conventions.service_name(self.group.name, self.role.name)

    def metadata(self, *, name: str | None = None, role_metadata: bool = True) -> dict[str, Any]:
        """Metadata of a generated object: role labels/annotations under the system ones."""
        labels = {
            **(self.role.labels if role_metadata else {}),
            **self.selector,
            **self.conventions.set_labels(self.group.set_name, self.group.set_index),
            cv.MANAGED_BY: cv.MANAGER,
        }
        annotations = {
            **(self.role.annotations if role_metadata else {}),
            self.conventions.annotation_role_size: str(self.role.replicas),
            cv.SYNC_WAVE: str(self.wave),
        }
        return {
            "name": name or self.name,
            "namespace": self.group.namespace,
            "labels": dict(sorted(labels.items())),
            "annotations": dict(sorted(annotations.items())),
        }

    def manifest(
        self,
        body: dict[str, Any],
        *,
        templates: Mapping[JsonPath, PodTemplate] | None = None,
    ) -> Manifest:
        templates = templates or {}
        return Manifest(
            body=body,
            wave=self.wave,
            origin=self.role.span,
            order=self.group.order,
            group=self.group.name,
            role=self.role.name,
            source=self.group.document,
            template_sources=tuple((path, t.source_path) for path, t in templates.items()),
            pod_templates=tuple(templates),
        )


Lowering = Callable[[RoleContext], tuple[Manifest, ...]]

# What the operator's RoleInstance controller tells each pod (v1alpha2 semantics §2.4), in
# its batch order; lowerings give them values the compiled pods can have (§3.5).
ENV_COMPONENT_INDEX = "RBG_COMPONENT_INDEX"
ENV_COMPONENT_NAME = "RBG_COMPONENT_NAME"
ENV_ROLE_INDEX = "RBG_ROLE_INDEX"
ENV_INSTANCE_NAME = "RBG_ROLE_INSTANCE_NAME"
ENV_LEADER_ADDRESS = "RBG_LWP_LEADER_ADDRESS"
ENV_WORKER_INDEX = "RBG_LWP_WORKER_INDEX"
ENV_GROUP_SIZE = "RBG_LWP_GROUP_SIZE"


# Labels only the RoleInstance controller stamps on pods, and the variable that holds the
# same value in a compiled pod: a user's fieldRef to one is rewritten to it (§3.5).
OPERATOR_LABELS = {
    cv.INSTANCE_INDEX_LABEL: ENV_ROLE_INDEX,
    cv.INSTANCE_NAME_LABEL: ENV_INSTANCE_NAME,
    cv.COMPONENT_NAME_LABEL: ENV_COMPONENT_NAME,
    cv.COMPONENT_ID_LABEL: ENV_COMPONENT_INDEX,
    cv.COMPONENT_INDEX_LABEL: ENV_WORKER_INDEX,
    cv.COMPONENT_SIZE_LABEL: ENV_GROUP_SIZE,
}
LABEL_FIELD = re.compile(r"metadata\.labels\['([^']+)'\]")


def literal(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": value}


def field_ref(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def label_ref(name: str, label: str) -> dict[str, Any]:
    return field_ref(name, f"metadata.labels['{label}']")


def standalone_instance(ctx: RoleContext, pod: PodTemplate) -> PodTemplate:
    """A standalone RoleInstance is one pod, named like the instance (§3.5): its component
    is the role itself, index 0."""
    if ctx.role.instance_set is None:
        return pod
    env = [
        literal(ENV_COMPONENT_INDEX, "0"),
        literal(ENV_COMPONENT_NAME, ctx.role.name),
        field_ref(ENV_INSTANCE_NAME, "metadata.name"),
    ]
    # values a user's fieldRef may need that the injection itself leaves to discovery
    known = [literal(ENV_GROUP_SIZE, "1")]
    if ctx.role.kind is not None and ctx.role.kind.shape.ordered:
        known.append(field_ref(ENV_ROLE_INDEX, cv.POD_INDEX_FIELD))
    return PodTemplate(body=with_env(pod.body, env, known), source_path=pod.source_path)


def with_env(
    template: dict[str, Any],
    env: list[dict[str, Any]],
    known: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """A copy of `template` whose containers (not init containers, as the operator) start
    with `env`; a variable of the same name the container had is replaced, and one that reads
    a label only the operator stamps reads the same value from where `env` (or `known`)
    has it."""
    out = copy.deepcopy(template)
    names = {e["name"] for e in env}
    values = {e["name"]: e for e in [*known, *env]}
    for container in out.get("spec", {}).get("containers") or ():
        own = [
            _rewritten(e, values) for e in container.get("env") or () if e.get("name") not in names
        ]
        container["env"] = [*copy.deepcopy(env), *own]
    return out


def _rewritten(var: Any, values: Mapping[str, dict[str, Any]]) -> Any:
    field = ((var.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
    match = LABEL_FIELD.fullmatch(field) if isinstance(field, str) else None
    source = values.get(OPERATOR_LABELS.get(match.group(1), "")) if match else None
    if source is None:
        return var
    return {"name": var["name"], **copy.deepcopy({k: v for k, v in source.items() if k != "name"})}


def lowerings(target: Target) -> Mapping[WorkloadKind, Lowering]:
    from rbgc.workloads import deployment, leaderworkerset, statefulset

    lws = (
        leaderworkerset.lower_native
        if target.lws is LwsLowering.NATIVE
        else leaderworkerset.lower_statefulsets
    )
    return {
        WorkloadKind.STATEFULSET: statefulset.lower,
        WorkloadKind.DEPLOYMENT: deployment.lower,
        WorkloadKind.LEADERWORKERSET: lws,
    }
