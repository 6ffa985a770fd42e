"""A portal's own deal pipelines: stages reach people by the labels the team chose.

HubSpot portals edit their pipelines: stage ids become numbers ("1234567") and labels are
the team's ("Proposal reviewed"). The connector reads GET /crm/v3/pipelines/deals into the
store, and every output built from the store says the label, not the id.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from smbml_connect.analytics.leads.deals import DEAL_PHRASES, DealWinModel
from smbml_connect.analytics.shared.tabular import OTHER, ColumnPlan
from smbml_connect.connectors.hubspot.http import HubSpotApi, Limits
from smbml_connect.connectors.hubspot.source import HubSpotSource
from smbml_connect.credentials import Secret
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.sample import SampleBusiness, SampleConfig, generate
from smbml_connect.steps import steps_by_name
from smbml_connect.store import Store
from smbml_connect.testing.clock import FakeClock
from smbml_connect.testing.hubspot_emulator import TEST_TOKEN, Fault, HubSpotEmulator
from smbml_connect.testing.hubspot_sample import IdMap, load_sample
from smbml_connect.value_words import category_words, portal_words, stage_label

RENEWALS = [
    ("Proposal reviewed", 0.3, False),
    ("Terms agreed", 0.8, False),
    ("Renewed", 1.0, True),
    ("Not renewed", 0.0, True),
]


@pytest.fixture(scope="module")
def small() -> SampleBusiness:
    return generate(SampleConfig(contacts=300, seed=3))


@pytest.fixture
def portal(small: SampleBusiness) -> Iterator[tuple[HubSpotEmulator, IdMap, dict[str, Any]]]:
    """The sample in HubSpot, with a second pipeline the team made, and open deals in its
    first stage and in the default pipeline's "contractsent"."""
    with HubSpotEmulator(clock=FakeClock()) as emulator:
        ids = load_sample(emulator.state, small)
        state = emulator.state
        renewals = state.add_pipeline("deals", "Renewals", RENEWALS)
        now = pd.Timestamp.now(tz="UTC")
        contacts = list(ids["contacts"].values())
        moved, default = [], []
        for i in range(12):
            custom = i % 2 == 0
            deal = state.add(
                "deals",
                {
                    "dealname": f"Open {i}",
                    "amount": 1000 + 100 * i,
                    "pipeline": renewals["id"] if custom else "default",
                    "dealstage": renewals["stages"][0]["id"] if custom else "contractsent",
                    "closedate": (now + pd.Timedelta(days=30)).isoformat(),
                },
                created_ms=int((now - pd.Timedelta(days=10 + i)).timestamp() * 1000),
            )
            state.associate("deals", deal.id, "contacts", contacts[i])
            (moved if custom else default).append(deal.id)
        yield emulator, ids, {"pipeline": renewals, "moved": moved, "default": default}


def make_api(hub: HubSpotEmulator, **changes: Any) -> HubSpotApi:
    limits = dataclasses.replace(Limits(read_timeout=2.0), **changes)
    hub.clock.advance(limits.window_seconds)
    return HubSpotApi(
        Secret(TEST_TOKEN),
        host=hub.url,
        limits=limits,
        client_side_validation=True,
        clock=hub.clock,
    )


def run(hub: HubSpotEmulator, store: Store, **changes: Any) -> Any:
    source = HubSpotSource(make_api(hub, **changes), page_rows=200)
    return run_pipeline(source, store, RunOptions(steps=steps_by_name(["deal_win"])))


def test_a_custom_stage_shows_by_its_label_and_pipeline_in_the_deal_win_tab(portal, store) -> None:
    emulator, _, made = portal
    result = run(emulator, store)
    assert result.status == "ok", result.errors
    tab = result.steps["deal_win"].sheets["Deal win chances"].set_index("deal_id")
    moved = tab.loc[tab.index.intersection(made["moved"]), "stage"]
    assert len(moved) == len(made["moved"])
    stage_id = made["pipeline"]["stages"][0]["id"]
    assert not moved.astype(str).str.contains(stage_id).any()
    # two pipelines in the portal: the stage says which one it is in, by label
    assert set(moved) == {"Proposal reviewed (Renewals)"}
    assert set(tab.loc[made["default"], "stage"]) == {"Contract Sent (Sales Pipeline)"}


EVERY_READ = {f"crm.{k}.{o}.read" for k in ("objects", "schemas")
              for o in ("contacts", "deals", "line_items", "products", "orders")}  # fmt: skip


def test_labels_are_kept_in_the_store_by_stage_with_their_pipeline_and_order(portal, store) -> None:
    emulator, _, made = portal
    result = run(emulator, store)
    assert result.status == "ok", result.errors
    kept = store.read("deal_pipeline_stages").set_index("stage")
    assert len(kept) == 7 + len(RENEWALS)
    first = kept.loc[made["pipeline"]["stages"][0]["id"]]
    assert (first["stage_label"], first["pipeline_label"]) == ("Proposal reviewed", "Renewals")
    assert first["pipeline"] == made["pipeline"]["id"] and first["display_order"] == 0
    assert not first["is_closed"] and first["probability"] == pytest.approx(0.3)
    won = kept.loc["closedwon"]
    assert won["stage_label"] == "Closed Won" and won["is_closed"] and won["probability"] == 1
    assert (
        kept.loc["contractsent", "pipeline_order"]
        == 0
        == kept.loc["contractsent", "display_order"] - 4
    )


def test_a_stage_renamed_in_hubspot_shows_by_its_new_label_next_run(portal, store) -> None:
    emulator, _, made = portal
    run(emulator, store)
    emulator.state.pipelines["deals"][0]["stages"][4]["label"] = "Quote sent"  # contractsent
    result = run(emulator, store)
    tab = result.steps["deal_win"].sheets["Deal win chances"].set_index("deal_id")
    assert set(tab.loc[made["default"], "stage"]) == {"Quote sent (Sales Pipeline)"}


def test_a_pipeline_deleted_in_hubspot_is_gone_from_the_store_next_run(portal, store) -> None:
    """Pipelines were upserted: a deleted one stayed, and with it every stage kept naming
    its pipeline as if there were still two (review)."""
    emulator, _, made = portal
    run(emulator, store)
    pipelines = emulator.state.pipelines["deals"]
    pipelines[:] = [p for p in pipelines if p["id"] != made["pipeline"]["id"]]
    result = run(emulator, store)
    assert set(store.read("deal_pipeline_stages")["pipeline_label"]) == {"Sales Pipeline"}
    tab = result.steps["deal_win"].sheets["Deal win chances"].set_index("deal_id")
    assert set(tab.loc[made["default"], "stage"]) == {"Contract Sent"}  # one pipeline: no name


@pytest.mark.parametrize("failure", ["403", "503"])
def test_pipelines_that_cannot_be_read_leave_the_sync_running_with_one_notice(
    portal, store, caplog, failure
) -> None:
    emulator, _, made = portal
    if failure == "403":  # a portal whose pipelines need a scope this token was not given
        emulator.scopes = set(EVERY_READ)
        emulator.pipeline_scopes["deals"] = ("crm.pipelines.deals.read",)
    else:  # HubSpot failing on that one endpoint past the client's retries
        emulator.inject(Fault("5xx", count=10**6, status=503, path="/crm/v3/pipelines/"))
    result = run(emulator, store)
    assert result.status == "ok", result.errors
    assert result.loaded["deals"] > 0 and store.read("deal_pipeline_stages").empty
    (notice,) = [n for n in result.notices if n.check == "pipelines_not_read"]
    text = notice.message
    assert "GET /crm/v3/pipelines/deals" in text and failure in text, text
    if failure == "403":
        assert "crm.pipelines.deals.read" in text and "Private Apps" in text
    else:
        assert "kept failing" in text and "saved page" not in text
    assert "Unexpected" not in text and TEST_TOKEN not in text
    assert all(TEST_TOKEN not in r.getMessage() for r in caplog.records)
    # the defaults stand in: HubSpot's default stage by its label, a custom one by its id
    tab = result.steps["deal_win"].sheets["Deal win chances"].set_index("deal_id")
    assert set(tab.loc[made["default"], "stage"]) == {"Contract sent"}
    assert set(tab.loc[made["moved"], "stage"]) == {made["pipeline"]["stages"][0]["id"]}


def _table(*rows: tuple[str, str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["stage", "stage_label", "pipeline", "pipeline_label"])


def test_stage_words_come_from_the_portal_then_the_default_labels_then_the_id() -> None:
    one = _table(
        ("1234567", "Proposal reviewed", "default", "Sales Pipeline"),
        ("contractsent", "Quote sent", "default", "Sales Pipeline"),  # renamed in HubSpot
        ("1234568", None, "default", "Sales Pipeline"),  # no label: the id, in words
    )
    assert stage_label("1234567") == "1234567"  # outside a run: no portal
    with portal_words(one):
        assert stage_label("1234567") == "Proposal reviewed"  # one pipeline: no pipeline named
        assert stage_label("contractsent") == "Quote sent"
        assert stage_label("1234568") == "1234568"
        assert stage_label("closedwon") == "Closed won"  # not in the portal: the default
        assert stage_label("Signed off") == "Signed off"  # a label from an export stays
        assert category_words("stage", "1234567") == "Proposal reviewed"
        assert category_words("pipeline", "default") == "Sales"  # "In the Sales pipeline"
        assert category_words("stage", "closedwon") is None
        assert category_words("lead_source", "1234567") is None
    two = _table(
        ("1", "Closed won", "default", "Sales Pipeline"),
        ("2", "Closed won", "77", "Renewals"),
    )
    with portal_words(two):
        assert (stage_label("1"), stage_label("2")) == (
            "Closed won (Sales Pipeline)",
            "Closed won (Renewals)",
        )
    assert stage_label("2") == "2" and category_words("stage", "2") is None
    # An export's Pipeline column holds the label: "In the Sales Pipeline pipeline" read twice
    assert category_words("pipeline", "Sales Pipeline") == "Sales"
    assert category_words("pipeline", "Renewals") is None  # as it is
    with portal_words(_table()):
        assert stage_label("contractsent") == "Contract sent"


def test_the_deal_models_reasons_name_a_portal_stage_by_its_label() -> None:
    plan = ColumnPlan("stage", "category", ["1234567", "contractsent", OTHER],
                      phrase=DEAL_PHRASES["stage"])  # fmt: skip
    pipeline = ColumnPlan("pipeline", "category", ["77", OTHER], phrase=DEAL_PHRASES["pipeline"])
    assert plan.describe(0.0) == "At stage: 1234567"  # no portal: as before
    assert plan.describe(1.0) == "Contract sent"
    with portal_words(_table(("1234567", "Proposal reviewed", "77", "Renewals pipeline"))):
        assert plan.describe(0.0) == "At stage: Proposal reviewed"
        assert plan.describe(1.0) == "Contract sent"  # not this portal's: the default words
        assert pipeline.describe(0.0) == "In the Renewals pipeline"


STAGES = [  # the default pipeline's, in order, as a portal's own pipeline copies them
    ("appointmentscheduled", "Appointment Scheduled", 0.2, False),
    ("qualifiedtobuy", "Qualified To Buy", 0.4, False),
    ("presentationscheduled", "Presentation Scheduled", 0.6, False),
    ("decisionmakerboughtin", "Decision Maker Bought-In", 0.8, False),
    ("contractsent", "Contract Sent", 0.9, False),
    ("closedwon", "Closed Won", 1.0, True),
    ("closedlost", "Closed Lost", 0.0, True),
]


def _numbered(small: SampleBusiness, order: list[int]) -> dict[str, pd.DataFrame]:
    """The sample's deals in two pipelines a portal made, "Wholesale" and "Retail", whose
    stages HubSpot numbered in ``order`` (stages added or reordered later)."""
    ids = {old: str(1234567 + n) for (old, *_), n in zip(STAGES, order, strict=True)}
    tables = dict(small.tables)
    closed, history = tables["deals"], tables["deal_stages"]
    opened, steps = [], []
    for i in range(15):  # open deals at each of the first five stages, some without owner
        created = small.as_of - pd.Timedelta(days=20 + 3 * i)
        opened.append(closed.iloc[i].to_dict() | {
            "deal_id": f"O{i:02d}", "name": f"Open {i}", "amount": 800.0 + 350 * i,
            "stage": STAGES[i % 5][0], "is_closed": False, "is_won": False, "closed_at": pd.NaT,
            "created_at": created, "close_date": small.as_of + pd.Timedelta(days=10 + i),
            "owner_id": None if i % 4 == 0 else closed["owner_id"].iloc[i],
        })  # fmt: skip
        steps += [{"deal_id": f"O{i:02d}", "stage": STAGES[j][0], "source": "sample",
                   "entered_at": created + pd.Timedelta(days=2 * j)} for j in range(i % 5 + 1)]  # fmt: skip
    deals = pd.concat([closed, pd.DataFrame(opened)], ignore_index=True)
    deals["pipeline"] = ["88001" if i % 3 else "88002" for i in range(len(deals))]
    deals["stage"] = deals["stage"].map(ids)
    tables["deals"] = deals
    history = pd.concat([history, pd.DataFrame(steps)], ignore_index=True)
    tables["deal_stages"] = history.assign(stage=history["stage"].map(ids))
    tables["deal_pipeline_stages"] = pd.DataFrame(
        [
            (ids[old], label, "88001", "Wholesale", 0, n, closed, probability)
            for n, (old, label, probability, closed) in enumerate(STAGES)
        ],
        columns=["stage", "stage_label", "pipeline", "pipeline_label", "pipeline_order",
                 "display_order", "is_closed", "probability"],
    )  # fmt: skip
    return tables


def test_numbered_stages_and_pipelines_are_categories_and_read_as_their_labels(small) -> None:
    """A pipeline the portal made numbers its stages: the deal model read "1234571" as a
    quantity ("At stage: 1,234,571 raises the chance") and a deal's chance moved with the
    order HubSpot numbered the stages in."""
    chances, said = [], []
    for order in ([0, 1, 2, 3, 4, 5, 6], [4, 0, 6, 2, 5, 1, 3]):
        tables = _numbered(small, order)
        with portal_words(tables["deal_pipeline_stages"]):
            model = DealWinModel().fit(tables, small.as_of)
            scored = model.predict(tables, small.as_of)
            kinds = {p.name: p.kind for p in model.scorer_.encoder_.plans_}
            assert kinds["stage"] == "category" and kinds["pipeline"] == "category"
            said += [r for reasons in scored["reasons"] for r in reasons]
        chances.append(scored.set_index("deal_id")["probability"])
    pd.testing.assert_series_equal(chances[0], chances[1])
    stages = [r for r in said if r.startswith("At stage")]
    assert stages and not [r for r in stages if re.search(r"\d", r)]
    assert {r[10:].split(" (")[0] for r in stages} <= {label for _, label, *_ in STAGES}
