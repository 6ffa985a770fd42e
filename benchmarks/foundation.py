"""Foundation figures as JSON: demo wall time per stage and store upsert throughput.

Reference for the upsert: pandas.DataFrame.to_sql into a plain SQLite table (append,
no key, no conflict handling), measured in the same run on the same rows.

    .venv/bin/python benchmarks/foundation.py
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
import time
from pathlib import Path

from smbml_connect.connectors.sample.source import SampleSource
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.report import HtmlReport, ResultsWorkbook
from smbml_connect.sample import SampleConfig, generate
from smbml_connect.steps import STEPS
from smbml_connect.store import Store


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    start = time.perf_counter()
    marks: list[tuple[str, float]] = [("generate and export the sample", start)]
    business = generate(SampleConfig())
    with Store(folder / "demo.sqlite") as store:
        run_pipeline(
            SampleSource(business),
            store,
            RunOptions(steps=STEPS, as_of=business.as_of, kind="demo"),
            [ResultsWorkbook(folder / "results.xlsx"), HtmlReport(folder / "report.html")],
            lambda message: marks.append((message, time.perf_counter())),
        )
    end = time.perf_counter()
    stages = {}
    for (name, stamp), (_, following) in zip(marks, [*marks[1:], ("end", end)], strict=True):
        stages[name] = round(following - stamp, 3)
    activities = business.tables["activities"]
    with Store(folder / "bench.sqlite") as store:
        t0 = time.perf_counter()
        store.upsert("activities", activities)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        store.upsert("activities", activities)  # every row now conflicts and updates
        again = time.perf_counter() - t0
    conn = sqlite3.connect(folder / "reference.sqlite")
    t0 = time.perf_counter()
    activities.to_sql("activities", conn, index=False)
    reference = time.perf_counter() - t0
    conn.close()
    print(
        json.dumps(
            {
                "demo_seconds": round(end - start, 2),
                "demo_target_seconds": 60,
                "demo_stages_seconds": stages,
                "upsert_rows": len(activities),
                "upsert_insert_rows_per_second": round(len(activities) / first),
                "upsert_update_rows_per_second": round(len(activities) / again),
                "reference_pandas_to_sql_rows_per_second": round(len(activities) / reference),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
