"""The cluster boundary: every read and write of `rbgc sync` goes through `Cluster`.

Two implementations: `kube.KubeCluster` (the official client, server-side apply with field
manager `rbgc`, conflicts not forced unless asked) and `simulator.Simulator` (an in-memory
cluster that plays the workload controllers and the field managers). Objects are plain dicts
as Kubernetes serialises them; nothing here imports the client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
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
        self.retry_after: float | None = None  # seconds the server asked to wait (Retry-After)
        self.request = ""  # what was asked, as RBAC names it: `patch statefulsets.apps "x"`
        self.attempts = 1  # how many times it was sent

    @property
    def not_found(self) -> bool:
        return self.code == 404


class ConflictError(ClusterError):
    """A server-side apply refused because other field managers own fields it would change:
    `conflicts` lists (field, manager), e.g. (".spec.replicas", "kube-controller-manager")."""

    def __init__(
        self, message: str, conflicts: Sequence[tuple[str, str]], subject: str = ""
    ) -> None:
        super().__init__(409, "Conflict", message)
        self.conflicts = tuple(conflicts)
        self.subject = subject  # the object, once the controller knows which apply it was

    def describe(self) -> str:
        fields = "; ".join(f"{f} is owned by field manager {m!r}" for f, m in self.conflicts)
        return f"{self.subject}: {fields}" if self.subject else fields


class DeadlineExceeded(ClusterError):
    """The --timeout ran out before the cluster answered (or while retrying); `cause`: the
    answer whose retry would have ended past it (`retry_after`: the pause it asked for, with
    `left` seconds of the timeout remaining)."""

    def __init__(
        self,
        request: str,
        timeout: float,
        attempts: int,
        cause: ClusterError | None = None,
        left: float = 0.0,
    ) -> None:
        super().__init__(0, "Timeout", f"no answer to {request} within --timeout {timeout:g}s")
        self.request = request
        self.attempts = attempts
        self.timeout = timeout
        self.cause = cause
        self.left = left
        self.retry_after = cause.retry_after if cause is not None else None


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    def wait(self, wake: threading.Event, seconds: float) -> None:
        """Sleep `seconds`, or less once `wake` is set (a watch brought an event)."""
        ...


class WallClock:
    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(seconds, 0.0))

    def wait(self, wake: threading.Event, seconds: float) -> None:
        wake.wait(max(seconds, 0.0))


class ConfigError(Exception):
    """No cluster could be configured (no kubeconfig, a context that does not exist): nothing
    was sent to any cluster."""


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


@dataclass(frozen=True, slots=True)
class Feed:
    """What one list and its watch follow: the objects of a kind in a namespace whose labels
    match `selector` (`key`, `key=value`, comma separated; "" for every object)."""

    api_version: str
    kind: str
    namespace: str
    selector: str = ""

    @staticmethod
    def of(ref: Ref) -> Feed:
        return Feed(ref.api_version, ref.kind, ref.namespace)


# Watch event types besides the API's ADDED, MODIFIED, DELETED, BOOKMARK and ERROR (whose object
# is a Status; 410 Gone: the version was compacted away, list again):
ENDED = "ENDED"  # the watch ended (its time ran out, the connection was cut): start it again


class Watches(Protocol):
    """Watches of several feeds at once, each from a resourceVersion; `wait` multiplexes them."""

    def start(self, feed: Feed, resource_version: str) -> None:
        """Watch `feed` from `resource_version`, with bookmarks (again, after it ended)."""
        ...

    def wait(self, seconds: float) -> list[tuple[Feed, Object]]:
        """The events of every started watch since the last call, waiting up to `seconds` on
        the cluster's clock for the first one."""
        ...

    def stop(self) -> None:
        """End every watch."""
        ...


class Sender(Protocol):
    """The real adapter's requests, as a sync sets them up: one deadline for all of them
    (`--timeout`; None while `--watch` waits), and who hears of a retry."""

    on_retry: Callable[[str, ClusterError, int, float], None]  # request, error, attempt, delay
    on_answer: Callable[[str, int], None]  # every request: its RBAC verb and HTTP status

    def bound(self, timeout: float | None) -> None: ...


class Cluster(Protocol):
    """The narrow interface; implementations raise `ClusterError` for every failure."""

    def apply(self, body: Mapping[str, Any], *, force: bool = False) -> Object:
        """Server-side apply of `body` (field manager `rbgc`); the object. A field another
        manager owns with another value is `ConflictError` unless `force` takes it over."""
        ...

    def create(self, body: Mapping[str, Any]) -> Object:
        """Create `body`; a 409 `AlreadyExists` `ClusterError` when it exists."""
        ...

    def replace(self, body: Mapping[str, Any]) -> Object:
        """Update `body` whole (PUT), only if its `metadata.resourceVersion` is still the
        object's: a 409 `Conflict` `ClusterError` otherwise (optimistic concurrency)."""
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
        """Delete the object (foreground: its pods go with it); absent is not an error.
        A Pod (`Ref("v1", "Pod", ...)`) is deleted so that its workload recreates it."""
        ...

    def list_feed(self, feed: Feed) -> tuple[Sequence[Object], str]:
        """The objects of `feed` (each with its apiVersion and kind), and the list's
        resourceVersion to watch from."""
        ...

    def watches(self) -> Watches:
        """A set of watches, to follow feeds from the versions their lists returned."""
        ...


GONE = 410  # a watch's resourceVersion is too old: the watcher lists again
