"""Small shops written as the files a user would have: the tiny shop of issue 24."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["write_tiny_shop"]


def write_tiny_shop(folder: Path, seed: int = 1, yen: bool = False) -> Path:
    """10 customers, 20 orders, 3 products, with headers such as "Order #" and "Customer #",
    as CSV files and a config; returns the config's path. ``yen``: prices a hundred times
    higher, typed "¥1,200", with the config's ``currency = "JPY"``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    customers = pd.DataFrame(
        {
            "Customer #": [f"K{i}" for i in range(1, 11)],
            "Email": [f"p{i}@shop.test" for i in range(1, 11)],
            "First Name": ["Ann", "Bob", "Cy", "Di", "Ed", "Fay", "Gus", "Hal", "Ivy", "Jo"],
            "Last Name": list("ABCDEFGHIJ"),
            "Signup Date": pd.date_range("2025-01-05", periods=10, freq="20D").strftime("%Y-%m-%d"),
        }
    )
    products = pd.DataFrame(
        {"SKU": ["S1", "S2", "S3"], "Product Name": ["Mug", "Tea", "Pot"],
         "Price": [12.0, 8.5, 30.0], "Cost": [5.0, 3.0, 14.0], "Category": ["Gear", "Tea", "Gear"]}
    )  # fmt: skip
    orders, lines = [], []
    for i, day in enumerate(pd.date_range("2025-02-01", "2026-10-20", periods=20)):
        order, total = f"#{1001 + i}", 0.0
        for _ in range(int(rng.integers(1, 3))):
            product = products.iloc[int(rng.integers(0, 3))]
            quantity = int(rng.integers(1, 4))
            total += quantity * float(product["Price"])
            lines.append({"Order #": order, "Product": product["SKU"], "Qty": quantity,
                          "Price": product["Price"]})  # fmt: skip
        orders.append({"Order #": order, "Customer #": f"K{int(rng.integers(1, 11))}",
                       "Order Date": f"{day:%Y-%m-%d}", "Total": round(total, 2)})  # fmt: skip
    if yen:  # as a Japanese till exports them; the config says which currency "¥" is
        products[["Price", "Cost"]] *= 100
        for row in (*orders, *lines):
            key = "Total" if "Total" in row else "Price"
            row[key] = f"¥{float(row[key]) * 100:,.0f}"
        products["Price"] = products["Price"].map(lambda v: f"¥{v:,.0f}")
    customers.to_csv(folder / "Customers.csv", index=False)
    products.to_csv(folder / "Products.csv", index=False)
    pd.DataFrame(orders).to_csv(folder / "Orders.csv", index=False)
    pd.DataFrame(lines).to_csv(folder / "Order Lines.csv", index=False)
    config = folder / "smbml.toml"
    config.write_text(
        'store = "shop.sqlite"\n'
        + ('currency = "JPY"\n' if yen else "")
        + '[source]\nkind = "files"\npath = "."\n\n'
        '[analytics]\nas_of = "2026-11-01"\n\n'
        '[[destinations]]\nkind = "workbook"\npath = "results.xlsx"\n\n'
        '[[destinations]]\nkind = "report"\npath = "report.html"\n'
    )
    return config
