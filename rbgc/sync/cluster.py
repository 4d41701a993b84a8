"""The cluster boundary: every read and write of `rbgc sync` goes through `Cluster`.

Two implementations: `kube.KubeCluster` (the official client, server-side apply with field
manager `rbgc`) and `simulator.Simulator` (an in-memory cluster that plays the workload
controllers). Objects are plain dicts as Kubernetes serialises them; nothing here imports the
client.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

FIELD_MANAGER = "rbgc"

Object = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Ref:
    """Which object: API version, kind, namespace ("" for cluster-scoped) and name."""

    api_version: str
    kind: str
    namespace: str
    name: str

    @staticmethod
    def of(body: Mapping[str, Any]) -> Ref:
        meta = body.get("metadata") or {}
        return Ref(
            str(body.get("apiVersion", "")),
            str(body.get("kind", "")),
            str(meta.get("namespace") or ""),
            str(meta.get("name", "")),
        )

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


class ClusterError(Exception):
    """A request the cluster refused or could not answer, as the API's `Status` says it.

    `code` is the HTTP status (0 when no answer came: connection refused, timeout), `reason`
    the Status reason (`NotFound`, `Conflict`, `Forbidden`, ...).
    """

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message

    @property
    def not_found(self) -> bool:
        return self.code == 404


class KindNotServed(ClusterError):
    """The cluster does not serve this API version and kind (a CRD that is not installed)."""

    def __init__(self, api_version: str, kind: str) -> None:
        super().__init__(
            404,
            "NotFound",
            f"the cluster does not serve {kind} ({api_version}); is its CRD installed?",
        )
        self.api_version = api_version
        self.kind = kind


class Cluster(Protocol):
    """The narrow interface; implementations raise `ClusterError` for every failure."""

    def apply(self, body: Mapping[str, Any]) -> Object:
        """Server-side apply of `body` (field manager `rbgc`, conflicts forced); the object."""
        ...

    def get(self, ref: Ref) -> Object | None:
        """The object, or None when it does not exist (its kind not served: `KindNotServed`)."""
        ...

    def list(
        self, api_version: str, kind: str, namespace: str, labels: Mapping[str, str]
    ) -> Sequence[Object]:
        """Objects of a kind in a namespace whose labels include `labels`."""
        ...

    def delete(self, ref: Ref) -> None:
        """Delete the object (foreground: its pods go with it); absent is not an error."""
        ...


# --- readiness, read from an object's status -------------------------------------------------

WORKLOAD_KINDS = ("StatefulSet", "Deployment", "LeaderWorkerSet")


@dataclass(frozen=True, slots=True, kw_only=True)
class Readiness:
    """What a workload's status says. LeaderWorkerSet counts groups, the others pods."""

    replicas: int  # spec.replicas: what was asked
    current: int  # status.replicas: what exists (surge and old Deployment pods included)
    ready: int
    updated: int  # at the newest template
    observed: bool  # the controller has seen the latest spec (observedGeneration)

    def describe(self) -> str:
        return f"{self.ready}/{self.replicas} ready, {self.updated}/{self.replicas} updated"


def readiness(body: Mapping[str, Any]) -> Readiness | None:
    """A workload's readiness from its status; None for kinds that have none to wait for."""
    if body.get("kind") not in WORKLOAD_KINDS:
        return None
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    generation = (body.get("metadata") or {}).get("generation")
    seen = status.get("observedGeneration")
    return Readiness(
        replicas=int(spec.get("replicas", 1)),
        current=int(status.get("replicas", 0)),
        ready=int(status.get("readyReplicas", 0)),
        updated=int(status.get("updatedReplicas", 0)),
        # LeaderWorkerSet has no observedGeneration: its status is read as it stands.
        observed=generation is None or seen is None or int(seen) >= int(generation),
    )


def upstream_ready(body: Mapping[str, Any]) -> bool:
    """The dependency gate between waves (rbg-semantics.md §5.1, §11): every asked replica is
    ready. Stricter than v0.4.0 for LeaderWorkerSet (ready == spec.replicas, not
    status.replicas, which a fresh LWS reports as 0/0) and for all kinds the controller must
    have observed the latest spec."""
    state = readiness(body)
    return state is None or (state.observed and state.ready >= state.replicas)
