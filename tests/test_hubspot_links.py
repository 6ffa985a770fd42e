"""Records HubSpot links to several others: a deal's contacts, a contact's companies.

A B2B deal has several contacts (a buyer, a decision maker); each is the business's
customer once the deal is won. A contact may work for several companies, one of them its
primary (HubSpot lists that link twice inline, ``contact_to_company`` beside
``contact_to_company_unlabeled``, and gives it v4 type 1 beside 279).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
import urllib3
from hubspot import HubSpot
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest
from hubspot_runs import settled

from smbml_connect.analytics.leads.contact_features import lead_scoring_frame
from smbml_connect.connectors.hubspot.http import HubSpotApi, Limits
from smbml_connect.connectors.hubspot.source import HubSpotSource
from smbml_connect.credentials import Secret
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.schema import TABLES
from smbml_connect.store import Store
from smbml_connect.testing.clock import FakeClock
from smbml_connect.testing.hubspot_emulator import TEST_TOKEN, HubSpotEmulator
from smbml_connect.testing.hubspot_state import CrmState, property_shape


def _sync(hub: HubSpotEmulator, store: Store, **source_args: Any) -> Any:
    limits = dataclasses.replace(Limits(read_timeout=2.0))
    hub.clock.advance(limits.window_seconds)
    api = HubSpotApi(
        Secret(TEST_TOKEN), host=hub.url, limits=limits, client_side_validation=True,
        clock=hub.clock,
    )  # fmt: skip
    source = HubSpotSource(api, started=settled(), **source_args)
    result = run_pipeline(source, store, RunOptions(steps=[]))
    assert result.status == "ok", result.errors
    return result


def _links(store: Store, from_type: str, from_id: str) -> list[str]:
    rows = store.read("associations")
    mine = rows[rows["from_type"].eq(from_type) & rows["from_id"].eq(from_id)]
    return sorted(mine["to_id"])


@pytest.fixture
def portal() -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(clock=FakeClock()) as emulator:
        yield emulator


def _companies(state: CrmState) -> tuple[str, str, str]:
    """A contact linked to two companies, the second made its primary."""
    contact = state.add("contacts", {"email": "ann@acme.example", "firstname": "Ann"}).id
    first = state.add("companies", {"name": "Old Employer", "numberofemployees": 12}).id
    second = state.add("companies", {"name": "Acme", "numberofemployees": 250}).id
    state.associate("contacts", contact, "companies", first)  # the first becomes primary
    state.associate("contacts", contact, "companies", second, primary=True)  # moved here
    return contact, first, second


def test_a_contacts_primary_company_is_marked_inline_and_in_v4(portal: HubSpotEmulator) -> None:
    contact, first, second = _companies(portal.state)
    client = HubSpot(access_token=TEST_TOKEN, host=portal.url, client_side_validation=True,
                     retry=urllib3.Retry(0))  # fmt: skip
    page = client.crm.contacts.basic_api.get_page(associations=["companies"])
    inline = [(a.id, a.type) for a in page.results[0].associations["companies"].results]
    assert sorted(inline) == [
        (first, "contact_to_company_unlabeled"),
        (second, "contact_to_company"),
        (second, "contact_to_company_unlabeled"),
    ]
    request = BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": contact}])
    answer = client.crm.associations.v4.batch_api.get_page("contacts", "companies", request)
    types = {
        str(t.to_object_id): sorted((k.type_id, k.label) for k in t.association_types)
        for t in answer.results[0].to
    }
    assert types == {first: [(279, None)], second: [(1, "Primary"), (279, None)]}
    back = client.crm.associations.v4.batch_api.get_page(
        "companies",
        "contacts",
        BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": second}]),
    )
    assert sorted(k.type_id for k in back.results[0].to[0].association_types) == [2, 280]
    portal.state.dissociate("contacts", contact, "companies", second)
    assert portal.state.link_types("contacts", contact, "companies", first) == [279]


def test_a_contact_takes_its_primary_companys_details_and_keeps_every_link(
    portal: HubSpotEmulator, store: Store
) -> None:
    contact, first, second = _companies(portal.state)
    _sync(portal, store)  # listed: the links inline
    row = store.read("contacts").set_index("contact_id").loc[contact]
    assert row["company"] == "Acme" and json.loads(row["extra"])["company_id"] == second
    assert _links(store, "contact", contact) == sorted([first, second])
    portal.state.touch("contacts", [contact], firstname="Anna")
    _sync(portal, store)  # searched: the links by the v4 batch read
    row = store.read("contacts").set_index("contact_id").loc[contact]
    assert (row["first_name"], row["company"]) == ("Anna", "Acme")
    assert json.loads(row["extra"]) == {"company_id": second, "company_size": "250"}


def test_every_contact_on_a_deal_counts_the_won_ones_customers_and_no_lead(
    hub: tuple[HubSpotEmulator, Any], store: Store
) -> None:
    emulator, _ = hub
    state = emulator.state
    dealt = {cid for (f, cid, t), v in state.links.items() if (f, t) == ("contacts", "deals") and v}
    bought = {
        cid for (f, cid, t), v in state.links.items() if (f, t) == ("contacts", "orders") and v
    }
    leads = sorted(
        (c for c, r in state.objects["contacts"].items()
         if c not in dealt | bought and r.properties.get("lifecyclestage") != "customer"),
        key=int,
    )  # fmt: skip
    won = next(
        d for d, r in state.objects["deals"].items() if r.properties["dealstage"] == "closedwon"
    )
    buyer, joiner = leads[-1], leads[-2]  # the highest ids: never the deal's first contact
    state.associate("deals", won, "contacts", buyer)
    still_open = state.add("deals", {"dealname": "Second site", "dealstage": "contractsent"},
                           created_ms=int(time.time() * 1000) - 10 * 86_400_000).id  # fmt: skip
    state.associate("deals", still_open, "contacts", state.associated("deals", won, "contacts")[0])
    state.associate("deals", still_open, "contacts", joiner)
    _sync(emulator, store)
    deals = store.read("deals").set_index("deal_id")
    assert deals.loc[won, "contact_id"] == state.associated("deals", won, "contacts")[0]
    assert buyer in _links(store, "deal", won) and len(_links(store, "deal", won)) == 2
    tables = {name: store.read(name) for name in TABLES}
    as_of = pd.Timestamp.now(tz="UTC")
    scored = lead_scoring_frame(tables, as_of).set_index("contact_id")
    assert buyer not in scored.index  # a customer: on a won deal
    assert scored.loc[joiner, "open_deals"] == 1
    assert leads[0] in scored.index and scored.loc[leads[0], "open_deals"] == 0


def test_enumeration_values_reach_people_as_their_labels(
    portal: HubSpotEmulator, store: Store
) -> None:
    """HubSpot fills in a company's industry from its own data, as a code
    (COMPUTER_SOFTWARE): the contact that took it showed "Industry: COMPUTER_SOFTWARE" in
    its lead reasons, the Scores tab and the report; a mapped enumeration likewise."""
    state = portal.state
    channels = {
        "name": "preferred_channels", "label": "Preferred channels", "type": "enumeration",
        "fieldType": "checkbox", "groupName": "contactinformation",
        "options": [{"label": "Email", "value": "em", "hidden": False},
                    {"label": "Phone call", "value": "ph", "hidden": False}],
    }  # fmt: skip
    state.properties["contacts"]["preferred_channels"] = property_shape(
        channels, "contacts", state.groups["contacts"]
    )
    industries = {
        o["value"]: o["label"] for o in state.properties["companies"]["industry"]["options"]
    }
    assert industries["COMPUTER_SOFTWARE"] == "Computer Software"
    contact = state.add("contacts", {"email": "bo@x.example", "lifecyclestage": "customer",
                                     "hs_analytics_source": "PAID_SEARCH",
                                     "preferred_channels": "em;ph"}).id  # fmt: skip
    company = state.add("companies", {"name": "Bits", "industry": "COMPUTER_SOFTWARE"}).id
    state.associate("contacts", contact, "companies", company)
    mapping = {"contacts": {"channels": "preferred_channels"}}
    _sync(portal, store, mapping=mapping)
    row = store.read("contacts").set_index("contact_id").loc[contact]
    assert row["industry"] == "Computer Software"
    assert json.loads(row["extra"])["channels"] == "Email; Phone call"
    # the values the code compares stay HubSpot's own
    assert (row["lifecycle_stage"], row["lead_source"]) == ("customer", "paid_search")
    state.properties["contacts"]["preferred_channels"]["options"][1]["label"] = "Call"
    state.touch("contacts", [contact], firstname="Bo")
    _sync(portal, store, mapping=mapping)  # the options are read again each run
    row = store.read("contacts").set_index("contact_id").loc[contact]
    assert json.loads(row["extra"])["channels"] == "Email; Call"
