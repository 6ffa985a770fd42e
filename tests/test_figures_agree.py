"""A newcomer's review of the demo: the same customer showed 56 days since the last order in
Cluster members and 55 in Segments (all 671 customers, one a day off), and 63 orders beside
64 (57 customers: two orders on one day counted once). One rule counts the orders and one
function the days, so every customer tab shows the same figures."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from smbml_connect.analytics.customers.clusters import customer_features
from smbml_connect.analytics.customers.segments import rfm_table
from smbml_connect.column_labels import column_label
from smbml_connect.sample import SampleBusiness, SampleConfig, generate
from smbml_connect.steps.base import StepContext
from smbml_connect.steps.customers import churn_value_step, cluster_step
from smbml_connect.steps.segments import rfm_step

AS_OF = pd.Timestamp("2026-10-31", tz="UTC")


def _orders(rows: list[tuple[str, str, float | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(len(rows))],
            "contact_id": [r[0] for r in rows],
            "ordered_at": pd.to_datetime([r[1] for r in rows], utc=True),
            "total": [r[2] for r in rows],
            "status": "completed",
        }
    )


def test_days_since_counts_whole_days_from_the_orders_own_time():
    from smbml_connect.analytics.customers.history import days_since  # new with the review

    when = pd.Series(
        pd.to_datetime(["2026-09-05 19:25:29", "2026-10-30 23:00:00", "2026-10-31 00:00:00"])
    )
    assert days_since(when.dt.tz_localize("UTC"), AS_OF).tolist() == [55, 0, 0]


def test_segments_and_clusters_count_the_same_orders_and_days():
    """C01750 of the demo: orders on 20 July (two) and 5 September at 19:25, as of 31
    October: 55.2 days ago. Clusters said 56 days and 2 orders, Segments 55 and 3."""
    orders = _orders(
        [
            ("C01750", "2026-07-20 09:31", 73.95),
            ("C01750", "2026-07-20 20:12", 84.95),
            ("C01750", "2026-09-05 19:25", 15.99),
            ("K2", "2026-10-30 23:00", 10.0),
            ("K3", "2025-01-02 08:00", None),  # an order of unknown value is still an order
            ("K3", "2025-03-02 08:00", 20.0),
        ]
    )
    rfm = rfm_table(orders, AS_OF).set_index("contact_id")
    features = customer_features(orders, None, None, AS_OF)
    assert rfm["recency_days"].to_dict() == {"C01750": 55, "K2": 0, "K3": 607}
    assert features["recency_days"].to_dict() == rfm["recency_days"].astype(float).to_dict()
    assert rfm["frequency"].to_dict() == {"C01750": 3, "K2": 1, "K3": 2}
    assert features["orders"].to_dict() == rfm["frequency"].astype(float).to_dict()
    assert features["spend"].to_dict() == rfm["monetary"].to_dict()
    assert features["tenure_days"]["C01750"] == 102  # from the first order, the same way


@pytest.fixture(scope="module")
def small() -> SampleBusiness:
    return generate(SampleConfig(seed=3, contacts=300))


def _sheet(result, title: str) -> pd.DataFrame:
    return result.sheets[title].set_index("contact_id")


def test_every_customer_tab_shows_the_same_days_orders_and_spend(small: SampleBusiness):
    context = StepContext(as_of=small.as_of)
    segments = _sheet(rfm_step(small.tables, context), "Segments")
    members = _sheet(cluster_step(small.tables, context), "Cluster members")
    value = _sheet(churn_value_step(small.tables, context), "Customer value")
    members = members.reindex(segments.index)
    assert column_label("days_since_order") == column_label("recency_days")
    assert (members["days_since_order"] == segments["recency_days"]).all()
    assert (members["orders"] == segments["frequency"]).all()
    assert (members["spend"] == segments["monetary"]).all()
    # The value models count a day with orders once: said so, and never more than orders.
    assert column_label("purchases_so_far") == "Days with an order so far"
    orders = segments["frequency"].reindex(value.index)
    assert (value["purchases_so_far"] <= orders).all()
    assert (value["purchases_so_far"] < orders).any()  # the sample has same-day orders
    assert (value["spend_so_far"] == segments["monetary"].reindex(value.index)).all()
    for who, row in value.iterrows():
        said = re.match(
            r"Last bought (less than a|\d+) (day|week|month)s? ago; Bought on (\d+) days? so far",
            row["why"],
        )
        assert said, row["why"]
        days = segments.at[who, "recency_days"]
        weeks = days / 7
        gap = (days, "day") if days < 7 else (round(weeks), "week") if weeks < 9 else (
            round(weeks / 4.35), "month")  # fmt: skip
        number = 0 if said[1] == "less than a" else int(said[1])
        assert (number, said[2]) == gap, (who, row["why"], days)
        assert int(said[3]) == row["purchases_so_far"]
