"""Values the tool no longer stands behind leave HubSpot; values of a failed step stay, dated.

Runs the whole pipeline against the HubSpot emulator twice: once with enough data, then
with a step skipped (too little data), failed (an error) or a contact's consent withdrawn.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pandas as pd
import pytest
from hubspot_runs import settled

from smbml_connect.connectors.hubspot.http import HubSpotApi, Limits
from smbml_connect.connectors.hubspot.push import HubSpotDestination
from smbml_connect.connectors.hubspot.source import HubSpotSource
from smbml_connect.credentials import Secret
from smbml_connect.log_file import log_details
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.ports import RunResult
from smbml_connect.schema import SCORES
from smbml_connect.steps import Step, StepContext, StepResult, crm_properties, steps_by_name
from smbml_connect.store import Store
from smbml_connect.testing.hubspot_emulator import TEST_TOKEN, HubSpotEmulator

AS_OF = pd.Timestamp("2026-11-30 09:00", tz="UTC")


@pytest.fixture
def hub(sample_hub: HubSpotEmulator) -> HubSpotEmulator:
    return sample_hub


def _run(emulator: HubSpotEmulator, store: Store, steps: list[Step] | None = None) -> RunResult:
    emulator.clock.advance(10)  # runs are minutes apart: a fresh request window
    api = HubSpotApi(
        Secret(TEST_TOKEN), host=emulator.url, limits=Limits(read_timeout=2.0), clock=emulator.clock
    )
    options = RunOptions(steps=steps if steps is not None else steps_by_name(None), as_of=AS_OF)
    return run_pipeline(
        HubSpotSource(api, page_rows=100, started=settled()),
        store,
        options,
        [HubSpotDestination(api)],
    )


def _with(emulator: HubSpotEmulator, object_type: str, name: str) -> set[str]:
    return {i for i, r in emulator.state.objects[object_type].items() if r.properties.get(name)}


def _failing(step: Step) -> Step:
    def boom(tables: Mapping[str, pd.DataFrame], context: StepContext) -> StepResult:
        raise RuntimeError("the model server went away")

    return dataclasses.replace(step, run=boom)


PRICE_FIELDS = ("smbml_suggested_price", "smbml_elasticity", "smbml_price_reason")


def test_a_skipped_step_clears_what_it_wrote_and_says_why(hub, store) -> None:
    first = _run(hub, store)
    assert "price_suggestions" in first.steps
    priced = _with(hub, "products", "smbml_suggested_price")
    stamped = _with(hub, "products", "smbml_scored_at")
    # The shop stops recording line items: prices cannot be learnt any more.
    hub.state.archive("line_items", list(hub.state.objects["line_items"]))
    second = _run(hub, store)
    assert "Price suggestions: no order lines data" in second.skipped
    for name in (*PRICE_FIELDS, "smbml_scored_at"):
        assert not _with(hub, "products", name), name  # before: the old prices stayed
    (push,) = second.pushes
    cleared = (
        "values on products cleared: Price suggestions not computed this run (no order lines data)"
    )
    assert any(line.endswith(cleared) for line in push.detail), push.detail
    assert store.latest_outputs("price_suggestions").empty  # the store agrees
    assert priced and stamped >= priced  # products got 'Scored at' like contacts and deals
    writes = sum(hub.state.writes.values())
    third = _run(hub, store)  # skipped again: the old prices do not come back
    assert not _with(hub, "products", "smbml_suggested_price")
    assert sum(hub.state.writes.values()) == writes and third.pushes[0].written == 0


def test_a_failed_step_keeps_its_values_but_an_opted_out_contact_keeps_none(hub, store) -> None:
    _run(hub, store)
    scored = sorted(_with(hub, "contacts", "smbml_lead_score"))
    customers = sorted(_with(hub, "contacts", "smbml_churn_risk") - set(scored))
    assert len(scored) > 20 and customers
    leaving = [*scored[:5], *customers[:3]]
    hub.state.touch("contacts", leaving, hs_email_optout="true")
    # Every step fails this run (say the machine ran out of memory part way).
    second = _run(hub, store, [_failing(s) for s in steps_by_name(None)])
    for contact in leaving:  # consent fails closed: nothing computed about them remains
        values = hub.state.objects["contacts"][contact].properties
        assert not [name for name in values if name.startswith("smbml_")], contact
    assert second.status == "partial" and "lead_scores" in second.failed
    stays = hub.state.objects["contacts"][scored[10]].properties
    assert stays["smbml_lead_score"] and stays["smbml_scored_at"]  # kept from the first run
    (push,) = second.pushes
    assert any(
        line.startswith(f"Lead scores failed this run (unexpected error, {log_details()}): "
                        "its values on contacts are kept as run 1 computed them on ")
        for line in push.detail
    ), push.detail  # fmt: skip
    assert not [line for line in push.detail if line.startswith(("lead scores", "rfm "))]
    latest = store.latest_outputs("scores")
    assert not latest["entity_id"].isin(leaving).any()
    assert latest["entity_id"].isin(scored[5:]).any()


def test_outputs_a_step_no_longer_stands_behind_are_not_the_latest(store) -> None:
    def run(rows: list[tuple[str, str]]) -> int:
        run_id = store.start_run("test", "files")
        frame = pd.DataFrame(
            [{"entity": "contact", "entity_id": i, "model": m, "value": 1.0} for m, i in rows]
        )
        store.write_outputs(SCORES, run_id, frame)
        return run_id

    first = run([("lead_score", "c1"), ("segment", "c1")])
    store.settle_step("leads", first, {"scores": {"lead_score", "segment"}}, "unused")
    second = run([("lead_score", "c2")])  # computed, but no segment this time
    store.settle_step("leads", second, {"scores": {"lead_score"}}, "Leads computed none")
    latest = store.latest_outputs("scores")
    assert list(zip(latest["model"], latest["entity_id"], strict=True)) == [("lead_score", "c2")]
    assert store.latest_run_with("scores") == second
    skipped = store.start_run("test", "files")
    store.settle_step("leads", skipped, None, "Leads not computed this run (too few)")
    assert store.latest_outputs("scores").empty and store.latest_run_with("scores") == skipped
    assert store.withdrawals(skipped)["model"].tolist() == ["lead_score"]
    again = run([("lead_score", "c3")])
    store.settle_step("leads", again, {"scores": {"lead_score"}}, "unused")
    assert store.latest_outputs("scores")["entity_id"].tolist() == ["c3"]
    assert store.last_filled("leads") is not None and store.last_filled("leads")[0] == again
    forgetting = store.start_run("test", "files")  # c3 opted out: a cache must reload
    assert store.forget_outputs("scores", "contact", ["c3"], forgetting) == 1
    assert store.latest_run_with("scores") == forgetting
    assert store.forget_outputs("scores", "contact", ["c3"], forgetting + 1) == 0
    assert store.latest_run_with("scores") == forgetting


def test_products_carry_scored_at_like_contacts_and_deals() -> None:
    stamps = {p.object_type for p in crm_properties() if p.name == "smbml_scored_at"}
    assert stamps == {"contacts", "deals", "products"}
    (stamp,) = [
        p for p in crm_properties() if p.name == "smbml_scored_at" and p.object_type == "products"
    ]
    rows = pd.DataFrame({"product_id": ["p1"], "scored_at": [AS_OF]})
    assert stamp.take(rows).to_dict() == {"p1": "2026-11-30T09:00:00.000Z"}


def test_a_sheets_tab_of_a_failed_step_says_it_failed_and_keeps_no_older_rows() -> None:
    from smbml_connect.connectors.gsheets.sheets import result_tabs
    from smbml_connect.steps import STEPS

    result = RunResult(run_id=2, as_of=AS_OF, source="sheets")
    result.declared = {s.name: s.outputs for s in STEPS}
    result.labels = {s.name: s.label for s in STEPS}  # as the pipeline names them
    result.failed["price_suggestions"] = "unexpected error, see the log"
    (prices,) = [t for t in result_tabs(result) if t.role == "prices"]
    assert prices.frame.empty
    assert "(Price suggestions failed: unexpected error, see the log)." in prices.note


def test_a_dry_run_says_what_would_be_cleared_and_why() -> None:
    from smbml_connect.connectors.hubspot.push import _cleared_lines

    changed = pd.DataFrame(
        {"entity_id": ["1", "1", "2"], "field": ["smbml_lead_score", "smbml_segment", "x"],
         "value": ["", "", "7"]}
    )  # fmt: skip
    why = {("contacts", "smbml_lead_score"): "Lead scores not computed this run (too few leads)"}
    assert _cleared_lines("contacts", changed, why, dry_run=True) == [
        "1 value on contacts would be cleared: Lead scores not computed this run (too few leads)",
        "1 value on contacts would be cleared: they no longer apply (opted out, now a customer, "
        "deal closed, left the segment)",
    ]


def test_cleared_values_are_explained_per_object_and_until_filled_again(tmp_path) -> None:
    """Contacts, deals and products share the name of their Scored at: a price step's
    withdrawal explains products' values only. And a withdrawal made by a dry run (or a
    run whose push failed) still explains the values the next real run clears, until the
    step fills its outputs again."""
    from smbml_connect.connectors.hubspot.push import _cleared_lines, _withdrawn_now
    from smbml_connect.steps import STEPS

    with Store(tmp_path / "s.sqlite") as store:
        store.settle_step("price_suggestions", 1, {"price_suggestions": {""}}, "")
        store.settle_step("price_suggestions", 2, None, "Price suggestions not computed (x)")
        result = RunResult(run_id=3, as_of=AS_OF, source="hubspot")  # after a dry run 2
        result.declared = {s.name: s.outputs for s in STEPS}
        why = _withdrawn_now(result, store)
        assert why[("products", "smbml_scored_at")] == "Price suggestions not computed (x)"
        assert ("contacts", "smbml_scored_at") not in why
        stamps = pd.DataFrame({"entity_id": ["1"], "field": ["smbml_scored_at"], "value": [""]})
        assert "opted out" in _cleared_lines("contacts", stamps, why)[0]
        assert "not computed (x)" in _cleared_lines("products", stamps, why)[0]
        store.settle_step("price_suggestions", 4, {"price_suggestions": {""}}, "")
        assert _withdrawn_now(dataclasses.replace(result, run_id=5), store) == {}


SMBML_LEAD = ("smbml_lead_score", "smbml_lead_tier", "smbml_lead_reasons")


def _ours(emulator: HubSpotEmulator, contact: str) -> dict[str, str]:
    values = emulator.state.objects["contacts"][contact].properties
    return {name: value for name, value in values.items() if name.startswith("smbml_")}


def test_a_merge_leaves_none_of_the_other_records_values_behind(hub, store) -> None:
    """A lead merged into a customer: HubSpot gives the customer the lead's score (it had
    none), and the run, which scores no customer as a lead, clears it. Two customers merged
    (HubSpot's 2024 way: a new record) and the person unsubscribes the same day: consent
    fails closed, nothing of ours stays on the merged record."""
    _run(hub, store)
    leads = sorted(_with(hub, "contacts", "smbml_lead_score"))
    customers = sorted(_with(hub, "contacts", "smbml_churn_risk") - set(leads))
    lead, customer, (third, fourth) = leads[0], customers[0], customers[1:3]
    assert _ours(hub, customer) and not set(SMBML_LEAD) & set(_ours(hub, customer))
    hub.state.merge("contacts", customer, lead)
    assert _ours(hub, customer)["smbml_lead_tier"]  # the emulator merges values as HubSpot
    became = str(hub.state.next_id + 1000)
    hub.state.merge("contacts", third, fourth, new_id=became)
    hub.state.touch("contacts", [became], hs_email_optout="true")
    # HubSpot notes the unsubscribe as changes in a row, each subscription type's own
    # property too: the run that starts straight after finds them all. The emulator dated
    # a change inside the previous one's millisecond ahead of the clock, past the run's
    # start: the run missed the merge in about half the runs, with these edits in all.
    for subscription in ("6271283", "6271284", "6271290"):
        hub.state.touch("contacts", [became], **{f"hs_email_optout_{subscription}": "true"})
    second = _run(hub, store)
    kept = _ours(hub, customer)
    assert not set(SMBML_LEAD) & set(kept), kept  # before: "Lead score 3, tier D" stayed
    segments = store.latest_outputs("scores").query("model == 'rfm_segment'")
    assert kept["smbml_segment"] == segments.set_index("entity_id").loc[customer, "label"]
    assert _ours(hub, became) == {}  # before: segment, churn risk, value, next product
    (push,) = second.pushes
    assert any("cleared: they no longer apply" in line for line in push.detail), push.detail
    writes = sum(hub.state.writes.values())
    third_run = _run(hub, store)  # nothing new: nothing written, nothing cleared again
    assert third_run.pushes[0].written == 0 and sum(hub.state.writes.values()) == writes
