"""Known export layouts and hand-kept lists load whole; the user's mapping always wins.

Each fixture under tests/fixtures/layouts/ was written by hand from the vendor's published
column list, with the dirt real files carry (blank rows, a header row again, total rows,
currency symbols, odd spacing). Every row read is loaded, rejected or listed as skipped.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.consent import read_consent
from smbml_connect.errors import DataValidationError
from smbml_connect.layouts import prepare
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.schema import SOURCE_ROW, validate
from smbml_connect.store import Store

FIXTURES = Path(__file__).parent / "fixtures" / "layouts"


@dataclass
class Loaded:
    clean: pd.DataFrame
    rejected: int  # rows rejected by validation
    skipped: pd.DataFrame  # rows that hold no record, as rejects rows
    layout: str | None
    unread: int = 0  # lines the CSV reader could not split (a report's footer note)


def _allowed(values: pd.Series) -> pd.Series:
    """Consent as the pipeline reads it (the store keeps the text as the export wrote it)."""
    return values.map(lambda v: read_consent(v).allowed)


def load(
    path: Path,
    tables: Mapping[str, str] | None = None,
    mappings: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, Loaded]:
    source = FilesSource(path, tables or {}, mappings or {})
    out = {}
    for table in source.available():
        checked = validate(table, source.pull(table), source.name)
        unread = len(source.rejects.get(table, []))  # lines the reader could not split
        out[table] = Loaded(
            checked.clean,
            checked.rejected_rows,
            source.skipped_rows(table),
            source.header_mappings[table].layout,
            unread,
        )
    return out


def fixture(tmp_path: Path, *names: str) -> Path:
    """A folder holding copies of the named fixtures (a CSV folder source)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(FIXTURES / name, tmp_path / name)
    return tmp_path


# -- point 4: the user's mapping always wins ---------------------------------------
HUBSPOT_LIKE = "Record ID,First Name,Email,Create Date\n101,Ann,ann@example.com,2025-01-02\n"
SYNONYM_FIRST = "Customer ID,Name,Email\n1,Ann,ann@example.com\n2,Bob,bob@example.com\n"


def _workbook(path: Path, sheet: str, text: str) -> Path:
    workbook = Workbook()
    tab = workbook.active
    assert tab is not None
    tab.title = sheet
    for line in text.strip().splitlines():
        tab.append(line.split(","))
    workbook.save(path)
    return path


@pytest.mark.parametrize("kind", ["folder", "single csv", "workbook"])
def test_the_users_mapping_beats_an_earlier_synonym(tmp_path: Path, kind: str):
    mapping = {"contacts": {"Email": "contact_id"}}
    if kind == "folder":
        (tmp_path / "Customers.csv").write_text(SYNONYM_FIRST)
        path, tables = tmp_path, {}
    elif kind == "single csv":
        path = tmp_path / "people.csv"
        path.write_text(SYNONYM_FIRST)
        tables = {"contacts": "people.csv"}
    else:
        path, tables = _workbook(tmp_path / "shop.xlsx", "Customers", SYNONYM_FIRST), {}
    contacts = load(path, tables, mapping)["contacts"]
    assert contacts.clean["contact_id"].tolist() == ["ann@example.com", "bob@example.com"]
    assert '"Customer ID": "1"' in contacts.clean["extra"].iloc[0]


@pytest.mark.parametrize("kind", ["folder", "single csv", "workbook"])
def test_the_users_mapping_beats_a_detected_layout(tmp_path: Path, kind: str):
    """HubSpot's export is recognised, yet the user's "Email" = "contact_id" wins."""
    mapping = {"contacts": {"Email": "contact_id", "Record ID": "lead_source"}}
    if kind == "folder":
        (tmp_path / "hubspot-crm-exports-all-contacts.csv").write_text(HUBSPOT_LIKE)
        path, tables = tmp_path, {}
    elif kind == "single csv":
        path = tmp_path / "all-contacts.csv"
        path.write_text(HUBSPOT_LIKE)
        tables = {}
    else:
        path, tables = _workbook(tmp_path / "crm.xlsx", "Export", HUBSPOT_LIKE), {}
    contacts = load(path, tables, mapping)["contacts"]
    assert contacts.layout == "HubSpot contacts export"
    assert contacts.clean["contact_id"].tolist() == ["ann@example.com"]
    assert contacts.clean["lead_source"].tolist() == ["101"]
    assert contacts.clean["first_name"].tolist() == ["Ann"]


def test_a_column_the_user_gave_away_is_not_filled_by_a_synonym(tmp_path: Path):
    (tmp_path / "Customers.csv").write_text(SYNONYM_FIRST)
    # "Customer ID" would be contact_id by synonym; the user named another header for it.
    source = FilesSource(tmp_path, mappings={"contacts": {"Mail": "contact_id"}})
    # No header "Mail" here, so the required key is missing: the table is refused as a
    # whole (before its first page), and the mapping shows no synonym stepped in.
    with pytest.raises(DataValidationError, match="contact_id not found"):
        source.pull("contacts")
    assert "contact_id" not in source.header_mappings["contacts"].columns.values()


def map_of(source: FilesSource, table: str) -> dict[str, str]:
    source.pull(table)
    return source.header_mappings[table].columns


# -- point 5: hand-kept lists --------------------------------------------------------
def test_a_hand_kept_list_keys_by_email_and_skips_totals_blanks_and_headers(tmp_path: Path):
    contacts = load(fixture(tmp_path, "hand_kept_customers.csv"))["contacts"]
    clean = contacts.clean
    assert len(clean) == 21 and contacts.rejected == 0  # two John Smiths, two Sarah Connors...
    assert contacts.layout and contacts.layout.startswith("hand-kept list")
    by_key = clean.set_index("contact_id")
    assert by_key.loc["jsmith@smithbuild.example.co.uk", "last_name"] == "Smith"
    assert by_key.loc["tom.obrien@example.com", ["first_name", "last_name"]].tolist() == [
        "Tom",
        "O'Brien",
    ]
    assert by_key.loc["row 16", "first_name"] == "Alan"  # no e-mail: the row is the key
    assert "TOTAL" not in " ".join(clean["extra"].dropna())
    skipped = contacts.skipped
    assert skipped["source_row"].tolist() == [10, 11, 18, 27, 28, 29]
    assert skipped["reason"].tolist() == [
        "blank row",
        "repeated header row",
        "subtotal row ('Subtotal Leeds/York')",
        "blank row",
        "blank row",
        "total row ('TOTAL')",
    ]
    assert set(skipped["action"]) == {"row skipped"}
    assert json.loads(skipped["row"].iloc[-1]) == {"Customer": "TOTAL", "Spent 2025": "£11,191.42"}


# -- point 5: Shopify ---------------------------------------------------------------
def test_shopify_orders_export_gives_orders_lines_and_buyers(tmp_path: Path):
    loaded = load(fixture(tmp_path, "shopify_orders_export_1.csv"))
    assert set(loaded) == {"orders", "order_lines", "contacts", "products"}
    assert {t.layout for t in loaded.values()} == {"Shopify orders export"}
    orders, lines, buyers = loaded["orders"], loaded["order_lines"], loaded["contacts"]
    assert (len(orders.clean), orders.rejected) == (8, 0)
    assert (len(lines.clean), lines.rejected) == (21, 0)  # every line row of the file
    assert (len(buyers.clean), buyers.rejected) == (5, 0)  # 8 orders, one without e-mail
    status = orders.clean.set_index("order_id")["status"]
    assert status[["#1011", "#1010", "#1009", "#1008"]].tolist() == [
        "refunded",
        "partially_refunded",
        "cancelled",
        "paid",
    ]
    by_order = lines.clean.groupby("order_id")["line_no"].apply(list)
    assert by_order["#1007"] == [1, 2, 3, 4] and by_order["#1011"] == [1]
    gift = lines.clean[lines.clean["unit_price"] == 50.0]
    assert gift["product_id"].tolist() == ["Gift card $25-$50"]  # no SKU: the item's name
    soap = lines.clean[(lines.clean["order_id"] == "#1007") & (lines.clean["line_no"] == 1)]
    assert soap["discount"].tolist() == [0.1]  # 7.50 off 6 x 12.50, as a share
    assert orders.clean.set_index("order_id").loc["#1005", "contact_id"] == "james.o@example.co.uk"
    consent = _allowed(buyers.clean.set_index("contact_id")["marketing_consent"])
    assert consent.to_dict() == {
        "sophie.martin@example.fr": True,
        "james.o@example.co.uk": False,
        "anna.k@example.de": True,
        "m.rossi@example.it": False,
        "lena@example.at": True,
    }


def test_shopify_orders_run_through_the_pipeline_and_exit_clean(tmp_path: Path):
    folder = fixture(tmp_path / "in", "shopify_orders_export_1.csv", "hand_kept_customers.csv")
    with Store(tmp_path / "store.db") as store:
        result = run_pipeline(FilesSource(folder), store, RunOptions(steps=()))
    assert result.status == "ok"
    assert result.loaded == {"contacts": 21, "orders": 8, "order_lines": 21, "products": 7}
    skipped = result.rejects[result.rejects["action"] == "row skipped"]
    assert len(skipped) == 6 and set(skipped["table"]) == {"contacts"}


def test_shopify_customers_export_keys_as_the_orders_export_does(tmp_path: Path):
    folder = fixture(tmp_path, "customers_export.csv", "shopify_orders_export_1.csv")
    loaded = load(folder)
    contacts = loaded["contacts"]
    assert contacts.layout == "Shopify customers export"  # not the buyers of the orders
    assert (len(contacts.clean), contacts.rejected, len(contacts.skipped)) == (7, 0, 0)
    clean = contacts.clean.set_index("contact_id")
    assert _allowed(clean["marketing_consent"]).tolist() == [
        True,
        False,
        True,
        False,
        True,
        False,
        False,
    ]
    assert set(loaded["orders"].clean["contact_id"].dropna()) <= set(clean.index)
    assert clean.index[5] == "7412345678906"  # no e-mail: Shopify's customer id
    assert clean.loc["sophie.martin@example.fr", ["company", "country"]].tolist() == [
        "Atelier Martin",
        "FR",
    ]


SHOPIFY_OLD_CUSTOMERS = """First Name,Last Name,Email,Accepts Email Marketing,Company,Address1,\
Address2,City,Province,Province Code,Country,Country Code,Zip,Phone,Accepts SMS Marketing,\
Total Spent,Total Orders,Tags,Note,Tax Exempt
Sophie,Martin,sophie.martin@example.fr,yes,Atelier Martin,8 Rue de Berri,,Paris,,,France,FR,\
'75008,,no,145.60,2,"VIP, newsletter",,no
,,,no,,,,,,,,,,+43 660 000 0006,yes,0.00,0,,POS walk-in,no
"""


def test_the_older_shopify_customers_export_keys_a_customer_without_email_by_row(
    tmp_path: Path,
):
    """Before "Customer ID" was added, a walk-in customer had neither e-mail nor id."""
    (tmp_path / "customers_export.csv").write_text(SHOPIFY_OLD_CUSTOMERS)
    contacts = load(tmp_path)["contacts"]
    assert contacts.layout == "Shopify customers export"
    assert (len(contacts.clean), contacts.rejected) == (2, 0)
    clean = contacts.clean.set_index("contact_id")
    assert list(clean.index) == ["sophie.martin@example.fr", "row 3"]
    assert clean.loc["sophie.martin@example.fr", ["company", "country"]].tolist() == [
        "Atelier Martin",
        "FR",
    ]
    assert _allowed(clean["marketing_consent"]).tolist() == [True, False]


# -- point 5: HubSpot exports -------------------------------------------------------
def _product_extra(products: pd.DataFrame, product: str) -> dict[str, str]:
    return json.loads(products.set_index("product_id").loc[product, "extra"])


def test_shopify_products_export_gives_one_product_per_variant(tmp_path: Path):
    """Shopify writes a product's title, type and status on its first row only, and each
    further image on a row of its own: every variant still gets its product's name (with
    its options, as the orders export names a line), type and status."""
    shutil.copy(FIXTURES / "products_export_1.csv", tmp_path / "catalogue march.csv")
    loaded = load(tmp_path)  # any file name: the headers say what it is
    products = loaded["products"]
    assert products.layout == "Shopify products export"
    assert (len(products.clean), products.rejected, len(products.skipped)) == (9, 0, 5)
    reasons = products.skipped["reason"].tolist()
    assert sum("an image of product" in r for r in reasons) == 4 and "blank row" in reasons
    rows = products.clean.set_index("product_id")
    assert rows.loc["SER-ROSE-50", ["name", "category", "price", "unit_cost"]].tolist() == [
        "Rose Serum - 50ml", "Face", 36.0, 9.0,
    ]  # fmt: skip
    assert rows.loc["SER-ROSE", "name"] == "Rose Serum - 30ml"
    assert rows.loc["MASK-COL", "name"] == "Bio-Collagen Mask"  # its one "Default Title"
    assert rows.loc["SOAP-CLAY", "category"] == "Bar Soap"  # no Type: the category's leaf
    # A variant without SKU is keyed by its name, as the orders export keys its lines.
    assert rows.loc["Lip Balm - Mint", ["name", "category", "unit_cost"]].tolist() == [
        "Lip Balm - Mint", "Lips", 1.2,
    ]  # fmt: skip
    assert pd.isna(rows.loc["Gift card $25-$50", "unit_cost"])
    assert _product_extra(products.clean, "KIT-TRV")["Status"] == "draft"
    assert _product_extra(products.clean, "SER-ROSE-50")["Status"] == "active"
    # archived or draft: not for sale now (Next products suggests it to no one)
    on_sale = products.clean.set_index("product_id")["on_sale"]
    assert not on_sale["KIT-TRV"] and on_sale["SER-ROSE-50"] and on_sale["MASK-COL"]


def test_shopify_orders_name_their_products_when_no_products_list_is_there(tmp_path: Path):
    """Without a products file every tab named products by SKU ("Often bought with
    SKU-109-02") though each line carries the product's name: the lines name them."""
    products = load(fixture(tmp_path, "shopify_orders_export_1.csv"))["products"]
    assert products.layout == "Shopify orders export" and products.rejected == 0
    names = products.clean.set_index("product_id")["name"]
    assert names["MASK-COL"] == "Bio-Collagen Mask" and names["SER-ROSE"] == "Rose Serum 30ml"
    assert names["Gift card $25-$50"] == "Gift card $25-$50"  # no SKU: keyed by the name
    assert names.index.is_unique and names.notna().all()


def test_a_shopify_products_export_names_the_products_its_orders_export_sold(tmp_path: Path):
    folder = fixture(tmp_path, "products_export_1.csv", "shopify_orders_export_1.csv")
    loaded = load(folder)
    assert loaded["products"].layout == "Shopify products export"  # not the orders' lines
    sold = set(loaded["order_lines"].clean["product_id"])
    listed = set(loaded["products"].clean["product_id"])
    assert sold - listed == {"BUNDLE-2"}  # the one bundle the fixture's list leaves out
    assert "Gift card $25-$50" in sold & listed  # no SKU on either side: keyed by the name


def test_the_newer_shopify_products_header(tmp_path: Path):
    """Shopify's newer product file: "URL handle", "SKU", "Price", "Option1 value"."""
    (tmp_path / "products_export_1.csv").write_text(
        "Title,URL handle,Description,Vendor,Product category,Type,Tags,Published on online "
        "store,Status,SKU,Barcode,Option1 name,Option1 value,Option2 name,Option2 value,"
        "Price,Compare-at price,Cost per item,Inventory quantity,Product image URL,"
        "Image position\n"
        "Organic Tee,organic-tee,Soft,Atelier,,Apparel,tee,TRUE,active,TEE-M-NV,,Size,M,"
        "Colour,Navy,18.00,,7.00,4,https://cdn.example.com/tee.jpg,1\n"
        ",organic-tee,,,,,,,,,,,L,,Navy,20.00,,8.00,2,,\n"
        ",organic-tee,,,,,,,,,,,,,,,,,,https://cdn.example.com/tee-back.jpg,2\n"
        "Tote Bag,tote-bag,,Atelier,,Bags,,TRUE,archived,,,Title,Default Title,,,"
        "15.00,,5.00,0,,\n",
        encoding="utf-8",
    )
    products = load(tmp_path)["products"]
    assert (len(products.clean), products.rejected, len(products.skipped)) == (3, 0, 1)
    rows = products.clean.set_index("product_id")
    assert rows.loc["TEE-M-NV", "name"] == "Organic Tee - M / Navy"
    assert rows.loc["Organic Tee - L / Navy", ["category", "price"]].tolist() == ["Apparel", 20.0]
    assert rows.loc["Tote Bag", "unit_cost"] == 5.0
    assert _product_extra(products.clean, "Tote Bag")["Status"] == "archived"


HUBSPOT = "hubspot-crm-exports-all-{}-2025-11-03.csv"


def test_hubspot_contacts_export_with_consent(tmp_path: Path):
    contacts = load(fixture(tmp_path, HUBSPOT.format("contacts")))["contacts"]
    assert contacts.layout == "HubSpot contacts export"
    assert (len(contacts.clean), contacts.rejected) == (10, 0)
    assert contacts.skipped["reason"].tolist() == ["blank row"]
    clean = contacts.clean.set_index("contact_id")
    # Non-marketing contacts and those unsubscribed from all e-mail are opted out.
    assert _allowed(clean["marketing_consent"]).to_dict() == {
        "51": True, "52": False, "53": False, "54": True, "55": False,
        "56": True, "57": True, "58": True, "59": False, "60": True,
    }  # fmt: skip
    assert clean.loc["60", ["page_views", "email_clicks", "lead_source"]].tolist() == [
        120,
        22,
        "Referrals",
    ]
    assert clean.loc["56", "email"] == "clara.schmidt@example.de"


def test_hubspot_deals_export_knows_won_and_closed_from_the_stage(tmp_path: Path):
    deals = load(fixture(tmp_path, HUBSPOT.format("deals")))["deals"]
    assert deals.layout == "HubSpot deals export"
    assert (len(deals.clean), deals.rejected, len(deals.skipped)) == (7, 0, 0)
    clean = deals.clean.set_index("deal_id")
    assert clean["is_won"].tolist() == [True, False, True, False, False, False, True]
    assert clean["is_closed"].tolist() == [True, False, True, False, True, False, True]
    assert clean.loc["9001", "amount"] == 12400.0
    assert clean.loc["9006", "contact_id"] == "60"  # the first associated contact


def test_hubspot_companies_fill_contacts_only_when_no_contacts_export_is_there(tmp_path: Path):
    alone = load(fixture(tmp_path / "a", HUBSPOT.format("companies")))
    accounts = alone["contacts"]
    assert accounts.layout and accounts.layout.startswith("HubSpot companies export")
    assert (len(accounts.clean), accounts.rejected) == (6, 0)
    assert accounts.clean["contact_id"].iloc[0] == "company 7001"
    assert accounts.clean["company"].iloc[0] == "Bright Smiles Dental"
    names = [HUBSPOT.format(k) for k in ("companies", "contacts", "deals")]
    both = load(fixture(tmp_path / "b", *names))
    assert both["contacts"].layout == "HubSpot contacts export"
    assert set(both) == {"contacts", "deals"}


def test_a_hubspot_companies_view_without_the_domain_column(tmp_path: Path):
    """HubSpot's default companies view has no domain column; the owner says "company"."""
    (tmp_path / "hubspot-crm-exports-my-companies.csv").write_text(
        '"Record ID","Company name","Company owner","Create Date","Phone Number",'
        '"Last Activity Date","City","Country/Region","Industry"\n'
        '"7001","Bright Smiles Dental","Sam Owner","2024-02-14 09:12","","","London",'
        '"United Kingdom","Healthcare"\n'
    )
    accounts = load(tmp_path)["contacts"]
    assert accounts.layout and accounts.layout.startswith("HubSpot companies export")
    assert accounts.clean["contact_id"].tolist() == ["company 7001"]


# -- point 5: Mailchimp -------------------------------------------------------------
MAILCHIMP = "{}_email_audience_export_5f3a2b.csv"


@pytest.mark.parametrize(("status", "rows", "consent"), [("subscribed", 10, True),
                                                         ("unsubscribed", 4, False)])  # fmt: skip
def test_mailchimp_audience_exports_carry_consent(tmp_path: Path, status: str, rows: int,
                                                  consent: bool):  # fmt: skip
    path = fixture(tmp_path, MAILCHIMP.format(status)) / MAILCHIMP.format(status)
    contacts = load(path)["contacts"]  # one CSV: the layout says which table it is
    assert contacts.layout == "Mailchimp audience export"
    assert (len(contacts.clean), contacts.rejected) == (rows, 0)
    assert _allowed(contacts.clean["marketing_consent"]).tolist() == [consent] * rows
    assert len(contacts.skipped) == (1 if status == "subscribed" else 0)
    if status == "subscribed":
        zoe = contacts.clean.set_index("contact_id").loc["zoe.mueller@example.de"]
        assert (zoe["first_name"], zoe["country"]) == ("Zoë", "DE")
        assert zoe["created_at"] == pd.Timestamp("2023-12-24 20:00", tz="UTC")


# -- point 5: payment and shop exports ----------------------------------------------
def _counts(loaded: dict[str, Loaded]) -> dict[str, tuple[int, int, int]]:
    """Per table: rows loaded, rows rejected, rows skipped (blank, total, heading...)."""
    return {t: (len(x.clean), x.rejected, len(x.skipped)) for t, x in loaded.items()}


def test_stripe_payments_export_keeps_refunds_and_failures_as_statuses(tmp_path: Path):
    loaded = load(fixture(tmp_path, "unified_payments.csv"))
    assert _counts(loaded) == {"contacts": (4, 0, 0), "orders": (6, 0, 0)}
    orders = loaded["orders"].clean.set_index("order_id")
    assert orders["status"].tolist() == [
        "Paid", "partially refunded", "refunded", "Failed", "Paid", "Paid",
    ]  # fmt: skip
    assert orders["contact_id"].tolist() == [
        "cus_QxA001", "cus_QxA002", "guest.buyer@example.org", "guest.buyer@example.org",
        "cus_QxA001", "cus_QxA006",
    ]  # fmt: skip
    assert orders.loc["ch_3PqA06", ["total", "currency"]].tolist() == [2500.0, "EUR"]
    buyers = loaded["contacts"].clean.set_index("contact_id")
    assert buyers.loc["guest.buyer@example.org", "first_name"] == "Kim"


def test_square_transactions_and_item_sales(tmp_path: Path):
    folder = fixture(tmp_path, "transactions-2025-10-01-2025-10-31.csv",
                     "items-2025-10-01-2025-10-31.csv")  # fmt: skip
    loaded = load(folder)
    assert _counts(loaded) == {
        "contacts": (2, 0, 0), "orders": (5, 0, 0), "order_lines": (6, 0, 0),
        "products": (6, 0, 0),
    }  # fmt: skip
    assert loaded["orders"].layout == "Square transactions export"
    assert loaded["order_lines"].layout == "Square item sales export"
    orders = loaded["orders"].clean.set_index("order_id")
    assert orders.loc["T1aa refund", ["status", "total"]].tolist() == ["refund", -10.36]
    assert orders.loc["T3cc", ["status", "total", "contact_id"]].tolist() == [
        "Complete", 34.52, "CUST9",
    ]  # fmt: skip
    lines = loaded["order_lines"].clean
    assert lines[lines["order_id"] == "T1aa"]["line_no"].tolist() == [1, 2]
    latte = lines.iloc[0]
    assert (latte["product_id"], latte["quantity"], latte["unit_price"]) == ("LAT-R", 2, 4.0)
    drip = lines[lines["order_id"] == "T2bb"].iloc[0]
    # No SKU: the item and its price point, as the products are keyed.
    assert drip["product_id"] == "Drip coffee - Large"
    assert drip["discount"] == pytest.approx(0.5 / 4.25)
    products = loaded["products"].clean.set_index("product_id")
    assert set(lines["product_id"]) == set(products.index)
    assert products.loc["CRO-1", ["name", "category"]].tolist() == ["Croissant", "Bakery"]
    assert products.loc["BEAN-HB", "name"] == "Beans 1lb - House blend"


def test_square_item_sales_alone_also_give_orders(tmp_path: Path):
    loaded = load(fixture(tmp_path, "items-2025-10-01-2025-10-31.csv"))
    assert _counts(loaded) == {
        "orders": (4, 0, 0), "order_lines": (6, 0, 0), "products": (6, 0, 0),
    }  # fmt: skip
    totals = loaded["orders"].clean.set_index("order_id")["total"]
    assert totals.to_dict() == {"T1aa": 9.5, "T2bb": 3.75, "T3cc": 28.0, "T5ee": 6.0}


SQUARE_ITEMS_HEADER = (
    "Date,Time,Time Zone,Category,Item,Qty,Price Point Name,SKU,Modifiers Applied,Gross Sales,"
    "Discounts,Net Sales,Tax,Transaction ID,Payment ID,Device Name,Notes,Details,Event Type,"
    "Location,Dining Option,Customer ID,Customer Name,Customer Reference ID,Unit,Count,GTIN,"
    "Itemization Type,Commission,Employee,Fulfillment Note,Channel,Token,Card Brand,PAN Suffix"
)


def _square_row(when: str, category: str, item: str, point: str, sku: str, gross: str,
                order: str) -> str:  # fmt: skip
    day, time = when.split()
    return (
        f"{day},{time},Eastern Time (US & Canada),{category},{item},1.0,{point},{sku},,"
        f"${gross},$0.00,${gross},$0.00,{order},P{order},Terminal,,,Payment,Cafe,,,,,ea,1,,"
        "Physical Good,$0.00,,,Cafe,,Visa,1234"
    )


def test_square_item_sales_give_products_by_item_and_price_point(tmp_path: Path):
    """Square's newest rows come first; "None" is its word for no category, and a price
    point other than the one "Regular" (or blank) is a product of its own, as a variant
    with its own SKU is: a Large latte at 5.00 is not the Regular at 4.00."""
    rows = [
        _square_row("2026-03-02 09:10:00", "Coffee", "Latte", "Large", "", "5.00", "T9"),
        _square_row(
            "2026-03-02 09:10:00", "Bakery", "Butter Croissant", "Regular", "CRO-1", "3.20", "T9"
        ),
        _square_row("2026-03-01 08:00:00", "Coffee", "Latte", "Regular", "", "4.00", "T8"),
        _square_row("2026-03-01 08:00:00", "None", "Sticker", "", "", "2.00", "T8"),
        _square_row("2026-02-01 08:30:00", "Pastry", "Croissant", "Regular", "CRO-1", "3.00", "T7"),
    ]
    (tmp_path / "items-2026-02-01-2026-03-02.csv").write_text(
        "\n".join([SQUARE_ITEMS_HEADER, *rows]) + "\n", encoding="utf-8"
    )
    loaded = load(tmp_path)
    products = loaded["products"].clean.set_index("product_id")
    assert set(loaded["order_lines"].clean["product_id"]) == set(products.index)
    assert products.loc["Latte - Large", ["name", "category"]].tolist() == [
        "Latte - Large",
        "Coffee",
    ]
    assert products.loc["Latte", "name"] == "Latte"
    assert pd.isna(products.loc["Sticker", "category"])  # "None": no category
    # Renamed and moved under one SKU: the newest row names it.
    assert products.loc["CRO-1", ["name", "category"]].tolist() == ["Butter Croissant", "Bakery"]


@pytest.mark.filterwarnings("error::FutureWarning")
def test_square_item_sales_saved_from_excel_read_as_the_csv(tmp_path: Path):
    """Opened in Excel and saved, the Date column is date cells and the Time column time
    cells (one row left as typed text): the Date's datetime was joined with the Time as
    "2025-10-02 00:00:00 08:14:09", read without its Time Zone, 7 hours early."""
    name = "items-2025-10-01-2025-10-31.csv"
    rows = list(csv.reader((FIXTURES / name).read_text(encoding="utf-8").splitlines()))
    book = Workbook()
    sheet = book.active
    sheet.append(rows[0])
    for i, row in enumerate(rows[1:]):
        day = pd.Timestamp(row[0]).to_pydatetime()
        clock = row[1] if i == 2 else pd.Timestamp(f"{row[0]} {row[1]}").time()
        sheet.append([day, clock, *row[2:]])
    book.save(tmp_path / "items.xlsx")
    from_book = load(tmp_path / "items.xlsx")
    from_csv = load(fixture(tmp_path / "csv", name))
    assert _counts(from_book) == _counts(from_csv)
    when = [x["orders"].clean.set_index("order_id")["ordered_at"] for x in (from_book, from_csv)]
    pd.testing.assert_series_equal(*when)
    assert when[0]["T1aa"] == pd.Timestamp("2025-10-02 15:14:09", tz="UTC")  # 08:14 Pacific
    products = [x["products"].clean.set_index("product_id")["name"] for x in (from_book, from_csv)]
    pd.testing.assert_series_equal(*products)


def test_etsy_orders_and_items(tmp_path: Path):
    loaded = load(fixture(tmp_path, "EtsySoldOrders2025-10.csv", "EtsySoldOrderItems2025-10.csv"))
    assert _counts(loaded) == {
        "contacts": (3, 0, 0), "orders": (4, 0, 0), "order_lines": (6, 0, 0),
    }  # fmt: skip
    orders = loaded["orders"].clean.set_index("order_id")
    assert orders["status"].tolist() == ["Completed", "Completed", "Canceled", "partially refunded"]
    assert orders.loc["3456789012", "ordered_at"] == pd.Timestamp("2025-10-02", tz="UTC")
    lines = loaded["order_lines"].clean
    assert lines[lines["order_id"] == "3456789015"]["product_id"].tolist() == [
        "RING-S", "1500000004",
    ]  # fmt: skip
    assert lines[lines["order_id"] == "3456789013"]["discount"].tolist() == [0.1]


def test_etsy_orders_without_the_buyer_user_id_column(tmp_path: Path):
    header, *rows = (FIXTURES / "EtsySoldOrders2025-10.csv").read_text().splitlines()
    names = next(csv.reader([header]))
    keep = [i for i, n in enumerate(names) if n != "Buyer User ID"]
    cut = [[r[i] for i in keep] for r in csv.reader([header, *rows])]
    with (tmp_path / "EtsySoldOrders2025-10.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows(cut)
    loaded = load(tmp_path)
    assert _counts(loaded) == {"contacts": (3, 0, 0), "orders": (4, 0, 0)}
    assert loaded["orders"].clean["contact_id"].tolist()[:2] == ["emilyc88", "marcuslee"]


def test_woocommerce_reports(tmp_path: Path):
    loaded = load(fixture(tmp_path, "wc-orders-report-export-2025-10-31.csv",
                          "wc-customers-report-export-2025-10-31.csv"))  # fmt: skip
    assert _counts(loaded) == {"contacts": (4, 0, 0), "orders": (6, 0, 0)}
    orders = loaded["orders"].clean.set_index("order_id")
    # the report names customers, it has no key: the name, linked by the run when it is
    # one customer's (test_vendor_exports); a guest's order names no one
    assert orders.loc["1207", "contact_id"] == "Hannah Berg"
    assert pd.isna(orders.loc["1204", "contact_id"])
    assert orders.loc["1205", "status"] == "Refunded" and orders.loc["1202", "total"] == 1012.5
    people = loaded["contacts"].clean.set_index("contact_id")
    assert list(people.index) == [
        "hannah.berg@example.no", "omar.haddad@example.ae", "julia.santos@example.br", "row 5",
    ]  # fmt: skip
    assert people.loc["row 5", ["first_name", "last_name"]].tolist() == ["Guest", "Buyer"]


WC_BROWSER_CUSTOMERS = """Name,Role,Last active,Date registered,Email,Orders,Total spend,AOV,Country / Region
Hannah Berg,customer,2025-10-31,2025-10-31,hannah.berg@example.no,2,$34.00,$17.00,NO
Guest Buyer,,2025-10-28,,,1,$48.00,$48.00,US
"""
WC_EMAILED_ORDERS = """Date,Order #,N. Revenue (formatted),Status,Customer,Customer type,Product(s),\
Items sold,Coupon(s),Net Sales,Attribution
2025-10-31 09:12:40,1207,$34.00,processing,Hannah Berg,new,1× Linen Apron,1,,34,Organic: Google
2025-10-30 18:40:02,1206,$58.65,completed,Omar Haddad,returning,2× Tea Towel Set,2,autumn15,58.65,Direct
"""


@pytest.mark.parametrize(
    ("text", "table", "rows"),
    [(WC_BROWSER_CUSTOMERS, "contacts", 2), (WC_EMAILED_ORDERS, "orders", 2)],
)
def test_woocommerce_reports_as_the_browser_and_the_email_write_them(
    tmp_path: Path, text: str, table: str, rows: int
):
    """The browser download leaves out hidden columns (Username by default); the e-mailed
    export of a large report names some columns differently (Sign Up, Net Sales)."""
    (tmp_path / "wc-report-export.csv").write_text(text)
    loaded = load(tmp_path)
    assert loaded[table].layout and loaded[table].layout.startswith("WooCommerce")
    assert (len(loaded[table].clean), loaded[table].rejected) == (rows, 0)
    if table == "orders":
        assert loaded[table].clean["total"].tolist() == [34.0, 58.65]
    else:
        assert loaded[table].clean["contact_id"].tolist() == ["hannah.berg@example.no", "row 3"]


def test_quickbooks_sales_by_customer_detail(tmp_path: Path):
    loaded = load(fixture(tmp_path, "Sales_by_Customer_Detail.csv"))
    assert {t.layout for t in loaded.values()} == {"QuickBooks Sales by Customer Detail report"}
    # The footer note ("Accrual basis ...", one value where the header has ten) is a line
    # the CSV reader cannot split; the layout lists it as skipped, with the blank lines
    # above it and the headings and totals.
    assert _counts(loaded) == {
        "contacts": (3, 0, 0), "orders": (5, 0, 11), "order_lines": (7, 0, 0),
    }  # fmt: skip
    orders = loaded["orders"].clean.set_index("order_id")
    assert orders["total"].to_dict() == {
        "1001": 145.0, "1017": 90.0, "1005": 460.0, "Credit Memo 1005": -40.0, "1022": 285.0,
    }  # fmt: skip
    assert orders.loc["1022", "contact_id"] == "Carter, Jane"
    reasons = loaded["orders"].skipped["reason"].tolist()
    assert reasons.count("blank row") == 3 and loaded["orders"].unread == 0
    assert "report note" in reasons  # the footer
    assert "customer heading ('Beta Landscaping')" in reasons
    assert "total row ('TOTAL')" in reasons


def test_quickbooks_report_in_the_newer_view(tmp_path: Path):
    """The newer report view renames the columns (Transaction date, Product/Service full
    name, Quantity, Sales price); it is the same report, read the same way."""
    loaded = load(fixture(tmp_path, "Sales_by_Customer_Detail_modern.csv"))
    assert {t.layout for t in loaded.values()} == {"QuickBooks Sales by Customer Detail report"}
    assert _counts(loaded) == {
        "contacts": (3, 0, 0), "orders": (5, 0, 11), "order_lines": (7, 0, 0),
    }  # fmt: skip
    orders = loaded["orders"].clean.set_index("order_id")
    assert orders["total"].to_dict() == {
        "1001": 145.0, "1017": 81.0, "1022": 285.0, "1031": 1140.0, "Credit memo 1031": -190.0,
    }  # fmt: skip
    assert orders["contact_id"].tolist() == [
        "Acme Co", "Acme Co:Warehouse", "Carter, Jane", "Carter, Jane", "Carter, Jane",
    ]  # fmt: skip
    assert orders.loc["1017", "ordered_at"] == pd.Timestamp("2025-03-02", tz="UTC")
    lines = loaded["order_lines"].clean
    assert lines["product_id"].tolist()[:2] == ["Widgets:Widget Blue", "Shipping"]
    assert lines["quantity"].tolist()[:2] == [10, 1] and lines["unit_price"].iloc[0] == 12.5


def test_xero_invoices_export(tmp_path: Path):
    loaded = load(fixture(tmp_path, "Export_Invoices.csv"))
    assert _counts(loaded) == {
        "contacts": (3, 0, 0), "orders": (4, 0, 0), "order_lines": (5, 0, 0),
    }  # fmt: skip
    orders = loaded["orders"].clean.set_index("order_id")
    assert orders["contact_id"].tolist() == [
        "accounts@harbourcafe.example.co.nz", "orders@kowhai.example.co.nz", "Tui Deli",
        "accounts@harbourcafe.example.co.nz",
    ]  # fmt: skip
    assert orders["status"].tolist() == ["PAID", "AUTHORISED", "VOIDED", "AUTHORISED"]
    assert orders.loc["INV-0102", "total"] == 1035.0
    assert orders.loc["INV-0104", "ordered_at"] == pd.Timestamp("2025-10-24", tz="UTC")
    lines = loaded["order_lines"].clean
    assert lines["product_id"].tolist()[:2] == ["BEAN-5KG", "Delivery"]
    assert lines[lines["order_id"] == "INV-0102"]["discount"].tolist() == [0.1]


# -- every row read is loaded, rejected or listed -------------------------------------
ROW_TABLE = {  # the table that has one row per row of the file
    "hand_kept_customers.csv": "contacts",
    "shopify_orders_export_1.csv": "order_lines",
    "products_export_1.csv": "products",
    "customers_export.csv": "contacts",
    HUBSPOT.format("contacts"): "contacts",
    HUBSPOT.format("deals"): "deals",
    HUBSPOT.format("companies"): "contacts",
    MAILCHIMP.format("subscribed"): "contacts",
    MAILCHIMP.format("unsubscribed"): "contacts",
    "unified_payments.csv": "orders",
    "transactions-2025-10-01-2025-10-31.csv": "orders",
    "items-2025-10-01-2025-10-31.csv": "order_lines",
    "EtsySoldOrders2025-10.csv": "orders",
    "EtsySoldOrderItems2025-10.csv": "order_lines",
    "wc-orders-report-export-2025-10-31.csv": "orders",
    "wc-customers-report-export-2025-10-31.csv": "contacts",
    "Sales_by_Customer_Detail.csv": "order_lines",
    "Sales_by_Customer_Detail_modern.csv": "order_lines",
    "Export_Invoices.csv": "order_lines",
}


def _rows_read(path: Path) -> int:
    """Rows under the header (the first row with two filled cells), up to the last filled."""
    rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    filled = [sum(bool(c.strip()) for c in row) for row in rows]
    header = next(i for i, n in enumerate(filled) if n >= 2)
    last = max(i for i, n in enumerate(filled) if n)
    return last - header


@pytest.mark.parametrize("name", sorted(ROW_TABLE))
def test_every_row_is_loaded_rejected_or_listed(tmp_path: Path, name: str):
    assert set(ROW_TABLE) == {p.name for p in FIXTURES.iterdir()}  # no fixture forgotten
    loaded = load(fixture(tmp_path, name) / name)
    table = loaded[ROW_TABLE[name]]
    skipped = sum(len(t.skipped) for t in loaded.values())
    unread = sum(t.unread for t in loaded.values())  # listed with the file's main table
    assert len(table.clean) + table.rejected + skipped + unread == _rows_read(FIXTURES / name)


def test_a_hand_kept_tab_in_a_workbook(tmp_path: Path):
    rows = [
        ["Customer", "Email", "Spent"],
        ["Ann Lee", "ann@example.com", 120.5],
        ["Ann Lee", "ann.lee@work.example.com", 80],
        [None, None, None],
        ["Customer", "Email", "Spent"],
        ["Bo Chen", None, 15],
        ["Total", None, 215.5],
    ]
    workbook = Workbook()
    tab = workbook.active
    assert tab is not None
    tab.title = "Customers"
    for row in rows:
        tab.append(row)
    workbook.save(tmp_path / "list.xlsx")
    contacts = load(tmp_path / "list.xlsx")["contacts"]
    assert contacts.clean["contact_id"].tolist() == [
        "ann@example.com",
        "ann.lee@work.example.com",
        "row 6",
    ]
    assert contacts.skipped["reason"].tolist() == [
        "blank row",
        "repeated header row",
        "total row ('Total')",
    ]


def test_total_rows_are_told_from_customers_named_total():
    rows = [
        ["Total Wine & More", "2025-01-02", "12.00"],
        ["TOTAL 2025", "", "$1,234.00"],
        ["Total Fitness", "2025-02-02", "9"],
        ["Subtotal Leeds", "", "5"],
        ["Total for Acme", "", "5"],
        ["Summer Jones", "2025-03-03", "7"],
    ]
    frame = pd.DataFrame(rows, columns=["Customer", "Date", "Spent"], dtype=object)
    frame[SOURCE_ROW] = pd.Series(range(2, 8), dtype="Int64")
    prepared = prepare(frame, None)
    assert prepared.frame["Customer"].tolist() == ["Total Wine & More", "Total Fitness",
                                                   "Summer Jones"]  # fmt: skip
    assert prepared.skipped[SOURCE_ROW].tolist() == [3, 5, 6]


def test_a_mailchimp_unsubscribed_export_with_german_field_labels_is_still_opted_out(
    tmp_path: Path,
):
    """Field labels follow the audience ("E-Mail-Adresse", "Vorname"): the layout is still
    recognised, so these members stay opted out instead of counting as consent unknown."""
    path = FIXTURES / MAILCHIMP.format("unsubscribed")
    text = path.read_text().replace('"Email Address","First Name","Last Name"',
                                    '"E-Mail-Adresse","Vorname","Nachname"', 1)  # fmt: skip
    (tmp_path / "unsubscribed_members_export.csv").write_text(text)
    contacts = load(tmp_path / "unsubscribed_members_export.csv")["contacts"]
    assert contacts.layout == "Mailchimp audience export"
    assert (len(contacts.clean), contacts.rejected) == (4, 0)
    assert contacts.clean["email"].iloc[0] == "tom.obrien@example.com"
    assert not _allowed(contacts.clean["marketing_consent"]).any()


def test_one_export_in_several_files_is_read_whole(tmp_path: Path):
    """Mailchimp writes a file per status; each row says its file, consent follows it."""
    folder = fixture(tmp_path, MAILCHIMP.format("subscribed"), MAILCHIMP.format("unsubscribed"))
    source = FilesSource(folder)
    assert source.where("contacts") == ", ".join(sorted(p.name for p in folder.iterdir()))
    contacts = load(folder)["contacts"]
    assert (len(contacts.clean), contacts.rejected, len(contacts.skipped)) == (14, 0, 1)
    consent = _allowed(contacts.clean.set_index("contact_id")["marketing_consent"])
    assert consent.sum() == 10 and not consent["tom.obrien@example.com"]
    assert (
        '"File": "unsubscribed_'
        in contacts.clean.set_index("contact_id").loc["olga@example.ru", "extra"]
    )
    assert json.loads(contacts.skipped["row"].iloc[0]) == {"File": MAILCHIMP.format("subscribed")}


def test_a_shopify_export_split_in_two_files(tmp_path: Path):
    lines = (FIXTURES / "shopify_orders_export_1.csv").read_text().splitlines(keepends=True)
    (tmp_path / "orders_export_1.csv").write_text("".join(lines[:10]))
    (tmp_path / "orders_export_2.csv").write_text("".join(lines[:1] + lines[10:]))
    loaded = load(tmp_path)
    assert _counts(loaded) == {
        "contacts": (5, 0, 0), "orders": (8, 0, 0), "order_lines": (21, 0, 0),
        "products": (7, 0, 0),
    }  # fmt: skip


def test_two_hand_kept_lists_are_both_loaded(tmp_path: Path):
    (tmp_path / "list a.csv").write_text("Customer,Email\nAnn Lee,ann@example.com\nBo Chen,\n")
    (tmp_path / "list b.csv").write_text("Client,E-mail\nCy Diaz,\nAnn Lee,ann2@example.com\n")
    contacts = load(tmp_path)["contacts"]
    assert contacts.clean["contact_id"].tolist() == [
        "ann@example.com", "list a.csv row 3", "list b.csv row 2", "ann2@example.com",
    ]  # fmt: skip
    assert contacts.clean["email"].tolist()[3] == "ann2@example.com"
    assert contacts.clean["first_name"].tolist() == ["Ann", "Bo", "Cy", "Ann"]


# -- lines the reader could not split, read with the layout --------------------------
QB_FOOTER = "Accrual basis Monday, November 3, 2025 10:15 AM GMT-05:00"


@pytest.mark.parametrize("footer", [f'"{QB_FOOTER}"', QB_FOOTER, "Cash Basis"])
def test_a_quickbooks_reports_footer_lines_are_skipped_not_rejected(tmp_path: Path, footer: str):
    """The "Total for ...", TOTAL, blank and basis/date lines hold no record: all skipped."""
    text = (FIXTURES / "Sales_by_Customer_Detail.csv").read_text().splitlines()
    (tmp_path / "Sales_by_Customer_Detail.csv").write_text("\n".join([*text[:-1], footer]) + "\n")
    loaded = load(tmp_path)
    assert _counts(loaded) == {
        "contacts": (3, 0, 0), "orders": (5, 0, 11), "order_lines": (7, 0, 0),
    }  # fmt: skip
    assert loaded["orders"].unread == 0
    skipped = loaded["orders"].skipped.set_index("source_row")["reason"]
    assert skipped.loc[[10, 15, 18, 19, 20, 21, 22, 23]].tolist() == [
        "total row ('Total for Acme Co')", "total row ('Total for Beta Landscaping')",
        "total row ('Total for Carter Jane')", "total row ('TOTAL')",
        "blank row", "blank row", "blank row", "report note",
    ]  # fmt: skip
    with Store(tmp_path / "store.db") as store:
        result = run_pipeline(FilesSource(tmp_path), store, RunOptions(steps=()))
    assert result.status == "ok" and len(result.rejects) == 11
    assert set(result.rejects["action"]) == {"row skipped"}


def test_a_damaged_record_line_of_a_quickbooks_report_stays_a_reject(tmp_path: Path):
    text = (FIXTURES / "Sales_by_Customer_Detail.csv").read_text().splitlines()
    text[8] = ",03/02/2025,Sales Receipt,1017"  # line 9: a record cut short
    (tmp_path / "Sales_by_Customer_Detail.csv").write_text("\n".join(text) + "\n")
    loaded = load(tmp_path)
    assert _counts(loaded)["orders"] == (4, 0, 11) and loaded["orders"].unread == 1


def _damaged_shopify(tmp_path: Path) -> Path:
    """The orders export with a stray quote on line 6, the first row of order #1010."""
    lines = (FIXTURES / "shopify_orders_export_1.csv").read_text().splitlines(keepends=True)
    assert lines[5].startswith("#1010,") and lines[6].startswith("#1010,")
    lines[5] = lines[5].replace(",Clay Soap,", ',"Clay Soap,', 1)
    (tmp_path / "orders_export_1.csv").write_text("".join(lines))
    return tmp_path


def test_a_shopify_orders_lost_first_row_is_the_one_reject(tmp_path: Path):
    """Its other line rows load as lines; the order is not rejected again for a missing date."""
    loaded = load(_damaged_shopify(tmp_path))
    assert _counts(loaded) == {
        "orders": (7, 0, 0), "order_lines": (20, 0, 0), "contacts": (5, 0, 0),
        "products": (7, 0, 0),
    }  # fmt: skip
    assert "#1010" not in set(loaded["orders"].clean["order_id"])
    lines = loaded["order_lines"].clean
    # Lines 2 and 3: the lost first row was line 1 (numbered 1 and 2, they took the places
    # of lines the store already held, and the next good read moved them back).
    assert lines[lines["order_id"] == "#1010"]["line_no"].tolist() == [2, 3]
    with Store(tmp_path / "store.db") as store:
        result = run_pipeline(FilesSource(tmp_path), store, RunOptions(steps=()))
    rejects = result.rejects
    assert rejects[["source_row", "action"]].values.tolist() == [[6, "row rejected"]]
    assert "it is the first row of order #1010" in rejects["reason"].iloc[0]
    assert "ordered_at" not in " ".join(rejects["reason"])
    # Her "Accepts Marketing" was on the lost line: she is a buyer, consent unknown (no).
    consent = _allowed(loaded["contacts"].clean.set_index("contact_id")["marketing_consent"])
    assert not consent["anna.k@example.de"] and consent["sophie.martin@example.fr"]


def test_a_shopify_export_sorted_by_hand_still_finds_each_orders_fields(tmp_path: Path):
    """Sorted by product in Excel, an order's first row in the file is not the one with
    its date, status and total: those are taken from the row that has them."""
    header, *rows = (FIXTURES / "shopify_orders_export_1.csv").read_text().splitlines()
    by_product = sorted(rows, key=lambda r: next(csv.reader([r]))[17])
    (tmp_path / "orders_export_1.csv").write_text("\n".join([header, *by_product]) + "\n")
    loaded = load(tmp_path)
    assert _counts(loaded) == {
        "orders": (8, 0, 0), "order_lines": (21, 0, 0), "contacts": (5, 0, 0),
        "products": (7, 0, 0),
    }  # fmt: skip
    orders = loaded["orders"].clean.set_index("order_id")
    assert orders.loc["#1012", ["total", "status"]].tolist() == [183.6, "paid"]


def test_a_discount_code_on_the_whole_shopify_order_is_taken_off_its_lines(tmp_path: Path):
    """SAVE20 off the whole cart is written only in the order's Discount Amount (each line's
    `Lineitem discount` is 0.00), the Subtotal being the lines after it: prices read the
    list price as paid, so a 20%-off week was no price change at all. A free-shipping code
    takes nothing off the goods; a line's own discount stays."""
    header = (FIXTURES / "shopify_orders_export_1.csv").read_text().splitlines()[0]
    columns = header.split(",")

    def row(**cells: str) -> str:
        return ",".join(cells.get(c.replace(" ", "_"), "") for c in columns)

    first = {"Email": "a@example.com", "Financial_Status": "paid", "Currency": "USD",
             "Created_at": "2025-03-03 10:00:00 -0500"}  # fmt: skip
    rows = [
        # 2 x 25.00 + 1 x 10.00 = 60.00, 20% off the order: Subtotal 48.00
        row(Name="#1", Subtotal="48.00", Total="48.00", Discount_Code="SAVE20",
            Discount_Amount="12.00", Lineitem_quantity="2", Lineitem_price="25.00",
            Lineitem_sku="MUG", Lineitem_discount="0.00", **first),
        row(Name="#1", Lineitem_quantity="1", Lineitem_price="10.00", Lineitem_sku="TEA",
            Lineitem_discount="0.00"),
        # free shipping: Discount Amount 4.90 off the shipping, the goods at full price
        row(Name="#2", Subtotal="25.00", Total="25.00", Discount_Code="FREESHIP",
            Discount_Amount="4.90", Lineitem_quantity="1", Lineitem_price="25.00",
            Lineitem_sku="MUG", Lineitem_discount="0.00", **first),
        # a line's own 5.00 off, and 10% off the rest of the order: Subtotal 36.00
        row(Name="#3", Subtotal="36.00", Total="36.00", Discount_Code="TEN",
            Discount_Amount="9.00", Lineitem_quantity="1", Lineitem_price="25.00",
            Lineitem_sku="MUG", Lineitem_discount="5.00", **first),
        row(Name="#3", Lineitem_quantity="2", Lineitem_price="10.00", Lineitem_sku="TEA",
            Lineitem_discount="0.00"),
        # a staff order at 100% off: given away, not sold at the list price
        row(Name="#4", Subtotal="0.00", Total="0.00", Discount_Code="STAFF100",
            Discount_Amount="25.00", Lineitem_quantity="1", Lineitem_price="25.00",
            Lineitem_sku="MUG", Lineitem_discount="0.00", **first),
        # SAVE20 with a free sample in the cart: the code still comes off the mug (review)
        row(Name="#5", Subtotal="20.00", Total="20.00", Discount_Code="SAVE20",
            Discount_Amount="5.00", Lineitem_quantity="1", Lineitem_price="25.00",
            Lineitem_sku="MUG", Lineitem_discount="0.00", **first),
        row(Name="#5", Lineitem_quantity="1", Lineitem_price="0.00", Lineitem_sku="SAMPLE",
            Lineitem_discount="0.00"),
    ]  # fmt: skip
    (tmp_path / "orders_export_1.csv").write_text("\n".join([header, *rows]) + "\n")
    lines = load(tmp_path)["order_lines"].clean.set_index(["order_id", "line_no"])
    assert lines["discount"].astype(float).round(4).to_dict() == {
        ("#1", 1): 0.2, ("#1", 2): 0.2, ("#2", 1): 0.0, ("#3", 1): 0.28, ("#3", 2): 0.1,
        ("#4", 1): 1.0, ("#5", 1): 0.2, ("#5", 2): 0.0,
    }  # fmt: skip


def test_a_shopify_products_export_says_what_cannot_be_ordered_and_which_variants_are_one(
    tmp_path: Path,
):
    """Shopify's stock at 0 with inventory policy "deny" cannot be ordered, and an
    out-of-stock cap was suggested to 70 customers; the handle ties a tee's sizes and
    colours together, and none of it was read (find56_marketer items 2 and 4)."""
    head = ("Handle,Title,Option1 Name,Option1 Value,Option2 Name,Option2 Value,Variant SKU,"
            "Variant Inventory Tracker,Variant Inventory Qty,Variant Inventory Policy,"
            "Variant Price,Cost per item,Status\n")  # fmt: skip
    (tmp_path / "products_export_1.csv").write_text(
        head
        + "organic-tee,Organic Tee,Size,S,Color,Blue,TEE-S-BLU,shopify,4,deny,25.00,8,active\n"
        + "organic-tee,,,M,,Blue,TEE-M-BLU,shopify,0,deny,25.00,8,\n"
        + "organic-tee,,,L,,Blue,TEE-L-BLU,shopify,0,continue,25.00,8,\n"
        + "dad-cap,Dad Cap,Title,Default Title,,,CAP,,0,deny,20.00,5,active\n"
        + "tote,Canvas Tote,Title,Default Title,,,TOTE,shopify,-2,deny,15.00,5,active\n",
        encoding="utf-8",
    )
    rows = load(tmp_path)["products"].clean.set_index("product_id")
    assert rows["in_stock"].to_dict() == {
        "TEE-S-BLU": True, "TEE-M-BLU": False, "TEE-L-BLU": True, "CAP": True, "TOTE": False,
    }  # fmt: skip
    assert rows.loc["TEE-M-BLU", ["variant_of", "variant"]].tolist() == ["organic-tee", "M / Blue"]
    assert pd.isna(rows.loc["CAP", "variant"]) and rows.loc["CAP", "variant_of"] == "dad-cap"
    newer = tmp_path / "newer"
    newer.mkdir()
    (newer / "products_export_1.csv").write_text(
        "Title,URL handle,Status,SKU,Option1 name,Option1 value,Price,Cost per item,"
        "Inventory tracker,Inventory quantity,Continue selling when out of stock\n"
        "Organic Tee,organic-tee,active,TEE-M-NV,Size,M,18.00,7.00,shopify,0,DENY\n"
        ",organic-tee,,TEE-L-NV,,L,18.00,7.00,shopify,0,CONTINUE\n",
        encoding="utf-8",
    )
    rows = load(newer)["products"].clean.set_index("product_id")
    assert rows["in_stock"].to_dict() == {"TEE-M-NV": False, "TEE-L-NV": True}
