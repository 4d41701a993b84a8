"""--out layouts (flat, waves, Flux chain) and --check, with the real `kubectl kustomize`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from rbgc.cli import main
from tests.gitops.helpers import ROOT, copy_overlays, docs
from tests.tools import need

PD = str(ROOT / "examples" / "pd-disaggregated.yaml")


def cli(*args: str) -> tuple[int, str, str]:
    out = CliRunner().invoke(main, list(args))
    return out.exit_code, out.stdout, out.stderr


def kustomize(folder: Path) -> list[dict[str, object]]:
    done = subprocess.run(
        [need("kubectl"), "kustomize", str(folder)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return docs(done.stdout)


def key(doc: dict[str, object]) -> tuple[str, str]:
    meta = doc["metadata"]
    assert isinstance(meta, dict)
    return str(doc["kind"]), str(meta["name"])


@pytest.mark.tools
def test_waves_layout_is_what_kustomize_and_flux_read(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    code, stdout, err = cli("build", PD, "--out", str(out), "--layout", "waves")
    assert (code, stdout) == (0, ""), err
    assert sorted(p.name for p in out.iterdir()) == [
        ".rbgc-output",
        "kustomization.yaml",
        "wave-0",
        "wave-1",
    ]
    _, streamed, _ = cli("build", PD)
    by_wave: dict[str, list[tuple[str, str]]] = {}
    for doc in docs(streamed):
        wave = doc["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", "0")
        by_wave.setdefault(f"wave-{wave}", []).append(key(doc))
    for folder, expected in by_wave.items():
        assert sorted(key(d) for d in kustomize(out / folder)) == sorted(expected)
    assert ("Deployment", "sglang-pd-router") in by_wave["wave-1"]
    # the root reads every wave (it was missing: `kubectl kustomize rendered` failed)
    everything = sorted(key(d) for d in docs(streamed))
    assert sorted(key(d) for d in kustomize(out)) == everything


@pytest.mark.tools
def test_flux_chain(tmp_path: Path) -> None:
    repo = copy_overlays(tmp_path)
    code, _, err = cli(
        "build",
        str(repo / "overlays/prod"),
        "--out",
        str(repo / "deploy/prod"),
        "--flux",
        "--root",
        str(repo),
    )
    assert code == 0, err
    chain = kustomize(repo / "deploy/prod/flux")
    assert [key(d) for d in chain] == [
        ("Kustomization", "prod-wave-0"),
        ("Kustomization", "prod-wave-1"),
    ]
    first, second = (d["spec"] for d in chain)
    assert isinstance(first, dict) and isinstance(second, dict)
    assert first["path"] == "./deploy/prod/wave-0" and "dependsOn" not in first
    assert second["dependsOn"] == [{"name": "prod-wave-0"}]
    assert second["wait"] is True and second["prune"] is True
    assert second["sourceRef"] == {"kind": "GitRepository", "name": "flux-system"}
    for spec in (first, second):
        assert (repo / str(spec["path"]) / "kustomization.yaml").is_file()


def test_rewrite_removes_waves_that_are_gone(tmp_path: Path) -> None:
    repo = copy_overlays(tmp_path)
    out, root = str(repo / "out"), str(repo)
    for overlay, waves in (("prod", ["wave-0", "wave-1"]), ("dev", ["wave-0"])):
        code, _, err = cli(
            "build",
            str(repo / "overlays" / overlay),
            "--out",
            out,
            "--layout",
            "waves",
            "--root",
            root,
        )
        assert code == 0, err
        assert sorted(p.name for p in (repo / "out").iterdir() if p.is_dir()) == waves
    assert not (repo / "out/wave-1").exists()  # dev has no router, so no second wave


def test_check_passes_when_fresh_and_fails_when_stale(tmp_path: Path) -> None:
    out = str(tmp_path / "r")
    assert cli("build", PD, "--out", out, "--layout", "waves")[0] == 0
    code, stdout, err = cli("build", PD, "--out", out, "--layout", "waves", "--check")
    assert (code, stdout) == (0, ""), err
    stale = Path(out) / "wave-1" / "llm_deployment_sglang-pd-router.yaml"
    stale.write_text(stale.read_text().replace("replicas: 2", "replicas: 5"))
    (Path(out) / "wave-0" / "extra.yaml").write_text("{}\n")  # a person's file, not rbgc's
    code, stdout, err = cli("build", PD, "--out", out, "--layout", "waves", "--check")
    assert (code, stdout) == (1, "")
    assert "  ~ wave-1/llm_deployment_sglang-pd-router.yaml\n" in err
    assert "extra.yaml" not in err
    assert "replicas: 5" in stale.read_text()  # --check never writes
    single = str(ROOT / "examples" / "single-node.yaml")
    code, stdout, err = cli("build", single, "--out", out, "--layout", "waves", "--check")
    assert code == 1
    assert "  - wave-1/llm_deployment_sglang-pd-router.yaml\n" in err  # rbgc wrote it, gone now


def test_layout_flags_need_out() -> None:
    code, _, err = cli("build", PD, "--flux")
    assert code == 2 and "--layout, --flux and --check need --out DIR" in err
    code, _, err = cli("build", PD, "--out", "x", "--flux", "--layout", "flat")
    assert code == 2 and "drop --layout flat" in err


def test_refuses_a_folder_rbgc_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("keep: me\n")
    code, _, err = cli("build", PD, "--out", str(tmp_path), "--layout", "waves")
    assert code == 2 and "was not written by rbgc" in err
    assert (tmp_path / "mine.yaml").read_text() == "keep: me\n"
