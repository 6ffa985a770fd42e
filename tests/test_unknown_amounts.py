"""A shop whose order amounts cannot be read at all: unknown is not zero. The steps whose
figures are money say why they give none, where they showed "EUR 0 expected", "nan% of
revenue" and customers named top and lowest spenders at 0 each (find52_money item 2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from audit import Outputs, audit, run_config

from smbml_connect.sales import no_amounts

MONEY_STEPS = (
    "Customer segments (RFM)",
    "Customer clusters",
    "Churn risk and customer value",
    "Sales forecast",
)


def _write_shop(folder: Path) -> Path:
    """45 customers and 300 orders over two years whose totals and line prices were lost
    (an export with the money columns left blank), with products and their lines."""
    rng = np.random.default_rng(4)
    folder.mkdir(parents=True, exist_ok=True)
    ids = [f"K{i:03d}" for i in range(45)]
    pd.DataFrame(
        {"Customer ID": ids, "Email": [f"k{i}@shop.test" for i in range(45)],
         "First Name": [f"Kim{i}" for i in range(45)]}
    ).to_csv(folder / "customers.csv", index=False)  # fmt: skip
    orders, lines = [], []
    for n in range(300):
        day = pd.Timestamp("2024-11-01") + pd.Timedelta(days=int(rng.integers(0, 729)))
        orders.append((f"S{n}", ids[int(rng.integers(0, 45))], f"{day:%Y-%m-%d} 10:00", ""))
        for j in range(int(rng.integers(1, 3))):
            lines.append((f"S{n}", j + 1, f"P{int(rng.integers(1, 7))}", 1, ""))
    pd.DataFrame(orders, columns=["Order ID", "Customer ID", "Order Date", "Total"]).to_csv(
        folder / "orders.csv", index=False
    )
    pd.DataFrame(
        lines, columns=["Order ID", "Line No", "Product ID", "Quantity", "Unit Price"]
    ).to_csv(folder / "order_lines.csv", index=False)
    pd.DataFrame(
        {"Product ID": [f"P{i}" for i in range(1, 7)], "Name": list("ABCDEF"), "Price": ""}
    ).to_csv(folder / "products.csv", index=False)
    config = folder / "smbml.toml"
    config.write_text(
        'store = "shop.sqlite"\n[source]\nkind = "files"\npath = "."\n\n'
        '[analytics]\nas_of = "2026-10-31"\n\n'
        '[[destinations]]\nkind = "workbook"\npath = "results.xlsx"\n\n'
        '[[destinations]]\nkind = "report"\npath = "report.html"\n'
    )
    return config


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Outputs:
    return run_config(_write_shop(tmp_path_factory.mktemp("no-amounts")), "no amounts")


def test_money_steps_say_why_they_give_no_figures(shop: Outputs):
    result = shop.result
    said = [line for line in result.skipped if "no order amount in USD could be read" in line]
    assert sorted(line.split(":")[0] for line in said) == sorted(MONEY_STEPS), result.skipped
    assert "spend, value and revenue cannot be worked out" in said[0]
    assert not result.errors  # Prices: "unexpected error" when no price could be read
    assert "next_product" in result.steps  # what was bought needs no money
    assert "nan" not in shop.report_text.lower().split()
    assert audit(shop).problems == []


def test_money_figures_need_half_the_sales_with_an_amount():
    """A reviewer: with 3 of 320 totals filled the run showed "EUR 707 expected" and
    "Loyal Customers bring 100% of revenue" from those 3 orders alone."""
    orders = pd.DataFrame(
        {"order_id": [f"o{i}" for i in range(10)], "contact_id": "x", "total": np.nan,
         "ordered_at": pd.Timestamp("2026-01-01", tz="UTC"), "status": "paid",
         "currency": ["EUR"] * 8 + ["USD"] * 2}
    )  # fmt: skip
    assert no_amounts(orders, "EUR") == (
        "no order amount in EUR could be read (8 sales, none with an amount; the Data checks "
        "and the Rejects tab say why), so spend, value and revenue cannot be worked out"
    )
    orders.loc[:2, "total"] = 12.5  # 3 of the 8 sales in euros
    assert no_amounts(orders, "EUR").startswith(
        "only 3 of 8 sales have an amount in EUR that can be read (the others would count as "
        "nothing; the Data checks"
    )
    orders.loc[:3, "total"] = 12.5  # half: the figures stand, the data checks count the rest
    assert no_amounts(orders, "EUR") is None
    assert no_amounts(orders.iloc[:0], "EUR") is None  # no sales: other lines say so
