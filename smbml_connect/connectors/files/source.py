"""Files: canonical tables from CSV files or an .xlsx workbook.

This is how an Excel user without a CRM starts: point ``smbml run`` at a workbook (one
sheet per table) or a folder of CSV files. Tabs and files are matched to tables by
name ("Customers" -> contacts, "Line Items" -> order_lines) unless the config names
them; headers are mapped by synonyms unless the config maps them. Every row keeps the
row number the user sees, so a reject can point at it.
"""

from __future__ import annotations

import itertools
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from smbml_connect.connectors.files.csv_lines import BATCH_LINES, open_csv
from smbml_connect.errors import ConfigError, SourceFatalError
from smbml_connect.headers import HeaderMapping, locate_tables, map_headers
from smbml_connect.ports import Page, SourceReject
from smbml_connect.schema import SOURCE_ROW, TABLES, validate
from smbml_connect.sheet_rows import body_frame, column_names, header_index, is_blank

__all__ = ["FilesSource", "read_csv", "read_sheet"]

_EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
_OLE2 = bytes.fromhex("D0CF11E0A1B11AE1")  # encrypted .xlsx, or an old .xls renamed
Batch = tuple[pd.DataFrame, list[SourceReject]]


@dataclass
class FilesSource:
    """Reads a workbook, a folder of CSV files, or one CSV file (then ``tables`` names it).

    Rows come in pages of ``page_rows``, so a file of millions of rows streams into the
    store; each page carries the lines that could not be read as rejects.
    """

    path: Path
    tables: Mapping[str, str] = field(default_factory=dict)  # table -> sheet or file name
    mappings: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # header overrides
    page_rows: int = BATCH_LINES
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
        self.rejects: dict[str, list[SourceReject]] = {}  # of the last pull()

    @property
    def name(self) -> str:
        return f"files:{self.path.name}"

    def available(self) -> list[str]:
        return [t for t in TABLES if t in self._locations]

    def where(self, table: str) -> str:
        """The sheet or file a table comes from (for `smbml inspect`)."""
        return self._locations.get(table, "")

    def pull(self, entity: str, since: str | None = None) -> pd.DataFrame:
        """All rows of ``entity`` at once (``smbml inspect``); unreadable ones in ``rejects``."""
        pages = list(self.pull_pages(entity, since))
        self.rejects[entity] = [r for page in pages for r in page.rejects.get(entity, [])]
        frames = [page.tables[entity] for page in pages]
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    def pull_pages(self, entity: str, since: str | None = None) -> Iterator[Page]:
        """Pages of rows with canonical headers; files are always read in full."""
        location = self._locations.get(entity)
        if location is None:
            raise SourceFatalError(f"{self.path} has no {entity} sheet or file")
        mapping: HeaderMapping | None = None
        try:
            for raw, rejects in self._read(location):
                if mapping is None:
                    headers = [c for c in raw.columns if c != SOURCE_ROW]
                    mapping = map_headers(entity, headers, self.mappings.get(entity))
                    self.header_mappings[entity] = mapping
                    # Missing required columns fail now, even for a file with no rows.
                    validate(entity, raw.iloc[:0].rename(columns=mapping.columns), self.name)
                page = raw.rename(columns=mapping.columns)
                yield Page(tables={entity: page}, rejects={entity: rejects} if rejects else {})
        except MemoryError:
            size = self._file(location).stat().st_size / 1e6
            raise SourceFatalError(
                f"{location} ({size:,.0f} MB) is too big for this computer's memory: close "
                "other programs, or split it into smaller files (a folder of CSV files is read "
                "one file at a time)"
            ) from None

    # -- locating and reading --------------------------------------------------------
    def _locate(self) -> dict[str, str]:
        if self.path.is_dir():
            names = sorted(p.name for p in self.path.iterdir() if p.suffix.lower() == ".csv")
        elif self.path.suffix.lower() in _EXCEL_SUFFIXES:
            names = _sheet_names(self.path)
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

    def _file(self, location: str) -> Path:
        return self.path / location if self.path.is_dir() else self.path

    def _read(self, location: str) -> Iterator[Batch]:
        if self.path.suffix.lower() in _EXCEL_SUFFIXES and not self.path.is_dir():
            return read_sheet(self.path, location, self.page_rows)
        return read_csv(self._file(location), self.page_rows)


def read_csv(path: Path, batch_rows: int = BATCH_LINES) -> Iterator[Batch]:
    """Every value as text (leading zeros survive); ``,`` ``;`` ``|`` or tab separated.

    UTF-8, UTF-16 (Excel's "Unicode Text") and Windows-1252 are read. A line that cannot
    be split into the header's cells is rejected, and reading goes on at the next line.
    """
    opened = open_csv(path, batch_rows)
    yielded = False
    for batch in opened.batches:
        yielded = True
        yield batch.frame(opened.names), batch.rejects
    if not yielded:
        yield body_frame([], [], opened.names), []


def read_sheet(path: Path, sheet: str, batch_rows: int = BATCH_LINES) -> Iterator[Batch]:
    """Cell values as Excel holds them: numbers as numbers, dates as datetimes, text as text.

    A row with a value to the right of the last named column is rejected, not cut.
    """
    workbook = _open_workbook(path)
    try:
        rows = (list(r) for r in workbook[sheet].iter_rows(values_only=True))
        head = list(itertools.islice(rows, 50))
        start = header_index(head)
        if start is None:
            yield body_frame([], [], []), []
            return
        names = column_names(head[start])
        body: list[list[Any]] = []
        numbers: list[int] = []
        rejects: list[SourceReject] = []
        for number, row in enumerate(itertools.chain(head[start + 1 :], rows), start + 2):
            if is_blank(row):
                continue
            if not is_blank(row[len(names) :]):
                rejects.append(_beyond_header(number, row, names))
                continue
            body.append((row + [None] * len(names))[: len(names)])
            numbers.append(number)
            if len(body) >= batch_rows:
                yield body_frame(body, numbers, names), rejects
                body, numbers, rejects = [], [], []
        yield body_frame(body, numbers, names), rejects
    finally:
        workbook.close()


def _beyond_header(number: int, row: list[Any], names: list[str]) -> SourceReject:
    shown = ", ".join("" if v is None else str(v) for v in row)[:200]
    return SourceReject(
        number,
        "",
        shown,
        f"a value right of the last named column ({names[-1] if names else 'none'}): give "
        "its column a header, or move the value; this row is not loaded",
    )


def _open_workbook(path: Path) -> Any:
    """The workbook, or one line saying why this file is not one smbml can read."""
    with path.open("rb") as raw:
        magic = raw.read(8)
    if magic == _OLE2:
        raise SourceFatalError(
            f"{path.name} is password-protected (or an old .xls renamed .xlsx): open it in "
            "Excel, remove the password (File > Info > Protect Workbook > Encrypt with "
            "Password, clear it) and save it as an Excel Workbook (.xlsx)"
        )
    not_workbook = SourceFatalError(
        f"{path.name} is not an Excel workbook (an .xlsx is a zip file; this one is not, or it "
        "is damaged): open it in Excel and save it as an Excel Workbook (.xlsx), or export "
        "it as CSV UTF-8"
    )
    if not magic.startswith(b"PK"):
        raise not_workbook
    try:
        return load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as exc:
        raise not_workbook from exc


def _sheet_names(path: Path) -> list[str]:
    workbook = _open_workbook(path)
    try:
        return list(workbook.sheetnames)
    finally:
        workbook.close()
