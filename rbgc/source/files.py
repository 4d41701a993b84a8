"""Reading inputs: files, folders and stdin, each read once, size-capped, as UTF-8 text.

Every reader of user files goes through `read_bytes` (manifests, `convert`, `fit`'s
inventory): a special file (FIFO, device, socket) is refused without blocking, and nothing
past the size cap is read.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from rbgc.diagnostics import Diagnostic, DiagnosticError, Span, error
from rbgc.source.document import Document
from rbgc.source.load import parse_text

# The list of files `rbgc build --out DIR` wrote (outdir.py): a folder holding it is rbgc's
# output, never an input below a folder that is named.
OUTPUT_MARKER = ".rbgc-output"

MAX_FILE_BYTES = 8 * 1024 * 1024
STDIN = "-"


def decode(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise DiagnosticError(
            [
                error(
                    "RBG006",
                    f"invalid UTF-8 byte 0x{data[exc.start]:02x}",
                    Span(path, line, col),
                    help="save the file as UTF-8",
                )
            ]
        ) from None


def read_bytes(
    path: str,
    stdin: Any = None,
    *,
    limit: int = MAX_FILE_BYTES,
    too_large: str = "split the manifests into several files",
) -> bytes:
    """The bytes of one input (`-`: stdin), refused (RBG007, with `too_large` as the hint)
    past `limit`; what is not a regular file is refused too (RBG008)."""
    if path == STDIN:
        stream = stdin if stdin is not None else sys.stdin.buffer
        data: bytes = stream.read(limit + 1)
    else:
        data = _read_regular_file(path, limit)
    if len(data) > limit:
        raise DiagnosticError(
            [
                error(
                    "RBG007",
                    f"larger than {limit // (1024 * 1024)} MiB",
                    Span(path),
                    help=too_large,
                )
            ]
        )
    return data


def read_text(path: str, stdin: Any = None) -> str:
    """The text of one input, size-capped and decoded as UTF-8."""
    return decode(read_bytes(path, stdin), path)


def read_path(path: str, stdin: Any = None) -> list[Document]:
    """The documents of one input."""
    return parse_text(read_text(path, stdin), path)


_SPECIAL_FILES = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


def _read_regular_file(path: str, limit: int) -> bytes:
    """The first bytes of a regular file. Anything else is refused without blocking: a FIFO
    with no writer or a device such as /dev/zero would hang or never end."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise DiagnosticError([error("RBG008", _os_problem(path, exc), Span(path))]) from None
    with os.fdopen(fd, "rb") as fh:
        mode = os.fstat(fd).st_mode
        for test, what in _SPECIAL_FILES:
            if test(mode):
                raise DiagnosticError(
                    [
                        error(
                            "RBG008",
                            f"{what}, not a regular file",
                            Span(path),
                            help="rbgc reads manifests from files, folders, or `-` (stdin): "
                            "pipe a generator's output in, e.g. `helm template ... | rbgc build -`",
                        )
                    ]
                )
        os.set_blocking(fd, True)
        try:
            return fh.read(limit + 1)
        except OSError as exc:
            raise DiagnosticError([error("RBG008", _os_problem(path, exc), Span(path))]) from None


def _os_problem(path: str, exc: OSError) -> str:
    """What is wrong with a path, in words (a symbolic link is named as such)."""
    if exc.errno == errno.ELOOP:
        return "a loop of symbolic links"
    if exc.errno == errno.ENOENT and os.path.islink(path):
        return f"a symbolic link to {os.readlink(path)}, which does not exist"
    if exc.errno == errno.ENOENT:
        return "no such file or directory"
    return f"cannot read: {exc.strerror}"


def _near_path(path: str) -> str:
    """For a path that does not exist: the entry of its folder it was probably meant to be."""
    folder, name = os.path.split(path.rstrip(os.sep) or path)
    try:
        entries = os.listdir(folder or ".")
    except OSError:
        entries = []
    import difflib

    visible = sorted(e for e in entries if not e.startswith("."))
    close = difflib.get_close_matches(name, visible, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{os.path.join(folder, close[0])}'?"
    return "check the path (relative to the current folder); `-` reads standard input"


def expand_paths(paths: Sequence[str]) -> list[str]:
    """Files named, and `*.yaml`/`*.yml` files below folders (sorted, hidden entries skipped).

    Whether a named path is a regular file is checked when it is read (`read_path`)."""
    out: list[str] = []
    problems: list[Diagnostic] = []
    for raw in paths:
        if raw == STDIN:
            out.append(raw)
            continue
        try:
            mode = os.stat(raw).st_mode
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
            message = _os_problem(raw, exc) if isinstance(exc, OSError) else "not a valid path"
            missing = isinstance(exc, OSError) and exc.errno == errno.ENOENT
            problems.append(
                error("RBG008", message, Span(raw), help=_near_path(raw) if missing else None)
            )
            continue
        if stat.S_ISDIR(mode):
            out.extend(_walk(raw))
        else:
            out.append(raw)
    if problems:
        raise DiagnosticError(problems)
    return out


def _exists(path: str) -> bool:
    try:
        os.stat(path)
    except (OSError, ValueError):
        return False
    return True


def _walk(root: str) -> list[str]:
    """The manifests below `root`, less rbgc's own --out folders (`rbgc build apps/ --out
    apps/rendered`, run twice, must not read its output as input), unless those are all the
    folder holds (`rbgc validate rendered/` checks what was written)."""
    return list(_files_below(root, outputs=False)) or list(_files_below(root, outputs=True))


def _files_below(root: str, *, outputs: bool) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".")
            and (outputs or not os.path.isfile(os.path.join(dirpath, d, OUTPUT_MARKER)))
        )
        for name in sorted(filenames):
            if name.endswith((".yaml", ".yml")) and not name.startswith("."):
                yield os.path.join(dirpath, name)


def read_all(
    paths: Iterable[str], stdin: Any = None, *, skip: Callable[[str], bool] | None = None
) -> list[Document]:
    """Every document of every input, with all loading problems reported together. A pure
    reader: Overlay documents come back as they are (`inputs.load` resolves them). A file that
    cannot be read as manifests and that `skip` accepts is left out instead of reported."""
    documents: list[Document] = []
    problems: list[Diagnostic] = []
    try:
        files = expand_paths(list(paths))
    except DiagnosticError as exc:
        problems.extend(exc.diagnostics)
        files = expand_paths([p for p in paths if p == STDIN or _exists(p)])
    for path in files:
        try:
            documents.extend(read_path(path, stdin))
        except DiagnosticError as exc:
            if skip is None or path == STDIN or not skip(path):
                problems.extend(exc.diagnostics)
    if problems:
        raise DiagnosticError(problems)
    return documents
