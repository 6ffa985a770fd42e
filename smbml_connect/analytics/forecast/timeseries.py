"""Turning dates and values the way users have them into one regular series.

Users bring daily order totals, weekly sheets, month-end reports or quarter labels,
with gaps, repeated dates, blanks and the odd typo. Everything here is said back to
them in words: the frequency found, what was filled in, what was left out and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from smbml_connect.errors import DataValidationError, NotEnoughDataError

__all__ = ["FREQUENCIES", "RegularSeries", "damp_outliers", "regularise"]

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
    if parsed.isna().any():  # a blank date gets its line the careful way
        return None
    return parsed, pd.Series(np.asarray(values, dtype=float))


def _parse_dates(raw: Sequence[Any], given: Any = None) -> pd.Series:
    """Dates as text, datetimes or Excel serial numbers (days since 1899-12-30), mixed.

    A column that already holds datetimes (`given`, as a panel's `ds` usually does) is
    taken as it is, without looking at each cell.
    """
    if given is not None and pd.api.types.is_datetime64_any_dtype(getattr(given, "dtype", None)):
        stamps = pd.DatetimeIndex(given)
        stamps = stamps.tz_convert(None) if stamps.tz is not None else stamps  # as UTC
        return pd.Series(stamps.astype("datetime64[ns]"), dtype="datetime64[ns]")
    cells = pd.Series(raw, dtype=object)
    serial = cells.map(lambda v: isinstance(v, int | float | np.number) and not isinstance(v, bool))
    out = pd.Series(pd.NaT, index=cells.index, dtype="datetime64[ns]")
    if serial.any():
        numbers = pd.to_numeric(cells[serial], errors="coerce")
        out[serial] = pd.to_datetime(numbers, unit="D", origin="1899-12-30", errors="coerce")
    if (~serial).any():
        parsed = pd.to_datetime(cells[~serial], errors="coerce", format="mixed", utc=True)
        out[~serial] = parsed.dt.tz_localize(None)
    return out


def _infer_frequency(days: pd.DatetimeIndex) -> str:
    gaps = np.diff(days.asi8) / 86_400e9
    typical = float(np.median(gaps))
    return min(_TYPICAL_GAP_DAYS, key=lambda f: abs(np.log(typical / _TYPICAL_GAP_DAYS[f])))


def _period_alias(freq: str, days: pd.DatetimeIndex) -> str:
    if freq != "W":
        return FREQUENCIES[freq][2]
    # Weeks start on the weekday the user's dates fall on most often.
    start = pd.Series(days.day_of_week).mode().iloc[0]
    return "W-" + ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")[start]


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
        left_out = []
        rows = list(row_numbers) if row_numbers is not None else range(1, len(raw_dates) + 1)
        for row, d, v, pd_, pv in zip(rows, raw_dates, raw_values, parsed, numbers, strict=True):
            if pd.isna(pd_):
                left_out.append(f"row {row}, date: {d!r} is not a date")
            elif pd.isna(pv) and not (
                v is None or (isinstance(v, float) and np.isnan(v)) or v == ""
            ):
                left_out.append(f"row {row}, value: {v!r} is not a number")
    keep = parsed.notna() & numbers.notna()
    if freq is not None and freq not in FREQUENCIES:
        raise DataValidationError(
            f"unknown frequency {freq!r}; use one of {', '.join(FREQUENCIES)}"
        )
    days = pd.DatetimeIndex(parsed[keep]).normalize()
    if days.nunique() < 2:
        raise NotEnoughDataError(
            f"need at least {MIN_POINTS} dates with values, got {days.nunique()}"
        )
    unique_days = days.unique().sort_values()
    freq = freq or _infer_frequency(unique_days)
    alias = _period_alias(freq, unique_days)
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


def damp_outliers(y: np.ndarray, m: int, limit: float = 8.0) -> tuple[np.ndarray, np.ndarray]:
    """Pull values far from a robust local fit back to it, so one freak month does not
    bend the forecast. Returns the adjusted series and the positions changed."""
    n = len(y)
    window = max(5, m if m % 2 else m + 1)
    if n < 2 * window:
        return y, np.array([], dtype=int)
    local = pd.Series(y).rolling(window, center=True, min_periods=window // 2 + 1).median()
    if m > 1 and n >= 3 * m:  # keep the season: compare like with like
        residual = y - local.to_numpy()
        pattern = pd.Series(residual).groupby(np.arange(n) % m).transform("median").to_numpy()
        local = local + pattern
    fitted = local.to_numpy()
    residual = y - fitted
    spread = 1.4826 * np.nanmedian(np.abs(residual - np.nanmedian(residual)))
    # A floor keeps a near-perfect line from calling every small wiggle unusual.
    spread = max(float(spread), 0.05 * float(np.median(np.abs(y))))
    if not spread > 0:
        return y, np.array([], dtype=int)
    size = np.abs(residual) / spread
    # A spike, not a shift: its neighbours look normal. The last values are left alone,
    # because at the end of the data a new level and a freak value look the same.
    calm = np.minimum(np.roll(size, 1), np.roll(size, -1)) < limit / 3
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
