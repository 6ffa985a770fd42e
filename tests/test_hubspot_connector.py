"""The HubSpot connector through the official client against the emulator.

The emulator and the connector share a fake clock: HubSpot's real windows and pauses
(100 per 10 s, backoff up to 30 s) stay on, and every wait takes no wall time. Only the
read timeout is real, as it must be for a socket.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hubspot_runs import settled

from smbml_connect.connectors.hubspot.cursor import split_listed
from smbml_connect.connectors.hubspot.http import HubSpotApi, Limits
from smbml_connect.connectors.hubspot.marketing import SETTLE_MS
from smbml_connect.connectors.hubspot.push import HubSpotDestination
from smbml_connect.connectors.hubspot.source import HubSpotSource
from smbml_connect.consent import read_consent
from smbml_connect.credentials import Secret
from smbml_connect.errors import AuthError
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.ports import RunResult
from smbml_connect.schema import TABLES
from smbml_connect.source_account import AccountNotCheckedError
from smbml_connect.steps import crm_properties, steps_by_name
from smbml_connect.store import Store
from smbml_connect.testing.clock import FakeClock
from smbml_connect.testing.hubspot_emulator import TEST_TOKEN, Fault, HubSpotEmulator

FAST = Limits(read_timeout=2.0)  # HubSpot's numbers; only the socket's patience is shorter


def make_api(hub: HubSpotEmulator, token: str = TEST_TOKEN, **changes: Any) -> HubSpotApi:
    limits = dataclasses.replace(FAST, **changes)
    # A new client knows nothing of the calls before it; as runs are minutes apart in
    # life, it starts a window after the last one (else it may meet a full window).
    hub.clock.advance(limits.window_seconds)
    return HubSpotApi(
        Secret(token), host=hub.url, limits=limits, client_side_validation=True, clock=hub.clock
    )


def sync(hub: HubSpotEmulator, store: Store, **source_args: Any) -> Any:
    source = HubSpotSource(make_api(hub), **{"started": settled(), **source_args})
    return run_pipeline(source, store, RunOptions(steps=[]))


def snapshot(store: Store) -> dict[str, pd.DataFrame]:
    return {t: store.read(t).drop(columns=["extra"]) for t in TABLES}


def assert_same_store(a: Store, b: Store) -> None:
    left, right = snapshot(a), snapshot(b)
    for table in TABLES:
        pd.testing.assert_frame_equal(left[table], right[table], obj=table)


def test_full_pull_maps_every_object_onto_the_canonical_tables(hub, small, store) -> None:
    emulator, ids = hub
    result = sync(emulator, store, page_rows=200)
    assert result.status == "ok", result.errors
    t = small.tables
    assert result.loaded["contacts"] == len(t["contacts"])
    assert result.loaded["order_lines"] == len(t["order_lines"])
    contacts = store.read("contacts").set_index("contact_id")
    first = t["contacts"].iloc[0]
    mine = contacts.loc[ids["contacts"][first.contact_id]]
    assert mine["email"] == first.email and mine["lead_source"] == first.lead_source
    assert mine["page_views"] == first.page_views
    assert read_consent(mine["marketing_consent"]).allowed == bool(first.marketing_consent)
    deals = store.read("deals").set_index("deal_id")
    for row in t["deals"].head(20).itertuples():
        got = deals.loc[ids["deals"][row.deal_id]]
        assert got["contact_id"] == ids["contacts"][row.contact_id]
        assert got["amount"] == pytest.approx(row.amount) and bool(got["is_won"]) == row.is_won
    lines = store.read("order_lines")
    sample_line = t["order_lines"].iloc[5]
    line = lines[
        lines["line_no"] == int(ids["order_lines"][f"{sample_line.order_id}/{sample_line.line_no}"])
    ].iloc[0]
    assert line["order_id"] == ids["orders"][sample_line.order_id]
    assert line["product_id"] == ids["products"][sample_line.product_id]
    orders = store.read("orders").set_index("order_id")
    row = t["orders"].iloc[3]
    assert orders.loc[ids["orders"][row.order_id], "contact_id"] == ids["contacts"][row.contact_id]
    # One list pass per object, pages of 100, plus one property discovery each and the
    # archived pass: nothing else. Engagements (the sample's meetings; no calls, emails,
    # notes or messages) are listed too, with no discovery and no archived pass.
    pages = sum(-(-n // 100) for n in (len(t["contacts"]), len(t["deals"]), len(t["orders"]),
                                       len(t["order_lines"]), len(t["products"])))  # fmt: skip
    meetings = int((t["activities"]["kind"] == "meeting").sum())
    engagement_pages = max(1, -(-meetings // 100)) + 4
    assert emulator.requests["GET list"] == pages + 5 + engagement_pages
    assert emulator.requests["GET properties"] == 5


def test_incremental_pull_takes_only_changes_and_never_passes_the_start(hub, store) -> None:
    emulator, _ = hub
    sync(emulator, store)
    changed = list(emulator.state.objects["contacts"])[10:25]
    emulator.state.touch("contacts", changed, country="NZ")
    emulator.reset_counts()
    started = settled()  # a run once HubSpot's search has indexed the changes
    result = run_pipeline(HubSpotSource(make_api(emulator), started=started), store,
                          RunOptions(steps=[]))  # fmt: skip
    # the cursor names the ids taken at its millisecond: nothing is read twice
    assert result.loaded["contacts"] == 15 and result.loaded["orders"] == 0
    contacts = store.read("contacts").set_index("contact_id")
    assert (contacts.loc[changed, "country"] == "NZ").all()
    text, listed = split_listed(store.get_cursor("hubspot", "contacts"))
    assert text is not None and listed is not None  # the first sync listed every id
    moment, _, ids = text.partition("|")
    assert pd.Timestamp(moment) <= pd.Timestamp(started)
    assert set(ids.split(",")) <= set(changed)  # the newest change's ids ride along
    # one page per object and per engagement type: no second page
    assert emulator.requests["POST search"] == 5 + 5
    assert emulator.requests["GET list"] == 5  # only the archived pass lists (engagements': daily)


def test_a_change_search_had_not_indexed_yet_arrives_on_a_later_run(store: Store) -> None:
    """HubSpot's search index lags, unevenly: a contact changed just before a run was not
    found while one changed after it was, the cursor passed the first, and it kept its old
    country in the store for good. Searches stop `SETTLE_MS` before the run's start."""
    with HubSpotEmulator(clock=FakeClock()) as emulator:
        ids = [emulator.state.add("contacts", {"email": f"c{i}@x.com", "country": "US"}).id
               for i in range(50)]  # fmt: skip
        first = sync(emulator, store)
        assert first.loaded["contacts"] == 50  # the first pull lists: every record, as it is
        a, b = ids[3], ids[7]
        emulator.state.touch("contacts", [a], country="NZ")
        time.sleep(0.05)
        emulator.state.touch("contacts", [b], country="DE")  # changed after a ...
        emulator.state.lag_index("contacts", [a], 1_500)  # ... and indexed before it
        now = run_pipeline(HubSpotSource(make_api(emulator)), store, RunOptions(steps=[]))
        time.sleep(1.6)  # the index catches up
        later = datetime.now(tz=UTC) + timedelta(milliseconds=SETTLE_MS + 1_000)
        after = run_pipeline(HubSpotSource(make_api(emulator), started=later), store,
                             RunOptions(steps=[]))  # fmt: skip
        country = store.read("contacts").set_index("contact_id")["country"]
        assert (country.loc[a], country.loc[b]) == ("NZ", "DE")
        assert now.loaded["contacts"] + after.loaded["contacts"] == 2  # each read once
        assert len(country) == 50


def test_search_past_the_cap_loses_and_repeats_nothing(store: Store) -> None:
    with HubSpotEmulator(clock=FakeClock(), search_cap=300) as emulator:
        old = [emulator.state.add("contacts", {"email": f"old{i}@x.com"},
                                  updated_ms=1_600_000_000_000).id for i in range(40)]  # fmt: skip
        sync(emulator, store)
        fresh = [emulator.state.add("contacts", {"email": f"n{i}@x.com"},
                                    updated_ms=1_700_000_000_000 + i // 7).id
                 for i in range(1000)]  # fmt: skip
        # 400 changes inside one millisecond: more than a whole capped query can hold
        burst = [emulator.state.add("contacts", {"email": f"b{i}@x.com"},
                                    updated_ms=1_700_000_100_000).id for i in range(400)]  # fmt: skip
        source = HubSpotSource(make_api(emulator))  # keyed paging never meets the cap
        pulled = source.pull("contacts", since=store.get_cursor("hubspot", "contacts"))
        got = pulled["contact_id"].tolist()
        # the 40 taken last time at the cursor's millisecond are left out by id
        assert len(got) == len(set(got)) == 1400
        assert set(got) == set(fresh) | set(burst) and not set(got) & set(old)


def test_archived_records_are_marked_and_left_out_of_the_analytics(hub, store) -> None:
    emulator, _ = hub
    sync(emulator, store)
    gone = list(emulator.state.objects["contacts"])[:3]
    emulator.state.archive("contacts", gone)
    result = sync(emulator, store)
    assert result.archived == {"contacts": 3}
    contacts = store.read("contacts").set_index("contact_id")
    assert contacts.loc[gone, "archived_at"].notna().all()
    assert contacts["archived_at"].notna().sum() == 3


class _Killed(BaseException):
    """Stands in for the process dying: not an Exception, so nothing catches it."""


class _DiesAfter(HubSpotSource):
    def __init__(self, *args: Any, pages: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.left = pages

    def pull_pages(self, entity: str, since: str | None = None) -> Iterator[Any]:
        for page in super().pull_pages(entity, since):
            if self.left == 0:
                raise _Killed
            self.left -= 1
            yield page


def _killed_then_resumed(
    emulator: HubSpotEmulator, store: Store, rows: int, started: datetime, dies: int | None
) -> None:
    """A sync that dies after ``dies`` pages (None: does not die), then a full run again."""
    api = make_api(emulator)
    source = (HubSpotSource(api, page_rows=rows, started=started) if dies is None
              else _DiesAfter(api, page_rows=rows, started=started, pages=dies))  # fmt: skip
    with contextlib.suppress(_Killed):
        run_pipeline(source, store, RunOptions(steps=[]))
    resumed = HubSpotSource(make_api(emulator), page_rows=rows, started=started)
    run_pipeline(resumed, store, RunOptions(steps=[]))


@pytest.mark.parametrize("pages", [1, 4, 9])
def test_a_sync_killed_anywhere_and_run_again_ends_identical(
    hub, tmp_path: Path, pages: int
) -> None:
    emulator, _ = hub
    fixed = datetime.now(tz=UTC)
    with Store(tmp_path / "a.sqlite") as reference, Store(tmp_path / "b.sqlite") as killed:
        _killed_then_resumed(emulator, reference, 300, fixed, None)
        _killed_then_resumed(emulator, killed, 300, fixed, pages)
        assert_same_store(reference, killed)
        # and the same for a killed incremental sync
        emulator.state.touch("line_items", list(emulator.state.objects["line_items"])[:700])
        emulator.state.touch("deals", list(emulator.state.objects["deals"])[:50], amount=1)
        later = datetime.now(tz=UTC)
        _killed_then_resumed(emulator, reference, 100, later, None)
        _killed_then_resumed(emulator, killed, 100, later, 2)
        assert_same_store(reference, killed)


def test_a_first_list_killed_part_way_carries_on_from_its_page(hub, store) -> None:
    emulator, _ = hub
    contacts = len(emulator.state.objects["contacts"])
    with contextlib.suppress(_Killed):
        run_pipeline(_DiesAfter(make_api(emulator), page_rows=100, pages=2), store,
                     RunOptions(steps=[]))  # fmt: skip
    assert store.get_cursor("hubspot", "contacts").startswith("list:")
    emulator.reset_counts()
    result = sync(emulator, store, page_rows=100)
    assert result.loaded["contacts"] == contacts - 200  # the two committed pages are not read again
    assert store.count("contacts") == contacts


def test_faults_cost_retries_not_records(hub, tmp_path: Path) -> None:
    emulator, _ = hub
    fixed = datetime.now(tz=UTC)
    with Store(tmp_path / "a.sqlite") as calm:
        run_pipeline(HubSpotSource(make_api(emulator), started=fixed), calm, RunOptions(steps=[]))
        emulator.inject(Fault("429", count=3, path="/objects/contacts"))
        emulator.inject(Fault("429", count=2, retry_after=0.05, path="/objects/line_items"))
        emulator.inject(Fault("5xx", count=3, status=502, path="/objects/deals"))
        emulator.inject(Fault("5xx", count=1, status=500, path="/objects/orders"))
        emulator.inject(Fault("slow", count=1, delay=0.6, path="/objects/products"))
        emulator.inject(Fault("drop", count=2, path="/properties/"))
        api = make_api(emulator, read_timeout=0.3)
        with Store(tmp_path / "b.sqlite") as stormy:
            result = run_pipeline(HubSpotSource(api, started=fixed), stormy, RunOptions(steps=[]))
            assert result.status == "ok"
            assert api.retries >= 7 and all(f.count == 0 for f in emulator.faults)
            assert_same_store(calm, stormy)


def test_an_outage_gives_up_with_a_clear_message_and_keeps_the_cursor(hub, store) -> None:
    emulator, _ = hub
    sync(emulator, store)
    before = store.get_cursor("hubspot", "contacts")
    emulator.state.touch("contacts", list(emulator.state.objects["contacts"])[:5])
    down = Fault("5xx", count=10**6, status=503, path="/crm/")  # the account still answers
    emulator.inject(down)
    try:
        result = sync(emulator, store)
    finally:
        down.count = 0
    assert result.status == "partial"
    assert "kept failing" in result.errors[0] and "run again later" in result.errors[0]
    assert store.get_cursor("hubspot", "contacts") == before
    with emulator.offline(), pytest.raises(AccountNotCheckedError, match="run again later"):
        sync(emulator, store)  # not even the account answers: the run stops at once
    assert store.get_cursor("hubspot", "contacts") == before


def test_bad_token_and_missing_scope_say_what_to_do_without_the_token(hub, store, caplog) -> None:
    emulator, _ = hub
    caplog.set_level(logging.DEBUG)
    wrong = "pat-na1-11111111-2222-4333-8444-555555555555"
    api = make_api(emulator, token=wrong)
    with pytest.raises(AuthError) as caught:
        api.json("listing", api.client.crm.objects.basic_api.get_page, "contacts")
    assert "smbml auth hubspot" in str(caught.value) and wrong not in str(caught.value)
    emulator.scopes = {f"crm.{k}.{o}.read" for k in ("objects", "schemas")
                       for o in ("contacts", "deals", "line_items", "products")}  # fmt: skip
    result = sync(emulator, store)
    assert result.status == "partial" and result.loaded["contacts"] == 300
    (problem,) = result.errors
    assert "crm.schemas.orders.read" in problem and "Private Apps" in problem
    assert all(
        wrong not in r.getMessage() and TEST_TOKEN not in r.getMessage() for r in caplog.records
    )


# -- push ------------------------------------------------------------------------------
SCORED = pd.Timestamp("2026-10-31", tz="UTC")


def _scores(
    store: Store,
    contact_ids: list[str],
    scores: list[float],
    segment: str = "Champions",
    at: pd.Timestamp = SCORED,
) -> None:
    run = store.start_run("test", "hubspot")
    rows = [
        {"entity": "contact", "entity_id": c, "model": "lead_score", "value": s, "label": "A" if s > 50 else "C",
         "reasons": ["Came from a referral", "Opened our emails 12 times"], "model_version": "v1", "scored_at": at}
        for c, s in zip(contact_ids, scores, strict=True)
    ] + [
        {"entity": "contact", "entity_id": c, "model": "rfm_segment", "value": 555, "label": segment,
         "reasons": [], "model_version": "rfm-1", "scored_at": at}
        for c in contact_ids
    ]  # fmt: skip
    store.write_outputs("scores", run, pd.DataFrame(rows))
    store.finish_run(run, "ok", {}, None)


def test_push_creates_properties_once_and_sends_only_changes(hub, store) -> None:
    emulator, _ = hub
    sync(emulator, store)
    ids = sorted(store.read("contacts")["contact_id"])[:250]
    _scores(store, ids, [float(i % 100) for i in range(250)])
    emulator.reset_counts()
    push = HubSpotDestination(make_api(emulator), properties=crm_properties())
    report = push.publish(None, store)
    assert report.failed == [] and report.written == 250 * 5
    assert emulator.requests["POST batch"] == 3  # 250 records, 100 a batch
    assert emulator.requests["POST group_create"] == 3
    record = emulator.state.objects["contacts"][ids[7]].properties
    assert record["smbml_lead_score"] == "7" and record["smbml_lead_tier"] == "C"
    assert record["smbml_lead_reasons"] == "Came from a referral; Opened our emails 12 times"
    assert record["smbml_segment"] == "Champions"
    assert record["smbml_scored_at"] == "2026-10-31T00:00:00.000Z"
    prop = emulator.state.properties["contacts"]["smbml_lead_score"]
    assert (prop["groupName"], prop["type"], prop["fieldType"]) == ("smbml", "number", "number")
    emulator.reset_counts()
    again = HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(None, store)
    assert again.written == 0 and again.unchanged == 1250
    assert (
        emulator.requests["POST batch"] == 0
        and emulator.requests["POST property_batch_create"] == 0
    )
    assert emulator.requests["POST group_create"] == 0
    _scores(store, ids, [99.0, 98.0, 97.0] + [float(i % 100) for i in range(3, 250)])
    _rows(store, "rfm_segment", "contact", ids, 555, ["Rising Star"] * 3 + ["Champions"] * 247)
    emulator.reset_counts()
    third = HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(None, store)
    assert third.written == 9  # score, tier and segment on 3; reasons and time unchanged
    assert emulator.requests["POST batch"] == 1
    options = {
        o["value"] for o in emulator.state.properties["contacts"]["smbml_segment"]["options"]
    }
    assert "Rising Star" in options


def test_an_option_added_by_the_push_keeps_the_users_labels_on_the_others(hub, store) -> None:
    """A PATCH of options replaces the list: the push rebuilt it from the values, and the
    user's "A - call today" went back to "A" and a hidden option showed again."""
    emulator, _ = hub
    sync(emulator, store)
    ids = sorted(store.read("contacts")["contact_id"])[:20]
    _scores(store, ids, [80.0] * 10 + [20.0] * 10)  # tiers A and C
    HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(None, store)
    prop = emulator.state.properties["contacts"]["smbml_lead_tier"]
    edits = {"A": {"label": "A - call today"}, "B": {"hidden": True}, "D": {"label": "D - later"}}
    prop["options"] = [{**o, **edits[o["value"]]} for o in prop["options"] if o["value"] in edits]
    users = [dict(o) for o in prop["options"]]  # C deleted: no one should see it, they said
    _scores(store, ids, [20.0] * 10 + [80.0] * 10)  # tier C again: HubSpot needs its option
    report = HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(
        None, store
    )
    assert report.failed == []
    options = emulator.state.properties["contacts"]["smbml_lead_tier"]["options"]
    assert [{k: o[k] for k in users[0]} for o in options[:3]] == users
    assert (options[3]["value"], options[3]["label"], options[3]["hidden"]) == ("C", "C", False)
    assert emulator.state.objects["contacts"][ids[0]].properties["smbml_lead_tier"] == "C"


def test_push_reports_deleted_records_and_leaves_foreign_properties_alone(hub, store) -> None:
    emulator, _ = hub
    sync(emulator, store)
    emulator.state.properties["contacts"]["smbml_lead_reasons"] = {
        **emulator.state.properties["contacts"]["email"],
        "name": "smbml_lead_reasons",
        "hubspotDefined": False,
        "modificationMetadata": {
            "archivable": True,
            "readOnlyDefinition": False,
            "readOnlyValue": False,
        },
    }  # made by someone else, in their own group
    ids = sorted(store.read("contacts")["contact_id"])[:30]
    _scores(store, ids, [60.0] * 30)
    emulator.state.archive("contacts", ids[:2])  # deleted between pull and push
    report = HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(
        None, store
    )
    failed = dict(report.failed)
    assert f"contacts {ids[0]}" in failed and "deleted or merged" in failed[f"contacts {ids[1]}"]
    assert "left alone" in failed["smbml_lead_reasons"]
    assert emulator.state.objects["contacts"][ids[5]].properties["smbml_lead_score"] == "60"
    assert "smbml_lead_reasons" not in emulator.state.objects["contacts"][ids[5]].properties
    assert (
        emulator.state.properties["contacts"]["smbml_lead_reasons"]["groupName"]
        == "contactinformation"
    )


def test_push_finds_the_one_record_a_batch_was_refused_for(hub, store) -> None:
    emulator, _ = hub
    sync(emulator, store)
    ids = sorted(store.read("contacts")["contact_id"])[:40]
    _scores(store, ids, [10.0] * 40)
    HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(None, store)
    # Someone turns our score into a drop-down of one value in HubSpot: "90" is refused.
    prop = emulator.state.properties["contacts"]["smbml_lead_score"]
    prop.update(type="enumeration", fieldType="select",
                options=[{"label": "10", "value": "10", "hidden": False, "displayOrder": 0}])  # fmt: skip
    _scores(store, ids, [10.0] * 39 + [90.0])
    destination = HubSpotDestination(make_api(emulator), properties=crm_properties())
    report = destination.publish(None, store)
    assert [r for r, _ in report.failed] == [f"contacts {ids[-1]}"]
    assert "INVALID_OPTION" in report.failed[0][1]
    assert report.written == 0 and report.unchanged == 40 * 5 - 2  # the others had no change


def test_dry_run_writes_nothing(hub, store) -> None:
    emulator, _ = hub
    sync(emulator, store)
    ids = sorted(store.read("contacts")["contact_id"])[:10]
    _scores(store, ids, [70.0] * 10)
    emulator.reset_counts()
    report = HubSpotDestination(
        make_api(emulator), dry_run=True, properties=crm_properties()
    ).publish(None, store)
    assert report.written == 50 and "would write 50 values on 10 contacts" in report.detail[0]
    assert set(emulator.requests) == {"GET properties"}
    assert "smbml" not in emulator.state.groups["contacts"]


def test_cli_auth_then_run_with_dry_run(hub, tmp_path: Path, monkeypatch) -> None:
    from click.testing import CliRunner

    from smbml_connect.cli import cli

    emulator, _ = hub
    monkeypatch.delenv("SMBML_HUBSPOT_TOKEN", raising=False)
    config = tmp_path / "smbml.toml"
    config.write_text(
        f'[source]\nkind = "hubspot"\n\n[hubspot]\napi_url = "{emulator.url}"\n'
        "requests_per_10s = 100\n",
        encoding="utf-8",
    )
    log = tmp_path / "smbml.log"
    runner = CliRunner()
    base = ["--log-file", str(log)]
    refused = runner.invoke(cli, [*base, "auth", "hubspot", "-c", str(config), "--token-stdin"],
                            input="pat-na1-99999999-9999-4999-8999-999999999999\n")  # fmt: skip
    assert refused.exit_code == 3 and "did not accept the token" in refused.output
    saved = runner.invoke(cli, [*base, "auth", "hubspot", "-c", str(config), "--token-stdin"],
                          input=TEST_TOKEN + "\n")  # fmt: skip
    assert saved.exit_code == 0, saved.output
    assert "saved in the keyring" in saved.output
    store = tmp_path / "store.sqlite"
    ran = runner.invoke(cli, [*base, "run", "-c", str(config), "--store", str(store),
                              "--dry-run", "--quiet"])  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert "HubSpot (dry run): would write" in ran.output and "contacts:" in ran.output
    assert not any(r.properties.get("smbml_lead_score")
                   for r in emulator.state.objects["contacts"].values())  # fmt: skip
    text = log.read_text(encoding="utf-8")
    assert TEST_TOKEN not in text and "99999999-9999-4999" not in text


_CHILD = """
import sys
from datetime import datetime
from smbml_connect.connectors.hubspot.source import HubSpotSource
from smbml_connect.connectors.hubspot.http import HubSpotApi, Limits
from smbml_connect.consent import read_consent
from smbml_connect.credentials import Secret
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.store import Store
url, path, started, token = sys.argv[1:5]
api = HubSpotApi(Secret(token), host=url, limits=Limits(window_seconds=0.1, search_window_seconds=0.01))
with Store(path) as store:
    run_pipeline(HubSpotSource(api, page_rows=100, started=datetime.fromisoformat(started)),
                 store, RunOptions(steps=[]))
"""


def test_a_sync_killed_by_the_operating_system_resumes_to_the_same_store(
    hub, tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    emulator, _ = hub
    fixed = datetime.now(tz=UTC)
    reference = tmp_path / "reference.sqlite"
    with Store(reference) as store:
        run_pipeline(HubSpotSource(make_api(emulator), page_rows=100, started=fixed), store,
                     RunOptions(steps=[]))  # fmt: skip
    target = tmp_path / "killed.sqlite"
    with Store(target):
        pass  # created (and migrated) before the child starts
    emulator.inject(Fault("slow", count=10**6, delay=0.01))  # let the kill land mid-sync
    emulator.rate_limits = False  # the child runs on real time; our fake clock stands still
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, emulator.url, str(target), fixed.isoformat(), TEST_TOKEN],
        cwd=Path(__file__).resolve().parents[1],
    )
    deadline = time.monotonic() + 60
    with Store(target) as watcher:
        while watcher.count("order_lines") == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    emulator.faults.clear()
    emulator.rate_limits = True
    with Store(target) as store:
        with Store(reference) as expected:
            full = expected.count("order_lines")
        assert 0 < store.count("order_lines") < full  # it really died half way
        run_pipeline(HubSpotSource(make_api(emulator), page_rows=100, started=fixed), store,
                     RunOptions(steps=[]))  # fmt: skip
        with Store(reference) as expected:
            assert_same_store(expected, store)
        assert "interrupted" in set(store.runs(5)["status"])


def test_line_items_of_a_deal_are_counted_not_silently_dropped(hub, store) -> None:
    emulator, _ = hub
    deal = next(iter(emulator.state.objects["deals"]))
    item = emulator.state.add("line_items", {"name": "Setup", "quantity": 1, "price": 50})
    emulator.state.associate("line_items", item.id, "deals", deal)
    result = sync(emulator, store)
    assert result.not_loaded == {"order_lines": 1}
    assert int(item.id) not in set(store.read("order_lines")["line_no"])


def test_an_order_made_in_hubspot_is_dated_by_its_create_date(hub, store) -> None:
    """An order created in HubSpot (not synced from a shop) has no hs_external_created_date:
    it was rejected as "ordered_at is empty but required", and an explorer's portal lost
    40 of 916 orders from its sales, customers and forecast."""
    emulator, _ = hub
    made = list(emulator.state.objects["orders"].values())[-5:]
    for record in made:
        record.properties.pop("hs_external_created_date", None)
    result = sync(emulator, store)
    assert result.rejects.empty
    orders = store.read("orders").set_index("order_id")
    for record in made:
        assert orders.loc[str(record.id), "ordered_at"] == pd.Timestamp(
            record.properties["hs_createdate"]
        )


def test_a_deal_without_a_currency_is_in_the_portals_company_currency(hub, store) -> None:
    """A single-currency portal's deals carry no deal_currency_code: they are in the
    company currency. They were taken to be in the orders' (EUR from a shop's sync), and
    a USD portal's amounts were summed as euros (a HubSpot explorer)."""
    emulator, _ = hub
    emulator.state.currency = "GBP"
    deals = list(emulator.state.objects["deals"].values())
    for record in deals[:3]:
        record.properties.pop("deal_currency_code", None)
    try:
        sync(emulator, store)
    finally:
        emulator.state.currency = "USD"
    stored = store.read("deals").set_index("deal_id")["currency"]
    assert [stored[str(r.id)] for r in deals[:3]] == ["GBP"] * 3
    assert stored[str(deals[3].id)] == deals[3].properties["deal_currency_code"]


def test_hs_total_discount_is_an_amount_read_as_the_share_of_the_line(hub, small, store) -> None:
    """HubSpot's hs_total_discount is money off the line: 5 off 2 x 25 is a 10% discount."""
    emulator, ids = hub
    order = ids["orders"][small.tables["orders"].iloc[0].order_id]
    made = {}
    for name, amount in (("off", 5), ("none", 0), ("too much", 80), ("no price", 3)):
        price = None if name == "no price" else 25
        item = emulator.state.add(
            "line_items",
            {"name": name, "quantity": 2, "price": price, "hs_total_discount": amount},
        )
        emulator.state.associate("line_items", item.id, "orders", order)
        made[name] = int(item.id)
    result = sync(emulator, store)
    assert result.status == "ok", result.errors
    lines = store.read("order_lines").set_index("line_no")
    assert lines.loc[made["off"], "discount"] == pytest.approx(0.1)
    assert lines.loc[made["none"], "discount"] == 0.0
    assert pd.isna(lines.loc[made["too much"], "discount"])
    assert pd.isna(lines.loc[made["no price"], "discount"])
    # The sample's lines keep their shares through HubSpot's amounts (to the cent).
    sample = small.tables["order_lines"].iloc[5]
    mine = lines.loc[int(ids["order_lines"][f"{sample.order_id}/{sample.line_no}"]), "discount"]
    assert mine == pytest.approx(sample.discount, abs=0.01 / (sample.quantity * sample.unit_price))
    said = result.rejects[result.rejects["column"] == "discount"].set_index("source_row")
    assert len(said) == 2
    too_much = said.loc[made["too much"]]
    assert too_much["value"] == "80" and too_much["action"] == "value cleared"
    assert "HubSpot's hs_total_discount, money taken off the line" in too_much["reason"]
    assert "more than the line's price (2 x 25)" in too_much["reason"]
    assert "percent" not in too_much["reason"]
    assert "cannot be a share" in said.loc[made["no price"], "reason"]


def test_changes_made_while_a_sync_pages_are_neither_skipped_nor_lost(store: Store) -> None:
    """Records changed between pages leave the sync's time range: paging by offset over
    that moving set skipped as many others; paging by a stable key skips none."""
    with HubSpotEmulator(clock=FakeClock()) as emulator:
        ids = [emulator.state.add("contacts", {"email": f"c{i}@x.com"},
                                  updated_ms=1_600_000_000_000).id for i in range(700)]  # fmt: skip
        sync(emulator, store)
        started = settled()
        start_ms = int(started.timestamp() * 1000) - SETTLE_MS  # what it searches up to
        # 700 changes before the sync, one per millisecond, oldest first
        for n, rid in enumerate(ids):
            emulator.state.touch("contacts", [rid], at_ms=start_ms - 5_000 + n, country="NZ")
        edited: list[str] = []

        def edit_after_first_page(route: str) -> None:
            if route == "POST search" and not edited:
                edited.extend(ids[:10])  # on page 1, changed again during the sync
                emulator.state.touch("contacts", edited, at_ms=start_ms + 50, country="AU")

        emulator.after_request = edit_after_first_page
        run_pipeline(HubSpotSource(make_api(emulator), started=started), store,
                     RunOptions(steps=[]))  # fmt: skip
        emulator.after_request = None
        country = store.read("contacts").set_index("contact_id")["country"]
        lost = [i for i in ids[10:] if country.loc[i] is pd.NA or country.loc[i] != "NZ"]
        assert not lost, f"{len(lost)} changes made before the sync were lost"
        sync(emulator, store)  # the next run takes the changes made during this one
        country = store.read("contacts").set_index("contact_id")["country"]
        assert country.loc[edited].tolist() == ["AU"] * 10


def test_ten_thousand_changes_in_one_millisecond_all_arrive_and_are_read_once(
    store: Store,
) -> None:
    with HubSpotEmulator(clock=FakeClock()) as emulator:
        first = emulator.state.add("contacts", {"email": "a@x.com"}, updated_ms=1_600_000_000_000)
        sync(emulator, store)
        burst = [emulator.state.add("contacts", {"email": f"b{i}@x.com"},
                                    updated_ms=1_700_000_000_000).id for i in range(10_500)]  # fmt: skip
        result = sync(emulator, store)
        assert result.loaded["contacts"] == 10_500
        stored = store.read("contacts")
        assert set(stored["contact_id"]) == {first.id, *burst}
        emulator.reset_counts()
        idle = sync(emulator, store)  # nothing changed: nothing is read again
        assert idle.loaded["contacts"] == 0
        assert emulator.requests["POST search"] == 5 + 5  # an object's, an engagement type's


def _run_and_push(emulator: HubSpotEmulator, store: Store, **options: Any) -> Any:
    api = make_api(emulator)
    return run_pipeline(HubSpotSource(api, page_rows=100), store,
                        RunOptions(steps=steps_by_name(None), **options),
                        [HubSpotDestination(api)])  # fmt: skip


def _ours(emulator: HubSpotEmulator, object_type: str) -> int:
    return sum(
        1
        for r in emulator.state.objects[object_type].values()
        for name in r.properties
        if name.startswith("smbml_")
    )


def test_a_table_that_fails_part_way_holds_back_what_reads_it(hub, store) -> None:
    """Orders answer 503 after two pages: nothing computed from 200 orders is pushed."""
    emulator, _ = hub
    emulator.inject(Fault("5xx", count=1000, status=503, path="/objects/orders", skip=2))
    result = _run_and_push(emulator, store)
    assert result.status == "partial" and "orders" in result.incomplete
    assert store.count("orders") == 200  # two committed pages: the store keeps them
    for step in ("rfm_segments", "churn_value", "lead_scores", "sales_forecast"):
        assert "orders did not load" in result.held_back[step]
        assert step not in result.steps
    assert any(line.startswith("Customer segments (RFM): held back") for line in result.skipped)
    assert _ours(emulator, "contacts") == 0 and _ours(emulator, "deals") == 0
    assert store.latest_outputs("scores").empty


def test_a_failed_table_may_be_taken_from_its_last_complete_copy(hub, store) -> None:
    emulator, _ = hub
    first = _run_and_push(emulator, store, incomplete_inputs="last_complete")
    assert first.status == "ok" and not first.held_back
    value = emulator.state.properties["contacts"]["smbml_value_12m"]["description"]
    assert f"Amounts in {first.currency}." in value and len(first.currency) == 3
    assert all(  # rounded: at most two decimals
        len(r.properties["smbml_value_12m"].partition(".")[2]) <= 2
        for r in emulator.state.objects["contacts"].values()
        if r.properties.get("smbml_value_12m")
    )
    emulator.state.touch("orders", list(emulator.state.objects["orders"])[:5])
    emulator.inject(Fault("5xx", count=1000, status=503, path="/objects/orders"))
    second = _run_and_push(emulator, store, incomplete_inputs="last_complete")
    assert second.status == "partial" and not second.held_back
    assert "rfm_segments" in second.steps
    older = [n.message for n in second.notices if n.check == "older_input"]
    assert any("computed from the last complete copy (orders of" in m for m in older)
    emulator.faults.clear()
    emulator.inject(Fault("5xx", count=1000, status=503, path="/objects/orders"))
    third = _run_and_push(emulator, store)  # the default: held back
    assert "rfm_segments" in third.held_back and "rfm_segments" not in third.steps


def test_a_window_filled_by_another_client_is_waited_out(hub, store) -> None:
    """A burst the limiter never saw fills the 10-second window mid-sync: the run waits
    the window out (HubSpot sends no Retry-After) and completes, nothing skipped."""
    emulator, _ = hub
    served = {"n": 0}

    def other_client(route: str) -> None:
        served["n"] += 1
        if served["n"] in (5, 30):
            emulator.burst()

    emulator.after_request = other_client
    api = make_api(emulator)
    result = run_pipeline(HubSpotSource(api), store, RunOptions(steps=[]))
    emulator.after_request = None
    assert result.status == "ok", result.errors
    assert emulator.statuses[429] >= 2
    assert api.http.waited_on_429 >= 2 * 10.0  # each time, at least the whole window


def test_a_window_that_stays_full_gives_up_after_the_configured_wait(hub, store) -> None:
    emulator, _ = hub
    # never lets up on listing contacts (a GET: the batch read that finds the marketing
    # events' contacts by email is a POST)
    emulator.inject(Fault("429", count=10_000, path="/objects/contacts", method="GET"))
    api = make_api(emulator, max_wait=120.0)
    result = run_pipeline(HubSpotSource(api), store, RunOptions(steps=[]))
    assert result.status == "partial" and list(result.incomplete) == ["contacts"]
    assert "too many requests" in result.errors[0] and "2 minutes" in result.errors[0]
    assert 120.0 < api.http.waited_on_429 <= 120.0 + 2 * 60 * 1.25


def test_failures_a_207_does_not_attribute_are_found_counted_and_retried(hub, store) -> None:
    emulator, _ = hub
    sync(emulator, store)
    ids = sorted(store.read("contacts")["contact_id"])[:40]
    _scores(store, ids, [60.0] * 40)
    emulator.state.archive("contacts", [ids[3], ids[17], ids[30]])  # gone before the push
    emulator.error_ids = False  # the 207's errors name no record
    report = HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(
        None, store
    )
    assert sorted(r for r, _ in report.failed) == sorted(
        f"contacts {i}" for i in (ids[3], ids[17], ids[30])
    )
    assert report.written == 37 * 5
    # not marked as pushed: the next push tries those three again
    again = HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(None, store)
    assert len(again.failed) == 3 and again.written == 0


def test_a_run_with_nothing_new_writes_nothing_not_even_scored_at(hub, store) -> None:
    emulator, _ = hub
    sync(emulator, store)
    ids = sorted(store.read("contacts")["contact_id"])[:30]
    _scores(store, ids, [40.0] * 30)
    push = HubSpotDestination(make_api(emulator), properties=crm_properties())
    assert push.publish(None, store).written == 30 * 5
    emulator.reset_counts()
    _scores(store, ids, [40.0] * 30, at=pd.Timestamp("2026-11-01", tz="UTC"))  # an hour on
    again = HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(None, store)
    # No write; one look at the contacts' property list, which a run's pull has already read
    assert again.written == 0 and dict(emulator.requests) == {"GET properties": 1}
    _scores(store, ids, [40.0] * 29 + [90.0], at=pd.Timestamp("2026-11-02", tz="UTC"))
    third = HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(None, store)
    assert third.written == 3  # score, tier and the time it was scored, on one record
    record = emulator.state.objects["contacts"][ids[-1]].properties
    assert record["smbml_scored_at"] == "2026-11-02T00:00:00.000Z"


def _rows(
    store: Store, model: str, entity: str, ids: list[str], value: float, label: str | list[str]
) -> None:
    """One run of ``model``: every record it applies to (a run's outputs are complete)."""
    labels = [label] * len(ids) if isinstance(label, str) else label
    run = store.start_run("test", "hubspot")
    store.write_outputs("scores", run, pd.DataFrame(
        [{"entity": entity, "entity_id": i, "model": model, "value": value, "label": tag,
          "reasons": ["Came from a referral", "Opened our emails 12 times"], "model_version": "v1",
          "scored_at": SCORED}
         for i, tag in zip(ids, labels, strict=True)]))  # fmt: skip
    store.finish_run(run, "ok", {}, None)


def test_values_that_no_longer_apply_are_cleared_in_the_same_batches(hub, store) -> None:
    emulator, _ = hub
    sync(emulator, store)
    ids = sorted(store.read("contacts")["contact_id"])[:30]
    _scores(store, ids, [40.0] * 30)
    deals = sorted(store.read("deals")["deal_id"])[:10]
    _rows(store, "deal_win", "deal", deals, 0.4, "B")
    HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(None, store)
    # Next run: 5 leads opted out or became customers (not scored), 2 customers left
    # the segments, 3 deals closed (no win chance any more).
    _rows(store, "lead_score", "contact", ids[5:], 40.0, "C")
    _rows(store, "rfm_segment", "contact", ids[:28], 555, "Champions")
    _rows(store, "deal_win", "deal", deals[3:], 0.4, "B")
    emulator.reset_counts()
    report = HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(
        None, store
    )
    # 5 leads x score, tier, reasons; 2 segments; 3 deals x chance, reasons, scored at. The
    # 5 leads keep 'Scored at': their segment still applies and was computed then.
    assert report.written == 5 * 3 + 2 + 3 * 3
    assert emulator.requests["POST batch"] == 2  # one for contacts, one for deals: no extra
    gone = emulator.state.objects["contacts"][ids[0]].properties
    lead = ("smbml_lead_score", "smbml_lead_tier", "smbml_lead_reasons")
    assert not any(gone.get(name) for name in lead)  # HubSpot keeps no empty value
    assert gone["smbml_segment"] == "Champions" and gone["smbml_scored_at"]
    closed = emulator.state.objects["deals"][deals[0]].properties
    assert not closed.get("smbml_scored_at")
    assert not emulator.state.objects["contacts"][ids[29]].properties.get("smbml_segment")
    assert not emulator.state.objects["deals"][deals[0]].properties.get("smbml_win_probability")
    assert emulator.state.objects["contacts"][ids[9]].properties["smbml_lead_score"] == "40"
    again = HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(None, store)
    assert again.written == 0  # cleared once, not every run


def test_a_refused_token_stops_the_run_at_once_with_one_line(hub, store) -> None:
    emulator, _ = hub
    emulator.reset_counts()
    api = make_api(emulator, token="pat-na1-11111111-2222-4333-8444-555555555555")
    with pytest.raises(AuthError, match="did not accept the token"):
        run_pipeline(HubSpotSource(api), store, RunOptions(steps=[]))
    assert emulator.total_requests() == 1  # not one try per table
    (run,) = store.runs().itertuples()
    assert run.status == "failed" and run.error.count("did not accept the token") == 1


def test_a_property_group_made_meanwhile_is_used(hub, store) -> None:
    emulator, _ = hub
    sync(emulator, store)
    ids = sorted(store.read("contacts")["contact_id"])[:5]
    _scores(store, ids, [70.0] * 5)

    def colleague(route: str) -> None:  # someone makes the group between our look and create
        if route == "GET groups":
            for groups in emulator.state.groups.values():
                groups.setdefault("smbml", {"name": "smbml", "label": "SMB ML",
                                            "displayOrder": -1, "archived": False})  # fmt: skip

    emulator.after_request = colleague
    report = HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(
        None, store
    )
    emulator.after_request = None
    assert report.failed == [] and report.written == 25
    assert emulator.statuses[409] >= 1


def _with_value(emulator: HubSpotEmulator, name: str) -> set[str]:
    contacts = emulator.state.objects["contacts"]
    return {i for i, record in contacts.items() if record.properties.get(name)}


def test_a_property_deleted_in_hubspot_is_made_again_with_every_value(hub, store) -> None:
    """An admin tidies up HubSpot's properties and deletes our segment with its values.
    The next push that reads the property list makes it again and writes every value,
    not only the few that changed since (before: 1 of 30 segments came back)."""
    emulator, _ = hub
    sync(emulator, store)
    ids = sorted(store.read("contacts")["contact_id"])[:30]
    _scores(store, ids, [40.0] * 30)
    HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(None, store)
    assert _with_value(emulator, "smbml_segment") == set(ids)
    emulator.state.archive_property("contacts", "smbml_segment")
    emulator.state.delete_property_for_good("contacts", "smbml_segment")  # 90 days on
    emulator.reset_counts()
    _scores(store, ids, [40.0] * 29 + [90.0])
    report = HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(
        None, store
    )
    assert _with_value(emulator, "smbml_segment") == set(ids)
    assert report.written == 2 + 30 and report.unwritten == []  # score and tier; segments
    assert report.detail == [
        '"Customer segment (SMB ML)" (smbml_segment) on contacts was gone from HubSpot (deleted there, with '
        "its values): made again, and every value is written this run"
    ]
    assert emulator.requests["POST batch"] == 1  # in the same batch as the changed score
    emulator.reset_counts()
    again = HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(None, store)
    # Nothing new: one look at the list that a deleted property would be missing from.
    assert again.written == 0 and dict(emulator.requests) == {"GET properties": 1}


def test_a_property_deleted_and_archived_in_hubspot_says_what_to_do(hub, store) -> None:
    """HubSpot keeps a deleted property archived for 90 days: its name cannot be made
    again (409). One line names it and what to do, the run's other values are written,
    and once the admin restores it nothing needs writing: its values come back with it."""
    emulator, _ = hub
    sync(emulator, store)
    ids = sorted(store.read("contacts")["contact_id"])[:30]
    _scores(store, ids, [40.0] * 30)
    HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(None, store)
    emulator.state.archive_property("contacts", "smbml_segment")
    _scores(store, ids, [40.0] * 29 + [90.0], segment="Loyal Customers")
    emulator.reset_counts()
    report = HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(
        None, store
    )
    (line,) = report.unwritten  # before: "0 not written", and no segment on any contact
    assert line.startswith(
        '30 values of "Customer segment (SMB ML)" (smbml_segment) on contacts not written: '
    )
    assert "restore it in HubSpot (Settings > Properties > Archived properties)" in line
    assert report.failed == [] and report.written == 2  # the score and tier that moved
    assert emulator.requests["POST batch"] == 1  # no batch refused for the archived name
    emulator.state.restore_property("contacts", "smbml_segment")
    after = HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(None, store)
    assert after.unwritten == [] and after.written == 30  # the segments that changed
    assert {emulator.state.objects["contacts"][i].properties["smbml_segment"] for i in ids} == {
        "Loyal Customers"
    }


class _SlowFirstBatch(HubSpotDestination):
    first = ""

    def _send(self, object_type: str, ids: list[str], *args: Any) -> list[str]:
        if self.first in ids:
            time.sleep(0.5)  # HubSpot takes its time over this one batch
        return super()._send(object_type, ids, *args)


class _DiesMarking:
    """A store that dies when the slow first batch is marked (a kill at that moment)."""

    def __init__(self, store: Store, first: str) -> None:
        self.store, self.first = store, first

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def mark_pushed(self, destination: str, entity: str, values: pd.DataFrame) -> None:
        if self.first in set(values["entity_id"]):
            raise _Killed
        self.store.mark_pushed(destination, entity, values)


def test_a_push_killed_mid_way_resends_only_what_was_not_confirmed(hub, store) -> None:
    emulator, _ = hub
    sync(emulator, store)
    ids = sorted(store.read("contacts")["contact_id"], key=lambda i: (len(i), i))[:300]
    _scores(store, ids, [70.0] * 300)
    push = _SlowFirstBatch(make_api(emulator), properties=crm_properties())
    push.first = ids[0]
    with contextlib.suppress(_Killed):
        push.publish(None, _DiesMarking(store, ids[0]))
    emulator.reset_counts()
    HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(None, store)
    assert emulator.requests["POST batch"] == 1  # the two fast batches were marked already


def test_numbers_are_written_rounded() -> None:
    from smbml_connect.connectors.hubspot.push import _text

    assert _text(0.0103317, "number") == "0.01" and _text(19.9, "number") == "19.9"
    assert _text(64.0, "number") == "64" and _text(1234.5678, "number") == "1234.57"


def test_scored_at_is_on_every_scored_object_and_follows_its_newest_value() -> None:
    """Issue 27 point 7: deals get 'Scored at' too, and a customer scored only for churn
    (no lead score) gets it as well: the stamp is the record's newest computed value."""
    stamps = {p.object_type: p for p in crm_properties() if p.name == "smbml_scored_at"}
    assert set(stamps) == {"contacts", "deals", "products"}
    assert {s.label for s in stamps.values()} == {"Scored at (SMB ML)"}
    early, late = pd.Timestamp("2026-10-01", tz="UTC"), pd.Timestamp("2026-10-31", tz="UTC")
    rows = pd.DataFrame(
        [
            {"entity": "contact", "entity_id": "c1", "model": "lead_score", "scored_at": early},
            {"entity": "contact", "entity_id": "c1", "model": "churn_value", "scored_at": late},
            {"entity": "contact", "entity_id": "c2", "model": "churn_value", "scored_at": early},
            {"entity": "deal", "entity_id": "d1", "model": "deal_win", "scored_at": late},
        ]
    )
    assert stamps["contacts"].take(rows).to_dict() == {
        "c1": "2026-10-31T00:00:00.000Z", "c2": "2026-10-01T00:00:00.000Z",
    }  # fmt: skip
    assert stamps["deals"].take(rows).to_dict() == {"d1": "2026-10-31T00:00:00.000Z"}


def test_an_archived_product_is_named_suggested_to_no_one_and_given_no_price(
    hub, small, store
) -> None:
    """Archiving a product is how a HubSpot shop takes it off sale; its line items stay.
    It was read as an id only: suggested to 34 customers as "100408", told to cut its
    price, and its Forecast series was that id. The Moka Pot is the small sample's most
    suggested product. Its forecast is left out, by name (stop 54)."""
    emulator, _ = hub
    products = emulator.state.objects["products"]
    pot = next(rid for rid, r in products.items() if r.properties.get("name") == "Moka Pot")
    emulator.state.archive("products", [pot])
    api = make_api(emulator)
    steps = steps_by_name(["next_product", "sales_forecast", "price_suggestions"])
    result = run_pipeline(HubSpotSource(api), store, RunOptions(steps=steps, as_of=small.as_of),
                          [HubSpotDestination(api)])  # fmt: skip
    assert result.status == "ok", result.errors
    assert result.loaded["products"] == len(products) - 1  # live ones: the archived is kept
    contacts = emulator.state.objects["contacts"].values()
    pushed = {p for r in contacts if (p := r.properties.get("smbml_next_product"))}
    assert pushed and not {p for p in pushed if p.isdigit() or p == "Moka Pot"}
    assert not any(k.startswith("smbml_") for k in products[pot].properties)
    nexts = result.steps["next_product"].sheets["Next products"]
    assert pot not in set(nexts["product_id"]) and "Moka Pot" not in set(nexts["product"])
    assert not nexts["reason"].str.contains(pot).any()
    assert nexts["reason"].str.contains("bought with Moka Pot").any()  # its sales still teach
    said = " ".join(p for s in result.steps["next_product"].sections for p in s.paragraphs)
    assert "not for sale now (Moka Pot)" in said
    prices = result.steps["price_suggestions"].sheets["Prices"].set_index("product_id")
    assert prices.loc[pot, "product"] == "Moka Pot" and pd.isna(prices.loc[pot, "suggested_price"])
    assert "not for sale now" in prices.loc[pot, "reason"]
    # no forecast carries it on (stop 54), and the forecast names it, not its id
    forecast = result.steps["sales_forecast"]
    series = set(forecast.sheets["Forecast"]["series"])
    assert not {s for s in series if pot in s or "Moka Pot" in s}
    left = " ".join(p for s in forecast.sections for p in s.paragraphs)
    assert "not for sale now, Moka Pot (" in left and pot not in left


def test_a_push_that_fails_on_products_writes_the_contacts_and_says_both(hub, store) -> None:
    """HubSpot kept answering 503 to the products' updates: the run said "hubspot not
    written" though every contact value was written, lost the line that a property of
    someone else's was left alone, and used the pull's "last saved page" words."""
    emulator, _ = hub
    emulator.state.properties["contacts"]["smbml_churn_risk"] = {
        **emulator.state.properties["contacts"]["email"],
        "name": "smbml_churn_risk", "label": "Churn risk (our agency)", "hubspotDefined": False,
    }  # fmt: skip
    fault = Fault("5xx", count=100, path="/objects/products/batch/update")
    emulator.inject(fault)
    # One moment for both runs: values measured to the cent over a customer's age moved
    # between two runs minutes apart on a busy CI machine, and 2 contact values were sent.
    now = pd.Timestamp.now(tz="UTC")
    result = _run_and_push(emulator, store, as_of=now)
    assert result.status == "partial"
    [report] = result.pushes
    written = _ours(emulator, "contacts")
    assert written and report.written_on["contacts"] == written and _ours(emulator, "products") == 0
    [problem] = [e for e in result.errors if e.startswith("HubSpot")]
    [unsent] = report.unwritten
    assert (
        problem == f"HubSpot: wrote {report.written:,} values ({written:,} on contacts); {unsent}"
    )
    products = len(store.read("products"))
    assert f"on {products} products not written: HubSpot kept failing" in unsent
    assert "saved page" not in problem and "sent again on the next run" in unsent
    assert "left alone" in dict(report.failed)["smbml_churn_risk"]
    assert store.runs(1)["error"].iloc[0] == problem  # `smbml status` says the same
    fault.count = 0  # HubSpot answers again: the products go through, the contacts are done
    again = _run_and_push(emulator, store, as_of=now)
    assert again.status == "ok", again.errors
    assert _ours(emulator, "products") > 0
    assert not again.pushes[0].written_on.get("contacts")


def test_a_yen_amount_is_written_in_whole_yen_as_the_workbook_shows_it(hub, store) -> None:
    """A yen portal's "Expected 12-month value" read 565207.34 and 0.19 in HubSpot beside a
    workbook and reasons that say ¥565,207: an amount has its currency's decimals."""
    emulator, _ = hub
    sync(emulator, store)
    ids = sorted(store.read("contacts")["contact_id"])[:4]
    run = store.start_run("test", "hubspot")
    spent, risk = [565207.34, 0.19, 48999.5, 12.875], [0.999, 0.1234, 0.5, 0.0449]
    store.write_outputs("scores", run, pd.DataFrame(
        [{"entity": "contact", "entity_id": i, "model": model, "value": v, "label": "",
          "reasons": [], "model_version": "v1", "scored_at": SCORED}
         for model, values in (("value_12m", spent), ("churn_risk", risk))
         for i, v in zip(ids, values, strict=True)]))  # fmt: skip
    store.finish_run(run, "ok", {}, None)
    for currency, shown in (("JPY", ["565207", "0", "49000", "13"]),
                            ("KWD", ["565207.34", "0.19", "48999.5", "12.875"])):  # fmt: skip
        result = RunResult(run_id=run, as_of=SCORED, source="hubspot", currency=currency)
        push = HubSpotDestination(make_api(emulator), properties=crm_properties())
        assert push.publish(result, store).failed == []
        records = [emulator.state.objects["contacts"][i].properties for i in ids]
        assert [r["smbml_value_12m"] for r in records] == shown
        assert [r["smbml_churn_risk"] for r in records] == ["99.9", "12.3", "50", "4.5"]


def test_an_existing_propertys_description_is_brought_up_to_date_unless_someone_rewrote_it(
    hub, store
) -> None:
    """Churn risk was described as "Chance this customer has stopped buying" while it held
    the chance of no purchase in the next 12 months; a property made by that version kept
    the words, since only an amount's currency was ever rewritten."""
    emulator, _ = hub
    sync(emulator, store)
    ids = sorted(store.read("contacts")["contact_id"])[:20]
    _scores(store, ids, [float(i) for i in range(20)])
    run = store.start_run("test", "hubspot")
    store.write_outputs("scores", run, pd.DataFrame([
        {"entity": "contact", "entity_id": c, "model": "churn_risk", "value": 0.56, "label": "Medium",
         "reasons": [], "model_version": "v1", "scored_at": SCORED} for c in ids
    ]))  # fmt: skip
    store.finish_run(run, "ok", {}, None)
    HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(None, store)
    prop = emulator.state.properties["contacts"]["smbml_churn_risk"]
    assert "no purchase" not in prop["description"]  # the words say it plainly
    assert "buys nothing in the next 12 months" in prop["description"]
    assert "Not the chance they have already stopped buying" in prop["description"]
    wanted = prop["description"]
    # As the older version left it: its words on HubSpot, and no value changed since.
    prop["description"] = (
        "Chance this customer has stopped buying, in percent. Written by smbml_connect."
    )
    push = HubSpotDestination(make_api(emulator), properties=crm_properties())
    assert push.publish(None, store).written == 0
    assert emulator.state.properties["contacts"]["smbml_churn_risk"]["description"] == wanted
    emulator.state.properties["contacts"]["smbml_churn_risk"]["description"] = "Ask Sam first."
    HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(None, store)
    assert (
        emulator.state.properties["contacts"]["smbml_churn_risk"]["description"] == "Ask Sam first."
    )
