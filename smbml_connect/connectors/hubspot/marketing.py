"""HubSpot's marketing emails opened and clicked, and forms filled in, as dated activities.

These are the signals a lead shows most often, and HubSpot keeps them outside the CRM
objects: the contact's own properties hold only today's totals (``hs_email_open``,
``num_conversion_events``), which a model trained on past snapshots must not read. The
events themselves come from two legacy APIs (the only ones that serve them):

- ``GET /email/public/v1/events`` (scope ``content``), one event type per query, newest
  first, by a window of epoch milliseconds. Opens and clicks that HubSpot's bot filter
  flagged (Apple Mail Privacy Protection, link scanners) are left out, as HubSpot leaves
  them out of its own counts. Events name the recipient's address only.
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
from smbml_connect.connectors.hubspot.http import HubSpotApi, HubSpotHttpError
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
# id, kind, epoch ms, address, and whether a run before read it (the hour read again)
Item = tuple[str, str, int, str, bool]
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
    """Items -> activity rows of the contact with each address; and the ids whose rows
    these replace: those that found a contact. One read again whose address no contact
    has now keeps the row it gave (it happened, to that contact)."""
    rows = [
        {
            "contact_id": contacts[address],
            "occurred_at": pd.Timestamp(ms, unit="ms", tz="UTC"),
            "kind": kind,
            "activity_id": rid,
            SOURCE_ROW: None,
        }
        for rid, kind, ms, address, _ in items
        if address in contacts
    ]
    columns = ["contact_id", "occurred_at", "kind", "activity_id", SOURCE_ROW]
    return pd.DataFrame(rows, columns=columns), [r["activity_id"] for r in rows]


def _unmatched(lost: Unmatched) -> str:
    """The one line for marketing activity that names no contact HubSpot has now."""
    parts = []
    if lost.events:
        who = len(lost.addresses)
        many = lost.events != 1
        what = (
            "opens, clicks and form submissions were"
            if many
            else "open, click or form submission was"
        )
        parts.append(
            f"{lost.events:,} marketing email {what} by {who:,} email "
            f"address{'es' if who != 1 else ''} no HubSpot contact has now (a contact "
            "deleted, or its address changed)"
        )
    if lost.submissions_without_email:
        n = lost.submissions_without_email
        parts.append(f"{n:,} form submission{'s' if n != 1 else ''} gave no email address")
    return "; ".join(parts) + ": they are not counted in lead scores."


def _forms_not_read(forms: list[tuple[str, str]]) -> str:
    """One line for the forms whose submissions this run could not read, and why."""
    said = "; ".join(f"'{name}' ({why})" for name, why in sorted(set(forms)))
    one = len(set(forms)) == 1
    return (
        f"The submissions of the form{'' if one else 's'} {said} were not read; the other "
        f"forms were, and {'it is' if one else 'they are'} tried again next run. If this "
        "keeps happening, check the form in HubSpot (Marketing > Forms)."
    )


def _archived_ms(form: Mapping[str, Any]) -> int:
    """When a form was taken down (``archivedAt``, else its last change); 0 if unsaid."""
    for name in ("archivedAt", "updatedAt"):
        text = form.get(name)
        if isinstance(text, str) and text:
            try:
                return int(pd.Timestamp(text).timestamp() * 1000)
            except ValueError:
                continue
    return 0


class LookupRefused(SmbmlError):
    """HubSpot refused the lookup of contacts by email: no event can be placed, so the
    table is held back (a message without HubSpot's words, which may quote addresses)."""


class UnreadableAnswer(SmbmlError):
    """An answer that cannot be read on from: the feed stops where it is (its mark stays,
    what it read is kept) with one notice, and the next run asks again."""


def _address(value: Any) -> str:
    return str(value or "").strip().lower()


def _mark(marks: Mapping[str, str], key: str, until: int) -> int | None:
    """Where a feed's last read ended; none (read it whole) where that is after this run's
    own end: a clock that ran ahead, since put right, must not skip the days between."""
    value = int(marks[key]) if key in marks else None
    # a clock put back a little between two runs is no reason to read everything again
    return value if value is not None and value <= until + SETTLE_MS else None


def _is_ms(value: Any) -> bool:
    """An epoch-millisecond time as HubSpot gives it (a number, not a flag or a text)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _after(body: Mapping[str, Any]) -> str | None:
    return ((body.get("paging") or {}).get("next") or {}).get("after")


class MarketingReader:
    """Reads one run's email events and form submissions under the activities cursor."""

    def __init__(self, api: HubSpotApi, started_ms: int, page_rows: int) -> None:
        self.api = api
        self.until = started_ms - SETTLE_MS
        self.page_rows = page_rows
        self.contacts: dict[str, str] = {}  # address -> contact id, this run's lookups
        self.unknown: set[str] = set()
        self.unmatched = Unmatched()
        self.forms_not_read: list[tuple[str, str]] = []  # form name, what HubSpot did

    def pages(self, marks: Mapping[str, str]) -> Iterator[tuple[Page, dict[str, str]]]:
        """The opens, the clicks and the form submissions in turn, pooled into pages of
        ``page_rows`` with the marks they complete: addresses are looked up a page at a
        time whatever feed they came from (an hourly run: one per 100 addresses). A feed
        HubSpot refuses is one notice on the last page; what the others read loads. One
        that keeps failing keeps what was read and holds the table back (``pipeline``)."""
        feeds: tuple[tuple[str, Callable[[], Iterator[Chunk]]], ...] = (
            ("marketing email opens", lambda: self._email_items("OPEN", marks)),
            ("marketing email clicks", lambda: self._email_items("CLICK", marks)),
            ("form submissions", lambda: self._form_items(marks)),
        )
        items: list[Item] = []
        moved: dict[str, str] = {}
        notices: list[Notice] = []
        for words, feed in feeds:
            chunks = feed()
            while True:
                try:
                    chunk, marked = next(chunks)
                except StopIteration:
                    break
                except TokenRejectedError:
                    raise  # every request would be refused
                except SourceRetriableError:
                    # HubSpot kept failing: keep what was read, with the marks the feeds
                    # done so far allow; the table is held back and tried again next run
                    if items:
                        yield self._page(items), moved
                    raise
                except UnreadableAnswer as exc:
                    log.warning("HubSpot %s read in part: %s", words, exc)
                    notices.append(Notice("marketing_not_read", ACTIVITIES, 0,
                        f"HubSpot's {words} were read only in part ({exc}): those read "
                        "are kept, and the rest are read next run."))  # fmt: skip
                    break
                except SmbmlError as exc:
                    log.warning("HubSpot %s not read: %s", words, exc)
                    notices.append(not_read(words, exc, "marketing_not_read"))
                    break
                items += chunk
                moved |= marked
                if len(items) >= self.page_rows:
                    # a lookup HubSpot refuses fails the table: no activity could be placed
                    yield self._page(items), moved
                    items, moved = [], {}
        last = self._page(items)
        if self.forms_not_read:
            notices.append(
                Notice("marketing_not_read", ACTIVITIES, 0, _forms_not_read(self.forms_not_read))
            )
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
        mark = _mark(marks, key, self.until)
        start = None if mark is None else mark - LOOKBACK_MS
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
            events = body.get("events")
            if not isinstance(events, list):
                raise UnreadableAnswer("an answer held no list of events")
            for event in events:
                created = event.get("created")
                if event.get("type") == event_type and event.get("id") and _is_ms(created):
                    when = int(created)
                    again = mark is not None and when <= mark
                    buffer.append(
                        (str(event["id"]), kind, when, _address(event.get("recipient")), again)
                    )
            offset = body.get("offset")
            if not body.get("hasMore"):
                break
            if not offset:  # more to come, and no way to ask for it: the mark stays
                yield buffer, {}
                raise UnreadableAnswer("HubSpot said more follow, but not how to ask for them")
            yield buffer, {}
            buffer = []
        yield buffer, {key: str(self.until)}

    # -- form submissions ------------------------------------------------------------
    def _form_items(self, marks: Mapping[str, str]) -> Iterator[Chunk]:
        """Every readable form's submissions since its mark, form after form."""
        failing = False
        for form in self._forms():
            guid = str(form["id"])
            key = FORMS + guid
            mark = _mark(marks, key, self.until)
            if form.get("archived") and mark is not None and mark > _archived_ms(form):
                continue  # read since it was taken down: nothing new comes to it
            name = str(form.get("name") or guid)
            try:
                yield from self._submission_pages(guid, mark, key, name)
            except TokenRejectedError:
                raise
            except SourceRetriableError as exc:
                # one form HubSpot keeps failing on is that form's trouble, so the others
                # are read and the lead scores are not held back for it; two in a row is
                # HubSpot's (or the limit's): stop, keeping what was read
                if failing:
                    raise
                log.warning("HubSpot form %s failing: %s", guid, exc)
                self.forms_not_read.append((name, "HubSpot kept failing on it"))
                failing = True
                continue
            except SmbmlError as exc:  # refused (4xx): this form only
                log.warning("HubSpot form %s not read: %s", guid, exc)
                status = getattr(exc, "status", None)
                why = f"HubSpot refused it, HTTP {status}" if status else "HubSpot refused it"
                self.forms_not_read.append((name, why))
                failing = False  # HubSpot answered: it is not failing
                continue
            failing = False

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
                after = _after(body)
                if not after:
                    break
        return forms

    def _submission_pages(
        self, guid: str, mark: int | None, key: str, name: str
    ) -> Iterator[Chunk]:
        start = None if mark is None else mark - LOOKBACK_MS
        buffer: list[Item] = []
        after: str | None = None
        while True:
            body = self._get(
                f"reading the submissions of the form '{name}'",
                f"/form-integrations/v1/submissions/forms/{guid}",
                {"limit": SUBMISSIONS_PAGE, **({"after": after} if after else {})},
            )
            results = body.get("results") or []
            older = False
            for item in results:
                when, rid = item.get("submittedAt"), item.get("conversionId")
                if not _is_ms(when) or not rid:
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
                    if not (mark is not None and when <= mark):  # said once, not each hour
                        self.unmatched.submissions_without_email += 1
                    continue
                again = mark is not None and when <= mark
                buffer.append((str(rid), FORM_KIND, int(when), _address(email), again))
            after = _after(body)
            if older or not after:
                break
            yield buffer, {}
            buffer = []
        yield buffer, {key: str(self.until)}

    # -- shared ----------------------------------------------------------------------
    def _page(self, items: list[Item]) -> Page:
        self._look_up({address for _, _, _, address, _ in items})
        frame, ids = marketing_rows(items, self.contacts)
        missed = [a for _, _, _, a, again in items if a not in self.contacts and not again]
        self.unmatched.addresses.update(a for a in missed if a)  # an event may name none
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
                properties=["email", "hs_additional_emails"],
                properties_with_history=[],
            )
            try:
                body = self.api.json(
                    "finding contacts by email",
                    self.api.client.crm.objects.batch_api.read,
                    "contacts",
                    request,
                )
            except HubSpotHttpError as exc:  # HubSpot's words may quote the addresses
                raise LookupRefused(
                    f"HubSpot refused to find contacts by their email address (HTTP "
                    f"{exc.status}), so no marketing email open, click or form could be "
                    "given to a contact this run; they are read again next run"
                ) from None
            records = body.get("results") or []
            wanted_here = set(chunk)
            # a contact's main address first; then, in case HubSpot finds a contact by
            # one of its other addresses, those no main address has claimed
            for record in records:
                main = _address((record.get("properties") or {}).get("email"))
                if main in wanted_here:
                    self.contacts[main] = str(record["id"])
            for record in records:
                others = str((record.get("properties") or {}).get("hs_additional_emails") or "")
                for address in set(map(_address, others.split(";"))) & wanted_here:
                    self.contacts.setdefault(address, str(record["id"]))
            self.unknown.update(a for a in chunk if a not in self.contacts)

    def _get(self, what: str, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        query = [
            (k, item) for k, v in params.items() for item in (v if isinstance(v, list) else [v])
        ]
        return self.api.json(what, self.api.get, path, query_params=query)
