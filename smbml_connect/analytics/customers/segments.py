"""RFM segments: the named, explainable customer segmentation.

Each customer gets a 1-5 score for Recency, Frequency and Monetary value by quintile
among all customers (ties share a score, so the order of rows never matters). The
segment name comes from the widely used R x FM grid, where FM is the mean of F and M
rounded half up: Champions bought recently, often and much; Hibernating did none of it.

Two facts overrule a rank. One order is F 1 and FM 1, whatever the ranks: where most
customers bought once they all share the middle rank, and a one-off buyer was "Champions:
buy often" or "At Risk: used to buy often" (the rule-based frequency bands RFM practice
uses where order counts tie, "F 1 = one order"); a recent one is a New Customer. One
order says nothing of money, though: a one-order customer whose spend scores M 4-5 and is
above the median "spent more than most customers" (Big First Order if recent, else Big
One-Off Buyers), where the FM 1 cells would have said "not spent much yet" and "for
little" of a trade buyer's $4,824 first order. And a
customer still on their own schedule is never "long ago", "now quiet" nor "fading" (R 1-3):
whoever bought in the last `RECENT_DAYS` days, or within 1.5 times their own usual
interval between order days (`USUAL_GAP_SLACK`) or their longest gap so far (they came
back after it) up to `LONGEST_GAP_CAP` times their other gaps' median, scores R 4 or 5. The
rhythm rests on two gaps at least that agree: a longest gap beyond that cap is a break and
not part of the usual interval (gaps of 10 and 863 days are no rhythm at all). In a
shop of monthly subscribers everyone bought within a month, and the quintile made a
subscriber billed 29 days ago "the oldest fifth": At Risk beside a 1% churn risk.

One cell of the grid is split by a fact rather than a score: R 5 with FM 1 are New
Customers only if their first order is itself as recent as the R 5 customers' last
orders; the rest are Promising. F is a rank, not a count: where most customers buy
several times, someone with two orders three months apart scores F 1, and "bought for the
first time very recently" would be untrue of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from smbml_connect.analytics.customers.history import counted_orders, days_since, order_history

__all__ = ["SEGMENTS", "on_schedule", "quintile_score", "rfm_table", "segment_for", "spend_score"]

RECENT_DAYS = 30  # bought within a month: not "long ago" in any shop
USUAL_GAP_SLACK = 1.5  # half an interval late is still on schedule (a late card, a holiday)
# A longest gap counts up to 3 times the median of the other gaps; beyond that it was a
# break, not a rhythm: a monthly subscriber once back after an 8-month pause stayed
# "recent" for 8 months beside a 92% churn risk, and one who bought twice in a January
# and came back 2 years later was "Loyal, fairly recently" 2 years after that.
LONGEST_GAP_CAP = 3
CURRENT_SCORE = 4  # the lowest R whose segments say "recent" ("fairly recently" at R 4)
BIG_SPEND = 4  # the spend scores of a one-order customer who "spent more than most"


@dataclass(frozen=True)
class Segment:
    name: str
    recency: tuple[int, int]  # inclusive R score range
    fm: tuple[int, int]  # inclusive FM score range
    meaning: str
    action: str
    new: bool | None = None  # True: only first bought very recently; None: either way
    big_once: bool | None = None  # True: only one order, for more than most spent; None: either


# Each meaning is true of every member by the scores that place them: F and M as the
# grid reads them, averaged (FM), so "taken together" where one may be low.
SEGMENTS: tuple[Segment, ...] = (
    Segment("Champions", (5, 5), (4, 5),
            "Bought very recently; among the best on how often and how much they buy, "
            "taken together.",
            "Reward them; ask for reviews and referrals."),
    Segment("Loyal Customers", (3, 4), (4, 5),
            "Among the best on how often and how much they buy, taken together; bought "
            "fairly recently.",
            "Offer loyalty perks and early access."),
    Segment("Potential Loyalists", (4, 5), (2, 3),
            "Recent customers, average or below on how often and how much they buy, taken "
            "together.",
            "Recommend related products; invite to a loyalty scheme."),
    Segment("New Customers", (5, 5), (1, 1), "Bought for the first time very recently.",
            "Welcome them and help them get value from what they bought.", new=True),
    Segment("Big First Order", (4, 5), (1, 1),
            "Bought once, recently, and spent more than most customers.",
            "Thank them personally and ask what they would like next.", big_once=True),
    Segment("Big One-Off Buyers", (1, 3), (1, 1),
            "Bought once, a while ago, and spent more than most customers.",
            "Ask them personally what they would like now.", big_once=True),
    Segment("Promising", (4, 5), (1, 1), "Recent shoppers who have not bought much yet.",
            "Build the relationship with a small offer.", big_once=False),
    Segment("Need Attention", (3, 3), (3, 3),
            "Average on recency, and on how often and how much they buy, taken together.",
            "Reach out with a limited-time offer before they slip."),
    Segment("About to Sleep", (3, 3), (1, 2), "Below average and fading.",
            "Share popular products; a gentle discount can wake them.", big_once=False),
    Segment("At Risk", (1, 2), (3, 4),
            "Were average or better on how often and how much they bought, but not for a "
            "long time.",
            "Send a personal win-back message."),
    Segment("Can't Lose Them", (1, 2), (5, 5), "Were among the best customers, now quiet.",
            "Call them; find out what changed."),
    Segment("Hibernating", (1, 2), (1, 2), "Last bought long ago, rarely or for little.",
            "Include in seasonal campaigns only.", big_once=False),
)  # fmt: skip


def segment_for(r_score: int, fm_score: int, new: bool = False, big_once: bool = False) -> Segment:
    """The segment of the scores; `new`: the first order is as recent as R 5's last ones;
    `big_once`: one order, for more than most customers spent (`_big_once`)."""
    for segment in SEGMENTS:
        if (
            segment.recency[0] <= r_score <= segment.recency[1]
            and segment.fm[0] <= fm_score <= segment.fm[1]
            and segment.new in (None, new)
            and segment.big_once in (None, big_once)
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
               "unpriced", "r_score", "f_score", "m_score", "fm_score", "rfm_code", "segment"]  # fmt: skip
    if history.empty:
        return pd.DataFrame(columns=columns)
    table = pd.DataFrame(
        {
            "last_order_at": history["last_order_at"],
            "recency_days": history["days_since_last_order"],
            "frequency": history["orders"],
            "monetary": history["spend"],
            "unpriced": history["unpriced"],
        }
    )
    r_score = quintile_score(table["recency_days"], higher_is_better=False)
    current = on_schedule(orders, as_of, history)
    table["r_score"] = r_score.where(~current, r_score.clip(lower=CURRENT_SCORE))
    once = table["frequency"] <= 1
    table["f_score"] = quintile_score(table["frequency"]).where(~once, 1)
    table["m_score"] = spend_score(table["monetary"])
    fm = np.floor((table["f_score"] + table["m_score"]) / 2 + 0.5)
    # Spend unknown (no amount in the shop's currency): FM is F alone, not a spend of 0.
    fm = fm.fillna(table["f_score"]).astype(int)
    table["fm_score"] = fm.where(~once, 1)
    table["rfm_code"] = table["r_score"] * 100 + table["f_score"] * 10 + table["m_score"]
    big = _big_once(table)
    table["segment"] = [
        segment_for(r, fm, new, one).name
        for r, fm, new, one in zip(
            table["r_score"], table["fm_score"], _new(history, table), big, strict=True
        )
    ]
    return table.reset_index()[columns]


def spend_score(spend: pd.Series) -> pd.Series:
    """M 1-5 by quintile among the customers whose spend is known; none (<NA>) for one of
    unknown spend, who is left out of the ranks rather than ranked lowest as 0."""
    known = spend.dropna()
    scores = quintile_score(known) if len(known) else known.astype(int)
    return scores.reindex(spend.index).astype("Int64")


def on_schedule(
    orders: pd.DataFrame, as_of: pd.Timestamp, history: pd.DataFrame | None = None
) -> pd.Series:
    """Per customer (indexed as `order_history`): bought in the last `RECENT_DAYS` days, or
    within `USUAL_GAP_SLACK` times their usual interval (the median of the gaps between
    their order days) or their longest gap, after which they came back, as far as
    `LONGEST_GAP_CAP` times the median of their other gaps (`_usual_reach`: one gap is no
    habit yet, nor is one beside a break)."""
    history = order_history(orders, as_of) if history is None else history
    as_of = pd.Timestamp(as_of)
    as_of = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of  # days on its clock
    counted = counted_orders(orders, as_of)
    ago = days_since(counted["ordered_at"], as_of).rename("ago")
    days = pd.concat([counted["contact_id"], ago], axis=1).drop_duplicates()
    days = days.sort_values(["contact_id", "ago"], ascending=[True, False])
    gaps = -days.groupby("contact_id")["ago"].diff()
    gaps = pd.concat([days["contact_id"], gaps.rename("gap")], axis=1)
    gaps = gaps[gaps["gap"] > 0]
    return _on_time(history["days_since_last_order"], _usual_reach(gaps))


def _usual_reach(gaps: pd.DataFrame) -> pd.Series:
    """Per customer with a rhythm, the days of quiet their own gaps allow.

    A longest gap beyond `LONGEST_GAP_CAP` times the median of the others is a break: it
    reaches only as far as that cap and takes no part in the usual interval, which rests
    on the gaps that agree with each other, two at least. Gaps of 10 and 863 days have no
    rhythm (the median of two is their mean: recent until about 655 days).
    """
    by_customer = gaps.groupby("contact_id")["gap"]
    customers = by_customer.size().index
    longest = by_customer.rank(method="first", ascending=False).eq(1)
    others = gaps[~longest].groupby("contact_id")["gap"].median().reindex(customers)
    cap = LONGEST_GAP_CAP * others
    pause = by_customer.max() > cap
    usual = by_customer.median().where(~pause, others)
    habit = np.maximum(USUAL_GAP_SLACK * usual, np.minimum(by_customer.max(), cap))
    return habit.where(by_customer.size() - pause.astype(int) >= 2)


def _on_time(quiet: pd.Series, reach: pd.Series) -> pd.Series:
    """Bought in the last `RECENT_DAYS` days or within the customer's own reach."""
    return (quiet <= RECENT_DAYS) | (quiet <= reach.reindex(quiet.index)).fillna(False)


def _big_once(table: pd.DataFrame) -> pd.Series:
    """One order, for a spend score of 4 or 5 and more than the median customer spent:
    "spent more than most customers" is true of each (where many spent the same, a score
    of 4 alone is not). Such a buyer is low on frequency, not on money: "not spent much
    yet" and "for little" were said of a trade buyer's $4,824 first order. The median is
    of the customers whose spend is known: those who paid only in another currency have
    none, and counted as 0 they made a tie with most known spenders "more than most"
    (rv56 item 2)."""
    monetary = table["monetary"]
    above = (monetary > monetary.median(skipna=True)).fillna(False).astype(bool)
    return (table["frequency"] <= 1) & (table["m_score"] >= BIG_SPEND) & above


def _new(history: pd.DataFrame, table: pd.DataFrame) -> pd.Series:
    """Whose first order is as recent as the last orders scored R 5: "bought for the first
    time very recently" by the shop's own measure of very recently."""
    very_recent = table.loc[table["r_score"] == 5, "recency_days"].max()
    return history["days_since_first_order"] <= very_recent
