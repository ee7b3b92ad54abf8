"""Statistics on the published figures: derived counts and intervals on proportions."""

from __future__ import annotations

import math
from dataclasses import dataclass

# statsmodels is imported inside the functions that use it: it costs about a second of every
# kernel's start and of the CLI, and reports without intervals never need it.

# Parameter value -> statsmodels method name.
CI_METHODS = {"exact": "beta", "wilson": "wilson"}
CI_METHOD_LABELS = {"exact": "Clopper-Pearson (exact)", "wilson": "Wilson score"}


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    level: float
    method: str

    def as_percent_text(self, decimals: int = 1) -> str:
        return f"{100 * self.low:.{decimals}f}–{100 * self.high:.{decimals}f}"


def derived_count(percent: float, denominator: int) -> int:
    """Events implied by a published percentage of a known denominator, rounded half up.

    Publications give '61% of 119'; intervals need a count, so we derive 73 and say so.
    """
    if denominator < 1:
        raise ValueError(f"denominator must be at least 1, got {denominator}")
    if not 0 <= percent <= 100:
        raise ValueError(f"percent must be between 0 and 100, got {percent}")
    return int(math.floor(percent / 100 * denominator + 0.5))


def proportion_interval(count: int, denominator: int, level: float = 0.95, method: str = "exact") -> Interval:
    """Two-sided interval for count/denominator at `level`, by statsmodels."""
    if method not in CI_METHODS:
        raise ValueError(f"unknown interval method '{method}'; use one of {', '.join(CI_METHODS)}")
    if not 0 < level < 1:
        raise ValueError(f"confidence level must be between 0 and 1, got {level}")
    if denominator < 1 or not 0 <= count <= denominator:
        raise ValueError(f"need 0 <= count <= denominator and denominator >= 1, got {count}/{denominator}")
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(count, denominator, alpha=1 - level, method=CI_METHODS[method])
    return Interval(float(low), float(high), level, method)


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its two-sided interval and how it was computed."""

    estimate: float
    low: float
    high: float
    level: float
    method: str


def difference_interval(count1: int, n1: int, count2: int, n2: int, level: float = 0.95) -> Estimate:
    """Risk difference p1 - p2 with Newcombe's hybrid score interval (statsmodels 'newcomb')."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    low, high = confint_proportions_2indep(count1, n1, count2, n2, method="newcomb", compare="diff", alpha=1 - level)
    return Estimate(count1 / n1 - count2 / n2, float(low), float(high), level, "Newcombe hybrid score")


def odds_ratio_interval(count1: int, n1: int, count2: int, n2: int, level: float = 0.95) -> Estimate:
    """Odds ratio of group 1 against group 2 with the Woolf (logit) interval."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    low, high = confint_proportions_2indep(count1, n1, count2, n2, method="logit", compare="odds-ratio",
                                           alpha=1 - level)
    odds_ratio = (count1 / (n1 - count1)) / (count2 / (n2 - count2))
    return Estimate(odds_ratio, float(low), float(high), level, "Woolf (logit)")


def rounding_tolerance(decimals: int) -> float:
    """Half a unit in the last published digit: 52 may be anything from 51.5 to 52.5."""
    return 0.5 * 10.0 ** -int(decimals)


def gap_beyond_rounding(published: float, recomputed: float, decimals: int) -> float:
    """How far a recomputed value lies outside what the published, rounded value allows (0 if inside)."""
    return max(0.0, abs(published - recomputed) - rounding_tolerance(decimals) - 1e-9)


def hazard_ratio_midpoint_gap(hazard_ratio: float, low: float, high: float, decimals: int = 2) -> tuple[float, float]:
    """A ratio's interval is symmetric on the log scale, so HR should be sqrt(low * high).

    Returns (implied HR, gap beyond rounding), where every published number may be off by
    half a unit in its last digit; a gap above 0 means the three numbers cannot all be right.
    """
    half = rounding_tolerance(decimals)
    implied = math.sqrt(low * high)
    implied_min = math.sqrt(max(low - half, 0) * max(high - half, 0))
    implied_max = math.sqrt((low + half) * (high + half))
    hr_min, hr_max = hazard_ratio - half, hazard_ratio + half
    gap = max(0.0, implied_min - hr_max, hr_min - implied_max)
    return implied, gap


#: The fewest studies a pooled proportion can be computed from.
MIN_POOLED_STUDIES = 2

#: Parameter value -> how the pooled interval is computed (clinical_activity's `pooled_interval`).
POOLED_INTERVALS = {
    "dersimonian-laird": "DerSimonian–Laird, normal on the logit scale",
    "hartung-knapp": "Hartung–Knapp–Sidik–Jonkman, t with k−1 df on the logit scale",
}


@dataclass(frozen=True)
class PooledProportion:
    """Random-effects pooled proportion (logit scale, DerSimonian-Laird τ²) with heterogeneity.

    `low`/`high` is the interval on the mean (DerSimonian–Laird or Hartung–Knapp, `interval`);
    `prediction_low`/`prediction_high` is where a new study's true proportion is expected to lie
    (Higgins, Thompson & Spiegelhalter 2009), NaN with fewer than three studies.
    """

    estimate: float
    low: float
    high: float
    level: float
    tau2: float
    i2: float
    q: float
    df: int
    weights: tuple[float, ...]
    interval: str = "dersimonian-laird"
    prediction_low: float = math.nan
    prediction_high: float = math.nan


def _expit(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def pooled_proportion(counts: list[int], totals: list[int], level: float = 0.95,
                      interval: str = "dersimonian-laird") -> PooledProportion:
    """Pool proportions with statsmodels' combine_effects on the logit scale (DerSimonian–Laird τ²).

    combine_effects gives both intervals on the mean: 'random effect' (normal, the model's standard
    error) and, with use_t=True, 'random effect wls' (Hartung–Knapp–Sidik–Jonkman: the standard
    error rescaled by the weighted residual variance, t with k−1 df). It neither truncates τ² at
    0 nor gives a prediction interval: with τ² ≤ 0 the random-effects model is the fixed-effect
    one, and the prediction interval is Higgins et al. (2009): mean ± t(k−2) × sqrt(τ² + SE²),
    SE the model's standard error of the mean, back-transformed.
    """
    if interval not in POOLED_INTERVALS:
        raise ValueError(f"unknown pooled interval '{interval}'; use one of {', '.join(POOLED_INTERVALS)}")
    import numpy as np
    from scipy.stats import t
    from statsmodels.stats.meta_analysis import combine_effects

    counts_array, totals_array = np.asarray(counts, dtype=float), np.asarray(totals, dtype=float)
    if len(counts_array) < MIN_POOLED_STUDIES:
        raise ValueError(f"pooling needs at least {MIN_POOLED_STUDIES} studies")
    if np.any(counts_array <= 0) or np.any(counts_array >= totals_array):
        raise ValueError("pooling on the logit scale needs 0 < count < total in every study")
    p = counts_array / totals_array
    effect = np.log(p / (1 - p))
    variance = 1 / counts_array + 1 / (totals_array - counts_array)
    result = combine_effects(effect, variance, method_re="chi2", alpha=1 - level)
    random = result.tau2 > 0
    fixed_ci, random_ci, fixed_hksj_ci, random_hksj_ci = result.conf_int(
        alpha=1 - level, use_t=interval == "hartung-knapp")
    if interval == "hartung-knapp":
        low, high = random_hksj_ci if random else fixed_hksj_ci
    else:
        low, high = random_ci if random else fixed_ci
    mean = float(result.mean_effect_re if random else result.mean_effect_fe)
    model_se = float(result.sd_eff_w_re if random else result.sd_eff_w_fe)
    tau2, k = max(0.0, float(result.tau2)), len(p)
    prediction = (math.nan, math.nan)
    if k >= 3:
        half = float(t.ppf(0.5 + level / 2, k - 2)) * math.sqrt(tau2 + model_se ** 2)
        prediction = (_expit(mean - half), _expit(mean + half))
    return PooledProportion(
        estimate=_expit(mean), low=_expit(low), high=_expit(high), level=level,
        tau2=tau2, i2=max(0.0, float(result.i2)), q=float(result.q), df=int(result.df_resid),
        weights=tuple(float(w) for w in (result.weights_rel_re if random else result.weights_rel_fe)),
        interval=interval, prediction_low=prediction[0], prediction_high=prediction[1],
    )
