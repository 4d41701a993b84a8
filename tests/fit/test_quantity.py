"""Kubernetes quantities, read exactly as apimachinery's `resource.Quantity` reads them."""

from __future__ import annotations

from fractions import Fraction

import pytest

from rbgc.k8s.quantity import parse, show, show_all, units


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("500m", Fraction(1, 2)),
        ("1Gi", Fraction(2**30)),
        ("1.5Gi", Fraction(3 * 2**29)),
        ("1e3", Fraction(1000)),
        ("1E-3", Fraction(1, 1000)),
        ("2k", Fraction(2000)),
        ("100M", Fraction(10**8)),
        ("3Ti", Fraction(3 * 2**40)),
        ("250n", Fraction(1, 4 * 10**6)),
        ("10u", Fraction(1, 10**5)),
        ("0.1", Fraction(1, 10)),
        (".5", Fraction(1, 2)),
        ("1.", Fraction(1)),
        ("+4", Fraction(4)),
        ("8", Fraction(8)),
        (8, Fraction(8)),
        (0.5, Fraction(1, 2)),
        (0.1, Fraction(1, 10)),  # the decimal written, not the binary float
    ],
)
def test_quantities(raw: object, value: Fraction) -> None:
    assert parse(raw) == value


@pytest.mark.parametrize(
    "raw", ["", "Gi", "1 Gi", "1GB", "1KI", "1ki", "1K", "5i", "12e", "1e3.5", "--1", " 1", "one"]
)
def test_not_quantities(raw: str) -> None:
    with pytest.raises(ValueError, match="is not a Kubernetes quantity"):
        parse(raw)


@pytest.mark.parametrize("raw", [None, True, [1], {"a": 1}, float("inf"), float("nan")])
def test_not_even_strings_or_numbers(raw: object) -> None:
    with pytest.raises(ValueError, match="quantity"):
        parse(raw)


def test_units_round_up_as_the_scheduler_does() -> None:
    assert units("cpu", "0.1") == 100
    assert units("cpu", "1m") == 1
    assert units("cpu", "0.0001") == 1  # MilliValue rounds up
    assert units("cpu", 2) == 2000
    assert units("memory", "1m") == 1  # Value rounds up
    assert units("memory", "1.5Gi") == 1610612736
    assert units("nvidia.com/gpu", "8") == 8
    with pytest.raises(ValueError, match="negative"):
        units("cpu", "-1")


def test_show() -> None:
    # CPUs in cores, so that two figures of one message share a form (issue 18.8)
    assert [show("cpu", n) for n in (500, 2000, 2500, 1)] == ["0.5", "2", "2.5", "0.001"]
    assert show("memory", 48 * 2**30) == "48Gi"
    assert show("memory", 1000) == "1000"
    assert show("memory", 0) == "0"
    assert show("hugepages-2Mi", 2**21) == "2Mi"
    assert show("nvidia.com/gpu", 16) == "16"


def test_figures_side_by_side_share_one_form() -> None:
    # not `157` beside `155700m` (issue 18.8): both in cores
    assert show_all("cpu", 157000, 155700) == ["157", "155.7"]
    # memory: the largest binary suffix that holds every figure exactly
    assert show_all("memory", 16 * 2**30, 1536 * 2**20) == ["16384Mi", "1536Mi"]
    assert show_all("memory", 16 * 2**30, 0) == ["16Gi", "0"]
    assert show_all("memory", 16 * 2**30, 1000) == [str(16 * 2**30), "1000"]
    assert show_all("nvidia.com/gpu", 6, 8) == ["6", "8"]
