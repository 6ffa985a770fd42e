"""Shops whose buying happens in one season a year, and the discrete-time model for them.

A Christmas shop sells from mid-November to Christmas; its customers come back, if at
all, a year later. The continuous-time models (BG/NBD, Pareto/NBD) read a year-long gap
as a slow buyer still there, learn almost no dropout, and gave every customer of such a
shop 57-72% churn risk, a one-time buyer of three years before "87% still a customer"
(find54_customers item 6). Here each season is one chance to buy, and the BG/BB model
(Fader, Hardie and Shang 2010, "Customer-base analysis in a discrete-time noncontractual
setting") reads each customer's pattern of seasons bought: while still a customer they
buy in a season with their own chance p, and before each season they may leave for good
with their own chance theta; p and theta vary between customers as two Beta
distributions. Tested against the paper's published estimates and against `lifetimes`'
`BetaGeoBetaBinomFitter` (in the tests only; the product never imports it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import betaln, gammaln

from smbml_connect.analytics.customers.btyd import Fitted, fit_four
from smbml_connect.analytics.customers.history import add_paid_purchases
from smbml_connect.analytics.shared.contract import check_fitted

__all__ = [
    "MIN_SEASONS",
    "BetaGeoBetaBinom",
    "Season",
    "find_season",
    "season_summary",
    "season_year",
    "season_year_start",
]

# The shortest stretch of the year that holds SEASON_SHARE of the purchase days must be
# at most SEASON_DAYS long, and hold at least YEAR_SHARE of every season's own purchase
# days: "most orders of every year inside the same few weeks". A year-round shop with a
# strong Christmas (a third of its orders from mid-November) needs most of the year.
SEASON_DAYS = 62
SEASON_SHARE = 0.8
YEAR_SHARE = 0.6
# Seasons seen, the one in progress included once it counts (see `Season.counts_now`):
# the last is held out to check the model on, and two before it are the least from
# which a chance of coming back and a chance of leaving can be told apart at all.
MIN_SEASONS = 3
YEAR_DAYS = 365


@dataclass(frozen=True)
class Season:
    """Where the season falls: `start` (day of the year, 1-366) and `days` long; each
    customer's purchases count by "season year", which changes in the middle of the
    off-season (`turn`, a day of the year), so an October order is the coming season's,
    a February one the season just gone. `now` is the season year of the run's date,
    `done` the share of a usual season's purchase days on or before this point of it."""

    start: int
    days: int
    turn: int
    first: int  # the season year of the first purchase
    now: int
    done: float
    seasons: int  # season years from `first` to the last that counts (see `counts_now`)

    @property
    def counts_now(self) -> bool:
        """The season year in progress counts as seen, for everyone, once half of a usual
        season's purchase days are behind: whoever has not bought by then is counted as
        not buying this season. Before that it is the next season, still to come."""
        return self.done >= 0.5

    @property
    def last(self) -> int:
        """The last season year that counts as seen."""
        return self.now if self.counts_now else self.now - 1

    def words(self, joint: str = "to") -> str:
        """When, in words: "15 Nov to 22 Dec" ("15 Nov and 22 Dec" after "between")."""
        begin = pd.Timestamp("2001-01-01") + pd.Timedelta(days=self.start - 1)
        end = begin + pd.Timedelta(days=self.days - 1)
        return f"{begin.day} {begin:%b} {joint} {end.day} {end:%b}"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Season:
        return cls(**data)


def season_year(day: pd.Series, turn: int) -> pd.Series:
    """The season year of each day: its calendar year, counted from the day `turn`."""
    return (day - pd.Timedelta(days=turn - 1)).dt.year


def season_year_start(year: int, turn: int) -> pd.Timestamp:
    return pd.Timestamp(year=year, month=1, day=1, tz="UTC") + pd.Timedelta(days=turn - 1)


def _shortest_stretch(doy: np.ndarray) -> tuple[int, int]:
    """(start, length in days) of the shortest stretch of the year, across New Year too,
    that holds SEASON_SHARE of the days given (days of the year, 1-366)."""
    ordered = np.sort(doy)
    need = max(int(np.ceil(SEASON_SHARE * len(ordered))), 1)
    around = np.concatenate([ordered, ordered + 366])
    lengths = around[need - 1 : need - 1 + len(ordered)] - ordered + 1
    best = int(np.argmin(lengths))
    return int(ordered[best]), int(lengths[best])


def find_season(days: pd.DataFrame, end: pd.Timestamp) -> Season | None:
    """The shop's one season, or None when its buying is not held in one season a year.

    `days` are the purchase days (contact_id, day, value) before `end`. Two season years
    with purchases are needed to tell a season from a young shop."""
    if days.empty:
        return None
    doy = days["day"].dt.dayofyear.to_numpy()
    start, length = _shortest_stretch(doy)
    if length > SEASON_DAYS:
        return None
    turn = (start + length - 1 + (YEAR_DAYS - length) // 2) % YEAR_DAYS + 1
    years = season_year(days["day"], turn)
    inside = ((doy - start) % 366) < length
    shares = pd.Series(inside).groupby(years.to_numpy()).mean()
    if len(shares) < 2 or (shares < YEAR_SHARE).any():
        return None
    today = end - pd.Timedelta(days=1)
    now = int(season_year(pd.Series([today]), turn).iloc[0])
    # how far into the season year the run is, against the purchase days of earlier ones
    before = years < now
    place = (days["day"][before] - years[before].map(lambda y: season_year_start(y, turn))).dt.days
    where = (today - season_year_start(now, turn)).days
    done = float((place <= where).mean()) if len(place) else 1.0
    first = int(years.min())
    last = now if done >= 0.5 else now - 1
    return Season(start, length, turn, first, now, done, last - first + 1)


def season_summary(days: pd.DataFrame, season: Season, end: pd.Timestamp) -> pd.DataFrame:
    """Per customer: x = later seasons bought in, t_x = the season of the last purchase
    and n = the seasons seen after the first (both counted from the first), the spend
    model's inputs over a season's purchases, and the days and spend so far.

    A customer who already bought in the season in progress before it counts for everyone
    (`Season.counts_now`) has that season seen: the purchase is known."""
    seen = days[days["day"] < end].copy()
    seen["season"] = season_year(seen["day"], season.turn)
    per = seen.groupby(["contact_id", "season"], sort=True)["value"].sum(min_count=1)
    per = per.reset_index()
    g = per.groupby("contact_id", sort=True)["season"]
    first, last = g.min(), g.max()
    out = pd.DataFrame({"first_season": first, "last_season": last})
    upto = np.maximum(season.last, last)  # a purchase in the season to come is seen
    out["n"] = (upto - first).astype(float)
    out["x"] = (g.size() - 1).astype(float)
    out["t_x"] = (last - first).astype(float)
    out["seasons_bought"] = g.size().astype(int)
    out["seasons_seen"] = (out["n"] + 1).astype(int)
    days_g = seen.groupby("contact_id", sort=True)
    out["purchases"] = days_g.size()
    out["spend"] = days_g["value"].sum()
    out["recency"] = (end - days_g["day"].max()).dt.total_seconds() / 604800
    repeats = per[per["contact_id"].duplicated(keep="first")]
    out["m"] = repeats.groupby("contact_id")["value"].mean().reindex(out.index).fillna(0.0)
    paid = repeats[repeats["value"] > 0].groupby("contact_id")["value"]
    free = repeats["value"].eq(0).groupby(repeats["contact_id"]).sum()
    out["x_paid"] = out["x"] - free.reindex(out.index).fillna(0.0)
    out["m_paid"] = paid.mean().reindex(out.index).fillna(0.0)
    known = per.groupby("contact_id")["value"].count()
    paid_seasons = per["value"].gt(0).groupby(per["contact_id"]).sum()
    out["paid_share"] = (paid_seasons / known).where(known > 0, 1.0).reindex(out.index)
    add_paid_purchases(out, per)  # a season bought in is one purchase
    return out


class BetaGeoBetaBinom(Fitted):
    """BG/BB: in each season a customer still there buys with chance p; before each
    season after the first they leave for good with chance theta. p is Beta(alpha, beta)
    and theta Beta(gamma, delta) across customers.

    x = later seasons bought in, t_x = the last of them (0 if none), n = seasons seen
    after the first; the formulas are Fader, Hardie and Shang (2010), eqs. 5, 11 and 13.
    """

    names = ("alpha", "beta", "gamma", "delta")
    what = "BG/BB model"
    made_with = ("penalty",)

    def __init__(self, penalty: float = 0.0) -> None:
        self.penalty = penalty  # as BetaGeo's: keeps a small shop's parameters finite

    def _terms(
        self, params: np.ndarray, x: np.ndarray, t_x: np.ndarray, n: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """log of the likelihood's part "still there after season n", and of the whole."""
        alpha, beta, gamma, delta = params
        base = betaln(alpha, beta) + betaln(gamma, delta)
        stays = betaln(alpha + x, beta + n - x) + betaln(gamma, delta + n) - base
        total = stays.copy()
        # left before season t_x + i + 1, i = 0 .. n - t_x - 1
        for i in range(int(np.max(n - t_x, initial=0))):
            left = i < n - t_x
            term = betaln(alpha + x, beta + t_x - x + i) + betaln(gamma + 1, delta + t_x + i) - base
            total = np.where(left, np.logaddexp(total, term), total)
        return stays, total

    def _log_lik(
        self, params: np.ndarray, x: np.ndarray, t_x: np.ndarray, n: np.ndarray
    ) -> np.ndarray:
        return self._terms(params, x, t_x, n)[1]

    def fit(
        self, x: np.ndarray, t_x: np.ndarray, n: np.ndarray, start: np.ndarray | None = None
    ) -> BetaGeoBetaBinom:
        first = np.array([1.0, 1.0, 1.0, 1.0]) if start is None else start
        self.params_, self.fit_ = fit_four(
            self._log_lik, self.names, self.penalty, x, t_x, n, first
        )
        return self

    def _still_there(self, x: np.ndarray, t_x: np.ndarray, n: np.ndarray) -> np.ndarray:
        """P(still a customer after season n | history): the likelihood's first part."""
        stays, total = self._terms(self.params_, x, t_x, n)
        return np.exp(stays - total)

    def p_alive(self, x: np.ndarray, t_x: np.ndarray, n: np.ndarray) -> np.ndarray:
        """P(still a customer in the next season | history) (eq. 11)."""
        check_fitted(self, "params_", self.what)
        _, _, gamma, delta = self.params_
        return self._still_there(x, t_x, n) * (delta + n) / (gamma + delta + n)

    def purchase_pmf(
        self, seasons: int, x: np.ndarray, t_x: np.ndarray, n: np.ndarray, most: int | None = None
    ) -> np.ndarray:
        """P(k purchases in the next `seasons` seasons | history), k = 0..`most` (at most
        `seasons`; customers x counts). Still there after season n (else none): p is
        Beta(alpha + x, beta + n - x), theta Beta(gamma, delta + n); they stay j of the
        next seasons with the Beta expectation of (1 - theta)^j theta (all of them:
        (1 - theta)^seasons), and buy in k of those j, beta-binomially."""
        check_fitted(self, "params_", self.what)
        alpha, beta, gamma, delta = self.params_
        most = seasons if most is None else most
        a, b, d = alpha + x, beta + n - x, delta + n
        k = np.arange(most + 1.0)
        out = np.zeros((len(x), most + 1))
        for j in range(seasons + 1):
            if j < seasons:
                stay = np.exp(betaln(gamma + 1, d + j) - betaln(gamma, d))
            else:
                stay = np.exp(betaln(gamma, d + j) - betaln(gamma, d))
            kk = k[None, : j + 1]
            log_bb = (
                gammaln(j + 1.0) - gammaln(kk + 1) - gammaln(j - kk + 1)
                + betaln(a[:, None] + kk, b[:, None] + j - kk) - betaln(a, b)[:, None]
            )  # fmt: skip
            out[:, : j + 1] += stay[:, None] * np.exp(log_bb)
        there = self._still_there(x, t_x, n)
        out *= there[:, None]
        out[:, 0] += 1 - there
        return out

    def expected_purchases(
        self, seasons: int, x: np.ndarray, t_x: np.ndarray, n: np.ndarray
    ) -> np.ndarray:
        """E[seasons bought in among the next `seasons` | history] (eq. 13)."""
        counts = self.purchase_pmf(seasons, x, t_x, n)
        return counts @ np.arange(counts.shape[1], dtype=float)

    def p_no_purchase(
        self, seasons: int, x: np.ndarray, t_x: np.ndarray, n: np.ndarray
    ) -> np.ndarray:
        """Chance of buying in none of the next `seasons`: the likelihood of the same
        history over n + seasons seasons over its likelihood over n."""
        check_fitted(self, "params_", self.what)
        later = self._log_lik(self.params_, x, t_x, n + seasons)
        return np.exp(later - self._log_lik(self.params_, x, t_x, n))
