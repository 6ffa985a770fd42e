"""The contracts between layers: what the pipeline asks of any connector and any output.

Sources, paged sources and destinations are typed protocols, so a connector needs no
base class and a type checker proves it fits. The core imports nothing above it;
connectors, steps and the add-in import this module.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import pandas as pd

from smbml_connect.business_zone import NO_ZONE, BusinessZone
from smbml_connect.consent import UNREADABLE_CONSENT
from smbml_connect.schema import REJECT_COLUMNS, KeptOnly, OutputColumn, OutputTable

if TYPE_CHECKING:
    from smbml_connect.store import Store

__all__ = [
    "ColourScale",
    "CrmProperty",
    "Destination",
    "KnowsAccount",
    "ListsNotRead",
    "ListsUnreadable",
    "Notice",
    "OutputColumn",
    "OutputTable",
    "Page",
    "PagedSource",
    "PushReport",
    "ReadsAgain",
    "ReportSection",
    "RunResult",
    "SavedModelText",
    "SaysDateOrder",
    "SaysWhereTablesWent",
    "SheetsChart",
    "SheetsPart",
    "SheetsTab",
    "SkipsRows",
    "Source",
    "SourceAccount",
    "SourceReject",
    "StepOutputs",
    "StepResult",
    "Tab",
    "WorkbookChart",
    "cleared_in_kept_rows",
]


@dataclass
class PushReport:
    """What one push did: written, unchanged, and per-record failures that were not fatal."""

    destination: str
    written: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (record id, reason)
    detail: list[str] = field(default_factory=list)  # lines for the person watching
    written_on: dict[str, int] = field(default_factory=dict)  # values written per object type
    # What a push could not send at all, one line each ("96 values on 32 products not
    # written: ..."): the rest went through and is counted above; the run is partial.
    unwritten: list[str] = field(default_factory=list)
    # Records HubSpot refused one by one (a value it will not take), one line per reason
    # naming them: the run is partial and `smbml status` keeps the line, so a record
    # refused on every scheduled run shows there. ``failed`` holds them one by one.
    refused: list[str] = field(default_factory=list)
    # Values not written, of every kind above: written + unchanged + not_written is what
    # the run had to write.
    not_written: int = 0
    # What the user should know though all was written (a copy of a result tab left as it
    # is, a title typed above the header): printed with the run and kept for `smbml
    # status`, but the run is not partial for it (a scheduler would see a failure daily).
    notes: list[str] = field(default_factory=list)
    # How the CLI reports it: "file" (destination is its path, named at the end), "sheets"
    # (the tabs, in detail) or "crm" (values written, unchanged, not written).
    kind: Literal["file", "sheets", "crm"] = "file"


@runtime_checkable
class Source(Protocol):
    """A place canonical tables come from.

    ``pull`` returns rows with canonical column names (unknown ones kept as they are, for
    ``extra``) and a ``_source_row`` column with the row number the user sees. When
    ``incremental`` is true, ``since`` is the cursor the pipeline stored last time.
    """

    @property
    def name(self) -> str: ...

    @property
    def incremental(self) -> bool: ...

    def available(self) -> list[str]: ...

    def pull(self, entity: str, since: str | None = None) -> pd.DataFrame: ...


@dataclass(frozen=True)
class SourceReject:
    """A row the source could not even split into cells (a CSV line with a stray quote ...).

    It never reaches ``validate``; the pipeline records it with the table's rejects.
    ``row`` is the row number the user sees, ``value`` the raw text (shortened).
    ``cells``: the cells under the headers when those could be read (a row with a note
    typed right of the last named column): its key tells the row is still in the source.
    """

    row: int
    column: str
    value: str
    reason: str
    cells: tuple[tuple[str, Any], ...] | None = None

    def as_record(self, table: str, source: str) -> dict[str, Any]:
        """One row of ``REJECT_COLUMNS``."""
        return {
            "table": table,
            "source": source,
            "source_row": self.row,
            "column": self.column,
            "value": self.value,
            "reason": self.reason,
            "action": "row rejected",
            "row": json.dumps({"line": self.value}),
        }


@runtime_checkable
class SkipsRows(Protocol):
    """A source that leaves out rows holding no record (blank, total, repeated header rows).

    ``skipped_rows`` lists those of ``entity``'s last pull as rejects rows (the columns of
    ``schema.REJECT_COLUMNS``, action 'row skipped'), so every row read is loaded or listed.
    """

    def skipped_rows(self, entity: str) -> pd.DataFrame: ...


@runtime_checkable
class ReadsAgain(Protocol):
    """A paged source read from this computer's files: reading a table twice costs no
    requests, so a table of several pages is first read for what its values prove
    (``schema.Evidence``), then loaded page by page as the whole of it decides.
    ``pull_pages`` starts again from the top each time it is called."""

    reads_again: bool


@runtime_checkable
class ListsUnreadable(Protocol):
    """A source whose last ``pull`` of ``entity`` kept the rows it could not split into
    cells, so ``smbml inspect`` can show them before a run rejects them."""

    def unreadable(self, entity: str) -> list[SourceReject]: ...


@runtime_checkable
class ListsNotRead(Protocol):
    """A source of several files or tabs that says which of them gave no table, and why
    ("Tab 'Orders 2022' was not read: ..."): one line each, for `smbml inspect` and the run."""

    def not_read(self) -> list[str]: ...


@runtime_checkable
class SaysUnnamedAmounts(Protocol):
    """A source whose amounts may carry their currency in their cells' number formats
    (Google Sheets keeps "95,35 €" as 95.35 formatted as euros) and that says which
    tables' amounts carried none: table -> (where they are, the shared sign their format
    shows, "$" or "¥", or None). With nothing else naming the currency the run says which
    one it shows them in, rather than "$" without a word."""

    def unnamed_amounts(self) -> dict[str, tuple[str, str | None]]: ...


@runtime_checkable
class SaysDateOrder(Protocol):
    """A source whose own setting says how its dates are written (a spreadsheet's locale:
    en_GB writes 06/01/2025 for 6 January): (day first, why in words), or None when it
    says nothing the default does not. Read where neither a date column's values nor its
    table's other dates tell (``schema.validate``'s ``order``)."""

    def date_order(self) -> tuple[bool, str] | None: ...


@runtime_checkable
class SaysWhereTablesWent(Protocol):
    """A source of tabs that, for a table it gave last run (from ``before``, when one tab
    gave it) and gives no more, says where to look: the tabs it did not read, and how to
    read one as the table again. A renamed tab looks like every row deleted at once."""

    def missing_table(self, table: str, before: str | None) -> str: ...


@dataclass
class Page:
    """Rows to commit together, the cursor they allow, and records the source has archived.

    ``rejects`` are rows of ``tables`` the source could not read at all; they are
    recorded with the page, so every input row ends either loaded or rejected.
    """

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    cursor: str | None = None
    archived: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # table: (key, when)
    skipped: int = 0  # records that are not rows of this table (e.g. line items of a quote)
    rejects: dict[str, list[SourceReject]] = field(default_factory=dict)  # table: unreadable rows
    # What the source could not read but the run goes on without (e.g. a CRM's stage labels
    # when the token may not read them): one line each, shown with the run's notices.
    notices: list[Notice] = field(default_factory=list)
    # Tables this page holds all of the source's rows of (a CRM's pipelines, read whole
    # each run): the source's stored rows not in it are gone (a deleted pipeline).
    whole: frozenset[str] = frozenset()
    # Keys (the table's first key column) whose stored rows of the table go before this
    # page's rows of it come in: a deal's stage history read whole replaces its old one.
    replace: dict[str, list[str]] = field(default_factory=dict)
    # Records merged into others in the source, per table: (old id, the id it became).
    # Stored rows that name the old one name the new one (HubSpot moves a merged contact's
    # deals and orders without touching them, so no incremental pull would say so).
    merged: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # Ids the source holds (live or restorable), per table, over a run's pages; a table in
    # ``listed_whole`` has had every id listed by the end of this page: its stored rows
    # whose id was not listed are gone for good (a CRM's GDPR delete) and are purged.
    listed: dict[str, list[str]] = field(default_factory=dict)
    listed_whole: frozenset[str] = frozenset()
    # Rows a source has just read in full, per table: of its stored rows whose ``column``
    # holds one of ``values``, only those whose id (schema.REPLACED_BY) is in ``ids`` are
    # still in the source (a HubSpot engagement type listed whole once a day: calls
    # deleted for good, or moved to another contact without any change HubSpot dates).
    kept_only: dict[str, KeptOnly] = field(default_factory=dict)


@runtime_checkable
class Renamed(Protocol):
    """A source whose stored rows may carry a name it went by before (an older release's):
    they are its rows still, when it decides which rows left it."""

    @property
    def former_names(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class SourceAccount:
    """The account a source's records belong to (a HubSpot portal). A store holds one
    account's records per source: ids are the account's own, so another account's record
    "51" is someone else, and its cursors would skip that account's older records."""

    key: str  # as the service names it ("146238120")
    words: str  # as the user knows it ("HubSpot account 146238120")
    currency: str | None = None  # the account's own (HubSpot's company currency), if said


@runtime_checkable
class KnowsAccount(Protocol):
    """A source that can say which account its credential reads. None: it could not tell
    this run, and ``account_unknown`` says so in a sentence (the service's refusal)."""

    def account(self) -> SourceAccount | None: ...

    @property
    def account_unknown(self) -> str: ...

    @property
    def account_refused(self) -> bool: ...  # the service refused to say: retrying won't help


@runtime_checkable
class PagedSource(Source, Protocol):
    """A source whose pages commit one by one (rows, rejects and cursor together)."""

    def pull_pages(self, entity: str, since: str | None = None) -> Iterator[Page]: ...


@dataclass(frozen=True)
class SavedModelText:
    """A fitted model as text (never pickle) with its card, for the store."""

    payload: str
    card: dict[str, Any]
    format: str


# -- what a step declares it writes: looped over by the workbook, Sheets and HubSpot -----
@dataclass(frozen=True)
class ColourScale:
    """Red-amber-green on one column of a workbook tab."""

    column: str
    low: float
    high: float
    high_is_good: bool = True


@dataclass(frozen=True)
class WorkbookChart:
    """A native Excel chart beside a tab's table.

    ``band``: the tab is a chart table (date, actual, forecast, low, high, range) and
    ``label`` names the y axis; ``bar``: ``values`` per ``category``; ``histogram``: how
    ``values`` (0-100) spread over ten bands, counted as ``label``.
    """

    kind: Literal["band", "bar", "histogram"]
    title: str
    category: str = ""
    values: str = ""
    label: str = ""


@dataclass(frozen=True)
class SheetsChart:
    """A line chart over the first ``rows`` rows of a Sheets tab."""

    title: str
    rows: int
    domain: str
    series: tuple[str, ...]


@dataclass(frozen=True)
class SheetsTab:
    """A result tab in Google Sheets. Several steps may fill one (declare it once, share it).

    ``role`` is the stable name kept in the tab's metadata; ``title`` (default: the
    workbook tab's title) is what the user sees. ``columns`` orders a tab several parts
    fill; ``prepare`` and ``chart`` see the finished frame. ``key`` is the column that
    names each row's record (one row each): columns the user adds to the tab are kept
    beside the row with the same key when the refresh moves the rows.
    """

    role: str
    title: str | None = None
    columns: tuple[str, ...] = ()
    prepare: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    chart: Callable[[pd.DataFrame], SheetsChart | None] | None = None
    key: str | None = None


@dataclass(frozen=True)
class SheetsPart:
    """How one workbook tab goes into a Sheets tab: its rows, or columns joined on a key."""

    tab: SheetsTab
    how: Literal["rows", "join"] = "rows"
    columns: tuple[str, ...] = ()  # taken after renaming; empty: all
    rename: Mapping[str, str] = field(default_factory=dict)
    constants: Mapping[str, Any] = field(default_factory=dict)  # e.g. kind = "lead"
    on: str = "contact_id"  # the key of a join
    order: int = 0  # where the rows go among other parts' rows


# In a "forecast_history" example's frame.attrs: whether its first forecast period holds
# sales so far (the run is dated inside it), which the Instructions tab's FORECAST call on
# the complete periods is not told of.
OPENED_WITH_SALES = "opened_with_sales"
# ... and the names of the products its forecast left out as not for sale, whose past
# sales the history still holds (the call forecasts them on; the tab does not).
LEFT_OUT_PRODUCTS = "left_out_products"


@dataclass(frozen=True)
class Tab:
    """A tab of results: in the workbook, and in Google Sheets through ``sheets``."""

    title: str
    columns: tuple[str, ...] = ()  # the columns in order, where they do not depend on settings
    formats: Mapping[str, str] = field(default_factory=dict)  # column: number format override
    colour_scale: ColourScale | None = None
    chart: WorkbookChart | None = None
    example: Literal["forecast_history", "lead_emails"] | None = None  # for the Instructions tab
    sheets: tuple[SheetsPart, ...] = ()
    workbook: bool = True

    def select(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The declared columns of ``frame``, in the declared order."""
        return frame[list(self.columns)] if self.columns else frame


CrmObject = Literal["contacts", "deals", "products"]


@dataclass(frozen=True)
class CrmProperty:
    """A CRM property a step writes: how to create it, and where its value comes from.

    ``take`` gets the latest rows of the output table ``table`` and returns the value
    per record id (the id as the CRM knows it).
    """

    object_type: CrmObject
    name: str
    label: str
    type: str
    field_type: str
    description: str
    table: str
    take: Callable[[pd.DataFrame], pd.Series]
    options: tuple[str, ...] = ()
    money: bool = False  # an amount: the description names the run's currency


@dataclass(frozen=True)
class StepOutputs:
    """Everything a step writes, as data: output tables, tabs and CRM properties."""

    tables: tuple[OutputTable, ...] = ()
    tabs: tuple[Tab, ...] = ()
    properties: tuple[CrmProperty, ...] = ()


@dataclass
class ReportSection:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)  # inline SVG
    table: pd.DataFrame | None = None


@dataclass
class StepResult:
    outputs: dict[str, pd.DataFrame] = field(default_factory=dict)  # scores/forecasts/prices
    sheets: dict[str, pd.DataFrame] = field(default_factory=dict)  # tab title -> frame
    notes: dict[str, str] = field(default_factory=dict)  # tab title -> one-line explanation
    sections: list[ReportSection] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)  # one-liners for the CLI and report
    models: dict[str, SavedModelText] = field(default_factory=dict)

    def add_tab(self, tab: Tab, frame: pd.DataFrame, note: str | None = None) -> None:
        self.sheets[tab.title] = frame
        if note is not None:
            self.notes[tab.title] = note


@dataclass(frozen=True)
class Notice:
    """One data check that found something: what, in which table, how many rows, what we did.

    ``check`` is a stable key (e.g. ``future_dates``) for tests and the store; ``message``
    is the one line people read, in the report, the workbook and ``smbml status``.
    """

    check: str
    table: str
    count: int
    message: str


# Rejects rows that are not rows the user's data lost: a table that could not be read at all
# is a problem of the run, a cleared value left the rest of its row in use, and a skipped
# row held no record (blank, total, header again: counted as skipped, not as rejected).
SKIPPED_ROW = "row skipped"
_NOT_A_REJECTED_ROW = (
    "value cleared",
    "table skipped",
    "column note",
    UNREADABLE_CONSENT,
    SKIPPED_ROW,
)


def cleared_in_kept_rows(rejects: pd.DataFrame) -> pd.DataFrame:
    """The "value cleared" rejects of rows that were kept: a rejected row's unreadable
    values stay listed (they explain the row) but were counted again as values "left
    empty (the rest of their row was kept)", when nothing of the row was kept."""
    cleared = rejects[rejects["action"] == "value cleared"]
    rejected = rejects[rejects["action"] == "row rejected"]
    if cleared.empty or rejected.empty:
        return cleared
    key = ["table", "source", "source_row", "row"]
    gone = set(map(tuple, rejected[key].astype(str).to_numpy()))
    mine = [tuple(r) not in gone for r in cleared[key].astype(str).to_numpy()]
    return cleared[mine]


@dataclass
class RunResult:
    """Everything a run produced, for destinations and for the person watching."""

    run_id: int
    as_of: pd.Timestamp
    source: str
    status: str = "running"
    loaded: dict[str, int] = field(default_factory=dict)
    rejects: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REJECT_COLUMNS))
    consent_skipped: int = 0
    steps: dict[str, StepResult] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # analytics with no or too little data
    skipped_steps: dict[str, str] = field(default_factory=dict)  # step -> its line in skipped
    pushes: list[PushReport] = field(default_factory=list)
    archived: dict[str, int] = field(default_factory=dict)  # records the source has deleted
    purged: dict[str, list[str]] = field(default_factory=dict)  # ids gone for good, removed
    not_loaded: dict[str, int] = field(default_factory=dict)  # source records not of the table
    declared: dict[str, StepOutputs] = field(default_factory=dict)  # per step run or skipped
    notices: list[Notice] = field(default_factory=list)  # the data checks (data_checks.py)
    incomplete: dict[str, str] = field(default_factory=dict)  # table -> why it did not load
    held_back: dict[str, str] = field(default_factory=dict)  # step -> why it was not computed
    failed: dict[str, str] = field(default_factory=dict)  # step -> why it failed (values kept)
    labels: dict[str, str] = field(default_factory=dict)  # step -> its name for people
    currency: str = ""  # the main currency of the orders (amounts written are in it)
    zone: BusinessZone = NO_ZONE  # the clock times written without an offset were read on
    # table -> the one file or tab it was read from (a files or sheets source), which names
    # its rejects' rows where the row does not name its own (`value_words.reject_files`)
    files: dict[str, str] = field(default_factory=dict)

    @property
    def local_as_of(self) -> pd.Timestamp:
        """The run's moment on the business's clock: its dates are the ones people see."""
        return self.as_of.tz_convert(self.zone.name)

    def tabs(self) -> dict[str, Tab]:
        """Every declared tab by title, in the order of the steps."""
        return {t.title: t for outputs in self.declared.values() for t in outputs.tabs}

    def properties(self) -> list[CrmProperty]:
        return [p for outputs in self.declared.values() for p in outputs.properties]

    @property
    def rejected_rows(self) -> int:
        rows = self.rejects[~self.rejects["action"].isin(_NOT_A_REJECTED_ROW)]
        numbered = rows[rows["source_row"].notna()]  # rows left out after loading have no number
        # A table read from several files or tabs numbers each one's rows from 1: the
        # original row (which names its file) tells two row 3s apart.
        distinct = numbered[["table", "source_row", "row"]].astype(str).drop_duplicates()
        return len(distinct) + len(rows) - len(numbered)

    @property
    def rows_skipped(self) -> int:
        """Rows that held no record (blank, total, a header again): listed, not rejected."""
        return int((self.rejects["action"] == SKIPPED_ROW).sum())

    @property
    def skipped_tables(self) -> int:
        return int((self.rejects["action"] == "table skipped").sum())

    @property
    def cleared_values(self) -> int:
        return len(cleared_in_kept_rows(self.rejects))

    @property
    def consent_unreadable(self) -> int:
        """Contacts whose consent value could not be read: opted out, listed in the rejects."""
        return int((self.rejects["action"] == UNREADABLE_CONSENT).sum())

    def counts(self) -> dict[str, Any]:
        return {
            "loaded": self.loaded,
            "rejected_rows": self.rejected_rows,
            "skipped_rows": self.rows_skipped,
            "cleared_values": self.cleared_values,
            "consent_skipped": self.consent_skipped,
            "consent_unreadable": self.consent_unreadable,
            "skipped": self.skipped,
            "archived": self.archived,
            "purged": {table: len(ids) for table, ids in self.purged.items()},
            "not_loaded": self.not_loaded,
            "skipped_tables": self.skipped_tables,
            "files": self.files,
            "notices": [
                {"check": n.check, "table": n.table, "count": n.count, "message": n.message}
                for n in self.notices
            ],
            "push_notes": [f"{p.destination}: {line}" for p in self.pushes for line in p.notes],
            "outputs": {
                f"{name}.{kind}": len(frame)
                for name, result in self.steps.items()
                for kind, frame in result.outputs.items()
            },
        }


@runtime_checkable
class Destination(Protocol):
    """Where a run's results go: a file, a spreadsheet, CRM properties."""

    @property
    def name(self) -> str: ...

    def publish(self, result: RunResult, store: Store) -> PushReport: ...
