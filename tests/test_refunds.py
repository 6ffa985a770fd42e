"""Revenue is net of refunds: a partly refunded order counts at its total less what went
back, a credit document is taken off its customer's earlier sale, and an order whose money
all went back is not a sale (``sales.refunds``, ``sales.net_total``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from smbml_connect.analytics.customers.history import order_history
from smbml_connect.analytics.customers.segments import rfm_table
from smbml_connect.analytics.customers.value import daily_purchases
from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.data_checks import check_data
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.sales import net_total, refunds, why_not_sale
from smbml_connect.schema import REJECT_COLUMNS, validate
from smbml_connect.steps import steps_by_name

FIXTURES = Path(__file__).parent / "fixtures" / "layouts"
AS_OF = pd.Timestamp("2025-11-15", tz="UTC")


def _copy(tmp_path: Path, *names: str) -> Path:
    for name in names:
        shutil.copy(FIXTURES / name, tmp_path / name)
    return tmp_path


def _orders(path: Path) -> pd.DataFrame:
    source = FilesSource(path, {}, {})
    return validate("orders", source.pull("orders"), source.name).clean.set_index("order_id")


def _orders_frame(rows: list[tuple[str, str | None, str, float | None, str, float | None]]):
    return pd.DataFrame(
        rows, columns=["order_id", "contact_id", "ordered_at", "total", "status", "refunded"]
    ).assign(ordered_at=lambda f: pd.to_datetime(f["ordered_at"], utc=True))


def test_stripe_amount_refunded_is_stored_and_taken_off_revenue(tmp_path: Path, store):
    folder = _copy(tmp_path, "unified_payments.csv")
    orders = _orders(folder)
    assert orders.loc["ch_3PqA02", ["total", "refunded"]].tolist() == [1200.0, 200.0]
    assert orders.loc["ch_3PqA03", "status"] == "refunded"  # whole: not a sale
    result = run_pipeline(
        FilesSource(folder, {}, {}),
        store,
        RunOptions(steps=steps_by_name(["rfm_segments"]), as_of=AS_OF),
    )
    stored = store.read("orders")
    rfm = rfm_table(stored, AS_OF).set_index("contact_id")["monetary"]
    assert rfm["cus_QxA002"] == 1000.0  # 1,200 paid, 200 back
    said = {n.check: n for n in result.notices}["partial_refunds"]
    assert said.count == 1 and "200.00 back in all" in said.message


def test_shopify_refunded_amount_reduces_the_customers_spend(tmp_path: Path):
    orders = _orders(_copy(tmp_path, "shopify_orders_export_1.csv"))
    assert orders.loc["#1010", ["total", "refunded"]].tolist() == [61.9, 12.5]
    history = order_history(orders.reset_index(), AS_OF)
    assert history.loc["anna.k@example.de", "spend"] == pytest.approx(49.4)


def test_etsy_refund_is_its_total_less_the_adjusted_total(tmp_path: Path):
    orders = _orders(_copy(tmp_path, "EtsySoldOrders2025-10.csv"))
    assert orders.loc["3456789015", "refunded"] == pytest.approx(20.0)
    assert orders["refunded"].isna().sum() == 3  # no refund; the cancelled one is cancelled
    assert net_total(orders.reset_index()).tolist()[3] == pytest.approx(53.2)


QUICKBOOKS = """Sales by Customer Detail
Craig's Design and Landscaping Services
"January - March, 2024"

,Date,Transaction Type,Num,Product/Service,Memo/Description,Qty,Sales Price,Amount,Balance
Amy's Bird Sanctuary,,,,,,,,,
,01/05/2024,Invoice,1001,Design,Custom design,2,75.00,150.00,150.00
,01/05/2024,Invoice,1001,Rocks,Garden rocks,10,"1,000.00","10,000.00","10,150.00"
,02/10/2024,Credit Memo,5001,Rocks,Returned rocks,-1,"1,000.00","-1,000.00","9,150.00"
,03/02/2024,Sales Receipt,1010,Design,Consultation,1,75.00,75.00,"9,225.00"
Total for Amy's Bird Sanctuary,,,,,,,,"$9,225.00",
Bill's Windsurf Shop,,,,,,,,,
,02/14/2024,Invoice,1002,Pest Control,Monthly,1,35.00,35.00,35.00
,03/14/2024,Refund Receipt,6001,Pest Control,Refund,-1,35.00,-35.00,0.00
Total for Bill's Windsurf Shop,,,,,,,,$0.00,
TOTAL,,,,,,,,"$9,225.00",
"""


def test_quickbooks_credit_memo_is_taken_off_the_invoice_before_it(tmp_path: Path):
    (tmp_path / "Sales by Customer Detail.csv").write_text(QUICKBOOKS)
    orders = _orders(tmp_path).reset_index()
    as_of = pd.Timestamp("2024-04-15", tz="UTC")
    history = order_history(orders, as_of)
    # QuickBooks' own "Total for Amy's Bird Sanctuary": 10,150 - 1,000 + 75.
    assert history.loc["Amy's Bird Sanctuary", ["orders", "spend"]].tolist() == [2, 9225.0]
    # Bill's invoice was refunded whole by the receipt: no sale, no customer history.
    assert "Bill's Windsurf Shop" not in history.index
    assert why_not_sale(orders.set_index("order_id")).loc["1002"] == "refunded"
    days = daily_purchases(orders, as_of)
    assert days["value"].sum() == 9225.0


def test_a_credit_spills_to_the_sale_before_and_what_is_left_is_said():
    orders = _orders_frame([
        ("S1", "A", "2024-01-01", 50.0, "paid", None),
        ("S2", "A", "2024-02-01", 30.0, "paid", 10.0),  # 20 left to credit
        ("CN1", "A", "2024-02-15", -45.0, "credit note", None),  # 20 off S2, 25 off S1
        ("S3", "A", "2024-03-01", 100.0, "paid", None),  # later than the credit: untouched
        ("CN2", "B", "2024-03-01", -15.0, "credit note", None),  # B bought nothing before
        ("CN3", None, "2024-03-01", -5.0, "refund receipt", None),  # no customer
    ])  # fmt: skip
    back = refunds(orders)
    assert back.credited.tolist() == [25.0, 20.0, 0.0, 0.0, 0.0, 0.0]
    assert back.unmatched.tolist() == [0.0, 0.0, 0.0, 0.0, 15.0, 5.0]
    assert net_total(orders).tolist()[:4] == [25.0, 0.0, -45.0, 100.0]
    assert why_not_sale(orders).tolist()[:4] == [None, "refunded", "refunded", None]
    checked = check_data({"orders": orders}, AS_OF, pd.DataFrame(columns=REJECT_COLUMNS))
    said = {n.check: n for n in checked.notices}
    assert said["partial_refunds"].count == 1  # S1; S2 went back whole
    assert said["unmatched_credits"].count == 2
    assert "(20.00) not taken off any sale" in said["unmatched_credits"].message


def test_a_refund_as_large_as_the_total_is_no_sale_and_a_missing_total_stays_missing():
    orders = _orders_frame([
        ("S1", "A", "2024-01-01", 60.0, "Paid", 60.0),
        ("S2", "A", "2024-01-02", 60.0, "Paid", 75.0),  # shipping refunded too
        ("S3", "A", "2024-01-03", None, "Paid", None),
        ("S4", "A", "2024-01-04", 60.0, "Paid", -20.0),  # written as money going out
    ])  # fmt: skip
    assert why_not_sale(orders).tolist() == ["refunded", "refunded", None, None]
    net = net_total(orders)
    assert net.tolist()[:2] == [0.0, 0.0] and pd.isna(net[2]) and net[3] == 40.0


def test_a_hand_kept_sales_sheet_with_a_refunded_amount_column(tmp_path: Path):
    (tmp_path / "orders.csv").write_text(
        "Order ID,Customer ID,Order Date,Total,Refunded Amount\n"
        "O1,C1,2024-03-01,60.00,20.00\nO2,C2,2024-03-02,35.00,\n"
    )
    orders = _orders(tmp_path)
    assert orders["refunded"].tolist()[0] == 20.0 and pd.isna(orders["refunded"].iloc[1])
    spend = order_history(orders.reset_index(), AS_OF)["spend"]
    assert spend.to_dict() == {"C1": 40.0, "C2": 35.0}


def test_a_discount_amount_larger_than_its_line_is_listed_as_an_amount(tmp_path: Path):
    """A flat file's or an export's discount in money: one that cannot be a share of its
    line is listed as an amount, not with advice to state percentages."""
    from smbml_connect.layouts import discount_shares

    shares = discount_shares(
        pd.Series(["5.00", "0", "80", "3", None]),
        pd.Series(["2", "2", "2", "2", "2"]),
        pd.Series(["25", "25", "25", None, "25"]),
        "Lineitem discount",
    )
    assert shares.tolist()[:2] == [0.1, 0.0] and pd.isna(shares[4])
    too_much, no_price = shares[2], shares[3]
    assert (too_much.text, no_price.text) == ("80", "3")
    assert "more than the line's price (2 x 25)" in too_much.reason
    assert "cannot be a share of the line's price (2 x (none))" in no_price.reason
    checked = validate(
        "order_lines",
        pd.DataFrame(
            {
                "order_id": ["1"] * 5,
                "line_no": [1, 2, 3, 4, 5],
                "discount": shares,
                "_source_row": [2, 3, 4, 5, 6],
            }
        ),
        "test",
    )
    said = checked.rejects[checked.rejects["column"] == "discount"]
    assert said["source_row"].tolist() == [4, 5] and said["value"].tolist() == ["80", "3"]
    assert not said["reason"].str.contains("percent").any()


def test_the_sales_forecast_counts_revenue_net_of_refunds():
    """The forecast's revenue is the same net revenue the customer analytics count: 20 of a
    60 sale went back, so its month counts 40 (its lines stay as sold)."""
    from smbml_connect.analytics.forecast.sales_series import sales_series

    orders = _orders_frame([
        ("S1", "A", "2024-01-10", 60.0, "Paid", 20.0),
        ("S2", "B", "2024-01-12", 30.0, "Paid", None),
        ("S3", "A", "2024-02-03", 50.0, "Paid", None),
    ])  # fmt: skip
    sales = sales_series(orders, None, pd.Timestamp("2024-03-15", tz="UTC"))
    revenue = sales.frame.set_index(["unique_id", "ds"])["y"]["revenue:total"]
    assert revenue.tolist() == [70.0, 50.0]
    # Half or more back is still a sale of what was kept (the rule reads the totals as
    # written; reading it on net totals took each refund off twice and lost the sale).
    for back, january in ((30.0, 60.0), (45.0, 45.0)):
        more = orders.assign(refunded=[back, None, None])
        again = sales_series(more, None, pd.Timestamp("2024-03-15", tz="UTC"))
        kept = again.frame.set_index(["unique_id", "ds"])["y"]["revenue:total"]
        assert kept.tolist() == [january, 50.0], back
        assert not any("refunded" in n for n in again.notes)
    credit = _orders_frame([
        ("S1", "A", "2024-01-10", 60.0, "Paid", None),
        ("S2", "A", "2024-01-13", -40.0, "Refunded", None),  # a credit note two thirds
        ("S3", "A", "2024-02-03", 50.0, "Paid", None),
    ])  # fmt: skip
    by_credit = sales_series(credit, None, pd.Timestamp("2024-03-15", tz="UTC"))
    kept = by_credit.frame.set_index(["unique_id", "ds"])["y"]["revenue:total"]
    assert kept.tolist() == [20.0, 50.0]


def test_a_refund_larger_than_its_order_is_said_with_its_order_and_amounts():
    """€177.05 refunded on a €157.05 order: counted as refunded in full, so €20 of refunds
    is in no figure; the run said nothing and the report called every row usable."""
    orders = _orders_frame(
        [
            ("S0002", "K2", "2026-07-08 12:04", 157.05, "paid", 177.05),
            ("S0003", "K3", "2026-07-09 10:00", 50.0, "paid", 50.0),  # exactly all: no line
            ("S0004", "K3", "2026-07-10 10:00", 80.0, "cancelled", 90.0),  # never a sale
            ("S0005", "K4", "2026-07-11 10:00", 40.0, "paid", 10.0),
        ]
    )
    checked = check_data(
        {"orders": orders}, AS_OF.replace(year=2026), pd.DataFrame(columns=REJECT_COLUMNS), "EUR"
    )
    said = {n.check: n for n in checked.notices}
    over = said["refund_over_total"]
    assert over.count == 1 and over.table == "orders"
    # money as every other line of the run writes it (the data checks wrote bare numbers)
    assert "S0002: €177.05 refunded on a total of €157.05" in over.message
    assert "€20.00 of refunds counts in no figure" in over.message
    assert "(€10.00 back in all)" in said["partial_refunds"].message
    assert why_not_sale(orders).tolist()[:2] == ["refunded", "refunded"]
