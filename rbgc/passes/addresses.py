"""After every group is compiled: the addresses the users wrote by hand in their roles.

A role's container `command`, `args` and env values may name a peer by DNS: a pod
`{pod}.{service}` or a Service `{service}`, with `.{namespace}`, `.svc` and
`.cluster.local` or without. A host that falls among a group's own names (`{R}-...`,
`s-{R}-...`) is checked against the output: the pods its StatefulSets and LeaderWorkerSets
run, each under the Service that is its subdomain, and every Service (generated or the
user's, and the one a LeaderWorkerSet's controller makes). One that names nothing resolves
nowhere in the cluster: RBG503 at the user's line (upstream's own pd-disagg-leader-worker.yaml
names `{W}-{i}.s-{R}-{r}`, which is no pod under the operator).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rbgc.diagnostics import Diagnostic, Span, did_you_mean, warning
from rbgc.jsonpath import find
from rbgc.k8s import controllers
from rbgc.k8s.manifest import Manifest
from rbgc.model import Group, Program, Role
from rbgc.source import JsonPath

# a DNS name: labels of lowercase letters, digits and '-', joined by dots
HOST = re.compile(
    r"(?<![\w$.@-])[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*"
)
PORT = re.compile(r":\d")


@dataclass(slots=True)
class Names:
    """What resolves in one namespace: Services, and each named pod's subdomain."""

    services: set[str] = field(default_factory=set)
    pods: dict[str, str] = field(default_factory=dict)  # pod -> the Service it is named under


def check_addresses(
    program: Program, manifests: Sequence[Manifest], namespace: str
) -> list[Diagnostic]:
    names = _names(manifests, namespace)
    prefixes: dict[str, list[str]] = {}
    for group in program.groups:
        prefixes.setdefault(group.namespace, []).extend(
            (f"{group.name}-", f"{group.conventions.service_prefix}{group.name}-")
        )
    found: list[Diagnostic] = []
    for group in program.groups:
        ours = tuple(prefixes[group.namespace])
        for span, text in _strings(group):
            for match in HOST.finditer(text):
                problem = _check(match, text, group.namespace, ours, names, span)
                if problem is not None:
                    found.append(problem)
    return list(dict.fromkeys(found))


def _names(manifests: Sequence[Manifest], namespace: str) -> dict[str, Names]:
    out: dict[str, Names] = {}
    for m in manifests:
        here = out.setdefault(m.namespace or namespace, Names())
        subdomain = find(m.body, ("spec", "serviceName"))
        if m.kind == "Service":
            here.services.add(m.name)
        elif m.kind == "StatefulSet" and isinstance(subdomain, str):
            start = find(m.body, ("spec", "ordinals", "start"))
            start = start if isinstance(start, int) else 0
            for k in range(start, start + controllers.replicas(m.body)):
                here.pods[f"{m.name}-{k}"] = subdomain
        elif m.kind == "LeaderWorkerSet":
            # the LWS controller's headless Service `{W}` names every pod of the set
            here.services.add(m.name)
            for i in range(controllers.replicas(m.body)):
                here.pods[f"{m.name}-{i}"] = m.name
                for j in range(1, controllers.pods_per_replica(m.body)):
                    here.pods[f"{m.name}-{i}-{j}"] = m.name
    return out


def _check(
    match: re.Match[str],
    text: str,
    namespace: str,
    ours: tuple[str, ...],
    names: Mapping[str, Names],
    span: Span,
) -> Diagnostic | None:
    host = match.group(0)
    before = text[: match.start()]
    if before.endswith("/") and not before.endswith("//"):
        return None  # a path segment (`/models/x.y`, `org/model`), not a host
    labels = host.split(".")
    if labels[-2:] == ["cluster", "local"]:
        labels = labels[:-2]
    qualified = labels[-1:] == ["svc"]
    if qualified:
        labels = labels[:-1]
    if not labels or len(labels) > 3:
        return None
    # the readings of the labels: (pod or None, service, namespace)
    readings: list[tuple[str | None, str, str]] = []
    if len(labels) == 1 and not qualified:
        after = text[match.end() :]
        if not (PORT.match(after) or before.endswith("//")):
            return None  # a lone word is an address only as `host:port` or `//host`
        readings.append((None, labels[0], namespace))
    elif len(labels) == 2:
        readings.append((None, labels[0], labels[1]))  # {service}.{namespace}
        if not qualified:
            readings.append((labels[0], labels[1], namespace))  # {pod}.{service}
    elif len(labels) == 3:
        readings.append((labels[0], labels[1], labels[2]))
    readings = [r for r in readings if r[1].startswith(ours) and r[2] in names]
    if not readings or any(_resolves(r, names) for r in readings):
        return None
    pod, service, ns = readings[-1]
    here = names[ns]
    written = f"{pod}.{service}" if pod else service
    if pod is not None and pod in here.pods:
        right = f"{pod}.{here.pods[pod]}"
        helps = f"pod {pod} is named under {here.pods[pod]}: write {right}"
    else:
        known = [f"{p}.{s}" for p, s in here.pods.items()] if pod else sorted(here.services)
        helps = did_you_mean(
            written,
            known,
            "write a pod `{pod}.{service}` or a Service the output has (config.yaml and the "
            "RBG_* variables hold the right names)",
        )
    return warning(
        "RBG503",
        f"{written} names no {'pod' if pod else 'Service'} of the output in namespace {ns}: "
        "the address resolves nowhere",
        span,
        help=helps,
    )


def _resolves(reading: tuple[str | None, str, str], names: Mapping[str, Names]) -> bool:
    pod, service, ns = reading
    here = names[ns]
    if pod is None:
        return service in here.services
    return here.pods.get(pod) == service and service in here.services


def _strings(group: Group) -> Iterator[tuple[Span, str]]:
    """Each string of command, args and env values in the role's templates as written."""
    for role in group.roles:
        for path, template in _templates(group, role):
            spec = template.get("spec") if isinstance(template, dict) else None
            for key in ("initContainers", "containers"):
                items = spec.get(key) if isinstance(spec, dict) else None
                for c, container in enumerate(items if isinstance(items, list) else ()):
                    yield from _container(group, (*path, "spec", key, c), container)


def _container(group: Group, at: JsonPath, container: Any) -> Iterator[tuple[Span, str]]:
    if not isinstance(container, dict):
        return
    for key in ("command", "args"):
        values = container.get(key)
        for i, value in enumerate(values if isinstance(values, list) else ()):
            if isinstance(value, str):
                yield group.document.span(*at, key, i), value
    env = container.get("env")
    for i, var in enumerate(env if isinstance(env, list) else ()):
        if isinstance(var, dict) and isinstance(var.get("value"), str):
            yield group.document.span(*at, "env", i, "value"), var["value"]


def _templates(group: Group, role: Role) -> Iterator[tuple[JsonPath, Mapping[str, Any]]]:
    """The role's templates as written: its own or its role template (and patch), the
    leader/worker patches, each component's."""
    if role.template_ref is None:
        yield role.template_path, role.template
    else:
        ref = next((t for t in group.role_templates if t.name == role.template_ref), None)
        if ref is not None:
            yield ref.path, ref.template
        if role.template_patch:
            yield role.patch_path, role.template_patch
    lws = role.leader_worker_set
    if lws is not None:
        patches = (lws.patch_leader, lws.patch_worker)
        for path, patch in zip(role.leader_worker_patch_paths, patches, strict=True):
            if patch:
                yield path, patch
    if role.instance_set is not None:
        for component in role.instance_set.components:
            yield component.template_path, component.template
