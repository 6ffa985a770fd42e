"""Is there a seasonal pattern a person would see? The stable-seasonality F-test of X-11.

The series is detrended with a centred moving average of one season, and the detrended
values (ratios when every value is positive) are grouped by their place in the season.
If the same places stand out season after season, the between-group variance is large
against the within-group variance: the one-way ANOVA F-test that X-11 and X-13ARIMA-SEATS
call the test for stable seasonality (Lothian and Morry 1978). It agrees with the eye: a
December that stands 50% above November in every year is found, random ups and downs are
not (about 1% of the time, at the 1% level used here).

The autocorrelation test at lag m (Hyndman's thetaf) said "none clear" over two years of
December peaks: one outlying month barely moves a lag-12 autocorrelation of 24 values.
The Theta model adjusts for a season when this test finds one (`models.clear_season`), so
a forecast shows the pattern these words describe.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import f_oneway

from smbml_connect.analytics.forecast.ets import centred_moving_average

__all__ = ["SIGNIFICANCE", "SeasonCheck", "check_seasonality", "describe_season"]

SIGNIFICANCE = 0.01


@dataclass(frozen=True)
class SeasonCheck:
    """The test's answer, and where the season peaks and dips, for the words."""

    seasonal: bool
    p_value: float
    peak: int  # position in the season (index into the series modulo m)
    peak_share: float  # how far the peak stands above a typical period (0.45 = 45%)
    low: int
    low_share: float  # how far the low lies below (0.2 = 20% below)
    relative: bool  # shares are of the level (ratios) rather than of the mean


def check_seasonality(y: np.ndarray, m: int) -> SeasonCheck | None:
    """The stable-seasonality test on ``y`` with a season of ``m``; None when too short."""
    y = np.asarray(y, dtype=float)
    if m <= 1 or len(y) < 2 * m + 2 or np.ptp(y) == 0:
        return None
    trend, offset = centred_moving_average(y, m)
    middle = y[offset : offset + len(trend)]
    relative = bool((y > 0).all() and (trend > 0).all())
    detrended = middle / trend if relative else middle - trend
    place = (np.arange(len(detrended)) + offset) % m
    groups = [detrended[place == p] for p in range(m)]
    if min(len(g) for g in groups) < 1 or sum(len(g) - 1 for g in groups) < 1:
        return None
    with np.errstate(all="ignore"):
        p_value = float(f_oneway(*groups).pvalue)
    if not np.isfinite(p_value):
        p_value = 1.0
    means = np.array([g.mean() for g in groups])
    peak, low = int(np.argmax(means)), int(np.argmin(means))
    if relative:
        shares = means - 1.0
    else:
        # A place with no sales (June on a Christmas tree farm) leaves no ratio: each place's
        # average against the average period, so no share falls below -100% ("about 101%
        # below", from the deviation from a moving average) and one that never sells is -100%.
        at = np.arange(len(y)) % m
        average = float(np.abs(y).mean())
        shares = np.array([y[at == p].mean() for p in range(m)]) / average - 1.0
        shares = np.maximum(shares, -1.0)
        peak, low = int(np.argmax(shares)), int(np.argmin(shares))  # the words' own months
    return SeasonCheck(p_value < SIGNIFICANCE, p_value, peak, float(shares[peak]), low,
                       float(-shares[low]), relative)  # fmt: skip


def _place_name(period: pd.Period, freq: str) -> str:
    if freq == "M":
        return f"{period.start_time:%B}"
    if freq == "Q":
        return f"Q{period.quarter}"
    if freq == "D":
        return f"{period.start_time:%A}s"
    return f"week {period.start_time.isocalendar().week}"


def _p_text(p_value: float) -> str:
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"


def describe_season(
    check: SeasonCheck, periods: pd.PeriodIndex, freq: str, word: str, m: int
) -> str:
    """The test's answer in words, naming the peak the chart shows."""
    if not check.seasonal:
        return (
            f"none clear: no {word} of the {m}-{word} cycle stands out the same way every "
            f"season (stable-seasonality test {_p_text(check.p_value)})"
        )
    peak = _place_name(periods[check.peak], freq)
    low = _place_name(periods[check.low], freq)
    below = (
        "no sales at all in it" if check.low_share >= 1 else f"about {check.low_share:.0%} below"
    )
    return (
        f"detected: a pattern that repeats every {m} {word}s, highest in {peak} (about "
        f"{check.peak_share:.0%} above a typical {word}) and lowest in {low} ({below}; "
        f"stable-seasonality test {_p_text(check.p_value)})"
    )
