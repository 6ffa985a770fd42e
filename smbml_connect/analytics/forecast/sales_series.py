"""Orders and order lines turned into the sales series the forecasts run on."""

from __future__ import annotations

import numpy as np
import pandas as pd

from smbml_connect.analytics.customers.segments import NOT_COUNTED_STATUSES
from smbml_connect.analytics.forecast.timeseries import FREQUENCIES

__all__ = ["SalesSeries", "period_words", "sales_series"]

TOTAL = "total"
OTHER = "other"


class SalesSeries:
    """A long frame `unique_id, ds, y` with ids like `revenue:total` or `units:P-001`."""

    def __init__(self, frame: pd.DataFrame, last_period: pd.Period, notes: list[str]) -> None:
        self.frame = frame
        self.last_period = last_period
        self.notes = notes


def _periods(stamps: pd.Series, alias: str) -> pd.Series:
    stamps = pd.to_datetime(stamps, utc=True).dt.tz_localize(None)
    return stamps.dt.to_period(alias)


def _complete(frame: pd.DataFrame, last: pd.Period) -> pd.DataFrame:
    """Every period from a series' first sale to the last complete one; no sale is zero."""
    parts = []
    for uid, group in frame.groupby("unique_id", sort=False):
        totals = group.groupby("period")["y"].sum()
        grid = pd.period_range(totals.index.min(), last, freq=last.freq)
        filled = totals.reindex(grid, fill_value=0.0)
        parts.append(
            pd.DataFrame({"unique_id": uid, "ds": grid.start_time, "y": filled.to_numpy()})
        )
    return pd.concat(parts, ignore_index=True) if parts else frame.iloc[0:0]


def period_words(period: pd.Period, freq: str) -> str:
    """A period as a person names it: 'October 2026', 'Q4 2026', 'week of 5 October 2026'."""
    start = period.start_time
    if freq == "M":
        return f"{start:%B %Y}"
    if freq == "Q":
        return f"Q{period.quarter} {period.year}"
    if freq == "W":
        return f"the week of {start:%d %B %Y}"
    return f"{start:%d %B %Y}"


def sales_series(
    orders: pd.DataFrame,
    order_lines: pd.DataFrame | None,
    as_of: pd.Timestamp,
    freq: str = "M",
    top_products: int = 20,
) -> SalesSeries:
    """Revenue and units in total and for the best-selling products, per period.

    The period that contains `as_of` is not over, so it is left out: a half month would
    look like a slump. Products beyond the top ones by revenue are added up as `other`.
    """
    alias = FREQUENCIES[freq][2]
    stamp = pd.Timestamp(as_of)
    stamp = stamp.tz_convert(None) if stamp.tzinfo else stamp
    current = stamp.to_period(alias)
    last = current - 1
    notes = [
        f"{period_words(current, freq)} is not over yet (the data runs to "
        f"{stamp:%d %B %Y}): its sales so far are not used as history, and the whole "
        f"{FREQUENCIES[freq][0]} is forecast"
    ]
    counted = orders.dropna(subset=["ordered_at"])
    if "status" in counted.columns:
        status = counted["status"].astype("string").str.lower()
        counted = counted[~status.isin(NOT_COUNTED_STATUSES).fillna(False)]
    refunds = counted["total"].lt(0).fillna(False).to_numpy(dtype=bool)
    if refunds.any():  # a refund is not a sale (and its order is kept in the store)
        notes.append(f"{int(refunds.sum())} orders with a negative total (refunds) left out")
        counted = counted[~refunds]
    counted = counted.assign(period=_periods(counted["ordered_at"], alias))
    counted = counted[counted["period"] <= last]
    rows = [
        pd.DataFrame({"unique_id": f"revenue:{TOTAL}", "period": counted["period"],
                      "y": counted["total"].fillna(0.0).to_numpy(dtype=float)})
    ]  # fmt: skip
    if order_lines is not None and len(order_lines):
        lines = order_lines.merge(counted[["order_id", "period"]], on="order_id", how="inner")
        unknown = int(lines["quantity"].isna().sum())
        if unknown:
            notes.append(
                f"{unknown} order {'line' if unknown == 1 else 'lines'} without a quantity "
                "counted in revenue but not in units or per product"
            )
        lines = lines.dropna(subset=["quantity"])
        returned = lines["quantity"].lt(0).to_numpy(dtype=bool)
        if returned.any():  # returns are not sales
            notes.append(f"{int(returned.sum())} order lines with a negative quantity left out")
            lines = lines[~returned]
        discount = lines["discount"].fillna(0.0) if "discount" in lines else 0.0
        revenue = lines["quantity"] * lines["unit_price"].fillna(0.0) * (1 - discount)
        lines = lines.assign(revenue=revenue.to_numpy(dtype=float))
        lines["product_id"] = lines["product_id"].fillna(OTHER).astype(str)
        recent = lines[lines["period"] > last - FREQUENCIES[freq][1]]
        ranking = recent.groupby("product_id")["revenue"].sum().sort_values(ascending=False)
        top = set(ranking.index[:top_products]) - {OTHER}
        if len(ranking) > len(top):
            notes.append(
                f"{len(ranking) - len(top)} smaller products are forecast together as '{OTHER}'"
            )
        product = lines["product_id"].where(lines["product_id"].isin(top), OTHER)
        rows.append(pd.DataFrame({"unique_id": f"units:{TOTAL}", "period": lines["period"],
                                  "y": lines["quantity"].to_numpy(dtype=float)}))  # fmt: skip
        for measure, column in (("revenue", "revenue"), ("units", "quantity")):
            rows.append(
                pd.DataFrame({"unique_id": measure + ":" + product, "period": lines["period"],
                              "y": lines[column].to_numpy(dtype=float)})
            )  # fmt: skip
    frame = pd.concat(rows, ignore_index=True)
    frame = frame[np.isfinite(frame["y"])]
    return SalesSeries(_complete(frame, last), last, notes)
