"""Small tables: learner, blend and calibrator from one cross-validation (cross-fitting)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from smbml_connect.analytics.leads.scoring import CROSS_FIT_ROWS, LeadScorer
from smbml_connect.analytics.leads.selection import group_folds
from smbml_connect.analytics.shared.learners import Blend, GradientBoosting, learner_from_dict
from smbml_connect.analytics.shared.tabular import TabularEncoder


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


def test_small_tables_trees_split_categories_on_groups_of_tens_of_rows():
    # The cross-validated trees let a category split on groups of 20 rows with light
    # smoothing (resume callback table: AUC 0.687 -> 0.703 in 5-fold with fixed rounds);
    # the size rule's LightGBM keeps LightGBM's 100 / 10 / 10. The small-table values
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
    assert "[min_data_per_group: 20]" in texts[True] and "[cat_smooth: 1]" in texts[True]
    assert "[min_data_per_group: 100]" in texts[False] and "[cat_smooth: 10]" in texts[False]
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

    chances, _ = Logistic(encoder.plans_).out_of_fold(X, y, folds)
    assert np.allclose(chances[:10], 0.0)  # its fitting rows were all "no"
    assert chances[20:].max() < 0.5
