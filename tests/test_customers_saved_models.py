"""Fitted purchase and spend models saved by an earlier version load and save the same.

`BetaGeo`, `GammaGamma`, `ParetoNBD` and `BetaGeoBetaBinom` once each wrote their own
`to_dict` and `from_dict`; they now share `btyd.Fitted`. The dicts below were saved by the
code before that (stop 57, on 200 simulated customers): each must load, give back its
parameters, and save again to the same text, so a shop's saved customer-value model keeps
loading and a drift in the shared shape (a setting dropped, renamed or moved) fails here.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from smbml_connect.analytics.customers.btyd import BetaGeo, Fitted, GammaGamma
from smbml_connect.analytics.customers.pareto import ParetoNBD
from smbml_connect.analytics.customers.seasons import BetaGeoBetaBinom
from smbml_connect.errors import NotFittedError

SAVED: dict[type[Fitted], dict[str, Any]] = {
    BetaGeo: {
        "penalty": 0.01,
        "modified": True,
        "params": [0.9973700318808856, 6.968367729415894, 1.293501418983166, 5.3612459625604565],
        "fit": {
            "params": {
                "r": 0.9973700318808856,
                "alpha": 6.968367729415894,
                "a": 1.293501418983166,
                "b": 5.3612459625604565,
            },
            "errors": {
                "r": 0.25019150320766037,
                "alpha": 1.69559390529,
                "a": 0.6030351488224672,
                "b": 3.5049411355892417,
            },
            "log_likelihood": -2068.181325321025,
            "customers": 200,
        },
    },
    ParetoNBD: {
        "penalty": 0.01,
        "params": [1.0852422545527731, 10.378831974568472, 1.756997935367523, 69.56326971878582],
        "fit": {
            "params": {
                "r": 1.0852422545527731,
                "alpha": 10.378831974568472,
                "s": 1.756997935367523,
                "beta": 69.56326971878582,
            },
            "errors": {
                "r": 0.20648218380811598,
                "alpha": 2.075642127555477,
                "s": 1.906407450589489,
                "beta": 92.2070086546875,
            },
            "log_likelihood": -2071.8696332367326,
            "customers": 200,
        },
    },
    BetaGeoBetaBinom: {
        "penalty": 0.01,
        "params": [2.9657313938842407, 3.903694308931854, 18.11836228790553, 214.02437339036598],
        "fit": {
            "params": {
                "alpha": 2.9657313938842407,
                "beta": 3.903694308931854,
                "gamma": 18.11836228790553,
                "delta": 214.02437339036598,
            },
            "errors": {
                "alpha": 0.9988564102823982,
                "beta": 1.3739250937685517,
                "gamma": 40.43695460440714,
                "delta": 478.02371293649446,
            },
            "log_likelihood": -732.2478564752404,
            "customers": 200,
        },
    },
    GammaGamma: {
        "params": [1383.7467612289452, 3.8693978503334368, 0.08704018336795807],
        "fit": {
            "params": {
                "p": 1383.7467612289452,
                "q": 3.8693978503334368,
                "gamma": 0.08704018336795807,
            },
            "errors": {
                "p": 11234.928963096057,
                "q": 0.4391366959519431,
                "gamma": 0.7075612437006621,
            },
            "log_likelihood": -627.5637081857076,
            "customers": 144,
        },
    },
}


@pytest.mark.parametrize("kind", list(SAVED), ids=lambda kind: kind.__name__)
def test_a_model_saved_before_loads_and_saves_the_same_text(kind: type[Fitted]):
    data = SAVED[kind]
    model = kind.from_dict(json.loads(json.dumps(data)))  # as read from the saved text
    assert json.dumps(model.to_dict()) == json.dumps(data)
    assert model.params_.tolist() == data["params"]
    assert model.fit_.customers == data["fit"]["customers"]
    for name, value in data.items():
        if name not in ("params", "fit"):  # what it was made with
            assert getattr(model, name) == value


@pytest.mark.parametrize("kind", list(SAVED), ids=lambda kind: kind.__name__)
def test_a_model_not_fitted_says_so_by_its_name(kind: type[Fitted]):
    with pytest.raises(NotFittedError, match=f"this {kind.what} is not fitted yet"):
        kind().to_dict()


def test_a_fitted_model_saves_in_the_shape_saved_before():
    """A model fitted now writes the keys the saved texts have, in the same order."""
    rng = np.random.default_rng(3)
    x = rng.poisson(2.0, 150).astype(float)
    T = np.full(150, 52.0)
    t_x = np.where(x > 0, rng.uniform(0, 52, 150), 0.0)
    fitted: list[Fitted] = [
        BetaGeo(0.01, True).fit(x, t_x, T),
        ParetoNBD(0.01).fit(x, t_x, T),
        GammaGamma().fit(x, rng.gamma(4.0, 10.0, 150)),
        BetaGeoBetaBinom(0.01).fit(np.minimum(x, 6), np.minimum(x, 6), np.full(150, 6.0)),
    ]
    for model in fitted:
        saved, now = SAVED[type(model)], model.to_dict()
        assert list(now) == list(saved)
        assert list(now["fit"]) == list(saved["fit"])
        assert list(now["fit"]["params"]) == list(saved["fit"]["params"]) == list(model.names)
