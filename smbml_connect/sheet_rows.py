"""Rows of cells (a CSV, a worksheet, a Sheets range) -> a frame with the row numbers people see.

Shared by every spreadsheet-shaped source, so header detection and ``_source_row`` are
the same for a workbook, a CSV folder and a Google Sheet.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from openpyxl.utils import get_column_letter

from smbml_connect.schema import SOURCE_ROW

__all__ = ["BLANK_ROWS", "frame_from_rows"]

BLANK_ROWS = "blank_rows"  # frame.attrs key: numbers of the blank rows inside the table


def frame_from_rows(rows: list[list[Any]], first_row_number: int, where: str) -> pd.DataFrame:
    def blank(row: list[Any]) -> bool:
        return all(v is None or (isinstance(v, str) and not v.strip()) for v in row)

    def filled(row: list[Any]) -> int:
        return sum(not blank([v]) for v in row)

    # The header is the first row with two or more filled cells, so a title line or a
    # note typed above the table is not mistaken for it.
    start = next((i for i, row in enumerate(rows) if filled(row) >= 2), None)
    if start is None:
        start = next((i for i, row in enumerate(rows) if not blank(row)), None)
    if start is None:
        return pd.DataFrame({SOURCE_ROW: pd.Series(dtype="Int64")})
    header = [("" if h is None else str(h).strip()) for h in rows[start]]
    width = max((i + 1 for i, h in enumerate(header) if h), default=0)
    header = header[:width]
    names: list[str] = []
    seen: dict[str, int] = {}
    for i, h in enumerate(header):
        name = h or f"column {get_column_letter(i + 1)}"
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    body, numbers, blanks = [], [], []
    for offset, row in enumerate(rows[start + 1 :], start=start + 1):
        if blank(row):
            blanks.append(offset + first_row_number)
            continue
        padded = (list(row) + [None] * width)[:width]
        body.append(padded)
        numbers.append(offset + first_row_number)
    frame = pd.DataFrame(body, columns=names, dtype=object)
    frame[SOURCE_ROW] = pd.Series(numbers, dtype="Int64")
    # Blank rows inside the table (not the empty tail) are listed by whoever reports rows.
    frame.attrs[BLANK_ROWS] = [n for n in blanks if numbers and n < numbers[-1]]
    return frame
