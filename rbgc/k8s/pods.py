"""Where objects keep their pods, and what the API server requires of a pod that its OpenAPI
schema does not say.

The schema makes a container's `image` optional ("to allow higher level config management to
default or override container images in workload controllers"), yet the API server's own
validation requires it of every container and init container, in pods and in pod templates
alike: kubernetes/kubernetes pkg/apis/core/validation/validation.go, `validateContainerCommon`
(`if len(ctr.Image) == 0 { field.Required(path.Child("image"), "") }`), reached from
`ValidatePodTemplateSpec` -> `ValidatePodSpec` -> `validateContainers` / `validateInitContainers`.
So every `kubectl apply` of such an object is refused; `rbgc build` refuses it first (RBG603),
for the objects it generates and for the ones it passes through. Cheap: no schema is loaded.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from rbgc.diagnostics import Diagnostic, error
from rbgc.k8s.controllers import WORKLOADS
from rbgc.k8s.manifest import Manifest
from rbgc.source import JsonPath

_TEMPLATE: JsonPath = ("spec", "template")
# (API group, kind) -> where the kind keeps its pod templates (PodTemplateSpec)
POD_TEMPLATES: Mapping[tuple[str, str], tuple[JsonPath, ...]] = {
    **{key: shape.templates for key, shape in WORKLOADS.items()},
    ("apps", "DaemonSet"): (_TEMPLATE,),
    ("apps", "ReplicaSet"): (_TEMPLATE,),
    ("", "ReplicationController"): (_TEMPLATE,),
    ("", "PodTemplate"): (("template",),),
    ("batch", "Job"): (_TEMPLATE,),
    ("batch", "CronJob"): (("spec", "jobTemplate", "spec", "template"),),
}
CONTAINER_LISTS = ("initContainers", "containers")


def pod_templates(manifest: Manifest) -> tuple[JsonPath, ...]:
    """The pod templates of an object: where rbgc put them, else where its kind keeps them."""
    return manifest.pod_templates or POD_TEMPLATES.get((manifest.api_group, manifest.kind), ())


def pod_specs(manifest: Manifest) -> tuple[JsonPath, ...]:
    if (manifest.api_group, manifest.kind) == ("", "Pod"):
        return (("spec",),)
    return tuple((*path, "spec") for path in pod_templates(manifest))


def _at(body: Any, path: JsonPath) -> Any:
    for part in path:
        body = body.get(part) if isinstance(body, dict) else None
    return body


def missing_images(manifests: tuple[Manifest, ...] | list[Manifest]) -> list[Diagnostic]:
    """RBG603 for each container or init container without an image, at the user's line."""
    return [d for m in manifests for d in _missing_images(m)]


def _missing_images(manifest: Manifest) -> Iterator[Diagnostic]:
    for spec_path in pod_specs(manifest):
        spec = _at(manifest.body, spec_path)
        for field in CONTAINER_LISTS:
            containers = spec.get(field) if isinstance(spec, dict) else None
            for index, container in enumerate(containers if isinstance(containers, list) else ()):
                if not isinstance(container, dict) or container.get("image") not in (None, ""):
                    continue
                path = (*spec_path, field, index)
                ns = f"{manifest.namespace}/" if manifest.namespace else ""
                name = container.get("name")
                what = f"container {name!r}" if isinstance(name, str) else f"{field}[{index}]"
                yield error(
                    "RBG603",
                    f"{manifest.kind} {ns}{manifest.name}: {what} has no image, which the API "
                    "server requires of every container",
                    manifest.span_of(path),
                    help="add `image:` to the container (an overlay's `images` can set or "
                    "change it per environment)",
                )
