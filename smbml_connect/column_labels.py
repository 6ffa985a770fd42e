"""The column headers a person reads, for the column names the code uses.

Steps name columns for code (`expected_value_12m`, `lo80`): joins, number formats, charts
and the store rely on those names. Every writer a person reads (workbook, Google Sheets,
report) shows the header through `column_label`, so "value_low_80" reads "Value, low end
(80% range)". A name not listed here is made readable by rule (underscores become spaces,
"pct" becomes "%", the first letter a capital), so a new column never shows as code.
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["LABELS", "code_name", "column_label", "yes_no"]

_80, _95 = "(80% range)", "(95% range)"

LABELS: dict[str, str] = {
    # who
    "id": "ID",
    "contact_id": "Contact ID",
    "deal_id": "Deal ID",
    "product_id": "Product ID",
    "email": "Email",
    "kind": "Kind",
    # segments
    "what_to_do": "What to do",
    "last_order_at": "Last order",
    "recency_days": "Days since last order",
    "frequency": "Orders in total",
    "monetary": "Spent in total",
    "r_score": "Recency score (1-5)",
    "f_score": "Frequency score (1-5)",
    "m_score": "Spend score (1-5)",
    "rfm_code": "RFM code",
    "avg_days_since_order": "Average days since last order",
    "avg_orders": "Average orders",
    "avg_spend": "Average spend",
    "share_of_revenue": "Share of revenue",
    "share_of_customers": "Share of customers",
    # clusters
    "median_days_since_order": "Median days since last order",
    "median_orders": "Median orders",
    "median_spend": "Median spend",
    "median_basket": "Median basket",
    "days_since_order": "Days since last order",
    # customer value
    "churn_risk": "Churn risk",
    "risk": "Risk level",
    "chance_still_a_customer": "Chance still a customer",
    "expected_purchases": "Expected days with an order",
    "value_low_80": f"Value, low end {_80}",
    "value_high_80": f"Value, high end {_80}",
    "purchases_so_far": "Days with an order so far",
    # a shop that sells in one season a year counts seasons
    "expected_seasons": "Expected seasons with an order",
    "seasons_bought": "Seasons with an order so far",
    "spend_so_far": "Spent so far",
    "mae": "Average error per customer (purchases)",
    "rmse": "Typical error per customer, large misses weigh more (purchases)",
    "total_predicted": "Purchases predicted",
    "total_actual": "Purchases that happened",
    "total_error_pct": "Error of the total (%)",
    "churn_auc": "Tells buyers from non-buyers (AUC)",
    "chosen": "Used",
    # lead scores and deals
    "lead_score": "Lead score",
    "lead_tier": "Lead tier",
    "lead_source": "Lead source",
    "days_as_lead": "Days as a lead",
    "score band": "Score band",
    "held_out_leads": "Leads held out",
    "held_out_scorings": "Held-out scorings",
    "predicted_rate": "Predicted rate",
    "observed_rate": "Observed rate",
    "average_rate_gap": "Average gap, predicted vs observed",
    "auc": "Ranking quality (AUC)",
    "close_date": "Close date",
    "win_chance": "Win chance",
    "expected_value": "Expected value",
    "pipeline_amount": "Pipeline amount",
    "lo80": f"Low {_80}",
    "hi80": f"High {_80}",
    "lo95": f"Low {_95}",
    "hi95": f"High {_95}",
    # forecasts
    "low_80": f"Low end {_80}",
    "high_80": f"High end {_80}",
    "low_95": f"Low end {_95}",
    "high_95": f"High end {_95}",
    "range_80": "80% range",
    "low 80": f"Low {_80}",
    "high 80": f"High {_80}",
    "backtest_error": "Error on its own past",
    "seasonal_naive_error": "Error of repeating last season",
    # prices
    "current_price": "Current price",
    "price today": "Price today",
    "suggested_price": "Suggested price",
    "change_pct": "Change (%)",
    "aims_at": "Aims at",
    "elasticity_low_95": f"Elasticity, low end {_95}",
    "elasticity_high_95": f"Elasticity, high end {_95}",
    "units_change_per_month": "Units per month, change",
    "units_change_per_month_low_80": f"Units per month, change, low end {_80}",
    "units_change_per_month_high_80": f"Units per month, change, high end {_80}",
    "revenue_change_per_month": "Revenue per month, change",
    "revenue_change_per_month_low_80": f"Revenue per month, change, low end {_80}",
    "revenue_change_per_month_high_80": f"Revenue per month, change, high end {_80}",
    "profit_change_per_month": "Profit per month, change",
    "profit_change_per_month_low_80": f"Profit per month, change, low end {_80}",
    "profit_change_per_month_high_80": f"Profit per month, change, high end {_80}",
    "own_evidence_pct": "From its own sales (%)",
    "weeks_with_sales": "Weeks with sales",
    "distinct_prices": "Prices tried",
    "lowest_weekly_price": "Lowest weekly price",
    "highest_weekly_price": "Highest weekly price",
    # rejects
    "source_row": "Source row",
    "original row": "Original row",
}

# Several columns mean the same in different tabs and share their words ("low_80" of a
# forecast, "lo80" of the pipeline): reading back prefers the names a tab is known to hold.
_CODES: dict[str, str] = {}
for _code, _label in LABELS.items():
    _CODES.setdefault(_label, _code)


def column_label(name: object) -> str:
    """The header a person reads for the column ``name``."""
    text = str(name)
    if text in LABELS:
        return LABELS[text]
    horizon = re.fullmatch(r"(?:expected_)?value_(\d+)m", text)
    if horizon:  # the horizon is a setting: expected_value_6m reads "next 6 months"
        return f"Expected value, next {horizon[1]} months"
    if not re.fullmatch(r"[a-z0-9_ ]+", text):
        return text  # already words a person chose (a category, "Accessories share")
    words = re.sub(r"(^|_)pct($|_)", r"\1%\2", text).replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def code_name(label: str, columns: tuple[str, ...] = ()) -> str:
    """The column name behind a header: for reading our own outputs back (tests, audits).

    ``columns`` are the names the tab may hold, preferred when two share the words."""
    for code in columns:
        if column_label(code) == label:
            return code
    horizon = re.fullmatch(r"Expected value, next (\d+) months", label)
    if horizon:
        return f"expected_value_{horizon[1]}m"
    return _CODES.get(label, label[:1].lower() + label[1:].replace(" ", "_"))


def yes_no(value: object) -> object:
    """True/False as a person says it; everything else unchanged."""
    if isinstance(value, bool | np.bool_):
        return "Yes" if value else "No"
    return value
