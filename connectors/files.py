"""Files: canonical tables from CSV files or an .xlsx workbook, and result workbooks out.

This is how an Excel user without a CRM starts: point ``smbml run`` at a workbook (one
sheet per table) or a folder of CSV files. Tabs and files are matched to tables by
name ("Customers" -> contacts, "Line Items" -> order_lines) unless the config names
them; headers are mapped by synonyms unless the config maps them. Every row keeps the
row number the user sees, so a reject can point at it.

Written workbooks never contain formulas made from data: a value such as
"=HYPERLINK(...)" from a CRM stays text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from smbml_connect.errors import ConfigError, SourceFatalError
from smbml_connect.headers import HeaderMapping, locate_tables, map_headers
from smbml_connect.schema import SOURCE_ROW, TABLES

__all__ = [
    "FilesSource",
    "build_workbook",
    "frame_from_rows",
    "number_format",
    "save_workbook",
    "write_workbook",
]

_EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
_MAX_CELL = 32_767  # Excel's limit on characters in one cell


@dataclass
class FilesSource:
    """Reads a workbook, a folder of CSV files, or one CSV file (then ``tables`` names it)."""

    path: Path
    tables: Mapping[str, str] = field(default_factory=dict)  # table -> sheet or file name
    mappings: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # header overrides
    incremental = False

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.path.exists():
            raise ConfigError(f"source path {self.path} does not exist")
        unknown = [t for t in self.tables if t not in TABLES]
        if unknown:
            raise ConfigError(
                f"source.tables: unknown table(s) {', '.join(unknown)}; known: {', '.join(TABLES)}"
            )
        self._locations = self._locate()
        self.header_mappings: dict[str, HeaderMapping] = {}

    @property
    def name(self) -> str:
        return f"files:{self.path.name}"

    def available(self) -> list[str]:
        return [t for t in TABLES if t in self._locations]

    def where(self, table: str) -> str:
        """The sheet or file a table comes from (for `smbml inspect`)."""
        return self._locations.get(table, "")

    def pull(self, entity: str, since: str | None = None) -> pd.DataFrame:
        """All rows of ``entity`` with canonical headers; files are always read in full."""
        location = self._locations.get(entity)
        if location is None:
            raise SourceFatalError(f"{self.path} has no {entity} sheet or file")
        raw = self._read(location)
        mapping = map_headers(
            entity, [c for c in raw.columns if c != SOURCE_ROW], self.mappings.get(entity)
        )
        self.header_mappings[entity] = mapping
        renamed = raw.rename(columns=mapping.columns)
        return renamed

    # -- locating and reading --------------------------------------------------------
    def _locate(self) -> dict[str, str]:
        if self.path.is_dir():
            names = sorted(p.name for p in self.path.iterdir() if p.suffix.lower() == ".csv")
        elif self.path.suffix.lower() in _EXCEL_SUFFIXES:
            workbook = load_workbook(self.path, read_only=True)
            names = list(workbook.sheetnames)
            workbook.close()
        elif self.path.suffix.lower() in {".csv", ".txt"}:
            if len(self.tables) != 1:
                raise ConfigError(
                    f"{self.path.name} is a single CSV file: name the one table it holds in "
                    'source.tables, e.g. orders = "' + self.path.name + '"'
                )
            return {next(iter(self.tables)): self.path.name}
        else:
            raise ConfigError(f"{self.path.name}: use an .xlsx workbook, a .csv file or a folder")
        return locate_tables(self.tables, names, self.path.name)

    def _read(self, location: str) -> pd.DataFrame:
        if self.path.is_dir():
            return read_csv(self.path / location)
        if self.path.suffix.lower() in _EXCEL_SUFFIXES:
            return read_sheet(self.path, location)
        return read_csv(self.path)


def read_csv(path: Path) -> pd.DataFrame:
    """Every value as text (leading zeros survive); ``,`` ``;`` or tab separated."""
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    sample = text[:20_000]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    return frame_from_rows(rows, first_row_number=1, where=path.name)


def read_sheet(path: Path, sheet: str) -> pd.DataFrame:
    """Cell values as Excel holds them: numbers as numbers, dates as datetimes, text as text."""
    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = [list(r) for r in workbook[sheet].iter_rows(values_only=True)]
    finally:
        workbook.close()
    return frame_from_rows(rows, first_row_number=1, where=f"{path.name} / {sheet}")


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
    names, seen = [], {}
    for i, h in enumerate(header):
        name = h or f"column {get_column_letter(i + 1)}"
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    body, numbers = [], []
    for offset, row in enumerate(rows[start + 1 :], start=start + 1):
        if blank(row):
            continue
        padded = (list(row) + [None] * width)[:width]
        body.append(padded)
        numbers.append(offset + first_row_number)
    frame = pd.DataFrame(body, columns=names, dtype=object)
    frame[SOURCE_ROW] = pd.Series(numbers, dtype="Int64")
    return frame


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
    sheets: Mapping[str, pd.DataFrame], notes: Mapping[str, str] | None = None
) -> tuple[Workbook, dict[str, tuple[Any, int]]]:
    """The workbook `write_workbook` saves, and where each table sits: title -> (sheet, header row)."""
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
        formats = [number_format(str(n), frame[n]) for n in frame.columns]
        for r, row in enumerate(frame.itertuples(index=False), start=top + 1):
            for c, value in enumerate(row, start=1):
                cell = sheet.cell(row=r, column=c)
                converted = _cell_value(value)
                if isinstance(converted, str):
                    _text_cell(cell, converted)
                else:
                    cell.value = converted
                    if formats[c - 1] and converted is not None:
                        cell.number_format = formats[c - 1]
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
