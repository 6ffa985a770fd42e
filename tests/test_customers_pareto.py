"""Pareto/NBD: the published CDNOW estimates, its expectations against posterior draws, and
its place among the customer value model's candidates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_customers import _cdnow

from smbml_connect.analytics.customers.pareto import ParetoNBD
from smbml_connect.analytics.customers.value import MODEL_LABELS, CustomerValueModel

# Fader and Hardie (2005), "A note on deriving the Pareto/NBD model and related
# expressions": maximum-likelihood estimates on the 2,357-customer CDNOW sample, 39 weeks.
PARETO_NBD_PUBLISHED = {"r": 0.5533, "alpha": 10.5776, "s": 0.6061, "beta": 11.6650}
PARETO_NBD_LOG_LIKELIHOOD = -9594.98


def _histories(d: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return d["x"].to_numpy(float), d["t_x"].to_numpy(float), d["T"].to_numpy(float)


@pytest.fixture(scope="module")
def pareto() -> ParetoNBD:
    return ParetoNBD().fit(*_histories(_cdnow()))


def test_pareto_nbd_matches_the_published_cdnow_estimates(pareto):
    fit = pareto.fit_
    for name, value in PARETO_NBD_PUBLISHED.items():
        assert fit.params[name] == pytest.approx(value, rel=2e-3), name
    assert fit.log_likelihood == pytest.approx(PARETO_NBD_LOG_LIKELIHOOD, abs=0.01)
    assert fit.customers == 2357


def test_a_last_purchase_at_the_end_leaves_only_the_alive_part():
    """t_x = T: the customer cannot have left before T, so A0 = 0; taking log A0 as its
    first term there gives a likelihood above the published maximum on CDNOW."""
    model = ParetoNBD()
    params = np.array(list(PARETO_NBD_PUBLISHED.values()))
    x, T = np.array([1.0]), np.array([38.43])
    r, alpha, s, beta = params
    from scipy.special import gammaln

    alive_only = (
        gammaln(r + 1) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        - (r + 1) * np.log(alpha + T) - s * np.log(beta + T)
    )  # fmt: skip
    assert model._log_lik(params, x, T, T) == pytest.approx(alive_only)
    assert model._log_lik(params, x, T - 1, T) > alive_only  # leaving is possible again


def test_pareto_nbd_expectations_agree_with_posterior_draws(pareto):
    d = _cdnow().head(300)
    x, t_x, T = _histories(d)
    draws = pareto.simulate_purchases(39, x, t_x, T, 4000, np.random.default_rng(0))
    assert draws.mean() == pytest.approx(pareto.expected_purchases(39, x, t_x, T).mean(), rel=0.03)
    quiet = pareto.p_no_purchase(39, x, t_x, T)
    assert (draws == 0).mean() == pytest.approx(quiet.mean(), abs=0.01)
    assert (quiet >= 1 - pareto.p_alive(x, t_x, T) - 1e-12).all()


def test_pareto_nbd_stays_finite_for_heavy_buyers_either_side_of_alpha_beta():
    """Many purchases make the plain 2F1 terms overflow; Euler's form keeps them bounded."""
    x = np.array([0.0, 3.0, 400.0, 2000.0])
    t_x = np.array([0.0, 20.0, 70.0, 77.0])
    T = np.full(4, 78.0)
    for params in ([0.5, 10.0, 0.6, 30.0], [0.5, 30.0, 0.6, 10.0]):
        model = ParetoNBD()
        model.params_ = np.array(params)
        assert np.isfinite(model._log_lik(model.params_, x, t_x, T)).all(), params
        expected = model.expected_purchases(52, x, t_x, T)
        assert np.isfinite(expected).all() and (expected >= 0).all()
        assert model.p_alive(x, t_x, T)[2] > model.p_alive(x, np.array([5.0] * 4), T)[2]


def test_the_likelihood_stays_finite_where_scipys_hyp2f1_fails():
    """Regular heavy buyers lead the fit to large s and beta (nearly one dropout rate for
    all), where scipy's hyp2f1 returns nan for z near 1: the likelihood was nan there (a
    RuntimeWarning, and a fit that wandered for 26 s on 1,600 weekly buyers)."""
    from scipy.integrate import quad
    from scipy.special import hyp2f1

    from smbml_connect.analytics.customers.pareto import _log_dropout_integral

    params = np.array([2.162, 4.797, 320.5, 22026.0])  # met by such a fit
    x, t_x, T = np.array([0.0, 0.0, 3.0]), np.array([0.0, 0.0, 5.0]), np.array([31.3, 32.0, 35.4])
    z = (params[3] - params[1]) / params[3]
    assert np.isnan(
        hyp2f1(1.0, params[0] + params[2] + 1.0 - params[0], params[0] + params[2] + 1.0, z)
    )
    log_lik, alive = ParetoNBD()._parts(params, x, t_x, T)
    assert np.isfinite(log_lik).all() and (log_lik >= alive).all()
    # The integral it falls back on, against scipy's adaptive quadrature, and against the
    # hypergeometric route where that works (the published CDNOW estimates).
    r, alpha, s, beta = params
    for i in range(3):
        p, q = r + x[i], s + 1.0
        top = -p * np.log(alpha + t_x[i]) - q * np.log(beta + t_x[i])  # (beta+tau)^-q underflows

        def f(tau: float, p: float = p, q: float = q, top: float = top) -> float:
            return float(np.exp(-p * np.log(alpha + tau) - q * np.log(beta + tau) - top))

        expected = top + np.log(quad(f, t_x[i], T[i], epsrel=1e-12)[0])
        one = slice(i, i + 1)
        got = _log_dropout_integral(params, x[one], t_x[one], T[one])[0]
        assert got == pytest.approx(expected, abs=1e-6)
    cdnow = np.array(list(PARETO_NBD_PUBLISHED.values()))
    x, t_x, T = (
        np.array([0.0, 2.0, 14.0]),
        np.array([0.0, 10.0, 30.0]),
        np.array([38.0, 39.0, 39.0]),
    )
    model = ParetoNBD()
    near, far = model._log_a0(cdnow, x, t_x), model._log_a0(cdnow, x, T)
    by_hyp2f1 = near + np.log(-np.expm1(far - near))
    by_integral = np.log(cdnow[0] + cdnow[2] + x) + _log_dropout_integral(cdnow, x, t_x, T)
    assert by_integral == pytest.approx(by_hyp2f1, abs=1e-6)


def test_pareto_nbd_expectation_at_dropout_shape_one_is_the_limit():
    model = ParetoNBD()
    x, t_x, T = np.array([2.0]), np.array([30.43]), np.array([38.86])
    model.params_ = np.array([0.55, 10.58, 1.0, 11.67])
    at_one = model.expected_purchases(39, x, t_x, T)
    model.params_ = np.array([0.55, 10.58, 1.0 + 1e-6, 11.67])
    assert at_one == pytest.approx(model.expected_purchases(39, x, t_x, T), rel=1e-5)


def test_the_holdout_choice_weighs_pareto_nbd_by_squared_error(business):
    """Expected purchases are means, so the check that picks them uses squared error; mean
    absolute error is smallest at the median, which for counts with many zeros rewards
    predicting too few (MBG/NBD won CDNOW on it and fell 20% short on the next 39 weeks)."""
    model = CustomerValueModel().fit(business.tables["orders"], business.as_of)
    report = model.card()["validation"]
    models = report["models"]
    assert {"bgnbd", "mbgnbd", "pnbd", "naive"} <= set(models)
    eligible = {k: v["rmse"] for k, v in models.items() if k in model.candidates}
    assert report["chosen"] == min(eligible, key=eligible.__getitem__)
    families = {k: models[k]["rmse"] for k in ("bgnbd", "mbgnbd", "pnbd")}
    assert report["family"] == min(families, key=families.__getitem__)
    assert "root mean squared error" in report["why"] and "Pareto/NBD" in report["why"]
    # the report's "Model used" says what the chosen model assumes, not only its name
    assert report["why"].startswith(f"{MODEL_LABELS[report['chosen']]} (")
    assert "buy till you die" in report["why"] or "past rate" in report["why"]


def test_a_value_model_on_pareto_nbd_saves_and_predicts_the_same(business):
    model = CustomerValueModel(candidates=("pnbd",)).fit(business.tables["orders"], business.as_of)
    assert model.family_ == "pnbd" and model.card()["purchase_model"] == "Pareto/NBD"
    again = CustomerValueModel.from_text(model.to_text())
    pd.testing.assert_frame_equal(model.predict(180), again.predict(180))
    table = model.predict(365)
    assert table["p_alive"].between(0, 1).all() and table["churn_risk"].between(0, 1).all()
    assert (table["churn_risk"] >= 1 - table["p_alive"] - 1e-9).all()


@pytest.mark.parametrize(
    "params",
    [(2.0, 400.0, 0.5, 1.0), (0.8, 1.0, 1.5, 300.0), (916.0, 22026.0, 0.0057, 1e-4)],
)
def test_near_one_the_likelihood_is_integrated_at_once_and_agrees(monkeypatch, params):
    """Where hyp2f1's argument nears 1 (one scale parameter hundreds of times the other,
    as a shop of steady buyers leads the fit to) scipy took up to half a millisecond a value
    and often failed: CHURN on 600 customers took 90 s. Those values are integrated at
    once; the likelihood is the one hyp2f1 gives wherever hyp2f1 gives one."""
    from smbml_connect.analytics.customers import pareto as module

    rng = np.random.default_rng(3)
    T = rng.uniform(1, 100, 400)
    t_x = T * rng.uniform(0, 1, 400)
    x = rng.integers(0, 8, 400).astype(float)
    t_x[x == 0] = 0.0
    p = np.array(params)
    routed = ParetoNBD()._log_lik(p, x, t_x, T)
    big, small = max(p[1], p[3]), min(p[1], p[3])
    assert ((big - small) / (big + t_x) > module.SLOW_Z).mean() > 0.5  # the region is taken
    monkeypatch.setattr(module, "SLOW_Z", np.inf)
    first = ParetoNBD()._log_lik(p, x, t_x, T)
    assert np.isfinite(routed).all()
    assert routed == pytest.approx(first, rel=1e-6, abs=1e-6)
