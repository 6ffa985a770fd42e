import numpy as np
import pandas as pd
import pytest

from smbml_connect.analytics.leads.contact_features import lead_training_frame
from smbml_connect.analytics.shared.metrics import calibration_error
from smbml_connect.sample import SampleConfig, generate, messy_export, true_conversion_chance
from smbml_connect.schema import validate


def test_same_seed_same_business(business):
    again = generate(SampleConfig())
    for name, frame in business.tables.items():
        pd.testing.assert_frame_equal(frame, again.tables[name], obj=name)
    other = generate(SampleConfig(seed=8))
    assert not other.tables["orders"]["total"].equals(business.tables["orders"]["total"])


def test_size_and_shape_of_the_business(business):
    t = business.tables
    assert len(t["contacts"]) == 2000
    assert 500 <= len(t["deals"]) <= 700
    assert t["products"]["product_id"].nunique() >= 30
    span = t["orders"]["ordered_at"].max() - t["orders"]["ordered_at"].min()
    assert pd.Timedelta(days=2 * 365) <= span <= pd.Timedelta(days=3 * 366)
    assert t["order_lines"]["order_id"].isin(t["orders"]["order_id"]).all()
    per_customer = t["orders"].groupby("contact_id").size()
    assert (per_customer >= 5).sum() > 100  # repeat buyers
    assert not business.truth["customers"]["alive_at_end"].all()  # and churners


def test_open_deals_are_where_closed_ones_were_at_their_age(business):
    """An open deal's stage history is its whole life's, cut at the end date."""
    deals = business.tables["deals"].set_index("deal_id")
    history = business.tables["deal_stages"].sort_values("entered_at")
    truth = business.truth["deals"].set_index("deal_id")
    still_open = deals.index[~deals["is_closed"]]
    assert 10 <= len(still_open) <= 60
    last = history.groupby("deal_id").last()
    assert (last.loc[still_open, "stage"] == deals.loc[still_open, "stage"]).all()
    assert (history["entered_at"] <= business.as_of).all()
    assert (truth.loc[still_open, "closes_at"] > business.as_of).all()
    losing = still_open[~truth.loc[still_open, "will_win"].to_numpy()]
    assert not deals.loc[losing, "stage"].eq("contractsent").any()  # as lost deals stall
    passed = history.groupby("deal_id").size() - 1
    closed_lost = deals.index[deals["stage"].eq("closedlost")]
    assert passed[losing].max() <= passed[closed_lost].max()


def test_every_table_is_valid_canonical_data(business):
    for name, frame in business.tables.items():
        result = validate(name, frame.drop(columns="source"), source="sample")
        assert result.rejects.empty, (name, result.rejects.head())
        assert len(result.clean) == len(frame)


def test_lead_sources_convert_differently_and_engagement_drives_it(business):
    contacts = business.tables["contacts"].merge(business.truth["contacts"], on="contact_id")
    rates = contacts.groupby("lead_source")["converted_by_end"].mean()
    assert rates["referral"] > rates["social"] + 0.15
    assert contacts.groupby("converted_by_end")["interest"].mean().diff().iloc[-1] > 0.5


def test_engagement_keeps_growing_after_conversion(business):
    acts = business.tables["activities"].merge(business.truth["contacts"], on="contact_id")
    converted = acts[acts["converted_by_end"]]
    after = (converted["occurred_at"] > converted["converted_at"]).mean()
    assert after > 0.5  # most of a customer's engagement comes after they bought: the leak


def test_prices_vary_for_most_products_and_truth_is_given(business):
    lines = business.tables["order_lines"]
    effective = (lines["unit_price"] * (1 - lines["discount"])).round(2)
    levels = effective.groupby(lines["product_id"]).nunique()
    truth = business.truth["products"].set_index("product_id")
    varies = truth["has_price_variation"]
    assert (levels[varies[varies].index] >= 3).all()
    assert (levels[varies[~varies].index] == 1).all()
    assert truth["elasticity"].between(-3.5, -0.3).all()


def test_seasonality_shows_in_orders(business):
    orders = business.tables["orders"]
    by_month = orders.groupby(orders["ordered_at"].dt.month).size()
    assert by_month[12] > by_month[7]


def test_messy_export_faults_are_known(business):
    raw, faults = messy_export(business, seed=1)
    assert len(faults) == 10
    assert raw["orders"]["total"].str.startswith("$").all()
    assert len(raw["contacts"]) == len(business.tables["contacts"]) + 2


def test_true_conversion_chance_matches_what_the_sample_records(business):
    """The benchmark's noise floor is only a floor if this chance is calibrated."""
    snapshots = lead_training_frame(business.tables, business.as_of).frame
    outcome = snapshots["converted"].astype(int).to_numpy()
    chance = true_conversion_chance(
        business, snapshots["contact_id"], snapshots["days_since_created"]
    )
    assert calibration_error(outcome, chance, bins=20) < 0.02
    assert abs(chance.mean() - outcome.mean()) < 0.015
    at_creation = (snapshots["days_since_created"] == 0).to_numpy()
    assert abs(chance[at_creation].mean() - outcome[at_creation].mean()) < 0.02
    # A shorter horizon than the label's is a different chance, and the check sees it.
    wrong = true_conversion_chance(
        business, snapshots["contact_id"], snapshots["days_since_created"], horizon_days=30
    )
    assert calibration_error(outcome, wrong, bins=20) > 0.03  # 0.047; the right one 0.010
    assert np.all((chance >= 0) & (chance <= 1))
    with pytest.raises(ValueError, match="'C99999'"):
        true_conversion_chance(business, pd.Series(["C00001", "C99999"]), pd.Series([0, 0]))
