"""Deals' stage history from HubSpot: every stage each deal entered, kept right over runs.

HubSpot keeps, per deal and per pipeline stage, when the deal last entered the stage
(``hs_v2_date_entered_<stage id>``). The connector reads them with the deals, so the deal
model sees closed deals at the stage they had reached on each landmark day, and the lead
model the stage of a contact's open deal, as from files. Closed stages are told by the
portal's pipelines, not by an id starting with "closed".
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from hubspot_runs import settled

from smbml_connect.analytics.leads.contact_features import (
    DEAL_STAGE,
    closed_stages,
    contact_snapshot,
    has_stage_history,
    lead_training_frame,
)
from smbml_connect.analytics.leads.deals import deal_snapshot, deal_training_frame
from smbml_connect.connectors.hubspot.cursor import split_listed
from smbml_connect.connectors.hubspot.http import HubSpotApi, Limits
from smbml_connect.connectors.hubspot.mapping import stage_properties
from smbml_connect.connectors.hubspot.source import HubSpotSource
from smbml_connect.credentials import Secret
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.schema import TABLES
from smbml_connect.store import Store
from smbml_connect.testing.clock import FakeClock
from smbml_connect.testing.hubspot_emulator import TEST_TOKEN, HubSpotEmulator
from smbml_connect.testing.hubspot_state import DEFAULT_DEAL_STAGES


def sync(hub: HubSpotEmulator, store: Store) -> Any:
    limits = Limits(read_timeout=2.0)
    hub.clock.advance(limits.window_seconds)
    api = HubSpotApi(Secret(TEST_TOKEN), host=hub.url, limits=limits,
                     client_side_validation=True, clock=hub.clock)  # fmt: skip
    result = run_pipeline(HubSpotSource(api, started=settled()), store, RunOptions(steps=[]))
    assert result.status == "ok", result.errors
    return result


def live(store: Store) -> dict[str, pd.DataFrame]:
    tables = {t: store.read(t) for t in TABLES}
    return {
        t: f[f["archived_at"].isna()].reset_index(drop=True) if "archived_at" in f else f
        for t, f in tables.items()
    }


def history(store: Store, deal: str) -> list[tuple[str, pd.Timestamp]]:
    rows = store.read("deal_stages")
    rows = rows[rows["deal_id"] == deal].sort_values("entered_at")
    return list(zip(rows["stage"], rows["entered_at"], strict=True))


def test_a_full_pull_brings_every_stage_each_deal_entered(hub, small, store) -> None:
    """The gap: from HubSpot only each deal's current stage came, so closed deals had no
    stage at any landmark and the lead model turned its stage feature off."""
    emulator, ids = hub
    sync(emulator, store)
    got = store.read("deal_stages")
    back = {v: k for k, v in ids["deals"].items()}
    mine = got.assign(deal_id=got["deal_id"].map(back))
    want = small.tables["deal_stages"]
    key = ["deal_id", "stage"]
    merged = want.merge(mine, on=key, how="outer", suffixes=("", "_got"), indicator=True)
    assert (merged["_merge"] == "both").all() and len(got) == len(want)
    assert (pd.to_datetime(merged["entered_at"], utc=True)
            == pd.to_datetime(merged["entered_at_got"], utc=True)).all()  # fmt: skip
    tables = live(store)
    assert has_stage_history(tables["deal_stages"])
    frame = deal_training_frame(tables, small.as_of)
    files = deal_training_frame(small.tables, small.as_of)
    assert frame["stage"].notna().sum() == files["stage"].notna().sum() > 0


def test_a_deal_that_moves_gets_its_history_extended_or_replaced_never_doubled(hub, store) -> None:
    emulator, _ = hub
    sync(emulator, store)
    deal = next(d for d in emulator.state.objects["deals"] if len(history(store, d)) == 2)
    before, total = history(store, deal), len(store.read("deal_stages"))
    (first, _), (second, _) = before  # e.g. a first meeting, then lost
    ahead = next(s for s, *_ in DEFAULT_DEAL_STAGES if s not in (first, second))  # reopened
    emulator.state.touch("deals", [deal], dealstage=ahead)
    sync(emulator, store)
    moved = history(store, deal)
    assert moved[:-1] == before and moved[-1][0] == ahead
    # back to the first stage: its row now holds the latest entry, as HubSpot keeps it
    emulator.state.touch("deals", [deal], dealstage=first)
    sync(emulator, store)
    again = history(store, deal)
    assert [s for s, _ in again] == [second, ahead, first]
    assert again[-1][1] > moved[-1][1]
    assert len(store.read("deal_stages")) == total + 1  # one stage more, nothing twice


def test_a_deleted_or_merged_deal_takes_its_stage_history_with_it(hub, store) -> None:
    emulator, _ = hub
    sync(emulator, store)
    deleted, merged, kept = list(emulator.state.objects["deals"])[:3]
    assert history(store, deleted) and history(store, merged)
    emulator.state.archive("deals", [deleted])
    emulator.state.merge("deals", kept, merged)
    result = sync(emulator, store)
    assert not history(store, deleted) and not history(store, merged)
    assert history(store, kept)
    deals = store.read("deals").set_index("deal_id")
    assert deals.loc[[deleted, merged], "archived_at"].notna().all()  # gone from the analytics
    assert result.archived == {"deals": 2}


def test_many_stages_are_read_by_batch_rather_than_a_refused_list_url(store) -> None:
    """Each stage name rides in the list's URL; a portal with hundreds of stages would
    pass HubSpot's URL limit (414), so their times then come by batch read, per page."""
    with HubSpotEmulator(clock=FakeClock()) as emulator:
        stages = [(f"Step {i}", 0.5, False) for i in range(250)]
        made = emulator.state.add_pipeline("deals", "Long", stages)
        first, second = made["stages"][0]["id"], made["stages"][1]["id"]
        ids = []
        for i in range(150):
            deal = emulator.state.add("deals", {"dealname": f"D{i}", "dealstage": first,
                                                "pipeline": made["id"]})  # fmt: skip
            emulator.state.touch("deals", [deal.id], dealstage=second)
            ids.append(deal.id)
        sync(emulator, store)
        assert emulator.statuses[414] == 0
        assert emulator.requests["POST batch"] == 2  # one per list page of 100
        assert [s for s, _ in history(store, ids[-1])] == [first, second]


def test_stage_properties_prefer_v2_then_legacy_and_match_ids_with_dashes() -> None:
    uuid = "baedc188-ba76-4a41-8723-5bb99fe7c5bf"
    names = ["hs_v2_date_entered_current_stage", "hs_v2_date_entered_123",
             "hs_v2_date_entered_" + uuid.replace("-", "_"), "hs_date_entered_123", "amount"]  # fmt: skip
    assert stage_properties(names, ["123", uuid]) == {
        "hs_v2_date_entered_123": "123",
        "hs_v2_date_entered_" + uuid.replace("-", "_"): uuid,
    }
    legacy = ["hs_date_entered_closedwon", "hs_v2_date_entered_current_stage"]
    assert stage_properties(legacy, []) == {"hs_date_entered_closedwon": "closedwon"}
    assert stage_properties(["amount"], ["123"]) == {}


def _pipelines() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "stage": ["1234567", "1234570", "closedish"],
            "is_closed": [False, True, None],
            "pipeline": ["9", "9", "9"],
        }
    )


def test_closed_stages_follow_the_pipeline_and_the_id_only_where_it_says_nothing() -> None:
    stages = pd.Series(["1234567", "1234570", "closedlost", "closedish", "contractsent"])
    assert closed_stages(stages).tolist() == [False, False, True, True, False]
    assert closed_stages(stages, _pipelines()).tolist() == [False, True, True, True, False]


def _tables() -> dict[str, pd.DataFrame]:
    """One open deal (its closed flag lags, as a reopening leaves it) whose history ends in
    a custom pipeline's closed stage, with a numeric id."""
    day = pd.Timestamp("2026-01-01", tz="UTC")
    empty = {t: pd.DataFrame(columns=list(spec.names)) for t, spec in TABLES.items()}
    contact = {c: [None] for c in TABLES["contacts"].names}
    contact.update(contact_id=["c1"], lead_source=["referral"], created_at=[day], country=["NZ"])
    return empty | {
        "deals": pd.DataFrame({
            "deal_id": ["d1"], "contact_id": ["c1"], "amount": [100.0], "pipeline": ["9"],
            "stage": ["1234570"], "is_closed": [False], "is_won": [False],
            "created_at": [day], "closed_at": [pd.NaT], "close_date": [pd.NaT],
            "owner_id": ["o1"], "name": ["D"],
        }),
        "deal_stages": pd.DataFrame({
            "deal_id": ["d1", "d1", "d2"], "stage": ["1234567", "1234570", "1234567"],
            "entered_at": [day, day + pd.Timedelta(days=5), day],
        }),
        "deal_pipeline_stages": _pipelines(),
        "contacts": pd.DataFrame(contact),
    }  # fmt: skip


def test_a_custom_closed_stage_is_never_taken_for_an_open_one() -> None:
    tables = _tables()
    at = pd.Timestamp("2026-01-10", tz="UTC")
    deal = deal_snapshot(tables, pd.DataFrame({"deal_id": ["d1"], "snapshot_at": [at]}))
    assert deal.loc[0, "stage"] == "1234567" and deal.loc[0, "days_in_stage"] == 9
    lead = contact_snapshot(tables, pd.DataFrame({"contact_id": ["c1"], "at": [at]}))
    assert lead.loc[0, DEAL_STAGE] is None  # a closed deal is no open deal, at any stage


def test_a_contact_merged_away_is_gone_not_scored_beside_the_one_it_became(hub, store) -> None:
    """HubSpot lists a merged-away contact nowhere, not even as archived; only the kept
    contact names it. It stayed in the store as a live contact: scored, shown in Scores
    and written back, a second row for one person."""
    emulator, _ = hub
    sync(emulator, store)
    kept, merged = list(emulator.state.objects["contacts"])[:2]
    emulator.state.merge("contacts", kept, merged)
    result = sync(emulator, store)
    contacts = store.read("contacts").set_index("contact_id")
    assert pd.notna(contacts.loc[merged, "archived_at"])
    assert pd.isna(contacts.loc[kept, "archived_at"])
    assert result.archived == {"contacts": 1}
    assert merged not in set(live(store)["contacts"]["contact_id"])


@pytest.mark.parametrize("new_id", [None, "990001"])
def test_a_merged_contacts_deals_and_orders_follow_it_to_the_contact_it_became(
    hub, store, new_id
) -> None:
    """HubSpot moves a merged contact's deals and orders to the kept contact without
    touching them (an association is no property), so no incremental pull re-reads them:
    they kept naming the contact marked gone, and the kept one lost its won deal and its
    orders (lead label, churn risk and value) for good. Since 2024 a merge makes a new
    contact that both old ids were merged into."""
    emulator, _ = hub
    sync(emulator, store)
    deals, orders = store.read("deals"), store.read("orders")
    both = sorted(set(deals["contact_id"].dropna()) & set(orders["contact_id"].dropna()))
    merged, kept = both[0], both[1]
    mine = set(deals.loc[deals["contact_id"] == merged, "deal_id"])
    theirs = set(orders.loc[orders["contact_id"] == merged, "order_id"])
    emulator.state.merge("contacts", kept, merged, new_id=new_id)
    result = sync(emulator, store)
    became = new_id or kept
    tables = live(store)
    assert became in set(tables["contacts"]["contact_id"]) and merged not in set(
        tables["contacts"]["contact_id"]
    )
    deals, orders = tables["deals"].set_index("deal_id"), tables["orders"].set_index("order_id")
    assert set(deals.loc[sorted(mine), "contact_id"]) == {became}
    assert set(orders.loc[sorted(theirs), "contact_id"]) == {became}
    links = tables["associations"]
    assert not (links["to_id"] == merged).any() and not (links["from_id"] == merged).any()
    named = links[(links["to_type"] == "contact") & (links["to_id"] == became)]
    assert mine <= set(named["from_id"]) and theirs <= set(named["from_id"])
    assert result.archived["contacts"] == (2 if new_id else 1)


def test_merges_in_a_chain_between_two_syncs_all_land_on_the_last_contact(hub, store) -> None:
    """A merged into B, then B into C, no sync between: C names both (its merged ids take
    B's own), so A's orders follow to C and A is gone (review; HubSpot's "Merged IDs"
    lists every record merged in, as the emulator now does)."""
    emulator, _ = hub
    sync(emulator, store)
    orders = store.read("orders")
    a, b, c = orders["contact_id"].dropna().value_counts().index[:3].tolist()
    mine = sorted(orders.loc[orders["contact_id"] == a, "order_id"])
    emulator.state.merge("contacts", b, a)
    emulator.state.merge("contacts", c, b)
    sync(emulator, store)
    tables = live(store)
    assert set(tables["orders"].set_index("order_id").loc[mine, "contact_id"]) == {c}
    assert not {a, b} & set(tables["contacts"]["contact_id"])


def test_a_store_synced_before_the_stage_times_lists_its_deals_whole_once(
    hub, store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store made before the stage times were read (or on a run whose pipelines read
    failed) has each deal's current stage only, and its cursor sends the next pull to a
    search of changed deals: the history stayed partial for good, yet three deals with
    two rows switched the lead model's stage feature on (review)."""
    import smbml_connect.connectors.hubspot.source as source

    emulator, _ = hub
    with monkeypatch.context() as before:
        before.setattr(source, "stage_properties", lambda kinds, ids: {})
        sync(emulator, store)
    assert not has_stage_history(store.read("deal_stages"))
    emulator.state.touch("deals", list(emulator.state.objects["deals"])[:3], amount="5")
    sync(emulator, store)
    tables = live(store)
    assert has_stage_history(tables["deal_stages"])
    counts = tables["deal_stages"]["deal_id"].value_counts()
    assert (counts >= 2).mean() > 0.9
    cursor, _ = split_listed(store.get_cursor(HubSpotSource.name, "deals"))
    assert str(cursor).endswith(";stages")


def test_a_few_deals_with_two_stages_are_not_a_history() -> None:
    rows = pd.DataFrame({"deal_id": ["a", "a", "b", "c", "d"], "stage": ["x", "y", "x", "x", "x"],
                         "entered_at": pd.Timestamp("2026-01-01", tz="UTC")})  # fmt: skip
    assert not has_stage_history(rows)
    assert has_stage_history(rows[rows["deal_id"].isin(["a", "b"])])


def test_a_stage_where_closed_deals_sit_and_no_open_one_is_closed_when_pipelines_are_unknown() -> (
    None
):
    """The pipelines read refused (403): a custom pipeline's won stage "1234568" read as
    open, so every won deal's earlier snapshots carried its winning stage (review)."""
    deals = pd.DataFrame({"stage": ["1234568", "1234568", "1234569", "1234567", "1234567"],
                          "is_closed": [True, True, True, False, True]})  # fmt: skip
    stages = pd.Series(["1234567", "1234568", "1234569", "closedwon"])
    assert closed_stages(stages, None, deals).tolist() == [False, True, True, True]
    assert closed_stages(stages).tolist() == [False, False, False, True]
    # A CRM keeping a won deal at its last open stage (Pipedrive: "Negotiation", status
    # won): other deals moved on from that stage, so it is no closing stage.
    day = pd.Timestamp("2026-01-01", tz="UTC")
    history = pd.DataFrame({"deal_id": ["x", "x", "y"], "stage": ["1234568", "1234567", "1234569"],
                            "entered_at": [day, day + pd.Timedelta(days=3), day]})  # fmt: skip
    assert closed_stages(stages, None, deals, history).tolist() == [False, False, True, True]


def _stepped_back_tables() -> tuple[dict[str, pd.DataFrame], pd.Timestamp]:
    """`_tables`' deal going A (day 0), C (8), back to B (25), then lost (30): HubSpot
    keeps B's latest entry only, so the history reads A, C, B."""
    tables = _tables()
    day = pd.Timestamp("2026-01-01", tz="UTC")
    tables["deal_pipeline_stages"] = pd.DataFrame({
        "stage": ["A", "B", "C", "lost"], "is_closed": [False, False, False, True],
        "pipeline": ["9"] * 4, "display_order": [0, 1, 2, 3],
    })  # fmt: skip
    tables["deals"] = tables["deals"].assign(
        stage="lost", is_closed=True, closed_at=day + pd.Timedelta(days=30)
    )
    tables["deal_stages"] = pd.DataFrame({
        "deal_id": ["d1"] * 4, "stage": ["A", "C", "B", "lost"],
        "entered_at": [day, day + pd.Timedelta(days=8), day + pd.Timedelta(days=25),
                       day + pd.Timedelta(days=30)],
    })  # fmt: skip
    return tables, day


def test_a_deals_snapshots_before_it_stepped_back_are_not_learnt_from() -> None:
    """HubSpot keeps each stage's latest entry: a deal that went A, B, C, back to B, then
    lost shows B entered after C, and at day 7 (really at B) the history says A. Those
    snapshots depend on what came later, often on the way to losing (review)."""
    tables, day = _stepped_back_tables()
    frame = deal_training_frame(tables, day + pd.Timedelta(days=60))
    assert (pd.to_datetime(frame["snapshot_at"], utc=True) >= day + pd.Timedelta(days=25)).all()
    assert len(frame) == 0 or frame["stage"].eq("B").all()


def test_a_stage_time_gone_from_a_deal_takes_its_row_with_it(hub, store) -> None:
    """A deal read again replaces its stored history (`Page.replace`): a stage whose time
    HubSpot no longer gives (its stage deleted from the pipeline, a re-import) leaves."""
    emulator, _ = hub
    sync(emulator, store)
    deal = next(d for d in emulator.state.objects["deals"] if len(history(store, d)) >= 2)
    first = history(store, deal)[0][0]
    emulator.state.objects["deals"][deal].properties[f"hs_v2_date_entered_{first}"] = None
    emulator.state.touch("deals", [deal], amount="7")  # HubSpot answers null; the deal changed
    sync(emulator, store)
    assert first not in [s for s, _ in history(store, deal)]


def test_a_leads_snapshots_while_its_deal_had_not_yet_stepped_back_are_not_learnt_from() -> None:
    """The lead model's stage feature reads the same rewritten history as the deal model:
    a contact whose deal went A, C, back to B, then was lost showed, at day 7, a stage it
    had already left (review: the deal model's snapshots were filtered, the lead's not)."""
    tables, day = _stepped_back_tables()
    frame = lead_training_frame(tables, day + pd.Timedelta(days=800))
    seen = pd.to_datetime(frame.frame["snapshot_at"], utc=True)
    assert len(seen) and not ((seen < day + pd.Timedelta(days=25)) & (seen >= day)).any()
    assert any("went back to an earlier stage" in n for n in frame.notes)
