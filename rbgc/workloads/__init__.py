"""Lowerings: one module per workload kind a role can become.

A lowering turns one role (with its finished pod templates) into Kubernetes objects. It is
pure and knows nothing about discovery: `discovery` later injects into the pod templates each
manifest lists in `pod_templates`.
"""

from __future__ import annotations

from collections.abc import Mapping

from rbgc.model import LwsLowering, Target, WorkloadKind
from rbgc.workloads.context import Lowering


def lowerings(target: Target) -> Mapping[WorkloadKind, Lowering]:
    from rbgc.workloads import deployment, leaderworkerset, statefulset

    lws = (
        leaderworkerset.lower_native
        if target.lws is LwsLowering.NATIVE
        else leaderworkerset.lower_statefulsets
    )
    return {
        WorkloadKind.STATEFULSET: statefulset.lower,
        WorkloadKind.DEPLOYMENT: deployment.lower,
        WorkloadKind.LEADERWORKERSET: lws,
    }
