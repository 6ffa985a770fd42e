"""Penalised Poisson regression with a log link, for demand that comes as counts.

Own code rather than a library because the demand model needs a different prior (centre
and strength) for each coefficient and the posterior covariance for its intervals:
scikit-learn's PoissonRegressor has one penalty and no covariance, and statsmodels is
not a runtime dependency. Counts of units sold are usually over-dispersed, so the fit is
quasi-Poisson: the likelihood is tempered by the Pearson dispersion, which widens the
intervals honestly instead of pretending every unit is an independent event.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse

__all__ = ["PoissonFit", "fit_poisson"]

_MAX_ETA = 30.0  # exp(30) units is beyond any shop; keeps a bad step from overflowing


@dataclass(frozen=True)
class PoissonFit:
    coef: np.ndarray
    cov: np.ndarray  # posterior covariance (Laplace approximation), dispersion included
    dispersion: float  # Pearson chi-square per residual degree of freedom, at least 1
    mean: np.ndarray  # fitted mean of each row
    iterations: int


def _gram(X: np.ndarray | scipy.sparse.spmatrix, weights: np.ndarray) -> np.ndarray:
    if scipy.sparse.issparse(X):
        return np.asarray((X.T @ scipy.sparse.diags(weights) @ X).todense())
    return (X.T * weights) @ X


def _newton(
    X: np.ndarray | scipy.sparse.spmatrix,
    y: np.ndarray,
    offset: np.ndarray,
    beta: np.ndarray,
    centre: np.ndarray,
    precision: np.ndarray,
    dispersion: float,
    max_iter: int,
    tol: float,
) -> tuple[np.ndarray, int]:
    def objective(b: np.ndarray) -> float:
        eta = np.minimum(X @ b + offset, _MAX_ETA)
        return float(np.sum(np.exp(eta) - y * eta)) / dispersion + 0.5 * float(
            np.sum(precision * (b - centre) ** 2)
        )

    current = objective(beta)
    for iteration in range(1, max_iter + 1):
        mu = np.exp(np.minimum(X @ beta + offset, _MAX_ETA))
        gradient = X.T @ (mu - y) / dispersion + precision * (beta - centre)
        hessian = _gram(X, mu) / dispersion + np.diag(precision)
        step = scipy.linalg.cho_solve(scipy.linalg.cho_factor(hessian), gradient)
        size = 1.0
        while size > 1e-6:
            candidate = beta - size * step
            value = objective(candidate)
            if value <= current + 1e-12:
                break
            size /= 2
        else:
            return beta, iteration
        beta, previous, current = candidate, current, value
        if previous - current < tol * (1 + abs(current)):
            return beta, iteration
    return beta, max_iter


def fit_poisson(
    X: np.ndarray | scipy.sparse.spmatrix,
    y: np.ndarray,
    *,
    offset: np.ndarray | None = None,
    prior_mean: np.ndarray | None = None,
    prior_precision: np.ndarray | None = None,
    max_iter: int = 60,
    tol: float = 1e-10,
) -> PoissonFit:
    """Posterior mode and covariance of `log E[y] = X @ coef + offset`.

    Each coefficient has a normal prior `N(prior_mean, 1 / prior_precision)`; a precision
    of 0 is a flat prior (then the columns must identify that coefficient on their own).
    """
    y = np.asarray(y, dtype=float)
    n, p = X.shape
    offset = np.zeros(n) if offset is None else np.asarray(offset, dtype=float)
    centre = np.zeros(p) if prior_mean is None else np.asarray(prior_mean, dtype=float)
    precision = np.zeros(p) if prior_precision is None else np.asarray(prior_precision, float)
    precision = np.maximum(precision, 1e-8)  # a whisker of ridge keeps the Hessian invertible
    # Start from least squares on log counts: close enough that Newton needs few steps.
    target = np.log(y + 0.5) - offset
    start_gram = _gram(X, np.ones(n)) + np.diag(precision + 1e-6)
    beta = scipy.linalg.solve(start_gram, X.T @ target + precision * centre, assume_a="pos")
    beta, used = _newton(X, y, offset, beta, centre, precision, 1.0, max_iter, tol)
    mu = np.exp(np.minimum(X @ beta + offset, _MAX_ETA))
    information = _gram(X, mu)
    hessian = information + np.diag(precision)
    edf = float(np.trace(scipy.linalg.solve(hessian, information, assume_a="pos")))
    residual_df = n - edf
    pearson = float(np.sum((y - mu) ** 2 / np.maximum(mu, 1e-12)))
    dispersion = max(1.0, pearson / residual_df) if residual_df >= 1 else 1.0
    if dispersion > 1.0:
        beta, more = _newton(X, y, offset, beta, centre, precision, dispersion, max_iter, tol)
        used += more
        mu = np.exp(np.minimum(X @ beta + offset, _MAX_ETA))
        hessian = _gram(X, mu) / dispersion + np.diag(precision)
    cov = scipy.linalg.cho_solve(scipy.linalg.cho_factor(hessian), np.eye(p))
    return PoissonFit(beta, cov, dispersion, mu, used)
