"""Small tables: learner, blend and calibrator from one cross-validation (cross-fitting)."""

from __future__ import annotations

import json

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from smbml_connect.analytics.leads.scoring import CROSS_FIT_ROWS, LeadScorer
from smbml_connect.analytics.leads.selection import group_folds
from smbml_connect.analytics.shared.learners import Blend, GradientBoosting, learner_from_dict
from smbml_connect.analytics.shared.metrics import calibration_error
from smbml_connect.analytics.shared.tabular import TabularEncoder
from smbml_connect.errors import DataValidationError


def _straight_and_stepped(n: int, seed: int) -> pd.DataFrame:
    """A chance that rises along one number and jumps inside a band of another."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.uniform(0, 100, n)
    z = 1.2 * a + 1.5 * ((b > 40) & (b < 60)) - 1.0
    return pd.DataFrame(
        {
            "a": a,
            "b": b,
            "noise": rng.normal(size=n),
            "won": rng.uniform(size=n) < 1 / (1 + np.exp(-z)),
        }
    )


def test_a_straight_effect_and_a_step_get_a_blend_that_beats_either_alone():
    train, fresh = _straight_and_stepped(3000, seed=1), _straight_and_stepped(4000, seed=2)
    scorer = LeadScorer().fit(train, "won")
    assert len(train) < CROSS_FIT_ROWS
    assert scorer.card_["learner"] == "blend"
    assert "cross-validation" in scorer.card_["why_this_learner"]
    y = fresh["won"].to_numpy().astype(int)
    ours = roc_auc_score(y, scorer.predict_proba(fresh))
    for alone in ("logistic", "lightgbm"):
        single = LeadScorer(model=alone).fit(train, "won")
        assert ours > roc_auc_score(y, single.predict_proba(fresh))


def test_a_blend_explains_itself_and_saves_as_text():
    train = _straight_and_stepped(2000, seed=3)
    scorer = LeadScorer().fit(train, "won")
    blend = scorer.learner_
    assert isinstance(blend, Blend)
    X = scorer.encoder_.transform(train)
    parts = blend._parts()
    assert sum(w for w, _ in parts) == pytest.approx(1.0)
    expected = sum(w * part.contributions(X) for w, part in parts)
    assert np.allclose(blend.contributions(X), expected)
    # The reasons are in log-odds: the contributions add up to the blend's score up to a
    # constant per part (each part's mean effect), so their order follows the score.
    z = np.log(blend.raw(X) / (1 - blend.raw(X)))
    assert np.corrcoef(z, blend.contributions(X).sum(axis=1))[0, 1] > 0.9
    loaded = LeadScorer.from_json(scorer.to_json())
    assert np.allclose(loaded.predict_proba(train), scorer.predict_proba(train))
    assert loaded.score(train.head(30))["reasons"].equals(scorer.score(train.head(30))["reasons"])
    again = learner_from_dict(json.loads(json.dumps(blend.to_dict())), scorer.encoder_.plans_)
    assert np.allclose(again.raw(X), blend.raw(X))


def test_groups_stay_in_one_fold():
    groups = np.repeat(np.arange(50), 4)
    folds = group_folds(groups, np.random.default_rng(0))
    assert len(folds) == 5
    seen = np.concatenate([check for _, check in folds])
    assert sorted(seen.tolist()) == list(range(200))  # every row checked once
    for fit_rows, check in folds:
        assert not set(groups[fit_rows]) & set(groups[check])


def test_small_tables_trees_split_categories_as_hist_gradient_boosting_does():
    # The cross-validated trees sort a category's values by smoothed rate even when there
    # are three or four of them, with no group floor or categorical L2 beyond the leaf's
    # (resume callback table: AUC 0.708 -> 0.713 in 5-fold, HistGradientBoosting 0.710);
    # the size rule's LightGBM keeps LightGBM's 100 / 10 / 10 / 4. The small-table values
    # must win over the general ones, not the other way round.
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"job": rng.choice(list("abcdefgh"), 600), "x": rng.normal(size=600)})
    y = (rng.uniform(size=600) < 0.3).astype(int)
    encoder = TabularEncoder().fit(frame)
    X = encoder.transform(frame)
    texts = {}
    for fine in (False, True):
        model = GradientBoosting(encoder.plans_, rounds=5, fine_categories=fine).fit(X, y)
        texts[fine] = model.to_dict()["model_text"]
        # A size-rule model saves as on main, so the demo's version tags stay put.
        assert ("fine_categories" in model.to_dict()) is fine
    for setting in (
        "min_data_per_group: 1]",
        "cat_smooth: 10]",
        "cat_l2: 0]",
        "max_cat_to_onehot: 1]",
    ):
        assert f"[{setting}" in texts[True]
    for setting in (
        "min_data_per_group: 100]",
        "cat_smooth: 10]",
        "cat_l2: 10]",
        "max_cat_to_onehot: 4]",
    ):
        assert f"[{setting}" in texts[False]
    # One thread each: the scorer runs two at once, and on small tables LightGBM's own
    # threads mostly wait on each other (resume callback fit: 92 s -> 9 s on two cores).
    assert "[num_threads: 1]" in texts[True] and "[num_threads: 1]" not in texts[False]
    saved = GradientBoosting.from_dict(json.loads(json.dumps(model.to_dict())), encoder.plans_)
    assert saved.fine_categories


def test_a_fold_with_one_outcome_gets_its_rate_not_an_error():
    # Few leads seen many times: a fold's fitting rows can all share one outcome, and
    # the logistic regression cannot be fitted on them.
    X = np.arange(40.0).reshape(-1, 1)
    y = np.array([1] * 8 + [0] * 32)
    encoder = TabularEncoder().fit(pd.DataFrame({"x": X[:, 0]}))
    folds = [(np.arange(10, 40), np.arange(10)), (np.arange(20), np.arange(20, 40))]
    from smbml_connect.analytics.shared.learners import Logistic

    chances, _, _ = Logistic(encoder.plans_).out_of_fold(X, y, folds)
    assert np.allclose(chances[:10], 0.0)  # its fitting rows were all "no"
    assert chances[20:].max() < 0.5


def _rare_outcome(n: int, seed: int) -> pd.DataFrame:
    """About 5% yes, from a dozen yes/no columns and a job of twelve values (resume-like)."""
    rng = np.random.default_rng(seed)
    flags = rng.uniform(size=(n, 12)) < 0.5
    job = rng.integers(0, 12, n)
    z = (
        -3.0
        + flags[:, :6] @ rng.normal(0, 0.25, 6)
        + rng.normal(0, 0.6, 12)[job]
        + 0.4 * flags[:, 0] * flags[:, 1]
    )
    frame = pd.DataFrame(flags, columns=[f"flag{i}" for i in range(12)])
    frame["job"] = np.array(list("abcdefghijkl"))[job]
    frame["yes"] = rng.uniform(size=n) < 1 / (1 + np.exp(-z))
    return frame


def test_cross_validated_trees_take_the_rounds_with_the_best_out_of_fold_auc():
    # Candidates are chosen by out-of-fold AUC and calibrated afterwards, so the trees'
    # rounds are chosen by it too. Log loss stopped far earlier on rare outcomes (here
    # after 8 rounds; on the resume callback table after 44-184 where AUC rose to 400).
    frame = _rare_outcome(2500, seed=0)
    y = frame.pop("yes").to_numpy().astype(int)
    encoder = TabularEncoder().fit(frame)
    X = encoder.transform(frame)
    folds = group_folds(np.arange(len(y)), np.random.default_rng(0))
    model = GradientBoosting(encoder.plans_, leaves=4, fine_categories=True)
    chances, rounds = model.out_of_fold(X, y, folds)
    # The reference: every fold model scored in full at every tenth round count.
    params = model._params(len(y)) | {"metric": "None"}
    data = lgb.Dataset(X, y, categorical_feature=[encoder.feature_names.index("job")])
    boosters = lgb.cv(params, data, num_boost_round=400, folds=folds, return_cvbooster=True)
    auc = {}
    for count in range(10, 401, 10):
        pooled = np.zeros(len(y))
        for (_, check), booster in zip(folds, boosters["cvbooster"].boosters, strict=True):
            pooled[check] = booster.predict(X[check], num_iteration=count)
        auc[count] = roc_auc_score(y, pooled)
    best = max(auc, key=auc.__getitem__)
    assert rounds == best
    assert roc_auc_score(y, chances) == pytest.approx(auc[best])


def test_cross_validated_trees_that_stop_early_are_scored_on_the_trees_they_built():
    # A fold model stops when no leaf can be split (here: 32 fitting rows, and a leaf
    # needs 20), long before the 400 rounds checked. Its chances are its own trees'
    # (not a block it does not have), and the rounds returned are rounds that exist.
    rng = np.random.default_rng(11)
    frame = pd.DataFrame({"x": rng.normal(size=240)})
    y = (rng.uniform(size=240) < 1 / (1 + np.exp(-2 * frame["x"].to_numpy()))).astype(int)
    encoder = TabularEncoder().fit(frame)
    X = encoder.transform(frame)
    rows = np.arange(240)
    checks = [rows[:8], rows[8:40], rows[40:140], rows[140:]]
    folds = [(np.setdiff1d(rows[:40], c) if i == 0 else np.setdiff1d(rows, c), c)
             for i, c in enumerate(checks)]  # fmt: skip
    model = GradientBoosting(encoder.plans_, leaves=4, fine_categories=True)
    chances, rounds = model.out_of_fold(X, y, folds)
    params = model._params(len(y)) | {"metric": "None"}
    boosters = lgb.cv(params, lgb.Dataset(X, y), num_boost_round=400, folds=folds,
                      return_cvbooster=True)["cvbooster"].boosters  # fmt: skip
    built = [b.current_iteration() for b in boosters]
    assert built[0] == 1 and min(built[1:]) > 1  # the 32-row fold stopped at its first tree
    assert rounds <= max(built)
    for (_, check), booster in zip(folds, boosters, strict=True):
        assert np.allclose(chances[check], booster.predict(X[check], num_iteration=rounds))
    # Every fold stopped at its first tree: one round, not the first checkpoint's ten
    # (the kept model is refitted with these rounds, and would grow trees none was judged by).
    tiny = [(np.setdiff1d(rows[:40], c), c) for c in np.array_split(rows[:40], 5)]
    _, rounds = model.out_of_fold(X[:40], y[:40], tiny)
    assert rounds == 1


def _weak_signal_with_random_blanks(n: int, seed: int, columns: int = 4) -> pd.DataFrame:
    """Like the alcohol abuse table: a weak signal in a few of many columns, 10% of every
    number's cells blank at random (a blank says nothing about the outcome)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, columns))
    z = -1.8 + 0.25 * X[:, 0] + 0.2 * X[:, 1]
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(columns)])
    frame = frame.mask(rng.uniform(size=frame.shape) < 0.1)
    frame["yes"] = rng.uniform(size=n) < 1 / (1 + np.exp(-z))
    return frame


def test_blanks_get_their_own_columns_only_where_they_tell_something():
    # Blanks at random: 0/1 "was blank" columns are noise the penalty must shrink
    # (alcohol abuse, 26 columns, 5-fold AUC 0.586 with them, 0.589 without). Blanks that
    # mark the likelier outcome (no phone given) keep them.
    from smbml_connect.analytics.shared.learners import Logistic

    frame = _weak_signal_with_random_blanks(3000, 9, columns=20)
    y = frame.pop("yes").to_numpy().astype(int)
    encoder = TabularEncoder().fit(frame)
    folds = group_folds(np.arange(len(y)), np.random.default_rng(0))
    _, _, flags = Logistic(encoder.plans_).out_of_fold(encoder.transform(frame), y, folds)
    assert not flags
    telling = frame.copy()
    telling.loc[y == 1, "x5"] = np.nan  # every yes left x5 blank
    X = encoder.transform(telling)
    _, _, flags = Logistic(encoder.plans_).out_of_fold(X, y, folds)
    assert flags
    # The choice travels with the kept model (alone or in a blend), and saves.
    from smbml_connect.analytics.leads.selection import Choice

    for weight in (1.0, 0.5):
        choice = Choice(weight, 0.1, [(4, 20)], np.zeros(len(y)), {}, missing_flags=False)
        model = choice.learner(encoder.plans_, 0).fit(encoder.transform(frame), y)
        lines = model if isinstance(model, Logistic) else model.lines_
        assert not lines.missing_flags and not any(s.get("flag") for s in lines.columns_)
        again = learner_from_dict(json.loads(json.dumps(model.to_dict())), encoder.plans_)
        assert np.allclose(again.raw(X), model.raw(X))
        assert isinstance(again, Logistic | Blend) and not again.missing_flags


def test_cross_fitted_calibration_keeps_every_distinction_the_learner_made():
    # Over 5,000 rows the old cross-fitted calibrator was isotonic: its 17-57 steps tied
    # leads the learner had ranked apart (alcohol abuse, 5-fold: AUC 0.5753 against the
    # learner's own 0.5801). The beta calibrator is strictly increasing.
    train = _weak_signal_with_random_blanks(6000, 7)
    fresh = _weak_signal_with_random_blanks(4000, 8)
    scorer = LeadScorer().fit(train, "yes")
    assert scorer.card_["calibration"]["method"] in ("beta", "platt")
    y = fresh["yes"].to_numpy().astype(int)
    raw = scorer.learner_.raw(scorer.encoder_.transform(fresh))
    calibrated = scorer.predict_proba(fresh)
    assert len(np.unique(calibrated)) == len(np.unique(raw))
    assert roc_auc_score(y, calibrated) == pytest.approx(roc_auc_score(y, raw), abs=1e-12)
    assert calibration_error(y, calibrated) < 0.03


def test_a_beta_calibrated_scorer_is_saved_so_that_older_versions_refuse_it():
    """An install from before beta calibration read any calibrator that was not isotonic as
    Platt's: a model saved as version 2 with a beta calibrator gave chances 0.16 off there,
    without a word. Version 3 is refused by those installs; others keep version 2."""
    scorer = LeadScorer().fit(_weak_signal_with_random_blanks(3000, 11), "yes")
    saved = json.loads(scorer.to_text())
    assert saved["calibration"]["kind"] == "beta" and saved["version"] == 3
    rows = _weak_signal_with_random_blanks(200, 12)
    loaded = LeadScorer.from_text(json.dumps(saved))
    assert np.array_equal(loaded.predict_proba(rows), scorer.predict_proba(rows))
    platt = dict(saved, version=2, calibration={"kind": "platt", "a": 1.0, "b": 0.0})
    assert json.loads(LeadScorer.from_text(json.dumps(platt)).to_text())["version"] == 2
    unknown = dict(saved, calibration={"kind": "venn_abers"})
    with pytest.raises(DataValidationError, match="newer version"):
        LeadScorer.from_text(json.dumps(unknown))


def test_the_highest_out_of_fold_auc_wins_without_a_lead_asked_of_the_trees(monkeypatch):
    # A 0.005 lead was asked of trees while the sample's deals were cross-fitted; they no
    # longer are, and on the public tables it kept the line where blends that led by
    # 0.001-0.004 also led on held-out rows (flchain 0.8411 -> 0.8421 in 5-fold).
    from smbml_connect.analytics.leads import selection
    from smbml_connect.analytics.shared.learners import Logistic

    rng = np.random.default_rng(12)
    y = (rng.uniform(size=2000) < 0.3).astype(int)
    signal = y + rng.normal(0, 1.6, 2000)
    lines = 1 / (1 + np.exp(-(signal + rng.normal(0, 0.3, 2000))))
    trees = 1 / (1 + np.exp(-(signal + rng.normal(0, 0.3, 2000))))
    monkeypatch.setattr(Logistic, "out_of_fold", lambda self, X, y, folds: (lines, 0.1, True))
    monkeypatch.setattr(GradientBoosting, "out_of_fold", lambda self, X, y, folds: (trees, 50))
    encoder = TabularEncoder().fit(pd.DataFrame({"x": np.zeros(2000)}))
    choice = selection.choose_learner(encoder.plans_, np.zeros((2000, 1)), y, [], True, 0)
    best = max(choice.auc, key=choice.auc.__getitem__)
    assert 0 < choice.auc[best] - choice.auc[1.0] < 0.005  # a small lead, as on flchain
    assert choice.weight == best != 1.0


def test_a_table_too_small_for_trees_is_cross_validated_over_ten_folds():
    # Only the logistic regression is tried there, so 10 folds cost a quarter of a
    # second, and each fit sees 90% of a few hundred rows: on affairs (480 rows) the penalty chosen
    # stopped changing with the shuffle (C 0.03-0.3 by outer fold with 5 folds, 0.1 in all
    # with 10). Tables with trees keep 5 folds.
    small = LeadScorer().fit(_weak_signal_with_random_blanks(500, 21), "yes")
    assert small.card_["learner"] == "logistic"
    assert "10-fold cross-validation on 500 labelled rows" in small.card_["why_this_learner"]
    large = LeadScorer().fit(_straight_and_stepped(1500, seed=22), "won")
    assert "5-fold cross-validation" in large.card_["why_this_learner"]


def test_no_more_folds_than_groups():
    # A few deals seen many times: fewer groups than folds must not leave a fold empty.
    groups = np.repeat(np.arange(3), 10)
    folds = group_folds(groups, np.random.default_rng(0), 5)
    assert len(folds) == 3
    assert all(len(check) == 10 for _, check in folds)
