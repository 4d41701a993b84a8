"""The OLD side of `rbgc diff --git REF [PATH...]`: PATHs as they are at a git revision.

git is run as a subprocess (`rev-parse`, `ls-tree`, `archive`) and the revision's files are
unpacked into a temporary folder, so both sides go through the very same loader and pipeline.
A PATH that does not exist at REF is an empty OLD side (everything under it is added).
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from rbgc.diagnostics import Diagnostic, DiagnosticError, Span, error


def _fail(message: str, help: str) -> DiagnosticError:
    return DiagnosticError([error("RBG801", message, None, help=help)])


def _git(args: Sequence[str], cwd: str) -> bytes:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, check=False, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _fail(
            f"cannot run git: {exc}", "install git and run rbgc inside a work tree"
        ) from None
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise _fail(
            f"git {args[0]} failed: {reason[-1] if reason else 'exit ' + str(done.returncode)}",
            "run `rbgc diff --git REF` inside a git work tree, with a REF that exists "
            "(a branch, tag or commit)",
        )
    return done.stdout


def export(ref: str, paths: Sequence[str], into: str, cwd: str = ".") -> list[str]:
    """Unpack PATHs at `ref` under `into`; returns the paths to load there (existing ones)."""
    root = _git(["rev-parse", "--show-toplevel"], cwd).decode().strip()
    try:
        _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd)
    except DiagnosticError:
        raise _fail(
            f"unknown git revision {ref!r}",
            "pass a branch, tag or commit that exists in this repository",
        ) from None
    rels = []
    for p in paths:
        rel = os.path.relpath(os.path.abspath(os.path.join(cwd, p)), root)
        if rel.startswith(".."):
            raise _fail(
                f"{p} is outside the git work tree {root}",
                "pass paths inside the repository",
            )
        rels.append(Path(rel).as_posix())
    present = [
        rel for rel in rels if _git(["ls-tree", "-r", "--name-only", ref, "--", rel], root).strip()
    ]
    if not present:
        return []
    # Every manifest of the revision comes along, so overlays find their bases (which may lie
    # outside PATHs) as they were at REF; only PATHs are loaded.
    listed = _git(["ls-tree", "-r", "-z", "--name-only", ref], root).decode("utf-8", "replace")
    manifests = [n for n in listed.split("\0") if n.endswith((".yaml", ".yml"))]
    archive = _git(["archive", "--format=tar", ref, "--", *present, *manifests], root)
    try:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(into, filter="data")
    except tarfile.FilterError as exc:  # a committed link that leaves the tree
        member = exc.tarinfo
        what = f"a symbolic link to {member.linkname}" if member.linkname else "not a plain file"
        raise DiagnosticError(
            [
                error(
                    "RBG801",
                    f"{member.name} is {what}, outside the repository",
                    Span(f"{ref}:{member.name}"),
                    help="rbgc reads a revision only inside its own tree: point the link at a "
                    "file in the repository (a relative path), or remove it",
                )
            ]
        ) from None
    return [os.path.join(into, rel) for rel in present]


def relabel(diagnostics: Iterable[Diagnostic], into: str, ref: str) -> list[Diagnostic]:
    """Point diagnostics of the exported files at `REF:path` instead of the temporary folder."""
    prefix = into.rstrip(os.sep) + os.sep

    def fix(span: Span | None) -> Span | None:
        if span is None or not span.path.startswith(prefix):
            return span
        return replace(span, path=f"{ref}:{span.path[len(prefix) :]}")

    return [
        replace(
            d,
            span=fix(d.span),
            notes=tuple((fix(s) or s, text) for s, text in d.notes),
        )
        for d in diagnostics
    ]
