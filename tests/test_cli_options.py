"""The options every compiling command shares: `--ignore` (and its variables), one
`ARGOCD_ENV_RBGC_*` variable per output-changing option, and the Argo CD plugin reading them."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from rbgc.cli import COMMANDS, main
from rbgc.cli.options import IGNORE_VARIABLES, argocd_env
from tests.conftest import EXAMPLES, ROOT

TOPOLOGY = str(EXAMPLES / "pd-topology.yaml")  # warns RBG315 (pack becomes pod affinity)
CLEAN = {
    v: None
    for v in (
        *IGNORE_VARIABLES,
        "NO_COLOR",
        "KUBE_VERSION",
        "ARGOCD_APP_NAMESPACE",
        argocd_env("FAIL_ON_WARNING"),
    )
}


def invoke(args: list[str], env: Mapping[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(main, args, env={**CLEAN, **(env or {})})


def test_a_warning_without_ignore_is_shown_and_fatal_with_fail_on_warning() -> None:
    shown = invoke(["build", TOPOLOGY])
    assert shown.exit_code == 0 and "warning[RBG315]" in shown.stderr
    fatal = invoke(["build", "--fail-on-warning", TOPOLOGY])
    assert (fatal.exit_code, fatal.stdout) == (1, "")
    assert "warning[RBG315]" in fatal.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--ignore", "RBG315"],
        ["--ignore", "rbg315"],
        ["--ignore", "pack-not-atomic"],  # the code's name, as `rbgc explain` accepts it
        ["--ignore", "RBG140,RBG315"],
        ["--ignore", "RBG140", "--ignore", "RBG315"],
    ],
)
def test_ignore_accepts_a_warning_by_code_or_name(args: list[str]) -> None:
    done = invoke(["build", "--fail-on-warning", *args, TOPOLOGY])
    assert done.exit_code == 0, done.stderr
    assert "RBG315" not in done.stderr
    assert "kind: StatefulSet" in done.stdout


@pytest.mark.parametrize("variable", IGNORE_VARIABLES)
def test_the_ignore_variables_count_like_the_flag(variable: str) -> None:
    done = invoke(["build", "--fail-on-warning", TOPOLOGY], env={variable: "RBG141, RBG315"})
    assert done.exit_code == 0, done.stderr
    assert "RBG315" not in done.stderr


def test_ignored_warnings_are_not_counted_by_validate_nor_in_json() -> None:
    counted = invoke(["validate", TOPOLOGY])
    assert "warning(s)" in counted.stdout
    quiet = invoke(["validate", "--ignore", "RBG315", TOPOLOGY])
    assert quiet.exit_code == 0
    assert "warning" not in quiet.stdout + quiet.stderr
    as_json = invoke(["validate", "--format", "json", "--ignore", "RBG315", TOPOLOGY])
    codes = [d["code"] for d in json.loads(as_json.stderr)["diagnostics"]]
    assert "RBG315" not in codes


def test_validate_fails_on_warnings_as_the_argocd_plugin_does() -> None:
    """The plugin renders with fail-on-warning (its default), so a pre-commit hook must be
    able to pass only what Argo CD will render: the same flag, the same variable, and what
    --ignore accepts is not fatal either."""
    lenient = invoke(["validate", TOPOLOGY])
    assert lenient.exit_code == 0, lenient.stderr
    for args, env in (
        (["--fail-on-warning"], None),
        ([], {argocd_env("FAIL_ON_WARNING"): "true"}),
    ):
        fatal = invoke(["validate", *args, TOPOLOGY], env=env)
        assert fatal.exit_code == 1, fatal.stderr
        assert "warning[RBG315]" in fatal.stderr
        assert fatal.stderr.endswith("rbgc: 1 warning\n")
        assert "valid" not in fatal.stdout
    accepted = invoke(["validate", "--fail-on-warning", "--ignore", "RBG315", TOPOLOGY])
    assert accepted.exit_code == 0, accepted.stderr
    build = invoke(["build", "--fail-on-warning", TOPOLOGY])
    assert build.exit_code == fatal.exit_code  # one verdict


def test_an_error_code_cannot_be_ignored() -> None:
    done = invoke(["build", "--ignore", "RBG203", TOPOLOGY])
    assert (done.exit_code, done.stdout) == (2, "")
    assert "RBG203 (dependency-cycle) is an error, and errors cannot be ignored" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unknown_code_is_a_usage_error_naming_where_it_came_from() -> None:
    done = invoke(["build", TOPOLOGY], env={"ARGOCD_ENV_RBGC_IGNORE": "RBG9999"})
    assert (done.exit_code, done.stdout) == (2, "")
    assert "unknown diagnostic code 'RBG9999'" in done.stderr
    assert "$ARGOCD_ENV_RBGC_IGNORE" in done.stderr


def _compiling_commands() -> list[click.Command]:
    found = []
    for name in COMMANDS:
        command = main.get_command(click.Context(main), name)
        assert command is not None
        if any(p.name == "kubernetes_version" for p in command.params):
            found.append(command)
    return found


def test_every_compiling_command_takes_ignore() -> None:
    commands = _compiling_commands()
    assert {c.name for c in commands} >= {"build", "validate", "graph", "diff", "plan", "fit"}
    for command in commands:
        assert any(p.name == "ignore" for p in command.params), command.name


# Options of `build` that do not change what is compiled or whether it passes: where the output
# goes (the Argo CD plugin always writes objects to stdout), how diagnostics look, --explain.
# --ignore has its own variables (IGNORE_VARIABLES).
NOT_COMPILE_OPTIONS = {
    "paths",
    "output",
    "out_dir",
    "layout",
    "flux",
    "flux_source",
    "check",
    "explain",
    "fmt",
    "color",
    "ignore",
}


def test_every_compile_option_of_build_has_its_argocd_variable() -> None:
    """Argo CD passes an Application's plugin env as ARGOCD_ENV_*, and nothing else: an option
    without a variable cannot be set from an Application (issue 18 item 1)."""
    build = main.get_command(click.Context(main), "build")
    assert build is not None
    for param in build.params:
        if param.name in NOT_COMPILE_OPTIONS:
            continue
        name = (param.name or "").upper()
        assert param.envvar == argocd_env(name), f"--{param.name} has no ARGOCD_ENV_ variable"


def test_the_readme_names_every_argocd_variable() -> None:
    build = main.get_command(click.Context(main), "build")
    assert build is not None
    variables = {p.envvar for p in build.params if isinstance(p.envvar, str)}
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("### Argo CD")[1]
    section = section.split("\n### ")[0]
    for variable in [*sorted(variables), argocd_env("IGNORE")]:
        assert variable.removeprefix("ARGOCD_ENV_") in section, variable


def test_the_plugin_reads_the_variables_rather_than_fixed_flags() -> None:
    plugin = (ROOT / "integrations/argocd/plugin.yaml").read_text(encoding="utf-8")
    generate = plugin.split("generate:")[1].split("discover:")[0]
    # a flag written into the command would override the Application's variable
    assert not re.search(r"--(fail-on-warning|strict|lws|scheduler|conventions)\b", generate)


def test_rbgc_help_lists_each_command_with_its_own_short_help() -> None:
    listed = invoke(["--help"]).stdout
    for name, (_module, short) in COMMANDS.items():
        command = main.get_command(click.Context(main), name)
        assert command is not None and command.short_help == short
        assert name in listed


def test_unknown_command_is_a_usage_error() -> None:
    done = invoke(["biuld", "x.yaml"])
    assert done.exit_code == 2
    assert "No such command 'biuld'. Did you mean 'build'?" in done.stderr  # as kubectl, git
    far = invoke(["deploy", "x.yaml"])
    assert far.exit_code == 2
    assert "No such command 'deploy'." in far.stderr and "Did you mean" not in far.stderr


def test_ignore_works_on_fit(tmp_path: Path) -> None:
    nodes = EXAMPLES / "inventory" / "nodes.json"
    done = invoke(["fit", "--nodes", str(nodes), "--ignore", "RBG315", TOPOLOGY])
    assert "RBG315" not in done.stderr


@pytest.mark.parametrize(
    ("env", "said"),
    [
        # an Argo CD user sets the Application's plugin env, never the flag: name what they set
        (
            {argocd_env("LWS"): "StatefulSets"},
            "Invalid value for $ARGOCD_ENV_RBGC_LWS (for '--lws')",
        ),
        ({argocd_env("STRICT"): "maybe"}, "Invalid value for $ARGOCD_ENV_RBGC_STRICT"),
        ({argocd_env("KUBERNETES_VERSION"): "latest"}, "$ARGOCD_ENV_RBGC_KUBERNETES_VERSION: "),
        ({"KUBE_VERSION": "latest"}, "$KUBE_VERSION: cannot read Kubernetes version"),
        ({argocd_env("NAMESPACE"): "LLM"}, "namespace 'LLM' (from $ARGOCD_ENV_RBGC_NAMESPACE)"),
        ({"ARGOCD_APP_NAMESPACE": "LLM"}, "namespace 'LLM' (from $ARGOCD_APP_NAMESPACE)"),
    ],
)
def test_a_bad_variable_is_named_in_the_usage_error(env: dict[str, str], said: str) -> None:
    done = invoke(["build", TOPOLOGY], env=env)
    assert (done.exit_code, done.stdout) == (2, ""), done.stderr
    assert said in done.stderr


def test_a_bad_flag_is_named_as_the_flag() -> None:
    done = invoke(["build", "--namespace", "LLM", "--kubernetes-version", "1.33", TOPOLOGY])
    assert done.exit_code == 2
    assert "namespace 'LLM' (from --namespace)" in done.stderr
    done = invoke(["build", "--kubernetes-version", "latest", TOPOLOGY])
    assert "--kubernetes-version: cannot read Kubernetes version" in done.stderr


def test_post_render_names_helms_namespace_variable() -> None:
    done = invoke(["post-render"], env={"HELM_NAMESPACE": "LLM"})
    assert done.exit_code == 2
    assert "namespace 'LLM' (from $HELM_NAMESPACE)" in done.stderr
