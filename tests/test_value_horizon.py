"""The customer-value horizon is a setting, while the CRM property and the Sheets column are
named and labelled "12 months": with another horizon they still hold the 12-month value
(before, the Sheets tab failed with a missing column and the property went empty)."""

from __future__ import annotations

from smbml_connect.column_labels import column_label
from smbml_connect.connectors.gsheets.sheets import _part
from smbml_connect.sample import SampleConfig, generate
from smbml_connect.steps.base import StepContext
from smbml_connect.steps.customers import CHURN_VALUE, VALUE_TAB, churn_value_step


def test_a_six_month_horizon_keeps_the_twelve_month_property_and_column():
    business = generate(SampleConfig(seed=3, contacts=300))
    context = StepContext(as_of=business.as_of, settings={"customers": {"horizon_days": 182}})
    result = churn_value_step(business.tables, context)
    tab = result.sheets[VALUE_TAB.title]
    assert column_label("expected_value_6m") == "Expected value, next 6 months"
    assert {"expected_value_6m", "expected_value_12m"} <= set(tab.columns)
    assert (tab["expected_value_12m"] >= tab["expected_value_6m"]).all()
    sheet = _part(tab, VALUE_TAB.sheets[0])  # the Scores tab's part: raised KeyError before
    assert sheet["value_12m"].tolist() == tab["expected_value_12m"].tolist()
    scores = result.outputs["scores"]
    assert {"value_6m", "value_12m"} <= set(scores["model"])
    value = next(p for p in CHURN_VALUE.outputs.properties if p.name == "smbml_value_12m")
    taken = value.take(scores)
    assert len(taken) == len(tab) and taken.notna().all()
