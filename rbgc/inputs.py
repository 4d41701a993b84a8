"""What every compiling command reads: the documents of its inputs, overlays resolved.

`build`, `validate`, `diff`/`plan` (both sides), `sync`, `graph` and `fit` load through this
one function. `source` stays a pure reader; overlays are applied here, and only when an
Overlay document is among the inputs (the overlay code is not imported otherwise).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from typing import Any

import yaml

from rbgc.diagnostics import Diagnostic, DiagnosticError, did_you_mean, error
from rbgc.k8s.conventions import OVERLAY_KIND, PLACEMENT_KINDS, RBGC_API_GROUP, RBGC_API_VERSION
from rbgc.source import MAX_FILE_BYTES, Document, count_values, read_all, read_path

# kustomize's own configuration (kustomization.yaml, components): read by kustomize, never
# applied to a cluster, and written by `rbgc build --layout waves` next to the objects.
KUSTOMIZE_CONFIG_GROUP = "kustomize.config.k8s.io/"
_NULL = "tag:yaml.org,2002:null"  # an empty document (`---` and nothing else)
# A document with two of these is a Kubernetes object (README, "Which files are read").
OBJECT_FIELDS = frozenset({"apiVersion", "kind", "metadata"})
OBJECT_RULE = "two of apiVersion, kind and metadata"
# rbgc's own documents: inputs, never objects of a cluster
RBGC_KINDS = (OVERLAY_KIND, *PLACEMENT_KINDS)


def load(paths: Iterable[str], stdin: Any = None, *, root: str | None = None) -> list[Document]:
    """Every document of every input; Overlay documents (`rbgc.io/v1alpha1` `Overlay`) are
    replaced by their base's documents as the overlay changes them, with bases inside `root`
    (None: the repository the command runs in).

    One rule for every command (README, "Which files are read"): a file that holds no
    Kubernetes object (`holds_objects`: a Helm values.yaml, a CI workflow) is skipped, as Argo
    CD skips YAML that is not a manifest in a directory app, and so are kustomize's own
    configuration documents. Only a file that fails to read is looked at again, so a build
    whose files are all manifests pays nothing for the rule."""
    documents = _manifests(read_all(paths, stdin, skip=lambda path: not holds_objects(path)))
    if any(
        d.kind == OVERLAY_KIND and d.api_version.startswith(f"{RBGC_API_GROUP}/") for d in documents
    ):
        from rbgc.overlays import resolve

        documents = resolve(documents, root, read=_read_base_file)
    # after resolving, so that a base's documents are checked too
    misspelt = [found for d in documents if (found := _misspelt(d)) is not None]
    if misspelt:
        raise DiagnosticError(misspelt)
    return documents


def _manifests(documents: list[Document]) -> list[Document]:
    return [d for d in documents if not d.api_version.startswith(KUSTOMIZE_CONFIG_GROUP)]


def _read_base_file(path: str) -> list[Document]:
    """A file of an overlay's base folder, read by the same rule as every input."""
    try:
        return _manifests(read_path(path))
    except DiagnosticError:
        if holds_objects(path):
            raise
        return []


def holds_objects(path: str) -> bool:
    """Whether some document of the file has two of `apiVersion`, `kind` and `metadata`
    (kustomize's own configuration aside). Read leniently: only the top-level keys are looked
    at, so what YAML 1.1 does to a workflow's `on:` key does not matter; anything unreadable
    counts as an object file, so the strict loader reports it."""
    nodes = _documents(path)
    return nodes is None or any(_is_object(node) for node in nodes)


def holds_documents(path: str) -> bool:
    """Whether the file holds a YAML document at all (not only comments), read leniently."""
    nodes = _documents(path)
    return nodes is None or any(node is not None and node.tag != _NULL for node in nodes)


def _documents(path: str) -> list[yaml.Node | None] | None:
    """The file's documents as YAML nodes; None when it is not a regular file rbgc reads or
    cannot be read as YAML."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
            return None
        with open(path, "rb") as fh:
            text = fh.read().decode("utf-8-sig")
        if count_values(text, path) is not None:
            return None  # too large to compose: the loader refuses it (RBG005)
        return list(yaml.compose_all(text, Loader=yaml.CSafeLoader))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return None


def _is_object(node: yaml.Node | None) -> bool:
    """Two of apiVersion, kind and metadata: a Kubernetes object, perhaps with a typo in the
    third. One alone is another tool's file: Helm's Chart.yaml and plugin.yaml have an
    apiVersion of Helm's, and Argo CD ignores them as not being manifests."""
    if not isinstance(node, yaml.MappingNode):
        return False
    top = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
    if len(OBJECT_FIELDS & top.keys()) < 2:
        return False
    api = top.get("apiVersion")
    return not (isinstance(api, yaml.ScalarNode) and api.value.startswith(KUSTOMIZE_CONFIG_GROUP))


def _misspelt(doc: Document) -> Diagnostic | None:
    """RBG104 for a document meant as one of rbgc's own (an Overlay, a Topology, a Placement)
    but not written as one: it would pass through as an object, so the overlay would silently
    not apply, and the cluster has no such kind. Other groups' kinds of the same name (Open
    Cluster Management's `Placement`) are not rbgc's and pass through."""
    group = doc.api_version.rpartition("/")[0]
    if group == RBGC_API_GROUP:
        if doc.kind not in RBGC_KINDS:
            return error(
                "RBG104",
                f"{RBGC_API_GROUP} has no kind {doc.kind}",
                doc.span("kind"),
                help=did_you_mean(doc.kind, RBGC_KINDS, "rbgc reads " + ", ".join(RBGC_KINDS)),
            )
        if doc.api_version != RBGC_API_VERSION:
            return error(
                "RBG104",
                f"rbgc reads {doc.kind} as {RBGC_API_VERSION}, not {doc.api_version}",
                doc.span("apiVersion"),
                help=f"did you mean 'apiVersion: {RBGC_API_VERSION}'?",
            )
        return None
    if doc.kind in RBGC_KINDS and not group:  # the core API has no such kind
        said = f"{doc.kind} {doc.api_version} is not an object of the core API"
    elif doc.kind in RBGC_KINDS and _close(group, RBGC_API_GROUP):
        said = f"API group {group} is not {RBGC_API_GROUP}"
    else:
        return None
    return error(
        "RBG104",
        said,
        doc.span("apiVersion"),
        help=f"did you mean 'apiVersion: {RBGC_API_VERSION}'?",
    )


def _close(group: str, target: str) -> bool:
    """A keystroke or two away (`rbg.io`, `rgbc.io`), not another domain (`rbgc.dev`)."""
    import difflib

    return difflib.SequenceMatcher(None, group.lower(), target.lower()).ratio() >= 0.85
