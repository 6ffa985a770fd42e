import pandas as pd
import pytest

from smbml_connect.coerce import (
    ColumnFormat,
    coerce_bool,
    coerce_datetime,
    coerce_float,
    coerce_int,
    coerce_string,
    parse_number,
    read_dates,
    read_numbers,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,234.50", 1234.5),
        ("$99", 99.0),
        ("€1.234,50", 1234.5),
        ("12,5", 12.5),
        ("1,234", 1234.0),
        ("1,234,567", 1234567.0),
        ("1.234.567", 1234567.0),
        ("(45.10)", -45.1),
        ("-3", -3.0),
        ("12%", 0.12),
        (" 7 ", 7.0),
        ("1 234,5", 1234.5),
        ("USD 20", 20.0),
        (3, 3.0),
        ("1e3", 1000.0),
        # money as spreadsheets show it around the world (a Swedish sheet saved as CSV
        # wrote "1 234,50 kr" with a no-break space, and every total was left empty)
        ("1\u00a0234,50 kr", 1234.5),
        ("R$ 1.234,56", 1234.56),
        ("kr 99,00", 99.0),
        ("99,00 zł", 99.0),
        ("1 234 Ft", 1234.0),
        ("NZ$12.50", 12.5),
        ("US$ 5.00", 5.0),
        ("HK$12.50", 12.5),
        ("Fr. 12.50", 12.5),
        ("₩1,200", 1200.0),
        ("₽ 100", 100.0),
        ("1\u202f234,56", 1234.56),  # narrow no-break space: French grouping today
        ("−12,50", -12.5),  # U+2212, the minus sign of Nordic formats
        ("-$12.00", -12.0),
        ("CHF 1\u2019234.50", 1234.5),
    ],
)
def test_numbers_as_people_write_them(text, expected):
    assert parse_number(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text", ["abc", "12abc", "abc12", "kr", "1.2.3,4,5", True, "inf", float("inf")]
)
def test_not_numbers_raise(text):
    with pytest.raises(ValueError):
        parse_number(text)


def test_missing_is_missing_not_invalid():
    values, invalid = coerce_float(pd.Series(["", "N/A", None, " - ", "5"], dtype=object))
    assert values.isna().tolist() == [True, True, True, True, False]
    assert not invalid.any()


def test_int_rejects_fractions_and_keeps_the_rest():
    values, invalid = coerce_int(pd.Series(["3", "3.0", "3.5", "x"], dtype=object))
    assert values.tolist()[:2] == [3, 3]
    assert invalid.tolist() == [False, False, True, True]


def test_booleans():
    values, invalid = coerce_bool(pd.Series(["yes", "TRUE", 1, 0, "No", "opted out", "maybe", ""]))
    assert values.tolist()[:6] == [True, True, True, False, False, False]
    assert invalid.tolist() == [False] * 6 + [True, False]


def test_ids_from_excel_floats_lose_the_point_zero_but_keep_text_zeros():
    values, _ = coerce_string(pd.Series([12345.0, "00123", "  padded  "], dtype=object))
    assert values.tolist() == ["12345", "00123", "padded"]


def test_dates_in_many_shapes_become_utc():
    series = pd.Series(
        [
            "2025-03-14",
            "2025-03-14T10:30:00+02:00",
            "03/14/2025",
            "14 March 2025",
            1741910400000,  # epoch milliseconds (HubSpot)
            "1741910400",  # epoch seconds
            45730,  # Excel serial for 2025-03-14
            pd.Timestamp("2025-03-14"),
        ],
        dtype=object,
    )
    values, invalid = coerce_datetime(series)
    assert not invalid.any()
    assert str(values.dt.tz) == "UTC"
    assert (values.dt.date.astype(str) == "2025-03-14").all()
    assert values.iloc[1].hour == 8


def test_day_first_is_decided_per_column():
    values, invalid = coerce_datetime(pd.Series(["25/12/2024", "03/04/2025"]))
    assert not invalid.any()
    assert values.iloc[1].month == 4 and values.iloc[1].day == 3


@pytest.mark.parametrize("text", ["2025-13-01", "31/02/2025", "next Tuesday", "March 5", "12"])
def test_impossible_or_yearless_dates_are_invalid(text):
    _, invalid = coerce_datetime(pd.Series([text], dtype=object))
    assert invalid.all()


def test_a_column_decides_its_decimal_mark_and_context_free_callers_keep_the_point():
    values, invalid = coerce_float(pd.Series(["0,125", "1.234", "3,000"], dtype=object))
    assert values.tolist() == [0.125, 1234.0, 3.0] and not invalid.any()
    values, invalid = coerce_float(pd.Series(["1,234", "7"], dtype=object))
    assert values.tolist() == [1234.0, 7.0] and not invalid.any()


def test_a_whole_amount_written_with_a_dash_for_its_cents_is_that_amount():
    """German, Austrian, Swiss and Dutch prices: "12,-" and "12.–" are twelve; the trailing
    minus of "12,-" was read as a ledger's negative, -12 (the Excel helper found it)."""
    assert parse_number("12,-") == 12 and parse_number("12.–") == 12
    assert parse_number("€ 1.250,-") == 1250 and parse_number("CHF 1'250.–") == 1250
    assert parse_number("99-") == -99 and parse_number("12,50-") == -12.5  # ledgers' negatives
    # the dash keeps its mark, which says the column's decimal mark: 1.100 is 1100 beside it
    reading = read_numbers(pd.Series(["1.250,-", "1.100"]))
    assert reading.values.tolist() == [1250.0, 1100.0] and not reading.invalid.any()


def test_year_first_text_with_an_hours_offset_is_not_read_day_first() -> None:
    """ "2025-10-07T09:50:26-04" (an offset of hours alone) has no word boundary before its
    "T": the year-first rule missed it and a day-first column read it as 10 July."""
    cells = pd.Series(["2025-10-07T09:50:26-04", "25/12/2025"])
    read = read_dates(cells, fmt=ColumnFormat(day_first=True))
    assert read.values.iloc[0] == pd.Timestamp("2025-10-07 13:50:26", tz="UTC")
