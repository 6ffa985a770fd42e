"""Sales forecasts: data as users have it, honest intervals, panels, the pipeline step."""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from smbml_connect.analytics.forecast import timeseries
from smbml_connect.analytics.forecast.engine import (
    BOOSTED,
    PLAIN,
    SWITCH_MARGIN,
    Fitted,
    _boosting_helps,
    _calibrated,
    _panel_combination,
    _rechoose,
    _without_boosting,
    fit_regular,
    forecast_panel,
    forecast_panel_results,
    forecast_series,
    pooled_widths,
)
from smbml_connect.analytics.forecast.ets import fit_ets
from smbml_connect.analytics.forecast.intervals import recency, width
from smbml_connect.analytics.forecast.models import seasonal_naive, theta
from smbml_connect.analytics.forecast.sales_series import sales_series, with_sales_so_far
from smbml_connect.analytics.forecast.seasonality import check_seasonality, describe_season
from smbml_connect.analytics.forecast.timeseries import regularise
from smbml_connect.errors import NotEnoughDataError
from smbml_connect.period_names import period_words, periods_words
from smbml_connect.steps import StepContext
from smbml_connect.steps.forecasts import FORECAST_TAB, forecast_step

COLUMNS = ["ds", "yhat", "lo80", "hi80", "lo95", "hi95", "model"]


def seasonal_sales(n: int, seed: int, noise: float = 6.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 200 + 1.5 * t + 40 * np.sin(2 * np.pi * t / 12) + rng.normal(0, noise, n)


def test_monthly_forecast_has_the_promised_shape_and_says_what_it_found():
    dates = pd.date_range("2021-01-01", periods=60, freq="MS")
    out = forecast_series(dates, seasonal_sales(60, 0), 12)
    assert list(out.columns) == COLUMNS
    assert len(out) == 12
    assert out["ds"].iloc[0] == pd.Timestamp("2026-01-01")
    assert (out["ds"].dt.day == 1).all()
    assert out.attrs["frequency"] == "month"
    assert out.attrs["season_length"] == 12
    assert out.attrs["seasonality"].startswith("detected")
    assert (out["lo95"] <= out["lo80"]).all() and (out["lo80"] <= out["yhat"]).all()
    assert (out["yhat"] <= out["hi80"]).all() and (out["hi80"] <= out["hi95"]).all()
    assert set(out.attrs["backtest"]) >= {"seasonal_naive", "ets", "theta", "ets+theta"}


def test_forecast_beats_repeating_last_season_on_trend_and_season():
    y = seasonal_sales(84, 1)
    dates = pd.date_range("2018-01-31", periods=72, freq="ME")
    out = forecast_series(dates, y[:72], 12)
    ours = np.mean(np.abs(out["yhat"].to_numpy() - y[72:]))
    naive = np.mean(np.abs(seasonal_naive(y[:72], 12, 12).mean - y[72:]))
    assert ours < 0.7 * naive
    assert (out["ds"] == pd.date_range("2024-01-31", periods=12, freq="ME")).all()  # month ends in


def test_intervals_cover_about_what_they_promise():
    hits80, hits95 = [], []
    for seed in range(40):
        y = seasonal_sales(60, 100 + seed, noise=12.0)
        out = forecast_series(pd.date_range("2020-01-01", periods=48, freq="MS"), y[:48], 12)
        actual = y[48:]
        hits80.append(np.mean((actual >= out["lo80"]) & (actual <= out["hi80"])))
        hits95.append(np.mean((actual >= out["lo95"]) & (actual <= out["hi95"])))
    assert 0.68 <= np.mean(hits80) <= 0.92
    assert 0.86 <= np.mean(hits95) <= 0.995


def test_frequency_is_inferred_for_daily_weekly_and_quarterly_dates():
    rng = np.random.default_rng(2)
    daily = forecast_series(
        pd.date_range("2024-01-01", periods=120, freq="D"), rng.poisson(20, 120), 7
    )
    assert daily.attrs["frequency"] == "day"
    assert daily["ds"].iloc[0] == pd.Timestamp("2024-04-30")
    mondays = pd.date_range("2023-01-02", periods=80, freq="W-MON")
    weekly = forecast_series(mondays, rng.poisson(50, 80), 4)
    assert weekly.attrs["frequency"] == "week"
    assert (weekly["ds"].dt.day_of_week == 0).all()
    assert weekly["ds"].iloc[0] == mondays[-1] + pd.Timedelta(days=7)
    quarters = forecast_series(pd.period_range("2015Q1", periods=32, freq="Q").start_time,
                               seasonal_sales(32, 3), 4)  # fmt: skip
    assert quarters.attrs["frequency"] == "quarter"
    assert quarters["ds"].iloc[0] == pd.Timestamp("2023-01-01")


def test_excel_serial_dates_duplicates_gaps_and_bad_rows():
    # 45292 is 2024-01-01 in Excel's serial numbering.
    serials = [45292 + 31 * i for i in range(14)]
    dates = serials[:5] + serials[6:] + [serials[2], "not a date"]
    values = [100.0 + i for i in range(14) if i != 5] + [5.0, 7.0]
    values[3] = "n/a"
    out = forecast_series(dates, values, 3)
    assert out.attrs["frequency"] == "month"
    notes = " ".join(out.attrs["notes"])
    assert "1 value fell in a month that already had one" in notes  # March 2024
    # June has no row, April's value is unreadable: both are filled in.
    assert "2 missing months (2024-04, 2024-06) filled in" in notes
    assert "unusual" not in notes
    assert out.attrs["rows_left_out"] == [
        "row 4, value: 'n/a' is not a number",
        "row 15, date: 'not a date' is not a date",
    ]


def test_infinity_is_a_value_left_out_with_its_row_on_every_way_in():
    """'inf' in a CSV, or a division by zero upstream, read as a number: it went into the
    models (numpy warned, the calendar regression took it) and no row was named. Now it
    is left out with its line, as text, as a float cell and in a typed panel column."""
    days = pd.date_range("2023-01-01", periods=120, freq="D")
    y = 100 + np.random.default_rng(0).normal(0, 5, 120)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for value, shown in ((np.inf, "inf"), ("inf", "'inf'"), (-np.inf, "-inf")):
            cells = list(y)
            cells[50] = value
            out = forecast_series(list(days), cells, 7)
            assert out.attrs["rows_left_out"] == [f"row 51, value: {shown} is not a number"]
            assert np.isfinite(out[["yhat", "lo95", "hi95"]].to_numpy()).all()
        typed = y.copy()
        typed[50] = np.inf
        out = forecast_series(pd.Series(days), typed, 7)  # the quick typed path
        assert out.attrs["rows_left_out"] == ["row 51, value: inf is not a number"]
        panel = forecast_panel(pd.DataFrame({"unique_id": "a", "ds": days, "y": typed}), 7)
        assert "row 51, value: inf is not a number" in panel["note"].iloc[0]
        assert np.isfinite(panel[["yhat", "lo95", "hi95"]].to_numpy()).all()


def test_dates_with_a_time_zone_are_the_days_they_show_where_they_were_written():
    """Daily sales dated at Auckland midnight, busy at the weekend: taken as UTC they were
    the previous days, the forecast began on the last day given (29 April) and put the
    busy days on Friday and Saturday. As zoned dates, as text with offsets or as the
    same days without a zone, the forecast is the same."""
    days = pd.date_range("2024-01-01", periods=120, freq="D", tz="Pacific/Auckland")
    y = 100 + 50 * (days.day_of_week >= 5) + np.random.default_rng(0).normal(0, 5, 120)
    zoned = forecast_series(days, y, 7)
    written = forecast_series([d.isoformat() for d in days], y, 7)  # "2024-04-29T00:00:00+12:00"
    plain = forecast_series(days.tz_localize(None), y, 7)
    assert zoned["ds"].iloc[0] == pd.Timestamp("2024-04-30")
    busy = zoned.loc[zoned["yhat"] > 125, "ds"].dt.day_name().tolist()
    assert busy == ["Saturday", "Sunday"]
    for other in (written, plain):
        pd.testing.assert_frame_equal(other, zoned, check_like=True)


def test_text_dates_keep_their_own_offset():
    """Each date at the time it shows, the offset read as pandas reads it: "-05" straight
    after a date is five o'clock to pandas (an hourly column written 2024-04-29-00 to -23
    keeps its 24 hours), and "GMT-0500", "PM +1200" and "+5:30" come back as written."""
    cells = ["2024-04-29T00:00:00+12:00", "2024-04-29T10:00:00Z", "2024-04-29 09:15 -0500",
             "2024-04-29T23:30:00.5+05:30", "2024-04-29", "29 April 2024 08:00 +0100",
             pd.Timestamp("2024-04-29 07:00", tz="America/Denver"), "2024-04-29-05", 45411,
             "4/29/2024 10:00 PM +1200", "Mon Apr 29 2024 00:00:00 GMT-0500",
             "2024-04-29T00:00+5:30", "Mon, 29 Apr 2024 10:00:00 +1200"]  # fmt: skip
    parsed = timeseries._parse_dates(cells)
    assert parsed.dt.strftime("%Y-%m-%d %H:%M").tolist() == [
        "2024-04-29 00:00", "2024-04-29 10:00", "2024-04-29 09:15", "2024-04-29 23:30",
        "2024-04-29 00:00", "2024-04-29 08:00", "2024-04-29 07:00", "2024-04-29 05:00",
        "2024-04-29 00:00", "2024-04-29 22:00", "2024-04-29 00:00", "2024-04-29 00:00",
        "2024-04-29 10:00",
    ]  # fmt: skip
    assert timeseries._parse_dates([pd.NaT, None, "late 10:00 +0200"]).isna().all()
    hours = timeseries._parse_dates([f"2024-04-29-{h:02d}" for h in range(24)])
    assert hours.nunique() == 24


def test_short_history_falls_back_and_too_short_is_a_clear_error():
    out = forecast_series(
        pd.date_range("2025-01-01", periods=5, freq="MS"), [10, 12, 11, 13, 12], 3
    )
    assert len(out) == 3
    assert any("only 5 months" in n for n in out.attrs["notes"])
    assert out.attrs["seasonality"].startswith("not checked")
    with pytest.raises(NotEnoughDataError, match="need at least 4"):
        forecast_series(["2025-01-01", "2025-02-01", "2025-03-01"], [1, 2, 3], 3)


def test_intermittent_sales_never_go_negative():
    rng = np.random.default_rng(4)
    y = np.where(rng.random(80) < 0.6, 0, rng.integers(1, 6, 80))
    out = forecast_series(pd.date_range("2024-01-01", periods=80, freq="W-MON"), y, 8)
    assert "croston" in out.attrs["backtest"]
    assert (out[["yhat", "lo80", "lo95"]] >= 0).all().all()
    assert any("have no sales" in n for n in out.attrs["notes"])


def test_a_trend_falling_through_zero_keeps_its_ranges_around_the_forecast():
    """Sales falling towards zero: the forecast shown is zero, and each range still
    contains it (the high ends were the negative mean plus the width, below zero)."""
    dates = pd.date_range("2023-01-01", periods=24, freq="MS")
    values = np.linspace(240, 10, 24) + np.random.default_rng(0).normal(0, 0.5, 24)
    out = forecast_series(dates, values, 12)
    assert (out["yhat"] >= 0).all() and (out["yhat"].iloc[-1] == 0)
    for level in (80, 95):
        assert (out[f"lo{level}"] <= out["yhat"]).all() and (out["yhat"] <= out[f"hi{level}"]).all()
        assert (out[f"hi{level}"] > 0).all()
    assert (out["hi95"] >= out["hi80"]).all() and (out["lo95"] <= out["lo80"]).all()


def test_one_freak_value_is_damped_and_reported():
    y = seasonal_sales(60, 5)
    spiked = y.copy()
    spiked[30] *= 6
    dates = pd.date_range("2020-01-01", periods=60, freq="MS")
    clean, dirty = forecast_series(dates, y, 12), forecast_series(dates, spiked, 12)
    assert any("2022-07" in n and "unusual" in n for n in dirty.attrs["notes"])
    assert np.allclose(clean["yhat"], dirty["yhat"], rtol=0.02)


def test_a_repeating_peak_is_a_season_not_an_outlier():
    y = np.full(36, 100.0) + np.random.default_rng(6).normal(0, 3, 36)
    y[11::12] = 400.0  # every December
    out = forecast_series(pd.date_range("2023-01-01", periods=36, freq="MS"), y, 12)
    assert not any("unusual" in n for n in out.attrs["notes"])
    assert out["yhat"].iloc[11] > 250  # next December


def test_models_on_exact_patterns():
    line = 10.0 + 2.0 * np.arange(40)
    assert np.allclose(fit_ets(line).forecast(3), [90, 92, 94], rtol=0.01)
    season = np.tile([5.0, 9.0, 7.0, 20.0], 6)
    assert np.array_equal(seasonal_naive(season, 4, 6).mean, [5, 9, 7, 20, 5, 9])
    assert np.allclose(theta(season, 4, 4).mean, [5, 9, 7, 20], rtol=0.02)


def test_panel_forecasts_every_series_and_reports_the_ones_it_cannot():
    rows = []
    for i in range(12):
        y = seasonal_sales(48, 20 + i) * (1 + i / 4)
        rows.append(
            pd.DataFrame(
                {
                    "unique_id": f"P{i:02d}",
                    "ds": pd.date_range("2021-01-01", periods=48, freq="MS"),
                    "y": y,
                }
            )
        )
    rows.append(
        pd.DataFrame({"unique_id": "new", "ds": ["2024-11-01", "2024-12-01"], "y": [3.0, 4.0]})
    )
    panel = pd.concat(rows, ignore_index=True)
    panel["y"] = panel["y"].astype(object)
    panel.loc[50, "y"] = "twelve"  # P01's third month: left out, named by its row in the panel
    out = forecast_panel(panel, 6)
    p01 = out.loc[out["unique_id"] == "P01", "note"].iloc[0]
    assert "1 row could not be read and was left out (row 51, value: 'twelve'" in p01
    assert out["unique_id"].nunique() == 12 and len(out) == 72
    assert "new" in out.attrs["skipped"] and "need at least 4" in out.attrs["skipped"]["new"]
    assert out["model"].str.contains("lightgbm").any() or out.attrs["skipped"]
    assert (out["ds"].iloc[:6] == pd.date_range("2025-01-01", periods=6, freq="MS")).all()


def _fitted(standard: list[float]) -> Fitted:
    series = regularise(pd.date_range("2020-01-01", periods=30, freq="MS"), np.arange(30.0))
    fit = fit_regular(series, 3)
    fit.standard = np.array(standard)
    fit.steps = np.zeros(len(standard), dtype=int)  # all one step ahead
    return fit


def test_pooled_widths_count_each_series_once_and_need_five_series():
    long = _fitted([1.0] * 100 + [np.nan])  # one long history must not outvote the rest
    short = [_fitted([3.0] * 10) for _ in range(4)]
    pooled = pooled_widths([long, *short], (50, 80), 1)
    assert pooled is not None and pooled[50].center == 3.0  # the median series' error size
    assert np.allclose(pooled[50].by_step, 1.0)  # the four short series' errors, at their size
    assert pooled_widths([long, *short[:3]], (80,), 1) is None  # too few series to pool
    no_errors = _fitted([])  # not counted
    assert pooled_widths([long, *short[:3], no_errors], (80,), 1) is None
    mixed = [_fitted([float(k)] * 5) for k in range(1, 11)]
    pooled = pooled_widths(mixed, (80,), 1)
    assert pooled is not None
    sizes = [float(width(f.standard, 80, 1, pooled[80])[0]) for f in mixed]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]  # calm series get narrower intervals


def test_boosted_trees_stay_in_a_panel_only_when_its_backtests_improve():
    rows = []
    for i in range(12):
        y = seasonal_sales(48, 40 + i) * (1 + i / 5)
        rows.append(pd.DataFrame({"unique_id": f"P{i:02d}", "y": y,
                                  "ds": pd.date_range("2021-01-01", periods=48, freq="MS")}))  # fmt: skip
    panel = pd.concat(rows, ignore_index=True)
    results, _ = forecast_panel_results(panel, 6, boosted=None)  # 12 series: boosting is tried
    boosted = [r for r in results.values() if "lightgbm" in r.model]
    helped = float(np.mean([r.backtest[BOOSTED] - r.backtest["ets+theta"]
                            for r in results.values()])) < 0  # fmt: skip
    plain, _ = forecast_panel_results(panel, 6, boosted=False)
    if helped:  # the boosted combination is every series' default: a series leaves it
        # only for a candidate its own backtests put clearly ahead (`_choose`), which may
        # be a plain one offered as a model of its own (the medians, the ARIMA blend)
        for r in results.values():
            assert r.model == BOOSTED or (
                r.backtest[r.model] < SWITCH_MARGIN * r.backtest[BOOSTED] and "+" not in r.model
            ), (r.model, r.backtest)
        assert not any(r.model in PLAIN and "+" in r.model for r in results.values())
    else:  # as if the panel had no boosted model; what was tried is still reported
        assert not boosted
        assert [r.model for r in results.values()] == [r.model for r in plain.values()]
        assert all(BOOSTED in r.backtest for r in results.values())
    fits = [_fitted([1.0] * 5) for _ in range(3)]
    for fit, (with_trees, without) in zip(fits, [(0.5, 0.7), (0.9, 0.8), (0.6, 0.6)], strict=True):
        fit.scores = {BOOSTED: with_trees, "ets+theta": without, "ets": 2.0, "theta": 2.0}
    assert _boosting_helps(fits)  # -0.2 + 0.1 + 0 on average below zero
    fits[1].scores[BOOSTED] = 1.1
    assert not _boosting_helps(fits)
    fits[0].model = BOOSTED
    fits[0].backtests = {"ets+theta": (np.zeros(5), np.full(5, 0.5))}
    again = _without_boosting(fits[0], 3)
    assert again.model == "ets+theta" and np.allclose(again.standard, 0.5)
    assert len(again.prediction.mean) == 3


def test_panel_intervals_blend_each_series_with_the_pooled_errors():
    rng = np.random.default_rng(3)
    rows, futures = [], {}
    for i in range(30):
        t = np.arange(60)
        y = 500 + 3 * t + 60 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 25, 60)
        futures[f"S{i}"] = y[48:]
        rows.append(pd.DataFrame({"unique_id": f"S{i}", "y": y[:48],
                                  "ds": pd.date_range("2021-01-01", periods=48, freq="MS")}))  # fmt: skip
    panel = pd.concat(rows, ignore_index=True)
    out = forecast_panel(panel, 12, boosted=False)
    fits = {
        uid: fit_regular(regularise(g["ds"], g["y"], gaps="zero"), 12)
        for uid, g in panel.groupby("unique_id")
    }
    plain = _panel_combination(list(fits.values()))  # the panel's default combination
    if plain is not None:
        fits = {uid: _rechoose(fit, 12, plain) for uid, fit in fits.items()}
    fits = {uid: _calibrated(fit, 12) for uid, fit in fits.items()}
    prior = pooled_widths(list(fits.values()), (80, 95), 12)
    assert prior is not None and (prior[80].by_step < prior[95].by_step).all()
    s3 = out[out["unique_id"] == "S3"]
    fit = fits["S3"]
    assert np.allclose(s3["yhat"], fit.prediction.mean)
    weight = recency(fit.ages, 12, fit.season_length)  # recent cut-offs count more
    expected = width(fit.standard, 95, 12, prior[95], weight) * fit.prediction.sd
    assert np.allclose(s3["hi95"] - s3["yhat"], expected)

    def coverage(level: int) -> float:
        hits = [
            np.mean((futures[uid] >= g[f"lo{level}"]) & (futures[uid] <= g[f"hi{level}"]))
            for uid, g in out.groupby("unique_id")
        ]
        return float(np.mean(hits))

    assert 0.68 <= coverage(80) <= 0.92
    assert 0.86 <= coverage(95) <= 1.0


def _orders() -> tuple[pd.DataFrame, pd.DataFrame]:
    orders = pd.DataFrame({
        "order_id": ["o1", "o2", "o3", "o4", "o5"],
        "contact_id": ["c1", "c2", "c1", "c3", "c2"],
        "ordered_at": pd.to_datetime(["2025-01-05", "2025-01-20", "2025-03-02", "2025-03-09",
                                      "2025-04-02"], utc=True),
        "total": [10.0, 20.0, 30.0, 99.0, 40.0],
        "status": ["paid", "paid", "paid", "refunded", "paid"],
    })  # fmt: skip
    lines = pd.DataFrame({
        "order_id": ["o1", "o2", "o3", "o4", "o5"], "line_no": 1,
        "product_id": ["A", "B", "A", "A", "A"], "quantity": [1.0, 2.0, 3.0, 9.0, 4.0],
        "unit_price": [10.0, 10.0, 10.0, 11.0, 10.0], "discount": [0, 0, 0, 0, 0],
    })  # fmt: skip
    return orders, lines


def test_sales_series_counts_what_was_sold_and_leaves_the_open_month_out():
    orders, lines = _orders()
    sales = sales_series(orders, lines, pd.Timestamp("2025-04-15", tz="UTC"), top_products=1)
    frame = sales.frame.set_index(["unique_id", "ds"])["y"]
    assert frame["revenue:total"].tolist() == [30.0, 0.0, 30.0]  # Jan, Feb (no sale), Mar
    assert frame["units:A"].tolist() == [1.0, 0.0, 3.0]  # the refunded order is not a sale
    assert frame["units:other"].tolist() == [2.0, 0.0, 0.0]
    assert "April 2025 is not over yet" in sales.notes[0]
    # April so far is kept apart, not in the history: o5 (2 April), 4 units of A
    assert sales.sold == {"revenue:total": 40.0, "units:total": 4.0, "revenue:A": 40.0,
                          "units:A": 4.0}  # fmt: skip
    assert sales.to_come == pytest.approx(16 / 30)  # 15-30 April, from the run's date on
    assert "the end of 14 April" in sales.notes[0] and "16 of its 30 days" in sales.notes[0]
    lines.loc[1, "quantity"] = np.nan
    again = sales_series(orders, lines, pd.Timestamp("2025-04-15", tz="UTC"), top_products=1)
    assert "1 order line without a quantity counted in revenue" in again.notes[-1]
    assert again.frame.set_index(["unique_id", "ds"])["y"]["revenue:total"].tolist() == [
        30.0,
        0.0,
        30.0,
    ]


def test_the_open_months_range_keeps_the_day_to_day_noise_of_the_days_to_come():
    """With one day of 31 to come, the range of the month scaled by 1/31 held a third of the
    sample's last days at 80% (stop 43): a day's sales vary more, for their size, than
    a month's. The noise part of the range shrinks with the root of the share to come."""
    frame = pd.DataFrame({"ds": [pd.Timestamp("2026-10-01")], "yhat": [3100.0],
                          "lo80": [2972.0], "hi80": [3228.0], "lo95": [2904.0],
                          "hi95": [3296.0], "model": ["ets"]})  # fmt: skip
    f = 1 / 31
    plain = with_sales_so_far(frame, 3000.0, f).iloc[0]
    assert plain["hi80"] == pytest.approx(3000 + f * 3228)  # no noise known: scaled by f
    spread80 = 128 / 1.2815515655446004
    all_noise = with_sales_so_far(frame, 3000.0, f, day_noise=spread80**2).iloc[0]
    assert all_noise["yhat"] == pytest.approx(3100)
    assert all_noise["hi80"] == pytest.approx(3100 + np.sqrt(f) * 128)
    assert all_noise["lo80"] == pytest.approx(3100 - np.sqrt(f) * 128)
    half = with_sales_so_far(frame, 3000.0, f, day_noise=spread80**2 / 2).iloc[0]
    assert half["hi80"] == pytest.approx(3100 + np.sqrt(f * f / 2 + f / 2) * 128)
    for row in (plain, all_noise, half):
        assert row["lo95"] <= row["lo80"] <= row["yhat"] <= row["hi80"] <= row["hi95"]
        assert row["lo95"] >= 3000.0  # never below what was sold


def test_day_noise_is_the_spread_of_days_around_their_months_mean():
    """Two days a week sell 10, the others nothing, in three whole months: a day's
    variance around its month's mean, pooled, is what the open month's range grows by."""
    days = pd.date_range("2026-07-01", "2026-09-30", freq="D")
    sold = days[days.dayofweek.isin([0, 3])]
    orders = pd.DataFrame({"order_id": [f"o{i}" for i in range(len(sold))], "contact_id": "c",
                           "ordered_at": (sold + pd.Timedelta(hours=10)).tz_localize("UTC"),
                           "total": 10.0, "status": "paid"})  # fmt: skip
    sales = sales_series(orders, None, pd.Timestamp("2026-10-15", tz="UTC"))
    values = pd.Series(np.where(days.dayofweek.isin([0, 3]), 10.0, 0.0), index=days)
    months = values.groupby(days.month)
    pooled = sum(((g - g.mean()) ** 2).sum() for _, g in months) / (len(days) - 3)
    assert sales.day_noise["revenue:total"] == pytest.approx(pooled * 31)
    daily = sales_series(orders, None, pd.Timestamp("2026-10-15 12:00", tz="UTC"), "D")
    assert daily.day_noise == {}  # a day has no days of its own


def _strong_open_month() -> tuple[dict[str, pd.DataFrame], pd.Timestamp]:
    """30 months of about $1,000 (50 units), then $5,000 (250 units) sold in the first 20
    days of October 2026: more than any forecast from the earlier months could say. A
    cancelled order and one placed after the run's date are not sales yet."""
    rng = np.random.default_rng(4)
    stamps, totals, units = [], [], []
    for month in pd.date_range("2024-04-01", "2026-09-01", freq="MS"):
        for day in (3, 10, 17, 24):
            stamps.append(month + pd.Timedelta(days=day, hours=11))
            units.append(int(rng.integers(10, 16)))
            totals.append(20.0 * units[-1])
    for day in range(1, 21):  # 1-20 October: 12.5 units a day, $250
        stamps.append(pd.Timestamp(f"2026-10-{day:02d} 15:00"))
        units.append(12.5)
        totals.append(250.0)
    stamps += [pd.Timestamp("2026-10-12 09:00"), pd.Timestamp("2026-10-21 10:00")]
    units += [400.0, 400.0]
    totals += [8000.0, 8000.0]
    n = len(stamps)
    orders = pd.DataFrame({
        "order_id": [f"o{i}" for i in range(n)], "contact_id": [f"c{i % 7}" for i in range(n)],
        "ordered_at": pd.to_datetime(stamps, utc=True), "total": totals,
        "status": ["paid"] * (n - 2) + ["cancelled", "paid"],
    })  # fmt: skip
    lines = pd.DataFrame({
        "order_id": orders["order_id"], "line_no": 1, "product_id": "P1",
        "quantity": units, "unit_price": 20.0, "discount": 0.0,
    })  # fmt: skip
    products = pd.DataFrame({"product_id": ["P1"], "name": ["Mug"]})
    tables = {"orders": orders, "order_lines": lines, "products": products}
    return tables, pd.Timestamp("2026-10-21", tz="UTC")


@pytest.mark.parametrize("name", [None, "", "  "])
def test_a_product_without_a_name_is_shown_by_its_id(name):
    """A products list with a blank name (a Shopify variant row read without its title)
    gave a Forecast series with no name at all; the other tabs show the product's id."""
    tables, as_of = _strong_open_month()
    tables["products"] = pd.DataFrame({"product_id": ["P1"], "name": [name]})
    result = forecast_step(tables, StepContext(as_of=as_of, settings={"forecast": {"products": 1}}))
    series = set(result.sheets["Forecast"]["series"])
    assert "P1" in series and not any(pd.isna(s) or not str(s).strip() for s in series)


def test_the_month_not_over_yet_shows_what_was_sold_plus_the_rest():
    """The demo's October: $27,207 sold in 1-30 October, forecast at $22,867 (80% up to
    $26,556), because the open month is left out of the history and forecast whole. It
    must show what was sold so far plus the forecast for the rest of the month."""
    tables, as_of = _strong_open_month()
    result = forecast_step(tables, StepContext(as_of=as_of, settings={"forecast": {"products": 1}}))
    tab = result.sheets["Forecast"]
    october = tab[tab["month"] == pd.Timestamp("2026-10-01")].set_index(["series", "measure"])
    for measure, sold in (("revenue", 5000.0), ("units", 250.0)):
        row = october.loc[("All sales", measure)]
        assert min(row["forecast"], row["low_80"], row["low_95"]) >= sold
        assert row["low_95"] <= row["low_80"] <= row["forecast"] <= row["high_80"] <= row["high_95"]
        assert row["sold_so_far"] == sold
    sales = sales_series(tables["orders"], tables["order_lines"], as_of, "M", 1)
    assert sales.sold["revenue:total"] == 5000.0 and sales.sold["units:total"] == 250.0
    whole, _ = forecast_panel_results(sales.frame, 12, levels=(80, 95), gaps="zero")
    month = whole["revenue:total"].frame.iloc[0]
    assert month["hi80"] < 5000  # the model alone: the whole month below what was sold
    shown = october.loc[("All sales", "revenue")]
    # 21-31 October are still to come: 11 of the month's 31 days
    assert shown["forecast"] == pytest.approx(5000 + month["yhat"] * 11 / 31, abs=0.01)
    # its range: the month's level part scaled by 11/31, the day-to-day part by its root
    f, noise = 11 / 31, sales.day_noise["revenue:total"]
    side = month["hi80"] - month["yhat"]
    share = min(1.0, noise / (side / 1.2815515655446004) ** 2)
    scale = np.sqrt(f**2 * (1 - share) + f * share)
    assert f < scale <= np.sqrt(f) + 1e-12
    assert shown["high_80"] == pytest.approx(5000 + f * month["yhat"] + scale * side, abs=0.01)
    rest = shown["forecast"] - 5000
    words = (f"October 2026 is not over: $5,000 sold up to the end of 20 October, plus about "
             f"${rest:,.0f} expected in the rest of the month (11 of its 31 days)")  # fmt: skip
    assert words in shown["note"]
    assert words in result.sections[0].paragraphs[0]
    assert "(11 of its 31 days)" in result.notes["Forecast"]
    assert "$5,000 sold up to the end of 20 October" in result.notes["Forecast chart"]
    stored = result.outputs["forecasts"]
    total = stored[stored["series_id"] == "revenue:total"]
    assert total["yhat"].iloc[0] == pytest.approx(shown["forecast"], abs=0.01)
    chart = result.sheets["Forecast chart"]
    assert chart.loc[chart["forecast"].notna(), "forecast"].iloc[0] == round(shown["forecast"], 2)
    # the 12-month total is the sum of the rows shown, in the summary and the report
    rows = tab[(tab["series"] == "All sales") & (tab["measure"] == "revenue")]
    said = f"${rows['forecast'].sum():,.0f} expected in October 2026 to September 2027"
    assert said in result.summary[0] and "$5,000 of it already sold" in result.summary[0]
    assert f"about ${rows['forecast'].sum():,.0f}." in result.sections[0].paragraphs[0]
    table = result.sections[0].table
    assert table is not None
    mug = tab[(tab["series"] == "Mug") & (tab["measure"] == "revenue")]
    assert table["October 2026 to September 2027"].iloc[0] == round(mug["forecast"].sum())


def test_the_open_period_is_measured_in_time_up_to_the_runs_date():
    """Orders count up to the run's moment, as RFM and customer value count them, and the
    part still to come is time, not whole days: a daily forecast run at noon has half its
    day to come, not none (which counting the run's day whole would say)."""
    tables, _ = _strong_open_month()
    noon = pd.Timestamp("2026-10-20 12:00", tz="UTC")  # the 20th's order is at 15:00
    sales = sales_series(tables["orders"], tables["order_lines"], noon)
    assert sales.sold["revenue:total"] == 19 * 250.0
    assert sales.to_come == pytest.approx(11.5 / 31)
    assert "up to 12:00 UTC on 20 October" in sales.notes[0]
    assert "(11.5 of its 31 days)" in sales.notes[0]
    daily = sales_series(tables["orders"], tables["order_lines"], noon, "D")
    assert daily.sold.get("revenue:total", 0.0) == 0.0 and daily.to_come == 0.5
    assert "(12 of its 24 hours)" in daily.notes[0]


def test_a_run_dated_at_a_month_start_forecasts_that_month_whole():
    tables, _ = _strong_open_month()
    as_of = pd.Timestamp("2026-10-01", tz="UTC")
    result = forecast_step(tables, StepContext(as_of=as_of))
    sales = sales_series(tables["orders"], tables["order_lines"], as_of)
    whole, _ = forecast_panel_results(sales.frame, 12, levels=(80, 95), gaps="zero")
    tab = result.sheets["Forecast"]
    first = tab[(tab["series"] == "All sales") & (tab["measure"] == "revenue")].iloc[0]
    assert first["forecast"] == round(whole["revenue:total"].frame["yhat"].iloc[0], 2)
    assert pd.isna(first["sold_so_far"]) and first["note"] == ""
    assert "already sold" not in result.summary[0]
    words = " ".join(result.sections[0].paragraphs)
    assert "nothing of it is in the data, and the whole month is forecast" in words
    # a month that has not begun is not "not over yet" (find54_forecast item 5)
    assert "October 2026 has not started yet (the data runs to" in words
    assert "not over" not in words


def _young_shop(months: int, end: str = "2026-10-31") -> dict[str, pd.DataFrame]:
    """A shop open `months` months: a few orders most days from four customers, two
    products, as a small web shop's export has them."""
    rng = np.random.default_rng(11)
    days = pd.date_range(end=end, periods=months * 30, freq="D")
    stamps = [d + pd.Timedelta(hours=int(rng.integers(8, 20))) for d in days
              for _ in range(int(rng.poisson(1.5)))]  # fmt: skip
    n = len(stamps)
    units = rng.integers(1, 4, n)
    product = np.where(rng.random(n) < 0.6, "P1", "P2")
    price = np.where(product == "P1", 24.0, 9.5)
    orders = pd.DataFrame({
        "order_id": [f"o{i}" for i in range(n)], "contact_id": [f"c{i % 4}" for i in range(n)],
        "ordered_at": pd.to_datetime(stamps, utc=True), "total": units * price + 4.95,
        "status": "paid",
    })  # fmt: skip
    lines = pd.DataFrame({
        "order_id": orders["order_id"], "line_no": 1, "product_id": product,
        "quantity": units, "unit_price": price, "discount": 0.0,
    })  # fmt: skip
    products = pd.DataFrame({"product_id": ["P1", "P2"], "name": ["Candle", "Soap"]})
    return {"orders": orders, "order_lines": lines, "products": products}


def test_a_forecast_without_a_season_says_what_its_simple_rule_repeated():
    """A 14-month shop has no season (26 months are needed to see one), so its error is
    scaled by the change from one month to the next and the simple rule repeats the last
    month; the report said "repeating last season" beside "not checked" (find54_forecast
    item 5). A daily forecast's ranges are "daily", not "dayly"."""
    tables = _young_shop(14)
    as_of = pd.Timestamp("2026-11-01", tz="UTC")
    result = forecast_step(tables, StepContext(as_of=as_of, settings={"forecast": {"products": 2}}))
    words = " ".join(result.sections[0].paragraphs)
    assert "Seasonality: not checked" in words
    assert "the typical change in sales from one month to the next" in words
    assert "simply repeating the last month scored" in words
    assert "last season" not in words and "one season to the next" not in words
    note = result.notes["Forecast check"]
    assert "Where a forecast has no season" in note and "repeats the last month" in note
    daily = forecast_step(tables, StepContext(
        as_of=as_of, settings={"forecast": {"frequency": "D", "horizon": 14, "products": 1}}))  # fmt: skip
    words = " ".join(daily.sections[0].paragraphs)
    assert "Adding up the daily 80% ranges" in words and "dayly" not in words


def test_the_worksheet_example_blames_sales_so_far_only_when_some_are_in(business):
    """A run dated at a month's end has nothing of the next month in its data, yet the
    Instructions tab's example said "this call is not told what was already sold in
    November 2026" (find54_forecast item 3). Its difference there is the method's, which
    the line after says; a run dated inside a month keeps the line."""
    from smbml_connect.functions import FunctionContext, call
    from smbml_connect.workbook_extras import _example_caveat

    said = {}
    for as_of in ("2026-10-01", "2026-10-20"):  # the end of 30 September; inside October
        result = forecast_step(business.tables, StepContext(as_of=pd.Timestamp(as_of, tz="UTC")))
        table = result.sheets["Forecast chart"]
        history = table.dropna(subset=["actual"])
        dates = [[d.to_pydatetime()] for d in history["month"]]
        call_result = call("FORECAST", [dates, [[float(v)] for v in history["actual"]], 6],
                           FunctionContext())  # fmt: skip
        said[as_of] = _example_caveat(table, call_result.value)
    at_end, inside = said["2026-10-01"], said["2026-10-20"]
    assert not any("already sold" in line for line in at_end), at_end
    assert any(line.startswith("October 2026") and "differs" in line for line in at_end), at_end
    assert any("already sold in October 2026" in line for line in inside), inside


def test_the_forecast_check_says_what_its_error_is_measured_against(business):
    """The note said "below 1 beats repeating last season", which rows with an error below 1
    and a smaller one for repeating last season contradicted: the error is scaled by the
    typical change from one season to the next in the history, not by that rule's error."""
    from smbml_connect.analytics.forecast.engine import SeriesForecast
    from smbml_connect.steps.forecasts import _accuracy_words

    result = forecast_step(business.tables, StepContext(as_of=business.as_of))
    note = result.notes["Forecast check"]
    assert "beats repeating last season" not in note
    assert "typically changed from one season to the next" in note
    assert "Error of repeating last season" in note and "smaller of the two" in note
    both_below = SeriesForecast(pd.DataFrame(), "ets+theta", "MS", 12, "detected",
                                backtest={"ets+theta": 0.94, "seasonal_naive": 0.90})  # fmt: skip
    words = _accuracy_words(both_below)
    assert "beats" not in words and "0.94" in words and "0.90" in words
    assert "steadier method above is kept" in words


def test_pipeline_step_writes_forecasts_tabs_and_a_chart(business):
    context = StepContext(
        as_of=business.as_of, settings={"forecast": {"horizon": 6, "products": 5}}
    )
    result = forecast_step(business.tables, context)
    forecasts = result.outputs["forecasts"]
    total = forecasts[forecasts["series_id"] == "revenue:total"]
    assert len(total) == 6 and (total["hi80"] >= total["yhat"]).all()
    assert forecasts["series_id"].str.startswith("units:").any()
    assert set(result.sheets) == {"Forecast", "Forecast chart", "Forecast check"}
    assert {"All sales", "Other products"} <= set(result.sheets["Forecast"]["series"])
    section = result.sections[0]
    assert section.title == "Sales forecast" and "<svg" in section.figures[0]
    assert "Seasonality" in section.paragraphs[2]


def test_a_december_peak_the_eye_sees_is_called_seasonal():
    """Issue 24: Decembers 50-60% above Novembers in both years, and the words said
    "none clear" (the lag-12 autocorrelation test barely moves for one peaking month)."""
    rng = np.random.default_rng(7)
    t = np.arange(35)
    dates = pd.date_range("2023-11-01", periods=35, freq="MS")
    y = (12_000 + 350 * t) * np.where(dates.month == 12, 1.55, 1.0) * rng.normal(1, 0.06, 35)
    out = forecast_series(dates, y, 12)
    words = out.attrs["seasonality"]
    assert words.startswith("detected") and "highest in December" in words


def test_noise_is_not_called_seasonal():
    rng = np.random.default_rng(3)
    found = 0
    for _ in range(40):
        y = 100 + 2 * np.arange(36) + rng.normal(0, 10, 36)
        check = check_seasonality(y, 12)
        assert check is not None
        found += check.seasonal
    assert found <= 2  # the 1% level: about one false alarm in a hundred


def test_the_forecast_names_the_months_it_covers_the_same_way_everywhere(business):
    """Issue 24: 'Data up to 31 October 2026', then '2026-10 is left out', and '$274,917 in
    the next 12 months' that in fact covered October 2026 to September 2027."""
    result = forecast_step(business.tables, StepContext(as_of=business.as_of))
    first = business.as_of.tz_convert(None).to_period("M")
    span = f"{first.start_time:%B %Y} to {(first + 11).start_time:%B %Y}"
    assert span in result.summary[0]
    assert span in result.sections[0].paragraphs[0]
    assert span in result.notes[FORECAST_TAB.title]
    stored = result.outputs["forecasts"]
    months = pd.to_datetime(stored["ds"]).dt.tz_convert(None).dt.to_period("M")
    assert months.min() == first and months.max() == first + 11
    notes = " ".join(result.sections[0].paragraphs)
    assert f"{first.start_time:%B %Y} is not over yet" in notes


def test_a_method_kept_though_repeating_last_season_did_better_on_the_past_says_why():
    """A panel may keep a series on its combination though the simple rule's backtest was
    lower (`_switching_helps`, or a lead under 20%): the report showed "1.18 ... against
    0.86 for repeating last season" without a word on why the worse-looking one was used."""
    from smbml_connect.analytics.forecast.engine import SeriesForecast
    from smbml_connect.steps.forecasts import _accuracy_words

    kept = SeriesForecast(pd.DataFrame(), "ets+theta", "MS", 12, "detected",
                          backtest={"ets+theta": 1.18, "seasonal_naive": 0.86})  # fmt: skip
    words = _accuracy_words(kept)
    assert "1.18" in words and "0.86" in words and "steadier method above is kept" in words
    ahead = SeriesForecast(pd.DataFrame(), "ets+theta", "MS", 12, "detected",
                           backtest={"ets+theta": 0.7, "seasonal_naive": 0.86})  # fmt: skip
    assert "kept" not in _accuracy_words(ahead)
    shown_alike = SeriesForecast(pd.DataFrame(), "ets+theta", "MS", 12, "detected",
                                 backtest={"ets+theta": 1.061, "seasonal_naive": 1.058})  # fmt: skip
    assert "kept" not in _accuracy_words(shown_alike)  # both read 1.06: nothing to explain


def test_a_history_that_held_still_then_moved_gets_ranges_of_its_own_size():
    # 36 months at exactly 920, then small drops. At the cut-offs inside the still
    # stretch the models' spreads are 0 or rounding dust (Theta's 3e-15), and an error of
    # a few units divided by that made the 80% range reach 4.5e15 (reviewer's find).
    y = np.r_[np.full(36, 920.0), 915, 912, 912, 912, np.full(8, 902.0)]
    dates = pd.date_range("2019-01-01", periods=48, freq="MS")
    for horizon in (6, 12):
        out = forecast_series(dates, y, horizon)
        widths = (out["hi95"] - out["lo95"]).to_numpy()
        assert np.all(np.isfinite(widths)) and widths.max() < 200, widths
    rng = np.random.default_rng(18)
    others = [100 + rng.normal(0, 5, 48).cumsum() for _ in range(5)]
    frame = pd.concat(
        pd.DataFrame({"unique_id": f"s{i}", "ds": dates, "y": values})
        for i, values in enumerate([y, *others])
    )
    panel = forecast_panel(frame, 6)
    still = panel[panel["unique_id"] == "s0"]
    assert (still["hi95"] - still["lo95"]).max() < 200


def test_a_panel_says_when_its_forecast_reaches_further_than_its_tests():
    # 30 months of history: the backtest scores 4 months ahead (30 - 26), so months 5-12
    # of a 12-month forecast keep the general later-step width and the ranges step up
    # there; the note says why. Within the tested reach there is nothing to say.
    rng = np.random.default_rng(20)
    dates = pd.date_range("2021-01-01", periods=30, freq="MS")
    frame = pd.concat(
        pd.DataFrame({"unique_id": f"s{i}", "ds": dates, "y": 200 + rng.normal(0, 8, 30).cumsum()})
        for i in range(6)
    )
    results, _ = forecast_panel_results(frame, 12)
    notes = [n for r in results.values() for n in r.notes if "tests on past data" in n]
    assert len(notes) == 6
    assert notes[0] == (
        "tests on past data reached 4 months ahead; months 5 to 12 go further than any test, "
        "so their ranges rest on the general pattern of errors and widen with the distance "
        "(at least as a random walk's do)"
    )
    near, _ = forecast_panel_results(frame, 4)
    assert not any("tests on past data" in n for r in near.values() for n in r.notes)


def _tea_shop(winter_blend: bool = True) -> tuple[dict[str, pd.DataFrame], pd.Timestamp]:
    """A tea shop's 28 months: Sencha and Matcha sell all year, a Winter Blend was the best
    seller each October to February and was archived after its last sale in February 2026.
    Orders carry €4.50 shipping. Without ``winter_blend`` the same orders lack its lines
    and their totals its value (an order of the blend alone is shipping only)."""
    rng = np.random.default_rng(54)
    prices = {"SEN": 9.0, "MAT": 24.0, "WIN": 18.0}
    orders, lines = [], []
    for month in pd.period_range("2024-07", "2026-10", freq="M"):
        winter = month.month in (10, 11, 12, 1, 2) and month <= pd.Period("2026-02", "M")
        for k in range(int(rng.integers(6, 11)) + (8 if winter else 0)):
            day = month.start_time + pd.Timedelta(days=int(rng.integers(0, month.days_in_month)))
            oid = f"#{1000 + len(orders)}"
            basket = ["WIN"] if winter and k % 3 != 2 else []
            basket += ["SEN"] if k % 2 else ["MAT"]
            kept = [p for p in basket if winter_blend or p != "WIN"]
            for n, product in enumerate(kept):
                lines.append({"order_id": oid, "line_no": n + 1, "product_id": product,
                              "quantity": float(1 + (k % 3 == 0)), "unit_price": prices[product],
                              "discount": 0.0})  # fmt: skip
            value = sum(x["quantity"] * x["unit_price"] for x in lines if x["order_id"] == oid)
            orders.append({"order_id": oid, "contact_id": f"c{int(rng.integers(0, 40))}",
                           "ordered_at": pd.Timestamp(day, tz="UTC") + pd.Timedelta(hours=11),
                           "total": value + 4.5, "status": "paid"})  # fmt: skip
    products = pd.DataFrame({
        "product_id": ["SEN", "MAT", "WIN"], "name": ["Sencha", "Matcha", "Winter Blend"],
        "on_sale": [True, True, False],
    })  # fmt: skip
    tables = {"orders": pd.DataFrame(orders), "order_lines": pd.DataFrame(lines),
              "products": products}  # fmt: skip
    return tables, pd.Timestamp("2026-10-31", tz="UTC")


def test_a_product_not_for_sale_gets_no_forecast_and_the_total_does_not_carry_it_on():
    """An archived product that was a shop's best seller was its first forecast line (€878
    of €2,948, its 80% range from €129 up) while Next products and Prices called it not for
    sale now, and all sales' forecast repeated last season's sales of it."""
    tables, as_of = _tea_shop()
    context = StepContext(as_of=as_of, settings={"forecast": {"products": 5}})
    result = forecast_step(tables, context)
    tab = result.sheets["Forecast"]
    assert "Winter Blend" not in set(tab["series"]) and {"Sencha", "Matcha"} <= set(tab["series"])
    stored = set(result.outputs["forecasts"]["series_id"])
    assert not {"revenue:WIN", "units:WIN"} & stored and "revenue:SEN" in stored
    section = result.sections[0]
    assert section.table is not None and "Winter Blend" not in set(section.table["product"])
    said = next(p for p in section.paragraphs if p.startswith("Left out of the forecast"))
    assert "Winter Blend (marked so in your products list" in said
    assert said in result.notes["Forecast"]
    check = result.sheets["Forecast check"].set_index("series")
    assert check.loc["Winter Blend", "model"] == "not forecast"
    # All sales' forecast is the one of the same orders without the blend's lines: the
    # seasonal total does not bring back last winter's blend sales
    without, _ = _tea_shop(winter_blend=False)
    plain = forecast_step(without, context).sheets["Forecast"]
    for frame in (tab, plain):
        frame.drop(frame.index[frame["series"] != "All sales"], inplace=True)
    pd.testing.assert_frame_equal(tab.reset_index(drop=True), plain.reset_index(drop=True))
    # while the history shown is what the shop sold, the blend included
    chart = result.sheets["Forecast chart"].dropna(subset=["actual"])
    sold = tables["orders"].assign(month=tables["orders"]["ordered_at"].dt.strftime("%Y-%m"))
    monthly = sold.groupby("month")["total"].sum()
    shown = chart.assign(month=pd.to_datetime(chart["month"]).dt.strftime("%Y-%m"))
    for month, value in zip(shown["month"], shown["actual"], strict=True):
        assert value == pytest.approx(monthly[month], abs=0.01)


def test_the_worksheet_example_says_the_tab_left_out_a_product_not_for_sale():
    """The example runs on the history shown, which holds an archived product's past
    sales; the Forecast tab's forecast leaves them out. The lines said only that the tab
    chooses its method otherwise (review54 item 4)."""
    from smbml_connect.functions import FunctionContext, call
    from smbml_connect.workbook_extras import _example_caveat

    tables, as_of = _tea_shop()
    result = forecast_step(tables, StepContext(as_of=as_of, settings={"forecast": {"products": 5}}))
    table = result.sheets["Forecast chart"]
    history = table.dropna(subset=["actual"])
    dates = [[d.to_pydatetime()] for d in history["month"]]
    answer = call("FORECAST", [dates, [[float(v)] for v in history["actual"]], 6],
                  FunctionContext())  # fmt: skip
    lines = _example_caveat(table, answer.value)
    said = [line for line in lines if "not for sale now" in line]
    assert len(said) == 1 and "1 product not for sale now (Winter Blend)" in said[0], lines
    tables["products"] = tables["products"].assign(on_sale=True)
    kept = forecast_step(tables, StepContext(as_of=as_of, settings={"forecast": {"products": 5}}))
    table = kept.sheets["Forecast chart"]
    assert not any("not for sale" in line for line in _example_caveat(table, answer.value))


def test_a_product_only_quiet_for_months_keeps_its_forecast_and_its_share_of_the_total():
    """Unsold for longer than ever before, yet not marked: a seasonal blend between its
    seasons (or a best seller out of stock) comes back, so the forecast keeps it; only
    the shop's own word takes a product's sales out of the total (review54 item 3)."""
    tables, as_of = _tea_shop()
    tables["products"] = tables["products"].assign(on_sale=True)
    context = StepContext(as_of=as_of, settings={"forecast": {"products": 5}})
    result = forecast_step(tables, context)
    assert "Winter Blend" in set(result.sheets["Forecast"]["series"])
    assert not any(p.startswith("Left out of the forecast") for p in result.sections[0].paragraphs)


def test_daily_best_sellers_are_ranked_on_the_year_not_on_the_last_week():
    """A daily forecast ranked its products on one week (a season of 7 days): the shop's
    biggest seller, quiet for a week, went into "other" beside a small product forecast
    on its own for one good week."""
    days = pd.date_range("2025-11-01", "2026-10-30", freq="D", tz="UTC")
    big = [d for d in days if d < pd.Timestamp("2026-10-23", tz="UTC")]  # quiet last week
    small = [d for d in days if d.day == 1] + list(days[-7:])  # a good last week
    when = big + small
    orders = pd.DataFrame({
        "order_id": [f"o{i}" for i in range(len(when))], "contact_id": "c1",
        "ordered_at": when, "total": [50.0] * len(big) + [10.0] * len(small), "status": "paid",
    })  # fmt: skip
    lines = pd.DataFrame({
        "order_id": orders["order_id"], "line_no": 1,
        "product_id": ["BIG"] * len(big) + ["SMALL"] * len(small), "quantity": 1.0,
        "unit_price": orders["total"], "discount": 0.0,
    })  # fmt: skip
    sales = sales_series(orders, lines, pd.Timestamp("2026-10-31", tz="UTC"), "D", top_products=1)
    ids = set(sales.frame["unique_id"])
    assert "revenue:BIG" in ids and "revenue:SMALL" not in ids


def _shop_orders(closed: tuple[str, str] | None, seed: int = 3) -> dict[str, pd.DataFrame]:
    """34 months of a small shop's orders (a yearly cycle peaking in December, three
    products, one of them slow, 4.95 shipping on each order), with no orders at all from
    `closed[0]` up to `closed[1]` (a refit, a lockdown). The same draws either way."""
    rng = np.random.default_rng(seed)
    rates = {"P1": 2.0, "P2": 1.5, "P3": 0.25}
    prices = {"P1": 24.0, "P2": 9.5, "P3": 45.0}
    rows = []
    for day in pd.date_range("2024-01-01", "2026-10-31", freq="D"):
        season = 1 + 0.25 * np.cos(2 * np.pi * (day.month - 12) / 12)
        for product, rate in rates.items():
            for _ in range(int(rng.poisson(rate * season))):
                hour = int(rng.integers(8, 20))
                rows.append((day + pd.Timedelta(hours=hour), product, int(rng.integers(1, 3))))
    frame = pd.DataFrame(rows, columns=["at", "product_id", "quantity"])
    if closed is not None:
        frame = frame[(frame["at"] < closed[0]) | (frame["at"] >= closed[1])]
    n = len(frame)
    price = frame["product_id"].map(prices).to_numpy()
    orders = pd.DataFrame({
        "order_id": [f"o{i}" for i in range(n)], "contact_id": [f"c{i % 40}" for i in range(n)],
        "ordered_at": pd.to_datetime(frame["at"].to_numpy(), utc=True),
        "total": frame["quantity"].to_numpy() * price + 4.95, "status": "paid",
    })  # fmt: skip
    lines = pd.DataFrame({
        "order_id": orders["order_id"], "line_no": 1, "product_id": frame["product_id"].to_numpy(),
        "quantity": frame["quantity"].to_numpy(), "unit_price": price, "discount": 0.0,
    })  # fmt: skip
    products = pd.DataFrame({"product_id": list(rates), "name": ["Candle", "Soap", "Gift Box"]})
    return {"orders": orders, "order_lines": lines, "products": products}


def test_a_shop_closed_for_two_months_is_a_closure_not_a_season():
    """find54_forecast item 1: a shop with no orders in April and May 2026 was told "lowest in
    April (about 56% below a typical month)", its next April forecast fell 16% below the
    same shop's without the closure and its 80% ranges reached 0. The empty months are
    named a closure, left out of the level, the season and the ranges, and every product
    shares them though a slow one's own zeros prove nothing."""
    as_of = pd.Timestamp("2026-11-01", tz="UTC")
    context = StepContext(as_of=as_of, settings={"forecast": {"products": 3}})
    shut = forecast_step(_shop_orders(("2026-04-01", "2026-06-01")), context)
    open_ = forecast_step(_shop_orders(None), context)
    check = shut.sheets["Forecast check"].set_index(["series", "measure"])
    said = "no sales at all in April to May 2026: treated as a closure (or a time off sale), not a season"
    for series in ("All sales", "Candle", "Soap", "Gift Box"):
        assert said in check.loc[(series, "revenue"), "notes"], series
    words = " ".join(shut.sections[0].paragraphs)
    assert "No sales at all in April to May 2026" in words

    def low(result: Any) -> tuple[str, int]:
        """The month the report names as the yearly low, and how far below."""
        found = re.search(r"lowest in (\w+) \(about (\d+)% below", result.sections[0].paragraphs[2])
        assert found, result.sections[0].paragraphs[2]
        return found[1], int(found[2])

    (month, below), (open_month, open_below) = low(shut), low(open_)
    assert month == open_month and abs(below - open_below) <= 10, (month, below, open_month)

    def total(result: Any) -> pd.DataFrame:
        tab = result.sheets["Forecast"]
        rows = tab[(tab["series"] == "All sales") & (tab["measure"] == "revenue")]
        return rows.set_index("month")

    shut_rows, open_rows = total(shut), total(open_)
    april = pd.Timestamp("2027-04-01")
    assert shut_rows.loc[april, "forecast"] == pytest.approx(
        open_rows.loc[april, "forecast"], rel=0.1
    )
    typical = float(open_rows["forecast"].mean())
    assert (shut_rows["low_80"] > 0.4 * typical).all(), shut_rows["low_80"]
    width = (shut_rows["high_80"] - shut_rows["low_80"]).sum()
    assert width <= 1.25 * (open_rows["high_80"] - open_rows["low_80"]).sum()


def test_a_closure_must_be_unlikely_and_not_a_season():
    """`fill_closures` on shop-like monthly series: two empty months beside a shop's usual
    level are filled from the months around them; a slow product's lone empty months are
    its noise, and a shop shut every January has a season."""
    rng = np.random.default_rng(7)
    months = np.arange(34)
    level = 4000 * (1 + 0.25 * np.cos(2 * np.pi * (months - 11) / 12))
    shop = rng.normal(level, 250)
    shop[27:29] = 0.0
    filled, runs = timeseries.fill_closures(shop, 12)
    assert runs == [(27, 29)]
    assert (filled[27:29] > 0.6 * level[27:29]).all() and (filled[27:29] < 1.4 * level[27:29]).all()
    assert np.array_equal(np.delete(filled, [27, 28]), np.delete(shop, [27, 28]))
    slow = rng.poisson(3 * (1 + 0.25 * np.cos(2 * np.pi * months / 12))).astype(float)
    slow[[5, 17]] = 0.0
    assert timeseries.fill_closures(slow, 12)[1] == []
    ski = shop.copy()
    ski[27:29] = rng.normal(level[27:29], 250)
    ski[[0, 12, 24]] = 0.0  # every January
    assert timeseries.fill_closures(ski, 12)[1] == []


def test_empty_months_just_before_the_run_are_named_with_both_readings():
    """review54b item 5: a shop selling every month had no orders in September and October
    2026 and was forecast at 19 for the next 12 months with nothing said (a closure inside
    the history is named; one at the end was not). The forecast keeps the data's zeros
    and says so, with the other reading: a break, or an export that stops early."""
    context = StepContext(
        as_of=pd.Timestamp("2026-11-01", tz="UTC"), settings={"forecast": {"products": 3}}
    )
    stopped = forecast_step(_shop_orders(("2026-09-01", "2026-11-01")), context)
    check = stopped.sheets["Forecast check"].set_index(["series", "measure"])
    said = "no sales at all in September to October 2026, the last 2 months"
    assert said in check.loc[("All sales", "revenue"), "notes"]
    words = " ".join(stopped.sections[0].paragraphs)
    assert "No sales at all in September to October 2026" in words
    assert (
        "the data stops early (check that the export holds every order up to 31 October 2026)"
        in words
    )
    # The one-line summary (the run's output, the report, the workbook's Summary) and the
    # Forecast tab say it too: a forecast of $889 for three months read as the shop's
    # own figure there, with the reason only in the Forecast check tab and the report.
    told = "No sales at all in September to October 2026, the last 2 months"
    assert told in stopped.summary[0] and told in stopped.notes["Forecast"]
    assert stopped.summary[0].startswith("Sales forecast: $") and "\n" not in stopped.summary[0]
    selling = forecast_step(_shop_orders(None), context)
    assert "the last 2 months" not in " ".join(selling.sections[0].paragraphs)
    assert "no sales at all" not in selling.summary[0] + selling.notes["Forecast"]
    # A shop shut every November and December has a season; one empty month proves nothing.
    rng = np.random.default_rng(4)
    months = np.arange(36)
    shop = rng.normal(4000 * (1 + 0.25 * np.cos(2 * np.pi * (months - 5) / 12)), 250)
    assert timeseries.empty_at_end(np.r_[shop, 0.0, 0.0], 12) == 2
    assert timeseries.empty_at_end(np.r_[shop, 0.0], 12) == 0
    winter = np.r_[shop, 0.0, 0.0]
    winter[[24, 25]] = 0.0  # the same two months a year before
    assert timeseries.empty_at_end(winter, 12) == 0


def _step_words(result: Any) -> str:
    """Every text a forecast step gives a person: summary, tab notes, report, check notes."""
    return " | ".join([*result.summary, *result.notes.values(),
                       *(p for s in result.sections for p in s.paragraphs),
                       *result.sheets["Forecast check"]["notes"].astype(str)])  # fmt: skip


def test_periods_read_as_people_write_them():
    """Days read "01 November 2026" and weeks "the week of 02 November 2026 to the week of
    16 November 2026" in the summary, the Forecast tab, the report; the closure note said
    "1 November" beside them. One namer now: no leading zero, the year said once."""
    assert periods_words(pd.Period("2026-04", "M"), pd.Period("2026-06", "M"), "M") == (
        "April to June 2026"
    )
    assert periods_words(pd.Period("2026-12", "M"), pd.Period("2027-02", "M"), "M") == (
        "December 2026 to February 2027"
    )
    assert periods_words(pd.Period("2026Q1", "Q"), pd.Period("2026Q3", "Q"), "Q") == "Q1 to Q3 2026"
    assert periods_words(pd.Period("2026Q4", "Q"), pd.Period("2027Q2", "Q"), "Q") == (
        "Q4 2026 to Q2 2027"
    )
    week = pd.Period("2026-12-28", "W")
    assert period_words(week, "W") == "the week of 28 December 2026"
    assert periods_words(week, week + 2, "W") == "the weeks of 28 December 2026 to 11 January 2027"
    tables = _shop_orders(None)
    daily = forecast_step(tables, StepContext(
        as_of=pd.Timestamp("2026-11-01", tz="UTC"),
        settings={"forecast": {"products": 2, "frequency": "D", "horizon": 5}}))  # fmt: skip
    assert daily.summary[0].endswith(" expected from 1 to 5 November 2026")
    assert "Sales forecast per day for 1 to 5 November 2026 (5 days)" in daily.notes["Forecast"]
    assert "Revenue from 1 to 5 November 2026 (5 days)" in _step_words(daily)
    weekly = forecast_step(tables, StepContext(
        as_of=pd.Timestamp("2026-11-04", tz="UTC"),
        settings={"forecast": {"products": 2, "frequency": "W", "horizon": 3}}))  # fmt: skip
    assert weekly.summary[0].endswith(
        " expected in the weeks of 2 to 16 November 2026, $0 of it already sold in the week of "
        "2 November 2026"
    )
    assert "(the data runs to 4 November 2026)" in _step_words(weekly)
    for words in (_step_words(daily), _step_words(weekly)):
        assert not re.search(r"\b0\d [A-Z][a-z]+", words), words


def test_ranges_past_every_test_grow_with_the_distance():
    """find54_forecast item 4: 24 quarters forecast from 11, whose tests reached one quarter
    ahead, had 80% ranges of +-8% to the sixth year, no wider than next quarter's. Past
    the tested reach a range is at least the last tested one's grown as a random walk's
    (the square root of the steps), and the note says the horizon outruns the history."""
    settings = {"forecast": {"frequency": "Q", "horizon": 24, "products": 3}}
    result = forecast_step(
        _shop_orders(None),
        StepContext(as_of=pd.Timestamp("2026-11-01", tz="UTC"), settings=settings),
    )
    tab = result.sheets["Forecast"]
    words = " ".join(result.sections[0].paragraphs)
    assert "reaches 24 quarters ahead from 11 quarters of history" in words
    assert "not backed by the data" in words
    assert "tests on past data reached 1 quarter ahead" in words.lower()
    total = tab[(tab["series"] == "All sales") & (tab["measure"] == "revenue")]
    width = (total["high_80"] - total["low_80"]).to_numpy()[1:]  # past the open quarter
    assert width[-4:].min() > 2.5 * width[0], width
    # in the engine: each step's half-width past the reach at least the next period's
    # times the root of the step (the upper side: the lower one stops at zero)
    sales = sales_series(*(_shop_orders(None)[k] for k in ("orders", "order_lines")),
                         pd.Timestamp("2026-11-01", tz="UTC"), "Q", 3)  # fmt: skip
    results, _ = forecast_panel_results(sales.frame, 24, levels=(80, 95), gaps="zero")
    for uid, r in results.items():
        for level in (80, 95):
            half = (r.frame[f"hi{level}"] - r.frame["yhat"]).to_numpy()
            floor = half[0] * np.sqrt(np.arange(1, 25))
            assert (half >= floor - 1e-6 * floor).all(), (uid, level, half / floor)


def test_a_seasons_low_is_never_more_than_all_below_and_a_month_that_never_sells_says_so():
    """find57 item 5: a Christmas tree farm read "lowest in January (about 101% below a
    typical month)", and June, which never sold in five years, "about 87% below"."""
    rng = np.random.default_rng(4)
    months = pd.period_range("2021-01", periods=60, freq="M")
    share = {11: 0.15, 12: 1.0, 1: 0.02, 10: 0.03}  # nothing from February to September
    y = np.array([share.get(m.month, 0.0) * rng.uniform(800, 1200) for m in months])
    check = check_seasonality(y, 12)
    assert check is not None and check.seasonal
    assert 0 <= check.low_share <= 1
    words = describe_season(check, months, "M", "month", 12)
    assert "highest in December" in words
    low = months[check.low].month
    assert 2 <= low <= 9 and "(no sales at all in it;" in words
    by_month = pd.Series(y, index=months.month).groupby(level=0).mean()
    assert check.peak_share == pytest.approx(by_month[12] / y.mean() - 1)


def test_too_short_a_history_does_not_repeat_the_steps_name():
    """find57 item 7: "Sales forecast: sales forecast skipped: need at least 4 months"."""
    orders = pd.DataFrame(
        {"order_id": ["A", "B", "C"], "contact_id": ["K1", "K2", "K1"],
         "ordered_at": ["2026-09-03", "2026-09-20", "2026-10-05"], "total": [10.0, 12.0, 9.0],
         "status": "paid"}
    )  # fmt: skip
    with pytest.raises(NotEnoughDataError) as said:
        forecast_step({"orders": orders}, StepContext(as_of=pd.Timestamp("2026-10-31", tz="UTC")))
    assert "need at least" in str(said.value)
    assert "sales forecast skipped" not in str(said.value)
