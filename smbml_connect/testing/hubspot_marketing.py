"""HubSpot's marketing events as its legacy APIs serve them: email events and form submissions.

A contact's marketing emails opened and clicked, and the forms it filled in, are not CRM
objects: HubSpot keeps them behind ``GET /email/public/v1/events`` (scope ``content``)
and ``GET /form-integrations/v1/submissions/forms/{guid}`` (scope ``forms``), with the
forms listed by ``GET /marketing/v3/forms``. What is copied (the sources are named in
ARCHITECTURE, "HubSpot", "Marketing events"):

- email events: newest first; ``startTimestamp``/``endTimestamp`` in epoch ms, both
  inclusive; ``limit`` 10 by default, at most 1000; one ``eventType`` only, case-sensitive
  (anything else is HubSpot's enum error); ``offset`` an opaque token valid only with the
  same query; ``excludeFilteredEvents`` drops what HubSpot's bot filter flagged
  (``filteredEvent``: Apple Mail Privacy Protection, corporate link scanners);
- forms: only ``hubspot`` forms unless ``formTypes`` says otherwise; ISO dates; paged by
  ``after``;
- submissions: newest first; ``limit`` 20 by default, at most 50; ``paging`` absent on
  the last page; no contact id, only the submitted values (the ``email`` among them); a
  blog comment form is refused (400 FORM_TYPE_NOT_ALLOWED).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["EMAIL_EVENT_TYPES", "FORM_TYPES", "MarketingState", "Refused"]

# The values the server accepts, in the order its enum error lists them.
EMAIL_EVENT_TYPES = (
    "DROPPED", "UNBOUNCE", "STATUSCHANGE", "DELIVERED", "FORWARD", "BOUNCE", "REPLY",
    "PRINT", "PROCESSED", "UNSUBSCRIBED", "SUPPRESSED", "CLICK_ON_IDENTIFIED_LINK", "SENT",
    "SELECTED", "SPAMREPORT", "OPT_IN_CHANGE", "DEFERRED", "ERROR", "OPEN", "MTA_DROPPED",
    "CLICK",
)  # fmt: skip
FORM_TYPES = ("hubspot", "captured", "flow", "blog_comment")
EVENTS_LIMIT = (10, 1000)  # default, most
SUBMISSIONS_LIMIT = (20, 50)
FORMS_LIMIT = (20, 500)  # HubSpot states no most; connectors ask 100 (Airbyte) and 500


class Refused(Exception):
    """An error answer the emulator sends as HubSpot's JSON: status, message, category."""

    def __init__(self, status: int, message: str, category: str) -> None:
        super().__init__(message)
        self.status = status
        self.category = category


def _token(query: Mapping[str, Any], position: Sequence[Any]) -> str:
    """An opaque offset: the last position served, bound to the query it belongs to."""
    bound = hashlib.sha256(json.dumps(query, sort_keys=True).encode()).hexdigest()[:12]
    raw = json.dumps({"q": bound, "p": list(position)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _position(token: str, query: Mapping[str, Any]) -> list[Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        bound = hashlib.sha256(json.dumps(query, sort_keys=True).encode()).hexdigest()[:12]
        if raw["q"] != bound:
            raise ValueError("another query's offset")
        return list(raw["p"])
    except (ValueError, KeyError, TypeError) as exc:
        raise Refused(400, f"Invalid offset: {token}", "VALIDATION_ERROR") from exc


def _limit(text: str | None, bounds: tuple[int, int]) -> int:
    default, most = bounds
    if text is None or text == "":
        return default
    try:
        limit = int(text)
    except ValueError as exc:
        raise Refused(400, f"limit must be a number: {text}", "VALIDATION_ERROR") from exc
    if not 1 <= limit <= most:
        raise Refused(400, f"limit must be between 1 and {most}, got {limit}", "VALIDATION_ERROR")
    return limit


def _first(query: Mapping[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    return values[0] if values else None


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


@dataclass
class MarketingState:
    """One account's email events and forms with their submissions."""

    portal_id: int = 146_238_120
    events: list[dict[str, Any]] = field(default_factory=list)
    forms: dict[str, dict[str, Any]] = field(default_factory=dict)
    submissions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    # True: a page with more to come names no offset (tap-hubspot's PR "Handles missing
    # offsets in a hubspot response" says HubSpot has answered so).
    offset_dropped: bool = False
    # True: an events answer without its ``events`` list (an answer cut or changed).
    events_dropped: bool = False
    # Forms whose submissions are refused, as (status, category): a test's own choice.
    refused_forms: dict[str, tuple[int, str]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # -- what a test or the sample puts in ---------------------------------------------
    def add_email_event(
        self,
        recipient: str,
        event_type: str,
        created_ms: int,
        *,
        filtered: bool = False,
        campaign_id: int = 1,
        url: str | None = None,
    ) -> dict[str, Any]:
        if event_type not in EMAIL_EVENT_TYPES:
            raise ValueError(f"not an email event type: {event_type}")
        with self.lock:
            n = next(self._ids)
            event: dict[str, Any] = {
                "id": f"{n:08x}-e0e0-4000-8000-{n:012x}",
                "created": int(created_ms),
                "portalId": self.portal_id,
                "appId": 113,
                "appName": "Batch",
                "emailCampaignId": campaign_id,
                "recipient": recipient,
                "sentBy": {"id": f"sent-{campaign_id}-{recipient}", "created": int(created_ms)},
                "filteredEvent": filtered,
                "deviceType": "COMPUTER",
            }
            if event_type != "UNBOUNCE":  # HubSpot's unbounce events carry no type
                event["type"] = event_type
            if event_type == "CLICK":
                event["url"] = url or "https://example.com/?utm_source=hs_email"
                event["linkId"] = 0
            self.events.append(event)
            return event

    def add_form(
        self, name: str, created_ms: int, form_type: str = "hubspot", archived: bool = False
    ) -> str:
        if form_type not in FORM_TYPES:
            raise ValueError(f"not a form type: {form_type}")
        with self.lock:
            n = next(self._ids)
            guid = f"{n:08x}-f0f0-4000-8000-{n:012x}"
            self.forms[guid] = {
                "id": guid,
                "name": name,
                "formType": form_type,
                "createdAt": _iso(created_ms),
                "updatedAt": _iso(created_ms),
                "archived": archived,
                "fieldGroups": [
                    {"groupType": "default_group", "richTextType": "text",
                     "fields": [{"objectTypeId": "0-1", "name": "email", "label": "Email",
                                 "required": True, "hidden": False, "fieldType": "email"}]}
                ],
                "configuration": {}, "displayOptions": {}, "legalConsentOptions": {"type": "none"},
            }  # fmt: skip
            self.submissions[guid] = []
            return guid

    def archive_form(self, guid: str, at_ms: int) -> None:
        """Take a form down, as HubSpot's archive does (``archivedAt`` is then said)."""
        with self.lock:
            form = self.forms[guid]
            form.update(archived=True, archivedAt=_iso(at_ms), updatedAt=_iso(at_ms))

    def add_submission(
        self, guid: str, submitted_ms: int, values: Mapping[str, str], page_url: str = ""
    ) -> dict[str, Any]:
        with self.lock:
            n = next(self._ids)
            item = {
                "conversionId": f"{n:08x}-c0c0-4000-8000-{n:012x}",
                "submittedAt": int(submitted_ms),
                "values": [{"name": k, "value": v} for k, v in values.items()],
                "pageUrl": page_url or "https://example.com/contact",
            }
            self.submissions[guid].append(item)
            return item

    # -- what the routes answer ----------------------------------------------------------
    def email_events(self, query: Mapping[str, list[str]]) -> dict[str, Any]:
        """GET /email/public/v1/events."""
        one = {k: v[0] for k, v in query.items() if v}
        kinds = query.get("eventType") or []
        if len(kinds) > 1 or (kinds and kinds[0] not in EMAIL_EVENT_TYPES):
            said = ",".join(kinds)
            raise Refused(
                400,
                "Invalid input JSON on line -1, column -1: Cannot deserialize value of type "
                f'`com.hubspot.email.events.EventType` from String "{said}": not one of the '
                f"values accepted for Enum class: [{', '.join(EMAIL_EVENT_TYPES)}]",
                "VALIDATION_ERROR",
            )
        limit = _limit(one.get("limit"), EVENTS_LIMIT)
        start = int(one["startTimestamp"]) if one.get("startTimestamp") else None
        end = int(one["endTimestamp"]) if one.get("endTimestamp") else None
        recipient = one.get("recipient", "").lower()
        unfiltered = one.get("excludeFilteredEvents", "").lower() == "true"
        bound = {k: v for k, v in one.items() if k not in ("offset", "limit")}
        after = _position(one["offset"], bound) if one.get("offset") else None
        with self.lock:
            chosen = [
                e
                for e in self.events
                if (not kinds or e.get("type", "UNBOUNCE") == kinds[0])
                and (start is None or e["created"] >= start)
                and (end is None or e["created"] <= end)
                and (not recipient or e["recipient"].lower() == recipient)
                and not (unfiltered and e["filteredEvent"])
            ]
        chosen.sort(key=lambda e: (e["created"], e["id"]), reverse=True)
        if after is not None:  # strictly older than the last one served
            chosen = [e for e in chosen if (e["created"], e["id"]) < (after[0], after[1])]
        page, more = chosen[:limit], len(chosen) > limit
        last = (page[-1]["created"], page[-1]["id"]) if page else (after or (0, ""))
        body: dict[str, Any] = {"events": [dict(e) for e in page], "hasMore": more}
        if not (more and self.offset_dropped):
            body["offset"] = _token(bound, last)
        if self.events_dropped:
            del body["events"]
        return body

    def form_list(self, query: Mapping[str, list[str]]) -> dict[str, Any]:
        """GET /marketing/v3/forms (and with the trailing slash the Python client sends)."""
        kinds = set(query.get("formTypes") or ["hubspot"])
        if "all" in kinds:
            kinds = set(FORM_TYPES)
        unknown = kinds - set(FORM_TYPES)
        if unknown:
            raise Refused(400, f"Unknown form types: {sorted(unknown)}", "VALIDATION_ERROR")
        limit = _limit(_first(query, "limit"), FORMS_LIMIT)
        archived = (query.get("archived") or ["false"])[0].lower() == "true"
        with self.lock:
            forms = [
                f
                for f in self.forms.values()
                if f["formType"] in kinds and f["archived"] == archived
            ]
        forms.sort(key=lambda f: f["id"])
        after = (query.get("after") or [""])[0]
        if after:
            forms = [f for f in forms if f["id"] > after]
        body: dict[str, Any] = {"results": [dict(f) for f in forms[:limit]]}
        if len(forms) > limit:
            last = forms[limit - 1]["id"]
            body["paging"] = {
                "next": {"after": last, "link": f"/marketing/v3/forms?after={last}&limit={limit}"}
            }
        return body

    def form_submissions(self, guid: str, query: Mapping[str, list[str]]) -> dict[str, Any]:
        """GET /form-integrations/v1/submissions/forms/{guid}."""
        with self.lock:
            form = self.forms.get(guid)
            items = list(self.submissions.get(guid, []))
        if form is None:
            raise Refused(404, f"Form {guid} does not exist", "OBJECT_NOT_FOUND")
        if guid in self.refused_forms:
            status, category = self.refused_forms[guid]
            raise Refused(status, f"Submissions of form {guid} cannot be read", category)
        if form["formType"] == "blog_comment":
            raise Refused(
                400,
                "Submissions of this form type cannot be retrieved",
                "FORM_TYPE_NOT_ALLOWED",
            )
        limit = _limit(_first(query, "limit"), SUBMISSIONS_LIMIT)
        bound = {"form": guid}
        after = (query.get("after") or [""])[0]
        items.sort(key=lambda s: (s["submittedAt"], s["conversionId"]), reverse=True)
        if after:
            at = _position(after, bound)
            items = [s for s in items if (s["submittedAt"], s["conversionId"]) < (at[0], at[1])]
        page = items[:limit]
        body: dict[str, Any] = {"results": [dict(s) for s in page]}
        if len(items) > limit:
            token = _token(bound, (page[-1]["submittedAt"], page[-1]["conversionId"]))
            body["paging"] = {
                "next": {
                    "after": token,
                    "link": f"/form-integrations/v1/submissions/forms/{guid}?after={token}",
                }
            }
        return body
