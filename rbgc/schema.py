"""The input schema check that every build runs, located at `path:line:col`.

`schemas/rolebasedgroup.v1alpha1.schema.json` is the single source of truth. `rbgc validate`
checks documents against it with the `jsonschema` library; `rbgc build` must start in tens of
milliseconds, so it interprets the same file here with a small walker that understands only the
keywords the schema uses (listed in `KEYWORDS`; a test fails if the schema grows another one, and
a property test checks that both agree on validity).

Unlike check-jsonschema, every problem points at the offending key or value in the user's file.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from rbgc.diagnostics import Diagnostic, Span, did_you_mean, error
from rbgc.source import Document, JsonPath, path_text

SCHEMA_PATH = os.path.join(
    os.path.dirname(__file__), "schemas", "rolebasedgroup.v1alpha1.schema.json"
)
KINDS = ("RoleBasedGroup", "RoleBasedGroupSet", "ClusterEngineRuntimeProfile")
# The current upstream API (`rbgc convert` reads it; the build does not yet).
SCHEMA_V1ALPHA2_PATH = os.path.join(
    os.path.dirname(__file__), "schemas", "rolebasedgroup.v1alpha2.schema.json"
)
KINDS_V1ALPHA2 = (
    "RoleBasedGroup",
    "RoleBasedGroupSet",
    "CoordinatedPolicy",
    "RoleBasedGroupScalingAdapter",
    "ClusterEngineRuntimeProfile",
)
KEYWORDS = frozenset(
    {
        "$schema",
        "$id",
        "$defs",
        "$ref",
        "title",
        "description",
        "type",
        "properties",
        "required",
        "additionalProperties",
        "enum",
        "const",
        "pattern",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "minItems",
        "items",
        "anyOf",
        "not",
        "propertyNames",
        "x-kubernetes-preserve-unknown-fields",
        "x-rbgc-expected",
    }
)

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
}
_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "boolean": "true or false",
    "integer": "an integer",
    "number": "a number",
}


@functools.cache
def schema() -> dict[str, Any]:
    with open(SCHEMA_PATH, encoding="utf-8") as fh:
        loaded: dict[str, Any] = json.load(fh)
    return loaded


@functools.cache
def schema_v1alpha2() -> dict[str, Any]:
    with open(SCHEMA_V1ALPHA2_PATH, encoding="utf-8") as fh:
        loaded: dict[str, Any] = json.load(fh)
    return loaded


@functools.cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = defs[node["$ref"].removeprefix("#/$defs/")]
    return node


def _is_type(value: Any, type_name: str) -> bool:
    if isinstance(value, bool) and type_name in ("integer", "number"):
        return False
    # Kubernetes decodes int32 fields strictly: `replicas: 2.0` is refused by the API server,
    # so it is not an integer here either (JSON Schema alone would accept it).
    return isinstance(value, _TYPES[type_name])


def _show(value: Any) -> str:
    text = (
        json.dumps(value, ensure_ascii=False)
        if not isinstance(value, dict | list)
        else ("a mapping" if isinstance(value, dict) else "a list")
    )
    return text if len(text) <= 60 else text[:57] + "..."


def _field(jpath: JsonPath) -> str:
    return path_text(jpath) or "(document)"


class Walker:
    """Checks a value against a node of a JSON Schema, yielding located diagnostics.

    `defs` resolves `$ref`s; `noun` names the language in unknown-field messages ("unknown
    overlay field x"). Every keyword it understands is in KEYWORDS.
    """

    def __init__(
        self,
        doc: Document,
        *,
        at: JsonPath = (),
        defs: dict[str, Any] | None = None,
        noun: str = "",
    ) -> None:
        self.doc = doc
        self.at = at  # where the checked value sits in the document
        self.defs = defs if defs is not None else schema()["$defs"]
        self.noun = f"{noun} " if noun else ""

    def span(self, jpath: JsonPath, *, key: bool = False) -> Span:
        return self.doc.span(*self.at, *jpath, key=key)

    def where(self, jpath: JsonPath) -> str:
        """A field's path; the document itself by its kind and name (no path names it)."""
        if jpath or self.at:
            return _field(jpath)
        metadata = self.doc.body.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        return f"{self.doc.kind} {name}" if isinstance(name, str) else f"this {self.doc.kind}"

    def walk(self, node: dict[str, Any], value: Any, jpath: JsonPath) -> Iterator[Diagnostic]:
        node = _resolve(node, self.defs)
        if "not" in node and self.valid(node["not"], value):
            yield self.bad(jpath, value, node.get("x-rbgc-expected", "another value"))
            return
        if "anyOf" in node:
            if not any(self.valid(option, value) for option in node["anyOf"]):
                yield self.bad(jpath, value, node.get("x-rbgc-expected", "another value"))
            return
        if "const" in node and value != node["const"]:
            yield self.bad(jpath, value, _show(node["const"]))
            return
        type_name = node.get("type")
        if type_name and not _is_type(value, type_name):
            yield self.bad(
                jpath,
                value,
                _TYPE_WORDS[type_name],
                help=_unquote_hint(value, type_name) or _shape_hint(jpath, value, type_name),
            )
            return
        if "enum" in node and value not in node["enum"]:
            choices = ", ".join(_show(v) for v in node["enum"])
            yield self.bad(
                jpath,
                value,
                f"one of {choices}",
                help=did_you_mean(
                    str(value), map(str, node["enum"]), "write one of those, as written"
                ),
            )
            return
        if isinstance(value, str):
            yield from self.string(node, value, jpath)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if "minimum" in node and value < node["minimum"]:
                least = node["minimum"]
                yield self.bad(jpath, value, f"at least {least}", help=f"use {least} or more")
            if "maximum" in node and value > node["maximum"]:
                most = node["maximum"]
                yield self.bad(jpath, value, f"at most {most}", help=f"use {most} or less")
        elif isinstance(value, list):
            if len(value) < node.get("minItems", 0):
                least = node["minItems"]
                items = "one item" if least == 1 else f"{least} items"
                yield error(
                    "RBG101",
                    f"{self.where(jpath)} needs at least {items}",
                    self.span(jpath),
                    help=f"list {items} under `{_key(jpath)}:`",
                )
            if "items" in node:
                for i, item in enumerate(value):
                    yield from self.walk(node["items"], item, (*jpath, i))
        elif isinstance(value, dict):
            yield from self.mapping(node, value, jpath)

    def string(self, node: dict[str, Any], value: str, jpath: JsonPath) -> Iterator[Diagnostic]:
        if len(value) < node.get("minLength", 0):
            yield self.bad(jpath, value, "a non-empty string")
        elif "maxLength" in node and len(value) > node["maxLength"]:
            yield self.bad(jpath, value, f"at most {node['maxLength']} characters")
        elif "pattern" in node and not _regex(node["pattern"]).search(value):
            yield self.bad(
                jpath, value, node.get("x-rbgc-expected", f"a match for {node['pattern']}")
            )

    def mapping(
        self, node: dict[str, Any], value: dict[str, Any], jpath: JsonPath
    ) -> Iterator[Diagnostic]:
        props: dict[str, Any] = node.get("properties", {})
        missing = [k for k in node.get("required", ()) if k not in value]
        for key in missing:
            where = self.where(jpath)
            yield error(
                "RBG103",
                f"{where} is missing required field {key!r}",
                self.span(jpath),
                help=f"add `{key}:` to {where}",
            )
        extra = node.get("additionalProperties", True)
        names = node.get("propertyNames")
        for key, item in value.items():
            child = (*jpath, key)
            if names is not None and not self.valid(names, key):
                expected = names.get("x-rbgc-expected", "another name")
                yield error(
                    "RBG101",
                    f"{_field(child)}: the key must be {expected}",
                    self.span(child, key=True),
                )
            if key in props:
                yield from self.walk(props[key], item, child)
            elif extra is False and not node.get("x-kubernetes-preserve-unknown-fields"):
                hint = did_you_mean(key, props, "known fields: " + ", ".join(sorted(props)))
                yield error(
                    "RBG102",
                    f"unknown {self.noun}field {_field(child)!s}",
                    self.span(child, key=True),
                    help=hint,
                )
            elif isinstance(extra, dict):
                yield from self.walk(extra, item, child)

    def valid(self, node: dict[str, Any], value: Any) -> bool:
        return next(iter(self.walk(node, value, ())), None) is None

    def bad(
        self, jpath: JsonPath, value: Any, expected: str, *, help: str | None = None
    ) -> Diagnostic:
        return error(
            "RBG101",
            f"{_field(jpath)}: expected {expected}, got {_show(value)}",
            self.span(jpath),
            help=help,
        )


def _key(jpath: JsonPath) -> str:
    """The name of the field a path ends in (a list item: the list's)."""
    keys = [part for part in jpath if isinstance(part, str)]
    return keys[-1] if keys else "the list"


def _shape_hint(jpath: JsonPath, value: Any, type_name: str) -> str | None:
    """`dependencies: b` where a list goes: show the list the user probably meant."""
    if type_name == "array" and not isinstance(value, dict | list):
        return f"write a list: `{_key(jpath)}: [{_show(value).strip(chr(34))}]`"
    if type_name == "object" and not isinstance(value, dict | list):
        return f"write the fields of `{_key(jpath)}` indented under it, one `name: value` a line"
    return {
        "integer": f"write a whole number, unquoted: `{_key(jpath)}: 2`",
        "number": f"write a number, unquoted: `{_key(jpath)}: 0.5`",
        "boolean": f"write true or false, unquoted: `{_key(jpath)}: true`",
        "string": f'quote the value to make it a string: `{_key(jpath)}: "{_plain(value)}"`',
        "array": f"write the items as a list under `{_key(jpath)}:`, each line `- item`",
        "object": None,
    }.get(type_name)


def _plain(value: Any) -> str:
    return _show(value) if not isinstance(value, dict | list) else "..."


def _unquote_hint(value: Any, type_name: str) -> str | None:
    """`replicas: "2"`: the quotes make a string of a number (or of a boolean)."""
    if not isinstance(value, str):
        return None
    unquoted = {
        "boolean": r"true|false",
        "integer": r"-?\d+",
        "number": r"-?\d+(\.\d+)?",
    }.get(type_name)
    if unquoted is None or not re.fullmatch(unquoted, value):
        return None
    return f"remove the quotes around {json.dumps(value)}: quoted, it is a string"


def check_value(
    value: Any, definition: str, doc: Document, at: JsonPath, label: str
) -> list[Diagnostic]:
    """Problems of a value built by rbgc from the document (e.g. a patched pod template)
    against one definition of the schema; locations fall back to `at` in the document."""
    walker = Walker(doc, at=at)
    return [
        replace(d, message=f"{label}: {d.message}")
        for d in walker.walk(schema()["$defs"][definition], value, ())
    ]


def check(doc: Document) -> list[Diagnostic]:
    """Every schema problem of one RBG-family document (empty list: valid)."""
    if doc.kind not in KINDS:
        return []
    return list(Walker(doc).walk(schema()["$defs"][doc.kind], doc.body, ()))


def is_rbg_document(doc: Document) -> bool:
    return doc.api_version.startswith("workloads.x-k8s.io/") and doc.kind in KINDS


def check_v1alpha2(doc: Document) -> list[Diagnostic]:
    """Every problem of one `workloads.x-k8s.io/v1alpha2` document against its schema."""
    if doc.kind not in KINDS_V1ALPHA2:
        return []
    defs = schema_v1alpha2()["$defs"]
    return list(Walker(doc, defs=defs).walk(defs[doc.kind], doc.body, ()))
