"""The duplicate-key check of ``schema.validate`` at scale, as JSON.

Each order is on two rows (the second missing its status), as issue 23 measured it:
20k rows took 19 s and 40k 72 s when the check was quadratic. Reported: the whole
``validate`` call with every order doubled, the same call on as many distinct orders
(no duplicates), and the difference, which is what the duplicate check and its
rejects cost.

    .venv/bin/python benchmarks/duplicates.py [rows ...]
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pandas as pd

from smbml_connect.schema import validate


def orders(n: int, doubled: bool) -> pd.DataFrame:
    ids = np.repeat(np.arange(n // 2), 2) if doubled else np.arange(n)
    return pd.DataFrame(
        {
            "order_id": ids.astype(str),
            "contact_id": (ids % 997).astype(str),
            "ordered_at": "2025-01-15",
            "total": "12.50",
            "status": np.where(np.arange(n) % 2 == 0, "paid", None),
        }
    )


def timed(frame: pd.DataFrame) -> tuple[float, int]:
    start = time.perf_counter()
    result = validate("orders", frame)
    return time.perf_counter() - start, result.rejected_rows


def main(sizes: list[int]) -> None:
    for n in sizes:
        doubled_s, rejected = timed(orders(n, doubled=True))
        distinct_s, _ = timed(orders(n, doubled=False))
        print(
            json.dumps(
                {
                    "rows": n,
                    "duplicates_rejected": rejected,
                    "validate_doubled_s": round(doubled_s, 2),
                    "validate_distinct_s": round(distinct_s, 2),
                    "duplicate_check_s": round(doubled_s - distinct_s, 2),
                }
            )
        )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [40_000, 200_000])
