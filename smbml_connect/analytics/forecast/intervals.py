"""How wide a forecast's intervals are, from the errors its model made on the series' past.

A model's spread is a shape (how uncertainty grows with the horizon); the interval is a
multiple of it, set by the model's backtest errors measured in that spread. This is
conformal prediction as statsforecast's ConformalIntervals does it (the model refitted at
rolling cut-offs, a quantile of its absolute errors per step ahead), except that
statsforecast takes each series' raw errors alone, per step, which needs many windows;
here a series has 1 to 4 cut-offs, so errors are standardised and, in a panel, pooled
over the series (each at its own error size) and over steps after the first. Alone, a
series' errors are blended with a Student-t.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t

__all__ = [
    "NEAR_ORIGINS",
    "PooledWidth",
    "calibration_origins",
    "pooled_width",
    "step_bucket",
    "weighted_quantile",
    "width",
]

PRIOR_WEIGHT = 30  # backtest errors needed before they count as much as the prior
PRIOR_DF = 5  # the prior is a Student-t: sales errors have heavier tails than the normal curve
POOL_MIN_SERIES = 5  # series with errors a panel (or a step) needs before its pool is the prior
NEAR_ORIGINS = 2  # cut-offs at the very end of the history, scored on what is left


def step_bucket(step: np.ndarray) -> np.ndarray:
    """Steps ahead (0-based) in two buckets: the next period, and every later one.

    The next period's errors are the one-step errors the models' spreads are estimated
    from; later ones depend on how a model says its uncertainty grows, which it can get
    wrong. Finer buckets (1, 2-3, 4-7, ...) hold too few errors each: on the 40-series
    groups of benchmarks/forecast.py (with the calibration cut-offs, before errors were
    scaled by each series' size) they raised MSIS against one bucket on eight of ten
    groups, where two buckets lowered it on six.
    """
    return np.minimum(np.asarray(step), 1).astype(int)


def calibration_origins(
    n: int, m: int, origins: Sequence[int], steps: int, min_train: int
) -> list[int]:
    """Cut-offs, besides the backtest's, where the chosen model's errors are measured for
    the intervals only (the model is already chosen, so this cannot change the forecast).

    - The last NEAR_ORIGINS periods: the backtest's models learn from `steps` fewer
      periods than the forecast does, which on short series (M3 yearly, 14 years) makes
      their errors larger than the forecast's; a cut-off one period from the end learns
      from nearly all of it.
    - When the backtest's cut-offs span less than a season (13 weeks ahead with a 52-week
      year), cut-offs spread over one season: a summer's errors are not a winter's.
    - One season before the end: its errors fall on the same months (quarters, weekdays)
      as the forecast's first season. On the full M3 and tourism monthly and quarterly
      groups of benchmarks/forecast.py it lowered MSIS on all four (M3 monthly 6.39 to
      6.26, quarterly 9.54 to 9.50, tourism monthly 11.49 to 11.37, quarterly 11.65 to
      11.53), coverage moving by half a point or less.
    """
    chosen = {n - k for k in range(1, NEAR_ORIGINS + 1)}
    if m > 1:
        chosen.add(n - m)
    if m > 1 and origins and max(origins) - min(origins) + steps < m:
        stride = max(1, m // 4)
        chosen |= {n - steps - i * stride for i in range(4)}
    return sorted(o for o in chosen if o >= min_train and o not in set(origins))


def weighted_quantile(errors: Sequence[np.ndarray], level: int) -> float:
    """The `level`% quantile of all arrays pooled, each array counting once however long."""
    z = np.concatenate(errors)
    weight = np.concatenate([np.full(len(e), 1.0 / len(e)) for e in errors])
    order = np.argsort(z, kind="stable")
    share = np.cumsum(weight[order]) / weight.sum()
    return float(z[order][min(int(np.searchsorted(share, level / 100)), len(z) - 1)])


@dataclass(frozen=True)
class PooledWidth:
    """A panel's prior for one level: its series' typical error size, and how many of
    them the interval spans at each step."""

    center: float  # the median over series of their mean absolute standardised error
    by_step: np.ndarray  # one multiple of a series' error size per forecast step


def _size(z: np.ndarray, center: float) -> float:
    """A series' error size: the mean of its absolute standardised errors, shrunk towards
    the panel's when it has few (a mean is steadier than a quantile of a few errors)."""
    return (len(z) * float(np.mean(z)) + PRIOR_WEIGHT * center) / (len(z) + PRIOR_WEIGHT)


def pooled_width(
    errors: Sequence[tuple[np.ndarray, np.ndarray]], level: int, horizon: int
) -> PooledWidth | None:
    """From the panel's standardised errors `(errors, steps)` per series: each series'
    errors divided by its own error size, then quantiles over all series (each counting
    once), per bucket of steps ahead (`step_bucket`).

    Dividing by each series' size first keeps one panel-wide quantile from being too
    wide for the calm series and too narrow for the wild ones: against the quantile of
    the raw errors blended per series, MSIS on the 40-series groups of
    benchmarks/forecast.py fell on M3 monthly and yearly, tourism monthly and yearly,
    Chicago daily and weekly, and rose on M3 quarterly and other and tourism quarterly.
    """
    kept = []
    for z, step in errors:
        finite = np.isfinite(z)
        if finite.any():
            kept.append((np.abs(z[finite]), step[finite]))
    if len(kept) < POOL_MIN_SERIES:
        return None
    center = float(np.median([np.mean(z) for z, _ in kept]))
    if not center > 0:
        return None
    kept = [(z / _size(z, center), step) for z, step in kept]
    overall = weighted_quantile([z for z, _ in kept], level)
    buckets = step_bucket(np.arange(horizon))
    by_bucket: dict[int, float] = {}
    for bucket in np.unique(buckets):
        parts = [z[step_bucket(step) == bucket] for z, step in kept]
        parts = [part for part in parts if len(part)]
        if len(parts) >= POOL_MIN_SERIES:
            by_bucket[int(bucket)] = weighted_quantile(parts, level)
    by_step = np.array([by_bucket.get(int(bucket), overall) for bucket in buckets])
    return PooledWidth(center, by_step)


def width(
    standard: np.ndarray, level: int, horizon: int, prior: PooledWidth | None = None
) -> np.ndarray:
    """How many model standard deviations the interval spans at each step.

    In a panel, the pooled multiple times the series' own error size. Alone, the
    series' own error quantile shrunk towards a Student-t's when there are few errors.
    """
    z = np.abs(standard[np.isfinite(standard)])
    if prior is not None:
        return prior.by_step * (_size(z, prior.center) if len(z) else prior.center)
    t = float(student_t.ppf(0.5 + level / 200, PRIOR_DF))
    if not len(z):
        return np.full(horizon, t)
    weight = len(z) / (len(z) + PRIOR_WEIGHT)
    return np.full(horizon, weight * float(np.quantile(z, level / 100)) + (1 - weight) * t)
