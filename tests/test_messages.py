"""What a user reads when something is wrong (issue 8, item 19): messages that say what is true,
name the input at fault, and hint at the fix; shell completion that is documented."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from rbgc.cli import main
from tests.conftest import EXAMPLES, ROOT
from tests.gitops.helpers import rbgc_bin

BAD = "tests/diagnostics/RBG201-unknown-dependency.yaml"
PD = str(EXAMPLES / "pd-disaggregated.yaml")


def cli(*args: str) -> tuple[int, str, str]:
    out = CliRunner().invoke(main, list(args))
    return out.exit_code, out.stdout, out.stderr


def test_only_commands_that_write_say_nothing_was_written() -> None:
    build = cli("build", str(ROOT / BAD))
    assert build[0] == 1 and build[2].endswith("rbgc: 1 error; nothing was written\n")
    for args in (["validate", str(ROOT / BAD)], ["diff", str(ROOT / BAD), PD], ["plan", PD, BAD]):
        code, _, err = cli(*args)
        assert code in (1, 2), err
        assert err.endswith("rbgc: 1 error\n"), err
        assert "written" not in err


def test_no_input_names_the_empty_file_or_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "comments.yaml").write_text("# apiVersion: v1\n")
    code, _, err = cli("build", str(tmp_path / "empty"))
    assert code == 1
    assert err.startswith(
        f"{tmp_path / 'empty'}: error[RBG011]: no Kubernetes objects found: the folder holds "
        "no *.yaml or *.yml file"
    )
    code, _, err = cli("validate", str(tmp_path / "empty"))
    assert code == 1 and err.startswith(f"{tmp_path / 'empty'}: error[RBG011]")
    code, _, err = cli("build", str(tmp_path / "comments.yaml"))
    assert code == 1
    assert err.startswith(
        f"{tmp_path / 'comments.yaml'}: error[RBG011]: no Kubernetes objects found: the file "
        "holds no YAML document"
    )


def test_a_quoted_number_hints_to_remove_the_quotes(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(
        "apiVersion: workloads.x-k8s.io/v1alpha1\nkind: RoleBasedGroup\nmetadata: {name: g}\n"
        "spec:\n  roles:\n  - name: a\n    replicas: '2'\n"
        "    template: {spec: {containers: [{name: c, image: i}]}}\n"
    )
    code, _, err = cli("build", str(path))
    assert code == 1
    assert '  help: remove the quotes around "2": quoted, it is a string\n' in err
    path.write_text(path.read_text().replace("'2'", "two"))
    assert "remove the quotes" not in cli("build", str(path))[2]


GROUP = "apiVersion: workloads.x-k8s.io/v1alpha1\nkind: RoleBasedGroup\nmetadata: {name: g}\n"
ONE_ROLE = "  - name: a\n    template: {spec: {containers: [{name: c, image: i}]}}\n"


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        (
            "spec:\n  roles: []\n",
            "g.yaml:5:10: error[RBG101]: spec.roles needs at least one item\n"
            "  help: list one item under `roles:`\n",
        ),
        (
            "spec:\n  roles:\n" + ONE_ROLE + "    dependencies: b\n",
            'g.yaml:8:19: error[RBG101]: spec.roles[0].dependencies: expected a list, got "b"\n'
            "  help: write a list: `dependencies: [b]`\n",
        ),
        (
            "spec:\n  roles:\n" + ONE_ROLE + "    replicas: -1\n",
            "g.yaml:8:15: error[RBG101]: spec.roles[0].replicas: expected at least 0, got -1\n"
            "  help: use 0 or more\n",
        ),
        (
            "spec:\n  roles:\n" + ONE_ROLE + "    restartPolicy: RecreateRbgOnPodRestart\n",
            "g.yaml:8:20: error[RBG101]: spec.roles[0].restartPolicy: expected one of "
            '"None", "RecreateRBGOnPodRestart", "RecreateRoleInstanceOnPodRestart", got '
            "\"RecreateRbgOnPodRestart\"\n  help: did you mean 'RecreateRBGOnPodRestart'?\n",
        ),
        (
            "",
            "g.yaml:1:1: error[RBG103]: RoleBasedGroup g is missing required field 'spec'\n"
            "  help: add `spec:` to RoleBasedGroup g\n",
        ),
    ],
    ids=["min-items", "list", "minimum", "enum", "document"],
)
def test_every_schema_error_names_its_field_and_has_a_help_line(
    tmp_path: Path, spec: str, said: str
) -> None:
    """First hour: `roles: []`, `dependencies: b`, `replicas: -1` had no help line, and a
    document without `spec` was "(document)"."""
    (tmp_path / "g.yaml").write_text(GROUP + spec)
    code, out, err = cli("build", str(tmp_path / "g.yaml"))
    assert (code, out) == (1, "")
    assert err.replace(str(tmp_path) + "/", "") == said + "rbgc: 1 error; nothing was written\n"


def test_shell_completion_is_documented_and_works() -> None:
    help_text = cli("--help")[1]
    assert 'eval "$(_RBGC_COMPLETE=bash_source rbgc)"' in help_text
    assert 'eval "$(_RBGC_COMPLETE=bash_source rbgc)"' in (ROOT / "README.md").read_text()
    done = subprocess.run(
        [rbgc_bin()],
        env={
            **os.environ,
            "_RBGC_COMPLETE": "bash_complete",
            "COMP_WORDS": "rbgc bu",
            "COMP_CWORD": "1",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout.splitlines() == ["plain,build"], done.stderr
