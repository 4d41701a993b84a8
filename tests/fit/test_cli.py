"""`rbgc fit` as a command: exit codes, the JSON shape, its diagnostics' exact stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner, Result

from rbgc.cli import main
from tests.conftest import EXAMPLES, ROOT
from tests.fit.helpers import as_list, group, node, role, running

INVENTORY = str(EXAMPLES / "inventory" / "nodes.json")
PD = str(EXAMPLES / "pd-disaggregated.yaml")
GANG = str(EXAMPLES / "multi-node-gang.yaml")


def invoke(args: list[str]) -> Result:
    return CliRunner().invoke(main, args, env={"NO_COLOR": "1", "ARGOCD_APP_NAMESPACE": None})


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_a_group_that_fits_exits_0_with_its_placement() -> None:
    result = invoke(["fit", "--nodes", INVENTORY, PD])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == (
        "llm/sglang-pd: fits: 5 pod(s) on 2 node(s)\n"
        "  sglang-pd-decode-0   gpu-a1-0\n"
        "  sglang-pd-prefill-0  gpu-a1-0\n"
        "  sglang-pd-prefill-1  gpu-a1-0\n"
        "  sglang-pd-router-0   cpu-a-0\n"
        "  sglang-pd-router-1   cpu-a-0\n"
        "\n"
        "rbgc fit: 1 of 1 group(s) fit on 9 node(s)\n"
    )


def test_a_group_that_does_not_fit_exits_1_with_the_reason() -> None:
    result = invoke(["fit", "--nodes", INVENTORY, GANG])
    assert result.exit_code == 1
    assert result.stdout == (
        "llm/llama-70b: does not fit\n"
        "  reason: prefill+decode (exclusive topology) need 48 nvidia.com/gpu in one "
        "kubernetes.io/hostname domain; the largest free one has 8\n"
        "\n"
        "rbgc fit: 0 of 1 group(s) fit on 9 node(s)\n"
    )


def test_inputs_without_a_group_say_so(tmp_path: Path) -> None:
    """A path that holds no RoleBasedGroup (a wrong folder) printed "0 of 0 group(s) fit",
    which reads as a verdict; nothing was placed, and the answer says so (exit 0, as
    `kubectl get` finding nothing)."""
    plain = write(tmp_path, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    result = invoke(["fit", "--nodes", INVENTORY, plain])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "rbgc fit: no RoleBasedGroup in the inputs, nothing to place\n"


def test_json_shape_is_stable_and_sorted() -> None:
    first = invoke(["fit", "--nodes", INVENTORY, "-o", "json", GANG, PD])
    second = invoke(["fit", "--nodes", INVENTORY, "-o", "json", PD, GANG])
    assert first.exit_code == second.exit_code == 1
    assert first.stdout == second.stdout  # same bytes whatever the argument order
    doc = json.loads(first.stdout)
    assert [(g["namespace"], g["name"], g["fits"]) for g in doc["groups"]] == [
        ("llm", "llama-70b", False),
        ("llm", "sglang-pd", True),
    ]
    gang, pd = doc["groups"]
    assert set(pd) == {
        "name",
        "namespace",
        "fits",
        "tier",
        "assignments",
        "packs",
        "rollouts",
        "reason",
    }
    # the router Deployment (maxSurge 1, maxUnavailable 0) has room for its surge pod
    assert pd["rollouts"] == [{"role": "router", "surge": 1, "proceeds": True, "reason": None}]
    assert gang["assignments"] == [] and gang["tier"] is None and gang["reason"]
    assert pd["reason"] is None and pd["tier"] is None
    assert pd["assignments"][0] == {"pod": "sglang-pd-decode-0", "node": "gpu-a1-0"}
    assert [a["pod"] for a in pd["assignments"]] == sorted(a["pod"] for a in pd["assignments"])


def test_the_tier_of_exclusive_topology(tmp_path: Path) -> None:
    ann = "rolebasedgroup.workloads.x-k8s.io/exclusive-topology: topology.kubernetes.io/zone\n"
    spec = write(tmp_path, "g.yaml", group(role("w", 2, gpu=8), annotations=ann))
    result = invoke(["fit", "--nodes", INVENTORY, "-o", "json", spec])
    assert result.exit_code == 0
    (answer,) = json.loads(result.stdout)["groups"]
    assert answer["tier"] == "topology.kubernetes.io/zone"
    assert answer["packs"] == [
        {"constraint": "w (exclusive topology)", "level": "topology.kubernetes.io/zone"}
    ]


def test_running_pods_change_the_answer(tmp_path: Path) -> None:
    nodes = write(tmp_path, "nodes.yaml", as_list([node("n1", gpu=8)]))
    pods = write(tmp_path, "pods.yaml", as_list([running("busy", "n1", gpu=1)]))
    spec = write(tmp_path, "g.yaml", group(role("w", 1, gpu=8)))
    assert invoke(["fit", "--nodes", nodes, spec]).exit_code == 0
    busy = invoke(["fit", "--nodes", nodes, "--pods", pods, spec])
    assert busy.exit_code == 1
    assert (
        "1 have too little free nvidia.com/gpu (needs 8; at most 7 free on a node that passes "
        "the other filters)" in busy.stdout
    )


def test_usage_and_input_errors_exit_2_with_nothing_on_stdout(tmp_path: Path) -> None:
    missing = invoke(["fit", PD])
    assert missing.exit_code == 2 and "Missing option '--nodes'" in missing.stderr
    no_file = invoke(["fit", "--nodes", str(tmp_path / "none.yaml"), PD])
    assert no_file.exit_code == 2 and no_file.stdout == ""
    # an inventory that cannot be read is RBG350, as documented (issue 18.8)
    assert no_file.stderr == (
        f"{tmp_path / 'none.yaml'}: error[RBG350]: no such file or directory\n"
        "  help: pass what `kubectl get nodes -o json` (or `get pods -A -o json`) prints\n"
        "rbgc: 1 error; nothing was written\n"
    )
    bad_yaml = write(tmp_path, "nodes.yaml", "items: [\n")
    broken_inventory = invoke(["fit", "--nodes", bad_yaml, PD])
    assert broken_inventory.exit_code == 2 and broken_inventory.stdout == ""
    assert "error[RBG350]" in broken_inventory.stderr and "RBG001" not in broken_inventory.stderr
    bad_spec = write(tmp_path, "bad.yaml", "apiVersion: workloads.x-k8s.io/v1alpha1\nkind: x: y\n")
    broken = invoke(["fit", "--nodes", INVENTORY, bad_spec])
    assert broken.exit_code == 2 and broken.stdout == "" and "RBG001" in broken.stderr


def test_rbg350_an_unreadable_inventory(tmp_path: Path) -> None:
    nodes = write(
        tmp_path,
        "nodes.yaml",
        "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n"
        "status:\n  allocatable: {cpu: '8', nvidia.com/gpu: eight}\n",
    )
    result = invoke(["fit", "--nodes", nodes, PD])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (
        f"{nodes}:5:43: error[RBG350]: Node n1: status.allocatable.nvidia.com/gpu: 'eight' is "
        "not a Kubernetes quantity (a number with an optional suffix such as m, k, M, G, Ki, Mi, "
        "Gi or e3)\n"
        "  help: the file should be `kubectl get nodes -o yaml` output\n"
        "rbgc: 1 error; nothing was written\n"
    )


def test_an_unreadable_pod_requirement_is_the_builds_error(tmp_path: Path) -> None:
    """The build refuses a resource amount that is not a quantity (RBG604, as the API server
    refuses it), so `fit` answers with that verdict, not a second one of its own."""
    spec = write(tmp_path, "g.yaml", group(role("w", 1, cpu="two")))
    result = invoke(["fit", "--nodes", INVENTORY, spec])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (
        f'{spec}:16:31: error[RBG604]: StatefulSet default/g-w: container "main": limits cpu: '
        "'two' is not a Kubernetes quantity (a "
        "number with an optional suffix such as m, k, M, G, Ki, Mi, Gi or e3)\n"
        "  help: write a number with an optional suffix: 500m, 2, 16Gi, 1e3\n"
        "rbgc: 1 error; nothing was written\n"
    )


def test_rbg352_a_term_fit_cannot_evaluate_exactly(tmp_path: Path) -> None:
    term = """\
        affinity:
          podAntiAffinity:
            requiredDuringSchedulingIgnoredDuringExecution:
              - topologyKey: kubernetes.io/hostname
                labelSelector: {matchLabels: {app: db}}
                namespaceSelector: {matchLabels: {team: data}}
        """
    spec = write(tmp_path, "g.yaml", group(role("w", 1, spec=term)))
    result = invoke(["fit", "--nodes", INVENTORY, spec])
    assert result.exit_code == 0
    assert result.stderr == (
        f"{spec}:11:9: warning[RBG352]: StatefulSet g-w: a namespaceSelector is not evaluated "
        "(namespace labels are not in the inventory): the term is read as selecting pods of the "
        "pod's own namespace\n"
    )
    assert result.stdout.startswith("default/g: fits")


def test_fit_is_not_imported_by_build() -> None:
    probe = (
        "import sys\n"
        "from rbgc.cli import main\n"
        "try:\n"
        f"    main(['build', {PD!r}])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        "sys.stderr.write(repr(sorted(m for m in sys.modules if m.startswith('rbgc.fit'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "[]"


def test_the_readme_shows_what_rbgc_fit_prints() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Will it fit? rbgc fit", 1)[1]  # placement's fit block fits
    block = section.split("```text\n$ rbgc fit ", 1)[1].split("```", 1)[0]
    command, shown = block.split("\n", 1)
    result = subprocess.run(
        [sys.executable, "-m", "rbgc", "fit", *command.split()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == shown


def test_same_bytes_whatever_the_hash_seed() -> None:
    outputs = set()
    for seed in ("1", "2"):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "rbgc",
                "fit",
                "--nodes",
                INVENTORY,
                "-o",
                "json",
                str(EXAMPLES),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert done.returncode == 1, done.stderr
        outputs.add(done.stdout)
    assert len(outputs) == 1


def test_help_shows_examples_and_exit_codes() -> None:
    result = invoke(["fit", "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output and "Exit codes: 0 every group fits" in result.output
    assert "fit --nodes examples/inventory/nodes.json" in invoke(["--help"]).output
