"""How much each product's sales move when its price moves: the price elasticity.

Demand is log-linear in price (constant elasticity), fitted as a quasi-Poisson model so
that weeks with no sale count and counts are not logged: `log E[units] = level + trend +
season + promotion + elasticity * log(price)`. The controls matter: a shop that raises
prices in its busy season would otherwise learn that buyers like higher prices.

Products whose own prices moved little borrow strength from their category, and
categories from the whole shop: a normal hierarchy whose spreads are averaged over a
grid (small categories make a point estimate of the spread unreliable). A product whose
price never really moved gets no estimate at all, never a guess dressed up as one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse

from smbml_connect.analytics.pricing.price_history import evidence
from smbml_connect.analytics.shared.glm import PoissonFit, fit_poisson
from smbml_connect.coerce import coerce_datetime, parse_number
from smbml_connect.errors import DataValidationError, NotEnoughDataError
from smbml_connect.money_words import money_text

__all__ = [
    "BUILT_IN",
    "DemandModel",
    "ElasticityEstimate",
    "ProductDemand",
    "estimate_elasticity",
    "fit_demand",
    "fit_product_demand",
    "pool_elasticities",
    "thin_evidence",
]

MIN_SPREAD = 0.03  # highest price at least 3% above the lowest
MIN_SELLING_PERIODS = 8
MIN_UNITS = 20.0
SEASON_MIN_WEEKS = 56  # a year and a bit before a yearly pattern can be told from a trend
SEASON_BINS = 24  # half months: holidays and paydays follow the calendar
Z95 = 1.959964
# Prior spreads, in log units: how far a product's trend (per year), a season slice or
# a promotion's extra lift beyond its discount plausibly go.
TREND_SD, SEASON_SD, PROMO_SD, FLAT = 0.5, 1.0, 0.3, 1e-4
# One product alone: its trend is held closer to none, since a trend is what carries a
# fit into weeks it has not seen (held-out weeks of the sample: 47% absolute error with
# the shop's 0.5 a year, 43% with 0.1; log-log least squares 45%). Its season keeps the
# shop's spread: held tighter, busy-season price rises leak into the elasticity.
ONE_TREND_SD, ONE_SEASON_SD = 0.1, SEASON_SD
LAGS = 8  # weeks over which a product's demand errors are allowed to move together
# A category's demand drifts as regular buyers come and go: one level per category and
# quarter absorbs it (without it, own intervals were 1.5 times too narrow on the sample).
DRIFT_WEEKS, DRIFT_SD = 13, 0.3
# Sales that vary far more than counting chance (a chain's weekly volume), or less (rates
# and averages, not counts), have noise proportional to their size: then each period
# weighs the same. Held-out absolute error with it / with counting weights: avocado 6.7% /
# 7.0%, US gasoline 4.7% / 5.0%, 46 states' cigarettes 7.5% / 7.6%. Quantities that are not
# whole numbers are not counts at all, whatever their dispersion (which then depends only
# on the unit they are written in): gasoline per car in 18 OECD countries, whose dispersion
# fell inside the counting band, 14.5% -> 12.8%; cigarettes per head 7.49% -> 7.45%.
PROPORTIONAL_DISPERSION, UNDER_DISPERSION = 10.0, 0.5
CHUNK = 200  # products fitted together at most, so the design stays small
# Units worked out in a sheet (revenue / price) are whole numbers with float noise.
WHOLE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class ElasticityEstimate:
    """An elasticity with its 95% interval and the evidence it rests on."""

    elasticity: float
    lo95: float
    hi95: float
    observations: int
    distinct_prices: int
    price_low: float
    price_high: float
    controls: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    left_out: tuple[str, ...] = ()

    @property
    def se(self) -> float:
        return (self.hi95 - self.lo95) / (2 * Z95)

    def as_dict(self) -> dict[str, Any]:
        return {
            "elasticity": self.elasticity, "lo95": self.lo95, "hi95": self.hi95,
            "observations": self.observations, "distinct_prices": self.distinct_prices,
            "price_low": self.price_low, "price_high": self.price_high,
            "controls": list(self.controls), "notes": list(self.notes),
            "left_out": list(self.left_out),
        }  # fmt: skip


def thin_evidence(facts: Mapping[str, float], unit: str = "week", currency: str = "") -> str | None:
    """Why the data cannot tell how buyers react to price, or None when it can (prices
    written in ``currency``, as every money figure is)."""
    low, high = facts["price_low"], facts["price_high"]
    low_said, high_said = (money_text(v, currency, cents=True) for v in (low, high))
    if facts["selling_periods"] < MIN_SELLING_PERIODS or facts["units"] < MIN_UNITS:
        return (
            f"too few sales to learn from ({facts['units']:g} unit"
            f"{'' if facts['units'] == 1 else 's'} in {facts['selling_periods']:g} {unit}"
            f"{'' if facts['selling_periods'] == 1 else 's'} with a sale)"
        )
    if facts["distinct_prices"] < 2:
        return f"always sold at {low_said}, so there is no evidence of how buyers react to a change"
    if high < low * (1 + MIN_SPREAD):
        return (
            f"its price barely moved ({low_said} to {high_said}), too little to tell how buyers "
            "react to a change"
        )
    return None


def _season_bin(starts: pd.Series, days: int = 7) -> np.ndarray:
    """The half month each period falls in, judged by its middle day."""
    middle = pd.DatetimeIndex(starts) + pd.Timedelta(days=days // 2)
    return (middle.month.to_numpy() - 1) * 2 + (middle.day.to_numpy() > 15)


@dataclass
class _Design:
    blocks: list[scipy.sparse.spmatrix] = field(default_factory=list)
    precision: list[np.ndarray] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def add(self, block: Any, sd: float | None, names: Sequence[str]) -> None:
        block = scipy.sparse.csr_matrix(block)
        self.blocks.append(block)
        value = FLAT if sd is None else 1.0 / sd**2
        self.precision.append(np.full(block.shape[1], value))
        self.names.extend(names)

    def matrix(self) -> scipy.sparse.csr_matrix:
        return scipy.sparse.hstack(self.blocks, format="csr")

    def where(self, name: str) -> int:
        return self.names.index(name)


@dataclass(frozen=True)
class ProductDemand:
    """One product's own elasticity estimate (before pooling) and what it rests on."""

    product_id: str
    category: str
    facts: dict[str, float]
    refusal: str | None
    elasticity: float = float("nan")  # own estimate; nan when refused
    se: float = float("nan")
    reference_price: float = float("nan")
    promo_lift: float = 0.0  # log extra lift while promoted, beyond the discount itself
    recent: pd.DataFrame | None = None  # last weeks: fitted units, net price, promoted
    controls: tuple[str, ...] = ()


def _robust_variance(
    X: scipy.sparse.csr_matrix, fit: PoissonFit, panel: pd.DataFrame, columns: list[int]
) -> np.ndarray:
    """Newey-West variance of the chosen coefficients, weeks of one product correlated.

    Demand drifts (regular buyers come and go), so neighbouring weeks are not
    independent; ignoring it makes a price effect look surer than it is.
    """
    if not columns:
        return np.empty(0)
    residual = panel["units"].to_numpy() - fit.mean
    influence = (X @ fit.cov[:, columns]).T * (residual / fit.dispersion)  # k x n
    product = panel["product_id"].to_numpy()
    variance = np.sum(influence**2, axis=1)
    for lag in range(1, LAGS + 1):
        same = product[lag:] == product[:-lag]
        weight = 1 - lag / (LAGS + 1)
        variance += 2 * weight * np.sum(influence[:, lag:] * influence[:, :-lag] * same, axis=1)
    return variance


def _fit_chunk(panel: pd.DataFrame, category: str, currency: str = "") -> list[ProductDemand]:
    """One model for products that share a category: season and promotion lift shared."""
    panel = panel.reset_index(drop=True)
    products = sorted(panel["product_id"].unique())
    codes = pd.Categorical(panel["product_id"], categories=products).codes
    rows = np.arange(len(panel))
    onehot = scipy.sparse.csr_matrix((np.ones(len(panel)), (rows, codes)),
                                     shape=(len(panel), len(products)))  # fmt: skip
    design = _Design()
    design.add(onehot, None, [f"level:{p}" for p in products])
    weeks = pd.DatetimeIndex(panel["week"])
    years = (weeks - weeks.min()).days.to_numpy() / 365.25
    centred = years - pd.Series(years).groupby(panel["product_id"]).transform("mean").to_numpy()
    controls = ["trend", "category drift"]
    design.add(onehot.multiply(centred[:, None]), TREND_SD, [f"trend:{p}" for p in products])
    quarter = (weeks - weeks.min()).days.to_numpy() // (7 * DRIFT_WEEKS)
    drift = scipy.sparse.csr_matrix((np.ones(len(panel)), (rows, quarter)),
                                    shape=(len(panel), int(quarter.max()) + 1))  # fmt: skip
    design.add(drift, DRIFT_SD, [f"drift:{b}" for b in range(drift.shape[1])])
    span_weeks = (weeks.max() - weeks.min()).days / 7 + 1
    if span_weeks >= SEASON_MIN_WEEKS:
        bins = _season_bin(panel["week"])
        season = scipy.sparse.csr_matrix((np.ones(len(panel)), (rows, bins)),
                                         shape=(len(panel), SEASON_BINS))  # fmt: skip
        design.add(season, SEASON_SD, [f"season:{b}" for b in range(SEASON_BINS)])
        controls.append("season")
    promoted = panel["promoted"].to_numpy(dtype=float)
    if promoted.any():
        design.add(promoted[:, None], PROMO_SD, ["promotion"])
        controls.append("promotions")
    facts = evidence(panel).to_dict("index")
    refusals = {p: thin_evidence(facts[p], currency=currency) for p in products}
    references = panel.groupby("product_id")["net_price"].median()
    priced = [p for p in products if refusals[p] is None]
    if priced:
        log_price = np.log(
            panel["net_price"].to_numpy() / references.reindex(panel["product_id"]).to_numpy()
        )
        mask = np.isin(panel["product_id"].to_numpy(), priced)
        position = {p: i for i, p in enumerate(priced)}
        priced_codes = panel["product_id"].map(position).fillna(-1).to_numpy(dtype=int)
        keep = mask.nonzero()[0]
        block = scipy.sparse.csr_matrix((log_price[keep], (keep, priced_codes[keep])),
                                        shape=(len(panel), len(priced)))  # fmt: skip
        design.add(block, None, [f"elasticity:{p}" for p in priced])
    matrix = design.matrix()
    fit: PoissonFit = fit_poisson(
        matrix, panel["units"].to_numpy(), prior_precision=np.concatenate(design.precision)
    )
    robust = _robust_variance(matrix, fit, panel, [design.where(f"elasticity:{p}") for p in priced])
    lift = float(fit.coef[design.where("promotion")]) if "promotion" in design.names else 0.0
    panel = panel.assign(fitted=fit.mean)
    results = []
    tails = panel.groupby("product_id", sort=True).tail(13)
    recents = dict(iter(tails[["product_id", "week", "units", "fitted", "net_price", "promoted"]]
                        .groupby("product_id", sort=True)))  # fmt: skip
    for product in products:
        recent = recents[product].drop(columns="product_id")
        own = dict(facts[product])
        if refusals[product] is None:
            j = design.where(f"elasticity:{product}")
            value = float(fit.coef[j])
            se = float(np.sqrt(max(fit.cov[j, j], robust[priced.index(product)])))
        else:
            value, se = float("nan"), float("nan")
        results.append(
            ProductDemand(
                product,
                category,
                own,
                refusals[product],
                value,
                se,
                float(references[product]),
                lift,
                recent.reset_index(drop=True),
                tuple(controls),
            )
        )
    return results


def fit_product_demand(
    weekly: pd.DataFrame,
    categories: Mapping[str, str] | None = None,
    currency: str = "",
    refused: Mapping[str, str] | None = None,
) -> list[ProductDemand]:
    """Own elasticity of every product in a weekly price history (see price_history);
    weeks marked `stocked_out` are not demand at their price, so they are left out.

    `refused` products (product: why) have a weekly price that is no price buyers chose
    between (sizes mixed under one product): they are left out of every fit and come back
    with that reason and their evidence. In the fit, their price moves with their order
    sizes, which taught their category's season and drift, and through the pool every
    product, how buyers react (find55_prices item 1: a quantity break's -12 made a product
    of -0.5 "very price-sensitive (-2.4)").
    """
    if "stocked_out" in weekly.columns:
        weekly = weekly[~weekly["stocked_out"].to_numpy(dtype=bool)]
    known = {p: str(c) for p, c in (categories or {}).items() if pd.notna(c) and str(c).strip()}
    category = weekly["product_id"].map(known).astype(object)  # all missing: float NaN otherwise
    frame = weekly.assign(category=category.fillna("Uncategorised"))
    refused = refused or {}
    left_out = frame["product_id"].isin(list(refused)).to_numpy()
    apart = frame[left_out]
    facts = evidence(apart).to_dict("index")
    where = apart.groupby("product_id")["category"].first()
    results = [ProductDemand(p, str(where[p]), facts[p], refused[p]) for p in sorted(facts)]
    frame = frame[~left_out]
    for category, group in frame.groupby("category", sort=True):
        products = sorted(group["product_id"].unique())
        for start in range(0, len(products), CHUNK):
            chunk = group[group["product_id"].isin(products[start : start + CHUNK])]
            results.extend(_fit_chunk(chunk, str(category), currency))
    return results


# -- pooling ---------------------------------------------------------------------------

# Spread of products around their category's elasticity. The floor: products of one
# category are never assumed identical (with the spread estimated near zero from noisy
# estimates, 95% intervals covered 77% of the sample's true values; with it, 89%).
_TAU = np.linspace(0.25, 1.5, 60)
_SIGMA = np.linspace(0.02, 2.0, 50)  # spread of categories around the shop's
_TAU_PRIOR, _SIGMA_PRIOR = 0.5, 1.0  # half-normal scales


@dataclass(frozen=True)
class PooledElasticity:
    elasticity: float
    sd: float
    own_weight: float  # share of the answer that comes from the product's own sales
    alone: bool = False  # the only product of its category: the rest is the shop's others

    @property
    def lo95(self) -> float:
        return self.elasticity - Z95 * self.sd

    @property
    def hi95(self) -> float:
        return self.elasticity + Z95 * self.sd


def pool_elasticities(
    estimates: Sequence[float], ses: Sequence[float], groups: Sequence[str]
) -> list[PooledElasticity]:
    """Shrink each own estimate towards its category, and categories towards the shop.

    Exact normal-hierarchy posteriors for each (tau, sigma) on a grid, averaged with the
    grid's posterior weights (half-normal priors on both spreads, flat on the shop's mean).
    """
    b = np.asarray(estimates, dtype=float)
    v = np.asarray(ses, dtype=float) ** 2
    labels = pd.Categorical(list(groups))
    codes, k = labels.codes, len(labels.categories)
    if len(b) == 0:
        return []
    if len(b) == 1:  # nothing to pool with
        return [PooledElasticity(float(b[0]), float(np.sqrt(v[0])), 1.0)]
    tau, sigma = np.meshgrid(_TAU, _SIGMA, indexing="ij")
    tau, sigma = tau.ravel()[:, None], sigma.ravel()[:, None]  # grid x 1
    total = v[None, :] + tau**2  # grid x n
    precision = 1 / total
    group_precision = np.zeros((len(tau), k))
    np.add.at(group_precision.T, codes, precision.T)
    group_sum = np.zeros((len(tau), k))
    np.add.at(group_sum.T, codes, (precision * b[None, :]).T)
    group_mean = group_sum / group_precision  # category summary c_hat with variance 1/prec
    group_var = 1 / group_precision
    within = -0.5 * np.sum(np.log(total) + precision * (b[None, :] - group_mean[:, codes]) ** 2, 1)
    within -= 0.5 * np.sum(np.log(group_precision), 1)  # integrating each category's mean out
    between_var = group_var + sigma**2
    shop_precision = np.sum(1 / between_var, 1, keepdims=True)
    shop_mean = np.sum(group_mean / between_var, 1, keepdims=True) / shop_precision
    between = -0.5 * np.sum(np.log(between_var) + (group_mean - shop_mean) ** 2 / between_var, 1)
    between -= 0.5 * np.log(shop_precision[:, 0])
    prior = -0.5 * (tau[:, 0] / _TAU_PRIOR) ** 2 - 0.5 * (sigma[:, 0] / _SIGMA_PRIOR) ** 2
    log_weight = within + between + prior
    weight = np.exp(log_weight - log_weight.max())
    weight /= weight.sum()
    # Category means given the grid point, then products given their category.
    share = sigma**2 / (sigma**2 + group_var)
    cat_mean = share * group_mean + (1 - share) * shop_mean
    cat_var = share * group_var + (1 - share) ** 2 / shop_precision
    own = tau**2 / (tau**2 + v[None, :])
    mean = own * b[None, :] + (1 - own) * cat_mean[:, codes]
    var = own * v[None, :] + (1 - own) ** 2 * cat_var[:, codes]
    pooled_mean = weight @ mean
    pooled_var = weight @ (var + mean**2) - pooled_mean**2
    # A product alone in its category: that category's estimate is its own, pulled to the
    # shop, so only the pull is borrowed ("100% on Gifts" where Gifts was that product).
    alone = (np.bincount(codes, minlength=k) == 1)[codes]
    own = np.where(alone[None, :], own + (1 - own) * share[:, codes], own)
    own_weight = weight @ own
    return [
        PooledElasticity(float(m), float(np.sqrt(max(s, 0.0))), float(w), bool(a))
        for m, s, w, a in zip(pooled_mean, pooled_var, own_weight, alone, strict=True)
    ]


# -- one product, from columns a user has -----------------------------------------------


def _numbers(values: pd.Series, name: str, rows: Sequence[int]) -> tuple[np.ndarray, list[str]]:
    out, problems = np.full(len(values), np.nan), []
    for i, (row, value) in enumerate(zip(rows, values, strict=True)):
        try:
            out[i] = parse_number(value)
        except (TypeError, ValueError):
            problems.append(f"row {row}, {name}: {value!r} is not a number")
    return out, problems


BUILT_IN = (":trend", ":season")  # made from the date column; ":" keeps them apart from columns


@dataclass(frozen=True)
class _Control:
    """How one user column becomes design columns, learned on the rows a model is fitted on."""

    name: str
    numeric: bool
    fill: float = 0.0  # numbers: missing ones take the median, then all are standardised
    centre: float = 0.0
    spread: float = 1.0
    levels: tuple[str, ...] = ()  # categories: one indicator per level but the first

    @classmethod
    def learn(cls, values: pd.Series, name: str) -> _Control:
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.notna().mean() > 0.9 and values.nunique() > 2:
            fill = float(numbers.median())
            filled = numbers.fillna(fill).to_numpy(dtype=float)
            return cls(name, True, fill, float(filled.mean()), float(filled.std()) or 1.0)
        levels = sorted(str(v) for v in values.astype("string").fillna("missing").unique())
        return cls(name, False, levels=tuple(levels[1:]))

    def columns(self, values: pd.Series) -> np.ndarray:
        if self.numeric:
            filled = pd.to_numeric(values, errors="coerce").fillna(self.fill).to_numpy(dtype=float)
            return ((filled - self.centre) / self.spread)[:, None]
        text = values.astype("string").fillna("missing").to_numpy(dtype=object)
        out = np.zeros((len(values), len(self.levels)))
        for j, level in enumerate(self.levels):
            out[:, j] = text == level
        return out


def _wanted_controls(
    frame: pd.DataFrame, controls: Sequence[str] | None, date: str | None
) -> list[str]:
    """The controls asked for, built-in ones as ":trend"/":season", user columns by name.

    A user's column keeps its name whatever it is called. The old spelling "trend" or
    "season" for the built-in ones is still read that way when no column has that name.
    """
    if controls is None:
        return list(BUILT_IN) if date else []
    wanted = []
    for name in map(str, controls):
        old = f":{name}" if f":{name}" in BUILT_IN and name not in frame.columns else None
        built_in = name if name in BUILT_IN else old
        if built_in and not date:
            if old:
                raise DataValidationError(
                    f"control {name!r} is not a column in the table; the trend or season "
                    f"made from dates is now asked for as {old!r}, with a date column"
                )
            raise DataValidationError(f"the {name} control is made from dates: give a date column")
        if not built_in and name not in frame.columns:
            raise DataValidationError(f"control column {name!r} is not in the table")
        wanted.append(built_in or name)
    return wanted


LOCKSTEP = 1 - 1e-6  # a correlation this close to 1 is the same column in other units


def _refuse_modelled_columns(
    frame: pd.DataFrame, wanted: Sequence[str], price: str, quantity: str, date: str | None
) -> None:
    """Refuse a control that is the price, quantity or date column, or a copy of one.

    Held apart as a control, the quantity explains itself (elasticity 0.07 with a tight
    range, the truth -1.5) and the price takes its own effect away (-2.0, from -22 to +18),
    and no line said why. A control in lockstep with the price (the price in cents, a flag
    set exactly when the price is low) leaves the price's own effect unknowable.
    """
    roles = [("price", price), ("quantity", quantity)] + ([("date", date)] if date else [])
    for name in (c for c in wanted if c not in BUILT_IN):
        for role, column in roles:
            if name == column:
                raise DataValidationError(
                    f"control {name!r} is the {role} column itself; a control must be another "
                    "column, something besides the price that moves sales"
                )
            if _lockstep(frame[name], frame[column], role):
                raise DataValidationError(
                    f"control {name!r} moves in lockstep with the {role} column {column!r} (the "
                    f"same values, or the same in other units), so the price's own effect cannot "
                    "be told apart from it; a control must be something else that moves sales"
                )


def _lockstep(control: pd.Series, column: pd.Series, role: str) -> bool:
    """Whether a control holds the same information as a price, quantity or date column."""
    if role == "date":
        when, other = coerce_datetime(column)[0], coerce_datetime(control)[0]  # as a run reads
        both = when.notna() & other.notna()
        return bool(both.sum() >= 2 and (when[both] == other[both]).all())
    x = control.map(_number_or_nan).to_numpy(dtype=float)
    y = column.map(_number_or_nan).to_numpy(dtype=float)
    both = np.isfinite(x) & np.isfinite(y)
    if both.sum() < 2 or both.sum() < 0.9 * np.isfinite(y).sum():
        return False  # mostly text: a category, never a copy of a number column
    x, y = x[both], y[both]
    if np.array_equal(x, y):
        return True
    candidates = [y] + ([np.log(y[y > 0])] if role == "price" and (y > 0).all() else [])
    return any(
        np.std(x) > 0 and np.std(c) > 0 and abs(np.corrcoef(x, c)[0, 1]) >= LOCKSTEP
        for c in candidates
    )


@dataclass(frozen=True)
class DemandModel:
    """One product's fitted demand: its elasticity, and expected units for other rows."""

    estimate: ElasticityEstimate
    coef: np.ndarray
    price: str
    date: str | None
    reference_price: float
    start: pd.Timestamp | None  # first date: the trend counts years from it
    mean_years: float
    trend: bool
    season: bool
    controls: tuple[_Control, ...]

    def design(self, frame: pd.DataFrame) -> np.ndarray:
        """The model's columns for these rows (log price, trend, season, controls)."""
        prices = pd.to_numeric(frame[self.price].map(_number_or_nan), errors="coerce")
        columns = [np.ones(len(frame)), np.log(prices.to_numpy(dtype=float) / self.reference_price)]
        if self.trend or self.season:
            assert self.date is not None and self.start is not None
            when = pd.DatetimeIndex(
                pd.to_datetime(frame[self.date], errors="coerce", utc=True).dt.tz_localize(None)
            )
            if self.trend:
                columns.append((when - self.start).days.to_numpy() / 365.25 - self.mean_years)
            if self.season:
                bins = _season_bin(pd.Series(when), days=0)
                columns.extend((bins == b).astype(float) for b in range(SEASON_BINS))
        matrix = np.column_stack(columns)
        extra = [control.columns(frame[control.name]) for control in self.controls]
        return np.column_stack([matrix, *extra]) if extra else matrix

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Expected units for each row (NaN where its price or date cannot be read)."""
        return np.exp(self.design(frame) @ self.coef)


def _number_or_nan(value: Any) -> float:
    try:
        return parse_number(value)
    except (TypeError, ValueError):
        return float("nan")


def fit_demand(
    frame: pd.DataFrame,
    price: str = "unit_price",
    quantity: str = "quantity",
    controls: Sequence[str] | None = None,
    date: str | None = None,
) -> DemandModel:
    """Demand of one product from rows of (price, units sold), each row one period.

    With a `date` column the model adds a trend and, past a year of dates, a yearly
    season, unless `controls` names the controls: column names, and ":trend" and
    ":season" for the ones made from the dates. Rows whose price or quantity cannot be
    read are left out and named; the rest still go through.
    """
    for column in (price, quantity) + ((date,) if date else ()):
        if column not in frame.columns:
            raise DataValidationError(f"column {column!r} is not in the table")
    wanted = _wanted_controls(frame, controls, date)
    _refuse_modelled_columns(frame, wanted, price, quantity, date)
    rows = [i + 2 for i in range(len(frame))]  # row 1 is the header in a sheet
    prices, left_out = _numbers(frame[price], price, rows)
    units, problems = _numbers(frame[quantity], quantity, rows)
    left_out += problems
    ok = np.isfinite(prices) & np.isfinite(units)
    for i in np.flatnonzero(ok & ((prices <= 0) | (units < 0))):
        left_out.append(
            f"row {rows[i]}, {price if prices[i] <= 0 else quantity}: "
            f"{prices[i] if prices[i] <= 0 else units[i]:g} is not a possible "
            f"{'price' if prices[i] <= 0 else 'quantity'}"
        )
    ok &= (prices > 0) & (units >= 0)
    stamps = None
    if date:
        stamps = pd.to_datetime(frame[date], errors="coerce", utc=True).dt.tz_localize(None)
        for i in np.flatnonzero(ok & stamps.isna().to_numpy()):
            left_out.append(f"row {rows[i]}, {date}: {frame[date].iloc[i]!r} is not a date")
        ok &= stamps.notna().to_numpy()
    data = frame[ok]
    p, q = prices[ok], units[ok]
    facts = {
        "observations": float(len(q)), "selling_periods": float((q > 0).sum()),
        "units": float(q.sum()), "distinct_prices": float(len(np.unique(np.round(p, 2)))),
        "price_low": float(p[q > 0].min()) if (q > 0).any() else float("nan"),
        "price_high": float(p[q > 0].max()) if (q > 0).any() else float("nan"),
    }  # fmt: skip
    refusal = thin_evidence(facts, unit="row")
    if refusal:
        raise NotEnoughDataError(f"no elasticity: {refusal}")
    precision = [FLAT, FLAT]
    used: list[str] = []
    notes: list[str] = []
    start, mean_years, trend, season = None, 0.0, False, False
    if stamps is not None:
        when = pd.DatetimeIndex(stamps[ok])
        start = when.min()
        mean_years = float(np.mean((when - start).days.to_numpy() / 365.25))
        if ":trend" in wanted:
            trend = True
            precision.append(1 / ONE_TREND_SD**2)
            used.append(":trend")
        if ":season" in wanted:
            if (when.max() - when.min()).days / 7 + 1 >= SEASON_MIN_WEEKS:
                season = True
                precision += [1 / ONE_SEASON_SD**2] * SEASON_BINS
                used.append(":season")
            else:
                notes.append("less than a year of dates: no seasonal control")
    user = tuple(_Control.learn(data[c], c) for c in wanted if c not in BUILT_IN)
    model = DemandModel(
        ElasticityEstimate(float("nan"), float("nan"), float("nan"), 0, 0, float("nan"),
                           float("nan")),
        np.empty(0), price, date, float(np.median(p)), start, mean_years, trend, season, user,
    )  # fmt: skip
    design = model.design(data)
    precision += [1.0] * (design.shape[1] - len(precision))  # user controls: a mild ridge
    used += [c.name for c in user]
    prior = np.array(precision)
    fit = fit_poisson(design, q, prior_precision=prior)
    counted = fit
    if not np.allclose(q, np.round(q), rtol=0, atol=WHOLE_TOLERANCE):
        fit = _fit_proportional(design, q, prior)
        notes.append(
            "quantities are not whole counts (amounts or averages), so every period weighs the same"
        )
    elif (
        not UNDER_DISPERSION <= _raw_dispersion(fit, q, design.shape[1]) <= PROPORTIONAL_DISPERSION
    ):
        fit = _fit_proportional(design, q, prior)
        notes.append("sales vary in proportion to their size, so every period weighs the same")
    value, se = float(fit.coef[1]), float(np.sqrt(fit.cov[1, 1]))
    if counted.dispersion > 1.5 and fit is counted:
        notes.append(
            f"sales vary {fit.dispersion:.1f} times more than chance alone; intervals allow for it"
        )
    estimate = ElasticityEstimate(
        value, value - Z95 * se, value + Z95 * se, int(facts["observations"]),
        int(facts["distinct_prices"]), facts["price_low"], facts["price_high"], tuple(used),
        tuple(notes), tuple(left_out),
    )  # fmt: skip
    return dataclasses.replace(model, estimate=estimate, coef=fit.coef)


def _fit_proportional(X: np.ndarray, y: np.ndarray, precision: np.ndarray) -> PoissonFit:
    """Log-linear mean with noise proportional to it (gamma quasi-likelihood).

    Large sales (a chain's weekly volume, a state's cigarettes) vary with weather and
    income in proportion to their size, not by counting chance: then each period should
    weigh the same, as in least squares on logs, but the mean (not the median) is fitted
    and weeks without a sale still count.
    """
    dispersion = 1.0
    beta = scipy.linalg.solve(X.T @ X + np.diag(precision), X.T @ np.log(y + 0.5), assume_a="pos")
    for _ in range(2):  # the prior is weighed against the data's own noise level
        gram = X.T @ X / dispersion + np.diag(precision)
        for _ in range(100):
            eta = np.minimum(X @ beta, 50.0)
            work = eta + (y - np.exp(eta)) / np.exp(eta)
            new = scipy.linalg.solve(gram, X.T @ work / dispersion, assume_a="pos")
            done = np.max(np.abs(new - beta)) < 1e-10
            beta = 0.5 * (beta + new) if np.max(np.abs(new - beta)) > 1 else new
            if done:
                break
        mu = np.exp(np.minimum(X @ beta, 50.0))
        dispersion = float(np.sum(((y - mu) / mu) ** 2) / max(len(y) - X.shape[1], 1))
        dispersion = max(dispersion, 1e-8)
    cov = scipy.linalg.inv(X.T @ X / dispersion + np.diag(precision))
    return PoissonFit(beta, cov, dispersion, mu, 0)


def _raw_dispersion(fit: PoissonFit, y: np.ndarray, columns: int) -> float:
    """Pearson dispersion without the floor at 1: below it, these are not counts."""
    return float(np.sum((y - fit.mean) ** 2 / fit.mean) / max(len(y) - columns, 1))


def estimate_elasticity(
    frame: pd.DataFrame,
    price: str = "unit_price",
    quantity: str = "quantity",
    controls: Sequence[str] | None = None,
    date: str | None = None,
) -> ElasticityEstimate:
    """Elasticity of one product from rows of (price, units sold): see `fit_demand`."""
    return fit_demand(frame, price, quantity, controls, date).estimate
