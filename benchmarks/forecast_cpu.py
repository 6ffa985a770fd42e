"""CPU seconds of the product's panel and of statsforecast's AutoETS per group, as JSON.

Issue 26 asks for a panel no slower than AutoETS. On the shared 2-core machine the wall
clock of benchmarks/forecast.py swings with whatever else runs (M3 yearly measured 14.5 s
against AutoETS's 5.7 s in a loaded run); the process's CPU time swings much less. Both
methods run here on the same series as in forecast.py (`run_smbml`, `run_statsforecast`,
the input frame built inside each, as there), each once to warm up (numba compiles
AutoETS first), then alternately `--repeat` times; the best of each is printed.

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 .venv/bin/python benchmarks/forecast_cpu.py \\
        [--groups m3_yearly,m3_other] [--repeat 3] [--series 40] [--product-only]

`--series 0` takes every series of each group. Needs the bench extra, like forecast.py.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections.abc import Callable

from forecast import QUICK, Group, groups, run_smbml, run_statsforecast, warm_up_numba

DEFAULT_GROUPS = "m3_yearly,m3_other,tourism_yearly,m3_quarterly,m3_monthly,sample"


def best_cpu_seconds(runs: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Each run's least CPU time over `repeat` rounds, the runs taking turns."""
    for run in runs.values():
        run()  # warm: imports, caches, numba
    best = {name: float("inf") for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            start = time.process_time()
            run()
            best[name] = min(best[name], time.process_time() - start)
    return {name: round(seconds, 3) for name, seconds in best.items()}


def measure(group: Group, repeat: int, product_only: bool) -> dict[str, object]:
    runs: dict[str, Callable[[], object]] = {"smbml": lambda: run_smbml(group)}
    if not product_only:
        runs["AutoETS"] = lambda: run_statsforecast("AutoETS", group)
    seconds = best_cpu_seconds(runs, repeat)
    out: dict[str, object] = {"series": len(group.series), "cpu_seconds": seconds}
    if not product_only:
        out["smbml_per_AutoETS"] = round(seconds["smbml"] / seconds["AutoETS"], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", default=DEFAULT_GROUPS, help="comma-separated group names")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best is kept")
    parser.add_argument("--series", type=int, default=QUICK, help="series per group (0: all)")
    parser.add_argument("--product-only", action="store_true", help="no AutoETS")
    args = parser.parse_args()
    available = groups(args.series or None)
    chosen = args.groups.split(",")
    unknown = [g for g in chosen if g not in available]
    if unknown:
        parser.error(f"unknown group {', '.join(unknown)}; choose from {', '.join(available)}")
    if not args.product_only:
        warm_up_numba()
    report = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in chosen:
            report[name] = measure(available[name](), args.repeat, args.product_only)
    print(json.dumps({"repeat": args.repeat, "groups": report}, indent=2))


if __name__ == "__main__":
    main()
