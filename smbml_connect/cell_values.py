"""Worksheet values in and out: ranges as Excel hands them over, tables as it shows them.

Excel passes a range as a list of rows. Office.js sends empty cells as "" and dates as
serial numbers; xlwings sends None and datetime objects. Both arrive here, so every
worksheet function reads them the same way, and whole-column references (A:A) work
because blank rows at the end are dropped.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from smbml_connect.coerce import parse_number
from smbml_connect.errors import DataValidationError

__all__ = [
    "CellError",
    "ErrorCode",
    "Matrix",
    "as_column",
    "as_number",
    "as_rows",
    "as_table",
    "as_text",
    "blank",
    "column_formats",
    "filled_length",
    "filled_rows",
    "flag",
    "header_text",
    "matrix_from_frame",
    "paired_columns",
    "single",
]

Matrix = list[list[Any]]
# The Excel error values a worksheet function answers with (Office.js ErrorCode names
# and COM codes are looked up from these in the add-ins). Only these two: Office.js
# drops the message of every other (#NUM!, #DIV/0!, #NULL!; #NAME? and #REF! cannot be
# a custom function's answer at all), and the message is what tells the user what to
# change, so an input that cannot be computed on is #VALUE! too, in both add-ins.
ErrorCode = Literal["#VALUE!", "#N/A"]


class CellError(DataValidationError):
    """Bad input whose Excel error value is not the default #VALUE!: a lookup with no
    match is #N/A, as in Excel's own functions."""

    def __init__(self, message: str, code: ErrorCode) -> None:
        super().__init__(message)
        self.code: ErrorCode = code


def blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, float) and math.isnan(value)


def _rows(value: Any) -> Matrix:
    if isinstance(value, list | tuple):
        if value and set(map(type, value)) <= {list, tuple}:
            return value if isinstance(value, list) else list(value)  # rows are only read
        return [[v] for v in value]
    return [[value]]


def as_rows(value: Any) -> Matrix:
    """A range (or one value) as a list of rows."""
    return _rows(value)


def as_column(value: Any, name: str) -> list[Any]:
    """A one-column or one-row range (or a single value) as a flat list."""
    rows = _rows(value)
    if len(rows) == 1:
        return list(rows[0])
    width = max(map(len, rows), default=0)
    if width > 1:
        raise DataValidationError(
            f"{name} must be one column or one row, got {len(rows)} rows x {width} columns"
        )
    return list(itertools.chain.from_iterable(rows))


def filled_length(cells: list[Any]) -> int:
    """Length without the blank cells at the end.

    A whole-column reference (A:A) hands over a million cells, nearly all blank: the
    blank tail is skipped in blocks with list.count (C speed), and only the block where
    the data ends is looked at cell by cell."""
    end = len(cells)
    block = 4096
    while end >= block:
        chunk = cells[end - block : end]
        if chunk.count("") + chunk.count(None) != block:
            break
        end -= block
    while end and blank(cells[end - 1]):
        end -= 1
    return end


def filled_rows(rows: Matrix) -> int:
    """Number of rows without the blank rows at the end (in blocks, as `filled_length`)."""
    end = len(rows)
    width = len(rows[0]) if rows else 0
    empty: tuple[Any, ...] = ([""] * width, [None] * width, ("",) * width, (None,) * width)
    block = 4096
    while end >= block:
        chunk = rows[end - block : end]
        found = 0
        for e in empty:  # usually the first kind alone fills the block
            found += chunk.count(e)
            if found == block:
                break
        if found != block:
            break
        end -= block
    while end and all(blank(v) for v in rows[end - 1]):
        end -= 1
    return end


def paired_columns(**columns: Any) -> dict[str, list[Any]]:
    """Columns that belong together, with the blank rows at the end of all of them dropped."""
    flat = {name: as_column(value, name) for name, value in columns.items()}
    used = max((filled_length(cells) for cells in flat.values()), default=0)
    trimmed = {name: cells[:used] for name, cells in flat.items()}
    lengths = {name: len(cells) for name, cells in trimmed.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{n} {name}" for name, n in lengths.items())
        raise DataValidationError(f"the ranges differ in length ({described})")
    return trimmed


def as_table(value: Any, name: str = "table") -> pd.DataFrame:
    """A range whose first row is the header; blank headers and duplicates get names."""
    rows = _rows(value)
    rows = rows[: filled_rows(rows)]
    if len(rows) < 2:
        raise DataValidationError(f"{name} needs a header row and at least one row of data")
    header: list[str] = []
    for i, cell in enumerate(rows[0], start=1):
        text = header_text(cell) or f"column {i}"
        while text in header:
            text += " (2)"
        header.append(text)
    body = [[None if blank(v) else v for v in row] for row in rows[1:]]
    # Indexed by row of the range (header = 1), so a warning's "row 5" is the 5th row.
    return pd.DataFrame(body, columns=header, dtype=object, index=range(2, len(rows) + 1))


def header_text(cell: Any) -> str:
    """A header cell as its column's name: a year typed as a header is "2024" from either
    add-in (xlwings hands numbers over as floats, and reasons said "2024.0: 3"); "" when
    blank."""
    if blank(cell):
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def single(value: Any, name: str) -> Any:
    """The one cell of a scalar argument (a 1x1 range counts); None when blank."""
    cells = as_column(value, name)
    if len(cells) != 1:
        raise DataValidationError(f"{name} must be a single value, got {len(cells)} cells")
    return None if blank(cells[0]) else cells[0]


def as_number(value: Any, name: str, default: float | None = None) -> float | None:
    """A number argument; blank means the default."""
    cell = single(value, name)
    if cell is None:
        return default
    if isinstance(cell, bool):
        raise DataValidationError(f"{name} must be a number, got {cell}")
    try:
        # Text is read as the main job reads a number cell: "10%" is 0.1, "12,5" 12.5,
        # "1,000" 1000, "5 EUR" 5 (a comma used to be dropped: "12,5" was 125).
        number = parse_number(cell.strip()) if isinstance(cell, str) else float(cell)
    except (TypeError, ValueError):
        raise DataValidationError(f"{name} must be a number, got {cell!r}") from None
    if not math.isfinite(number):
        raise DataValidationError(f"{name} must be a number, got {cell!r}")
    return number


def flag(value: Any, name: str, default: bool) -> bool:
    """A TRUE/FALSE argument: Excel's booleans, 1/0, or the words; blank is the default."""
    cell = single(value, name)
    if cell is None:
        return default
    if isinstance(cell, bool):
        return cell
    if isinstance(cell, int | float) and cell in (0, 1):
        return bool(cell)
    if isinstance(cell, str) and cell.strip().upper() in ("TRUE", "FALSE"):
        return cell.strip().upper() == "TRUE"
    raise DataValidationError(f"{name} must be TRUE or FALSE, got {cell!r}")


def as_text(value: Any, name: str) -> str | None:
    cell = single(value, name)
    if cell is None:
        return None
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))  # Excel hands ids over as floats
    return str(cell).strip()


def _cell(value: Any) -> Any:
    if type(value) is str:  # most cells of a table (tiers, reasons): nothing to convert
        return value
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        naive = (
            value.replace(tzinfo=None)
            if value.tzinfo is None
            else value.astimezone(dt.UTC).replace(tzinfo=None)
        )
        return naive.date() if naive.time() == dt.time() else naive
    if isinstance(value, dt.date):
        return value
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return None if not math.isfinite(number) else number
    return value


DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"


def column_formats(frame: pd.DataFrame) -> tuple[str | None, ...]:
    """The Excel number format of each column: dates as dates, and what the
    implementation declared in `frame.attrs["formats"]` (probabilities as "0%")."""
    declared: dict[str, str] = frame.attrs.get("formats", {})
    formats: list[str | None] = []
    for column in frame.columns:
        values = frame[column]
        if column in declared:
            formats.append(declared[column])
        elif pd.api.types.is_datetime64_any_dtype(values) or (
            len(values) and all(isinstance(v, dt.date) for v in values.dropna())
            and values.notna().any()
        ):  # fmt: skip
            stamps = pd.to_datetime(values.dropna())
            whole_days = bool((stamps == stamps.dt.normalize()).all())
            formats.append(DATE_FORMAT if whole_days else DATETIME_FORMAT)
        else:
            formats.append(None)
    return tuple(formats)


def matrix_from_frame(frame: pd.DataFrame, header: Sequence[str] | None = None) -> Matrix:
    """Header row plus rows of plain Python values; a missing number becomes None."""
    rows = [[_cell(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    return [list(header or (str(c) for c in frame.columns)), *rows]
