"""Sales forecast step: revenue and units, in total and per product, with a chart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from smbml_connect import charts
from smbml_connect.analytics.customers.recommend import marked_not_for_sale
from smbml_connect.analytics.forecast.engine import (
    MODEL_WORDS,
    SeriesForecast,
    forecast_panel_results,
)
from smbml_connect.analytics.forecast.reconcile import Reconciled, to_total
from smbml_connect.analytics.forecast.sales_series import (
    OTHER,
    PERIODS_A_YEAR,
    TOTAL,
    SalesSeries,
    covered_words,
    rest_words,
    sales_series,
    with_sales_so_far,
)
from smbml_connect.analytics.forecast.timeseries import FREQUENCIES
from smbml_connect.column_labels import column_label
from smbml_connect.data_checks import data_ends_early
from smbml_connect.errors import NotEnoughDataError
from smbml_connect.period_names import period_words, periods_words
from smbml_connect.ports import (
    LEFT_OUT_PRODUCTS,
    OPENED_WITH_SALES,
    SheetsChart,
    SheetsPart,
    SheetsTab,
    StepOutputs,
    Tab,
    WorkbookChart,
)
from smbml_connect.schema import FORECASTS
from smbml_connect.steps.base import (
    ReportSection,
    Step,
    StepContext,
    StepResult,
    StepSettings,
    money,
    plural,
)

__all__ = ["SALES_FORECAST", "ForecastSettings", "forecast_step"]

LEVELS = (80, 95)
HISTORY_SHOWN = 36  # periods of history drawn before the forecast
ALL_SALES = "All sales"
ALL_OTHER = "Other products"


class ForecastSettings(StepSettings):
    """analytics.forecast: how far ahead, per what period, how many products one by one."""

    key: ClassVar[str] = "forecast"
    horizon: int = Field(12, ge=1, le=120)  # periods ahead
    frequency: Literal["D", "W", "M", "Q"] = "M"
    products: int = Field(20, ge=0, le=500)  # best sellers forecast one by one; the rest as one


# A year of periods: the parts' share of the total is read over one of each month's (or
# week's) shipping, tax and discounts.
YEAR = {"D": 364, "W": 52, "M": 12, "Q": 4}
REST = "Rest of sales"


def _reconciled(
    results: dict[str, SeriesForecast], freq: str
) -> tuple[dict[str, SeriesForecast], dict[str, Reconciled]]:
    """Each measure's products (and other products) scaled to add up to its total."""
    out, done = dict(results), {}
    for measure in ("revenue", "units"):
        total = f"{measure}:{TOTAL}"
        parts = {u: r for u, r in results.items() if u.startswith(f"{measure}:") and u != total}
        if total not in results or not parts:
            continue
        done[measure] = to_total(results[total], parts, YEAR[freq])
        factors = done[measure].factors[np.isfinite(done[measure].factors)]
        moved = (
            f", by {factors.min():.2f} to {factors.max():.2f} times their own forecasts"
            if len(factors) and (factors.min() < 0.995 or factors.max() > 1.005)
            else ""
        )
        note = (
            f"scaled with the other products so that together they add up to all sales' "
            f"forecast in each {FREQUENCIES[freq][0]}{moved}"
        )
        for uid, r in done[measure].parts.items():
            out[uid] = replace(r, notes=[*r.notes, note])
    return out, done


def _rest_rows(
    results: Mapping[str, SeriesForecast],
    reconciled: Mapping[str, Reconciled],
    sales: SalesSeries,
    word: str,
    freq: str,
) -> list[dict[str, Any]]:
    """What the total holds beyond the products' rows, so that the rows a person adds up
    give all sales (their sold so far too): order totals' shipping, tax, order-level
    discounts and refunds, and products too new to forecast. None when the products are
    all of it (to the cent or unit)."""
    rows: list[dict[str, Any]] = []
    for measure, done in reconciled.items():
        uid = f"{measure}:{TOTAL}"
        total = results[uid].frame
        added = sum(results[p].frame["yhat"].to_numpy(dtype=float) for p in done.parts)
        rest = total["yhat"].to_numpy(dtype=float) - added
        if done.share == 1.0 and np.all(np.abs(rest) < 0.5):
            continue
        if measure == "units":
            what = "units of products too new to forecast"
        elif done.share > 1:  # order totals below their lines
            what = (
                "order totals come to less than the products' lines: order-level discounts "
                "and refunds outweigh shipping and tax (and products too new to forecast)"
            )
        else:
            what = (
                "shipping, tax, order-level discounts and refunds, which no product line "
                "holds, and products too new to forecast"
            )
        note = (
            f"all sales' forecast less the products above: {what}; over the last "
            f"{plural(YEAR[freq], word)} of history the products made up "
            f"{100 * done.share:.1f}% of all sales"
        )
        opens = pd.Timestamp(total["ds"].iloc[0]).to_period(FREQUENCIES[freq][2]) == sales.current
        sold = sales.sold.get(uid, 0.0) - sum(sales.sold.get(p, 0.0) for p in done.parts)
        said = opens and sales.to_come < 1 and sales.through is not None
        rows += [
            {"series": REST, "measure": measure, word: _date(ds),
             "forecast": round(float(value), 2),
             "sold_so_far": round(sold, 2) if said and i == 0 else None,
             "note": note if i == 0 else ""}
            for i, (ds, value) in enumerate(zip(total["ds"], rest, strict=True))
        ]  # fmt: skip
    return rows


def _date(stamp: object) -> pd.Timestamp:
    """A period's start as a date cell holds it: no time zone (a workbook date has none)."""
    day = pd.Timestamp(stamp)
    return day.tz_convert(None) if day.tzinfo else day


def _adds_up_words(
    results: Mapping[str, SeriesForecast],
    reconciled: Mapping[str, Reconciled],
    rest_rows: list[dict[str, Any]],
    word: str,
) -> str:
    if not reconciled:
        return ""
    extra = [ALL_OTHER] if any(uid.endswith(f":{OTHER}") for uid in results) else []
    extra += [REST] if rest_rows else []
    rows = "the products' rows" + (f" (with {' and '.join(extra)})" if extra else "")
    return f" In each {word} {rows} add up to All sales."


def _total_first(frame: pd.DataFrame) -> pd.DataFrame:
    """The total comes first, so the Sheets chart reads one block of rows."""
    if frame.empty:
        return frame
    first = (frame["series"] == ALL_SALES) & (frame["measure"] == "revenue")
    order = (~first).astype(int)
    frame = frame.assign(_o=order).sort_values("_o", kind="stable").drop(columns="_o")
    return frame.reset_index(drop=True)


def _sheets_chart(frame: pd.DataFrame) -> SheetsChart | None:
    """The first series (the total, once _total_first ran) with its 80% range."""
    if frame.empty:
        return None
    first = frame.iloc[0]
    same = (frame["series"] == first["series"]) & (frame["measure"] == first["measure"])
    return SheetsChart(
        title=f"{first['series']}: {first['measure']} forecast",
        rows=int(same.cumprod().sum()),
        domain=str(frame.columns[2]),  # the period column: month, week, ...
        series=("forecast", "low_80", "high_80"),
    )


FORECAST_TAB = Tab(
    "Forecast",
    sheets=(SheetsPart(SheetsTab("forecast", prepare=_total_first, chart=_sheets_chart)),),
)
CHART_TAB = Tab(
    "Forecast chart",
    chart=WorkbookChart("band", "Total revenue: history, forecast and 80% range", label="revenue"),
    example="forecast_history",
)
CHECK_TAB = Tab("Forecast check")
CHECK_NOTE = (
    "How each forecast was made and how it did on its own past. "
    f"{column_label('backtest_error')}: its average error in tests on the series' own past, "
    "divided by how much sales typically changed from one season to the next in its history "
    "(below 1: it erred by less than that change). "
    f"{column_label('seasonal_naive_error')}: the same measure for simply repeating last "
    "season's figures in the same tests; the method did better than that simple rule where "
    "its number is the smaller of the two. A product's errors are those of its own "
    "forecast, before it was scaled with the others to add up to all sales."
)


def _no_season_words(results: Mapping[str, SeriesForecast], word: str) -> str:
    """For rows forecast without a season (too short a history to show one), what the
    note's "season" was there: one period."""
    if all(r.season_length > 1 for r in results.values()):
        return ""
    return (
        f" Where a forecast has no season (its seasonality says why), a season is one {word}: "
        f"its error is measured against the change from one {word} to the next, and the simple "
        f"rule repeats the last {word}."
    )


def _label(series_id: str, names: Mapping[str, str]) -> tuple[str, str]:
    measure, _, what = series_id.partition(":")
    if what == TOTAL:
        return measure, ALL_SALES
    return measure, names.get(what, ALL_OTHER if what == OTHER else what)


def _rows(uid: str, result: SeriesForecast) -> pd.DataFrame:
    frame = result.frame
    return pd.DataFrame(
        {
            "series_id": uid,
            "ds": pd.to_datetime(frame["ds"]).dt.tz_localize("UTC"),
            **{c: frame[c] for c in ("yhat", "lo80", "hi80", "lo95", "hi95", "model")},
        }
    )


def _chart(result: SeriesForecast, title: str, unit: str) -> str:
    history = result.history.tail(HISTORY_SHOWN) if result.history is not None else None
    frame = result.frame
    return charts.forecast_chart(
        history["ds"].tolist() if history is not None else [],
        history["y"].tolist() if history is not None else [],
        frame["ds"].tolist(),
        frame["yhat"].tolist(),
        [("95% range", frame["lo95"].tolist(), frame["hi95"].tolist()),
         ("80% range", frame["lo80"].tolist(), frame["hi80"].tolist())],
        title,
        unit,
    )  # fmt: skip


def _history_words(result: SeriesForecast, word: str) -> str:
    """What the chart draws: 'the last 36 months of history', or 'all 4 months of history'."""
    shown = 0 if result.history is None else min(HISTORY_SHOWN, len(result.history))
    if result.history is not None and len(result.history) <= HISTORY_SHOWN:
        return (
            f"all {plural(shown, word)} of history" if shown != 1 else f"the one {word} of history"
        )
    return f"the last {plural(shown, word)} of history"


def _chart_table(
    result: SeriesForecast, word: str, opened: bool = False, left_out: Sequence[str] = ()
) -> pd.DataFrame:
    """History then forecast in one table, the shape a native Excel chart needs; `opened`:
    its first forecast period holds sales so far (kept in its attrs for the Instructions
    tab's example, whose call is not told of them)."""
    history = result.history.tail(HISTORY_SHOWN) if result.history is not None else None
    past = pd.DataFrame(
        {word: history["ds"], "actual": history["y"].round(2)}
        if history is not None
        else {word: [], "actual": []}
    )
    ahead = result.frame
    future = pd.DataFrame(
        {
            word: ahead["ds"],
            "forecast": ahead["yhat"].round(2),
            "low_80": ahead["lo80"].round(2),
            "high_80": ahead["hi80"].round(2),
            "range_80": (ahead["hi80"] - ahead["lo80"]).round(2),
        }
    )
    table = pd.concat([past, future], ignore_index=True)
    table[word] = pd.to_datetime(table[word]).dt.tz_localize(None)
    table = table.reindex(columns=[word, "actual", "forecast", "low_80", "high_80", "range_80"])
    table.attrs[OPENED_WITH_SALES] = opened
    table.attrs[LEFT_OUT_PRODUCTS] = list(left_out)
    return table


def _season_words(result: SeriesForecast) -> tuple[str, str]:
    """What the error is scaled by and what the simple rule copied: a season earlier where
    the models had one, else one period earlier (`engine._scale`; the seasonal naive
    with no season repeats the last period). A 14-month shop, too short to show a season,
    was told "repeating last season" beside "26 months are needed to see a pattern"."""
    if result.season_length > 1:
        return "from one season to the next", "repeating last season"
    word = FREQUENCIES[result.freq][0] if result.freq in FREQUENCIES else "period"
    return f"from one {word} to the next", f"repeating the last {word}"


def _accuracy_words(result: SeriesForecast) -> str:
    """The tested error in words. It is scaled by how much the history changed from one
    season to the next (MASE), not by how repeating last season did in the tests, so
    "below 1" is said of that change and the simple rule is compared by its own number."""
    score = result.backtest.get(result.model)
    if score is None:
        return "There was too little history to test it on its own past."
    change, rule = _season_words(result)
    words = (
        f"Tested on its own past, its average error was {score:.2f} times the typical change "
        f"in sales {change} in its history (below 1: it erred by less than that change)"
    )
    comparison = result.backtest.get("seasonal_naive")
    if comparison is None or result.model == "seasonal_naive":
        return words + "."
    words += f"; simply {rule} scored {comparison:.2f} in the same tests (lower is better)."
    if round(comparison, 2) < round(score, 2):
        words += (
            " That rule did better on this past, but a lead over a few test periods often does "
            "not last, so the steadier method above is kept."
        )
    return words


def _adjective(word: str) -> str:
    """'monthly', 'weekly', 'daily' (not 'dayly'): the ranges of each period."""
    return "daily" if word == "day" else f"{word}ly"


def _span(dates: pd.Series, freq: str) -> str:
    """The periods a forecast covers, named as a person would: 'October 2026 to September 2027'."""
    alias = FREQUENCIES[freq][2]
    first, last = (pd.Timestamp(d).to_period(alias) for d in (dates.min(), dates.max()))
    return periods_words(first, last, freq)


def _over(span: str, freq: str) -> str:
    """The span with the word before it: 'in November 2026 to January 2027', 'on 1
    November 2026', 'from 1 to 5 November 2026' (not 'in 1 to 5 November')."""
    if freq != "D":
        return f"in {span}"
    return f"from {span}" if " to " in span else f"on {span}"


def _ends_empty(total: SeriesForecast) -> str:
    """All sales' note on empty periods just before the run, as a sentence, or ''."""
    said = total.ends_empty
    return f" {said[0].upper()}{said[1:]}." if said else ""


def _with_sales_so_far(
    results: Mapping[str, SeriesForecast], sales: SalesSeries, freq: str
) -> dict[str, SeriesForecast]:
    """Each series' open period as what it sold so far plus its forecast for the rest of the
    period: a whole-period forecast from the earlier periods alone can fall below what is
    already sold (a strong month), which no one who sees the orders would believe."""
    alias = FREQUENCIES[freq][2]
    out = {}
    for uid, r in results.items():
        opens = not r.frame.empty and (
            pd.Timestamp(r.frame["ds"].iloc[0]).to_period(alias) == sales.current
        )
        sold = sales.sold.get(uid, 0.0)
        noise = sales.day_noise.get(uid, 0.0)
        out[uid] = (
            replace(r, frame=with_sales_so_far(r.frame, sold, sales.to_come, noise)) if opens else r
        )
    return out


def _so_far_words(sales: SalesSeries, r: SeriesForecast, uid: str, freq: str, currency: str) -> str:
    """'$27,207 sold up to the end of 30 October, plus about $738 expected in the rest of the
    month (1 of its 31 days)': the open period's figure as it is made; '' when nothing of
    that period is in the data (the run is dated at its very start)."""
    if sales.to_come >= 1 or sales.through is None:
        return ""
    sold = sales.sold.get(uid, 0.0)
    rest = float(r.frame["yhat"].iloc[0]) - sold

    def amount(value: float) -> str:
        if uid.startswith("units:"):
            return plural(round(value), "unit")
        return money(value, currency)

    return (
        f"{amount(sold)} sold up to {covered_words(sales.through, sales.clock)}, plus about {amount(rest)} "
        f"expected in the rest of the {FREQUENCIES[freq][0]} "
        f"({rest_words(sales.current, sales.through)})"
    )


def _with_history_shown(
    results: dict[str, SeriesForecast], sales: SalesSeries
) -> dict[str, SeriesForecast]:
    """The totals' history as sold, the stopped products' sales back in: they were sold, a
    person compares the forecast with what the shop took, and the forecast was made
    without them (`sales_series`)."""
    out = dict(results)
    for uid, part in sales.left_out.groupby("unique_id"):
        r = results.get(str(uid))
        if r is None or r.history is None:
            continue
        extra = part.set_index(pd.to_datetime(part["ds"]))["y"]
        ds = pd.to_datetime(r.history["ds"])
        added = extra.reindex(ds.dt.tz_localize(None) if ds.dt.tz else ds).fillna(0.0)
        history = r.history.assign(y=r.history["y"].to_numpy() + added.to_numpy())
        out[str(uid)] = replace(r, history=history)
    return out


def _stopped_words(sales: SalesSeries, names: Mapping[str, str], currency: str, freq: str) -> str:
    """The products left out of the forecast as not for sale now, and why, or ''."""
    if not sales.stopped:
        return ""
    order = sorted(sales.stopped, key=lambda p: (-sales.stopped[p], names.get(p, p)))
    shown = [names.get(p, p) for p in order[:5]]
    listed = ", ".join(shown) + (f" and {len(order) - 5} more" if len(order) > 5 else "")
    year, word, length = sum(sales.stopped.values()), FREQUENCIES[freq][0], PERIODS_A_YEAR[freq]
    return (
        f"Left out of the forecast: {plural(len(order), 'product')} not for sale now, "
        f"{listed} (marked so in your products list or CRM: archived, a draft, discontinued "
        "or inactive, or no longer listed). "
        f"{'Its' if len(order) == 1 else 'Their'} sales ({money(year, currency)} in the last "
        f"{plural(length, word)}) count in the history shown, but no forecast "
        "carries them on: all sales' forecast is made from what the products still for sale "
        "sold (with shipping and tax), and no product not for sale gets a forecast of its own."
    )


def forecast_step(tables: Mapping[str, pd.DataFrame], context: StepContext) -> StepResult:
    settings = context.settings_for(ForecastSettings)
    horizon, freq = settings.horizon, settings.frequency
    word = FREQUENCIES[freq][0]
    ended = data_ends_early(tables["orders"], context.as_of)
    if ended is not None:  # months of zeros ahead would read as a forecast of no sales
        raise NotEnoughDataError(
            f"the orders end on {ended:%Y-%m-%d}, long before the run's date "
            f"({context.as_of:%Y-%m-%d}): no forecast of the {plural(horizon, word)} ahead "
            "(load newer orders, or set as_of in [analytics] to that date)"
        )
    # Only the shop's own word takes a product's sales out, not Next products' guess from
    # silence (`off_sale`): that took a seasonal product between its first two seasons and
    # a best seller out of stock for 14 weeks out of the total (review54 item 3).
    sales = sales_series(
        tables["orders"], tables.get("order_lines"), context.as_of, freq,
        settings.products, marked_not_for_sale(tables.get("products")),
    )  # fmt: skip
    if sales.frame.empty:
        raise NotEnoughDataError("no counted orders before the current period to forecast from")
    results, skipped = forecast_panel_results(sales.frame, horizon, levels=LEVELS, gaps="zero")
    if f"revenue:{TOTAL}" not in results:
        reason = skipped.get(f"revenue:{TOTAL}", "no sales history")
        raise NotEnoughDataError(reason)  # the step's name is put in front of it
    results, reconciled = _reconciled(results, freq)
    results = _with_sales_so_far(results, sales, freq)
    results = _with_history_shown(results, sales)
    cur, current = context.currency, period_words(sales.current, freq)
    opening = current[0].upper() + current[1:]  # "The week of ...", starting a sentence
    names: dict[str, str] = {}
    if "products" in tables and len(tables["products"]):
        products = tables["products"].drop_duplicates("product_id")
        # A product without a name is shown by its id, as on the other tabs: an empty name
        # made a series no one could tell apart (three of a Shopify shop's sizes).
        shown = products["name"].map(lambda v: str(v).strip() if pd.notna(v) else "")
        names = {
            str(pid): name for pid, name in zip(products["product_id"], shown, strict=True) if name
        }
    result = StepResult()
    result.outputs["forecasts"] = pd.concat(
        [_rows(uid, r) for uid, r in results.items()], ignore_index=True
    )
    sheet_rows, check_rows = [], []
    for uid, r in results.items():
        measure, label = _label(uid, names)
        said = _so_far_words(sales, r, uid, freq, cur)
        for i, row in enumerate(r.frame.itertuples(index=False)):
            sheet_rows.append(
                {"series": label, "measure": measure, word: _date(row.ds),
                 "forecast": round(row.yhat, 2), "low_80": round(row.lo80, 2),
                 "high_80": round(row.hi80, 2), "low_95": round(row.lo95, 2),
                 "high_95": round(row.hi95, 2),
                 "sold_so_far": round(sales.sold.get(uid, 0.0), 2) if said and i == 0 else None,
                 "note": f"{opening} is not over: {said}" if said and i == 0 else ""}
            )  # fmt: skip
        check_rows.append(
            {"series": label, "measure": measure, "model": MODEL_WORDS.get(r.model, r.model),
             "seasonality": r.seasonality,
             "backtest_error": round(r.backtest.get(r.model, float("nan")), 3),
             "seasonal_naive_error": round(r.backtest.get("seasonal_naive", float("nan")), 3),
             "history": plural(len(r.history) if r.history is not None else 0, word),
             "notes": "; ".join(r.notes)}
        )  # fmt: skip
    rest_rows = _rest_rows(results, reconciled, sales, word, freq)
    sheet_rows += rest_rows
    for uid, reason in skipped.items():
        measure, label = _label(uid, names)
        check_rows.append({"series": label, "measure": measure, "model": "not forecast",
                           "notes": reason})  # fmt: skip
    stopped = _stopped_words(sales, names, cur, freq)
    for pid in sorted(sales.stopped, key=lambda p: names.get(p, p)):
        check_rows.append({"series": names.get(pid, pid), "measure": "revenue",
                           "model": "not forecast",
                           "notes": "not for sale now: its past sales count in All sales' "
                                    "history, but no forecast carries them on"})  # fmt: skip
    total = results[f"revenue:{TOTAL}"]
    span = _span(total.frame["ds"], freq)
    opened = _so_far_words(sales, total, f"revenue:{TOTAL}", freq, cur)
    rows_note = (
        f" {opening} is not over yet: its rows are what was sold in it so far "
        f"({column_label('sold_so_far')}) plus the {word}'s forecast for the rest of it, and "
        f"their ranges are what the rest of it may bring; for all sales, {opened}."
        if opened
        else ""
    )
    result.add_tab(
        FORECAST_TAB,
        pd.DataFrame(sheet_rows),
        f"Sales forecast per {word} for {span} ({plural(horizon, word)}): 8 in 10 outcomes "
        "should fall between the low and high ends of the 80% range, 19 in 20 within the 95% "
        "range."
        + rows_note
        + _ends_empty(total)
        + _adds_up_words(results, reconciled, rest_rows, word)
        + (f" {stopped}" if stopped else ""),
    )
    result.add_tab(
        CHART_TAB,
        _chart_table(total, word, bool(opened), sorted(names.get(p, p) for p in sales.stopped)),
        f"Total revenue: {_history_words(total, word)} and the forecast "
        "with its 80% range (the chart's shaded band)."
        + (f" The point for {current}: {opened}." if opened else ""),
    )
    result.add_tab(
        CHECK_TAB, pd.DataFrame(check_rows), CHECK_NOTE + _no_season_words(results, word)
    )
    expected = float(total.frame["yhat"].sum())
    low, high = float(total.frame["lo80"].sum()), float(total.frame["hi80"].sum())
    sold = sales.sold.get(f"revenue:{TOTAL}", 0.0)
    result.summary.append(
        f"Sales forecast: {money(expected, cur)} expected {_over(span, freq)}"
        + (f", {money(sold, cur)} of it already sold {_over(current, freq)}" if opened else "")
        + (f".{_ends_empty(total)}" if total.ends_empty else "")
    )
    paragraphs = [
        f"Revenue {_over(span, freq)} ({plural(horizon, word)}) is expected to be about "
        f"{money(expected, cur)}."
        + (f" {opening} is not over: {opened}." if opened else "")
        + f" In each {word}, 8 in 10 outcomes should fall in the darker band.",
        f"Adding up the {_adjective(word)} 80% ranges gives {money(low, cur)} to {money(high, cur)}; the "
        "real total is more certain than that, because good and bad periods partly cancel out.",
        f"Method: {MODEL_WORDS.get(total.model, total.model)}. Seasonality: {total.seasonality}. "
        + _accuracy_words(total),
        *[note[0].upper() + note[1:] + "." for note in sales.notes + total.notes],
        *([stopped] if stopped else []),
    ]
    figures = [_chart(total, f"Revenue per {word} ({cur})", cur)]
    units = results.get(f"units:{TOTAL}")
    if units is not None:
        figures.append(_chart(units, f"Units sold per {word}", "units"))
    column = span[0].upper() + span[1:]
    products = [
        {"product": _label(uid, names)[1], column: round(float(r.frame["yhat"].sum())),
         "low_80": round(float(r.frame["lo80"].sum())), "high_80": round(float(r.frame["hi80"].sum())),
         "method": MODEL_WORDS.get(r.model, r.model)}
        for uid, r in results.items() if uid.startswith("revenue:") and not uid.endswith(TOTAL)
    ]  # fmt: skip
    table = pd.DataFrame(products).sort_values(column, ascending=False) if products else None
    rest = sum(float(r["forecast"]) for r in rest_rows if r["measure"] == "revenue")
    if table is not None and any(r["measure"] == "revenue" for r in rest_rows):
        table = pd.concat(
            [table, pd.DataFrame([{"product": REST, column: round(rest), "method": ""}])],
            ignore_index=True,
        )
    if "revenue" in reconciled:
        paragraphs.append(
            "The products' forecasts"
            + (f" (with {REST})" if rest_rows else "")
            + " add up to all sales' forecast: each product is forecast "
            f"on its own, then in each {word} all sales' forecast, made from the most data and "
            "showing the season most clearly, is shared out in proportion to the products' "
            "own forecasts."
            + (
                f" {REST} is the difference between order totals and the products' lines "
                "(shipping, tax, order-level discounts, refunds, products too new to forecast)."
                if rest_rows
                else ""
            )
        )
    if skipped:
        paragraphs.append(f"{len(skipped)} series could not be forecast; see {CHECK_TAB.title}.")
    result.sections.append(ReportSection("Sales forecast", paragraphs, figures, table))
    return result


SALES_FORECAST = Step(
    "sales_forecast", title="Sales forecast", needs=("orders",), personal=False,
    needs_amounts=True, run=forecast_step, reads=("order_lines", "products"),
    outputs=StepOutputs(tables=(FORECASTS,), tabs=(FORECAST_TAB, CHART_TAB, CHECK_TAB)),
    settings=ForecastSettings,
)  # fmt: skip
