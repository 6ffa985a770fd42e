"""Large files as shops make them: exports joined into one, late lines of another code
page, column notes of a file read in pages (find57_bigfiles).

Pages are made small here (``page_rows``, as tests/test_file_pages_agree.py does) so that
a few hundred lines take the paths a file of millions takes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.ports import RunResult
from smbml_connect.store import Store

BOM = b"\xef\xbb\xbf"


def _run(source: FilesSource, store: Store) -> RunResult:
    return run_pipeline(source, store, RunOptions(steps=[]))


def _joined(header: str, rows: list[str]) -> bytes:
    """Two halves each saved with a BOM (Excel's "CSV UTF-8"), joined by `copy /b a+b`:
    the second header starts with a BOM mid-file."""
    half = len(rows) // 2
    parts = [rows[:half], rows[half:]]
    return b"".join(BOM + ("\r\n".join([header, *p]) + "\r\n").encode() for p in parts)


def _skipped(result: RunResult) -> list[tuple[int, str]]:
    skipped = result.rejects[result.rejects["action"] == "row skipped"]
    return [(int(r), str(w)) for r, w in zip(skipped["source_row"], skipped["reason"], strict=True)]


_ORDERS = "Order ID,Customer ID,Order Date,Total"


@pytest.mark.parametrize("page_rows", [None, 7])
def test_a_second_header_starting_with_a_bom_is_skipped_in_a_generic_file(
    tmp_path: Path, store: Store, page_rows: int | None
):
    """Read whole and in pages: the joined header was an order rejected for its date
    ("Order Date") and a data check "total = 'Total'"; now a repeated header row."""
    rows = [f"O{i:03d},C{i % 7},2025-03-{1 + i % 28:02d},{10 + i}.50" for i in range(40)]
    path = tmp_path / "orders.csv"
    path.write_bytes(_joined(_ORDERS, rows))
    source = FilesSource(path, {"orders": "orders.csv"}, page_rows=page_rows or 100_000)
    result = _run(source, store)
    assert result.loaded["orders"] == 40
    assert _skipped(result) == [(22, "repeated header row")]
    assert result.rejects[result.rejects["action"] == "row rejected"].empty
    assert not [n for n in result.notices if "Total" in n.message]


_SHOPIFY = (
    "Name,Email,Financial Status,Paid at,Accepts Marketing,Currency,Subtotal,Total,Created at,"
    "Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Billing Name,Billing Company,"
    "Billing Country,Refunded Amount"
)
_HUBSPOT = (
    "Record ID,First Name,Last Name,Email,Lifecycle Stage,Create Date,Company Name,Country/Region"
)


def test_two_shopify_exports_joined_load_no_header_as_an_order(tmp_path: Path, store: Store):
    """The header was a customer "Billing Name", a product "Lineitem sku" and an order line."""
    rows = [
        f"#{n},b{n}@example.com,paid,2024-03-0{n % 9 + 1} 10:00:00 -0500,yes,USD,10.00,10.00,"
        f"2024-03-0{n % 9 + 1} 10:00:00 -0500,1,Blue Mug,10.00,MUG-BL,Ann Lee,,US,0.00"
        for n in range(1001, 1021)
    ]
    (tmp_path / "orders_export_1.csv").write_bytes(_joined(_SHOPIFY, rows))
    result = _run(FilesSource(tmp_path), store)
    assert result.loaded["orders"] == 20 and result.loaded["order_lines"] == 20
    assert (12, "repeated header row") in _skipped(result)
    with sqlite3.connect(store.path) as db:
        assert db.execute("select product_id from products").fetchall() == [("MUG-BL",)]
        names = db.execute("select count(*) from contacts where last_name like '%Name%'")
        assert names.fetchone() == (0,)


def test_two_hubspot_exports_joined_make_no_lead_called_first_name(tmp_path: Path, store: Store):
    rows = [
        f"{n},Ann,Lee,h{n}@example.com,lead,2024-03-01 10:00,Acme,United States"
        for n in range(1, 21)
    ]
    (tmp_path / "hubspot-crm-exports-all-contacts.csv").write_bytes(_joined(_HUBSPOT, rows))
    result = _run(FilesSource(tmp_path), store)
    assert result.loaded["contacts"] == 20
    assert (12, "repeated header row") in _skipped(result)
    assert not (store.read("contacts")["first_name"] == "First Name").any()


_POLISH = [("Łukasz", "Wójcik"), ("Małgorzata", "Żółkiewska"), ("Paweł", "Kowalczyk"),
           ("Zofia", "Wiśniewska"), ("Jędrzej", "Dąbrowski"), ("Agnieszka", "Szczęsna"),
           ("Michał", "Woźniak"), ("Bożena", "Kołodziej")]  # fmt: skip


@pytest.mark.parametrize("polish_at", ["top", "end"])
def test_polish_names_past_the_sample_are_read_as_those_on_top(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch, polish_at: str
):
    """A Windows-1250 customer list sorted so that its first Polish name lies past the
    bytes the encoding is judged from (256 KB; 2 KB here): its names were stored as
    "£ukasz Wó³cik" without a word, while the same file with them on top is read as
    Windows-1250 and says so. Now both are read alike."""
    monkeypatch.setattr("smbml_connect.connectors.files.csv_lines._SAMPLE", 2048)
    plain = [(f"C{i:04d}", "Anna", "Smith") for i in range(200)]  # ~6 KB of ASCII
    polish = [(f"P{i:04d}", first, last) for i, (first, last) in enumerate(_POLISH)]
    people = polish + plain if polish_at == "top" else plain + polish
    rows = ["Customer ID;First Name;Last Name;Email"]
    rows += [f"{key};{first};{last};{key.lower()}@example.com" for key, first, last in people]
    (tmp_path / "customers.csv").write_bytes(("\r\n".join(rows) + "\r\n").encode("cp1250"))
    result = _run(FilesSource(tmp_path), store)
    assert result.loaded["contacts"] == 208
    contacts = store.read("contacts").set_index("contact_id")
    assert (
        list(
            zip(
                contacts.loc["P0000":"P0007", "first_name"],
                contacts.loc["P0000":"P0007", "last_name"],
                strict=True,
            )
        )
        == _POLISH
    )
    said = [n.message for n in result.notices if "is not UTF-8" in n.message]
    assert len(said) == 1 and 'encoding = "cp1250"' in said[0]


def _orders_with_notes(path: Path, rows: int, missing_every: int) -> int:
    """Orders with dates that fit both orders, a Password column and a total written
    "N/A" every ``missing_every`` rows, one per page of 7; how many such totals."""
    lines = ["Order ID,Customer ID,Order Date,Total,Currency,Password"]
    missing = 0
    for i in range(rows):
        total = f"{10 + i % 50}.25"
        if i % missing_every == 3:
            total, missing = "N/A", missing + 1
        lines.append(
            f"O{i:04d},C{i % 9},{1 + i % 12:02d}/{1 + (i * 5 + 1) % 12:02d}/2025,{total},USD,pw{i}x!"
        )
    path.write_text("\n".join(lines) + "\n")
    return missing


def test_a_paged_files_column_notes_are_said_once_with_the_whole_files_counts(
    tmp_path: Path, store: Store
):
    """Pages of 7 rows: each column note came once per page with that page's count
    ("total: 1 value written as 'N/A' were read as missing" on each), four "Password"
    notes; now one note a column, counting the whole file, as the data check does."""
    path = tmp_path / "orders.csv"
    missing = _orders_with_notes(path, 120, 7)
    result = _run(FilesSource(path, {"orders": "orders.csv"}, page_rows=7), store)
    assert result.loaded["orders"] == 120
    notes = result.rejects[result.rejects["action"] == "column note"]
    assert sorted(notes["column"]) == ["Password", "ordered_at", "total"]
    said = dict(zip(notes["column"], notes["reason"], strict=True))
    assert said["total"].startswith(f"total: {missing} values written as 'N/A' were read as")
    assert said["ordered_at"].startswith("ordered_at: 120 dates (like ")
    assert f"{missing} of 120 sales have no total" in " ".join(n.message for n in result.notices)
    with sqlite3.connect(store.path) as db:
        stored = db.execute("select count(*) from rejects where action = 'column note'")
        assert stored.fetchone() == (3,)


def test_one_value_read_as_missing_is_said_in_the_singular(tmp_path: Path, store: Store):
    path = tmp_path / "orders.csv"
    assert _orders_with_notes(path, 12, 50) == 1
    result = _run(FilesSource(path, {"orders": "orders.csv"}), store)
    notes = result.rejects[result.rejects["column"] == "total"]["reason"].tolist()
    assert [n for n in notes if "1 value written as 'N/A' was read as missing" in n]
