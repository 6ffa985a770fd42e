"""Files: canonical tables from CSV files or an .xlsx workbook.

This is how an Excel user without a CRM starts: point ``smbml run`` at a workbook (one
sheet per table) or a folder of CSV files. Tabs and files are matched to tables by
name ("Customers" -> contacts, "Line Items" -> order_lines) unless the config names
them; headers are mapped by synonyms unless the config maps them. Every row keeps the
row number the user sees, so a reject can point at it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import load_workbook

from smbml_connect.connectors.files.placing import (
    companions,
    head_of_csv,
    head_of_sheet,
    place,
)
from smbml_connect.errors import ConfigError, SourceFatalError
from smbml_connect.headers import HeaderMapping
from smbml_connect.layouts import Layout, Prepared, join_prepared, prepare
from smbml_connect.schema import REJECT_COLUMNS, TABLES
from smbml_connect.sheet_rows import frame_from_rows

__all__ = ["FilesSource", "read_csv", "read_sheet"]

_EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
_NO_REJECTS = pd.DataFrame(columns=REJECT_COLUMNS)


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
        self._layouts: dict[str, Layout] = {}  # file or tab -> the known export it is
        self._locations = self._locate()
        self._companions = companions(self._locations, self._layouts)  # more of one export
        self.header_mappings: dict[str, HeaderMapping] = {}
        self._prepared: dict[str, Prepared] = {}  # files or tabs that give several tables
        self._skipped: dict[str, pd.DataFrame] = {}

    @property
    def name(self) -> str:
        return f"files:{self.path.name}"

    def available(self) -> list[str]:
        return [t for t in TABLES if t in self._locations]

    def where(self, table: str) -> str:
        """The sheet or file a table comes from (for `smbml inspect`)."""
        location = self._locations.get(table, "")
        return ", ".join([location, *self._companions.get(location, [])])

    def pull(self, entity: str, since: str | None = None) -> pd.DataFrame:
        """All rows of ``entity`` with canonical headers; files are always read in full."""
        location = self._locations.get(entity)
        if location is None:
            raise SourceFatalError(f"{self.path} has no {entity} sheet or file")
        prepared = self._prepare(location)
        frame, self.header_mappings[entity] = prepared.table(entity, self.mappings.get(entity))
        gives = list(prepared.layout.tables) if prepared.layout else [entity]
        lists = next((t for t in gives if self._locations.get(t) == location), entity)
        self._skipped[entity] = (  # rows of a file are listed once, with its main table
            prepared.rejects(entity, self.name) if lists == entity else _NO_REJECTS
        )
        return frame

    def skipped_rows(self, entity: str) -> pd.DataFrame:
        """Rows of ``entity``'s last pull that hold no record (blank, total, header again)."""
        return self._skipped.get(entity, _NO_REJECTS)

    def _prepare(self, location: str) -> Prepared:
        if location in self._prepared:
            return self._prepared[location]
        layout = self._layouts.get(location)
        prepared = prepare(self._read(location), layout)
        if location in self._companions:  # one export in several files: rows say which
            parts = [location, *self._companions[location]]
            pieces = [prepared, *(prepare(self._read(p), layout) for p in parts[1:])]
            prepared = join_prepared(pieces, parts)
        if sum(n == location for n in self._locations.values()) > 1:
            self._prepared[location] = prepared  # read once for all the tables it gives
        return prepared

    # -- locating and reading --------------------------------------------------------
    def _locate(self) -> dict[str, str]:
        if self.path.is_dir():
            names = sorted(p.name for p in self.path.iterdir() if p.suffix.lower() == ".csv")
        elif self.path.suffix.lower() in _EXCEL_SUFFIXES:
            workbook = load_workbook(self.path, read_only=True)
            names = list(workbook.sheetnames)
            workbook.close()
        elif self.path.suffix.lower() in {".csv", ".txt"}:
            located, self._layouts = place(
                {t: self.path.name for t in self.tables}, [self.path.name], self._head, ""
            )
            if not self._layouts and len(self.tables) != 1:
                raise ConfigError(
                    f"{self.path.name} is a single CSV file: name the one table it holds in "
                    'source.tables, e.g. orders = "' + self.path.name + '"'
                )
            return located
        else:
            raise ConfigError(f"{self.path.name}: use an .xlsx workbook, a .csv file or a folder")
        located, self._layouts = place(self.tables, names, self._head, self.path.name)
        return located

    def _head(self, location: str) -> pd.DataFrame:
        if self.path.suffix.lower() in _EXCEL_SUFFIXES:
            return head_of_sheet(self.path, location)
        return head_of_csv(self.path / location if self.path.is_dir() else self.path)

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
