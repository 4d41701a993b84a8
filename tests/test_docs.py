"""The README is a claim about the tool: keep it in step with the code."""

from __future__ import annotations

import re

from rbgc.codes import CODES
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_diagnostic_code_is_documented_with_its_name_and_severity() -> None:
    rows = dict(re.findall(r"^\| (RBG\d{3}) \| `([a-z0-9-]+)` \|", README, re.M))
    assert rows == {code: doc.name for code, doc in CODES.items()}
    for code, doc in CODES.items():
        assert f"| {code} | `{doc.name}` | {doc.severity} |" in README


def test_the_two_setup_commands_come_first() -> None:
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    assert "make demo" in first_block and "make test" in first_block


def test_every_code_explains_why_with_an_example_and_a_fix() -> None:
    """`rbgc explain CODE` is where a diagnostic's reader goes next (the brief: why, example,
    fix); an entry without an example or a fix leaves them where they started."""
    for code, doc in CODES.items():
        rendered = doc.render()
        assert doc.why and "## Why" in rendered, code
        assert doc.example and "## Example" in rendered, code
        assert doc.fix and "## Use instead" in rendered, code
