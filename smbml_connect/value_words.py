"""Values a person reads, for the codes a CRM or the store keeps.

A CRM stores enumerations as codes ("contractsent", "ORGANIC_SEARCH") and a reject keeps
its original row as JSON: the store keeps them so, and every writer a person reads
(workbook, Google Sheets, report, "why" phrases) shows them through these functions, so
a shop owner reads "Contract sent", "Organic search" and "contact_id: C01049; ...".
"""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd

__all__ = [
    "DEAL_STAGE_LABELS",
    "LEAD_SOURCE_LABELS",
    "lead_source_label",
    "readable_row",
    "rejects_for_people",
    "stage_label",
]

# HubSpot's default sales pipeline ("default"): its stage ids and the labels its UI shows.
# A portal's own pipelines have their own ids (numbers) and labels; the connector does not
# read them yet, so those stages show by their id.
DEAL_STAGE_LABELS: dict[str, str] = {
    "appointmentscheduled": "Appointment scheduled",
    "qualifiedtobuy": "Qualified to buy",
    "presentationscheduled": "Presentation scheduled",
    "decisionmakerboughtin": "Decision maker bought-in",
    "contractsent": "Contract sent",
    "closedwon": "Closed won",
    "closedlost": "Closed lost",
}

# The canonical lead sources (what the HubSpot connector maps hs_analytics_source to, and
# the sample's), and HubSpot's own enum values as a CRM export or a file may hold them.
LEAD_SOURCE_LABELS: dict[str, str] = {
    "referral": "Referral",
    "organic_search": "Organic search",
    "paid_search": "Paid search",
    "social": "Social media",
    "email": "Email marketing",
    "event": "Event or offline",
    "direct": "Direct traffic",
    "other_campaigns": "Other campaigns",
    "email_marketing": "Email marketing",
    "social_media": "Organic social",
    "paid_social": "Paid social",
    "referrals": "Referrals",
    "ai_referrals": "AI referrals",
    "direct_traffic": "Direct traffic",
    "offline": "Offline sources",
}

_CODE = re.compile(r"[A-Za-z0-9]+(?:_[A-Za-z0-9]+)+")  # snake_case or SCREAMING_CASE


def _humanised(code: str) -> str:
    """A code never shows as code: "OTHER_THING" reads "Other thing"; words stay as typed."""
    if not _CODE.fullmatch(code):
        return code
    text = code.replace("_", " ").lower()
    return text[:1].upper() + text[1:]


def _label(value: Any, labels: dict[str, str]) -> Any:
    if not isinstance(value, str):
        return value
    return labels.get(value.strip().lower()) or _humanised(value.strip())


def stage_label(value: Any) -> Any:
    """A deal stage as its pipeline's label; an unknown stage id as readable words."""
    return _label(value, DEAL_STAGE_LABELS)


def lead_source_label(value: Any) -> Any:
    """A lead source as words ("organic_search" reads "Organic search")."""
    return _label(value, LEAD_SOURCE_LABELS)


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return "yes" if value is True else "no" if value is False else str(value)


def readable_row(text: Any) -> Any:
    """A reject's original row, kept as JSON by the store, as "name: value; name: value".

    Every value is kept as it was read; text that is not a JSON object (a row shown as
    it was typed) is left as it is."""
    if not isinstance(text, str) or not text.lstrip().startswith("{"):
        return text
    try:
        row = json.loads(text)
    except ValueError:
        return text
    if not isinstance(row, dict):
        return text
    return "; ".join(f"{name}: {_value_text(value)}" for name, value in row.items())


def rejects_for_people(rejects: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The Rejects tab as a person reads it: the store's columns, the original row in words."""
    shown = rejects.reindex(columns=columns)
    shown["row"] = shown["row"].map(readable_row)
    return shown.rename(columns={"row": "original row"})
