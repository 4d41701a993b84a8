"""What a lowering is given about one role, and what it may say about the role's objects
before lowering it (its minReadySeconds, whether anything compiled scales it)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rbgc.k8s import conventions as cv
from rbgc.k8s.manifest import Manifest
from rbgc.model import Group, Role, WorkloadKind
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


def min_ready_seconds(role: Role) -> int | None:
    """The role's minReadySeconds where the operator's reconciler of its workload writes it:
    every RoleInstanceSet (`roleinstanceset_reconciler.go:211`) and StatefulSet
    (`sts_reconciler.go:487`), whatever rbgc lowers them to; never a Deployment or
    LeaderWorkerSet workload type (`deploy_reconciler.go:147-156`,
    `lws_reconciler.go:291-298`), nor v0.5.0's (rbg-semantics.md §2)."""
    if role.instance_set is None and role.kind is not WorkloadKind.STATEFULSET:
        return None
    return role.min_ready_seconds


@dataclass(frozen=True, slots=True, kw_only=True)
class Unscalable:
    """Why no compiled object of a role scales it by whole instances, and what would."""

    reason: str
    help: str


def unscalable_by(role: Role, *, lws_as_statefulsets: bool) -> Unscalable | None:
    """The operator scales a role by whole instances (its adapter sets the role's replicas,
    `rolebasedgroupscalingadapter_controller.go:506`). A customComponentsPattern role is one
    StatefulSet per instance and component, and a leader/worker role built as StatefulSets
    one worker StatefulSet per group, all made at build time: nothing scales such a role."""
    if role.instance_set is not None and role.instance_set.components:
        return Unscalable(
            reason="a customComponentsPattern role is one StatefulSet per instance and "
            "component, made at build time: no compiled object scales whole instances",
            help="change the role's replicas in the source instead (without the operator "
            "nothing else scales a customComponentsPattern role)",
        )
    if role.kind is WorkloadKind.LEADERWORKERSET and lws_as_statefulsets:
        return Unscalable(
            reason="with --lws statefulsets no compiled object scales whole leader/worker "
            "groups (a leader StatefulSet would add leaders without workers)",
            help="use --lws native: an HPA or KEDA can then scale the role's workload, whose "
            "replicas are whole groups",
        )
    return None
