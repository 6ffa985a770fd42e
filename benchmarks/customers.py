"""Customer models: holdout accuracy against naive baselines, and speed at scale.

Prints JSON with, for the sample business and a synthetic shop of 100,000 customers
and about 1,000,000 orders:
- expected purchases on a held-out period: per-customer MAE and total error of every
  candidate (BG/NBD, MBG/NBD, boosted trees when there are enough customers) and of the
  naive baseline (each customer keeps their past rate), and churn AUC;
- next best product hit rate at 3 on each customer's last order vs most popular;
- run time of each model on the large shop (target: all under 60 s on 2 cores).

    python benchmarks/customers.py [--customers 100000]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
import pandas as pd

from smbml_connect.analytics.customers.btyd import simulate_histories
from smbml_connect.analytics.customers.clusters import CustomerClusters, customer_features
from smbml_connect.analytics.customers.recommend import (
    CoPurchaseRecommender,
    hit_rate_at_k,
    purchases_by_customer,
)
from smbml_connect.analytics.customers.value import CustomerValueModel
from smbml_connect.sample import generate

TRUTH = {"r": 1.5, "alpha": 6.6, "a": 0.8, "b": 8.0}  # about ten orders per customer
WEEKS = 156


def synthetic_shop(customers: int, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Customers drawn from MBG-like BG/NBD, baskets from one favourite category each."""
    rng = np.random.default_rng(seed)
    starts = rng.uniform(0, WEEKS - 4, customers)
    _, _, _, times = simulate_histories(TRUTH, customers, WEEKS - starts, rng)
    counts = np.array([1 + len(t) for t in times])
    who = np.repeat(np.arange(customers), counts)
    offsets = np.concatenate([np.concatenate(([0.0], t)) for t in times])
    opened = pd.Timestamp("2023-01-01", tz="UTC")
    when = opened + pd.to_timedelta((np.repeat(starts, counts) + offsets) * 7, unit="D")
    n_orders = len(who)
    spend_level = rng.gamma(3.0, 15.0, customers)
    orders = pd.DataFrame(
        {
            "order_id": [f"O{i:07d}" for i in range(n_orders)],
            "contact_id": [f"C{c:06d}" for c in who],
            "ordered_at": when.floor("s"),
            "total": np.round(rng.gamma(4.0, spend_level[who] / 4.0), 2),
            "status": "completed",
        }
    )
    categories, per_category = 10, 20
    favourite = rng.integers(0, categories, customers)
    lines_per_order = rng.integers(1, 4, n_orders)
    line_order = np.repeat(np.arange(n_orders), lines_per_order)
    from_favourite = rng.uniform(size=len(line_order)) < 0.8
    category = np.where(
        from_favourite, favourite[who[line_order]], rng.integers(0, categories, len(line_order))
    )
    item = np.minimum(rng.zipf(1.6, len(line_order)) - 1, per_category - 1)
    product = category * per_category + item
    lines = pd.DataFrame(
        {
            "order_id": orders["order_id"].to_numpy()[line_order],
            "line_no": pd.Series(line_order).groupby(line_order).cumcount().to_numpy() + 1,
            "product_id": [f"P{p:04d}" for p in product],
            "quantity": 1.0,
            "unit_price": 10.0,
        }
    ).drop_duplicates(["order_id", "product_id"])
    products = pd.DataFrame(
        {
            "product_id": [f"P{p:04d}" for p in range(categories * per_category)],
            "name": [f"Product {p}" for p in range(categories * per_category)],
            "category": [f"Category {p // per_category}" for p in range(categories * per_category)],
        }
    )
    return {"orders": orders, "order_lines": lines, "products": products}


def _timed(fn):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    value = fn()
    return value, round(time.perf_counter() - started, 2)


def evaluate(tables: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> dict[str, object]:
    value_model, fit_seconds = _timed(lambda: CustomerValueModel().fit(tables["orders"], as_of))
    predictions, predict_seconds = _timed(lambda: value_model.predict(365))
    features, feature_seconds = _timed(
        lambda: customer_features(
            tables["orders"], tables["order_lines"], tables["products"], as_of
        )
    )
    clusters, cluster_seconds = _timed(lambda: CustomerClusters().fit(features))
    purchases = purchases_by_customer(tables["orders"], tables["order_lines"], as_of)
    recommender, rec_fit_seconds = _timed(lambda: CoPurchaseRecommender().fit(purchases))
    picks, rec_seconds = _timed(lambda: recommender.recommend(3))
    hits, hit_seconds = _timed(lambda: hit_rate_at_k(purchases))
    validation = value_model.report_
    return {
        "customers": len(predictions),
        "orders": len(tables["orders"]),
        "order_lines": len(tables["order_lines"]),
        "holdout": validation["holdout"],
        "expected_purchases_on_holdout": validation.get("models"),
        "chosen": validation["chosen"],
        "why": validation["why"],
        "clusters": {"k": clusters.k_, "names": list(clusters.names_.values())},
        "next_product_hit_rate_at_3": hits,
        "seconds": {
            "value_fit_with_validation": fit_seconds,
            "value_predict_with_intervals": predict_seconds,
            "cluster_features": feature_seconds,
            "clusters_fit": cluster_seconds,
            "recommender_fit": rec_fit_seconds,
            "recommend_all": rec_seconds,
            "total_models": round(
                fit_seconds
                + predict_seconds
                + feature_seconds
                + cluster_seconds
                + rec_fit_seconds
                + rec_seconds,
                2,
            ),
            "hit_rate_check": hit_seconds,
        },
        "recommendations": len(picks),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    business = generate()
    sample = evaluate(business.tables, business.as_of)
    shop = synthetic_shop(args.customers)
    as_of = pd.Timestamp("2023-01-01", tz="UTC") + pd.Timedelta(weeks=WEEKS)
    report = {
        "sample": sample,
        "synthetic": {"truth": TRUTH, **evaluate(shop, as_of)},
        "targets": {"total_models_seconds_at_100k_customers": 60},
    }
    print(json.dumps(report, indent=2, default=lambda v: round(float(v), 4)))


if __name__ == "__main__":
    main()
