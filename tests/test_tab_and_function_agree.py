"""The same figure on every surface (find56_agree): the Segments tab and SEGMENT given the
moment the tab prints, days counted on the business's calendar, spend that is unknown
(orders in another currency with no exchange rate) said as unknown, not 0, and the
times and descriptions a CRM user or a worksheet cell shows."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest
from audit import cluster_mix_problems, cluster_rank_problems

from smbml_connect.analytics.customers.clusters import (
    CustomerClusters,
    _names,
    customer_features,
)
from smbml_connect.business_zone import day_end
from smbml_connect.function_impls import leadscore_of
from smbml_connect.functions import FunctionContext, call
from smbml_connect.order_currencies import amounts_in
from smbml_connect.steps.base import StepContext
from smbml_connect.steps.customers import churn_value_step
from smbml_connect.steps.segments import rfm_step
from smbml_connect.store import Store

SYDNEY = "Australia/Sydney"


def _tea_shop(zone: str) -> dict[str, pd.DataFrame]:
    """Eleven customers of a small shop, their orders at odd hours of the shop's clock:
    one late on a winter evening (before the clock change), one at midnight, one this
    morning, some in NZD."""
    rng = np.random.default_rng(4)
    local = [
        ("ava", "2025-08-05 23:49:13", 54.0), ("ava", "2026-01-02 10:00:00", 20.0),
        ("ben", "2026-11-19 21:30:00", 88.5), ("ben", "2026-06-01 00:00:00", 12.0),
        ("cy", "2026-10-30 23:59:00", 31.0), ("dee", "2024-12-24 08:15:00", 140.0),
        ("eli", "2026-11-20 06:05:00", 19.9), ("eli", "2026-09-09 18:00:00", 45.0),
        ("fay", "2026-03-03 12:00:00", 60.0), ("gus", "2026-07-21 23:30:00", 75.0),
        ("hal", "2026-10-31 00:00:00", 22.0), ("ivy", "2025-11-02 02:30:00", 99.0),
        ("jo", "2026-11-12 13:13:00", 10.0), ("jo", "2026-04-12 13:13:00", 15.0),
    ]  # fmt: skip
    extra = [
        (who, f"2026-{m:02d}-{d:02d} {h:02d}:{mi:02d}:00", float(rng.integers(10, 200)))
        for who in ("ava", "fay", "ivy", "kim")
        for m, d, h, mi in zip(
            rng.integers(1, 11, 3), rng.integers(1, 28, 3), rng.integers(0, 24, 3),
            rng.integers(0, 60, 3), strict=True,
        )
    ]  # fmt: skip
    rows = local + extra
    when = pd.to_datetime([r[1] for r in rows]).tz_localize(zone).tz_convert("UTC")
    orders = pd.DataFrame(
        {
            "order_id": [f"#{1001 + i}" for i in range(len(rows))],
            "contact_id": [r[0] for r in rows],
            "ordered_at": when,
            "total": [r[2] for r in rows],
            "status": "paid",
            "currency": ["NZD" if r[0] in ("gus", "kim") else "AUD" for r in rows],
        }
    )
    people = sorted(set(orders["contact_id"]))
    contacts = pd.DataFrame(
        {
            "contact_id": people,
            "email": [f"{p}@tea.example" for p in people],
            "first_name": people,
            "last_name": "Tea",
        }
    )
    tables = {"orders": orders, "contacts": contacts}
    cleared, _ = amounts_in(tables, "AUD")  # no exchange rate offline: NZD totals unknown
    return cleared


def _typed(heading: str) -> str:
    """What a user types as as_of from the tab's first line."""
    said = re.search(r"as of (?:the end of )?(\d{4}-\d\d-\d\d(?: \d\d:\d\d(?::\d\d)?)?)", heading)
    assert said, heading
    return said[1]


MOMENTS = [
    pd.Timestamp("2026-10-31 00:00", tz="UTC"),  # the demo's: midnight, "the end of 30 October"
    pd.Timestamp("2026-11-20 07:59:34", tz=SYDNEY),  # a run without as_of, at its moment
    day_end(pd.Timestamp("2026-11-20").date()).tz_localize(SYDNEY),  # as_of = 2026-11-20
]


@pytest.mark.parametrize("as_of", MOMENTS, ids=["midnight", "run moment", "whole day"])
def test_segment_given_what_the_segments_tab_prints_gives_the_tabs_figures(as_of):
    """The demo's tab said "as of 2026-10-31" for a run at 00:00 that day, and SEGMENT
    with "2026-10-31" counted to its end: every customer one day further (806 beside 805)."""
    zone = str(as_of.tz)
    tables = _tea_shop(zone if zone != "UTC" else SYDNEY)
    result = rfm_step(tables, StepContext(as_of=as_of))
    tab = result.sheets["Segments"].set_index("contact_id")
    typed = _typed(result.notes["Segments"])
    orders = tables["orders"]
    orders = orders[orders["ordered_at"] <= as_of]
    orders = orders[orders["total"].notna()]  # a sheet of amounts holds the known ones
    shown = orders["ordered_at"].dt.tz_convert(zone).dt.tz_localize(None)  # as the shop saw it
    answer = call(
        "SEGMENT",
        [[[c] for c in orders["contact_id"]], [[t.to_pydatetime()] for t in shown],
         [[float(v)] for v in orders["total"]], typed],
    )  # fmt: skip
    assert answer.error is None, answer.error
    got = pd.DataFrame(answer.value[1:], columns=answer.value[0]).set_index("customer")
    both = got.index.intersection(tab.index)
    assert len(both) >= 8
    assert got.loc[both, "days since last order"].astype(int).tolist() == (
        tab.loc[both, "recency_days"].astype(int).tolist()
    )


def test_days_since_the_last_order_are_the_calendar_days_the_tab_shows_across_a_clock_change():
    """An order at 23:49 on a winter evening in Sydney (+10) counted to the end of a summer
    day (+11) was 471 days by elapsed hours, 472 by the tab's own two dates."""
    as_of = day_end(pd.Timestamp("2026-11-20").date()).tz_localize(SYDNEY)
    tab = rfm_step(_tea_shop(SYDNEY), StepContext(as_of=as_of)).sheets["Segments"]
    tab = tab.set_index("contact_id")
    for who in tab.index:
        last = pd.Timestamp(tab.at[who, "last_order_at"]).normalize()
        assert tab.at[who, "recency_days"] == (pd.Timestamp("2026-11-20") - last).days, who
    assert (
        tab.at["gus", "recency_days"]
        == (pd.Timestamp("2026-11-20") - pd.Timestamp("2026-07-21")).days
    )


def test_a_customer_who_paid_only_in_another_currency_has_unknown_spend_not_0():
    """A 45-order NZD buyer was "0 AUD spent", spend score 1 and "Need Attention"."""
    as_of = day_end(pd.Timestamp("2026-11-20").date()).tz_localize(SYDNEY)
    result = rfm_step(_tea_shop(SYDNEY), StepContext(as_of=as_of, currency="AUD"))
    tab = result.sheets["Segments"].set_index("contact_id")
    for who in ("gus", "kim"):  # every order in NZD
        assert pd.isna(tab.at[who, "monetary"]) and pd.isna(tab.at[who, "m_score"])
        assert "spend unknown: no order with an amount in AUD" in tab.at[who, "why"]
        assert "0 AUD" not in tab.at[who, "why"]
    known = tab["monetary"].notna()
    assert sorted(tab.loc[known, "m_score"].unique()) == [1, 2, 3, 4, 5]  # ranked among the known
    assert "has it blank, no spend score" in result.notes["Segments"]
    assert "opted out are left out" in result.notes["Segments"]


@pytest.fixture(scope="module")
def kiwi_shop(business_module):
    """The sample shop, where a sixth of the customers paid every order in NZD."""
    t = dict(business_module.tables)
    orders = t["orders"].copy()
    people = sorted(orders["contact_id"].dropna().unique())
    kiwis = set(people[::6])
    orders["currency"] = np.where(orders["contact_id"].isin(kiwis), "NZD", "USD")
    t["orders"] = orders
    cleared, _ = amounts_in(t, "USD")
    return cleared, kiwis, business_module.as_of


@pytest.fixture(scope="module")
def business_module():
    from smbml_connect.sample import SampleConfig, generate

    return generate(SampleConfig(contacts=400, seed=5))


def test_no_cluster_is_named_after_a_category_it_shows_at_0_nor_ranked_on_unknown_spend(kiwi_shop):
    """40 NZD buyers made a cluster "Lower spenders, ..., mixed baskets, most in
    Accessories" beside 0% in every category: the first column of an all-zero row."""
    t, kiwis, as_of = kiwi_shop
    features = customer_features(t["orders"], t["order_lines"], t["products"], as_of)
    assert features.loc[sorted(kiwis & set(features.index)), "spend"].isna().all()
    model = CustomerClusters().fit(features)
    profiles = model.profiles(features)
    assert cluster_mix_problems(profiles) == []
    assert cluster_rank_problems(profiles) == []
    assert (profiles["share_of_revenue"].fillna(0) <= 1 + 1e-9).all()


def test_a_group_of_buyers_of_unknown_spend_is_named_so_and_after_no_category(kiwi_shop):
    """The tea shop's 40 NZD buyers made a cluster of their own: "Lower spenders, ...,
    mixed baskets, most in Accessories" from a row of 0% in every category."""
    t, kiwis, as_of = kiwi_shop
    features = customer_features(t["orders"], t["order_lines"], t["products"], as_of)
    labels = np.where(features.index.isin(sorted(kiwis)), 2, 1)
    names = _names(features, labels, 2)
    assert names[2].startswith("Spend unknown") and "most" not in names[2]
    assert names[1].startswith("Known spenders")


def test_customer_value_says_unknown_spend_and_why_orders_have_no_amount(kiwi_shop):
    """The words said "0 USD in total" beside "Expected to spend ...", and the report
    "orders could not be counted ... e.g. order #1012: no total" of orders that had an NZD
    total and were counted."""
    t, kiwis, as_of = kiwi_shop
    result = churn_value_step(t, StepContext(as_of=as_of, currency="USD"))
    tab = result.sheets["Customer value"].set_index("contact_id")
    theirs = tab.loc[tab.index.intersection(sorted(kiwis))]
    assert len(theirs) and theirs["spend_so_far"].isna().all()
    assert theirs["why"].str.contains(r"spend unknown \(no order with an amount in USD\)").all()
    assert theirs["why"].str.contains("resting on other customers' spend").all()
    assert not theirs["why"].str.contains("0 USD in total").any()
    text = " ".join(p for s in result.sections for p in s.paragraphs)
    assert "no total" not in text and "could not be counted" not in text
    said = re.search(r"([\d,]+) orders of these customers have no amount in USD \(([\d,]+) in NZD, with no exchange rate\)", text)  # fmt: skip
    assert said and said[1] == said[2]
    counted = t["orders"][t["orders"]["contact_id"].isin(kiwis)]
    assert int(said[1].replace(",", "")) <= len(counted)


def test_leadscore_of_shows_scored_at_on_the_business_clock(tmp_path):
    """The Lead model tab said "Trained at 15:57 US/Eastern time" while LEADSCORE_OF gave
    20:57, UTC unlabelled; in Sydney the date itself changed."""
    with Store(tmp_path / "store.sqlite") as store:
        store.keep_zone("hubspot", "Australia/Sydney")
        run = store.start_run("run", "hubspot")
        store.upsert("contacts", pd.DataFrame({"contact_id": ["7"], "email": ["ugo@post.example"]}))
        store.write_outputs("scores", run, pd.DataFrame([{
            "entity": "contact", "entity_id": "7", "model": "lead_score", "value": 71.0,
            "label": "B", "reasons": ["Came from a referral"], "model_version": "v1",
            "scored_at": pd.Timestamp("2026-12-07 20:57:24", tz="UTC"),
        }]))  # fmt: skip
        store.finish_run(run, "ok", {}, None)
    context = FunctionContext(store_path=tmp_path / "store.sqlite")
    frame, _ = leadscore_of("ugo@post.example", context.lead_scores())
    assert frame["scored at"].iloc[0] == pd.Timestamp("2026-12-08 07:57:24")
    answer = call("LEADSCORE_OF", ["UGO@post.example"], context)
    assert answer.value[1][3] == dt.datetime(2026, 12, 8, 7, 57, 24)  # as a cell shows it
