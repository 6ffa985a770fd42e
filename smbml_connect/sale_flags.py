"""Whether a product is for sale (``on_sale``), read in the words a products list uses.

Shopify's products export says it in Status (active, archived, draft); a hand-kept list
or tab says it in a column of its own: "Status" archived, "Active" FALSE, "Discontinued"
yes, "Available" no. Each header means something: a yes under "Active" is for sale, a
yes under "Discontinued" or "Archived" is not. As consent does (``consent.under_header``),
a value keeps its header ("Discontinued: yes") when stored as ``on_sale``, so that
``read_on_sale`` reads it the same way whichever source gave it.

A date under a header that says not for sale ("Discontinued" 2025-11-30) is the day
it stopped: not for sale from that day on, still for sale before it (a date after the
run's date is not yet). The column's days are read together, in its own day order, as
any date column's are. A value not understood ("pending", a stock count 12 under
"Available") counts as on sale and is listed with its column, never guessed: not for
sale only keeps a product out of suggestions and price suggestions, so reading an unknown
word as "off sale" would silently hide products the shop still sells. That holds for a
second sale column too ("Discontinued" soon beside "Status" active): the column that can
be read decides, and the value passed over is listed (``unread_beside``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import date
from typing import Any

import pandas as pd

from smbml_connect.coerce import ColumnFormat, Hint, Reading, parse_datetime, read_dates
from smbml_connect.consent import is_blank

__all__ = [
    "ON_SALE_HEADERS",
    "keep_sale_meaning",
    "read_column",
    "read_on_sale",
    "sale_reason",
    "unread_beside",
    "unread_notice",
]

# Headers of a column saying a product is for sale: a yes there is for sale ...
_SAYS_ON = ("on sale", "for sale", "available", "available for sale", "active", "is active",
            "enabled", "sellable")  # fmt: skip
# ... a yes there is not for sale ...
_SAYS_OFF = ("discontinued", "is discontinued", "archived", "is archived", "inactive",
             "retired")  # fmt: skip
# ... and columns of words (Shopify's Status: active, archived, draft).
_SAYS_WORDS = ("status", "product status", "item status", "sale status", "availability")
ON_SALE_HEADERS = (*_SAYS_ON, *_SAYS_OFF, *_SAYS_WORDS)  # synonyms of products.on_sale

_YES = frozenset({"yes", "y", "true", "t", "1", "x", "checked", "on"})
_NO = frozenset({"no", "n", "false", "f", "0", "unchecked", "off"})
# Words that say it whatever the header (Shopify's statuses and their kin).
_OFF_WORDS = frozenset(
    {
        "archived", "draft", "discontinued", "inactive", "disabled", "unpublished", "hidden",
        "retired", "deleted", "not for sale", "off sale", "not on sale", "not available",
        "unavailable", "withdrawn", "delisted", "end of life",
    }
)  # fmt: skip
_ON_WORDS = frozenset(
    {"active", "published", "live", "enabled", "available", "for sale", "on sale", "listed"}
)
_OFF_SHOWN = "archived, draft, discontinued, inactive or no"
_NUMBER = re.compile(r"[+-]?\d+([.,]\d+)?")


def _normal(text: object) -> str:
    return re.sub(r"[^0-9a-z]+", " ", str(text).lower()).strip()


def _off_day(header: str, text: str) -> date | None:
    """The day written under a header that says not for sale ("Discontinued" 2025-11-30,
    a sheet's date number 45991): the day the product stopped being sold. None when the
    header says something else or the text is no date."""
    if _normal(header) not in _OFF_NAMES or not text:
        return None
    try:
        return parse_datetime(text).date()
    except (ValueError, TypeError, OverflowError):
        return None


def _own(header: str) -> bool:
    """Whether ``header`` is the canonical column itself (its values need no header)."""
    return _normal(header) == "on sale" and "_" in header


def _shown(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel's and Sheets' 1.0
    return str(value).strip()


def keep_sale_meaning(frame: pd.DataFrame, columns: Mapping[str, str]) -> pd.DataFrame:
    """``frame``, whose headers ``columns`` (source header -> canonical column) mapped,
    with an ``on_sale`` taken from another header written with it ("Discontinued: yes"):
    renamed, a yes under "Discontinued" would read as for sale.

    A list may say it in several columns ("Status" in stock, "Discontinued" yes): one
    header holds ``on_sale`` and the others stay in extra, but each row reads them all
    (``_settle``), so a plain "not for sale" in any of them is never passed over."""
    header = next((h for h, c in columns.items() if c == "on_sale"), None)
    if header is None or "on_sale" not in frame:
        return frame
    own = _own(header)
    values = frame["on_sale"].map(lambda v: v if is_blank(v) or own else f"{header}: {_shown(v)}")
    others = _others(frame, set(columns.values()))
    if others:
        said = [frame[c].map(lambda v, h=c: None if is_blank(v) else f"{h}: {_shown(v)}")
                for c in others]  # fmt: skip
        counted = _counts(frame["on_sale"], header)  # its numbers say nothing: read_column
        rows = zip(values, *said, strict=True)
        values = pd.Series([_settle(row, counted) for row in rows], index=frame.index)
    return frame.assign(on_sale=values.astype(object))


_SALE_NAMES = frozenset(_normal(h) for h in ON_SALE_HEADERS)
_OFF_NAMES = frozenset(_normal(h) for h in _SAYS_OFF)


def _others(frame: pd.DataFrame, mapped: set[str]) -> list[str]:
    """The sale columns of ``frame`` besides the one read as ``on_sale`` (kept in extra)."""
    return [
        str(c)
        for c in frame.columns
        if c not in mapped and _normal(c) in _SALE_NAMES and not _numbers(frame[c], str(c))
    ]


def _counts(values: pd.Series, header: str = "") -> bool:
    """Whether a column holds other numbers than 0 and 1: a stock count ("Available" 12),
    whose 0 is sold out, not off sale. A sheet's date numbers under "Discontinued" are
    dates, not counts."""
    texts = (_shown(v) for v in values if not is_blank(v) and not isinstance(v, bool))
    return any(
        _NUMBER.fullmatch(t) and _normal(t) not in ("0", "1") and _off_day(header, t) is None
        for t in texts
    )


def _numbers(values: pd.Series, header: str = "") -> bool:
    """Whether a second sale column holds numbers only, 0 and 1 too: an "Available" stock
    of a one-of-a-kind shop (0 sold out for now) took products a `Status` called active
    out of suggestions (review53b item 2). Beside a column of words it is not read. Date
    numbers under "Discontinued" (a Google sheet's dates) are dates: it is read."""
    texts = [_shown(v) for v in values if not is_blank(v) and not isinstance(v, bool)]
    dates = [t for t in texts if _off_day(header, t) is not None]
    return bool(texts) and all(_NUMBER.fullmatch(t) for t in texts) and len(dates) < len(texts)


def _settle(said: tuple[Any, ...], counted: bool) -> Any:
    """One row's word on sale from its sale columns, the held one first (``counted``: a
    stock count, not read): any that says not for sale wins (it keeps a product out of
    suggestions only when a column says so plainly; a day under "Discontinued" says it
    from that day, which ``read_column`` weighs against the run's date), then the first
    that says for sale, then the first not understood (said in the data check), else
    blank."""
    filled = [(i, v) for i, v in enumerate(said) if not is_blank(v)]
    read = [None if counted and i == 0 else read_on_sale(v) for i, v in filled]
    for want in (False, True, None):
        for (_, value), got in zip(filled, read, strict=True):
            if got is want:
                return value
    return said[0]


def _split(value: Any) -> tuple[str, str]:
    """(header, value as written): "Discontinued: yes" -> ("Discontinued", "yes")."""
    text = _shown(value) if not isinstance(value, bool) else str(value)
    header, said, rest = text.rpartition(": ")
    if said and _normal(header) in {_normal(h) for h in ON_SALE_HEADERS}:
        return header, rest
    return "", text


def read_on_sale(value: Any, today: date | None = None) -> bool | None:
    """For sale (True), not (False), or None when empty or not understood. A day under
    "Discontinued" is not for sale from that day on: for sale only when it is after
    ``today`` (the run's date; None: it counts as said)."""
    if is_blank(value):
        return None
    if isinstance(value, bool):
        return value
    header, text = _split(value)
    word = _normal(text)
    if word in _OFF_WORDS:
        return False
    if word in _ON_WORDS:
        return True
    if word in _YES | _NO:
        off = _normal(header) in _SAYS_OFF
        return (word in _YES) != off
    day = _off_day(header, text)
    if day is not None:
        return today is not None and day > today
    return None


def sale_reason(value: Any) -> str:
    """Why ``value`` was not read as for sale or not (the reject's reason, after "on_sale")."""
    header, text = _split(value)
    where = f"from {header!r}: {text!r}" if header else f"value {text!r}"
    what = "is a number (a stock count?), not" if _NUMBER.fullmatch(text) else "does not say"
    return (
        f"{where} {what} whether the product is for sale ({_OFF_SHOWN} say it is not): "
        "counted as on sale"
    )


def unread_beside(
    frame: pd.DataFrame, spec_names: Collection[str], today: date | None = None
) -> list[tuple[int, str, str]]:
    """Values of a second sale column not understood ("Discontinued" soon beside "Status"
    active) on rows whose ``on_sale`` another column gave: (position, value with its
    header, why). ``keep_sale_meaning`` passes them over for the value it can read, so
    they went unsaid while the same value alone was said (review53b item 3)."""
    if "on_sale" not in frame:
        return []
    out = []
    for column in _others(frame, {*spec_names, "extra"}):
        for at, (value, held) in enumerate(zip(frame[column], frame["on_sale"], strict=True)):
            if is_blank(value):
                continue
            said = f"{column}: {_shown(value)}"
            if said == held or read_on_sale(said, today) is not None:
                continue  # read, or it is the row's on_sale (said with it)
            decides = None if is_blank(held) else (_split(held)[0] or "on_sale")
            why = sale_reason(said).removesuffix(": counted as on sale")
            end = f"{decides!r} decides for this row" if decides else "counted as on sale"
            out.append((at, said, f"{why}: {end}"))
    return out


def unread_notice(rejects: pd.DataFrame) -> list[tuple[int, str]]:
    """The data checks of the values cleared from on_sale, one per column: how many, one
    naming the column, a value and its row, and why they count as on sale."""
    if rejects.empty:
        return []
    cleared = rejects[
        rejects["table"].eq("products")
        & rejects["column"].eq("on_sale")
        & rejects["action"].eq("value cleared")
    ]
    headers = cleared["value"].map(lambda v: _split(v)[0])
    return [_unread_line(cleared[headers.eq(h).to_numpy()]) for h in pd.unique(headers)]


def _unread_line(cleared: pd.DataFrame) -> tuple[int, str]:
    first = cleared.iloc[0]
    header, text = _split(first["value"])
    column = repr(header) if header else "on_sale"
    n = len(cleared)
    row = f" (row {int(first['source_row'])})" if pd.notna(first["source_row"]) else ""
    said = (
        f"{column} = {text!r}{row} does not say"
        if n == 1
        else f"{n:,} values of {column} do not say, e.g. {text!r}{row},"
    )
    beside = cleared["reason"].str.endswith(" decides for this row").any()
    counted = (
        "another sale column that says decides, else it is counted as on sale"
        if beside
        else "counted as on sale"
    )
    return n, (
        f"Products: {said} whether the product is for sale: {counted} (not for "
        "sale only keeps a product out of suggestions and prices, so a guess could hide "
        f"products you sell); write {_OFF_SHOWN} for one you no longer sell (listed in "
        "Rejects)."
    )


def read_column(
    values: pd.Series,
    today: date | None = None,
    fmt: ColumnFormat | None = None,
    hint: Hint | None = None,
    zone: str | None = None,
) -> Reading:
    """``read_on_sale`` for a column (once per distinct value) on the run's date, with
    each value not understood invalid and its reason. A column holding other numbers than
    0 and 1 is a stock count ("Available" 12): its 0 is sold out, not off sale, so no
    number is read (a date number under "Discontinued" is a date).

    The days under "Discontinued" are read together, as any date column is
    (``read_dates``): "25/11/2025" in the column makes its "10/11/2025" 10 November, and
    when no value tells the order the config (``fmt``), the table (``hint``), else
    month/day decide, with a note. A time with an offset is taken on the business's
    clock (``zone``) before its date is."""
    texts = {v: _split(v) for v in values.dropna().unique() if not isinstance(v, bool)}
    numbers = {v for v, (h, t) in texts.items() if _NUMBER.fullmatch(t) and _off_day(h, t) is None}
    counts = any(_normal(texts[v][1]) not in ("0", "1") for v in numbers)
    days, dated = _column_days(values, fmt, hint, zone)
    read: dict[Any, bool | None] = {}
    out: list[bool | None] = []
    invalid: list[bool] = []
    for value in values.astype(object):
        if is_blank(value):
            out.append(None)
            invalid.append(False)
            continue
        if value not in read:
            if (counts and value in numbers) or _split(value)[1] in dated.reasons:
                read[value] = None  # a count, or a day that contradicts its column
            elif value in days:  # a day under "Discontinued", read with its column
                read[value] = today is not None and days[value] > today
            else:
                read[value] = read_on_sale(value, today)
        out.append(read[value])
        invalid.append(read[value] is None)
    reasons = {v: _reason(v, dated) for v, bad in zip(values, invalid, strict=True) if bad}
    index = values.index
    flags = pd.Series(out, index=index, dtype="boolean")
    return Reading(flags, pd.Series(invalid, index=index, dtype=bool), reasons, dated.notes)


def _column_days(
    values: pd.Series, fmt: ColumnFormat | None, hint: Hint | None, zone: str | None
) -> tuple[dict[Any, date], Reading]:
    """The day each value under a not-for-sale header stopped (value -> day), read by
    ``read_dates`` with the column's own day order, and that reading (its reasons, keyed
    by the text as written, and its notes, which name the header)."""
    texts = values.map(_date_text, na_action="ignore").astype(object)
    dated = read_dates(texts, fmt, hint, zone=zone)
    local = dated.values.dt.tz_convert(zone or "UTC")  # the business's day, not UTC's
    days = {
        value: stamp.date()
        for value, stamp, bad in zip(values, local, dated.invalid, strict=True)
        if not bad and pd.notna(stamp)
    }
    headers = sorted({_split(v)[0] for v, t in zip(values, texts, strict=True) if t})
    under = f"the days under {', '.join(map(repr, headers))}"
    dated.notes = [(kind, f"{under}: {text}") for kind, text in dated.notes]
    return days, dated


def _date_text(value: Any) -> str | None:
    """The text of a value that can only be a day: one under a not-for-sale header that
    is no yes, no or word (those ``read_on_sale`` reads); None for any other."""
    if isinstance(value, bool):
        return None
    header, text = _split(value)
    word = _normal(text)
    if _normal(header) not in _OFF_NAMES or word in _OFF_WORDS | _ON_WORDS | _YES | _NO:
        return None
    return text or None


def _reason(value: Any, dated: Reading) -> str:
    """``sale_reason``, or the date reading's own when it refused a day (one that fits
    only the order the column is not: left out rather than swapped)."""
    header, text = _split(value)
    why = dated.reasons.get(text)
    if why is None:
        return sale_reason(value)
    return f"from {header!r}: {text!r} {why}: counted as on sale"
