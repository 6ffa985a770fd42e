"""One contract over every model in smbml_connect.analytics (scikit-learn's habits).

Each case is a factory (settings only), the arguments `fit` takes and a predict call.
For every case: `fit` returns self and adds only attributes ending in `_`; the same
settings and data give the same output; an unfitted model raises `NotFittedError`;
the text round trip (`to_text` / `from_text`, JSON, never pickle) predicts the same;
and neither `fit` nor predicting changes its input.
"""

from __future__ import annotations

import copy
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from smbml_connect.analytics.customers import (
    CoPurchaseRecommender,
    CustomerClusters,
    CustomerValueModel,
)
from smbml_connect.analytics.customers.btyd import BetaGeo, GammaGamma, simulate_histories
from smbml_connect.analytics.customers.clusters import customer_features
from smbml_connect.analytics.customers.pareto import ParetoNBD
from smbml_connect.analytics.customers.recommend import purchases_by_customer
from smbml_connect.analytics.forecast import PanelForecaster, SeriesForecaster
from smbml_connect.analytics.leads import DealWinModel, LeadScorer
from smbml_connect.analytics.pricing import PriceSuggester
from smbml_connect.analytics.shared.contract import Model
from smbml_connect.analytics.shared.learners import GradientBoosting, Logistic
from smbml_connect.analytics.shared.tabular import TabularEncoder
from smbml_connect.errors import NotFittedError
from smbml_connect.sample import SampleBusiness, SampleConfig, generate

Args = tuple[tuple[Any, ...], dict[str, Any]]


def _nothing(business: SampleBusiness) -> None:
    return None


@dataclass
class Case:
    make: Callable[[], Any]  # settings only
    data: Callable[[SampleBusiness], Args]  # what fit takes
    predict: Callable[[Any, Any], Any]  # (fitted model, predict_input) -> its answer
    predict_input: Callable[[SampleBusiness], Any] = _nothing  # what predict reads


@pytest.fixture(scope="module")
def small() -> SampleBusiness:
    return generate(SampleConfig(contacts=500, years=2.0))


@pytest.fixture(autouse=True)
def one_blas_thread():
    # The logistic learners' L-BFGS on a few hundred rows ran 5x slower with BLAS threads
    # fighting over two cores; one thread keeps this suite quick.
    with threadpool_limits(1):
        yield


def _table(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    visits = rng.poisson(5, n).astype(float)
    visits[rng.uniform(size=n) < 0.05] = np.nan
    source = rng.choice(["ads", "search", "referral", "event"], n)
    signed = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 365, n), "D")
    logit = -1.0 + 0.3 * np.nan_to_num(visits, nan=5) - 1.2 + (source == "referral") * 1.5
    won = rng.uniform(size=n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({"visits": visits, "source": source, "signed_up": signed, "outcome": won})


def _matrix(business: SampleBusiness) -> Args:
    table = _table(800, seed=1)
    features = table[["visits", "source"]]
    X = TabularEncoder().fit(features, {}).transform(features)
    return (X, table["outcome"].to_numpy(int)), {}


def _plans() -> list:
    return TabularEncoder().fit(_table(800, seed=1)[["visits", "source"]], {}).plans_


def _histories(business: SampleBusiness) -> Args:
    x, t_x, T, _ = simulate_histories(
        {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}, 400, 52.0, np.random.default_rng(3)
    )
    return (x, t_x, T), {}


def _spend(business: SampleBusiness) -> Args:
    rng = np.random.default_rng(4)
    x = rng.integers(1, 8, 300).astype(float)
    return (x, rng.gamma(6.0, 8.0, 300)), {}


def _series(business: SampleBusiness) -> Args:
    dates = pd.date_range("2022-01-01", periods=36, freq="MS")
    t = np.arange(36)
    values = (
        100 + 2 * t + 15 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(5).normal(0, 4, 36)
    )
    return (list(dates), list(values)), {}


def _panel(business: SampleBusiness) -> Args:
    parts = []
    for i, (dates, values) in enumerate(_series(business)[0] for _ in range(3)):
        parts.append(
            pd.DataFrame({"unique_id": f"s{i}", "ds": dates, "y": np.asarray(values) * (i + 1)})
        )
    return (pd.concat(parts, ignore_index=True),), {}


def _orders(b: SampleBusiness) -> Args:
    return (b.tables["orders"], b.as_of), {}


def _features(b: SampleBusiness) -> pd.DataFrame:
    t = b.tables
    return customer_features(t["orders"], t["order_lines"], t["products"], b.as_of)


def _purchases(b: SampleBusiness) -> pd.DataFrame:
    return purchases_by_customer(b.tables["orders"], b.tables["order_lines"], b.as_of)


def _deal_tables(b: SampleBusiness) -> dict[str, pd.DataFrame]:
    return {
        k: b.tables[k] for k in ("deals", "deal_stages", "associations", "contacts", "activities")
    }


CASES: dict[str, Case] = {
    "LeadScorer": Case(
        lambda: LeadScorer(random_state=1),
        lambda b: ((_table(),), {"target": "outcome", "time_column": "signed_up"}),
        lambda m, x: m.score(x),
        lambda b: _table(200, seed=9),
    ),
    "LeadScorer(lightgbm)": Case(
        lambda: LeadScorer(random_state=1, model="lightgbm"),
        lambda b: ((_table(),), {"target": "outcome"}),
        lambda m, x: m.score(x),
        lambda b: _table(200, seed=9),
    ),
    "DealWinModel": Case(
        lambda: DealWinModel(random_state=2),
        lambda b: ((_deal_tables(b), b.as_of), {}),
        lambda m, x: m.predict(*x),
        lambda b: (_deal_tables(b), b.as_of),
    ),
    "CustomerValueModel": Case(
        lambda: CustomerValueModel(random_state=3),
        _orders,
        lambda m, x: m.predict(180, orders=x),
        lambda b: b.tables["orders"],
    ),
    "CustomerClusters": Case(
        lambda: CustomerClusters(random_state=4, k_range=(2, 3)),
        lambda b: ((_features(b),), {}),
        lambda m, x: m.assign(x),
        _features,
    ),
    "CoPurchaseRecommender": Case(
        lambda: CoPurchaseRecommender(),
        lambda b: ((_purchases(b),), {}),
        lambda m, x: m.recommend(3, names={"P001": "House Blend"}),
    ),
    "BetaGeo": Case(
        lambda: BetaGeo(modified=True),
        _histories,
        lambda m, x: m.expected_purchases(26.0, *x),
        lambda b: _histories(b)[0],
    ),
    "ParetoNBD": Case(
        lambda: ParetoNBD(),
        _histories,
        lambda m, x: m.expected_purchases(26.0, *x),
        lambda b: _histories(b)[0],
    ),
    "GammaGamma": Case(
        lambda: GammaGamma(),
        _spend,
        lambda m, x: m.expected_spend(*x),
        lambda b: _spend(b)[0],
    ),
    "Logistic": Case(
        lambda: Logistic(_plans(), random_state=5),
        _matrix,
        lambda m, x: m.raw(x),
        lambda b: _matrix(b)[0][0],
    ),
    "GradientBoosting": Case(
        lambda: GradientBoosting(_plans(), random_state=5, rounds=40),
        _matrix,
        lambda m, x: m.raw(x),
        lambda b: _matrix(b)[0][0],
    ),
    "SeriesForecaster": Case(
        lambda: SeriesForecaster(horizon=6),
        _series,
        lambda m, x: m.predict(),
    ),
    "PanelForecaster": Case(
        lambda: PanelForecaster(horizon=6, random_state=6),
        _panel,
        lambda m, x: m.predict(4),
    ),
    "PriceSuggester": Case(
        lambda: PriceSuggester(),
        lambda b: ((b.tables["order_lines"], b.tables["products"], b.tables["orders"]), {}),
        lambda m, x: m.predict(),
    ),
}


def assert_same(a: Any, b: Any) -> None:
    """Equal to the last bit, frames with their dtypes, index and attrs."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
        assert json.dumps(a.attrs, sort_keys=True, default=str) == json.dumps(
            b.attrs, sort_keys=True, default=str
        )
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b, check_exact=True)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    else:
        assert a == b or (a != a and b != b), (a, b)  # NaN equals NaN here


@dataclass
class Fitted:
    model: Any
    twin: Any  # fitted again from the same settings and data
    before: dict[str, Any]  # vars() of the unfitted model
    args: Args
    args_copy: Args  # taken before fit
    predict_copy: Any  # taken before predicting
    output: Any


_fitted: dict[str, Fitted] = {}


@pytest.fixture(params=list(CASES), ids=list(CASES))
def fitted(request: pytest.FixtureRequest, small: SampleBusiness) -> tuple[Case, Fitted]:
    name = request.param
    case = CASES[name]
    if name not in _fitted:
        with threadpool_limits(1):
            model = case.make()
            before = dict(vars(model))
            args, kwargs = case.data(small)
            args_copy = copy.deepcopy((args, kwargs))
            returned = model.fit(*args, **kwargs)
            assert returned is model, "fit must return self"
            predict_input = case.predict_input(small)
            predict_copy = copy.deepcopy(predict_input)
            output = case.predict(model, predict_input)
            twin = case.make().fit(*case.data(small)[0], **case.data(small)[1])
        _fitted[name] = Fitted(
            model, twin, before, (args, kwargs), args_copy, (predict_input, predict_copy), output
        )
    return case, _fitted[name]


def test_settings_only_in_init_and_learned_state_ends_in_underscore(fitted):
    _, f = fitted
    init = set(inspect.signature(type(f.model).__init__).parameters) - {"self"}
    assert set(f.before) <= init, f"__init__ stores more than its settings: {set(f.before) - init}"
    assert not [k for k in f.before if k.endswith("_")], "learned state before fit"
    learned = set(vars(f.model)) - set(f.before)
    assert learned, "fit learned nothing"
    assert all(k.endswith("_") for k in learned), sorted(learned)


def test_unfitted_raises_not_fitted_error(fitted, small):
    case, _ = fitted
    model = case.make()
    with pytest.raises(NotFittedError, match="not fitted yet: call fit"):
        case.predict(model, case.predict_input(small))
    with pytest.raises(NotFittedError):
        model.to_text()


def test_same_settings_same_output(fitted, small):
    case, f = fitted
    with threadpool_limits(1):
        assert_same(f.output, case.predict(f.twin, case.predict_input(small)))


def test_text_round_trip_predicts_the_same(fitted, small):
    case, f = fitted
    text = f.model.to_text()
    assert isinstance(text, str)
    assert json.loads(text)["format"].startswith("smbml-")  # JSON, so nothing to unpickle
    loaded = type(f.model).from_text(text)
    assert isinstance(loaded, Model)
    with threadpool_limits(1):
        assert_same(f.output, case.predict(loaded, case.predict_input(small)))


def test_fit_and_predict_leave_their_inputs_alone(fitted):
    _, f = fitted
    assert_same(f.args_copy, f.args)
    predict_input, predict_copy = f.predict_copy
    assert_same(predict_copy, predict_input)


def test_the_table_encoder_refuses_to_transform_before_it_is_fitted() -> None:
    """A building block, not a model the contract suite fits and saves; it still says so."""
    from smbml_connect.analytics.shared.tabular import TabularEncoder
    from smbml_connect.errors import NotFittedError

    with pytest.raises(NotFittedError, match="table encoder is not fitted"):
        TabularEncoder().transform(pd.DataFrame({"a": [1.0]}))
