"""Column headers are words a person reads (issue 24): the workbook, the Sheets tabs and the
report show `column_label` of each column, while the code keeps its names."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import load_workbook

from smbml_connect.column_labels import LABELS, code_name, column_label
from smbml_connect.connectors.gsheets.sheets import ResultTab, sheet_header, tab_requests
from smbml_connect.report import _table_html
from smbml_connect.xlsx import write_workbook

FRAME = pd.DataFrame(
    {
        "contact_id": ["c1", "c2"],
        "value_low_80": [1.5, 2.0],
        "total_error_pct": [3.0, -1.0],
        "mae": [0.4, 0.5],
        "chosen": [True, False],
        "expected_value_6m": [10.0, 20.0],
    }
)
SHOWN = [
    "Contact ID",
    "Value, low end (80% range)",
    "Error of the total (%)",
    "Average error per customer (purchases)",
    "Used",
    "Expected value, next 6 months",
]


def test_every_label_is_plain_words():
    for code, label in LABELS.items():
        assert "_" not in label and not label[:1].islower() and label == label.strip(), code


def test_an_unlisted_name_still_reads_as_words_and_a_chosen_one_is_kept():
    assert column_label("weeks_left_pct") == "Weeks left %"
    assert column_label("Accessories share") == "Accessories share"
    assert column_label("expected_value_12m") == "Expected value, next 12 months"


def test_reading_back_finds_the_code_name():
    for code in FRAME.columns:
        assert code_name(column_label(code)) == code
    # two names that share their words: the tab's own columns decide
    assert code_name("Low (80% range)", ("month", "low 80")) == "low 80"


def test_the_workbook_shows_labels_and_yes_no_with_the_code_names_formats(tmp_path: Path):
    sheet = load_workbook(write_workbook(tmp_path / "out.xlsx", {"T": FRAME}))["T"]
    assert [c.value for c in sheet[1]] == SHOWN
    assert [sheet.cell(row=r, column=5).value for r in (2, 3)] == ["Yes", "No"]
    assert sheet["B2"].number_format == "#,##0.00"  # still money, from the code name


def test_sheets_and_the_report_show_the_same_labels():
    assert sheet_header(FRAME) == SHOWN
    requests = tab_requests(ResultTab("t", "T", FRAME), 7, None, "now")
    writes = [r["updateCells"] for batch in requests for r in batch if "updateCells" in r]
    table = next(w["rows"] for w in writes if w.get("range", {}).get("startRowIndex") == 1)
    assert [c["userEnteredValue"]["stringValue"] for c in table[0]["values"]] == SHOWN
    used = [row["values"][4]["userEnteredValue"]["stringValue"] for row in table[1:]]
    assert used == ["Yes", "No"]
    html = str(_table_html(FRAME))
    assert all(f"<th>{label.replace('&', '&amp;')}</th>" in html for label in SHOWN)
    assert '<td data-label="Used">Yes</td>' in html
