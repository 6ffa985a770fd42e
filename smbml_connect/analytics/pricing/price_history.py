"""Order lines turned into what each product sold, week by week, at what price.

Demand is read per week rather than per order line: a line says what one buyer took,
while a week with no sale at a given price is evidence too. The order lines are the only
record of price most shops have, so a week without a sale takes the list price of the nearest week with one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from smbml_connect.business_zone import data_end, wall_clock
from smbml_connect.sales import why_not_sale

__all__ = ["SILENT_WEEKS", "PriceHistory", "evidence", "weekly_prices"]

SILENT_WEEKS = 13  # a product unsold for this long may be off sale: its weeks stop there
_ANCHORS = ("W-SUN", "W-MON", "W-TUE", "W-WED", "W-THU", "W-FRI", "W-SAT")  # Monday first


@dataclass
class PriceHistory:
    """One row per product and week: `units, net_price, list_price, promoted, imputed,
    price_points` (the distinct prices paid on its order lines, repeated on each row) and
    `stocked_out` (quiet weeks too long for chance: likely out of stock, not fitted).

    Weeks start on the weekday the shop's prices change on (a week that straddles a
    change blurs two prices into one). A week's price is what buyers paid on average;
    `promoted` is the share of its order lines sold on promotion; `imputed` marks weeks without
    a sale, which take the list price of the nearest week with one.
    """

    frame: pd.DataFrame
    last_week: pd.Timestamp
    silent: dict[str, int] = field(default_factory=dict)  # product: weeks since its last sale
    notes: list[str] = field(default_factory=list)
    currency: str = ""  # the currency prices are read in, when the lines say
    foreign: list[str] = field(default_factory=list)  # products sold only in other currencies
    # product: (lowest, highest list price, share of weeks) when most weeks had two or more
    mixed: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    # every distinct list price on the lines priced in `currency`: the shop's price grid
    list_prices: tuple[float, ...] = ()
    # Why a product on the order lines has no weeks, when not for an unreadable price:
    # every line given away, every line in orders that are not sales, or sold only in the
    # week under way (not complete yet).
    given_away: frozenset[str] = frozenset()
    not_sales: frozenset[str] = frozenset()
    this_week: frozenset[str] = frozenset()


def _only(ids: pd.Series, rows: np.ndarray) -> frozenset[str]:
    """Products whose every line is one of ``rows`` (a boolean mask over ``ids``)."""
    named = ids.notna().to_numpy()
    text = ids.astype(str)
    return frozenset(text[rows & named]) - frozenset(text[~rows & named])


def _lines_with_dates(
    order_lines: pd.DataFrame, orders: pd.DataFrame | None
) -> tuple[pd.DataFrame, list[str], frozenset[str]]:
    """The lines with their order's date and currency, less the lines of orders that are
    not sales; notes; and the products whose every line was in such an order."""
    notes: list[str] = []
    lines = order_lines.copy()
    if "ordered_at" not in lines.columns:
        if orders is None or "ordered_at" not in orders.columns:
            raise ValueError("order lines need dates: pass the orders, or an ordered_at column")
        wanted = ("order_id", "ordered_at") + (() if "currency" in lines.columns else ("currency",))
        keep = [c for c in wanted if c in orders.columns]
        sale = orders[keep].assign(_not_sale=why_not_sale(orders).notna().to_numpy())
        lines = lines.merge(sale, on="order_id", how="inner")
        dropped = lines.pop("_not_sale").to_numpy(dtype=bool)
    else:  # lines that carry their order's date may carry its status and total too
        dropped = why_not_sale(lines).notna().to_numpy(dtype=bool)
    if dropped.any():
        notes.append(
            f"{int(dropped.sum())} line{'' if dropped.sum() == 1 else 's'} of orders that are not "
            "sales (refunded, cancelled, "
            "...) left out"
        )
    gone = _only(lines["product_id"], dropped) if dropped.any() else frozenset()
    if dropped.any():
        lines = lines[~dropped]
    return lines, notes, gone


def _in_currency(lines: pd.DataFrame, currency: str | None) -> tuple[pd.Series, str, list[str]]:
    """Which lines are priced in one currency: `currency` when lines were sold in it, else
    the currency most lines were sold in; that currency; and a note when others were left.

    The same product at USD 22 and EUR 20.24 is one price, not two: averaged together, a
    shop whose share of euro orders grows looks like it cut the price, and today's price
    becomes a blend that no buyer pays. Lines in other currencies still count as units
    sold (a shop's prices in other currencies follow its own, converted), so a growing
    share of foreign buyers is not read as buyers leaving after a price change either.
    """
    everywhere = pd.Series(True, index=lines.index)
    if "currency" not in lines.columns:
        return everywhere, "", []
    codes = lines["currency"].map(
        lambda v: str(v).strip().upper() if pd.notna(v) and str(v).strip() else None
    )
    seen = codes.dropna()
    if seen.nunique() <= 1:
        return everywhere, str(seen.iloc[0]) if len(seen) else "", []
    wanted = (currency or "").strip().upper()
    main = wanted if wanted in set(seen) else str(seen.value_counts().index[0])
    other = codes.notna() & (codes != main)
    counts = codes[other].value_counts()
    named = ", ".join(f"{code} {count:,}" for code, count in counts.items())
    note = (
        f"{int(other.sum()):,} order line{'' if other.sum() == 1 else 's'} sold in other "
        f"currencies than {main} ({named}) count as units sold but not as prices: prices are "
        f"read from the lines sold in {main}, since a price in another currency is not a "
        "price change"
    )
    return ~other, main, [note]


def _shown(value: Any) -> str:
    if value is None or pd.isna(value):
        return "(none)"
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _usable(
    lines: pd.DataFrame, priced: pd.Series, zone: Any = None
) -> tuple[pd.DataFrame, list[str], frozenset[str]]:
    """The lines pricing can read; notes on those left out; and the products whose every
    line was given away (a price of 0 or 100% off)."""

    def numbers(name: str) -> pd.Series:  # plain floats: store columns are nullable
        return pd.to_numeric(lines[name], errors="coerce").astype("float64")

    quantity, price = numbers("quantity"), numbers("unit_price")
    discount = (
        numbers("discount").fillna(0.0)
        if "discount" in lines.columns
        else pd.Series(0.0, index=lines.index)
    )
    stamps = pd.to_datetime(lines["ordered_at"], utc=True, errors="coerce")
    checks = {  # column: rows whose value cannot be used, and why
        "product_id": (lines["product_id"].isna().to_numpy(), "no product"),
        "ordered_at": (stamps.isna().to_numpy(), "no date"),
        "quantity": (~(quantity > 0).to_numpy(), "not a quantity above 0"),
        "unit_price": (~(price > 0).to_numpy(), "not a price above 0"),
        "discount": (~discount.between(0, 1, inclusive="left").to_numpy(), "not a share below 1"),
    }
    # Given away (a free gift at 0, a staff order at 100% off): no buyer chose that price.
    free = ((price == 0) | (discount == 1)).to_numpy() & (quantity > 0).to_numpy()
    bad = np.logical_or.reduce([rows for rows, _ in checks.values()])
    notes = []
    if (free & bad).any():
        n = int((free & bad).sum())
        notes.append(
            f"{n} order line{'' if n == 1 else 's'} given away (a price of 0 or 100% off) left "
            "out of pricing: nobody paid a price for them"
        )
    if (bad & ~free).any():
        bad_only = bad & ~free
        at = int(np.flatnonzero(bad_only)[0])
        column, (_, why) = next((c, v) for c, v in checks.items() if v[0][at])
        first = lines.iloc[at]
        value = first[column] if column in lines.columns else None
        # A missing value is said in words: repr would show pandas' "<NA>" or "nan".
        problem = f"{column} is empty" if pd.isna(value) else f"{column}: {value!r} is {why}"
        n = int(bad_only.sum())
        notes.append(
            f"{n} order line{'' if n == 1 else 's'} left out of pricing "
            f"(first: order {_shown(first.get('order_id'))} line {_shown(first.get('line_no'))}, "
            f"{problem})"
        )
    usable = pd.DataFrame(
        {
            "product_id": lines["product_id"].astype(str),
            "stamp": wall_clock(stamps, zone),  # weeks are the business's
            "quantity": quantity.astype(float),
            "list_price": price.astype(float),
            "net_price": (price * (1 - discount)).astype(float),
            "promoted": discount > 0,
            "priced": priced.to_numpy(dtype=bool),
        }
    )[~bad]
    return usable, notes, _only(lines["product_id"], free & bad)


def _nearest(prices: pd.Series, product: pd.Series) -> pd.Series:
    """Fill each product's gaps with the nearer of the prices before and after them.

    Carrying the old price forward would book the quiet weeks after a price rise at the
    old, lower price, which makes buyers look less sensitive than they are.
    """
    at = pd.Series(np.arange(len(prices), dtype=float), index=prices.index)
    seen = at.where(prices.notna())
    before, after = seen.groupby(product).ffill(), seen.groupby(product).bfill()
    later = ((after - at) < (at - before)).fillna(before.isna())
    earlier, next_ = prices.groupby(product).ffill(), prices.groupby(product).bfill()
    return earlier.where(~later, next_).fillna(next_)


def _week_anchor(usable: pd.DataFrame) -> str:
    """The week boundary that splits the fewest weeks between two prices of a product."""
    mixed = []
    for anchor in _ANCHORS:
        week = usable["stamp"].dt.to_period(anchor)
        prices = usable["net_price"].round(2).groupby([usable["product_id"], week]).nunique()
        mixed.append(int((prices > 1).sum()))
    return _ANCHORS[int(np.argmin(mixed))]  # ties: the earliest, Monday weeks


MIXED_SHARE = 0.5  # more than half its weeks sold at two prices or more: not one price
MIXED_GAP = 0.02  # prices within 2% of each other in a week are one price, rounded apart


def _mixed_prices(usable: pd.DataFrame) -> dict[str, tuple[float, float, float]]:
    """Products sold at two list prices or more in most of their weeks, as (lowest price,
    highest price, share of weeks): sizes or variants under one product id, or prices per
    customer.

    Their weekly price is then a mix that moves with what buyers chose, not with a price
    change, and today's "price" is one no buyer pays: a latte at 4.00 small and 5.00 large
    under one name was "Raise to 4.84". A price changed once splits one week at most.
    """
    priced = usable[usable["priced"]]
    cents = priced["list_price"].round(2)
    per_week = cents.groupby([priced["product_id"], priced["week"]])
    # Two prices differ by more than rounding: a unit price worked back from a line total
    # in cents (24.90 a kg x 0.353 kg = 8.79, read back as 24.87) splits nearly every week
    # of a product sold by weight (review: a cheese refused as "sizes or variants").
    lowest, highest = per_week.min(), per_week.max()
    apart = highest - lowest > np.maximum(0.011, MIXED_GAP * highest)
    weeks = pd.DataFrame({"prices": np.where(apart, 2, 1), "lines": per_week.size()})
    weeks = weeks[weeks["lines"] >= 2]  # a week with one line cannot show two prices
    share = (weeks["prices"] >= 2).groupby(level="product_id").mean()
    count = weeks.groupby(level="product_id").size()
    mixed = share[(share > MIXED_SHARE) & (count >= 4)]
    low = cents.groupby(priced["product_id"]).min()
    high = cents.groupby(priced["product_id"]).max()
    return {str(p): (float(low[p]), float(high[p]), float(v)) for p, v in mixed.items()}


def _stocked_out(frame: pd.DataFrame) -> tuple[np.ndarray, str | None]:
    """Runs of weeks without a sale too long for chance at the pace around them: likely
    out of stock, so no evidence of demand at the week's price.

    A product selling 40 a week that sells none for six weeks after a price rise was read
    as buyers leaving because of the rise. A run of k quiet weeks at a pace of r a week
    happens by chance with probability exp(-k r) (Poisson); a run is left out when that is
    below 1% spread over all the product weeks in the history (Bonferroni). The pace is
    the lower of the 13 weeks before and the 13 after (quiet weeks included): a stock-out
    has steady sales on both sides, while a product that fades out and back (buyers come
    and go: a sample product quiet for 17 weeks at about one a week) or has stopped
    selling (the last weeks) keeps its quiet weeks as demand.
    """
    out = np.zeros(len(frame), dtype=bool)
    if frame.empty:
        return out, None
    limit = np.log(100.0 * len(frame))
    units = frame["units"].to_numpy(dtype=float)
    quiet = frame["imputed"].to_numpy(dtype=bool)
    runs: list[tuple[str, int, pd.Timestamp]] = []
    for product, at in frame.groupby("product_id", sort=True).indices.items():
        here, still = units[at], quiet[at]
        edges = np.flatnonzero(np.diff(np.r_[0, still.astype(int), 0]))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            before = here[max(0, start - SILENT_WEEKS) : start]
            after = here[stop : stop + SILENT_WEEKS]
            pace = min(before.mean(), after.mean()) if len(before) and len(after) else 0.0
            if (stop - start) * pace > limit:
                out[at[start:stop]] = True
                runs.append((str(product), int(stop - start), frame["week"].iloc[at[start]]))
    if not runs:
        return out, None
    product, weeks, first = runs[0]
    products = len({r[0] for r in runs})
    note = (
        f"{int(out.sum())} week{'' if out.sum() == 1 else 's'} without a sale of "
        f"{_plural(products, 'product')} that sold steadily around them left out of pricing "
        f"(out of stock, out of season or closed; first: {product}, "
        f"{weeks} week{'' if weeks == 1 else 's'} from {first:%Y-%m-%d}): "
        "no sale then says nothing about the price"
    )
    return out, note


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def weekly_prices(
    order_lines: pd.DataFrame,
    orders: pd.DataFrame | None,
    as_of: pd.Timestamp,
    currency: str | None = None,
) -> PriceHistory:
    """Units and the quantity-weighted price of every product in every complete week.

    A product's weeks run from its first sale to the last complete week before `as_of`
    (the current week is not over), or to its last sale when it has not sold for
    `SILENT_WEEKS` weeks. Orders in several currencies: only the lines in `currency`
    (else the most common one) count, and a note says how many were left out.
    """
    lines, notes, not_sales = _lines_with_dates(order_lines, orders)
    priced, main, more = _in_currency(lines, currency)
    notes += more
    stamp = pd.Timestamp(as_of)  # its zone is the business's: weeks are counted on it
    zone = stamp.tz if stamp.tzinfo else None
    stamp = stamp.tz_localize(None) if stamp.tzinfo else stamp
    usable, more, given_away = _usable(lines, priced, zone)
    notes += more
    foreign = usable.groupby("product_id")["priced"].any()
    foreign = sorted(foreign.index[~foreign.to_numpy()])  # sold only in other currencies
    usable = usable[~usable["product_id"].isin(foreign)]
    anchor = _week_anchor(usable[usable["priced"]])
    usable = usable.assign(week=usable["stamp"].dt.to_period(anchor).dt.start_time)
    mixed = _mixed_prices(usable)
    counted = usable["quantity"] * usable["priced"]  # units whose price is in one currency
    weighted = usable.assign(
        priced_units=counted,
        list_paid=counted * usable["list_price"],
        net_paid=counted * usable["net_price"],
    )
    weekly = weighted.groupby(["product_id", "week"], sort=True).agg(
        units=("quantity", "sum"), priced_units=("priced_units", "sum"),
        list_paid=("list_paid", "sum"), net_paid=("net_paid", "sum"),
        promoted=("promoted", "mean"),
    )  # fmt: skip
    priced_units = weekly["priced_units"].where(weekly["priced_units"] > 0)
    weekly["list_price"] = weekly["list_paid"] / priced_units  # none: nearest week's price
    weekly["net_price"] = weekly["net_paid"] / priced_units
    last_week = (data_end(stamp).to_period(anchor) - 1).start_time  # a whole day: its end
    weekly = weekly[weekly.index.get_level_values("week") <= last_week]
    sold = weekly.reset_index()
    span = sold.groupby("product_id", sort=True)["week"].agg(["min", "max"])
    quiet = ((last_week - span["max"]).dt.days // 7).astype(int)
    silent = {str(p): int(q) for p, q in quiet[quiet >= SILENT_WEEKS].items()}
    end = span["max"].where(quiet >= SILENT_WEEKS, last_week)
    count = ((end - span["min"]).dt.days // 7 + 1).to_numpy()
    offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    grid = pd.DataFrame(
        {
            "product_id": np.repeat(span.index.to_numpy(), count),
            "week": np.repeat(span["min"].to_numpy(), count) + pd.to_timedelta(offset * 7, "D"),
        }
    )
    full = grid.merge(sold, on=["product_id", "week"], how="left")
    frame = pd.DataFrame(
        {
            "product_id": full["product_id"].astype(str),
            "week": full["week"],
            "units": full["units"].fillna(0.0).astype(float),
            "list_price": _nearest(full["list_price"], full["product_id"]),
            "promoted": full["promoted"].fillna(0.0).astype(float),
            "imputed": full["units"].isna(),
        }
    )
    frame.insert(3, "net_price", full["net_price"].fillna(frame["list_price"]))
    frame["stocked_out"], said = _stocked_out(frame)
    notes += [said] if said else []
    paid = usable[usable["priced"]]
    points = paid["net_price"].round(2).groupby(paid["product_id"]).nunique()
    frame["price_points"] = frame["product_id"].map(points).fillna(0).astype(int)
    listed = tuple(float(p) for p in np.unique(paid["list_price"].to_numpy(dtype=float)))
    this_week = frozenset(usable["product_id"]) - frozenset(frame["product_id"])
    return PriceHistory(frame, last_week, silent, notes, main, foreign, mixed, listed,
                        given_away, not_sales, this_week)  # fmt: skip


def evidence(frame: pd.DataFrame) -> pd.DataFrame:
    """What each product's price estimate can rest on, in numbers a user can check.

    `distinct_prices` counts the prices actually paid on order lines when the history
    carries them (`price_points`), else the distinct weekly prices.
    """
    sold = frame[frame["units"] > 0]
    rounded = sold["net_price"].round(2).groupby(sold["product_id"])
    table = pd.DataFrame({"observations": frame.groupby("product_id").size()})
    table["selling_periods"] = sold.groupby("product_id").size()
    table["units"] = sold.groupby("product_id")["units"].sum()
    table["distinct_prices"] = rounded.nunique()
    if "price_points" in frame.columns:
        table["distinct_prices"] = frame.groupby("product_id")["price_points"].first()
    table["price_low"], table["price_high"] = rounded.min(), rounded.max()
    counts = ["selling_periods", "units", "distinct_prices"]
    table[counts] = table[counts].fillna(0).astype(float)
    return table
