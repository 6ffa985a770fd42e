"""What each worksheet function computes: cell values in, a frame out, via the analytics.

Each returns `(frame, notes)`: the frame is what spills (its columns are the header),
notes say what was left out or assumed, for the task pane and the log. Dates that
default to "today" default instead to the day after the last order, so the same
inputs always give the same answer and the cache stays right.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from smbml_connect.analytics.customers.segments import rfm_table
from smbml_connect.analytics.customers.value import CustomerValueModel
from smbml_connect.analytics.experiments.abtest import ab_test
from smbml_connect.analytics.forecast.engine import forecast_series
from smbml_connect.analytics.forecast.models import warm_up
from smbml_connect.analytics.leads.scoring import LeadScorer, parse_target
from smbml_connect.analytics.pricing.suggest import Guardrails, suggest_price
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
from smbml_connect.coerce import coerce_datetime, coerce_float, coerce_string, parse_datetime
from smbml_connect.errors import DataValidationError, NotEnoughDataError
from smbml_connect.excel_ets import Timeline, chosen_season, fit_aaa, prepare, steps_ahead

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


def _orders(customer_ids: Any, order_dates: Any, amounts: Any) -> tuple[pd.DataFrame, list[str]]:
    columns = paired_columns(customer_ids=customer_ids, order_dates=order_dates, amounts=amounts)
    frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in columns.items()})
    ids = coerce_string(frame["customer_ids"])[0]
    when, bad_when = coerce_datetime(frame["order_dates"])
    total, bad_total = coerce_float(frame["amounts"])
    notes = []
    for row in frame.index[(bad_when | bad_total | ids.isna()).to_numpy()][:20]:
        column = "order_dates" if bad_when[row] else "amounts" if bad_total[row] else "customer_ids"
        notes.append(f"row {row + 1}, {column}: {frame.at[row, column]!r} left out")
    orders = pd.DataFrame(
        {"contact_id": ids, "ordered_at": when, "total": total.astype(float), "status": None}
    ).dropna(subset=["contact_id", "ordered_at", "total"])
    if orders.empty:
        raise DataValidationError("no rows with a customer id, a date and an amount")
    return orders, notes


def _as_of(value: Any, orders: pd.DataFrame) -> tuple[pd.Timestamp, list[str]]:
    """The date to measure from, and a note of the orders after it (left out)."""
    cell = single(value, "as_of")
    first, last = orders["ordered_at"].min(), orders["ordered_at"].max()
    if cell is None:
        return last.floor("D") + pd.Timedelta(days=1), []
    try:
        when = parse_datetime(cell)
    except ValueError as error:
        raise DataValidationError(f"as_of: {cell!r} is {error}") from None
    if when < first:
        raise CellError(
            f"as_of {when:%Y-%m-%d} is before every order (the first is {first:%Y-%m-%d})",
            "#NUM!",
        )
    later = int((orders["ordered_at"] > when).sum())
    return when, [f"{later} orders after as_of {when:%Y-%m-%d} left out"] if later else []


def segment(customer_ids: Any, order_dates: Any, amounts: Any, as_of: Any = None) -> Result:
    orders, notes = _orders(customer_ids, order_dates, amounts)
    when, later = _as_of(as_of, orders)
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
    return frame, [*notes, *later, f"as of {when:%Y-%m-%d}"]


def churn(customer_ids: Any, order_dates: Any, amounts: Any, as_of: Any = None) -> Result:
    orders, notes = _orders(customer_ids, order_dates, amounts)
    when, later = _as_of(as_of, orders)
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
    return frame, [*notes, *later, f"as of {when:%Y-%m-%d}", model.report_.get("why", "")]


def forecast(
    dates: Any, values: Any, horizon: Any, season_length: Any = None, level: Any = None
) -> Result:
    columns = paired_columns(dates=dates, values=values)
    steps = as_number(horizon, "horizon")
    if steps is None or steps < 1 or not float(steps).is_integer():
        raise DataValidationError(f"horizon must be a whole number of 1 or more, got {horizon!r}")
    if steps > MAX_HORIZON:
        raise CellError(f"horizon can be at most {MAX_HORIZON} periods, got {steps:g}", "#NUM!")
    season = as_number(season_length, "season_length")
    if season is not None and (season < 1 or not float(season).is_integer()):
        raise DataValidationError(f"season_length must be a whole number, got {season_length!r}")
    percent = _level_percent(level)
    _check_dates_are_dates(columns["dates"])
    _check_values_are_not_dates(columns["values"])
    filled = sum(not pd.isna(v) and v != "" for v in columns["values"])
    if filled < MIN_FORECAST_DATES:
        raise NotEnoughDataError(f"need at least {MIN_FORECAST_DATES} dates, got {filled}")
    values_column, bool_notes = _without_booleans(columns["values"], "values")
    result = forecast_series(
        columns["dates"],
        values_column,
        int(steps),
        season_length=int(season) if season else None,
        levels=(percent,),
    )
    frame = pd.DataFrame(
        {
            "date": result["ds"],
            "forecast": result["yhat"],
            f"low ({percent}%)": result[f"lo{percent}"],
            f"high ({percent}%)": result[f"hi{percent}"],
        }
    )
    attrs = result.attrs
    notes = [
        f"{attrs['frequency']} data; {attrs['seasonality']}; model: {attrs['model_words']}",
        *attrs.get("notes", []),
        *attrs.get("rows_left_out", []),
        *bool_notes,
    ]
    return frame, notes


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
        raise CellError(
            f"level must be a whole percent from 50 to 99 (or 0.5 to 0.99), got {chosen:g}",
            "#NUM!",
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
    frame = as_table(table_with_header, "table_with_header")
    every = flag(all_rows, "all_rows", default=False)
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
    frame_out = pd.DataFrame({"score": score, "tier": tier, "reasons": reasons})
    return frame_out, notes


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
            "scored at": [pd.Timestamp(row["scored_at"])],
        }
    )
    return frame, []


def price(prices: Any, quantities: Any, unit_cost: Any = None, max_change: Any = None) -> Result:
    columns = paired_columns(prices=prices, quantities=quantities)
    cost = as_number(unit_cost, "unit_cost")
    step = as_number(max_change, "max_change", 0.10) or 0.0
    if step > 1:
        step = step / 100  # "10" means 10%
    guardrails = Guardrails(max_change=step)  # refuses 0 and over 50% with a message
    result = suggest_price(columns["prices"], columns["quantities"], cost, guardrails)
    frame = pd.DataFrame(
        {
            "suggested price": [result["suggested_price"]],
            "elasticity": [result["elasticity"]],
            "confidence": [result["confidence"]],
            "reason": [result["reason"]],
        }
    )
    return frame, [f"current price {result['current_price']:g}"]


def abtest(conversions_a: Any, visitors_a: Any, conversions_b: Any, visitors_b: Any) -> Result:
    numbers = {
        name: as_number(value, name)
        for name, value in (
            ("conversions_a", conversions_a),
            ("visitors_a", visitors_a),
            ("conversions_b", conversions_b),
            ("visitors_b", visitors_b),
        )
    }
    for name, number in numbers.items():
        if number is None:
            raise DataValidationError(f"{name} is blank")
    ca, na, cb, nb = numbers.values()
    r = ab_test(ca, na, cb, nb)
    frame = pd.DataFrame(
        {
            "chance B beats A": [r.prob_b_beats_a],
            "lift": [r.lift],
            "lift low (95%)": [r.lift_lo95],
            "lift high (95%)": [r.lift_hi95],
            "visitors still needed": [
                r.visitors_needed if np.isfinite(r.visitors_needed) else None
            ],
            "verdict": [r.verdict],
        }
    )
    frame.attrs["formats"] = {
        "chance B beats A": "0.0%",
        "lift": "0.0%",
        "lift low (95%)": "0.0%",
        "lift high (95%)": "0.0%",
        "visitors still needed": "#,##0",
    }
    return frame, []


def _ets_series(values: Any, timeline: Any, completion: Any, aggregation: Any) -> Timeline:
    try:
        columns = paired_columns(values=values, timeline=timeline)
    except DataValidationError as error:
        raise CellError(str(error), "#N/A") from None  # Excel's answer to unequal sizes
    return prepare(columns["values"], columns["timeline"], completion, aggregation)


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
    series = _ets_series(values, timeline, data_completion, aggregation)
    m = chosen_season(series.y, seasonality)
    model = fit_aaa(series.y, m)
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
        raise CellError(
            f"confidence_level must be between 0 and 1 (0.95 for 95%), got {confidence_level!r}",
            "#NUM!",
        )
    series = _ets_series(values, timeline, data_completion, aggregation)
    m = chosen_season(series.y, seasonality)
    model = fit_aaa(series.y, m)
    frame = _per_target(target_date, lambda t: model.half_width(steps_ahead(series, t), confidence))
    return frame, _ets_notes(series, m)


def forecast_ets_seasonality(
    values: Any, timeline: Any, data_completion: Any = None, aggregation: Any = None
) -> Result:
    series = _ets_series(values, timeline, data_completion, aggregation)
    m = chosen_season(series.y, 1)
    return pd.DataFrame([[m]]), _ets_notes(series, m)
