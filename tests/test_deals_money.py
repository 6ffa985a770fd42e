"""The pipeline's money as a small shop's own files give it: deals in another currency than
the shop's are scored but not summed into its totals, and a deal with no close date is
neither overdue nor due this month (find51_figures items 3 and 8)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from audit import Outputs, _tab_frame, audit, run_config

from smbml_connect.analytics.leads.deals import NO_CLOSE_DATE, in_currency, pipeline_forecast
from smbml_connect.money_words import money_text

AS_OF = pd.Timestamp("2026-10-31")
# The open deals of the shop: (name, amount, currency as typed, close date). A euro shop
# with a US customer or two, a quote in pounds, a rep who left the close date blank.
OPEN_DEALS = [
    ("Cafe fit-out", 1200.0, "EUR", "2026-11-14"),
    ("Bakery refill", 800.0, "", "2026-12-03"),  # no currency: the shop's own
    ("Boston roastery", 5000.0, " usd", "2026-11-20"),  # as a person types it
    ("NYC office coffee", 2500.0, "USD", "2026-12-10"),
    ("London hotel", 900.0, "GBP", ""),
    ("Hotel chain trial", 1500.0, "EUR", ""),
    ("Kiosk grinder", 650.0, "EUR", "2026-09-12"),  # overdue
    ("Office espresso", 700.0, "EUR", "2026-10-20"),  # overdue: its day, not month, passed
    ("Market stall", None, "EUR", "2026-11-02"),  # no amount yet
]


def _write_shop(folder: Path) -> Path:
    """24 contacts, about 60 orders in EUR, 45 closed deals and the open ones above, as CSV
    files with an export's headers; returns the config's path."""
    rng = np.random.default_rng(11)
    folder.mkdir(parents=True, exist_ok=True)
    ids = [f"C{i:03d}" for i in range(1, 25)]
    created = [
        f"{pd.Timestamp('2026-01-03') + pd.Timedelta(days=int(d)):%Y-%m-%d}"
        for d in sorted(rng.integers(0, 150, size=24))
    ]
    created[5] = created[17] = ""  # two contacts typed in without a date
    created[20:24] = ["2026-09-02", "2026-09-18", "2026-10-05", "2026-10-27"]  # new leads
    pd.DataFrame(
        {
            "Contact ID": ids,
            "Email": [f"c{i}@example.test" for i in range(1, 25)],
            "First Name": [f"Name{i}" for i in range(1, 25)],
            "Created": created,
        }
    ).to_csv(folder / "contacts.csv", index=False)
    orders = []
    for n in range(60):
        who = ids[int(rng.integers(0, 24))]
        day = pd.Timestamp("2026-01-10") + pd.Timedelta(days=int(rng.integers(0, 290)))
        total = round(float(rng.gamma(2.0, 40.0)) + 5, 2)
        orders.append((f"S{n + 1:04d}", who, f"{day:%Y-%m-%d} 11:{n % 60:02d}", total, "EUR"))
    # Three customers who bought before the CRM had them (imported later)
    for n, who in enumerate(("C002", "C009", "C013")):
        orders.append((f"S9{n:03d}", who, "2026-01-02 09:30", 49.9, "EUR"))
    pd.DataFrame(
        orders, columns=["Order ID", "Customer ID", "Order Date", "Total", "Currency"]
    ).to_csv(folder / "orders.csv", index=False)
    deals = []
    for n in range(45):
        opened = pd.Timestamp("2026-01-15") + pd.Timedelta(days=int(rng.integers(0, 230)))
        shut = opened + pd.Timedelta(days=int(rng.integers(4, 45)))
        won = bool(rng.random() < 0.45)
        deals.append(
            (f"D{n + 1:03d}", f"Deal {n + 1}", float(rng.choice([450, 900, 1250.5, 2100])),
             "EUR", "Closed Won" if won else "Closed Lost", "true", str(won).lower(),
             f"{opened:%Y-%m-%d}", f"{shut:%Y-%m-%d}", f"{shut:%Y-%m-%d}",
             f"O{n % 3 + 1}", ids[int(rng.integers(0, 20))])
        )  # fmt: skip
    for n, (name, amount, currency, close) in enumerate(OPEN_DEALS):
        deals.append(
            (f"D{100 + n}", name, amount, currency, "Appointment Scheduled", "false", "false",
             "2026-10-01", close, "", f"O{n % 3 + 1}", ids[n])
        )  # fmt: skip
    pd.DataFrame(
        deals,
        columns=["Deal ID", "Deal Name", "Amount", "Deal Currency Code", "Deal Stage",
                 "Is Closed", "Is Won", "Create Date", "Close Date", "Closed At",
                 "Deal Owner", "Contact ID"],
    ).to_csv(folder / "deals.csv", index=False)  # fmt: skip
    config = folder / "smbml.toml"
    config.write_text(
        'store = "shop.sqlite"\n[source]\nkind = "files"\npath = "."\n\n'
        f'[analytics]\nas_of = "{AS_OF:%Y-%m-%d}"\n\n'
        '[[destinations]]\nkind = "workbook"\npath = "results.xlsx"\n\n'
        '[[destinations]]\nkind = "report"\npath = "report.html"\n'
    )
    return config


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("euro-shop")
    _write_shop(folder)
    return folder


@pytest.fixture(scope="module")
def shop(folder: Path) -> Outputs:
    return run_config(folder / "smbml.toml", "euro shop")


def _tab(out: Outputs, title: str) -> pd.DataFrame:
    frame = _tab_frame(out.workbook[title])
    assert frame is not None
    return frame


def _summary(out: Outputs) -> str:
    return " ".join(out.result.steps["deal_win"].summary)


def _euros(text: str) -> float:
    return float(text.replace(",", ""))


def test_a_deal_in_another_currency_is_scored_but_not_summed(shop: Outputs):
    """A USD 3,000 deal was added as €3,000 to a pipeline shown in euros."""
    assert shop.result.currency == "EUR"
    deals = _tab(shop, "Deal win chances").set_index("name")
    assert len(deals) == len(OPEN_DEALS)
    typed = {name: currency for name, _, currency, _ in OPEN_DEALS}
    # each deal shows its currency; one that names none is in the shop's
    expected_codes = {n: (c.strip().upper() or "EUR") for n, c in typed.items()}
    assert deals["currency"].to_dict() == expected_codes
    assert deals["win_chance"].notna().all()  # every deal is still scored
    ours = deals[deals["currency"] == "EUR"]
    months = _tab(shop, "Pipeline forecast")
    priced = ours[ours["amount"].notna()]
    assert months["pipeline_amount"].sum() == pytest.approx(priced["amount"].sum())
    assert months["expected"].sum() == pytest.approx(priced["expected_value"].sum(), abs=0.005)
    said = re.search(r"€([\d,]+) expected to be won", _summary(shop))
    assert said and _euros(said[1]) == round(priced["expected_value"].sum())
    others = deals[deals["currency"] != "EUR"]
    assert "(3 deals in GBP and USD left out: no exchange rate)" in _summary(shop)
    usd = others.loc[others["currency"] == "USD", "amount"].sum()
    gbp = others.loc[others["currency"] == "GBP", "amount"].sum()
    words = (
        f"3 open deals in other currencies (1 in GBP, £{gbp:,.0f}; 2 in USD, ${usd:,.0f}) are "
        "left out of the EUR totals and the Pipeline forecast"
    )
    assert words in shop.report_text
    assert words in shop.workbook["Pipeline forecast"][0][0]
    total = re.search(r"the (\d+) in EUR are worth €([\d,]+) in total", shop.report_text)
    assert total and int(total[1]) == len(ours)
    assert _euros(total[2]) == round(priced["amount"].sum())
    # the report's table of deals shows the currency beside the amount
    table = next(t for t in shop.report_tables if "win_chance" in t.columns)
    assert set(table["currency"]) <= {"EUR", "USD", "GBP"} and "USD" in set(table["currency"])


def test_a_deals_worth_carries_its_currency(shop: Outputs):
    """ "Worth 2,500" read the same for a dollar deal as for the euro ones beside it."""
    deals = _tab(shop, "Deal win chances").set_index("name")
    worth = {
        name: re.search(r"Worth ([^;(]+?)(?: \(|;|$)", str(row["why"]))
        for name, row in deals.iterrows()
    }
    said = {name: m[1] for name, m in worth.items() if m and pd.notna(deals.loc[name, "amount"])}
    assert said, "no deal's reasons name its amount"
    for name, text in said.items():
        amount, code = deals.loc[name, "amount"], deals.loc[name, "currency"]
        assert text == money_text(float(amount), code), (name, text)
    assert {deals.loc[n, "currency"] for n in said} >= {"EUR", "USD"}


def test_a_deal_with_no_close_date_is_not_overdue_nor_due_this_month(shop: Outputs):
    """A deal with no close date was "Overdue: Yes" and counted in October with the late one."""
    deals = _tab(shop, "Deal win chances").set_index("name")
    undated = deals.loc["Hotel chain trial"]
    assert undated["close_date"] == NO_CLOSE_DATE and undated["overdue"] == "No"
    assert deals.loc["Kiosk grinder", "overdue"] == "Yes"
    assert deals.loc["Office espresso", "overdue"] == "Yes"  # "No" when months were compared
    months = _tab(shop, "Pipeline forecast")
    labels = [m if m == NO_CLOSE_DATE else f"{m:%Y-%m}" for m in months["month"]]
    assert labels == ["2026-10", "2026-11", "2026-12", NO_CLOSE_DATE]
    rows = months.assign(month=labels).set_index("month")
    # October holds the overdue deals, of September and of the 20th; the undated euro
    # deal has its own row, the undated pound deal none (not summed)
    assert rows.loc["2026-10", "deals"] == 2
    late = deals.loc[["Kiosk grinder", "Office espresso"], "expected_value"].sum()
    assert rows.loc["2026-10", "expected"] == pytest.approx(late, abs=0.005)
    assert rows.loc[NO_CLOSE_DATE, "deals"] == 1
    assert rows.loc[NO_CLOSE_DATE, "expected"] == undated["expected_value"]
    # the pipeline total is the months' rows plus that row, as the summary says
    said = re.search(r"€([\d,]+) expected to be won", _summary(shop))
    assert said and _euros(said[1]) == round(rows["expected"].sum())
    # the store's series is by month: the undated row is not a month there
    stored = shop.store["forecasts"]
    stored = stored[stored["series_id"] == "deal_pipeline"]
    assert len(stored) == 3
    assert stored["yhat"].sum() + rows.loc[NO_CLOSE_DATE, "expected"] == pytest.approx(
        rows["expected"].sum()
    )
    assert "with no close date, which no month of the chart holds" in shop.report_text


def test_the_audit_holds_and_looks_at_the_new_invariants(shop: Outputs):
    tally = audit(shop)
    assert tally.problems == [], "\n".join(tally.problems[:20])  # in euros too
    assert tally.checked["each deal shows its currency"] == len(OPEN_DEALS)
    assert tally.checked["a deal with no close date says so, not overdue"] == 2
    assert tally.checked["overdue is a close date before the run's day"] == len(OPEN_DEALS) - 2


def test_the_audit_sees_a_foreign_deal_summed_and_an_undated_one_overdue(shop: Outputs):
    """Plant the defects in real outputs (a foreign deal summed, an undated deal overdue, a
    deal due on the 20th not overdue on the 31st): the audit must report each."""
    rows = [list(r) for r in shop.workbook["Deal win chances"]]
    header = next(i for i, r in enumerate(rows) if "Currency" in r)
    currency, overdue = rows[header].index("Currency"), rows[header].index("Overdue")
    for row in rows[header + 1 :]:
        if row[currency] == "USD":
            row[currency] = "EUR"  # as if converted at 1:1, as before
        if row[rows[header].index("Close date")] == NO_CLOSE_DATE:
            row[overdue] = "Yes"
        if row[rows[header].index("Name")] == "Office espresso":
            row[overdue] = "No"  # as when months were compared
    planted = Outputs(**{**shop.__dict__, "workbook": {**shop.workbook, "Deal win chances": rows}})
    problems = audit(planted).problems
    assert any("its deals add to" in p for p in problems)
    assert any("close date 'No close date', overdue 'Yes'" in p for p in problems)
    assert any("close date 2026-10-20, overdue 'No' on 2026-10-31" in p for p in problems)


def test_pipeline_forecast_sums_one_currency_and_puts_undated_deals_last():
    scored = pd.DataFrame(
        {
            "amount": [1000.0, 400.0, 3000.0, 250.0, 600.0],
            "probability": [0.5, 0.25, 0.5, 0.8, 0.1],
            "currency": ["EUR", None, "USD", "eur", "EUR"],
            "close_month": ["2026-11", NO_CLOSE_DATE, "2026-11", "2026-10", NO_CLOSE_DATE],
        }
    )
    forecast = pipeline_forecast(scored, draws=500, currency="EUR")
    assert forecast["month"].tolist() == ["2026-10", "2026-11", NO_CLOSE_DATE]
    assert forecast["pipeline_amount"].tolist() == [250.0, 1000.0, 1000.0]
    assert forecast["expected"].tolist() == [200.0, 500.0, 160.0]
    assert in_currency(scored["currency"], " eur").tolist() == [True, True, False, True, True]


# -- the lead step's skip, on the same shop (find51_figures item 10: a shop whose 45
# contacts were all created over 90 days ago was told it had found 33) ------------------
def test_too_few_past_leads_says_what_was_counted(shop: Outputs, folder: Path):
    """A shop whose contacts were all created long ago was told 'found 33' contacts created
    more than 90 days ago: what was counted was past leads, not yet customers when created."""
    skipped = next(s for s in shop.result.skipped if s.startswith("Lead scores"))
    contacts = pd.read_csv(folder / "contacts.csv")
    created = pd.to_datetime(contacts["Created"])
    orders = pd.read_csv(folder / "orders.csv")
    deals = pd.read_csv(folder / "deals.csv")
    won = deals[deals["Is Won"].astype(str).str.lower() == "true"]
    first = (
        pd.concat(
            [
                pd.Series(
                    pd.to_datetime(orders["Order Date"]).to_numpy(), index=orders["Customer ID"]
                ),
                pd.Series(pd.to_datetime(won["Closed At"]).to_numpy(), index=won["Contact ID"]),
            ]
        )
        .groupby(level=0)
        .min()
    )
    first = contacts["Contact ID"].map(first)
    no_date = created.isna()
    recent = created > AS_OF - pd.Timedelta(days=90)
    before = ~no_date & ~recent & (first <= created)
    found = len(contacts) - int(no_date.sum() + recent.sum() + before.sum())
    assert before.sum() >= 3 and recent.sum() == 4 and no_date.sum() == 2
    assert (
        "lead scores need at least 50 past leads to learn from (contacts created more than 90 "
        "days ago that were not yet customers when created); "
        f"found {found} among {len(contacts)} contacts; of the other {len(contacts) - found}, "
        f"{before.sum()} were already customers when created (their first order, won deal or "
        "customer date "
        "came no later than their created date); "
        "4 were created in the last 90 days, too recently to see what came of them; "
        "2 have no created date"
    ) in skipped
