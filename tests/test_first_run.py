"""What a new user sees first (issue 8, item 17): `make demo` on the terminal, and the package
build's warnings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.tools import need

BIN = str(Path(sys.executable).parent)


@pytest.mark.tools
def test_make_demo_shows_a_screenful_not_a_yaml_stream(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    done = subprocess.run(
        # -o: the venv is the one running this test; never reinstall it from here
        [need("make"), "-s", "-o", ".venv/.installed", "demo", f"BIN={BIN}", f"DEMO_OUT={out}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) < 60, done.stdout  # it printed 1,679 lines of YAML
    assert not any(line.startswith(("apiVersion:", "kind:")) for line in lines)
    text = done.stdout
    assert "  llm/sglang-pd: wave 1: router\n" in text
    assert f"  wrote 9 object(s) to {out}/pd-disaggregated\n" in text
    assert "  objects: 3 ConfigMap, 1 Deployment, 3 Service, 2 StatefulSet\n" in text
    # examples/in-cluster/ (the --watch Deployment, its RBAC, PodMonitor and groups) is
    # validated too.
    assert "rbgc: 10 file(s), 55 object(s) valid for Kubernetes 1.33 (2 warning(s))\n" in text
    assert "rbgc plan: 2 step(s), 3 pod(s) restart" in text and "step 1 " in text
    assert (out / "pd-disaggregated" / "wave-0").is_dir()
    # the gang group's PodGroup and roles, in the waves their objects carry (item 5)
    assert "  llm/llama-70b: wave 0: PodGroup llama-70b (gang: before every role)\n" in text
    assert "  llm/llama-70b: wave 1: decode, prefill\n" in text
    # the warnings are the pd-topology examples', and deliberate: pod affinity packs pod by
    # pod (RBG315). Each is said once, under its example (was: three times, issue 18 item 10).
    assert done.stderr == "", done.stderr
    warned = [line.strip() for line in lines if "warning[" in line]
    assert warned == [
        "examples/pd-topology-v1alpha2.yaml:89:13: warning[RBG315]: pack [prefill, decode] "
        "becomes pod affinity, which the default scheduler checks pod by pod, not for all pods "
        "at once",
        "examples/pd-topology.yaml:93:7: warning[RBG315]: pack [prefill, decode] becomes pod "
        "affinity, which the default scheduler checks pod by pod, not for all pods at once",
    ]


@pytest.mark.slow
@pytest.mark.tools  # pip fetches the build backend (setuptools) from PyPI
def test_the_package_builds_without_deprecation_warnings(tmp_path: Path) -> None:
    """setuptools warned four times that `license = {text = ...}` is deprecated."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "deprecated" not in (done.stdout + done.stderr).lower()
    assert list(tmp_path.glob("rbgc-*.whl"))


@pytest.mark.slow
@pytest.mark.tools  # pip fetches the build backend (setuptools) from PyPI
def test_the_editable_install_prints_no_banner(tmp_path: Path) -> None:
    """`make venv` (pip install --quiet -e, after upgrading pip) printed setuptools' boxed
    "Editable installation" notice about folders shadowing the package: the meta-path-finder
    strategy it picks for a flat layout without `package-dir`."""
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "v")], check=True)
    pip = str(tmp_path / "v" / "bin" / "pip")
    subprocess.run([pip, "install", "--quiet", "--upgrade", "pip"], check=True, timeout=600)
    done = subprocess.run(
        [pip, "install", "--quiet", "--no-deps",
         "--disable-pip-version-check", "-e", str(ROOT)],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stderr.splitlines() if "Location" not in line]
    assert said == [], done.stderr
