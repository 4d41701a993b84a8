"""Overlays to documents: the root bases must stay inside, base paths and their loading, cycles."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from rbgc.diagnostics import Diagnostic, DiagnosticError, Span, error
from rbgc.overlays.spec import check, is_overlay
from rbgc.overlays.transforms import Transform
from rbgc.source import (
    STDIN,
    Document,
    expand_paths,
    read_path,
)


def find_root(cwd: Path, environ: Mapping[str, str]) -> Path:
    """The folder overlay bases must stay inside when no root is given.

    The nearest ancestor of `cwd` holding `.git` (a repository checkout); else, under Argo CD,
    the repository copy the app's source path (`ARGOCD_APP_SOURCE_PATH`) sits in; else `cwd`.
    """
    cwd = cwd.resolve()
    for folder in (cwd, *cwd.parents):
        if (folder / ".git").exists():
            return folder
    source = environ.get("ARGOCD_APP_SOURCE_PATH", "").strip("/")
    if source and source != ".":
        parts = Path(source).parts
        if cwd.parts[-len(parts) :] == parts:
            return Path(*cwd.parts[: -len(parts)])
    return cwd


def resolve(
    documents: list[Document],
    root: str | os.PathLike[str] | None = None,
    read: Callable[[str], list[Document]] = read_path,
) -> list[Document]:
    """Replace every Overlay document by the changed documents of its base, whose files are
    read by `read` (`inputs` passes the rule every input is read by)."""
    if not any(is_overlay(d) for d in documents):
        return documents
    root_path = Path(root).resolve() if root else find_root(Path.cwd(), os.environ)
    resolver = Resolver(root_path, read)
    out: list[Document] = []
    problems: list[Diagnostic] = []
    for doc in documents:
        if not is_overlay(doc):
            out.append(doc)
            continue
        try:
            out.extend(resolver.overlay(doc, ()))
        except DiagnosticError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise DiagnosticError(problems)
    return out


@dataclass(frozen=True, slots=True)
class Frame:
    """One overlay on the way from the built path to the current base."""

    key: tuple[Path, int]
    base_span: Span
    label: str


class Resolver:
    def __init__(self, root: Path, read: Callable[[str], list[Document]] = read_path) -> None:
        self.root = root
        self.read = read

    def overlay(self, doc: Document, stack: tuple[Frame, ...]) -> list[Document]:
        problems = check(doc)
        if problems:
            raise DiagnosticError(problems)
        base = str(doc.body["base"])
        span = doc.span("base")
        folder = Path.cwd() if doc.path == STDIN else Path(doc.path).parent
        key = ((Path.cwd() / "-") if doc.path == STDIN else Path(doc.path).resolve(), doc.index)
        frame = Frame(key, span, f"{doc.path} (base: {base})")
        if any(f.key == key for f in stack):
            chain = [*stack[[f.key for f in stack].index(key) :], frame]
            raise DiagnosticError(
                [
                    error(
                        "RBG701",
                        "overlay cycle: " + " -> ".join(f.label for f in chain),
                        stack[-1].base_span,
                        help="an overlay's base must not lead back to the overlay itself",
                        notes=tuple(
                            (f.base_span, "this base is part of the cycle") for f in chain[:-1]
                        ),
                    )
                ]
            )
        target = self._base_path(base, folder, span)
        docs = self._load_base(target, span, (*stack, frame))
        return Transform(doc).apply(docs)

    def _base_path(self, base: str, folder: Path, span: Span) -> str:
        if "\0" in base:  # YAML can write one ("\0"); no file system path holds it
            raise DiagnosticError(
                [
                    error(
                        "RBG704",
                        f"base {base!r} contains a NUL character, which no path can hold",
                        span,
                        help="name the base folder or file relative to the overlay's folder",
                    )
                ]
            )
        if os.path.isabs(base):
            raise DiagnosticError(
                [
                    error(
                        "RBG703",
                        f"base {base!r} is an absolute path",
                        span,
                        help="name the base relative to the overlay's folder, inside the "
                        "repository",
                    )
                ]
            )
        joined = folder / base
        real = joined.resolve()
        if not real.is_relative_to(self.root):
            raise DiagnosticError(
                [
                    error(
                        "RBG703",
                        f"base {base!r} resolves to {real}, outside the root {self.root}",
                        span,
                        help="keep bases inside the repository the build starts from "
                        "(or pass --root to name a wider root)",
                    )
                ]
            )
        if not real.exists():
            raise DiagnosticError(
                [
                    error(
                        "RBG702",
                        f"base {base!r} does not exist",
                        span,
                        help=f"bases are relative to the overlay's folder ({folder})",
                    )
                ]
            )
        return os.path.normpath(joined)

    def _load_base(self, target: str, span: Span, stack: tuple[Frame, ...]) -> list[Document]:
        documents: list[Document] = []
        problems: list[Diagnostic] = []
        for path in expand_paths([target]):
            real = os.path.realpath(path)
            if not Path(real).is_relative_to(self.root):
                # a file symlink inside the base would read anything on the machine
                problems.append(
                    error(
                        "RBG703",
                        f"base file {path} is a symbolic link to {real}, outside the root "
                        f"{self.root}",
                        span,
                        help="copy the file into the repository instead of linking to it "
                        "(or pass --root to name a wider root)",
                    )
                )
                continue
            try:
                loaded = self.read(path)
            except DiagnosticError as exc:
                problems.extend(exc.diagnostics)
                continue
            for doc in loaded:
                if not is_overlay(doc):
                    documents.append(doc)
                    continue
                try:
                    documents.extend(self.overlay(doc, stack))
                except DiagnosticError as exc:
                    problems.extend(exc.diagnostics)
        if problems:
            raise DiagnosticError(problems)
        if not documents:
            raise DiagnosticError(
                [
                    error(
                        "RBG702",
                        f"base {target!r} holds no Kubernetes objects",
                        span,
                        help="point the base at a file or folder with *.yaml manifests",
                    )
                ]
            )
        return documents
