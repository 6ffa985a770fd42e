"""Prices from a Shopify orders export: a compare-at sale is a promotion, not a price cut."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from smbml_connect.analytics.pricing.suggest import suggest_prices
from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.schema import validate

FIXTURES = Path(__file__).parent / "fixtures" / "layouts"
HEADER = next(csv.reader((FIXTURES / "shopify_orders_export_1.csv").open()))
WEEKS = pd.date_range("2025-01-06", periods=77, freq="W-MON")
BLACK_FRIDAY = {pd.Timestamp("2025-11-24"), pd.Timestamp("2025-12-01")}
CODE_WEEKS = set(WEEKS[8::9])  # SALE20, 20% off the whole cart, every 9th week
# sku: (price in a week, buyers a week at the first price, elasticity, cost, category)
SHOP = {
    "TEE-S": (lambda w: 25.0, 6.0, -1.5, 9.0, "Apparel"),
    "TEE-M": (lambda w: 25.0, 6.0, -1.5, 9.0, "Apparel"),
    "TEE-L": (lambda w: 28.0, 6.0, -1.5, 9.0, "Apparel"),
    "MUG": (lambda w: 12.0 if w < WEEKS[25] else 14.0 if w < WEEKS[52] else 15.0, 8.0, -1.2, 4.0,
            "Kitchen"),
    "CANDLE": (lambda w: 30.0, 5.0, -2.0, 10.0, "Home"),
    "PRINT": (lambda w: 80.0 if w < WEEKS[39] else 88.0, 2.0, -1.0, 30.0, "Art"),
}  # fmt: skip


def _export(folder: Path, sale: str, seed: int = 1) -> Path:
    """A Shopify orders export of `SHOP` (a shop like find57_pricing's), its Black Friday
    (20% off the tees, twice the buyers) written as Shopify's compare-at price
    (`sale="compare"`: Lineitem price 20.00, compare at 25.00) or as an automatic discount
    (`"discount"`: Lineitem price 25.00, Lineitem discount 5.00). Same random draws."""
    rng = np.random.default_rng(seed)
    rows, n = [], 1000
    for at, week in enumerate(WEEKS):
        season = 1 + 0.15 * np.sin(2 * np.pi * at / 52)
        code = week in CODE_WEEKS
        for sku, (price_in, rate, elasticity, _, _) in SHOP.items():
            listed = price_in(week)
            black_friday = sku.startswith("TEE") and week in BLACK_FRIDAY
            price = round(listed * 0.8, 2) if black_friday else listed
            paid = price * (0.8 if code else 1.0)
            lift = 2.0 if black_friday else 1.0
            buyers = rate * (paid / price_in(WEEKS[0])) ** elasticity * season * lift
            for _ in range(rng.poisson(buyers)):
                n += 1
                when = week + pd.Timedelta(seconds=int(rng.integers(0, 7 * 86400)))
                written, compare, off = f"{price:.2f}", "", "0.00"
                if black_friday and sale == "compare":
                    compare = f"{listed:.2f}"
                elif black_friday:
                    written, off = f"{listed:.2f}", f"{listed - price:.2f}"
                row = dict.fromkeys(HEADER, "")
                row.update({
                    "Name": f"#{n}", "Email": f"b{n}@example.com", "Financial Status": "paid",
                    "Currency": "USD", "Subtotal": f"{paid:.2f}", "Total": f"{paid:.2f}",
                    "Discount Code": "SALE20" if code else "",
                    "Discount Amount": f"{price - paid:.2f}",
                    "Created at": f"{when:%Y-%m-%d %H:%M:%S} -0400", "Lineitem quantity": "1",
                    "Lineitem name": sku, "Lineitem price": written,
                    "Lineitem compare at price": compare, "Lineitem sku": sku,
                    "Lineitem discount": off,
                })  # fmt: skip
                rows.append(row)
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=HEADER).to_csv(folder / "orders_export_1.csv", index=False)
    return folder


def _tables(folder: Path) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """The export's orders and order lines as loaded, and the data checks on its lines."""
    source, tables, said = FilesSource(folder), {}, {}
    for table in ("orders", "order_lines"):
        pages = list(source.pull_pages(table))
        rows = pd.concat([page.tables[table] for page in pages], ignore_index=True)
        tables[table] = validate(table, rows, source.name).clean
        if table == "order_lines":
            said = {n.check: n.message for page in pages for n in page.notices}
    return tables, said


def _prices(folder: Path) -> pd.DataFrame:
    tables, _ = _tables(folder)
    products = pd.DataFrame(
        [(sku, cost, category) for sku, (*_, cost, category) in SHOP.items()],
        columns=["product_id", "unit_cost", "category"],
    )
    as_of = pd.Timestamp("2026-06-29", tz="UTC")
    out = suggest_prices(tables["order_lines"], products, tables["orders"], as_of=as_of)
    return out.set_index("product_id")


def test_a_compare_at_sale_reads_as_the_same_sale_written_as_a_discount(tmp_path: Path):
    """Shopify's usual sale, a lower Lineitem price with the old one as Lineitem compare at
    price, read as the price itself: Black Friday's extra buyers looked like buyers rushing to
    a lasting cut, and every product was told to cut 10% with high confidence. The same
    sales written as an automatic discount kept the tees; now both read alike."""
    compare = _prices(_export(tmp_path / "compare", "compare"))
    discount = _prices(_export(tmp_path / "discount", "discount"))
    shown = ["current_price", "suggested_price", "reason"]
    pd.testing.assert_frame_equal(compare[shown], discount[shown])
    tees = compare.loc[["TEE-S", "TEE-M", "TEE-L"]]  # were cut 10% (at 89% to 96%)
    assert tees["suggested_price"].eq(tees["current_price"]).all()


def test_compare_at_sale_lines_carry_the_compare_at_as_list_price_and_say_so(tmp_path: Path):
    folder = _export(tmp_path, "compare")
    export = pd.read_csv(folder / "orders_export_1.csv", dtype=str, keep_default_na=False)
    on_sale = set(export.loc[export["Lineitem compare at price"].ne(""), "Name"])
    tables, said = _tables(folder)
    lines = tables["order_lines"].set_index("order_id")
    sale, other = lines[lines.index.isin(on_sale)], lines[~lines.index.isin(on_sale)]
    assert sale["unit_price"].isin([25.0, 28.0]).all() and len(sale) == len(on_sale)
    assert sale["discount"].astype(float).round(4).eq(0.2).all()  # 20.00 of 25.00
    assert other["discount"].astype(float).isin([0.0, 0.2]).all()  # SALE20 weeks
    assert said["compare_at_sale"] == (
        f"{len(on_sale):,} order lines of 3 products sold below their Lineitem compare at "
        "price are read as on sale: the compare-at price is the list price and the cut a "
        "promotion, as a discount code is"
    )


def test_a_compare_at_price_a_product_always_shows_is_not_a_sale(tmp_path: Path):
    """A "was $40" kept on a product for good is no promotion: its price is the line price."""
    folder = _export(tmp_path, "discount")
    path = folder / "orders_export_1.csv"
    export = pd.read_csv(path, dtype=str, keep_default_na=False)
    note = export["Lineitem sku"].eq("CANDLE")
    export.loc[note, "Lineitem compare at price"] = "40.00"
    export.to_csv(path, index=False)
    tables, said = _tables(folder)
    lines = tables["order_lines"]
    candles = lines[lines["product_id"] == "CANDLE"]
    assert candles["unit_price"].eq(30.0).all()
    assert candles["discount"].astype(float).isin([0.0, 0.2]).all()  # SALE20 weeks
    assert "compare_at_sale" not in said
    assert said["compare_at_kept"] == (
        f"{int(note.sum()):,} order lines (CANDLE) carry a Lineitem compare at price on more than "
        "50% of their product's weeks: read as a 'was' price the shop always shows, so the "
        "line price is the price"
    )


def test_a_code_on_a_compare_at_sale_comes_off_what_buyers_paid(tmp_path: Path):
    """20.00 instead of 25.00, then 10% off the whole order: paid 18.00 of a 25.00 list."""

    def order(name: str, day: str, price: str, compare: str, subtotal: str) -> dict[str, str]:
        row = dict.fromkeys(HEADER, "")
        row.update({
            "Name": name, "Email": "a@example.com", "Financial Status": "paid", "Currency": "USD",
            "Created at": f"{day} 10:00:00 -0400", "Subtotal": subtotal, "Total": subtotal,
            "Discount Amount": f"{float(price) - float(subtotal):.2f}", "Lineitem quantity": "1",
            "Lineitem name": "Mug", "Lineitem sku": "MUG", "Lineitem price": price,
            "Lineitem compare at price": compare, "Lineitem discount": "0.00",
        })  # fmt: skip
        return row

    rows = [order(f"#{i}", f"2025-03-{3 + 7 * i:02d}", "25.00", "", "25.00") for i in range(3)]
    rows.append(order("#9", "2025-03-31", "20.00", "25.00", "18.00"))
    pd.DataFrame(rows, columns=HEADER).to_csv(tmp_path / "orders_export_1.csv", index=False)
    lines = _tables(tmp_path)[0]["order_lines"].set_index("order_id")
    assert lines.loc["#9", ["unit_price", "discount"]].astype(float).round(4).tolist() == [25, 0.28]
    assert lines.loc["#0", ["unit_price", "discount"]].astype(float).tolist() == [25, 0]
