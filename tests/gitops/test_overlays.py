"""Overlays: every transformation, the worked examples in overlays/, and every error."""

from __future__ import annotations

import os
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from click.testing import CliRunner

from rbgc.cli import main
from rbgc.diagnostics import DiagnosticError
from rbgc.overlays import find_root, join_image, split_image
from rbgc.pipeline import Options, Result, compile_paths
from tests.gitops.helpers import ROOT, docs, write

GROUP = """\
    apiVersion: workloads.x-k8s.io/v1alpha1
    kind: RoleBasedGroup
    metadata:
      name: pd
    spec:
      roles:
        - name: prefill
          replicas: 2
          template:
            spec:
              containers:
                - name: engine
                  image: example.com/engine:v1
                  args: [--mode=prefill, --tp=2]
                  env:
                    - {name: A, value: "1"}
                    - {name: B, value: "2"}
                - name: sidecar
                  image: example.com/proxy@sha256:0123456789abcdef0123456789abcdef
        - name: decode
          replicas: 1
          template:
            spec:
              containers:
                - name: engine
                  image: registry:5000/team/engine:v1
        - name: router
          dependencies: [prefill, decode]
          workload: {apiVersion: apps/v1, kind: Deployment}
          template:
            spec:
              containers:
                - name: router
                  image: example.com/router:v1
    ---
    apiVersion: v1
    kind: Service
    metadata:
      name: pd
    spec:
      selector:
        rolebasedgroup.workloads.x-k8s.io/name: pd
        rolebasedgroup.workloads.x-k8s.io/role: router
      ports: [{port: 80}]
    ---
    apiVersion: v1
    kind: Namespace
    metadata:
      name: shared
    """


def build(tmp_path: Path, overlay: str, extra: dict[str, str] | None = None) -> Result:
    write(tmp_path, {"base/group.yaml": GROUP, "env/overlay.yaml": overlay, **(extra or {})})
    return compile_paths([str(tmp_path / "env")], Options(root=str(tmp_path)))


def objects(result: Result) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m.kind, m.name): m.body for m in result.bundle.manifests}


def cli(args: list[str]) -> tuple[int, str, str]:
    out = CliRunner().invoke(main, args)
    return out.exit_code, out.stdout, out.stderr


HEAD = "apiVersion: rbgc.io/v1alpha1\nkind: Overlay\nbase: ../base\n"


def test_namespace_reaches_namespaced_objects_only(tmp_path: Path) -> None:
    made = objects(build(tmp_path, HEAD + "namespace: team-a\n"))
    assert made[("StatefulSet", "pd-prefill")]["metadata"]["namespace"] == "team-a"
    assert made[("Service", "pd")]["metadata"]["namespace"] == "team-a"
    assert "namespace" not in made[("Namespace", "shared")]["metadata"]


def test_prefix_and_suffix_rename_group_and_follow_selectors(tmp_path: Path) -> None:
    made = objects(build(tmp_path, HEAD + "namePrefix: eu-\nnameSuffix: -prod\n"))
    sts = made[("StatefulSet", "eu-pd-prod-prefill")]
    assert sts["spec"]["selector"]["matchLabels"]["rolebasedgroup.workloads.x-k8s.io/name"] == (
        "eu-pd-prod"
    )
    service = made[("Service", "eu-pd-prod")]
    assert service["spec"]["selector"]["rolebasedgroup.workloads.x-k8s.io/name"] == "eu-pd-prod"
    assert ("Namespace", "shared") in made  # namespaces keep their names


def test_prefix_renames_a_topology_and_its_placements_follow(tmp_path: Path) -> None:
    placement = dedent(
        """\
        apiVersion: rbgc.io/v1alpha1
        kind: Topology
        metadata: {name: gpu}
        spec:
          tiers: [{name: host, nodeLabel: kubernetes.io/hostname}]
        ---
        apiVersion: rbgc.io/v1alpha1
        kind: Placement
        metadata: {name: pd}
        spec:
          topology: gpu
          rules: [{roles: [prefill], pack: {required: host}}]
        """
    )
    result = build(tmp_path, HEAD + "namePrefix: eu-\n", {"base/placement.yaml": placement})
    made = objects(result)
    sts = made[("StatefulSet", "eu-pd-prefill")]
    (term,) = sts["spec"]["template"]["spec"]["affinity"]["podAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert term["topologyKey"] == "kubernetes.io/hostname"


def test_common_labels_and_annotations_never_reach_selectors(tmp_path: Path) -> None:
    overlay = HEAD + "commonLabels: {env: prod}\ncommonAnnotations: {team: infra}\n"
    made = objects(build(tmp_path, overlay))
    sts = made[("StatefulSet", "pd-prefill")]
    assert sts["metadata"]["labels"]["env"] == "prod"
    assert sts["metadata"]["annotations"]["team"] == "infra"
    assert sts["spec"]["template"]["metadata"]["labels"]["env"] == "prod"
    assert sts["spec"]["template"]["metadata"]["annotations"]["team"] == "infra"
    assert "env" not in sts["spec"]["selector"]["matchLabels"]
    service = made[("Service", "pd")]
    assert service["metadata"]["labels"] == {"env": "prod"}
    assert "env" not in service["spec"]["selector"]


def test_images_new_name_new_tag_and_digest(tmp_path: Path) -> None:
    overlay = HEAD + (
        "images:\n"
        "  - {name: example.com/engine, newTag: v2}\n"
        "  - {name: registry:5000/team/engine, newName: mirror.io/engine}\n"
        "  - {name: example.com/router, digest: 'sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'}\n"
        "  - {name: example.com/proxy, newName: mirror.io/proxy}\n"
    )
    made = objects(build(tmp_path, overlay))
    prefill = made[("StatefulSet", "pd-prefill")]["spec"]["template"]["spec"]["containers"]
    assert [c["image"] for c in prefill] == [
        "example.com/engine:v2",
        "mirror.io/proxy@sha256:0123456789abcdef0123456789abcdef",
    ]
    decode = made[("StatefulSet", "pd-decode")]["spec"]["template"]["spec"]["containers"]
    assert decode[0]["image"] == "mirror.io/engine:v1"
    router = made[("Deployment", "pd-router")]["spec"]["template"]["spec"]["containers"]
    assert router[0]["image"] == "example.com/router@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"


@pytest.mark.parametrize(
    ("image", "parts"),
    [
        ("nginx", ("nginx", "", "")),
        ("nginx:1.27", ("nginx", "1.27", "")),
        ("registry:5000/a/b", ("registry:5000/a/b", "", "")),
        ("registry:5000/a/b:t@sha256:ff", ("registry:5000/a/b", "t", "sha256:ff")),
    ],
)
def test_split_and_join_image(image: str, parts: tuple[str, str, str]) -> None:
    assert split_image(image) == parts
    assert join_image(*parts) == (image if not parts[2] else f"{parts[0]}@{parts[2]}")


def test_patch_merges_by_role_and_container_name(tmp_path: Path) -> None:
    overlay = HEAD + dedent("""\
        patches:
          - patch:
              spec:
                roles:
                  - name: decode
                    replicas: 3
                  - name: prefill
                    template:
                      spec:
                        containers:
                          - name: engine
                            args: [--mode=prefill]
                            env:
                              - {name: B, value: "20"}
                              - {name: C, value: "3"}
                          - name: sidecar
                            $patch: delete
                  - name: router
                    $patch: delete
                  - name: extra
                    template:
                      spec:
                        containers: [{name: x, image: example.com/x:v1}]
        """)
    made = objects(build(tmp_path, overlay))
    assert made[("StatefulSet", "pd-decode")]["spec"]["replicas"] == 3
    engine = made[("StatefulSet", "pd-prefill")]["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in engine] == ["engine"]
    assert engine[0]["args"] == ["--mode=prefill"]  # unnamed lists are replaced
    user_env = [(e["name"], e.get("value")) for e in engine[0]["env"] if e["name"] in "ABC"]
    assert user_env == [("A", "1"), ("B", "20"), ("C", "3")]
    assert ("Deployment", "pd-router") not in made
    assert ("StatefulSet", "pd-extra") in made


def test_patch_replace_null_and_target(tmp_path: Path) -> None:
    overlay = HEAD + dedent("""\
        patches:
          - target: {kind: RoleBasedGroup, name: pd}
            patch:
              spec:
                roles:
                  - name: prefill
                    template:
                      spec:
                        $patch: replace
                        containers: [{name: only, image: example.com/only:v1}]
                  - name: decode
                    replicas: null
          - target: {kind: Service, name: pd}
            patch:
              spec:
                ports: [{port: 8080}]
        """)
    made = objects(build(tmp_path, overlay))
    prefill = made[("StatefulSet", "pd-prefill")]["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in prefill] == ["only"]
    assert made[("StatefulSet", "pd-decode")]["spec"]["replicas"] == 1  # the default again
    assert made[("Service", "pd")]["spec"]["ports"] == [{"port": 8080}]


def test_overlay_of_an_overlay(tmp_path: Path) -> None:
    extra = {
        "top/overlay.yaml": """\
            apiVersion: rbgc.io/v1alpha1
            kind: Overlay
            base: ../env
            nameSuffix: -b
            """
    }
    build(tmp_path, HEAD + "nameSuffix: -a\nnamespace: one\n", extra)
    result = compile_paths([str(tmp_path / "top")], Options(root=str(tmp_path)))
    made = objects(result)
    assert made[("StatefulSet", "pd-a-b-prefill")]["metadata"]["namespace"] == "one"


def test_patched_value_errors_point_at_the_overlay(tmp_path: Path) -> None:
    overlay = HEAD + dedent("""\
        patches:
          - patch:
              spec:
                roles:
                  - name: decode
                    replicas: two
        """)
    with pytest.raises(DiagnosticError) as caught:
        build(tmp_path, overlay)
    (problem,) = caught.value.diagnostics
    assert problem.code == "RBG101"
    assert str(problem.span) == f"{tmp_path}/env/overlay.yaml:9:23"


def test_unpatched_errors_still_point_at_the_base(tmp_path: Path) -> None:
    bad = GROUP.replace("dependencies: [prefill, decode]", "dependencies: [prefil, decode]")
    write(tmp_path, {"base/group.yaml": bad, "env/overlay.yaml": HEAD + "namespace: x\n"})
    with pytest.raises(DiagnosticError) as caught:
        compile_paths([str(tmp_path / "env")], Options(root=str(tmp_path)))
    with pytest.raises(DiagnosticError) as direct:
        compile_paths([str(tmp_path / "base")], Options(root=str(tmp_path)))
    (problem,) = caught.value.diagnostics
    assert problem.code == "RBG201"
    assert str(problem.span) == str(direct.value.diagnostics[0].span)
    assert str(problem.span).startswith(f"{tmp_path}/base/group.yaml:28:")


# -- the worked examples ---------------------------------------------------------------------


def example(name: str) -> dict[tuple[str, str], dict[str, Any]]:
    code, out, err = cli(["build", str(ROOT / "overlays" / name), "--root", str(ROOT)])
    assert code == 0, err
    return {(d["kind"], d["metadata"]["name"]): d for d in docs(out)}


def test_prod_example() -> None:
    made = example("prod")
    prefill = made[("StatefulSet", "sglang-pd-prod-prefill")]
    assert prefill["metadata"]["namespace"] == "llm-prod"
    assert prefill["spec"]["replicas"] == 4
    pod = prefill["spec"]["template"]
    assert pod["metadata"]["labels"]["env"] == "prod"
    assert pod["metadata"]["annotations"]["oncall.example.com/pager"] == "inference-primary"
    engine = pod["spec"]["containers"][0]
    assert engine["image"].startswith("registry.example.com/mirror/sglang@sha256:")
    assert {"name": "SGLANG_LOG_LEVEL", "value": "warning"} in engine["env"]
    decode = made[("StatefulSet", "sglang-pd-prod-decode")]
    assert decode["spec"]["template"]["spec"]["nodeSelector"] == {"cloud.example.com/gpu": "h100"}
    assert made[("Deployment", "sglang-pd-prod-router")]["spec"]["replicas"] == 3
    service = made[("Service", "sglang-pd-prod")]
    assert service["spec"]["selector"]["rolebasedgroup.workloads.x-k8s.io/name"] == (
        "sglang-pd-prod"
    )


def test_dev_example() -> None:
    made = example("dev")
    assert not [k for k in made if "router" in k[1]]
    prefill = made[("StatefulSet", "sglang-pd-prefill")]
    assert prefill["metadata"]["namespace"] == "llm-dev"
    assert prefill["spec"]["replicas"] == 1
    engine = prefill["spec"]["template"]["spec"]["containers"][0]
    assert engine["image"] == "lmsysorg/sglang:v0.5.2-nightly"
    assert "--model-path=/models/Qwen3-0.6B" in engine["args"]
    assert (
        made[("Service", "sglang-pd")]["spec"]["selector"]["rolebasedgroup.workloads.x-k8s.io/role"]
        == "prefill"
    )


def test_base_example_matches_the_pd_example_up_to_the_router_addresses() -> None:
    base = (ROOT / "overlays/base/pd-disaggregated.yaml").read_text().split("apiVersion", 1)[1]
    original = (ROOT / "examples/pd-disaggregated.yaml").read_text().split("apiVersion", 1)[1]
    for role in ("prefill", "decode"):
        original = original.replace(
            f"sglang-pd-{role}-0.sglang-pd-{role}", f"$(GROUP_NAME)-{role}-0.$(GROUP_NAME)-{role}"
        )
    assert base == original


# -- errors: each at its location, exit code 1, nothing on stdout ----------------------------


def fails(tmp_path: Path, files: dict[str, str], target: str = "env") -> tuple[str, str]:
    write(tmp_path, files)
    os.chdir(tmp_path)
    code, out, err = cli(["build", target, "--root", "."])
    assert (code, out) == (1, ""), err
    assert "Traceback" not in err
    first, help_line = err.splitlines()[:2]
    assert help_line.startswith("  help: ")
    return first, err


@pytest.fixture(autouse=True)
def _keep_cwd() -> Any:
    cwd = os.getcwd()
    yield
    os.chdir(cwd)


def test_cycle_between_overlays(tmp_path: Path) -> None:
    first, err = fails(
        tmp_path,
        {
            "dev/overlay.yaml": "apiVersion: rbgc.io/v1alpha1\nkind: Overlay\nbase: ../prod\n",
            "prod/overlay.yaml": "apiVersion: rbgc.io/v1alpha1\nkind: Overlay\nbase: ../dev\n",
        },
        "dev",
    )
    assert first == (
        "prod/overlay.yaml:3:7: error[RBG701]: overlay cycle: dev/overlay.yaml (base: ../prod) "
        "-> prod/overlay.yaml (base: ../dev) -> dev/overlay.yaml (base: ../prod)"
    ), first
    notes = [line for line in err.splitlines() if line.startswith("  note: ")]
    assert notes == [  # each base once
        "  note: dev/overlay.yaml:3:7: this base is part of the cycle",
        "  note: prod/overlay.yaml:3:7: this base is part of the cycle",
    ]


def test_overlay_that_is_its_own_base(tmp_path: Path) -> None:
    first, _ = fails(
        tmp_path, {"env/overlay.yaml": "apiVersion: rbgc.io/v1alpha1\nkind: Overlay\nbase: .\n"}
    )
    assert first.startswith("env/overlay.yaml:3:7: error[RBG701]: overlay cycle: ")


def test_missing_base(tmp_path: Path) -> None:
    first, _ = fails(tmp_path, {"env/overlay.yaml": HEAD.replace("../base", "../bsae")})
    assert first == "env/overlay.yaml:3:7: error[RBG702]: base '../bsae' does not exist"


def test_empty_base(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    first, _ = fails(tmp_path, {"env/overlay.yaml": HEAD})
    assert first == "env/overlay.yaml:3:7: error[RBG702]: base 'base' holds no Kubernetes objects"


def test_absolute_base(tmp_path: Path) -> None:
    first, _ = fails(tmp_path, {"env/overlay.yaml": HEAD.replace("../base", "/etc")})
    assert first == "env/overlay.yaml:3:7: error[RBG703]: base '/etc' is an absolute path"


def test_base_outside_the_root(tmp_path: Path) -> None:
    inner = tmp_path / "repo"
    write(tmp_path, {"base/group.yaml": GROUP})
    first, _ = fails(inner, {"env/overlay.yaml": HEAD.replace("../base", "../../base")})
    assert first.startswith(
        f"env/overlay.yaml:3:7: error[RBG703]: base '../../base' resolves to {tmp_path}/base, "
        f"outside the root {inner}"
    ), first


def test_symlink_out_of_the_root(tmp_path: Path) -> None:
    write(tmp_path, {"outside/group.yaml": GROUP})
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "base").symlink_to(tmp_path / "outside")
    first, _ = fails(tmp_path / "repo", {"env/overlay.yaml": HEAD})
    assert "error[RBG703]: base '../base' resolves to" in first


def test_schema_violation(tmp_path: Path) -> None:
    first, _ = fails(
        tmp_path, {"base/group.yaml": GROUP, "env/overlay.yaml": HEAD + "nameSufix: -prod\n"}
    )
    assert first == "env/overlay.yaml:4:1: error[RBG704]: unknown overlay field nameSufix"
    assert "help: did you mean 'nameSuffix'?" in _


def test_reserved_common_label(tmp_path: Path) -> None:
    first, _ = fails(
        tmp_path,
        {
            "base/group.yaml": GROUP,
            "env/overlay.yaml": HEAD
            + "commonLabels:\n  rolebasedgroup.workloads.x-k8s.io/name: x\n",
        },
    )
    assert first == (
        "env/overlay.yaml:5:3: error[RBG704]: commonLabels.rolebasedgroup.workloads.x-k8s.io/name:"
        " the key must be a label key outside rolebasedgroup(set).workloads.x-k8s.io/ (those"
        " identify the group)"
    )


def test_patch_that_matches_nothing(tmp_path: Path) -> None:
    overlay = HEAD + "patches:\n  - target: {name: other}\n    patch: {spec: {}}\n"
    first, _ = fails(tmp_path, {"base/group.yaml": GROUP, "env/overlay.yaml": overlay})
    assert first == "env/overlay.yaml:5:5: error[RBG705]: patch 1 matches no object of the base"


def test_delete_of_an_unknown_role(tmp_path: Path) -> None:
    overlay = HEAD + (
        "patches:\n  - patch:\n      spec:\n        roles:\n"
        "          - name: decoder\n            $patch: delete\n"
    )
    first, _ = fails(tmp_path, {"base/group.yaml": GROUP, "env/overlay.yaml": overlay})
    assert first == (
        "env/overlay.yaml:8:19: error[RBG705]: `$patch: delete` names 'decoder', which the "
        "base does not have"
    )


def test_unknown_patch_directive(tmp_path: Path) -> None:
    overlay = HEAD + (
        "patches:\n  - patch:\n      spec:\n        roles:\n"
        "          - name: decode\n            $patch: remove\n"
    )
    first, _ = fails(tmp_path, {"base/group.yaml": GROUP, "env/overlay.yaml": overlay})
    assert first == "env/overlay.yaml:9:21: error[RBG706]: unknown patch directive `$patch: remove`"


def test_find_root(tmp_path: Path) -> None:
    (tmp_path / "repo" / "apps" / "prod").mkdir(parents=True)
    assert find_root(tmp_path / "repo" / "apps" / "prod", {}) == tmp_path / "repo" / "apps" / "prod"
    env = {"ARGOCD_APP_SOURCE_PATH": "apps/prod"}
    assert find_root(tmp_path / "repo" / "apps" / "prod", env) == tmp_path / "repo"
    (tmp_path / "repo" / ".git").mkdir()
    assert find_root(tmp_path / "repo" / "apps" / "prod", {}) == tmp_path / "repo"


def test_common_labels_reach_role_templates_used_through_template_ref(tmp_path: Path) -> None:
    """A role with templateRef has no template of its own; the labels go to roleTemplates."""
    from rbgc.pipeline import Options, compile_paths

    (tmp_path / "base").mkdir()
    (tmp_path / "env").mkdir()
    (tmp_path / "base" / "g.yaml").write_text(
        (ROOT / "examples" / "multi-node-gang.yaml").read_text()
    )
    (tmp_path / "env" / "overlay.yaml").write_text(
        "apiVersion: rbgc.io/v1alpha1\nkind: Overlay\nbase: ../base\ncommonLabels: {env: prod}\n"
    )
    result = compile_paths([str(tmp_path / "env")], Options(root=str(tmp_path)))
    prefill = next(
        m
        for m in result.bundle.manifests
        if m.name == "llama-70b-prefill" and m.kind == "StatefulSet"
    )
    assert prefill.body["spec"]["template"]["metadata"]["labels"]["env"] == "prod"
    assert "env" not in prefill.body["spec"]["selector"]["matchLabels"]


def test_namespace_leaves_every_cluster_scoped_kind_alone(tmp_path: Path) -> None:
    # issue 8 item 15: overlays had a 13-kind table of their own beside conventions' 23 kinds
    extra = {
        "base/csi.yaml": "apiVersion: storage.k8s.io/v1\nkind: CSIDriver\nmetadata: {name: d}\n",
        "base/vap.yaml": "apiVersion: admissionregistration.k8s.io/v1\n"
        "kind: ValidatingAdmissionPolicy\nmetadata: {name: p}\nspec: {}\n",
    }
    made = objects(build(tmp_path, HEAD + "namespace: team-a\n", extra))
    assert "namespace" not in made[("CSIDriver", "d")]["metadata"]
    assert "namespace" not in made[("ValidatingAdmissionPolicy", "p")]["metadata"]


@pytest.mark.parametrize(
    ("head", "first", "hint"),
    [
        # each of these used to pass through as an object, exit 0: the overlay the user meant
        # was silently not applied, and Argo CD would fail to apply the stray document
        (
            "apiVersion: rbgc.io/v1alpha1\nkind: Overlays\n",
            "env/overlay.yaml:2:7: error[RBG104]: rbgc.io has no kind Overlays",
            "  help: did you mean 'Overlay'?",
        ),
        (
            "apiVersion: rbgc.io/v1alpha1\nkind: overlay\n",
            "env/overlay.yaml:2:7: error[RBG104]: rbgc.io has no kind overlay",
            "  help: did you mean 'Overlay'?",
        ),
        (
            "apiVersion: rbgc.io/v1beta1\nkind: Overlay\n",
            "env/overlay.yaml:1:13: error[RBG104]: rbgc reads Overlay as rbgc.io/v1alpha1, "
            "not rbgc.io/v1beta1",
            "  help: did you mean 'apiVersion: rbgc.io/v1alpha1'?",
        ),
        (
            "apiVersion: rbg.io/v1alpha1\nkind: Overlay\n",
            "env/overlay.yaml:1:13: error[RBG104]: API group rbg.io is not rbgc.io",
            "  help: did you mean 'apiVersion: rbgc.io/v1alpha1'?",
        ),
        (
            "apiVersion: v1alpha1\nkind: Overlay\n",
            "env/overlay.yaml:1:13: error[RBG104]: Overlay v1alpha1 is not an object of the core "
            "API",
            "  help: did you mean 'apiVersion: rbgc.io/v1alpha1'?",
        ),
    ],
)
def test_misspelt_overlay_is_an_error(tmp_path: Path, head: str, first: str, hint: str) -> None:
    overlay = head + "metadata: {name: env}\nbase: ../base\n"
    said, err = fails(tmp_path, {"base/group.yaml": GROUP, "env/overlay.yaml": overlay})
    assert said == first
    assert err.splitlines()[1] == hint


@pytest.mark.parametrize("target", ["base", "env"])
def test_misspelt_topology_is_an_error(tmp_path: Path, target: str) -> None:
    """Also in an overlay's base."""
    topology = "apiVersion: rbgc.io/v1alpha1\nkind: Topolgy\nmetadata: {name: t}\nspec: {}\n"
    files = {"base/group.yaml": GROUP, "base/t.yaml": topology, "env/overlay.yaml": HEAD}
    said, err = fails(tmp_path, files, target)
    assert said == "base/t.yaml:2:7: error[RBG104]: rbgc.io has no kind Topolgy"
    assert err.splitlines()[1] == "  help: did you mean 'Topology'?"


def test_other_groups_kinds_named_like_rbgcs_pass_through(tmp_path: Path) -> None:
    """Open Cluster Management has a `Placement` too: only rbgc's own group is rbgc's."""
    ocm = (
        "apiVersion: cluster.open-cluster-management.io/v1beta1\nkind: Placement\n"
        "metadata: {name: p, namespace: llm}\nspec: {}\n"
    )
    write(tmp_path, {"base/group.yaml": GROUP, "base/ocm.yaml": ocm})
    os.chdir(tmp_path)
    code, out, err = cli(["build", "base"])
    assert code == 0, err
    assert "kind: Placement" in out


def test_a_base_folder_is_read_as_every_input(tmp_path: Path) -> None:
    """README, "Which files are read": one rule for every command, so a base folder's Helm
    values.yaml (no object) is skipped and its kustomization.yaml is not emitted, as when the
    folder is built itself."""
    files = {
        "base/group.yaml": GROUP,
        "base/values.yaml": "replicaCount: 3\nimage: {tag: v2}\n",
        "base/kustomization.yaml": (
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            "resources: [group.yaml]\n"
        ),
        "env/overlay.yaml": HEAD + "namespace: env\n",
    }
    write(tmp_path, files)
    os.chdir(tmp_path)
    code, out, err = cli(["build", "env"])
    assert code == 0, err
    direct = cli(["build", "base", "--namespace", "env"])
    assert direct[0] == 0, direct[2]
    assert "Kustomization" not in out

    def names(stream: str) -> list[tuple[str, str]]:
        return sorted((d["kind"], d["metadata"]["name"]) for d in docs(stream))

    assert names(out) == names(direct[1])


def test_an_image_rewrite_without_its_fields_says_which_it_needs(tmp_path: Path) -> None:
    first, _ = fails(
        tmp_path,
        {
            "base/group.yaml": GROUP,
            "env/overlay.yaml": HEAD + ("images:\n  - nam: example.com/engine\n    newTg: v2\n"),
        },
    )
    assert first == (
        "env/overlay.yaml:5:5: error[RBG704]: images[0]: expected `name` and at least one of "
        "`newName`, `newTag`, `digest`, got a mapping"
    )
