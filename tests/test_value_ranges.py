"""The 80% value range is worked out, not drawn (find53_excel item 1): it stays put when
`as_of` moves by a day, agrees with long simulations of the same model, and holds its
centre.

The shop is shaped like a real one two years old: sixty customers, some weekly regulars,
most buying every month or two at irregular times, a few who bought once or stopped.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
import pytest

from smbml_connect.analytics.customers.btyd import BetaGeo
from smbml_connect.analytics.customers.pareto import ParetoNBD
from smbml_connect.analytics.customers.value import CustomerValueModel, _spend_inputs

AS_OF = pd.Timestamp("2026-10-31", tz="UTC")


def _shop(seed: int = 11, customers: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    opened = pd.Timestamp("2024-10-01")
    rows = []
    for i in range(1, customers + 1):
        start = opened + pd.Timedelta(days=int(rng.integers(0, 600)))
        gap = float(rng.choice([7, 30, 45, 75]))  # a weekly regular, monthly, ...
        stop = start + pd.Timedelta(days=int(rng.integers(20, 800)))  # some have left
        when, spend = start, float(rng.choice([18.0, 35.0, 60.0, 140.0]))
        while when <= min(stop, pd.Timestamp("2026-10-31")):
            rows.append(
                (f"K{i:03d}", f"{when:%Y-%m-%d %H:%M}", round(spend * rng.gamma(4, 0.25), 2))
            )
            when += pd.Timedelta(hours=int(rng.gamma(2.0, gap * 12)) + 1)
    return pd.DataFrame(
        {
            "order_id": [f"S{n:05d}" for n in range(len(rows))],
            "contact_id": [r[0] for r in rows],
            "ordered_at": [r[1] for r in rows],
            "total": [r[2] for r in rows],
            "status": "paid",
        }
    )


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    return _shop()


def _ranges(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    table = CustomerValueModel().fit(orders, as_of).predict(365).set_index("contact_id")
    return table[["expected_value", "value_lo80", "value_hi80"]]


def test_the_range_stays_put_when_as_of_moves_by_a_day(orders: pd.DataFrame) -> None:
    """With 200 random draws the low end of one customer went 9,680 -> 17,149 -> 10,200
    on three days in a row; now both ends move about as little as the centre does (this
    shop's customers who left lose value every day: the centre moves too).

    Not every end moves as little: where spend per purchase hardly varies, the value is
    nearly a count times a price, and a 10% point on the flat between 3 and 4 purchases
    may move by a purchase when the chance of 3 or fewer passes 10%. That is the model
    (worked out on a grid of values, it moves the same), not noise."""
    days = [_ranges(orders, AS_OF + pd.Timedelta(days=k)) for k in range(3)]
    for before, after in pairwise(days):
        width = before["value_hi80"] - before["value_lo80"]
        assert (width > 0).all()
        centre = (after["expected_value"] - before["expected_value"]).abs() / width
        for end in ("value_lo80", "value_hi80"):
            moved = (after[end] - before[end]).abs() / width
            for share in (0.5, 0.75):  # 200 draws: the high end moved 8 times the centre
                assert moved.quantile(share) < 1.5 * centre.quantile(share) + 0.002, end


def test_ranges_hold_their_centre_and_the_same_inputs_give_the_same_range(
    orders: pd.DataFrame,
) -> None:
    one, two = _ranges(orders, AS_OF), _ranges(orders, AS_OF)
    pd.testing.assert_frame_equal(one, two)
    assert (one["value_lo80"] <= one["expected_value"] + 1e-9).all()
    assert (one["expected_value"] <= one["value_hi80"] + 1e-9).all()


@pytest.mark.parametrize("family", ["bgnbd", "mbgnbd", "pnbd"])
def test_count_probabilities_agree_with_the_closed_forms_and_the_draws(
    orders: pd.DataFrame, family: str
) -> None:
    model = CustomerValueModel(candidates=(family,)).fit(orders, AS_OF)
    s = model.summary_
    x, t_x, T = (s[c].to_numpy(float) for c in ("x", "t_x", "T"))
    purchases: BetaGeo | ParetoNBD = model._fit_btyd(s, family)
    weeks = 52.0
    most = int(purchases.count_bound(weeks, x, T).max())
    counts = purchases.purchase_pmf(weeks, x, t_x, T, most)
    assert counts.sum(axis=1) == pytest.approx(1.0, abs=1e-8)
    mean = counts @ np.arange(most + 1.0)
    assert mean == pytest.approx(purchases.expected_purchases(weeks, x, t_x, T), rel=1e-5)
    assert counts[:, 0] == pytest.approx(purchases.p_no_purchase(weeks, x, t_x, T), abs=1e-5)
    draws = purchases.simulate_purchases(weeks, x, t_x, T, 20_000, np.random.default_rng(1))
    for n in (0, 1, 2, 5):
        drawn = (draws <= n).mean(axis=1)
        assert np.abs(drawn - counts[:, : n + 1].sum(axis=1)).max() < 0.015


def test_value_range_agrees_with_a_long_simulation(orders: pd.DataFrame) -> None:
    """The 10th and 90th percentiles of 40,000 simulated values per customer (what the
    range used to be read from, 200 at a time) land on the worked-out ones."""
    model = CustomerValueModel().fit(orders, AS_OF)
    table = model.predict(365)
    assert model.spend_ is not None
    s = model.summary_
    x, t_x, T = (s[c].to_numpy(float) for c in ("x", "t_x", "T"))
    paid, m, _ = _spend_inputs(s, model.spend_basis_)
    rng = np.random.default_rng(2)
    counts = model.btyd_.simulate_purchases(365 / 7, x, t_x, T, 40_000, rng)
    values = model.spend_.simulate_spend(counts, paid, m, rng)
    lo, hi = np.percentile(values, (10, 90), axis=1)
    width = table["value_hi80"].to_numpy() - table["value_lo80"].to_numpy()
    expected = table["expected_value"].to_numpy()
    # the range is widened to hold its centre: compare the same way
    lo, hi = np.minimum(lo, expected), np.maximum(hi, expected)
    some = width > 1  # not those who have most likely left: a range of $0 to $0.00002
    for mine, drawn in ((table["value_lo80"], lo), (table["value_hi80"], hi)):
        off = np.abs(mine.to_numpy() - drawn)[some] / width[some]
        assert np.median(off) < 0.005
        assert off.max() < 0.03


# -- the same numbers, worked out faster (stop 54) ----------------------------------------


def _market_day_shop() -> pd.DataFrame:
    """The test shop plus what a stall at a market brings: a dozen people who bought once
    on the same two Saturdays, and two couples with the same history (same days, different
    amounts)."""
    regulars = _shop(seed=5, customers=40)
    rows = []
    for i, day in enumerate(["2026-05-09 10:15", "2026-09-12 11:40"] * 6):
        rows.append((f"M{i:02d}", day, 12.5 + 7 * i))
    for who, scale in (("P1", 1.0), ("P2", 1.8), ("P3", 1.0), ("P4", 0.6)):
        days = ["2025-11-02", "2026-01-17", "2026-04-03"] if who in ("P1", "P2") else ["2026-06-30"]
        rows += [(who, f"{d} 09:00", round(40 * scale + k, 2)) for k, d in enumerate(days)]
    extra = pd.DataFrame(
        {
            "order_id": [f"X{n:04d}" for n in range(len(rows))],
            "contact_id": [r[0] for r in rows],
            "ordered_at": [r[1] for r in rows],
            "total": [r[2] for r in rows],
            "status": "paid",
        }
    )
    return pd.concat([regulars, extra], ignore_index=True)


def _reference_interval(model: CustomerValueModel, weeks: float) -> np.ndarray:
    """Each customer's 10th and 90th percentiles the slow way: every count up to far past
    the last that matters, every Beta CDF summed, and a root search per customer."""
    from scipy.optimize import brentq
    from scipy.special import betainc

    s = model.summary_
    x, t_x, T = (s[c].to_numpy(float) for c in ("x", "t_x", "T"))
    paid, m, _ = _spend_inputs(s, model.spend_basis_)  # the purchases the spend model read
    p, q, g = model.spend_.params_
    most = int(model.btyd_.count_bound(weeks, x, T).max()) + 20
    counts = model.btyd_.purchase_pmf(weeks, x, t_x, T, most)
    n = np.arange(1, most + 1.0)
    out = np.zeros((len(x), 2))
    for i in range(len(x)):
        scale = g + paid[i] * (m[i] if paid[i] > 0 and m[i] > 0 else 0.0)

        def cdf(log_total: float, i: int = i, scale: float = scale) -> float:
            total = np.exp(log_total)
            share = betainc(p * n, p * paid[i] + q, total / (total + scale))
            return float(counts[i, 0] + counts[i, 1:] @ share)

        for j, level in enumerate((0.1, 0.9)):
            if counts[i, 0] >= level:
                continue
            root = brentq(lambda v, level=level: cdf(v) - level, -60, 60, xtol=1e-13, rtol=1e-15)
            out[i, j] = np.exp(root)
    return out


@pytest.mark.parametrize("family", ["bgnbd", "mbgnbd", "pnbd"])
@pytest.mark.parametrize("shop", ["regulars", "market day"])
def test_the_ranges_are_the_slow_ways_to_many_digits(family: str, shop: str) -> None:
    """The range search (Halley's steps, counts too unlikely to matter left out, customers
    with the same history once) lands where a plain root search over every count does.
    A weekly regular of the Pareto/NBD fit has a CDF flat for a long way below its 10%
    point: Halley's steps crept along it and stopped at 74 for 169."""
    orders = _shop() if shop == "regulars" else _market_day_shop()
    model = CustomerValueModel(candidates=(family,)).fit(orders, AS_OF)
    s = model.summary_
    x, t_x, T = (s[c].to_numpy(float) for c in ("x", "t_x", "T"))
    weeks = 365 / 7
    purchases = model.btyd_.expected_purchases(weeks, x, t_x, T)
    spend = model._spend_per_purchase(s)
    lo, hi = model._value_interval(weeks, x, t_x, T, s, purchases, spend)
    reference = _reference_interval(model, weeks)
    assert lo == pytest.approx(reference[:, 0], rel=1e-7, abs=1e-9)
    assert hi == pytest.approx(reference[:, 1], rel=1e-7, abs=1e-9)


def test_customers_with_the_same_history_are_worked_out_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The market day's one-time buyers share a count distribution and a spend share:
    worked out once a history, and each still gets their own amounts' range."""
    model = CustomerValueModel(candidates=("mbgnbd",)).fit(_market_day_shop(), AS_OF)
    s = model.summary_
    histories = len(s[["x", "t_x", "T"]].drop_duplicates())
    assert histories < len(s) - 10
    seen: list[int] = []
    pmf = type(model.btyd_).purchase_pmf

    def counting(self: BetaGeo, t: float, x: np.ndarray, *rest: object) -> np.ndarray:
        seen.append(len(x))
        return pmf(self, t, x, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(type(model.btyd_), "purchase_pmf", counting)
    table = model.predict(365).set_index("contact_id")
    assert sum(seen) == histories
    # the couples: same days, the second spends more, so a higher range in money
    one, two = table.loc["P1"], table.loc["P2"]
    assert two["value_hi80"] > one["value_hi80"] > 0
    # one-time buyers: the spend model learnt from every purchase here, so each one's own
    # amount counts: on the same Saturday, who spent more has the higher range
    assert model.spend_basis_ == "all"
    market = table.loc[[f"M{i:02d}" for i in range(12)], "value_hi80"]
    assert market.iloc[0::2].is_monotonic_increasing and market.iloc[0::2].nunique() == 6
    assert market.iloc[1::2].is_monotonic_increasing and market.iloc[1::2].nunique() == 6


@pytest.mark.parametrize("family", ["pnbd"])
def test_pareto_counts_are_scipys_negative_binomials_over_the_stays(
    orders: pd.DataFrame, family: str
) -> None:
    """Pareto/NBD's counts (the time-free terms worked out once for all 33 stays) are the
    mixture of scipy's negative binomial probabilities to rounding."""
    from scipy.stats import nbinom

    from smbml_connect.analytics.customers import pareto

    model = CustomerValueModel(candidates=(family,)).fit(orders, AS_OF)
    s = model.summary_
    x, t_x, T = (s[c].to_numpy(float) for c in ("x", "t_x", "T"))
    purchases = model._fit_btyd(s, family)
    assert isinstance(purchases, ParetoNBD)
    r, alpha, shape_s, beta = purchases.params_
    weeks, most = 52.0, 60
    n = np.arange(most + 1)[None, :]
    whole = (1 + weeks / (beta + T)) ** -shape_s
    expected = whole[:, None] * nbinom.pmf(
        n, (r + x)[:, None], ((alpha + T) / (alpha + T + weeks))[:, None]
    )
    for node, weight in zip(pareto._STAY_NODES, pareto._STAY_WEIGHTS, strict=True):
        stay = (beta + T) * ((1 - (1 - whole) * node) ** (-1 / shape_s) - 1)
        success = ((alpha + T) / (alpha + T + stay))[:, None]
        expected += ((1 - whole) * weight)[:, None] * nbinom.pmf(n, (r + x)[:, None], success)
    alive = purchases.p_alive(x, t_x, T)
    expected = expected * alive[:, None]
    expected[:, 0] += 1 - alive
    counts = purchases.purchase_pmf(weeks, x, t_x, T, most)
    assert counts == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_counts_left_out_of_the_search_are_surely_negligible() -> None:
    """Wherever a Beta CDF is skipped its weighted value is under 1e-22: shapes of a
    shop's counts (a = p n) and spend posteriors, shares from tiny to a half."""
    from scipy.special import betainc, betaln

    from smbml_connect.analytics.customers.ranges import _negligible

    rng = np.random.default_rng(3)
    a = np.repeat(1.6 * np.arange(1, 301.0), 200)
    b = rng.uniform(2, 80, len(a))
    z = np.exp(rng.uniform(np.log(1e-6), np.log(0.9), len(a)))
    weight = np.exp(rng.uniform(np.log(1e-10), 0, len(a)))
    log_size = np.log(weight) + a * np.log(z) + b * np.log1p(-z) - np.log(a) - betaln(a, b)
    skipped = _negligible(log_size, (a + b) / (a + 1), z)
    assert skipped.mean() > 0.2  # it does leave some out
    assert (weight[skipped] * betainc(a[skipped], b[skipped], z[skipped]) < 1e-22).all()


def test_a_known_zero_spend_is_zero_not_the_shops_average(orders: pd.DataFrame) -> None:
    """Free samples and staff orders at 100% off are purchases worth 0: a customer who took
    five free samples was expected to spend $85 next year (the shop's average spend, as if
    their value were unknown), more than 82 of 87 customers (find54_customers item 3)."""
    free = [("F1", f"2026-{m:02d}-0{d} 10:00", 0.0) for m, d in ((5, 3), (6, 9), (8, 1),
                                                                 (9, 4), (10, 7))]  # fmt: skip
    free += [("F2", f"2026-{m:02d}-1{d} 16:30", 0.0) for m, d in ((7, 2), (9, 5), (10, 8))]
    mixed = [("F3", "2026-03-14 12:00", 34.0), ("F3", "2026-06-20 12:00", 0.0),
             ("F3", "2026-09-02 12:00", 0.0)]  # fmt: skip
    extra = pd.DataFrame(
        {
            "order_id": [f"Z{n}" for n in range(len(free + mixed))],
            "contact_id": [r[0] for r in free + mixed],
            "ordered_at": [r[1] for r in free + mixed],
            "total": [r[2] for r in free + mixed],
            "status": "paid",
        }
    )
    table = (
        CustomerValueModel()
        .fit(pd.concat([orders, extra], ignore_index=True), AS_OF)
        .predict(365)
        .set_index("contact_id")
    )
    for who in ("F1", "F2"):
        assert table.loc[who, ["expected_value", "value_lo80", "value_hi80"]].tolist() == [0, 0, 0]
        assert table.at[who, "paid_share"] == 0
    # One paid day in three: a third of what a paid purchase is expected to be worth.
    assert table.at["F3", "paid_share"] == pytest.approx(1 / 3)
    paid = table.loc[table["paid_share"] == 1]
    assert 0 < table.at["F3", "expected_value"] < paid["expected_value"].median()
    assert table.at["F3", "value_lo80"] <= table.at["F3", "expected_value"]
    assert table.at["F3", "expected_value"] <= table.at["F3", "value_hi80"]
    # Free days teach the spend model nothing: the others' spend per purchase is as before.
    alone = CustomerValueModel().fit(orders, AS_OF).predict(365).set_index("contact_id")
    shared = table.loc[alone.index, "spend_per_purchase"]
    assert np.allclose(shared.to_numpy(), alone["spend_per_purchase"].to_numpy(), rtol=1e-9)
