"""examples/in-cluster/: the manifests that run `rbgc sync --watch` in a cluster are strictly
valid, and their RBAC grants exactly what a watcher uses: every request of a watcher that
converges the example's groups, recreates a group and a leader/worker group is recorded
against the emulator, turned into RBAC's (apiGroup, resource, verb), and compared with the
ClusterRole's rules."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from rbgc.cli import main
from rbgc.k8s.conventions import LABEL_NAME, LABEL_ROLE
from rbgc.model import LwsLowering
from rbgc.model import Target as Build
from rbgc.pipeline import Options, compile_paths
from rbgc.sync.cluster import WallClock
from rbgc.sync.kube import connect
from rbgc.sync.run import Connection, Where, sync
from rbgc.sync.watch import Watcher
from tests.sync.emulator import serve
from tests.sync.helpers import V

HERE = Path(__file__).resolve().parents[2] / "examples" / "in-cluster"


def _documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((HERE / name).read_text()) if d]


def test_the_in_cluster_manifests_are_strictly_valid() -> None:
    result = CliRunner().invoke(main, ["validate", str(HERE)])
    assert result.exit_code == 0, result.stderr
    result = CliRunner().invoke(main, ["build", "--strict", str(HERE)])
    assert result.exit_code == 0, result.stderr
    kinds = sorted(d["kind"] for f in HERE.glob("*.yaml") for d in _documents(f.name))
    assert kinds == [
        "ClusterRole",
        "ConfigMap",
        "Deployment",
        "PodMonitor",
        "RoleBinding",
        "ServiceAccount",
    ]


def _pod(name: str, role: str, restarts: int) -> dict[str, Any]:
    labels = {LABEL_NAME: "pd", LABEL_ROLE: role}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "llm", "labels": labels},
        "status": {
            "phase": "Running",
            "containerStatuses": [{"name": role, "ready": True, "restartCount": restarts}],
        },
    }


def _rbac(method: str, path: str, params: dict[str, str]) -> tuple[str, str, str] | None:
    """A request as RBAC sees it: (apiGroup, resource, verb); None for discovery."""
    parts = path.strip("/").split("/")
    group, rest = ("", parts[2:]) if parts[0] == "api" else (parts[1], parts[3:])
    if len(rest) >= 2 and rest[0] == "namespaces":
        rest = rest[2:]
    if not rest:
        return None
    named = len(rest) > 1
    verb = {"PATCH": "patch", "POST": "create", "PUT": "update", "DELETE": "delete"}.get(method)
    if verb is None:
        verb = "watch" if params.get("watch") else "get" if named else "list"
    return group, rest[0], verb


def test_the_rbac_grants_exactly_what_a_watcher_uses(tmp_path: Path) -> None:
    source = _documents("groups.yaml")[0]["data"]["pd.yaml"]
    (tmp_path / "pd.yaml").write_text(source)
    target = Build(kubernetes_version=V, lws=LwsLowering.STATEFULSETS)
    bundle = compile_paths([str(tmp_path / "pd.yaml")], Options(target=target)).bundle
    with serve() as (emu, url):
        cluster = connect(kubeconfig=None, context=None, server=url, timeout=10)

        def converge() -> None:
            link = Connection.real(cluster)
            sync(bundle, version=V, where=Where(server=url), timeout=30, connected=link)

        w = Watcher(
            cluster=cluster,
            bundle=bundle,
            clock=WallClock(),
            wall=time.time,
            converge=converge,
            watch_seconds=0.5,
            retry=0.1,
        )
        w.step()
        emu.put_object("v1/pods", _pod("pd-engine-1-1", "engine", 1))  # an instance
        w.step()
        emu.put_object("v1/pods", _pod("pd-router-0", "router", 1))  # the whole group
        w.step()
        w.close()
        assert [r.instance for _, r in w.recreated] == [1, None]
        used = {
            found
            for r in list(emu)
            if (
                found := _rbac(str(r.method).rpartition(".")[2].upper(), r.url.path, dict(r.params))
            )
        }
    role = next(d for d in _documents("rbac.yaml") if d["kind"] == "ClusterRole")
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert used == granted, (sorted(used - granted), sorted(granted - used))


def test_the_deployment_probes_and_scrapes_what_the_watcher_serves() -> None:
    deployment = _documents("deployment.yaml")[0]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    assert "--metrics-bind-address=:8080" in args and "--health-probe-bind-address=:8081" in args
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": 8080, "probes": 8081}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "probes"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "probes"}
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    monitor = _documents("podmonitor.yaml")[0]
    assert (
        monitor["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    )
    assert monitor["spec"]["podMetricsEndpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "30s"}
    ]
    # The flags parse as the CLI reads them.
    from rbgc.sync.metrics import address

    assert address(":8080") == ("", 8080)
