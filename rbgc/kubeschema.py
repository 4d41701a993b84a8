"""Strict check of compiled objects against the Kubernetes schemas of `kubernetes-validate`.

Used by `rbgc validate` and `rbgc build --strict` only: importing this module pulls in
jsonschema and kubernetes_validate (~130 ms), which the default build never pays.

`kubernetes_validate.validate()` re-reads a 1.5 MB definitions file and builds a fresh
validator on every call (~10 ms per object); we build one validator per (version, kind) from
the same schema files, the same file naming and the same version choice, and keep it.
Only core API groups are checked whole: the library picks schema files by the API group's first
label, so `scheduling.x-k8s.io/v1alpha1 PodGroup` would be checked against Kubernetes' own
`scheduling.k8s.io` PodGroup from 1.35 on (ecosystem.md §C). Of a custom resource, the pod
templates it embeds (`k8s/pods.py`: a LeaderWorkerSet's leader and worker templates) are
checked against `core/v1` PodTemplateSpec.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from typing import Any

import jsonschema
import kubernetes_validate.utils as kv
from jsonschema.exceptions import relevance
from referencing import Registry, Resource

from rbgc.diagnostics import Diagnostic, DiagnosticError, error
from rbgc.k8s.manifest import Manifest
from rbgc.k8s.pods import pod_templates
from rbgc.schematext import describe
from rbgc.source import path_text

CORE_GROUPS = frozenset({"", "apps", "batch", "policy", "autoscaling"})
MAX_ERRORS_PER_OBJECT = 10


def is_core(api_version: str) -> bool:
    group = api_version.rpartition("/")[0]
    return group in CORE_GROUPS or group.endswith(".k8s.io")


@functools.cache
def supported_versions() -> tuple[str, ...]:
    return tuple(kv.major_minor(v) for v in kv.all_versions())


def normalize_version(raw: str) -> str:
    """`v1.33.2`, `1.33+`, `1.33` -> `1.33`; anything else is refused with RBG602."""
    match = re.match(r"^v?(\d+)\.(\d+)", raw.strip())
    if not match:
        raise DiagnosticError(
            [
                error(
                    "RBG602",
                    f"cannot read Kubernetes version {raw!r}",
                    None,
                    help="use MAJOR.MINOR, such as 1.33",
                )
            ]
        )
    version = f"{int(match[1])}.{int(match[2])}"
    known = supported_versions()
    numeric = [tuple(map(int, v.split("."))) for v in known]
    wanted = (int(match[1]), int(match[2]))
    if wanted < numeric[0] or wanted > numeric[-1]:
        raise DiagnosticError(
            [
                error(
                    "RBG602",
                    f"Kubernetes {version} is outside the schemas rbgc has "
                    f"({known[0]} to {known[-1]})",
                    None,
                    help=f"pass --kubernetes-version between {known[0]} and {known[-1]}",
                )
            ]
        )
    # The newest bundled schema not newer than the request, as kubernetes-validate chooses.
    return known[max(i for i, v in enumerate(numeric) if v <= wanted)]


_DEFINITIONS = "https://kubernetes.io/api/_definitions.json"  # the definitions file's $id


@functools.cache
def _registry(version: str) -> Registry:
    defs = kv.schema_contents(
        f"kubernetes-json-schema/v{_full(version)}-local-strict/_definitions.json", version
    )
    registry: Registry = Resource.from_contents(defs) @ Registry()
    return registry


@functools.cache
def _full(version: str) -> str:
    return str(next(v for v in kv.all_versions() if kv.major_minor(v) == version))


@functools.cache
def validator(version: str, api_version: str, kind: str) -> jsonschema.protocols.Validator | None:
    """The cached strict validator for one kind, or None when Kubernetes has no such schema."""
    schema_api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    name = f"kubernetes-json-schema/v{_full(version)}-local-strict/{kind.lower()}-{schema_api}.json"
    try:
        schema = kv.schema_contents(name, version)
    except (FileNotFoundError, kv.VersionNotSupportedError):
        # kubernetes-validate says "version not supported" when the file's folder is missing,
        # which a kind with a `/` would cause (loading refuses those: RBG009)
        return None
    registry = Resource.from_contents(schema) @ _registry(version)
    return jsonschema.Draft202012Validator(schema, registry=registry)


@functools.cache
def _pod_template_validator(version: str) -> jsonschema.protocols.Validator:
    """`core/v1` PodTemplateSpec, as the kinds that embed one reference it."""
    schema = {"$ref": f"{_DEFINITIONS}#/$defs/io.k8s.api.core.v1.PodTemplateSpec"}
    return jsonschema.Draft202012Validator(schema, registry=_registry(version))


def check_manifest(manifest: Manifest, version: str) -> Iterator[Diagnostic]:
    if not is_core(manifest.api_version):
        # A custom resource has no Kubernetes schema, but the pod templates it embeds (a
        # LeaderWorkerSet's leader and worker templates) are core PodTemplateSpecs: the CRD
        # embeds their schema and the controller copies them into pods.
        found: list[jsonschema.ValidationError] = []
        for path in pod_templates(manifest):
            template = _value_at(manifest.body, path)
            if template is not None:
                found.extend(
                    _prefixed(err, path)
                    for err in _pod_template_validator(version).iter_errors(template)
                )
        yield from _report(manifest, found, version)
        return
    v = validator(version, manifest.api_version, manifest.kind)
    if v is None:
        yield error(
            "RBG601",
            f"{manifest.kind} {manifest.api_version} has no Kubernetes {version} schema",
            manifest.origin,
            help="check apiVersion and kind; the API server would not know it",
        )
        return
    yield from _report(manifest, list(v.iter_errors(manifest.body)), version)


def _value_at(body: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        body = body.get(part) if isinstance(body, dict) else None
    return body


def _prefixed(
    err: jsonschema.ValidationError, prefix: tuple[str | int, ...]
) -> jsonschema.ValidationError:
    """The error as if the whole object had been validated: its path starts at the object."""
    err.path.extendleft(reversed(prefix))
    return err


def _report(
    manifest: Manifest, found: list[jsonschema.ValidationError], version: str
) -> Iterator[Diagnostic]:
    errors = sorted(found, key=relevance)
    for err in errors[:MAX_ERRORS_PER_OBJECT]:
        path = tuple(err.absolute_path)
        ns = f"{manifest.namespace}/" if manifest.namespace else ""
        where = f"{manifest.kind} {ns}{manifest.name}"
        field = path_text(path)
        span = manifest.span_of(path)
        extra = _unexpected_keys(err)
        if extra:  # point at the unknown key itself, not at the object holding it
            span = manifest.span_of((*path, extra[0]), key=True)
        yield error(
            "RBG601",
            f"{where}: {field + ': ' if field else ''}{_short(describe(err))} "
            f"(Kubernetes {version} schema)",
            span,
            help="fix the field in the input; the API server would reject this object",
        )


def _unexpected_keys(err: jsonschema.ValidationError) -> list[str]:
    schema = err.schema
    if err.validator != "additionalProperties" or not isinstance(err.instance, dict):
        return []
    if not isinstance(schema, dict):
        return []
    known = set(schema.get("properties", {}))
    return sorted(k for k in err.instance if k not in known)


def _short(message: str) -> str:
    return message if len(message) <= 160 else message[:157] + "..."


def check_bundle(manifests: Sequence[Manifest], version: str) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for manifest in manifests:
        found.extend(check_manifest(manifest, version))
    return found


def strict_ok(body: dict[str, Any], version: str) -> bool:
    """True when one object validates (helper for tests and benchmarks)."""
    v = validator(version, body["apiVersion"], body["kind"])
    return v is not None and v.is_valid(body)
