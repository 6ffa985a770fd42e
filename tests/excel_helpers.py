"""Test data shaped as Excel hands it over, shared by the worksheet-function tests."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np


def monthly(n: int = 60, start: dt.date = dt.date(2020, 1, 1)) -> tuple[list, list]:
    """A seasonal monthly series as two one-column ranges (lists of rows)."""
    dates, values = [], []
    for i in range(n):
        year, month = start.year + (start.month - 1 + i) // 12, (start.month - 1 + i) % 12 + 1
        dates.append([dt.datetime(year, month, 1)])
        values.append([round(200 + 3 * i + 40 * math.sin(2 * math.pi * i / 12), 2)])
    return dates, values


def leads_table(
    rows: int = 600, unknown: int = 100, seed: int = 0, wide: bool = False
) -> list[list]:
    """A leads range with a header; the last `unknown` rows have no outcome yet.

    `wide` adds four columns (10 in all), the shape the LEADSCORE benchmark names.
    """
    rng = np.random.default_rng(seed)
    sources = np.array(["Referral", "Ads", "Organic", "Event"])
    header = ["Email", "Source", "Visits", "Emails opened", "Country", "Converted"]
    if wide:
        header[5:5] = ["Company size", "Industry", "Forms", "Days since visit"]
    table = [header]
    for i in range(rows):
        source = sources[rng.integers(0, 4)]
        visits = int(rng.poisson(4))
        opens = int(rng.poisson(3))
        logit = -2.0 + 1.2 * (source == "Referral") + 0.25 * visits + 0.15 * opens
        outcome = "yes" if rng.random() < 1 / (1 + math.exp(-logit)) else "no"
        row = [f"lead{i}@example.com", str(source), visits, opens, "NL" if i % 3 else "BE",
               "" if i >= rows - unknown else outcome]  # fmt: skip
        if wide:
            row[5:5] = [int(rng.integers(1, 500)), ["Retail", "Food", "Tech"][i % 3],
                        int(rng.poisson(1)), int(rng.integers(0, 60))]  # fmt: skip
        table.append(row)
    return table


def orders(customers: int = 80, seed: int = 1) -> tuple[list, list, list]:
    """Three one-column ranges: customer id, order date, amount."""
    rng = np.random.default_rng(seed)
    ids, dates, amounts = [], [], []
    start = dt.datetime(2023, 1, 1)
    for c in range(customers):
        for _ in range(int(rng.integers(1, 8))):
            ids.append([f"C{c:03d}"])
            dates.append([start + dt.timedelta(days=int(rng.integers(0, 700)))])
            amounts.append([round(float(rng.gamma(2, 30)), 2)])
    return ids, dates, amounts
