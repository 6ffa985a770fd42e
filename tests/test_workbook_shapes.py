"""Workbooks as shop owners keep them in Excel: a chart on its own tab, merged cells,
euro-formatted amounts, one full-name column, error cells (find54_workbooks).

Each workbook is built here the way Excel writes it (a chart sheet, real merge ranges,
number formats, error cells ``t="e"``) with a few customers, and read through the files
source into a store.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import openpyxl.worksheet._reader as sheet_parser
import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference

from smbml_connect.coerce import UnreadCell
from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.ports import RunResult
from smbml_connect.store import Store

CUSTOMERS = [
    ("C1", "Anna Berg", "anna@x.com"),
    ("C2", "Ben Okafor", "ben@x.com"),
    ("C3", "Clara", "clara@x.com"),
]
ORDERS = [  # sorted by customer, as a list people tidy with merged cells
    ("A1", dt.datetime(2026, 3, 2, 10), "C1", 40.0),
    ("A2", dt.datetime(2026, 4, 9, 11), "C1", 25.5),
    ("A3", dt.datetime(2026, 6, 1, 9), "C1", 60.0),
    ("A4", dt.datetime(2026, 3, 5, 14), "C2", 12.0),
    ("A5", dt.datetime(2026, 7, 20, 16), "C2", 80.0),
    ("A6", dt.datetime(2026, 5, 11, 12), "C3", 33.3),
]


def shop(customers_header: tuple[str, ...] = ("Customer ID", "Name", "Email")) -> Workbook:
    book = Workbook()
    people = book.active
    assert people is not None
    people.title = "Customers"
    people.append(list(customers_header))
    for row in CUSTOMERS:
        people.append(list(row))
    orders = book.create_sheet("Orders")
    orders.append(["Order ID", "Order Date", "Customer ID", "Total"])
    for row in ORDERS:
        orders.append(list(row))
    return book


def run(path: Path, store: Store) -> tuple[RunResult, FilesSource]:
    source = FilesSource(path)
    return run_pipeline(source, store, RunOptions(steps=[])), source


def rejected(result: RunResult, action: str = "row rejected") -> Any:
    return result.rejects[result.rejects["action"] == action]


# -- 1: a chart sheet ------------------------------------------------------------------
def test_a_chart_on_its_own_tab_is_named_not_read_and_the_tables_load(tmp_path: Path, store: Store):
    """Excel's Move Chart > New sheet makes a chart sheet: it has no cells, and reading it
    as a table crashed the whole run with an "unexpected AttributeError"."""
    book = shop()
    chart = BarChart()
    chart.add_data(Reference(book["Orders"], min_col=4, min_row=1, max_row=7))
    book.create_chartsheet("Chart1", 0).add_chart(chart)
    book.save(tmp_path / "shop.xlsx")
    result, source = run(tmp_path / "shop.xlsx", store)
    assert len(store.read("orders")) == len(ORDERS)
    assert len(store.read("contacts")) == len(CUSTOMERS)
    assert "Tab 'Chart1' was not read: it is a chart, not a table." in source.not_read()
    assert rejected(result).empty


# -- 2: merged cells -------------------------------------------------------------------
def test_a_customer_id_merged_down_over_their_orders_belongs_to_every_order(
    tmp_path: Path, store: Store
):
    """A list tidied by merging each customer's ID over their orders: Excel shows the ID on
    every row, but a read-only workbook gives it to the first row only, and the other
    orders lost their customer without a word."""
    book = shop()
    orders = book["Orders"]
    for first, last in [(2, 4), (5, 6)]:  # C1's three orders, C2's two; C3's one alone
        for row in range(first + 1, last + 1):
            orders.cell(row, 3).value = None
        orders.merge_cells(start_row=first, start_column=3, end_row=last, end_column=3)
    book.save(tmp_path / "shop.xlsx")
    result, _ = run(tmp_path / "shop.xlsx", store)
    stored = store.read("orders").set_index("order_id")["contact_id"].to_dict()
    assert stored == {order: customer for order, _, customer, _ in ORDERS}
    said = [n for n in result.notices if n.check == "merged_cells"]
    assert len(said) == 1 and said[0].count == 3
    assert "'Orders'" in said[0].message and "C2:C4, C5:C6" in said[0].message


def test_a_blank_row_inside_a_merged_range_is_a_skipped_blank_row(tmp_path: Path, store: Store):
    """review55 item 5: a blank row left between a customer's orders, inside the range their
    ID is merged over, was filled with that ID and then rejected for its empty order ID and
    date, and counted among the cells read as the merged value."""
    book = shop()
    orders = book["Orders"]
    orders.insert_rows(3)  # a blank row between C1's first and second orders (sheet row 3)
    for row in (4, 5):
        orders.cell(row, 3).value = None
    orders.merge_cells("C2:C5")  # C1's three orders and the blank row between them
    book.save(tmp_path / "shop.xlsx")
    result, _ = run(tmp_path / "shop.xlsx", store)
    stored = store.read("orders").set_index("order_id")["contact_id"].to_dict()
    assert stored == {order: customer for order, _, customer, _ in ORDERS}
    assert rejected(result).empty
    assert rejected(result, "row skipped")[["source_row", "reason"]].values.tolist() == [
        [3, "blank row"]
    ]
    (said,) = [n for n in result.notices if n.check == "merged_cells"]
    assert said.count == 2 and "(C2:C5)" in said.message


def test_an_order_id_merged_over_its_lines_is_not_a_rejected_line(tmp_path: Path, store: Store):
    """As on an invoice: the order's ID merged down over its lines. Each line was rejected
    for an empty order ID the user could see in Excel. A heading merged across the top
    stays a heading (only ranges below the header are filled)."""
    book = shop()
    lines = book.create_sheet("Order Lines")
    rows = [
        ("Invoice lines", None, None, None),
        (None, None, None, None),
        ("Order ID", "Product", "Quantity", "Unit Price"),
        ("A1", "Mug", 2, 10.0),
        (None, "Tea", 1, 20.0),
        ("A2", "Mug", 1, 25.5),
    ]
    for number, row in enumerate(rows, 1):
        for column, value in enumerate(row, 1):
            lines.cell(number, column).value = value
    lines.merge_cells("A1:A2")  # a title over two rows, above the header: not a value
    lines.merge_cells("A4:A5")
    book.save(tmp_path / "shop.xlsx")
    result, _ = run(tmp_path / "shop.xlsx", store)
    assert rejected(result).empty
    assert sorted(store.read("order_lines")["order_id"]) == ["A1", "A1", "A2"]


# -- 3: the currency in the amount cells' number format ----------------------------------
def formatted(book: Workbook, formats: dict[int, str]) -> Workbook:
    """The Orders tab's Total cells in the number formats given (sheet row -> format)."""
    for row, pattern in formats.items():
        book["Orders"].cell(row, 4).number_format = pattern
    return book


EURO = "#,##0.00 [$€-407]"  # Excel's "€ Euro (€ 123)" German format: shown 40,00 €


def test_a_workbook_of_euro_formatted_totals_is_a_euro_shop(tmp_path: Path, store: Store):
    """No currency column: the amounts' format is all that says euro, and every figure
    was shown in dollars. Excel writes the format as a style the cells point at."""
    formatted(shop(), {row: EURO for row in range(2, 2 + len(ORDERS))}).save(tmp_path / "a.xlsx")
    result, _ = run(tmp_path / "a.xlsx", store)
    assert set(store.read("orders")["currency"]) == {"EUR"}
    assert result.currency == "EUR"
    assert not [n for n in result.notices if "currenc" in n.check]


def test_totals_formatted_in_two_currencies_are_each_their_own_and_said(
    tmp_path: Path, store: Store
):
    """A shop selling to Japan in yen beside its euro sales: each order is in the currency
    its cell shows, and one data check says how many of each."""
    formats = {row: EURO for row in range(2, 2 + len(ORDERS))}
    formats[3] = "[$¥-411]#,##0"  # A2, from the Japanese locale's yen format
    formatted(shop(), formats).save(tmp_path / "a.xlsx")
    result, _ = run(tmp_path / "a.xlsx", store)
    currency = store.read("orders").set_index("order_id")["currency"]
    assert currency["A2"] == "JPY" and set(currency.drop("A2")) == {"EUR"}
    (said,) = [n for n in result.notices if n.check == "currency_formats"]
    assert "'Total'" in said.message and "5 in EUR, 1 in JPY" in said.message


def test_dollar_formatted_totals_say_which_dollar_they_are_shown_in(tmp_path: Path, store: Store):
    """Excel's built-in currency format ("$"#,##0.00) names no one currency: the run says
    which it shows them in, as a Google Sheet of such amounts does."""
    formatted(shop(), {row: '"$"#,##0.00' for row in range(2, 8)}).save(tmp_path / "a.xlsx")
    result, _ = run(tmp_path / "a.xlsx", store)
    (said,) = [n for n in result.notices if n.check == "unnamed_currency"]
    assert "marked $" in said.message
    assert store.read("orders")["currency"].isna().all()


def test_yen_formats_of_japanese_excel_are_yen(tmp_path: Path, store: Store):
    """Japanese Excel's usual custom yen format (`#,##0"円"`) and its currency list's "￥
    日本語" entry (`[$￥-411]`, the full-width sign) name yen: both were shown in dollars
    with no data check (find56_intl item 4); `[$¥-411]` already was yen."""
    for pattern in ('#,##0"円"', "[$￥-411]#,##0", '#,##0"円";[Red]-#,##0"円"'):
        formatted(shop(), {row: pattern for row in range(2, 8)}).save(tmp_path / "a.xlsx")
        result, _ = run(tmp_path / "a.xlsx", store)
        assert set(store.read("orders")["currency"]) == {"JPY"}, pattern
        assert result.currency == "JPY", pattern
        assert not [n for n in result.notices if n.check == "unnamed_currency"], pattern


def test_a_locale_id_names_the_currency_of_a_sign_we_do_not_know(tmp_path: Path, store: Store):
    """Excel's `[$<sign>-<locale id>]`: the locale id says the currency when the sign does
    not ("R" is South Africa's rand, 1C09 its English locale); a sign and id that name
    nothing get the one line saying what the figures are shown in."""
    formatted(shop(), {row: "[$R-1C09]#,##0.00" for row in range(2, 8)}).save(tmp_path / "a.xlsx")
    result, _ = run(tmp_path / "a.xlsx", store)
    assert result.currency == "ZAR"
    formatted(shop(), {row: "[$Rx-7777]#,##0" for row in range(2, 8)}).save(tmp_path / "b.xlsx")
    result, _ = run(tmp_path / "b.xlsx", store)
    (said,) = [n for n in result.notices if n.check == "unnamed_currency"]
    assert "marked Rx, which names no currency we know" in said.message


def test_pattern_currency_reads_signs_and_locale_ids_as_excel_does():
    """Each of Excel's ways to show a currency, and formats that show none."""
    from smbml_connect.currency_formats import pattern_currency

    named = {
        '#,##0"円"': "JPY", "[$￥-411]#,##0": "JPY", "[$¥-804]#,##0.00": "CNY",
        "#,##0원": "KRW", "[$₩-412]#,##0": "KRW", "[$NT$-404]#,##0": "TWD",
        "[$Rp-421]#,##0": "IDR", "[$kr.-406]#,##0.00": "DKK", "[$$-C09]#,##0.00": "AUD",
        "[$$-480A]#,##0.00": "HNL", "[$€-407]#,##0.00": "EUR", '#,##0.00 "zł"': "PLN",
        '"￥"#,##0': "?", '#,##0" 元"': "?", "[$Rx-7777]#,##0": "?",
        "General": None, "yyyy-mm-dd": None, "[$-409]d-mmm-yy": None, '0" pcs"': None,
        'yyyy"年"m"月"d"日"': None, "yyyy年m月d日": None,
    }  # fmt: skip
    assert {p: pattern_currency(p) for p in named} == named
    assert pattern_currency('#,##0" 元"', "zh_TW") == "TWD"


# -- 4: one column of whole names --------------------------------------------------------
def test_a_customer_name_column_beside_an_id_gives_every_result_its_name(
    tmp_path: Path, store: Store
):
    """`Customer ID, Customer Name, Email`: the commonest customer list. The names went
    to extra and every result tab's Name column was empty."""
    for header in ("Name", "Customer Name"):
        shop(("Customer ID", header, "Email")).save(tmp_path / "a.xlsx")
        _, source = run(tmp_path / "a.xlsx", store)
        people = store.read("contacts").set_index("contact_id")
        assert people.loc["C1", ["first_name", "last_name"]].tolist() == ["Anna", "Berg"]
        assert people.loc["C3", "first_name"] == "Clara" and pd.isna(people.loc["C3", "last_name"])
        described = source.header_mappings["contacts"].describe()
        assert f"{header!r} -> first_name and last_name" in " ".join(described)


def test_the_name_column_is_the_name_result_tabs_show(tmp_path: Path, store: Store):
    """Result tabs join first and last name (``contact_names``): the name as typed."""
    from smbml_connect.steps.base import contact_names

    shop(("Customer ID", "Customer Name", "Email")).save(tmp_path / "a.xlsx")
    run(tmp_path / "a.xlsx", store)
    shown = contact_names(store.read("contacts")).to_dict()
    assert shown == {person: name for person, name, _ in CUSTOMERS}


def test_first_and_last_name_columns_keep_a_name_column_in_extra():
    """A list with first and last names and a `Name` (a company, a nickname) beside them:
    the name columns are the ones the list says."""
    from smbml_connect.headers import map_headers

    mapping = map_headers("contacts", ["Customer ID", "First Name", "Last Name", "Name"])
    assert mapping.full_name is None and "Name" in mapping.unmapped


# -- 6: Excel's error values -----------------------------------------------------------------
def test_every_excel_error_in_a_table_column_is_named_with_its_row(tmp_path: Path, store: Store):
    """A VLOOKUP that found nothing saves #N/A: it was read as a blank, no row named, while
    the #DIV/0! beside it was. Each error is now listed with its row, column and value."""
    book = shop()
    orders = book["Orders"]
    errors = {2: "#N/A", 3: "#DIV/0!", 4: "#REF!", 5: "#GETTING_DATA"}
    for row, code in errors.items():
        orders.cell(row, 4).value = code
        orders.cell(row, 4).data_type = "e"  # an error cell, t="e", as Excel saves it
    orders.cell(7, 3).value = "#N/A"  # the customer looked up from another tab
    orders.cell(7, 3).data_type = "e"
    book.save(tmp_path / "a.xlsx")
    result, _ = run(tmp_path / "a.xlsx", store)
    cleared = rejected(result, "value cleared").set_index("source_row")
    assert cleared["value"].to_dict() == {**errors, 7: "#N/A"}
    assert cleared.loc[7, "column"] == "contact_id"
    assert "Excel's error #N/A (a lookup that found nothing)" in cleared.loc[2, "reason"]
    assert result.cleared_values == len(errors) + 1
    stored = store.read("orders").set_index("order_id")
    assert stored["total"].isna().sum() == len(errors) and pd.isna(stored.loc["A6", "contact_id"])


# -- 5 and 7: text dates with a zone word, dotted dates --------------------------------------
def dated_shop(dates: list[str]) -> Workbook:
    """The Orders tab's dates typed as text, as pasted from a mail or another system."""
    book = shop()
    for row, text in enumerate(dates, 2):
        book["Orders"].cell(row, 2).value = text
    return book


def test_a_zone_word_is_read_as_its_offset_or_refused_with_its_row(
    tmp_path: Path, store: Store, recwarn: Any
):
    """ "10:00 PM EST" was read as 22:00 UTC (the true instant is 03:00 the next day), with
    a Python warning printed in the run. CST names three zones: refused, one line."""
    dates = [
        "Mar 4, 2025 10:00 PM EST",
        "04.03.2025 10:00 CET",
        "Mar 4, 2025 10:00 CST",
        "Jul 4, 2025 10:00 PDT",
        "Mar 5, 2025 10:00 XYZ",
        "Mar 6, 2025 09:30 Uhr",
    ]
    dated_shop(dates).save(tmp_path / "a.xlsx")
    result, _ = run(tmp_path / "a.xlsx", store)
    stored = store.read("orders").set_index("order_id")["ordered_at"].astype(str).to_dict()
    assert stored["A1"].startswith("2025-03-05 03:00")
    assert stored["A2"].startswith("2025-03-04 09:00")
    assert stored["A4"].startswith("2025-07-04 17:00")
    assert stored["A6"].startswith("2025-03-06 09:30")
    refused = rejected(result).set_index("source_row")
    assert refused["value"].to_dict() == {4: "Mar 4, 2025 10:00 CST", 6: "Mar 5, 2025 10:00 XYZ"}
    assert "names several time zones" in refused.loc[4, "reason"]
    assert not [w for w in recwarn if "tz" in str(w.message).lower()]


def test_a_cst_time_is_the_shops_own_when_its_zone_writes_cst(tmp_path: Path, store: Store):
    from smbml_connect.coerce import read_dates

    read = read_dates(pd.Series(["Jan 4, 2025 10:00 CST"]), zone="America/Chicago")
    assert str(read.values.iloc[0]).startswith("2025-01-04 16:00")


def test_a_zone_word_inside_a_unix_date_is_read_as_one_at_the_end(tmp_path: Path, store: Store):
    """`date` and some exports write the zone between the time and the year ("Tue Mar 4
    10:00:00 CST 2025"): dateutil read it without the shop's zone, so CST was refused even
    in a Chicago shop, where "Mar 4, 2025 10:00 CST" was read. A word several zones write
    that the shop's zone does not write then, or no zone at all, is still one line."""
    dates = [
        "Tue Mar  4 10:00:00 CST 2025",  # Chicago in winter: UTC-6
        "Fri Jul  4 10:00:00 CDT 2025",
        "Fri Jul  4 10:00:00 CST 2025",  # Chicago writes CDT in July: CST is not its own
        "Wed Mar  5 09:30:00 EST 2025",
        "Wed Mar  5 09:30:00 IST 2025",
        "Thu Mar  6 08:15:00 2025",  # no zone word: the shop's clock
    ]
    dated_shop(dates).save(tmp_path / "a.xlsx")
    source = FilesSource(tmp_path / "a.xlsx")
    result = run_pipeline(source, store, RunOptions(steps=[], time_zone="America/Chicago"))
    stored = store.read("orders").set_index("order_id")["ordered_at"].astype(str).to_dict()
    assert stored["A1"].startswith("2025-03-04 16:00")
    assert stored["A2"].startswith("2025-07-04 15:00")
    assert stored["A4"].startswith("2025-03-05 14:30")
    assert stored["A6"].startswith("2025-03-06 14:15")
    refused = rejected(result).set_index("source_row")
    assert refused["value"].to_dict() == {4: dates[2], 6: dates[4]}
    assert all("names several time zones" in r for r in refused["reason"])
    from smbml_connect.coerce import read_dates

    elsewhere = read_dates(pd.Series(["Tue Mar 4 10:00:00 CST 2025"]), zone="Asia/Shanghai")
    assert str(elsewhere.values.iloc[0]).startswith("2025-03-04 02:00")
    unknown = read_dates(pd.Series(["Tue Mar 4 10:00:00 CST 2025", "Tue Mar 4 10:00:00 XYZ 2025"]))
    assert (
        unknown.invalid.all()
        and "no time zone we know" in unknown.reasons["Tue Mar 4 10:00:00 XYZ 2025"]
    )


def test_every_form_of_date_reads_its_zone_word_or_offset_by_the_same_rules(
    tmp_path: Path, store: Store, recwarn: Any
):
    """A Berlin shop's CSV export, times written by several systems (review55 item 2). A
    year-first date's word went to pandas, which dropped it with a FutureWarning in the
    terminal: "2025-03-04 10:00 EST" was read on Berlin's clock (6 hours off) and "XYZ" was
    not refused. JavaScript's Date writes "GMT+0100", which dateutil read as UTC-1."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "contacts.csv").write_text("contact_id,email\nC1,a@x.test\nC2,b@x.test\n")
    (tmp_path / "data" / "orders.csv").write_text(
        "order_id,contact_id,ordered_at,total\n"
        "O1,C1,2025-03-04 10:00 EST,10\n"
        "O2,C1,Tue Mar 4 10:00:00 EST 2025,12.5\n"
        "O3,C2,Mar 4 2025 10:00 AM EST,8\n"
        "O4,C2,2025-03-04 10:00 XYZ,20\n"
        "O5,C1,Tue Mar 04 2025 10:00:00 GMT+0100 (Central European Standard Time),9\n"
        "O6,C2,2025/03/05 18:30:00 UTC+5:30,14\n"
        "O7,C1,2025-03-05 09:15,11\n"
    )
    source = FilesSource(tmp_path / "data")
    result = run_pipeline(source, store, RunOptions(steps=[], time_zone="Europe/Berlin"))
    stored = store.read("orders").set_index("order_id")["ordered_at"].astype(str).to_dict()
    assert {k: stored[k][:16] for k in ("O1", "O2", "O3")} == dict.fromkeys(
        ("O1", "O2", "O3"), "2025-03-04 15:00"
    )
    assert stored["O5"].startswith("2025-03-04 09:00")  # 10:00 at UTC+1
    assert stored["O6"].startswith("2025-03-05 13:00")  # 18:30 at UTC+5:30
    assert stored["O7"].startswith("2025-03-05 08:15")  # no zone: Berlin's clock
    refused = rejected(result).set_index("source_row")
    assert refused["value"].to_dict() == {5: "2025-03-04 10:00 XYZ"}
    assert "no time zone we know" in refused.loc[5, "reason"]
    assert not [w for w in recwarn if "timezone" in str(w.message).lower()]
    from smbml_connect.coerce import read_dates

    chicago = read_dates(
        pd.Series(["2025-03-04 10:00 CET", "2025-03-04 10:00 CST"]), zone="America/Chicago"
    )
    assert [str(v)[:16] for v in chicago.values] == ["2025-03-04 09:00", "2025-03-04 16:00"]


def test_the_word_names_which_of_the_repeated_hour_and_a_skipped_time_is_one_line(
    tmp_path: Path, store: Store
):
    """A Chicago shop's orders around both clock changes of 2025 (review55 item 3). When
    summer time ends 01:00-02:00 comes twice: "01:30 CDT" is the first (06:30 UTC), "01:30
    CST" the second (07:30 UTC), which was refused as "not the business's" zone. When it
    begins, 02:00-03:00 is skipped: "02:30 CST" was never on a Chicago clock."""
    dates = [
        "Sun Nov  2 01:30:00 CDT 2025",
        "Sun Nov  2 01:30:00 CST 2025",
        "Nov 2 2025 1:45 AM CST",
        "2025-11-02 01:10 CST",
        "Sun Mar  9 02:30:00 CST 2025",
        "Sun Mar  9 03:30:00 CDT 2025",
    ]
    dated_shop(dates).save(tmp_path / "a.xlsx")
    source = FilesSource(tmp_path / "a.xlsx")
    result = run_pipeline(source, store, RunOptions(steps=[], time_zone="America/Chicago"))
    stored = store.read("orders").set_index("order_id")["ordered_at"].astype(str).to_dict()
    assert {k: v[:16] for k, v in stored.items()} == {
        "A1": "2025-11-02 06:30",
        "A2": "2025-11-02 07:30",
        "A3": "2025-11-02 07:45",
        "A4": "2025-11-02 07:10",
        "A6": "2025-03-09 08:30",
    }
    refused = rejected(result).set_index("source_row")
    assert refused["value"].to_dict() == {6: dates[4]}
    assert refused.loc[6, "reason"].endswith(
        "is 02:30 CST on 9 March 2025, a time the clocks of America/Chicago skipped when summer "
        "time began (they went from 02:00 to 03:00): write the time with its offset (-06:00) "
        "or as the clock showed it"
    )


def test_dotted_dates_are_day_first_and_the_note_says_so(tmp_path: Path, store: Store):
    """Seven dotted dates, every day 1-12: read month first, 4 March became 3 April."""
    dates = ["04.03.2025", "05.03.2025", "06.03.2025", "07.03.2025", "01.02.2025", "02.03.2025"]
    dated_shop(dates).save(tmp_path / "a.xlsx")
    result, _ = run(tmp_path / "a.xlsx", store)
    stored = store.read("orders").set_index("order_id")["ordered_at"].astype(str)
    assert stored["A1"].startswith("2025-03-04") and stored["A5"].startswith("2025-02-01")
    notes = result.rejects[result.rejects["action"] == "column note"]["reason"].tolist()
    assert any("written with dots (like 04.03.2025)" in n and "day first" in n for n in notes)


# -- 10: an .xls or .ods workbook ----------------------------------------------------------
def test_an_old_workbook_in_a_folder_is_told_to_be_saved_as_xlsx(tmp_path: Path):
    """The advice was "point source.path at the workbook", which then failed: an .xls or
    .ods is not read even so. Both places now say the one thing that works."""
    import pytest

    from smbml_connect.errors import ConfigError

    (tmp_path / "orders.csv").write_text("Order ID,Order Date,Total\nA1,2026-03-02,40\n")
    for name in ("shop.xls", "shop.ods"):
        (tmp_path / name).write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504)
    lines = FilesSource(tmp_path).not_read()
    assert len(lines) == 2
    for line in lines:
        assert "save it as an Excel Workbook (.xlsx)" in line
        assert "point source.path at the workbook)" not in line
    with pytest.raises(ConfigError, match=r"shop.xls: .*save it as an Excel Workbook \(.xlsx\)"):
        FilesSource(tmp_path / "shop.xls")


# -- 9: the 1904 date system -----------------------------------------------------------------
def test_a_serial_in_a_1904_workbook_is_the_date_excel_shows(tmp_path: Path, store: Store):
    """A Mac workbook counting from 1904: a date pasted as a value into a General cell was
    read in the 1900 system, four years and a day early. Date cells were right already."""
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    for epoch, shown in [(CALENDAR_MAC_1904, "2029-03-05"), (None, "2025-03-04")]:
        book = shop()
        if epoch is not None:
            book.epoch = epoch
        book["Orders"].cell(3, 2).value = 45720  # A2, in a General cell
        book["Orders"].cell(3, 2).number_format = "General"
        book.save(tmp_path / "a.xlsx")
        run(tmp_path / "a.xlsx", store)
        stored = store.read("orders").set_index("order_id")["ordered_at"].astype(str)
        assert stored["A2"].startswith(shown)
        assert stored["A1"].startswith("2026-03-02 10:00")  # a date cell, either system


# -- 8: Excel's Data > Subtotal rows -----------------------------------------------------------
def test_excels_subtotal_rows_are_skipped_as_totals(tmp_path: Path, store: Store):
    """Data > Subtotal writes "<group> Total" under each group and "Grand Total" at the
    end, each with its saved sum: they were rejected as orders without a date."""
    book = Workbook()
    orders = book.active
    assert orders is not None
    orders.title = "Orders"
    orders.append(["Order ID", "Order Date", "Customer ID", "Total"])
    for month in ("2026-03", "2026-04"):
        group = [o for o in ORDERS if f"{o[1]:%Y-%m}" == month]
        for order in group:
            orders.append(list(order))
        orders.append([f"{month} Total", None, None, sum(o[3] for o in group)])
    orders.append(["Grand Total", None, None, sum(o[3] for o in ORDERS if o[1].month < 5)])
    book.save(tmp_path / "a.xlsx")
    result, _ = run(tmp_path / "a.xlsx", store)
    assert rejected(result).empty
    skipped = rejected(result, "row skipped")
    assert sorted(skipped["reason"]) == [
        "total row ('2026-03 Total')",
        "total row ('2026-04 Total')",
        "total row ('Grand Total')",
    ]
    assert len(store.read("orders")) == sum(o[1].month < 5 for o in ORDERS)


# -- stop 55: sheets that state no size, or a wrong one -------------------------------------
def sized(path: Path, book: Workbook, sizes: dict[str, str | None]) -> Path:
    """``book`` saved with its sheets' ``<dimension>`` as exporters write it: left out
    (None: openpyxl's write-only mode and many exporters) or stale ("A1:C4")."""
    plain = path.with_name("plain.xlsx")
    book.save(plain)
    parts = {f"xl/worksheets/sheet{i}.xml": name for i, name in enumerate(book.sheetnames, 1)}
    with zipfile.ZipFile(plain) as given, zipfile.ZipFile(path, "w") as out:
        for item in given.infolist():
            data = given.read(item.filename)
            if parts.get(item.filename) in sizes:
                said = sizes[parts[item.filename]]
                size = b"" if said is None else f'<dimension ref="{said}"/>'.encode()
                data = re.sub(rb"<dimension [^>]*/>", size, data)
            out.writestr(item, data)
    return path


def test_a_sheet_stating_a_smaller_size_than_it_holds_loses_no_row_or_column(
    tmp_path: Path, store: Store
):
    """An exporter that wrote the sheet's size before adding rows ("A1:C4" over six orders
    and a Total column): the rows and the column beyond that size were left out, unsaid."""
    result, _ = run(sized(tmp_path / "a.xlsx", shop(), {"Orders": "A1:C4"}), store)
    stored = store.read("orders").set_index("order_id")["total"].to_dict()
    assert stored == {order: total for order, _, _, total in ORDERS}
    assert rejected(result).empty


def test_each_sheet_is_parsed_once_for_its_rows(tmp_path: Path, monkeypatch: Any):
    """A sheet that states no size was parsed whole to measure it at every open of the
    workbook, every sheet each time (about 5 s on 200,000 rows, six times a run), and a
    sheet with formulas a second time for them. Chart sheets, merged cells and the unsaved
    formula (said, not read as empty) keep their meaning."""
    book = shop()
    orders = book["Orders"]
    more = [  # a season of orders, longer than the rows read to recognise a layout
        (f"B{i}", dt.datetime(2026, 8, 1, 9) + dt.timedelta(days=i * 2, hours=i % 7),
         "C" + "12132"[i % 5], round(12.5 + (i * 7.3) % 90, 2))
        for i in range(60)
    ]  # fmt: skip
    for order in more:
        orders.append(list(order))
    rows = range(2, 2 + len(ORDERS) + len(more))
    orders.cell(1, 5).value = "VAT"
    for row in rows:
        orders.cell(row, 5).value = f"=D{row}*0.2"  # saved by a script: no value
    for row in range(3, 5):
        orders.cell(row, 3).value = None
    orders.merge_cells("C2:C4")  # C1's three first orders
    chart = BarChart()
    chart.add_data(Reference(orders, min_col=4, min_row=1, max_row=7))
    book.create_chartsheet("Chart1").add_chart(chart)
    path = sized(tmp_path / "a.xlsx", book, {"Customers": None, "Orders": None})
    whole: Counter[str] = Counter()  # sheet part -> parses that reached its </sheetData>
    parse = sheet_parser.iterparse

    def counting(source: Any, *args: Any, **kwargs: Any) -> Any:
        for event, element in parse(source, *args, **kwargs):
            if element.tag.endswith("}sheetData"):
                whole[source.name] += 1
            yield event, element

    monkeypatch.setattr(sheet_parser, "iterparse", counting)
    source = FilesSource(path)
    tables = {t: source.pull(t) for t in source.available()}
    assert whole["xl/worksheets/sheet2.xml"] == 1  # Orders; Customers' head is all of it
    assert list(tables["orders"]["contact_id"]) == [o[2] for o in [*ORDERS, *more]]
    vat = tables["orders"]["VAT"]
    assert [v.text for v in vat] == [f"=D{row}*0.2" for row in rows]
    assert all(isinstance(v, UnreadCell) for v in vat)
    assert "Tab 'Chart1' was not read: it is a chart, not a table." in source.not_read()


# -- stop 55: currency formats of a table read whole ---------------------------------------
def test_a_known_export_of_euro_formatted_amounts_is_a_euro_shop(tmp_path: Path, store: Store):
    """A sales list of one row per line item is a known layout, read whole: its euro
    formats were read on the paged path only, and the shop was shown in dollars."""
    book = Workbook()
    sales = book.active
    assert sales is not None
    sales.title = "Sales"
    sales.append(["Order ID", "Order Date", "Email", "Product", "Quantity", "Price", "Total"])
    for number, (order, when, customer, total) in enumerate(ORDERS):
        email = dict((c, e) for c, _, e in CUSTOMERS)[customer]
        sales.append([order, when, email, "Mug", 1, total, total])
        if number % 2:  # every other order has a second line, the same total
            sales.append([order, when, email, "Card", 1, 0.0, total])
    for row in range(2, sales.max_row + 1):
        for column in (6, 7):
            sales.cell(row, column).number_format = EURO
    book.save(tmp_path / "a.xlsx")
    result, source = run(tmp_path / "a.xlsx", store)
    assert source.header_mappings["orders"].layout is not None  # read whole
    assert set(store.read("orders")["currency"]) == {"EUR"}
    assert result.currency == "EUR"


def test_a_tab_a_year_each_counts_its_orders_in_their_own_cells_currency(
    tmp_path: Path, store: Store
):
    """Orders kept a tab a year ("Orders", "Orders 2025") are read whole, together: row 3
    of each tab is a different order, so a yen cell on one is that order's alone."""
    book = formatted(shop(), {row: EURO for row in range(2, 2 + len(ORDERS))})
    older = book.create_sheet("Orders 2025")
    older.append(["Order ID", "Order Date", "Customer ID", "Total"])
    for order, customer, total, pattern in [
        ("Z1", "C1", 18.0, EURO),
        ("Z2", "C3", 4300, "[$¥-411]#,##0"),  # a yen order on row 3
        ("Z3", "C2", 22.9, EURO),
    ]:
        older.append([order, dt.datetime(2025, 10, 3, 12), customer, total])
        older.cell(older.max_row, 4).number_format = pattern
    book.save(tmp_path / "a.xlsx")
    result, _ = run(tmp_path / "a.xlsx", store)
    currency = store.read("orders").set_index("order_id")["currency"]
    assert currency["Z2"] == "JPY" and set(currency.drop("Z2")) == {"EUR"}
    (said,) = [n for n in result.notices if n.check == "currency_formats"]
    assert (
        "Tabs 'Orders', 'Orders 2025', column 'Total'" in said.message
        and "8 in EUR, 1 in JPY" in said.message
    )
