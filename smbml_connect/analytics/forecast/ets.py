"""Exponential smoothing (ETS) with automatic trend and season, fast enough for a cell.

Why not statsmodels or statsforecast: a worksheet function must answer in well under a
second, several times over (once per backtest origin), and its first call must not wait
for a JIT compiler. Smoothing parameters are searched on a grid that is evaluated for
every candidate at once: one pass over the series with numpy arrays as wide as the grid.
Forms: trend none, additive or damped; season none, additive or multiplicative
(additive errors throughout), chosen by AICc as in Hyndman et al. (2008).
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np
from scipy.special import fdtrc

__all__ = [
    "EtsFit",
    "best_damped",
    "fit_ets",
    "fit_ets_cutoffs",
    "fit_ets_forms",
    "own_pass",
    "season_drifted",
    "straight_line",
]

_ALPHAS = (0.03, 0.08, 0.15, 0.25, 0.4, 0.6, 0.8, 0.95)
_BETA_SHARES = (0.02, 0.1, 0.3)  # beta as a share of alpha (beta <= alpha)
_GAMMA_SHARES = (0.0, 0.05, 0.15, 0.35)  # gamma as a share of 1 - alpha
_PHIS = (0.85, 0.92, 0.98)


@dataclass(frozen=True)
class EtsFit:
    form: str  # e.g. "A,Ad,M": error, trend, season
    alpha: float
    beta: float
    gamma: float
    phi: float
    level: float
    trend: float
    season: np.ndarray  # next m seasonal terms, the first for the step after the data
    sigma: float  # one-step residual standard deviation
    aicc: float
    m: int

    def forecast(self, horizon: int) -> np.ndarray:
        trended = self.form.split(",")[1] != "N"
        damp = _damping(self.phi, horizon) if trended else 0 * np.arange(1, horizon + 1)
        base = self.level + damp * self.trend
        if self.m <= 1 or self.form.endswith("N"):
            return base
        season = self.season[np.arange(horizon) % self.m]
        return base * season if self.form.endswith("M") else base + season

    def sd(self, horizon: int) -> np.ndarray:
        """Forecast standard deviation per step (class 1 formula, used as a shape)."""
        scale = self.season.mean() if self.form.endswith("M") else 1.0
        shape = _sd_shape(self.form, self.alpha, self.beta, self.gamma, self.phi, self.m, horizon)
        return self.sigma * shape * scale


@functools.lru_cache(maxsize=64)
def _damping(phi: float, horizon: int) -> np.ndarray:
    """phi + phi^2 + ... + phi^h for h = 1..horizon (read-only): phi is one of a few."""
    damp = np.cumsum(phi ** np.arange(1, horizon + 1))
    damp.flags.writeable = False
    return damp


@functools.lru_cache(maxsize=4096)
def _sd_shape(
    form: str, alpha: float, beta: float, gamma: float, phi: float, m: int, horizon: int
) -> np.ndarray:
    """`EtsFit.sd` before sigma and the seasonal scale (read-only): its parameters come
    from the grid, so a panel asks for the same few hundred shapes again and again."""
    j = np.arange(1, horizon)
    trend_part = beta * np.cumsum(phi**j) if "N" not in form.split(",")[1] else 0
    seasonal = gamma * ((j % max(m, 1)) == 0) if m > 1 else 0
    c = alpha + trend_part + seasonal + 0.0 * j
    shape = np.sqrt(np.concatenate([[1.0], 1.0 + np.cumsum(c**2)]))
    shape.flags.writeable = False
    return shape


def straight_line(y: np.ndarray) -> tuple[float, float]:
    """Slope and intercept of the least-squares line through y at 0, 1, 2, ...: the
    closed form, a tenth of np.polyfit's time (which solves a general least squares and
    is called for every fit of every backtest)."""
    t_mean, centred, spread = _abscissa(len(y))
    slope = float(centred @ y) / spread
    return slope, float(y.sum(dtype=float)) / len(y) - slope * t_mean  # y.mean(), to the bit


@functools.lru_cache(maxsize=256)
def _abscissa(n: int) -> tuple[float, np.ndarray, float]:
    """0, 1, ..., n-1: their mean, the points less it (read-only) and its sum of squares,
    the same for every series of a length."""
    t = np.arange(n, dtype=float)
    centred = t - t.mean()
    centred.flags.writeable = False
    return float(t.mean()), centred, float(centred @ centred)


# The level at which `season_drifted` calls a change of seasonal pattern real: the usual 5%.
DRIFT_LEVEL = 0.05


def season_drifted(y: np.ndarray, m: int, multiplicative: bool) -> bool:
    """Whether the seasonal pattern of the series' first half differs from its second
    half's by more than noise: the F test of season x half in a two-way analysis of
    variance of the detrended values (logs of the ratios for a multiplicative season), at
    `DRIFT_LEVEL`, on the last whole seasons that split evenly (each season as often in
    both halves, so the halves' own levels do not pass for a change of pattern). Needs
    two seasons in each half."""
    if m < 2:
        return False
    moving, offset = centred_moving_average(y, m)
    seasons = len(moving) // (2 * m) * 2  # whole seasons, an even number of them
    if seasons < 4:
        return False
    start = len(moving) - seasons * m
    inner = y[offset + start : offset + len(moving)]
    with np.errstate(all="ignore"):
        detrended = np.log(inner / moving[start:]) if multiplicative else inner - moving[start:]
        return _interaction_p(detrended, seasons, m) < DRIFT_LEVEL


def _interaction_p(detrended: np.ndarray, seasons: int, m: int) -> float:
    """p-value of season x half in a balanced two-way table of `seasons` rows of m."""
    if not np.all(np.isfinite(detrended)):
        return 1.0
    # years x seasons, each row one whole season: the halves are the first and last rows
    table = detrended.reshape(seasons, m)
    halves = table.reshape(2, seasons // 2, m)
    cell_mean = halves.mean(axis=1)  # 2 x m
    additive = (table.mean(axis=0)[None, :] + halves.mean(axis=(1, 2))[:, None]
                - detrended.mean())  # fmt: skip
    interaction = float((seasons // 2) * ((cell_mean - additive) ** 2).sum())
    within = float(((halves - cell_mean[:, None, :]) ** 2).sum())
    df1, df2 = m - 1, len(detrended) - 2 * m
    if not within > 0:
        return 1.0
    return float(fdtrc(df1, df2, (interaction / df1) / (within / df2)))


def _initial_states(y: np.ndarray, m: int, multiplicative: bool) -> tuple[float, float, np.ndarray]:
    """Start values after Hyndman et al. (2008, section 2.6.1): a classical decomposition,
    then a straight line through the first ten adjusted points.

    The decomposition is of the whole series, not of its first seasons: with the small
    seasonal smoothing most series need, a noisy start persists (M3 monthly MASE 0.949
    against 0.966). But where the seasonal pattern drifted (`season_drifted`), the whole
    series' average pattern is a start that already knows the later seasons: the fit
    then needs little seasonal smoothing and carries a stale pattern to the forecast.
    There the start is read from the first half, so the smoothing has to follow the
    drift. ETS alone, MASE mean / median on all series of a group: tourism monthly 1.556
    / 1.305 -> 1.521 / 1.250, quarterly 1.613 / 1.315 -> 1.598 / 1.287, M3 quarterly
    1.135 / 0.846 -> 1.130 / 0.833, M3 monthly 0.860 / 0.714 -> 0.862 / 0.713."""
    if m > 1 and len(y) >= 2 * m:
        head = y
        if season_drifted(y, m, multiplicative):
            # the first half, but at least three seasons: two values a season to average
            head = y[: max(len(y) // 2, 3 * m)]
        moving, offset = centred_moving_average(head, m)
        inner = head[offset : offset + len(moving)]
        ratio = inner / moving if multiplicative else inner - moving
        positions = (np.arange(len(moving)) + offset) % m
        s = np.array([ratio[positions == p].mean() for p in range(m)])
        s = s / s.mean() if multiplicative else s - s.mean()
        adjusted = y / s[np.arange(len(y)) % m] if multiplicative else y - s[np.arange(len(y)) % m]
    else:
        s = np.zeros(max(m, 1)) + (1.0 if multiplicative else 0.0)
        adjusted = y
    head = adjusted[: min(len(adjusted), 10)]
    if len(head) >= 3:
        slope, intercept = straight_line(head)
    else:
        slope, intercept = 0.0, float(head[0])
    return intercept - slope, slope, s  # the state one step before the first value


@functools.cache
def _grid(trend: str, seasonal: bool) -> np.ndarray:
    """The (alpha, beta, gamma, phi) rows searched for a form: built once, read-only."""
    betas = (0.0,) if trend == "N" else _BETA_SHARES
    gammas = _GAMMA_SHARES if seasonal else (0.0,)
    phis = {"N": (0.0,), "A": (1.0,), "Ad": _PHIS}[trend]
    grid = np.array(
        [
            (a, a * b, (1 - a) * g, p)
            for a, b, g, p in itertools.product(_ALPHAS, betas, gammas, phis)
        ]
    )
    grid.flags.writeable = False
    return grid


@dataclass(frozen=True)
class _Candidates:
    """Every form's grid stacked, so one pass over the series filters them all."""

    forms: list[tuple[str, str]]  # (trend, season) per block
    blocks: list[slice]
    params: np.ndarray  # alpha, beta, gamma, phi per row
    multiplicative: np.ndarray  # per row
    start: np.ndarray  # level, trend per row
    season: np.ndarray  # rows x m


@functools.cache
def _layout(
    season_kinds: tuple[str, ...], trends: tuple[str, ...]
) -> tuple[list[tuple[str, str]], list[slice], np.ndarray, np.ndarray, np.ndarray]:
    """What of the stacked grid depends only on the forms (blocks, parameters, which rows
    are multiplicative, which carry a trend), built once per set of forms: assembling it
    per fit took longer than the filter itself on short series."""
    forms, blocks, params, mult, trended = [], [], [], [], []
    row = 0
    for season_kind in season_kinds:
        for trend in trends:
            grid = _grid(trend, season_kind != "N")
            forms.append((trend, season_kind))
            blocks.append(slice(row, row + len(grid)))
            row += len(grid)
            params.append(grid)
            mult.append(np.full(len(grid), season_kind == "M"))
            trended.append(np.full(len(grid), trend != "N"))
    stacked = np.vstack(params)
    multiplicative, has_trend = np.concatenate(mult), np.concatenate(trended)
    for array in (stacked, multiplicative, has_trend):
        array.flags.writeable = False
    return forms, blocks, stacked, multiplicative, has_trend


def _candidates(y: np.ndarray, m: int, season_kinds: list[str], trends: list[str]) -> _Candidates:
    forms, blocks, params, multiplicative, has_trend = _layout(tuple(season_kinds), tuple(trends))
    start = np.empty((len(params), 2))
    season = np.empty((len(params), m))
    for i, season_kind in enumerate(season_kinds):
        level, slope, s = _initial_states(y, m if season_kind != "N" else 1, season_kind == "M")
        first, last = blocks[i * len(trends)], blocks[(i + 1) * len(trends) - 1]
        rows = slice(first.start, last.stop)  # this season kind's forms, one after another
        start[rows, 0] = level
        start[rows, 1] = np.where(has_trend[rows], slope, 0.0)
        season[rows] = np.resize(s, m) if season_kind != "N" else 0.0
    return _Candidates(forms, blocks, params, multiplicative, start, season)


def _filter(
    y: np.ndarray,
    params: np.ndarray,
    start: np.ndarray,
    season: np.ndarray,
    m: int,
    multiplicative: bool,
    stops: set[int],
    errors: np.ndarray,
) -> dict[int, tuple[np.ndarray, ...]]:
    """Filter y once for every row, writing the one-step errors into `errors` (t, row):
    the states (level, trend, seasons) after each of the first `stops` periods.

    The loop runs once per period with numpy calls on arrays as wide as the grid (about
    100 rows without a season), so the calls, not the arithmetic, are the cost: without a
    season there are no seasonal terms to read and write and the damped trend is computed
    once per step (5 calls a step instead of 15); the additive and multiplicative rows
    are filtered apart, each without the other's arithmetic or a np.where per step. Each
    row's arithmetic is its own, so rows of several cut-offs of one series can share the
    pass (`fit_ets_cutoffs`), each stopping where its history ends."""
    alpha, beta, gamma, phi = (params[:, i] for i in range(4))
    level, trend = start[:, 0].copy(), start[:, 1].copy()
    seasons = season.copy()
    states: dict[int, tuple[np.ndarray, ...]] = {}
    for t, value in enumerate(y):
        if m <= 1:
            damped = phi * trend
            base = level + damped
            error = np.subtract(value, base, out=errors[t])
            level = base + alpha * error
            trend = damped + beta * error
        else:
            i = t % m
            s = seasons[:, i]
            damped = phi * trend
            base = level + damped
            if multiplicative:
                error = np.subtract(value, base * s, out=errors[t])
                by_season = error / np.maximum(s, 1e-6)
                by_base = error / np.where(np.abs(base) > 1e-9, base, 1e-9)
            else:
                error = np.subtract(value - s, base, out=errors[t])
                by_season = by_base = error
            level = base + alpha * by_season
            trend = damped + beta * by_season
            seasons[:, i] = s + gamma * by_base
        if t + 1 in stops:
            states[t + 1] = (level, trend, seasons.copy())
    return states


def _run_cutoffs(
    y: np.ndarray, plans: list[_Candidates], lengths: list[int], m: int
) -> list[tuple[np.ndarray, ...]]:
    """For each plan (the candidates of y[:length]): SSE and final states per row, as a
    pass over that prefix alone would give them to the bit, from one pass over y.

    Plans share a pass only without a season (`fit_ets_cutoffs`), where every row is
    additive; a seasonal plan's multiplicative rows come last and are filtered apart. A
    shorter plan's errors past its length are zero in the sums of squares, which add one
    period after another (einsum's order, as in a pass that stopped there): rows of every
    plan are summed in one call and their states are slices, not copies."""
    if len(plans) == 1:
        params, starts, seasons = plans[0].params, plans[0].start, plans[0].season
        multiplicative = plans[0].multiplicative
    else:
        params = np.vstack([c.params for c in plans])
        starts = np.vstack([c.start for c in plans])
        seasons = np.vstack([c.season for c in plans])
        multiplicative = np.concatenate([c.multiplicative for c in plans])
    split = int(np.count_nonzero(~multiplicative))
    if m > 1 and (len(plans) > 1 or multiplicative[:split].any()):
        raise ValueError("seasonal rows are filtered one plan at a time, additive first")
    longest = max(lengths)
    errors = np.empty((longest, len(params)))
    if m <= 1:
        finals = _filter(y[:longest], params, starts, seasons, m, False, set(lengths), errors)
    else:
        finals = {n: (np.empty(len(params)), np.empty(len(params)), np.empty_like(seasons))
                  for n in lengths}  # fmt: skip
        for rows, is_multiplicative in ((slice(0, split), False), (slice(split, None), True)):
            if not len(params[rows]):
                continue
            states = _filter(y[:longest], params[rows], starts[rows], seasons[rows], m,
                             is_multiplicative, set(lengths), errors[:, rows])  # fmt: skip
            for n, found in states.items():
                for final, state in zip(finals[n], found, strict=True):
                    final[rows] = state
    sizes = [len(c.params) for c in plans]
    if len(plans) > 1:
        upto = np.repeat(lengths, sizes)
        errors = np.where(np.arange(longest)[:, None] < upto[None, :], errors, 0.0)
    sse = np.einsum("tr,tr->r", errors, errors)
    results: list[tuple[np.ndarray, ...]] = []
    end = 0
    for size, n in zip(sizes, lengths, strict=True):
        rows, end = slice(end, end + size), end + size
        level, trend, season = (state[rows] for state in finals[n])
        ahead = (np.arange(m) + n) % m  # seasonal terms for the steps after the data
        results.append((sse[rows], level, trend, season[:, ahead] if m > 1 else season))
    return results


def fit_ets(y: np.ndarray, m: int = 1, allow_multiplicative: bool = True) -> EtsFit:
    """Fit every form on its grid in one pass and keep the lowest AICc."""
    return min(fit_ets_forms(y, m, allow_multiplicative), key=lambda fit: fit.aicc)


def best_damped(fits: list[EtsFit]) -> EtsFit:
    """Of every form's fit, the damped-trend one with the lowest AICc (the lowest overall
    when the series was too short for a trend)."""
    damped = [fit for fit in fits if fit.form.split(",")[1] == "Ad"]
    return min(damped or fits, key=lambda fit: fit.aicc)


def fit_ets_forms(y: np.ndarray, m: int = 1, allow_multiplicative: bool = True) -> list[EtsFit]:
    """Every form's best fit on its grid, all from one pass over the series."""
    y = np.asarray(y, dtype=float)
    return fit_ets_cutoffs(y, m, [len(y)], allow_multiplicative)[len(y)]


def own_pass(n: int, m: int) -> bool:
    """Whether `fit_ets_cutoffs` filters a cut-off of n periods in a pass of its own: one
    long enough for the seasonal forms (two seasons and two periods)."""
    return m > 1 and n >= 2 * m + 2


def fit_ets_cutoffs(
    y: np.ndarray, m: int, lengths: list[int], allow_multiplicative: bool = True
) -> dict[int, list[EtsFit]]:
    """`fit_ets_forms(y[:length], m)` for each length, the same to the bit, with the
    cut-offs fitted without a season filtered in one pass over y: a backtest fits every
    cut-off, and there the per-period numpy calls, not the arithmetic, are the cost.

    Without a season a grid starts from a line through the first ten values, so the
    cut-offs of ten and more share their candidates, and their best rows are picked in
    the same numpy calls (`_best_per_form`)."""
    y = np.asarray(y, dtype=float)
    plans: dict[int, list[tuple[int, _Candidates]]] = {}
    shared: dict[tuple[int, tuple[str, ...]], _Candidates] = {}
    for n in dict.fromkeys(lengths):
        part = y[:n]
        seasonal_ok = own_pass(n, m)
        season_kinds = ["N"]
        if seasonal_ok:
            season_kinds += ["A"] + (["M"] if allow_multiplicative and part.min() > 0 else [])
        # An undamped trend is left out: on real sales it overshoots (M3 monthly MASE 1.03
        # vs 0.97 for damped), and a damped trend with phi 0.98 is nearly linear anyway.
        trends = (["N", "A", "Ad"] if m <= 1 else ["N", "Ad"]) if n >= 8 else ["N"]
        period = m if seasonal_ok else 1
        if period == 1:  # `_initial_states` reads only the first ten values
            key = (min(n, 10), tuple(trends))
            if key not in shared:
                shared[key] = _candidates(part, 1, season_kinds, trends)
            candidates = shared[key]
        else:
            candidates = _candidates(part, period, season_kinds, trends)
        plans.setdefault(period, []).append((n, candidates))
    fits: dict[int, list[EtsFit]] = {}
    for period, planned in plans.items():
        # Shared only without a season: its ~100 rows a step make the numpy calls the
        # cost; the ~700 of a seasonal grid make it the arithmetic, which a shared pass
        # adds to (short cut-offs run to the end: 8.1 against 5.0 ms on 60 months).
        batches = [planned] if period == 1 else [[plan] for plan in planned]
        for batch in batches:
            ns = [n for n, _ in batch]
            with np.errstate(all="ignore"):  # diverging grid rows end as inf and lose
                runs = _run_cutoffs(y, [c for _, c in batch], ns, period)
            alike: dict[int, list[int]] = {}  # plans with the same candidates
            for i, (_, candidates) in enumerate(batch):
                alike.setdefault(id(candidates), []).append(i)
            for chosen in alike.values():
                found = _best_per_form(batch[chosen[0]][1], [runs[i] for i in chosen],
                                       [ns[i] for i in chosen], period)  # fmt: skip
                fits.update(zip([ns[i] for i in chosen], found, strict=True))
    return fits


@functools.cache
def _form_terms(
    forms: tuple[tuple[str, str], ...], period: int
) -> tuple[list[str], list[bool], np.ndarray]:
    """Each form's name, whether it has a season, and its count of parameters and
    states (AICc's k), read-only."""
    seasonal = [season_kind != "N" for _, season_kind in forms]
    k = np.array([2 + 2 * (trend != "N") + (trend == "Ad") + has * period
                  for (trend, _), has in zip(forms, seasonal, strict=True)])  # fmt: skip
    k.flags.writeable = False
    return [f"A,{trend},{season_kind}" for trend, season_kind in forms], seasonal, k


def _stacked(runs: list[tuple[np.ndarray, ...]], i: int) -> np.ndarray:
    return runs[0][i][None] if len(runs) == 1 else np.stack([run[i] for run in runs])


def _best_per_form(
    candidates: _Candidates, runs: list[tuple[np.ndarray, ...]], lengths: list[int], period: int
) -> list[list[EtsFit]]:
    """Each form's best row as a fit, for each cut-off (length) with these candidates,
    picked and scored in the same numpy calls: the same operations, element by element,
    as one cut-off and form at a time."""
    names, seasonal, k = _form_terms(tuple(candidates.forms), period)
    sse = _stacked(runs, 0)
    sse = np.where(np.isfinite(sse), sse, np.inf)
    rows = np.stack([block.start + np.argmin(sse[:, block], axis=1)
                     for block in candidates.blocks], axis=1)  # fmt: skip
    pick = (np.arange(len(runs))[:, None], rows)
    n = np.array(lengths)[:, None]
    best = sse[pick]
    sigma2 = np.maximum(best / n, 1e-12)
    room = n - k - 1
    penalty = np.where(room > 0, 2 * k * (k + 1) / np.where(room > 0, room, 1), np.inf)
    aicc = (n * np.log(sigma2) + 2 * k + penalty).tolist()
    sigma = np.sqrt(best / np.maximum(n - k, 1)).tolist()
    params = candidates.params[rows].tolist()
    level, trend_state = _stacked(runs, 1)[pick].tolist(), _stacked(runs, 2)[pick].tolist()
    out = []
    for c, (run, chosen) in enumerate(zip(runs, rows.tolist(), strict=True)):
        fits = []
        for f, (name, has, j) in enumerate(zip(names, seasonal, chosen, strict=True)):
            alpha, beta, gamma, phi = params[c][f]
            fits.append(EtsFit(form=name, alpha=alpha, beta=beta, gamma=gamma, phi=phi,
                               level=level[c][f], trend=trend_state[c][f],
                               season=run[3][j].copy() if has else np.zeros(period),
                               sigma=sigma[c][f], aicc=aicc[c][f],
                               m=period if has else 1))  # fmt: skip
        out.append(fits)
    return out


def centred_moving_average(y: np.ndarray, m: int) -> tuple[np.ndarray, int]:
    """The classical decomposition's trend: a centred moving average over one season (2xm
    for an even ``m``), and the index of ``y`` its first value sits at."""
    kernel = np.ones(m + 1 if m % 2 == 0 else m)
    if m % 2 == 0:
        kernel[[0, -1]] = 0.5
    moving = np.convolve(y, kernel / m, mode="valid")
    return moving, (len(y) - len(moving)) // 2
