"""Intervals against scipy's independent implementation; derived counts; bad input."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest

from crizotinib_reports.stats import derived_count, proportion_interval


@pytest.mark.parametrize(("percent", "n", "expected"), [(61, 119, 73), (50, 136, 68), (0, 10, 0), (100, 7, 7),
                                                        (25, 2, 1)])
def test_derived_count(percent, n, expected):
    assert derived_count(percent, n) == expected


@pytest.mark.parametrize(("percent", "n"), [(-1, 10), (101, 10), (50, 0)])
def test_derived_count_rejects_impossible_inputs(percent, n):
    with pytest.raises(ValueError):
        derived_count(percent, n)


@pytest.mark.parametrize("method", ["exact", "wilson"])
@pytest.mark.parametrize("level", [0.8, 0.9, 0.95, 0.99])
@pytest.mark.parametrize(("count", "n"), [(73, 119), (68, 136), (0, 20), (20, 20), (1, 3)])
def test_interval_matches_scipy(method, level, count, n):
    reference = binomtest(count, n).proportion_ci(confidence_level=level, method=method)
    got = proportion_interval(count, n, level, method)
    assert got.low == pytest.approx(reference.low, abs=1e-6)
    assert got.high == pytest.approx(reference.high, abs=1e-6)


def test_known_clopper_pearson_value():
    """73/119 at 95%: the exact interval published tables give as 52.0-70.1%."""
    interval = proportion_interval(73, 119, 0.95, "exact")
    assert interval.as_percent_text() == "52.0–70.1"


def test_wider_level_gives_wider_interval():
    narrow = proportion_interval(68, 136, 0.90)
    wide = proportion_interval(68, 136, 0.99)
    assert wide.low < narrow.low < narrow.high < wide.high


@pytest.mark.parametrize(("count", "n", "level", "method"),
                         [(5, 4, 0.95, "exact"), (1, 0, 0.95, "exact"), (1, 4, 1.5, "exact"), (1, 4, 0.95, "agresti")])
def test_interval_rejects_bad_input(count, n, level, method):
    with pytest.raises(ValueError):
        proportion_interval(count, n, level, method)
