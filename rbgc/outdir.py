"""`--out DIR`: replace exactly the files rbgc wrote there last time, and nothing else.

The marker `DIR/.rbgc-output` lists every file rbgc wrote (relative paths, one a line). The
next run deletes only listed files that it no longer writes and never touches any other file:
a `kustomization.yaml` or `notes/keep.yaml` a person added stays, and a name rbgc wants that
such a file already has is refused rather than overwritten. A folder that exists, is not
empty and has no marker was not written by rbgc and is refused as a whole, unless it holds only
output folders of earlier runs (each with its marker), such as `make demo`'s rendered/demo/:
rbgc then writes beside them and lists only its own files.

Files are rendered one at a time into a staging folder inside DIR (the same file system, so
each move is an atomic rename), under an exclusive `flock` on DIR: two runs into the same
folder (CI jobs, an editor saving twice) take turns instead of mixing their files, and the
second one finds the first one's marker. While files move, the marker lists the old and the
new files together, so an interrupted run never leaves an rbgc file unlisted.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from rbgc.source.files import OUTPUT_MARKER

MARKER = OUTPUT_MARKER
_STAGING_PREFIX = ".rbgc-staging-"
_HEADER = (
    "# Written by `rbgc build --out`. The next run replaces or removes exactly the files\n"
    "# listed below; every other file in this folder is left alone.\n"
)
# The marker of rbgc before the list existed: it replaced every *.yaml file of the folder.
_LEGACY_HEADER = "Written by `rbgc build --out`; rbgc replaces the *.yaml files here."


class OutputDirError(Exception):
    pass


def write_tree(files: Iterable[tuple[str, str]], out: str | os.PathLike[str]) -> list[Path]:
    """Write `files` (relative path, text), rendered lazily, into `out`; remove the files the
    previous run wrote that are not among them. Returns the written paths, sorted."""
    target = Path(out)
    if target.exists() and not target.is_dir():
        raise OutputDirError(f"{target} exists and is not a directory")
    target.mkdir(parents=True, exist_ok=True)
    with _locked(target):
        previous = _previous_files(target)  # refuses a folder rbgc did not write
        _remove_stale_staging(target)
        staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=target))
        try:
            names = _stage(files, staging)
            clashes = sorted(n for n in names - previous if os.path.lexists(target / n))
            if clashes:
                raise OutputDirError(
                    f"{target / clashes[0]} exists and was not written by rbgc; refusing to "
                    "replace it (move it away, or choose another --out folder)"
                )
            _write_marker(target, staging, previous | names)
            for name in sorted(previous - names):
                _remove(target, name)
            written = []
            for name in sorted(names):
                dest = target / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / name, dest)
                written.append(dest)
            _write_marker(target, staging, names)
            return written
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def stale_files(files: Iterable[tuple[str, str]], out: str | os.PathLike[str]) -> list[str]:
    """What `write_tree(files, out)` would change, as `+ new`, `- removed`, `~ changed` lines."""
    target = Path(out)
    previous = _previous_files(target) if target.is_dir() else set()
    changes: list[tuple[str, str]] = []
    seen = set()
    for name, text in files:
        seen.add(name)
        path = target / name
        if not path.is_file():
            changes.append((name, f"+ {name}"))
        elif path.read_text(encoding="utf-8") != text:
            changes.append((name, f"~ {name}"))
    for name in previous - seen:
        if os.path.lexists(target / name):
            changes.append((name, f"- {name}"))
    return [line for _, line in sorted(changes)]


@contextmanager
def _locked(target: Path) -> Iterator[None]:
    """An exclusive lock on the folder itself (no lock file left behind)."""
    import fcntl

    fd = os.open(target, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _stage(files: Iterable[tuple[str, str]], staging: Path) -> set[str]:
    names: set[str] = set()
    for name, text in files:
        if name in names:
            raise OutputDirError(f"two objects would be written to the same file {name}")
        names.add(name)
        path = staging / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return names


def _previous_files(target: Path) -> set[str]:
    """The files the last run wrote, from the marker; {} for an empty folder."""
    marker = target / MARKER
    if not marker.is_file():
        if not _holds_only_rbgc_outputs(target):
            raise OutputDirError(
                f"{target} is not empty and was not written by rbgc; refusing to replace its files"
            )
        return set()
    text = marker.read_text(encoding="utf-8")
    if text.startswith(_LEGACY_HEADER):
        return {p.relative_to(target).as_posix() for p in _legacy_owned(target)}
    listed = (line.strip() for line in text.splitlines())
    return {line for line in listed if line and not line.startswith("#") and _safe(line)}


def _holds_only_rbgc_outputs(folder: Path) -> bool:
    """Whether every entry of `folder` is an output folder of an earlier rbgc run (it has a
    marker) or a folder holding only such (`make demo`'s rendered/demo/<example>/ inside the
    rendered/ of the README's next command). rbgc may then write beside them: it never touches
    a file it did not list, and a clash with one of theirs is refused like any other."""
    for entry in folder.iterdir():
        if entry.name.startswith(_STAGING_PREFIX):
            continue
        if entry.is_symlink() or not entry.is_dir():
            return False
        if not (entry / MARKER).is_file() and not _holds_only_rbgc_outputs(entry):
            return False
    return True


def _safe(name: str) -> bool:
    """A listed name rbgc may delete: relative, inside the folder, not hidden (the marker is
    a file in the repository; a hand-edited `../x` must not reach outside)."""
    path = PurePosixPath(name)
    return (
        not path.is_absolute()
        and ".." not in path.parts
        and not any(part.startswith(".") for part in path.parts)
    )


def _legacy_owned(target: Path) -> list[Path]:
    return sorted(
        p
        for p in target.rglob("*.yaml")
        if p.is_file() and not any(s.startswith(".") for s in p.relative_to(target).parts)
    )


def _remove(target: Path, name: str) -> None:
    """Delete one file rbgc wrote, then its folders that it left empty (never `target`)."""
    path = target / name
    if not path.parent.resolve().is_relative_to(target.resolve()):
        return  # a listed folder became a link out of the output folder: leave it
    if path.is_symlink() or path.is_file():
        path.unlink()
    folder = path.parent
    while folder != target and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def _write_marker(target: Path, staging: Path, names: set[str]) -> None:
    tmp = staging / MARKER
    tmp.write_text(_HEADER + "".join(f"{n}\n" for n in sorted(names)), encoding="utf-8")
    os.replace(tmp, target / MARKER)


def _remove_stale_staging(target: Path) -> None:
    """Staging folders of an interrupted run (only a run holding the lock stages)."""
    for entry in target.iterdir():
        if entry.name.startswith(_STAGING_PREFIX) and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
