"""The business's clock. Before, a time written without an offset was taken as UTC and
the steps counted UTC days: an Auckland shop's Saturday morning orders fell on Friday, a
New York deal closing at 9 pm on 31 October closed in November, and a date-only "31
October" would have fallen on the 30th in any zone west of UTC once converted. Now times
without an offset are read on the business's clock (the config's ``time_zone``, else the
HubSpot portal's or the spreadsheet's), and every step counts that clock's days."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from hubspot_runs import hubspot_run

from smbml_connect.analytics.customers.value import CustomerValueModel, daily_purchases
from smbml_connect.analytics.forecast.sales_series import sales_series
from smbml_connect.analytics.leads.deals import DealWinModel, deal_scoring_frame
from smbml_connect.analytics.pricing.price_history import weekly_prices
from smbml_connect.business_zone import (
    BusinessZone,
    business_zone,
    calendar_days,
    in_zone,
    offsets_hint,
    same_zone,
    wall_clock,
    zone_named,
    zone_of_words,
)
from smbml_connect.cli import cli
from smbml_connect.coerce import parse_datetime, read_dates
from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.connectors.gsheets.http import SheetsApi
from smbml_connect.connectors.gsheets.sheets import SheetsResults, SheetsSource
from smbml_connect.connectors.hubspot.source import HubSpotSource
from smbml_connect.credentials import Secret
from smbml_connect.errors import ConfigError
from smbml_connect.headers import map_headers
from smbml_connect.pipeline import (
    ZONE_CHANGED,
    ZONE_UNREAD,
    ZONE_UNSET,
    RunOptions,
    _offsets_said,
    run_pipeline,
)
from smbml_connect.ports import RunResult
from smbml_connect.registry import parse_config
from smbml_connect.report import render_report, workbook_sheets
from smbml_connect.schema import validate
from smbml_connect.steps import StepContext, steps_by_name
from smbml_connect.steps.leads import deal_step
from smbml_connect.store import Store
from smbml_connect.testing.clock import FakeClock
from smbml_connect.testing.hubspot_emulator import HubSpotEmulator
from smbml_connect.testing.hubspot_state import property_shape
from smbml_connect.testing.sheets_emulator import SheetsEmulator, make_service_account

RFM = steps_by_name(["rfm_segments"])
FIXTURES = Path(__file__).parent / "fixtures" / "layouts"
LA = "America/Los_Angeles"
AKL = "Pacific/Auckland"


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


# -- reading ---------------------------------------------------------------------------
def test_times_without_an_offset_are_read_on_the_business_clock() -> None:
    cells = pd.Series(
        [
            "2026-10-31",  # a date alone: that day's midnight in Los Angeles
            "2026-10-31 23:30",  # Los Angeles' evening: the 1st of November in UTC
            "2026-10-31T23:30:00-07:00",  # the same instant, written with its offset
            "2026-10-31T12:00:00Z",  # an instant
            "10/31/2026 6:00 PM",  # a US export's own clock
            "1793491200000",  # epoch milliseconds: an instant wherever it is read
        ]
    )
    read = read_dates(cells, zone=LA)
    assert not read.invalid.any()
    assert list(read.values) == [
        _utc("2026-10-31 07:00"),
        _utc("2026-11-01 06:30"),
        _utc("2026-11-01 06:30"),
        _utc("2026-10-31 12:00"),
        _utc("2026-11-01 01:00"),
        pd.Timestamp(1793491200000, unit="ms", tz="UTC"),
    ]
    # On the business's calendar each keeps the day it was written on.
    assert [d.day for d in wall_clock(read.values, LA)][:3] == [31, 31, 31]
    # Without a zone they are read as UTC, as before.
    assert read_dates(cells).values.iloc[1] == _utc("2026-10-31 23:30")


def test_a_header_that_says_utc_keeps_its_times_in_utc(tmp_path: Path) -> None:
    """Stripe writes "Created date (UTC)": an Auckland shop read its 20:30 UTC payment of
    30 November as 20:30 in Auckland (07:30 UTC), and November took December's sales."""
    header = (FIXTURES / "unified_payments.csv").read_text().splitlines()[0]
    row = (FIXTURES / "unified_payments.csv").read_text().splitlines()[1].split(",")
    at = header.split(",").index("Created date (UTC)")
    row[at] = "2026-11-30 20:30:00"
    (tmp_path / "unified_payments.csv").write_text(header + "\n" + ",".join(row) + "\n")
    source = FilesSource(tmp_path, {}, {})
    frame = source.pull("orders")
    stated = {c: f for c, f in source.header_mappings["orders"].formats.items()}
    read = validate("orders", frame, source.name, stated, "Pacific/Auckland").clean
    assert read["ordered_at"].tolist() == [_utc("2026-11-30 20:30")]
    # a plain sheet's header says it too; no mark, or another offset ("UTC+2"), does not
    cells = pd.DataFrame({"Order ID": ["A1", "A2"], "Customer ID": ["C1", "C2"],
                          "Order date (UTC)": ["2026-11-30 20:30", "2026-11-30 23:30"],
                          "Total": ["10", "20"]})  # fmt: skip
    for said, expected in (("Order date (UTC)", "2026-11-30 20:30"),
                           ("Order date", "2026-11-30 07:30")):  # fmt: skip
        mapping = map_headers("orders", list(cells.rename(columns={"Order date (UTC)": said})))
        frame = mapping.apply(cells.rename(columns={"Order date (UTC)": said}))
        clean = validate("orders", frame, "sheet", mapping.formats, "Pacific/Auckland").clean
        assert clean["ordered_at"].iloc[0] == _utc(expected), said
    assert map_headers("orders", ["Order date (UTC+2)"]).formats == {}  # another offset


def test_a_clock_change_loses_no_row() -> None:
    """The hour repeated when summer time ends is taken the first time; the hour skipped
    when it starts moves forward to the first time the clock showed."""
    cells = pd.Series(["2026-11-01 01:30", "2026-03-08 02:30", "2026-03-08 03:00"])
    read = read_dates(cells, zone=LA)
    assert not read.invalid.any()
    assert list(read.values) == [
        _utc("2026-11-01 08:30"),  # 01:30 PDT, the first of the two
        _utc("2026-03-08 10:00"),  # 02:30 never happened: 03:00 PDT
        _utc("2026-03-08 10:00"),
    ]
    assert parse_datetime("2026-11-01 01:30", zone=LA) == _utc("2026-11-01 08:30")


def test_a_workbook_date_cell_is_on_the_business_clock(tmp_path: Path) -> None:
    """openpyxl gives a workbook's dates as naive datetimes: what the owner typed."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "orders"
    sheet.append(["order_id", "contact_id", "ordered_at", "total"])
    sheet.append(["O1", "C1", datetime(2026, 6, 13, 9, 0), 40.0])  # a Saturday morning
    sheet.append(["O2", "C1", datetime(2026, 6, 12, 21, 0), 15.0])  # Friday evening
    book.save(tmp_path / "shop.xlsx")
    source = FilesSource(tmp_path / "shop.xlsx", {}, {})
    frame = source.pull("orders")
    clean = validate("orders", frame, source.name, None, AKL).clean
    assert list(clean["ordered_at"]) == [_utc("2026-06-12 21:00"), _utc("2026-06-12 09:00")]
    days = wall_clock(clean["ordered_at"], AKL).dt.day_name()
    assert list(days) == ["Saturday", "Friday"]


def test_zone_names_are_checked_with_a_hint() -> None:
    assert str(zone_named("US/Eastern")) == "US/Eastern"
    with pytest.raises(ValueError, match="did you mean 'Europe/London'"):
        zone_named("europe/london")
    with pytest.raises(ValueError, match="is not a time zone name"):
        zone_named("Mars/Olympus")


def test_the_config_names_the_zone(tmp_path: Path) -> None:
    base = {"source": {"kind": "files", "path": str(tmp_path)}}
    config = parse_config({"time_zone": "Pacific/Auckland", **base})
    assert config.time_zone == AKL
    with pytest.raises(ConfigError, match=r"'Pacific/Aukland' is not.*mean 'Pacific/Auckland'"):
        parse_config({"time_zone": "Pacific/Aukland", **base})


# -- counting days on it -----------------------------------------------------------------
def _orders(times: list[str]) -> pd.DataFrame:
    n = len(times)
    return pd.DataFrame(
        {
            "order_id": [f"O{i}" for i in range(n)],
            "contact_id": "C1",
            "ordered_at": [pd.Timestamp(t).tz_convert("UTC") for t in times],
            "total": 10.0,
            "status": "paid",
        }
    )


def test_months_and_days_are_the_business_ones() -> None:
    """09:00 on 1 November in Auckland is still 31 October in UTC."""
    orders = _orders(["2026-10-15T12:00:00+13:00", "2026-11-01T09:00:00+13:00"])
    as_of = pd.Timestamp("2026-11-20T12:00:00+13:00")
    local = sales_series(orders, None, as_of.tz_convert(AKL), "M")
    utc = sales_series(orders, None, as_of.tz_convert("UTC"), "M")
    assert local.sold == {"revenue:total": 10.0}  # November so far holds the 1st's order
    assert utc.sold == {"revenue:total": 0.0} or "revenue:total" not in utc.sold
    # Two orders an hour apart around Auckland's midnight are two days there, one in UTC.
    two = _orders(["2026-06-10T23:30:00+12:00", "2026-06-11T00:30:00+12:00"])
    at = pd.Timestamp("2026-07-01", tz=AKL)
    assert len(daily_purchases(two, at)) == 2
    assert len(daily_purchases(two, at.tz_convert("UTC"))) == 1
    assert list(calendar_days(two["ordered_at"], AKL)) == [_utc("2026-06-10"), _utc("2026-06-11")]


def test_a_deal_closes_in_the_business_month(business: Any) -> None:
    tables = {k: v.copy() for k, v in business.tables.items()}
    deals = tables["deals"]
    open_deal = deals.index[~deals["is_closed"].astype(bool)][0]
    # 9 pm on 30 November in New York: December in UTC.
    deals.loc[open_deal, "close_date"] = pd.Timestamp("2026-12-01T02:00:00Z")
    as_of = business.as_of
    model = DealWinModel().fit(tables, as_of)
    month = {
        zone: model.predict(tables, as_of.tz_convert(zone)).set_index("deal_id")["close_month"]
        for zone in ("UTC", "America/New_York")
    }
    deal_id = deals.loc[open_deal, "deal_id"]
    assert month["UTC"][deal_id] == "2026-12"
    assert month["America/New_York"][deal_id] == "2026-11"


# -- a run ---------------------------------------------------------------------------------
def _csv_shop(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["order_id,contact_id,ordered_at,total,status"]
    for i in range(40):  # 40 customers, each with two orders
        rows.append(f"A{i},C{i},2026-10-{1 + i % 28:02d} 10:00,25.00,paid")
        rows.append(f"B{i},C{i},2026-11-{1 + i % 28:02d} 23:30,30.00,paid")
    (folder / "orders.csv").write_text("\n".join(rows) + "\n")
    return folder


def test_a_run_reads_and_counts_on_the_configured_clock(tmp_path: Path) -> None:
    folder = _csv_shop(tmp_path / "shop")
    as_of = pd.Timestamp("2026-11-30 00:45")  # the config's as_of: the business's clock
    with Store(tmp_path / "akl.sqlite") as store:
        result = run_pipeline(
            FilesSource(folder, {}, {}), store, RunOptions(RFM, as_of=as_of, time_zone=AKL)
        )
        stored = store.read("orders").set_index("order_id")["ordered_at"]
        assert store.zone_of(result.source) == AKL
    assert result.zone == BusinessZone(AKL, "set in the config")
    assert result.as_of == _utc("2026-11-29 11:45")  # 00:45 in Auckland (NZDT, +13)
    assert stored["B0"] == _utc("2026-11-01 10:30")  # 23:30 on 1 November there
    said = result.steps["rfm_segments"].notes["Segments"]
    assert "as of 2026-11-30" in said  # the business's date: UTC's is the 29th
    summary = dict(workbook_sheets(result)[0]["Summary"].itertuples(index=False))
    assert summary["Dates and times on the clock of"] == f"{AKL} (set in the config)"
    assert summary["Data up to"] == pd.Timestamp("2026-11-30")


def test_the_business_date_is_the_one_said(tmp_path: Path) -> None:
    """At 01:00 on 1 December in Auckland it is still 30 November in UTC."""
    folder = _csv_shop(tmp_path / "shop")
    as_of = pd.Timestamp("2026-11-30T12:00:00Z")
    with Store(tmp_path / "s.sqlite") as store:
        result = run_pipeline(
            FilesSource(folder, {}, {}), store, RunOptions(RFM, as_of=as_of, time_zone=AKL)
        )
    said = result.steps["rfm_segments"].notes["Segments"]
    assert "as of 2026-12-01" in said
    assert result.local_as_of.day == 1


def test_a_zone_set_later_reads_again_and_says_so(tmp_path: Path) -> None:
    folder = _csv_shop(tmp_path / "shop")
    as_of = pd.Timestamp("2026-12-02T00:00:00Z")
    with Store(tmp_path / "s.sqlite") as store:
        first = run_pipeline(FilesSource(folder, {}, {}), store, RunOptions(RFM, as_of=as_of))
        assert first.zone.name == "UTC" and "none set" in first.zone.why
        assert store.read("orders").set_index("order_id")["ordered_at"]["B0"] == _utc(
            "2026-11-01 23:30"
        )
        assert not [n for n in first.notices if n.check == ZONE_CHANGED]
        second = run_pipeline(
            FilesSource(folder, {}, {}), store, RunOptions(RFM, as_of=as_of, time_zone=AKL)
        )
        (said,) = [n for n in second.notices if n.check == ZONE_CHANGED]
        assert f"now read in {AKL} (set in the config), not UTC" in said.message
        # A file is read whole every run: its rows are now the Auckland instants.
        assert store.read("orders").set_index("order_id")["ordered_at"]["B0"] == _utc(
            "2026-11-01 10:30"
        )
        third = run_pipeline(
            FilesSource(folder, {}, {}), store, RunOptions(RFM, as_of=as_of, time_zone=AKL)
        )
        assert not [n for n in third.notices if n.check == ZONE_CHANGED]
    shown = CliRunner().invoke(
        cli, ["--log-file", str(tmp_path / "log"), "status", "--store", str(tmp_path / "s.sqlite")]
    )
    assert f"dates and times read on the clock of: {AKL}" in shown.output


# -- zones the sources keep ------------------------------------------------------------------
def test_the_hubspot_portals_zone_is_used_and_a_change_reads_the_account_again(
    sample_hub: HubSpotEmulator, tmp_path: Path
) -> None:
    sample_hub.state.time_zone = "America/Chicago"
    at = datetime.now(tz=UTC)
    with Store(tmp_path / "hub.sqlite") as store:
        first = hubspot_run(sample_hub, store, at, RunOptions(RFM))
        assert first.zone == BusinessZone("America/Chicago", "the HubSpot account's")
        contacts = len(store.read("contacts"))
        assert contacts > 0
        again = hubspot_run(sample_hub, store, at, RunOptions(RFM))
        assert again.loaded.get("contacts", 0) < contacts  # incremental: only what changed
        assert not [n for n in again.notices if n.check == ZONE_CHANGED]
        sample_hub.state.time_zone = "Europe/Berlin"  # the portal's setting changed
        moved = hubspot_run(sample_hub, store, at, RunOptions(RFM))
        (said,) = [n for n in moved.notices if n.check == ZONE_CHANGED]
        assert "Europe/Berlin (the HubSpot account's), not America/Chicago" in said.message
        assert "every record is read again" in said.message
        assert moved.loaded["contacts"] == contacts  # the whole account, read again
        assert store.zone_of(moved.source) == "Europe/Berlin"
        # The config's zone comes first.
        told = hubspot_run(sample_hub, store, at, RunOptions(RFM, time_zone="Europe/Berlin"))
        assert told.zone == BusinessZone("Europe/Berlin", "set in the config")
        assert not [n for n in told.notices if n.check == ZONE_CHANGED]


def test_a_portal_that_does_not_say_keeps_the_zone_read_last() -> None:
    class Quiet:
        zone_words = "the HubSpot account's"

        def time_zone(self) -> str | None:
            return None

    assert business_zone(None, Quiet(), "Europe/Berlin") == BusinessZone(
        "Europe/Berlin", "the HubSpot account's, as last read"
    )
    assert business_zone(None, Quiet()).name == "UTC"
    assert business_zone(None, object(), "Europe/Berlin").name == "UTC"  # a file keeps none
    assert business_zone("Asia/Tokyo", Quiet(), "Europe/Berlin").name == "Asia/Tokyo"


def _sheet_run(tmp_path: Path, zone: str) -> tuple[Any, pd.Series]:
    """A run on a spreadsheet whose own zone is ``zone``: 70 orders at 23:30 in October."""
    clock = FakeClock()
    with SheetsEmulator(clock=clock) as emu:
        rows = [["order_id", "contact_id", "ordered_at", "total"]]
        rows += [[f"O{i}", f"C{i % 35}", f"2026-10-{1 + i % 28:02d} 23:30", 20] for i in range(70)]
        book = emu.state.create("1ZoneBook".ljust(39, "0"), "Shop", {"orders": rows})
        book.time_zone = zone
        api = SheetsApi(Secret(json.dumps(make_service_account(emu))), api_url=emu.url, clock=clock)
        with Store(tmp_path / "sheets.sqlite") as store:
            result = run_pipeline(
                SheetsSource(api, book.spreadsheet_id),
                store,
                RunOptions(RFM, as_of=pd.Timestamp("2026-11-05T00:00:00Z")),
            )
            return result, store.read("orders").set_index("order_id")["ordered_at"]


def test_a_spreadsheets_own_zone_reads_its_dates(tmp_path: Path) -> None:
    result, stored = _sheet_run(tmp_path, "America/New_York")
    assert result.zone == BusinessZone("America/New_York", "the spreadsheet's")
    assert stored["O0"] == _utc("2026-10-02 03:30")  # 23:30 EDT on 1 October


def test_in_zone_of_nothing_is_nothing() -> None:
    empty = pd.Series([], dtype="datetime64[ns]")
    assert in_zone(empty, LA).empty


def test_a_hubspot_date_property_keeps_its_day_west_of_utc(
    sample_hub: HubSpotEmulator, tmp_path: Path
) -> None:
    """HubSpot keeps a date property as that day's midnight UTC: read as that instant, a
    Los Angeles portal's "31 October" was the 30th there."""
    state = sample_hub.state
    spec = {"name": "signup_date", "label": "Signup date", "type": "date", "fieldType": "date",
            "groupName": "contactinformation"}  # fmt: skip
    state.properties["contacts"]["signup_date"] = property_shape(
        spec, "contacts", state.groups["contacts"]
    )
    midnight = int(pd.Timestamp("2026-10-31", tz="UTC").timestamp() * 1000)
    typed = state.add("contacts", {"email": "day@example.com", "signup_date": "2026-10-31"})
    as_ms = state.add("contacts", {"email": "ms@example.com", "signup_date": str(midnight)})
    state.time_zone = LA
    mapped = partial(HubSpotSource, mapping={"contacts": {"created_at": "signup_date"}})
    with Store(tmp_path / "hub.sqlite") as store:
        hubspot_run(sample_hub, store, datetime.now(tz=UTC), RunOptions(RFM), source=mapped)  # type: ignore[arg-type]
        created = store.read("contacts").set_index("contact_id")["created_at"]
    for record in (typed, as_ms):
        assert created[record.id] == _utc("2026-10-31 07:00")  # midnight in Los Angeles
        assert wall_clock(pd.Series([created[record.id]]), LA)[0] == pd.Timestamp("2026-10-31")


def test_offsets_in_an_export_suggest_setting_the_zone(tmp_path: Path) -> None:
    """Shopify writes each order's time with its offset; with no zone set those instants
    are counted on UTC's days, which the run now says, with the zones that fit."""
    folder = tmp_path / "shopify"
    folder.mkdir()
    fixture = Path(__file__).parent / "fixtures" / "layouts" / "shopify_orders_export_1.csv"
    text = fixture.read_text(encoding="utf-8").replace("+0100", "+0200")  # one Paris shop
    (folder / "orders_export_1.csv").write_text(text, encoding="utf-8")
    as_of = pd.Timestamp("2025-10-31T00:00:00Z")
    with Store(tmp_path / "a.sqlite") as store:
        unset = run_pipeline(FilesSource(folder, {}, {}), store, RunOptions(RFM, as_of=as_of))
    (said,) = [n for n in unset.notices if n.check == ZONE_UNSET]
    assert "carry the UTC offset +02:00 (as in " in said.message
    assert "Europe/Berlin" in said.message  # and Africa/Maputo: October alone fits both
    assert "counted in UTC" in said.message
    with Store(tmp_path / "b.sqlite") as store:
        told = run_pipeline(
            FilesSource(folder, {}, {}),
            store,
            RunOptions(RFM, as_of=as_of, time_zone="Europe/Paris"),
        )
    assert not [n for n in told.notices if n.check == ZONE_UNSET]
    with Store(tmp_path / "c.sqlite") as store:  # times without an offset say nothing
        plain = run_pipeline(
            FilesSource(_csv_shop(tmp_path / "plain"), {}, {}), store, RunOptions(RFM, as_of=as_of)
        )
    assert not [n for n in plain.notices if n.check == ZONE_UNSET]
    assert offsets_hint(
        pd.Series(["2025-01-01 10:00:00 +1300", "2025-07-01 10:00 +1200"]), "T"
    ) == (
        "T carry the UTC offsets +12:00 and +13:00 (as in Pacific/Auckland), and no time_zone "
        "is set, so their days, weeks and months are counted in UTC: an evening order may "
        'fall on the next day. Set time_zone = "Pacific/Auckland" at the top of the config '
        "to count them on your clock."
    )
    assert offsets_hint(pd.Series(["2025-01-01T10:00:00Z", "2025-02-01 10:00"]), "T") is None
    # The main zone of a region comes first; hours alone are an offset too.
    eastern = offsets_hint(pd.Series(["2025-01-06 10:00 -0500", "2025-07-07 10:00-04"]), "T")
    assert eastern is not None and "(as in America/New_York, America/Toronto," in eastern
    # A date that cannot be read is no evidence of its offset, nor of any zone.
    assert offsets_hint(pd.Series(["2025-13-45 09:50 +0200"]), "T") is None
    mixed = offsets_hint(pd.Series(["2025-10-07 09:50 +0200", "2025-13-45 09:50 -0500"]), "T")
    assert mixed is not None and "-05:00" not in mixed


def test_a_square_rows_own_zone_makes_it_an_exact_moment(tmp_path: Path) -> None:
    """Square writes each row on its location's clock and names it in words ("Pacific
    Time (US & Canada)"): that row is 15:14 UTC whatever zone the business sets."""
    folder = tmp_path / "square"
    folder.mkdir()
    fixture = Path(__file__).parent / "fixtures" / "layouts"
    name = "transactions-2025-10-01-2025-10-31.csv"
    (folder / name).write_bytes((fixture / name).read_bytes())
    as_of = pd.Timestamp("2025-11-01T00:00:00Z")
    stored = {}
    for zone in (None, "Europe/London"):
        with Store(tmp_path / f"{zone}.sqlite".replace("/", "-")) as store:
            result = run_pipeline(
                FilesSource(folder, {}, {}), store, RunOptions(RFM, as_of=as_of, time_zone=zone)
            )
            stored[zone] = store.read("orders").set_index("order_id")["ordered_at"]
        hinted = [n.message for n in result.notices if n.check == ZONE_UNSET]
        if zone is None:  # no zone set: the rows' own offsets suggest one
            assert "-07:00" in hinted[0] and "America/Los_Angeles" in hinted[0]
        else:
            assert not hinted
    assert stored[None]["T1aa"] == _utc("2025-10-02 15:14:09")  # 08:14:09 PDT
    pd.testing.assert_series_equal(stored[None], stored["Europe/London"])


def test_zones_named_in_words() -> None:
    assert zone_of_words("Pacific Time (US & Canada)") == LA
    assert zone_of_words(" eastern time (us & canada) ") == "America/New_York"
    assert zone_of_words("Buenos Aires") == "America/Argentina/Buenos_Aires"
    assert zone_of_words("Europe/Paris") == "Europe/Paris"
    assert zone_of_words("Wellington") == "Pacific/Auckland"  # no zone of its name
    assert zone_of_words("Springfield") is None  # nowhere known: left as written
    # names the tz database keeps only as links of another country's zone (Copenhagen has
    # run on Berlin's rules since 2022b): read, and said by the name the user knows
    assert zone_of_words("Copenhagen") == "Europe/Copenhagen"
    assert zone_of_words("Oslo") == "Europe/Oslo"
    assert zone_of_words("Eastern") is None  # "US/Eastern"'s last word alone names no city


# Square's exports name a row's zone as Rails' ActiveSupport::TimeZone does (its 151
# names, rails/rails activesupport/lib/active_support/values/time_zone.rb), with the
# offset each had in January and July 2026 per the tz database (+h, as Rails shows them).
SQUARE_NAMES = {
    "International Date Line West": (-11, -11), "Hawaii": (-10, -10), "Alaska": (-9, -8),
    "Mountain Time (US & Canada)": (-7, -6), "Arizona": (-7, -7), "Saskatchewan": (-6, -6),
    "Central America": (-6, -6), "Indiana (East)": (-5, -4), "Newfoundland": (-3.5, -2.5),
    "Georgetown": (-4, -4), "Greenland": (-2, -1), "Mid-Atlantic": (-2, -2),
    "Cape Verde Is.": (-1, -1), "Edinburgh": (0, 1), "Monrovia": (0, 0),
    "West Central Africa": (1, 1), "Copenhagen": (1, 2), "Ljubljana": (1, 2),
    "Kyiv": (2, 3), "Pretoria": (2, 2), "St. Petersburg": (3, 3), "Abu Dhabi": (4, 4),
    "Ekaterinburg": (5, 5), "Astana": (5, 5), "Sri Jayawardenepura": (5.5, 5.5),
    "Kathmandu": (5.75, 5.75), "Rangoon": (6.5, 6.5), "Hanoi": (7, 7), "Chongqing": (8, 8),
    "Sapporo": (9, 9), "Canberra": (11, 10), "Solomon Is.": (11, 11),
    "Marshall Is.": (12, 12), "Nuku'alofa": (13, 13), "Tokelau Is.": (13, 13),
    "Chatham Is.": (13.75, 12.75), "Samoa": (13, 13),
}  # fmt: skip


@pytest.mark.parametrize("words", sorted(SQUARE_NAMES))
def test_every_zone_square_names_is_read_on_its_clock(words: str) -> None:
    zone = zone_of_words(words)
    assert zone is not None
    hours = [
        pd.Timestamp(f"2026-{m}-15 12:00").tz_localize(zone).utcoffset().total_seconds() / 3600
        for m in ("01", "07")
    ]
    assert tuple(hours) == SQUARE_NAMES[words]


# -- what people read, where the business's date is not UTC's --------------------------------
def test_every_date_a_run_shows_is_the_business_one(tmp_path: Path) -> None:
    """At 01:00 on 1 December in Auckland (12:00 on 30 November in UTC): the Summary,
    the Segments tab and the future-dates check all say Auckland's dates."""
    folder = _csv_shop(tmp_path / "shop")
    with open(folder / "orders.csv", "a") as f:  # 00:30 on 3 December there: the 2nd in UTC
        f.write("LATE,C1,2026-12-03 00:30,10.00,paid\n")
    as_of = pd.Timestamp("2026-11-30T12:00:00Z")
    with Store(tmp_path / "s.sqlite") as store:
        result = run_pipeline(
            FilesSource(folder, {}, {}), store, RunOptions(RFM, as_of=as_of, time_zone=AKL)
        )
    sheets = workbook_sheets(result)[0]
    summary = dict(sheets["Summary"].itertuples(index=False))
    assert summary["Data up to"] == pd.Timestamp("2026-12-01")
    last = sheets["Segments"].set_index("contact_id")["last_order_at"]
    assert last["C0"] == pd.Timestamp("2026-11-01 23:30")  # as the shop saw it
    (late,) = [n.message for n in result.notices if n.check == "future_dates"]
    assert (
        "after 01:00 Pacific/Auckland time on 1 December 2026 (the run's time), e.g. 2026-12-03"
        in late
    )
    rejected = result.rejects[result.rejects["action"] == "row not used"]
    assert list(rejected["value"]) == ["2026-12-03 00:30"]
    assert "01:00 Pacific/Auckland time on 1 December 2026" in rejected["reason"].iloc[0]


def test_the_stale_data_date_is_the_business_one(tmp_path: Path) -> None:
    """Its advice is to set as_of to that date: in UTC it was the day before the order."""
    folder = tmp_path / "old"
    folder.mkdir()
    rows = ["order_id,contact_id,ordered_at,total"]
    rows += [f"O{i},C{i},2026-03-15 09:00,20.00" for i in range(40)]
    (folder / "orders.csv").write_text("\n".join(rows) + "\n")
    as_of = pd.Timestamp("2026-07-01")
    with Store(tmp_path / "s.sqlite") as store:
        result = run_pipeline(
            FilesSource(folder, {}, {}), store, RunOptions(RFM, as_of=as_of, time_zone=AKL)
        )
    (said,) = [n.message for n in result.notices if n.check == "data_ends_early"]
    assert said.startswith("The newest order is dated 2026-03-15,")


def test_price_weeks_are_the_business_ones() -> None:
    """00:30 on Monday 8 June in Auckland is still Sunday in UTC: the Monday's week."""
    lines = pd.DataFrame(
        {
            "order_id": ["O1", "O2"],
            "line_no": 1,
            "product_id": "BEANS",
            "quantity": 2.0,
            "unit_price": 12.0,
            "discount": 0.0,
            "ordered_at": [
                pd.Timestamp("2026-06-01T12:00:00+12:00"),
                pd.Timestamp("2026-06-08T00:30:00+12:00"),
            ],
        }
    )
    as_of = pd.Timestamp("2026-06-30T12:00:00+12:00")
    local = weekly_prices(lines, None, as_of.tz_convert(AKL)).frame
    utc = weekly_prices(lines, None, as_of.tz_convert("UTC")).frame
    assert list(local.loc[local["units"] > 0, "week"]) == [
        pd.Timestamp("2026-06-01"),
        pd.Timestamp("2026-06-08"),
    ]
    assert len(utc[utc["units"] > 0]) == 1  # both in the week of 1 June on UTC's calendar


def test_a_deal_tab_shows_the_business_close_date_and_month(business: Any) -> None:
    tables = {k: v.copy() for k, v in business.tables.items()}
    deals = tables["deals"]
    open_deal = deals.index[~deals["is_closed"].astype(bool)][0]
    deals.loc[open_deal, "close_date"] = pd.Timestamp("2026-12-01T02:00:00Z")  # 9 pm on 30 Nov
    context = StepContext(as_of=business.as_of.tz_convert("America/New_York"))
    shown = deal_step(tables, context).sheets["Deal win chances"].set_index("deal_id")
    assert shown.loc[deals.loc[open_deal, "deal_id"], "close_date"] == pd.Timestamp("2026-11-30")


def test_one_zone_under_two_names_is_no_change(sample_hub: HubSpotEmulator, tmp_path: Path) -> None:
    """HubSpot says "US/Eastern"; a config saying "America/New_York" names the same clock
    and must not read the whole account again."""
    assert same_zone("US/Eastern", "America/New_York")
    assert same_zone("Etc/GMT", "UTC")
    assert not same_zone("Europe/Paris", "Europe/Berlin")
    sample_hub.state.time_zone = "US/Eastern"
    at = datetime.now(tz=UTC)
    with Store(tmp_path / "hub.sqlite") as store:
        hubspot_run(sample_hub, store, at, RunOptions(RFM))
        contacts = len(store.read("contacts"))
        named = hubspot_run(sample_hub, store, at, RunOptions(RFM, time_zone="America/New_York"))
        assert not [n for n in named.notices if n.check == ZONE_CHANGED]
        assert named.loaded.get("contacts", 0) < contacts  # incremental, not the account again
        assert store.zones() == {named.source: "America/New_York"}  # as the run names it


def test_a_sheets_custom_offset_is_read_and_an_unknown_zone_is_said() -> None:
    """Sheets allows "a custom time zone such as GMT-07:00"."""

    class Sheet:
        zone_words = "the spreadsheet's"

        def __init__(self, zone: str) -> None:
            self.zone = zone

        def time_zone(self) -> str | None:
            return self.zone

    assert business_zone(None, Sheet("GMT-07:00")) == BusinessZone("UTC-07:00", "the spreadsheet's")
    assert business_zone(None, Sheet("GMT+05:30")).name == "UTC+05:30"
    assert read_dates(pd.Series(["2026-10-31 23:30"]), zone="UTC-07:00").values[0] == _utc(
        "2026-11-01 06:30"
    )
    odd = business_zone(None, Sheet("Asia/Nowhere"), "Asia/Kolkata")
    assert (odd.name, odd.unread) == ("Asia/Kolkata", "Asia/Nowhere")
    assert odd.why == "the spreadsheet's zone 'Asia/Nowhere' cannot be read here, as last read"
    assert business_zone(None, Sheet("Mars/Olympus")).name == "UTC"


def test_a_saved_value_model_keeps_the_business_days(business: Any) -> None:
    orders = business.tables["orders"]
    as_of = business.as_of.tz_convert(AKL)
    model = CustomerValueModel(candidates=("bgnbd",)).fit(orders, as_of)
    again = CustomerValueModel.from_text(model.to_text())
    assert str(again.as_of_.tz) == AKL
    pd.testing.assert_frame_equal(model.predict(orders=orders), again.predict(orders=orders))


def test_a_deals_month_feature_is_the_business_month(business: Any) -> None:
    tables = {k: v.copy() for k, v in business.tables.items()}
    at = pd.Timestamp("2026-11-30T20:00:00Z")  # 09:00 on 1 December in Auckland
    local = deal_scoring_frame(tables, at.tz_convert(AKL))["month"]
    assert set(local) == {12.0}
    assert set(deal_scoring_frame(tables, at)["month"]) == {11.0}


def test_a_zone_the_sheet_keeps_that_cannot_be_read_is_said(tmp_path: Path) -> None:
    result, _ = _sheet_run(tmp_path, "Asia/Nowhere")  # newer than this zone database
    (said,) = [n.message for n in result.notices if n.check == ZONE_UNREAD]
    assert said.startswith(
        "Times written without a time zone are read in UTC (the spreadsheet's zone "
        "'Asia/Nowhere' cannot be read here): set time_zone"
    )


def test_the_report_and_the_sheet_say_the_business_date(tmp_path: Path) -> None:
    folder = _csv_shop(tmp_path / "shop")
    as_of = pd.Timestamp("2026-11-30T12:00:00Z")  # 01:00 on 1 December in Auckland
    with Store(tmp_path / "s.sqlite") as store:
        result = run_pipeline(
            FilesSource(folder, {}, {}), store, RunOptions(RFM, as_of=as_of, time_zone=AKL)
        )
    assert "1 December 2026" in render_report(result)  # as people write it: no "01"
    assert "30 November 2026" not in render_report(result)


def test_the_offsets_notice_is_said_once_however_many_pages() -> None:
    result = RunResult(run_id=1, as_of=_utc("2026-01-01"), source="files")
    page = pd.DataFrame({"ordered_at": ["2025-10-07 09:50:26 +0200"]})
    _offsets_said(result, "orders", page)
    _offsets_said(result, "orders", page)  # the second page of a large file
    assert [n.check for n in result.notices] == [ZONE_UNSET]


def test_a_square_row_without_its_zone_takes_the_files(tmp_path: Path) -> None:
    folder = tmp_path / "square"
    folder.mkdir()
    name = "transactions-2025-10-01-2025-10-31.csv"
    text = (Path(__file__).parent / "fixtures" / "layouts" / name).read_text(encoding="utf-8")
    lines = text.splitlines()
    lines[1] = lines[1].replace("Pacific Time (US & Canada)", "", 1)  # T1aa: blank zone
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    with Store(tmp_path / "s.sqlite") as store:
        run_pipeline(FilesSource(folder, {}, {}), store, RunOptions(RFM))
        stored = store.read("orders").set_index("order_id")["ordered_at"]
    assert stored["T1aa"] == _utc("2025-10-02 15:14:09")  # Pacific, as its file's other rows


def test_a_result_tab_says_the_business_date(tmp_path: Path) -> None:
    """Each Sheets tab's first line says whose data it holds: up to Auckland's date."""
    folder = _csv_shop(tmp_path / "shop")
    clock = FakeClock()
    with SheetsEmulator(clock=clock) as emu:
        book = emu.state.create("1ResultsBook".ljust(39, "0"), "Results", {"Notes": [["mine"]]})
        api = SheetsApi(Secret(json.dumps(make_service_account(emu))), api_url=emu.url, clock=clock)
        with Store(tmp_path / "s.sqlite") as store:
            run_pipeline(
                FilesSource(folder, {}, {}),
                store,
                RunOptions(RFM, as_of=pd.Timestamp("2026-11-30T12:00:00Z"), time_zone=AKL),
                [SheetsResults(api, book.spreadsheet_id, clock=clock)],
            )
        first = emu.state.values_get(book.spreadsheet_id, "'Scores'!A1")["values"][0][0]
    assert "data up to 2026-12-01)" in str(first)


@pytest.mark.parametrize(
    ("configured", "hinted"), [(None, True), ("UTC", False), ("Etc/UTC", False)]
)
def test_the_clock_hint_is_for_a_shop_that_set_no_zone(
    tmp_path: Path, configured: str | None, hinted: bool
) -> None:
    """Two orders typed at 09:10 and 11:40 on a run at 08:00 UTC: a shop east of UTC that
    set no zone may be reading its own clock as UTC, so the run says how to set it; a shop
    that wrote `time_zone = "UTC"` chose UTC, and the hint told it to set what it had set."""
    folder = _csv_shop(tmp_path / "shop")
    with open(folder / "orders.csv", "a") as f:
        f.write("L1,C1,2026-12-01 09:10,18.50,paid\nL2,C7,2026-12-01 11:40,42.00,paid\n")
    as_of = pd.Timestamp("2026-12-01T08:00:00Z")
    with Store(tmp_path / "s.sqlite") as store:
        result = run_pipeline(
            FilesSource(folder, {}, {}), store, RunOptions(RFM, as_of=as_of, time_zone=configured)
        )
    (late,) = [n.message for n in result.notices if n.check == "future_dates"]
    assert late.startswith("2 orders dated after")
    assert ("If those times are your shop's own clock" in late) == hinted
