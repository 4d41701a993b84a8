"""`rbgc convert`: upstream's conversion, lossless round trips, the user's text kept."""

from __future__ import annotations

import copy
import json
import os
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rbgc import schema as rbg_schema
from rbgc.convert import mapping, to_v1alpha2
from rbgc.convert.edit import Editor
from rbgc.convert.rewrite import Converted, convert_text, split_documents
from rbgc.diagnostics import Diagnostic
from rbgc.k8s import conventions as cv
from tests.conftest import COMPAT, EXAMPLES
from tests.test_diagnostic_fixtures import run_rbgc

V2_SCHEMA = jsonschema.Draft202012Validator(rbg_schema.schema_v1alpha2())
V1_SCHEMA = jsonschema.Draft202012Validator(rbg_schema.schema())
# v1alpha1 sources: the round trip starts there (pd-topology-v1alpha2.yaml is written in v1alpha2)
CORPUS = sorted(COMPAT.rglob("*.yaml")) + sorted(
    p
    for p in EXAMPLES.glob("*.yaml")
    if "x-k8s.io/v1alpha2\nkind: RoleBasedGroup\n" not in p.read_text()
)

# Files whose v1alpha1 -> v1alpha2 -> v1alpha1 text is not byte-identical, and why (their
# documents are still equal, see test_round_trip_is_lossless).
TEXT_DIFFERENCES = {
    "basics/rbg-base.yaml": "`workload: { }` (the default) is left out; `[ x ]` becomes `[x]`",
    "basics/restart-policy.yaml": "a standalone role's restartPolicy is dropped (RBG722); "
    "the LWS role's comes back just before its pattern",
    "basics/rolling-update-with-partition.yaml": "a newline is added at the end of the file",
    "basics/rolling-update.yaml": "a newline is added at the end of the file",
    "pd-disagg/dynamo/dynamo.yaml": "a folded scalar is re-flowed onto one line",
    "pd-disagg/sglang/sglang-pd.yaml": "`[ x ]` becomes `[x]`",
    "multi-level.yaml": "`workload: {kind: Deployment}` gets its defaulted apiVersion",
    "multi-node-gang.yaml": "podGroupPolicy returns at the top of spec; a wrapped flow list is "
    "joined onto one line",
}


def _rel(path: Path) -> str:
    return path.relative_to(COMPAT if COMPAT in path.parents else EXAMPLES).as_posix()


def _convert(text: str, to: str = "v1alpha2", path: str = "t.yaml") -> Converted:
    return convert_text(textwrap.dedent(text), path, to)


def _errors(result: Converted) -> list[Diagnostic]:
    return [d for d in result.diagnostics if d.severity == "error"]


def _rbg_docs(text: str) -> list[dict[str, Any]]:
    return [
        d
        for d in yaml.safe_load_all(text)
        if d and str(d.get("apiVersion", "")).startswith("workloads.x-k8s.io/")
    ]


def normalized_v1alpha1(doc: dict[str, Any]) -> dict[str, Any]:
    """A v1alpha1 document as the API server stores it (CRD defaults applied), minus what
    upstream's conversion drops with a warning (a standalone role's restartPolicy)."""
    doc = copy.deepcopy(doc)
    if doc["kind"] not in ("RoleBasedGroup", "RoleBasedGroupSet"):
        return doc
    spec = doc["spec"] if doc["kind"] == "RoleBasedGroup" else doc["spec"]["template"]
    for role in spec["roles"]:
        workload = role.get("workload") or {}
        role["workload"] = {
            "apiVersion": workload.get("apiVersion") or "apps/v1",
            "kind": workload.get("kind") or "StatefulSet",
        }
        role.setdefault("replicas", 1)
        if not role.get("annotations"):
            role.pop("annotations", None)
        if "leaderWorkerSet" not in role and not role.get("components"):
            role.pop("restartPolicy", None)
        for component in role.get("components") or ():
            component.setdefault("size", 1)
    policy = spec.get("podGroupPolicy")
    if policy and policy.get("kubeScheduling") is not None:
        policy["kubeScheduling"].setdefault("scheduleTimeoutSeconds", 60)
    for rule in spec.get("coordination") or ():
        scaling = (rule.get("strategy") or {}).get("scaling")
        if scaling is not None:
            scaling.setdefault("progression", "OrderScheduled")
    if not spec.get("coordination"):
        spec.pop("coordination", None)
    return doc


# ---------------------------------------------------------------------------------------------
# The corpus: v0.4.0's examples and this repository's
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CORPUS, ids=_rel)
def test_round_trip_is_lossless(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    forward = convert_text(text, str(path), "v1alpha2")
    assert _errors(forward) == []
    assert {d.code for d in forward.diagnostics} <= {"RBG722"}
    back = convert_text(forward.text, str(path), "v1alpha1")
    assert _errors(back) == []
    before, after = _rbg_docs(text), _rbg_docs(back.text)
    assert [normalized_v1alpha1(d) for d in after] == [normalized_v1alpha1(d) for d in before]
    for doc in _rbg_docs(forward.text):
        assert doc["apiVersion"] == "workloads.x-k8s.io/v1alpha2"
        assert V2_SCHEMA.is_valid(doc), list(V2_SCHEMA.iter_errors(doc))[:1]
    if back.text != text:
        assert _rel(path) in TEXT_DIFFERENCES, "the round trip changed the text"
    else:
        assert _rel(path) not in TEXT_DIFFERENCES, "stale TEXT_DIFFERENCES entry"


@pytest.mark.parametrize("path", CORPUS, ids=_rel)
def test_converting_twice_changes_nothing(path: Path) -> None:
    once = convert_text(path.read_text(encoding="utf-8"), str(path), "v1alpha2")
    twice = convert_text(once.text, str(path), "v1alpha2")
    assert twice.text == once.text
    assert twice.converted == 0 and twice.diagnostics == []


@pytest.mark.parametrize("path", CORPUS, ids=_rel)
def test_other_documents_are_copied_byte_for_byte(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    converted = convert_text(text, str(path), "v1alpha2").text
    old, new = split_documents(text), split_documents(converted)
    assert len(old) == len(new)
    for (old_prefix, old_body), (new_prefix, new_body) in zip(old, new, strict=True):
        assert new_prefix == old_prefix
        loaded = yaml.safe_load(old_body)
        if not (loaded and loaded.get("apiVersion") == mapping.V1):
            assert new_body == old_body


def test_the_corpus_holds_what_it_should() -> None:
    kinds = [d["kind"] for p in CORPUS for d in _rbg_docs(p.read_text(encoding="utf-8"))]
    assert kinds.count("RoleBasedGroup") == 14 and kinds.count("RoleBasedGroupSet") == 2


# ---------------------------------------------------------------------------------------------
# Exactly upstream's mapping
# ---------------------------------------------------------------------------------------------

GROUP = """\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata:
  name: llm
  annotations:
    rolebasedgroup.workloads.x-k8s.io/exclusive-topology: kubernetes.io/hostname
spec:
  podGroupPolicy:
    kubeScheduling: {}
  coordination:
    - name: pd
      roles: [prefill, decode]
      strategy:
        rollingUpdate: {maxSkew: "5%"}
        scaling: {maxSkew: "10%"}
  roleTemplates:
    - name: base
      template:
        spec:
          containers: [{name: c, image: "i<&>"}]
  roles:
    - name: prefill
      replicas: 2
      templateRef: {name: base}
      templatePatch: {}
    - name: decode
      labels: {tier: gpu}
      replicas: 2
      restartPolicy: None
      workload: {apiVersion: leaderworkerset.x-k8s.io/v1, kind: LeaderWorkerSet}
      leaderWorkerSet:
        size: 4
        patchLeaderTemplate: {metadata: {labels: {leader: "yes"}}}
      template:
        spec:
          containers: [{name: c, image: i}]
    - name: engine
      workload: {apiVersion: workloads.x-k8s.io/v1alpha1, kind: InstanceSet}
      restartPolicy: RecreateRoleInstanceOnPodRestart
      components:
        - name: leader
          template: {spec: {containers: [{name: c, image: i}]}}
        - name: worker
          size: 2
          serviceName: w
          template: {spec: {containers: [{name: c, image: i}]}}
"""


def test_the_mapping_is_upstreams() -> None:
    result = _convert(GROUP)
    assert _errors(result) == []
    (doc,) = _rbg_docs(result.text)
    assert doc["metadata"]["annotations"] == {
        "rolebasedgroup.workloads.x-k8s.io/exclusive-topology": "kubernetes.io/hostname",
        "rbg.workloads.x-k8s.io/group-exclusive-topology": "kubernetes.io/hostname",
        "conversion.workloads.x-k8s.io/v1alpha1-pod-group-policy": (
            '{"kubeScheduling":{"scheduleTimeoutSeconds":60}}'
        ),
        "rbg.workloads.x-k8s.io/group-gang-scheduling": "true",
        "rbg.workloads.x-k8s.io/group-gang-scheduling-timeout": "60",
        "conversion.workloads.x-k8s.io/v1alpha1-coordination": (
            '[{"name":"pd","roles":["prefill","decode"],"strategy":{"rollingUpdate":'
            '{"maxSkew":"5%"},"scaling":{"maxSkew":"10%","progression":"OrderScheduled"}}}]'
        ),
    }
    assert list(doc["spec"]) == ["roleTemplates", "roles"]
    prefill, decode, engine = doc["spec"]["roles"]
    assert prefill == {
        "name": "prefill",
        "annotations": {"rbg.workloads.x-k8s.io/role-workload-type": "apps/v1/StatefulSet"},
        "replicas": 2,
        "standalonePattern": {"templateRef": {"name": "base", "patch": {}}},
    }
    assert decode == {
        "name": "decode",
        "labels": {"tier": "gpu"},
        "replicas": 2,
        "annotations": {
            "rbg.workloads.x-k8s.io/role-workload-type": (
                "leaderworkerset.x-k8s.io/v1/LeaderWorkerSet"
            )
        },
        "leaderWorkerPattern": {
            "size": 4,
            "leaderTemplatePatch": {"metadata": {"labels": {"leader": "yes"}}},
            "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}},
            "restartPolicyConfig": {"type": "None"},
        },
    }
    assert engine["annotations"] == {
        "rbg.workloads.x-k8s.io/role-workload-type": "workloads.x-k8s.io/v1alpha1/InstanceSet"
    }
    assert engine["customComponentsPattern"]["restartPolicyConfig"] == {
        "type": "RecreateRoleInstanceOnPodRestart"
    }
    assert [(c["name"], c["size"]) for c in engine["customComponentsPattern"]["components"]] == [
        ("leader", 1),
        ("worker", 2),
    ]
    warnings = {d.message.split(" ", 3)[2] for d in result.diagnostics}
    assert [d.code for d in result.diagnostics] == ["RBG722"]  # the coordination migration
    assert "CoordinatedPolicy" in result.diagnostics[0].message, warnings
    back = convert_text(result.text, "t.yaml", "v1alpha1")
    assert _errors(back) == []
    assert normalized_v1alpha1(yaml.safe_load(back.text)) == normalized_v1alpha1(
        yaml.safe_load(GROUP)
    )


def test_stashes_are_gos_json() -> None:
    policy = {"volcanoScheduling": {"queue": "q<1>", "priorityClassName": "high&low"}}
    value = cv.pod_group_policy_value(policy)
    assert cv.stash_encode(value) == (
        '{"volcanoScheduling":{"priorityClassName":"high\\u0026low","queue":"q\\u003c1\\u003e"}}'
    )
    assert cv.gang_annotations(value) == {
        "rbg.workloads.x-k8s.io/group-gang-scheduling": "true",
        "rbg.workloads.x-k8s.io/group-gang-scheduling-volcano-queue": "q<1>",
        "rbg.workloads.x-k8s.io/group-gang-scheduling-volcano-priority": "high&low",
    }
    # the semantics file's example, §7.3
    rules = [{"strategy": {"rollingUpdate": {"maxSkew": "5%"}}, "roles": ["a", "b"], "name": "c"}]
    assert cv.stash_encode(cv.coordination_value(rules)) == (
        '[{"name":"c","roles":["a","b"],"strategy":{"rollingUpdate":{"maxSkew":"5%"}}}]'
    )
    assert cv.stash_encode(cv.pod_group_policy_value({})) == "{}"
    both = cv.pod_group_policy_value({"kubeScheduling": {}, "volcanoScheduling": {}})
    assert cv.gang_annotations(both) == {
        "rbg.workloads.x-k8s.io/group-gang-scheduling": "true",
        "rbg.workloads.x-k8s.io/group-gang-scheduling-timeout": "60",
    }


SET = """\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroupSet
metadata:
  name: fleet
spec:
  replicas: 2
  template:
    podGroupPolicy: {kubeScheduling: {scheduleTimeoutSeconds: 30}}
    coordination:
      - {name: c, roles: [a, b], strategy: {scaling: {progression: OrderReady}}}
    roles:
      - name: a
        template: {spec: {containers: [{name: c, image: i}]}}
      - name: b
        template: {spec: {containers: [{name: c, image: i}]}}
"""


def test_a_set_gets_the_stash_on_itself_and_coordination_in_its_group_template() -> None:
    result = _convert(SET)
    (doc,) = _rbg_docs(result.text)
    stash = '[{"name":"c","roles":["a","b"],"strategy":{"scaling":{"progression":"OrderReady"}}}]'
    assert doc["metadata"]["annotations"][mapping.STASH_COORD] == stash
    assert doc["spec"]["groupTemplate"]["annotations"] == {mapping.STASH_COORD: stash}
    assert list(doc["spec"]["groupTemplate"]) == ["annotations", "spec"]
    assert [r["name"] for r in doc["spec"]["groupTemplate"]["spec"]["roles"]] == ["a", "b"]
    assert V2_SCHEMA.is_valid(doc)
    codes = sorted((d.code, d.span.line) for d in result.diagnostics)  # type: ignore[union-attr]
    assert codes == [("RBG722", 8), ("RBG722", 9)]  # gang stays on the set; coordination
    back = convert_text(result.text, "t.yaml", "v1alpha1")
    assert _errors(back) == []
    assert normalized_v1alpha1(yaml.safe_load(back.text)) == normalized_v1alpha1(
        yaml.safe_load(SET)
    )


def test_references_to_renamed_variables_are_reported() -> None:
    path = EXAMPLES / "pd-disaggregated.yaml"
    result = convert_text(path.read_text(encoding="utf-8"), str(path), "v1alpha2")
    (d,) = result.diagnostics
    assert (d.code, d.span.line, d.span.col) == ("RBG722", 65, 26)  # type: ignore[union-attr]
    assert d.message.startswith("$(GROUP_NAME) is not defined by upstream's v1alpha2 operator")
    assert d.help == "write $(RBG_GROUP_NAME) once the group runs on upstream's v0.7+ operator"


def test_same_schema_kinds_change_only_their_api_version() -> None:
    text = """\
    apiVersion: workloads.x-k8s.io/v1alpha1
    kind: ClusterEngineRuntimeProfile
    metadata: {name: p}  # cluster-scoped
    spec:
      updateStrategy: NoUpdate
    ---
    apiVersion: workloads.x-k8s.io/v1alpha1
    kind: RoleBasedGroupScalingAdapter
    metadata: {name: a}
    spec: {scaleTargetRef: {name: g, role: r}}
    """
    result = _convert(text)
    assert result.converted == 2
    assert result.text == textwrap.dedent(text).replace("v1alpha1", "v1alpha2")
    assert convert_text(result.text, "t.yaml", "v1alpha1").text == textwrap.dedent(text)


# ---------------------------------------------------------------------------------------------
# The user's text: comments, order, quotes; other documents untouched
# ---------------------------------------------------------------------------------------------

COMMENTED = """\
# Top of file: what this group is for.
apiVersion: workloads.x-k8s.io/v1alpha1   # the old API
kind: RoleBasedGroup
metadata:
  name: llm  # the group
spec:
  roles:
    # the router goes first
    - name: router
      replicas: 1  # one is enough
      workload:
        apiVersion: apps/v1
        kind: Deployment # stateless
      template:
        # the router's pod
        spec:
          containers:
            - name: router
              image: 'lmsysorg/sglang:v0.5.2'  # pinned
              args: ["--port", "8000"]
    - name: decode
      replicas: 2
      workload:
        apiVersion: leaderworkerset.x-k8s.io/v1
        kind: LeaderWorkerSet
      leaderWorkerSet:
        size: 2  # two nodes per instance
      template:
        spec:
          containers:
            - name: vllm
              image: "vllm/vllm-openai:v0.10.1"
"""


def test_comments_key_order_and_quotes_are_kept() -> None:
    forward = _convert(COMMENTED)
    assert _errors(forward) == [] and forward.diagnostics == []
    for line in COMMENTED.splitlines():
        if "#" in line:
            assert "#" + line.split("#", 1)[1] in forward.text, line
    assert "image: 'lmsysorg/sglang:v0.5.2'  # pinned" in forward.text
    assert 'image: "vllm/vllm-openai:v0.10.1"' in forward.text
    assert 'args: ["--port", "8000"]' in forward.text
    router = yaml.safe_load(forward.text)["spec"]["roles"][0]
    assert list(router) == ["name", "replicas", "annotations", "standalonePattern"]
    back = convert_text(forward.text, "t.yaml", "v1alpha1")
    assert back.text == COMMENTED


def test_other_documents_and_separators_are_untouched() -> None:
    service = (
        "# a service, odd spacing kept\n---\napiVersion: v1\nkind: Service\n"
        "metadata: { name: s }\nspec: {ports: [ {port: 80} ]}\n"
    )
    already = (
        "--- # already new\napiVersion: workloads.x-k8s.io/v1alpha2\nkind: RoleBasedGroup\n"
        "metadata: {name: n}\nspec:\n  roles:\n  - name: r\n"
        "    standalonePattern: {template: {spec: {containers: [{name: c, image: i}]}}}\n"
    )
    old = "---\n" + COMMENTED
    text = service + already + old
    result = convert_text(text, "t.yaml", "v1alpha2")
    assert result.converted == 1
    assert result.text.startswith(service + already + "---\n# Top of file")
    # going back converts the native v1alpha2 group as well; the rest is as it was
    back = convert_text(result.text, "t.yaml", "v1alpha1")
    assert back.text.startswith(service)
    assert back.text.endswith(old)


FLUSH = """\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroupSet
metadata:
    name: fleet     # four-space mappings, sequences flush with their key
spec:
    template:
        roles:
        -   name: decode
            workload:
                apiVersion: leaderworkerset.x-k8s.io/v1
                kind: LeaderWorkerSet
            leaderWorkerSet:
                size: 2
            template:
                spec:
                    containers:
                    -   name: vllm   # the engine
                        image: vllm/vllm-openai:v0.10.1
"""


STASHED = """\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata:
  name: g
  annotations:
    rolebasedgroup.workloads.x-k8s.io/exclusive-topology: zone  # one group per zone
spec:
  podGroupPolicy:
    # gang: all pods or none
    kubeScheduling:
      scheduleTimeoutSeconds: 120  # two minutes
  roles:
    - name: a
      template: {spec: {containers: [{name: c, image: i}]}}
    - name: b
      template: {spec: {containers: [{name: c, image: i}]}}
  coordination:
    # keep a and b in step
    - name: c
      roles: [a, b]
      strategy: {rollingUpdate: {maxSkew: "10%"}}
"""


def test_comments_inside_stashed_fields_travel_with_them() -> None:
    forward = _convert(STASHED)
    lines = forward.text.splitlines()
    at = {line.strip(): i for i, line in enumerate(lines)}
    for comment, key in (
        ("# gang: all pods or none", mapping.STASH_PGP),
        ("# two minutes", mapping.STASH_PGP),
        ("# keep a and b in step", mapping.STASH_COORD),
    ):
        (stash_line,) = [i for i, line in enumerate(lines) if line.strip().startswith(key)]
        assert at[comment] < stash_line, comment
        assert lines[at[comment]].startswith("    # ")  # at the annotation's indentation
    assert "zone  # one group per zone" in forward.text
    back = convert_text(forward.text, "t.yaml", "v1alpha1")
    assert _errors(back) == []
    assert "  podGroupPolicy:\n    # gang: all pods or none\n    # two minutes\n" in back.text
    assert "  coordination:\n    # keep a and b in step\n" in back.text
    assert "# one group per zone" in back.text
    assert normalized_v1alpha1(yaml.safe_load(back.text)) == normalized_v1alpha1(
        yaml.safe_load(STASHED)
    )


def test_windows_line_ends_are_kept() -> None:
    crlf = COMMENTED.replace("\n", "\r\n")
    forward = convert_text(crlf, "t.yaml", "v1alpha2")
    assert forward.converted == 1 and "\n" not in forward.text.replace("\r\n", "")
    assert convert_text(forward.text, "t.yaml", "v1alpha1").text == crlf


def test_the_files_indentation_is_kept() -> None:
    forward = _convert(FLUSH)
    assert _errors(forward) == []
    assert (
        "\n    groupTemplate:\n        spec:\n            roles:\n            -   name: decode\n"
        in (forward.text)
    )
    assert "-   name: vllm   # the engine\n" in forward.text
    assert convert_text(forward.text, "t.yaml", "v1alpha1").text == FLUSH


# ---------------------------------------------------------------------------------------------
# Refusals: what upstream refuses, what v1alpha1 cannot hold
# ---------------------------------------------------------------------------------------------


def v1_role(role: str) -> str:
    return (
        "apiVersion: workloads.x-k8s.io/v1alpha1\n"
        "kind: RoleBasedGroup\n"
        "metadata: {name: g}\n"
        "spec:\n"
        "  roleTemplates:\n"
        "    - {name: base, template: {spec: {containers: [{name: c, image: i}]}}}\n"
        "  roles:\n"
        "    - name: r\n" + role
    )


@pytest.mark.parametrize(
    ("role", "line", "words"),
    [
        (
            "      template: {spec: {containers: [{name: c, image: i}]}}\n"
            "      templateRef: {name: base}\n",
            10,
            "mutually exclusive",
        ),
        ("      replicas: 1\n", 8, "neither `template` nor `templateRef`"),
        (
            "      workload: {apiVersion: leaderworkerset.x-k8s.io/v1, kind: LeaderWorkerSet}\n"
            "      leaderWorkerSet: {size: 2}\n"
            "      templateRef: {name: base}\n"
            "      templatePatch: {}\n",
            11,
            "refuses `templateRef` for LeaderWorkerSet",
        ),
    ],
)
def test_what_upstream_refuses_is_rbg720(role: str, line: int, words: str) -> None:
    result = convert_text(v1_role(role), "t.yaml", "v1alpha2")
    (d,) = _errors(result)
    assert (d.code, d.span.line) == ("RBG720", line)  # type: ignore[union-attr]
    assert words in d.message
    assert result.text == result.original


V2_ROLE = """\
apiVersion: workloads.x-k8s.io/v1alpha2
kind: RoleBasedGroup
metadata:
  name: g
  annotations: {{{annotations}}}
spec:
  roles:
    - name: r
      annotations:
        rbg.workloads.x-k8s.io/role-workload-type: leaderworkerset.x-k8s.io/v1/LeaderWorkerSet
{role}"""
LWP = "      leaderWorkerPattern:\n        template: {spec: {containers: [{name: c, image: i}]}}\n"


@pytest.mark.parametrize(
    ("annotations", "role", "line", "words"),
    [
        ("", LWP + "        sharedServiceSelection: All\n", 13, "sharedServiceSelection"),
        ("", LWP + "        restartPolicyConfig: {maxDelaySeconds: 60}\n", 13, "backoff"),
        ("", LWP + "      podManagementPolicy: OrderedReady\n", 13, "podManagementPolicy"),
        ("", LWP + "      scalingAdapter: {enable: true, labels: {a: b}}\n", 13, "scaling adapter"),
        (
            "",
            LWP + "      instanceTopologyConstraint: {pack: {required: host}}\n",
            13,
            "instanceTopo",
        ),
        ("", LWP + "      customComponentsPattern: {components: []}\n", 13, "one pattern"),
        ("rbg.workloads.x-k8s.io/group-gang-scheduling: 'true'", LWP, 5, "gang-scheduling"),
        ("rbg.workloads.x-k8s.io/group-exclusive-topology: zone", LWP, 5, "exclusive-topology"),
        ("conversion.workloads.x-k8s.io/v1alpha1-pod-group-policy: '{'", LWP, 5, "not valid JSON"),
    ],
)
def test_what_v1alpha1_cannot_hold_is_refused(
    annotations: str, role: str, line: int, words: str
) -> None:
    text = V2_ROLE.format(annotations=annotations, role=role)
    result = convert_text(text, "t.yaml", "v1alpha1")
    errors = _errors(result)
    assert errors and errors[0].code in ("RBG720", "RBG721"), result.diagnostics
    assert (errors[0].span.line, words in errors[0].message) == (line, True)  # type: ignore[union-attr]
    assert result.text == text


def test_native_v1alpha2_goes_back_with_what_it_means() -> None:
    text = V2_ROLE.format(
        annotations="rbg.workloads.x-k8s.io/group-exclusive-topology: zone, "
        "rolebasedgroup.workloads.x-k8s.io/exclusive-topology: zone",
        role=LWP + "        restartPolicyConfig: {type: None, baseDelaySeconds: 30}\n"
        "      podManagementPolicy: Parallel\n",
    )
    back = convert_text(text, "t.yaml", "v1alpha1")
    assert _errors(back) == []
    doc = yaml.safe_load(back.text)
    assert doc["metadata"]["annotations"] == {
        "rolebasedgroup.workloads.x-k8s.io/exclusive-topology": "zone"
    }
    assert doc["spec"]["roles"][0] == {
        "name": "r",
        "workload": {"apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet"},
        "restartPolicy": "None",
        "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}},
        "leaderWorkerSet": {},
    }
    assert V1_SCHEMA.is_valid(doc)


def test_a_role_instance_set_role_goes_back_with_a_warning() -> None:
    text = V2_ROLE.format(annotations="", role=LWP).replace(
        "      annotations:\n        rbg.workloads.x-k8s.io/role-workload-type: "
        "leaderworkerset.x-k8s.io/v1/LeaderWorkerSet\n",
        "",
    )
    back = convert_text(text, "t.yaml", "v1alpha1")
    (d,) = back.diagnostics
    assert (d.code, d.severity, "RoleInstanceSet" in d.message) == ("RBG722", "warning", True)
    role = yaml.safe_load(back.text)["spec"]["roles"][0]
    assert role["workload"] == {
        "apiVersion": "workloads.x-k8s.io/v1alpha2",
        "kind": "RoleInstanceSet",
    }
    forward = convert_text(back.text, "t.yaml", "v1alpha2")
    again = yaml.safe_load(forward.text)["spec"]["roles"][0]
    assert again["annotations"] == {
        "rbg.workloads.x-k8s.io/role-workload-type": "workloads.x-k8s.io/v1alpha2/RoleInstanceSet"
    }


V08 = COMPAT.parent / "rbg-v0.8.0-alpha.5"
# What `--to v1alpha1` refuses in upstream's current examples, and why.
REFUSED_V08 = {
    "basic/rbg/patterns/custom-components-ordered-discovery.yaml": "RBG721",  # components
    "basic/rbg/patterns/custom-components-pattern.yaml": "RBG721",  # on a RoleInstanceSet
    "basic/rbg/scheduling/scheduler-plugins-gang.yaml": "RBG721",  # gang annotations, no stash
    "basic/rbg/scheduling/volcano-gang.yaml": "RBG721",
    "basic/rbgs/rbgs-base.yaml": "RBG102",  # groupTemplate.metadata (upstream's mistake)
    "basic/rbgs/rbgs-exclusive-topology.yaml": "RBG102",
}


def _without_role_instance_set_annotation(doc: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    if doc["kind"] in ("RoleBasedGroup", "RoleBasedGroupSet"):
        spec = doc["spec"] if doc["kind"] == "RoleBasedGroup" else doc["spec"]["groupTemplate"]
        for role in spec.get("spec", spec)["roles"]:
            annotations = role.get("annotations") or {}
            if (
                annotations.get(mapping.WORKLOAD_TYPE)
                == "workloads.x-k8s.io/v1alpha2/RoleInstanceSet"
            ):
                del annotations[mapping.WORKLOAD_TYPE]
            if not annotations:
                role.pop("annotations", None)
    return doc


@pytest.mark.parametrize("path", sorted(V08.rglob("*.yaml")), ids=lambda p: p.name)
def test_upstreams_v1alpha2_examples_go_back_and_forth(path: Path) -> None:
    rel = path.relative_to(V08).as_posix()
    text = path.read_text(encoding="utf-8")
    back = convert_text(text, rel, "v1alpha1")
    assert all(d.span and d.span.line > 0 for d in back.diagnostics)
    if rel in REFUSED_V08:
        assert {d.code for d in _errors(back)} == {REFUSED_V08[rel]}
        assert back.text == text
        return
    assert _errors(back) == []
    # every native group runs RoleInstanceSets, which only upstream's new operator runs
    assert {d.code for d in back.diagnostics} == {"RBG722"}
    for doc in _rbg_docs(back.text):
        if doc["kind"] != "CoordinatedPolicy":
            assert V1_SCHEMA.is_valid(doc) or doc["kind"] == "RoleBasedGroupScalingAdapter"
    forward = convert_text(back.text, rel, "v1alpha2")
    assert _errors(forward) == []
    again = [_without_role_instance_set_annotation(d) for d in _rbg_docs(forward.text)]
    original = _rbg_docs(text)
    if rel == "basic/rbg/scheduling/exclusive-topology.yaml":
        # its stale v1alpha1 key did nothing in v1alpha2; in v1alpha1 it works (RBG722 said so)
        annotations = again[0]["metadata"]["annotations"]
        assert annotations.pop(mapping.EXCLUSIVE_V2) == "kubernetes.io/hostname"
    assert again == original


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------


def test_write_rewrites_in_place_and_keeps_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(COMMENTED, encoding="utf-8")
    os.chmod(path, 0o640)
    proc = run_rbgc(["convert", "--write", str(tmp_path)])
    assert (proc.returncode, proc.stdout) == (0, "")
    assert proc.stderr == f"rbgc: {path}: 1 document(s) now v1alpha2\n"
    assert yaml.safe_load(path.read_text())["apiVersion"] == mapping.V2
    assert os.stat(path).st_mode & 0o777 == 0o640
    again = run_rbgc(["convert", "-w", str(path)])
    assert (again.returncode, again.stderr) == (0, "rbgc: nothing to convert to v1alpha2\n")
    back = run_rbgc(["convert", "--to", "v1alpha1", "--write", str(path)])
    assert back.returncode == 0
    assert path.read_text() == COMMENTED
    assert [p.name for p in tmp_path.iterdir()] == ["g.yaml"]


def test_an_error_writes_nothing(tmp_path: Path) -> None:
    good = tmp_path / "a.yaml"
    good.write_text(COMMENTED, encoding="utf-8")
    bad = tmp_path / "b.yaml"
    bad.write_text(v1_role("      replicas: 1\n"), encoding="utf-8")
    proc = run_rbgc(["convert", "--write", "--color", "never", str(good), str(bad)])
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith(f"{bad}:8:7: error[RBG720]: role 'r' has neither")
    assert proc.stderr.endswith("rbgc: 1 error; nothing was written\n")
    assert good.read_text() == COMMENTED


def test_stdin_stdout_and_usage_errors(tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "rbgc", "convert", "-"],
        input=COMMENTED,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and proc.stderr == ""
    assert yaml.safe_load(proc.stdout)["apiVersion"] == mapping.V2
    usage = run_rbgc(["convert", "--write", "-"])
    assert usage.returncode == 2 and "--write cannot rewrite standard input" in usage.stderr
    assert run_rbgc(["convert", "--to", "v2", "x.yaml"]).returncode == 2
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [\n", encoding="utf-8")
    assert run_rbgc(["convert", str(broken)]).returncode == 1


def test_several_files_on_stdout_are_one_stream(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(COMMENTED, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}", encoding="utf-8"
    )
    proc = run_rbgc(["convert", str(tmp_path)])
    assert proc.returncode == 0
    docs = list(yaml.safe_load_all(proc.stdout))
    assert [d["kind"] for d in docs] == ["RoleBasedGroup", "ConfigMap"]
    assert proc.stdout.endswith("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")


# ---------------------------------------------------------------------------------------------
# Property: any valid v1alpha1 group survives the round trip
# ---------------------------------------------------------------------------------------------

_names = st.sampled_from(["prefill", "decode", "router", "cache", "worker"])
_template = st.just({"spec": {"containers": [{"name": "c", "image": "img:1"}]}})
_patch = st.sampled_from([{}, {"metadata": {"labels": {"x": "y"}}}])
_percent = st.sampled_from(["0%", "5%", "50%", "100%"])


@st.composite
def _roles(draw: st.DrawFn, name: str) -> dict[str, Any]:
    role: dict[str, Any] = {"name": name}
    if draw(st.booleans()):
        role["labels"] = {"tier": draw(st.sampled_from(["a", "b"]))}
    if draw(st.booleans()):
        role["annotations"] = {"note": "x"}
    if draw(st.booleans()):
        role["replicas"] = draw(st.integers(0, 5))
    shape = draw(st.sampled_from(["sts", "deploy", "lws", "components", "default"]))
    if shape == "deploy":
        role["workload"] = {"apiVersion": "apps/v1", "kind": "Deployment"}
    elif shape == "sts":
        role["workload"] = draw(st.sampled_from([{}, {"kind": "StatefulSet"}]))
    elif shape == "lws":
        role["workload"] = {"apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet"}
        lws: dict[str, Any] = {}
        if draw(st.booleans()):
            lws["size"] = draw(st.integers(1, 4))
        if draw(st.booleans()):
            lws["patchWorkerTemplate"] = draw(_patch)
        role["leaderWorkerSet"] = lws
    if shape == "components":
        role["workload"] = {"apiVersion": "workloads.x-k8s.io/v1alpha1", "kind": "InstanceSet"}
        role["components"] = [
            {"name": f"c{i}", "template": draw(_template), **({"size": i} if i else {})}
            for i in range(draw(st.integers(1, 3)))
        ]
    elif shape != "lws" and draw(st.booleans()):
        role["templateRef"] = {"name": "base"}
        role["templatePatch"] = draw(_patch)
    else:
        role["template"] = draw(_template)
    if shape in ("lws", "components"):
        restart = draw(st.sampled_from([None, "None", "RecreateRoleInstanceOnPodRestart"]))
        if restart:
            role["restartPolicy"] = restart
    if draw(st.booleans()):
        role["rolloutStrategy"] = {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": draw(st.sampled_from([1, "25%"]))},
        }
    if draw(st.booleans()):
        role["scalingAdapter"] = {"enable": draw(st.booleans())}
    if draw(st.booleans()):
        role["minReadySeconds"] = draw(st.integers(0, 30))
    keys = list(role)
    order = draw(st.permutations(keys[1:]))
    return {"name": name, **{k: role[k] for k in order}}


@st.composite
def _groups(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(_names, min_size=1, max_size=4, unique=True))
    spec: dict[str, Any] = {
        "roleTemplates": [{"name": "base", "template": draw(_template)}],
        "roles": [draw(_roles(n)) for n in names],
    }
    policy: dict[str, Any] | None = draw(
        st.sampled_from(
            [
                None,
                {},
                {"kubeScheduling": {}},
                {"kubeScheduling": {"scheduleTimeoutSeconds": 120}},
                {"volcanoScheduling": {"queue": "q", "priorityClassName": "p"}},
            ]
        )
    )
    if policy is not None:
        spec["podGroupPolicy"] = policy
    if len(names) > 1 and draw(st.booleans()):
        strategy: dict[str, Any] = {}
        if draw(st.booleans()):
            strategy["rollingUpdate"] = {"maxSkew": draw(_percent)}
        if draw(st.booleans()):
            progression = draw(st.sampled_from([None, "OrderScheduled", "OrderReady"]))
            scaling = {"maxSkew": draw(_percent)}
            strategy["scaling"] = (
                scaling if progression is None else {**scaling, "progression": progression}
            )
        spec["coordination"] = [{"name": "c", "roles": names[:2], "strategy": strategy}]
    metadata: dict[str, Any] = {"name": "g"}
    if draw(st.booleans()):
        metadata["annotations"] = {mapping.EXCLUSIVE_V1: "kubernetes.io/hostname"}
    group = {"apiVersion": mapping.V1, "kind": "RoleBasedGroup", "metadata": metadata, "spec": spec}
    if draw(st.booleans()):
        return {
            "apiVersion": mapping.V1,
            "kind": "RoleBasedGroupSet",
            "metadata": metadata,
            "spec": {"replicas": 2, "template": spec},
        }
    return group


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_groups(), st.sampled_from(["block", "flow"]))
def test_generated_v1alpha1_groups_round_trip(doc: dict[str, Any], style: str) -> None:
    assert V1_SCHEMA.is_valid(doc), list(V1_SCHEMA.iter_errors(doc))[:1]
    text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=style == "flow")
    forward = convert_text(text, "g.yaml", "v1alpha2")
    assert _errors(forward) == []
    (converted,) = _rbg_docs(forward.text)
    assert V2_SCHEMA.is_valid(converted), list(V2_SCHEMA.iter_errors(converted))[:1]
    assert convert_text(forward.text, "g.yaml", "v1alpha2").text == forward.text
    back = convert_text(forward.text, "g.yaml", "v1alpha1")
    assert _errors(back) == []
    assert normalized_v1alpha1(yaml.safe_load(back.text)) == normalized_v1alpha1(doc)
    assert json.dumps(yaml.safe_load(back.text)).count("conversion.workloads") == 0


def test_a_converted_document_that_fails_its_schema_is_a_bug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = to_v1alpha2.convert

    def broken(doc: Any, ed: Editor) -> mapping.Findings:
        found = real(doc, ed)
        doc["spec"]["roles"][0]["leaderWorkerSet"] = {"size": 2}  # not a v1alpha2 field
        return found

    monkeypatch.setattr(to_v1alpha2, "convert", broken)
    result = _convert(COMMENTED)
    (d,) = _errors(result)
    assert (d.code, d.span.line) == ("RBG901", 3)  # type: ignore[union-attr]
    assert d.message == (
        "the converted RoleBasedGroup does not match the workloads.x-k8s.io/v1alpha2 schema: "
        "unknown field spec.roles[0].leaderWorkerSet"
    )
    assert result.text == result.original
    from tests.test_cli import invoke

    path = tmp_path / "g.yaml"
    path.write_text(COMMENTED, encoding="utf-8")
    outcome = invoke(["convert", "--write", str(path)])
    assert outcome.exit_code == 3
    assert path.read_text(encoding="utf-8") == COMMENTED


_GANG = [
    'rbg.workloads.x-k8s.io/group-gang-scheduling: "true"',
    'rbg.workloads.x-k8s.io/group-gang-scheduling-timeout: "120"',
    "conversion.workloads.x-k8s.io/v1alpha1-pod-group-policy: "
    '\'{"kubeScheduling":{"scheduleTimeoutSeconds":120}}\'',
]
_LWS = "rbg.workloads.x-k8s.io/role-workload-type: leaderworkerset.x-k8s.io/v1/LeaderWorkerSet"
FLOW_V2 = f"""\
apiVersion: workloads.x-k8s.io/v1alpha2
kind: RoleBasedGroup
metadata:
  name: g
  annotations: {{{", ".join(_GANG)}}}
spec:
  roles:
  - name: a
    replicas: 1
    annotations: {{{_LWS}}}
    leaderWorkerPattern: {{size: 2, template: {{spec: {{containers: [{{name: c, image: i}}]}}}}}}
  - name: b
    replicas: 1
    annotations:
      rbg.workloads.x-k8s.io/role-workload-type: apps/v1/Deployment
    standalonePattern: {{template: {{spec: {{containers: [{{name: c, image: i}}]}}}}}}
"""


def test_flow_mappings_stay_flow_on_the_way_to_v1alpha1() -> None:
    """18.10: what replaces a mapping the user wrote in flow style is written in flow style;
    what replaces a block mapping stays block."""
    result = _convert(FLOW_V2, to="v1alpha1")
    assert not _errors(result)
    lines = result.text.splitlines()
    assert "  podGroupPolicy: {kubeScheduling: {scheduleTimeoutSeconds: 120}}" in lines
    assert "    workload: {apiVersion: leaderworkerset.x-k8s.io/v1, kind: LeaderWorkerSet}" in lines
    assert "    leaderWorkerSet: {size: 2}" in lines
    assert "    template: {spec: {containers: [{name: c, image: i}]}}" in lines
    b = lines.index("  - name: b")
    assert lines[b + 2 : b + 5] == [  # role b's annotations were a block: so is its workload
        "    workload:",
        "      apiVersion: apps/v1",
        "      kind: Deployment",
    ]


def test_flow_mappings_stay_flow_on_the_way_to_v1alpha2() -> None:
    text = """\
    apiVersion: workloads.x-k8s.io/v1alpha1
    kind: RoleBasedGroup
    metadata: {name: g}
    spec:
      roles:
      - name: a
        workload: {apiVersion: leaderworkerset.x-k8s.io/v1, kind: LeaderWorkerSet}
        leaderWorkerSet: {size: 2}
        template: {spec: {containers: [{name: c, image: i}]}}
      - name: b
        workload:
          apiVersion: apps/v1
          kind: Deployment
        template: {spec: {containers: [{name: c, image: i}]}}
    """
    result = _convert(text)
    assert not _errors(result)
    lines = result.text.splitlines()
    workload = "rbg.workloads.x-k8s.io/role-workload-type"
    assert f"    annotations: {{{workload}: leaderworkerset.x-k8s.io/v1/LeaderWorkerSet}}" in lines
    assert (
        "    leaderWorkerPattern: {size: 2, template: {spec: {containers: [{name: c, image: i}]}}}"
        in lines
    )
    assert lines[lines.index("  - name: b") + 1 : lines.index("  - name: b") + 3] == [
        "    annotations:",
        f"      {workload}: apps/v1/Deployment",
    ]


@pytest.mark.parametrize("to", ["v1alpha2", "v1alpha1"])
def test_a_misspelt_kind_is_refused_not_copied(tmp_path: Path, to: str) -> None:
    """`kind: RoleBaseGroup` used to be copied unchanged (`--write`: "nothing to convert"),
    leaving the group in the old version without a word; `rbgc build` calls it RBG104."""
    version = mapping.V1 if to == "v1alpha2" else mapping.V2
    path = tmp_path / "g.yaml"
    path.write_text(
        f"apiVersion: {version}\nkind: RoleBaseGroup\nmetadata: {{name: g}}\nspec: {{}}\n",
        encoding="utf-8",
    )
    proc = run_rbgc(["convert", "--to", to, "--write", str(path)])
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == (
        f"{path}:2:7: error[RBG104]: workloads.x-k8s.io has no kind RoleBaseGroup\n"
        "  help: did you mean 'RoleBasedGroup'?\n"
        "rbgc: 1 error; nothing was written\n"
    )
