"""Churn risk and lifetime value per customer, validated the way the literature does it.

`CustomerValueModel.fit(orders, as_of)` fits the candidates and keeps the one that
predicted a held-out period better:

- BG/NBD, MBG/NBD and Pareto/NBD, each with Gamma-Gamma for spend (see `btyd` and
  `pareto`): few parameters, work from a few hundred customers, and know that a quiet
  customer may have left for good. MBG/NBD also lets a customer leave after the first
  purchase; Pareto/NBD at any moment, not only just after a purchase.
- MBG/NBD corrected by boosted trees over history features (counts in recent windows,
  gap regularity, how overdue, spend; see `boosted`), trained on one calibration/holdout
  window and checked on the next. It picks up patterns the BG/NBD story has no room
  for, given enough customers; its churn risk is corrected the same way.

The check: history is cut at `as_of - holdout`; each candidate sees only what came
before and predicts each customer's purchases after. Per-customer root mean squared
error decides (the predictions are means, and squared error is what a mean minimises;
absolute error rewards predicting the median, too few for counts with many zeros), with
absolute and total error, churn AUC and a naive baseline (each customer keeps their
past rate) reported beside it. Orders on the same day count as one purchase, as in the papers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binom
from sklearn.metrics import roc_auc_score

from smbml_connect.analytics.customers.boosted import BoostedCorrection
from smbml_connect.analytics.customers.btyd import BetaGeo, GammaGamma
from smbml_connect.analytics.customers.history import add_paid_purchases, counted_orders
from smbml_connect.analytics.customers.pareto import ParetoNBD
from smbml_connect.analytics.customers.ranges import (
    blocks,
    count_quantiles,
    distinct,
    poisson_bound,
    poisson_counts,
)
from smbml_connect.analytics.customers.seasons import (
    MIN_SEASONS,
    BetaGeoBetaBinom,
    Season,
    find_season,
    season_summary,
    season_year_start,
)
from smbml_connect.analytics.shared.contract import (
    check_fitted,
    frame_from_dict,
    frame_to_dict,
    read_text,
    write_text,
)
from smbml_connect.business_zone import calendar_day, calendar_days
from smbml_connect.coerce import coerce_datetime
from smbml_connect.errors import DataValidationError, NotEnoughDataError

__all__ = [
    "MIN_CUSTOMERS",
    "MODEL_LABELS",
    "CustomerValueModel",
    "daily_purchases",
    "history_summary",
    "seasons_ahead",
    "unreadable_orders",
]

WEEK = pd.Timedelta(days=7)
MIN_CUSTOMERS = 30  # fewer and four parameters are guesswork
# Customers who bought again on a later day: fewer and how often customers come back is a
# guess, so no churn risk or value is given; the Gamma-Gamma spend model needs as many.
# Simulated shops of 30-80 customers (three BG/NBD truths, 2-26 weeks of history) fitted
# with MBG/NBD: with 0-7 repeat buyers the 12-month total was off by 55-93% (median) and
# the share shown at High risk 23-32 points above the share that bought nothing; from 8
# to 14, 39-40% off and no such lean.
MIN_REPEAT_BUYERS = 10
DEFAULT_SPEND = "all"  # where no held-out period can choose: each customer's own spend counts
GBM_MIN_CUSTOMERS = 1000  # below this the boosted candidate is not tried
INTERVAL = (10, 90)  # percentiles of the 80% interval
YEAR_DAYS = 365


def daily_purchases(orders: pd.DataFrame, as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """Counted orders per customer and day (contact_id, day, value), up to `as_of`; days
    are the business's, on the clock of `as_of`'s zone (UTC without one; see
    business_zone.calendar_days).

    The orders `counted_orders` counts (an order that is not a sale, ``sales.is_sale``, is
    not a purchase). A day whose orders have no amount that can be counted (unreadable, or
    in another currency: ``order_currencies``) is still a purchase day, of unknown value:
    dropping it made a monthly buyer whose last five orders were in pounds look like a
    lapsing one (0.8% -> 11.7% churn risk). Orders without a customer, date or total are
    listed by `unreadable_orders`.
    """
    _require_columns(orders)
    counted = counted_orders(orders, as_of)
    frame = pd.DataFrame(
        {
            "contact_id": counted["contact_id"],
            "day": calendar_days(counted["ordered_at"], _zone(as_of)),
            "value": counted["total"],
        }
    )
    grouped = frame.groupby(["contact_id", "day"], as_index=False, sort=True)
    return grouped["value"].sum(min_count=1)


def _zone(as_of: pd.Timestamp | None) -> Any:
    return None if as_of is None or as_of.tzinfo is None else as_of.tz


def _require_columns(orders: pd.DataFrame) -> None:
    missing = [c for c in ("contact_id", "ordered_at", "total") if c not in orders.columns]
    if missing:
        raise DataValidationError(
            f"orders need columns contact_id, ordered_at and total; missing: {', '.join(missing)}"
        )


def _read_orders(orders: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    _require_columns(orders)
    return coerce_datetime(orders["ordered_at"])[0], pd.to_numeric(orders["total"], errors="coerce")


def unreadable_orders(orders: pd.DataFrame) -> pd.DataFrame:
    """Orders left out for a missing or unreadable value: row, column, value, reason."""
    when, total = _read_orders(orders)
    problems = []
    for column, bad, reason in (
        ("contact_id", orders["contact_id"].isna(), "no customer: not counted as a purchase"),
        ("ordered_at", when.isna(), "missing or not a date"),
        ("total", total.isna(), "missing or not a number"),
    ):
        for row in orders.index[bad.to_numpy()]:
            problems.append((row, column, orders.at[row, column], reason))
    return pd.DataFrame(problems, columns=["row", "column", "value", "reason"])


# What the spend model learns a customer's spend per purchase from (`SPEND_BASES`):
# "repeat", the purchases after the first, as Fader and Hardie's Gamma-Gamma does; or
# "all", every paid purchase, the first included. Chosen on the held-out period.
SPEND_BASES = ("all", "repeat")
SPEND_WORDS = {
    "all": "every paid purchase, the first included",
    "repeat": "the purchases after each customer's first",
}


def _spend_inputs(
    s: pd.DataFrame, basis: str = "repeat"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the spend model reads per customer: the purchases paid for (after the first,
    or with `basis` "all" every one), their mean value and the share of days of known
    value that were paid for. A model saved before these columns existed reads its repeat
    days and mean, all paid for, as it did then."""
    if "paid_share" not in s.columns:
        return s["x"].to_numpy(float), s["m"].to_numpy(float), np.ones(len(s))
    x, m = ("paid_days", "paid_mean") if basis == "all" else ("x_paid", "m_paid")
    return s[x].to_numpy(float), s[m].to_numpy(float), s["paid_share"].to_numpy(float)


def thin_counts(counts: np.ndarray, share: np.ndarray) -> np.ndarray:
    """P(k paid purchases) from P(n purchases) (customers x 0..most) when each purchase is
    paid for with the customer's own chance `share` (binomial thinning); unchanged at 1."""
    if np.all(share >= 1.0):
        return counts
    n = np.arange(counts.shape[1])
    out = counts.copy()
    for i in np.flatnonzero(share < 1.0):
        # kernel[n, k] = P(k of n paid)
        kernel = binom.pmf(n[None, :], n[:, None], share[i])
        out[i] = counts[i] @ kernel
    return out


def _largest(summary: pd.DataFrame) -> float:
    """The largest purchase of known value among these customers (infinite for a summary
    saved before it was kept)."""
    if "largest" not in summary.columns or not summary["largest"].notna().any():
        return float("inf")
    return float(summary["largest"].max())


def _per_purchase(spend: GammaGamma, s: pd.DataFrame, basis: str, largest: float) -> np.ndarray:
    """The share of days paid for times the spend model's expected paid purchase, at most
    the largest purchase the shop has seen: no order ever came near a mean above it, so
    nothing in the data supports one (a few wholesale accounts gave a $6 one-time buyer
    $14,624 a purchase, three times any order the shop ever took)."""
    x, m, share = _spend_inputs(s, basis)
    return share * np.minimum(spend.expected_spend(x, m), largest)


def history_summary(days: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    """Per customer with a purchase before `at`: the BTYD summary plus boosted features.

    x = repeat purchases, t_x = weeks from first to last, T = weeks from first to `at`,
    m = mean value of the repeat purchases (the Gamma-Gamma convention).
    """
    seen = days[days["day"] < at].sort_values(["contact_id", "day"], kind="stable")
    if seen.empty:
        return pd.DataFrame()
    weeks_before = (at - seen["day"]).dt.total_seconds().to_numpy() / 604800
    g = seen.assign(weeks_before=weeks_before).groupby("contact_id", sort=True)
    ends = seen.set_index("contact_id")["value"]
    out = pd.DataFrame(
        {
            "purchases": g.size(),
            "T": g["weeks_before"].max(),
            "recency": g["weeks_before"].min(),
            "spend": g["value"].sum(),  # the days of known value (all of them, mostly)
            "first_value": ends[~ends.index.duplicated(keep="first")],
            "last_value": ends[~ends.index.duplicated(keep="last")],
        }
    )
    out["x"] = out["purchases"] - 1.0
    out["t_x"] = out["T"] - out["recency"]
    # mean value of the repeat days whose value is known (a day in another currency is a
    # purchase of unknown value): the sum less the first over x when every value is known
    repeats = seen[seen["contact_id"].duplicated(keep="first")]
    out["m"] = repeats.groupby("contact_id")["value"].mean().reindex(out.index).fillna(0.0)
    # A day of known value 0 (a free sample, a 100% discount) is a purchase worth 0, not
    # one of unknown value: the spend model (Gamma-Gamma, positive spends only) learns
    # from the paid days, and the share of days paid for scales what it expects.
    paid = repeats[repeats["value"] > 0].groupby("contact_id")["value"]
    free = repeats["value"].eq(0).groupby(repeats["contact_id"]).sum()
    out["x_paid"] = out["x"] - free.reindex(out.index).fillna(0.0)
    out["m_paid"] = paid.mean().reindex(out.index).fillna(0.0)
    known = g["value"].count()
    out["paid_share"] = (g["value"].apply(lambda v: (v > 0).sum()) / known).where(known > 0, 1.0)
    add_paid_purchases(out, seen)
    for weeks in (4, 8, 13, 26, 52):
        out[f"purchases_{weeks}w"] = (
            seen.assign(inside=weeks_before <= weeks).groupby("contact_id")["inside"].sum()
        )
    out["mean_gap"] = np.where(out["x"] > 0, out["t_x"] / out["x"].clip(lower=1), np.nan)
    out["past_rate"] = out["x"] / out["T"].clip(lower=1)  # repeat purchases per week
    # How regular the gaps are, how overdue the next purchase is, and where spend is going:
    # a regular buyer three gaps late has more likely left than an irregular one.
    gaps = -np.diff(weeks_before, prepend=np.nan)  # days are sorted within each customer
    gaps[seen["contact_id"].ne(seen["contact_id"].shift()).to_numpy()] = np.nan
    out["gap_sd"] = pd.Series(gaps, index=seen["contact_id"].to_numpy()).groupby(level=0).std()
    out["overdue"] = out["recency"] / out["mean_gap"]
    out["recency_share"] = out["recency"] / out["T"].clip(lower=1 / 7)
    out["value_trend"] = out["last_value"] / (out["spend"] / known).replace(0, np.nan)
    return out


def _require_repeat_buyers(summary: pd.DataFrame, age_days: int, as_of: pd.Timestamp) -> None:
    """Refuse when too few customers came back to learn how often they do: the models
    would otherwise publish a guess (every customer 98% "High" risk in a shop two weeks
    old) as if it were a finding."""
    repeat = int((summary["x"] > 0).sum())
    if repeat < MIN_REPEAT_BUYERS:
        came = "no customer has" if repeat == 0 else f"only {repeat} of {len(summary):,} have"
        raise NotEnoughDataError(
            f"churn risk and value need at least {MIN_REPEAT_BUYERS} customers who bought "
            f"again on a later day, to learn how often customers come back; {came} so far "
            f"(the first counted order was {age_days:,} days before {as_of:%Y-%m-%d})"
        )


def _barred(summary: pd.DataFrame) -> dict[str, str]:
    """Candidates not used for these customers, with why.

    Plain BG/NBD lets a customer leave only after a repeat purchase, so it calls every
    one-time buyer certainly still a customer and their churn risk only "alive but quiet":
    a one-time buyer quiet for five months came out the safest customer in the shop. With
    any one-time buyer among the customers, its P(alive) and churn risk would be false for
    them, so it is not used (MBG/NBD, which lets them leave, is its fix: Batislam et al.
    2007)."""
    once = int((summary["x"] == 0).sum())
    if not once:
        return {}
    who = "1 customer has" if once == 1 else f"{once:,} customers have"
    return {
        "bgnbd": f"BG/NBD is not used: it counts everyone who bought only once as certainly "
        f"still a customer, and {who} bought on one day only"
    }


def _purchases_between(days: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    inside = days[(days["day"] >= start) & (days["day"] < end)]
    return inside.groupby("contact_id").size()


MODEL_LABELS = {
    "bgnbd": "BG/NBD",
    "mbgnbd": "MBG/NBD",
    "pnbd": "Pareto/NBD",
    "boosted": "MBG/NBD corrected by boosted trees",
    "naive": "naive (past rate)",
    "bgbb": "BG/BB",
}
BASE_FAMILY = "mbgnbd"  # what the boosted trees correct
# What each model assumes, in words, for the report's "Model used" (the names alone are
# jargon to a shop owner).
_BTYD_WORDS = "a 'buy till you die' model: each customer buys at their own steady pace until, "
MODEL_WORDS = {
    "bgnbd": _BTYD_WORDS + "after some purchase, they stop for good",
    "mbgnbd": _BTYD_WORDS + "at or after some purchase, they stop for good",
    "pnbd": _BTYD_WORDS + "at some moment, they stop for good",
    "boosted": "a 'buy till you die' model whose estimates are corrected by decision trees "
    "learnt from past customers",
    "naive": "each customer keeps buying at their past rate",
    "bgbb": "a 'buy till you die' model for a shop that sells in one season a year: in each "
    "season a customer still there buys with their own chance, and before each season they "
    "may stop for good",
}


FAMILIES = ("bgnbd", "mbgnbd", "pnbd")  # the buy-till-you-die candidates
# "Each keeps their past rate" gives expected purchases only: no chance a customer is still
# there, no churn risk, no range, which the Customer value tab needs. It is scored as the
# yardstick a model should beat, never used.
NAIVE_BASELINE = f"{MODEL_LABELS['naive']}, a baseline that is never used,"


def _baseline_better(chosen: str, models: dict[str, dict[str, float]]) -> str:
    """The plain words for a chosen model that erred more than the naive baseline: it was
    called "lowest error" beside a baseline with half its error, and nothing said so."""
    return (
        f"This time {MODEL_LABELS[chosen]} erred more than assuming each customer keeps "
        f"buying at their past rate (root mean squared error {models[chosen]['rmse']:.3f} "
        f"against {models['naive']['rmse']:.3f}); it is still used because the past rate "
        "gives no churn risk, no chance a customer is still there and no range, so treat "
        "the expected purchases and values as rough"
    )


PurchaseModel = BetaGeo | ParetoNBD
SeasonSeen = tuple[np.ndarray, np.ndarray, np.ndarray]  # x, t_x, n of BG/BB


def seasons_ahead(horizon_days: int) -> int:
    """The seasons a horizon covers in a shop that sells in one season a year: one a
    year, at least the next one."""
    return max(1, round(horizon_days / YEAR_DAYS))


def _seen(summary: pd.DataFrame) -> SeasonSeen:
    """What BG/BB reads of each customer: x, t_x and n (see `seasons.season_summary`)."""
    x, t_x, n = (summary[c].to_numpy(float) for c in ("x", "t_x", "n"))
    return x, t_x, n


def _season_label(season: Season, year: int) -> str:
    """A season year as a shop says it: "2025", or "2025/26" for one across New Year."""
    begin = season_year_start(year, season.turn) + pd.Timedelta(
        days=(season.start - season.turn) % YEAR_DAYS
    )
    end = begin + pd.Timedelta(days=season.days - 1)
    return f"{begin.year}" if begin.year == end.year else f"{begin.year}/{end:%y}"


@dataclass
class _Candidate:
    name: str
    predicted: np.ndarray
    no_purchase: np.ndarray  # higher = more likely to buy nothing


def _scores(actual: np.ndarray, candidate: _Candidate) -> dict[str, float]:
    quiet = (actual == 0).astype(int)
    both = 0 < quiet.sum() < len(quiet)
    return {
        "mae": float(np.abs(candidate.predicted - actual).mean()),
        "rmse": float(np.sqrt(((candidate.predicted - actual) ** 2).mean())),
        "total_predicted": float(candidate.predicted.sum()),
        "total_actual": float(actual.sum()),
        "total_error_pct": float(
            100 * (candidate.predicted.sum() - actual.sum()) / max(actual.sum(), 1)
        ),
        "churn_auc": float(roc_auc_score(quiet, candidate.no_purchase)) if both else float("nan"),
    }


@dataclass
class CustomerValueModel:
    """Expected purchases, value (with an 80% interval), p_alive and churn risk per customer.

    `holdout_days` is the length of the check period (default: a year, or a third of
    the history when that is shorter).
    """

    random_state: int = 0
    holdout_days: int | None = None
    candidates: tuple[str, ...] = ("bgnbd", "mbgnbd", "pnbd", "boosted")

    # -- fitting ----------------------------------------------------------------------
    def fit(self, orders: pd.DataFrame, as_of: pd.Timestamp | str) -> CustomerValueModel:
        as_of = pd.Timestamp(as_of)  # in the business's zone: its days are counted
        as_of = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of
        days = daily_purchases(orders, as_of)
        self.skipped_ = unreadable_orders(orders)
        if days.empty:
            raise NotEnoughDataError("no counted orders with a customer, date and total")
        self.as_of_ = as_of
        end = calendar_day(as_of) + pd.Timedelta(days=1)  # purchases on the as_of day count
        # Per-customer history up to as_of (x, t_x, T, m, ...): what predictions condition
        # on. The orders themselves are not kept.
        self.summary_ = history_summary(days, end)
        customers = len(self.summary_)
        if customers < MIN_CUSTOMERS:
            raise NotEnoughDataError(
                f"need at least {MIN_CUSTOMERS} customers with counted orders; got {customers}"
            )
        self.season_ = find_season(days, end)
        if self.season_ is not None:
            return self._fit_seasons(days, end)
        span_days = (end - days["day"].min()).days
        _require_repeat_buyers(self.summary_, span_days - 1, as_of)
        holdout = self.holdout_days or int(min(365, max(28, span_days // 3)))
        self.holdout_days_ = holdout
        fitted: dict[str, PurchaseModel] = {}  # the holdout fits, to start from
        self.report_ = self._validate(
            days, end, pd.Timedelta(days=holdout), fitted, _barred(self.summary_)
        )
        self.spend_basis_ = self.report_.get("spend", {}).get("chosen", DEFAULT_SPEND)
        self.spend_ = self._fit_spend(self.summary_, self.spend_basis_)
        starts = {family: model.params_ for family, model in fitted.items()}
        self.chosen_ = self.report_["chosen"]
        # p_alive and the value range's shape come from the better buy-till-you-die
        # family, also when the boosted correction gives the counts and churn risk.
        self.family_ = self.report_["family"]
        self.btyd_: PurchaseModel | BetaGeoBetaBinom = self._fit_btyd(
            self.summary_, self.family_, starts.get(self.family_)
        )
        self.booster_: BoostedCorrection | None = None
        self.base_: PurchaseModel | None = None
        if self.chosen_ == "boosted":
            # Trained on the check period itself: features at its start, corrected from
            # the MBG/NBD the check fitted there.
            cut = end - pd.Timedelta(days=holdout)
            self.booster_ = self._train_boosted(days, cut, end, fitted[BASE_FAMILY])
            base = self.btyd_ if self.family_ == BASE_FAMILY else None
            self.base_ = base or self._fit_btyd(self.summary_, BASE_FAMILY, starts.get(BASE_FAMILY))
        return self

    # -- a shop that sells in one season a year -------------------------------------------
    def _fit_seasons(self, days: pd.DataFrame, end: pd.Timestamp) -> CustomerValueModel:
        """BG/BB over the seasons each customer bought in (see `seasons`), checked on the
        last season seen. The continuous-time models are not tried: a year-long gap is
        the rhythm of such a shop, and they read it as a slow buyer still there (every
        customer of a Christmas shop 57-72% churn risk, a one-time buyer of three years
        before "87% still a customer")."""
        season = self.season_
        assert season is not None
        where = f"most orders fall between {season.words('and')} each year"
        if season.seasons < MIN_SEASONS:
            raise NotEnoughDataError(
                f"your customers buy in one season a year ({where}), so each season is one "
                f"chance to come back; churn risk and value need {MIN_SEASONS} seasons (the "
                f"last to check the model on), and the orders cover {season.seasons}"
            )
        summary = season_summary(days, season, end)
        repeat = int((summary["x"] > 0).sum())
        if repeat < MIN_REPEAT_BUYERS:
            came = "no customer has" if repeat == 0 else f"only {repeat} of {len(summary):,} have"
            raise NotEnoughDataError(
                f"churn risk and value need at least {MIN_REPEAT_BUYERS} customers who came "
                f"back in a later season ({where}); {came} so far"
            )
        self.season_summary_ = summary
        self.holdout_days_ = YEAR_DAYS
        self.report_, start = self._check_seasons(days, season)
        self.spend_basis_ = self.report_.get("spend", {}).get("chosen", DEFAULT_SPEND)
        self.spend_ = self._fit_spend(summary, self.spend_basis_)
        self.chosen_ = self.family_ = "bgbb"
        self.btyd_ = self._fit_bgbb(summary, start)
        self.booster_ = None
        self.base_ = None
        return self

    @staticmethod
    def _fit_bgbb(summary: pd.DataFrame, start: np.ndarray | None = None) -> BetaGeoBetaBinom:
        penalty = 0.0 if len(summary) >= 200 else 0.1  # as the other models
        return BetaGeoBetaBinom(penalty).fit(*_seen(summary), start)

    def _check_seasons(
        self, days: pd.DataFrame, season: Season
    ) -> tuple[dict[str, Any], np.ndarray | None]:
        """Fit on the seasons before the last one seen and predict who buys in it: BG/BB
        against the naive share of seasons bought. Also the report's words."""
        held = season.last
        cut = season_year_start(held, season.turn)
        upto = cut + pd.Timedelta(days=YEAR_DAYS)
        label = f"the {_season_label(season, held)} season ({season.words()})"
        report: dict[str, Any] = {
            "holdout": label,
            "holdout_days": (min(upto, days["day"].max() + pd.Timedelta(days=1)) - cut).days,
            "season": season.to_dict(),
            "seasons": season.words(),
            "chosen": "bgbb",
            "family": "bgbb",
        }
        lead = (
            f"{MODEL_LABELS['bgbb']} ({MODEL_WORDS['bgbb']}): each season counts as one chance "
            "to buy; the models that read a year-long gap as a slow buyer are not used"
        )
        earlier = replace(season, now=held - 1, done=1.0, seasons=season.seasons - 1)
        before = season_summary(days, earlier, cut)
        report["customers"] = len(before)
        if len(before) < MIN_CUSTOMERS:
            report["why"] = (
                f"{lead}; only {len(before)} customers bought before {label}, too few to check "
                "it on that season"
            )
            return report, None
        inside = days[(days["day"] >= cut) & (days["day"] < upto)]
        bought = before.index.isin(inside["contact_id"].unique()).astype(float)
        model = self._fit_bgbb(before)
        seen = _seen(before)
        x, _, n = seen
        results = {
            "bgbb": _Candidate(
                "bgbb", model.expected_purchases(1, *seen), model.p_no_purchase(1, *seen)
            ),
            "naive": _Candidate(
                "naive", np.where(n > 0, x / np.maximum(n, 1), 0.0), -x / np.maximum(n, 1)
            ),
        }
        report["models"] = {name: _scores(bought, c) for name, c in results.items()}
        spent = inside.groupby("contact_id")["value"].sum().reindex(before.index, fill_value=0)
        report["spend"] = self._check_spend(before, results["bgbb"].predicted, spent.to_numpy())
        errors = ", ".join(
            f"{MODEL_LABELS[k]} {v['rmse']:.3f}" for k, v in report["models"].items()
        )
        report["why"] = (
            f"{lead}; checked on who bought in {label}, from the seasons before it (root mean "
            f"squared error {errors})"
        )
        return report, model.params_

    @staticmethod
    def _fit_spend(summary: pd.DataFrame, basis: str) -> GammaGamma | None:
        """Gamma-Gamma over the purchases `basis` names; none without `MIN_REPEAT_BUYERS`
        customers who paid on a later day (how a customer's spend varies is not known)."""
        x, m, _ = _spend_inputs(summary, "repeat")
        if ((x > 0) & (m > 0)).sum() < MIN_REPEAT_BUYERS:
            return None
        x, m, _ = _spend_inputs(summary, basis)
        return GammaGamma().fit(x, m)  # it keeps the customers with a paid purchase

    def _check_spend(
        self, before: pd.DataFrame, purchases: np.ndarray, spent: np.ndarray
    ) -> dict[str, Any]:
        """Each spend basis fitted on the customers `before` the held-out period, priced
        into the chosen model's expected purchases there, against what they spent (of
        known value): the lower error per customer is used. Learning only from repeat
        purchases (Fader and Hardie) gives a one-time buyer everyone's average, which a few
        large accounts made $14,624 in a shop whose largest order was $4,944 (and $6 buyers
        "expected to spend $17,027"); learning from every purchase lets their own count."""
        scores: dict[str, dict[str, float]] = {}
        for basis in SPEND_BASES:
            model = self._fit_spend(before, basis)
            if model is None:
                continue
            value = purchases * _per_purchase(model, before, basis, _largest(before))
            scores[basis] = {
                "rmse": float(np.sqrt(((value - spent) ** 2).mean())),
                "total_predicted": float(value.sum()),
                "total_actual": float(spent.sum()),
                "total_error_pct": float(100 * (value.sum() - spent.sum()) / max(spent.sum(), 1)),
            }
        if not scores:
            return {}
        return {"models": scores, "chosen": min(scores, key=lambda k: scores[k]["rmse"])}

    @staticmethod
    def _fit_btyd(
        summary: pd.DataFrame, family: str, start: np.ndarray | None = None
    ) -> PurchaseModel:
        penalty = 0.0 if len(summary) >= 200 else 0.1
        model = (
            ParetoNBD(penalty=penalty)
            if family == "pnbd"
            else BetaGeo(penalty=penalty, modified=family == "mbgnbd")
        )
        return model.fit(
            summary["x"].to_numpy(float), summary["t_x"].to_numpy(), summary["T"].to_numpy(), start
        )

    def _train_boosted(
        self,
        days: pd.DataFrame,
        cut: pd.Timestamp,
        end: pd.Timestamp,
        base: PurchaseModel | None = None,
        start: np.ndarray | None = None,
    ) -> BoostedCorrection | None:
        """Features at `cut`, label = purchases in [cut, end); `base` is MBG/NBD fitted on
        the history before `cut` (fitted here when not given)."""
        features = history_summary(days, cut)
        if len(features) < GBM_MIN_CUSTOMERS:
            return None
        # Started from the later fit's parameters when given: the same shop a little
        # earlier, so the optimiser has less to walk (seconds at 100,000 customers).
        base = base or self._fit_btyd(features, BASE_FAMILY, start)
        label = _purchases_between(days, cut, end).reindex(features.index, fill_value=0)
        return BoostedCorrection(self.random_state).fit(
            features, label.to_numpy(), base, (end - cut) / WEEK
        )

    def _validate(
        self,
        days: pd.DataFrame,
        end: pd.Timestamp,
        h: pd.Timedelta,
        fitted_at_cut: dict[str, PurchaseModel],
        barred: dict[str, str],
    ) -> dict[str, Any]:
        """Score the candidates on the held-out period; `barred` (model -> why) are scored
        and shown but not used."""
        cut = end - h
        weeks = h / WEEK
        before = history_summary(days, cut)
        report: dict[str, Any] = {
            "holdout": f"{cut:%Y-%m-%d} to {end - pd.Timedelta(days=1):%Y-%m-%d}",
            "holdout_days": h.days,
            "customers": len(before),
        }
        if len(before) < MIN_REPEAT_BUYERS:
            # nothing to check a model on: a shop three weeks old was told EUR 180,737 would
            # come from 45 customers who had spent EUR 15,110, "checked on nothing"
            raise NotEnoughDataError(
                f"churn risk and value need a history long enough to check them on its last "
                f"{h.days:,} days; only {len(before)} customer{'' if len(before) == 1 else 's'} "
                f"bought before {cut:%Y-%m-%d}"
            )
        if len(before) < MIN_CUSTOMERS:
            report["chosen"] = report["family"] = "mbgnbd"
            report["why"] = (
                f"MBG/NBD ({MODEL_WORDS['mbgnbd']}): only {len(before)} customers bought before "
                f"{cut:%Y-%m-%d}, too few to check any candidate on a held-out period"
            )
            return report
        actual = _purchases_between(days, cut, end).reindex(before.index, fill_value=0).to_numpy()
        x, t_x, T = (before[c].to_numpy(float) for c in ("x", "t_x", "T"))
        results: dict[str, _Candidate] = {}
        for family in FAMILIES:
            if family not in self.candidates and family != "mbgnbd":
                continue
            fitted = fitted_at_cut[family] = self._fit_btyd(before, family)
            results[family] = _Candidate(
                family,
                fitted.expected_purchases(weeks, x, t_x, T),
                fitted.p_no_purchase(weeks, x, t_x, T),
            )
        results["naive"] = _Candidate(
            "naive", before["past_rate"].to_numpy() * weeks, -before["past_rate"].to_numpy()
        )
        skipped = ""
        if "boosted" in self.candidates:
            booster = self._train_boosted(
                days, cut - h, cut, start=fitted_at_cut[BASE_FAMILY].params_
            )
            if booster is None:
                skipped = (
                    f"the boosted model needs {GBM_MIN_CUSTOMERS:,} customers who bought before "
                    f"{cut - h:%Y-%m-%d} to train on"
                )
            else:
                base = fitted_at_cut[BASE_FAMILY]
                results["boosted"] = _Candidate(
                    "boosted",
                    booster.expected_purchases(weeks, before, base),
                    booster.p_no_purchase(weeks, before, base),
                )
        report["models"] = {name: _scores(actual, c) for name, c in results.items()}
        eligible = {
            k: v for k, v in report["models"].items() if k in self.candidates and k not in barred
        } or {"mbgnbd": report["models"]["mbgnbd"]}  # every candidate asked for was barred
        chosen = min(eligible, key=lambda k: eligible[k]["rmse"])
        report["chosen"] = chosen
        spent = days[(days["day"] >= cut) & (days["day"] < end)].groupby("contact_id")["value"]
        report["spend"] = self._check_spend(
            before,
            results[chosen].predicted,
            spent.sum().reindex(before.index, fill_value=0).to_numpy(),
        )
        families = [k for k in FAMILIES if k in eligible] or ["mbgnbd"]
        report["family"] = min(families, key=lambda k: report["models"][k]["rmse"])
        models = report["models"]
        errors = ", ".join(f"{MODEL_LABELS[k]} {v['rmse']:.3f}" for k, v in models.items()
                           if k != "naive")  # fmt: skip
        report["barred"] = {k: why for k, why in barred.items() if k in models}
        among = " of the models that can be used" if set(models) - {"naive"} - set(eligible) else ""
        report["why"] = (
            f"{MODEL_LABELS[chosen]} ({MODEL_WORDS[chosen]}): lowest error per customer{among} on "
            f"purchases from {report['holdout']} "
            f"(root mean squared error {errors}; {NAIVE_BASELINE} {models['naive']['rmse']:.3f})"
            + "".join(f"; {why}" for why in report["barred"].values())
            + (f"; {skipped}" if skipped else "")
        )
        if models["naive"]["rmse"] < models[chosen]["rmse"]:
            report["baseline"] = _baseline_better(chosen, models)
            report["why"] += f". {report['baseline']}"
        return report

    # -- predicting ---------------------------------------------------------------------
    def predict(self, horizon_days: int = 365, orders: pd.DataFrame | None = None) -> pd.DataFrame:
        """One row per customer: contact_id, p_alive, expected_purchases, expected_value,
        value_lo80, value_hi80, churn_risk (chance of no purchase in the horizon), and
        paid_share (of the days of known value, those paid for: free samples are not).

        The customers are those seen in `fit`, or, given `orders`, those in these orders,
        each with their history up to the fitted `as_of`.
        """
        check_fitted(self, "btyd_", "customer value model")
        if self.season_ is not None:
            return self._predict_seasons(horizon_days, orders)
        s = self.summary_
        if orders is not None:
            end = calendar_day(self.as_of_) + pd.Timedelta(days=1)
            s = history_summary(daily_purchases(orders, self.as_of_), end)
        weeks = horizon_days / 7
        x, t_x, T = (s[c].to_numpy(float) for c in ("x", "t_x", "T"))
        bg = self._continuous()
        purchases = bg.expected_purchases(weeks, x, t_x, T)
        churn = bg.p_no_purchase(weeks, x, t_x, T)
        alive = bg.p_alive(x, t_x, T)
        if self.booster_ is not None and self.base_ is not None:
            purchases = self.booster_.expected_purchases(weeks, s, self.base_)
            churn = self.booster_.p_no_purchase(weeks, s, self.base_)
            # Someone who will buy is still there: where the corrected chance of a purchase
            # is above BTYD's P(alive), P(alive) is raised to it ("40% still active, 50%
            # will buy" would contradict itself).
            alive = np.maximum(alive, 1 - churn)
        spend = self._spend_per_purchase(s)
        expected = purchases * spend
        lo, hi = self._value_interval(weeks, x, t_x, T, s, purchases, spend)
        # A customer who has most likely left has a 10-90% range of $0-$0 while the mean,
        # pulled up by the chance they come back, is above zero. A range that leaves out
        # the expected value reads as a contradiction, so the range is widened to hold it
        # (it then covers at least 80%).
        lo, hi = np.minimum(lo, expected), np.maximum(hi, expected)
        return pd.DataFrame(
            {
                "contact_id": s.index.to_numpy(),
                "p_alive": alive,
                "expected_purchases": purchases,
                "expected_value": expected,
                "value_lo80": lo,
                "value_hi80": hi,
                "churn_risk": churn,
                "spend_per_purchase": spend,
                "paid_share": _spend_inputs(s)[2],
                "purchases_so_far": s["purchases"].to_numpy(),
                "spend_so_far": s["spend"].to_numpy(),
                "weeks_since_last": s["recency"].to_numpy(),
            }
        )

    def _predict_seasons(self, horizon_days: int, orders: pd.DataFrame | None) -> pd.DataFrame:
        """`predict` for a shop that sells in one season a year: the horizon is the next
        seasons (one a year, at least one), a purchase a season bought in, and its value
        what the customer spent in that season."""
        assert self.season_ is not None and isinstance(self.btyd_, BetaGeoBetaBinom)
        s = self.season_summary_
        if orders is not None:
            end = calendar_day(self.as_of_) + pd.Timedelta(days=1)
            s = season_summary(daily_purchases(orders, self.as_of_), self.season_, end)
        ahead = seasons_ahead(horizon_days)
        seen = _seen(s)
        counts = self.btyd_.purchase_pmf(ahead, *seen)
        purchases = counts @ np.arange(ahead + 1.0)
        spend = self._spend_per_purchase(s)
        expected = purchases * spend
        x_paid, m, share = _spend_inputs(s, self._spend_basis())
        levels = tuple(level / 100 for level in INTERVAL)
        if self.spend_ is None:
            ends = count_quantiles(counts, levels) * spend[:, None]
        else:
            ends = np.zeros((len(s), len(levels)))
            paying = share > 0  # who only ever paid 0 spends 0 at every level
            if paying.any():
                thinned = thin_counts(counts[paying], share[paying])
                ends[paying] = self.spend_.total_quantiles(
                    thinned, x_paid[paying], m[paying], levels
                )
        lo, hi = np.minimum(ends[:, 0], expected), np.maximum(ends[:, 1], expected)
        return pd.DataFrame(
            {
                "contact_id": s.index.to_numpy(),
                "p_alive": self.btyd_.p_alive(*seen),
                "expected_purchases": purchases,
                "expected_value": expected,
                "value_lo80": lo,
                "value_hi80": hi,
                "churn_risk": counts[:, 0],
                "spend_per_purchase": spend,
                "paid_share": share,
                "purchases_so_far": s["purchases"].to_numpy(),
                "spend_so_far": s["spend"].to_numpy(),
                "weeks_since_last": s["recency"].to_numpy(),
                "seasons_bought": s["seasons_bought"].to_numpy(),
                "seasons_seen": s["seasons_seen"].to_numpy(),
            }
        )

    def _continuous(self) -> PurchaseModel:
        """The continuous-time model of a shop that sells all year."""
        assert not isinstance(self.btyd_, BetaGeoBetaBinom)
        return self.btyd_

    def _spend_basis(self) -> str:
        """What the spend model learnt from; a model saved before the choice, repeat days."""
        return getattr(self, "spend_basis_", "repeat")

    def largest_purchase(self) -> float:
        """The largest purchase of known value in the fitted history (see `_per_purchase`)."""
        fitted = self.summary_ if self.season_ is None else self.season_summary_
        return _largest(fitted)

    def _spend_per_purchase(self, s: pd.DataFrame) -> np.ndarray:
        """Expected spend of a purchase: the share of the customer's days of known value
        that were paid for, times the spend model's expectation of a paid one. A customer
        who only ever paid 0 is expected to spend 0: nothing in their history says more."""
        if self.spend_ is not None:
            return _per_purchase(self.spend_, s, self._spend_basis(), self.largest_purchase())
        share = _spend_inputs(s)[2]
        # a season's purchases are one purchase of a seasonal shop
        bought = s["seasons_bought"] if "seasons_bought" in s.columns else s["purchases"]
        paid = float((bought * s.get("paid_share", 1.0)).sum())
        return share * float(s["spend"].sum() / max(paid, 1.0))

    def _value_interval(
        self,
        weeks: float,
        x: np.ndarray,
        t_x: np.ndarray,
        T: np.ndarray,
        s: pd.DataFrame,
        purchases: np.ndarray,
        spend: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The 10th and 90th percentiles of each customer's value over `weeks`, worked out
        from the distributions (`ranges`), not read from random draws: 200 draws moved a
        customer's low end from 9,680 to 17,149 between two neighbouring days."""
        boosted = self.chosen_ == "boosted" and self.booster_ is not None
        btyd = self._continuous()
        bound = poisson_bound(purchases) if boosted else btyd.count_bound(weeks, x, T)
        levels = tuple(level / 100 for level in INTERVAL)
        x_paid, m, share = _spend_inputs(s, self._spend_basis())
        out = np.zeros((len(x), len(levels)))
        # what a customer's counts (and spend shares) are made of: the same, worked out once
        # (x_paid too: the spend's posterior reads it, and a day of unknown value is
        # neither paid nor free, so it may differ between customers of one history)
        history = (purchases, x, x_paid) if boosted else (x, t_x, T, x_paid)
        for part, most in blocks(bound):
            first, which = distinct(*(column[part] for column in history))
            one = part[first]
            if boosted:  # the corrected expectation, with Poisson scatter around it
                counts = poisson_counts(purchases[one], most)
            else:
                counts = btyd.purchase_pmf(weeks, x[one], t_x[one], T[one], most)
            if self.spend_ is not None:
                rows = np.arange(len(x))[part]
                if np.all(share[rows] >= 1.0):  # all paid: per distinct history, as counted
                    out[part] = self.spend_.total_quantiles(
                        counts, x_paid[part], m[part], levels, which
                    )
                else:
                    # Of n purchases, each is paid for with the customer's paid share; who
                    # has only ever paid 0 spends 0 at every level.
                    paying = share[rows] > 0
                    thinned = thin_counts(counts[which][paying], share[rows[paying]])
                    who = rows[paying]
                    if len(who):
                        out[who] = self.spend_.total_quantiles(thinned, x_paid[who], m[who], levels)
            else:
                out[part] = count_quantiles(counts, levels)[which] * spend[part, None]
        return out[:, 0], out[:, 1]

    def card(self) -> dict[str, Any]:
        """What a model card shows: the fitted parameters, the check, the choice."""
        check_fitted(self, "btyd_", "customer value model")
        return {
            "as_of": f"{self.as_of_:%Y-%m-%d}",
            "customers": len(self.summary_),
            "purchases": int(self.summary_["purchases"].sum()),
            # What gives the expected purchases and churn risk, and (not always the same)
            # the buy-till-you-die model behind the chance of still being a customer.
            "purchase_model": MODEL_LABELS[self.chosen_],
            "still_a_customer_model": MODEL_LABELS[self.family_],
            "purchase_params": {"params": self.btyd_.fit_.params, "errors": self.btyd_.fit_.errors},
            "gamma_gamma": (
                {"params": self.spend_.fit_.params, "errors": self.spend_.fit_.errors}
                if self.spend_ is not None
                else None
            ),
            "spend_learnt_from": SPEND_WORDS[self._spend_basis()],
            "validation": self.report_,
            "chosen": self.chosen_,
            "orders_left_out": [
                f"row {r.row}, {r.column} "
                + (f"= {r.value!r}" if pd.notna(r.value) else "empty")  # no "<NA>"
                + f": {r.reason}"
                for r in self.skipped_.head(20).itertuples(index=False)
            ],
            "orders_left_out_count": len(self.skipped_),
            # a shop that sells in one season a year: when, and how far into this one
            "season": (
                {**self.season_.to_dict(), "words": self.season_.words()}
                if self.season_ is not None
                else None
            ),
        }

    # -- saving as text -------------------------------------------------------------------
    def to_text(self) -> str:
        check_fitted(self, "btyd_", "customer value model")
        return write_text(
            "smbml-customer-value",
            2,  # 2: the boosted model reads more features and MBG/NBD's outputs
            {
                "settings": {
                    "random_state": self.random_state,
                    "holdout_days": self.holdout_days,
                    "candidates": list(self.candidates),
                },
                "as_of": self.as_of_.isoformat(),
                "zone": str(self.as_of_.tz),  # whose days: an offset alone moves in summer
                "skipped": frame_to_dict(self.skipped_),
                "summary": frame_to_dict(self.summary_),
                "holdout_days_": self.holdout_days_,
                "spend": self.spend_.to_dict() if self.spend_ is not None else None,
                "spend_basis": self._spend_basis(),
                "report": self.report_,
                "chosen": self.chosen_,
                "family": self.family_,
                "btyd": self.btyd_.to_dict(),
                "booster": self.booster_.to_dict() if self.booster_ is not None else None,
                "base": self.base_.to_dict() if self.base_ is not None else None,
                "season": self.season_.to_dict() if self.season_ is not None else None,
                "season_summary": (
                    frame_to_dict(self.season_summary_) if self.season_ is not None else None
                ),
            },
        )

    @classmethod
    def from_text(cls, text: str) -> CustomerValueModel:
        data = read_text(text, "smbml-customer-value", versions=(2,))
        settings = data["settings"]
        settings.pop("draws", None)  # the range was once simulated; it is worked out now
        model = cls(**{**settings, "candidates": tuple(settings["candidates"])})
        model.as_of_ = pd.Timestamp(data["as_of"]).tz_convert(data.get("zone") or "UTC")
        model.skipped_ = frame_from_dict(data["skipped"])
        model.summary_ = frame_from_dict(data["summary"])
        model.holdout_days_ = data["holdout_days_"]
        model.spend_ = GammaGamma.from_dict(data["spend"]) if data["spend"] is not None else None
        model.spend_basis_ = data.get("spend_basis", "repeat")  # saved before the choice
        model.report_ = data["report"]
        model.chosen_ = data["chosen"]
        model.family_ = data["family"]
        model.season_ = Season.from_dict(data["season"]) if data.get("season") else None
        if model.season_ is not None:
            model.season_summary_ = frame_from_dict(data["season_summary"])
        model.btyd_ = (
            ParetoNBD.from_dict(data["btyd"])
            if data["family"] == "pnbd"
            else BetaGeoBetaBinom.from_dict(data["btyd"])
            if data["family"] == "bgbb"
            else BetaGeo.from_dict(data["btyd"])
        )
        model.booster_ = BoostedCorrection.from_dict(data["booster"]) if data["booster"] else None
        model.base_ = BetaGeo.from_dict(data["base"]) if data["base"] else None
        return model
