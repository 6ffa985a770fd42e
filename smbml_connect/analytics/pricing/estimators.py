"""`suggest_prices` as an estimator, for code that wants the model contract (settings in
`__init__`, `fit -> self`, `predict`, `to_text` / `from_text`).

The functions stay the public API (`suggest_price` is the two-column one). Fitting
estimates every product's demand from the order lines and chooses its price; what is
saved is that table and its notes. The choice takes evenly spaced quantiles of the
elasticity's posterior rather than random draws, so it needs no `random_state`.
"""

from __future__ import annotations

import copy
from dataclasses import asdict

import pandas as pd

from smbml_connect.analytics.pricing.suggest import Guardrails, suggest_prices
from smbml_connect.analytics.shared.contract import (
    check_fitted,
    frame_from_dict,
    frame_to_dict,
    read_text,
    write_text,
)

__all__ = ["PriceSuggester"]


class PriceSuggester:
    """A suggested price, or the reason for none, per product (see `suggest_prices`)."""

    def __init__(self, guardrails: Guardrails | None = None, currency: str = "") -> None:
        self.guardrails = guardrails
        self.currency = currency

    def fit(
        self,
        order_lines: pd.DataFrame,
        products: pd.DataFrame | None = None,
        orders: pd.DataFrame | None = None,
        as_of: pd.Timestamp | None = None,
    ) -> PriceSuggester:
        self.suggestions_ = suggest_prices(
            order_lines, products, orders, self.guardrails, as_of, self.currency
        )
        return self

    def predict(self) -> pd.DataFrame:
        """One row per product: suggested price, elasticity with its range, reason, ..."""
        check_fitted(self, "suggestions_", "price suggester")
        out = self.suggestions_.copy()
        out.attrs = copy.deepcopy(self.suggestions_.attrs)
        return out

    def to_text(self) -> str:
        check_fitted(self, "suggestions_", "price suggester")
        rails = asdict(self.guardrails) if self.guardrails is not None else None
        return write_text(
            "smbml-price-suggester",
            1,
            {
                "settings": {"guardrails": rails, "currency": self.currency},
                "suggestions": frame_to_dict(self.suggestions_),
            },
        )

    @classmethod
    def from_text(cls, text: str) -> PriceSuggester:
        data = read_text(text, "smbml-price-suggester")
        rails = data["settings"]["guardrails"]
        model = cls(
            Guardrails(**rails) if rails is not None else None, data["settings"]["currency"]
        )
        model.suggestions_ = frame_from_dict(data["suggestions"])
        return model
