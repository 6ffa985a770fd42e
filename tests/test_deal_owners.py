"""A deal's reasons are true of the deal: one without an owner has no owner's record (the
owner-less deals were lumped as one owner, "Owner closed 646 deals before"), an owner's
win rate reads in % ("Owner wins 0.39 of deals"), and a deal is overdue once its close
day has passed, not its close month (find52_crm items 3 and 4)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from smbml_connect.analytics.leads.deals import (
    DEAL_PHRASES,
    NO_CLOSE_DATE,
    DealWinModel,
    deal_snapshot,
)

AS_OF = pd.Timestamp("2026-06-30", tz="UTC")
# Reps and how often each wins; "" is a deal nobody was given (a CRM's blank owner).
REPS = {"Ann Rep": 0.55, "Bob Rep": 0.3, "Cleo Rep": 0.4, "": 0.35}
# The open deals: (id, close date); the run's day is 30 June.
OPEN = [
    ("O1", "2026-06-12"),  # due earlier this month: overdue
    ("O2", "2026-06-30"),  # due today: not yet
    ("O3", "2026-05-31"),  # due last month: overdue
    ("O4", "2026-07-01"),
    ("O5", None),  # no close date: not overdue, due in no month
    ("O6", "2026-06-29 23:30"),  # yesterday evening
]


def _crm(rng: np.random.Generator, owners: bool = True) -> dict[str, pd.DataFrame]:
    """A small sales team's CRM: 90 contacts from a few sources, 160 closed deals over a
    year and a half (a fifth of them with no owner), the open deals above."""
    contacts = pd.DataFrame(
        {
            "contact_id": [f"C{i}" for i in range(90)],
            "lead_source": rng.choice(["referral", "organic_search", "social"], size=90),
        }
    )
    rows = []
    for n in range(160):
        owner = str(rng.choice(list(REPS), p=[0.3, 0.3, 0.2, 0.2]))
        opened = pd.Timestamp("2025-01-05", tz="UTC") + pd.Timedelta(days=int(rng.integers(0, 500)))
        shut = opened + pd.Timedelta(days=int(rng.integers(3, 80)))
        won = bool(rng.random() < REPS[owner])
        rows.append(
            {"deal_id": f"D{n}", "amount": float(rng.choice([800, 1500, 4000, 9000])),
             "pipeline": "default", "stage": "closedwon" if won else "closedlost",
             "is_closed": True, "is_won": won, "created_at": opened, "closed_at": shut,
             "close_date": shut, "owner_id": owner or None, "contact_id": f"C{n % 90}"}
        )  # fmt: skip
    for n, (deal, close) in enumerate(OPEN):
        rows.append(
            {"deal_id": deal, "amount": 2000.0 + 500 * n, "pipeline": "default",
             "stage": "appointmentscheduled", "is_closed": False, "is_won": False,
             "created_at": AS_OF - pd.Timedelta(days=10 + 3 * n),
             "closed_at": pd.NaT, "close_date": pd.Timestamp(close, tz="UTC") if close else pd.NaT,
             "owner_id": ["Ann Rep", None, "Bob Rep", " ", "Cleo Rep", "Ann Rep"][n],
             "contact_id": f"C{n}"}
        )  # fmt: skip
    deals = pd.DataFrame(rows).assign(name=lambda f: "Deal " + f["deal_id"], currency=None)
    deals = deals[deals["closed_at"].isna() | (deals["closed_at"] <= AS_OF)]
    if not owners:
        deals["owner_id"] = None
    return {
        "contacts": contacts,
        "deals": deals.reset_index(drop=True),
        "associations": pd.DataFrame(columns=["from_type", "from_id", "to_type", "to_id"]),
        "activities": pd.DataFrame(columns=["contact_id", "occurred_at", "kind"]),
    }


def test_a_deal_without_an_owner_has_no_owners_record():
    """Owner-less deals are nobody's record: not one owner '(none)' with the team's deals."""
    tables = _crm(np.random.default_rng(3))
    rows = pd.DataFrame({"deal_id": [d for d, _ in OPEN], "snapshot_at": AS_OF})
    features = deal_snapshot(tables, rows).set_index(rows["deal_id"])
    deals = tables["deals"]
    closed = deals[deals["is_closed"]]
    for deal, owner in (("O1", "Ann Rep"), ("O3", "Bob Rep"), ("O5", "Cleo Rep")):
        assert features.loc[deal, "owner_closed_deals"] == (closed["owner_id"] == owner).sum()
    # no owner, or a blank one: unknown, not the 30-odd deals nobody owned
    assert features.loc[["O2", "O4"], ["owner_win_rate", "owner_closed_deals"]].isna().all().all()


def test_with_no_owners_at_all_no_deal_names_an_owner():
    """A file without an owner column read 'Owner closed 646 deals before' on every deal:
    the team's count, which grows with time, learnt as if it were a rep's record."""
    tables = _crm(np.random.default_rng(4), owners=False)
    model = DealWinModel().fit(tables, AS_OF)
    names = {f["name"] for f in model.card_["features"]}
    assert not names & {"owner_win_rate", "owner_closed_deals"}
    scored = model.predict(tables, AS_OF)
    assert not any("Owner" in r for reasons in scored["reasons"] for r in reasons)


def test_an_owners_win_rate_reads_in_percent():
    phrase = DEAL_PHRASES["owner_win_rate"]
    assert phrase.render("number", 0.386) == "Owner wins 39% of deals"
    assert phrase.render("number", float("nan")) == "No owner named"
    tables = _crm(np.random.default_rng(5))
    scored = DealWinModel().fit(tables, AS_OF).predict(tables, AS_OF)
    said = [r for reasons in scored["reasons"] for r in reasons if r.startswith("Owner wins")]
    assert all(re.match(r"Owner wins \d{1,3}% of deals \(", r) for r in said), said


def test_overdue_is_a_close_day_gone_by_and_the_months_stay():
    """'Overdue: No' on the 30th for a deal due on the 12th: months were compared."""
    tables = _crm(np.random.default_rng(6))
    scored = DealWinModel().fit(tables, AS_OF).predict(tables, AS_OF).set_index("deal_id")
    assert scored["overdue"].to_dict() == {
        "O1": True, "O2": False, "O3": True, "O4": False, "O5": False, "O6": True
    }  # fmt: skip
    # the pipeline's months are as before: a month gone by counts in this one
    assert scored["close_month"].to_dict() == {
        "O1": "2026-06", "O2": "2026-06", "O3": "2026-06", "O4": "2026-07",
        "O5": NO_CLOSE_DATE, "O6": "2026-06",
    }  # fmt: skip


def test_overdue_is_the_business_day_not_utcs():
    """A deal due on 30 June in New York is not overdue on the evening of the 30th there,
    though UTC's day has turned."""
    tables = _crm(np.random.default_rng(7))
    evening = pd.Timestamp("2026-06-30 21:00", tz="America/New_York")
    deals = tables["deals"]
    deals.loc[deals["deal_id"] == "O2", "close_date"] = pd.Timestamp(
        "2026-06-30 09:00", tz="America/New_York"
    )
    scored = DealWinModel().fit(tables, evening).predict(tables, evening).set_index("deal_id")
    assert not scored.loc["O2", "overdue"] and scored.loc["O1", "overdue"]


def test_a_deal_with_no_owner_says_so_once():
    """Both owner columns are unknown for one fact: it takes one of the three reasons."""
    for seed in (5, 9):
        tables = _crm(np.random.default_rng(seed))
        scored = DealWinModel().fit(tables, AS_OF).predict(tables, AS_OF).set_index("deal_id")
        for deal in ("O2", "O4"):
            reasons = scored.loc[deal, "reasons"]
            assert not any(r.startswith("Owner's past deals unknown") for r in reasons), reasons
            assert not any(r.startswith(("Owner wins", "Owner closed")) for r in reasons)
        assert scored["reasons"].map(len).between(1, 3).all()
    assert "No owner named (lowers the chance)" in scored.loc["O2", "reasons"]
