"""Editor support: the schemas YAML language servers load are the ones the compiler uses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from rbgc import overlays, schema
from tests.gitops.helpers import ROOT

LINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$", re.M)
FILES = sorted(p for folder in ("examples", "overlays") for p in (ROOT / folder).rglob("*.yaml"))


def test_published_schemas_are_the_compilers() -> None:
    published = ROOT / "schemas"
    compiler_schema = Path(schema.SCHEMA_PATH)
    assert compiler_schema.resolve() == (published / compiler_schema.name).resolve()
    assert (
        Path(overlays.SCHEMA_PATH).resolve()
        == (published / "overlay.v1alpha1.schema.json").resolve()
    )
    for path in published.glob("*.json"):
        loaded = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(loaded)
        assert loaded["$id"].endswith("/" + path.name)


def test_overlay_files_declare_their_schema() -> None:
    for path in (ROOT / "overlays").rglob("*.yaml"):
        assert LINE.search(path.read_text()), f"{path} has no yaml-language-server line"


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_what_the_editor_would_check(path: Path) -> None:
    """Each documented $schema line resolves, and the file is valid as the editor would see it."""
    text = path.read_text()
    found = LINE.search(text)
    if found is None:
        return
    target = (path.parent / found[1]).resolve()
    assert target.is_file(), f"{path}: $schema points at {found[1]}, which does not exist"
    validator = jsonschema.Draft202012Validator(json.loads(target.read_text()))
    first = next(d for d in yaml.safe_load_all(text) if d)
    assert not list(validator.iter_errors(first))
