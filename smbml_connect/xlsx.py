"""Formatted .xlsx output: one tab per frame, bold frozen headers, filters, widths, print setup.

Headers are the plain labels of `column_labels`; number formats follow the code names.

Written workbooks never contain formulas made from data: a value such as
"=HYPERLINK(...)" from a CRM stays text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

from smbml_connect.column_labels import column_label, yes_no
from smbml_connect.money_words import money_format, shown_currency
from smbml_connect.whole_files import replaced

__all__ = [
    "build_workbook",
    "number_format",
    "prepare_for_print",
    "save_workbook",
    "write_workbook",
]

_MAX_CELL = 32_767  # Excel's limit on characters in one cell
# -- writing -------------------------------------------------------------------------
_HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
_HEADER_FONT = Font(bold=True, color="FFFFFF")
# Printing: a page holds about this many characters of column width at 100% (A4 or Letter,
# default margins); wider tabs print landscape, and every tab is scaled to one page wide.
_PORTRAIT_CHARS = 95
_PIXELS_PER_CM = 96 / 2.54
_ROW_PIXELS = 20  # Excel's default row height (15 pt)
PRINTED_ROWS = 300
_WIDEST = 60  # characters: a column is never wider
_HEADER_LINES = 3  # a long header wraps over up to this many lines
_LINE_POINTS = 15  # the height of one line of text at the default font
_WRAPPED_ROWS = 100  # tables up to this long wrap text that does not fit the widest column


def _cell_value(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, pd.Timestamp):
        return value.tz_convert(None).to_pydatetime() if value.tzinfo else value.to_pydatetime()
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    if isinstance(value, list | tuple):
        value = "; ".join(str(v) for v in value)
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)[:_MAX_CELL]
    return value


# Money by its words: "lowest_weekly_price" is money, "distinct_prices" (prices tried) a count.
MONEY_WORDS = frozenset(
    "revenue spend total value price amount profit cost monetary basket".split()
)
# Money columns whose names hold no money word: the sales forecast's (the Forecast tab's
# rows of units share its columns and their format: whole units in a yen shop) and the
# pipeline's expected revenue with its ranges. A yen shop's forecast read "181,210.53".
MONEY_NAMES = frozenset(
    "forecast low_80 high_80 low_95 high_95 range_80 sold_so_far actual "
    "expected lo80 hi80 lo95 hi95".split()
)


def _is_money(name: str) -> bool:
    """Whether a result column named ``name`` (its code name) holds amounts of money."""
    lowered = name.lower()
    return lowered in MONEY_NAMES or bool(MONEY_WORDS & set(re.split(r"[\W_]+", lowered)))


def number_format(name: str, series: pd.Series) -> str | None:
    lowered = name.lower()
    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(series):
        return "yyyy-mm-dd hh:mm" if "at" in lowered.split() or "time" in lowered else "yyyy-mm-dd"
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return None
    if any(w in lowered for w in ("share", "rate", "probability", "risk")):
        return "0.0%"
    if _is_money(lowered):
        return money_format(shown_currency())  # "#,##0" for yen: they have no decimals
    if pd.api.types.is_integer_dtype(series):
        return "#,##0"
    values = pd.to_numeric(series, errors="coerce").dropna()
    if len(values) and bool((values == values.round()).all()):
        return "#,##0"  # whole numbers (a median of 6 orders) read 6, not 6.00, as in Sheets
    return "#,##0.00"


def write_workbook(
    path: Path,
    sheets: Mapping[str, pd.DataFrame],
    notes: Mapping[str, str] | None = None,
) -> Path:
    """Write one formatted tab per frame: bold header, frozen first row, filters, widths.

    ``notes`` puts a one-line explanation above a tab's table (the table then starts on
    row 3 and that row is frozen). Text cells are always stored as text, never formulas.
    """
    workbook, placed = build_workbook(sheets, notes)
    prepare_for_print(workbook, {sheet.title: top for sheet, top in placed.values()})
    return save_workbook(workbook, path)


def save_workbook(workbook: Workbook, path: Path) -> Path:
    """Save whole or not at all: an interrupted save leaves the last workbook as it was."""
    path = Path(path)
    with replaced(path) as temporary:
        workbook.save(temporary)
    return path


def build_workbook(
    sheets: Mapping[str, pd.DataFrame],
    notes: Mapping[str, str] | None = None,
    formats: Mapping[str, Mapping[str, str]] | None = None,
) -> tuple[Workbook, dict[str, tuple[Any, int]]]:
    """The workbook `write_workbook` saves, and where each table sits: title -> (sheet, header row).

    ``formats`` (tab -> column -> number format) overrides what a column's name suggests.
    """
    workbook = Workbook()
    workbook.remove(workbook.active)
    placed: dict[str, tuple[Any, int]] = {}
    for title, frame in sheets.items():
        sheet = workbook.create_sheet(_sheet_title(title, workbook.sheetnames))
        top = 1
        note = (notes or {}).get(title)
        if note:
            _text_cell(sheet.cell(row=1, column=1), note).font = Font(italic=True)
            top = 3
        for col, name in enumerate(frame.columns, start=1):
            cell = _text_cell(sheet.cell(row=top, column=col), column_label(name))
            cell.fill, cell.font = _HEADER_FILL, _HEADER_FONT
            cell.alignment = Alignment(vertical="center")
        given = (formats or {}).get(title, {})
        patterns = [given.get(str(n)) or number_format(str(n), frame[n]) for n in frame.columns]
        for r, row in enumerate(frame.itertuples(index=False), start=top + 1):
            for c, value in enumerate(row, start=1):
                cell = sheet.cell(row=r, column=c)
                converted = _cell_value(yes_no(value))
                if isinstance(converted, str):
                    _text_cell(cell, converted)
                else:
                    cell.value = converted
                    pattern = patterns[c - 1] or _type_format(converted)
                    if pattern and converted is not None:
                        cell.number_format = pattern
        sheet.freeze_panes = sheet.cell(row=top + 1, column=1)
        if len(frame.columns):
            last = get_column_letter(len(frame.columns))
            sheet.auto_filter.ref = f"A{top}:{last}{top + max(len(frame), 1)}"
        _fit_widths(sheet, frame, top)
        if note:
            _wrap_note(sheet, note, len(frame.columns))
        placed[title] = (sheet, top)
    if not workbook.sheetnames:
        workbook.create_sheet("Empty")
    return workbook, placed


def _text_cell(cell: Any, text: str) -> Any:
    """Store ``text`` as a string even when it starts with '=': openpyxl would make a formula.

    Headers and notes come here too (a column named from the data, a note quoting a name):
    characters a worksheet cannot hold are dropped as in values, where openpyxl raised
    IllegalCharacterError and the whole workbook was not written."""
    cell.value = ILLEGAL_CHARACTERS_RE.sub("", text)[:_MAX_CELL]
    cell.data_type = "s"
    return cell


def _sheet_title(title: str, taken: list[str]) -> str:
    clean = "".join("_" if ch in "[]:*?/\\" else ch for ch in title).strip("'")[:31] or "Sheet"
    candidate, n = clean, 2
    while candidate in taken:
        suffix = f" ({n})"
        candidate, n = clean[: 31 - len(suffix)] + suffix, n + 1
    return candidate


def _type_format(value: Any) -> str | None:
    """A number format from the value itself, for columns that mix text and numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return "#,##0"
    if isinstance(value, float):
        return "#,##0.00"
    if isinstance(value, datetime):
        return "yyyy-mm-dd"
    return None


def prepare_for_print(workbook: Workbook, header_rows: Mapping[str, int]) -> None:
    """Every tab prints: a print area over its table and charts, one page wide, header repeated.

    ``header_rows`` (tab title -> row of its table's header) are the rows repeated on
    every printed page. A tab too wide to read at three quarters of its size on a
    portrait page prints landscape. A long list prints its first ``PRINTED_ROWS`` rows
    (a footer says how many of how many): 2,000 rows on paper help nobody, and the
    workbook keeps them all.
    """
    for title in workbook.sheetnames:
        sheet = workbook[title]
        header = header_rows.get(sheet.title)
        last_col, last_row = _used_extent(sheet)
        footer = "&A, page &P of &N"
        if header is not None:
            sheet.print_title_rows = f"{header}:{header}"
            rows = sheet.max_row - header
            if rows > PRINTED_ROWS:
                last_row = max(header + PRINTED_ROWS, _used_extent(sheet, charts_only=True)[1])
                footer = f"&A: the first {PRINTED_ROWS:,} of {rows:,} rows, page &P of &N"
        sheet.print_area = f"A1:{get_column_letter(last_col)}{last_row}"
        wide = _chars_wide(sheet, last_col) > _PORTRAIT_CHARS / 0.75
        sheet.page_setup.orientation = "landscape" if wide else "portrait"
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 0  # as many pages tall as the rows need
        sheet.page_margins.left = sheet.page_margins.right = 0.4
        sheet.oddFooter.center.text = footer


def _column_chars(sheet: Any, col: int) -> float:
    width = sheet.column_dimensions[get_column_letter(col)].width
    return float(width) if width else 8.43  # Excel's default column width


def _chars_wide(sheet: Any, last_col: int) -> float:
    return sum(_column_chars(sheet, c) for c in range(1, last_col + 1))


def _used_extent(sheet: Any, charts_only: bool = False) -> tuple[int, int]:
    """The last column and row holding a value or part of a chart."""
    last_col, last_row = (
        (1, 1) if charts_only else (max(sheet.max_column, 1), max(sheet.max_row, 1))
    )
    for chart in sheet._charts:
        # add_chart keeps the anchor as given ("H3") until the workbook is saved
        letters, row = coordinate_from_string(str(chart.anchor))
        col = column_index_from_string(letters)
        pixels = chart.width * _PIXELS_PER_CM
        while pixels > 0:  # a column of w characters is about 7w + 5 pixels wide
            pixels -= _column_chars(sheet, col) * 7 + 5
            col += 1
        rows = int(chart.height * _PIXELS_PER_CM / _ROW_PIXELS) + 1
        last_col, last_row = max(last_col, col - 1), max(last_row, row + rows)
    return last_col, last_row


def _wrap_note(sheet: Any, note: str, columns: int) -> None:
    """The note wraps over the table's width, so it prints whole."""
    last, width = 1, _column_chars(sheet, 1)
    while last < columns:
        last += 1
        width += _column_chars(sheet, last)
    if last > 1:
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=last)
    sheet["A1"].alignment = Alignment(wrap_text=True, vertical="top")
    lines = sum(-(-max(len(part), 1) // int(width)) for part in note.split("\n"))
    sheet.row_dimensions[1].height = 15 * max(lines, 1) + 2


def _fit_widths(sheet: Any, frame: pd.DataFrame, top: int) -> None:
    """Columns as wide as their values (10 to 60 characters); a longer header wraps over
    up to three lines instead of widening its column, so a wide tab still prints legibly.
    In a short table (a reading table, not a list to filter) longer text wraps too. Rows
    that wrap get their height here: neither openpyxl nor LibreOffice's import sizes them."""
    header_lines = 1
    wrapped: list[tuple[int, int]] = []  # (column, width) of the columns whose text wraps
    for col, name in enumerate(frame.columns, start=1):
        sample = frame[name].head(200).astype(str).str.len()
        values = max([0, *sample.tolist()])
        label = column_label(name)
        title = len(label)
        width = min(max(10, values + 2, -(-title // _HEADER_LINES) + 2), _WIDEST)
        sheet.column_dimensions[get_column_letter(col)].width = width
        if title > width - 1:
            sheet.cell(row=top, column=col).alignment = Alignment(vertical="center", wrap_text=True)
            header_lines = max(header_lines, _lines(label, width))
        if values + 2 > _WIDEST and len(frame) <= _WRAPPED_ROWS:
            wrapped.append((col, width))
    if header_lines > 1:
        sheet.row_dimensions[top].height = _LINE_POINTS * header_lines
    widths = dict(wrapped)
    for row in range(top + 1, top + len(frame) + 1) if wrapped else ():
        lines = 1
        for col in range(1, len(frame.columns) + 1):  # a row reads from its top line
            cell = sheet.cell(row=row, column=col)
            cell.alignment = Alignment(wrap_text=col in widths, vertical="top")
            if col in widths:
                lines = max(lines, _lines(str(cell.value or ""), widths[col]))
        if lines > 1:
            sheet.row_dimensions[row].height = _LINE_POINTS * lines


def _lines(text: str, width: int) -> int:
    """Lines ``text`` takes when wrapped in a column ``width`` characters wide (words wrap
    whole, so a line holds a little less than the width)."""
    per_line = max(int(width * 0.85) - 1, 1)
    return sum(max(-(-len(part) // per_line), 1) for part in text.split("\n"))
