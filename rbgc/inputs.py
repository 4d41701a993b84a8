"""What every compiling command reads: the documents of its inputs, overlays resolved.

`build`, `validate`, `diff`/`plan` (both sides), `sync`, `graph` and `fit` load through this
one function. `source` stays a pure reader; overlays are applied here, and only when an
Overlay document is among the inputs (the overlay code is not imported otherwise).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rbgc.k8s.conventions import OVERLAY_KIND, RBGC_API_GROUP
from rbgc.source import Document, read_all


def load(paths: Iterable[str], stdin: Any = None, *, root: str | None = None) -> list[Document]:
    """Every document of every input; Overlay documents (`rbgc.io/v1alpha1` `Overlay`) are
    replaced by their base's documents as the overlay changes them, with bases inside `root`
    (None: the repository the command runs in)."""
    documents = read_all(paths, stdin)
    if not any(
        d.kind == OVERLAY_KIND and d.api_version.startswith(f"{RBGC_API_GROUP}/") for d in documents
    ):
        return documents
    from rbgc.overlays import resolve

    return resolve(documents, root)
