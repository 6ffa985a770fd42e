"""What counts as a sale, and how much it brought: one definition for the data checks and
every analytic.

An order is not a sale when its status says the money never came or went back
(refunded, cancelled, voided, failed, a draft) or when its total is negative (a refund
or credit note written as its own order). The data checks count these orders with the
same function the analytics leave them out with, so what the run says is what was
counted. Statuses are compared as words ("Partially_refunded" is "partially refunded").

The statuses are those real exports write. Checked in the search tools against the
vendor's list: Shopify's financial statuses (OrderDisplayFinancialStatus: pending,
authorized, partially paid, paid, partially refunded, refunded, voided, expired),
WooCommerce's order statuses (its OrderStatus enum: pending payment, processing, on hold,
completed, cancelled, refunded, failed, checkout-draft), Square's order states (open,
completed, canceled, draft) and payment statuses (approved, pending, completed, canceled,
failed). Xero's invoice statuses (DRAFT, SUBMITTED, AUTHORISED, PAID, VOIDED, DELETED) and
its export's "Awaiting Payment" come from pages describing its API and a tool writing its
export; QuickBooks' transaction types from readers of its report. No Stripe page with the
Dashboard's statuses was found: "Paid", "Refunded", "Failed" and "Uncaptured" are written
as a review's copy of its payments export writes them; "Canceled", "Blocked",
"Incomplete" and "Disputed" are Stripe's Dashboard words, not checked here.

Two readings are choices. An order awaiting payment (Shopify "pending" and "authorized",
Square "approved", Xero "Awaiting Payment", WooCommerce "on hold") is a sale: the buyer
committed to it, and an approved invoice is income in the books. WooCommerce's "Pending payment"
is not: it is a checkout that was never paid (WooCommerce cancels it when its stock hold
runs out, and leaves it out of its own revenue by default). Stripe's "Uncaptured" is not
either: an authorisation that moved no money (Stripe releases it unless captured).

Revenue is net of refunds (``net_total``): an order's total less the money that went back
on it, which is its own refunded amount (``refunded``: Stripe's "Amount Refunded", Shopify's
"Refunded Amount", Etsy's total less its adjusted total) plus the credit documents taken
off it. A credit document (a QuickBooks credit memo or refund receipt, a Xero credit note, a
Square refund row: its own order with a negative total) names no invoice in these exports,
so it is taken off its customer's latest sale on or before its date, then the one before
(``refunds``); the customer's net spend is right whichever of their sales it lands on, and
the latest earlier sale is the one a refund most often follows. What no earlier sale of the
customer can take (no customer, no earlier sale) is taken off nothing and counted. An order
whose money all went back is not a sale (refunded). Line items are left as sold: a refund
without line detail does not say which lines it was for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from smbml_connect.coerce import coerce_datetime

__all__ = [
    "CREDIT_DOCUMENTS",
    "KINDS",
    "NOT_A_SALE_ROW",
    "NOT_SALE_STATUSES",
    "REFUNDED_AMOUNT",
    "REFUND_TAKEN_OFF",
    "SALE_STATUSES",
    "SUPPLIER_BILL",
    "Refunds",
    "describe",
    "is_sale",
    "net_total",
    "no_amounts",
    "product_sale_days",
    "refunds",
    "sale_lines",
    "status_key",
    "unknown_statuses",
    "why_not_sale",
]

REFUNDED, CANCELLED, UNPAID, DRAFT, NEGATIVE = (
    "refunded", "cancelled", "unpaid", "draft", "negative total"
)  # fmt: skip
# Each reason in the words the data check uses, in the order it lists them.
KINDS: Mapping[str, str] = {
    REFUNDED: "refunded, returned or charged back",
    CANCELLED: "cancelled, voided or deleted",
    UNPAID: "never paid (payment failed or declined, or never taken)",
    DRAFT: "drafts or quotes never placed",
    NEGATIVE: "with a negative total (money back)",
}


def _kinds(kind: str, *statuses: str) -> dict[str, str]:
    return dict.fromkeys(statuses, kind)


NOT_SALE_STATUSES: Mapping[str, str] = {
    **_kinds(
        REFUNDED, "refunded", "refund", "fully refunded", "returned", "return", "chargeback",
        "charged back", "chargedback", "disputed", "reversed",
        # A credit note is a refund written as its own document (Xero, QuickBooks).
        "credit note", "sales credit note", "accreccredit", "credit memo", "refund receipt",
    ),
    **_kinds(
        CANCELLED, "cancelled", "canceled", "void", "voided", "deleted", "trash", "expired",
    ),
    **_kinds(
        UNPAID, "failed", "payment failed", "declined", "denied", "rejected", "blocked",
        "uncaptured", "incomplete", "requires payment method", "requires action",
        "requires confirmation", "abandoned", "pending payment",
    ),
    **_kinds(
        DRAFT, "draft", "checkout draft", "auto draft", "quote", "estimate",
        "awaiting approval",
    ),
}  # fmt: skip
# Statuses known to be sales: any other status is counted as a sale too, and said.
SALE_STATUSES = frozenset(
    {
        "paid", "partially paid", "partially refunded", "partial refund", "pending",
        "authorized", "authorised", "approved", "awaiting payment", "unpaid", "on hold",
        "processing", "completed", "complete", "succeeded", "success", "successful",
        "captured", "settled", "fulfilled", "partially fulfilled", "unfulfilled", "shipped",
        "delivered", "open", "closed", "sent", "invoice", "sales invoice", "accrec",
        "sales receipt", "invoiced", "sale", "payment", "confirmed", "accepted", "active",
    }
)  # fmt: skip
# Statuses of a document that is itself money back on an earlier sale, whatever the sign
# its amount is written with: QuickBooks' credit memo and refund receipt, Xero's credit note.
# Any other refund with a negative total (Square's refund row) is one too; "refund" with a
# positive total may be a refunded order, so it is not in this list.
CREDIT_DOCUMENTS = frozenset(
    {"credit note", "sales credit note", "accreccredit", "credit memo", "refund receipt"}
)
# The orders column of money that went back on the order (a positive amount).
REFUNDED_AMOUNT = "refunded"
CENT = 0.005  # amounts this close count as equal (money is written to the cent)
# The start of the reason a supplier bill is left out with (a Xero export holds both);
# the data checks count those rows by it.
SUPPLIER_BILL = "supplier bill"
# The start of the reason a payment account's row that moved money but sold nothing is
# left out with (a PayPal withdrawal to the bank, a fee, a hold, a payment the shop sent),
# then its kind in parentheses; the data checks count those rows by it.
NOT_A_SALE_ROW = "neither a sale nor a refund"
# The start of the reason a refund row is listed with once taken off the payment it names.
REFUND_TAKEN_OFF = "refund of payment"


def status_key(value: Any) -> str:
    """A status as words: 'Partially_Refunded' and 'partially-refunded' are one status."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    return re.sub(r"[^0-9a-z]+", " ", str(value).lower()).strip()


def _column(orders: pd.DataFrame, name: str) -> pd.Series:
    return orders[name] if name in orders.columns else pd.Series(None, index=orders.index)


def _status_keys(orders: pd.DataFrame) -> pd.Series:
    """Each order's status key, read once per distinct status."""
    status = _column(orders, "status")
    codes, uniques = pd.factorize(status, use_na_sentinel=True)
    keys = [status_key(u) for u in uniques]
    return pd.Series([keys[c] if c >= 0 else "" for c in codes], index=orders.index, dtype=object)


def _by_status(orders: pd.DataFrame) -> pd.Series:
    """Per order, why its status or sign says it is not a sale, or NaN."""
    kind = _status_keys(orders).map(NOT_SALE_STATUSES)
    total = _numbers(orders, "total")
    negative = total.lt(0).to_numpy(dtype=bool)  # a missing total is no refund
    return kind.where(kind.notna() | ~negative, NEGATIVE)


def _numbers(orders: pd.DataFrame, name: str) -> pd.Series:
    return pd.to_numeric(_column(orders, name), errors="coerce").astype("float64")


@dataclass(frozen=True)
class Refunds:
    """Money back per order (each a Series on the orders' index, 0.0 where none)."""

    own: pd.Series  # the order's own refunded amount (as positive money)
    credited: pd.Series  # credit documents taken off this sale
    credit: pd.Series  # a credit document's amount (0.0 for other orders)
    unmatched: pd.Series  # the part of a credit document no sale took

    @property
    def total(self) -> pd.Series:
        """What went back on each order: its own refund plus the credits it took."""
        return self.own + self.credited


def refunds(orders: pd.DataFrame, kind: pd.Series | None = None) -> Refunds:
    """The money that went back on each order, and where each credit document went.

    A credit document (a negative total that is a refund, or a status of
    ``CREDIT_DOCUMENTS``) is taken off its customer's sales dated on or before it, latest
    first, each down to nothing; see the module's docstring for why.
    """
    kind = _by_status(orders) if kind is None else kind
    total = _numbers(orders, "total")
    own = _numbers(orders, REFUNDED_AMOUNT).abs().fillna(0.0)
    zero = pd.Series(0.0, index=orders.index)
    document = _status_keys(orders).isin(CREDIT_DOCUMENTS)
    is_credit = ((total.lt(0) & kind.isin([REFUNDED, NEGATIVE])) | document) & total.ne(0)
    credit = total.abs().where(is_credit.to_numpy(), 0.0).fillna(0.0)
    if not (credit > 0).any():
        return Refunds(own, zero, credit, zero.copy())
    unmatched, credited = credit.copy(), zero.copy()
    contact = _column(orders, "contact_id")
    when = _column(orders, "ordered_at")
    if not isinstance(when.dtype, pd.DatetimeTZDtype):
        when = coerce_datetime(when)[0]
    sale = (kind.isna() & total.gt(0) & contact.notna() & when.notna()).to_numpy()
    room = (total - own).clip(lower=0.0).where(sale, 0.0).fillna(0.0).to_numpy(dtype=float)
    taken = np.zeros(len(orders))
    credits = np.flatnonzero((credit.gt(0) & contact.notna() & when.notna()).to_numpy())
    wanted = set(contact.iloc[credits])
    candidates = pd.DataFrame(
        {"contact": contact.to_numpy(), "when": when.to_numpy(), "at": np.arange(len(orders))}
    )[sale & contact.isin(wanted).to_numpy()]
    by_contact = {
        c: group.sort_values(["when", "at"], kind="stable")
        for c, group in candidates.groupby("contact", sort=False)
    }
    left = unmatched.to_numpy(dtype=float).copy()
    # Earlier credits first, so each takes the sales that came before it.
    for at in sorted(credits.tolist(), key=lambda i: (when.iloc[i], i)):
        group = by_contact.get(contact.iloc[at])
        if group is None:
            continue
        earlier = group["at"].to_numpy()[group["when"].to_numpy() <= when.to_numpy()[at]]
        for sale_at in earlier[::-1]:
            amount = min(left[at], room[sale_at] - taken[sale_at])
            if amount > 0:
                taken[sale_at] += amount
                left[at] -= amount
            if left[at] <= CENT:
                left[at] = 0.0
                break
    credited = pd.Series(taken, index=orders.index)
    return Refunds(own, credited, credit, pd.Series(left, index=orders.index))


def why_not_sale(orders: pd.DataFrame) -> pd.Series:
    """Per order, why it is not a sale (a key of ``KINDS``), or None for a sale.

    The status decides first; a negative total is a refund whatever its status says; an
    order whose whole total went back (its own refund and the credits taken off it) is
    refunded.
    """
    kind = _by_status(orders)
    total = _numbers(orders, "total")
    back = refunds(orders, kind).total
    whole = (kind.isna() & total.gt(0) & (back >= total - CENT)).to_numpy(dtype=bool)
    kind = kind.where(~whole, REFUNDED)
    return kind.astype(object).where(kind.notna(), None)


def net_total(orders: pd.DataFrame) -> pd.Series:
    """Each order's total less the money that went back on it (``refunds``), never below 0:
    the revenue every analytic counts. A missing total stays missing."""
    total = _numbers(orders, "total")
    net = total - refunds(orders).total
    return net.where(~(total.gt(0) & net.lt(0)).to_numpy(), 0.0)


# Below this share of a run's sales with an amount, no money figure is given: the rest would
# count as nothing, and the figures would be those of a few orders (a reviewer: 3 of 320
# totals gave "EUR 707 expected" and "Loyal Customers bring 100% of revenue").
MIN_SHARE_WITH_AMOUNT = 0.5


def no_amounts(orders: pd.DataFrame, currency: str) -> str | None:
    """Why no money figure can be given, or None: fewer than half the sales in
    ``currency`` (or in none named) have an amount that can be read. Unknown is not zero:
    a shop whose every total was unreadable was shown "EUR 0 expected", "nan% of revenue"
    and its customers named top and lowest spenders at 0 each. Sales in another currency
    are not counted here: they are said apart (``order_currencies``)."""
    sales = orders[is_sale(orders).to_numpy()] if len(orders) else orders
    if sales.empty:
        return None
    if "currency" in sales.columns:
        named = sales["currency"].astype("string").str.strip().str.upper()
        sales = sales[(named.isna() | named.eq("") | named.eq(currency)).to_numpy()]
    known = int(net_total(sales).notna().sum()) if len(sales) else 0
    if not len(sales) or known >= MIN_SHARE_WITH_AMOUNT * len(sales):
        return None
    count = f"{len(sales):,} sale{'s' if len(sales) != 1 else ''}"
    if not known:
        what = f"no order amount in {currency} could be read ({count}, none with an amount"
    else:
        what = (
            f"only {known:,} of {count} have an amount in {currency} that can be read (the "
            "others would count as nothing"
        )
    return (
        f"{what}; the Data checks and the Rejects tab say why), so spend, value and revenue "
        "cannot be worked out"
    )


def is_sale(orders: pd.DataFrame) -> pd.Series:
    """True for the orders every analytic counts as sales."""
    return why_not_sale(orders).isna()


def product_sale_days(orders: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """product_id, ordered_at of every line of a sale, whoever bought it (a guest, a
    customer who opted out): whether a product still sells is a fact about the shop, and
    a personal step's view lacks the orders of the people it may not process."""
    if orders.empty or lines.empty or not {"order_id", "product_id"} <= set(lines.columns):
        return pd.DataFrame({"product_id": pd.Series(dtype=str), "ordered_at": pd.Series(
            dtype="datetime64[ns, UTC]")})  # fmt: skip
    sold = orders[is_sale(orders).to_numpy()].drop_duplicates("order_id")
    when = coerce_datetime(sold["ordered_at"])[0]
    dated = pd.DataFrame({"order_id": sold["order_id"].to_numpy(), "ordered_at": when.to_numpy()})
    out = lines[["order_id", "product_id"]].dropna().merge(dated.dropna(), on="order_id")
    return out[["product_id", "ordered_at"]].astype({"product_id": str}).reset_index(drop=True)


def sale_lines(lines: pd.DataFrame, orders: pd.DataFrame) -> pd.DataFrame:
    """The order lines of orders that are sales (lines of unknown orders are kept)."""
    if lines.empty or orders.empty or "order_id" not in lines.columns:
        return lines
    not_sales = set(orders.loc[~is_sale(orders).to_numpy(), "order_id"])
    return lines[~lines["order_id"].isin(not_sales).to_numpy()]


def unknown_statuses(orders: pd.DataFrame) -> pd.Series:
    """Statuses that are neither known sales nor known non-sales, with their order counts
    (as written, most common first): these orders are counted as sales."""
    status = _column(orders, "status")
    keys = _status_keys(orders)
    unknown = keys.ne("") & ~keys.isin(SALE_STATUSES) & ~keys.isin(NOT_SALE_STATUSES.keys())
    if not unknown.any():
        return pd.Series(dtype="int64")
    return status[unknown.to_numpy()].astype(str).str.strip().value_counts()


def describe(kinds: pd.Series) -> str:
    """'3 refunded, returned or charged back, 1 cancelled, voided or deleted'."""
    counts = kinds.dropna().value_counts()
    return "; ".join(f"{int(counts[k]):,} {words}" for k, words in KINDS.items() if k in counts)
