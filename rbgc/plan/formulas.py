"""Upstream RBG's rollout formulas (rbg-semantics.md §6), as pure functions the planner calls:
the StatefulSet surge/partition step, coordinated partitions and skew, coordinated scaling."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from rbgc.k8s.controllers import IntOrPercent, Strategy, scaled


@dataclass(frozen=True, slots=True)
class Pod:
    ready: bool
    updated: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveStatefulSet:
    replicas: int
    partition: int
    pods: tuple[Pod, ...]  # by ordinal, for ordinals < replicas (missing: not ready, not updated)
    role_size: int  # the role-size annotation: replicas the role had when the rollout began


def rolling_parameters(
    *,
    replicas: int,
    strategy: Strategy,
    live: LiveStatefulSet | None,
    template_changed: bool,
) -> tuple[int, int]:
    """(partition, replicas) upstream writes to the StatefulSet (rbg-semantics.md §6.1).

    >>> s = Strategy(max_unavailable=2, max_surge=2)
    >>> old = LiveStatefulSet(replicas=4, partition=0, pods=(Pod(True, False),) * 4, role_size=4)
    >>> rolling_parameters(replicas=4, strategy=s, live=old, template_changed=True)
    (4, 6)
    """
    n = replicas
    ms = min(scaled(strategy.max_surge, n, round_up=True), n)
    mu = scaled(strategy.max_unavailable, n, round_up=False)
    burst = n + ms
    p0 = min(max(scaled(strategy.partition, n, round_up=True), 0), n)

    def want(u: int) -> int:
        return n + max(u - 1, 0) if u <= ms else burst

    if live is None:
        return p0, n
    if template_changed:
        partition, target = min(n, live.replicas), want(n)
    elif live.partition == 0 and live.replicas == n:
        partition, target = 0, n
    else:
        pods = live.pods
        # rbgc counts only the ordinals the rollout must update (from the role's partition up):
        # counting the held ones too, as upstream does, keeps the surge pods forever.
        u = sum(
            1 for i in range(p0, n) if i >= len(pods) or not (pods[i].ready and pods[i].updated)
        )
        if live.role_size != n:
            partition, target = min(live.partition, burst), want(u)
        else:
            size = live.replicas
            step = mu + ms - (burst - size)
            c = 0
            for i in range(size - 1, -1, -1):
                if i < len(pods) and pods[i].ready and pods[i].updated:
                    c += 1
                else:
                    break
            q = max(size - c - step, 0)
            partition = q + sum(1 for i in range(q) if i >= len(pods) or not pods[i].ready)
            for i in range(min(partition, size - 1), q - 1, -1):
                pod = pods[i] if i < len(pods) else Pod(False, False)
                if not pod.ready or pod.updated:
                    partition = i
                else:
                    break
            partition = min(partition, live.partition)
            target = want(u)
    return max(partition, p0), target


def coordinated_partition(percent: IntOrPercent, replicas: int) -> int:
    """`CalculatePartitionReplicas`: round up, but never the whole role unless "100%"."""
    value = scaled(percent, replicas, round_up=True)
    if value == replicas and percent != "100%":
        value = replicas - 1
    return min(max(value, 0), replicas)


def _round_half_away(num: int, den: int) -> int:
    """Go's math.Round(num/den) for num >= 0, den > 0, in exact integers."""
    return (2 * num + den) // (2 * den)


def next_rolling_target(
    *, u_slow: int, d_slow: int, u_fast: int, d_fast: int, ready_fast: int, max_skew: int
) -> int:
    """Updated-replica target of the slowest role (rbg-semantics.md §6.3, HEAD variant).

    >>> next_rolling_target(u_slow=0, d_slow=4, u_fast=0, d_fast=2, ready_fast=2, max_skew=25)
    1
    """
    s = max_skew
    skew_abs = max(-(-s * d_slow // 100), 1)
    lower = _round_half_away(max(100 * u_fast * d_slow - s * d_fast * d_slow, 0), 100 * d_fast)
    upper = _round_half_away(s * d_fast * d_slow + 100 * u_fast * d_slow, 100 * d_fast)
    bal = (lower + upper + 1) >> 1
    step = max(max(bal - u_slow, 0), skew_abs >> 1)
    if step == 0 and u_slow < d_slow:
        step = 1
    if ready_fast == d_fast:
        step = max(step, 1)
    return min(u_slow + step, upper + 1)


def progress_order(updated: Mapping[str, int], desired: Mapping[str, int]) -> list[str]:
    """Roles by updated/desired ascending; ratios within 1e-6 put the larger role first."""

    def compare(a: str, b: str) -> int:
        ra, rb = updated[a] / desired[a], updated[b] / desired[b]
        if abs(ra - rb) < 1e-6:
            return desired[b] - desired[a] or (a > b) - (a < b)
        return -1 if ra < rb else 1

    return sorted(desired, key=functools.cmp_to_key(compare))


def skew_within_bound(
    updated: Mapping[str, int], desired: Mapping[str, int], max_skew: int
) -> tuple[bool, float]:
    """Upstream's property-test invariant over the given roles, and the skew in percent:
    ceil(10000 (u_f/d_f - u_s/d_s)) <= 100 maxSkew + max_r ceil(10000 / d_r)."""
    if len(desired) < 2:
        return True, 0.0
    ratios = {r: Fraction(updated[r], desired[r]) for r in desired}
    fast = max(ratios.values())
    slow = min(ratios.values())
    basis = math.ceil(10000 * (fast - slow))
    bound = 100 * max_skew + max(-(-10000 // d) for d in desired.values())
    return basis <= bound, float(round((fast - slow) * 100, 2))


def scaling_targets(
    current: Mapping[str, int], desired: Mapping[str, int], max_skew: int
) -> dict[str, int]:
    """Replica targets of one coordinated-scaling step (rbg-semantics.md §6.4), in exact
    fractions (upstream's float64 can round differently at exact multiples)."""

    def progress(r: str) -> Fraction:
        if desired[r] == 0:
            return Fraction(1 if current[r] == 0 else 0)
        return Fraction(current[r], desired[r])

    order = sorted(desired, key=lambda r: (progress(r), r))
    behind = [r for r in order if current[r] < desired[r]]
    min_p = progress(behind[0] if behind else order[0])
    max_p = min_p + Fraction(max_skew, 100)
    out = {}
    for r in order:
        if current[r] >= desired[r]:
            out[r] = desired[r]
        elif progress(r) >= max_p:
            out[r] = current[r]
        else:
            t = min(math.ceil(max_p * desired[r]), desired[r])
            out[r] = current[r] + 1 if t <= current[r] else t
    return out


def percent(value: str) -> int:
    return int(value.rstrip("%"))
