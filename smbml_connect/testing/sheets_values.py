"""How Sheets turns typed text into cell values and cell values back into text.

USER_ENTERED parses like a person typing (formulas, numbers, percents, amounts with a
currency sign, dates, TRUE); RAW stores strings as they are. Rendering follows valueRenderOption and
dateTimeRenderOption. Dates are serial numbers counted from 1899-12-30, as in Sheets.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

__all__ = [
    "ERRORS",
    "Cell",
    "error_cell",
    "from_serial",
    "parse_user_entered",
    "render",
    "to_serial",
]

EPOCH = datetime(1899, 12, 30)
_NUMBER = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?([eE][+-]?\d+)?$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_SLASH_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
# An amount typed with its currency's sign ("$1,234.50", "95,35 €", "¥14,300"): Sheets keeps
# the number and gives the cell a CURRENCY format naming the sign, so values.get answers
# the bare number unless asked for the formatted text or the format.
_SIGNS = "$€£¥₹₩"
_AMOUNT = re.compile(
    rf"^(?P<before>[{_SIGNS}])?\s*(?P<number>[\d.,\s]*\d)\s*(?P<after>[{_SIGNS}])?$"
)
# A formula's failed result, by the type spreadsheets.get names it (ErrorValue.type), and the
# text Sheets shows for it. values.get has no other way to say an error: it answers this
# text whatever the valueRenderOption (a value is a bool, a string or a number), so a
# lookup's #N/A reads exactly like the typed text "#N/A".
ERRORS = {
    "ERROR": "#ERROR!",
    "NULL_VALUE": "#NULL!",
    "DIVIDE_BY_ZERO": "#DIV/0!",
    "VALUE": "#VALUE!",
    "REF": "#REF!",
    "NAME": "#NAME?",
    "NUM": "#NUM!",
    "N_A": "#N/A",
    "LOADING": "Loading...",
}
# Locales that write 1.234,56 (a comma before the decimals), as Sheets reads them.
_COMMA_DECIMALS = ("de", "fr", "es", "it", "nl", "pt", "da", "sv", "nb", "fi", "pl", "cs")


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell: its value (str, float, bool or None), formula, and number format."""

    value: str | float | bool | None = None
    formula: str | None = None
    number_type: str | None = None  # NUMBER, PERCENT, CURRENCY, DATE, DATE_TIME, TEXT
    pattern: str | None = None
    style: tuple[tuple[str, Any], ...] = ()  # other userEnteredFormat keys, frozen
    error: str | None = None  # a failed formula's ErrorValue type (N_A); ``value`` its text

    @property
    def empty(self) -> bool:
        return self.value is None and self.formula is None


def to_serial(moment: datetime) -> float:
    return (moment - EPOCH) / timedelta(days=1)


def from_serial(serial: float) -> datetime:
    return EPOCH + timedelta(days=serial)


def error_cell(kind: str, formula: str | None = None) -> Cell:
    """A cell whose formula failed (``kind`` as in ``ERRORS``: ``N_A`` for a VLOOKUP that
    found nothing), or ``#N/A`` typed in (Sheets makes that an error too)."""
    return Cell(value=ERRORS[kind], formula=formula, error=kind)


def parse_user_entered(text: Any, locale: str = "en_US") -> Cell:
    """What Sheets stores when a person types ``text`` (valueInputOption USER_ENTERED)."""
    if not isinstance(text, str):
        return Cell(value=text)
    if text.startswith("'"):
        return Cell(value=text[1:])
    stripped = text.strip()
    if stripped.startswith("="):
        return Cell(value=None, formula=stripped)
    if stripped.upper() == "#N/A":
        return error_cell("N_A")
    if stripped.upper() in ("TRUE", "FALSE"):
        return Cell(value=stripped.upper() == "TRUE")
    if _NUMBER.match(stripped) and any(ch.isdigit() for ch in stripped):
        return Cell(value=float(stripped.replace(",", "")))
    if stripped.endswith("%") and _NUMBER.match(stripped[:-1].strip()):
        return Cell(value=float(stripped[:-1].replace(",", "")) / 100, number_type="PERCENT",
                    pattern="0.00%")  # fmt: skip
    amount = _amount(stripped, locale)
    if amount is not None:
        return amount
    if stripped[:1] in "+-" and len(stripped) > 1:
        # Sheets reads a leading + or - as the start of a formula: "+1 555" is #ERROR!.
        return error_cell("ERROR", "=" + stripped)
    moment = _parse_date(stripped, day_first=not locale.startswith("en_US"))
    if moment is not None:
        timed = bool(moment.hour or moment.minute or moment.second) or ":" in stripped
        pattern = "yyyy-mm-dd" if "-" in stripped else _locale_date(locale)
        return Cell(
            value=to_serial(moment),
            number_type="DATE_TIME" if timed else "DATE",
            pattern=pattern + (" hh:mm:ss" if timed else ""),
        )
    return Cell(value=text)


def _amount(text: str, locale: str) -> Cell | None:
    """A number with one currency sign before or after it, as Sheets stores it: the number,
    with a CURRENCY format whose pattern names the sign (``"€"#,##0.00``)."""
    match = _AMOUNT.match(text)
    if match is None or bool(match["before"]) == bool(match["after"]):
        return None
    digits = match["number"].replace(" ", "")
    point, group = (",", ".") if locale.split("_")[0] in _COMMA_DECIMALS else (".", ",")
    whole, _, decimals = digits.partition(point)
    if point in decimals or not re.fullmatch(rf"\d{{1,3}}(\{group}\d{{3}})*|\d+", whole):
        return None
    if decimals and not decimals.isdigit():
        return None
    value = float(whole.replace(group, "") + ("." + decimals if decimals else ""))
    number = "#,##0" + ("." + "0" * len(decimals) if decimals else "")
    sign = f'"{match["before"] or match["after"]}"'
    pattern = sign + number if match["before"] else number + " " + sign
    return Cell(value=value, number_type="CURRENCY", pattern=pattern)


def _locale_date(locale: str) -> str:
    return "m/d/yyyy" if locale.startswith("en_US") else "dd/mm/yyyy"


def _parse_date(text: str, day_first: bool) -> datetime | None:
    try:
        if m := _ISO_DATE.match(text):
            y, mo, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
            return datetime(y, mo, d, h, mi, s)
        if m := _SLASH_DATE.match(text):
            a, b, y = (int(g) for g in m.groups())
            day, month = (a, b) if day_first else (b, a)
            return datetime(y, month, day)
    except ValueError:
        return None
    return None


def render(cell: Cell, value_render: str, datetime_render: str) -> Any:
    """A cell as values.get returns it; ``None`` for an empty cell."""
    if value_render == "FORMULA" and cell.formula is not None:
        return cell.formula
    value = cell.value
    if value is None:
        return None if cell.formula is None else ""
    dated = cell.number_type in ("DATE", "DATE_TIME", "TIME")
    if value_render == "FORMATTED_VALUE":
        return format_value(cell)
    if dated and datetime_render == "FORMATTED_STRING" and isinstance(value, float):
        return format_value(cell)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def format_value(cell: Cell) -> str:
    """The text Sheets shows for a cell (the common number formats; others fall back)."""
    value = cell.value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str) or value is None:
        return "" if value is None else value
    pattern = cell.pattern or ""
    if cell.number_type in ("DATE", "DATE_TIME", "TIME") and pattern:
        return _format_date(from_serial(value), pattern)
    if cell.number_type == "TEXT":
        return _general(value)
    if pattern.endswith("%"):
        decimals = len(pattern.split(".")[1]) - 1 if "." in pattern else 0
        return f"{value * 100:.{decimals}f}%"
    if pattern and set(pattern) <= set("#,0."):
        decimals = len(pattern.split(".")[1]) if "." in pattern else 0
        return f"{value:,.{decimals}f}" if "," in pattern else f"{value:.{decimals}f}"
    number = re.search(r"[#0][#,0]*(\.0+)?", pattern)
    if number and cell.number_type == "CURRENCY":  # the sign as the pattern places it
        decimals = len(number[1]) - 1 if number[1] else 0
        shown = f"{value:,.{decimals}f}"
        sign = re.sub(r'\[\$([^\]-]*)(-[0-9A-Fa-f]+)?\]|"|\\', lambda m: m[1] or "", pattern)
        return sign.replace(number[0], shown, 1)
    return _general(value)


def _general(value: float) -> str:
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.10g}"


def _format_date(moment: datetime, pattern: str) -> str:
    tokens = [
        ("yyyy", f"{moment.year:04d}"),
        ("hh", f"{moment.hour:02d}"),
        ("ss", f"{moment.second:02d}"),
        ("dd", f"{moment.day:02d}"),
        ("d", str(moment.day)),
    ]
    out = pattern
    # Minutes follow hours; months stand elsewhere: "mm" means minutes only after "hh:".
    out = out.replace("hh:mm", "\x00H:\x01M")
    out = out.replace("mm", f"{moment.month:02d}").replace("m", str(moment.month))
    for token, text in tokens:
        out = out.replace(token, text)
    return out.replace("\x00H", f"{moment.hour:02d}").replace("\x01M", f"{moment.minute:02d}")
