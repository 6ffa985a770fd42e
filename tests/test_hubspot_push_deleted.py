"""A SMB ML property deleted in HubSpot, and the run after it with nothing new to write.

An admin tidying HubSpot's properties deletes one of ours: HubSpot archives it with its
values (restorable for 90 days), or it is emptied from the archive and gone for good. The
next run must make it again with its values, or say it is gone: never count its values
"unchanged". A run that pulls from HubSpot looks at the list its pull read (no request).
"""

from __future__ import annotations

from click.testing import CliRunner
from test_hubspot_push_faults import CONTACT_VALUES, make_api, scored

from smbml_connect.cli import cli
from smbml_connect.connectors.hubspot.push import HubSpotDestination
from smbml_connect.connectors.hubspot.source import HubSpotSource
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.ports import PushReport, RunResult
from smbml_connect.steps import crm_properties
from smbml_connect.store import Store
from smbml_connect.testing.hubspot_emulator import HubSpotEmulator

SEGMENT = '"Customer segment (SMB ML)" (smbml_segment) on contacts'


def scheduled(emulator: HubSpotEmulator, store: Store) -> tuple[RunResult, PushReport]:
    """A run as `smbml run` makes it: the pull, then the push, on one client."""
    api = make_api(emulator)
    destination = HubSpotDestination(api, properties=crm_properties())
    result = run_pipeline(HubSpotSource(api), store, RunOptions(steps=[]), [destination])
    (report,) = result.pushes
    return result, report


def _segments(emulator: HubSpotEmulator, ids: list[str]) -> set[str]:
    contacts = emulator.state.objects["contacts"]
    return {i for i in ids if contacts[i].properties.get("smbml_segment")}


def _pushing(emulator: HubSpotEmulator) -> dict[str, int]:
    """The requests a run made beyond the pull's reads."""
    return {
        k: n
        for k, n in emulator.requests.items()
        if n and k.startswith(("POST batch", "POST property", "POST group", "GET group", "PATCH"))
    }


def test_a_property_deleted_for_good_comes_back_with_its_values_on_a_run_with_nothing_new(
    hub, store
) -> None:
    emulator, _ = hub
    scored(emulator, store, 40)
    _, first = scheduled(emulator, store)
    ids = sorted(_segments(emulator, list(emulator.state.objects["contacts"])))
    n = len(ids)  # the run leaves out a contact who opted out
    assert 30 < n <= 40 and first.written == n * CONTACT_VALUES
    emulator.state.archive_property("contacts", "smbml_segment")
    emulator.state.delete_property_for_good("contacts", "smbml_segment")  # emptied from the bin
    emulator.reset_counts()
    result, second = scheduled(emulator, store)  # nothing new in the shop
    # Before: "wrote 0 values, 200 unchanged", and no segment on any contact until a score moved.
    assert (second.written, second.unchanged, second.not_written) == (n, n * 4, 0)
    assert _segments(emulator, ids) == set(ids)
    assert second.detail == [
        f"{SEGMENT} was gone from HubSpot (deleted there, with its values): made again, and "
        "every value is written this run"
    ]
    assert result.status == "ok" and second.unwritten == []
    # The push looked at the list the pull had read: no property read of its own.
    pulled = emulator.requests["GET properties"]
    emulator.reset_counts()
    _, third = scheduled(emulator, store)
    assert (third.written, third.unchanged) == (0, n * CONTACT_VALUES)
    assert emulator.requests["GET properties"] == pulled and _pushing(emulator) == {}


def test_a_property_archived_in_hubspot_is_said_to_be_gone_not_unchanged(hub, store) -> None:
    emulator, _ = hub
    scored(emulator, store, 40)
    scheduled(emulator, store)
    ids = sorted(_segments(emulator, list(emulator.state.objects["contacts"])))
    n = len(ids)
    emulator.state.archive_property("contacts", "smbml_segment")  # Settings > Properties > Delete
    result, second = scheduled(emulator, store)
    # Before: "wrote 0 values, 200 unchanged, 0 not written", and nothing said.
    assert (second.written, second.unchanged, second.not_written) == (0, n * 4, n)
    (line,) = second.unwritten
    assert line == (
        f"{n} values of {SEGMENT} not written: the property was deleted in HubSpot and is kept "
        "there as archived, so it cannot be made again; restore it in HubSpot (Settings > "
        "Properties > Archived properties) or delete it there for good, and the next run "
        "writes every value"
    )
    assert result.status == "partial"
    problem = f"HubSpot: wrote no values; {line}"
    assert problem in result.errors
    said = CliRunner().invoke(cli, ["status", "--store", str(store.path)]).output
    assert problem in said.replace("\n", " ") or problem in said
    # The admin restores it: its values come back with it, nothing needs writing.
    emulator.state.restore_property("contacts", "smbml_segment")
    result, third = scheduled(emulator, store)
    assert (third.written, third.unchanged, third.not_written) == (0, n * CONTACT_VALUES, 0)
    assert result.status == "ok" and _segments(emulator, ids) == set(ids)


def test_a_push_alone_reads_each_list_once_and_nothing_without_values(hub, store) -> None:
    """`smbml push` has no pull before it: one property read per object type with values
    of ours (contacts here, not deals or products), and none when there are no values."""
    emulator, _ = hub
    emulator.reset_counts()
    empty = HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(None, store)
    assert empty.written == empty.unchanged == 0 and emulator.total_requests() == 0
    ids = scored(emulator, store, 40)
    HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(None, store)
    emulator.state.archive_property("contacts", "smbml_segment")
    emulator.state.delete_property_for_good("contacts", "smbml_segment")
    emulator.reset_counts()
    again = HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(None, store)
    assert (again.written, again.unchanged) == (40, 160) and _segments(emulator, ids) == set(ids)
    emulator.reset_counts()
    idle = HubSpotDestination(make_api(emulator), properties=crm_properties()).publish(None, store)
    assert (idle.written, idle.unchanged) == (0, 40 * CONTACT_VALUES)
    assert dict(emulator.requests) == {"GET properties": 1}
