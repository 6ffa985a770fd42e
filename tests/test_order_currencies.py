"""Orders in another currency than the shop's count as orders, without their amounts:
a ¥10,000 order beside a euro shop's €100 read as "€10,100 spent" and drove that
customer's spend score. No exchange rate is invented; the run says which were left out."""

from __future__ import annotations

import pandas as pd

from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.order_currencies import amounts_in
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.steps import steps_by_name

AS_OF = pd.Timestamp("2026-12-06", tz="UTC")


def test_a_yen_order_in_a_euro_shop_is_an_order_without_an_amount(tmp_path, store):
    (tmp_path / "customers.csv").write_text("Customer ID,Email\nC1,a@x.com\nC2,b@x.com\n")
    (tmp_path / "orders.csv").write_text(
        "Order ID,Order Date,Customer ID,Total,Currency\nA1,2026-10-01,C1,100.00,EUR\n"
        "A2,2026-10-02,C1,10000.00,JPY\nA3,2026-10-03,C2,50.00,EUR\nA4,2026-10-05,C2,20.00,eur\n"
    )
    options = RunOptions(steps=steps_by_name(["rfm_segments"]), as_of=AS_OF)
    result = run_pipeline(FilesSource(tmp_path, {}, {}), store, options)
    segments = result.steps["rfm_segments"].sheets["Segments"].set_index("contact_id")
    assert segments.loc["C1", "monetary"] == 100.0  # not 10,100
    assert segments.loc["C1", "frequency"] == 2  # the yen order is still an order
    assert segments.loc["C2", "monetary"] == 70.0  # "eur" is EUR
    said = {n.check: n for n in result.notices}["other_currency_orders"]
    assert said.count == 1
    assert "1 in JPY (10,000 JPY)" in said.message and "than EUR" in said.message


def test_lines_of_an_order_in_another_currency_lose_their_price_not_their_units():
    orders = pd.DataFrame({"order_id": ["A1", "A2"], "total": [100.0, 10000.0],
                           "refunded": [None, 500.0], "currency": ["EUR", " jpy "]})  # fmt: skip
    lines = pd.DataFrame({"order_id": ["A1", "A2"], "quantity": [2.0, 3.0],
                          "unit_price": [50.0, 3333.0]})  # fmt: skip
    out, notices = amounts_in({"orders": orders, "order_lines": lines}, "EUR")
    assert out["orders"]["total"].isna().tolist() == [False, True]
    assert out["orders"]["refunded"].isna().tolist() == [True, True]
    assert out["order_lines"]["unit_price"].isna().tolist() == [False, True]
    assert out["order_lines"]["quantity"].tolist() == [2.0, 3.0]
    assert [n.count for n in notices] == [1]
    assert amounts_in({"orders": orders.assign(currency="EUR")}, "EUR")[1] == []


def test_an_order_in_another_currency_is_still_a_purchase_day_for_churn_risk():
    """A monthly buyer whose last five orders were in pounds in a euro shop: with those
    days dropped the customer looked lapsed (churn risk 0.8% -> 11.7%) and "Bought on 3
    days so far" stood beside "8 orders" in Segments. The days count; the spend model
    learns from the days whose value is known."""
    from smbml_connect.analytics.customers.value import daily_purchases, history_summary

    days = pd.date_range("2026-03-01", periods=8, freq="MS", tz="UTC")
    orders = pd.DataFrame({
        "order_id": [f"o{i}" for i in range(8)], "contact_id": "K44", "ordered_at": days,
        "total": [40.0, 50.0, 60.0] + [None] * 5, "status": "paid",
    })  # fmt: skip
    purchases = daily_purchases(orders, AS_OF)
    assert len(purchases) == 8 and purchases["value"].notna().sum() == 3
    summary = history_summary(purchases, AS_OF).loc["K44"]
    assert summary["x"] == 7 and summary["spend"] == 150.0
    assert summary["m"] == 55.0  # the known repeat days: 50 and 60


def test_a_currency_written_only_beside_the_exception_is_not_the_shops(tmp_path, store):
    """A Currency column filled only for the one yen order made JPY the run's currency:
    "10,100 JPY spent" for a customer of euros and yen, "110 JPY" for one of euros."""
    (tmp_path / "customers.csv").write_text("Customer ID,Email\nC1,a@x.com\nC2,b@x.com\n")
    (tmp_path / "orders.csv").write_text(
        "Order ID,Order Date,Customer ID,Total,Currency\nA1,2026-10-01,C1,100.00,\n"
        "A2,2026-10-02,C1,10000.00,JPY\nA3,2026-10-03,C2,50.00,\nA4,2026-10-05,C2,60.00,\n"
    )
    options = RunOptions(steps=steps_by_name(["rfm_segments"]), as_of=AS_OF)
    result = run_pipeline(FilesSource(tmp_path, {}, {}), store, options)
    assert result.currency != "JPY"
    segments = result.steps["rfm_segments"].sheets["Segments"].set_index("contact_id")
    assert segments["monetary"].to_dict() == {"C1": 100.0, "C2": 110.0}
    said = {n.check: n for n in result.notices}["other_currency_orders"]
    assert "counted as an order" in said.message and "1 in JPY" in said.message


def test_dollar_orders_in_a_euro_shop_are_said_in_dollars(tmp_path, store):
    """ "36 in USD (2,983.23)" stood beside the pipeline's "$3,300": the one money format."""
    (tmp_path / "orders.csv").write_text(
        "Order ID,Order Date,Customer ID,Total,Currency\nA1,2026-10-01,C1,100.00,EUR\n"
        "A2,2026-10-02,C1,$1250.40,USD\nA3,2026-10-03,C2,50.00,EUR\nA4,2026-10-05,C2,$80.00,USD\n"
        "A5,2026-10-06,C3,70.00,EUR\n"
    )
    options = RunOptions(steps=steps_by_name(["rfm_segments"]), as_of=AS_OF)
    result = run_pipeline(FilesSource(tmp_path, {}, {}), store, options)
    said = {n.check: n for n in result.notices}["other_currency_orders"]
    assert "2 in USD ($1,330)" in said.message, said.message
