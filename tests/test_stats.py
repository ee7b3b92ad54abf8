"""Intervals against scipy's independent implementation; derived counts; bad input."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest

from crizotinib_reports.evidence.stats import derived_count, proportion_interval


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


# --- between-arm comparisons, pooling and consistency checks (references computed independently) ---

import math  # noqa: E402

from scipy.stats import norm  # noqa: E402

from crizotinib_reports.evidence.stats import (  # noqa: E402
    difference_interval,
    gap_beyond_rounding,
    hazard_ratio_midpoint_gap,
    odds_ratio_interval,
    pooled_proportion,
)

ARMS = [(112, 173, 35, 174), (127, 172, 77, 171), (5, 20, 1, 25)]


@pytest.mark.parametrize("level", [0.8, 0.9, 0.95, 0.99])
@pytest.mark.parametrize(("c1", "n1", "c2", "n2"), ARMS)
def test_newcombe_difference_matches_wilson_construction(level, c1, n1, c2, n2):
    """Newcombe (1998) method 10, built here from scipy's Wilson limits."""
    w1 = binomtest(c1, n1).proportion_ci(confidence_level=level, method="wilson")
    w2 = binomtest(c2, n2).proportion_ci(confidence_level=level, method="wilson")
    p1, p2 = c1 / n1, c2 / n2
    low = p1 - p2 - math.sqrt((p1 - w1.low) ** 2 + (w2.high - p2) ** 2)
    high = p1 - p2 + math.sqrt((w1.high - p1) ** 2 + (p2 - w2.low) ** 2)
    got = difference_interval(c1, n1, c2, n2, level)
    assert got.estimate == pytest.approx(p1 - p2, abs=1e-9)
    assert got.low == pytest.approx(low, abs=0.001)
    assert got.high == pytest.approx(high, abs=0.001)


@pytest.mark.parametrize("level", [0.8, 0.95, 0.99])
@pytest.mark.parametrize(("c1", "n1", "c2", "n2"), ARMS)
def test_woolf_odds_ratio_matches_formula(level, c1, n1, c2, n2):
    a, b, c, d = c1, n1 - c1, c2, n2 - c2
    log_or = math.log(a * d / (b * c))
    half = norm.ppf(0.5 + level / 2) * math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    got = odds_ratio_interval(c1, n1, c2, n2, level)
    assert got.estimate == pytest.approx(math.exp(log_or), rel=1e-9)
    assert got.low == pytest.approx(math.exp(log_or - half), abs=0.001)
    assert got.high == pytest.approx(math.exp(log_or + half), abs=0.001)


@pytest.mark.parametrize("level", [0.9, 0.95])
def test_pooled_proportion_matches_dersimonian_laird_by_hand(level):
    counts, totals = [73, 68, 112, 127], [119, 136, 173, 172]
    y = [math.log(c / (n - c)) for c, n in zip(counts, totals)]
    v = [1 / c + 1 / (n - c) for c, n in zip(counts, totals)]
    w = [1 / vi for vi in v]
    fixed = sum(wi * yi for wi, yi in zip(w, y)) / sum(w)
    q = sum(wi * (yi - fixed) ** 2 for wi, yi in zip(w, y))
    tau2 = max(0.0, (q - 3) / (sum(w) - sum(wi ** 2 for wi in w) / sum(w)))
    w_re = [1 / (vi + tau2) for vi in v]
    mean = sum(wi * yi for wi, yi in zip(w_re, y)) / sum(w_re)
    se = math.sqrt(1 / sum(w_re))
    z = norm.ppf(0.5 + level / 2)
    expit = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    got = pooled_proportion(counts, totals, level)
    assert got.estimate == pytest.approx(expit(mean), abs=0.001)
    assert got.low == pytest.approx(expit(mean - z * se), abs=0.001)
    assert got.high == pytest.approx(expit(mean + z * se), abs=0.001)
    assert got.q == pytest.approx(q, rel=1e-6)
    assert got.tau2 == pytest.approx(tau2, rel=1e-6)
    assert got.i2 == pytest.approx((q - 3) / q, rel=1e-6)
    assert sum(got.weights) == pytest.approx(1.0)


def test_pooling_refuses_what_it_cannot_do():
    with pytest.raises(ValueError):
        pooled_proportion([5], [10])
    with pytest.raises(ValueError):
        pooled_proportion([0, 5], [10, 10])


@pytest.mark.parametrize(("published", "recomputed", "decimals", "gap"),
                         [(52, 52.0, 0, 0), (70, 70.49, 0, 0), (42, 41.3, 0, 0.2), (59, 60.0, 0, 0.5),
                          (52.0, 52.06, 1, 0.01)])
def test_gap_beyond_rounding(published, recomputed, decimals, gap):
    assert gap_beyond_rounding(published, recomputed, decimals) == pytest.approx(gap, abs=1e-6)


def test_hazard_ratio_symmetry_check():
    assert hazard_ratio_midpoint_gap(0.49, 0.37, 0.64)[1] == 0
    assert hazard_ratio_midpoint_gap(0.45, 0.35, 0.60)[1] == 0  # 0.458 implied, within rounding of all three
    implied, gap = hazard_ratio_midpoint_gap(0.60, 0.35, 0.60)  # a planted disagreement
    assert implied == pytest.approx(math.sqrt(0.35 * 0.60))
    assert gap > 0.1


# --- pooled ORR: prediction interval and the Hartung-Knapp option, against numpy/scipy by hand ---

import numpy as np  # noqa: E402
from scipy.stats import t as student_t  # noqa: E402

POOL = ([73, 68, 112, 127], [119, 136, 173, 172])


def _by_hand(counts, totals):
    """DerSimonian-Laird on the logit scale, written out: logits, variances, τ² (truncated at 0), RE weights."""
    c, n = np.asarray(counts, float), np.asarray(totals, float)
    y, v = np.log(c / (n - c)), 1 / c + 1 / (n - c)
    w = 1 / v
    q = float(np.sum(w * (y - np.sum(w * y) / np.sum(w)) ** 2))
    tau2 = max(0.0, (q - (len(y) - 1)) / (np.sum(w) - np.sum(w ** 2) / np.sum(w)))
    w_re = 1 / (v + tau2)
    mean = float(np.sum(w_re * y) / np.sum(w_re))
    return y, w_re, mean, tau2, float(np.sqrt(1 / np.sum(w_re)))


def _expit(x):
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize("level", [0.9, 0.95])
@pytest.mark.parametrize("interval", ["dersimonian-laird", "hartung-knapp"])
def test_prediction_interval_matches_higgins_by_hand(level, interval):
    """Higgins, Thompson & Spiegelhalter (2009): mean ± t(k−2) × sqrt(τ² + SE²), back-transformed."""
    y, _, mean, tau2, se = _by_hand(*POOL)
    half = student_t.ppf(0.5 + level / 2, len(y) - 2) * np.sqrt(tau2 + se ** 2)
    got = pooled_proportion(*POOL, level, interval)
    assert got.prediction_low == pytest.approx(_expit(mean - half), abs=1e-6)
    assert got.prediction_high == pytest.approx(_expit(mean + half), abs=1e-6)
    assert got.prediction_low < got.low < got.estimate < got.high < got.prediction_high


@pytest.mark.parametrize("level", [0.9, 0.95])
def test_hartung_knapp_matches_formula_by_hand(level):
    """HKSJ: SE² = Σ w*(y − μ)² / ((k − 1) Σ w*), interval μ ± t(k−1) × SE."""
    y, w_re, mean, _, _ = _by_hand(*POOL)
    se = np.sqrt(np.sum(w_re * (y - mean) ** 2) / ((len(y) - 1) * np.sum(w_re)))
    half = student_t.ppf(0.5 + level / 2, len(y) - 1) * se
    got = pooled_proportion(*POOL, level, "hartung-knapp")
    assert got.estimate == pytest.approx(_expit(mean), abs=1e-9)
    assert got.low == pytest.approx(_expit(mean - half), abs=1e-6)
    assert got.high == pytest.approx(_expit(mean + half), abs=1e-6)
    plain = pooled_proportion(*POOL, level)
    assert (got.low, got.high) != pytest.approx((plain.low, plain.high), abs=1e-3)


def test_homogeneous_studies_pool_as_fixed_effect():
    """statsmodels leaves a negative DerSimonian-Laird τ² as it is; the pool truncates it at 0 (fixed effect)."""
    counts, totals = [50, 51, 49], [100, 100, 100]
    y, _, mean, tau2, se = _by_hand(counts, totals)
    got = pooled_proportion(counts, totals)
    assert tau2 == 0 and got.tau2 == 0 and got.i2 == 0
    assert got.low == pytest.approx(_expit(mean - norm.ppf(0.975) * se), abs=1e-6)
    assert got.weights == pytest.approx([1 / len(y)] * len(y), abs=1e-3)


def test_prediction_interval_needs_three_studies():
    got = pooled_proportion([30, 40], [100, 100])
    assert math.isnan(got.prediction_low) and math.isnan(got.prediction_high)
    with pytest.raises(ValueError, match="unknown pooled interval"):
        pooled_proportion(*POOL, 0.95, "paule-mandel")
