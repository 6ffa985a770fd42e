"""Google Sheets in and out through gspread against the emulator: read, write, quota, auth."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

import smbml_connect.connectors.gsheets.sheets as gsheets
from smbml_connect.cli import cli
from smbml_connect.connectors.gsheets.http import SheetsApi, SheetsLimits
from smbml_connect.connectors.gsheets.sheets import (
    ResultTab,
    SheetsResults,
    SheetsSource,
    spreadsheet_key,
    tab_requests,
)
from smbml_connect.credentials import Secret
from smbml_connect.errors import AuthError, ConfigError, SourceRetriableError
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.registry import parse_config
from smbml_connect.sample import SampleBusiness
from smbml_connect.schema import validate
from smbml_connect.steps import steps_by_name
from smbml_connect.store import Store
from smbml_connect.testing.clock import FakeClock
from smbml_connect.testing.faults import Fault
from smbml_connect.testing.sheets_emulator import SheetsEmulator, make_service_account
from smbml_connect.testing.sheets_sample import SAMPLE_KEY, TAB_TITLES, load_sample_sheets
from smbml_connect.testing.sheets_values import Cell, error_cell

CLOCK = FakeClock()  # the module's emulator and clients share it: waits take no wall time
NOTES_BEFORE = {"values": [["Our own notes: smbml must never touch this tab"]]}


@pytest.fixture(scope="module")
def emu(business: SampleBusiness) -> SheetsEmulator:
    with SheetsEmulator(clock=CLOCK) as emulator:
        load_sample_sheets(emulator.state, business, messy=True)
        yield emulator


@pytest.fixture
def key(emu: SheetsEmulator) -> Secret:
    CLOCK.advance(61)  # each test starts with a fresh minute of quota
    return Secret(json.dumps(make_service_account(emu)))


@pytest.fixture
def api(emu: SheetsEmulator, key: Secret) -> SheetsApi:
    return SheetsApi(key, api_url=emu.url, clock=CLOCK)  # Google's own numbers


def head_note(emu: SheetsEmulator, book_key: str, title: str) -> str:
    """A result tab's first line, as the user reads it."""
    return str(emu.state.values_get(book_key, f"'{title}'!A1")["values"][0][0])


def _fresh_book(emu: SheetsEmulator, business: SampleBusiness, spreadsheet: str) -> None:
    load_sample_sheets(emu.state, business, key=spreadsheet, messy=True)


def test_spreadsheet_key_from_url_or_key() -> None:
    url = f"https://docs.google.com/spreadsheets/d/{SAMPLE_KEY}/edit#gid=0"
    assert spreadsheet_key(url) == SAMPLE_KEY
    assert spreadsheet_key(f"  {SAMPLE_KEY} ") == SAMPLE_KEY
    with pytest.raises(ConfigError, match="neither a Google Sheets URL"):
        spreadsheet_key("my sheet")


def test_reads_every_table_in_two_requests(
    emu: SheetsEmulator, api: SheetsApi, business: SampleBusiness
) -> None:
    emu.reset_counts()
    source = SheetsSource(api, SAMPLE_KEY)
    assert source.available() == list(TAB_TITLES)  # "Notes" is not a table
    frames = {table: source.pull(table) for table in source.available()}
    assert emu.total() == 2  # metadata, then one values:batchGet of all five tabs
    assert source.header_mappings["contacts"].columns["E-mail Address"] == "email"
    contacts = validate("contacts", frames["contacts"], source=source.name)
    assert len(contacts.clean) == len(business.tables["contacts"])  # two duplicates rejected
    # A date typed into a cell arrives as a date, not as text in some locale's order.
    orders = validate("orders", frames["orders"], source=source.name)
    truth = business.tables["orders"].set_index("order_id")["total"]
    got = orders.clean.set_index("order_id")["total"]
    assert (got - truth.reindex(got.index)).abs().max() < 0.01


def test_rejects_name_the_sheet_row(emu: SheetsEmulator, api: SheetsApi) -> None:
    source = SheetsSource(api, SAMPLE_KEY)
    checked = validate("orders", source.pull("orders"), source=source.name)
    bad = checked.rejects[checked.rejects["value"] == "next Tuesday"].iloc[0]
    row = int(bad["source_row"])
    shown = emu.state.values_get(SAMPLE_KEY, f"Orders!A{row}:C{row}")["values"][0]
    assert shown[2] == "next Tuesday"  # the row number the user sees in the sheet


def test_leading_zeros_and_text_survive(emu: SheetsEmulator, api: SheetsApi) -> None:
    emu.state.create(
        "1LeadingZerosSpreadsheet0000000000000000",
        "Zeros",
        {"Customers": [["Customer ID", "Email", "Created"], ["'00123", "a@x.com", "2025-02-03"]]},
    )
    source = SheetsSource(api, "1LeadingZerosSpreadsheet0000000000000000")
    checked = validate("contacts", source.pull("contacts"), source="t")
    assert checked.clean["contact_id"].tolist() == ["00123"]
    assert checked.clean["created_at"].iloc[0] == pd.Timestamp("2025-02-03", tz="UTC")


def test_config_names_tabs_and_overrides_headers(emu: SheetsEmulator, api: SheetsApi) -> None:
    emu.state.create(
        "1OddNamesSpreadsheet0000000000000000000",
        "Odd",
        {"Leute": [["Kunde", "Mail"], ["K1", "k@x.com"]]},
    )
    source = SheetsSource(
        api,
        "1OddNamesSpreadsheet0000000000000000000",
        tables={"contacts": "Leute"},
        mappings={"contacts": {"Kunde": "contact_id", "Mail": "email"}},
    )
    frame = source.pull("contacts")
    assert {"contact_id", "email"} <= set(frame.columns)
    with pytest.raises(ConfigError, match="no tab 'People'"):
        SheetsSource(api, "1OddNamesSpreadsheet0000000000000000000", tables={"contacts": "People"}).available()  # fmt: skip


def test_a_tab_is_read_as_a_worksheet_is(
    emu: SheetsEmulator, api: SheetsApi, tmp_path: Path
) -> None:
    """Issue 23 for Sheets: a value right of the header rejects its row (not cut), blank,
    total and repeated header rows are listed as skipped, every row ends in one place."""
    key = "1DamagedTabSpreadsheet00000000000000000"
    emu.state.create(
        key,
        "Damaged",
        {
            "Orders": [
                ["Order ID", "Customer ID", "Order Date", "Total"],
                ["O1", "C1", "2025-01-02", 10],
                ["O2", "C2", "2025-01-03", 11, "a note without a header"],  # row 3
                ["", "", "", ""],  # row 4
                ["Order ID", "Customer ID", "Order Date", "Total"],  # row 5
                ["O3", "C1", "2025-01-04", 12],
                ["Total", "", "", 33],  # row 7
            ]
        },
    )
    with Store(tmp_path / "s.sqlite") as store:
        result = run_pipeline(SheetsSource(api, key), store, RunOptions(steps=[]))
        assert result.loaded["orders"] == 2
        listed = result.rejects.set_index("source_row")[["action", "reason"]]
        assert listed["action"].to_dict() == {
            3: "row rejected", 4: "row skipped", 5: "row skipped", 7: "row skipped",
        }  # fmt: skip
        assert "right of the last named column (Total)" in listed.loc[3, "reason"]
        assert listed.loc[7, "reason"] == "total row ('Total')"


def test_tabs_split_by_year_are_read_together_as_files_are(
    emu: SheetsEmulator, api: SheetsApi, tmp_path: Path
) -> None:
    """'Orders 2024' and 'Orders 2025' (no 'Orders' tab): only the first was read, and the
    other year was lost without a word. Both are read, each row naming its tab; a tab
    with other headers is not read, and said."""
    key = "1YearTabsSpreadsheet000000000000000000"
    header = ["Order ID", "Customer ID", "Order Date", "Total"]
    emu.state.create(
        key,
        "Years",
        {
            "Orders 2024": [header, ["O1", "C1", "2024-03-02", 10], ["O2", "C2", "2024-07-03", 11]],
            "Orders 2025": [header, ["O3", "C1", "2025-01-04", 12]],
            "Orders 2023": [["Order", "Customer", "Amount"], ["O0", "C1", 9]],
        },
    )
    source = SheetsSource(api, key)
    assert source.where("orders") == "Orders 2024, Orders 2025"
    with Store(tmp_path / "s.sqlite") as store:
        result = run_pipeline(source, store, RunOptions(steps=[]))
        assert result.loaded["orders"] == 3
        orders = store.read("orders").sort_values("order_id")
        assert orders["order_id"].tolist() == ["O1", "O2", "O3"]
        assert orders["extra"].str.contains("Orders 2025").sum() == 1
        said = [n.message for n in result.notices if n.check == "not_read"]
        assert len(said) == 1 and said[0].startswith("Tab 'Orders 2023' was not read")
        assert "headers differ" in said[0]


def test_an_unsubscribes_tab_opts_out_the_customers_it_names(
    emu: SheetsEmulator, api: SheetsApi, tmp_path: Path
) -> None:
    """An "Unsubscribes" tab (Email, Unsubscribed At) beside "Customers" was ignored: its
    people were segmented and their addresses written to the result tabs, while the
    files source applied the same list (a Sheets explorer)."""
    key = "1OptOutTabSpreadsheet00000000000000000"
    emu.state.create(
        key,
        "Opt-outs",
        {
            "Customers": [["Customer ID", "Email"], ["C1", "c1@x.com"], ["C2", "c2@x.com"],
                          ["C3", "c3@x.com"]],
            "Orders": [["Order ID", "Customer ID", "Order date", "Total"],
                       ["O1", "C1", "2025-01-02", 10], ["O2", "C2", "2025-01-03", 20],
                       ["O3", "C3", "2025-01-04", 30]],
            "Unsubscribes": [["Email", "Unsubscribed At"], ["C2@X.COM", "2025-06-01"]],
            "Notes": [["Call the roaster on Monday"]],
        },
    )  # fmt: skip
    with Store(tmp_path / "s.sqlite") as store:
        result = run_pipeline(SheetsSource(api, key), store, RunOptions(steps=[]))
    assert result.consent_skipped == 1
    (said,) = [n.message for n in result.notices if n.check == "opt_out_list"]
    assert said.startswith("Tab 'Unsubscribes' (") and "1 of its 1 address matched" in said


@pytest.mark.parametrize("tab", ["Opt-in", "Subscribed", "No"])
def test_a_tab_of_unsubscribes_named_like_consent_opts_them_out(
    emu: SheetsEmulator, api: SheetsApi, tmp_path: Path, tab: str
) -> None:
    """A newsletter sign-up tab ("Opt-in", "Subscribed") with the date each person
    unsubscribed: its name was read as consent, so its people were scored while the data
    check said they were opted out (find55 security 1). A list's name only adds opt-outs."""
    key = "1OptInTabSpreadsheet" + tab.replace("-", "").ljust(18, "0")
    emu.state.create(
        key,
        "Sign-ups",
        {
            "Customers": [["Customer ID", "Email"], ["C1", "c1@x.com"], ["C2", "c2@x.com"],
                          ["C3", "c3@x.com"]],
            "Orders": [["Order ID", "Customer ID", "Order date", "Total"],
                       ["O1", "C1", "2025-01-02", 10], ["O2", "C2", "2025-01-03", 20],
                       ["O3", "C3", "2025-01-04", 30], ["O4", "C3", "2025-02-09", 12]],
            tab: [["Email", "Signed up", "Unsubscribed At"], ["C2@X.COM", "2024-05-01", "2025-06-01"],
                  ["c3@x.com", "2024-05-02", ""]],
        },
    )  # fmt: skip
    with Store(tmp_path / "s.sqlite") as store:
        result = run_pipeline(SheetsSource(api, key), store, RunOptions(steps=[]))
    assert result.consent_skipped == 1
    (said,) = [n.message for n in result.notices if n.check == "opt_out_list"]
    assert said.startswith(f"Tab {tab!r} (") and "1 of its 1 address matched" in said
    (opted,) = [n.message for n in result.notices if n.check == "opt_out_column"]
    assert opted.startswith("1 contact opted out by the column 'Opt-out list'")


def test_dates_typed_day_first_in_a_us_spreadsheet_are_said_to_be_unsure(
    emu: SheetsEmulator, api: SheetsApi, tmp_path: Path
) -> None:
    """A European owner whose sheet kept Google's default locale (en_US) typed 06/01/2025:
    Sheets made it June 1 and kept 16/01/2025 as text, so 23 of 60 orders moved months
    with no word (a Sheets explorer). The values Sheets answers cannot tell which were
    typed how, so the run says so and what to do."""
    key = "1LocaleDatesSpreadsheet000000000000000"
    june_first = 45809.0  # what Sheets made of a typed 06/01/2025 in en_US
    emu.state.create(
        key,
        "Locale",
        {
            "Orders": [["Order ID", "Customer ID", "Order date", "Total"],
                       ["O1", "C1", june_first, 10], ["O2", "C2", "16/01/2025", 20],
                       ["O3", "C1", "21/01/2025", 30]],
        },
        locale="en_US",
    )  # fmt: skip
    with Store(tmp_path / "s.sqlite") as store:
        result = run_pipeline(SheetsSource(api, key), store, RunOptions(steps=[]))
    (said,) = [n for n in result.notices if n.check == "locale_dates"]
    assert said.count == 1 and "2 dates are typed day first (e.g. '16/01/2025')" in said.message
    assert "set to en_US" in said.message and "Locale" in said.message


@pytest.mark.parametrize(
    ("locale", "first"), [("en_GB", "2025-06-12"), ("de_DE", "2025-06-12"), ("en_US", "2025-12-06")]
)
def test_text_dates_no_value_decides_follow_the_spreadsheets_locale(
    emu: SheetsEmulator, api: SheetsApi, tmp_path: Path, locale: str, first: str
) -> None:
    """Order dates kept as text (a CSV pasted with "convert dates" off, a Plain text
    column), every day 12 or less: no value shows the order. In an en_GB spreadsheet
    12/06/2025 was read as 6 December, "because that is the default", though the
    spreadsheet's own locale writes the day first: 68 of 73 orders moved months in the
    probe (find57_sheets item 2). A month-first locale reads them month first, as before."""
    key = f"1LocaleTextDates{locale}".ljust(39, "0")
    texts = ["'12/06/2025", "'03/11/2025", "'07/02/2025", "'11/10/2025"]  # typed as text
    emu.state.create(
        key,
        "Locale",
        {"Orders": [["Order ID", "Customer ID", "Order date", "Total"],
                    *[[f"O{i}", f"C{i % 2}", text, 10 + i] for i, text in enumerate(texts)]]},
        locale=locale,
    )  # fmt: skip
    with Store(tmp_path / "s.sqlite") as store:
        result = run_pipeline(SheetsSource(api, key), store, RunOptions(steps=[]))
        orders = store.read("orders").sort_values("order_id")
    assert str(pd.Timestamp(orders["ordered_at"].iloc[0]).date()) == first
    (note,) = [r for r in result.rejects["reason"] if str(r).startswith("ordered_at: 4 dates")]
    if locale == "en_US":
        assert "read as month/day because that is the default" in note, note
    else:
        assert (
            f"read as day/month because the spreadsheet is set to {locale} "
            "(File > Settings > Locale)" in note
        ), note


def test_a_year_tab_with_headers_retyped_and_an_order_in_both_years_is_read(
    emu: SheetsEmulator, api: SheetsApi, tmp_path: Path
) -> None:
    """'Orders 2025' headed "order id" where 'Orders 2024' says "Order ID" was refused; the
    same order in both tabs crashed the run. Both tabs are read, and the order kept is
    named with its tab."""
    key = "1RetypedTabsSpreadsheet000000000000000"
    emu.state.create(
        key,
        "Retyped",
        {
            "Orders 2024": [
                ["Order ID", "Customer ID", "Order Date", "Total"],
                ["O1", "C1", "2024-03-02", 10],
                ["O2", "C2", "2024-07-03", 11],
            ],
            "Orders 2025": [
                ["order id", "customer id", "order date", "TOTAL"],
                ["O3", "C1", "2025-01-04", 12],
                ["O2", "C2", "2024-07-03", 11],
            ],
        },
    )
    source = SheetsSource(api, key)
    assert source.where("orders") == "Orders 2024, Orders 2025"
    with Store(tmp_path / "s.sqlite") as store:
        result = run_pipeline(source, store, RunOptions(steps=[]))
        assert sorted(store.read("orders")["order_id"]) == ["O1", "O2", "O3"]
        (said,) = result.rejects[result.rejects["column"] == "order_id"]["reason"]
        assert said.startswith("duplicate order_id; Orders 2025 row 3 has the same key")
        assert said.endswith("this row had the same values")


def test_an_empty_or_old_layout_tab_first_does_not_decide_the_table(
    emu: SheetsEmulator, api: SheetsApi, tmp_path: Path
) -> None:
    """A new year's tab added on the left: an empty 'Orders 2026', then 'Orders 2023' in an
    old layout, then 2024 and 2025 alike. The two alike are read; the others are said."""
    key = "1LeftTabsSpreadsheet000000000000000000"
    header = ["Order ID", "Customer ID", "Order Date", "Total"]
    emu.state.create(
        key,
        "Left",
        {
            "Orders 2026": [],
            "Orders 2023": [["Order", "Customer", "Amount"], ["O0", "C1", 9]],
            "Orders 2024": [header, ["O1", "C1", "2024-03-02", 10]],
            "Orders 2025": [header, ["O3", "C1", "2025-01-04", 12]],
            "Customers": [["Customer ID", "Email"], ["C1", "a@example.com"]],
        },
    )
    source = SheetsSource(api, key)
    assert source.where("orders") == "Orders 2024, Orders 2025"
    with Store(tmp_path / "s.sqlite") as store:
        result = run_pipeline(source, store, RunOptions(steps=[]))
        assert sorted(store.read("orders")["order_id"]) == ["O1", "O3"]
        said = sorted(n.message for n in result.notices if n.check == "not_read")
        assert said[0].startswith("Tab 'Orders 2023' was not read") and "differ" in said[0]
        assert said[1] == "Tab 'Orders 2026' was not read: it is empty (no header row)."
    emu.state.create(
        "1EmptyNamedTabSpreadsheet0000000000000",
        "Empty named",
        {"Orders": [], "Orders 2025": [header, ["O3", "C1", "2025-01-04", 12]]},
    )
    empty_named = SheetsSource(api, "1EmptyNamedTabSpreadsheet0000000000000")
    assert empty_named.where("orders") == "Orders 2025"


def test_a_known_export_pasted_into_a_tab_is_read_by_its_layout(
    emu: SheetsEmulator, api: SheetsApi
) -> None:
    """A Shopify customers export pasted into a Customers tab: detected by its headers and
    read with its own rules, exactly as the files source reads the CSV."""
    import csv

    from smbml_connect.connectors.files.source import FilesSource

    path = Path(__file__).parent / "fixtures" / "layouts" / "customers_export.csv"
    rows = [list(r) for r in csv.reader(path.read_text(encoding="utf-8").splitlines())]
    key = "1PastedExportSpreadsheet000000000000000"
    emu.state.create(key, "Pasted", {"Customers": rows})
    source = SheetsSource(api, key)
    frame = source.pull("contacts")
    assert source.header_mappings["contacts"].layout == "Shopify customers export"
    from_sheet = validate("contacts", frame, source="s").clean
    files = FilesSource(path, {"contacts": path.name})
    from_file = validate("contacts", files.pull("contacts"), source="s").clean
    assert from_sheet["marketing_consent"].notna().any()
    columns = [c for c in from_file.columns if c != "extra"]  # cells arrive typed from Sheets
    pd.testing.assert_frame_equal(from_sheet[columns], from_file[columns])


def test_a_square_export_pasted_into_a_tab_keeps_its_dates_and_times(
    emu: SheetsEmulator, api: SheetsApi
) -> None:
    """Square's item sales imported into Sheets: each Date is a date cell (a day number
    to the API) and each Time a time cell (a fraction of a day; one left as typed text).
    Every row was rejected as "45810 08:00:00 is not a date we can read"."""
    import csv

    from smbml_connect.connectors.files.source import FilesSource

    path = Path(__file__).parent / "fixtures" / "layouts" / "items-2025-10-01-2025-10-31.csv"
    rows = [list(r) for r in csv.reader(path.read_text(encoding="utf-8").splitlines())]
    key = "1PastedSquareSpreadsheet000000000000000"
    book = emu.state.create(key, "Cafe", {"Orders": rows})
    cells = book.sheet("Orders").cells
    assert cells[(1, 0)].number_type == "DATE"  # the Date column became dates
    for r, row in enumerate(rows[1:4], start=1):
        h, m, sec = (int(x) for x in row[1].split(":"))
        cells[(r, 1)] = Cell(value=(h * 3600 + m * 60 + sec) / 86_400, number_type="TIME",
                             pattern="hh:mm:ss")  # fmt: skip
    from_sheet = validate("orders", SheetsSource(api, key).pull("orders"), source="s")
    files = FilesSource(path, {"orders": path.name})
    from_file = validate("orders", files.pull("orders"), source="s")
    assert from_sheet.rejected_rows == 0
    when = [x.clean.set_index("order_id")["ordered_at"] for x in (from_sheet, from_file)]
    pd.testing.assert_series_equal(*when)
    assert when[0]["T2bb"] == pd.Timestamp("2025-10-02 16:40:55", tz="UTC")  # 09:40 Pacific


def _run(api: SheetsApi, spreadsheet: str, tmp_path: Path, steps: Any = None) -> Any:
    from smbml_connect.steps import STEPS

    source = SheetsSource(api, spreadsheet)
    destination = SheetsResults(api, spreadsheet, clock=CLOCK)
    with Store(tmp_path / "store.sqlite") as store:
        return run_pipeline(source, store, RunOptions(steps=steps or STEPS), [destination])


@pytest.mark.slow
def test_refresh_writes_result_tabs_one_request_each(
    emu: SheetsEmulator, api: SheetsApi, business: SampleBusiness, tmp_path: Path
) -> None:
    book_key = "1RefreshSpreadsheet00000000000000000000"
    _fresh_book(emu, business, book_key)
    book = emu.state.book(book_key)
    # A user's own tab called "Scores": never touched; ours goes beside it.
    book.sheets[0].title = "Scores"
    user_cells = dict(book.sheets[0].cells)
    emu.reset_counts()
    result = _run(api, book_key, tmp_path)
    assert result.status == "ok"
    assert emu.total("POST batch_update") == 5  # one per result tab
    assert emu.total("GET") == 3  # metadata and values to read, metadata to write
    book = emu.state.book(book_key)
    assert book.sheets[0].title == "Scores" and book.sheets[0].cells == user_cells
    titles = [s.title for s in book.sheets]
    assert titles[-5:] == ["Scores (smbml)", "Segments", "Forecast", "Prices", "Rejects"]
    scores = book.sheet("Scores (smbml)")
    assert scores.frozen_rows == 2
    marks = {m["metadataKey"]: m["metadataValue"] for m in scores.metadata}
    assert marks[gsheets.METADATA_KEY] == "scores" and len(scores.metadata) == 4
    assert marks[gsheets.REFRESHED_KEY] in head_note(emu, book_key, "Scores (smbml)")
    head = emu.state.values_get(book_key, "'Scores (smbml)'!A1:J3", "UNFORMATTED_VALUE")["values"]
    assert head[0][0].startswith(f"Last refreshed {CLOCK.now():%Y-%m-%d %H:%M} UTC (run ")
    assert head[1][:5] == ["Contact ID", "Name", "Email", "Kind", "Lead score"]
    header_cell = scores.cells[(1, 0)]
    assert ("textFormat", repr(gsheets._HEADER_FORMAT["textFormat"])) in header_cell.style
    shown = emu.state.values_get(book_key, "'Scores (smbml)'!A3:J3")["values"][0]
    assert shown[4].isdigit()  # a score of 64 shows as "64"
    forecast = book.sheet("Forecast")
    assert len(forecast.charts) == 1
    month = forecast.cells[(2, 2)]
    assert month.number_type == "DATE" and isinstance(month.value, float)  # a real date
    rejects = emu.state.values_get(book_key, "Rejects!A3:G20", "UNFORMATTED_VALUE")["values"]
    assert any("next Tuesday" in row for row in rejects)

    # Second refresh: the same tabs rewritten in place (found by metadata, even renamed).
    forecast.title = "My forecast"
    emu.reset_counts()
    again = _run(api, book_key, tmp_path, steps=steps_by_name(["rfm_segments"]))
    assert again.status == "ok"
    book = emu.state.book(book_key)
    assert [s.title for s in book.sheets].count("Segments") == 1
    assert "Forecast" not in [s.title for s in book.sheets]
    assert book.sheet("My forecast").charts == []  # no forecast this time: old chart gone
    assert (
        "Nothing to show this run"
        in emu.state.values_get(book_key, "'My forecast'!A1")["values"][0][0]
    )
    assert emu.total("POST batch_update") == 5


def test_text_from_a_crm_is_never_a_formula(emu: SheetsEmulator, api: SheetsApi) -> None:
    book_key = "1FormulaSpreadsheet00000000000000000000"
    emu.state.create(book_key, "F", {"Sheet1": [["x"]]})
    frame = pd.DataFrame(
        {
            "name": ['=HYPERLINK("http://evil.example","click")', "+1 555 0100", "-5 apples"],
            "amount": [1.5, 2.0, None],
            "when": pd.to_datetime(["2025-01-02", None, "2025-03-04"], utc=True),
            "ok": [True, False, None],
        }
    )
    tab = ResultTab("scores", "Scores", frame)
    for requests in tab_requests(tab, 77, None, "now"):
        api.client.http_client.batch_update(book_key, {"requests": requests})
    formulas = emu.state.values_get(book_key, "Scores!A3:D5", "FORMULA")["values"]
    assert [row[0] for row in formulas] == [frame["name"][0], "+1 555 0100", "-5 apples"]
    assert all(cell.formula is None for cell in emu.state.book(book_key).sheet("Scores").cells.values())  # fmt: skip
    shown = emu.state.values_get(book_key, "Scores!B3:D5")["values"]
    assert shown[0] == ["1.50", "2025-01-02", "Yes"]
    assert shown[2][0] == ""  # a missing value is an empty cell, not "nan"


def test_a_tab_over_the_size_limit_is_split_and_lands_whole(
    emu: SheetsEmulator, api: SheetsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    book_key = "1ChunkSpreadsheet0000000000000000000000"
    emu.state.create(book_key, "C", {"Sheet1": [["x"]]})
    frame = pd.DataFrame({"id": [f"C{i:05d}" for i in range(500)], "value": range(500)})
    monkeypatch.setattr(gsheets, "CHUNK_BYTES", 4_000)
    lists = tab_requests(ResultTab("scores", "Scores", frame), 5, None, "now")
    assert len(lists) > 3
    for requests in lists:
        api.client.http_client.batch_update(book_key, {"requests": requests})
    values = emu.state.values_get(book_key, "Scores!A2:B502", "UNFORMATTED_VALUE")["values"]
    assert values[0] == ["ID", "Value"] and len(values) == 501
    assert values[1:] == [[f"C{i:05d}", i] for i in range(500)]


def test_rewrite_clears_old_rows_and_keeps_the_grid(emu: SheetsEmulator, api: SheetsApi) -> None:
    """Cleared, not deleted: Google turns a formula naming a deleted cell into #REF!."""
    book_key = "1ShrinkSpreadsheet000000000000000000000"
    emu.state.create(book_key, "S", {"Sheet1": [["x"]]})
    big = pd.DataFrame({"a": range(50), "b": ["x"] * 50, "c": [1.0] * 50})
    for requests in tab_requests(ResultTab("prices", "Prices", big), 9, None, "then"):
        api.client.http_client.batch_update(book_key, {"requests": requests})
    meta = api.client.http_client.fetch_sheet_metadata(book_key)
    existing = next(s for s in meta["sheets"] if s["properties"]["sheetId"] == 9)
    small = pd.DataFrame({"a": [1, 2]})
    for requests in tab_requests(ResultTab("prices", "Prices", small), 9, existing, "now"):
        api.client.http_client.batch_update(book_key, {"requests": requests})
    sheet = emu.state.book(book_key).sheet("Prices")
    assert (sheet.rows, sheet.cols) == (52, 3)
    assert emu.state.values_get(book_key, "Prices")["values"] == [["Last refreshed now"], ["A"], ["1"], ["2"]]  # fmt: skip
    for requests in tab_requests(ResultTab("prices", "Prices", small), 9, existing, "now", shrink=True):  # fmt: skip
        api.client.http_client.batch_update(book_key, {"requests": requests})
    sheet = emu.state.book(book_key).sheet("Prices")
    assert (sheet.rows, sheet.cols) == (4, 1)  # near Google's cap only (_grid_need)


def test_forecast_chart_is_redrawn_not_duplicated(emu: SheetsEmulator, api: SheetsApi) -> None:
    book_key = "1ChartSpreadsheet0000000000000000000000"
    emu.state.create(book_key, "C", {"Sheet1": [["x"]]})
    frame = pd.DataFrame(
        {
            "series": ["All sales"] * 3 + ["Tea"],
            "measure": ["revenue"] * 4,
            "month": ["2026-01-01", "2026-02-01", "2026-03-01", "2026-01-01"],
            "forecast": [10.0, 11.0, 12.0, 3.0],
            "low_80": [8.0, 9.0, 9.5, 2.0],
            "high_80": [12.0, 13.0, 14.5, 4.0],
        }
    )
    for _ in range(2):
        meta = api.client.http_client.fetch_sheet_metadata(book_key)
        existing = next((s for s in meta["sheets"] if s["properties"]["sheetId"] == 3), None)
        tab = ResultTab("forecast", "Forecast", frame)
        tab.chart = {"title": "All sales", "rows": 3, "domain": "month", "series": ["forecast", "low_80", "high_80"]}  # fmt: skip
        for requests in tab_requests(tab, 3, existing, "now"):
            api.client.http_client.batch_update(book_key, {"requests": requests})
    charts = emu.state.book(book_key).sheet("Forecast").charts
    assert len(charts) == 1
    series = charts[0]["spec"]["basicChart"]["series"]
    source = series[0]["series"]["sourceRange"]["sources"][0]
    assert (source["startRowIndex"], source["endRowIndex"], source["startColumnIndex"]) == (1, 5, 3)


def test_quota_hit_waits_and_loses_nothing(business: SampleBusiness, tmp_path: Path) -> None:
    """The server allows fewer requests than our limiter thinks: 429s, waits, then completes."""
    clock = FakeClock()
    with SheetsEmulator(per_user_per_minute=3, clock=clock) as emu:  # 3 a minute
        book_key = "1QuotaSpreadsheet0000000000000000000000"
        emu.state.create(book_key, "Q", {"Sheet1": [["x"]]})
        api = SheetsApi(
            Secret(json.dumps(make_service_account(emu))),
            api_url=emu.url,
            limits=SheetsLimits(attempts=8),
            clock=clock,
        )
        frames = {f"T{i}": pd.DataFrame({"n": range(i * 10, i * 10 + 40)}) for i in range(6)}
        for i, (title, frame) in enumerate(frames.items()):
            for requests in tab_requests(ResultTab(f"t{i}", title, frame), 100 + i, None, "now"):
                api.client.http_client.batch_update(book_key, {"requests": requests})
        assert emu.statuses[429] >= 1 and api.waited_on_429 > 0
        assert clock.monotonic() >= 60  # the minute really rolled, on the fake clock
        for title, frame in frames.items():
            got = emu.state.values_get(book_key, f"{title}!A3:A50", "UNFORMATTED_VALUE")["values"]
            assert [r[0] for r in got] == frame["n"].tolist()


def test_retries_stop_at_the_cap(emu: SheetsEmulator, key: Secret) -> None:
    clock = FakeClock()
    api = SheetsApi(key, api_url=emu.url, limits=SheetsLimits(attempts=4), clock=clock)
    api.authorise()  # the token first: google-auth retries its own token call on its own clock
    with emu.offline(), pytest.raises(SourceRetriableError, match="after 4 attempts"):
        api.client.http_client.fetch_sheet_metadata(SAMPLE_KEY)
    assert len(clock.slept) == 3 and max(clock.slept) <= SheetsLimits().backoff_cap


def test_transient_faults_are_retried(emu: SheetsEmulator, api: SheetsApi) -> None:
    emu.inject(Fault("5xx", count=2, status=503, path=SAMPLE_KEY))
    emu.inject(Fault("drop", count=1, path=SAMPLE_KEY))
    emu.inject(Fault("429", count=1, retry_after=0.01, path=SAMPLE_KEY))
    meta = api.client.http_client.fetch_sheet_metadata(SAMPLE_KEY)
    assert meta["properties"]["title"] == "Sample coffee shop"
    assert api.retries == 4


def test_not_shared_is_one_clear_message_without_the_key(
    emu: SheetsEmulator, key: Secret, business: SampleBusiness, caplog: pytest.LogCaptureFixture
) -> None:
    book_key = "1PrivateSpreadsheet00000000000000000000"
    load_sample_sheets(emu.state, business, key=book_key, shared_with=["owner@example.com"])
    api = SheetsApi(key, api_url=emu.url, clock=CLOCK)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthError) as refused:
        SheetsSource(api, book_key).available()
    message = str(refused.value)
    assert "Share" in message and api.account in message
    private = json.loads(key.reveal())["private_key"]
    body = private.split("-----")[2].strip().splitlines()[1]
    assert body not in message and body not in caplog.text


def test_bad_key_is_refused_clearly() -> None:
    with pytest.raises(AuthError, match="not a service-account JSON key"):
        SheetsApi(Secret("not json"))
    with pytest.raises(AuthError, match="missing client_email"):
        SheetsApi(Secret(json.dumps({"type": "service_account", "private_key": "x", "token_uri": "y"})))  # fmt: skip


def test_a_key_whose_private_key_was_cut_short_is_one_line_without_key_text(
    emu: SheetsEmulator, key: Secret, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """find52_cli item 9: a key pasted into an environment variable or a file and cut off
    said "unexpected ValueError: Unable to load PEM file" (exit 70)."""
    whole = json.loads(key.reveal())
    for damaged in (whole["private_key"][:600], whole["private_key"].replace("\n", "\\n")):
        key_file = tmp_path / "key.json"
        key_file.write_text(json.dumps({**whole, "private_key": damaged}), encoding="utf-8")
        log = tmp_path / "log.txt"
        said = CliRunner().invoke(
            cli, ["--log-file", str(log), "auth", "google", "--key-file", str(key_file)]
        )
        assert said.exit_code == 3, said.output
        assert "private_key is damaged" in said.output and "unexpected" not in said.output
        body = whole["private_key"].split("-----")[2].strip().splitlines()[1]
        assert body not in said.output and body not in log.read_text()
    config = tmp_path / "smbml.toml"
    config.write_text(
        f'[source]\nkind = "gsheets"\nspreadsheet = "{SAMPLE_KEY}"\n'
        f'[google]\napi_url = "{emu.url}"\nwrite_results = false\n[analytics]\nenabled = []\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("SMBML_GOOGLE_SERVICE_ACCOUNT", key_file.read_text(encoding="utf-8"))
    ran = CliRunner().invoke(
        cli, ["--log-file", str(log), "run", "-c", str(config), "--store", str(tmp_path / "s.db")]
    )
    assert ran.exit_code == 3 and "private_key is damaged" in ran.output, ran.output


def test_cli_auth_inspect_and_run(
    emu: SheetsEmulator, key: Secret, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "smbml.toml"
    config.write_text(
        f'[source]\nkind = "gsheets"\nspreadsheet = "https://docs.google.com/spreadsheets/d/{SAMPLE_KEY}/edit"\n'
        f'[google]\napi_url = "{emu.url}"\nwrite_results = false\n'
        '[analytics]\nenabled = ["rfm_segments"]\n',
        encoding="utf-8",
    )
    key_file = tmp_path / "key.json"
    key_file.write_text(key.reveal(), encoding="utf-8")
    runner = CliRunner()
    log = tmp_path / "log.txt"
    stored = runner.invoke(
        cli,
        ["--log-file", str(log), "auth", "google", "-c", str(config), "--key-file", str(key_file)],
    )
    assert stored.exit_code == 0, stored.output
    assert "can open 'Sample coffee shop'" in stored.output
    monkeypatch.delenv("SMBML_GOOGLE_SERVICE_ACCOUNT", raising=False)
    shown = runner.invoke(cli, ["--log-file", str(log), "inspect", "-c", str(config)])
    assert shown.exit_code == 0, shown.output
    assert "contacts: 2,002 rows from 'Customers'" in shown.output
    assert "'E-mail Address' -> email" in shown.output
    ran = runner.invoke(
        cli,
        [
            "--log-file",
            str(log),
            "run",
            "-c",
            str(config),
            "--store",
            str(tmp_path / "s.db"),
            "--quiet",
        ],
    )
    assert ran.exit_code == 0, ran.output
    private = json.loads(key.reveal())["private_key"].split("-----")[2].strip().splitlines()[1]
    assert private not in log.read_text() and private not in ran.output


def test_config_for_sheets() -> None:
    with pytest.raises(ConfigError, match=r"source\.spreadsheet"):
        parse_config({"source": {"kind": "gsheets"}})
    with pytest.raises(ConfigError, match=r"destinations\[0\].spreadsheet"):
        parse_config({"source": {"kind": "sample"}, "destinations": [{"kind": "gsheets"}]})
    with pytest.raises(ConfigError, match="looks like a secret"):
        parse_config({"source": {"kind": "sample"}, "google": {"private_key": "x"}})


def test_a_failed_read_leaves_the_tabs_it_feeds_as_they_were(
    emu: SheetsEmulator, api: SheetsApi, business: SampleBusiness, tmp_path: Path
) -> None:
    """The read of the tabs fails for good: every result tab keeps its last complete rows.

    One batchGet reads every tab (which table a tab gives may depend on its rows, as a
    workbook sheet's does), so no table can be read without it: the run stops and says so."""
    from smbml_connect.steps import STEPS

    book_key = "1HeldBackSpreadsheet0000000000000000000"
    _fresh_book(emu, business, book_key)
    steps = [s for s in STEPS if s.name in ("rfm_segments", "sales_forecast")]
    assert _run(api, book_key, tmp_path, steps=steps).status == "ok"
    before = {
        title: emu.state.values_get(book_key, f"'{title}'!A1:Z", "UNFORMATTED_VALUE")["values"]
        for title in ("Segments", "Forecast")
    }
    emu.inject(Fault("5xx", count=6, status=503, path="values:batchGet"))
    (tmp_path / "new").mkdir()  # a new machine: its store has no earlier copy of contacts
    with pytest.raises(SourceRetriableError, match=r"kept failing on GET .*values:batchGet"):
        _run(api, book_key, tmp_path / "new", steps=steps)
    with Store(tmp_path / "new" / "store.sqlite") as store:
        assert store.runs().iloc[0]["status"] == "failed"
    for title, rows in before.items():
        assert (
            emu.state.values_get(book_key, f"'{title}'!A1:Z", "UNFORMATTED_VALUE")["values"] == rows
        )


def test_the_token_exchange_follows_the_key_or_the_configs_override(
    emu: SheetsEmulator, key: Secret
) -> None:
    info = json.loads(key.reveal())
    wrong = Secret(json.dumps({**info, "token_uri": f"{emu.url}/not-the-token-endpoint"}))
    with pytest.raises(AuthError) as refused:
        SheetsApi(wrong, api_url=emu.url, clock=CLOCK).authorise()
    message = str(refused.value)
    assert "not-the-token-endpoint gave no token" in message and "token_uri" in message
    assert "{" not in message and "new JSON key" not in message  # not the key's fault
    fixed = SheetsApi(wrong, api_url=emu.url, clock=CLOCK, token_url=f"{emu.url}/token")
    fixed.authorise()  # the override reaches the emulator's token endpoint
    assert fixed.client.http_client.fetch_sheet_metadata(SAMPLE_KEY)["spreadsheetId"] == SAMPLE_KEY


# -- sync integrity under the API's real behaviour ------------------------------------
@pytest.fixture(scope="module")
def written(emu: SheetsEmulator, business: SampleBusiness, tmp_path_factory: Any) -> Any:
    """One real run's result (all five tabs), published again by the tests below."""
    book_key = "1SyncFirstSpreadsheet00000000000000000"
    _fresh_book(emu, business, book_key)
    CLOCK.advance(61)
    api = SheetsApi(Secret(json.dumps(make_service_account(emu))), api_url=emu.url, clock=CLOCK)
    return _run(api, book_key, tmp_path_factory.mktemp("sync"))


def _book(emu: SheetsEmulator, name: str, **tabs: Any) -> str:
    book_key = f"1Sync{name}".ljust(39, "0")
    emu.state.create(book_key, name, tabs or {"Notes": [["the user's own tab"]]})
    return book_key


def _ours(emu: SheetsEmulator, book_key: str) -> dict[str, Any]:
    return {
        m["metadataValue"]: s
        for s in emu.state.book(book_key).sheets
        for m in s.metadata
        if m["metadataKey"] == gsheets.METADATA_KEY
    }


@pytest.mark.slow
def test_an_answer_lost_after_the_write_landed_is_not_a_failure(
    emu: SheetsEmulator, api: SheetsApi, written: Any
) -> None:
    """The connection drops after Google applied a batchUpdate: the retry's addSheet (or
    deleteEmbeddedObject) is refused as a repeat. That is the sync's own change: go on."""
    book_key = _book(emu, "LostAnswer")
    destination = SheetsResults(api, book_key, clock=CLOCK)
    emu.inject(Fault("drop", path=":batchUpdate", after=True))  # the first tab's addSheet
    report = destination.publish(written)
    assert len(report.detail) == 5 and sorted(_ours(emu, book_key)) == sorted(
        ["scores", "segments", "forecast", "prices", "rejects"]
    )
    emu.inject(Fault("drop", path=":batchUpdate", after=True, skip=2))  # the chart redrawn
    destination.publish(written)
    assert len(_ours(emu, book_key)["forecast"].charts) == 1


@pytest.mark.slow
def test_a_sync_that_stops_part_way_says_which_tabs_are_stale(
    emu: SheetsEmulator, key: Secret, written: Any
) -> None:
    api = SheetsApi(key, api_url=emu.url, clock=CLOCK, limits=SheetsLimits(attempts=2))
    book_key = _book(emu, "StopsPartWay")
    SheetsResults(api, book_key, clock=CLOCK).publish(written)
    first = {t: head_note(emu, book_key, s.title) for t, s in _ours(emu, book_key).items()}
    CLOCK.advance(3600)
    later = dataclasses.replace(written, run_id=written.run_id + 1)
    down = Fault("5xx", count=10**6, status=503, path=":batchUpdate", skip=2)
    emu.inject(down)
    try:
        with pytest.raises(gsheets.SheetsNotAllWritten) as stopped:
            SheetsResults(api, book_key, clock=CLOCK).publish(later)
    finally:
        down.count = 0
    notes = {t: head_note(emu, book_key, s.title) for t, s in _ours(emu, book_key).items()}
    assert f"(run {later.run_id}," in notes["scores"] and f"(run {later.run_id}," in notes["segments"]  # fmt: skip
    for role in ("forecast", "prices", "rejects"):
        assert notes[role].startswith(f"Not refreshed by run {later.run_id} (")
        stamp = first[role].removeprefix("Last refreshed ").split(")")[0] + ")"
        assert notes[role].endswith(f"are from the refresh of {stamp}")  # which run it shows
    # What is true of a write: which tabs were written, which not, that the next run
    # writes them; not a paged read's "nothing after the last saved page was lost".
    said = str(stopped.value)
    assert said.startswith("Google Sheets kept failing on POST ") and "after 2 attempts" in said
    assert "Refreshed: Scores, Segments; not refreshed: Forecast, Prices, Rejects, each" in said
    assert said.endswith("The next run writes them again.")
    assert "saved page" not in said and ".;" not in said
    SheetsResults(api, book_key, clock=CLOCK).publish(later)  # the next sync repairs all
    notes = {t: head_note(emu, book_key, s.title) for t, s in _ours(emu, book_key).items()}
    assert all(n.startswith("Last refreshed") and f"(run {later.run_id}," in n for n in notes.values())  # fmt: skip


def test_a_tab_its_owner_protected_costs_only_itself(
    emu: SheetsEmulator, api: SheetsApi, written: Any
) -> None:
    """The first request carries the 'Not refreshed' line of every other tab; one tab the
    owner protected made Google refuse that whole batch, and so every tab (review)."""
    book_key = _book(emu, "Protected")
    SheetsResults(api, book_key, clock=CLOCK).publish(written)
    prices = _ours(emu, book_key)["prices"].title
    before = head_note(emu, book_key, prices)
    emu.state.protect(book_key, prices)
    later = dataclasses.replace(written, run_id=written.run_id + 1)
    with pytest.raises(gsheets.SheetsNotAllWritten) as kept:
        SheetsResults(api, book_key, clock=CLOCK).publish(later)
    message = str(kept.value)
    assert f"{prices} (Google refused it: " in message and "protected" in message
    notes = {t: head_note(emu, book_key, s.title) for t, s in _ours(emu, book_key).items()}
    assert notes.pop("prices") == before  # as it was: nothing of ours could land there
    assert all(f"(run {later.run_id}," in n for n in notes.values()), notes
    assert (
        f"Refreshed: {', '.join(s.title for r, s in _ours(emu, book_key).items() if r != 'prices')}"
        in message
    )
    # The first tab protected: refused alone too, so the other tabs' lines saying which run
    # they show still ride with the next tab's first request.
    book = emu.state.book(book_key)
    next(s for s in book.sheets if s.title == prices).protected = False
    first = next(iter(_ours(emu, book_key).values())).title
    emu.state.protect(book_key, first)
    sent: list[dict[str, Any]] = []
    real = api.client.http_client.batch_update

    def spy(key: str, body: dict[str, Any]) -> Any:
        sent.append(body)
        return real(key, body)

    api.client.http_client.batch_update = spy  # type: ignore[method-assign]
    with pytest.raises(gsheets.SheetsNotAllWritten):
        SheetsResults(api, book_key, clock=CLOCK).publish(
            dataclasses.replace(later, run_id=later.run_id + 1)
        )
    carried = [b for b in sent if "Not refreshed by run" in json.dumps(b)]
    assert len(carried) == 2  # refused with the first tab, then landed with the second


def test_a_tab_in_several_requests_says_it_is_unfinished_until_the_last(
    emu: SheetsEmulator, api: SheetsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    book_key = _book(emu, "Unfinished")
    frame = pd.DataFrame({"id": [f"C{i:05d}" for i in range(500)], "value": range(500)})
    monkeypatch.setattr(gsheets, "CHUNK_BYTES", 4_000)
    lists = tab_requests(ResultTab("scores", "Scores", frame), 5, None, "now (run 2)")
    api.client.http_client.batch_update(book_key, {"requests": lists[0]})  # then the sync dies
    assert head_note(emu, book_key, "Scores").startswith("Being refreshed (now (run 2)): if this")
    for requests in lists[1:]:
        api.client.http_client.batch_update(book_key, {"requests": requests})
    assert head_note(emu, book_key, "Scores") == "Last refreshed now (run 2)"


@pytest.mark.slow
def test_a_tab_that_would_pass_the_cell_cap_is_named_and_the_others_written(
    emu: SheetsEmulator, api: SheetsApi, written: Any
) -> None:
    """The user's own tabs count: room for the small tabs, not for Scores. Scores is named
    with the numbers and what to do; the tabs after it are still written."""
    book_key = _book(emu, "CellCap")
    user = emu.state.book(book_key).sheets[0]
    user.rows, user.cols = (gsheets.CELL_CAP - 6_000) // 26, 26
    with pytest.raises(gsheets.SheetsNotAllWritten) as kept:
        SheetsResults(api, book_key, clock=CLOCK).publish(written)
    message = str(kept.value)
    assert "Scores (" in message and "over Google's limit of 10,000,000" in message
    assert "rejects" in _ours(emu, book_key)  # after Scores, still written
    assert "scores" not in _ours(emu, book_key)


def test_a_tab_growing_longer_and_narrower_near_the_cap_is_resized_columns_first(
    emu: SheetsEmulator, api: SheetsApi
) -> None:
    book_key = _book(emu, "LongNarrow")
    wide = pd.DataFrame({f"c{i}": [1] * 998 for i in range(26)})  # 1,000 x 26 with the note
    for requests in tab_requests(ResultTab("scores", "Scores", wide), 8, None, "then"):
        api.client.http_client.batch_update(book_key, {"requests": requests})
    user = emu.state.book(book_key).sheets[0]
    user.rows, user.cols = (gsheets.CELL_CAP - 26_000 - 20_000) // 26, 26  # ~20,000 to spare
    meta = api.client.http_client.fetch_sheet_metadata(book_key)
    existing = next(s for s in meta["sheets"] if s["properties"]["sheetId"] == 8)
    narrow = pd.DataFrame({"id": range(9_000), "n": range(9_000)})  # 18,004 cells: fits
    for requests in tab_requests(
        ResultTab("scores", "Scores", narrow), 8, existing, "now", shrink=True
    ):
        api.client.http_client.batch_update(book_key, {"requests": requests})
    sheet = emu.state.book(book_key).sheet("Scores")
    assert (sheet.rows, sheet.cols) == (9_002, 2)


def test_text_over_a_cells_limit_is_cut_and_says_so(emu: SheetsEmulator, api: SheetsApi) -> None:
    book_key = _book(emu, "LongText")
    frame = pd.DataFrame({"why": ["x" * 60_000, "😀" * 30_000, "short"]})
    for requests in tab_requests(ResultTab("scores", "Scores", frame), 6, None, "now"):
        api.client.http_client.batch_update(book_key, {"requests": requests})
    got = [r[0] for r in emu.state.values_get(book_key, "Scores!A3:A5")["values"]]
    assert got[0].endswith("… [cut: 60,000 characters in all]") and len(got[0]) <= 50_000
    assert got[1].endswith("… [cut: 30,000 characters in all]")  # emoji count twice
    assert len(got[1].encode("utf-16-le")) // 2 <= 50_000 and got[2] == "short"


@pytest.mark.slow
def test_a_second_tab_with_our_mark_is_left_alone(
    emu: SheetsEmulator, api: SheetsApi, written: Any
) -> None:
    """Two tabs carry the Scores mark (a copy, or two syncs at once): the first is written,
    the other kept as it is, and the push says so."""
    book_key = _book(emu, "TwoMarks")
    SheetsResults(api, book_key, clock=CLOCK).publish(written)
    book = emu.state.book(book_key)
    scores = book.sheet("Scores")
    copy = dataclasses.replace(scores.copy(), sheet_id=4242, title="Scores copy", index=len(book.sheets))  # fmt: skip
    copy.cells = {(0, 0): copy.cells[(0, 0)], (5, 5): Cell(value="my own words")}
    book.sheets.append(copy)
    kept = dict(copy.cells)
    report = SheetsResults(api, book_key, clock=CLOCK).publish(written)
    assert emu.state.book(book_key).sheet("Scores copy").cells == kept
    assert any(line.startswith("Scores copy: left as it is") for line in report.notes)


def test_an_infinite_number_is_an_empty_cell_as_in_the_workbook() -> None:
    """A division by zero upstream showed as the text "inf" in Sheets, and as an empty cell
    in the workbook and the worksheet functions."""
    frame = pd.DataFrame({"change": [1.5, float("inf"), -float("inf")],
                          "mixed": [float("inf"), "x", None]})  # fmt: skip
    rows = gsheets._rows_json(frame)[1:]
    assert [r["values"][0] for r in rows][1:] == [{}, {}]
    assert rows[0]["values"][1] == {}


@pytest.mark.parametrize("title", ["Orders", "orders_export_1"])
def test_a_shopify_orders_export_in_a_tab_gives_its_buyers_and_lines_as_the_file_does(
    emu: SheetsEmulator, api: SheetsApi, tmp_path: Path, title: str
) -> None:
    """A Shopify orders export pasted into an "Orders" tab gave orders only: its buyers,
    with their "Accepts Marketing", and its line items were dropped without a word, so
    people who said no were segmented and written to the result tabs (a Sheets
    explorer). Named as Google names an imported file, it gave nothing at all. Tabs are
    placed as a workbook's sheets are: every table the export gives, as the CSV gives it."""
    import csv

    from smbml_connect.connectors.files.source import FilesSource

    path = Path(__file__).parent / "fixtures" / "layouts" / "shopify_orders_export_1.csv"
    rows = [list(r) for r in csv.reader(path.read_text(encoding="utf-8").splitlines())]
    said_no = {r[1].lower() for r in rows[1:] if r[6] == "no" and r[1]}
    key = f"1ShopifyInATab{title.replace('_', '')}".ljust(39, "0")
    emu.state.create(key, "Pasted", {title: rows, "Notes": [["Call the courier on Friday"]]})
    source = SheetsSource(api, key)
    files = FilesSource(path)
    assert source.available() == files.available()
    assert {"contacts", "orders", "order_lines"} <= set(source.available())
    for table in source.available():
        from_sheet = validate(table, source.pull(table), source="s").clean
        from_file = validate(table, files.pull(table), source="s").clean
        columns = [c for c in from_file.columns if c != "extra"]  # cells arrive typed
        pd.testing.assert_frame_equal(from_sheet[columns], from_file[columns], check_dtype=False)
    steps = steps_by_name(["rfm_segments"])
    with Store(tmp_path / "s.sqlite") as store:
        result = run_pipeline(
            SheetsSource(api, key), store, RunOptions(steps=steps), [SheetsResults(api, key)]
        )
    assert result.consent_skipped == len(said_no) == 2
    shown = emu.state.values_get(key, "Segments!A3:C", "UNFORMATTED_VALUE")["values"]
    assert shown and not {str(cell).lower() for row in shown for cell in row} & said_no


def _shop_in(emu: SheetsEmulator, key: str, totals: list[Any], locale: str) -> list[list[Any]]:
    """A small shop's Customers and Orders tabs, the totals typed as given (no currency
    column): three customers, orders of one to three each."""
    buyers = ["C1", "C2", "C2", "C3", "C3", "C3"][: len(totals)]
    orders = [["Order ID", "Customer ID", "Order date", "Total"]]
    orders += [[f"O{i + 1}", c, f"2025-0{i % 9 + 1}-1{i % 9}", t]
               for i, (c, t) in enumerate(zip(buyers, totals, strict=True))]  # fmt: skip
    customers = [["Customer ID", "Email"], ["C1", "a@x.com"], ["C2", "b@x.com"], ["C3", "c@x.com"]]
    emu.state.create(key, "Shop", {"Customers": customers, "Orders": orders}, locale=locale)
    return orders


def test_amounts_formatted_as_currency_give_their_currency(
    emu: SheetsEmulator, api: SheetsApi, tmp_path: Path
) -> None:
    """A German shop typed "95,35 €": Sheets keeps 95.35 formatted as euros, and the values
    read are unformatted, so every figure was shown in dollars with no word (a Sheets
    explorer; "¥14,300" in a Japanese sheet gave "$2,420.00" prices). The column's format
    names the currency, as a currency column would; several are said in one line."""
    key = "1EuroFormatSpreadsheet0000000000000000"
    _shop_in(emu, key, ["95,35 €", "32,20 €", "1.204,00 €", 18.5, "7,90 €", "41,00 €"], "de_DE")
    sheet = emu.state.book(key).sheet("Orders")
    sheet.cells[(4, 3)] = Cell(value=18.5, number_type="CURRENCY", pattern="[$€-407]#,##0.00")
    with Store(tmp_path / "eur.sqlite") as store:
        result = run_pipeline(SheetsSource(api, key), store, RunOptions(steps=[]))
        assert set(store.read("orders")["currency"]) == {"EUR"}
    assert result.currency == "EUR"
    assert not [n for n in result.notices if "currency" in n.check]

    key = "1MixedFormatSpreadsheet000000000000000"
    _shop_in(emu, key, ["95,35 €", "£20,00", "12,00 €", 18.5], "de_DE")
    with Store(tmp_path / "mixed.sqlite") as store:
        result = run_pipeline(SheetsSource(api, key), store, RunOptions(steps=[]))
        kept = store.read("orders").set_index("order_id")["currency"].to_dict()
    assert kept == {"O1": "EUR", "O2": "GBP", "O3": "EUR", "O4": None}  # O4: the shop's
    (said,) = [n.message for n in result.notices if n.check == "currency_formats"]
    assert said.startswith("Tab 'Orders', column 'Total': its amounts are formatted in several")
    assert "(2 in EUR, 1 in GBP)" in said and result.currency == "EUR"


def test_plain_amounts_with_no_currency_anywhere_are_said_not_shown_in_dollars_silently(
    emu: SheetsEmulator, api: SheetsApi, tmp_path: Path
) -> None:
    """Plain numbers, no currency column, no currency in the config: the run shows them in
    USD and says so, with the config key that changes it; a shared sign in the format
    ("¥" in an English sheet: yen or yuan) is said as a typed "¥" is."""
    key = "1PlainAmountsSpreadsheet00000000000000"
    _shop_in(emu, key, [95.35, 32.2, 1204, 18.5], "de_DE")
    with Store(tmp_path / "plain.sqlite") as store:
        result = run_pipeline(SheetsSource(api, key), store, RunOptions(steps=[]))
    (said,) = [n.message for n in result.notices if n.check == "unnamed_currency"]
    assert said.startswith("Amounts in orders (tab 'Orders', column 'Total') are plain numbers")
    assert "shown in USD" in said and 'currency = "EUR"' in said
    with Store(tmp_path / "stated.sqlite") as store:
        stated = run_pipeline(SheetsSource(api, key), store, RunOptions(steps=[], currency="EUR"))
    assert stated.currency == "EUR" and not [n for n in stated.notices if "currency" in n.check]

    key = "1SharedSignSpreadsheet0000000000000000"
    _shop_in(emu, key, ["¥14,300", "¥4,820", "¥2,200"], "en_GB")
    with Store(tmp_path / "yen.sqlite") as store:
        result = run_pipeline(SheetsSource(api, key), store, RunOptions(steps=[]))
    (said,) = [n.message for n in result.notices if n.check == "unnamed_currency"]
    assert said.startswith("Amounts in orders are marked ¥, which names no one currency")


def _merge_down(
    emu: SheetsEmulator, key: str, tab: str, column: int, *rows: tuple[int, int]
) -> None:
    """Format > Merge cells > Merge vertically over sheet rows ``first`` to ``last`` of a
    column (zero-based), as Google's mergeCells request does it."""
    sheet_id = emu.state.book(key).sheet(tab).sheet_id
    emu.state.batch_update(key, {"requests": [
        {"mergeCells": {"mergeType": "MERGE_COLUMNS", "range": {
            "sheetId": sheet_id, "startRowIndex": first - 1, "endRowIndex": last,
            "startColumnIndex": column, "endColumnIndex": column + 1}}}
        for first, last in rows
    ]})  # fmt: skip


def test_a_customer_id_merged_down_over_their_orders_belongs_to_every_order(
    emu: SheetsEmulator, api: SheetsApi, tmp_path: Path
) -> None:
    """A list tidied by merging each customer's ID over their orders: Sheets shows the ID
    over all of them but answers it on the first row only, and the other orders lost their
    customer without a word. They are read as the workbook's are, said in one line, and
    the merges come with the metadata the read already asks for: no request more."""
    key = "1MergedIdsSpreadsheet00000000000000000"
    orders = _shop_in(emu, key, [40.0, 25.5, 60.0, 12.0, 80.0, 33.3], "en_GB")
    _merge_down(emu, key, "Orders", 1, (3, 4), (5, 7))  # C2's two orders, C3's three
    emu.reset_counts()
    with Store(tmp_path / "merged.sqlite") as store:
        result = run_pipeline(SheetsSource(api, key), store, RunOptions(steps=[]))
        stored = store.read("orders").set_index("order_id")["contact_id"].to_dict()
    assert stored == {row[0]: row[1] for row in orders[1:]}
    assert emu.total() == 3  # metadata, the values, the amounts' formats: as before
    (said,) = [n for n in result.notices if n.check == "merged_cells"]
    assert said.count == 3 and said.table == "orders"
    assert "tab 'Orders' in merged ranges (B3:B4, B5:B7)" in said.message
    assert said.message.endswith("as Google Sheets shows it on every row")
    assert result.rejects[result.rejects["action"] == "row rejected"].empty


def test_a_blank_row_inside_a_merged_range_is_a_skipped_blank_row(
    emu: SheetsEmulator, api: SheetsApi, tmp_path: Path
) -> None:
    """review55 item 5: a blank row between C2's orders, inside the range their ID is merged
    over, was filled with C2 and rejected for its empty order ID and date."""
    key = "1MergedBlankSpreadsheet000000000000000"
    orders = [
        ["Order ID", "Customer ID", "Order date", "Total"],
        ["O1", "C1", "2025-01-10", 40.0],
        ["O2", "C2", "2025-02-03", 25.5],
        [],  # sheet row 4: a blank row between C2's orders
        ["O3", "", "2025-03-17", 60.0],
        ["O4", "C3", "2025-03-20", 12.0],
    ]
    customers = [["Customer ID", "Email"], ["C1", "a@x.com"], ["C2", "b@x.com"], ["C3", "c@x.com"]]
    emu.state.create(key, "Shop", {"Customers": customers, "Orders": orders}, locale="en_GB")
    _merge_down(emu, key, "Orders", 1, (3, 5))  # C2's two orders and the blank row
    with Store(tmp_path / "merged.sqlite") as store:
        result = run_pipeline(SheetsSource(api, key), store, RunOptions(steps=[]))
        stored = store.read("orders").set_index("order_id")["contact_id"].to_dict()
    assert stored == {"O1": "C1", "O2": "C2", "O3": "C2", "O4": "C3"}
    actions = result.rejects.set_index("source_row")
    assert actions.loc[[4], ["action", "reason"]].values.tolist() == [["row skipped", "blank row"]]
    assert result.rejects[result.rejects["action"] == "row rejected"].empty
    (said,) = [n for n in result.notices if n.check == "merged_cells"]
    assert said.count == 1 and "(B3:B5)" in said.message


def test_an_order_id_merged_over_its_lines_and_a_title_merged_above_the_header(
    emu: SheetsEmulator, api: SheetsApi, tmp_path: Path
) -> None:
    """As on an invoice: the order's ID merged down over its lines, each line rejected
    before for an empty order ID the user could see. A title merged over the rows above
    the header stays a title."""
    key = "1MergedLinesSpreadsheet000000000000000"
    _shop_in(emu, key, [20.0, 25.5], "en_GB")
    lines = [["Invoice lines"], [], ["Order ID", "Product", "Quantity", "Unit Price"],
             ["O1", "Mug", "2", "10"], ["O1", "Tea", "1", "20"], ["O2", "Mug", "1", "25.5"]]  # fmt: skip
    emu.state.batch_update(key, {"requests": [{"addSheet": {"properties": {"title": "Order Lines"}}}]})  # fmt: skip
    emu.state.values_update(key, "'Order Lines'!A1", lines, "USER_ENTERED")
    _merge_down(emu, key, "Order Lines", 0, (1, 2), (4, 5))
    with Store(tmp_path / "lines.sqlite") as store:
        result = run_pipeline(SheetsSource(api, key), store, RunOptions(steps=[]))
        got = sorted(store.read("order_lines")["order_id"])
    assert got == ["O1", "O1", "O2"]
    assert result.rejects[result.rejects["action"] == "row rejected"].empty


def test_every_sheets_error_in_a_table_column_is_named_with_its_row(
    emu: SheetsEmulator, api: SheetsApi, tmp_path: Path
) -> None:
    """A VLOOKUP that found nothing gives #N/A: it was read as a blank (a placeholder
    word), no row named, while the #DIV/0! beside it was "not a number". Each error is now
    listed with its row, column, value and what it means, as a workbook's are."""
    key = "1SheetsErrorsSpreadsheet00000000000000"
    _shop_in(emu, key, [40.0, 25.5, 60.0, 12.0, 80.0, 33.3], "en_GB")
    sheet = emu.state.book(key).sheet("Orders")
    errors = {2: "DIVIDE_BY_ZERO", 3: "REF", 4: "NAME", 5: "LOADING"}
    for row, kind in errors.items():
        sheet.cells[(row - 1, 3)] = error_cell(kind, f"=C{row}*Prices!B2")
    sheet.cells[(6, 1)] = error_cell("N_A", "=VLOOKUP(A7,Customers!A:B,1,FALSE)")
    emu.state.values_update(key, "Orders!D4", [["#N/A"]], "USER_ENTERED")  # typed
    with Store(tmp_path / "errors.sqlite") as store:
        result = run_pipeline(SheetsSource(api, key), store, RunOptions(steps=[]))
        stored = store.read("orders").set_index("order_id")
    cleared = result.rejects[result.rejects["action"] == "value cleared"].set_index("source_row")
    shown = {2: "#DIV/0!", 3: "#REF!", 4: "#N/A", 5: "Loading...", 7: "#N/A"}
    assert cleared["value"].to_dict() == shown
    assert cleared.loc[7, "column"] == "contact_id" and cleared.loc[4, "column"] == "total"
    assert "Google Sheets' error #N/A (a lookup that found nothing)" in cleared.loc[7, "reason"]
    assert "correct the formula in the spreadsheet" in cleared.loc[2, "reason"]
    assert result.cleared_values == len(shown)
    assert stored["total"].isna().sum() == 4 and pd.isna(stored.loc["O6", "contact_id"])
    assert not (result.rejects["action"] == "column note").any()  # not "#N/A read as missing"


def test_an_empty_tab_names_only_the_steps_that_fill_it(
    emu: SheetsEmulator, api: SheetsApi, tmp_path: Path
) -> None:
    """A shop of orders without line items: the Prices tab's first line ran every skipped
    step's reason together ("Nothing to show this run (Next best product: no order lines
    data Lead scores: no contacts data Deal win chances: ...)", a Sheets explorer). It names
    the steps that fill that tab, each reason apart."""
    key = "1EmptyTabReasonsSpreadsheet00000000000"
    _shop_in(emu, key, [95.35, 32.2, 1204, 18.5, 7.9, 41.0], "en_US")
    names = ["lead_scores", "deal_win", "rfm_segments", "next_product", "price_suggestions"]
    with Store(tmp_path / "s.sqlite") as store:
        result = run_pipeline(
            SheetsSource(api, key), store, RunOptions(steps=steps_by_name(names), currency="EUR")
        )
    notes = {tab.role: tab.note for tab in gsheets.result_tabs(result)}
    assert notes["prices"] == "Nothing to show this run (Price suggestions: no order lines data)."
    assert notes["scores"].startswith("Nothing to show this run (Lead scores: lead scores need")
    assert "order lines" not in notes["scores"] and "Deal" not in notes["scores"]
    # Two steps fill Scores: both reasons, apart; a failed one says so.
    result.failed["churn_value"] = "a timeout."
    (churn,) = steps_by_name(["churn_value"])
    result.declared["churn_value"], result.labels["churn_value"] = churn.outputs, churn.label
    (scores,) = [tab.note for tab in gsheets.result_tabs(result) if tab.role == "scores"]
    # named as people read it, not "churn value" (s56-hubspot's note on the Sheets push)
    assert scores.endswith('= "created_at"); Churn risk and customer value failed: a timeout).')


def test_a_report_of_one_row_per_item_mapped_by_the_user_is_read_as_lines(
    emu: SheetsEmulator, api: SheetsApi
) -> None:
    """An Amazon order report pasted into a tab, its columns named by the user's mapping
    (as the files source reads it): a further item of an order is its line, not a
    duplicate order, and the order's total is its items' prices."""
    rows = [
        ["amazon-order-id", "purchase-date", "order-status", "sku", "quantity", "item-price"],
        ["113-1", "2026-11-20", "Shipped", "MUG-01", "3", "54.00"],
        ["113-1", "2026-11-20", "Shipped", "SOAP-05", "2", "15.00"],
        ["112-2", "2026-10-02", "Shipped", "TEE-02", "1", "25.00"],
    ]
    key = "1MappedReportSpreadsheet00000000000000"
    emu.state.create(key, "Amazon", {"Orders": rows})
    source = SheetsSource(
        api,
        key,
        tables={"orders": "Orders", "order_lines": "Orders"},
        mappings={"orders": {"amazon-order-id": "order_id", "item-price": "total"}},
    )
    orders = validate("orders", source.pull("orders"), source="s")
    lines = validate("order_lines", source.pull("order_lines"), source="s")
    assert (orders.rejected_rows, lines.rejected_rows) == (0, 0)
    assert orders.clean.set_index("order_id")["total"].to_dict() == {"113-1": 69.0, "112-2": 25.0}
    assert lines.clean["unit_price"].tolist() == [18.0, 7.5, 25.0]


def _shopify_rows(consent: str | None = None) -> list[list[str]]:
    """The Shopify orders export fixture's rows; ``consent`` replaces every buyer's
    "Accepts Marketing" (an older copy, exported before some said no)."""
    import csv

    path = Path(__file__).parent / "fixtures" / "layouts" / "shopify_orders_export_1.csv"
    rows = [list(r) for r in csv.reader(path.read_text(encoding="utf-8").splitlines())]
    if consent is not None:
        for row in rows[1:]:
            row[6] = consent if row[6] else ""
    return rows


@pytest.mark.parametrize(
    ("tabs", "said_by"),
    [
        (("Customers", "Orders"), "Orders"),  # a hand-kept customer list, no consent column
        (("Copy of Orders", "Orders"), None),  # an older copy, all yes, to the left
        (("Orders", "Copy of Orders"), "Copy of Orders"),  # the copy says no, Orders yes
    ],
)
def test_a_no_in_any_tab_of_a_shopify_export_opts_the_buyer_out_and_a_copy_counts_once(
    emu: SheetsEmulator, api: SheetsApi, tmp_path: Path, tabs: tuple[str, str], said_by: str | None
) -> None:
    """Buyers who said no in an orders export were segmented and written back when the
    contacts came from another tab: a `Customers` tab, or an older "Copy of Orders" to
    the left of "Orders" (which took the buyers and lines, "Orders" only the orders). And
    a copy of the export was read as more of it: every line item counted twice (Prices
    turned one change into ten cuts). One export's tables come from one tab, a copy's
    orders are read once (said in a data check), and a no anywhere counts (review 53)."""
    rows = _shopify_rows()
    said_no = {r[1].lower() for r in rows[1:] if r[6] == "no" and r[1]}
    people = sorted({r[1].lower() for r in rows[1:] if r[1]})
    given = {
        "Customers": [["Email", "First Name"], *[[p, p.split(".")[0].title()] for p in people]],
        "Orders": rows if said_by != "Copy of Orders" else _shopify_rows("yes"),
        "Copy of Orders": _shopify_rows("yes") if said_by is None else rows,
    }
    key = f"1ShopConsent{len(tabs[0])}{said_by or 'x'}".replace(" ", "").ljust(39, "0")
    emu.state.create(key, "Shop", {t: given[t] for t in tabs})
    source = SheetsSource(api, key)
    main = "Customers" if "Customers" in tabs else "Orders"
    assert source.where("contacts").split(", ")[0] == main
    assert source.where("order_lines").split(", ")[0] == "Orders"
    assert len(source.pull("order_lines")) == len(rows) - 1  # each line once
    steps = steps_by_name(["rfm_segments"])
    with Store(tmp_path / "s.sqlite") as store:
        result = run_pipeline(
            SheetsSource(api, key), store, RunOptions(steps=steps), [SheetsResults(api, key)]
        )
    assert result.consent_skipped == len(said_no) == 2
    shown = emu.state.values_get(key, "Segments!A3:C", "UNFORMATTED_VALUE")["values"]
    assert shown and not {str(cell).lower() for row in shown for cell in row} & said_no
    checks = {n.check: n.message for n in result.notices}
    if said_by == "Orders":  # the export gives the orders; its no's are said with its name
        assert checks["opt_out_list"].startswith("Tab 'Orders' (Shopify orders export) gives")
    if "Copy of Orders" in tabs:
        orders = len({r[0] for r in rows[1:]})
        said = (
            f"'Copy of Orders' holds {orders} orders that 'Orders' holds too ({len(rows) - 1} rows)"
        )
        assert checks["export_copy"].startswith(said)


def test_an_export_in_two_tabs_is_named_with_both_where_its_buyers_said_no(
    emu: SheetsEmulator, api: SheetsApi, tmp_path: Path
) -> None:
    """Shopify's export in parts, pasted as tabs `orders_export_1` and `orders_export_2`
    beside `Customers`: the opt-out line named the first tab only, although a "no" of
    m.rossi is in the second (review53b item 6)."""
    rows = _shopify_rows()
    cut = next(i for i, row in enumerate(rows) if row[0] == "#1007")
    people = sorted({r[1].lower() for r in rows[1:] if r[1]})
    customers = [["Email", "First Name"], *[[p, p.split(".")[0].title()] for p in people]]
    key = "1ShopifyPartsTabs".ljust(39, "0")
    emu.state.create(key, "Shop", {"Customers": customers, "orders_export_1": rows[:cut],
                                   "orders_export_2": [rows[0], *rows[cut:]]})  # fmt: skip
    with Store(tmp_path / "s.sqlite") as store:
        result = run_pipeline(SheetsSource(api, key), store, RunOptions(steps=[]))
    assert result.consent_skipped == 2  # james.o (in both tabs) and m.rossi (in the second)
    (line,) = [n.message for n in result.notices if n.check == "opt_out_list"]
    assert line.startswith(
        "Tab 'orders_export_1' (Shopify orders export, with its other part 'orders_export_2') "
        "gives the orders"
    )
    assert "2 people in it said no to marketing there: 2 matched a contact" in line
