"""Periods and days named as people write them, one way in every place a forecast is told.

A day is "1 November 2026", not "01 November 2026"; a week is "the week of 2 November
2026" (named by its first day); a month "November 2026"; a quarter "Q4 2026". A run of
them says the year once where it does not change: "1 to 5 November 2026", "the weeks of
2 to 16 November 2026", "April to June 2026", "Q1 to Q3 2026", "December 2026 to
February 2027". The forecast's summary, its tabs, the report and the worksheet example
all name periods here, so a span reads the same in each.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["day_words", "period_words", "periods_words"]


def day_words(day: pd.Timestamp | pd.Period, year: bool = True) -> str:
    """'1 November 2026' ('1 November' without the year)."""
    start = day.start_time if isinstance(day, pd.Period) else pd.Timestamp(day)
    return f"{start.day} {start:%B}" + (f" {start.year}" if year else "")


def period_words(period: pd.Period, freq: str) -> str:
    """A period as a person names it: '1 November 2026', 'the week of 2 November 2026',
    'November 2026', 'Q4 2026', '2026'."""
    words = _one(period, freq)
    return f"the week of {words}" if freq == "W" else words


def periods_words(first: pd.Period, last: pd.Period, freq: str) -> str:
    """From `first` to `last` (one period: its name), the year and month said once where
    both ends share them."""
    if first == last:
        return period_words(first, freq)
    start, end = first.start_time, last.start_time
    same_year = start.year == end.year
    same_month = same_year and start.month == end.month and freq in ("D", "W")
    words = f"{_one(first, freq, not same_year, not same_month)} to {_one(last, freq)}"
    return f"the weeks of {words}" if freq == "W" else words


def _one(period: pd.Period, freq: str, year: bool = True, month: bool = True) -> str:
    start = period.start_time
    tail = f" {start.year}" if year else ""
    if freq == "Y":
        return str(period.year)
    if freq == "Q":
        return f"Q{period.quarter}{tail}"
    if freq == "M":
        return f"{start:%B}{tail}"
    return f"{start.day}" + (f" {start:%B}" if month else "") + tail  # a day; a week's first
