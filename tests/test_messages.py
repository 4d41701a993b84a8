"""What a user reads when something is wrong (issue 8, item 19): messages that say what is true,
name the input at fault, and hint at the fix; shell completion that is documented."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

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
