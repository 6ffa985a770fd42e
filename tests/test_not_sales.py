"""One definition of "this order is not a sale" (``sales``), used by the data checks and by
every analytic, so that what a run says was left out is what was left out; and Xero's
export, where supplier bills, voided and deleted invoices and credit notes sit among the
sales invoices."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from smbml_connect.analytics.customers.clusters import customer_features
from smbml_connect.analytics.customers.recommend import purchases_by_customer
from smbml_connect.analytics.customers.segments import rfm_table
from smbml_connect.analytics.customers.value import daily_purchases
from smbml_connect.analytics.forecast.sales_series import sales_series
from smbml_connect.analytics.leads.contact_features import conversion_times
from smbml_connect.analytics.pricing.price_history import weekly_prices
from smbml_connect.cli import cli
from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.data_checks import check_data
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.sales import why_not_sale
from smbml_connect.schema import REJECT_COLUMNS
from smbml_connect.steps import steps_by_name

AS_OF = pd.Timestamp("2024-04-15", tz="UTC")
# Statuses as real exports write them, each on its own customer, all in March 2024: the
# paid ones are sales, every other one is not (Stripe's "Uncaptured" never took money,
# Shopify's "voided" and "expired" were authorisations dropped, WooCommerce's "Pending
# payment" and "checkout-draft" were never paid, Xero's "DELETED" and "Draft" never stood).
STATUSES = {
    "paid": True, "Completed": True, "partially_refunded": True, "Awaiting Payment": True,
    "returned": False, "chargeback": False, "refund": False, "refunded": False,
    "voided": False, "Uncaptured": False, "expired": False, "Failed": False,
    "Pending payment": False, "checkout-draft": False, "DELETED": False, "Draft": False,
    "Canceled": False,
}  # fmt: skip


def _shop() -> dict[str, pd.DataFrame]:
    statuses = [*STATUSES, "paid"]
    n = len(statuses)
    ids = [f"O{i}" for i in range(n)]
    orders = pd.DataFrame(
        {
            "order_id": ids,
            "contact_id": [f"C{i % 4}" for i in range(n)],  # each buys and does not
            "ordered_at": pd.date_range("2024-03-01", periods=n, freq="D", tz="UTC"),
            "total": [100.0 * (i + 1) for i in range(n - 1)] + [-40.0],  # a refund as its own order
            "status": statuses,
        }
    )
    sold = [*STATUSES.values(), False]
    lines = pd.DataFrame(
        {"order_id": ids, "line_no": 1, "product_id": ["BEANS" if s else "TEA" for s in sold],
         "quantity": 2.0, "unit_price": orders["total"] / 2, "discount": 0.0}
    )  # fmt: skip
    contacts = pd.DataFrame({"contact_id": [f"C{i}" for i in range(4)], "email": None})
    products = pd.DataFrame({"product_id": ["BEANS", "TEA"], "category": ["coffee", "tea"]})
    return {"orders": orders, "order_lines": lines, "contacts": contacts, "products": products}


def test_what_the_data_check_says_is_not_a_sale_no_analytic_counts():
    tables = _shop()
    orders, lines = tables["orders"], tables["order_lines"]
    sold = orders[[*STATUSES.values(), False]]  # the last order: a negative total
    # Every analytic counts exactly the other orders; the refund of 40, its own order, is
    # taken off its customer's (C1's) sale before it: customer revenue is net of it.
    assert rfm_table(orders, AS_OF)["frequency"].sum() == len(sold)
    assert rfm_table(orders, AS_OF)["monetary"].sum() == sold["total"].sum() - 40
    assert daily_purchases(orders, AS_OF)["value"].sum() == sold["total"].sum() - 40
    series = sales_series(orders, lines, AS_OF).frame.set_index(["unique_id", "ds"])["y"]
    march = pd.Timestamp("2024-03-01")
    assert series[("revenue:total", march)] == sold["total"].sum() - 40  # net, as above
    assert series[("units:total", march)] == 2 * len(sold)
    bought = purchases_by_customer(orders, lines, AS_OF)
    assert set(bought["order_id"]) == set(sold["order_id"]) and set(bought["product_id"]) == {
        "BEANS"
    }
    prices = weekly_prices(lines, orders, AS_OF)
    assert prices.frame.groupby("product_id")["units"].sum().to_dict() == {"BEANS": 2 * len(sold)}
    features = customer_features(orders, lines, tables["products"], AS_OF)
    assert features["orders"].sum() == len(sold)
    assert features["share:coffee"].eq(1.0).all()  # the tea was never bought, only refunded
    first, _ = conversion_times({"orders": orders}, label="order")
    assert first.to_dict() == sold.groupby("contact_id")["ordered_at"].min().to_dict()
    # ... and the data check says so, with the same count.
    checked = check_data(tables, AS_OF, pd.DataFrame(columns=REJECT_COLUMNS))
    said = {n.check: n for n in checked.notices}["not_sales"]
    assert said.count == len(orders) - len(sold) == 14
    assert "4 refunded, returned or charged back" in said.message
    assert "1 with a negative total" in said.message


def test_a_missing_total_or_status_is_no_reason_to_leave_a_sale_out():
    orders = pd.DataFrame(
        {
            "total": pd.array([10.0, None, -2.0, 5.0], dtype="Float64"),
            "status": pd.array(["paid", "paid", "paid", None], dtype="string"),
        }
    )
    assert why_not_sale(orders).tolist() == [None, None, "negative total", None]


def test_a_status_no_list_knows_is_counted_as_a_sale_and_said():
    tables = _shop()
    tables["orders"].loc[0, "status"] = "Awaiting pickup"
    checked = check_data(tables, AS_OF, pd.DataFrame(columns=REJECT_COLUMNS))
    said = {n.check: n for n in checked.notices}["unknown_statuses"]
    assert said.count == 1 and "'Awaiting pickup' (1)" in said.message
    assert "counted as sales" in said.message
    assert rfm_table(tables["orders"], AS_OF)["contact_id"].tolist()[0] == "C0"


STRIPE = [
    "id", "Created date (UTC)", "Amount", "Amount Refunded", "Currency", "Captured",
    "Converted Amount", "Converted Amount Refunded", "Converted Currency", "Decline Reason",
    "Description", "Fee", "Refunded date (UTC)", "Statement Descriptor", "Status",
    "Seller Message", "Taxes On Fee", "Card ID", "Customer ID", "Customer Description",
    "Customer Email", "Card Name",
]  # fmt: skip


def _stripe_row(n: int, amount: str, refunded: str, captured: str, status: str) -> list[str]:
    return [f"ch_{n}", f"2024-03-0{n} 10:00:00", amount, refunded, "usd", captured, amount,
            refunded, "usd", "card_declined" if status == "Failed" else "", "", "1.00", "", "",
            status, "", "0.00", f"card_{n}", f"cus_{n}", "", f"p{n}@example.com", f"P {n}"]  # fmt: skip


def test_stripe_uncaptured_and_failed_payments_are_not_sales_in_a_run(tmp_path: Path, store):
    with open(tmp_path / "unified_payments.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(STRIPE)
        out.writerows([
            _stripe_row(1, "100.00", "0.00", "true", "Paid"),
            _stripe_row(2, "1,250.00", "0.00", "true", "Paid"),
            _stripe_row(3, "80.00", "80.00", "true", "Refunded"),
            _stripe_row(4, "60.00", "20.00", "true", "Paid"),  # partly refunded: still a sale
            _stripe_row(5, "45.00", "0.00", "false", "Uncaptured"),
            _stripe_row(6, "70.00", "0.00", "false", "Failed"),
        ])  # fmt: skip
    source = FilesSource(tmp_path, {}, {})
    result = run_pipeline(
        source, store, RunOptions(steps=steps_by_name(["rfm_segments"]), as_of=AS_OF)
    )
    assert result.status == "ok"
    segmented = result.steps["rfm_segments"].outputs["scores"]
    assert sorted(segmented["entity_id"]) == ["cus_1", "cus_2", "cus_4"]
    said = {n.check: n for n in result.notices}["not_sales"]
    assert said.count == 3  # refunded, uncaptured, failed


XERO = (
    "ContactName,EmailAddress,POAddressLine1,POAddressLine2,POAddressLine3,POAddressLine4,"
    "POCity,PORegion,POPostalCode,POCountry,SAAddressLine1,SAAddressLine2,SAAddressLine3,"
    "SAAddressLine4,SACity,SARegion,SAPostalCode,SACountry,InvoiceNumber,Reference,InvoiceDate,"
    "DueDate,PlannedDate,Total,TaxTotal,InvoiceAmountPaid,InvoiceAmountDue,InventoryItemCode,"
    "Description,Quantity,UnitAmount,Discount,LineAmount,AccountCode,TaxType,TaxAmount,"
    "TrackingName1,TrackingOption1,TrackingName2,TrackingOption2,Currency,Type,Sent,Status"
).split(",")


def _xero(**given: str) -> list[str]:
    row = dict.fromkeys(XERO, "")
    row.update(ContactName="Cafe Nord", EmailAddress="nord@example.com", POCountry="NZ",
               InvoiceDate="15/03/2024", DueDate="29/03/2024", Currency="NZD",
               Type="Sales invoice", Sent="Sent", Status="Paid", AccountCode="200",
               TaxType="15% GST on Income", InventoryItemCode="BEAN1",
               Description="Beans 1kg")  # fmt: skip
    row.update(given)
    return [row[h] for h in XERO]


def _xero_folder(folder: Path) -> Path:
    """Business > Invoices > Export and Purchases > Bills > Export, side by side."""
    folder.mkdir(parents=True, exist_ok=True)
    sales = [
        _xero(InvoiceNumber="INV-0001", Total="230.00", TaxTotal="30.00", Quantity="4",
              UnitAmount="50.00", LineAmount="200.00"),
        _xero(InvoiceNumber="INV-0002", Total="115.00", Status="Voided", Quantity="2",
              UnitAmount="50.00", LineAmount="100.00", InvoiceDate="18/03/2024"),
        _xero(InvoiceNumber="INV-0003", Total="57.50", Status="Deleted", Quantity="1",
              UnitAmount="50.00", LineAmount="50.00", InvoiceDate="19/03/2024"),
        _xero(InvoiceNumber="CN-0001", Type="Sales credit note", Total="57.50",
              Description="Returned beans", Quantity="1", UnitAmount="50.00",
              LineAmount="50.00", InvoiceDate="20/03/2024"),
    ]  # fmt: skip
    bill = dict(ContactName="Green Bean Importers", EmailAddress="", InvoiceNumber="B-7781",
                Type="Bill", Total="5750.00", InventoryItemCode="", AccountCode="300",
                TaxType="15% GST on Expenses", InvoiceDate="21/03/2024")  # fmt: skip
    bills = [
        _xero(**bill, Description="Green coffee 60kg", Quantity="1", UnitAmount="4000.00",
              LineAmount="4000.00"),
        _xero(**bill, Description="Freight", Quantity="1", UnitAmount="1000.00",
              LineAmount="1000.00"),
    ]  # fmt: skip
    for name, rows in (("SalesInvoices.csv", sales), ("Bills.csv", bills)):
        with open(folder / name, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(XERO)
            out.writerows(rows)
    return folder


def test_xero_bills_are_left_out_and_credit_notes_voided_deleted_are_not_sales(
    tmp_path: Path, store
):
    folder = _xero_folder(tmp_path / "xero")
    result = run_pipeline(
        FilesSource(folder, {}, {}),
        store,
        RunOptions(steps=steps_by_name(["rfm_segments"]), as_of=AS_OF),
    )
    assert result.status == "ok"
    orders, lines = store.read("orders"), store.read("order_lines")
    contacts = store.read("contacts")
    # The supplier is no customer and the bill no order: both rows listed, with the bill.
    assert "B-7781" not in set(orders["order_id"])
    assert contacts["contact_id"].tolist() == ["nord@example.com"]
    skipped = result.rejects[result.rejects["action"] == "row skipped"]
    assert len(skipped) == 2
    assert all(
        r.startswith("supplier bill B-7781 from Green Bean Importers") for r in skipped["reason"]
    )
    said = {n.check: n for n in result.notices}
    assert said["supplier_bills"].count == 1
    assert "1 supplier bill (2 rows) left out" in said["supplier_bills"].message
    # A credit note is a refund: its own order, money and goods going back.
    note = orders.set_index("order_id").loc["CN-0001"]
    assert (note["total"], note["status"]) == (-57.5, "credit note")
    assert lines.set_index("order_id").loc["CN-0001", "quantity"] == -1
    # Voided, deleted and the credit note: three orders the run says are not sales.
    assert said["not_sales"].count == 3
    assert "1 refunded" in said["not_sales"].message
    assert "2 cancelled, voided or deleted" in said["not_sales"].message
    # ... and March is 230 of sales, one order, in every analytic; the customer's revenue
    # is net of the credit note (57.50 taken off the invoice before it).
    segmented = result.steps["rfm_segments"].outputs["scores"]
    assert segmented["entity_id"].tolist() == ["nord@example.com"]
    rfm = rfm_table(orders, AS_OF)
    assert (rfm["frequency"].tolist(), rfm["monetary"].tolist()) == ([1], [172.5])
    series = sales_series(orders, lines, AS_OF).frame.set_index(["unique_id", "ds"])["y"]
    assert series[("revenue:total", pd.Timestamp("2024-03-01"))] == 172.5  # net, as above


def test_inspect_says_a_bill_is_left_out_not_that_it_holds_no_record(tmp_path: Path):
    folder = _xero_folder(tmp_path / "xero")
    config = tmp_path / "smbml.toml"
    config.write_text(f'store = "s.sqlite"\n[source]\nkind = "files"\npath = "{folder}"\n')
    shown = CliRunner().invoke(cli, ["inspect", "-c", str(config)])
    assert shown.exit_code == 0, shown.output
    assert "2 rows are supplier bills (purchases, not sales) and will be left out:" in (
        shown.output
    )
    assert "hold no record" not in shown.output
