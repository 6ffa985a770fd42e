import numpy as np
import pandas as pd
import pytest

from smbml_connect.analytics.customers.segments import (
    SEGMENTS,
    on_schedule,
    quintile_score,
    rfm_table,
    segment_for,
)

AS_OF = pd.Timestamp("2025-01-31", tz="UTC")


def orders(rows):
    return pd.DataFrame(
        [
            {"order_id": f"o{i}", "contact_id": c, "ordered_at": pd.Timestamp(d, tz="UTC"),
             "total": t, "status": s}
            for i, (c, d, t, s) in enumerate(rows)
        ]
    )  # fmt: skip


def test_hand_computed_example():
    # Five customers; each dimension has five distinct values, so quintiles are 1..5.
    table = rfm_table(
        orders(
            [
                ("a", "2025-01-30", 500, "completed"),  # R: 0 days, F: 5, M: 2500
                ("a", "2025-01-20", 500, "completed"),
                ("a", "2025-01-10", 500, "completed"),
                ("a", "2024-12-30", 500, "completed"),
                ("a", "2024-12-01", 500, "completed"),
                ("b", "2025-01-21", 100, "completed"),  # R: 9, F: 1, M: 100
                ("c", "2024-12-02", 300, "completed"),  # R: 59, F: 4, M: 900
                ("c", "2024-11-02", 300, "completed"),
                ("c", "2024-10-02", 200, "completed"),
                ("c", "2024-09-02", 100, "completed"),
                ("d", "2024-11-02", 40, "completed"),  # R: 89, F: 2, M: 50
                ("d", "2024-08-02", 10, "completed"),
                ("e", "2024-02-01", 1000, "completed"),  # R: 364, F: 3, M: 3000
                ("e", "2024-01-01", 1000, "completed"),
                ("e", "2023-12-01", 1000, "completed"),
                ("e", "2025-01-31", 9999, "cancelled"),  # not counted
                ("b", "2025-02-15", 9999, "completed"),  # after as_of: not counted
            ]
        ),
        AS_OF,
    ).set_index("contact_id")
    # Calendar days to the last day counted: a run dated midnight 31 January counts up to
    # the end of 30 January, so a's order that day is 0 days ago (24 hours rounded down
    # said 1, and 1 microsecond earlier, as_of = 2025-01-30, 0).
    assert table["recency_days"].to_dict() == {"a": 0, "b": 9, "c": 59, "d": 89, "e": 364}
    assert table["frequency"].to_dict() == {"a": 5, "b": 1, "c": 4, "d": 2, "e": 3}
    assert table["monetary"].to_dict() == {"a": 2500, "b": 100, "c": 900, "d": 50, "e": 3000}
    assert table["r_score"].to_dict() == {"a": 5, "b": 4, "c": 3, "d": 2, "e": 1}
    assert table["f_score"].to_dict() == {"a": 5, "b": 1, "c": 4, "d": 2, "e": 3}
    assert table["m_score"].to_dict() == {"a": 4, "b": 2, "c": 3, "d": 1, "e": 5}
    # FM = round-half-up of (F + M) / 2: a 4.5->5, c 3.5->4, d 1.5->2, e 4; b bought once: 1
    assert table["fm_score"].to_dict() == {"a": 5, "b": 1, "c": 4, "d": 2, "e": 4}
    assert table["segment"].to_dict() == {
        "a": "Champions",
        "b": "Promising",
        "c": "Loyal Customers",
        "d": "Hibernating",
        "e": "At Risk",
    }
    assert table.loc["a", "rfm_code"] == 554


def test_ties_share_a_score_whatever_the_row_order():
    values = pd.Series([1, 1, 1, 1, 5, 9])
    # The four 1s share the average rank 2.5 of 6 -> 0.417 -> ceil(2.08) = 3.
    assert quintile_score(values).tolist() == [3, 3, 3, 3, 5, 5]
    assert quintile_score(values[::-1]).sort_index().tolist() == quintile_score(values).tolist()


def test_grid_covers_every_score_pair_once():
    for r in range(1, 6):
        for fm in range(1, 6):
            for new in (False, True):
                for big in (False, True) if fm == 1 else (False,):
                    matches = [
                        s
                        for s in SEGMENTS
                        if s.recency[0] <= r <= s.recency[1]
                        and s.fm[0] <= fm <= s.fm[1]
                        and s.new in (None, new)
                        and s.big_once in (None, big)
                    ]
                    # the split cell: a first order that recent is New (whatever it cost),
                    # the rest Promising or, one big order, Big First Order
                    first = "Big First Order" if big else "Promising"
                    assert len(matches) == 1 or (
                        (r, fm) == (5, 1) and [m.name for m in matches] == ["New Customers", first]
                    ), (r, fm, new, big)
                    assert segment_for(r, fm, new, big) == matches[0]
    with pytest.raises(ValueError, match="scores run from 1 to 5"):
        segment_for(0, 3)


def test_no_counted_orders_gives_empty_table():
    table = rfm_table(orders([("a", "2025-01-01", 5, "refunded")]), AS_OF)
    assert table.empty


def test_segments_track_true_churn_in_the_sample(business):
    table = rfm_table(business.tables["orders"], business.as_of)
    alive = table["contact_id"].map(
        business.truth["customers"].set_index("contact_id")["alive_at_end"]
    )
    rate = alive.groupby(table["segment"]).mean()
    assert rate["Champions"] > 0.8 and rate["At Risk"] < 0.3


def _regulars_and_two_newcomers() -> pd.DataFrame:
    """A shop five months old where most customers buy every few weeks: twelve regulars
    with irregular gaps and baskets, one customer who came back after 86 days with two
    orders in all, one who bought for the first time last week, one quiet since June."""
    rng = np.random.default_rng(7)
    rows = []
    for i in range(12):
        day = pd.Timestamp("2026-06-01") + pd.Timedelta(days=int(rng.integers(0, 20)))
        while day <= pd.Timestamp("2026-10-30"):
            rows.append((f"K{i:03d}", f"{day}", round(float(rng.uniform(30, 160)), 2), "completed"))
            day += pd.Timedelta(days=int(rng.integers(9, 40)), hours=int(rng.integers(0, 24)))
    rows += [
        ("K020", "2026-08-01 13:22", 25.0, "completed"),
        ("K020", "2026-10-26 11:30", 126.3, "completed"),
        ("K030", "2026-10-27 09:10", 18.9, "completed"),
        ("K031", "2026-06-03 10:00", 28.5, "completed"),
        ("K031", "2026-10-29 10:00", 40.0, "refunded"),  # not a sale
    ]
    return orders(rows)


def test_new_customers_first_bought_very_recently_and_others_of_their_cell_are_promising():
    table = rfm_table(_regulars_and_two_newcomers(), pd.Timestamp("2026-10-31", tz="UTC"))
    table = table.set_index("contact_id")
    # Both are recent, rare, small buyers by the grid's ranks: the cell New Customers had.
    assert table.loc["K020", ["r_score", "fm_score"]].tolist() == [5, 1]
    assert table.loc["K030", ["r_score", "fm_score"]].tolist() == [5, 1]
    # K020 first bought 90 days ago: not new, whatever the rank of two orders.
    assert table.at["K020", "segment"] == "Promising"
    assert table.at["K030", "segment"] == "New Customers"
    meanings = {s.name: s for s in SEGMENTS}
    assert "first purchase" not in meanings["New Customers"].action  # some have bought twice
    assert table.at["K031", "segment"] == "Hibernating"


OFTEN = {"Champions", "Loyal Customers", "At Risk", "Can't Lose Them"}  # words say "often"


def _mostly_one_off_buyers() -> pd.DataFrame:
    """A craft shop two years old: 26 people bought once, at irregular times and amounts
    (two of them last week), four came back once or twice."""
    rng = np.random.default_rng(11)
    rows = []
    for i in range(24):
        day = pd.Timestamp("2024-11-01") + pd.Timedelta(days=int(rng.integers(0, 700)))
        rows.append((f"A{i:02d}", f"{day} 14:00", round(float(rng.uniform(15, 180)), 2),
                     "completed"))  # fmt: skip
    rows += [
        ("A90", "2026-10-26 10:00", 160.0, "completed"),  # a big first order last week
        ("A91", "2026-10-29 18:30", 22.5, "completed"),
        ("R1", "2025-03-02", 40.0, "completed"),
        ("R1", "2026-02-11", 55.0, "completed"),
        ("R1", "2026-10-20", 61.0, "completed"),
        ("R2", "2025-12-01", 30.0, "completed"),
        ("R2", "2026-09-14", 35.0, "completed"),
        ("R3", "2024-12-12", 80.0, "completed"),
        ("R3", "2025-06-30", 95.0, "completed"),
        ("R4", "2026-04-04", 18.0, "completed"),
        ("R4", "2026-08-08", 26.0, "completed"),
    ]
    return orders(rows)


def test_one_order_is_never_called_often_and_recent_first_orders_are_new():
    table = rfm_table(_mostly_one_off_buyers(), pd.Timestamp("2026-10-31", tz="UTC"))
    once = table[table["frequency"] == 1].set_index("contact_id")
    assert len(once) == 26
    # 26 of 30 tie at one order: the average rank made them all F 3 ("buy often" in
    # Champions and At Risk); one order is the lowest frequency there is.
    assert (once["f_score"] == 1).all() and (once["fm_score"] == 1).all()
    assert not set(once["segment"]) & OFTEN, once["segment"].value_counts()
    assert once.loc[["A90", "A91"], "segment"].tolist() == ["New Customers"] * 2
    repeat = table[table["frequency"] > 1]
    assert (repeat["f_score"] > 1).all()  # two orders beat one, however the ranks tie


def _shop_with_trade_orders() -> pd.DataFrame:
    """A gift shop: 20 regulars (three orders of about $30 over two years), 20 people who
    bought once for $25 at different times, and four trade buyers who each placed one
    order of $6,000, 12, 92, 203 and 407 days before the end of October 2026."""
    rng = np.random.default_rng(1)
    end = pd.Timestamp("2026-10-24")
    rows = []
    for i in range(20):
        for _ in range(3):
            day = end - pd.Timedelta(days=int(rng.integers(0, 700)))
            rows.append((f"R{i:02d}", f"{day} 11:00", round(float(rng.uniform(25, 35)), 2),
                         "completed"))  # fmt: skip
        rows.append((f"S{i:02d}", f"{end - pd.Timedelta(days=35 * i)} 15:00", 25.0, "completed"))
    for who, ago in (("T012", 12), ("T092", 92), ("T203", 203), ("T407", 407)):
        day = pd.Timestamp("2026-10-31") - pd.Timedelta(days=ago)
        rows.append((who, f"{day} 09:00", 6000.0, "completed"))
    return orders(rows)


def test_a_big_one_time_order_is_named_for_its_money_not_for_little():
    """One order is the lowest frequency, not the lowest spend: the trade buyers' $6,000
    orders were "Promising: Recent shoppers who have not spent much yet", "About to Sleep:
    Below average and fading" and "Hibernating: rarely and for little" (find56_marketer
    item 3). They keep their spend score, and their segment says they spent more than most."""
    table = rfm_table(_shop_with_trade_orders(), pd.Timestamp("2026-10-31", tz="UTC"))
    table = table.set_index("contact_id")
    trade = table.loc[["T012", "T092", "T203", "T407"]]
    assert (trade["f_score"] == 1).all() and (trade["m_score"] == 5).all()
    assert trade["segment"].tolist() == [
        "New Customers",  # bought for the first time very recently: true at any amount
        "Big First Order",
        "Big One-Off Buyers",
        "Big One-Off Buyers",
    ]
    meaning = {s.name: s.meaning for s in SEGMENTS}
    for segment in trade["segment"]:
        words = ("little", "not bought much", "not spent much", "Below average")
        assert not any(w in meaning[segment] for w in words), (segment, meaning[segment])
    # the $25 one-time buyers spent less than most: none is called a big spender
    small = table[table.index.str.startswith("S")]
    assert not set(small["segment"]) & {"Big First Order", "Big One-Off Buyers"}
    assert set(small["segment"]) <= {"New Customers", "Promising", "About to Sleep", "Hibernating"}
    big = table[table["segment"].isin(["Big First Order", "Big One-Off Buyers"])]
    assert (big["frequency"] == 1).all() and (big["monetary"] > table["monetary"].median()).all()


def _subscribers() -> pd.DataFrame:
    """A coffee subscription: ten subscribers billed monthly on their own day (a card that
    fails moves a bill a few days), three who cancelled in spring, and one customer who
    bought monthly until June and has been quiet since."""
    rng = np.random.default_rng(3)
    rows = []
    for i, day in enumerate([2, 5, 7, 9, 12, 15, 18, 21, 24, 28]):
        for month in pd.date_range("2025-11-01", "2026-10-01", freq="MS"):
            bill = month + pd.Timedelta(days=day - 1 + int(rng.integers(0, 3)), hours=6)
            if bill <= pd.Timestamp("2026-10-31"):
                rows.append((f"S{i:02d}", f"{bill}", 24.0 + 6 * (i % 3), "completed"))
    for i, last in enumerate(["2026-03-10", "2026-04-03", "2026-04-20"]):
        for month in pd.date_range("2025-11-01", last, freq="MS"):
            rows.append((f"X{i}", f"{month + pd.Timedelta(days=3 + i)}", 24.0, "completed"))
    for month in pd.date_range("2025-11-01", "2026-06-01", freq="MS"):
        rows.append(("Q", f"{month + pd.Timedelta(days=9)}", 30.0, "completed"))
    return orders(rows)


def test_subscribers_on_schedule_are_not_long_ago_nor_quiet():
    table = rfm_table(_subscribers(), pd.Timestamp("2026-10-31", tz="UTC"))
    table = table.set_index("contact_id")
    active = table[table.index.str.startswith("S")]
    # Everyone bought within a month: by rank alone a subscriber billed 29 days ago was
    # "the oldest fifth", At Risk ("used to buy often, but not for a long time").
    assert active["recency_days"].max() >= 25
    assert (active["r_score"] >= 4).all(), active[["recency_days", "r_score", "segment"]]
    assert set(active["segment"]) <= {"Champions", "Loyal Customers", "Potential Loyalists"}
    # Quiet for four months after buying every month is late by their own measure.
    gone = table.loc[["X0", "X1", "X2", "Q"]]
    assert (gone["r_score"] <= 2).all() and set(gone["segment"]) <= {"At Risk", "Hibernating"}


def test_a_yearly_customer_is_on_schedule_until_half_a_year_late():
    rows = [("Y", f"{year}-11-20", 90.0, "completed") for year in (2022, 2023, 2024)]
    rows += [("Z", f"{year}-05-02", 90.0, "completed") for year in (2022, 2023, 2024)]
    # An irregular buyer (gaps of 40-60 days, once 140) is not gone 120 days after.
    rows += [("J", day, 40.0, "completed") for day in ("2025-01-06", "2025-02-15",
             "2025-04-06", "2025-06-05", "2025-10-23")]  # fmt: skip
    on_time = on_schedule(orders(rows), pd.Timestamp("2025-12-20", tz="UTC"))
    assert on_time["Y"] and not on_time["Z"]  # 395 days against a year; 597 days
    assert on_schedule(orders(rows), pd.Timestamp("2026-02-20", tz="UTC"))["J"]  # 120 days
    assert not on_schedule(orders(rows), pd.Timestamp("2026-03-30", tz="UTC"))["J"]


def test_one_long_break_is_not_a_customers_rhythm():
    """Someone who came back once after a long break is not "recent" for as long as that
    break: a monthly subscriber back after 8 months' pause was Potential Loyalists 234 days
    after cancelling, beside a 92% churn risk."""
    months = [*pd.date_range("2024-06-10", "2024-12-10", freq="MS"),
              *pd.date_range("2025-08-01", "2025-10-01", freq="MS")]  # fmt: skip
    rows = [("P", f"{month + pd.Timedelta(days=9)}", 24.0, "completed") for month in months]
    # Gaps of 22-163 days around a typical 108, then one of 287: 210 days is late.
    rows += [("I", day, 40.0, "completed") for day in ("2024-10-25", "2024-12-17",
             "2025-05-29", "2025-06-20", "2026-04-03")]  # fmt: skip
    # Two orders in a January, back once after 2 years, quiet 2 years since.
    rows += [("G", day, 200.0, "completed") for day in ("2022-01-10", "2022-01-20", "2024-06-01")]
    rows += [(f"C{i}", f"2026-0{1 + i % 5}-1{i}", 30.0 + i, "completed") for i in range(8)]
    assert not on_schedule(orders(rows), pd.Timestamp("2026-06-01", tz="UTC"))[["P", "G"]].any()
    assert on_schedule(orders(rows), pd.Timestamp("2026-09-05", tz="UTC"))["I"]  # 155 days
    assert not on_schedule(orders(rows), pd.Timestamp("2026-10-30", tz="UTC"))["I"]
    table = rfm_table(orders(rows), pd.Timestamp("2026-06-01", tz="UTC")).set_index("contact_id")
    assert (table.loc[["P", "G"], "r_score"] <= 2).all(), table.loc[["P", "G"]]


def test_a_rhythm_rests_on_gaps_that_agree():
    """Two gaps that disagree are no rhythm: the median of two is their mean, and gaps of
    10 and 863 days kept a customer "recent" until about 655 days after their last order."""
    rows = [("T", day, 60.0, "completed") for day in ("2022-01-10", "2022-01-20", "2024-06-01")]
    # One gap (two orders) is no habit yet; three gaps with one long break rest on the two
    # short ones; a regular every-six-weeks customer with two gaps keeps their rhythm.
    rows += [("O", day, 60.0, "completed") for day in ("2022-01-10", "2024-06-01")]
    rows += [("B", day, 60.0, "completed") for day in ("2021-12-01", "2022-01-10",
             "2022-01-20", "2024-06-01")]  # fmt: skip
    rows += [("W", day, 35.0, "completed") for day in ("2025-06-02", "2025-07-14", "2025-08-22")]
    # A monthly subscriber who paused once for two months is on time within that pause.
    months = [m for m in pd.date_range("2024-09-01", "2025-08-01", freq="MS") if m.month != 3]
    rows += [("S", f"{month + pd.Timedelta(days=4)}", 24.0, "completed") for month in months]
    rows += [(f"C{i}", f"2025-0{1 + i % 8}-1{i}", 30.0 + i, "completed") for i in range(8)]
    later = on_schedule(orders(rows), pd.Timestamp("2026-01-22", tz="UTC"))  # 600 days
    assert not later[["T", "O", "B"]].any(), later
    soon = on_schedule(orders(rows), pd.Timestamp("2024-07-15", tz="UTC"))  # 44 days
    assert soon["B"] and not soon["T"]  # B's gaps of 40 and 10 days agree: to 75 days
    assert not on_schedule(orders(rows), pd.Timestamp("2024-09-10", tz="UTC"))["B"]
    assert on_schedule(orders(rows), pd.Timestamp("2025-10-20", tz="UTC"))["W"]  # 59 days
    assert not on_schedule(orders(rows), pd.Timestamp("2025-11-10", tz="UTC"))["W"]
    assert on_schedule(orders(rows), pd.Timestamp("2025-10-01", tz="UTC"))["S"]  # 57 days
    assert not on_schedule(orders(rows), pd.Timestamp("2025-10-20", tz="UTC"))["S"]
    table = rfm_table(orders(rows), pd.Timestamp("2026-01-22", tz="UTC")).set_index("contact_id")
    assert table.at["T", "r_score"] <= 2, table.loc["T"]


def test_spent_more_than_most_is_measured_among_customers_whose_spend_is_known():
    """rv56 item 2: ten buyers who paid only in another currency (spend unknown) counted
    as 0 in the median, so a one-time buyer of $50, beside six known buyers who also spent
    $50, was "Big One-Off Buyers: spent more than most customers"."""
    rows = [("k0", "2025-01-20", 10.0)]
    rows += [(f"k{i}", f"2024-05-2{i}", 50.0) for i in range(1, 5)]
    rows += [(f"r{i}", f"2024-0{m}-1{i}", 5.0) for i in range(3) for m in range(1, 10)]
    rows += [(f"r{i}", "2024-10-01", 5.0) for i in range(3)]  # 50 each, 10 orders
    rows += [(f"u{i}", f"2025-01-1{i}", np.nan) for i in range(10)]  # spend unknown
    orders = pd.DataFrame(
        [
            {"order_id": f"o{n}", "contact_id": c, "ordered_at": pd.Timestamp(d, tz="UTC"),
             "total": t, "status": "completed"}
            for n, (c, d, t) in enumerate(rows)
        ]
    )  # fmt: skip
    table = rfm_table(orders, pd.Timestamp("2025-01-31", tz="UTC")).set_index("contact_id")
    known = table["monetary"].dropna()
    assert known.median() == 50.0
    big = table[table["segment"].isin(["Big First Order", "Big One-Off Buyers"])]
    assert (big["monetary"] > known.median()).all(), big[["monetary", "segment"]]
    assert not set(table.loc[["k1", "k2", "k3", "k4"], "segment"]) & {
        "Big First Order",
        "Big One-Off Buyers",
    }
