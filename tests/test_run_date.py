"""A run dated a day (the config's ``as_of = 2025-10-31``) counts the whole of that day in
every step, and the rows after it are listed in Rejects: none falls between the two.

Before stop 53, a date meant that day's midnight: the steps counted orders up to 00:00,
the data checks listed only those more than a day later, and the day's own orders (the
ones the run's advice "set as_of to the newest order's date" is about) were in no figure
and in no list, while "Data up to" named that day.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
from audit import Tally, check_orders_counted_or_listed, run_config

from smbml_connect.analytics.customers.history import order_history
from smbml_connect.analytics.customers.recommend import purchases_by_customer
from smbml_connect.analytics.forecast.sales_series import sales_series
from smbml_connect.analytics.leads.deals import deal_training_frame
from smbml_connect.analytics.pricing.price_history import weekly_prices
from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.registry import load_config
from smbml_connect.report import workbook_sheets
from smbml_connect.runner import build_run
from smbml_connect.steps import Step, StepResult, steps_by_name
from smbml_connect.store import Store

LONDON = "Europe/London"
# Orders on the run's day (morning and 23:30), just after it (00:30 the next day) and a
# week later: the shop's clock is London's (GMT on 31 October, BST before the 26th).
DAY_ORDERS = {"O90": ("C1", "2025-10-31 09:10"), "O91": ("C2", "2025-10-31 23:30")}
LATER_ORDERS = {"O92": ("C3", "2025-11-01 00:30"), "O93": ("C1", "2025-11-07 12:00")}


def _shop(folder: Path) -> Path:
    """Five customers buying mugs and tea on and off since March, as a shop's export."""
    folder.mkdir(parents=True, exist_ok=True)
    orders, lines = [], []
    prices = {"P1": 12.99, "P2": 8.5, "P3": 30.0}
    stamps = pd.date_range("2025-03-02 10:15", "2025-10-28 16:40", periods=34)
    for i, stamp in enumerate(stamps):
        product = ("P1", "P2", "P3", "P2")[i % 4]
        quantity = 1 + i % 3
        orders.append((f"O{10 + i}", f"C{1 + (i * 7) % 5}", f"{stamp:%Y-%m-%d %H:%M}",
                       round(quantity * prices[product], 2)))  # fmt: skip
        lines.append((f"O{10 + i}", product, quantity, prices[product]))
    for order, (customer, when) in {**DAY_ORDERS, **LATER_ORDERS}.items():
        orders.append((order, customer, when, 25.5))
        lines.append((order, "P2", 3, 8.5))
    (folder / "orders.csv").write_text(
        "Order ID,Customer ID,Order Date,Total,Status\n"
        + "".join(f"{o},{c},{w},{t:.2f},paid\n" for o, c, w, t in orders)
    )
    (folder / "order_lines.csv").write_text(
        "Order ID,Product ID,Quantity,Unit Price\n"
        + "".join(f"{o},{p},{q},{u:.2f}\n" for o, p, q, u in lines)
    )
    (folder / "products.csv").write_text(
        "Product ID,Name,Price,Unit Cost\nP1,Blue Mug,12.99,5.85\nP2,Breakfast Tea,8.50,3.00\n"
        "P3,Teapot,30.00,14.00\n"
    )
    (folder / "deals.csv").write_text(  # D3 is won at 15:00 on the run's day
        "Deal ID,Amount,Stage,Closed,Won,Created At,Close Date,Customer ID\n"
        "D1,1200,Closed Won,yes,yes,2025-04-02,2025-06-10,C1\n"
        "D2,500,Closed Lost,yes,no,2025-05-11,2025-07-01,C2\n"
        "D3,800,Closed Won,yes,yes,2025-08-20,2025-10-31 15:00,C3\n"
    )
    config = folder / "smbml.toml"
    config.write_text(
        f'store = "shop.sqlite"\ntime_zone = "{LONDON}"\n'
        '[source]\nkind = "files"\npath = "."\n'
        '[analytics]\nas_of = 2025-10-31\nenabled = ["rfm_segments"]\n'
        '[[destinations]]\nkind = "workbook"\npath = "results.xlsx"\n'
        '[[destinations]]\nkind = "report"\npath = "report.html"\n'
    )
    return config


def test_a_run_dated_a_day_counts_that_day_and_lists_what_comes_after(tmp_path: Path) -> None:
    config = load_config(_shop(tmp_path / "shop"))
    result, _ = build_run(config, None, lambda message: None)
    assert result.local_as_of.strftime("%Y-%m-%d") == "2025-10-31"
    summary = dict(workbook_sheets(result)[0]["Summary"].itertuples(index=False))
    assert summary["Data up to"] == pd.Timestamp("2025-10-31")
    segments = workbook_sheets(result)[0]["Segments"].set_index("contact_id")
    assert segments.loc["C2", "last_order_at"] == pd.Timestamp("2025-10-31 23:30")  # O91
    assert segments.loc["C1", "last_order_at"] == pd.Timestamp("2025-10-31 09:10")  # O90
    assert segments.loc["C3", "last_order_at"] < pd.Timestamp("2025-10-31")  # O92 is later
    listed = result.rejects[result.rejects["action"] == "row not used"]
    assert sorted(json.loads(r)["order_id"] for r in listed["row"]) == sorted(LATER_ORDERS)
    assert all("after the end of 31 October 2025 (the run's date)" in r for r in listed["reason"])
    (said,) = [n.message for n in result.notices if n.check == "future_dates"]
    assert said.startswith("2 orders dated after the end of 31 October 2025 (the run's date)")
    # every order in the store is counted or listed, never neither
    with Store(config.store or tmp_path / "shop" / "shop.sqlite") as store:
        stored = set(store.read("orders")["order_id"])
    counted = int(segments["frequency"].sum())
    assert counted + len(listed) == len(stored) == 34 + 4


def test_the_audit_finds_every_later_order_listed(tmp_path: Path) -> None:
    out = run_config(_shop(tmp_path / "shop"), "a run dated a day")
    tally = Tally()
    check_orders_counted_or_listed(out, tally)
    assert tally.problems == []
    assert sum(tally.checked.values()) == len(LATER_ORDERS)


def _seen(tmp_path: Path) -> tuple[dict[str, pd.DataFrame], pd.Timestamp]:
    """The tables and the run's moment every step is given, for as_of = 2025-10-31."""
    config = _shop(tmp_path / "shop")
    seen: dict[str, object] = {}

    def spy(tables, context):
        seen.update(tables=dict(tables), as_of=context.as_of)
        return StepResult()

    step = Step("spy", needs=("orders",), personal=False, run=spy)
    with Store(tmp_path / "s.sqlite") as store:
        run_pipeline(
            FilesSource(config.parent, {}, {}),
            store,
            RunOptions([step], as_of=date(2025, 10, 31), time_zone=LONDON),
        )
    return seen["tables"], seen["as_of"]  # type: ignore[return-value]


def test_every_steps_cut_takes_the_whole_day_and_nothing_after(tmp_path: Path) -> None:
    """The data checks leave out O92 and O93; each step's own cut keeps both of the
    day's orders (and D3, won that afternoon): the two rules meet, with no gap."""
    tables, as_of = _seen(tmp_path)
    orders = tables["orders"]
    assert set(DAY_ORDERS) <= set(orders["order_id"])
    assert not set(LATER_ORDERS) & set(orders["order_id"])
    assert order_history(orders, as_of).loc["C2", "orders"] == 1 + sum(
        1 for i in range(34) if 1 + (i * 7) % 5 == 2
    )
    bought = purchases_by_customer(orders, tables["order_lines"], as_of)
    assert set(DAY_ORDERS) <= set(bought["order_id"])
    sales = sales_series(orders, tables["order_lines"], as_of)
    assert sales.to_come == 1 and sales.sold == {}  # October is over: its last day counted
    october = orders[orders["ordered_at"] >= pd.Timestamp("2025-10-01", tz=LONDON)]
    months = sales.frame[sales.frame["unique_id"] == "revenue:total"].set_index("ds")["y"]
    assert months[pd.Timestamp("2025-10-01")] == round(october["total"].astype(float).sum(), 2)
    assert "D3" in set(deal_training_frame(tables, as_of)["deal_id"])  # won that afternoon
    # A run dated Sunday 26 October: that week (Monday 20th to Sunday) is over, so complete
    sunday = pd.Timestamp("2025-10-26 23:59:59.999999").tz_localize(LONDON)
    assert weekly_prices(tables["order_lines"], orders, sunday).last_week == pd.Timestamp(
        "2025-10-20"
    )


def test_next_products_on_data_that_stopped_says_so(tmp_path: Path) -> None:
    """Run months after the last order, every product looked off sale (no one bought it for
    13 weeks); the step said "every one of the 0 products still selling", blaming the
    products list, when the orders had simply stopped. Since stop 54 a product is off sale
    only when its quiet outlasts the whole shop's, so the product sold until the orders
    stopped is still suggested, the others are not, and the run says the data stopped."""
    config = _shop(tmp_path / "shop")
    with (config.parent / "products.csv").open("a") as f:
        f.write("P4,Green Mug,12.99,5.85\nP5,Earl Grey,9.50,3.20\n")
    with (
        (config.parent / "orders.csv").open("a") as f,
        (config.parent / "order_lines.csv").open("a") as g,
    ):
        for i in range(16):  # eight more customers, twice each, in the summer
            f.write(f"X{i},C{6 + i % 8},2025-0{6 + i % 3}-{3 + i} 11:00,22.49,paid\n")
            g.write(f"X{i},P{4 + i % 2},1,{(12.99, 9.50)[i % 2]:.2f}\nX{i},P1,1,12.99\n")
    with Store(tmp_path / "s.sqlite") as store:
        result = run_pipeline(
            FilesSource(config.parent, {}, {}),
            store,
            RunOptions(steps_by_name(["next_product"]), as_of=date(2026, 6, 1), time_zone=LONDON),
        )
    assert not [s for s in result.skipped if s.startswith("Next best product")]
    (said,) = [n.message for n in result.notices if n.message.startswith("The newest order")]
    assert "dated 2025-11-07, 206 days before the run's date (2026-06-01)" in said
    assert "set as_of in [analytics] to that date" in said
    step = result.steps["next_product"]
    suggested = set(step.sheets["Next products"]["product_id"])
    words = " ".join(p for s in step.sections for p in s.paragraphs)
    assert "Not suggested: 4 products not for sale now" in words  # quiet before the orders stopped
    assert len(suggested) == 1 and not suggested & {"P3", "P4", "P5"}
