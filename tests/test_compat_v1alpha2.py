"""The v1alpha2 conformance corpus (upstream's examples/basic at v0.8.0-alpha.5), checked
against rbg-v1alpha2-semantics.md §2-§4 and the plain equivalents of §3.5."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rbgc.diagnostics import DiagnosticError
from rbgc.k8s.conventions import V08, group_unique_key
from rbgc.model import LwsLowering, Target
from rbgc.pipeline import Options, Result, compile_paths
from tests.conftest import COMPAT_V08, COMPAT_V08_REFUSED, compile_yaml
from tests.invariants import check_invariants

P = "rbg.workloads.x-k8s.io/"
FILES = sorted(COMPAT_V08.rglob("*.yaml"))
INSTANCE_ENV = [
    "RBG_COMPONENT_INDEX",
    "RBG_COMPONENT_NAME",
    "RBG_GROUP_NAME",
    "RBG_ROLE_INDEX",
    "RBG_ROLE_INSTANCE_NAME",
    "RBG_ROLE_NAME",
]
LWP_ENV = ["RBG_LWP_LEADER_ADDRESS", "RBG_LWP_WORKER_INDEX", "RBG_LWP_GROUP_SIZE"]


def _compile(rel: str, lws: LwsLowering = LwsLowering.NATIVE) -> Result:
    return compile_paths([str(COMPAT_V08 / rel)], Options(target=Target(lws=lws)))


def _objects(result: Result) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m.kind, m.name): m.body for m in result.bundle.manifests}


def _env(template: dict[str, Any]) -> dict[str, Any]:
    container = template["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_the_corpus_is_there() -> None:
    assert len(FILES) == 19


@pytest.mark.parametrize("lws", list(LwsLowering), ids=str)
@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(COMPAT_V08)))
def test_every_file_compiles_or_is_refused_for_its_listed_reason(
    path: Path, lws: LwsLowering
) -> None:
    rel = str(path.relative_to(COMPAT_V08))
    if rel in COMPAT_V08_REFUSED:
        code, _reason = COMPAT_V08_REFUSED[rel]
        with pytest.raises(DiagnosticError) as caught:
            _compile(rel, lws)
        assert code in {d.code for d in caught.value.diagnostics}
        return
    check_invariants(_compile(rel, lws))


def test_standalone_is_a_statefulset_with_the_instance_names_and_env() -> None:
    objs = _objects(_compile("basic/rbg/patterns/standalone-pattern.yaml"))
    uid = group_unique_key("default", "nginx-cluster")
    identity = {P + "group-name": "nginx-cluster", P + "role-name": "backend", P + "group-uid": uid}
    sts = objs[("StatefulSet", "nginx-cluster-backend")]
    # pods nginx-cluster-backend-{i}.s-nginx-cluster-backend: the RoleInstance pods' names/DNS
    assert sts["spec"]["serviceName"] == "s-nginx-cluster-backend"
    assert sts["spec"]["replicas"] == 3
    assert sts["spec"]["selector"]["matchLabels"] == identity
    template = sts["spec"]["template"]
    assert "readinessGates" not in template["spec"]  # nothing would ever set them
    env = _env(template)
    assert list(env)[: len(INSTANCE_ENV)] == INSTANCE_ENV
    assert env["RBG_COMPONENT_INDEX"] == "0"
    assert env["RBG_COMPONENT_NAME"] == "backend"
    assert env["RBG_ROLE_INSTANCE_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["RBG_ROLE_INDEX"] == {
        "fieldRef": {"fieldPath": "metadata.labels['apps.kubernetes.io/pod-index']"}
    }
    svc = objs[("Service", "s-nginx-cluster-backend")]
    assert svc["spec"]["selector"] == {
        P + "group-name": "nginx-cluster",
        P + "role-name": "backend",
    }
    config = objs[("ConfigMap", "nginx-cluster")]["data"]["config.yaml"]
    assert "address: nginx-cluster-backend-2.s-nginx-cluster-backend" in config


@pytest.mark.parametrize("lws", list(LwsLowering), ids=str)
def test_leader_worker_pattern_defines_every_rbg_variable(lws: LwsLowering) -> None:
    objs = _objects(_compile("basic/rbg/patterns/leader-worker-pattern.yaml", lws))
    if lws is LwsLowering.NATIVE:
        body = objs[("LeaderWorkerSet", "lws-pattern-demo-prefill")]
        assert body["spec"]["leaderWorkerTemplate"]["size"] == 4
        assert body["spec"]["leaderWorkerTemplate"]["restartPolicy"] == (
            "RecreateGroupOnPodRestart"
        )
        templates = body["spec"]["leaderWorkerTemplate"]
        leader, worker = templates["leaderTemplate"], templates["workerTemplate"]
    else:
        leader = objs[("StatefulSet", "lws-pattern-demo-prefill")]["spec"]["template"]
        worker = objs[("StatefulSet", "lws-pattern-demo-prefill-1")]["spec"]["template"]
    for template, which in ((leader, "leader"), (worker, "worker")):
        env = _env(template)
        assert list(env)[: len(INSTANCE_ENV) + len(LWP_ENV)] == INSTANCE_ENV + LWP_ENV
        assert env["RBG_COMPONENT_NAME"] == which
        assert env["RBG_LWP_GROUP_SIZE"] == "4"
        assert env["ROLE"] == which  # the leader/worker patches applied
    # the leaders' subdomain: the LWS's own Service, or with --lws statefulsets the shared
    # Service the operator gives the leader component (roleinstanceset_reconciler.go:426)
    subdomain = (
        "lws-pattern-demo-prefill" if lws is LwsLowering.NATIVE else "s-lws-pattern-demo-prefill"
    )
    assert _env(leader)["RBG_LWP_LEADER_ADDRESS"] == (
        f"$(RBG_ROLE_INSTANCE_NAME).{subdomain}.default"
    )
    if lws is LwsLowering.STATEFULSETS:
        assert _env(worker)["RBG_LWP_LEADER_ADDRESS"] == (
            f"lws-pattern-demo-prefill-1.{subdomain}.default"
        )


def test_gang_annotation_makes_a_pod_group_of_every_pod() -> None:
    objs = _objects(_compile("basic/rbg/scheduling/scheduler-plugins-gang.yaml"))
    [(kind, name)] = [k for k in objs if k[0] == "PodGroup"]
    group = objs[(kind, name)]
    assert group["spec"]["minMember"] == 6
    sts = next(b for (k, _), b in objs.items() if k == "StatefulSet")
    assert sts["spec"]["template"]["metadata"]["labels"][
        "pod-group.scheduling.sigs.k8s.io/name"
    ] == (name)


def test_rollout_mapping() -> None:
    result = _compile("basic/rbg/update-strategy/rolling-update-with-partition.yaml")
    objs = _objects(result)
    prefill = objs[("StatefulSet", "rolling-update-with-partition-prefill")]["spec"]
    decode = objs[("StatefulSet", "rolling-update-with-partition-decode")]["spec"]
    assert prefill["updateStrategy"]["rollingUpdate"]["partition"] == 2
    assert decode["updateStrategy"]["rollingUpdate"]["partition"] == 4  # paused
    messages = [w.message for w in result.warnings]
    assert any("InPlaceIfPossible" in m and "replaces each pod" in m for m in messages)
    assert any("`paused`" in m for m in messages)


GROUP_SET = """\
apiVersion: workloads.x-k8s.io/v1alpha2
kind: RoleBasedGroupSet
metadata:
  name: set
spec:
  replicas: 2
  groupTemplate:
    labels: {app: demo}
    spec:
      roles:
        - name: web
          standalonePattern:
            templateRef: {name: base, patch: {metadata: {labels: {tier: web}}}}
      roleTemplates:
        - name: base
          template:
            spec:
              containers: [{name: main, image: nginx:1.27}]
"""


def test_group_set_members_keep_their_role_templates() -> None:
    objs = _objects(compile_yaml(GROUP_SET))
    for i in (0, 1):
        sts = objs[("StatefulSet", f"set-{i}-web")]
        assert sts["metadata"]["labels"][V08.set_label_name] == "set"
        assert sts["metadata"]["labels"][V08.set_label_index] == str(i)
        # upstream drops roleTemplates from members (§12 #4); rbgc keeps them
        assert sts["spec"]["template"]["metadata"]["labels"]["tier"] == "web"


POLICY = """\
apiVersion: workloads.x-k8s.io/v1alpha2
kind: RoleBasedGroup
metadata:
  name: pd
spec:
  roles:
    - name: prefill
      replicas: 4
      standalonePattern:
        template:
          spec:
            containers: [{name: main, image: nginx:1.27}]
    - name: decode
      replicas: 2
      standalonePattern:
        template:
          spec:
            containers: [{name: main, image: nginx:1.27}]
---
apiVersion: workloads.x-k8s.io/v1alpha2
kind: CoordinatedPolicy
metadata:
  name: pd
spec:
  policies:
    - name: together
      roles: [prefill, decode]
      strategy:
        rollingUpdate: {maxSkew: "25%", partition: 1}
        scaling: {maxSkew: "10%", progression: OrderReady}
---
apiVersion: v1
kind: Service
metadata:
  name: pd-api
spec:
  selector:
    rolebasedgroup.workloads.x-k8s.io/name: pd
    rolebasedgroup.workloads.x-k8s.io/role: prefill
  ports: [{port: 80}]
"""


def test_coordinated_policy_binds_the_group_of_its_name_into_the_facts() -> None:
    result = compile_yaml(POLICY)
    [facts] = result.bundle.groups
    [rule] = facts.rules
    assert (rule.name, rule.roles) == ("together", ("prefill", "decode"))
    assert (rule.max_skew, rule.partition, rule.scaling_max_skew) == ("25%", 1, "10%")
    # the policy is an input of the build, not an object to apply
    assert not any(m.kind == "CoordinatedPolicy" for m in result.bundle.manifests)


def test_service_selecting_old_keys_is_told_the_new_ones() -> None:
    result = compile_yaml(POLICY)
    stale = [w for w in result.warnings if w.code == "RBG123"]
    assert len(stale) == 2
    assert all("select rbg.workloads.x-k8s.io/" in (w.help or "") for w in stale)


def test_policy_rule_naming_an_unknown_role_points_at_the_policy() -> None:
    text = POLICY.replace("roles: [prefill, decode]", "roles: [prefill, decod]")
    with pytest.raises(DiagnosticError) as caught:
        compile_yaml(text)
    [problem] = [d for d in caught.value.diagnostics if d.code == "RBG150"]
    assert problem.span is not None and problem.span.line == 27


def test_integer_max_skew_is_refused_with_the_percentage_to_write() -> None:
    text = POLICY.replace('maxSkew: "25%"', "maxSkew: 25")
    with pytest.raises(DiagnosticError) as caught:
        compile_yaml(text)
    [problem] = [d for d in caught.value.diagnostics if d.code == "RBG151"]
    assert problem.help == 'write it as a percentage: maxSkew: "25%"'


def test_the_readme_v1alpha2_example_compiles_to_its_excerpt() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### A v1alpha2 group and what it compiles to", 1)[1]
    source = section.split("<<'EOF'\n", 1)[1].split("\nEOF\n", 1)[0]
    excerpt = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    from rbgc import emit

    output = emit.yaml_stream(compile_yaml(source).bundle).splitlines()
    position = 0
    for line in excerpt.splitlines():
        wanted = line.split("  #", 1)[0].rstrip()
        assert wanted in output[position:], f"the README's line {wanted!r} is not printed there"
        position = output.index(wanted, position) + 1  # in order, each line as printed


def test_validate_checks_v1alpha2_against_its_own_schema() -> None:
    from click.testing import CliRunner

    from rbgc.cli import main

    good = str(COMPAT_V08 / "basic/rbg/patterns/leader-worker-pattern.yaml")
    result = CliRunner().invoke(main, ["validate", "-q", good])
    assert result.exit_code == 0, result.output
    bad = str(COMPAT_V08 / "basic/rbgs/rbgs-base.yaml")
    result = CliRunner().invoke(main, ["validate", bad])
    assert result.exit_code == 1
    assert "unknown field spec.groupTemplate.metadata" in result.output


STATELESS = """\
apiVersion: workloads.x-k8s.io/v1alpha2
kind: RoleBasedGroup
metadata:
  name: web
spec:
  roles:
    - name: api
      replicas: 3
      annotations: {rbg.workloads.x-k8s.io/role-instance-pattern: Stateless}
      rolloutStrategy: {rollingUpdate: {paused: true}}
      standalonePattern:
        template:
          spec:
            containers: [{name: main, image: nginx:1.27}]
"""


def test_a_stateless_role_is_a_deployment_without_index_or_config() -> None:
    result = compile_yaml(STATELESS)
    objs = _objects(result)
    deploy = objs[("Deployment", "web-api")]
    assert deploy["spec"]["paused"] is True
    env = _env(deploy["spec"]["template"])
    assert list(env) == [
        "RBG_COMPONENT_INDEX",
        "RBG_COMPONENT_NAME",
        "RBG_GROUP_NAME",
        "RBG_ROLE_INSTANCE_NAME",
        "RBG_ROLE_NAME",
    ]
    assert "volumes" not in deploy["spec"]["template"]["spec"]
    assert not any(kind == "ConfigMap" for kind, _ in objs)
    # the RoleInstanceSet's shared Service stays (roleinstanceset_reconciler.go:76)
    assert [name for kind, name in objs if kind == "Service"] == ["s-web-api"]


def test_leader_only_needs_the_default_workload() -> None:
    text = STATELESS.replace(
        "annotations: {rbg.workloads.x-k8s.io/role-instance-pattern: Stateless}",
        "annotations: {rbg.workloads.x-k8s.io/role-workload-type: "
        "leaderworkerset.x-k8s.io/v1/LeaderWorkerSet}",
    ).replace(
        "standalonePattern:\n        template:",
        "leaderWorkerPattern:\n        sharedServiceSelection: LeaderOnly\n        template:",
    )
    with pytest.raises(DiagnosticError) as caught:
        compile_yaml(text)
    assert any("LeaderOnly is only supported" in d.message for d in caught.value.diagnostics)


READS_OPERATOR_LABELS = """\
apiVersion: workloads.x-k8s.io/v1alpha2
kind: RoleBasedGroup
metadata:
  name: g
spec:
  roles:
    - name: w
      replicas: 2
      {pattern}:
        template:
          spec:
            containers:
              - name: main
                image: nginx:1.27
                env:
                  - name: MY_INDEX
                    valueFrom:
                      fieldRef:
                        fieldPath: metadata.labels['rbg.workloads.x-k8s.io/role-instance-index']
                  - name: MY_SIZE
                    valueFrom:
                      fieldRef:
                        fieldPath: metadata.labels['rbg.workloads.x-k8s.io/component-size']
"""


@pytest.mark.parametrize(
    ("pattern", "index", "size"),
    [
        (
            "standalonePattern",
            {"fieldRef": {"fieldPath": "metadata.labels['apps.kubernetes.io/pod-index']"}},
            "1",
        ),
        (
            "leaderWorkerPattern",
            {
                "fieldRef": {
                    "fieldPath": "metadata.labels['leaderworkerset.sigs.k8s.io/group-index']"
                }
            },
            "1",
        ),
    ],
)
def test_fieldrefs_to_labels_only_the_operator_stamps_are_rewritten(
    pattern: str, index: Any, size: str
) -> None:
    objs = _objects(compile_yaml(READS_OPERATOR_LABELS.format(pattern=pattern)))
    body = next(b for (k, _), b in objs.items() if k in ("StatefulSet", "LeaderWorkerSet"))
    template = (
        body["spec"]["template"]
        if body["kind"] == "StatefulSet"
        else body["spec"]["leaderWorkerTemplate"]["leaderTemplate"]
    )
    env = _env(template)
    assert env["MY_INDEX"] == index
    assert env["MY_SIZE"] == size


def test_krm_drops_consumed_inputs_and_retargets_the_hpa() -> None:
    import yaml

    from rbgc import krm

    path = COMPAT_V08 / "basic/rbg/scaling/scaling-adapter-with-hpa.yaml"
    items = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    text = yaml.safe_dump(
        {"apiVersion": krm.API_VERSIONS[0], "kind": "ResourceList", "items": items}
    )
    outcome = krm.run(text, Options())
    assert outcome.ok
    out = yaml.safe_load(outcome.text)["items"]
    assert "RoleBasedGroupScalingAdapter" not in {i["kind"] for i in out}
    [hpa] = [i for i in out if i["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "StatefulSet"


def test_components_become_one_statefulset_per_instance_and_component() -> None:
    result = _compile("basic/rbg/patterns/custom-components-pattern.yaml")
    objs = _objects(result)
    w = "custom-components-demo-engine"
    names = sorted(n for k, n in objs if k == "StatefulSet")
    assert names == sorted(
        f"{w}-{i}-{c}"
        for i in range(3)
        for c in ("custom-component-1", "custom-component-2", "monitoring-sidecar")
    )
    sts = objs[("StatefulSet", f"{w}-2-custom-component-2")]["spec"]
    # pods {W}-{i}-{c}-{k}: the operator's names, behind its Service
    assert (sts["replicas"], sts["serviceName"]) == (2, f"s-{w}")
    env = _env(sts["template"])
    assert env["RBG_COMPONENT_NAME"] == "custom-component-2"
    assert env["RBG_ROLE_INDEX"] == "2"
    assert env["RBG_ROLE_INSTANCE_NAME"] == f"{w}-2"
    assert list(env)[: len(INSTANCE_ENV)] == INSTANCE_ENV
    # the facts: one role, every component pod counted
    [facts] = result.bundle.groups
    [role] = facts.roles
    assert (role.replicas, role.size, len(role.workloads)) == (3, 4, 9)


def test_a_component_without_size_is_refused() -> None:
    text = (COMPAT_V08 / "basic/rbg/patterns/custom-components-pattern.yaml").read_text(
        encoding="utf-8"
    )
    with pytest.raises(DiagnosticError) as caught:
        compile_yaml(text.replace("            size: 2\n", "", 1))
    assert any(d.code == "RBG103" and "no `size`" in d.message for d in caught.value.diagnostics)


def test_components_config_addresses_name_real_pods() -> None:
    objs = _objects(_compile("basic/rbg/patterns/custom-components-pattern.yaml"))
    config = objs[("ConfigMap", "custom-components-demo")]["data"]["config.yaml"]
    w = "custom-components-demo-engine"
    # the instance's first component's first pod, behind the role's Service
    assert f"- address: {w}-1-custom-component-1-0.s-{w}\n" in config
