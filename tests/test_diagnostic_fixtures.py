"""One fixture per diagnostic code, run through the real CLI (ruff's `F601.py` idea).

`tests/diagnostics/RBGnnn-<name>.yaml` is the input, `.stderr` the exact expected stderr of
`rbgc build` (paths as passed, relative to the repository root), and an optional `.args` holds
extra command-line arguments placed before the input path; an optional `.command` names another
subcommand (`convert`) to run instead of `build`. A fixture whose stderr holds an
`error[` must exit 1 with nothing on stdout; a warnings-only fixture exits 0 and still compiles.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from rbgc.codes import CODES
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "diagnostics"

# Codes without a fixture here, and why. Everything else in CODES must have one.
NOT_FIXTURED = {
    "RBG007": "needs an input over 8 MiB; tests/test_source.py builds one in tmp_path",
    "RBG901": "internal error: only a bug in rbgc reaches it, no valid or invalid input should",
    # Overlays span several files (overlay + base folder) and KRM reads a ResourceList on
    # stdin; tests/gitops/test_overlays.py and test_tools.py assert their exact stderr.
    **{
        code: "multi-file or stdin input: exact stderr asserted in tests/gitops/"
        for code in ("RBG701", "RBG702", "RBG703", "RBG704", "RBG705", "RBG706", "RBG707")
    },
    # diff/plan compare two inputs (or a git revision); tests/plan/ asserts each code.
    "RBG801": "needs a git repository: tests/plan/test_cli.py builds one with real commits",
    "RBG802": "needs OLD and NEW: tests/plan/test_cli.py and test_rollout.py assert it",
    "RBG803": "only a planner bug reaches it: tests/plan/test_rollout.py provokes it",
    "RBG804": "needs OLD and NEW: tests/upgrades/test_inplace.py and test_sync_upgrades.py",
    "RBG805": "needs a cluster whose nodes cannot pull: tests/upgrades/test_sync_upgrades.py "
    "(simulator) and test_sync_http.py (kmock)",
    # fit reads an inventory (--nodes) beside the manifests: tests/fit/test_cli.py asserts the
    # exact stderr and exit code of each.
    **{
        code: "needs a node inventory: exact stderr asserted in tests/fit/ (test_cli.py, "
        "test_placement_rules.py, test_rollout.py)"
        for code in ("RBG350", "RBG351", "RBG352", "RBG353", "RBG354", "RBG355", "RBG356")
    },
    # sync codes need a cluster: tests/sync/ provokes each against the simulator and kmock.
    "RBG910": "needs a cluster that refuses a request: tests/sync/test_cli.py (simulator)",
    "RBG911": "needs a cluster without a CRD: tests/sync/test_kube.py (kmock) asserts it",
    "RBG912": "needs pods that never get ready: tests/sync/test_cli.py (simulator)",
    "RBG913": "needs another field manager in a cluster: tests/sync/test_conflicts.py (both)",
    "RBG914": "needs a server that never answers: tests/sync/test_retries.py (loopback)",
    "RBG915": "needs two syncs at once: tests/sync/test_lease.py (simulator and HTTP)",
    "RBG916": "needs a pod that restarts under --watch: tests/sync/test_watch.py (simulator, CLI)",
    "RBG917": "needs two watchers and a lost Lease: tests/sync/test_watch.py (simulator)",
    "RBG918": "needs a signal to a running sync: tests/sync/test_signals.py (processes)",
}

_HEADLINE = re.compile(
    r"^(?P<where>.+?): (?P<severity>error|warning)\[(?P<code>RBG\d{3})\]: (?P<message>.*)$"
)
_NOTE = re.compile(r"^  note: (?P<where>.+?): (?P<message>.*)$")


@dataclass(frozen=True)
class Fixture:
    stem: str
    code: str

    @property
    def input(self) -> Path:
        return FIXTURES / f"{self.stem}.yaml"

    @property
    def expected_stderr(self) -> str:
        return (FIXTURES / f"{self.stem}.stderr").read_text(encoding="utf-8")

    @property
    def args(self) -> list[str]:
        extra = FIXTURES / f"{self.stem}.args"
        return extra.read_text(encoding="utf-8").split() if extra.exists() else []

    @property
    def command(self) -> str:
        named = FIXTURES / f"{self.stem}.command"
        return named.read_text(encoding="utf-8").strip() if named.exists() else "build"

    def argv(self, *more: str) -> list[str]:
        rel = self.input.relative_to(ROOT).as_posix()
        return [self.command, *more, *self.args, rel]


def _fixtures() -> list[Fixture]:
    found = []
    for path in sorted(FIXTURES.glob("RBG*.yaml")):
        found.append(Fixture(stem=path.stem, code=path.stem.split("-", 1)[0]))
    return found


FIXTURE_LIST = _fixtures()


def run_rbgc(
    argv: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real CLI from the repository root, with a clean colour/namespace environment."""
    full_env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NO_COLOR", "ARGOCD_APP_NAMESPACE", "KUBE_VERSION", "RBGC_DEBUG")
    }
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "rbgc", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=full_env,
        check=False,
    )


def _where(text: str) -> tuple[str | None, int | None, int | None]:
    if text == "rbgc":
        return None, None, None
    match = re.match(r"^(?P<path>.+):(?P<line>\d+):(?P<col>\d+)$", text)
    if match:
        return match["path"], int(match["line"]), int(match["col"])
    return text, None, None


def parse_text_diagnostics(stderr: str) -> list[dict[str, Any]]:
    """The diagnostics of a text report, in the shape of the JSON reporter's items."""
    items: list[dict[str, Any]] = []
    for line in stderr.splitlines():
        head = _HEADLINE.match(line)
        note = _NOTE.match(line)
        if head:
            path, lineno, col = _where(head["where"])
            items.append(
                {
                    "code": head["code"],
                    "severity": head["severity"],
                    "message": head["message"],
                    "path": path,
                    "line": lineno,
                    "col": col,
                    "notes": [],
                }
            )
        elif note:
            path, lineno, col = _where(note["where"])
            items[-1]["notes"].append(
                {"path": path, "line": lineno, "col": col, "message": note["message"]}
            )
    return items


@pytest.mark.parametrize("fixture", FIXTURE_LIST, ids=lambda f: f.stem)
def test_fixture_stderr_exit_code_and_stdout(fixture: Fixture) -> None:
    proc = run_rbgc(fixture.argv())
    expected = fixture.expected_stderr
    assert proc.stderr == expected
    if "error[" in expected:
        assert proc.returncode == 1
        assert proc.stdout == "", "an error must leave stdout empty (no partial output)"
        assert expected.endswith("; nothing was written\n")
    else:
        assert proc.returncode == 0
        objects = [d for d in yaml.safe_load_all(proc.stdout) if d is not None]
        if fixture.command == "convert":
            assert {d["apiVersion"] for d in objects} == {"workloads.x-k8s.io/v1alpha2"}
            return
        assert objects, "a warnings-only build still prints the compiled objects"
        # every object is compiled by rbgc, or one of the input's own passed through
        own = {(d["kind"], d["metadata"]["name"]) for d in _documents(fixture)}
        for d in objects:
            labels = d["metadata"].get("labels") or {}
            compiled = labels.get("app.kubernetes.io/managed-by") == "rbgc"
            assert compiled or (d["kind"], d["metadata"]["name"]) in own, d


def _documents(fixture: Fixture) -> list[dict[str, Any]]:
    text = fixture.input.read_text(encoding="utf-8")
    docs = [d for d in yaml.safe_load_all(text) if isinstance(d, dict) and "kind" in d]
    # not the RBG family: those are compiled, never passed through
    return [d for d in docs if not str(d.get("apiVersion", "")).startswith("workloads.x-k8s.io/")]


@pytest.mark.parametrize("fixture", FIXTURE_LIST, ids=lambda f: f.stem)
def test_fixture_is_about_its_own_code(fixture: Fixture) -> None:
    codes = {d["code"] for d in parse_text_diagnostics(fixture.expected_stderr)}
    assert fixture.code in codes


@pytest.mark.parametrize("fixture", FIXTURE_LIST, ids=lambda f: f.stem)
def test_every_error_says_how_to_fix_it(fixture: Fixture) -> None:
    """An error without a `help:` line leaves the user to guess (the first-hour review found
    RBG101s that did)."""
    lines = fixture.expected_stderr.splitlines()
    bare = [
        line
        for line, after in zip(lines, [*lines[1:], ""], strict=True)
        if "error[RBG" in line and not after.startswith("  help: ")
    ]
    assert bare == []


@pytest.mark.parametrize("fixture", FIXTURE_LIST, ids=lambda f: f.stem)
def test_fixture_as_json_carries_the_same_diagnostics(fixture: Fixture) -> None:
    proc = run_rbgc(fixture.argv("--format", "json"))
    report = json.loads(proc.stderr)
    got = report["diagnostics"]
    expected = parse_text_diagnostics(fixture.expected_stderr)
    for item in got:
        assert item["name"] == CODES[item["code"]].name
        assert set(item) >= {"code", "name", "severity", "message", "help", "path", "line", "col"}
    keys = ("code", "severity", "message", "path", "line", "col", "notes")
    assert [{k: item[k] for k in keys} for item in got] == expected
    assert proc.returncode == (1 if any(d["severity"] == "error" for d in expected) else 0)
    if proc.returncode:
        assert proc.stdout == ""


def test_json_report_fields_for_a_cycle() -> None:
    fixture = Fixture("RBG203-dependency-cycle", "RBG203")
    proc = run_rbgc(fixture.argv("--format", "json"))
    (item,) = json.loads(proc.stderr)["diagnostics"]
    path = "tests/diagnostics/RBG203-dependency-cycle.yaml"
    assert item == {
        "code": "RBG203",
        "name": "dependency-cycle",
        "severity": "error",
        "message": "dependency cycle: decode -> router -> prefill -> decode",
        "help": "remove one of these dependencies so the roles have a start order",
        "path": path,
        "line": 22,
        "col": 22,
        "notes": [
            {"path": path, "line": 22, "col": 22, "message": "'decode' depends on 'router' here"},
            {"path": path, "line": 8, "col": 22, "message": "'router' depends on 'prefill' here"},
            {"path": path, "line": 15, "col": 22, "message": "'prefill' depends on 'decode' here"},
        ],
    }


def test_json_report_for_a_warning_and_a_location_less_error() -> None:
    warned = run_rbgc(
        Fixture("RBG502-reserved-label-overridden", "RBG502").argv("--format", "json")
    )
    (item,) = json.loads(warned.stderr)["diagnostics"]
    assert (item["code"], item["name"], item["severity"]) == (
        "RBG502",
        "reserved-label-overridden",
        "warning",
    )
    assert (item["path"], item["line"], item["col"]) == (
        "tests/diagnostics/RBG502-reserved-label-overridden.yaml",
        12,
        13,
    )
    assert warned.returncode == 0
    assert warned.stdout.startswith("apiVersion: v1\n")

    empty = run_rbgc(Fixture("RBG011-no-input", "RBG011").argv("--format", "json"))
    (item,) = json.loads(empty.stderr)["diagnostics"]
    assert (item["code"], item["name"], item["severity"]) == ("RBG011", "no-input", "error")
    # named, since issue 8: the empty file, with no line to point at
    assert (item["path"], item["line"], item["col"]) == (
        "tests/diagnostics/RBG011-no-input.yaml",
        None,
        None,
    )
    assert empty.returncode == 1
    assert empty.stdout == ""


def test_every_code_has_a_fixture_or_a_reason() -> None:
    fixtured = {f.code for f in FIXTURE_LIST}
    assert fixtured.isdisjoint(NOT_FIXTURED)
    assert set(CODES) - fixtured == set(NOT_FIXTURED)


def test_every_fixture_code_is_registered() -> None:
    # `rbgc explain CODE` and the JSON reporter's `name` both come from CODES.
    emitted = {d["code"] for f in FIXTURE_LIST for d in parse_text_diagnostics(f.expected_stderr)}
    assert sorted(emitted - set(CODES)) == []


def test_every_fixture_has_its_expected_stderr() -> None:
    for path in sorted(FIXTURES.iterdir()):
        assert path.suffix in (".yaml", ".stderr", ".args", ".command"), path.name
        assert re.fullmatch(r"RBG\d{3}-[a-z0-9-]+", path.stem), path.name
        assert (FIXTURES / f"{path.stem}.yaml").exists(), path.name
        assert (FIXTURES / f"{path.stem}.stderr").exists(), path.name
