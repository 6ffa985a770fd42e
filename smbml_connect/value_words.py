"""Values a person reads, for the codes a CRM or the store keeps.

A CRM stores enumerations as codes ("contractsent", "ORGANIC_SEARCH") and a reject keeps
its original row as JSON: the store keeps them so, and every writer a person reads
(workbook, Google Sheets, report, "why" phrases) shows them through these functions, so
a shop owner reads "Contract sent", "Organic search" and "contact_id: C01049; ...".

Deal stages are the portal's own: the HubSpot connector reads its pipelines into the
store's ``deal_pipeline_stages``, and the run shows them through ``portal_words``, so a
stage "1234567" reads "Proposal reviewed", as the team named it in HubSpot.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = [
    "DEAL_STAGE_LABELS",
    "LEAD_SOURCE_LABELS",
    "PortalStages",
    "category_words",
    "lead_source_label",
    "portal_words",
    "readable_row",
    "reject_files",
    "rejects_for_people",
    "rejects_to_act_on_first",
    "stage_label",
]

# HubSpot's default sales pipeline ("default"): its stage ids and the labels its UI shows.
# They are the fallback: a portal's own pipelines (ids that are numbers, labels the team
# chose, default stages renamed) come from the store through ``portal_words``; a stage
# that no pipeline read names shows by these labels, else by its id in words.
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


@dataclass(frozen=True)
class PortalStages:
    """A CRM's deal pipelines as people read them: stage id -> words, pipeline id -> label."""

    stages: dict[str, str] = field(default_factory=dict)
    pipelines: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_table(cls, table: pd.DataFrame | None) -> PortalStages | None:
        """From the store's ``deal_pipeline_stages``. With more than one pipeline a stage
        also names its pipeline ("Proposal reviewed (Renewals)"): two pipelines may each
        have a "Closed won", and a tab of deals from both must tell them apart."""
        if table is None or table.empty:
            return None
        rows = table[table["stage"].notna()]
        pipelines = {
            str(p): str(label).strip()
            for p, label in zip(rows["pipeline"], rows["pipeline_label"], strict=True)
            if isinstance(p, str) and isinstance(label, str) and label.strip()
        }
        several = rows["pipeline"].dropna().nunique() > 1
        stages = {}
        for stage, label, pipeline in zip(
            rows["stage"], rows["stage_label"], rows["pipeline"], strict=True
        ):
            text = label.strip() if isinstance(label, str) and label.strip() else None
            words = text or _label(str(stage), DEAL_STAGE_LABELS)
            where = pipelines.get(str(pipeline)) if several else None
            stages[str(stage).strip()] = f"{words} ({where})" if where else words
        return cls(stages, pipelines)


_PORTAL: ContextVar[PortalStages | None] = ContextVar("smbml_portal_stages", default=None)


@contextmanager
def portal_words(table: pd.DataFrame | None) -> Iterator[None]:
    """Within this block, stages and pipelines read as ``table`` (the store's
    ``deal_pipeline_stages``) names them. A context variable, not an argument: every
    writer and the deal model's reasons ask ``stage_label`` without knowing the store,
    and each run (or ``smbml serve`` thread) sees only its own portal's words."""
    token = _PORTAL.set(PortalStages.from_table(table))
    try:
        yield
    finally:
        _PORTAL.reset(token)


def stage_label(value: Any) -> Any:
    """A deal stage as its pipeline's label (the portal's own, read from the CRM, first);
    a stage no pipeline names as HubSpot's default label, else its id as readable words."""
    portal = _PORTAL.get()
    if portal is not None and isinstance(value, str) and value.strip() in portal.stages:
        return portal.stages[value.strip()]
    return _label(value, DEAL_STAGE_LABELS)


_TRAILING_PIPELINE = re.compile(r"\s+pipeline$", re.IGNORECASE)


def category_words(column: str, value: Any) -> str | None:
    """The portal's words for a model's category value, or None when it has none.

    Reasons read "At stage: {value}" and "In the {value} pipeline": a portal's stage shows
    by its label, and its pipeline by its label without a trailing "pipeline" ("Sales
    Pipeline" reads "In the Sales pipeline", from a portal or as an export's Pipeline
    column holds it). Other values without a portal (files, Sheets) are as they are.
    """
    if not isinstance(value, str):
        return None
    portal = _PORTAL.get()
    if column == "pipeline":
        label = portal.pipelines.get(value.strip()) if portal is not None else None
        text = label or value.strip()
        cut = _TRAILING_PIPELINE.sub("", text)
        return (cut or text) if label or cut != text else None
    if column == "stage" and portal is not None:
        return portal.stages.get(value.strip())
    return None


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


# Rows that held no record of their table (blank, a total, a copy of an export read from
# its newer file) come after the rejects a person must act on (a row left out, an order
# dated later, a value cleared, a consent read as no): 383 copy rows of a set-aside export
# filled the report's list and `smbml status`, and the one late order the data checks
# said was "listed in Rejects" was in neither.
_SKIPPED = "row skipped"  # ports.SKIPPED_ROW (ports sits above this module)


def rejects_to_act_on_first(rejects: pd.DataFrame) -> pd.DataFrame:
    """The rejects with skipped rows last, the others (column notes first, as found) and
    the skipped ones each in the order they were found."""
    if rejects.empty or "action" not in rejects.columns:
        return rejects
    last = rejects["action"].eq(_SKIPPED).to_numpy()
    return rejects.iloc[last.argsort(kind="stable")]


def _file_in(text: Any) -> str | None:
    if not isinstance(text, str) or '"File"' not in text:
        return None
    try:
        row = json.loads(text)
    except ValueError:
        return None
    value = row.get("File") if isinstance(row, dict) else None
    return str(value) if value not in (None, "") else None


def reject_files(rejects: pd.DataFrame, files: dict[str, str] | None = None) -> pd.Series:
    """Each reject's file or tab: the one its row names (a table read from several files),
    else the one its table was read from (``files``: table -> file, for a table read from
    one), else its source ("files:shop#1b4285", "hubspot:123"): "row 415" of a folder with
    two orders exports said nothing of which one."""
    files = files or {}
    named = rejects["row"].map(_file_in) if "row" in rejects.columns else None
    table = rejects["table"].map(files) if "table" in rejects.columns else None
    out = rejects["source"].astype(object) if "source" in rejects.columns else None
    out = pd.Series(None, index=rejects.index, dtype=object) if out is None else out
    for better in (table, named):  # the row's own file wins
        if better is not None:
            out = better.where(better.notna(), out)
    return out


def rejects_for_people(rejects: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The Rejects tab as a person reads it: the store's columns, the original row in words."""
    shown = rejects.reindex(columns=columns)
    shown["row"] = shown["row"].map(readable_row)
    return shown.rename(columns={"row": "original row"})
