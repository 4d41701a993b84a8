"""The real `Cluster`: the official `kubernetes` client, plain dicts, server-side apply.

Requests are planned by pure functions (`Request`: method, path, query, headers, body) and sent
through an injected `kubernetes.client.ApiClient` (`send`), as lightkube splits
`prepare_request` from `send`. Bodies stay plain dicts: the client's typed APIs validate and
re-serialise them through its models, which refuses or drops fields (design.md §6).

`kubernetes` costs ~380 ms to import: only `connect()` and the sender import it, so `rbgc
build` and `--help` never do. Core kinds have their paths in a table; every other kind (CRDs:
PodGroup, LeaderWorkerSet) is looked up once per group/version by API discovery, and a kind
the cluster does not serve is `KindNotServed`, not a 404 from somewhere in the middle.

Every request, a watch's too, takes a token of the rate limit (ratelimit.py), is bounded by
what is left of the sync's deadline and retried as `Retry` says; `on_answer` hears its verb and
status (metrics). A watch is one streaming GET read by a thread of its own (`KubeWatches`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import queue
import random as _random
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from rbgc.sync.cluster import (
    ENDED,
    FIELD_MANAGER,
    Clock,
    ClusterError,
    ConfigError,
    ConflictError,
    DeadlineExceeded,
    Feed,
    KindNotServed,
    Object,
    Ref,
    WallClock,
)
from rbgc.sync.ratelimit import DEFAULT_BURST, DEFAULT_QPS, TokenBucket

T = TypeVar("T")

APPLY_PATCH = "application/apply-patch+yaml"  # JSON is YAML: the client sends the dict as JSON

# (apiVersion, kind) -> (plural, namespaced) for kinds every cluster serves.
CORE: dict[tuple[str, str], tuple[str, bool]] = {
    ("v1", "Namespace"): ("namespaces", False),
    ("v1", "ServiceAccount"): ("serviceaccounts", True),
    ("v1", "ConfigMap"): ("configmaps", True),
    ("v1", "Secret"): ("secrets", True),
    ("v1", "Service"): ("services", True),
    ("v1", "PersistentVolumeClaim"): ("persistentvolumeclaims", True),
    ("v1", "Pod"): ("pods", True),
    ("apps/v1", "StatefulSet"): ("statefulsets", True),
    ("apps/v1", "Deployment"): ("deployments", True),
    ("batch/v1", "Job"): ("jobs", True),
    ("autoscaling/v2", "HorizontalPodAutoscaler"): ("horizontalpodautoscalers", True),
    ("coordination.k8s.io/v1", "Lease"): ("leases", True),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None

    @property
    def url(self) -> str:
        return self.path + (f"?{urlencode(self.query)}" if self.query else "")

    def _parts(self) -> tuple[str, str, str, str]:
        """(namespace, resource, name, API group) of the path ("" where it has none)."""
        parts = self.path.strip("/").split("/")
        group = "" if parts[0] == "api" else parts[1]
        rest = parts[2:] if parts[0] == "api" else parts[3:]
        namespace = ""
        if len(rest) >= 2 and rest[0] == "namespaces" and len(rest) > 2:
            namespace, rest = rest[1], rest[2:]
        return namespace, rest[0] if rest else "", rest[1] if len(rest) > 1 else "", group

    @property
    def verb(self) -> str:
        """RBAC's verb: get, list, watch, create, update, patch, delete."""
        name = self._parts()[2]
        if self.method == "GET":
            return "get" if name else "watch" if ("watch", "1") in self.query else "list"
        return {"PATCH": "patch", "POST": "create", "PUT": "update", "DELETE": "delete"}.get(
            self.method, self.method.lower()
        )

    def describe(self) -> str:
        """As RBAC names it: `patch statefulsets.apps "g-a" in namespace llm`."""
        namespace, resource, name, group = self._parts()
        if not resource:
            return f"{self.method.lower()} {self.path}"
        resource += f".{group}" if group else ""
        where = f" in namespace {namespace}" if namespace else ""
        return f"{self.verb} {resource}{f' {name!r}' if name else ''}{where}".replace("'", '"')


def group_version_path(api_version: str) -> str:
    return "/api/v1" if api_version == "v1" else f"/apis/{api_version}"


def object_path(api_version: str, plural: str, namespaced: bool, namespace: str, name: str) -> str:
    base = group_version_path(api_version)
    where = f"/namespaces/{quote(namespace, safe='')}" if namespaced and namespace else ""
    tail = f"/{quote(name, safe='')}" if name else ""
    return f"{base}{where}/{plural}{tail}"


def apply_request(path: str, body: Mapping[str, Any], *, force: bool = False) -> Request:
    # Without force a field another manager owns is a 409 naming it (issue 12: force=true took
    # over HPAs' replicas and humans' emergency patches silently).
    query = (("fieldManager", FIELD_MANAGER),) + ((("force", "true"),) if force else ())
    return Request(
        method="PATCH",
        path=path,
        query=query,
        headers={"Content-Type": APPLY_PATCH, "Accept": "application/json"},
        body=dict(body),
    )


def write_request(method: str, path: str, body: Mapping[str, Any]) -> Request:
    """POST (create, to the collection) or PUT (replace, to the object)."""
    return Request(
        method=method,
        path=path,
        query=(("fieldManager", FIELD_MANAGER),),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        body=dict(body),
    )


def get_request(path: str) -> Request:
    return Request(method="GET", path=path, headers={"Accept": "application/json"})


def list_request(path: str, labels: Mapping[str, str] | str) -> Request:
    """A list of the collection at `path`: labels to match, or a label selector."""
    selector = (
        labels
        if isinstance(labels, str)
        else ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    )
    query = (("labelSelector", selector),) if selector else ()
    return Request(method="GET", path=path, query=query, headers={"Accept": "application/json"})


def watch_request(path: str, selector: str, resource_version: str, timeout: float) -> Request:
    """A watch of the collection at `path` from `resource_version`, with bookmarks (so a quiet
    watch still learns how far the store got, and a re-watch does not start from a version
    etcd compacted away), for `timeout` seconds."""
    query = [
        ("watch", "1"),
        ("allowWatchBookmarks", "true"),
        ("resourceVersion", resource_version),
        ("timeoutSeconds", str(max(int(timeout), 1))),
    ]
    if selector:
        query.append(("labelSelector", selector))
    return Request(
        method="GET", path=path, query=tuple(query), headers={"Accept": "application/json"}
    )


def watch_event(line: str) -> Object | None:
    """One line of a watch stream: the event (an `ERROR` event's object is a Status: 410 Gone
    when the resourceVersion was compacted), None for a blank line or one that is no event."""
    if not line.strip():
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and "type" in event else None


def delete_request(path: str) -> Request:
    # Foreground: the workload goes only once its pods are gone, so a recreate waits for them.
    body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Foreground"}
    return Request(
        method="DELETE",
        path=path,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        body=body,
    )


def error_from(status: int, reason: str, text: str) -> ClusterError:
    """A `ClusterError` from an error response, from its `Status` body when there is one."""
    try:
        payload = json.loads(text) if text else None
    except ValueError:
        payload = None
    if isinstance(payload, dict) and payload.get("kind") == "Status":
        details = payload.get("details")
        causes = details.get("causes") if isinstance(details, dict) else None
        conflicts = [
            (str(c.get("field", "")), _manager(str(c.get("message", ""))))
            for c in causes or []
            if isinstance(c, dict) and c.get("reason") == "FieldManagerConflict"
        ]
        if conflicts:
            return ConflictError(str(payload.get("message") or text), conflicts)
        return ClusterError(
            int(payload.get("code") or status),
            str(payload.get("reason") or reason),
            str(payload.get("message") or text),
        )
    return ClusterError(status, reason or "Error", text.strip()[:500] or f"HTTP {status}")


def _manager(message: str) -> str:
    """The manager of a conflict cause: `conflict with "hpa-controller" using apps/v1`."""
    _, quote_open, rest = message.partition('"')
    return rest.partition('"')[0] if quote_open else message


WATCH_SECONDS = 1800  # the longest watch asked for: the API server's --min-request-timeout


class KubeCluster:
    """`Cluster` over an injected `kubernetes.client.ApiClient` (its host, auth and TLS).
    Every request goes through `send` / `stream`: the rate limit (`limit`), the deadline and
    retries (`retry`), and `on_answer` (its verb and status, for metrics)."""

    def __init__(
        self,
        api_client: Any,
        *,
        request_timeout: float = 30.0,
        retry: Retry | None = None,
        clock: Clock | None = None,
        random: Callable[[], float] | None = None,
        limit: TokenBucket | None = None,
    ) -> None:
        self.api = api_client
        self.request_timeout = request_timeout
        self.retry = retry or Retry()
        self.clock: Clock = clock or WallClock()
        self.random = random or _random.random
        self.limit = limit or TokenBucket()
        self.on_retry: Callable[[str, ClusterError, int, float], None] = lambda r, e, a, d: None
        self.on_answer: Callable[[str, int], None] = lambda verb, code: None  # 0: no answer
        self._discovered: dict[str, dict[str, tuple[str, bool]]] = {}

    def bound(self, timeout: float | None) -> None:
        """Bound every request from now on by `timeout` seconds in all (--timeout); None:
        no overall bound (a watcher between its syncs)."""
        if timeout is None:
            self.retry = dataclasses.replace(self.retry, deadline=None)
            return
        self.retry = dataclasses.replace(
            self.retry, deadline=self.clock.now() + timeout, timeout=timeout
        )

    # --- the Cluster protocol ---

    def apply(self, body: Mapping[str, Any], *, force: bool = False) -> Object:
        ref = Ref.of(body)
        return dict(self.send(apply_request(self._path(ref), body, force=force)) or {})

    def create(self, body: Mapping[str, Any]) -> Object:
        ref = Ref.of(body)
        collection = self._path(Ref(ref.api_version, ref.kind, ref.namespace, ""))
        return dict(self.send(write_request("POST", collection, body)) or {})

    def replace(self, body: Mapping[str, Any]) -> Object:
        return dict(self.send(write_request("PUT", self._path(Ref.of(body)), body)) or {})

    def get(self, ref: Ref) -> Object | None:
        try:
            return dict(self.send(get_request(self._path(ref))) or {})
        except KindNotServed:
            raise
        except ClusterError as exc:
            if exc.not_found:
                return None
            raise

    def list(
        self, api_version: str, kind: str, namespace: str, labels: Mapping[str, str]
    ) -> Sequence[Object]:
        return self._list(Feed(api_version, kind, namespace), labels)[0]

    def list_feed(self, feed: Feed) -> tuple[Sequence[Object], str]:
        return self._list(feed, feed.selector)

    def _list(self, feed: Feed, labels: Mapping[str, str] | str) -> tuple[Sequence[Object], str]:
        path = self._path(Ref(feed.api_version, feed.kind, feed.namespace, ""))
        found = self.send(list_request(path, labels)) or {}
        # A list's items carry no apiVersion/kind: put them back, as kubectl does.
        items = [
            {"apiVersion": feed.api_version, "kind": feed.kind, **item}
            for item in found.get("items") or []
        ]
        return items, str((found.get("metadata") or {}).get("resourceVersion") or "")

    def delete(self, ref: Ref) -> None:
        try:
            self.send(delete_request(self._path(ref)))
        except KindNotServed:
            raise
        except ClusterError as exc:
            if not exc.not_found:
                raise

    def watches(self) -> KubeWatches:
        return KubeWatches(self)

    def watch_request(self, feed: Feed, resource_version: str) -> Request:
        """The watch of `feed`: as long as the --timeout has left (the sync ends by then),
        at most `WATCH_SECONDS`, so that waiting costs no requests however long it takes."""
        seconds = min(self.retry.remaining(self.clock), WATCH_SECONDS)
        path = self._path(Ref(feed.api_version, feed.kind, feed.namespace, ""))
        return watch_request(path, feed.selector, resource_version, max(seconds, 1))

    # --- paths and discovery ---

    def _path(self, ref: Ref) -> str:
        plural, namespaced = self._resource(ref.api_version, ref.kind)
        return object_path(ref.api_version, plural, namespaced, ref.namespace, ref.name)

    def _resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        known = CORE.get((api_version, kind))
        if known is not None:
            return known
        if api_version not in self._discovered:
            try:
                listing = self.send(get_request(group_version_path(api_version))) or {}
            except ClusterError as exc:
                if exc.not_found:  # remembered: every group asks for LeaderWorkerSet
                    self._discovered[api_version] = {}
                    raise KindNotServed(api_version, kind) from None
                raise
            self._discovered[api_version] = {
                str(r.get("kind")): (str(r["name"]), bool(r.get("namespaced")))
                for r in listing.get("resources") or []
                if "/" not in str(r.get("name", "/"))  # subresources: statefulsets/status
            }
        found = self._discovered[api_version].get(kind)
        if found is None:
            raise KindNotServed(api_version, kind)
        return found

    # --- the sender ---

    def send(self, request: Request) -> Any:
        """Send one request (`Retry`, the rate limit); the decoded JSON answer, or
        `ClusterError` (`DeadlineExceeded` when the time ran out)."""
        return self._attempts(request, self._send_once)

    def stream(self, request: Request, read_timeout: float) -> Any:
        """Open a streaming request (a watch) as `send` sends one; the response, its body
        to be read line by line (each read waiting at most `read_timeout`)."""
        return self._attempts(request, lambda r, t: self._open(r, (t, read_timeout)))

    def _attempts(self, request: Request, once: Callable[[Request, float], T]) -> T:
        attempt = 0
        while True:
            remaining = self.retry.remaining(self.clock)
            if remaining <= 0:
                raise DeadlineExceeded(request.describe(), self.retry.timeout, attempt)
            self.limit.take(self.clock)  # every attempt is a request the server counts
            remaining = self.retry.remaining(self.clock)
            if remaining <= 0:
                raise DeadlineExceeded(request.describe(), self.retry.timeout, attempt)
            try:
                return once(request, min(self.request_timeout, remaining))
            except ClusterError as exc:
                attempt += 1
                if exc.code == 0 and self.retry.remaining(self.clock) <= 0:  # it took the rest
                    raise DeadlineExceeded(
                        request.describe(), self.retry.timeout, attempt
                    ) from None
                if not self.retry.transient(request, exc) or attempt >= self.retry.attempts:
                    raise _described(exc, request, attempt) from None
                delay = self.retry.delay(attempt, exc.retry_after, self.random)
                left = self.retry.remaining(self.clock)
                if delay >= left:
                    if exc.retry_after is not None and exc.retry_after >= left:
                        # The server's own pause ends past --timeout: say that is why.
                        raise DeadlineExceeded(
                            request.describe(), self.retry.timeout, attempt, exc, left
                        ) from None
                    raise _described(exc, request, attempt) from None
                self.on_retry(request.describe(), exc, attempt, delay)
                self.clock.sleep(delay)

    def _send_once(self, request: Request, timeout: float) -> Any:
        import urllib3

        response = self._open(request, timeout)
        try:
            response.read()
        except urllib3.exceptions.HTTPError as exc:
            raise ClusterError(0, "Unreachable", f"{request.url}: {exc}") from None
        text = response.data.decode("utf-8") if response.data else ""
        return json.loads(text) if text else None

    def _open(self, request: Request, timeout: float | tuple[float, float]) -> Any:
        """Send `request`; the response, its body not read yet (a watch streams it)."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        url = self.api.configuration.host.rstrip("/") + request.url
        headers = dict(request.headers)
        # Auth (bearer token, client certificate) as the configuration holds it.
        self.api.update_params_for_auth(headers, None, ["BearerToken"], request.path, None, None)
        try:
            response = self.api.call_api(
                request.method,
                url,
                header_params={**self.api.default_headers, **headers},
                body=request.body,
                _request_timeout=timeout,
            )
        except ApiException as exc:
            self.on_answer(request.verb, int(exc.status or 0))
            failed = error_from(int(exc.status or 0), str(exc.reason or ""), exc.body or "")
            failed.retry_after = _retry_after(exc.headers)
            raise failed from None
        except urllib3.exceptions.HTTPError as exc:
            self.on_answer(request.verb, 0)
            raise ClusterError(0, "Unreachable", f"{url}: {exc}") from None
        self.on_answer(request.verb, int(response.status))
        if not 200 <= response.status <= 299:
            response.read()
            text = response.data.decode("utf-8") if response.data else ""
            failed = error_from(response.status, str(response.reason or ""), text)
            failed.retry_after = _retry_after(response.getheaders())
            raise failed
        return response


class KubeWatches:
    """`Watches` over HTTP: each watch is one streaming GET, read by a thread of its own that
    queues its events; the sync's thread only waits for them (`wait`, on the cluster's
    clock). A stream that ends queues `ENDED`; `stop` cuts every stream."""

    def __init__(self, cluster: KubeCluster) -> None:
        self.cluster = cluster
        self.events: queue.SimpleQueue[tuple[Any, Feed, Object]] = queue.SimpleQueue()
        self.wake = threading.Event()
        self.open: dict[Feed, Any] = {}  # the response each feed's stream is read from

    def start(self, feed: Feed, resource_version: str) -> None:
        self._close(feed)
        request = self.cluster.watch_request(feed, resource_version)
        seconds = float(dict(request.query)["timeoutSeconds"])
        # The server ends the watch after timeoutSeconds; a read waits a little longer.
        response = self.cluster.stream(request, seconds + 10)
        self.open[feed] = response
        threading.Thread(target=self._read, args=(feed, response), daemon=True).start()

    def _read(self, feed: Feed, response: Any) -> None:
        try:
            for raw in response.response:
                event = watch_event(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
                if event is not None:
                    self._put(response, feed, event)
        except Exception:  # cut, or closed by `start` / `stop`: it ended
            pass
        finally:
            self._put(response, feed, {"type": ENDED})

    def _put(self, stream: Any, feed: Feed, event: Object) -> None:
        self.events.put((stream, feed, event))
        self.wake.set()

    def wait(self, seconds: float) -> list[tuple[Feed, Object]]:
        found = self._drain()
        if not found:
            self.wake.clear()
            found = self._drain()  # queued between the first drain and the clear
        if not found:
            self.cluster.clock.wait(self.wake, seconds)
            found = self._drain()
        # Only the open streams' events: a stream closed by `start` or `stop` said its last.
        return [(f, e) for stream, f, e in found if self.open.get(f) is stream]

    def _drain(self) -> list[tuple[Any, Feed, Object]]:
        out = []
        while True:
            try:
                out.append(self.events.get_nowait())
            except queue.Empty:
                return out

    def stop(self) -> None:
        for feed in list(self.open):
            self._close(feed)

    def _close(self, feed: Feed) -> None:
        response = self.open.pop(feed, None)
        if response is not None:
            stream = response.response
            with contextlib.suppress(ValueError, RuntimeError, OSError):
                stream.shutdown()  # unblocks the reader thread's read
            # Closed, never back to the pool: its reader thread may still be on it, and the
            # server ends its side of the watch.
            stream.close()


def _retry_after(headers: Any) -> float | None:
    """Retry-After in seconds (the API server sends seconds, never an HTTP date)."""
    try:
        value = headers.get("Retry-After") if headers is not None else None
        return max(float(value), 0.0) if value is not None else None
    except (TypeError, ValueError):
        return None


def _described(exc: ClusterError, request: Request, attempts: int) -> ClusterError:
    """`exc` naming the request it answered (a 403 names the verb and resource RBAC misses)."""
    exc.request = request.describe()
    exc.attempts = attempts
    return exc


@dataclass(frozen=True, slots=True, kw_only=True)
class Retry:
    """When and how long to retry. Transient: no answer (connection refused or reset, a
    timeout), 429, 5xx, and a 409 to an apply that names no field conflict (the object changed
    under it). Permanent, reported at once: 403, 404, 422, field conflicts, a create's
    AlreadyExists, a replace's stale resourceVersion (the caller re-reads). Delays grow
    exponentially with equal jitter, at least Retry-After, and never past the deadline."""

    deadline: float | None = None  # on the cluster's clock; None: no overall bound
    timeout: float = 0.0  # the --timeout the deadline came from, for messages
    attempts: int = 10
    base: float = 0.5
    cap: float = 30.0

    def remaining(self, clock: Clock) -> float:
        return float("inf") if self.deadline is None else self.deadline - clock.now()

    def transient(self, request: Request, exc: ClusterError) -> bool:
        if isinstance(exc, (ConflictError, DeadlineExceeded)):
            return False
        if exc.code == 409:
            return request.method == "PATCH"
        return exc.code in (0, 429) or 500 <= exc.code <= 599

    def delay(self, attempt: int, retry_after: float | None, random: Callable[[], float]) -> float:
        step = min(self.cap, self.base * 2.0 ** (attempt - 1))
        jittered = step / 2 + random() * step / 2
        return max(jittered, retry_after or 0.0)


def connect(
    *,
    kubeconfig: str | None,
    context: str | None,
    server: str | None,
    timeout: float = 30.0,
    qps: float = DEFAULT_QPS,
    burst: int = DEFAULT_BURST,
) -> KubeCluster:
    """A `KubeCluster` from a kubeconfig (the default one unless given), its context, and an
    optional server URL that overrides the context's; `--server` alone needs no kubeconfig."""
    from kubernetes import client, config

    configuration = client.Configuration()
    if kubeconfig or context or not server:
        try:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, context=context, client_configuration=configuration
            )
        except (config.ConfigException, OSError) as exc:
            if kubeconfig or context:
                raise ConfigError(f"kubeconfig: {exc}") from None
            try:
                config.load_incluster_config(  # type: ignore[no-untyped-call]
                    client_configuration=configuration
                )
            except config.ConfigException:
                raise ConfigError(
                    f"{exc}, and rbgc is not running inside a cluster either"
                ) from None
    if server:
        configuration.host = server
    # rbgc retries (Retry, bounded by --timeout); urllib3's own retries would multiply every
    # timeout by four (issue 12: a hung server with --timeout 5 took 120 s).
    configuration.retries = False
    return KubeCluster(
        client.ApiClient(configuration),
        request_timeout=timeout,
        limit=TokenBucket(qps=qps, burst=burst),
    )
