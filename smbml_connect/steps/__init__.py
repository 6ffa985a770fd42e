"""The registry of analytics the pipeline runs.

Adding an analytic is its analytics module, one step module (settings, run, and the
outputs it declares: tables, tabs, CRM properties) and one line in STEPS; the pipeline,
the workbook, the report, Sheets and HubSpot loop over the declarations and do not change.
"""

from __future__ import annotations

from collections.abc import Sequence

from smbml_connect.errors import ConfigError
from smbml_connect.ports import CrmProperty
from smbml_connect.steps.base import (
    ReportSection,
    SavedModelText,
    Step,
    StepContext,
    StepResult,
    StepSettings,
    money,
    plural,
)
from smbml_connect.steps.customers import CHURN_VALUE, CUSTOMER_CLUSTERS, NEXT_PRODUCT
from smbml_connect.steps.forecasts import SALES_FORECAST
from smbml_connect.steps.leads import DEAL_WIN, LEAD_SCORES
from smbml_connect.steps.pricing import PRICE_SUGGESTIONS_STEP
from smbml_connect.steps.segments import RFM_SEGMENTS

__all__ = [
    "STEPS",
    "ReportSection",
    "SavedModelText",
    "Step",
    "StepContext",
    "StepResult",
    "crm_properties",
    "money",
    "plural",
    "settings_models",
    "steps_by_name",
]

STEPS: tuple[Step, ...] = (
    RFM_SEGMENTS,
    CUSTOMER_CLUSTERS,
    CHURN_VALUE,
    NEXT_PRODUCT,
    LEAD_SCORES,
    DEAL_WIN,
    SALES_FORECAST,
    PRICE_SUGGESTIONS_STEP,
)


def crm_properties(steps: Sequence[Step] | None = None) -> list[CrmProperty]:
    """The CRM properties the steps write, for a push from the store without a run."""
    return [p for step in (STEPS if steps is None else steps) for p in step.outputs.properties]


def settings_models(steps: Sequence[Step] | None = None) -> dict[str, type[StepSettings]]:
    """analytics.<key> -> the settings model of the step(s) that read it (STEPS as it is now)."""
    models: dict[str, type[StepSettings]] = {}
    for step in STEPS if steps is None else steps:
        if step.settings is None or step.settings_key is None:
            continue
        if models.setdefault(step.settings_key, step.settings) is not step.settings:
            raise ValueError(f"two steps declare different settings under {step.settings_key}")
    return models


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
