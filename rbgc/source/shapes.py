"""The shapes every Kubernetes object shares, checked as each document is loaded (RBG009).

Every later stage relies on them: a document is a mapping with `apiVersion` and `kind`, which
are identifiers, `metadata` and its fields have their types, and `spec` is a mapping.
"""

from __future__ import annotations

import re
from typing import Any

from rbgc.diagnostics import Diagnostic, Span, error
from rbgc.source.document import SpanIndex


def document_problems(body: Any, spans: SpanIndex, index: int, span: Span) -> list[Diagnostic]:
    """Why document `index` (from 0) of a file is not a Kubernetes object, each located."""
    what = f"document {index + 1}"
    hint = "each YAML document must be a Kubernetes object with apiVersion and kind"
    if not isinstance(body, dict):
        return [error("RBG009", f"{what} is {kind_of(body)}, not an object", span, help=hint)]
    missing = [k for k in ("apiVersion", "kind") if body.get(k) is None]
    if missing:
        return [error("RBG009", f"{what} has no {' or '.join(missing)}", span, help=hint)]
    found = []
    for key, such_as in (("apiVersion", "`v1` or `apps/v1`"), ("kind", "`ConfigMap`")):
        value = body[key]
        if isinstance(value, str) and value:
            continue
        said = f"{key} is empty" if value == "" else f"{key} is {kind_of(value)}, not a string"
        found.append(
            error(
                "RBG009",
                f"{what}: {said}" + ("" if value == "" else f" such as {such_as}"),
                spans.at((key,)),
                help=f"write the {key} the API defines, such as {such_as}",
            )
        )
    return found or object_shape_problems(body, spans, what)


def kind_of(value: Any) -> str:
    """A YAML value's type in the words of YAML and JSON, not Python's (`str`, `int`)."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    return "a string" if isinstance(value, str) else "null"


# What the API server requires of every object, whatever its kind: kind and apiVersion are
# identifiers (rbgc names files and looks up schemas by them), metadata's own fields have
# their types, and `spec`, when given, is a mapping (API conventions; every built-in kind).
_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_API_VERSION = re.compile(r"^(?:[a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]+$")
_METADATA_TYPES: tuple[tuple[str, type[str] | type[dict[str, Any]], str], ...] = (
    ("name", str, "a string"),
    ("generateName", str, "a string"),
    ("namespace", str, "a string"),
    ("labels", dict, "a mapping of strings"),
    ("annotations", dict, "a mapping of strings"),
)


def object_shape_problems(body: dict[str, Any], spans: SpanIndex, what: str) -> list[Diagnostic]:
    """Problems with the fields every Kubernetes object shares (RBG009), each located."""
    hint = "the API server would reject the object; every later stage relies on these shapes"
    found = []
    if "metadata" in body and not isinstance(body["metadata"], dict):
        return [
            error(
                "RBG009",
                f"{what}: metadata must be a mapping",
                spans.at(("metadata",)),
                help="metadata holds name, namespace, labels and annotations",
            )
        ]
    if isinstance(body.get("kind"), str) and not _KIND.match(body["kind"]):
        found.append(
            error(
                "RBG009",
                f"{what}: kind {body['kind']!r} is not a kind name (letters and digits)",
                spans.at(("kind",)),
                help="write the kind as the API defines it, such as `ConfigMap`",
            )
        )
    if isinstance(body.get("apiVersion"), str) and not _API_VERSION.match(body["apiVersion"]):
        found.append(
            error(
                "RBG009",
                f"{what}: apiVersion {body['apiVersion']!r} is not `version` or `group/version`",
                spans.at(("apiVersion",)),
                help="write it as the API defines it, such as `v1` or `apps/v1`",
            )
        )
    meta = body.get("metadata") or {}
    for key, kind, words in _METADATA_TYPES:
        value = meta.get(key)
        if value is None:
            continue
        bad = not isinstance(value, kind) or (
            isinstance(value, dict) and not all(isinstance(v, str) for v in value.values())
        )
        if bad:
            found.append(
                error(
                    "RBG009",
                    f"{what}: metadata.{key} must be {words}",
                    spans.at(("metadata", key)),
                    help=hint
                    if kind is str
                    else "quote values such as `true` or `1`: "
                    "label and annotation values are strings",
                )
            )
    if body.get("spec") is not None and not isinstance(body["spec"], dict):
        found.append(
            error(
                "RBG009",
                f"{what}: spec must be a mapping",
                spans.at(("spec",)),
                help=hint,
            )
        )
    return found
