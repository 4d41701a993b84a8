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

The schema leaves other values of a pod free that the API server's validation refuses
(RBG604), each below with the function that refuses it: a restart policy the pod's controller
does not run, an image pull policy or port protocol that is not one of the enum's values, a
port out of range, and resource amounts that are not quantities, are negative, or request more
than their limit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
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


def refused_pods(manifests: Sequence[Manifest]) -> list[Diagnostic]:
    """What the API server refuses in the objects' pods, at the user's line: RBG603 for each
    container or init container without an image, RBG604 for each value it does not accept."""
    return [d for m in manifests for d in (*_missing_images(m), *_refused_restart(m), *_refused(m))]


def _missing_images(manifest: Manifest) -> Iterator[Diagnostic]:
    for spec_path in pod_specs(manifest):
        spec = _at(manifest.body, spec_path)
        for field in CONTAINER_LISTS:
            containers = spec.get(field) if isinstance(spec, dict) else None
            for index, container in enumerate(containers if isinstance(containers, list) else ()):
                if not isinstance(container, dict) or container.get("image") not in (None, ""):
                    continue
                path = (*spec_path, field, index)
                yield error(
                    "RBG603",
                    f"{_named(manifest)}: {_container_named(container, field, index)} has no "
                    "image, which the API server requires of every container",
                    manifest.span_of(path),
                    help="add `image:` to the container (an overlay's `images` can set or "
                    "change it per environment)",
                )


# The restart policies each controller runs, where its spec validation narrows the pod's own
# (pkg/apis/core/validation/validation.go `validateRestartPolicy`: Always, OnFailure, Never).
# apps/validation `ValidatePodTemplateSpecForReplicaSet` (Deployment, ReplicaSet),
# `ValidateStatefulSetSpec`, `ValidateDaemonSetSpec`, core `ValidatePodTemplateSpecForRC`:
# Always only. A LeaderWorkerSet's templates become StatefulSets' (its controller's), so the
# same. batch/validation `validateJobSpec`: OnFailure or Never, and an unset one is refused
# too, as defaulting made it Always ("we check both empty and RestartPolicyAlways").
_ALWAYS = ("Always",)
RESTART_POLICIES: Mapping[tuple[str, str], tuple[str, ...]] = {
    **{key: _ALWAYS for key in WORKLOADS},
    ("apps", "DaemonSet"): _ALWAYS,
    ("apps", "ReplicaSet"): _ALWAYS,
    ("", "ReplicationController"): _ALWAYS,
    ("batch", "Job"): ("OnFailure", "Never"),
    ("batch", "CronJob"): ("OnFailure", "Never"),
    ("", "Pod"): ("Always", "OnFailure", "Never"),
    ("", "PodTemplate"): ("Always", "OnFailure", "Never"),
}
_UNSET_REFUSED = frozenset({("batch", "Job"), ("batch", "CronJob")})
# core/validation `validatePullPolicy` and `validateContainerPorts` (supportedPortProtocols);
# an empty or absent value is defaulted (IfNotPresent or Always; TCP) before validation.
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
PORT_PROTOCOLS = ("TCP", "UDP", "SCTP")
_PORT_FIELDS = ("containerPort", "hostPort")  # `IsValidPortNum`: 1-65535 (hostPort 0 = none)
_MAX_PORT = 65535


def _value(raw: Any) -> str:
    """A value as the user wrote it in YAML, not as Python shows it."""
    return json.dumps(raw) if isinstance(raw, str) else json.dumps(raw, default=str)


def _one_of(values: Sequence[str]) -> str:
    return ", ".join(values[:-1]) + f" or {values[-1]}" if len(values) > 1 else values[0]


def _refused_restart(manifest: Manifest) -> Iterator[Diagnostic]:
    key = (manifest.api_group, manifest.kind)
    accepted = RESTART_POLICIES.get(key)
    if accepted is None:
        return
    for spec_path in pod_specs(manifest):
        spec = _at(manifest.body, spec_path)
        if not isinstance(spec, dict):
            continue
        policy = spec.get("restartPolicy")
        if policy in accepted or (policy in (None, "") and key not in _UNSET_REFUSED):
            continue
        said = (
            "an unset one (defaulting makes it Always)" if policy in (None, "") else _value(policy)
        )
        yield error(
            "RBG604",
            f"{_named(manifest)}: the API server accepts only restartPolicy "
            f"{_one_of(accepted)} for a {manifest.kind}'s pods, not {said}",
            manifest.span_of((*spec_path, "restartPolicy") if policy is not None else spec_path),
            help=f"set `restartPolicy: {accepted[0]}`"
            + (" (or remove it: the default is Always)" if accepted == _ALWAYS else ""),
        )


def _named(manifest: Manifest) -> str:
    ns = f"{manifest.namespace}/" if manifest.namespace else ""
    return f"{manifest.kind} {ns}{manifest.name}"


def _container_named(container: dict[str, Any], field: str, index: int) -> str:
    name = container.get("name")
    return f"container {_value(name)}" if isinstance(name, str) else f"{field}[{index}]"


def _refused(manifest: Manifest) -> Iterator[Diagnostic]:
    for spec_path in pod_specs(manifest):
        spec = _at(manifest.body, spec_path)
        for field in CONTAINER_LISTS:
            containers = spec.get(field) if isinstance(spec, dict) else None
            for index, container in enumerate(containers if isinstance(containers, list) else ()):
                if isinstance(container, dict):
                    where = (*spec_path, field, index)
                    what = _container_named(container, field, index)
                    for path, message, help in _container(container):
                        yield error(
                            "RBG604",
                            f"{_named(manifest)}: {what}: {message}",
                            manifest.span_of((*where, *path)),
                            help=help,
                        )


Refusal = tuple[JsonPath, str, str]  # where in the container, what, the hint


def _container(container: dict[str, Any]) -> Iterator[Refusal]:
    """core/validation `validateContainerCommon`'s rules the schema does not state."""
    pull = container.get("imagePullPolicy")
    if isinstance(pull, str) and pull and pull not in PULL_POLICIES:
        yield (
            ("imagePullPolicy",),
            f"imagePullPolicy {_value(pull)} is not one the API server accepts",
            f"write {_one_of(PULL_POLICIES)} (the values are case-sensitive)",
        )
    ports = container.get("ports")
    for i, port in enumerate(ports if isinstance(ports, list) else ()):
        if not isinstance(port, dict):
            continue
        protocol = port.get("protocol")
        if isinstance(protocol, str) and protocol and protocol not in PORT_PROTOCOLS:
            yield (
                ("ports", i, "protocol"),
                f"port protocol {_value(protocol)} is not one the API server accepts",
                f"write {_one_of(PORT_PROTOCOLS)} (upper case), or leave it out for TCP",
            )
        for field in _PORT_FIELDS:
            number = port.get(field)
            if (
                isinstance(number, int)
                and not isinstance(number, bool)
                and not (1 <= number <= _MAX_PORT or (field == "hostPort" and number == 0))
            ):
                yield (
                    ("ports", i, field),
                    f"{field} {number} is not a port number (1-{_MAX_PORT})",
                    f"use a port between 1 and {_MAX_PORT}",
                )
    resources = container.get("resources")
    if isinstance(resources, dict):
        yield from _resources(resources)


def _resources(resources: dict[str, Any]) -> Iterator[Refusal]:
    """A resource amount must decode as a `resource.Quantity` (apimachinery's grammar: the
    request fails to decode otherwise), be non-negative (core/validation
    `ValidateResourceQuantityValue`) and a request at most its limit
    (`ValidateResourceRequirements`: "must be less than or equal to ... limit")."""
    from rbgc.k8s import quantity  # only for pods that ask for resources (start-up time)

    amounts: dict[str, dict[str, Any]] = {}
    for kind in ("limits", "requests"):
        values = resources.get(kind)
        for resource, raw in values.items() if isinstance(values, dict) else ():
            try:
                amount = quantity.parse(raw)
            except ValueError as problem:
                yield (
                    ("resources", kind, resource),
                    f"{kind} {resource}: {problem}",
                    "write a number with an optional suffix: 500m, 2, 16Gi, 1e3",
                )
                continue
            if amount < 0:
                yield (
                    ("resources", kind, resource),
                    f"{kind} {resource}: {_value(raw)} is negative",
                    "resource amounts are zero or more",
                )
                continue
            amounts.setdefault(kind, {})[resource] = (amount, raw)
    limits, requests = amounts.get("limits", {}), amounts.get("requests", {})
    for resource, (amount, raw) in sorted(requests.items()):
        if resource in limits and amount > limits[resource][0]:
            yield (
                ("resources", "requests", resource),
                f"requests {resource}: {_value(raw)} is more than its limit "
                f"{_value(limits[resource][1])}, which the API server refuses",
                "request at most the limit (a request left out defaults to the limit)",
            )
