"""HubSpot's engagements (calls, emails, meetings, notes, messages) as dated activities.

The contact properties HubSpot keeps about engagement are totals as of today
(``notes_last_updated``, page views, opens): a model trained on past snapshots would read
engagement that came after a contact converted, so the lead model leaves them out. Each
engagement is its own object with a time (``hs_timestamp``: when the call was made, the
email sent, the meeting starts) and links to the contacts it was with, which is what a
snapshot "as of day 7" needs. One activity row per contact it names, keyed by the
engagement's id too, so one read again (moved, linked elsewhere, deleted) replaces its
rows.

The kind says what the contact did, in the words of the lead reasons: a call nobody
answered is not a conversation, an email the contact wrote is not one the rep sent, a
meeting they missed is not one they had. Tasks are left out: their time is a due date.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from smbml_connect.connectors.hubspot.mapping import ObjectSpec, cast_value
from smbml_connect.schema import SOURCE_ROW

__all__ = ["ACTIVITIES", "ENGAGEMENTS", "Engagement", "engagement_rows"]

ACTIVITIES = "activities"
WHEN = "hs_timestamp"

# HubSpot's default call outcomes (``hs_call_disposition`` holds the outcome's id; a
# portal may add its own, which read as a call held).
NOT_REACHED = frozenset(
    {
        "73a0d17f-1163-4015-bdd5-ec830791da20",  # No answer
        "9d9162e7-6cf3-4944-bf63-4dff82258764",  # Busy
        "17b47fee-58de-441e-a44c-c6300d46f273",  # Wrong number
        "b2cf5968-551e-4856-9783-52b3da59a7d0",  # Left voicemail
        "a4c4c377-d246-4b32-a13b-75a56a4cd0ff",  # Left live message
    }
)
# hs_call_status of a call that did not reach anyone (COMPLETED, or none: a logged call).
CALL_NOT_HELD = frozenset({"BUSY", "CANCELED", "FAILED", "NO_ANSWER", "MISSED"})
MEETING_NOT_HELD = frozenset({"NO_SHOW", "CANCELED"})
EMAIL_NOT_SENT = frozenset({"BOUNCED", "FAILED"})


def _call(props: Mapping[str, Any]) -> str:
    status = str(props.get("hs_call_status") or "").upper()
    reached = props.get("hs_call_disposition") not in NOT_REACHED
    return "call" if reached and status not in CALL_NOT_HELD else "call_attempt"


def _email(props: Mapping[str, Any]) -> str | None:
    if str(props.get("hs_email_status") or "").upper() in EMAIL_NOT_SENT:
        return None  # it never reached them
    incoming = str(props.get("hs_email_direction") or "").upper() == "INCOMING_EMAIL"
    return "email_received" if incoming else "email_sent"


def _meeting(props: Mapping[str, Any]) -> str:
    outcome = str(props.get("hs_meeting_outcome") or "").upper()
    return "meeting_missed" if outcome in MEETING_NOT_HELD else "meeting"


@dataclass(frozen=True)
class Engagement:
    """One engagement object type: the properties read, and the kind each record is."""

    object_type: str
    properties: tuple[str, ...]
    kind: Callable[[Mapping[str, Any]], str | None]

    @property
    def spec(self) -> ObjectSpec:
        """As the list, search and association reads of the other objects take it."""
        columns = {p: p for p in (WHEN, *self.properties)}
        return ObjectSpec(
            ACTIVITIES, self.object_type, columns, {"contact_id": "contacts"}, "activity_id"
        )


ENGAGEMENTS = (
    Engagement("calls", ("hs_call_status", "hs_call_disposition"), _call),
    Engagement("emails", ("hs_email_direction", "hs_email_status"), _email),
    Engagement("meetings", ("hs_meeting_outcome",), _meeting),
    Engagement("notes", (), lambda _: "note"),
    Engagement("communications", (), lambda _: "message"),  # SMS, WhatsApp, LinkedIn
)


def engagement_rows(
    engagement: Engagement,
    records: list[dict[str, Any]],
    links: Mapping[str, list[str]],
) -> tuple[pd.DataFrame, int]:
    """One row per contact each record names; and how many records gave none (not about
    a contact, no time, or an email that bounced): not activities of anyone's."""
    rows, none = [], 0
    for record in records:
        props = record.get("properties") or {}
        rid = str(record["id"])
        when = cast_value(props.get(WHEN), "datetime")
        kind = engagement.kind(props)
        contacts = links.get(rid, [])
        if when is None or kind is None or not contacts:
            none += 1
            continue
        row = int(rid) if rid.isdigit() else None
        rows += [
            {"contact_id": c, "occurred_at": when, "kind": kind, "activity_id": rid,
             SOURCE_ROW: row}
            for c in contacts
        ]  # fmt: skip
    columns = ["contact_id", "occurred_at", "kind", "activity_id", SOURCE_ROW]
    return pd.DataFrame(rows, columns=columns), none
