"""The boosted correction of MBG/NBD: its history features, that it sees what MBG/NBD
cannot (regular buyers who stopped), that churn risk comes from it, and saving it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from smbml_connect.analytics.customers.value import (
    MODEL_LABELS,
    CustomerValueModel,
    daily_purchases,
    history_summary,
)
from smbml_connect.errors import DataValidationError

OPENED = pd.Timestamp("2023-01-01", tz="UTC")


def _clockwork_shop(customers: int = 1600, seed: int = 3) -> pd.DataFrame:
    """Customers who buy like clockwork (every 1, 2, 4 or 6 weeks, give or take a tenth)
    until they leave for good: a quiet spell of two gaps says they have left, which a
    Poisson-rate model (BG/NBD and kin) cannot see, and the trees can."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(customers):
        start = rng.uniform(0, 100)
        gap = rng.choice([1.0, 2.0, 4.0, 6.0])
        leaves = start + rng.exponential(60)
        week = start
        while week < min(leaves, 156):
            rows.append((f"c{i}", OPENED + pd.Timedelta(weeks=week), float(rng.gamma(4, 10))))
            week += gap * rng.uniform(0.9, 1.1)
    frame = pd.DataFrame(rows, columns=["contact_id", "ordered_at", "total"])
    return frame.assign(order_id=np.arange(len(frame)).astype(str), status="completed")


@pytest.fixture(scope="module")
def clockwork() -> tuple[pd.DataFrame, pd.Timestamp]:
    return _clockwork_shop(), OPENED + pd.Timedelta(weeks=130)


@pytest.fixture(scope="module")
def boosted_model(clockwork) -> CustomerValueModel:
    orders, as_of = clockwork
    # Pareto/NBD is left out only to keep the test quick: heavy buyers make it slow to fit.
    model = CustomerValueModel(holdout_days=182, candidates=("mbgnbd", "boosted"))
    return model.fit(orders[orders["ordered_at"] <= as_of], as_of)


def test_history_features_read_gap_regularity_and_how_overdue():
    days = pd.DataFrame(
        {
            "contact_id": ["a"] * 4 + ["b"],
            "day": [OPENED + pd.Timedelta(weeks=w) for w in (0, 2, 4, 7)] + [OPENED],
            "value": [10.0, 10.0, 10.0, 30.0, 5.0],
        }
    )
    summary = history_summary(days, OPENED + pd.Timedelta(weeks=13))
    a, b = summary.loc["a"], summary.loc["b"]
    assert a["mean_gap"] == pytest.approx(7 / 3)
    assert a["gap_sd"] == pytest.approx(np.std([2, 2, 3], ddof=1))
    assert a["overdue"] == pytest.approx(6 / (7 / 3))  # six weeks quiet, a gap is 2.33
    assert a["recency_share"] == pytest.approx(6 / 13)
    assert a["value_trend"] == pytest.approx(30 / 15)  # last purchase twice the mean
    assert (a["purchases_4w"], a["purchases_8w"], a["purchases_13w"]) == (0, 1, 4)
    assert np.isnan(b["gap_sd"]) and np.isnan(b["overdue"])  # one purchase: no gaps


def test_boosted_correction_sees_regular_buyers_leave_where_mbgnbd_cannot(clockwork, boosted_model):
    orders, as_of = clockwork
    report = boosted_model.card()["validation"]
    models = report["models"]
    assert report["chosen"] == "boosted"
    card = boosted_model.card()  # the card names the model that gave the counts
    assert card["purchase_model"] == "MBG/NBD corrected by boosted trees"
    assert card["still_a_customer_model"] == MODEL_LABELS[report["family"]]
    assert models["boosted"]["rmse"] < 0.9 * models["mbgnbd"]["rmse"]
    # The next 26 weeks, never seen by the fit.
    table = boosted_model.predict(26 * 7).set_index("contact_id")
    days = daily_purchases(orders)
    later = days[days["day"] > as_of]
    actual = later.groupby("contact_id").size().reindex(table.index, fill_value=0).to_numpy()
    s = boosted_model.summary_.loc[table.index]
    x, t_x, T = (s[c].to_numpy(float) for c in ("x", "t_x", "T"))
    btyd = boosted_model.btyd_
    btyd_rmse = np.sqrt(((btyd.expected_purchases(26, x, t_x, T) - actual) ** 2).mean())
    rmse = np.sqrt(((table["expected_purchases"].to_numpy() - actual) ** 2).mean())
    assert rmse < 0.95 * btyd_rmse
    # Churn risk comes from the corrected model: its chances are closer to what happened
    # (Brier score: mean squared error of a probability), and it ranks at least as well.
    quiet = (actual == 0).astype(float)
    btyd_risk = btyd.p_no_purchase(26, x, t_x, T)
    risk = table["churn_risk"].to_numpy()
    assert ((risk - quiet) ** 2).mean() < 0.6 * ((btyd_risk - quiet) ** 2).mean()
    assert roc_auc_score(quiet, risk) >= roc_auc_score(quiet, btyd_risk)
    assert ((risk >= 0) & (risk <= 1)).all()


@pytest.mark.parametrize("days", [30, 182, 365])
def test_boosted_churn_risk_never_exceeds_the_chance_of_being_gone(boosted_model, days):
    """P(no purchase) >= 1 - P(alive) at every horizon: whoever buys is still there."""
    table = boosted_model.predict(days)
    assert (table["churn_risk"] >= 1 - table["p_alive"] - 1e-9).all()
    assert table["p_alive"].between(0, 1).all()


def test_a_boosted_value_model_saves_and_predicts_the_same(boosted_model):
    again = CustomerValueModel.from_text(boosted_model.to_text())
    pd.testing.assert_frame_equal(boosted_model.predict(90), again.predict(90))


def test_a_value_model_saved_before_the_correction_is_refused_with_a_clear_line(boosted_model):
    data = json.loads(boosted_model.to_text())
    data["version"] = 1
    with pytest.raises(DataValidationError, match=r"saved as version 1.*fit it again"):
        CustomerValueModel.from_text(json.dumps(data))


def test_boosted_predictions_for_other_orders_match_those_of_the_fit(clockwork, boosted_model):
    """`predict(orders=...)` rebuilds the features and MBG/NBD's inputs per customer, so a
    customer's row does not depend on who else is in the orders."""
    orders = clockwork[0]  # with orders after as_of: predict leaves them out
    some = orders[orders["contact_id"].isin([f"c{i}" for i in range(0, 1600, 7)])]
    part = boosted_model.predict(90, orders=some).set_index("contact_id")
    whole = boosted_model.predict(90).set_index("contact_id").loc[part.index]
    columns = ["p_alive", "expected_purchases", "expected_value", "churn_risk"]
    pd.testing.assert_frame_equal(part[columns], whole[columns])
