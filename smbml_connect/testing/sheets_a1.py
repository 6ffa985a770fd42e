"""A1 notation as the Sheets API reads and echoes it: quoted sheet names, open ranges.

Kept apart from the emulator because both the emulator and the connector need it: the
connector builds ranges for the tabs it writes, the emulator parses whatever a client
sends and answers with the normalised form Google echoes ("'My tab'!A1:Z1000").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["A1Error", "GridSpan", "col_letter", "col_number", "parse_a1", "quote_title"]

_CELL = re.compile(r"^(?P<col>[A-Za-z]{0,3})(?P<row>\d*)$")


class A1Error(ValueError):
    """The text is not a range Sheets can parse."""


@dataclass(frozen=True)
class GridSpan:
    """Zero-based, end-exclusive; ``None`` for an open end (the rest of the grid)."""

    title: str | None  # None: the first sheet
    row0: int
    col0: int
    row1: int | None
    col1: int | None
    single: bool = False  # one cell: a write may spill from it, as from an anchor


def col_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def col_number(letters: str) -> int:
    """A -> 0, AA -> 26."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n - 1


def quote_title(title: str) -> str:
    """Sheets quotes a title unless it is a plain word that cannot be mistaken for a cell."""
    plain = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", title)
    if plain and not re.fullmatch(r"[A-Za-z]{1,3}\d+", title):
        return title
    return "'" + title.replace("'", "''") + "'"


def _split_sheet(text: str) -> tuple[str | None, str]:
    if text.startswith("'"):
        i, name = 1, []
        while i < len(text):
            if text[i] == "'":
                if text[i + 1 : i + 2] == "'":
                    name.append("'")
                    i += 2
                    continue
                rest = text[i + 1 :]
                if rest and not rest.startswith("!"):
                    raise A1Error(text)
                return "".join(name), rest[1:]
            name.append(text[i])
            i += 1
        raise A1Error(text)
    if "!" in text:
        title, _, cells = text.rpartition("!")
        return title, cells
    return None, text


def parse_a1(text: str, titles: list[str]) -> GridSpan:
    """Parse ``text`` against the spreadsheet's sheet ``titles``.

    A bare word that names a sheet is the whole sheet (that is how gspread asks for one);
    otherwise a bare range applies to the first sheet.
    """
    text = text.strip()
    if not text:
        raise A1Error(text)
    title, cells = _split_sheet(text)
    if title is None and text in titles:
        return GridSpan(text, 0, 0, None, None)
    if title is not None and not cells:
        return GridSpan(title, 0, 0, None, None)
    first, _, last = cells.partition(":")
    a = _CELL.match(first)
    b = _CELL.match(last) if last else a
    if not a or not b or not (a["col"] or a["row"]) or not (b["col"] or b["row"]):
        raise A1Error(text)
    if not last and not (a["col"] and a["row"]):
        raise A1Error(text)  # "A" or "5" alone is not a range
    if bool(a["col"]) != bool(b["col"]) and not (a["col"] and a["row"]):
        raise A1Error(text)
    col0 = col_number(a["col"]) if a["col"] else 0
    row0 = int(a["row"]) - 1 if a["row"] else 0
    col1 = col_number(b["col"]) + 1 if b["col"] else None
    row1 = int(b["row"]) if b["row"] else None
    if row0 < 0 or (row1 is not None and row1 <= 0):
        raise A1Error(text)
    if row1 is not None and row1 < row0 + 1:
        row0, row1 = row1 - 1, row0 + 1
    if col1 is not None and col1 < col0 + 1:
        col0, col1 = col1 - 1, col0 + 1
    return GridSpan(title, row0, col0, row1, col1, single=not last)
