"""kmock's Kubernetes emulator on loopback, served from a thread so the (synchronous) official
client can talk to it over real HTTP, extended with what `rbgc sync` relies on and kmock
leaves out (kmock merges dicts and keeps nothing else):

- server-side apply: an apply creates an absent object; `managedFields` per field manager
  (leaf fields; lists are atomic); a field another manager owns with a different value is a
  409 `Conflict` whose Status names the field and the manager, as the API server's does,
  unless `force=true`; fields a manager stops sending are removed;
- create (POST, 409 `AlreadyExists`) and update (PUT) with `resourceVersion` preconditions
  (409 `Conflict` on a stale one), as a Lease is taken;
- list with `labelSelector` (`k=v`, `k==v`, `k!=v`, `k`, `!k`);
- a toy workload controller: every StatefulSet / Deployment / LeaderWorkerSet write is
  answered with a status in which all `spec.replicas` are ready and updated (or, with
  `ready_after`, reaches it in `ready_steps` status updates over that many seconds);
- fault injection: `faults` answers matching requests with a status (and headers such as
  `Retry-After`) a given number of times before serving them normally;
- watches (`?watch=1`): every write and delete is an event with its resourceVersion; a watch
  streams those after its `resourceVersion` (newline-delimited JSON, as the API server does),
  sends a `BOOKMARK` every `bookmark_every` seconds and when it ends (`timeoutSeconds`) if
  `allowWatchBookmarks` is set, and answers a version older than the last `compact()` with an
  `ERROR` event holding a 410 `Gone` Status, as a compacted etcd does.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp.web
import kmock

WORKLOADS = {"StatefulSet", "Deployment", "LeaderWorkerSet"}
Path = tuple[str, ...]


@dataclass(slots=True)
class Fault:
    """Answer `times` requests whose method and path match with `status` (and `headers`);
    status 0 resets the connection instead."""

    method: str
    path: str  # a regular expression searched in the URL path
    status: int
    times: int = 1
    headers: Mapping[str, str] = field(default_factory=dict)
    reason: str = "InternalError"
    message: str = "injected fault"

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and method == self.method and re.search(self.path, path) is not None


def _leaves(node: Any, prefix: Path = ()) -> dict[Path, Any]:
    """Leaf paths of a dict (lists and scalars are leaves: lists are atomic here)."""
    if isinstance(node, dict) and node:
        out: dict[Path, Any] = {}
        for key, value in node.items():
            out.update(_leaves(value, (*prefix, str(key))))
        return out
    return {prefix: node} if prefix else {}


def _get(node: Any, path: Path) -> Any:
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


_MISSING = object()


def _set(node: dict[str, Any], path: Path, value: Any) -> None:
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = copy.deepcopy(value)


def _drop(node: dict[str, Any], path: Path) -> None:
    parents = []
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            return
        parents.append((node, key))
        node = child
    node.pop(path[-1], None)
    for parent, key in reversed(parents):  # empty maps the manager alone had go too
        if parent[key] == {}:
            del parent[key]


def _fields_v1(paths: set[Path]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in sorted(paths):
        node = out
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return out


_SERVER_OWNED: set[Path] = {
    ("metadata", k) for k in ("managedFields", "resourceVersion", "generation", "uid")
}
_SERVER_OWNED |= {("metadata", "creationTimestamp"), ("status",)}


def _owned(body: Mapping[str, Any]) -> set[Path]:
    return {
        p
        for p in _leaves(dict(body))
        if p[:1] != ("status",) and p[:2] not in _SERVER_OWNED and p[:1] not in _SERVER_OWNED
    }


def _selected(labels: Mapping[str, str], selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _status(code: int, reason: str, message: str, **details: Any) -> aiohttp.web.Response:
    body = {
        "apiVersion": "v1",
        "kind": "Status",
        "metadata": {},
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
        "details": details,
    }
    return aiohttp.web.json_response(body, status=code)


class ApiServer(kmock.KubernetesEmulator):
    """kmock's emulator, serving every object request from its own store (see the module)."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.store: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.managers: dict[tuple[str, str, str], dict[str, set[Path]]] = {}
        self.faults: list[Fault] = []
        self.writes: list[tuple[str, str, str]] = []  # (verb, resource path, name)
        self.ready = True  # the toy controller: workloads report every replica ready
        self.revision = itertools.count(1)
        self.version = 0  # the last resourceVersion handed out
        self.history: list[tuple[int, str, str, dict[str, Any]]] = []  # (rv, type, plural, obj)
        self.floor = 0  # watches from an older resourceVersion get 410 Gone
        self.bookmark_every = 0.5
        self.cuts = 0  # `cut()`s so far: a watch open across one ends
        self.ready_after = 0.0  # > 0: a workload's pods get ready this long after a write,
        self.ready_steps = 1  # in this many status updates
        self.changed = threading.Condition()  # notified at every event (tests wait on it)

    # --- helpers for tests ---

    def put_object(self, plural: str, body: Mapping[str, Any], manager: str = "kubectl") -> None:
        """Store an object as another field manager created it (kubectl create, a human)."""
        meta = body.get("metadata") or {}
        key = (plural, str(meta.get("namespace") or ""), str(meta["name"]))
        stored = self._server_fields(copy.deepcopy(dict(body)), None)
        stored["metadata"]["managedFields"] = _managed_fields(
            {manager: _owned(body)}, stored, manager, "create"
        )
        self.store[key] = stored
        self.managers[key] = {manager: _owned(body)}
        self._event("ADDED", plural, self.store[key])

    def update_as(
        self, plural: str, namespace: str, name: str, changes: Mapping[Path, Any], manager: str
    ) -> None:
        """Change fields as another manager's update does (kubectl edit, the HPA controller
        through /scale): it becomes their owner, and nobody else is."""
        key = (plural, namespace, name)
        body = copy.deepcopy(self.store[key])
        owners = copy.deepcopy(self.managers.get(key, {}))
        for path, value in changes.items():
            _set(body, path, value)
            for paths in owners.values():
                paths.discard(path)
            owners.setdefault(manager, set()).add(path)
        self._write(key, body, manager, owners, "update")

    def wait_until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Block until `done()` holds, checking at each write, or `timeout` seconds pass
        (then False: the caller fails, naming what never happened)."""
        with self.changed:
            return self.changed.wait_for(done, timeout)

    def make_ready(self) -> None:
        """The toy controller catches up: every workload reports all its replicas ready (a
        status update each, which watches see)."""
        self.ready = True
        for key, body in sorted(self.store.items()):
            if body.get("kind") in WORKLOADS:
                self.set_status(key, ready=None)

    def set_status(self, key: tuple[str, str, str], ready: int | None) -> None:
        """The toy controller reports `ready` replicas of a workload (None: all of them), as
        a status update: a new resourceVersion and a MODIFIED event."""
        body = self.store[key]
        _ready_status(body, True)
        if ready is not None:
            body["status"]["readyReplicas"] = ready
        self.version = next(self.revision)
        body["metadata"]["resourceVersion"] = str(self.version)
        self._event("MODIFIED", key[0], body)

    def cut(self) -> None:
        """End every open watch, as an API server that restarts does: watchers start again
        from the last version they saw (a 410 Gone if it was compacted away since)."""
        self.cuts += 1

    def compact(self) -> None:
        """Forget the event history, as etcd's compaction does."""
        self.floor = self.version
        self.history.clear()

    def delete_object(self, plural: str, namespace: str, name: str) -> None:
        found = self.store.pop((plural, namespace, name))
        self.managers.pop((plural, namespace, name), None)
        self._event("DELETED", plural, found)

    def get_object(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        found = self.store.get((plural, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    # --- serving ---

    async def _handle(self, request: Any) -> Any:
        method = str(request.method).rpartition(".")[2].upper()
        path = request.url.path
        for fault in self.faults:
            if fault.matches(method, path):
                fault.times -= 1
                if fault.status == 0:  # a connection reset: close it without an answer
                    request._raw_request.transport.abort()
                    return aiohttp.web.Response(status=500)
                response = _status(fault.status, fault.reason, fault.message)
                response.headers.update(fault.headers)
                return response
        if request.resource is None or not request.resource.plural:  # discovery
            return await super()._handle(request)
        resource = request.resource
        plural = f"{resource.group}/{resource.version}/{resource.plural}".lstrip("/")
        namespace = request.namespace or ""
        if method == "GET" and request.name is None and dict(request.params).get("watch"):
            return await self._watch(request, plural, namespace)
        if method == "GET" and request.name is None:
            selector = dict(request.params).get("labelSelector", "")
            items = [
                copy.deepcopy(body)
                for (p, ns, _), body in sorted(self.store.items())
                if p == plural
                and (not namespace or ns == namespace)
                and _selected((body.get("metadata") or {}).get("labels") or {}, selector)
            ]
            for item in items:  # a list's items carry no apiVersion/kind
                item.pop("apiVersion", None)
                item.pop("kind", None)
            listed = {"resourceVersion": str(self.version)}
            return aiohttp.web.json_response({"metadata": listed, "items": items})
        data = request.data if isinstance(request.data, dict) else {}
        name = request.name or str((data.get("metadata") or {}).get("name", ""))
        key = (plural, namespace, name)
        found = self.store.get(key)
        if method == "GET":
            if found is None:
                return _status(404, "NotFound", f'{resource.plural} "{name}" not found')
            return aiohttp.web.json_response(found)
        if method == "DELETE":
            if found is None:
                return _status(404, "NotFound", f'{resource.plural} "{name}" not found')
            self.writes.append(("delete", plural, name))
            del self.store[key]
            self.managers.pop(key, None)
            self._event("DELETED", plural, found)
            return aiohttp.web.json_response(found)
        params = dict(request.params)
        manager = params.get("fieldManager", "unknown")
        if method == "POST":
            if found is not None:
                return _status(409, "AlreadyExists", f'{resource.plural} "{name}" already exists')
            return self._write(key, copy.deepcopy(data), manager, {manager: _owned(data)}, "create")
        if method == "PUT":
            if found is None:
                return _status(404, "NotFound", f'{resource.plural} "{name}" not found')
            version = (data.get("metadata") or {}).get("resourceVersion")
            if version is not None and version != found["metadata"]["resourceVersion"]:
                return _status(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {resource.plural} "{name}": the object '
                    "has been modified; please apply your changes to the latest version and try "
                    "again",
                )
            owners = copy.deepcopy(self.managers.get(key, {}))
            changed = {
                p for p, v in _leaves(data).items() if _get(found, p) != v and p in _owned(data)
            }
            for paths in owners.values():
                paths -= changed
            owners.setdefault(manager, set()).update(changed)
            return self._write(key, copy.deepcopy(data), manager, owners, "update")
        if method == "PATCH":
            if request.headers.get("Content-Type") != "application/apply-patch+yaml":
                return _status(415, "UnsupportedMediaType", "only server-side apply is served")
            return self._apply(key, resource, data, manager, params.get("force") == "true")
        return _status(405, "MethodNotAllowed", f"{method} is not served")

    def _event(self, kind: str, plural: str, body: Mapping[str, Any]) -> None:
        if kind == "DELETED":  # a deletion is a version of its own
            self.version = next(self.revision)
            body = copy.deepcopy(dict(body))
            body["metadata"]["resourceVersion"] = str(self.version)
        with self.changed:
            self.history.append((self.version, kind, plural, copy.deepcopy(dict(body))))
            self.changed.notify_all()

    async def _watch(self, request: Any, plural: str, namespace: str) -> Any:
        params = dict(request.params)
        since = int(params.get("resourceVersion") or self.version)
        selector = params.get("labelSelector", "")
        bookmarks = params.get("allowWatchBookmarks") == "true"
        ends = asyncio.get_running_loop().time() + float(params.get("timeoutSeconds") or 60)
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request._raw_request)

        async def send(event: Mapping[str, Any]) -> None:
            await response.write((json.dumps(event) + "\n").encode())

        if since < self.floor:
            gone = f"too old resource version: {since} ({self.floor})"
            status = _status(410, "Expired", gone)
            await send({"type": "ERROR", "object": json.loads(status.text or "{}")})
            await response.write_eof()
            return response
        last_bookmark = asyncio.get_running_loop().time()
        cuts = self.cuts
        while self.cuts == cuts:
            top = self.version  # events appended while this loop writes wait for the next
            for version, kind, p, body in list(self.history):
                meta = body.get("metadata") or {}
                if (
                    since < version <= top
                    and p == plural
                    and (not namespace or meta.get("namespace") == namespace)
                    and _selected(meta.get("labels") or {}, selector)
                ):
                    await send({"type": kind, "object": body})
                    since = version
            now = asyncio.get_running_loop().time()
            if bookmarks and (now - last_bookmark >= self.bookmark_every or now >= ends):
                mark = {"kind": "Pod", "apiVersion": "v1"}
                await send(
                    {
                        "type": "BOOKMARK",
                        "object": {**mark, "metadata": {"resourceVersion": str(top)}},
                    }
                )
                since, last_bookmark = max(since, top), now
            if now >= ends:
                break
            await asyncio.sleep(0.02)
        await response.write_eof()
        return response

    def _apply(
        self,
        key: tuple[str, str, str],
        resource: Any,
        data: dict[str, Any],
        manager: str,
        force: bool,
    ) -> aiohttp.web.Response:
        found = self.store.get(key)
        owners = copy.deepcopy(self.managers.get(key, {}))
        sent = _leaves(data)
        mine = _owned(data)
        conflicts = []
        for other, paths in sorted(owners.items()):
            if other == manager:
                continue
            for p in sorted(paths & mine):
                if found is not None and _get(found, p) != sent[p]:
                    conflicts.append((other, p))
        if conflicts and not force:
            api_version = str(data.get("apiVersion", ""))
            causes = [
                {
                    "reason": "FieldManagerConflict",
                    "message": f'conflict with "{other}" using {api_version}',
                    "field": "." + ".".join(p),
                }
                for other, p in conflicts
            ]
            listed = "\n".join(f"- {c['message']}: {c['field']}" for c in causes)
            return _status(
                409,
                "Conflict",
                f"Apply failed with {len(causes)} conflict(s): {listed}",
                name=key[2],
                kind=resource.plural,
                causes=causes,
            )
        body = copy.deepcopy(found) if found is not None else {}
        for p in owners.get(manager, set()) - mine:  # fields this manager stopped sending
            if not any(p in paths for other, paths in owners.items() if other != manager):
                _drop(body, p)
        for p in mine:
            _set(body, p, sent[p])
        for other, paths in owners.items():
            if other != manager:
                taken = {p for p in paths & mine if found is None or _get(found, p) != sent[p]}
                paths -= taken
        owners[manager] = mine
        return self._write(key, body, manager, owners, "apply")

    def _write(
        self,
        key: tuple[str, str, str],
        body: dict[str, Any],
        manager: str,
        owners: dict[str, set[Path]],
        verb: str,
    ) -> aiohttp.web.Response:
        previous = self.store.get(key)
        body = self._server_fields(body, previous)
        owners = {m: paths for m, paths in owners.items() if paths}
        body["metadata"]["managedFields"] = _managed_fields(owners, body, manager, verb)
        self._event("ADDED" if previous is None else "MODIFIED", key[0], body)
        self.store[key] = body
        self.managers[key] = owners
        self.writes.append((verb, key[0], key[2]))
        return aiohttp.web.json_response(body, status=201 if verb == "create" else 200)

    def _server_fields(
        self, body: dict[str, Any], previous: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        meta = body.setdefault("metadata", {})
        old = (previous or {}).get("metadata") or {}
        meta["uid"] = old.get("uid") or f"uid-{meta.get('name')}"
        self.version = next(self.revision)
        meta["resourceVersion"] = str(self.version)
        generation = int(old.get("generation") or 0)
        if previous is None or previous.get("spec") != body.get("spec"):
            generation += 1
        meta["generation"] = generation
        if body.get("kind") in WORKLOADS:
            slow = self.ready and self.ready_after > 0
            _ready_status(body, self.ready and not slow)
            if slow:
                self._ripen(body)
        return body

    def _ripen(self, body: Mapping[str, Any]) -> None:
        """The toy controller makes a workload's pods ready over `ready_after` seconds, in
        `ready_steps` status updates, the last of them with every replica ready."""
        meta = body["metadata"]
        key = (_plural(body), str(meta.get("namespace") or ""), str(meta["name"]))
        generation = meta["generation"]
        want = int((body.get("spec") or {}).get("replicas", 1))
        loop = asyncio.get_running_loop()
        for step in range(1, self.ready_steps + 1):

            def update(step: int = step) -> None:
                found = self.store.get(key)
                if found is None or found["metadata"]["generation"] != generation:
                    return  # deleted or changed since: its own writes ripen it
                last = step == self.ready_steps
                self.set_status(key, ready=None if last else want * step // self.ready_steps)

            loop.call_later(self.ready_after * step / self.ready_steps, update)


def _plural(body: Mapping[str, Any]) -> str:
    """The store's key of a workload kind: `apps/v1/statefulsets`."""
    kind = str(body.get("kind", ""))
    return f"{body.get('apiVersion')}/{kind.lower()}s"


def _managed_fields(
    owners: Mapping[str, set[Path]], body: Mapping[str, Any], manager: str, verb: str
) -> list[dict[str, Any]]:
    """`metadata.managedFields` as the API server writes them: per manager, its fields."""
    return [
        {
            "manager": m,
            "operation": "Apply" if verb == "apply" and m == manager else "Update",
            "apiVersion": body.get("apiVersion", ""),
            "fieldsType": "FieldsV1",
            "fieldsV1": _fields_v1(paths),
        }
        for m, paths in sorted(owners.items())
    ]


def _ready_status(body: dict[str, Any], ready: bool) -> None:
    spec = body.get("spec")
    want = spec.get("replicas", 1) if isinstance(spec, dict) else 1
    body["status"] = {
        "observedGeneration": body["metadata"]["generation"],
        "replicas": want,
        "readyReplicas": want if ready else 0,
        "updatedReplicas": want,
    }


@contextmanager
def serve(handler: kmock.KubernetesEmulator | None = None) -> Iterator[tuple[Any, str]]:
    """(the emulator, its URL), running until the block ends."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    emulator = handler if handler is not None else ApiServer()
    server = kmock.Server(emulator)

    async def start() -> str:
        await emulator.__aenter__()
        await server.__aenter__()
        return str(server.url).rstrip("/")

    async def stop() -> None:
        await server.__aexit__(None, None, None)
        await emulator.__aexit__(None, None, None)

    url = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    try:
        yield emulator, url
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
