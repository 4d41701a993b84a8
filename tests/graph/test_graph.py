"""`rbgc graph`: goldens for every example, both languages checked by their real parsers,
escaping of user text, determinism, exit codes, and a build that never imports it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rbgc.cli import main
from rbgc.graph.scene import scene_of
from rbgc.pipeline import Options, compile_paths
from tests.conftest import EXAMPLES, ROOT
from tests.graph import tools

GOLDEN = ROOT / "tests" / "golden" / "graph"
SUFFIX = {"mermaid": "mmd", "dot": "dot"}
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"NO_COLOR": "1", "KUBE_VERSION": ""})


def render_graph(example: Path, output: str) -> str:
    result = run("graph", "-o", output, str(example))
    assert result.exit_code == 0, result.stderr
    return result.stdout


def golden_path(example: Path, output: str) -> Path:
    return GOLDEN / f"{example.stem}.{SUFFIX[output]}"


@pytest.mark.parametrize("output", sorted(SUFFIX))
@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_golden_graph(example: Path, output: str) -> None:
    expected = golden_path(example, output)
    assert expected.exists(), f"no golden {expected}: run `make golden` and review it"
    assert render_graph(example, output) == expected.read_text(encoding="utf-8")


def _svg_nodes(svg: str, kind: str = "node") -> dict[str, list[str]]:
    """Node (or cluster) id -> the text lines Graphviz drew for it."""
    ns = {"s": "http://www.w3.org/2000/svg"}
    nodes = {}
    for g in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}g"):
        if g.get("class") == kind:
            title = g.find("s:title", ns)
            assert title is not None and title.text is not None
            nodes[title.text] = [t.text or "" for t in g.findall("s:text", ns)]
    return nodes


def _scene_labels(paths: list[str]) -> dict[str, list[str]]:
    scene = scene_of(compile_paths(paths, Options()).bundle)
    labels = {n.id: list(n.lines) for c in scene.clusters for w in c.waves for n in w.roles}
    labels.update({b.node.id: list(b.node.lines) for c in scene.clusters for b in c.bindings})
    return labels


@pytest.mark.tools
@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_graphviz_lays_out_every_golden(example: Path) -> None:
    svg = tools.dot(golden_path(example, "dot").read_text(encoding="utf-8"))
    assert _svg_nodes(svg) == _scene_labels([str(example)])


@pytest.mark.tools
def test_mermaid_parses_every_golden() -> None:
    texts = [golden_path(e, "mermaid").read_text(encoding="utf-8") for e in EXAMPLE_FILES]
    for example, verdict in zip(EXAMPLE_FILES, tools.mermaid(texts), strict=True):
        assert verdict["ok"], f"{example.name}: {verdict.get('error')}"
        assert verdict["type"] == "flowchart-v2"
        assert verdict["labels"] == _scene_labels([str(example)])


# A coordination rule's name is free text: everything either language could trip on.
HOSTILE = 'mix "a" <b> #c; & `d` \\n \\\\ %% end; --> x'

COORDINATED = f"""\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata: {{name: pd, namespace: llm}}
spec:
  coordination:
    - name: '{HOSTILE}'
      roles: [prefill, decode]
      strategy:
        rollingUpdate: {{maxSkew: "25%"}}
  roles:
    - name: prefill
      replicas: 4
      template: {{spec: {{containers: [{{name: s, image: "engine:1"}}]}}}}
    - name: decode
      replicas: 2
      template: {{spec: {{containers: [{{name: s, image: "engine:1"}}]}}}}
"""


@pytest.mark.tools
def test_user_text_survives_both_languages_verbatim(tmp_path: Path) -> None:
    spec = tmp_path / "pd.yaml"
    spec.write_text(COORDINATED, encoding="utf-8")
    expected = _scene_labels([str(spec)])
    assert expected["g0_c0"] == [f"coordination {HOSTILE}", "maxSkew 25%"]
    svg = tools.dot(render_graph(spec, "dot"))
    assert _svg_nodes(svg) == expected
    (verdict,) = tools.mermaid([render_graph(spec, "mermaid")])
    assert verdict["ok"], verdict.get("error")
    assert verdict["labels"] == expected


@pytest.mark.tools
def test_a_folder_is_one_picture_with_a_cluster_per_group() -> None:
    text = run("graph", str(EXAMPLES)).stdout
    titles = re.findall(r'^  subgraph g\d+\["([^"]+)"\]$', text, re.M)
    assert titles == [
        "llm/llama-70b",
        "llm/mooncake-pd",
        "llm/qwen-single",
        "llm/sglang-pd",
        "llm/sglang-pd-kep473",
        "llm/sglang-pd-nvlink",
    ]
    (verdict,) = tools.mermaid([text])
    assert verdict["ok"], verdict.get("error")
    assert sorted(t[0] for t in verdict["titles"] if t[0].startswith("llm/")) == titles
    svg = tools.dot(run("graph", "-o", "dot", str(EXAMPLES)).stdout)
    clusters = _svg_nodes(svg, "cluster")
    assert [clusters[f"cluster_g{i}"] for i in range(len(titles))] == [[t] for t in titles]


@pytest.mark.parametrize("output", sorted(SUFFIX))
def test_the_same_picture_whatever_the_file_order_or_hash_seed(output: str) -> None:
    files = [str(p) for p in EXAMPLE_FILES]
    outputs = set()
    for seed, order in (("0", files), ("1", files[::-1]), ("12345", files[1:] + files[:1])):
        done = subprocess.run(
            [sys.executable, "-m", "rbgc", "graph", "-o", output, *order],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1


def test_lws_lowering_does_not_change_the_picture() -> None:
    gang = str(EXAMPLES / "multi-node-gang.yaml")
    native = run("graph", gang)
    lowered = run("graph", "--lws", "statefulsets", gang)
    assert native.exit_code == lowered.exit_code == 0
    assert lowered.stdout == native.stdout  # a role is drawn as declared: LeaderWorkerSet


def test_a_set_names_its_group() -> None:
    spec = """\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroupSet
metadata: {name: fleet, namespace: llm}
spec:
  replicas: 2
  template:
    roles:
      - name: server
        replicas: 1
        template: {spec: {containers: [{name: s, image: "engine:1"}]}}
"""
    result = CliRunner().invoke(main, ["graph", "-"], input=spec)
    assert result.exit_code == 0, result.stderr
    assert 'subgraph g0["llm/fleet-0 (set fleet)"]' in result.stdout
    assert 'subgraph g1["llm/fleet-1 (set fleet)"]' in result.stdout


@pytest.mark.tools
def test_no_group_is_a_note_not_an_empty_picture() -> None:
    spec = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
    mermaid = CliRunner().invoke(main, ["graph", "-"], input=spec)
    dot = CliRunner().invoke(main, ["graph", "-o", "dot", "-"], input=spec)
    assert mermaid.exit_code == dot.exit_code == 0
    (verdict,) = tools.mermaid([mermaid.stdout])
    assert verdict["labels"] == {"empty": ["no RoleBasedGroup in the inputs"]}
    assert list(_svg_nodes(tools.dot(dot.stdout)).values()) == [["no RoleBasedGroup in the inputs"]]


def test_invalid_input_exits_1_with_nothing_on_stdout(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(COORDINATED.replace("[prefill, decode]", "[prefill, nobody]"))
    result = run("graph", str(bad))
    assert result.exit_code == 1 and result.stdout == ""
    assert "error[RBG150]" in result.stderr and "Traceback" not in result.stderr


def test_usage_errors_exit_2() -> None:
    assert run("graph").exit_code == 2
    assert run("graph", "-o", "png", str(EXAMPLE_FILES[0])).exit_code == 2


def test_help_teaches_how_to_read_the_picture() -> None:
    text = run("graph", "--help").stdout
    for needed in ("wave 0 first", "B starts only when A is ready", "gang PodGroup", "dot -Tsvg"):
        assert needed in " ".join(text.split()), needed


@pytest.mark.parametrize(
    "argv", [["--help"], ["build", str(EXAMPLES / "multi-level.yaml")]], ids=str
)
def test_build_and_help_never_import_the_graph_code(argv: list[str]) -> None:
    probe = (
        "import sys\n"
        "from rbgc.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "sys.stderr.write(repr(sorted(m for m in sys.modules if m.startswith('rbgc.graph'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "[]"


@pytest.mark.tools
def test_gang_and_coordination_are_drawn_as_what_they_bind() -> None:
    spec = Path(__file__).parent / "gang-coordination.yaml"
    result = run("graph", str(spec))
    assert result.exit_code == 0
    assert result.stderr.count("warning[RBG304]") == 1  # warnings as build prints them
    text = result.stdout
    assert '    g0_gang{{"gang PodGroup pd<br>7 pods start together"}}' in text
    assert '    g0_c0[/"coordination pd-balance<br>maxSkew 25%"/]' in text
    links = re.findall(r"^  (\w+) -\.- (\w+)$", text, re.M)
    # the gang binds every role; the rule binds the roles it names (prefill, decode)
    assert links == [
        ("g0_gang", "g0_r0"),
        ("g0_gang", "g0_r1"),
        ("g0_gang", "g0_r2"),
        ("g0_c0", "g0_r1"),
        ("g0_c0", "g0_r0"),
    ]
    assert re.findall(r"^  (\w+) --> (\w+)$", text, re.M) == [
        ("g0_r0", "g0_r2"),
        ("g0_r1", "g0_r2"),
    ]
    (verdict,) = tools.mermaid([text])
    assert verdict["ok"] and verdict["labels"] == _scene_labels([str(spec)])
    dot = run("graph", "-o", "dot", str(spec)).stdout
    assert '"g0_gang" -> "g0_r2" [style=dashed, arrowhead=none];' in dot
    assert _svg_nodes(tools.dot(dot)) == _scene_labels([str(spec)])
