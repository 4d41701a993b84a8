"""`rbgc validate`: the whole compiler, the JSON Schema of the input, and the Kubernetes schema.

The input is checked twice on purpose: the build's own schema walker (`schema.py`, fast, with
locations) and the reference `jsonschema` implementation over the same schema file. They
should never disagree; if they do, the jsonschema finding is reported too so nothing slips.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import jsonschema

from rbgc.diagnostics import Diagnostic, DiagnosticError, Severity, error
from rbgc.k8s.conventions import API_VERSION
from rbgc.kubeschema import check_bundle, normalize_version
from rbgc.pipeline import Options, compile_documents
from rbgc.schema import is_rbg_document, schema
from rbgc.schematext import describe
from rbgc.source import Document, expand_paths, load, path_text


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What `rbgc validate` found across all inputs."""

    diagnostics: tuple[Diagnostic, ...]
    files: int
    objects: int
    version: str

    @property
    def errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.diagnostics)

    def summary(self) -> str:
        warnings = sum(d.severity is Severity.WARNING for d in self.diagnostics)
        text = (
            f"rbgc: {self.files} file(s), {self.objects} object(s) valid for "
            f"Kubernetes {self.version}"
        )
        return text + (f" ({warnings} warning(s))" if warnings else "")


def _strict_integer(checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


def reference_validator() -> jsonschema.protocols.Validator:
    """The schema under jsonschema, with Kubernetes' integers: 2.0 is not one."""
    checker = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _strict_integer)
    strict = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
        jsonschema.Draft202012Validator, type_checker=checker
    )
    validator: jsonschema.protocols.Validator = strict(schema())
    return validator


def reference_errors(documents: Sequence[Document]) -> list[Diagnostic]:
    validator = reference_validator()
    found = []
    for doc in documents:
        # Other versions of the group are refused before the schema (RBG120): the schema is
        # v1alpha1's, and the whole document would not match it.
        if not is_rbg_document(doc) or doc.api_version != API_VERSION:
            continue
        best = jsonschema.exceptions.best_match(validator.iter_errors(doc.body))
        if best is not None:
            where = path_text(tuple(best.absolute_path)) or "(document)"
            found.append(
                error(
                    "RBG101",
                    f"{where}: {describe(best)} (JSON Schema)",
                    doc.span(*best.absolute_path),
                )
            )
    return found


def validate_paths(paths: Sequence[str], options: Options, kubernetes_version: str) -> Outcome:
    version = normalize_version(kubernetes_version)
    documents: list[Document] = []
    try:
        documents = load(paths, root=options.root)
        result = compile_documents(documents, options)
    except DiagnosticError as exc:
        diagnostics = list(exc.diagnostics)
        if documents and not any(d.code in ("RBG101", "RBG102", "RBG103") for d in diagnostics):
            diagnostics.extend(reference_errors(documents))
        return Outcome(
            diagnostics=tuple(sorted(diagnostics, key=Diagnostic.sort_key)),
            files=_count_files(paths),
            objects=0,
            version=version,
        )
    found = [
        *result.warnings,
        *check_bundle(result.bundle.manifests, version),
        *reference_errors(documents),
    ]
    return Outcome(
        diagnostics=tuple(sorted(found, key=Diagnostic.sort_key)),
        files=_count_files(paths),
        objects=len(result.bundle.manifests),
        version=version,
    )


def _count_files(paths: Sequence[str]) -> int:
    """Input files as given (an overlay replaces its documents by its base's)."""
    try:
        return len(expand_paths(list(paths)))
    except DiagnosticError:
        return 0


def merge_outcomes(outcomes: Iterable[Outcome]) -> Outcome:
    """One report for several separately validated inputs."""
    done = list(outcomes)
    return Outcome(
        diagnostics=tuple(
            sorted({d for o in done for d in o.diagnostics}, key=Diagnostic.sort_key)
        ),
        files=sum(o.files for o in done),
        objects=sum(o.objects for o in done),
        version=done[0].version,
    )
