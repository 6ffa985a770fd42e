"""Google Sheets: tables in from a spreadsheet's tabs, result tabs out.

Reading costs two requests whatever the size: the spreadsheet's metadata (tab names and
merged ranges), then one values:batchGet of every table tab, unformatted (numbers stay
numbers, "00123" typed as text stays text) with dates as serial numbers, which are
unambiguous where a formatted "03/04/2025" is not. Headers are matched like a workbook's
(smbml_connect.headers), every row keeps its sheet row number for rejects, and merged
cells and error values are read as a workbook's are.

Writing costs one request per result tab plus the metadata read: a spreadsheets
batchUpdate that (re)creates the tab, sizes the grid, writes typed cells (a string is
always a stringValue, so "=HYPERLINK(...)" or "+1 555" from a CRM stays text), formats
the header, freezes it, sets number formats and redraws the forecast chart. Our tabs
carry developer metadata, so a tab the user made is never touched, even if it is
called "Scores", and a tab of ours the user renamed is still found.
"""

from __future__ import annotations

import json
import math
import random
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from smbml_connect import placing
from smbml_connect.cell_errors import GOOGLE_SHEETS, unreadable_errors
from smbml_connect.column_labels import column_label, yes_no
from smbml_connect.connectors.gsheets.http import SheetsApi, SheetsHttpError
from smbml_connect.connectors.gsheets.user_columns import (
    COLUMNS_KEY,
    GRID_FIELDS,
    Kept,
    columns_mark,
    find_user_columns,
    grid_rows,
    header_row,
    last_write,
    place,
    place_below,
    with_old_columns,
    write_mark,
)
from smbml_connect.currency_formats import column_currencies, pattern_currency
from smbml_connect.errors import ConfigError, SmbmlError, SourceFatalError
from smbml_connect.headers import (
    HeaderMapping,
    locate_tables,
    main_part,
    normalise,
    part_refused,
    table_part,
)
from smbml_connect.http.clock import SYSTEM_CLOCK, Clock
from smbml_connect.layouts import EXPORT_COPY, Layout, Prepared, join_prepared, matching, prepare
from smbml_connect.money_words import shown_in
from smbml_connect.opt_out_lists import OptOutLists, said_no
from smbml_connect.ports import (
    Notice,
    Page,
    PushReport,
    RunResult,
    SheetsChart,
    SheetsPart,
    SheetsTab,
    SourceReject,
    Tab,
)
from smbml_connect.schema import FILE, REJECT_COLUMNS, REJECTS_TAB, SOURCE_ROW, TABLES
from smbml_connect.sheet_rows import (
    MergedDown,
    column_names,
    frame_from_rows,
    header_index,
    split_rows,
)
from smbml_connect.value_words import rejects_for_people
from smbml_connect.xlsx import number_format

__all__ = [
    "METADATA_KEY",
    "ResultTab",
    "SheetsNotAllWritten",
    "SheetsResults",
    "SheetsSource",
    "result_tabs",
    "spreadsheet_key",
    "tab_requests",
]

METADATA_KEY = "smbml_connect.tab"
WRITE_KEY = "smbml_connect.write"  # which request of which sync last landed on the tab
REFRESHED_KEY = "smbml_connect.refreshed"  # the stamp of the last run that finished the tab
MAX_CELL_CHARS = 50_000  # Google's limit per cell
CELL_CAP = 10_000_000  # Google's limit per spreadsheet, grid cells of every tab
CHUNK_BYTES = 9_000_000  # Google refuses request bodies over 10 MB
_KEY = re.compile(r"^[A-Za-z0-9_-]{20,}$")
_HEADER_ROW = 1  # zero-based: row 1 holds "last refreshed", row 2 the header
_HEADER_FORMAT = {
    "backgroundColor": {"red": 0.122, "green": 0.306, "blue": 0.471},
    "textFormat": {"bold": True, "foregroundColor": {"red": 1, "green": 1, "blue": 1}},
    "verticalAlignment": "MIDDLE",
}
_NOTE_FORMAT = {"textFormat": {"italic": True}}
# A table's own amount column, whose cells' currency format names the currency of its rows.
_OWN_MONEY = {"orders": "total", "deals": "amount"}
_FORMAT_FIELDS = (
    "sheets(properties(title),data(startRow,rowData(values(effectiveFormat/numberFormat))))"
)


def spreadsheet_key(text: str) -> str:
    """The key from a spreadsheet URL (…/spreadsheets/d/KEY/edit…) or the key itself."""
    text = text.strip()
    match = re.search(r"/spreadsheets/d/([A-Za-z0-9_-]+)", text)
    key = match.group(1) if match else text
    if not _KEY.match(key):
        raise ConfigError(
            f"source.spreadsheet: {text!r} is neither a Google Sheets URL nor a spreadsheet key "
            "(the long code between /d/ and /edit in the address bar)"
        )
    return key


# -- reading -------------------------------------------------------------------------
@dataclass
class SheetsSource:
    """Reads table tabs of one spreadsheet; tabs are matched by name unless ``tables`` names them."""

    api: SheetsApi
    spreadsheet: str
    tables: Mapping[str, str] = field(default_factory=dict)  # table -> tab title
    mappings: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    incremental = False

    def __post_init__(self) -> None:
        self.key = spreadsheet_key(self.spreadsheet)
        unknown = [t for t in self.tables if t not in TABLES]
        if unknown:
            raise ConfigError(f"source.tables: unknown table(s) {', '.join(unknown)}")
        self._located: dict[str, str] | None = None
        self._rows: dict[str, list[list[Any]]] | None = None  # tab title -> its rows
        self._merge_notes: dict[str, list[tuple[int, str, str]]] = {}  # tab -> what was filled
        self._maybe_parts: list[str] = []  # tabs whose name says a located table and a period
        self._parts: dict[str, list[str]] | None = None  # main tab -> its period tabs
        self._refused: dict[str, str] = {}
        self._by_period: dict[str, str] = {}  # table -> the period tab that first gave it
        self.title = ""
        self._zone: str | None = None
        self.zone_words = "the spreadsheet's"
        self.header_mappings: dict[str, HeaderMapping] = {}
        self._unread: dict[str, list[SourceReject]] = {}
        self._skipped: dict[str, pd.DataFrame] = {}
        self._others: list[str] = []  # tabs that give no table: maybe a list of opt-outs
        self._lists: OptOutLists | None = None
        self._list_layouts: dict[str, str] = {}
        self._locale = ""
        self._titles: list[str] = []  # every tab but ours, in the spreadsheet's order
        self._layouts: dict[str, Layout] = {}  # tab -> the known export it holds
        self._companions: dict[str, list[str]] = {}  # tab -> more tabs of the same export
        self._heads: dict[str, pd.DataFrame] = {}
        self._prepared: dict[str, tuple[Prepared, list[SourceReject]]] = {}
        self._unnamed: dict[str, tuple[str, str | None]] = {}  # table -> amounts with no currency

    @property
    def name(self) -> str:
        return f"gsheets:{self.key[:12]}"

    def available(self) -> list[str]:
        return [t for t in TABLES if t in self._locate()]

    def time_zone(self) -> str | None:
        """The spreadsheet's own time zone (File > Settings): its dates and times without
        an offset were typed on that clock (the same request finds the tabs)."""
        self._locate()
        return self._zone

    def date_order(self) -> tuple[bool, str] | None:
        """The spreadsheet's locale as the order of its dates typed as text (a pasted CSV,
        a Plain text column), for a column none of whose values tells: Sheets reads what
        is typed by that locale, so the text beside it is written so too. None for a
        month-first locale, which says what the default says, and a year-first one."""
        self._locate()
        return _locale_order(self._locale)

    def missing_table(self, table: str, before: str | None) -> str:
        """Words for a table the last run read (from tab ``before``) that no tab gives now,
        most often a tab renamed: the tabs not read, and how to read one as the table."""
        self._locate()
        unread = self._unplaced()
        said = f"no tab gives {table.replace('_', ' ')} now"
        if before:
            said += f"; the last run read them from tab {before!r}"
        said += f" (tabs not read: {', '.join(map(repr, unread))})" if unread else " (every tab was read)"  # fmt: skip
        back = f"rename the tab back to {before!r}, or " if before else ""
        name = json.dumps(unread[0] if unread else "Your tab", ensure_ascii=False)
        return f"{said}. If you renamed it, {back}name it in the config: [source.tables] {table} = {name}"  # fmt: skip

    def _unplaced(self) -> list[str]:
        """The tabs but ours that gave no table, nor more rows of one, nor a list of opt-outs."""
        used = {*self._locate().values()}
        used |= {t for more in self._companions.values() for t in more}
        used |= {t for more in self._period_tabs().values() for t in more}
        used |= set(self._lists.names) if self._lists is not None else set()
        return [t for t in self._titles if t not in used]

    def where(self, table: str) -> str:
        parts = self._period_tabs() if table in self._locate() else {}
        location = self._locate().get(table, "")
        more = [*self._companions.get(location, []), *parts.get(location, [])]
        return ", ".join([location, *more]) if location else ""

    def not_read(self) -> list[str]:
        """Tabs that look like more rows of a table but cannot be read with it."""
        self._period_tabs()
        return [f"Tab {title!r} was not read: {why}." for title, why in self._refused.items()]

    def pull(self, entity: str, since: str | None = None) -> pd.DataFrame:
        """All rows of ``entity``'s tab (``smbml inspect``); unreadable ones in ``unreadable``."""
        return self._page(entity).tables[entity]

    def pull_pages(self, entity: str, since: str | None = None) -> Iterator[Page]:
        """One page: a tab comes whole, with its rows that cannot be placed as rejects."""
        yield self._page(entity)

    def unreadable(self, entity: str) -> list[SourceReject]:
        return self._unread.get(entity, [])

    def skipped_rows(self, entity: str) -> pd.DataFrame:
        """Rows that hold no record (blank, total, header again, a layout's headings)."""
        return self._skipped.get(entity, pd.DataFrame(columns=REJECT_COLUMNS))

    def _page(self, entity: str) -> Page:
        """The tab as the files source reads a sheet: a known export by its layout, rows
        holding no record listed as skipped, values right of the header rejected. A tab
        that gives several tables (a Shopify orders export: buyers, orders, lines) is
        prepared once; its skipped and unreadable rows go with its main table only."""
        located = self._locate()
        if entity not in located:
            raise SourceFatalError(f"the spreadsheet has no tab for {entity}")
        main = located[entity]
        prepared, unread = self._prepare(main)
        frame, self.header_mappings[entity] = prepared.table(entity, self.mappings.get(entity))
        frame = unreadable_errors(entity, frame, GOOGLE_SHEETS)
        layout = self._layouts.get(main)
        gives = list(layout.tables) if layout else [entity]
        listed = next((t for t in gives if located.get(t) == main), entity) == entity
        self._skipped[entity] = (
            prepared.rejects(entity, self.name) if listed else pd.DataFrame(columns=REJECT_COLUMNS)
        )
        self._unread[entity] = unread if listed else []
        page = Page(tables={entity: frame}, rejects={entity: unread} if unread and listed else {})
        page.notices = _locale_dates(entity, frame, self._locale, main) + prepared.notices(entity)
        if listed:  # "Copy of Orders" beside "Orders": its orders read once (``join_prepared``)
            page.notices += [Notice(EXPORT_COPY, entity, n, line) for n, line in prepared.copies]
            tabs = [main, *self._companions.get(main, []), *self._period_tabs().get(main, [])]
            page.notices += [Notice(check, entity, count, line) for tab in tabs
                             for count, line, check in self._merge_notes.get(tab, [])]  # fmt: skip
        if entity in _OWN_MONEY and "currency" not in frame.columns:
            page.tables[entity], said = self._cell_currencies(entity, frame, main)
            page.notices += said
        lists = self._opt_out_lists() if entity == "contacts" else None
        if lists is not None and lists.names:  # "Unsubscribes" beside "Customers"
            page.tables[entity] = lists.apply(frame)
            page.notices += lists.notices()
        return page

    def unnamed_amounts(self) -> dict[str, tuple[str, str | None]]:
        """Tables whose amounts are numbers with no currency in their cells' formats."""
        return dict(self._unnamed)

    def _cell_currencies(
        self, entity: str, frame: pd.DataFrame, main: str
    ) -> tuple[pd.DataFrame, list[Notice]]:
        """The currency the amounts' cells are formatted in, as a currency column gives it.

        Sheets keeps "95,35 €" as the number 95.35 formatted as euros, and the values read
        are unformatted, so a euro shop read as plain numbers was shown in dollars. The
        amount column's formats cost one more request, made only when the table has no
        currency column and its amounts are numbers. One currency: every row's. Several:
        each row its own cell's, said in one line. None: noted for the run to say which
        currency it shows them in (``unnamed_amounts``)."""
        column = _OWN_MONEY[entity]
        header = next((h for h, c in self.header_mappings[entity].columns.items() if c == column), None)  # fmt: skip
        if header is None or column not in frame.columns or SOURCE_ROW not in frame.columns:
            return frame, []
        amounts = frame[column]
        if not amounts.map(lambda v: isinstance(v, int | float) and not isinstance(v, bool)).any():
            return frame, []  # amounts typed as text: their signs say (schema.currency_mark)
        formats = self._formats(header, [main, *self._companions.get(main, []),
                                         *self._period_tabs().get(main, [])])  # fmt: skip
        tabs = frame[FILE] if FILE in frame.columns else pd.Series(main, index=frame.index)
        patterns = pd.Series(
            [formats.get((str(t), int(r))) for t, r in zip(tabs, frame[SOURCE_ROW], strict=True)],
            index=frame.index,
            dtype=object,
        )
        codes = patterns.map(lambda p: pattern_currency(p, self._locale) if p else None)
        where = f"tab {main!r}, column {header!r}"
        read = column_currencies(codes.to_dict(), patterns.to_dict(), where, entity,
                                 "Format > Number > Currency", plain_unnamed=True)  # fmt: skip
        if read.unnamed is not None:
            self._unnamed[entity] = read.unnamed
        if read.every is not None:  # one currency: the column's, typed plain or not
            return frame.assign(currency=read.every), []
        if not read.rows:
            return frame, []
        return frame.assign(currency=codes.where(codes != "?")), read.notices

    def _formats(self, header: str, tabs: list[str]) -> dict[tuple[str, int], str]:
        """(tab, sheet row) -> the number format pattern of ``header``'s cell, for every
        tab given: one spreadsheets.get of that column alone, its formats alone."""
        ranges: list[str] = []
        for tab in tabs:
            rows = self._values().get(tab, [])
            start = header_index(rows)
            if start is None:
                continue
            names = [normalise(str(n)) for n in column_names(rows[start])]
            if normalise(header) in names:
                letter = _column_letter(names.index(normalise(header)))
                ranges.append(f"{_quote(tab)}!{letter}{start + 2}:{letter}")
        if not ranges:
            return {}
        answer = self.api.client.http_client.fetch_sheet_metadata(
            self.key,
            params={"includeGridData": "true", "ranges": ranges, "fields": _FORMAT_FIELDS},
        )
        found: dict[tuple[str, int], str] = {}
        for sheet in answer.get("sheets", []):
            title = str(sheet.get("properties", {}).get("title", ""))
            for data in sheet.get("data", []) or []:
                first = int(data.get("startRow", 0)) + 1  # Google leaves out a start of 0
                for i, row in enumerate(data.get("rowData", []) or []):
                    cell = (row.get("values") or [{}])[0]
                    number = (cell.get("effectiveFormat") or {}).get("numberFormat") or {}
                    if number.get("pattern") and number.get("type") in ("CURRENCY", "NUMBER"):
                        found[(title, first + i)] = str(number["pattern"])
        return found

    def _prepare(self, main: str) -> tuple[Prepared, list[SourceReject]]:
        """A table tab with the tabs read with it ("Orders 2024" beside "Orders", a second
        tab of one export), by the layout placing found for it; once per tab."""
        if main in self._prepared:
            return self._prepared[main]
        layout = self._layouts.get(main)
        tabs = [main, *self._companions.get(main, []), *self._period_tabs().get(main, [])]
        pieces: list[Prepared] = []
        unread: list[SourceReject] = []
        for tab in tabs:
            raw, more = split_rows(self._values()[tab], first_row_number=1, where=tab)
            pieces.append(prepare(raw, layout, tab, self.mappings))
            unread = unread + more
        prepared = pieces[0] if len(pieces) == 1 else join_prepared(pieces, tabs)
        self._prepared[main] = (prepared, prepared.settle(unread))
        return self._prepared[main]

    def _opt_out_lists(self) -> OptOutLists:
        """Tabs that give no table but name people who opted out (an "Unsubscribes" tab
        with `Email` and `Unsubscribed At`, a Mailchimp unsubscribed export pasted in):
        applied to the contacts by e-mail, as the files source applies such files."""
        if self._lists is None:
            names: dict[str, str] = {}
            for title in self._others:
                members, _ = self._list_members(title)
                said = said_no(members) if "email" in members else []
                if any(said):
                    names[title] = self._list_layouts.get(title, "a list of people")
            # A tab that gives the orders while `Customers` gives the contacts: its buyers'
            # "Accepts Marketing = no" counts too (consent fails closed).
            givers = placing.buyers_elsewhere(self._locate(), self._layouts)
            names.update({title: self._layouts[title].name for title in givers})
            more = {
                t: [*self._companions.get(t, []), *self._period_tabs().get(t, [])] for t in names
            }
            parts = {t: tabs for t, tabs in more.items() if tabs}  # orders_export_2 with _1
            self._lists = OptOutLists(
                names, self._list_members, noun="Tab", gives=givers, parts=parts
            )
        return self._lists

    def _list_members(self, title: str) -> tuple[pd.DataFrame, list[SourceReject]]:
        if title in self._locate().values():  # a tab read for its tables: as it was read
            prepared, unread = self._prepare(title)
            return prepared.table("contacts", self.mappings.get("contacts"))[0], unread
        raw, unread = split_rows(self._values().get(title, []), first_row_number=1, where=title)
        layout = next((found for found in matching(raw.head(50)) if "contacts" in found.tables),
                      None)  # fmt: skip
        if layout is None:
            return pd.DataFrame(), unread
        self._list_layouts[title] = layout.name
        members, _ = prepare(raw, layout, title).table("contacts")
        return members, unread

    def _locate(self) -> dict[str, str]:
        """Table -> tab, placed as a workbook's sheets are (``placing.place``): the config,
        then tab names, then known exports by their first rows, whatever the tab is called
        (a Shopify orders export in "Orders" or "orders_export_1" gives its buyers, with
        their consent, and its line items too), then names with a period."""
        if self._located is not None:
            return self._located
        meta = self.api.client.http_client.fetch_sheet_metadata(self.key)
        self.title = str(meta.get("properties", {}).get("title", ""))
        self._locale = str(meta.get("properties", {}).get("locale") or "")
        zone = meta.get("properties", {}).get("timeZone")
        self._zone = zone.strip() if isinstance(zone, str) and zone.strip() else None
        ours = {s["properties"]["title"] for s in meta.get("sheets", []) if _our_role(s)}
        titles = [
            s["properties"]["title"]
            for s in meta.get("sheets", [])
            if s["properties"]["title"] not in ours
        ]
        self._titles = titles
        where = f"the spreadsheet {self.title!r}"
        named = locate_tables(self.tables, titles, where, noun="tab")  # config's tabs exist
        merges = {s["properties"]["title"]: s.get("merges", []) for s in meta.get("sheets", [])}
        self._fetch(titles, merges)
        located, self._layouts = placing.place(
            self.tables, titles, self._head, where, noun="tab", mappings=self.mappings
        )
        self._companions = placing.companions(located, self._layouts)
        joined = {n for more in self._companions.values() for n in more}
        # A table only names with a period gave ("Orders 2023" alone): `_period_tabs`
        # reads the others with it, as the files source does.
        self._by_period = {
            t: n for t, n in located.items() if t not in named and n not in self._layouts
        }
        self._maybe_parts = [
            t
            for t in titles
            if t not in located.values() and t not in joined and table_part(t) in located
        ]
        if "contacts" in located:  # the others may be lists of opt-outs (`_opt_out_lists`)
            self._others = [
                t
                for t in titles
                if t not in located.values() and t not in self._maybe_parts and t not in joined
            ]
        self._located = located
        return located

    def _head(self, title: str) -> pd.DataFrame:
        """A tab's first rows, as ``placing.place`` looks at a file's."""
        if title not in self._heads:
            rows = self._values()[title][: placing.HEAD_ROWS]
            self._heads[title] = frame_from_rows(rows, first_row_number=1, where=title)
        return self._heads[title]

    def _period_tabs(self) -> dict[str, list[str]]:
        """Main tab -> tabs with more of its rows by period ("Orders 2024" beside "Orders",
        the same headers); an empty tab or one whose headers differ is refused, with why.

        The main tab is the one its name gives, unless it is empty; among tabs named
        with a period alone, the first of the headers most of them share (people add a
        new year's tab on the left, and an old layout or an empty tab can come first)."""
        if self._parts is not None:
            return self._parts
        located, values = self._locate(), self._values()
        self._parts = {}
        groups: dict[str, list[str]] = {}
        for title in self._maybe_parts:
            table = table_part(title)
            if table is not None:
                groups.setdefault(table, [located[table]]).append(title)
        for table, tabs in groups.items():
            headers = {t: frozenset(_headers(values[t], t)) for t in tabs}
            named = tabs[0] != self._by_period.get(table)  # "Orders", not "Orders 2023"
            if not (named and headers[tabs[0]]):  # a plain name that holds rows stays main
                located[table] = main_part(tabs, headers)
            main = located[table]
            for title in [t for t in tabs if t != main]:
                if not headers[title]:
                    self._refused[title] = "it is empty (no header row)"
                    continue
                why = part_refused(table, main, set(headers[title]), set(headers[main]))
                if why is None:
                    self._parts.setdefault(main, []).append(title)
                else:
                    self._refused[title] = why
        return self._parts

    def _values(self) -> dict[str, list[list[Any]]]:
        if self._rows is None:
            self._locate()
        return self._rows or {}

    def _fetch(self, tabs: list[str], merges: Mapping[str, list[Mapping[str, Any]]]) -> None:
        """Every tab but ours in one request (Google counts a batchGet as one read): which
        table a tab gives may depend on its rows, as a workbook sheet's does. Cells merged
        down over rows get the merge's value on each row (``_merged_down``)."""
        answer = self.api.client.http_client.values_batch_get(
            self.key,
            [_quote(t) for t in tabs],
            params={
                "valueRenderOption": "UNFORMATTED_VALUE",
                "dateTimeRenderOption": "SERIAL_NUMBER",
                "majorDimension": "ROWS",
            },
        )
        ranges = answer.get("valueRanges", [])
        self._rows = {t: r.get("values", []) for t, r in zip(tabs, ranges, strict=True)}
        for tab, rows in self._rows.items():
            if merges.get(tab):
                self._merge_notes[tab] = _merged_down(rows, merges[tab], tab)


def _merged_down(
    rows: list[list[Any]], merges: list[Mapping[str, Any]], tab: str
) -> list[tuple[int, str, str]]:
    """Fills ``rows`` in place where cells are merged down over rows below the header, as a
    workbook's are (``sheet_rows.MergedDown``): Sheets keeps a merge's value in its first
    cell, and values.get gives it on the first row alone (a customer's ID merged over their
    orders left the others without one). The merges are GridRanges from the metadata
    (zero-based, ends exclusive, a start of 0 left out); returns the run's line on them."""
    start = header_index(rows)
    if start is None:
        return []
    ranges = [
        (int(m.get("startRowIndex", 0)) + 1, int(m["endRowIndex"]),
         int(m.get("startColumnIndex", 0)) + 1)
        for m in merges
        if int(m.get("endRowIndex", 0)) - int(m.get("startRowIndex", 0)) > 1
    ]  # fmt: skip
    filler = MergedDown(ranges, below=start + 1, shown_by="Google Sheets")
    for index in range(start + 1, len(rows)):
        rows[index] = filler.fill(index + 1, rows[index])
    return filler.note(tab)


# Locales whose spreadsheets read a typed 06/01/2025 as June 1 (Google's default is en_US).
_MONTH_FIRST_LOCALES = ("en_US", "en_PH", "fil_PH", "en_CA", "es_US")
# Locales that write the year first (2025/01/06): what they make of 06/01/2025 is not known.
_YEAR_FIRST_LOCALES = ("ja", "zh", "ko", "hu", "lt", "mn", "sv")
_DAY_FIRST_TEXT = re.compile(r"^\s*(1[3-9]|2\d|3[01])[/.-](0?[1-9]|1[0-2])[/.-]\d{2,4}\b")


def _locale_order(locale: str) -> tuple[bool, str] | None:
    """Day first, with the words naming the setting, for a day-first locale (en_GB, de_DE);
    None for one Google reads month first (a bare "en" too) or year first, or none."""
    if locale in ("", "en") or locale.startswith(_MONTH_FIRST_LOCALES + _YEAR_FIRST_LOCALES):
        return None
    return True, f"the spreadsheet is set to {locale} (File > Settings > Locale), which writes the day first"  # fmt: skip


def _locale_dates(entity: str, frame: pd.DataFrame, locale: str, tab: str) -> list[Notice]:
    """Dates typed day-first in a spreadsheet set to a month-first locale: Sheets turns
    those it can read (06/01/2025) into dates, wrongly as June 1, and keeps the others
    (16/01/2025) as text, which is all the values it answers tell. Such a column cannot
    be put right from them, so the run says so (an explorer found 23 of 60 orders moved)."""
    if not locale.startswith(_MONTH_FIRST_LOCALES) or frame.empty:
        return []
    notices = []
    for column in TABLES[entity].columns:
        if column.kind != "datetime" or column.name not in frame:
            continue
        values = frame[column.name].dropna()
        text = [v for v in values if isinstance(v, str) and _DAY_FIRST_TEXT.match(v)]
        dates = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if text and dates:
            notices.append(
                Notice(
                    "locale_dates",
                    entity,
                    len(dates),
                    f"Tab {tab!r}, {column.name}: {len(text):,} dates are typed day first (e.g. "
                    f"{text[0]!r}) in a spreadsheet set to {locale}, so the {len(dates):,} "
                    "it turned into dates may have day and month swapped (06/01/2025 read as "
                    "June 1). Set File > Settings > Locale to your country and type them "
                    "again, or write dates as 2025-01-06.",
                )
            )
    return notices


def _headers(rows: list[list[Any]], title: str) -> set[str]:
    frame, _ = split_rows(rows, first_row_number=1, where=title)
    return {str(c) for c in frame.columns if c != SOURCE_ROW}


def _column_letter(index: int) -> str:
    """A zero-based column index as its A1 letters (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _quote(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def _our_tabs(sheets: list[Mapping[str, Any]], report: PushReport) -> dict[str, Mapping[str, Any]]:
    """Role -> the tab of ours to refresh. A copy of one ("Copy of Scores", made with the
    tab's developer metadata) carries its role too: the tab the last refresh wrote (its
    mark names its own sheet) stays the one refreshed, wherever the copy is dragged; for
    tabs from before that mark, the first in tab order. The others are named, left alone."""
    roles: dict[str, list[Mapping[str, Any]]] = {}
    for sheet in sheets:
        role = _our_role(sheet)
        if role:
            roles.setdefault(role, []).append(sheet)
    ours: dict[str, Mapping[str, Any]] = {}
    for role, found in roles.items():
        written = [s for s in found if _written_here(s)]
        ours[role] = chosen = (written or found)[0]
        for sheet in found:
            if sheet is not chosen:  # a note: all was written, the copy is the user's
                report.notes.append(
                    f"{sheet['properties']['title']}: left as it is, not refreshed (it carries "
                    f"the mark of {chosen['properties']['title']!r}, which is refreshed: a copy "
                    "of it, or made by two syncs at once; delete it if you do not need it)"
                )
    return ours


def _written_here(sheet: Mapping[str, Any]) -> bool:
    """Whether the tab's last refresh was written on this very tab (not copied with it)."""
    mark = write_mark(sheet)
    return mark is not None and mark.get("sheet") == sheet["properties"].get("sheetId")


def _our_role(sheet: Mapping[str, Any]) -> str | None:
    for meta in sheet.get("developerMetadata", []) or []:
        if meta.get("metadataKey") == METADATA_KEY:
            return str(meta.get("metadataValue"))
    return None


# -- what goes into the result tabs --------------------------------------------------
@dataclass
class ResultTab:
    role: str  # stable name in the metadata; the title the user sees may change
    title: str
    frame: pd.DataFrame
    note: str = ""
    chart: dict[str, Any] | None = None  # for the forecast: which rows and columns to draw
    key: str | None = None  # the column naming each row's record (user_columns)


def result_tabs(result: RunResult) -> list[ResultTab]:
    """The Sheets tabs the run's steps declare, in step order, then Rejects; empty ones say why.

    A tab shows this run's results only: what a skipped or failed step filled is gone from it
    (a failed step's older rows are not kept, as they may hold contacts who opted out since),
    and the note names the step and why."""
    frames = {t: f for step in result.steps.values() for t, f in step.sheets.items()}
    groups: dict[str, tuple[SheetsTab, str, list[tuple[Tab, SheetsPart]]]] = {}
    for tab in result.tabs().values():
        for part in tab.sheets:
            title = part.tab.title or tab.title
            groups.setdefault(part.tab.role, (part.tab, title, []))[2].append((tab, part))
    tabs: list[ResultTab] = []
    for role, (sheet, title, parts) in groups.items():
        frame = _combined(parts, frames)
        if sheet.prepare is not None:
            frame = sheet.prepare(frame)
        if sheet.columns:  # the declared order first; a column a new part brings, after
            first = [c for c in sheet.columns if c in frame.columns]
            frame = frame[first + [c for c in frame.columns if c not in sheet.columns]]
        chart = sheet.chart(frame) if sheet.chart is not None else None
        out = ResultTab(role, title, frame, chart=_chart_spec(chart) if chart else None,
                        key=sheet.key)  # fmt: skip
        if frame.empty:
            why = _why_empty(result, role)
            out.note = "Nothing to show this run" + (f" ({why})" if why else "") + "."
        tabs.append(out)
    tabs.append(
        ResultTab(
            "rejects",
            REJECTS_TAB,
            rejects_for_people(result.rejects, REJECT_COLUMNS),
            "Rows or values we could not use: fix them in the source tab (row number given) "
            "and the next refresh picks them up.",
        )
    )
    return tabs


def _why_empty(result: RunResult, role: str) -> str:
    """Why the steps that fill the tab ``role`` gave nothing: skipped or failed, each said
    once. The note ran every skipped step together, so the Prices tab blamed lead scores
    and deals (a Sheets explorer)."""
    steps = [
        name
        for name, outputs in result.declared.items()
        if any(part.tab.role == role for tab in outputs.tabs for part in tab.sheets)
    ]
    lines = [result.skipped_steps[s] for s in steps if s in result.skipped_steps]
    lines += [f"{_label(result, s)} failed: {result.failed[s]}" for s in steps if s in result.failed]  # fmt: skip
    return "; ".join(line.rstrip(".") for line in lines)


def _label(result: RunResult, step: str) -> str:
    """A step as people read it ("Churn risk and customer value", not "churn value")."""
    return result.labels.get(step) or step.replace("_", " ")


def held_back_tabs(result: RunResult) -> dict[str, str]:
    """Tab roles a held-back step fills, with why: rewriting them would publish partial data."""
    held: dict[str, str] = {}
    for step, outputs in result.declared.items():
        if step in result.held_back:
            for tab in outputs.tabs:
                for part in tab.sheets:
                    held.setdefault(part.tab.role, f"{_label(result, step)} held back: "
                                    f"{result.held_back[step]}")  # fmt: skip
    return held


def _combined(
    parts: list[tuple[Tab, SheetsPart]], frames: Mapping[str, pd.DataFrame]
) -> pd.DataFrame:
    """The rows parts stacked (empty ones left out when several fill the tab), then the joins."""
    rows = sorted((p for p in parts if p[1].how == "rows"), key=lambda p: p[1].order)
    pieces = [_part(frames[tab.title], part) for tab, part in rows if tab.title in frames]
    if len(rows) > 1:
        pieces = [p for p in pieces if not p.empty]
    if not pieces:
        return pd.DataFrame()
    frame = pieces[0] if len(pieces) == 1 else pd.concat(pieces, ignore_index=True)
    for tab, part in parts:
        joined = frames.get(tab.title)
        if part.how == "join" and joined is not None and not joined.empty:
            frame = frame.merge(_part(joined, part), on=part.on, how="left")
    return frame


def _part(frame: pd.DataFrame, part: SheetsPart) -> pd.DataFrame:
    if part.rename:
        frame = frame.rename(columns=dict(part.rename))
    if part.constants:
        frame = frame.assign(**part.constants)
    return frame[list(part.columns)] if part.columns else frame


def _chart_spec(chart: SheetsChart) -> dict[str, Any]:
    return {
        "title": chart.title,
        "rows": chart.rows,
        "domain": chart.domain,
        "series": list(chart.series),
    }


# -- the batchUpdate for one tab -----------------------------------------------------
def _extended(value: Any) -> dict[str, Any] | None:
    """A typed cell value; text is always a stringValue, so it can never become a formula."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return {"stringValue": str(yes_no(bool(value)))}  # "Yes"/"No", as the workbook says it
    if isinstance(value, pd.Timestamp | datetime | date):
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert(None)
        return {
            "numberValue": round((stamp - pd.Timestamp("1899-12-30")).total_seconds() / 86400, 6)
        }
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return None  # an empty cell, as in the workbook: "inf" is not a figure to show
        return {"numberValue": value}
    if isinstance(value, list | tuple):
        value = "; ".join(str(v) for v in value)
    return {"stringValue": _fits_a_cell(str(value))}


def _fits_a_cell(text: str) -> str:
    """Text under Google's 50,000 characters a cell, and, when cut, saying so at its end.

    Counted in UTF-16 units (an emoji is two): Google does not say its unit, and this one
    is never fewer than code points, so a cut text is never refused."""
    if len(text) <= MAX_CELL_CHARS // 2 or len(text.encode("utf-16-le")) // 2 <= MAX_CELL_CHARS:
        return text
    mark = f" [cut: {len(text):,} characters in all]"
    room = MAX_CELL_CHARS - len(mark) - 1
    kept = text.encode("utf-16-le")[: room * 2].decode("utf-16-le", errors="ignore")
    return kept + "…" + mark


def _date_like(name: str, series: pd.Series) -> bool:
    """ISO date text in a date column (the forecast's month) is written as a real date."""
    if pd.api.types.is_datetime64_any_dtype(series) or isinstance(series.dtype, pd.DatetimeTZDtype):
        return True
    if not (name in ("month", "date", "ds") or name.endswith(("_at", "_date"))):
        return False
    values = series.dropna().astype(str)
    return bool(len(values)) and bool(values.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all())


def _number_spec(name: str, series: pd.Series) -> dict[str, str] | None:
    """The workbook's format for the column (`xlsx.number_format`): a whole score reads 64,
    money keeps its currency's decimals even where every value is whole (a range's low
    ends, all 0, read "0" beside a forecast's "181,210.53" in one row)."""
    pattern = number_format(name, series)
    if pattern is None:
        return None
    kind = "DATE" if "yy" in pattern else "PERCENT" if pattern.endswith("%") else "NUMBER"
    if kind == "DATE" and "hh" in pattern:
        kind = "DATE_TIME"
    return {"type": kind, "pattern": pattern}


_EMPTY: dict[str, Any] = {}


def _column_cells(series: pd.Series) -> list[dict[str, Any]]:
    """One column's cells, typed by the column's dtype (fast), or value by value (object)."""
    missing = series.isna().to_numpy()
    if pd.api.types.is_bool_dtype(series):
        values = series.fillna(False).astype(bool).map(yes_no).tolist()
        return [_EMPTY if m else {"userEnteredValue": {"stringValue": v}} for v, m in zip(values, missing, strict=True)]  # fmt: skip
    if pd.api.types.is_datetime64_any_dtype(series):
        stamps = series.dt.tz_convert(None) if series.dt.tz is not None else series
        serial = ((stamps - pd.Timestamp("1899-12-30")).dt.total_seconds() / 86400).round(6)
        return [_EMPTY if m else {"userEnteredValue": {"numberValue": v}} for v, m in zip(serial.tolist(), missing, strict=True)]  # fmt: skip
    if pd.api.types.is_numeric_dtype(series):
        numbers = series.astype("float64").to_numpy()
        whole = pd.api.types.is_integer_dtype(series)
        cells = []
        for v, m in zip(numbers.tolist(), missing, strict=True):
            if m or not math.isfinite(v):  # infinite: empty, as `_extended` leaves it
                cells.append(_EMPTY)
            else:
                cells.append({"userEnteredValue": {"numberValue": int(v) if whole else v}})
        return cells
    if pd.api.types.is_string_dtype(series) and not pd.api.types.is_object_dtype(series):
        texts = [_fits_a_cell(t) for t in series.fillna("").tolist()]
        return [_EMPTY if m else {"userEnteredValue": {"stringValue": t}} for t, m in zip(texts, missing, strict=True)]  # fmt: skip
    return [_cell(v) for v in series.tolist()]


def _cell(value: Any) -> dict[str, Any]:
    typed = _extended(value)
    return {"userEnteredValue": typed} if typed else _EMPTY


def sheet_header(frame: pd.DataFrame) -> list[str]:
    """The header row a result tab shows: plain labels, not the code's column names."""
    return [column_label(c) for c in frame.columns]


def _rows_json(frame: pd.DataFrame) -> list[dict[str, Any]]:
    header = {
        "values": [
            {"userEnteredValue": {"stringValue": label}, "userEnteredFormat": _HEADER_FORMAT}
            for label in sheet_header(frame)
        ]
    }
    columns = [_column_cells(frame.iloc[:, i]) for i in range(frame.shape[1])]
    return [header, *({"values": list(cells)} for cells in zip(*columns, strict=True))]


def written_frame(tab: ResultTab, kept: Kept | None = None) -> pd.DataFrame:
    """The tab's rows as written: with the rows kept for the user's columns (their key
    only) after them; a tab with a key always shows its key column."""
    frame = tab.frame.copy()
    if tab.key is not None and tab.key not in frame.columns:  # a run with no rows to show
        frame[tab.key] = pd.Series(dtype="string")
    if kept is not None and kept.leftover and tab.key is not None:
        # rows whose key left the results: the key, and the user's cells beside it
        gone = pd.DataFrame({tab.key: [k for k, _ in kept.leftover]}, dtype="string")
        frame = pd.concat([frame, gone], ignore_index=True) if len(frame) else gone
    return frame


def tab_requests(
    tab: ResultTab,
    sheet_id: int,
    existing: Mapping[str, Any] | None,
    refreshed: str,
    write: str | None = None,
    kept: Kept | None = None,
    records: str = "",
    writer: str = "",
    shrink: bool = False,
) -> list[list[dict[str, Any]]]:
    """The batchUpdate request lists for one tab: one list unless the body passes 9 MB.

    With ``write`` (one sync's own mark), list i also leaves ``write:i`` in the tab's
    developer metadata, so a sync that lost an answer can tell whether the change landed,
    and the last list leaves ``refreshed``, which a later sync quotes if it cannot finish.
    ``kept``: the user's columns, written right of ours (values only), in the first list
    with every row's key: a tab that stops part way keeps each key beside its cells.
    ``records``: whose records the rows are (the source's account), kept with our labels;
    ``writer``: which store wrote them (`writer_id`), so another one does not take over;
    ``shrink``: the grid is cut to this run's rows and columns (only near Google's cap)."""
    frame = written_frame(tab, kept)
    ours = max(len(frame.columns), 1)
    for name in frame.columns:
        if _date_like(str(name), frame[name]) and not pd.api.types.is_datetime64_any_dtype(
            frame[name]
        ):
            frame[name] = pd.to_datetime(frame[name], errors="coerce")
    width, height = grid_size(frame, kept, None if shrink else existing)
    first: list[dict[str, Any]] = []
    if existing is None:
        first.append(
            {
                "addSheet": {
                    "properties": {
                        "sheetId": sheet_id,
                        "title": tab.title,
                        "gridProperties": {"rowCount": height, "columnCount": width},
                    }
                }
            }
        )
        first.append(
            {
                "createDeveloperMetadata": {
                    "developerMetadata": {
                        "metadataKey": METADATA_KEY,
                        "metadataValue": tab.role,
                        "location": {"sheetId": sheet_id},
                        "visibility": "DOCUMENT",
                    }
                }
            }
        )
    else:
        first += [
            {"deleteEmbeddedObject": {"objectId": chart["chartId"]}}
            for chart in _our_charts(existing, tab)
        ]
        # The grid only grows: rows and columns past this run's are cleared, never
        # deleted, since Google turns a formula naming a deleted cell into #REF! for good
        now = existing["properties"].get("gridProperties", {})
        if shrink and now.get("frozenRowCount", 0) >= height:
            first.append(_grid(sheet_id, "frozenRowCount", 0))
        resize = []
        if height != now.get("rowCount", 0):
            resize.append(_grid(sheet_id, "rowCount", height))
        if width != now.get("columnCount", 0):
            resize.append(_grid(sheet_id, "columnCount", width))
        # Google applies rowCount, checks its cell cap, then applies columnCount: the
        # dimension that shrinks goes first, or a tab growing longer and narrower is
        # refused though it would fit (robin900/gspread-dataframe#38)
        first += resize[::-1] if width < now.get("columnCount", width) else resize
    body_rows = _rows_json(frame)
    chunks = _chunk(body_rows)
    lists: list[list[dict[str, Any]]] = []
    for i, (start, rows) in enumerate(chunks):
        requests = first if i == 0 else []
        where: dict[str, Any]
        if i == 0:  # a range over the whole grid also clears whatever was there before
            span = {"sheetId": sheet_id, "startRowIndex": _HEADER_ROW, "startColumnIndex": 0}
            if kept is not None and kept.headers:  # ours only: the user's are written below
                span["endColumnIndex"] = ours
            where = {"range": span}
            requests.append(
                {
                    "updateCells": {
                        "range": {"sheetId": sheet_id, "startRowIndex": 0, "endRowIndex": 1},
                        "fields": "userEnteredValue,userEnteredFormat",
                    }
                }
            )
        else:
            where = {
                "start": {"sheetId": sheet_id, "rowIndex": _HEADER_ROW + start, "columnIndex": 0}
            }
        requests.append(
            {"updateCells": {**where, "rows": rows, "fields": "userEnteredValue,userEnteredFormat"}}
        )
        if write is not None:
            requests += _mark(sheet_id, WRITE_KEY, f"{write}:{i}")
        lists.append(requests)
    if len(lists) > 1:  # a tab in several requests says it is unfinished until the last lands
        lists[0].append(
            note_request(
                sheet_id,
                f"Being refreshed ({refreshed}): if this line stays, the refresh stopped "
                "part way and rows below are missing; the next refresh rewrites the tab",
            )
        )
    last = lists[-1]
    note = tab.note.rstrip(".")
    if kept is not None and kept.leftover:
        n = len(kept.leftover)
        note = (f"{note}. " if note else "") + (
            f"{n} {'row' if n == 1 else 'rows'} at the bottom {'is' if n == 1 else 'are'} no "
            "longer in the results: kept for the columns you added beside them"
        )
    last.append(note_request(sheet_id, f"Last refreshed {refreshed}" + (f". {note}." if note else "")))  # fmt: skip
    if write is not None:
        last += _mark(sheet_id, REFRESHED_KEY, refreshed)
    chart_id = _new_chart_id(existing, sheet_id) if tab.chart else None
    charts = [chart_id] if chart_id is not None else []
    mark = columns_mark(sheet_header(frame), records, sheet=sheet_id, rows=height, charts=charts,
                        data=len(frame), writer=writer)  # fmt: skip
    last += _mark(sheet_id, COLUMNS_KEY, mark)
    if kept is not None and kept.headers:  # with our first rows: together or not at all
        body = [{"values": cells} for cells in kept.rows]
        body += [{"values": cells} for _, cells in kept.leftover]
        lists[0].append(
            {
                "updateCells": {
                    "range": {"sheetId": sheet_id, "startRowIndex": _HEADER_ROW,
                              "startColumnIndex": ours},
                    "rows": [{"values": kept.headers}, *body],
                    "fields": "userEnteredValue",
                }
            }
        )  # fmt: skip
        if len(lists) > 1 and tab.key in frame.columns:  # every key now, the rest later
            at = int(frame.columns.get_loc(tab.key))
            keys = [{"values": [cell]} for cell in _column_cells(frame[tab.key])]
            lists[0].append(
                {
                    "updateCells": {
                        "start": {"sheetId": sheet_id, "rowIndex": _HEADER_ROW + 1,
                                  "columnIndex": at},
                        "rows": keys,
                        "fields": "userEnteredValue",
                    }
                }
            )  # fmt: skip
    for col, name in enumerate(frame.columns):
        spec = _number_spec(str(name), frame[name])
        if spec and len(frame):
            last.append(
                {
                    "repeatCell": {
                        "range": {
                            "sheetId": sheet_id,
                            "startRowIndex": _HEADER_ROW + 1,
                            "endRowIndex": _HEADER_ROW + 1 + len(frame),
                            "startColumnIndex": col,
                            "endColumnIndex": col + 1,
                        },
                        "cell": {"userEnteredFormat": {"numberFormat": spec}},
                        "fields": "userEnteredFormat.numberFormat",
                    }
                }
            )
    frozen = (existing or {}).get("properties", {}).get("gridProperties", {}).get("frozenRowCount", 0)  # fmt: skip
    last.append(
        {
            "updateSheetProperties": {  # ours are 2; more the user froze stay, if they fit
                "properties": {"sheetId": sheet_id,
                               "gridProperties": {"frozenRowCount": frozen if 2 < frozen < height else 2}},
                "fields": "gridProperties.frozenRowCount",
            }
        }
    )  # fmt: skip
    if tab.chart and chart_id is not None:
        last.append(_chart(sheet_id, frame, tab.chart, chart_id))
    if kept is not None and kept.below:  # after every clear: what the user typed below ours
        top = kept.below[0][0]
        rows_below: list[dict[str, Any]] = [
            {"values": []} for _ in range(kept.below[-1][0] + 1 - top)
        ]
        for row, cells in kept.below:
            rows_below[row - top] = {"values": cells}
        last.append(
            {
                "updateCells": {
                    "start": {"sheetId": sheet_id, "rowIndex": top, "columnIndex": 0},
                    "rows": rows_below,
                    "fields": "userEnteredValue",
                }
            }
        )
    return lists


def grid_size(
    frame: pd.DataFrame, kept: Kept | None, existing: Mapping[str, Any] | None
) -> tuple[int, int]:
    """(columns, rows) the tab's grid has after the write: what this run writes, or the
    grid as it is when that is bigger (cleared, not deleted: see `tab_requests`)."""
    width = max(len(frame.columns), 1) + (len(kept.headers) if kept is not None else 0)
    height = len(frame) + 2 + (1 if frame.empty else 0)
    if kept is not None and kept.below:
        height = max(height, kept.below[-1][0] + 1)
        width = max(width, *(len(cells) for _, cells in kept.below))
    if existing is not None:
        now = existing["properties"].get("gridProperties", {})
        width = max(width, int(now.get("columnCount", 0)))
        height = max(height, int(now.get("rowCount", 0)))
    return width, height


def note_request(sheet_id: int, text: str) -> dict[str, Any]:
    """The tab's first line: when it was refreshed, by which run, and anything to know."""
    cell = {"userEnteredValue": {"stringValue": text}, "userEnteredFormat": _NOTE_FORMAT}
    return {
        "updateCells": {
            "start": {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": 0},
            "rows": [{"values": [cell]}],
            "fields": "userEnteredValue,userEnteredFormat",
        }
    }


def _grid(sheet_id: int, name: str, value: int) -> dict[str, Any]:
    return {
        "updateSheetProperties": {
            "properties": {"sheetId": sheet_id, "gridProperties": {name: value}},
            "fields": f"gridProperties.{name}",
        }
    }


def _mark(sheet_id: int, key: str, value: str) -> list[dict[str, Any]]:
    """Replace the tab's developer metadata ``key`` (deleting none is not an error)."""
    lookup = {"metadataKey": key, "metadataLocation": {"sheetId": sheet_id}}
    return [
        {"deleteDeveloperMetadata": {"dataFilter": {"developerMetadataLookup": lookup}}},
        {
            "createDeveloperMetadata": {
                "developerMetadata": {
                    "metadataKey": key,
                    "metadataValue": value,
                    "location": {"sheetId": sheet_id},
                    "visibility": "DOCUMENT",
                }
            }
        },
    ]


def _metadata(sheet: Mapping[str, Any], key: str) -> str | None:
    for meta in sheet.get("developerMetadata", []) or []:
        if meta.get("metadataKey") == key:
            return str(meta.get("metadataValue"))
    return None


def _chunk(rows: list[dict[str, Any]]) -> list[tuple[int, list[dict[str, Any]]]]:
    """Rows in pieces under CHUNK_BYTES of JSON; almost always one piece (measured once)."""
    if len(json.dumps(rows, separators=(",", ":"))) <= CHUNK_BYTES:
        return [(0, rows)]
    chunks: list[tuple[int, list[dict[str, Any]]]] = []
    start, size = 0, 0
    current: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        length = len(json.dumps(row, separators=(",", ":")))
        if current and size + length > CHUNK_BYTES:
            chunks.append((start, current))
            start, size, current = i, 0, []
        current.append(row)
        size += length
    chunks.append((start, current))
    return chunks


def _our_charts(existing: Mapping[str, Any], tab: ResultTab) -> list[Mapping[str, Any]]:
    """The charts smbml drew on the tab (their ids are in its mark): a user's own chart
    on a result tab stays. A tab from before the mark: ours by the title we give them."""
    charts = existing.get("charts", []) or []
    mark = write_mark(existing)
    if mark is not None and isinstance(mark.get("charts"), list):
        return [c for c in charts if c.get("chartId") in mark["charts"]]
    title = (tab.chart or {}).get("title")
    return [c for c in charts if title and (c.get("spec") or {}).get("title") == title]


def _new_chart_id(existing: Mapping[str, Any] | None, sheet_id: int) -> int:
    """An id for the chart we draw, kept in the tab's mark to know it by next time."""
    taken = {c.get("chartId") for c in ((existing or {}).get("charts", []) or [])}
    rng = random.Random(sheet_id ^ secrets.randbits(31))
    chart_id = rng.randrange(1, 2**31 - 1)
    while chart_id in taken:
        chart_id = rng.randrange(1, 2**31 - 1)
    return chart_id


def _chart(
    sheet_id: int, frame: pd.DataFrame, chart: Mapping[str, Any], chart_id: int
) -> dict[str, Any]:
    columns = list(frame.columns)

    def source(name: str) -> dict[str, Any]:
        col = columns.index(name)
        return {
            "sourceRange": {
                "sources": [
                    {
                        "sheetId": sheet_id,
                        "startRowIndex": _HEADER_ROW,
                        "endRowIndex": _HEADER_ROW + 1 + int(chart["rows"]),
                        "startColumnIndex": col,
                        "endColumnIndex": col + 1,
                    }
                ]
            }
        }

    return {
        "addChart": {
            "chart": {
                "chartId": chart_id,
                "spec": {
                    "title": chart["title"],
                    "basicChart": {
                        "chartType": "LINE",
                        "legendPosition": "BOTTOM_LEGEND",
                        "headerCount": 1,
                        "axis": [
                            {"position": "BOTTOM_AXIS", "title": column_label(chart["domain"])},
                            {"position": "LEFT_AXIS", "title": "forecast with 80% range"},
                        ],
                        "domains": [{"domain": source(chart["domain"])}],
                        "series": [
                            {"series": source(name), "targetAxis": "LEFT_AXIS"}
                            for name in chart["series"]
                        ],
                    },
                },
                "position": {
                    "overlayPosition": {
                        "anchorCell": {
                            "sheetId": sheet_id,
                            "rowIndex": _HEADER_ROW,
                            "columnIndex": len(columns) + 1,
                        },
                        "widthPixels": 720,
                        "heightPixels": 360,
                    }
                },
            }
        }
    }


# -- writing -------------------------------------------------------------------------
@dataclass
class SheetsResults:
    """Destination: result tabs in a spreadsheet, refreshed in place on every run."""

    api: SheetsApi
    spreadsheet: str
    name: str = "Google Sheets result tabs"
    clock: Clock = SYSTEM_CLOCK  # the "refreshed" stamp on every tab
    take_over: bool = False  # `[google] take_over_tabs`: tabs another store wrote become ours

    def __post_init__(self) -> None:
        self.key = spreadsheet_key(self.spreadsheet)

    def publish(self, result: RunResult, store: Any = None) -> PushReport:
        with shown_in(result.currency):  # money columns: no decimals for yen
            return self._publish(result, store)

    def _publish(self, result: RunResult, store: Any) -> PushReport:
        """Every result tab, one batchUpdate each; a tab Google refuses costs only itself.

        The first request also marks every other tab of ours this sync rewrites as being
        refreshed, quoting the run its rows are from: a sync that stops part way (quota
        spent, network gone) leaves each tab saying which run it shows."""
        report = PushReport(destination=f"Google Sheets {self.key[:12]}…", kind="sheets")
        meta = self.api.client.http_client.fetch_sheet_metadata(self.key)
        sheets = meta.get("sheets", [])
        ours = _our_tabs(sheets, report)
        titles = {s["properties"]["title"] for s in sheets}
        ids = {s["properties"]["sheetId"] for s in sheets}
        cells = sum(_cells(s) for s in sheets)
        refreshed = f"{self.clock.now().astimezone(UTC):%Y-%m-%d %H:%M} UTC (run {result.run_id}, data up to {result.local_as_of:%Y-%m-%d})"
        write = f"run {result.run_id} {secrets.token_hex(6)}"
        rng = random.Random()
        writer = _writer_of(store)
        taken = self._others_tabs(ours, writer, report)
        held = held_back_tabs(result)
        plans: list[tuple[ResultTab, int, Mapping[str, Any] | None]] = []
        for tab in result_tabs(result):
            existing = ours.get(tab.role)
            if tab.role in held:  # its last values were computed from complete data: kept
                report.detail.append(f"{tab.title}: left as it was ({held[tab.role]})")
                continue
            if existing is not None:
                sheet_id = int(existing["properties"]["sheetId"])
                tab.title = existing["properties"]["title"]
                _in_place(tab, existing)
            else:
                tab.title = _free_title(tab.title, titles)
                titles.add(tab.title)
                sheet_id = rng.randrange(10_000, 2**31 - 1)
                while sheet_id in ids:
                    sheet_id = rng.randrange(10_000, 2**31 - 1)
                ids.add(sheet_id)
            plans.append((tab, sheet_id, existing))
        records = _records_of(result, store)
        theirs = self._user_columns(plans, report, records, taken)
        stamp = refreshed.split(" (")[0]
        pending = {  # until one request lands: the note each other tab of ours gets with it
            sheet_id: note_request(sheet_id, _not_refreshed(result.run_id, stamp, existing))
            for _, sheet_id, existing in plans
            if existing is not None
        }
        kept: list[str] = []
        done: list[str] = []
        for tab, sheet_id, existing in plans:
            need, after, shrink = _grid_need(written_frame(tab, theirs.get(sheet_id)), theirs.get(sheet_id), existing, cells)  # fmt: skip
            lists = tab_requests(
                tab, sheet_id, existing, refreshed, write, theirs.get(sheet_id), records or "",
                writer, shrink,
            )  # fmt: skip
            notes = [n for i, n in pending.items() if i != sheet_id]
            if after > CELL_CAP:
                kept.append(
                    f"{tab.title} ({need:,} cells would take the spreadsheet to {after:,}, over "
                    f"Google's limit of {CELL_CAP:,}: delete unused rows and columns in other "
                    "tabs, or send the results to another spreadsheet)"
                )
                continue
            try:
                start = 0
                if notes:
                    try:
                        self._send(notes + lists[0], sheet_id, f"{write}:0")
                        start = 1
                    except SheetsHttpError:
                        # A batch lands whole or not at all, and the notes write into every
                        # other tab: one the owner protected refuses them all. This tab goes
                        # alone; if it lands, a note was refused and the others go without.
                        self._send(lists[0], sheet_id, f"{write}:0")
                        pending, start = {}, 1
                for i in range(start, len(lists)):
                    self._send(lists[i], sheet_id, f"{write}:{i}")
            except SheetsHttpError as exc:  # this tab refused (protected, too big): the next
                kept.append(f"{tab.title} (Google refused it: {exc.detail})")
                continue
            except SmbmlError as exc:  # quota spent, network gone, access lost: stop here
                raise SheetsNotAllWritten(_also(_stopped(exc, plans, done), report)) from exc
            pending = {}
            cells = after
            done.append(tab.title)
            if shrink:
                report.unwritten.append(
                    f"{tab.title}: its rows and columns past this run's were deleted, since the "
                    f"spreadsheet is near Google's limit of {CELL_CAP:,} cells: a formula that "
                    "named one of them now shows #REF!"
                )
            report.written += len(tab.frame)
            if sheet_id in theirs and theirs[sheet_id].headers:
                names = ", ".join(_shown(h) or "(no header)" for h in theirs[sheet_id].headers)
                report.detail.append(f"{tab.title}: your columns kept beside their rows ({names})")
            if sheet_id in theirs and theirs[sheet_id].below:
                report.detail.append(_below_line(tab.title, theirs[sheet_id].below))
            report.detail.append(f"{tab.title}: {len(tab.frame):,} rows")
        if kept:
            raise SheetsNotAllWritten(
                _also(
                    f"tabs left with an earlier run's rows: {'; '.join(kept)}"
                    + (f". Refreshed: {', '.join(done)}" if done else ""),
                    report,
                )
            )
        return report

    def _others_tabs(
        self, ours: Mapping[str, Mapping[str, Any]], writer: str, report: PushReport
    ) -> set[int]:
        """The tabs of ours another store wrote last (another config, maybe another shop):
        refused in one line unless ``take_over`` (then their ids, whose rows the user's
        notes no longer match). A tab from before the writer mark is taken as ours."""
        others = {
            int(sheet["properties"]["sheetId"]): str(sheet["properties"]["title"])
            for sheet in ours.values()
            if writer and (write_mark(sheet) or {}).get("writer") not in (None, "", writer)
        }
        if others and not self.take_over:
            names = ", ".join(repr(t) for t in others.values())
            raise SheetsNotAllWritten(
                f"nothing written: the result tabs {names} were written by another smbml "
                "config (another store, maybe another shop), and this run would replace its "
                "figures and put notes typed beside its people beside yours. Send this "
                "config's results to another spreadsheet, or, if these tabs are to be this "
                "config's from now on, set take_over_tabs = true under [google] for one run"
            )
        if others:
            report.detail.append(
                f"taken over from another smbml config (take_over_tabs): {', '.join(others.values())}"
            )
        return set(others)

    def _user_columns(
        self,
        plans: list[tuple[ResultTab, int, Mapping[str, Any] | None]],
        report: PushReport,
        records: str | None,
        taken: set[int],
    ) -> dict[int, Kept]:
        """The columns users added to our tabs, placed beside this refresh's rows, and what
        they typed below our rows (a total, a note), placed below this refresh's.

        A tab is read only when its grid holds cells our last write did not (columns
        inserted, rows added, or a grid larger than this run's rows since it never
        shrinks): one request for them all, typed cells; a run on tabs nobody touched
        reads nothing more. ``records``: the account this run's rows belong to (None: not
        known here, not compared); ``taken``: tabs another config wrote (no row matched)."""
        wanted: list[tuple[ResultTab, int, list[str], str | None, int | None]] = []
        for tab, sheet_id, existing in plans:
            if existing is None:
                continue
            last = last_write(existing)  # None: a tab from before, which did not say
            ours, before = last or (sheet_header(tab.frame), None)
            grid = existing["properties"].get("gridProperties", {})
            mark = write_mark(existing) or {}
            rows = mark.get("rows")
            data = mark.get("data", rows - 2 if isinstance(rows, int) else None)
            moved = rows is not None and grid.get("rowCount", 0) != rows  # rows added, deleted
            spare = data is not None and grid.get("rowCount", 0) > data + 2  # rows we cleared
            if grid.get("columnCount", 0) > len(ours) or moved or spare:
                if sheet_id in taken:
                    before = "another config"
                wanted.append((tab, sheet_id, ours, before, data))
        if not wanted:
            return {}
        answer = self.api.client.http_client.fetch_sheet_metadata(
            self.key,
            params={"includeGridData": "true", "ranges": [_quote(t.title) for t, *_ in wanted],
                    "fields": GRID_FIELDS},
        )  # fmt: skip
        grids = {int(s["properties"]["sheetId"]): grid_rows(s) for s in answer.get("sheets", [])}
        kept: dict[int, Kept] = {}
        lost: set[int] = set()
        for tab, sheet_id, ours, before, data in wanted:
            label = column_label(tab.key) if tab.key else ""
            grid = grids.get(sheet_id, [])
            above = _above_header(grid, ours)
            if above:  # a note: row 1 is smbml's, a title goes in a tab of the user's
                report.notes.append(
                    f"{tab.title}: what you typed above smbml's header ({above}) was not "
                    "kept: row 1 is smbml's note (put a title in a tab of your own)"
                )
            found = find_user_columns(grid, ours, _labels_written(tab), label, data)
            if found is None:
                continue
            if found.lost:
                lost.add(sheet_id)
                report.unwritten.append(
                    f"{tab.title}: left as it is, not refreshed: smbml's header row "
                    f"({', '.join(ours[:3])}, ...) is not in it, so the columns you added "
                    "could not be told from smbml's; type the header back (row 2), or delete "
                    "the tab and the next run makes it again"
                )
                continue
            new_end = _HEADER_ROW + 1 + len(tab.frame)
            if tab.key is None or not found.headers:
                if found.headers:
                    report.unwritten.append(
                        f"{tab.title}: the columns you added ({found.names}) were not kept: "
                        "its rows name no record to keep them beside (keep notes in a tab of "
                        "your own)"
                    )
                if found.below:  # a total or a note under a tab without user columns
                    kept[sheet_id] = Kept([], [], [], place_below(found, new_end))
                continue
            found = find_user_columns(grid, ours, _labels_written(tab), label, data) or found
            if before == "another config":
                found.problem = "the results now come from another config than when you typed them"
            elif records is not None and before is not None and before != records:
                found.problem = "the results now come from another account than when you typed them"
            if found.problem:  # a note: the user's cells are all kept, at the bottom
                report.notes.append(
                    f"{tab.title}: {found.problem}, so the rows with your columns are kept at "
                    "the bottom as they were, with the IDs they had"
                )
            column = (
                tab.frame[tab.key]
                if tab.key in tab.frame.columns
                else pd.Series([], dtype="string")
            )
            keys = column.astype("string").fillna("").str.strip().tolist()
            kept[sheet_id] = place(found, keys, _HEADER_ROW + 1)
            ends = _HEADER_ROW + 1 + len(keys) + len(kept[sheet_id].leftover)  # as written
            kept[sheet_id].below = place_below(found, ends)
        plans[:] = [p for p in plans if p[1] not in lost]  # left as they are, said above
        return kept

    def _send(self, requests: list[dict[str, Any]], sheet_id: int, mark: str) -> None:
        """One batchUpdate. A refusal after a retry may be the retry's own: the first try
        landed and its answer was lost (an addSheet then says the tab exists). The tab's
        write mark tells; when it is this request's, the request is done."""
        retries = self.api.retries
        try:
            self.api.client.http_client.batch_update(self.key, {"requests": requests})
        except SheetsHttpError:
            if self.api.retries == retries:
                raise
            meta = self.api.client.http_client.fetch_sheet_metadata(self.key)
            landed = any(
                s["properties"]["sheetId"] == sheet_id and _metadata(s, WRITE_KEY) == mark
                for s in meta.get("sheets", [])
            )
            if not landed:
                raise


class SheetsNotAllWritten(SmbmlError):
    """Some result tabs still show an earlier run (each says so on its first line)."""


def _stopped(
    exc: SmbmlError, plans: list[tuple[ResultTab, int, Mapping[str, Any] | None]], done: list[str]
) -> str:
    """What is true of a sync that stopped part way: what failed, which tabs were written
    and which not, and that the next run writes them (not a paged read's "nothing after
    the last saved page was lost")."""
    failure = str(getattr(exc, "failure", None) or exc).rstrip(".")
    rest = [t.title for t, _, _ in plans if t.title not in done]
    written = f"Refreshed: {', '.join(done)}" if done else "No tab was refreshed"
    return (
        f"{failure}. {written}; not refreshed: {', '.join(rest)}, each saying on its first "
        "line which run its rows are from. The next run writes them again."
    )


def _also(message: str, report: PushReport) -> str:
    """A stopped sync's message with what the tabs written had to say (a column not kept, a
    copy left as it is): the report itself is not returned, so its lines go with it."""
    said = [*report.unwritten, *report.notes]
    return "; ".join([message.rstrip("."), *said]) if said else message


def _not_refreshed(run_id: int, stamp: str, existing: Mapping[str, Any]) -> str:
    before = _metadata(existing, REFRESHED_KEY)
    return f"Not refreshed by run {run_id} ({stamp}; see that run's messages): the rows below " + (
        f"are from the refresh of {before}" if before else "are from an earlier run"
    )


def _cells(sheet: Mapping[str, Any]) -> int:
    grid = sheet["properties"].get("gridProperties", {})
    return int(grid.get("rowCount", 0)) * int(grid.get("columnCount", 0))


def _free_title(title: str, taken: set[str]) -> str:
    """A user's own tab keeps its name: ours becomes "Scores (smbml)"."""
    if title not in taken:
        return title
    candidate, n = f"{title} (smbml)", 2
    while candidate in taken:
        candidate, n = f"{title} (smbml {n})", n + 1
    return candidate


def _shown(cell: Mapping[str, Any]) -> str:
    """A header cell as kept (CellData) as the user reads its text."""
    value = next(iter((cell.get("userEnteredValue") or {}).values()), "")
    return str(value)


def _labels_written(tab: ResultTab) -> list[str]:
    """Our header labels as this refresh writes them (a keyed tab always has its key)."""
    return sheet_header(written_frame(tab))


def _records_of(result: RunResult, store: Any) -> str | None:
    """Whose records this run's rows are: the account the store noted for the run's
    source ("" for a source without one); None without a store to ask."""
    account = getattr(store, "account_of", None)
    if account is None:
        return None
    kept = account(result.source)
    return "" if kept is None else str(kept[0])


def _writer_of(store: Any) -> str:
    """This store's id on the tabs it writes ("" without a store: not compared)."""
    writer = getattr(store, "writer_id", None)
    return "" if writer is None else str(writer())


def _in_place(tab: ResultTab, existing: Mapping[str, Any]) -> None:
    """Our columns where the tab's last refresh put them, a new one after them, one this
    run cannot fill kept empty in its place (row 1 says so): a formula or a lookup
    elsewhere names them by letter, and a moved column would make it read its
    neighbour's figure without a word (find54_sync item 4)."""
    last = last_write(existing)
    if last is None:  # a tab from before the mark: this run's order
        return
    frame = tab.frame
    if tab.key is not None and tab.key not in frame.columns:  # a run with no rows
        frame = frame.assign(**{tab.key: pd.Series(dtype="string", index=frame.index)})
    filled = set(sheet_header(frame))
    tab.frame = with_old_columns(frame, last[0])
    empty = [label for label in last[0] if label not in filled]
    if empty and not frame.empty:
        said = (
            f"{', '.join(empty)}: not filled by this run (see its messages), kept empty in "
            f"{'its' if len(empty) == 1 else 'their'} place so formulas naming smbml's "
            "columns by letter keep working"
        )
        tab.note = f"{tab.note.rstrip('.')}. {said}" if tab.note else said


_OUR_NOTES = ("Last refreshed ", "Not refreshed by run ", "Being refreshed (")


def _above_header(grid: list[list[dict[str, Any]]], ours: list[str]) -> str:
    """What the user typed in rows inserted above our header (a title), quoted."""
    at = header_row(grid, ours)
    if at is None or at <= _HEADER_ROW:
        return ""
    texts = [
        text
        for row in grid[:at]
        for cell in row
        if (text := _shown({"userEnteredValue": cell}).strip()) and not text.startswith(_OUR_NOTES)
    ]
    more = f" and {len(texts) - 3} more" if len(texts) > 3 else ""
    return ", ".join(repr(t) for t in texts[:3]) + more


def _below_line(title: str, below: list[tuple[int, list[dict[str, Any]]]]) -> str:
    """The run's line for cells the user typed below the results, moved below this run's."""
    texts = [_shown(c) for _, cells in below for c in cells if c and _shown(c)]
    shown = ", ".join(repr(t) for t in texts[:3]) + (f" and {len(texts) - 3} more" if len(texts) > 3 else "")  # fmt: skip
    first = below[0][0] + 1
    return f"{title}: what you typed below the results ({shown}) was moved below this run's rows, from row {first:,}"


def _grid_need(
    frame: pd.DataFrame, kept: Kept | None, existing: Mapping[str, Any] | None, cells: int
) -> tuple[int, int, bool]:
    """(cells the tab takes, the spreadsheet's cells after, whether its grid is cut). A
    grid is cut to this run's rows and columns only when keeping it would pass Google's
    cap and cutting it would not."""
    width, height = grid_size(frame, kept, existing)
    before = _cells(existing) if existing else 0
    need = width * height
    if cells - before + need <= CELL_CAP or existing is None:
        return need, cells - before + need, False
    width, height = grid_size(frame, kept, None)
    if cells - before + width * height > CELL_CAP:
        return need, cells - before + need, False  # refused either way: named as before
    return width * height, cells - before + width * height, True
