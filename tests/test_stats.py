"""Intervals against scipy's independent implementation; derived counts; bad input."""

from __future__ import annotations

import re

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


# --- edges and labels: the boundaries each check draws, what each result says about itself ---

from crizotinib_reports.evidence.stats import (  # noqa: E402
    CI_METHOD_LABELS,
    CI_METHODS,
    POOLED_INTERVALS,
    Interval,
    rounding_tolerance,
)


def test_a_denominator_of_one_is_enough():
    assert derived_count(100, 1) == 1 and derived_count(49.9, 1) == 0 and derived_count(50, 1) == 1


@pytest.mark.parametrize(("percent", "n", "message"), [
    (50, 0, "denominator must be at least 1, got 0"),
    (100.01, 10, "percent must be between 0 and 100, got 100.01"),
    (-0.01, 10, "percent must be between 0 and 100, got -0.01"),
])
def test_derived_count_says_what_is_wrong(percent, n, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        derived_count(percent, n)


def test_an_interval_records_its_level_and_method_and_defaults_to_exact_95():
    got = proportion_interval(73, 119)
    assert got == proportion_interval(73, 119, 0.95, "exact")
    assert (got.level, got.method) == (0.95, "exact")
    assert proportion_interval(73, 119, 0.9, "wilson").method == "wilson"
    assert set(CI_METHODS) == set(CI_METHOD_LABELS) == {"exact", "wilson"}


def test_an_interval_prints_as_percent_to_the_decimals_asked():
    interval = Interval(0.52, 0.70125, 0.95, "exact")
    assert interval.as_percent_text() == "52.0–70.1"
    assert interval.as_percent_text(0) == "52–70"
    assert interval.as_percent_text(3) == "52.000–70.125"


@pytest.mark.parametrize(("count", "n", "level", "method", "message"), [
    (1, 4, 1.0, "exact", "confidence level must be between 0 and 1, got 1.0"),
    (1, 4, 0.0, "exact", "confidence level must be between 0 and 1, got 0.0"),
    (-1, 4, 0.95, "exact", "need 0 <= count <= denominator and denominator >= 1, got -1/4"),
    (0, 0, 0.95, "exact", "need 0 <= count <= denominator and denominator >= 1, got 0/0"),
    (5, 4, 0.95, "exact", "need 0 <= count <= denominator and denominator >= 1, got 5/4"),
    (1, 4, 0.95, "agresti", "unknown interval method 'agresti'; use one of exact, wilson"),
])
def test_interval_says_what_is_wrong(count, n, level, method, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        proportion_interval(count, n, level, method)


def test_a_single_patient_is_a_valid_denominator():
    reference = binomtest(1, 1).proportion_ci(confidence_level=0.95, method="exact")
    got = proportion_interval(1, 1)
    assert (got.low, got.high) == pytest.approx((reference.low, reference.high), abs=1e-6)


@pytest.mark.parametrize("level", [0.9, 0.95])
def test_between_arm_estimates_record_their_level_and_method(level):
    difference = difference_interval(112, 173, 35, 174, level)
    odds_ratio = odds_ratio_interval(112, 173, 35, 174, level)
    assert (difference.level, difference.method) == (level, "Newcombe hybrid score")
    assert (odds_ratio.level, odds_ratio.method) == (level, "Woolf (logit)")
    assert difference.low < difference.estimate < difference.high
    assert odds_ratio.low < odds_ratio.estimate < odds_ratio.high


def test_between_arm_estimates_default_to_95():
    assert difference_interval(112, 173, 35, 174) == difference_interval(112, 173, 35, 174, 0.95)
    assert odds_ratio_interval(112, 173, 35, 174) == odds_ratio_interval(112, 173, 35, 174, 0.95)


@pytest.mark.parametrize(("decimals", "tolerance"), [(0, 0.5), (1, 0.05), (2, 0.005), ("1", 0.05)])
def test_rounding_tolerance_is_half_the_last_digit(decimals, tolerance):
    assert rounding_tolerance(decimals) == pytest.approx(tolerance, rel=1e-12)


@pytest.mark.parametrize(("published", "recomputed", "decimals"),
                         [(0.2, 0.15, 1), (1.0, 1.05, 1), (70, 70.5, 0), (52, 51.5, 0)])
def test_a_value_exactly_half_a_digit_away_is_within_rounding(published, recomputed, decimals):
    """0.2 - 0.15 is 0.05 and a little in binary: the check must not call that a gap."""
    assert gap_beyond_rounding(published, recomputed, decimals) == 0


@pytest.mark.parametrize(("hazard_ratio", "low", "high", "decimals", "gap"), [
    (0.60, 0.35, 0.60, 2, 0.595 - math.sqrt(0.355 * 0.605)),  # the HR too high for its interval
    (0.30, 0.35, 0.60, 2, math.sqrt(0.345 * 0.595) - 0.305),  # too low
    (0.6, 0.4, 0.6, 1, 0.55 - math.sqrt(0.45 * 0.65)),  # one decimal: half of 0.1
    (0.01, 0.003, 0.02, 2, 0),  # a bound within rounding of 0: the implied HR may be as low as 0
])
def test_hazard_ratio_gap_is_what_lies_beyond_every_rounding(hazard_ratio, low, high, decimals, gap):
    implied, got = hazard_ratio_midpoint_gap(hazard_ratio, low, high, decimals)
    assert implied == pytest.approx(math.sqrt(low * high), rel=1e-12)
    assert got == pytest.approx(gap, abs=1e-12)


def test_pooled_proportion_reports_its_level_df_interval_and_weights():
    got = pooled_proportion(*POOL, 0.9)
    assert (got.level, got.df, got.interval) == (0.9, 3, "dersimonian-laird")
    _, w_re, _, _, _ = _by_hand(*POOL)
    assert got.weights == pytest.approx(tuple(w_re / w_re.sum()), rel=1e-9)
    assert pooled_proportion(*POOL, 0.9, "hartung-knapp").interval == "hartung-knapp"
    assert set(POOLED_INTERVALS) == {"dersimonian-laird", "hartung-knapp"}


def test_pooled_proportion_defaults_to_95_and_dersimonian_laird():
    assert pooled_proportion(*POOL) == pooled_proportion(*POOL, 0.95, "dersimonian-laird")


def test_three_studies_give_a_prediction_interval():
    counts, totals = [30, 45, 60], [100, 100, 100]
    _, _, mean, tau2, se = _by_hand(counts, totals)
    half = student_t.ppf(0.975, 1) * np.sqrt(tau2 + se ** 2)
    got = pooled_proportion(counts, totals)
    assert (got.prediction_low, got.prediction_high) == pytest.approx((_expit(mean - half), _expit(mean + half)))


@pytest.mark.parametrize(("counts", "totals"), [([10, 5], [10, 10]), ([3, -1], [10, 10])])
def test_pooling_refuses_a_study_with_all_or_no_responders(counts, totals):
    with pytest.raises(ValueError, match=r"^pooling on the logit scale needs 0 < count < total in every study$"):
        pooled_proportion(counts, totals)


def test_pooling_refuses_a_single_study_and_an_unknown_interval_in_words():
    with pytest.raises(ValueError, match="^pooling needs at least 2 studies$"):
        pooled_proportion([5], [10])
    with pytest.raises(ValueError, match="^unknown pooled interval 'paule-mandel'; use one of "
                                         "dersimonian-laird, hartung-knapp$"):
        pooled_proportion(*POOL, 0.95, "paule-mandel")


def test_homogeneous_studies_use_fixed_effect_weights_and_intervals():
    """τ² ≤ 0 with unequal sizes: weights 1/v; Hartung–Knapp from the fixed-effect residuals, t with k−1 df."""
    counts, totals = [20, 52, 49], [40, 100, 100]
    c, n = np.asarray(counts, float), np.asarray(totals, float)
    y, w = np.log(c / (n - c)), 1 / (1 / c + 1 / (n - c))
    mean = float(np.sum(w * y) / np.sum(w))
    got = pooled_proportion(counts, totals)
    assert got.tau2 == 0 and got.i2 == 0
    assert got.weights == pytest.approx(tuple(w / w.sum()), rel=1e-9)
    assert got.estimate == pytest.approx(_expit(mean), rel=1e-12)
    assert got.low == pytest.approx(_expit(mean - norm.ppf(0.975) / np.sqrt(np.sum(w))), rel=1e-9)
    hk = pooled_proportion(counts, totals, 0.95, "hartung-knapp")
    se = np.sqrt(np.sum(w * (y - mean) ** 2) / (2 * np.sum(w)))
    assert hk.estimate == pytest.approx(got.estimate, rel=1e-12)
    assert (hk.low, hk.high) == pytest.approx((_expit(mean - student_t.ppf(0.975, 2) * se),
                                               _expit(mean + student_t.ppf(0.975, 2) * se)), rel=1e-9)


def test_a_study_with_a_single_responder_is_pooled():
    got = pooled_proportion([1, 30], [20, 60])
    _, _, mean, _, _ = _by_hand([1, 30], [20, 60])
    assert got.estimate == pytest.approx(_expit(mean), rel=1e-9)


def test_homogeneous_studies_predict_from_the_fixed_effect_standard_error():
    """τ² ≤ 0: the prediction interval is mean ± t(k−2) × SE of the fixed-effect mean, not NaN."""
    counts, totals = [20, 52, 49], [40, 100, 100]
    c, n = np.asarray(counts, float), np.asarray(totals, float)
    y, w = np.log(c / (n - c)), 1 / (1 / c + 1 / (n - c))
    mean = float(np.sum(w * y) / np.sum(w))
    half = student_t.ppf(0.975, 1) / np.sqrt(np.sum(w))
    got = pooled_proportion(counts, totals)
    assert (got.prediction_low, got.prediction_high) == pytest.approx((_expit(mean - half), _expit(mean + half)),
                                                                      rel=1e-9)
