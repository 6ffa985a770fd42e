"""The single-series candidates: each takes an array and returns a mean and a spread.

Every model here has the same signature, `(y, m, horizon) -> Prediction`, so the
backtest and the combination treat them alike. The spreads are shapes (how uncertainty
grows with the horizon); their level is calibrated later on backtest errors.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

import numpy as np
from scipy.signal import lfilter

from smbml_connect.analytics.forecast.arima import fit_arima
from smbml_connect.analytics.forecast.ets import (
    EtsFit,
    best_damped,
    fit_ets_cutoffs,
    fit_ets_forms,
    own_pass,
    season_drifted,
    straight_line,
)
from smbml_connect.analytics.forecast.seasonality import check_seasonality

__all__ = [
    "MODELS",
    "Kept",
    "Prediction",
    "arima",
    "blend",
    "ces",
    "croston_sba",
    "damped_ets",
    "deseasonalise",
    "drift",
    "ets",
    "has_seasonality",
    "median",
    "naive",
    "prepare",
    "remembered",
    "restore",
    "seasonal_naive",
    "theta",
    "warm_up",
]


@dataclass(frozen=True)
class Prediction:
    mean: np.ndarray
    sd: np.ndarray
    detail: str = ""


def has_seasonality(y: np.ndarray, m: int) -> bool:
    """The 90% autocorrelation test at lag m of Hyndman's thetaf, which drift and ARIMA's
    seasonal adjustment use (Theta uses `clear_season`)."""
    n = len(y)
    if m <= 1 or n < 2 * m + 2 or np.ptp(y) == 0:
        return False
    x = y - y.mean()
    denominator = float(x @ x)
    if not denominator > 0:  # a spread so small its square underflows (values near 1e-200)
        return False
    acf = np.array([float(x[k:] @ x[:-k]) / denominator for k in range(1, m + 1)])
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(acf[:-1] ** 2)) / n)
    return bool(abs(acf[-1]) > limit)


def deseasonalise(y: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """Classical decomposition: seasonal indices by position, multiplicative if positive,
    and the indices the forecast is to be seasonalised with.

    Where the pattern drifted (`ets.season_drifted`), each half of the series is adjusted
    by its own half's indices and the forecast takes the later half's: the whole
    series' average left a drifting season in the adjusted series and gave the forecast a
    stale one. Theta alone, MASE mean / median / sMAPE on all series of a group: tourism
    monthly 1.661 / 1.367 / 20.11 -> 1.500 / 1.274 / 18.76, quarterly 1.658 / 1.360 /
    15.47 -> 1.532 / 1.243 / 14.60, M3 monthly 0.851 / 0.715 / 14.73 -> 0.848 / 0.715 /
    14.70, M3 quarterly 1.103 / 0.819 / 9.28 -> 1.100 / 0.803 / 9.25. The later half's
    indices for the forecast alone, the whole series still adjusted by the average, did
    less (tourism monthly 1.563 / 1.299 / 19.39)."""
    multiplicative = bool(y.min() > 0)
    kernel = np.ones(m + 1 if m % 2 == 0 else m)
    if m % 2 == 0:
        kernel[[0, -1]] = 0.5
    kernel /= m
    trend = np.convolve(y, kernel, mode="valid")
    offset = (len(y) - len(trend)) // 2
    detrended = (
        y[offset : offset + len(trend)] / trend
        if multiplicative
        else y[offset : offset + len(trend)] - trend
    )
    positions = (np.arange(len(trend)) + offset) % m
    if not season_drifted(y, m, multiplicative):
        ahead = _indices(detrended, positions, m, multiplicative)
        season = ahead[np.arange(len(y)) % m]
    else:
        in_later = np.arange(len(trend)) >= len(trend) // 2
        early = _indices(detrended[~in_later], positions[~in_later], m, multiplicative)
        ahead = _indices(detrended[in_later], positions[in_later], m, multiplicative)
        at = np.arange(len(y))
        season = np.where(at < offset + len(trend) // 2, early[at % m], ahead[at % m])
    adjusted = y / season if multiplicative else y - season
    return adjusted, ahead, multiplicative


def _indices(
    detrended: np.ndarray, positions: np.ndarray, m: int, multiplicative: bool
) -> np.ndarray:
    index = np.array([detrended[positions == p].mean() for p in range(m)])
    return index / index.mean() if multiplicative else index - index.mean()


def _future_season(index: np.ndarray, n: int, horizon: int) -> np.ndarray:
    return index[(np.arange(n, n + horizon)) % len(index)]


def _residual_sd(errors: np.ndarray) -> float:
    """The root mean square of the finite errors. The mean is np.mean's own sum over the
    count (the same to the bit) without its Python wrapper: it runs for the naive and
    drift forecasts at every cut-off of every series."""
    errors = errors[np.isfinite(errors)]
    return float(np.sqrt(np.square(errors).sum() / len(errors))) if len(errors) else 0.0


def naive(y: np.ndarray, m: int, horizon: int) -> Prediction:
    sigma = _residual_sd(np.diff(y))
    steps = np.arange(1, horizon + 1)
    return Prediction(np.full(horizon, y[-1]), sigma * np.sqrt(steps), "last value")


def drift(y: np.ndarray, m: int, horizon: int) -> Prediction:
    """The last value plus the average change so far (a random walk with drift), on the
    seasonally adjusted series when a season is clear."""
    n = len(y)
    seasonal = has_seasonality(y, m)
    x, index, multiplicative = deseasonalise(y, m) if seasonal else (y, np.zeros(1), False)
    steps = np.arange(1, horizon + 1)
    slope = (x[-1] - x[0]) / max(n - 1, 1)
    mean = x[-1] + slope * steps
    sigma = _residual_sd(np.diff(x) - slope)
    sd = sigma * np.sqrt(steps * (1 + steps / max(n - 1, 1)))
    if seasonal:
        future = _future_season(index, n, horizon)
        mean = mean * future if multiplicative else mean + future
        sd = sd * future if multiplicative else sd
    return Prediction(mean, sd, "drift" + (" with season" if seasonal else ""))


def seasonal_naive(y: np.ndarray, m: int, horizon: int) -> Prediction:
    if m <= 1 or len(y) < m + 1:
        return naive(y, m, horizon)
    steps = np.arange(horizon)
    mean = y[len(y) - m + steps % m]
    sigma = _residual_sd(y[m:] - y[:-m])
    return Prediction(mean, sigma * np.sqrt(steps // m + 1), f"same as {m} periods before")


ALPHAS = np.linspace(0.02, 0.98, 25)


def _smoothed(both: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SES of each column for every alpha, from a start of zero: the one-step errors
    (t, column, alpha) and the final levels (column, alpha)."""
    errors, levels = _smoothed_cutoffs(both, [len(both)])
    return errors[:, 0], levels[0]


def _smoothed_cutoffs(both: np.ndarray, lengths: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """`_smoothed(both[:n, pair])` for the k-th length n and the k-th pair of columns
    (a cut-off's line and gap), the same to the bit, from one pass over the rows: SES is
    causal, so a prefix's errors are the first rows of the longer pass, and each column
    is its own. The errors (t, cut-off, pair, alpha; past a cut-off's length they go on
    over zeros) and the final levels (cut-off, pair, alpha). Past 60 periods the lone
    pass is one linear filter per alpha (scipy's lfilter, in C: 0.5 against 1 ms at 120),
    so lengths past 60 are never mixed with shorter ones (`_theta_cutoffs`)."""
    n, width, count = len(both), both.shape[1], len(lengths)
    if max(lengths) > 60:
        after = np.stack([lfilter([a], [1.0, a - 1.0], both, axis=0) for a in ALPHAS], axis=2)
        errors = np.empty_like(after)
        errors[0] = both[0, :, None] - 0.0  # the level before the first value is zero
        np.subtract(both[1:, :, None], after[:-1], out=errors[1:])
        levels = np.stack(
            [after[length - 1, 2 * k : 2 * k + 2] for k, length in enumerate(lengths)]
        )
    else:
        # Flat rows (column-major over alpha) and no broadcasting inside the loop: numpy's
        # per-call cost on 2-D broadcast operands was twice the arithmetic's.
        values = np.repeat(both, len(ALPHAS), axis=1)
        alphas = np.tile(ALPHAS, width)
        level, moved = np.zeros(width * len(ALPHAS)), np.empty(width * len(ALPHAS))
        errors = np.empty((n, width * len(ALPHAS)))
        stops, finals = set(lengths), {}
        for t, (value, step) in enumerate(zip(values, errors, strict=True)):
            np.subtract(value, level, out=step)
            np.add(level, np.multiply(alphas, step, out=moved), out=level)
            if t + 1 in stops:
                finals[t + 1] = level.copy()
        levels = np.stack([finals[length].reshape(count, 2, len(ALPHAS))[k]
                           for k, length in enumerate(lengths)])  # fmt: skip
    return errors.reshape(n, count, 2, len(ALPHAS)), levels


def _by_pair(errors: np.ndarray, lengths: Sequence[int], chosen: list[int] | None) -> np.ndarray:
    """The `chosen` cut-offs' errors (all when None) as `_ses_theta_cutoffs` takes them:
    (pair, t, cut-off, alpha), contiguous, zero past each cut-off's length."""
    longest = max(lengths)
    mine = errors[:longest] if chosen is None else errors[:longest, chosen]
    parts = np.zeros((2, longest, len(lengths), len(ALPHAS)))
    inside = np.arange(longest)[:, None] < np.asarray(lengths)[None, :]
    np.copyto(parts, mine.transpose(2, 0, 1, 3), where=inside[None, :, :, None])
    return parts


@functools.lru_cache(maxsize=64)
def _decay(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(1 - alpha)^t for t < n and every alpha, and its sum of squares per alpha: the
    same for every series of a length, so made once per length (read-only)."""
    decay = (1 - ALPHAS)[None, :] ** np.arange(n)[:, None]
    squares = (decay * decay).sum(axis=0)
    decay.flags.writeable = squares.flags.writeable = False
    return decay, squares


def _ses_thetas(line: np.ndarray, gap: np.ndarray, thetas: np.ndarray) -> tuple[np.ndarray, ...]:
    """Simple exponential smoothing of every theta line `line + theta * gap`, each with
    alpha picked on a grid: (alpha, level, sigma, sse) per theta (`_ses_theta_cutoffs`
    for one series)."""
    errors, levels = _smoothed_cutoffs(np.stack([line, gap], axis=1), [len(line)])
    parts = _by_pair(errors, [len(line)], None)
    return tuple(part[0] for part in _ses_theta_cutoffs(parts, levels, [len(line)], thetas))


def _ses_theta_cutoffs(
    parts: np.ndarray, levels: np.ndarray, lengths: Sequence[int], thetas: np.ndarray
) -> tuple[np.ndarray, ...]:
    """For each cut-off's smoothed line and gap (`_smoothed_cutoffs`), simple exponential
    smoothing of every theta line `line + theta * gap`, each with alpha picked on a grid:
    (alpha, level, sigma, sse) per cut-off and theta.

    The starting level is the best one for each alpha, not the first value: the errors
    are linear in it, so it has a closed form. Starting at the first value cost the
    Theta method dearly on short trending series (M3 yearly MASE 3.02 against 2.74 for
    statsforecast's AutoTheta on 100 series). The errors are linear in the series too,
    so the line and the gap are smoothed once and every theta is their sum: one pass
    over the history instead of one per theta. The cut-offs share each numpy call, the
    errors past a cut-off's length being zero (each sum over time adds them after its
    own terms, which leaves it unchanged: the same numbers to the bit as one at a time).
    """
    n, count, width = parts.shape[1:]
    # theta, t, cut-off, alpha: each operation runs over whole blocks of memory, and each
    # sum over time adds whole rows (the same additions, one period after another, as a
    # fit of its own); in place into two buffers (the same operations as the plain
    # expressions, without a temporary per step of them)
    errors = np.multiply(thetas[:, None, None, None], parts[None, 1])
    errors += parts[None, 0]
    final = levels[None, :, 0] + thetas[:, None, None] * levels[None, :, 1]
    inside = np.arange(n)[:, None] < np.asarray(lengths)[None, :]
    decay = np.where(inside[:, :, None], _decay(n)[0][:, None], 0.0)  # d error / d start = -decay
    decay_squares = np.stack([_decay(length)[1] for length in lengths])
    scratch = np.multiply(errors, decay[None])
    start = scratch.sum(axis=1) / decay_squares[None]
    np.multiply(decay[None], start[:, None], out=scratch)
    np.subtract(errors, scratch, out=scratch)
    sse = np.square(scratch, out=scratch).sum(axis=1)
    # the best alpha per cut-off and theta, now cut-off first
    j = np.argmin(sse, axis=2).T.ravel()
    rows = np.arange(len(j))
    best, start, final = (a.transpose(1, 0, 2).reshape(-1, width)[rows, j].reshape(count, -1)
                          for a in (sse, start, final))  # fmt: skip
    alphas = ALPHAS[j].reshape(count, -1)
    # per cut-off, with its length a Python int as in a fit of its own (numpy's power and
    # division by a scalar are the same operations as by an array, but this is sure)
    final = np.stack([f + (1 - a) ** length * s
                      for f, a, s, length in zip(final, alphas, start, lengths, strict=True)])  # fmt: skip
    sigma = np.stack(
        [np.sqrt(b / max(length - 2, 1)) for b, length in zip(best, lengths, strict=True)]
    )
    return alphas, final, sigma, best


THETAS = (1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 8.0)


@dataclass(frozen=True)
class _ThetaFit:
    """What the Theta method learns from a series, whatever the horizon."""

    n: int
    seasonal: bool
    season_index: np.ndarray
    multiplicative: bool
    slope: float
    intercept: float
    theta: float
    level: float
    sigma: float
    alpha: float


class _ThetaInputs(NamedTuple):
    x: np.ndarray  # the series, seasonally adjusted when a season is clear
    season_index: np.ndarray
    multiplicative: bool
    seasonal: bool
    slope: float
    intercept: float
    line: np.ndarray


def clear_season(y: np.ndarray, m: int) -> bool:
    """Whether Theta adjusts for a season: the stable-seasonality F-test that the words
    about the series use (`seasonality.check_seasonality`), so a forecast keeps the
    December peak the Forecast check says it found.

    Theta had used thetaf's autocorrelation test (`has_seasonality`), which misses one
    outlying month over two or three years: on the sample business the check said
    "highest in December, about 143% above a typical month" beside a flat forecast.
    Held out a whole year after 35 months (the demo's history), 226 series of 12 draws
    of the sample, MASE mean / median / sMAPE 0.907 / 0.833 / 28.57 -> 0.875 / 0.788 /
    27.61, December's scaled error 2.25 -> 1.94. On the benchmark's long series the two
    tests mostly agree (window 0, every series of a group): M3 monthly 0.824 / 0.690 /
    13.47 -> 0.826 / 0.693 / 13.54, M3 quarterly 1.059 / 0.755 / 8.92 -> 1.051 / 0.737 /
    8.99 (windows 1 and 2 better on all three), the other seasonal groups' means within
    0.004 and medians within 0.017 (prison 1.700 -> 1.716, PBS 0.767 -> 0.749).
    """
    check = check_seasonality(y, m)
    return bool(check is not None and check.seasonal)


def _theta_inputs(y: np.ndarray, m: int) -> _ThetaInputs:
    """The seasonally adjusted series and its straight line."""
    n = len(y)
    seasonal = clear_season(y, m)
    if seasonal:
        x, index, multiplicative = deseasonalise(y, m)
    else:
        x, index, multiplicative = y, np.zeros(1), False
    t = np.arange(n)
    slope, intercept = straight_line(x) if n >= 3 else (0.0, float(x.mean()))
    line = intercept + slope * t
    return _ThetaInputs(x, index, multiplicative, seasonal, slope, intercept, line)


def _theta_fit(inputs: _ThetaInputs) -> _ThetaFit:
    return _theta_fits([inputs])[0]


# Periods times cut-offs whose alphas and thetas are chosen in the same numpy calls: past
# about 350 the arrays (12 thetas x 25 alphas a period and cut-off) left the processor's
# cache and a cut-off cost as much as alone or more (60 periods: 85 us a cut-off five at
# a time, 233 six at a time, 230 alone); 200 leaves room for whatever else runs beside.
# A short yearly backtest (7 cut-offs of up to 28 years) is still chosen at once.
_THETA_BATCH = 200


def _theta_fits(inputs: Sequence[_ThetaInputs]) -> list[_ThetaFit]:
    """The Theta fit of each cut-off's inputs: their smoothing in one pass
    (`_smoothed_cutoffs`), their choice of alpha and theta in the same numpy calls, up to
    `_THETA_BATCH` periods at a time."""
    lengths = [len(one.x) for one in inputs]
    both = np.zeros((max(lengths), 2 * len(inputs)))
    for k, one in enumerate(inputs):
        both[: len(one.x), 2 * k], both[: len(one.x), 2 * k + 1] = one.line, one.x - one.line
    thetas = np.array(THETAS)
    errors, levels = _smoothed_cutoffs(both, lengths)
    everything = list(range(len(inputs)))
    batches: list[list[int]] = [[]]
    for k in sorted(everything, key=lambda k: lengths[k]):  # like with like
        if batches[-1] and (len(batches[-1]) + 1) * lengths[k] > _THETA_BATCH:
            batches.append([])
        batches[-1].append(k)
    if len(batches) == 1:
        batches = [everything]  # in their own order: no copy
    fits: dict[int, _ThetaFit] = {}
    for batch in batches:
        mine = [lengths[k] for k in batch]
        own = _by_pair(errors, mine, None if batch == everything else batch)
        alphas, level, sigmas, sse = _ses_theta_cutoffs(own, levels[batch], mine, thetas)
        chosen = np.argmin(sse / thetas**2, axis=1)
        for c, (k, j) in enumerate(zip(batch, chosen, strict=True)):
            one = inputs[k]
            fits[k] = _ThetaFit(len(one.x), one.seasonal, one.season_index, one.multiplicative,
                                one.slope, one.intercept, float(thetas[j]), float(level[c, j]),
                                float(sigmas[c, j] / thetas[j]), float(alphas[c, j]))  # fmt: skip
    return [fits[k] for k in range(len(inputs))]


_THETA_FITS: dict[tuple[int, bytes], _ThetaFit] = {}


def _theta_cutoffs(y: np.ndarray, m: int, cutoffs: Sequence[int]) -> dict[int, _ThetaFit]:
    """The Theta fit of y[:cutoff] for each cut-off, the same to the bit as one at a
    time, fitted together (`_theta_fits`): one pass for the cut-offs of up to 60 periods,
    one for the longer ones."""
    inputs = {c: _theta_inputs(y[:c], m) for c in cutoffs}
    fits: dict[int, _ThetaFit] = {}
    for group in ([c for c in cutoffs if c <= 60], [c for c in cutoffs if c > 60]):
        if group:
            fits.update(zip(group, _theta_fits([inputs[c] for c in group]), strict=True))
    return fits


def theta(y: np.ndarray, m: int, horizon: int) -> Prediction:
    """The optimised Theta method (Fiorucci et al. 2016): the straight line through the
    seasonally adjusted series, and its theta line (theta times the series, less what the
    straight line accounts for) forecast by SES, weighted 1 - 1/theta and 1/theta.

    Theta = 2 is the classical method; choosing theta by in-sample fit as well brought
    held-out MASE on 100 M3 yearly series from 3.01 to 2.83 (statsforecast's AutoTheta
    2.74) and on 60 M3 monthly ones from 0.871 to 0.837.
    """
    key = (m, np.ascontiguousarray(y, dtype=float).tobytes())
    fit = _THETA_FITS.get(key) or _theta_fit(_theta_inputs(y, m))
    n, th, level, sigma, chosen_alpha = fit.n, fit.theta, fit.level, fit.sigma, fit.alpha
    steps = np.arange(horizon)
    future_line = fit.intercept + fit.slope * (n + steps)
    mean = (1 - 1 / th) * future_line + level / th
    sd = sigma * np.sqrt(1 + steps * chosen_alpha**2)
    if fit.seasonal:
        future = _future_season(fit.season_index, n, horizon)
        mean = mean * future if fit.multiplicative else mean + future
        sd = sd * future if fit.multiplicative else sd
    return Prediction(mean, sd, f"theta {th:g}" + (" with season" if fit.seasonal else ""))


_ETS_FORMS: dict[tuple[int, bytes], list[EtsFit]] = {}
_Fit = TypeVar("_Fit")
_FITS_KEPT = 32  # a series' cut-offs (backtest, forecast, calibration) and then some


def _remember(cache: dict[tuple[int, bytes], Any], key: tuple[int, bytes], fit: Any) -> None:
    if len(cache) >= _FITS_KEPT:
        cache.pop(next(iter(cache)), None)
    cache[key] = fit


def _ets_forms(y: np.ndarray, m: int) -> list[EtsFit]:
    """Every ETS form fitted once per series and cut-off, for `ets` and `damped_ets`."""
    key = (m, np.ascontiguousarray(y, dtype=float).tobytes())
    found = _ETS_FORMS.get(key)
    if found is None:
        found = fit_ets_forms(y, m)
        _remember(_ETS_FORMS, key, found)
    return found


@dataclass(frozen=True)
class Kept:
    """Fits that `prepare` made ahead for cut-offs asked for later (`restore`), by when
    the caches have moved on to other series: a panel calibrates its series' intervals
    only after every series has been chosen."""

    ets: dict[tuple[int, bytes], list[EtsFit]] = field(default_factory=dict)
    theta: dict[tuple[int, bytes], _ThetaFit] = field(default_factory=dict)


def prepare(
    y: np.ndarray,
    m: int,
    cutoffs: Sequence[int],
    model: str = "ets+theta",
    later: Sequence[int] = (),
) -> Kept:
    """Fit ETS and Theta (those `model` names) on y[:cutoff] for every cut-off a backtest
    is about to ask for, in one pass over y each (`fit_ets_cutoffs`, `_theta_cutoffs`:
    the same fits to the bit), for `ets`, `damped_ets` and `theta` to find. A fit's numpy
    calls per period, not its arithmetic, are its cost, so five cut-offs in one pass cost
    little more than one.

    The `later` cut-offs (the engine's calibration cut-offs) join the passes where they
    share one cheaply (ETS's without a season: `own_pass`; Theta's up to 60 periods, past
    which each cut-off's own arithmetic is its cost, paid for nothing when the chosen
    model has no Theta, as a calendar model's daily series) and are returned, to
    be put back with `restore` when asked for: the calibration's own passes had been 17%
    of the panel's profile samples on the 518 tourism yearly series."""
    y = np.ascontiguousarray(y, dtype=float)
    ahead = [c for c in later if 0 < c <= len(y)]
    return Kept(
        _share(y, m, cutoffs, [c for c in ahead if not own_pass(c, m)], _ETS_FORMS, fit_ets_cutoffs)
        if "ets" in model
        else {},
        _share(y, m, cutoffs, [c for c in ahead if c <= 60], _THETA_FITS, _theta_cutoffs)
        if "theta" in model
        else {},
    )


def _share(
    y: np.ndarray,
    m: int,
    cutoffs: Sequence[int],
    ahead: list[int],
    cache: dict[tuple[int, bytes], _Fit],
    fit: Callable[[np.ndarray, int, list[int]], dict[int, _Fit]],
) -> dict[tuple[int, bytes], _Fit]:
    """`prepare` for one model: its fits of the `ahead` cut-offs."""
    wanted = [c for c in dict.fromkeys([*cutoffs, *ahead]) if 0 < c <= len(y)]
    missing = [c for c in wanted if (m, y[:c].tobytes()) not in cache]
    if len(missing) >= 2:  # else nothing to share: fitted when asked
        for c, found in fit(y, m, missing).items():
            _remember(cache, (m, y[:c].tobytes()), found)
    keys = [(m, y[:c].tobytes()) for c in ahead]
    return {key: cache[key] for key in keys if key in cache}


def restore(kept: Kept) -> None:
    """Make the fits `prepare` kept findable again."""
    for key, forms in kept.ets.items():
        _remember(_ETS_FORMS, key, forms)
    for key, fit in kept.theta.items():
        _remember(_THETA_FITS, key, fit)


def _ets_prediction(fit: EtsFit, horizon: int) -> Prediction:
    return Prediction(fit.forecast(horizon), fit.sd(horizon), f"ETS({fit.form})")


def ets(y: np.ndarray, m: int, horizon: int) -> Prediction:
    """ETS with the form of lowest AICc (ets.py)."""
    return _ets_prediction(min(_ets_forms(y, m), key=lambda fit: fit.aicc), horizon)


def damped_ets(y: np.ndarray, m: int, horizon: int) -> Prediction:
    """ETS held to a damped trend, from the same fit as `ets` (no second pass).

    AICc often prefers no trend or a straight one on short series; beside the AICc
    choice in a combination, the damped form hedges between them (the idea of M4's
    "Comb" benchmark: SES, Holt and damped averaged)."""
    return _ets_prediction(best_damped(_ets_forms(y, m)), horizon)


def _on_adjusted(
    y: np.ndarray, m: int, horizon: int, model: Callable[[np.ndarray, int], Prediction]
) -> Prediction:
    """A non-seasonal model on the seasonally adjusted series, the season put back after,
    when the autocorrelation test finds one (as the Theta method does)."""
    if not has_seasonality(y, m):
        return model(y, horizon)
    x, index, multiplicative = deseasonalise(y, m)
    inner = model(x, horizon)
    future = _future_season(index, len(y), horizon)
    mean = inner.mean * future if multiplicative else inner.mean + future
    sd = inner.sd * future if multiplicative else inner.sd
    return Prediction(mean, sd, inner.detail + " with season")


def _arima(x: np.ndarray, horizon: int, m: int = 1, seasonal: bool = False) -> Prediction:
    fit = fit_arima(x, m, seasonal)
    mean, sd = fit.forecast(horizon), fit.sd(horizon)
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(sd))):
        return naive(x, 1, horizon)
    return Prediction(mean, sd, fit.form)


def arima(y: np.ndarray, m: int, horizon: int) -> Prediction:
    """A small automatic ARIMA (arima.py): seasonally differenced when three seasons are
    known and the season is clear in the changes from period to period (a trend hides it
    from the autocorrelations of the levels), else on the series, seasonally adjusted if
    need be."""
    if m > 1 and len(y) >= 3 * m + 4 and has_seasonality(np.diff(y), m):
        return _arima(y, horizon, m, seasonal=True)
    return _on_adjusted(y, m, horizon, _arima)


def ces(y: np.ndarray, m: int, horizon: int) -> Prediction:
    """Complex exponential smoothing (Svetunkov and Kourentzes), statsforecast's AutoCES:
    its form (no season, simple, partial or full) by AICc. Offered only inside medians
    (the engine's `_candidates`), where its forecasts differ most from the other members'.

    statsforecast rather than a port of our own: a numpy CES with a grid of forms scored
    1.722 against its 1.581 on 40 tourism quarterly series (an earlier stop), the gap
    being in how parameters and forms are chosen. Its filter is compiled C++ since
    statsforecast 2 (no JIT wait), and a monthly fit takes about 3 ms; the import, about
    a second, is paid only by a call that reaches this model. The spread is the residual
    standard deviation growing with the square root of the step, a shape whose level the
    engine calibrates on backtest errors like every model's."""
    with warnings.catch_warnings():  # statsmodels sets process-wide filters on import
        from statsforecast.models import AutoCES

    x = np.asarray(y, dtype=float)
    try:
        model = AutoCES(season_length=max(m, 1)).fit(x)
        mean = np.asarray(model.predict(horizon)["mean"], dtype=float)
        variance = float(model.model_["sigma2"])
        form = str(model.model_["seasontype"])
    # statsforecast raises NotImplementedError ("tiny datasets") for a series shorter than
    # a form's parameters and a bare Exception when no form could be fitted
    except Exception:
        return naive(x, 1, horizon)
    # no degrees of freedom left for the noise (a few points): the fit is not to be trusted
    if not (np.all(np.isfinite(mean)) and np.isfinite(variance) and variance > 0):
        return naive(x, 1, horizon)
    sigma = float(np.sqrt(variance))
    steps = np.arange(1, horizon + 1)
    return Prediction(mean, sigma * np.sqrt(steps), f"CES ({_CES_FORMS.get(form, form)})")


_CES_FORMS = {"N": "no season", "S": "simple season", "P": "partial season", "F": "full season"}


def warm_up() -> None:
    """Import CES's library and fit it once, so that a server's first monthly forecast
    does not wait for it (about 0.4 s, the cost of a cold worksheet call's imports)."""
    ces(10.0 + np.arange(30.0) % 12, 12, 1)


def croston_sba(y: np.ndarray, m: int, horizon: int) -> Prediction:
    """Croston's method with the Syntetos-Boylan correction, for sales with many zeros."""
    alpha = 0.1
    demand = y[y > 0]
    if len(demand) == 0:
        return Prediction(np.zeros(horizon), np.zeros(horizon), "no sales")
    gaps = np.diff(np.concatenate([[-1], np.flatnonzero(y > 0)]))
    size, interval = float(demand[0]), float(gaps[0])
    for d, g in zip(demand[1:], gaps[1:], strict=True):
        size += alpha * (d - size)
        interval += alpha * (g - interval)
    rate = (1 - alpha / 2) * size / interval
    sigma = _residual_sd(y - rate)
    return Prediction(np.full(horizon, rate), np.full(horizon, sigma), "Croston (SBA)")


MODELS: dict[str, Callable[[np.ndarray, int, int], Prediction]] = {
    "seasonal_naive": seasonal_naive,
    "ets": ets,
    "damped_ets": damped_ets,
    "theta": theta,
    "drift": drift,
    "croston": croston_sba,
    "arima": arima,
    "ces": ces,
}


_MEMO: dict[tuple[str, int, int, bytes], Prediction] = {}
_MEMO_SIZE = 64


def _remembered(name: str, y: np.ndarray, m: int, horizon: int) -> Prediction:
    """A member's forecast, fitted once per series, cut-off and horizon however many
    blends (and the backtest's own run of the member) ask for it."""
    key = (name, m, horizon, np.ascontiguousarray(y, dtype=float).tobytes())
    found = _MEMO.get(key)
    if found is None:
        found = MODELS[name](y, m, horizon)
        found.mean.flags.writeable = False  # shared by every caller: never changed in place
        found.sd.flags.writeable = False
        if len(_MEMO) >= _MEMO_SIZE:
            _MEMO.pop(next(iter(_MEMO)), None)
        _MEMO[key] = found
    return found


def remembered(name: str) -> Callable[[np.ndarray, int, int], Prediction]:
    """MODELS[name], remembering its last forecasts so a blend that has it as a member
    does not fit it again on the same cut-off."""

    def forecast(y: np.ndarray, m: int, horizon: int) -> Prediction:
        return _remembered(name, y, m, horizon)

    return forecast


def blend(*members: str) -> Callable[[np.ndarray, int, int], Prediction]:
    """The mean of several models' forecasts, as one candidate.

    A blend is one candidate, so a model that is only good in company (ARIMA: see the
    engine's `_candidates`) is never chosen alone.
    """

    def forecast(y: np.ndarray, m: int, horizon: int) -> Prediction:
        predictions = [_remembered(name, y, m, horizon) for name in members]
        return Prediction(
            np.mean([p.mean for p in predictions], axis=0),
            np.mean([p.sd for p in predictions], axis=0),
            " + ".join(p.detail for p in predictions),
        )

    return forecast


# Models whose spread is only a rough shape (CES: statsforecast gives its multi-step
# spread by simulation, too slow here; ours is the one-step SD x sqrt(step)).
_ROUGH_SPREADS = frozenset({"ces"})


def median(*members: str) -> Callable[[np.ndarray, int, int], Prediction]:
    """The middle of several models' forecasts, as one candidate: one member gone astray
    moves it less than it moves a mean. The median of ETS, CES, ARIMA and Theta is the
    combination Petropoulos and Svetunkov (2020) found hard to beat on the M4 series; the
    statsforecast ensemble the benchmark compares with is the same idea.

    The spread is the mean spread of the members that have a spread formula (a shape,
    calibrated later as a blend's is). With CES's rough shape in the mean as well, the
    spread grew too fast after the first period: on all 366 tourism monthly series 80%
    ranges covered 66-74% at 2 to 5 months ahead (75-80% without it), MSIS 10.91 (10.89
    without)."""
    shaped = [name for name in members if name not in _ROUGH_SPREADS] or list(members)

    def forecast(y: np.ndarray, m: int, horizon: int) -> Prediction:
        predictions = {name: _remembered(name, y, m, horizon) for name in members}
        return Prediction(
            np.median([p.mean for p in predictions.values()], axis=0),
            np.mean([predictions[name].sd for name in shaped], axis=0),
            "middle of " + ", ".join(p.detail for p in predictions.values()),
        )

    return forecast
