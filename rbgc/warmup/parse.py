"""The warm-up front end: a `workloads.x-k8s.io/v1alpha2` `RoleBasedGroupWarmup` document ->
`Warmup`.

The shape is checked against `schemas/warmup.v1alpha2.schema.json` (RBG101-103, at the line);
upstream's CEL rules, which its API server enforces at admission, are RBG530 here
(`api/workloads/v1alpha2/rolebasedgroupwarmup_types.go`: exactly one of `targetNodes` and
`targetRoleBasedGroup`; `nodeNames` or `nodeSelector`, not both; an action in each
`WarmupActions`; `maxFailedNodes` only with `backoffLimitPerNode`).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

from rbgc.diagnostics import Diagnostic, DiagnosticError, error
from rbgc.k8s import conventions as cv
from rbgc.schema import Walker
from rbgc.source import Document, JsonPath
from rbgc.warmup.spec import Actions, Policies, Warmup

KIND = "RoleBasedGroupWarmup"
SCHEMA_PATH = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "schemas", "warmup.v1alpha2.schema.json"
)
_HELP = "see schemas/warmup.v1alpha2.schema.json (upstream KEP-129) for the format"


def is_warmup(doc: Document) -> bool:
    return doc.api_version == cv.API_VERSION_V1ALPHA2 and doc.kind == KIND


@functools.cache
def schema() -> dict[str, Any]:
    with open(SCHEMA_PATH, encoding="utf-8") as fh:
        loaded: dict[str, Any] = json.load(fh)
    return loaded


def parse(doc: Document, default_namespace: str) -> Warmup:
    """The warm-up of one document; DiagnosticError with every problem."""
    defs = schema()["$defs"]
    problems = list(Walker(doc, defs=defs, noun="warm-up").walk(defs[KIND], doc.body, ()))
    if not problems:
        problems = list(_cel(doc))
    if problems:
        raise DiagnosticError(problems)
    body = doc.body
    meta = body["metadata"]
    spec = body["spec"]
    targets = spec.get("targetNodes")
    group = spec.get("targetRoleBasedGroup")
    policies = spec.get("policies") or {}
    return Warmup(
        name=meta["name"],
        namespace=meta.get("namespace") or default_namespace,
        wave=_wave(meta),
        paused=bool(spec.get("paused")),
        policies=Policies(
            parallelism=policies.get("parallelism"),
            backoff_limit_per_node=policies.get("backoffLimitPerNode"),
            max_failed_nodes=policies.get("maxFailedNodes"),
            global_timeout_seconds=policies.get("globalTimeoutSeconds"),
            ttl_seconds_after_finished=policies.get("ttlSecondsAfterFinished"),
        ),
        tolerations=tuple(spec.get("tolerations") or ()),
        node_names=tuple(targets["nodeNames"]) if targets and "nodeNames" in targets else None,
        node_selector=dict(targets["nodeSelector"])
        if targets and "nodeSelector" in targets
        else None,
        actions=_actions(targets) if targets else None,
        group=group["name"] if group else None,
        roles={r: _actions(a) for r, a in sorted(group["roles"].items())} if group else {},
        span=doc.span("metadata", "name"),
        target_span=doc.span(
            "spec", "targetNodes" if targets else "targetRoleBasedGroup", key=True
        ),
    )


def _actions(raw: Mapping[str, Any]) -> Actions:
    preload = raw.get("imagePreload") or {}
    custom = raw.get("customizedAction") or {}
    return Actions(
        images=tuple(preload.get("images") or ()),
        pull_secrets=tuple(s["name"] for s in preload.get("pullSecrets") or ()),
        containers=tuple(custom.get("containers") or ()),
        volumes=tuple(custom.get("volumes") or ()),
    )


def _wave(meta: Mapping[str, Any]) -> int:
    value = (meta.get("annotations") or {}).get(cv.SYNC_WAVE)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def _cel(doc: Document) -> Iterator[Diagnostic]:
    """Upstream's x-kubernetes-validations, which the schema walker cannot say."""
    spec = doc.body["spec"]
    targets, group = spec.get("targetNodes"), spec.get("targetRoleBasedGroup")
    if (targets is None) == (group is None):
        where = ("spec", "targetRoleBasedGroup") if targets and group else ("spec",)
        yield _rule(
            doc,
            where,
            "targetNodes and targetRoleBasedGroup are mutually exclusive"
            if targets and group
            else "either targetNodes or targetRoleBasedGroup must be specified",
            "warm up either the nodes you list or select (targetNodes), or the nodes that run "
            "a group's pods (targetRoleBasedGroup)",
        )
    if targets is not None:
        names, selector = "nodeNames" in targets, "nodeSelector" in targets
        if names == selector:
            yield _rule(
                doc,
                ("spec", "targetNodes", "nodeSelector") if names else ("spec", "targetNodes"),
                "nodeNames and nodeSelector are mutually exclusive"
                if names
                else "either nodeNames or nodeSelector must be specified",
                "list the nodes (nodeNames) or select them by label (nodeSelector)",
            )
        if selector and not targets["nodeSelector"]:
            yield _rule(
                doc,
                ("spec", "targetNodes", "nodeSelector"),
                "nodeSelector needs at least one label (upstream: MinProperties=1)",
                "an empty selector would select every node: name the label",
            )
        yield from _some_action(doc, targets, ("spec", "targetNodes"))
    if group is not None:
        if not group["roles"]:
            yield _rule(
                doc,
                ("spec", "targetRoleBasedGroup", "roles"),
                "roles needs at least one role (upstream: MinProperties=1)",
                "map each role to warm up to its actions",
            )
        for role, actions in group["roles"].items():
            yield from _some_action(doc, actions, ("spec", "targetRoleBasedGroup", "roles", role))
    policies = spec.get("policies") or {}
    if "maxFailedNodes" in policies and "backoffLimitPerNode" not in policies:
        yield _rule(
            doc,
            ("spec", "policies", "maxFailedNodes"),
            "backoffLimitPerNode must be set when maxFailedNodes is specified",
            "without backoffLimitPerNode a node is retried for ever and never counts as failed",
        )


def _some_action(doc: Document, actions: Mapping[str, Any], at: JsonPath) -> Iterator[Diagnostic]:
    if "imagePreload" not in actions and "customizedAction" not in actions:
        yield _rule(
            doc,
            at,
            "at least one of imagePreload or customizedAction must be specified",
            "add `imagePreload: {images: [...]}` or `customizedAction: {containers: [...]}`",
        )


def _rule(doc: Document, at: JsonPath, message: str, help: str) -> Diagnostic:
    meta = doc.body["metadata"]
    name = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
    return error("RBG530", f"{KIND} {name}: {message}", doc.span(*at), help=f"{help}; {_HELP}")
