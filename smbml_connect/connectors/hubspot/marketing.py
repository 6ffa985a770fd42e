"""HubSpot's marketing emails opened and clicked, and forms filled in, as dated activities.

These are the signals a lead shows most often, and HubSpot keeps them outside the CRM
objects: the contact's own properties hold only today's totals (``hs_email_open``,
``num_conversion_events``), which a model trained on past snapshots must not read. The
events themselves come from two legacy APIs (the only ones that serve them):

- ``GET /email/public/v1/events`` (scope ``content``), one event type per query, newest
  first, by a window of epoch milliseconds. Opens HubSpot's bot filter flagged (Apple Mail
  Privacy Protection, link scanners) are left out, as HubSpot leaves them out of its own
  counts. Events name the recipient's address only.
- ``GET /marketing/v3/forms`` then ``GET /form-integrations/v1/submissions/forms/{guid}``
  (scope ``forms``), newest first, 50 a page. A submission names the values typed, of
  which the email is the only link to a contact.

So each address is looked up once per run in a batch read of contacts by ``email``. An
event or submission is keyed by its own id, so reading it again (the last hour is read
again each run: HubSpot's newest events arrive late) replaces its row rather than adding
one. Neither API lists what was deleted; a contact deleted for good takes its rows with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from hubspot.crm.objects import BatchReadInputSimplePublicObjectId

from smbml_connect.connectors.hubspot.engagements import ACTIVITIES, not_read
from smbml_connect.connectors.hubspot.http import HubSpotApi
from smbml_connect.errors import SmbmlError, SourceRetriableError, TokenRejectedError
from smbml_connect.ports import Notice, Page
from smbml_connect.schema import SOURCE_ROW

__all__ = [
    "EMAIL_KINDS",
    "EVENTS",
    "FORMS",
    "FORM_KIND",
    "MarketingReader",
    "Unmatched",
    "marketing_rows",
]

log = logging.getLogger(__name__)

EMAIL_KINDS = {"OPEN": "email_open", "CLICK": "email_click"}
Item = tuple[str, str, int, str]  # id, kind, epoch ms, address
Chunk = tuple[list[Item], dict[str, str]]  # items, and the marks they complete
FORM_KIND = "form_submission"
EVENTS = "events:"  # cursor keys: "events:OPEN" -> every event up to this ms is read
FORMS = "forms:"  # "forms:<guid>" -> every submission of the form up to this ms is read
EVENTS_PAGE = 1000  # HubSpot's most
SUBMISSIONS_PAGE = 50  # HubSpot's most
FORMS_PAGE = 100
READ_BATCH = 100
# HubSpot's newest events are not all in yet when asked for (connectors that read them
# hold the last minutes back): each run reads up to 5 minutes ago, and from an hour before
# where the last run stopped.
SETTLE_MS = 5 * 60 * 1000
LOOKBACK_MS = 60 * 60 * 1000
# Forms whose submissions can be read (a blog comment form's are refused with a 400).
FORM_TYPES = ("hubspot", "captured", "flow")


@dataclass
class Unmatched:
    """What a run read but could not give to a contact, for its one notice."""

    addresses: set[str] = field(default_factory=set)
    events: int = 0
    submissions_without_email: int = 0


def marketing_rows(
    items: list[Item], contacts: Mapping[str, str]
) -> tuple[pd.DataFrame, list[str]]:
    """(id, kind, epoch ms, address) -> activity rows of the contact with that address;
    and the ids read, whether or not they found a contact (their old rows go either way)."""
    rows = [
        {
            "contact_id": contacts[address],
            "occurred_at": pd.Timestamp(ms, unit="ms", tz="UTC"),
            "kind": kind,
            "activity_id": rid,
            SOURCE_ROW: None,
        }
        for rid, kind, ms, address in items
        if address in contacts
    ]
    columns = ["contact_id", "occurred_at", "kind", "activity_id", SOURCE_ROW]
    return pd.DataFrame(rows, columns=columns), [rid for rid, *_ in items]


def _unmatched(lost: Unmatched) -> str:
    """The one line for marketing activity that names no contact HubSpot has now."""
    parts = []
    if lost.events:
        who = len(lost.addresses)
        parts.append(
            f"{lost.events:,} marketing email opens, clicks and form submissions were by "
            f"{who:,} email address{'es' if who != 1 else ''} no HubSpot contact has now "
            "(a contact deleted, or its address changed)"
        )
    if lost.submissions_without_email:
        parts.append(f"{lost.submissions_without_email:,} form submissions gave no email address")
    return "; ".join(parts) + ": they are not counted in lead scores."


def _address(value: Any) -> str:
    return str(value or "").strip().lower()


class MarketingReader:
    """Reads one run's email events and form submissions under the activities cursor."""

    def __init__(self, api: HubSpotApi, started_ms: int, page_rows: int) -> None:
        self.api = api
        self.until = started_ms - SETTLE_MS
        self.page_rows = page_rows
        self.contacts: dict[str, str] = {}  # address -> contact id, this run's lookups
        self.unknown: set[str] = set()
        self.unmatched = Unmatched()

    def pages(self, marks: Mapping[str, str]) -> Iterator[tuple[Page, dict[str, str]]]:
        """The opens, the clicks and the form submissions in turn, pooled into pages of
        ``page_rows`` with the marks they complete: addresses are looked up a page at a
        time whatever feed they came from (an hourly run: one lookup, if any). A feed
        HubSpot refuses is one notice on the last page; what the others read loads."""
        feeds: tuple[tuple[str, Callable[[], Iterator[Chunk]]], ...] = (
            ("marketing email opens", lambda: self._email_items("OPEN", marks)),
            ("marketing email clicks", lambda: self._email_items("CLICK", marks)),
            ("form submissions", lambda: self._form_items(marks)),
        )
        items: list[Item] = []
        moved: dict[str, str] = {}
        notices: list[Notice] = []
        for words, feed in feeds:
            try:
                for chunk, marked in feed():
                    items += chunk
                    moved |= marked
                    if len(items) >= self.page_rows:
                        yield self._page(items), moved
                        items, moved = [], {}
            except (TokenRejectedError, SourceRetriableError):
                raise  # every request would be refused / try the table again next run
            except SmbmlError as exc:
                log.warning("HubSpot %s not read: %s", words, exc)
                notices.append(not_read(words, exc, "marketing_not_read"))
        last = self._page(items)
        lost = self.unmatched
        if lost.events or lost.submissions_without_email:
            notices.append(
                Notice("marketing_no_contact", ACTIVITIES, lost.events, _unmatched(lost))
            )
        last.notices = notices
        yield last, moved

    # -- email events ----------------------------------------------------------------
    def _email_items(self, event_type: str, marks: Mapping[str, str]) -> Iterator[Chunk]:
        """One event type's events since its mark (all of them the first time), a page of
        HubSpot's at a time; the last moves the mark to the end of the window read."""
        key = EVENTS + event_type
        start = int(marks[key]) - LOOKBACK_MS if key in marks else None
        if start is not None and start > self.until:
            return
        params: dict[str, Any] = {
            "eventType": event_type,
            "endTimestamp": self.until,
            "limit": EVENTS_PAGE,
            "excludeFilteredEvents": "true",
        }
        if start is not None:
            params["startTimestamp"] = max(0, start)
        kind = EMAIL_KINDS[event_type]
        buffer: list[Item] = []
        offset: str | None = None
        while True:
            body = self._get(
                f"reading email {kind.removeprefix('email_')}s",
                "/email/public/v1/events",
                {**params, **({"offset": offset} if offset else {})},
            )
            for event in body.get("events") or []:
                if event.get("type") == event_type and event.get("id") and event.get("created"):
                    buffer.append(
                        (
                            str(event["id"]),
                            kind,
                            int(event["created"]),
                            _address(event.get("recipient")),
                        )
                    )
            offset = body.get("offset")
            if not (body.get("hasMore") and offset):
                break
            yield buffer, {}
            buffer = []
        yield buffer, {key: str(self.until)}

    # -- form submissions ------------------------------------------------------------
    def _form_items(self, marks: Mapping[str, str]) -> Iterator[Chunk]:
        """Every readable form's submissions since its mark, form after form."""
        for form in self._forms():
            guid = str(form["id"])
            key = FORMS + guid
            if form.get("archived") and key in marks:
                continue  # nothing new is submitted to a form taken down
            start = int(marks[key]) - LOOKBACK_MS if key in marks else None
            yield from self._submission_pages(guid, start, key)

    def _forms(self) -> list[dict[str, Any]]:
        forms: list[dict[str, Any]] = []
        for archived in ("false", "true"):
            after: str | None = None
            while True:
                params: dict[str, Any] = {
                    "formTypes": list(FORM_TYPES),
                    "limit": FORMS_PAGE,
                    "archived": archived,
                }
                body = self._get(
                    "listing forms",
                    "/marketing/v3/forms",
                    params | ({"after": after} if after else {}),
                )
                forms += [f for f in body.get("results") or [] if f.get("id")]
                after = ((body.get("paging") or {}).get("next") or {}).get("after")
                if not after:
                    break
        return forms

    def _submission_pages(self, guid: str, start: int | None, key: str) -> Iterator[Chunk]:
        buffer: list[Item] = []
        after: str | None = None
        while True:
            body = self._get(
                "reading form submissions",
                f"/form-integrations/v1/submissions/forms/{guid}",
                {"limit": SUBMISSIONS_PAGE, **({"after": after} if after else {})},
            )
            results = body.get("results") or []
            older = False
            for item in results:
                when, rid = item.get("submittedAt"), item.get("conversionId")
                if not isinstance(when, int | float) or not rid:
                    continue
                if start is not None and when < start:
                    older = True  # newest first: the rest were read before
                    break
                if when > self.until:
                    continue  # read next run, when it has settled
                email = next(
                    (
                        v.get("value")
                        for v in item.get("values") or []
                        if str(v.get("name", "")).lower() == "email"
                    ),
                    None,
                )
                if not _address(email):
                    self.unmatched.submissions_without_email += 1
                    continue
                buffer.append((str(rid), FORM_KIND, int(when), _address(email)))
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if older or not after:
                break
            yield buffer, {}
            buffer = []
        yield buffer, {key: str(self.until)}

    # -- shared ----------------------------------------------------------------------
    def _page(self, items: list[Item]) -> Page:
        self._look_up({address for *_, address in items})
        frame, ids = marketing_rows(items, self.contacts)
        missed = [address for *_, address in items if address not in self.contacts]
        self.unmatched.addresses.update(missed)
        self.unmatched.events += len(missed)
        page = Page(replace={ACTIVITIES: ids})
        page.tables[ACTIVITIES] = frame
        return page

    def _look_up(self, addresses: set[str]) -> None:
        """Contact ids of the addresses not met yet this run, a batch read per 100."""
        wanted = sorted(a for a in addresses - set(self.contacts) - self.unknown if a)
        for start in range(0, len(wanted), READ_BATCH):
            chunk = wanted[start : start + READ_BATCH]
            request = BatchReadInputSimplePublicObjectId(
                id_property="email",
                inputs=[{"id": a} for a in chunk],
                properties=["email"],
                properties_with_history=[],
            )
            body = self.api.json(
                "finding contacts by email",
                self.api.client.crm.objects.batch_api.read,
                "contacts",
                request,
            )
            for record in body.get("results") or []:
                address = _address((record.get("properties") or {}).get("email"))
                if address:
                    self.contacts[address] = str(record["id"])
            self.unknown.update(a for a in chunk if a not in self.contacts)

    def _get(self, what: str, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        query = [
            (k, item) for k, v in params.items() for item in (v if isinstance(v, list) else [v])
        ]
        return self.api.json(what, self.api.get, path, query_params=query)
