"""Turn values as users' data really arrives into typed values.

Spreadsheets and CRMs send numbers as "1,234.50" or "$99", dates in half a dozen
formats or as epoch milliseconds, and booleans as "yes", "TRUE" or 1. Each coercer
takes a Series and returns the typed Series plus a boolean mask of values that were
present but could not be read, so the caller can report them instead of losing them.
Parsing works on unique values, because real columns repeat a lot.
"""

from __future__ import annotations

import dataclasses
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any, Literal

import numpy as np
import pandas as pd
from dateutil import parser as date_parser

from smbml_connect import month_names, plain_numbers
from smbml_connect.business_zone import in_zone, is_utc
from smbml_connect.distinct import MISSING_TOKENS, Distinct

__all__ = [
    "EXCEL_SERIALS",
    "MISSING_TOKENS",
    "SHARED_ZONE_WORDS",
    "UNSAVED_FORMULA",
    "ZONE_WORDS",
    "ColumnFormat",
    "DateScan",
    "DateVotes",
    "Hint",
    "NumberScan",
    "Reading",
    "UnreadCell",
    "coerce_bool",
    "coerce_datetime",
    "coerce_float",
    "coerce_int",
    "coerce_string",
    "date_evidence",
    "fold_width",
    "is_missing",
    "number_evidence",
    "read_dates",
    "read_numbers",
    "scan_dates",
    "scan_numbers",
]

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
# Money as people type it, marks before or after the number: symbols ("$", "zł" is a
# word below), a symbol with its country ("US$", "NZ$", "R$", "HK$"), ISO codes and the
# local abbreviations a spreadsheet shows ("1 234,50 kr", "Fr. 12.50", "1 234 Ft").
# "円", "元"/"圆" and "원" are yen, yuan and won as Japanese, Chinese and Korean write them
# after the number ("1,650円"); full-width forms are folded first (``fold_width``).
_SYMBOLS = "$€£¥₹₩₽₺₪₫฿₴₦₱₲₵₡₭₮₸₼₾¢₨円元圆圓원"
_CODES = (
    "usd|eur|gbp|cad|aud|nzd|chf|jpy|cny|rmb|inr|sek|nok|dkk|isk|pln|czk|huf|ron|bgn|rub|uah|"
    "try|ils|zar|brl|mxn|ars|clp|cop|pen|sgd|hkd|twd|krw|thb|myr|idr|php|vnd|aed|sar|qar|kwd|"
    "bhd|jod|omr|tnd|iqd|lyd|egp|ngn|kes|mad|pkr"
)
_LOCAL = (
    "kr|zł|zl|ft|kč|lei|лв|руб|din|sfr|fr|rs|tl|rm|rp|"
    r"k\.d|kd|b\.d|bd|j\.d|jd|r\.o|ro|د\.ك|د\.ب|د\.ا|ر\.ع"  # Gulf dinars and rial
)
_CURRENCY_BEFORE = re.compile(
    rf"^([+-]?)(?:[a-z]{{0,3}}[{_SYMBOLS}]|(?:{_CODES}|{_LOCAL}|r)\.?)(?=[\d.,(])", re.IGNORECASE
)
_CURRENCY_AFTER = re.compile(rf"(?<=[\d.,)%-])(?:[{_SYMBOLS}]|(?:{_CODES}|{_LOCAL})\.?)$", re.I)
_CURRENCY = re.compile(rf"[{_SYMBOLS}]")
# Spaces that group thousands (no-break, narrow no-break as current French locales write
# them, thin, figure) and the apostrophes Swiss amounts use; U+2212 is the minus sign
# Nordic formats write.
# Full-width forms as a Japanese, Chinese or Korean keyboard types them with the input
# method on ("１，６５０", "￥", "＄", the ideographic space): their NFKC forms, ASCII digits
# and the usual signs. Only these blocks: NFKC of the whole text would also make numbers of
# superscripts ("5²" as 52) and circled digits ("①").
_WIDE = {
    c: folded
    for c in (*range(0xFF01, 0xFF5F), *range(0xFFE0, 0xFFE7), 0x3000)
    if len(folded := unicodedata.normalize("NFKC", chr(c))) == 1
}


def fold_width(text: str) -> str:
    """``text`` with full-width digits, marks and signs as their ordinary forms ("￥１，６５０"
    is "¥1,650"); anything else as it is."""
    return text.translate(_WIDE) if not text.isascii() else text


_GROUPING = str.maketrans({c: None for c in "\u00a0\u202f\u2009\u2007 '\u2019"})
_MINUS = "\u2212"
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)*|[.,]\d+)([eE][+-]?\d+)?$")
# Excel stores dates as days since 1899-12-30; these bounds are 1954..2119.
_EXCEL_SERIAL = (20_000, 80_000)
EXCEL_SERIALS = _EXCEL_SERIAL  # numbers read as spreadsheet dates (1954 to 2119)
_EPOCH_SECONDS = (1e8, 1e10)
_EPOCH_MILLIS = (1e11, 1e14)
_SLASHED = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4})\b")


Decimal = Literal[",", "."]
NoteKind = Literal["decimal", "dates", "text"]  # which config key a note points to
_OTHER: dict[str, Decimal] = {",": ".", ".": ","}
_MANTISSA = re.compile(r"^([+-]?)([\d.,]*)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class ColumnFormat:
    """How a column is written, for when its values alone cannot tell (stated in the config).

    ``ColumnFormat.parse("decimal=, dayfirst")``: the decimal mark ("decimal=," or
    "decimal=.") and the date order ("dayfirst" or "monthfirst"), in any order; "percent"
    says a share column (a discount) holds percentages, as a "%" in its header does;
    "utc" says times written without an offset are UTC's, not the business's clock, as
    "(UTC)" in a header does (Stripe's "Created date (UTC)"); "date=" and a pattern, last,
    says how a date column is written when its values cannot tell ("date=DD/MM/YY", "date=D
    MMMM YYYY" with the month's name in the shop's language: ``month_names.DatePattern``).
    """

    decimal: Decimal | None = None
    day_first: bool | None = None
    percent: bool | None = None
    utc: bool | None = None
    date: str | None = None

    @classmethod
    def parse(cls, text: str) -> ColumnFormat:
        decimal: Decimal | None = None
        day_first: bool | None = None
        percent: bool | None = None
        utc: bool | None = None
        date: str | None = None
        text, said, pattern = text.partition("date=")
        if said:
            date = month_names.DatePattern(pattern).text  # ValueError when it names no date
        for word in text.split():
            if word in ("decimal=,", "decimal=."):
                decimal = "," if word.endswith(",") else "."
            elif word in ("dayfirst", "monthfirst"):
                day_first = word == "dayfirst"
            elif word == "percent":
                percent = True
            elif word == "utc":
                utc = True
            else:
                raise ValueError(
                    f"{word!r} is not a column format; use decimal=, or decimal=. and/or "
                    "dayfirst or monthfirst, or percent, or utc, or date= and a pattern, last "
                    '(e.g. "decimal=, dayfirst", "utc date=DD.MM.YY")'
                )
        return cls(decimal, day_first, percent, utc, date)

    def over(self, other: ColumnFormat | None) -> ColumnFormat:
        """This format where it says something, ``other`` where it does not (the config's
        statement over what a header says)."""
        if other is None:
            return self
        return ColumnFormat(
            self.decimal if self.decimal is not None else other.decimal,
            self.day_first if self.day_first is not None else other.day_first,
            self.percent if self.percent is not None else other.percent,
            self.utc if self.utc is not None else other.utc,
            self.date if self.date is not None else other.date,
        )


UNSAVED_FORMULA = "is a formula without a saved value"  # an UnreadCell's reason starts so


@dataclass(frozen=True)
class UnreadCell:
    """A cell a source holds but cannot give the value of, and why: a workbook formula
    that Excel never calculated has no saved value. ``schema.validate`` reports it as an
    unreadable value (cleared, or the row rejected in a required column), never as empty."""

    text: str  # what the cell holds ("=D2*E2")
    reason: str  # said after the column's name: "is a formula without a saved value: ..."

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Hint:
    """A column's likely format from the rest of its table, with the reason, for notes."""

    decimal: Decimal | None = None
    decimal_why: str = ""
    day_first: bool | None = None
    day_first_why: str = ""


@dataclass
class Reading:
    """A column read: typed values, values present but unreadable, and what to tell the user.

    ``reasons`` gives the reason for an unreadable value when it is more specific than
    "not a number" (keyed by the value as it arrived); ``notes`` are about the column.
    """

    values: pd.Series
    invalid: pd.Series
    reasons: dict[Any, str] = field(default_factory=dict)
    notes: list[tuple[NoteKind, str]] = field(default_factory=list)


_WHOLE_AMOUNT = re.compile(r"(?<=\d)[.,](?:--?|[\u2013\u2014])$")


def _unwrap(value: str) -> tuple[str, bool, bool]:
    """A number as typed without spaces, currency, brackets, "%" or a trailing minus:
    (what is left, negative, percent)."""
    text = fold_width(value).strip().translate(_GROUPING).replace(_MINUS, "-")
    text = _CURRENCY_AFTER.sub("", _CURRENCY_BEFORE.sub(r"\1", text, count=1), count=1)
    negative = text.startswith("(") and text.endswith(")")
    if negative:
        text = text[1:-1]
    text = _CURRENCY.sub("", text)
    text = _CURRENCY_AFTER.sub("", _CURRENCY_BEFORE.sub(r"\1", text, count=1), count=1)
    percent = text.endswith("%")
    if percent:
        text = text[:-1]
    whole = _WHOLE_AMOUNT.search(text)
    if whole:  # "12,-" and "12.–" are twelve, no cents (German, Swiss, Dutch prices); the
        text = text[: whole.start() + 1] + "00"  # mark stays: it says which one is decimal
    elif text.endswith("-"):  # "99-" is how some ledgers write a negative
        negative, text = True, text[:-1]
    return text, negative, percent


def _number_parts(value: str) -> tuple[str, str, bool, bool]:
    """Split a number as typed into (sign and digits with marks, exponent, negative, percent)."""
    text, negative, percent = _unwrap(value)
    match = _MANTISSA.match(text) if _NUMBER.match(text) else None
    if not match:
        raise ValueError("not a number")
    return match.group(1) + match.group(2), match.group(3) or "", negative, percent


def _read_mantissa(mantissa: str, decimal: Decimal) -> str:
    """Read digits with ``decimal`` as the decimal mark and the other mark grouping thousands."""
    group = _OTHER[decimal]
    sign = mantissa[:1] if mantissa[:1] in "+-" else ""
    head, _, tail = mantissa[len(sign) :].partition(decimal)
    if decimal in tail or group in tail or not (head or tail):
        raise ValueError(f"does not fit {decimal!r} as the decimal mark")
    g = re.escape(group)  # thousands: 1,234,567; lakhs (India): 12,34,567
    if group in head and not re.fullmatch(
        rf"\d{{1,3}}({g}\d{{3}})+|\d{{1,2}}({g}\d{{2}})+{g}\d{{3}}", head
    ):
        raise ValueError(f"does not fit {decimal!r} as the decimal mark")
    return f"{sign}{head.replace(group, '') or '0'}.{tail or '0'}"


def _evidence(mantissa: str, whole: bool, no_cents: bool = False) -> str:
    """Which decimal mark one value proves: "," or ".", "?" (either fits) or "" (no mark).

    ``no_cents``: the amounts are in a currency without a minor unit (yen, won), where
    "14,300" and "14.300" can only be thousands."""
    digits = mantissa.lstrip("+-")
    commas, dots = digits.count(","), digits.count(".")
    if not commas and not dots:
        return ""
    if commas and dots:  # "1.234,50" / "1,234.50": the last mark is the decimal one
        return "," if digits.rfind(",") > digits.rfind(".") else "."
    mark: Decimal = "," if commas else "."
    if commas + dots > 1:  # "1,234,567": the mark groups thousands
        return _OTHER[mark]
    head, _, tail = digits.partition(mark)
    if len(tail) != 3 or not head or head.startswith("0") or len(head) > 3:
        return mark  # "12,5", "0,125", ",5", "1234,567": nobody groups thousands like that
    if whole and tail != "000":  # a whole-number column: "1,234" cannot be 1.234
        return _OTHER[mark]
    if no_cents:  # nobody writes three decimals of a yen
        return _OTHER[mark]
    return "?"  # "3,000", "1.234": thousands, or three decimals


def _fits(mantissa: str, decimal: Decimal) -> bool:
    try:
        _read_mantissa(mantissa, decimal)
    except ValueError:
        return False
    return True


@dataclass
class NumberScan:
    """A column's distinct values, how often each occurs and the decimal mark each proves,
    from one pass: the table's hint and the column's own reading share it.

    Per distinct value: ``present`` (not a "no value" token), ``proofs`` ("," / "." /
    "?" / "" as ``_evidence`` says, a proof the value does not fit dropped to "", None
    when it is not a number as typed), ``plain`` (see ``plain_numbers``) and, for plain
    ones, ``floats``, their value as Python reads it.
    """

    distinct: Distinct
    present: np.ndarray
    counts: np.ndarray
    proofs: np.ndarray
    plain: np.ndarray
    floats: np.ndarray
    whole: bool
    no_cents: bool = False
    # The votes of the whole file when this is one page of it (``schema.Evidence``): a
    # page decides as its file's values do, not by its own few.
    told: dict[str, int] | None = None

    def votes(self) -> dict[str, int]:
        if self.told is not None:
            return dict(self.told)
        return self.own_votes()

    def own_votes(self) -> dict[str, int]:
        """How many of this scan's values prove each mark (",", "."), or fit either ("?")."""
        return {mark: int(self.counts[self.proofs == mark].sum()) for mark in (",", ".", "?")}


def scan_numbers(series: pd.Series, whole: bool = False, no_cents: bool = False) -> NumberScan:
    """``no_cents``: amounts in a currency without a minor unit (see ``_evidence``)."""
    distinct = Distinct.of(series)
    n = len(distinct.values)
    codes = distinct.codes
    counts = np.bincount(codes[codes >= 0], minlength=n)
    if distinct.all_text and n:
        quick = plain_numbers.classify(distinct.values, whole)
        plain, proofs, floats = quick.plain, quick.proof, quick.value
    else:
        plain, proofs, floats = np.zeros(n, bool), np.full(n, None, object), np.full(n, np.nan)
    present = np.ones(n, dtype=bool)
    for i in np.flatnonzero(~plain).tolist():  # the rest, value by value
        value = distinct.values[i]
        present[i] = not is_missing(value)
        proofs[i] = _slow_proof(value, whole, no_cents) if present[i] else None
    if no_cents:  # a plain "1.150" fits either mark unless yen have no decimals
        proofs[plain & (proofs == "?")] = ","
    return NumberScan(distinct, present, counts, proofs, plain, floats, whole, no_cents)


def _slow_proof(value: Any, whole: bool, no_cents: bool = False) -> str | None:
    if not isinstance(value, str):
        return ""
    try:
        mantissa = _number_parts(value)[0]
    except ValueError:
        return None
    proof = _evidence(mantissa, whole, no_cents)
    if proof in ("", "?") or _fits(mantissa, proof):  # type: ignore[arg-type]
        return proof
    return ""


def number_evidence(series: pd.Series, whole: bool = False) -> dict[str, int]:
    """How many values prove each decimal mark ("," / "."), and how many fit either ("?")."""
    return scan_numbers(series, whole).votes()


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _present_counts(series: pd.Series) -> pd.Series:
    """How often each value that is not missing occurs (missing checked once per value)."""
    distinct = Distinct.of(series)
    codes = distinct.codes
    counts = np.bincount(codes[codes >= 0], minlength=len(distinct.values))
    keep = ~distinct.missing() & (counts > 0)
    values = np.empty(len(distinct.values), dtype=object)
    values[:] = distinct.values
    return pd.Series(counts[keep], index=pd.Index(values[keep], dtype=object))


def is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip().lower() in MISSING_TOKENS


def _missing(series: pd.Series) -> pd.Series:
    """``is_missing`` for a whole column: empty, NaN, or a token such as "n/a" or "-"."""
    mask = series.isna()
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return mask
    if pd.api.types.is_datetime64_any_dtype(series):
        return mask
    distinct = Distinct.of(series)
    return distinct.take(distinct.missing(), True, series.index, np.dtype(bool))


def _stripped(series: pd.Series) -> pd.Series:
    """Text values stripped; anything that is not text becomes NaN."""
    distinct = Distinct.of(series)
    done = [v.strip() if isinstance(v, str) else np.nan for v in distinct.values]
    return distinct.take(done, np.nan, series.index)


def _map_unique(
    series: pd.Series, parse: Callable[[Any], Any], dtype: str | None = None
) -> tuple[pd.Series, pd.Series]:
    """Apply ``parse`` once per distinct value; ``parse`` returns a value or raises ValueError."""
    distinct = Distinct.of(series)
    missing = distinct.missing().tolist()
    parsed: list[Any] = [None] * len(distinct.values)
    bad = np.zeros(len(distinct.values), dtype=bool)
    for i, value in enumerate(distinct.values):
        if missing[i]:
            continue
        try:
            parsed[i] = parse(value)
        except (ValueError, TypeError, OverflowError):
            bad[i] = True
    values = distinct.take(parsed, None, series.index)
    if dtype is not None:
        values = values.astype(dtype)
    return values, distinct.take(bad, False, series.index, np.dtype(bool))


def parse_number(value: Any) -> float:
    """Read a number the way a person wrote it; raise ValueError when it is not one."""
    if isinstance(value, bool):
        raise ValueError("a true/false value is not a number")
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        if math.isinf(number):
            raise ValueError("infinite")
        return number
    text, negative, percent = _unwrap(str(value))
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


# Callers with no one to tell (analytics on a sheet range, worksheet functions) read a
# column's values that fit both marks with a decimal point, as they always did; the
# column's own proof still decides first. ``schema.validate`` reports instead.
_POINT = Hint(decimal=".", decimal_why="no other value tells")


def coerce_float(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    reading = read_numbers(series, hint=_POINT)
    return reading.values, reading.invalid


def coerce_int(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    reading = read_numbers(series, hint=_POINT, whole=True)
    return reading.values, reading.invalid


def _decide(
    votes: dict[str, int], stated: Any, hinted: Any, default: Any
) -> tuple[Any, Literal["values", "config", "hint", "default"]]:
    """The majority of the values' proofs; on no proof or a tie, the config, the hint, a default."""
    (first, n_first), (second, n_second) = votes.items()
    if n_first != n_second:
        return (first if n_first > n_second else second), "values"
    if stated is not None:
        return stated, "config"
    if hinted is not None:
        return hinted, "hint"
    return default, "default"


def read_numbers(
    series: pd.Series,
    fmt: ColumnFormat | None = None,
    hint: Hint | None = None,
    whole: bool = False,
    scan: NumberScan | None = None,
    no_cents: bool = False,
) -> Reading:
    """Read a column of numbers, deciding its decimal mark from all of its values.

    A value such as "0,125" or "1.234,50" proves a decimal comma and "0.125" or
    "1,234.50" a decimal point; "3,000" alone fits both. The mark most values prove
    wins and values proving the other are unreadable (not swapped); with no proof the
    config (``fmt``), then the rest of the table (``hint``) decide, and if nothing does,
    values that fit both are left unread and the column gets a note. ``scan`` is
    ``scan_numbers(series, whole, no_cents)`` when the caller has it already; ``no_cents``:
    the column holds amounts in a currency without a minor unit (yen, won), so a value
    such as "14,300" is fourteen thousand three hundred.
    """
    fmt, hint = fmt or ColumnFormat(), hint or Hint()
    if scan is None or scan.whole != whole or scan.no_cents != no_cents:
        scan = scan_numbers(series, whole, no_cents)
    votes = scan.votes()
    ambiguous = votes.pop("?")
    decimal, how = _decide(votes, fmt.decimal, hint.decimal, None)
    minority = votes[_OTHER[decimal]] if decimal else 0
    # In a column that mixes both marks, a value that fits both is a coin toss: not read.
    reading = _read_number_values(series, scan, decimal, strict=bool(minority))
    if minority:
        reading.notes.append(
            ("decimal", f"{_n(minority, 'value')} use {_OTHER[decimal]!r} as the decimal mark where "
             f"{votes[decimal]:,} use {decimal!r}; those, and {ambiguous:,} that fit either, "
             "were left out, not guessed")
        )  # fmt: skip
    if how == "values" and fmt.decimal and fmt.decimal != decimal:
        reading.notes.append(
            ("decimal", f"the config says decimal={fmt.decimal} but the values show {decimal!r}; "
             "read with the values' mark")
        )  # fmt: skip
    if ambiguous and how == "hint":
        reading.notes.append(
            ("decimal", f"{_n(ambiguous, 'value')} (like 3,000 or 1.234) fit either decimal mark; "
             f"read with {decimal!r} as the decimal mark because {hint.decimal_why}")
        )  # fmt: skip
    elif ambiguous and decimal is None:
        reading.notes.append(
            ("decimal", f"{_n(ambiguous, 'value')} (like 3,000 or 1.234) could be thousands or "
             "decimals and no value in the column tells which; they were left empty")
        )  # fmt: skip
    shown, count = _written_missing(scan)
    if count:
        reading.notes.append(
            ("text", f"{_n(count, 'value')} written as {', '.join(shown[:3])} "
             f"{'was' if count == 1 else 'were'} read as "
             "missing, not as a number (leave the cell empty, or type the number)")
        )  # fmt: skip
    return reading


def _written_missing(scan: NumberScan) -> tuple[list[str], int]:
    """Cells that spell out "no value" (n/a, -, null ...) instead of being empty: the first
    few spellings in column order, and how many cells."""
    values, counts = scan.distinct.values, scan.counts
    spelled = [
        i for i in np.flatnonzero(~scan.present).tolist()
        if isinstance(values[i], str) and values[i].strip()
    ]  # fmt: skip
    shown = list(dict.fromkeys(repr(values[i].strip()) for i in sorted(spelled)))
    return shown, int(sum(counts[i] for i in spelled))


def _read_number_values(
    series: pd.Series, scan: NumberScan, decimal: Decimal | None, strict: bool
) -> Reading:
    """Read text with ``decimal`` as the mark; ``strict``: values fitting both are unread."""
    whole = scan.whole
    reasons: dict[Any, str] = {}
    typed = 0
    # A plain value reads as Python reads it unless the column's mark says otherwise.
    marks = {""} | ({".", "?"} if decimal == "." and not strict else set())
    if decimal is None:
        marks.add(".")
    fast = scan.plain & np.isin(scan.proofs.astype(str), list(marks))
    if whole:  # fast values are at most 15 digits: exact as floats and as ints
        fractional = fast & (scan.floats != np.floor(scan.floats))
        fast &= ~fractional
    else:
        fractional = np.zeros(len(fast), dtype=bool)
    parsed = np.full(len(fast), None, dtype=object)
    parsed[fast] = (scan.floats[fast].astype(np.int64) if whole else scan.floats[fast]).tolist()
    bad = fractional.copy()
    as_text = int(fast.sum() + fractional.sum())
    for i in np.flatnonzero(scan.present & ~fast & ~fractional).tolist():
        value = scan.distinct.values[i]
        try:
            if not isinstance(value, str):
                typed += 1
                number = parse_number(value)
            else:
                mantissa, exponent, negative, percent = _number_parts(value)
                number = _read_with(
                    value, mantissa, exponent, decimal, (whole, scan.no_cents), strict, reasons
                )
                number = -abs(number) if negative else number
                number = number / 100 if percent else number
                as_text += 1
            if whole and not float(number).is_integer():
                raise ValueError("not a whole number")
            parsed[i] = int(number) if whole else number
        except (ValueError, TypeError, OverflowError):
            bad[i] = True
    distinct = scan.distinct
    if whole:  # via float64 an integer over 2**53 would lose digits
        values = distinct.take(parsed, None, series.index).astype("Int64")
    else:
        floats = np.where(pd.isna(parsed), np.nan, parsed).astype(float)
        values = distinct.take(floats, np.nan, series.index, np.dtype(float)).astype("Float64")
    invalid = distinct.take(bad, False, series.index, np.dtype(bool))
    reading = Reading(values, invalid, reasons)
    if typed and as_text:  # an Excel column where some cells hold numbers as text
        reading.notes.append(
            ("text", f"{_n(as_text, 'distinct value')} stored as text read as numbers")
        )
    return reading


def _read_with(
    value: str, mantissa: str, exponent: str, decimal: Decimal | None,
    whole: tuple[bool, bool], strict: bool, reasons: dict[Any, str],
) -> float:  # fmt: skip
    """``whole``: (a whole-number column, amounts without cents), as ``_evidence`` takes."""
    proof = _evidence(mantissa, *whole)
    if proof == "":
        return float(mantissa + exponent)
    if proof == "?" and (decimal is None or strict):
        reasons[value] = (
            "fits either decimal mark and this column uses both"
            if decimal
            else "could be thousands or decimals; state the decimal mark in the config"
        )
        raise ValueError("ambiguous")
    mark: Decimal = decimal if decimal is not None else proof  # type: ignore[assignment]
    if proof != "?" and proof != mark and _fits(mantissa, proof):  # type: ignore[arg-type]
        reasons[value] = f"uses {proof!r} as the decimal mark, unlike the rest of the column"
        raise ValueError("contradicts the column")
    return float(_read_mantissa(mantissa, mark) + exponent)


def date_evidence(series: pd.Series) -> dict[str, int]:
    """How many slashed dates prove day/month ("day"), month/day ("month"), fit either ("?")."""
    counts = {"day": 0, "month": 0, "?": 0}
    for value, n in _present_counts(series).items():
        proof = _date_proof(value)
        if proof:
            counts["day" if proof == "dots" else proof] += int(n)
    return counts


def _date_proof(value: Any) -> str:
    """Which order a date written with slashes, dashes or dots proves: "day", "month", "?"
    (fits both), or "" (no such date, or the same day and month). Dots fit both only in
    form: day.month.year is how every locale that writes dots writes a date (German, Swiss,
    Austrian, Nordic, Russian...), so "04.03.2025" proves day first ("dots")."""
    text = fold_width(value) if isinstance(value, str) else ""
    match = _SLASHED.match(text)
    if not match:
        return ""
    first, second = int(match.group(1)), int(match.group(2))
    if first > 12 >= second:
        return "day"
    if second > 12 >= first:
        return "month"
    if first != second and first <= 12 and second <= 12:
        return "dots" if text.strip()[len(match.group(1))] == "." else "?"
    return ""


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


def coerce_string(series: pd.Series, as_written: bool = False) -> tuple[pd.Series, pd.Series]:
    """Text stripped; "n/a", "-", "none" and the like are empty unless ``as_written`` (a
    consent column, where such a token is a value that does not say yes)."""

    def parse(value: Any) -> str:
        # Excel and Sheets hand ids over as floats: 12345.0 must stay "12345".
        if isinstance(value, float | np.floating) and float(value).is_integer():
            return str(int(value))
        if isinstance(value, datetime | pd.Timestamp):
            return value.isoformat()
        return str(value).strip()

    # Text is only stripped, once per distinct value; other values (numbers, dates) go
    # through ``parse``.
    distinct = Distinct.of(series)
    stripped = distinct.stripped()
    out = np.array([*stripped, None], dtype=object)[:-1]  # (the None keeps it 1-D)
    missing = out == "" if as_written else distinct.missing(stripped)
    out[missing] = None
    bad = np.zeros(len(stripped), dtype=bool)
    others = [] if distinct.all_text else np.flatnonzero(~missing).tolist()
    for i in others:
        value = stripped[i]
        if isinstance(value, str):
            continue
        try:
            out[i] = parse(value)
        except (ValueError, TypeError, OverflowError):
            bad[i] = True
    values = distinct.take(out, None, series.index).astype("string")
    return values, distinct.take(bad, False, series.index, np.dtype(bool))


def parse_datetime(
    value: Any, day_first: bool = False, zone: tzinfo | str | None = None
) -> pd.Timestamp:
    """Read one date or time as a UTC instant. One written without an offset (and an
    Excel date number) is what ``zone``'s clock showed (UTC when None); an epoch number
    is an instant (see business_zone)."""
    stamp = _read_stamp(value, day_first, zone)
    if stamp.tzinfo is None:
        if _other_zone(zone):
            local = stamp.tz_localize(zone, ambiguous=True, nonexistent="shift_forward")
            return local.tz_convert(UTC)
        return stamp.tz_localize(UTC)
    return stamp.tz_convert(UTC)


def _read_stamp(
    value: Any, day_first: bool = False, zone: tzinfo | str | None = None
) -> pd.Timestamp:
    """One date or time as written: with a zone when it had an offset (or was an epoch
    number), without one when it was a clock's reading. A zone word at the end ("10:00 PM
    EST"), or between the time and the year as `date` and Unix exports write it ("Tue Mar
    4 10:00:00 CST 2025"), is its offset; one several zones write (CST) is the shop's
    ``zone`` when that zone writes it then, else the value is refused (``ZoneWordError``)."""
    if isinstance(value, bool):
        raise ValueError("a true/false value is not a date")
    if isinstance(value, pd.Timestamp | datetime | date):
        stamp = pd.Timestamp(value)
    elif isinstance(value, int | float | np.integer | np.floating) or (
        isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value)
    ):
        stamp = _from_number(float(value))
    else:
        text = _written_offset(fold_width(str(value)).strip())
        named = month_names.iso_date(text)  # "3 févr. 2025", "2025年3月20日": year first
        text = named if named is not None else text
        # (?!\d), not \b: "2025-10-07T09:50-04" has no word boundary before its "T".
        year_first = re.match(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)(.*)$", text)
        # The zone word first, whatever the date's form: pandas dropped the word of a
        # year-first date ("2025-03-04 10:00 EST" on the shop's clock, with its warning).
        if (worded := _ZONE_WORD.match(text)) and worded[2].upper() in ("UHR", "H"):
            stamp = _read_stamp(worded[1], day_first)  # "10:00 Uhr", "10:00 h": no zone
        elif worded and worded[2].upper() not in ("AM", "PM"):
            stamp = _in_zone_word(_read_stamp(worded[1], day_first), worded[2].upper(), zone)
        elif year_first:
            # Year first is always year-month-day, and strict: dateutil would read
            # "2025-13-01" as 13 January, and "2025/03/04" as 3 April when day-first.
            year, month, day, rest = year_first.groups()
            if _LIKE_ZONE.search(_AM_PM.sub("", rest)):  # a zone-like word no rule above read
                raise ValueError("a date with a word pandas would drop")
            stamp = pd.Timestamp(f"{year}-{month:0>2}-{day:0>2}{rest}")
        elif (unix := _UNIX_ZONE_WORD.match(text)) and unix[2].upper() not in _NOT_ZONES:
            clock = _read_stamp(f"{unix[1]} {unix[3]}", day_first)  # the year back in place
            stamp = _in_zone_word(clock, unix[2].upper(), zone)
        else:
            # A default in year 1 makes "March 5" (no year) fail below instead of
            # silently taking today's year.
            parsed = date_parser.parse(
                text, dayfirst=day_first, default=datetime(1, 1, 1), tzinfos=_dateutil_zone
            )
            if parsed.year < 1900:
                raise ValueError("a date without a year")
            stamp = pd.Timestamp(parsed)
    if stamp is pd.NaT or not 1900 <= stamp.year <= 2200:
        raise ValueError("not a date between 1900 and 2200")
    return stamp


class ZoneWordError(ValueError):
    """A time whose zone word cannot be read as one offset; its message is the reason."""


# A time, then a zone's abbreviation: "Mar 4, 2025 10:00 PM EST", "07.03.2025 10:00 CET".
_ZONE_WORD = re.compile(
    r"^(.*\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*[AaPp]\.?[Mm]\.?)?)\s*\(?([A-Za-z]{1,5})\)?$"
)
# A zone word between the time and the year, as `date` and Unix exports write it: "Tue Mar
# 4 10:00:00 CST 2025". Read as one at the end is; dateutil's own reading took no account
# of the shop's zone, so CST was refused even in Chicago.
_UNIX_ZONE_WORD = re.compile(
    r"^(.*\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*[AaPp]\.?[Mm]\.?)?)\s+\(?([A-Za-z]{1,5})\)?"
    r"\s+(\d{4})$"
)
_NOT_ZONES = frozenset({"AM", "PM", "UHR", "H"})  # words after a time that name no zone
_AM_PM = re.compile(r"\b[AaPp]\.?[Mm]\b\.?")
_LIKE_ZONE = re.compile(r"(?<![A-Za-z])[A-Z]{2,5}(?![A-Za-z])")  # what pandas takes for a zone
# "GMT+0100", "UTC-5", "GMT+05:30": an offset as people and JavaScript's Date write it, UTC
# plus the hours. dateutil read the sign the POSIX way (GMT+1 as UTC-1), two hours off.
_GMT_OFFSET = re.compile(r"\b(?:GMT|UTC)\s*([+-])(\d{1,2})(?::?(\d{2}))?(?!\d)", re.IGNORECASE)
# After an offset, the zone's name in words, as JavaScript's Date.toString() writes it:
# "GMT+0100 (Central European Standard Time)". The offset says it all.
_NAME_AFTER_OFFSET = re.compile(r"([+-]\d{2}:\d{2})\s*\([^()]*\)$")


def _written_offset(text: str) -> str:
    """``text`` with "GMT+0100" as "+01:00", and a zone's name after an offset left out."""
    upper = text.upper()
    if "GMT" not in upper and "UTC" not in upper and not text.endswith(")"):
        return text
    text = _GMT_OFFSET.sub(lambda m: f" {m[1]}{int(m[2]):02d}:{m[3] or '00'}", text)
    return _NAME_AFTER_OFFSET.sub(r"\1", text).strip()


# Abbreviations one zone writes, as hours from UTC.
ZONE_WORDS = {
    "UTC": 0, "GMT": 0, "UT": 0, "Z": 0, "WET": 0, "WEST": 1, "CET": 1, "CEST": 2,
    "MET": 1, "MEST": 2, "EET": 2, "EEST": 3, "MSK": 3, "SAST": 2, "EST": -5, "EDT": -4,
    "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7, "AKST": -9, "AKDT": -8,
    "HST": -10, "NST": -3.5, "NDT": -2.5, "JST": 9, "KST": 9, "HKT": 8, "SGT": 8,
    "AWST": 8, "ACST": 9.5, "ACDT": 10.5, "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13,
}  # fmt: skip
# Abbreviations several zones write: which, for the line that refuses them.
SHARED_ZONE_WORDS = {
    "CST": "US Central (UTC-6), China (UTC+8) or Cuba (UTC-5)",
    "IST": "India (UTC+5:30), Ireland (UTC+1) or Israel (UTC+2)",
    "BST": "British summer time (UTC+1) or Bangladesh (UTC+6)",
    "AST": "Atlantic (UTC-4) or Arabia (UTC+3)",
    "ADT": "Atlantic daylight time (UTC-3) or Arabia daylight time (UTC+4)",
}


def _in_zone_word(stamp: pd.Timestamp, word: str, zone: tzinfo | str | None) -> pd.Timestamp:
    """``stamp`` (a clock's reading) in the zone ``word`` names: its offset when one zone
    writes it; a word several write is the shop's ``zone`` when that zone writes it at that
    time (CST in America/Chicago in winter); anything else is refused."""
    if stamp.tzinfo is not None:
        raise ZoneWordError(f"has both an offset and the zone {word}")
    if zone is not None and not is_utc(zone):
        local = _as_the_zone_writes(stamp, word, zone)
        if local is not None:
            return local
    if word in ZONE_WORDS:
        return stamp.tz_localize(timezone(timedelta(hours=ZONE_WORDS[word])))
    if word in SHARED_ZONE_WORDS:
        raise ZoneWordError(
            f"has the zone {word}, which names several time zones ({SHARED_ZONE_WORDS[word]}) and "
            "not the business's: write the time with its offset (+01:00), or set time_zone "
            "in the config to the zone you mean"
        )
    raise ZoneWordError(
        f"has the zone word {word}, which is no time zone we know: write the time with its "
        "offset (+01:00) or without a zone"
    )


def _as_the_zone_writes(stamp: pd.Timestamp, word: str, zone: tzinfo | str) -> pd.Timestamp | None:
    """``stamp`` in ``zone`` when the zone's clock showed it under ``word``, else None. The
    hour repeated when summer time ends has two readings, and the word names one ("01:30
    CST" is the second in Chicago, "01:30 CDT" the first). A shared word on a time the
    clocks skipped when summer time began is refused: the zone never wrote it."""
    local = stamp.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")  # one reading
    if local is not pd.NaT:
        return local if local.tzname() == word else None
    summer = stamp.tz_localize(zone, ambiguous=True, nonexistent="NaT")
    if summer is not pd.NaT:  # the repeated hour: the word says which
        winter = stamp.tz_localize(zone, ambiguous=False)
        return next((local for local in (summer, winter) if local.tzname() == word), None)
    after = stamp.tz_localize(zone, nonexistent="shift_forward")  # the first time after the gap
    before = after - pd.Timedelta(1, "ns")
    if word in ZONE_WORDS or word not in (before.tzname(), after.tzname()):
        return None  # a word with one offset is read at it; one the zone does not write, refused
    went = after.tz_localize(None)  # the clock's reading after the gap
    gap = _offset(after) - _offset(before)
    offset = _offset_text(_offset(after if word == after.tzname() else before))
    raise ZoneWordError(
        f"is {stamp:%H:%M} {word} on {stamp.day} {stamp:%B %Y}, a time the clocks of {zone} "
        f"skipped when summer time began (they went from {went - gap:%H:%M} to {went:%H:%M}): "
        f"write the time with its offset ({offset}) or as the clock showed it"
    )


def _offset(stamp: pd.Timestamp) -> pd.Timedelta:
    """How far ``stamp``'s clock is from UTC's."""
    return stamp.tz_localize(None) - stamp.tz_convert(UTC).tz_localize(None)


def _offset_text(offset: pd.Timedelta) -> str:
    """An offset from UTC as written after a time: "-06:00"."""
    minutes = round(offset.total_seconds() / 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _dateutil_zone(name: str | None, offset: int | None) -> tzinfo | None:
    """The zone of a zone word dateutil finds elsewhere than at the end ("Tue Mar 4
    10:00:00 EST 2025"): its offset, or the value is refused. Without it dateutil reads
    the time as the clock's and prints a warning into the run."""
    if offset is not None:  # an offset written: dateutil's reading, as before
        return timezone(timedelta(seconds=offset))
    if name is None:
        return None
    return _in_zone_word(pd.Timestamp(2000, 1, 1), name.upper(), None).tzinfo


def _other_zone(zone: tzinfo | str | None) -> bool:
    """Whether naive times need reading in ``zone`` (anything but UTC or none)."""
    return not is_utc(zone)


def serial_date_text(number: float) -> str | None:
    """A spreadsheet's date number as the date it shows ("2025-03-14", "2025-03-14 09:30"),
    or None when it is no date of the range read as one."""
    if not _EXCEL_SERIAL[0] <= number <= _EXCEL_SERIAL[1]:
        return None
    stamp = _from_number(number)
    return f"{stamp:%Y-%m-%d}" if stamp == stamp.normalize() else f"{stamp:%Y-%m-%d %H:%M}"


def _from_number(number: float) -> pd.Timestamp:
    if _EXCEL_SERIAL[0] <= number <= _EXCEL_SERIAL[1]:
        # To the millisecond, the finest a workbook or sheet keeps: as a float of days,
        # 23:30 on a day in 2026 is 46296.979166666664, which is 23:29:59.999999.
        return pd.Timestamp("1899-12-30") + pd.to_timedelta(round(number * 86_400_000), "ms")
    if _EPOCH_SECONDS[0] <= number < _EPOCH_SECONDS[1]:  # an instant, wherever it was read
        return pd.Timestamp(number, unit="s", tz=UTC)
    if _EPOCH_MILLIS[0] <= number < _EPOCH_MILLIS[1]:
        return pd.Timestamp(number, unit="ms", tz=UTC)
    if 19_000_101 <= number <= 21_001_231 and float(number).is_integer():  # 20250314
        return pd.Timestamp(str(int(number)))
    raise ValueError("a number that is not a date, an Excel date or an epoch time")


_OFFSET_AT_END = r"(?:Z|[+-]\d{2}:?\d{2})\s*$"
_ISO = re.compile(
    r"\s*\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?\s*"
)


@dataclass
class DateScan:
    """A text column's ISO values (pandas reads them in one go) and what the others prove
    about day/month order, from one pass: the table's hint and the column's reading share it."""

    texts: pd.Series
    iso: pd.Series
    votes: dict[str, int]
    dots: int = 0  # of the "day" votes, dotted dates that fit both orders ("04.03.2025")
    dotted: str = ""  # the first of those, as written
    fits_both: str = ""  # the first other date that fits both orders ("03/04/2025")


@dataclass(frozen=True)
class DateVotes:
    """What a column's dates prove about day/month order (a ``DateScan``'s votes, and the
    first dates shown in its notes), addable over the pages of one file."""

    votes: dict[str, int]
    dots: int = 0
    dotted: str = ""
    fits_both: str = ""

    @classmethod
    def of(cls, scan: DateScan) -> DateVotes:
        return cls(dict(scan.votes), scan.dots, scan.dotted, scan.fits_both)

    def __add__(self, other: DateVotes) -> DateVotes:
        votes = {k: n + other.votes.get(k, 0) for k, n in self.votes.items()}
        return DateVotes(
            votes,
            self.dots + other.dots,
            self.dotted or other.dotted,
            self.fits_both or other.fits_both,
        )

    def over(self, scan: DateScan) -> DateScan:
        """``scan`` deciding by these votes (a page of the file these are of)."""
        return dataclasses.replace(
            scan, votes=dict(self.votes), dots=self.dots, dotted=self.dotted,
            fits_both=self.fits_both,
        )  # fmt: skip


def scan_dates(series: pd.Series) -> DateScan:
    distinct = Distinct.of(series)
    stripped = distinct.stripped()
    texts = stripped if distinct.all_text else [v if isinstance(v, str) else "" for v in stripped]
    flags = _iso_flags(texts)
    iso = distinct.take(flags, False, series.index, np.dtype(bool))
    # What the other values prove, from the same distinct values (date_evidence's count).
    codes = distinct.codes
    counts = np.bincount(codes[codes >= 0], minlength=len(texts))
    others = ~np.array(flags, dtype=bool) & ~distinct.missing(stripped) & (counts > 0)
    votes = {"day": 0, "month": 0, "?": 0}
    dots = 0
    dotted = both = ""  # the first dotted date, and other date, fitting both orders
    for i in np.flatnonzero(others).tolist():
        proof = _date_proof(distinct.values[i])
        if proof == "dots":
            dots += int(counts[i])
            dotted = dotted or str(distinct.values[i]).strip()
        elif proof == "?":
            both = both or str(distinct.values[i]).strip()
        if proof:
            votes["day" if proof == "dots" else proof] += int(counts[i])
    return DateScan(distinct.take(texts, "", series.index), iso, votes, dots, dotted, both)


def _iso_flags(texts: list[str], matrix_from: int = 1_000) -> list[bool]:
    """Which texts are ISO dates or times: the usual shapes ("2024-01-05", with " 10:30",
    ":00" and "Z") are checked on a byte matrix by numpy, the others by ``_ISO``."""
    n = len(texts)
    if n < matrix_from:  # a few values: building the matrix costs more than it saves
        return [_ISO.fullmatch(t) is not None for t in texts]
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    try:  # longer texts are cut, and their length keeps them from the fast shapes
        raw = np.array(texts, dtype="S20")
    except UnicodeEncodeError:  # some text is not ASCII: blank those out
        raw = np.array([t if t.isascii() else "" for t in texts], dtype="S20")
    chars = raw.view(np.uint8).reshape(n, 20)
    digit = (chars >= ord("0")) & (chars <= ord("9"))

    def at(positions: list[int], ok: np.ndarray) -> np.ndarray:
        return np.asarray(ok[:, positions].all(axis=1))

    day = at([0, 1, 2, 3, 5, 6, 8, 9], digit) & at([4, 7], chars == ord("-"))
    minute = (
        ((chars[:, 10] == ord("T")) | (chars[:, 10] == ord(" ")))
        & at([11, 12, 14, 15], digit)
        & (chars[:, 13] == ord(":"))
    )
    second = minute & at([17, 18], digit) & (chars[:, 16] == ord(":"))
    known = (
        ((lengths == 10) & day)
        | ((lengths == 16) & day & minute)
        | ((lengths == 19) & day & second)
        | ((lengths == 20) & day & second & (chars[:, 19] == ord("Z")))
    )
    return [
        True if fast else _ISO.fullmatch(t) is not None
        for fast, t in zip(known.tolist(), texts, strict=True)
    ]


def read_dates(
    series: pd.Series,
    fmt: ColumnFormat | None = None,
    hint: Hint | None = None,
    scan: DateScan | None = None,
    zone: tzinfo | str | None = None,
) -> Reading:
    """Read a column of dates, deciding day/month order from all of its values.

    "25/12/2024" proves day/month and "12/25/2024" month/day. The order most values
    prove wins; values that prove the other are unreadable (not swapped). When no value
    decides, the config (``fmt``), then the rest of the table (``hint``) decide, else
    month/day; if some dates fit both orders the column gets a note saying which was used.
    Values without an offset are what ``zone``'s clock showed (UTC when None, or when
    ``fmt.utc`` says the column is written in UTC).
    """
    fmt, hint = fmt or ColumnFormat(), hint or Hint()
    zone = None if fmt.utc else zone
    if pd.api.types.is_datetime64_any_dtype(series):
        # Already dates: naive ones are read on the zone's clock, like naive text.
        if series.dt.tz is not None:
            stamps = series.dt.tz_convert(UTC)
        elif _other_zone(zone):
            stamps = in_zone(series, zone)  # type: ignore[arg-type]
        else:
            stamps = series.dt.tz_localize(UTC)
        return Reading(stamps.astype("datetime64[us, UTC]"), pd.Series(False, index=series.index))
    # ISO text (what HubSpot and most exports send) is parsed by pandas in one go; only
    # the rest goes value by value through parse_datetime.
    scan = scan if scan is not None else scan_dates(series)
    fast = pd.to_datetime(scan.texts.where(scan.iso), format="ISO8601", utc=True, errors="coerce")
    if _other_zone(zone):  # the ISO texts without an offset: their clock was the zone's
        read = scan.iso & fast.notna()
        texts = pd.Series(pd.unique(scan.texts[read]), dtype=object)
        zoned = texts[texts.str.contains(_OFFSET_AT_END, regex=True)]  # once per text
        clock = read & ~scan.texts.isin(zoned)
        if clock.any():
            fast = fast.copy()
            fast[clock] = in_zone(fast[clock].dt.tz_localize(None), zone)  # type: ignore[arg-type]
    fast = fast.where((fast.dt.year >= 1900) & (fast.dt.year <= 2200))
    done = fast.notna()
    rest = series.where(~done)
    votes = dict(scan.votes)  # an ISO text out of range proves no order: the same votes
    stated = month_names.DatePattern(fmt.date) if fmt.date else None
    if stated is not None:  # the config's pattern says the order: nothing to note
        votes = {"day": 0, "month": 0, "?": 0}
    ambiguous, dots = votes.pop("?"), (0 if stated else scan.dots)
    order, how = _decide(votes, _order(fmt.day_first), _order(hint.day_first), "month")
    reasons: dict[Any, str] = {}

    def parse(written: Any) -> pd.Timestamp:
        value = written  # as the config's pattern reads it, if it states one
        if stated is not None and isinstance(written, str):
            try:
                value = stated.iso(fold_width(written))
            except ValueError as unfit:
                reasons[written] = str(unfit)
                raise
        proof = "" if stated is not None else _date_proof(value)
        if proof == "dots" and order != "day":
            reasons[value] = (
                f"is written with dots, day first, but this column is {_ORDER_NAMES[order]}; "
                "left out rather than swapped"
            )
            raise ValueError("contradicts the column")
        if proof in ("day", "month") and proof != order:
            reasons[value] = (
                f"fits only {_ORDER_NAMES[proof]} but this column is {_ORDER_NAMES[order]}; "
                "left out rather than swapped"
            )
            raise ValueError("contradicts the column")
        try:
            stamp = _read_stamp(value, order == "day", zone)
        except ZoneWordError as refused:
            reasons[written] = str(refused)
            raise
        if stamp.tzinfo is None:
            naive.append(written)
        return stamp

    naive: list[Any] = []  # values read as a clock showed them: in the zone, all at once
    values, invalid = _map_unique(rest, parse)
    slow = pd.to_datetime(values, utc=True)  # the naive ones as UTC, for now
    if naive and _other_zone(zone):
        local = rest.isin(naive).to_numpy() & slow.notna().to_numpy()
        slow = slow.copy()
        slow[local] = in_zone(slow[local].dt.tz_localize(None), zone)  # type: ignore[arg-type]
    out = fast.where(done, slow).astype("datetime64[us, UTC]")
    reading = Reading(out, invalid & ~done, reasons)
    minority = votes["month" if order == "day" else "day"]
    name = _ORDER_NAMES[order]
    if minority:
        reading.notes.append(
            ("dates", f"the dates mix both orders: {votes[order]:,} fit only {name} and "
             f"{minority:,} fit only the other order; read as {name} and those {minority:,} "
             f"left out, not swapped; {ambiguous:,} that fit both were read as {name}")
        )  # fmt: skip
    elif dots and order == "day":
        reading.notes.append(
            ("dates", f"{_n(dots, 'date')} written with dots (like {scan.dotted}) fit both "
             "orders and were read day first (day.month.year), as every locale that writes "
             "dates with dots does")
        )  # fmt: skip
    if ambiguous and how in ("hint", "default") and not minority:
        why = hint.day_first_why if how == "hint" else "that is the default"
        reading.notes.append(
            ("dates", f"{_n(ambiguous, 'date')} (like {scan.fits_both or '03/04/2025'}) fit both day/month and month/day "
             f"and none tells which; read as {name} because {why}")
        )  # fmt: skip
    return reading


_ORDER_NAMES = {"day": "day/month", "month": "month/day"}


def _order(day_first: bool | None) -> str | None:
    return None if day_first is None else ("day" if day_first else "month")


def coerce_datetime(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    reading = read_dates(series)
    return reading.values, reading.invalid
