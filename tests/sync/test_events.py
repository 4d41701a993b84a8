"""What people watch (issue 12 items 8-9, in part): `-o json` streams events; `--simulate`
takes faults from flags or a small file so a user can rehearse an upgrade's failure modes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rbgc.cli import main
from rbgc.sync.kube import connect
from rbgc.sync.run import SyncFailed, Where
from rbgc.sync.run import sync as run_sync
from tests.sync.emulator import Fault, serve
from tests.sync.helpers import PD, PD_V2, V, compiled, sync
from tests.sync.test_conflicts import _emergency_patch


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["sync", *args])
    return result.exit_code, result.stdout, result.stderr


def _events(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def test_json_output_is_a_stream_of_step_and_wave_events() -> None:
    code, out, err = _run("--simulate", "-o", "json", PD)
    assert code == 0, err
    events = _events(out)
    kinds = [e["event"] for e in events]
    assert kinds[-1] == "converged" and events[-1]["steps"] == 9
    assert kinds.count("step-started") == kinds.count("step-done") == 9
    waves = [e for e in events if e["event"] == "wave-ready"]
    assert [(e["group"], e["wave"]) for e in waves] == [("llm/sglang-pd", 0), ("llm/sglang-pd", 1)]
    router = [e for e in events if e["event"] == "step-started" and e["op"] == "rollout"]
    assert [(e["group"], e["role"]) for e in router] == [
        ("llm/sglang-pd", None),  # decode and prefill together: "roles" lists them
        ("llm/sglang-pd", "router"),
    ]
    assert router[0]["roles"] == ["decode", "prefill"]


def test_a_fault_from_a_flag_fails_the_json_stream_with_the_code() -> None:
    code, out, _ = _run(
        "--simulate",
        "-o",
        "json",
        "--timeout",
        "60",
        "--fault",
        "never-ready=sglang-pd-prefill-1",
        PD,
    )
    assert code == 4
    last = _events(out)[-1]
    assert last["event"] == "failed" and last["code"] == "RBG912" and last["exit"] == 4
    assert "role prefill of llm/sglang-pd" in last["message"]


def test_faults_from_a_file(tmp_path: Path) -> None:
    faults = tmp_path / "faults.yaml"
    faults.write_text("fail_apply: {sglang-pd-router: 403}\n", encoding="utf-8")
    code, _, err = _run("--simulate", "--faults-file", str(faults), PD)
    assert code == 5 and "error[RBG910]" in err and "403" in err
    faults.write_text("crash_images: [lmsysorg/sglang:v0.5.3]\n", encoding="utf-8")
    code, _, err = _run(
        "--simulate", "--simulate-from", PD, "--faults-file", str(faults), "--timeout", "60", PD_V2
    )
    assert code == 4 and "error[RBG912]" in err


def test_malformed_faults_are_usage_errors(tmp_path: Path) -> None:
    code, _, err = _run("--simulate", "--fault", "explode=now", PD)
    assert code == 2 and "expected one of never-ready, crash-image, fail-apply, unserved" in err
    bad = tmp_path / "faults.yaml"
    bad.write_text("fail_apply: {x: 200}\n", encoding="utf-8")
    code, _, err = _run("--simulate", "--faults-file", str(bad), PD)
    assert code == 2 and "200 is no error status" in err
    assert _run("--fault", "never-ready=x", PD)[0] == 2  # needs --simulate


def test_retry_and_conflict_events_over_http() -> None:
    with serve() as (emu, url):
        events: list[dict[str, Any]] = []
        emu.faults.append(Fault("PATCH", r"/statefulsets/sglang-pd-prefill$", 503, times=1))
        run_sync(compiled(PD), version=V, where=Where(server=url), timeout=60, events=events.append)
        retries = [e for e in events if e["event"] == "retry"]
        assert retries == [
            {
                "event": "retry",
                "request": 'patch statefulsets.apps "sglang-pd-prefill" in namespace llm',
                "code": 503,
                "reason": "InternalError",
                "attempt": 1,
                "delay": retries[0]["delay"],
            }
        ]
        assert events[-1]["event"] == "converged"
        cluster = connect(kubeconfig=None, context=None, server=url, timeout=10)
        sync(cluster, [PD])
        _emergency_patch(cluster, emu)
        events.clear()
        with pytest.raises(SyncFailed):
            run_sync(
                compiled(PD_V2),
                version=V,
                where=Where(server=url),
                timeout=60,
                events=events.append,
            )
    conflict = [e for e in events if e["event"] == "conflict"]
    assert conflict == [
        {
            "event": "conflict",
            "object": "StatefulSet llm/sglang-pd-prefill",
            "field": ".spec.template.spec.containers",
            "manager": "kubectl-edit",
        }
    ]
    assert events[-1]["event"] == "failed" and events[-1]["code"] == "RBG913"
