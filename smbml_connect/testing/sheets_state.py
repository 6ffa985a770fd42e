"""In-memory spreadsheets behind the Sheets emulator: the API's rules, no HTTP.

Each method answers with the JSON body Google sends, or raises SheetsError with
Google's status and message. batchUpdate is atomic: it runs on a copy that replaces
the original only when every request succeeded. The 10 million cell cap counts the
grid (rows x columns of every sheet), as Google does, not the filled cells.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from smbml_connect.testing.sheets_a1 import A1Error, GridSpan, col_letter, parse_a1, quote_title
from smbml_connect.testing.sheets_values import Cell, parse_user_entered, render

__all__ = ["CELL_CAP", "CELL_CHARS", "Sheet", "SheetsError", "SheetsState", "Spreadsheet"]

CELL_CAP = 10_000_000
# Google's words (freelabz/secator#96); counted here in code points (Google's own unit is
# not documented: the writer stays under it in UTF-16 units, which is never fewer)
CELL_CHARS = 50_000
_TOO_LONG = "Your input contains more than the maximum of 50000 characters in a single cell."
_RENDER = ("FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA")
_DATETIME = ("SERIAL_NUMBER", "FORMATTED_STRING")
_INPUT = ("RAW", "USER_ENTERED")
# Request kinds this emulator applies; any other kind in Google's list gets a clear 400.
SUPPORTED = (
    "addSheet",
    "mergeCells",
    "unmergeCells",
    "deleteSheet",
    "updateSheetProperties",
    "updateCells",
    "repeatCell",
    "addChart",
    "deleteEmbeddedObject",
    "createDeveloperMetadata",
    "deleteDeveloperMetadata",
    "updateSpreadsheetProperties",
    "duplicateSheet",
    "insertDimension",
    "deleteDimension",
    "appendDimension",
)


class SheetsError(Exception):
    """An API error: HTTP status, Google's status word and message."""

    STATUS: ClassVar[dict[int, str]] = {
        400: "INVALID_ARGUMENT",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
    }

    def __init__(self, code: int, message: str, status: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or self.STATUS.get(code, "INTERNAL")

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "status": self.status}}


@dataclass
class Sheet:
    sheet_id: int
    title: str
    index: int
    rows: int = 1000
    cols: int = 26
    frozen_rows: int = 0
    frozen_cols: int = 0
    cells: dict[tuple[int, int], Cell] = field(default_factory=dict)
    charts: list[dict[str, Any]] = field(default_factory=list)
    metadata: list[dict[str, Any]] = field(default_factory=list)
    # The whole tab protected by its owner, the caller not among its editors (`protect`).
    protected: bool = False
    # Merged ranges as (first row, end row, first column, end column): zero-based, the ends
    # exclusive, as a GridRange counts them.
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)

    def copy(self) -> Sheet:
        return replace(
            self,
            cells=dict(self.cells),
            merges=list(self.merges),
            charts=[dict(c) for c in self.charts],
            metadata=[dict(m) for m in self.metadata],
        )

    def properties(self) -> dict[str, Any]:
        grid: dict[str, Any] = {"rowCount": self.rows, "columnCount": self.cols}
        if self.frozen_rows:
            grid["frozenRowCount"] = self.frozen_rows
        if self.frozen_cols:
            grid["frozenColumnCount"] = self.frozen_cols
        return {
            "sheetId": self.sheet_id,
            "title": self.title,
            "index": self.index,
            "sheetType": "GRID",
            "gridProperties": grid,
        }

    def used(self) -> tuple[int, int]:
        """Rows and columns up to the last filled cell."""
        if not self.cells:
            return 0, 0
        return max(r for r, _ in self.cells) + 1, max(c for _, c in self.cells) + 1


@dataclass
class Spreadsheet:
    spreadsheet_id: str
    title: str
    locale: str = "en_US"
    time_zone: str = "Etc/GMT"
    sheets: list[Sheet] = field(default_factory=list)
    shared_with: set[str] | None = None  # None: anyone with a valid token
    modified: int = 0  # bumps on every write, for Drive's modifiedTime
    metadata_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def copy(self) -> Spreadsheet:
        return replace(self, sheets=[s.copy() for s in self.sheets])

    def titles(self) -> list[str]:
        return [s.title for s in self.sheets]

    def sheet(self, title: str | None) -> Sheet:
        if title is None:
            return self.sheets[0]
        for sheet in self.sheets:
            if sheet.title == title:
                return sheet
        raise SheetsError(400, f"Unable to parse range: {quote_title(title)}")

    def by_id(self, sheet_id: int) -> Sheet:
        for sheet in self.sheets:
            if sheet.sheet_id == sheet_id:
                return sheet
        raise SheetsError(400, f"Invalid requests: No grid with id: {sheet_id}")

    def cells_in_grid(self) -> int:
        return sum(s.rows * s.cols for s in self.sheets)

    def check_cap(self) -> None:
        if self.cells_in_grid() > CELL_CAP:
            raise SheetsError(
                400,
                "This action would increase the number of cells in the workbook above the "
                f"limit of {CELL_CAP} cells.",
            )

    def reindex(self) -> None:
        for i, sheet in enumerate(self.sheets):
            sheet.index = i

    def grid_body(self, ranges: list[str], fields: str | None = None) -> dict[str, Any]:
        """GET spreadsheets/{id}?includeGridData=true&ranges=...: the sheets the ranges name,
        each with ``data[0].rowData``, every cell as its ``userEnteredValue`` (a formula as
        ``formulaValue``, text as ``stringValue`` even when it starts with "="), its
        ``effectiveValue`` and, when it has one, its number format (``userEnteredFormat``
        and ``effectiveFormat``: a currency-formatted amount says ``CURRENCY`` and its
        pattern there only); rows and cells stop at the last filled one, an empty cell is
        ``{}``. ``fields`` keeps only the cell parts its ``values(...)`` names, as Google
        does (``values(effectiveFormat/numberFormat)``)."""
        titles = [s.title for s in self.sheets]
        body = self.metadata_body()
        wanted: dict[str, GridSpan] = {}
        for text in ranges:
            span = parse_a1(text, titles)
            title = span.title or titles[0]
            if title not in titles:
                raise SheetsError(400, f"Unable to parse range: {text}")
            wanted[title] = span
        body["sheets"] = [e for e in body["sheets"] if e["properties"]["title"] in wanted]
        for entry in body["sheets"]:
            sheet = self.sheet(entry["properties"]["title"])
            span = wanted[sheet.title]
            cells = {
                k: c for k, c in sheet.cells.items()
                if not c.empty and k[0] >= span.row0 and k[1] >= span.col0
                and (span.row1 is None or k[0] < span.row1)
                and (span.col1 is None or k[1] < span.col1)
            }  # fmt: skip
            by_row: dict[int, list[int]] = {}
            for r, c in cells:
                by_row.setdefault(r, []).append(c)
            rows = []
            for r in range(span.row0, max(by_row, default=span.row0 - 1) + 1):
                last = max(by_row.get(r, []), default=span.col0 - 1)
                values = [
                    _cell_data(cells[(r, c)], fields) if (r, c) in cells else {}
                    for c in range(span.col0, last + 1)
                ]
                rows.append({"values": values} if values else {})
            entry["data"] = [{"startRow": span.row0, "startColumn": span.col0, "rowData": rows}]
        return body

    def metadata_body(self, sheet: Sheet | None = None) -> dict[str, Any]:
        sheets = [sheet] if sheet else self.sheets
        body: dict[str, Any] = {
            "spreadsheetId": self.spreadsheet_id,
            "properties": {
                "title": self.title,
                "locale": self.locale,
                "autoRecalc": "ON_CHANGE",
                "timeZone": self.time_zone,
            },
            "sheets": [],
            "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{self.spreadsheet_id}/edit",
        }
        for s in sheets:
            entry: dict[str, Any] = {"properties": s.properties()}
            if s.charts:
                entry["charts"] = s.charts
            if s.metadata:
                entry["developerMetadata"] = s.metadata
            if s.merges:  # Google leaves out an empty list, as every repeated field
                entry["merges"] = [
                    {"sheetId": s.sheet_id, "startRowIndex": r0, "endRowIndex": r1,
                     "startColumnIndex": c0, "endColumnIndex": c1}
                    for r0, r1, c0, c1 in s.merges
                ]  # fmt: skip
            if s.protected:
                entry["protectedRanges"] = [
                    {
                        "protectedRangeId": s.sheet_id,
                        "range": {"sheetId": s.sheet_id},
                        "warningOnly": False,
                        "requestingUserCanEdit": False,
                    }
                ]
            body["sheets"].append(entry)
        return body


_PROTECTED = (
    "You are trying to edit a protected cell or object. Please contact the spreadsheet "
    "owner to remove protection if you need to edit."
)


def _refuse_protected(book: Spreadsheet, kind: str, args: Mapping[str, Any]) -> None:
    """Google's answer to a write into a tab protected against the caller."""
    where = {
        "updateCells": lambda: (args.get("start") or args.get("range") or {}).get("sheetId"),
        "repeatCell": lambda: (args.get("range") or {}).get("sheetId"),
        "updateSheetProperties": lambda: (args.get("properties") or {}).get("sheetId"),
        "deleteSheet": lambda: args.get("sheetId"),
        "insertDimension": lambda: (args.get("range") or {}).get("sheetId"),
        "deleteDimension": lambda: (args.get("range") or {}).get("sheetId"),
        "appendDimension": lambda: args.get("sheetId"),
    }
    if kind not in where:
        return
    sheet_id = where[kind]()
    if any(s.sheet_id == sheet_id and s.protected for s in book.sheets):
        raise SheetsError(400, _PROTECTED)


def _span(book: Spreadsheet, text: str) -> tuple[Sheet, GridSpan]:
    try:
        span = parse_a1(text, book.titles())
    except A1Error:
        raise SheetsError(400, f"Unable to parse range: {text}") from None
    try:
        return book.sheet(span.title), span
    except SheetsError:
        raise SheetsError(400, f"Unable to parse range: {text}") from None


def _a1(sheet: Sheet, r0: int, c0: int, r1: int, c1: int) -> str:
    return f"{quote_title(sheet.title)}!{col_letter(c0)}{r0 + 1}:{col_letter(c1 - 1)}{r1}"


class SheetsState:
    """Every spreadsheet the emulator holds, by id."""

    def __init__(self) -> None:
        self.books: dict[str, Spreadsheet] = {}
        self._ids = random.Random(20261122)
        # Whether Duplicate copies a sheet's developer metadata to the copy. Google's docs
        # do not say (checked: DuplicateSheetRequest says "duplicates the contents of a
        # sheet"); the writer must be right either way, so tests set both.
        self.duplicate_copies_metadata = True

    # -- setting up ------------------------------------------------------------------
    def create(
        self,
        spreadsheet_id: str,
        title: str = "Untitled spreadsheet",
        tabs: Mapping[str, Sequence[Sequence[Any]]] | None = None,
        locale: str = "en_US",
        shared_with: Iterable[str] | None = None,
    ) -> Spreadsheet:
        """A spreadsheet whose tabs are typed in as a person would (USER_ENTERED)."""
        book = Spreadsheet(spreadsheet_id, title, locale=locale)
        book.shared_with = None if shared_with is None else set(shared_with)
        for i, (name, rows) in enumerate((tabs or {"Sheet1": []}).items()):
            height = max(1000, len(rows))
            width = max(26, max((len(r) for r in rows), default=0))
            sheet = Sheet(sheet_id=0 if i == 0 else self._new_id(book), title=name, index=i)
            sheet.rows, sheet.cols = height, width
            book.sheets.append(sheet)
            self._write(book, sheet, 0, 0, rows, "USER_ENTERED")
        book.check_cap()
        self.books[spreadsheet_id] = book
        return book

    def protect(self, spreadsheet_id: str, title: str) -> None:
        """A tab its owner protected, the caller (our service account) not an editor:
        Google refuses any request that writes its cells or grid, and the whole batch
        with it (a batchUpdate is applied whole or not at all)."""
        sheet = next(s for s in self.book(spreadsheet_id).sheets if s.title == title)
        sheet.protected = True

    def book(self, spreadsheet_id: str) -> Spreadsheet:
        try:
            return self.books[spreadsheet_id]
        except KeyError:
            raise SheetsError(404, "Requested entity was not found.") from None

    def _new_id(self, book: Spreadsheet) -> int:
        taken = {s.sheet_id for s in book.sheets}
        while True:
            candidate = self._ids.randrange(1, 2**31 - 1)
            if candidate not in taken:
                return candidate

    # -- values ----------------------------------------------------------------------
    def values_get(
        self,
        spreadsheet_id: str,
        text: str,
        value_render: str = "FORMATTED_VALUE",
        datetime_render: str = "SERIAL_NUMBER",
        major: str = "ROWS",
    ) -> dict[str, Any]:
        _check_enum("valueRenderOption", value_render, _RENDER)
        _check_enum("dateTimeRenderOption", datetime_render, _DATETIME)
        _check_enum("majorDimension", major, ("ROWS", "COLUMNS"))
        book = self.book(spreadsheet_id)
        sheet, span = _span(book, text)
        r1 = min(span.row1 if span.row1 is not None else sheet.rows, sheet.rows)
        c1 = min(span.col1 if span.col1 is not None else sheet.cols, sheet.cols)
        if span.row0 >= sheet.rows or span.col0 >= sheet.cols:
            raise SheetsError(
                400,
                f"Range ({quote_title(sheet.title)}!{text.rpartition('!')[2]}) exceeds grid "
                f"limits. Max rows: {sheet.rows}, max columns: {sheet.cols}",
            )
        body: dict[str, Any] = {
            "range": _a1(sheet, span.row0, span.col0, r1, c1),
            "majorDimension": major,
        }
        rows: list[list[Any]] = []
        by_row: dict[int, list[tuple[int, Cell]]] = {}
        for (r, c), cell in sheet.cells.items():
            if span.row0 <= r < r1 and span.col0 <= c < c1 and not cell.empty:
                by_row.setdefault(r, []).append((c, cell))
        if by_row:
            last = max(by_row)
            for r in range(span.row0, last + 1):
                entries = sorted(by_row.get(r, []), key=lambda e: e[0])
                row: list[Any] = []
                for c, cell in entries:
                    shown = render(cell, value_render, datetime_render)
                    if shown is None:
                        continue
                    row.extend([""] * (c - span.col0 - len(row)))
                    row.append(shown)
                rows.append(row)
        if major == "COLUMNS" and rows:
            width = max(len(r) for r in rows)
            padded = [r + [""] * (width - len(r)) for r in rows]
            rows = [_trim(list(col)) for col in zip(*padded, strict=True)]
        if rows:
            body["values"] = rows
        return body

    def values_update(
        self,
        spreadsheet_id: str,
        text: str,
        values: Sequence[Sequence[Any]] | None,
        input_option: str | None,
        major: str | None = None,
    ) -> dict[str, Any]:
        if input_option is None:
            raise SheetsError(400, "'valueInputOption' is required but not specified")
        _check_enum("valueInputOption", input_option, _INPUT)
        book = self.book(spreadsheet_id)
        sheet, span = _span(book, text)
        rows = _as_rows(values or [], major)
        height = len(rows)
        width = max((len(r) for r in rows), default=0)
        _check_fits(span, height, width, text)
        self._grow(book, sheet, span.row0 + height, span.col0 + width)
        self._write(book, sheet, span.row0, span.col0, rows, input_option)
        book.modified += 1
        return {
            "spreadsheetId": spreadsheet_id,
            "updatedRange": _a1(
                sheet, span.row0, span.col0, span.row0 + max(height, 1), span.col0 + max(width, 1)
            ),
            "updatedRows": height,
            "updatedColumns": width,
            "updatedCells": sum(len(r) for r in rows),
        }

    def values_batch_update(self, spreadsheet_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        option = body.get("valueInputOption")
        if option is None:
            raise SheetsError(400, "'valueInputOption' is required but not specified")
        book = self.book(spreadsheet_id).copy()
        backup, self.books[spreadsheet_id] = self.books[spreadsheet_id], book
        try:
            answers = [
                self.values_update(
                    spreadsheet_id, d["range"], d.get("values"), option, d.get("majorDimension")
                )
                for d in body.get("data") or []
            ]
        except SheetsError:
            self.books[spreadsheet_id] = backup
            raise
        return {
            "spreadsheetId": spreadsheet_id,
            "totalUpdatedRows": sum(a["updatedRows"] for a in answers),
            "totalUpdatedColumns": sum(a["updatedColumns"] for a in answers),
            "totalUpdatedCells": sum(a["updatedCells"] for a in answers),
            "totalUpdatedSheets": len({a["updatedRange"].rpartition("!")[0] for a in answers}),
            "responses": answers,
        }

    def values_append(
        self,
        spreadsheet_id: str,
        text: str,
        values: Sequence[Sequence[Any]] | None,
        input_option: str | None,
        insert_option: str = "OVERWRITE",
    ) -> dict[str, Any]:
        """Append below the logical table that starts in ``text``'s columns."""
        if input_option is None:
            raise SheetsError(400, "'valueInputOption' is required but not specified")
        _check_enum("insertDataOption", insert_option, ("OVERWRITE", "INSERT_ROWS"))
        book = self.book(spreadsheet_id)
        sheet, span = _span(book, text)
        filled = {k for k, cell in sheet.cells.items() if not cell.empty}
        # The "logical table": the block of filled rows that starts in the range, as wide as
        # its filled columns reach (Google's docs: the values go on the table's next row,
        # starting with the table's first column).
        c1 = span.col1 if span.col1 is not None and not span.single else None
        if c1 is None:
            c1 = span.col0 + 1
            while (span.row0, c1) in filled:
                c1 += 1
        table_end = span.row0
        while any((table_end, c) in filled for c in range(span.col0, c1)):
            table_end += 1
        rows = _as_rows(values or [], None)
        if insert_option == "INSERT_ROWS" and rows:
            moved = {
                ((r + len(rows)) if r >= table_end else r, c): cell
                for (r, c), cell in sheet.cells.items()
            }
            sheet.cells = moved
            sheet.rows += len(rows)
            book.check_cap()
        table = _a1(sheet, span.row0, span.col0, table_end, c1) if table_end > span.row0 else None
        target = f"{quote_title(sheet.title)}!{col_letter(span.col0)}{table_end + 1}"
        update = self.values_update(spreadsheet_id, target, rows, input_option)
        answer: dict[str, Any] = {"spreadsheetId": spreadsheet_id, "updates": update}
        if table:
            answer["tableRange"] = table
        return answer

    def values_clear(self, spreadsheet_id: str, text: str) -> dict[str, Any]:
        book = self.book(spreadsheet_id)
        sheet, span = _span(book, text)
        r1 = min(span.row1 if span.row1 is not None else sheet.rows, sheet.rows)
        c1 = min(span.col1 if span.col1 is not None else sheet.cols, sheet.cols)
        for key in [k for k in sheet.cells if span.row0 <= k[0] < r1 and span.col0 <= k[1] < c1]:
            cell = sheet.cells[key]
            kept = replace(cell, value=None, formula=None)
            if kept.number_type or kept.style:
                sheet.cells[key] = kept
            else:
                del sheet.cells[key]
        book.modified += 1
        return {
            "spreadsheetId": spreadsheet_id,
            "clearedRange": _a1(sheet, span.row0, span.col0, r1, c1),
        }

    # -- batchUpdate -----------------------------------------------------------------
    def batch_update(self, spreadsheet_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        requests = body.get("requests")
        if not requests:
            raise SheetsError(400, "Must specify at least one request.")
        draft = self.book(spreadsheet_id).copy()
        replies = []
        for i, request in enumerate(requests):
            if not isinstance(request, Mapping) or len(request) != 1:
                raise SheetsError(
                    400, f"Invalid requests[{i}]: exactly one kind of request must be set."
                )
            kind, args = next(iter(request.items()))
            if kind not in SUPPORTED:
                raise SheetsError(
                    400,
                    f"Invalid JSON payload received. Unknown name \"{kind}\" at 'requests[{i}]': "
                    "Cannot find field (or this emulator does not implement it).",
                )
            try:
                _refuse_protected(draft, kind, args or {})
                replies.append(getattr(self, f"_do_{kind}")(draft, args or {}))
            except SheetsError as exc:
                raise SheetsError(
                    exc.code, f"Invalid requests[{i}].{kind}: {exc.message}"
                ) from None
            except (KeyError, TypeError, ValueError) as exc:
                raise SheetsError(400, f"Invalid requests[{i}].{kind}: {exc}") from None
        draft.check_cap()
        draft.modified += 1
        self.books[spreadsheet_id] = draft
        answer: dict[str, Any] = {"spreadsheetId": spreadsheet_id, "replies": replies}
        if body.get("includeSpreadsheetInResponse"):
            answer["updatedSpreadsheet"] = draft.metadata_body()
        return answer

    def _do_addSheet(self, book: Spreadsheet, args: Mapping[str, Any]) -> dict[str, Any]:
        props = args.get("properties") or {}
        title = props.get("title") or f"Sheet{len(book.sheets) + 1}"
        if title in book.titles():
            raise SheetsError(
                400,
                f'A sheet with the name "{title}" already exists. Please enter another name.',
            )
        sheet_id = props.get("sheetId")
        if sheet_id is None:
            sheet_id = self._new_id(book)
        elif sheet_id < 0 or sheet_id in {s.sheet_id for s in book.sheets}:
            raise SheetsError(400, f"Sheet with id {sheet_id} already exists.")
        grid = props.get("gridProperties") or {}
        sheet = Sheet(
            sheet_id=sheet_id,
            title=title,
            index=props.get("index", len(book.sheets)),
            rows=grid.get("rowCount", 1000),
            cols=grid.get("columnCount", 26),
            frozen_rows=grid.get("frozenRowCount", 0),
            frozen_cols=grid.get("frozenColumnCount", 0),
        )
        book.sheets.insert(min(sheet.index, len(book.sheets)), sheet)
        book.reindex()
        book.check_cap()
        return {"addSheet": {"properties": sheet.properties()}}

    def _do_duplicateSheet(self, book: Spreadsheet, args: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of a tab (the UI's Duplicate does the same): cells, grid, frozen rows,
        charts with new ids, and its developer metadata if `duplicate_copies_metadata`."""
        source = book.by_id(args["sourceSheetId"])
        title = args.get("newSheetName") or f"Copy of {source.title}"
        if title in book.titles():
            raise SheetsError(
                400, f'A sheet with the name "{title}" already exists. Please enter another name.'
            )
        sheet_id = args.get("newSheetId")
        if sheet_id is None:
            sheet_id = self._new_id(book)
        elif sheet_id < 0 or sheet_id in {s.sheet_id for s in book.sheets}:
            raise SheetsError(400, f"Sheet with id {sheet_id} already exists.")
        copy = source.copy()
        copy.sheet_id, copy.title, copy.protected = sheet_id, title, False
        taken = {c["chartId"] for s in book.sheets for c in s.charts}
        for chart in copy.charts:
            chart["chartId"] = self._ids.randrange(1, 2**31 - 1)
            while chart["chartId"] in taken:
                chart["chartId"] = self._ids.randrange(1, 2**31 - 1)
        copy.metadata = [
            {**m, "metadataId": next(book.metadata_ids),
             "location": {"locationType": "SHEET", "sheetId": sheet_id}}
            for m in source.metadata
        ] if self.duplicate_copies_metadata else []  # fmt: skip
        book.sheets.insert(min(args.get("insertSheetIndex", source.index + 1), len(book.sheets)), copy)  # fmt: skip
        book.reindex()
        book.check_cap()
        return {"duplicateSheet": {"properties": copy.properties()}}

    def _do_insertDimension(self, book: Spreadsheet, args: Mapping[str, Any]) -> dict[str, Any]:
        """Rows or columns inserted before ``startIndex``: cells after it move on (as in
        the UI's Insert row above). Formulas and charts are not rewritten here."""
        sheet, rows, start, n = _dimension(book, args["range"])
        limit = sheet.rows if rows else sheet.cols
        if start > limit:
            raise SheetsError(400, f"Invalid range: startIndex {start} is past the grid")
        axis = 0 if rows else 1
        sheet.cells = {
            tuple(k[i] + n if i == axis and k[i] >= start else k[i] for i in (0, 1)): v  # type: ignore[misc]
            for k, v in sheet.cells.items()
        }
        sheet.merges = _merges_after_insert(sheet.merges, rows, start, n)
        if rows:
            sheet.rows += n
        else:
            sheet.cols += n
        book.check_cap()
        return {}

    def _do_appendDimension(self, book: Spreadsheet, args: Mapping[str, Any]) -> dict[str, Any]:
        """Empty rows or columns added at the end (the UI's "Add 1000 more rows")."""
        sheet = next((s for s in book.sheets if s.sheet_id == args.get("sheetId")), None)
        if sheet is None:
            raise SheetsError(400, f"No grid with id: {args.get('sheetId')}")
        length = int(args.get("length", 0))
        if length < 1:
            raise SheetsError(400, "Invalid appendDimension: length must be at least 1")
        if args.get("dimension") == "ROWS":
            sheet.rows += length
        else:
            sheet.cols += length
        book.check_cap()
        return {}

    def _do_deleteDimension(self, book: Spreadsheet, args: Mapping[str, Any]) -> dict[str, Any]:
        """Rows or columns deleted: cells after them move back, theirs are gone."""
        sheet, rows, start, n = _dimension(book, args["range"])
        limit = sheet.rows if rows else sheet.cols
        if start + n > limit or n >= limit:
            raise SheetsError(400, "Invalid range: it must be inside the grid and leave one")
        axis = 0 if rows else 1
        sheet.cells = {
            tuple(k[i] - n if i == axis and k[i] >= start + n else k[i] for i in (0, 1)): v  # type: ignore[misc]
            for k, v in sheet.cells.items()
            if not start <= k[axis] < start + n
        }
        sheet.merges = _kept_merges(sheet.merges, rows, start, n)
        if rows:
            sheet.rows -= n
            sheet.frozen_rows = min(sheet.frozen_rows, sheet.rows - 1)
        else:
            sheet.cols -= n
        return {}

    def _do_deleteSheet(self, book: Spreadsheet, args: Mapping[str, Any]) -> dict[str, Any]:
        sheet = book.by_id(args["sheetId"])
        if len(book.sheets) == 1:
            raise SheetsError(400, "You can't remove all the sheets in a document.")
        book.sheets.remove(sheet)
        book.reindex()
        return {}

    def _do_updateSheetProperties(
        self, book: Spreadsheet, args: Mapping[str, Any]
    ) -> dict[str, Any]:
        props = args.get("properties") or {}
        fields = _fields(args.get("fields"))
        sheet = book.by_id(props.get("sheetId", 0))
        grid = props.get("gridProperties") or {}
        setters = {
            "title": lambda: setattr(sheet, "title", props["title"]),
            "index": lambda: None,
            "gridProperties.rowCount": lambda: self._resize(sheet, rows=grid["rowCount"]),
            "gridProperties.columnCount": lambda: self._resize(sheet, cols=grid["columnCount"]),
            "gridProperties.frozenRowCount": lambda: setattr(
                sheet, "frozen_rows", grid.get("frozenRowCount", 0)
            ),
            "gridProperties.frozenColumnCount": lambda: setattr(
                sheet, "frozen_cols", grid.get("frozenColumnCount", 0)
            ),
        }
        for name in fields:
            matched = [k for k in setters if k == name or k.startswith(name + ".")]
            if not matched:
                raise SheetsError(400, f"Invalid field mask: {name}")
            for key in matched:
                setters[key]()
                # Google sets rowCount, then checks the cap, then columnCount: growing the
                # rows while shrinking the columns can be refused though the end result fits
                # (robin900/gspread-dataframe#38)
                book.check_cap()
        if sheet.frozen_rows >= sheet.rows and sheet.rows > 0:
            raise SheetsError(400, "You can't freeze all visible rows on the sheet.")
        return {}

    def _do_updateSpreadsheetProperties(
        self, book: Spreadsheet, args: Mapping[str, Any]
    ) -> dict[str, Any]:
        props = args.get("properties") or {}
        for name in _fields(args.get("fields")):
            if name == "title":
                book.title = props["title"]
            elif name == "locale":
                book.locale = props["locale"]
            elif name == "timeZone":
                book.time_zone = props["timeZone"]
            else:
                raise SheetsError(400, f"Invalid field mask: {name}")
        return {}

    def _resize(self, sheet: Sheet, rows: int | None = None, cols: int | None = None) -> None:
        if rows is not None:
            if rows < 1:
                raise SheetsError(400, "Invalid value for rowCount: must be at least 1")
            sheet.rows = rows
        if cols is not None:
            if cols < 1:
                raise SheetsError(400, "Invalid value for columnCount: must be at least 1")
            sheet.cols = cols
        sheet.cells = {
            k: v for k, v in sheet.cells.items() if k[0] < sheet.rows and k[1] < sheet.cols
        }
        sheet.merges = [
            m for m in sheet.merges if m[1] <= sheet.rows and m[3] <= sheet.cols
        ]  # a merge the grid no longer holds whole is gone

    def _do_updateCells(self, book: Spreadsheet, args: Mapping[str, Any]) -> dict[str, Any]:
        fields = _fields(args.get("fields"))
        if not fields:
            raise SheetsError(400, "At least one field must be updated, but none specified.")
        rows = args.get("rows") or []
        if "range" in args:
            grid = args["range"]
            sheet = book.by_id(grid.get("sheetId", 0))
            r0, c0 = grid.get("startRowIndex", 0), grid.get("startColumnIndex", 0)
            r1 = grid.get("endRowIndex", sheet.rows)
            c1 = grid.get("endColumnIndex", sheet.cols)
            covering = True
        elif "start" in args:
            start = args["start"]
            sheet = book.by_id(start.get("sheetId", 0))
            r0, c0 = start.get("rowIndex", 0), start.get("columnIndex", 0)
            r1 = r0 + len(rows)
            c1 = c0 + max((len(r.get("values") or []) for r in rows), default=0)
            covering = False
        else:
            raise SheetsError(400, "Either range or start must be set.")
        if r1 > sheet.rows or c1 > sheet.cols:
            raise SheetsError(
                400,
                f"Range ({quote_title(sheet.title)}!{col_letter(c0)}{r0 + 1}:{col_letter(max(c1, 1) - 1)}"
                f"{r1}) exceeds grid limits. Max rows: {sheet.rows}, max columns: {sheet.cols}",
            )
        written: set[tuple[int, int]] = set()
        for i, row in enumerate(rows):
            for j, data in enumerate(row.get("values") or []):
                r, c = r0 + i, c0 + j
                if r >= r1 or c >= c1:
                    raise SheetsError(400, "The rows do not fit inside the range.")
                written.add((r, c))
                self._apply_cell(book, sheet, (r, c), data or {}, fields)
        if covering:  # cells of the range not in ``rows`` lose the fields named
            blank: dict[str, Any] = {}
            for key in [k for k in sheet.cells if r0 <= k[0] < r1 and c0 <= k[1] < c1]:
                if key not in written:
                    self._apply_cell(book, sheet, key, blank, fields)
        return {}

    def _do_repeatCell(self, book: Spreadsheet, args: Mapping[str, Any]) -> dict[str, Any]:
        grid = args["range"]
        sheet = book.by_id(grid.get("sheetId", 0))
        fields = _fields(args.get("fields"))
        r0, c0 = grid.get("startRowIndex", 0), grid.get("startColumnIndex", 0)
        r1 = min(grid.get("endRowIndex", sheet.rows), sheet.rows)
        c1 = min(grid.get("endColumnIndex", sheet.cols), sheet.cols)
        data = args.get("cell") or {}
        for key in itertools.product(range(r0, r1), range(c0, c1)):
            self._apply_cell(book, sheet, key, data, fields)
        return {}

    def _apply_cell(
        self,
        book: Spreadsheet,
        sheet: Sheet,
        key: tuple[int, int],
        data: Mapping[str, Any],
        fields: list[str],
    ) -> None:
        if len(fields) == 2 and set(fields) == _WHOLE_CELL and not data.get("userEnteredFormat"):
            # The common case, a value and no format: one Cell, not two replace() calls.
            cell = _with_value(_BLANK, data.get("userEnteredValue"))
            if cell.empty:
                sheet.cells.pop(key, None)
            else:
                sheet.cells[key] = cell
            return
        cell = sheet.cells.get(key, _BLANK)
        for name in fields:
            if name in ("*", "userEnteredValue") or name.startswith("userEnteredValue."):
                cell = _with_value(cell, data.get("userEnteredValue"))
            if name in ("*", "userEnteredFormat") or name.startswith("userEnteredFormat"):
                cell = _with_format(cell, data.get("userEnteredFormat"), name)
            if name not in ("*",) and not name.startswith(
                ("userEnteredValue", "userEnteredFormat", "note", "hyperlink")
            ):
                raise SheetsError(400, f"Invalid field mask: {name}")
        if cell.empty and not cell.number_type and not cell.style:
            sheet.cells.pop(key, None)
        else:
            sheet.cells[key] = cell

    def _do_mergeCells(self, book: Spreadsheet, args: Mapping[str, Any]) -> dict[str, Any]:
        """Cells merged as Format > Merge cells does: MERGE_ALL one block, MERGE_COLUMNS
        one merge per column (a customer's ID down over their orders), MERGE_ROWS one per
        row. Only the top-left value of each merge is kept (the UI warns of it), so
        values.get gives the value on the first row only. A merge inside the new one goes;
        one that crosses its edge is refused (the emulator's words: Google's are unknown);
        a "merge" of one cell is none."""
        sheet, r0, r1, c0, c1 = _grid_range(book, args.get("range") or {})
        kind = args.get("mergeType", "MERGE_ALL")
        _check_enum("mergeType", kind, ("MERGE_ALL", "MERGE_COLUMNS", "MERGE_ROWS"))
        if kind == "MERGE_ALL":
            wanted = [(r0, r1, c0, c1)]
        elif kind == "MERGE_COLUMNS":
            wanted = [(r0, r1, c, c + 1) for c in range(c0, c1)]
        else:
            wanted = [(r, r + 1, c0, c1) for r in range(r0, r1)]
        wanted = [m for m in wanted if (m[1] - m[0]) * (m[3] - m[2]) > 1]
        kept = []
        for old in sheet.merges:
            if _inside(old, (r0, r1, c0, c1)):
                continue
            if any(_overlap(old, new) for new in wanted):
                raise SheetsError(400, f"The range crosses the merge {_merge_a1(sheet, old)}.")
            kept.append(old)
        for m0, m1, n0, n1 in wanted:
            for key in itertools.product(range(m0, m1), range(n0, n1)):
                if key != (m0, n0) and key in sheet.cells:
                    cell = replace(sheet.cells[key], value=None, formula=None, error=None)
                    if cell.number_type or cell.style:
                        sheet.cells[key] = cell  # its format stays
                    else:
                        del sheet.cells[key]
        sheet.merges = sorted(kept + wanted)
        return {}

    def _do_unmergeCells(self, book: Spreadsheet, args: Mapping[str, Any]) -> dict[str, Any]:
        """Every merge inside the range undone; the range must not cut a merge (Google's
        docs), the emulator's words for refusing one."""
        sheet, *bounds = _grid_range(book, args.get("range") or {})
        span = (bounds[0], bounds[1], bounds[2], bounds[3])
        for old in sheet.merges:
            if _overlap(old, span) and not _inside(old, span):
                raise SheetsError(400, f"The range cuts the merge {_merge_a1(sheet, old)}.")
        sheet.merges = [m for m in sheet.merges if not _inside(m, span)]
        return {}

    def _do_addChart(self, book: Spreadsheet, args: Mapping[str, Any]) -> dict[str, Any]:
        chart = dict(args["chart"])
        spec = chart.get("spec") or {}
        sources = [
            source
            for part in ("domains", "series")
            for entry in (spec.get("basicChart") or {}).get(part, [])
            for source in (entry.get("domain") or entry.get("series") or {})
            .get("sourceRange", {})
            .get("sources", [])
        ]
        if not sources:
            raise SheetsError(400, "The chart has no data: set domains and series source ranges.")
        for source in sources:
            book.by_id(source.get("sheetId", 0))
        position = chart.get("position") or {}
        anchor = (position.get("overlayPosition") or {}).get("anchorCell") or {}
        host = book.by_id(anchor.get("sheetId", position.get("sheetId", 0)))
        taken = {c["chartId"] for s in book.sheets for c in s.charts}
        chart.setdefault("chartId", self._ids.randrange(1, 2**31 - 1))
        if chart["chartId"] in taken:
            raise SheetsError(400, f"An object with id {chart['chartId']} already exists.")
        host.charts.append(chart)
        return {"addChart": {"chart": chart}}

    def _do_deleteEmbeddedObject(
        self, book: Spreadsheet, args: Mapping[str, Any]
    ) -> dict[str, Any]:
        target = args["objectId"]
        for sheet in book.sheets:
            for chart in sheet.charts:
                if chart["chartId"] == target:
                    sheet.charts.remove(chart)
                    return {}
        raise SheetsError(400, f"No object with id {target}")

    def _do_createDeveloperMetadata(
        self, book: Spreadsheet, args: Mapping[str, Any]
    ) -> dict[str, Any]:
        meta = dict(args["developerMetadata"])
        location = meta.get("location") or {}
        if "metadataKey" not in meta or "visibility" not in meta:
            raise SheetsError(400, "metadataKey and visibility are required.")
        if "sheetId" not in location:
            raise SheetsError(400, "This emulator stores developer metadata on sheets only.")
        sheet = book.by_id(location["sheetId"])
        meta["metadataId"] = meta.get("metadataId") or next(book.metadata_ids)
        meta["location"] = {"locationType": "SHEET", "sheetId": sheet.sheet_id}
        sheet.metadata.append(meta)
        return {"createDeveloperMetadata": {"developerMetadata": meta}}

    def _do_deleteDeveloperMetadata(
        self, book: Spreadsheet, args: Mapping[str, Any]
    ) -> dict[str, Any]:
        lookup = dict((args.get("dataFilter") or {}).get("developerMetadataLookup") or {})
        where = lookup.pop("metadataLocation", None) or {}
        lookup.pop("locationMatchingStrategy", None)
        gone = []
        for sheet in book.sheets:
            if "sheetId" in where and where["sheetId"] != sheet.sheet_id:
                continue
            for meta in list(sheet.metadata):
                if all(meta.get(k) == v for k, v in lookup.items() if k != "locationType"):
                    sheet.metadata.remove(meta)
                    gone.append(meta)
        return {"deleteDeveloperMetadata": {"deletedDeveloperMetadata": gone}}

    # -- helpers ---------------------------------------------------------------------
    def _grow(self, book: Spreadsheet, sheet: Sheet, rows: int, cols: int) -> None:
        """values.update and append add rows and columns as needed, inside the cap."""
        sheet.rows, sheet.cols = max(sheet.rows, rows), max(sheet.cols, cols)
        book.check_cap()

    def _write(
        self,
        book: Spreadsheet,
        sheet: Sheet,
        r0: int,
        c0: int,
        rows: Sequence[Sequence[Any]],
        input_option: str,
    ) -> None:
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                if value is None:
                    continue  # null leaves the cell as it is
                key = (r0 + i, c0 + j)
                old = sheet.cells.get(key, Cell())
                if value == "":
                    new = replace(old, value=None, formula=None, error=None)
                elif isinstance(value, list | dict):
                    raise SheetsError(
                        400,
                        f"Invalid values[{i}][{j}]: {type(value).__name__} is not a cell value",
                    )
                elif isinstance(value, str) and len(value) > CELL_CHARS:
                    raise SheetsError(400, _TOO_LONG)
                elif input_option == "RAW":
                    stored = float(value) if type(value) is int else value
                    new = replace(old, value=stored, formula=None, error=None)
                else:
                    parsed = parse_user_entered(value, book.locale)
                    new = replace(
                        old,
                        value=parsed.value,
                        formula=parsed.formula,
                        error=parsed.error,
                        number_type=parsed.number_type or old.number_type,
                        pattern=parsed.pattern or old.pattern,
                    )
                if new.empty and not new.number_type and not new.style:
                    sheet.cells.pop(key, None)
                else:
                    sheet.cells[key] = new


def _dimension(book: Spreadsheet, span: Mapping[str, Any]) -> tuple[Sheet, bool, int, int]:
    """A DimensionRange: its sheet, whether it is rows, its start and how many."""
    sheet = book.by_id(span.get("sheetId", 0))
    if span.get("dimension") not in ("ROWS", "COLUMNS"):
        raise SheetsError(400, "Invalid range: dimension must be ROWS or COLUMNS")
    start, end = int(span.get("startIndex", 0)), int(span["endIndex"])
    if end <= start or start < 0:
        raise SheetsError(400, "Invalid range: endIndex must be after startIndex")
    return sheet, span["dimension"] == "ROWS", start, end - start


def _grid_range(book: Spreadsheet, grid: Mapping[str, Any]) -> tuple[Sheet, int, int, int, int]:
    """A GridRange's sheet and bounds (zero-based, ends exclusive; a missing end is the
    grid's), inside the grid."""
    sheet = book.by_id(grid.get("sheetId", 0))
    r0, c0 = int(grid.get("startRowIndex", 0)), int(grid.get("startColumnIndex", 0))
    r1, c1 = int(grid.get("endRowIndex", sheet.rows)), int(grid.get("endColumnIndex", sheet.cols))
    if not (0 <= r0 <= r1 <= sheet.rows and 0 <= c0 <= c1 <= sheet.cols):
        raise SheetsError(
            400,
            f"Range ({quote_title(sheet.title)}!{col_letter(c0)}{r0 + 1}:{col_letter(max(c1, 1) - 1)}"
            f"{r1}) exceeds grid limits. Max rows: {sheet.rows}, max columns: {sheet.cols}",
        )
    return sheet, r0, r1, c0, c1


def _merge_a1(sheet: Sheet, merge: tuple[int, int, int, int]) -> str:
    r0, r1, c0, c1 = merge
    return _a1(sheet, r0, c0, r1, c1)


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]


def _inside(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return b[0] <= a[0] and a[1] <= b[1] and b[2] <= a[2] and a[3] <= b[3]


def _merges_after_insert(
    merges: list[tuple[int, int, int, int]], rows: bool, start: int, n: int
) -> list[tuple[int, int, int, int]]:
    """Merges after ``n`` rows or columns were inserted at ``start``: later ones move on, one
    the new rows land inside grows (as in the UI)."""

    def moved(i: int, end: bool) -> int:
        return i + n if (i > start if end else i >= start) else i

    return [
        (moved(r0, False), moved(r1, True), c0, c1) if rows
        else (r0, r1, moved(c0, False), moved(c1, True))
        for r0, r1, c0, c1 in merges
    ]  # fmt: skip


def _kept_merges(
    merges: list[tuple[int, int, int, int]], rows: bool, start: int, n: int
) -> list[tuple[int, int, int, int]]:
    """Merges after rows or columns ``start`` to ``start + n`` were deleted: later ones move
    back, one they cut shrinks, one left a single cell is gone."""

    def moved(i: int) -> int:
        return i if i < start else max(start, i - n)

    kept = []
    for r0, r1, c0, c1 in merges:
        if rows:
            r0, r1 = moved(r0), moved(r1)
        else:
            c0, c1 = moved(c0), moved(c1)
        if (r1 - r0) * (c1 - c0) > 1:
            kept.append((r0, r1, c0, c1))
    return kept


_BLANK = Cell()
_WHOLE_CELL = {"userEnteredValue", "userEnteredFormat"}


def _with_value(cell: Cell, value: Mapping[str, Any] | None) -> Cell:
    if not value:
        return replace(cell, value=None, formula=None, error=None)
    if len(value) != 1:
        raise SheetsError(400, "Exactly one of the ExtendedValue kinds must be set.")
    kind, raw = next(iter(value.items()))
    if isinstance(raw, str) and len(raw) > CELL_CHARS:
        raise SheetsError(400, _TOO_LONG)
    cell = replace(cell, error=None) if cell.error else cell
    if cell is _BLANK and kind in ("stringValue", "numberValue"):
        return Cell(value=str(raw) if kind == "stringValue" else float(raw))
    if kind == "stringValue":
        return replace(cell, value=str(raw), formula=None)
    if kind == "numberValue":
        return replace(cell, value=float(raw), formula=None)
    if kind == "boolValue":
        return replace(cell, value=bool(raw), formula=None)
    if kind == "formulaValue":
        return replace(cell, value=None, formula=str(raw))
    raise SheetsError(400, f'Unknown name "{kind}" in ExtendedValue')


def _with_format(cell: Cell, fmt: Mapping[str, Any] | None, field_name: str) -> Cell:
    fmt = dict(fmt or {})
    if field_name in ("*", "userEnteredFormat"):
        number = fmt.pop("numberFormat", None) or {}
        style = tuple(sorted((k, repr(v)) for k, v in fmt.items()))
        return replace(
            cell, number_type=number.get("type"), pattern=number.get("pattern"), style=style
        )
    part = field_name.removeprefix("userEnteredFormat.").split(".")[0]
    if part == "numberFormat":
        number = fmt.get("numberFormat") or {}
        return replace(cell, number_type=number.get("type"), pattern=number.get("pattern"))
    styles: dict[str, str] = dict(cell.style)
    if part in fmt:
        styles[part] = repr(fmt[part])
    else:
        styles.pop(part, None)
    return replace(cell, style=tuple(sorted(styles.items())))


def _fields(mask: str | None) -> list[str]:
    if not mask:
        return []
    # Google reads "a/b" like "a.b" (gspread's freeze() sends "gridProperties/frozenRowCount")
    return [f.strip().replace("/", ".") for f in mask.split(",") if f.strip()]


def _check_enum(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise SheetsError(
            400,
            f"Invalid value at '{name}' (type.googleapis.com/google.apps.sheets.v4.{name}), "
            f'"{value}"',
        )


def _as_rows(values: Sequence[Sequence[Any]], major: str | None) -> list[list[Any]]:
    rows = [list(r) for r in values]
    if major == "COLUMNS":
        width = max((len(r) for r in rows), default=0)
        padded = [r + [None] * (width - len(r)) for r in rows]
        rows = [list(col) for col in zip(*padded, strict=True)]
    return rows


def _check_fits(span: GridSpan, height: int, width: int, text: str) -> None:
    if span.single:
        return
    if span.row1 is not None and span.row0 + height > span.row1:
        raise SheetsError(
            400,
            f"Requested writing within range [{text}], but tried writing to row "
            f"[{span.row0 + height}]",
        )
    if span.col1 is not None and span.col0 + width > span.col1:
        raise SheetsError(
            400,
            f"Requested writing within range [{text}], but tried writing to column "
            f"[{col_letter(span.col0 + width - 1)}]",
        )


def _trim(values: list[Any]) -> list[Any]:
    while values and values[-1] == "":
        values.pop()
    return values


def _cell_data(cell: Cell, fields: str | None) -> dict[str, Any]:
    """A cell as spreadsheets.get gives it with grid data, cut to the parts ``fields``
    names in its ``values(...)`` (all of them without)."""
    data = _entered(cell)
    if cell.error is not None:  # a formula's failed result, or #N/A typed in
        data["effectiveValue"] = {"errorValue": {"type": cell.error, "message": cell.value}}
        data["formattedValue"] = cell.value
    elif cell.formula is None and cell.value is not None:
        data["effectiveValue"] = data["userEnteredValue"]
    if cell.number_type:
        number = {"type": cell.number_type, **({"pattern": cell.pattern} if cell.pattern else {})}
        data["userEnteredFormat"] = {"numberFormat": number}
        data["effectiveFormat"] = {"numberFormat": number}
    wanted = re.search(r"values\(([^()]*)\)", fields or "")
    if wanted is None:
        return data
    kept: dict[str, Any] = {}
    for path in (p.strip().replace(".", "/") for p in wanted[1].split(",")):
        head, _, rest = path.partition("/")
        if head in data and not rest:
            kept[head] = data[head]
        elif head in data and rest.split("/")[0] in data[head]:
            kept.setdefault(head, {})[rest.split("/")[0]] = data[head][rest.split("/")[0]]
    return kept


def _entered(cell: Cell) -> dict[str, Any]:
    """A cell's ``userEnteredValue`` as the API gives it with grid data."""
    if cell.formula is not None:
        return {"userEnteredValue": {"formulaValue": cell.formula}}
    if cell.error is not None:  # #N/A typed in
        return {"userEnteredValue": {"errorValue": {"type": cell.error, "message": cell.value}}}
    if isinstance(cell.value, bool):
        return {"userEnteredValue": {"boolValue": cell.value}}
    if isinstance(cell.value, float | int):
        return {"userEnteredValue": {"numberValue": cell.value}}
    return {"userEnteredValue": {"stringValue": str(cell.value)}}
