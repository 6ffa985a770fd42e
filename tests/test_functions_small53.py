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


def test_price_with_a_week_at_each_of_two_prices_says_nothing_was_held_apart() -> None:
    """A week at 10.00, the next at 12.00 (the commonest test a shop runs): a trend through
    two dates is the price change itself, yet the note said "a trend held apart"."""
    prices = [[10.0]] * 12 + [[12.0]] * 12
    units = [[30 + i % 3] for i in range(12)] + [[24 + i % 3] for i in range(12)]
    dates = [[dt.datetime(2026, 1, 5)]] * 12 + [[dt.datetime(2026, 1, 12)]] * 12
    undated = call("PRICE", [prices, units, 6], fresh())
    two = call("PRICE", [prices, units, 6, None, None, dates], fresh())
    assert two.error is None, two.error
    assert two.value == undated.value
    assert not any("a trend held apart" in n for n in two.notes), two.notes
    assert any("each of the two dates (2026-01-05, 2026-01-12) has one price" in n
               for n in two.notes)  # fmt: skip


def test_segment_without_as_of_names_the_day_that_typed_gives_the_same_answer() -> None:
    """The default said "as of 2026-11-01" (the next midnight), but typing 2026-11-01 now
    means the end of that day: every recency one day higher (review53b item 5)."""
    ids, dates, amounts = _shop_orders()
    default = call("SEGMENT", [ids, dates, amounts], fresh())
    (said,) = [n for n in default.notes if n.startswith("as of ")]
    typed = call("SEGMENT", [ids, dates, amounts, said.removeprefix("as of ")], fresh())
    assert typed.value == default.value


def _kuwait_orders(written) -> tuple[list[list[str]], list[list[dt.datetime]], list[list[object]]]:
    """A Kuwaiti shop's orders: dinars with their three decimals (fils), as typed."""
    rng = np.random.default_rng(7)
    ids, dates, amounts = [], [], []
    for n in range(12):
        for _ in range(int(rng.integers(1, 4))):
            fils = int(rng.integers(1500, 40000)) // 250 * 250  # 1.500 .. 39.750 KWD
            ids.append([f"K{n:02d}"])
            dates.append([dt.datetime(2026, 1, 3) + dt.timedelta(days=int(rng.integers(0, 300)))])
            amounts.append([written(fils)])
    return ids, dates, amounts


def _spend(result) -> dict[str, float]:
    return {c: r["spend"] for c, r in _by_customer(result).items()}


def test_amounts_in_a_three_decimal_currency_are_dinars_not_thousands() -> None:
    for code in ("KWD", "BHD", "JOD", "OMR", "TND"):
        ids, dates, typed = _kuwait_orders(lambda f, c=code: f"{f // 1000}.{f % 1000:03d} {c}")
        _, _, numbers = _kuwait_orders(lambda f: f / 1000)
        result = call("SEGMENT", [ids, dates, typed, "2026-12-01"], fresh())
        expected = _spend(call("SEGMENT", [ids, dates, numbers, "2026-12-01"], fresh()))
        assert _spend(result) == expected, code
        assert any(f"because {code} is written with three decimals" in n for n in result.notes)


def test_number_cells_in_the_range_settle_the_scale_of_the_text_ones() -> None:
    def some_as_text(fils: int) -> object:  # every third amount pasted as text
        return f"{fils // 1000}.{fils % 1000:03d}" if fils % 3 == 0 else fils / 1000 + 0.005

    ids, dates, mixed = _kuwait_orders(some_as_text)
    numbers = [[float(a[0]) if isinstance(a[0], str) else a[0]] for a in mixed]
    assert any(isinstance(a[0], str) for a in mixed) and any(
        not isinstance(a[0], str) for a in mixed
    )
    result = call("SEGMENT", [ids, dates, mixed, "2026-12-01"], fresh())
    assert _spend(result) == _spend(call("SEGMENT", [ids, dates, numbers, "2026-12-01"], fresh()))
    assert any("read as decimals" in n and "numbers beside them" in n for n in result.notes)
    # A FORECAST's values likewise: the text month among numbers is on their scale.
    months = [[dt.datetime(2025, m, 1)] for m in range(1, 13)]
    values = [[12.25 + m * 0.5] for m in range(12)]
    values[5] = ["15.000"]
    forecast = call("FORECAST", [months, values, 3], fresh())
    as_numbers = call(
        "FORECAST", [months, [[15.0] if i == 5 else v for i, v in enumerate(values)], 3], fresh()
    )
    assert forecast.value == as_numbers.value


def test_whole_numbers_beside_text_amounts_in_thousands_keep_them_thousands() -> None:
    """A German shop's "1.500" beside a typed 2000: still thousands, said why."""
    ids, dates, _ = _kuwait_orders(str)
    amounts = [["1.500"] if i % 2 else [2000 + 10 * i] for i in range(len(ids))]
    result = call("SEGMENT", [ids, dates, amounts, "2026-12-01"], fresh())
    spend = _spend(result)
    assert all(v >= 1500 for v in spend.values()), spend
    assert any("read as thousands" in n and "numbers beside them" in n for n in result.notes)


def test_dinars_and_rials_written_as_gulf_shops_write_them_are_read() -> None:
    """ "KD 12.500" (and "K.D.", "د.ك", "BD", "JD", "RO") was no number: SEGMENT said "no
    rows with a customer id, a date and an amount" (review53b item 4). "EURO" is no rial."""
    from smbml_connect.schema import money_mark

    for written, code in (("KD {}", "KWD"), ("{} K.D.", "KWD"), ("{} د.ك", "KWD"),
                          ("BD {}", "BHD"), ("JD {}", "JOD"), ("RO {}", "OMR")):  # fmt: skip
        ids, dates, typed = _kuwait_orders(
            lambda f, w=written: w.format(f"{f // 1000}.{f % 1000:03d}")
        )
        _, _, numbers = _kuwait_orders(lambda f: f / 1000)
        result = call("SEGMENT", [ids, dates, typed, "2026-12-01"], fresh())
        assert result.error is None, (written, result.error)
        expected = _spend(call("SEGMENT", [ids, dates, numbers, "2026-12-01"], fresh()))
        assert _spend(result) == expected, written
        assert money_mark(written.format("12.500")) == code
    assert money_mark("EURO 12") is None and money_mark("12 EUR") == "EUR"


def test_the_run_reads_every_three_decimal_currency_code_it_knows() -> None:
    """ "BHD 1.500" was not a number at all (the code was unknown), in a run as in SEGMENT."""
    from smbml_connect.coerce import parse_number
    from smbml_connect.money_words import THREE_DECIMALS

    for code in sorted(THREE_DECIMALS):
        assert parse_number(f"{code} 1.500") == 1.5, code
        assert parse_number(f"12.750 {code}") == 12.75, code


def test_cents_beside_text_amounts_on_the_thousands_scale_do_not_make_them_decimals() -> None:
    """{"1.500"; 1999.99; 2450.5; "2.000"}: one number with cents read the text as 1.5 and
    2.0, though the numbers beside them are on the thousands' scale (review53b item 8)."""
    ids = [["A"], ["A"], ["B"], ["B"]]
    dates = [[dt.datetime(2026, 1, d)] for d in (5, 9, 12, 20)]
    amounts = [["1.500"], [1999.99], [2450.5], ["2.000"]]
    result = call("SEGMENT", [ids, dates, amounts, "2026-03-01"], fresh())
    spend = {row[0]: row[4] for row in result.value[1:]}
    assert spend == {"A": 3499.99, "B": 4450.5}, (spend, result.notes)
