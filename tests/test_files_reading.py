"""How a CSV file is split and decoded, as shops' exports and hand-saved files come.

Each file is written here the way a program or a person saves it (find51 imports, items
1, 7, 10, 11 and 12); a run reads it through the files source and the store says what
became of every row.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.ports import RunResult
from smbml_connect.store import Store

SHOPIFY_CUSTOMERS = (
    "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address Company,"
    "Default Address Address1,Default Address Address2,Default Address City,"
    "Default Address Province Code,Default Address Country Code,Default Address Zip,"
    "Default Address Phone,Phone,Accepts SMS Marketing,Total Spent,Total Orders,Note,"
    "Tax Exempt,Tags\n"
)


def run(folder: Path, store: Store) -> RunResult:
    return run_pipeline(FilesSource(folder), store, RunOptions(steps=[]))


def rows_rejected(result: RunResult) -> int:
    return int((result.rejects["action"] == "row rejected").sum())


# -- 1: the quote is ", whatever apostrophes the values hold ---------------------------
def test_apostrophes_in_a_shopify_customers_export_are_values_not_quotes(
    tmp_path: Path, store: Store
):
    """Shopify writes ``'`` before an id or a zip code; a company or a phone may hold one."""
    (tmp_path / "customers_export.csv").write_text(
        SHOPIFY_CUSTOMERS
        + "'7412345678901,Sophie,Martin,sophie.martin@example.fr,no,Atelier Martin,"
        "8 Rue de Berri,,Paris,,FR,'75008,+33 1 00 00 00 01,,no,145.60,2,,no,VIP\n"
        "'7412345678902,James,Okafor,james.o@example.co.uk,yes,,1 King St,,London,,GB,"
        "EC2V 8AU,,'+44 20 0000 0002,no,200.00,2,,no,\n"
        "'7412345678904,Marco,Rossi,m.rossi@example.it,no,Jones' Bakery,Via Roma 1,,Milano,"
        "MI,IT,'20121,,,no,212.70,1,,yes,b2b\n"
        "'7412345678905,Lena,Gruber,lena@example.at,yes,,Ring 3,,Wien,,AT,'1010,,,no,97.80,"
        "1,,no,\n",
        encoding="utf-8",
    )
    result = run(tmp_path, store)
    contacts = store.read("contacts").set_index("email")
    assert (result.loaded["contacts"], rows_rejected(result)) == (4, 0)
    assert contacts.loc["m.rossi@example.it", "company"] == "Jones' Bakery"
    assert contacts.loc["sophie.martin@example.fr", "first_name"] == "Sophie"
    assert pd.isna(contacts.loc["james.o@example.co.uk", "company"])


# -- 7: the delimiter: Excel's sep= line, a footer, a comma inside a header ------------
def orders_text(delimiter: str, rows: int, header_total: str = "Total") -> str:
    """A European Excel save: day.month dates, decimal commas, unquoted."""
    header = delimiter.join(["Order ID", "Order Date", "Customer ID", header_total])
    lines = [
        delimiter.join([f"A{i}", f"{i % 28 + 1:02d}.11.2026", f"C{i % 3}", f"{i * 3 + 1},50"])
        for i in range(rows)
    ]
    return "\r\n".join([header, *lines]) + "\r\n"


def test_excel_sep_line_is_followed_and_not_read_as_a_row(tmp_path: Path, store: Store):
    (tmp_path / "orders.csv").write_text("sep=;\r\n" + orders_text(";", 20), encoding="utf-8")
    result = run(tmp_path, store)
    orders = store.read("orders").set_index("order_id")
    assert (result.loaded["orders"], rows_rejected(result)) == (20, 0)
    assert orders.loc["A3", "total"] == 10.5 and orders.loc["A3", "contact_id"] == "C0"


def test_a_short_semicolon_file_with_a_footer_is_read_by_semicolons(tmp_path: Path, store: Store):
    text = orders_text(";", 2) + "\r\nExported 03.12.2026 14:02;by admin\r\n"
    (tmp_path / "orders.csv").write_text(text, encoding="utf-8")
    result = run(tmp_path, store)
    assert result.loaded["orders"] == 2
    footer = result.rejects[result.rejects["action"] == "row rejected"]
    assert footer["source_row"].tolist() == [5] and "semicolon" in footer["reason"].iloc[0]


def test_a_comma_in_a_semicolon_files_header_does_not_make_it_comma_separated(
    tmp_path: Path, store: Store
):
    text = orders_text(";", 12, header_total="Total (EUR, incl. VAT)")
    (tmp_path / "orders.csv").write_text(text, encoding="utf-8")
    result = run(tmp_path, store)
    assert (result.loaded["orders"], rows_rejected(result)) == (12, 0)
    orders = FilesSource(tmp_path).pull("orders").set_index("order_id")
    assert orders.loc["A2", "Total (EUR, incl. VAT)"] == "7,50"  # one cell, as written


def test_a_title_with_a_comma_over_a_semicolon_file_does_not_make_it_comma_separated(
    tmp_path: Path, store: Store
):
    """The comma split the title into a two-cell "header" on line 1 that every
    decimal-comma row agreed with, and it beat the real header on line 2 for being nearer
    the top: nothing loaded (review). A header that names columns we know wins."""
    (tmp_path / "orders.csv").write_text(
        "Umsatzbericht, erstellt am 03.12.2026\nOrder ID;Order Date;Customer ID;Total\n"
        "A1;01.10.2026;C1;12,50\nA2;02.10.2026;C2;7,25\nA3;03.10.2026;C1;19,90\n"
        "A4;04.10.2026;C3;5,00\n",
        encoding="utf-8",
    )
    result = run(tmp_path, store)
    assert result.loaded["orders"] == 4
    orders = FilesSource(tmp_path).pull("orders").set_index("order_id")
    assert orders.loc["A1", "total"] == "12,50"


def test_the_delimiter_is_the_one_the_file_was_written_with():
    """Seeded tables as exporters write them (csv quoting), with values that hold the other
    delimiters (decimal commas, "a; b" notes, "Smith, J"), a title line or none: the
    header read is the one written, every time."""
    import csv
    import io
    import random

    from smbml_connect.connectors.files.csv_lines import _dialect, _records

    rnd = random.Random(51)
    headers = ["Order ID", "Order Date", "Customer", "Notes", "Total (EUR, incl. VAT)",
               "Tags", "Qty", "Price"]  # fmt: skip
    values = [lambda: f"{rnd.randrange(1, 999)},{rnd.randrange(100):02d}",
              lambda: f"{rnd.randrange(1, 999)}.{rnd.randrange(100):02d}",
              lambda: rnd.choice(["Smith, J", "call back; urgent", "ok", "", "a|b", "Jones' Bakery"]),
              lambda: f"{rnd.randrange(1, 29):02d}.11.2026",
              lambda: f"C{rnd.randrange(50)}"]  # fmt: skip
    for case in range(300):
        delimiter = rnd.choice(",;\t|")
        names = rnd.sample(headers, rnd.randrange(2, 7))
        out = io.StringIO()
        if rnd.random() < 0.2:
            out.write(f"Sales report{delimiter}Printed 01.12.2026\r\n\r\n")
        writer = csv.writer(out, delimiter=delimiter)
        writer.writerow(names)
        kinds = [rnd.choice(values) for _ in names]
        for _ in range(rnd.randrange(1, 40)):
            writer.writerow([kind() for kind in kinds])
        lines = out.getvalue().splitlines(keepends=True)
        dialect, instructed = _dialect(lines)
        assert not instructed
        rows = [r for r, _ in _records(lines, dialect)]
        assert dialect.delimiter == delimiter or names not in rows, (case, lines[:3])
        assert names in rows, (case, delimiter, lines[:3])


# -- 11: a UTF-8 file with a few Windows-1252 lines ------------------------------------
CUSTOMERS = "Customer ID,First Name,Last Name,Email,Company\n"
UTF8_PEOPLE = [
    ("C1", "Zoë", "Müller", "zoe@x.de", "Café Crème"),
    ("C2", "René", "Dupré", "rene@x.fr", "Niño"),
    ("C4", "Ana", "Nuñez", "ana@x.es", ""),
    ("C5", "Bob", "Stone", "bob@x.com", "Stone & Co"),
]
CP1252_PEOPLE = [("C3", "André", "Café", "andre@x.fr", "Crème SARL"),
                 ("C6", "Søren", "Ærø", "soren@x.dk", "Øl ApS")]  # fmt: skip


def people_bytes(people: list[tuple[str, ...]], encoding: str) -> bytes:
    return "".join(",".join(p) + "\r\n" for p in people).encode(encoding)


def test_windows_1252_lines_in_a_utf8_file_are_read_as_such_and_said(tmp_path: Path, store: Store):
    """An Excel "CSV (Comma delimited)" save appended to a "CSV UTF-8" one."""
    data = (
        CUSTOMERS.encode()
        + people_bytes(UTF8_PEOPLE[:2], "utf-8")
        + people_bytes(CP1252_PEOPLE[:1], "cp1252")
        + people_bytes(UTF8_PEOPLE[2:], "utf-8")
        + people_bytes(CP1252_PEOPLE[1:], "cp1252")
    )
    (tmp_path / "customers.csv").write_bytes(data)
    result = run(tmp_path, store)
    contacts = store.read("contacts").set_index("contact_id")
    for person in UTF8_PEOPLE + CP1252_PEOPLE:
        assert contacts.loc[person[0], "last_name"] == person[2]
    said = [n for n in result.notices if n.check == "mixed_encoding"]
    assert len(said) == 1 and said[0].count == 2 and said[0].table == "contacts"
    assert "customers.csv" in said[0].message and "the first is line 4" in said[0].message


def test_odd_lines_are_said_once_over_pages_and_in_a_known_export(tmp_path: Path, store: Store):
    lines = [f"O{i},C{i % 4},2026-10-{i % 28 + 1:02d},{i}.50,Café crème\n" for i in range(30)]
    data = b"Order ID,Customer ID,Order Date,Total,Note\n" + "".join(lines).encode()
    data += b"O99,C1,2026-10-30,9.50,Cr\xe8me br\xfbl\xe9e\n"
    (tmp_path / "orders.csv").write_bytes(data)
    source = FilesSource(tmp_path, page_rows=7)
    result = run_pipeline(source, store, RunOptions(steps=[]))
    said = [n.message for n in result.notices if n.check == "mixed_encoding"]
    assert len(said) == 1 and "except line 32, which is Windows-1252" in said[0]
    assert result.loaded["orders"] == 31

    shop = tmp_path / "shop"  # a known export is read whole: the same notice
    shop.mkdir()
    (shop / "customers_export.csv").write_bytes(
        SHOPIFY_CUSTOMERS.encode()
        + "'7412345678901,Zoë,Müller,zoe@x.de,no,Café Crème,,,Paris,,FR,,,,no,10.00,1,,no,\n".encode()
        + "'7412345678902,René,Dupré,rene@x.fr,yes,,,,Lyon,,FR,,,,no,20.00,1,,no,\n".encode(
            "cp1252"
        )
    )
    result = run(shop, store)
    contacts = store.read("contacts").set_index("email")
    assert contacts.loc["zoe@x.de", "company"] == "Café Crème"
    assert contacts.loc["rene@x.fr", "last_name"] == "Dupré"
    said = [n.message for n in result.notices if n.check == "mixed_encoding"]
    assert len(said) == 1 and "customers_export.csv is UTF-8 except line 3" in said[0]


def test_a_windows_1252_file_is_read_whole_as_such_without_a_notice(tmp_path: Path, store: Store):
    (tmp_path / "customers.csv").write_bytes(
        CUSTOMERS.encode() + people_bytes(CP1252_PEOPLE + UTF8_PEOPLE, "cp1252")
    )
    result = run(tmp_path, store)
    assert store.read("contacts").set_index("contact_id").loc["C1", "first_name"] == "Zoë"
    assert not [n for n in result.notices if n.check == "mixed_encoding"]


def test_bytes_in_no_encoding_inside_a_mixed_file_still_say_save_as_utf8(tmp_path: Path):
    import pytest

    from smbml_connect.errors import SourceFatalError

    path = tmp_path / "customers.csv"
    path.write_bytes(
        CUSTOMERS.encode() + people_bytes(UTF8_PEOPLE, "utf-8") + b"C9,X\x81,Y,x@y.z,\n"
    )
    with pytest.raises(SourceFatalError, match="CSV UTF-8"):
        FilesSource(tmp_path).pull("contacts")


# -- 12: Excel's "Unicode Text" (.txt) in a folder --------------------------------------
def test_a_unicode_text_file_in_a_folder_is_read_and_a_note_is_named(tmp_path: Path, store: Store):
    (tmp_path / "customers.csv").write_text(
        "Customer ID,Email\nC1,zoe@x.de\nC2,rene@x.fr\n", encoding="utf-8"
    )
    orders = "Order ID\tOrder Date\tCustomer ID\tTotal\r\nA1\t01/10/2026\tC1\t12.50\r\n"
    orders += "A2\t02/10/2026\tC2\t7.25\r\nA3\t03/10/2026\tC1\t1,204.00\r\n"
    (tmp_path / "orders.txt").write_bytes(("\ufeff" + orders).encode("utf-16-le"))
    (tmp_path / "notes.txt").write_text("Send the November export to Anna.\n", encoding="utf-8")
    result = run(tmp_path, store)
    totals = store.read("orders").set_index("order_id")["total"]
    assert totals.to_dict() == {"A1": 12.5, "A2": 7.25, "A3": 1204.0}
    assert (result.loaded["orders"], rows_rejected(result)) == (3, 0)
    not_read = [n.message for n in result.notices if n.check == "not_read"]
    assert not_read == [
        "File 'notes.txt' was not read: it is not a table (no line of values separated by "
        "commas, semicolons, tabs or bars under a header)."
    ]


def test_a_tsv_file_in_a_folder_is_read(tmp_path: Path, store: Store):
    """A .tsv was only named as "not read" (only .csv files are read from a folder)."""
    (tmp_path / "customers.csv").write_text("Customer ID,Email\nC1,zoe@x.de\n", encoding="utf-8")
    (tmp_path / "orders.tsv").write_text(
        "Order ID\tOrder Date\tCustomer ID\tTotal\nA1\t2026-10-01\tC1\t12.50\n", encoding="utf-8"
    )
    result = run(tmp_path, store)
    assert result.loaded["orders"] == 1
    assert not [n for n in result.notices if n.check == "not_read"]


# -- 10: a report's title and date, or a group heading, above the header ----------------
def test_a_title_line_with_its_date_above_the_header_is_skipped_and_listed(
    tmp_path: Path, store: Store
):
    (tmp_path / "orders.csv").write_text(
        "Sales report,Printed 2026-12-01\n\nOrder ID,Order Date,Customer ID,Total\n"
        "A1,2026-10-01,C1,10.00\nA2,2026-10-02,C2,20.00\nA3,2026-10-09,C1,5.50\n",
        encoding="utf-8",
    )
    result = run(tmp_path, store)
    assert store.read("orders").set_index("order_id")["total"].to_dict() == {
        "A1": 10.0, "A2": 20.0, "A3": 5.5
    }  # fmt: skip
    skipped = result.rejects[result.rejects["action"] == "row skipped"]
    title = skipped[skipped["source_row"] == 1]
    assert title["value"].tolist() == ["Sales report, Printed 2026-12-01"]
    assert "above the header (row 3)" in title["reason"].iloc[0]


def test_a_merged_group_heading_over_a_workbook_header_is_skipped_and_listed(
    tmp_path: Path, store: Store
):
    import datetime as dt

    from openpyxl import Workbook

    book = Workbook()
    tab = book.active
    assert tab is not None
    tab.title = "Orders"
    tab["A1"], tab["C1"] = "Customer", "Order details"
    tab.merge_cells("A1:B1")
    tab.merge_cells("C1:E1")
    tab.append(["Customer ID", "Email", "Order ID", "Order Date", "Total"])
    tab.append(["C1", "a@x.com", "A1", dt.datetime(2026, 10, 1), 10.0])
    tab.append(["C2", "b@x.com", "A2", dt.datetime(2026, 10, 2), 20.0])
    book.save(tmp_path / "shop.xlsx")
    result = run_pipeline(FilesSource(tmp_path / "shop.xlsx"), store, RunOptions(steps=[]))
    orders = store.read("orders").set_index("order_id")
    assert orders["contact_id"].to_dict() == {"A1": "C1", "A2": "C2"}
    skipped = result.rejects[result.rejects["action"] == "row skipped"]
    assert skipped["source_row"].tolist() == [1]
    assert skipped["value"].tolist() == ["Customer, Order details"]


def test_a_group_heading_of_column_names_over_the_real_header_is_not_the_header():
    """ "Order | Customer | Payment" over "Order # | Date | Customer ID | Name | Amount |
    Paid?": the heading's words are column names too (two known), so it was taken for the
    header and the whole Orders tab was skipped (a Sheets explorer)."""
    from smbml_connect.sheet_rows import header_index

    rows = [
        ["Orders 2025 – Café Bohne", None, None, None, None, None],
        [None] * 6,
        ["Order", None, "Customer", None, "Payment", None],
        ["Order #", "Date", "Customer ID", "Name", "Amount", "Paid?"],
        ["A1", "2025-02-11", "C1", "x", "€1,50", True],
    ]
    assert header_index(rows) == 3
    # a real header with a row of words below it that names no more columns stays
    plain = [["Order ID", "Customer ID", "Total"], ["Order ID", "Customer", "Note"]]
    assert header_index(plain) == 0


def test_a_header_of_its_own_words_stays_the_header():
    """A first row of names we do not know is still the header when no row below it reads
    as a header of known names: a row of data holding such words is never taken for it."""
    from smbml_connect.sheet_rows import header_index

    rows = [
        ["Ref", "Booked", "Client", "Paid in"],
        ["R0", "2026-09-30", "Email", "Total"],
        ["R1", "2026-10-01", "C1", "10"],
    ]
    assert header_index(rows) == 0
    rows = [["Sales report", "Printed 2026-12-01"], ["Ref", "Booked"], ["R1", "2026-10-01"]]
    assert header_index(rows) == 0  # nothing known anywhere: as before
    rows.insert(2, ["Order ID", "Order Date"])
    assert header_index(rows) == 2
