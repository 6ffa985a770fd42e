"""The HubSpot push when the portal refuses part of it: a custom-property limit, records a
207 refuses, a token revoked or a daily limit used up part way, a scope missing.

Each test says what the user reads: the values not written counted in values, the run
partial where something is missing, and one line that says why and what to do.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from smbml_connect.connectors.hubspot.http import DailyLimitError, HubSpotApi, Limits
from smbml_connect.connectors.hubspot.source import HubSpotSource
from smbml_connect.credentials import Secret
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.ports import RunResult
from smbml_connect.steps import steps_by_name
from smbml_connect.store import Store
from smbml_connect.testing.hubspot_emulator import TEST_TOKEN, HubSpotEmulator


def make_api(hub: HubSpotEmulator, **changes: Any) -> HubSpotApi:
    limits = dataclasses.replace(Limits(read_timeout=2.0), **changes)
    hub.clock.advance(limits.window_seconds)  # runs are minutes apart: a fresh window
    return HubSpotApi(
        Secret(TEST_TOKEN), host=hub.url, limits=limits, client_side_validation=True,
        clock=hub.clock,
    )  # fmt: skip


def sync(hub: HubSpotEmulator, store: Store) -> RunResult:
    return run_pipeline(HubSpotSource(make_api(hub)), store, RunOptions(steps=[]))


SCOPES = {
    f"crm.{k}.{t}.{a}"
    for k in ("objects", "schemas")
    for t in ("contacts", "deals", "products", "orders", "line_items")
    for a in ("read", "write")
} | {"sales-email-read", "content", "forms", "forms-uploaded-files", "oauth"}


def test_a_used_up_daily_limit_says_so_when_the_account_is_checked(hub, store) -> None:
    emulator, _ = hub
    sync(emulator, store)  # the store now holds this account's records
    emulator.rate_limits = True
    emulator.daily_limit = emulator._daily_used  # another app used up today's calls
    with pytest.raises(DailyLimitError) as raised:
        sync(emulator, store)
    said = str(raised.value)
    assert "daily API limit for this account is used up" in said
    assert "resets at midnight in the account's time zone" in said
    assert "too busy" not in said and "run again later" not in said


def test_deals_not_readable_give_one_line_and_held_back_steps_by_their_names(hub, store) -> None:
    emulator, _ = hub
    emulator.scopes = SCOPES - {"crm.objects.deals.read"}
    api = make_api(emulator)
    result = run_pipeline(
        HubSpotSource(api), store, RunOptions(steps=steps_by_name(["lead_scores", "deal_win"]))
    )
    assert "deals" in result.incomplete
    assert not [n for n in result.notices if "The deals were loaded" in n.message]
    assert [e for e in result.errors if "crm.objects.deals.read" in e]
    held = [line for line in result.skipped if "held back" in line]
    assert held and all(line.startswith(("Lead scores:", "Deal win chances:")) for line in held)
    assert not [line for line in result.skipped if line.startswith(("lead_scores", "deal_win"))]
