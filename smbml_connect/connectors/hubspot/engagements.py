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
meeting they missed is not one they had. What has not happened (a call still ringing, an
email scheduled, a meeting called off or moved) is no activity; tasks are left out, as
their time is a due date.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from smbml_connect.connectors.hubspot.mapping import ObjectSpec, cast_value
from smbml_connect.errors import SmbmlError
from smbml_connect.ports import Notice
from smbml_connect.schema import SOURCE_ROW

__all__ = ["ACTIVITIES", "ENGAGEMENTS", "Engagement", "engagement_rows", "not_read"]

ACTIVITIES = "activities"
WHEN = "hs_timestamp"
CREATED = "hs_createdate"

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
# hs_call_status of a call that did not reach anyone (COMPLETED, or none: a logged call),
# and of one not over yet (it is read again when HubSpot records how it ended).
CALL_NOT_HELD = frozenset({"BUSY", "CANCELED", "FAILED", "NO_ANSWER", "MISSED"})
CALL_NOT_OVER = frozenset({"CALLING_CRM_USER", "CONNECTING", "IN_PROGRESS", "QUEUED", "RINGING"})
# A meeting the contact did not come to; one called off or moved did not happen (who
# called it off is not said; the meeting booked instead is a record of its own).
MEETING_MISSED = frozenset({"NO_SHOW"})
MEETING_NOT_HELD = frozenset({"CANCELED", "RESCHEDULED"})
# An email that did not reach them, or has not gone yet.
EMAIL_NOT_SENT = frozenset({"BOUNCED", "FAILED", "SCHEDULED", "SENDING"})


def _text(props: Mapping[str, Any], name: str) -> str:
    return str(props.get(name) or "").strip().upper()


def _call(props: Mapping[str, Any]) -> str | None:
    status = _text(props, "hs_call_status")
    if status in CALL_NOT_OVER:
        return None
    reached = props.get("hs_call_disposition") not in NOT_REACHED
    return "call" if reached and status not in CALL_NOT_HELD else "call_attempt"


def _email(props: Mapping[str, Any]) -> str | None:
    if _text(props, "hs_email_status") in EMAIL_NOT_SENT:
        return None
    direction = _text(props, "hs_email_direction")
    if direction == "INCOMING_EMAIL":
        return "email_received"
    if direction in ("EMAIL", "FORWARDED_EMAIL"):
        return "email_sent"
    # No direction said (HubSpot may hide an email's details from a token without
    # sales-email-read): an email between them, not a guess at who wrote it.
    return "email"


def _meeting(props: Mapping[str, Any]) -> str | None:
    outcome = _text(props, "hs_meeting_outcome")
    if outcome in MEETING_NOT_HELD:
        return None
    return "meeting_missed" if outcome in MEETING_MISSED else "meeting"


@dataclass(frozen=True)
class Engagement:
    """One engagement object type: the properties read, and the kind each record is."""

    object_type: str
    properties: tuple[str, ...]
    kind: Callable[[Mapping[str, Any]], str | None]
    kinds: tuple[str, ...]  # every kind ``kind`` gives
    noun: str = ""  # as users know them, plural, where not the object type's name

    @property
    def spec(self) -> ObjectSpec:
        """As the list, search and association reads of the other objects take it."""
        columns = {p: p for p in (WHEN, CREATED, *self.properties)}
        return ObjectSpec(
            ACTIVITIES, self.object_type, columns, {"contact_id": "contacts"}, "activity_id"
        )


ENGAGEMENTS = (
    Engagement("calls", ("hs_call_status", "hs_call_disposition"), _call,
               ("call", "call_attempt")),
    Engagement("emails", ("hs_email_direction", "hs_email_status"), _email,
               ("email", "email_sent", "email_received")),
    Engagement("meetings", ("hs_meeting_outcome",), _meeting, ("meeting", "meeting_missed")),
    Engagement("notes", (), lambda _: "note", ("note",)),
    Engagement("communications", (), lambda _: "message", ("message",), "messages"),
)  # fmt: skip


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
        # when it happened; else (an engagement logged without it) when it was logged
        when = cast_value(props.get(WHEN) or props.get(CREATED), "datetime")
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


def not_read(words: str, exc: SmbmlError, check: str) -> Notice:
    """The one notice for a kind of activity HubSpot refused (a scope, an object the
    portal lacks): the rows read before stay and the run is complete."""
    said = (
        str(exc)
        .replace("; nothing after the last saved page was lost, run again later", "")
        .rstrip(".")
    )
    message = (
        f"HubSpot {words} were not read: {said}. Lead scores use the other activities and "
        f"the {words} read before, if any, until a run reads them."
    )
    return Notice(check, ACTIVITIES, 0, message)
