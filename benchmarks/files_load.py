"""Loading a large orders CSV, side by side with pandas.read_csv, as JSON (issue 23 point 10).

Each measure runs in its own Python process, so its peak RSS (``ru_maxrss``) and its CPU
seconds are its own (CPU seconds stay comparable when other work shares the machine):

- ``pandas_read_csv``: ``pandas.read_csv(path)``, no validation: the reference.
- ``files_read``: the files source alone: encoding, line checks, pages of text frames.
- ``load``: the pipeline's load stage: read, validate, store (SQLite), rejects recorded.
- ``sqlite_write_floor``: only the store's SQLite insert of the same rows (already read),
  as ``commit_page`` issues it: the least a load into the store can cost.
- ``load_without_duplicate_check``: the same with the duplicate-key checks (validate's,
  within a page, and the pipeline's, across pages) replaced by no-ops, so their cost is
  the difference (the issue allows it 20%).
- ``load_keeping_removed_rows``: ``load`` with ``removed_rows = "keep"``, so the keys the
  read meets are not listed: the listing's cost (rows gone from the file are left out) is
  the difference.
- ``reload``: the file loaded a second time into the store that holds it (a scheduled
  run): every row upserted again, and the one row deleted from the file since the first
  load (its last) found among the stored ones and left out. Only the second load is timed.
  ``reload_keeping_removed_rows`` is the same with ``removed_rows = "keep"``: the listing's
  cost where it applies (a first load lists nothing: no stored row can be gone).

    .venv/bin/python benchmarks/files_load.py --rows 2000000
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STATUSES = ["paid", "refunded", "pending", "shipped", "cancelled"]


def write_orders(path: Path, rows: int, seed: int = 7) -> None:
    """A Shopify-like orders export: ids, customer, timestamp, total, currency, status."""
    rnd = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("Order ID,Customer ID,Order Date,Total,Currency,Status\n")
        block = []
        for i in range(rows):
            block.append(
                f"#{1000 + i},C{rnd.randrange(rows // 10 + 1):07d},"
                f"2024-{rnd.randrange(1, 13):02d}-{rnd.randrange(1, 29):02d} "
                f"{rnd.randrange(24):02d}:{rnd.randrange(60):02d}:00,"
                f"{rnd.randrange(100_000) / 100:.2f},USD,{rnd.choice(STATUSES)}\n"
            )
            if len(block) == 100_000:
                out.write("".join(block))
                block.clear()
        out.write("".join(block))


def measure(kind: str, path: Path) -> dict[str, float | int]:
    """One measure, in this (fresh) process; imports are not timed."""
    import pandas as pd

    from smbml_connect import page_duplicates, pipeline, schema
    from smbml_connect.connectors.files.source import FilesSource
    from smbml_connect.pipeline import RunOptions
    from smbml_connect.ports import RunResult
    from smbml_connect.store import Store

    if kind == "sqlite_write_floor":
        return _sqlite_floor(path)
    start, cpu_start = time.perf_counter(), time.process_time()
    rows = 0
    if kind == "pandas_read_csv":
        rows = len(pd.read_csv(path))
    elif kind == "files_read":
        source = FilesSource(path, {"orders": path.name})
        rows = sum(len(page.tables["orders"]) for page in source.pull_pages("orders"))
    else:
        if kind == "load_without_duplicate_check":
            schema._reject_duplicates = lambda *args: None  # type: ignore[assignment]
            tracked = page_duplicates.KeysSeen.__init__
            page_duplicates.KeysSeen.__init__ = lambda self, enabled: tracked(self, False)  # type: ignore[method-assign]
        options = RunOptions(steps=[], keep_removed_rows=kind.endswith("keeping_removed_rows"))
        with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "s.sqlite") as store:

            def load(csv: Path) -> RunResult:
                source = FilesSource(csv, {"orders": csv.name})
                result = RunResult(
                    run_id=store.start_run("bench", source.name),
                    as_of=pd.Timestamp.now(tz="UTC"),
                    source=source.name,
                )
                money = pipeline._Currencies(options.currency)
                pipeline._load(source, store, result, lambda _: None, options, money)
                return result

            if kind.startswith("reload"):  # the same file (a source is its path), last line gone
                text = path.read_bytes()
                path = Path(folder) / path.name
                path.write_bytes(text)
                load(path)
                path.write_bytes(text[: text.rstrip(b"\n").rfind(b"\n") + 1])
                start, cpu_start = time.perf_counter(), time.process_time()
            result = load(path)
            if kind == "reload":
                assert result.archived == {"orders": 1}, result.archived
            rows = result.loaded["orders"] + result.rejected_rows
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows": rows, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
            "rows_per_s": round(rows / seconds), "peak_rss_mb": round(peak_mb)}  # fmt: skip


def _sqlite_floor(path: Path) -> dict[str, float | int]:
    """What the store's own write costs, with nothing of ours around it: the file's rows,
    already read as text tuples (untimed), inserted into a table with the orders table's
    DDL by ``executemany``, 100,000 rows a transaction, as ``commit_page`` does."""
    import sqlite3

    import pandas as pd

    from smbml_connect.store import Store

    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    stamp = "2026-01-01T00:00:00.000000Z"
    rows = [(*r, None, path.name, None, stamp) for r in frame.itertuples(index=False, name=None)]
    with tempfile.TemporaryDirectory() as folder:
        with Store(Path(folder) / "s.sqlite") as store:
            ddl = store._conn.execute(
                "SELECT sql FROM sqlite_master WHERE name = 'orders'"
            ).fetchone()[0]
        conn = sqlite3.connect(Path(folder) / "floor.sqlite", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(ddl)
        names = "order_id, contact_id, ordered_at, total, currency, status"
        sql = (
            f"INSERT INTO orders ({names}, archived_at, source, extra, synced_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (order_id) DO UPDATE SET "
            "total = excluded.total"
        )
        start, cpu_start = time.perf_counter(), time.process_time()
        for at in range(0, len(rows), 100_000):
            conn.execute("BEGIN")
            conn.executemany(sql, rows[at : at + 100_000])
            conn.execute("COMMIT")
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        conn.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows": len(rows), "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
            "rows_per_s": round(len(rows) / seconds), "peak_rss_mb": round(peak_mb)}  # fmt: skip


def _ratio(part: float, whole: float, digits: int = 2) -> float | None:
    """``part / whole``, or None when ``whole`` rounded to 0 (a small file's pandas read):
    ``--rows 1000`` stopped there with a ZeroDivisionError and printed nothing."""
    return round(part / whole, digits) if whole else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.path)))
        return
    kinds = [
        "pandas_read_csv",
        "files_read",
        "load",
        "load_without_duplicate_check",
        "load_keeping_removed_rows",
        "reload",
        "reload_keeping_removed_rows",
        "sqlite_write_floor",
    ]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "orders.csv"
        write_orders(path, args.rows)
        out: dict[str, object] = {"rows": args.rows, "file_mb": round(path.stat().st_size / 1e6)}
        for kind in kinds:
            child = subprocess.run(
                [sys.executable, __file__, "--measure", kind, "--path", str(path)],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            out[kind] = json.loads(child.stdout)
    base = out["pandas_read_csv"]["seconds"]  # type: ignore[index]
    base_cpu = out["pandas_read_csv"]["cpu_seconds"]  # type: ignore[index]
    for kind in kinds[1:]:
        out[kind]["x_pandas_time"] = _ratio(out[kind]["seconds"], base)  # type: ignore[index]
        out[kind]["x_pandas_cpu"] = _ratio(out[kind]["cpu_seconds"], base_cpu)  # type: ignore[index]
    # CPU seconds, not wall: on a busy machine the wall clock measures the neighbours.
    load, plain = out["load"]["cpu_seconds"], out["load_without_duplicate_check"]["cpu_seconds"]  # type: ignore[index]
    out["duplicate_check_share"] = _ratio(load - plain, plain, 3)
    kept = out["load_keeping_removed_rows"]["cpu_seconds"]  # type: ignore[index]
    out["removed_rows_listing_share"] = _ratio(load - kept, kept, 3)
    again = out["reload"]["cpu_seconds"]  # type: ignore[index]
    again_kept = out["reload_keeping_removed_rows"]["cpu_seconds"]  # type: ignore[index]
    out["removed_rows_listing_share_on_reload"] = _ratio(again - again_kept, again_kept, 3)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
