"""How a forecast's model is chosen: per series on its own backtests, and panel-wide."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from typing import cast

import numpy as np
import pandas as pd
import pytest

from smbml_connect.analytics.forecast import engine
from smbml_connect.analytics.forecast.models import ALPHAS, THETAS, _ses_thetas
from smbml_connect.analytics.forecast.timeseries import RegularSeries, regularise


def _ses_reference(z: np.ndarray, alpha: float) -> tuple[float, float]:
    """SES with the best starting level found by least squares: (sse, final level)."""
    decay = (1 - alpha) ** np.arange(len(z))
    level, errors = 0.0, []
    for value in z:
        errors.append(value - level)
        level += alpha * (value - level)
    errors_ = np.array(errors)
    start = float(errors_ @ decay / (decay @ decay))
    return float(((errors_ - decay * start) ** 2).sum()), level + (1 - alpha) ** len(z) * start


@pytest.mark.parametrize("n", [30, 90])  # a loop up to 60 periods, a linear filter beyond
def test_every_theta_line_is_smoothed_as_if_on_its_own(n: int):
    rng = np.random.default_rng(1)
    x = np.cumsum(rng.normal(2, 5, n)) + 100
    t = np.arange(n)
    slope, intercept = np.polyfit(t, x, 1)
    line = intercept + slope * t
    alphas, levels, _, sse = _ses_thetas(line, x - line, np.array(THETAS))
    for k, th in enumerate(THETAS):
        fits = [_ses_reference(line + th * (x - line), a) for a in ALPHAS]
        j = int(np.argmin([f[0] for f in fits]))
        assert alphas[k] == ALPHAS[j]
        assert np.isclose(sse[k], fits[j][0]) and np.isclose(levels[k], fits[j][1])


def _fit(scores: dict[str, float]) -> engine.Fitted:
    return SimpleNamespace(scores=scores)  # type: ignore[return-value]


def test_panel_combination_compares_combinations_present_on_different_series():
    # Only the long series can have ets_theta_arima; drift leads ets+theta by 10% everywhere.
    long = [_fit({"ets+theta": 1.0, "ets+theta+drift": 0.9, "ets_theta_arima": 0.95})] * 3
    short = [_fit({"ets+theta": 2.0, "ets+theta+drift": 1.8})] * 5
    assert engine._panel_combination(long + short) == "ets+theta+drift"


def test_panel_combination_keeps_ets_theta_unless_another_clearly_leads():
    fits = [_fit({"ets+theta": 1.0, "ets+theta+drift": 0.995})] * 4
    assert engine._panel_combination(fits) == "ets+theta"


def test_panel_combination_takes_a_small_lead_that_holds_across_the_series():
    """Under 1% ahead, but on nearly every series: the lead is more than two standard
    errors of the series' differences, so it is not noise (M3 monthly's median with CES:
    0.7% at t -2.6). The same mean lead from a few large wins is left alone."""
    rng = np.random.default_rng(4)
    base = rng.uniform(0.5, 2.0, 60)
    steady = base * (1 - 0.007 + rng.normal(0, 0.002, 60))
    fits = [_fit({"ets+theta": b, engine.MEDIAN: c}) for b, c in zip(base, steady, strict=True)]
    assert engine._panel_combination(fits) == engine.MEDIAN
    lumpy = base.copy()
    lumpy[:3] -= 0.007 * base.sum() / 3  # the same total lead, from three series
    lumpy[3:] += rng.normal(0, 0.05, 57)
    lumpy[3:] -= lumpy[3:].mean() - base[3:].mean()
    fits = [_fit({"ets+theta": b, engine.MEDIAN: c}) for b, c in zip(base, lumpy, strict=True)]
    assert np.isclose(np.mean(lumpy) / np.mean(base), np.mean(steady) / np.mean(base), atol=0.002)
    assert engine._panel_combination(fits) == "ets+theta"


def _monthly(seed: int, n: int = 28) -> RegularSeries:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 200 + 40 * np.sin(2 * np.pi * t / 12) + np.cumsum(rng.normal(0, 15, n))
    return regularise(pd.date_range("2022-01-01", periods=n, freq="MS"), y)


def test_a_backtest_shorter_than_the_horizon_never_leaves_the_combination():
    # 12 periods without a season: the backtest (from 8 on) can score 4 of the 6 asked for.
    chosen = [engine.fit_regular(_monthly(seed, 12), 6, 1).model for seed in range(30)]
    assert all(name in engine.PLAIN for name in chosen), chosen
    # Asked for 4, the same backtests cover the horizon and may switch.
    switched = [engine.fit_regular(_monthly(seed, 12), 4, 1).model for seed in range(30)]
    assert any(name not in engine.PLAIN for name in switched), switched


def test_a_seasonal_series_keeps_the_combination_unless_a_model_is_made_for_it():
    # 60 months with a season, backtests covering the 6 months asked for: no series leaves
    # the combination (`_may_switch`); before, 7 of these 40 left it for the seasonal naive
    # or ETS alone.
    seasonal = [engine.fit_regular(_monthly(seed, 60), 6) for seed in range(40)]
    assert all(fit.season_length == 12 and not fit.switchable for fit in seasonal)
    assert all(fit.model in engine.PLAIN for fit in seasonal), [f.model for f in seasonal]
    # Occasional sales with a season may still leave it, for Croston's method.
    rng = np.random.default_rng(3)
    sales = rng.poisson(1.5, 60) * (rng.random(60) < 0.5) * (1 + (np.arange(60) % 12 == 11))
    fit = engine.fit_regular(regularise(pd.date_range("2020-01-01", periods=60, freq="MS"),
                                        sales.astype(float)), 6, 12)  # fmt: skip
    assert fit.switchable and "croston" in fit.scores
    # So may a daily series, which has the calendar model.
    days = pd.date_range("2024-01-01", periods=120, freq="D")
    visits = 100 + 20 * (days.dayofweek >= 5) + rng.normal(0, 5, 120)
    fit = engine.fit_regular(regularise(days, visits), 14)
    assert fit.season_length == 7 and "calendar" in fit.candidates and fit.switchable


def _backtested(newest: dict[str, float], older: dict[str, float]) -> engine.Fitted:
    """A series whose backtest errors are constant per cut-off: `newest` at the newest of
    three cut-offs, `older` at the two before it."""
    y = np.tile([1.0, 2.0], 30)  # no change from one 12-period season to the next: scale 1.5
    backtests = {
        name: (np.concatenate([np.full(4, newest[name]), np.full(8, older[name])]), np.zeros(12))
        for name in newest
    }
    scores = {name: float(np.abs(errors).mean()) for name, (errors, _) in backtests.items()}
    fit = SimpleNamespace(origins=[50, 48, 46], switchable=True, scores=scores,
                          backtests=backtests, y=y, season_length=12, candidates={},
                          closed=None)  # fmt: skip
    return cast(engine.Fitted, fit)


def test_a_panel_keeps_its_combination_when_switching_lost_on_the_newest_cut_off():
    # Drift led by half on the older cut-offs and then did about twice as badly as the
    # combination, on every series.
    lucky = [_backtested({"ets+theta": 1.0, "drift": d}, {"ets+theta": 2.0, "drift": 1.0})
             for d in (1.8, 2.0, 2.2, 1.9, 2.1)]  # fmt: skip
    assert not engine._switching_helps(lucky, "ets+theta")
    # Where the lead held on the newest cut-off too, switching helps and is kept.
    steady = [_backtested({"ets+theta": 2.0, "drift": d}, {"ets+theta": 2.0, "drift": 1.0})
              for d in (0.9, 1.0, 1.1, 1.2, 0.8)]  # fmt: skip
    assert engine._switching_helps(steady, "ets+theta")
    assert engine._switching_helps(lucky[:1] + steady, "ets+theta")
    # A series without a clear leader on its older cut-offs has no say, and with no
    # evidence the series keep their own choice.
    close = _backtested({"ets+theta": 1.0, "drift": 3.0}, {"ets+theta": 1.0, "drift": 0.9})
    assert engine._switching_helps([close] * 5, "ets+theta")


def test_a_small_panel_keeps_switching_unless_it_clearly_lost():
    """A loss on the newest cut-off that is within noise is no reason to overrule the
    series: with the plain sign of the sum, 40-series panels followed noise (40 M3 yearly
    series: sMAPE 15.67 -> 18.42)."""
    mixed = [_backtested({"ets+theta": 1.0, "drift": d}, {"ets+theta": 2.0, "drift": 1.0})
             for d in (1.5, 0.6, 1.4, 0.7, 1.3)]  # fmt: skip
    assert engine._switching_helps(mixed, "ets+theta")  # lost by 0.1 on average, t 0.5
    assert not engine._switching_helps(mixed * 20, "ets+theta")  # the same loss, 100 series
    # Series that all lost by the same amount (duplicate products) are sure evidence.
    same = _backtested({"ets+theta": 1.0, "drift": 1.5}, {"ets+theta": 2.0, "drift": 1.0})
    assert not engine._switching_helps([same] * 5, "ets+theta")
    won = _backtested({"ets+theta": 2.0, "drift": 1.0}, {"ets+theta": 2.0, "drift": 1.0})
    assert engine._switching_helps([won] * 5, "ets+theta")


def _white_noise_panel(seed: int, count: int = 30, n: int = 48, freq: str = "MS") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.date_range("1970-01-01", periods=n, freq=freq)
    return pd.concat(
        [pd.DataFrame({"unique_id": f"s{k}", "ds": dates, "y": 200 + rng.normal(0, 20, n)})
         for k in range(count)],
        ignore_index=True,
    )  # fmt: skip


@pytest.mark.parametrize("helps", [True, False])
def test_a_panel_whose_switching_lost_keeps_every_series_on_its_combination(monkeypatch, helps):
    # On this yearly panel of noise two series lead their backtests by luck (the naive and
    # damped ETS); a seasonal series would keep the combination anyway (`_may_switch`).
    monkeypatch.setattr(engine, "_switching_helps", lambda fits, plain: helps)
    results, _ = engine.forecast_panel_results(_white_noise_panel(2, n=30, freq="YS"), 6)
    left = [uid for uid, r in results.items() if r.model not in engine.PLAIN]
    assert len(left) == (2 if helps else 0), left


def test_typed_columns_regularise_as_the_cell_by_cell_reading_does() -> None:
    """A panel's datetime and number columns skip the cell-by-cell reading (speed only):
    repeated dates, a missing month and integer values come out as from plain lists."""
    dates = pd.Series(pd.to_datetime(["2024-01-31", "2024-01-31", "2024-03-31", "2024-04-30",
                                      "2024-05-31", "2024-06-30", "2024-07-31"]))  # fmt: skip
    for values in (pd.Series([1, 2, 3, 4, 5, 6, 7]), pd.Series([1.5, 2.0, 3.0, 4, 5, 6, 7.25])):
        for gaps in ("zero", "interpolate"):
            typed = regularise(dates, values, gaps=gaps)
            cells = regularise(list(dates), list(values), gaps=gaps)
            assert typed.periods.equals(cells.periods) and np.array_equal(typed.y, cells.y)
            assert (typed.freq, typed.at_period_end, typed.notes) == (
                cells.freq,
                cells.at_period_end,
                cells.notes,
            )
    with_blank = pd.Series([pd.NaT, *dates[1:]])  # a blank date still gets its line
    assert regularise(with_blank, pd.Series(range(7))).left_out == [
        "row 1, date: blank (beside the value 0)"
    ]


def test_a_small_panel_needs_the_margin_not_the_evidence():
    """Under ten series a lead under 1% never counts, however steady; over ten, a lead
    that is the same on every series does (no spread to weigh it by)."""
    few = [_fit({"ets+theta": 1.0 + i / 10, engine.MEDIAN: (1.0 + i / 10) * 0.995 - i * 1e-4})
           for i in range(5)]  # fmt: skip
    assert engine._panel_combination(few) == "ets+theta"
    same = [_fit({"ets+theta": 1.0, engine.MEDIAN: 0.995}) for _ in range(12)]
    assert engine._panel_combination(same) == engine.MEDIAN


def _yearly(seed: int, n: int) -> RegularSeries:
    rng = np.random.default_rng(seed)
    y = 500 + np.cumsum(rng.normal(20, 30, n))  # a drifting walk, like M3's yearly series
    return regularise(pd.date_range("2000-01-01", periods=n, freq="YS"), y)


def test_a_series_too_short_to_test_takes_a_combination_not_ets_alone():
    # 8 years, 6 asked for: no cut-off leaves 8 to learn from, so nothing is backtested.
    # Before, ETS alone: held-out worse than every other candidate but the naive forecast
    # on such series (`_untested`).
    fits = [engine.fit_regular(_yearly(seed, 8), 6) for seed in range(5)]
    assert all(not fit.backtested and fit.model == engine.UNTESTED for fit in fits)
    assert all(not np.allclose(fit.prediction.mean, engine.MODELS["ets"](fit.y, 1, 6).mean)
               for fit in fits)  # fmt: skip
    # Under 8 periods only ETS and the naive forecast are offered: ETS stays. So it does
    # when the forecast reaches further ahead than the history goes back.
    assert engine.fit_regular(_yearly(0, 7), 6).model == "ets"
    assert engine.fit_regular(_yearly(0, 8), 9).model == "ets"
    # So it does with occasional sales, where no such series was measured.
    sparse = regularise(pd.date_range("2000-01-01", periods=8, freq="YS"),
                        np.array([0.0, 3, 0, 0, 2, 0, 0, 4]))  # fmt: skip
    assert engine.fit_regular(sparse, 6).model == "ets"


def test_a_short_series_in_a_panel_follows_the_combination_the_longer_ones_chose():
    # The panel's choice comes from the long series' backtests; the short series, with
    # none of its own, takes it whenever its members can be fitted on it.
    rows = []
    for seed in range(12):
        series = _yearly(seed, 30 if seed < 11 else 8)
        rows.append(pd.DataFrame({"unique_id": f"s{seed}", "ds": series.periods.to_timestamp(),
                                  "y": series.y}))  # fmt: skip
    frame = pd.concat(rows, ignore_index=True)
    long_fits = [engine.fit_regular(_yearly(seed, 30), 6) for seed in range(11)]
    plain = engine._panel_combination(long_fits)
    results, _ = engine.forecast_panel_results(frame, 6)
    assert plain not in (None, engine.UNTESTED) and results["s11"].model == plain
    # And with a panel combination its members cannot make (ARIMA's blend is never offered
    # without a season), the plain one: from ETS, as the old code had it.
    short = replace(engine.fit_regular(_yearly(11, 8), 6), model="ets")
    assert engine._rechoose(short, 6, "ets_theta_arima").model == engine.UNTESTED
    assert engine._rechoose(short, 6, "ets+theta+drift").model == "ets+theta+drift"


def test_the_switching_check_weighs_only_switches_a_calendar_series_may_make():
    """Calendar series whose older cut-offs put the seasonal naive far ahead and whose
    newest undid it: they may not switch to the copy alone (`_choose`), so the copy's
    luck is no evidence against the switches they may make, and switching stays on. With
    regular sales and no calendar model, the same backtests turn switching off."""

    def series(newest: float, calendar: bool) -> engine.Fitted:
        fit = _backtested({"ets+theta": 1.0, "seasonal_naive": newest},
                          {"ets+theta": 2.0, "seasonal_naive": 1.0})  # fmt: skip
        fit.candidates = {"calendar": None} if calendar else {}  # type: ignore[misc]
        return fit

    newest = (1.8, 2.0, 2.2, 1.9, 2.1)
    assert engine._switching_helps([series(d, True) for d in newest], "ets+theta")
    assert not engine._switching_helps([series(d, False) for d in newest], "ets+theta")
