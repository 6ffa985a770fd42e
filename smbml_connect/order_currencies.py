"""Orders in another currency than the one amounts are shown in keep counting as orders,
without their amounts: there is no exchange rate offline, and a ¥10,000 order added to
a euro shop's €100 read as "€10,100 spent" and drove that customer's spend score. Deals
are treated the same way in their own step (`steps.leads`), prices in theirs
(`analytics.pricing.price_history`).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from smbml_connect.money_words import money_text
from smbml_connect.ports import Notice

__all__ = ["amounts_in"]

AMOUNTS = ("total", "refunded")


def _codes(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip().str.upper().replace("", pd.NA)


def amounts_in(
    tables: Mapping[str, pd.DataFrame], currency: str
) -> tuple[dict[str, pd.DataFrame], list[Notice]]:
    """The tables with the amounts of orders in another currency left empty, and their
    lines' prices (an order of unknown value still counts as an order, a line's units as
    sold), and one line saying which and how much."""
    out = dict(tables)
    orders = tables.get("orders", pd.DataFrame())
    if orders.empty or "currency" not in orders:
        return out, []
    codes = _codes(orders["currency"])
    other = (codes.notna() & codes.ne(currency.strip().upper())).to_numpy(dtype=bool)
    if not other.any():
        return out, []
    totals = pd.to_numeric(orders.loc[other, "total"], errors="coerce")
    by_code = totals.groupby(codes[other].to_numpy()).agg(["size", "sum"])
    parts = ", ".join(
        f"{int(row['size']):,} in {code} ({money_text(float(row['sum']), str(code))})"
        for code, row in by_code.sort_values("size", ascending=False).iterrows()
    )
    n = int(other.sum())
    changed = orders.copy()
    for column in AMOUNTS:
        if column in changed:
            changed[column] = changed[column].astype("Float64")
            changed.loc[other, column] = pd.NA
    out["orders"] = changed
    lines = tables.get("order_lines", pd.DataFrame())
    if len(lines) and "unit_price" in lines:
        theirs = lines["order_id"].isin(set(orders.loc[other, "order_id"])).to_numpy(bool)
        if theirs.any():
            lines = lines.copy()
            lines["unit_price"] = lines["unit_price"].astype("Float64")
            lines.loc[theirs, "unit_price"] = pd.NA
            out["order_lines"] = lines
    notice = Notice(
        "other_currency_orders",
        "orders",
        n,
        f"{n:,} order{'' if n == 1 else 's'} in another currency than {currency} ({parts}): "
        f"counted as {'an order' if n == 1 else 'orders'}, but {'its amount is' if n == 1 else 'their amounts are'} "
        "left out of spend, customer value and the revenue forecast (there is no exchange "
        f"rate to convert {'it' if n == 1 else 'them'}).",
    )
    return out, [notice]
