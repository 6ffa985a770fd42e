"""Columns a user types into a result tab stay beside the rows they were typed on.

A result tab is rewritten on every refresh and its rows move (scores change, contacts come
and go). Before, a column typed beside ours ("Called?", notes, a formula) was wiped by
the next refresh. Now the tabs with a key (a Contact ID or Product ID per row: Scores,
Segments, Prices) that a user widened are read before they are rewritten (one
spreadsheets.get with each cell's typed userEnteredValue), and the user's columns go back
to the right of ours, each row's cells beside the row with the same key.

- A formula is moved as Sheets moves one when its row is sorted elsewhere and columns are
  moved: references to its own row in this tab follow the row, references to columns
  follow the columns (ours by header, the user's to their new place), and references to
  other rows or other tabs (a lookup table, a total) stay as they were.
- A column whose cells share one formula (filled down) is given it on new rows too.
- A row whose key left the results (or a run that had no rows) keeps the user's cells at
  the bottom of the tab with its key, unless all it held was an unticked box or the
  column's own formula; if the key comes back, they join it again.
- Which columns are ours is what the last refresh wrote (its header labels, kept in the
  tab's developer metadata); a header of ours the user renamed is still ours when it sits
  alone between two of ours. Anything else with a header or a value is the user's.
- Only values go back: a column's formats and checkboxes belong to its cells, which the
  refresh does not touch.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from openpyxl.utils import column_index_from_string, get_column_letter

from smbml_connect.column_labels import column_label

__all__ = [
    "COLUMNS_KEY",
    "GRID_FIELDS",
    "Kept",
    "UserColumns",
    "columns_mark",
    "find_user_columns",
    "grid_rows",
    "header_row",
    "last_write",
    "move_below",
    "move_formula",
    "place",
    "place_below",
    "with_old_columns",
    "write_mark",
]

COLUMNS_KEY = "smbml_connect.columns"  # the header labels of our columns at the last write
GRID_FIELDS = (
    "sheets(properties(sheetId,title),data(startRow,startColumn,rowData(values(userEnteredValue))))"
)
_HEADER_ROW = 1  # zero-based: row 1 holds "last refreshed", row 2 the header
_FIRST = _HEADER_ROW + 1  # the first row of data
_SEARCH_ROWS = 50  # rows a user's title, notes or deleted row may have moved the header to
# A cell or a range of cells: not part of a name (LOG10( is a function, Q1 2024 a word),
# each end optionally anchored with $; ``sheet`` is set when a tab name and "!" come just
# before it (both ends are then that tab's).
_END = r"\$?[A-Za-z]{1,3}\$?[0-9]+"
_REF = re.compile(
    rf"(?P<sheet>!)?(?<![A-Za-z0-9_.:])(?P<a>{_END})(?::(?P<b>{_END}))?(?![0-9A-Za-z_(])"
)
_PARTS = re.compile(r"(\$?)([A-Za-z]{1,3})(\$?)([0-9]+)")
_QUOTED = re.compile(r"(\"(?:[^\"]|\"\")*\"|'(?:[^']|'')*')")  # text, or a quoted tab name
Cell = dict[str, Any]  # a cell's userEnteredValue: {"stringValue": ...} and so on; {} empty


@dataclass
class UserColumns:
    """A result tab's columns that are not ours, as the refresh before this one left them."""

    headers: list[Cell]  # as typed (a header may be a formula)
    old_columns: dict[int, int]  # the tab's column -> its column after this refresh
    by_key: dict[str, tuple[int, list[Cell]]] = field(default_factory=dict)  # key: (row, cells)
    unmatched: list[tuple[str, int, list[Cell]]] = field(default_factory=list)  # no usable key
    # per column: the formula its rows share (template, and a row and cell of it), or None
    filled: list[tuple[str, int, Cell] | None] = field(default_factory=list)
    problem: str = ""  # why rows could not be matched by key (they go to the bottom)
    header_row: int = _HEADER_ROW  # where our header was found (a title row inserted above)
    lost: bool = False  # our header is nowhere: the tab is left as it is
    end: int = 0  # the grid row after the last one of ours: below it, the user's own rows
    below: list[tuple[int, list[Cell]]] = field(default_factory=list)  # (row, its cells)

    @property
    def names(self) -> str:
        return ", ".join(_plain(h) or "(no header)" for h in self.headers)


@dataclass
class Kept:
    """The user's cells placed for this refresh: one row per result row, then the rows
    whose key left the results (key, cells), each cell as Sheets' CellData."""

    headers: list[dict[str, Any]]
    rows: list[list[dict[str, Any]]]
    leftover: list[tuple[str, list[dict[str, Any]]]]
    below: list[tuple[int, list[dict[str, Any]]]] = field(default_factory=list)  # (row, cells)


def write_mark(sheet: Mapping[str, Any]) -> dict[str, Any] | None:
    """What the tab's last refresh recorded of itself (`columns_mark`), if it did."""
    for meta in sheet.get("developerMetadata", []) or []:
        if meta.get("metadataKey") == COLUMNS_KEY:
            try:
                mark = json.loads(str(meta.get("metadataValue")))
            except ValueError:
                return None
            if not isinstance(mark, dict) or not isinstance(mark.get("columns"), list):
                return None
            return mark
    return None


def last_write(sheet: Mapping[str, Any]) -> tuple[list[str], str] | None:
    """Our header labels at the tab's last refresh and whose records its rows were (the
    account, "" when the source has none), if that refresh recorded them."""
    mark = write_mark(sheet)
    if mark is None:
        return None
    return [str(x) for x in mark["columns"]], str(mark.get("records", ""))


def columns_mark(labels: Sequence[str], records: str, **more: Any) -> str:
    """Our labels and whose records the rows are, with what else the refresh leaves to
    know the tab by next time (the sheet it was written on, the header row, ...)."""
    mark = {"columns": list(labels), "records": records, **more}
    return json.dumps(mark, ensure_ascii=False)


def with_old_columns(frame: pd.DataFrame, ours: Sequence[str]) -> pd.DataFrame:
    """The frame with our columns in the order ``ours`` gave them (a new one after them)
    and one this run lacks (a failed step's) kept empty in its old place: formulas and
    lookups name columns by letter, and one moved or gone would make each later letter
    name its neighbour for good."""
    by_label = {column_label(c): c for c in frame.columns}
    missing = [label for label in ours if label not in by_label]
    frame = frame.assign(
        **{label: pd.Series(None, index=frame.index, dtype="object") for label in missing}
    )
    order = [by_label.get(label, label) for label in ours]
    return frame[order + [c for c in frame.columns if c not in order]]


def grid_rows(sheet: Mapping[str, Any]) -> list[list[Cell]]:
    """A tab's cells as spreadsheets.get gives them with grid data, each its
    ``userEnteredValue`` ({} when empty): typed, so a formula is told from text that
    starts with "=" (values.get renders both alike). Google leaves out a start of 0."""
    data = (sheet.get("data") or [{}])[0]
    rows: list[list[Cell]] = [[] for _ in range(int(data.get("startRow", 0)))]
    lead: list[Cell] = [{} for _ in range(int(data.get("startColumn", 0)))]
    for row in data.get("rowData", []) or []:
        rows.append(lead + [dict(c.get("userEnteredValue") or {}) for c in row.get("values", [])])
    return rows


def find_user_columns(
    grid: Sequence[Sequence[Cell]],
    ours: Sequence[str],
    now: Sequence[str],
    key_label: str,
    data: int | None = None,
) -> UserColumns | None:
    """The user's columns in ``grid`` (`grid_rows`), and the rows they typed below ours
    (a total, a note), None when there are neither. ``ours``: our header labels at the
    last refresh; ``now``: this refresh's; ``data``: how many rows that refresh wrote
    under the header (None: not known, every row is taken as one of ours)."""
    if not ours:  # the last refresh had nothing to show and wrote no header (a Forecast
        # with no forecast): nothing of ours to find, every cell under row 1 is the user's
        below = [(r, list(grid[r])) for r in range(_HEADER_ROW, len(grid)) if any(grid[r])]
        return UserColumns([], {}, end=_HEADER_ROW, below=below) if below else None
    at = header_row(grid, ours)
    if at is None:  # our columns cannot be told from the user's: touch nothing
        return UserColumns([], {}, lost=True)
    start = at + 1
    end = len(grid) if data is None else min(start + data, len(grid))
    header = list(grid[at])
    width = max((len(r) for r in grid), default=0)
    header += [{}] * (width - len(header))
    labels = [_plain(c) for c in header]
    place_of: dict[str, int] = {}  # our label at the last refresh -> its column now
    for i, label in enumerate(labels):
        if label in ours and label not in place_of:
            place_of[label] = i
    _renamed(ours, labels, place_of)
    taken = set(place_of.values())
    mine = [
        i
        for i in range(width)
        if i not in taken
        and (labels[i].strip() or any(_cell_at(row, i) for row in grid[start:end]))
    ]
    below = [(r, list(grid[r])) for r in range(end, len(grid)) if any(grid[r])]
    if not mine and not below:
        return None
    moves = {i: now.index(label) for label, i in place_of.items() if label in now}
    moves.update({i: len(now) + j for j, i in enumerate(mine)})
    found = UserColumns([header[i] for i in mine], moves, header_row=at, end=end, below=below)
    where = place_of.get(key_label)
    if where is None and mine:
        found.problem = f"the {key_label} column was not found"
    rows = [(r, [_cell_at(row, i) for i in mine]) for r, row in enumerate(grid[start:end], start)]
    found.filled = [_filled([(r, cells[j]) for r, cells in rows]) for j in range(len(mine))]
    for r, cells in rows:
        if not any(_typed(c, j, r, found.filled) for j, c in enumerate(cells)):
            continue  # nothing the user typed: empty, unticked, or the column's formula
        key = _plain(_cell_at(grid[r], where)).strip() if where is not None else ""
        first = found.by_key.get(key)
        if key and first is None:
            found.by_key[key] = (r, cells)
        elif first is not None and [_template(c, first[0]) for c in first[1]] == [
            _template(c, r) for c in cells
        ]:
            continue  # a key shown twice (a lead also a customer) gave both rows the cells
        else:
            found.unmatched.append((key, r, cells))
    return found


def header_row(grid: Sequence[Sequence[Cell]], ours: Sequence[str]) -> int | None:
    """The row holding our header: the one with most of our labels (at least half), the
    first of equals; not a fixed row 2, since a title row inserted above moves it down
    and a deleted row 1 up. None when no row has them (the header was deleted)."""
    need = max(1, (len(ours) + 1) // 2)
    best: tuple[int, int] | None = None
    for r, row in enumerate(grid[:_SEARCH_ROWS]):
        labels = {_plain(c) for c in row}
        hits = sum(1 for label in set(ours) if label in labels)
        if hits >= need and (best is None or hits > best[1]):
            best = (r, hits)
    return None if best is None else best[0]


def place(found: UserColumns, keys: Sequence[str], first_row: int = _FIRST) -> Kept:
    """The user's cells beside this refresh's rows (``keys`` in order, the first on sheet
    row index ``first_row``), then the ones whose key is gone, in their old order."""
    rows: list[list[dict[str, Any]]] = []
    used: set[str] = set()
    for i, key in enumerate(keys):
        at = first_row + i
        hit = found.by_key.get(key) if not found.problem and key not in used else None
        if hit is None:
            rows.append([_fill(t, at, found.old_columns) for t in found.filled])
            continue
        used.add(key)
        old, cells = hit
        rows.append([_moved(c, old, at, found.old_columns) for c in cells])
    leftovers = [(k, r, c) for k, (r, c) in found.by_key.items() if k not in used]
    leftovers += found.unmatched
    leftovers.sort(key=lambda item: item[1])
    start = first_row + len(keys)
    kept = [
        (key, [_moved(c, old, start + j, found.old_columns) for c in cells])
        for j, (key, old, cells) in enumerate(leftovers)
    ]
    old = found.header_row
    headers = [_moved(h, old, _HEADER_ROW, found.old_columns) for h in found.headers]
    return Kept(headers, rows, kept)


def place_below(found: UserColumns, new_end: int) -> list[tuple[int, list[dict[str, Any]]]]:
    """The rows the user typed below ours, as far below this refresh's last row as they
    were below the last one's: cells in the columns they moved to, formulas rewritten as
    Sheets rewrites them when rows are inserted or deleted above (a ``SUM(F3:F46)`` over
    the whole table ends on the new last row)."""
    placed: list[tuple[int, list[dict[str, Any]]]] = []
    for row, cells in found.below:
        at = new_end + row - found.end
        out: list[dict[str, Any]] = []
        for column, cell in enumerate(cells):
            if not cell:
                continue
            new = found.old_columns.get(column, column)
            out += [{}] * (new + 1 - len(out))
            if "formulaValue" in cell:
                text = move_below(str(cell["formulaValue"]), found.end, new_end, found.old_columns)
                out[new] = {"userEnteredValue": {"formulaValue": text}}
            else:
                out[new] = {"userEnteredValue": dict(cell)}
        placed.append((at, out))
    return placed


def move_below(text: str, old_end: int, new_end: int, columns: Mapping[int, int]) -> str:
    """A formula typed below our rows (which ended before grid row ``old_end``, zero-based)
    once they end before ``new_end``: rows below ours move with them, a range that ends on
    our last row ends on the new last row, columns move by ``columns``; other tabs and
    quoted text stay."""

    def end(ref: str, last: bool) -> str:
        cabs, letters, rabs, row = _PARTS.fullmatch(ref).groups()  # type: ignore[union-attr]
        column = column_index_from_string(letters.upper()) - 1
        number = int(row)
        if number > old_end or (last and number == old_end):
            number += new_end - old_end
        letter = get_column_letter(columns.get(column, column) + 1)
        return f"{cabs}{letter}{rabs}{max(number, 1)}"

    def moved(match: re.Match[str]) -> str:
        if match["sheet"]:  # another tab's cells
            return match.group(0)
        if not match["b"]:
            return end(match["a"], last=False)
        return end(match["a"], last=False) + ":" + end(match["b"], last=True)

    parts = _QUOTED.split(text)
    return "".join(p if p[:1] in ('"', "'") else _REF.sub(moved, p) for p in parts)


def move_formula(text: str, old_row: int, new_row: int, columns: Mapping[int, int]) -> str:
    """A formula of the cell on sheet row ``old_row`` (zero-based) as it reads on
    ``new_row``: references to its own row in this tab move with it ($-anchored rows do
    not), columns move by ``columns`` (old index -> new), and references to other rows,
    other tabs and text in quotes stay."""
    return _rewrite(text, old_row, str(new_row + 1), columns)


def _rewrite(text: str, old_row: int, own_row: str, columns: Mapping[int, int]) -> str:
    own = str(old_row + 1)  # as A1 numbers it

    def end(ref: str) -> str:
        cabs, letters, rabs, row = _PARTS.fullmatch(ref).groups()  # type: ignore[union-attr]
        column = column_index_from_string(letters.upper()) - 1
        row = own_row if not rabs and row == own else row
        return f"{cabs}{get_column_letter(columns.get(column, column) + 1)}{rabs}{row}"

    def moved(match: re.Match[str]) -> str:
        if match["sheet"]:  # another tab's cells
            return match.group(0)
        return end(match["a"]) + (":" + end(match["b"]) if match["b"] else "")

    parts = _QUOTED.split(text)
    return "".join(p if p[:1] in ('"', "'") else _REF.sub(moved, p) for p in parts)


def _renamed(ours: Sequence[str], labels: Sequence[str], place_of: dict[str, int]) -> None:
    """A label of ours the user retyped: ours still when exactly one unclaimed column sits
    between the columns of its two neighbours (else it stays the user's, and they see it)."""
    taken = set(place_of.values())
    for k, label in enumerate(ours):
        if label in place_of:
            continue
        before = next((place_of[o] for o in reversed(ours[:k]) if o in place_of), -1)
        after = next((place_of[o] for o in ours[k + 1 :] if o in place_of), len(labels))
        free = [i for i in range(before + 1, after) if i not in taken]
        if len(free) == 1:
            place_of[label] = free[0]
            taken.add(free[0])


def _filled(cells: Sequence[tuple[int, Cell]]) -> tuple[str, int, Cell] | None:
    """The formula a column's rows share (filled down): its template, and one cell of it
    with its row (to write it on new rows); None when no formula is shared so."""
    formulas = Counter(_template(c, r) for r, c in cells if "formulaValue" in c)
    if not formulas:
        return None
    template, count = formulas.most_common(1)[0]
    if count < 2 or count * 2 < len(cells):
        return None
    row, cell = next(
        (r, c) for r, c in cells if "formulaValue" in c and _template(c, r) == template
    )
    return template, row, cell


def _template(cell: Cell, row: int) -> str:
    """A cell's formula with references to its own row written as "{row}" (to compare a
    column's rows), or its value as text."""
    if "formulaValue" not in cell:
        return json.dumps(cell, sort_keys=True)
    return _rewrite(str(cell["formulaValue"]), row, "{row}", {})


def _typed(cell: Cell, column: int, row: int, filled: Sequence[Any]) -> bool:
    """Whether the user put something in this cell: not empty, not an unticked box, not
    the column's own formula."""
    if not cell or cell.get("boolValue") is False or cell.get("stringValue") == "":
        return False
    shared = filled[column]
    return not (shared is not None and _template(cell, row) == shared[0])


def _fill(
    shared: tuple[str, int, Cell] | None, row: int, columns: Mapping[int, int]
) -> dict[str, Any]:
    """The column's shared formula on a row that had none (a new contact)."""
    if shared is None:
        return {}
    _, old, cell = shared
    return _moved(cell, old, row, columns)


def _moved(cell: Cell, old: int, new: int, columns: Mapping[int, int]) -> dict[str, Any]:
    """A cell read on row ``old`` as it should be written on row ``new``."""
    if not cell:
        return {}
    if "formulaValue" in cell:
        text = move_formula(str(cell["formulaValue"]), old, new, columns)
        return {"userEnteredValue": {"formulaValue": text}}
    return {"userEnteredValue": dict(cell)}


def _cell_at(row: Sequence[Cell], i: int | None) -> Cell:
    return dict(row[i]) if i is not None and i < len(row) and row[i] else {}


def _plain(cell: Mapping[str, Any] | None) -> str:
    """A header or key cell as text: a number 1002.0 as "1002", as our keys are written."""
    if not cell:
        return ""
    value = next(iter(cell.values()))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
