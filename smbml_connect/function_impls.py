"""What each worksheet function computes: cell values in, a frame out, via the analytics.

Each returns `(frame, notes)`: the frame is what spills (its columns are the header),
notes say what was left out or assumed, for the task pane and the log. Dates that
default to "today" default instead to the day after the last order, so the same
inputs always give the same answer and the cache stays right.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from smbml_connect.analytics.customers.segments import rfm_table
from smbml_connect.analytics.customers.value import CustomerValueModel
from smbml_connect.analytics.experiments.abtest import ab_test
from smbml_connect.analytics.forecast.engine import MODEL_WORDS, forecast_regular
from smbml_connect.analytics.forecast.models import warm_up
from smbml_connect.analytics.forecast.timeseries import FREQUENCIES, RegularSeries, regularise
from smbml_connect.analytics.leads.scoring import LeadScorer, parse_target
from smbml_connect.analytics.pricing.suggest import (
    Guardrails,
    confidence_text,
    price_grid,
    suggest_price,
)
from smbml_connect.business_zone import day_end, zone_named
from smbml_connect.cell_values import (
    CellError,
    as_number,
    as_rows,
    as_table,
    as_text,
    blank,
    flag,
    paired_columns,
    single,
)
from smbml_connect.coerce import (
    ColumnFormat,
    Hint,
    Reading,
    coerce_datetime,
    coerce_string,
    number_evidence,
    parse_datetime,
    parse_number,
    read_dates,
    read_numbers,
)
from smbml_connect.errors import DataValidationError, NotEnoughDataError
from smbml_connect.excel_ets import (
    EtsModel,
    Timeline,
    chosen_season,
    fit_aaa,
    prepare,
    steps_ahead,
)
from smbml_connect.layouts import total_row_label
from smbml_connect.money_words import THREE_DECIMALS
from smbml_connect.result_cache import ResultCache, input_hash
from smbml_connect.sales import REFUNDED, refunds, why_not_sale
from smbml_connect.schema import money_mark, shared_sign

__all__ = [
    "Result",
    "abtest",
    "churn",
    "forecast",
    "forecast_ets",
    "forecast_ets_confint",
    "forecast_ets_seasonality",
    "leadscore",
    "leadscore_of",
    "price",
    "segment",
    "warm_up",
]

Result = tuple[pd.DataFrame, list[str]]
TARGET_WORDS = ("converted", "outcome", "won", "customer", "result", "target", "label", "bought")
MIN_FORECAST_DATES = 8
# The furthest a forecast reaches: 1,000 periods (about 83 years of months, 19 of weeks).
# Past it the dates leave what Excel can show and the range says nothing anyway.
MAX_HORIZON = 1000
# How far ahead FORECAST chooses its model and ranges on, per frequency, whatever horizon
# is asked: so =FORECAST(d, v, 3) and =FORECAST(d, v, 12) show the same first three
# periods (each chosen on its own horizon, 24 months gave January 249.97 [226.3, 273.7]
# and 249.72 [224.6, 274.9]). A year of months as the Forecast tab, and the M4
# competition's horizons for the others.
TESTED_HORIZON = {"D": 14, "W": 13, "M": 12, "Q": 8, "Y": 6}
MAX_ROW_NOTES = 20  # rows named one by one in the notes; the rest are counted
_POINT_HINT = Hint(decimal=".", decimal_why="no other value tells")
# Every value with a mark has three digits after it ("1.500", "2.000"): thousands, as
# money and counts are written; three decimals on every value is what nobody types.
_THOUSANDS_HINT = Hint(decimal=",", decimal_why="every one has three digits after its point")


def _text_cells(cells: list[Any]) -> pd.Series:
    """The cells typed as text (blank elsewhere), for the column readers of `coerce`."""
    return pd.Series([c if isinstance(c, str) and c.strip() else None for c in cells], dtype=object)


def _numbers_from_text(cells: list[Any], no_cents: bool = False) -> tuple[list[Any], list[str]]:
    """Numbers stored as text ("1,234.50", "1.234,50", "12 %", "12 EUR") read as the main
    job reads a file's column (`coerce.read_numbers`: the decimal mark decided by the
    whole column, a point when nothing tells), so a range pasted as text gives the
    number the same data gives through a run. A text cell that is not a number stays as
    it was, for the caller to name with its row. ``no_cents``: amounts in a currency
    without decimals (yen), where "1,150" can only be thousands."""
    texts = _text_cells(cells)
    if texts.isna().all():
        return cells, []
    beside = [float(c) for c in cells if _is_amount(c)]  # the range's own numbers: its scale
    reading = (
        read_numbers(texts, no_cents=True) if no_cents else _read_text_numbers(texts, beside=beside)
    )
    read = reading.values
    out = [
        float(read[i]) if isinstance(c, str) and not pd.isna(read[i]) else c
        for i, c in enumerate(cells)
    ]
    return out, [note for _, note in reading.notes]


def _read_text_numbers(
    cells: pd.Series, whole: bool = False, beside: list[float] | None = None
) -> Reading:
    """A range's numbers read as `coerce.read_numbers` reads a column, the decimal mark
    proved by its values. When none proves it and every value with a mark has three
    digits after a point ("1.500", "2.000"), the range says which it is where it can
    (`_point_is_decimal`: a currency written with three decimals, the number cells
    beside them); else the point groups thousands: read as 1.5 and 2, a euro shop's
    amounts made its Champions' spend €3.50, and visitors "1.000" were 1 visitor. A
    comma before three digits ("3,000") was thousands already. ``beside``: number cells
    of the range that are not in ``cells``."""
    texts = [c for c in cells if isinstance(c, str)]
    evidence = number_evidence(pd.Series(texts, dtype=object), whole) if texts else {}
    marks = {"," if "," in t else "." for t in texts if re.search(r"\d[.,]\d{3}\b", t)}
    by_thousands = not evidence.get(",") and not evidence.get(".") and evidence.get("?")
    if by_thousands and marks == {"."}:
        numbers = [float(c) for c in cells if _is_amount(c)] + list(beside or ())
        decimal_why = None if whole else _point_is_decimal(texts, numbers)
        if decimal_why:
            reading = read_numbers(cells, hint=_POINT_HINT, whole=whole)
            said, why = "decimals ({example!r} is {value:,})", decimal_why
        else:
            reading = read_numbers(cells, hint=_THOUSANDS_HINT, whole=whole)
            said = "thousands ({example!r} is {value:,.0f})"
            why = (
                f"the numbers beside them (like {_median(numbers):,.0f}) are on that scale"
                if numbers
                else "every one has three digits after its point"
            )
        ambiguous = evidence["?"]
        at = next(i for i, c in enumerate(cells) if isinstance(c, str) and "." in c)
        example, value = str(cells.iloc[at]).strip(), reading.values.iloc[at]
        reading.notes = [
            (kind, note) for kind, note in reading.notes if "fit either decimal mark" not in note
        ]
        read_as = (
            said.format(example=example, value=value) if not pd.isna(value) else said.split(" ")[0]
        )
        reading.notes.append(
            ("decimal", f"{ambiguous:,} value{'' if ambiguous == 1 else 's'} like {example!r} "
             f"fit either decimal mark; read as {read_as} because {why}")
        )  # fmt: skip
        return reading
    return read_numbers(cells, hint=_POINT_HINT, whole=whole)


def _point_is_decimal(texts: list[str], numbers: list[float]) -> str | None:
    """Why amounts like "12.500" are decimals (12.5), when the range says so, else None:
    they name a currency written with three decimals ("12.500 KWD": dinars and fils), or
    the range's number cells have decimals (15.25) or sit nearer 12.5 than 12,500: a
    number cell shows the scale a text one pasted beside it is on."""
    named = {m for t in texts if (m := money_mark(t)) not in (None, "?")}
    if named and named <= THREE_DECIMALS:
        verb = "is" if len(named) == 1 else "are"
        return f"{' and '.join(sorted(named))} {verb} written with three decimals"
    sizes = [abs(n) for n in numbers if n]
    read = [
        abs(v)
        for v in read_numbers(pd.Series(texts, dtype=object), hint=_POINT_HINT).values.dropna()
        if v
    ]
    # Nearer, on a log scale, to the decimals' size than to a thousand times it. Cents
    # alone do not decide: 1999.99 beside "1.500" is on the thousands' scale (review53b 8).
    if sizes and read and _median(sizes) < _median(read) * math.sqrt(1000):
        fractions = [n for n in numbers if not float(n).is_integer()]
        if fractions:
            return f"the numbers beside them have decimals (like {fractions[0]:g})"
        return f"the numbers beside them (like {_median(sizes):g}) are on that scale"
    return None


def _median(values: list[float]) -> float:
    return float(np.median(np.abs(values))) if values else 0.0


def _dates_from_text(cells: list[Any]) -> tuple[list[Any], list[str]]:
    """Dates stored as text read as the main job reads a date column (`coerce.read_dates`:
    one day/month order for the whole column, proved by its values). When no value
    proves the order (every day 12 or less, as on the 1st of each month), the order
    that makes the timeline regular is taken: 01/02/2024, 01/03/2024 ... are months
    read day-first and scattered days read month-first, and a forecast of scattered
    days (mostly filled in) is not what the user has. Ties keep month/day, coerce's
    default: within one year both can be regular (01/02/2024 ... 01/12/2024 are eleven
    months or eleven days in a row), and only a note says which was taken. A text cell
    that is not a date stays as it was, for the caller to name."""
    texts = _text_cells(cells)
    if texts.isna().all():
        return cells, []
    reading = read_dates(texts)
    notes = [note for _, note in reading.notes]
    if any(kind == "dates" and "fit both" in note for kind, note in reading.notes):
        day_first = read_dates(texts, fmt=ColumnFormat(day_first=True))
        month_first = read_dates(texts, fmt=ColumnFormat(day_first=False))
        empty_day, empty_month = _empty_periods(day_first), _empty_periods(month_first)
        if empty_day < empty_month:
            reading = day_first
            count = int(texts.notna().sum())
            notes = [
                f"{count} dates written as text fit both day/month and month/day; read as "
                f"day/month, which makes a regular timeline (month/day would leave "
                f"{empty_month} of its periods empty)"
            ]
    read = reading.values
    out = [
        read[i].tz_localize(None).to_pydatetime()
        if isinstance(c, str) and not pd.isna(read[i])
        else c
        for i, c in enumerate(cells)
    ]
    return out, notes


def _empty_periods(reading: Reading) -> int:
    """Periods of the timeline these dates make that hold no date (what a forecast would
    have to fill in); a reading that makes no timeline at all counts as all empty."""
    stamps = reading.values.dropna()
    try:
        series = regularise(list(stamps.dt.tz_localize(None)), [1.0] * len(stamps))
    except (DataValidationError, ValueError):
        return len(reading.values) + 1
    return len(series.y) - stamps.dt.normalize().nunique()


def _orders(customer_ids: Any, order_dates: Any, amounts: Any) -> tuple[pd.DataFrame, list[str]]:
    columns = paired_columns(customer_ids=customer_ids, order_dates=order_dates, amounts=amounts)
    frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in columns.items()})
    ids = coerce_string(frame["customer_ids"])[0]
    when, bad_when = coerce_datetime(frame["order_dates"])
    amounts = _read_text_numbers(frame["amounts"])
    total, bad_total = amounts.values, amounts.invalid
    read = {"customer_ids": ids, "order_dates": when, "amounts": total}
    unreadable = {"order_dates": bad_when, "amounts": bad_total}
    lost = (ids.isna() | when.isna() | total.isna()).to_numpy()
    empty = frame.map(blank).all(axis=1).to_numpy()  # a blank row held no order
    rows = frame.index[lost & ~empty]
    notes = []
    for row in rows[:MAX_ROW_NOTES]:
        # The cell that could not be read, else the blank one (a totals row's date, an
        # #N/A amount): the row's other cells are lost with it, so it is named.
        column = next((c for c, bad in unreadable.items() if bad[row]), None) or next(
            c for c, values in read.items() if pd.isna(values[row])
        )
        cell = frame.at[row, column]
        shown = "blank" if blank(cell) else repr(cell)
        notes.append(f"row {row + 1}, {column}: {shown}, so the order was left out")
    if len(rows) > MAX_ROW_NOTES:
        notes.append(f"and {len(rows) - MAX_ROW_NOTES} more rows left out")
    notes += [f"amounts: {note}" for _, note in amounts.notes]
    orders = pd.DataFrame(
        {"contact_id": ids, "ordered_at": when, "total": total.astype(float), "status": None}
    ).dropna(subset=["contact_id", "ordered_at", "total"])
    if orders.empty:
        raise DataValidationError("no rows with a customer id, a date and an amount")
    return orders, notes


def _refund_notes(orders: pd.DataFrame, when: pd.Timestamp) -> list[str]:
    """One line per row up to ``when`` that is not counted as typed, as `rfm_table` and
    the value model count (``sales.refunds``): a negative amount is a refund, taken off the
    customer's earlier orders, or left out when they have none; an order a later refund
    took back in full is no order. A customer whose one row was a refund was missing from
    the answer, unsaid (find56_marketer item 7)."""
    back = refunds(orders)
    whole = why_not_sale(orders).eq(REFUNDED).to_numpy()
    shown = orders["ordered_at"].le(when).to_numpy()
    notes = []
    for at, row in enumerate(orders.itertuples()):
        if not shown[at]:
            continue
        who, amount = row.contact_id, f"{row.total:,.2f}"
        credit, left = back.credit.iloc[at], back.unmatched.iloc[at]
        if credit > 0 and left <= 0:
            notes.append(f"row {row.Index + 1}, amounts: {amount} is a refund, taken off "
                         f"{who}'s earlier orders")  # fmt: skip
        elif credit > left:
            notes.append(f"row {row.Index + 1}, amounts: {amount} is a refund larger than "
                         f"{who}'s earlier orders: {credit - left:,.2f} taken off them, "
                         f"{left:,.2f} left out")  # fmt: skip
        elif credit > 0:
            notes.append(f"row {row.Index + 1}, amounts: {amount} is a refund with no earlier "
                         f"order of {who} to take it off, so it was left out")  # fmt: skip
        elif whole[at]:
            notes.append(f"row {row.Index + 1}: {who}'s order of {row.ordered_at:%Y-%m-%d} "
                         f"({amount}) was refunded in full, so it is not counted")  # fmt: skip
    if len(notes) > MAX_ROW_NOTES:
        notes = [*notes[:MAX_ROW_NOTES], f"and {len(notes) - MAX_ROW_NOTES} more refund rows"]
    return notes


def _as_of(value: Any, orders: pd.DataFrame) -> tuple[pd.Timestamp, list[str]]:
    """The moment to measure from, and notes: the orders after it (left out), and "as of"."""
    cell = single(value, "as_of")
    first, last = orders["ordered_at"].min(), orders["ordered_at"].max()
    if cell is None:
        when = last.floor("D") + pd.Timedelta(days=1)  # the end of the last order's day
        return when, [f"as of {last:%Y-%m-%d}"]  # typed, that date gives the same answer
    try:
        when, timed = _moment(cell)
    except ValueError as error:
        raise DataValidationError(f"as_of: {cell!r} is {error}") from None
    if when < first:
        raise DataValidationError(
            f"as_of {when:%Y-%m-%d} is before every order (the first is {first:%Y-%m-%d})"
        )
    shown = f"{when:%Y-%m-%d %H:%M}" if timed else f"{when:%Y-%m-%d}"
    later = int((orders["ordered_at"] > when).sum())
    notes = [f"{later} orders after as_of {shown} left out"] if later else []
    return when, [*notes, f"as of {shown}"]


def _moment(cell: Any) -> tuple[pd.Timestamp, bool]:
    """``as_of``'s moment, and whether it has a time of its own. A date (a date cell,
    "2026-10-31") is the end of that day, as the config's ``as_of`` is (``day_end``): a
    check of the Segments tab with that date counts the day's orders. A time written
    ("2026-10-31 10:00", even 00:00) stays that moment."""
    when = parse_datetime(cell)
    if when != when.normalize() or (isinstance(cell, str) and _TIME.search(cell)):
        return when, True
    return day_end(when.date()).tz_localize("UTC"), False


_TIME = re.compile(r"\d:\d{2}|\d\s*[ap]\.?m\b|[0-9]T[0-9]", re.IGNORECASE)


def segment(customer_ids: Any, order_dates: Any, amounts: Any, as_of: Any = None) -> Result:
    orders, notes = _orders(customer_ids, order_dates, amounts)
    when, later = _as_of(as_of, orders)
    notes += _refund_notes(orders, when)
    table = rfm_table(orders, when)
    frame = pd.DataFrame(
        {
            "customer": table["contact_id"],
            "segment": table["segment"],
            "days since last order": table["recency_days"],
            "orders": table["frequency"],
            "spend": table["monetary"],
            "RFM": table["rfm_code"].astype(str),
        }
    )
    return frame, [*notes, *later]


def churn(customer_ids: Any, order_dates: Any, amounts: Any, as_of: Any = None) -> Result:
    orders, notes = _orders(customer_ids, order_dates, amounts)
    when, later = _as_of(as_of, orders)
    notes += _refund_notes(orders, when)
    model = CustomerValueModel().fit(orders, when)
    table = model.predict(365)
    frame = pd.DataFrame(
        {
            "customer": table["contact_id"],
            "churn risk": table["churn_risk"],
            "expected value (12 months)": table["expected_value"],
            "value low (80%)": table["value_lo80"],
            "value high (80%)": table["value_hi80"],
            "chance still active": table["p_alive"],
        }
    )
    frame.attrs["formats"] = {"churn risk": "0%", "chance still active": "0%"}
    return frame, [*notes, *later, model.report_.get("why", "")]


def forecast(
    dates: Any, values: Any, horizon: Any, season_length: Any = None, level: Any = None
) -> Result:
    columns = paired_columns(dates=dates, values=values)
    steps = as_number(horizon, "horizon")
    if steps is None or steps < 1 or not float(steps).is_integer():
        raise DataValidationError(f"horizon must be a whole number of 1 or more, got {horizon!r}")
    if steps > MAX_HORIZON:
        raise DataValidationError(f"horizon can be at most {MAX_HORIZON} periods, got {steps:g}")
    season = as_number(season_length, "season_length")
    if season is not None and (season < 1 or not float(season).is_integer()):
        raise DataValidationError(f"season_length must be a whole number, got {season_length!r}")
    percent = _level_percent(level)
    _check_dates_are_dates(columns["dates"])
    _check_values_are_not_dates(columns["values"])
    values_column, bool_notes = _without_booleans(columns["values"], "values")
    values_column, number_notes = _numbers_from_text(values_column)
    dates_column, date_notes = _dates_from_text(columns["dates"])
    _check_dated_points(dates_column, values_column)
    series = regularise(dates_column, values_column)
    _check_reach(series, int(steps))
    result = forecast_regular(
        series,
        int(steps),
        season_length=int(season) if season else None,
        levels=(percent,),
        tested_horizon=TESTED_HORIZON[series.freq],
    )
    frame = pd.DataFrame(
        {
            "date": result.frame["ds"],
            "forecast": result.frame["yhat"],
            f"low ({percent}%)": result.frame[f"lo{percent}"],
            f"high ({percent}%)": result.frame[f"hi{percent}"],
        }
    )
    words = MODEL_WORDS.get(result.model, result.model)
    notes = [
        f"{FREQUENCIES[result.freq][0]} data; {result.seasonality}; model: {words}",
        *date_notes,
        *number_notes,
        *result.notes,
        # the notes name the first three rows left out; the rest are listed after them
        *series.left_out[3:],
        *bool_notes,
    ]
    return frame, notes


def _check_dated_points(dates: list[Any], values: list[Any]) -> None:
    """At least `MIN_FORECAST_DATES` distinct days with a readable date and a number beside
    them, counted after the rows that cannot be read (a header, a totals row, a value
    beside a blank date) are left out: counting the filled values let 7 months with their
    header through and refused the same 7 alone. When nothing can be read at all, the
    first cell that could not is named (#VALUE!), not "got 0"."""
    days: set[int] = set()
    unreadable: list[str] = []
    for row, (when, value) in enumerate(zip(dates, values, strict=True), start=1):
        if blank(when) and blank(value):
            continue
        day = _serial_day(when)
        if day is None and blank(when):
            unreadable.append(f"dates: blank beside the value {_cell_text(value)} (row {row})")
        elif day is None:
            unreadable.append(f"dates: {_cell_text(when)} (row {row}) is not a date")
        elif not blank(value) and not _is_amount(value):
            unreadable.append(f"values: {_cell_text(value)} (row {row}) is not a number")
        elif not blank(value):
            days.add(day)
    if not days and unreadable:
        others = len(unreadable) - 1
        more = f"; {others} more {'row' if others == 1 else 'rows'} cannot be read either"
        more = more if others else ""
        raise CellError(f"{unreadable[0]}{more}", "#VALUE!")
    if len(days) < MIN_FORECAST_DATES:
        left = len(unreadable)
        why = (
            f" ({left} {'row' if left == 1 else 'rows'} left out: {unreadable[0]})" if left else ""
        )
        raise NotEnoughDataError(f"need at least {MIN_FORECAST_DATES} dates, got {len(days)}{why}")


def _serial_day(cell: Any) -> int | None:
    """The day a date cell stands for (as an Excel serial), None when it is not a date."""
    if isinstance(cell, dt.datetime | pd.Timestamp):
        return (cell.replace(tzinfo=None) - dt.datetime(1899, 12, 30)).days
    if isinstance(cell, dt.date):
        return (cell - dt.date(1899, 12, 30)).days
    if _is_amount(cell):
        return int(np.floor(cell))
    return None


# The last day a forecast date can be: pandas holds dates to the nanosecond, up to here.
LAST_FORECAST_DAY = pd.Timestamp.max.normalize()


def _check_reach(series: RegularSeries, horizon: int) -> None:
    """A horizon within MAX_HORIZON periods can still pass the last date a forecast can
    hold (20 years ahead of yearly data from 2000 is fine, 300 is not): past it the dates
    wrapped round to 1678. #VALUE! with the most this history allows instead."""
    limit = pd.Period(LAST_FORECAST_DAY, freq=series.periods.freq).ordinal
    allowed = limit - (1 if series.at_period_end else 0)  # a period ending after the limit
    most = allowed - series.periods[-1].ordinal
    if horizon > most:
        raise DataValidationError(
            f"horizon {horizon} reaches past {LAST_FORECAST_DAY:%Y-%m-%d}, the last date a "
            f"forecast can give; from this history at most {max(most, 0):,} {series.word}s ahead"
        )


EARLIEST_SERIAL = 3653  # 1910-01-01: a smaller number in a date column is not a date


def _check_dates_are_dates(dates: list[Any]) -> None:
    """Numbers a date column cannot mean: with the arguments swapped, sales of 212 would
    be read as 1900-07-30 and the forecast would start in 1901."""
    for row, cell in enumerate(dates, start=1):
        if isinstance(cell, int | float) and not isinstance(cell, bool):
            if cell < EARLIEST_SERIAL:
                raise CellError(
                    f"dates: {cell:g} (row {row}) is not a date; SMB.FORECAST takes "
                    "(dates, values, horizon): are the two swapped?",
                    "#VALUE!",
                )
            return  # one real serial is enough: the column is dates


def _check_values_are_not_dates(values: list[Any]) -> None:
    for row, cell in enumerate(values, start=1):
        if isinstance(cell, dt.date):
            raise CellError(
                f"values: {cell:%Y-%m-%d} (row {row}) is a date; SMB.FORECAST takes "
                "(dates, values, horizon): are the two swapped?",
                "#VALUE!",
            )


def _level_percent(level: Any) -> int:
    """The range width as a whole percent: Excel's 0.95 style or a percent (95)."""
    chosen = as_number(level, "level")
    if chosen is None:
        return 80
    percent = chosen * 100 if 0 < chosen < 1 else chosen
    if not 50 <= percent < 100 or abs(percent - round(percent)) > 1e-9:
        raise DataValidationError(
            f"level must be a whole percent from 50 to 99 (or 0.5 to 0.99), got {chosen:g}"
        )
    return round(percent)


def _without_booleans(values: list[Any], name: str) -> tuple[list[Any], list[str]]:
    """TRUE and FALSE are not amounts: Excel's own statistics skip them, and so do these
    (Python would count TRUE as 1)."""
    notes = [
        f"row {i + 1}, {name}: {str(v).upper()} left out (not a number)"
        for i, v in enumerate(values)
        if isinstance(v, bool)
    ]
    if not notes:
        return values, []
    return ["" if isinstance(v, bool) else v for v in values], notes[:20]


def _target_column(frame: pd.DataFrame, target: Any) -> str:
    name = as_text(target, "target_column")
    if name is not None:
        matches = [c for c in frame.columns if c.lower() == name.lower()]
        if not matches:
            raise DataValidationError(
                f"no column named {name!r}; columns are {', '.join(frame.columns)}"
            )
        return matches[0]
    for word in TARGET_WORDS:
        for column in frame.columns:
            # "Customer name" is not an outcome: the column must hold yes/no values.
            if word in column.lower() and parse_target(frame[column]).notna().any():
                return column
    return str(frame.columns[-1])


def _header_looks_like_data(first_row: list[Any]) -> str | None:
    """A range given without its header row: the first row then holds numbers, emails
    or outcomes where names belong."""
    for cell in first_row:
        if isinstance(cell, bool) or (isinstance(cell, int | float) and not blank(cell)):
            return f"{cell!r}"
        text = str(cell).strip() if cell is not None else ""
        if "@" in text or text.lower() in ("yes", "no", "true", "false", "won", "lost"):
            return repr(text)
    return None


def leadscore(table_with_header: Any, target_column: Any = None, all_rows: Any = None) -> Result:
    whole = as_table(table_with_header, "table_with_header")
    every = flag(all_rows, "all_rows", default=False)
    # A totals row under the table is no lead: not learnt from, not scored, and said.
    totals = {
        int(row): label
        for row, values in zip(whole.index, whole.itertuples(index=False), strict=True)
        if (label := total_row_label(list(values))) is not None
    }
    # An empty row inside the table (a gap left between blocks of leads) holds no lead.
    empty = [int(row) for row in whole.index[whole.isna().all(axis=1).to_numpy()]]
    frame = whole.drop(index=[*totals, *empty])
    if frame.empty:
        raise DataValidationError("table_with_header holds totals rows only, no leads")
    frame, date_notes = _serial_dates_read(frame)
    target = _target_column(frame, target_column)
    known = parse_target(frame[target]).notna().to_numpy()
    if known.all() and not every:
        raise DataValidationError(
            f"every row has an outcome in {target!r}; leave it blank on the rows to score "
            "(or set all_rows to TRUE)"
        )
    scorer = LeadScorer(random_state=0).fit(frame, target)
    chosen = np.ones(len(frame), dtype=bool) if every else ~known
    scored = scorer.score(frame.loc[chosen].drop(columns=[target]))
    score = pd.Series(np.nan, index=frame.index)
    tier = pd.Series("", index=frame.index, dtype=object)
    reasons = pd.Series("has an outcome: learnt from", index=frame.index, dtype=object)
    score[chosen] = scored["score"].to_numpy(float)
    tier[chosen] = scored["tier"].to_numpy()
    reasons[chosen] = ["; ".join(r) for r in scored["reasons"]]
    held_out = scorer.card_["held_out"]
    notes = [
        f"outcome column: {target!r}; learnt from {int(known.sum())} rows with "
        f"{scorer.learner_.name}; held-out AUC {held_out['auc']:.2f}",
        *scorer.card_.get("warnings", []),
    ]
    looks_like_data = _header_looks_like_data(as_rows(table_with_header)[0])
    if looks_like_data is not None:
        notes.insert(
            0,
            f"the first row holds {looks_like_data}, which looks like data, not a header: "
            "it was read as the header; select the table with its header row",
        )
    notes += [f"row {row}: {label!r} is a totals row, not a lead: not scored" for row, label in totals.items()]  # fmt: skip
    if empty:
        notes.append(_empty_rows_note(empty))
    notes += date_notes
    frame_out = pd.DataFrame({"score": score, "tier": tier, "reasons": reasons})
    frame_out = frame_out.reindex(whole.index)
    frame_out.loc[list(totals), ["tier", "reasons"]] = ["", "a totals row: not scored"]
    frame_out.loc[empty, ["tier", "reasons"]] = ["", ""]
    return frame_out, notes


def _empty_rows_note(rows: list[int]) -> str:
    shown = ", ".join(map(str, rows[:MAX_ROW_NOTES])) + (
        " ..." if len(rows) > MAX_ROW_NOTES else ""
    )
    kind = "an empty row" if len(rows) == 1 else f"{len(rows)} empty rows"
    return f"{kind} in the table left out, not scored (row {shown})"


# A header that names a date: what a sign-up, creation, last-contact, renewal or
# follow-up column is called in a CRM export.
_DATE_HEADER = re.compile(
    r"\b(date|dated|created|signed ?up|sign-up|signup|joined|registered|updated|modified|"
    r"added|since|when|time|timestamp|opened|closed|converted|entered|became|started|"
    r"start|starts|login|logged ?in|renewal|renews?|renewed|expiry|expires|expiration|"
    r"expired|due|deadline|booked|scheduled|follow-?up|birthday|birth|born|dob|"
    r"(last|first) (seen|activity|contacted|contact|visit|order|purchase|touch))\b",
    re.IGNORECASE,
)
# ... and words that make it a count or an amount instead ("Days since sign-up").
_NOT_A_DATE_HEADER = re.compile(
    r"\b(days?|weeks?|months?|years?|count|number|amount|value|age|total|#)\b|#", re.IGNORECASE
)
# ... or money: "Renewal revenue", "Balance due", "Start MRR" hold amounts of 20,000-80,000
# that read as 1960s dates (review57 item 2).
_MONEY_HEADER = re.compile(
    r"\b(price|cost|revenue|spend|income|salary|budget|mrr|arr|balance|fees?)\b", re.IGNORECASE
)
# A birth date may lie before 1954: such a header takes every Excel date from 1900-03-01
# (serial 61, past Excel's phantom 1900-02-29), except whole numbers of 1800-2200, years.
_BIRTH_HEADER = re.compile(r"\b(birthday|birth|born|dob)\b", re.IGNORECASE)
_BIRTH_SERIALS = 61
_YEARS = (1_800, 2_200)
SERIAL_RANGE = (20_000, 80_000)  # coerce's Excel dates: 1954-10-03 .. 2119-01-10
# Numbers that look like dates of 1990-2040 under a header that names none, nor an
# amount or an id: said in a note, as they may be dates whose column is misnamed.
_RECENT_SERIALS = (32_874, 51_502)
_NOT_DATES_EITHER = re.compile(
    r"\b(id|no|code|zip|postcode|phone|price|cost|revenue|sales|spend|income|salary|budget|"
    r"score)\b",
    re.IGNORECASE,
)


def _serial_dates_read(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Office.js sends a date cell as its serial number (45342), xlwings as a datetime:
    a column whose header names a date and whose numbers are all plausible serials is
    read as the dates they stand for, so both add-ins give the same scores and a reason
    says "Signed up 242 days before ...", not "Signed up: 45,342". Text that is no
    number ("n/a", "-") may stand beside the serials: xlwings sends it as text too.
    A number outside the range, text that reads as a number, or a header that says
    days/count/amount keeps the column as numbers. Returns the frame and its notes."""
    notes: list[str] = []
    out = frame
    for column in frame.columns:
        header = str(column)
        numbers = _number_cells(frame[column])
        if not len(numbers):
            continue
        names_date = (
            bool(_DATE_HEADER.search(header))
            and not _NOT_A_DATE_HEADER.search(header)
            and not _MONEY_HEADER.search(header)
        )
        if not names_date:
            notes += _looks_like_dates(header, numbers)
            continue
        if _years(header, numbers):
            continue  # "Born": 1985
        why_not = _not_serials(header, list(frame[column].dropna()), numbers)
        if why_not is not None:
            # said only where most numbers are dates: "Emails opened" counts need no word
            if _mostly_serials(numbers):
                notes.append(f"{header}: kept as numbers ({why_not})")
            continue
        out = out.copy() if out is frame else out
        out[column] = frame[column].map(_serial_as_datetime)
        notes.append(f"{header}: Excel date numbers read as dates")
    return out, notes


_NUMBER_TYPES = {int, float, np.int64, np.float64, np.int32, np.float32}


def _number_cells(column: pd.Series) -> np.ndarray:
    """The finite number cells of a column, as floats (not TRUE/FALSE, not text). Type
    checks, not `_is_amount` per cell: 10,000 leads of 30 columns took 1.3 s."""
    values = column.to_numpy(dtype=object)
    kept = np.fromiter((type(v) in _NUMBER_TYPES for v in values), bool, len(values))
    numbers = values[kept].astype(float)
    return numbers[np.isfinite(numbers)]


def _not_serials(header: str, cells: list[Any], numbers: np.ndarray) -> str | None:
    """Why a column whose header names a date does not hold Excel dates, or None."""
    low = _BIRTH_SERIALS if _BIRTH_HEADER.search(header) else SERIAL_RANGE[0]
    outside = numbers[(numbers < low) | (numbers > SERIAL_RANGE[1])]
    if len(outside):
        first = _serial_as_datetime(float(low)).date()
        return f"{outside[0]:,.10g} is not an Excel date of {first:%Y}-2119"
    texts = [c for c in cells if not _is_amount(c) and not isinstance(c, dt.date)]
    odd = next((c for c in texts if not isinstance(c, str) or _reads_as_number(c)), None)
    if odd is not None:
        return f"it also holds {odd!r}"
    return None


def _years(header: str, numbers: np.ndarray) -> bool:
    """Whole numbers of 1800-2200 under a birth header are years, not 1904-1906."""
    return bool(_BIRTH_HEADER.search(header)) and bool(
        np.all((numbers >= _YEARS[0]) & (numbers <= _YEARS[1]) & (numbers == np.round(numbers)))
    )


def _mostly_serials(numbers: np.ndarray) -> bool:
    inside = (numbers >= SERIAL_RANGE[0]) & (numbers <= SERIAL_RANGE[1])
    return 2 * int(inside.sum()) > len(numbers)


def _looks_like_dates(header: str, numbers: np.ndarray) -> list[str]:
    """A note for numbers that are all Excel dates of 1990-2040 under a header that names
    no date: Office.js cannot tell a date cell from its number."""
    if _NOT_A_DATE_HEADER.search(header) or _NOT_DATES_EITHER.search(header):
        return []
    if not np.all((numbers >= _RECENT_SERIALS[0]) & (numbers <= _RECENT_SERIALS[1])):
        return []
    example = float(numbers[0])
    return [
        f"{header}: its numbers look like Excel dates ({example:,.10g} is "
        f"{_serial_as_datetime(example):%Y-%m-%d}) but were read as numbers; if they are "
        f'dates, name the column as one ("{header} date")'
    ]


def _reads_as_number(text: str) -> bool:
    try:
        parse_number(text)
    except ValueError:
        return False
    return True


def _serial_as_datetime(cell: Any) -> Any:
    """An Excel serial as the naive datetime xlwings would have sent (to the millisecond)."""
    if not _is_amount(cell):
        return cell
    stamp = pd.Timestamp("1899-12-30") + pd.to_timedelta(round(float(cell) * 86_400_000), "ms")
    return stamp.to_pydatetime()


def leadscore_of(email_or_id: Any, scores: pd.DataFrame | None) -> Result:
    key = as_text(email_or_id, "email_or_id")
    if key is None:
        raise DataValidationError("give an email address or a contact id")
    if scores is None or scores.empty:
        raise CellError("no lead scores stored yet: run smbml run (or smbml demo) first", "#N/A")
    hit = scores[(scores["entity_id"] == key) | (scores["email"].str.lower() == key.lower())]
    if hit.empty:
        raise CellError(f"no scored contact with email or id {key!r}", "#N/A")
    row = hit.iloc[0]
    frame = pd.DataFrame(
        {
            "score": [round(float(row["value"]))],  # stored as 0-100 already
            "tier": [row["label"]],
            "reasons": ["; ".join(row["reasons"])],
            "scored at": [_on_business_clock(row["scored_at"], row.get("zone"))],
        }
    )
    return frame, []


def _on_business_clock(stamp: Any, zone: Any) -> pd.Timestamp:
    """A stored instant (UTC) as the business's clock showed it, without a zone, as the
    workbook shows every time ("Trained at 15:57 US/Eastern time", not UTC's 20:57)."""
    when = pd.Timestamp(stamp)
    when = when.tz_localize("UTC") if when.tzinfo is None else when
    return when.tz_convert(zone_named(str(zone)) if zone else "UTC").tz_localize(None)


def price(
    prices: Any,
    quantities: Any,
    unit_cost: Any = None,
    max_change: Any = None,
    dates: Any = None,
) -> Result:
    dated = dates is not None and not all(blank(c) for row in as_rows(dates) for c in row)
    columns = paired_columns(
        prices=prices, quantities=quantities, **({"dates": dates} if dated else {})
    )
    cost = as_number(unit_cost, "unit_cost")
    if cost is not None and cost < 0:
        typed = single(unit_cost, "unit_cost")
        shown = typed.strip() if isinstance(typed, str) else f"{cost:g}"
        raise DataValidationError(f"unit_cost must be 0 or more, got {shown}")
    step = as_number(max_change, "max_change", 0.10) or 0.0
    if step > 1:
        step = step / 100  # "10" means 10%
    currency, currency_notes = _prices_currency(columns["prices"], unit_cost)
    # refuses 0 and over 50% with a message
    guardrails = Guardrails(max_change=step, currency=currency)
    kept_prices, kept_units, kept_dates, notes = _price_rows(
        columns["prices"], columns["quantities"], columns.get("dates"), guardrails.digits == 0
    )
    guardrails, grid_note = _on_their_grid(guardrails, kept_prices)
    one_day = dated and _dates_tie_to_prices(kept_dates, kept_prices)  # fitted as without
    result = suggest_price(
        kept_prices,
        kept_units,
        cost,
        guardrails,
        dates=kept_dates if dated and not one_day else None,
    )
    if pd.isna(result["suggested_price"]):
        grid_note = []  # no price suggested: no grid to keep to
    time_note = (
        _one_date_note(kept_dates)
        if one_day
        else _held_apart_note(result["estimate"])
        if dated
        else "no dates given: sales that grew (or a season) while the price moved count as "
        "the price's effect; give each period's date as the last argument to hold a trend apart"
    )
    frame = pd.DataFrame(
        {
            "suggested price": [result["suggested_price"]],
            "elasticity": [result["elasticity"]],
            # the Prices tab's words ("high (over 99%)"): a bare 1 read as certainty
            "confidence": [confidence_text(result["confidence_words"], result["confidence"])],
            "reason": [result["reason"]],
        }
    )
    now = result["current_price"]
    current = guardrails.money(now) if guardrails.currency else f"{now:g}"
    return frame, [*currency_notes, *notes, time_note, *grid_note, f"current price {current}"]


def _dates_tie_to_prices(dates: list[Any], prices: list[float]) -> bool:
    """Whether the dates cannot hold a trend apart from the price: one date for every row,
    or two dates with one price on each (a week at one price, the next at another: a
    trend through two points is the price change itself)."""
    days = set(dates)
    if len(days) == 1:
        return True
    if len(days) > 2:
        return False
    prices_on = {d: {p for d2, p in zip(dates, prices, strict=True) if d2 == d} for d in days}
    return all(len(p) == 1 for p in prices_on.values())


def _one_date_note(dates: list[Any]) -> str:
    """Dates that cannot tell a trend from the price (`_dates_tie_to_prices`): the answer is
    the one without dates, and the note says so, not "held apart"."""
    days = sorted(set(dates))
    if len(days) == 1:
        said = f"every row has the same date ({days[0]:%Y-%m-%d})"
    else:
        said = (f"each of the two dates ({days[0]:%Y-%m-%d}, {days[1]:%Y-%m-%d}) has one "
                "price, so a trend through them is the price change itself")  # fmt: skip
    return (
        f"dates given, but {said}: nothing can be held apart from the price, so sales that "
        "grew (or a season) while the price moved count as its effect; give each period's "
        "own date"
    )


def _held_apart_note(estimate: Any) -> str:
    """What the dates let the fit hold apart from the price (a trend; past a year, a season)."""
    held = [word for key, word in ((":trend", "a trend"), (":season", "a yearly season"))
            if key in estimate.controls]  # fmt: skip
    said = " and ".join(held) or "nothing"
    extra = "".join(f"; {note}" for note in estimate.notes if "season" in note)
    return f"dates given: {said} held apart from the price{extra}"


def _prices_currency(prices: list[Any], unit_cost: Any) -> tuple[str, list[str]]:
    """The currency the price cells are written in ("¥1,150", "12,99 €", "CHF 12.50"), as
    a run takes the orders' from their totals: one mark on at least half of them. A
    suggestion then keeps to its smallest unit and its reason names it: "¥1,150" gave
    "Raise to 1,230.50". "¥" is yen's sign and yuan's: read as yen when every price is
    whole, as yen are, and said in a note. "" when the cells name none."""
    texts = [c.strip() for c in prices if isinstance(c, str) and c.strip()]
    marks = [money_mark(t) for t in texts]
    named = {m for m in marks if m not in (None, "?")}
    if len(named) > 1:
        first = {m: t for t, m in zip(texts, marks, strict=True) if m in named}
        shown = " and ".join(repr(first[m]) for m in sorted(named))
        raise DataValidationError(f"prices: {shown} are in different currencies; give one")
    currency, notes = "", []
    if named and 2 * marks.count(next(iter(named))) >= len(texts):
        currency = next(iter(named))
    elif not named and texts and 2 * sum(shared_sign(t) == "¥" for t in texts) >= len(texts):
        read = _numbers_from_text(texts, no_cents=True)[0]
        if all(_is_amount(v) and float(v).is_integer() for v in read):
            currency = "JPY"
            notes.append(
                "prices marked ¥ (yen or yuan) read as yen, JPY, since every one is a whole "
                "number: suggestions are whole yen"
            )
    cost = single(unit_cost, "unit_cost")
    theirs = money_mark(cost) if isinstance(cost, str) else None
    if currency and theirs not in (None, "?", currency):
        raise DataValidationError(f"unit_cost {cost!r} is in {theirs}, the prices in {currency}")
    return currency, notes


_UNITS_ONLY = "JPY"  # a currency without cents: price_grid then counts whole units


def _on_their_grid(rails: Guardrails, prices: list[float]) -> tuple[Guardrails, list[str]]:
    """The grid the prices given keep to (.99 endings, steps of 0.50), as the Prices tab
    reads it from the shop's prices: PRICE suggested 15.31 where the tab said 15.99."""
    grid = price_grid(prices, rails.currency)
    if rails.digits and all(float(p).is_integer() for p in prices):
        # Whole prices of no known currency (a yen shop's cells formatted ¥ arrive as plain
        # numbers): price_grid stops at one unit for a currency with cents, and 980, 1,050,
        # 1,150 got 1,230.50. All on a step of 5 units or more is no chance of a cents grid.
        steps = price_grid(prices, _UNITS_ONLY)
        if steps is not None and steps[0] >= 5 and steps[1] is None:
            grid = steps
    if grid is None:
        return rails, []
    rails = replace(rails, round_to=grid[0], ending=grid[1])
    return rails, [
        f"suggested prices {rails.grid_rule()}, as all {len(set(prices)):,} prices given do"
    ]


def _price_rows(
    prices: list[Any], quantities: list[Any], dates: list[Any] | None, no_cents: bool = False
) -> tuple[list[float], list[float], list[pd.Timestamp], list[str]]:
    """The (price, units, date) rows the elasticity is fitted on, and a line for each row
    left out: the pricing code drops a row it cannot use without a word, and the current
    price is the last row kept (the latest, with dates), so a dropped row changes the
    answer. Without dates the dates returned are empty."""
    price_cells, price_notes = _numbers_from_text(prices, no_cents)
    unit_cells, unit_notes = _numbers_from_text(quantities)
    date_cells, date_notes = _dates_from_text(dates) if dates is not None else ([], [])
    kept_prices: list[float] = []
    kept_units: list[float] = []
    kept_dates: list[pd.Timestamp] = []
    left_out = []
    for row, (p, q) in enumerate(zip(price_cells, unit_cells, strict=True), start=1):
        when = _period_date(date_cells[row - 1]) if dates is not None else None
        if blank(p) and blank(q):
            continue
        if dates is not None and when is None:
            d = date_cells[row - 1]
            why = f"dates: {_cell_text(d)}" + ("" if blank(d) else " is not a date")
        elif not _is_amount(p):
            why = f"prices: {_cell_text(p)}" + ("" if blank(p) else " is not a number")
        elif not _is_amount(q):
            why = f"quantities: {_cell_text(q)}" + ("" if blank(q) else " is not a number")
        elif p <= 0:
            why = f"prices: {p:g} is not a price above 0"
        elif q < 0:
            why = f"quantities: {q:g} is below 0 (returns are not units sold at a price)"
        else:
            kept_prices.append(float(p))
            kept_units.append(float(q))
            if when is not None:
                kept_dates.append(when)
            continue
        left_out.append(f"row {row}, {why}, so the row was left out")
    notes = [*price_notes, *unit_notes, *date_notes, *left_out[:MAX_ROW_NOTES]]
    if len(left_out) > MAX_ROW_NOTES:
        notes.append(f"and {len(left_out) - MAX_ROW_NOTES} more rows left out")
    if not kept_prices:
        first = f" ({left_out[0]})" if left_out else ""
        raise NotEnoughDataError(f"no row has a price above 0 and units sold{first}")
    return kept_prices, kept_units, kept_dates, notes


def _period_date(cell: Any) -> pd.Timestamp | None:
    """A period's date as either add-in sends it (a datetime, an Excel serial, text already
    read by `_dates_from_text`); None when it is blank or no date."""
    if blank(cell) or isinstance(cell, str):
        return None
    try:
        return parse_datetime(cell).tz_localize(None)
    except (ValueError, OverflowError):
        return None


def _is_amount(cell: Any) -> bool:
    return (
        isinstance(cell, int | float | np.integer | np.floating)
        and not isinstance(cell, bool | np.bool_)
        and bool(np.isfinite(cell))
    )


def _cell_text(cell: Any) -> str:
    """A cell as the user typed it, for a note: blank, TRUE, 'text', 12.5."""
    if blank(cell):
        return "blank"
    if isinstance(cell, bool):
        return str(cell).upper()
    return repr(cell) if isinstance(cell, str) else str(cell)


def _finite(value: float) -> float | None:
    return value if np.isfinite(value) else None


def abtest(conversions_a: Any, visitors_a: Any, conversions_b: Any, visitors_b: Any) -> Result:
    notes: list[str] = []
    ca, na, cb, nb = (
        _count_arg(value, name, notes)
        for name, value in (
            ("conversions_a", conversions_a),
            ("visitors_a", visitors_a),
            ("conversions_b", conversions_b),
            ("visitors_b", visitors_b),
        )
    )
    r = ab_test(ca, na, cb, nb)
    frame = pd.DataFrame(
        {
            # none with no conversion on either side (the prior alone said "98.9%")
            "chance B beats A": [_finite(r.prob_b_beats_a)],
            "lift": [_finite(r.lift)],
            "lift low (95%)": [_finite(r.lift_lo95)],
            "lift high (95%)": [_finite(r.lift_hi95)],
            # each version's own: a 90/10 holdout's large version may have enough
            "more visitors on A": [_finite(r.visitors_needed_a)],
            "more visitors on B": [_finite(r.visitors_needed_b)],
            "verdict": [r.verdict],
        }
    )
    frame.attrs["formats"] = {
        "chance B beats A": "0.0%",
        "lift": "0.0%",
        "lift low (95%)": "0.0%",
        "lift high (95%)": "0.0%",
        "more visitors on A": "#,##0",
        "more visitors on B": "#,##0",
    }
    return frame, notes


def _count_arg(value: Any, name: str, notes: list[str]) -> float:
    """A count typed as a number or as text. Text is read as a whole number, so a mark
    before three digits groups thousands ("1.000" is 1,000 visitors, not 1, as it was
    without a word), and a note says so; a count that is not whole is refused as typed."""
    cell = single(value, name)
    if cell is None:
        raise DataValidationError(f"{name} is blank")
    if not isinstance(cell, str):
        return as_number(cell, name) or 0.0
    reading = _read_text_numbers(pd.Series([cell], dtype=object), whole=True)
    number = reading.values.iloc[0]
    if pd.isna(number):
        as_number(cell, name)  # "many" is no number at all, and is said so
        raise DataValidationError(f"{name} must be a whole number of 0 or more, got {cell!r}")
    if re.search(r"\d[.,]\d{3}\b", cell) and number != as_number(cell, name):
        notes.append(f"{name}: {cell.strip()!r} read as {number:,.0f}: a count is a whole "
                     "number, so its mark groups thousands")  # fmt: skip
    return float(number)


def _ets_series(values: Any, timeline: Any, completion: Any, aggregation: Any) -> Timeline:
    try:
        columns = paired_columns(values=values, timeline=timeline)
    except DataValidationError as error:
        raise CellError(str(error), "#N/A") from None  # Excel's answer to unequal sizes
    # Excel's FORECAST.ETS answers #VALUE! to a number stored as text, and the message
    # said "'200.00' is not a number": read as the other functions read it, with a note.
    values_column, number_notes = _numbers_from_text(columns["values"])
    series = prepare(values_column, columns["timeline"], completion, aggregation)
    return replace(series, notes=(*number_notes, *series.notes))


# FORECAST.ETS fits, by the history they were fitted to: the target only picks the step,
# so the cells of a formula filled down over one history (and its CONFINT beside it) fit
# once, not once per cell (130 fits of 4-7 s over 2,000-3,000 hourly points). Bounded as
# the result cache is, by count and by points held.
_ETS_FITS: ResultCache[tuple[Timeline, int, EtsModel]] = ResultCache(
    max_entries=64, max_weight=2_000_000, weigh=lambda fit: len(fit[0].y)
)


def _ets_fit(
    values: Any, timeline: Any, seasonality: Any, completion: Any, aggregation: Any
) -> tuple[Timeline, int, EtsModel]:
    """The history as read, its season and the model fitted to it, from ``_ETS_FITS``."""

    def fit() -> tuple[Timeline, int, EtsModel]:
        series = _ets_series(values, timeline, completion, aggregation)
        m = chosen_season(series.y, seasonality)
        return series, m, fit_aaa(series.y, m)

    key = input_hash("FORECAST.ETS fit", [values, timeline, seasonality, completion, aggregation])
    return _ETS_FITS.get_or_compute(key, fit)


def _per_target(target_date: Any, compute: Any) -> pd.DataFrame:
    """One answer per target cell, in the target's shape (one date or a range of them)."""
    rows = [
        [None if blank(cell) else compute(cell) for cell in row] for row in as_rows(target_date)
    ]
    return pd.DataFrame(rows)


def _ets_notes(series: Timeline, m: int) -> list[str]:
    season = f"a season of {m} points" if m > 1 else "no season"
    return [f"{len(series.y)} points; {season}", *series.notes]


def forecast_ets(
    target_date: Any,
    values: Any,
    timeline: Any,
    seasonality: Any = None,
    data_completion: Any = None,
    aggregation: Any = None,
) -> Result:
    series, m, model = _ets_fit(values, timeline, seasonality, data_completion, aggregation)
    frame = _per_target(target_date, lambda t: model.forecast(steps_ahead(series, t)))
    return frame, _ets_notes(series, m)


def forecast_ets_confint(
    target_date: Any,
    values: Any,
    timeline: Any,
    confidence_level: Any = None,
    seasonality: Any = None,
    data_completion: Any = None,
    aggregation: Any = None,
) -> Result:
    confidence = as_number(confidence_level, "confidence_level", 0.95)
    if confidence is None or not 0 < confidence < 1:
        raise DataValidationError(
            f"confidence_level must be between 0 and 1 (0.95 for 95%), got {confidence_level!r}"
        )
    series, m, model = _ets_fit(values, timeline, seasonality, data_completion, aggregation)
    frame = _per_target(target_date, lambda t: model.half_width(steps_ahead(series, t), confidence))
    return frame, _ets_notes(series, m)


def forecast_ets_seasonality(
    values: Any, timeline: Any, data_completion: Any = None, aggregation: Any = None
) -> Result:
    series = _ets_series(values, timeline, data_completion, aggregation)
    m = chosen_season(series.y, 1)
    return pd.DataFrame([[m]]), _ets_notes(series, m)
