"""Damaged and unusual files: every row ends loaded or rejected, expected problems say so.

Fixtures are written here, small, from a seeded generator (issue 23 points 1, 7 and 10).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from smbml_connect.connectors.files import source as files_source
from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.errors import SourceFatalError
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.store import Store

HEADER = "Order ID,Customer ID,Order Date,Total,Currency,Status\n"
STATUSES = ["paid", "refunded", "pending", "shipped"]


def order_lines(n: int, seed: int = 7) -> list[str]:
    rnd = random.Random(seed)
    return [
        f"O{i:06d},C{rnd.randrange(500):04d},2024-{rnd.randrange(1, 13):02d}-"
        f"{rnd.randrange(1, 29):02d},{rnd.randrange(10_000) / 100:.2f},USD,{rnd.choice(STATUSES)}\n"
        for i in range(n)
    ]


def write(tmp_path: Path, lines: list[str], name: str = "orders.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(lines), encoding="utf-8", newline="")
    return path


def load(path: Path, store: Store, page_rows: int = 100_000) -> tuple[int, int, object]:
    """(rows loaded, rows rejected, result) of a run that reads ``path`` as orders."""
    source = FilesSource(path, {"orders": path.name}, page_rows=page_rows)
    result = run_pipeline(source, store, RunOptions(steps=[]))
    rejected = result.rejects[result.rejects["action"] == "row rejected"]["source_row"].nunique()
    return result.loaded.get("orders", 0), rejected, result


def data_lines(path: Path, encoding: str = "utf-8") -> int:
    """Rows read: the non-blank lines under the header."""
    text = path.read_text(encoding=encoding).splitlines()[1:]
    return sum(1 for line in text if line.strip(" ,\t"))


def test_a_stray_quote_rejects_its_line_and_reading_goes_on(tmp_path: Path, store: Store):
    lines = order_lines(1500)
    lines[20] = lines[20].replace(",USD,", ',USD,"')  # line 22 of the file
    path = write(tmp_path, lines)
    loaded, rejected, result = load(path, store)
    assert (loaded, rejected) == (1499, 1)
    reject = result.rejects.iloc[0]
    assert reject["source_row"] == 22 and reject["column"] == "Status"
    assert "quote" in reject["reason"] and reject["value"].startswith("O000020,")
    assert len(store.rejects(result.run_id)) == 1  # `smbml status` and the Rejects tab see it
    assert store.read("orders")["status"].str.len().max() < 20


def test_field_counts_huge_cells_and_blank_rows(tmp_path: Path, store: Store):
    lines = order_lines(300)
    lines[10] = lines[10].rstrip("\n") + ",surplus\n"  # one field too many
    lines[11] = "O999999,C0001\n"  # too few
    lines[12] = lines[12].replace("USD", "X" * 140_000)  # over csv's 128 KB field limit
    lines[13] = "\n"
    lines[14] = ",,,,,\n"
    lines[15] = lines[15].rstrip("\n") + ",,\n"  # empty surplus fields: nothing is lost
    path = write(tmp_path, lines)
    loaded, rejected, result = load(path, store)
    assert (loaded, rejected) == (295, 3)
    assert loaded + rejected == data_lines(path)
    by_row = result.rejects.set_index("source_row")["reason"]
    assert "7 values where the header has 6" in by_row[12]
    assert "2 values where the header has 6" in by_row[13]
    assert "longer than 131,072 characters" in by_row[14]
    values = result.rejects.set_index("source_row")["value"]
    assert len(values[14]) < 300  # the value is shortened


def test_a_value_with_line_breaks_is_kept(tmp_path: Path, store: Store):
    lines = order_lines(20)
    lines[5] = lines[5].replace(",USD,", ',"USD\nleave at the door, ring twice",')
    path = write(tmp_path, lines)
    loaded, rejected, _ = load(path, store)
    assert (loaded, rejected) == (20, 0)
    assert store.read("orders")["currency"].str.contains("\n").sum() == 1


def test_pages_keep_their_line_numbers_and_repeat_keys_are_reported(tmp_path: Path, store: Store):
    lines = order_lines(50)
    lines[40] = lines[3]  # the same order again, ten pages later
    lines[25] = lines[25].replace(",USD,", ',USD,"')
    path = write(tmp_path, lines)
    loaded, rejected, result = load(path, store, page_rows=4)
    assert (loaded, rejected) == (48, 2)
    dup = result.rejects[result.rejects["column"] == "order_id"].iloc[0]
    assert dup["source_row"] == 5 and "row 42 has the same key" in dup["reason"]
    assert result.rejects[result.rejects["column"] == "Status"].iloc[0]["source_row"] == 27
    assert len(store.read("orders")) == 48


@pytest.mark.parametrize("page_rows", [4, 100_000])
def test_across_pages_the_fuller_row_wins_as_within_one(
    tmp_path: Path, store: Store, page_rows: int
):
    """The same rule whether the two rows share a page or not (issue 23 point 6)."""
    lines = order_lines(50)
    full_early = lines[3]  # line 5: every value
    lines[40] = full_early.replace(",USD,", ",,")  # line 42: the same order, no currency
    sparse_early = lines[7].replace(",USD,", ",,")  # line 9: no currency ...
    lines[7] = sparse_early
    lines[44] = lines[7].replace(",,", ",EUR,")  # line 46: ... which comes later, filled in
    path = write(tmp_path, lines)
    loaded, rejected, result = load(path, store, page_rows=page_rows)
    assert (loaded, rejected) == (48, 2)
    dups = result.rejects[result.rejects["column"] == "order_id"].set_index("source_row")
    assert sorted(dups.index) == [9, 42]
    assert dups.loc[42, "reason"] == (
        "duplicate order_id; row 5 has the same key, has more values filled in and wins; "
        "this row differed in currency"
    )
    assert dups.loc[9, "reason"].startswith("duplicate order_id; row 46 has the same key, has more")
    stored = store.read("orders").set_index("order_id")
    assert stored.loc["O000003", "currency"] == "USD" and stored.loc["O000007", "currency"] == "EUR"
    assert len(stored) == 48


def test_a_key_on_three_pages_keeps_the_fullest_and_lists_the_other_two(
    tmp_path: Path, store: Store
):
    lines = order_lines(30)
    lines[12] = lines[2].replace(",USD,", ",EUR,")  # line 14: differs, as full as line 4
    lines[24] = lines[2].replace(",USD,", ",,")  # line 26: emptier
    path = write(tmp_path, lines)
    loaded, rejected, result = load(path, store, page_rows=5)
    assert (loaded, rejected) == (28, 2)
    dups = result.rejects[result.rejects["column"] == "order_id"].set_index("source_row")
    assert "row 14 has the same key, comes later and wins" in dups.loc[4, "reason"]
    assert "row 14 has the same key, has more values filled in and wins" in dups.loc[26, "reason"]
    assert store.read("orders").set_index("order_id").loc["O000002", "currency"] == "EUR"


@pytest.mark.parametrize("seed", range(12))
def test_random_damage_never_loses_a_row(tmp_path: Path, store: Store, seed: int):
    rnd = random.Random(seed)
    lines = order_lines(200, seed)
    for _ in range(8):
        i = rnd.randrange(len(lines))
        kind = rnd.choice(["quote", "comma", "semicolon", "blank", "swap", "total", "header"])
        if kind == "quote":
            cut = rnd.randrange(len(lines[i]) - 1)
            lines[i] = lines[i][:cut] + '"' + lines[i][cut:]
        elif kind == "comma":
            lines[i] = lines[i].replace(",", "", 1)
        elif kind == "semicolon":
            lines[i] = lines[i].replace(",", ";")
        elif kind == "blank":
            lines[i] = "\n"
        elif kind == "total":
            lines.insert(i, f"Total,,,{rnd.randrange(10**6) / 100:.2f},,\n")
        elif kind == "header":
            lines.insert(i, HEADER)
        else:
            j = rnd.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
    path = write(tmp_path, lines)
    loaded, rejected, result = load(path, store, page_rows=rnd.choice([7, 50, 1000]))
    skipped = result.rejects[result.rejects["action"] == "row skipped"]
    listed = int((skipped["reason"] != "blank row").sum())  # data_lines leaves blanks out
    assert loaded + rejected + listed == data_lines(path)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig", "cp1252"])
def test_encodings_excel_writes_are_read(tmp_path: Path, store: Store, encoding: str):
    text = (HEADER + "".join(order_lines(10))).replace("USD", "EUR").replace("paid", "payé")
    path = tmp_path / "orders.txt"
    if encoding.startswith("utf-16"):  # Excel's "Unicode Text": tab separated, with a BOM
        text = text.replace(",", "\t")
        data = (
            ("\ufeff" + text).encode(encoding) if encoding == "utf-16-be" else text.encode(encoding)
        )
    else:
        data = text.encode(encoding)
    path.write_bytes(data)
    loaded, rejected, _ = load(path, store)
    assert (loaded, rejected) == (10, 0)
    assert set(store.read("orders")["status"]) <= {"payé", "refunded", "pending", "shipped"}


def test_bytes_in_no_encoding_say_save_as_utf8(tmp_path: Path):
    path = tmp_path / "orders.csv"
    path.write_bytes(HEADER.encode() + b"O1,C1,2024-01-01,1.00,USD,\x81\x8d\x90\n")
    with pytest.raises(SourceFatalError, match="CSV UTF-8"):
        FilesSource(path, {"orders": path.name}).pull("orders")


def test_a_file_named_xlsx_that_is_not_a_workbook(tmp_path: Path):
    path = tmp_path / "book.xlsx"
    path.write_text(HEADER, encoding="utf-8")
    with pytest.raises(SourceFatalError, match="is not an Excel workbook") as caught:
        FilesSource(path)
    assert caught.value.exit_code == 5 and "\n" not in str(caught.value)
    path.write_bytes(b"PK\x03\x04 damaged")
    with pytest.raises(SourceFatalError, match="is not an Excel workbook"):
        FilesSource(path)


def test_a_password_protected_workbook_says_remove_the_password(tmp_path: Path):
    path = tmp_path / "book.xlsx"
    path.write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 504)
    with pytest.raises(SourceFatalError, match="remove the password"):
        FilesSource(path)


def test_running_out_of_memory_says_what_to_do(tmp_path: Path, monkeypatch, store: Store):
    path = write(tmp_path, order_lines(5))

    def no_memory(*_args, **_kwargs):
        raise MemoryError
        yield  # a generator, as the real one

    monkeypatch.setattr(files_source, "read_csv", no_memory)
    with pytest.raises(SourceFatalError, match="too big for this computer's memory"):
        FilesSource(path, {"orders": path.name}).pull("orders")
    result = run_pipeline(FilesSource(path, {"orders": path.name}), store, RunOptions(steps=[]))
    assert result.status == "partial" and "too big" in result.errors[0]


def test_workbook_values_right_of_the_header_are_rejected(tmp_path: Path, store: Store):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Orders"
    sheet.append(["Order ID", "Order Date", "Total"])
    sheet.append(["O1", "2024-01-02", 10])
    sheet.append(["O2", "2024-01-03", 11, "note without a header"])
    sheet.append([None, None, None])
    sheet.append(["O3", "2024-01-04", 12])
    path = tmp_path / "book.xlsx"
    book.save(path)
    source = FilesSource(path)
    result = run_pipeline(source, store, RunOptions(steps=[]))
    assert result.loaded["orders"] == 2
    rejects = result.rejects.set_index("source_row")["action"]
    assert rejects.to_dict() == {3: "row rejected", 4: "row skipped"}  # the blank row: listed


def test_running_out_of_memory_while_validating_skips_the_table(
    tmp_path: Path, monkeypatch, store: Store
):
    from smbml_connect import pipeline

    path = write(tmp_path, order_lines(5))

    def no_memory(*_args, **_kwargs):
        raise MemoryError

    monkeypatch.setattr(pipeline, "validate", no_memory)
    result = run_pipeline(FilesSource(path, {"orders": path.name}), store, RunOptions(steps=[]))
    assert result.status == "partial"
    assert result.errors == [
        "orders is too big for this computer's memory: close other programs, or split the "
        "source into smaller files"
    ]


def test_plain_and_quoted_batches_agree(tmp_path: Path):
    """The quote-free batch path and the record path read the same rows."""
    lines = order_lines(400)
    plain = write(tmp_path, lines, "plain.csv")
    quoted = write(tmp_path, [line.replace(",USD,", ',"USD",') for line in lines], "quoted.csv")
    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(plain.read_bytes().replace(b"\n", b"\r\n"))
    frames = [
        FilesSource(p, {"orders": p.name}, page_rows=64).pull("orders")
        for p in (plain, quoted, crlf)
    ]
    assert frames[0].equals(frames[1]) and frames[0].equals(frames[2])
    assert len(frames[0]) == 400 and frames[0]["_source_row"].tolist() == list(range(2, 402))


def test_total_and_repeated_header_rows_of_a_paged_file_are_skipped(tmp_path: Path, store: Store):
    """As when a file is read whole: a 'Total' row or the header again is not an order."""
    lines = order_lines(20)
    lines[6:6] = [HEADER]  # line 8
    lines.append("Total,,,1234.00,,\n")  # line 23
    path = write(tmp_path, lines)
    loaded, rejected, result = load(path, store, page_rows=5)
    assert (loaded, rejected) == (20, 0)
    skipped = result.rejects[result.rejects["action"] == "row skipped"]
    assert skipped[["source_row", "reason"]].values.tolist() == [
        [8, "repeated header row"],
        [23, "total row ('Total')"],
    ]


def test_blank_rows_inside_a_paged_file_are_listed_as_skipped(tmp_path: Path, store: Store):
    """Every row ends in one place: blank rows inside the data are listed, trailing ones are
    the end of the file."""
    lines = order_lines(30)
    lines[4] = ",,,,,\n"  # line 6
    lines[17] = "\n"  # line 19
    path = write(tmp_path, [*lines, "\n", ",,,,,\n"])
    loaded, rejected, result = load(path, store, page_rows=7)
    assert (loaded, rejected) == (28, 0)
    skipped = result.rejects[result.rejects["action"] == "row skipped"]
    assert skipped["source_row"].tolist() == [6, 19]
    assert set(skipped["reason"]) == {"blank row"}
