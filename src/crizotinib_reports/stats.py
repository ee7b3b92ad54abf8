"""Statistics on the published figures: derived counts and intervals on proportions."""

from __future__ import annotations

import math
from dataclasses import dataclass

from statsmodels.stats.proportion import proportion_confint

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
    low, high = proportion_confint(count, denominator, alpha=1 - level, method=CI_METHODS[method])
    return Interval(float(low), float(high), level, method)
