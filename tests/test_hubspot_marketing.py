"""HubSpot's marketing email opens and clicks and its form submissions as dated activities.

Through the official client against the emulator, which serves HubSpot's legacy email
events and form submissions APIs as their documentation and public connectors describe
them (newest first, inclusive epoch-ms windows, one event type per query, the bot filter,
50 submissions a page, scopes ``content`` and ``forms``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
import requests

from smbml_connect.analytics.leads.contact_features import contact_snapshot
from smbml_connect.connectors.hubspot.cursor import engagement_marks
from smbml_connect.connectors.hubspot.http import HubSpotApi, Limits
from smbml_connect.connectors.hubspot.source import HubSpotSource
from smbml_connect.credentials import Secret
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.ports import RunResult
from smbml_connect.store import Store
from smbml_connect.testing.clock import FakeClock
from smbml_connect.testing.hubspot_emulator import TEST_TOKEN, HubSpotEmulator

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
HEADERS = {"Authorization": f"Bearer {TEST_TOKEN}"}


def ms(text: str) -> int:
    return int(pd.Timestamp(text).timestamp() * 1000)


@pytest.fixture
def hub() -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(clock=FakeClock()) as emulator:
        yield emulator


@pytest.fixture
def store(tmp_path: Any) -> Iterator[Store]:
    with Store(tmp_path / "store.sqlite") as opened:
        yield opened


def sync(hub: HubSpotEmulator, store: Store, at: datetime = AT) -> RunResult:
    limits = Limits(read_timeout=2.0)
    hub.clock.advance(limits.window_seconds)  # runs are minutes apart: a fresh window
    api = HubSpotApi(Secret(TEST_TOKEN), host=hub.url, limits=limits, clock=hub.clock)
    source = HubSpotSource(api, started=at, entities=("contacts", "activities"))
    return run_pipeline(source, store, RunOptions(steps=[]))


def contact(hub: HubSpotEmulator, email: str) -> str:
    return hub.state.add("contacts", {"email": email, "lifecyclestage": "lead"}).id


def marketing(store: Store) -> dict[str, tuple[str, str, pd.Timestamp]]:
    frame = store.read("activities")
    return {
        r.activity_id: (r.contact_id, r.kind, r.occurred_at)
        for r in frame.itertuples()
        if r.kind in ("email_open", "email_click", "form_submission")
    }


def get(hub: HubSpotEmulator, path: str, **params: Any) -> requests.Response:
    return requests.get(hub.url + path, params=params, headers=HEADERS, timeout=5)


# -- the emulator, as HubSpot answers -------------------------------------------------
def test_email_events_come_newest_first_in_an_inclusive_window_one_type_at_a_time(
    hub: HubSpotEmulator,
) -> None:
    m = hub.state.marketing
    stamps = [ms("2026-11-01T10:00:00Z") + i * 1000 for i in range(12)]
    for i, stamp in enumerate(stamps):
        m.add_email_event("ann@x.com", "OPEN" if i % 3 else "CLICK", stamp, filtered=i == 4)
    m.add_email_event("ann@x.com", "UNBOUNCE", stamps[0])
    body = get(hub, "/email/public/v1/events", eventType="OPEN", startTimestamp=stamps[1],
               endTimestamp=stamps[10], limit=3).json()  # fmt: skip
    assert [e["created"] for e in body["events"]] == [stamps[10], stamps[8], stamps[7]]
    assert body["hasMore"] is True and set(body) == {"events", "hasMore", "offset"}
    seen = [e["created"] for e in body["events"]]
    while body["hasMore"]:
        body = get(hub, "/email/public/v1/events", eventType="OPEN", startTimestamp=stamps[1],
                   endTimestamp=stamps[10], limit=3, offset=body["offset"]).json()  # fmt: skip
        seen += [e["created"] for e in body["events"]]
    assert seen == [stamps[i] for i in (10, 8, 7, 5, 4, 2, 1)]  # both ends included
    # the bot filter's open is left out when asked; an unbounce carries no type
    kept = get(hub, "/email/public/v1/events", eventType="OPEN", limit=1000,
               excludeFilteredEvents="true").json()  # fmt: skip
    assert stamps[4] not in [e["created"] for e in kept["events"]]
    assert all("type" in e for e in kept["events"])
    assert "type" not in get(hub, "/email/public/v1/events", eventType="UNBOUNCE").json()[
        "events"][0]  # fmt: skip
    # one type only, at most 1,000 a page, and an offset belongs to its own query
    two = get(hub, "/email/public/v1/events", eventType="OPEN,CLICK")
    assert two.status_code == 400 and "not one of the values accepted" in two.json()["message"]
    assert get(hub, "/email/public/v1/events", limit=1001).status_code == 400
    first = get(hub, "/email/public/v1/events", eventType="OPEN", limit=1).json()
    other = get(hub, "/email/public/v1/events", eventType="CLICK", offset=first["offset"])
    assert other.status_code == 400


def test_forms_and_their_submissions_are_served_as_hubspot_serves_them(
    hub: HubSpotEmulator,
) -> None:
    m = hub.state.marketing
    start = ms("2026-01-01T00:00:00Z")
    main = m.add_form("Contact us", start)
    popup = m.add_form("Newsletter pop-up", start, form_type="captured")
    blog = m.add_form("Blog comments", start, form_type="blog_comment")
    for i in range(55):
        m.add_submission(main, start + i * 60_000, {"email": f"p{i}@x.com"})
    listed = get(hub, "/marketing/v3/forms/").json()  # the Python client's trailing slash
    assert [f["id"] for f in listed["results"]] == [main]  # hubspot forms unless asked
    every = get(hub, "/marketing/v3/forms", formTypes=["hubspot", "captured"]).json()
    assert {f["id"] for f in every["results"]} == {main, popup}
    page = get(hub, f"/form-integrations/v1/submissions/forms/{main}", limit=50).json()
    assert len(page["results"]) == 50
    assert page["results"][0]["submittedAt"] == start + 54 * 60_000  # newest first
    rest = get(hub, f"/form-integrations/v1/submissions/forms/{main}", limit=50,
               after=page["paging"]["next"]["after"]).json()  # fmt: skip
    assert len(rest["results"]) == 5 and "paging" not in rest  # none on the last page
    assert get(hub, f"/form-integrations/v1/submissions/forms/{main}", limit=51).status_code == 400
    refused = get(hub, f"/form-integrations/v1/submissions/forms/{blog}")
    assert (refused.status_code, refused.json()["category"]) == (400, "FORM_TYPE_NOT_ALLOWED")
    hub.scopes = {"crm.objects.contacts.read"}
    no_scope = get(hub, "/email/public/v1/events")
    assert no_scope.status_code == 403
    assert no_scope.json()["errors"][0]["context"]["requiredScopes"] == ["content"]
    assert get(hub, "/marketing/v3/forms").json()["errors"][0]["context"]["requiredScopes"][0] == (
        "forms"
    )


# -- the connector --------------------------------------------------------------------
def test_opens_clicks_and_forms_are_the_contacts_activities_at_their_own_moments(
    hub: HubSpotEmulator, store: Store
) -> None:
    ann, bob = contact(hub, "ann@x.com"), contact(hub, "Bob@X.com")
    m = hub.state.marketing
    opened = m.add_email_event("ann@x.com", "OPEN", ms("2026-11-02T08:00:00Z"))
    clicked = m.add_email_event("bob@x.com", "CLICK", ms("2026-11-02T09:30:00Z"))
    m.add_email_event("ann@x.com", "OPEN", ms("2026-11-02T08:00:01Z"), filtered=True)  # a bot
    m.add_email_event("ann@x.com", "DELIVERED", ms("2026-11-02T07:59:00Z"))  # not theirs
    m.add_email_event("gone@x.com", "OPEN", ms("2026-11-03T08:00:00Z"))  # no contact now
    form = m.add_form("Contact us", ms("2026-01-01T00:00:00Z"))
    old = m.add_form("Spring offer", ms("2026-03-01T00:00:00Z"), archived=True)
    m.add_form("Blog comments", ms("2026-01-01T00:00:00Z"), form_type="blog_comment")
    filled = m.add_submission(form, ms("2026-11-04T10:00:00Z"), {"EMAIL": "ANN@x.com "})
    spring = m.add_submission(old, ms("2026-03-10T10:00:00Z"), {"email": "bob@x.com"})
    m.add_submission(form, ms("2026-11-04T11:00:00Z"), {"firstname": "No address"})
    late = m.add_email_event("ann@x.com", "OPEN", int(AT.timestamp() * 1000) - 60_000)
    result = sync(hub, store)
    assert result.status == "ok", result.errors
    assert marketing(store) == {
        opened["id"]: (ann, "email_open", pd.Timestamp("2026-11-02T08:00:00Z")),
        clicked["id"]: (bob, "email_click", pd.Timestamp("2026-11-02T09:30:00Z")),
        filled["conversionId"]: (ann, "form_submission", pd.Timestamp("2026-11-04T10:00:00Z")),
        spring["conversionId"]: (bob, "form_submission", pd.Timestamp("2026-03-10T10:00:00Z")),
    }  # the open a minute before the run waits for HubSpot to settle
    said = [n for n in result.notices if n.check == "marketing_no_contact"]
    assert [n.message for n in said] == [
        "1 marketing email opens, clicks and form submissions were by 1 email address no "
        "HubSpot contact has now (a contact deleted, or its address changed); 1 form "
        "submissions gave no email address: they are not counted in lead scores."
    ]
    # the next run reads the open that had not settled, and nothing twice
    sync(hub, store, AT + timedelta(hours=1))
    assert marketing(store)[late["id"]][:2] == (ann, "email_open")
    assert len(marketing(store)) == 5
    # the lead model counts them as the contact's own doing, as of any moment
    pairs = pd.DataFrame({"contact_id": [ann, ann, bob], "at": pd.to_datetime(
        ["2026-11-02T07:00:00Z", "2026-11-30T00:00:00Z", "2026-11-30T00:00:00Z"], utc=True)})  # fmt: skip
    tables = {t: store.read(t) for t in ("contacts", "activities", "deals", "deal_stages")}
    features = contact_snapshot(tables, pairs)
    assert features["emails_opened"].tolist() == [0, 1, 0]
    assert features["forms_filled"].tolist() == [0, 1, 1]
    assert features["emails_clicked"].tolist() == [0, 0, 1]


def test_an_hourly_run_asks_only_for_what_came_since_and_reads_the_last_hour_again(
    hub: HubSpotEmulator, store: Store
) -> None:
    ann = contact(hub, "ann@x.com")
    m = hub.state.marketing
    form = m.add_form("Contact us", ms("2026-01-01T00:00:00Z"))
    for i in range(120):  # three pages of submissions, 2,500 opens: three pages of events
        m.add_submission(form, ms("2026-10-01T00:00:00Z") + i * 3_600_000, {"email": "ann@x.com"})
    for i in range(2_500):
        m.add_email_event("ann@x.com", "OPEN", ms("2026-09-01T00:00:00Z") + i * 600_000)
    sync(hub, store)
    assert hub.requests["GET email_events"] == 3 + 1  # opens in 3 pages, clicks in 1
    assert hub.requests["GET form_submissions"] == 3
    assert hub.requests["POST batch"] == 1  # one address, looked up once
    assert len(marketing(store)) == 2_620
    hub.reset_counts()
    # an open HubSpot files late, dated before the last run read up to, and a new form
    late = m.add_email_event("ann@x.com", "OPEN", int(AT.timestamp() * 1000) - 20 * 60_000)
    fresh = m.add_submission(form, int(AT.timestamp() * 1000) + 10 * 60_000, {"email": "ann@x.com"})
    sync(hub, store, AT + timedelta(hours=1))
    assert hub.requests["GET email_events"] == 2
    assert hub.requests["GET form_submissions"] == 1  # newest first: one page reaches the mark
    assert hub.requests["GET forms"] == 2  # live and archived
    assert hub.requests["POST batch"] == 1  # the opens' and the forms' addresses at once
    got = marketing(store)
    assert late["id"] in got and fresh["conversionId"] in got
    assert len(got) == 2_622  # nothing read twice
    assert store.read("activities")["contact_id"].eq(ann).all()
    marks = engagement_marks(store.get_cursor("hubspot", "activities"))
    assert marks["events:OPEN"] == str(int((AT + timedelta(hours=1)).timestamp() * 1000) - 300_000)
    assert marks[f"forms:{form}"] == marks["events:OPEN"]


def test_a_token_without_the_marketing_scopes_loads_the_rest_with_one_notice_each(
    hub: HubSpotEmulator, store: Store
) -> None:
    ann = contact(hub, "ann@x.com")
    m = hub.state.marketing
    m.add_email_event("ann@x.com", "OPEN", ms("2026-11-02T08:00:00Z"))
    form = m.add_form("Contact us", ms("2026-01-01T00:00:00Z"))
    m.add_submission(form, ms("2026-11-04T10:00:00Z"), {"email": "ann@x.com"})
    meeting = hub.state.add("meetings", {"hs_timestamp": "2026-11-05T10:00:00Z"})
    hub.state.associate("meetings", meeting.id, "contacts", ann)
    hub.scopes = {"crm.objects.contacts.read", "crm.schemas.contacts.read", "forms"}
    result = sync(hub, store)
    assert result.status == "ok", result.errors
    notices = [n.message for n in result.notices if n.check == "marketing_not_read"]
    assert len(notices) == 2  # opens and clicks, each named
    assert notices[0].startswith("HubSpot marketing email opens were not read: HubSpot refused")
    assert "the scope content" in notices[0]
    kinds = sorted(store.read("activities")["kind"])
    assert kinds == ["form_submission", "meeting"]
    # granted later, the opens come in; the form is not read twice
    hub.scopes = None
    sync(hub, store, AT + timedelta(hours=1))
    assert sorted(store.read("activities")["kind"]) == ["email_open", "form_submission", "meeting"]


def test_a_marketing_mark_is_kept_and_an_unreadable_one_is_read_again() -> None:
    text = '{"events:OPEN":"1764579600000","forms:abc":"12","events:CLICK":"soon","calls":"x"}'
    assert engagement_marks(text) == {"events:OPEN": "1764579600000", "forms:abc": "12"}
