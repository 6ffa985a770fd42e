"""What counts as a sale: one definition for the data checks and every analytic.

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
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

__all__ = [
    "KINDS",
    "NOT_SALE_STATUSES",
    "SALE_STATUSES",
    "SUPPLIER_BILL",
    "describe",
    "is_sale",
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
# The start of the reason a supplier bill is left out with (a Xero export holds both);
# the data checks count those rows by it.
SUPPLIER_BILL = "supplier bill"


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


def why_not_sale(orders: pd.DataFrame) -> pd.Series:
    """Per order, why it is not a sale (a key of ``KINDS``), or None for a sale.

    The status decides first; a negative total is a refund whatever its status says.
    """
    kind = _status_keys(orders).map(NOT_SALE_STATUSES)
    total = pd.to_numeric(_column(orders, "total"), errors="coerce").astype("float64")
    negative = total.lt(0).to_numpy(dtype=bool)  # a missing total is no refund
    kind = kind.where(kind.notna() | ~negative, NEGATIVE)
    return kind.astype(object).where(kind.notna(), None)


def is_sale(orders: pd.DataFrame) -> pd.Series:
    """True for the orders every analytic counts as sales."""
    return why_not_sale(orders).isna()


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
