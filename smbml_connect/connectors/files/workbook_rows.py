"""A workbook opened without reading its sheets, and a sheet's rows read in one pass.

openpyxl's read-only mode measures every worksheet when it opens a workbook: a sheet
that does not state its size (no ``<dimension>``, as many exporters write it) was parsed
whole to find it, every sheet at every open (about 5 s a time on 200,000 rows, several
times a run), and a sheet stating a wrong size had its rows and columns beyond that size
left out, unsaid. Here a workbook opens with its sheets unmeasured, and ``sheet_rows``
reads a sheet's rows as its XML holds them, in one pass that also tells a formula Excel
never calculated from an empty cell (which took a second parse of the sheet).
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

from openpyxl.reader.excel import ExcelReader
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import FORMULA_TAG, WorkSheetParser

from smbml_connect.coerce import UNSAVED_FORMULA, UnreadCell

__all__ = ["UNSAVED", "open_workbook", "sheet_rows"]

UNSAVED = (
    f"{UNSAVED_FORMULA}: open the file in Excel or LibreOffice and save it, then load it again"
)


class _Unmeasured(ReadOnlyWorksheet):
    """A read-only worksheet not measured on open: ``sheet_rows`` reads every row its XML
    holds, whatever size it states, so the size is never used."""

    def _get_size(self) -> None:
        return None


class _Reader(ExcelReader):
    def read_worksheets(self) -> None:
        """The worksheets as openpyxl's read-only mode lists them, unmeasured; chart sheets
        as before (``workbook.chartsheets``)."""
        for sheet, rel in self.parser.find_sheets():
            if rel.target not in self.valid_files:
                continue
            if "chartsheet" in rel.Type:
                self.read_chartsheet(sheet, rel)
                continue
            worksheet = _Unmeasured(self.wb, sheet.name, rel.target, self.shared_strings)
            worksheet.sheet_state = sheet.state
            self.wb._sheets.append(worksheet)


def open_workbook(path: Path) -> Any:
    """The workbook read-only, with saved values, and no sheet read yet."""
    reader = _Reader(str(path), read_only=True, data_only=True)
    reader.read()
    return reader.wb


class _Cells(WorkSheetParser):
    """openpyxl's sheet parser giving each cell's saved value, or a ``coerce.UnreadCell``
    with its formula where Excel saved none (read as empty, it would pass for a blank)."""

    def parse_cell(self, element: Any) -> dict[str, Any]:
        cell: dict[str, Any] = super().parse_cell(element)
        if element.find(FORMULA_TAG) is None:
            return cell
        formula = self.parse_formula(element)  # each one: a shared formula's first gives the rest
        text = formula if isinstance(formula, str) else getattr(formula, "text", None)
        if cell["value"] is None and isinstance(text, str) and text.startswith("="):
            cell["value"] = UnreadCell(text, UNSAVED)
        return cell


def sheet_rows(workbook: Any, sheet: str, unsaved: bool = True) -> Generator[list[Any], None, None]:
    """The values of each row of ``sheet`` from row 1 to the last its XML holds (a row it
    leaves out comes as ``[]``), to the row's last cell; ``unsaved``: a formula without a
    saved value as an ``UnreadCell``, else as empty."""
    worksheet = workbook[sheet]
    with workbook._archive.open(worksheet._worksheet_path) as xml:
        parser = (_Cells if unsaved else WorkSheetParser)(
            xml,
            worksheet._shared_strings,
            data_only=True,
            epoch=workbook.epoch,
            date_formats=workbook._date_formats,
            timedelta_formats=workbook._timedelta_formats,
        )
        expected = 1
        for number, cells in parser.parse():
            if number < expected:  # a row number written twice: openpyxl kept the first
                continue
            for _ in range(expected, number):
                yield []
            yield _values(cells)
            expected = number + 1


def _values(cells: list[dict[str, Any]]) -> list[Any]:
    row: list[Any] = [None] * max((c["column"] for c in cells), default=0)
    for cell in cells:
        row[cell["column"] - 1] = cell["value"]
    return row
