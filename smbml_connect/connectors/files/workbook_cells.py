"""What a workbook's cells hold beyond their values, read fast from the sheet's XML.

A workbook is opened read-only, which keeps big files fast but gives values only: no
merged ranges, no number formats. These are read here straight from the sheet's XML
(one streamed pass, no sheet loaded whole), with the date system and Excel's error
values, for ``source.read_sheet`` and ``FilesSource``.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

import pandas as pd
from openpyxl.reader.excel import ExcelReader
from openpyxl.styles.numbers import BUILTIN_FORMATS
from openpyxl.styles.stylesheet import apply_stylesheet
from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.utils.datetime import CALENDAR_MAC_1904
from openpyxl.utils.exceptions import InvalidFileException

from smbml_connect.coerce import EXCEL_SERIALS
from smbml_connect.schema import TABLES

__all__ = [
    "DAMAGE",
    "DATE_1904",
    "cell_formats",
    "merges_of",
    "serials_of_1904",
]

DATE_1904 = "date1904"  # frame.attrs key: the workbook counts its dates from 1904 (a Mac's)
# What a damaged or hostile workbook raises while its parts are read: XML that is not
# well-formed (or whose entities expand without end: expat stops a "billion laughs"),
# a compressed part cut short or altered.
DAMAGE = (ParseError, zlib.error, zipfile.BadZipFile, EOFError)


def serials_of_1904(entity: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Date serials in a 1904 workbook's date columns as the dates Excel shows for them.

    A Mac workbook of the 1904 date system counts days from 1 January 1904: 45720 there is
    5 March 2029, not 4 March 2025. Its date cells come as dates already; a serial pasted
    as a value into a General cell comes as a number, which ``coerce`` reads in the 1900
    system, 1,462 days early."""
    low, high = EXCEL_SERIALS
    out = frame
    for column in TABLES[entity].columns:
        if column.kind != "datetime" or column.name not in frame.columns:
            continue
        values = frame[column.name]
        if values.dtype != object and not pd.api.types.is_numeric_dtype(values):
            continue
        numbers = pd.to_numeric(
            values.map(lambda v: v if _serial_like(v) else None), errors="coerce"
        )
        serial = numbers.between(low, high).to_numpy(dtype=bool)
        if serial.any():
            out = out.copy() if out is frame else out
            shown = [
                _MAC_EPOCH + pd.to_timedelta(round(float(n) * 86_400_000), "ms") if hit else v
                for v, n, hit in zip(
                    values.tolist(), numbers.tolist(), serial.tolist(), strict=True
                )
            ]
            out[column.name] = pd.Series(shown, index=frame.index, dtype=object)
    return out


def _serial_like(value: Any) -> bool:
    """A number, or a number typed as text, as ``coerce`` would read a date serial."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value) is not None


_MAC_EPOCH = pd.Timestamp(CALENDAR_MAC_1904)


_MERGE_TAG = re.compile(rb'<(?:\w+:)?mergeCell\s[^>]*?ref="([A-Z]+)(\d+):([A-Z]+)(\d+)"')


def merges_of(workbook: Any, sheet: str) -> list[tuple[int, int, int]]:
    """A sheet's cells merged over rows, as (first row, last row, column number) of each
    range's first column. A workbook opened read-only (fast on big files) ignores merges,
    so the ranges are read from the sheet's XML: its ``<mergeCells>`` follow the rows."""
    try:
        archive, part = workbook._archive, workbook[sheet]._worksheet_path
    except (AttributeError, KeyError):
        return []
    found: list[tuple[int, int, int]] = []
    tail = b""
    with archive.open(part) as xml:
        while chunk := xml.read(1 << 20):
            text = tail + chunk
            if b"mergeCell" not in text:  # most chunks: rows only, passed over fast
                tail = text[-64:]
                continue
            cut = text.rfind(b"<")  # a tag cut by the chunk's end is read with the next one
            cut = cut if cut > 0 else len(text)
            for first_col, first, _, last in _MERGE_TAG.findall(text[:cut]):
                if int(last) > int(first):
                    found.append(
                        (int(first), int(last), column_index_from_string(first_col.decode()))
                    )
            tail = text[cut:]
    return sorted(found)


_ATTRIBUTE = re.compile(rb'\b(s|t)="([^"]*)"')


def cell_formats(path: Path, sheet: str, column: int) -> dict[int, str]:
    """Sheet row -> the number format of ``column``'s number cells, read from the sheet's
    XML (a workbook opened read-only gives values, not formats) and its styles."""
    try:
        reader, part = _styles_of(path, sheet)
    except (InvalidFileException, KeyError, AttributeError, StopIteration, OSError, *DAMAGE):
        return {}  # read as before: the values are read (and their damage said) elsewhere
    archive, styles, custom = reader.archive, reader.wb._cell_styles, reader.wb._number_formats
    letter = get_column_letter(column).encode()
    cells: re.Pattern[bytes] | None = None
    formats: dict[bytes, str | None] = {}  # a tag's attributes -> its number format
    found: dict[int, str] = {}
    tail = b""
    try:
        with archive.open(part) as xml:
            while chunk := xml.read(1 << 20):
                text = tail + chunk
                cut = text.rfind(b"<")
                cut = cut if cut > 0 else len(text)
                if cells is None:  # <c r="D2" s="3">, or <x:c r=...> as some programs write
                    prefix = re.search(rb"<(\w+:)?(?:worksheet|sheetData)\b", text)
                    tag = re.escape(prefix[1]) if prefix and prefix[1] else b""
                    # the address first, as Excel and openpyxl write it: a fast literal search
                    cells = re.compile(b"<" + tag + b'c r="' + letter + rb'(\d+)"([^>]*)>')
                for row, attributes in cells.findall(text[:cut]):
                    if attributes not in formats:
                        formats[attributes] = _number_format(attributes, styles, custom)
                    pattern = formats[attributes]
                    if pattern is not None:
                        found[int(row)] = pattern
                tail = text[cut:]
    finally:
        archive.close()
    return found


def _styles_of(path: Path, sheet: str) -> tuple[Any, str]:
    """The workbook's styles and the part of ``sheet``, without reading its sheets: opening
    a workbook, even read-only, reads each sheet whole when its size is not written."""
    reader = ExcelReader(str(path), read_only=True, data_only=True)
    reader.read_manifest()
    reader.read_workbook()
    apply_stylesheet(reader.archive, reader.wb)
    part = next(rel.target for found, rel in reader.parser.find_sheets() if found.name == sheet)
    return reader, part


def _number_format(attributes: bytes, styles: Any, custom: Any) -> str | None:
    """The number format a number cell's tag names through its style (``s``), or None for
    a cell that is empty, not a number (text, a shared string, an error) or ``General``."""
    said = dict(_ATTRIBUTE.findall(attributes))
    if attributes.endswith(b"/") or said.get(b"t", b"n") != b"n":
        return None
    pattern = _pattern(styles, custom, int(said.get(b"s", b"0")))
    return None if pattern in ("", "General") else pattern


def _pattern(styles: Any, custom: Any, style: int) -> str:
    """The number format pattern of a cell style: Excel's built-in ones by id (from 164:
    the workbook's own)."""
    try:
        number = styles[style].numFmtId
    except (IndexError, AttributeError):
        return ""
    if number >= 164:
        return str(custom[number - 164]) if number - 164 < len(custom) else ""
    return str(BUILTIN_FORMATS.get(number, ""))
