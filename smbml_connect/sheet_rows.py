"""Rows of cells (a CSV, a worksheet, a Sheets range) -> a frame with the row numbers people see.

Shared by every spreadsheet-shaped source, so header detection and ``_source_row`` are
the same for a workbook, a CSV folder and a Google Sheet. A source that streams (a large
CSV) finds the header with ``header_index`` and ``column_names`` once, then builds each
batch with ``body_frame``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from openpyxl.utils import get_column_letter

from smbml_connect.headers import SYNONYMS, normalise
from smbml_connect.ports import SourceReject
from smbml_connect.schema import SOURCE_ROW, TABLES
from smbml_connect.secret_columns import hidden_cells

__all__ = [
    "ABOVE_HEADER",
    "BLANK_ROWS",
    "MERGED_CELLS",
    "MergedDown",
    "beyond_header",
    "body_frame",
    "column_names",
    "columns_frame",
    "frame_from_rows",
    "header_index",
    "is_blank",
    "split_rows",
]


BLANK_ROWS = "blank_rows"  # frame.attrs key: numbers of the blank rows inside the table
# frame.attrs key: (row number, cells) of each filled row above the header, and the header's
# row number: a report's title and date, a group heading (listed as skipped).
ABOVE_HEADER = "above_header"
_BELOW_FIRST = 10  # rows under the first filled one where the header may be


def is_blank(row: Sequence[Any]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in row)


def _filled(row: Sequence[Any]) -> int:
    return sum(not (v is None or (isinstance(v, str) and not v.strip())) for v in row)


def header_index(rows: Sequence[Sequence[Any]]) -> int | None:
    """Where the header is: the first row with two or more filled cells, unless it names
    fewer than two columns we know and one of the next rows reads as a header of known
    names (``_names_columns``): then that row.

    So a title line or a note typed above the table is not mistaken for it, nor a title
    with its date ("Sales report, Printed 2026-12-01") or a merged group heading
    ("Customer", "Order details") over the real header; a table of one column has its
    header on the first filled row.
    """
    start = next((i for i, row in enumerate(rows) if _filled(row) >= 2), None)
    if start is None:
        return next((i for i, row in enumerate(rows) if not is_blank(row)), None)
    known = known_headers(rows[start])
    if known >= 2:
        # a group heading whose words happen to be column names ("Order | Customer |
        # Payment") over the real header ("Order # | Date | Customer ID | Amount"): the row
        # right below names clearly more of them
        after = start + 1
        more = after < len(rows) and known_headers(rows[after]) >= known + 2
        return after if more and _names_columns(rows[after]) else start
    below = range(start + 1, min(len(rows), start + 1 + _BELOW_FIRST))
    return next((i for i in below if _names_columns(rows[i])), start)


def _names_columns(row: Sequence[Any]) -> bool:
    """Whether ``row`` reads as a header: words only (no number, date or code of a data
    row), two or more of them, and at least half, names we know for a column."""
    filled = [v for v in row if not is_blank([v])]
    words = all(isinstance(v, str) and re.search(r"[^\W\d_]{2}", v) for v in filled)
    return words and known_headers(row) >= max(2, len(filled) / 2)


def above_header(rows: Sequence[Sequence[Any]], start: int, numbers: Sequence[int]) -> list:
    """The rows of two or more filled cells above the header at ``start`` (which
    ``header_index`` passed over), with their row numbers, for ``ABOVE_HEADER``; a title
    line of one cell is not listed."""
    return [(numbers[i], list(rows[i])) for i in range(start) if _filled(rows[i]) >= 2]


def known_headers(row: Sequence[Any]) -> int:
    """How many cells of ``row`` are a column's name or a common header for one."""
    return sum(isinstance(v, str) and normalise(v) in _headers() for v in row)


@cache
def _headers() -> frozenset[str]:
    names = {c for spec in TABLES.values() for c in spec.names}
    names |= {n for table in SYNONYMS.values() for ns in table.values() for n in ns}
    return frozenset(filter(None, map(normalise, names)))


def column_names(header_row: Sequence[Any]) -> list[str]:
    """Header cells as column names: up to the last filled one, blanks and repeats named."""
    header = [("" if h is None else str(h).strip()) for h in header_row]
    width = max((i + 1 for i, h in enumerate(header) if h), default=0)
    names: list[str] = []
    seen: dict[str, int] = {}
    for i, h in enumerate(header[:width]):
        name = h or f"column {get_column_letter(i + 1)}"
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return names


def body_frame(
    body: Sequence[Sequence[Any]], numbers: Sequence[int], names: list[str]
) -> pd.DataFrame:
    """Rows already cut to ``len(names)`` cells, with their row numbers, as a text frame."""
    frame = pd.DataFrame(list(body), columns=range(len(names)), dtype=object)
    frame.columns = pd.Index(names)
    frame[SOURCE_ROW] = pd.Series(numbers, dtype="Int64")
    return frame


def columns_frame(
    columns: Sequence[Sequence[Any]], numbers: Sequence[int], names: list[str]
) -> pd.DataFrame:
    """``body_frame`` for cells already gathered by column."""
    frame = pd.DataFrame(
        {i: np.array(c, dtype=object) for i, c in enumerate(columns)},
        index=range(len(numbers)),
        dtype=object,  # as body_frame: pandas would otherwise infer its str dtype
    )
    frame.columns = pd.Index(names)
    frame[SOURCE_ROW] = pd.Series(numbers, dtype="Int64")
    return frame


def frame_from_rows(rows: list[list[Any]], first_row_number: int, where: str) -> pd.DataFrame:
    """The rows under the header; a value right of the last named column is cut (a preview)."""
    return split_rows(rows, first_row_number, where, cut=True)[0]


def split_rows(
    rows: list[list[Any]], first_row_number: int, where: str, cut: bool = False
) -> tuple[pd.DataFrame, list[SourceReject]]:
    """The rows under the header, and the rows with a value right of the last named column
    (rejected, not cut, unless ``cut``), with the row numbers people see."""
    start = header_index(rows)
    if start is None:
        return pd.DataFrame({SOURCE_ROW: pd.Series(dtype="Int64")}), []
    names = column_names(rows[start])
    width = len(names)
    body, numbers, blanks, rejects = [], [], [], []
    for offset, row in enumerate(rows[start + 1 :], start=start + 1):
        number = offset + first_row_number
        if is_blank(row):
            blanks.append(number)
            continue
        if not cut and not is_blank(row[width:]):
            rejects.append(beyond_header(number, list(row), names))
            continue
        body.append((list(row) + [None] * width)[:width])
        numbers.append(number)
    frame = body_frame(body, numbers, names)
    frame.attrs[BLANK_ROWS] = inside(blanks, numbers + [r.row for r in rejects])
    return frame, rejects


def beyond_header(number: int, row: list[Any], names: list[str]) -> SourceReject:
    """A row with a value right of the last named column: where it would go is unknown."""
    shown = ", ".join("" if v is None else str(v) for v in hidden_cells(row, names, shifted=False))[
        :200
    ]
    return SourceReject(
        number,
        "",
        shown,
        f"a value right of the last named column ({names[-1] if names else 'none'}): give "
        "its column a header, or move the value; this row is not loaded",
        tuple(zip(names, (list(row) + [None] * len(names))[: len(names)], strict=True)),
    )


def inside(blanks: Sequence[int], numbers: Sequence[int]) -> list[int]:
    """Blank rows between the header and the last row with data (trailing ones are not rows)."""
    last = max(numbers, default=0)
    return [b for b in blanks if b < last]


MERGED_CELLS = "merged_cells"  # the notice's check: cells filled from a merged range


class MergedDown:
    """Fills each cell of a range merged over rows with the range's value, as the program
    (``shown_by``: Excel, Google Sheets) shows it on every row: a customer's ID merged down
    over their orders, an order's ID over its lines. Both keep the value in the range's
    first cell only. ``ranges`` are (first row, last row, column number) of each range's
    first column; only ranges that start below the header (row ``below``) are filled."""

    def __init__(self, ranges: list[tuple[int, int, int]], below: int, shown_by: str) -> None:
        self._waiting = sorted(r for r in ranges if r[0] > below)[::-1]  # next at the end
        self._open: list[tuple[int, int, Any, str]] = []  # (last row, column, value, range)
        self.filled = 0
        self._where: dict[str, None] = {}  # the ranges that gave a value, in order
        self._shown_by = shown_by

    def fill(self, number: int, row: list[Any]) -> list[Any]:
        """Sheet row ``number`` with its merged cells' values. A row blank but for them
        stays blank, a row skipped as blank rows are: filled, it was rejected for its
        empty required cells (an order's ID, its date) and counted among the filled."""
        while self._waiting and self._waiting[-1][0] <= number:
            first, last, column = self._waiting.pop()
            if first == number and column <= len(row) and not _empty(row[column - 1]):
                letter = get_column_letter(column)
                self._open.append(
                    (last, column, row[column - 1], f"{letter}{first}:{letter}{last}")
                )
        if not self._open or is_blank(row):
            self._open = [m for m in self._open if m[0] > number]
            return row
        for _, column, value, where in self._open:
            if len(row) < column:
                row = row + [None] * (column - len(row))
            if _empty(row[column - 1]):
                row[column - 1] = value
                self.filled += 1
                self._where[where] = None
        self._open = [m for m in self._open if m[0] > number]
        return row

    def note(self, sheet: str) -> list[tuple[int, str, str]]:
        """The one line of the run saying how many cells were filled, and where."""
        if not self.filled:
            return []
        shown = ", ".join(list(self._where)[:3]) + (
            f" and {len(self._where) - 3:,} more" if len(self._where) > 3 else ""
        )
        cells = "1 cell" if self.filled == 1 else f"{self.filled:,} cells"
        ranges = "range" if len(self._where) == 1 else "ranges"
        return [
            (
                self.filled,
                f"{cells} of tab {sheet!r} in merged {ranges} ({shown}) were read as the merged "
                f"value, as {self._shown_by} shows it on every row",
                MERGED_CELLS,
            )
        ]


def _empty(value: Any) -> bool:
    """An empty cell: None from a workbook, "" from Google Sheets (before a filled one)."""
    return value is None or value == ""
