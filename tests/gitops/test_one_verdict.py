"""One verdict for one input (issue 18, item 3): `rbgc validate DIR` and `rbgc build DIR` (what
Argo CD runs) read a folder by one rule, so a passing `validate` means the build passes.

The rule: a file none of whose documents has two of `apiVersion`, `kind` and `metadata` (a Helm
values.yaml, a CI workflow, docker-compose, a Helm Chart.yaml or plugin.yaml, whose
`apiVersion` is Helm's) holds no Kubernetes object and is skipped, as Argo CD skips YAML that
is not a manifest in a directory app (a file that does not decode is an error only when it
holds `apiVersion:`, `kind:` and `metadata:`, else "it might be an unrelated YAML file which we
will ignore": argoproj/argo-cd@37ee0097 reposerver/repository/repository.go:2084-2104, under
`findManifests`); so are kustomize's own configuration documents (`kustomize.config.k8s.io`,
never applied to a cluster). Everything else is read strictly. Inputs that leave nothing to
compile are RBG011 for both.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rbgc.cli import main
from rbgc.diagnostics import DiagnosticError
from rbgc.pipeline import Options, compile_paths
from rbgc.validation import validate_paths
from tests.gitops.helpers import write

GROUP = """\
apiVersion: workloads.x-k8s.io/v1alpha1
kind: RoleBasedGroup
metadata: {{name: {name}}}
spec:
  roles:
    - name: server
      template:
        spec:
          containers: [{{name: c, image: example.com/c:v1}}]
"""
# the kinds of file a repository holds beside its manifests, and manifests good and bad
FILES = {
    "group": GROUP.format(name="a"),
    "other-group": GROUP.format(name="b"),
    "same-group": GROUP.format(name="a"),  # with "group": the same objects twice (RBG113)
    "bad-dependency": GROUP.format(name="c").replace(
        "    - name: server\n", "    - name: server\n      dependencies: [nobody]\n"
    ),
    "no-image": GROUP.format(name="d").replace(", image: example.com/c:v1", ""),
    "bad-port": GROUP.format(name="e").replace(
        "image: example.com/c:v1}", 'image: example.com/c:v1, ports: [{containerPort: "80"}]}'
    ),
    "config-map": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: b}\n",
    "helm-values": "replicaCount: 2\nimage:\n  repository: nginx\n  tag: '1.27'\n",
    "workflow": "on:\n  push: {branches: [main]}\njobs: {test: {runs-on: ubuntu-latest}}\n",
    "compose": 'services:\n  web: {image: "nginx:1.27", ports: ["8080:80"]}\n',
    "comments": "# nothing here yet\n",
    "kustomization": "resources: [a.yaml]\n",
    "kustomization-typed": (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n"
    ),
    "kind-only": "kind: ConfigMap\nmetadata: {name: forgot-api-version}\n",
    "kind-misspelt": "apiVersion: v1\nkin: ConfigMap\nmetadata: {name: x}\n",
    # Helm's own files: an apiVersion of Helm's, no kind, no metadata
    "helm-chart": "apiVersion: v2\nname: web\ndescription: A chart\nversion: 0.1.0\n",
    "helm-plugin": "apiVersion: v1\ntype: postrenderer/v1\nname: rbgc\nversion: 0.1.0\n",
    "half-object": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\nreplicas: 2\n",
    "broken-yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [\n",
    "values-with-dup": "a: 1\na: 2\n",
}
FOLDERS = st.dictionaries(
    st.sampled_from(["a.yaml", "b.yml", "sub/c.yaml", "sub/deeper/d.yaml", "e.yaml"]),
    st.sampled_from(sorted(FILES)),
    min_size=1,
    max_size=4,
)


def verdicts(folder: Path) -> tuple[bool, int | None, bool, int | None]:
    """(validate passes, its object count, build passes, its object count)."""
    options = Options(root=str(folder))
    try:
        outcome = validate_paths([str(folder)], options, "1.33")
        valid, counted = not outcome.errors, outcome.objects
    except DiagnosticError:
        valid, counted = False, None
    try:
        built: int | None = len(compile_paths([str(folder)], options).bundle.manifests)
    except DiagnosticError:
        built = None
    return valid, counted, built is not None, built


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(FOLDERS)
def test_a_folder_validate_passes_builds(
    tmp_path_factory: pytest.TempPathFactory, files: dict[str, str]
) -> None:
    folder = tmp_path_factory.mktemp("repo")
    write(folder, {name: FILES[kind] for name, kind in files.items()})
    valid, counted, built, objects = verdicts(folder)
    if valid:
        assert built, f"validate passed, build failed: {files}"
        assert counted == objects, f"validate counted {counted} objects, build made {objects}"


@pytest.mark.parametrize(
    "other",
    [
        "helm-values",
        "workflow",
        "compose",
        "comments",
        "kustomization",
        "kustomization-typed",
        "helm-chart",
        "helm-plugin",
    ],
)
def test_a_file_without_objects_beside_a_group_is_skipped_by_both(
    tmp_path: Path, other: str
) -> None:
    """Was: validate skipped a Helm values.yaml and passed, build failed with RBG009."""
    both, alone = tmp_path / "both", tmp_path / "alone"
    write(both, {"group.yaml": FILES["group"], "values.yaml": FILES[other]})
    write(alone, {"group.yaml": FILES["group"]})
    assert verdicts(both) == verdicts(alone) == (True, 3, True, 3)
    runner = CliRunner()
    built = runner.invoke(main, ["build", str(both)])
    assert built.exit_code == 0, built.stderr
    assert built.stdout == runner.invoke(main, ["build", str(alone)]).stdout


@pytest.mark.parametrize("command", ["build", "validate"])
def test_a_folder_of_no_objects_is_refused_by_both(tmp_path: Path, command: str) -> None:
    """Nothing to compile is RBG011 for both: an empty build would let Argo CD prune."""
    write(tmp_path, {"values.yaml": FILES["helm-values"], "ci.yaml": FILES["workflow"]})
    ran = CliRunner().invoke(main, [command, str(tmp_path)])
    assert (ran.exit_code, ran.stdout) == (1, ""), ran.stderr
    assert (
        f"{tmp_path}: error[RBG011]: no Kubernetes objects found: none of its *.yaml and *.yml "
        "files holds a document with two of apiVersion, kind and metadata"
    ) in ran.stderr


@pytest.mark.parametrize("command", ["build", "validate"])
def test_a_chart_folder_is_refused_with_the_rule_that_skipped_it(
    tmp_path: Path, command: str
) -> None:
    """A Chart.yaml has an apiVersion: "no document has apiVersion or kind" was false. Argo CD
    reads a file as manifests only with two of apiVersion, kind and metadata (inputs.py)."""
    write(tmp_path, {"Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n"})
    ran = CliRunner().invoke(main, [command, str(tmp_path)])
    assert (ran.exit_code, ran.stdout) == (1, ""), ran.stderr
    assert (
        f"{tmp_path}: error[RBG011]: no Kubernetes objects found: none of its *.yaml and *.yml "
        "files holds a document with two of apiVersion, kind and metadata"
    ) in ran.stderr


@pytest.mark.parametrize("command", ["build", "validate"])
def test_a_named_file_without_objects_says_so(tmp_path: Path, command: str) -> None:
    write(tmp_path, {"values.yaml": FILES["helm-values"]})
    ran = CliRunner().invoke(main, [command, str(tmp_path / "values.yaml")])
    assert ran.exit_code == 1
    assert (
        f"{tmp_path / 'values.yaml'}: error[RBG011]: no Kubernetes objects found: no document "
        "of the file has two of apiVersion, kind and metadata"
    ) in ran.stderr


@pytest.mark.parametrize("command", ["build", "validate"])
@pytest.mark.parametrize("broken", ["kind-only", "kind-misspelt", "half-object"])
def test_a_manifest_missing_a_field_is_still_refused(
    tmp_path: Path, command: str, broken: str
) -> None:
    """Skipping Helm's files must not skip a manifest with a typo: two of the three fields
    make a document an object, which is then read strictly (RBG009)."""
    write(tmp_path, {"group.yaml": FILES["group"], "broken.yaml": FILES[broken]})
    ran = CliRunner().invoke(main, [command, str(tmp_path)])
    assert ran.exit_code == 1
    assert "error[RBG009]" in ran.stderr
