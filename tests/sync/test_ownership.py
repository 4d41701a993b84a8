"""Ownership (issue 12 item 1): rbgc records what it applied as a KEP-3659 ApplySet per group
and deletes or prunes only members; objects that merely carry a group's labels survive. On the
simulator and over HTTP against the emulator."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from rbgc.sync import applyset
from rbgc.sync.cluster import Cluster, Ref
from rbgc.sync.controller import prepare, render_steps
from rbgc.sync.kube import KubeCluster, connect
from rbgc.sync.simulator import Simulator
from tests.sync.emulator import serve
from tests.sync.helpers import PD, PD_V2, SINGLE, V, compiled, planted, sync, sync_run

PARENT = Ref("v1", "ConfigMap", "llm", "rbgc-applyset-sglang-pd")
HAND = Ref("apps/v1", "Deployment", "llm", "hand-made-decode")
LEGACY = Ref("apps/v1", "StatefulSet", "llm", "legacy-monitor")


def test_the_id_is_kubectls_base64url_sha256_of_name_namespace_kind_group() -> None:
    found = applyset.applyset_id("rbgc-applyset-g", "llm")
    assert re.fullmatch(r"applyset-[A-Za-z0-9_-]{43}-v1", found)
    digest = base64.urlsafe_b64decode(found[len("applyset-") : -len("-v1")] + "=")
    assert digest == hashlib.sha256(b"rbgc-applyset-g.llm.ConfigMap.").digest()
    assert applyset.group_kind("apps/v1", "StatefulSet") == "StatefulSet.apps"
    assert applyset.group_kind("v1", "ConfigMap") == "ConfigMap"


@pytest.fixture(params=["simulator", "http"])
def cluster(request: pytest.FixtureRequest) -> Iterator[tuple[Cluster, Any]]:
    """The simulator, or the real adapter over HTTP against the emulator (and the emulator)."""
    if request.param == "simulator":
        sim = Simulator()
        yield sim, None
        return
    with serve() as (emu, url):
        yield connect(kubeconfig=None, context=None, server=url, timeout=10), emu


def _plant(cluster: Cluster, emu: Any, body: dict[str, Any]) -> None:
    if emu is None:
        assert isinstance(cluster, Simulator)
        cluster.apply(body, manager="kubectl")
    else:
        emu.put_object(f"apps/v1/{body['kind'].lower()}s", body)


def test_members_carry_part_of_and_the_parent_records_the_kinds(
    cluster: tuple[Cluster, Any],
) -> None:
    c, _ = cluster
    sync(c, [PD])
    parent = c.get(PARENT)
    assert parent is not None
    aset = applyset.from_parent(parent)
    assert aset is not None and aset.group == "sglang-pd"
    meta = parent["metadata"]
    assert meta["labels"][applyset.ID] == aset.id
    notes = meta["annotations"]
    assert notes[applyset.GROUP_KINDS] == "ConfigMap,Deployment.apps,Service,StatefulSet.apps"
    assert notes[applyset.TOOLING].startswith("rbgc/v")
    assert notes[applyset.NAMESPACES] == ""
    for m in compiled(PD).manifests:
        live = c.get(Ref.of(m.body))
        assert live is not None
        labels = live["metadata"].get("labels") or {}
        # A pass-through document (the example's own Service) belongs to no group's ApplySet.
        assert labels.get(applyset.PART_OF) == (aset.id if m.group else None), m.name


def test_planted_objects_with_the_groups_labels_survive_sync_and_prune(
    cluster: tuple[Cluster, Any],
) -> None:
    # issue 12: `hand-made-decode` and `legacy-monitor` carried the group's labels (another
    # field manager, no managed-by) and were deleted on the first sync
    c, emu = cluster
    sync(c, [PD])
    _plant(c, emu, planted("Deployment", "hand-made-decode", "sglang-pd", role="decode"))
    _plant(c, emu, planted("StatefulSet", "legacy-monitor", "sglang-pd"))
    sync(c, [PD_V2], prune=True)
    sync(c, [PD], prune=True)
    for ref in (HAND, LEGACY):
        live = c.get(ref)
        assert live is not None, ref
        assert applyset.PART_OF not in live["metadata"]["labels"]
        assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1"


def test_prune_removes_a_group_that_left_the_inputs_and_nothing_else(
    cluster: tuple[Cluster, Any],
) -> None:
    c, emu = cluster
    sync_run(c, [PD, SINGLE])
    _plant(c, emu, planted("StatefulSet", "legacy-monitor", "qwen-single"))
    single = [Ref.of(m.body) for m in compiled(SINGLE).manifests]
    pd = [Ref.of(m.body) for m in compiled(PD).manifests]
    # Without --prune: nothing is deleted, and the plan says what --prune would do.
    steps = render_steps(prepare(c, compiled(PD), V))
    assert (
        "note: group llm/qwen-single left the inputs; --prune deletes what rbgc applied of its "
        "3 object(s), its ApplySet and its lock"
    ) in steps
    sync(c, [PD])
    assert all(c.get(ref) is not None for ref in single)
    # --dry-run lists the prune first, saying why each goes; then --prune carries it out.
    steps = render_steps(prepare(c, compiled(PD), V, prune=True))
    assert "prune 3 object(s) that left the inputs, and 1 group(s)' ApplySet and lock" in steps
    for ref in single:
        assert (
            f"delete {ref}: rbgc applied it (field manager rbgc owns its "
            "applyset.kubernetes.io/part-of label) and group qwen-single's inputs no longer "
            "have it: the group left the inputs"
        ) in steps
    # The group's Lease, from its earlier syncs, goes with it.
    qwen_lease = Ref("coordination.k8s.io/v1", "Lease", "llm", "rbgc-sync-qwen-single")
    assert c.get(qwen_lease) is not None
    sync_run(c, [PD], prune=True)
    assert all(c.get(ref) is None for ref in single)
    assert c.get(Ref("v1", "ConfigMap", "llm", "rbgc-applyset-qwen-single")) is None
    assert c.get(qwen_lease) is None
    assert all(c.get(ref) is not None for ref in pd)
    assert c.get(LEGACY) is not None  # labelled qwen-single, but never a member


def test_prune_never_deletes_a_persistent_volume_claim(cluster: tuple[Cluster, Any]) -> None:
    c, _ = cluster
    sync(c, [PD, SINGLE])
    aset = applyset.ApplySet(group="qwen-single", namespace="llm")
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": "data-qwen",
            "namespace": "llm",
            "labels": {applyset.PART_OF: aset.id},
        },
        "spec": {"accessModes": ["ReadWriteOnce"]},
    }
    c.apply(pvc)
    parent = c.get(aset.ref)
    assert parent is not None
    kinds = json.loads(parent["metadata"]["annotations"][applyset.KINDS])
    c.apply(aset.parent([tuple(k) for k in kinds] + [("v1", "PersistentVolumeClaim")]))
    sync(c, [PD], prune=True)
    assert c.get(Ref.of(pvc)) is not None


def test_prune_removes_an_object_a_group_no_longer_has(cluster: tuple[Cluster, Any]) -> None:
    c, _ = cluster
    sync(c, [PD])
    stale = dict(compiled(PD).manifests[0].body)  # a ConfigMap of the group, once applied
    stale = applyset.member(
        {**stale, "metadata": {**stale["metadata"], "name": "sglang-pd-old"}},
        applyset.ApplySet(group="sglang-pd", namespace="llm"),
    )
    c.apply(stale)
    sync(c, [PD])
    assert c.get(Ref.of(stale)) is not None
    sync(c, [PD], prune=True)
    assert c.get(Ref.of(stale)) is None


def test_a_removed_role_deletes_only_its_member_workload(cluster: tuple[Cluster, Any]) -> None:
    c, emu = cluster
    sync(c, [PD])
    # Another tool's workload, labelled as a role that NEW no longer has.
    _plant(c, emu, planted("StatefulSet", "legacy-monitor", "sglang-pd", role="monitor"))
    plan = prepare(c, compiled(PD), V)
    assert not any(s.delete for s in plan.steps)
    assert isinstance(c, (Simulator, KubeCluster))


def test_prune_deletes_only_what_rbgc_applied_and_says_why(cluster: tuple[Cluster, Any]) -> None:
    # issue 20 item 5: an object another manager wrote with the group's part-of label (as
    # kubectl's ApplySet would prune) is not rbgc's to delete: its managed fields say so
    c, emu = cluster
    sync(c, [PD])
    aset = applyset.ApplySet(group="sglang-pd", namespace="llm")
    look_alike = applyset.member(planted("Deployment", "copied-label", "sglang-pd"), aset)
    ours = applyset.member(planted("Deployment", "left-the-inputs", "sglang-pd"), aset)
    _plant(c, emu, look_alike)  # kubectl wrote it, part-of label and all
    c.apply(ours)  # rbgc applied it once (field manager rbgc)
    for ref in (Ref.of(look_alike), Ref.of(ours)):
        live = c.get(ref)
        assert live is not None and live["metadata"]["managedFields"]
    steps = render_steps(prepare(c, compiled(PD), V, prune=True))
    assert (
        "delete Deployment llm/left-the-inputs: rbgc applied it (field manager rbgc owns its "
        "applyset.kubernetes.io/part-of label) and group sglang-pd's inputs no longer have it"
    ) in steps
    assert "delete Deployment llm/copied-label" not in steps
    assert (
        "note: Deployment llm/copied-label: it carries group sglang-pd's "
        "applyset.kubernetes.io/part-of label, but 'kubectl' wrote that, not rbgc: not pruned"
    ) in steps
    sync(c, [PD], prune=True)
    assert c.get(Ref.of(ours)) is None
    assert c.get(Ref.of(look_alike)) is not None


def test_a_member_without_managed_fields_is_not_pruned() -> None:
    body = {"metadata": {"name": "x", "labels": {applyset.PART_OF: "applyset-x-v1"}}}
    assert applyset.label_managers(body) is None
    ours, why = applyset.prune_reason(body, "g")
    assert not ours and "shows no managed fields" in why
