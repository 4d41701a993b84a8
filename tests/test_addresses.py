"""Hand-written pod addresses in the inputs name compiled pods (issue 10's address test).

An address `{sts}-{i}.{svc}` in a compiled container's command, args or env names a pod of
StatefulSet `{sts}` through headless Service `{svc}`: the StatefulSet must be compiled with
that `serviceName` and more than `i` replicas, and the Service compiled headless. Text that
names neither a compiled StatefulSet nor a compiled Service (model names such as
`llama-3.3-70b`) is not an address."""

from __future__ import annotations

import re
from typing import Any

import pytest

from rbgc.k8s.manifest import Manifest
from rbgc.pipeline import compile_paths
from tests.conftest import compile_yaml
from tests.test_golden import CASES, Case, _options

ADDRESS = re.compile(r"\b([a-z0-9][a-z0-9-]*)-(\d+)\.([a-z0-9][a-z0-9-]*)")


def _texts(m: Manifest) -> list[str]:
    out: list[str] = []
    for path in m.pod_templates:
        template: Any = m.body
        for part in path:
            template = template[part]
        spec = template.get("spec", {})
        for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
            out += [str(t) for t in [*container.get("command", []), *container.get("args", [])]]
            out += [str(e["value"]) for e in container.get("env", []) if "value" in e]
    return out


def broken_addresses(manifests: tuple[Manifest, ...]) -> list[str]:
    sts = {(m.namespace, m.name): m.body["spec"] for m in manifests if m.kind == "StatefulSet"}
    services = {(m.namespace, m.name): m.body["spec"] for m in manifests if m.kind == "Service"}
    problems = []
    for m in manifests:
        for text in _texts(m):
            for name, index, service in ADDRESS.findall(text):
                spec = sts.get((m.namespace, name))
                if spec is None and (m.namespace, service) not in services:
                    continue  # not an address of this bundle
                where = f"{m.kind} {m.name}: {name}-{index}.{service}"
                if spec is None:
                    problems.append(f"{where}: no StatefulSet {name}")
                elif spec["serviceName"] != service:
                    problems.append(f"{where}: {name} is served by {spec['serviceName']}")
                elif int(index) >= spec["replicas"]:
                    problems.append(f"{where}: {name} has {spec['replicas']} replica(s)")
                elif services.get((m.namespace, service), {}).get("clusterIP") != "None":
                    problems.append(f"{where}: no headless Service {service}")
    return problems


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_hand_written_addresses_name_compiled_pods(case: Case) -> None:
    result = compile_paths([str(p) for p in case.inputs], _options(case))
    assert broken_addresses(result.bundle.manifests) == []


def test_a_wrong_address_is_caught() -> None:
    [case] = [c for c in CASES if c.name == "examples/pd-disaggregated"]
    text = case.inputs[0].read_text(encoding="utf-8")
    assert "sglang-pd-prefill-0.sglang-pd-prefill" in text  # the case checks real addresses
    address = "sglang-pd-prefill-{}.sglang-pd-prefill"
    wrong = text.replace(address.format(0), address.format(7))
    problems = broken_addresses(compile_yaml(wrong).bundle.manifests)
    assert problems and "replica(s)" in problems[0]
