"""rbgc as the GitOps tools run it: Argo CD's CMP server, kpt/kustomize, kubectl, Helm.

Real tools where this machine has them (kpt, kubectl); Argo CD is reproduced by running the
plugin's own commands the way its CMP server does (fresh copy of the app source as cwd, the
build environment, stdin from /dev/null as Go's exec gives); Helm by its post-renderer contract.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.gitops.helpers import ROOT, docs, rbgc_bin, run, write
from tests.tools import need

PD = ROOT / "examples" / "pd-disaggregated.yaml"
PLUGIN = yaml.safe_load((ROOT / "integrations/argocd/plugin.yaml").read_text())
NO_NAMESPACE = """\
    apiVersion: workloads.x-k8s.io/v1alpha1
    kind: RoleBasedGroup
    metadata:
      name: tiny
    spec:
      roles:
        - name: worker
          template:
            spec:
              containers: [{name: w, image: example.com/w:v1}]
    """


def argocd_source(tmp_path: Path) -> Path:
    """The repository as the CMP server unpacks it: a tarball copy, no .git."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "overlays", repo / "overlays")
    return repo


def cmp(
    command: dict[str, Any], cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return run([*command["command"], *command.get("args", [])], cwd, extra_env=env)


ARGO_ENV = {
    "ARGOCD_APP_NAME": "llm-prod",
    "ARGOCD_APP_NAMESPACE": "argo-default",
    "ARGOCD_APP_SOURCE_PATH": "overlays/prod",
    "ARGOCD_APP_SOURCE_REPO_URL": "https://git.example.com/llm.git",
    "ARGOCD_APP_REVISION": "0123456789abcdef0123456789abcdef01234567",
    "KUBE_VERSION": "1.33",
    "KUBE_API_VERSIONS": "v1,apps/v1",
}


def test_argocd_generate_builds_the_overlay(tmp_path: Path) -> None:
    repo = argocd_source(tmp_path)
    env = {**ARGO_ENV, "ARGOCD_ENV_RBGC_STRICT": "true"}
    done = cmp(PLUGIN["spec"]["generate"], repo / "overlays/prod", env)
    assert done.returncode == 0, done.stderr
    objects = docs(done.stdout)  # stdout is nothing but objects
    assert len(objects) == 9
    assert {o["metadata"]["namespace"] for o in objects} == {"llm-prod"}


def test_argocd_app_namespace_and_plugin_env(tmp_path: Path) -> None:
    write(tmp_path / "app", {"tiny.yaml": NO_NAMESPACE})
    done = cmp(PLUGIN["spec"]["generate"], tmp_path / "app", ARGO_ENV)
    assert done.returncode == 0, done.stderr
    assert {o["metadata"]["namespace"] for o in docs(done.stdout)} == {"argo-default"}
    env = {**ARGO_ENV, "ARGOCD_ENV_RBGC_NAMESPACE": "chosen"}
    done = cmp(PLUGIN["spec"]["generate"], tmp_path / "app", env)
    assert {o["metadata"]["namespace"] for o in docs(done.stdout)} == {"chosen"}


def test_argocd_generate_fails_loudly_and_prints_no_objects(tmp_path: Path) -> None:
    repo = argocd_source(tmp_path)
    overlay = repo / "overlays/prod/overlay.yaml"
    overlay.write_text(overlay.read_text().replace("base: ../base", "base: ../bsae"))
    done = cmp(PLUGIN["spec"]["generate"], repo / "overlays/prod", ARGO_ENV)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith(
        "./overlay.yaml:10:7: error[RBG702]: base '../bsae' does not exist\n"
    ), done.stderr


def test_argocd_generate_fails_on_warnings(tmp_path: Path) -> None:
    warned = NO_NAMESPACE.replace(
        "{name: w, image: example.com/w:v1}",
        "{name: w, image: example.com/w:v1, env: [{name: ROLE_NAME, value: x}]}",
    )
    write(tmp_path / "app", {"tiny.yaml": warned})
    done = cmp(PLUGIN["spec"]["generate"], tmp_path / "app", ARGO_ENV)
    assert (done.returncode, done.stdout) == (1, "")
    assert "warning[RBG501]" in done.stderr


def test_argocd_fail_on_warning_false_and_ignore_let_a_warning_through(tmp_path: Path) -> None:
    """The plugin's default is to fail on a warning; the Application's env decides (issue 18
    item 1: the flag used to be hard-coded, so the documented variable changed nothing)."""
    warned = NO_NAMESPACE.replace(
        "{name: w, image: example.com/w:v1}",
        "{name: w, image: example.com/w:v1, env: [{name: ROLE_NAME, value: x}]}",
    )
    write(tmp_path / "app", {"tiny.yaml": warned})
    for extra in (
        {"ARGOCD_ENV_RBGC_FAIL_ON_WARNING": "false"},
        {"ARGOCD_ENV_RBGC_IGNORE": "RBG501"},
    ):
        done = cmp(PLUGIN["spec"]["generate"], tmp_path / "app", {**ARGO_ENV, **extra})
        assert done.returncode == 0, (extra, done.stderr)
        assert [o["kind"] for o in docs(done.stdout)].count("StatefulSet") == 1
    ignored = cmp(
        PLUGIN["spec"]["generate"],
        tmp_path / "app",
        {**ARGO_ENV, "ARGOCD_ENV_RBGC_IGNORE": "RBG501"},
    )
    assert "RBG501" not in ignored.stderr
    flagged = cmp(
        PLUGIN["spec"]["generate"],
        tmp_path / "app",
        {**ARGO_ENV, "ARGOCD_ENV_RBGC_LWS": "sideways"},
    )
    assert flagged.returncode == 2 and "sideways" in flagged.stderr


def test_argocd_strict_uses_kube_version(tmp_path: Path) -> None:
    write(tmp_path / "app", {"tiny.yaml": NO_NAMESPACE})
    env = {**ARGO_ENV, "ARGOCD_ENV_RBGC_STRICT": "true", "KUBE_VERSION": "0.1"}
    done = cmp(PLUGIN["spec"]["generate"], tmp_path / "app", env)
    assert (done.returncode, done.stdout) == (1, "")
    assert "error[RBG602]" in done.stderr, done.stderr


def test_argocd_discover(tmp_path: Path) -> None:
    repo = argocd_source(tmp_path)
    for app in ("overlays/prod", "overlays/base"):
        found = cmp(PLUGIN["spec"]["discover"]["find"], repo / app, ARGO_ENV)
        assert found.returncode == 0 and found.stdout.strip(), found.stderr
    write(tmp_path / "plain", {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"})
    found = cmp(PLUGIN["spec"]["discover"]["find"], tmp_path / "plain", ARGO_ENV)
    assert found.stdout.strip() == ""


def test_sidecar_image_runs_as_999_with_pinned_dependencies() -> None:
    dockerfile = (ROOT / "integrations/argocd/Dockerfile").read_text()
    assert re.search(r"^USER 999$", dockerfile, re.M)
    assert "/home/argocd/cmp-server/config/plugin.yaml" in dockerfile
    pins = {}
    for line in (ROOT / "integrations/argocd/requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not pinned: {line}"
            pins[re.sub(r"[-_.]+", "-", name.lower())] = version
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        name = re.split(r"[<>=!~ \[]", requirement, maxsplit=1)[0]
        assert re.sub(r"[-_.]+", "-", name.lower()) in pins, f"{name} is not pinned"
    from importlib.metadata import version as installed

    for name, pinned in pins.items():
        have = installed(name)
        assert have == pinned, f"{name}: tested with {have}, the image pins {pinned}"


# -- KRM function ------------------------------------------------------------------------------


@pytest.mark.tools
def test_kpt_fn_eval_in_place(tmp_path: Path) -> None:
    shutil.copy(PD, tmp_path / "pd.yaml")
    write(tmp_path, {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep}\n"})
    done = run([need("kpt"), "fn", "eval", str(tmp_path), "--exec", "rbgc krm"], tmp_path)
    assert done.returncode == 0, done.stderr
    written = docs((tmp_path / "pd.yaml").read_text())
    expected = docs(run([rbgc_bin(), "build", str(PD)], tmp_path).stdout)
    assert sorted(map(str, written)) == sorted(map(str, expected))
    assert docs((tmp_path / "cm.yaml").read_text()) == [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keep"}}
    ]


@pytest.mark.tools
def test_kpt_reports_results_with_position(tmp_path: Path) -> None:
    broken = PD.read_text().replace("dependencies: [prefill, decode]", "dependencies: [prefil]")
    (tmp_path / "pd.yaml").write_text(broken)
    results = tmp_path / "results"
    done = run(
        [
            need("kpt"),
            "fn",
            "eval",
            str(tmp_path),
            "--exec",
            "rbgc krm",
            "--results-dir",
            str(results),
        ],
        tmp_path,
    )
    assert done.returncode == 1
    assert (tmp_path / "pd.yaml").read_text() == broken  # nothing written on error
    report = yaml.safe_load((results / "results.yaml").read_text())
    (result,) = report["items"][0]["results"]
    assert result["severity"] == "error"
    assert result["message"].startswith("[RBG201] role 'router' depends on unknown role 'prefil'")
    assert result["field"] == {"path": "spec.roles[0].dependencies[0]"}
    assert result["file"] == {"path": "pd.yaml"}
    assert result["resourceRef"]["name"] == "sglang-pd"


# What kustomize 5 sends an exec/container function (kyaml's ResourceList writer): the
# legacy and internal path/index annotations and the migration id, config.kubernetes.io/v1.
KUSTOMIZE_LIST = """\
apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: settings
    annotations:
      config.kubernetes.io/index: '0'
      internal.config.kubernetes.io/index: '0'
      internal.config.kubernetes.io/annotations-migration-resource-id: '0'
- apiVersion: workloads.x-k8s.io/v1alpha1
  kind: RoleBasedGroup
  metadata:
    name: tiny
    annotations:
      config.kubernetes.io/index: '1'
      internal.config.kubernetes.io/index: '1'
      internal.config.kubernetes.io/annotations-migration-resource-id: '1'
  spec:
    roles:
    - name: worker
      template:
        spec:
          containers: [{name: w, image: example.com/w:v1}]
functionConfig:
  apiVersion: v1
  kind: ConfigMap
  metadata: {name: rbgc}
  data: {namespace: from-config}
"""


def test_kustomize_resource_list(tmp_path: Path) -> None:
    done = run([rbgc_bin(), "krm"], tmp_path, stdin=KUSTOMIZE_LIST)
    assert done.returncode == 0, done.stderr
    out = yaml.safe_load(done.stdout)
    assert out["apiVersion"] == "config.kubernetes.io/v1" and "results" not in out
    first, *compiled = out["items"]
    assert first == yaml.safe_load(KUSTOMIZE_LIST)["items"][0]  # untouched, annotations kept
    assert [(o["kind"], o["metadata"]["namespace"]) for o in compiled] == [
        ("ConfigMap", "from-config"),
        ("Service", "from-config"),
        ("StatefulSet", "from-config"),
    ]
    assert not any(
        k.startswith("internal.") for o in compiled for k in o["metadata"].get("annotations", {})
    )
    assert out["functionConfig"]["data"] == {"namespace": "from-config"}


def test_v1beta1_resource_list_with_warning(tmp_path: Path) -> None:
    listing = KUSTOMIZE_LIST.replace("config.kubernetes.io/v1\n", "config.kubernetes.io/v1beta1\n")
    listing = listing.replace(
        "{name: w, image: example.com/w:v1}",
        "{name: w, image: example.com/w:v1, env: [{name: ROLE_NAME, value: x}]}",
    )
    done = run([rbgc_bin(), "krm"], tmp_path, stdin=listing)
    assert done.returncode == 0, done.stderr
    out = yaml.safe_load(done.stdout)
    assert out["apiVersion"] == "config.kubernetes.io/v1beta1"
    (result,) = out["results"]
    assert result["severity"] == "warning"
    assert result["message"].startswith("[RBG501] ")
    assert result["resourceRef"]["kind"] == "RoleBasedGroup"


def test_krm_refuses_plain_manifests(tmp_path: Path) -> None:
    done = run([rbgc_bin(), "krm"], tmp_path, stdin=PD.read_text())
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith("-:5:1: error[RBG707]: stdin is not a KRM ResourceList\n  help: ")


# -- kubectl plugin ----------------------------------------------------------------------------


@pytest.mark.tools
def test_kubectl_finds_the_plugin(tmp_path: Path) -> None:
    kubectl = need("kubectl")
    listed = run([kubectl, "plugin", "list"], tmp_path)
    assert rbgc_bin("kubectl-rbgc") in listed.stdout, listed.stdout + listed.stderr
    via_kubectl = run([kubectl, "rbgc", "build", str(PD)], tmp_path)
    direct = run([rbgc_bin(), "build", str(PD)], tmp_path)
    assert via_kubectl.returncode == 0, via_kubectl.stderr
    assert via_kubectl.stdout == direct.stdout != ""
    helped = run([kubectl, "rbgc", "--help"], tmp_path)
    assert helped.stdout.startswith("Usage: kubectl rbgc [OPTIONS] COMMAND")


# -- Helm --------------------------------------------------------------------------------------

HELM_RENDERED = """\
---
# Source: llm/templates/rbg.yaml
""" + NO_NAMESPACE.replace("    ", "", 1).replace("\n    ", "\n")


def test_helm_post_renderer(tmp_path: Path) -> None:
    done = run(
        [rbgc_bin(), "post-render"],
        tmp_path,
        stdin=HELM_RENDERED,
        extra_env={"HELM_NAMESPACE": "release-ns"},
    )
    assert done.returncode == 0, done.stderr
    assert {o["metadata"]["namespace"] for o in docs(done.stdout)} == {"release-ns"}
    broken = HELM_RENDERED.replace("name: worker", "name: Worker_1")
    done = run([rbgc_bin(), "post-render"], tmp_path, stdin=broken)
    assert (done.returncode, done.stdout) == (1, "")
    assert re.match(r"-:\d+:\d+: error\[RBG1\d\d\]", done.stderr), done.stderr


def test_helm4_plugin_runs_the_post_renderer() -> None:
    plugin = yaml.safe_load((ROOT / "integrations/helm/plugin.yaml").read_text())
    assert (plugin["apiVersion"], plugin["type"], plugin["runtime"]) == (
        "v1",
        "postrenderer/v1",
        "subprocess",
    )
    (command,) = plugin["runtimeConfig"]["platformCommand"]
    done = run([command["command"], *command["args"]], ROOT, stdin=HELM_RENDERED)
    assert done.returncode == 0 and docs(done.stdout), done.stderr


def test_krm_stderr_points_at_the_users_file_not_at_the_stream(tmp_path: Path) -> None:
    """kpt and kustomize print a function's stderr; `-:10:22` named a line of the ResourceList
    they piped in, which the user never sees. Say the file and the resource instead."""
    listing = KUSTOMIZE_LIST.replace(
        "config.kubernetes.io/index: '1'\n",
        "config.kubernetes.io/index: '1'\n      config.kubernetes.io/path: apps/tiny.yaml\n",
        1,
    ).replace("    - name: worker\n", "    - name: worker\n      dependencies: [nobody]\n")
    done = run([rbgc_bin(), "krm"], tmp_path, stdin=listing)
    assert done.returncode == 1
    assert done.stderr.startswith(
        "apps/tiny.yaml: error[RBG201]: RoleBasedGroup tiny spec.roles[0].dependencies[0]: "
        "role 'worker' depends on unknown role 'nobody'\n"
    ), done.stderr
    (result,) = yaml.safe_load(done.stdout)["results"]  # the results keep their own fields
    assert result["message"].startswith("[RBG201] role 'worker' depends on unknown role")
