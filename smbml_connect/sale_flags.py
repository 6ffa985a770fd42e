"""Whether a product is for sale (``on_sale``), read in the words a products list uses.

Shopify's products export says it in Status (active, archived, draft); a hand-kept list
or tab says it in a column of its own: "Status" archived, "Active" FALSE, "Discontinued"
yes, "Available" no. Each header means something: a yes under "Active" is for sale, a
yes under "Discontinued" or "Archived" is not. As consent does (``consent.under_header``),
a value keeps its header ("Discontinued: yes") when stored as ``on_sale``, so that
``read_on_sale`` reads it the same way whichever source gave it.

A value not understood ("pending", a stock count 12 under "Available") counts as on
sale and is listed with its column, never guessed: not for sale only keeps a product
out of suggestions and price suggestions, so reading an unknown word as "off sale"
would silently hide products the shop still sells.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from smbml_connect.coerce import Reading
from smbml_connect.consent import is_blank

__all__ = [
    "ON_SALE_HEADERS",
    "keep_sale_meaning",
    "read_column",
    "read_on_sale",
    "sale_reason",
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
    mapped = set(columns.values())
    others = [
        str(c)
        for c in frame.columns
        if c not in mapped and _normal(c) in _SALE_NAMES and not _numbers(frame[c])
    ]
    if others:
        said = [frame[c].map(lambda v, h=c: None if is_blank(v) else f"{h}: {_shown(v)}")
                for c in others]  # fmt: skip
        counted = _counts(frame["on_sale"])  # its numbers say nothing: read_column
        rows = zip(values, *said, strict=True)
        values = pd.Series([_settle(row, counted) for row in rows], index=frame.index)
    return frame.assign(on_sale=values.astype(object))


_SALE_NAMES = frozenset(_normal(h) for h in ON_SALE_HEADERS)


def _counts(values: pd.Series) -> bool:
    """Whether a column holds other numbers than 0 and 1: a stock count ("Available" 12),
    whose 0 is sold out, not off sale."""
    texts = (_shown(v) for v in values if not is_blank(v) and not isinstance(v, bool))
    return any(_NUMBER.fullmatch(t) and _normal(t) not in ("0", "1") for t in texts)


def _numbers(values: pd.Series) -> bool:
    """Whether a second sale column holds numbers only, 0 and 1 too: an "Available" stock
    of a one-of-a-kind shop (0 sold out for now) took products a `Status` called active
    out of suggestions (review53b item 2). Beside a column of words it is not read."""
    texts = [_shown(v) for v in values if not is_blank(v) and not isinstance(v, bool)]
    return bool(texts) and all(_NUMBER.fullmatch(t) for t in texts)


def _settle(said: tuple[Any, ...], counted: bool) -> Any:
    """One row's word on sale from its sale columns, the held one first (``counted``: a
    stock count, not read): any that says not for sale wins (it keeps a product out of
    suggestions only when a column says so plainly), then the first that says for sale,
    then the first not understood (said in the data check), else blank."""
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


def read_on_sale(value: Any) -> bool | None:
    """For sale (True), not (False), or None when empty or not understood."""
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


def unread_notice(rejects: pd.DataFrame) -> tuple[int, str] | None:
    """The data check of the values cleared from on_sale: how many, and one line naming
    the column and a value, and why they count as on sale."""
    if rejects.empty:
        return None
    cleared = rejects[
        rejects["table"].eq("products")
        & rejects["column"].eq("on_sale")
        & rejects["action"].eq("value cleared")
    ]
    if cleared.empty:
        return None
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
    return n, (
        f"Products: {said} whether the product is for sale: counted as on sale (not for "
        "sale only keeps a product out of suggestions and prices, so a guess could hide "
        f"products you sell); write {_OFF_SHOWN} for one you no longer sell (listed in "
        "Rejects)."
    )


def read_column(values: pd.Series) -> Reading:
    """``read_on_sale`` for a column (once per distinct value), with each value not
    understood invalid and its reason. A column holding other numbers than 0 and 1 is a
    stock count ("Available" 12): its 0 is sold out, not off sale, so no number is read."""
    texts = {v: _split(v)[1] for v in values.dropna().unique() if not isinstance(v, bool)}
    numbers = {v for v, t in texts.items() if _NUMBER.fullmatch(t)}
    counts = any(_normal(texts[v]) not in ("0", "1") for v in numbers)
    read: dict[Any, bool | None] = {}
    out: list[bool | None] = []
    invalid: list[bool] = []
    for value in values.astype(object):
        if is_blank(value):
            out.append(None)
            invalid.append(False)
            continue
        if value not in read:
            read[value] = None if counts and value in numbers else read_on_sale(value)
        out.append(read[value])
        invalid.append(read[value] is None)
    reasons = {v: sale_reason(v) for v, bad in zip(values, invalid, strict=True) if bad}
    index = values.index
    flags = pd.Series(out, index=index, dtype="boolean")
    return Reading(flags, pd.Series(invalid, index=index, dtype=bool), reasons)
