"""`rbgc validate` in a repository as platform teams keep one: apps and overlays next to CI
workflows, docker-compose files and the folders rbgc renders (issue 8, items 1 and 3)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from rbgc.cli import main
from tests.gitops.helpers import copy_overlays, write

OTHER_YAML = {
    ".github/workflows/ci.yaml": """\
        on:
          push: {branches: [main]}
        jobs:
          test: {runs-on: ubuntu-latest, steps: [{run: make test}]}
        """,
    ".pre-commit-config.yaml": """\
        repos:
          - repo: local
            hooks: [{id: x, name: x, entry: "true", language: system}]
        """,
    "docker-compose.yaml": """\
        services:
          web: {image: "nginx:1.27", ports: ["8080:80"]}
        """,
    "empty.yaml": "# nothing yet\n",
}


def cli(*args: str) -> tuple[int, str, str]:
    out = CliRunner().invoke(main, list(args))
    return out.exit_code, out.stdout, out.stderr


def test_files_without_kubernetes_objects_are_skipped_and_counted(tmp_path: Path) -> None:
    repo = copy_overlays(tmp_path)
    write(repo, OTHER_YAML)
    files = [str(repo / name) for name in OTHER_YAML]
    code, out, err = cli("validate", *files, str(repo / "overlays"), "--root", str(repo))
    assert code == 0, err
    assert err == ""
    assert out.startswith("rbgc: 3 file(s), ")
    assert out.endswith("; 4 file(s) without Kubernetes objects skipped\n")
    # nothing left to compile is RBG011, as `rbgc build` says it (issue 18, item 3)
    code, out, err = cli("validate", str(repo / "docker-compose.yaml"))
    assert (code, out) == (1, ""), err
    assert "error[RBG011]: no Kubernetes objects found: no document of the file has" in err


def test_a_file_with_one_object_is_checked_strictly(tmp_path: Path) -> None:
    """Skipping is per file: a manifest file's other documents must still be objects, and a
    document with only a `kind` is a manifest whose apiVersion was forgotten."""
    write(
        tmp_path,
        {
            "mixed.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\non: push\n",
            "no-api.yaml": "kind: ConfigMap\nmetadata: {name: b}\n",
        },
    )
    code, _, err = cli("validate", str(tmp_path))
    assert code == 1
    assert "mixed.yaml:5:1: error[RBG004]" in err
    assert "mixed.yaml:5:1: error[RBG009]: document 2 has no apiVersion or kind" in err
    assert "no-api.yaml:1:1: error[RBG009]: document 1 has no apiVersion" in err


def test_build_reads_files_by_the_same_rule(tmp_path: Path) -> None:
    """Was: build refused a docker-compose.yaml beside the manifests with RBG009 while validate
    skipped it (issue 18, item 3); now both skip it, and both refuse a build of nothing."""
    write(tmp_path, {"docker-compose.yaml": OTHER_YAML["docker-compose.yaml"]})
    code, out, err = cli("build", str(tmp_path / "docker-compose.yaml"))
    assert (code, out) == (1, "")
    assert "error[RBG011]: no Kubernetes objects found: no document of the file has" in err
    repo = copy_overlays(tmp_path / "repo")
    write(repo, OTHER_YAML)
    code, out, err = cli("build", str(repo), "--root", str(repo))
    assert code == 0, err
    assert out == cli("build", str(repo / "overlays"), "--root", str(repo))[1]


@pytest.mark.parametrize(
    "layout", [["--layout", "flat"], ["--layout", "waves"], ["--flux"]], ids=lambda a: a[-1]
)
def test_everything_rbgc_writes_validates(tmp_path: Path, layout: list[str]) -> None:
    """kustomization.yaml files are kustomize's configuration, not cluster objects: they have no
    name, and were reported as `Kustomization  is produced twice`."""
    repo = copy_overlays(tmp_path)
    rendered = repo / "rendered"
    for env in ("prod", "dev"):
        code, _, err = cli(
            "build", str(repo / "overlays" / env), "--out", str(rendered / env), *layout,
            "--root", str(repo),
        )  # fmt: skip
        assert code == 0, err
    code, out, err = cli("validate", str(rendered))
    assert (code, err) == (0, ""), err
    assert "valid for Kubernetes" in out


def test_separately_each_file_still_finds_a_profile_defined_in_another(tmp_path: Path) -> None:
    """Issue 8 item 2: `--separately` compiled each file alone, so an app whose profile lives
    in another file failed with RBG510; the profile is now looked up among every input."""
    write(
        tmp_path,
        {
            "profiles/patio.yaml": """\
                apiVersion: workloads.x-k8s.io/v1alpha1
                kind: ClusterEngineRuntimeProfile
                metadata: {name: patio}
                spec:
                  containers: [{name: patio-runtime, image: example.com/patio:v1}]
                """,
            **{
                f"app{n}.yaml": """\
                    apiVersion: workloads.x-k8s.io/v1alpha1
                    kind: RoleBasedGroup
                    metadata: {name: same-name}
                    spec:
                      roles:
                        - name: server
                          engineRuntimes: [{profileName: patio}]
                          template:
                            spec: {containers: [{name: c, image: example.com/c:v1}]}
                    """
                for n in (1, 2)
            },
        },
    )
    code, out, err = cli("validate", "--separately", str(tmp_path))
    assert (code, err) == (0, ""), err
    assert out.startswith("rbgc: 3 file(s), 6 object(s) valid")
    together = cli("validate", str(tmp_path))
    assert together[0] == 1 and "RBG113" in together[2]
    code, _, err = cli("validate", "--separately", str(tmp_path / "app1.yaml"))
    assert code == 1 and "error[RBG510]" in err


# -- issue 18, item 6: `rbgc validate` with no path checks the repository ---------------------

BAD_APP = """\
    apiVersion: workloads.x-k8s.io/v1alpha1
    kind: RoleBasedGroup
    metadata: {name: bad}
    spec:
      roles:
        - name: a
          dependencies: [b]
          template: {spec: {containers: [{name: c, image: example.com/c:v1}]}}
    """


def _in(folder: Path, *args: str) -> tuple[int, str, str]:
    before = os.getcwd()
    os.chdir(folder)
    try:
        return cli(*args)
    finally:
        os.chdir(before)


def _repository(tmp_path: Path) -> Path:
    """Apps, overlays and their rendered output, CI files, and ignored junk, as a git repo."""
    repo = copy_overlays(tmp_path / "repo")
    write(repo, {**OTHER_YAML, ".gitignore": "node_modules/\n"})
    write(repo, {"node_modules/pkg/broken.yaml": "a: [\n", "apps/notes.txt": "hello\n"})
    code, _, err = _in(repo, "build", "overlays/prod", "--out", "rendered/prod", "--flux")
    assert code == 0, err
    return repo


def test_no_path_checks_the_repository_from_its_root(tmp_path: Path) -> None:
    """The first hook a person writes has no `args:`; it failed every commit with `Missing
    argument 'PATH...'`. With no path, validate checks the YAML files git sees from the
    repository root (tracked and new, not ignored), less rbgc's own output folders (compiled
    objects again, RBG113 beside their sources: `build --check` is their check)."""
    repo = _repository(tmp_path)
    code, out, err = _in(repo, "validate")
    assert (code, err) == (0, ""), err
    assert out == _in(repo, "validate", "overlays/", "docker-compose.yaml", "empty.yaml")[1]
    assert out.endswith("; 2 file(s) without Kubernetes objects skipped\n"), out
    assert _in(repo / "overlays" / "prod", "validate") == (code, out, err), "from a subfolder too"
    write(repo, {"apps/bad.yaml": BAD_APP})
    code, out, err = _in(repo / "overlays", "validate")
    assert (code, out) == (1, "")
    assert "../apps/bad.yaml:7:22: error[RBG201]: role 'a' depends on unknown role 'b'" in err


def test_no_path_in_a_repository_without_manifests_names_args(tmp_path: Path) -> None:
    write(tmp_path, {"ci.yaml": OTHER_YAML[".github/workflows/ci.yaml"]})
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    code, out, err = _in(tmp_path, "validate")
    assert (code, out) == (1, "")
    assert f"{tmp_path}: error[RBG011]: no Kubernetes objects found" in err
    assert "args: [apps/, overlays/]" in err
