"""Churn risk and value in a shop that sells in one season a year (stop 54's known gap,
find54_customers item 6): a Christmas shop, every order between mid-November and
Christmas, 40% of customers back every season and the rest with a 15% chance a year.

The continuous-time models gave every customer 57-72% churn risk and a one-time buyer of
2022 "87% still a customer"; each season is now one chance to buy (BG/BB), checked
against the published estimates and against `lifetimes` (imported here only).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from smbml_connect.analytics.customers.seasons import (
    BetaGeoBetaBinom,
    find_season,
    season_summary,
)
from smbml_connect.analytics.customers.value import CustomerValueModel, daily_purchases
from smbml_connect.business_zone import calendar_day
from smbml_connect.errors import NotEnoughDataError
from smbml_connect.steps.base import StepContext
from smbml_connect.steps.customers import VALUE_MODEL_TAB, VALUE_TAB, churn_value_step

AS_OF = pd.Timestamp("2025-12-20 23:59:59", tz="UTC")
PRICES = (35.0, 18.0, 45.0, 22.0, 16.0, 9.0)


def _christmas_shop(
    as_of: pd.Timestamp = AS_OF, first_years: tuple[int, ...] = (2022, 2023, 2024, 2025)
) -> dict[str, pd.DataFrame]:
    """find54's Christmas shop: 150 customers, orders 15 Nov-22 Dec of each year from
    their first, baskets of one or two of six products; 40% buy every season, the others
    come back with a 15% chance a year."""
    rng = np.random.default_rng(54)
    rows = []
    for i in range(1, 151):
        loyal = rng.random() < 0.4
        first = int(rng.choice(first_years))
        for year in range(first, 2026):
            if year > first and not loyal and rng.random() > 0.15:
                continue
            day = pd.Timestamp(f"{year}-11-15") + pd.Timedelta(days=int(rng.integers(0, 38)))
            if day > as_of.tz_localize(None):
                continue
            basket = rng.choice(6, size=int(rng.integers(1, 3)), replace=False)
            rows.append((f"C{i:03d}", f"{day:%Y-%m-%d} 10:00", sum(PRICES[j] for j in basket)))
    orders = pd.DataFrame(
        {
            "order_id": [f"X{n}" for n in range(len(rows))],
            "contact_id": [r[0] for r in rows],
            "ordered_at": [r[1] for r in rows],
            "total": [r[2] for r in rows],
            "status": "paid",
        }
    )
    ids = sorted(orders["contact_id"].unique())
    contacts = pd.DataFrame(
        {
            "contact_id": ids,
            "email": [f"{c.lower()}@shop.test" for c in ids],
            "first_name": ids,
            "last_name": "Shopper",
        }
    )
    return {"orders": orders, "contacts": contacts}


@pytest.fixture(scope="module")
def shop() -> dict[str, pd.DataFrame]:
    return _christmas_shop()


@pytest.fixture(scope="module")
def fitted(shop) -> CustomerValueModel:
    return CustomerValueModel().fit(shop["orders"], AS_OF)


def _lifetimes_data(name: str) -> Path:
    spec = importlib.util.find_spec("lifetimes")  # the data files, found without importing
    assert spec is not None and spec.submodule_search_locations, "dev extra 'lifetimes' missing"
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / name


def test_bgbb_matches_the_published_donations_estimates():
    """Fader, Hardie and Shang (2010), table 2: 11,104 donors over six years."""
    d = pd.read_csv(_lifetimes_data("donations.csv"))
    x, t_x, n = (np.repeat(d[c].to_numpy(float), d["weights"]) for c in
                 ("frequency", "recency", "periods"))  # fmt: skip
    fit = BetaGeoBetaBinom().fit(x, t_x, n).fit_
    published = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
    for name, value in published.items():
        assert fit.params[name] == pytest.approx(value, abs=0.001), name
    assert fit.log_likelihood == pytest.approx(-33225.6, abs=0.1)


def test_the_shop_is_told_apart_by_seasons(shop, fitted):
    """A one-time buyer of 2022 is unlikely to buy next season and less likely still a
    customer than one who bought in every season; churn risks spread across the shop."""
    table = fitted.predict(365).set_index("contact_id")
    assert fitted.chosen_ == "bgbb"
    once = table[(table["seasons_bought"] == 1) & (table["seasons_seen"] == 4)]
    every = table[(table["seasons_bought"] == 4) & (table["seasons_seen"] == 4)]
    assert len(once) and len(every)
    assert (once["churn_risk"] > 0.8).all()  # was 72%, beside 57% for a regular
    assert (every["churn_risk"] < 0.25).all()
    assert once["p_alive"].max() < every["p_alive"].min()
    assert once["expected_value"].max() < every["expected_value"].min() / 4
    assert table["churn_risk"].max() - table["churn_risk"].min() > 0.6  # was 57-72%
    # one season ahead: each customer buys in it or not
    assert np.allclose(table["expected_purchases"], 1 - table["churn_risk"])
    assert (table["value_lo80"] <= table["expected_value"]).all()
    assert (table["expected_value"] <= table["value_hi80"]).all()


def test_the_model_agrees_with_lifetimes_on_the_same_seasons(shop):
    """The same seasons fitted by `lifetimes`' BetaGeoBetaBinomFitter: the same chances."""
    from lifetimes import BetaGeoBetaBinomFitter

    end = calendar_day(AS_OF) + pd.Timedelta(days=1)
    days = daily_purchases(shop["orders"], AS_OF)
    season = find_season(days, end)
    assert season is not None and season.seasons == 4
    s = season_summary(days, season, end)
    x, t_x, n = (s[c].to_numpy(float) for c in ("x", "t_x", "n"))
    ours = BetaGeoBetaBinom().fit(x, t_x, n)
    theirs = BetaGeoBetaBinomFitter().fit(s["x"], s["t_x"], s["n"])
    # lifetimes keeps the mean log-likelihood per customer
    assert ours.fit_.log_likelihood / len(x) == pytest.approx(
        -theirs._negative_log_likelihood_, abs=1e-4
    )
    for k in (1, 3):
        expected = theirs.conditional_expected_number_of_purchases_up_to_time(k, x, t_x, n)
        assert ours.expected_purchases(k, x, t_x, n) == pytest.approx(
            np.asarray(expected), abs=0.01
        )
    alive = theirs.conditional_probability_alive(1, x, t_x, n)
    assert ours.p_alive(x, t_x, n) == pytest.approx(np.asarray(alive), abs=0.01)


def test_the_chances_sum_to_one_and_match_the_expectation(fitted):
    s = fitted.season_summary_
    x, t_x, n = (s[c].to_numpy(float) for c in ("x", "t_x", "n"))
    model = fitted.btyd_
    assert isinstance(model, BetaGeoBetaBinom)
    counts = model.purchase_pmf(3, x, t_x, n)
    assert counts.sum(axis=1) == pytest.approx(np.ones(len(x)))
    assert counts[:, 0] == pytest.approx(model.p_no_purchase(3, x, t_x, n))
    assert counts @ np.arange(4.0) == pytest.approx(model.expected_purchases(3, x, t_x, n))


def test_the_words_say_seasons(shop):
    result = churn_value_step(shop, StepContext(as_of=AS_OF))
    tab = result.sheets[VALUE_TAB.title].set_index("contact_id")
    one = tab[(tab["seasons_bought"] == 1) & tab["why"].str.contains("of the last 4 seasons")]
    assert one["why"].str.contains("Bought in 1 of the last 4 seasons, \\$").all()
    assert one["why"].str.contains("in the next season").all()
    assert (one["risk"] == "High").all()
    words = " ".join(p for s in result.sections for p in s.paragraphs)
    assert "most orders between 19 Nov and 18 Dec" in words
    assert "each season counts as one chance to buy" in words
    assert "12 months" not in words
    model_tab = result.sheets[VALUE_MODEL_TAB.title]
    assert list(model_tab["model"]) == ["BG/BB", "naive (past rate)"]
    assert result.summary[0].endswith("in the next season; 55 at high churn risk")


def test_a_seasonal_model_saved_reads_back_the_same(fitted):
    again = CustomerValueModel.from_text(fitted.to_text())
    before, after = fitted.predict(730), again.predict(730)
    pd.testing.assert_frame_equal(before, after)


def test_off_season_and_the_season_begun():
    """July: the seasons up to last Christmas count, the next is to come. 20 November,
    a few days in: this season is the next one, not a season most customers skipped."""
    july = pd.Timestamp("2026-07-15 23:59:59", tz="UTC")
    model = CustomerValueModel().fit(_christmas_shop(july)["orders"], july)
    assert model.season_ is not None and model.season_.last == 2025
    early = pd.Timestamp("2025-11-20 23:59:59", tz="UTC")
    model = CustomerValueModel().fit(_christmas_shop(early)["orders"], early)
    assert model.season_ is not None and model.season_.done < 0.5
    assert model.season_.last == 2024
    table = model.predict(365)
    # a customer of 2022-2024 who bought every season is not at risk for not buying yet
    assert table["churn_risk"].min() < 0.25


def test_two_seasons_are_too_few_and_say_why():
    shop = _christmas_shop(first_years=(2024, 2025))
    shop["orders"] = shop["orders"][pd.to_datetime(shop["orders"]["ordered_at"]).dt.year >= 2024]
    with pytest.raises(NotEnoughDataError) as refused:
        CustomerValueModel().fit(shop["orders"], AS_OF)
    assert str(refused.value) == (
        "your customers buy in one season a year (most orders fall between 21 Nov and 18 Dec "
        "each year), so each season is one chance to come back; churn risk and value need 3 "
        "seasons (the last to check the model on), and the orders cover 2"
    )


def _year_round_with_christmas(seed: int = 7) -> pd.DataFrame:
    """A gift shop open all year whose busiest weeks are before Christmas: 40% of orders
    from mid-November, the rest any day."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(200):
        for _ in range(int(rng.integers(1, 6))):
            year = int(rng.choice([2023, 2024, 2025]))
            if rng.random() < 0.4:
                day = pd.Timestamp(f"{year}-11-15") + pd.Timedelta(days=int(rng.integers(0, 40)))
            else:
                day = pd.Timestamp(f"{year}-01-01") + pd.Timedelta(days=int(rng.integers(0, 365)))
            rows.append((f"G{i}", day, float(rng.integers(10, 80))))
    return pd.DataFrame(rows, columns=["contact_id", "ordered_at", "total"])


def test_shops_that_sell_all_year_keep_their_models(business):
    """The sample business, CDNOW and a year-round shop with a strong Christmas."""
    end = calendar_day(business.as_of) + pd.Timedelta(days=1)
    assert find_season(daily_purchases(business.tables["orders"], business.as_of), end) is None
    cdnow = pd.read_csv(
        _lifetimes_data("CDNOW_sample.txt"), sep=r"\s+", header=None,
        names=["customer", "_", "day", "count", "amount"],
    )  # fmt: skip
    orders = pd.DataFrame(
        {
            "contact_id": cdnow["customer"].astype(str),
            "ordered_at": pd.to_datetime(cdnow["day"].astype(str)).dt.tz_localize("UTC"),
            "total": cdnow["amount"],
        }
    )
    cut = pd.Timestamp("1998-07-01", tz="UTC")
    assert find_season(daily_purchases(orders, cut), cut) is None
    gifts = _year_round_with_christmas()
    gifts["ordered_at"] = gifts["ordered_at"].dt.tz_localize("UTC")
    cut = pd.Timestamp("2026-01-01", tz="UTC")
    assert find_season(daily_purchases(gifts, cut), cut) is None
