"""Files: canonical tables from CSV files or an .xlsx workbook.

This is how an Excel user without a CRM starts: point ``smbml run`` at a workbook (one
sheet per table) or a folder of CSV files. Tabs and files are matched to tables by
name ("Customers" -> contacts, "Line Items" -> order_lines) unless the config names
them; headers are mapped by synonyms unless the config maps them. Every row keeps the
row number the user sees, so a reject can point at it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import os
import stat
from collections.abc import Collection, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl.utils.datetime import CALENDAR_MAC_1904
from openpyxl.utils.exceptions import InvalidFileException

from smbml_connect.cell_errors import EXCEL, unreadable_errors
from smbml_connect.connectors.files.csv_lines import (
    BATCH_LINES,
    Decoding,
    cannot_read,
    head_of_csv,
    open_csv,
    opened,
)
from smbml_connect.connectors.files.unpacked import size_words, too_big, unpacked
from smbml_connect.connectors.files.workbook_cells import (
    DAMAGE,
    DATE_1904,
    cell_formats,
    merges_of,
    serials_of_1904,
)
from smbml_connect.connectors.files.workbook_rows import open_workbook, sheet_rows
from smbml_connect.consent import keep_header_meaning
from smbml_connect.currency_formats import column_currencies, pattern_currency
from smbml_connect.errors import ConfigError, SourceFatalError
from smbml_connect.headers import HeaderMapping, map_headers, match_table, normalise, table_part
from smbml_connect.layouts import EXPORT_COPY, SKIPPED, Layout, Prepared, join_prepared, prepare
from smbml_connect.opt_out_lists import OptOutLists
from smbml_connect.placing import (
    HEAD_ROWS,
    buyers_elsewhere,
    companions,
    opt_out_lists,
    period_parts,
    place,
)
from smbml_connect.ports import Notice, Page, SourceReject
from smbml_connect.sale_flags import keep_sale_meaning
from smbml_connect.schema import FILE, REJECT_COLUMNS, SOURCE_ROW, TABLES, validate
from smbml_connect.sheet_rows import (
    ABOVE_HEADER,
    BLANK_ROWS,
    MergedDown,
    above_header,
    beyond_header,
    body_frame,
    column_names,
    frame_from_rows,
    header_index,
    inside,
    is_blank,
)

__all__ = ["FilesSource", "read_csv", "read_sheet"]

_EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
_OTHER_SPREADSHEETS = {".xlsx", ".xlsm", ".xls", ".ods"}  # in a folder: not read
# In a folder, a .txt file is read as CSV when it is delimited text: Excel's "Unicode Text"
# and "Text (Tab delimited)" saves are tab-separated .txt files; .tsv is the same.
_TEXT = (".txt", ".tsv")
_OLE2 = bytes.fromhex("D0CF11E0A1B11AE1")  # encrypted .xlsx, or an old .xls renamed
Batch = tuple[pd.DataFrame, list[SourceReject]]
_NO_REJECTS = pd.DataFrame(columns=REJECT_COLUMNS)
READ_NOTES = "read_notes"  # frame.attrs key: (lines, sentence) of how a file was decoded
MIXED_ENCODING = "mixed_encoding"  # the notice's check
_OWN_MONEY = {"orders": "total", "deals": "amount"}  # amounts a currency column would name


@dataclass
class FilesSource:
    """Reads a workbook, a folder of CSV files, or one CSV file (then ``tables`` names it).

    Rows come in pages of ``page_rows``, so a file of millions of rows streams into the
    store; each page carries the lines that could not be read as rejects. A known export
    (``layouts``: a Shopify orders file, a hand-kept list...) is read whole instead, since
    its rows depend on each other (order fields only on an order's first line row).
    """

    path: Path
    tables: Mapping[str, str] = field(default_factory=dict)  # table -> sheet or file name
    mappings: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # header overrides
    # Files this config's destinations write (results.xlsx beside the CSVs): passed over,
    # neither read nor listed as not read.
    outputs: Collection[Path] = ()
    page_rows: int = BATCH_LINES
    # The config's ``[source] encoding`` of its CSV files ("cp1250"), when their text does
    # not tell it with confidence; None: judged per file (``csv_lines.detect_encoding``).
    encoding: str | None = None
    incremental = False
    reads_again = True  # files: a second reading costs no requests (ports.ReadsAgain)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.path.exists():
            raise ConfigError(f"source path {self.path} does not exist")
        kind = _kind(self.path)
        if kind is not None:  # /dev/zero was read until memory ran out
            raise ConfigError(f"source path {self.path} is {kind}, not a file or a folder")
        self._odd: dict[str, str] = {}  # file of the folder -> why it is not read (a link out)
        unknown = [t for t in self.tables if t not in TABLES]
        if unknown:
            raise ConfigError(
                f"source.tables: unknown table(s) {', '.join(unknown)}; known: {', '.join(TABLES)}"
            )
        self._layouts: dict[str, Layout] = {}  # file or tab -> the known export it is
        self._names: list[str] = []  # every file of the folder or tab of the workbook
        self._charts: list[str] = []  # a workbook's chart sheets: tabs that hold no cells
        self._locations = self._locate()
        self._companions = companions(self._locations, self._layouts)  # more of one export
        used = {*self._locations.values(), *(n for m in self._companions.values() for n in m)}
        parts, self._refused = period_parts(self._locations, self._names, used, self._head)
        for main, more in parts.items():  # "Orders 2023" beside "Orders": read with it
            self._companions.setdefault(main, []).extend(more)
        used |= {n for m in parts.values() for n in m}
        lists = opt_out_lists(self._locations, self._layouts, used, self._head, self.mappings)
        givers = buyers_elsewhere(self._locations, self._layouts)  # an orders export's "no"s
        lists.update({n: self._layouts[n].name for n in givers})
        read_with = {n: self._companions[n] for n in lists if n in self._companions}
        self._opt_outs = OptOutLists(lists, self._opt_out_members, gives=givers, parts=read_with)
        self._not_read = self._unused()
        self.header_mappings: dict[str, HeaderMapping] = {}
        self.rejects: dict[str, list[SourceReject]] = {}  # of the last pull()
        self._prepared: dict[str, tuple[Prepared, list[SourceReject]]] = {}
        self._skipped: dict[str, pd.DataFrame] = {}
        self._notes: dict[str, list[tuple[Any, ...]]] = {}  # file -> how it was read
        self._above: dict[str, tuple[list[Any], int]] = {}  # file -> rows over its header
        self._unnamed: dict[str, tuple[str, str | None]] = {}  # table -> where, shared sign
        self._from_1904: set[str] = set()  # tabs of a workbook in the 1904 date system
        # table -> the one currency of its amounts' formats, else each row's, and what to say
        self._currencies: dict[
            str, tuple[str | None, dict[tuple[str, int], str], list[Notice]]
        ] = {}
        self._headers: dict[str, list[str]] = {}  # tab read whole -> its columns, in order

    @property
    def name(self) -> str:
        """The file or folder's name and a short mark of its whole path: two folders called
        "data" are two sources (rows one has and the other lacks are not gone from either),
        and the name people see in the Rejects tab or a shared sheet does not spell out
        where the files live (a user's folders, an employer's OneDrive)."""
        mark = hashlib.sha256(str(self.path.resolve()).encode("utf-8")).hexdigest()[:6]
        return f"files:{self.path.name}#{mark}"

    @property
    def former_names(self) -> tuple[str, ...]:
        return (f"files:{self.path.name}",)  # releases before 7 December 2026

    def available(self) -> list[str]:
        return [t for t in TABLES if t in self._locations]

    def where(self, table: str) -> str:
        """The sheet or file a table comes from (for `smbml inspect`)."""
        location = self._locations.get(table, "")
        lists = self._opt_outs.names if table == "contacts" else []
        sources = [s for n in lists for s in self._opt_outs.sources(n)]
        return ", ".join([*self._read_from(location), *sources])

    def _read_from(self, location: str) -> list[str]:
        """The files a table is read from, as the run reads them: an export in several
        files names the ones its rows come from, then any copy of it set aside whole."""
        if location not in self._companions:
            return [location] if location else []
        files = self._prepare(location)[0].files
        if files is None or not files.read:
            return [location, *self._companions[location]]
        return [*files.read, *(f"{c} (a copy of {of}, set aside)" for c, of in files.copies)]

    def not_read(self) -> list[str]:
        """Every file or tab that gives no table, and why (for `smbml inspect` and the run)."""
        return list(self._not_read)

    def _unused(self) -> list[str]:
        excel = self.path.suffix.lower() in _EXCEL_SUFFIXES and not self.path.is_dir()
        if not (excel or self.path.is_dir()):
            return []
        used = {*self._locations.values(), *(n for m in self._companions.values() for n in m)}
        used |= set(self._opt_outs.names)
        noun = "Tab" if excel else "File"
        out = [
            f"{noun} {n!r} was not read: {self._why_not(n)}." for n in self._names if n not in used
        ]
        out += [f"Tab {n!r} was not read: it is a chart, not a table." for n in self._charts]
        if self.path.is_dir():
            others = [p for p in self._folder() if p.suffix.lower() in _OTHER_SPREADSHEETS]
            out += [f"File {p.name!r} was not read: {_why_not_in_folder(p)}." for p in others]
            out += [f"File {name!r} was not read: {why}." for name, why in self._odd.items()]
            out += [
                f"File {p.name!r} was not read: it is not a table (no line of values "
                "separated by commas, semicolons, tabs or bars under a header)."
                for p in self._folder()
                if p.suffix.lower() in _TEXT and p.name not in self._names
            ]
        return out

    def _folder(self) -> list[Path]:
        """The folder's files, but for Excel's lock files (~$), hidden ones and the files
        the run writes itself."""
        try:
            names = sorted(self.path.iterdir())
        except OSError as exc:  # a folder the user may not list
            raise cannot_read(self.path, exc) from None
        shown = [p for p in names if not p.name.startswith(("~$", ".")) and not self._written(p)]
        self._odd = {p.name: why for p in shown if (why := _not_here(p, self.path)) is not None}
        return [p for p in shown if p.name not in self._odd]

    def _written(self, path: Path) -> bool:
        return any(_one_file(path, output) for output in self.outputs)

    def _delimited(self, path: Path) -> bool:
        """Whether a .txt file is a table: a header of two or more columns."""
        try:
            return (
                sum(c != SOURCE_ROW for c in head_of_csv(path, encoding=self.encoding).columns) >= 2
            )
        except (OSError, SourceFatalError):
            return False

    def _why_not(self, name: str) -> str:
        if name in self._refused:
            return self._refused[name]
        try:
            empty = not [c for c in self._head(name).columns if c != SOURCE_ROW]
        except (OSError, ValueError):
            empty = False
        if empty:
            return "it is empty"
        table = match_table(name) or table_part(name)
        if table is not None and table in self._locations:
            return (
                f"{self._locations[table]!r} already gives {table.replace('_', ' ')} (to read this "
                f'one instead, name it in the config: [source.tables] {table} = "{name}")'
            )
        if name in self._layouts:
            return (
                f"it is a {self._layouts[name].name}, and other files already give the tables "
                "it holds"
            )
        # a table a word of the name says ("products_export_1.csv"), else no guess: the
        # advice named orders for every file, a products export included
        said = [t for t in map(match_table, normalise(name).split()) if t]
        example = (
            f'[source.tables] {said[0]} = "{name}"'
            if said
            else f'[source.tables] <table> = "{name}", with one of the tables above'
        )
        return (
            "its name is not a table's (contacts, orders, order lines, products, deals, ...) "
            f"and its headers are not an export we know (to read it, name its table in the "
            f"config: {example})"
        )

    def skipped_rows(self, entity: str) -> pd.DataFrame:
        """Rows of ``entity``'s last pull that hold no record (blank, total, header again)."""
        return self._skipped.get(entity, _NO_REJECTS)

    def unreadable(self, entity: str) -> list[SourceReject]:
        """Rows of ``entity``'s last ``pull`` that could not be split into cells."""
        return self.rejects.get(entity, [])

    def pull(self, entity: str, since: str | None = None) -> pd.DataFrame:
        """All rows of ``entity`` at once (``smbml inspect``); unreadable ones in ``rejects``."""
        pages = list(self.pull_pages(entity, since))
        self.rejects[entity] = [r for page in pages for r in page.rejects.get(entity, [])]
        frames = [page.tables[entity] for page in pages]
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    def pull_pages(self, entity: str, since: str | None = None) -> Iterator[Page]:
        """Pages of rows with canonical headers; files are always read in full. Contacts
        take the opt-outs of the lists beside them (``OptOutLists``), said on the last page."""
        if entity != "contacts" or not self._opt_outs.names:
            yield from self._pages(entity)
            return
        last: Page | None = None
        for page in self._pages(entity):
            if last is not None:
                yield last
            if entity in page.tables:
                page.tables[entity] = self._opt_outs.apply(page.tables[entity])
            last = page
        if last is not None:
            yield dataclasses.replace(last, notices=[*last.notices, *self._opt_outs.notices()])

    def _opt_out_members(self, name: str) -> tuple[pd.DataFrame, list[SourceReject]]:
        prepared, rejects = self._prepare(name)
        members, _ = prepared.table("contacts")
        return members, rejects

    def _pages(self, entity: str) -> Iterator[Page]:
        location = self._locations.get(entity)
        if location is None:
            raise SourceFatalError(f"{self.path} has no {entity} sheet or file")
        whole = (
            location in self._layouts
            or location in self._companions
            or sum(n == location for n in self._locations.values()) > 1
        )
        if whole:
            yield self._whole(entity, location)
            return
        self._skipped[entity] = _NO_REJECTS
        mapping: HeaderMapping | None = None
        blanks: list[int] = []
        last = 0  # the last row read: blank rows after it are the file's end, not rows
        skipped: list[pd.DataFrame] = []
        try:
            for raw, rejects in self._read(location):
                blanks += raw.attrs.get(BLANK_ROWS, [])
                raw.attrs[BLANK_ROWS] = []  # listed once at the end, without the file's tail
                notices = self._notices(entity, raw.attrs.get(READ_NOTES, []))
                skipped.append(
                    _above_rows(entity, self.name, *raw.attrs.get(ABOVE_HEADER, ([], 0)))
                )
                if len(raw):
                    last = max(last, int(raw[SOURCE_ROW].max()))
                last = max([last, *(r.row for r in rejects)])
                if mapping is None:
                    headers: list[str] = [c for c in raw.columns if c != SOURCE_ROW]
                    mapping = map_headers(entity, headers, self.mappings.get(entity))
                    self.header_mappings[entity] = mapping
                    # Missing required columns fail now, even for a file with no rows.
                    validate(entity, raw.iloc[:0].rename(columns=mapping.columns), self.name)
                prepared = prepare(raw, None)  # total and repeated header rows, as when whole
                if not prepared.skipped.empty:
                    skipped.append(prepared.rejects(entity, self.name))
                page = keep_header_meaning(
                    mapping.apply(prepared.frame), mapping.columns
                )  # "Unsubscribed" stays a no
                page = keep_sale_meaning(page, mapping.columns)  # "Discontinued: yes" too
                page, said = self._cell_currencies(entity, page, {location: headers})
                if raw.attrs.get(DATE_1904):
                    page = serials_of_1904(entity, page)
                yield Page(
                    tables={entity: self._excel_errors(entity, page)},
                    rejects={entity: rejects} if rejects else {},
                    notices=notices + said,
                )
            skipped.append(_blank_rows(entity, self.name, [b for b in blanks if b < last]))
            listed = pd.concat([f for f in skipped if not f.empty] or [_NO_REJECTS])
            self._skipped[entity] = listed.sort_values("source_row", ignore_index=True)
        except MemoryError:
            raise SourceFatalError(
                f"{self._sized(location)} is too big for this computer's memory: close "
                "other programs, or split it into smaller files (a folder of CSV files is read "
                "one file at a time)"
            ) from None

    def _sized(self, location: str) -> str:
        """The file or tab with its size as it is read: a workbook's unpacked, since its
        packed size ("Orders (0 MB)") says nothing of what it takes."""
        path = self._file(location)
        sizes = unpacked(path) if path.suffix.lower() in _EXCEL_SUFFIXES else None
        if sizes is None:
            return f"{location} ({size_words(path.stat().st_size)})"
        return (
            f"Tab {location!r} of {path.name} ({size_words(sizes.packed)}, "
            f"{size_words(sizes.total)} unpacked)"
        )

    def _whole(self, entity: str, location: str) -> Page:
        """A known export, or a file that gives several tables: read whole, then prepared."""
        prepared, rejects = self._prepare(location)
        frame, self.header_mappings[entity] = prepared.table(entity, self.mappings.get(entity))
        gives = list(prepared.layout.tables) if prepared.layout else [entity]
        main = next((t for t in gives if self._locations.get(t) == location), entity)
        listed = main == entity  # a file's skipped and unreadable rows go with its main table
        self._skipped[entity] = prepared.rejects(entity, self.name) if listed else _NO_REJECTS
        if listed and location in self._above:
            over = _above_rows(entity, self.name, *self._above[location])
            self._skipped[entity] = pd.concat([over, self._skipped[entity]], ignore_index=True)
        found = rejects if listed else []
        notes = [n for part in [location, *self._companions.get(location, [])]
                 for n in self._notes.get(part, [])]  # fmt: skip
        copies = [Notice(EXPORT_COPY, entity, n, line) for n, line in prepared.copies]
        if location in self._from_1904:
            frame = serials_of_1904(entity, frame)
        parts = [location, *self._companions.get(location, [])]
        frame, said = self._cell_currencies(
            entity, frame, {p: self._headers[p] for p in parts if p in self._headers}
        )
        return Page(
            tables={entity: self._excel_errors(entity, frame)},
            rejects={entity: found} if found else {},
            notices=[*self._notices(entity, notes), *copies, *prepared.notices(entity), *said]
            if listed
            else [*prepared.notices(entity), *said],
        )

    def _excel_errors(self, entity: str, page: pd.DataFrame) -> pd.DataFrame:
        """A workbook's error values as unreadable cells (``cell_errors``); CSV files as
        before."""
        excel = self.path.suffix.lower() in _EXCEL_SUFFIXES and not self.path.is_dir()
        return unreadable_errors(entity, page, EXCEL) if excel else page

    def unnamed_amounts(self) -> dict[str, tuple[str, str | None]]:
        """Tables whose amounts are numbers formatted with a sign that names no one
        currency ("$", "¥"), nothing else naming it (``ports.SaysUnnamedAmounts``)."""
        return dict(self._unnamed)

    def _cell_currencies(
        self, entity: str, page: pd.DataFrame, tabs: Mapping[str, list[str]]
    ) -> tuple[pd.DataFrame, list[Notice]]:
        """A workbook's amounts take the currency their cells' number format names, as a
        currency column would (Excel keeps "286,79 €" as 286.79 formatted ``#,##0.00
        [$€-407]``, and a euro shop was shown in dollars). One currency: every row's.
        Several: each row its own cell's, said once. A shared sign only: noted for the run
        to say which currency it shows them in. No currency format: as before.

        ``tabs``: the tabs the rows come from and their headers, one for a table read in
        pages, an export's every part for one read whole (a row's ``File`` names its tab).
        An amount the export's layout makes (the sum of an order's lines) has no cell."""
        column = _OWN_MONEY.get(entity)
        mapping = self.header_mappings[entity]
        header = next((h for h, c in mapping.columns.items() if c == column), None)
        excel = self.path.suffix.lower() in _EXCEL_SUFFIXES and not self.path.is_dir()
        made = header in mapping.made or column in mapping.derived  # no cell holds it
        if not excel or header is None or made or "currency" in page.columns:
            return page, []
        said: list[Notice] = []
        if entity not in self._currencies:
            self._currencies[entity] = self._decided(entity, tabs, header)
            said = self._currencies[entity][2]
        every, codes, _ = self._currencies[entity]
        if every is not None:
            return page.assign(currency=every), said
        if not codes:
            return page, said
        first = next(iter(tabs))
        files = page[FILE].tolist() if FILE in page.columns else [first] * len(page)
        rows = page[SOURCE_ROW].astype("Int64").tolist()
        return page.assign(
            currency=[
                codes.get((f, int(r))) if pd.notna(r) else None
                for f, r in zip(files, rows, strict=True)
            ]
        ), said

    def _decided(
        self, entity: str, tabs: Mapping[str, list[str]], header: str
    ) -> tuple[str | None, dict[tuple[str, int], str], list[Notice]]:
        """From the amount cells' formats in each tab: the one currency, else each (tab,
        sheet row)'s, and what to say."""
        formats: dict[tuple[str, int], str] = {}
        where: list[str] = []
        for tab, headers in tabs.items():
            found = [i for i, h in enumerate(headers) if h == header] or [
                i for i, h in enumerate(headers) if normalise(h) == normalise(header)
            ]  # a later part's "order total" is the first's "Order Total" (join_prepared)
            if not found:  # the header is not a cell of this tab: made by the layout
                continue
            where.append(tab)
            with _readable(self.path):
                cells = cell_formats(self.path, tab, found[0] + 1)
            formats.update({(tab, row): pattern for row, pattern in cells.items()})
        if not where:
            return None, {}, []
        named_by = {p: pattern_currency(p) for p in set(formats.values())}
        codes = {at: named_by[pattern] for at, pattern in formats.items()}
        tab_words = (
            "tab " + repr(where[0]) if len(where) == 1 else "tabs " + ", ".join(map(repr, where))
        )
        said = f"{tab_words}, column {header!r}"
        read = column_currencies(codes, formats, said, entity, "Home > Number Format > Currency")
        if read.unnamed is not None:
            self._unnamed[entity] = read.unnamed
        return read.every, dict(read.rows), read.notices

    def _notices(self, entity: str, notes: list[tuple[Any, ...]]) -> list[Notice]:
        """``READ_NOTES`` as notices: (count, sentence), or (count, sentence, check)."""
        return [Notice(n[2] if len(n) > 2 else MIXED_ENCODING, entity, n[0], n[1]) for n in notes]

    def _prepare(self, location: str) -> tuple[Prepared, list[SourceReject]]:
        if location in self._prepared:
            return self._prepared[location]
        layout = self._layouts.get(location)
        frame, rejects = self._whole_frame(location)
        prepared = prepare(frame, layout, location, self.mappings)
        if location in self._companions:  # one export in several files: rows say which
            parts = [location, *self._companions[location]]
            pieces = [prepared]
            for part in parts[1:]:
                more, more_rejects = self._whole_frame(part)
                pieces.append(prepare(more, layout, part, self.mappings))
                rejects = rejects + more_rejects
            prepared = join_prepared(pieces, parts)
        rejects = prepared.settle(rejects)  # the layout reads the lines the reader could not
        self._prepared[location] = (prepared, rejects)  # read once for all the tables it gives
        return prepared, rejects

    def _whole_frame(self, location: str) -> tuple[pd.DataFrame, list[SourceReject]]:
        frames, rejects, blanks = [], [], []
        for frame, found in self._read(location):
            frames.append(frame)
            rejects += found
            self._notes[location] = self._notes.get(location, []) + frame.attrs.get(READ_NOTES, [])
            above, row = frame.attrs.get(ABOVE_HEADER, ([], 0))
            if above:
                self._above[location] = (above, row)
            blanks += frame.attrs.get(BLANK_ROWS, [])
            if frame.attrs.get(DATE_1904):
                self._from_1904.add(location)
        whole = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        self._headers[location] = [c for c in whole.columns if c != SOURCE_ROW]
        numbers = whole[SOURCE_ROW].dropna().astype(int).tolist() if SOURCE_ROW in whole else []
        # Blank rows above a rejected last line (a report's footer) are inside the table.
        whole.attrs[BLANK_ROWS] = inside(blanks, numbers + [r.row for r in rejects])
        return whole, rejects

    # -- locating and reading --------------------------------------------------------
    def _locate(self) -> dict[str, str]:
        if self.path.is_dir():
            files = self._folder()
            names = [
                p.name
                for p in files
                if p.suffix.lower() == ".csv" or (p.suffix.lower() in _TEXT and self._delimited(p))
            ]
            self._names = names
        elif self.path.suffix.lower() in _EXCEL_SUFFIXES:
            names, self._charts = _sheet_names(self.path)
            self._names = list(names)
        elif self.path.suffix.lower() in {".csv", *_TEXT}:
            located, self._layouts = place(
                {t: self.path.name for t in self.tables},
                [self.path.name],
                self._head,
                "",
                mappings=self.mappings,
            )
            if not self._layouts and len(self.tables) != 1:
                raise ConfigError(
                    f"{self.path.name} is a single CSV file: name the one table it holds in "
                    'source.tables, e.g. orders = "' + self.path.name + '"'
                )
            return located
        elif self.path.suffix.lower() in _OTHER_SPREADSHEETS:  # .xls, .ods
            raise ConfigError(f"{self.path.name}: an {_OLD_WORKBOOK}")
        else:
            raise ConfigError(f"{self.path.name}: use an .xlsx workbook, a .csv file or a folder")
        located, self._layouts = place(
            self.tables, names, self._head, self.path.name, mappings=self.mappings
        )
        return located

    def _head(self, location: str) -> pd.DataFrame:
        if self.path.suffix.lower() in _EXCEL_SUFFIXES:
            with _readable(self.path):
                return head_of_sheet(self.path, location)
        return head_of_csv(self._file(location), encoding=self.encoding)

    def _file(self, location: str) -> Path:
        return self.path / location if self.path.is_dir() else self.path

    def _read(self, location: str) -> Iterator[Batch]:
        if self.path.suffix.lower() in _EXCEL_SUFFIXES and not self.path.is_dir():
            return read_sheet(self.path, location, self.page_rows)
        return read_csv(self._file(location), self.page_rows, self.encoding)


_OLD_WORKBOOK = (
    ".xls or .ods workbook is not read at all: open it in Excel or LibreOffice, save it as "
    "an Excel Workbook (.xlsx) with File > Save As, and point source.path at that file"
)


def _kind(path: Path) -> str | None:
    """What ``path`` is when it is neither a file nor a folder ("a device"); None otherwise."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None  # said when it is opened
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "no file"


def _not_here(path: Path, folder: Path) -> str | None:
    """Why a file of the folder that looks like a table is not read, or None to read it: a
    device or a pipe (a link to /dev/zero was read until memory ran out), a folder, or a link
    that leads out of the folder (it was read, and an error quoted the other file's first
    line). A link inside the folder is read as its file is."""
    if path.suffix.lower() not in {".csv", *_TEXT, *_OTHER_SPREADSHEETS}:
        return None
    link = path.is_symlink()
    if link and not path.exists():
        return "it is a link to a file that does not exist"
    kind = "a folder" if path.is_dir() else _kind(path)
    if kind is not None:
        return f"it is {'a link to ' if link else ''}{kind}, not a file, so it holds no table"
    if link and not path.resolve().is_relative_to(folder.resolve()):
        return (
            f"it is a link to {path.resolve().name!r}, a file outside this folder; links out "
            "of the folder are not followed, since a folder that came as a zip or from a "
            "shared drive could bring any file of this computer into the results (copy the "
            "file into the folder to read it)"
        )
    return None


def _why_not_in_folder(path: Path) -> str:
    """What to do with a spreadsheet in a folder of CSV files: an .xlsx can be the source
    itself, an old .xls or an .ods cannot (it must be saved as .xlsx first)."""
    if path.suffix.lower() in _EXCEL_SUFFIXES:
        return (
            "only .csv files are read from a folder (export its tabs as CSV, or point "
            "source.path at the workbook)"
        )
    return f"only .csv files are read from a folder, and an {_OLD_WORKBOOK}, or export its tabs as CSV into this folder"


def _one_file(a: Path, b: Path) -> bool:
    """Two names of one file: also "Results.xlsx" for "results.xlsx" on Windows or macOS."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # not written yet
        return a.resolve() == b.resolve()


def read_csv(
    path: Path, batch_rows: int = BATCH_LINES, encoding: str | None = None
) -> Iterator[Batch]:
    """Every value as text (leading zeros survive); ``,`` ``;`` ``|`` or tab separated.

    UTF-8, UTF-16 (Excel's "Unicode Text") and Windows-1252 are read, and a UTF-8 file's
    odd Windows-1252 lines (said in ``READ_NOTES``). A line that cannot
    be split into the header's cells is rejected, and reading goes on at the next line.
    """
    opened = open_csv(path, batch_rows, Decoding(encoding) if encoding else None)
    notes, yielded = opened.notes, False  # the notes go with the first frame: said once
    for batch in opened.batches:
        frame = batch.frame(opened.names)
        frame.attrs[BLANK_ROWS] = batch.blanks
        if not yielded:
            frame.attrs[ABOVE_HEADER] = (opened.above, opened.header_row)
        frame.attrs[READ_NOTES], notes, yielded = notes, [], True
        yield frame, batch.rejects
    if not yielded:
        frame = body_frame([], [], opened.names)
        frame.attrs[READ_NOTES] = notes
        frame.attrs[ABOVE_HEADER] = (opened.above, opened.header_row)
        yield frame, []


def read_sheet(path: Path, sheet: str, batch_rows: int = BATCH_LINES) -> Iterator[Batch]:
    """Cell values as Excel holds them: numbers as numbers, dates as datetimes, text as text.

    A row with a value to the right of the last named column is rejected, not cut.
    """
    workbook = _open_workbook(path)
    try:
        with _readable(path), closing(sheet_rows(workbook, sheet)) as rows:
            head = list(itertools.islice(rows, 50))
            start = header_index(head)
            if start is None:
                yield body_frame([], [], []), []
                return
            names = column_names(head[start])
            above = (above_header(head, start, range(1, start + 1)), start + 1)
            merges = MergedDown(merges_of(workbook, sheet), below=start + 1, shown_by="Excel")
            mac_dates = getattr(workbook, "epoch", None) == CALENDAR_MAC_1904
            body: list[list[Any]] = []
            numbers: list[int] = []
            rejects: list[SourceReject] = []
            blanks: list[int] = []
            for number, row in enumerate(itertools.chain(head[start + 1 :], rows), start + 2):
                row = merges.fill(number, row)
                if is_blank(row):
                    blanks.append(number)
                    continue
                if not is_blank(row[len(names) :]):
                    rejects.append(beyond_header(number, row, names))
                    continue
                body.append((row + [None] * len(names))[: len(names)])
                numbers.append(number)
                if len(body) >= batch_rows:
                    full = _with_blanks(body_frame(body, numbers, names), blanks, above)
                    full.attrs[DATE_1904] = mac_dates
                    yield full, rejects
                    body, numbers, rejects, blanks, above = [], [], [], [], ([], 0)
            last = _with_blanks(body_frame(body, numbers, names), blanks, above)
            last.attrs[READ_NOTES] = merges.note(sheet)
            last.attrs[DATE_1904] = mac_dates
            yield last, rejects
    finally:
        workbook.close()


def _with_blanks(
    frame: pd.DataFrame, blanks: list[int], above: tuple[list[Any], int]
) -> pd.DataFrame:
    frame.attrs[BLANK_ROWS] = blanks
    frame.attrs[ABOVE_HEADER] = above
    return frame


@contextmanager
def _readable(path: Path) -> Iterator[None]:
    """Damage found while a workbook is read is one line naming the file, not a traceback."""
    try:
        yield
    except DAMAGE as exc:
        raise SourceFatalError(
            f"{path.name} is damaged: a part of it cannot be read ({type(exc).__name__}: "
            f"{str(exc)[:120]}): open it in Excel and save it again as an Excel Workbook "
            "(.xlsx), or export it as CSV UTF-8"
        ) from None


def _open_workbook(path: Path) -> Any:
    """The workbook, or one line saying why this file is not one smbml can read."""
    with opened(path, "rb") as raw:
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
        return _load(path)
    except (InvalidFileException, KeyError, OSError, *DAMAGE) as exc:
        raise not_workbook from exc


def _load(path: Path) -> Any:
    """The workbook, read-only (`open_workbook`); one that would unpack past this
    computer's memory (a zip bomb: 400 KB holding a 400 MB string) is refused first, in
    one line (``too_big``)."""
    refused = too_big(path)
    if refused is not None:
        raise SourceFatalError(refused)
    return open_workbook(path)


def head_of_sheet(path: Path, sheet: str) -> pd.DataFrame:
    """A sheet's first rows, which decide its layout (``placing.place``)."""
    workbook = _load(path)
    try:
        with closing(sheet_rows(workbook, sheet, unsaved=False)) as read:
            rows = list(itertools.islice(read, HEAD_ROWS))
    finally:
        workbook.close()
    return frame_from_rows(rows, first_row_number=1, where=f"{path.name} / {sheet}")


def _sheet_names(path: Path) -> tuple[list[str], list[str]]:
    """The workbook's worksheets, and apart its chart sheets (a chart moved to a tab of its
    own, often beside the data): they hold no cells, so no table."""
    workbook = _open_workbook(path)
    try:
        charts = [s.title for s in workbook.chartsheets]
        return [n for n in workbook.sheetnames if n not in charts], charts
    finally:
        workbook.close()


def _blank_rows(table: str, source: str, rows: list[int]) -> pd.DataFrame:
    """Blank rows inside a file read in pages, listed as skipped like a layout's."""
    if not rows:
        return _NO_REJECTS
    return pd.DataFrame(
        {
            "table": table,
            "source": source,
            "source_row": pd.array(rows, dtype="Int64"),
            "column": "",
            "value": "",
            "reason": "blank row",
            "action": SKIPPED,
            "row": None,
        },
        columns=REJECT_COLUMNS,
    )


def _above_rows(table: str, source: str, rows: list[Any], header: int) -> pd.DataFrame:
    """Filled rows above the header (a report's title and date, a group heading), listed as
    skipped: they are not rows of the table."""
    if not rows:
        return _NO_REJECTS
    return pd.DataFrame(
        {
            "table": table,
            "source": source,
            "source_row": pd.array([n for n, _ in rows], dtype="Int64"),
            "column": "",
            "value": [
                ", ".join(str(v) for v in cells if not is_blank([v]))[:200] for _, cells in rows
            ],
            "reason": f"above the header (row {header}): a title, a date or a group heading, "
            "not a row of the table",
            "action": SKIPPED,
            "row": None,
        },
        columns=REJECT_COLUMNS,
    )
