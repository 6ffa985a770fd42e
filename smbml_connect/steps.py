"""The registry of analytics the pipeline runs, and how each one is shown to people.

A step takes the canonical tables and returns outputs for the store (scores, forecasts,
price suggestions), tabs for workbooks and sheets, and a section of the report. Adding
an analytic means writing one step and appending it to STEPS; the pipeline does not
change. The analytics themselves stay pure; presentation (wording, charts) lives here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from smbml_connect import charts
from smbml_connect.analytics.segments import SEGMENTS, rfm_table
from smbml_connect.errors import ConfigError

__all__ = ["STEPS", "ReportSection", "Step", "StepContext", "StepResult", "steps_by_name"]


@dataclass(frozen=True)
class StepContext:
    as_of: pd.Timestamp
    currency: str = "USD"


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


@dataclass(frozen=True)
class Step:
    name: str
    needs: tuple[str, ...]
    personal: bool  # works on people's data: opted-out contacts are removed first
    run: Callable[[Mapping[str, pd.DataFrame], StepContext], StepResult]


def money(amount: float, currency: str) -> str:
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency.upper())
    return f"{symbol}{amount:,.0f}" if symbol else f"{amount:,.0f} {currency}"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _rfm_step(tables: Mapping[str, pd.DataFrame], context: StepContext) -> StepResult:
    table = rfm_table(tables["orders"], context.as_of)
    result = StepResult()
    if table.empty:
        result.summary.append("RFM segments: no counted orders with a customer, nothing to segment")
        return result
    reasons = [
        [
            f"Last order {_plural(int(r.recency_days), 'day')} ago",
            f"{_plural(int(r.frequency), 'order')} in total",
            f"{money(float(r.monetary), context.currency)} spent",
        ]
        for r in table.itertuples(index=False)
    ]
    result.outputs["scores"] = pd.DataFrame(
        {
            "entity": "contact",
            "entity_id": table["contact_id"],
            "model": "rfm_segment",
            "value": table["rfm_code"].astype(float),
            "label": table["segment"],
            "reasons": reasons,
            "model_version": "rfm-1",
            "scored_at": context.as_of,
        }
    )
    people = tables["contacts"].set_index("contact_id")
    detail = table.assign(
        name=table["contact_id"].map(
            (people["first_name"].fillna("") + " " + people["last_name"].fillna("")).str.strip()
        ),
        email=table["contact_id"].map(people["email"]),
    )
    detail["why"] = ["; ".join(r) for r in reasons]
    meaning = {s.name: s for s in SEGMENTS}
    detail["what_to_do"] = detail["segment"].map(lambda s: meaning[s].action)
    columns = ["contact_id", "name", "email", "segment", "why", "what_to_do", "last_order_at",
               "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
               "rfm_code"]  # fmt: skip
    result.sheets["Segments"] = detail[columns].sort_values(["segment", "monetary"])
    result.notes["Segments"] = (
        f"RFM segments as of {context.as_of:%Y-%m-%d}: scores 1-5 for how recently, how often "
        "and how much each customer bought, compared with all other customers."
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
    result.sheets["Segment summary"] = summary
    top = summary.sort_values("revenue", ascending=False).iloc[0]
    at_risk = summary[summary["segment"].isin(["At Risk", "Can't Lose Them"])]
    result.summary.append(
        f"RFM segments: {_plural(len(table), 'customer')} in {len(summary)} segments; "
        f"{top['segment']} bring {top['share_of_revenue']:.0%} of revenue"
    )
    paragraphs = [
        f"{_plural(len(table), 'customer')} with counted orders up to {context.as_of:%d %B %Y} "
        f"fall into {len(summary)} segments. {top['segment']} ({int(top['customers'])} people) "
        f"bring {top['share_of_revenue']:.0%} of all revenue.",
    ]
    if not at_risk.empty:
        paragraphs.append(
            f"{int(at_risk['customers'].sum())} once-valuable customers are slipping away "
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


STEPS: tuple[Step, ...] = (Step("rfm_segments", needs=("orders",), personal=True, run=_rfm_step),)


def steps_by_name(names: list[str] | None) -> list[Step]:
    if names is None:
        return list(STEPS)
    known = {s.name: s for s in STEPS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(
            f"config error at analytics.enabled: unknown analytic {unknown[0]!r}; "
            f"available: {', '.join(known)}"
        )
    return [known[n] for n in names]
