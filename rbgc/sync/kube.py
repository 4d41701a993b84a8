"""The real `Cluster`: the official `kubernetes` client, plain dicts, server-side apply.

Requests are planned by pure functions (`Request`: method, path, query, headers, body) and sent
through an injected `kubernetes.client.ApiClient` (`send`), as lightkube splits
`prepare_request` from `send`. Bodies stay plain dicts: the client's typed APIs validate and
re-serialise them through its models, which refuses or drops fields (design.md §6).

`kubernetes` costs ~380 ms to import: only `connect()` and the sender import it, so `rbgc
build` and `--help` never do. Core kinds have their paths in a table; every other kind (CRDs:
PodGroup, LeaderWorkerSet) is looked up once per group/version by API discovery, and a kind
the cluster does not serve is `KindNotServed`, not a 404 from somewhere in the middle.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from rbgc.sync.cluster import (
    FIELD_MANAGER,
    ClusterError,
    ConfigError,
    ConflictError,
    KindNotServed,
    Object,
    Ref,
)

APPLY_PATCH = "application/apply-patch+yaml"  # JSON is YAML: the client sends the dict as JSON

# (apiVersion, kind) -> (plural, namespaced) for kinds every cluster serves.
CORE: dict[tuple[str, str], tuple[str, bool]] = {
    ("v1", "Namespace"): ("namespaces", False),
    ("v1", "ServiceAccount"): ("serviceaccounts", True),
    ("v1", "ConfigMap"): ("configmaps", True),
    ("v1", "Secret"): ("secrets", True),
    ("v1", "Service"): ("services", True),
    ("v1", "PersistentVolumeClaim"): ("persistentvolumeclaims", True),
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


def list_request(path: str, labels: Mapping[str, str]) -> Request:
    selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    query = (("labelSelector", selector),) if selector else ()
    return Request(method="GET", path=path, query=query, headers={"Accept": "application/json"})


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


class KubeCluster:
    """`Cluster` over an injected `kubernetes.client.ApiClient` (its host, auth and TLS)."""

    def __init__(self, api_client: Any, *, request_timeout: float = 30.0) -> None:
        self.api = api_client
        self.request_timeout = request_timeout
        self._discovered: dict[str, dict[str, tuple[str, bool]]] = {}

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
        path = self._path(Ref(api_version, kind, namespace, ""))
        found = self.send(list_request(path, labels)) or {}
        items = found.get("items") or []
        # A list's items carry no apiVersion/kind: put them back, as kubectl does.
        return [{"apiVersion": api_version, "kind": kind, **item} for item in items]

    def delete(self, ref: Ref) -> None:
        try:
            self.send(delete_request(self._path(ref)))
        except KindNotServed:
            raise
        except ClusterError as exc:
            if not exc.not_found:
                raise

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
                if exc.not_found:
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
        """Send one request; the decoded JSON answer, or `ClusterError`."""
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
                _request_timeout=self.request_timeout,
            )
            response.read()
        except ApiException as exc:
            raise error_from(int(exc.status or 0), str(exc.reason or ""), exc.body or "") from None
        except urllib3.exceptions.HTTPError as exc:
            raise ClusterError(0, "Unreachable", f"{url}: {exc}") from None
        text = response.data.decode("utf-8") if response.data else ""
        if not 200 <= response.status <= 299:
            raise error_from(response.status, str(response.reason or ""), text)
        return json.loads(text) if text else None


def connect(
    *, kubeconfig: str | None, context: str | None, server: str | None, timeout: float = 30.0
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
    return KubeCluster(client.ApiClient(configuration), request_timeout=timeout)
