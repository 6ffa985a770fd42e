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
    assert "1 in JPY (10,000.00)" in said.message and "than EUR" in said.message


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
