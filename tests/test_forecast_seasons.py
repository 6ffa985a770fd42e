"""Forecasts that need more than one season, drift on short trending series, and the
choices the benchmarks on M3, tourism and Chicago ridership led to (issue 26)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from smbml_connect.analytics.forecast import engine
from smbml_connect.analytics.forecast.calendar import _day_keys, holiday_keys
from smbml_connect.analytics.forecast.engine import _choose, forecast_panel, forecast_series
from smbml_connect.analytics.forecast.ets import fit_ets
from smbml_connect.analytics.forecast.timeseries import regularise


def _thanksgiving(days: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray((days.month == 11) & (days.day_of_week == 3) & ((days.day - 1) // 7 == 3))


def _daily_truth(days: pd.DatetimeIndex, start: pd.Timestamp) -> np.ndarray:
    t = np.asarray((days - start).days, dtype=float)
    yearly = 200 * np.sin(2 * np.pi * np.asarray(days.day_of_year) / 365.25)
    weekend = np.where(np.asarray(days.day_of_week) >= 5, -300.0, 0.0)
    return 1000 + 0.1 * t + yearly + weekend - 500 * _thanksgiving(days)


def test_daily_sales_get_the_week_the_year_and_a_moving_holiday():
    """A day-of-week pattern, a yearly one and the fourth Thursday of November: the old
    engine knew only the 7-day season and forecast an ordinary Thursday (MAE 59)."""
    days = pd.date_range("2020-01-01", "2023-11-10", freq="D")
    y = _daily_truth(days, days[0]) + np.random.default_rng(7).normal(0, 30, len(days))
    out = forecast_series(days, y, 28)
    future = pd.DatetimeIndex(out["ds"])
    truth = _daily_truth(future, days[0])
    assert out["model"].iloc[0] == "calendar"
    assert np.mean(np.abs(out["yhat"].to_numpy() - truth)) < 15
    thanksgiving = _thanksgiving(future)
    assert abs(out["yhat"].to_numpy()[thanksgiving][0] - truth[thanksgiving][0]) < 60


def test_weekly_sales_follow_a_yearly_season_of_52_point_18_weeks():
    """Weekly data whose year is 52.18 weeks long, with a dip in the week of the fourth
    Thursday of November: a 52-week season drifts a day a year and misplaces it."""
    weeks = pd.date_range("2018-01-01", periods=5 * 52 + 40, freq="W-MON")

    def truth(w: pd.DatetimeIndex) -> np.ndarray:
        yearly = 80 * np.cos(2 * np.pi * np.asarray(w.day_of_year) / 365.25)
        thursday = w + pd.Timedelta(days=3)
        return 500 + yearly - 150 * _thanksgiving(pd.DatetimeIndex(thursday))

    y = truth(weeks) + np.random.default_rng(8).normal(0, 10, len(weeks))
    out = forecast_series(weeks, y, 13)
    error = np.mean(np.abs(out["yhat"].to_numpy() - truth(pd.DatetimeIndex(out["ds"]))))
    assert error < 5  # the old 52-week ETS and Theta: 7.3


def _easter_closures(days: pd.DatetimeIndex) -> np.ndarray:
    """Good Friday and Easter Monday (2021-2024), which no date or n-th weekday names."""
    closed = {"2021-04-02", "2021-04-05", "2022-04-15", "2022-04-18", "2023-04-07",
              "2023-04-10", "2024-03-29", "2024-04-01"}  # fmt: skip
    return np.asarray(days.strftime("%Y-%m-%d").isin(list(closed)))


def test_daily_sales_learn_easter_from_past_years():
    """A shop shut on Good Friday and Easter Monday three years running (a fifth of a
    normal day's sales): the forecast over the next Easter sells little on both days.
    Without Easter among the calendar's names the old engine forecast an ordinary Friday
    and Monday there (1,193 and 1,163 against 252)."""
    days = pd.date_range("2021-01-01", "2024-03-14", freq="D")

    def truth(d: pd.DatetimeIndex) -> np.ndarray:
        yearly = 200 * np.sin(2 * np.pi * np.asarray(d.day_of_year) / 365.25)
        weekend = np.where(np.asarray(d.day_of_week) >= 5, -300.0, 0.0)
        usual = 1000 + 0.05 * np.asarray((d - days[0]).days) + yearly + weekend
        return usual * np.where(_easter_closures(d), 0.2, 1.0)

    y = truth(days) + np.random.default_rng(5).normal(0, 30, len(days))
    out = forecast_series(days, y, 28)
    future = pd.DatetimeIndex(out["ds"])
    closed = _easter_closures(future)
    assert closed.sum() == 2
    assert out["model"].iloc[0].startswith("calendar")
    yhat = out.set_index("ds")["yhat"]
    for day in future[closed]:
        usual = (yhat[day - pd.Timedelta(days=7)] + yhat[day + pd.Timedelta(days=7)]) / 2
        # about -950, or half that where ETS (blind to Easter) is averaged in; old: -3, -6
        assert yhat[day] - usual < -350


def test_daily_sales_learn_orthodox_easter_too():
    """The same closures on Orthodox Good Friday and Easter Monday (a Greek shop; 2021-2023
    they fell one to five weeks after the western ones): next year's are forecast, on
    3 and 6 May 2024. Knowing western Easter only, the engine forecast ordinary days."""
    days = pd.date_range("2021-01-01", "2024-04-19", freq="D")
    closed = {"2021-04-30", "2021-05-03", "2022-04-22", "2022-04-25", "2023-04-14",
              "2023-04-17", "2024-05-03", "2024-05-06"}  # fmt: skip

    def truth(d: pd.DatetimeIndex) -> np.ndarray:
        yearly = 200 * np.sin(2 * np.pi * np.asarray(d.day_of_year) / 365.25)
        weekend = np.where(np.asarray(d.day_of_week) >= 5, -300.0, 0.0)
        usual = 1000 + 0.05 * np.asarray((d - days[0]).days) + yearly + weekend
        return usual * np.where(d.strftime("%Y-%m-%d").isin(list(closed)), 0.2, 1.0)

    y = truth(days) + np.random.default_rng(5).normal(0, 30, len(days))
    out = forecast_series(days, y, 28)
    yhat = out.set_index("ds")["yhat"]
    assert out["model"].iloc[0].startswith("calendar")
    for day in pd.to_datetime(["2024-05-03", "2024-05-06"]):
        usual = (yhat[day - pd.Timedelta(days=7)] + yhat[day + pd.Timedelta(days=7)]) / 2
        assert yhat[day] - usual < -350


def test_holidays_are_found_once_under_their_plainest_name():
    days = pd.date_range("2019-01-01", "2022-12-31", freq="D")
    residual = np.random.default_rng(1).normal(0, 1, len(days))
    residual[_thanksgiving(days)] -= 20  # also the last Thursday of November each of these years
    residual[np.asarray((days.month == 7) & (days.day == 4))] += 20
    keys = [[("date", d.month, d.day), ("weekday", d.month, d.day_of_week, (d.day - 1) // 7)]
            + ([("last", d.month, d.day_of_week)] if d.day + 7 > d.days_in_month else [])
            for d in days]  # fmt: skip
    found = holiday_keys(residual, keys, np.asarray(days.year))
    assert set(found) == {("weekday", 11, 3, 3), ("date", 7, 4)}


def test_a_holiday_stands_out_from_its_month_when_the_level_wanders():
    """Sales whose level wanders by hundreds over three years, 250 lower (about a fifth)
    on the second Tuesday of March: against a straight trend the wander hides the closure,
    against the month around it the closure is plain, so next year's is forecast."""
    days = pd.date_range("2021-01-01", "2024-02-29", freq="D")
    rng = np.random.default_rng(11)
    level = 1000 + np.cumsum(rng.normal(0, 8, len(days)))
    closed = np.asarray((days.month == 3) & (days.day_of_week == 1) & ((days.day - 1) // 7 == 1))
    yearly = 200 * np.sin(2 * np.pi * np.asarray(days.day_of_year) / 365.25)
    weekend = np.where(np.asarray(days.day_of_week) >= 5, -300.0, 0.0)
    y = level + yearly + weekend - 250 * closed + rng.normal(0, 30, len(days))
    out = forecast_series(days, y, 28)
    yhat = out.set_index("ds")["yhat"]
    assert out["model"].iloc[0].startswith("calendar")
    # the closure against the same weekday a week before and a week after
    drop = (
        yhat[pd.Timestamp("2024-03-12")]
        - (yhat[pd.Timestamp("2024-03-05")] + yhat[pd.Timestamp("2024-03-19")]) / 2
    )
    assert -350 < drop < -100  # -250, or half that where ETS (blind to it) is averaged in


def test_easter_needs_less_evidence_than_any_other_day():
    """Two and a half robust standard deviations below normal two years running: enough
    for Easter Monday, one of a few days known to be holidays, not for an ordinary date
    among hundreds that could do so by chance."""
    days = pd.date_range("2022-01-01", "2023-12-31", freq="D")
    residual = np.random.default_rng(2).normal(0, 0.3, len(days))
    spread = 1.4826 * np.median(np.abs(residual - np.median(residual)))
    strings = days.strftime("%Y-%m-%d")
    residual[np.asarray(strings.isin(["2022-04-18", "2023-04-10"]))] = -2.5 * spread
    residual[np.asarray(strings.isin(["2022-06-14", "2023-06-14"]))] = -2.5 * spread
    found = holiday_keys(residual, _day_keys(days), np.asarray(days.year))
    assert ("easter", 1) in found
    assert ("date", 6, 14) not in found


def test_short_trending_yearly_series_keep_their_drift():
    """Random walks with drift, 20 years each: the old default (ETS and Theta averaged,
    both damping or halving the trend) missed by 10.2 on average over six years."""
    rng = np.random.default_rng(7)
    rows, future = [], {}
    for i in range(30):
        y = 100 + np.cumsum(rng.normal(5, 4, 26))
        future[f"s{i}"] = y[20:]
        rows.append(pd.DataFrame({"unique_id": f"s{i}", "y": y[:20],
                                  "ds": pd.date_range("2000-01-01", periods=20, freq="YS")}))  # fmt: skip
    out = forecast_panel(pd.concat(rows, ignore_index=True), 6)
    error = np.mean([np.mean(np.abs(g["yhat"].to_numpy() - future[str(uid)]))
                     for uid, g in out.groupby("unique_id")])  # fmt: skip
    assert error < 9.0  # the old engine: 10.2
    assert out["model"].str.contains("drift").mean() > 0.5


def test_a_straight_line_without_season_keeps_its_full_trend():
    y = 50 + 3 * np.arange(40.0) + np.random.default_rng(7).normal(0, 2, 40)
    assert fit_ets(y, 1).form == "A,A,N"  # the old grid had only a damped trend


def test_panels_train_no_boosted_trees_unless_asked():
    rng = np.random.default_rng(3)
    rows = [
        pd.DataFrame({"unique_id": f"P{i}", "ds": pd.date_range("2021-01-01", periods=36, freq="MS"),
                      "y": 100 + rng.normal(0, 5, 36)})
        for i in range(12)
    ]  # fmt: skip
    out = forecast_panel(pd.concat(rows, ignore_index=True), 6)
    assert not out["model"].str.contains("lightgbm").any()


def test_a_calendar_series_never_switches_to_last_seasons_copy_alone():
    """The backtests of weekly footfall (210 Queen Street, Auckland) put the seasonal naive
    clearly ahead, 0.292 against the calendar blend's 0.526; held out, it scored 0.624
    and a flat level 0.294 (benchmarks/forecast.py). A calendar series keeps its blend,
    which may hold the copy; occasional sales and series without a season may still
    switch to it (their zeros, and the naive forecast of a random walk, are right)."""
    scores = {"seasonal_naive": 0.292, "ets": 0.543, "theta": 0.540, "calendar": 0.531,
              "ets+theta": 0.541, "calendar+ets": 0.526, "calendar+seasonal_naive": 0.363}  # fmt: skip
    assert _choose(scores, "calendar+ets", True, calendar=True) == "calendar+seasonal_naive"
    assert _choose(scores, "calendar+ets", True, calendar=False) == "seasonal_naive"
    assert _choose({"seasonal_naive": 0.2, "ets": 0.5}, None, True, calendar=True) == "ets"


def test_a_strike_in_one_year_does_not_bend_the_yearly_pattern():
    """Ten weeks of zeros in one autumn (Ansett's 1989 pilots' dispute, a lockdown): the
    yearly curve was fitted through them, and every later autumn was forecast that much
    lower (the old engine missed by 110, 212 and 64 a week on seeds 1 to 3, the true
    level about 800). Weighted as STL's robust loop weights them, they shape nothing."""
    weeks = pd.date_range("2019-01-06", "2022-08-28", freq="W-SUN")
    future = pd.date_range("2022-09-04", periods=13, freq="W-SUN")

    def truth(w: pd.DatetimeIndex) -> np.ndarray:
        return 1000 + 200 * np.sin(2 * np.pi * np.asarray(w.day_of_year) / 365.25)

    strike = np.asarray((weeks >= "2020-08-30") & (weeks <= "2020-11-08"))
    for seed in range(4):
        y = truth(weeks) + np.random.default_rng(seed).normal(0, 25, len(weeks))
        y[strike] = 0.0
        out = forecast_series(weeks, y, 13)
        assert np.mean(np.abs(out["yhat"].to_numpy() - truth(future))) < 30, seed


def test_a_calendar_series_is_not_forecast_by_last_years_copy_alone_series_or_panel():
    """Weekly series whose year repeats with small changes (each week last year's plus a
    little noise): the seasonal naive forecast wins their backtests clearly, and the old
    engine took it alone for these four, one by one and as a panel. A calendar series
    keeps a blend (`_choose`), through `fit_regular` and a panel's `_rechoose` alike."""
    weeks = pd.date_range("2018-01-07", periods=4 * 52 + 6, freq="W-SUN")
    rows = []
    for seed in (1, 3, 5, 6):
        rng = np.random.default_rng(seed)
        y = np.empty(len(weeks))
        y[:52] = 500 + rng.normal(0, 80, 52)
        for t in range(52, len(weeks)):
            y[t] = y[t - 52] + rng.normal(0, 4)
        assert forecast_series(weeks, y, 8)["model"].iloc[0] != "seasonal_naive", seed
        rows.append(pd.DataFrame({"unique_id": str(seed), "ds": weeks, "y": y}))
    panel = forecast_panel(pd.concat(rows, ignore_index=True), 8)
    assert not (panel["model"] == "seasonal_naive").any()


def test_a_calendar_series_dropping_boosted_trees_is_not_given_last_years_copy_alone():
    """When a panel trains boosted trees and then drops them (`_boosting_helps`), each
    series is chosen again without them (`_without_boosting`): the copy rule holds there
    too, so a calendar series whose backtests favour last year's copy keeps a blend."""
    weeks = pd.date_range("2018-01-07", periods=4 * 52 + 6, freq="W-SUN")
    rng = np.random.default_rng(1)
    y = np.empty(len(weeks))
    y[:52] = 500 + rng.normal(0, 80, 52)
    for t in range(52, len(weeks)):
        y[t] = y[t - 52] + rng.normal(0, 4)
    fit = engine.fit_regular(regularise(weeks, y), 8)
    assert "calendar" in fit.candidates and fit.switchable
    # The copy's lead set by hand (half the best blend's error), so the test does not rest
    # on how far this seed's copy happens to lead: without the rule it would be taken.
    blends = [fit.scores[name] for name in engine.PLAIN if name in fit.scores]
    scores = {**fit.scores, "seasonal_naive": 0.5 * min(blends)}
    assert engine._choose(dict(scores), None, True, False) == "seasonal_naive"
    boosted = replace(fit, model=engine.BOOSTED, scores={**scores, engine.BOOSTED: 0.0})
    again = engine._without_boosting(boosted, 8)
    assert again.model not in (engine.BOOSTED, "seasonal_naive")
    assert again.model in fit.scores


def test_occasional_daily_sales_may_still_take_last_weeks_copy():
    """A market stall open on Saturdays and most Sundays (three days in four sell nothing):
    its zeros are what last week's copy gets right, as on the occasional monthly sales of
    PBS (sMAPE 32.45 without it, 42.97), so the rule that bars the copy for calendar
    series leaves such series be."""
    models = []
    for seed in (5, 6, 11):
        rng = np.random.default_rng(seed)
        days = pd.date_range("2023-01-02", periods=int(rng.integers(60, 300)), freq="D")
        level = np.linspace(1, rng.uniform(0.5, 2.0), len(days))
        y = np.where(days.dayofweek == 5, np.round(40 * level + rng.normal(0, 2, len(days))), 0.0)
        y = np.where((days.dayofweek == 6) & (rng.random(len(days)) < 0.8), np.round(20 * level), y)
        models.append(forecast_series(days, y, 14)["model"].iloc[0])
    assert "seasonal_naive" in models


def test_theta_keeps_a_december_peak_that_the_seasonality_check_reports():
    """Three years of a shop's product with December at 2.4 times the other months: the
    words say "highest in December", so Theta, a member of the default combination,
    must forecast the peak too. thetaf's autocorrelation test misses it on this draw
    (one outlying month barely moves a lag-12 autocorrelation), which left the demo's
    gift sets with flat forecasts beside that sentence."""
    from smbml_connect.analytics.forecast import models
    from smbml_connect.analytics.forecast.seasonality import check_seasonality

    rng = np.random.default_rng(0)
    months = np.arange(35)  # November 2023 to September 2026, as the demo's history
    december = (10 + months) % 12 == 11
    y = (40 + 0.8 * months) * np.where(december, 2.4, 1.0) * rng.gamma(12, 1 / 12, 35)
    check = check_seasonality(y, 12)
    assert check is not None and check.seasonal and check.peak == 1  # place 1: December
    assert not models.has_seasonality(y, 12)  # the test Theta used before
    forecast = models.theta(y, 12, 12).mean  # October 2026 to September 2027
    others = np.delete(forecast, 2)
    assert forecast[2] > 1.8 * others.mean()
    assert forecast[2] > others.max()
