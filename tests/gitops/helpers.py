"""Run the installed `rbgc` the way GitOps tools do: a subprocess, its own cwd and env."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.tools import search_path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def rbgc_bin(name: str = "rbgc") -> str:
    path = BIN / name
    assert path.exists(), f"{path} missing: run `make venv` (pip install -e .)"
    return str(path)


def write(folder: Path, files: Mapping[str, str]) -> None:
    """Write dedented files below `folder`."""
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A minimal environment: PATH with the venv first (then the caller's PATH, so tools in
    ~/.local/bin or /opt/homebrew/bin are found), HOME, and what the test adds."""
    base = {
        "PATH": search_path(),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
    }
    return {**base, **(extra or {})}


def run(
    args: list[str],
    cwd: Path,
    *,
    extra_env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        env=env(extra_env),
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def copy_overlays(dest: Path) -> Path:
    """The repository's overlays/ in a fresh git checkout at `dest`."""
    shutil.copytree(ROOT / "overlays", dest / "overlays")
    subprocess.run(["git", "init", "-q", str(dest)], check=True)
    return dest
