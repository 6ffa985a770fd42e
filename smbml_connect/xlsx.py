"""Formatted .xlsx output: one tab per frame, bold frozen headers, filters, widths.

Written workbooks never contain formulas made from data: a value such as
"=HYPERLINK(...)" from a CRM stays text.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

__all__ = ["build_workbook", "number_format", "save_workbook", "write_workbook"]

_MAX_CELL = 32_767  # Excel's limit on characters in one cell
# -- writing -------------------------------------------------------------------------
_HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
_HEADER_FONT = Font(bold=True, color="FFFFFF")


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


def number_format(name: str, series: pd.Series) -> str | None:
    lowered = name.lower()
    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(series):
        return "yyyy-mm-dd hh:mm" if "at" in lowered.split() or "time" in lowered else "yyyy-mm-dd"
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return None
    if any(w in lowered for w in ("share", "rate", "probability", "risk")):
        return "0.0%"
    if any(w in lowered for w in ("revenue", "spend", "total", "value", "price", "amount")):
        return "#,##0.00"
    if pd.api.types.is_integer_dtype(series):
        return "#,##0"
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
    workbook, _ = build_workbook(sheets, notes)
    return save_workbook(workbook, path)


def save_workbook(workbook: Workbook, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
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
            cell = _text_cell(sheet.cell(row=top, column=col), str(name))
            cell.fill, cell.font = _HEADER_FILL, _HEADER_FONT
            cell.alignment = Alignment(vertical="center")
        given = (formats or {}).get(title, {})
        patterns = [given.get(str(n)) or number_format(str(n), frame[n]) for n in frame.columns]
        for r, row in enumerate(frame.itertuples(index=False), start=top + 1):
            for c, value in enumerate(row, start=1):
                cell = sheet.cell(row=r, column=c)
                converted = _cell_value(value)
                if isinstance(converted, str):
                    _text_cell(cell, converted)
                else:
                    cell.value = converted
                    if patterns[c - 1] and converted is not None:
                        cell.number_format = patterns[c - 1]
        sheet.freeze_panes = sheet.cell(row=top + 1, column=1)
        if len(frame.columns):
            last = get_column_letter(len(frame.columns))
            sheet.auto_filter.ref = f"A{top}:{last}{top + max(len(frame), 1)}"
        _fit_widths(sheet, frame)
        placed[title] = (sheet, top)
    if not workbook.sheetnames:
        workbook.create_sheet("Empty")
    return workbook, placed


def _text_cell(cell: Any, text: str) -> Any:
    """Store ``text`` as a string even when it starts with '=': openpyxl would make a formula."""
    cell.value = text
    cell.data_type = "s"
    return cell


def _sheet_title(title: str, taken: list[str]) -> str:
    clean = "".join("_" if ch in "[]:*?/\\" else ch for ch in title).strip("'")[:31] or "Sheet"
    candidate, n = clean, 2
    while candidate in taken:
        suffix = f" ({n})"
        candidate, n = clean[: 31 - len(suffix)] + suffix, n + 1
    return candidate


def _fit_widths(sheet: Any, frame: pd.DataFrame) -> None:
    for col, name in enumerate(frame.columns, start=1):
        sample = frame[name].head(200).astype(str).str.len()
        width = max([len(str(name)), *sample.tolist()])
        sheet.column_dimensions[get_column_letter(col)].width = min(max(10, width + 2), 60)
