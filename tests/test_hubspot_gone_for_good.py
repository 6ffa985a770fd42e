"""A HubSpot record deleted for good (a GDPR delete, or 90 days in the recycle bin) is in
no list and no search, archived ones included: only a listing of every id shows it is
gone. Before, the store kept such a contact for good: scored, shown, its data kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from hubspot_runs import hubspot_run

from smbml_connect.connectors.hubspot.source import HubSpotSource
from smbml_connect.gone_from_source import PURGED_CHECK
from smbml_connect.pipeline import RunOptions
from smbml_connect.steps import steps_by_name
from smbml_connect.store import Store
from smbml_connect.testing.faults import Fault
from smbml_connect.testing.hubspot_emulator import HubSpotEmulator

START = datetime.now(tz=UTC)  # the emulator dates changes by the wall clock: runs follow it
DAY = timedelta(hours=24, minutes=1)
RFM = steps_by_name(["rfm_segments"])


@pytest.fixture
def hub(sample_hub: HubSpotEmulator) -> HubSpotEmulator:
    return sample_hub


def sync(
    hub: HubSpotEmulator,
    store: Store,
    at: datetime,
    ok: bool = True,
    accept: bool = False,
    source: type[HubSpotSource] = HubSpotSource,
) -> Any:
    options = RunOptions(steps=RFM, accept_removals=accept)
    result = hubspot_run(hub, store, at, options, source=source)
    assert (result.status == "ok") == ok, result.errors
    return result


def _customer(store: Store) -> tuple[str, list[str], list[str]]:
    """A scored contact with deals and orders, and them."""
    deals, orders = store.read("deals"), store.read("orders")
    both = sorted(set(deals["contact_id"].dropna()) & set(orders["contact_id"].dropna()))
    both = [c for c in both if c in set(store.latest_outputs("scores")["entity_id"])]
    who = both[0]
    return (
        who,
        sorted(deals.loc[deals["contact_id"] == who, "deal_id"]),
        sorted(orders.loc[orders["contact_id"] == who, "order_id"]),
    )


def test_a_contact_deleted_for_good_leaves_the_store_with_what_was_computed_about_them(
    hub: HubSpotEmulator, store: Store
) -> None:
    sync(hub, store, START)
    who, deals, orders = _customer(store)
    assert who in set(store.latest_outputs("scores")["entity_id"])
    hub.state.delete_for_good("contacts", who)
    hub.reset_counts()
    later = sync(hub, store, START + timedelta(hours=1))  # hourly runs list no ids
    assert who in set(store.read("contacts")["contact_id"])
    assert hub.requests["GET list"] == 5  # the archived passes only, as before
    assert not later.purged
    first = sync(hub, store, START + DAY)  # the daily check: missing once
    assert who in set(store.read("contacts")["contact_id"]) and not first.purged
    result = sync(hub, store, START + 2 * DAY)  # missing from two listings: gone for good
    assert who not in set(store.read("contacts")["contact_id"])
    assert result.purged == {"contacts": [who]}
    (notice,) = [n for n in result.notices if n.check == PURGED_CHECK]
    assert notice.message.startswith(f"1 contact deleted for good in hubspot ({who})")
    kept_deals = store.read("deals").set_index("deal_id").loc[deals]
    kept_orders = store.read("orders").set_index("order_id").loc[orders]
    assert kept_deals["contact_id"].isna().all() and kept_orders["contact_id"].isna().all()
    assert kept_orders["total"].notna().all()  # the sales still happened
    links = store.read("associations")
    assert not ((links["to_id"] == who) | (links["from_id"] == who)).any()
    history = store.output_history("scores")
    assert not (history["entity_id"] == who).any()  # every run's rows about them
    assert '"purged": {"contacts": 1}' in store.runs().iloc[0]["counts"]


def test_a_contact_in_the_recycle_bin_is_kept_marked_not_purged(
    hub: HubSpotEmulator, store: Store
) -> None:
    sync(hub, store, START)
    who, _, _ = _customer(store)
    hub.state.archive("contacts", [who])
    sync(hub, store, START + DAY)
    result = sync(hub, store, START + 2 * DAY)
    contacts = store.read("contacts").set_index("contact_id")
    assert pd.notna(contacts.loc[who, "archived_at"])  # HubSpot can still restore it
    assert not result.purged


def test_a_check_cut_short_purges_nothing_and_runs_again_next_time(
    hub: HubSpotEmulator, store: Store
) -> None:
    sync(hub, store, START)
    who, _, _ = _customer(store)
    hub.state.delete_for_good("contacts", who)
    fault = Fault("5xx", count=50, status=502, path="/objects/contacts", method="GET", skip=1)
    hub.inject(fault)  # the id listing's second page on fails, past the retries
    cut = sync(hub, store, START + timedelta(hours=25), ok=False)
    assert "contacts" in cut.incomplete and not cut.purged
    assert who in set(store.read("contacts")["contact_id"])
    fault.count = 0
    sync(hub, store, START + timedelta(hours=26))  # the check again: missing once
    again = sync(hub, store, START + timedelta(hours=26) + DAY)
    assert again.purged == {"contacts": [who]}


def test_a_portal_that_answers_with_nothing_purges_nothing_until_confirmed(
    hub: HubSpotEmulator, store: Store
) -> None:
    """A token for another account, or a portal emptied by mistake: every row would go,
    and every run's results with them (review)."""
    sync(hub, store, START)
    before = len(store.read("contacts"))
    for rid in list(hub.state.objects["contacts"]):
        hub.state.delete_for_good("contacts", rid)
    held = sync(hub, store, START + DAY)
    assert len(store.read("contacts")) == before and not held.purged
    (notice,) = [n for n in held.notices if n.check == PURGED_CHECK and n.table == "contacts"]
    assert f"{before:,} of the {before:,} contacts read before are in no list" in notice.message
    assert "smbml run --accept-removals" in notice.message
    confirmed = sync(hub, store, START + timedelta(hours=26), accept=True)
    assert len(confirmed.purged["contacts"]) == before and store.read("contacts").empty


def test_a_run_stopped_after_the_purge_keeps_nothing_computed_about_the_person(
    hub: HubSpotEmulator, store: Store
) -> None:
    """The outputs went later in the run, from memory: a run stopped between (a revoked
    token on the deals) left them for good (review)."""
    from smbml_connect.errors import TokenRejectedError

    class Revoked(HubSpotSource):
        def pull_pages(self, entity: str, since: str | None = None) -> Any:
            if entity == "deals":
                raise TokenRejectedError("HubSpot did not accept the token (401)")
            yield from super().pull_pages(entity, since)

    sync(hub, store, START)
    who, _, _ = _customer(store)
    hub.state.delete_for_good("contacts", who)
    sync(hub, store, START + DAY)
    with pytest.raises(TokenRejectedError):
        sync(hub, store, START + 2 * DAY, source=Revoked)
    assert who not in set(store.read("contacts")["contact_id"])
    assert not (store.output_history("scores")["entity_id"] == who).any()


def test_another_sources_rows_naming_the_same_id_are_its_own(
    hub: HubSpotEmulator, store: Store
) -> None:
    sync(hub, store, START)
    who, _, _ = _customer(store)
    day = pd.Timestamp("2026-10-01", tz="UTC")
    store.upsert("orders", pd.DataFrame({"order_id": ["F-1"], "contact_id": [who],
                  "ordered_at": [day], "source": ["files:/shop/data"]}))  # fmt: skip
    hub.state.delete_for_good("contacts", who)
    sync(hub, store, START + DAY)
    assert sync(hub, store, START + 2 * DAY).purged == {"contacts": [who]}
    assert store.read("orders").set_index("order_id").loc["F-1", "contact_id"] == who


def test_a_merge_while_the_ids_are_listed_is_not_taken_for_a_deletion(
    hub: HubSpotEmulator, store: Store
) -> None:
    """Merged away after the search and before the listing reached it, a contact is in no
    list: purged at once, its orders lost their person for good, though HubSpot had moved
    them to the kept contact (review). Missing from two listings a day apart is gone; by
    then the next run has seen the merge and moved what named it."""
    sync(hub, store, START)
    orders = store.read("orders")
    merged, kept = orders["contact_id"].dropna().value_counts().index[:2].tolist()
    mine = sorted(orders.loc[orders["contact_id"] == merged, "order_id"])
    fired: list[bool] = []

    class MergedMeanwhile(HubSpotSource):
        def _list(self, spec: Any, properties: Any, archived: bool, *args: Any, **kw: Any) -> Any:
            if spec.table == "contacts" and not archived and not properties and not fired:
                fired.append(True)
                hub.state.merge("contacts", kept, merged)
            return super()._list(spec, properties, archived, *args, **kw)

    first = sync(hub, store, START + DAY, source=MergedMeanwhile)
    assert fired and not first.purged
    sync(hub, store, START + DAY + timedelta(hours=1))  # an hourly run sees the merge
    later = sync(hub, store, START + 2 * DAY)
    assert later.purged == {"contacts": [merged]}  # the row merged away, not what it named
    assert set(store.read("orders").set_index("order_id").loc[mine, "contact_id"]) == {kept}


def test_a_bulk_delete_leaving_the_recycle_bin_together_is_purged(
    hub: HubSpotEmulator, store: Store
) -> None:
    """Archived rows missing is expected (their 90 days end together after a clean-up):
    the guard counts live rows only, or such a bulk delete was held on every run (review)."""
    sync(hub, store, START)
    contacts = sorted(hub.state.objects["contacts"])
    binned = contacts[: len(contacts) * 2 // 3]
    hub.state.archive("contacts", binned)
    sync(hub, store, START + timedelta(hours=1))
    for rid in binned:
        hub.state.delete_for_good("contacts", rid)
    sync(hub, store, START + DAY)
    later = sync(hub, store, START + 2 * DAY)
    assert sorted(later.purged["contacts"]) == binned
    assert sorted(store.read("contacts")["contact_id"]) == contacts[len(binned) :]
