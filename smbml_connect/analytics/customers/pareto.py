"""Pareto/NBD: purchases at a gamma-distributed Poisson rate until an unseen exponential
lifetime ends, with gamma-distributed dropout rates (Schmittlein, Morrison and Colombo 1987).

The third buy-till-you-die candidate beside BG/NBD and MBG/NBD. Where BG/NBD lets a
customer leave only just after a purchase, Pareto/NBD lets them leave at any moment,
so a customer who buys often and then goes quiet is judged gone sooner, and one who
buys rarely keeps a chance of still being there longer.

Likelihood, P(alive) and the conditional expectation follow Fader and Hardie (2005, "A
note on deriving the Pareto/NBD model and related expressions"); the Gauss
hypergeometric terms are evaluated after Euler's transformation, which keeps them
bounded for customers with many purchases. Where scipy's hyp2f1 still fails (large
dropout parameters with z near 1, which regular heavy buyers lead the fit towards), the
same term is integrated numerically instead. The fitter is tested against the
parameters that note publishes for the CDNOW sample. Time is in weeks.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, hyp2f1, roots_legendre

from smbml_connect.analytics.customers.btyd import Fitted, fit_four
from smbml_connect.analytics.customers.ranges import (
    count_bound,
    count_terms,
    negative_binomial,
    with_alive,
)
from smbml_connect.analytics.shared.contract import check_fitted, read_text, write_text

__all__ = ["ParetoNBD"]

# Nodes for the one-dimensional integral behind P(no purchase): the integrand is smooth
# and monotone on [0, t], and 32 nodes agree with 256 to 1e-10 on CDNOW.
_NODES, _WEIGHTS = roots_legendre(32)
# The same on [0, 1], for the chance of leaving within the period (`purchase_pmf`).
_STAY_NODES, _STAY_WEIGHTS = (_NODES + 1) / 2, _WEIGHTS / 2


def _panels(per_panel: int = 12, halvings: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [0, 1], in panels that halve towards both ends,
    where the substitution in `_log_dropout_integral` bunches the mass."""
    nodes, weights = roots_legendre(per_panel)
    half = 0.5 ** np.arange(2, halvings + 1)
    edges = np.unique(np.concatenate([[0.0, 0.5, 1.0], half, 1.0 - half]))
    lo, hi = edges[:-1, None], edges[1:, None]
    return ((lo + (hi - lo) * (nodes + 1.0) / 2.0).ravel(), ((hi - lo) * weights / 2.0).ravel())


_PANEL_NODES, _PANEL_WEIGHTS = _panels()
SLOW_Z = 0.95  # above it scipy's hyp2f1 is slow and unreliable here; see ParetoNBD._parts
# Stop when an iteration gains less than 1e-11 of the mean log-likelihood (1e-14 for the
# other models): a shop of steady buyers has its optimum at the end of a flat ridge
# (r ~ 900, alpha ~ 22,000) that the tighter stop walked for 1,700 likelihoods, each an
# integral per customer, for a log-likelihood 1e-5 better over 1,000 customers (CHURN
# on 1,000 of the Excel tests' customers 9.8 s -> 3.3 s; CDNOW's estimates unchanged).
STOP = {"ftol": 1e-11, "gtol": 1e-9, "maxiter": 1000}


def _log_dropout_integral(
    params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """log of the integral over the moment of leaving, from t_x to T, of
    (alpha+tau)^-(r+x) (beta+tau)^-(s+1): A0 / (r+s+x) without a hypergeometric function.

    Integrated in u = log(min(alpha, beta) + tau), where both power laws are smooth, after
    an exponential change of variable that follows the integrand's decay at t_x. Within
    2.5e-7 of scipy's adaptive quadrature over 4,000 random parameter sets (log scale).
    """
    r, alpha, s, beta = params
    p, q = r + x, s + 1.0
    c = min(alpha, beta)
    u0 = np.log(c + t_x)
    span = np.log(c + T) - u0
    rate = p * (c + t_x) / (alpha + t_x) + q * (c + t_x) / (beta + t_x) - 1.0
    tiny = np.abs(rate * span) < 1e-8  # flat: the change of variable is the identity
    rate = np.where(tiny, 1e-8 / np.maximum(span, 1e-300), rate)
    share = -np.expm1(-rate * span)  # of the exponential's mass on the interval
    w = _PANEL_NODES[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = u0 - np.log1p(-w * share) / rate
        tau = np.exp(u) - c
        terms = u - p * np.log(alpha + tau) - q * np.log(beta + tau) - np.log1p(-w * share)
        top = terms.max(axis=0)  # log-sum-exp by hand: scipy's took half of this time
        summed = _PANEL_WEIGHTS @ np.exp(terms - top)
        return top + np.log(summed) + np.log(share / rate)


class ParetoNBD(Fitted):
    """x is the number of repeat purchases, t_x the time of the last one and T the time
    since the first, all per customer (as for `BetaGeo`)."""

    names = ("r", "alpha", "s", "beta")
    what = "Pareto/NBD model"
    made_with = ("penalty",)

    def __init__(self, penalty: float = 0.0) -> None:
        self.penalty = penalty  # small L2 on log-parameters keeps tiny datasets finite

    @staticmethod
    def _log_a0(params: np.ndarray, x: np.ndarray, at: np.ndarray) -> np.ndarray:
        """log of 2F1(r+s+x, b; r+s+x+1; z) / (max(alpha, beta) + at)^(r+s+x), the two
        terms whose difference is the likelihood's A0.

        With a = r+s+x, c = a+1, Euler's transformation gives
        2F1(a, b; c; z) = (1-z)^(c-a-b) 2F1(1, c-b; c; z), where the right-hand series
        stays bounded (z < 1 and c-(c-b)-1 = b-1 >= -1 keeps it finite).
        """
        r, alpha, s, beta = params
        a = r + s + x
        if alpha >= beta:
            big, small, b = alpha, beta, s + 1.0
        else:
            big, small, b = beta, alpha, r + x
        z = (big - small) / (big + at)
        series = hyp2f1(1.0, a + 1.0 - b, a + 1.0, z)
        return np.log(series) + (1.0 - b) * np.log((small + at) / (big + at)) - a * np.log(big + at)

    def _parts(
        self, params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(log-likelihood, log of its still-alive part) per customer."""
        r, alpha, s, beta = params
        head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        alive = head - (r + x) * np.log(alpha + T) - s * np.log(beta + T)
        # hyp2f1's argument z is largest at t_x; near 1 scipy takes up to half a
        # millisecond a value and then often fails (a shop of steady buyers leads the fit
        # to r ~ 1,000, alpha ~ 22,000: CHURN on 600 customers took 90 s), so there the
        # integral is taken at once (about 20 us a value, within 2.5e-7)
        big, small = max(alpha, beta), min(alpha, beta)
        steep = (big - small) / (big + t_x) > SLOW_Z
        log_a0 = np.full(len(x), -np.inf)
        easy = ~steep
        if easy.any():
            near = self._log_a0(params, x[easy], t_x[easy])
            far = self._log_a0(params, x[easy], T[easy])
            # A0 = near - far >= 0 (t_x <= T); zero when the last purchase was at T, so
            # that leaving before T is impossible and only the alive part remains.
            with np.errstate(divide="ignore", invalid="ignore"):
                log_a0[easy] = near + np.log(-np.expm1(np.minimum(far - near, 0.0)))
        failed = (~np.isfinite(log_a0) | steep) & (t_x < T)  # or hyp2f1 gave nan or inf
        if failed.any():
            log_a0[failed] = np.log(r + s + x[failed]) + _log_dropout_integral(
                params, x[failed], t_x[failed], T[failed]
            )
        left = head + np.log(s) - np.log(r + s + x) + log_a0
        return np.logaddexp(alive, left), alive

    def _log_lik(
        self, params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        return self._parts(params, x, t_x, T)[0]

    def fit(
        self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, start: np.ndarray | None = None
    ) -> ParetoNBD:
        """`start`: parameters to begin from (an earlier fit on similar data saves time)."""
        scale = max(float(np.mean(T)), 1e-3)
        first = np.array([1.0, scale, 1.0, scale])
        self.params_, self.fit_ = fit_four(
            self._log_lik, self.names, self.penalty, x, t_x, T,
            first if start is None else start, STOP,
        )  # fmt: skip
        return self

    def p_alive(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        check_fitted(self, "params_", self.what)
        log_lik, alive = self._parts(self.params_, x, t_x, T)
        return np.clip(np.exp(alive - log_lik), 0.0, 1.0)

    def expected_purchases(
        self, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        """E[purchases in the next t weeks | history]: P(alive) times the expected count of
        a customer alive now, whose rate and dropout rate have gamma posteriors
        (r + x, alpha + T) and (s, beta + T)."""
        check_fitted(self, "params_", self.what)
        r, alpha, s, beta = self.params_
        grow = np.log1p(t / (beta + T))  # log((beta + T + t) / (beta + T))
        k = s - 1.0
        # (beta + T) / (s - 1) * (1 - ((beta + T) / (beta + T + t))^(s - 1)), and its
        # limit (beta + T) * grow at s = 1.
        lifetime = (beta + T) * (-np.expm1(-k * grow) / k if abs(k) > 1e-9 else grow)
        return self.p_alive(x, t_x, T) * (r + x) / (alpha + T) * lifetime

    def p_no_purchase(self, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """Chance of no purchase in the next t weeks: gone, or alive and leaving (or the
        period ending) before the next purchase.

        For a customer alive now, P(next purchase at u <= t and still there at u) is the
        integral over [0, t] of E[lambda e^-lambda u] E[e^-mu u]; Gauss-Legendre does it.
        """
        check_fitted(self, "params_", self.what)
        r, alpha, s, beta = self.params_
        u = (_NODES + 1.0) * (t / 2.0)
        shape, a_rate, b_rate = (r + x)[:, None], (alpha + T)[:, None], (beta + T)[:, None]
        density = (
            shape / a_rate * (a_rate / (a_rate + u)) ** (shape + 1) * (b_rate / (b_rate + u)) ** s
        )
        bought = np.clip(density @ _WEIGHTS * (t / 2.0), 0.0, 1.0)
        alive = self.p_alive(x, t_x, T)
        return (1.0 - alive) + alive * (1.0 - bought)

    def count_bound(self, t: float, x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """A count of purchases in the next t weeks each customer passes with chance under
        `ranges.TAIL`."""
        check_fitted(self, "params_", self.what)
        r, alpha, _, _ = self.params_
        return count_bound(r + x, (alpha + T) / (alpha + T + t))

    def purchase_pmf(
        self, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, most: int
    ) -> np.ndarray:
        """P(n purchases in the next t weeks | history), n = 0..most (customers x counts).

        The distribution `simulate_purchases` draws from. Alive, a customer stays for
        min(L, t), L with P(L > u) = ((beta + T) / (beta + T + u))^s; over a stay of u
        the count is negative binomial (rate Gamma(r + x, alpha + T)). Those who stay the
        whole period are exact; the rest are a Gauss-Legendre sum over the chance of
        leaving (L at the quantile of each node), which puts the nodes where they leave.
        """
        check_fitted(self, "params_", self.what)
        r, alpha, s, beta = self.params_
        shape = r + x
        whole = np.exp(-s * np.log1p(t / (beta + T)))  # chance of staying all t
        terms = count_terms(shape, most)  # the same for every stay
        counts = whole[:, None] * np.exp(
            negative_binomial(shape, (alpha + T) / (alpha + T + t), most, terms)
        )
        leaving = 1 - whole
        for node, weight in zip(_STAY_NODES, _STAY_WEIGHTS, strict=True):
            # L's quantile at chance `leaving * node`: (beta + T) ((1 - w)^(-1/s) - 1)
            stay = (beta + T) * np.expm1(-np.log1p(-leaving * node) / s)
            success = (alpha + T) / (alpha + T + stay)
            counts += (leaving * weight)[:, None] * np.exp(
                negative_binomial(shape, success, most, terms)
            )
        return with_alive(counts, self.p_alive(x, t_x, T))

    def simulate_purchases(
        self,
        t: float,
        x: np.ndarray,
        t_x: np.ndarray,
        T: np.ndarray,
        draws: int,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Draws of future purchase counts from each customer's posterior (customers x draws):
        alive with the posterior chance, then a Poisson count over the part of t they stay."""
        check_fitted(self, "params_", self.what)
        r, alpha, s, beta = self.params_
        n = len(x)
        alive = rng.uniform(size=(n, draws)) < self.p_alive(x, t_x, T)[:, None]
        rate = rng.gamma((r + x)[:, None], 1.0 / (alpha + T)[:, None], size=(n, draws))
        dropout = rng.gamma(s, 1.0 / (beta + T)[:, None], size=(n, draws))
        with np.errstate(divide="ignore", over="ignore"):  # a dropout rate drawn as 0: stays
            stay = np.minimum(rng.exponential(1.0, size=(n, draws)) / dropout, t)
        return np.where(alive, rng.poisson(rate * stay), 0)

    def to_text(self) -> str:
        return write_text("smbml-pareto-nbd", 1, self.to_dict())

    @classmethod
    def from_text(cls, text: str) -> ParetoNBD:
        return cls.from_dict(read_text(text, "smbml-pareto-nbd"))
