"""`rbgc sync` end to end through the CLI: --simulate, --dry-run, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from rbgc.cli import main

ROOT = Path(__file__).resolve().parents[2]
PD = str(ROOT / "examples" / "pd-disaggregated.yaml")
PD_V2 = str(ROOT / "upgrades" / "pd-v2.yaml")
GANG = str(ROOT / "examples" / "multi-node-gang.yaml")


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["sync", *args])
    return result.exit_code, result.stdout, result.stderr


def test_simulate_converges_and_reports_each_step_on_stderr() -> None:
    code, out, err = _run("--simulate", PD)
    assert code == 0, err
    assert out.startswith("converged: 9 step(s) in ") and out.endswith("(simulated)\n")
    lines = [x for x in err.splitlines() if x.startswith("rbgc sync: [")]
    # The ApplySet parent first and last (ownership); the pass-through Service before the
    # group; the group's 6 steps of its waves between.
    assert len(lines) == 9 and lines[-2].startswith("rbgc sync: [8/9] wave 1: llm/sglang-pd")
    assert lines[1] == "rbgc sync: [2/9] wave 0: apply 1 object(s): Service"
    assert "record ownership" in lines[0] and "record ownership" in lines[-1]


def test_simulate_from_previews_an_upgrade() -> None:
    code, _, err = _run("--simulate", "--simulate-from", PD, PD_V2)
    assert code == 0, err
    assert "prefill roll replicas 2 partition 1" in err


def test_dry_run_prints_steps_and_nothing_converges() -> None:
    code, out, err = _run("--simulate", "--dry-run", PD)
    assert code == 0, err
    assert out.startswith("1. record ownership: ApplySet of 1 group\n")
    assert "2. wave 0: apply 1 object(s): Service\n" in out
    assert "3. wave 0: llm/sglang-pd: apply 4 object(s)" in out
    assert "converged" not in out and "rbgc sync: [" not in err


def test_invalid_input_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: workloads.x-k8s.io/v1alpha1\nkind: RoleBasedGroup\n"
        "metadata: {name: x}\nspec: {roles: []}\n"
    )
    code, _, _ = _run("--simulate", str(bad))
    assert code == 1


def test_usage_errors_exit_2() -> None:
    assert _run("--simulate", "--server", "http://x", PD)[0] == 2
    assert _run("--simulate-from", PD, PD)[0] == 2


def test_unreachable_cluster_exits_5_with_rbg910(tmp_path: Path) -> None:
    code, out, err = _run("--server", "http://127.0.0.1:9", "--timeout", "1", PD)
    assert code == 5 and out == ""
    assert "error[RBG910]" in err and "Unreachable" in err
    assert "stopped before changing anything" in err


def test_dry_run_without_a_cluster_says_so_and_claims_nothing(tmp_path: Path) -> None:
    # issue 8 item 19: "the cluster answered 0 ConfigError" and "steps before this one stay
    # applied", though no cluster was configured and nothing was contacted
    result = CliRunner(env={"KUBECONFIG": str(tmp_path / "none"), "HOME": str(tmp_path)}).invoke(
        main, ["sync", "--dry-run", PD]
    )
    code, out, err = result.exit_code, result.stdout, result.stderr
    assert code == 5 and out == ""
    assert "error[RBG910]: no cluster to sync with" in err
    assert "answered" not in err and "stay applied" not in err
    assert "stopped before changing anything" in err


def test_timeout_exits_4_naming_the_role() -> None:
    # A tiny timeout: the first workload step cannot be ready in 1 simulated second.
    code, out, err = _run("--simulate", "--timeout", "1", PD)
    assert code == 4 and out == ""
    assert "error[RBG912]" in err and "role decode of llm/sglang-pd" in err
    assert "pd-disaggregated.yaml:" in err  # the role's place in the input


def test_help_documents_exit_codes_and_never_imports_kubernetes() -> None:
    code, out, _ = _run("--help")
    assert code == 0 and "4 timed out" in out and "5 cluster error" in out
    probe = (
        "import sys; from click.testing import CliRunner; from rbgc.cli import main; "
        "CliRunner().invoke(main, ['sync', '--help']); "
        f"CliRunner().invoke(main, ['build', {PD!r}]); "
        "print('kubernetes' in sys.modules)"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "False"


def test_a_pass_through_workload_with_a_malformed_spec_does_not_crash_sync(
    tmp_path: Path,
) -> None:
    # issue 8 item 25: malformed fields of a pass-through Deployment crashed sync/plan.py and
    # the simulator (`spec: 5` is now refused at load, RBG009; fields below `spec` are read
    # through the controllers' table and defaulted)
    path = tmp_path / "odd.yaml"
    odd = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: odd, namespace: llm}\n"
    spec = "spec: {replicas: x, strategy: 5, template: [1]}\n"
    path.write_text(odd + spec + "---\n" + Path(PD).read_text(encoding="utf-8"), "utf-8")
    code, out, err = _run("--simulate", str(path))
    assert code == 0, err
    assert out.startswith("converged:")


def test_status_shows_each_group_and_changes_nothing() -> None:
    code, out, err = _run("--simulate", "--status", PD)
    assert code == 0, err
    assert out.splitlines()[0] == "llm/sglang-pd: ApplySet not recorded yet; lock free"
    assert "upgrade to do: OLD " in out and "planner step 0 of " in out
