"""How wide a forecast's intervals are, from the errors its model made on the series' past.

A model's spread is a shape (how uncertainty grows with the horizon); the interval is a
multiple of it, set by the model's backtest errors measured in that spread. This is
conformal prediction as statsforecast's ConformalIntervals does it (the model refitted at
rolling cut-offs, a quantile of its absolute errors per step ahead), except that
statsforecast takes each series' raw errors alone, per step, which needs many windows;
here a series has 1 to 4 cut-offs, so errors are standardised and, in a panel, pooled
over the series (each at its own error size); later steps take the next period's mean
error times the growth with the step read inside each cut-off (`step_shape`), at their
own quantile-to-mean ratio. Alone, a series' errors are blended with a Student-t.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import isotonic_regression
from scipy.stats import t as student_t

__all__ = [
    "NEAR_ORIGINS",
    "PooledWidth",
    "calibration_origins",
    "pooled_width",
    "pooled_width_per_level",
    "recency",
    "step_bucket",
    "step_shape",
    "weighted_quantile",
    "weighted_quantiles",
    "width",
]

PRIOR_WEIGHT = 30  # backtest errors needed before they count as much as the prior
PRIOR_DF = 5  # the prior is a Student-t: sales errors have heavier tails than the normal curve
POOL_MIN_SERIES = 5  # series with errors a panel (or a step) needs before its pool is the prior
SHAPE_ROUNDS = 8  # alternating updates of the step shape and the cut-offs' sizes (`step_shape`)
NEAR_ORIGINS = 2  # cut-offs at the very end of the history, scored on what is left


def step_bucket(step: np.ndarray) -> np.ndarray:
    """Steps ahead (0-based) in two buckets: the next period, and every later one.

    The next period's errors are the one-step errors the models' spreads are estimated
    from; later ones depend on how a model says its uncertainty grows, which it can get
    wrong. Finer buckets (1, 2-3, 4-7, ...) hold too few errors each: on the 40-series
    groups of benchmarks/forecast.py (with the calibration cut-offs, before errors were
    scaled by each series' size) they raised MSIS against one bucket on eight of ten
    groups, where two buckets lowered it on six. In a panel whose cut-offs are known, the
    later bucket is what `step_shape` is blended with where it has seen few series.
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


def recency(ages: np.ndarray | None, horizon: int, season_length: int) -> np.ndarray | None:
    """How much each error counts, by how many periods before the end of the series its
    cut-off was (`ages`): half as much a forecast horizon or a season, whichever is
    longer, further back.

    A series' error size drifts (its noise grows or settles), and the forecast is about
    the next horizon, so the nearer past says more about it; but not less than a season
    back, whose cut-offs are kept for the errors of the forecast's time of year
    (`calibration_origins`). With the half-life one horizon, on every series of the
    groups of benchmarks/forecast.py MSIS fell on eight of ten (M3 monthly 6.26 to 6.09,
    other 14.23 to 13.80, tourism quarterly 11.53 to 11.18), coverage moving by a point
    or less, and Chicago daily rose 5.24 to 5.32; two horizons gained about half as much.
    """
    if ages is None:
        return None
    return np.power(0.5, np.asarray(ages, dtype=float) / max(horizon, season_length, 1))


def weighted_quantiles(
    errors: Sequence[np.ndarray], levels: Sequence[int], weights: Sequence[np.ndarray] | None = None
) -> list[float]:
    """The `levels`% quantiles of all arrays pooled, each array counting once however long
    (its values weighted among themselves by `weights`, if given); one sort for all."""
    z = np.concatenate(errors)
    within = weights if weights is not None else [np.ones(len(e)) for e in errors]
    weight = np.concatenate([w / w.sum() for w in within])
    order = np.argsort(z, kind="stable")
    share = np.cumsum(weight[order]) / weight.sum()
    ordered = z[order]
    return [float(ordered[min(int(np.searchsorted(share, level / 100)), len(z) - 1)])
            for level in levels]  # fmt: skip


def weighted_quantile(
    errors: Sequence[np.ndarray], level: int, weights: Sequence[np.ndarray] | None = None
) -> float:
    """The `level`% quantile of all arrays pooled (`weighted_quantiles`)."""
    return weighted_quantiles(errors, [level], weights)[0]


@dataclass(frozen=True)
class PooledWidth:
    """A panel's prior for one level: its series' typical error size, and how many of
    them the interval spans at each step."""

    center: float  # the median over series of their mean absolute standardised error
    by_step: np.ndarray  # one multiple of a series' error size per forecast step


def _size(z: np.ndarray, center: float, weight: np.ndarray | None = None) -> float:
    """A series' error size: the mean of its absolute standardised errors (weighted by
    `recency`), shrunk towards the panel's when it has few (a mean is steadier than a
    quantile of a few errors); weighted, they count as their effective number."""
    w = np.ones(len(z)) if weight is None else weight
    count = float(w.sum() ** 2 / (w**2).sum())
    return (count * _average(z, w) + PRIOR_WEIGHT * center) / (count + PRIOR_WEIGHT)


def _average(z: np.ndarray, w: np.ndarray) -> float:
    """`np.average(z, weights=w)` for two float arrays of one length, without its checks
    (a panel calls it a few times a series)."""
    return float((z * w).sum() / w.sum())


def _weights(z: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
    """A series' error weights (`recency`); equal when not known."""
    if weight is None or len(weight) != len(z):
        return np.ones(len(z))
    return weight


def pooled_width(
    errors: Sequence[tuple[np.ndarray, np.ndarray]],
    level: int,
    horizon: int,
    weights: Sequence[np.ndarray | None] | None = None,
    ages: Sequence[np.ndarray | None] | None = None,
) -> PooledWidth | None:
    """The panel's prior for one level (`pooled_width_per_level`)."""
    pooled = pooled_width_per_level(errors, [level], horizon, weights, ages)
    return None if pooled is None else pooled[level]


def pooled_width_per_level(
    errors: Sequence[tuple[np.ndarray, np.ndarray]],
    levels: Sequence[int],
    horizon: int,
    weights: Sequence[np.ndarray | None] | None = None,
    ages: Sequence[np.ndarray | None] | None = None,
) -> dict[int, PooledWidth] | None:
    """From the panel's standardised errors `(errors, steps)` per series: each series'
    errors divided by its own error size, then quantiles over all series (each counting
    once), per bucket of steps ahead (`step_bucket`), each error counting by its
    `weights` (`recency`) if given. None when the panel has too few series with errors.
    With each error's cut-off (`ages`, periods from it to the end), later steps take the
    next period's mean error times the panel's step shape (`step_shape`, a ratio of mean
    errors) times the later steps' own quantile-to-mean ratio, blended with their own
    bucket's multiple by how many series the shape has seen at that step. The shape on
    the next period's quantile (the first version) failed where the next period mostly
    has no error (a level that holds and jumps now and then: its 80% quantile near 0),
    covering 66% at 80% on such panels (tests/test_forecast_intervals.py has the pattern).
    The later steps' multiples (the next period keeps its own) are then made
    non-decreasing (isotonic regression): from the second period on, a month further
    ahead is never given a smaller multiple of the model's spread than a nearer one (the
    demo's short series had ranges narrowing over months 4-9). On every
    series of benchmarks/forecast.py's groups each is within 3 points of 80 and 95
    (tourism monthly 79.4 / 93.5, was 84.6 / 96.0).

    Dividing by each series' size first keeps one panel-wide quantile from being too
    wide for the calm series and too narrow for the wild ones: against the quantile of
    the raw errors blended per series, MSIS on the 40-series groups of
    benchmarks/forecast.py fell on M3 monthly and yearly, tourism monthly and yearly,
    Chicago daily and weekly, and rose on M3 quarterly and other and tourism quarterly.
    """
    kept, cutoffs = [], []
    for i, (z, step) in enumerate(errors):
        finite = np.isfinite(z)
        if finite.any():
            weight = _weights(z, weights[i] if weights is not None else None)[finite]
            kept.append((np.abs(z[finite]), step[finite], weight))
            age = ages[i] if ages is not None else None
            cutoffs.append(age[finite] if age is not None and len(age) == len(z) else None)
    if len(kept) < POOL_MIN_SERIES:
        return None
    center = float(np.median([_average(z, w) for z, _, w in kept]))
    if not center > 0:
        return None
    kept = [(z / _size(z, center, w), step, w) for z, step, w in kept]
    overall = weighted_quantiles([z for z, _, _ in kept], levels, [w for _, _, w in kept])
    buckets = step_bucket(np.arange(horizon))
    by_bucket: dict[int, list[float]] = {}
    means: dict[int, float] = {}
    for bucket in np.unique(buckets):
        chosen = [step_bucket(step) == bucket for _, step, _ in kept]
        parts = [(z[c], w[c]) for (z, _, w), c in zip(kept, chosen, strict=True) if c.any()]
        if len(parts) >= POOL_MIN_SERIES:
            by_bucket[int(bucket)] = weighted_quantiles(
                [z for z, _ in parts], levels, [w for _, w in parts]
            )
            means[int(bucket)] = float(np.mean([_average(z, w) for z, w in parts]))
    by_step = [
        np.array([by_bucket.get(int(b), overall)[k] for b in buckets]) for k in range(len(levels))
    ]
    shaped = step_shape(kept, cutoffs, horizon) if {0, 1} <= set(by_bucket) else None
    if shaped is not None and means[0] > 0 and means[1] > 0:
        shape, seen = shaped
        trust = seen / (seen + PRIOR_WEIGHT)
        for k in range(len(levels)):
            # The shape is a ratio of mean errors, so it carries the next period's mean,
            # and the later steps' own errors say how far their quantile is from their mean.
            from_first = means[0] * shape * by_bucket[1][k] / means[1]
            usable = (from_first > 0) & (by_step[k] > 0)
            blended = np.exp(trust * np.log(np.where(usable, from_first, 1.0))
                             + (1 - trust) * np.log(np.where(usable, by_step[k], 1.0)))  # fmt: skip
            by_step[k] = np.where(usable, blended, by_step[k])
            by_step[k][1:] = isotonic_regression(by_step[k][1:]).x
    return {level: PooledWidth(center, by_step[k]) for k, level in enumerate(levels)}


def step_shape(
    kept: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    cutoffs: Sequence[np.ndarray | None],
    horizon: int,
) -> tuple[np.ndarray, np.ndarray] | None:
    """How a panel's errors grow with the step ahead, against the next period's (1 at the
    first step), and how many series show each step beside the next period at one cut-off.

    Later steps are only seen at older cut-offs (a cut-off a period from the end scores one
    step), whose errors were larger where a series has calmed (tourism monthly: past
    cut-offs 12, 24, ... 60 months back had 80% quantiles of 1.34 to 1.65 series sizes
    at 7-12 months ahead; the held-out months 1.27), so one quantile of later steps
    took their size from the older cut-offs, while the next period's is mostly recent.
    Here the growth is read inside each cut-off: mean |error| = the cut-off's size x the
    step's, fitted by alternating the two (each series counting once, by `recency`); the
    later steps' are then smoothed, their logarithm linear in log(step + 1) weighted by
    the errors at each step, so a panel with few errors at long steps does not follow them
    one by one. None without two or more steps ahead at the cut-offs of enough series.
    """
    parts = []
    for series, ((z, step, w), age) in enumerate(zip(kept, cutoffs, strict=True)):
        if age is None:
            continue
        ids, cutoff = np.unique(age, return_inverse=True)
        first = np.zeros(len(ids), dtype=bool)
        first[cutoff[step == 0]] = True
        later = np.zeros(len(ids), dtype=bool)
        later[cutoff[step > 0]] = True
        both = (first & later)[cutoff] & (step < horizon)
        if both.any() and w[both].sum() > 0:
            parts.append((z[both], step[both], cutoff[both], w[both] / w[both].sum(), series))
    if len(parts) < POOL_MIN_SERIES or horizon < 2:
        return None
    z = np.concatenate([p[0] for p in parts])
    step = np.concatenate([p[1] for p in parts])
    offsets = np.cumsum([0] + [int(p[2].max()) + 1 for p in parts])
    cutoff = np.unique(np.concatenate([p[2] + offsets[i] for i, p in enumerate(parts)]),
                       return_inverse=True)[1]  # fmt: skip
    weight = np.concatenate([p[3] for p in parts])
    owner = np.concatenate([np.full(len(p[0]), p[4]) for p in parts])
    shape = np.ones(horizon)
    for _ in range(SHAPE_ROUNDS):
        # A cut-off whose errors weigh nothing (recency underflows past ~1,000 horizons back)
        # has no size rather than 0 / 0.
        counted = np.bincount(cutoff, weight * shape[step])
        size = np.divide(np.bincount(cutoff, weight * z), counted,
                         out=np.zeros(len(counted)), where=counted > 0)  # fmt: skip
        expected = np.bincount(step, weight * size[cutoff], horizon)
        shape = np.bincount(step, weight * z, horizon) / np.where(expected > 0, expected, 1.0)
        if not shape[0] > 0:
            return None
        shape = np.where(expected > 0, shape / shape[0], 1.0)
    seen = np.bincount(np.unique(owner * horizon + step) % horizon, minlength=horizon)
    errors = np.bincount(step, weight, horizon)
    ahead = np.arange(1, horizon)
    fitted = (errors[1:] > 0) & (shape[1:] > 0)
    if fitted.sum() >= 2:
        x = np.log(ahead + 1.0)[fitted]
        slope, intercept = np.polyfit(
            x, np.log(shape[1:][fitted]), 1, w=np.sqrt(errors[1:][fitted])
        )
        shape[1:] = np.exp(intercept + slope * np.log(ahead + 1.0))
    seen[0] = 0  # the next period keeps its own bucket
    return shape, seen.astype(float)


def width(
    standard: np.ndarray,
    level: int,
    horizon: int,
    prior: PooledWidth | None = None,
    weight: np.ndarray | None = None,
) -> np.ndarray:
    """How many model standard deviations the interval spans at each step.

    In a panel, the pooled multiple times the series' own error size (its errors
    counting by `weight`, `recency`, if given). Alone, the series' own error
    quantile shrunk towards a Student-t's when there are few errors.
    """
    finite = np.isfinite(standard)
    z = np.abs(standard[finite])
    if prior is not None:
        if not len(z):
            return prior.by_step * prior.center
        return prior.by_step * _size(z, prior.center, _weights(standard, weight)[finite])
    t = float(student_t.ppf(0.5 + level / 200, PRIOR_DF))
    if not len(z):
        return np.full(horizon, t)
    own = len(z) / (len(z) + PRIOR_WEIGHT)
    return np.full(horizon, own * float(np.quantile(z, level / 100)) + (1 - own) * t)
