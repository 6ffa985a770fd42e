"""Worksheet functions on input real sheets hold: counts and amounts typed as text with a
point before three digits, A/B counts at any size, yen prices, negative costs, numbers as
headers, prices that rose with a growing shop."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from smbml_connect.functions import FunctionContext, call


def fresh() -> FunctionContext:
    return FunctionContext()


def row(result):
    assert result.error is None, result.error
    return dict(zip(result.value[0], result.value[1], strict=True))


@pytest.mark.parametrize("exponent", range(6, 16))
def test_two_identical_versions_are_even_at_any_count(exponent):
    visitors = 10**exponent
    result = row(call("ABTEST", [visitors // 10, visitors, visitors // 10, visitors], fresh()))
    assert result["chance B beats A"] == pytest.approx(0.5, abs=1e-3)
    assert result["verdict"] == "No difference so far"


def test_huge_counts_keep_the_exact_chance_and_beyond_them_are_refused():
    # Nearly every visitor converts: the non-conversions are 0 against 2, whose chance
    # that B's rate is above A's is exactly (1/2)^3 under the flat priors.
    n = 10**15
    assert row(call("ABTEST", [n, n, n - 2, n], fresh()))["chance B beats A"] == pytest.approx(
        0.125, abs=1e-6
    )
    refused = call("ABTEST", [10**15, 10**16, 10**15, 10**16], fresh())
    assert refused.code == "#VALUE!"
    assert "visitors_a can be at most 1,000,000,000,000,000" in refused.error


def test_text_counts_with_a_point_before_three_digits_are_thousands():
    typed = call("ABTEST", ["120", "1.000", "150", "1.000"], fresh())
    as_numbers = call("ABTEST", [120, 1000, 150, 1000], fresh())
    assert typed.value == as_numbers.value
    assert "visitors_a: '1.000' read as 1,000: a count is a whole number" in typed.notes[0]
    german = call("ABTEST", ["1.200", "10.000", "1.300", "10.000"], fresh())
    assert german.value == call("ABTEST", [1200, 10000, 1300, 10000], fresh()).value
    half = call("ABTEST", ["12.5", 100, 1, 10], fresh())
    assert half.error == "ABTEST: conversions_a must be a whole number of 0 or more, got '12.5'"


def _orders(amounts):
    ids = [["K1"], ["K1"], ["K2"], ["K2"], ["K3"]]
    days = [dt.datetime(2024, 1, 3), dt.datetime(2024, 2, 9), dt.datetime(2024, 3, 1),
            dt.datetime(2024, 3, 30), dt.datetime(2024, 1, 20)]  # fmt: skip
    return ids, [[d] for d in days], [[a] for a in amounts]


def _shop(customers=34):
    """A furniture shop's orders with whole-euro amounts typed the German way."""
    ids, dates, amounts = [], [], []
    for k in range(customers):
        for n in range(1 + (k * 7) % 4):
            ids.append([f"K{k:02d}"])
            dates.append([dt.datetime(2024, 1, 1) + dt.timedelta(days=(k * 37 + n * 53) % 300)])
            euros = 450 + (k * 131 + n * 977) % 2600
            amounts.append([f"{euros // 1000}.{euros % 1000:03d}" if euros >= 1000 else str(euros)])
    return ids, dates, amounts


def test_segment_reads_amounts_whose_every_point_groups_thousands_as_thousands():
    ids, dates, amounts = _orders(["1.500", "2.000", "1.250", "3.250", "980"])
    result = call("SEGMENT", [ids, dates, amounts], fresh())
    spend = {r[0]: r[4] for r in result.value[1:]}
    assert spend == {"K1": 3500, "K2": 4500, "K3": 980}
    note = next(n for n in result.notes if "read as thousands" in n)
    assert note.startswith("amounts: 4 values like '1.500' fit either decimal mark")


def test_churn_reads_them_as_segment_does_and_says_so():
    ids, dates, amounts = _shop()
    typed = call("CHURN", [ids, dates, amounts], fresh())
    numbers = [[float(a[0].replace(".", ""))] for a in amounts]
    assert typed.value == call("CHURN", [ids, dates, numbers], fresh()).value
    assert any(n.startswith("amounts: ") and "read as thousands" in n for n in typed.notes)


def test_a_range_that_proves_a_decimal_point_keeps_it():
    ids, dates, amounts = _orders(["1.500", "2.000", "12.50", "3.250", "9.99"])
    result = call("SEGMENT", [ids, dates, amounts], fresh())
    spend = {r[0]: r[4] for r in result.value[1:]}
    assert spend["K1"] == pytest.approx(3.5)
    assert not any("thousands" in n for n in result.notes)


def test_a_year_as_a_column_header_reads_the_same_from_either_add_in():
    from excel_helpers import leads_table

    from smbml_connect.excel_addin.xlwings_bridge import _cells

    table = leads_table(rows=240, unknown=40)
    table[0][3] = 2024  # "Emails opened" headed by the year it counts
    office = call("LEADSCORE", [table], fresh())
    # xlwings hands a TABLE argument over as a DataFrame whose numbers are floats
    frame = pd.DataFrame(
        [[float(v) if isinstance(v, int) else (v or None) for v in r] for r in table[1:]],
        columns=[float(c) if isinstance(c, int) else c for c in table[0]],
    )
    xlwings = call("LEADSCORE", [_cells(frame)], fresh())
    assert office.value == xlwings.value
    reasons = " ".join(r[2] for r in xlwings.value[1:] if r[2])
    assert "2024: " in reasons and "2024.0" not in reasons


def _yen_weeks():
    """24 weeks of a tea shop's prices in yen and the units sold at each."""
    prices = [1050, 1150, 980, 1150, 1050, 1150, 980, 1050, 1150, 1050, 980, 1150] * 2
    units = [int(300 * (p / 1100) ** -0.5) + (7 * i) % 13 - 6 for i, p in enumerate(prices)]
    return prices, units


def test_prices_written_in_yen_get_whole_yen_named_in_the_reason():
    prices, units = _yen_weeks()
    typed = [[f"¥{p:,}"] for p in prices]
    result = call("PRICE", [typed, [[u] for u in units], "¥400", "7%"], fresh())
    suggested, _, _, reason = result.value[1]
    assert suggested == 1230  # a 7% step from ¥1,150 is 1,230.50: whole yen, within the step
    assert reason.startswith("Raise to 1,230 JPY (+7%)")
    assert "1,230.50" not in reason and "JPY a period" in reason
    assert any("read as yen, JPY" in n for n in result.notes)
    assert not any("fit either decimal mark" in n for n in result.notes)  # "1,150" is no 1.15
    # the full-width sign a Japanese keyboard types, and full-width digits (find56_intl 3)
    wide = [
        [f"￥{p:,}".translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789,"})] for p in prices
    ]
    assert wide[1] == ["￥１，１５０"]
    result = call("PRICE", [wide, [[u] for u in units], "￥400", "7%"], fresh())
    assert result.value[1][0] == 1230 and any("read as yen, JPY" in n for n in result.notes)
    named = call("PRICE", [[[f"{p} JPY"] for p in prices], [[u] for u in units]], fresh())
    assert named.value[1][0] == float(round(named.value[1][0]))
    assert not any("yen or yuan" in n for n in named.notes)


def test_whole_prices_as_plain_numbers_keep_the_step_they_all_share():
    # A yen shop's cells formatted as ¥ reach the function as plain numbers: 980, 1,050
    # and 1,150 are all multiples of 5, by chance 1 in 125 if priced in cents.
    prices, units = _yen_weeks()
    result = call("PRICE", [[[p] for p in prices], [[u] for u in units], 400, "7%"], fresh())
    assert result.value[1][0] == 1230
    assert "1,230.50" not in result.value[1][3]
    assert "suggested prices are multiples of 5.00, as all 3 prices given do" in result.notes


def test_prices_in_euros_are_said_in_euros_and_a_cost_in_another_currency_is_refused():
    prices, units = _yen_weeks()
    euros = [[f"{p / 100:.2f} €".replace(".", ",")] for p in prices]
    result = call("PRICE", [euros, [[u] for u in units], "4,00 €"], fresh())
    assert "€" in result.value[1][3]
    assert result.notes[-1] == "current price €11.50"
    mixed = call("PRICE", [euros, [[u] for u in units], "CHF 4.00"], fresh())
    assert mixed.error == "PRICE: unit_cost 'CHF 4.00' is in CHF, the prices in EUR"


def test_a_negative_unit_cost_is_refused_in_one_line():
    prices, units = _yen_weeks()
    for cost, shown in ((-5, "-5"), ("-¥400", "-¥400")):
        result = call("PRICE", [[[p] for p in prices], [[u] for u in units], cost], fresh())
        assert result.code == "#VALUE!"
        assert result.error == f"PRICE: unit_cost must be 0 or more, got {shown}"


def _growing_shop(weeks=24):
    """A shop whose price went 10, 11, 12 while its buyers grew: units 40 to 68."""
    prices = [10.0] * 8 + [11.0] * 8 + [12.0] * 8
    units = [40, 42, 41, 44, 45, 44, 47, 48, 50, 49, 52, 53, 55, 54, 57, 58, 60, 61, 60, 63,
             64, 66, 65, 68]  # fmt: skip
    days = [dt.datetime(2024, 1, 1) + dt.timedelta(weeks=i) for i in range(weeks)]
    return [[p] for p in prices], [[u] for u in units], [[d] for d in days]


def test_sales_that_rose_with_the_price_get_no_suggestion_and_say_why():
    prices, units, days = _growing_shop()
    result = call("PRICE", [prices, units, 6], fresh())
    suggested, elasticity, confidence, reason = result.value[1]
    assert suggested is None and confidence == "no suggestion" and elasticity > 0
    assert reason.startswith("No suggestion: sales rose with the price (elasticity +2.0")
    assert "barely react" not in reason
    assert "without the dates of the rows" in reason
    assert any(n.startswith("no dates given:") for n in result.notes)
    dated = call("PRICE", [prices, units, 6, None, None, days], fresh())
    assert dated.value[1][0] is None
    assert "even with a trend held apart" in dated.value[1][3]


def test_dates_come_last_and_hold_a_trend_apart_from_either_add_in():
    # Prices that went up and down while the shop grew 2% a week, buyers' elasticity near
    # -1.5: without dates the growth blurs it (-1.4, from -3.2 to +0.4: keep), with them
    # the trend is held apart (-1.7, a clear range).
    prices = [10, 11, 10, 12, 11, 10, 12, 11] * 6
    units = [34, 33, 42, 30, 39, 48, 33, 41, 56, 44, 53, 39, 47, 61, 44, 50, 66, 56, 75, 55,
             63, 77, 60, 70, 93, 74, 95, 68, 81, 102, 80, 96, 119, 96, 121, 91, 106, 134,
             104, 122, 149, 121, 155, 115, 138, 174, 134, 158]  # fmt: skip
    days = [dt.datetime(2024, 1, 1) + dt.timedelta(weeks=i) for i in range(48)]
    p, u = [[x] for x in prices], [[x] for x in units]
    plain = call("PRICE", [p, u, 6], fresh())
    xlwings = call("PRICE", [p, u, 6, None, None, [[d] for d in days]], fresh())
    serials = [[(d - dt.datetime(1899, 12, 30)).days] for d in days]
    office = call("PRICE", [p, u, 6, "", "", serials], fresh())
    assert xlwings.value == office.value
    assert "cannot tell" in plain.value[1][3]
    assert xlwings.value[1][3].startswith("Raise to 12.00") and xlwings.value[1][1] < -1.5
    assert any(n.startswith("dates given: a trend held apart") for n in xlwings.notes)
    # written before dates existed, a call with headers FALSE still means headers
    assert call("PRICE", [p, u, 6, "10%", False], fresh()).value == plain.value[1:]
    text = [[f"{d:%Y-%m-%d}"] for d in days]
    text[5] = ["someday"]
    named = call("PRICE", [p, u, 6, None, None, text], fresh())
    assert "row 6, dates: 'someday' is not a date, so the row was left out" in named.notes
