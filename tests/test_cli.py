"""The command-line contract (design.md §4): exit codes, streams, output folder, environment."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from rbgc import __version__
from rbgc.cli import main
from rbgc.codes import CODES
from rbgc.pipeline import PASS_NAMES
from tests.conftest import EXAMPLES, ROOT

GROUP_KEY = "rolebasedgroup.workloads.x-k8s.io/group-unique-key"
_CLEAN_ENV = ("NO_COLOR", "ARGOCD_APP_NAMESPACE", "KUBE_VERSION", "RBGC_DEBUG")

# A group without metadata.namespace, so the namespace comes from the flag or the environment.
NO_NAMESPACE = textwrap.dedent(
    """\
    apiVersion: workloads.x-k8s.io/v1alpha1
    kind: RoleBasedGroup
    metadata:
      name: demo
    spec:
      roles:
        - name: worker
          replicas: 2
          template:
            spec:
              containers:
                - name: main
                  image: nginx:1.27
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: extra
    data:
      mode: fast
    """
)

BAD = textwrap.dedent(
    """\
    apiVersion: workloads.x-k8s.io/v1alpha1
    kind: RoleBasedGroup
    metadata:
      name: demo
    spec:
      roles:
        - name: worker
          dependencies: [ghost]
          template:
            spec:
              containers:
                - name: main
                  image: nginx:1.27
    """
)

WARNS = textwrap.dedent(
    """\
    apiVersion: workloads.x-k8s.io/v1alpha1
    kind: RoleBasedGroup
    metadata:
      name: demo
    spec:
      roles:
        - name: worker
          template:
            spec:
              containers:
                - name: main
                  image: nginx:1.27
                  env:
                    - name: GROUP_NAME
                      value: mine
    """
)


def invoke(
    args: list[str], *, env: dict[str, str] | None = None, stdin: str | None = None
) -> Result:
    full_env: dict[str, str | None] = {k: None for k in _CLEAN_ENV}
    full_env.update(env or {})
    return CliRunner().invoke(main, args, env=full_env, input=stdin)


def run(
    args: list[str], *, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in _CLEAN_ENV}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "rbgc", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        check=False,
    )


def write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def objects(stream: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(stream) if d is not None]


# A fixed set, so the object counts below are claims about these files, not about the folder.
EXAMPLE_FILES = [
    str(EXAMPLES / f) for f in ("multi-level.yaml", "pd-disaggregated.yaml", "single-node.yaml")
]
PD = str(EXAMPLES / "pd-disaggregated.yaml")


# -- help, version, usage -------------------------------------------------------------------


@pytest.mark.parametrize("command", [[], ["build"], ["validate"], ["explain"]], ids=str)
def test_help_shows_examples_and_exit_codes(command: list[str]) -> None:
    result = invoke([*command, "--help"])
    assert result.exit_code == 0
    assert result.output.startswith("Usage: ")
    assert "Example" in result.output
    assert "Exit code" in result.output


def test_short_help_option() -> None:
    assert invoke(["-h"]).output == invoke(["--help"]).output


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag: str) -> None:
    result = invoke([flag])
    assert result.exit_code == 0
    assert result.output == f"rbgc, version {__version__}\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["build", "--bogus", PD], "No such option '--bogus'"),
        (["build"], "Missing argument 'PATH...'"),
        # `rbgc validate` with no path checks the repository (tests/gitops/test_validate_repo.py)
        (["build", "-o", "toml", PD], "Invalid value for '-o' / '--output'"),
        (["build", "--color", "sometimes", PD], "Invalid value for '--color'"),
        (["frobnicate"], "No such command 'frobnicate'"),
        (["explain", "nope"], "unknown code 'nope'"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = invoke(args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_exit_codes_for_valid_and_invalid_input(tmp_path: Path) -> None:
    assert invoke(["build", PD]).exit_code == 0
    bad = invoke(["build", write(tmp_path / "bad.yaml", BAD)])
    assert bad.exit_code == 1
    assert "error[RBG201]" in bad.stderr
    assert bad.stdout == ""


# -- build output ---------------------------------------------------------------------------


def test_build_from_stdin_matches_the_file() -> None:
    text = Path(PD).read_text(encoding="utf-8")
    piped = run(["build", "-"], stdin=text)
    direct = run(["build", PD])
    assert piped.returncode == 0
    assert piped.stdout == direct.stdout
    assert piped.stderr == ""
    assert len(objects(piped.stdout)) == 9


def test_stdin_diagnostics_are_located_in_dash() -> None:
    result = run(["build", "-"], stdin=BAD)
    assert result.returncode == 1
    assert result.stderr.startswith(
        "-:8:22: error[RBG201]: role 'worker' depends on unknown role 'ghost'\n"
    )
    assert result.stdout == ""


def test_output_json_is_a_v1_list_of_the_same_objects() -> None:
    as_json = invoke(["build", "-o", "json", *EXAMPLE_FILES])
    as_yaml = invoke(["build", *EXAMPLE_FILES])
    assert as_json.exit_code == 0
    doc = json.loads(as_json.stdout)
    assert (doc["apiVersion"], doc["kind"]) == ("v1", "List")
    assert doc["items"] == objects(as_yaml.stdout)
    assert len(doc["items"]) == 29


def test_stdout_is_only_objects_and_stderr_is_empty_on_success() -> None:
    result = invoke(["build", PD])
    assert result.stderr == ""
    assert all(o["apiVersion"] and o["kind"] for o in objects(result.stdout))


def test_warnings_go_to_stderr_and_do_not_fail(tmp_path: Path) -> None:
    path = write(tmp_path / "w.yaml", WARNS)
    result = invoke(["build", path])
    assert result.exit_code == 0
    assert "warning[RBG501]" in result.stderr
    assert len(objects(result.stdout)) == 3
    strict = invoke(["build", "--fail-on-warning", path])
    assert strict.exit_code == 1
    assert "warning[RBG501]" in strict.stderr
    assert strict.stdout == ""


# -- --out ------------------------------------------------------------------------------------


def test_out_writes_one_file_per_object_with_stable_names(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    result = invoke(["build", PD, "--out", str(out)])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == f"rbgc: wrote 9 object(s) to {out}\n"
    streamed = objects(invoke(["build", PD]).stdout)
    names = {f"llm_{o['kind'].lower()}_{o['metadata']['name']}.yaml" for o in streamed}
    assert {p.name for p in out.glob("*.yaml")} == names
    assert (out / ".rbgc-output").is_file()
    sts = yaml.safe_load((out / "llm_statefulset_sglang-pd-prefill.yaml").read_text())
    assert sts in streamed


def test_out_rewrites_its_own_folder_and_removes_stale_files(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    assert invoke(["build", *EXAMPLE_FILES, "--out", str(out)]).exit_code == 0
    assert len(list(out.glob("*.yaml"))) == 29
    first = {p.name: p.read_bytes() for p in out.glob("*.yaml")}
    assert invoke(["build", *EXAMPLE_FILES, "--out", str(out)]).exit_code == 0
    assert {p.name: p.read_bytes() for p in out.glob("*.yaml")} == first

    single = str(EXAMPLES / "single-node.yaml")
    assert invoke(["build", single, "--out", str(out)]).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        ".rbgc-output",
        "llm_configmap_qwen-single-server.yaml",
        "llm_service_qwen-single-server.yaml",
        "llm_statefulset_qwen-single-server.yaml",
    ]


def test_out_refuses_a_foreign_non_empty_folder(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    write(out / "keep.yaml", "precious: true\n")
    write(out / "notes.txt", "hello\n")
    result = invoke(["build", PD, "--out", str(out)])
    assert result.exit_code == 2
    assert "not empty and was not written by rbgc" in result.stderr
    assert "RBG901" not in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["keep.yaml", "notes.txt"]
    assert (out / "keep.yaml").read_text() == "precious: true\n"


def test_out_refuses_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file.yaml"
    target.write_text("x: 1\n")
    result = invoke(["build", PD, "--out", str(target)])
    assert result.exit_code == 2
    assert "exists and is not a directory" in result.stderr
    assert target.read_text() == "x: 1\n"


def test_nothing_is_written_on_error(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", BAD)
    fresh = tmp_path / "fresh"
    result = invoke(["build", PD, bad, "--out", str(fresh)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert not fresh.exists()

    kept = tmp_path / "kept"
    assert invoke(["build", PD, "--out", str(kept)]).exit_code == 0
    before = {p.name: p.read_bytes() for p in kept.iterdir()}
    assert invoke(["build", bad, "--out", str(kept)]).exit_code == 1
    assert {p.name: p.read_bytes() for p in kept.iterdir()} == before


# -- --explain --------------------------------------------------------------------------------


def test_explain_prints_every_pass_in_order_to_stderr_only() -> None:
    plain = invoke(["build", PD])
    result = invoke(["build", "--explain", PD])
    assert result.exit_code == 0
    assert result.stdout == plain.stdout
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("[") for line in lines)
    stages = list(dict.fromkeys(line[1 : line.index("]")] for line in lines))
    assert stages == ["validate", "dependencies", "placement", "expand", "discovery", "inplace"]
    assert tuple(stages) == PASS_NAMES
    assert "[dependencies] llm/sglang-pd: wave 1: router" in lines
    assert "[expand] llm/sglang-pd: StatefulSet llm/sglang-pd-prefill (wave 0)" in lines


def test_explain_with_out_keeps_stdout_empty(tmp_path: Path) -> None:
    result = invoke(["build", "--explain", PD, "--out", str(tmp_path / "o")])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "[discovery] " in result.stderr


# -- namespace --------------------------------------------------------------------------------


def _namespaces(stream: str) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    out = {}
    for o in objects(stream):
        meta = o["metadata"]
        assert isinstance(meta, dict)
        key = (meta.get("labels") or {}).get(GROUP_KEY)
        out[(str(o["kind"]), meta["name"])] = (meta.get("namespace"), key)
    return out


def _key(namespace: str) -> str:
    return hashlib.sha1(f"{namespace}/demo".encode()).hexdigest()


@pytest.mark.parametrize(
    ("args", "env", "namespace"),
    [
        ([], {}, "default"),
        (["--namespace", "team-a"], {}, "team-a"),
        (["-n", "team-a"], {}, "team-a"),
        ([], {"ARGOCD_APP_NAMESPACE": "argo-ns"}, "argo-ns"),
        (["--namespace", "team-a"], {"ARGOCD_APP_NAMESPACE": "argo-ns"}, "team-a"),
    ],
)
def test_namespace_for_objects_without_one(
    tmp_path: Path, args: list[str], env: dict[str, str], namespace: str
) -> None:
    path = write(tmp_path / "g.yaml", NO_NAMESPACE)
    result = invoke(["build", *args, path], env=env)
    assert result.exit_code == 0
    found = _namespaces(result.stdout)
    assert found[("StatefulSet", "demo-worker")] == (namespace, _key(namespace))
    assert found[("Service", "demo-worker")][0] == namespace
    assert found[("ConfigMap", "demo-worker")][0] == namespace
    # Pass-through objects are not rbgc's to move: they keep what the user wrote.
    assert found[("ConfigMap", "extra")] == (None, None)
    sts = next(o for o in objects(result.stdout) if o["kind"] == "StatefulSet")
    assert sts["spec"]["selector"]["matchLabels"][GROUP_KEY] == _key(namespace)


def test_metadata_namespace_wins_over_flag_and_environment(tmp_path: Path) -> None:
    text = NO_NAMESPACE.replace("  name: demo\n", "  name: demo\n  namespace: own\n", 1)
    path = write(tmp_path / "g.yaml", text)
    result = invoke(["build", "-n", "team-a", path], env={"ARGOCD_APP_NAMESPACE": "argo-ns"})
    assert result.exit_code == 0
    assert _namespaces(result.stdout)[("StatefulSet", "demo-worker")] == ("own", _key("own"))


# -- Kubernetes version -----------------------------------------------------------------------


def test_kube_version_env_is_used_by_strict_build() -> None:
    refused = invoke(["build", "--strict", PD], env={"KUBE_VERSION": "1.2"})
    assert refused.exit_code == 1
    assert "error[RBG602]: Kubernetes 1.2 is outside the schemas" in refused.stderr
    assert refused.stdout == ""
    flag_wins = invoke(
        ["build", "--strict", "--kubernetes-version", "1.33", PD], env={"KUBE_VERSION": "1.2"}
    )
    assert flag_wins.exit_code == 0
    assert invoke(["build", "--strict", PD], env={"KUBE_VERSION": "v1.30.4"}).exit_code == 0
    # Without --strict no schema is consulted, so the version does not matter.
    assert invoke(["build", PD], env={"KUBE_VERSION": "1.2"}).exit_code == 0


def test_kube_version_env_is_used_by_validate() -> None:
    result = invoke(["validate", PD], env={"KUBE_VERSION": "v1.30.4"})
    assert result.exit_code == 0
    assert result.stdout == "rbgc: 1 file(s), 9 object(s) valid for Kubernetes 1.30\n"


def test_validate_refuses_an_unknown_kubernetes_version() -> None:
    result = invoke(["validate", PD], env={"KUBE_VERSION": "1.2"})
    assert result.exit_code == 1
    assert "error[RBG602]: Kubernetes 1.2 is outside the schemas" in result.stderr
    assert "RBG901" not in result.stderr


# -- validate ---------------------------------------------------------------------------------


def test_validate_several_files_prints_a_summary() -> None:
    result = invoke(["validate", *EXAMPLE_FILES])
    assert result.exit_code == 0
    assert result.stdout == "rbgc: 3 file(s), 29 object(s) valid for Kubernetes 1.33\n"
    assert result.stderr == ""
    quiet = invoke(["validate", "-q", *EXAMPLE_FILES])
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")


def test_validate_reports_a_bad_file_among_good_ones(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", BAD)
    result = invoke(["validate", *EXAMPLE_FILES, bad])
    assert result.exit_code == 1
    assert result.stderr == (
        f"{bad}:8:22: error[RBG201]: role 'worker' depends on unknown role 'ghost'\n"
        "  help: known roles: worker\n"
        "rbgc: 1 error\n"  # validate writes nothing anyway: it does not say so
    )
    assert result.stdout == ""


def test_validate_warnings_exit_0(tmp_path: Path) -> None:
    result = invoke(["validate", write(tmp_path / "w.yaml", WARNS)])
    assert result.exit_code == 0
    assert "warning[RBG501]" in result.stderr
    assert result.stdout.endswith("(1 warning(s))\n")


# -- explain ----------------------------------------------------------------------------------


def test_explain_a_code() -> None:
    result = invoke(["explain", "RBG203"])
    assert result.exit_code == 0
    assert result.stdout == CODES["RBG203"].render()
    assert result.stdout.startswith("RBG203 (dependency-cycle) [error]\n")
    assert "## Why" in result.stdout
    assert invoke(["explain", "rbg203"]).stdout == result.stdout
    assert invoke(["explain", "dependency-cycle"]).stdout == result.stdout


def test_explain_takes_a_code_as_a_diagnostic_prints_it_and_near_names() -> None:
    expected = CODES["RBG315"].render()
    for pasted in ("warning[RBG315]", "warning[RBG315]:", "RBG315:"):  # copied from stderr
        assert invoke(["explain", pasted]).stdout == expected, pasted
    typo = invoke(["explain", "pack-not-atomc"])
    assert typo.exit_code == 2
    assert "unknown code 'pack-not-atomc'; did you mean 'pack-not-atomic' (RBG315)?" in (
        typo.stderr
    )


def test_explain_lists_every_code() -> None:
    result = invoke(["explain"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(CODES)
    assert [line.split()[1] for line in lines] == [d.name for d in CODES.values()]


# -- colour -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "colored"),
    [
        ([], {}, False),  # auto, and stderr is not a terminal
        ([], {"NO_COLOR": "1"}, False),
        (["--color", "never"], {}, False),
        (["--color", "auto"], {"NO_COLOR": "1"}, False),
        (["--color", "always"], {}, True),
    ],
)
def test_color(tmp_path: Path, args: list[str], env: dict[str, str], colored: bool) -> None:
    result = run(["build", *args, write(tmp_path / "bad.yaml", BAD)], env=env)
    assert result.returncode == 1
    assert ("\x1b[" in result.stderr) is colored
    assert "error[RBG201]" in result.stderr


# -- robustness -------------------------------------------------------------------------------


def test_pass_through_object_with_a_non_mapping_metadata_is_a_diagnostic(tmp_path: Path) -> None:
    path = write(tmp_path / "m.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: 5\n")
    result = run(["build", path])
    assert result.returncode == 1
    assert "RBG901" not in result.stderr
    assert result.stderr.startswith(f"{path}:3:")
    assert result.stdout == ""


def test_no_traceback_on_errors(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", "a: [\n")
    result = run(["build", bad, "missing.yaml"])
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr == (
        f"{bad}:2:1: error[RBG001]: did not find expected node content "
        "(while parsing a flow node)\n"
        "missing.yaml: error[RBG008]: no such file or directory\n"
        "  help: check the path (relative to the current folder); `-` reads standard input\n"
        "rbgc: 2 errors; nothing was written\n"
    )


HEAVY = ("yaml", "jsonschema", "kubernetes_validate", "ruamel", "referencing")


@pytest.mark.parametrize(
    "argv", [["--help"], ["--version"], ["build", "--help"], ["convert", "--help"]], ids=str
)
def test_help_and_version_do_not_import_heavy_modules(argv: list[str]) -> None:
    probe = (
        "import sys\n"
        "from rbgc.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
        "sys.stderr.write(repr(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(("Usage: rbgc", "Usage: -c", "rbgc, version"))
    assert result.stderr == "[]"


def test_an_unreadable_kubernetes_version_or_namespace_is_a_usage_error() -> None:
    version = invoke(["build", "--kubernetes-version", "latest", PD])
    assert version.exit_code == 2 and version.stdout == ""
    assert "cannot read Kubernetes version 'latest'" in version.stderr
    namespace = invoke(["build", PD], env={"ARGOCD_APP_NAMESPACE": "Bad_NS"})
    assert namespace.exit_code == 2 and namespace.stdout == ""
    assert "namespace 'Bad_NS'" in namespace.stderr


def test_out_and_json_output_do_not_combine(tmp_path: Path) -> None:
    result = invoke(["build", PD, "-o", "json", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert not (tmp_path / "o").exists()


def test_json_output_refuses_nan(tmp_path: Path) -> None:
    path = tmp_path / "nan.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: n}\nspec: {x: .nan}\n")
    result = invoke(["build", "-o", "json", str(path)])
    assert result.exit_code == 1 and result.stdout == ""
    assert "NaN or infinite" in result.stderr


def test_validate_separately_keeps_independent_apps_apart() -> None:
    apps = [PD, str(ROOT / "overlays" / "base" / "pd-disaggregated.yaml")]  # both 'sglang-pd'
    together = invoke(["validate", *apps])
    assert together.exit_code == 1 and "RBG113" in together.stderr
    apart = invoke(["validate", "--separately", *apps])
    assert apart.exit_code == 0
    assert apart.stdout.startswith("rbgc: 2 file(s), ")


# Imported only for groups that have placement rules, a v1alpha2 document or another scheduler
# (issue 21.7: a plain build defines none of their classes at start-up).
PLACEMENT_ONLY = (
    "rbgc.topology",
    "rbgc.passes.placement_rules",
    "rbgc.passes.placement_instances",
    "rbgc.passes.placement_anchors",
    "rbgc.passes.placement_volcano",
    "rbgc.passes.placement_kueue",
    "rbgc.passes.placement_kai",
)


def _imported_by_build(path: str, watched: tuple[str, ...] = PLACEMENT_ONLY) -> list[str]:
    """Which of the `watched` modules `rbgc build PATH` imports (in a fresh interpreter)."""
    probe = (
        "import sys\n"
        "from rbgc.cli import main\n"
        "try:\n"
        f"    main(['build', {path!r}])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        f"sys.stderr.write(repr(sorted(m for m in sys.modules if m in {watched!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return list(ast.literal_eval(done.stderr.splitlines()[-1]))


def test_a_plain_build_does_not_import_the_placement_lowerings() -> None:
    assert _imported_by_build(PD) == []
    # ... which the probe would see: a group with a Placement imports them
    with_rules = _imported_by_build(str(EXAMPLES / "pd-topology.yaml"))
    assert "rbgc.topology" in with_rules and "rbgc.passes.placement_rules" in with_rules
