"""Forecast intervals: coverage on processes whose future is known in law, and the parts
that set the width (pooled errors per step, each series at its own error size, the
cut-offs kept for calibration)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from smbml_connect.analytics.forecast.engine import _calibrated, fit_regular, forecast_panel
from smbml_connect.analytics.forecast.intervals import (
    calibration_origins,
    pooled_width,
    pooled_width_per_level,
    recency,
    step_bucket,
    step_shape,
    width,
)
from smbml_connect.analytics.forecast.timeseries import regularise

HISTORY, HORIZON, DRAWS = 48, 8, 200


def _panel(histories: list[np.ndarray], freq: str = "MS") -> pd.DataFrame:
    dates = pd.date_range("2018-01-01", periods=len(histories[0]), freq=freq)
    return pd.concat(
        [
            pd.DataFrame({"unique_id": f"S{i:02d}", "ds": dates, "y": y})
            for i, y in enumerate(histories)
        ],
        ignore_index=True,
    )


def _coverage(out: pd.DataFrame, futures: dict[str, np.ndarray], level: int) -> float:
    """Share of the fresh future paths (draws x steps) inside the intervals, over series."""
    hits = []
    for uid, part in out.groupby("unique_id"):
        lo, hi = part[f"lo{level}"].to_numpy(), part[f"hi{level}"].to_numpy()
        paths = futures[str(uid)]
        hits.append(np.mean((paths >= lo) & (paths <= hi)))
    return float(np.mean(hits))


def test_a_random_walk_panel_is_covered_about_as_promised():
    rng = np.random.default_rng(11)
    histories, futures = [], {}
    for i in range(30):
        y = 200 + np.cumsum(rng.normal(0, 5, HISTORY))
        histories.append(y)
        steps = np.cumsum(rng.normal(0, 5, (DRAWS, HORIZON)), axis=1)
        futures[f"S{i:02d}"] = y[-1] + steps
    out = forecast_panel(_panel(histories), HORIZON)
    assert 0.74 <= _coverage(out, futures, 80) <= 0.86
    assert 0.91 <= _coverage(out, futures, 95) <= 0.98


def test_an_ar1_panel_is_covered_about_as_promised():
    rng = np.random.default_rng(12)
    phi, mean, sd = 0.6, 100.0, 4.0
    histories, futures = [], {}
    for i in range(30):
        y = np.empty(HISTORY)
        y[0] = mean + rng.normal(0, sd / np.sqrt(1 - phi**2))
        for t in range(1, HISTORY):
            y[t] = mean + phi * (y[t - 1] - mean) + rng.normal(0, sd)
        histories.append(y)
        paths = np.empty((DRAWS, HORIZON))
        last = np.full(DRAWS, y[-1])
        for h in range(HORIZON):
            last = mean + phi * (last - mean) + rng.normal(0, sd, DRAWS)
            paths[:, h] = last
        futures[f"S{i:02d}"] = paths
    out = forecast_panel(_panel(histories), HORIZON)
    assert 0.74 <= _coverage(out, futures, 80) <= 0.86
    assert 0.91 <= _coverage(out, futures, 95) <= 0.99


def test_calm_and_wild_series_each_get_intervals_at_their_own_error_size():
    # Half the panel's errors run at half the model's spread, half at twice it: one
    # quantile for all would cover the calm series nearly always and the wild ones far
    # less than promised.
    rng = np.random.default_rng(5)
    errors = []
    for i in range(20):
        size = 0.5 if i % 2 else 2.0
        errors.append((size * rng.standard_normal(120), np.tile(np.arange(8), 15)))
    pooled = pooled_width(errors, 80, 8)
    assert pooled is not None
    for z, _ in errors:
        inside = np.mean(np.abs(z) <= width(z, 80, 8, pooled)[0])
        assert 0.68 <= inside <= 0.92


def test_the_next_period_and_later_steps_have_their_own_width():
    # Errors one step ahead are smaller than later ones, in the models' own spreads.
    rng = np.random.default_rng(6)
    steps = np.tile(np.arange(6), 4)
    errors = [(rng.standard_normal(24) * np.where(steps == 0, 0.5, 1.5), steps) for _ in range(10)]
    pooled = pooled_width(errors, 80, 6)
    assert pooled is not None
    assert list(step_bucket(np.arange(6))) == [0, 1, 1, 1, 1, 1]
    assert pooled.by_step[0] < 0.6 * pooled.by_step[1]
    assert np.allclose(pooled.by_step[1:], pooled.by_step[1])
    assert pooled_width(errors[:4], 80, 6) is None  # too few series to pool


def _calmed_panel(count: int, seed: int) -> tuple[list, list, np.ndarray]:
    """Series whose errors halved lately: the cut-offs 1 and 2 periods from the end (which
    score the next one or two periods) saw the new size, those 12 to 24 back (6 steps
    each) twice that; inside a cut-off, errors do not grow with the step."""
    rng = np.random.default_rng(seed)
    blocks = [(1, 1), (2, 2), (12, 6), (18, 6), (24, 6)]  # (age, steps)
    steps = np.concatenate([np.arange(k) for _, k in blocks])
    ages = np.concatenate([np.full(k, age) for age, k in blocks])
    errors = [
        (np.where(ages <= 2, 1.0, 2.0) * rng.standard_normal(len(ages)), steps)
        for _ in range(count)
    ]
    return errors, [ages] * count, recency(ages, 6, 1)


def test_later_steps_take_their_size_from_the_recent_cut_offs_not_only_the_old_ones():
    # Later steps are only scored at the old cut-offs. Their own bucket made them 1.4
    # times as wide as the next period, covering 97% of fresh errors at the new size at
    # 80%; with the growth read inside each cut-off they start from the next period's
    # multiple (within 5% of it here), covering 88%.
    errors, ages, weight = _calmed_panel(300, 11)
    pooled = pooled_width(errors, 80, 6, [weight] * len(errors), ages)
    assert pooled is not None
    assert np.all(pooled.by_step[1:] < 1.25 * pooled.by_step[0])
    rng = np.random.default_rng(12)
    inside = []
    for z, _ in errors[:100]:
        bound = width(z, 80, 6, pooled, weight)[1:]
        inside.append(np.mean(np.abs(rng.standard_normal((50, 5))) <= bound))
    assert 0.72 <= np.mean(inside) <= 0.9


def test_a_small_panel_trusts_the_step_shape_less():
    # The same pattern on 6 series: the shape is blended with the later steps' own bucket
    # by how many series it has seen, so the later steps stay nearer that bucket.
    moved = []
    for count in (6, 300):
        errors, ages, weight = _calmed_panel(count, 13)
        shaped = pooled_width(errors, 80, 6, [weight] * count, ages)
        bucket = pooled_width(errors, 80, 6, [weight] * count)  # no cut-offs: no shape
        assert shaped is not None and bucket is not None
        moved.append(shaped.by_step[3] / bucket.by_step[3])
    assert 0.9 < moved[0] < 1.0  # 6 series: within 10% of the bucket's multiple
    assert moved[1] < 0.8  # 300 series: the shape's, well below it


def test_the_growth_with_the_step_is_read_inside_each_cut_off_and_smoothed():
    # Errors grow as the square root of the step inside every cut-off; one bucket for all
    # later steps could not follow that.
    rng = np.random.default_rng(14)
    steps = np.tile(np.arange(8), 4)
    ages = np.repeat([8, 16, 24, 32], 8)
    grow = np.sqrt(steps + 1.0)
    errors = [(grow * rng.standard_normal(32), steps) for _ in range(200)]
    pooled = pooled_width(errors, 80, 8, [recency(ages, 8, 1)] * 200, [ages] * 200)
    assert pooled is not None
    assert np.all(np.diff(pooled.by_step[1:]) > 0)
    assert 1.5 < pooled.by_step[7] / pooled.by_step[1] < 2.0  # sqrt(8 / 2) = 2 by the law
    shape = step_shape([(np.abs(z), s, np.ones(32)) for z, s in errors], [ages] * 200, 8)
    assert shape is not None
    assert np.allclose(shape[0], np.sqrt(np.arange(1, 9)), rtol=0.12)
    assert step_shape([(np.abs(z), s, np.ones(32)) for z, s in errors], [None] * 200, 8) is None


def test_later_multiples_never_fall_with_the_step():
    # Short aligned series (the sample business): one backtest cut-off scores steps 0-7 of
    # 12, its errors shrinking with the step, and no cut-off reaches steps 8-11. The shape
    # falls, the unscored steps keep the later bucket's multiple: without the monotone
    # step the multiples fell over steps 1-7 and jumped back at step 8.
    rng = np.random.default_rng(15)
    steps = np.concatenate([[0], [0, 1], np.arange(8)])
    ages = np.concatenate([[1], [2, 2], np.full(8, 8)])
    scale = np.concatenate([[1.0], [1.0, 1.0], np.linspace(1.0, 0.5, 8)])
    errors = [(scale * rng.standard_normal(len(steps)), steps) for _ in range(44)]
    weight = recency(ages, 12, 12)
    pooled = pooled_width(errors, 80, 12, [weight] * 44, [ages] * 44)
    assert pooled is not None
    assert np.all(np.diff(pooled.by_step[1:]) >= 0)
    assert pooled.by_step[1] < pooled.by_step[11]  # the unscored steps are not narrowed
    alone = pooled_width(errors, 80, 12, [weight] * 44)  # no cut-offs known: flat later steps
    assert alone is not None and np.ptp(alone.by_step[1:]) == 0


def _jumps(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A level that holds most periods and jumps now and then (a retainer, a price list)."""
    return np.where(rng.random(shape) < 0.12, rng.standard_normal(shape), 0.0)


def test_later_steps_keep_their_own_spread_when_the_next_period_mostly_has_no_error():
    # Errors are sums of occasional jumps: the next period's is exactly 0 nine times in
    # ten, a later step's much less often. The step shape is a ratio of mean errors; put
    # on the next period's 80% quantile (near 0) it made the later 80% ranges a third of
    # what they should be: fresh errors covered 87% at step 2 falling to 69% at step 6.
    # From the means, with the later steps' own quantile-to-mean ratio: 83-86%.
    rng = np.random.default_rng(16)
    blocks = [(1, 1), (2, 2), (12, 6), (18, 6), (24, 6)]  # (age, steps)
    steps = np.concatenate([np.arange(k) for _, k in blocks])
    ages = np.concatenate([np.full(k, age) for age, k in blocks])
    errors = []
    for _ in range(80):
        z = np.concatenate([np.cumsum(_jumps(rng, (k,))) for _, k in blocks])
        errors.append((z, steps))
    pooled = pooled_width(errors, 80, 6, [recency(ages, 6, 1)] * 80, [ages] * 80)
    assert pooled is not None
    fresh = np.abs(np.cumsum(_jumps(rng, (20000, 6)), axis=1))
    size = np.median([np.abs(z).mean() for z, _ in errors])
    covered = (fresh <= pooled.by_step * size).mean(axis=0)
    assert np.all(covered[1:] > 0.75), covered


def test_recent_errors_count_more_when_a_series_got_wilder_or_calmer():
    # Half the series' errors doubled in the last 6 periods, half halved; the forecast's
    # errors are at the new size. Weighting errors by how recent their cut-off was
    # (half as much 6 periods further back) covers the wilder series better and the
    # calmer ones less needlessly than counting every cut-off alike.
    rng = np.random.default_rng(4)
    blocks = [(6, 6), (9, 6), (12, 6), (15, 6), (18, 6), (1, 1), (2, 2)]  # (age, steps)
    steps = np.concatenate([np.arange(k) for _, k in blocks])
    ages = np.concatenate([np.full(k, age) for age, k in blocks])
    errors, fresh = [], []
    for i in range(40):
        before, now = (1.0, 2.0) if i % 2 else (2.0, 1.0)
        errors.append((np.where(ages <= 6, now, before) * rng.standard_normal(len(ages)), steps))
        fresh.append(now * rng.standard_normal(200))
    weight = recency(ages, 6, 1)
    gaps = []
    for known in (None, weight):
        pooled = pooled_width(errors, 80, 6, None if known is None else [known] * len(errors))
        assert pooled is not None
        bound = [width(z, 80, 6, pooled, known)[1] for z, _ in errors]
        inside = np.array([np.mean(np.abs(f) <= b) for f, b in zip(fresh, bound, strict=True)])
        gaps.append(inside[0::2].mean() - inside[1::2].mean())  # calmer minus wilder
    assert gaps[1] < gaps[0] - 0.03


def test_calibration_knows_how_far_back_each_error_s_cut_off_was():
    rng = np.random.default_rng(3)
    dates = pd.date_range("2019-01-01", periods=60, freq="MS")
    y = 100 + 10 * np.sin(np.arange(60) * np.pi / 6) + rng.normal(0, 3, 60)
    fit = _calibrated(fit_regular(regularise(dates, y), 12), 12)
    assert fit.ages is not None and len(fit.ages) == len(fit.standard)
    starts = np.flatnonzero(fit.steps == 0)  # each cut-off's errors start at step 0
    assert sorted(fit.ages[starts]) == sorted(
        60 - o for o in [*fit.origins, *calibration_origins(60, 12, fit.origins, 12, 26)]
    )


def test_calibration_adds_cut_offs_near_the_end_and_over_a_season():
    # A 14-year series backtested once, 6 years ahead from year 8: years 12 and 13 too.
    assert calibration_origins(14, 1, [8], 6, 8) == [12, 13]
    # Five years of weeks backtested 13 weeks ahead from cut-offs 6 weeks apart: they span
    # 31 weeks, so cut-offs a quarter of a year apart cover the whole year as well.
    extra = calibration_origins(260, 52, [247, 241, 235, 229], 13, 106)
    assert {208, 221, 234, 258, 259} <= set(extra)
    assert min(extra) <= 260 - 13 - 39
    # Monthly cut-offs that already span a year need no more than the last two periods.
    assert calibration_origins(60, 12, [48, 42, 36, 30], 12, 26) == [58, 59]


def test_calibration_adds_the_same_season_a_year_back():
    # 18 months ahead from cut-offs 9 months apart: none starts on the months the forecast
    # covers, so the cut-off a year before the end is added (12 errors on those months).
    assert 48 in calibration_origins(60, 12, [42, 33, 24], 18, 26)
    assert 40 in calibration_origins(44, 4, [36, 32, 28, 24], 8, 10)
    # Not before the shortest history a model may learn from, and not without a season.
    assert 14 not in calibration_origins(26, 12, [18], 8, 26)
    assert calibration_origins(14, 1, [8], 6, 8) == [12, 13]


def test_weekly_intervals_learn_from_a_whole_year_of_errors():
    # Summer weeks are three times as noisy as the rest; the history ends in spring, so
    # the last months' backtests saw only calm weeks. Cut-offs over the whole year bring
    # last summer's errors in: the 95% interval covered 50% of the summer ahead without
    # them, 70% with them (80%: 33% and 40%; the rest of the gap is a width that does
    # not change with the time of year).
    rng = np.random.default_rng(8)
    n, horizon = 4 * 52 + 20, 13
    week = np.arange(n + horizon) % 52
    summer = (week >= 20) & (week < 36)
    histories, futures = [], {}
    for i in range(12):
        level = 500 + 50 * np.sin(2 * np.pi * week / 52)
        noise_sd = np.where(summer, 30.0, 10.0)
        y = level + rng.normal(0, 1, n + horizon) * noise_sd
        histories.append(y[:n])
        paths = level[n:] + rng.normal(0, 1, (DRAWS, horizon)) * noise_sd[n:]
        futures[f"S{i:02d}"] = paths
    out = forecast_panel(_panel(histories, "W-SUN"), horizon)
    assert _coverage(out, futures, 95) >= 0.6


def test_a_daily_calendar_model_is_backtested_once_per_cut_off():
    rng = np.random.default_rng(9)
    days = pd.date_range("2023-01-01", periods=400, freq="D")
    y = 100 + 20 * (days.day_of_week >= 5) + rng.normal(0, 5, 400)
    fit = fit_regular(regularise(days, y), 14)
    assert "calendar" in fit.backtests
    assert len(fit.backtests["calendar"][0]) == len(fit.backtests["ets"][0])


def test_a_panel_gives_the_pooled_widths_each_error_s_cut_off(monkeypatch):
    # The step shape needs each error's cut-off; without it the later steps silently
    # fall back to one pooled quantile, so the panel's wiring is checked here.
    from smbml_connect.analytics.forecast import engine

    seen = []

    def spy(errors, levels, horizon, weights=None, ages=None):
        seen.append((errors, ages))
        return pooled_width_per_level(errors, levels, horizon, weights, ages)

    monkeypatch.setattr(engine, "pooled_width_per_level", spy)
    rng = np.random.default_rng(17)
    dates = pd.date_range("2020-01-01", periods=48, freq="MS")
    frame = pd.concat(
        pd.DataFrame({"unique_id": f"s{i}", "ds": dates, "y": 100 + rng.normal(0, 5, 48).cumsum()})
        for i in range(6)
    )
    forecast_panel(frame, 6)
    assert len(seen) == 1
    errors, ages = seen[0]
    assert ages is not None and len(ages) == len(errors) == 6
    assert all(a is not None and len(a) == len(z) for (z, _), a in zip(errors, ages, strict=True))
    assert all(np.unique(a).size > 1 for a in ages)  # several cut-offs per series


def test_pooled_multiples_equal_a_quantile_worked_out_by_hand():
    # Written out from the definition, apart from the code: each series' |errors| over
    # its size (its weighted mean shrunk with weight n/(n+30) towards the median of the
    # series' means, n the effective count), then the first value whose cumulative
    # weight reaches the level, every series' weights summing to one.
    rng = np.random.default_rng(19)
    panel = []
    for i in range(7):
        steps = np.tile(np.arange(4), 3)
        panel.append((rng.standard_t(4, 12) * (1 + i), steps, rng.uniform(0.2, 1.0, 12)))
    means = [np.sum(w * np.abs(z)) / np.sum(w) for z, _, w in panel]
    center = float(np.median(means))

    def by_hand(level: int, later: bool) -> float:
        values, shares = [], []
        for (z, step, w), mean in zip(panel, means, strict=True):
            n = w.sum() ** 2 / (w**2).sum()
            size = (n * mean + 30 * center) / (n + 30)
            chosen = (step > 0) if later else (step == 0)
            values.append(np.abs(z[chosen]) / size)
            shares.append(w[chosen] / w[chosen].sum())
        v, s = np.concatenate(values), np.concatenate(shares)
        order = np.argsort(v)
        cumulative = np.cumsum(s[order]) / s.sum()
        return float(v[order][np.searchsorted(cumulative, level / 100)])

    errors = [(z, step) for z, step, _ in panel]
    weights = [w for _, _, w in panel]
    for level in (50, 80, 95):
        pooled = pooled_width(errors, level, 4, weights)
        assert pooled is not None
        assert pooled.center == pytest.approx(center)
        assert pooled.by_step[0] == pytest.approx(by_hand(level, later=False))
        assert np.allclose(pooled.by_step[1:], by_hand(level, later=True))


def test_errors_that_weigh_nothing_leave_no_warning_and_no_gap():
    # Recency halves an error's weight every horizon back, so a cut-off thousands of
    # periods back weighs exactly 0; the step shape divided 0 by 0 there.
    rng = np.random.default_rng(21)
    steps = np.tile(np.arange(4), 3)
    ages = np.repeat([4, 8, 5000], 4)
    errors = [(rng.standard_normal(12), steps) for _ in range(8)]
    weight = recency(ages, 4, 1)
    assert weight is not None and weight[-1] == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pooled = pooled_width(errors, 80, 4, [weight] * 8, [ages] * 8)
        lone = pooled_width(errors, 80, 4, [np.where(ages > 8, 0.0, 1.0)] * 8, [ages] * 8)
    assert pooled is not None and lone is not None
    assert np.all(np.isfinite(pooled.by_step)) and np.all(np.isfinite(lone.by_step))
