"""Worksheet functions read as the run reads (review53 5, 6, 8): an ``as_of`` date counts
the whole of that day, as the config's does."""

from __future__ import annotations

import datetime as dt

import numpy as np

from smbml_connect.functions import FunctionContext, call


def fresh() -> FunctionContext:
    return FunctionContext()


def _shop_orders(
    seed: int = 3,
) -> tuple[list[list[str]], list[list[dt.datetime]], list[list[float]]]:
    """A few dozen customers' orders at irregular hours; a handful ordered on 31 October."""
    rng = np.random.default_rng(seed)
    ids, dates, amounts = [], [], []
    for n in range(36):
        for _ in range(int(rng.integers(1, 5))):
            day = dt.datetime(2025, 11, 1) + dt.timedelta(days=int(rng.integers(0, 364)))
            ids.append([f"C{n:02d}"])
            dates.append([day + dt.timedelta(hours=int(rng.integers(8, 20)), minutes=17)])
            amounts.append([round(float(rng.gamma(2.0, 30.0)), 2)])
    for n in (4, 11, 27):  # their last order: the morning of the day as_of names
        ids.append([f"C{n:02d}"])
        dates.append([dt.datetime(2026, 10, 31, 9, 40)])
        amounts.append([55.0])
    return ids, dates, amounts


def _by_customer(result) -> dict[str, dict[str, object]]:
    assert result.error is None, result.error
    header = result.value[0]
    return {r[0]: dict(zip(header, r, strict=True)) for r in result.value[1:]}


def test_an_as_of_date_counts_that_whole_day_on_segment_and_churn() -> None:
    ids, dates, amounts = _shop_orders()
    for name in ("SEGMENT", "CHURN"):
        whole_day = call(name, [ids, dates, amounts, "2026-10-31 23:59:59"], fresh())
        for given in ("2026-10-31", dt.datetime(2026, 10, 31), dt.date(2026, 10, 31), 46326):
            dated = call(name, [ids, dates, amounts, given], fresh())
            assert _by_customer(dated) == _by_customer(whole_day), (name, given)
            assert not any("left out" in n for n in dated.notes), (name, given, dated.notes)
            assert "as of 2026-10-31" in dated.notes


def test_a_time_written_stays_that_moment_and_the_orders_after_it_are_said() -> None:
    ids, dates, amounts = _shop_orders()
    morning = call("SEGMENT", [ids, dates, amounts, "2026-10-31 09:00"], fresh())
    day = call("SEGMENT", [ids, dates, amounts, "2026-10-31"], fresh())
    assert "3 orders after as_of 2026-10-31 09:00 left out" in morning.notes
    before, after = _by_customer(morning), _by_customer(day)
    for customer in ("C04", "C11", "C27"):
        assert after[customer]["orders"] == before[customer]["orders"] + 1
        assert after[customer]["days since last order"] == 0
    midnight = call("SEGMENT", [ids, dates, amounts, "2026-10-31 00:00"], fresh())
    assert "3 orders after as_of 2026-10-31 00:00 left out" in midnight.notes


def _weekly_sales(
    weeks: int = 24,
) -> tuple[list[list[float]], list[list[int]], list[list[dt.datetime]]]:
    """A shop trying three prices in turn over half a year, selling a little more each week."""
    prices = [10.0, 11.0, 12.0] * (weeks // 3)
    units = [round((40 + i * 1.2) * (p / 10) ** -1.5) for i, p in enumerate(prices)]
    start = dt.datetime(2026, 1, 5)
    dates = [[start + dt.timedelta(weeks=i)] for i in range(weeks)]
    return [[p] for p in prices], [[u] for u in units], dates


def test_price_with_one_date_for_every_row_says_nothing_was_held_apart() -> None:
    prices, units, dates = _weekly_sales()
    undated = call("PRICE", [prices, units, 6], fresh())
    one_day = call("PRICE", [prices, units, 6, None, None, [dates[0]] * len(dates)], fresh())
    assert one_day.error is None, one_day.error
    assert one_day.value == undated.value  # nothing held apart: the answer without dates
    assert not any("a trend held apart" in n for n in one_day.notes), one_day.notes
    assert any("every row has the same date (2026-01-05)" in n for n in one_day.notes)
    dated = call("PRICE", [prices, units, 6, None, None, dates], fresh())
    assert any(n.startswith("dates given: a trend held apart") for n in dated.notes)
