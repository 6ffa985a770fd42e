"""The emulator through the official client with its own response validation switched on.

hubspot-api-client maps answers to models by exact status and, with
client_side_validation=True, rejects models missing required fields: each call here is a
check that the emulator answers as HubSpot does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import urllib3
from hubspot import HubSpot
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.properties import BatchInputPropertyCreate, PropertyCreate, PropertyGroupCreate

from smbml_connect.testing.clock import FakeClock
from smbml_connect.testing.hubspot_emulator import TEST_TOKEN, Fault, HubSpotEmulator
from smbml_connect.testing.hubspot_state import now_ms


@pytest.fixture
def hub() -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(clock=FakeClock()) as emulator:
        for i in range(250):
            emulator.state.add(
                "contacts",
                {
                    "email": f"p{i}@example.com",
                    "firstname": f"P{i}",
                    "hs_analytics_num_page_views": i,
                },
                created_ms=1_700_000_000_000 + i,
                updated_ms=1_700_000_000_000 + i * 1000,
            )
        yield emulator


def client(hub: HubSpotEmulator, token: str = TEST_TOKEN) -> HubSpot:
    return HubSpot(access_token=token, host=hub.url, client_side_validation=True,
                   retry=urllib3.Retry(0))  # fmt: skip


def test_list_pages_with_string_values_and_opaque_after(hub: HubSpotEmulator) -> None:
    api = client(hub).crm.contacts.basic_api
    page = api.get_page(limit=100, properties=["email", "hs_analytics_num_page_views"])
    assert len(page.results) == 100 and page.paging.next.after
    first = page.results[0]
    assert first.properties["hs_analytics_num_page_views"] == "0"  # numbers come as strings
    assert {"createdate", "lastmodifieddate", "hs_object_id", "email"} <= set(first.properties)
    seen = [r.id for r in page.results]
    while page.paging:
        page = api.get_page(limit=100, after=page.paging.next.after)
        seen += [r.id for r in page.results]
    assert len(seen) == len(set(seen)) == 250


def test_comma_lists_and_boolean_spellings_are_accepted(hub: HubSpotEmulator) -> None:
    http = urllib3.PoolManager()
    url = f"{hub.url}/crm/v3/objects/contacts?limit=2&properties=email,firstname&archived=False"
    answer = http.request("GET", url, headers={"Authorization": f"Bearer {TEST_TOKEN}"})
    body = json.loads(answer.data)
    assert answer.status == 200 and set(body["results"][0]["properties"]) >= {"email", "firstname"}
    assert answer.headers["X-HubSpot-RateLimit-Max"] == "100"


def test_create_is_201_and_batch_update_reports_missing_records_as_207(
    hub: HubSpotEmulator,
) -> None:
    api = client(hub).crm.contacts
    made = api.basic_api.create(SimplePublicObjectInputForCreate(properties={"email": "new@x.com"}))
    assert made is not None and made.properties["email"] == "new@x.com"  # None would mean 200
    batch = api.batch_api.create(BatchInputSimplePublicObjectBatchInputForCreate(
        inputs=[{"properties": {"email": f"b{i}@x.com"}} for i in range(3)]))  # fmt: skip
    assert batch is not None and len(batch.results) == 3
    update = BatchInputSimplePublicObjectBatchInput(
        inputs=[{"id": made.id, "properties": {"firstname": "Ann"}},
                {"id": "999999999", "properties": {"firstname": "Ghost"}}])  # fmt: skip
    result, status, _ = api.batch_api.update_with_http_info(update)
    assert status == 207 and result.num_errors == 1
    assert result.errors[0].category == "OBJECT_NOT_FOUND"
    assert result.errors[0].context == {"ids": ["999999999"]}
    assert hub.state.objects["contacts"][made.id].properties["firstname"] == "Ann"


def test_batch_limit_and_validation_errors_match_hubspot(hub: HubSpotEmulator) -> None:
    api = client(hub).crm.contacts.batch_api
    too_many = BatchReadInputSimplePublicObjectId(
        inputs=[{"id": str(i)} for i in range(101)], properties=[], properties_with_history=[]
    )
    with pytest.raises(Exception) as caught:
        api.read(too_many)
    assert caught.value.status == 400
    assert "maximum number of inputs supported in a batch is 100" in caught.value.body
    first = next(iter(hub.state.objects["contacts"]))
    bad = BatchInputSimplePublicObjectBatchInput(
        inputs=[{"id": first, "properties": {"hs_analytics_num_page_views": "7"}}]
    )
    with pytest.raises(Exception) as caught:
        api.update(bad)  # a read-only property
    body = json.loads(caught.value.body)
    assert caught.value.status == 400 and body["category"] == "VALIDATION_ERROR"
    assert "READ_ONLY_VALUE" in body["message"]


def test_an_invalid_value_in_a_batch_update_can_come_back_as_a_207(hub: HubSpotEmulator) -> None:
    """As hubspot-api-ruby#403 quotes it: the valid inputs written, the invalid one a
    VALIDATION_ERROR that names no record."""
    hub.invalid_in_207 = True
    first, second = list(hub.state.objects["contacts"])[:2]
    update = BatchInputSimplePublicObjectBatchInput(
        inputs=[{"id": first, "properties": {"firstname": "Ann"}},
                {"id": second, "properties": {"hs_analytics_num_page_views": "7"}}])  # fmt: skip
    result, status, _ = client(hub).crm.contacts.batch_api.update_with_http_info(update)
    assert status == 207 and result.num_errors == 1 and len(result.results) == 1
    assert result.errors[0].category == "VALIDATION_ERROR" and result.errors[0].context == {}
    assert "Property values were not valid" in result.errors[0].message
    assert hub.state.objects["contacts"][first].properties["firstname"] == "Ann"


def test_past_the_custom_property_limit_a_batch_create_makes_what_fits(
    hub: HubSpotEmulator,
) -> None:
    hub.property_limit = 2
    props = client(hub).crm.properties
    props.groups_api.create("contacts", PropertyGroupCreate(name="smbml", label="SMB ML"))
    inputs = [PropertyCreate(name=f"smbml_p{i}", label=f"P{i}", type="string",
                             field_type="text", group_name="smbml") for i in range(3)]  # fmt: skip
    result, status, _ = props.batch_api.create_with_http_info(
        "contacts", BatchInputPropertyCreate(inputs=inputs)
    )
    assert status == 207 and [p.name for p in result.results] == ["smbml_p0", "smbml_p1"]
    assert result.errors[0].category == "VALIDATION_ERROR"
    assert "limit of 2 custom properties" in result.errors[0].message
    with pytest.raises(Exception) as caught:
        props.core_api.create("contacts", inputs[2])
    assert caught.value.status == 400


def test_search_sorts_filters_pages_and_stops_at_the_cap() -> None:
    with HubSpotEmulator(search_cap=300, rate_limits=False) as hub:
        for i in range(500):
            hub.state.add(
                "contacts", {"email": f"s{i}@x.com"}, updated_ms=1_700_000_000_000 + (i % 50)
            )
        api = client(hub).crm.contacts.search_api
        request = PublicObjectSearchRequest(
            filter_groups=[{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE",
                                         "value": "1700000000010"}]}],
            sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
            properties=["email"], limit=200, after="0",
        )  # fmt: skip
        page = api.do_search(public_object_search_request=request)
        assert page.total == 400 and len(page.results) == 200
        stamps = [r.properties["lastmodifieddate"] for r in page.results]
        assert stamps == sorted(stamps)
        request.after = page.paging.next.after
        second = api.do_search(public_object_search_request=request)
        assert len(second.results) == 100 and second.paging is None  # the cap: 300
        request.after = "300"
        with pytest.raises(Exception) as caught:
            api.do_search(public_object_search_request=request)
        assert caught.value.status == 400


def test_properties_groups_and_enumeration_validation(hub: HubSpotEmulator) -> None:
    props = client(hub).crm.properties
    group = props.groups_api.create("contacts", PropertyGroupCreate(name="smbml", label="SMB ML"))
    assert group.name == "smbml"
    created = props.core_api.create("contacts", PropertyCreate(
        name="smbml_tier", label="Tier", type="enumeration", field_type="select",
        group_name="smbml", options=[{"label": "A", "value": "A", "hidden": False}]))  # fmt: skip
    assert created is not None and created.options[0].value == "A"
    with pytest.raises(Exception) as caught:
        props.core_api.create("contacts", PropertyCreate(
            name="smbml_tier", label="Tier", type="enumeration", field_type="select",
            group_name="smbml", options=[{"label": "A", "value": "A", "hidden": False}]))  # fmt: skip
    assert caught.value.status == 409
    listed = props.core_api.get_all("contacts")
    assert any(p.name == "smbml_tier" for p in listed.results)
    first = next(iter(hub.state.objects["contacts"]))
    with pytest.raises(Exception) as caught:
        client(hub).crm.contacts.basic_api.update(first, {"properties": {"smbml_tier": "Z"}})
    assert "INVALID_OPTION" in caught.value.body


def test_associations_v4_batch_read_reports_records_without_links(hub: HubSpotEmulator) -> None:
    contact = next(iter(hub.state.objects["contacts"]))
    deal = hub.state.add("deals", {"dealname": "Big", "dealstage": "closedwon"})
    hub.state.associate("deals", deal.id, "contacts", contact)
    other = hub.state.add("deals", {"dealname": "Alone"})
    request = BatchInputPublicFetchAssociationsBatchRequest(
        inputs=[{"id": deal.id}, {"id": other.id}]
    )
    api = client(hub).crm.associations.v4.batch_api
    result, status, _ = api.get_page_with_http_info("deals", "contacts", request)
    assert status == 207 and str(result.results[0].to[0].to_object_id) == contact
    assert hub.state.objects["deals"][deal.id].properties["hs_is_closed_won"] == "true"


def test_rate_limit_429_body_and_search_limit_without_headers() -> None:
    with HubSpotEmulator(ten_second_limit=3, clock=FakeClock()) as hub:
        http = urllib3.PoolManager(retries=False)
        auth = {"Authorization": f"Bearer {TEST_TOKEN}"}
        statuses = [http.request("GET", f"{hub.url}/crm/v3/objects/contacts", headers=auth).status
                    for _ in range(4)]  # fmt: skip
        assert statuses == [200, 200, 200, 429]
        refused = http.request("GET", f"{hub.url}/crm/v3/objects/contacts", headers=auth)
        body = json.loads(refused.data)
        assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT"
        assert "Retry-After" not in refused.headers
        search = [
            http.request("POST", f"{hub.url}/crm/v3/objects/contacts/search", headers=auth,
                         body=b"{}").status for _ in range(6)
        ]  # fmt: skip
        assert search.count(429) == 1  # 5 a second, and not counted in the 10-second window
    with HubSpotEmulator(daily_limit=2, clock=FakeClock()) as hub:
        for _ in range(3):
            refused = http.request("GET", f"{hub.url}/crm/v3/objects/contacts", headers=auth)
        body = json.loads(refused.data)
        assert refused.status == 429 and body["policyName"] == "DAILY" and body["requestId"]
        assert body["message"] == "You have reached your daily limit."


def test_auth_scopes_and_faults(hub: HubSpotEmulator) -> None:
    with pytest.raises(Exception) as caught:
        client(hub, token="pat-na1-wrong").crm.contacts.basic_api.get_page()
    assert caught.value.status == 401 and "INVALID_AUTHENTICATION" in caught.value.body
    hub.scopes = {"crm.objects.contacts.read"}
    with pytest.raises(Exception) as caught:
        client(hub).crm.deals.basic_api.get_page()
    assert caught.value.status == 403
    assert "crm.objects.deals.read" in caught.value.body
    hub.scopes = None
    hub.inject(Fault("429", retry_after=0.2))
    with pytest.raises(Exception) as caught:
        client(hub).crm.contacts.basic_api.get_page()
    assert caught.value.status == 429 and caught.value.headers["Retry-After"] == "0.2"
    hub.inject(Fault("slow", delay=0.3))
    started = time.perf_counter()
    client(hub).crm.contacts.basic_api.get_page()
    assert time.perf_counter() - started >= 0.3
    hub.inject(Fault("drop"))
    with pytest.raises(urllib3.exceptions.HTTPError):
        client(hub).crm.contacts.basic_api.get_page()
    assert hub.requests["GET list"] >= 4
    hub.inject(Fault("refuse", status=404, path="/crm/v3/properties/deals",
                     message="Unable to find object type deals"))  # fmt: skip
    with pytest.raises(Exception) as caught:
        client(hub).crm.properties.core_api.get_all("deals")
    body = json.loads(caught.value.body)
    assert caught.value.status == 404 and body["category"] == "OBJECT_NOT_FOUND"
    assert body["message"] == "Unable to find object type deals" and body["correlationId"]
    assert client(hub).crm.properties.core_api.get_all("deals").results  # once only


def test_deal_pipelines_default_and_custom_with_stage_metadata(hub: HubSpotEmulator) -> None:
    """GET /crm/v3/pipelines/deals as the client's models validate it: the default pipeline
    with HubSpot's stages and their metadata, a portal's own pipeline with numeric ids."""
    made = hub.state.add_pipeline(
        "deals", "Renewals", [("Proposal reviewed", 0.5, False), ("Renewed", 1.0, True)]
    )
    api = client(hub).crm.pipelines.pipelines_api
    answer = api.get_all("deals")
    default, custom = answer.results
    assert (default.id, default.label, default.display_order) == ("default", "Sales Pipeline", 0)
    stages = {s.id: s for s in default.stages}
    assert stages["contractsent"].label == "Contract Sent"
    assert stages["contractsent"].metadata == {"isClosed": "false", "probability": "0.9"}
    assert stages["closedwon"].metadata == {"isClosed": "true", "probability": "1.0"}
    assert [s.display_order for s in default.stages] == list(range(7))
    assert custom.id == made["id"] and custom.id.isdigit() and custom.label == "Renewals"
    assert all(s.id.isdigit() for s in custom.stages) and not custom.archived
    assert api.get_by_id("deals", custom.id).stages[1].label == "Renewed"
    with pytest.raises(Exception) as missing:
        api.get_by_id("deals", "nope")
    assert missing.value.status == 404
    # HubSpot works the closed and won flags out from the stage's metadata
    renewed = custom.stages[1].id
    deal = hub.state.add("deals", {"dealname": "Renewal", "dealstage": renewed})
    assert deal.properties["hs_is_closed"] == "true" == deal.properties["hs_is_closed_won"]


def test_deal_pipelines_refused_without_token_or_scope(hub: HubSpotEmulator) -> None:
    http = urllib3.PoolManager()
    url = f"{hub.url}/crm/v3/pipelines/deals"
    assert http.request("GET", url).status == 401
    hub.scopes = {"crm.objects.contacts.read"}
    answer = http.request("GET", url, headers={"Authorization": f"Bearer {TEST_TOKEN}"})
    body = json.loads(answer.data)
    assert answer.status == 403 and body["category"] == "MISSING_SCOPES"
    assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.deals.read"]
    hub.scopes = {"crm.objects.deals.read"}
    ok = http.request("GET", url, headers={"Authorization": f"Bearer {TEST_TOKEN}"})
    assert ok.status == 200 and json.loads(ok.data)["results"][0]["id"] == "default"


def test_each_deal_stage_has_date_entered_and_exited_properties(hub: HubSpotEmulator) -> None:
    """HubSpot lists a read-only datetime per stage and per pipeline (one made later too),
    named by the stage id, with the label its UI shows."""
    made = hub.state.add_pipeline("deals", "Renewals", [("Proposal reviewed", 0.5, False)])
    listed = client(hub).crm.properties.core_api.get_all("deals").results
    props = {p.name: p for p in listed}
    entered = props["hs_v2_date_entered_contractsent"]
    assert (entered.type, entered.field_type) == ("datetime", "date")
    assert entered.label == 'Date entered "Contract Sent (Sales Pipeline)"'
    assert entered.modification_metadata.read_only_value
    custom = made["stages"][0]["id"]
    assert {f"hs_v2_date_entered_{custom}", f"hs_v2_date_exited_{custom}"} <= set(props)
    assert "hs_v2_date_entered_current_stage" in props


def test_a_deal_that_moves_enters_and_leaves_stages_the_latest_entry_kept(
    hub: HubSpotEmulator,
) -> None:
    """What a stage change does to the stage properties: the new stage's entry and the
    old one's exit are the change's time, a stage never entered is null, and a stage
    entered again holds its latest entry (HubSpot's "latest time in" counts from it)."""
    deal = hub.state.add("deals", {"dealname": "D", "dealstage": "appointmentscheduled"},
                         created_ms=1_700_000_000_000)  # fmt: skip
    hub.state.touch("deals", [deal.id], at_ms=1_700_000_100_000, dealstage="contractsent")
    hub.state.touch("deals", [deal.id], at_ms=1_700_000_200_000, dealstage="appointmentscheduled")
    names = [f"hs_v2_date_{v}_{s}" for v in ("entered", "exited")
             for s in ("appointmentscheduled", "contractsent", "qualifiedtobuy")]  # fmt: skip
    got = (
        client(hub)
        .crm.deals.basic_api.get_by_id(
            deal.id, properties=[*names, "hs_v2_date_entered_current_stage"]
        )
        .properties
    )
    assert got["hs_v2_date_entered_appointmentscheduled"] == "2023-11-14T22:16:40.000Z"
    assert got["hs_v2_date_exited_appointmentscheduled"] == "2023-11-14T22:15:00.000Z"
    assert got["hs_v2_date_entered_contractsent"] == "2023-11-14T22:15:00.000Z"
    assert got["hs_v2_date_exited_contractsent"] == "2023-11-14T22:16:40.000Z"
    assert got["hs_v2_date_entered_qualifiedtobuy"] is None  # never entered
    assert got["hs_v2_date_entered_current_stage"] == got["hs_v2_date_entered_appointmentscheduled"]


def test_a_merged_deal_is_gone_and_named_by_the_one_it_was_merged_into(
    hub: HubSpotEmulator,
) -> None:
    kept = hub.state.add("deals", {"dealname": "Kept", "dealstage": "contractsent"})
    gone = hub.state.add("deals", {"dealname": "Gone", "dealstage": "contractsent"})
    hub.state.merge("deals", kept.id, gone.id)
    api = client(hub).crm.deals.basic_api
    live = [r.id for r in api.get_page(limit=100).results]
    archived = [r.id for r in api.get_page(limit=100, archived=True).results]
    assert gone.id not in live + archived
    assert (
        api.get_by_id(kept.id, properties=["hs_merged_object_ids"]).properties[
            "hs_merged_object_ids"
        ]
        == gone.id
    )


def test_a_merge_moves_associations_without_touching_the_associated_records(
    hub: HubSpotEmulator,
) -> None:
    """HubSpot: deals of both contacts are the merged record's after a merge; an association
    is no property, so the deal's last-modified time stays. Since 2024 a contact merge
    makes a new record (new id) that both old ids were merged into."""
    old = hub.state.add("contacts", {"email": "old@example.com"})
    kept = hub.state.add("contacts", {"email": "kept@example.com"})
    deal = hub.state.add("deals", {"dealname": "Renewal", "dealstage": "contractsent"})
    hub.state.associate("deals", deal.id, "contacts", old.id)
    before = deal.updated_ms
    hub.state.merge("contacts", kept.id, old.id)
    assert hub.state.associated("deals", deal.id, "contacts") == [kept.id]
    assert hub.state.associated("contacts", kept.id, "deals") == [deal.id]
    assert hub.state.objects["deals"][deal.id].updated_ms == before
    third = hub.state.add("contacts", {"email": "third@example.com"})
    hub.state.merge("contacts", kept.id, third.id, new_id="990001")
    listed = {r.id for r in client(hub).crm.contacts.get_all()}
    assert "990001" in listed and not listed & {old.id, kept.id, third.id}
    api = client(hub).crm.contacts.basic_api
    props = api.get_by_id("990001", properties=["hs_merged_object_ids"]).properties
    assert props["hs_merged_object_ids"].split(";") == [old.id, kept.id, third.id]
    assert hub.state.associated("deals", deal.id, "contacts") == ["990001"]


def test_a_list_url_past_the_limit_is_refused_with_414(hub: HubSpotEmulator) -> None:
    http = urllib3.PoolManager()
    many = "&".join(f"properties=p{i:05d}" for i in range(1500))
    answer = http.request("GET", f"{hub.url}/crm/v3/objects/deals?limit=100&{many}",
                          headers={"Authorization": f"Bearer {TEST_TOKEN}"})  # fmt: skip
    assert answer.status == 414


def test_a_merged_record_takes_the_other_ones_values_where_it_has_none(
    hub: HubSpotEmulator,
) -> None:
    """HubSpot's "Merge records": the primary's values win, the other's fill its empty
    ones; the primary's email stays, and the lifecycle stage furthest down the funnel."""
    lead = hub.state.add(
        "contacts",
        {"email": "lead@example.com", "lifecyclestage": "lead", "firstname": "Ann",
         "jobtitle": "Owner", "city": "Leeds"},
    )  # fmt: skip
    customer = hub.state.add(
        "contacts", {"email": "ann@example.com", "lifecyclestage": "customer", "city": "York"}
    )
    hub.state.merge("contacts", customer.id, lead.id)
    got = client(hub).crm.contacts.basic_api.get_by_id(
        customer.id, properties=["email", "lifecyclestage", "firstname", "jobtitle", "city"]
    )
    assert got.properties["email"] == "ann@example.com"
    assert got.properties["lifecyclestage"] == "customer"  # not the lead's, though it came in
    assert (got.properties["firstname"], got.properties["jobtitle"]) == ("Ann", "Owner")
    assert got.properties["city"] == "York"  # the primary's own value wins


def test_a_deleted_property_is_archived_listed_apart_and_its_name_taken(
    hub: HubSpotEmulator,
) -> None:
    """DELETE archives a property (restorable for 90 days): gone from the list and from
    the records, listed with archived=true, and its name cannot be made again (409)."""
    api = client(hub).crm.properties
    made = PropertyCreate(name="smbml_x", label="X", type="string", field_type="text",
                          group_name="contactinformation")  # fmt: skip
    api.core_api.create("contacts", made)
    (contact,) = list(hub.state.objects["contacts"])[:1]
    hub.state.touch("contacts", [contact], smbml_x="kept")
    api.core_api.archive("contacts", "smbml_x")
    assert "smbml_x" not in {p.name for p in api.core_api.get_all("contacts").results}
    archived = api.core_api.get_all("contacts", archived=True).results
    assert [p.name for p in archived] == ["smbml_x"] and archived[0].archived
    assert "smbml_x" not in hub.state.objects["contacts"][contact].properties
    with pytest.raises(Exception, match="409"):
        api.core_api.create("contacts", made)
    hub.state.restore_property("contacts", "smbml_x")
    assert hub.state.objects["contacts"][contact].properties["smbml_x"] == "kept"
    hub.state.delete_property_for_good("contacts", "smbml_x")
    api.core_api.create("contacts", made)  # the name is free again, with no value
    assert "smbml_x" not in hub.state.objects["contacts"][contact].properties


def test_changes_in_a_row_are_dated_in_order_and_never_ahead_of_the_clock(
    hub: HubSpotEmulator,
) -> None:
    """HubSpot dates a change by its clock when the change is made. Changes straight after
    one another (a user's edits, a batch update, a merge and an unsubscribe) each get a
    later time, none ahead of the clock: a search for "changed until now" made at once
    finds the record (one dated ahead was left out of a run started in its millisecond)."""
    first, second = list(hub.state.objects["contacts"])[:2]
    dated: list[tuple[int, int]] = []  # (the record's time, the clock's) after each change

    def changed(record_id: str) -> None:
        dated.append((hub.state.objects["contacts"][record_id].updated_ms, now_ms()))

    for status in ("NEW", "OPEN", "IN_PROGRESS", "CONNECTED"):
        hub.state.touch("contacts", [first], hs_lead_status=status)
        changed(first)
    api = client(hub).crm.contacts
    for name in ("Ann", "Anne"):
        edit = {"id": first, "properties": {"firstname": name}}
        api.batch_api.update(BatchInputSimplePublicObjectBatchInput(inputs=[edit]))
        changed(first)
    hub.state.merge("contacts", first, second, new_id="990001")
    changed("990001")
    hub.state.touch("contacts", ["990001"], hs_email_optout="true")
    changed("990001")
    times = [when for when, _ in dated]
    assert times == sorted(set(times))
    assert [when - clock for when, clock in dated if when > clock] == []  # ms ahead
    since = {"propertyName": "lastmodifieddate", "operator": "GT", "value": str(times[0])}
    until = {"propertyName": "lastmodifieddate", "operator": "LTE", "value": str(now_ms())}
    request = PublicObjectSearchRequest(filter_groups=[{"filters": [since, until]}])
    assert [r.id for r in api.search_api.do_search(request).results] == ["990001"]
