import pandas as pd
import pytest

from smbml_connect.connectors.sample.source import SampleSource
from smbml_connect.log_file import log_details
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.steps import STEPS, Step, StepResult, steps_by_name

RFM = steps_by_name(["rfm_segments"])  # the tiny sources have too little history for models


class TinySource:
    """Two tables, handed over as a spreadsheet would: text and known row numbers."""

    name = "tiny"
    incremental = False

    def __init__(self, contacts: pd.DataFrame, orders: pd.DataFrame) -> None:
        self.frames = {"contacts": contacts, "orders": orders}

    def available(self):
        return list(self.frames)

    def pull(self, entity, since=None):
        return self.frames[entity].copy()


def tiny():
    contacts = pd.DataFrame(
        {"contact_id": ["a", "b", "c"], "email": ["a@x.io", "b@x.io", "c@x.io"],
         "marketing_consent": ["yes", "no", ""]}
    )  # fmt: skip
    orders = pd.DataFrame(
        {"order_id": ["1", "2", "3", "4"], "contact_id": ["a", "b", "c", "a"],
         "ordered_at": ["2025-01-01", "2025-01-02", "2025-01-03", "not a date"],
         "total": ["10", "20", "30", "40"]}
    )  # fmt: skip
    return TinySource(contacts, orders)


AS_OF = pd.Timestamp("2025-02-01", tz="UTC")


def test_opted_out_contacts_are_not_scored_and_counted(store):
    result = run_pipeline(tiny(), store, RunOptions(steps=RFM, as_of=AS_OF))
    scored = set(result.steps["rfm_segments"].outputs["scores"]["entity_id"])
    assert scored == {"a", "c"}  # b said no; c said nothing, which counts as consent by default
    assert result.consent_skipped == 1
    assert set(store.latest_outputs("scores")["entity_id"]) == {"a", "c"}
    assert "b" not in set(result.steps["rfm_segments"].sheets["Segments"]["contact_id"])


def test_missing_consent_can_mean_opted_out(store):
    options = RunOptions(steps=RFM, as_of=AS_OF, missing_consent_means="opted_out")
    result = run_pipeline(tiny(), store, options)
    assert set(result.steps["rfm_segments"].outputs["scores"]["entity_id"]) == {"a"}
    assert result.consent_skipped == 2


def test_consent_column_can_live_in_extra(store):
    source = tiny()
    source.frames["contacts"] = source.frames["contacts"].rename(
        columns={"marketing_consent": "GDPR ok"}
    )
    result = run_pipeline(
        source, store, RunOptions(steps=RFM, as_of=AS_OF, consent_column="GDPR ok")
    )
    assert result.consent_skipped == 1


def test_bad_rows_are_recorded_and_the_rest_goes_through(store):
    result = run_pipeline(tiny(), store, RunOptions(steps=RFM, as_of=AS_OF))
    assert result.status == "ok"
    assert result.loaded == {"contacts": 3, "orders": 3}
    assert result.rejected_rows == 1
    saved = store.rejects(result.run_id)
    assert saved.iloc[0][["table", "source_row", "column", "value"]].tolist() == [
        "orders",
        4,
        "ordered_at",
        "not a date",
    ]
    assert store.runs().loc[0, "status"] == "ok"


def test_an_unusable_table_is_skipped_and_the_run_is_partial(store):
    source = tiny()
    source.frames["contacts"] = source.frames["contacts"].drop(columns="contact_id")
    result = run_pipeline(source, store, RunOptions(steps=RFM, as_of=AS_OF))
    assert result.status == "partial"
    assert "contact_id" in result.errors[0]
    assert result.rejects.iloc[0]["action"] == "table skipped"
    assert result.loaded == {"orders": 3}


def test_a_failing_step_does_not_cost_the_others(store):
    def broken(tables, context):
        raise ZeroDivisionError("boom")

    def counting(tables, context):
        return StepResult(summary=[f"{len(tables['orders'])} orders"])

    steps = [
        Step("broken", ("orders",), False, broken),
        Step("counting", ("orders",), False, counting),
    ]
    result = run_pipeline(tiny(), store, RunOptions(steps=steps, as_of=AS_OF))
    assert result.status == "partial"
    assert result.errors == [f"broken: unexpected error, {log_details()}"]
    assert result.steps["counting"].summary == ["3 orders"]


def test_a_crashing_source_marks_the_run_failed(store):
    class Broken(TinySource):
        def pull(self, entity, since=None):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_pipeline(Broken(*tiny().frames.values()), store, RunOptions(steps=RFM, as_of=AS_OF))
    assert store.runs().loc[0, "status"] == "failed"


def test_sample_run_finds_every_injected_fault(store, business):
    source = SampleSource(business)
    result = run_pipeline(source, store, RunOptions(steps=STEPS, as_of=business.as_of))
    found = {(r.table, r.value) for r in result.rejects.itertuples()}
    expected = {(f.table, f.value) for f in source.faults.itertuples()}
    assert found == expected
    assert result.consent_skipped == int((~business.tables["contacts"]["marketing_consent"]).sum())
