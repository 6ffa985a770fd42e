"""Price suggestions a shop owner can act on: one guarded step towards more profit.

Each product's elasticity (see elasticity.py) says how its sales answer a price change.
The suggestion maximises expected profit (revenue when the unit cost is unknown) over
the elasticity's uncertainty, inside guardrails: at most one step (10% by default), a
minimum margin, a floor and a ceiling, optional .99 endings. Constant elasticity has no
inner optimum when demand is inelastic (or when only revenue counts), so the guardrail
is then the answer, and the reason says so. When the data cannot say whether a change
would pay, the answer is to keep the price, or no suggestion at all, with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.stats

from smbml_connect.analytics.pricing.elasticity import (
    Z95,
    ElasticityEstimate,
    ProductDemand,
    estimate_elasticity,
    fit_product_demand,
    pool_elasticities,
)
from smbml_connect.analytics.pricing.price_history import PriceHistory, weekly_prices
from smbml_connect.errors import ConfigError, NotEnoughDataError
from smbml_connect.money_words import minor_digits, money_text

__all__ = [
    "Guardrails",
    "PriceChoice",
    "choose_price",
    "confidence_text",
    "estimate_elasticity",
    "price_grid",
    "suggest_price",
    "suggest_prices",
    "unmet_guardrail",
]

WEEKS_PER_MONTH = 52 / 12
MIN_CONFIDENCE = 0.7  # below this chance that a change pays, keep the price
MIN_GAIN = 0.005  # gains under 0.5% of today's profit are not worth a change
# A 95% range of the elasticity reaching from below this (a 10% rise loses over 20% of the
# units) to above 0 (buyers buy more at a higher price) says nothing about how buyers react.
VERY_SENSITIVE = -2.0
DRAWS = 1000
_NORMAL_QUANTILES = scipy.stats.norm.ppf((np.arange(DRAWS) + 0.5) / DRAWS)


def _per_product(value: float | Mapping[str, float] | None, product: str) -> float | None:
    if isinstance(value, Mapping):
        found = value.get(product)
        return None if found is None or pd.isna(found) else float(found)
    return None if value is None else float(value)


Limit = float | Mapping[str, float] | None


def limits_problem(floor: Limit, ceiling: Limit) -> str | None:
    """What is wrong with a floor and a ceiling, in one line naming the product and the
    values, or None. A floor above its ceiling was taken: ELA's floor 30 and ceiling 20 gave
    20.95, under the one and above the other, "short of the price floor" (find55_prices
    item 4). Product ids match whatever their case, so "ela" and "ELA" in one table are the
    same product twice."""
    tables: dict[str, dict[str, tuple[str, float]]] = {}
    for kind, value in (("floor", floor), ("ceiling", ceiling)):
        named = value if isinstance(value, Mapping) else {"": value} if value is not None else {}
        folded: dict[str, tuple[str, float]] = {}
        for key, number in named.items():
            product = f"{key}'s {kind}" if key else f"price {kind}"
            if pd.isna(number) or number <= 0:
                return f"{product} must be a price above 0, got {number}"
            if str(key).casefold() in folded:
                first = folded[str(key).casefold()][0]
                return (
                    f"{kind} names one product twice, as {first!r} and {key!r} (product ids "
                    "match whatever their case)"
                )
            folded[str(key).casefold()] = (str(key), float(number))
        tables[kind] = folded
    for key, (name, low) in tables["floor"].items():
        for other, (theirs, high) in tables["ceiling"].items():
            if low > high and (key == other or "" in (key, other)):
                whose = f"{name or theirs}'s" if name or theirs else "the price"
                return f"{whose} floor {low:g} is above its ceiling {high:g}"
    return None


@dataclass(frozen=True)
class Guardrails:
    """Limits every suggestion stays inside; floor and ceiling may be set per product.

    A suggested price is one the shop can charge: on the grid `round_to` and `ending` make
    (multiples of `round_to`, 1 by default when an ending is asked, plus the ending), and
    never finer than the smallest unit of `currency` (a whole yen, a cent): a yen shop got
    "Raise to 1,230.50 JPY" (find52_money item 3). `currency` also writes the reasons' money.
    """

    max_change: float = 0.10  # largest change per step, as a share of today's price
    min_margin: float = 0.0  # share of the price that must be left after unit cost
    floor: float | Mapping[str, float] | None = None
    ceiling: float | Mapping[str, float] | None = None
    ending: float | None = None  # e.g. 0.99: prices end in .99
    round_to: float | None = None  # e.g. 10: prices are multiples of ¥10 (plus the ending)
    currency: str = ""  # prices are whole units of its smallest unit; reasons' money in it

    def __post_init__(self) -> None:
        if not 0 < self.max_change <= 0.5:
            raise ConfigError(f"max_change must be above 0 and at most 0.5, got {self.max_change}")
        if not 0 <= self.min_margin < 1:
            raise ConfigError(f"min_margin must be from 0 up to 1, got {self.min_margin}")
        if self.ending is not None and not 0 <= self.ending < 1:
            raise ConfigError(f"ending must be the cents part, like 0.99, got {self.ending}")
        problem = limits_problem(self.floor, self.ceiling)
        if problem:
            raise ConfigError(problem)
        smallest = self.money(10.0**-self.digits)
        for key, value in (("round_to", self.round_to), ("ending", self.ending)):
            if value is None:
                continue
            units = value * 10**self.digits
            if abs(units - round(units)) > 1e-6 or (key == "round_to" and round(units) < 1):
                whole = "whole amounts" if self.digits == 0 else f"multiples of {smallest}"
                raise ConfigError(
                    f"{key} {value:g} is finer than {self.currency or 'the currency'} allows: "
                    f"its prices are {whole}"
                )

    def step_words(self) -> str:
        return f"the {self.max_change:.0%} limit per step"

    @property
    def digits(self) -> int:
        """Decimals of a price: 0 in yen, 2 in euros (ISO 4217)."""
        return minor_digits(self.currency)

    def grid(self) -> tuple[int, int]:
        """(step, ending) of the prices allowed, in the currency's smallest units: a price
        is ending + k * step (1 and 0: any amount the currency can write)."""
        scale = 10**self.digits
        step = (
            self.round_to
            if self.round_to is not None
            else 1.0
            if self.ending is not None
            else 1 / scale
        )
        return round(step * scale), round((self.ending or 0.0) * scale)

    @property
    def coarse(self) -> bool:
        """Whether prices keep to a grid coarser than the currency's smallest unit."""
        return self.grid() != (1, 0)

    def on_grid(self, prices: np.ndarray, way: str = "nearest") -> np.ndarray:
        """Each price moved to the nearest price on the grid (or the next "up" or "down")."""
        step, offset = self.grid()
        scale = 10**self.digits
        at = (np.asarray(prices, dtype=float) * scale - offset) / step
        # 1e-6 of a step: 16.99 is 1698.9999999 cents, on the grid, not below it
        steps = (
            np.ceil(at - 1e-6)
            if way == "up"
            else np.floor(at + 1e-6)
            if way == "down"
            else np.round(at)
        )
        return np.round((offset + steps * step) / scale, self.digits)

    def keeps_to_grid(self, price: float) -> bool:
        """Whether ``price`` is a price on the grid (to half the currency's smallest unit)."""
        return abs(float(self.on_grid(np.array([price]))[0]) - price) < 0.5 / 10**self.digits

    def grid_words(self) -> str:
        """The grid as a reason says it: "price ending in .99", "multiple of 10 JPY"."""
        step, offset = self.grid()
        scale = 10**self.digits
        if offset and step == scale:
            return f"price ending in .{offset:0{self.digits}d}"
        multiple = f"multiple of {self.money(step / scale)}"
        return f"{multiple} plus .{offset:0{self.digits}d}" if offset else multiple

    def grid_rule(self) -> str:
        """What every price on the grid does: "end in .99", "are multiples of 10 JPY"."""
        step, offset = self.grid()
        scale = 10**self.digits
        if offset and step == scale:
            return f"end in .{offset:0{self.digits}d}"
        if offset:
            return f"are each a {self.grid_words()}"
        return f"are multiples of {self.money(step / scale)}"

    def money(self, amount: float) -> str:
        """An amount as every money figure is written, in this currency."""
        return money_text(amount, self.currency, cents=True)


# Steps a shop's prices may keep to, in its currency's smallest units (1 cent ... 1 unit,
# 1 yen ... 100 yen); an ending (.99, .95) only on whole units.
GRID_STEPS = (1, 5, 10, 50, 100, 500, 1000)
GRID_LUCK = 0.01  # a grid is taken when its prices would sit on it by chance less often


def price_grid(prices: Sequence[float], currency: str = "") -> tuple[float, float | None] | None:
    """The coarsest grid every price of a shop keeps to, as (`round_to`, `ending`):
    (10, None) when every price is a multiple of ¥10, (0.05, None) for 0.05 CHF, (1, 0.99)
    when every price ends in .99; None when they show none beyond the smallest unit.

    A coarser grid is taken only when the prices would all sit on it by chance less than 1
    time in 100 on the finer grid found before it: three whole prices show a 0.50 step (all
    whole by chance on it: 1 in 8), seven show whole units.
    """
    scale = 10 ** minor_digits(currency)
    found = np.unique(np.asarray([p for p in prices if p and p > 0], dtype=float) * scale)
    units = np.round(found)
    if len(units) < 3 or np.any(np.abs(found - units) > 1e-6):
        return None  # too few prices to show a habit, or prices finer than the currency
    best, ending = 1, 0
    for step in (s for s in GRID_STEPS[1:] if s <= max(100, scale)):
        rests = np.unique(units % step)
        if len(rests) > 1 or (rests[0] and step != scale):
            continue
        if (best / step) ** (len(units) - (1 if rests[0] else 0)) >= GRID_LUCK:
            continue
        best, ending = step, int(rests[0])
    if best == 1:
        return None
    return best / scale, (ending / scale if ending else None)


@dataclass(frozen=True)
class PriceChoice:
    """The chosen price and what it is expected to do, per month, with 80% ranges."""

    current: float
    suggested: float
    objective: str  # "profit" or "revenue"
    confidence: float  # chance the suggested price earns more than today's; nan when kept
    capped_by: str | None  # the guardrail that stopped a bigger move
    kept_because: str | None  # why today's price stays, when it does
    forced_by: str | None = None  # the guardrail today's price breaks, when it does
    unmet: str | None = None  # a guardrail the suggestion still breaks, and why, in words
    off_grid: str | None = None  # why a forced move leaves the shop's price grid, in words
    surer: str | None = None  # the bigger move passed over for a surer one, in words
    forgone: float | None = None  # a month's gain a guardrail keeping today's price forgoes
    changes: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    lo95: float = float("nan")  # the elasticity's 95% range the choice was made on
    hi95: float = float("nan")

    @property
    def guess(self) -> bool:
        """Whether the elasticity's range is too wide to say how buyers react."""
        return cannot_tell(self.lo95, self.hi95) or rose_with_price(self.lo95)

    @property
    def change(self) -> float:
        return self.suggested / self.current - 1


def cannot_tell(lo95: float, hi95: float) -> bool:
    """Whether a 95% range runs from very price-sensitive to buying more at higher prices.

    A shop whose every product had -1.6 got "Raise 10%: buyers barely react to price" with
    81-99% confidence on each: ranges of -2.9 to +2.6, centred near 0 by a few noisy
    products, and each product 92-99% borrowed from them (find52 prices item 7).
    """
    return bool(lo95 < VERY_SENSITIVE and hi95 > 0)


def rose_with_price(lo95: float) -> bool:
    """Whether the whole 95% range lies above 0: sales rose with the price, so something
    else moved them (growth, a season, a promotion) that the trend and season did not hold
    apart. The Prices tab raised such products "capped by the 10% limit" at 97-99%, on
    buyers said to "barely react" (find53_excel item 2, seen on the explorer's yen shop)."""
    return bool(lo95 > 0)


@dataclass(frozen=True)
class _Band:
    """Where a price may go: `low` to `high`, what sets each end (`by`), and the limits no
    price may cross (`hard`): the step, and each floor, margin or ceiling a price within the
    step can keep. A guardrail beyond a step, or a floor or margin above the ceiling, is a
    target the price moves towards (`low`, `high`) but may stop short of."""

    low: float
    high: float
    by: dict[str, str]
    hard: tuple[float, float]


def _band(current: float, cost: float | None, rails: Guardrails, product: str) -> _Band:
    """Lowest and highest allowed price, and which guardrail sets each end."""
    step = rails.step_words()
    reach_low, reach_high = current * (1 - rails.max_change), current * (1 + rails.max_change)
    low, low_by = reach_low, step
    high, high_by = reach_high, step
    floor, ceiling = _per_product(rails.floor, product), _per_product(rails.ceiling, product)
    if floor is not None and floor > low:
        low, low_by = floor, "the price floor"
    if cost is not None and cost / (1 - rails.min_margin) > low:
        low = cost / (1 - rails.min_margin)
        low_by = "your minimum margin" if rails.min_margin > 0 else "the unit cost"
    if ceiling is not None and ceiling < high:
        high, high_by = ceiling, "the price ceiling"
    # A ceiling within a step's reach is never crossed; a floor or margin neither, unless it
    # is beyond the step or above the ceiling (find55_prices item 3: ¥2,300 over a ¥2,250
    # ceiling that held the price under the margin).
    hard_high = high if high >= reach_low else reach_high
    hard_low = low if low <= min(high, reach_high) else reach_low
    # The step limit wins over a floor or ceiling that is more than a step away.
    low = min(max(low, reach_low), reach_high)
    high = max(min(high, reach_high), reach_low)
    if low > high:  # today's price is far outside a floor/margin: go as far as a step allows
        low = high if low_by != step else low
        high = max(high, low)
    return _Band(low, high, {"low": low_by, "high": high_by}, (hard_low, hard_high))


def _candidates(band: _Band, current: float, rails: Guardrails) -> np.ndarray:
    """Prices to weigh: up to 201 on the grid within the band, and today's when allowed.

    Each is rounded to the grid and kept only inside the band, so the step limit, floor,
    ceiling and margin hold for the price shown, not just for the one computed.
    """
    low, high = band.low, band.high
    prices = rails.on_grid(np.linspace(low, high, 201))
    prices = prices[(prices >= low - 1e-9) & (prices <= high + 1e-9)]
    allowed_now = low - 1e-9 <= current <= high + 1e-9
    if allowed_now:
        prices = np.append(prices, current)
    elif len(prices) == 0:
        # A guardrail forces a move, and the band (its reach within a step) holds no price on
        # the grid: the grid's price nearest the band that crosses no hard limit and still
        # moves the way the guardrail asks, else the nearest the currency can write (its
        # smallest unit), else the band's inner edge.
        up = current < low
        hard_low, hard_high = band.hard
        sides = rails.on_grid(np.array([low]), "down")[0], rails.on_grid(np.array([high]), "up")[0]
        fits = [
            float(p)
            for p in sides
            if hard_low - 1e-9 <= p <= hard_high + 1e-9 and ((p > current) if up else (p < current))
        ]
        if fits:
            return np.array([min(fits, key=lambda p: max(low - p, p - high))])
        if rails.coarse:
            return _candidates(band, current, replace(rails, ending=None, round_to=None))
        edge = rails.on_grid(np.array([high if up else low]), "down" if up else "up")
        prices = edge
    return np.unique(np.round(prices, rails.digits))


def choose_price(
    elasticity: float,
    sd: float,
    current: float,
    unit_cost: float | None,
    weekly_units: float,
    rails: Guardrails | None = None,
    product: str = "",
    periods_per_month: float = WEEKS_PER_MONTH,
) -> PriceChoice:
    """The allowed price with the highest expected profit (revenue without a unit cost).

    `weekly_units` is what sells in one period at today's price (a week, by default).
    """
    rails = rails or Guardrails()
    cost = None if unit_cost is None or pd.isna(unit_cost) else float(unit_cost)
    margin_cost = 0.0 if cost is None else cost
    objective = "revenue" if cost is None else "profit"
    band = _band(current, cost, rails, product)
    low, high, binding = band.low, band.high, band.by
    prices = _candidates(band, current, rails)
    # Evenly spaced quantiles of the elasticity's normal posterior: smoother and cheaper
    # than random draws, and the same answer every run.
    draws = elasticity + max(sd, 1e-9) * _NORMAL_QUANTILES

    def outcome(price: np.ndarray) -> np.ndarray:  # draws x prices, per week
        ratio = np.exp(np.outer(draws, np.log(price / current)))
        return weekly_units * (price[None, :] - margin_cost) * ratio

    values = outcome(prices)
    today = weekly_units * (current - margin_cost)
    expected = values.mean(axis=0)
    current_allowed = low - 1e-9 <= current <= high + 1e-9
    best = _best_clear_change(values, expected, today) if current_allowed else None
    best = int(np.argmax(expected)) if best is None else best
    suggested = float(prices[best])
    kept_because = None
    gain = expected[best] - today
    confidence = float(np.mean(values[:, best] > today)) if suggested != current else 0.0
    lo95, hi95 = elasticity - Z95 * sd, elasticity + Z95 * sd
    if current_allowed and suggested != current:
        if gain < MIN_GAIN * abs(today):
            kept_because = "it is already close to the best price"
        elif confidence < MIN_CONFIDENCE:
            kept_because = (
                f"a change is not clearly better (a {confidence:.0%} chance it pays, "
                f"{MIN_CONFIDENCE:.0%} needed)"
            )
        elif rose_with_price(lo95):
            kept_because = (
                f"its sales rose with its price ({_elasticity_words(elasticity, lo95, hi95)}), "
                "so something else moved them (growth, a season, a promotion) and a "
                f"{'rise' if suggested > current else 'cut'} would rest on that"
            )
        elif cannot_tell(lo95, hi95):
            # The chance it pays is then where noise put the centre, not what sales showed.
            kept_because = (
                f"its sales so far cannot tell how strongly buyers react to price ("
                f"{_elasticity_words(elasticity, lo95, hi95)}), so a "
                f"{'rise' if suggested > current else 'cut'} would rest on a guess"
            )
    elif suggested == current:
        kept_because = "it is already close to the best price"
    forgone = None
    if kept_because and current_allowed:
        held = _held_by_guardrail(elasticity, sd, current, cost, weekly_units, rails, product,
                                  periods_per_month, binding)  # fmt: skip
        if held is not None and held.kept_because:
            kept_because = held.kept_because  # the reason without the guardrail holds too
        elif held is not None:
            kept_because = _held_words(held, current, cost, rails, product, binding)
            forgone = held.changes[held.objective][0]
    if kept_because and rails.coarse and current_allowed and forgone is None:
        kept_because = _no_ending_within(
            kept_because, elasticity, sd, current, unit_cost, weekly_units, rails, product,
            periods_per_month, prices, (low, high), binding,
        )  # fmt: skip
    only_today = not np.any(np.abs(prices - current) > 0.5 / 10**rails.digits)
    if kept_because and only_today and unmet_guardrail(current, cost, rails, product, current):
        # "already close to the best price" was said of a price a ceiling pinned under the margin
        kept_because = "no other price is within your guardrails"
    surer = None
    overall = int(np.argmax(expected))
    if not kept_because and overall != best:
        bigger, chance = float(prices[overall]), float(np.mean(values[:, overall] > today))
        surer = (
            f"a {'rise' if bigger > current else 'cut'} to {rails.money(bigger)} might earn "
            f"more but has only a {chance:.0%} chance of paying"
        )
    if kept_because:
        confidence = float("nan")  # a chance that a change pays is reported only for changes
        suggested = round(current, rails.digits)
    capped_by = None
    if suggested != current:
        edge = "high" if suggested == prices.max() else "low" if suggested == prices.min() else None
        if edge:
            beyond = np.array([suggested * (1.02 if edge == "high" else 0.98)])
            if outcome(beyond).mean() > expected[best]:
                capped_by = binding[edge]
    units = weekly_units * ((suggested / current) ** draws - 1)
    revenue = weekly_units * (suggested * (suggested / current) ** draws - current)
    profit = weekly_units * ((suggested - margin_cost) * (suggested / current) ** draws) - today
    changes = {}
    for name, sample in (("units", units), ("revenue", revenue), ("profit", profit)):
        month = sample * periods_per_month
        changes[name] = (
            float(month.mean()),
            float(np.quantile(month, 0.1)),
            float(np.quantile(month, 0.9)),
        )
    if cost is None:
        changes.pop("profit")
    forced_by = None
    if not current_allowed:
        forced_by = binding["low"] if current < low else binding["high"]
    unmet = unmet_guardrail(suggested, cost, rails, product, current)
    off_grid = None
    if forced_by and rails.coarse and not rails.keeps_to_grid(suggested):
        # the guardrail today's price breaks outranks the grid read from the shop's prices:
        # from 8.99 in a .99 shop, 9.99 is more than a 10% step, so 9.88 and words for it
        limit = binding["high" if suggested > current else "low"]
        off_grid = f"no {rails.grid_words()} is within {limit}"
    return PriceChoice(current, suggested, objective, confidence, capped_by, kept_because,
                       forced_by=forced_by, unmet=unmet, off_grid=off_grid, surer=surer,
                       changes=changes, lo95=lo95, hi95=hi95, forgone=forgone)  # fmt: skip


def _held_by_guardrail(
    elasticity: float,
    sd: float,
    current: float,
    cost: float | None,
    weekly_units: float,
    rails: Guardrails,
    product: str,
    periods_per_month: float,
    binding: dict[str, str],
) -> PriceChoice | None:
    """The choice without the floor, ceiling and minimum margin, when one of them is what
    keeps today's price: the Prices tab said "Keep 22.95: it is already close to the best
    price" of a product its floor held 10% above the best price within a step, so the owner
    never learnt what the floor cost (find55_prices item 2). None when no guardrail but
    the step is on the side the price would move, or the move would not be made anyway."""
    free_rails = replace(rails, floor=None, ceiling=None, min_margin=0.0)
    if free_rails == rails:
        return None
    free = choose_price(elasticity, sd, current, cost, weekly_units, free_rails, product,
                        periods_per_month)  # fmt: skip
    if free.suggested == current and not free.kept_because:
        return None
    if free.kept_because:  # kept without the guardrails too: that is the reason
        return free if free.kept_because != "it is already close to the best price" else None
    side = "high" if free.suggested > current else "low"
    return None if binding[side] == rails.step_words() else free


def _held_words(
    free: PriceChoice,
    current: float,
    cost: float | None,
    rails: Guardrails,
    product: str,
    binding: dict[str, str],
) -> str:
    """Which guardrail keeps today's price, and what the price would be without it."""
    money = rails.money
    limit = binding["high" if free.suggested > current else "low"]
    if limit == "the price floor":
        value = _per_product(rails.floor, product) or current
        rule = f"your price floor of {money(value)}"
    elif limit == "the price ceiling":
        value = _per_product(rails.ceiling, product) or current
        rule = f"your price ceiling of {money(value)}"
    else:
        value = (cost or 0.0) / (1 - rails.min_margin)
        rule = (
            f"your minimum margin of {rails.min_margin:.0%} (the unit cost of {money(cost or 0.0)} "
            f"needs {money(np.ceil(value * 10**rails.digits - 1e-6) / 10**rails.digits)})"
            if rails.min_margin > 0
            else f"the unit cost of {money(cost or 0.0)}"
        )
    at_today = abs(float(rails.on_grid(np.array([value]), "nearest")[0]) - current) < (
        rails.grid()[0] / 10**rails.digits
    )
    held = "holds it" if at_today else "leaves no change that clearly pays"
    return (
        f"{rule} {held}; without it, the best price within {rails.step_words()} would be "
        f"{money(free.suggested)} ({percent(free.change)})"
    )


def percent(change: float) -> str:
    """A change in % with a sign, with as many decimals as it takes not to read 0%: a forced
    move of 71.90 to 71.60 read "Lower to 71.60 (-0%)" (find55_prices item 6)."""
    digits = 0
    while digits < 2 and round(abs(change) * 100, digits) == 0 and change != 0:
        digits += 1
    return f"{change * 100:+.{digits}f}%"


def _best_clear_change(values: np.ndarray, expected: np.ndarray, today: float) -> int | None:
    """The price with the highest expected result among those clearly better than today's
    (a chance it pays of at least MIN_CONFIDENCE, a gain of at least MIN_GAIN); None when
    there is none. The best price overall was kept when it was not clearly better, though a
    smaller step (the grid's 115.99 beside 121.99) was: a shop lost a sure gain for a
    doubtful bigger one."""
    chance = (values > today).mean(axis=0)
    clear = (chance >= MIN_CONFIDENCE) & (expected - today >= MIN_GAIN * abs(today))
    if not clear.any():
        return None
    return int(np.argmax(np.where(clear, expected, -np.inf)))


def _no_ending_within(
    kept_because: str,
    elasticity: float,
    sd: float,
    current: float,
    unit_cost: float | None,
    weekly_units: float,
    rails: Guardrails,
    product: str,
    periods_per_month: float,
    prices: np.ndarray,
    band: tuple[float, float],
    binding: dict[str, str],
) -> str:
    """Why today's price stays when only the price grid (an ending, ¥10 steps) keeps it there.

    With a 5% step, a 4.50 product has no .99 price within reach (4.28 to 4.72): "it is
    already close to the best price" was then said of a product whose best price was 5%
    higher.
    """
    half_unit = 0.5 / 10**rails.digits
    if np.any(np.abs(prices - current) > half_unit):
        return kept_because  # prices on the grid were within reach, and did not pay
    free = choose_price(elasticity, sd, current, unit_cost, weekly_units,
                        replace(rails, ending=None, round_to=None), product,
                        periods_per_month)  # fmt: skip
    if free.kept_because:
        return kept_because
    limit = binding["high" if free.suggested > current else "low"]
    scale = 10**rails.digits
    low, high = np.ceil(band[0] * scale - 1e-6) / scale, np.floor(band[1] * scale + 1e-6) / scale
    # today's price on the grid is in the band itself (a CHF shop at 7.90 read "no price
    # ending in .90 lies between 7.11 and 8.69 CHF")
    others = f" other than today's {rails.money(current)}" if rails.keeps_to_grid(current) else ""
    return (
        f"the best price within {limit} would be {rails.money(free.suggested)}, but no "
        f"{rails.grid_words()}{others} lies between {rails.money(low)} and {rails.money(high)}"
    )


def unmet_guardrail(
    price: float, cost: float | None, rails: Guardrails, product: str, current: float
) -> str | None:
    """The guardrail a price still breaks, by how much, and what holds it there: the step
    limit, or a ceiling below what the margin needs (find52_money item 5: a ceiling held
    Espresso Beans at 2,300, and the reason said a 10% step from 2300.00 "reaches 2300.00")."""
    money = rails.money
    unit = rails.grid()[0] / 10**rails.digits  # the next price on the grid up or down
    tolerance = 0.5 / 10**rails.digits
    floor, ceiling = _per_product(rails.floor, product), _per_product(rails.ceiling, product)

    def held(needed: float) -> str:
        """What keeps the price under ``needed``: a ceiling, else one step's reach."""
        if ceiling is not None and ceiling < needed and price > ceiling - unit:
            return f"your price ceiling of {money(ceiling)} holds it below that"
        return (
            f"one step of at most {rails.max_change:.0%} from {money(current)} reaches "
            f"{money(price)}"
        )

    if cost is not None and price > 0:
        needed = cost / (1 - rails.min_margin)
        if price < needed - tolerance:
            margin = (price - cost) / price
            scale = 10**rails.digits
            least = np.ceil(needed * scale - 1e-6) / scale  # the lowest price that does
            what = (
                f"your minimum margin of {rails.min_margin:.0%} after the unit cost of "
                f"{money(cost)} needs {money(least)}"
                if rails.min_margin > 0
                else f"the unit cost is {money(cost)}"
            )
            return f"{what}; {held(needed)}, which leaves {margin:.1%}"
    if floor is not None and price < floor - tolerance:
        return f"the price floor is {money(floor)}; {held(floor)}"
    if ceiling is not None and price > ceiling + tolerance:
        reach = f"one step of at most {rails.max_change:.0%} from {money(current)} reaches"
        return f"the price ceiling is {money(ceiling)}; {reach} {money(price)}"
    return None


def _elasticity_words(elasticity: float, lo95: float, hi95: float) -> str:
    """The elasticity as a reason says it: with its range when that range says little."""
    said = f"elasticity {elasticity:.1f}"
    wide = cannot_tell(lo95, hi95) or rose_with_price(lo95)
    return said + (f", anywhere from {lo95:.1f} to {hi95:+.1f}" if wide else "")


def _sensitivity(elasticity: float, guess: bool = False) -> str:
    if guess:
        return "its sales cannot tell yet how strongly buyers react to price"
    if elasticity > -1:
        return "buyers barely react to price"
    if elasticity > -2:
        return "buyers react to price about as much as usual"
    return "buyers are very price-sensitive"


def reason_for(
    choice: PriceChoice, elasticity: float, currency: str = "", per: str = "a month"
) -> str:
    """One plain line: what to do and why."""
    e = _elasticity_words(elasticity, choice.lo95, choice.hi95)
    if choice.kept_because:
        said = "" if e in choice.kept_because else f" ({e})"
        if choice.forgone is not None:
            amount = money_text(choice.forgone, currency, cents=abs(choice.forgone) < 10, sign=True)
            said = f", expected {choice.objective} {amount} {per}{said}"
        kept = (
            f"Keep {money_text(choice.current, currency, cents=True)}: {choice.kept_because}{said}."
        )
        return kept + (f" Still short of a guardrail: {choice.unmet}." if choice.unmet else "")
    verb = "Raise" if choice.suggested > choice.current else "Lower"
    head = (
        f"{verb} to {money_text(choice.suggested, currency, cents=True)} ({percent(choice.change)})"
    )
    gain = choice.changes.get(choice.objective, (0.0, 0.0, 0.0))[0]
    # Cents under 10: a slow seller's "+$0 a month" read as a change that gains nothing.
    amount = money_text(gain, currency, cents=abs(gain) < 10, sign=True)
    why = f"{_sensitivity(elasticity, choice.guess)} ({e}); expected {choice.objective} {amount} {per}"
    if choice.surer:
        why += f"; {choice.surer}"
    short = f" and the suggestion is still short of it ({choice.unmet})" if choice.unmet else ""
    if choice.forced_by:
        side = "below" if choice.suggested > choice.current else "above"
        grid = f" ({choice.off_grid})" if choice.off_grid else ""
        return f"{head}: today's price is {side} {choice.forced_by}{short}{grid}; {why}."
    if choice.unmet:
        return f"{head}, still short of a guardrail ({choice.unmet}): {why}."
    if choice.capped_by:
        return f"{head}, capped by {choice.capped_by}: {why}. Check again after a few weeks."
    return f"{head}: {why}."


# -- the whole catalogue from orders ---------------------------------------------------


def _refused(product: str, reason: str, current: float | None) -> dict[str, Any]:
    return {"product_id": product, "current_price": current, "suggested_price": np.nan,
            "reason": f"No suggestion: {reason}.", "confidence": np.nan,
            "confidence_words": "none"}  # fmt: skip


def _positive(value: Any) -> float | None:
    """A catalogue price or cost as a number, or None when it is missing or not above 0."""
    number = pd.to_numeric(pd.Series([value]), errors="coerce").astype("float64").iloc[0]
    return float(number) if number > 0 else None


def _confidence_words(p: float) -> str:
    return "high" if p >= 0.9 else "medium" if p >= 0.75 else "low"


def _chance_text(p: float) -> str:
    """A chance in %, never an exact 0% or 100%: 1,000 draws that all agree are not certainty."""
    if p >= 0.995:
        return "over 99%"
    if p < 0.005:
        return "under 1%"
    return f"{p:.0%}"


def confidence_text(words: str, chance: float) -> str:
    """A suggestion's confidence as the Prices tab and the PRICE function write it: "high
    (86%)", "high (over 99%)", "keep" or "no suggestion" (``words`` is a result's
    `confidence_words`, "none" when no price is suggested)."""
    if words == "none":  # alone, "none" read like a missing value: the reason says why
        return "no suggestion"
    if words == "keep":
        return "keep"
    return f"{words} ({_chance_text(chance)})"


def _weekly_units(demand: ProductDemand, elasticity: float, current: float) -> float:
    """Units a week at today's price, at the recent pace, without promotions."""
    recent = demand.recent
    if recent is None or recent.empty:
        return 0.0
    price = recent["net_price"].to_numpy(dtype=float)
    promoted = recent["promoted"].to_numpy(dtype=float)
    adjust = (current / price) ** elasticity * np.exp(-demand.promo_lift * promoted)
    return float(np.mean(recent["fitted"].to_numpy(dtype=float) * adjust))


def _listed_apart(
    listed: float | None, paid: Mapping[str, float] | None, rails: Guardrails
) -> str | None:
    """Why a catalogue price more than a step away from every price buyers paid gets no
    suggestion.

    The products list's price is today's price, but demand at it is then a guess beyond
    anything sold: a list kept without tax (20.00) while buyers paid 24.00 with it made
    "Lower to 18.00", with units re-priced to 20.00 (+67%) and a profit gain to match.
    """
    if listed is None or not paid:
        return None
    low, high = float(paid["min"]), float(paid["max"])
    if low * (1 - rails.max_change) - 0.005 <= listed <= high * (1 + rails.max_change) + 0.005:
        return None
    side, by = ("below", 1 - listed / low) if listed < low else ("above", listed / high - 1)
    return (
        f"today's price in the products list, {rails.money(listed)}, is {by:.0%} {side} every "
        f"price buyers paid ({rails.money(low)} to {rails.money(high)}), more than one step of "
        f"{rails.max_change:.0%}: a price with or without tax, or a new price not sold at "
        "yet? Check the products list; after a few weeks of sales at it the next run can say"
    )


def _only_promoted(paid: Mapping[str, float] | None, facts: Mapping[str, float]) -> bool:
    """Whether only promotions moved what buyers paid (one list price, several paid)."""
    if not paid:
        return False
    same = abs(float(paid["max"]) - float(paid["min"])) < 0.005
    return same and float(facts["price_high"]) > float(facts["price_low"]) + 0.005


def _mixed(prices: tuple[float, float, float], rails: Guardrails) -> str:
    """Why a product sold at several prices in the same weeks gets no suggestion."""
    low, high, share = prices
    return (
        f"sold at several prices in the same week ({rails.money(low)} to {rails.money(high)}, "
        f"in {share:.0%} of "
        "its weeks), so its price is a mix of what buyers chose: sizes or variants under one "
        "product? Give each its own SKU and each can get a suggestion"
    )


def _shop_rails(
    rails: Guardrails, currency: str, prices: Sequence[float]
) -> tuple[Guardrails, str, bool]:
    """The guardrails in the shop's currency, on the grid its own prices keep to when the
    config sets none; that grid in words for the report ("" for any amount); and whether
    the words name prices set aside (the Prices tab's note repeats them then).

    A shop whose every price is a multiple of ¥10, of 0.05 CHF, or ends in .99 got
    suggestions of 4,169 JPY, 57.42 CHF: prices it would never put on a shelf. The grid
    all but one price in ten keep wins over the finer one every price keeps (or none): one
    sale price typed as the line price (22.40 in a whole-dollar shop) put every suggestion
    on 10-cent steps, in words that said all 13 prices keep them (find57_pricing item 2),
    and 22.49 instead turned the grid off (find55_prices item 5). The words name the prices
    set aside and the setting that keeps them.
    """
    rails = replace(rails, currency=rails.currency or currency)
    if rails.round_to is not None or rails.ending is not None:
        return rails, (f"suggested prices {rails.grid_rule()}, as your settings ask"
                       if rails.coarse else ""), False  # fmt: skip
    near = _nearly_kept_grid(prices, rails)
    if near is not None:
        (step, ending), kept, off = near
        every = price_grid(prices, rails.currency)
        finer = f"round_to = {every[0] if every else 10.0**-rails.digits:g}" + (
            f" and ending = {every[1]:g}" if every and every[1] else ""
        )
        taken = replace(rails, round_to=step, ending=ending)
        named = ", ".join(taken.money(p) for p in off[:3]) + (" ..." if len(off) > 3 else "")
        one = len(off) == 1
        words = (
            f"suggested prices {taken.grid_rule()}, as {len(kept):,} of the "
            f"{len(kept) + len(off):,} prices in your products list and order lines do; {named} "
            f"{'does' if one else 'do'} not (a sale price typed as the line price?) and "
            f"{'is' if one else 'are'} set aside for the grid: `{finer}` under "
            "[analytics.pricing] puts suggestions on a grid every price keeps"
        )
        return taken, words, True
    grid = price_grid(prices, rails.currency)
    if grid is None:
        return rails, "", False
    rails = replace(rails, round_to=grid[0], ending=grid[1])
    words = (
        f"suggested prices {rails.grid_rule()}, as all {len(set(prices)):,} prices in your "
        "products list and order lines do (`round_to` under [analytics.pricing] sets another "
        "step)"
    )
    return rails, words, False


def _limits_for(rails: Guardrails, ids: set[str]) -> tuple[Guardrails, list[str]]:
    """The per-product floors and ceilings keyed by the products' own ids, and a line for
    each one that names no product. A SKU is typed in either case, so a key matches the one
    product whose id it is whatever the case; a floor keyed "ine" for product INE was not
    applied, without a word, and INE was cut under it (find55_prices item 4)."""
    folded: dict[str, list[str]] = {}
    for pid in ids:
        folded.setdefault(pid.casefold(), []).append(pid)
    said: list[str] = []
    recased: list[str] = []
    keyed: dict[str, Limit] = {"floor": rails.floor, "ceiling": rails.ceiling}
    for kind, value in list(keyed.items()):
        if not isinstance(value, Mapping):
            continue
        mine: dict[str, float] = {}
        for key, number in value.items():
            found = [key] if key in ids else sorted(folded.get(str(key).casefold(), []))
            if len(found) == 1:
                mine[found[0]] = number
                if found[0] != key:
                    recased.append(f"your {kind} for {key!r} is applied to {found[0]}")
            elif found:
                said.append(
                    f"your {kind} for {key!r} is not applied: it matches products "
                    f"{' and '.join(found)} only when their case is ignored (write the id as "
                    "in your data)"
                )
            else:
                said.append(
                    f"your {kind} for {key!r} is not applied: no product in your products "
                    "list or order lines has that id (the Prices tab's Product ID column)"
                )
        keyed[kind] = mine
    if recased:
        said.append(f"product ids match whatever their case: {'; '.join(recased)}")
    return replace(rails, floor=keyed["floor"], ceiling=keyed["ceiling"]), said


def _nearly_kept_grid(
    prices: Sequence[float], rails: Guardrails
) -> tuple[tuple[float, float | None], list[float], list[float]] | None:
    """The coarsest grid that all but at most one price in ten keep (the few off it are
    not needed to show it: `price_grid` finds it in the rest alone), with the prices on it
    and the prices off it; None when every price keeps the shop's grid or none is that near.
    """
    scale = 10**rails.digits
    found = sorted({round(float(p), rails.digits) for p in prices if p and p > 0})
    if not found:  # no price of known value (every amount unknown): no grid to speak of
        return None
    units = np.round(np.asarray(found) * scale).astype(np.int64)
    # at most one price in ten off the grid, the tenth counted from nine prices: with
    # fewer, one price off is too large a share to call a stray sale (9.99, 19.99, 24.99
    # and 14.50 are four prices, not three and a typo; review57 item 3)
    most = (len(found) + 1) // 10
    if not most:
        return None
    for step in sorted((s for s in GRID_STEPS[1:] if s <= max(100, scale)), reverse=True):
        rests, counts = np.unique(units % step, return_counts=True)
        rest = int(rests[np.argmax(counts)])
        kept = [p for p, u in zip(found, units, strict=True) if u % step == rest]
        grid = price_grid(kept, rails.currency) if len(found) - len(kept) <= most else None
        if grid is None:
            continue
        near = replace(rails, round_to=grid[0], ending=grid[1])
        off = [p for p in found if not near.keeps_to_grid(p)]
        if 0 < len(off) <= most:
            return grid, [p for p in found if near.keeps_to_grid(p)], off
    return None


def _unpriced(pid: str, sold: set[str], history: PriceHistory) -> str:
    """Why a listed product has no week of sales to learn from, in the words the notes on
    the lines left out use. A free sticker (every line at 0.00) and a lamp whose one order
    was refunded were told their unit prices "are empty or could not be read"
    (find57_pricing item 4); sold, at no price that can be read, is not "no sales" either:
    the user would look for sales that are there."""
    if pid in history.given_away:
        return "it was only ever given away (a price of 0 or 100% off): nobody paid a price for it"
    if pid in history.not_sales:
        return "it sold only in orders that are not sales (refunded, cancelled, ...)"
    if pid in history.this_week:
        return "it sold only in the week under way, not complete yet: the next run can say"
    if pid in sold:
        return (
            "it is in the order lines, but no price buyers paid can be read there (their "
            "unit prices are empty or could not be read)"
        )
    return "no sales in the order lines"


def suggest_prices(
    order_lines: pd.DataFrame,
    products: pd.DataFrame | None = None,
    orders: pd.DataFrame | None = None,
    guardrails: Guardrails | None = None,
    as_of: pd.Timestamp | None = None,
    currency: str = "",
) -> pd.DataFrame:
    """A suggestion, or a reason for none, for every product sold or listed.

    Order lines need dates: an `ordered_at` column or the `orders` to take it from.
    Money columns are per month at the recent pace of sales, with 80% ranges.
    """
    rails = guardrails or Guardrails()
    if as_of is None:
        source = order_lines if "ordered_at" in order_lines.columns else orders
        if source is None:
            raise NotEnoughDataError("order lines need dates to suggest prices")
        as_of = pd.to_datetime(source["ordered_at"], utc=True).max() + pd.Timedelta(days=1)
    history = weekly_prices(order_lines, orders, as_of, currency)
    catalogue = (
        products.drop_duplicates("product_id").set_index(products["product_id"].astype(str))
        if products is not None and len(products)
        else pd.DataFrame(index=pd.Index([], dtype=str))
    )

    def column(name: str) -> dict[str, Any]:
        return catalogue[name].to_dict() if name in catalogue.columns else {}

    categories, prices, costs, names = (
        column("category"), column("price"), column("unit_cost"), column("name")
    )  # fmt: skip
    flags = pd.Series(column("on_sale"), dtype=object)
    retired = set(flags.index[flags.astype("boolean").eq(False).fillna(False).to_numpy()])
    listed_prices = [p for p in map(_positive, prices.values()) if p is not None]
    rails, grid_words, set_aside = _shop_rails(rails, history.currency or currency,
                                               [*history.list_prices, *listed_prices])  # fmt: skip
    known = {*map(str, catalogue.index), *history.frame["product_id"].astype(str)}
    if "product_id" in order_lines.columns:
        known |= set(order_lines["product_id"].dropna().astype(str))
    rails, limit_notes = _limits_for(rails, known)
    # A product sold at a mix of prices each week teaches no one how buyers react: it is left
    # out of the fits and of the pool, and refused with the reason.
    mixed = {pid: _mixed(prices, rails) for pid, prices in history.mixed.items()}
    demands = (
        fit_product_demand(history.frame, categories, rails.currency, mixed)
        if len(history.frame)
        else []
    )
    usable = [d for d in demands if d.refusal is None and d.product_id not in history.silent]
    pooled = dict(
        zip(
            [d.product_id for d in usable],
            pool_elasticities(
                [d.elasticity for d in usable], [d.se for d in usable], [d.category for d in usable]
            ),
            strict=True,
        )
    )
    last_lists = history.frame.groupby("product_id")["list_price"].last().to_dict()
    sold = history.frame[history.frame["units"] > 0]
    paid = sold.groupby("product_id")["list_price"].agg(["min", "max"]).to_dict("index")
    rows = []
    for demand in demands:
        pid = demand.product_id
        last_list = last_lists[pid]
        listed = _positive(prices.get(pid))
        current = listed if listed is not None else float(last_list)
        facts = {
            "observations": demand.facts["observations"],
            "weeks_with_sales": demand.facts["selling_periods"],
            "units_sold": demand.facts["units"],
            "distinct_prices": demand.facts["distinct_prices"],
            "price_low": demand.facts["price_low"],
            "price_high": demand.facts["price_high"],
        }
        if pid in retired:  # its sales still teach its category how buyers react
            why = "not for sale now: marked so in your products list (archived, a draft, discontinued or inactive)"
            rows.append(_refused(pid, why, current) | facts)
            continue
        if pid in history.silent:
            rows.append(
                _refused(pid, f"no sales in the last {history.silent[pid]} weeks", current) | facts
            )
            continue
        if demand.refusal:
            rows.append(_refused(pid, demand.refusal, current) | facts)
            continue
        apart = _listed_apart(listed, paid.get(pid), rails)
        if apart:
            rows.append(_refused(pid, apart, current) | facts)
            continue
        estimate = pooled[pid]
        units = _weekly_units(demand, estimate.elasticity, current)
        cost = _positive(costs.get(pid))
        choice = choose_price(estimate.elasticity, estimate.sd, current, cost, units, rails, pid)
        reason = reason_for(choice, estimate.elasticity, rails.currency)
        if estimate.own_weight < 0.5:
            reason += (
                f" Estimate based {estimate.own_weight:.0%} on its own sales and "
                f"{1 - estimate.own_weight:.0%} on "
                + (
                    "the shop's other products."
                    if estimate.alone
                    else "other products without a category."
                    if demand.category == "Uncategorised"
                    else f"{demand.category}."
                )
            )
        if _only_promoted(paid.get(pid), demand.facts):
            # A sale is a price experiment, but a weak one: buyers may answer the event (a
            # newsletter, "20% off" on the page) beyond the price cut, which the model holds
            # apart, so such a product's own evidence is thin and the reason says why.
            reason += (
                " Its list price never changed: only promotions moved what buyers paid, and "
                "buyers may answer a sale beyond its price cut, so they say less about a "
                "lasting change."
            )
        if cost is None:
            # an owner who set a 60% minimum margin assumed every suggestion kept it (item 6)
            unchecked = (
                f", and your minimum margin of {rails.min_margin:.0%} cannot be checked"
                if rails.min_margin > 0
                else ""
            )
            reason += (
                f" Unit cost unknown, so this aims at revenue{unchecked}; add the cost to aim at "
                "profit."
            )
        row = {
            "product_id": pid, "current_price": current, "suggested_price": choice.suggested,
            "change": choice.change, "unit_cost": cost, "aims_at": choice.objective,
            "elasticity": estimate.elasticity, "elasticity_lo": estimate.lo95,
            "elasticity_hi": estimate.hi95, "own_evidence": estimate.own_weight,
            "weekly_units": units, "capped_by": choice.capped_by,
            "confidence": choice.confidence,
            "confidence_words": _confidence_words(choice.confidence) if not choice.kept_because else "keep",
            "reason": reason,
        }  # fmt: skip
        for name, (mean, lo, hi) in choice.changes.items():
            row |= {f"{name}_change": mean, f"{name}_change_lo": lo, f"{name}_change_hi": hi}
        rows.append(row | facts)
    for pid in history.foreign:
        reason = (
            f"sold only in other currencies than {history.currency}, the one prices are read in"
        )
        rows.append(_refused(pid, reason, None))
    sold = set(order_lines["product_id"].dropna().astype(str)) if len(order_lines) else set()
    for pid in catalogue.index.difference([d.product_id for d in demands] + history.foreign):
        rows.append(_refused(pid, _unpriced(str(pid), sold, history), _positive(prices.get(pid))))
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame.insert(1, "name", frame["product_id"].map(names).fillna(frame["product_id"]))
    frame.insert(2, "category", frame["product_id"].map(categories).fillna("Uncategorised"))
    frame["expected_profit_change"] = frame.get("profit_change", np.nan)
    frame = frame.sort_values("product_id", ignore_index=True)
    frame.attrs["notes"] = history.notes
    frame.attrs["limits"] = limit_notes
    frame.attrs["price_grid"] = grid_words
    frame.attrs["grid_broken"] = grid_words if set_aside else ""  # the tab names them too
    frame.attrs["controls"] = sorted({c for d in demands for c in d.controls})
    frame.attrs["weeks"] = int(history.frame["week"].nunique()) if len(history.frame) else 0
    return frame


# -- one product from two columns (the worksheet function) -----------------------------


def _sold_more_at_higher_prices(
    estimate: ElasticityEstimate, current: float, dated: bool
) -> dict[str, Any]:
    """No suggestion when the elasticity's whole 95% range lies above 0: sales rose with
    the price, which is a growing shop (or a season, a promotion) read as buyers liking
    higher prices. PRICE said "buyers barely react to price (elasticity 2.0)" and raised
    10% with 100% confidence for a shop whose units grew 60% while its price went up."""
    held = (
        "even with a trend held apart the price's own effect cannot be told from it"
        if dated
        else "without the dates of the rows, growth cannot be told apart from the price"
    )
    reason = (
        f"No suggestion: sales rose with the price (elasticity {estimate.elasticity:+.1f}, "
        f"95% range {estimate.lo95:+.1f} to {estimate.hi95:+.1f}): buyers seem to buy more "
        f"at higher prices, so something else moved sales (growth, a season, a promotion), "
        f"and {held}."
    )
    return {
        "current_price": current, "suggested_price": float("nan"),
        "elasticity": estimate.elasticity, "lo95": estimate.lo95, "hi95": estimate.hi95,
        "confidence": float("nan"), "confidence_words": "none", "capped_by": None,
        "reason": reason, "changes_per": "a period", "estimate": estimate,
    }  # fmt: skip


def suggest_price(
    prices: Sequence[Any],
    quantities: Sequence[Any],
    unit_cost: float | None = None,
    guardrails: Guardrails | None = None,
    dates: Sequence[Any] | None = None,
    current_price: float | None = None,
) -> dict[str, Any]:
    """Elasticity and a suggested price from rows of (price, units sold in a period).

    Today's price is `current_price`, else the price of the latest row (by date when
    dates are given, else the last row).
    """
    frame = pd.DataFrame({"price": list(prices), "quantity": list(quantities)})
    if dates is not None:
        frame["date"] = list(dates)
    estimate: ElasticityEstimate = estimate_elasticity(
        frame, "price", "quantity", date="date" if dates is not None else None
    )
    clean = frame.assign(
        p=pd.to_numeric(frame["price"], errors="coerce"),
        q=pd.to_numeric(frame["quantity"], errors="coerce"),
    ).dropna(subset=["p", "q"])
    clean = clean[(clean["p"] > 0) & (clean["q"] >= 0)]
    if dates is not None:
        clean = clean.assign(when=pd.to_datetime(clean["date"], errors="coerce")).dropna(
            subset=["when"]
        )
        clean = clean.sort_values("when", kind="stable")
    current = float(current_price) if current_price else float(clean["p"].iloc[-1])
    e, sd = estimate.elasticity, estimate.se
    if estimate.lo95 > 0:
        return _sold_more_at_higher_prices(estimate, current, dated=dates is not None)
    per_period = float(np.mean(clean["q"] * (current / clean["p"]) ** e))
    periods, per = 1.0, "a period"
    if dates is not None and len(clean) > 1:
        gap = float(
            np.median(np.diff(clean["when"].to_numpy()).astype("timedelta64[s]").astype(float))
        )
        if gap > 0:
            periods, per = 30.44 * 86400 / gap, "a month"
    choice = choose_price(
        e, sd, current, unit_cost, per_period, guardrails, periods_per_month=periods
    )
    return {
        "current_price": current,
        "suggested_price": choice.suggested,
        "elasticity": e,
        "lo95": estimate.lo95,
        "hi95": estimate.hi95,
        "confidence": choice.confidence,
        "confidence_words": _confidence_words(choice.confidence)
        if not choice.kept_because
        else "keep",
        "capped_by": choice.capped_by,
        "reason": reason_for(choice, e, (guardrails or Guardrails()).currency, per=per),
        "changes_per": per,
        **{f"{k}_change": v[0] for k, v in choice.changes.items()},
        "estimate": estimate,
    }
