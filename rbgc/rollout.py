"""Int-or-percent arithmetic as Kubernetes' intstr does it (GetScaledValueFromIntOrPercent)."""

from __future__ import annotations

import math

from rbgc.model import IntOrPercent


def scaled(value: IntOrPercent, total: int, *, round_up: bool) -> int:
    """An int stays; "N%" of `total`, rounded up or down.

    >>> scaled("25%", 10, round_up=True), scaled("25%", 10, round_up=False)
    (3, 2)
    """
    if isinstance(value, int):
        return value
    percent = int(value.rstrip("%"))
    exact = percent * total
    return -(-exact // 100) if round_up else math.floor(exact / 100)
