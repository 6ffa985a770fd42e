"""A user's own columns beside a result tab, kept with the rows they were written beside.

A sales rep adds "Called?" next to Scores, or "=IF(E3>70,"call","")"; the next sync
rewrites the tab and re-sorts it. Until stop 45 the sync sized the grid to its own
columns, so those columns were deleted, and in the weeks before that a note could end
up beside another contact. Now each row's cells in the user's columns go where the row's
key (its contact, product or month) goes, as a sort in Sheets would move them: relative
row references in a formula follow the row. A row whose key leaves the results keeps its
cells at the bottom of the tab with its key, so nothing typed is lost; and a column
whose every formula is the same formula row for row (a formula filled down) is filled
down to the new rows too.

Which columns are ours is what the last sync wrote (a developer-metadata mark holding
their headers), so a column the user added is never mistaken for ours whatever its name.
Reading costs two values:batchGet requests a sync, and only when some result tab has
more columns than we wrote.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "COLUMNS_KEY",
    "Row",
    "UserColumns",
    "has_room_for_theirs",
    "key_text",
    "moved_formula",
    "our_headers",
    "typed",
    "user_columns",
]

COLUMNS_KEY = "smbml_connect.columns"  # the headers of the columns the last sync wrote (JSON)
_HEADER_ROW = 1  # zero-based: row 1 holds "last refreshed", row 2 the header
_STRING = re.compile(r'"(?:[^"]|"")*"')
# An A1 reference's column and row, each maybe $-anchored, not part of a name or a call.
_REFERENCE = re.compile(r"(?<![A-Za-z0-9_.$])(\$?[A-Z]{1,3})(\$?)(\d+)(?![A-Za-z0-9_(])")

Key = tuple[str, ...]
Cell = dict[str, Any]  # a userEnteredValue, or {} for an empty cell


@dataclass(frozen=True)
class Row:
    """A row of the user's cells as read: its sheet row (0-based), key values and cells."""

    row: int
    key: tuple[Any, ...]
    cells: list[Cell]


@dataclass
class UserColumns:
    """The user's columns of one tab: their headers and, per row key, their cells."""

    headers: list[Cell]
    by_key: dict[Key, Row] = field(default_factory=dict)
    keyed: bool = True  # False: the key columns were not found, rows keep their places
    extra: list[Row] = field(default_factory=list)  # unkeyed rows, or a key's second row
    fill_down: dict[int, str] = field(default_factory=dict)  # column -> its first row's formula

    def row_for(self, key: Key, row: int) -> list[Cell] | None:
        """The user's cells for the row with `key` now written at sheet row `row` (0-based)."""
        found = self.by_key.pop(key, None)
        if found is None:
            return None
        return [_moved(cell, row - found.row) for cell in found.cells]

    def left(self) -> list[Row]:
        """The rows not placed beside a result row: their key left the results (or came
        twice), in the order they stood; by position when the tab has no key."""
        return sorted([*self.by_key.values(), *self.extra], key=lambda r: r.row)

    def filled(self, row: int, cells: list[Cell] | None) -> list[Cell]:
        """A row's cells with the filled-down formulas in its empty cells."""
        out = list(cells) if cells is not None else [{} for _ in self.headers]
        for column, formula in self.fill_down.items():
            if not out[column]:
                out[column] = {"formulaValue": moved_formula(formula, row - (_HEADER_ROW + 1))}
        return out


def our_headers(sheet: Mapping[str, Any]) -> list[str] | None:
    """The headers the last sync wrote on this tab (its mark), or None before this mark."""
    for meta in sheet.get("developerMetadata", []) or []:
        if meta.get("metadataKey") == COLUMNS_KEY:
            try:
                value = json.loads(str(meta.get("metadataValue")))
            except ValueError:
                return None
            return [str(v) for v in value] if isinstance(value, list) else None
    return None


def has_room_for_theirs(sheet: Mapping[str, Any], ours: Sequence[str]) -> bool:
    """Whether the tab has more columns than we wrote: only then can the user have added one."""
    written = our_headers(sheet)
    count = len(written) if written is not None else len(ours)
    columns = int(sheet["properties"].get("gridProperties", {}).get("columnCount", 0))
    return columns > count


def user_columns(
    formulas: list[list[Any]],
    values: list[list[Any]],
    ours: Sequence[str],
    key: Sequence[str],
) -> UserColumns | None:
    """The user's columns in a tab read twice (FORMULA and UNFORMATTED_VALUE renders),
    where `ours` are the headers we wrote and `key` the headers of the key columns.

    A cell is a formula where the two renders differ and the formula render starts with
    "=": a text that starts with "=" reads the same both ways and stays text."""
    if len(values) <= _HEADER_ROW:
        return None
    header = values[_HEADER_ROW]
    width = max((len(r) for r in values), default=0)
    mine = set(ours)
    theirs = [
        j
        for j in range(width)
        if _text(_at(header, j)) not in mine
        and any(_present(_at(row, j)) for row in values[_HEADER_ROW:])
    ]
    if not theirs:
        return None

    def cell(r: int, j: int) -> Cell:
        shown = _at(values[r] if r < len(values) else [], j)
        written = _at(formulas[r] if r < len(formulas) else [], j)
        if isinstance(written, str) and written.startswith("=") and written != shown:
            return {"formulaValue": written}
        return typed(shown)

    out = UserColumns([cell(_HEADER_ROW, j) for j in theirs])
    where = [_index(header, label) for label in key]
    out.keyed = bool(key) and all(i is not None for i in where)
    for r in range(_HEADER_ROW + 1, len(values)):
        cells = [cell(r, j) for j in theirs]
        if not any(cells):
            continue
        raw = tuple(_at(values[r], i) for i in where if i is not None)
        found = Row(r, raw, cells)
        row_key = tuple(_key_text(v) for v in raw)
        if not out.keyed or row_key in out.by_key:  # a key's second row goes below
            out.extra.append(found)
        else:
            out.by_key[row_key] = found
    out.fill_down = _filled_down(out, theirs)
    return out


def key_text(cell: Mapping[str, Any]) -> str:
    """A written cell's key text, the same as `_key_text` of the value read back."""
    if "numberValue" in cell:
        return _key_text(cell["numberValue"])
    return _key_text(cell.get("stringValue", cell.get("boolValue", "")))


def moved_formula(formula: str, rows: int) -> str:
    """The formula moved `rows` rows down (up if negative), its relative row references
    moved with it, as Sheets moves them when a sort or a copy moves the cell; a reference
    moved above row 1 becomes #REF!, as Sheets shows it. Text in quotes is left alone."""
    if rows == 0:
        return formula

    def shift(match: re.Match[str]) -> str:
        column, anchor, row = match.group(1), match.group(2), int(match.group(3))
        if anchor:
            return match.group(0)
        return f"{column}{row + rows}" if row + rows >= 1 else "#REF!"

    parts, last = [], 0
    for quoted in _STRING.finditer(formula):
        parts.append(_REFERENCE.sub(shift, formula[last : quoted.start()]))
        parts.append(quoted.group(0))
        last = quoted.end()
    parts.append(_REFERENCE.sub(shift, formula[last:]))
    return "".join(parts)


def _filled_down(out: UserColumns, theirs: list[int]) -> dict[int, str]:
    """User columns that are one formula filled down: every data row's cell a formula that,
    moved to the first data row, is the same, and no plain values among them."""
    if not out.keyed:
        return {}
    rows = [*out.by_key.values(), *out.extra]
    filled: dict[int, str] = {}
    for column in range(len(theirs)):
        moved = set()
        plain = False
        for found in rows:
            formula = found.cells[column].get("formulaValue")
            if formula is None:
                plain = plain or bool(found.cells[column])
                continue
            moved.add(moved_formula(formula, (_HEADER_ROW + 1) - found.row))
        if len(moved) == 1 and not plain and "#REF!" not in next(iter(moved)):
            filled[column] = moved.pop()
    return filled


def _moved(cell: Cell, rows: int) -> Cell:
    formula = cell.get("formulaValue")
    return {"formulaValue": moved_formula(formula, rows)} if formula is not None else cell


def _at(row: Sequence[Any], j: int) -> Any:
    return row[j] if j < len(row) else ""


def _present(value: Any) -> bool:
    return value is not None and value != ""


def _text(value: Any) -> str:
    return str(value).strip() if value is not None else ""


def _index(header: Sequence[Any], label: str) -> int | None:
    for j, value in enumerate(header):
        if _text(value) == label:
            return j
    return None


def _key_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        number = float(value)
        return repr(round(number, 6)) if math.isfinite(number) else str(number)
    return str(value)


def typed(value: Any) -> Cell:
    """A value read back (UNFORMATTED_VALUE) as the typed cell that writes it again."""
    if value is None or value == "":
        return {}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int | float):
        return {"numberValue": value}
    return {"stringValue": str(value)}
