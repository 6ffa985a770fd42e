"""A file read in pages is read as one: what a column's values prove holds for every row.

A large CSV (or a long tab) is read a page at a time, so it never sits in memory whole.
Each page was validated alone, and decided alone how its dates and amounts are written:
an Australian shop's last order, "04/12/2025", fell in a page of its own and became
12 April though the 59 dates above it proved day/month; a euro shop's "1.299 €" was left
empty (find56_intl item 1). These shops write their files as Excel saves them there.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.ports import RunResult
from smbml_connect.store import Store


def _run(folder: Path, store: Store, page_rows: int | None = None, zone: str = "") -> RunResult:
    source = FilesSource(folder) if page_rows is None else FilesSource(folder, page_rows=page_rows)
    return run_pipeline(source, store, RunOptions(steps=[], time_zone=zone or None))


_SYDNEY = "Australia/Sydney"


def _sydney_orders(days: list[tuple[int, int]], folder: Path) -> None:
    """Orders of a Sydney shop, dated day/month/year as Excel writes them in Australia;
    a few customers buy again and again, the amounts vary."""
    folder.mkdir()
    lines = ["Order ID,Customer ID,Order Date,Total"]
    for i, (day, month) in enumerate(days, 1):
        lines.append(f"O{i:05d},C{(i * 7) % 11},{day:02d}/{month:02d}/2025,{12 + i % 40}.{i % 9}5")
    (folder / "orders.csv").write_text("\r\n".join(lines) + "\r\n")


def _dates(store: Store) -> pd.Series:
    orders = store.read("orders").set_index("order_id")
    return pd.to_datetime(orders["ordered_at"], utc=True).dt.tz_convert("Australia/Sydney")


# Dates that prove day first (the day over 12) and dates that fit both orders.
_PROVING = [(13 + i % 16, 11) for i in range(40)]
_EITHER = [(1 + i % 12, 3 + i % 9) for i in range(120)]


@pytest.mark.parametrize("rows", [50, 60])
def test_the_last_row_of_a_file_longer_than_the_header_search_is_read_with_the_rest(
    tmp_path: Path, store: Store, rows: int
):
    """The reader no longer cuts a file's last record into a batch of its own."""
    days = [(13 + i % 16, 11) for i in range(rows - 1)] + [(4, 12)]
    _sydney_orders(days, tmp_path / "shop")
    result = _run(tmp_path / "shop", store, zone=_SYDNEY)
    assert result.loaded["orders"] == rows
    newest = _dates(store).max()
    assert (newest.year, newest.month, newest.day) == (2025, 12, 4)


@pytest.mark.parametrize("proof_at", ["first", "last"])
def test_day_first_dates_proved_in_one_page_hold_in_every_page(
    tmp_path: Path, store: Store, proof_at: str
):
    """Pages of 7 rows (the first is longer: it takes the lines read for the header): the
    dates proving day/month sit in the first page or the last only; every other page holds
    only dates that fit both orders, each read day/month."""
    proving = _PROVING[:6]
    days = proving + _EITHER if proof_at == "first" else _EITHER + proving
    _sydney_orders(days, tmp_path / "shop")
    result = _run(tmp_path / "shop", store, 7, _SYDNEY)
    assert result.loaded["orders"] == len(days)
    dates = _dates(store).sort_index()
    read = [(d.day, d.month) for d in dates]
    assert read == days
    notes = result.rejects[result.rejects["column"] == "ordered_at"]["reason"].astype(str)
    assert not notes.str.contains("that is the default").any()


def test_ten_thousand_and_one_rows_with_the_proof_only_in_the_last(tmp_path: Path, store: Store):
    """At the reader's own page size: 10,000 dates fitting both orders, then one proving."""
    days = [(1 + i % 12, 1 + (i * 5) % 12) for i in range(10_000)] + [(25, 12)]
    _sydney_orders(days, tmp_path / "shop")
    result = _run(tmp_path / "shop", store, 4_000, _SYDNEY)
    assert result.loaded["orders"] == 10_001
    dates = _dates(store).sort_index()
    assert [(d.day, d.month) for d in dates[:3]] == days[:3]
    assert [(d.day, d.month) for d in dates[-3:]] == days[-3:]


def _euro_orders(totals: list[str], folder: Path) -> None:
    """A German shop's orders: ";" between cells, dotted dates, euros as Excel shows them there."""
    folder.mkdir()
    lines = ["Order ID;Customer ID;Order Date;Total"]
    for i, total in enumerate(totals, 1):
        lines.append(f"B{i:04d};K{(i * 3) % 7};{1 + i % 27}.{1 + i % 11}.2025;{total}")
    (folder / "orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("proof_at", ["first", "last"])
def test_a_decimal_comma_proved_in_one_page_reads_every_page(
    tmp_path: Path, store: Store, proof_at: str
):
    """ "1.299 €" fits both marks; "12,50 €" proves the comma, in one page only."""
    proving = [f"{12 + i},{10 + i} €" for i in range(5)]
    either = ["1.299 €", "2.450 €", "1.005 €", "3.100 €", "4.999 €"] * 15
    totals = proving + either if proof_at == "first" else either + proving
    _euro_orders(totals, tmp_path / "shop")
    result = _run(tmp_path / "shop", store, page_rows=4)
    orders = store.read("orders").set_index("order_id").sort_index()
    assert result.loaded["orders"] == len(totals)
    assert orders["total"].isna().sum() == 0
    assert orders.loc[orders.index[totals.index("1.299 €")], "total"] == 1299.0
    assert set(orders["currency"]) == {"EUR"}


def test_the_totals_currency_is_the_whole_files(tmp_path: Path, store: Store):
    """Sixty totals marked "€", then eight written bare, in pages of their own: all the
    shop's euros (one mark on most totals is every order's), not eight orders in the
    default dollars."""
    totals = [f"{10 + i},50 €" for i in range(60)] + [f"{7 + i},25" for i in range(8)]
    _euro_orders(totals, tmp_path / "shop")
    _run(tmp_path / "shop", store, page_rows=5)
    orders = store.read("orders")
    assert len(orders) == 68
    assert set(orders["currency"]) == {"EUR"}
