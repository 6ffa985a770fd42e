"""LeadScorer on users' own tables, and the contact lead model on the sample business."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from smbml_connect.analytics.leads.contact_features import (
    CONTACT_PHRASES,
    contact_snapshot,
    conversion_times,
    lead_scoring_frame,
    lead_training_frame,
)
from smbml_connect.analytics.leads.scoring import LeadScorer, beats_baseline, parse_target
from smbml_connect.analytics.shared.metrics import calibration_error
from smbml_connect.column_labels import column_label
from smbml_connect.errors import DataValidationError, NotEnoughDataError, NotFittedError
from smbml_connect.sample import SampleBusiness, as_it_looked
from smbml_connect.steps.leads import (
    DEAL_WIN,
    _fairness_table,
    _no_better_than_guessing,
    _quality_sentence,
    model_card_rows,
)


def excel_table(n: int, seed: int = 1) -> pd.DataFrame:
    """The kind of table a user pastes: numbers as text, yes/no, dates, ids, blanks."""
    rng = np.random.default_rng(seed)
    visits = rng.poisson(3, n)
    source = rng.choice(["Ads", "Referral", "Web"], n)
    vip = rng.choice(["yes", "no"], n)
    z = 0.45 * visits + 1.2 * (source == "Referral") + 0.6 * (vip == "yes") - 2.4
    won = rng.uniform(size=n) < 1 / (1 + np.exp(-z))
    frame = pd.DataFrame(
        {
            "Customer ID": [f"X{i:05d}" for i in range(n)],
            "Visits": [f"{v:,}" for v in visits],
            "Source": source,
            "Signed up": (
                pd.Timestamp("2025-01-01") + pd.to_timedelta(np.sort(rng.uniform(0, 300, n)), "D")
            ).strftime("%Y-%m-%d"),
            "VIP": vip,
            "Spend": [f"${v:,.2f}" for v in rng.gamma(2, 50, n)],
            "Outcome": np.where(won, "won", "lost"),
        }
    )
    frame.loc[rng.uniform(size=n) < 0.05, "Spend"] = ""
    frame.loc[: n // 20, "Outcome"] = None  # not decided yet: scored, not learnt from
    return frame


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return excel_table(4000)


@pytest.fixture(scope="module")
def fitted(table: pd.DataFrame) -> LeadScorer:
    return LeadScorer(random_state=3).fit(table, "Outcome", time_column="Signed up")


def test_scores_any_table_with_reasons(fitted: LeadScorer, table: pd.DataFrame):
    scored = fitted.score(table)
    assert list(scored.columns) == ["probability", "score", "tier", "reasons"]
    assert scored["probability"].between(0, 1).all()
    assert (scored["score"] == np.rint(100 * scored["probability"])).all()
    assert set(scored["tier"]) <= {"A", "B", "C", "D"}
    assert scored["reasons"].map(len).between(1, 3).all()
    # Each reason says in words which way it moved the score; no sign before it to read
    # backwards ("+ No activity yet").
    said = [r for reasons in scored["reasons"] for r in reasons]
    assert all(r.endswith(("(raises the score)", "(lowers the score)")) for r in said)
    assert not any(r[:2] in ("+ ", "- ") for r in said)
    referral = scored["reasons"][table["Source"] == "Referral"].map(" ".join)
    assert referral.str.contains(r"Source: Referral \(raises the score\)").mean() > 0.5
    assert "Customer ID" in fitted.card_["ignored_columns"]
    kinds = {f["name"]: f["kind"] for f in fitted.card_["features"]}
    assert kinds == {
        "Visits": "number", "Source": "category", "VIP": "bool", "Spend": "number",
    }  # fmt: skip


def _reasons_one_row_at_a_time(scorer: LeadScorer, row: np.ndarray) -> list[str]:
    """The reasons as the docs define them, worked out slowly and plainly for one row."""
    effects = []
    for value, table in zip(row, scorer.learner_.effects_, strict=True):
        if np.isnan(value):
            effects.append(table["missing"])
        elif "codes" in table:
            effects.append(table["codes"][min(max(int(value), 0), len(table["codes"]) - 1)])
        else:
            passed = sum(edge <= value for edge in table["edges"])
            effects.append(table["values"][passed])
    ranked = sorted(range(len(row)), key=lambda j: (-abs(effects[j]), j))[:3]
    texts = []
    for j in ranked:
        if abs(effects[j]) < 0.01:
            continue
        plan = scorer.encoder_.plans_[j]
        value = row[j] if plan.kind == "category" else np.round(row[j], 2)
        way = "raises" if effects[j] > 0 else "lowers"
        texts.append(f"{plan.describe(value)} ({way} the score)")
    return texts


def test_reasons_are_each_rows_largest_effects_largest_first(
    fitted: LeadScorer, table: pd.DataFrame
):
    odd = table.head(3).assign(Source="Radio", VIP=None)  # unseen and blank: no effect
    rows = pd.concat([table.iloc[::7], odd])  # also blank Spend cells and every source
    X = fitted.encoder_.transform(rows)
    expected = [_reasons_one_row_at_a_time(fitted, x) for x in X]
    assert fitted.score(rows)["reasons"].tolist() == expected
    assert any(len(r) < 3 for r in expected)
    assert any(
        "Spend" in " ".join(r) for r, x in zip(expected, rows["Spend"], strict=True) if not x
    )
    top, size = LeadScorer._top(np.array([[1.0, 3, 3, 2], [0, 0, 0, 0], [0.5, 0, 0, 4]]), 3)
    assert top.tolist() == [[1, 2, 3], [0, 1, 2], [3, 0, 1]]  # ties: the leftmost column first
    assert size.tolist() == [[3, 3, 2], [0, 0, 0], [4, 0.5, 0]]


def test_top_tier_converts_more(fitted: LeadScorer, table: pd.DataFrame):
    known = table["Outcome"].notna()
    scored = fitted.score(table[known])
    won = table.loc[known, "Outcome"].eq("won")
    rates = won.groupby(scored["tier"]).mean()
    assert rates["A"] > rates["B"] > rates["C"] > rates["D"]


def test_model_card_holds_what_it_promises(fitted: LeadScorer, table: pd.DataFrame):
    card = fitted.card_
    assert card["split"]["how"].startswith("time split")
    for name in ("auc", "pr_auc", "brier", "calibration_error", "lift_top_decile"):
        assert card["held_out"][name] is not None
    assert 0.65 < card["held_out"]["auc"] < 0.9
    assert card["held_out"]["brier"] < card["baseline_brier"]
    assert card["data"]["unlabelled_rows"] == 201
    assert card["data"]["date_range"][0][:10] == table["Signed up"][table["Outcome"].notna()].min()
    assert sum(f["importance"] for f in card["features"]) == pytest.approx(1, abs=1e-3)
    assert card["learner"] == "lightgbm"
    assert card["split"]["test_groups"] == card["split"]["test_rows"]  # a row per customer
    json.dumps(card)  # the card is stored as JSON


def test_same_seed_same_model_and_text_round_trip(table: pd.DataFrame, fitted: LeadScorer):
    again = LeadScorer(random_state=3).fit(table, "Outcome", time_column="Signed up")
    assert np.array_equal(again.predict_proba(table), fitted.predict_proba(table))
    text = fitted.to_json()
    assert json.loads(text)["learner"]["model_text"].startswith("tree")
    loaded = LeadScorer.from_json(text)
    assert np.allclose(loaded.predict_proba(table), fitted.predict_proba(table))
    assert loaded.score(table.head(50))["reasons"].equals(fitted.score(table.head(50))["reasons"])


def test_small_tables_get_a_logistic_model_that_also_saves(table: pd.DataFrame):
    small = table.iloc[:300]
    scorer = LeadScorer().fit(small, "Outcome")
    assert scorer.card_["learner"] == "logistic"
    assert "LightGBM is tried from 1,000 labelled rows" in scorer.card_["why_this_learner"]
    assert scorer.card_["split"]["how"].startswith("random split")
    loaded = LeadScorer.from_json(scorer.to_json())
    assert np.allclose(loaded.predict_proba(table), scorer.predict_proba(table))
    assert scorer.score(small)["reasons"].map(len).max() == 3
    older = json.loads(scorer.to_json()) | {"version": 1}  # its logistic read numbers otherwise
    with pytest.raises(DataValidationError, match="earlier version"):
        LeadScorer.from_json(json.dumps(older))


def test_with_a_time_split_both_learners_are_tried_and_the_better_kept():
    linear = LeadScorer().fit(excel_table(2000, seed=2), "Outcome", time_column="Signed up")
    assert linear.card_["learner"] == "logistic"
    assert "both were fitted" in linear.card_["why_this_learner"]
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 100, 2000)
    won = rng.uniform(size=2000) < np.where((x > 40) & (x < 60), 0.8, 0.1)
    bump = LeadScorer().fit(
        pd.DataFrame({"x": x, "noise": rng.normal(size=2000), "won": won}), "won"
    )
    # A straight line cannot bend at 40 and 60. Without a time column the choice is
    # cross-validated: trees alone (both shapes, averaged).
    assert bump.card_["why_this_learner"].startswith("LightGBM: the highest AUC")
    assert "a mix of 50% logistic regression and 50% LightGBM 0." in bump.card_["why_this_learner"]
    p = bump.predict_proba(pd.DataFrame({"x": [20.0, 50.0, 80.0], "noise": 0.0}))
    assert p[1] > 0.6 and p[0] < 0.25 and p[2] < 0.25


def test_logistic_reads_numbers_beyond_the_training_range_as_its_ends():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 10, 400)
    won = rng.uniform(size=400) < 1 / (1 + np.exp(-(x - 5)))
    scorer = LeadScorer(model="logistic").fit(pd.DataFrame({"x": x, "won": won}), "won")
    p = scorer.predict_proba(pd.DataFrame({"x": [10.0, 1000.0, 0.0, -500.0, 5.0]}))
    assert p[0] == p[1] and p[2] == p[3]
    assert p[3] < p[4] < p[0]


def test_calibrated_on_data_with_known_chances():
    rng = np.random.default_rng(5)
    n = 30_000
    x = rng.normal(size=(n, 3))
    truth = 1 / (1 + np.exp(-(1.5 * x[:, 0] - np.abs(x[:, 1]) - 1)))
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(y=rng.uniform(size=n) < truth)
    scorer = LeadScorer().fit(frame.iloc[:20_000], "y")
    fresh = frame.iloc[20_000:]
    p = scorer.predict_proba(fresh)
    assert calibration_error(fresh["y"].to_numpy().astype(int), p) < 0.02
    assert np.abs(p - truth[20_000:]).mean() < 0.04


def test_target_values_people_use():
    assert parse_target(pd.Series(["Won", "lost", None, "closedwon"])).tolist()[:2] == [1.0, 0.0]
    assert parse_target(pd.Series(["yes", "no", "1", ""])).tolist()[:3] == [1.0, 0.0, 1.0]
    assert parse_target(pd.Series(["gold", "silver"]), positive="Gold").tolist() == [1.0, 0.0]
    with pytest.raises(DataValidationError, match=r"'gold'.*positive="):
        parse_target(pd.Series(["gold", "silver", "gold"], name="medal"))


def test_clear_errors(table: pd.DataFrame):
    with pytest.raises(NotFittedError):
        LeadScorer().score(table)
    with pytest.raises(NotEnoughDataError, match="at least 10 rows of each outcome"):
        LeadScorer().fit(table.iloc[100:130].assign(Outcome="won"), "Outcome")
    with pytest.raises(DataValidationError, match="column 'Result' not found"):
        LeadScorer().fit(table, "Result")
    with pytest.raises(KeyError, match="Visits"):
        LeadScorer().fit(table, "Outcome").score(table.drop(columns="Visits"))


def test_leaky_and_protected_columns_are_flagged(table: pd.DataFrame):
    rng = np.random.default_rng(0)
    known = table["Outcome"].eq("won")
    leaky = table.assign(
        **{"Emails after signing": np.where(known, 30, 2) + rng.poisson(2, len(table))},
        gender=rng.choice(["f", "m"], len(table)),
    )
    card = LeadScorer().fit(leaky, "Outcome").card_
    assert [s["feature"] for s in card["suspicious_features"]] == ["Emails after signing"]
    assert any("'gender' looks like a protected attribute" in w for w in card["warnings"])
    assert any("suspiciously well" in w for w in card["warnings"])


def test_fairness_report_per_group(fitted: LeadScorer, table: pd.DataFrame):
    report = fitted.fairness(table, "Outcome", "Source")
    assert set(report["group"]) == {"Ads", "Referral", "Web"}
    assert report["rows"].sum() == table["Outcome"].notna().sum()
    assert report["mean_score"].between(0, 100).all()
    assert report["observed_rate"].between(0, 1).all()


# -- the contact lead model on the sample business ------------------------------------


@pytest.fixture(scope="module")
def contact_model(business: SampleBusiness) -> LeadScorer:
    training = lead_training_frame(business.tables, business.as_of)
    return LeadScorer(phrases=CONTACT_PHRASES).fit(
        training.frame,
        "converted",
        time_column="snapshot_at",
        group_column="contact_id",
        fairness_column="country",
    )


def test_training_rows_only_use_the_past(business: SampleBusiness):
    frame = lead_training_frame(business.tables, business.as_of).frame
    first, _ = conversion_times(business.tables)
    converted = frame["contact_id"].map(first)
    assert (converted.isna() | (converted > frame["snapshot_at"])).all()  # not yet a customer
    assert (frame["snapshot_at"] <= business.as_of - pd.Timedelta(days=90)).all()
    row = frame.iloc[1234]
    acts = business.tables["activities"]
    mine = acts[
        (acts["contact_id"] == row["contact_id"]) & (acts["occurred_at"] < row["snapshot_at"])
    ]
    assert row["page_views"] == (mine["kind"] == "page_view").sum()
    assert row["emails_opened"] == (mine["kind"] == "email_open").sum()


def test_no_leakage_scores_hold_up_on_leads_as_they_looked(
    business: SampleBusiness, contact_model: LeadScorer
):
    """Scored as they looked 3 days after creation, held-out AUC holds; today's totals don't."""
    held_out = contact_model.card_["held_out"]["auc"]
    truth = business.truth["contacts"].set_index("contact_id")
    cut = pd.Timestamp(contact_model.card_["split"]["test_from"])  # the held-out contacts
    moment = truth["created_at"] + pd.Timedelta(days=3)
    newest = truth.index[
        (truth["created_at"] >= cut) & (moment <= business.as_of - pd.Timedelta(days=90))
    ]
    still_open = truth.loc[newest, "converted_at"].isna() | (
        truth.loc[newest, "converted_at"] > moment[newest]
    )
    ids = newest[still_open.to_numpy()]
    outcome = (truth.loc[ids, "converted_at"] <= moment[ids] + pd.Timedelta(days=90)).to_numpy()
    then = as_it_looked(business, 3)
    features = contact_snapshot(
        then, pd.DataFrame({"contact_id": ids, "at": moment[ids].to_numpy()})
    )
    ours = roc_auc_score(outcome, contact_model.predict_proba(features))
    assert abs(ours - held_out) < 0.06

    contacts = business.tables["contacts"].assign(
        customer=business.tables["contacts"]["lifecycle_stage"].eq("customer")
    )
    totals = ["lead_source", "country", "industry", "page_views", "sessions", "email_opens",
              "email_clicks", "form_submissions", "contact_id"]  # fmt: skip
    naive = LeadScorer().fit(contacts[[*totals, "customer"]], "customer", group_column="contact_id")
    naive_held_out = naive.card_["held_out"]["auc"]
    early = then["contacts"].set_index("contact_id").loc[ids].reset_index()[totals]
    naive_then = roc_auc_score(outcome, naive.predict_proba(early))
    assert naive_held_out - naive_then > 0.2  # the leak: great on paper, poor on new leads
    assert naive.card_["suspicious_features"]  # and the card says which column to distrust


def test_contact_model_card_and_fairness(contact_model: LeadScorer):
    card = contact_model.card_
    assert card["learner"] == "lightgbm"
    assert card["held_out"]["auc"] > 0.75
    assert card["held_out"]["lift_top_decile"] > 2
    names = {f["name"] for f in card["features"]}
    assert {"lead_source", "page_views", "days_since_created", "open_deals"} <= names
    assert not names & {"sessions", "email_opens"}  # CRM totals are never used
    groups = {g["group"] for g in card["fairness"]["groups"]}
    assert {"US", "GB", "DE"} <= groups


def test_held_out_leads_are_counted_as_leads_not_rows(
    business: SampleBusiness, contact_model: LeadScorer
):
    split = contact_model.card_["split"]
    frame = lead_training_frame(business.tables, business.as_of).frame
    first_seen = frame.groupby("contact_id")["snapshot_at"].min()
    newest = first_seen.index[first_seen >= pd.Timestamp(split["test_from"])]
    assert split["test_groups"] == len(newest)
    assert split["test_rows"] == frame["contact_id"].isin(newest).sum()
    assert split["test_rows"] > 2 * split["test_groups"]  # each lead at several ages
    sentence = _quality_sentence(contact_model.card_, "past leads")
    assert sentence.startswith(
        f"Tested on {len(newest):,} past leads the model had not seen (time split; "
        f"{split['test_rows']:,} held-out scorings, as each was scored at several ages): "
    )
    rows = dict(model_card_rows(contact_model.card_, "leads").to_numpy())
    assert rows["Leads held out"] == f"{len(newest):,}"
    assert rows["Held-out scorings"].startswith(f"{split['test_rows']:,} (leads scored at")


def test_the_fairness_tab_counts_leads_and_scorings_each_under_its_name(
    contact_model: LeadScorer,
):
    """A newcomer's review: "Leads held out" added up to 1,753, the held-out scorings, beside
    "Tested on 349 past leads". Both counts are shown, and each adds up to the model tab's."""
    table = _fairness_table(contact_model.card_["fairness"])
    split = contact_model.card_["split"]
    assert column_label("held_out_leads") == "Leads held out"
    assert column_label("held_out_scorings") == "Held-out scorings"
    assert table["held_out_leads"].sum() == split["test_groups"]
    assert table["held_out_scorings"].sum() == split["test_rows"]
    assert (table["held_out_leads"] < table["held_out_scorings"]).all()


def test_a_lead_whose_group_changed_counts_once_in_its_last_group():
    rows = LeadScorer._fairness_rows(
        pd.Series(["US", "US", "GB", "GB"]),
        np.array([0, 1, 0, 1]),
        np.array([0.2, 0.6, 0.3, 0.5]),
        np.array(["a", "a", "a", "b"]),  # lead a moved from US to GB
    )
    assert {r["group"]: (r["rows"], r["records"]) for r in rows} == {"US": (2, 0), "GB": (2, 2)}


def test_open_leads_are_scored_in_plain_words(business: SampleBusiness, contact_model: LeadScorer):
    leads = lead_scoring_frame(business.tables, business.as_of)
    customers = business.tables["contacts"]["lifecycle_stage"].eq("customer")
    assert not set(leads["contact_id"]) & set(
        business.tables["contacts"].loc[customers, "contact_id"]
    )
    scored = contact_model.score(leads)
    words = " ".join(scored["reasons"].map(" ".join))
    assert "Came from" in words and "Lead for" in words
    truth = business.truth["contacts"].set_index("contact_id")
    later = leads["contact_id"].map(truth["will_convert"]).astype(bool)
    assert roc_auc_score(later, scored["probability"]) > 0.7


def test_unreadable_values_are_named_and_the_rows_kept(table: pd.DataFrame):
    spoilt = table.copy()
    spoilt.loc[1500, "Visits"] = "lots"
    scorer = LeadScorer().fit(spoilt, "Outcome", time_column="Signed up")
    assert scorer.card_["data"]["labelled_rows"] == table["Outcome"].notna().sum()
    assert any(
        "column 'Visits' row 1500: 'lots' is not a number" in w for w in scorer.card_["warnings"]
    )
    assert len(scorer.score(spoilt)) == len(spoilt)


def test_model_version_names_the_fitted_model_not_the_time_it_was_fitted() -> None:
    from smbml_connect.steps.base import model_version

    monday = '{"card": {"trained_at": "2026-12-01T10:00:00+00:00"}, "coef": [0.5]}'
    tuesday = '{"card": {"trained_at": "2026-12-02T09:30:00+00:00"}, "coef": [0.5]}'
    other = '{"card": {"trained_at": "2026-12-01T10:00:00+00:00"}, "coef": [0.6]}'
    assert model_version(monday, "lead_score") == model_version(tuesday, "lead_score")
    assert model_version(monday, "lead_score") != model_version(other, "lead_score")
    nested = '{"scorer": "{\\"trained_at\\": \\"2026-12-01T10:00:00+00:00\\", \\"c\\": 1}"}'
    later = nested.replace("2026-12-01T10", "2026-12-03T11")
    assert model_version(nested, "deal_win") == model_version(later, "deal_win")


def test_the_contact_model_beats_guessing_on_the_same_held_out_leads(contact_model: LeadScorer):
    """Issue 24: 'Brier 0.163 (guessing the average: 0.158)' compared the held-out Brier
    with guessing on the training rows; the baseline is now the same held-out rows."""
    card = contact_model.card_
    assert beats_baseline(card)
    test_rate = card["held_out"]["positive_rate"]
    train_rate = (
        card["data"]["label_rate"] * card["data"]["labelled_rows"]
        - test_rate * card["split"]["test_rows"]
    ) / card["split"]["train_rows"]
    expected = test_rate * (1 - train_rate) ** 2 + (1 - test_rate) * train_rate**2
    assert card["baseline_brier"] == pytest.approx(expected, abs=1e-5)  # card rounds to 6 places
    assert _no_better_than_guessing(card, "past leads") is None


def test_a_model_no_better_than_guessing_says_so_and_gets_no_tiers():
    rng = np.random.default_rng(4)
    noise = pd.DataFrame({"a": rng.normal(size=600), "b": rng.normal(size=600)})
    noise["won"] = rng.uniform(size=600) < 0.3
    card = LeadScorer(model="logistic").fit(noise, "won").card_
    worse = {**card, "held_out": {**card["held_out"], "brier": card["baseline_brier"] + 0.01}}
    assert not beats_baseline(worse)
    text = _no_better_than_guessing(worse, "past leads")
    assert (
        text is not None and "no better than guessing" in text and "not sorted into tiers" in text
    )


def test_fairness_tab_shows_every_rate_in_one_unit(contact_model: LeadScorer):
    """Issue 24: mean_score 23.92 beside mean_predicted 0.24 and an observed 25%. Every rate
    is now a share of 1 named as a rate, which the workbook and report both show in %."""
    table = _fairness_table(contact_model.card_["fairness"])
    assert "mean_score" not in table.columns
    rates = [c for c in table.columns if "rate" in c]
    assert rates == ["predicted_rate", "observed_rate", "average_rate_gap"]
    assert table[rates].apply(lambda c: c.dropna().between(0, 1).all()).all()
    groups = pd.DataFrame(contact_model.card_["fairness"]["groups"])
    assert table["predicted_rate"].tolist() == groups["mean_predicted"].round(4).tolist()


def test_hubspot_win_probability_is_the_chance_in_percent_once():
    """The stored deal_win value is already in %: 92 was written to HubSpot as 9200."""
    prop = next(p for p in DEAL_WIN.outputs.properties if p.name == "smbml_win_probability")
    rows = pd.DataFrame(
        {"entity": ["deal"], "entity_id": ["D1"], "model": ["deal_win"], "value": [92.0]}
    )
    assert prop.take(rows).tolist() == [92.0]


def test_leads_showing_the_same_score_share_a_tier(fitted: LeadScorer, table: pd.DataFrame):
    """Audit of issue 24 (seed 102): a D sat above a C, both showing the same score, as
    tiers were cut on the unrounded chance."""
    scorer = LeadScorer.from_text(fitted.to_text())
    scored = scorer.score(table)
    spread = scored.groupby("score")["probability"].agg(["min", "max"])
    low, high = next((r["min"], r["max"]) for _, r in spread.iterrows() if r["max"] > r["min"])
    scorer.tiers_ = {**scorer.tiers_, "C": (low + high) / 2, "D": 0.0}
    scorer.tiers_["B"] = max(scorer.tiers_["B"], scorer.tiers_["C"])
    scorer.tiers_["A"] = max(scorer.tiers_["A"], scorer.tiers_["B"])
    again = scorer.score(table)
    assert (again.groupby("score")["tier"].nunique() == 1).all()


def test_calibration_of_a_mid_sized_table_keeps_the_learners_ranking():
    # 1,300 rows with 400 of the rarer outcome: isotonic steps would tie scores the learner
    # told apart (AUC lost) and follow noise; Platt scaling keeps every distinction.
    from smbml_connect.analytics.shared.learners import apply_calibrator, fit_calibrator

    rng = np.random.default_rng(5)
    score = rng.normal(size=1300)
    y = (rng.uniform(size=1300) < 1 / (1 + np.exp(-(1.5 * score - 0.9)))).astype(int)
    raw = 1 / (1 + np.exp(-score))
    fresh = rng.normal(size=1300)
    y_fresh = (rng.uniform(size=1300) < 1 / (1 + np.exp(-(1.5 * fresh - 0.9)))).astype(int)
    calibrated = apply_calibrator(fit_calibrator(raw, y), 1 / (1 + np.exp(-fresh)))
    assert roc_auc_score(y_fresh, calibrated) == pytest.approx(roc_auc_score(y_fresh, fresh))
    assert calibration_error(y_fresh, calibrated) < 0.04


def test_a_yes_no_column_named_like_an_identifier_is_a_feature():
    """The resume-callback table's `email` says whether the resume gave one: yes/no, a real
    signal; a column of addresses with the same name stays out."""
    from smbml_connect.analytics.shared.tabular import TabularEncoder

    frame = pd.DataFrame(
        {
            "email": ["yes", "no"] * 30,
            "phone": [f"+1 555 01{i:02d}" for i in range(60)],
            "contact_email": [f"p{i}@shop.test" for i in range(60)],
            "visits": range(60),
        }
    )
    encoder = TabularEncoder().fit(frame)
    kept = {plan.name for plan in encoder.plans_}
    assert kept == {"email", "visits"}
    assert "identifier" in encoder.ignored_["phone"] and "contact_email" in encoder.ignored_


def _deal_tables(stages: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    """Three contacts: C1 with one deal walked to a win, C2 with two open deals at different
    stages, C3 with an open deal whose stage history is missing."""
    day = pd.Timestamp("2025-01-01", tz="UTC")
    contacts = pd.DataFrame(
        {
            "contact_id": ["C1", "C2", "C3"],
            "lead_source": "referral",
            "country": "US",
            "industry": "retail",
            "company": None,
            "created_at": day,
        }
    )
    deals = pd.DataFrame(
        {
            "deal_id": ["D1", "D2", "D3", "D4"],
            "contact_id": ["C1", "C2", "C2", "C3"],
            "created_at": [day, day, day + pd.Timedelta(days=2), day],
            "closed_at": [day + pd.Timedelta(days=30), pd.NaT, pd.NaT, pd.NaT],
            "is_won": [True, False, False, False],
        }
    )
    tables = {
        "contacts": contacts,
        "activities": pd.DataFrame(columns=["contact_id", "occurred_at", "kind"]),
        "deals": deals,
    }
    if stages is not None:
        tables["deal_stages"] = stages
    return tables


def test_a_leads_deal_stage_is_its_furthest_open_deals_stage_as_known_then():
    """A won deal makes the contact a customer, so how far along its open deal is tells the
    lead model much; each snapshot sees only the stage entered by then and only open deals."""
    day = pd.Timestamp("2025-01-01", tz="UTC")
    stages = pd.DataFrame(
        [
            ("D1", "appointmentscheduled", 0), ("D1", "qualifiedtobuy", 10),
            ("D1", "contractsent", 20), ("D1", "closedwon", 30),
            ("D2", "appointmentscheduled", 0),
            ("D3", "appointmentscheduled", 2), ("D3", "qualifiedtobuy", 4),
            ("D3", "presentationscheduled", 6),
        ],
        columns=["deal_id", "stage", "days"],
    ).assign(entered_at=lambda f: day + pd.to_timedelta(f["days"], unit="D"))  # fmt: skip
    pairs = pd.DataFrame(
        {
            "contact_id": ["C1", "C1", "C1", "C1", "C2", "C2", "C3"],
            "at": [day + pd.Timedelta(days=d) for d in (5, 15, 25, 35, 1, 7, 7)],
        }
    )
    features = contact_snapshot(_deal_tables(stages), pairs)
    assert features["deal_stage"].tolist() == [
        "Appointment scheduled",  # the stages entered later are not known yet
        "Qualified to buy",
        "Contract sent",
        None,  # won and closed: no deal in progress
        "Appointment scheduled",  # D3 not opened yet
        "Presentation scheduled",  # D3 has passed more stages than D2
        "(stage unknown)",
    ]
    phrase = CONTACT_PHRASES["deal_stage"]
    assert phrase.render("category", "Contract sent") == "Has a deal at Contract sent"
    assert phrase.render("category", "(stage unknown)") == "Has a deal, stage unknown"
    assert phrase.render("category", None) == "No deal in progress"
    # Without a stage history nothing is guessed from today's stage (a closed deal's is its
    # answer): the feature is left out.
    assert "deal_stage" not in contact_snapshot(_deal_tables(None), pairs)


def test_a_deal_closed_then_reopened_is_no_deal_in_progress_while_closed():
    """Its closed_at is empty again after the reopening, so the history's "closed lost"
    had been skipped and the stage before it shown for the time it was closed (review)."""
    day = pd.Timestamp("2025-01-01", tz="UTC")
    stages = pd.DataFrame(
        [("D4", "contractsent", 0), ("D4", "closedlost", 10), ("D4", "appointmentscheduled", 60)],
        columns=["deal_id", "stage", "days"],
    ).assign(entered_at=lambda f: day + pd.to_timedelta(f["days"], unit="D"))  # fmt: skip
    pairs = pd.DataFrame(
        {"contact_id": ["C3"] * 3, "at": [day + pd.Timedelta(days=d) for d in (5, 20, 70)]}
    )
    features = contact_snapshot(_deal_tables(stages), pairs)
    assert features["deal_stage"].tolist() == ["Contract sent", None, "Appointment scheduled"]


def test_a_crms_current_stage_alone_is_not_a_stage_history():
    """HubSpot gives each deal's current stage only: a past snapshot then knows a stage
    only for deals still open today, and training read nearly every open deal as "stage
    unknown" while today's leads all had one (review). The feature is left out."""
    day = pd.Timestamp("2025-01-01", tz="UTC")
    current = pd.DataFrame(
        {
            "deal_id": ["D1", "D2", "D3", "D4"],
            "stage": ["closedwon", "contractsent", "qualifiedtobuy", "appointmentscheduled"],
            "entered_at": [day + pd.Timedelta(days=d) for d in (30, 40, 41, 42)],
        }
    )
    pairs = pd.DataFrame({"contact_id": ["C2"], "at": [day + pd.Timedelta(days=50)]})
    assert "deal_stage" not in contact_snapshot(_deal_tables(current), pairs)


def test_a_leads_reasons_name_its_open_deals_stage(
    business: SampleBusiness, contact_model: LeadScorer
):
    """The newcomer saw a lead score of 20 beside its deal's 88% with no word of the deal's
    progress: the lead model knows the deal's stage now, and its reasons say it."""
    from smbml_connect.analytics.leads.deals import DealWinModel

    leads = lead_scoring_frame(business.tables, business.as_of)
    scored = contact_model.score(leads, always=("deal_stage",)).set_index(leads["contact_id"])
    deals = (
        DealWinModel().fit(business.tables, business.as_of).predict(business.tables, business.as_of)
    )
    owner = business.tables["deals"].set_index("deal_id")["contact_id"]
    chance = deals.groupby(deals["deal_id"].map(owner))["score"].max()
    both = chance.index.intersection(scored.index)
    assert len(both) >= 10
    named = scored.loc[both, "reasons"].map(lambda r: any("Has a deal at" in t for t in r))
    assert named.all()
    assert "deal_stage" in {f["name"] for f in contact_model.card_["features"]}


def test_a_column_to_always_explain_is_among_every_row_reasons_where_it_has_a_value(
    fitted: LeadScorer, table: pd.DataFrame
):
    """A lead's open deal stage is always said (the step asks for it): the column takes the
    last place where its effect is not among the largest; rows without a value and the
    largest effects are left as they were."""
    plain = fitted.score(table)["reasons"]
    kept = fitted.score(table, always=("Spend",))["reasons"]
    X = fitted.encoder_.transform(table)
    j = [plan.name for plan in fitted.encoder_.plans_].index("Spend")
    # a value with an effect too small to have a direction says nothing: not forced
    moves = np.abs(fitted.learner_.contributions(X)[:, j]) >= 0.01
    has = table["Spend"].ne("").to_numpy() & moves
    assert 0 < (~moves & table["Spend"].ne("").to_numpy()).sum() < has.sum()
    says = kept.map(lambda r: any(t.startswith("Spend") for t in r)).to_numpy()
    assert says[has].all()
    assert (kept[~has] == plain[~has]).all()
    added = has & ~plain.map(lambda r: any(t.startswith("Spend") for t in r)).to_numpy()
    assert added.sum() > 100
    assert (kept[added].map(lambda r: r[:-1]) == plain[added].map(lambda r: r[:-1])).all()
    assert fitted.score(table, always=("not a column",))["reasons"].equals(plain)


def test_a_group_too_small_to_judge_shows_neither_gap_nor_auc():
    """find57 item 8: FR with 5 leads (23 scorings) showed no gap, with no reason, beside
    an AUC of 1."""
    rng = np.random.default_rng(0)
    groups = pd.Series(["US"] * 60 + ["FR"] * 23)
    y = np.array([0, 1] * 30 + [0, 1] * 11 + [1])
    p = np.clip(y * 0.6 + rng.uniform(0, 0.3, len(y)), 0, 1)  # FR ranks perfectly
    rows = {r["group"]: r for r in LeadScorer._fairness_rows(groups, y, p)}
    assert rows["US"]["auc"] is not None and rows["US"]["calibration_error"] is not None
    assert rows["FR"]["auc"] is None and rows["FR"]["calibration_error"] is None
