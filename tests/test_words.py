"""Plain words in what users see: codes as their labels, reasons that say which way they
moved a score, readable rejected rows, whole counts and real dates (the words review)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from smbml_connect.analytics.leads.contact_features import CONTACT_PHRASES
from smbml_connect.analytics.leads.deals import DEAL_PHRASES
from smbml_connect.analytics.leads.scoring import reason_words
from smbml_connect.ports import RunResult
from smbml_connect.report import workbook_sheets
from smbml_connect.schema import REJECT_COLUMNS
from smbml_connect.steps.customers import _risk_label
from smbml_connect.steps.leads import model_card_rows
from smbml_connect.value_words import lead_source_label, readable_row, stage_label
from smbml_connect.xlsx import number_format, write_workbook


@pytest.mark.parametrize(
    ("code", "label"),
    [
        ("appointmentscheduled", "Appointment scheduled"),
        ("qualifiedtobuy", "Qualified to buy"),
        ("presentationscheduled", "Presentation scheduled"),
        ("decisionmakerboughtin", "Decision maker bought-in"),
        ("contractsent", "Contract sent"),
        ("closedwon", "Closed won"),
        ("closedlost", "Closed lost"),
        ("negotiation_stage", "Negotiation stage"),  # a portal's own id, made readable
        ("Signed off", "Signed off"),  # a label a CRM export already gives stays as typed
        ("1234567", "1234567"),
    ],
)
def test_a_stage_shows_its_label(code: str, label: str):
    assert stage_label(code) == label


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("organic_search", "Organic search"),
        ("paid_social", "Paid social"),
        ("ORGANIC_SEARCH", "Organic search"),
        ("EMAIL_MARKETING", "Email marketing"),
        ("AI_REFERRALS", "AI referrals"),
        ("OTHER_CAMPAIGNS", "Other campaigns"),
        ("email", "Email marketing"),
        ("event", "Event or offline"),
        ("some_new_source", "Some new source"),
        ("Trade show", "Trade show"),
    ],
)
def test_a_lead_source_shows_as_words(code: str, words: str):
    assert lead_source_label(code) == words
    assert lead_source_label(None) is None


def test_reasons_name_stage_and_source_in_words():
    stage = DEAL_PHRASES["stage"]
    assert stage.render("category", "decisionmakerboughtin") == "Decision maker bought-in"
    came = DEAL_PHRASES["lead_source"].render("category", "PAID_SOCIAL")
    assert came == "Contact came from: Paid social"
    assert CONTACT_PHRASES["lead_source"].render("category", "ORGANIC_SEARCH") == (
        "Came from: Organic search"
    )
    assert CONTACT_PHRASES["lead_source"].render("category", "referral") == "Came from a referral"
    assert reason_words("lead") == ("(lowers the score)", "(raises the score)")
    assert reason_words("deal") == ("(lowers the chance)", "(raises the chance)")


def test_a_rejected_row_reads_as_names_and_values_with_nothing_lost():
    row = {"contact_id": "C01049", "email": "=HYPERLINK(\"x\")", "page_views": 12,
           "score": 1.5, "vip": True, "extra": {"a": 1}}  # fmt: skip
    text = readable_row(json.dumps(row))
    assert text == (
        'contact_id: C01049; email: =HYPERLINK("x"); page_views: 12; score: 1.5; vip: yes; '
        'extra: {"a": 1}'
    )
    assert readable_row("a, b, c") == "a, b, c"  # a row shown as typed stays as it is
    assert readable_row(None) is None


def test_the_rejects_tab_holds_no_json_and_never_a_formula(tmp_path):
    rejects = pd.DataFrame(
        [["contacts", "file", 3, "email", "x", "email is not an email address",
          "value cleared", json.dumps({"email": "=1+1", "contact_id": "C1"})]],
        columns=REJECT_COLUMNS,
    )  # fmt: skip
    result = RunResult(run_id=1, as_of=pd.Timestamp("2026-10-31", tz="UTC"), source="file",
                       rejects=rejects)  # fmt: skip
    sheets, notes = workbook_sheets(result)
    assert sheets["Rejects"]["original row"].tolist() == ["email: =1+1; contact_id: C1"]
    path = write_workbook(tmp_path / "r.xlsx", sheets, notes)
    tab = load_workbook(path)["Rejects"]
    cell = next(
        c for row in tab.iter_rows() for c in row if c.value == "email: =1+1; contact_id: C1"
    )
    assert cell.data_type == "s"
    summary = load_workbook(path)["Summary"]
    assert summary["A2"].value == "Data up to" and summary["B2"].number_format == "yyyy-mm-dd"


def test_whole_numbers_show_without_decimals_and_a_count_of_prices_is_no_price():
    whole = pd.Series([120.0, 186.0])
    assert number_format("median_days_since_order", whole) == "#,##0"
    assert number_format("median_days_since_order", pd.Series([120.5, 3.0])) == "#,##0.00"
    assert number_format("distinct_prices", pd.Series([3, 8])) == "#,##0"
    assert number_format("lowest_weekly_price", pd.Series([12.0, 16.0])) == "#,##0.00"
    assert number_format("amount", pd.Series([2230, 1710])) == "#,##0.00"
    assert number_format("days_as_lead", pd.Series([18, 3], dtype="Int64")) == "#,##0"
    # a profit change of 0 (a kept price) is still money: it read "0" beside "12.40"
    assert number_format("profit_change_per_month", pd.Series([0.0, 0.0])) == "#,##0.00"
    assert number_format("unit_cost", pd.Series([4.0, 6.0])) == "#,##0.00"


def test_forecast_columns_are_money_in_the_workbook_and_in_sheets():
    """A yen shop's forecast showed "181,210.53" and, in one Sheets row, "0.00" beside
    "0": its columns name no money word, and Sheets made whole money "#,##0"."""
    from smbml_connect.connectors.gsheets.sheets import _number_spec
    from smbml_connect.money_words import shown_in

    fractions, zeros = pd.Series([181210.53, 14.71]), pd.Series([0.0, 0.0])
    for currency, money in (("JPY", "#,##0"), ("USD", "#,##0.00")):
        with shown_in(currency):
            for name in ("forecast", "high_80", "range_80", "actual", "expected", "hi95",
                         "monetary", "median_basket"):  # fmt: skip
                assert number_format(name, fractions) == money, (currency, name)
            assert number_format("low_95", zeros) == money  # the 0 beside 181,210.53
            assert _number_spec("low_95", zeros) == {"type": "NUMBER", "pattern": money}
            assert _number_spec("revenue", pd.Series([120.0, 80.0]))["pattern"] == money
            # not money: a whole score still reads 64, a median of orders 6
            assert _number_spec("score", pd.Series([64.0, 12.0]))["pattern"] == "#,##0"
            assert number_format("median_orders", pd.Series([6.0, 2.0])) == "#,##0"
            assert number_format("units_change_per_month", pd.Series([0.77, 0.0])) == "#,##0.00"


def test_the_model_card_says_what_its_measures_mean():
    card = {
        "model": "lead score", "why_this_learner": "LightGBM", "final_model": "refitted",
        "trained_at": "2026-12-06T12:05:15+00:00",
        "data": {"labelled_rows": 100, "label_rate": 0.2, "date_range": None},
        "split": {"how": "time split", "test_rows": 20},
        "held_out": {"auc": 0.78, "pr_auc": 0.64, "brier": 0.16, "calibration_error": 0.05,
                     "lift_top_decile": 2.6},
        "baseline_brier": 0.2, "calibration": {"method": "isotonic"},
        "features": [], "ignored_columns": {}, "warnings": [],
    }  # fmt: skip
    rows = dict(model_card_rows(card, "leads").itertuples(index=False))
    assert "PR-AUC" not in rows and "Calibration method" not in rows
    pr = next(k for k in rows if "PR-AUC" in k)
    assert pr.startswith("How often high scores were right")
    calibration = next(v for k, v in rows.items() if "(calibration)" in k)
    assert calibration.startswith("a stepped curve fitted to past outcomes")
    assert rows["Trained at"] == "2026-12-06 12:05 UTC"
    assert all(np.char.find(list(rows), "_") < 0)


def test_the_readme_states_the_risk_levels_the_tab_uses():
    """The Customer value tab's Risk level had no stated cut-offs: the README gives them, and
    they are the ones the step applies."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    flat = " ".join(readme.split())
    assert "High (churn risk 70% or more), Medium (40% to under 70%) or Low (under 40%)" in flat
    assert [_risk_label(r) for r in (0.7, 0.6994, 0.4, 0.3994)] == [
        "High",
        "Medium",
        "Medium",
        "Low",
    ]
    # a level follows the risk as shown: 69.96% shows as 70.0%, which is High
    assert _risk_label(0.6996) == "High" and _risk_label(0.3996) == "Medium"
