"""The RFM segments step: who bought recently, often and much, and what to do about it."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from smbml_connect import charts
from smbml_connect.analytics.customers.segments import SEGMENTS, rfm_table
from smbml_connect.business_zone import as_of_words, wall_clock
from smbml_connect.period_names import day_words
from smbml_connect.ports import (
    CrmProperty,
    SheetsPart,
    SheetsTab,
    StepOutputs,
    Tab,
    WorkbookChart,
)
from smbml_connect.schema import SCORES
from smbml_connect.steps.base import (
    SCORES_SHEET,
    ReportSection,
    Step,
    StepContext,
    StepResult,
    contact_names,
    money,
    plural,
    score_of,
    score_rows,
)

__all__ = ["RFM_SEGMENTS", "rfm_step"]

SEGMENTS_TAB = Tab(
    "Segments",
    columns=("contact_id", "name", "email", "segment", "why", "what_to_do", "last_order_at",
             "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "rfm_code"),
    # The join comes first so that Scores stays the first Sheets tab.
    sheets=(SheetsPart(SCORES_SHEET, how="join", columns=("contact_id", "segment")),
            SheetsPart(SheetsTab("segments", key="contact_id"))),
)  # fmt: skip
SUMMARY_TAB = Tab(
    "Segment summary",
    chart=WorkbookChart("bar", "Customers per segment", category="segment", values="customers"),
)
OUTPUTS = StepOutputs(
    tables=(SCORES,),
    tabs=(SEGMENTS_TAB, SUMMARY_TAB),
    properties=(
        CrmProperty("contacts", "smbml_segment", "Customer segment (SMB ML)", "enumeration",
                    "select", "RFM segment from recency, frequency and spend.", "scores",
                    score_of("contact", "rfm_segment", "label"), tuple(s.name for s in SEGMENTS)),
    ),
)  # fmt: skip


def spent_words(spend: float, orders: int, unpriced: int, currency: str) -> str:
    """What a customer spent, as far as it is known: "1,339 AUD spent", "420 AUD spent on
    the 3 orders with an amount in AUD", "spend unknown: no order with an amount in AUD"
    (in another currency with no exchange rate, or none written): unknown is not 0."""
    if pd.isna(spend):
        return f"spend unknown: no order with an amount in {currency}"
    if unpriced:
        priced = plural(orders - unpriced, "order")
        return f"{money(spend, currency)} spent on the {priced} with an amount in {currency}"
    return f"{money(spend, currency)} spent"


def _people(row: pd.Series) -> str:
    n = int(row["customers"])
    return "1 person" if n == 1 else f"{n:,} people"


def _slipping(n: int) -> str:
    """ "1 once-valuable customers are slipping away" read wrong."""
    return f"{plural(n, 'once-valuable customer')} {'is' if n == 1 else 'are'} slipping away"


def rfm_step(tables: Mapping[str, pd.DataFrame], context: StepContext) -> StepResult:
    table = rfm_table(tables["orders"], context.as_of)
    result = StepResult()
    if table.empty:
        result.summary.append("RFM segments: no counted orders with a customer, nothing to segment")
        return result
    reasons = [
        [
            f"Last order {plural(int(r.recency_days), 'day')} ago",
            f"{plural(int(r.frequency), 'order')} in total",
            spent_words(float(r.monetary), int(r.frequency), int(r.unpriced), context.currency),
        ]
        for r in table.itertuples(index=False)
    ]
    result.outputs["scores"] = score_rows(
        "contact", table["contact_id"], "rfm_segment", table["rfm_code"], table["segment"],
        reasons, "rfm-1", context.as_of,
    )  # fmt: skip
    people = tables["contacts"].drop_duplicates("contact_id").set_index("contact_id")
    detail = table.assign(
        name=table["contact_id"].map(contact_names(tables["contacts"])),
        email=table["contact_id"].map(people["email"]),
        last_order_at=wall_clock(table["last_order_at"], context.as_of.tz),  # as the shop saw it
    )
    detail["why"] = ["; ".join(r) for r in reasons]
    meaning = {s.name: s for s in SEGMENTS}
    detail["what_to_do"] = detail["segment"].map(lambda s: meaning[s].action)
    result.add_tab(
        SEGMENTS_TAB,
        SEGMENTS_TAB.select(detail).sort_values(["segment", "monetary"]),
        f"RFM segments as of {as_of_words(context.as_of)}: scores 1-5 for how recently, how "
        "often and how much each customer bought, compared with all other customers. Days "
        "since last order are calendar days (an order that day is 0 days ago); orders in "
        "total count every order. Contacts who opted out are left out with their orders, so "
        "the scores compare the others only. Spent in total adds the orders with an amount "
        f"in {context.currency}; a customer with none (all in another currency, with no "
        "exchange rate) has it blank, no spend score, and a segment from recency and "
        "frequency alone.",
    )
    summary = (
        table.groupby("segment")
        .agg(
            customers=("contact_id", "size"),
            avg_days_since_order=("recency_days", "mean"),
            avg_orders=("frequency", "mean"),
            avg_spend=("monetary", "mean"),
            revenue=("monetary", "sum"),
        )
        .reindex([s.name for s in SEGMENTS])
        .dropna(subset=["customers"])
        .reset_index()
    )
    summary["customers"] = summary["customers"].astype(int)
    summary["share_of_revenue"] = summary["revenue"] / summary["revenue"].sum()
    summary["meaning"] = summary["segment"].map(lambda s: meaning[s].meaning)
    summary["what_to_do"] = summary["segment"].map(lambda s: meaning[s].action)
    summary = summary.round({"avg_days_since_order": 0, "avg_orders": 1, "avg_spend": 2})
    # whole days, as the Segments tab counts them: 9, not 9.00
    summary["avg_days_since_order"] = summary["avg_days_since_order"].astype("Int64")
    result.add_tab(SUMMARY_TAB, summary)
    top = summary.sort_values("revenue", ascending=False).iloc[0]
    at_risk = summary[summary["segment"].isin(["At Risk", "Can't Lose Them"])]
    result.summary.append(
        f"RFM segments: {plural(len(table), 'customer')} in {plural(len(summary), 'segment')}; "
        f"{top['segment']} bring {top['share_of_revenue']:.0%} of revenue"
    )
    paragraphs = [
        f"{plural(len(table), 'customer')} with counted orders up to {day_words(context.as_of)} "
        f"fall into {plural(len(summary), 'segment')}. {top['segment']} ({_people(top)}) "
        f"bring {top['share_of_revenue']:.0%} of all revenue.",
    ]
    if not at_risk.empty:
        paragraphs.append(
            f"{_slipping(int(at_risk['customers'].sum()))} "
            f"(At Risk or Can't Lose Them), worth "
            f"{money(float(at_risk['revenue'].sum()), context.currency)} so far: "
            "a personal win-back message is the cheapest revenue available."
        )
    ordered = summary.sort_values("customers", ascending=False)
    result.sections.append(
        ReportSection(
            "Customer segments (RFM)",
            paragraphs,
            [
                charts.bar_chart(
                    ordered["segment"].tolist(),
                    ordered["customers"].tolist(),
                    "Customers per segment",
                    "customers",
                ),
                charts.bar_chart(
                    ordered["segment"].tolist(),
                    ordered["revenue"].round(0).tolist(),
                    f"Revenue per segment ({context.currency})",
                    context.currency,
                ),
            ],
            summary[
                [
                    "segment",
                    "customers",
                    "avg_days_since_order",
                    "avg_orders",
                    "avg_spend",
                    "share_of_revenue",
                    "what_to_do",
                ]
            ],
        )
    )
    return result


RFM_SEGMENTS = Step(
    "rfm_segments", title="Customer segments (RFM)", needs=("orders",), personal=True,
    needs_amounts=True, run=rfm_step, outputs=OUTPUTS, reads=("contacts",),
)  # fmt: skip
