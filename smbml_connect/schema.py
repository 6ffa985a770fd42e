"""The canonical tables: the contract between connectors, the store and the analytics.

Each table is declared once, as data. ``validate`` turns whatever a source sent into
clean typed rows plus a rejects frame that says, per problem, the source row, the
column, the value and the reason. A bad value in a key or required column rejects the
row; a bad value elsewhere is cleared and reported, so one typo does not cost a whole
contact. Columns the schema does not know are kept in ``extra`` as JSON.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, TypeGuard, get_args

import numpy as np
import pandas as pd

from smbml_connect import coerce
from smbml_connect.consent import is_consent_header, is_opt_out_header, says_no
from smbml_connect.distinct import Distinct
from smbml_connect.errors import DataValidationError
from smbml_connect.money_words import THREE_DECIMALS, minor_digits
from smbml_connect.sale_flags import read_column, unread_beside
from smbml_connect.secret_columns import left_out_columns, redacted, redacted_all, secret_note

__all__ = [
    "FILE",
    "FORECASTS",
    "NOTE",
    "OUTPUT_TABLES",
    "PRICE_SUGGESTIONS",
    "REJECTS_TAB",
    "REJECT_COLUMNS",
    "SCORES",
    "SHARED_OUTPUTS",
    "TABLES",
    "Column",
    "Evidence",
    "KeptOnly",
    "OutputColumn",
    "OutputTable",
    "TableName",
    "TableSpec",
    "Validation",
    "currency_mark",
    "empty_frame",
    "evidence",
    "key_values",
    "money_mark",
    "shared_sign",
    "shown_key",
    "system_columns",
    "validate",
]

# "consent" is text kept as written: only an empty cell is empty (consent.read_consent reads
# it; "n/a" there is an unreadable value, so an opt-out, not a blank that consents).
Kind = Literal["str", "email", "int", "count", "float", "datetime", "bool", "consent"]
TableName = Literal[
    "contacts",
    "deals",
    "deal_stages",
    "deal_pipeline_stages",
    "orders",
    "order_lines",
    "products",
    "associations",
    "activities",
]
SOURCE_ROW = "_source_row"
# The column naming the file or tab of each row when one table is read from several
# (an export split in files, a year per tab): row numbers restart in each.
FILE = "File"
# Tables whose stored rows keep the row they were read from (beside ``source``): consent is
# decided over every stored contact, and a contact whose consent cannot be read is listed
# with its source, row, column and value; an order or activity dated after the run is
# listed by the data checks (which read the store) with its file and row.
ROWS_KEPT = frozenset({"contacts", "orders", "activities"})
STORED_ROW = "source_row"
REJECTS_TAB = "Rejects"  # the tab of rows and values a run could not use, wherever results go
NOTE = "column note"  # a rejects row about a whole column (how it was read), not a problem row
REJECT_COLUMNS = ["table", "source", "source_row", "column", "value", "reason", "action", "row"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = False
    # What an empty or absent value reads as, for a key column a source may not have: an
    # activity's id (HubSpot's engagement id; a file's rows have none and are told apart by
    # contact, time and kind alone).
    default: str | None = None


@dataclass(frozen=True)
class TableSpec:
    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _is_kind(kind: str) -> TypeGuard[Kind]:
    return kind in get_args(Kind)


def _cols(spec: str) -> tuple[Column, ...]:
    """Compact declaration: "name:kind" with a trailing "!" for required."""
    out = []
    for item in spec.split():
        name, kind = item.rstrip("!").split(":")
        if not _is_kind(kind):
            raise ValueError(f"{item}: the kind is not one of {', '.join(get_args(Kind))}")
        out.append(Column(name, kind, item.endswith("!")))
    return tuple(out)


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "contacts",
            ("contact_id",),
            _cols(
                "contact_id:str! email:email first_name:str last_name:str company:str "
                "lifecycle_stage:str lead_source:str country:str industry:str "
                "created_at:datetime updated_at:datetime last_activity_at:datetime "
                "converted_at:datetime page_views:count sessions:count email_opens:count email_clicks:count "
                "form_submissions:count marketing_consent:consent archived_at:datetime "
                "orders_count:count"
            ),
        ),
        TableSpec(
            "deals",
            ("deal_id",),
            _cols(
                "deal_id:str! name:str amount:float currency:str pipeline:str stage:str "
                "is_closed:bool is_won:bool created_at:datetime close_date:datetime "
                "closed_at:datetime owner_id:str contact_id:str archived_at:datetime"
            ),
        ),
        TableSpec(  # when each deal entered each stage: stage history for the win model
            "deal_stages",
            ("deal_id", "stage"),
            _cols("deal_id:str! stage:str! entered_at:datetime!"),
        ),
        TableSpec(  # a CRM's deal pipelines: what each stage id is called, where, in which order
            "deal_pipeline_stages",
            ("stage",),  # HubSpot: stage ids are unique across a portal's pipelines
            _cols(
                "stage:str! stage_label:str pipeline:str pipeline_label:str "
                "pipeline_order:int display_order:int is_closed:bool probability:float"
            ),
        ),
        TableSpec(
            "orders",
            ("order_id",),
            _cols(
                "order_id:str! contact_id:str ordered_at:datetime! total:float currency:str "
                "status:str archived_at:datetime refunded:float"
            ),
        ),
        TableSpec(
            "order_lines",
            ("order_id", "line_no"),
            _cols(
                "order_id:str! line_no:int! product_id:str quantity:float unit_price:float "
                "discount:float archived_at:datetime"
            ),
        ),
        TableSpec(
            "products",
            ("product_id",),
            _cols(
                "product_id:str! name:str price:float unit_cost:float category:str "
                "archived_at:datetime on_sale:bool gift_card:bool variant_of:str variant:str "
                "in_stock:bool"
            ),
        ),
        TableSpec(
            "associations",
            ("from_type", "from_id", "to_type", "to_id"),
            _cols("from_type:str! from_id:str! to_type:str! to_id:str!"),
        ),
        TableSpec(
            "activities",
            ("contact_id", "occurred_at", "kind", "activity_id"),
            (
                *_cols("contact_id:str! occurred_at:datetime! kind:str!"),
                Column("activity_id", "str", default=""),
            ),
        ),
    )
}

# Where a table's records are named by others: columns of other tables, and the type its
# records have in the associations table. A record merged into another follows it there.
REFERENCES: dict[str, tuple[tuple[str, str], ...]] = {
    "contacts": (("deals", "contact_id"), ("orders", "contact_id"), ("activities", "contact_id")),
    "deals": (("deal_stages", "deal_id"),),
    "orders": (("order_lines", "order_id"),),
}
ASSOCIATION_TYPES = {"contacts": "contact", "deals": "deal", "orders": "order"}
# The column ``Page.replace`` names rows by, where it is not the table's first key column:
# a HubSpot engagement read again (moved in time, linked to other contacts, deleted)
# replaces every row it gave, one per contact.
REPLACED_BY = {"activities": "activity_id"}


def shown_key(spec: TableSpec, columns: object) -> list[str]:
    """The key columns a source's rows have (``columns``, its frame's): one it does not
    have (an activity's id) holds its default on every row, so a reason does not name it."""
    present = set(columns)  # type: ignore[call-overload]
    return [k for k in spec.key if k in present or spec.column(k).default is None]


def key_values(spec: TableSpec, values: Mapping[str, object]) -> dict[str, str]:
    """A row's key as text, less the parts that hold their column's default ('')."""
    return {
        k: str(values[k])
        for k in spec.key
        if spec.column(k).default is None or str(values[k]) != spec.column(k).default
    }


@dataclass(frozen=True)
class KeptOnly:
    """Of a source's rows whose ``column`` holds one of ``values``, the ids (REPLACED_BY)
    still in the source (see ``ports.Page.kept_only``). ``name`` names the listing (a
    HubSpot engagement type): an id missing from two of its listings in a row is gone."""

    name: str
    column: str
    values: tuple[str, ...]
    ids: tuple[str, ...]
    noun: str = ""  # what the user calls the records, plural ("messages"); else ``name``


# Columns that hold a share of a price (0.1 is 10%): read against 0..1, see ``_as_share``.
SHARES: dict[str, tuple[str, ...]] = {"order_lines": ("discount",)}
# Read in the words products lists use, each under its header's meaning (``sale_flags``).
ON_SALE = ("products", "on_sale")
# Columns of amounts of money, in the table's currency (its currency column, else the shop's).
MONEY: dict[str, tuple[str, ...]] = {
    "deals": ("amount",),
    "orders": ("total", "refunded"),
    "order_lines": ("unit_price",),
    "products": ("price", "unit_cost"),
}

OutputKind = Literal["str", "float", "int", "datetime", "json"]
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class OutputColumn:
    name: str
    kind: OutputKind
    required: bool = False  # NOT NULL in the store


@dataclass(frozen=True)
class OutputTable:
    """A table of results a step writes; the store keeps every run's rows as history.

    Declared once, as data: the store derives its DDL from it (a table a new step
    declares is created the first time it is written), and ``latest`` names the column
    whose newest run counts (each model, each series), if any.
    """

    name: str
    columns: tuple[OutputColumn, ...]
    latest: str | None = None
    index: tuple[str, ...] = ()  # columns of an index (with run_id), e.g. ("model",)

    def __post_init__(self) -> None:
        for name in (self.name, *self.names):
            if not _IDENTIFIER.match(name):  # names go into SQL: plain identifiers only
                raise ValueError(f"output table {self.name!r}: {name!r} is not a plain name")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _is_output_kind(kind: str) -> TypeGuard[OutputKind]:
    return kind in get_args(OutputKind)


def _out(spec: str) -> tuple[OutputColumn, ...]:
    """ "name:kind!" items, ! meaning required (the same shorthand as the canonical tables)."""
    columns = []
    for item in spec.split():
        name, kind = item.rstrip("!").split(":")
        if not _is_output_kind(kind):
            raise ValueError(f"{item}: the kind is not one of {', '.join(get_args(OutputKind))}")
        columns.append(OutputColumn(name, kind, item.endswith("!")))
    return tuple(columns)


# The outputs several steps share; a step may declare a table of its own as well.
SCORES = OutputTable(
    "scores",
    _out("entity:str! entity_id:str! model:str! value:float label:str reasons:json "
         "model_version:str scored_at:datetime"),
    latest="model",
    index=("model",),
)  # fmt: skip
FORECASTS = OutputTable(
    "forecasts",
    _out("series_id:str! ds:datetime! yhat:float lo80:float hi80:float lo95:float hi95:float "
         "model:str"),
    latest="model",
    index=("series_id",),
)  # fmt: skip
PRICE_SUGGESTIONS = OutputTable(
    "price_suggestions",
    _out("product_id:str! current_price:float suggested_price:float elasticity:float "
         "elasticity_lo:float elasticity_hi:float expected_profit_change:float confidence:str "
         "reason:str scored_at:datetime"),
    index=("product_id",),
)  # fmt: skip
SHARED_OUTPUTS: dict[str, OutputTable] = {t.name: t for t in (SCORES, FORECASTS, PRICE_SUGGESTIONS)}
# Column names per shared output table (derived, for readers that need only the names).
OUTPUT_TABLES: dict[str, tuple[str, ...]] = {n: t.names for n, t in SHARED_OUTPUTS.items()}


def _coerce_email(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    def parse(value: Any) -> str:
        text = str(value).strip().lower()
        local, at, domain = text.partition("@")
        if not (local and at and "." in domain.strip(".")) or " " in text:
            raise ValueError("not an email address")
        return text

    return coerce._map_unique(series, parse, "string")


def _coerce_count(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    values, invalid = coerce.coerce_int(series)
    negative = values.fillna(0) < 0
    return values.mask(negative), invalid | negative


def _coerce_consent(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    return coerce.coerce_string(series, as_written=True)


_COERCERS: dict[str, Callable[[pd.Series], tuple[pd.Series, pd.Series]]] = {
    "str": coerce.coerce_string,
    "consent": _coerce_consent,
    "email": _coerce_email,
    "int": coerce.coerce_int,
    "count": _coerce_count,
    "float": coerce.coerce_float,
    "datetime": coerce.coerce_datetime,
    "bool": coerce.coerce_bool,
}
_REASONS = {
    "str": "could not be read as text",
    "consent": "could not be read as text",
    "email": "is not an email address",
    "int": "is not a whole number",
    "count": "is not a whole number of zero or more",
    "float": "is not a number",
    "datetime": "is not a date we can read (try 2025-03-14)",
    "bool": "is not a yes/no value (use yes/no, true/false or 1/0)",
}
_PANDAS_DTYPES = {
    "str": "string",
    "consent": "string",
    "email": "string",
    "int": "Int64",
    "count": "Int64",
    "float": "Float64",
    "datetime": "datetime64[us, UTC]",
    "bool": "boolean",
}


def system_columns(table: str) -> list[str]:
    """The columns the store keeps beside the canonical ones: source (row), extra."""
    return ["source", *([STORED_ROW] if table in ROWS_KEPT else []), "extra"]


def empty_frame(table: str) -> pd.DataFrame:
    """A zero-row frame with the canonical columns and dtypes of ``table``."""
    spec = _spec(table)
    frame = pd.DataFrame({c.name: pd.Series(dtype=_PANDAS_DTYPES[c.kind]) for c in spec.columns})
    frame["source"] = pd.Series(dtype="string")
    if table in ROWS_KEPT:
        frame[STORED_ROW] = pd.Series(dtype="Int64")
    frame["extra"] = pd.Series(dtype="string")
    return frame


@dataclass
class Validation:
    """The result of ``validate``: rows that can be stored and the problems found."""

    clean: pd.DataFrame
    rejects: pd.DataFrame
    # Where ``clean``'s rows were in the frame validated: row numbers alone do not say it
    # when one table is read from several files or tabs (each numbers its rows from 1).
    kept: np.ndarray
    # The key of every row whose key could be read, kept or rejected: a row rejected this
    # time is still in the source (a source read whole leaves out only the keys it lacks).
    seen: pd.DataFrame = field(default_factory=pd.DataFrame)
    # The sign most amounts are marked with when it names no one currency ("¥": yen or
    # yuan) and neither a currency column nor the shop's currency says which.
    shared_sign: str | None = None
    # The key and source row of each rejected row whose key could be read: a version of it
    # an earlier run stored still counts, and its reject says so.
    refused: pd.DataFrame = field(default_factory=pd.DataFrame)
    # Columns left out because their header names a secret ("Password", "API Token").
    secrets: tuple[str, ...] = ()

    @property
    def rejected_rows(self) -> int:
        rows = self.rejects[self.rejects["action"] == "row rejected"]
        return int(rows["source_row"].nunique())


@dataclass
class Evidence:
    """What the values of a table read in pages (a large CSV, a long tab) prove about how
    its columns are written, over all of its pages: each page is then read as its whole
    file's values decide. Alone, a page's few rows decided for themselves: the file's last
    order, in a page of its own, was read month/day ("04/12/2025": 12 April) where every
    other date proved day/month, and a "1.299 €" was left empty as "no value shows its
    decimal mark". Gathered by ``evidence``, added page by page with ``+``."""

    numbers: dict[str, dict[str, int]] = field(default_factory=dict)
    dates: dict[str, coerce.DateVotes] = field(default_factory=dict)
    marks: dict[str, int] = field(default_factory=dict)  # order totals' currency marks
    totals: int = 0  # order totals written (marked or not), for ``_currency_of``

    def __add__(self, other: Evidence) -> Evidence:
        numbers = {c: dict(v) for c, v in self.numbers.items()}
        for column, votes in other.numbers.items():
            mine = numbers.setdefault(column, dict.fromkeys(votes, 0))
            numbers[column] = {k: mine.get(k, 0) + n for k, n in votes.items()}
        dates = dict(self.dates)
        for column, said in other.dates.items():
            dates[column] = dates[column] + said if column in dates else said
        marks = dict(self.marks)
        for mark, n in other.marks.items():
            marks[mark] = marks.get(mark, 0) + n
        return Evidence(numbers, dates, marks, self.totals + other.totals)

    def numbers_of(self, column: str, scan: coerce.NumberScan) -> coerce.NumberScan:
        """``scan`` (one page's) deciding by the file's votes of ``column``."""
        if column not in self.numbers:
            return scan
        return dataclasses.replace(scan, told=self.numbers[column])

    def dates_of(self, column: str, scan: coerce.DateScan) -> coerce.DateScan:
        """``scan`` (one page's) deciding by the file's votes of ``column``."""
        return self.dates[column].over(scan) if column in self.dates else scan


def evidence(table: str, frame: pd.DataFrame, currency: str | None = None) -> Evidence:
    """What ``frame`` (one page of ``table``, canonical names) proves: the votes its number
    and date columns cast, and its order totals' currency marks (see ``Evidence``)."""
    spec = _spec(table)
    frame = _unread_cells(_whole_characters(frame.reset_index(drop=True)))[0]
    no_cents = set(MONEY.get(table, ())) if _without_cents(table, frame, currency) else set()
    scans: dict[str, coerce.NumberScan | coerce.DateScan] = {}
    _table_hint(spec, frame, scans, no_cents)
    numbers = {c: s.own_votes() for c, s in scans.items() if isinstance(s, coerce.NumberScan)}
    dates = {c: coerce.DateVotes.of(s) for c, s in scans.items() if isinstance(s, coerce.DateScan)}
    marks: dict[str, int] = {}
    totals = 0
    if table == "orders" and "total" in frame.columns:
        text = _written_totals(frame["total"])
        totals = len(text)
        # a plain number names no currency: one vectorised pass leaves those out, so the
        # per-value look for a mark (most of a large file's second read) runs on the few
        # marked ones only ("12,99 €"); stop 57: 350,000 calls on a file of plain totals
        text = text[~text.str.fullmatch(_PLAIN_AMOUNT)]
        for mark, n in text.map(_mark_of).dropna().value_counts().items():
            marks[str(mark)] = int(n)
    return Evidence(numbers, dates, marks, totals)


def _spec(table: str) -> TableSpec:
    try:
        return TABLES[table]
    except KeyError:
        known = ", ".join(TABLES)
        raise DataValidationError(f"unknown table {table!r}; known tables: {known}") from None


def _jsonable(value: Any) -> Any:
    if isinstance(value, pd.Timestamp | np.datetime64):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _rows_json(
    frame: pd.DataFrame, positions: list[int], dates: frozenset[str] = frozenset()
) -> dict[int, str]:
    """The original rows at ``positions`` as JSON, without empty values; one pass, not per row.

    A date column's spreadsheet date number (Google Sheets answers 45731) is shown as the
    date it is ("2025-03-14"), as the user sees it in the sheet."""
    unique = sorted(set(positions))
    hidden = [SOURCE_ROW, *left_out_columns(frame)]
    subset = frame.drop(columns=hidden, errors="ignore").iloc[unique]
    present = ~pd.DataFrame({c: coerce._missing(subset[c]) for c in subset.columns})
    cells = subset.astype(object).where(present.to_numpy(), None).to_numpy()
    names = [str(c) for c in subset.columns]
    return {
        position: json.dumps(
            {
                name: redacted(value) if isinstance(value, str) else _shown(value, name in dates)
                for name, value in zip(names, row, strict=True)
                if value is not None
            },
            default=str,
        )
        for position, row in zip(unique, cells, strict=True)
    }


def _shown(value: Any, date: bool) -> Any:
    if date and isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return coerce.serial_date_text(float(value)) or _jsonable(value)
        except ValueError:
            pass
    return _jsonable(value)


def validate(
    table: str,
    frame: pd.DataFrame,
    source: str = "",
    formats: Mapping[str, coerce.ColumnFormat] | None = None,
    zone: str | None = None,
    currency: str | None = None,
    as_of: pd.Timestamp | None = None,
    told: Evidence | None = None,
    order: tuple[bool, str] | None = None,
) -> Validation:
    """Return the clean typed rows of ``frame`` and every problem found in it.

    ``frame`` has canonical column names (connectors map headers first). A column
    ``_source_row`` gives the row number the user sees in the source (a sheet row,
    a CSV line); without it rows are numbered from 1. ``formats`` states, per column,
    the decimal mark or date order the values cannot show (from the config). Times
    written without an offset are read on ``zone``'s clock (UTC when None; see
    business_zone). ``currency`` is the shop's, for rows no currency column names: yen
    and won have no decimals, so their "14,300" is a number, not a question. ``as_of`` is
    the run's moment (now when None): a product "Discontinued" on a later day is still
    for sale. ``told``: what the whole file's values prove, when ``frame`` is one page of
    it (``Evidence``); the page's decimal marks, date orders and currency follow it.
    ``order``: what the source's own setting says of its dates (day first, and why:
    a spreadsheet's locale), for date columns neither their values nor the table's
    other dates decide.
    """
    spec = _spec(table)
    missing = [c.name for c in spec.columns if c.required and c.name not in frame.columns]
    if missing:
        raise DataValidationError(
            f"{table}{' from ' + source if source else ''}: required column(s) "
            f"{', '.join(missing)} not found; columns present: {', '.join(str(c) for c in frame.columns if c != SOURCE_ROW)}"
            f" (name the header that holds it in the config: [source.mapping.{table}] "
            f'"Your header" = "{missing[0]}"; `smbml inspect` shows how headers were read)'
        )
    secrets = [c for c in left_out_columns(frame) if c not in spec.names]
    frame = frame.drop(columns=secrets)  # a "Password" column: never stored nor shown
    original = _whole_characters(frame.reset_index(drop=True))
    frame, unread = _unread_cells(original)
    rows = (
        frame[SOURCE_ROW].astype("Int64")
        if SOURCE_ROW in frame.columns
        else pd.Series(np.arange(1, len(frame) + 1), dtype="Int64")
    )
    formats = formats or {}
    scans: dict[str, coerce.NumberScan | coerce.DateScan] = {}
    no_cents = set(MONEY.get(table, ())) if _without_cents(table, frame, currency, told) else set()
    hint = _table_hint(spec, frame, scans, no_cents, told, order)
    mils = _mils_hint(table, frame, currency, hint, told)  # "12.500" of a dinar: 12.5, as FUNCTIONS
    problems: list[dict[str, Any]] = [
        {"column": c, "position": None, "value": "", "reason": secret_note(c), "action": NOTE}
        for c in secrets
    ]
    reject = pd.Series(False, index=frame.index)
    clean = pd.DataFrame(index=frame.index)
    for column in spec.columns:
        if column.name not in frame.columns:
            clean[column.name] = pd.Series(
                pd.NA if column.default is None else column.default,
                index=frame.index,
                dtype=_PANDAS_DTYPES[column.kind],
            )
            continue
        raw = frame[column.name]
        reading = _read(
            column, raw, formats.get(column.name),
            mils if mils and column.name in MONEY[table] else hint, scans.get(column.name), zone,
            column.name in no_cents,
        ) if (table, column.name) != ON_SALE else read_column(
            raw, _today(as_of, zone), formats.get(column.name), hint, zone
        )  # fmt: skip
        if column.name in SHARES.get(table, ()):
            reading = _as_share(reading, raw, formats.get(column.name), table, column.name)
        values, invalid = reading.values, reading.invalid
        if column.default is not None:
            values = values.fillna(column.default)
        clean[column.name] = values.astype(_PANDAS_DTYPES[column.kind])
        empty = values.isna() & ~invalid if column.required else pd.Series(False, index=frame.index)
        cells = unread.pop(column.name, {})
        for at, cell in cells.items():
            problems.append(_unread_problem(column.name, at, cell, column.required))
            reject.iloc[at] |= column.required
        if cells:
            empty.iloc[list(cells)] = False  # said above: not empty, unreadable
        for position in np.flatnonzero(invalid.to_numpy() | empty.to_numpy()):
            fatal = column.required
            value = raw.iloc[position]
            problems.append(
                {
                    "column": column.name,
                    "position": position,
                    "value": "" if coerce.is_missing(value) else str(value),
                    "reason": (
                        f"{column.name} is empty but required"
                        if empty.iloc[position]
                        else f"{column.name} {_reason(reading, column, value)}"
                    ),
                    "action": "row rejected" if fatal else "value cleared",
                }
            )
            if fatal:
                reject.iloc[position] = True
        for kind, text in reading.notes:
            problems.append(
                {
                    "column": column.name,
                    "position": None,
                    "value": "",
                    "reason": f"{column.name}: {text}{_how_to_state(kind, table, column.name)}",
                    "action": NOTE,
                }
            )
    if table == ON_SALE[0]:  # "Discontinued" soon beside "Status" active
        problems += [
            {"column": "on_sale", "position": at, "value": value, "reason": f"on_sale {why}",
             "action": "value cleared"}
            for at, value, why in unread_beside(frame, spec.names, _today(as_of, zone))
        ]  # fmt: skip
    if table == "orders" and "currency" not in frame.columns and "total" in frame.columns:
        marked = _currency_of(frame["total"], told)
        if marked is not None:
            clean["currency"] = marked.astype("string")
    for name, cells in unread.items():  # columns kept in extra: left out of it, said
        problems += [_unread_problem(name, p, cell, False) for p, cell in cells.items()]
    _reject_duplicates(spec, clean, reject, rows, problems, frame)
    clean["source"] = pd.Series(source, index=frame.index, dtype="string")
    if table in ROWS_KEPT:
        clean[STORED_ROW] = rows.to_numpy()
    clean["extra"] = _extra(frame, spec)
    rejects = _rejects_frame(table, source, original, rows, problems)
    kept = ~reject.to_numpy()
    key = list(spec.key)
    seen = clean.loc[clean[key].notna().all(axis=1).to_numpy(), key].reset_index(drop=True)
    sign = None if currency or "currency" in frame.columns else _shared_sign(table, frame)
    keyed = reject.to_numpy() & clean[key].notna().all(axis=1).to_numpy()
    refused = clean.loc[keyed, key].assign(source_row=rows.to_numpy()[keyed])
    return Validation(clean[kept].reset_index(drop=True), rejects, np.flatnonzero(kept), seen,
                      sign, refused.reset_index(drop=True), tuple(map(str, secrets)))  # fmt: skip


def _today(as_of: pd.Timestamp | None, zone: str | None) -> date:
    """The run's date on the business's clock (today when the run gives no moment)."""
    moment = pd.Timestamp.now(tz="UTC") if as_of is None else pd.Timestamp(as_of)
    moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment
    return moment.tz_convert(zone or "UTC").date()


def _without_cents(
    table: str, frame: pd.DataFrame, currency: str | None, told: Evidence | None = None
) -> bool:
    """Whether every amount of the table is in a currency without a minor unit (yen, won):
    its currency column's, the shop's for rows without one, the sign of an order total
    ("₩14,300") when neither says."""
    codes = _amount_currencies(table, frame, currency, told)
    return bool(codes) and all(code and minor_digits(code) == 0 for code in codes)


def _mils_hint(
    table: str,
    frame: pd.DataFrame,
    currency: str | None,
    hint: coerce.Hint,
    told: Evidence | None = None,
) -> coerce.Hint | None:
    """For the table's amounts, when every one is in a currency written with three
    decimals (a dinar's fils: "12.500 KWD", the shop's `currency = "KWD"`) and the table
    proves no decimal mark: a point that fits either mark is a decimal one, as the
    worksheet functions read it ("12.500" is 12.5, said in a note). Such a column was left
    empty as "could be thousands or decimals". None otherwise."""
    if hint.decimal is not None:
        return None
    codes = _amount_currencies(table, frame, currency, told)
    if not codes or not all(code in THREE_DECIMALS for code in codes):
        return None
    named = " and ".join(sorted(str(c) for c in codes))
    verb = "is" if len(codes) == 1 else "are"
    return dataclasses.replace(
        hint, decimal=".", decimal_why=f"{named} {verb} written with three decimals"
    )


def _amount_currencies(
    table: str, frame: pd.DataFrame, currency: str | None, told: Evidence | None = None
) -> set[str | None]:
    """The currencies of the table's amounts: its currency column's, the shop's for rows
    without one, the sign of an order total ("₩14,300", "KD 12.500") when neither says."""
    if table not in MONEY:
        return set()
    codes: set[str | None] = set()
    written = pd.Series(dtype=object)
    if "currency" in frame.columns:
        written = frame["currency"].dropna().astype(str).str.strip().str.upper()
        written = written[written != ""]
        codes = set(written)
    if len(written) < len(frame):
        marked = None
        if currency is None and table == "orders" and "total" in frame.columns:
            marked = _currency_of(frame["total"], told)
        codes |= set(marked.dropna()) if marked is not None else {currency}
    return codes


def _shared_sign(table: str, frame: pd.DataFrame) -> str | None:
    """The sign most of the table's amounts are marked with ("¥", "$", "kr"), when it is
    one several currencies share and no amount names a currency ("€", "JPY")."""
    column = next((c for c in MONEY.get(table, ())[:1] if c in frame.columns), None)
    if column is None:
        return None
    text = frame[column].dropna()
    text = text[text.map(lambda v: isinstance(v, str) and bool(v.strip()))]
    if text.empty:
        return None
    marks = {value: _mark_of(value) for value in text.unique()}
    if any(mark not in (None, "?") for mark in marks.values()):
        return None  # a currency is named: _currency_of reads it
    signs = text.map({v: shared_sign(v) for v, m in marks.items() if m}).dropna()
    if 2 * len(signs) < len(text):
        return None
    return str(signs.mode().iloc[0])


def _whole_characters(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each half of a UTF-16 pair as U+FFFD, as a UTF-8 decoder shows bytes
    it cannot read. JSON can carry one ("\\ud83d", where an API cut an emoji in two) and
    sqlite3, the workbook and the report cannot encode it: the run stopped at the store
    with an unexpected UnicodeEncodeError. A column is checked in one pass (its text
    joined and encoded); only a column that fails is repaired value by value."""
    out = frame
    for name in frame.columns:
        column = frame[name]
        if column.dtype != object and not isinstance(column.dtype, pd.StringDtype):
            continue
        values = column.to_numpy(dtype=object)
        try:
            "\x00".join(values).encode("utf-8")
            continue
        except TypeError:  # not all text (numbers, dates, blanks): check the text alone
            try:
                "\x00".join(v for v in values if isinstance(v, str)).encode("utf-8")
                continue
            except UnicodeEncodeError:
                pass
        except UnicodeEncodeError:
            pass
        out = out.copy() if out is frame else out
        out[name] = column.map(_whole_text)
    if any(isinstance(c, str) and _whole_text(c) != c for c in frame.columns):
        out = out.rename(columns=lambda c: _whole_text(c) if isinstance(c, str) else c)
    return out


def _whole_text(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


# Marks that name one currency, the longer first ("NZ$" before "$"), as spreadsheets
# show amounts: "1 234,50 zł", "R$ 12,90", "HK$12.50".
_MARKS = {
    "US$": "USD", "NZ$": "NZD", "AU$": "AUD", "A$": "AUD", "CA$": "CAD", "C$": "CAD",
    "HK$": "HKD", "SG$": "SGD", "S$": "SGD", "R$": "BRL", "Mex$": "MXN", "€": "EUR",
    "£": "GBP", "₹": "INR", "₩": "KRW", "₽": "RUB", "₺": "TRY", "₪": "ILS", "₫": "VND",
    "฿": "THB", "₴": "UAH", "₦": "NGN", "₱": "PHP", "zł": "PLN", "Kč": "CZK", "Ft": "HUF",
    "円": "JPY", "원": "KRW",
}  # fmt: skip
_LONGEST_FIRST = sorted(_MARKS, key=len, reverse=True)  # "CA$" is not "A$"
# Signs several currencies share ("$": US, Canadian, Australian dollars; "¥": yen and
# yuan; "kr": Swedish, Norwegian, Danish and Icelandic crowns; "元": yuan and New Taiwan
# dollars, "圆" and "圓" its formal forms): no currency of their own, and beside another
# mark they make the shop's unknown. Full-width ones ("￥", "＄") are folded first.
_SHARED_SIGNS = ("$", "¥", "kr", "元")
_YUAN = str.maketrans({"圆": "元", "圓": "元"})


def shared_sign(value: str) -> str:
    """The shared sign ``value`` is marked with ("¥" for "￥1,650", "元" for "12圆"), or ""."""
    folded = coerce.fold_width(value).translate(_YUAN)
    return next((s for s in _SHARED_SIGNS if s in folded), "")


_CODE = re.compile(r"^\s*([A-Z]{3})\s*[-+(\d]|[\d)]\s*([A-Z]{3})\s*$")
# The local marks of the three-decimal dinars and rial, as Gulf shops write them ("KD
# 12.500", "12.500 K.D.", "12.500 د.ك"): whole words beside the number only ("EURO" holds
# "RO", and is no rial).
_DINARS = {"KD": "KWD", "BD": "BHD", "JD": "JOD", "RO": "OMR"}
_DINAR = re.compile(
    r"^\s*(KD|BD|JD|RO|K\.D\.?|B\.D\.?|J\.D\.?|R\.O\.?)\s*[-+(\d]"
    r"|[\d)]\s*(KD|BD|JD|RO|K\.D\.?|B\.D\.?|J\.D\.?|R\.O\.?)\s*$"
)
_ARABIC_MARKS = {"د.ك": "KWD", "د.ب": "BHD", "د.ا": "JOD", "ر.ع.": "OMR", "ر.ع": "OMR"}


def currency_mark(value: str) -> str | None:
    """The currency an amount's text names ("12,99 €" -> EUR, "EUR 12.99" -> EUR), "?"
    for a sign several currencies share ("$", "¥", "kr"), None for none."""
    return _mark_of(value)


_PLAIN_AMOUNT = r"[0-9.,\s+-]*"  # ASCII digits: a full-width or Arabic one is folded first


def _mark_of(value: str) -> str | None:
    value = coerce.fold_width(value)
    mark = next((_MARKS[sign] for sign in _LONGEST_FIRST if sign in value), None)
    if mark is None:
        code = _CODE.search(value)
        mark = (code[1] or code[2]) if code else None
    if mark is None:
        dinar = _DINAR.search(value)
        word = (dinar[1] or dinar[2]).replace(".", "") if dinar else None
        mark = _DINARS.get(word) if word else None
    if mark is None:
        mark = next((code for sign, code in _ARABIC_MARKS.items() if sign in value), None)
    if mark is None and shared_sign(value):
        mark = "?"  # a currency, but which one is not written
    return mark


def money_mark(value: str) -> str | None:
    """The currency an amount as written names ("12,99 €" EUR, "JPY 1,150"); "?" for a
    sign several currencies share ("$", "¥", "kr"); None when it carries none."""
    return _mark_of(value)


def _currency_of(totals: pd.Series, told: Evidence | None = None) -> pd.Series | None:
    """Each order's currency as its total is written ("12,99 €", "EUR 12.99"), when the
    orders have no currency column: otherwise a euro shop's prices were said in USD.

    One mark on at least half the totals: every order's. Several marks that each name
    one currency ("€100.00" beside "CHF 10,000.00"): each order its own, so the others
    are kept out of the money figures (``order_currencies``) instead of "$10,100 spent".
    "$" and "¥" are not read (several dollars; yen and yuan): such a shop keeps the
    default, and "$" totals beside "€" ones make the currency unknown (they were all
    read as euros, review). ``told``: the marks of the whole file, when ``totals`` is
    one page of it: the page's orders take the currency the file's totals decide.
    """
    text = _written_totals(totals)
    distinct = {value: _mark_of(value) for value in text.unique()}  # once per distinct total
    marks = text.map(distinct).dropna()
    counts = {str(m): int(n) for m, n in marks.value_counts().items()}
    written = len(text)
    if told is not None and told.totals:
        counts, written = dict(told.marks), told.totals
    named = sum(n for m, n in counts.items() if m != "?")
    if not named or counts.get("?", 0) >= named:
        return None  # no currency written, or as many that name none ("$" beside "€")
    if len(counts) == 1:
        if 2 * named < written:
            return None
        return pd.Series(next(iter(counts)), index=totals.index, dtype=object)
    # each order its own; one whose sign names several currencies ("$12.50" in a euro
    # shop) is kept apart by that sign, not counted as the shop's (it made every figure
    # "$" and a "¥1250" was added to the euros)
    signs = {value: shared_sign(value) for value, m in distinct.items() if m == "?"}
    own = text.map(lambda v: signs.get(v) or distinct.get(v))
    return own.reindex(totals.index)


def _written_totals(totals: pd.Series) -> pd.Series:
    """The totals written as text or numbers, blanks left out."""
    text = totals.dropna().astype(str)
    return text[text.str.strip() != ""]


def _unread_cells(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, dict[int, Any]]]:
    """Cells a source could not give the value of (``coerce.UnreadCell``: a formula Excel
    never calculated), taken out of ``frame`` and kept by column and position, so they
    are read as missing and reported as unreadable. Only columns of mixed types can hold
    one (a text column of a CSV is checked in one C pass)."""
    found: dict[str, dict[int, Any]] = {}
    out = frame
    for name in frame.columns:
        series = frame[name]
        if series.dtype != object or not pd.api.types.infer_dtype(series).startswith("mixed"):
            continue
        marked = series.map(lambda v: isinstance(v, coerce.UnreadCell)).to_numpy(dtype=bool)
        if marked.any():
            found[str(name)] = {int(i): series.iat[int(i)] for i in np.flatnonzero(marked)}
            out = out.copy() if out is frame else out
            out[name] = series.mask(marked, None)
    return out, found


def _unread_problem(column: str, position: int, cell: Any, fatal: bool) -> dict[str, Any]:
    return {
        "column": column,
        "position": position,
        "value": str(cell),
        "reason": f"{column} {cell.reason}",
        "action": "row rejected" if fatal else "value cleared",
    }


def _read(
    column: Column,
    raw: pd.Series,
    fmt: coerce.ColumnFormat | None,
    hint: coerce.Hint,
    scan: coerce.NumberScan | coerce.DateScan | None = None,
    zone: str | None = None,
    no_cents: bool = False,
) -> coerce.Reading:
    if column.kind in ("float", "int", "count"):
        numbers = scan if isinstance(scan, coerce.NumberScan) else None
        whole = column.kind != "float"
        reading = coerce.read_numbers(raw, fmt, hint, whole, numbers, no_cents)
        if column.kind == "count":
            negative = (reading.values.fillna(0) < 0).astype(bool)
            reading.values = reading.values.mask(negative)
            reading.invalid = reading.invalid | negative
        return reading
    if column.kind == "datetime":
        dates = scan if isinstance(scan, coerce.DateScan) else None
        return coerce.read_dates(raw, fmt, hint, dates, zone)
    values, invalid = _COERCERS[column.kind](raw)
    return coerce.Reading(values, invalid)


def _as_share(
    reading: coerce.Reading, raw: pd.Series, fmt: coerce.ColumnFormat | None, table: str, name: str
) -> coerce.Reading:
    """A share of a price (0.1 is 10%) read against 0..1.

    Percentages (a "%" in the header, or the config's "percent") are divided by 100 when
    the values show it: all within 0..100 and some above 1 (an Excel cell formatted as
    10% already holds 0.1; "12%" typed with its sign is already read as 0.12). A share
    still outside 0..1 cannot be a discount (10 would make revenue negative): it is
    cleared, saying why and how to state percentages.
    """
    values = reading.values.astype("Float64")
    readable = (values.notna() & ~reading.invalid).fillna(False).astype(bool)
    signed = raw.map(lambda v: isinstance(v, str) and v.strip().endswith("%")).astype(bool)
    plain = readable & ~signed
    notes = list(reading.notes)
    percent = fmt is not None and bool(fmt.percent)
    if percent and plain.any():
        shown = values[plain]
        if bool(((shown >= 0) & (shown <= 100)).all()) and bool((shown > 1).any()):
            values = values.where(~plain, values / 100)
            notes.append(
                (
                    "text",
                    f"read as percentages (10 -> 0.10): its header (or the config) says %, "
                    f"and its values go up to {float(shown.max()):g}",
                )
            )
    outside = readable & ((values < 0) | (values > 1)).fillna(False).astype(bool)
    if not outside.any():
        return coerce.Reading(values, reading.invalid, reading.reasons, notes)
    why = "is outside 0 to 1: a discount is the share of the price taken off (0.1 is 10%)"
    if not percent:
        why += (
            f'; if the column holds percentages (10 for 10%), put "%" in its header or state '
            f'it: [source.formats.{table}] {name} = "percent"'
        )
    reasons = dict(reading.reasons)
    for value in raw[outside]:
        try:
            reasons[value] = why
        except TypeError:  # an unhashable cell keeps the general reason
            continue
    invalid = (reading.invalid | outside).astype(bool)
    return coerce.Reading(values.mask(outside), invalid, reasons, notes)


def _reason(reading: coerce.Reading, column: Column, value: Any) -> str:
    try:
        return reading.reasons.get(value) or _REASONS[column.kind]
    except TypeError:  # an unhashable cell
        return _REASONS[column.kind]


def _how_to_state(kind: str, table: str, column: str) -> str:
    if kind == "decimal":
        return f'; to state it: [source.formats.{table}] {column} = "decimal=," (or "decimal=.")'
    if kind == "dates":
        return f'; to state it: [source.formats.{table}] {column} = "dayfirst" (or "monthfirst")'
    return ""


def _table_hint(
    spec: TableSpec,
    frame: pd.DataFrame,
    scans: dict[str, coerce.NumberScan | coerce.DateScan],
    no_cents: set[str],
    told: Evidence | None = None,
    order: tuple[bool, str] | None = None,
) -> coerce.Hint:
    """What the table's other columns show: a column no value decides follows its table.

    Each number and date column's scan is kept in ``scans`` for its own reading; the
    columns in ``no_cents`` hold amounts in a currency without decimals. ``told``: the
    whole file's votes, when ``frame`` is one page of it. ``order``: the source's word
    on its dates (a spreadsheet's locale), below the table's dates, above its decimal
    commas: a setting the user chose says more than a habit most day-first countries have.
    """
    numbers = {",": 0, ".": 0}
    dates = {"day": 0, "month": 0}
    for column in spec.columns:
        if column.name not in frame.columns:
            continue
        if column.kind in ("float", "int", "count"):
            scan = coerce.scan_numbers(
                frame[column.name], column.kind != "float", column.name in no_cents
            )
            scan = told.numbers_of(column.name, scan) if told else scan
            scans[column.name] = scan
            found = scan.votes()
            numbers = {k: n + found[k] for k, n in numbers.items()}
        elif column.kind == "datetime" and not pd.api.types.is_datetime64_any_dtype(
            frame[column.name]
        ):
            dated = coerce.scan_dates(frame[column.name])
            dated = told.dates_of(column.name, dated) if told else dated
            scans[column.name] = dated
            found = dated.votes
            dates = {k: n + found[k] for k, n in dates.items()}
    decimal: coerce.Decimal | None = None
    if numbers[","] != numbers["."]:
        decimal = "," if numbers[","] > numbers["."] else "."
    day_first, why = None, ""
    if dates["day"] != dates["month"]:
        day_first = dates["day"] > dates["month"]
        why = f"the table's other dates are {'day/month' if day_first else 'month/day'}"
    elif order is not None:
        day_first, why = order
    elif decimal == ",":
        day_first, why = True, "the table's numbers use decimal commas, as day/month countries do"
    return coerce.Hint(
        decimal, f"the table's other numbers use {decimal!r}" if decimal else "", day_first, why
    )


def _reject_duplicates(
    spec: TableSpec,
    clean: pd.DataFrame,
    reject: pd.Series,
    rows: pd.Series,
    problems: list[dict[str, Any]],
    frame: pd.DataFrame,
) -> None:
    """Of rows with the same key, the one with the most values filled in wins (see
    ``duplicate_losers``); each other row is reported with how it differed, over the whole
    row: the columns kept in ``extra`` too (a line item's product, a second address). A
    losing row's opt-out is kept on the winner (``_keep_opt_outs``)."""
    key = shown_key(spec, frame.columns)
    candidates = ~reject.to_numpy() & clean[key].notna().all(axis=1).to_numpy()
    rivals = clean[candidates]
    if rivals.empty or not rivals.duplicated(key, keep=False).any():
        return
    rivals = rivals[rivals.duplicated(key, keep=False)]
    lost = duplicate_losers(key, _whole_rows(rivals, frame.loc[rivals.index], spec))
    numbers = rows.map(lambda n: f"row {n}")
    if FILE in frame.columns:  # "orders_2025.csv row 3": each file numbers its rows from 1
        numbers = frame[FILE].astype(str) + " " + numbers
    numbers = numbers.to_numpy()
    kept = _keep_opt_outs(spec, clean, frame, lost)
    for (loser, winner, why, differed, key_text), opt_out in zip(
        lost.itertuples(index=False, name=None), kept, strict=True
    ):
        problems.append(
            {
                "column": "+".join(key),
                "position": int(loser),
                "value": key_text,
                "reason": duplicate_reason(key, numbers[winner], why, differed, opt_out),
                "action": "row rejected",
            }
        )
    reject.iloc[lost["loser"].to_numpy()] = True


def _keep_opt_outs(
    spec: TableSpec, clean: pd.DataFrame, frame: pd.DataFrame, lost: pd.DataFrame
) -> list[str]:
    """Consent fails closed whichever row of a person wins: where a losing row says no (an
    opt-out, or a value that cannot be read) and the winner does not, the winner takes the
    loser's value, in the consent column and in each column kept in ``extra`` whose header
    is an opt-out or consent column (as the pipeline reads them). Returns, per loser, the
    values kept ("marketing_consent 'no'"), or "" when none was."""
    columns = [c.name for c in spec.columns if c.kind == "consent" and c.name in clean.columns]
    columns += [
        c
        for c in frame.columns
        if isinstance(c, str)
        and c not in spec.names
        and (is_opt_out_header(c) or is_consent_header(c))
    ]
    kept = [""] * len(lost)
    if not columns:
        return kept
    for i, (loser, winner) in enumerate(zip(lost["loser"], lost["winner"], strict=True)):
        carried = []
        for column in columns:
            held = clean if column in clean.columns else frame
            mine, theirs = held.at[loser, column], held.at[winner, column]
            if says_no(mine, column) and not says_no(theirs, column):
                held.at[winner, column] = mine
                carried.append(f"{column} {str(mine).strip()!r}")
        kept[i] = ", ".join(carried)
    return kept


def _whole_rows(clean: pd.DataFrame, raw: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """``clean`` with the raw columns the schema does not know (headed as in the source;
    a header written twice counts once), empty cells as missing."""
    known = {*spec.names, SOURCE_ROW, "source", FILE}  # the same row in two files is the same
    raw = raw.loc[:, ~raw.columns.duplicated()]
    unknown = [c for c in raw.columns if c not in known and c not in clean.columns]
    if not unknown:
        return clean
    cells = raw[unknown].astype(object)
    present = ~pd.DataFrame({c: coerce._missing(cells[c]) for c in unknown}, index=cells.index)
    return pd.concat([clean, cells.where(present.to_numpy(), None)], axis=1)


def duplicate_losers(key: list[str], rivals: pd.DataFrame) -> pd.DataFrame:
    """Which rows of ``rivals`` (rows sharing keys, indexed by their order in the source)
    lose to another with the same key, and why.

    The row with the most values filled in wins; ties go to the newest ``updated_at``,
    then to the last. Sorting on (key, filled, updated_at, position) makes it n log n.
    Returns loser, winner (index labels), why, differed (the columns where the loser's
    values differ, comma-separated) and key (the key as text).
    """
    others = [c for c in rivals.columns if c not in key]
    order = pd.DataFrame(
        {
            **{k: rivals[k] for k in key},
            "filled": rivals[others].notna().sum(axis=1),
            "updated": rivals.get("updated_at", pd.NaT),
            "position": rivals.index,
        }
    ).sort_values([*key, "filled", "updated", "position"], na_position="first", kind="stable")
    order["winner"] = order.groupby(key, sort=False)["position"].transform("last")
    lost = order[order["position"] != order["winner"]]
    loser = lost["position"].to_numpy()
    winner = lost["winner"].to_numpy()
    mine, theirs = rivals.loc[loser, others], rivals.loc[winner, others]
    mine.index = theirs.index = range(len(loser))
    differed = np.full(len(loser), "", dtype=object)
    for column in others:
        same = (mine[column] == theirs[column]).fillna(False).astype(bool)
        same |= mine[column].isna() & theirs[column].isna()
        differed = differed + np.where(same.to_numpy(), "", f", {column}")
    by = order.set_index("position")
    why = np.select(
        [
            by.loc[winner, "filled"].to_numpy() > by.loc[loser, "filled"].to_numpy(),
            (by.loc[winner, "updated"].to_numpy() != by.loc[loser, "updated"].to_numpy())
            & pd.notna(by.loc[winner, "updated"].to_numpy()),
        ],
        ["has more values filled in", "was updated later"],
        "comes later",
    )
    key_text = rivals.loc[loser, key[0]].astype(str).to_numpy(dtype=object)
    for part in key[1:]:
        key_text = key_text + ", " + rivals.loc[loser, part].astype(str).to_numpy(dtype=object)
    return pd.DataFrame(
        {
            "loser": loser,
            "winner": winner,
            "why": why,
            "differed": [d[2:] for d in differed],
            "key": key_text,
        }
    )


def duplicate_reason(
    key: list[str], winner: str, why: str, differed: str, opt_out: str = ""
) -> str:
    """``winner`` says where the row kept is: "row 12", or "orders_2025.csv row 12";
    ``opt_out``, this row's opt-out kept on it ("marketing_consent 'no'")."""
    name = "+".join(key)
    kept = f"; its opt-out ({opt_out}) is kept on {winner}: consent fails closed" if opt_out else ""
    return (
        f"duplicate {name}; {winner} has the same key, {why} and wins; "
        + (f"this row differed in {differed}" if differed else "this row had the same values")
        + kept
    )


def row_json(frame: pd.DataFrame, positions: list[int]) -> dict[int, str]:
    """The rows of ``frame`` at ``positions`` as JSON, as a reject shows the original row."""
    return _rows_json(frame, positions)


def _extra(frame: pd.DataFrame, spec: TableSpec) -> pd.Series:
    """Columns the schema does not know, kept per row as JSON (with any ``extra`` it had)."""
    unknown = [
        c
        for c in frame.columns
        if c not in spec.names and c not in (SOURCE_ROW, "source", STORED_ROW, "extra")
    ]
    base = frame["extra"] if "extra" in frame.columns else pd.Series(None, index=frame.index)
    given = base[base.notna()]
    prior = given.map(lambda v: isinstance(v, str) and bool(v.strip()))
    if not prior.any() and len({str(c) for c in unknown}) == len(unknown):
        return _extra_columns(frame, sorted(unknown, key=str))
    out = []
    records = frame[unknown].to_dict("records") if unknown else [{}] * len(frame)
    for record, before in zip(records, base, strict=True):
        merged = json.loads(before) if isinstance(before, str) and before.strip() else {}
        merged.update({str(k): redacted(_jsonable(v)) for k, v in record.items() if not _blank(v)})
        out.append(json.dumps(merged, default=str, sort_keys=True) if merged else pd.NA)
    return pd.Series(out, index=frame.index, dtype="string")


def _blank(value: Any) -> bool:
    """An empty cell. A written "n/a" or "-" in a column the schema does not know is kept:
    only the user knows what it means there (in a consent column: not a yes)."""
    if isinstance(value, str):
        return not value.strip()
    return value is None or value is pd.NA or value is pd.NaT or value != value


def _blank_cells(column: pd.Series) -> pd.Series:
    """``_blank`` for a whole column, once per distinct value."""
    if column.dtype != object and not isinstance(column.dtype, pd.StringDtype):
        return column.isna()
    distinct = Distinct.of(column)
    stripped = np.array([*distinct.stripped(), None], dtype=object)[:-1]
    return distinct.take(stripped == "", True, column.index, np.dtype(bool))


def _extra_columns(frame: pd.DataFrame, unknown: list[Any]) -> pd.Series:
    """``json.dumps(row, sort_keys=True)`` of the unknown columns, built a column at a time:
    each distinct value is encoded once and rows are joined by numpy, not row by row."""
    joined = np.full(len(frame), "", dtype=object)
    for name in unknown:
        column = frame[name]
        present = ~_blank_cells(column)
        if not present.any():
            continue
        key = json.dumps(str(name)) + ": "
        values = column[present]
        part = np.full(len(frame), "", dtype=object)
        if values.dtype == object and pd.api.types.infer_dtype(values) != "string":
            # Mixed cells (1, True, 1.0 are equal as dict keys): each is encoded itself.
            shown = redacted_all([_jsonable(v) for v in values])
            part[present.to_numpy()] = [key + json.dumps(v, default=str) for v in shown]
        else:
            unique = pd.unique(values)
            shown = redacted_all([_jsonable(v) for v in unique])
            encoded = {
                v: key + json.dumps(w, default=str) for v, w in zip(unique, shown, strict=True)
            }
            part[present.to_numpy()] = values.map(encoded).to_numpy(dtype=object)
        has = part != ""
        sep = np.where((joined != "") & has, ", ", "")
        joined = joined + sep + part
    out = pd.Series("{" + joined + "}", index=frame.index, dtype=object)
    return out.where(joined != "", None).astype("string")


def _rejects_frame(
    table: str,
    source: str,
    frame: pd.DataFrame,
    rows: pd.Series,
    problems: list[dict[str, Any]],
) -> pd.DataFrame:
    numbers = rows.to_numpy()
    dates = frozenset(c.name for c in TABLES[table].columns if c.kind == "datetime")
    positions = [p["position"] for p in problems if p["position"] is not None]
    originals = _rows_json(frame, positions, dates)
    records = [
        {
            "table": table,
            "source": source,
            "source_row": None if p["position"] is None else int(numbers[p["position"]]),
            "column": p["column"],
            "value": p["value"],
            "reason": p["reason"],
            "action": p["action"],
            "row": None if p["position"] is None else originals[p["position"]],
        }
        for p in problems
    ]
    out = pd.DataFrame(records, columns=REJECT_COLUMNS)
    out["source_row"] = out["source_row"].astype("Int64")  # a column note has no row
    out = out.sort_values(["source_row", "column"], kind="stable", na_position="first")
    return out.reset_index(drop=True)
