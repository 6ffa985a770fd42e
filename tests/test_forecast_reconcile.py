"""The per-product forecasts add up to all sales' (a newcomer's review of the demo: the
products' Decembers added up to 55% of the total's December, July's to 121%)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from smbml_connect.analytics.forecast.engine import SeriesForecast
from smbml_connect.analytics.forecast.reconcile import to_total
from smbml_connect.steps.base import StepContext
from smbml_connect.steps.forecasts import REST, forecast_step


def _added_up(tab: pd.DataFrame) -> pd.DataFrame:
    whole = tab[tab["series"] == "All sales"].set_index(["measure", "month"])["forecast"]
    parts = tab[tab["series"] != "All sales"].groupby(["measure", "month"])["forecast"].sum()
    return pd.DataFrame({"whole": whole, "parts": parts})


def test_the_products_rows_add_up_to_all_sales_in_every_month(business):
    result = forecast_step(business.tables, StepContext(as_of=business.as_of))
    tab = result.sheets["Forecast"]
    months = _added_up(tab)
    assert len(months) == 24  # 12 months, revenue and units
    assert np.allclose(months["whole"], months["parts"], atol=0.01 * 22)
    assert REST not in set(tab["series"])  # the sample's order totals are its lines
    december = tab[(tab["month"].dt.month == 12) & (tab["measure"] == "revenue")]
    total = december.loc[december["series"] == "All sales", "forecast"].iloc[0]
    parts = december[december["series"] != "All sales"]
    assert parts["forecast"].sum() == pytest.approx(total, abs=0.5)
    notes = result.sheets["Forecast check"].set_index(["series", "measure"])["notes"]
    assert "add up to all sales' forecast in each month" in notes[("House Blend", "revenue")]
    assert "add up to all sales" not in notes[("All sales", "revenue")]
    assert "add up to All sales" in result.notes["Forecast"]
    assert any("shared out in proportion" in p for p in result.sections[0].paragraphs)
    for rows in (tab, parts):  # ranges still hold their centre
        assert (rows["low_95"] <= rows["low_80"]).all() and (
            rows["low_80"] <= rows["forecast"]
        ).all()
        assert (rows["forecast"] <= rows["high_80"]).all() and (
            rows["high_80"] <= rows["high_95"]
        ).all()


def test_shipping_in_order_totals_is_a_row_of_its_own_so_the_rows_still_add_up(business):
    """Real exports' order totals hold shipping and tax that no product line holds: the
    products add up to their share of all sales, and the rest is shown and said."""
    tables = dict(business.tables)
    tables["orders"] = tables["orders"].assign(total=tables["orders"]["total"] * 1.1)
    result = forecast_step(tables, StepContext(as_of=business.as_of))
    tab = result.sheets["Forecast"]
    months = _added_up(tab)
    assert np.allclose(months["whole"], months["parts"], atol=0.01 * 23)
    rest = tab[tab["series"] == REST]
    assert set(rest["measure"]) == {"revenue"}  # units are all in the products' lines
    assert "the products made up 90.9% of all sales" in rest["note"].iloc[0]
    whole = tab[(tab["series"] == "All sales") & (tab["measure"] == "revenue")]
    closed = whole["sold_so_far"].isna().to_numpy()  # the months not begun: exactly 1 - share
    assert rest["forecast"].to_numpy()[closed] == pytest.approx(
        whole["forecast"].to_numpy()[closed] / 11, rel=1e-3
    )
    table = result.sections[0].table
    assert table is not None and REST in set(table["product"])
    column = table.columns[1]
    assert table[column].sum() == pytest.approx(whole["forecast"].sum(), abs=len(table))
    assert f"(with Other products and {REST}) add up to All sales" in result.notes["Forecast"]
    assert any(f"forecasts (with {REST}) add up" in p for p in result.sections[0].paragraphs)
    # the month not over yet: what each row sold so far adds up too
    first = tab[tab["month"] == tab["month"].min()]
    sold = first.groupby(first["series"] == "All sales")["sold_so_far"].sum()
    assert sold[False] == pytest.approx(sold[True], abs=0.01 * len(first))
    assert first.loc[first["series"] == REST, "sold_so_far"].iloc[0] > 0


def test_order_totals_below_their_lines_are_said_so(business):
    """Order-level discounts and refunds larger than shipping and tax: Rest of sales is
    below zero, and its note says why rather than naming shipping and tax."""
    tables = dict(business.tables)
    tables["orders"] = tables["orders"].assign(total=tables["orders"]["total"] * 0.9)
    tab = forecast_step(tables, StepContext(as_of=business.as_of)).sheets["Forecast"]
    rest = tab[tab["series"] == REST]
    assert (rest["forecast"] < 0).all()
    assert "order totals come to less than the products' lines" in rest["note"].iloc[0]
    assert np.allclose(*_added_up(tab).to_numpy().T, atol=0.01 * 23)


def _forecast(values: list[float], history: list[float], spread: float = 0.2) -> SeriesForecast:
    dates = pd.date_range("2026-01-01", periods=len(values), freq="MS")
    y = np.array(values, dtype=float)
    frame = pd.DataFrame({"ds": dates, "yhat": y, "lo80": y * (1 - spread),
                          "hi80": y * (1 + spread), "lo95": y * (1 - 2 * spread),
                          "hi95": y * (1 + 2 * spread), "model": "ets"})  # fmt: skip
    past = pd.DataFrame(
        {"ds": pd.date_range(end="2025-12-01", periods=len(history), freq="MS"), "y": history}
    )
    return SeriesForecast(frame, "ets", "MS", 12, "none", history=past)


def test_the_total_is_shared_in_proportion_to_the_products_own_forecasts():
    total = _forecast([300, 600], [100] * 12)
    parts = {"a": _forecast([100, 100], [50] * 12), "b": _forecast([50, 150], [50] * 12)}
    done = to_total(total, parts, 12)
    assert done.share == 1.0 and done.factors.tolist() == [2.0, 2.4]
    a, b = done.parts["a"].frame, done.parts["b"].frame
    assert a["yhat"].tolist() == [200, 240] and b["yhat"].tolist() == [100, 360]
    assert a["lo80"].tolist() == pytest.approx([160, 192])  # each range scaled with its centre
    assert b["hi95"].tolist() == pytest.approx([140, 504])


def test_products_all_forecast_at_nothing_share_the_total_as_they_sold():
    """A month where every product's own forecast is zero (intermittent sellers) while all
    sales' is not: shared as the products sold over the last year, not left at zero."""
    total = _forecast([90, 90], [3] * 12)
    parts = {"a": _forecast([0, 60], [2] * 12), "b": _forecast([0, 30], [1] * 12)}
    done = to_total(total, parts, 12)
    assert done.parts["a"].frame["yhat"].tolist() == pytest.approx([60, 60])
    assert done.parts["b"].frame["yhat"].tolist() == pytest.approx([30, 30])
    first = done.parts["a"].frame.iloc[0]
    assert first["lo80"] < first["yhat"] < first["hi80"]  # the total's range, its share
    assert (first["lo80"], first["hi95"]) == pytest.approx((90 * 0.8 * 2 / 3, 90 * 1.4 * 2 / 3))
    assert np.isnan(done.factors[0]) and done.factors[1] == pytest.approx(1.0)


def test_a_product_forecast_at_nothing_beside_others_keeps_its_own_range():
    """An occasional seller forecast at 0 (its high end above it) beside products that
    sell: it stays at 0 and keeps its own range, not a range of zero width."""
    total = _forecast([200], [20] * 12)
    occasional = _forecast([0], [1] * 12)
    occasional.frame[["hi80", "hi95"]] = [[4.0, 7.0]]
    parts = {"a": _forecast([100], [19] * 12), "b": occasional}
    done = to_total(total, parts, 12)
    row = done.parts["b"].frame.iloc[0]
    assert (row["yhat"], row["hi80"], row["hi95"]) == (0.0, 4.0, 7.0)
    assert done.parts["a"].frame["yhat"].iloc[0] == pytest.approx(200)


def test_the_parts_share_of_the_total_is_read_over_the_last_year():
    """Shipping was 10% of order totals in the last year; earlier years do not count."""
    total = _forecast([110], [200] * 12 + [110] * 12)
    parts = {"a": _forecast([50], [200] * 12 + [60] * 12), "b": _forecast([50], [40] * 12)}
    done = to_total(total, parts, 12)
    assert done.share == pytest.approx(100 / 110)
    added = sum(p.frame["yhat"].iloc[0] for p in done.parts.values())
    assert added == pytest.approx(100)
