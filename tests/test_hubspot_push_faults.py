"""The HubSpot push when the portal refuses part of it: a custom-property limit, records a
207 refuses, a token revoked or a daily limit used up part way, a scope missing.

Each test says what the user reads: the values not written counted in values, the run
partial where something is missing, and one line that says why and what to do.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from smbml_connect.cli import _print_result, cli
from smbml_connect.connectors.hubspot.http import DailyLimitError, HubSpotApi, Limits
from smbml_connect.connectors.hubspot.push import HubSpotDestination
from smbml_connect.connectors.hubspot.source import HubSpotSource
from smbml_connect.credentials import Secret
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.ports import PushReport, RunResult
from smbml_connect.steps import crm_properties, steps_by_name
from smbml_connect.store import Store
from smbml_connect.testing.hubspot_emulator import TEST_TOKEN, Fault, HubSpotEmulator
from smbml_connect.testing.hubspot_state import property_shape

SCORED = pd.Timestamp("2026-10-31", tz="UTC")
CONTACT_VALUES = 5  # lead score, tier, reasons, segment, scored at


def make_api(hub: HubSpotEmulator, **changes: Any) -> HubSpotApi:
    limits = dataclasses.replace(Limits(read_timeout=2.0), **changes)
    hub.clock.advance(limits.window_seconds)  # runs are minutes apart: a fresh window
    return HubSpotApi(
        Secret(TEST_TOKEN), host=hub.url, limits=limits, client_side_validation=True,
        clock=hub.clock,
    )  # fmt: skip


def sync(hub: HubSpotEmulator, store: Store) -> RunResult:
    return run_pipeline(HubSpotSource(make_api(hub)), store, RunOptions(steps=[]))


def scores(store: Store, ids: list[str], values: list[float]) -> None:
    """Lead scores and segments as a run stores them: a few tiers, reasons, one date."""
    run = store.start_run("test", "hubspot")
    rows = [
        {"entity": "contact", "entity_id": c, "model": "lead_score", "value": s,
         "label": "A" if s > 60 else "B" if s > 30 else "C",
         "reasons": ["Came from a referral", f"Visited {int(s) % 7 + 1} pages"],
         "model_version": "v1", "scored_at": SCORED}
        for c, s in zip(ids, values, strict=True)
    ] + [
        {"entity": "contact", "entity_id": c, "model": "rfm_segment", "value": 555,
         "label": ["Champions", "Loyal", "At risk"][k % 3], "reasons": [],
         "model_version": "rfm-1", "scored_at": SCORED}
        for k, c in enumerate(ids)
    ]  # fmt: skip
    store.write_outputs("scores", run, pd.DataFrame(rows))
    store.finish_run(run, "ok", {}, None)


def scored(hub: HubSpotEmulator, store: Store, n: int) -> list[str]:
    sync(hub, store)
    ids = sorted(store.read("contacts")["contact_id"], key=lambda i: (len(i), i))[:n]
    scores(store, ids, [float(7 + (k * 37) % 90) for k in range(n)])
    return ids


def push(hub: HubSpotEmulator, store: Store, **limits: Any) -> PushReport:
    return HubSpotDestination(make_api(hub, **limits), properties=crm_properties()).publish(
        None, store
    )


def summary(report: PushReport) -> str:
    """The push's lines as `smbml run` prints them."""
    lines: list[str] = []
    result = RunResult(run_id=1, as_of=SCORED, source="hubspot", pushes=[report])
    import smbml_connect.cli as cli

    before = cli._echo
    cli._echo = lines.append  # type: ignore[assignment]
    try:
        _print_result(result, [])
    finally:
        cli._echo = before  # type: ignore[assignment]
    return "\n".join(lines)


def _ours(hub: HubSpotEmulator, rid: str) -> dict[str, str]:
    props = hub.state.objects["contacts"][rid].properties
    return {k: v for k, v in props.items() if k.startswith("smbml_")}


def _fill_custom(hub: HubSpotEmulator, object_type: str, room: int) -> None:
    """A portal used for years: its custom properties leave ``room`` for ours."""
    props = hub.state.properties[object_type]
    custom = sum(1 for p in props.values() if not p.get("hubspotDefined"))
    hub.property_limit = 60
    for k in range(hub.property_limit - custom - room):
        made = property_shape(
            {"name": f"old_field_{k}", "label": f"Old field {k}", "type": "string",
             "fieldType": "text", "groupName": "contactinformation"},
            object_type, hub.state.groups[object_type],
        )  # fmt: skip
        props[made["name"]] = made


def test_at_the_property_limit_what_was_made_is_written_and_one_line_says_what_to_free(
    hub, store
) -> None:
    emulator, _ = hub
    ids = scored(emulator, store, 40)
    _fill_custom(emulator, "contacts", room=1)
    first = push(emulator, store)
    # The one property HubSpot made (the segment) is written on every contact.
    assert all(set(_ours(emulator, i)) == {"smbml_segment"} for i in ids)
    [line] = first.unwritten
    assert line.startswith("7 contacts properties not made (Churn risk % (SMB ML), ")
    assert "Lead score (SMB ML)" in line and "Scored at (SMB ML)" in line
    assert "limit of 60 custom properties" in line and "Archive 7 custom contacts" in line
    assert "retrying will not help" not in line
    assert first.written == 40 and first.unchanged == 0
    assert first.not_written == 40 * (CONTACT_VALUES - 1)
    text = summary(first)
    assert f"wrote 40 values, 0 unchanged, {first.not_written:,} not written." in text
    # The admin archives old fields: the next run makes the rest and writes what was left.
    for k in range(7):
        emulator.state.properties["contacts"][f"old_field_{k}"]["archived"] = True
    second = push(emulator, store)
    assert second.unwritten == [] and second.not_written == 0
    assert second.written == first.not_written and second.unchanged == first.written
    assert all(len(_ours(emulator, i)) == CONTACT_VALUES for i in ids)


FAULTS = ["429", "403", "daily", "207"]
SCOPES = {
    f"crm.{k}.{t}.{a}"
    for k in ("objects", "schemas")
    for t in ("contacts", "deals", "products", "orders", "line_items")
    for a in ("read", "write")
} | {"sales-email-read", "content", "forms", "forms-uploaded-files", "oauth"}


def on_second_batch(emulator: HubSpotEmulator, act: Any) -> None:
    """``act`` runs when the second contacts batch update arrives: the first is written."""
    seen, take = {"n": 0}, emulator._take_fault

    def take_fault(method: str, path: str) -> Any:
        if method == "POST" and path.endswith("/contacts/batch/update"):
            seen["n"] += 1
            if seen["n"] == 2:
                act()
        return take(method, path)

    emulator._take_fault = take_fault  # type: ignore[method-assign]


def _fault(emulator: HubSpotEmulator, kind: str) -> None:
    """From the second contacts batch on, HubSpot answers ``kind``."""
    if kind == "429":
        path = "/crm/v3/objects/contacts/batch/update"
        emulator.inject(Fault("429", count=10_000, path=path, skip=1))
    elif kind == "403":  # an admin narrows the private app's scopes
        on_second_batch(emulator, lambda: setattr(emulator, "scopes",
                                                  SCOPES - {"crm.objects.contacts.write"}))  # fmt: skip
    elif kind == "daily":  # another app uses up the account's calls for today
        emulator.rate_limits = True
        on_second_batch(emulator, lambda: setattr(emulator, "daily_limit", emulator._daily_used))
    else:  # a colleague made our score a drop-down of the scores it had: new ones are refused
        emulator.invalid_in_207 = True
        prop = emulator.state.properties["contacts"]["smbml_lead_score"]
        kept = [str(s) for s in range(98)]
        prop.update(type="enumeration", fieldType="select", options=[
            {"label": v, "value": v, "hidden": False, "displayOrder": i}
            for i, v in enumerate(kept)])  # fmt: skip


def _lifted(emulator: HubSpotEmulator, kind: str, take: Any) -> None:
    emulator.faults.clear()
    emulator._take_fault = take  # type: ignore[method-assign]
    emulator.scopes, emulator.daily_limit, emulator.invalid_in_207 = None, None, False
    prop = emulator.state.properties["contacts"]["smbml_lead_score"]
    prop.update(type="number", fieldType="number", options=[])


@pytest.mark.parametrize("kind", FAULTS)
def test_not_written_counts_values_so_the_three_numbers_add_up(hub, store, kind) -> None:
    emulator, _ = hub
    ids = scored(emulator, store, 150)
    first = push(emulator, store)
    assert first.written == 150 * CONTACT_VALUES
    # Every lead's score moves by one point, three jump to the top.
    new = [float(98 + k % 3) if k % 50 == 3 else float(8 + (k * 37) % 90) for k in range(150)]
    scores(store, ids, new)
    take = emulator._take_fault
    _fault(emulator, kind)
    second = push(emulator, store, max_wait=5.0)
    assert second.written + second.unchanged + second.not_written == first.written, kind
    assert second.not_written > 0 and second.written > 0
    assert f"{second.not_written:,} not written." in summary(second)
    if kind == "207":
        [line] = second.refused
        assert line.startswith(f"{second.not_written} values on 3 contacts not written (")
        assert line.startswith(f"{second.not_written} values on 3 contacts not written ({ids[3]}, ")
        assert f"HubSpot refused them: {ids[3]}: 98 was not one of the allowed options;" in line
    elif kind == "daily":  # every further request would fail: the push stops, one line
        assert second.unwritten == [
            f"{second.not_written:,} values not written: HubSpot's daily API limit for this "
            "account is used up; it resets at midnight in the account's time zone; they are "
            "sent by the first run after that"
        ]  # before: "... Run again then; they are sent again on the next run"
    else:
        [line] = second.unwritten
        assert line.startswith(f"{second.not_written:,} values on ")
        assert "retrying will not help" not in line and line.endswith(
            "; they are sent again on the next run"
            if kind == "429"
            else "; they are sent by the first run after that"
        )
    # HubSpot answers again: the next push writes exactly what this one did not.
    _lifted(emulator, kind, take)
    third = push(emulator, store)
    assert third.written == second.not_written and third.not_written == 0, kind


def test_a_token_revoked_part_way_says_what_was_written_and_what_to_do(hub, store) -> None:
    emulator, _ = hub
    ids = scored(emulator, store, 150)
    on_second_batch(emulator, lambda: setattr(emulator, "tokens", set()))  # token deleted
    api = make_api(emulator)
    result = RunResult(run_id=store.start_run("test", "hubspot"), as_of=SCORED, source="hubspot")
    from smbml_connect.pipeline import _publish

    _publish(HubSpotDestination(api, properties=crm_properties()), result, store)
    [report] = result.pushes
    written = sum(1 for i in ids for _ in _ours(emulator, i))
    assert 0 < report.written == written < 150 * CONTACT_VALUES
    assert report.written + report.not_written == 150 * CONTACT_VALUES
    [problem] = result.errors
    assert problem.startswith(f"HubSpot: wrote {written:,} values ({written:,} on contacts); ")
    assert f"{report.not_written:,} values not written: HubSpot did not accept the token" in problem
    assert "Create a new private-app token" in problem and "not written:" in problem
    assert "hubspot not written" not in problem


def test_records_a_207_refuses_make_the_run_partial_and_stay_in_status(hub, store) -> None:
    emulator, _ = hub
    ids = scored(emulator, store, 30)
    push(emulator, store)
    prop = emulator.state.properties["contacts"]["smbml_lead_reasons"]
    prop.update(type="enumeration", fieldType="select", options=[])  # edited in HubSpot
    emulator.invalid_in_207 = True
    values = [float(7 + (k * 37) % 90) for k in range(30)]
    values[:2] = [88.0, 12.0]  # two leads get new scores and reasons, which HubSpot refuses
    scores(store, ids, values)
    api = make_api(emulator)
    result = run_pipeline(
        HubSpotSource(api), store, RunOptions(steps=[]),
        [HubSpotDestination(api, properties=crm_properties())],
    )  # fmt: skip
    assert result.status == "partial"
    [problem] = [e for e in result.errors if e.startswith("HubSpot")]
    assert f"on 2 contacts not written ({ids[0]}, {ids[1]}): HubSpot refused them" in problem
    assert "Lead score reasons: Came from a referral; Visited 5 pages was not one of" in problem
    assert '"isValid"' not in problem
    assert store.runs(1)["error"].iloc[0] == problem  # `smbml status` keeps the line
    assert store.runs(1)["status"].iloc[0] == "partial"


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


def _daily_from_groups(emulator: HubSpotEmulator) -> None:
    """Another app uses up today's calls while the push looks at the property groups."""
    emulator.rate_limits = True

    def used_up(route: str) -> None:
        if route == "GET groups":
            emulator.daily_limit = emulator._daily_used

    emulator.after_request = used_up


CREATE = "/crm/v3/properties/contacts/batch/create"
LOCKED = "The property group smbml is locked."
WHEN_REFUSED = (
    "sent by the first run after what HubSpot names is put right (running again alone will "
    "not get past it)"
)
MAKING = {  # a first run on a portal: how making our contacts properties fails, and the line
    "refused": (
        lambda e: e.inject(Fault("refuse", status=400, path=CREATE, count=10, message=LOCKED)),
        '8 contacts properties not made ({labels}): HubSpot said "The property group smbml '
        f'is locked"; their values are {WHEN_REFUSED.replace("HubSpot names", "it names")}',
    ),
    "failing": (
        lambda e: e.inject(Fault("5xx", path=CREATE, count=100)),
        "nothing written on contacts: HubSpot kept failing on creating 8 contacts properties "
        "after 2 attempts (last: HTTP 503 on creating 8 contacts properties); its values are "
        "sent again on the next run",
    ),
    "scope": (  # the private app may read the properties, not make them
        lambda e: setattr(e, "scopes", SCOPES - {"crm.schemas.contacts.write"}),
        "nothing written on contacts: HubSpot refused creating the contacts property group "
        "smbml (403): the private app's token lacks the scope crm.schemas.contacts.write. Add "
        "it in HubSpot under Settings > Integrations > Private Apps > Scopes, then run `smbml "
        "auth hubspot` with the new token; its values are sent by the first run after that",
    ),
    "daily": (
        _daily_from_groups,
        "nothing written: HubSpot's daily API limit for this account is used up; it resets at "
        "midnight in the account's time zone; the values are sent by the first run after that",
    ),
}


@pytest.mark.parametrize("kind", MAKING)
def test_making_properties_that_fails_says_one_true_line_in_the_run_and_status(
    hub, store, kind
) -> None:
    emulator, _ = hub
    scored(emulator, store, 30)
    fault, said = MAKING[kind]
    fault(emulator)
    api = make_api(emulator, attempts=2)
    destination = HubSpotDestination(api, properties=crm_properties())
    result = run_pipeline(HubSpotSource(api), store, RunOptions(steps=[]), [destination])
    (report,) = result.pushes
    labels = ", ".join(p.label for p in crm_properties() if p.object_type == "contacts")
    assert report.unwritten == [said.format(labels=labels)]  # before: "retrying will not help"
    assert report.written == report.unchanged == 0 and report.not_written > 0
    problem = f"HubSpot: wrote no values; {report.unwritten[0]}"
    assert result.status == "partial" and problem in result.errors
    assert store.runs(1)["error"].iloc[0] == "; ".join(result.errors)
    shown = CliRunner().invoke(cli, ["status", "--store", str(store.path)]).output
    assert problem in shown
    for words in ("retrying will not help", "Run again", "run again", "_"):
        assert words not in problem.replace("smbml auth", "").replace("crm.", ""), words
    # The cause goes away: the next run writes every value this one did not.
    emulator.faults.clear()
    emulator.scopes, emulator.daily_limit, emulator.after_request = None, None, None
    after = HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(None, store)
    assert after.unwritten == [] and after.written == report.not_written


def test_a_property_list_hubspot_refuses_says_what_to_do_once(hub, store) -> None:
    emulator, _ = hub
    scored(emulator, store, 30)
    emulator.inject(Fault("refuse", status=404, path="/crm/v3/properties/contacts", method="GET",
                          message="Unable to find object type contacts."))  # fmt: skip
    report = push(emulator, store)
    assert report.unwritten == [
        "nothing written on contacts: HubSpot refused reading the contacts property list "
        f"(HTTP 404): Unable to find object type contacts; its values are {WHEN_REFUSED}"
    ]  # before: "...; fix the value or setting HubSpot names; retrying will not help; its
    # values are sent on the next run"
    assert report.written == 0 and report.not_written == 30 * CONTACT_VALUES
