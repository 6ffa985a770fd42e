"""A small automatic ARIMA: (p, d, q)(0, D, Q)m with p <= 2, q <= 1, Q <= 1, by AICc.

Differencing is chosen first, as auto.arima does: one seasonal difference when the caller
says the season is clear (D), then repeated KPSS tests (d, at most twice). Every order is
then fitted by conditional least squares and the lowest AICc kept. For fixed MA
coefficients the one-step errors are linear in the constant and the AR coefficients
(filter everything through 1 / ((1 + theta B)(1 + Theta B^m)), then least squares), so
the MA coefficients are searched on a grid and the rest solved exactly, for every grid
point at once: a fit is a few milliseconds of numpy, with no optimiser to stall and
nothing to compile. statsmodels' ARIMA takes 50 to 100 ms a fit, too slow for the
backtests of a worksheet call.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

__all__ = ["ArimaFit", "fit_arima", "kpss_differences"]

_THETAS = np.linspace(-0.9, 0.9, 19)
_THETAS_BESIDE_SEASONAL = np.linspace(-0.8, 0.8, 7)  # coarser: the grid is 7 x 7 points
_SEASONAL_THETAS = np.array([-0.9, -0.7, -0.5, -0.3, -0.1, 0.0, 0.2])
_ORDERS = ((0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1))  # (p, q)
_KPSS_CRITICAL = 0.463  # 5% level, level stationarity (Kwiatkowski et al. 1992)


def _kpss(x: np.ndarray) -> float:
    """The KPSS statistic for level stationarity, with auto.arima's short lag window."""
    n = len(x)
    e = x - x.mean()
    lags = int(3 * np.sqrt(n) / 13)
    variance = float(e @ e) / n
    for k in range(1, lags + 1):
        variance += 2 * (1 - k / (lags + 1)) * float(e[k:] @ e[:-k]) / n
    if variance <= 0:
        return 0.0
    return float(np.sum(np.cumsum(e) ** 2)) / (n * n * variance)


def kpss_differences(x: np.ndarray, most: int = 2) -> int:
    """How many differences make the series stationary by the KPSS test."""
    d = 0
    while d < most and len(x) > 6 and np.ptp(x) > 0 and _kpss(x) > _KPSS_CRITICAL:
        x = np.diff(x)
        d += 1
    return d


def _ma_polynomial(theta: float, seasonal_theta: float, m: int) -> np.ndarray:
    """Coefficients of (1 + theta B)(1 + Theta B^m) by power of B."""
    poly = np.zeros(m + 2 if seasonal_theta else 2)
    poly[0], poly[1] = 1.0, theta
    if seasonal_theta:
        poly[m] += seasonal_theta
        poly[m + 1] += theta * seasonal_theta
    return poly


def _difference(y: np.ndarray, d: int, seasonal: int) -> np.ndarray:
    w = y[seasonal:] - y[:-seasonal] if seasonal else y
    return np.diff(w, d) if d else w


@dataclass(frozen=True)
class ArimaFit:
    d: int
    seasonal: int  # the season length differenced once, or 0
    p: int
    constant: float
    ar: np.ndarray
    theta: float
    seasonal_theta: float
    sigma: float
    aicc: float
    history: np.ndarray  # the series as fitted (before differencing)
    errors: np.ndarray  # the last one-step errors, newest last

    @property
    def form(self) -> str:
        q = int(self.theta != 0)
        text = f"ARIMA({self.p},{self.d},{q})"
        if self.seasonal:
            text += f"(0,1,{int(self.seasonal_theta != 0)}){self.seasonal}"
        return text + (" with constant" if self.constant else "")

    def _poly(self) -> np.ndarray:
        return _ma_polynomial(self.theta, self.seasonal_theta, max(self.seasonal, 1))

    def forecast(self, horizon: int) -> np.ndarray:
        poly = self._poly()
        w = list(_difference(self.history, self.d, self.seasonal)[-2:])
        errors = list(self.errors) + [0.0] * horizon
        start = len(self.errors)
        for h in range(horizon):
            value = self.constant
            value += sum(a * w[-1 - i] for i, a in enumerate(self.ar))
            value += sum(poly[k] * errors[start + h - k] for k in range(1, len(poly)))
            w.append(value)
        out = np.asarray(w[2:])
        base = _difference(self.history, 0, self.seasonal)
        for k in range(self.d):  # undo the regular differences, innermost first
            out = np.diff(base, self.d - 1 - k)[-1] + np.cumsum(out)
        if self.seasonal:  # then the seasonal one
            level = list(self.history[-self.seasonal :])
            for value in out:
                level.append(level[-self.seasonal] + value)
            out = np.asarray(level[self.seasonal :])
        return out

    def sd(self, horizon: int) -> np.ndarray:
        """Standard deviation per step from the psi weights of the integrated model."""
        poly = self._poly()
        psi = np.zeros(horizon)
        for j in range(horizon):
            psi[j] = (poly[j] if j < len(poly) else 0.0) + sum(
                self.ar[i] * psi[j - 1 - i] for i in range(len(self.ar)) if j - 1 - i >= 0
            )
        for _ in range(self.d):
            psi = np.cumsum(psi)
        if self.seasonal:
            for j in range(self.seasonal, horizon):
                psi[j] += psi[j - self.seasonal]
        return self.sigma * np.sqrt(np.cumsum(psi**2))


def _filtered(w: np.ndarray, skip: int, polys: list[np.ndarray]) -> np.ndarray:
    """The target w_t and the regressors w_t-1, w_t-2 and 1, each filtered through the
    inverse MA polynomial, for every polynomial: (polynomials, rows, 4). Every order
    selects its columns from these, so the filter runs once per fit, not once per order."""
    n = len(w)
    data = np.column_stack([w[skip:], w[skip - 1 : n - 1], w[skip - 2 : n - 2], np.ones(n - skip)])
    return np.stack([lfilter([1.0], poly, data, axis=0) for poly in polys])


def _stationary(ar: np.ndarray) -> np.ndarray:
    """Rows of AR(1) or AR(2) coefficients whose forecasts settle rather than explode."""
    if ar.shape[1] == 0:
        return np.ones(len(ar), dtype=bool)
    if ar.shape[1] == 1:
        return np.abs(ar[:, 0]) < 0.99
    a1, a2 = ar[:, 0], ar[:, 1]
    return (a1 + a2 < 0.99) & (a2 - a1 < 0.99) & (np.abs(a2) < 0.99)


def _fit_order(
    filtered: np.ndarray, p: int, constant: bool
) -> tuple[float, int, np.ndarray, float, np.ndarray] | None:
    """Conditional least squares for every MA grid point: (sse, grid index, ar, constant,
    errors) of the best."""
    target = filtered[:, :, 0]
    regressors = filtered[:, :, [*range(1, 1 + p), *([3] if constant else [])]]
    if regressors.shape[2]:  # least squares for every grid point at once
        gram = np.einsum("gti,gtj->gij", regressors, regressors)
        ridge = 1e-9 * np.maximum(gram.trace(axis1=1, axis2=2), 1.0)
        gram += ridge[:, None, None] * np.eye(gram.shape[1])[None]
        right = np.einsum("gti,gt->gi", regressors, target)[..., None]
        coef = np.linalg.solve(gram, right)[..., 0]
        residual = target - np.einsum("gti,gi->gt", regressors, coef)
    else:
        coef, residual = np.zeros((len(target), 0)), target
    sse = np.einsum("gt,gt->g", residual, residual)
    sse = np.where(_stationary(coef[:, :p]) & np.isfinite(sse), sse, np.inf)
    k = int(np.argmin(sse))
    if not np.isfinite(sse[k]):
        return None
    c = float(coef[k, p]) if constant else 0.0
    return float(sse[k]), k, coef[k, :p].copy(), c, residual[k]


def fit_arima(
    y: np.ndarray,
    m: int = 1,
    seasonal: bool = False,
    orders: tuple[tuple[int, int], ...] = _ORDERS,
    constants: tuple[bool, ...] = (True, False),
) -> ArimaFit:
    """The order with the lowest AICc, every order scored on the same observations.

    With `seasonal` (and three seasons of history) the series is differenced once at lag
    m and a seasonal MA term is tried, as in the airline model (0,1,1)(0,1,1)m.
    `orders` ((p, q) pairs) and `constants` narrow the search.
    """
    y = np.asarray(y, dtype=float)
    lag = m if seasonal and m > 1 and len(y) >= 3 * m + 4 else 0
    d = kpss_differences(_difference(y, 0, lag), most=1 if lag else 2)
    w = _difference(y, d, lag)
    skip = 2  # the first two differenced values only start the AR terms
    rows = len(w) - skip
    if rows < 4:
        sigma = float(np.std(np.diff(y))) if len(y) > 1 else 0.0
        return ArimaFit(1, 0, 0, 0.0, np.zeros(0), 0.0, 0.0, sigma, np.inf, y, np.zeros(0))
    seasonal_grid = _SEASONAL_THETAS if lag else np.zeros(1)
    grids = {
        0: [(0.0, s) for s in seasonal_grid],
        1: list(itertools.product(_THETAS_BESIDE_SEASONAL if lag else _THETAS, seasonal_grid)),
    }
    filtered = {
        q: _filtered(w, skip, [_ma_polynomial(t, s, max(lag, 1)) for t, s in grid])
        for q, grid in grids.items()
    }
    best: ArimaFit | None = None
    for (p, q), constant in itertools.product(orders, constants):
        if d + int(bool(lag)) >= 2 and constant:
            continue  # a quadratic trend overshoots
        fitted = _fit_order(filtered[q], p, constant)
        if fitted is None:
            continue
        sse, k, ar, c, residual = fitted
        theta, seasonal_theta = grids[q][k]
        n_params = p + q + int(seasonal_theta != 0) + int(constant) + 1
        if rows - n_params - 1 <= 0:
            continue
        sigma2 = max(sse / rows, 1e-12)
        aicc = rows * np.log(sigma2) + 2 * n_params
        aicc += 2 * n_params * (n_params + 1) / (rows - n_params - 1)
        if best is None or aicc < best.aicc:
            sigma = float(np.sqrt(sse / max(rows - n_params, 1)))
            tail = residual[-(max(lag, 1) + 1) :]
            best = ArimaFit(d, lag, p, c, ar, theta, seasonal_theta, sigma, float(aicc), y, tail)
    if best is None:  # too short for any order: a random walk
        sigma = float(np.std(np.diff(y))) if len(y) > 1 else 0.0
        return ArimaFit(1, 0, 0, 0.0, np.zeros(0), 0.0, 0.0, sigma, np.inf, y, np.zeros(0))
    return best
