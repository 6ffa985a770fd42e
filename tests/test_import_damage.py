"""Real-shaped exports that lost or bent data on the way in (review probe42).

Each file is written here, as people save them; a run reads it through the files source
and the pipeline, and the store and the rejects say what happened to every row.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from smbml_connect.analytics.forecast.sales_series import sales_series
from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.ports import RunResult
from smbml_connect.store import Store


def run(path: Path, store: Store, tables: dict[str, str] | None = None) -> RunResult:
    return run_pipeline(FilesSource(path, tables or {}), store, RunOptions(steps=[]))


def rejects(result: RunResult, action: str) -> pd.DataFrame:
    return result.rejects[result.rejects["action"] == action].reset_index(drop=True)


# -- 1: a "Discount %" column typed as 10 for 10% ------------------------------------
def _shop(tmp_path: Path, header: str, discounts: tuple[str, str]) -> Path:
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "orders.csv").write_text(
        "Order ID,Customer ID,Order Date,Total\nO1,C1,2024-02-10,90.00\nO2,C2,2024-03-10,75.00\n"
    )
    (folder / "order lines.csv").write_text(
        f"Order ID,Line,SKU,Qty,Unit Price,{header}\n"
        f"O1,1,TEA,2,50.00,{discounts[0]}\nO2,1,TEA,1,100.00,{discounts[1]}\n"
    )
    return folder


def test_a_percent_header_with_whole_numbers_is_read_as_percentages(tmp_path: Path, store: Store):
    result = run(_shop(tmp_path, "Discount %", ("10", "25")), store)
    lines = store.read("order_lines").set_index("order_id")
    assert lines["discount"].to_dict() == {"O1": 0.10, "O2": 0.25}
    note = rejects(result, "column note")
    assert note["column"].tolist() == ["discount"] and "percentages" in note["reason"][0]
    series = sales_series(store.read("orders"), store.read("order_lines"),
                          pd.Timestamp("2024-04-15", tz="UTC"), freq="M")  # fmt: skip
    frame = series.frame if hasattr(series, "frame") else series
    tea = frame[frame["unique_id"] == "revenue:TEA"]["y"].tolist()
    assert tea == [90.0, 75.0]  # was -900 and -2400


def test_a_percent_header_holding_shares_stays_shares(tmp_path: Path, store: Store):
    """An Excel cell formatted as 10% holds 0.1: values all within 0..1 are not divided."""
    run(_shop(tmp_path, "Discount %", ("0.1", "12%")), store)
    lines = store.read("order_lines").set_index("order_id")
    assert lines["discount"].to_dict() == {"O1": 0.10, "O2": 0.12}


def test_a_discount_outside_0_to_1_is_left_empty_with_one_line(tmp_path: Path, store: Store):
    """Without a "%" header a 10 cannot be a share: cleared, the row kept, the line says how."""
    result = run(_shop(tmp_path, "Discount", ("10", "0.25")), store)
    lines = store.read("order_lines").set_index("order_id")
    assert pd.isna(lines.loc["O1", "discount"]) and lines.loc["O2", "discount"] == 0.25
    cleared = rejects(result, "value cleared")
    assert cleared[["source_row", "column", "value"]].values.tolist() == [[2, "discount", "10"]]
    assert "outside 0 to 1" in cleared["reason"][0] and '"percent"' in cleared["reason"][0]
    assert result.loaded["order_lines"] == 2 and result.rejected_rows == 0


def test_the_config_states_percent_for_a_header_without_it(tmp_path: Path, store: Store):
    from smbml_connect.coerce import ColumnFormat

    source = FilesSource(_shop(tmp_path, "Discount", ("10", "25")))
    formats = {"order_lines": {"discount": ColumnFormat.parse("percent")}}
    run_pipeline(source, store, RunOptions(steps=[], formats=formats))
    lines = store.read("order_lines").set_index("order_id")
    assert lines["discount"].to_dict() == {"O1": 0.10, "O2": 0.25}


# -- 2: products named "Total ..." ---------------------------------------------------
def test_products_named_total_load_and_real_total_rows_are_still_skipped(
    tmp_path: Path, store: Store
):
    path = tmp_path / "products.csv"
    path.write_text(
        "Product Name,SKU,Price,Cost\n"
        "House Blend 1kg,10021,24.00,9.50\n"
        "Total Body Lotion,10023,12.50,4.00\n"
        "Totals Tea Sampler,10024,18.00,6.00\n"
        "Sum Sum Snack Box,10025,8.00,3.00\n"
        "Total 2025,,62.50,22.50\n"  # adds up the four rows above (and has no SKU)
    )
    result = run(path, store, {"products": path.name})
    names = store.read("products")["name"].tolist()
    assert names == ["House Blend 1kg", "Total Body Lotion", "Totals Tea Sampler",
                     "Sum Sum Snack Box"]  # fmt: skip
    skipped = rejects(result, "row skipped")
    assert skipped[["source_row", "reason"]].values.tolist() == [[6, "total row ('Total 2025')"]]


def test_a_total_row_is_one_that_adds_up_or_identifies_nothing():
    from smbml_connect.layouts import prepare
    from smbml_connect.schema import SOURCE_ROW

    rows = [
        ["Total Care Kit", "10001", "10.00", "4"],
        ["Blue Mug", "10002", "6.00", "2"],
        ["Total Tea", "10003", "16.00", "6"],  # price and stock add up, its SKU does not...
        ["Totals", "", "32.00", "12"],  # ... this one's words say total
        ["Total Shine", "10004", "5.00", "1"],
        ["Total stock value", "", "", "999"],  # adds up nothing, but no SKU: not a product
        ["Total EUR", "", "37.00", "13"],  # everything above: a grand total
    ]
    frame = pd.DataFrame(rows, columns=["Product", "SKU", "Price", "Stock"], dtype=object)
    frame[SOURCE_ROW] = pd.Series(range(2, 2 + len(rows)), dtype="Int64")
    prepared = prepare(frame, None)
    assert prepared.frame["Product"].tolist() == ["Total Care Kit", "Blue Mug", "Total Tea",
                                                  "Total Shine"]  # fmt: skip
    assert prepared.skipped[SOURCE_ROW].tolist() == [5, 7, 8]


# -- 3: a flat file with one row per line item ---------------------------------------
FLAT = (
    "Order Number,Order Date,Customer Email,Order Total,Product,SKU,Quantity,Item Price\n"
    "1001,2024-03-01,Ann@example.com,60.00,Tea,T1,2,20.00\n"
    "1001,2024-03-01,Ann@example.com,60.00,Mug,M1,1,20.00\n"
    "1002,2024-03-02,bob@example.com,35.00,Tea,T1,1,20.00\n"
    "1002,2024-03-02,bob@example.com,35.00,Filter,F1,1,15.00\n"
    "1003,2024-03-03,cy@example.com,20.00,Tea,T1,1,20.00\n"
)


def test_a_flat_sales_file_gives_orders_their_lines_and_buyers(tmp_path: Path, store: Store):
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "sales.csv").write_text(FLAT)
    result = run(folder, store)
    assert result.loaded == {"contacts": 3, "orders": 3, "order_lines": 5}
    assert result.rejects.empty
    orders = store.read("orders").set_index("order_id")
    assert orders["contact_id"].to_dict() == {"1001": "ann@example.com", "1002": "bob@example.com",
                                              "1003": "cy@example.com"}  # fmt: skip
    assert orders["total"].to_dict() == {"1001": 60.0, "1002": 35.0, "1003": 20.0}
    lines = store.read("order_lines").sort_values(["order_id", "line_no"])
    assert lines[["order_id", "line_no", "product_id", "quantity", "unit_price"]].values.tolist() == [
        ["1001", 1, "T1", 2.0, 20.0], ["1001", 2, "M1", 1.0, 20.0], ["1002", 1, "T1", 1.0, 20.0],
        ["1002", 2, "F1", 1.0, 15.0], ["1003", 1, "T1", 1.0, 20.0],
    ]  # fmt: skip
    assert "Tea" in lines["extra"].iloc[0] and "Order Date" not in lines["extra"].iloc[0]
    assert set(store.read("contacts")["email"]) == {"ann@example.com", "bob@example.com",
                                                    "cy@example.com"}  # fmt: skip


def test_line_amounts_under_a_total_header_add_up_to_the_order(tmp_path: Path, store: Store):
    path = tmp_path / "sales.csv"
    path.write_text(
        "Order ID,Date,Customer ID,Item,Qty,Amount,Gift wrap\n"
        "A1,2024-03-01,C1,Tea,2,40.00,yes\nA1,2024-03-01,C1,Mug,1,20.00,yes\n"
        "A2,2024-03-02,C2,Tea,1,20.00,no\n"
    )
    run(path, store, {"orders": path.name})
    orders = store.read("orders").set_index("order_id")
    assert orders["total"].to_dict() == {"A1": 60.0, "A2": 20.0}
    assert orders["contact_id"].to_dict() == {"A1": "C1", "A2": "C2"}
    assert "Gift wrap" in orders.loc["A1", "extra"]  # the same on each row: the order's
    lines = store.read("order_lines")
    assert "Gift wrap" not in " ".join(lines["extra"].dropna())
    assert sorted(lines["product_id"]) == ["Mug", "Tea", "Tea"]


def test_a_duplicate_key_is_compared_over_the_whole_row(tmp_path: Path, store: Store):
    """Two rows of one order that differ only in columns kept in extra: the reason says so."""
    path = tmp_path / "orders.csv"
    path.write_text(
        "Order ID,Order Date,Total,Note\nA1,2024-03-01,60.00,first\nA1,2024-03-01,60.00,second\n"
    )
    result = run(path, store, {"orders": path.name})
    reason = rejects(result, "row rejected")["reason"].tolist()
    assert reason == ["duplicate order_id; row 3 has the same key, comes later and wins; "
                      "this row differed in Note"]  # fmt: skip


def test_a_key_repeated_on_a_later_page_is_compared_over_the_whole_row(
    tmp_path: Path, store: Store
):
    path = tmp_path / "orders.csv"
    path.write_text(
        "Order ID,Order Date,Total,Note\nA1,2024-03-01,60.00,first\nA2,2024-03-02,5.00,x\n"
        "A1,2024-03-01,60.00,second\n"
    )
    source = FilesSource(path, {"orders": path.name}, page_rows=2)
    result = run_pipeline(source, store, RunOptions(steps=[]))
    reason = rejects(result, "row rejected")["reason"].tolist()
    assert reason == ["duplicate order_id; row 4 has the same key, comes later and wins; "
                      "this row differed in Note"]  # fmt: skip


def test_a_flat_orders_file_beside_an_order_lines_file_is_read_as_plain_orders(
    tmp_path: Path, store: Store
):
    """Its lines cannot go to the order lines table another file gives: no row is dropped
    unsaid, a repeated order is rejected with how it differed."""
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "orders.csv").write_text(FLAT)
    (folder / "order lines.csv").write_text("Order ID,Line,SKU,Qty\n1001,1,T1,2\n")
    result = run(folder, store)
    assert result.loaded == {"orders": 3, "order_lines": 1}
    assert "differed in Product, SKU" in rejects(result, "row rejected")["reason"][0]


def test_a_flat_sales_tab_in_google_sheets_loses_no_row(tmp_path: Path, store: Store):
    """A flat sales tab was cut to the first row of each order without a word; then, while
    Sheets placed tabs by name only, read as plain orders with its second line rows
    rejected. Tabs are placed as files are now (stop 53): it gives what the file gives."""
    import csv
    import json

    from smbml_connect.connectors.gsheets.http import SheetsApi
    from smbml_connect.connectors.gsheets.sheets import SheetsSource
    from smbml_connect.credentials import Secret
    from smbml_connect.testing.clock import FakeClock
    from smbml_connect.testing.sheets_emulator import SheetsEmulator, make_service_account

    clock = FakeClock()
    rows = [list(r) for r in csv.reader(FLAT.splitlines())]
    with SheetsEmulator(clock=clock) as emu:
        key = "1FlatSalesSpreadsheet000000000000000000"
        emu.state.create(key, "Shop", {"Orders": rows})
        api = SheetsApi(Secret(json.dumps(make_service_account(emu))), api_url=emu.url,
                        clock=clock)  # fmt: skip
        result = run_pipeline(SheetsSource(api, key), store, RunOptions(steps=[]))
    assert result.loaded == {"contacts": 3, "orders": 3, "order_lines": 5}
    assert rejects(result, "row rejected").empty
    lines = store.read("order_lines").sort_values(["order_id", "line_no"])
    assert lines[["order_id", "product_id", "quantity"]].values.tolist() == [
        ["1001", "T1", 2.0], ["1001", "M1", 1.0], ["1002", "T1", 1.0], ["1002", "F1", 1.0],
        ["1003", "T1", 1.0],
    ]  # fmt: skip


# -- 4: two columns of one canonical column ------------------------------------------
def test_a_second_email_column_fills_the_empty_cells_of_the_first(tmp_path: Path, store: Store):
    """Lists put together: "E-mail" filled on every row, "Email" on one. Nothing is lost:
    the empty cells are filled, the one conflicting value stays in extra, both are said."""
    path = tmp_path / "contacts.csv"
    path.write_text(
        "Customer ID;E-mail;First Name;Email\n"
        "C1;ann@example.com;Ann;ann.alt@example.com\n"
        "C2;bob@example.com;Bob;\n"
        "C3;cy@example.com;Cy;\n"
    )
    source = FilesSource(path, {"contacts": path.name})
    result = run_pipeline(source, store, RunOptions(steps=[]))
    contacts = store.read("contacts").set_index("contact_id")
    assert contacts["email"].to_dict() == {"C1": "ann.alt@example.com", "C2": "bob@example.com",
                                           "C3": "cy@example.com"}  # fmt: skip
    assert '"E-mail": "ann@example.com"' in contacts.loc["C1", "extra"]
    assert pd.isna(contacts.loc["C2", "extra"])  # its value went to email, not twice
    shown = source.header_mappings["contacts"].describe()
    said = "'E-mail' -> email where 'Email' is empty (2 values taken); where both are filled "
    assert said + "and differ (row 2), 'Email' is used and 'E-mail' kept in extra" in shown
    note = rejects(result, "column note")
    assert note["column"].tolist() == ["email"] and "'E-mail' -> email" in note["reason"][0]


def test_a_header_that_loses_its_column_to_another_says_which():
    from smbml_connect.headers import map_headers

    shown = map_headers("orders", ["Order ID", "Order Status", "Status", "Date"]).describe()
    assert "'Order Status' -> extra (status is read from 'Status')" in shown
    assert "'Status' -> status" in shown


# -- 5: a table split by year, and every tab or file not read -------------------------
def test_tabs_of_one_table_by_year_are_read_together(tmp_path: Path, store: Store):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Customers"
    for row in (["Customer ID", "Email"], ["C1", "a@example.com"], ["C2", "b@example.com"]):
        sheet.append(row)
    for title, rows in (("Orders 2023", [["O1", "C1", "2023-05-01", 100], ["O2", "C2", "2023-06-01", 200]]),
                        ("Orders", [["O3", "C1", "2024-05-01", 300]])):  # fmt: skip
        tab = book.create_sheet(title)
        tab.append(["Order ID", "Customer ID", "Order Date", "Total"])
        for row in rows:
            tab.append(row)
    book.save(tmp_path / "shop.xlsx")
    result = run(tmp_path / "shop.xlsx", store)
    orders = store.read("orders").set_index("order_id")
    assert sorted(orders.index) == ["O1", "O2", "O3"] and result.loaded["orders"] == 3
    assert '"File": "Orders 2023"' in orders.loc["O1", "extra"]
    assert [n.check for n in result.notices if n.check == "not_read"] == []


def test_an_older_layout_sorted_first_does_not_turn_the_newer_years_away(
    tmp_path: Path, store: Store
):
    """orders_2023.csv in an older layout, 2024 and 2025 alike (exports gain columns):
    names sort the oldest first, which had made 2023 the table and refused the other two."""
    folder = tmp_path / "shop"
    folder.mkdir()
    header = "Order ID,Customer ID,Order Date,Total\n"
    (folder / "orders_2023.csv").write_text("Order ID,Order Date\nO0,2023-05-01\n")
    (folder / "orders_2024.csv").write_text(header + "O1,C1,2024-05-01,100\n")
    (folder / "orders_2025.csv").write_text(header + "O2,C1,2025-05-01,200\n")
    (folder / "orders_2022.csv").write_text("")  # an empty one first of all
    result = run(folder, store)
    assert sorted(store.read("orders")["order_id"]) == ["O1", "O2"]
    said = [n.message for n in result.notices if n.check == "not_read"]
    assert any(m.startswith("File 'orders_2023.csv' was not read") for m in said)
    assert any(m.startswith("File 'orders_2022.csv' was not read") for m in said)


def test_a_year_with_headers_retyped_and_an_order_in_two_years_is_read_and_said(
    tmp_path: Path, store: Store
):
    """orders_2025.csv with "order id" for "Order ID" (another tool, or typed by hand) was
    refused, a year lost; and one order in both years crashed the run (IndexError: each
    file numbers its rows from 1, so row 3 of one dropped row 3 of the other)."""
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "orders_2024.csv").write_text(
        "Order ID,Customer ID,Order Date,Total\nO1,C1,2024-03-02,10\nO2,C2,2024-07-03,11\n"
    )
    (folder / "orders_2025.csv").write_text(
        "order id,customer_id,ORDER DATE, total \nO3,C1,2025-01-04,12\nO2,C2,2024-07-03,11\n"
    )
    result = run(folder, store)
    orders = store.read("orders").set_index("order_id")
    assert sorted(orders.index) == ["O1", "O2", "O3"] and result.loaded["orders"] == 3
    assert orders.loc["O3", "total"] == 12  # the retyped header fills the same column
    assert [n for n in result.notices if n.check == "not_read"] == []
    (said,) = result.rejects[result.rejects["column"] == "order_id"]["reason"]
    # The row kept is named with its file, and the file a row came from differs from no
    # other column: the two rows are the same order.
    assert said == (
        "duplicate order_id; orders_2025.csv row 3 has the same key, comes later and wins; "
        "this row had the same values"
    )
    assert result.rejected_rows == 1


def test_rows_rejected_in_two_files_under_one_number_count_twice(tmp_path: Path, store: Store):
    folder = tmp_path / "shop"
    folder.mkdir()
    header = "Order ID,Customer ID,Order Date,Total\n"
    (folder / "orders_2024.csv").write_text(header + "O1,C1,someday,10\n")
    (folder / "orders_2025.csv").write_text(header + "O2,C1,never,12\nO3,C1,2025-01-04,12\n")
    result = run(folder, store)
    assert sorted(store.read("orders")["order_id"]) == ["O3"]
    assert result.rejected_rows == 2  # both are row 2 of their file


def test_every_file_not_read_is_named_with_why(tmp_path: Path, store: Store):
    from click.testing import CliRunner

    from smbml_connect.cli import cli

    header = "Order ID,Customer ID,Order Date,Total\n"
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "orders.csv").write_text(header + "O3,C1,2024-05-01,300\n")
    (folder / "orders_2023.csv").write_text(header + "O1,C1,2023-05-01,100\n")
    (folder / "orders_2022.csv").write_text("Order ID,Order Date\nO0,2022-05-01\n")
    (folder / "sales.csv").write_text(header + "S1,C1,2024-05-02,5\n")
    (folder / "notes.csv").write_text("What,When\nCall the bank,Monday\n")
    (folder / "products_export_1.csv").write_text("What,Cost\nMug,4\n")
    (folder / "empty.csv").write_text("")
    (folder / "old.xlsx").write_bytes(b"")
    result = run(folder, store)
    assert sorted(store.read("orders")["order_id"]) == ["O1", "O3"]
    said = {n.message.split(" was not read")[0]: n.message for n in result.notices
            if n.check == "not_read"}  # fmt: skip
    assert set(said) == {"File 'orders_2022.csv'", "File 'sales.csv'", "File 'notes.csv'",
                         "File 'empty.csv'", "File 'old.xlsx'",
                         "File 'products_export_1.csv'"}  # fmt: skip
    assert "headers differ (lacks 'Customer ID', 'Total')" in said["File 'orders_2022.csv'"]
    assert "'orders.csv' already gives orders" in said["File 'sales.csv'"]
    assert "its name is not a table's" in said["File 'notes.csv'"]
    # the advice names the table a word of the name says, else none (it said "orders" for
    # a products export)
    assert '[source.tables] <table> = "notes.csv", with one of' in said["File 'notes.csv'"]
    assert (
        '[source.tables] products = "products_export_1.csv"' in said["File 'products_export_1.csv'"]
    )
    assert said["File 'empty.csv'"].endswith("it is empty.")
    assert "only .csv files are read from a folder" in said["File 'old.xlsx'"]
    config = tmp_path / "smbml.toml"
    config.write_text(f'store = "s.sqlite"\n[source]\nkind = "files"\npath = "{folder}"\n')
    shown = CliRunner().invoke(cli, ["inspect", "-c", str(config)])
    assert "Not read:" in shown.output and "File 'sales.csv' was not read" in shown.output


# -- 6: formulas a program wrote and Excel never calculated ---------------------------
def test_formulas_without_a_saved_value_are_values_left_empty_and_said(
    tmp_path: Path, store: Store
):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Orders"
    sheet.append(["Order ID", "Customer ID", "Order Date", "Qty", "Unit Price", "Total", "Note"])
    sheet.append(["A1", "C1", "2024-03-05", 2, 12.5, "=D2*E2", "=UPPER(B2)"])
    sheet.append(["A2", "C2", "=DATE(2024,3,6)", 1, 10, "=D3*E3", "plain"])
    sheet.append(["A3", "C3", "2024-03-07", 1, 4, 4, None])
    sheet.append(["A4", "C4", "2024-03-08", 1, 3, 3, "=x"])
    sheet["G5"].data_type = "s"  # text that starts with "=", not a formula
    sheet.append(["Total 2024", None, None, "=SUM(D2:D5)", None, "=SUM(F2:F5)", None])
    book.save(tmp_path / "shop.xlsx")
    result = run(tmp_path / "shop.xlsx", store)
    orders = store.read("orders").set_index("order_id")
    assert sorted(orders.index) == ["A1", "A3", "A4"]
    assert pd.isna(orders.loc["A1", "total"]) and orders.loc["A3", "total"] == 4.0
    assert '"Note": "=x"' in orders.loc["A4", "extra"]
    assert "Note" not in orders.loc["A1", "extra"]  # the formula is not kept as a value
    said = result.rejects[result.rejects["reason"].str.contains("formula without a saved value")]
    assert said[["source_row", "column", "value", "action"]].values.tolist() == [
        [2, "Note", "=UPPER(B2)", "value cleared"],
        [2, "total", "=D2*E2", "value cleared"],
        [3, "ordered_at", "=DATE(2024,3,6)", "row rejected"],
        [3, "total", "=D3*E3", "value cleared"],
    ]
    assert "open the file in Excel or LibreOffice and save it" in said["reason"].iloc[1]
    # row 3 was rejected: its cleared total stays listed but is not a value left empty
    assert result.cleared_values == 2
    assert rejects(result, "row skipped")["source_row"].tolist() == [6]
    checks = {n.check: n for n in result.notices}
    assert checks["unsaved_formulas"].count == 4 and "text_in_numbers" not in checks


# -- 7: skipped rows are not rejected rows --------------------------------------------
def test_the_run_counts_rejected_rows_and_says_skipped_rows_apart(tmp_path: Path, store: Store):
    from click.testing import CliRunner

    from smbml_connect.cli import cli
    from smbml_connect.report import render_report, workbook_sheets

    path = tmp_path / "orders.csv"
    path.write_text(
        "Order ID;Customer ID;Order Date;Total\n"
        "A1;c1;05/03/2024;1.234,50\n"
        ";c2;06/03/2024;12,50\n"  # no key: the one rejected row
        ";;;\n"
        "A3;c3;07/03/2024;10,00\n"
        "Total;;;1.257,00\n",
        encoding="cp1252",
    )
    result = run(path, store, {"orders": path.name})
    assert (result.rejected_rows, result.rows_skipped) == (1, 2)
    assert result.counts()["rejected_rows"] == 1 and result.counts()["skipped_rows"] == 2
    summary = workbook_sheets(result)[0]["Summary"].set_index("item")["value"]
    assert summary["Rows rejected"] == 1
    assert summary["Rows skipped (blank, total, heading; other records)"] == 2
    assert "2 rows held no record" in render_report(result)
    config = tmp_path / "smbml.toml"
    config.write_text(
        f'store = "s.sqlite"\n[source]\nkind = "files"\npath = "{path}"\n'
        f'[source.tables]\norders = "{path.name}"\n[analytics]\nenabled = []\n'
    )
    ran = CliRunner().invoke(cli, ["run", "-c", str(config)])
    assert (
        "1 row rejected, 2 rows skipped (blank, total or heading rows, or records of another kind such as supplier bills or bank withdrawals) and 0 "
        in (ran.output)
    )
    status = CliRunner().invoke(cli, ["status", "-c", str(config)])
    assert "1 row rejected, 2 rows skipped, 0 values left empty" in status.output


# -- 7: a flat sales file beside a per-period copy of itself --------------------------
LINE_ROWS = "Order ID,Order Date,Customer Email,Product,SKU,Quantity,Item Price,Order Total\n"


def test_a_flat_sales_file_beside_its_copy_for_a_year_keeps_both_flat(tmp_path: Path, store: Store):
    """orders.csv and orders_2023.csv, one row per line item each: both give orders and
    lines (the year's file is a period part of orders.csv), no order is a duplicate."""
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "orders.csv").write_text(
        LINE_ROWS + "O3,2024-05-01,a@example.com,Tea,T1,2,10.00,35.00\n"
        "O3,2024-05-01,a@example.com,Mug,M1,1,15.00,35.00\n"
    )
    (folder / "orders_2023.csv").write_text(
        LINE_ROWS + "O1,2023-05-01,a@example.com,Tea,T1,1,10.00,10.00\n"
        "O2,2023-06-01,b@example.com,Tea,T1,3,10.00,40.00\n"
        "O2,2023-06-01,b@example.com,Mug,M1,1,10.00,40.00\n"
    )
    result = run(folder, store)
    assert result.rejected_rows == 0, result.rejects[["source_row", "reason"]].to_string()
    orders = store.read("orders").set_index("order_id")
    assert orders["total"].to_dict() == {"O1": 10.0, "O2": 40.0, "O3": 35.0}
    lines = store.read("order_lines")
    assert lines.groupby("order_id").size().to_dict() == {"O1": 1, "O2": 2, "O3": 2}
    assert sorted(store.read("contacts")["contact_id"]) == ["a@example.com", "b@example.com"]
    assert [n.message for n in result.notices if n.check == "not_read"] == []


def test_a_shopify_export_for_a_year_beside_a_hand_kept_orders_file_still_gives_lines(
    tmp_path: Path, store: Store
):
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "orders.csv").write_text(
        "Order ID,Customer ID,Order Date,Total\nO3,C1,2024-05-01,300\n"
    )
    fixture = Path(__file__).parent / "fixtures" / "layouts" / "shopify_orders_export_1.csv"
    (folder / "orders_export_2023.csv").write_bytes(fixture.read_bytes())
    run(folder, store)
    lines = store.read("order_lines")
    assert len(lines) > 0 and set(lines["order_id"]) >= {"#1012", "#1010"}


# -- 8: a flat sales file without an order total ------------------------------------
def test_a_flat_sales_file_without_a_total_sums_its_lines_and_says_so(tmp_path: Path, store: Store):
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "sales.csv").write_text(
        "Order ID,Order Date,Customer Email,Product,SKU,Quantity,Item Price,Discount %\n"
        "1001,2024-03-01,ann@example.com,Tea,T1,2,20.00,10\n"
        "1001,2024-03-01,ann@example.com,Mug,M1,1,15.50,\n"
        "1002,2024-03-02,bob@example.com,Tea,T1,1,20.00,0\n"
        "1003,2024-03-03,cy@example.com,Tea,T1,1,,0\n"
    )
    result = run(folder, store)
    orders = store.read("orders").set_index("order_id")
    assert orders.loc["1001", "total"] == 51.5  # 2 x 20 less 10%, plus 15.50
    assert orders.loc["1002", "total"] == 20.0
    assert pd.isna(orders.loc["1003", "total"])  # a line without a price: no total
    said = [n for n in result.notices if n.check == "derived_column"]
    assert len(said) == 1 and said[0].count == 2 and said[0].table == "orders"
    assert "without a total column in the file" in said[0].message
    assert "sum of its lines (quantity x unit price, less the discount)" in said[0].message
    notes = rejects(result, "column note")
    assert (notes["column"] == "total").sum() == 1
