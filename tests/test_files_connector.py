import shutil
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook

from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.errors import ConfigError
from smbml_connect.schema import validate
from smbml_connect.xlsx import write_workbook


def test_csv_folder_with_messy_headers(tmp_path: Path):
    (tmp_path / "Customers.csv").write_text(
        "Customer ID;E-mail Address;First Name;Signup Date;Accepts Marketing;Shoe size\n"
        "00123;Ann@Example.com;Ann;14/03/2025;yes;38\n"
        "\n"
        "00124;not-an-email;Bob;25/12/2024;no;44\n",
        encoding="utf-8",
    )
    (tmp_path / "Sales.csv").write_text(
        "Order #,Customer,Order Date,Grand Total,Status\n"
        'A-1,00123,2025-03-15,"$1,234.50",paid\n'
        "A-2,00124,someday,$5,paid\n",
        encoding="utf-8",
    )
    source = FilesSource(tmp_path)
    assert source.available() == ["contacts", "orders"]
    contacts = validate("contacts", source.pull("contacts"), source.name)
    row = contacts.clean.set_index("contact_id").loc["00123"]  # leading zeros survive
    assert row["email"] == "ann@example.com"
    assert row["created_at"] == pd.Timestamp("2025-03-14", tz="UTC")
    assert row["marketing_consent"] == "yes"  # kept as written; the pipeline reads it
    assert '"Shoe size": "38"' in row["extra"]
    bad = contacts.rejects.iloc[0]
    assert (bad["source_row"], bad["column"], bad["value"]) == (4, "email", "not-an-email")
    orders = validate("orders", source.pull("orders"), source.name)
    assert orders.clean["total"].tolist() == [1234.5]
    assert orders.rejects.iloc[0][["source_row", "column"]].tolist() == [3, "ordered_at"]
    assert "'E-mail Address' -> email" in source.header_mappings["contacts"].describe()


def test_workbook_with_config_mapping_and_typed_cells(tmp_path: Path):
    path = tmp_path / "shop.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "My orders"
    sheet.append(["Title row the user typed"])
    sheet.append([])
    sheet.append(["Ref", "Who", "When", "Paid"])
    sheet.append(["R1", 17.0, pd.Timestamp("2025-02-01 10:00").to_pydatetime(), 19.99])
    sheet.append(["R2", 18.0, "2025-02-02", "oops"])
    workbook.save(path)
    source = FilesSource(
        path,
        tables={"orders": "My orders"},
        mappings={
            "orders": {
                "Ref": "order_id",
                "Who": "contact_id",
                "When": "ordered_at",
                "Paid": "total",
            }
        },
    )
    result = validate("orders", source.pull("orders"), source.name)
    assert result.clean["order_id"].tolist() == ["R1", "R2"]  # R2 kept, its total cleared
    assert result.clean["total"].iloc[0] == 19.99 and pd.isna(result.clean["total"].iloc[1])
    reject = result.rejects.iloc[0]
    assert reject[["source_row", "column", "value", "action"]].tolist() == [
        5,
        "total",
        "oops",
        "value cleared",
    ]
    assert source.header_mappings["orders"].columns["Paid"] == "total"


def test_workbook_header_on_first_row(tmp_path: Path):
    path = tmp_path / "shop.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Orders"
    sheet.append(["Order ID", "Customer ID", "Order Date", "Total"])
    sheet.append(["R1", 17.0, pd.Timestamp("2025-02-01 10:00").to_pydatetime(), 19.99])
    sheet.append(["R2", 18.0, "2025-02-02", "oops"])
    workbook.save(path)
    result = validate("orders", FilesSource(path).pull("orders"))
    assert result.clean["contact_id"].tolist() == ["17", "18"]
    assert result.clean["ordered_at"].iloc[0] == pd.Timestamp("2025-02-01 10:00", tz="UTC")
    assert result.rejects.iloc[0][["source_row", "column", "value"]].tolist() == [
        3,
        "total",
        "oops",
    ]


def test_bad_paths_and_names_are_config_errors(tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist"):
        FilesSource(tmp_path / "missing.xlsx")
    (tmp_path / "one.csv").write_text("a\n1\n")
    with pytest.raises(ConfigError, match="single CSV"):
        FilesSource(tmp_path / "one.csv")
    with pytest.raises(ConfigError, match="unknown table"):
        FilesSource(tmp_path, tables={"orderz": "one.csv"})
    with pytest.raises(ConfigError, match="not found"):
        FilesSource(tmp_path, tables={"orders": "two.csv"})


def test_written_workbook_is_safe_and_formatted(tmp_path: Path):
    frame = pd.DataFrame(
        {
            "name": ['=HYPERLINK("http://evil","x")', "+1 555 0100", "@SUM(A1)", "bell\x07"],
            "spend": [1.5, 2.0, None, 4.0],
            "when": pd.to_datetime(["2025-01-01"] * 4, utc=True),
        }
    )
    path = write_workbook(tmp_path / "out.xlsx", {"Scores": frame}, {"Scores": "A note"})
    sheet = load_workbook(path)["Scores"]
    assert sheet["A1"].value == "A note"
    assert [c.value for c in sheet[3]] == ["Name", "Spend", "When"]  # plain labels of the columns
    assert sheet.freeze_panes == "A4"
    assert sheet["A4"].value.startswith("=HYPERLINK") and sheet["A4"].data_type == "s"
    assert sheet["A5"].value == "+1 555 0100" and sheet["A7"].value == "bell"
    assert sheet["B6"].value is None and sheet["B4"].number_format == "#,##0.00"
    assert sheet["C4"].is_date


def test_inspect_shows_tabs_and_header_matches(tmp_path: Path):
    from click.testing import CliRunner

    from smbml_connect.cli import cli

    book = Workbook()
    sheet = book.active
    sheet.title = "Kunden"
    sheet.append(["Customer ID", "E-mail Address", "Shoe size"])
    sheet.append(["C1", "a@x.com", 42])
    book.create_sheet("Orders").append(["Order ID", "Customer", "Order date", "Total"])
    book.save(tmp_path / "shop.xlsx")
    config = tmp_path / "smbml.toml"
    config.write_text(
        '[source]\nkind = "files"\npath = "shop.xlsx"\n[source.tables]\ncontacts = "Kunden"\n',
        encoding="utf-8",
    )
    log = str(tmp_path / "log.txt")
    shown = CliRunner().invoke(cli, ["--log-file", log, "inspect", "-c", str(config)])
    assert shown.exit_code == 0, shown.output
    assert "contacts: 1 row from 'Kunden'" in shown.output
    assert "'E-mail Address' -> email" in shown.output
    assert "'Shoe size' -> extra (no canonical column)" in shown.output
    assert "orders: 0 rows from 'Orders'" in shown.output
    config.write_text('[source]\nkind = "hubspot"\n', encoding="utf-8")
    other = CliRunner().invoke(cli, ["--log-file", log, "inspect", "-c", str(config)])
    assert other.exit_code == 0 and "fixed fields" in other.output


def test_inspect_shows_the_rows_a_run_will_reject_or_skip(tmp_path: Path):
    """Before a run, the user sees which lines cannot be read and which hold no record."""
    from click.testing import CliRunner

    from smbml_connect.cli import cli

    lines = [f"O{i},C{i % 7},2025-01-{1 + i % 28:02d},{10 + i}.50\n" for i in range(12)]
    lines[3] = 'O3,C3,2025-01-04,"13.50\n'  # a stray quote: line 5 of the file
    lines[8] = ",,,\n"  # a blank row: line 10
    (tmp_path / "orders.csv").write_text(
        "Order ID,Customer ID,Order Date,Total\n" + "".join(lines), encoding="utf-8"
    )
    config = tmp_path / "smbml.toml"
    config.write_text('[source]\nkind = "files"\npath = "."\n', encoding="utf-8")
    log = str(tmp_path / "log.txt")
    shown = CliRunner().invoke(cli, ["--log-file", log, "inspect", "-c", str(config)])
    assert shown.exit_code == 0, shown.output
    assert "orders: 10 rows from 'orders.csv'" in shown.output
    assert "1 row cannot be read; a run rejects it and lists them in `smbml status`:" in (
        shown.output
    )
    assert "    row 5: " in shown.output and "quote" in shown.output
    assert "1 row holds no record (a blank, total or header row) and will be skipped:" in (
        shown.output
    )
    assert "    row 10: " in shown.output


def test_inspect_says_how_a_utc_column_is_read_not_percentages(tmp_path: Path):
    """A Stripe payments export (find53 sheets 7): `inspect` said its "Created date (UTC)"
    was read as "percentages if its values go above 1", the rule of a "Discount %"."""
    from click.testing import CliRunner

    from smbml_connect.cli import cli

    fixtures = Path(__file__).parent / "fixtures" / "layouts"
    (tmp_path / "data").mkdir()
    shutil.copy(fixtures / "unified_payments.csv", tmp_path / "data" / "unified_payments.csv")
    (tmp_path / "data" / "Order Lines.csv").write_text(
        "Order ID,Line,SKU,Qty,Price,Discount %\nch_1,1,MUG-01,2,12.00,10\n", encoding="utf-8"
    )
    config = tmp_path / "smbml.toml"
    config.write_text('[source]\nkind = "files"\npath = "data"\n', encoding="utf-8")
    log = str(tmp_path / "log.txt")
    shown = CliRunner().invoke(cli, ["--log-file", log, "inspect", "-c", str(config)])
    assert shown.exit_code == 0, shown.output
    assert (
        "'Created date (UTC)' -> ordered_at (times without an offset are UTC, not your "
        "business's clock)" in shown.output
    )
    assert "'Discount %' -> discount (percentages if its values go above 1" in shown.output
    assert shown.output.count("percentages") == 1


def test_a_copy_of_an_export_counts_once_parts_are_read_together_and_buyers_no_counts(
    tmp_path: Path,
) -> None:
    """A re-downloaded "orders_export_1 (1).csv" beside the first was read as more of the
    export: every line item twice. Its orders are read once (a data check says so),
    while Shopify's parts (orders_export_2.csv: other orders) are still read together.
    Beside customers.csv, the export's "Accepts Marketing = no" was not applied (review 53)."""
    import shutil

    from smbml_connect.connectors.files.source import FilesSource

    fixture = Path(__file__).parent / "fixtures" / "layouts" / "shopify_orders_export_1.csv"
    lines = fixture.read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], lines[1:]
    said_no = {r.split(",")[1].lower() for r in rows if r.split(",")[6] == "no" and r.split(",")[1]}
    folder = tmp_path / "shop"
    folder.mkdir()
    shutil.copy(fixture, folder / "orders_export_1.csv")
    shutil.copy(fixture, folder / "orders_export_1 (1).csv")
    source = FilesSource(folder)
    assert len(source.pull("order_lines")) == len(rows)
    (page,) = source.pull_pages("orders")  # said once, with the main table
    (copy,) = [n for n in page.notices if n.check == "export_copy"]
    assert "a copy of the same export" in copy.message and copy.count == len(rows)

    parts = tmp_path / "parts"  # Shopify's split: the first 10 lines, then the rest
    parts.mkdir()
    cut = next(
        i for i in range(10, len(rows)) if rows[i].split(",")[0] != rows[i - 1].split(",")[0]
    )
    (parts / "orders_export_1.csv").write_text("\n".join([header, *rows[:cut]]) + "\n")
    (parts / "orders_export_2.csv").write_text("\n".join([header, *rows[cut:]]) + "\n")
    source = FilesSource(parts)
    assert len(source.pull("order_lines")) == len(rows)
    assert not [
        n for p in source.pull_pages("orders") for n in p.notices if n.check == "export_copy"
    ]

    people = sorted({r.split(",")[1].lower() for r in rows if r.split(",")[1]})
    (parts / "customers.csv").write_text(
        "Email,First Name\n" + "\n".join(f"{p},A" for p in people) + "\n"
    )
    source = FilesSource(parts)
    assert source.where("contacts").startswith("customers.csv")
    contacts = source.pull("contacts").set_index("email")
    listed = contacts["Opt-out list"].dropna()
    assert set(listed.index) == said_no and len(said_no) == 2
    assert set(listed) == {"orders_export_1.csv"}  # the file that said no, by name


def test_the_opt_out_line_and_inspect_name_the_file_read_not_the_copy_set_aside(
    tmp_path: Path,
) -> None:
    """An older "orders_export_1 (1).csv" sorts before "orders_export_1.csv", so the opt-out
    line said the copy the run set aside "gives the orders", with a count the copy's own
    line did not match, and `inspect` named the copy as the source of opt-outs (find54
    report item 5). The file read is named; the copy's "no"s are counted as its own."""
    from click.testing import CliRunner

    from smbml_connect.cli import cli
    from smbml_connect.connectors.files.source import FilesSource

    fixture = Path(__file__).parent / "fixtures" / "layouts" / "shopify_orders_export_1.csv"
    header, *rows = fixture.read_text(encoding="utf-8").splitlines()
    width = len(header.split(","))
    zed = ["#1013", "zed@example.eu", "paid", "2025-10-08 10:00:00 +0200", "fulfilled", "",
           "no", "EUR", "12.50", "0.00", "0.00", "12.50", "", "0.00", "Standard",
           "2025-10-08 10:00:00 +0200", "1", "Clay Soap", "12.50", "", "SOAP-CLAY"]  # fmt: skip
    zed_row = ",".join(zed + [""] * (width - len(zed)))
    # Marco said no when the copy was downloaded and yes since: the copy's no still counts.
    newer = [zed_row, *(r.replace(",no,EUR,179.30", ",yes,EUR,179.30") for r in rows)]
    older = [r for r in rows if not r.startswith(("#1012,", "#1011,"))]
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "orders_export_1 (1).csv").write_text("\n".join([header, *older]) + "\n")
    (folder / "orders_export_1.csv").write_text("\n".join([header, *newer]) + "\n")
    people = sorted({r.split(",")[1].lower() for r in newer if r.split(",")[1]})
    (folder / "customers.csv").write_text(
        "Email,First Name\n" + "\n".join(f"{p},A" for p in people) + "\n"
    )
    source = FilesSource(folder)
    pages = list(source.pull_pages("contacts"))
    (line,) = [n for p in pages for n in p.notices if n.check == "opt_out_list"]
    assert line.message.startswith(
        "File 'orders_export_1.csv' (Shopify orders export) gives the orders, order lines and "
        "products, and 3 people in it or its copy said no to marketing there, 2 of them in its copy "
        "'orders_export_1 (1).csv' (set aside: its orders are read from 'orders_export_1.csv'), "
        "1 only there"
    ), line.message
    assert line.count == 3 and "'orders_export_1 (1).csv' (Shopify" not in line.message
    (copy,) = [
        n for p in source.pull_pages("orders") for n in p.notices if n.check == "export_copy"
    ]
    assert "the 2 people it says opted out are opted out (1 of them says so in " in copy.message
    contacts = source.pull("contacts").set_index("email")
    assert contacts["Opt-out list"].dropna().to_dict() == {
        "james.o@example.co.uk": "orders_export_1.csv",
        "zed@example.eu": "orders_export_1.csv",  # only the file read holds his orders
        "m.rossi@example.it": "orders_export_1 (1).csv",  # only the copy says no
    }
    assert source.where("orders") == (
        "orders_export_1.csv, orders_export_1 (1).csv (a copy of orders_export_1.csv, set aside)"
    )
    assert source.where("contacts") == (
        "customers.csv, orders_export_1.csv (opt-outs), orders_export_1 (1).csv (opt-outs; "
        "a copy of orders_export_1.csv, set aside)"
    )
    config = tmp_path / "smbml.toml"
    config.write_text('[source]\nkind = "files"\npath = "shop"\n', encoding="utf-8")
    log = str(tmp_path / "log.txt")
    shown = CliRunner().invoke(cli, ["--log-file", log, "inspect", "-c", str(config)])
    assert shown.exit_code == 0, shown.output
    assert (
        f"orders: {len(set(r.split(',')[0] for r in newer))} rows from 'orders_export_1.csv, "
        in (shown.output)
    )
    assert f"{len(older)} rows hold orders another file holds too (a copy of the export)" in (
        shown.output
    )
    assert "    row 2 of 'orders_export_1 (1).csv': order #1010 is read from " in shown.output
    assert "hold no record" not in shown.output


def test_the_newest_download_of_an_export_is_read_and_another_shop_is_no_copy(
    tmp_path: Path,
) -> None:
    """Copies were told apart by order id alone and the first file won: a newer download
    sorted after the older ("(2)", dated names) lost its refund, and a second shop's
    export, numbered from #1001 too, was set aside as a "copy" with all its buyers
    (review53b item 1)."""
    from smbml_connect.connectors.files.source import FilesSource

    fixture = Path(__file__).parent / "fixtures" / "layouts" / "shopify_orders_export_1.csv"
    header, *rows = fixture.read_text(encoding="utf-8").splitlines()
    older = [r for r in rows if not r.startswith("#1012,")]  # before #1012 was placed
    newer = [r.replace("#1010,anna.k@example.de,partially_refunded,",
                       "#1010,anna.k@example.de,refunded,") for r in rows]  # fmt: skip
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "orders_export_1 (1).csv").write_text("\n".join([header, *older]) + "\n")
    (folder / "orders_export_1 (2).csv").write_text("\n".join([header, *newer]) + "\n")
    source = FilesSource(folder)
    orders = source.pull("orders").set_index("order_id")
    assert orders.loc["#1010", "status"] == "refunded"  # the newer state of the order
    assert len(source.pull("order_lines")) == len(rows)
    (page,) = source.pull_pages("orders")
    (copy,) = [n for n in page.notices if n.check == "export_copy"]
    assert copy.message.startswith("'orders_export_1 (1).csv' holds ")
    assert "read once, from 'orders_export_1 (2).csv'" in copy.message

    guests = tmp_path / "guest checkouts"  # no e-mail on any order: still the same orders
    guests.mkdir()
    blank = [",".join([r.split(",")[0], "", *r.split(",")[2:]]) for r in rows]
    for name in ("orders_export_1.csv", "orders_export_1 (1).csv"):
        (guests / name).write_text("\n".join([header, *blank]) + "\n")
    assert len(FilesSource(guests).pull("order_lines")) == len(rows)

    shops = tmp_path / "two shops"
    shops.mkdir()
    (shops / "orders_export_1.csv").write_text("\n".join([header, *rows]) + "\n")
    other = [r.replace("@example.", "@store-b.example.") for r in rows]
    (shops / "store_b_orders_export_1.csv").write_text("\n".join([header, *other]) + "\n")
    source = FilesSource(shops)
    assert len(source.pull("order_lines")) == 2 * len(rows)  # nothing set aside
    (page,) = source.pull_pages("orders")
    (said,) = [n for n in page.notices if n.check == "export_copy"]
    assert "for other buyers or dates: not a copy of it" in said.message
