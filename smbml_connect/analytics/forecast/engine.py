"""Sales forecasts with honest intervals, for one series or a panel of many.

Each series is tested on its own past (rolling-origin backtests): every candidate
forecasts from a few cut-off points and is scored on what happened next. A combination
is used unless a single candidate was clearly better where a series may leave it
(`_choose`, `_may_switch`), and the chosen model's backtest errors set the width of the
intervals, so an 80% interval is as wide as the errors really were 80% of the time.

One series has only a few dozen backtest errors, all from a few cut-offs, which is too
few to tell how wide a 95% interval must be. So a series' own errors are blended with a
prior: in a panel, the errors of all its series pooled per step ahead; alone, a
Student-t (see intervals.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from smbml_connect.analytics.forecast.calendar import calendar_candidate
from smbml_connect.analytics.forecast.gbm import GBM_MIN_SERIES, boosted_candidates
from smbml_connect.analytics.forecast.intervals import (
    PooledWidth,
    calibration_origins,
    pooled_width_per_level,
    recency,
    width,
)
from smbml_connect.analytics.forecast.models import (
    MODELS,
    Kept,
    Prediction,
    blend,
    median,
    prepare,
    remembered,
    restore,
)
from smbml_connect.analytics.forecast.seasonality import check_seasonality, describe_season
from smbml_connect.analytics.forecast.timeseries import (
    FREQUENCIES,
    RegularSeries,
    damp_outliers,
    empty_at_end,
    fill_closures,
    regularise,
    regularise_panel,
)
from smbml_connect.errors import DataValidationError
from smbml_connect.period_names import day_words, periods_words

__all__ = [
    "MODEL_WORDS",
    "Fitted",
    "SeriesForecast",
    "fit_regular",
    "forecast_panel",
    "forecast_panel_results",
    "forecast_regular",
    "forecast_series",
    "pooled_widths",
]

MODEL_WORDS = {
    "seasonal_naive": "same as last season",
    "naive": "last value carried forward",
    "ets": "exponential smoothing",
    "theta": "Theta method",
    "drift": "last value plus the average change",
    "ets+theta": "average of exponential smoothing and Theta",
    "ets+theta+drift": "average of exponential smoothing, Theta and the average change",
    "croston": "Croston's method for occasional sales",
    "calendar": "weekly and yearly pattern and holidays, with a smoothed trend",
    "lightgbm": "boosted trees across all series",
    "ets+theta+lightgbm": "average of exponential smoothing, Theta and boosted trees",
    "ets_theta_arima": "average of exponential smoothing, Theta and ARIMA",
    "damped_ets": "exponential smoothing with a slowing trend",
    "ets+damped_ets+theta": "average of two kinds of exponential smoothing and Theta",
    "median_ets_theta_ces": "middle of two kinds of exponential smoothing, Theta and "
    "complex exponential smoothing",
    "median_damped_ets_theta_arima_ces": "middle of exponential smoothing with a slowing "
    "trend, Theta, ARIMA and complex exponential smoothing",
}
MAX_ORIGINS = 4
SWITCH_MARGIN = 0.8
BOOSTED = "ets+theta+lightgbm"
# The combinations a series may default to, when the panel trains no boosted model.
# Drift earns its place on short, trending series: held-out MASE on 80-series subsets of
# M3 quarterly 0.940 -> 0.925, tourism yearly 2.880 -> 2.793, M3 other 2.106 -> 2.089; on
# monthly series it hurts (M3 0.841 -> 0.874), and the backtests say which is which.
# ARIMA earns its place in seasonal series (see _candidates); a second blend with drift
# as well changed nothing on 100-series samples of tourism monthly and quarterly and M3
# monthly, and M3 quarterly by 0.6%, so it is left out (less to choose, less time).
PANEL_MARGIN = 0.01
# Standard errors by which switching must have lost on the newest cut-offs before a panel
# keeps every series on its combination (`_switching_helps`): the usual two, set beside
# the t-values the benchmark groups gave, not tuned to them.
SWITCH_EVIDENCE = 2.0
# Series a panel needs before a lead under PANEL_MARGIN can count as evidence (`_clear_lead`).
EVIDENCE_MIN_SERIES = 10
# A model's spread below this share of the series' size is none (`_standardised`).
SPREAD_FLOOR = 1e-9
# The medians with CES: see `_candidates`.
MEDIAN = "median_ets_theta_ces"
MEDIAN_ARIMA = "median_damped_ets_theta_arima_ces"
MEDIAN_MIN_SEASON = 12
# The combination a series too short for any backtest takes when its panel's cannot be
# made on it, or alone (`_untested`).
UNTESTED = "ets+theta"
PLAIN = ("ets+theta+drift", "ets+theta", "ets_theta_arima", "ets+damped_ets+theta", MEDIAN,
         MEDIAN_ARIMA, "calendar", "calendar+ets", "calendar+seasonal_naive")  # fmt: skip


@dataclass
class SeriesForecast:
    """A forecast with what a person needs to trust it."""

    frame: pd.DataFrame  # ds, yhat, lo/hi per level, model
    model: str
    freq: str
    season_length: int
    seasonality: str  # in words: detected, given, none found, too short
    backtest: dict[str, float] = field(default_factory=dict)  # candidate -> scaled error
    notes: list[str] = field(default_factory=list)
    history: pd.DataFrame | None = None  # ds, y as used
    ends_empty: str = ""  # the note on empty periods just before the run, also in `notes`


Candidate = Callable[[np.ndarray, int, int], Prediction]


def _predict(
    name: str,
    bases: dict[str, Candidate],
    y: np.ndarray,
    m: int,
    horizon: int,
    cache: dict[str, Prediction] | None = None,
) -> Prediction:
    """A base model's forecast, or for a combination ("ets+theta") the mean of its members'.

    With a cache, each member is fitted once per cut-off however many combinations use
    it: a backtest of ets, theta and ets+theta fits ETS once, not twice.
    """
    cache = {} if cache is None else cache
    predictions = []
    for part in name.split("+"):
        if part not in cache:
            cache[part] = bases[part](y, m, horizon)
        predictions.append(cache[part])
    if len(predictions) == 1:
        return predictions[0]
    # The members' sum over their count is np.mean(axis=0) to the bit (the same additions
    # in the same order) at a quarter of its time, which a panel pays hundreds of times.
    return Prediction(
        sum((p.mean for p in predictions[1:]), predictions[0].mean) / len(predictions),
        sum((p.sd for p in predictions[1:]), predictions[0].sd) / len(predictions),
        " + ".join(p.detail for p in predictions),
    )


def _candidates(
    y: np.ndarray, intermittent: bool, m: int = 1, calendar: bool = False
) -> dict[str, Candidate]:
    """The models a series is backtested with. ARIMA (arima.py) is offered only inside a
    blend, and only where it can take a seasonal difference (three seasons and more) and
    no calendar model is tried: there it brings what seasonal ARIMA brings to the
    references (held-out MASE on 100 tourism quarterly series 1.500 -> 1.436, monthly
    1.434 -> 1.370, M3 quarterly 1.195 -> 1.189). Alone, chosen per series when its backtests led by 20%, it raised
    MASE on all 645 M3 yearly series from 2.64 to 2.82. Blends without a season did not
    help (M3 yearly 2.641 -> 2.637, within noise), on the sample business's 28-month
    series they hurt (0.609 -> 0.622), and beside the calendar model on weekly series
    they won the backtests and lost held-out (Chicago: 1.355 -> 1.506).

    `damped_ets` (ETS held to a damped trend, from the same fit as `ets`) is offered to
    every series but intermittent or calendar ones, for the `ets+damped_ets+theta`
    combination the panel may choose: held-out MASE mean / median / sMAPE on all 645 M3
    yearly series 2.641 / 1.785 / 16.16 -> 2.628 / 1.753 / 15.98, all 174 M3 other
    1.792 / 1.420 / 4.38 -> 1.767 / 1.471 / 4.32 (the median worse), 200 M3 quarterly
    1.084 / 0.763 / 9.86 -> 1.082 / 0.754 / 9.82; tourism yearly, quarterly and monthly
    kept their combination. A median of ETS, Theta, ARIMA and CES (the references'
    ensemble) as the panel's combination was worse on all three yearly/other groups
    (M3 yearly 2.64 -> 2.77), and ARIMA in a mean without a season was mixed (M3 yearly
    median 1.785 -> 1.743, mean 2.641 -> 2.662) at 50% more time.

    Monthly series also get two medians with CES (`models.ces`, `models.median`), the
    combination of Petropoulos and Svetunkov (2020): `MEDIAN_ARIMA` (damped ETS, Theta,
    ARIMA, CES) where the ARIMA blend is offered and `MEDIAN` (ETS, damped ETS, Theta,
    CES). CES is only ever a member: chosen alone per series, a replay of the backtests
    took it on 20% leads and lost held-out (M3 yearly 2.63 -> 2.81). The panel takes a
    median when its backtests say so (`_panel_combination`); on every series of the
    benchmark's monthly groups, MASE mean / median / sMAPE: tourism 1.456 / 1.248 / 18.31
    -> 1.415 / 1.208 / 18.03, M3 0.828 / 0.699 / 13.52 -> 0.826 / 0.693 / 13.47 (a lead
    under 1%, taken on the evidence rule of `_panel_combination`).

    Shorter seasons are not offered them: a CES fit (four forms, some 2 ms) costs much
    the same whatever the season, their panels are cheaper, and the medians took the CPU
    over AutoETS's for little. Quarterly: M3 1.061 / 0.769 / 9.00 -> 1.054 / 0.739 /
    8.94 and tourism 1.503 -> 1.501, at 0.68 -> 1.10 and 1.18 -> 1.64 CPU seconds on 40
    series (AutoETS 0.92 and 1.62); without a season: M3 other 1.767 / 1.471 -> 1.764 /
    1.461, M3 yearly 2.628 -> 2.630, tourism yearly the same, at 40-55% more CPU."""
    if len(y) < 8:
        return {"naive": MODELS["seasonal_naive"], "ets": MODELS["ets"]}
    chosen = {name: remembered(name) for name in ("seasonal_naive", "ets", "theta", "drift")}
    if not calendar and not intermittent:
        chosen["damped_ets"] = remembered("damped_ets")
    medians = m >= MEDIAN_MIN_SEASON and not calendar and not intermittent
    if medians:
        chosen[MEDIAN] = median("ets", "damped_ets", "theta", "ces")
    if m > 1 and len(y) >= 3 * m + 4 and not calendar and not intermittent:
        chosen["ets_theta_arima"] = blend("ets", "theta", "arima")
        if medians:
            chosen[MEDIAN_ARIMA] = median("damped_ets", "theta", "arima", "ces")
    if intermittent:
        chosen["croston"] = MODELS["croston"]
    return chosen


def _combinations(bases: dict[str, Candidate]) -> list[str]:
    """The combinations tried besides the base models, most members first."""
    names = [BOOSTED, *PLAIN]
    return [name for name in names if all(part in bases for part in name.split("+"))]


def _min_train(m: int) -> int:
    return max(8, 2 * m + 2 if m > 1 else 8)


def _origins(n: int, horizon: int, m: int) -> tuple[list[int], int]:
    """Cut-off points for the backtest and the horizon they are scored on."""
    min_train = _min_train(m)
    steps = min(horizon, n - min_train)
    if steps < 1:
        return [], 0
    stride = max(1, steps // 2)
    origins = [n - steps - i * stride for i in range(MAX_ORIGINS)]
    return [o for o in origins if o >= min_train], steps


def _season(
    y: np.ndarray, periods: pd.PeriodIndex, freq: str, season_length: int | None
) -> tuple[int, str]:
    """The season length the models may use, and what a person is told about it.

    Without a given length, the usual one for the frequency is offered to the models when
    the history covers two seasons: each model weighs it (ETS by AICc, Theta by its own
    test), which forecast better on M3 than switching the season off when a test fails.
    """
    word = FREQUENCIES[freq][0]
    if season_length is not None:
        if season_length < 1:
            raise DataValidationError(f"season_length must be 1 or more, got {season_length}")
        if season_length > 1 and len(y) < 2 * season_length + 2:
            return 1, (
                f"a season of {season_length} {word}s was given, but {2 * season_length + 2} "
                f"{word}s of history are needed to learn it; the forecast has no seasonal pattern"
            )
        return season_length, (f"given: repeats every {season_length} {word}s" if season_length > 1
                               else "none (given)")  # fmt: skip
    m = FREQUENCIES[freq][1]
    if m <= 1:
        return 1, "none looked for (yearly data)"
    if len(y) < 2 * m + 2:
        return 1, f"not checked: {2 * m + 2} {word}s are needed to see a {m}-{word} pattern"
    check = check_seasonality(y, m)
    if check is None:
        return m, f"not checked: {2 * m + 2} {word}s are needed to see a {m}-{word} pattern"
    return m, describe_season(check, periods, freq, word, m)


def _season_length(n: int, freq: str, season_length: int | None) -> int:
    """The season length `_season` gives a history of `n` periods (it depends on the
    length alone), before the values are looked at: closures and outliers are judged
    against it, and the words then come from the series as fitted."""
    if season_length is not None:
        if season_length < 1:
            raise DataValidationError(f"season_length must be 1 or more, got {season_length}")
        return 1 if season_length > 1 and n < 2 * season_length + 2 else season_length
    m = FREQUENCIES[freq][1]
    return 1 if m <= 1 or n < 2 * m + 2 else m


def _closure_words(series: RegularSeries, runs: list[tuple[int, int]]) -> str:
    """'no sales at all in April to May 2026: ...' for the runs `fill_closures` filled."""
    shown = [periods_words(series.periods[start], series.periods[end - 1], series.freq)
             for start, end in runs]  # fmt: skip
    when = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]
    return (
        f"no sales at all in {when}: treated as a closure (or a time off sale), not a season; "
        "filled in from the periods around it for the level and the season, and left out of "
        "the tests that set the ranges"
    )


def _empty_end_words(series: RegularSeries, empty: int) -> str:
    """The empty periods at the end (`empty_at_end`), and both readings of them: the
    forecast keeps them, since the data shows no sale after them either way."""
    first, last = series.periods[-empty], series.periods[-1]
    when = periods_words(first, last, series.freq)
    return (
        f"no sales at all in {when}, the last {empty} {series.word}s, after sales in nearly "
        f"every {series.word} before: the forecast takes sales as stopped; if it was a break, "
        "or the data stops early (check that the export holds every order up to "
        f"{day_words(last.end_time)}), the forecast is too low"
    )


def _hidden(
    results: dict[str, tuple[np.ndarray, np.ndarray]],
    closed: np.ndarray,
    origins: list[int],
    steps: int,
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """The backtest's errors with those on a closure's filled periods blank (NaN), so they
    neither choose the model nor set the ranges, and where the errors that count are. A
    backtest that scored only filled periods keeps them: there is nothing else to go on."""
    hidden = np.concatenate([closed[origin : origin + steps] for origin in origins])
    if not hidden.any() or hidden.all():
        return results, np.ones(len(hidden), dtype=bool)
    blank = {name: (np.where(hidden, np.nan, err), np.where(hidden, np.nan, std))
             for name, (err, std) in results.items()}  # fmt: skip
    return blank, ~hidden


def _origin_means(errors: np.ndarray, count: int) -> np.ndarray:
    """Each cut-off's mean absolute error, blanks (a closure's periods) skipped; NaN for a
    cut-off with none."""
    rows = np.abs(errors).reshape(count, -1)
    counted = (~np.isnan(rows)).sum(axis=1)
    sums = np.nansum(rows, axis=1)
    return np.where(counted > 0, sums / np.maximum(counted, 1), np.nan)


def _scale(y: np.ndarray, m: int) -> float:
    lag = m if m > 1 and len(y) > m + 1 else 1
    diffs = np.abs(y[lag:] - y[:-lag])
    scale = float(diffs.mean()) if len(diffs) else 0.0
    return scale if scale > 0 else max(float(np.abs(y).mean()), 1.0)


def _standardised(errors: np.ndarray, sd: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Errors in model standard deviations, and none (NaN) where the model claimed no
    spread: a spread under SPREAD_FLOOR of the series' typical size is rounding dust, not
    a unit. A history that held exactly still (36 months at 920, then small drops) gave
    Theta 3e-15 at the still cut-offs; a drop of 5 over that made the 80% range reach
    4.5e15. The intervals learn from the other cut-offs' errors instead."""
    floor = SPREAD_FLOOR * float(np.abs(y).mean()) if len(y) else 0.0
    return errors / np.where(sd > floor, sd, np.nan)


def _backtest(
    y: np.ndarray, m: int, candidates: dict[str, Candidate], origins: list[int], steps: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Errors and standardised errors of each candidate over all cut-offs.

    Each base model forecasts every cut-off once, and the rest is arithmetic on arrays of
    (candidate, cut-off, step): the same operations, element by element, as `_predict`
    and the errors one cut-off and candidate at a time, which took some two hundred
    numpy calls a yearly series (8 candidates, 4 cut-offs)."""
    # "calendar" is both a base model and a plain default: backtested once, not twice.
    names = list(dict.fromkeys([*candidates, *_combinations(candidates)]))
    members = {name: name.split("+") for name in names}
    means, sds = {}, {}
    for part in dict.fromkeys(part for parts in members.values() for part in parts):
        predictions = [candidates[part](y[:origin], m, steps) for origin in origins]
        means[part] = np.stack([p.mean[:steps] for p in predictions])
        sds[part] = np.stack([p.sd[:steps] for p in predictions])

    def combined(by_part: dict[str, np.ndarray], parts: list[str]) -> np.ndarray:
        if len(parts) == 1:
            return by_part[parts[0]]
        return sum((by_part[part] for part in parts[1:]), by_part[parts[0]]) / len(parts)

    actual = np.stack([y[origin : origin + steps] for origin in origins])
    errors = actual - np.stack([combined(means, members[name]) for name in names])
    sd = np.stack([combined(sds, members[name]) for name in names])
    standard = _standardised(errors, sd, y)
    return {name: (errors[i].ravel(), standard[i].ravel()) for i, name in enumerate(names)}


def _default(scores: dict[str, float], plain: str | None = None) -> str | None:
    """The combination a series keeps unless one candidate is clearly better: the boosted
    one when the panel has it, else `plain` (the panel's choice) or, alone, the plain
    combination with the lower backtest error."""
    if BOOSTED in scores:
        return BOOSTED
    if plain is not None and plain in scores:
        return plain
    present = [name for name in PLAIN if name in scores]
    return min(present, key=lambda k: scores[k]) if present else None


def _choose(
    scores: dict[str, float], plain: str | None = None, switch: bool = True, calendar: bool = False
) -> str:
    """The combination, unless one candidate was clearly better on this series' past.

    Picking the backtest winner outright chases noise: on M3 monthly series it scored a
    MASE of 0.989 against 0.946 for always combining; requiring a 20% lead gave 0.946.
    A series whose backtest could not score the whole horizon (`switch` False: too short
    a history) keeps the combination: on the sample business's 28-month series the
    backtest scores 2 of the 6 months asked for, and switching on those chose worse
    (held-out MASE 0.609 against 0.539, sMAPE 24.2 against 20.7), and so does a seasonal
    series without occasional sales or a calendar model (`_may_switch`). A panel may also
    keep every series on the combination (`_switching_helps`).

    A series with a `calendar` model and regular sales does not switch to the seasonal
    naive alone (it may still take `calendar+seasonal_naive`). Copying last year's week,
    or last week's day, wins a backtest whenever the recent year-on-year changes were
    small; the week it repeats carries that one week's noise, and a level that has moved
    since is not followed. Held-out MASE mean / median / sMAPE, mean over windows
    (`--earlier 0` to `11` and `0` to `10`): Auckland's 18 weekly series 0.510 / 0.388 /
    16.66 -> 0.501 / 0.381 / 16.38 (window 0 0.510 / 0.382 / 12.22 -> 0.486 / 0.319 /
    11.62; 4 windows better, 2 worse), Ansett's 30 weekly passenger series (benchmark
    group fpp3_ansett_weekly, with a pilots' strike) 0.784 / 0.514 / 26.51 -> 0.775 /
    0.514 / 25.92 (3 better, 3 worse; window 8 0.899 -> 0.746); Auckland daily over 22
    windows the same but for two (one better, one worse). It is a prior, and it costs
    where the copy is the truth: on 40 synthetic weekly series made of last year's week
    plus noise, a panel's MASE went 1.072 / 1.008 -> 1.163 / 1.126 (stop 40's review).
    Occasional sales keep the copy: there its zeros are right, and without it the 334
    monthly PBS series went from sMAPE 32.45 to 42.97 (occasional daily or weekly sales
    were not measured).
    """
    targets = [k for k in scores if not (calendar and k == "seasonal_naive")] or list(scores)
    best = min(targets, key=lambda k: scores[k])
    default = _default(scores, plain) or best
    if switch and scores[best] < SWITCH_MARGIN * scores[default]:
        return best
    return default


def _regular_calendar(candidates: Mapping[str, object]) -> bool:
    """Whether the series was offered the calendar model and has regular sales (no
    Croston's method offered): such a series does not switch to the copy alone (`_choose`)."""
    return "calendar" in candidates and "croston" not in candidates


def _panel_combination(fits: Sequence[Fitted]) -> str | None:
    """The plain combination with the lowest mean backtest error over the whole panel,
    steadier than each series' own choice between close combinations. `ets+theta` stays
    unless another is 1% better, or leads by more than `SWITCH_EVIDENCE` standard errors
    of the series' differences: on tourism monthly series `ets+theta+drift` won the
    backtests by 0.06% and lost on held-out data (MASE 1.58 against 1.48); where drift
    helped held-out (M3 quarterly and yearly, tourism yearly) it led by 1.8% to 5%. On
    all 1,428 M3 monthly series the median with CES led by 0.7% at 2.6 standard errors
    (t -2.6), and took held-out MASE 0.828 / 0.699 (median) / sMAPE 13.52 to 0.826 /
    0.693 / 13.47; on the other benchmark groups the evidence changed no choice.

    Each challenger is compared with `ets+theta` on the series that have both: in a panel
    where only the longer series can have `ets_theta_arima` (three seasons and more),
    means over different series would compare different things.
    """
    incumbent = "ets+theta"

    def finite(fit: Fitted, name: str) -> bool:
        return name in fit.scores and bool(np.isfinite(fit.scores[name]))

    ratios: dict[str, float] = {}  # of the challengers that lead clearly
    compared = False
    for name in PLAIN:
        pairs = np.array([(f.scores[name], f.scores[incumbent]) for f in fits
                          if name != incumbent and finite(f, name) and finite(f, incumbent)])  # fmt: skip
        if not len(pairs):
            continue
        compared = True
        challenger, kept = pairs.mean(axis=0)
        ratio = float(challenger / kept) if kept > 0 else 1.0
        if ratio < 1 - PANEL_MARGIN or _clear_lead(pairs[:, 0] - pairs[:, 1]):
            ratios[name] = ratio
    if not compared:
        return None
    return min(ratios, key=lambda k: ratios[k]) if ratios else incumbent


def _clear_lead(differences: np.ndarray) -> bool:
    """Lower errors than the incumbent's by more than `SWITCH_EVIDENCE` standard errors of
    the series' differences, or Student's t 97.5% quantile where that is larger, on at
    least `EVIDENCE_MIN_SERIES` series: with no real difference, two standard errors
    said "clear" for 14.5% of two-series panels and 5.7% of five-series ones (a review's
    simulation), and a shop's panel is often that small; those keep the 1% margin."""
    n = len(differences)
    if n < EVIDENCE_MIN_SERIES:
        return False
    mean, spread = float(np.mean(differences)), float(np.std(differences, ddof=1))
    if spread <= 1e-12 * abs(mean):  # the same lead on every series (as `_switching_helps`)
        return mean < 0
    needed = max(SWITCH_EVIDENCE, float(student_t.ppf(0.975, n - 1)))
    return mean < -needed * spread / np.sqrt(n)


def _switching_helps(fits: Sequence[Fitted], plain: str | None) -> bool:
    """Whether leaving the combination for a clearly better candidate (`_choose`) helps
    this panel's series on data the choice was not made on: each series chooses on its
    older cut-offs only, and the choice is scored against the combination on its newest
    (whose window overlaps the next one's by half, so the check leans towards agreeing).

    The switch is otherwise judged on the very backtests it is made on, so a lucky model
    looks clearly better. Switching is dropped when it lost there by more than
    `SWITCH_EVIDENCE` standard errors of the switching series' differences. On every
    series of a group (benchmarks/forecast.py), t 3.28 on M3 monthly (1428 series):
    dropped, held-out MASE mean / median / sMAPE 0.847 / 0.709 / 13.78 -> 0.828 / 0.699 /
    13.52 (the switches, to the seasonal naive on 64 series, drift on 67 and ETS on 59,
    were luck). 2.01 on tourism monthly (366): dropped, and it cost, 1.440 / 1.233 / 18.16
    -> 1.456 / 1.248 / 18.31, so the newest cut-off is a noisy judge even at two standard
    errors. Kept: tourism quarterly 1.47, M3 quarterly 1.16, M3 other 0.32, M3 yearly
    -3.86. By the plain sign of the sum (the first version), small panels (a shop's 20 to
    40 products) followed noise (t at most 1.45 on the 40-series benchmark groups): 40 M3
    yearly series went from sMAPE 15.67 to 18.42, 40 M3 other from MASE 2.005 to 2.130 and
    20 Auckland daily sensors from 1.028 to 1.060. (Those figures predate `_may_switch`:
    seasonal series without occasional sales or a calendar model no longer switch, so
    only the series that may are weighed here.)
    """
    changes = []
    for fit in fits:
        count = len(fit.origins)
        if not fit.switchable or count < 2:
            continue
        names = [k for k in fit.scores if "lightgbm" not in k and np.isfinite(fit.scores[k])]
        if fit.closed is not None and fit.closed.any():  # a closure's periods are blank
            by_origin = {k: _origin_means(fit.backtests[k][0], count) for k in names}
            if any(np.isnan(v).any() for v in by_origin.values()):  # a cut-off saw only those
                continue
        else:
            by_origin = {k: np.abs(fit.backtests[k][0]).reshape(count, -1).mean(axis=1)
                         for k in names}  # fmt: skip
        older = {k: float(v[1:].mean()) for k, v in by_origin.items()}  # origins: newest first
        default = _default(older, plain)
        if default is None:
            continue
        chosen = _choose(older, plain, calendar=_regular_calendar(fit.candidates))
        if chosen != default:
            newest = by_origin[chosen][0] - by_origin[default][0]
            changes.append(float(newest) / _scale(fit.y, fit.season_length))
    if len(changes) < 2:
        return True
    mean, spread = float(np.mean(changes)), float(np.std(changes, ddof=1))
    if spread <= 1e-12 * abs(mean):  # every series lost (or won) alike: no noise to weigh
        return mean <= 0
    return mean / (spread / np.sqrt(len(changes))) <= SWITCH_EVIDENCE


def _rechoose(fit: Fitted, horizon: int, plain: str, switch: bool = True) -> Fitted:
    """The same series chosen again with the panel's plain combination as its default
    (and kept to it when `switch` is False); a series too short for a backtest takes it
    when it can (`_untested`)."""
    scores = {k: v for k, v in fit.scores.items() if "lightgbm" not in k}
    if scores:
        name = _choose(scores, plain, fit.switchable and switch, _regular_calendar(fit.candidates))
    elif not fit.backtested:  # too short for a backtest: see `_untested`
        name = _untested(fit.candidates, len(fit.y), horizon, plain)
    else:
        return fit
    if name == fit.model:
        return fit
    prediction = _predict(name, fit.candidates, fit.y, fit.season_length, horizon, fit.members)
    standard = fit.backtests[name][1] if fit.backtested else fit.standard
    return replace(fit, model=name, prediction=prediction, standard=standard)


def pooled_widths(
    fits: Sequence[Fitted], levels: Sequence[int], horizon: int
) -> dict[int, PooledWidth] | None:
    """The panel's prior per level (`intervals.pooled_width_per_level`): quantiles of all
    series' standardised errors, each at its own error size and counting once however
    long its history, for the next period and, for later steps, the next period's mean
    error times the growth with the step read inside each cut-off (`intervals.step_shape`,
    which needs each error's cut-off, `Fitted.ages`).

    One quantile of the raw errors for every step and series covered the sample
    business's held-out months 86% / 98% at 80% / 95% (MSIS 3.64). With this, the
    calibration cut-offs of `_calibrated` and recency weights, the demo's draw of the
    sample is covered 89.4% / 97.7% (MSIS 3.50) and twelve draws 77.7% / 93.4% on average
    (MSIS 3.39; benchmarks/forecast.py, groups sample and sample_draws); with `_grown`
    (stop 54, quick mode) 89.8% / 97.3% (3.615) and 79.6% / 93.9% (3.414).
    """
    errors = [(f.standard, f.steps) for f in fits]
    weights = [recency(f.ages, horizon, f.season_length) for f in fits]
    return pooled_width_per_level(errors, levels, horizon, weights, [f.ages for f in fits])


@dataclass
class Fitted:
    """A series' chosen model, its forecast and backtest errors, before intervals."""

    series: RegularSeries
    model: str
    prediction: Prediction
    standard: np.ndarray  # backtest errors in model standard deviations
    backtested: bool
    season_length: int
    seasonality: str
    scores: dict[str, float]
    notes: list[str]
    candidates: dict[str, Candidate] = field(default_factory=dict, repr=False)
    backtests: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)
    y: np.ndarray = field(default_factory=lambda: np.array([]), repr=False)  # as fitted
    steps: np.ndarray = field(default_factory=lambda: np.array([], dtype=int), repr=False)
    origins: list[int] = field(default_factory=list, repr=False)  # the backtest's cut-offs
    members: dict[str, Prediction] = field(default_factory=dict, repr=False)  # full history
    switchable: bool = True  # whole horizon scored and `_may_switch` (see `_choose`)
    ages: np.ndarray | None = field(default=None, repr=False)  # cut-off to end, per error
    kept: Kept = field(default_factory=Kept, repr=False)  # calibration fits made ahead
    closed: np.ndarray | None = field(default=None, repr=False)  # periods of a closure
    reach: int = 0  # steps ahead any test of its panel scored (`_bounds`); its own if more
    ends_empty: str = ""  # `_empty_end_words`, one of `notes`: the summary says it too


def _check(horizon: int, levels: Sequence[int]) -> None:
    if horizon < 1:
        raise DataValidationError(f"horizon must be 1 or more, got {horizon}")
    for level in levels:
        if not 0 < level < 100:
            raise DataValidationError(f"levels must be between 0 and 100, got {level}")


def forecast_regular(
    series: RegularSeries,
    horizon: int,
    season_length: int | None = None,
    levels: Sequence[int] = (80, 95),
    extra: dict[str, Candidate] | None = None,
    tested_horizon: int | None = None,
) -> SeriesForecast:
    """Forecast a series already on a regular grid, calibrated on its own past only.

    `tested_horizon` fixes how far ahead the model and its ranges are chosen on, whatever
    the horizon shown: then two calls on one history that differ only in their horizon
    agree on every period both show (the worksheet FORECAST). By default, the horizon."""
    _check(horizon, levels)
    tested = tested_horizon or horizon
    reach = max(horizon, tested)
    fit = _beyond_history(_calibrated(fit_regular(series, reach, season_length, extra, tested),
                                      tested), horizon)  # fmt: skip
    result = _intervals(fit, reach, levels)
    if reach > horizon:
        result = replace(result, frame=result.frame.iloc[:horizon].copy())
    return result


def fit_regular(
    series: RegularSeries,
    horizon: int,
    season_length: int | None = None,
    extra: dict[str, Candidate] | None = None,
    tested_horizon: int | None = None,
    closed: set[pd.Period] | None = None,
) -> Fitted:
    """Choose the model on backtests of `tested_horizon` periods (by default the horizon)
    and forecast `horizon` periods, leaving the intervals for later (a panel sets them
    once every series' errors are known). `closed`: periods the panel found closed
    (`_panel_closures`)."""
    _check(horizon, ())
    tested = tested_horizon or horizon
    y_raw = series.y
    notes = list(series.notes)
    if series.left_out:
        shown = "; ".join(series.left_out[:3]) + (" ..." if len(series.left_out) > 3 else "")
        count = len(series.left_out)
        notes.append(f"{count} {'row' if count == 1 else 'rows'} could not be read and "
                     f"{'was' if count == 1 else 'were'} left out ({shown})")  # fmt: skip
    n = len(y_raw)
    m = _season_length(n, series.freq, season_length)
    zeros = float(np.mean(y_raw == 0))
    intermittent = zeros >= 0.3
    y = y_raw
    shut = np.zeros(n, dtype=bool)
    calendar = calendar_candidate(series.periods, series.freq, y_raw)
    # Where the calendar model is tried, a holiday is a season rather than a freak value:
    # pulled back, it would also be the yardstick the backtests score every model on. Its
    # regression weighs a lockdown down itself (`calendar._robust_fit`).
    if not intermittent and not calendar:
        known = series.periods.isin(list(closed)) if closed else None
        y, runs = fill_closures(y_raw, m, known)
        for start, end in runs:
            shut[start:end] = True
        if runs:
            notes.append(_closure_words(series, runs))
        y, flagged = damp_outliers(y, m)
        if len(flagged):
            shown = ", ".join(f"{series.periods[i]}: {y_raw[i]:,.0f}" for i in flagged[:3])
            notes.append(
                f"{len(flagged)} unusual value{'s' if len(flagged) > 1 else ''} ({shown}) "
                "pulled back to normal before fitting"
            )
    empty = empty_at_end(y_raw, m)
    ends_empty = _empty_end_words(series, empty) if empty else ""
    notes += [ends_empty] if ends_empty else []
    # what a person is told comes from the series the forecast is fitted on: with two empty
    # months in, an April closure read as "lowest in April (about 56% below)"
    _, seasonality = _season(y, series.periods, series.freq, season_length)
    if intermittent:
        notes.append(f"{zeros:.0%} of {series.word}s have no sales; occasional-demand models tried")
    candidates = _candidates(y, intermittent, m, bool(calendar)) | (extra or {})
    candidates |= calendar
    if n < 8:
        notes.append(f"only {n} {series.word}s of history: no trend or season can be learned yet")
    origins, steps = _origins(n, tested, m)
    # every cut-off's ETS and Theta in one pass each, the calibration's (`_calibrated`) too
    later = calibration_origins(n, m, origins, steps, _min_train(m)) if origins else []
    kept = prepare(y, m, [*origins, n], later=later)
    scale = _scale(y, m)
    switchable = bool(origins) and steps >= tested and _may_switch(m, intermittent, calendar)
    if origins:
        results, kept_errors = _hidden(_backtest(y, m, candidates, origins, steps), shut,
                                       origins, steps)  # fmt: skip
        scores = {name: float(np.mean(np.abs(err[kept_errors]))) / scale
                  for name, (err, _) in results.items()}  # fmt: skip
        scores = {name: score if np.isfinite(score) else np.inf for name, score in scores.items()}
        name = _choose(scores, None, switchable, _regular_calendar(candidates))
        standard = results[name][1]
    else:
        notes.append("too little history to test the forecast on its own past: intervals are rough")
        scores, name = {}, _untested(candidates, n, tested)
        standard = np.array([])
    members: dict[str, Prediction] = {}  # kept: a panel may choose another combination
    prediction = _predict(name, candidates, y, m, horizon, members)
    return Fitted(series, name, prediction, standard, bool(origins), m, seasonality, scores,
                  notes, candidates, results if origins else {}, y,
                  np.tile(np.arange(steps), len(origins)), origins, members, switchable,
                  kept=kept, closed=shut, ends_empty=ends_empty)  # fmt: skip


def _untested(
    candidates: dict[str, Candidate], n: int, horizon: int, plain: str | None = None
) -> str:
    """The model of a series too short for any backtest (`n` periods): the panel's
    combination (`plain`, chosen on the longer series' backtests) when its members can be
    fitted here, else `UNTESTED`. ETS alone stays where that evidence does not reach:
    under 8 periods (only it and the naive forecast are offered; cut to 7 years, the
    series below scored ETS 4.649 / 3.651 / 34.03 against the naive 4.606 / 3.608 /
    33.77 on M3, 2.240 / 1.827 / 18.77 against 2.185 / 1.798 / 18.13 on tourism), with
    occasional sales (Croston's method is offered and no such series was measured), and
    where the forecast reaches further ahead than the history goes back.

    Combinations hedge most where the history is thinnest. On the yearly series with
    exactly 8 periods and so no backtest (benchmarks/forecast.py with `--earlier 1`,
    stop 38; M3 6 years ahead, tourism 4), held-out MASE mean / median / sMAPE: M3 (152
    series) ETS alone 4.459 / 3.247 / 31.01, ets+theta 4.135 / 3.134 / 28.62,
    ets+theta+drift (that panel's choice) 3.980 / 2.984 / 27.55; tourism (70) 2.124 /
    1.989 / 18.43, 1.961 / 1.693 / 17.11 and 1.888 / 1.555 / 16.49. ETS alone was the
    worst candidate on tourism and the worst but the naive forecast on M3. But a line
    drawn through 8 months and run on for 24 is a guess: on the two such series of the
    fpp3 retail group Theta's line went below zero within two years (MASE 3.97 and 3.75,
    ETS alone 0.94 and 1.34), and ets+theta lost too.
    """
    if n >= horizon and "croston" not in candidates:
        offered = _combinations(candidates)
        for name in (plain, UNTESTED):
            if name in offered:
                return name
    return "ets" if "ets" in candidates else next(iter(candidates))


def _may_switch(m: int, intermittent: bool, calendar: dict[str, Candidate]) -> bool:
    """Whether a series may leave its combination for a candidate that was clearly better
    on its past (`_choose`): a series without a season, or with occasional sales or a
    calendar model, yes; any other seasonal series keeps the combination. "Season" is
    the season length the models use (`_season`): a monthly series of 26 months or more
    has one whether or not its pattern tested clear; a shorter one, or one given
    `season_length=1`, may switch.

    Held-out MASE mean / median / sMAPE with switching and without, on every series of
    the benchmark's seasonal groups without a calendar model: tourism monthly 1.405 /
    1.203 / 17.98 -> 1.393 / 1.198 / 17.82, tourism quarterly 1.483 / 1.195 / 14.14 ->
    1.467 / 1.187 / 14.09, M3 quarterly 1.059 / 0.766 / 8.98 -> 1.059 / 0.755 / 8.92,
    and on two textbook panels (benchmarks/forecast.py's fpp3 groups, whose results were
    seen before this rule was chosen), Australian retail 1.253 / 1.074 / 6.79 -> 1.246 /
    1.052 / 6.75 and regional tourism 0.969 / 0.938 / 42.46 -> 0.969 / 0.938 / 42.37.
    The winners were mostly the seasonal naive and drift, lucky on four overlapping
    cut-offs, and the check on the newest cut-off (`_switching_helps`) did not see it
    (t 1.52, 0.59, 1.43, -0.90, -0.40). Without a season it is mixed and stays (M3
    yearly 2.628 / 1.753 / 15.98 with, 2.597 / 1.778 / 16.05 without; M3 other 1.767 /
    1.471 / 4.32 and 1.776 / 1.441 / 4.30), as it does where a series can leave for a
    model made for it: Croston's for occasional sales, or the calendar model's daily and
    weekly series (20 Auckland footfall sensors: 1.029 / 15.14 with, 1.060 / 15.70
    without).
    """
    return m <= 1 or intermittent or bool(calendar)


def _calibrated(fit: Fitted, horizon: int) -> Fitted:
    """The chosen model's errors at the cut-offs kept for the intervals
    (`intervals.calibration_origins`) added to its backtest errors. Not for a boosted
    model, which would train new panel-wide models at every extra cut-off."""
    if not fit.backtested or "lightgbm" in fit.model:
        return fit
    n, m = len(fit.y), fit.season_length
    tested = int(fit.steps.max()) + 1 if len(fit.steps) else 0
    standard, steps = [fit.standard], [fit.steps]
    ages = [np.repeat([n - origin for origin in fit.origins], tested)]  # `_backtest`'s order
    cutoffs = calibration_origins(n, m, fit.origins, tested, _min_train(m))
    restore(fit.kept)  # fitted beside the backtest's cut-offs (`fit_regular`)
    prepare(fit.y, m, cutoffs, fit.model)  # those still missing in one pass, as above
    for origin in cutoffs:
        ahead = min(horizon, n - origin)
        prediction = _predict(fit.model, fit.candidates, fit.y[:origin], m, ahead)
        sd = prediction.sd[:ahead]
        error = fit.y[origin : origin + ahead] - prediction.mean[:ahead]
        if fit.closed is not None:  # a closure's filled periods set no range
            error = np.where(fit.closed[origin : origin + ahead], np.nan, error)
        standard.append(_standardised(error, sd, fit.y))
        steps.append(np.arange(ahead))
        ages.append(np.full(ahead, n - origin))
    return replace(fit, standard=np.concatenate(standard), steps=np.concatenate(steps),
                   ages=np.concatenate(ages), kept=Kept())  # fmt: skip


def _without_boosting(fit: Fitted, horizon: int) -> Fitted:
    """The same series chosen again as if the panel had no boosted model."""
    scores = {k: v for k, v in fit.scores.items() if "lightgbm" not in k}
    if len(scores) == len(fit.scores) or not scores:
        return fit
    # the default changes too, so every series is chosen again
    name = _choose(scores, None, fit.switchable, _regular_calendar(fit.candidates))
    if name == fit.model:
        return fit
    prediction = _predict(name, fit.candidates, fit.y, fit.season_length, horizon, fit.members)
    return replace(fit, model=name, prediction=prediction, standard=fit.backtests[name][1])


def _boosting_helps(fits: Sequence[Fitted]) -> bool:
    """Whether adding the boosted model improved the panel's backtests on average.

    Per series the combination is kept unless a single model is clearly better, so the
    panel as a whole decides whether boosted trees join it. Held-out MASE on M3: they
    helped the monthly series (0.697 -> 0.663) and hurt the quarterly ones (1.380 ->
    1.408), and the backtests chose the same. On the sample business's series they hurt
    held-out MASE (0.610 -> 0.662) but the backtests chose them: with 28 months of
    history the backtests are short and this test is noisy.
    """
    pairs = [
        (f.scores[BOOSTED], f.scores["ets+theta"])
        for f in fits
        if BOOSTED in f.scores
        and "ets+theta" in f.scores
        and np.isfinite(f.scores[BOOSTED])
        and np.isfinite(f.scores["ets+theta"])
    ]
    return bool(pairs) and float(np.mean([a - b for a, b in pairs])) < 0


def _bounds(
    fit: Fitted, horizon: int, levels: Sequence[int], prior: dict[int, PooledWidth] | None = None
) -> dict[str, np.ndarray]:
    """The forecast `yhat` and its `lo`/`hi` per level, as arrays over the horizon."""
    prediction = fit.prediction
    never_negative = bool(fit.series.y.min() >= 0)
    columns = {"yhat": prediction.mean}
    weight = recency(fit.ages, horizon, fit.season_length)
    for level in levels:
        multiple = width(fit.standard, level, horizon, prior.get(level) if prior else None, weight)
        half = multiple * prediction.sd * (1.0 if fit.backtested else 1.5)
        half = _grown(half, max(fit.reach, int(fit.steps.max()) + 1 if len(fit.steps) else 0))
        lo = prediction.mean - half
        columns[f"lo{level}"] = np.maximum(lo, 0.0) if never_negative else lo
        # Where a falling trend takes the mean below zero, the forecast shown is zero and
        # the range reaches its width above it (mean + half was below zero, under the
        # forecast it should contain).
        centre = np.maximum(prediction.mean, 0.0) if never_negative else prediction.mean
        columns[f"hi{level}"] = centre + half
    if never_negative:
        columns["yhat"] = np.maximum(prediction.mean, 0.0)
    return columns


def _beyond_history(fit: Fitted, horizon: int) -> Fitted:
    """The note of a forecast further ahead than its history goes back: 24 quarters from
    11 were shown with the same words as a year ahead from five years."""
    n, word = len(fit.series.y), fit.series.word
    if horizon <= n:
        return fit
    note = (f"the forecast reaches {horizon} {word}s ahead from {n} {word}"
            f"{'s' if n > 1 else ''} of history: a horizon longer than the history is not "
            f"backed by the data, so treat its later {word}s as a rough guess")  # fmt: skip
    return replace(fit, notes=[*fit.notes, note])


def _grown(half: np.ndarray, reach: int) -> np.ndarray:
    """Half-widths past the `reach` steps any test scored, no narrower than the last tested
    one's grown as a random walk's, by the square root of the steps over `reach` (from the
    next period's when nothing was tested): the model's own spread growth where that is
    wider. Nothing measured how far off a forecast is there, and a model's spread can hold
    still (ETS on a calm series) or shrink (Theta): 24 quarters forecast from 11, tested
    one quarter ahead, had 80% ranges of +-8% in every quarter to the sixth year, a third
    of the worksheet FORECAST's on the same history (find54_forecast item 4)."""
    reach = max(reach, 1)
    if len(half) <= reach:
        return half
    steps = np.arange(1, len(half) + 1)
    floor = half[reach - 1] * np.sqrt(steps / reach)
    return np.where(steps > reach, np.maximum(half, floor), half)


def _intervals(
    fit: Fitted, horizon: int, levels: Sequence[int], prior: dict[int, PooledWidth] | None = None
) -> SeriesForecast:
    series = fit.series
    columns: dict[str, Any] = {"ds": series.dates(series.future(horizon))}
    columns |= _bounds(fit, horizon, levels, prior)
    columns["model"] = fit.model
    frame = pd.DataFrame(columns)
    history = pd.DataFrame({"ds": series.dates(series.periods), "y": series.y})
    return SeriesForecast(frame, fit.model, series.freq, fit.season_length, fit.seasonality,
                          fit.scores, fit.notes, history, fit.ends_empty)  # fmt: skip


def forecast_series(
    dates: Any,
    values: Any,
    horizon: int,
    season_length: int | None = None,
    levels: Sequence[int] = (80, 95),
    gaps: Literal["interpolate", "zero"] = "interpolate",
) -> pd.DataFrame:
    """Forecast one series: `ds, yhat, lo80, hi80, lo95, hi95, model`.

    The frame's `attrs` say what was found and done: frequency, seasonality, the
    backtest score of each candidate, rows left out and any other notes.
    """
    series = regularise(dates, values, gaps=gaps)
    result = forecast_regular(series, horizon, season_length, levels)
    frame = result.frame
    frame.attrs.update(
        frequency=FREQUENCIES[result.freq][0],
        season_length=result.season_length,
        seasonality=result.seasonality,
        backtest=result.backtest,
        notes=result.notes,
        rows_left_out=series.left_out,
        model_words=MODEL_WORDS.get(result.model, result.model),
    )
    return frame


def _panel_fits(
    frame: pd.DataFrame,
    horizon: int,
    season_length: int | None,
    levels: Sequence[int],
    gaps: Literal["interpolate", "zero"],
    boosted: bool | None,
    random_state: int,
) -> tuple[dict[str, Fitted], dict[int, PooledWidth] | None, dict[str, str]]:
    """Each series' chosen and calibrated fit, the panel's prior for the intervals, and
    the series that could not be forecast."""
    _check(horizon, levels)
    missing = {"unique_id", "ds", "y"} - set(frame.columns)
    if missing:
        raise DataValidationError(
            f"the panel needs columns unique_id, ds, y; missing {', '.join(sorted(missing))}"
        )
    regular, skipped = regularise_panel(frame, gaps)
    extras: dict[str, dict[str, Candidate]] = {}
    if boosted or (boosted is None and len(regular) >= GBM_MIN_SERIES):
        extras = boosted_candidates(regular, horizon, random_state=random_state)
    closed = _panel_closures(regular, season_length)
    fits = {
        uid: fit_regular(series, horizon, season_length, extras.get(uid), closed=closed)
        for uid, series in regular.items()
    }
    boosting = bool(extras) and (bool(boosted) or _boosting_helps(list(fits.values())))
    if extras and not boosting:
        fits = {uid: _without_boosting(fit, horizon) for uid, fit in fits.items()}
    plain = None if boosting else _panel_combination(list(fits.values()))
    if plain is not None:
        switch = _switching_helps(list(fits.values()), plain)
        fits = {uid: _rechoose(fit, horizon, plain, switch) for uid, fit in fits.items()}
    fits = {uid: _calibrated(fit, horizon) for uid, fit in fits.items()}
    prior = pooled_widths(list(fits.values()), levels, horizon)
    reached = max((int(f.steps.max()) + 1 for f in fits.values() if len(f.steps)), default=0)
    fits = {uid: _beyond_history(replace(fit, reach=reached), horizon) for uid, fit in fits.items()}
    if prior is not None and 0 < reached < horizon:
        fits = {uid: _reach_noted(fit, reached, horizon) for uid, fit in fits.items()}
    return fits, prior, skipped


def _panel_closures(
    regular: Mapping[str, RegularSeries], season_length: int | None
) -> set[pd.Period]:
    """Periods a series of the panel calls a closure (`fill_closures`) in which no series
    of the panel sold anything: the shop was shut, so every product's empty months there
    are that closure too, though a slow product's own zeros are too few to prove it (a
    Gift Box selling €300 to €1,000 a month kept an "April low")."""
    called: set[pd.Period] = set()
    for series in regular.values():
        if float(np.mean(series.y == 0)) >= 0.3:  # occasional sales: Croston's, no closure
            continue
        _, runs = fill_closures(series.y, _season_length(len(series.y), series.freq,
                                                         season_length))  # fmt: skip
        called |= {series.periods[i] for start, end in runs for i in range(start, end)}
    for series in regular.values():
        if called:
            called -= set(series.periods[(series.y != 0) & series.periods.isin(list(called))])
    return called


def _reach_noted(fit: Fitted, reached: int, horizon: int) -> Fitted:
    """The forecast's note when it reaches further ahead than any test on the panel's past
    (`reached` periods): those periods keep the general later-step width
    (`intervals.step_shape` has seen no error there), so the ranges can step up where the
    tested ones end, and grow at least as a random walk's (`_grown`), and a person
    looking at the chart is told why. Only in a panel with pooled widths (five series
    with errors or more); a series alone has one multiple for every later step, grown
    past its tests the same way."""
    word = fit.series.word
    later = f"{word} {horizon}" if reached + 1 == horizon else f"{word}s {reached + 1} to {horizon}"
    ahead = f"{reached} {word}{'s' if reached > 1 else ''}"
    note = (f"tests on past data reached {ahead} ahead; {later} go further than any test, so "
            "their ranges rest on the general pattern of errors and widen with the distance "
            "(at least as a random walk's do)")  # fmt: skip
    return replace(fit, notes=[*fit.notes, note])


def forecast_panel_results(
    frame: pd.DataFrame,
    horizon: int,
    season_length: int | None = None,
    levels: Sequence[int] = (80, 95),
    gaps: Literal["interpolate", "zero"] = "zero",
    boosted: bool | None = False,
    random_state: int = 0,
) -> tuple[dict[str, SeriesForecast], dict[str, str]]:
    """Each series' forecast with its story, and the series that could not be forecast.

    Intervals are calibrated on each series' own backtests shrunk towards those of the
    whole panel (`pooled_widths`), when it has enough series.
    """
    fits, prior, skipped = _panel_fits(
        frame, horizon, season_length, levels, gaps, boosted, random_state
    )
    return {uid: _intervals(fit, horizon, levels, prior) for uid, fit in fits.items()}, skipped


def _future_dates(fits: Sequence[Fitted], horizon: int) -> np.ndarray:
    """Every series' forecast dates, one after another (`RegularSeries.dates` of its
    `future`), converted together for the series that share a frequency and a style."""
    out = np.empty(len(fits) * horizon, dtype="datetime64[ns]")
    kinds: dict[tuple[str, bool], list[int]] = {}
    for i, fit in enumerate(fits):
        kinds.setdefault((fit.series.periods.freqstr, fit.series.at_period_end), []).append(i)
    steps = np.arange(1, horizon + 1)
    for (freq, at_end), chosen in kinds.items():
        last = np.array([fits[i].series.periods.asi8[-1] for i in chosen])
        # Past pandas' last date the conversion below wraps round to 1678 without a word.
        limit = pd.Period(pd.Timestamp.max, freq=freq).ordinal - (1 if at_end else 0)
        if last.max() + horizon > limit:
            raise DataValidationError(
                f"a forecast {horizon} periods ahead reaches past "
                f"{pd.Timestamp.max:%Y-%m-%d}, the last date a forecast can give; "
                f"from this data at most {max(limit - int(last.max()), 0):,} periods ahead"
            )
        future = pd.PeriodIndex.from_ordinals((last[:, None] + steps).ravel(), freq=freq)
        places = (np.array(chosen)[:, None] * horizon + steps - 1).ravel()
        out[places] = fits[chosen[0]].series.dates(future).to_numpy()
    return out


def forecast_panel(
    frame: pd.DataFrame,
    horizon: int,
    season_length: int | None = None,
    levels: Sequence[int] = (80, 95),
    gaps: Literal["interpolate", "zero"] = "zero",
    boosted: bool | None = False,
    random_state: int = 0,
) -> pd.DataFrame:
    """Forecast every series of a long frame `unique_id, ds, y`.

    A LightGBM model over lags and calendar features, trained on all the series, joins the
    candidates when `boosted` is True, or (None) when there are 10 or more series and it
    improved their backtests on average. It is off by default: on the M3, tourism and
    Chicago subsets of benchmarks/forecast.py the backtests kept it out or it hurt held-out
    MASE (the sample business: 0.615 without, 0.668 with), and it took 3 to 5 times as
    long as everything else together. A series that cannot be forecast is listed in
    `attrs["skipped"]` with the reason; the rest go on.

    The same rows as `forecast_panel_results`' frames one after another, built as whole
    columns rather than two frames per series (a tenth of a short yearly panel's time went
    on those frames).
    """
    fits, prior, skipped = _panel_fits(
        frame, horizon, season_length, levels, gaps, boosted, random_state
    )
    if not fits:
        out = pd.DataFrame()
        out.attrs["skipped"] = skipped
        return out
    chosen = list(fits.values())
    bounds = [_bounds(fit, horizon, levels, prior) for fit in chosen]
    columns: dict[str, Any] = {
        "unique_id": np.repeat(np.array(list(fits), dtype=object), horizon),
        "ds": _future_dates(chosen, horizon),
    }
    for name in bounds[0]:
        columns[name] = np.concatenate([b[name] for b in bounds])
    columns["model"] = np.repeat(np.array([fit.model for fit in chosen], dtype=object), horizon)
    columns["season_length"] = np.repeat([fit.season_length for fit in chosen], horizon)
    columns["note"] = np.repeat(np.array(["; ".join(fit.notes) for fit in chosen],
                                         dtype=object), horizon)  # fmt: skip
    out = pd.DataFrame(columns)
    out.attrs["skipped"] = skipped
    return out
