"""The Argo CD files a platform team installs (Helm values, Application, argocd-cm patch), the
docker build context, and `--layout waves` read by kubectl (issue 8, item 18)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.gitops.helpers import ROOT, rbgc_bin

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


def test_kubectl_kustomize_reads_a_waves_folder(tmp_path: Path) -> None:
    rbgc = subprocess.run(
        [rbgc_bin(), "build", str(ROOT / "examples/pd-disaggregated.yaml"),
         "--out", str(tmp_path / "out"), "--layout", "waves"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert rbgc.returncode == 0, rbgc.stderr
    done = subprocess.run(
        ["kubectl", "kustomize", str(tmp_path / "out")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(done.stdout))
    assert kinds.count("StatefulSet") == 2 and "Deployment" in kinds, kinds
