"""A store holds one HubSpot account's records. Before, a token for another account (the
real portal after a trial one, a client's portal after an agency's own) was read into the
same store: the second account's records older than the first one's cursors never came,
the first account's stayed and were scored, and scores went out by the first account's
ids, which in the second are other people or nobody."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hubspot_runs import hubspot_run

from smbml_connect.cli import cli
from smbml_connect.connectors.hubspot.http import HubSpotApi, Limits
from smbml_connect.connectors.hubspot.source import HubSpotSource
from smbml_connect.credentials import Secret
from smbml_connect.errors import TokenRejectedError
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.ports import SourceAccount
from smbml_connect.source_account import (
    ACCOUNT_ASSUMED,
    ACCOUNT_SWITCHED,
    ACCOUNT_UNKNOWN,
    AccountNotCheckedError,
    AccountRefusedError,
    AnotherAccountError,
)
from smbml_connect.steps import steps_by_name
from smbml_connect.store import Store
from smbml_connect.testing.clock import FakeClock
from smbml_connect.testing.faults import Fault
from smbml_connect.testing.hubspot_emulator import TEST_TOKEN, HubSpotEmulator
from smbml_connect.testing.hubspot_sample import load_sample

START = datetime.now(tz=UTC)
RFM = steps_by_name(["rfm_segments"])
WIDE = steps_by_name(["rfm_segments", "customer_clusters", "sales_forecast", "price_suggestions"])
OTHER_PORTAL = 99_112_358


def sync(
    hub: HubSpotEmulator,
    store: Store,
    at: datetime,
    switch: bool = False,
    push: bool = True,
    steps: Any = RFM,
) -> Any:
    options = RunOptions(steps=steps, switch_account=switch)
    return hubspot_run(hub, store, at, options, push=push, attempts=2)


def live(hub: HubSpotEmulator, object_type: str) -> set[str]:
    return {r.id for r in hub.state.objects[object_type].values() if r.archived_ms is None}


@pytest.fixture
def other(small_business: Any) -> Any:
    """A second account: the same kind of business, its own portal, ids from the same
    counter (as two real accounts' ids may meet), some of its people not in the first."""
    with HubSpotEmulator(clock=FakeClock()) as emulator:
        emulator.state.portal_id = OTHER_PORTAL
        emulator.state.add("contacts", {"email": "only@second.example", "firstname": "Only"})
        load_sample(emulator.state, small_business)
        yield emulator


def test_the_emulator_says_which_account_the_token_reads(sample_hub: HubSpotEmulator) -> None:
    api = HubSpotApi(Secret(TEST_TOKEN), host=sample_hub.url, limits=Limits(read_timeout=2.0))
    body = api.json("account", api.account_details)
    assert body["portalId"] == sample_hub.state.portal_id
    assert {"timeZone", "companyCurrency", "utcOffset", "uiDomain"} <= set(body)
    sample_hub.account_info_refused = True  # a token without the scope for the details
    source = HubSpotSource(api)
    assert source.account() == SourceAccount(
        str(sample_hub.state.portal_id), f"HubSpot account {sample_hub.state.portal_id}", "USD"
    )  # the older /integrations/v1/me says it
    sample_hub.account_me_refused = True
    assert source.account() is None and source.account_refused
    assert "403" in source.account_unknown and "oauth" in source.account_unknown


def test_a_token_for_another_account_stops_before_anything_is_read_or_written(
    sample_hub: HubSpotEmulator, other: HubSpotEmulator, store: Store
) -> None:
    first = sync(sample_hub, store, START)
    assert first.status == "ok"
    assert store.account_of("hubspot") == (
        str(sample_hub.state.portal_id),
        f"HubSpot account {sample_hub.state.portal_id}",
    )
    contacts = store.read("contacts")
    scores = store.latest_outputs("scores")
    other.reset_counts()
    with pytest.raises(AnotherAccountError) as raised:
        sync(other, store, START + timedelta(hours=1))
    message = str(raised.value)
    assert f"HubSpot account {OTHER_PORTAL}" in message
    assert f"HubSpot account {sample_hub.state.portal_id}" in message
    assert "--switch-account" in message and "--store" in message
    assert dict(other.requests) == {"GET account_details": 1}  # nothing read, nothing written
    assert not any(
        key.startswith("smbml_") for r in other.state.objects["contacts"].values()
        for key in r.properties
    )  # fmt: skip
    assert store.read("contacts").equals(contacts)
    assert store.latest_outputs("scores").equals(scores)
    assert store.runs(1)["status"].iloc[0] == "failed"


def test_switching_account_replaces_the_first_accounts_records_and_reads_the_second_whole(
    sample_hub: HubSpotEmulator, other: HubSpotEmulator, store: Store
) -> None:
    sync(sample_hub, store, START)
    before = store.read("contacts").set_index("contact_id")["email"]
    assert store.get_cursor("hubspot", "contacts")
    result = sync(other, store, START + timedelta(hours=1), switch=True)
    assert result.status == "ok", result.errors
    (said,) = [n for n in result.notices if n.check == ACCOUNT_SWITCHED]
    assert f"HubSpot account {OTHER_PORTAL} is read whole" in said.message
    assert said.count > 0
    contacts = store.read("contacts")
    ids = live(other, "contacts")
    assert set(contacts["contact_id"]) == ids  # every one of them, the older ones too
    only = contacts.loc[contacts["email"] == "only@second.example", "contact_id"].item()
    assert before[only] != "only@second.example"  # one id, two people: the second's now
    assert set(store.read("deals")["deal_id"]) == live(other, "deals")
    assert set(store.read("orders")["order_id"]) == live(other, "orders")
    assert set(store.read("products")["product_id"]) == live(other, "products")
    scored = set(store.latest_outputs("scores")["entity_id"])
    assert scored and scored <= ids
    written = {r.id for r in other.state.objects["contacts"].values()
               if "smbml_segment" in r.properties}  # fmt: skip
    assert written == scored  # every score went to the second account, by its own ids
    assert store.account_of("hubspot")[0] == str(OTHER_PORTAL)
    again = sync(other, store, START + timedelta(hours=2))  # and it is the store's now
    assert again.status == "ok" and not [n for n in again.notices if n.check.startswith("acc")]


def test_switching_removes_everything_computed_from_the_first_accounts_records(
    sample_hub: HubSpotEmulator, other: HubSpotEmulator, store: Store
) -> None:
    sync(sample_hub, store, START, steps=WIDE)
    with sqlite3.connect(store.path) as conn:
        before = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                  for t in ("scores", "forecasts", "price_suggestions", "models")}  # fmt: skip
    assert all(before.values()), before
    other.inject(Fault("5xx", count=10**6, status=503, path="/crm/v3/objects/line_items"))
    result = sync(other, store, START + timedelta(hours=1), switch=True, steps=WIDE)
    assert "price_suggestions" in result.held_back  # the new account's lines did not load
    with sqlite3.connect(store.path) as conn:
        runs = {t: {r[0] for r in conn.execute(f"SELECT DISTINCT run_id FROM {t}")}
                for t in ("scores", "forecasts", "price_suggestions")}  # fmt: skip
        pushed = conn.execute("SELECT MIN(pushed_at) FROM pushed_values").fetchone()[0]
        switched = conn.execute(
            "SELECT started_at FROM runs WHERE run_id = ?", (result.run_id,)
        ).fetchone()[0]
        models = {r[0] for r in conn.execute("SELECT name FROM models")}
        old_rejects = conn.execute("SELECT COUNT(*) FROM rejects WHERE run_id = 1").fetchone()
    assert runs["scores"] == {result.run_id} and not runs["price_suggestions"]
    assert runs["forecasts"] <= {result.run_id}  # the first account's forecast is gone
    assert pushed is None or pushed >= switched  # nor a value pushed for the first account
    assert "price_suggestions" not in models  # a model of the old business is not kept
    assert old_rejects == (0,)
    assert store.latest_run_with("scores") == result.run_id  # readers of the scores reload
    suggested = [r.properties.get("smbml_suggested_price") for r in other.state.objects["products"].values()]  # fmt: skip
    assert not any(suggested)  # nothing of the first account's prices went to the second


def test_a_store_from_before_takes_the_account_it_reads_and_says_so_and_can_switch(
    sample_hub: HubSpotEmulator, other: HubSpotEmulator, store: Store
) -> None:
    sync(sample_hub, store, START)
    with sqlite3.connect(store.path) as conn:  # as the release before this one left it
        conn.execute("DROP TABLE source_accounts")
        conn.execute("PRAGMA user_version = 8")
    with Store(store.path) as upgraded:
        result = sync(other, upgraded, START + timedelta(hours=1), push=False)
        (said,) = [n for n in result.notices if n.check == ACCOUNT_ASSUMED]
        assert f"taken to be HubSpot account {OTHER_PORTAL}'s" in said.message
        assert "--switch-account" in said.message
        switched = sync(other, upgraded, START + timedelta(hours=2), switch=True)
        assert switched.status == "ok"
        assert set(upgraded.read("contacts")["contact_id"]) == live(other, "contacts")
        emails = set(upgraded.read("contacts")["email"].dropna())
        assert emails == {r.properties.get("email") for r in other.state.objects["contacts"].values()} - {None}  # fmt: skip


def test_a_run_that_cannot_learn_the_account_of_a_store_with_one_stops(
    sample_hub: HubSpotEmulator, other: HubSpotEmulator, store: Store
) -> None:
    sync(sample_hub, store, START)
    other.inject(Fault("5xx", count=10**6, status=503, path="/account-info/v3/details"))
    other.reset_counts()
    with pytest.raises(AccountNotCheckedError) as raised:
        sync(other, store, START + timedelta(hours=1))
    assert "did not answer which account" in str(raised.value)
    assert f"records of HubSpot account {sample_hub.state.portal_id}" in str(raised.value)
    assert "Retry" not in str(raised.value) and "page" not in str(raised.value)
    assert set(other.requests) == {"GET account_details"}  # nothing read, nothing written
    sample_hub.account_info_refused = True  # a new token without the details' scope
    assert sync(sample_hub, store, START + timedelta(hours=2)).status == "ok"  # v1/me says it
    sample_hub.account_me_refused = True  # and HubSpot refuses that too: trying again won't help
    with pytest.raises(AccountRefusedError, match="lacks the scope oauth") as refused:
        sync(sample_hub, store, START + timedelta(hours=3))
    assert "run again later" not in str(refused.value) and refused.value.exit_code == 3


def test_a_token_hubspot_rejects_stops_at_the_account_request(
    sample_hub: HubSpotEmulator, store: Store
) -> None:
    limits = Limits(read_timeout=2.0)
    api = HubSpotApi(Secret("pat-na1-11111111-2222-4333-8444-555555555555"), host=sample_hub.url,
                     limits=limits, clock=sample_hub.clock)  # fmt: skip
    with pytest.raises(TokenRejectedError, match="did not accept the token"):
        run_pipeline(HubSpotSource(api, started=START), store, RunOptions(steps=RFM))
    assert dict(sample_hub.requests) == {"GET account_details": 1}


def test_an_account_hubspot_will_not_name_is_said_and_the_run_goes_on(
    sample_hub: HubSpotEmulator, store: Store
) -> None:
    sample_hub.account_info_refused = sample_hub.account_me_refused = True
    result = sync(sample_hub, store, START)
    assert result.status == "ok"
    (said,) = [n for n in result.notices if n.check == ACCOUNT_UNKNOWN]
    assert said.message.startswith("HubSpot did not say which account the token is for")
    assert "could not check which account" in said.message and "403" in said.message
    assert store.account_of("hubspot") is None
    sample_hub.account_info_refused = sample_hub.account_me_refused = False
    sync(sample_hub, store, START + timedelta(hours=1))
    assert store.account_of("hubspot")[0] == str(sample_hub.state.portal_id)


def test_smbml_run_says_it_in_one_line_and_switches_when_asked(
    sample_hub: HubSpotEmulator,
    other: HubSpotEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SMBML_HUBSPOT_TOKEN", TEST_TOKEN)
    store = tmp_path / "store.sqlite"
    # The CLI's client waits on the real clock and the emulators' windows run on a fake
    # one that nothing moves here: a run of over 100 requests would wait for good.
    sample_hub.rate_limits = other.rate_limits = False

    def run(hub: HubSpotEmulator, *extra: str) -> Any:
        config = tmp_path / "smbml.toml"
        config.write_text(
            f'[source]\nkind = "hubspot"\n\n[hubspot]\napi_url = "{hub.url}"\n'
            '\n[analytics]\nenabled = ["rfm_segments"]\n',
            encoding="utf-8",
        )
        args = ["--log-file", str(tmp_path / "log"), "run", "-c", str(config)]
        return CliRunner().invoke(cli, [*args, "--store", str(store), "--quiet", *extra])

    assert run(sample_hub).exit_code == 0
    refused = run(other)
    assert refused.exit_code == 5, refused.output
    assert f"The token reads HubSpot account {OTHER_PORTAL}" in refused.output
    assert "Traceback" not in refused.output and TEST_TOKEN not in refused.output
    both = run(other, "--switch-account", "--dry-run")
    assert both.exit_code == 2 and "a dry run must not" in both.output
    switched = run(other, "--switch-account")
    assert switched.exit_code == 0, switched.output
    assert f"HubSpot account {OTHER_PORTAL} is read whole" in switched.output
    shown = CliRunner().invoke(cli, ["--log-file", str(tmp_path / "log"), "status", "--store",
                                     str(store)])  # fmt: skip
    assert f"hubspot records: HubSpot account {OTHER_PORTAL} (since " in shown.output


def test_the_token_check_names_the_account(
    sample_hub: HubSpotEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SMBML_HUBSPOT_TOKEN", raising=False)
    config = tmp_path / "smbml.toml"
    config.write_text(
        f'[source]\nkind = "hubspot"\n\n[hubspot]\napi_url = "{sample_hub.url}"\n',
        encoding="utf-8",
    )
    args = ["--log-file", str(tmp_path / "log"), "auth", "hubspot", "-c", str(config)]
    saved = CliRunner().invoke(cli, [*args, "--token-stdin"], input=TEST_TOKEN + "\n")
    assert saved.exit_code == 0, saved.output
    assert f"HubSpot account {sample_hub.state.portal_id}" in saved.output
    sample_hub.account_info_refused = sample_hub.account_me_refused = True
    saved = CliRunner().invoke(cli, [*args, "--token-stdin"], input=TEST_TOKEN + "\n")
    assert saved.exit_code == 0 and "lacks the scope oauth" in saved.output


def test_amounts_are_in_the_accounts_currency_when_no_record_names_one(
    sample_hub: HubSpotEmulator, store: Store
) -> None:
    """A euro portal whose deals and orders carry no currency code was shown in dollars."""
    sample_hub.state.currency = "EUR"
    for object_type, prop in (("orders", "hs_currency_code"), ("deals", "deal_currency_code")):
        for record in sample_hub.state.objects[object_type].values():
            record.properties.pop(prop, None)
    result = sync(sample_hub, store, START, push=False, steps=steps_by_name(["deal_win"]))
    assert result.currency == "EUR"
    (line,) = [s for s in result.steps["deal_win"].summary if "expected to be won" in s]
    assert "€" in line and "$" not in line
