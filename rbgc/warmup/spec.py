"""A `RoleBasedGroupWarmup` as the build read and resolved it; the back ends read only this.

Field by field as upstream's `api/workloads/v1alpha2/rolebasedgroupwarmup_types.go` has them.
`nodes` is what the build could resolve (the `nodeNames`, or a `nodeSelector` matched against
`--nodes`); None leaves it to `rbgc sync`, which lists the cluster's nodes (`nodeSelector`) or
the nodes that run the group's pods (`targetRoleBasedGroup`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rbgc.diagnostics import Span


@dataclass(frozen=True, slots=True, kw_only=True)
class Actions:
    """`WarmupActions`: images to pull, and customized containers with their volumes."""

    images: tuple[str, ...] = ()
    pull_secrets: tuple[str, ...] = ()
    containers: tuple[Mapping[str, Any], ...] = ()
    volumes: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Policies:
    """`spec.policies`; None: unset, with upstream's meaning (all nodes at once, retried for
    ever, any number of failed nodes tolerated, no timeout, never deleted)."""

    parallelism: int | None = None
    backoff_limit_per_node: int | None = None
    max_failed_nodes: int | None = None
    global_timeout_seconds: int | None = None
    ttl_seconds_after_finished: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Warmup:
    name: str
    namespace: str
    wave: int = 0  # its own sync-wave annotation: the first batch of Jobs goes there
    paused: bool = False
    policies: Policies = field(default_factory=Policies)
    tolerations: tuple[Mapping[str, Any], ...] = ()
    # targetNodes: the same actions on every node
    node_names: tuple[str, ...] | None = None
    node_selector: Mapping[str, str] | None = None
    actions: Actions | None = None
    # targetRoleBasedGroup: per role, the actions for the nodes running its pods
    group: str | None = None
    roles: Mapping[str, Actions] = field(default_factory=dict)
    nodes: tuple[str, ...] | None = None  # resolved by the build, sorted; None: by sync
    span: Span | None = None  # metadata.name
    target_span: Span | None = None  # the target that needs resolving

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def actions_for(self, roles: tuple[str, ...] = ()) -> tuple[Actions, ...]:
        """The actions a node gets: the inline ones, or those of the roles it runs (in the
        order upstream merges them: by role name)."""
        if self.actions is not None:
            return (self.actions,)
        return tuple(self.roles[r] for r in sorted(set(roles)) if r in self.roles)
