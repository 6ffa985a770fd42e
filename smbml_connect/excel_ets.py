"""Excel's FORECAST.ETS conventions, for SMB.FORECAST.ETS and its .CONFINT and .SEASONALITY.

Excel documents the contract, not the code: the AAA form of exponential smoothing
(additive error, trend and season); a numeric timeline with a constant step that need
not be sorted, up to 30% of its points missing and filled in (by interpolation, or as
zeros), duplicate points aggregated with codes 1-7 (AVERAGE, COUNT, COUNTA, MAX,
MEDIAN, MIN, SUM); seasonality 1 = find it, 0 = none, n = n points per season (up to
8,760); a target before the end of the timeline is #NUM!. This module keeps that
contract, but answers #VALUE! where Excel answers #NUM! (Office.js drops a #NUM!'s
message, and the message says what to change); the smoothing parameters are fitted by least
squares on one-step errors, so numbers agree with Excel's closely, not digit for digit.
A timeline of dates on the same day of each month, or on the last day of each month,
steps by calendar months.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import fft, optimize, stats

from smbml_connect.call_limits import check
from smbml_connect.cell_values import CellError, blank
from smbml_connect.errors import DataValidationError

__all__ = [
    "AGGREGATIONS",
    "EtsModel",
    "Timeline",
    "fit_aaa",
    "prepare",
    "season_length",
    "steps_ahead",
]

MAX_SEASON = 8760  # Excel's limit: the hours of a year
# The season search reads the last this many points: four of the longest season.
SEASON_SEARCH_POINTS = 4 * MAX_SEASON
# The AIC check fits both models on the last 8 seasons, or this many points if more: at
# 40,000 points its two fits over the searched 35,040 took about 10 s (rv55b).
SEASON_CHECK_POINTS = 2_000
# A peak's band is its lag's own (2 sqrt(n - k) / n) from this many pairs (two years of
# months), the flat 2 / sqrt(n) under it.
MIN_PAIRS = 12
MAX_MISSING_SHARE = 0.30
EXCEL_EPOCH_ORDINAL = 693594  # date(1899, 12, 30).toordinal(): serial 0
LAST_EXCEL_SERIAL = 2958465  # 9999-12-31, the last date Excel can show

AGGREGATIONS: dict[int, tuple[str, Callable[[list[Any]], float]]] = {
    1: ("AVERAGE", lambda v: float(np.mean(_numbers(v)))),
    2: ("COUNT", lambda v: float(len(_numbers(v)))),
    3: ("COUNTA", lambda v: float(sum(not blank(x) for x in v))),
    4: ("MAX", lambda v: float(np.max(_numbers(v)))),
    5: ("MEDIAN", lambda v: float(np.median(_numbers(v)))),
    6: ("MIN", lambda v: float(np.min(_numbers(v)))),
    7: ("SUM", lambda v: float(np.sum(_numbers(v)))),
}


def _numbers(values: list[Any]) -> list[float]:
    return [float(v) for v in values if _is_number(v)]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool
    ) and math.isfinite(float(value))  # fmt: skip


def serial(value: Any, name: str, row: int | None = None) -> float:
    """A timeline point or target date as Excel's serial number."""
    where = f" (row {row})" if row is not None else ""
    if isinstance(value, dt.datetime):
        delta = value.replace(tzinfo=None) - dt.datetime(1899, 12, 30)
        return delta / dt.timedelta(days=1)
    if isinstance(value, dt.date):
        return float(value.toordinal() - EXCEL_EPOCH_ORDINAL)
    if _is_number(value):
        number = float(value)
        if number < 0:
            raise DataValidationError(
                f"{name}: {number:g}{where} cannot be a date or a point in time"
            )
        return number
    raise CellError(
        f"{name}: {_shown(value)}{where} is not a date or a number; a timeline holds dates "
        "or numbers with a constant step (FORECAST.ETS takes target_date, values, timeline)",
        "#VALUE!",
    )


def _shown(value: Any) -> str:
    """A cell as the user typed it, for a message."""
    if isinstance(value, bool):
        return "TRUE/FALSE"
    if isinstance(value, dt.date):
        return f"{value:%Y-%m-%d}"
    return repr(value)


@dataclass(frozen=True)
class Timeline:
    """The regular series after sorting, aggregating and filling in."""

    y: np.ndarray
    start: float  # serial of the first point
    step: float  # in days, or in months when `months`
    months: bool
    filled: int  # points that were missing and filled in
    notes: tuple[str, ...]
    month_ends: bool = False  # months: every point is its month's last day

    @property
    def end(self) -> float:
        return self.position(len(self.y) - 1)

    def position(self, index: float) -> float:
        """Serial of the point `index` steps from the start (months counted in months)."""
        if not self.months:
            return self.start + index * self.step
        return self._anchor(self._first_month + int(index * self.step))

    @property
    def _first_month(self) -> int:
        first = dt.date.fromordinal(int(self.start) + EXCEL_EPOCH_ORDINAL)
        return first.year * 12 + first.month - 1

    def _anchor(self, month: int) -> float:
        """Serial of the timeline's day in `month` (months since year 0): the month's
        last day on a month-end timeline, else the first point's day (or the month's
        last day when it is shorter, as Jan 31 steps to Feb 28)."""
        year, month0 = divmod(month, 12)
        shift = 400 if year > dt.MAXYEAR else 0  # the month after 9999-12: 400 years repeat
        days = _month_days(year - shift, month0 + 1)
        day = days if self.month_ends else min(self._day, days)
        ordinal = dt.date(year - shift, month0 + 1, day).toordinal() + shift // 400 * 146097
        return float(ordinal - EXCEL_EPOCH_ORDINAL)

    @property
    def _day(self) -> int:
        return dt.date.fromordinal(int(self.start) + EXCEL_EPOCH_ORDINAL).day

    def steps_from_start(self, when: float) -> float:
        """Where a serial lies on a month timeline, in steps from its first point: exact
        on each point, in proportion to the days between two points."""
        day = dt.date.fromordinal(math.floor(when) + EXCEL_EPOCH_ORDINAL)
        months = day.year * 12 + day.month - 1 - self._first_month
        k = math.floor(months / self.step)
        if when < self.position(k):
            k -= 1
        here, after = self.position(k), self.position(k + 1)
        return k + (when - here) / (after - here)


def _month_days(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _month_index(serials: np.ndarray) -> tuple[np.ndarray, bool] | None:
    """Months since year 0 when every point is a whole date on one day of the month
    (or every one the month's last day, then True); None otherwise."""
    if not np.all(serials == np.floor(serials)):
        return None
    days = [dt.date.fromordinal(int(s) + EXCEL_EPOCH_ORDINAL) for s in serials]
    same_day = len({d.day for d in days}) == 1
    month_ends = all(d.day == _month_days(d.year, d.month) for d in days)
    if not (same_day or month_ends) or len({(d.year, d.month) for d in days}) < 2:
        return None
    return np.array([d.year * 12 + d.month - 1 for d in days], dtype=float), month_ends


def _constant_step(points: np.ndarray) -> float | None:
    """The timeline's step: its smallest gap, when every gap is a whole multiple of it."""
    gaps = np.diff(points)
    if len(gaps) == 0 or gaps.min() <= 0:
        return None
    step = float(gaps.min())
    ratio = gaps / step
    return step if np.allclose(ratio, np.round(ratio), rtol=0, atol=1e-6) else None


def prepare(
    values: Sequence[Any], timeline: Sequence[Any], completion: Any, aggregation: Any
) -> Timeline:
    """Sort, aggregate duplicates and fill in the missing points, as Excel does."""
    if len(values) != len(timeline):
        raise CellError(
            f"values and timeline differ in size ({len(values)} and {len(timeline)} cells)", "#N/A"
        )
    code = _whole(aggregation, "aggregation", 1)
    if code == 0:
        code = 1  # Excel's page calls AVERAGE both 0 and 1
    if code not in AGGREGATIONS:
        raise DataValidationError(f"aggregation must be a whole number from 1 to 7, got {code}")
    zeros = _completion(completion)
    points: dict[float, list[Any]] = {}
    for row, (value, when) in enumerate(zip(values, timeline, strict=True), start=1):
        if blank(when):
            if not blank(value):
                raise CellError(f"timeline: row {row} is blank but values has {value!r}", "#VALUE!")
            continue
        if not blank(value) and not _is_number(value):
            raise CellError(f"values: {_shown(value)} (row {row}) is not a number", "#VALUE!")
        points.setdefault(serial(when, "timeline", row), []).append(value)
    if len(points) < 3:
        raise DataValidationError(f"timeline: need at least 3 distinct points, got {len(points)}")
    order = np.array(sorted(points))
    monthly = _month_index(order)
    axis = monthly[0] if monthly is not None else order
    step = _constant_step(axis)
    length = round((axis[-1] - axis[0]) / step) + 1 if step else 0
    if step is None or length > 2 * len(order):  # over half missing: not a step at all
        gaps = np.diff(order)
        raise DataValidationError(
            f"timeline: no constant step between its points (gaps from {gaps.min():g} to "
            f"{gaps.max():g}); is it the values? FORECAST.ETS takes (target_date, values, "
            "timeline)"
        )
    name, aggregate = AGGREGATIONS[code]
    merged = [len(points[p]) for p in order if len(points[p]) > 1]
    observed = np.array([_aggregate(aggregate, points[p]) for p in order])
    index = np.round((axis - axis[0]) / step).astype(int)
    missing = length - len(index) + int(np.isnan(observed).sum())
    if missing / length > MAX_MISSING_SHARE:
        raise DataValidationError(
            f"timeline: {missing} of {length} points are missing, more than the 30% "
            "that can be filled in"
        )
    y = np.full(length, np.nan)
    y[index] = observed
    gaps = np.isnan(y)
    if gaps.any():
        known = np.flatnonzero(~gaps)
        y[gaps] = 0.0 if zeros else np.interp(np.flatnonzero(gaps), known, y[known])
    notes = []
    if merged:
        notes.append(f"{sum(merged)} values on {len(merged)} repeated dates combined by {name}")
    if missing:
        how = "as zero" if zeros else "from their neighbours"
        notes.append(f"{missing} missing points of {length} filled in {how}")
    month_ends = monthly is not None and monthly[1]
    return Timeline(
        y, float(order[0]), step, monthly is not None, missing, tuple(notes), month_ends
    )


def _aggregate(aggregate: Callable[[list[Any]], float], values: list[Any]) -> float:
    if not _numbers(values) and aggregate is not AGGREGATIONS[3][1]:
        return math.nan if aggregate is not AGGREGATIONS[2][1] else 0.0
    return aggregate(values)


def _whole(value: Any, name: str, default: int) -> int:
    if blank(value):
        return default
    if isinstance(value, bool) or not _is_number(value) or float(value) != int(value):
        raise DataValidationError(f"{name} must be a whole number, got {value!r}")
    return int(value)


def _completion(value: Any) -> bool:
    """True when missing points count as zeros (data_completion 0 or FALSE)."""
    if blank(value):
        return False
    if isinstance(value, bool):
        return not value
    if _is_number(value) and float(value) in (0.0, 1.0):
        return float(value) == 0.0
    raise DataValidationError(f"data_completion must be 1 or 0 (TRUE or FALSE), got {value!r}")


def season_length(y: np.ndarray) -> int:
    """The season Excel's seasonality 1 stands for, 0 when there is none: the strongest
    peak of the detrended series' autocorrelation above the white-noise band at its lag,
    kept when the seasonal model earns its extra terms (`_season_pays`), and shortened to
    a divisor whose own peak explains it (a daily cycle in hourly data peaks at 48 too).

    Only the last `SEASON_SEARCH_POINTS` points are searched (four of the longest season
    Excel allows), and the autocorrelation comes from an FFT, so a history of a million
    points costs a fraction of a second (the direct correlation of every lag took 147 s
    at 100,000 points). Figures in ARCHITECTURE "Excel worksheet functions"."""
    recent = np.asarray(y, dtype=float)[-SEASON_SEARCH_POINTS:]
    n = len(recent)
    if n < 6:
        return 0
    t = np.arange(n)
    detrended = recent - np.polyval(np.polyfit(t, recent, 1), t)
    if np.allclose(detrended, 0):
        return 0
    peaks = _peaks(detrended)
    if not peaks:
        return 0
    best = max(peaks, key=lambda lag: peaks[lag])
    window = recent[-max(8 * best, SEASON_CHECK_POINTS) :]
    if not _season_pays(window, best, strict=peaks[best] <= 2 / math.sqrt(n)):
        return 0
    return _shortest_explaining(window, best, peaks, n)


def _peaks(detrended: np.ndarray) -> dict[int, float]:
    """The autocorrelation's local peaks (lags 2 to n/2) above the white-noise band at
    their lag, 2 sqrt(n - k) / n: at lag k only n - k pairs are multiplied, so a real
    season's peak there is shrunk by (n - k)/n, and so is noise's spread. The flat band
    2/sqrt(n) asked twice as much at lag n/2: two seasons of a clean pattern never
    passed it (24 months of a trend and a season gave no season, rv55b). Under
    `MIN_PAIRS` pairs the flat band stays: 8 pairs correlate well by chance (with the
    lag's band, 600 noise series of 12 and 16 points found 10 seasons, 2 before)."""
    n = len(detrended)
    last = min(n // 2, MAX_SEASON)
    acf = _autocorrelation(detrended, last + 1)
    lags = np.arange(2, last + 1)
    here = acf[2 : last + 1]
    peak = (here > acf[1:last]) & (here >= acf[3 : last + 2])
    flat = np.full(len(lags), 2 / math.sqrt(n))
    band = np.where(n - lags >= MIN_PAIRS, 2 * np.sqrt(n - lags) / n, flat)
    passing = peak & (here > band)
    return {int(lag): float(acf[lag]) for lag in lags[passing]}


def _shortest_explaining(
    window: np.ndarray, lag: int, peaks: dict[int, float], searched: int
) -> int:
    """The shortest divisor of ``lag`` that explains its peak: a cycle of d repeats at 2d,
    3d, ..., and a chance can make a multiple the strongest (hourly takings with a daily
    cycle and a busy Saturday: 48, not 24). A divisor is taken when its autocorrelation,
    scaled up for the pairs its lag loses, is within two standard errors of the
    multiple's (``searched``: the points the autocorrelation read), and its model scores
    no worse on Akaike's criterion over ``window``: a part of the
    season (a quarter of a year that looks alike) leaves the rest of the pattern out
    and scores worse, and a weekly pattern over a daily one keeps 168."""
    n = searched
    strength = {k: r * n / (n - k) for k, r in peaks.items()}
    margin = 2 / math.sqrt(n - lag)
    close = sorted(
        d for d in strength if d < lag and lag % d == 0 and strength[d] >= strength[lag] - margin
    )
    if not close:
        return lag
    per_term = 2.0
    score = _criterion(window, lag, per_term)
    for d in close:
        if _criterion(window, d, per_term) <= score:
            return d
    return lag


def _criterion(y: np.ndarray, m: int, per_term: float) -> float:
    """n log of the one-step error variance plus ``per_term`` for each term of the season."""
    sigma = fit_aaa(y, m).sigma
    return len(y) * math.log(max(sigma, 1e-150) ** 2) + per_term * m


def _season_pays(y: np.ndarray, m: int, strict: bool = False) -> bool:
    """Whether ETS(A,A,A) with season ``m`` beats ETS(A,A,N) on Akaike's criterion (or,
    when ``strict``, Schwarz's): its one-step errors must shrink enough to pay for the
    smoothing weight and the m - 1 starting terms of the season. A chance peak of the
    autocorrelation (noise, a level that wanders) seldom does; a real season does.

    Strict is for a peak that clears only its lag's own band, not the flat 2/sqrt(n) (a
    lag near half the series, as two seasons of data have): the starting season is then
    read off half the data or more, and a chance pattern there fits itself. Schwarz's
    for every season under four seasons of data missed real ones (two days of hourly
    takings with a daily cycle: 0 of 20 found where Akaike's found 17). Figures in
    ARCHITECTURE "Excel worksheet functions"."""
    n = len(y)
    seasonal, plain = fit_aaa(y, m), fit_aaa(y, 1)
    if plain.sigma <= 0:
        return False
    if seasonal.sigma <= 0:
        return True
    per_term = math.log(n) if strict else 2.0
    return n * math.log(seasonal.sigma**2 / plain.sigma**2) + per_term * m < 0


def _autocorrelation(x: np.ndarray, lags: int) -> np.ndarray:
    """The sample autocorrelation at lags 0 .. lags (and one more) by FFT: n log n."""
    centred = x - x.mean()
    size = fft.next_fast_len(2 * len(x) - 1)
    spectrum = fft.rfft(centred, size)
    full = fft.irfft(spectrum * np.conj(spectrum), size)[: min(lags + 1, len(x))]
    return np.asarray(full / full[0])


def chosen_season(y: np.ndarray, seasonality: Any) -> int:
    m = _whole(seasonality, "seasonality", 1)
    if m < 0 or m > MAX_SEASON:
        raise DataValidationError(f"seasonality must be from 0 to {MAX_SEASON}, got {m}")
    if m == 1:
        return season_length(y)
    if m > len(y) // 2:
        raise DataValidationError(
            f"seasonality {m} needs at least two seasons ({2 * m} points), got {len(y)}"
        )
    return m


@dataclass(frozen=True)
class EtsModel:
    """ETS(A,A,A) in error-correction form (Hyndman et al. 2008, table 2.2)."""

    alpha: float
    beta: float
    gamma: float
    level: float
    trend: float
    season: np.ndarray  # the last m seasonal terms, oldest first
    sigma: float  # root mean squared one-step error
    m: int

    def forecast(self, h: float) -> float:
        """The forecast h steps after the last point; between steps, the straight line."""
        low, high = math.floor(h), math.ceil(h)
        if low == high:
            return self._at(low)
        return self._at(low) + (h - low) * (self._at(high) - self._at(low))

    def _at(self, h: int) -> float:
        season = self.season[(h - 1) % self.m] if self.m > 1 else 0.0
        return self.level + h * self.trend + season

    def half_width(self, h: float, confidence: float) -> float:
        """Half the range h steps ahead: the one-step error's spread grown by the sum of
        c_j**2, c_j = alpha + beta*j (+ gamma when j is a whole number of seasons), for
        j = 1 .. steps - 1; summed in closed form, so a far target costs no more than a
        near one (an array of the j was gigabytes for a target 1e9 steps ahead)."""
        steps = max(1, math.ceil(h))
        variance = self.sigma**2 * (1 + _sum_of_squares(self, steps - 1))
        half = float(stats.norm.ppf(0.5 + confidence / 2) * math.sqrt(variance))
        if not math.isfinite(half):
            raise DataValidationError(
                f"the target is {h:.4g} steps after the end of the timeline: too far for a "
                "range (its width is larger than a number can hold)"
            )
        return half


def _sum_of_squares(model: EtsModel, n: int) -> float:
    """Sum over j = 1..n of (alpha + beta*j + gamma*[j divisible by m])**2."""
    a, b, g = model.alpha, model.beta, model.gamma
    k = float(n)  # a Python int this large would overflow the divisions below
    s1, s2 = k * (k + 1) / 2, k * (k + 1) * (2 * k + 1) / 6
    total = a * a * k + 2 * a * b * s1 + b * b * s2
    if model.m > 1:
        q = float(n // model.m)  # the j that are whole seasons: m, 2m, ... qm
        total += q * (2 * g * a + g * g) + 2 * g * b * model.m * q * (q + 1) / 2
    return float(total)


def _initial(y: np.ndarray, m: int) -> tuple[float, float, np.ndarray]:
    """States before the first point (classical decomposition of the first two seasons),
    so that a noiseless line plus season is reproduced from its first point on."""
    if m > 1:
        first, second = y[:m].mean(), y[m : 2 * m].mean()
        trend = (second - first) / m
        level = first - trend * ((m - 1) / 2 + 1)
        season = y[:m] - (level + trend * np.arange(1, m + 1))
        return float(level), float(trend), season - season.mean()
    # Without a season: the line through the first ten points (Hyndman et al. 2008,
    # section 2.6.1). From the first two points alone, their difference was a trend that a
    # small beta kept for good: on M3's monthly series FORECAST.ETS's mean MASE fell from
    # 1.15 to 0.94 with it (ARCHITECTURE "Excel worksheet functions").
    k = min(len(y), 10)
    slope, intercept = np.polyfit(np.arange(1, k + 1), y[:k], 1)
    return float(intercept), float(slope), np.zeros(1)


def _run(y: np.ndarray, m: int, a: float, b: float, g: float) -> tuple[float, EtsModel]:
    level, trend, initial = _initial(y, m)
    season = list(initial)
    sse = 0.0
    for t, value in enumerate(y):
        s = season[t % m] if m > 1 else 0.0
        error = value - (level + trend + s)
        sse += error * error
        level, trend = level + trend + a * error, trend + b * error
        if m > 1:
            season[t % m] = s + g * error
    n = len(y)
    last = np.array([season[(n + i) % m] for i in range(m)]) if m > 1 else np.zeros(1)
    sigma = math.sqrt(sse / n)
    return sse, EtsModel(a, b, g, level, trend, last, sigma, m)


_RECENT_FITS: dict[tuple[bytes, int], EtsModel] = {}  # the season test's, for the forecast
_RECENT_LOCK = threading.Lock()


def fit_aaa(y: np.ndarray, m: int) -> EtsModel:
    """Least squares on the one-step errors, with 0 <= beta <= alpha and
    0 <= gamma <= 1 - alpha (the usual admissible region), from a few starts. The last
    few fits are kept: the season test fits the model the forecast then asks for."""
    y = np.ascontiguousarray(y, dtype=float)
    key = (hashlib.blake2b(y.tobytes(), digest_size=16).digest(), m)
    with _RECENT_LOCK:
        kept = _RECENT_FITS.get(key)
    if kept is not None:
        return kept
    model = _fit_aaa(y, m)
    with _RECENT_LOCK:
        while len(_RECENT_FITS) >= 4:
            _RECENT_FITS.pop(next(iter(_RECENT_FITS)))
        _RECENT_FITS[key] = model
    return model


def _fit_aaa(y: np.ndarray, m: int) -> EtsModel:

    def unpack(p: np.ndarray) -> tuple[float, float, float]:
        a, b, g = np.clip(p, 0.0, 1.0)
        return float(a), float(a * b), float((1 - a) * g if m > 1 else 0.0)

    work = f"the fit of {len(y):,} points"

    def loss(p: np.ndarray) -> float:
        check(work)  # one pass over the history between looks (a second at a million)
        sse, _ = _run(y, m, *unpack(p))
        return sse if math.isfinite(sse) else 1e300

    best = None
    for start in ((0.3, 0.1, 0.1), (0.7, 0.05, 0.3), (0.1, 0.3, 0.05)):
        found = optimize.minimize(loss, np.array(start), method="L-BFGS-B",
                                  bounds=[(0.0, 1.0)] * 3)  # fmt: skip
        if best is None or found.fun < best.fun:
            best = found
    assert best is not None
    return _run(y, m, *unpack(best.x))[1]


def steps_ahead(series: Timeline, target: Any, row: int | None = None) -> float:
    """How many timeline steps the target date lies after the last point."""
    when = serial(target, "target_date", row)
    if series.months and when > LAST_EXCEL_SERIAL:
        raise DataValidationError(
            f"target_date {when:g} is after 9999-12-31, the last date Excel can show"
        )
    if when < series.end - 1e-9:
        raise DataValidationError(
            f"target_date {_serial_shown(when, series)} is before the end of the timeline "
            f"({_serial_shown(series.end, series)})"
        )
    if not series.months:
        return (when - series.end) / series.step
    return series.steps_from_start(when) - (len(series.y) - 1)


def _serial_shown(when: float, series: Timeline) -> str:
    """A serial as a date on a timeline of dates (months), else as the number it is."""
    if not series.months:
        return f"{when:g}"
    return f"{dt.date.fromordinal(int(when) + EXCEL_EPOCH_ORDINAL):%Y-%m-%d}"
