"""Orders and order lines turned into the sales series the forecasts run on."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from smbml_connect.analytics.forecast.timeseries import FREQUENCIES
from smbml_connect.business_zone import clock_words, data_end, wall_clock
from smbml_connect.period_names import day_words, period_words
from smbml_connect.sales import describe, net_total, why_not_sale

__all__ = ["SalesSeries", "sales_series", "with_sales_so_far"]

TOTAL = "total"
OTHER = "other"
ORDER_TOTAL = "_order_total"  # an order's counted total beside its lines


class SalesSeries:
    """A long frame `unique_id, ds, y` with ids like `revenue:total` or `units:P-001`, and
    the period that is not over yet: what each series sold in it up to `as_of` (`sold`)
    and the share of it still to come (`to_come`: from `as_of` to the period's end, in time).
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        last_period: pd.Period,
        notes: list[str],
        sold: dict[str, float] | None = None,
        to_come: float = 1.0,
        through: pd.Timestamp | None = None,
        clock: str = "UTC",
    ) -> None:
        self.frame = frame
        self.last_period = last_period
        self.notes = notes
        self.current = last_period + 1
        self.sold = sold or {}
        self.to_come = to_come
        self.through = through  # the data's end (`data_end`) on the business's clock, no zone
        self.clock = clock  # whose clock: "UTC", "Pacific/Auckland time"
        # per series: the variance one period's sales get from day-to-day noise alone
        # (`_day_noise` times the open period's days); empty for daily periods
        self.day_noise: dict[str, float] = {}
        # products not for sale now (`sales_series`'s `stopped`) that sold in the history:
        # their revenue over the last year, and what they added to the totals per period
        # (unique_id, ds, y), which the totals' series leave out and their history shows
        self.stopped: dict[str, float] = {}
        self.left_out = pd.DataFrame({"unique_id": [], "ds": [], "y": []})


# The best sellers are ranked on the last year whatever the period: a season's length in
# days (7) ranked a daily forecast's products on one week, so a product's quiet week put
# the shop's biggest seller into "other" beside the year's smallest forecast on its own.
PERIODS_A_YEAR = {"D": 365, "W": 52, "M": 12, "Q": 4, "Y": 1}


def _complete(frame: pd.DataFrame, last: pd.Period) -> pd.DataFrame:
    """Every period from a series' first sale to the last complete one; no sale is zero."""
    parts = []
    for uid, group in frame.groupby("unique_id", sort=False):
        totals = group.groupby("period")["y"].sum()
        grid = pd.period_range(totals.index.min(), last, freq=last.freq)
        filled = totals.reindex(grid, fill_value=0.0)
        parts.append(
            pd.DataFrame({"unique_id": uid, "ds": grid.start_time, "y": filled.to_numpy()})
        )
    return pd.concat(parts, ignore_index=True) if parts else frame.iloc[0:0]


def covered_words(through: pd.Timestamp, clock: str = "UTC") -> str:
    """Where the data ends, as a person says it: 'the end of 30 October' for a run dated
    31 October (midnight), '14:35 UTC on 31 October' for a run at that time (``clock``
    names the business's: '14:35 Pacific/Auckland time')."""
    if through == through.normalize():
        day = through - pd.Timedelta(days=1)
        return f"the end of {day_words(day, year=False)}"
    return f"{through:%H:%M} {clock} on {day_words(through, year=False)}"


def rest_words(current: pd.Period, through: pd.Timestamp) -> str:
    """The part of the open period still to come: '1 of its 31 days', '9.5 of its 24 hours'."""
    start, end = current.start_time, (current + 1).start_time
    day = pd.Timedelta(days=1)
    unit, size = ("hours", pd.Timedelta(hours=1)) if end - start <= day else ("days", day)
    left, whole = (end - through) / size, (end - start) / size
    return f"{left:.{0 if float(left).is_integer() else 1}f} of its {whole:g} {unit}"


NOISE_PERIODS = 3  # complete periods whose days give the day-to-day noise


def _day_noise(frame: pd.DataFrame, last: pd.Period) -> dict[str, float]:
    """Per series, the variance of one day's sales around its period's daily mean, pooled
    over the last complete periods (days without a sale count as zero)."""
    first = last - (NOISE_PERIODS - 1)
    recent = frame[(frame["period"] >= first) & (frame["period"] <= last)]
    if recent.empty:
        return {}
    days = pd.date_range(first.start_time, (last + 1).start_time, freq="D", inclusive="left")
    daily = (
        recent.groupby(["unique_id", "day"])["y"].sum().unstack(fill_value=0.0)
        .reindex(columns=days, fill_value=0.0)
    )  # fmt: skip
    values = daily.to_numpy(dtype=float)
    which = days.to_period(last.freqstr).asi8
    squares, free = np.zeros(len(daily)), 0
    for ordinal in np.unique(which):
        part = values[:, which == ordinal]
        squares += ((part - part.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        free += part.shape[1] - 1
    if free <= 0:
        return {}
    return dict(zip(daily.index.astype(str), squares / free, strict=True))


Z = {80: 1.2815515655446004, 95: 1.959963984540054}


def with_sales_so_far(
    frame: pd.DataFrame, sold: float, to_come: float, day_noise: float = 0.0
) -> pd.DataFrame:
    """The open period's row (the first) as what was sold in it so far plus the period's
    forecast for the share still to come, its ranges around that and never below what is
    already sold. The forecast is of a whole period learned from whole periods, so its
    part still to come is taken in proportion to time (days or hours have no weights of
    their own here). Its range is not: of a period's uncertainty, the level's part shrinks
    with the share f still to come, but the day-to-day noise's only with the square root
    of f (a day's sales vary more, for their size, than a month's), so a range scaled by
    f alone held a third of the sample's month-end days at 80%. Each side's spread is
    split by `day_noise` (the variance a whole period gets from it) into the two parts;
    without it the range is scaled by f."""
    out = frame.copy()
    first = out.index[0]
    centre = max(float(out.loc[first, "yhat"]), 0.0)
    for column in [c for c in out.columns if c[:2] in ("lo", "hi") and c[2:].isdigit()]:
        bound = float(out.loc[first, column])
        side = (bound - centre) if column[:2] == "hi" else (centre - bound)
        side = max(side, 0.0)
        level = int(column[2:])
        spread = side / Z[level] if level in Z else 0.0
        share = min(1.0, day_noise / spread**2) if spread > 0 else 0.0
        scale = np.sqrt(to_come**2 * (1 - share) + to_come * share)
        rest = to_come * centre + (scale * side if column[:2] == "hi" else -scale * side)
        out.loc[first, column] = sold + max(rest, 0.0)
    out.loc[first, "yhat"] = sold + to_come * centre
    return out


def _left_out(lines: pd.DataFrame) -> list[pd.DataFrame]:
    """What the lines of stopped products added to the totals: their units, and their
    revenue up to each order's counted total (a partly refunded order's lines can come to
    more; an order without a known total added nothing to the revenue)."""
    per_order = lines.groupby("order_id", sort=False).agg(
        period=("period", "first"), day=("day", "first"), revenue=("revenue", "sum"),
        total=(ORDER_TOTAL, "first"),
    )  # fmt: skip
    revenue = np.minimum(per_order["revenue"], per_order["total"].clip(lower=0.0)).fillna(0.0)
    return [
        pd.DataFrame({"unique_id": f"revenue:{TOTAL}", "period": per_order["period"],
                      "day": per_order["day"], "y": revenue.to_numpy(dtype=float)}),
        pd.DataFrame({"unique_id": f"units:{TOTAL}", "period": lines["period"],
                      "day": lines["day"], "y": lines["quantity"].to_numpy(dtype=float)}),
    ]  # fmt: skip


def sales_series(
    orders: pd.DataFrame,
    order_lines: pd.DataFrame | None,
    as_of: pd.Timestamp,
    freq: str = "M",
    top_products: int = 20,
    stopped: Collection[str] = (),
) -> SalesSeries:
    """Revenue and units in total and for the best-selling products, per period.

    The period that contains `as_of` is not over, so it is left out of the history: a
    half month would look like a slump. What each series sold in it up to `as_of` is kept
    apart (`SalesSeries.sold`), counted as every step counts orders (placed at or before
    `as_of`), so the step can show that period as sales so far plus the forecast for the
    rest of it. Products beyond the top ones by revenue are added up as `other`. Periods
    are the business's: days, weeks and months on the clock of `as_of`'s zone (UTC when
    it has none; see business_zone).

    Products in `stopped` are not for sale now: they get no series of their own, and the
    totals' series are what the other products sold (with shipping and tax), so that no
    forecast carries on a product the shop no longer sells (an archived kit, a third of a
    shop's last year, was its first forecast product and held up the total's). What they
    sold is kept in `SalesSeries.left_out` for the history a person sees, and in `sold`.
    """
    alias = FREQUENCIES[freq][2]
    stamp = pd.Timestamp(as_of)
    zone = stamp.tz
    clock = clock_words(zone)
    stamp = stamp.tz_localize(None) if stamp.tzinfo else stamp  # its own clock's reading
    ends = data_end(stamp)  # a run dated a whole day: the next midnight, that day is over
    current = ends.to_period(alias)
    last = current - 1
    start, end = current.start_time, (current + 1).start_time
    to_come = float((end - ends) / (end - start))
    word = FREQUENCIES[freq][0]
    if to_come < 1:
        opening = (
            f"{period_words(current, freq)} is not over yet (the data runs to "
            f"{day_words(stamp)}): its sales so far are not used as history, since a part "
            f"{word} would look like a slump; its figures are what was sold up to "
            f"{covered_words(ends, clock)} plus the {word}'s forecast for the part still to come "
            f"({rest_words(current, ends)}), and its ranges are what that part may bring"
        )
    else:  # the run is dated at the period's very start: nothing of it is known yet
        opening = (
            f"{period_words(current, freq)} has not started yet (the data runs to "
            f"{day_words(stamp)}): nothing of it is in the data, and the whole {word} is forecast"
        )
    notes = [opening]
    counted = orders.dropna(subset=["ordered_at"])
    # Revenue is net of refunds, as every analytic counts it; credit notes are matched
    # over the whole table, so before anything is left out, and after the rule has read
    # the totals as written (net ones would count each refund twice).
    why = why_not_sale(counted)
    counted = counted.assign(total=net_total(counted).to_numpy())
    if why.notna().any():  # refunds, cancellations, ...: kept in the store, not sales
        notes.append(f"orders that are not sales left out: {describe(why)}")
        counted = counted[why.isna().to_numpy()]
    when = wall_clock(counted["ordered_at"], zone)
    counted = counted.assign(period=when.dt.to_period(alias), day=when.dt.normalize())
    # History is the complete periods; the open one counts up to as_of, as the other steps
    # count orders (an order dated later on the as_of day is not in yet).
    counted = counted[
        (counted["period"] <= last) | ((counted["period"] == current) & (when <= stamp))
    ]
    unknown_totals = int(counted["total"].isna().sum())
    if unknown_totals:  # their lines still count per product: "Rest of sales" goes below 0
        notes.append(
            f"{unknown_totals} {'order has' if unknown_totals == 1 else 'orders have'} no "
            "total that can be counted (none written, or one in another currency): counted "
            "as nothing in all sales' revenue, though their lines count in units and per "
            "product"
        )
    left_out: list[pd.DataFrame] = []  # what stopped products added to the totals
    out_stopped: dict[str, float] = {}
    rows = [
        pd.DataFrame({"unique_id": f"revenue:{TOTAL}", "period": counted["period"],
                      "day": counted["day"],
                      "y": counted["total"].fillna(0.0).to_numpy(dtype=float)})
    ]  # fmt: skip
    if order_lines is not None and len(order_lines):
        lines = order_lines.merge(
            counted[["order_id", "period", "day", "total"]].rename(columns={"total": ORDER_TOTAL}),
            on="order_id",
            how="inner",
        )
        unknown = int(lines["quantity"].isna().sum())
        if unknown:
            notes.append(
                f"{unknown} order {'line' if unknown == 1 else 'lines'} without a quantity "
                "counted in revenue but not in units or per product"
            )
        lines = lines.dropna(subset=["quantity"])
        returned = lines["quantity"].lt(0).to_numpy(dtype=bool)
        if returned.any():  # returns are not sales
            notes.append(f"{int(returned.sum())} order lines with a negative quantity left out")
            lines = lines[~returned]
        discount = lines["discount"].fillna(0.0) if "discount" in lines else 0.0
        revenue = lines["quantity"] * lines["unit_price"].fillna(0.0) * (1 - discount)
        lines = lines.assign(revenue=revenue.to_numpy(dtype=float))
        lines["product_id"] = lines["product_id"].fillna(OTHER).astype(str)
        in_year = (lines["period"] > last - PERIODS_A_YEAR[freq]) & (lines["period"] <= last)
        gone = lines["product_id"].isin(set(stopped)) & lines["product_id"].ne(OTHER)
        every = lines  # units of every sale count in the total's, less the stopped ones' below
        if gone.any():
            left_out.extend(_left_out(lines[gone.to_numpy()]))
            year = lines[(gone & in_year).to_numpy()].groupby("product_id")["revenue"].sum()
            out_stopped = {p: float(year.get(p, 0.0)) for p in set(lines.loc[gone, "product_id"])}
            lines, in_year = lines[~gone.to_numpy()], in_year[~gone]
        recent = lines[in_year.to_numpy()]
        ranking = recent.groupby("product_id")["revenue"].sum().sort_values(ascending=False)
        top = set(ranking.index[:top_products]) - {OTHER}
        if len(ranking) > len(top):
            notes.append(
                f"{len(ranking) - len(top)} smaller products are forecast together as '{OTHER}'"
            )
        product = lines["product_id"].where(lines["product_id"].isin(top), OTHER)
        rows.append(pd.DataFrame({"unique_id": f"units:{TOTAL}", "period": every["period"],
                                  "day": every["day"],
                                  "y": every["quantity"].to_numpy(dtype=float)}))  # fmt: skip
        for measure, column in (("revenue", "revenue"), ("units", "quantity")):
            rows.append(
                pd.DataFrame({"unique_id": measure + ":" + product, "period": lines["period"],
                              "day": lines["day"], "y": lines[column].to_numpy(dtype=float)})
            )  # fmt: skip
    frame = pd.concat(rows, ignore_index=True)
    frame = frame[np.isfinite(frame["y"])]
    now = frame["period"] == current
    sold = {str(k): float(v) for k, v in frame[now].groupby("unique_id")["y"].sum().items()}
    gone_rows = pd.concat([frame.iloc[0:0], *left_out], ignore_index=True)
    gone_rows = gone_rows[gone_rows["period"] <= last]
    if len(gone_rows):  # the totals less what the stopped products sold, per day
        frame = pd.concat([frame, gone_rows.assign(y=-gone_rows["y"])], ignore_index=True)
        now = frame["period"] == current
    out = SalesSeries(_complete(frame[~now], last), last, notes, sold, to_come, ends, clock)
    out.frame["y"] = out.frame["y"].clip(lower=0.0)  # a rounding cent below nothing
    out.stopped = out_stopped
    if len(gone_rows):
        shown = _complete(gone_rows, last)
        out.left_out = shown[shown["unique_id"].isin(set(out.frame["unique_id"]))]
    days = (current + 1).start_time - current.start_time
    if days > pd.Timedelta(days=1):  # a period of several days: their noise is known
        noise = _day_noise(frame[~now], last)
        out.day_noise = {uid: v * days.days for uid, v in noise.items()}
    return out
