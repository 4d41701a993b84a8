"""Kubernetes resource quantities ("500m", "1Gi", "1e3", "2k", 4, 0.5) read exactly.

The grammar is apimachinery's `resource.Quantity`: a signed decimal number and one optional
suffix, binary SI (`Ki` .. `Ei`), decimal SI (`n` `u` `m` `` `k` `M` `G` `T` `P` `E`) or a
decimal exponent (`e3`, `E-2`). Values are kept as `Fraction`s, so `0.1` CPU is exactly
100 millicores. `units` turns a quantity into the integer the scheduler compares: millicores
for `cpu`, whole units (bytes for memory) for everything else, rounded up as Kubernetes'
`MilliValue` / `Value` do.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from rbgc.source.shapes import kind_of

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_QUANTITY = re.compile(rf"^(?P<number>{_NUMBER})(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$")
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
# Resources the scheduler compares in thousandths (`MilliValue`).
MILLI_RESOURCES = frozenset({"cpu"})


def parse(raw: object) -> Fraction:
    """The exact value of a quantity; ValueError with a readable message otherwise.

    >>> parse("500m"), parse("1Gi"), parse("1e3"), parse("2k"), parse(0.5)
    (Fraction(1, 2), Fraction(1073741824, 1), Fraction(1000, 1), Fraction(2000, 1), Fraction(1, 2))
    """
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError(
            f"a quantity is a number or a string such as '500m' or '1Gi', not {kind_of(raw)}"
        )
    if isinstance(raw, int):
        return Fraction(raw)
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise ValueError("a quantity must be a finite number")
        return Fraction(str(raw))  # the decimal the user wrote, not the binary float
    match = _QUANTITY.match(raw.strip())
    if match is None or raw != raw.strip():
        raise ValueError(
            f"{raw!r} is not a Kubernetes quantity (a number with an optional suffix such as "
            "m, k, M, G, Ki, Mi, Gi or e3)"
        )
    value = Fraction(match["number"])
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return value * Fraction(1 << (10 * _BINARY[suffix]))
    exponent = _DECIMAL[suffix] if suffix in _DECIMAL else int(suffix[1:] or 0)
    scale = Fraction(10**exponent) if exponent >= 0 else Fraction(1, 10**-exponent)
    return value * scale


def units(resource: str, raw: object) -> int:
    """The integer the scheduler compares for `resource` (see the module docstring)."""
    scale = 1000 if resource in MILLI_RESOURCES else 1
    if isinstance(raw, str) and raw.isascii():  # the common shapes, without Fraction
        if raw.isdigit():
            return int(raw) * scale
        if raw[:-2].isdigit() and raw[-2:] in _BINARY:
            return int(raw[:-2]) * (1 << (10 * _BINARY[raw[-2:]])) * scale
        if raw[:-1].isdigit() and raw[-1] == "m" and scale == 1000:
            return int(raw[:-1])
    value = parse(raw)
    if value < 0:
        raise ValueError(f"{raw!r} is negative")
    scaled = value * 1000 if resource in MILLI_RESOURCES else value
    return math.ceil(scaled)


def show(resource: str, amount: int) -> str:
    """A figure as people write it: CPUs in cores, memory with the largest binary suffix that
    holds it exactly, everything else as a count.

    >>> show("cpu", 1500), show("cpu", 2000), show("memory", 17179869184), show("memory", 1000)
    ('1.5', '2', '16Gi', '1000')
    """
    return show_all(resource, amount)[0]


def show_all(resource: str, *amounts: int) -> list[str]:
    """Figures of one resource in one form, to be read side by side: never `157` beside
    `155700m`, nor `16Gi` beside `17180917760`.

    >>> show_all("cpu", 157000, 155700), show_all("memory", 16 * 1024**3, 1536 * 1024**2)
    (['157', '155.7'], ['16384Mi', '1536Mi'])
    """
    if resource in MILLI_RESOURCES:  # cores, with the millicores as decimals when there are any
        return [_decimal(amount) for amount in amounts]
    binary = resource in ("memory", "ephemeral-storage") or resource.startswith("hugepages-")
    if binary and any(amounts):
        for suffix, power in sorted(_BINARY.items(), key=lambda item: -item[1]):
            if all(amount % 1024**power == 0 for amount in amounts):
                return [f"{amount // 1024**power}{suffix}" if amount else "0" for amount in amounts]
    return [str(amount) for amount in amounts]


def _decimal(millis: int) -> str:
    whole, part = divmod(abs(millis), 1000)
    sign = "-" if millis < 0 else ""
    return f"{sign}{whole}" + (f".{part:03d}".rstrip("0") if part else "")
