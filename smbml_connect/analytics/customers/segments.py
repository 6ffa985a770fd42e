"""RFM segments: the named, explainable customer segmentation.

Each customer gets a 1-5 score for Recency, Frequency and Monetary value by quintile
among all customers (ties share a score, so the order of rows never matters). The
segment name comes from the widely used R x FM grid, where FM is the mean of F and M
rounded half up: Champions bought recently, often and much; Hibernating did none of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from smbml_connect.analytics.customers.history import order_history

__all__ = ["SEGMENTS", "quintile_score", "rfm_table", "segment_for"]


@dataclass(frozen=True)
class Segment:
    name: str
    recency: tuple[int, int]  # inclusive R score range
    fm: tuple[int, int]  # inclusive FM score range
    meaning: str
    action: str


SEGMENTS: tuple[Segment, ...] = (
    Segment("Champions", (5, 5), (4, 5), "Bought very recently, buy often and spend the most.",
            "Reward them; ask for reviews and referrals."),
    Segment("Loyal Customers", (3, 4), (4, 5), "Buy often and spend well, fairly recently.",
            "Offer loyalty perks and early access."),
    Segment("Potential Loyalists", (4, 5), (2, 3), "Recent customers with average frequency.",
            "Recommend related products; invite to a loyalty scheme."),
    Segment("New Customers", (5, 5), (1, 1), "Bought for the first time very recently.",
            "Welcome them and help them get value from the first purchase."),
    Segment("Promising", (4, 4), (1, 1), "Recent shoppers who have not spent much yet.",
            "Build the relationship with a small offer."),
    Segment("Need Attention", (3, 3), (3, 3), "Average on recency, frequency and spend.",
            "Reach out with a limited-time offer before they slip."),
    Segment("About to Sleep", (3, 3), (1, 2), "Below average and fading.",
            "Share popular products; a gentle discount can wake them."),
    Segment("At Risk", (1, 2), (3, 4), "Used to buy often, but not for a long time.",
            "Send a personal win-back message."),
    Segment("Can't Lose Them", (1, 2), (5, 5), "Were among the best customers, now quiet.",
            "Call them; find out what changed."),
    Segment("Hibernating", (1, 2), (1, 2), "Last bought long ago, rarely and for little.",
            "Include in seasonal campaigns only."),
)  # fmt: skip


def segment_for(r_score: int, fm_score: int) -> Segment:
    for segment in SEGMENTS:
        if segment.recency[0] <= r_score <= segment.recency[1] and (
            segment.fm[0] <= fm_score <= segment.fm[1]
        ):
            return segment
    raise ValueError(f"no segment for R={r_score}, FM={fm_score}; scores run from 1 to 5")


def quintile_score(values: pd.Series, higher_is_better: bool = True) -> pd.Series:
    """Score 1-5 by quintile of the average rank: equal values always get equal scores."""
    ranked = (values if higher_is_better else -values).rank(method="average", pct=True)
    return np.ceil(ranked * 5).clip(1, 5).astype(int)


def rfm_table(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """One row per customer with recency (days), frequency, monetary value and the segment.

    The orders, spend and days since the last order are `order_history`'s, the figures
    every customer tab shows: orders placed up to ``as_of`` that have a customer and are
    sales (``sales.is_sale``: not refunded, cancelled, failed, a draft, nor a negative
    total). A missing total counts as an order with no known value.
    """
    history = order_history(orders, as_of)
    columns = ["contact_id", "last_order_at", "recency_days", "frequency", "monetary",
               "r_score", "f_score", "m_score", "fm_score", "rfm_code", "segment"]  # fmt: skip
    if history.empty:
        return pd.DataFrame(columns=columns)
    table = pd.DataFrame(
        {
            "last_order_at": history["last_order_at"],
            "recency_days": history["days_since_last_order"],
            "frequency": history["orders"],
            "monetary": history["spend"],
        }
    )
    table["r_score"] = quintile_score(table["recency_days"], higher_is_better=False)
    table["f_score"] = quintile_score(table["frequency"])
    table["m_score"] = quintile_score(table["monetary"])
    table["fm_score"] = np.floor((table["f_score"] + table["m_score"]) / 2 + 0.5).astype(int)
    table["rfm_code"] = table["r_score"] * 100 + table["f_score"] * 10 + table["m_score"]
    table["segment"] = [
        segment_for(r, fm).name for r, fm in zip(table["r_score"], table["fm_score"], strict=True)
    ]
    return table.reset_index()[columns]
