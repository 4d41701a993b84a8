"""Lowerings: one module per workload kind a role can become.

A lowering turns one role (with its finished pod templates) into Kubernetes objects. It is
pure and knows nothing about discovery: `discovery` later injects into the pod templates each
manifest lists in `pod_templates`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
        workers: tuple[JsonPath, ...] = (),
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
            worker_templates=workers,
        )


Lowering = Callable[[RoleContext], tuple[Manifest, ...]]


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
