"""Turning dates and values the way users have them into one regular series.

Users bring daily order totals, weekly sheets, month-end reports or quarter labels,
with gaps, repeated dates, blanks and the odd typo. Everything here is said back to
them in words: the frequency found, what was filled in, what was left out and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import as_strided
from scipy.stats import t as student_t

from smbml_connect.errors import DataValidationError, NotEnoughDataError

__all__ = [
    "FREQUENCIES",
    "RegularSeries",
    "centred_median",
    "damp_outliers",
    "fill_closures",
    "regularise",
    "regularise_panel",
]

# code: (word for one period, usual season length, pandas period alias)
FREQUENCIES: dict[str, tuple[str, int, str]] = {
    "D": ("day", 7, "D"),
    "W": ("week", 52, "W"),
    "M": ("month", 12, "M"),
    "Q": ("quarter", 4, "Q"),
    "Y": ("year", 1, "Y"),
}
_TYPICAL_GAP_DAYS = {"D": 1.0, "W": 7.0, "M": 30.4, "Q": 91.3, "Y": 365.25}
MIN_POINTS = 4


@dataclass
class RegularSeries:
    """One value per period, oldest first, with what was done to get there."""

    periods: pd.PeriodIndex
    y: np.ndarray
    freq: str
    at_period_end: bool  # dates were month/quarter/year ends: answer in the same style
    notes: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)

    @property
    def word(self) -> str:
        return FREQUENCIES[self.freq][0]

    def dates(self, periods: pd.PeriodIndex) -> pd.DatetimeIndex:
        """Each period's first day, or its last for month/quarter/year-end data.

        Through daily periods rather than `start_time`/`end_time`, which infer a pandas
        frequency on every call: a tenth of the time, which a panel pays per series.
        """
        days = periods.asfreq("D", how="end" if self.at_period_end else "start")
        return pd.DatetimeIndex(days.asi8.astype("datetime64[D]").astype("datetime64[ns]"))

    def future(self, horizon: int) -> pd.PeriodIndex:
        return pd.period_range(self.periods[-1] + 1, periods=horizon, freq=self.periods.freq)


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}{'' if n == 1 else 's'}"


def _as_list(values: Any) -> list[Any]:
    if isinstance(values, pd.Series | pd.Index | np.ndarray):
        return list(values)
    return list(values) if not isinstance(values, str) else [values]


def _blank(cell: Any) -> bool:
    return (
        cell is None or cell is pd.NaT or cell == "" or (isinstance(cell, float) and np.isnan(cell))
    )


def _shown(cell: Any) -> str:
    return repr(cell) if isinstance(cell, str) else str(cell)  # inf, not np.float64(inf)


def _typed_columns(dates: Any, values: Any) -> tuple[pd.Series, pd.Series] | None:
    """Dates and numbers as they are, when the columns are typed and complete.

    A datetime column with no blank and a number column have no cell a person must be
    told about, so reading them cell by cell (a panel paid a third of its time for it on
    short yearly series) changes nothing; anything else goes the careful way.
    """
    if not (
        isinstance(dates, pd.Series | pd.Index)
        and isinstance(values, pd.Series | pd.Index | np.ndarray)
        and len(dates) == len(values)
        and pd.api.types.is_datetime64_any_dtype(dates.dtype)
        and pd.api.types.is_numeric_dtype(values.dtype)
        and not pd.api.types.is_bool_dtype(values.dtype)
    ):
        return None
    parsed = _parse_dates([], dates)
    numbers = np.asarray(values, dtype=float)
    if parsed.isna().any() or np.isinf(numbers).any():  # they get their line the careful way
        return None
    return parsed, pd.Series(numbers)


def _parse_dates(raw: Sequence[Any], given: Any = None) -> pd.Series:
    """Dates as text, datetimes or Excel serial numbers (days since 1899-12-30), mixed.

    A column that already holds datetimes (`given`, as a panel's `ds` usually does) is
    taken as it is, without looking at each cell.
    """
    if given is not None and pd.api.types.is_datetime64_any_dtype(getattr(given, "dtype", None)):
        stamps = _as_written(pd.DatetimeIndex(given))
        return pd.Series(stamps.astype("datetime64[ns]"), dtype="datetime64[ns]")
    cells = pd.Series(raw, dtype=object)
    serial = cells.map(lambda v: isinstance(v, int | float | np.number) and not isinstance(v, bool))
    out = pd.Series(pd.NaT, index=cells.index, dtype="datetime64[ns]")
    if serial.any():
        numbers = pd.to_numeric(cells[serial], errors="coerce")
        out[serial] = pd.to_datetime(numbers, unit="D", origin="1899-12-30", errors="coerce")
    if (~serial).any():
        texts = cells[~serial]
        parsed = pd.to_datetime(texts, errors="coerce", format="mixed", utc=True)
        out[~serial] = parsed.dt.tz_localize(None) + _offsets(texts)
    return out


# Text that may carry an offset from UTC: a sign and a digit after the first 10 characters
# (where a date ends: "2024-04-29" alone has none), or "GMT"/"UTC" with a sign after it.
_MAYBE_OFFSET = r"^.{10,}[+-]\d|(?:GMT|UTC)\s*[+-]"
# A time of day directly followed by a two-digit-hour offset at the end of the text.
_ISO_OFFSET = r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*([+-])(\d{2}):?(\d{2})?\s*$"


def _offsets(cells: pd.Series) -> pd.Series:
    """How far each cell's own clock was ahead of UTC (zero without an offset), so a date
    parsed as UTC can be put back at the time it shows (`_as_written`): "…T00:00+12:00"
    is the 29th where it was written, the 28th in UTC.

    The offset is the one pandas reads from the text. The usual shape (a time of day, then
    "+12:00", "-0500" or "+05") is read at once by `_ISO_OFFSET`, as pandas reads it; any
    other text that may hold one goes to `pd.Timestamp`, once per distinct text, rather
    than to more patterns of our own: "2024-04-29-05" is five o'clock to pandas, not an
    offset, "GMT+2" is two hours behind UTC to dateutil, "10:00 PM +1200" is 22:00, and
    each comes back at the time it shows."""
    minutes = pd.Series(0.0, index=cells.index)
    written = cells.map(lambda v: isinstance(v, str)).astype(bool)
    texts = cells[written].astype(str)
    maybe = texts[texts.str.contains(_MAYBE_OFFSET, regex=True)]
    if len(maybe):
        parts = maybe.str.extract(_ISO_OFFSET)
        iso = parts[0].notna()
        sign = np.where(parts[0][iso] == "-", -1.0, 1.0)
        hours, mins = parts[1][iso].astype(float), parts[2][iso].astype(float).fillna(0.0)
        minutes[maybe.index[iso]] = sign * (hours * 60 + mins)
        rest = maybe[~iso]
        ahead = {text: _offset_minutes(text) for text in rest.unique()}
        minutes[rest.index] = rest.map(ahead).astype(float)
    others = cells[~written]
    aware = others[
        others.map(
            lambda v: isinstance(v, datetime) and not pd.isna(v) and v.tzinfo is not None
        ).astype(bool)
    ]
    if len(aware):  # datetime objects that carry a zone, not text
        minutes[aware.index] = aware.map(_offset_minutes).astype(float)
    return pd.to_timedelta(minutes, unit="min")


def _offset_minutes(value: object) -> float:
    """Minutes a date's clock is ahead of UTC as pandas reads it; 0 without one (or when
    pandas cannot read the text, which the column's parse leaves blank anyway)."""
    try:
        offset = pd.Timestamp(value).utcoffset()
    except (ValueError, TypeError, OverflowError):
        return 0.0
    return 0.0 if offset is None or pd.isna(offset) else offset.total_seconds() / 60


def _as_written(stamps: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Dates with a time zone at the time they show where they were written: a day's sales
    in Auckland are that Auckland day's, which in UTC began the day before (taken as UTC,
    a series ending on 29 April was forecast from 29 April, its weekdays one day off)."""
    return stamps.tz_localize(None) if stamps.tz is not None else stamps


def _infer_frequency(gaps: np.ndarray) -> str:
    """The frequency whose usual gap is nearest (by ratio) the median gap in days."""
    typical = _median(gaps)
    return min(_TYPICAL_GAP_DAYS, key=lambda f: abs(np.log(typical / _TYPICAL_GAP_DAYS[f])))


def _period_alias(freq: str, weekdays: np.ndarray) -> str:
    if freq != "W":
        return FREQUENCIES[freq][2]
    # Weeks start on the weekday the user's dates fall on most often (the earliest in the
    # week on a tie). Monday is 0.
    start = int(np.argmax(np.bincount(weekdays, minlength=7)))
    return "W-" + ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")[start]


_DAY_NS = 86_400_000_000_000
_NAT = np.iinfo(np.int64).min  # a blank date in nanoseconds


def _ordinals(days: np.ndarray, alias: str) -> np.ndarray:
    """pandas' period numbers (`Period.ordinal`) of days counted from 1970-01-01."""
    stamps = days.astype("datetime64[D]")
    if alias == "D":
        return days
    if alias in ("M", "Q"):
        months = stamps.astype("datetime64[M]").astype(np.int64)
        return months if alias == "M" else months // 3
    if alias == "Y":
        return stamps.astype("datetime64[Y]").astype(np.int64)
    return pd.DatetimeIndex(stamps.astype("datetime64[ns]")).to_period(alias).asi8


def _typed_arrays(dates: Any, values: Any) -> tuple[np.ndarray, np.ndarray, Any] | None:
    """Typed date and number columns (a panel's) as nanoseconds since 1970 at the time
    they show (`_as_written`; a blank is `_NAT`), floats and the dates' name; None for
    anything else."""
    if not (
        isinstance(dates, pd.Series | pd.Index)
        and isinstance(values, pd.Series | pd.Index | np.ndarray)
        and len(dates) == len(values)
        and isinstance(dates.dtype, np.dtype | pd.DatetimeTZDtype)
        and pd.api.types.is_datetime64_any_dtype(dates.dtype)
        and isinstance(values.dtype, np.dtype)
        and values.dtype.kind in "iuf"
    ):
        return None
    stamps = _as_written(pd.DatetimeIndex(dates))
    return stamps.as_unit("ns").asi8, np.array(values, dtype=float), stamps.name


def _one_a_period(
    nanoseconds: np.ndarray, y: np.ndarray, freq: str | None, name: Any
) -> RegularSeries | None:
    """The series at once (from `_typed_arrays`) when there is nothing to say about it:
    no blank, one value a period, every period there and in order. None otherwise, for
    `regularise`'s general path, which gives the same series whenever both apply
    (tests/test_forecast_timeseries.py). A panel of 40 short yearly series spent a
    quarter of its time in the general path's pandas calls.
    """
    if (
        len(y) < MIN_POINTS
        or (freq is not None and freq not in FREQUENCIES)
        or (nanoseconds == _NAT).any()
        or not np.isfinite(y).all()
    ):
        return None
    days = nanoseconds // _DAY_NS
    gaps = np.diff(days)
    if not (gaps > 0).all():
        return None
    freq = freq or _infer_frequency(gaps.astype(float))
    alias = _period_alias(freq, (days + 3) % 7)  # 1970-01-01 was a Thursday
    ordinals = _ordinals(days, alias)
    if not (np.diff(ordinals) == 1).all():
        return None
    at_end = freq in ("M", "Q", "Y") and bool((_ordinals(days + 1, alias) != ordinals).all())
    periods = pd.PeriodIndex.from_ordinals(ordinals, freq=alias, name=name)
    return RegularSeries(periods, y, freq, at_end)


def regularise_panel(
    frame: pd.DataFrame, gaps: Literal["interpolate", "zero"] = "zero"
) -> tuple[dict[str, RegularSeries], dict[str, str]]:
    """`regularise` on each series of a long frame `unique_id, ds, y`, in the order of
    their ids, and the reason for each series it refused. Rows left out are named by
    their place in the whole frame, counting from 1.

    Typed columns are converted once for the whole frame, and a series with nothing to
    say about it is read from slices of them (`_one_a_period`) rather than its own frame.
    """
    numbered = frame.reset_index(drop=True)
    typed = _typed_arrays(numbered["ds"], numbered["y"])
    regular: dict[str, RegularSeries] = {}
    skipped: dict[str, str] = {}
    places = pd.Series(np.arange(len(numbered)))
    for uid, rows in places.groupby(numbered["unique_id"], sort=True, observed=False):
        at = rows.to_numpy()
        quick = None if typed is None else _one_a_period(typed[0][at], typed[1][at], None, typed[2])
        try:
            if quick is None:
                ds, y = numbered["ds"].iloc[at], numbered["y"].iloc[at]
                quick = regularise(ds, y, gaps=gaps, row_numbers=at + 1)
            regular[str(uid)] = quick
        except (NotEnoughDataError, DataValidationError) as error:
            skipped[str(uid)] = str(error)
    return regular, skipped


def regularise(
    dates: Any,
    values: Any,
    gaps: Literal["interpolate", "zero"] = "interpolate",
    freq: str | None = None,
    row_numbers: Sequence[int] | None = None,
) -> RegularSeries:
    """One value per period: repeated dates summed, missing periods filled and said so.

    `row_numbers` name the rows in the user's table (default 1, 2, ...) for rows left out.
    """
    arrays = _typed_arrays(dates, values)
    quick = None if arrays is None else _one_a_period(arrays[0], arrays[1], freq, arrays[2])
    if quick is not None:
        return quick
    typed = _typed_columns(dates, values)
    if typed is not None:  # a panel's datetime and number columns: nothing to read cell by cell
        parsed, numbers = typed
        left_out: list[str] = []
    else:
        raw_dates, raw_values = _as_list(dates), _as_list(values)
        if len(raw_dates) != len(raw_values):
            raise DataValidationError(
                f"dates and values differ in length ({len(raw_dates)} dates, "
                f"{len(raw_values)} values)"
            )
        parsed = _parse_dates(raw_dates, dates)
        numbers = pd.to_numeric(pd.Series(raw_values, dtype=object), errors="coerce")
        # Infinity ("inf" in a CSV, 1e999, a division by zero) is not a quantity sold: it
        # is left out with its line like any other value that is not a number.
        numbers = numbers.where(~np.isinf(numbers.to_numpy(dtype=float)))
        left_out = []
        rows = list(row_numbers) if row_numbers is not None else range(1, len(raw_dates) + 1)
        for row, d, v, pd_, pv in zip(rows, raw_dates, raw_values, parsed, numbers, strict=True):
            if _blank(d) and _blank(v):
                continue  # a blank row held nothing to lose
            if pd.isna(pd_) and _blank(d):  # a totals row, a date lost to #N/A: say so
                left_out.append(f"row {row}, date: blank (beside the value {_shown(v)})")
            elif pd.isna(pd_):
                left_out.append(f"row {row}, date: {d!r} is not a date")
            elif pd.isna(pv) and not _blank(v):
                left_out.append(f"row {row}, value: {_shown(v)} is not a number")
    keep = parsed.notna() & numbers.notna()
    if freq is not None and freq not in FREQUENCIES:
        raise DataValidationError(
            f"unknown frequency {freq!r}; use one of {', '.join(FREQUENCIES)}"
        )
    days = pd.DatetimeIndex(parsed[keep]).normalize()
    if days.nunique() < 2:
        if days.empty and left_out:  # nothing could be read: say what, not "got 0"
            more = len(left_out) - 1
            rest = f"; {more} more {'row' if more == 1 else 'rows'} left out too" if more else ""
            raise DataValidationError(f"no date with a value can be read ({left_out[0]}{rest})")
        # Two dates are what telling the frequency takes; MIN_POINTS periods come after.
        raise NotEnoughDataError(f"need at least 2 dates with values, got {days.nunique()}")
    unique_days = days.unique().sort_values()
    freq = freq or _infer_frequency(np.diff(unique_days.asi8) / 86_400e9)
    alias = _period_alias(freq, unique_days.day_of_week.to_numpy())
    periods = days.to_period(alias)
    totals = pd.Series(numbers[keep].to_numpy(dtype=float), index=periods)
    if not (periods.is_monotonic_increasing and periods.is_unique):  # else one value a period
        totals = totals.groupby(level=0).sum()
    notes = []
    word = FREQUENCIES[freq][0]
    repeated = len(days) - len(totals)
    if repeated:
        notes.append(
            f"{repeated} {'value' if repeated == 1 else 'values'} fell in a {word} that already "
            "had one and were added to it"
        )
    full = pd.period_range(totals.index.min(), totals.index.max(), freq=alias)
    series = totals if len(full) == len(totals) else totals.reindex(full)
    missing = series.index[series.isna()]
    if len(missing):
        shown = ", ".join(str(p) for p in missing[:3]) + (" ..." if len(missing) > 3 else "")
        if gaps == "zero":
            series = series.fillna(0.0)
            notes.append(f"{_count(len(missing), 'missing ' + word)} ({shown}) counted as zero")
        else:
            series = series.interpolate()
            notes.append(
                f"{_count(len(missing), 'missing ' + word)} ({shown}) filled in between the "
                "neighbouring values"
            )
    if len(series) < MIN_POINTS:
        raise NotEnoughDataError(
            f"need at least {MIN_POINTS} {FREQUENCIES[freq][0]}s of history, got {len(series)}"
        )
    # A date ends its period when the next day falls in another one.
    at_end = freq in ("M", "Q", "Y") and bool(
        (
            unique_days.to_period(alias) != (unique_days + pd.Timedelta(days=1)).to_period(alias)
        ).all()
    )
    return RegularSeries(pd.PeriodIndex(series.index), series.to_numpy(dtype=float), freq, at_end,
                         notes, left_out)  # fmt: skip


def _row_medians(rows: np.ndarray) -> np.ndarray:
    """The median of each row's values, blanks (NaN) skipped; NaN for a row without any.
    One sort for all rows, where `np.median` per window or per place in the season costs
    a call each (a weekly series has 52 of both)."""
    ordered = np.sort(rows, axis=1)  # blanks last
    width = rows.shape[1]
    if width and not np.isnan(ordered[:, -1]).any():  # no blank: each row's middle
        upper = ordered[:, width // 2]
        return upper if width % 2 else (ordered[:, width // 2 - 1] + upper) / 2
    count = np.count_nonzero(~np.isnan(rows), axis=1)
    at = np.arange(len(rows))
    upper = ordered[at, np.minimum(count // 2, rows.shape[1] - 1)]
    lower = ordered[at, np.maximum(count // 2 - 1, 0)]
    with np.errstate(invalid="ignore"):  # an infinite value each way: no middle (NaN)
        middle = np.where(count % 2 == 1, upper, (lower + upper) / 2)
    return np.where(count > 0, middle, np.nan)


def centred_median(y: np.ndarray, window: int) -> np.ndarray:
    """pandas' `Series(y).rolling(window, center=True, min_periods=window // 2 + 1)
    .median()` (odd `window`): the median of each value's centred window, cut short at
    the ends, at a tenth of its time on short series. Like pandas, it takes an infinite
    value for a blank."""
    half = window // 2
    values = np.where(np.isinf(y), np.nan, y)
    padded = np.concatenate([np.full(half, np.nan), values, np.full(half, np.nan)])
    rows = as_strided(padded, (len(y), window), padded.strides * 2, writeable=False)
    enough = np.count_nonzero(~np.isnan(rows), axis=1) >= half + 1
    return np.where(enough, _row_medians(rows), np.nan)


def _seasonal_medians(residual: np.ndarray, m: int) -> np.ndarray:
    """Each value's place-in-the-season median, as pandas' `groupby(np.arange(n) % m)
    .transform("median")` gives it."""
    n = len(residual)
    seasons = -(-n // m)
    padded = np.concatenate([residual, np.full(seasons * m - n, np.nan)])
    return _row_medians(padded.reshape(seasons, m).T)[np.arange(n) % m]


def _median(values: np.ndarray) -> float:
    """`np.median` of a 1-d array (NaN when a value is), at a third of its time."""
    return np.nan if np.isnan(values).any() else float(_row_medians(values[None, :])[0])


def damp_outliers(y: np.ndarray, m: int, limit: float = 8.0) -> tuple[np.ndarray, np.ndarray]:
    """Pull values far from a robust local fit back to it, so one freak month does not
    bend the forecast. Returns the adjusted series and the positions changed."""
    n = len(y)
    window = max(5, m if m % 2 else m + 1)
    if n < 2 * window:
        return y, np.array([], dtype=int)
    fitted = centred_median(y, window)
    if m > 1 and n >= 3 * m:  # keep the season: compare like with like
        residual = y - fitted
        fitted = fitted + _seasonal_medians(residual, m)
    residual = y - fitted
    centre = _row_medians(residual[None, :])[0]  # np.nanmedian's answer, at a third of its time
    spread = 1.4826 * _row_medians(np.abs(residual - centre)[None, :])[0]
    # A floor keeps a near-perfect line from calling every small wiggle unusual.
    spread = max(float(spread), 0.05 * _median(np.abs(y)))
    if not spread > 0:
        return y, np.array([], dtype=int)
    size = np.abs(residual) / spread
    # A spike, not a shift: its neighbours look normal. The last values are left alone,
    # because at the end of the data a new level and a freak value look the same.
    before, after = np.concatenate([size[-1:], size[:-1]]), np.concatenate([size[1:], size[:1]])
    calm = np.minimum(before, after) < limit / 3  # np.roll's neighbours, without its overhead
    if m > 1:  # a December peak that came back last December is a season, not a freak
        same_season = np.full(n, 0.0)
        signed = residual / spread
        for lag in (m, -m):
            other = np.roll(signed, lag)
            valid = (np.arange(n) - lag >= 0) & (np.arange(n) - lag < n)
            same_season = np.maximum(same_season, np.where(valid, other * np.sign(signed), 0.0))
        calm &= same_season < limit / 3
    flagged = np.flatnonzero((size > limit) & calm & (np.arange(n) < n - 2))
    adjusted = y.copy()
    adjusted[flagged] = fitted[flagged]
    return adjusted, flagged


# A closure's zeros must be this unlikely under the series' own noise, over all the
# periods they could have fallen on (Bonferroni): the 1% of the seasonality test.
CLOSURE_LEVEL = 0.01
# Sales errors have heavier tails than the normal curve: the intervals' prior, a Student-t
# with 5 degrees of freedom (`intervals.PRIOR_DF`), judges how unlikely a zero is.
CLOSURE_DF = 5


def _zero_runs(y: np.ndarray, m: int) -> list[tuple[int, int]]:
    """Runs [start, end) of periods with no sales between the first and the last that have
    some, but not one whose periods had none a season earlier or later too: a shop shut
    every January has a season, not a closure."""
    selling = np.flatnonzero(y != 0)
    if len(selling) < 2:
        return []
    zero = np.r_[False, y[selling[0] : selling[-1] + 1] == 0, False]
    edges = np.flatnonzero(np.diff(zero.astype(int)))
    runs = [(selling[0] + a, selling[0] + b) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    if m <= 1:
        return runs
    n = len(y)
    return [(a, b) for a, b in runs
            if not any(0 <= i + lag < n and y[i + lag] == 0
                       for i in range(a, b) for lag in (m, -m))]  # fmt: skip


def empty_at_end(y: np.ndarray, m: int) -> int:
    """How many periods at the end had no sales at all (2 or more), in a series that sold
    in nearly every period before (under 10% empty, 4 periods at least) and had no empty
    periods a season before them (a shop shut every winter has a season); 0 otherwise.
    `_zero_runs` stops at the last selling period: the two empty months before the run
    forecast a 5,000-a-month shop at 19 for a year, with nothing said."""
    selling = np.flatnonzero(y != 0)
    if not len(selling):
        return 0
    empty = len(y) - 1 - int(selling[-1])
    before = y[: len(y) - empty]
    if empty < 2 or len(before) < 4 or float(np.mean(before == 0)) >= 0.1:
        return 0
    if m > 1 and any(y[i - m] == 0 for i in range(len(y) - empty, len(y)) if i >= m):
        return 0
    return empty


def fill_closures(
    y: np.ndarray, m: int, known: np.ndarray | None = None
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Runs of periods with no sales at all inside a history that sells, too unlikely to be
    chance (a refit, a lockdown), filled in from the periods around them, as `damp_outliers`
    pulls a freak value back; returns the filled series and the runs [start, end) filled.

    A zero run is a closure when the chance of its zeros under the series' own noise is
    below `CLOSURE_LEVEL` over the n periods: each zero is its local level over the noise's
    robust SD below that level (a Student-t's tail, `CLOSURE_DF`), the zeros of a run
    multiplied. No count of months decides: two empty months beside a shop's usual €4,000
    are a closure, a lone one beside a slow product's two sales a month is not, and a run
    repeated a season away is a season (`_zero_runs`). On simulated slow products (Poisson
    sales, 36 months, a mild season, under 30% of months empty) a run was called a
    closure in 4.6% of series selling 1.5 a month, 3.3% at 2, 0.9% at 3 and none from 5 up. `damp_outliers` misses such a run:
    its zeros are each other's neighbours, so neither is a lone spike. The noise and the
    level come from the other periods (a centred median and the seasonal medians,
    `_around`), the run left out, so it does not widen the yardstick it is judged by;
    other runs stay in, since a slow product's scattered empty months are its noise.
    Where the run is longer than half that median's window, the gap is drawn straight
    between its neighbours (`np.interp`). A run wholly inside `known` (periods a panel
    found closed: no series sold in them and one's own test called it a closure,
    `engine._panel_closures`) is one without a test of its own: a slow product shares its
    shop's closed months."""
    n = len(y)
    window = max(5, m if m % 2 else m + 1)
    filled = y.astype(float).copy()
    closed = []
    for a, b in _zero_runs(y, m):
        fitted, spread = _around(y, a, b, m, window)
        given = known is not None and bool(known[a:b].all())
        if not (spread > 0 or given):
            continue
        below = np.maximum(fitted[a:b], 0.0) / spread if spread > 0 else np.zeros(b - a)
        if given or float(np.prod(student_t.cdf(-below, CLOSURE_DF))) < CLOSURE_LEVEL / n:
            closed.append((a, b))
            filled[a:b] = np.maximum(fitted[a:b], 0.0)
    return (filled, closed) if closed else (y, [])


def _around(y: np.ndarray, a: int, b: int, m: int, window: int) -> tuple[np.ndarray, float]:
    """The series' fit with periods [a, b) left out (`fill_closures`), a centred median
    plus the median of the same place in the other seasons (`damp_outliers` waits for
    three seasons, since there each value is judged against a season it is part of; a
    closure's periods are not in theirs); and the
    noise's SD, from the changes of the other periods over a season (over one period
    without a season or under two seasons and a bit): the seasonal medians of three seasons
    fit a third of the periods exactly, and a product selling two a month had half the noise
    it has. The change's spread is the larger of its median and mean absolute deviations
    (each scaled to a normal SD): on whole units the median one is 0 when most periods sold
    1, and a slow product's lone empty months read as closures."""
    n = len(y)
    masked = y.astype(float).copy()
    masked[a:b] = np.nan
    known = ~np.isnan(masked)
    fitted = centred_median(masked, window)
    fitted = np.where(np.isnan(fitted), np.interp(np.arange(n), np.flatnonzero(known),
                                                  masked[known]), fitted)  # fmt: skip
    if m > 1:  # the same place in the other seasons (`m` > 1 only from two seasons on)
        fitted = fitted + np.nan_to_num(_seasonal_medians(masked - fitted, m))
    lag = m if m > 1 and n >= 2 * m + 2 else 1
    change = masked[lag:] - masked[:-lag]
    change = change[~np.isnan(change)]
    if not len(change):
        return fitted, 0.0
    deviation = np.abs(change - _median(change))
    spread = max(1.4826 * _median(deviation), 1.2533 * float(deviation.mean())) / np.sqrt(2)
    return fitted, max(spread, 0.05 * _median(np.abs(masked[known])))
