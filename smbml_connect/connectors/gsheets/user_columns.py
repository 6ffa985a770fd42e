"""Columns a user types into a result tab stay beside the rows they were typed on.

A result tab is rewritten on every refresh and its rows move (scores change, contacts come
and go). Before, a column typed beside ours ("Called?", notes, a formula) was wiped by
the next refresh. Now the tabs with a key (a Contact ID or Product ID per row: Scores,
Segments, Prices) are read before they are rewritten, in one values:batchGet with formulas
as formulas, and the user's columns go back to the right of ours, each row's cells beside
the row with the same key. A formula moves with its row as a copy would move it (=C5>70
on row 5 becomes =C9>70 on row 9). A row whose key left the results keeps the user's
cells at the bottom of the tab, so nothing typed is lost; if the key comes back, they
join it again. Which columns are ours is what the last refresh wrote (its header labels,
kept in the tab's developer metadata); anything else with a header or a value is the
user's. Only the values go back: a column's formats and checkboxes are the user's own
cells, which the refresh does not touch.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "COLUMNS_KEY",
    "GRID_FIELDS",
    "Kept",
    "UserColumns",
    "columns_mark",
    "find_user_columns",
    "grid_rows",
    "ours_before",
    "place",
    "shift_formula",
]

COLUMNS_KEY = "smbml_connect.columns"  # the header labels of our columns at the last write
_HEADER_ROW = 1  # zero-based: row 1 holds "last refreshed", row 2 the header
# A cell reference outside quotes: not part of a name (LOG10( is a function), not a column
# range (C:C), optionally anchored with $ (an anchored row never moves).
_REF = re.compile(r"(?<![A-Za-z0-9_.$])(\$?[A-Za-z]{1,3})(\$?)([0-9]+)(?![0-9A-Za-z_(])")


@dataclass
class UserColumns:
    """A result tab's columns that are not ours, as the refresh before this one left them."""

    headers: list[str]
    by_key: dict[str, tuple[int, list[dict[str, Any]]]] = field(
        default_factory=dict
    )  # key: (row, cells)
    unmatched: list[tuple[str, int, list[dict[str, Any]]]] = field(
        default_factory=list
    )  # no usable key
    problem: str = ""  # why rows could not be matched by key (they keep their place)


@dataclass
class Kept:
    """The user's cells placed for this refresh: one row per result row, then the rows
    whose key left the results (key, cells), each cell as Sheets' userEnteredValue."""

    headers: list[str]
    rows: list[list[dict[str, Any]]]
    leftover: list[tuple[str, list[dict[str, Any]]]]


GRID_FIELDS = (
    "sheets(properties(sheetId,title),data(startRow,startColumn,rowData(values(userEnteredValue))))"
)


def ours_before(sheet: Mapping[str, Any]) -> list[str] | None:
    """Our header labels at the tab's last refresh, if that refresh recorded them."""
    for meta in sheet.get("developerMetadata", []) or []:
        if meta.get("metadataKey") == COLUMNS_KEY:
            try:
                labels = json.loads(str(meta.get("metadataValue")))
            except ValueError:
                return None
            return [str(x) for x in labels] if isinstance(labels, list) else None
    return None


def grid_rows(sheet: Mapping[str, Any]) -> list[list[dict[str, Any]]]:
    """A tab's cells as spreadsheets.get gives them with grid data, each its
    ``userEnteredValue`` ({} when empty): typed, so a formula is told from text that
    starts with "=" (values.get renders both alike)."""
    data = (sheet.get("data") or [{}])[0]
    rows: list[list[dict[str, Any]]] = [[] for _ in range(int(data.get("startRow", 0)))]
    lead: list[dict[str, Any]] = [{} for _ in range(int(data.get("startColumn", 0)))]
    for row in data.get("rowData", []) or []:
        rows.append(lead + [dict(c.get("userEnteredValue") or {}) for c in row.get("values", [])])
    return rows


def find_user_columns(
    grid: Sequence[Sequence[Mapping[str, Any]]], ours: Sequence[str], key_label: str
) -> UserColumns | None:
    """The user's columns in ``grid`` (`grid_rows`: row 0 the note, row 1 the header);
    None when there are none. ``ours`` are our header labels at the last refresh."""
    header = [_plain(c) for c in grid[_HEADER_ROW]] if len(grid) > _HEADER_ROW else []
    width = max((len(r) for r in grid), default=0)
    header += [""] * (width - len(header))
    taken: set[str] = set()
    mine: list[int] = []
    where: int | None = None
    for i, label in enumerate(header):
        if label in ours and label not in taken:
            taken.add(label)
            where = i if label == key_label else where
            continue
        if label.strip() or any(_cell_at(row, i) for row in grid[2:]):
            mine.append(i)
    if not mine:
        return None
    found = UserColumns([header[i] for i in mine])
    if where is None:
        found.problem = f"the {key_label} column was not found"
    for r, row in enumerate(grid[2:], start=2):
        cells = [_cell_at(row, i) for i in mine]
        if not any(cells):
            continue
        key = _plain(_cell_at(row, where)).strip() if where is not None else ""
        if key and key not in found.by_key:
            found.by_key[key] = (r, cells)
        else:
            found.unmatched.append((key, r, cells))
    return found


def place(found: UserColumns, keys: Sequence[str], first_row: int) -> Kept:
    """The user's cells beside this refresh's rows (``keys`` in order, the first on sheet
    row index ``first_row``), then the ones whose key is gone, in their old order."""
    rows: list[list[dict[str, Any]]] = []
    used: set[str] = set()
    for i, key in enumerate(keys):
        hit = found.by_key.get(key) if not found.problem else None
        if hit is None:
            rows.append([{} for _ in found.headers])
            continue
        used.add(key)
        old, cells = hit
        rows.append([_value(c, first_row + i - old) for c in cells])
    leftovers = [(k, r, c) for k, (r, c) in found.by_key.items() if k not in used]
    leftovers += found.unmatched
    leftovers.sort(key=lambda item: item[1])
    start = first_row + len(keys)
    kept = [
        (key, [_value(c, start + j - old) for c in cells])
        for j, (key, old, cells) in enumerate(leftovers)
    ]
    return Kept(found.headers, rows, kept)


def shift_formula(text: str, rows: int) -> str:
    """A formula as it reads ``rows`` rows lower (higher if negative), as copying the cell
    there would make it: relative row numbers move, $-anchored ones and quoted text do not."""
    if not rows:
        return text
    parts = re.split(r'("(?:[^"]|"")*")', text)  # quoted text is not a reference

    def moved(match: re.Match[str]) -> str:
        column, anchor, number = match.groups()
        if anchor:
            return match.group(0)
        row = int(number) + rows
        return f"{column}{row}" if row >= 1 else "#REF!"

    return "".join(p if p.startswith('"') else _REF.sub(moved, p) for p in parts)


def columns_mark(labels: Sequence[str]) -> str:
    return json.dumps(list(labels), ensure_ascii=False)


def _value(cell: Mapping[str, Any] | None, rows: int) -> dict[str, Any]:
    """A cell as read (its userEnteredValue) back as a cell, a formula moved ``rows`` down."""
    if not cell:
        return {}
    if "formulaValue" in cell:
        return {
            "userEnteredValue": {"formulaValue": shift_formula(str(cell["formulaValue"]), rows)}
        }
    return {"userEnteredValue": dict(cell)}


def _cell_at(row: Sequence[Mapping[str, Any]], i: int | None) -> dict[str, Any]:
    return dict(row[i]) if i is not None and i < len(row) and row[i] else {}


def _plain(cell: Mapping[str, Any] | None) -> str:
    """A header or key cell as text: a number 1002.0 as "1002", as our keys are written."""
    if not cell:
        return ""
    value = next(iter(cell.values()))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
