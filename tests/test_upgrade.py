"""A user upgrades: the current code on a store, tabs and properties an older release wrote.

Each fixture is what an older release left behind, built here from its rows (no git): the
release's schema version, the values it stored, the marks its tabs carried.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from hubspot_runs import settled

from smbml_connect.connectors.hubspot.http import HubSpotApi, Limits
from smbml_connect.connectors.hubspot.source import HubSpotSource
from smbml_connect.consent import read_consent
from smbml_connect.credentials import Secret
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.schema import validate
from smbml_connect.store import Store
from smbml_connect.testing.clock import FakeClock
from smbml_connect.testing.hubspot_emulator import TEST_TOKEN, HubSpotEmulator


@pytest.fixture
def hub() -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(clock=FakeClock()) as emulator:
        yield emulator


def _sync(hub: HubSpotEmulator, path: Path) -> None:
    hub.clock.advance(10.0)  # runs are minutes apart: a fresh rate window
    api = HubSpotApi(Secret(TEST_TOKEN), host=hub.url, limits=Limits(read_timeout=2.0),
                     clock=hub.clock)  # fmt: skip
    with Store(path) as store:
        result = run_pipeline(HubSpotSource(api, started=settled()), store, RunOptions(steps=[]))
    assert result.status == "ok", result.errors


def _as_left_at(path: Path, version: int, statements: list[str]) -> None:
    """The store as the release at schema ``version`` left it: these statements undo what
    later migrations did, or put back what that release stored."""
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()


def _as_schema_3_left_it(path: Path, statements: list[str]) -> None:
    """The store as the release before deal pipelines (schema 3) left it, with its readings."""
    _as_left_at(path, 3, ["DROP TABLE deal_pipeline_stages", *statements])


def test_hubspot_rows_an_older_release_misread_are_read_again(
    hub: HubSpotEmulator, tmp_path: Path
) -> None:
    """Releases before schema 5 stored hs_total_discount (money off the line) as the
    discount share (5 off 2 x 25 became 500%) and a marketing contact with a non-marketing
    legal basis as 'marketing contact; Performance of a contract' (read as consent). The
    HubSpot pull is incremental: records unchanged since then were never read again, so
    prices, revenue and consent kept the old readings after an upgrade."""
    consent = {"hs_email_optout": "false", "hs_marketable_status": "true",
               "hs_legal_basis": "Performance of a contract"}  # fmt: skip
    contact = hub.state.add(
        "contacts", {"email": "ann@x.com", **consent}, updated_ms=1_700_000_000_000
    )
    order = hub.state.add("orders", {"hs_order_name": "1"}, updated_ms=1_700_000_000_000)
    item = hub.state.add(
        "line_items",
        {"name": "Tea", "quantity": 2, "price": 25, "hs_total_discount": 5},
        updated_ms=1_700_000_000_000,
    )
    hub.state.associate("line_items", item.id, "orders", order.id)
    path = tmp_path / "store.sqlite"
    _sync(hub, path)
    _as_schema_3_left_it(
        path,
        [
            f"UPDATE order_lines SET discount = 5.0 WHERE line_no = {int(item.id)}",
            "UPDATE contacts SET marketing_consent = 'marketing contact; Performance of a "
            f"contract', source_row = NULL WHERE contact_id = '{contact.id}'",
        ],
    )
    _sync(hub, path)  # the upgraded release's first run; nothing changed in HubSpot
    with Store(path) as store:
        lines = store.read("order_lines").set_index("line_no")
        people = store.read("contacts").set_index("contact_id")
    assert lines.loc[int(item.id), "discount"] == pytest.approx(0.1)
    assert read_consent(people.loc[contact.id, "marketing_consent"]).decision == "opt-out"
    assert len(lines) == 1 and len(people) == 1
    assert pd.notna(people.loc[contact.id, "source_row"])  # the row HubSpot gave, as now


def _as_schema_2_left_it(path: Path) -> None:
    """The store as releases before step_outputs (schema 2) left it: no record of which
    step filled which outputs."""
    dropped = ("step_outputs", "withdrawn_outputs", "forgotten_outputs", "deal_pipeline_stages")
    _as_left_at(path, 2, [*(f"DROP TABLE {t}" for t in dropped), "DROP INDEX scores_by_record"])


def _old_run(store: Store) -> int:
    """One run of an older release: a deal's win chance, the pipeline forecast from it,
    a segment, and a sales forecast."""
    run = store.start_run("scheduled", "hubspot")
    at = pd.Timestamp("2026-10-31", tz="UTC")
    scores = {"entity": ["deal", "contact", "contact"], "entity_id": ["d1", "c1", "c1"],
              "model": ["deal_win", "rfm_segment", "value_12m"], "value": [49.0, 555.0, 120.0],
              "label": ["C", "Champions", ""], "reasons": [["Worth 5,400"], [], []],
              "model_version": "v", "scored_at": at}  # fmt: skip
    store.write_outputs("scores", run, pd.DataFrame(scores))
    forecasts = {"series_id": ["pipeline", "total"], "ds": [at, at], "yhat": [2646.0, 9000.0],
                 "model": ["deal_win", "ets+theta"]}  # fmt: skip
    store.write_outputs("forecasts", run, pd.DataFrame(forecasts))
    store.finish_run(run, "ok", {})
    return run


def test_outputs_an_older_release_stored_are_withdrawn_when_their_step_no_longer_fills_them(
    tmp_path: Path,
) -> None:
    """Schema 3 began recording which step filled which outputs; a store from before it
    had none, so the deal step computing no deals after the upgrade (every deal closed)
    withdrew nothing: the closed deal kept its win chance as the latest, and HubSpot kept
    it. The steps that still fill their outputs withdraw nothing."""
    path = tmp_path / "store.sqlite"
    with Store(path) as store:
        old = _old_run(store)
    _as_schema_2_left_it(path)
    with Store(path) as store:
        assert store.last_filled("deal_win") == (old, store.runs(1)["started_at"].iloc[0])
        run = store.start_run("scheduled", "hubspot")
        assert store.settle_step("deal_win", run, {}, "Deal win chances computed none") == [
            ("forecasts", "deal_win"),
            ("scores", "deal_win"),
        ]
        kept = {"scores": {"rfm_segment", "value_12m"}, "forecasts": {"ets+theta"}}
        assert store.settle_step("rfm_segments", run, {"scores": {"rfm_segment"}}, "") == []
        assert store.settle_step("churn_value", run, {"scores": {"value_12m"}}, "") == []
        assert store.settle_step("sales_forecast", run, {"forecasts": {"ets+theta"}}, "") == []
        for kind, models in kept.items():
            assert set(store.latest_outputs(kind)["model"]) == models


# contacts as releases before the consent wordings (schema 1 and 2, until Dec 4) made it.
FIRST_CONTACTS = (
    'CREATE TABLE "contacts" ("contact_id" TEXT NOT NULL, "email" TEXT, "first_name" TEXT, '
    '"last_name" TEXT, "company" TEXT, "lifecycle_stage" TEXT, "lead_source" TEXT, '
    '"country" TEXT, "industry" TEXT, "created_at" TEXT, "updated_at" TEXT, '
    '"last_activity_at" TEXT, "page_views" INTEGER, "sessions" INTEGER, "email_opens" '
    'INTEGER, "email_clicks" INTEGER, "form_submissions" INTEGER, "marketing_consent" '
    'INTEGER, source TEXT, extra TEXT, synced_at TEXT NOT NULL, PRIMARY KEY ("contact_id"))'
)


def test_consent_in_a_first_release_store_is_kept_as_written(tmp_path: Path) -> None:
    """The first releases stored consent as a yes/no, in an INTEGER column. SQLite turns
    text that looks like a number into one there: '1.0' (a spreadsheet's float) came back
    as '1', consent, where a store made today keeps '1.0', which is not a consent wording
    it knows, so an opt-out that is listed. An upgraded store failed open."""
    path = tmp_path / "store.sqlite"
    Store(path).close()
    _as_schema_2_left_it(path)
    _as_left_at(path, 1, [
        "DROP TABLE contacts",
        "DROP TABLE deal_stages",  # migration 2
        FIRST_CONTACTS,
        "INSERT INTO contacts (contact_id, email, marketing_consent, source, synced_at) "
        "VALUES ('old1', 'a@x.com', 1, 'files:data', '2026-11-23T00:00:00.000000Z'), "
        "('old0', 'b@x.com', 0, 'files:data', '2026-11-23T00:00:00.000000Z')",
    ])  # fmt: skip
    typed = ["1.0", "+1", "0001", "yes"]
    frame = pd.DataFrame(
        {"contact_id": ["n1", "n2", "n3", "n4"], "email": "c@x.com", "marketing_consent": typed}
    )
    with Store(path) as store:
        store.upsert("contacts", validate("contacts", frame, source="files:data").clean)
        stored = store.read("contacts").set_index("contact_id")["marketing_consent"]
    assert stored.loc[["n1", "n2", "n3", "n4"]].tolist() == typed
    assert [read_consent(v).decision for v in stored.loc[["n1", "n2", "n3"]]] == ["unreadable"] * 3
    # the old release's yes/no rows read as they did
    assert stored.loc[["old1", "old0"]].tolist() == ["1", "0"]
    assert read_consent(stored.loc["old0"]).decision == "opt-out"
    with Store(path) as store:  # the key still refuses a second row with the same id
        store.upsert("contacts", validate("contacts", frame.iloc[:1], source="x").clean)
        assert store.count("contacts") == 6


def test_a_group_a_later_release_withdrew_is_not_claimed_again(tmp_path: Path) -> None:
    """Migration 6 gives outputs stored before schema 3 their step; a group a schema 3 or
    4 release had since withdrawn (and so no longer in step_outputs) was claimed again,
    its last filling pointing back at the run whose values were cleared (review)."""
    path = tmp_path / "store.sqlite"
    with Store(path) as store:
        old = _old_run(store)
        filled = {"scores": {"deal_win"}, "forecasts": {"deal_win"}}
        assert store.settle_step("deal_win", old, filled, "") == []
        run = store.start_run("scheduled", "hubspot")
        assert store.settle_step("deal_win", run, {}, "Deal win chances computed none")
        store.finish_run(run, "ok", {})
    _as_left_at(path, 5, ["DELETE FROM step_outputs WHERE step = 'deal_win'"])
    with Store(path) as store:
        claimed = store._conn.execute(
            "SELECT kind FROM step_outputs WHERE model = 'deal_win'"
        ).fetchall()
        assert claimed == []


def test_a_merge_an_older_release_left_half_done_is_finished(
    hub: HubSpotEmulator, tmp_path: Path
) -> None:
    """Releases before schema 8 marked a merged-away contact gone (or, earlier, kept it)
    and left its deals and orders naming it: HubSpot moved them to the kept contact
    without touching them, and the kept contact, unchanged since, is not read again by an
    incremental pull. The upgraded store's first run lists contacts whole and finishes it."""
    old = hub.state.add("contacts", {"email": "ann@x.com"}, updated_ms=1_700_000_000_000)
    kept = hub.state.add("contacts", {"email": "ann@y.com"}, updated_ms=1_700_000_000_000)
    deal = hub.state.add("deals", {"dealname": "Renewal", "dealstage": "closedwon",
                                   "amount": 500}, updated_ms=1_700_000_000_000)  # fmt: skip
    hub.state.associate("deals", deal.id, "contacts", old.id)
    path = tmp_path / "store.sqlite"
    _sync(hub, path)
    hub.state.merge("contacts", kept.id, old.id)
    _sync(hub, path)  # as the current release reads it: the deal follows
    with Store(path) as store:
        assert store.read("deals").set_index("deal_id").loc[deal.id, "contact_id"] == kept.id
    _as_left_at(path, 7, [  # ... and as schema 7 had left it
        f"UPDATE deals SET contact_id = '{old.id}'",
        f"UPDATE associations SET to_id = '{old.id}' WHERE to_type = 'contact'",
    ])  # fmt: skip
    _sync(hub, path)  # nothing changed in HubSpot
    with Store(path) as store:
        assert store.read("deals").set_index("deal_id").loc[deal.id, "contact_id"] == kept.id
        links = store.read("associations")
    assert set(links.loc[links["from_id"] == deal.id, "to_id"]) == {kept.id}


OLD_ACTIVITIES = (
    'CREATE TABLE "activities" ("contact_id" TEXT NOT NULL, "occurred_at" TEXT NOT NULL, '
    '"kind" TEXT NOT NULL, source TEXT, extra TEXT, synced_at TEXT NOT NULL, '
    'PRIMARY KEY ("contact_id", "occurred_at", "kind"))'
)


def test_activities_an_older_release_stored_keep_their_rows_and_take_ids(tmp_path: Path) -> None:
    """Schema 9 keyed activities by contact, time and kind, so two calls logged in the same
    second were one and a HubSpot engagement could not be replaced when it moved. The
    upgrade keeps every stored row (with no id) and the key then tells them apart by id."""
    path = tmp_path / "store.sqlite"
    Store(path).close()
    _as_left_at(path, 9, [
        "DROP TABLE activities",
        OLD_ACTIVITIES,
        "INSERT INTO activities (contact_id, occurred_at, kind, source, synced_at) VALUES "
        "('c1', '2026-11-02T10:00:00.000000Z', 'page_view', 'files:data', "
        "'2026-11-23T00:00:00.000000Z'), ('c1', '2026-11-03T10:00:00.000000Z', 'call', "
        "'files:data', '2026-11-23T00:00:00.000000Z')",
    ])  # fmt: skip
    with Store(path) as store:
        stored = store.read("activities")
        assert stored["activity_id"].tolist() == ["", ""]
        assert stored["kind"].tolist() == ["page_view", "call"]
        # the same contact, time and kind, under two ids: two rows now
        same = pd.DataFrame({"contact_id": ["c1", "c1"], "kind": "call",
                             "occurred_at": ["2026-11-04T09:00:00Z"] * 2,
                             "activity_id": ["901", "902"]})  # fmt: skip
        store.upsert("activities", validate("activities", same, source="hubspot").clean)
        first = stored.iloc[:1][["contact_id", "occurred_at", "kind"]]
        again = validate("activities", first, source="files:data")
        store.upsert("activities", again.clean)  # no id: the key is the old one's
        assert store.count("activities") == 4
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] >= 10
        indexes = {r[1] for r in conn.execute("PRAGMA index_list('activities')")}
        assert "activities_by_id" in indexes  # an engagement's rows are found by id
