"""Which orders count as a customer's purchases, and the history every customer tab shows.

The Segments, Cluster members and Customer value tabs each show a customer's orders, spend
and days since the last order. They agree only if one rule decides which orders count and
one function counts the days, so both live here (a newcomer found 56 days beside 55, and
63 orders beside 64, for the same customer in two tabs).
"""

from __future__ import annotations

import pandas as pd

from smbml_connect.business_zone import DAY_END_GAP, calendar_day, calendar_days, data_end
from smbml_connect.coerce import coerce_datetime
from smbml_connect.sales import is_sale, net_total

__all__ = [
    "add_paid_purchases",
    "counted_orders",
    "counted_rows",
    "days_since",
    "last_day",
    "order_history",
]


def add_paid_purchases(out: pd.DataFrame, purchases: pd.DataFrame) -> None:
    """Add to `out` (one row per customer) every paid purchase of each, the first included:
    how many (paid_days), their mean (paid_mean), and the largest purchase of known value
    (largest). A one-time buyer's one purchase says what they spend; the spend model may
    learn from it. `purchases`: contact_id and value, one row per purchase."""
    paid = purchases[purchases["value"] > 0].groupby("contact_id")["value"]
    out["paid_days"] = paid.size().reindex(out.index).fillna(0).astype(float)
    out["paid_mean"] = paid.mean().reindex(out.index).fillna(0.0)
    out["largest"] = purchases.groupby("contact_id")["value"].max().reindex(out.index)


def days_since(when: pd.Series, as_of: pd.Timestamp) -> pd.Series:
    """Calendar days on the business's clock (``as_of``'s zone; UTC without one) from each
    moment's day to the last day the run counts (`last_day`): an order that day is 0 days
    ago, one the day before 1. Calendar days, not 24-hour spans, so the figure follows the
    dates the tabs show, also across a clock change (an order at 23:49 in winter was one
    day short), and a date typed into SEGMENT counts the same days as the tab."""
    zone = as_of.tz if as_of.tzinfo is not None else "UTC"
    ago = (last_day(as_of) - calendar_days(when, zone)).dt.days
    # An order at the very midnight a run is dated (counted: ``<= as_of``) is of that day.
    return ago.clip(lower=0).astype(int)


def last_day(as_of: pd.Timestamp) -> pd.Timestamp:
    """The last calendar day a run counts, on its own clock, as `calendar_day` gives it: the
    day named for a run dated a day (its end), the day before for one dated midnight ("up
    to the end of 30 October"), the run's own day for a run at a time of day."""
    return calendar_day(data_end(as_of) - DAY_END_GAP)


def counted_rows(orders: pd.DataFrame, as_of: pd.Timestamp | None) -> tuple[pd.Series, pd.Series]:
    """Which of ``orders``' rows `counted_orders` counts, and their times read (UTC)."""
    when = orders["ordered_at"]
    if not isinstance(when.dtype, pd.DatetimeTZDtype):
        when = coerce_datetime(when)[0]
    keep = orders["contact_id"].notna() & when.notna() & is_sale(orders)
    if as_of is not None:
        keep &= when <= as_of
    return keep, when


def counted_orders(orders: pd.DataFrame, as_of: pd.Timestamp | None) -> pd.DataFrame:
    """The orders that count as purchases: with a customer and a date (up to `as_of`) and
    a sale by the one rule the data checks count by (``sales.is_sale``: not refunded,
    cancelled, failed, a draft, nor a negative total). Their total is net of refunds
    (``sales.net_total``: less what went back on the order, partly refunded or credited).
    A missing total still counts as an order, of unknown value. Columns contact_id (text),
    ordered_at (UTC) and total (a number or missing), in the orders' own order."""
    keep, when = counted_rows(orders, as_of)
    # A nullable <NA> total becomes NaN: an order of unknown value.
    total = net_total(orders).astype(float)
    frame = pd.DataFrame(
        {"contact_id": orders["contact_id"].astype(str), "ordered_at": when, "total": total}
    )
    return frame[keep.to_numpy()].reset_index(drop=True)


def order_history(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """One row per customer with a counted order, indexed by contact_id: first_order_at,
    last_order_at, orders (every counted order, several on one day each counted), spend
    (the known totals, to the cent; missing when none is known: an order in another
    currency with no exchange rate is of unknown value, not 0), unpriced (the orders of
    unknown value among them), days_since_last_order and days_since_first_order."""
    as_of = pd.Timestamp(as_of)
    as_of = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of  # days on its clock
    counted = counted_orders(orders, as_of)
    grouped = counted.groupby("contact_id", sort=True)
    history = pd.DataFrame(
        {
            "first_order_at": grouped["ordered_at"].min(),
            "last_order_at": grouped["ordered_at"].max(),
            "orders": grouped.size().astype(int),
            # Unknown, not 0, when no order has a known total (all in another currency).
            "spend": grouped["total"].sum(min_count=1).astype(float).round(2),
            "unpriced": grouped["total"].agg(lambda t: int(t.isna().sum())).astype(int),
        }
    )
    history["days_since_last_order"] = days_since(history["last_order_at"], as_of)
    history["days_since_first_order"] = days_since(history["first_order_at"], as_of)
    history.index.name = "contact_id"
    return history
