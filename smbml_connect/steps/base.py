"""What a step is: tables in, outputs, tabs, report sections and saved models out.

A step takes the canonical tables and returns outputs for the store (scores, forecasts,
price suggestions), tabs for workbooks and sheets, a section of the report and the
models it fitted. The analytics themselves stay pure; presentation (wording, charts)
lives in the step modules.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import pandas as pd
from pydantic import BaseModel, ConfigDict

from smbml_connect.money_words import money_text
from smbml_connect.ports import (
    ReportSection,
    SavedModelText,
    SheetsTab,
    StepOutputs,
    StepResult,
)

__all__ = [
    "SCORED_AT",
    "SCORED_AT_LABEL",
    "SCORES_SHEET",
    "ReportSection",
    "SavedModelText",
    "Step",
    "StepContext",
    "StepResult",
    "model_version",
    "money",
    "percent_of",
    "plural",
    "reasons_of",
    "score_of",
    "scored_at_of",
    "stamps",
]

# The Sheets tab with one row per contact that lead scores and customer value fill and
# segments join: declared once, here, because three steps share it.
SCORES_SHEET = SheetsTab(
    "scores",
    "Scores",
    columns=("contact_id", "name", "email", "kind", "lead_score", "lead_tier", "churn_risk",
             "value_12m", "segment", "why"),
    key="contact_id",
)  # fmt: skip


def _no_previous(name: str) -> str | None:
    return None


class StepSettings(BaseModel):
    """A step's own config section, ``[analytics.<key>]``; the key is declared with it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    key: ClassVar[str]


S = TypeVar("S", bound=StepSettings)


@dataclass(frozen=True)
class StepContext:
    as_of: pd.Timestamp
    currency: str = "USD"
    # analytics.<key> -> the validated settings (or a plain mapping, validated on use)
    settings: Mapping[str, StepSettings | Mapping[str, Any]] = field(default_factory=dict)
    # The payload of the newest saved model of that name: lets a step stay consistent
    # with its last run (clusters keep their names).
    previous_model: Callable[[str], str | None] = _no_previous
    # product_id, ordered_at of every sale of the shop, whoever bought (``sales.
    # product_sale_days``): facts about products, which a personal step's view lacks
    sold: pd.DataFrame | None = None
    # The run's rejects before the steps, each `source` its file or tab where known
    # (`value_words.reject_files`): a step that leaves out an order for a value cleared on
    # the way in names it as the Rejects tab does (its row, the value as written).
    rejects: pd.DataFrame | None = None

    def settings_for(self, model: type[S]) -> S:
        """A step's settings: as validated from the config, or the model's defaults."""
        value = self.settings.get(model.key)
        if isinstance(value, model):
            return value
        return model.model_validate(value or {})


@dataclass(frozen=True)
class Step:
    """One analytic: what it needs, how it runs, its settings and everything it writes."""

    name: str
    needs: tuple[str, ...]
    personal: bool  # works on people's data: opted-out contacts are removed first
    run: Callable[[Mapping[str, pd.DataFrame], StepContext], StepResult]
    outputs: StepOutputs = field(default_factory=StepOutputs)
    settings: type[StepSettings] | None = None  # validated from analytics.<settings.key>
    # The tables it reads, so a table that failed to load holds back only the steps that
    # read it; None: it may read any (held back when any failed).
    reads: tuple[str, ...] | None = None
    title: str = ""  # what a person reads ("Deal win chances", not "deal_win")
    # Reads order lines in every currency itself (prices: a line sold in another currency
    # still counts as units): it gets their prices as written, where the other steps get
    # no amount for an order in another currency (``order_currencies``).
    own_currencies: bool = False
    # Its figures are money (spend, value, revenue): where no sale has an amount that can
    # be read, it is skipped with why (``sales.no_amounts``), not shown as 0 everywhere.
    needs_amounts: bool = False

    @property
    def label(self) -> str:
        return self.title or self.name.replace("_", " ")

    @property
    def settings_key(self) -> str | None:
        return None if self.settings is None else self.settings.key


def score_of(entity: str, model: str, column: str = "value") -> Callable[[pd.DataFrame], pd.Series]:
    """A CRM property's value from the latest `scores` rows: ``column`` of one model."""

    def take(rows: pd.DataFrame) -> pd.Series:
        picked = rows[(rows["entity"] == entity) & (rows["model"] == model)]
        return picked.set_index("entity_id")[column]

    return take


# One property on every object the tool writes to, so a view or a workflow reads it alike:
# when the record's values were last computed, which tells values kept from an older run
# (a step that failed this run keeps them) from fresh ones.
SCORED_AT, SCORED_AT_LABEL = "smbml_scored_at", "Scored at (SMB ML)"


def stamps(values: pd.Series) -> pd.Series:
    """Times as HubSpot's datetime properties take them."""
    return pd.to_datetime(values, utc=True).dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def scored_at_of(entity: str) -> Callable[[pd.DataFrame], pd.Series]:
    """When a record's values were last computed (its newest model) from the latest `scores`
    rows: the same stamp on contacts and deals."""

    def take(rows: pd.DataFrame) -> pd.Series:
        picked = rows[rows["entity"] == entity]
        newest = pd.to_datetime(picked["scored_at"], utc=True)
        return stamps(newest.groupby(picked["entity_id"].to_numpy()).max())

    return take


def percent_of(entity: str, model: str) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda rows: (score_of(entity, model)(rows).astype(float) * 100).round(1)


def reasons_of(entity: str, model: str) -> Callable[[pd.DataFrame], pd.Series]:
    def take(rows: pd.DataFrame) -> pd.Series:
        return score_of(entity, model, "reasons")(rows).map(_join_reasons)

    return take


def _join_reasons(value: Any) -> str | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return "; ".join(str(v) for v in value) if isinstance(value, list) and value else None


def money(amount: float, currency: str) -> str:
    return money_text(amount, currency)


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def score_rows(
    entity: str,
    ids: pd.Series,
    model: str,
    values: pd.Series,
    labels: pd.Series,
    reasons: Any,
    version: str,
    as_of: pd.Timestamp,
) -> pd.DataFrame:
    """Rows for the store's `scores` output, the one shape every surface reads."""
    return pd.DataFrame(
        {
            "entity": entity,
            "entity_id": ids.to_numpy(),
            "model": model,
            "value": pd.Series(values).astype(float).to_numpy(),
            "label": pd.Series(labels).to_numpy(),
            "reasons": list(reasons),
            "model_version": version,
            "scored_at": as_of,
        }
    )


# When a model was fitted is not part of what it is: the lead and deal cards carry a
# wall-clock "trained_at", which made every run look like a new model version.
_FIT_TIME = re.compile(r'(\\?)"trained_at\\?":\s*\\?"[^"\\]*\\?"')  # also inside JSON in JSON


def model_version(payload: str, name: str) -> str:
    """A short stable tag: the same fitted model always gets the same version."""
    fitted = _FIT_TIME.sub(r'\1"trained_at\1": null', payload)
    return f"{name}-{hashlib.sha256(fitted.encode()).hexdigest()[:10]}"


def contact_names(contacts: pd.DataFrame) -> pd.Series:
    """'First Last' by contact_id, for tabs a person reads."""
    people = contacts.drop_duplicates("contact_id").set_index("contact_id")
    return (people["first_name"].fillna("") + " " + people["last_name"].fillna("")).str.strip()
