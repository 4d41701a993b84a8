"""Both sides compiled by the same pipeline, then diffed and planned: what the CLI calls."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rbgc.bundle import Bundle
from rbgc.diagnostics import Diagnostic, DiagnosticError
from rbgc.inputs import load
from rbgc.pipeline import Options, compile_documents
from rbgc.plan.diff import Change, diff_bundles


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    old: Bundle
    new: Bundle
    changes: tuple[Change, ...]


EMPTY = Bundle(manifests=())


def compile_side(paths: Sequence[str], options: Options) -> Bundle:
    """A side with no documents at all is empty (a file that does not exist yet, or any more)."""
    if not paths:
        return EMPTY
    documents = load(paths, root=options.root)
    if not documents:
        return EMPTY
    result = compile_documents(documents, options)
    return result.bundle


def compare(old_paths: Sequence[str], new_paths: Sequence[str], options: Options) -> Comparison:
    """Compile both sides (problems of both reported together) and diff them."""
    problems: list[Diagnostic] = []
    sides = []
    for paths in (old_paths, new_paths):
        try:
            sides.append(compile_side(paths, options))
        except DiagnosticError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise DiagnosticError(problems)
    old, new = sides
    return Comparison(old=old, new=new, changes=diff_bundles(old, new))


def compare_git(ref: str, paths: Sequence[str], options: Options) -> Comparison:
    """PATHs at `ref` (OLD) against the working tree (NEW); overlay bases of the OLD side
    must lie inside the exported revision."""
    from rbgc.plan import gitrev

    with tempfile.TemporaryDirectory(prefix="rbgc-git-") as into:
        old_paths = gitrev.export(ref, paths, into)
        try:
            old = compile_side(old_paths, replace(options, root=into))
        except DiagnosticError as exc:
            raise DiagnosticError(gitrev.relabel(exc.diagnostics, into, ref)) from None
    new = compile_side(paths, options)
    return Comparison(old=old, new=new, changes=diff_bundles(old, new))
