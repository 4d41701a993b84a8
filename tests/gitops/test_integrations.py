"""The Argo CD files a platform team installs (Helm values, Application, argocd-cm patch), the
docker build context, and `--layout waves` read by kubectl (issue 8, item 18)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.gitops.helpers import ROOT, rbgc_bin, write
from tests.tools import need

ARGOCD = ROOT / "integrations" / "argocd"
HEALTH_KEY = "resource.customizations.health.leaderworkerset.x-k8s.io_LeaderWorkerSet"
LUA = (ARGOCD / "health-leaderworkerset.lua").read_text()


def load(name: str) -> Any:
    return yaml.safe_load((ARGOCD / name).read_text())


def test_helm_values_add_the_same_sidecar_as_the_patch_and_the_health_check() -> None:
    values = load("helm-values.yaml")
    patch = load("repo-server-patch.yaml")["spec"]["template"]["spec"]
    (sidecar,) = values["repoServer"]["extraContainers"]
    assert sidecar == patch["containers"][0]
    assert values["repoServer"]["volumes"] == patch["volumes"]
    mounted = {m["name"] for m in sidecar["volumeMounts"]}
    # var-files and plugins are the chart's own repo-server volumes; the rest must be given
    assert mounted - {"var-files", "plugins"} == {v["name"] for v in patch["volumes"]}
    assert values["configs"]["cm"][HEALTH_KEY] == LUA


def test_argocd_cm_patch_holds_the_health_check() -> None:
    assert load("argocd-cm-patch.yaml") == {"data": {HEALTH_KEY: LUA}}


def test_application_selects_the_plugin_and_a_folder_that_builds() -> None:
    app = load("application.yaml")
    plugin = load("plugin.yaml")
    assert (app["apiVersion"], app["kind"]) == ("argoproj.io/v1alpha1", "Application")
    source = app["spec"]["source"]
    assert source["plugin"]["name"] == f"{plugin['metadata']['name']}-{plugin['spec']['version']}"
    documented = {
        f"RBGC_{name}" for name in ("NAMESPACE", "STRICT", "KUBERNETES_VERSION", "FAIL_ON_WARNING")
    }
    assert {e["name"] for e in source["plugin"]["env"]} <= documented
    assert all(isinstance(e["value"], str) for e in source["plugin"]["env"])
    assert (ROOT / source["path"]).is_dir()
    assert app["spec"]["destination"]["namespace"] == "llm-prod"


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rules: the last matching pattern wins, `!` re-includes, and a
    pattern that matches a parent folder matches everything below it."""
    parts = path.split("/")
    ignored = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        rx = re.escape(pattern.rstrip("/")).replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        if any(re.fullmatch(rx, "/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_what_the_dockerfile_copies_and_drops_the_venv() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    copied = re.findall(r"^COPY (?:--\S+ )*(.+) \S+$", (ARGOCD / "Dockerfile").read_text(), re.M)
    sources = [s for line in copied for s in line.split()]
    assert "rbgc/" in sources
    for source in sources:
        files = [p for p in (ROOT / source).rglob("*") if p.is_file()] or [ROOT / source]
        for file in files:
            rel = file.relative_to(ROOT).as_posix()
            if "__pycache__" not in rel:
                assert not _ignored(rel, patterns), f"{rel} is COPYed but ignored"
    for rel in (".venv/bin/python", ".git/HEAD", "tests/test_cli.py", "rendered/prod/x.yaml"):
        assert _ignored(rel, patterns), rel


@pytest.mark.tools
def test_kubectl_kustomize_reads_a_waves_folder(tmp_path: Path) -> None:
    rbgc = subprocess.run(
        [rbgc_bin(), "build", str(ROOT / "examples/pd-disaggregated.yaml"),
         "--out", str(tmp_path / "out"), "--layout", "waves"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert rbgc.returncode == 0, rbgc.stderr
    done = subprocess.run(
        [need("kubectl"), "kustomize", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(done.stdout))
    assert kinds.count("StatefulSet") == 2 and "Deployment" in kinds, kinds


# How Argo CD's CMP server runs `discover.find.command` (argoproj/argo-cd at 37ee0097,
# cmpserver/plugin/plugin.go:80-155 runCommand and :337-382 matchRepository): the argv
# `command + args` without a shell of its own, in the application's source path, with the
# server's environment; an exit status other than 0 is an error (no match), and the folder is
# claimed when stdout, less one trailing newline, is not empty.
def argocd_discovers(app_path: Path) -> bool:
    find = load("plugin.yaml")["spec"]["discover"]["find"]
    assert "glob" not in find, "a glob would be tried before the command"
    argv = [*find["command"], *find.get("args", [])]
    done = subprocess.run(argv, cwd=app_path, capture_output=True, text=True, check=False)
    return done.returncode == 0 and done.stdout.removesuffix("\n") != ""


RBG_DOC = "apiVersion: workloads.x-k8s.io/{version}\n{kind_line}\nmetadata: {{name: g}}\n"
CLAIMED = {
    "plain": "kind: RoleBasedGroup",
    "single-quoted": "kind: 'RoleBasedGroup'",
    "double-quoted": 'kind: "RoleBasedGroup"',
    "comment": "kind: RoleBasedGroup  # the PD group",
    "trailing-space": "kind: RoleBasedGroup   ",
    "crlf": "kind: RoleBasedGroup\r",
    "tab": "kind:\tRoleBasedGroup",
    "set": "kind: RoleBasedGroupSet",
    "quoted-set-comment": "kind: 'RoleBasedGroupSet' # two groups",
}
NOT_CLAIMED = {
    "other-kind": "kind: RoleBasedGroupScalingAdapter",
    "longer-name": "kind: RoleBasedGroups",
    "indented": "  kind: RoleBasedGroup",
    "commented-out": "# kind: RoleBasedGroup",
    "not-a-comment": "kind: RoleBasedGroup#x",
    "no-space": "kind:RoleBasedGroup",
}


@pytest.mark.parametrize("version", ["v1alpha1", "v1alpha2"])
@pytest.mark.parametrize("name", sorted(CLAIMED))
def test_discovery_claims_a_folder_with_a_group_however_kind_is_written(
    tmp_path: Path, name: str, version: str
) -> None:
    text = RBG_DOC.format(version=version, kind_line=CLAIMED[name])
    write(tmp_path, {"apps/llm/group.yaml": "apiVersion: v1\nkind: ConfigMap\n---\n" + text})
    assert argocd_discovers(tmp_path / "apps/llm"), CLAIMED[name]
    assert argocd_discovers(tmp_path / "apps"), "a group in a subfolder is rbgc's too"


@pytest.mark.parametrize("name", sorted(NOT_CLAIMED))
def test_discovery_leaves_folders_without_a_group_alone(tmp_path: Path, name: str) -> None:
    text = RBG_DOC.format(version="v1alpha1", kind_line=NOT_CLAIMED[name])
    write(tmp_path, {"group.yaml": text, "values.yaml": "groupKind: RoleBasedGroup\n"})
    assert not argocd_discovers(tmp_path), NOT_CLAIMED[name]


def test_discovery_reads_what_rbgc_reads(tmp_path: Path) -> None:
    """*.yaml and *.yml, hidden files and folders skipped (as `rbgc build .` reads them); an
    rbgc Overlay is claimed too, and the repository's own examples and overlays are."""
    group = RBG_DOC.format(version="v1alpha1", kind_line="kind: RoleBasedGroup")
    write(tmp_path, {"yml/g.yml": group, "txt/g.txt": group, "hidden/.g.yaml": group})
    write(tmp_path, {"dot/.cache/g.yaml": group})
    assert argocd_discovers(tmp_path / "yml")
    for folder in ("txt", "hidden", "dot"):
        assert not argocd_discovers(tmp_path / folder), folder
    for folder in ("examples", "overlays/prod", "overlays/dev", "overlays/base"):
        assert argocd_discovers(ROOT / folder), folder
