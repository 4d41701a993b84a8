"""`rbgc validate`: the whole compiler, the JSON Schema of the input, and the Kubernetes schema.

The input is checked twice on purpose: the build's own schema walker (`schema.py`, fast, with
locations) and the reference `jsonschema` implementation over the same schema file. They
should never disagree; if they do, the jsonschema finding is reported too so nothing slips.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Any

import jsonschema

from rbgc.diagnostics import Diagnostic, DiagnosticError, Severity, error
from rbgc.inputs import holds_objects, load
from rbgc.k8s.conventions import API_VERSION, API_VERSION_V1ALPHA2, PROFILE_KIND
from rbgc.kubeschema import check_bundle, normalize_version
from rbgc.outdir import MARKER
from rbgc.pipeline import Options, compile_documents, no_input
from rbgc.schema import KINDS_V1ALPHA2, is_rbg_document, schema, schema_v1alpha2
from rbgc.schematext import describe
from rbgc.source import STDIN, Document, expand_paths, path_text


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What `rbgc validate` found across all inputs."""

    diagnostics: tuple[Diagnostic, ...]
    files: int
    objects: int
    version: str
    skipped: int = 0  # files holding no Kubernetes object (CI workflows, docker-compose, ...)

    @property
    def errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.diagnostics)

    def summary(self) -> str:
        warnings = sum(d.severity is Severity.WARNING for d in self.diagnostics)
        text = (
            f"rbgc: {self.files} file(s), {self.objects} object(s) valid for "
            f"Kubernetes {self.version}"
        )
        if warnings:
            text += f" ({warnings} warning(s))"
        if self.skipped:
            text += f"; {self.skipped} file(s) without Kubernetes objects skipped"
        return text


def _strict_integer(checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


def reference_validator(*, v1alpha2: bool = False) -> jsonschema.protocols.Validator:
    """The schema under jsonschema, with Kubernetes' integers: 2.0 is not one."""
    checker = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _strict_integer)
    strict = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
        jsonschema.Draft202012Validator, type_checker=checker
    )
    validator: jsonschema.protocols.Validator = strict(schema_v1alpha2() if v1alpha2 else schema())
    return validator


def reference_errors(documents: Sequence[Document]) -> list[Diagnostic]:
    validators = {False: reference_validator(), True: reference_validator(v1alpha2=True)}
    found = []
    for doc in documents:
        # Each version against its own schema; other versions of the group are refused before
        # (RBG120), as the whole document would not match either.
        v1alpha2 = doc.api_version == API_VERSION_V1ALPHA2 and doc.kind in KINDS_V1ALPHA2
        if not (v1alpha2 or (is_rbg_document(doc) and doc.api_version == API_VERSION)):
            continue
        validator = validators[v1alpha2]
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


def validate_paths(
    paths: Sequence[str], options: Options, kubernetes_version: str, *, separately: bool = False
) -> Outcome:
    """Validate the Kubernetes manifests among `paths`, as one program or file by file.

    Files are read by the rule every command reads them by (`inputs.load`): a file that holds
    no Kubernetes object at all is skipped, and counted here (a pre-commit hook or `git
    ls-files '*.yaml'` also hands over CI workflows and docker-compose files, whose YAML 1.1
    quirks are none of rbgc's business); inputs that leave nothing to compile are RBG011, as
    for build. Separately, each file is its own program, and a ClusterEngineRuntimeProfile it
    uses but does not define is taken from the other inputs, so a file's answer does not
    depend on which other files were named with it.
    """
    version = normalize_version(kubernetes_version)
    inputs, skipped = select_inputs(paths)
    if not inputs:
        raise DiagnosticError(no_input(paths))  # nothing to compile: RBG011, as for build
    if not separately:
        return replace(_validate_unit(inputs, options, version, ()), skipped=skipped)
    shared = _profiles(inputs, options)
    outcome = merge_outcomes(_validate_unit([p], options, version, shared) for p in inputs)
    return replace(outcome, skipped=skipped)


def validate_repository(
    root: str, options: Options, kubernetes_version: str, *, separately: bool = False
) -> Outcome:
    """`rbgc validate` with no path: the repository at `root` (the pre-commit hook's first
    config has no `args:`). RBG011 with a hint naming `args` when it holds no manifests."""
    files = repository_files(root)
    if not select_inputs(files)[0]:
        raise DiagnosticError([_name_args(d) for d in no_input([root])])
    return validate_paths(files, options, kubernetes_version, separately=separately)


def _name_args(found: Diagnostic) -> Diagnostic:
    return replace(
        found,
        help="with no path, rbgc validate checks the YAML files git sees from the repository "
        "root; name the folders that hold your manifests instead, e.g. in the pre-commit hook: "
        "`args: [apps/, overlays/]`",
    )


# what git sees of the work tree: tracked files, and new files that are not ignored
GIT_LS_FILES = ("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")


def repository_files(root: str) -> list[str]:
    """The YAML files of the repository at `root` as git sees them (tracked, and new files not
    ignored), without hidden entries (as a folder is read) and without rbgc's own output
    folders (their compiled objects would clash with their sources; `build --check` checks
    them); a folder that is no git checkout is read whole. Paths relative to the current
    folder, sorted."""
    import subprocess

    try:
        listed = subprocess.run(
            [*GIT_LS_FILES, "--", "*.yaml", "*.yml"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\0")
    except (OSError, subprocess.CalledProcessError):
        listed = [os.path.relpath(p, root) for p in expand_paths([root])]
    files = []
    for name in sorted(set(filter(None, listed))):
        parts = PurePosixPath(name).parts
        if any(p.startswith(".") for p in parts) or _in_output_folder(root, parts[:-1]):
            continue
        path = os.path.join(root, name)
        if os.path.isfile(path):  # git still lists a tracked file deleted in the work tree
            files.append(os.path.relpath(path))
    return files


def _in_output_folder(root: str, folders: tuple[str, ...]) -> bool:
    return any(
        os.path.isfile(os.path.join(root, *folders[:depth], MARKER))
        for depth in range(len(folders) + 1)
    )


def select_inputs(paths: Sequence[str]) -> tuple[list[str], int]:
    """The files to validate (folders expanded) and how many files were skipped.

    What cannot be read or classified (stdin, a missing path, bad YAML) is kept: the loader
    reports it.
    """

    inputs: list[str] = []
    skipped = 0
    for raw in paths:
        try:
            files = expand_paths([raw])
        except DiagnosticError:
            inputs.append(raw)
            continue
        for path in files:
            if path == STDIN or holds_objects(path):
                inputs.append(path)
            else:
                skipped += 1
    return inputs, skipped


def _profiles(paths: Sequence[str], options: Options) -> list[Document]:
    """Every ClusterEngineRuntimeProfile among the inputs (files that fail to load are
    reported by their own validation)."""
    found: list[Document] = []
    for path in paths:
        try:
            found.extend(d for d in load([path], root=options.root) if d.kind == PROFILE_KIND)
        except DiagnosticError:
            continue
    return found


def _validate_unit(
    paths: Sequence[str], options: Options, version: str, shared: Sequence[Document]
) -> Outcome:
    documents: list[Document] = []
    try:
        documents = load(paths, root=options.root)
        if not documents:
            raise DiagnosticError(no_input(paths))
        result = compile_documents([*documents, *_borrowed(documents, shared)], options)
    except DiagnosticError as exc:
        diagnostics = list(exc.diagnostics)
        if documents and not any(d.code in ("RBG101", "RBG102", "RBG103") for d in diagnostics):
            diagnostics.extend(reference_errors(documents))
        return Outcome(
            diagnostics=tuple(sorted(diagnostics, key=Diagnostic.sort_key)),
            files=len(paths),
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
        files=len(paths),
        objects=len(result.bundle.manifests),
        version=version,
    )


def _name(doc: Document) -> str:
    metadata = doc.body.get("metadata")
    return str(metadata.get("name", "")) if isinstance(metadata, dict) else ""


def _borrowed(documents: Sequence[Document], shared: Sequence[Document]) -> list[Document]:
    """The shared profiles the documents do not define themselves, one per name."""
    taken = {_name(d) for d in documents if d.kind == PROFILE_KIND}
    out = []
    for profile in shared:
        if _name(profile) not in taken:
            taken.add(_name(profile))
            out.append(profile)
    return out


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
        skipped=sum(o.skipped for o in done),
    )
