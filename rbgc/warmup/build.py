"""The build's half of a warm-up: resolve its nodes where the inputs allow, emit their Jobs.

`targetNodes.nodeNames` are the nodes. A `nodeSelector` is matched against the node inventory
of `--nodes` (the file `rbgc fit` reads) as the API server's label selector would (every label
equal). `targetRoleBasedGroup` names the nodes that run a group's pods, which only the cluster
knows. What the build cannot resolve is RBG531, unless the caller resolves it later (`rbgc sync`
lists the cluster's nodes and pods): then the warm-up is recorded with `nodes=None`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from rbgc.diagnostics import Diagnostic, Span, error, warning
from rbgc.k8s.manifest import Manifest
from rbgc.warmup import jobs
from rbgc.warmup.spec import Warmup

NodeLabels = Mapping[str, Mapping[str, str]]  # node name -> its labels


@dataclass(frozen=True, slots=True, kw_only=True)
class Lowered:
    warmups: tuple[Warmup, ...]
    manifests: tuple[Manifest, ...]
    problems: tuple[Diagnostic, ...]  # errors and warnings


def selected(selector: Mapping[str, str], nodes: NodeLabels) -> tuple[str, ...]:
    """Nodes whose labels hold every key of `selector` with its value, sorted by name."""
    return tuple(
        sorted(
            n for n, labels in nodes.items() if all(labels.get(k) == v for k, v in selector.items())
        )
    )


def lower(warmups: Sequence[Warmup], nodes: NodeLabels | None, *, later: bool) -> Lowered:
    """Resolve and lower every warm-up; `nodes`: the `--nodes` inventory, if any; `later`:
    what the build cannot resolve is left to `rbgc sync` instead of being an error."""
    done: list[Warmup] = []
    manifests: list[Manifest] = []
    problems: list[Diagnostic] = []
    for w in warmups:
        resolved = _resolve(w, nodes, later, problems)
        w = replace(w, nodes=resolved)
        done.append(w)
        if resolved is None:
            continue
        for j in jobs.jobs(w, {n: () for n in resolved}):
            manifests.append(Manifest(body=j.body, wave=j.wave, origin=w.span or Span(w.key)))
    return Lowered(warmups=tuple(done), manifests=tuple(manifests), problems=tuple(problems))


def _resolve(
    w: Warmup, nodes: NodeLabels | None, later: bool, problems: list[Diagnostic]
) -> tuple[str, ...] | None:
    if w.node_names is not None:
        named = tuple(sorted(set(w.node_names)))
        missing = [n for n in named if nodes is not None and n not in nodes]
        if missing:
            problems.append(
                warning(
                    "RBG533",
                    f"RoleBasedGroupWarmup {w.key}: node(s) {', '.join(missing)} are not in the "
                    "--nodes inventory; their warm-up pods stay Pending until "
                    "globalTimeoutSeconds (or for ever)",
                    w.target_span,
                    help="check the node names (`kubectl get nodes`), or refresh the inventory",
                )
            )
        return named
    if w.node_selector is not None and nodes is not None:
        found = selected(w.node_selector, nodes)
        if not found:
            wanted = ", ".join(f"{k}={v}" for k, v in sorted(w.node_selector.items()))
            problems.append(
                warning(
                    "RBG532",
                    f"RoleBasedGroupWarmup {w.key}: no node of the --nodes inventory has the "
                    f"labels {wanted}: nothing is warmed up (upstream completes at once, "
                    "NoNodesMatched)",
                    w.target_span,
                    help="check the selector against `kubectl get nodes --show-labels`",
                )
            )
        return found
    if later:
        return None
    if w.node_selector is not None:
        what = "its targetNodes.nodeSelector selects nodes, and no node inventory was given"
        fix = (
            "pass the cluster's nodes with --nodes FILE (`kubectl get nodes -o json > FILE`), "
            "or let `rbgc sync` select them in the cluster, or list nodeNames"
        )
    else:
        what = (
            f"its targetRoleBasedGroup {w.group} means the nodes that run the group's pods, "
            "which only the cluster knows"
        )
        fix = "let `rbgc sync` find them in the cluster, or target the nodes by name (nodeNames)"
    problems.append(
        error(
            "RBG531",
            f"RoleBasedGroupWarmup {w.key} cannot be compiled: {what}",
            w.target_span,
            help=fix,
        )
    )
    return None
