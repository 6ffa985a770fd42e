"""A/B test read-out a marketer can act on: chance B beats A, lift, visitors still needed.

Bayesian with flat Beta(1, 1) priors, because "78% chance B is better" is what people
ask; the visitors still needed come from the classical two-proportion power formula
(5% two-sided, 80% power) at the lift seen so far, because that is the plan a test
would have been sized with. A winner is called only once both hold: checked every day
before its size is reached, a test that stops at the first 95% picks a winner that is
not one far more often than 5 times in 100, so until then the verdict says which
version leads and how many visitors are still needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import betaincc, betaincinv, betaln, ndtr, xlog1py, xlogy
from scipy.stats import norm

from smbml_connect.errors import DataValidationError, NotEnoughDataError

__all__ = ["ABResult", "ab_test"]

DRAWS = 20_000  # lift interval: about 0.001 from the exact quantiles, 1 ms
GRID = 801  # P(B beats A): within 1e-9 of the closed form on the tests' cases
ALPHA = 0.05
POWER = 0.80
DECIDED = 0.95  # chance at which we call a winner
Z_ALPHA, Z_POWER = float(norm.ppf(1 - ALPHA / 2)), float(norm.ppf(POWER))
# Past this many visitors per version a count is beyond what the arithmetic holds: the
# grid's log density adds terms of a size where float rounding is whole units (two equal
# versions of 10^15 visitors read "B beats A 8.2%" beside "No difference so far"), and
# past 2^53 a count cannot even be told from its neighbour.
MAX_VISITORS = 10**15
# Both versions' Beta posteriors with at least this much on each side are normal to far
# better than the 0.1% the chance is shown to, and the grid's sums start to lose digits.
NORMAL_FROM = 1e6


@dataclass(frozen=True)
class ABResult:
    prob_b_beats_a: float
    rate_a: float
    rate_b: float
    lift: float  # relative, B's rate over A's less 1: the middle of its 95% range
    lift_lo95: float
    lift_hi95: float
    visitors_needed: float  # more visitors per variant; 0 when done, inf when no difference yet
    verdict: str


def _count(value: Any, name: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DataValidationError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(number) or number < 0 or number != round(number):
        raise DataValidationError(f"{name} must be a whole number of 0 or more, got {value!r}")
    if number > MAX_VISITORS:
        raise NotEnoughDataError(
            f"{name} can be at most {MAX_VISITORS:,} (beyond it the chances cannot be "
            f"computed exactly), got {number:,.0f}"
        )
    return int(number)


def _sure(p: float) -> str:
    """As the chance's cell shows it (0.0%), so the two never read differently."""
    return "over 99.9%" if p > 0.999 else f"{p:.1%}"


def _prob_b_beats_a(a: tuple[float, float], b: tuple[float, float]) -> float:
    """P(p_B > p_A) = integral of f_A(x) * P(p_B > x) dx, on a grid over A's mass.

    scipy.special's ufuncs rather than scipy.stats: the same functions without the
    per-call overhead, which matters when a sheet recalculates hundreds of tests. Large
    posteriors take the normal form, whose terms stay small (see NORMAL_FROM).
    """
    if a == b:
        return 0.5  # two versions that saw the same: exactly even, whatever the counts
    if min(*a, *b) >= NORMAL_FROM:
        (mean_a, var_a), (mean_b, var_b) = _moments(a), _moments(b)
        return float(ndtr((mean_b - mean_a) / np.sqrt(var_a + var_b)))
    if a[0] > a[1] and b[0] > b[1]:
        # Mass near 1 has few floats to lay a grid on (a rate of 1 - 1e-15): the same
        # chance on the non-conversion rates, B's below A's, whose mass is near 0. Only
        # when both rates are above a half: with A's above and B's below, the turned
        # pair turned back again, without end (60% against 40%: "unexpected error").
        return _prob_b_beats_a((b[1], b[0]), (a[1], a[0]))
    lo, hi = betaincinv(*a, np.array([1e-10, 1 - 1e-10]))
    x = np.linspace(lo, hi, GRID)
    log_pdf = xlogy(a[0] - 1, x) + xlog1py(a[1] - 1, -x) - betaln(*a)
    return float(np.clip(np.trapezoid(np.exp(log_pdf) * betaincc(*b, x), x), 0.0, 1.0))


def _moments(beta: tuple[float, float]) -> tuple[float, float]:
    """Mean and variance of a Beta(a, b)."""
    a, b = beta
    total = a + b
    return a / total, a * b / (total * total * (total + 1))


def _sample_size(p_a: float, p_b: float) -> float:
    """Visitors per variant to detect p_a vs p_b (two-sided 5%, 80% power)."""
    if p_a == p_b:
        return float("inf")
    pooled = (p_a + p_b) / 2
    z_a, z_b = Z_ALPHA, Z_POWER
    top = z_a * np.sqrt(2 * pooled * (1 - pooled)) + z_b * np.sqrt(
        p_a * (1 - p_a) + p_b * (1 - p_b)
    )
    return float(np.ceil(top**2 / (p_a - p_b) ** 2))


def ab_test(
    conversions_a: Any, visitors_a: Any, conversions_b: Any, visitors_b: Any, seed: int = 0
) -> ABResult:
    ca, na = _count(conversions_a, "conversions_a"), _count(visitors_a, "visitors_a")
    cb, nb = _count(conversions_b, "conversions_b"), _count(visitors_b, "visitors_b")
    for c, n, arm in ((ca, na, "a"), (cb, nb, "b")):
        if n == 0:
            raise DataValidationError(f"visitors_{arm} must be more than 0")
        if c > n:
            raise DataValidationError(f"conversions_{arm} ({c}) cannot exceed visitors_{arm} ({n})")
    post_a, post_b = (ca + 1.0, na - ca + 1.0), (cb + 1.0, nb - cb + 1.0)
    prob = _prob_b_beats_a(post_a, post_b)
    rng = np.random.default_rng(seed)
    draws_a, draws_b = rng.beta(*post_a, DRAWS), rng.beta(*post_b, DRAWS)
    lift_draws = draws_b / draws_a - 1
    # the lift is the middle of its own likely range: the raw ratio of the rates seen is
    # -100% whenever B has not converted yet (5 of 10 against 0 of 10), far outside a range
    # that knows B may still convert, and 0/0 when neither has
    lo, lift, hi = np.quantile(lift_draws, [0.025, 0.5, 0.975])
    rate_a, rate_b = ca / na, cb / nb
    needed = _sample_size(rate_a, rate_b)
    remaining = max(0.0, needed - min(na, nb)) if np.isfinite(needed) else needed
    visitors = f"about {remaining:,.0f} more visitor{'' if remaining == 1 else 's'} per version"
    more = f"{visitors} needed before calling it"
    if (prob >= DECIDED or prob <= 1 - DECIDED) and np.isfinite(remaining):
        leader, sure = ("B", prob) if prob >= DECIDED else ("A", 1 - prob)
        verdict = (
            f"{leader} is better ({_sure(sure)} sure)"
            if remaining == 0
            else f"{leader} leads ({_sure(sure)} sure so far): {more}"
        )
    elif np.isfinite(remaining) and remaining > 0:
        verdict = f"Too early: {visitors} needed"
    elif np.isfinite(remaining):
        verdict = "No clear winner: the difference is too small to matter"
    elif ca == cb == 0:
        verdict = "No conversions yet on either version"
    else:
        verdict = "No difference so far"
    if ca == cb == 0:  # only the prior and the visitor counts speak: no chance, no lift
        prob = lift = lo = hi = float("nan")
    return ABResult(prob, rate_a, rate_b, float(lift), float(lo), float(hi), remaining, verdict)
