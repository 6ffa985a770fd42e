"""Data checks: what is odd in the loaded tables, said once, before any step runs.

Pure: the live tables, the run's date and its rejects in; the tables the steps may use,
the rows left out and the notices out. Nothing here changes a value. Orders and
activities dated after the run's moment (the end of its day when as_of is a date) are
left out of the steps, which count up to that same moment, and listed as rejects: they
stay in the store, so a later run with a later date uses them. Everything else is kept
and counted. Which orders are not sales is ``sales.why_not_sale``, the same function
every analytic leaves them out with, so the count said is the count left out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from smbml_connect import sales
from smbml_connect.business_zone import clock_words, data_end
from smbml_connect.coerce import UNSAVED_FORMULA
from smbml_connect.layouts import SKIPPED
from smbml_connect.money_words import money_text
from smbml_connect.ports import Notice, cleared_in_kept_rows
from smbml_connect.sale_flags import unread_notice
from smbml_connect.schema import FILE, REJECT_COLUMNS, STORED_ROW, TABLES, key_values

__all__ = [
    "STALE_AFTER",
    "Checked",
    "check_data",
    "data_ends_early",
]

STALE_AFTER = pd.Timedelta(days=90)  # a quarter with no order at all: the data stopped
# The dated tables whose rows are events; a contact or deal created "in the future" is
# kept (its other fields still hold), an order or activity that has not happened is not.
EVENT_DATES = {"orders": ("ordered_at", "order"), "activities": ("occurred_at", "activity")}
NUMBER_KINDS = frozenset({"int", "count", "float"})
BOOKED_KINDS = frozenset({"meeting"})  # an activity a diary holds before it happens
BOOKED_AHEAD = pd.Timedelta(days=365)
FUTURE_ACTION = "row not used"


@dataclass
class Checked:
    tables: dict[str, pd.DataFrame]
    rejects: pd.DataFrame  # the rows left out, as rejects rows
    notices: list[Notice] = field(default_factory=list)


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else many or word + 's'}"


def _utc(stamp: pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(stamp)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _dates(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    return pd.to_datetime(frame[column], utc=True, errors="coerce")


def data_ends_early(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.Timestamp | None:
    """The newest order date when it is more than STALE_AFTER before ``as_of``, else None;
    on ``as_of``'s clock (the business's), since it is shown as a date to set as_of to."""
    dates = _dates(orders, "ordered_at")
    dates = dates[dates <= _utc(as_of)]
    if dates.empty or dates.isna().all():
        return None
    newest = dates.max()
    if _utc(as_of) - newest <= STALE_AFTER:
        return None
    return newest.tz_convert(pd.Timestamp(as_of).tz or "UTC")


def _moment_words(stamp: pd.Timestamp) -> str:
    """The run's moment as a person says it: "the end of 13 December 2025 (the run's
    date)" for a run dated a day, "14:35 UTC on 7 December 2026 (the run's time)" else."""
    end = data_end(stamp)
    if end != stamp:
        day = end - pd.Timedelta(days=1)
        return f"the end of {day.day} {day:%B %Y} (the run's date)"
    return f"{stamp:%H:%M} {clock_words(stamp.tz)} on {stamp.day} {stamp:%B %Y} (the run's time)"


def _booked(frame: pd.DataFrame, dates: pd.Series, as_of: pd.Timestamp) -> np.ndarray:
    """A CRM's meetings booked ahead (a record with its id, in the diary up to a year
    out): not data dated wrongly, so not listed; they count once they happen. A file's
    meeting dated ahead (a mistyped year) is listed as any other row."""
    if "kind" not in frame.columns or "activity_id" not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    soon = dates <= _utc(as_of) + BOOKED_AHEAD
    kinds = frame["kind"].astype(object).fillna("").astype(str).str.strip().str.lower()
    ids = frame["activity_id"].astype(object).fillna("").astype(str).str.strip() != ""
    return (kinds.isin(BOOKED_KINDS) & soon & ids).to_numpy()


def _future(
    tables: dict[str, pd.DataFrame], as_of: pd.Timestamp, guessed: bool = True
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, list[Notice]]:
    limit = _utc(as_of)  # the steps count up to it: no row is neither counted nor listed
    zone = pd.Timestamp(as_of).tz or "UTC"  # times are shown on the business's clock
    shown = _moment_words(limit.tz_convert(zone))
    view, found, notices = dict(tables), [], []
    for table, (column, noun) in EVENT_DATES.items():
        frame = tables.get(table)
        if frame is None or frame.empty:
            continue
        late = (_dates(frame, column) > limit).to_numpy()
        if not late.any():
            continue
        view[table] = frame[~late].reset_index(drop=True)
        booked = _booked(frame, _dates(frame, column), as_of)
        late &= ~booked  # left out until they happen, as nothing is wrong with them
        if not late.any():
            continue
        rows = frame[late]
        spec = TABLES[table]
        found.append(
            pd.DataFrame(
                {
                    "table": table,
                    "source": rows.get("source"),
                    "source_row": _stored_rows(rows),
                    "column": column,
                    "value": _dates(rows, column).dt.tz_convert(zone).dt.strftime("%Y-%m-%d %H:%M"),
                    "reason": [
                        f"{noun} {' '.join(key_values(spec, r).values())}: dated after "
                        f"{shown}, not used until a run dated later"
                        for _, r in rows.iterrows()
                    ],
                    "action": FUTURE_ACTION,
                    "row": [json.dumps(_late_row(spec, r)) for _, r in rows.iterrows()],
                },
                columns=REJECT_COLUMNS,
            )
        )
        notices.append(
            Notice(
                "future_dates",
                table,
                int(late.sum()),
                f"{_plural(int(late.sum()), noun, table)} dated after {shown}, e.g. "
                f"{_dates(rows, column).max().tz_convert(zone):%Y-%m-%d}: "
                "not used (listed in Rejects)."
                + _clock_hint(_dates(rows, column), limit, zone, guessed),
            )
        )
    if "orders" in view and len(view["orders"]) < len(tables["orders"]):
        kept = set(view["orders"]["order_id"])
        lines = tables["order_lines"]
        view["order_lines"] = lines[lines["order_id"].isin(kept)].reset_index(drop=True)
    rejects = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=REJECT_COLUMNS)
    return view, rejects, notices


def _stored_rows(rows: pd.DataFrame) -> list[Any]:
    """The row each was read from (``schema.ROWS_KEPT``), None where the source has none."""
    if STORED_ROW not in rows.columns:
        return [None] * len(rows)
    return list(rows[STORED_ROW].astype("Int64").to_numpy(dtype=object, na_value=None))


def _late_row(spec: Any, row: pd.Series) -> dict[str, str]:
    """A late row's key, with the file it was read from (kept in extra when the table came
    from several, ``schema.FILE``): its reject named the store's source id alone, the file
    and row the data checks sent the owner to unnamed (review54 item 6)."""
    out = key_values(spec, row)
    extra = row.get("extra")
    try:
        kept = json.loads(extra) if isinstance(extra, str) and extra else {}
    except ValueError:
        kept = {}
    if isinstance(kept, dict) and kept.get(FILE) not in (None, ""):
        out[FILE] = str(kept[FILE])
    return out


# The most a business's clock runs ahead of UTC (Kiribati, UTC+14).
AHEAD_OF_UTC = pd.Timedelta(hours=14)


def _clock_hint(late: pd.Series, limit: pd.Timestamp, zone: Any, guessed: bool = True) -> str:
    """A shop east of UTC with no time zone set had this morning's orders listed as after
    the run (its times read as UTC; the one-day grace that hid it is gone): when every
    late row lies within a clock's reach of UTC, say how to set the shop's clock. Not to
    a shop whose UTC was chosen (``guessed`` False: its config's ``time_zone = "UTC"``)."""
    if not guessed or str(zone) != "UTC" or late.empty or (late.max() - limit) > AHEAD_OF_UTC:
        return ""
    return (
        " If those times are your shop's own clock, not UTC, set it at the top of your "
        'config (e.g. time_zone = "Asia/Tokyo") and they count as the times they are.'
    )


def _not_sales(tables: Mapping[str, pd.DataFrame], currency: str = "") -> list[Notice]:
    notices = []
    orders = tables.get("orders", pd.DataFrame())
    if len(orders):
        why = sales.why_not_sale(orders)
        n = int(why.notna().sum())
        if n:
            notices.append(
                Notice(
                    "not_sales",
                    "orders",
                    n,
                    f"{_plural(n, 'order')} {'is' if n == 1 else 'are'} not "
                    f"{'a sale' if n == 1 else 'sales'} ({sales.describe(why)}): kept, not "
                    "counted as sales in segments, customer value, suggestions, forecasts, "
                    "prices or lead conversions.",
                )
            )
        notices += _refunds(orders, why, currency)
        unknown = sales.unknown_statuses(orders)
        if len(unknown):
            n = int(unknown.sum())
            shown = ", ".join(f"{s!r} ({c:,})" for s, c in unknown.head(5).items())
            notices.append(
                Notice(
                    "unknown_statuses",
                    "orders",
                    n,
                    f"{_plural(n, 'order')} with a status not known to mean a sale or not "
                    f"({shown}{', ...' if len(unknown) > 5 else ''}): counted as sales. An "
                    "order that is not one needs a status such as cancelled, refunded or failed.",
                )
            )
    lines = tables.get("order_lines", pd.DataFrame())
    if len(lines) and "quantity" in lines:
        n = int(pd.to_numeric(lines["quantity"], errors="coerce").lt(0).fillna(False).sum())
        if n:
            notices.append(
                Notice(
                    "negative_quantities",
                    "order_lines",
                    n,
                    f"{_plural(n, 'order line')} with a negative quantity (returns): kept, not "
                    "counted as sales in forecasts, prices or suggestions.",
                )
            )
    return notices


def _money(amount: float, currency: str = "") -> str:
    return money_text(amount, currency, cents=True)


def _refunds(orders: pd.DataFrame, why: pd.Series, currency: str = "") -> list[Notice]:
    """Sales partly refunded (counted net of it) and credit documents no sale could take."""
    back = sales.refunds(orders)
    sale = why.isna().to_numpy(dtype=bool)
    partly = sale & (back.total > 0).to_numpy()
    notices = []
    n = int(partly.sum())
    if n:
        credited = back.credited[partly]
        by_credits = (
            f", {_money(float(credited.sum()), currency)} of it from credit notes or refunds taken off "
            f"{_plural(int((credited > 0).sum()), 'sale')} (each off its customer's latest "
            "earlier sale)"
            if (credited > 0).any()
            else ""
        )
        notices.append(
            Notice(
                "partial_refunds",
                "orders",
                n,
                f"{_plural(n, 'sale')} partly refunded ({_money(float(back.total[partly].sum()), currency)}"
                f" back in all{by_credits}): each is counted at its total less what went "
                "back, in segments, clusters, customer value and the sales forecast; its "
                "line items stay as "
                "sold (a refund without line detail does not say which lines it was for).",
            )
        )
    notices += _over_refunded(orders, back.own, why, currency)
    lost = back.unmatched > 0
    m = int(lost.sum())
    if m:
        notices.append(
            Notice(
                "unmatched_credits",
                "orders",
                m,
                f"{_plural(m, 'credit note or refund', 'credit notes or refunds')} "
                f"({_money(float(back.unmatched[lost].sum()), currency)}) not taken off any sale: no "
                "sale of the same customer on or before its date (or no customer) had that "
                "much left. Kept, not counted as sales.",
            )
        )
    return notices


def _over_refunded(
    orders: pd.DataFrame, own: pd.Series, why: pd.Series, currency: str = ""
) -> list[Notice]:
    """Orders whose own refund is more than their total: counted as refunded in full, so
    the rest of the refund is in no figure. A typo, or a refund booked to the wrong order:
    either way the user should see it, row, column and value."""
    if "total" not in orders or sales.REFUNDED_AMOUNT not in orders:
        return []
    total = pd.to_numeric(orders["total"], errors="coerce").astype(float)
    refunded = (why.isna() | why.eq(sales.REFUNDED)).to_numpy(dtype=bool)  # not a cancellation
    over = refunded & (total.gt(0) & own.astype(float).gt(total + sales.CENT)).to_numpy(bool)
    n = int(over.sum())
    if not n:
        return []
    ids = orders["order_id"].astype(str).to_numpy()[over]
    shown = "; ".join(
        f"{i}: {_money(r, currency)} refunded on a total of {_money(t, currency)}"
        for i, r, t in zip(ids[:5], own[over][:5], total[over][:5], strict=True)
    )
    extra = float((own[over] - total[over]).sum())
    return [
        Notice(
            "refund_over_total",
            "orders",
            n,
            f"{_plural(n, 'order')} with a {sales.REFUNDED_AMOUNT} amount larger than "
            f"{'its' if n == 1 else 'their'} total ({shown}{'; ...' if n > 5 else ''}): counted as refunded in full, so "
            f"{_money(extra, currency)} of refunds counts in no figure. If a refund was booked to the "
            "wrong order, move it there.",
        )
    ]


def _unknown_contacts(tables: Mapping[str, pd.DataFrame]) -> list[Notice]:
    orders, contacts = tables.get("orders", pd.DataFrame()), tables.get("contacts", pd.DataFrame())
    if orders.empty or contacts.empty or "contact_id" not in orders:
        return []  # without a contacts table no order could name a known one: nothing to say
    known = set(contacts["contact_id"].dropna().astype(str))
    orders = orders[sales.is_sale(orders).to_numpy()]  # the others are counted in no sales
    ids = orders["contact_id"].astype("string")
    unknown = ids.isna() | ~ids.isin(known).fillna(False)
    n = int(unknown.sum())
    if not n:
        return []
    return [
        Notice(
            "unknown_contacts",
            "orders",
            n,
            f"{_plural(n, 'order')} with no known contact (no contact id, or one that is not "
            "among the contacts): kept, counted in sales, not in any customer's history.",
        )
    ]


def _sales_without_amount(tables: Mapping[str, pd.DataFrame]) -> list[Notice]:
    """Sales with no total: counted as orders, in no money figure (a blank total read as
    nothing, unsaid; with fewer than half known the money steps say so instead,
    ``sales.no_amounts``). An unreadable total is also said by ``text_in_numbers``."""
    orders = tables.get("orders", pd.DataFrame())
    if orders.empty or "total" not in orders:
        return []
    sold = orders[sales.is_sale(orders).to_numpy()].drop_duplicates("order_id")
    missing = int(sales.net_total(sold).isna().sum())
    if not missing:
        return []
    return [
        Notice(
            "sales_without_amount",
            "orders",
            missing,
            f"{missing:,} of {_plural(len(sold), 'sale')} have no total that can be read: "
            "counted as orders, in no money figure (spend, value and revenue leave them out).",
        )
    ]


def _deals_of_unknown_contacts(tables: Mapping[str, pd.DataFrame]) -> list[Notice]:
    """Deals naming a contact id no contact has: 3,000 deals of a HubSpot export pointed at
    the contacts of a file set aside (its people were not loaded), and nothing said so. A
    deal with no contact at all is ordinary (a company's deal) and not counted."""
    deals, contacts = tables.get("deals", pd.DataFrame()), tables.get("contacts", pd.DataFrame())
    if deals.empty or contacts.empty or "contact_id" not in deals:
        return []
    known = set(contacts["contact_id"].dropna().astype(str))
    ids = deals.drop_duplicates("deal_id")["contact_id"].astype("string")
    unknown = ids.notna() & ~ids.isin(known).fillna(False)
    n = int(unknown.sum())
    if not n:
        return []
    example = str(ids[unknown].iloc[0])
    return [
        Notice(
            "unknown_deal_contacts",
            "deals",
            n,
            f"{_plural(n, 'deal')} {'names' if n == 1 else 'name'} a contact that is not "
            f"among the contacts (e.g. {example!r}): scored without what that contact did; "
            "check that the contacts the deals point to are loaded.",
        )
    ]


def _text_in_numbers(rejects: pd.DataFrame) -> list[Notice]:
    """Values cleared from number columns, a line per table and reason: a yen shop's
    "¥14,300" that fits either decimal mark was called "text", pointing at the wrong fix."""
    if rejects.empty:
        return []
    numeric = {
        (table, column.name)
        for table, spec in TABLES.items()
        for column in spec.columns
        if column.kind in NUMBER_KINDS
    }
    unsaved = rejects["reason"].astype(str).str.contains(UNSAVED_FORMULA, regex=False)
    cleared = cleared_in_kept_rows(rejects[~unsaved])  # not text: formulas; rows kept
    notices = []
    for table, group in cleared.groupby("table", sort=False):
        hits = group[[(table, c) in numeric for c in group["column"]]]
        if hits.empty:
            continue
        pairs = zip(hits["reason"], hits["column"], strict=True)
        why = pd.Series([_why_cleared(str(r), str(c)) for r, c in pairs], index=hits.index)
        for reason, same in hits.groupby(why, sort=False):
            notices.append(_cleared_notice(str(table), same, str(reason)))
    return notices


_AMBIGUOUS = "could be thousands or decimals"  # coerce's reason for "3,000" with no mark known
_NOT_A_NUMBER = ("is not a number", "is not a whole number")


def _why_cleared(reason: str, column: str) -> str:
    """A reject's reason without the column's name it starts with."""
    reason = reason.removeprefix(f"{column} ")
    if reason.startswith(_AMBIGUOUS):
        return _AMBIGUOUS
    return "text" if reason.startswith(_NOT_A_NUMBER) else reason


def _cleared_notice(table: str, hits: pd.DataFrame, why: str) -> Notice:
    first = hits.iloc[0]
    n, column, where = len(hits), str(first["column"]), table.replace("_", " ")
    example = f"{column} = '{first['value']}'"
    if why == "text":
        said = f"{'was' if n == 1 else 'were'} text, e.g. {example}: left empty"
    elif why == _AMBIGUOUS:
        said = (
            f"{_AMBIGUOUS} (no value in the column shows its decimal mark), e.g. {example}: "
            f'left empty; to state it: [source.formats.{table}] {column} = "decimal=." '
            '(or "decimal=,")'
        )
    else:
        said = f"{'was' if n == 1 else 'were'} left empty, e.g. {example}: {why}"
    return Notice(
        "text_in_numbers",
        table,
        n,
        f"{_plural(n, 'value')} in number columns of {where} {said} (listed in Rejects).",
    )


def _unread_on_sale(rejects: pd.DataFrame) -> list[Notice]:
    """Products whose for-sale column says something not understood (``sale_flags``)."""
    return [Notice("unread_on_sale", "products", *said) for said in unread_notice(rejects)]


def _supplier_bills(rejects: pd.DataFrame) -> list[Notice]:
    """Supplier bills read with sales invoices (a Xero export holds both): each was left
    out with a reason naming the bill, so the reasons count the bills."""
    if rejects.empty:
        return []
    rows = rejects[
        rejects["action"].eq(SKIPPED)
        & rejects["reason"].astype(str).str.startswith(sales.SUPPLIER_BILL)
    ]
    if rows.empty:
        return []
    n = int(rows["reason"].nunique())
    return [
        Notice(
            "supplier_bills",
            str(rows["table"].iloc[0]),
            n,
            f"{_plural(n, 'supplier bill')} ({_plural(len(rows), 'row')}) left out: bills are "
            "purchases from suppliers (accounts payable), not sales (listed in Rejects).",
        )
    ]


def _not_sale_rows(rejects: pd.DataFrame) -> list[Notice]:
    """A payment account's rows that sold nothing (a PayPal withdrawal, fee or hold) and its
    refunds taken off the payments they name: one line, each kind counted."""
    if rejects.empty:
        return []
    reason = rejects["reason"].astype(str)
    skipped = rejects["action"].eq(SKIPPED)
    other = reason[skipped & reason.str.startswith(sales.NOT_A_SALE_ROW)]
    taken = reason[skipped & reason.str.startswith(sales.REFUND_TAKEN_OFF)]
    if other.empty and taken.empty:
        return []
    parts = []
    if not other.empty:
        kinds = other.str.extract(r"^[^(]*\((.*?)\):", expand=False).fillna("other")
        shown = ", ".join(f"{n:,} {k}" for k, n in kinds.value_counts().head(4).items())
        more = ", ..." if kinds.nunique() > 4 else ""
        parts.append(
            f"{_plural(len(other), 'row')} that moved money but "
            f"{'is' if len(other) == 1 else 'are'} neither a sale nor a refund ({shown}{more}): "
            "left out"
        )
    if not taken.empty:
        parts.append(
            f"{_plural(len(taken), 'refund')} taken off the "
            f"{'payment it names' if len(taken) == 1 else 'payments they name'}"
        )
    return [
        Notice(
            "not_sale_rows",
            str(rejects.loc[other.index.union(taken.index), "table"].iloc[0]),
            len(other) + len(taken),
            f"{'; '.join(parts)[:1].upper()}{'; '.join(parts)[1:]} (listed in Rejects).",
        )
    ]


def _stale(tables: Mapping[str, pd.DataFrame], as_of: pd.Timestamp) -> list[Notice]:
    newest = data_ends_early(tables.get("orders", pd.DataFrame()), as_of)
    if newest is None:
        return []
    days = (_utc(as_of) - newest).days
    return [
        Notice(
            "data_ends_early",
            "orders",
            days,
            f"The newest order is dated {newest:%Y-%m-%d}, {days:,} days before the run's date "
            f"({as_of:%Y-%m-%d}): no sales forecast is made, and scores describe customers as "
            "they were then. Load newer orders, or set as_of in [analytics] to that date.",
        )
    ]


def check_data(
    tables: dict[str, pd.DataFrame],
    as_of: pd.Timestamp,
    rejects: pd.DataFrame,
    currency: str = "",
    zone_guessed: bool = True,
) -> Checked:
    """The tables the steps may use, the rows left out, and what people should know
    (money in ``currency``, as every other line of the run writes it; ``zone_guessed``:
    no one chose the run's zone, ``BusinessZone.guessed``)."""
    view, left_out, notices = _future(tables, as_of, zone_guessed)
    notices += _not_sales(view, currency) + _unknown_contacts(view) + _text_in_numbers(rejects)
    notices += _deals_of_unknown_contacts(view) + _sales_without_amount(view)
    notices += _supplier_bills(rejects) + _unread_on_sale(rejects) + _not_sale_rows(rejects)
    notices += _stale(view, as_of)
    return Checked(view, left_out, notices)
