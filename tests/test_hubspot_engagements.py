"""HubSpot's calls, emails, meetings, notes and messages as the lead model's dated activities.

Through the official client against the emulator, which serves each engagement type as
HubSpot does (its own object, ``hs_timestamp``, links to contacts, the contacts' scope).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from hubspot_runs import settled

from smbml_connect.analytics.leads.contact_features import contact_snapshot, contacts_own
from smbml_connect.analytics.leads.deals import _recent_activity
from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.connectors.hubspot.cursor import engagement_marks
from smbml_connect.connectors.hubspot.engagements import ENGAGEMENTS
from smbml_connect.connectors.hubspot.http import HubSpotApi, Limits
from smbml_connect.connectors.hubspot.source import HubSpotSource
from smbml_connect.credentials import Secret
from smbml_connect.data_checks import check_data
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.ports import RunResult
from smbml_connect.schema import REJECT_COLUMNS, validate
from smbml_connect.store import Store
from smbml_connect.testing.clock import FakeClock
from smbml_connect.testing.hubspot_emulator import TEST_TOKEN, Fault, HubSpotEmulator

CONNECTED = "f240bbac-87c9-4f6e-bf70-924b57d47db7"  # HubSpot's default outcome "Connected"
NO_ANSWER = "73a0d17f-1163-4015-bdd5-ec830791da20"
DAY = timedelta(hours=24, minutes=1)


@pytest.fixture
def hub() -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(clock=FakeClock()) as emulator:
        yield emulator


@pytest.fixture
def store(tmp_path: Any) -> Iterator[Store]:
    with Store(tmp_path / "store.sqlite") as opened:
        yield opened


def sync(hub: HubSpotEmulator, store: Store, at: datetime | None = None) -> RunResult:
    limits = Limits(read_timeout=2.0)
    hub.clock.advance(limits.window_seconds)  # runs are minutes apart: a fresh window
    api = HubSpotApi(Secret(TEST_TOKEN), host=hub.url, limits=limits, clock=hub.clock)
    source = HubSpotSource(api, started=at or settled())
    return run_pipeline(source, store, RunOptions(steps=[]))


def contact(hub: HubSpotEmulator, email: str) -> str:
    return hub.state.add("contacts", {"email": email, "lifecyclestage": "lead"}).id


def engagement(hub: HubSpotEmulator, kind: str, when: str, *people: str, **props: Any) -> str:
    record = hub.state.add(kind, {"hs_timestamp": when, **props})
    for person in people:
        hub.state.associate(kind, record.id, "contacts", person)
    return record.id


def activities(store: Store) -> pd.DataFrame:
    frame = store.read("activities")
    return frame.sort_values(["activity_id", "contact_id"], ignore_index=True)


def test_each_engagement_is_an_activity_of_every_contact_it_names_in_words_of_what_they_did(
    hub: HubSpotEmulator, store: Store
) -> None:
    ann, bob = contact(hub, "ann@x.com"), contact(hub, "bob@x.com")
    held = engagement(hub, "calls", "2026-11-02T15:00:00Z", ann, hs_call_status="COMPLETED",
                      hs_call_disposition=CONNECTED)  # fmt: skip
    unanswered = engagement(hub, "calls", "2026-11-02T16:00:00Z", ann,
                            hs_call_status="COMPLETED", hs_call_disposition=NO_ANSWER)  # fmt: skip
    busy = engagement(hub, "calls", "2026-11-02T17:00:00Z", bob, hs_call_status="BUSY")
    logged = engagement(hub, "calls", "2026-11-03T09:00:00Z", bob)  # typed in: no status
    sent = engagement(hub, "emails", "2026-11-04T09:00:00Z", ann, bob,
                      hs_email_direction="EMAIL", hs_email_status="SENT")  # fmt: skip
    reply = engagement(hub, "emails", "2026-11-04T11:30:00Z", ann,
                       hs_email_direction="INCOMING_EMAIL")  # fmt: skip
    engagement(hub, "emails", "2026-11-04T12:00:00Z", bob, hs_email_direction="EMAIL",
               hs_email_status="BOUNCED")  # fmt: skip
    engagement(hub, "emails", "2026-11-20T08:00:00Z", bob, hs_email_direction="EMAIL",
               hs_email_status="SCHEDULED")  # not sent yet  # fmt: skip
    hidden = engagement(hub, "emails", "2026-11-04T13:00:00Z", bob)  # no direction said
    engagement(hub, "calls", "2026-11-09T09:00:00Z", bob, hs_call_status="RINGING")
    engagement(hub, "meetings", "2026-11-06T11:00:00Z", ann, hs_meeting_outcome="RESCHEDULED")
    met = engagement(hub, "meetings", "2026-11-05T10:00:00Z", ann, hs_meeting_outcome="COMPLETED")
    missed = engagement(hub, "meetings", "2026-11-06T10:00:00Z", bob,
                        hs_meeting_outcome="NO_SHOW")  # fmt: skip
    note = engagement(hub, "notes", "2026-11-05T10:30:00Z", ann)
    text = engagement(hub, "communications", "2026-11-07T08:00:00Z", bob,
                      hs_communication_channel_type="WHATS_APP")  # fmt: skip
    engagement(hub, "tasks", "2026-12-24T09:00:00Z", ann)  # a due date, not something done
    engagement(hub, "notes", "2026-11-08T10:00:00Z")  # about no contact
    result = sync(hub, store)
    assert result.status == "ok", result.errors
    got = activities(store)
    rows = {(r.activity_id, r.contact_id): r.kind for r in got.itertuples()}
    assert rows == {
        (held, ann): "call", (unanswered, ann): "call_attempt", (busy, bob): "call_attempt",
        (logged, bob): "call", (sent, ann): "email_sent", (sent, bob): "email_sent",
        (reply, ann): "email_received", (hidden, bob): "email", (met, ann): "meeting",
        (missed, bob): "meeting_missed", (note, ann): "note", (text, bob): "message",
    }  # fmt: skip
    when = got.set_index("activity_id")["occurred_at"]
    assert when[reply] == pd.Timestamp("2026-11-04T11:30:00Z")
    # what did not happen (bounced, scheduled, ringing, moved) and the note about nobody
    # are counted as not loaded, not lost
    assert result.not_loaded["activities"] == 5
    assert result.loaded["activities"] == 12
    # the lead model reads them as of any moment: before the reply, none from Ann
    pairs = pd.DataFrame({"contact_id": [ann, ann], "at": pd.to_datetime(
        ["2026-11-04T11:00:00Z", "2026-11-30T00:00:00Z"], utc=True)})  # fmt: skip
    tables = {t: store.read(t) for t in ("contacts", "activities", "deals", "deal_stages")}
    features = contact_snapshot(tables, pairs)
    assert features["emails_received"].tolist() == [0, 1]
    assert features["calls"].tolist() == [1, 1]


def test_an_engagement_changed_or_deleted_in_hubspot_replaces_the_rows_it_gave(
    hub: HubSpotEmulator, store: Store
) -> None:
    ann, bob = contact(hub, "ann@x.com"), contact(hub, "bob@x.com")
    call = engagement(hub, "calls", "2026-11-02T15:00:00Z", ann)
    meeting = engagement(hub, "meetings", "2026-11-03T10:00:00Z", ann, bob)
    note = engagement(hub, "notes", "2026-11-04T10:00:00Z", ann)
    gone = engagement(hub, "notes", "2026-11-05T10:00:00Z", bob)
    start = datetime.now(tz=UTC)
    sync(hub, store, start)
    assert len(activities(store)) == 5
    # the rep moves the call to Bob and corrects its time: a change HubSpot dates
    hub.state.dissociate("calls", call, "contacts", ann)
    hub.state.associate("calls", call, "contacts", bob)
    hub.state.touch("calls", [call], hs_timestamp="2026-11-02T18:00:00Z")
    # changes HubSpot does not date: a meeting deleted, a note moved, a note deleted for good
    hub.state.archive("meetings", [meeting])
    hub.state.dissociate("notes", note, "contacts", ann)
    hub.state.associate("notes", note, "contacts", bob)
    hub.state.delete_for_good("notes", gone)
    hub.reset_counts()
    sync(hub, store, start + timedelta(hours=1))
    assert hub.requests["GET list"] == 5  # the objects' deleted ones; no engagement list
    assert hub.requests["POST search"] == 10
    got = activities(store)
    assert list(zip(got["activity_id"], got["contact_id"], strict=True)) == [
        (call, bob), (meeting, ann), (meeting, bob), (note, ann), (gone, bob),
    ]  # fmt: skip
    assert got.set_index("activity_id").loc[call, "occurred_at"] == pd.Timestamp(
        "2026-11-02T18:00:00Z"
    )
    sync(hub, store, start + DAY)  # each type listed whole once a day: the move is seen
    got = activities(store)
    assert list(zip(got["activity_id"], got["contact_id"], strict=True)) == [
        (call, bob), (meeting, ann), (meeting, bob), (note, bob), (gone, bob),
    ]  # fmt: skip
    # what two listings in a row missed is gone (one may miss a record restored meanwhile)
    later = sync(hub, store, start + 2 * DAY)
    got = activities(store)
    assert list(zip(got["activity_id"], got["contact_id"], strict=True)) == [
        (call, bob), (note, bob),
    ]  # fmt: skip
    said = [n.message for n in later.notices if n.check == "deleted_for_good"]
    assert said == [
        f"1 meeting gone from hubspot (deleted, or in its recycle bin; in no list of it twice "
        f"in a row: {meeting}): their activities were removed.",
        f"1 note gone from hubspot (deleted, or in its recycle bin; in no list of it twice "
        f"in a row: {gone}): their activities were removed.",
    ]


def _most_calls_deleted(hub: HubSpotEmulator, store: Store) -> tuple[list[str], datetime]:
    """30 calls read, then 25 deleted for good: a portal emptied by mistake, or a
    listing that came back short."""
    ann = contact(hub, "ann@x.com")
    calls = [engagement(hub, "calls", f"2026-11-{d % 28 + 1:02d}T15:00:00Z", ann)
             for d in range(30)]  # fmt: skip
    start = datetime.now(tz=UTC)
    sync(hub, store, start)
    for call in calls[:25]:
        hub.state.delete_for_good("calls", call)
    return calls, start


def accepting(hub: HubSpotEmulator, store: Store, at: datetime) -> RunResult:
    """`smbml run --accept-removals` at ``at``."""
    limits = Limits(read_timeout=2.0)
    hub.clock.advance(limits.window_seconds)
    api = HubSpotApi(Secret(TEST_TOKEN), host=hub.url, limits=limits, clock=hub.clock)
    return run_pipeline(HubSpotSource(api, started=at), store,
                        RunOptions(steps=[], accept_removals=True))  # fmt: skip


def test_a_listing_that_misses_most_of_a_type_removes_nothing_unless_told(
    hub: HubSpotEmulator, store: Store
) -> None:
    calls, start = _most_calls_deleted(hub, store)
    for day in (1, 2):
        result = sync(hub, store, start + day * DAY)
        assert len(activities(store)) == 30
    said = [n.message for n in result.notices if n.check == "deleted_for_good"]
    assert said[0].startswith("25 of the 30 calls read before are in no list of hubspot now")
    assert "smbml run --accept-removals" in said[0]
    # told once, the same day (no listing due): the held ones go now, and it says so
    told = accepting(hub, store, start + 2 * DAY + timedelta(hours=1))
    assert set(activities(store)["activity_id"]) == set(calls[25:])
    said = [n.message for n in told.notices if n.check == "deleted_for_good"]
    assert said == ["25 calls in no list of hubspot were removed as asked (--accept-removals), "
                    "with their 25 activities."]  # fmt: skip
    later = sync(hub, store, start + 3 * DAY)  # and the next listing has nothing to say
    assert [n for n in later.notices if n.check == "deleted_for_good"] == []
    assert set(activities(store)["activity_id"]) == set(calls[25:])


def test_told_on_a_listing_day_the_held_ones_go_with_that_listing(
    hub: HubSpotEmulator, store: Store
) -> None:
    calls, start = _most_calls_deleted(hub, store)
    sync(hub, store, start + DAY)  # held
    accepting(hub, store, start + 2 * DAY)
    assert set(activities(store)["activity_id"]) == set(calls[25:])


def test_a_whole_listing_cut_short_removes_nothing_and_is_made_again(
    hub: HubSpotEmulator, store: Store
) -> None:
    ann = contact(hub, "ann@x.com")
    calls = [engagement(hub, "calls", f"2026-11-{d % 28 + 1:02d}T15:00:00Z", ann)
             for d in range(150)]  # two list pages  # fmt: skip
    start = datetime.now(tz=UTC)
    sync(hub, store, start)
    hub.state.delete_for_good("calls", calls[0])
    hub.inject(Fault("5xx", count=100, path="/crm/v3/objects/calls", skip=1))
    limits = Limits(read_timeout=2.0)
    hub.clock.advance(limits.window_seconds)
    api = HubSpotApi(Secret(TEST_TOKEN), host=hub.url, limits=limits, clock=hub.clock)
    source = HubSpotSource(api, started=start + DAY, page_rows=1)  # each page commits
    failed = run_pipeline(source, store, RunOptions(steps=[]))
    assert "activities" in failed.incomplete
    assert set(activities(store)["activity_id"]) == set(calls)  # nothing removed part way
    assert engagement_marks(store.get_cursor("hubspot", "activities"))["calls"].startswith("list:")
    hub.faults.clear()
    sync(hub, store, start + DAY + timedelta(hours=1))  # the listing carries on: no removal
    assert calls[0] in set(activities(store)["activity_id"])
    sync(hub, store, start + DAY + timedelta(hours=2))  # listed whole again: missed once
    assert calls[0] in set(activities(store)["activity_id"])
    sync(hub, store, start + 2 * DAY + timedelta(hours=3))  # and again: gone
    assert set(activities(store)["activity_id"]) == set(calls[1:])


def test_an_engagement_type_hubspot_refuses_is_left_out_with_one_notice(
    hub: HubSpotEmulator, store: Store
) -> None:
    """HubSpot's newest emails API wants sales-email-read beside the contacts' scope; a
    portal may not have an object (communications). The rest of the activities load, the
    run is complete, and a later run with the scope reads the emails whole."""
    ann = contact(hub, "ann@x.com")
    engagement(hub, "calls", "2026-11-02T15:00:00Z", ann)
    email = engagement(hub, "emails", "2026-11-04T11:30:00Z", ann,
                       hs_email_direction="INCOMING_EMAIL")  # fmt: skip
    hub.object_scopes["emails"] = ("sales-email-read",)
    hub.scopes = {f"crm.objects.{t}.read" for t in ("contacts", "deals", "orders",
                  "line_items", "products")} | {"crm.schemas.contacts.read",
                  "crm.schemas.deals.read", "crm.schemas.orders.read",
                  "crm.schemas.line_items.read", "crm.schemas.products.read"}  # fmt: skip
    del hub.state.objects["communications"]
    result = sync(hub, store)
    assert result.status == "ok", result.errors
    assert "activities" not in result.incomplete
    said = [n.message for n in result.notices if n.check == "engagements_not_read"]
    assert len(said) == 2
    assert said[0].startswith("HubSpot emails were not read: HubSpot refused")
    assert "sales-email-read" in said[0] and "Lead scores use the other activities" in said[0]
    assert said[1].startswith("HubSpot messages were not read")
    assert activities(store)["kind"].tolist() == ["call"]
    assert "emails" not in engagement_marks(store.get_cursor("hubspot", "activities"))
    hub.scopes.add("sales-email-read")
    again = sync(hub, store)
    assert email in set(activities(store)["activity_id"])
    assert [n for n in again.notices if "emails" in n.message] == []


def test_a_failure_part_way_keeps_what_each_type_reached_and_holds_the_table_back(
    hub: HubSpotEmulator, store: Store
) -> None:
    ann = contact(hub, "ann@x.com")
    calls = [engagement(hub, "calls", f"2026-11-{d:02d}T15:00:00Z", ann) for d in range(1, 6)]
    engagement(hub, "meetings", "2026-11-03T10:00:00Z", ann)
    hub.inject(Fault("5xx", count=100, path="/crm/v3/objects/meetings"))
    failed = sync(hub, store)
    assert "activities" in failed.incomplete
    marks = engagement_marks(store.get_cursor("hubspot", "activities"))
    assert "calls" in marks and "meetings" not in marks
    assert set(activities(store)["activity_id"]) == set(calls)
    hub.faults.clear()
    hub.reset_counts()
    result = sync(hub, store)
    assert result.status == "ok", result.errors
    assert len(activities(store)) == 6
    assert result.loaded["activities"] == 1  # the meeting; the calls were not read again


def test_a_meeting_booked_ahead_waits_for_its_day_without_being_called_a_data_problem() -> None:
    as_of = pd.Timestamp("2026-11-10T12:00:00Z")
    acts = pd.DataFrame({
        "contact_id": ["c1", "c1", "c2", "c2", "c3"],
        "occurred_at": pd.to_datetime(["2026-11-09T10:00:00Z", "2026-11-17T10:00:00Z",
                                       "2026-11-17T10:00:00Z", "2028-01-05T10:00:00Z",
                                       "2026-11-18T10:00:00Z"], utc=True),
        "kind": ["meeting", " Meeting", "page_view", "meeting", "meeting"],
        "activity_id": ["1", "2", "", "3", ""],
    })  # fmt: skip
    checked = check_data({"activities": acts}, as_of, pd.DataFrame(columns=REJECT_COLUMNS))
    assert checked.tables["activities"]["activity_id"].tolist() == ["1"]  # none ahead is used
    # next week's meeting in the CRM's diary is not a problem; a page view dated next week,
    # a meeting in 2028 and a file's meeting ahead (no id: a mistyped date, perhaps) are
    assert checked.rejects["value"].tolist() == [
        "2026-11-17 10:00",
        "2028-01-05 10:00",
        "2026-11-18 10:00",
    ]
    assert (
        checked.rejects["reason"]
        .iloc[0]
        .startswith("activity c2 2026-11-17 10:00:00+00:00 page_view: ")
    )
    assert [n.count for n in checked.notices if n.check == "future_dates"] == [3]


# -- a file's activities, which have no ids: as before the id joined the key ------------
def _activities_file(folder: Path, rows: list[str], header: str = "contact,date,type") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "activities.csv").write_text("\n".join([header, *rows]) + "\n")
    return folder


def test_a_files_activities_read_and_reported_as_before_the_id_joined_the_key(
    tmp_path: Path,
) -> None:
    rows = [f"c{i},2026-11-{1 + i % 28:02d} 10:00,page_view" for i in range(48)]
    folder = _activities_file(tmp_path / "shop", [*rows, rows[1]])  # row 2 again, at the end
    with Store(tmp_path / "s.sqlite") as store:
        # pages of 10 lines: the repeat is met against the store, not inside its page
        first = run_pipeline(FilesSource(folder, {}, {}, page_rows=10), store, RunOptions(steps=[]))
        dupes = first.rejects[first.rejects["action"] == "row rejected"]
        assert dupes["column"].tolist() == ["contact_id+occurred_at+kind"]
        assert dupes["value"].tolist() == ["c1, 2026-11-02 10:00:00+00:00, page_view"]
        _activities_file(folder, rows[2:])  # two rows deleted from the file
        second = run_pipeline(FilesSource(folder, {}, {}), store, RunOptions(steps=[]))
        said = [n.message for n in second.notices if n.check == "gone_from_source"]
        assert "c0 / 2026-11-01T10:00:00.000000Z / page_view, c1 / " in said[0]
        assert store.count("activities") == 46
        # an export's own id column ("Event ID") is kept as written, not made the key: rows
        # an older release stored without ids are the same rows
        ids = [f"{i},{r}" for i, r in enumerate(rows[2:])]
        _activities_file(folder, ids, "Event ID,contact,date,type")
        third = run_pipeline(FilesSource(folder, {}, {}), store, RunOptions(steps=[]))
        assert third.loaded["activities"] == 46 and store.count("activities") == 46
        assert set(store.read("activities")["activity_id"]) == {""}


def test_a_crm_engagement_read_again_leaves_other_sources_rows_with_its_id(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        theirs = pd.DataFrame({"contact_id": ["c1"], "occurred_at": ["2026-11-02T10:00:00Z"],
                               "kind": ["call"], "activity_id": ["100004"]})  # fmt: skip
        store.upsert("activities", validate("activities", theirs, source="files:events").clean)
        mine = theirs.assign(contact_id="c2")
        store.commit_page(
            None, {"activities": validate("activities", mine, source="hubspot").clean},
            pd.DataFrame(columns=REJECT_COLUMNS), replace={"activities": ["100004"]},
            source="hubspot",
        )  # fmt: skip
        got = store.read("activities")
        assert sorted(zip(got["source"], got["contact_id"], strict=True)) == [
            ("files:events", "c1"), ("hubspot", "c2"),
        ]  # fmt: skip


def test_an_engagement_cursor_that_cannot_be_read_relists_that_type_instead_of_stopping(
    hub: HubSpotEmulator, store: Store
) -> None:
    ann = contact(hub, "ann@x.com")
    call = engagement(hub, "calls", "2026-11-02T15:00:00Z", ann)
    sync(hub, store)
    marks = engagement_marks(store.get_cursor("hubspot", "activities"))
    broken = {**marks, "calls": "list:abc:xyz", "notes": "garbage", "listed:emails": "soon"}
    with store.transaction() as conn:  # as a hand edit or another release might leave it
        conn.execute(
            "UPDATE sync_cursors SET value = ? WHERE source = 'hubspot' AND table_name = ?",
            (json.dumps(broken), "activities"),
        )
    assert engagement_marks(json.dumps(broken)).keys() == marks.keys() - {
        "calls",
        "notes",
        "listed:emails",
    }
    result = sync(hub, store)
    assert result.status == "ok", result.errors
    assert activities(store)["activity_id"].tolist() == [call]


def test_every_kind_an_engagement_gives_is_one_its_daily_listing_keeps_or_removes() -> None:
    """The daily listing removes a type's rows by their kinds: a kind missing from
    ``Engagement.kinds`` would stay for good, one two types share would be removed by the
    other's listing."""
    state = HubSpotEmulator().state
    seen: dict[str, str] = {}
    for engagement in ENGAGEMENTS:
        options = {
            name: [*state.properties[engagement.object_type][name]["options"], {"value": None}]
            for name in engagement.properties
        }
        values = [[o["value"] for o in opts] for opts in options.values()]
        for combination in itertools.product(*values) if values else [()]:
            props = dict(zip(options, combination, strict=True))
            props["hs_call_disposition"] = props.get("hs_call_disposition") or NO_ANSWER
            kind = engagement.kind(props)
            assert kind is None or kind in engagement.kinds, (engagement.object_type, props)
        for kind in engagement.kinds:
            assert seen.setdefault(kind, engagement.object_type) == engagement.object_type


def test_a_listing_mark_ahead_of_the_clock_or_unreadable_does_not_put_the_listing_off(
    hub: HubSpotEmulator, store: Store
) -> None:
    ann, bob = contact(hub, "ann@x.com"), contact(hub, "bob@x.com")
    call = engagement(hub, "calls", "2026-11-02T15:00:00Z", ann)
    start = datetime.now(tz=UTC)
    sync(hub, store, start)
    ahead = str(int(start.timestamp() * 1000) + 7 * 86_400_000)  # a run whose clock was wrong
    marks = engagement_marks(store.get_cursor("hubspot", "activities"))
    broken = {**marks, "listed:calls": ahead, "listed:notes": "²", "deleted:emails": "17"}
    kept = {k: v for k, v in marks.items() if k != "listed:notes"}  # "²": not a number
    assert engagement_marks(json.dumps(broken)) == {**kept, "listed:calls": ahead}
    with store.transaction() as conn:
        conn.execute(
            "UPDATE sync_cursors SET value = ? WHERE source = 'hubspot' AND table_name = ?",
            (json.dumps(broken), "activities"),
        )
    hub.state.dissociate("calls", call, "contacts", ann)  # a move HubSpot does not date
    hub.state.associate("calls", call, "contacts", bob)
    sync(hub, store, start + timedelta(hours=1))
    assert activities(store)["contact_id"].tolist() == [bob]  # listed whole all the same


def _lead_tables(people: list[str], acts: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Contacts made on 1 October with these activities, and no deals."""
    contacts = pd.DataFrame({"contact_id": people, "created_at": pd.Timestamp(
        "2026-10-01T00:00:00Z"), "company": None, "lead_source": None, "country": None,
        "industry": None})  # fmt: skip
    empty = pd.DataFrame(columns=["deal_id", "contact_id", "created_at", "closed_at", "is_won"])
    return {"contacts": contacts, "activities": acts, "deals": empty,
            "deal_stages": pd.DataFrame(columns=["deal_id", "stage", "entered_at"])}  # fmt: skip


def test_the_reps_outreach_is_not_the_lead_being_active() -> None:
    """A voicemail left, an email sent and a note written are the business's doing: they
    have counts of their own, but "Last active" and "actions in the last week" are what
    the contact did (a reply, a call held)."""
    acts = pd.DataFrame({
        "contact_id": ["ann", "ann", "ann", "bob", "bob"],
        "occurred_at": pd.to_datetime(["2026-11-08T10:00:00Z", "2026-11-09T10:00:00Z",
                                       "2026-11-09T11:00:00Z", "2026-11-01T10:00:00Z",
                                       "2026-11-09T10:00:00Z"], utc=True),
        "kind": ["call_attempt", "email_sent", "note", "email_received", "call_attempt"],
        "activity_id": ["1", "2", "3", "4", "5"],  # a CRM's engagements
    })  # fmt: skip
    tables = _lead_tables(["ann", "bob"], acts)
    at = pd.Timestamp("2026-11-10T00:00:00Z")
    features = contact_snapshot(tables, pd.DataFrame({"contact_id": ["ann", "bob"], "at": at}))
    assert features["days_since_last_activity"].isna().tolist() == [True, False]
    assert features["days_since_last_activity"].iloc[1] == 8  # Bob wrote on 1 November
    assert features["activities_last_7_days"].tolist() == [0, 0]
    assert features["calls_unanswered"].tolist() == [1, 1]
    assert features["emails_sent"].tolist() == [1, 0]
    # the deal model's "contact active in the last 30 days" says the same
    deals = pd.DataFrame({"deal_id": ["d1"], "contact_id": ["ann"]})
    assert _recent_activity(contacts_own(acts), deals["contact_id"], pd.Series([at])) == [0]
    # a file's rows have no id: its "note" may be anything the contact did, and counts
    filed = acts.assign(activity_id="")
    tables["activities"] = filed
    features = contact_snapshot(tables, pd.DataFrame({"contact_id": ["ann", "bob"], "at": at}))
    assert features["days_since_last_activity"].tolist() == [0, 0]


def test_a_rare_kind_keeps_its_count_however_many_kinds_there_are() -> None:
    kinds = ["call", "call_attempt", "email_sent", "email_received", "email", "meeting",
             "note", "message", "meeting_missed", "page_view", "webinar"]  # fmt: skip
    acts = pd.DataFrame({
        "contact_id": "ann",
        "occurred_at": pd.Timestamp("2026-11-09T10:00:00Z"),
        "kind": [k for i, k in enumerate(kinds) for _ in range(len(kinds) - i)],
        "activity_id": "1",
    })  # fmt: skip
    tables = _lead_tables(["ann"], acts)
    at = pd.Timestamp("2026-11-10T00:00:00Z")
    features = contact_snapshot(tables, pd.DataFrame({"contact_id": ["ann"], "at": at}))
    assert features["meetings_missed"].tolist() == [3]  # the ninth commonest, known
    assert features["webinar_count"].tolist() == [1]  # a kind of the file's own


def test_a_meeting_with_more_contacts_than_one_answer_holds_names_them_all(
    hub: HubSpotEmulator, store: Store
) -> None:
    """HubSpot gives 100 links inline (a list) and pages the rest; its batch read of links
    pages too. A webinar logged as one meeting with 620 attendees is theirs all."""
    people = [contact(hub, f"p{i}@x.com") for i in range(620)]
    webinar = engagement(hub, "meetings", "2026-11-05T16:00:00Z", *people)
    sync(hub, store)  # the first read lists: 100 inline, the rest by batch reads
    assert sorted(activities(store)["contact_id"]) == sorted(people)
    with store.transaction() as conn:  # so that the search's read must give them all again
        conn.execute("DELETE FROM activities")
    hub.state.touch("meetings", [webinar], hs_meeting_outcome="COMPLETED")
    sync(hub, store)  # a search gives no links: batch reads, 500 and then 120
    assert sorted(activities(store)["contact_id"]) == sorted(people)


def test_a_link_page_hubspot_names_again_is_not_asked_for_forever() -> None:
    class Repeating:
        """An API whose batch read always says there is a page after "MTAw"."""

        calls = 0
        client = SimpleNamespace(crm=SimpleNamespace(associations=SimpleNamespace(
            v4=SimpleNamespace(batch_api=SimpleNamespace(get_page=None)))))  # fmt: skip

        def json(self, what: str, method: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
            self.calls += 1
            return {"results": [{"from": {"id": "7"}, "to": [{"toObjectId": self.calls}],
                                 "paging": {"next": {"after": "MTAw"}}}]}  # fmt: skip

    api = Repeating()
    source = HubSpotSource.__new__(HubSpotSource)
    source.api = api  # type: ignore[assignment]
    assert source._associated("meetings", "contacts", ["7"]) == {"7": ["1", "2"]}
    assert api.calls == 2


def test_the_run_says_what_the_records_left_out_of_activities_were(capsys: Any) -> None:
    from smbml_connect.cli import _print_result

    result = RunResult(1, pd.Timestamp("2026-11-10T12:00:00Z"), "hubspot", status="ok")
    result.not_loaded = {"activities": 1, "order_lines": 3}
    _print_result(result, [])
    said = capsys.readouterr().out
    assert (
        "1 source record is not activities (e.g. HubSpot calls, emails or notes about no "
        "contact, emails that bounced) and was left out." in said
    )
    assert "3 source records are not order lines (e.g. HubSpot line items of a deal" in said
