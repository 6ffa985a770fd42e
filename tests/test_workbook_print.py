"""The results workbook on paper: print areas, page setup and values that stay numbers."""

from pathlib import Path

import pandas as pd
from openpyxl import load_workbook

from smbml_connect.xlsx import PRINTED_ROWS, write_workbook


def _saved(tmp_path: Path, sheets: dict[str, pd.DataFrame], notes: dict[str, str]):
    return load_workbook(write_workbook(tmp_path / "out.xlsx", sheets, notes))


def test_a_narrow_short_tab_prints_portrait_with_its_header_repeated(tmp_path: Path):
    frame = pd.DataFrame({"month": ["2026-01", "2026-02"], "revenue": [10.0, 12.5]})
    sheet = _saved(tmp_path, {"Small": frame}, {"Small": "Revenue per month."})["Small"]
    assert sheet.print_area == "'Small'!$A$1:$B$5"
    assert sheet.print_title_rows == "$3:$3"
    assert sheet.page_setup.orientation == "portrait"
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert (sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight) == (1, 0)


def test_a_wide_tab_prints_landscape(tmp_path: Path):
    frame = pd.DataFrame({f"column {i}": ["x" * 20] for i in range(8)})
    sheet = _saved(tmp_path, {"Wide": frame}, {})["Wide"]
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.print_title_rows == "$1:$1"


def test_a_long_list_prints_its_first_rows_and_says_how_many_of_how_many(tmp_path: Path):
    frame = pd.DataFrame({"id": range(1000), "score": [0.5] * 1000})
    sheet = _saved(tmp_path, {"Long": frame}, {})["Long"]
    assert sheet.print_area == f"'Long'!$A$1:$B${1 + PRINTED_ROWS}"
    assert f"the first {PRINTED_ROWS:,} of 1,000 rows" in sheet.oddFooter.center.text
    assert sheet.max_row == 1001  # the workbook keeps every row


def test_a_note_wraps_over_the_table_so_it_prints_whole(tmp_path: Path):
    note = "A long explanation of what this table holds and how to read it. " * 4
    frame = pd.DataFrame({"a": [1], "b": [2], "c": [3]})
    sheet = _saved(tmp_path, {"Noted": frame}, {"Noted": note})["Noted"]
    assert [str(r) for r in sheet.merged_cells.ranges] == ["A1:C1"]
    assert sheet["A1"].alignment.wrap_text
    assert sheet.row_dimensions[1].height > 15


def test_mixed_text_and_numbers_stay_numbers_with_formats(tmp_path: Path):
    frame = pd.DataFrame(
        {"item": ["Run", "Rows rejected", "Share", "Data up to", "Source"],
         "value": [3, 1234, 0.25, pd.Timestamp("2026-10-31"), "sample"]}
    )  # fmt: skip
    sheet = _saved(tmp_path, {"Summary": frame}, {})["Summary"]
    cells = {sheet.cell(row=r, column=1).value: sheet.cell(row=r, column=2) for r in range(2, 7)}
    assert cells["Rows rejected"].value == 1234
    assert cells["Rows rejected"].number_format == "#,##0"
    assert cells["Share"].number_format == "#,##0.00"
    assert cells["Data up to"].is_date and cells["Data up to"].number_format == "yyyy-mm-dd"
    assert cells["Source"].data_type == "s"


def test_long_text_wraps_in_a_short_table_but_not_in_a_long_list(tmp_path: Path):
    text = "a reason that is much longer than sixty characters, so it needs wrapping"
    short = pd.DataFrame({"why": [text] * 3})
    long = pd.DataFrame({"why": [text] * 500})
    book = _saved(tmp_path, {"Short": short, "Long": long}, {})
    assert book["Short"]["A2"].alignment.wrap_text
    assert not book["Long"]["A2"].alignment.wrap_text


def test_wrapped_rows_and_long_headers_get_the_height_their_lines_need(tmp_path: Path):
    """LibreOffice prints wrapped text over the next rows unless the row is made taller."""
    text = "a reason that is much longer than sixty characters, so it needs wrapping " * 2
    frame = pd.DataFrame({"revenue_change_per_month_high_80": [1.5, 2.5], "why": [text, "short"]})
    sheet = _saved(tmp_path, {"Reasons": frame}, {})["Reasons"]
    assert sheet.column_dimensions["A"].width < len("revenue_change_per_month_high_80")
    assert sheet["A1"].alignment.wrap_text and sheet.row_dimensions[1].height >= 30
    assert sheet.row_dimensions[2].height >= 45  # three lines of the long reason
    assert sheet.row_dimensions[3].height is None  # a short one keeps the default
    assert sheet["A2"].alignment.vertical == "top"
