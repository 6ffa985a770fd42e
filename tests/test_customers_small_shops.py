"""Churn risk and value in small, young shops: what the data can support, and words that
say it (find51_figures items 1, 2, 11 and "Last bought 0 weeks ago").

The shops are shaped like a real one five months old: a few dozen customers buying every
few weeks at irregular times, baskets of a few products, one customer who bought once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from smbml_connect.analytics.customers.value import MIN_REPEAT_BUYERS, CustomerValueModel
from smbml_connect.errors import NotEnoughDataError
from smbml_connect.steps.base import StepContext
from smbml_connect.steps.customers import VALUE_MODEL_TAB, VALUE_TAB, _gap_words, churn_value_step
from smbml_connect.xlsx import build_workbook

AS_OF = pd.Timestamp("2026-10-31", tz="UTC")
START = pd.Timestamp("2026-06-01")


def _young_shop(seed: int = 5, customers: int = 45) -> dict[str, pd.DataFrame]:
    """Orders and contacts: K001 bought once, on 3 June; the others 2-8 times since June."""
    rng = np.random.default_rng(seed)
    rows = [("K001", "2026-06-03 10:00", 28.5)]
    for i in range(2, customers + 1):
        for _ in range(int(rng.integers(2, 9))):
            when = START + pd.Timedelta(minutes=int(rng.integers(0, 151 * 24 * 60)))
            basket = rng.choice([12.5, 11.0, 7.0, 15.0, 45.0, 25.0], int(rng.integers(1, 4)))
            rows.append((f"K{i:03d}", f"{when:%Y-%m-%d %H:%M}", float(basket.sum())))
    return _tables(rows)


def _tables(rows: list[tuple[str, str, float]]) -> dict[str, pd.DataFrame]:
    orders = pd.DataFrame(
        {
            "order_id": [f"S{n:04d}" for n in range(1, len(rows) + 1)],
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
            "first_name": [f"First{c[1:]}" for c in ids],
            "last_name": "Shopper",
        }
    )
    return {"orders": orders, "contacts": contacts}


@pytest.fixture(scope="module")
def young() -> dict[str, pd.DataFrame]:
    return _young_shop()


def test_a_one_time_buyer_quiet_for_months_is_not_the_safest_customer(young):
    result = churn_value_step(young, StepContext(as_of=AS_OF, currency="EUR"))
    tab = result.sheets[VALUE_TAB.title].set_index("contact_id")
    once = tab.loc["K001"]
    recent = pd.to_datetime(young["orders"]["ordered_at"]).groupby(
        young["orders"]["contact_id"]
    ).max() >= pd.Timestamp("2026-10-10")
    # Quiet 21 weeks after a single purchase: riskier than everyone who bought in the last
    # three weeks (plain BG/NBD gave 0.3%, the lowest in the shop, against their 1-2%).
    assert once["churn_risk"] > tab.loc[recent[recent].index, "churn_risk"].max()
    assert once["chance_still_a_customer"] < 0.9  # not "certainly still a customer"
    assert once["value_low_80"] == 0  # they may well never buy again
    models = result.sheets[VALUE_MODEL_TAB.title].set_index("model")
    assert not models.at["BG/NBD", "chosen"]
    card = result.models["customer_value"].card
    assert card["still_a_customer_model"] != "BG/NBD"
    assert (
        "BG/NBD is not used: it counts everyone who bought only once as certainly still a "
        "customer, and 1 customer has bought on one day only" in card["validation"]["why"]
    )
    assert "of the models that can be used" in card["validation"]["why"]


def test_bgnbd_stays_a_candidate_when_everyone_has_bought_again(young):
    orders = young["orders"]
    repeat = orders[orders["contact_id"] != "K001"]
    model = CustomerValueModel().fit(repeat, AS_OF)
    assert "barred" in model.report_ and model.report_["barred"] == {}
    assert "not used" not in model.report_["why"]


def test_a_shop_whose_orders_all_fall_on_one_day_gets_no_churn_risk_or_value():
    rng = np.random.default_rng(2)
    rows = [
        (f"K{i:03d}", f"2026-10-15 {int(rng.integers(8, 20)):02d}:{int(rng.integers(0, 60)):02d}",
         float(rng.choice([7.0, 12.5, 45.0])))
        for i in range(1, 46)
        for _ in range(int(rng.integers(1, 9)))
    ]  # fmt: skip
    with pytest.raises(NotEnoughDataError) as refused:
        churn_value_step(_tables(rows), StepContext(as_of=AS_OF))
    assert str(refused.value) == (
        f"churn risk and value need at least {MIN_REPEAT_BUYERS} customers who bought again on "
        "a later day, to learn how often customers come back; no customer has so far (the "
        "first counted order was 16 days before 2026-10-31)"
    )


def test_a_small_shop_with_few_repeat_buyers_is_refused_and_one_with_enough_is_not():
    """Ten repeat buyers is the line (simulated small shops: with fewer, 12-month totals
    were off by more than half and too many customers shown at High risk)."""
    rng = np.random.default_rng(11)
    once = [
        (f"N{i:03d}", f"{START + pd.Timedelta(days=int(rng.integers(0, 150))):%Y-%m-%d}", 20.0 + i)
        for i in range(32)
    ]

    def back(count: int) -> list[tuple[str, str, float]]:
        return [
            (who, f"{START + pd.Timedelta(days=int(d)):%Y-%m-%d} 1{k}:00", 30.0 + k)
            for i in range(count)
            for who in [f"R{i:03d}"]
            for k, d in enumerate(sorted(rng.choice(150, int(rng.integers(2, 5)), replace=False)))
        ]

    with pytest.raises(NotEnoughDataError, match="only 9 of 41 have so far"):
        CustomerValueModel().fit(_tables(once + back(MIN_REPEAT_BUYERS - 1))["orders"], AS_OF)
    model = CustomerValueModel().fit(_tables(once + back(MIN_REPEAT_BUYERS))["orders"], AS_OF)
    assert len(model.predict()) == 42


def test_both_chances_show_in_percent(young):
    """Chance still a customer showed as 0.97 beside a churn risk of 3.1%."""
    result = churn_value_step(young, StepContext(as_of=AS_OF))
    frame = result.sheets[VALUE_TAB.title]
    _, placed = build_workbook({VALUE_TAB.title: frame}, None, {
        VALUE_TAB.title: VALUE_TAB.formats})  # fmt: skip
    sheet, top = placed[VALUE_TAB.title]
    shown = {
        name: sheet.cell(row=top + 1, column=col).number_format
        for col, name in enumerate(frame.columns, start=1)
    }
    assert shown["chance_still_a_customer"] == shown["churn_risk"] == "0.0%"


def test_last_bought_says_days_under_a_week():
    assert [_gap_words(d) for d in (0, 1, 3, 6, 7, 10, 62, 149)] == [
        "less than a day", "1 day", "3 days", "6 days", "1 week", "1 week", "9 weeks",
        "5 months",
    ]  # fmt: skip


def test_a_shop_three_weeks_old_gets_no_churn_risk_or_value():
    """Orders over three weeks, many customers back within them: the check period took the
    whole history and nobody had bought before it, yet 12-month values were published
    (EUR 180,737 from customers who had spent EUR 15,110), "checked on nothing"."""
    rng = np.random.default_rng(5)
    rows = [
        (f"K{i:03d}", f"{pd.Timestamp('2026-10-09') + pd.Timedelta(days=int(d)):%Y-%m-%d} 12:00",
         float(rng.choice([7.0, 12.5, 45.0])))
        for i in range(1, 46)
        for d in rng.choice(22, int(rng.integers(1, 5)), replace=False)
    ]  # fmt: skip
    with pytest.raises(NotEnoughDataError, match="long enough to check them"):
        CustomerValueModel().fit(_tables(rows)["orders"], AS_OF)


def _steady_shop() -> dict[str, pd.DataFrame]:
    """35 customers buying every 10-20 days, one lapsed regular, one old one-timer: each
    keeping their past rate predicts the held-out year better than any model that can be
    used (find57 item 2)."""
    rng = np.random.default_rng(3)
    rows = []
    for i in range(1, 36):
        every = f"{int(rng.integers(10, 20))}D"
        for day in pd.date_range("2025-06-01", "2026-10-25", freq=every):
            rows.append((f"K{i:02d}", f"{day:%Y-%m-%d}", float(rng.integers(20, 60))))
    rows += [("K99", f"{day:%Y-%m-%d}", 80.0) for day in pd.date_range("2024-01-01", "2025-01-01", freq="14D")]  # fmt: skip
    rows.append(("K98", "2024-03-01", 15.0))
    return _tables(rows)


def test_a_model_that_errs_more_than_the_past_rate_says_so_and_is_not_called_lowest():
    """It read 'lowest error per customer' beside 'naive (past rate) 2.218', half the chosen
    model's 4.075, and the tab's note said the lowest error is used."""
    result = churn_value_step(_steady_shop(), StepContext(as_of=AS_OF))
    rows = result.sheets[VALUE_MODEL_TAB.title].set_index("model")
    note, why = result.notes[VALUE_MODEL_TAB.title], result.sections[0].paragraphs[1]
    chosen = rows.index[rows["chosen"]][0]
    naive = rows.loc["naive (past rate)", "rmse"]
    assert naive < rows.loc[chosen, "rmse"]  # the shop shows what it is meant to
    said = (
        f"This time {chosen} erred more than assuming each customer keeps buying at their "
        f"past rate (root mean squared error {rows.loc[chosen, 'rmse']:.3f} against "
        f"{naive:.3f}); it is still used"
    )
    assert said in why and said in note
    assert "naive (past rate), a baseline that is never used, 2.218" in why
    assert "the lowest root mean squared error per customer is used" not in note
    assert "Naive (past rate) is a baseline shown beside them, never used" in note


def test_a_model_that_beats_the_past_rate_says_nothing_of_it(young):
    result = churn_value_step(young, StepContext(as_of=AS_OF))
    rows = result.sheets[VALUE_MODEL_TAB.title].set_index("model")
    chosen = rows.index[rows["chosen"]][0]
    assert rows.loc["naive (past rate)", "rmse"] > rows.loc[chosen, "rmse"]
    assert "erred more than" not in " ".join(result.sections[0].paragraphs)
    assert "erred more than" not in result.notes[VALUE_MODEL_TAB.title]


def test_one_customer_slipping_away_is_said_in_the_singular():
    """find57 item 7: "1 once-valuable customers are slipping away"."""
    from smbml_connect.steps.segments import rfm_step

    words = " ".join(rfm_step(_steady_shop(), StepContext(as_of=AS_OF)).sections[0].paragraphs)
    assert "1 once-valuable customer is slipping away" in words
    assert " 1 people" not in words and " 1 segments" not in words
