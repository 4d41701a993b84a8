"""Resume exactly: what an upgrade records in the cluster so that a killed or timed-out sync
carries on at the step it reached, with the plan it started (pure: no I/O).

Before its first write an upgrading group's ApplySet parent records OLD: the workloads as the
upgrade found them (name, labels, `rbgc.io/applied`, wave, replicas), compressed into
`binaryData["upgrade-old.json.z"]`, with the hashes of OLD and NEW in the annotations
`rbgc.io/upgrade-old` / `rbgc.io/upgrade-new`. After every planner step whose workloads
reached their state, the group's Lease records `rbgc.io/upgrade: {"old", "new", "done"}`.
A rerun whose NEW hashes the same plans from the recorded OLD (the live workloads already
carry NEW in `rbgc.io/applied`, which alone would make the rest look like nothing to do) and
skips the steps recorded done, so the rerun applies only what the plan contained, in its
order, keeping its floors and maxSkew. A converged sync drops both records.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from rbgc.k8s.conventions import SYNC_WAVE
from rbgc.sync.cluster import Object, Ref

OLD_HASH = "rbgc.io/upgrade-old"
NEW_HASH = "rbgc.io/upgrade-new"
SNAPSHOT = "upgrade-old.json.z"  # a binaryData key of the ApplySet parent
RECORD = "rbgc.io/upgrade"  # a Lease annotation: {"old", "new", "done"}
APPLIED = "rbgc.io/applied"


def minimal(body: Mapping[str, Any]) -> Object:
    """What plan.py reads of a live workload to make it OLD, and nothing else."""
    meta = body.get("metadata") or {}
    notes = meta.get("annotations") or {}
    spec = body.get("spec")
    kept = {k: notes[k] for k in (APPLIED, SYNC_WAVE) if k in notes}
    out: Object = {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": {
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "labels": dict(meta.get("labels") or {}),
            "annotations": kept,
        },
    }
    if isinstance(spec, Mapping) and "replicas" in spec:
        out["spec"] = {"replicas": spec["replicas"]}
    return out


def _canonical(bodies: Iterable[Mapping[str, Any]]) -> bytes:
    ordered = sorted((minimal(b) for b in bodies), key=lambda b: str(Ref.of(b)))
    return json.dumps(ordered, sort_keys=True, separators=(",", ":")).encode()


def digest(bodies: Iterable[Mapping[str, Any]]) -> str:
    return hashlib.sha256(_canonical(bodies)).hexdigest()[:16]


def new_digest(bodies: Iterable[Mapping[str, Any]]) -> str:
    """NEW's hash: its compiled workload bodies, whole."""
    ordered = sorted((dict(b) for b in bodies), key=lambda b: str(Ref.of(b)))
    text = json.dumps(ordered, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


EMPTY = digest([])  # OLD of a first install


def encode(bodies: Iterable[Mapping[str, Any]]) -> str:
    return base64.b64encode(zlib.compress(_canonical(bodies), 9)).decode()


def decode(data: str) -> list[Object] | None:
    try:
        found = json.loads(zlib.decompress(base64.b64decode(data)))
    except (ValueError, zlib.error):
        return None
    return [b for b in found if isinstance(b, dict)] if isinstance(found, list) else None


def recorded(parent: Mapping[str, Any] | None, new: str) -> tuple[str, list[Object]] | None:
    """(OLD's hash, OLD's workloads) an unfinished upgrade to `new` recorded in its parent."""
    if parent is None:
        return None
    notes = (parent.get("metadata") or {}).get("annotations") or {}
    data = (parent.get("binaryData") or {}).get(SNAPSHOT)
    if notes.get(NEW_HASH) != new or not isinstance(data, str):
        return None
    bodies = decode(data)
    if bodies is None or digest(bodies) != notes.get(OLD_HASH):
        return None
    return str(notes[OLD_HASH]), bodies


def done(record: Mapping[str, Any] | None, old: str, new: str) -> int:
    """Planner steps a Lease record says were reached for this very upgrade (0: none)."""
    if not record or record.get("old") != old or record.get("new") != new:
        return 0
    value = record.get("done")
    return value if isinstance(value, int) and value > 0 else 0
