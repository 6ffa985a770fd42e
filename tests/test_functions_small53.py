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
