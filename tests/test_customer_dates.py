"""A CRM of contacts alone dates its customers itself: HubSpot's "Became a Customer Date"
(``hs_lifecyclestage_customer_date``) and Salesforce's "Converted Date" give when each
became one, so a marketer with no orders and no deals gets lead scores. Without a date
the skip line counts past leads, not the snapshots the model takes of them, and says
why the customers were left out (find52_crm item 2)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from audit import Outputs, _tab_frame, run_config
from hubspot_runs import hubspot_run

from smbml_connect.analytics.leads.contact_features import conversion_times
from smbml_connect.headers import map_headers
from smbml_connect.pipeline import RunOptions
from smbml_connect.store import Store
from smbml_connect.testing.clock import FakeClock
from smbml_connect.testing.hubspot_emulator import HubSpotEmulator

AS_OF = pd.Timestamp("2026-06-30")
# Original Source as HubSpot's export words it, with the share of its leads that became
# customers: referrals convert often, social media rarely.
SOURCES = {"Referrals": 0.6, "Organic Search": 0.25, "Paid Search": 0.2, "Social Media": 0.05}
EXPORT = "hubspot-crm-exports-all-contacts-2026-06-30.csv"


def _contacts(rng: np.random.Generator) -> pd.DataFrame:
    """A HubSpot contacts export of 260 people over two years: customers with the date they
    became one, leads at other stages, a customer the portal never dated (made a customer
    by hand before the property existed) and a contact typed in with no create date."""
    rows = []
    for n in range(260):
        source = str(rng.choice(list(SOURCES), p=[0.2, 0.35, 0.25, 0.2]))
        created = AS_OF - pd.Timedelta(days=float(rng.uniform(3, 700)))
        became = created + pd.Timedelta(days=float(rng.gamma(2.0, 15.0)))
        customer = rng.random() < SOURCES[source] and became < AS_OF
        stage = (
            "Customer"
            if customer
            else str(rng.choice(["Lead", "Subscriber", "Marketing Qualified Lead"]))
        )
        rows.append(
            {
                "Record ID": 51000 + 7 * n,
                "First Name": f"Name{n}",
                "Last Name": "Smith" if n % 3 else "Jones",
                "Email": f"person{n}@example.test",
                "Lifecycle Stage": stage,
                "Original Source": source,
                "Create Date": f"{created:%Y-%m-%d %H:%M}",
                "Became a Customer Date": f"{became:%Y-%m-%d %H:%M}" if customer else "",
                "Marketing contact status": "Marketing contact",
            }
        )
    frame = pd.DataFrame(rows)
    customers = frame.index[frame["Lifecycle Stage"] == "Customer"]
    frame.loc[customers[3], "Became a Customer Date"] = ""  # a customer with no date
    frame.loc[17, "Create Date"] = ""
    return frame


def _write(folder: Path, contacts: pd.DataFrame) -> Path:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    contacts.to_csv(folder / "data" / EXPORT, index=False)
    config = folder / "smbml.toml"
    config.write_text(
        'store = "store.sqlite"\n[source]\nkind = "files"\npath = "data"\n\n'
        f'[analytics]\nenabled = ["lead_scores"]\nas_of = "{AS_OF:%Y-%m-%d}"\n\n'
        '[[destinations]]\nkind = "workbook"\npath = "results.xlsx"\n\n'
        '[[destinations]]\nkind = "report"\npath = "report.html"\n'
    )
    return config


@pytest.fixture(scope="module")
def export() -> pd.DataFrame:
    return _contacts(np.random.default_rng(52))


@pytest.fixture(scope="module")
def dated(export: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Outputs:
    folder = tmp_path_factory.mktemp("hubspot-contacts")
    return run_config(_write(folder, export), "hubspot contacts export")


def test_a_contacts_export_dates_its_customers_and_gets_lead_scores(
    dated: Outputs, export: pd.DataFrame
):
    """Only a HubSpot contacts export: 'got 0 with converted yes', though a fifth were
    customers with the date each became one."""
    assert not [s for s in dated.result.skipped if s.startswith("Lead scores")]
    leads = _tab_frame(dated.workbook["Lead scores"])
    assert leads is not None
    # every customer, dated or not, is done: the tab holds the open leads alone
    customers = export.loc[export["Lifecycle Stage"] == "Customer", "Record ID"].astype(str)
    assert not set(leads["contact_id"].astype(str)) & set(customers)
    assert len(leads) == len(export) - len(customers)
    # the customers taught the model: the source that converts most scores highest
    by_source = leads.groupby("lead_source")["score"].mean()
    assert by_source.idxmax() == "Referrals" and by_source.idxmin() == "Social Media"
    # the date is the answer, never a feature; the undated customer is said to be left out
    model = _tab_frame(dated.workbook["Lead model"])
    assert model is not None
    items = " ".join(model["item"].astype(str))
    assert "onverted" not in items
    notes = model.loc[model["item"] == "Note", "value"].astype(str).tolist()
    assert any(n.startswith("1 customer has no order, won deal or date of becoming") for n in notes)


def test_without_the_date_the_skip_line_counts_past_leads_and_says_why(
    export: pd.DataFrame, tmp_path: Path
):
    """'got 0 with 'converted' yes and 8566 with no': 8,566 snapshots of 1,248 leads, and
    nothing said that the customers were left out for want of a date."""
    undated = export.drop(columns=["Became a Customer Date"])
    out = run_config(_write(tmp_path, undated), "no customer dates")
    skipped = next(s for s in out.result.skipped if s.startswith("Lead scores"))
    created = pd.to_datetime(undated["Create Date"])
    customers = undated["Lifecycle Stage"] == "Customer"
    past = int((created.notna() & (created <= AS_OF - pd.Timedelta(days=90)) & ~customers).sum())
    assert (
        f"of the {past:,} past leads (contacts created more than 90 days ago that were not "
        f"yet customers when created), 0 became customers within 90 days of a moment "
        f"looked at and {past:,} did not; {int(customers.sum())} customers have no order, "
        "won deal or date of becoming a customer (a column such as 'Became a Customer "
        "Date' or 'Converted Date') to date their conversion, and were left out"
    ) in skipped
    assert "rows of each outcome" not in skipped


def test_salesforce_converted_date_and_the_hubspot_property_name_the_column():
    """A Salesforce leads report's "Converted Date" and HubSpot's property as a sheet
    names it map onto the conversion date; HubSpot's form "conversion" dates do not."""
    headers = ["Lead ID", "Converted Date", "First Conversion Date", "Recent Conversion Date"]
    assert map_headers("contacts", headers).columns.get("Converted Date") == "converted_at"
    assert "First Conversion Date" not in map_headers("contacts", headers).columns
    said = map_headers("contacts", ["vid", "hs_lifecyclestage_customer_date"]).columns
    assert said["hs_lifecyclestage_customer_date"] == "converted_at"


def test_the_first_of_an_order_a_won_deal_and_the_crm_date_dates_a_customer():
    """An order before the CRM's date dates the conversion; the date alone dates one with
    no order or deal; a customer with none of them is undated."""
    when = pd.Timestamp
    contacts = pd.DataFrame(
        {
            "contact_id": ["a", "b", "c", "d"],
            "lifecycle_stage": ["customer", "customer", "customer", "lead"],
            "converted_at": [
                when("2026-03-10", tz="UTC"),
                when("2026-02-01", tz="UTC"),
                pd.NaT,
                pd.NaT,
            ],
        }
    )
    orders = pd.DataFrame(
        {"contact_id": ["a"], "ordered_at": [when("2026-03-02", tz="UTC")], "total": [40.0],
         "status": ["paid"]}
    )  # fmt: skip
    deals = pd.DataFrame(columns=["contact_id", "is_won", "closed_at", "close_date"])
    first, undated = conversion_times({"contacts": contacts, "orders": orders, "deals": deals})
    assert first.to_dict() == {"a": when("2026-03-02", tz="UTC"), "b": when("2026-02-01", tz="UTC")}
    assert undated == {"c"}
    # the CRM's date says "customer", not "ordered": the order label does not read it
    assert set(
        conversion_times({"contacts": contacts, "orders": orders, "deals": deals}, "order")[0].index
    ) == {"a"}


def test_the_hubspot_connector_reads_the_customer_date(store: Store):
    """The API source asks for hs_lifecyclestage_customer_date beside the lifecycle stage."""
    with HubSpotEmulator(clock=FakeClock()) as hub:
        became = hub.state.add(
            "contacts",
            {"email": "won@example.test", "lifecyclestage": "customer",
             "hs_lifecyclestage_customer_date": "2026-04-03T10:15:00.000Z"},
        ).id  # fmt: skip
        lead = hub.state.add("contacts", {"email": "new@example.test", "lifecyclestage": "lead"}).id
        hubspot_run(hub, store, datetime(2026, 6, 30, tzinfo=UTC), RunOptions(steps=[]))
    contacts = store.read("contacts").set_index("contact_id")
    assert pd.Timestamp(contacts.loc[became, "converted_at"]) == pd.Timestamp(
        "2026-04-03 10:15", tz="UTC"
    )
    assert pd.isna(contacts.loc[lead, "converted_at"])
