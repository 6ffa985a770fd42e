"""Turn values as users' data really arrives into typed values.

Spreadsheets and CRMs send numbers as "1,234.50" or "$99", dates in half a dozen
formats or as epoch milliseconds, and booleans as "yes", "TRUE" or 1. Each coercer
takes a Series and returns the typed Series plus a boolean mask of values that were
present but could not be read, so the caller can report them instead of losing them.
Parsing works on unique values, because real columns repeat a lot.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
from dateutil import parser as date_parser

__all__ = [
    "MISSING_TOKENS",
    "coerce_bool",
    "coerce_datetime",
    "coerce_float",
    "coerce_int",
    "coerce_string",
    "is_missing",
]

MISSING_TOKENS = frozenset(
    {"", "-", "--", "n/a", "na", "nan", "none", "null", "nil", "#n/a", "(blank)", "missing"}
)
_TRUE = frozenset(
    {
        "true",
        "t",
        "yes",
        "y",
        "1",
        "on",
        "x",
        "checked",
        "opted in",
        "opt-in",
        "subscribed",
        "granted",
        "consented",
    }
)
_FALSE = frozenset(
    {
        "false",
        "f",
        "no",
        "n",
        "0",
        "off",
        "unchecked",
        "opted out",
        "opt-out",
        "unsubscribed",
        "denied",
        "revoked",
        "withdrawn",
    }
)
_CODES = "usd|eur|gbp|cad|aud|chf|jpy|inr"
_CURRENCY = re.compile(rf"[$€£¥₹]|^(?:{_CODES})|(?:{_CODES})$", re.IGNORECASE)
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)*|[.,]\d+)([eE][+-]?\d+)?$")
# Excel stores dates as days since 1899-12-30; these bounds are 1954..2119.
_EXCEL_SERIAL = (20_000, 80_000)
_EPOCH_SECONDS = (1e8, 1e10)
_EPOCH_MILLIS = (1e11, 1e14)
_SLASHED = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4})\b")


def is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip().lower() in MISSING_TOKENS


def _missing(series: pd.Series, stripped: pd.Series | None = None) -> pd.Series:
    """``is_missing`` for a whole column: empty, NaN, or a token such as "n/a" or "-".

    ``stripped`` is ``_stripped(series)`` when the caller has it already.
    """
    mask = series.isna()
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return mask
    if pd.api.types.is_datetime64_any_dtype(series):
        return mask
    text = _stripped(series) if stripped is None else stripped
    tokens = text.str.lower().isin(MISSING_TOKENS)
    return (mask | tokens.fillna(False)).astype(bool)


def _stripped(series: pd.Series) -> pd.Series:
    """Text values stripped; anything that is not text becomes NaN (no Python call per value)."""
    try:
        return series.astype(object).str.strip()
    except AttributeError:  # not a single text value in the column
        return pd.Series(np.nan, index=series.index, dtype=object)


def _map_unique(
    series: pd.Series, parse: Callable[[Any], Any], dtype: str | None = None
) -> tuple[pd.Series, pd.Series]:
    """Apply ``parse`` once per distinct value; ``parse`` returns a value or raises ValueError."""
    present = ~_missing(series)
    parsed: dict[Any, Any] = {}
    bad: set[Any] = set()
    for value in pd.unique(series[present]):
        try:
            parsed[value] = parse(value)
        except (ValueError, TypeError, OverflowError):
            bad.add(value)
    if parsed:  # a dict lookup per value, done by pandas, not a Python call per value
        values = series.where(present).map(parsed)
        values = values.astype(object).where(values.notna(), None)
    else:
        values = pd.Series([None] * len(series), index=series.index, dtype=object)
    if dtype is not None:
        values = values.astype(dtype)
    invalid = present & series.isin(list(bad)) if bad else pd.Series(False, index=series.index)
    return values, invalid


def parse_number(value: Any) -> float:
    """Read a number the way a person wrote it; raise ValueError when it is not one."""
    if isinstance(value, bool):
        raise ValueError("a true/false value is not a number")
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        if math.isinf(number):
            raise ValueError("infinite")
        return number
    text = str(value).strip().replace("\u00a0", "").replace(" ", "").replace("'", "")
    negative = text.startswith("(") and text.endswith(")")
    if negative:
        text = text[1:-1]
    text = _CURRENCY.sub("", text)
    percent = text.endswith("%")
    if percent:
        text = text[:-1]
    if text.endswith("-"):  # "99-" is how some ledgers write a negative
        negative, text = True, text[:-1]
    if not _NUMBER.match(text):
        raise ValueError("not a number")
    text = _normalise_separators(text)
    number = float(text)
    if negative:
        number = -abs(number)
    return number / 100 if percent else number


def _normalise_separators(text: str) -> str:
    """Decide which of ',' and '.' is the decimal mark.

    With both present, the last one is the decimal mark ("1.234,50" and "1,234.50").
    With only commas: one comma followed by 1-2 digits is a decimal comma ("12,5");
    otherwise commas group thousands ("1,234", "1,234,567").
    """
    if "," in text and "." in text:
        if text.rfind(",") > text.rfind("."):
            return text.replace(".", "").replace(",", ".")
        return text.replace(",", "")
    if "," in text:
        head, _, tail = text.rpartition(",")
        if text.count(",") == 1 and len(tail) in (1, 2):
            return f"{head}.{tail}"
        return text.replace(",", "")
    if text.count(".") > 1:  # "1.234.567" groups thousands with dots
        return text.replace(".", "")
    return text


def coerce_float(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    return _map_unique(series, parse_number, "Float64")


def coerce_int(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    def parse(value: Any) -> int:
        number = parse_number(value)
        if not float(number).is_integer():
            raise ValueError("not a whole number")
        return int(number)

    return _map_unique(series, parse, "Int64")


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("not a yes/no value")


def coerce_bool(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    return _map_unique(series, parse_bool, "boolean")


def coerce_string(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    def parse(value: Any) -> str:
        # Excel and Sheets hand ids over as floats: 12345.0 must stay "12345".
        if isinstance(value, float | np.floating) and float(value).is_integer():
            return str(int(value))
        if isinstance(value, datetime | pd.Timestamp):
            return value.isoformat()
        return str(value).strip()

    # Text is only stripped, in one vectorised step; other values (numbers, dates) go
    # through ``parse`` one distinct value at a time.
    stripped = _stripped(series)
    present = ~_missing(series, stripped)
    other = present & stripped.isna()
    out = stripped.where(present)
    invalid = pd.Series(False, index=series.index)
    if other.any():
        values, invalid = _map_unique(series.where(other), parse)
        out = out.where(~other, values)
    return out.astype("string"), invalid


def _day_first(values: pd.Series) -> bool:
    """Decide per column whether "03/04/2025" means 3 April: any first part over 12 says so."""
    first_over, second_over = False, False
    for text in values.astype(str):
        match = _SLASHED.match(text)
        if match:
            first_over |= int(match.group(1)) > 12
            second_over |= int(match.group(2)) > 12
    return first_over and not second_over


def parse_datetime(value: Any, day_first: bool = False) -> pd.Timestamp:
    """Read one date or time; naive values are taken as UTC."""
    if isinstance(value, bool):
        raise ValueError("a true/false value is not a date")
    if isinstance(value, pd.Timestamp | datetime | date):
        stamp = pd.Timestamp(value)
    elif isinstance(value, int | float | np.integer | np.floating) or (
        isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value)
    ):
        stamp = _from_number(float(value))
    else:
        text = str(value).strip()
        if re.match(r"^\d{4}-\d{1,2}-\d{1,2}", text):
            # ISO shape: strict. dateutil would read "2025-13-01" as 13 January.
            stamp = pd.Timestamp(text)
        else:
            # A default in year 1 makes "March 5" (no year) fail below instead of
            # silently taking today's year.
            parsed = date_parser.parse(text, dayfirst=day_first, default=datetime(1, 1, 1))
            if parsed.year < 1900:
                raise ValueError("a date without a year")
            stamp = pd.Timestamp(parsed)
    if stamp is pd.NaT or not 1900 <= stamp.year <= 2200:
        raise ValueError("not a date between 1900 and 2200")
    if stamp.tzinfo is None:
        return stamp.tz_localize(UTC)
    return stamp.tz_convert(UTC)


def _from_number(number: float) -> pd.Timestamp:
    if _EXCEL_SERIAL[0] <= number <= _EXCEL_SERIAL[1]:
        return pd.Timestamp("1899-12-30") + pd.to_timedelta(number, unit="D")
    if _EPOCH_SECONDS[0] <= number < _EPOCH_SECONDS[1]:
        return pd.Timestamp(number, unit="s")
    if _EPOCH_MILLIS[0] <= number < _EPOCH_MILLIS[1]:
        return pd.Timestamp(number, unit="ms")
    if 19_000_101 <= number <= 21_001_231 and float(number).is_integer():  # 20250314
        return pd.Timestamp(str(int(number)))
    raise ValueError("a number that is not a date, an Excel date or an epoch time")


def coerce_datetime(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    if pd.api.types.is_datetime64_any_dtype(series):
        # Already dates: naive ones are taken as UTC, like naive text.
        stamps = series.dt.tz_localize(UTC) if series.dt.tz is None else series.dt.tz_convert(UTC)
        return stamps.astype("datetime64[us, UTC]"), pd.Series(False, index=series.index)
    # ISO text (what HubSpot and most exports send) is parsed by pandas in one go; only
    # the rest goes value by value through parse_datetime.
    texts = _stripped(series).fillna("").astype(str)
    iso = texts.str.match(
        r"^\s*\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?\s*$"
    )
    fast = pd.to_datetime(texts.where(iso), format="ISO8601", utc=True, errors="coerce")
    fast = fast.where((fast.dt.year >= 1900) & (fast.dt.year <= 2200))
    done = fast.notna()
    day_first = _day_first(series[~done].dropna())
    values, invalid = _map_unique(series.where(~done), lambda v: parse_datetime(v, day_first))
    slow = pd.to_datetime(values, utc=True)
    out = fast.where(done, slow).astype("datetime64[us, UTC]")
    return out, invalid & ~done
