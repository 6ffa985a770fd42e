"""The forecast candidates: ARIMA against a reference implementation and on the processes
it is for, and the blends that bring it into the panel's choice."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from smbml_connect.analytics.forecast import engine, models
from smbml_connect.analytics.forecast import ets as ets_module
from smbml_connect.analytics.forecast.arima import fit_arima, kpss_differences
from smbml_connect.analytics.forecast.engine import (
    MEDIAN,
    MEDIAN_ARIMA,
    MODEL_WORDS,
    PLAIN,
    forecast_panel,
    forecast_panel_results,
)
from smbml_connect.analytics.forecast.ets import fit_ets, fit_ets_forms
from smbml_connect.analytics.forecast.models import (
    arima,
    blend,
    ces,
    damped_ets,
    deseasonalise,
    drift,
    ets,
    median,
    seasonal_naive,
    theta,
)
from smbml_connect.analytics.forecast.timeseries import regularise

# An airline-model series, (0,1,1)(0,1,1)12 with theta -0.4 and Theta -0.6, rounded.
AIRLINE = np.array([
    48.85, 49.43, 50.6, 49.04, 49.61, 47.61, 46.29, 45.59, 46.34, 44.73, 45.41, 45.48,
    44.66, 42.59, 43.81, 43.39, 44.04, 41.5, 40.63, 39.93, 39.97, 40.44, 39.43, 39.76,
    39.99, 38.45, 39.51, 39.14, 39.73, 36.89, 36.51, 37.61, 35.8, 36.92, 36.42, 35.89,
    37.84, 36.82, 36.3, 36.4, 37.52, 35.01, 35.05, 35.01, 35.16, 36.56, 34.94, 35.3,
    35.35, 34.67, 33.82, 33.47, 34.3, 33.02, 33.39, 31.78, 31.24, 32.91, 29.79, 30.19,
    30.66, 31.08, 31.16, 30.28, 30.85, 28.88, 30.4, 28.82, 28.31, 29.87, 27.84, 27.89,
])  # fmt: skip
# statsmodels 0.15 ARIMA(order=(0,1,1), seasonal_order=(0,1,1,12)).fit().forecast(12)
STATSMODELS_AIRLINE = np.array([
    28.336, 28.428, 28.314, 27.598, 28.248, 26.37, 27.548, 26.085, 25.589, 27.148,
    24.955, 25.082,
])  # fmt: skip


def test_airline_model_matches_statsmodels() -> None:
    """Conditional least squares on a grid lands within a quarter of the one-step error of
    statsmodels' exact maximum likelihood."""
    fit = fit_arima(AIRLINE, 12, seasonal=True, orders=((0, 1),), constants=(False,))
    assert fit.form == "ARIMA(0,1,1)(0,1,1)12"
    forecast = fit.forecast(12)
    assert np.max(np.abs(forecast - STATSMODELS_AIRLINE)) < 0.3
    assert np.max(np.abs(forecast - STATSMODELS_AIRLINE)) < 0.35 * fit.sigma
    sd = fit.sd(12)
    assert np.all(np.diff(sd) > 0) and 0.5 < sd[0] / fit.sigma < 1.5


def _arma11_walk(seed: int, n: int = 200) -> np.ndarray:
    rng = np.random.default_rng(seed)
    e = rng.normal(0, 1, n)
    w = np.zeros(n)
    for t in range(1, n):
        w[t] = 0.6 * w[t - 1] + e[t] + 0.4 * e[t - 1]
    return 50 + np.cumsum(w)


def test_arima_recovers_an_arima_111_process() -> None:
    y = _arma11_walk(11)
    fit = fit_arima(y)
    assert fit.d == 1 and fit.p >= 1
    assert abs(fit.ar[0] - 0.6) < 0.25
    assert kpss_differences(np.diff(y)) == 0


def _airline(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    e = rng.normal(0, 1, n + 13)
    y = np.zeros(n + 13)
    for t in range(13, n + 13):
        y[t] = y[t - 1] + y[t - 12] - y[t - 13] + e[t] - 0.4 * e[t - 1] - 0.6 * e[t - 12]
        y[t] += 0.24 * e[t - 13]
    return 100 + y[13:] + 5 * np.sin(2 * np.pi * np.arange(n) / 12)


def _seasonal_ar(seed: int, n: int) -> np.ndarray:
    """ARIMA(1,1,0)(0,1,1)12: momentum in the changes, which smoothing does not carry."""
    rng = np.random.default_rng(seed)
    e = rng.normal(0, 1, n + 40)
    w = np.zeros(n + 40)
    y = np.zeros(n + 40)
    for t in range(14, n + 40):
        w[t] = 0.8 * w[t - 1] + e[t] - 0.6 * e[t - 12]
        y[t] = y[t - 1] + y[t - 12] - y[t - 13] + w[t]
    return 100 + y[40:]


def test_arima_forecasts_a_seasonal_arima_process_better_than_the_old_candidates() -> None:
    """On series drawn from a seasonal ARIMA, the new candidate beats every model the
    forecasts had before it (mean absolute error over 12 months, 16 series)."""
    old = {"ets": ets, "theta": theta, "drift": drift, "seasonal_naive": seasonal_naive}
    errors: dict[str, list[float]] = {name: [] for name in [*old, "arima"]}
    for seed in range(16):
        y = _seasonal_ar(seed, 84)
        history, future = y[:-12], y[-12:]
        for name, model in [*old.items(), ("arima", arima)]:
            errors[name].append(float(np.mean(np.abs(model(history, 12, 12).mean - future))))
    score = {name: float(np.mean(values)) for name, values in errors.items()}
    assert all(score["arima"] < 0.9 * score[name] for name in old), score


@pytest.fixture
def ets_calls(monkeypatch) -> dict[str, int]:
    """How many times ETS is fitted from here on."""
    calls = {"ets": 0}

    def counted(y: np.ndarray, m: int, horizon: int) -> models.Prediction:
        calls["ets"] += 1
        return ets(y, m, horizon)

    monkeypatch.setitem(models.MODELS, "ets", counted)
    return calls


def test_blend_is_the_mean_of_its_members_and_fits_each_once(ets_calls) -> None:
    calls = ets_calls
    y = _airline(3, 60)
    alone = models.remembered("ets")(y, 12, 6)
    mixed = blend("ets", "theta", "arima")(y, 12, 6)
    expected = np.mean([ets(y, 12, 6).mean, theta(y, 12, 6).mean, arima(y, 12, 6).mean], axis=0)
    assert np.allclose(mixed.mean, expected)
    assert calls["ets"] == 1 and np.array_equal(alone.mean, ets(y, 12, 6).mean)
    assert not alone.mean.flags.writeable  # shared: nobody may change it in place


def test_median_is_the_middle_of_its_members_and_fits_each_once(ets_calls) -> None:
    calls = ets_calls
    y = _airline(4, 60)
    members = [ets(y, 12, 6), damped_ets(y, 12, 6), theta(y, 12, 6), ces(y, 12, 6)]
    middle = median("ets", "damped_ets", "theta", "ces")(y, 12, 6)
    assert np.allclose(middle.mean, np.median([p.mean for p in members], axis=0))
    # the spread of the members with a spread formula: CES's is a rough shape
    assert np.allclose(middle.sd, np.mean([p.sd for p in members[:3]], axis=0))
    # four members: the middle is the mean of the two inner ones, never an outer one
    ordered = np.sort([p.mean for p in members], axis=0)
    assert np.allclose(middle.mean, (ordered[1] + ordered[2]) / 2)
    models.remembered("ets")(y, 12, 6)
    assert calls["ets"] == 1


def test_ces_is_statsforecasts_autoces_and_never_fails() -> None:
    from statsforecast.models import AutoCES

    y = _airline(5, 72)
    out = ces(y, 12, 12)
    reference = AutoCES(season_length=12).forecast(y=y, h=12)["mean"]
    assert np.allclose(out.mean, reference) and out.detail.startswith("CES (")
    assert np.all(np.diff(out.sd) > 0) and out.sd[0] > 0
    # no longer than its parameters (statsforecast raises), or no degree of freedom left
    # for the noise (its variance comes out negative): the last value is carried forward
    for tiny in (np.array([5.0, 5.5]), np.array([5.0, 6.0, 5.5])):
        out = ces(tiny, 12, 4)
        assert np.allclose(out.mean, 5.5) and np.all(np.isfinite(out.sd)), out


def test_the_medians_with_ces_are_offered_to_seasons_of_twelve_and_longer_only() -> None:
    """A CES fit costs some 2 ms whatever the season: on quarterly and yearly panels it
    took the CPU over AutoETS's for MASE changes under 0.01 (engine `_candidates`)."""
    y = _airline(6, 60)
    monthly = engine._candidates(y, intermittent=False, m=12)
    assert {MEDIAN, MEDIAN_ARIMA} <= set(monthly)
    assert MEDIAN in engine._candidates(y[:30], intermittent=False, m=12)
    assert MEDIAN_ARIMA not in engine._candidates(y[:30], intermittent=False, m=12)
    for m in (1, 4, 7):
        assert not {MEDIAN, MEDIAN_ARIMA} & set(engine._candidates(y, intermittent=False, m=m))
    assert MEDIAN not in engine._candidates(y, intermittent=True, m=12)
    assert MEDIAN not in engine._candidates(y, intermittent=False, m=12, calendar=True)
    assert {MEDIAN, MEDIAN_ARIMA} <= set(PLAIN)
    assert all("middle" in MODEL_WORDS[name] for name in (MEDIAN, MEDIAN_ARIMA))


def _panel(series: list[np.ndarray], freq: str = "MS") -> pd.DataFrame:
    return pd.concat(
        pd.DataFrame({"unique_id": f"s{i}", "y": y,
                      "ds": pd.date_range("2010-01-01", periods=len(y), freq=freq)})
        for i, y in enumerate(series)
    )  # fmt: skip


def test_a_seasonal_panel_takes_the_arima_blend_when_its_backtests_say_so() -> None:
    frame = _panel([_seasonal_ar(seed, 84) for seed in range(8)])
    results, _ = forecast_panel_results(frame, 12)
    assert all("ets_theta_arima" in r.backtest for r in results.values())
    chosen = [r.model for r in results.values()]
    # the mean with ARIMA or the median with ARIMA and CES, whichever the backtests prefer
    assert sum("arima" in name for name in chosen) >= 6, chosen
    assert all("ARIMA" in MODEL_WORDS[name] for name in ("ets_theta_arima", MEDIAN_ARIMA))
    assert {"ets_theta_arima", MEDIAN_ARIMA} <= set(PLAIN)
    out = forecast_panel(frame, 12)
    assert len(out) == 8 * 12 and np.isfinite(out["yhat"]).all()


def test_the_arima_blend_is_not_offered_without_three_seasons_or_a_season() -> None:
    short, _ = forecast_panel_results(_panel([_seasonal_ar(seed, 36) for seed in range(3)]), 6)
    yearly, _ = forecast_panel_results(
        _panel([_seasonal_ar(seed, 40) for seed in range(3)], "YS"), 4
    )
    for results in (short, yearly):
        assert not any("ets_theta_arima" in r.backtest for r in results.values())


def _fading_trend(seed: int, n: int = 30, phi: float = 0.8) -> np.ndarray:
    """Growth that slows: a damped-trend ETS process."""
    rng = np.random.default_rng(seed)
    level, trend, out = 100.0, 8.0, []
    for _ in range(n):
        e = rng.normal(0, 4)
        level, trend = level + phi * trend + 0.5 * e, phi * trend + 0.3 * e
        out.append(level + e)
    return np.array(out)


def test_damped_ets_comes_from_the_same_pass_as_ets(monkeypatch) -> None:
    calls = {"forms": 0}

    def counted(y: np.ndarray, m: int = 1, allow_multiplicative: bool = True) -> list:
        calls["forms"] += 1
        return fit_ets_forms(y, m, allow_multiplicative)

    monkeypatch.setattr(models, "fit_ets_forms", counted)
    y = np.arange(20.0) * 3 + 50 + np.sin(np.arange(20))  # a straight line: AICc takes Holt
    auto, damped = ets(y, 1, 6), damped_ets(y, 1, 6)
    assert calls["forms"] == 1
    assert auto.detail == f"ETS({fit_ets(y).form})" == "ETS(A,A,N)"
    assert damped.detail.startswith("ETS(A,Ad,")
    steps = np.diff(damped.mean)
    assert np.all(steps > 0) and np.all(np.diff(steps) < 0)  # still growing, ever slower
    too_short = np.array([5.0, 6, 7, 8, 9])  # no trend form below 8 points: the AICc choice
    assert np.array_equal(damped_ets(too_short, 1, 3).mean, ets(too_short, 1, 3).mean)


def test_a_panel_whose_trends_fade_takes_the_damped_ets_combination() -> None:
    frame = _panel([_fading_trend(seed) for seed in range(8)], "YS")
    results, _ = forecast_panel_results(frame, 6)
    chosen = [r.model for r in results.values()]
    assert chosen.count("ets+damped_ets+theta") >= 5, chosen
    assert "ets+damped_ets+theta" in PLAIN and "ets+damped_ets+theta" in MODEL_WORDS
    occasional = np.where(np.arange(40) % 3 == 0, 5.0, 0.0)  # intermittent: Croston's world
    assert "damped_ets" not in engine._candidates(occasional, True, 1)


def _plain_ses(x: np.ndarray, alpha: float) -> tuple[list[float], float]:
    """Simple exponential smoothing from zero, one period at a time: errors, last level."""
    level, errors = 0.0, []
    for value in x:
        errors.append(value - level)
        level = level + alpha * (value - level)
    return errors, level


def test_thetas_smoothing_equals_the_plain_recursion() -> None:
    """The vectorised SES of Theta is the plain recursion: to the bit on the step-by-step
    path (up to 60 periods), to 1e-12 on scipy's linear filter (another order of sums)."""
    rng = np.random.default_rng(4)
    for n, exact in ((30, True), (90, False)):
        both = np.stack([np.cumsum(rng.normal(1, 3, n)) + 40, rng.normal(0, 2, n)], axis=1)
        parts, level = models._smoothed(both)
        for column in range(2):
            for j, alpha in enumerate(models.ALPHAS):
                errors, last = _plain_ses(both[:, column], float(alpha))
                if exact:
                    assert parts[:, column, j].tolist() == errors and level[column, j] == last
                else:
                    assert np.allclose(parts[:, column, j], errors, rtol=1e-12, atol=1e-9)
                    assert np.isclose(level[column, j], last, rtol=1e-12)


def test_ets_fits_equal_the_plain_recursion_of_their_parameters() -> None:
    """Each form's fit from the grid pass has the states and error of its own parameters
    filtered one period at a time (Holt's damped trend, additive errors)."""
    y = np.cumsum(np.random.default_rng(2).normal(1, 3, 30)) + 60
    level0, slope0, _ = ets_module._initial_states(y, 1, False)
    for fit in fit_ets_forms(y, 1):
        level, trend, sse = level0, slope0 if fit.form != "A,N,N" else 0.0, 0.0
        for value in y:
            damped = fit.phi * trend
            base = level + damped
            error = value - base
            level, trend, sse = base + fit.alpha * error, damped + fit.beta * error, sse + error**2
        assert (fit.level, fit.trend) == (level, trend), fit.form
        k = {"A,N,N": 2, "A,A,N": 4, "A,Ad,N": 5}[fit.form]
        assert np.isclose(fit.sigma, np.sqrt(sse / (len(y) - k)), rtol=1e-12)


def test_every_cut_off_fitted_in_one_pass_equals_its_own_fit(monkeypatch) -> None:
    """`prepare` fits ETS and Theta at a backtest's cut-offs in shared passes over the
    series, and every forecast is the one a fit of that cut-off alone gives, to the bit:
    short and long, with and without a (multiplicative) season."""
    rng = np.random.default_rng(8)
    series = [
        (_airline(5, 84) + 60, 12, [40, 52, 61, 70, 84]),  # two seasonal kinds, lfilter too
        (np.cumsum(rng.normal(1, 3, 26)) + 80, 1, [9, 14, 20, 26]),
        (np.cumsum(rng.normal(0, 1, 44)) - 5, 4, [8, 12, 30, 44]),  # a season for some
        # in no order, as the engine asks (newest backtest cut-off first); Theta chooses
        # for the short ones at once in their own order and the long ones in batches
        (np.cumsum(rng.normal(1, 3, 24)) + 80, 1, [24, 14, 22, 9, 18, 20, 23]),
        (np.cumsum(rng.normal(1, 3, 30)) + 80, 1, [30, 14, 22, 9, 26, 18, 28, 29]),
        (_airline(6, 96) + 60, 12, [96, 40, 90, 52, 61, 75, 70, 94, 95]),
    ]
    runs = {"ets": 0, "theta": 0}
    filter_ets, smooth = ets_module._filter, models._smoothed_cutoffs

    def counted_filter(*args: Any, **kwargs: Any) -> Any:
        runs["ets"] += 1
        return filter_ets(*args, **kwargs)

    def counted_smooth(*args: Any, **kwargs: Any) -> Any:
        runs["theta"] += 1
        return smooth(*args, **kwargs)

    def forget() -> None:
        models._ETS_FORMS.clear(), models._THETA_FITS.clear(), models._MEMO.clear()

    for y, m, cutoffs in series:
        lone = {}
        for c in cutoffs:
            forget()
            lone[c] = [f(y[:c], m, 7) for f in (ets, damped_ets, theta)]
        forget()
        runs.update(ets=0, theta=0)
        monkeypatch.setattr(ets_module, "_filter", counted_filter)
        monkeypatch.setattr(models, "_smoothed_cutoffs", counted_smooth)
        models.prepare(y, m, cutoffs)
        monkeypatch.undo()
        # not a pass per cut-off: one for Theta's up to 60 periods and one past; one for
        # ETS without a season (a seasonal grid is wide enough to be fitted per cut-off)
        assert 1 <= runs["theta"] <= 2 and (m > 1 or runs["ets"] == 1), runs
        for c in cutoffs:
            prepared = [f(y[:c], m, 7) for f in (ets, damped_ets, theta)]
            for a, b in zip(lone[c], prepared, strict=True):
                assert a.detail == b.detail
                assert a.mean.tobytes() == b.mean.tobytes() and a.sd.tobytes() == b.sd.tobytes()


def test_calibration_cut_offs_are_fitted_in_the_backtests_passes(monkeypatch) -> None:
    """A panel calibrates its series' intervals (`engine._calibrated`) after every series
    is chosen, when the caches hold other series' fits. The calibration cut-offs' ETS and
    Theta fits are made in the backtest's passes (`prepare`'s `later`) and kept with the
    series, so calibrating a series without a season makes no pass of its own, and its
    errors are those of fitting the cut-offs then, to the bit."""
    y = np.cumsum(np.random.default_rng(3).normal(1, 3, 24)) + 50
    series = regularise(pd.date_range("2000-01-01", periods=24, freq="YS"), y)
    fit = engine.fit_regular(series, 4)
    assert "ets" in fit.model and fit.kept.ets and fit.kept.theta
    runs = {"passes": 0}
    filter_ets, smooth = ets_module._filter, models._smoothed_cutoffs

    def counted(function: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            runs["passes"] += 1
            return function(*args, **kwargs)

        return run

    monkeypatch.setattr(ets_module, "_filter", counted(filter_ets))
    monkeypatch.setattr(models, "_smoothed_cutoffs", counted(smooth))
    outcomes = []
    for kept in (fit.kept, models.Kept()):  # as fitted, then as if nothing had been kept
        models._ETS_FORMS.clear(), models._THETA_FITS.clear(), models._MEMO.clear()
        runs["passes"] = 0
        calibrated = engine._calibrated(replace(fit, kept=kept), 4)
        outcomes.append((runs["passes"], calibrated.standard.tobytes(), calibrated.ages.tobytes()))
    assert outcomes[0][0] == 0 and outcomes[1][0] >= 2
    assert outcomes[0][1:] == outcomes[1][1:] and len(calibrated.standard) > len(fit.standard)


def test_a_series_of_vanishing_size_is_forecast_not_an_error() -> None:
    """Values near 1e-200: the seasonality test's sum of squares underflows to 0 (it
    divided by it, ZeroDivisionError, found by a review)."""
    t = np.arange(48)
    noise = np.random.default_rng(0).normal(0, 0.01, 48)
    y = 1e-200 * (1 + 0.1 * np.sin(2 * np.pi * t / 12) + noise)
    assert not models.has_seasonality(y, 12)
    out = engine.forecast_series(pd.date_range("2020-01-01", periods=48, freq="MS"), y, 6)
    assert np.isfinite(out["yhat"]).all()


def _seasonal_years(
    years: int, drift: bool, seed: int, extra: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Monthly sales with a trend and a season whose peak moves from summer to winter
    over the years when `drift`, else stays; the history (`extra` months past whole
    years) and the next year's truth."""
    rng = np.random.default_rng(seed)
    t = np.arange(12 * (years + 1) + extra)
    share = t / len(t) if drift else np.zeros(len(t))
    summer, winter = np.sin(2 * np.pi * t / 12), np.cos(2 * np.pi * t / 12)
    y = 500 + 2 * t + 80 * ((1 - share) * summer + share * winter) + rng.normal(0, 8, len(t))
    return y[:-12], y[-12:]


def test_the_drift_test_tells_a_moved_season_from_noise() -> None:
    """A test at 5%: the detrended values are not independent, so a steady season is
    called drifted somewhat more often (about 7% of these histories), never most."""
    steady = [ets_module.season_drifted(_seasonal_years(12, False, s)[0], 12, False)
              for s in range(200)]  # fmt: skip
    moved = [ets_module.season_drifted(_seasonal_years(12, True, s)[0], 12, False)
             for s in range(40)]  # fmt: skip
    assert sum(steady) <= 25
    assert all(moved)
    short = _seasonal_years(3, True, 0)[0]  # under two seasons a half: not tested
    assert not ets_module.season_drifted(short, 12, False)


def test_a_drifted_season_starts_from_the_first_half_and_forecasts_the_new_pattern(
    monkeypatch,
) -> None:
    """Started from the whole series' average pattern, ETS needs little seasonal
    smoothing to fit and forecasts a season between the old and the new one."""
    errors: dict[str, list[float]] = {"first half": [], "whole series": []}
    for level, name in ((ets_module.DRIFT_LEVEL, "first half"), (0.0, "whole series")):
        monkeypatch.setattr(ets_module, "DRIFT_LEVEL", level)
        for seed in range(10):
            history, truth = _seasonal_years(15, True, seed)
            forecast = fit_ets(history, 12).forecast(12)
            errors[name].append(float(np.abs(forecast - truth).mean()))
    assert np.mean(errors["first half"]) < 0.8 * np.mean(errors["whole series"])


def test_a_drifted_season_is_adjusted_half_by_half_and_forecast_with_the_later_one(
    monkeypatch,
) -> None:
    """Theta, drift and ARIMA on adjusted values re-season their forecasts with the
    decomposition's indices: the whole series' average pattern is stale when it moved."""
    history, _ = _seasonal_years(15, True, 0, extra=5)  # the phase past whole years too
    index = deseasonalise(history, 12)[1]
    t = np.arange(12 * 16 + 5)[-12:]
    later = np.cos(2 * np.pi * t / 12)  # the pattern the drift is heading for (winter peak)
    assert np.corrcoef(index[t % 12], later)[0, 1] > 0.8
    errors: dict[str, list[float]] = {"by half": [], "whole series": []}
    for level, name in ((ets_module.DRIFT_LEVEL, "by half"), (0.0, "whole series")):
        monkeypatch.setattr(ets_module, "DRIFT_LEVEL", level)
        for seed in range(10):
            history, truth = _seasonal_years(15, True, seed, extra=5)
            forecast = models.theta(history, 12, 12).mean
            errors[name].append(float(np.abs(forecast - truth).mean()))
    assert np.mean(errors["by half"]) < 0.8 * np.mean(errors["whole series"])
