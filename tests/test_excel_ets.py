"""SMB.FORECAST.ETS and friends: Excel's argument order, conventions and error values.

Ground truth comes from series whose continuation is known exactly (a straight line, a
line plus a fixed season): AAA smoothing reproduces them whatever parameters it picks.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math

import numpy as np
import pytest
from excel_helpers import monthly

from smbml_connect.excel_ets import EtsModel
from smbml_connect.functions import FunctionContext, call

EPOCH = dt.datetime(1899, 12, 30)


def serials(dates: list) -> list[list[float]]:
    return [[float((d[0] - EPOCH).days)] for d in dates]


def line(n: int = 30) -> tuple[list, list]:
    """values 10 + 2t on the timeline 1..n (a numeric timeline, as Excel allows)."""
    return [[10.0 + 2 * t] for t in range(n)], [[float(t + 1)] for t in range(n)]


def seasonal(n: int = 48) -> tuple[list, list]:
    """A monthly line plus a fixed 12-month pattern, dates on the 1st of each month."""
    dates, _ = monthly(n)
    pattern = [0, 5, 9, 4, -2, -8, -12, -6, 1, 3, 7, -1]
    values = [[100.0 + 1.5 * i + pattern[i % 12]] for i in range(n)]
    return values, dates


def run(name: str, *args):
    return call(name, list(args), FunctionContext())


def test_a_straight_line_is_continued_exactly():
    values, timeline = line(30)
    result = run("FORECAST.ETS", [[31.0], [35.0]], values, timeline, 0)
    assert result.error is None, result.error
    assert result.header is False  # bare values, as Excel's FORECAST.ETS returns
    assert result.value[0][0] == pytest.approx(10 + 2 * 30, abs=1e-6)
    assert result.value[1][0] == pytest.approx(10 + 2 * 34, abs=1e-6)


def test_a_monthly_season_is_found_and_continued():
    values, dates = seasonal(48)
    assert run("FORECAST.ETS.SEASONALITY", values, dates).value == [[12]]
    target = [[dt.datetime(2024, 1, 1)], [dt.datetime(2024, 6, 1)]]  # steps 1 and 6
    result = run("FORECAST.ETS", target, values, dates)
    assert result.error is None, result.error
    pattern = [0, 5, 9, 4, -2, -8, -12, -6, 1, 3, 7, -1]
    for (got,), i in zip(result.value, (48, 53), strict=True):
        assert got == pytest.approx(100 + 1.5 * i + pattern[i % 12], abs=1e-3)
    # the same from Office.js serials, shuffled (the timeline need not be sorted)
    pairs = list(zip(values, serials(dates), strict=True))[::-1]
    shuffled = run("FORECAST.ETS", serials(target), [p[0] for p in pairs], [p[1] for p in pairs])
    assert [r[0] for r in shuffled.value] == pytest.approx([r[0] for r in result.value])


def test_confint_grows_with_the_horizon_and_the_level():
    dates, values = monthly(48)
    walk = np.cumsum(np.random.default_rng(3).normal(0, 6, len(values)))  # a moving level
    values = [[v[0] + w] for v, w in zip(values, walk, strict=True)]
    near = run("FORECAST.ETS.CONFINT", [[dt.datetime(2024, 1, 1)]], values, dates)
    far = run("FORECAST.ETS.CONFINT", [[dt.datetime(2024, 12, 1)]], values, dates)
    wide = run("FORECAST.ETS.CONFINT", [[dt.datetime(2024, 1, 1)]], values, dates, 0.99)
    assert 0 < near.value[0][0] < far.value[0][0]
    assert wide.value[0][0] == pytest.approx(near.value[0][0] * 2.5758 / 1.9600, rel=1e-3)


def test_duplicates_are_aggregated_with_excels_codes():
    values, timeline = line(20)
    doubled_values = values + [[v[0] + 10] for v in values]
    doubled_timeline = timeline + timeline
    average = run("FORECAST.ETS", [[21.0]], doubled_values, doubled_timeline, 0)
    total = run("FORECAST.ETS", [[21.0]], doubled_values, doubled_timeline, 0, 1, 7)
    assert average.value[0][0] == pytest.approx(10 + 2 * 20 + 5, abs=1e-6)  # AVERAGE
    assert total.value[0][0] == pytest.approx(2 * (10 + 2 * 20) + 10, abs=1e-6)  # SUM
    assert "40 values on 20 repeated dates combined by AVERAGE" in average.notes


def test_missing_points_are_filled_in_up_to_30_percent():
    values, timeline = line(20)
    gappy = [p for i, p in enumerate(zip(values, timeline, strict=True)) if i not in (5, 9, 13)]
    result = run("FORECAST.ETS", [[21.0]], [p[0] for p in gappy], [p[1] for p in gappy], 0)
    assert result.value[0][0] == pytest.approx(50.0, abs=1e-6)  # interpolated: still a line
    assert "3 missing points of 20 filled in from their neighbours" in result.notes
    zeros = run("FORECAST.ETS", [[21.0]], [p[0] for p in gappy], [p[1] for p in gappy], 0, 0)
    assert zeros.value[0][0] != pytest.approx(50.0, abs=1e-3)
    dropped = (2, 4, 6, 8, 10, 12, 14)  # 7 of 20: 35%
    sparse = [p for i, p in enumerate(zip(values, timeline, strict=True)) if i not in dropped]
    refused = run("FORECAST.ETS", [[21.0]], [p[0] for p in sparse], [p[1] for p in sparse])
    assert refused.code == "#VALUE!"
    assert "more than the 30% that can be filled in" in refused.error


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        # values and timeline swapped: the values have no constant step
        ("swapped", "#VALUE!", "FORECAST.ETS: timeline: no constant step between its points"),
        ("text", "#VALUE!", "FORECAST.ETS: timeline: 'March' (row 3) is not a date or a number"),
        ("negative", "#VALUE!", "FORECAST.ETS: timeline: -3 (row 1) cannot be a date"),
        ("before", "#VALUE!", "FORECAST.ETS: target_date 5 is before the end of the timeline (30)"),
        ("season", "#VALUE!", "FORECAST.ETS: seasonality must be from 0 to 8760, got 9000"),
        ("long season", "#VALUE!", "FORECAST.ETS: seasonality 20 needs at least two seasons"),
        ("aggregation", "#VALUE!", "FORECAST.ETS: aggregation must be a whole number from 1 to 7, got 9"),
        ("completion", "#VALUE!", "FORECAST.ETS: data_completion must be 1 or 0 (TRUE or FALSE), got 2"),
        ("sizes", "#N/A", "FORECAST.ETS: the ranges differ in length (30 values, 29 timeline)"),
        ("boolean", "#VALUE!", "FORECAST.ETS: values: TRUE/FALSE (row 2) is not a number"),
        ("date in values", "#VALUE!", "FORECAST.ETS: values: 2024-01-01 (row 1) is not a number"),
    ],
)  # fmt: skip
def test_bad_calls_are_excel_errors_naming_the_argument(args, code, message):
    values, timeline = line(30)
    target = [[31.0]]
    calls = {
        "swapped": (target, timeline, monthly(30)[1]),
        "text": (target, values, [*timeline[:2], ["March"], *timeline[3:]]),
        "negative": (target, values, [[-3.0], *timeline[1:]]),
        "before": ([[5.0]], values, timeline),
        "season": (target, values, timeline, 9000),
        "long season": (target, values, timeline, 20),
        "aggregation": (target, values, timeline, 1, 1, 9),
        "completion": (target, values, timeline, 1, 2),
        "sizes": (target, values, timeline[:-1]),
        "boolean": (target, [values[0], [True], *values[2:]], timeline),
        "date in values": (target, [[dt.datetime(2024, 1, 1)], *values[1:]], timeline),
    }
    result = run("FORECAST.ETS", *calls[args])
    assert result.value is None
    assert (result.code, result.error[: len(message)]) == (code, message)


def test_smb_forecast_names_swapped_arguments_instead_of_forecasting_1901():
    dates, values = monthly(36)
    swapped = run("FORECAST", values, serials(dates), 12)
    assert swapped.code == "#VALUE!"
    assert swapped.error.startswith("FORECAST: dates: 200 (row 1) is not a date")
    from_xlwings = run("FORECAST", values, dates, 12)
    assert from_xlwings.error.startswith("FORECAST: dates: 200 (row 1) is not a date")


def test_level_takes_excels_fraction_and_names_what_was_given():
    dates, values = monthly(36)
    as_fraction = run("FORECAST", dates, values, 3, None, 0.95)
    as_percent = run("FORECAST", dates, values, 3, None, 95)
    assert as_fraction.value == as_percent.value
    assert as_fraction.value[0][2] == "low (95%)"
    refused = run("FORECAST", dates, values, 3, None, 99.5)
    assert refused.code == "#VALUE!"
    assert refused.error.endswith("got 99.5")


def test_true_in_values_is_left_out_not_counted_as_one():
    dates, values = monthly(36)
    with_true = [*values[:5], [True], *values[6:]]
    result = run("FORECAST", dates, with_true, 3)
    assert result.error is None
    assert "row 6, values: TRUE left out (not a number)" in result.notes
    assert math.isfinite(result.value[1][1])


def month_ends(start: dt.date, n: int, step: int = 1) -> list[list[dt.datetime]]:
    """`n` month ends `step` months apart, from the month of `start` (as xlwings sends them)."""
    out = []
    for i in range(n):
        total = start.year * 12 + start.month - 1 + i * step
        year, month = divmod(total, 12)
        out.append([dt.datetime(year, month + 1, calendar.monthrange(year, month + 1)[1])])
    return out


@pytest.mark.parametrize(
    ("start", "step"),
    [(dt.date(2022, 1, 31), 1), (dt.date(2022, 2, 28), 1), (dt.date(2021, 4, 30), 1),
     (dt.date(2021, 11, 30), 1), (dt.date(2019, 6, 30), 3), (dt.date(2019, 9, 30), 3)],
)  # fmt: skip
def test_a_month_end_timeline_steps_by_month_ends_whatever_month_it_starts_in(start, step):
    """Month-end reports (a February start, quarter ends from June 30) were measured
    from the first point's day: a Feb 28 start ended on Jan 28, off by a part of a step."""
    n = 20
    timeline = month_ends(start, n + 3, step)
    values = [[100.0 + 5 * i] for i in range(n)]  # a straight line: +5 a step
    targets = timeline[n:]
    result = run("FORECAST.ETS", targets, values, timeline[:n], 0)
    assert result.error is None, result.error
    assert [r[0] for r in result.value] == pytest.approx([100 + 5 * n, 105 + 5 * n, 110 + 5 * n])
    as_serials = run("FORECAST.ETS", serials(targets), values, serials(timeline[:n]), 0)
    assert as_serials.value == result.value  # Office.js sends the same dates as serials
    # The same months through SMB.FORECAST, which reads month ends as month ends too.
    if step == 1:
        smb = run("FORECAST", timeline[:n], values, 3)
        assert [r[1] for r in smb.value[1:]] == pytest.approx([r[0] for r in result.value])
    # Half a step ahead is half way up the line, in days between the two month ends.
    last, after = timeline[n - 1][0], timeline[n][0]
    middle = last + (after - last) / 2
    halfway = run("FORECAST.ETS", [[middle]], values, timeline[:n], 0)
    assert halfway.value[0][0] == pytest.approx(100 + 5 * (n - 0.5), abs=1e-6)
    before = run("FORECAST.ETS", [[last - dt.timedelta(days=2)]], values, timeline[:n], 0)
    assert before.code == "#VALUE!"
    assert f"is before the end of the timeline ({last:%Y-%m-%d})" in before.error


def test_a_timeline_on_one_day_of_the_month_still_steps_by_that_day():
    timeline = [[dt.date(2022 + i // 12, i % 12 + 1, 15)] for i in range(27)]
    values = [[50.0 + 2 * i] for i in range(24)]
    result = run("FORECAST.ETS", timeline[24:], values, timeline[:24], 0)
    assert [r[0] for r in result.value] == pytest.approx([98.0, 100.0, 102.0])
    assert run("FORECAST.ETS", [[dt.date(2023, 12, 14)]], values, timeline[:24]).code == "#VALUE!"


def test_a_far_target_gets_its_range_or_a_num_naming_why():
    """The range summed one term per step: a target 1e9 steps ahead built arrays of 8 GB
    in the server that serves every workbook (or ended in 'unexpected error')."""
    rng = np.random.default_rng(7)
    values = [[20.0 + 1.5 * t + (6.0 if t % 4 == 0 else 0.0) + rng.normal(0, 2)] for t in range(24)]
    timeline = [[float(t + 1)] for t in range(24)]
    widths = []
    for target in (30.0, 1e4, 1e9):
        result = run("FORECAST.ETS.CONFINT", [[target]], values, timeline, 0.95, 4)
        assert result.error is None, result.error
        widths.append(result.value[0][0])
    assert 0 < widths[0] < widths[1] < widths[2] and math.isfinite(widths[2])
    huge = run("FORECAST.ETS.CONFINT", [[1e300]], values, timeline, 0.95, 4)
    assert huge.code == "#VALUE!"
    assert "too far for a range" in huge.error
    dates = [[dt.date(2020 + i // 12, i % 12 + 1, 1)] for i in range(24)]
    past_excel = run("FORECAST.ETS", [[4e6]], values, dates)
    assert past_excel.code == "#VALUE!"
    assert "after 9999-12-31, the last date Excel can show" in past_excel.error


@pytest.mark.parametrize("m", [1, 4, 12])
def test_the_range_s_closed_form_is_the_sum_it_replaces(m):
    model = EtsModel(0.3, 0.05, 0.2 if m > 1 else 0.0, 0.0, 0.0, np.zeros(m), 1.5, m)
    for h in (1, 2, 5, 12, 13, 25, 400):
        j = np.arange(1, h)
        c = model.alpha + model.beta * j + (model.gamma * (j % m == 0) if m > 1 else 0)
        expected = 1.959964 * 1.5 * math.sqrt(1 + float(np.sum(c * c)))
        assert model.half_width(h, 0.95) == pytest.approx(expected, rel=1e-6)


def test_cells_filled_down_over_one_history_fit_it_once_with_the_same_answers(monkeypatch):
    """The fit depends on the history, not on the target: 130 cells filled down over one
    history were 130 fits (4-7 s each over 2,000-3,000 hourly points). Each cell, its
    CONFINT beside it and a range of targets answer as before, from one fit; a history
    that differs (one reading, the seasonality asked) is fitted again."""
    from smbml_connect import function_impls

    rng = np.random.default_rng(11)
    start = float((dt.datetime(2025, 3, 3) - EPOCH).days)
    hours = [h for h in range(10 * 24) if h % 37 != 5]  # a café's tills: a few hours lost
    timeline = [[start + h / 24] for h in hours]
    busy = [0, 0, 0, 0, 0, 0, 2, 9, 22, 30, 26, 24, 35, 38, 27, 20, 18, 21, 14, 6, 2, 0, 0, 0]
    values = [[round(busy[h % 24] * (1 + 0.02 * (h // 24)) + rng.normal(0, 2), 2)]
              for h in hours]  # fmt: skip
    targets = [[start + (10 * 24 + k) / 24] for k in range(0, 40, 5)]
    fits = []
    real_fit = function_impls.fit_aaa

    def counted(y, m):
        fits.append(len(y))
        return real_fit(y, m)

    monkeypatch.setattr(function_impls, "fit_aaa", counted)
    cache = getattr(function_impls, "_ETS_FITS", None)

    def cells(context_of, before=lambda: None):
        out = []
        for target in targets:
            before()
            out.append(call("FORECAST.ETS", [target[0], values, timeline], context_of()))
            before()
            out.append(call("FORECAST.ETS.CONFINT", [target[0], values, timeline], context_of()))
        before()
        out.append(call("FORECAST.ETS", [targets, values, timeline], context_of()))
        return [(r.value, r.error, r.notes) for r in out]

    unshared = cells(FunctionContext, cache.clear if cache is not None else lambda: None)
    assert len(fits) == 2 * len(targets) + 1  # a fit per cell, as before
    fits.clear()
    if cache is not None:
        cache.clear()
    one = FunctionContext()
    shared = cells(lambda: one)
    assert shared == unshared  # the same answers, to the last digit
    assert all(error is None for _, error, _ in shared)
    assert fits == [10 * 24]  # one fit for every cell, CONFINT's too (lost hours filled)
    changed = [list(v) for v in values]
    changed[-1][0] += 5
    call("FORECAST.ETS", [targets[0][0], changed, timeline], one)
    call("FORECAST.ETS", [targets[0][0], values, timeline, 12], one)
    assert len(fits) == 3


def daily(values: np.ndarray, start: dt.date = dt.date(2023, 1, 2)) -> tuple[list, list]:
    """A shop's daily takings as Excel hands them over: two one-column ranges."""
    days = [
        [dt.datetime.combine(start + dt.timedelta(days=i), dt.time())] for i in range(len(values))
    ]
    return [[round(float(v), 2)] for v in values], days


@pytest.mark.parametrize("n", [120, 500, 1500])
def test_days_of_takings_with_no_pattern_have_no_season(n):
    """Orders around a steady level, and a level that wanders (a shop growing and
    shrinking by chance): no week, no season. The white-noise band at every lag found
    a season in 39 of 40 such series of 500 points and in every one of 2,000."""
    found = []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        steady = rng.poisson(40, n) * rng.gamma(20, 1.5, n)  # orders a day x basket
        wandering = np.maximum(0, 1200 + np.cumsum(rng.normal(0, 60, n)))
        for takings in (steady, wandering):
            result = run("FORECAST.ETS.SEASONALITY", *daily(takings))
            assert result.error is None, result.error
            found.append(result.value[0][0])
    assert found == [0] * len(found)


@pytest.mark.parametrize("n", [56, 120, 500, 1500])
def test_a_weekly_pattern_in_noisy_takings_is_still_found(n):
    """Closed on Mondays, busy at the weekend, with noise and a slow drift."""
    week = np.array([0.0, 0.9, 1.0, 1.0, 1.2, 1.7, 1.5])  # Monday first
    for seed in range(4):
        rng = np.random.default_rng(seed)
        level = 900 + np.cumsum(rng.normal(0, 10, n))
        takings = level * week[np.arange(n) % 7] + rng.normal(0, 120, n)
        assert run("FORECAST.ETS.SEASONALITY", *daily(takings)).value == [[7]]


def test_the_season_search_reads_at_most_its_last_points(monkeypatch):
    """A whole Excel column of hourly values: the search reads the last
    SEASON_SEARCH_POINTS (the direct correlation took 147 s at 100,000 points)."""
    from smbml_connect import excel_ets

    read: list[int] = []
    original = excel_ets._autocorrelation

    def spy(x, lags):
        read.append(len(x))
        return original(x, lags)

    monkeypatch.setattr(excel_ets, "_autocorrelation", spy)
    hours = np.arange(200_000)
    rng = np.random.default_rng(5)
    y = 50 + 20 * np.sin(2 * np.pi * hours / 24) + rng.normal(0, 5, len(hours))
    assert excel_ets.season_length(y) == 24
    assert read == [excel_ets.SEASON_SEARCH_POINTS]


def test_a_fit_past_its_time_limit_is_a_num_naming_the_limit_and_not_kept():
    """`smbml serve` runs each call under a limit; the fit looks at it between passes."""
    import threading

    from smbml_connect import function_impls
    from smbml_connect.call_limits import CallLimit, limited

    function_impls._ETS_FITS.clear()  # a fit kept by an earlier test would not look
    values, dates = seasonal(60)
    context = FunctionContext()
    target = [[dt.datetime(2025, 1, 1)]]
    with limited(CallLimit(0.0, threading.Event())):
        late = call("FORECAST.ETS", [target, values, dates], context)
    assert (late.code, late.value) == ("#VALUE!", None)
    assert late.error == (
        "FORECAST.ETS: the fit of 60 points took over 0 s, the longest smbml serve gives "
        "one call: pass fewer points (the most recent ones) or a coarser timeline"
    )
    stopping = threading.Event()
    stopping.set()
    with limited(CallLimit(60.0, stopping)):
        stopped = call("FORECAST.ETS", [target, values, dates], context)
    assert (
        stopped.error == "FORECAST.ETS: the fit of 60 points was stopped: smbml serve is stopping"
    )
    again = call("FORECAST.ETS", [target, values, dates], context)  # no limit: computed
    assert again.error is None and not again.cached


def test_a_steady_level_is_not_forecast_to_drift_from_its_first_two_points():
    """Without a season the trend started as the first two points' difference, which a
    small beta kept: 12 steps on, forecasts of a steady 100 (noise of 10) were off by 25
    on average over 20 histories, up to 55. From the line through the first ten points
    (Hyndman et al. 2008): 9.5."""
    from smbml_connect.excel_ets import fit_aaa

    off = []
    for seed in range(20):
        y = 100 + np.random.default_rng(seed).normal(0, 10, 48)
        off.append(abs(fit_aaa(y, 1).forecast(12) - 100))
    assert np.mean(off) < 15, np.round(off, 1)


def test_two_seasons_of_a_clear_pattern_are_found_and_continued():
    """Two years of monthly sales is the most common small-business history: at lag 12 of
    24 points only 12 pairs are multiplied, so the peak is half its height and missed the
    flat band 2/sqrt(n): SEASONALITY said 0 and FORECAST.ETS gave 141.8 for 148 (rv55b)."""
    values = [[100.0 + 2 * i + 10 * math.sin(2 * math.pi * i / 12)] for i in range(24)]
    timeline = [[float(i + 1)] for i in range(24)]
    assert run("FORECAST.ETS.SEASONALITY", values, timeline).value == [[12]]
    result = run("FORECAST.ETS", [[25.0]], values, timeline)
    assert result.value[0][0] == pytest.approx(148.0, abs=0.05)
    # A gift shop's two years: quiet spring, the run-up to Christmas, a little noise.
    dates, _ = monthly(24)
    shape = [-4, -5, -2, 0, 1, 0, -1, 0, 1, 3, 8, 18]
    for seed in range(4):
        rng = np.random.default_rng(seed)
        sales = [[round(3000 + 25 * i + 120 * shape[i % 12] + rng.normal(0, 60), 2)]
                 for i in range(24)]  # fmt: skip
        assert run("FORECAST.ETS.SEASONALITY", sales, dates).value == [[12]]


@pytest.mark.parametrize("n", [24, 36, 48, 60])
def test_short_histories_without_a_pattern_have_no_season(n):
    """Letting two seasons through must not give short noise a season: orders around a
    level, a level that wanders, a steady trend with noise."""
    found = []
    for seed in range(4):
        rng = np.random.default_rng(100 + seed)
        noise = rng.normal(0, 60, n)
        for sales in (1500 + noise, 1500 + np.cumsum(noise), 1500 + 20 * np.arange(n) + noise):
            found.append(run("FORECAST.ETS.SEASONALITY", *daily(sales)).value[0][0])
    assert found == [0] * len(found)


def test_the_season_is_the_shortest_cycle_that_explains_the_peak():
    """A café's till, hour by hour, with a busy Saturday and a quiet Sunday: over three
    weeks the strongest peak was sometimes 48 (two days), a multiple of the daily cycle.
    Over two months the week itself is the season: 168 stays."""
    from smbml_connect.excel_ets import season_length

    busy = np.array([0, 0, 0, 0, 0, 0, 2, 9, 22, 30, 26, 24, 35, 38, 27, 20, 18, 21, 14, 6, 2, 0,
                     0, 0.0])  # fmt: skip
    week = np.array([1.0, 1.0, 1.0, 1.0, 1.1, 1.6, 0.4])  # Monday first
    for hours, season in ((24 * 21, 24), (24 * 60, 168)):
        h = np.arange(hours)
        for seed in (2, 4):
            rng = np.random.default_rng(seed)
            till = busy[h % 24] * week[(h // 24) % 7] + rng.normal(0, 3, hours)
            assert season_length(till) == season
    # Daily, monthly and quarterly patterns keep their own season.
    rng = np.random.default_rng(1)
    days = np.arange(70)
    takings = 900 * np.array([0.0, 0.9, 1.0, 1.0, 1.2, 1.7, 1.5])[days % 7] + rng.normal(0, 60, 70)
    assert season_length(takings) == 7
    months = np.arange(48)
    shape = np.array([-4, -5, -2, 0, 1, 0, -1, 0, 1, 3, 8, 18.0])
    sales = 3000 + 25 * months + 120 * shape[months % 12] + rng.normal(0, 60, 48)
    assert season_length(sales) == 12
    quarters = np.arange(20)
    assert season_length(500 + 4 * quarters + np.array([-60, 20, -30, 70.0])[quarters % 4]
                         + rng.normal(0, 8, 20)) == 4  # fmt: skip
