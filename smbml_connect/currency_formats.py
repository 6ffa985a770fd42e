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

from smbml_connect.coerce import fold_width
from smbml_connect.ports import Notice
from smbml_connect.schema import currency_mark, shared_sign

__all__ = ["ColumnCurrencies", "column_currencies", "pattern_currency"]

_BRACKET = re.compile(r"\[\$([^\]\-]*)(?:-([0-9A-Fa-f]+))?\]")
_QUOTED = re.compile(r'"([^"]*)"|\\(.)')
_ISO = re.compile(r"^[A-Z]{3}$")
# Windows locale ids (hexadecimal, as `[$￥-411]` writes them) of the locales Excel's
# currency list offers, by their currency (Microsoft's MS-LCID). One names the currency of a
# shared sign ("$", "¥", "kr") and of a sign we do not know ("Rp", "R", "лв."). Left out:
# locales whose currency changed lately (Croatia's kuna became the euro in 2023).
_IDS_OF = {
    "USD": "409 540A 500A 440A 300A", "CAD": "1009 C0C", "AUD": "C09", "NZD": "1409 481",
    "GBP": "809 452", "CHF": "807 100C 810 1407 417", "JPY": "411", "CNY": "804",
    "TWD": "404", "HKD": "C04 3C09", "SGD": "1004 4809", "MOP": "1404", "KRW": "412",
    "INR": "4009 439 449 445 447 44B 44C 44E 446 44A", "SEK": "41D", "NOK": "414 814",
    "DKK": "406 438 46F", "ISK": "40F", "PLN": "415", "CZK": "405", "HUF": "40E",
    "RON": "418", "BGN": "402", "RUB": "419", "UAH": "422", "TRY": "41F", "ILS": "40D",
    "BRL": "416", "MXN": "80A", "ARS": "2C0A", "CLP": "340A", "COP": "240A", "PEN": "280A",
    "UYU": "380A", "PYG": "3C0A", "BOB": "400A", "GTQ": "100A", "CRC": "140A", "PAB": "180A",
    "DOP": "1C0A", "HNL": "480A", "NIO": "4C0A", "ZAR": "1C09 436", "SAR": "401",
    "AED": "3801", "EGP": "C01", "KWD": "3401", "BHD": "3C01", "QAR": "4001", "OMR": "2001",
    "JOD": "2C01", "MAD": "1801", "TND": "1C01", "IQD": "801", "LYD": "1001", "DZD": "1401",
    "LBP": "3001", "THB": "41E", "VND": "42A", "IDR": "421", "MYR": "43E 4409",
    "PHP": "3409 464", "PKR": "420", "BDT": "845", "KZT": "43F", "GEL": "437", "AMD": "42B",
    "AZN": "42C", "RSD": "241A 281A",
    "EUR": "407 C07 1007 40C 80C 140C 180C 410 40A C0A 403 42D 456 816 413 813 40B 81D 408 "
           "41B 424 425 426 427 43A 46E 462 1809 83C",
}  # fmt: skip
_LOCALE_IDS = {lcid: code for code, ids in _IDS_OF.items() for lcid in ids.split()}
# Spreadsheet locales (File > Settings) whose own currency is written with a shared sign.
_LOCALES = {
    "en_US": ("$", "USD"), "es_US": ("$", "USD"), "en_CA": ("$", "CAD"),
    "fr_CA": ("$", "CAD"), "en_AU": ("$", "AUD"), "en_NZ": ("$", "NZD"),
    "es_MX": ("$", "MXN"), "ja_JP": ("¥", "JPY"), "zh_CN": ("¥", "CNY"),
    "sv_SE": ("kr", "SEK"), "nb_NO": ("kr", "NOK"), "no_NO": ("kr", "NOK"),
    "nn_NO": ("kr", "NOK"), "da_DK": ("kr", "DKK"), "is_IS": ("kr", "ISK"),
    "zh_TW": ("元", "TWD"),
}  # fmt: skip


def pattern_currency(pattern: str, locale: str = "") -> str | None:
    """The ISO code ``pattern`` names, "?" for a sign nothing settles, None for a pattern
    without a currency (a plain number, a date).

    As Excel reads it: a sign that names one currency ("€", "円", "zł") is that currency;
    otherwise the bracket's locale id (`[$￥-411]` is yen, `[$R-1C09]` rand); otherwise a
    shared sign ("¥") is the spreadsheet locale's if that locale writes it. A bracket's sign
    always shows a currency (`[$-409]` alone sets a date's language), so one neither it
    nor its locale id names is "?"; other text nothing names ("pcs") is no currency."""
    sign, where, bracketed = _sign_of(pattern)
    if not sign:
        return None
    if _ISO.match(sign):
        return sign
    mark = currency_mark(sign) or currency_mark(f"{sign}1")  # "US$" alone, "€" alone
    if mark not in (None, "?"):
        return mark
    if where.lstrip("0") in _LOCALE_IDS:
        return _LOCALE_IDS[where.lstrip("0")]
    if mark is None:
        return "?" if bracketed else None
    own, code = _LOCALES.get(locale, ("", ""))
    return code if own and own in fold_width(sign) else "?"


def _sign_of(pattern: str) -> tuple[str, str, bool]:
    """The currency sign ``pattern`` shows, full-width forms folded ("￥" as "¥"), the
    bracket's locale id (upper case, "" for none), and whether the sign is a bracket's."""
    bracket = _BRACKET.search(pattern)
    if bracket is not None:
        return fold_width(bracket[1]).strip(), (bracket[2] or "").upper(), True
    quoted = [m[1] if m[1] is not None else m[2] for m in _QUOTED.finditer(pattern)]
    sign = " ".join(q.strip() for q in quoted if q.strip())
    if not sign:  # a bare sign: what is left once the digits' symbols are taken out
        sign = re.sub(r"[#0,.\s;%()\-_*?@]|\[[^\]]*\]", "", pattern)
    return fold_width(sign).strip(), "", False


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
        sign = _sign_of(shown[0])[0]  # a shared sign as the data check names it, else as shown
        return ColumnCurrencies(unnamed=(where, shared_sign(sign) or sign or None))
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
