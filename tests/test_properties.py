"""Properties users rely on: determinism, and upgrades that touch only what changed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from rbgc import emit
from tests.conftest import COMPAT, EXAMPLES, ROOT, compile_yaml

PD = (EXAMPLES / "pd-disaggregated.yaml").read_text()


def _templates(text: str) -> dict[str, Any]:
    result = compile_yaml(text)
    return {
        m.name: m.body["spec"]["template"]
        for m in result.bundle.manifests
        if m.kind in ("StatefulSet", "Deployment")
    }


def test_scaling_a_role_changes_no_pod_template() -> None:
    before = _templates(PD)
    after = _templates(
        PD.replace(
            "    - name: prefill\n      replicas: 2", "    - name: prefill\n      replicas: 5"
        )
    )
    assert before == after, "pods would restart on a pure scale"


def test_scaling_changes_replicas_and_the_discovery_file() -> None:
    scaled = PD.replace(
        "    - name: prefill\n      replicas: 2", "    - name: prefill\n      replicas: 5"
    )
    before = {m.name + m.kind: m.body for m in compile_yaml(PD).bundle.manifests}
    after = {m.name + m.kind: m.body for m in compile_yaml(scaled).bundle.manifests}
    assert after["sglang-pd-prefillStatefulSet"]["spec"]["replicas"] == 5
    assert (
        "sglang-pd-prefill-4.sglang-pd-prefill"
        in after["sglang-pd-routerConfigMap"]["data"]["config.yaml"]
    )
    assert before["sglang-pd-routerConfigMap"] != after["sglang-pd-routerConfigMap"]


def test_changing_one_image_changes_only_that_roles_pods() -> None:
    marker = (
        "      template:\n        spec:\n          containers:\n            - name: sglang\n"
        "              image: lmsysorg/sglang:v0.5.2"
    )
    assert PD.count(marker) == 2
    head, tail = PD.split(marker, 1)  # the first one is prefill
    changed = head + marker.replace("v0.5.2", "v0.5.3") + tail
    before, after = _templates(PD), _templates(changed)
    assert {n for n in before if before[n] != after[n]} == {"sglang-pd-prefill"}


def _build(args: list[str], seed: str) -> bytes:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    return subprocess.run(
        [sys.executable, "-m", "rbgc", "build", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=True,
    ).stdout


def test_byte_identical_across_hash_seeds_and_input_order() -> None:
    files = [
        str(EXAMPLES / "multi-level.yaml"),
        str(EXAMPLES / "pd-disaggregated.yaml"),
        str(COMPAT / "basics" / "rbg-base.yaml"),
        str(COMPAT / "pd-disagg" / "dynamo"),
    ]
    first = _build(files, "1")
    assert first
    assert _build(list(reversed(files)), "4242") == first
    assert _build(files, "random") == first


def test_json_output_is_deterministic_and_complete() -> None:
    result = compile_yaml(PD)
    text = emit.json_list(result.bundle)
    assert text == emit.json_list(compile_yaml(PD).bundle)
    import json

    assert len(json.loads(text)["items"]) == len(result.bundle.manifests)


def test_out_dir_round_trip(tmp_path: Path) -> None:
    result = compile_yaml(PD)
    written = emit.write_dir(result.bundle, tmp_path / "out")
    assert len(written) == len(result.bundle.manifests)
    import yaml

    bodies = [yaml.safe_load(p.read_text()) for p in sorted(written)]
    assert sorted(map(str, bodies)) == sorted(str(m.body) for m in result.bundle.manifests)


def test_large_config_files_render_exactly_as_a_whole_dump() -> None:
    """emit renders a big shared `config.yaml` once; the bytes must not change."""
    roles = "".join(
        f"  - name: r{i}\n    replicas: 3\n"
        "    template: {spec: {containers: [{name: c, image: i}]}}\n"
        for i in range(60)
    )
    text = "apiVersion: workloads.x-k8s.io/v1alpha1\nkind: RoleBasedGroup\nmetadata: {name: g}\n"
    result = compile_yaml(text + "spec:\n  roles:\n" + roles)
    config = next(m for m in result.bundle.manifests if m.kind == "ConfigMap")
    assert len(config.body["data"]["config.yaml"]) > 4096, "the fast path must be exercised"
    whole = "---\n".join(emit._dump(m.body) for m in result.bundle.manifests)
    assert emit.yaml_stream(result.bundle) == whole


def test_emitted_strings_read_back_as_strings_in_go_and_python() -> None:
    """Values such as "1e-5" are strings in the input; every reader must see strings."""
    body = {"data": {k: k for k in ("1e-5", "0o755", "", "on", "2024-01-01", "1:30", "0x1F")}}
    text = emit.to_yaml(body)
    import yaml

    assert yaml.safe_load(text) == body
    for value in body["data"]:
        assert f'"{value}": "{value}"' in text, text


WIDGETS = [
    f"apiVersion: {g}.example.com/v1\nkind: Widget\nmetadata: {{name: x, namespace: ns}}\n"
    for g in ("a", "b")
]


def test_same_kind_and_name_from_two_api_groups_order_and_files(tmp_path: Path) -> None:
    from rbgc.pipeline import Options, compile_documents
    from rbgc.source import parse_text

    def build(texts: list[str]) -> Any:
        docs = [d for i, t in enumerate(texts) for d in parse_text(t, f"w{i}.yaml")]
        return compile_documents(docs, Options()).bundle

    forward, backward = build(WIDGETS), build(list(reversed(WIDGETS)))
    assert emit.yaml_stream(forward) == emit.yaml_stream(backward)
    written = emit.write_dir(forward, tmp_path / "out")
    assert sorted(p.name for p in written) == [
        "ns_widget.a.example.com_x.yaml",
        "ns_widget.b.example.com_x.yaml",
    ]
