"""Daily and weekly sales: a weekly pattern, a yearly one and holidays, all at once.

One whole-number season length cannot describe them: a day-of-week pattern repeats every
7 days, the year every 365.25 days (52.18 weeks), and a holiday falls on a date (Christmas)
or a weekday of a month (the fourth Thursday of November). So the seasonal part is a
regression on the calendar, in the manner of dynamic harmonic regression (Hyndman and
Athanasopoulos, *Forecasting: Principles and Practice*, 3rd ed., section 12.1): day-of-week
dummies, Fourier terms of the time of year, a linear trend and holiday dummies. What it
leaves, the seasonally adjusted series, is forecast by ETS without a season, whose level
and damped trend follow the recent months.

Holidays are found in the data rather than taken from one country's list (a shop may be
anywhere, and its own closing days count too): a date, or an n-th weekday of a month, that
stood out the same way in at least two past years becomes a dummy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from smbml_connect.analytics.forecast.ets import fit_ets
from smbml_connect.analytics.forecast.models import Prediction

__all__ = ["CALENDAR_FREQUENCIES", "calendar_candidate", "holiday_keys"]

CALENDAR_FREQUENCIES = ("D", "W")
YEAR_DAYS = 365.25
HARMONICS = {"D": 10, "W": 6}  # Fourier pairs for the yearly pattern
MIN_YEARLY = {"D": 2 * 365, "W": 2 * 52}  # history before the yearly terms are fitted
MIN_HISTORY = {"D": 8 * 7, "W": 2 * 52}  # history before the candidate is offered at all
HOLIDAY_Z = 3.0  # how far out (in robust standard deviations) a holiday must stand each year
MAX_HOLIDAYS = 25

Candidate = Callable[[np.ndarray, int, int], Prediction]


def _day_keys(day: pd.Timestamp) -> list[tuple[object, ...]]:
    """The names a day could be a holiday under: its date, its n-th weekday of the month,
    and 'last' weekday of the month when it is one."""
    keys: list[tuple[object, ...]] = [
        ("date", day.month, day.day),
        ("weekday", day.month, day.dayofweek, (day.day - 1) // 7),
    ]
    if day.day + 7 > day.days_in_month:
        keys.append(("last", day.month, day.dayofweek))
    return keys


def _keys(starts: pd.DatetimeIndex, freq: str) -> list[list[tuple[object, ...]]]:
    if freq == "D":
        return [_day_keys(day) for day in starts]
    # A week is named by every holiday it could hold: the week with 25 December, the
    # week with the fourth Thursday of November.
    return [
        [key for day in pd.date_range(start, periods=7, freq="D") for key in _day_keys(day)]
        for start in starts
    ]


def _design(starts: pd.DatetimeIndex, freq: str, yearly: bool) -> np.ndarray:
    """Trend, day of week and time-of-year columns (the intercept is the first)."""
    t = np.arange(len(starts), dtype=float)
    columns = [np.ones(len(starts)), t / max(len(starts), 1)]
    if freq == "D":
        dow = starts.dayofweek.to_numpy()
        columns += [(dow == d).astype(float) for d in range(1, 7)]
    if yearly:
        middle = starts + pd.Timedelta(days=3) if freq == "W" else starts
        phase = 2 * np.pi * (middle.dayofyear.to_numpy() - 1) / YEAR_DAYS
        for k in range(1, HARMONICS[freq] + 1):
            columns += [np.sin(k * phase), np.cos(k * phase)]
    return np.column_stack(columns)


def holiday_keys(
    residual: np.ndarray, keys: list[list[tuple[object, ...]]], years: np.ndarray
) -> list[tuple[object, ...]]:
    """Calendar keys whose periods stood out the same way in two or more past years."""
    spread = 1.4826 * float(np.median(np.abs(residual - np.median(residual))))
    if not spread > 0:
        return []
    z = residual / spread
    seen: dict[tuple[object, ...], list[tuple[int, float]]] = {}
    for i, period_keys in enumerate(keys[: len(residual)]):
        for key in period_keys:
            seen.setdefault(key, []).append((int(years[i]), float(z[i])))
    found = []
    for key, hits in seen.items():
        values = np.array([v for _, v in hits])
        if len({year for year, _ in hits}) < 2:
            continue
        same_sign = (values > 0).all() or (values < 0).all()
        if same_sign and float(np.min(np.abs(values))) > HOLIDAY_Z:
            found.append((float(np.mean(np.abs(values))), key))
    found.sort(key=lambda item: -item[0])
    return [key for _, key in found[:MAX_HOLIDAYS]]


def _holiday_columns(
    keys: list[list[tuple[object, ...]]], chosen: list[tuple[object, ...]]
) -> np.ndarray:
    return np.array([[float(key in period) for key in chosen] for period in keys]).reshape(
        len(keys), len(chosen)
    )


def _fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares by the normal equations, with a whisker of ridge for holiday columns
    that coincide (an SVD solver took 40x longer on a 1,100-day series)."""
    gram = x.T @ x
    return np.linalg.solve(gram + 1e-8 * np.trace(gram) * np.eye(len(gram)), x.T @ y)


def calendar_candidate(periods: pd.PeriodIndex, freq: str, raw: np.ndarray) -> dict[str, Candidate]:
    """A `calendar` candidate for a daily or weekly series, or none for other frequencies
    or too short a history. It reads the unadjusted values (`raw`), because a holiday is
    what the outlier check would otherwise pull back to normal."""
    if freq not in CALENDAR_FREQUENCIES or len(raw) < MIN_HISTORY[freq]:
        return {}
    first = periods[0]

    def predict(y: np.ndarray, m: int, horizon: int) -> Prediction:
        n = len(y)
        history = raw[:n]
        starts = pd.PeriodIndex(
            pd.period_range(first, periods=n + horizon, freq=periods.freq)
        ).start_time
        yearly = n >= MIN_YEARLY[freq]
        x = _design(pd.DatetimeIndex(starts), freq, yearly)
        keys = _keys(pd.DatetimeIndex(starts), freq)
        beta = _fit(x[:n], history)
        chosen = holiday_keys(history - x[:n] @ beta, keys, starts.year.to_numpy())
        if chosen:
            x = np.column_stack([x, _holiday_columns(keys, chosen)])
            beta = _fit(x[:n], history)
        # The seasonal part is everything but the intercept and the trend, which the
        # smoothing of the adjusted series takes over.
        season = x[:, 2:] @ beta[2:]
        adjusted = history - season[:n]
        ets = fit_ets(adjusted, 1)
        mean = ets.forecast(horizon) + season[n:]
        parts = ["day of week"] if freq == "D" else []
        parts += ["time of year"] if yearly else []
        parts += [f"{len(chosen)} holidays"] if chosen else []
        return Prediction(mean, ets.sd(horizon), f"calendar ({', '.join(parts)}) + ETS({ets.form})")

    return {"calendar": predict}
