"""The currency a spreadsheet cell's number format names (Google Sheets and Excel).

Sheets and Excel keep an amount typed as "95,35 €" or "¥14,300" as the bare number, with a
number format whose pattern names the sign: ``#,##0.00 "€"``,
``[$€-407]#,##0.00`` (the bracket: a sign and the locale it comes from, in Windows'
hexadecimal locale ids), ``"¥"#,##0``. The values the source reads are unformatted, so
such a column's currency is only in its formats; a shared sign ("$", "¥", "kr") is named
by its locale id, else by the spreadsheet's locale, else it names none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from smbml_connect.ports import Notice
from smbml_connect.schema import currency_mark

__all__ = ["ColumnCurrencies", "column_currencies", "pattern_currency"]

_BRACKET = re.compile(r"\[\$([^\]\-]*)(?:-([0-9A-Fa-f]+))?\]")
_QUOTED = re.compile(r'"([^"]*)"|\\(.)')
_ISO = re.compile(r"^[A-Z]{3}$")
# Windows locale ids (hexadecimal) whose sign is a shared one: which currency it is there.
_LOCALE_IDS = {
    "409": "USD", "1009": "CAD", "C09": "AUD", "1409": "NZD", "80A": "MXN", "480A": "USD",
    "411": "JPY", "804": "CNY", "41D": "SEK", "414": "NOK", "814": "NOK", "406": "DKK",
    "40F": "ISK",
}  # fmt: skip
# Spreadsheet locales (File > Settings) whose own currency is written with a shared sign.
_LOCALES = {
    "en_US": ("$", "USD"), "es_US": ("$", "USD"), "en_CA": ("$", "CAD"),
    "fr_CA": ("$", "CAD"), "en_AU": ("$", "AUD"), "en_NZ": ("$", "NZD"),
    "es_MX": ("$", "MXN"), "ja_JP": ("¥", "JPY"), "zh_CN": ("¥", "CNY"),
    "sv_SE": ("kr", "SEK"), "nb_NO": ("kr", "NOK"), "no_NO": ("kr", "NOK"),
    "nn_NO": ("kr", "NOK"), "da_DK": ("kr", "DKK"), "is_IS": ("kr", "ISK"),
}  # fmt: skip


def pattern_currency(pattern: str, locale: str = "") -> str | None:
    """The ISO code ``pattern`` names, "?" for a shared sign nothing settles, None for a
    pattern without a currency (a plain number, a date)."""
    bracket = _BRACKET.search(pattern)
    if bracket is not None:
        sign, where = bracket[1].strip(), (bracket[2] or "").upper()
    else:
        quoted = [m[1] if m[1] is not None else m[2] for m in _QUOTED.finditer(pattern)]
        sign, where = " ".join(q.strip() for q in quoted if q.strip()), ""
        if not sign:  # a bare sign: what is left once the digits' symbols are taken out
            sign = re.sub(r"[#0,.\s;%()\-_*?@]|\[[^\]]*\]", "", pattern)
    if not sign:
        return None
    if _ISO.match(sign):
        return sign
    mark = currency_mark(sign) or currency_mark(f"{sign}1")  # "US$" alone, "€" alone
    if mark != "?":
        return mark
    if where.lstrip("0") in _LOCALE_IDS:
        return _LOCALE_IDS[where.lstrip("0")]
    own, code = _LOCALES.get(locale, ("", ""))
    return code if own and own in sign else "?"


@dataclass
class ColumnCurrencies:
    """What an amount column's cell formats say: `every` row's one currency, else each
    row's own (`rows`) with a line saying so (`notices`); `unnamed` (where, the sign) when
    formats show a sign that names no currency, for the run to say which it shows."""

    every: str | None = None
    rows: dict[Any, str] = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)
    unnamed: tuple[str, str | None] | None = None


def column_currencies(
    codes: Mapping[Any, str | None],
    patterns: Mapping[Any, str | None],
    where: str,
    entity: str,
    menu: str,
    plain_unnamed: bool = False,
) -> ColumnCurrencies:
    """From each cell's `pattern_currency` (a code, "?" for a sign no locale names, None
    for none) the column's currency, one for the workbook and Google Sheets sources alike;
    `where` names the tab and column, `menu` where the user formats a column.
    `plain_unnamed`: plain numbers with no sign at all are said too (Google Sheets, where
    the spreadsheet's locale would name a shared sign)."""
    named = pd.Series([c for c in codes.values() if c and c != "?"], dtype=object)
    counts = named.value_counts()
    if counts.empty:
        shown = [str(patterns[r]) for r, c in codes.items() if c == "?"]
        if not shown:
            return ColumnCurrencies(unnamed=(where, None) if plain_unnamed else None)
        sign = next((s for s in ("$", "¥", "kr") if s in shown[0]), None)
        return ColumnCurrencies(unnamed=(where, sign))
    if len(counts) == 1:  # one currency: the column's, formatted on every cell or not
        return ColumnCurrencies(every=str(counts.index[0]))
    noun = "order" if entity == "orders" else "deal"
    listed = ", ".join(f"{n:,} in {code}" for code, n in counts.items())
    said = Notice(
        "currency_formats",
        entity,
        int(counts.sum()),
        f"{where[0].upper()}{where[1:]}: its amounts are formatted in several currencies "
        f"({listed}): each {noun} is counted in the currency its cell shows, and those in "
        "another currency than the shop's are kept out of the money figures. If they are "
        f"all in one, format the column in it ({menu}).",
    )
    rows = {r: c for r, c in codes.items() if c and c != "?"}
    return ColumnCurrencies(rows=rows, notices=[said])
