"""The Overlay document: its identity and its schema, checked by the build's own walker."""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from rbgc.diagnostics import Diagnostic
from rbgc.k8s import conventions as cv
from rbgc.schema import Walker
from rbgc.source import (
    Document,
)

API_VERSION = f"{cv.RBGC_API_GROUP}/v1alpha1"
KIND = cv.OVERLAY_KIND
SCHEMA_PATH = Path(__file__).parent.parent / "schemas" / "overlay.v1alpha1.schema.json"
_SCHEMA_HELP = "see schemas/overlay.v1alpha1.schema.json for the overlay format"


def is_overlay(doc: Document) -> bool:
    return doc.api_version == API_VERSION and doc.kind == KIND


@functools.cache
def schema() -> dict[str, Any]:
    with open(SCHEMA_PATH, encoding="utf-8") as fh:
        loaded: dict[str, Any] = json.load(fh)
    return loaded


def check(doc: Document) -> list[Diagnostic]:
    """Schema problems of one overlay document, each at its location (RBG704).

    The same walker as the RoleBasedGroup schema: no jsonschema on the build path."""
    walker = Walker(doc, defs=schema().get("$defs", {}), noun="overlay")
    return [
        replace(d, code="RBG704", help=d.help or _SCHEMA_HELP)
        for d in walker.walk(schema(), doc.body, ())
    ]
