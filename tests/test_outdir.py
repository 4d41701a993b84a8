"""`--out DIR` (issue 8, items 4, 26, 28): rbgc replaces exactly what it wrote, runs into the
same folder take turns, and neither `--out` nor `-o json` holds the whole output as text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from rbgc import emit
from rbgc.cli import main
from rbgc.outdir import MARKER, write_tree
from tests.conftest import EXAMPLES, ROOT, compile_yaml

PD = str(EXAMPLES / "pd-disaggregated.yaml")
SINGLE = str(EXAMPLES / "single-node.yaml")


def build(*args: str) -> tuple[int, str]:
    out = CliRunner().invoke(main, ["build", *args], env={"KUBE_VERSION": None})
    return out.exit_code, out.stderr


def listed(folder: Path) -> list[str]:
    text = (folder / MARKER).read_text()
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# -- 4: only what rbgc wrote is replaced --------------------------------------------------------


@pytest.mark.parametrize("layout", ["flat", "waves"])
def test_files_a_person_added_survive_a_rebuild(tmp_path: Path, layout: str) -> None:
    out = tmp_path / "rendered"
    assert build(PD, "--out", str(out), "--layout", layout)[0] == 0
    first = set(listed(out))
    assert first == {n for n in tree(out) if n != MARKER}, "the marker lists every file written"
    # --layout waves writes the root kustomization.yaml itself: a person's goes one level down
    mine = "kustomization.yaml" if layout == "flat" else "mine/kustomization.yaml"
    (out / mine).parent.mkdir(exist_ok=True)
    (out / mine).write_text("resources: []\n")
    (out / "notes").mkdir()
    (out / "notes" / "keep.yaml").write_text("precious: true\n")
    (out / "README.txt").write_text("hello\n")

    code, err = build(SINGLE, "--out", str(out), "--layout", layout)
    assert code == 0, err
    assert (out / mine).read_text() == "resources: []\n"
    assert (out / "notes" / "keep.yaml").read_text() == "precious: true\n"
    assert (out / "README.txt").read_text() == "hello\n"
    now = set(listed(out))
    assert now and now.isdisjoint(first - now)
    for gone in first - now:
        assert not (out / gone).exists()
    assert set(tree(out)) == now | {MARKER, mine, "notes/keep.yaml", "README.txt"}
    if layout == "waves":
        assert not (out / "wave-1").exists(), "a wave folder rbgc emptied is removed"


def test_a_file_of_a_person_is_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    assert build(SINGLE, "--out", str(out))[0] == 0
    mine = out / "llm_statefulset_sglang-pd-prefill.yaml"  # a name the PD build will want
    mine.write_text("mine: true\n")
    before = tree(out)
    code, err = build(PD, "--out", str(out))
    assert code == 2
    assert f"{mine} exists and was not written by rbgc; refusing to replace it" in err
    assert tree(out) == before


def test_the_marker_cannot_make_rbgc_delete_outside_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    assert build(SINGLE, "--out", str(out))[0] == 0
    victim = tmp_path / "victim.yaml"
    victim.write_text("x: 1\n")
    (out / ".git-like").mkdir()
    (out / ".git-like" / "config.yaml").write_text("y: 1\n")
    marker = out / MARKER
    marker.write_text(marker.read_text() + f"../victim.yaml\n{victim}\n.git-like/config.yaml\n")
    assert build(PD, "--out", str(out))[0] == 0
    assert victim.read_text() == "x: 1\n"
    assert (out / ".git-like" / "config.yaml").exists()


def test_a_folder_of_an_older_rbgc_is_taken_over(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    out.mkdir()
    (out / MARKER).write_text(
        "Written by `rbgc build --out`; rbgc replaces the *.yaml files here.\n"
    )
    (out / "old_object.yaml").write_text("{}\n")
    assert build(SINGLE, "--out", str(out))[0] == 0
    assert not (out / "old_object.yaml").exists()  # what that rbgc promised it would replace
    assert set(listed(out)) == {n for n in tree(out) if n != MARKER}


def test_leftovers_of_an_interrupted_first_run_do_not_block_the_next(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    (out / ".rbgc-staging-abc").mkdir(parents=True)
    (out / ".rbgc-staging-abc" / "x.yaml").write_text("{}\n")
    code, err = build(SINGLE, "--out", str(out))
    assert code == 0, err
    assert not (out / ".rbgc-staging-abc").exists()


# -- 26: concurrent runs into one folder --------------------------------------------------------


def _spawn(args: list[str]) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBE_VERSION", "RBGC_DEBUG")}
    return subprocess.Popen(
        [sys.executable, "-m", "rbgc", "build", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _group(name: str, roles: int) -> str:
    head = "apiVersion: workloads.x-k8s.io/v1alpha1\nkind: RoleBasedGroup\n"
    head += f"metadata: {{name: {name}}}\n"
    body = "".join(
        f"    - {{name: r{i}, template: {{spec: {{containers: [{{name: c, image: i}}]}}}}}}\n"
        for i in range(roles)
    )
    return head + "spec:\n  roles:\n" + body


def test_concurrent_builds_into_one_fresh_folder_take_turns(tmp_path: Path) -> None:
    """Real processes started together: before the lock, the one that lost the race said the
    fresh folder 'was not written by rbgc', or the folder held both builds' files mixed."""
    inputs = {"big": _group("big", 150), "small": _group("small", 120)}
    results = {}
    for name, text in inputs.items():
        (tmp_path / f"{name}.yaml").write_text(text)
        assert build(str(tmp_path / f"{name}.yaml"), "--out", str(tmp_path / name))[0] == 0
        results[name] = tree(tmp_path / name)
    for trial in range(3):
        out = tmp_path / f"shared-{trial}"
        runs = [
            _spawn([str(tmp_path / f"{name}.yaml"), "--out", str(out)])
            for name in ("big", "big", "small")
        ]
        for run in runs:
            _, err = run.communicate(timeout=120)
            assert run.returncode == 0, err
            assert "not written by rbgc" not in err
        got = tree(out)
        assert got in results.values(), f"trial {trial}: a mix of two builds"


def test_a_build_waits_for_the_lock_on_its_folder(tmp_path: Path) -> None:
    import fcntl

    out = tmp_path / "rendered"
    out.mkdir()
    fd = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        run = _spawn([SINGLE, "--out", str(out)])
        with pytest.raises(subprocess.TimeoutExpired):
            run.wait(timeout=3)  # compiled long ago; waiting for the lock
        assert not any(out.iterdir())
    finally:
        os.close(fd)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    assert (out / MARKER).exists()


# -- 28: streamed output ------------------------------------------------------------------------


def _bundles() -> Iterator[object]:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        yield compile_yaml(path.read_text()).bundle
    from rbgc.bundle import Bundle

    yield Bundle(manifests=())


@pytest.mark.parametrize("bundle", list(_bundles()))
def test_streamed_json_has_the_bytes_of_one_dump(bundle: object) -> None:
    from rbgc.bundle import Bundle

    assert isinstance(bundle, Bundle)
    whole = {"apiVersion": "v1", "kind": "List", "items": [m.body for m in bundle.manifests]}
    expected = json.dumps(whole, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    chunks = list(emit.json_documents(bundle))
    assert "".join(chunks) == expected
    assert len(chunks) == (len(bundle.manifests) + 2 if bundle.manifests else 1)


def test_json_output_on_stdout_is_unchanged() -> None:
    out = CliRunner().invoke(main, ["build", PD, "-o", "json"])
    result = compile_yaml(Path(PD).read_text())
    whole = {"apiVersion": "v1", "kind": "List", "items": [m.body for m in result.bundle.manifests]}
    assert out.stdout == json.dumps(whole, indent=2, ensure_ascii=False) + "\n"


def test_nan_is_refused_before_any_json_is_written(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n"
        "apiVersion: x.io/v1\nkind: W\nmetadata: {name: b}\nspec: {v: .nan}\n"
    )
    out = CliRunner().invoke(main, ["build", str(path), "-o", "json"])
    assert (out.exit_code, out.stdout) == (1, "")
    assert "NaN or infinite" in out.stderr


def test_out_renders_and_writes_one_file_at_a_time(tmp_path: Path) -> None:
    """write_tree pulls the next file only once the previous one is on disk."""
    out = tmp_path / "rendered"
    pulled: list[str] = []

    def files() -> Iterator[tuple[str, str]]:
        for i in range(5):
            if pulled:
                staged = list(out.glob(f".rbgc-staging-*/{pulled[-1]}"))
                assert staged, "the previous file was not written before the next was made"
            name = f"f{i}.yaml"
            pulled.append(name)
            yield name, f"i: {i}\n"

    written = write_tree(files(), out)
    assert [p.name for p in written] == [f"f{i}.yaml" for i in range(5)]


def test_check_of_a_folder_rbgc_did_not_write(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "a.yaml").write_text("x: 1\n")
    code, err = build(SINGLE, "--out", str(out), "--check")
    assert code == 2
    assert "not empty and was not written by rbgc" in err
    assert "RBG901" not in err


# -- issue 18, item 7: a folder of rbgc's own earlier outputs ---------------------------------


def test_a_folder_whose_subfolders_are_rbgc_outputs_is_rbgcs_to_write(tmp_path: Path) -> None:
    """The README's order: `make demo` writes rendered/demo/<example>/ (each with its marker),
    then `rbgc build examples/ --out rendered/` wrote nothing ("not written by rbgc", exit 2)."""
    rendered = tmp_path / "rendered"
    for name in ("pd", "single"):
        assert build(PD, "--out", str(rendered / "demo" / name), "--layout", "waves")[0] == 0
    demo = tree(rendered / "demo")
    code, err = build(PD, "--out", str(rendered))
    assert code == 0, err
    assert tree(rendered / "demo") == demo, "the earlier outputs are left as they were"
    assert set(listed(rendered)) == {n for n in tree(rendered) if "/" not in n and n != MARKER}
    code, err = build(SINGLE, "--out", str(rendered))  # and again: it has its marker now
    assert code == 0, err
    assert tree(rendered / "demo") == demo


@pytest.mark.parametrize(
    "mine",
    ["notes.yaml", "demo/notes.yaml", "empty-but-mine/x.txt", "demo/single/../../README"],
)
def test_a_file_of_a_person_beside_rbgc_outputs_still_makes_the_folder_theirs(
    tmp_path: Path, mine: str
) -> None:
    rendered = tmp_path / "rendered"
    assert build(SINGLE, "--out", str(rendered / "demo" / "single"))[0] == 0
    (rendered / mine).parent.mkdir(parents=True, exist_ok=True)
    (rendered / mine).write_text("mine\n")
    before = tree(rendered)
    code, err = build(PD, "--out", str(rendered))
    assert code == 2
    assert "is not empty and was not written by rbgc" in err
    assert tree(rendered) == before
