"""One sync at a time per group: a `coordination.k8s.io/v1` Lease, as client-go's leader
election keeps one.

The Lease `rbgc-sync-<group>` in the group's namespace names its holder (`holderIdentity`:
host, process and a random suffix), when it was taken and last renewed (`acquireTime`,
`renewTime`, MicroTime) and for how long a renewal holds (`leaseDurationSeconds`). A sync takes
the Leases of all its groups (in a fixed order) before it reads the cluster, renews them while
it runs, and releases them (empty holder) when it ends, converged or not. A Lease held by
another, unexpired, is not taken: the sync waits (`--wait-lock`) or stops (RBG915). An
expired one is taken over, its `leaseTransitions` counted. Every write is a create or an update
with `resourceVersion`, so of two syncs racing for one Lease exactly one wins; a sync that
finds its Lease taken when it renews stops before its next write (`LeaseLost`) and cannot
report success.
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import secrets
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rbgc.sync.cluster import Cluster, ClusterError, Object, Ref

API_VERSION = "coordination.k8s.io/v1"
KIND = "Lease"
DURATION = 60  # seconds a renewal holds; renewed every third of it
_MICRO = "%Y-%m-%dT%H:%M:%S.%fZ"


PREFIX = "rbgc-sync-"
RECORD = "rbgc.io/upgrade"  # resume.py's record of how far an upgrade got


def lease_ref(namespace: str, group: str, prefix: str = PREFIX) -> Ref:
    return Ref(API_VERSION, KIND, namespace, f"{prefix}{group}")


def _group(ref: Ref) -> str:
    return f"{ref.namespace}/{ref.name.removeprefix(PREFIX)}"


def identity() -> str:
    """Who holds a Lease: `rbgc@host/pid/random` (unique per sync even in one process)."""
    return f"rbgc@{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(3)}"


def micro_time(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime(_MICRO)


def parse_time(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    for pattern in (_MICRO, "%Y-%m-%dT%H:%M:%SZ"):
        try:
            parsed = datetime.datetime.strptime(text, pattern)
        except ValueError:
            continue
        return parsed.replace(tzinfo=datetime.UTC).timestamp()
    return None


class LeaseHeld(Exception):
    """Another sync holds a group's Lease, unexpired."""

    def __init__(self, group: str, holder: str, expires_in: float) -> None:
        super().__init__(
            f"group {group} is being synced by {holder} (its lock expires in "
            f"{max(expires_in, 0):.0f}s unless renewed)"
        )
        self.group = group
        self.holder = holder
        self.expires_in = expires_in


class LeaseLost(Exception):
    """This sync's Lease was taken over (it was not renewed in time): it must stop."""

    def __init__(self, group: str, holder: str) -> None:
        super().__init__(
            f"the lock of group {group} was taken over by {holder or 'nobody'} while this sync "
            "ran (it was not renewed in time); stopped before writing more"
        )
        self.group = group


@dataclass(slots=True)
class Lock:
    """The Leases of one sync. `now` is wall time in epoch seconds (Lease times are UTC)."""

    cluster: Cluster
    now: Callable[[], float]
    holder: str = field(default_factory=identity)
    duration: int = DURATION
    held: dict[Ref, Object] = field(default_factory=dict)
    renewed: float = 0.0
    prefix: str = PREFIX  # `rbgc sync --watch` elects its leader with `rbgc-watch` Leases

    @property
    def groups(self) -> set[tuple[str, str]]:
        """(namespace, group) of every Lease held."""
        return {(ref.namespace, ref.name.removeprefix(self.prefix)) for ref in self.held}

    def acquire(self, groups: Sequence[tuple[str, str]]) -> None:
        """Take every group's Lease, or none of them (`LeaseHeld`: those this call took are
        released; those held before stay held)."""
        before = set(self.held)
        try:
            for namespace, group in sorted(set(groups)):
                ref = lease_ref(namespace, group, self.prefix)
                if ref not in self.held:
                    self._take(ref, f"{namespace}/{group}")
        except BaseException:
            self.release(only=set(self.held) - before)
            raise
        if not before:
            self.renewed = self.now()

    def retire(self, groups: Sequence[tuple[str, str]]) -> None:
        """Delete the Leases of groups that are gone (pruned): nothing is left to lock."""
        for namespace, group in groups:
            ref = lease_ref(namespace, group, self.prefix)
            if self.held.pop(ref, None) is not None:
                self.cluster.delete(ref)

    def _take(self, ref: Ref, group: str) -> None:
        now = self.now()
        found = self.cluster.get(ref)
        if found is None:
            body = self._body(ref, now, now, transitions=0)
            try:
                self.held[ref] = self.cluster.create(body)
            except ClusterError as exc:
                if exc.code != 409:
                    raise
                raise LeaseHeld(group, "another sync", float(self.duration)) from None
            return
        spec = found.get("spec") or {}
        holder = str(spec.get("holderIdentity") or "")
        renewed = parse_time(spec.get("renewTime")) or 0.0
        expires = renewed + float(spec.get("leaseDurationSeconds") or self.duration)
        if holder and holder != self.holder and expires > now:
            raise LeaseHeld(group, holder, expires - now)
        transitions = int(spec.get("leaseTransitions") or 0) + (1 if holder else 0)
        body = self._body(ref, now, now, transitions=transitions)
        body["metadata"]["resourceVersion"] = found["metadata"].get("resourceVersion")
        notes = (found.get("metadata") or {}).get("annotations")
        if notes:  # a resume record (resume.py) outlives the sync that wrote it
            body["metadata"]["annotations"] = dict(notes)
        try:
            self.held[ref] = self.cluster.replace(body)
        except ClusterError as exc:
            if exc.code != 409:
                raise
            raise LeaseHeld(group, "another sync", float(self.duration)) from None

    def renew(self, *, force: bool = False) -> None:
        """Renew every held Lease when a third of its duration has passed; `LeaseLost` when
        another took one over."""
        now = self.now()
        if not force and now - self.renewed < self.duration / 3:
            return
        for ref, body in list(self.held.items()):
            spec = body.get("spec") or {}
            updated = self._body(
                ref,
                parse_time(spec.get("acquireTime")) or now,
                now,
                transitions=int(spec.get("leaseTransitions") or 0),
            )
            updated["metadata"]["resourceVersion"] = body["metadata"].get("resourceVersion")
            notes = (body.get("metadata") or {}).get("annotations")
            if notes:
                updated["metadata"]["annotations"] = dict(notes)
            try:
                self.held[ref] = self.cluster.replace(updated)
            except ClusterError as exc:
                if exc.code not in (404, 409):
                    raise
                live = self.cluster.get(ref)
                holder = str(((live or {}).get("spec") or {}).get("holderIdentity") or "")
                del self.held[ref]
                raise LeaseLost(f"{ref.namespace}/{ref.name}", holder) from None
        self.renewed = now

    def records(self) -> dict[str, dict[str, Any]]:
        """Resume records of the held Leases, by group ("namespace/name")."""
        out: dict[str, dict[str, Any]] = {}
        for ref, body in self.held.items():
            text = ((body.get("metadata") or {}).get("annotations") or {}).get(RECORD)
            try:
                found = json.loads(text) if isinstance(text, str) else None
            except ValueError:
                found = None
            if isinstance(found, dict):
                out[_group(ref)] = found
        return out

    def record(self, group: str, value: Mapping[str, Any] | None) -> None:
        """Write (None: drop) a group's resume record on its Lease; `LeaseLost` when another
        took the Lease over."""
        namespace, _, name = group.partition("/")
        ref = lease_ref(namespace, name)
        body = self.held.get(ref)
        if body is None:
            return
        updated = copy.deepcopy(body)
        notes = updated.setdefault("metadata", {}).setdefault("annotations", {})
        if value is None:
            if RECORD not in notes:
                return
            del notes[RECORD]
        else:
            notes[RECORD] = json.dumps(dict(value), sort_keys=True, separators=(",", ":"))
        updated["spec"]["renewTime"] = micro_time(self.now())
        try:
            self.held[ref] = self.cluster.replace(updated)
        except ClusterError as exc:
            if exc.code not in (404, 409):
                raise
            live = self.cluster.get(ref)
            holder = str(((live or {}).get("spec") or {}).get("holderIdentity") or "")
            del self.held[ref]
            raise LeaseLost(group, holder) from None

    def release(self, *, converged: bool = False, only: set[Ref] | None = None) -> None:
        """Give every held Lease (or `only` those) up: empty holder. `converged`: drop the
        resume records in the same write, and `LeaseLost` if a Lease is no longer ours (its
        resourceVersion moved), so a sync reports success only if it held its groups to the
        end. Otherwise best effort: an expired Lease frees itself."""
        lost: LeaseLost | None = None
        for ref, body in list(self.held.items()):
            if only is not None and ref not in only:
                continue
            freed = copy.deepcopy(body)
            freed["spec"]["holderIdentity"] = ""
            if converged:
                (freed["metadata"].get("annotations") or {}).pop(RECORD, None)
            try:
                self.cluster.replace(freed)
            except ClusterError as exc:
                if converged and exc.code in (404, 409) and lost is None:
                    live = self.cluster.get(ref)
                    holder = str(((live or {}).get("spec") or {}).get("holderIdentity") or "")
                    lost = LeaseLost(_group(ref), holder)
            del self.held[ref]
        if lost is not None:
            raise lost

    def _body(self, ref: Ref, acquired: float, renewed: float, *, transitions: int) -> Object:
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": ref.name, "namespace": ref.namespace},
            "spec": {
                "holderIdentity": self.holder,
                "leaseDurationSeconds": self.duration,
                "acquireTime": micro_time(acquired),
                "renewTime": micro_time(renewed),
                "leaseTransitions": transitions,
            },
        }
