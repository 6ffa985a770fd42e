"""Workbooks as shop owners keep them in Excel: a chart on its own tab, merged cells,
euro-formatted amounts, one full-name column, error cells (find54_workbooks).

Each workbook is built here the way Excel writes it (a chart sheet, real merge ranges,
number formats, error cells ``t="e"``) with a few customers, and read through the files
source into a store.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference

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
