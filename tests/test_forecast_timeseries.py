"""The forecasts' quick paths (speed only) give what their general paths give.

Each quick path is checked against the general one on the same input, with the general
one forced, and on inputs the quick path must hand over (gaps, repeats, blanks, order).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from smbml_connect.analytics.forecast import timeseries
from smbml_connect.analytics.forecast.engine import (
    _predict,
    forecast_panel,
    forecast_panel_results,
)
from smbml_connect.analytics.forecast.intervals import pooled_width, pooled_width_per_level
from smbml_connect.analytics.forecast.models import Prediction
from smbml_connect.analytics.forecast.timeseries import (
    RegularSeries,
    _one_a_period,
    _period_alias,
    _row_medians,
    _seasonal_medians,
    _typed_arrays,
    centred_median,
    regularise,
    regularise_panel,
)


def _same(a: RegularSeries, b: RegularSeries) -> bool:
    return (
        a.periods.equals(b.periods)
        and (a.periods.freqstr, a.periods.name) == (b.periods.freqstr, b.periods.name)
        and np.array_equal(a.y, b.y)
        and (a.freq, a.at_period_end, a.notes, a.left_out)
        == (b.freq, b.at_period_end, b.notes, b.left_out)
    )


def _general(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timeseries, "_one_a_period", lambda *args: None)


def _quick(dates: pd.Series, values: pd.Series) -> RegularSeries | None:
    arrays = _typed_arrays(dates, values)
    return None if arrays is None else _one_a_period(arrays[0], arrays[1], None, arrays[2])


COMPLETE = {
    "years at year start": pd.date_range("1981-01-01", periods=14, freq="YS"),
    "years at year end": pd.date_range("1960-12-31", periods=30, freq="YE"),
    "quarters at quarter end": pd.date_range("2019-03-31", periods=20, freq="QE"),
    "months at month start": pd.date_range("1969-06-01", periods=40, freq="MS"),
    "months on the 15th": pd.date_range("2020-01-01", periods=30, freq="MS") + pd.Timedelta(days=14),
    "weeks on Mondays": pd.date_range("2021-01-04", periods=60, freq="W-MON"),
    "weeks on Saturdays": pd.date_range("1969-11-01", periods=60, freq="W-SAT"),
    "days at noon": pd.date_range("2023-12-20 12:00", periods=50, freq="D"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(COMPLETE))
def test_complete_typed_series_read_at_once_as_the_general_path_reads_them(name, monkeypatch):
    days = pd.Series(COMPLETE[name], name="ds")
    rng = np.random.default_rng(len(name))
    for dates in (days, days.dt.tz_localize("Europe/Berlin"), days.astype("datetime64[s]")):
        for values in (pd.Series(rng.normal(100, 9, len(days))), pd.Series(np.arange(len(days)))):
            assert _quick(dates, values) is not None  # the quick path is taken
            quick = regularise(dates, values)
            with monkeypatch.context() as forced:
                _general(forced)
                assert _same(quick, regularise(dates, values))


def test_what_needs_a_word_goes_the_general_way(monkeypatch):
    days = pd.Series(pd.date_range("2020-01-31", periods=12, freq="ME"), name="ds")
    y = pd.Series(np.arange(12.0) + 10)
    damaged = {
        "a gap": (days.drop(5), y.drop(5)),
        "a repeat": (pd.concat([days, days[-2:]]), pd.concat([y, y[-2:]])),
        "newest first": (days[::-1], y[::-1]),
        "a blank value": (days, y.where(y != 13)),
        "a blank date": (days.where(days != days[3]), y),
        "two days of one month": (days.where(days != days[4], days[5] - pd.Timedelta(days=3)), y),
        "too short": (days[:3], y[:3]),
    }
    for name, (dates, values) in damaged.items():
        assert _quick(dates, values) is None, name
        for gaps in ("zero", "interpolate"):
            try:
                seen = regularise(dates, values, gaps=gaps)
            except Exception as error:  # the same refusal both ways
                seen = repr(error)
            with monkeypatch.context() as forced:
                _general(forced)
                try:
                    general = regularise(dates, values, gaps=gaps)
                except Exception as error:
                    general = repr(error)
            assert (seen == general) if isinstance(seen, str) else _same(seen, general), name


def _panel() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    parts = []
    for i, (freq, n) in enumerate(
        [("YS", 16), ("QE", 24), ("MS", 40), ("ME", 36), ("W-WED", 70)] * 2
    ):
        ds = pd.date_range("2015-01-01", periods=n, freq=freq)
        y = 50 + np.cumsum(rng.normal(1, 3, n)) + 10 * np.sin(np.arange(n))
        parts.append(pd.DataFrame({"unique_id": f"s{9 - i}", "ds": ds, "y": np.abs(y)}))
    frame = pd.concat(parts, ignore_index=True)
    frame.loc[frame.index[[3, 50, 51, 140]], "y"] = np.nan  # blanks in three series
    return frame.drop(index=[200, 201])  # and a gap in another


def test_a_panel_is_read_as_series_by_series(monkeypatch):
    frame = _panel()
    shuffled = frame.sample(frac=1.0, random_state=2)
    with_ids = frame.assign(unique_id=pd.Categorical(frame["unique_id"], [*"xyz", *frame["unique_id"].unique()]))  # fmt: skip
    texts = frame.astype({"y": object})
    texts.loc[texts.index[[7, 120]], "y"] = "n/a"  # named by their rows in the panel
    for panel in (frame, shuffled, with_ids, frame.astype({"ds": object}), texts):
        for gaps in ("zero", "interpolate"):
            regular, skipped = regularise_panel(panel, gaps)
            expected: dict[str, RegularSeries] = {}
            refused: dict[str, str] = {}
            numbered = panel.reset_index(drop=True)
            with monkeypatch.context() as forced:
                _general(forced)
                for uid, group in numbered.groupby("unique_id", sort=True, observed=False):
                    try:
                        expected[str(uid)] = regularise(group["ds"], group["y"], gaps=gaps,
                                                        row_numbers=group.index + 1)  # fmt: skip
                    except Exception as error:
                        refused[str(uid)] = str(error)
            assert list(regular) == list(expected) and skipped == refused
            assert panel is not texts or sum(len(r.left_out) for r in regular.values()) == 2
            assert all(_same(regular[uid], expected[uid]) for uid in expected)


def test_a_panel_frame_is_its_series_frames_one_after_another():
    """forecast_panel builds whole columns; the per-series frames are the general path."""
    frame = _panel()
    out = forecast_panel(frame, 5, levels=(50, 80, 95))
    results, skipped = forecast_panel_results(frame, 5, levels=(50, 80, 95))
    parts = []
    for uid, result in results.items():
        part = result.frame.copy()
        part.insert(0, "unique_id", uid)
        part["season_length"] = result.season_length
        part["note"] = "; ".join(result.notes)
        parts.append(part)
    expected = pd.concat(parts, ignore_index=True)
    assert expected["note"].str.len().gt(0).any() and expected["ds"].nunique() > 20
    pd.testing.assert_frame_equal(out, expected, check_exact=True)
    assert out.attrs["skipped"] == skipped


def test_medians_are_pandas_rolling_and_group_medians():
    rng = np.random.default_rng(0)
    for _ in range(400):
        n = int(rng.integers(1, 70))
        y = np.round(rng.standard_t(2, n) * 10, int(rng.integers(0, 3)))  # ties too
        if rng.random() < 0.3:
            y[rng.random(n) < 0.2] = np.nan
        if rng.random() < 0.1:
            y[rng.random(n) < 0.1] = np.inf * rng.choice([-1, 1])
        window, m = int(rng.choice([5, 7, 13, 53])), int(rng.choice([2, 4, 7, 12, 52]))
        rolled = pd.Series(y).rolling(window, center=True, min_periods=window // 2 + 1).median()
        assert np.array_equal(centred_median(y, window), rolled.to_numpy(), equal_nan=True)
        grouped = pd.Series(y).groupby(np.arange(n) % m).transform("median")
        assert np.array_equal(_seasonal_medians(y, m), grouped.to_numpy(), equal_nan=True)
        with warnings.catch_warnings():  # nanmedian warns on a row of blanks
            warnings.simplefilter("ignore")
            expected = np.nanmedian(y)
        assert np.array_equal(_row_medians(y[None, :])[0], expected, equal_nan=True)


def test_weeks_start_on_the_weekday_most_dates_fall_on_the_earliest_on_a_tie():
    rng = np.random.default_rng(1)
    names = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
    for _ in range(300):
        weekdays = rng.integers(0, 7, int(rng.integers(1, 12)))
        assert _period_alias("W", weekdays) == "W-" + names[pd.Series(weekdays).mode().iloc[0]]
    assert regularise(COMPLETE["weeks on Saturdays"], np.ones(60)).periods.freqstr == "W-FRI"


def test_a_combination_is_its_members_mean_to_the_bit():
    rng = np.random.default_rng(4)
    members = {
        name: Prediction(rng.normal(0, 10.0**k, 9), rng.gamma(2.0, 10.0**k, 9))
        for k, name in enumerate(("a", "b", "c"))
    }
    bases = {name: (lambda y, m, h, p=p: p) for name, p in members.items()}
    for name in ("a+b", "a+b+c", "c+a+b"):
        parts = [members[part] for part in name.split("+")]
        got = _predict(name, bases, np.ones(12), 1, 9)
        assert np.array_equal(got.mean, np.mean([p.mean for p in parts], axis=0))
        assert np.array_equal(got.sd, np.mean([p.sd for p in parts], axis=0))


def test_pooled_widths_for_several_levels_are_each_level_alone():
    rng = np.random.default_rng(6)
    errors = [(rng.standard_t(4, 12) * (1 + i), np.tile(np.arange(4), 3)) for i in range(8)]
    weights = [rng.uniform(0.2, 1.0, 12) for _ in errors]
    together = pooled_width_per_level(errors, [50, 80, 95], 6, weights)
    assert together is not None
    for level in (50, 80, 95):
        alone = pooled_width(errors, level, 6, weights)
        assert alone is not None and together[level].center == alone.center
        assert np.array_equal(together[level].by_step, alone.by_step)
    assert together[50].by_step[0] < together[95].by_step[0]
