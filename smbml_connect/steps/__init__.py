"""The registry of analytics the pipeline runs, and how each one is shown to people.

Adding an analytic means writing one step and appending it to STEPS; the pipeline does
not change.
"""

from __future__ import annotations

from smbml_connect.errors import ConfigError
from smbml_connect.steps.base import (
    ReportSection,
    SavedModelText,
    Step,
    StepContext,
    StepResult,
    money,
    plural,
)
from smbml_connect.steps.customers import churn_value_step, cluster_step, next_product_step
from smbml_connect.steps.forecasts import forecast_step
from smbml_connect.steps.leads import deal_step, lead_step
from smbml_connect.steps.pricing import pricing_step
from smbml_connect.steps.segments import rfm_step

__all__ = [
    "STEPS",
    "ReportSection",
    "SavedModelText",
    "Step",
    "StepContext",
    "StepResult",
    "money",
    "plural",
    "steps_by_name",
]

STEPS: tuple[Step, ...] = (
    Step("rfm_segments", needs=("orders",), personal=True, run=rfm_step),
    Step("customer_clusters", needs=("orders",), personal=True, run=cluster_step),
    Step("churn_value", needs=("orders",), personal=True, run=churn_value_step),
    Step("next_product", needs=("orders", "order_lines"), personal=True, run=next_product_step),
    Step("lead_scores", needs=("contacts",), personal=True, run=lead_step),
    Step("deal_win", needs=("deals",), personal=True, run=deal_step),
    Step("sales_forecast", needs=("orders",), personal=False, run=forecast_step),
    Step("price_suggestions", needs=("orders", "order_lines"), personal=False, run=pricing_step),
)


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
