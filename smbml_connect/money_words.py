"""Money in words, one way everywhere: "$3,411", "€12.50", "29,480 CHF", "+$7.09".

The report said "$3,411" in one place and "Lower to USD 15.31 ... +7.09 USD a month" in
the next, "29,480 CHF" beside "Keep CHF 12.50": each part had written its own. The sign
comes before the symbol ("-$5", never "$-5").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = [
    "SYMBOLS",
    "minor_digits",
    "money_format",
    "money_text",
    "shown_currency",
    "shown_digits",
    "shown_in",
]

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}
# ISO 4217's minor units (the "Minor unit" column of list one, published by SIX Group):
# currencies whose amounts have no decimals, and those with three. Every other has two.
NO_MINOR_UNIT = frozenset(
    "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split()
)
THREE_DECIMALS = frozenset("BHD IQD JOD KWD LYD OMR TND".split())


def minor_digits(currency: str | None) -> int:
    """How many decimals an amount in ``currency`` has (ISO 4217): 0 for yen, 2 for euros."""
    code = (currency or "").strip().upper()
    return 0 if code in NO_MINOR_UNIT else 3 if code in THREE_DECIMALS else 2


# The currency a workbook, report or sheet being written shows its money columns in (the
# run's): their cells are plain numbers, and a yen column was formatted "#,##0.00".
_SHOWN: ContextVar[str] = ContextVar("shown_currency", default="")


@contextmanager
def shown_in(currency: str | None) -> Iterator[None]:
    """Money columns written inside are in ``currency`` (the run's)."""
    token = _SHOWN.set((currency or "").strip().upper())
    try:
        yield
    finally:
        _SHOWN.reset(token)


def shown_currency() -> str:
    return _SHOWN.get()


def shown_digits() -> int:
    """The decimals of the money being written: 0 in a yen shop, else 2."""
    return minor_digits(_SHOWN.get())


def money_format(currency: str | None) -> str:
    """A spreadsheet number format for amounts in ``currency``: "#,##0" for yen."""
    digits = minor_digits(currency)
    return "#,##0." + "0" * digits if digits else "#,##0"


def money_text(amount: float, currency: str, cents: bool = False, sign: bool = False) -> str:
    """``amount`` in ``currency`` (a symbol before it, else the code after it; nothing
    when no currency is known), whole or to the cent, with "+" when ``sign`` asks. A
    currency without cents (yen) is never written with decimals."""
    digits = minor_digits(currency) if cents else 0
    number = f"{abs(amount):,.{digits}f}"
    shown_zero = float(number.replace(",", "")) == 0
    lead = "-" if amount < 0 and not shown_zero else "+" if sign else ""
    code = (currency or "").strip().upper()
    symbol = SYMBOLS.get(code)
    if symbol:
        return f"{lead}{symbol}{number}"
    return f"{lead}{number} {code}" if code else f"{lead}{number}"
