"""Vendor export layouts: how a known export's rows become canonical tables.

A spreadsheet source reads a file or tab into a frame of text cells with the user's
headers; this module then (1) leaves out rows that hold no record (blank rows, repeated
header rows, total and subtotal rows) and says which and why, (2) recognises the layout
of a known export by its headers (Shopify, WooCommerce, HubSpot, Mailchimp, ...) and
(3) turns it into one or more canonical tables: Shopify's orders export gives orders,
order lines and contacts. Each layout is data: its name, the headers that identify it,
per table a header map and a shape (a function on the frame, before headers are mapped,
that adds canonical columns the export lacks: line numbers, keys, statuses).

The user's mapping always wins: a header the user mapped goes where the user said, a
column the user gave to another header is taken from nowhere else, and a canonical
column a shape adds is dropped when the user mapped that column.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from smbml_connect import coerce
from smbml_connect.business_zone import zone_of_words
from smbml_connect.consent import (
    OPT_OUT_LIST,
    hubspot_consent,
    keep_header_meaning,
    opt_out_list_value,
    says_no,
)
from smbml_connect.distinct import Distinct
from smbml_connect.headers import SYNONYMS, HeaderMapping, map_headers, normalise
from smbml_connect.opt_out_lists import (
    EXPORT_FILES,
    ExportFiles,
    join_lists,
    merge_lists,
    said_no,
    split_lists,
)
from smbml_connect.ports import Notice, SourceReject
from smbml_connect.sale_flags import keep_sale_meaning
from smbml_connect.sales import (
    NOT_A_SALE_ROW,
    NOT_SALE_STATUSES,
    REFUND_TAKEN_OFF,
    SUPPLIER_BILL,
    status_key,
)
from smbml_connect.schema import FILE, REJECT_COLUMNS, SOURCE_ROW, TABLES
from smbml_connect.secret_columns import left_out_columns
from smbml_connect.sheet_rows import BLANK_ROWS

__all__ = [
    "COPY_ROW",
    "DERIVED",
    "EXPORT_COPY",
    "FILE",
    "LAYOUTS",
    "Layout",
    "LayoutTable",
    "Prepared",
    "deal_outcomes",
    "detect",
    "discount_shares",
    "join_prepared",
    "matching",
    "no_outcomes",
    "prepare",
    "total_row_label",
]

SKIPPED = "row skipped"  # the reject action of a row that holds no record

Shape = Callable[[pd.DataFrame], pd.DataFrame]
Skips = dict[int, str]  # frame position -> why the row holds no record
# An export's own reading of the lines the CSV reader could not split: the record rows
# and those lines in; out the lines that stay rejects (reasons may say more) and, by row
# number, why the others hold no record (a report's footer note).
Unread = Callable[[pd.DataFrame, list[SourceReject]], tuple[list[SourceReject], dict[int, str]]]
UNREAD_ROWS = "unread_rows"  # frame.attrs key: row numbers of the lines the reader rejected
FILE_NAME = "file_name"  # frame.attrs key: the file or tab a layout's ``prepare`` is given
# frame.attrs key: the user's [source.mapping] (table -> header -> column), so that a layout
# found by the usual synonyms (a file of one row per line item) is found by the user's
# names too: an eBay or Amazon report whose columns the user mapped as the run advised.
USER_MAPPING = "user_mapping"
Mappings = Mapping[str, Mapping[str, str]]
# frame.attrs key a shape sets: values it could not read from the export, each a dict of
# source_row, column (canonical), value (as written) and reason; listed as values cleared.
CLEARED = "cleared_values"
CLEARED_ACTION = "value cleared"
# frame.attrs key a shape sets: data checks it has to say about the rows it read, each a
# (check, rows, line) the source gives as a notice (a TimeZone PayPal wrote not known here).
SAID = "layout_said"
# frame.attrs key a shape sets: canonical columns it made because the export lacks them,
# each with how (a sentence) and on how many rows; said as a column note and a notice.
DERIVED = "derived_columns"
LINES_TOTAL = (
    "each order's total is the sum of its lines (quantity x unit price, less the "
    "discount); an order with a line lacking a quantity or price has none"
)


def _as_is(frame: pd.DataFrame) -> pd.DataFrame:
    return frame


def _map(*pairs: str) -> dict[str, str]:
    """'Vendor header -> column' lines as a dict: a layout's header map, read as a table."""
    split = (pair.split("->") for pair in pairs)
    return {header.strip(): column.strip() for header, column in split}


@dataclass(frozen=True)
class LayoutTable:
    """One canonical table a layout gives: vendor header -> column, and a shape."""

    columns: Mapping[str, str] = field(default_factory=dict)
    shape: Shape = _as_is
    synonyms: bool = False  # also map other headers by the usual synonyms


@dataclass(frozen=True)
class Layout:
    """A known export: the headers that identify it and the tables it gives (main first)."""

    name: str
    signature: tuple[str, ...]  # headers that must all be present (compared normalised)
    tables: Mapping[str, LayoutTable]
    prepare: Callable[[pd.DataFrame], tuple[pd.DataFrame, Skips]] | None = None
    check: Callable[[pd.DataFrame], bool] | None = None  # on the first rows, after headers
    rank: int = 0  # added to each table's rank when files compete for a table
    unread: Unread | None = None
    # Tables the file gives only all together: its rows are split between them, so one
    # taken from another file would leave the rows of the other nowhere.
    together: tuple[str, ...] = ()

    def matches(self, head: pd.DataFrame) -> bool:
        present = {normalise(c) for c in head.columns}
        return {normalise(s) for s in self.signature} <= present and (
            self.check is None or self.check(head)
        )


@dataclass
class Prepared:
    """A file or tab ready to be cut into tables: its record rows and the rows left out."""

    frame: pd.DataFrame
    skipped: pd.DataFrame  # the raw rows left out, with a ``reason`` column
    layout: Layout | None
    settled: bool = False  # the unreadable lines were seen (``settle`` is done once)
    cleared: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # per table
    # A second copy of an export's orders (``join_prepared``): the data check saying which
    # copy was set aside, and the people who said no in the rows set aside (key -> file).
    copies: list[tuple[int, str]] = field(default_factory=list)  # (rows, line)
    held_no: dict[str, str] = field(default_factory=dict)
    files: ExportFiles | None = None  # of a join: which files were read, which set aside
    said: dict[str, list[tuple[str, int, str]]] = field(default_factory=dict)  # per table

    def notices(self, table: str) -> list[Notice]:
        """The data checks the layout's shape of ``table`` had to say (``SAID``)."""
        return [Notice(check, table, n, line) for check, n, line in self.said.get(table, [])]

    def table(
        self, table: str, overrides: Mapping[str, str] | None = None
    ) -> tuple[pd.DataFrame, HeaderMapping]:
        """Rows of ``table`` with canonical headers, and how the headers were mapped."""
        user = dict(overrides or {})
        if self.layout is None:
            mapping = map_headers(table, _headers(self.frame), user)
            return _meanings(mapping.apply(self.frame), mapping.columns), mapping
        spec = self.layout.tables[table]
        shaped = spec.shape(self.frame.copy())
        mine = {normalise(h) for h in user}
        claimed = set(user.values())
        said = shaped.attrs.pop(CLEARED, [])
        derived = shaped.attrs.pop(DERIVED, {})
        self.said[table] = list(shaped.attrs.pop(SAID, []))
        self.cleared[table] = [n for n in said if n["column"] not in claimed]
        # A canonical column the shape made yields to the user's choice for that column.
        made = [c for c in shaped.columns if c in claimed and normalise(c) not in mine]
        shaped = shaped.drop(columns=made)
        # Columns the shape made win over a vendor header of the same name ("Status").
        made_here = [c for c in shaped.columns if c not in self.frame.columns]
        given = {c: c for c in made_here if c in TABLES[table].names and c not in claimed}
        given.update({h: c for h, c in spec.columns.items() if c not in claimed | given.keys()})
        mapping = map_headers(table, _headers(shaped), {**given, **user}, synonyms=spec.synonyms)
        mapping.layout = self.layout.name
        mapping.made = [c for c in made_here if mapping.columns.get(c) == c]
        mapping.derived = {c: how for c, how in derived.items() if mapping.columns.get(c) == c}
        out = _meanings(mapping.apply(shaped), mapping.columns)
        if table != "contacts":
            return out, mapping
        out = _held_no(out, self.held_no)
        if self.files is not None:  # the lists of opt-outs name the file read, not a copy
            out.attrs[EXPORT_FILES] = self.files
        return out, mapping

    def settle(self, unread: list[SourceReject]) -> list[SourceReject]:
        """The lines the reader could not split, as the layout reads them.

        A report's footer note ("Accrual basis Monday, November 3, 2025 ...") holds no
        record: it joins the skipped rows. The others stay rejects, which the layout may
        word better (a Shopify order's first row); the record rows learn which lines
        were lost (``UNREAD_ROWS``), so a shape can tell a lost row from a missing value.
        """
        if self.settled:
            return unread
        self.settled = True
        self.frame.attrs[UNREAD_ROWS] = sorted(r.row for r in unread)
        if self.layout is None or self.layout.unread is None or not unread:
            return unread
        kept, notes = self.layout.unread(self.frame, unread)
        if notes:
            first = next(c for c in self.frame.columns if c not in (SOURCE_ROW, FILE))
            shown = {r.row: r.value for r in unread}
            rows = pd.DataFrame(
                {
                    SOURCE_ROW: list(notes),
                    first: [shown[n] for n in notes],
                    "reason": list(notes.values()),
                }
            )
            skipped = pd.concat([self.skipped, rows], ignore_index=True)
            self.skipped = skipped.sort_values(SOURCE_ROW, kind="stable").reset_index(drop=True)
        self.frame.attrs[UNREAD_ROWS] = sorted(r.row for r in kept)
        return kept

    def rejects(self, table: str, source: str) -> pd.DataFrame:
        """The rows left out as rejects rows (action 'row skipped'), for the run's list,
        and the values of ``table`` its shape could not read (after ``table``). Neither
        shows a column that may hold a secret (``left_out_columns``, judged on both)."""
        hidden = frozenset(left_out_columns(self.frame, self.skipped))
        cleared = [
            {"table": table, "source": source, "source_row": int(n["source_row"]),
             "column": n["column"], "value": n["value"], "reason": n["reason"],
             "action": CLEARED_ACTION, "row": _row_json(row.iloc[0], hidden) if len(row) else None}
            for n in self.cleared.get(table, [])
            for row in [self.frame[self.frame[SOURCE_ROW] == n["source_row"]].head(1)]
        ]  # fmt: skip
        rows = [
            {
                "table": table,
                "source": source,
                "source_row": int(row[SOURCE_ROW]),
                "column": "",
                "value": "",
                "reason": row["reason"],
                "action": SKIPPED,
                "row": _row_json(row, hidden),
            }
            for _, row in self.skipped.iterrows()
        ]
        return pd.DataFrame(rows + cleared, columns=REJECT_COLUMNS)


def _headers(frame: pd.DataFrame) -> list[str]:
    return [str(c) for c in frame.columns if c != SOURCE_ROW]


def _meanings(frame: pd.DataFrame, columns: Mapping[str, str]) -> pd.DataFrame:
    """Values that keep the header they were read under: "Unsubscribed: TRUE" for consent,
    "Discontinued: yes" for on_sale (renamed, both would read as a yes)."""
    return keep_sale_meaning(keep_header_meaning(frame, columns), columns)


def _row_json(row: pd.Series, hidden: frozenset[str] = frozenset()) -> str | None:
    values = {
        str(k): str(v)
        for k, v in row.items()
        if k not in (SOURCE_ROW, "reason", *hidden) and not coerce.is_missing(v) and str(v).strip()
    }
    return json.dumps(values) if values else None


def detect(head: pd.DataFrame) -> Layout | None:
    """The first layout whose headers (and first rows) match, most specific first."""
    return next((layout for layout in LAYOUTS if layout.matches(head)), None)


def _with_mapping(frame: pd.DataFrame, mappings: Mappings | None) -> pd.DataFrame:
    """The frame, told the user's mapping (``USER_MAPPING``), which its shapes read."""
    if not mappings:
        return frame
    out = frame.copy(deep=False)
    out.attrs = {**frame.attrs, USER_MAPPING: {t: dict(m) for t, m in mappings.items()}}
    return out


def _user_map(frame: pd.DataFrame, table: str) -> dict[str, str]:
    return dict(frame.attrs.get(USER_MAPPING, {}).get(table, {}))


def matching(head: pd.DataFrame, mappings: Mappings | None = None) -> list[Layout]:
    """Every layout whose headers (and first rows) match, most specific first; a layout
    found by synonyms is also found by the headers ``mappings`` (the user's) give."""
    head = _with_mapping(head, mappings)
    return [layout for layout in LAYOUTS if layout.matches(head)]


def prepare(
    raw: pd.DataFrame, layout: Layout | None, name: str = "", mappings: Mappings | None = None
) -> Prepared:
    """Leave out rows that hold no record, then the layout's own (headings, notes).

    ``name`` is the file or tab the rows come from: a layout's ``prepare`` finds it in
    ``attrs[FILE_NAME]`` (Mailchimp says each file's status only in its name); ``mappings``
    is the user's, which a layout's shapes find in ``attrs[USER_MAPPING]``.
    """
    raw = _with_mapping(raw, mappings)
    reasons = _non_records(raw)
    blank = raw.attrs.get(BLANK_ROWS, [])
    kept = raw.drop(index=raw.index[list(reasons)]).reset_index(drop=True)
    skipped = [raw.iloc[list(reasons)].assign(reason=list(reasons.values()))]
    if layout is not None and layout.prepare is not None:
        kept.attrs[FILE_NAME] = name
        kept, more = layout.prepare(kept)
        skipped.append(kept.iloc[list(more)].assign(reason=list(more.values())))
        kept = kept.drop(index=kept.index[list(more)]).reset_index(drop=True)
    if blank:
        skipped.append(pd.DataFrame({SOURCE_ROW: blank, "reason": "blank row"}))
    rows = pd.concat([s for s in skipped if not s.empty] or [skipped[0]], ignore_index=True)
    rows = rows.sort_values(SOURCE_ROW, kind="stable").reset_index(drop=True)
    if USER_MAPPING in raw.attrs:
        kept.attrs[USER_MAPPING] = raw.attrs[USER_MAPPING]
    return Prepared(kept, rows, layout)


# A total row says so in one of its first cells: "Total", "Subtotal Leeds", "Grand total",
# "Total for Acme Co"; or it starts with "Total", holds nothing but numbers besides ("Total
# 2025", "$1,234") and those add up the rows above or its identifying cells are empty
# (``_adding_up``). "Total Wine & More" with an e-mail or a date is a customer, "Total Body
# Lotion" with its SKU and prices a product.
def join_prepared(pieces: list[Prepared], files: list[str]) -> Prepared:
    """One export written as several files: their rows together, each naming its file.

    A later file's header that differs from the first's only in case, spaces or
    punctuation ("order id" for "Order ID") fills the first's column, not one beside it."""
    first = {normalise(c): c for c in pieces[0].frame.columns}
    frames = [
        p.frame.rename(columns=lambda c: first.get(normalise(c), c)).assign(**{FILE: f})
        for p, f in zip(pieces, files, strict=True)
    ]
    skipped = [p.skipped.assign(**{FILE: f}) for p, f in zip(pieces, files, strict=True)]
    had = [len(f) for f in frames]
    copies, said, held, whole = _set_aside_copies(frames, files, pieces[0].layout)
    read = tuple(f for frame, f in zip(frames, files, strict=True) if len(frame))
    by_file: dict[str, set[str]] = {}
    for key, names in held.items():  # the copies that say a person opted out, joined
        for name in split_lists(names):
            by_file.setdefault(name, set()).add(key)
    kept = ExportFiles(
        read,
        tuple((f, whole[f]) for f, n, frame in zip(files, had, frames, strict=True)
              if n and not len(frame) and f in whole),
        tuple((f, frozenset(keys)) for f, keys in by_file.items()),
    )  # fmt: skip
    joined = pd.concat(frames, ignore_index=True)
    if USER_MAPPING in pieces[0].frame.attrs:
        joined.attrs[USER_MAPPING] = pieces[0].frame.attrs[USER_MAPPING]
    skips = pd.concat([*skipped, *copies], ignore_index=True)
    return Prepared(joined, skips, pieces[0].layout, copies=said, held_no=held, files=kept)


EXPORT_COPY = "export_copy"  # the data check that says a copy of an export was set aside
COPY_ROW = "(a copy of it)"  # how the reason of a copy's row set aside ends


def _order_keys(frame: pd.DataFrame, layout: Layout) -> pd.Series | None:
    """Each row's order id as the layout reads it (stripped text), or None when the
    layout gives no orders: the key by which two copies of one export are told apart."""
    return _layout_column(frame, layout, "order_id", ("order_lines", "orders"))


def _layout_column(
    frame: pd.DataFrame, layout: Layout, column: str, tables: tuple[str, ...]
) -> pd.Series | None:
    """The cells of the header the layout (or the user's mapping) reads as ``column`` of
    the first of ``tables`` that has one, as stripped text; None when none does."""
    for table in tables:
        if table not in layout.tables:
            continue
        spec = layout.tables[table]
        header = next((h for h, c in spec.columns.items() if c == column), None)
        if header is None:
            mapped = map_headers(table, _headers(frame), _user_map(frame, table))
            header = next((h for h, c in mapped.columns.items() if c == column), None)
        found = next(
            (c for c in frame.columns if normalise(str(c)) == normalise(str(header))), None
        )
        if header is not None and found is not None:
            return frame[found].map(lambda v: str(v).strip() if _text(v) else None)
    return None


def _newest_first(frames: list[pd.DataFrame], layout: Layout) -> list[int]:
    """The files of a join, the newest export first (the latest order date it holds, as
    text of one export's one format), else as placed: a later download ("(2)", dated
    names, a tab imported beside the old one) holds orders' newer state (a refund)."""
    latest = []
    for frame in frames:
        when = _layout_column(frame, layout, "ordered_at", ("orders",))
        stamps = (
            pd.to_datetime(when, errors="coerce", utc=True, format="mixed")
            if when is not None
            else None
        )
        top = stamps.max() if stamps is not None and stamps.notna().any() else pd.NaT
        latest.append(top)
    known = [t for t in latest if not pd.isna(t)]
    if len(known) < len(frames):
        return list(range(len(frames)))
    return sorted(range(len(frames)), key=lambda k: (-latest[k].value, k))


def _same_orders(
    frame: pd.DataFrame, earlier: pd.DataFrame, layout: Layout, keys: pd.Series, held: pd.Series
) -> bool:
    """Whether the orders two files share are the same orders (most with the same buyer
    and date): a second shop's export numbers its orders from #1001 too, and was set
    aside as a "copy", every one of its buyers gone (review53b item 1)."""

    def firsts(data: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
        parts = {"id": ids}
        for column, tables in (("email", ("contacts",)), ("ordered_at", ("orders",))):
            cells = _layout_column(data, layout, column, tables)
            if cells is not None:
                parts[column] = cells.str.lower()
        table = pd.DataFrame(parts).dropna(subset=["id"])
        return table.drop_duplicates("id").set_index("id")

    mine, theirs = firsts(frame, keys), firsts(earlier, held)
    shared = mine.index.intersection(theirs.index)
    columns = [c for c in mine.columns if c in theirs.columns]
    if shared.empty or not columns:
        return True
    # a cell empty in both agrees: identical copies of an export of guest checkouts (no
    # e-mail) were taken for two shops and their lines read twice
    left, right = mine.loc[shared, columns].fillna(""), theirs.loc[shared, columns].fillna("")
    agree = (left == right).all(axis=1)
    return bool(agree.mean() >= 0.5)


def _set_aside_copies(
    frames: list[pd.DataFrame], files: list[str], layout: Layout | None
) -> tuple[list[pd.DataFrame], list[tuple[int, str]], dict[str, str], dict[str, str]]:
    """Rows of an order an earlier file of the join already holds, set aside in place.

    Two copies of one export (Google's "Copy of Orders", a re-downloaded
    "orders_export_1 (1).csv") were joined as parts of it, and every line counted twice;
    the parts Shopify splits an export into hold different orders. An order is read from
    the first file that has it (the located one first). Returns the rows set aside (as
    skipped rows), one data-check line per copy, the people who said no in them (so
    an older copy's "no" is not lost: consent fails closed), and each file set aside -> the
    file its orders are read from."""
    if layout is None:
        return [], [], {}, {}
    seen: dict[str, str] = {}  # order id -> the file it is read from
    read: dict[str, tuple[pd.DataFrame, pd.Series]] = {}  # file -> its rows and order ids
    aside: list[pd.DataFrame] = []
    said: list[tuple[int, str]] = []
    held: dict[str, str] = {}
    whole: dict[str, str] = {}
    for k in _newest_first(frames, layout):
        frame, name = frames[k], files[k]
        keys = _order_keys(frame, layout)
        if keys is None:
            return [], [], {}, {}
        again = keys.isin(list(seen)).to_numpy()
        if again.any():
            where = keys[again].map(seen)
            first = str(where.mode().iloc[0])
            earlier, earlier_keys = read[first]
            if not _same_orders(frame, earlier, layout, keys, earlier_keys):
                shared = keys[again].nunique()
                said.append((int(again.sum()), (
                    f"{name!r} uses {shared:,} order number{'' if shared == 1 else 's'} that "
                    f"{first!r} uses too, for other buyers or dates: not a copy of it, so both "
                    "are read, and a number both use is read as one order with the lines of "
                    "both (two shops' exports need their own folder or config)."
                )))  # fmt: skip
                again[:] = False
        if again.any():
            rows = frame[again]
            aside.append(rows.assign(reason=[f"order {o} is read from {w!r} {COPY_ROW}"
                                             for o, w in zip(keys[again], where, strict=True)]))  # fmt: skip
            frames[k] = frame[~again].reset_index(drop=True)
            theirs = _said_no_in(rows, layout, name)
            held.update(
                {
                    key: merge_lists(held.get(key), join_lists([copy])) or copy
                    for key, copy in theirs.items()
                }
            )
            whole[name] = first
            orders = keys[again].nunique()
            said.append(
                (
                    int(again.sum()),
                    f"{name!r} holds {orders:,} order{'' if orders == 1 else 's'} that {first!r} "
                    f"holds too ({int(again.sum()):,} rows): a copy of the same export, so those "
                    f"orders and their lines are read once, from {first!r}; the copy's rows are "
                    "listed as skipped"
                    + (
                        f", and the {len(theirs):,} "
                        f"{'person it says opted out is' if len(theirs) == 1 else 'people it says opted out are'}"
                        " opted out" + _also_read(theirs, read, layout)
                        if theirs
                        else ""
                    )
                    + ".",
                )
            )
        read[name] = (frame, keys)
        for key in keys[~again].dropna():
            seen.setdefault(key, name)
    return aside, said, held, whole


def _also_read(
    theirs: Mapping[str, str], read: Mapping[str, tuple[pd.DataFrame, pd.Series]], layout: Layout
) -> str:
    """How many of the people a copy says opted out the files read say so too: the lists
    of opt-outs count the people of the files read (and those only a copy names)."""
    said = {key for name, (frame, _) in read.items() for key in _said_no_in(frame, layout, name)}
    both = len(set(theirs) & said)
    files = " and ".join(repr(n) for n in read)
    if both == len(theirs):
        return f" (they say so in {files} too)"
    only = len(theirs) - both
    return (
        f" ({both:,} of them {'says' if both == 1 else 'say'} so in {files} too; {only:,} "
        "only here, whose no counts: consent fails closed)"
    )


def _said_no_in(rows: pd.DataFrame, layout: Layout, name: str) -> dict[str, str]:
    """The people (e-mail or id, lower case) who said no in ``rows``, by the layout."""
    if "contacts" not in layout.tables:
        return {}
    members, _ = Prepared(rows.reset_index(drop=True), rows.iloc[:0], layout).table("contacts")
    out: dict[str, str] = {}
    for i, no in enumerate(said_no(members)):
        for column in ("email", "contact_id"):
            value = members[column].iloc[i] if column in members.columns else None
            if no and isinstance(value, str) and value.strip():
                out.setdefault(value.strip().casefold(), name)
    return out


def _listed(name: object) -> object:
    return opt_out_list_value(name) if isinstance(name, str) else name


def _held_no(contacts: pd.DataFrame, held: Mapping[str, str]) -> pd.DataFrame:
    """Contacts a set-aside copy says opted out, with that copy's name as their opt-out."""
    if not held:
        return contacts
    found = pd.Series(None, index=contacts.index, dtype=object)
    for column in ("email", "contact_id"):
        if column in contacts.columns:
            keys = contacts[column].map(
                lambda v: v.strip().casefold() if isinstance(v, str) else None
            )
            found = found.where(found.notna(), keys.map(held).map(_listed))
    if not found.notna().any():
        return contacts
    if OPT_OUT_LIST in contacts.columns:
        found = pd.Series(map(merge_lists, contacts[OPT_OUT_LIST], found), index=contacts.index)
    return contacts.assign(**{OPT_OUT_LIST: found})


_TOTAL = re.compile(r"(grand |sub ?)totals?( .*)?|totals?( for .*)?|sum|summe|gesamt|totaal|totale")
_TOTAL_LIKE = re.compile(r"totals? .*|.* totals?")  # Excel's Subtotal: "2025-01 Total"


_TOTAL_START = r"\W*(?:grand|sub|total|sum|gesamt|totaal|totale)|.*\Wtotals?\s*$"
# Blanks before a repeated header's first cell, and the BOM and zero-width spaces a second
# export keeps when two are joined (`copy /b a.csv+b.csv`, `cat`): only the file's first
# BOM is read as one, so the header after it began "\ufeffName" and was loaded as a record.
_INVISIBLE = r"[\s\ufeff\u200b\u200c\u200d\u2060]"


def _candidates(cells: pd.DataFrame) -> list[int]:
    """Rows whose first filled cell (of the first three) may say total or repeat the header.

    A cheap first pass (one compiled regex per distinct value of a column) so that a
    2,000,000-row file stays fast; the rows it finds are then looked at whole.
    """
    maybe = np.zeros(len(cells), dtype=bool)
    pending = np.ones(len(cells), dtype=bool)  # rows whose earlier cells were all empty
    for column in list(cells.columns)[:3]:
        if not pending.any():
            break
        header = re.escape(str(column).strip())
        pattern = re.compile(rf"{_TOTAL_START}|{_INVISIBLE}*{header}\s*$", re.I)
        distinct = Distinct.of(cells[column])
        stripped = distinct.stripped()
        filled = np.array([isinstance(v, str) and v != "" for v in stripped], dtype=bool)
        other = np.array([not isinstance(v, str) for v in distinct.values], dtype=bool)
        match = np.zeros(len(filled), dtype=bool)
        for i in np.flatnonzero(filled).tolist():
            match[i] = pattern.match(distinct.values[i]) is not None
        codes = distinct.codes
        here = codes >= 0
        row_filled = np.zeros(len(cells), dtype=bool)
        row_filled[here] = filled[codes[here]]
        row_stops = row_filled.copy()
        row_stops[here] |= other[codes[here]]
        row_match = np.zeros(len(cells), dtype=bool)
        row_match[here] = match[codes[here]]
        maybe |= pending & row_filled & row_match
        pending &= ~row_stops
    return list(map(int, maybe.nonzero()[0]))


def _non_records(frame: pd.DataFrame) -> Skips:
    """Repeated header rows and total/subtotal rows, by position."""
    headers = [normalise(c) for c in frame.columns if c != SOURCE_ROW]
    cells = frame[[c for c in frame.columns if c != SOURCE_ROW]]
    out: Skips = {}
    maybe: dict[int, tuple[str, int]] = {}  # "Total ..." rows: totals only if they add up
    for position in _candidates(cells):
        values = tuple(cells.iloc[position])
        filled = [(i, normalise(v)) for i, v in enumerate(values) if _text(v)]
        if not filled:
            continue
        same = sum(v == headers[i] for i, v in filled if headers[i])
        if same >= 2 and same * 2 >= len(filled):
            out[position] = "repeated header row"
            continue
        found = _total_label(values, filled)
        if found is None:
            continue
        label, at, sure = found
        if sure:
            out[position] = _total_reason(label)
        else:
            maybe[position] = (label, at)
    if maybe:
        out.update(_adding_up(cells, maybe, out))
    return out


def total_row_label(values: list[Any]) -> str | None:
    """The label of a row its own words say is a total ("Total", "Grand total", "Summe"),
    else None: the rule the files source skips such rows by, for a range on a sheet."""
    at = [i for i, v in enumerate(values) if _text(v)]
    if any("@" in str(values[i]) for i in at):  # `_total_label`'s first rule, before any words
        return None
    # only the first three filled cells' words are read: a lead table's 10,000 rows
    # normalised every cell, a tenth of a cold LEADSCORE
    filled = [(i, normalise(values[i]) if k < 3 else "") for k, i in enumerate(at)]
    found = _total_label(tuple(values), filled)
    return found[0] if found is not None and found[2] else None


def _total_reason(label: str) -> str:
    kind = "subtotal" if "sub" in normalise(label) else "total"
    return f"{kind} row ({label!r})"


def _total_label(
    values: tuple[Any, ...], filled: list[tuple[int, str]]
) -> tuple[str, int, bool] | None:
    """The cell that may make this row a total row, its column, and whether its words alone
    say so ("Total", "Total for Acme", "Subtotal Leeds"); "Total 2025" with numbers only
    beside it is a total if they add up (``_adding_up``): "Total Body Lotion" is a product."""
    if any("@" in str(values[i]) for i, _ in filled):
        return None
    for i, text in filled[:3]:
        others = [values[j] for j, _ in filled if j != i]
        if _TOTAL.fullmatch(text):
            return str(values[i]).strip(), i, True
        if _TOTAL_LIKE.fullmatch(text) and all(_is_number(v) for v in others):
            return str(values[i]).strip(), i, False
    return None


def _adding_up(cells: pd.DataFrame, maybe: dict[int, tuple[str, int]], skipped: Skips) -> Skips:
    """Rows labelled "Total ..." that are totals: each number adds up its column over the
    record rows above (since the last total row, or all of them; two rows at least, or a
    copy of a row would pass), or the row leaves empty every cell that identifies a record
    (the headers of key and required columns, "Date", "SKU", "Order ID").

    Worked top down: a "Total ..." row found to be a record counts in the sums below it.
    Numbers are read only for the columns such a row fills (rare rows, so a large file
    that has none pays nothing).
    """
    names = [str(c) for c in cells.columns]
    keys = _identifying(names)
    n = len(cells)
    base = np.ones(n, dtype=bool)
    base[list(skipped)] = False
    base[list(maybe)] = False
    totals = sorted(p for p, why in skipped.items() if why != "repeated header row")
    prefix: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def column(j: int) -> tuple[np.ndarray, np.ndarray]:
        """The column's numbers, and its running sum over the record rows (maybe-rows out)."""
        if j not in prefix:
            numbers = _number(cells.iloc[:, j]).to_numpy(dtype=float)
            counted = np.where(base & ~np.isnan(numbers), numbers, 0.0)
            prefix[j] = numbers, np.concatenate([[0.0], np.cumsum(counted)])
        return prefix[j]

    rows = np.concatenate([[0], np.cumsum(base)])  # record rows before each position
    kept: list[int] = []  # "Total ..." rows found to be records
    out: Skips = {}
    for position in sorted(maybe):
        label, at = maybe[position]
        last = max([t for t in totals if t < position], default=-1)
        numbers = [j for j in range(len(names)) if j != at and _text(cells.iat[position, j])]
        adds_up = bool(numbers)
        for start in (last + 1, 0):  # this section, or everything above (a grand total)
            extra = [q for q in kept if start <= q < position]
            count = int(rows[position] - rows[start]) + len(extra)
            adds_up = bool(numbers) and count >= 2
            for j in numbers if adds_up else []:
                values, sums = column(j)
                total = sums[position] - sums[start] + np.nansum(values[extra])
                value = values[position]
                adds_up = adds_up and not np.isnan(value) and _close(value, total)
            if adds_up:
                break
        keyed = [j for j in range(len(names)) if names[j] in keys and j != at]
        empty_keys = bool(keyed) and not any(_text(cells.iat[position, j]) for j in keyed)
        if adds_up or empty_keys:
            out[position] = _total_reason(label)
            totals = sorted([*totals, position])
        else:
            kept.append(position)
    return out


def _close(value: float, total: float) -> bool:
    """Equal as money is written: a cent, or a millionth of a large total."""
    return abs(value - total) <= max(0.01, 1e-6 * abs(total))


def _identifying(headers: list[str]) -> set[str]:
    """Headers that name a key or required column of some table ("SKU", "Order Date")."""
    out: set[str] = set()
    for table, spec in TABLES.items():
        for header, column in map_headers(table, headers).columns.items():
            if column in spec.key or spec.column(column).required:
                out.add(header)
    return out


def _is_number(value: Any) -> bool:
    if isinstance(value, coerce.UnreadCell):
        return True  # a formula Excel never calculated: beside "Total ..." it is the sum
    try:
        coerce.parse_number(value)
    except ValueError:
        return False
    return True


def _text(value: Any) -> bool:
    return not coerce.is_missing(value) and bool(str(value).strip())


# -- helpers the shapes share -------------------------------------------------------
def _col(frame: pd.DataFrame, header: str) -> pd.Series:
    """The column whose header is ``header`` (compared normalised), or all missing."""
    for column in frame.columns:
        if normalise(column) == normalise(header):
            return frame[column]
    return pd.Series(None, index=frame.index, dtype=object)


def _either(frame: pd.DataFrame, *headers: str) -> pd.Series:
    """The first of ``headers`` the frame has (one export, two generations of names)."""
    present = {normalise(c) for c in frame.columns}
    return _col(frame, next((h for h in headers if normalise(h) in present), headers[0]))


def _has_any(*headers: str) -> Callable[[pd.DataFrame], bool]:
    """A layout check: at least one of ``headers`` is there."""
    wanted = {normalise(h) for h in headers}
    return lambda head: bool(wanted & {normalise(c) for c in head.columns})


def _filled(series: pd.Series) -> pd.Series:
    return series.map(_text).astype(bool)


def _email_key(series: pd.Series) -> pd.Series:
    return series.map(lambda v: str(v).strip().lower() if _text(v) else None)


def _row_keys(frame: pd.DataFrame) -> pd.Series:
    """'row 12' (or 'file.csv row 12' when one export is several files): a key of last resort."""
    rows = frame[SOURCE_ROW].map(lambda n: f"row {n}")
    if FILE in frame.columns:
        rows = frame[FILE].astype(str) + " " + rows
    return rows


def _first_of(frame: pd.DataFrame, key: pd.Series) -> pd.DataFrame:
    """The first row of each key in file order (rows without a key kept, to be rejected)."""
    first = ~key.duplicated() | ~_filled(key)
    return frame[first.to_numpy()]


def _line_numbers(
    key: pd.Series, frame: pd.DataFrame | None = None, lost: Mapping[str, int] | None = None
) -> pd.Series:
    """Each row's place among its key's rows in the file: 1, 2, 3 within an order.

    A line the reader could not split (``frame.attrs[UNREAD_ROWS]``) between two rows of
    one key keeps its place, and so does one a layout knows was a key's first row
    (``lost``: key -> that line): numbered by the lines read alone, the lines after it
    moved up one, the store's line 2 took line 3's product while its line 3 stayed (the
    table is held while a line is unread), and that product counted twice."""
    numbers = (key.groupby(key.astype("string").fillna("").to_numpy()).cumcount() + 1).astype(
        "Int64"
    )
    unread = [] if frame is None else frame.attrs.get(UNREAD_ROWS, [])
    if frame is None or FILE in frame.columns or SOURCE_ROW not in frame.columns:
        return numbers
    if not unread and not lost:
        return numbers
    rows = pd.to_numeric(frame[SOURCE_ROW], errors="coerce").to_numpy(dtype=float)
    keys = key.map(lambda v: str(v).strip() if _text(v) else None).to_numpy(dtype=object)
    order = np.argsort(rows, kind="stable")
    placed, named = rows[order], keys[order]
    shift = np.zeros(len(rows), dtype=np.int64)
    for line in unread:
        at = int(np.searchsorted(placed, line))  # the first row below the unread line
        if 0 < at < len(placed) and named[at] is not None and named[at - 1] == named[at]:
            shift[order[at:][named[at:] == named[at]]] += 1
    for name in lost or {}:
        shift[keys == name] += 1
    return numbers + shift


def _split_name(full: pd.Series) -> tuple[pd.Series, pd.Series]:
    parts = full.map(lambda v: " ".join(str(v).split()).rsplit(" ", 1) if _text(v) else [None])
    first = parts.map(lambda p: p[0])
    last = parts.map(lambda p: p[1] if len(p) == 2 else None)
    return first, last


def _number(series: pd.Series) -> pd.Series:
    return coerce.coerce_float(series)[0].astype("float64")


def _share(amount: pd.Series, quantity: pd.Series, price: pd.Series) -> pd.Series:
    """A line's discount amount as the share of its price the canonical column holds."""
    return discount_shares(amount, quantity, price, "a discount amount")


def discount_shares(
    amount: pd.Series, quantity: pd.Series, price: pd.Series, what: str
) -> pd.Series:
    """Money taken off a whole line as the share of its price (5.00 off 2 x 25.00 is 0.1).

    An amount that cannot be a share (more than the line's price, or no quantity or price
    to divide by) is a ``coerce.UnreadCell``: the run lists it with its row, column and
    value and says it is an amount (``what`` names the column), not a share to restate as
    percent.
    """
    money = _number(amount).abs()
    quantity, price = _number(quantity), _number(price)
    gross = quantity * price
    share = (money / gross).where(gross > 0).where(~money.eq(0), 0.0)  # nothing off is 0
    out = share.map(lambda v: None if pd.isna(v) else round(float(v), 6)).astype(object)
    bad = money.notna() & (share.isna() | share.gt(1))
    for at in np.flatnonzero(bad.to_numpy(dtype=bool)).tolist():
        line = f"{_shown(quantity.iloc[at])} x {_shown(price.iloc[at])}"
        why = (
            f"is more than the line's price ({line})"
            if gross.iloc[at] > 0
            else f"cannot be a share of the line's price ({line})"
        )
        out.iloc[at] = coerce.UnreadCell(
            str(amount.iloc[at]).strip(), f"({what}, money taken off the line) {why}: left out"
        )
    return out


def _shown(value: float) -> str:
    return "(none)" if pd.isna(value) else f"{float(value):g}"


def _with(frame: pd.DataFrame, **columns: pd.Series) -> pd.DataFrame:
    return frame.assign(**{k: v.to_numpy() for k, v in columns.items()})


# -- hand-kept lists ----------------------------------------------------------------
_NAME_HEADERS = {"customer", "client", "name", "customer name", "client name", "full name",
                 "contact", "contact name", "buyer", "kunde", "klant"}  # fmt: skip
_EMAIL_HEADERS = {normalise(h) for h in ["email", *SYNONYMS["contacts"]["email"]]}
_ORDER_HEADERS = {normalise(h) for h in SYNONYMS["orders"]["ordered_at"]} | {
    normalise(h) for h in SYNONYMS["orders"]["order_id"] if h != "id"
}


def _name_column(frame: pd.DataFrame) -> str | None:
    return next((c for c in frame.columns if normalise(c) in _NAME_HEADERS), None)


def _is_hand_kept(head: pd.DataFrame) -> bool:
    """Names and e-mails, no id: a list someone keeps by hand (not orders, not an export)."""
    keys = {normalise(c) for c in head.columns}
    if not keys & _EMAIL_HEADERS or keys & _ORDER_HEADERS:
        return False
    ids = map_headers("contacts", _headers(head)).columns
    key_header = next((h for h, c in ids.items() if c == "contact_id"), None)
    if key_header is None:
        return True  # e-mails but no key at all: the e-mail is the key
    if normalise(key_header) not in _NAME_HEADERS:
        return False
    values = [str(v).strip() for v in head[key_header] if _text(v)]
    names = [v for v in values if re.search(r"[^\W\d_]", v) and not re.search(r"\d", v)]
    return bool(values) and len(names) * 5 >= len(values) * 4


def _any_of(frame: pd.DataFrame, headers: set[str]) -> pd.Series:
    """The first filled of the columns whose headers are in ``headers`` (lists put together
    may call the same thing "Email" and "E-mail")."""
    out = pd.Series(None, index=frame.index, dtype=object)
    for column in (c for c in frame.columns if normalise(c) in headers):
        out = out.where(_filled(out), frame[column])
    return out


def _hand_kept_contacts(frame: pd.DataFrame) -> pd.DataFrame:
    key = _email_key(_any_of(frame, _EMAIL_HEADERS))
    out = _with(frame, contact_id=key.where(_filled(key), _row_keys(frame)))
    if sum(normalise(c) in _EMAIL_HEADERS for c in frame.columns) > 1:
        out = _with(out, email=_any_of(frame, _EMAIL_HEADERS))
    mapped = set(map_headers("contacts", _headers(frame)).columns.values())
    if _name_column(frame) and not {"first_name", "last_name"} & mapped:
        first, last = _split_name(_any_of(frame, _NAME_HEADERS))
        out = _with(out, first_name=first, last_name=last)
    return out


HAND_KEPT = Layout(
    name="hand-kept list (names and e-mails; the e-mail, or the row, is the key)",
    signature=(),
    tables={"contacts": LayoutTable(shape=_hand_kept_contacts, synonyms=True)},
    check=_is_hand_kept,
)


# -- order lines without a line number ----------------------------------------------
def _line_headers(frame: pd.DataFrame) -> dict[str, str]:
    """Canonical order_lines column -> the header the user's mapping, else the usual
    synonyms, give it; the order id the user mapped for orders, if not for order lines."""
    headers = _headers(frame)
    user = _user_map(frame, "order_lines")
    found = {c: h for h, c in map_headers("order_lines", headers, user).columns.items()}
    orders = _user_map(frame, "orders")
    if "order_id" not in user.values() and "order_id" in orders.values():
        given = {h: c for h, c in map_headers("orders", headers, orders).columns.items()}
        found.update({c: h for h, c in given.items() if c == "order_id"})
    return found


def _is_unnumbered_lines(head: pd.DataFrame) -> bool:
    """An order, a product and a quantity per row, and no line number: a small shop's lines."""
    found = _line_headers(head)
    return {"order_id", "product_id", "quantity"} <= found.keys() and "line_no" not in found


def _numbered_lines(frame: pd.DataFrame) -> pd.DataFrame:
    return _with(frame, line_no=_line_numbers(frame[_line_headers(frame)["order_id"]], frame))


UNNUMBERED_LINES = Layout(
    name="order lines without a line number (numbered in file order within each order)",
    signature=(),
    tables={"order_lines": LayoutTable(shape=_numbered_lines, synonyms=True)},
    check=_is_unnumbered_lines,
)


# -- a flat sales file: one row per line item, the order's fields repeated -----------
# What a shop's own spreadsheet, an order-export plugin or a marketplace report writes:
# "Order Number, Order Date, Customer Email, Order Total, Product, SKU, Quantity, Item
# Price", an order on as many rows as it has lines. Read by the usual synonyms, as the
# Shopify layout reads Shopify's: each order from its first row, each row a line.
_ID_HEADERS = {normalise(h) for h in ("sku", "product id", "item id", "product code", "article",
                                      "product #", "item #", "sku #", "code")}  # fmt: skip


def _flat_headers(frame: pd.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    """Canonical orders column -> header, canonical order_lines column -> header."""
    user = _user_map(frame, "orders")
    orders = {c: h for h, c in map_headers("orders", _headers(frame), user).columns.items()}
    return orders, _line_headers(frame)


def _is_flat_sales(head: pd.DataFrame) -> bool:
    """An order id and date, and a product and quantity, on each row: orders and lines."""
    orders, lines = _flat_headers(head)
    return {"order_id", "ordered_at"} <= orders.keys() and {
        "product_id",
        "quantity",
    } <= lines.keys()


# Amazon's order reports (All Orders: "amazon-order-id ... quantity ... item-price"; New
# Orders: "order-id, order-item-id, ..., quantity-purchased, currency, item-price") write
# one row per item, and its item-price is the price of all the line's units together
# (Amazon's order item: "the selling price of the item multiplied by the quantity
# ordered", developer docs of ListOrderItems; SP-API "Order reports attributes" lists the
# columns). Their headers are written in lower case with hyphens, which tells them from a
# shop's own "Item Price" (a unit's price).
_AMAZON_AMOUNT = "item-price"
_AMAZON_REPORT = ({"purchase-date", "item-price"}, {"amazon-order-id", "order-item-id"})


def _line_amount(frame: pd.DataFrame) -> str | None:
    """The header of each line's amount (all its units together), when the file is an
    Amazon order report and the user did not call that column a unit's price."""
    written = {str(c).strip().lower(): str(c) for c in _headers(frame)}
    needed, one_of = _AMAZON_REPORT
    if not needed <= written.keys() or not one_of & written.keys():
        return None
    header = written[_AMAZON_AMOUNT]
    said = {normalise(h): c for h, c in _user_map(frame, "order_lines").items()}
    return None if said.get(normalise(header)) == "unit_price" else header


def _email_header(frame: pd.DataFrame) -> str | None:
    """ "Customer Email", "Billing E-mail", "Email Address": the buyer's e-mail column."""
    for column in _headers(frame):
        words = normalise(column).replace("e mail", "email").split()
        if "email" in words:
            return column
    return None


def _varies(frame: pd.DataFrame, key: str, column: str) -> bool:
    """Whether ``column`` holds more than one value within some order."""
    values = frame[column].map(lambda v: str(v).strip() if _text(v) else None)
    return bool((values.groupby(frame[key].to_numpy()).nunique(dropna=False) > 1).any())


@dataclass(frozen=True)
class _FlatColumns:
    key: str  # the order id's header
    orders: list[str]  # headers that go with the order
    lines: list[str]  # headers that go with the line
    contact: str | None  # the header of the order's contact key (an id, else the e-mail)
    email: str | None
    total_of_lines: str | None  # a "total" that differs within an order: the line's amount


def _flat_columns(frame: pd.DataFrame) -> _FlatColumns:
    """Which headers belong to the order and which to the line: those mapped onto an
    order's or a line's column, then the others by whether they differ within an order
    (a shipping method is the order's, a colour the line's)."""
    orders, lines = _flat_headers(frame)
    key = orders["order_id"]
    email = _email_header(frame)
    named = orders.get("contact_id")
    contact = email if email and (named is None or normalise(named) in _NAME_HEADERS) else named
    total = orders.get("total")
    of_lines = total if total is not None and _varies(frame, key, total) else None
    amount = _line_amount(frame)
    if amount is not None and total in (None, amount):  # Amazon's item-price: always a line's
        of_lines = amount
    order_mapped = {h for c, h in orders.items() if c != "order_id" and h != of_lines}
    line_mapped = {h for c, h in lines.items() if c != "order_id"}
    known = order_mapped | line_mapped | {key, email, FILE}
    rest = [c for c in _headers(frame) if c not in known]
    varying = [c for c in rest if _varies(frame, key, c)]
    kept = [SOURCE_ROW, key, *([FILE] if FILE in frame.columns else [])]
    by_order = [
        c
        for c in _headers(frame)
        if c in order_mapped | {email} or (c in rest and c not in varying)
    ]
    by_line = [c for c in _headers(frame) if c in line_mapped or c in varying]
    return _FlatColumns(key, [*kept, *by_order], [*kept, *by_line], contact, email, of_lines)


def _flat_orders(frame: pd.DataFrame) -> pd.DataFrame:
    cols = _flat_columns(frame)
    first = _first_of(frame, frame[cols.key])
    made: dict[str, pd.Series] = {}
    derived: dict[str, tuple[str, int]] = {}
    kept = [c for c in cols.orders if c in first.columns]
    if cols.total_of_lines is not None:  # a line amount: the order's total is their sum
        amounts = _number(frame[cols.total_of_lines]).groupby(frame[cols.key].to_numpy())
        summed = amounts.transform("sum", min_count=1)[first.index]  # none: no total
        named = {normalise(h) for h in _user_map(frame, "orders")}
        if normalise(cols.total_of_lines) in named:  # the user's header holds the sum
            first = _with(first, **{cols.total_of_lines: summed})
            kept.append(cols.total_of_lines)
        else:
            made["total"] = summed
            if cols.total_of_lines == _line_amount(frame):
                how = f"each order's total is the sum of its lines' {cols.total_of_lines}"
                derived["total"] = (how, int(summed.notna().sum()))
    elif "total" not in _flat_headers(frame)[0]:  # no total at all: the lines' sum
        total = _lines_total(frame, cols.key)[first.index]
        made["total"] = total
        derived["total"] = (LINES_TOTAL, int(total.notna().sum()))
    if cols.contact is not None and cols.contact == cols.email:
        made["contact_id"] = _email_key(first[cols.email])
    out = _with(first[kept], **made)
    out.attrs[DERIVED] = derived
    return out


def _lines_total(frame: pd.DataFrame, key: str) -> pd.Series:
    """Each row's order total from its order's lines: quantity x unit price less the
    discount, summed (rounded to the cent). An order with a line whose quantity or price
    is missing or unreadable, or whose discount is no share of the price, gets none: a
    partial sum would be a wrong total."""
    found = _line_headers(frame)
    quantity = _number(frame[found["quantity"]])
    price = _number(frame[found["unit_price"]]) if "unit_price" in found else quantity * np.nan
    share = pd.Series(0.0, index=frame.index)
    if "discount" in found:
        header = found["discount"]
        given = _number(frame[header])
        plain = _filled(frame[header]) & ~frame[header].astype(str).str.strip().str.endswith("%")
        says = map_headers("order_lines", [header]).formats.get("discount")
        if says is not None and says.percent:  # as ``schema._as_share`` reads it
            shown = given[plain.to_numpy()]
            if len(shown) and shown.between(0, 100).all() and (shown > 1).any():
                given = given.where(~plain, given / 100)
        share = given.where(_filled(frame[header]), 0.0)
        share = share.where(share.between(0, 1))
    amount = quantity * price * (1 - share)
    order = frame[key].to_numpy()
    whole = amount.notna().groupby(order).transform("all")
    summed = amount.groupby(order).transform("sum").round(2)
    return summed.where(whole.to_numpy(dtype=bool))


def _flat_lines(frame: pd.DataFrame) -> pd.DataFrame:
    cols = _flat_columns(frame)
    found = _line_headers(frame)
    frame = frame[~_summary_rows(frame, cols, found).to_numpy()]
    ids = [c for c in _headers(frame) if normalise(c) in _ID_HEADERS and c in cols.lines]
    item = frame[ids[0]] if ids else frame[found["product_id"]]
    item = item.where(_filled(item), frame[found["product_id"]])
    made = {"product_id": item}
    if "line_no" not in found:
        made["line_no"] = _line_numbers(frame[cols.key], frame)
    user = _user_map(frame, "order_lines")
    if map_headers("order_lines", [cols.key], user).columns.get(cols.key) != "order_id":
        made["order_id"] = frame[cols.key]  # a key the user mapped for orders only
    lines = frame[cols.lines]
    amount = cols.total_of_lines
    if amount is not None and found.get("unit_price") == amount and amount not in user:
        # The header the user called the order's total ("item-price" of Amazon's report, the
        # price of the line's units together) is the line's amount, not a unit's price.
        units = _number(frame[found["quantity"]])
        made["unit_price"] = (_number(frame[amount]) / units.where(units > 0)).round(4)
        lines = lines.drop(columns=[amount])
    return _with(lines, **made)


def _summary_rows(frame: pd.DataFrame, cols: _FlatColumns, found: Mapping[str, str]) -> pd.Series:
    """An order's own row above its items, which eBay's Orders report writes for an order
    of several items (the buyer, the order's totals and its quantity, no item): not a line.
    Such a row is the order's first, above two or more rows naming products; it names no
    product, its quantity (if any) is theirs together, it leaves empty some other column
    every line of the file fills (eBay's Item Number and Item Title) and holds some value
    none of its order's other rows does (the buyer's e-mail, the order's total). A line that
    lost its product in a file repeating the order's fields on every row has none such: it
    stays a line, rejected for its missing product."""
    product = _filled(frame[found["product_id"]]).to_numpy()
    order = frame[cols.key].map(lambda v: str(v).strip() if _text(v) else None)
    first = (~order.duplicated() & order.notna()).to_numpy()
    if not (first & ~product).any() or not product.any():
        return pd.Series(False, index=frame.index)
    amounts = {found.get(c) for c in ("quantity", "unit_price", "discount", "line_no")}
    others = [c for c in _headers(frame) if c not in {FILE, cols.key, *amounts}]
    filled = {c: _filled(frame[c]).to_numpy() for c in others}
    every = [c for c in others if c != found["product_id"] and filled[c][product].all()]
    lacking = np.zeros(len(frame), dtype=bool)
    for column in every:
        lacking |= ~filled[column]
    alone = np.zeros(len(frame), dtype=bool)  # a value written on this row of the order only
    for column in others:
        rows = pd.Series(filled[column]).groupby(order.to_numpy()).transform("sum").to_numpy()
        alone |= filled[column] & (rows == 1)
    quantity = _number(frame[found["quantity"]])
    named = pd.Series(product, index=frame.index).groupby(order.to_numpy()).transform("sum")
    out = first & ~product & lacking & alone & (named.to_numpy() >= 2)
    items = quantity.where(product, 0.0).groupby(order.to_numpy()).transform("sum")
    out &= (quantity.isna() | (quantity - items).abs().lt(1e-9)).to_numpy()
    return pd.Series(out, index=frame.index)


def _flat_buyers(frame: pd.DataFrame) -> pd.DataFrame:
    cols = _flat_columns(frame)
    if cols.contact is None:
        return frame.iloc[:0][[SOURCE_ROW]]
    email = frame[cols.email] if cols.email else pd.Series(None, index=frame.index, dtype=object)
    key = _email_key(email) if cols.contact == cols.email else _key(cols.contact)(frame)
    people = frame[_filled(key).to_numpy() & ~key.duplicated().to_numpy()]
    made = {"contact_id": key[people.index], "email": email[people.index]}
    name = _name_column(people)
    if name is not None and name != cols.contact:
        made["first_name"], made["last_name"] = _split_name(people[name])
    return _with(people[[SOURCE_ROW]], **made)


def _footer_notes(
    frame: pd.DataFrame, unread: list[SourceReject]
) -> tuple[list[SourceReject], dict[int, str]]:
    """A report's trailer below its last record ("432 record(s) downloaded,from Jan-01-25
    ...", "Seller ID : crafty_shop_53" under eBay's Orders report): a line of one or two
    values where the header has many holds no record, it is a note. A damaged record (a
    comma too many or missing) keeps most of its values and stays a reject, as does any
    line above the last record."""
    last = -1 if FILE in frame.columns or frame.empty else int(frame[SOURCE_ROW].max())
    wide = len(_headers(frame)) >= 5
    kept, notes = [], {}
    for line in unread:
        few = len([v for v in _cells(line.value) if v.strip()]) <= 2
        if wide and few and 0 <= last < line.row:
            notes[line.row] = "report note"
        else:
            kept.append(line)
    return kept, notes


FLAT_SALES = Layout(
    name="sales with one row per line item (orders from each order's first row, each row a line)",
    signature=(),
    tables={
        "orders": LayoutTable(shape=_flat_orders, synonyms=True),
        "order_lines": LayoutTable(shape=_flat_lines, synonyms=True),
        "contacts": LayoutTable(shape=_flat_buyers),
    },
    check=_is_flat_sales,
    together=("orders", "order_lines"),
    unread=_footer_notes,
)


# -- eBay Seller Hub Orders report (Orders > Download report, CSV) --------------------
# Others' readers of real downloads quote its header (find_string "Sales Record Number,
# Order Number,Buyer Username": "..., Buyer Email, ..., Item Number, Item Title, Custom
# Label, ..., Quantity, Sold For, Shipping And Handling, ..., Total Price, ..., Sale Date,
# ...") with a blank first line and a trailer ("N record(s) downloaded, from ...",
# "Seller ID : ..."). One row per item; an order of several items has its own row above
# them (``_summary_rows``). Read as the flat sales file is, with eBay's names for the
# columns: a file mapped for orders only (the run's advice before it knew the report) gave
# each further item as a duplicate order. A line's product is its Custom Label (the
# seller's SKU) where there is one, else the listing's Item Number.
_EBAY_COLUMNS = {
    "orders": _map("Order Number -> order_id", "Sale Date -> ordered_at", "Total Price -> total"),
    "order_lines": _map("Order Number -> order_id", "Quantity -> quantity",
                        "Sold For -> unit_price", "Item Number -> product_id"),
}  # fmt: skip


def _ebay(shape: Shape) -> Shape:
    """A flat sales shape told eBay's names for the columns, under the user's own."""

    def read(frame: pd.DataFrame) -> pd.DataFrame:
        user = frame.attrs.get(USER_MAPPING, {})
        merged = {}
        for table in {*_EBAY_COLUMNS, *user}:
            mine = dict(user.get(table, {}))
            named, claimed = {normalise(h) for h in mine}, set(mine.values())
            ours = _EBAY_COLUMNS.get(table, {})
            base = {h: c for h, c in ours.items() if normalise(h) not in named and c not in claimed}
            merged[table] = {**base, **mine}
        told = frame.copy(deep=False)
        told.attrs = {**frame.attrs, USER_MAPPING: merged}
        return shape(told)

    return read


def _ebay_lines(frame: pd.DataFrame) -> pd.DataFrame:
    out = _ebay(_flat_lines)(frame)
    label = _stripped(_col(frame, "Custom Label")).loc[out.index]
    return _with(out, product_id=label.where(label.notna(), out["product_id"]))


EBAY_ORDERS = Layout(
    name="eBay orders report",
    signature=("Sales Record Number", "Order Number", "Item Number", "Sold For", "Sale Date"),
    tables={
        "orders": LayoutTable(_EBAY_COLUMNS["orders"], _ebay(_flat_orders), synonyms=True),
        "order_lines": LayoutTable(_EBAY_COLUMNS["order_lines"], _ebay_lines, synonyms=True),
        "contacts": LayoutTable({}, _ebay(_flat_buyers)),
    },
    together=("orders", "order_lines"),
    unread=_footer_notes,
)


# -- Shopify ------------------------------------------------------------------------
# Orders export (Orders > Export): no Shopify help page with the column list was found in
# the search tools; the header was checked against others' readers of real exports
# (jadwro/allegro_csv_parser src/Shopify/types/ShopifyOrderTypeCSV.ts; laplace-live/
# shopify-csv-converter src/types/index.d.ts, which marks the order fields optional on
# later line rows; a full header with Tax 1-5, Payment ID, Payment Terms Name, Next Payment
# Due At, Payment References found with find_string "Lineitem fulfillment status,Billing
# Name"). Customers export: the current "Customer ID, ..., Accepts Email Marketing, Default
# Address Company, ..." and the older "First Name, Last Name, Email, Accepts Email Marketing,
# Company, Address1, ..., Country Code, ..." headers (find_string "Default Address Company").
def _carries_order(frame: pd.DataFrame) -> pd.Series:
    """Rows that hold the order's own fields (Shopify writes them on its first row only)."""
    filled = [_col(frame, h).fillna("").astype(str).str.strip().ne("") for h in _ORDER_FIELDS]
    return filled[0] | filled[1]


_ORDER_FIELDS = ("Created at", "Financial Status")


def _lost_first_rows(frame: pd.DataFrame) -> dict[str, int]:
    """Order -> the unreadable line just above its rows, when none of its rows holds the
    order's fields: that line was the order's first row, and the fields went with it."""
    unread = frame.attrs.get(UNREAD_ROWS, [])
    if not unread or FILE in frame.columns:  # row numbers of several files do not compare
        return {}
    name = _col(frame, "Name").map(lambda v: str(v).strip() if _text(v) else None)
    carried = set(name[_carries_order(frame).to_numpy()].dropna())
    rows = frame[SOURCE_ROW].astype("int64").to_numpy()
    seen = name.duplicated().to_numpy()
    out: dict[str, int] = {}
    for line in unread:
        at = int(np.searchsorted(rows, line))  # the first record row below the lost line
        if at < len(rows) and name.iloc[at] and not seen[at] and name.iloc[at] not in carried:
            out[str(name.iloc[at])] = int(line)
    return out


def _shopify_unread(
    frame: pd.DataFrame, unread: list[SourceReject]
) -> tuple[list[SourceReject], dict[int, str]]:
    """A lost first row of an order says so: its order is not loaded, its lines are."""
    lost = {line: order for order, line in _lost_first_rows(frame).items()}

    def said(line: SourceReject) -> SourceReject:
        if line.row not in lost:
            return line
        more = (
            f"; it is the first row of order {lost[line.row]}, the only row with the order's "
            "date, status and total, so that order is not loaded (its other line rows are, as "
            "order lines): fix this line and load again"
        )
        return SourceReject(line.row, line.column, line.value, line.reason + more)

    return [said(line) for line in unread], {}


def _order_rows(frame: pd.DataFrame, keep_lost: bool = False) -> pd.DataFrame:
    """Each order's first row that holds the order's fields (the first row, unless that
    line could not be read or the file was sorted); an order whose fields were on a lost
    line is left out (the reject of that line says so) unless ``keep_lost``; one with no
    such row keeps its first row (and is rejected for what it lacks)."""
    name = _col(frame, "Name")
    first = _first_of(frame, name)
    lacking = set(_col(first, "Name")[~_carries_order(first).to_numpy()].dropna())
    lost = set() if keep_lost else set(_lost_first_rows(frame))
    if not lacking and not lost:
        return first  # the usual file: each order's first row holds its fields
    rows = frame[name.isin(lacking).to_numpy()]
    carrier = rows[_carries_order(rows).to_numpy()]
    carrier = carrier[~_col(carrier, "Name").duplicated().to_numpy()]
    replaced = set(_col(carrier, "Name")) | lost
    first = first[~_col(first, "Name").isin(replaced).to_numpy()]
    return pd.concat([first, carrier]).sort_index(kind="stable")


def _shopify_orders(frame: pd.DataFrame) -> pd.DataFrame:
    first = _order_rows(frame)
    cancelled = _filled(_col(first, "Cancelled at"))
    status = _col(first, "Financial Status").where(~cancelled, "cancelled")
    lines = [c for c in first.columns if normalise(c).startswith("lineitem ")]
    return _with(first.drop(columns=lines), contact_id=_email_key(_col(first, "Email")),
                 status=status)  # fmt: skip


def _order_discount_shares(frame: pd.DataFrame) -> pd.Series:
    """Each line's share of its price taken off by discounts on the whole order, as paid.

    A code off the whole cart (SAVE20) is written only in the order's Discount Amount:
    each line's `Lineitem discount` holds the discounts on that line alone (Shopify's API
    keeps order-level discounts apart from a line's own: its FulfillmentLineItem
    discounted total "doesn't include order-level discounts"). The order's Subtotal is its
    lines after every discount, shipping apart (the fixture's orders: lines less their own
    discounts equal the Subtotal when no code was used), so lines less their own discounts
    less the Subtotal is what the order's discounts took off the goods, shared over the
    lines by their value (a free-shipping code takes nothing off them). Without this, a
    20%-off week read as sold at the list price. NaN where the order took nothing more.
    """
    name = _col(frame, "Name").map(lambda v: str(v).strip() if _text(v) else None)
    carriers = _order_rows(frame)
    subtotal = pd.Series(
        _number(_col(carriers, "Subtotal")).to_numpy(),
        index=_col(carriers, "Name").map(lambda v: str(v).strip() if _text(v) else None),
    )
    subtotal = subtotal[subtotal.index.notna() & ~subtotal.index.duplicated()]
    gross = _number(_col(frame, "Lineitem quantity")) * _number(_col(frame, "Lineitem price"))
    own = _number(_col(frame, "Lineitem discount")).abs().fillna(0.0)
    net = (gross - own).where(gross >= 0)  # a free line (0.00) is part of the order: net 0
    lines = pd.DataFrame({"name": name, "net": net})
    # NaN for an order with a line of unknown value; summed by pandas at once (a Python
    # call per order took 20 s of every load of a 150,000-order export, this 0.2 s)
    by_order = lines.groupby("name")["net"]
    total = by_order.sum().where(by_order.count() == by_order.size())
    taken = (total - subtotal.reindex(total.index)).where(lambda v: v > 0.005)  # a cent
    share_of_order = (taken / total).where(lambda v: v <= 1 + 1e-9).clip(upper=1.0)  # 100%: free
    part = name.map(share_of_order).astype("float64")
    return ((own + part * net) / gross).where(part.notna()).round(6)


def _shopify_lines(frame: pd.DataFrame) -> pd.DataFrame:
    order = _col(frame, "Name")
    sku = _col(frame, "Lineitem sku")
    keep = [c for c in frame.columns if normalise(c).startswith("lineitem ") or c == SOURCE_ROW]
    quantity, price = _col(frame, "Lineitem quantity"), _col(frame, "Lineitem price")
    discount = _share(_col(frame, "Lineitem discount"), quantity, price)
    whole = _order_discount_shares(frame)
    discount = discount.where(whole.isna(), whole.astype(object))
    key = sku.where(_filled(sku), _col(frame, "Lineitem name"))
    was, said = _compare_at_sales(frame, key)
    sale = was.notna() & discount.map(lambda v: v is None or isinstance(v, float)).astype(bool)
    paid = _number(price) * (1 - discount.where(sale).astype("float64").fillna(0.0))
    # the compare-at price is the list price and the sale a promotion, as a code would be
    discount = discount.where(~sale, (1 - paid / was).round(6).astype(object))
    out = _with(frame[[*keep, "Name"]], line_no=_line_numbers(order, frame, _lost_first_rows(frame)),
                product_id=key, discount=discount)  # fmt: skip
    if sale.any():
        written = _col(frame, "Lineitem compare at price")  # as written: text beside text
        out[_layout_name(frame, "Lineitem price")] = price.where(~sale, written).to_numpy()
    out.attrs[SAID] = said
    return out


# A compare-at price on most of a product's weeks is its "was" price, not a sale.
COMPARE_AT_SALE_SHARE = 0.5


def _compare_at_sales(frame: pd.DataFrame, key: pd.Series) -> tuple[pd.Series, list[Any]]:
    """Each line's compare-at price where the line was sold below it on a sale (NaN on the
    others), and a data check saying how many lines were read so.

    Shopify's usual way to put an item on sale is to lower its price and keep the old one
    as `Lineitem compare at price`. Read as the price, a Black Friday at 20% off with twice
    the buyers looked like buyers rushing to a lasting cut: every product was told to cut
    10% with high confidence (find57_pricing item 1). A compare-at kept on most of a
    product's weeks is a "was" price the shop always shows: its price is the line price.
    """
    compare = _number(_col(frame, "Lineitem compare at price"))
    price = _number(_col(frame, "Lineitem price"))
    below = (compare > price + 0.005) & price.gt(0)
    if not below.any():
        return compare.where(below), []
    when = pd.to_datetime(_line_created(frame), utc=True)
    week = when.dt.tz_convert(None).dt.to_period("W").astype(str).where(when.notna())
    weeks = pd.DataFrame({"key": _stripped(key), "week": week, "below": below})
    weeks = weeks.dropna(subset=["key", "week"]).groupby(["key", "week"])["below"].any()
    share = weeks.groupby(level="key").mean()
    lasting = _stripped(key).map(share).gt(COMPARE_AT_SALE_SHARE).to_numpy()
    sale = below & ~lasting
    said = []
    if sale.any():
        n, products = int(sale.sum()), int(_stripped(key)[sale].nunique())
        said.append(("compare_at_sale", n, (
            f"{n:,} order line{'' if n == 1 else 's'} of {products:,} "
            f"product{'' if products == 1 else 's'} sold below their Lineitem compare at price "
            "are read as on sale: the compare-at price is the list price and the cut a "
            "promotion, as a discount code is")))  # fmt: skip
    if (below & lasting).any():
        n = int((below & lasting).sum())
        named = ", ".join(sorted(_stripped(key)[below & lasting].dropna().unique())[:3])
        said.append(("compare_at_kept", n, (
            f"{n:,} order line{'' if n == 1 else 's'} ({named}) carry a Lineitem compare at "
            f"price on more than {COMPARE_AT_SALE_SHARE:.0%} of their product's weeks: read "
            "as a 'was' price the shop always shows, so the line price is the price")))  # fmt: skip
    return compare.where(sale), said


def _layout_name(frame: pd.DataFrame, header: str) -> str:
    """The frame's own spelling of ``header`` (compared normalised), else ``header``."""
    return next((c for c in frame.columns if normalise(c) == normalise(header)), header)


def _line_created(frame: pd.DataFrame) -> pd.Series:
    """When each line row's order was created (Shopify writes it on the order's first row
    only; NaT when no row of the order says)."""
    carriers = _order_rows(frame, keep_lost=True)
    stamps = pd.to_datetime(_col(carriers, "Created at"), errors="coerce", utc=True, format="mixed")
    created = pd.Series(stamps.to_numpy(), index=_stripped(_col(carriers, "Name")).to_numpy())
    created = created[created.index.notna() & ~created.index.duplicated()]
    return _stripped(_col(frame, "Name")).map(created)


def _shopify_line_products(frame: pd.DataFrame) -> pd.DataFrame:
    """One product per line key (the SKU, else the line's name, as `_shopify_lines` keys
    them), named as its newest order's line names it ("Tea item 097 - Size 3"). Without
    Shopify's products export beside it, every tab named products by SKU alone ("Often
    bought with SKU-109-02"); with it, that file gives the products (it ranks first)."""
    sku = _col(frame, "Lineitem sku")
    key = _stripped(sku.where(_filled(sku), _col(frame, "Lineitem name")))
    named = _stripped(_col(frame, "Lineitem name"))
    when = _line_created(frame)
    newest = when.sort_values(ascending=False, kind="stable", na_position="last").index
    keys = key[newest]
    first = keys.notna().to_numpy() & ~keys.duplicated().to_numpy()
    chosen = frame.loc[newest][first]
    where = [c for c in (SOURCE_ROW, FILE) if c in chosen.columns]  # for a reject's row
    out = _with(chosen[where], product_id=keys[first], name=named[newest][first])
    return out.sort_index(kind="stable")  # in file order


def _shopify_buyers(frame: pd.DataFrame) -> pd.DataFrame:
    # A buyer whose order lost its first row is still a buyer (every row has the e-mail);
    # with the "Accepts Marketing" of that row lost, consent is unknown: an opt-out.
    # A buyer's first order gives the other columns; consent is no if any order says no
    # (whichever way the file is sorted: consent fails closed).
    orders = _order_rows(frame, keep_lost=True)
    email = _email_key(_col(orders, "Email"))
    buyers = orders[_filled(email).to_numpy() & ~email.duplicated().to_numpy()]
    first, last = _split_name(_col(buyers, "Billing Name"))
    keep = [c for c in buyers.columns if normalise(c).startswith("billing ") or c in (SOURCE_ROW,)]
    keep += [c for c in buyers.columns if normalise(c) in {"email", "accepts marketing", "phone"}]
    buyers = buyers[keep].copy()
    for column in [c for c in keep if normalise(c) == "accepts marketing"]:
        said = orders[column].map(lambda v, c=column: says_no(v, c)).to_numpy(dtype=bool)
        no = pd.Series(orders[column].to_numpy()[said], index=email.to_numpy()[said])
        no = no[~no.index.duplicated()]  # the first order that says no, per buyer
        mine = _email_key(_col(buyers, "Email")).map(no)
        buyers[column] = buyers[column].where(mine.isna(), mine)
    return _with(buyers, contact_id=_email_key(_col(buyers, "Email")), first_name=first,
                 last_name=last)  # fmt: skip


# A Shopify orders export's buyer columns (Squarespace's export writes the same).
_SHOPIFY_BUYER_COLUMNS = _map(
    "Email -> email",
    "Billing Company -> company",
    "Billing Country -> country",
    "Accepts Marketing -> marketing_consent",
)


SHOPIFY_ORDERS = Layout(
    name="Shopify orders export",
    signature=("Name", "Email", "Financial Status", "Lineitem quantity", "Lineitem name"),
    tables={
        "orders": LayoutTable(
            _map(
                "Name -> order_id",
                "Created at -> ordered_at",
                "Total -> total",
                "Currency -> currency",
                "Refunded Amount -> refunded",
            ),
            _shopify_orders,
        ),
        "order_lines": LayoutTable(
            _map(
                "Name -> order_id",
                "Lineitem quantity -> quantity",
                "Lineitem price -> unit_price",
            ),
            _shopify_lines,
        ),
        "contacts": LayoutTable(
            dict(_SHOPIFY_BUYER_COLUMNS),
            _shopify_buyers,
        ),
        # last: a products export or a file named for products gives them first
        "products": LayoutTable({}, _shopify_line_products),
    },
    unread=_shopify_unread,
)


def _shopify_customers(frame: pd.DataFrame) -> pd.DataFrame:
    consent = _col(frame, "Accepts Email Marketing")
    if not _filled(consent).any():
        consent = _col(frame, "Accepts Marketing")
    # Keyed by e-mail as the orders export is (it has no customer id), else by the id; the
    # older export has no "Customer ID": a customer without e-mail is keyed by the row.
    ids = _col(frame, "Customer ID").map(lambda v: str(v).strip().lstrip("'") if _text(v) else None)
    email = _email_key(_col(frame, "Email"))
    key = email.where(_filled(email), ids)
    # Its Total Orders / Total Spent count what the person bought at the shop, also what
    # an orders export filtered by date leaves out: such a person is a customer, never an
    # open lead (as WooCommerce's customers report, `_bought`).
    bought = _bought(frame, "Total Orders", "Total Spent")
    out = _with(frame, contact_id=key.where(_filled(key), _row_keys(frame)),
                marketing_consent=consent,
                lifecycle_stage=bought.map({True: _BOUGHT, False: None}))  # fmt: skip
    out.attrs[DERIVED] = {"lifecycle_stage": (_SHOPIFY_BOUGHT, int(bought.sum()))}
    return out


_SHOPIFY_BOUGHT = (
    "'customer' where the customers export's Total Spent (else its Total Orders) says the "
    "person bought (their orders date it where the orders export names them)"
)


SHOPIFY_CUSTOMERS = Layout(
    name="Shopify customers export",
    signature=("First Name", "Last Name", "Email", "Total Spent", "Total Orders"),
    tables={
        "contacts": LayoutTable(
            _map(
                "First Name -> first_name",
                "Last Name -> last_name",
                "Email -> email",
                "Company -> company",
                "Default Address Company -> company",
                "Country Code -> country",
                "Default Address Country Code -> country",
                "Total Orders -> orders_count",
            ),
            _shopify_customers,
        )
    },
)


# -- Shopify products export (Products > Export) --------------------------------------
# Checked against Shopify's help page on product CSV files ("Using CSV files to import and
# export products", help.shopify.com/en/manual/products/import-export/using-csv, found with
# the search tools): one row per variant, a product's own fields (Title, Vendor, Type,
# Tags, Published, Status) on its first row only, each further image on a row of its own
# holding the handle and the image's columns. Two generations of headers: "Handle, Title,
# Body (HTML), ..., Option1 Name, Option1 Value, ..., Variant SKU, ..., Variant Price,
# Variant Compare At Price, ..., Image Src, ..., Cost per item, ..., Status" (find_string
# "Handle,Title,Body (HTML),Vendor,Product Category") and the newer "Title, URL handle,
# Description, ..., Status, SKU, ..., Option1 name, Option1 value, ..., Price, Compare-at
# price, Cost per item, ..., Product image URL, ..." (find_string "Title,URL handle,
# Description,Vendor"). An order line's name is the product's title, " - " and the
# variant's option values joined by " / " ("Organic Tee - M / Blue"), the title alone for
# a product's single "Default Title" variant (Shopify's line_item.name, community.shopify.com
# answers quoting it): the orders export keys a line without SKU by that name
# (``_shopify_lines``), and a variant without SKU here is keyed the same way. "Gift Card"
# ("Gift card" in the newer header: TRUE or FALSE, on the product's first row) says the
# product is one of Shopify's gift cards, whatever its title's language
# (``recommend.not_a_next_product``).
_PRODUCT_FIELDS = ("Title", "Type", "Product Category", "Vendor", "Status", "Published",
                   "Published on online store", "Gift Card")  # fmt: skip
_VARIANT_FIELDS = ("Variant SKU", "SKU", "Variant Price", "Price", "Cost per item",
                   "Option1 Value", "Option2 Value", "Option3 Value")  # fmt: skip
_IMAGE_FIELDS = ("Image Src", "Product image URL")
_NO_OPTION = "default title"  # the option value of a product that has no options


def _stripped(series: pd.Series) -> pd.Series:
    return series.map(lambda v: str(v).strip() if _text(v) else None)


def _any_filled(frame: pd.DataFrame, headers: tuple[str, ...]) -> pd.Series:
    present = {normalise(c) for c in frame.columns}
    out = pd.Series(False, index=frame.index)
    for header in (h for h in headers if normalise(h) in present):
        out |= _filled(_col(frame, header))
    return out


def _shopify_handles(frame: pd.DataFrame) -> pd.Series:
    return _stripped(_either(frame, "Handle", "URL handle"))


def _shopify_image_rows(frame: pd.DataFrame) -> tuple[pd.DataFrame, Skips]:
    """Rows of a product that hold no variant: its further images (not products)."""
    variant = _any_filled(frame, _VARIANT_FIELDS) | _filled(_col(frame, "Title"))
    image = _any_filled(frame, _IMAGE_FIELDS)
    handle = _shopify_handles(frame)
    skips = {
        int(at): (
            f"an image of product {handle.iloc[at]!r} (Shopify writes each further image on "
            "a row of its own): no variant, so no product"
            if image.iloc[at]
            else f"a row of product {handle.iloc[at]!r} with no variant and no title"
        )
        for at in np.flatnonzero(~variant.to_numpy(dtype=bool))
    }
    return frame, skips


def _shopify_products(frame: pd.DataFrame) -> pd.DataFrame:
    """One product per variant: its SKU, else its name as the orders export writes it."""
    handle = _shopify_handles(frame)
    product = handle.where(handle.notna(), _row_keys(frame)).to_numpy()  # no handle: alone
    out = frame.copy()
    for header in _PRODUCT_FIELDS:  # the product's first row gives its variants' rows
        column = next((c for c in frame.columns if normalise(c) == normalise(header)), None)
        if column is not None:
            own = _stripped(frame[column])
            out[column] = own.where(own.notna(), own.groupby(product).transform("first"))
    title = _stripped(_col(out, "Title"))
    options = [_stripped(_col(frame, f"Option{n} Value")) for n in (1, 2, 3)]
    variant = pd.Series(
        [" / ".join(v for v in values if v and normalise(v) != _NO_OPTION)
         for values in zip(*options, strict=True)],
        index=frame.index,
    )  # fmt: skip
    name = pd.Series(
        [f"{t} - {v}" if t and v else t for t, v in zip(title, variant, strict=True)],
        index=frame.index,
        dtype=object,
    )
    sku = _stripped(_either(frame, "Variant SKU", "SKU"))
    kind = _stripped(_col(out, "Type"))
    taxonomy = _stripped(_col(out, "Product Category")).map(
        lambda v: v.split(">")[-1].strip() or None if v else None
    )
    # archived or draft: not for sale now (an archived mug was 15 customers' first
    # suggestion); a blank status says nothing
    status = _stripped(_col(out, "Status")).map(lambda v: normalise(v) if v else None)
    on_sale = status.map(lambda v: None if v is None else ("yes" if v == "active" else "no"))
    return _with(out, product_id=sku.where(sku.notna(), name), name=name,
                 category=kind.where(kind.notna(), taxonomy), on_sale=on_sale,
                 variant_of=handle.where(handle.notna(), None),
                 variant=variant.where(variant.ne(""), None),
                 in_stock=_shopify_in_stock(frame))  # fmt: skip


_DENY = {"deny", "false", "no", "0"}  # "Continue selling when out of stock": DENY or FALSE
_UNTRACKED = {normalise(v) for v in ("not managed", "not_managed", "not tracked", "false", "no")}


def _shopify_in_stock(frame: pd.DataFrame) -> pd.Series:
    """ "no" for a variant Shopify will not sell: its stock tracked, at 0 or less, and its
    inventory policy "deny" (the newer header's "Continue selling when out of stock" DENY
    or FALSE); "yes" otherwise where the stock is read, blank where the export has none.

    Shopify's ProductVariantInventoryPolicy (shopify.dev, found with the search tools):
    DENY, "customers can't buy this product variant after it's out of stock"; CONTINUE,
    they can. The columns and tracker values ("shopify" tracked; blank, "not managed" or
    "not tracked" not) as CSV apps' help pages describe the export (Hextom, Matrixify); the
    newer header's names as others' code writes it (find_string "Continue selling when out
    of stock"). A count alone is not read: with "continue", or untracked, a variant at 0
    still sells. An out-of-stock cap was suggested to 70 of 300 (find56_marketer item 4).
    """
    stock = pd.to_numeric(_either(frame, "Variant Inventory Qty", "Inventory quantity"),
                          errors="coerce")  # fmt: skip
    policy = _stripped(
        _either(frame, "Variant Inventory Policy", "Continue selling when out of stock")
    ).map(lambda v: normalise(v) if v else None)
    present = {normalise(c) for c in frame.columns}
    tracker = _stripped(_either(frame, "Variant Inventory Tracker", "Inventory tracker"))
    tracked = (
        tracker.map(lambda v: bool(v) and normalise(v) not in _UNTRACKED).astype(bool)
        if present & {normalise("Variant Inventory Tracker"), normalise("Inventory tracker")}
        else pd.Series(True, index=frame.index)
    )
    out = (stock.le(0) & policy.isin(_DENY) & tracked).to_numpy(dtype=bool)
    read = (stock.notna() & policy.notna()).to_numpy(dtype=bool)
    said = [("no" if o else "yes") if r or o else None for o, r in zip(out, read, strict=True)]
    return pd.Series(said, index=frame.index, dtype=object)


SHOPIFY_PRODUCTS = Layout(
    name="Shopify products export",
    signature=("Title", "Option1 Value", "Cost per item"),
    check=lambda head: (
        _has_any("Handle", "URL handle")(head) and _has_any("Variant Price", "Price")(head)
    ),
    tables={
        "products": LayoutTable(
            _map(
                "Variant Price -> price",
                "Price -> price",
                "Cost per item -> unit_cost",
                "Gift Card -> gift_card",
            ),
            _shopify_products,
        )
    },
    prepare=_shopify_image_rows,
)


# -- HubSpot (the CRM's "Export" of a view: property labels as headers) ---------------
# Not checked against HubSpot documentation (none found in the search tools). Headers are
# the properties' labels ("Record ID", "Marketing contact status", "Contact owner", "Deal
# Stage", "Associated Contact IDs"), as seen in others' code reading real exports
# (find_string '"Record ID","First Name","Last Name"', one reading a file named
# hubspot-crm-exports-all-contacts-2023-02-21.csv). An export holds the columns of the
# exported view, so only the record id and one or two labels are required.
def _hubspot_contacts(frame: pd.DataFrame) -> pd.DataFrame:
    # The same reading as the API's (consent.hubspot_consent): an opt-out value it cannot
    # read ("N/A", "maybe") is passed on, so it counts as an opt-out and is listed.
    optout = _col(frame, "Unsubscribed from all email")
    if not optout.map(_written).any():
        optout = _col(frame, "Opted out of all email")
    status = _col(frame, "Marketing contact status")
    basis = _col(frame, "Legal basis for processing contact's data")
    read: dict[tuple[Any, ...], str | None] = {}  # once per distinct combination
    consent = []
    for cells in zip(optout, status, basis, strict=True):
        key = tuple(None if pd.isna(c) else c for c in cells)
        if key not in read:
            read[key] = hubspot_consent(*key)
        consent.append(read[key])
    if all(c is None for c in consent):
        return frame
    return _with(frame, marketing_consent=pd.Series(consent, index=frame.index, dtype=object))


def _written(value: Any) -> bool:
    """Whether a cell holds anything, "N/A" included (``_text`` takes that for empty)."""
    return not pd.isna(value) and bool(str(value).strip())


# A deal's stage is a label each portal may rename ("Won", "Lost - price"), so closed and
# won are read per deal from the first of: HubSpot's own flags when the export has them
# ("Is Deal Closed?", "Is Closed Won", "Is closed lost"); the stage's words with its "Deal
# probability" (HubSpot makes a 100% stage closed won and a 0% stage closed lost; they
# must agree when both are there); then, for a stage with neither, one of HubSpot's
# default open stages, a pipeline whose other stages name won and lost (so this one is
# open), or a close date ahead of the export (HubSpot sets it when a deal closes). A deal
# none of these settles is left empty and listed, not called open in silence.
_WON = re.compile(r"\b(won|gewonnen|gagn[ée]e?|ganad[oa]|vint[oa]|ganh[oa])\b(?!['’]t)")
_LOST = re.compile(r"\b(lost|verloren|perdue?|perdid[oa]|pers[oa])\b")
_DEFAULT_OPEN = {"appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
                 "decisionmakerboughtin", "contractsent"}  # fmt: skip
_DEAL_FLAGS = ("Is Deal Closed?", "Is Closed Won", "Is closed lost")
Deal = tuple[bool | None, bool | None]  # closed, won


def _stage_says(label: str) -> str | None:
    """'won', 'lost', 'both' or None, from the words of a stage label."""
    text = label.lower()
    compact = re.sub(r"[^a-z]", "", text)
    if compact in {"closedwon", "closedlost"}:  # HubSpot's internal stage ids
        return compact[6:]
    won, lost = _WON.search(text) is not None, _LOST.search(text) is not None
    return "both" if won and lost else "won" if won else "lost" if lost else None


def _flag(value: Any) -> bool | None:
    try:
        return coerce.parse_bool(value) if _text(value) else None
    except ValueError:
        return None


def _by_flags(closed: bool | None, won: bool | None, lost: bool | None) -> Deal:
    if won or lost:
        return True, bool(won)
    if closed is False or (won is False and lost is False):
        return False, False
    return closed, won  # closed with no won or lost said, or nothing said


def _by_stage(
    says: str | None, chance: float, chance_header: str = "Deal probability"
) -> tuple[Deal, str | None]:
    """The deal from its stage words and probability, or why they do not settle it."""
    by_chance = (
        None if pd.isna(chance) else "won" if chance >= 1 else "lost" if chance <= 0 else "open"
    )
    if says == "both":
        return (None, None), "names both won and lost"
    if says and by_chance and by_chance != says:
        return (None, None), f"says {says} but its {chance_header} {chance:g} says {by_chance}"
    reading = says or by_chance
    if reading is None:
        return (None, None), None
    return (reading != "open", reading == "won"), None


def _chances(values: pd.Series) -> pd.Series:
    """Probabilities as shares: a column with any value above 1 is written in percent."""
    chance = _number(values)
    return chance / 100 if (chance > 1).any() else chance


def _worded(says: pd.Series, pipeline: pd.Series) -> set[str]:
    """Pipelines some of whose stages say won and others lost: their other stages are open."""
    return {p for p, g in says.groupby(pipeline.to_numpy()) if {"won", "lost"} <= set(g.dropna())}


def _hubspot_deals(frame: pd.DataFrame) -> pd.DataFrame:
    labels = _col(frame, "Deal Stage").map(lambda v: str(v).strip() if _text(v) else "")
    says = labels.map(lambda v: _stage_says(v) if v else None)
    chance = _chances(_col(frame, "Deal probability"))
    flags = [_col(frame, h).map(_flag) for h in _DEAL_FLAGS]
    deals: list[Deal] = []
    why: list[str | None] = []
    for position, flagged in enumerate(zip(*flags, strict=True)):
        is_closed, is_won = _by_flags(*flagged)
        reason = None
        if is_won is None:  # the flags, if any, say closed at most
            (by_closed, by_won), reason = _by_stage(says.iloc[position], chance.iloc[position])
            if is_closed is None:
                is_closed, is_won = by_closed, by_won
            elif by_closed:  # closed by its flag: the stage can still say won or lost
                is_won = by_won
        deals.append((is_closed, is_won))
        why.append(reason)
    closed = pd.Series([d[0] for d in deals], index=frame.index, dtype=object)
    won = pd.Series([d[1] for d in deals], index=frame.index, dtype=object)
    closed, won, notes = _undecided_deals(frame, labels, closed, won, why)
    close = _col(frame, "Close Date")
    ids = _col(frame, "Associated Contact IDs")
    contact = ids.map(lambda v: str(v).split(";")[0].strip() if _text(v) else None)
    out = _with(frame, is_won=won.map(_yes_no), is_closed=closed.map(_yes_no),
                closed_at=close.where(closed.eq(True), None), contact_id=contact)  # fmt: skip
    out.attrs[CLEARED] = notes
    return out


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else "yes" if value else "no"


def _undecided_deals(
    frame: pd.DataFrame,
    labels: pd.Series,
    closed: pd.Series,
    won: pd.Series,
    why: list[str | None],
) -> tuple[pd.Series, pd.Series, list[dict[str, Any]]]:
    """Deals whose flags, stage words and probability did not settle them: open when the
    stage is a default open one, its pipeline names won and lost elsewhere, or its close
    date is ahead of the export; else left empty with a line saying why."""
    pipeline = _col(frame, "Pipeline").map(lambda v: str(v).strip() if _text(v) else "")
    worded = _worded(labels.map(lambda v: _stage_says(v) if v else None), pipeline)
    close = coerce.coerce_datetime(_col(frame, "Close Date"))[0]
    seen = [
        coerce.coerce_datetime(_col(frame, h))[0] for h in ("Create Date", "Last Modified Date")
    ]
    seen.append(close.where(closed.eq(True).to_numpy()))
    export = pd.concat(seen).max()  # the newest moment the file shows: it was exported after
    deal_ids = _col(frame, "Record ID")
    notes: list[dict[str, Any]] = []
    for position in np.flatnonzero((closed.eq(True) & won.isna()).to_numpy()):
        notes.append(
            {
                "source_row": int(frame[SOURCE_ROW].iloc[position]),
                "column": "is_won",
                "value": labels.iloc[position],
                "reason": f"deal {deal_ids.iloc[position]} is closed but neither Is Closed Won "
                f"nor its Deal Stage {labels.iloc[position]!r} says whether it was won: left "
                "empty (taken as lost); add the Is Closed Won column to the export to settle it",
            }
        )
    for position in np.flatnonzero(closed.isna().to_numpy()):
        label, reason = labels.iloc[position], why[position]
        if reason is None:
            ahead = (
                pd.notna(close.iloc[position])
                and pd.notna(export)
                and close.iloc[position] > export
            )
            if (
                re.sub(r"[^a-z]", "", label.lower()) in _DEFAULT_OPEN
                or ahead
                or (label and pipeline.iloc[position] in worded)
            ):
                closed.iloc[position], won.iloc[position] = False, False
                continue
            reason = (
                "says neither won nor lost, its close date is not ahead of the export and "
                "no Deal probability or Is Deal Closed? value says more"
                if label
                else "is empty and no Deal probability or Is Deal Closed? value says more"
            )
        notes.append(
            {
                "source_row": int(frame[SOURCE_ROW].iloc[position]),
                "column": "is_closed",
                "value": label,
                "reason": f"deal {deal_ids.iloc[position]}: its Deal Stage {label!r} {reason}, "
                "so whether it is open or closed cannot be told: left empty (deal win chances "
                "take it as open); add the Deal probability column to the export to settle it",
            }
        )
    return closed, won, notes


# Any deals table once its headers are mapped (a hand-kept list, a Salesforce opportunity
# report, Pipedrive's export): HubSpot's rule above, read from the columns other CRMs
# write. Per deal, the first of: its own yes/no is_closed and is_won; a status of open /
# won / lost (Pipedrive's "Deal - Status"); its stage's words ("Closed Won", "Lost") with
# its probability (Salesforce's "Probability (%)": 100 is won, 0 lost; they must agree);
# then a stage its pipeline's other stages show to be open (some say won, others lost).
# A closed deal's closed_at is its "Won time" or "Lost time" where the file has them.
_STATUS_HEADERS = {
    normalise(h)
    for h in (
        "status",
        "deal status",
        "opportunity status",
        "outcome",
        "deal outcome",
        "result",
        "won lost",
    )
}
_CHANCE_HEADERS = {
    normalise(h)
    for h in (
        "probability",
        "probability (%)",
        "deal probability",
        "win probability",
        "opportunity probability",
    )
}
_WON_TIMES = {
    normalise(h) for h in ("won time", "deal won time", "won date", "date won", "won on", "won at")
}
_LOST_TIMES = {
    normalise(h)
    for h in ("lost time", "deal lost time", "lost date", "date lost", "lost on", "lost at")
}
_OPEN = re.compile(r"open|in progress|offen|ouvert|abiert[oa]|abert[oa]|apert[oa]")
# Words of a header that may say whether a deal is closed: named when nothing does.
_OUTCOME_WORDS = {"status", "state", "closed", "won", "lost", "result", "outcome", "probability"}  # fmt: skip


def _status_says(label: Any) -> str | None:
    """'won', 'lost', 'open', 'both' or None, from a status or stage ("Open", "Closed Won")."""
    if not _text(label):
        return None
    text = str(label).strip()
    return "open" if _OPEN.fullmatch(text.lower()) else _stage_says(text)


def _extra_header(frame: pd.DataFrame, names: set[str]) -> str | None:
    """The first header of ``frame`` that no canonical column holds and ``names`` has."""
    canonical = set(TABLES["deals"].names) | {SOURCE_ROW}
    return next(
        (str(h) for h in frame.columns if h not in canonical and normalise(h) in names), None
    )


@dataclass(frozen=True)
class _Said:
    """What a deals table writes of each deal's outcome, by header (None: not there)."""

    status: str | None
    chance: str | None
    stage: str | None  # the source header of ``stage``

    def how(self, frame: pd.DataFrame) -> str:
        """Where is_closed and is_won were read from, for the column note."""
        parts = [f"{self.status!r} (open, won or lost)"] if self.status else []
        if self.stage and frame["stage"].map(_status_says).notna().any():
            parts.append(f"the words of {self.stage!r} (Won, Lost)")
        if self.chance:
            parts.append(f"{self.chance!r} (100% is won, 0% lost)")
        return "whether each is open, won or lost is read from " + (
            " and ".join(parts) or "the stages of its pipeline"
        )


def deal_outcomes(
    frame: pd.DataFrame, mapping: HeaderMapping
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """``frame`` (deals, headers mapped) with is_closed, is_won and closed_at read from the
    status, stage and probability it writes where its own values leave them empty, and the
    values it could not read (a stage that names both won and lost, words and probability
    that disagree). Sets ``mapping.derived`` for the columns the file lacks, so the run
    says where they came from."""
    if frame.empty or ("is_closed" in mapping.made and "is_closed" not in mapping.derived):
        return frame, []  # read by its layout (HubSpot's, above)
    given = {c: h for h, c in mapping.columns.items()}
    said = _Said(_extra_header(frame, _STATUS_HEADERS), _extra_header(frame, _CHANCE_HEADERS),
                 given.get("stage"))  # fmt: skip
    status = _col(frame, said.status) if said.status else pd.Series(None, index=frame.index)
    stage = frame["stage"] if "stage" in frame else pd.Series(None, index=frame.index)
    says = status.map(_status_says).where(lambda v: v.notna(), stage.map(_status_says))
    chance = (
        _chances(_col(frame, said.chance)) if said.chance else _number(status.map(lambda _: None))
    )
    # A status column mapped to is_closed ("won", "lost", "open") is read as a status.
    worded = _own(frame, "is_closed").map(
        lambda v: None if _flag(v) is not None else _status_says(v)
    )
    says = worded.where(worded.isin(["won", "lost", "open"]), says)
    closed = _own(frame, "is_closed").map(_flag)
    won = _own(frame, "is_won").map(_flag)
    out_closed, out_won, notes = [], [], []
    for position, (flag_closed, flag_won) in enumerate(zip(closed, won, strict=True)):
        is_closed, is_won = _by_flags(flag_closed, flag_won, None)
        if is_closed is None or (is_closed and is_won is None):
            (by_closed, by_won), reason = _by_stage(
                says.iloc[position], chance.iloc[position], said.chance or "probability"
            )
            if reason is not None:
                notes.append(_unsettled(frame, position, said, reason))
            if is_closed is None:
                is_closed, is_won = by_closed, by_won if is_won is None else is_won
            elif by_closed:
                is_won = by_won
        out_closed.append(is_closed)
        out_won.append(is_won)
    is_closed = pd.Series(out_closed, index=frame.index, dtype=object)
    is_won = pd.Series(out_won, index=frame.index, dtype=object)
    pipeline = frame["pipeline"] if "pipeline" in frame else pd.Series("", index=frame.index)
    worded = _worded(stage.map(_stage_says), pipeline.fillna("").astype(str))
    # A stage that says neither, in a pipeline whose other stages say won and lost: open
    # (not a deal whose words and probability disagree: that one is listed).
    silent = stage.map(_text) & stage.map(_stage_says).isna() & status.map(_status_says).isna()
    opened = is_closed.isna() & silent & pipeline.fillna("").astype(str).isin(worded)
    is_closed[opened], is_won[opened] = False, False
    return _outcome_columns(frame, mapping, said, is_closed, is_won), notes


def _outcome_columns(
    frame: pd.DataFrame, mapping: HeaderMapping, said: _Said, closed: pd.Series, won: pd.Series
) -> pd.DataFrame:
    """``frame`` with the outcomes read, a closed deal's won or lost time as its closed_at,
    and each column the file lacked said in ``mapping.derived``."""
    # The file's own values stay where it wrote any: one it wrote that cannot be read is
    # listed when the table is validated, not replaced.
    own = {c: _own(frame, c) for c in ("is_closed", "is_won")}
    kept = {
        c: v.map(_text) & ~v.map(_status_says).isin(["won", "lost", "open"]) for c, v in own.items()
    }
    out = frame.assign(
        is_closed=own["is_closed"].where(kept["is_closed"], closed.map(_yes_no)),
        is_won=own["is_won"].where(kept["is_won"], won.map(_yes_no)),
    )
    for column in ("is_closed", "is_won"):  # said once when the file has neither
        if column not in mapping.columns.values() and (
            column == "is_closed" or "is_closed" in mapping.columns.values()
        ):
            _derive(mapping, column, said.how(frame), int(out[column].notna().sum()))
    won_time, lost_time = _extra_header(frame, _WON_TIMES), _extra_header(frame, _LOST_TIMES)
    at = frame["closed_at"] if "closed_at" in frame else pd.Series(None, index=frame.index)
    empty = ~at.map(_text).astype(bool) & closed.eq(True)
    taken = pd.Series(None, index=frame.index, dtype=object)
    if won_time:
        taken = taken.where(~(empty & won.eq(True)), _col(frame, won_time))
    if lost_time:
        taken = taken.where(~(empty & won.eq(False)), _col(frame, lost_time))
    filled = taken.map(_text).astype(bool)
    if filled.any():
        out["closed_at"] = at.where(~filled, taken)
        if "closed_at" not in mapping.columns.values():
            times = " or ".join(repr(h) for h in (won_time, lost_time) if h)
            _derive(mapping, "closed_at", f"a closed deal's {times}", int(filled.sum()))
    return out


def _own(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column] if column in frame else pd.Series(None, index=frame.index, dtype=object)


def _derive(mapping: HeaderMapping, column: str, how: str, rows: int) -> None:
    """Say ``column`` was worked out on ``rows`` more rows (a large file comes in pages)."""
    if rows:
        mapping.derived[column] = (how, mapping.derived.get(column, (how, 0))[1] + rows)
        mapping.made += [] if column in mapping.made else [column]


def _unsettled(frame: pd.DataFrame, position: int, said: _Said, reason: str) -> dict[str, Any]:
    """The cleared-value line of a deal whose status, stage and probability disagree."""
    header = said.status if said.status and _text(_col(frame, said.status).iloc[position]) else None
    value = _col(frame, header).iloc[position] if header else frame["stage"].iloc[position]
    deal = frame["deal_id"].iloc[position] if "deal_id" in frame else ""
    row = frame[SOURCE_ROW].iloc[position] if SOURCE_ROW in frame else position + 1
    return {
        "source_row": int(row),
        "column": "is_closed",
        "value": str(value),
        "reason": f"deal {deal}: its {header or said.stage or 'stage'} {str(value)!r} {reason}, "
        "so whether it is open or closed cannot be told: left empty (deal win chances take it "
        "as open)",
    }


def no_outcomes(deals: int, headers: list[str]) -> str:
    """Why none of ``deals`` is open or closed, naming those of the file's unread
    ``headers`` that may say it."""
    maybe = [h for h in headers if set(normalise(h).split()) & _OUTCOME_WORDS]
    example = json.dumps(maybe[0] if maybe else "Your column")
    return (
        f"no column says which of the {deals:,} deals are open, won or lost. Map the column "
        f'that does in smbml.toml: [source.mapping.deals] {example} = "is_closed" (its '
        'values yes/no, or open / won / lost; a won yes/no column = "is_won"). A Status '
        "column of open / won / lost and stages named Won and Lost are read without it"
    )


def _hubspot_companies(frame: pd.DataFrame) -> pd.DataFrame:
    key = _col(frame, "Record ID").map(lambda v: f"company {v}" if _text(v) else None)
    return _with(frame, contact_id=key)


# Zoho CRM's module exports (Leads_001.csv, Contacts_001.csv, Deals_001.csv). Their "Record
# Id" is HubSpot's "Record ID" once normalised: each names its owner column ("Lead Owner",
# "Contact Owner", "Deal Owner"), HubSpot's do not, and they come before HubSpot's. A
# lead's "Lead Status" is where it stands, as Salesforce's; "Email Opt Out" is read as the
# opt-out column it is (``consent.is_opt_out_header``). "Closing Date" is the expected
# close of an open deal and the close of a closed one (``deal_dates``).
_ZOHO_PEOPLE = (
    "Record Id -> contact_id",
    "First Name -> first_name",
    "Last Name -> last_name",
    "Email -> email",
    "Lead Source -> lead_source",
    "Industry -> industry",
    "Created Time -> created_at",
    "Modified Time -> updated_at",
    "Last Activity Time -> last_activity_at",
)
# HubSpot's contacts export has a "Contact owner" too, never Zoho's "Created Time".
_NOT_HUBSPOT = _has_any("Create Date", "Lifecycle Stage", "Deal Stage")


def _zoho(module: str, signature: tuple[str, ...], *lines: str, table: str = "contacts") -> Layout:
    """The export of a Zoho CRM module: "Record Id" and the headers of ``signature`` name
    it (unless HubSpot's headers are there too), the header lines ``lines`` map it to
    ``table`` and the usual synonyms map the rest."""
    return Layout(
        name=f"Zoho CRM {module} export",
        signature=("Record Id", *signature),
        check=lambda head: not _NOT_HUBSPOT(head),
        tables={table: LayoutTable(_map(*lines), synonyms=True)},
    )


ZOHO_LEADS = _zoho(
    "leads",
    ("Lead Owner", "Email"),
    *_ZOHO_PEOPLE,
    "Company -> company",
    "Lead Status -> lifecycle_stage",
    "Country -> country",
)
ZOHO_CONTACTS = _zoho(
    "contacts",
    ("Contact Owner", "Email", "Created Time"),
    *_ZOHO_PEOPLE,
    "Account Name -> company",
    "Mailing Country -> country",
)
ZOHO_DEALS = _zoho(
    "deals",
    ("Deal Owner", "Deal Name", "Stage"),
    "Record Id -> deal_id",
    "Deal Name -> name",
    "Amount -> amount",
    "Currency -> currency",
    "Pipeline -> pipeline",
    "Stage -> stage",
    "Closing Date -> close_date",
    "Created Time -> created_at",
    "Modified Time -> updated_at",
    "Deal Owner -> owner_id",
    table="deals",
)
HUBSPOT_CONTACTS = Layout(
    name="HubSpot contacts export",
    signature=("Record ID", "Email"),
    tables={
        "contacts": LayoutTable(
            _map(
                "Record ID -> contact_id",
                "First Name -> first_name",
                "Last Name -> last_name",
                "Email -> email",
                "Company Name -> company",
                "Lifecycle Stage -> lifecycle_stage",
                "Original Source -> lead_source",
                "Country/Region -> country",
                "Industry -> industry",
                "Create Date -> created_at",
                "Last Modified Date -> updated_at",
                "Last Activity Date -> last_activity_at",
                "Became a Customer Date -> converted_at",
                "Number of Pageviews -> page_views",
                "Number of Sessions -> sessions",
                "Marketing emails opened -> email_opens",
                "Marketing emails clicked -> email_clicks",
                "Number of Form Submissions -> form_submissions",
            ),
            _hubspot_contacts,
        )
    },
)
HUBSPOT_DEALS = Layout(
    name="HubSpot deals export",
    signature=("Record ID", "Deal Name", "Deal Stage"),
    tables={
        "deals": LayoutTable(
            _map(
                "Record ID -> deal_id",
                "Deal Name -> name",
                "Amount -> amount",
                "Currency -> currency",
                "Pipeline -> pipeline",
                "Deal Stage -> stage",
                "Create Date -> created_at",
                "Close Date -> close_date",
                "Deal owner -> owner_id",
                "Last Modified Date -> updated_at",
            ),
            _hubspot_deals,
        )
    },
)
# A company export gives accounts: they load as contacts keyed "company <Record ID>" only
# when no contacts file or tab is there (``rank``); a companies table is the better home.
HUBSPOT_COMPANIES = Layout(
    name="HubSpot companies export (as accounts in contacts)",
    # An export holds the view's columns: the domain may be left out, the owner kept.
    signature=("Record ID", "Company name"),
    check=lambda head: (
        _has_any("Company Domain Name", "Company owner")(head)
        and not _has_any("Email", "Deal Name")(head)
    ),
    tables={
        "contacts": LayoutTable(
            _map(
                "Company name -> company",
                "Industry -> industry",
                "Country/Region -> country",
                "Lifecycle Stage -> lifecycle_stage",
                "Original Source Type -> lead_source",
                "Create Date -> created_at",
                "Last Modified Date -> updated_at",
                "Last Activity Date -> last_activity_at",
            ),
            _hubspot_companies,
        )
    },
    rank=1,
)


# -- Pipedrive (deals and people exports, as "Export data" writes them) -----------------
# Each header is the object and the field's name: "Deal - Title", "Person - Email - Work".
# Checked against others' code reading real exports (find_string "Deal - Won time",
# "Person - Person created", "Person - Email - Work"): deals "Deal - ID", "Deal - Title",
# "Deal - Value", "Deal - Currency" (or "Currency of value"), "Deal - Status" (open, won,
# lost), "Deal - Stage", "Deal - Pipeline", "Deal - Won time", "Deal - Lost time", "Deal -
# Deal closed on", "Deal - Expected close date", "Deal - Deal created", "Deal - Update
# time", "Deal - Owner", "Deal - Contact person ID" or a linked "Person - ID"; people
# "Person - ID", "Person - Name", "Person - First name", "Person - Last name", "Person -
# Email" (or "- Work", "- Home", "- Other"), "Person - Organization", "Person - Person
# created", "Person - Update time". The status, won and lost times are read as any deals
# table's (``deal_outcomes``).
def _pipedrive_people(frame: pd.DataFrame) -> pd.DataFrame:
    """A person's first and last name from "Person - Name" where the export has no
    "First name" and "Last name" columns."""
    if _has_any("Person - First name", "Person - Last name")(frame):
        return frame
    first, last = _split_name(_col(frame, "Person - Name"))
    return _with(frame, first_name=first, last_name=last)


PIPEDRIVE_DEALS = Layout(
    name="Pipedrive deals export",
    signature=("Deal - ID", "Deal - Title"),
    tables={
        "deals": LayoutTable(
            _map(
                "Deal - ID -> deal_id",
                "Deal - Title -> name",
                "Deal - Value -> amount",
                "Deal - Currency -> currency",
                "Deal - Currency of value -> currency",
                "Deal - Pipeline -> pipeline",
                "Deal - Stage -> stage",
                "Deal - Deal created -> created_at",
                "Deal - Add time -> created_at",
                "Deal - Update time -> updated_at",
                "Deal - Expected close date -> close_date",
                "Deal - Deal closed on -> closed_at",
                "Deal - Owner -> owner_id",
                "Deal - Contact person ID -> contact_id",
                "Person - ID -> contact_id",
            )
        )
    },
)
PIPEDRIVE_PEOPLE = Layout(
    name="Pipedrive people export",
    signature=("Person - ID", "Person - Name"),
    check=lambda head: not _has_any("Deal - ID", "Deal - Title")(head),
    tables={
        "contacts": LayoutTable(
            _map(
                "Person - ID -> contact_id",
                "Person - First name -> first_name",
                "Person - Last name -> last_name",
                "Person - Email -> email",
                "Person - Email - Work -> email",
                "Person - Email - Home -> email",
                "Person - Email - Other -> email",
                "Person - Organization -> company",
                "Person - Lead source -> lead_source",
                "Person - Country -> country",
                "Person - Person created -> created_at",
                "Person - Add time -> created_at",
                "Person - Update time -> updated_at",
                # Subscribed / Unsubscribed / No consent / Archived (Pipedrive Campaigns);
                # unread, the people who said no were scored (a reviewer)
                "Person - Marketing status -> marketing_consent",
            ),
            _pipedrive_people,
        )
    },
)


# -- Mailchimp (an audience export: one CSV per status, subscribed / unsubscribed / cleaned) --
# Not checked against Mailchimp documentation; the columns ("Email Address", merge fields,
# MEMBER_RATING, OPTIN_TIME, OPTIN_IP, CONFIRM_TIME, CONFIRM_IP, LATITUDE, LONGITUDE, GMTOFF,
# DSTOFF, TIMEZONE, CC, REGION, LAST_CHANGED, LEID, EUID, NOTES, TAGS; the unsubscribed file
# UNSUB_TIME, UNSUB_CAMPAIGN_TITLE, UNSUB_CAMPAIGN_ID, UNSUB_REASON, UNSUB_REASON_OTHER)
# match copies of real exports in others' code (find_string "MEMBER_RATING,OPTIN_TIME,OPTIN_IP").
# The export's zip names each file by its members' status: subscribed_members_export_<id>.csv,
# unsubscribed_..., cleaned_..., nonsubscribed_... (contacts who never opted in).
_MAILCHIMP_FILES = re.compile(
    r"(subscribed|unsubscribed|cleaned|non ?subscribed|pending|transactional|archived)\b"
)
_MAILCHIMP_UNKNOWN = "unknown"


def _mailchimp_status(frame: pd.DataFrame) -> tuple[pd.DataFrame, Skips]:
    # Unsubscribed and cleaned (bounced) members come in files with their own columns;
    # subscribed and non-subscribed ones in files alike but for the name. The status is
    # noted per file, before files of one audience are put together; a file whose status
    # neither its columns nor its name tell is "unknown", which fails closed (opts out).
    columns = {normalise(c) for c in frame.columns}
    name = str(frame.attrs.get(FILE_NAME, ""))
    named = _MAILCHIMP_FILES.match(normalise(name))
    if "unsub time" in columns:
        status = "unsubscribed"
    elif "clean time" in columns:
        status = "cleaned"
    else:
        status = named.group(1).replace(" ", "") if named else _MAILCHIMP_UNKNOWN
    noted = {"Mailchimp status": pd.Series(status, index=frame.index)}
    if name:  # each row names its file, as when the audience's files are read together
        noted[FILE] = pd.Series(name, index=frame.index)
    return _with(frame, **noted), {}


def _mailchimp_consent(status: Any, file: Any) -> str:
    if status == "subscribed":
        return "yes"
    if status != _MAILCHIMP_UNKNOWN:
        return "no"
    # Not a consent word: read as unreadable, so an opt-out listed with this value.
    where = str(file).replace(";", ",") if _text(file) else "the file"
    return f"Mailchimp status unknown: {where} is not named subscribed_members_export_..."


def _mailchimp(frame: pd.DataFrame) -> pd.DataFrame:
    consent = pd.Series(
        [
            _mailchimp_consent(status, file)
            for status, file in zip(_col(frame, "Mailchimp status"), _col(frame, FILE), strict=True)
        ],
        index=frame.index,
        dtype=object,
    )
    # The e-mail is the first column; its header is the field's label, which an audience
    # may have renamed or kept in its language ("E-Mail-Adresse").
    if "email address" in {normalise(c) for c in frame.columns}:
        email, more = _col(frame, "Email Address"), {}  # mapped to email by the header map
    else:
        email = frame[next(c for c in frame.columns if c not in (SOURCE_ROW, FILE))]
        more = {"email": email}
    return _with(frame, contact_id=_email_key(email), marketing_consent=consent, **more)


MAILCHIMP = Layout(
    name="Mailchimp audience export",
    signature=("MEMBER_RATING", "OPTIN_TIME", "LEID"),
    tables={
        "contacts": LayoutTable(
            _map(
                "Email Address -> email",
                "First Name -> first_name",
                "Last Name -> last_name",
                "OPTIN_TIME -> created_at",
                "LAST_CHANGED -> updated_at",
                "CC -> country",
            ),
            _mailchimp,
        )
    },
    prepare=_mailchimp_status,
)


# -- shapes shared by exports with one row per line item ----------------------------
def _first_rows(key: str, **derive: Callable[[pd.DataFrame], pd.Series]) -> Shape:
    """Orders from a file with one row per line: each order's first row, plus columns."""

    def shape(frame: pd.DataFrame) -> pd.DataFrame:
        first = _first_of(frame, _col(frame, key))
        return _with(first, **{name: make(first) for name, make in derive.items()})

    return shape


def _numbered(
    key: str, product: tuple[str, ...], quantity: str, price: str, discount: str | None = None
) -> Shape:
    """Order lines from a file with one row per line: numbered in file order within the key."""

    def shape(frame: pd.DataFrame) -> pd.DataFrame:
        item = _col(frame, product[0])
        for fallback in product[1:]:
            item = item.where(_filled(item), _col(frame, fallback))
        extra = {} if discount is None else {"discount": _share(_col(frame, discount),
                                              _col(frame, quantity), _col(frame, price))}  # fmt: skip
        return _with(
            frame, line_no=_line_numbers(_col(frame, key), frame), product_id=item, **extra
        )

    return shape


def _people(key: Callable[[pd.DataFrame], pd.Series], name: str | None = None) -> Shape:
    """One contact per key (first row in file order); a full name split into first/last."""

    def shape(frame: pd.DataFrame) -> pd.DataFrame:
        keys = key(frame)
        people = frame[_filled(keys).to_numpy() & ~keys.duplicated().to_numpy()]
        out = _with(people, contact_id=keys[people.index])
        if name is not None:
            first, last = _split_name(_col(people, name))
            out = _with(out, first_name=first, last_name=last)
        return out

    return shape


def _key(*headers: str, by_row: bool = False) -> Callable[[pd.DataFrame], pd.Series]:
    """The first filled of ``headers`` (an e-mail is lower-cased): a customer's key.

    With ``by_row`` a row with none of them is keyed by its row number ("row 12"), so a
    person on a list is kept even without an e-mail.
    """

    def key(frame: pd.DataFrame) -> pd.Series:
        out = pd.Series(None, index=frame.index, dtype=object)
        for header in headers:
            values = _col(frame, header)
            if "mail" in normalise(header):
                values = _email_key(values)
            else:
                values = values.map(lambda v: str(v).strip() if _text(v) else None)
            out = out.where(_filled(out), values)
        if by_row:
            out = out.where(_filled(out), _row_keys(frame))
        return out

    return key


def _refund_status(status: str, total: str, refunded: str) -> Callable[[pd.DataFrame], pd.Series]:
    """The export's status, or refunded / partially refunded when money went back."""

    def read(frame: pd.DataFrame) -> pd.Series:
        paid, back = _number(_col(frame, total)), _number(_col(frame, refunded)).abs()
        out = _col(frame, status).astype(object)
        out = out.where(~((back > 0) & (back < paid)), "partially refunded")
        return out.where(~((back > 0) & (back >= paid)), "refunded")

    return read


# -- Stripe (Payments > Export, the default columns) ----------------------------------
# Not checked against Stripe documentation; "id, Created date (UTC), Amount, Amount
# Refunded, Currency, ..., Status, Customer ID, Customer Email" appear in others' readers of
# Stripe's payments export (find_string "Created date (UTC),Amount,Amount Refunded"), with
# varying columns in between: only those six are required.
STRIPE = Layout(
    name="Stripe payments export",
    signature=("id", "Created date (UTC)", "Amount", "Amount Refunded", "Currency", "Status"),
    tables={
        "orders": LayoutTable(
            _map(
                "id -> order_id",
                "Created date (UTC) -> ordered_at",
                "Amount -> total",
                "Amount Refunded -> refunded",
            ),
            _first_rows(
                "id",
                contact_id=_key("Customer ID", "Customer Email"),
                status=_refund_status("Status", "Amount", "Amount Refunded"),
                currency=lambda f: _col(f, "Currency").map(
                    lambda v: str(v).upper() if _text(v) else v
                ),
            ),
        ),
        "contacts": LayoutTable(
            _map("Customer Email -> email"),
            _people(_key("Customer ID", "Customer Email"), name="Card Name"),
        ),
    },
)


# -- Square (Transactions and Item sales exports of the Square Dashboard) -------------
# Item sales: a real export, zoetankersley/sunrise_social_club
# data/raw/items-2026-07-18-2026-07-19.csv (Qty written as 1.0, GTIN, Commission, Employee,
# Token, Card Brand, PAN Suffix; newest rows first; Category "None" for an item without one;
# Price Point Name "Regular" or blank for an item's one price point). Transactions: the 55-column header quoted in others' code
# (find_string "Time Zone,Gross Sales,Discounts,Service Charges"); older files lack the
# customer and deposit columns. No Square help page with the column list was found.
def _square_moment(frame: pd.DataFrame) -> pd.Series:
    """Each row's Date and Time as one text, "2025-06-02 08:14:09". Pasted into Google
    Sheets or saved from Excel, the Date is a date cell (a day number from Sheets, a
    datetime from a workbook) and the Time may be a time cell (a fraction of a day, a
    time): written out as the CSV writes them, so every copy of the export reads alike.
    A value that is no date or time stays as written, for the reject to show."""
    date, time = _col(frame, "Date"), _col(frame, "Time")
    clock = [_clock_text(t) for t in time]
    return pd.Series(
        [_day_text(d, bool(c)) + (" " + c if c else "") if _text(d) else d
         for d, c in zip(date, clock, strict=True)],
        index=frame.index, dtype=object,
    )  # fmt: skip


def _day_text(value: Any, timed: bool) -> str:
    """A Date cell as text: the day alone when a Time cell gives the time of day."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(math.floor(value)) if timed else float(value)
        return coerce.serial_date_text(number) or str(value)
    if isinstance(value, dt.datetime | dt.date | pd.Timestamp):
        stamp = pd.Timestamp(value)
        if timed or stamp == stamp.normalize():
            return f"{stamp:%Y-%m-%d}"
        return stamp.isoformat(sep=" ")
    return str(value).strip()


def _clock_text(value: Any) -> str:
    """A Time cell as text ("08:14:09"), or "" when it is empty."""
    if isinstance(value, bool) or not _text(value):
        return str(value) if isinstance(value, bool) else ""
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, dt.datetime):  # a time cell past one day's length
        return pd.Timestamp(value).time().isoformat()
    if isinstance(value, int | float | np.integer | np.floating) and 0 <= value < 1:
        millis = round(float(value) * 86_400_000)  # to the millisecond, as a sheet keeps it
        return (pd.Timestamp(0) + pd.to_timedelta(millis, "ms")).time().isoformat()
    return str(value).strip()


def _square_when(frame: pd.DataFrame) -> pd.Series:
    """Date and time, written with their offset where the row's Time Zone names a zone
    ("Pacific Time (US & Canada)"): Square writes each row on its location's clock and
    says which, so the row is an exact moment whatever zone the business sets. A row
    whose Time Zone is blank or names no zone known here takes the zone most of the
    file's rows name (one location's export: one clock); in a file where none names one,
    and a row whose date cannot be read here, the date and time stay as written."""
    when = _square_moment(frame)
    named = _col(frame, "Time Zone").map(lambda v: zone_of_words(v) if _text(v) else None)
    if named.notna().any():
        named = named.fillna(named.mode().iloc[0])
    out = when.astype(object)
    for zone in named.dropna().unique():
        rows = (named == zone).to_numpy()
        stamps = pd.to_datetime(when[rows], errors="coerce", format="ISO8601")
        read = stamps.notna().to_numpy()
        local = stamps[read].dt.tz_localize(
            str(zone), ambiguous=np.ones(int(read.sum()), dtype=bool), nonexistent="shift_forward"
        )
        out.loc[out.index[rows][read]] = local.map(lambda t: t.isoformat()).to_numpy()
    return out


def _square_order(frame: pd.DataFrame) -> pd.Series:
    # A refund is its own row with the sale's transaction id: kept, as its own order.
    refund = _col(frame, "Event Type").map(lambda v: _text(v) and normalise(v) == "refund")
    key = _col(frame, "Transaction ID")
    return key.where(~refund.astype(bool), key.astype(str) + " refund")


def _square_status(frame: pd.DataFrame) -> pd.Series:
    event = _col(frame, "Event Type").map(lambda v: normalise(v) if _text(v) else None)
    return event.where(event != "payment", _col(frame, "Transaction Status"))


def _square_totals(frame: pd.DataFrame) -> pd.DataFrame:
    """Orders from the item sales export (when no transactions export is there)."""
    key = _col(frame, "Transaction ID")
    net = _number(_col(frame, "Net Sales")).groupby(key.to_numpy()).transform("sum")
    first = _first_of(frame, key)
    return _with(first, total=net[first.index], ordered_at=_square_when(first),
                 contact_id=_key("Customer ID")(first))  # fmt: skip


_ONE_PRICE = {"", "regular"}  # the price point of an item sold at one price
_NO_CATEGORY = {"", "none"}  # Square writes "None" for an item without a category


def _square_variant(frame: pd.DataFrame) -> pd.Series:
    """The item and its price point as Square names them: "Latte - Large"; the item alone
    for its one price point ("Regular", or left blank)."""
    item, point = _stripped(_col(frame, "Item")), _stripped(_col(frame, "Price Point Name"))
    return pd.Series(
        [f"{i} - {p}" if i and p and normalise(p) not in _ONE_PRICE else i
         for i, p in zip(item, point, strict=True)],
        index=frame.index, dtype=object,
    )  # fmt: skip


def _square_product(frame: pd.DataFrame) -> pd.Series:
    """A line's product: its SKU, else the item and price point. Each price point has its
    own price (a Large latte at 5.00 beside the Regular at 4.00), as a variant with its own
    SKU would: one product for both read as one sold at several prices, a blend of sizes."""
    sku = _stripped(_col(frame, "SKU"))
    return sku.where(sku.notna(), _square_variant(frame))


def _square_lines(frame: pd.DataFrame) -> pd.DataFrame:
    # Square gives the line's gross sales, not a unit price; discounts are negative amounts.
    quantity = _col(frame, "Qty")
    unit = _number(_col(frame, "Gross Sales")) / _number(quantity)
    return _with(frame, line_no=_line_numbers(_col(frame, "Transaction ID"), frame),
                 product_id=_square_product(frame), unit_price=unit,
                 discount=_share(_col(frame, "Discounts"), quantity, unit))  # fmt: skip


def _square_products(frame: pd.DataFrame) -> pd.DataFrame:
    """One product per line key, named and put in a category as its newest line says
    (an item renamed or moved keeps its SKU); the file holds no list price or cost."""
    key = _square_product(frame)
    moment = _square_moment(frame).map(lambda v: v if isinstance(v, str) else None)
    when = pd.to_datetime(moment, errors="coerce", format="mixed")
    newest = when.sort_values(ascending=False, kind="stable", na_position="last").index
    category = _stripped(_col(frame, "Category"))
    category = category.where(~category.fillna("").map(normalise).isin(_NO_CATEGORY), None)
    rows = frame.loc[newest]
    keys = key[newest]
    first = keys.notna().to_numpy() & ~keys.duplicated().to_numpy()
    by_key = pd.Series(category[newest].to_numpy(), index=keys.to_numpy()).dropna()
    chosen = rows[first]
    where = [c for c in (SOURCE_ROW, FILE) if c in chosen.columns]  # for a reject's row
    out = _with(chosen[where], product_id=keys[first], name=_square_variant(chosen),
                category=keys[first].map(by_key[~by_key.index.duplicated()]))  # fmt: skip
    return out.sort_index(kind="stable")  # in file order


SQUARE_TRANSACTIONS = Layout(
    name="Square transactions export",
    signature=("Date", "Time", "Time Zone", "Gross Sales", "Total Collected", "Transaction ID"),
    tables={
        "orders": LayoutTable(
            _map("Total Collected -> total"),
            _first_rows(
                "Payment ID",
                order_id=_square_order,
                ordered_at=_square_when,
                contact_id=_key("Customer ID"),
                status=_square_status,
            ),
        ),
        "contacts": LayoutTable({}, _people(_key("Customer ID"), name="Customer Name")),
    },
)
SQUARE_ITEMS = Layout(
    name="Square item sales export",
    signature=("Date", "Time", "Category", "Item", "Qty", "Price Point Name", "Transaction ID"),
    tables={
        "order_lines": LayoutTable(
            _map("Transaction ID -> order_id", "Qty -> quantity"), _square_lines
        ),
        "orders": LayoutTable(_map("Transaction ID -> order_id"), _square_totals),
        "products": LayoutTable({}, _square_products),
    },
)


# -- Etsy (Shop Manager > Settings > Options > Download Data) ---------------------------
# Not verified: no Etsy help page with the columns was found in the search tools, only
# other projects' hand-written fixtures of EtsySoldOrders / EtsySoldOrderItems (find_string
# "Sale Date,Item Name,Buyer,Quantity,Price"; "Buyer User ID,Full Name,First Name"), which
# agree with the columns used here.
def _etsy_status(frame: pd.DataFrame) -> pd.Series:
    # Etsy shows a refund as an adjusted total lower than the order total.
    total, adjusted = (
        _number(_col(frame, "Order Total")),
        _number(_col(frame, "Adjusted Order Total")),
    )
    status = _col(frame, "Status").astype(object)
    cancelled = status.map(lambda v: _text(v) and normalise(v) in {"canceled", "cancelled"})
    refunded = ~cancelled.astype(bool) & (adjusted < total)
    return status.where(
        ~refunded, adjusted.map(lambda a: "refunded" if a == 0 else "partially refunded")
    )


def _etsy_refunded(frame: pd.DataFrame) -> pd.Series:
    """What went back on an order: its total less its adjusted total (cancelled: nothing)."""
    back = _number(_col(frame, "Order Total")) - _number(_col(frame, "Adjusted Order Total"))
    cancelled = _etsy_status(frame).map(
        lambda v: _text(v) and normalise(v) in {"canceled", "cancelled"}
    )
    return back.where(back.gt(0) & ~cancelled.astype(bool), None)


ETSY_ORDERS = Layout(
    name="Etsy sold orders export (EtsySoldOrders)",
    # "Buyer User ID" is not required: not every copy of the export seen carries it.
    signature=("Sale Date", "Order ID", "Number of Items", "Order Total"),
    tables={
        "orders": LayoutTable(
            _map(
                "Order ID -> order_id",
                "Sale Date -> ordered_at",
                "Order Total -> total",
                "Currency -> currency",
            ),
            _first_rows(
                "Order ID",
                contact_id=_key("Buyer User ID", "Buyer"),
                status=_etsy_status,
                refunded=_etsy_refunded,
            ),
        ),
        "contacts": LayoutTable(
            _map("First Name -> first_name", "Last Name -> last_name", "Ship Country -> country"),
            _people(_key("Buyer User ID", "Buyer")),
        ),
    },
)
ETSY_ITEMS = Layout(
    name="Etsy sold order items export (EtsySoldOrderItems)",
    signature=("Sale Date", "Item Name", "Transaction ID", "Listing ID", "Order ID"),
    tables={
        "order_lines": LayoutTable(
            _map("Order ID -> order_id", "Quantity -> quantity", "Price -> unit_price"),
            _numbered("Order ID", ("SKU", "Listing ID"), "Quantity", "Price", "Discount Amount"),
        ),
    },
)


# -- WooCommerce (Analytics > Orders and Analytics > Customers, "Download") ------------
# Checked against woocommerce/woocommerce: the browser download writes the table's headers
# (plugins/woocommerce/client/admin/client/analytics/report/orders/table.js and
# .../customers/table.js: "Net sales", "Payment method", "Date registered", "Role"), the
# e-mailed export of a large report the controller's (src/Admin/API/Reports/Orders/
# Controller.php and Customers/Controller.php get_export_columns: "Net Sales", "N. Revenue
# (formatted)", "Last Active", "Sign Up", "Billing Phone"). Columns the user hid in the
# table (Username, City, Region, Postal code are hidden by default) may be missing.
WOOCOMMERCE_ORDERS = Layout(
    name="WooCommerce orders report (Analytics)",
    signature=("Date", "Order #"),
    check=_has_any("Product(s)", "Items sold", "Customer type", "Net Sales"),
    tables={
        # "Customer" is a name, not a key: beside the customers report the order is the one
        # customer of that name (``contact_links._by_name``), a name two share no one's.
        "orders": LayoutTable(
            _map(
                "Order # -> order_id",
                "Date -> ordered_at",
                "Net Sales -> total",
                "Status -> status",
                "Customer -> contact_id",
            ),
        ),
    },
)
# The customers report counts each person's orders and spend itself ("Orders", "Total
# spend": WooCommerce's orders_count and total_spend, refunds taken off), so a person it
# says bought is a customer even when no order of the orders report can be given to them
# (a name two customers share): marked in the lifecycle stage, as a CRM marks a customer,
# and never scored as an open lead. It gives no date of a first order: such a customer
# is dated by the orders linked to them, else left out of the lead model as undated.
_BOUGHT = "customer"
_WC_BOUGHT = (
    f"'{_BOUGHT}' where the customers report's Total spend (else its Orders) says the "
    "person bought (their orders date it where the orders report can be linked to them)"
)


def _bought(frame: pd.DataFrame, orders: str, spend: str) -> pd.Series:
    """Whether each row's counts say the person bought: their spend above 0, or, where the
    spend is not given, their order count above 0. Orders whose spend is 0 brought
    nothing: all the money went back (WooCommerce's report takes refunds off its spend)
    or every order was free, so such a person is no customer by these counts; their
    orders decide where the orders read hold them. Shopify's help does not say whether
    its Total Spent is net of refunds: there, a person whose every order read went back
    is told by ``contact_features.conversion_times`` (with ``orders_count``)."""
    paid = _number(_col(frame, spend))
    return (paid.gt(0) | (paid.isna() & _number(_col(frame, orders)).gt(0))).astype(bool)


def _woocommerce_customers(frame: pd.DataFrame) -> pd.DataFrame:
    people = _people(_key("Email", "Username", by_row=True), name="Name")(frame)
    bought = _bought(people, "Orders", "Total spend")
    out = _with(people, lifecycle_stage=bought.map({True: _BOUGHT, False: None}))
    out.attrs[DERIVED] = {"lifecycle_stage": (_WC_BOUGHT, int(bought.sum()))}
    return out


WOOCOMMERCE_CUSTOMERS = Layout(
    name="WooCommerce customers report (Analytics)",
    signature=("Name", "Email", "Orders", "Total spend", "AOV"),
    check=_has_any("Last active", "Date registered", "Sign Up"),
    tables={
        "contacts": LayoutTable(
            _map(
                "Email -> email",
                "Date registered -> created_at",
                "Sign Up -> created_at",
                "Last active -> last_activity_at",
                "Country / Region -> country",
                "Orders -> orders_count",
            ),
            _woocommerce_customers,
        ),
    },
)


# -- QuickBooks Online: Reports > Sales by Customer Detail, exported ------------------
# Classic headers: ",Date,Transaction Type,Num,Product/Service,Memo/Description,Qty,Sales
# Price,Amount,Balance"; the report's newer view writes ",Transaction date,Transaction
# type,Num,Product/Service full name,Memo/Description,Quantity,Sales price,Amount,Balance".
# No Intuit page with the column list was found; both were checked against other people's
# readers of real exports (find_string "Product/Service full name": several repositories,
# one holding a "Sales by Customer Type Detail" export with those headers, customer headings
# and "Total for ..." rows; xyugen/cosmetic-marketing-assistant
# src/interface/SalesByProductData.ts for the classic names).
_QB_CREDIT = {"credit memo", "refund receipt", "refund"}
_QB_DATE = ("Date", "Transaction date")
_QB_PRODUCT = ("Product/Service", "Product/Service full name")


def _quickbooks_rows(frame: pd.DataFrame) -> tuple[pd.DataFrame, Skips]:
    """Customer headings give the customer of the rows under them; notes are left out."""
    first = frame.columns[0]
    date = _filled(_either(frame, *_QB_DATE))
    customer, current, skips = [], None, {}
    for position, (heading, dated) in enumerate(zip(frame[first], date, strict=True)):
        filled = int(frame.iloc[position].drop(SOURCE_ROW).map(_text).sum())
        if not dated and _text(heading) and filled == 1 and position + 1 < len(frame):
            current = str(heading).strip()
            skips[position] = f"customer heading ({current!r})"
        elif not dated:
            skips[position] = "report note"
        customer.append(current)
    named = _either(frame, "Customer full name", "Customer")  # a column, where there is one
    headed = pd.Series(customer, index=frame.index, dtype=object)
    return _with(frame, Customer=named.where(_filled(named), headed)), skips


_BASIS = re.compile(r"\W*(accrual|cash) basis\b", re.I)


def _quickbooks_unread(
    frame: pd.DataFrame, unread: list[SourceReject]
) -> tuple[list[SourceReject], dict[int, str]]:
    """QuickBooks ends a report with a one-value line, "Accrual basis Monday, November 3,
    2025 10:15 AM GMT-05:00", which the reader cannot split into the header's cells: a
    note, as is any one-value line below the last record. A damaged record stays a reject."""
    last = -1 if FILE in frame.columns or frame.empty else int(frame[SOURCE_ROW].max())
    kept, notes = [], {}
    for line in unread:
        one_value = len([v for v in _cells(line.value) if v.strip()]) <= 1
        if _BASIS.match(line.value) or (one_value and 0 <= last < line.row):
            notes[line.row] = "report note"
        else:
            kept.append(line)
    return kept, notes


def _cells(text: str) -> list[str]:
    try:
        return next(csv.reader([text]), [])
    except csv.Error:
        return [text]


def _qb_order(frame: pd.DataFrame) -> pd.Series:
    kind = _col(frame, "Transaction Type").map(lambda v: normalise(v) if _text(v) else "")
    num = _col(frame, "Num").astype(str)
    return num.where(~kind.isin(_QB_CREDIT), _col(frame, "Transaction Type") + " " + num)


def _qb_orders(frame: pd.DataFrame) -> pd.DataFrame:
    key = _qb_order(frame)
    total = _number(_col(frame, "Amount")).groupby(key.to_numpy()).transform("sum")
    first = _first_of(frame, key)
    return _with(first, order_id=key[first.index], total=total[first.index],
                 contact_id=_col(first, "Customer"),
                 status=_col(first, "Transaction Type"))  # fmt: skip


QUICKBOOKS = Layout(
    name="QuickBooks Sales by Customer Detail report",
    signature=("Transaction Type", "Num", "Sales Price", "Amount"),
    check=lambda head: _has_any(*_QB_DATE)(head) and _has_any(*_QB_PRODUCT)(head),
    tables={
        "orders": LayoutTable(
            _map("Date -> ordered_at", "Transaction date -> ordered_at"), _qb_orders
        ),
        "order_lines": LayoutTable(
            _map(
                "Product/Service -> product_id",
                "Product/Service full name -> product_id",
                "Qty -> quantity",
                "Quantity -> quantity",
                "Sales Price -> unit_price",
            ),
            lambda f: _with(f, order_id=_qb_order(f), line_no=_line_numbers(_qb_order(f), f)),
        ),
        # QuickBooks display names are unique per company file: here the name is the key.
        "contacts": LayoutTable({}, _people(_key("Customer"))),
    },
    prepare=_quickbooks_rows,
    unread=_quickbooks_unread,
)


# -- Xero: Business > Invoices > Export (one row per invoice line) ---------------------
# The export's header (no asterisks, unlike the import template): ContactName, EmailAddress,
# PO address, SA address, InvoiceNumber, Reference, InvoiceDate, DueDate, PlannedDate, Total,
# TaxTotal, InvoiceAmountPaid, InvoiceAmountDue, InventoryItemCode, Description, Quantity,
# UnitAmount, Discount, LineAmount, AccountCode, TaxType, TaxAmount, Tracking, Currency,
# Type, Sent, Status: as written by several tools that produce or read it (find_string
# "InvoiceAmountDue,InventoryItemCode"). No Xero Central page was found in the search tools.
#
# Invoices, credit notes and supplier bills share the layout; "Type" tells them apart
# ("Sales invoice", "Sales credit note", "Bill"; ACCREC, ACCRECCREDIT, ACCPAY and
# ACCPAYCREDIT in files made from Xero's API). A bill is a purchase, not a sale: its
# rows are left out, each with the bill's number (the data checks count the bills). A
# sales credit note is a refund, written as QuickBooks' credit memos are: its own order,
# with a negative total and negative quantities. Voided, deleted and draft invoices load
# with their status, which ``sales`` reads as not a sale.
_XERO_PURCHASE = re.compile(r"\b(bills?|accpay\w*|purchases?|supplier)\b")


def _xero_type(frame: pd.DataFrame) -> pd.Series:
    """'purchase', 'credit' or 'sale' per row, from the Type column."""
    kind = _col(frame, "Type").map(lambda v: normalise(v) if _text(v) else "")
    return kind.map(
        lambda t: "purchase" if _XERO_PURCHASE.search(t) else "credit" if "credit" in t else "sale"
    )


def _xero_bills(frame: pd.DataFrame) -> tuple[pd.DataFrame, Skips]:
    bills = np.flatnonzero((_xero_type(frame) == "purchase").to_numpy())
    number, kind, who = (_col(frame, h) for h in ("InvoiceNumber", "Type", "ContactName"))
    return frame, {
        int(i): f"{SUPPLIER_BILL} {number.iloc[i] if _text(number.iloc[i]) else '(no number)'}"
        f"{f' from {who.iloc[i]}' if _text(who.iloc[i]) else ''} (Type {kind.iloc[i]!r}): "
        "a purchase (accounts payable), not a sale"
        for i in bills.tolist()
    }


def _negated(value: Any) -> Any:
    """A credit note's amount or quantity as money or goods going back (negative)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return -abs(value)
    text = str(value).strip() if _text(value) else ""
    return value if not text or text.startswith(("-", "(")) else "-" + text


def _xero_orders(frame: pd.DataFrame) -> pd.DataFrame:
    first = _first_of(frame, _col(frame, "InvoiceNumber"))
    credit = (_xero_type(first) == "credit").to_numpy()
    status = _col(first, "Status").astype(object)
    undone = status.map(lambda v: status_key(v) in NOT_SALE_STATUSES).to_numpy(dtype=bool)
    total = _col(first, "Total").astype(object)
    return _with(
        first,
        contact_id=_key("EmailAddress", "ContactName")(first),
        status=status.where(~credit | undone, "credit note"),  # a voided note stays voided
        total=total.where(~credit, total.map(_negated)),
    )


def _xero_lines(frame: pd.DataFrame) -> pd.DataFrame:
    item = ("InventoryItemCode", "Description")
    lines = _numbered("InvoiceNumber", item, "Quantity", "UnitAmount")(frame)
    share = _number(_col(frame, "Discount")) / 100  # Xero writes the discount in percent
    quantity = _col(frame, "Quantity").astype(object)
    credit = (_xero_type(frame) == "credit").to_numpy()
    return _with(lines, discount=share.map(lambda v: None if pd.isna(v) else round(float(v), 6)),
                 quantity=quantity.where(~credit, quantity.map(_negated)))  # fmt: skip


XERO = Layout(
    name="Xero sales invoices export",
    signature=("ContactName", "InvoiceNumber", "InvoiceDate", "UnitAmount", "LineAmount"),
    tables={
        "orders": LayoutTable(
            _map(
                "InvoiceNumber -> order_id",
                "InvoiceDate -> ordered_at",
                "Total -> total",
                "Currency -> currency",
                "Status -> status",
            ),
            _xero_orders,
        ),
        "order_lines": LayoutTable(
            _map("InvoiceNumber -> order_id", "Quantity -> quantity", "UnitAmount -> unit_price"),
            _xero_lines,
        ),
        "contacts": LayoutTable(
            _map("EmailAddress -> email", "POCountry -> country"),
            _people(_key("EmailAddress", "ContactName")),
        ),
    },
    prepare=_xero_bills,
)


# -- Squarespace (Commerce > Orders > Download CSV) ----------------------------------
# Shopify's orders export but for its first column, "Order ID" for Shopify's "Name", and
# "Amount Refunded" for "Refunded Amount": checked against a real export quoted in others'
# code (find_string "Order ID,Email,Financial Status": "Order ID, Email, Financial Status,
# Paid at, ..., Amount Refunded, Total, ..., Created at, Lineitem quantity, Lineitem name,
# Lineitem price, Lineitem sku, Lineitem variant, ..., Billing Name, ..., Cancelled at,
# Private Notes, Payment Method, Payment Reference"). As in Shopify's, an order's own
# fields are on its first row only, its further lines holding the Order ID and the
# Lineitem columns. Read by Shopify's shapes, the Order ID standing in for the Name.
_SQUARESPACE_KEY = "Order ID"


def _as_shopify(shape: Shape) -> Shape:
    """A Shopify orders shape on a Squarespace export: its Order ID read as Shopify's Name
    (and named Order ID again after), so both exports share one reading of their rows."""

    def squarespace(frame: pd.DataFrame) -> pd.DataFrame:
        key = next(c for c in frame.columns if normalise(c) == normalise(_SQUARESPACE_KEY))
        out = shape(frame.rename(columns={key: "Name"}))
        return out.rename(columns={"Name": key})

    return squarespace


def _squarespace_unread(
    frame: pd.DataFrame, unread: list[SourceReject]
) -> tuple[list[SourceReject], dict[int, str]]:
    key = next(c for c in frame.columns if normalise(c) == normalise(_SQUARESPACE_KEY))
    return _shopify_unread(frame.rename(columns={key: "Name"}), unread)


SQUARESPACE_ORDERS = Layout(
    name="Squarespace orders export",
    signature=("Order ID", "Email", "Financial Status", "Lineitem quantity", "Lineitem name"),
    check=lambda head: not _has_any("Name")(head),  # with a Name column it is Shopify's
    tables={
        "orders": LayoutTable(
            _map(
                "Order ID -> order_id",
                "Created at -> ordered_at",
                "Total -> total",
                "Currency -> currency",
                "Amount Refunded -> refunded",
            ),
            _as_shopify(_shopify_orders),
        ),
        "order_lines": LayoutTable(
            _map(
                "Order ID -> order_id",
                "Lineitem quantity -> quantity",
                "Lineitem price -> unit_price",
            ),
            _as_shopify(_shopify_lines),
        ),
        "contacts": LayoutTable(
            dict(_SHOPIFY_BUYER_COLUMNS),
            _as_shopify(_shopify_buyers),
        ),
        "products": LayoutTable({}, _as_shopify(_shopify_line_products)),
    },
    unread=_squarespace_unread,
)


# -- PayPal (Activity > Statements > Activity download, CSV) ---------------------------
# A payment account's ledger, not an orders list: checked against PayPal's page on the
# Activity Download report (developer.paypal.com/reports/reference/changed-fields: Type is
# a transaction event's description, Status Completed, Pending, Denied, ...) and the
# header others' readers of real downloads quote (find_string '"Date","Time","TimeZone",
# "Name","Type","Status"': "..., Gross, Fee, Net, From Email Address, To Email Address,
# Transaction ID, ..., Reference Txn ID, Invoice Number, ..., Balance, ..., Country Code,
# Balance Impact", Balance Impact Credit, Debit or Memo; a memo row moved no money). Gross
# is signed from the account's side: a payment received is positive and From Email Address
# is the buyer's; a refund is negative, From Email Address the shop's own and To Email
# Address the buyer's, its Reference Txn ID the payment it refunds. Only a completed
# payment received is a sale (its Gross, what the buyer paid, is the total). A completed
# refund comes off the payment it names (``refunded``), or, when that payment is not in
# the file, is its own order with a negative total and the buyer as its customer (taken
# off that buyer's earlier sale, ``sales.refunds``). Every other row (a withdrawal to the
# bank, a transfer, a fee, a hold or its release, a currency conversion, a payment the shop
# sent, one not completed, a memo) sold nothing: left out, each with its kind, and counted
# in one data check. Each row's Date and Time are on the clock its TimeZone names: PayPal
# writes the abbreviation in force that day ("PST" in winter, "PDT" in summer), so each
# is read at its own offset (``_paypal_offsets``). Seen in others' readers of real
# downloads: PST/PDT (US accounts, and the default of others), CET/CEST and GMT/BST
# (German and British downloads). An account elsewhere has its own zone's words (EST/EDT,
# AEST/AEDT, JST, ...; no download of one was found in the search tools): every word
# one zone writes (``coerce.ZONE_WORDS``, as a date column's zone word is read) is read
# at its offset, and BST is British summer time, as in British downloads. A word several
# zones write (CST: US Central or China; IST: India, Ireland or Israel; AST / ADT:
# Atlantic or Arabia) is read only where the file's other rows tell which: the same
# account's other season (CDT beside CST is US Central; IDT beside IST is Israel; GMT
# beside IST, with no BST, is Ireland; ADT beside AST and AST beside ADT are Atlantic).
# Else, and for a word not known here, the row is read on the business's clock, as
# before, and one data check names the value and what it may mean.
_PAYPAL_OTHER = re.compile(
    r"\b(hold|withdrawal|transfer|conversion|fee|authori[sz]ation|deposit|bank|memo)\b"
)
_PAYPAL_REFUND = re.compile(r"\b(refund|reversal|chargeback)\b")
# The column ``prepare`` sums each payment's refunds into (the orders shape makes
# ``refunded`` of it, so the run says the layout made the column)
_PAYPAL_REFUNDED = "Refunded (refund rows)"
_PAYPAL_CENT = 0.005  # refunds this close to the payment gave it all back
_PAYPAL_HOURS = {**coerce.ZONE_WORDS, "BST": 1}  # British summer time in PayPal's downloads
# A shared word -> (another word the file holds, no word it holds, hours): the zone told.
_PAYPAL_SEASONS: dict[str, tuple[tuple[str, str | None, float], ...]] = {
    "CST": (("CDT", None, -6),),
    "IST": (("IDT", None, 2), ("GMT", "BST", 1)),
    "AST": (("ADT", None, -4),),
    "ADT": (("AST", None, -3),),
}


def _paypal_kind(said: str, done: str, moved: str, amount: float) -> tuple[str, str | None]:
    """A row's kind ('sale', 'refund' or 'other') and, for 'other', why it sold nothing."""
    words = normalise(said)
    if moved == "memo":
        reason = "a memo, no money moved"
    elif _PAYPAL_OTHER.search(words) and not _PAYPAL_REFUND.fullmatch(words):
        reason = "money moved but nothing sold"
    elif pd.isna(amount):
        reason = "no Gross amount that can be read"
    elif done and done != "completed":
        reason = f"not completed (Status {done})"
    elif amount < 0 and _PAYPAL_REFUND.search(words):
        return "refund", None
    elif amount < 0:
        reason = "a payment the shop sent"
    elif amount > 0 and "payment" in words:
        return "sale", None
    else:
        reason = "no payment received"
    label = f"{said or 'no Type'}{' not completed' if reason.startswith('not') else ''}"
    return "other", f"{NOT_A_SALE_ROW} ({label}): {reason}"


def _paypal_kinds(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Each row's kind ('sale', 'refund' or 'other') and, for 'other', why."""
    kind = _stripped(_col(frame, "Type")).fillna("")
    status = _stripped(_col(frame, "Status")).fillna("").map(normalise)
    impact = _stripped(_col(frame, "Balance Impact")).fillna("").map(normalise)
    gross = _number(_col(frame, "Gross"))
    read = [_paypal_kind(*row) for row in zip(kind, status, impact, gross, strict=True)]
    out = pd.Series([k for k, _ in read], index=frame.index, dtype=object)
    return out, pd.Series([w for _, w in read], index=frame.index, dtype=object)


def _paypal_rows(frame: pd.DataFrame) -> tuple[pd.DataFrame, Skips]:
    """Rows that sold nothing left out; a refund of a payment in the file taken off it."""
    kind, why = _paypal_kinds(frame)
    skips: Skips = {int(at): str(why.iloc[at]) for at in np.flatnonzero(kind.eq("other"))}
    txn = _stripped(_col(frame, "Transaction ID"))
    sales = {t: at for at, t in enumerate(txn) if t and kind.iloc[at] == "sale"}
    names = _stripped(_col(frame, "Reference Txn ID"))
    gross = _number(_col(frame, "Gross"))
    back = pd.Series(np.nan, index=frame.index)
    for at in np.flatnonzero(kind.eq("refund")).tolist():
        paid = sales.get(str(names.iloc[at])) if names.iloc[at] else None
        if paid is None:
            continue  # its payment is not here: its own order, taken off its buyer's sales
        amount = abs(float(gross.iloc[at]))
        back.iloc[paid] = (0.0 if pd.isna(back.iloc[paid]) else back.iloc[paid]) + amount
        skips[int(at)] = (
            f"{REFUND_TAKEN_OFF} {names.iloc[at]} ({amount:,.2f}): taken off that payment, "
            "which counts at what it brought less what went back"
        )
    return _with(frame, **{_PAYPAL_REFUNDED: back.round(2)}), skips


def _paypal_buyer(frame: pd.DataFrame) -> pd.Series:
    """The buyer's e-mail: the payer of a payment, the one paid back by a refund."""
    refund = _number(_col(frame, "Gross")).lt(0).to_numpy()
    paid = _email_key(_col(frame, "From Email Address"))
    back = _email_key(_col(frame, "To Email Address"))
    return paid.where(~refund, back)


def _paypal_orders(frame: pd.DataFrame) -> pd.DataFrame:
    gross = _number(_col(frame, "Gross"))
    back = _number(_col(frame, _PAYPAL_REFUNDED)).fillna(0.0)
    status = pd.Series("completed", index=frame.index, dtype=object)
    status = status.where(~((back > 0) & (back < gross - _PAYPAL_CENT)), "partially refunded")
    status = status.where(~((back > 0) & (back >= gross - _PAYPAL_CENT)), "refunded")
    status = status.where(~gross.lt(0), "refund")
    out = _with(frame.drop(columns=[_PAYPAL_REFUNDED], errors="ignore"), refunded=back.where(back > 0),
                contact_id=_paypal_buyer(frame), ordered_at=_paypal_when(frame), status=status)  # fmt: skip
    out.attrs[SAID] = _paypal_zones_unknown(frame)
    return out


def _paypal_zone(frame: pd.DataFrame) -> pd.Series:
    """Each row's TimeZone as written, in capitals ("" when empty)."""
    return _stripped(_col(frame, "TimeZone")).fillna("").map(lambda z: str(z).upper())


def _paypal_when(frame: pd.DataFrame) -> pd.Series:
    """Date and Time, with the offset of the TimeZone the row names where it is known
    ("10/01/2026 23:30:00 -07:00"), so the row is the moment it was, on any business clock."""
    date, time = _col(frame, "Date"), _col(frame, "Time")
    timed = _filled(time) & _filled(date)
    when = date.where(~timed, date.astype(str).str.strip() + " " + time.astype(str).str.strip())
    offset = _paypal_zone(frame).map(_paypal_offsets(frame))
    known = timed & offset.notna()
    return when.where(~known, when.astype(str) + " " + offset.astype(str))


def _paypal_offsets(frame: pd.DataFrame) -> dict[str, str]:
    """The offset ("-06:00") of each TimeZone word the file's rows name that can be read:
    one zone's word, or a shared one the file's other words tell (``_PAYPAL_SEASONS``)."""
    held = set(_paypal_zone(frame)) - {""}
    out: dict[str, str] = {}
    for word in held:
        hours = _PAYPAL_HOURS.get(word)
        for beside, never, told in _PAYPAL_SEASONS.get(word, ()):
            if hours is None and beside in held and never not in held:
                hours = told
        if hours is not None:
            minutes = round(abs(hours) * 60)
            out[word] = f"{'-' if hours < 0 else '+'}{minutes // 60:02d}:{minutes % 60:02d}"
    return out


def _paypal_zones_unknown(frame: pd.DataFrame) -> list[tuple[str, int, str]]:
    """One data check for the rows whose TimeZone names a clock not read here: a word no
    zone writes, or one several write that the file's other rows do not tell apart."""
    zone = _paypal_zone(frame)
    odd = zone.ne("") & ~zone.isin(list(_paypal_offsets(frame))) & _filled(_col(frame, "Time"))
    if not odd.any():
        return []
    n = int(odd.sum())
    words = list(pd.unique(zone[odd]))
    values = "; ".join(_zone_word_meaning(str(v)) for v in words[:3])
    rows = ", ".join(str(r) for r in frame.loc[odd, SOURCE_ROW].head(3))
    it = "its time is" if n == 1 else "their times are"
    return [
        (
            "paypal_time_zone",
            n,
            f"{n:,} PayPal {'row names' if n == 1 else 'rows name'} a TimeZone that is not "
            f"read here ({values}; row{'' if n == 1 else 's'} {rows}{', ...' if n > 3 else ''}): "
            f"{it} read on the business's clock, which is right only if your time_zone is "
            "the zone PayPal meant (set it in the config).",
        )
    ]


def _zone_word_meaning(word: str) -> str:
    """'CST' and the zones it may name, or 'XYZ' as no zone known here."""
    meant = coerce.SHARED_ZONE_WORDS.get(word)
    return f"'{word}', which may be {meant}" if meant else f"'{word}', no zone known here"


def _paypal_buyers(frame: pd.DataFrame) -> pd.DataFrame:
    key = _paypal_buyer(frame)
    people = frame[_filled(key).to_numpy() & ~key.duplicated().to_numpy()]
    first, last = _split_name(_col(people, "Name"))
    country = _col(people, "Country Code")
    return _with(people[[SOURCE_ROW]], contact_id=key[people.index], email=key[people.index],
                 first_name=first, last_name=last, country=country)  # fmt: skip


PAYPAL_ACTIVITY = Layout(
    name="PayPal activity download",
    signature=("Date", "Time", "TimeZone", "Name", "Type", "Status", "Gross", "Transaction ID"),
    tables={
        "orders": LayoutTable(
            _map(
                "Transaction ID -> order_id",
                "Gross -> total",
                "Currency -> currency",
            ),
            _paypal_orders,
        ),
        "contacts": LayoutTable({}, _paypal_buyers),
    },
    prepare=_paypal_rows,
)


LAYOUTS: tuple[Layout, ...] = (
    STRIPE,
    PAYPAL_ACTIVITY,
    SQUARE_TRANSACTIONS,
    SQUARE_ITEMS,
    ETSY_ORDERS,
    ETSY_ITEMS,
    WOOCOMMERCE_ORDERS,
    WOOCOMMERCE_CUSTOMERS,
    QUICKBOOKS,
    XERO,
    MAILCHIMP,
    SHOPIFY_ORDERS,
    SQUARESPACE_ORDERS,
    SHOPIFY_CUSTOMERS,
    SHOPIFY_PRODUCTS,
    ZOHO_DEALS,
    ZOHO_LEADS,
    ZOHO_CONTACTS,
    HUBSPOT_DEALS,
    HUBSPOT_COMPANIES,
    HUBSPOT_CONTACTS,
    PIPEDRIVE_DEALS,
    PIPEDRIVE_PEOPLE,
    EBAY_ORDERS,
    FLAT_SALES,
    UNNUMBERED_LINES,
    HAND_KEPT,
)
