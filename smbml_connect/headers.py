"""Match spreadsheet headers and tab names onto canonical names.

Shared by every spreadsheet-like source (files now, Google Sheets later). Headers are
compared after normalising case, spacing and punctuation, so "E-mail", "Email Address"
and "email_address" all land on ``email``. The user's explicit mapping always wins.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from smbml_connect.coerce import ColumnFormat, _missing
from smbml_connect.consent import is_consent_header, is_opt_out_header
from smbml_connect.errors import ConfigError
from smbml_connect.sale_flags import ON_SALE_HEADERS
from smbml_connect.schema import SHARES, SOURCE_ROW, TABLES, TableSpec
from smbml_connect.secret_columns import is_secret_header

__all__ = [
    "SYNONYMS",
    "HeaderMapping",
    "Merge",
    "header_keys",
    "locate_tables",
    "main_part",
    "map_headers",
    "match_table",
    "normalise",
    "part_refused",
    "table_part",
]

_COMMON = {
    "source": [],
    # Zoho CRM writes "Created Time" and "Modified Time" on every module's export.
    "created_at": ["created", "create date", "created date", "date created", "created on",
                   "createdate", "signup date", "sign up date", "created time"],
    "updated_at": ["updated", "last modified", "last modified date", "modified", "lastmodifieddate",
                   "hs lastmodifieddate", "updated on", "modified time", "last modified time"],
}  # fmt: skip
SYNONYMS: dict[str, dict[str, list[str]]] = {
    "contacts": {
        **_COMMON,
        "contact_id": ["id", "contact id", "customer id", "customer", "record id", "hs object id",
                       "vid", "client id", "customer number", "customer no", "customer #",
                       "client #", "contact #", "lead id"],
        "email": ["e-mail", "email address", "e-mail address", "mail", "email id"],
        "first_name": ["first name", "firstname", "given name", "forename"],
        "last_name": ["last name", "lastname", "surname", "family name"],
        "company": ["company name", "organisation", "organization", "business", "account",
                    "company / account"],
        # Salesforce's leads report says where a lead is in "Lead Status".
        "lifecycle_stage": ["lifecycle stage", "lifecyclestage", "stage", "status", "lead status"],
        "lead_source": ["source", "lead source", "original source", "hs analytics source",
                        "channel", "acquisition channel", "how did you hear about us"],
        "country": ["country/region", "country code", "nation"],
        "industry": ["sector", "business type", "vertical"],
        "last_activity_at": ["last activity", "last activity date", "notes last updated",
                             "last engagement", "last seen", "last activity time"],
        # When the contact became a customer (HubSpot's "Became a Customer Date") or its
        # lead was converted (Salesforce): it dates the conversion the lead score learns.
        # Not "conversion date": HubSpot's "First/Recent Conversion Date" is a form filled in.
        "converted_at": ["became a customer date", "became customer date",
                         "hs lifecyclestage customer date", "lifecyclestage customer date",
                         "converted date", "date converted", "converted on"],
        "page_views": ["page views", "pageviews", "hs analytics num page views", "views"],
        "sessions": ["visits", "number of sessions", "hs analytics num visits"],
        "email_opens": ["email opens", "opens", "emails opened", "hs email open"],
        "email_clicks": ["email clicks", "clicks", "emails clicked", "hs email click"],
        "form_submissions": ["form submissions", "forms", "num conversion events"],
        "marketing_consent": ["consent", "marketing consent", "opt in", "opted in",
                              "subscribed", "accepts marketing", "gdpr consent",
                              "accepts email marketing", "marketing contact status",
                              "email marketing consent", "email consent", "marketing opt in",
                              "email opt in", "marketing opted in", "email subscription status",
                              "marketing status"],
    },
    "deals": {
        **_COMMON,
        "deal_id": ["id", "deal id", "record id", "hs object id", "opportunity id"],
        "name": ["deal name", "dealname", "opportunity", "opportunity name", "title"],
        "amount": ["value", "deal value", "deal amount", "amount usd", "revenue"],
        "currency": ["currency code", "deal currency code"],
        "pipeline": ["deal pipeline"],
        "stage": ["deal stage", "dealstage", "status"],
        "is_closed": ["closed", "is closed", "hs is closed"],
        "is_won": ["won", "is won", "hs is closed won", "closed won"],
        "close_date": ["close date", "closedate", "expected close date", "expected close",
                       "closing date"],  # Zoho CRM's
        # Won and lost times (Pipedrive) are read by the deal's outcome
        # (``layouts.deal_outcomes``), not as synonyms: a file has both.
        "closed_at": ["closed at", "closed date", "date closed", "closed on", "deal closed on",
                      "close time"],
        "owner_id": ["owner", "deal owner", "hubspot owner id", "sales rep", "rep",
                     "opportunity owner"],
        "contact_id": ["contact", "contact id", "customer id", "customer"],
    },
    "deal_stages": {
        "deal_id": ["deal", "deal id", "opportunity", "opportunity id", "record id"],
        "stage": ["deal stage", "dealstage", "status", "to stage", "new stage"],
        "entered_at": ["entered", "date entered", "entered on", "changed at", "date", "timestamp"],
    },
    "orders": {
        "order_id": ["id", "order id", "order number", "order no", "order #", "invoice",
                     "invoice number", "invoice no", "invoice #", "transaction id", "receipt",
                     "amazon order id"],
        "contact_id": ["customer id", "customer", "contact", "contact id", "client id",
                       "customer number", "customer no", "customer #", "client #", "buyer"],
        "ordered_at": ["order date", "date", "ordered", "purchase date", "created at",
                       "invoice date", "transaction date", "created"],
        "total": ["order total", "amount", "total amount", "grand total", "revenue", "value",
                  "sales", "total price"],
        "currency": ["currency code"],
        "status": ["order status", "state", "financial status"],
        # Money that went back on the order ("Refunded" alone may be a yes/no flag).
        "refunded": ["refunded amount", "amount refunded", "refund amount", "refunds",
                     "total refunded", "refunded total", "order refund", "refund total"],
    },
    "order_lines": {
        "order_id": ["order", "order id", "order number", "order no", "order #", "invoice",
                     "invoice number", "invoice no", "invoice #", "transaction id", "receipt",
                     "amazon order id"],
        "line_no": ["line", "line number", "line no", "item no", "position", "#"],
        "product_id": ["product", "product id", "sku", "item", "item id", "article", "product #",
                       "item #", "sku #"],
        "quantity": ["qty", "units", "count", "amount ordered", "quantity ordered",
                     "quantity purchased"],
        "unit_price": ["price", "unit price", "price each", "item price", "rate"],
        "discount": ["discount %", "discount rate", "markdown"],
    },
    "products": {
        "product_id": ["id", "product id", "sku", "item id", "article", "product code", "code",
                       "product #", "item #", "sku #"],
        "name": ["product", "product name", "title", "item", "item name", "description"],
        "price": ["unit price", "list price", "price each", "retail price", "sale price"],
        "unit_cost": ["cost", "unit cost", "cost price", "cogs", "purchase price", "hs cost of goods sold"],
        "category": ["product category", "type", "product type", "group", "department"],
        "on_sale": list(ON_SALE_HEADERS),  # "Status" archived, "Active" FALSE (sale_flags)
        "gift_card": ["is gift card", "giftcard"],
        # the product a variant (size, colour) belongs to: Google Merchant's item group id,
        # WooCommerce's "Parent", a Shopify-like handle
        "variant_of": ["parent", "parent sku", "parent id", "parent product", "item group id",
                       "handle", "product handle"],
    },
    "associations": {
        "from_type": ["from type", "object type"], "from_id": ["from id", "object id"],
        "to_type": ["to type", "associated type"], "to_id": ["to id", "associated id"],
    },
    "activities": {
        "contact_id": ["contact", "customer id", "customer", "contact id"],
        "occurred_at": ["date", "timestamp", "time", "occurred", "when", "event time"],
        "kind": ["type", "event", "activity", "activity type", "event type"],
    },
}  # fmt: skip
TABLE_SYNONYMS: dict[str, list[str]] = {
    "contacts": ["contacts", "contact", "customers", "customer", "leads", "people", "clients"],
    "deals": ["deals", "deal", "opportunities", "pipeline"],
    "deal_stages": ["deal stages", "deal stage history", "stage history", "deal history"],
    "orders": ["orders", "order", "sales", "invoices", "transactions"],
    "order_lines": ["order lines", "order line", "line items", "order items", "lines",
                    "invoice lines", "sales lines"],
    "products": ["products", "product", "items", "catalog", "catalogue", "inventory"],
    "associations": ["associations", "links"],
    "activities": ["activities", "activity", "events", "engagements", "engagement"],
}  # fmt: skip


def normalise(text: object) -> str:
    """'  E-Mail Address ' -> 'e mail address' ; used for every comparison."""
    return re.sub(r"[^0-9a-z#%]+", " ", str(text).lower()).strip()


@dataclass
class Merge:
    """A second header of the same column ("E-mail" beside "Email"): it fills the first's
    empty cells; where both are filled and differ, the first is used and the second kept in
    ``extra``. Counted over what was read, for ``smbml inspect`` and the run's notes."""

    header: str  # the second header
    into: str  # the header that holds the column
    taken: int = 0  # empty cells of ``into`` filled from ``header``
    differ: list[int] = field(default_factory=list)  # rows where both are filled and differ


@dataclass
class HeaderMapping:
    """How a source's headers map onto one canonical table."""

    table: str
    columns: dict[str, str] = field(default_factory=dict)  # source header -> canonical column
    unmapped: list[str] = field(default_factory=list)  # kept in ``extra``
    # A second header for a column another header holds: (header, column, holder); in extra.
    conflicts: list[tuple[str, str, str]] = field(default_factory=list)
    merged: dict[str, Merge] = field(default_factory=dict)  # second header -> its merge
    layout: str | None = None  # the known export recognised by its headers, if any
    made: list[str] = field(default_factory=list)  # columns the layout makes (line numbers)
    # What a header says of its column's format ("Discount %": percentages), for validate.
    formats: dict[str, ColumnFormat] = field(default_factory=dict)
    # Columns the layout worked out because the export lacks them: column -> (how, rows).
    derived: dict[str, tuple[str, int]] = field(default_factory=dict)
    # A contacts header of whole names ("Name", "Customer Name") beside no first or last
    # name: split into both (``split_full_names``).
    full_name: str | None = None

    def describe(self, hidden: Collection[str] | None = None) -> list[str]:
        """One line per header: where it goes. ``hidden``: the columns a run leaves out as
        secrets (``left_out_columns`` of the rows read); without it, each whose header
        names a secret."""
        left_out = (lambda h: h in hidden) if hidden is not None else is_secret_header
        lines = [f"layout: {self.layout}"] if self.layout else []
        lines += [
            f"{source!r} -> {target}{_format_words(self.formats.get(target))}"
            for source, target in self.columns.items()
            if source not in self.made
        ]
        lines += [
            f"{column}: not in the file; {self.derived[column][0]}"
            if column in self.derived
            else f"{column}: made by the layout"
            for column in self.made
        ]
        lines += [f"{h!r} -> {self._merge_text(m)}" for h, m in self.merged.items()]
        if self.full_name is not None:
            lines.append(f"{self.full_name!r} -> {_FULL_NAME_WORDS}")
        lines += [
            f"{h!r} -> {SECRET_WORDS}"
            if left_out(h)
            else f"{h!r} -> extra ({_kept_why(self.table, h)})"
            for h in self.unmapped
        ]
        lines += [
            f"{h!r} -> {SECRET_WORDS}"
            if left_out(h)
            else f"{h!r} -> extra ({self._held(c, holder)})"
            for h, c, holder in self.conflicts
        ]
        return lines

    def _held(self, column: str, holder: str) -> str:
        if holder in self.made:
            return f"{column} is made by the layout"
        if holder in self.columns and column == "on_sale":  # sale_flags.keep_sale_meaning
            return f"read with {holder!r} for on_sale: not for sale in either counts"
        if holder in self.columns:
            return f"{column} is read from {holder!r}"
        return f"the mapping gives {column} to {holder!r}, which is not here"

    def _merge_text(self, merge: Merge) -> str:
        column = self.columns[merge.into]
        text = f"{column} where {merge.into!r} is empty ({_count(merge.taken, 'value')} taken)"
        if merge.differ:
            text += (
                f"; where both are filled and differ ({_rows(merge.differ)}), {merge.into!r} "
                f"is used and {merge.header!r} kept in extra"
            )
        return text

    def notes(self) -> list[tuple[str, str]]:
        """(column, note) for the run: what each second header of a column gave, and each
        column the layout worked out (``derived``)."""
        return [
            (self.columns[m.into], f"{self.columns[m.into]}: {m.header!r} -> {self._merge_text(m)}")
            for m in self.merged.values()
            if m.into in self.columns and (m.taken or m.differ)
        ] + [(c, f"{c}: not in the file; {how}") for c, (how, _) in self.derived.items()]

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with canonical headers, each second header's values merged (``Merge``)."""
        out = frame.rename(columns=self.columns)
        if self.full_name is not None and self.full_name in out.columns:
            first, last = split_full_names(out.pop(self.full_name))
            out = out.assign(first_name=first.to_numpy(), last_name=last.to_numpy())
        for merge in self.merged.values():
            column = self.columns.get(merge.into)
            if column is None or column not in out.columns or merge.header not in out.columns:
                continue
            mine, theirs = out[column], out[merge.header]
            empty, given = _missing(mine), ~_missing(theirs)
            take = empty & given
            differ = ~empty & given & (_plain(mine) != _plain(theirs))
            out[column] = mine.where(~take, theirs)
            out[merge.header] = theirs.where(differ, None)  # in extra only where it differs
            merge.taken += int(take.sum())
            if SOURCE_ROW in out.columns:
                merge.differ += [int(r) for r in out.loc[differ, SOURCE_ROW]]
            else:
                merge.differ += [int(i) + 1 for i in differ.to_numpy().nonzero()[0]]
        return out


# Headers of a contact's whole name: read as first and last name when neither is there.
FULL_NAME_HEADERS = {"name", "full name", "customer name", "client name", "contact name",
                     "name of customer", "customer full name", "contact full name"}  # fmt: skip
SECRET_WORDS = (
    "left out (its header names a password, token or key and its values may be ones: never stored)"
)
_FULL_NAME_WORDS = "first_name and last_name (a full name: the last word is the last name)"


def _full_name(mapping: HeaderMapping) -> str | None:
    """The header of whole names a contacts table without first and last name has."""
    if mapping.table != "contacts" or {"first_name", "last_name"} & set(mapping.columns.values()):
        return None
    return next((h for h in mapping.unmapped if normalise(h) in FULL_NAME_HEADERS), None)


def split_full_names(names: pd.Series) -> tuple[pd.Series, pd.Series]:
    """ "Anna Maria Berg" -> ("Anna Maria", "Berg"), "Clara" -> ("Clara", None): shown again
    as the whole name wherever first and last name are joined. A cell that cannot be read
    (``coerce.UnreadCell``) stays whole in the first name, to be reported."""
    first: list[object] = []
    last: list[object] = []
    for value, empty in zip(names.tolist(), _missing(names).tolist(), strict=True):
        if empty or not isinstance(value, str):
            first.append(None if empty else value)
            last.append(None)
            continue
        parts = " ".join(value.split()).rsplit(" ", 1)
        first.append(parts[0])
        last.append(parts[1] if len(parts) == 2 else None)
    return (
        pd.Series(first, index=names.index, dtype=object),
        pd.Series(last, index=names.index, dtype=object),
    )


def _format_words(fmt: ColumnFormat | None) -> str:
    """What a header says of its column's values, as ``smbml inspect`` shows it: "Discount
    %" holds percentages, "Created date (UTC)" UTC times (not percentages: a reader)."""
    if fmt is None:
        return ""
    if fmt.percent:
        return " (percentages if its values go above 1: 10 is 0.10)"
    if fmt.utc:
        return " (times without an offset are UTC, not your business's clock)"
    return ""


def _count(n: int, word: str) -> str:
    return f"{n:,} {word if n == 1 else word + 's'}"


def _rows(rows: list[int], shown: int = 5) -> str:
    more = f" and {len(rows) - shown:,} more" if len(rows) > shown else ""
    return ("row " if len(rows) == 1 else "rows ") + ", ".join(map(str, rows[:shown])) + more


def _plain(series: pd.Series) -> pd.Series:
    return series.map(lambda v: str(v).strip().casefold())


def _compact(header: str) -> str:
    return normalise(header).replace(" ", "")


def map_headers(
    table: str,
    headers: Iterable[object],
    overrides: Mapping[str, str] | None = None,
    synonyms: bool = True,
) -> HeaderMapping:
    """Map ``headers`` onto ``table``'s canonical columns; ``overrides`` (header -> column) win.

    Without ``synonyms`` only the overrides and exact canonical names are mapped (a known
    export's layout says what each header is). A second header for a column already held
    is merged into it when it is the same name spelled otherwise ("E-mail" and "Email") or
    both hold e-mails (``Merge``), else kept in ``extra`` and listed as a conflict.
    """
    spec = TABLES[table]
    lookup: dict[str, str] = {}
    for column in spec.names:
        lookup.setdefault(normalise(column), column)
    for column, names in SYNONYMS.get(table, {}).items() if synonyms else ():
        if column in spec.names:
            for name in names:
                lookup.setdefault(normalise(name), column)
    by_header = {normalise(k): v for k, v in (overrides or {}).items()}
    mapping = HeaderMapping(table)
    names = [str(h) for h in headers]
    # The user's mapping wins: its headers claim their columns before any synonym is tried.
    taken: dict[str, str] = {}
    for header in names:  # the exact spelling first: "discount" before "Discount"
        if header in (overrides or {}):
            taken.setdefault(by_header[normalise(header)], header)
    for header in names:
        if normalise(header) in by_header:
            taken.setdefault(by_header[normalise(header)], header)
    # Then an exact canonical header ("status") claims its column before a synonym elsewhere.
    canonical = {normalise(c) for c in spec.names}
    for header in names:
        if normalise(header) in canonical - by_header.keys():
            taken.setdefault(lookup[normalise(header)], header)
    chosen = {normalise(h) for h in by_header}
    for header in names:
        key = normalise(header)
        target = by_header[key] if key in by_header else lookup.get(key)
        if target is None and _says_utc(header):  # "Order date (UTC)" is an order date
            target = lookup.get(normalise(_UTC.sub(" ", header)))
            target = target if target and _is_time(spec, target) else None
        if target is None:
            mapping.unmapped.append(header)
            continue
        if key not in by_header and target not in taken and target in by_header.values():
            # The mapping gives this column to a header that is not here: no synonym stands in.
            given = next(h for h in overrides or {} if overrides and overrides[h] == target)
            mapping.conflicts.append((header, target, given))
            continue
        holder = taken.setdefault(target, header)
        if holder == header:
            mapping.columns[header] = target
            if target in SHARES.get(table, ()) and _says_percent(header):
                mapping.formats[target] = ColumnFormat(percent=True)
            elif _is_time(spec, target) and _says_utc(header):
                mapping.formats[target] = ColumnFormat(utc=True)
        elif (
            key not in chosen
            and normalise(holder) not in chosen
            and (_compact(header) == _compact(holder) or spec.column(target).kind == "email")
        ):
            mapping.merged[header] = Merge(header, holder)
        else:
            mapping.conflicts.append((header, target, holder))
    mapping.full_name = _full_name(mapping) if synonyms else None  # an export's are known
    if mapping.full_name is not None:
        mapping.unmapped.remove(mapping.full_name)
    return mapping


def _kept_why(table: str, header: str) -> str:
    """Why a header is kept in extra: a consent or opt-out column is still read there."""
    if table == "contacts" and (is_opt_out_header(header) or is_consent_header(header)):
        return "no canonical column; read for consent: an opt-out there counts"
    return "no canonical column"


def _says_percent(header: str) -> bool:
    """ "Discount %", "Discount (pct)", "discount_percentage": the values are percentages."""
    words = set(normalise(header).replace("%", " % ").split())
    return bool(words & {"%", "percent", "percentage", "pct"})


def _is_time(spec: TableSpec, column: str) -> bool:
    return column in spec.names and spec.column(column).kind == "datetime"


def _says_utc(header: str) -> bool:
    """ "Created date (UTC)", "Timestamp UTC", "Date (GMT)": times without an offset are
    UTC's, whatever the business's clock ("Time (UTC+2)" is another offset: not said)."""
    return _UTC.search(str(header)) is not None


_UTC = re.compile(r"\b(?:utc|gmt)\b(?!\s*[+\-\u2212]\s*\d)", re.IGNORECASE)


def match_table(name: str) -> str | None:
    """The canonical table a tab or file name stands for, if any ("Line Items" -> order_lines)."""
    key = normalise(re.sub(r"\.(csv|xlsx|xlsm|txt|tsv)$", "", name, flags=re.IGNORECASE))
    for table, names in TABLE_SYNONYMS.items():
        if key in {normalise(n) for n in names} or key == normalise(table):
            return table
    return None


_MONTHS = {
    "jan", "january", "feb", "february", "mar", "march", "apr", "april", "may", "jun", "june",
    "jul", "july", "aug", "august", "sep", "sept", "september", "oct", "october", "nov",
    "november", "dec", "december",
}  # fmt: skip
_YEAR = re.compile(r"(?:19|20)\d{2}")
_PERIOD = re.compile(r"(?:19|20)\d{2}(?:0[1-9]|1[0-2])?|q[1-4]|h[12]|fy\d{2}(?:\d{2})?|ytd")


def table_part(name: str) -> str | None:
    """The table a tab or file name stands for once its period is taken off: "Orders 2023",
    "orders_2024-05", "Sales Q1 2024", "Orders March" -> orders; None for a name without a
    period or whose rest names no table."""
    stem = re.sub(r"\.(csv|xlsx|xlsm|txt)$", "", name, flags=re.IGNORECASE)
    words = normalise(stem).split()
    periods = {w for w in words if _PERIOD.fullmatch(w) or w in _MONTHS}
    if not periods:
        return None
    dated = any(_YEAR.fullmatch(w) for w in words)  # "2024 05": the 05 is a month
    rest = [w for w in words if w not in periods and not (dated and w.isdigit() and len(w) <= 2)]
    return match_table(" ".join(rest)) if rest else None


def main_part(names: list[str], headers: Mapping[str, frozenset[str]]) -> str:
    """Of files or tabs that each hold a period of one table, the one whose rows the others
    join: the first of the header set most of them share, empty ones left aside. Names
    sort the oldest year first and people add a new year's tab on the left, so an older
    layout (exports gain columns) or an empty one must not turn the others away."""
    filled = [name for name in names if headers[name]]
    if not filled:
        return names[0]
    keys = {n: header_keys(headers[n]) for n in filled}
    counts = {k: sum(keys[n] == k for n in filled) for k in keys.values()}
    return next(n for n in filled if counts[keys[n]] == max(counts.values()))


def header_keys(headers: Iterable[str]) -> frozenset[str]:
    """Headers as compared between a table's parts: "Order ID", "order id" and "Order_ID"
    are one column (a year exported by another tool or retyped by hand)."""
    return frozenset(normalise(h) for h in headers)


def part_refused(table: str, main: str, mine: set[str], theirs: set[str]) -> str | None:
    """Why a file or tab that looks like more rows of ``table`` by period is not read with
    ``main`` (its headers differ), or None when they are the same (``header_keys``)."""
    if header_keys(mine) == header_keys(theirs):
        return None
    lacks = sorted(h for h in theirs if normalise(h) not in header_keys(mine))
    has = sorted(h for h in mine if normalise(h) not in header_keys(theirs))
    differ = [f"lacks {', '.join(map(repr, lacks))}"] if lacks else []
    differ += [f"has {', '.join(map(repr, has))}"] if has else []
    return (
        f"it looks like more {table.replace('_', ' ')} ({main!r} gives them), but its "
        f"headers differ ({'; '.join(differ)}): give both the same headers to read them "
        "together"
    )


def locate_tables(
    configured: Mapping[str, str], names: list[str], where: str, noun: str = "sheet or file"
) -> dict[str, str]:
    """Table -> tab (or file) name: the config's choices first, then names that say the table.

    A configured name that is not there is an error naming ``where`` (the workbook or
    spreadsheet) and listing the names that are.
    """
    located: dict[str, str] = {}
    for table, name in configured.items():
        if name not in names:
            raise ConfigError(
                f"source.tables.{table}: no {noun} {name!r} in {where} (not found among: "
                f"{', '.join(names)})"
            )
        located[table] = name
    for name in names:
        matched = match_table(name)
        if matched and matched not in located:
            located[matched] = name
    return located
