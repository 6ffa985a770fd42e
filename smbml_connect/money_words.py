"""Money in words, one way everywhere: "$3,411", "€12.50", "29,480 CHF", "+$7.09".

The report said "$3,411" in one place and "Lower to USD 15.31 ... +7.09 USD a month" in
the next, "29,480 CHF" beside "Keep CHF 12.50": each part had written its own. The sign
comes before the symbol ("-$5", never "$-5").
"""

from __future__ import annotations

__all__ = ["SYMBOLS", "money_text"]

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def money_text(amount: float, currency: str, cents: bool = False, sign: bool = False) -> str:
    """``amount`` in ``currency`` (a symbol before it, else the code after it; nothing
    when no currency is known), whole or to the cent, with "+" when ``sign`` asks."""
    number = f"{abs(amount):,.2f}" if cents else f"{abs(amount):,.0f}"
    shown_zero = float(number.replace(",", "")) == 0
    lead = "-" if amount < 0 and not shown_zero else "+" if sign else ""
    code = (currency or "").strip().upper()
    symbol = SYMBOLS.get(code)
    if symbol:
        return f"{lead}{symbol}{number}"
    return f"{lead}{number} {code}" if code else f"{lead}{number}"
