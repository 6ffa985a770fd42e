"""Price suggestions from how demand reacts to price, within the owner's guardrails."""

from smbml_connect.analytics.pricing.estimators import PriceSuggester
from smbml_connect.analytics.pricing.suggest import (
    Guardrails,
    estimate_elasticity,
    suggest_price,
    suggest_prices,
)

__all__ = ["Guardrails", "PriceSuggester", "estimate_elasticity", "suggest_price", "suggest_prices"]
