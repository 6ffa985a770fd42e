"""Price suggestion step: one guarded step per product, demand curves in the report."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from smbml_connect import charts
from smbml_connect.analytics.pricing.elasticity import Z95
from smbml_connect.analytics.pricing.suggest import (
    WEEKS_PER_MONTH,
    Guardrails,
    confidence_text,
    limits_problem,
    suggest_prices,
)
from smbml_connect.errors import NotEnoughDataError
from smbml_connect.ports import CrmProperty, SheetsPart, SheetsTab, StepOutputs, Tab
from smbml_connect.schema import PRICE_SUGGESTIONS
from smbml_connect.steps.base import (
    SCORED_AT,
    SCORED_AT_LABEL,
    ReportSection,
    Step,
    StepContext,
    StepResult,
    StepSettings,
    money,
    plural,
    stamps,
)

__all__ = ["PRICE_SUGGESTIONS_STEP", "PricingSettings", "pricing_step"]


class PricingSettings(StepSettings):
    """analytics.pricing: the guardrails every suggested price stays within."""

    key: ClassVar[str] = "pricing"
    max_change: float = Field(0.10, gt=0, le=0.5)  # largest step, as a share of today's price
    min_margin: float = Field(0.0, ge=0, lt=1)  # share of the price left after unit cost
    ending: float | None = Field(None, ge=0, lt=1)  # e.g. 0.99 for prices ending in .99
    # e.g. 10: suggested prices are multiples of ¥10 (default: the step the shop's prices show)
    round_to: float | None = Field(None, gt=0)
    floor: dict[str, float] = Field(default_factory=dict)  # product_id: lowest price allowed
    ceiling: dict[str, float] = Field(default_factory=dict)  # product_id: highest price allowed

    @model_validator(mode="after")
    def _limits_agree(self) -> PricingSettings:
        """A floor above its ceiling, a price not above 0 or a product named twice is one
        line when the config is read, not a suggestion that breaks both (find55_prices 4)."""
        problem = limits_problem(self.floor or None, self.ceiling or None)
        if problem:
            raise ValueError(problem)
        return self


PRICES_TAB = Tab("Prices", sheets=(SheetsPart(SheetsTab("prices", key="product_id")),))

CURVES_SHOWN = 40  # demand curves drawn in the report, best sellers first
Z80 = 1.281552


def guardrails_from(settings: PricingSettings) -> Guardrails:
    return Guardrails(
        max_change=settings.max_change,
        min_margin=settings.min_margin,
        floor=dict(settings.floor) or None,
        ceiling=dict(settings.ceiling) or None,
        ending=settings.ending,
        round_to=settings.round_to,
    )


def _confidence_text(row: pd.Series) -> str:
    return confidence_text(row["confidence_words"], float(row["confidence"]))


def _store_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "product_id": frame["product_id"],
            "current_price": frame["current_price"],
            "suggested_price": frame["suggested_price"],
            "elasticity": frame.get("elasticity"),
            "elasticity_lo": frame.get("elasticity_lo"),
            "elasticity_hi": frame.get("elasticity_hi"),
            "expected_profit_change": frame.get("expected_profit_change"),
            "confidence": frame.apply(_confidence_text, axis=1),
            "reason": frame["reason"],
        }
    )


def _rounded(value: Any, digits: int = 2) -> Any:
    return round(float(value), digits) if value is not None and pd.notna(value) else None


def _sheet(frame: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, r in frame.iterrows():
        row = {
            "product": r["name"], "product_id": r["product_id"], "category": r["category"],
            "current_price": _rounded(r["current_price"]),
            "suggested_price": _rounded(r["suggested_price"]),
            "change_pct": _rounded(100 * r["change"], 1) if pd.notna(r.get("change")) else None,
            "aims_at": r.get("aims_at"), "confidence": _confidence_text(r),
            "reason": r["reason"], "elasticity": _rounded(r.get("elasticity")),
            "elasticity_low_95": _rounded(r.get("elasticity_lo")),
            "elasticity_high_95": _rounded(r.get("elasticity_hi")),
        }  # fmt: skip
        for name in ("units", "revenue", "profit"):
            for suffix, label in (("", ""), ("_lo", "_low_80"), ("_hi", "_high_80")):
                row[f"{name}_change_per_month{label}"] = _rounded(r.get(f"{name}_change{suffix}"))
        row |= {
            "own_evidence_pct": _rounded(100 * r["own_evidence"], 0)
            if pd.notna(r.get("own_evidence")) else None,
            "weeks_with_sales": r.get("weeks_with_sales"),
            "distinct_prices": r.get("distinct_prices"),
            "lowest_weekly_price": _rounded(r.get("price_low")),
            "highest_weekly_price": _rounded(r.get("price_high")),
        }  # fmt: skip
        rows.append(row)
    sheet = pd.DataFrame(rows)
    for count in ("weeks_with_sales", "distinct_prices"):  # whole counts: 19, not 19.00
        if count in sheet:
            sheet[count] = pd.to_numeric(sheet[count]).round().astype("Int64")
    return sheet


def _curve(row: pd.Series, rails: Guardrails) -> charts.DemandCurve:
    """Units a month against price, 0.7x to 1.3x today's price, with an 80% band."""
    current, units, e = (
        row["current_price"],
        row["weekly_units"] * WEEKS_PER_MONTH,
        row["elasticity"],
    )
    sd = (row["elasticity_hi"] - row["elasticity_lo"]) / (2 * Z95)
    prices = np.linspace(0.7 * current, 1.3 * current, 61)
    ratio = np.log(prices / current)
    low = units * np.exp(ratio * (e + np.sign(ratio) * Z80 * sd))
    high = units * np.exp(ratio * (e - np.sign(ratio) * Z80 * sd))
    suggested = row["suggested_price"]
    return {
        "label": f"{str(row['name'])[:28]} ({e:.1f})",
        "prices": prices, "units": units * (prices / current) ** e, "low": low, "high": high,
        "current": (current, units),
        "suggested": (suggested, units * (suggested / current) ** e),
        "limits": (current * (1 - rails.max_change), current * (1 + rails.max_change)),
    }  # fmt: skip


def pricing_step(tables: Mapping[str, pd.DataFrame], context: StepContext) -> StepResult:
    rails = guardrails_from(context.settings_for(PricingSettings))
    lines = tables.get("order_lines")
    if lines is None or lines.empty:
        raise NotEnoughDataError("no order lines to learn prices from")
    frame = suggest_prices(
        lines, tables.get("products"), tables["orders"], rails, context.as_of, context.currency
    )
    if frame.empty:
        raise NotEnoughDataError("no product sold in a complete week yet")
    result = StepResult()
    result.outputs["price_suggestions"] = _store_rows(frame).assign(scored_at=context.as_of)
    limits = [
        note[0].upper() + note[1:] + "."
        for note in [*frame.attrs.get("limits", []), frame.attrs.get("grid_broken", "")]
        if note
    ]
    result.add_tab(
        PRICES_TAB,
        _sheet(frame),
        " ".join([
            f"One step per product, at most {rails.max_change:.0%} from today's price. Changes "
            "per month are at the recent pace of sales, with an 80% range; elasticity is how "
            "many % sales change when the price rises 1%.",
            *limits,
        ]),
    )  # fmt: skip
    suggested = frame[frame["suggested_price"].notna()]
    moving = suggested[suggested["suggested_price"] != suggested["current_price"]]
    up = int((moving["suggested_price"] > moving["current_price"]).sum())
    refused = len(frame) - len(suggested)
    cur = context.currency
    profit = float(moving["profit_change"].sum()) if "profit_change" in moving else 0.0
    result.summary.append(
        f"Prices: {plural(len(moving), 'change')} suggested ({up} up, {len(moving) - up} down), "
        f"{len(suggested) - len(moving)} kept, {refused} without a suggestion"
    )
    result.summary += [f"Prices: {note}" for note in frame.attrs.get("limits", [])]
    costed = moving["profit_change"].notna() if "profit_change" in moving else moving.index < 0
    gain = (
        f"Together the changes with a known unit cost are expected to add about "
        f"{money(profit, cur)} profit a month at the recent pace of sales. Each is one step of "
        f"at most {rails.max_change:.0%}: after a few weeks at the new price, the next run "
        "learns from the result."
        if costed.any()
        else "No change is suggested for a product with a known unit cost, so no profit is "
        "expected from the suggestions."
        if len(moving)
        else "No price change is suggested, so none is expected to add profit."
    )
    kept = len(suggested) - len(moving)
    paragraphs = [
        f"Of {plural(len(frame), 'product')}, {len(moving)} would do better at a new price "
        f"({up} higher, {len(moving) - up} lower), {kept} {'is' if kept == 1 else 'are'} best "
        f"left as {'it is' if kept == 1 else 'they are'} and {refused} "
        f"{'has' if refused == 1 else 'have'} no suggestion (too little evidence, or the "
        "reason in the Prices tab).",
        gain,
        "How buyers react to price was read from the shop's own price changes and promotions, "
        f"with {', '.join(frame.attrs.get('controls', []))} held apart, so that a busy season "
        "is not mistaken for buyers liking higher prices. Products whose prices moved little "
        "borrow from others in their category.",
        *[
            note[0].upper() + note[1:] + "."
            for note in [frame.attrs.get("price_grid", ""), *frame.attrs.get("notes", [])]
            if note
        ],
    ]
    figures = []
    if len(suggested):
        best = suggested.assign(value=suggested["weekly_units"] * suggested["current_price"])
        best = best.sort_values("value", ascending=False).head(CURVES_SHOWN)
        figures.append(
            charts.demand_curves(
                [_curve(row, rails) for _, row in best.iterrows()],
                "Expected units a month by price (grey band: allowed this step)",
                "units a month",
            )
        )
        if len(suggested) > CURVES_SHOWN:
            paragraphs.append(
                f"Curves are drawn for the {CURVES_SHOWN} best sellers; every product is in "
                f"{PRICES_TAB.title}."
            )
    table = pd.DataFrame(
        # a product with no price that can be read has None here (object): to numbers
        {"product": frame["name"],
         "price_today": pd.to_numeric(frame["current_price"], errors="coerce").round(2),
         "suggested_price": pd.to_numeric(frame["suggested_price"], errors="coerce").round(2),
         "reason": frame["reason"]}
    )  # fmt: skip
    result.sections.append(ReportSection(PRICES_TAB.title, paragraphs, figures, table))
    return result


def _price(column: str) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda rows: rows.set_index("product_id")[column]


PRICE_SUGGESTIONS_STEP = Step(
    "price_suggestions", title="Price suggestions", needs=("orders", "order_lines"),
    personal=False, run=pricing_step, reads=("products",), own_currencies=True,
    outputs=StepOutputs(
        tables=(PRICE_SUGGESTIONS,),
        tabs=(PRICES_TAB,),
        properties=(
            CrmProperty("products", "smbml_suggested_price", "Suggested price (SMB ML)", "number",
                        "number", "Price with the best expected profit within the guardrails.",
                        "price_suggestions", _price("suggested_price"), money=True),
            CrmProperty("products", "smbml_elasticity", "Price elasticity (SMB ML)", "number",
                        "number", "% change in units for a 1% price rise.", "price_suggestions",
                        _price("elasticity")),
            CrmProperty("products", "smbml_price_reason", "Price suggestion reason (SMB ML)",
                        "string", "textarea", "Why this price, in one line.",
                        "price_suggestions", _price("reason")),
            CrmProperty("products", SCORED_AT, SCORED_AT_LABEL, "datetime", "date",
                        "When this product's price suggestion was last computed.",
                        "price_suggestions", lambda rows: stamps(_price("scored_at")(rows))),
        ),
    ),
    settings=PricingSettings,
)  # fmt: skip
