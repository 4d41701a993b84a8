"""Lowerings: one module per workload kind a role can become.

A lowering turns one role (with its finished pod template) into Kubernetes objects. It is
pure and knows nothing about discovery: `discovery` later injects into the pod templates
listed in each manifest's `pod_templates`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rbgc.k8s import conventions as cv
from rbgc.k8s.manifest import Manifest
from rbgc.model import Group, Role, WorkloadKind


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleContext:
    """Everything a lowering needs about one role."""

    group: Group
    role: Role
    wave: int
    pod_template: dict[str, Any]  # labelled and placed; the lowering may embed it as is
    selector: dict[str, str]  # the upstream identity labels L(r), also the immutable selector

    @property
    def name(self) -> str:
        return f"{self.group.name}-{self.role.name}"

    def metadata(self, *, role_metadata: bool = True) -> dict[str, Any]:
        """Metadata of a generated object: role labels/annotations under the system ones."""
        labels = {
            **(self.role.labels if role_metadata else {}),
            **self.selector,
            cv.MANAGED_BY: cv.MANAGER,
        }
        annotations = {
            **(self.role.annotations if role_metadata else {}),
            cv.ANNOTATION_ROLE_SIZE: str(self.role.replicas),
            cv.SYNC_WAVE: str(self.wave),
        }
        return {
            "name": self.name,
            "namespace": self.group.namespace,
            "labels": dict(sorted(labels.items())),
            "annotations": dict(sorted(annotations.items())),
        }

    def manifest(
        self,
        body: dict[str, Any],
        *,
        template_path: tuple[str, ...] | None = None,
        pod_templates: tuple[tuple[str, ...], ...] = (),
    ) -> Manifest:
        return Manifest(
            body=body,
            wave=self.wave,
            origin=self.role.span,
            order=self.group.order,
            group=self.group.name,
            role=self.role.name,
            source=self.group.document,
            template_path=template_path,
            source_path=self.role.template_path if template_path is not None else None,
            pod_templates=pod_templates,
        )


Lowering = Callable[[RoleContext], tuple[Manifest, ...]]


def lowerings() -> Mapping[WorkloadKind, Lowering]:
    from rbgc.workloads import deployment, statefulset

    return {
        WorkloadKind.STATEFULSET: statefulset.lower,
        WorkloadKind.DEPLOYMENT: deployment.lower,
    }
