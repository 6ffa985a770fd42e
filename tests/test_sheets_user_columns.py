"""Columns a user adds to a result tab stay beside their rows. Before, every refresh
rewrote the tab whole: a rep's "Called?" ticks, notes and formulas beside the lead
scores were wiped by the next hourly sync."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

import smbml_connect.connectors.gsheets.sheets as gsheets
from smbml_connect.connectors.gsheets.http import SheetsApi
from smbml_connect.connectors.gsheets.sheets import ResultTab, SheetsResults
from smbml_connect.connectors.gsheets.user_columns import COLUMNS_KEY, shift_formula
from smbml_connect.credentials import Secret
from smbml_connect.ports import RunResult
from smbml_connect.testing.clock import FakeClock
from smbml_connect.testing.sheets_emulator import SheetsEmulator, make_service_account
from smbml_connect.testing.sheets_values import Cell

CLOCK = FakeClock()
BOOK = "1UserColumnsSpreadsheet000000000000000"


@pytest.mark.parametrize(
    ("formula", "rows", "moved"),
    [
        ("=C5>70", 4, "=C9>70"),
        ("=$C$5+C5", 4, "=$C$5+C9"),  # an anchored row stays
        ("=C$5*D5", -2, "=C$5*D3"),
        ('=IF(C5>70,"call A1 now","")', 1, '=IF(C6>70,"call A1 now","")'),  # quoted text
        ("=LOG10(C5)+ATAN2(1,2)", 1, "=LOG10(C6)+ATAN2(1,2)"),  # function names
        ("=SUM(C5:E5)*'Other tab'!B5", 2, "=SUM(C7:E7)*'Other tab'!B7"),
        ("=COUNTIF(C:C,C5)", 1, "=COUNTIF(C:C,C6)"),  # whole columns
        ("=C2", -3, "=#REF!"),
    ],
)
def test_a_formula_moves_with_its_row_as_a_copy_would(formula: str, rows: int, moved: str) -> None:
    assert shift_formula(formula, rows) == moved


@pytest.fixture(scope="module")
def emu() -> Iterator[SheetsEmulator]:
    with SheetsEmulator(clock=CLOCK) as emulator:
        emulator.state.create(BOOK, "Leads", {"Notes": [["the user's own tab"]]})
        yield emulator


@pytest.fixture
def api(emu: SheetsEmulator) -> SheetsApi:
    CLOCK.advance(61)
    return SheetsApi(Secret(json.dumps(make_service_account(emu))), api_url=emu.url, clock=CLOCK)


def scores(ids: list[str]) -> pd.DataFrame:
    points = {"C1": 91, "C2": 75, "C3": 40, "C4": 62, "C5": 12, "C6": 55}
    return pd.DataFrame(
        {
            "contact_id": pd.Series(ids, dtype="string"),
            "name": [f"Person {i[1:]}" for i in ids],
            "lead_score": [points[i] for i in ids],
        }
    )


def publish(api: SheetsApi, monkeypatch: pytest.MonkeyPatch, ids: list[str], run: int) -> Any:
    tabs = [
        ResultTab("scores", "Scores", scores(ids), key="contact_id"),
        ResultTab("forecast", "Forecast", pd.DataFrame({"period": ["2026-11"], "revenue": [5.0]})),
    ]
    monkeypatch.setattr(gsheets, "result_tabs", lambda result: tabs)
    result = RunResult(run_id=run, as_of=pd.Timestamp("2026-12-01", tz="UTC"), source="test")
    return SheetsResults(api, BOOK, clock=CLOCK).publish(result)


def sheet_of(emu: SheetsEmulator, title: str) -> Any:
    return emu.state.book(BOOK).sheet(title)


def by_contact(emu: SheetsEmulator) -> dict[str, list[Cell | None]]:
    """Each Contact ID in the Scores tab with the cells right of ours (D, E, F)."""
    sheet = sheet_of(emu, "Scores")
    out = {}
    for r in range(2, sheet.rows):
        key = sheet.cells.get((r, 0))
        if key is not None and key.value:
            out[str(key.value)] = [sheet.cells.get((r, c)) for c in (3, 4, 5)]
    return out


def row_of(emu: SheetsEmulator, contact: str) -> int:
    sheet = sheet_of(emu, "Scores")
    return next(r for (r, c), cell in sheet.cells.items() if c == 0 and cell.value == contact)


def test_the_users_columns_follow_their_contacts_and_nothing_typed_is_lost(
    emu: SheetsEmulator, api: SheetsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(api, monkeypatch, ["C1", "C2", "C3", "C4", "C5"], run=1)
    sheet = sheet_of(emu, "Scores")
    assert sheet.cols == 3
    marks = {m["metadataKey"]: m["metadataValue"] for m in sheet.metadata}
    assert json.loads(marks[COLUMNS_KEY]) == ["Contact ID", "Name", "Lead score"]
    # The rep inserts three columns right of ours and fills some of them in.
    sheet.cols = 6
    cells = sheet.cells
    cells[(1, 3)], cells[(1, 4)] = Cell(value="Called?"), Cell(value="Next step")
    c2, c3, c4, c5 = (row_of(emu, c) for c in ("C2", "C3", "C4", "C5"))
    cells[(c2, 3)] = Cell(value=True)
    cells[(c2, 4)] = Cell(formula=f'=IF(C{c2 + 1}>50,"call","wait")')  # its own row's score
    cells[(c3, 4)] = Cell(value="left a voicemail")
    cells[(c4, 4)] = Cell(value="=not a formula")  # text typed as '=not a formula
    cells[(c5, 5)] = Cell(value=45_000.0, number_type="DATE")  # a column without a header
    emu.reset_counts()
    report = publish(api, monkeypatch, ["C6", "C5", "C4", "C2", "C1"], run=2)  # C3 left
    assert emu.total("GET") == 2  # the metadata, and the widened tab's cells
    after = by_contact(emu)
    assert after["C2"][0].value is True
    new_c2 = row_of(emu, "C2")
    assert new_c2 != c2 and after["C2"][1].formula == f'=IF(C{new_c2 + 1}>50,"call","wait")'
    assert after["C4"][1].formula is None and after["C4"][1].value == "=not a formula"
    assert after["C5"][2].value == 45_000.0
    assert all(c is None or c.empty for c in after["C6"] + after["C1"])
    assert row_of(emu, "C3") == 7  # below the five rows of this refresh, with its note
    assert after["C3"][1].value == "left a voicemail"
    sheet = sheet_of(emu, "Scores")
    assert sheet.cells.get((7, 2)) is None or sheet.cells[(7, 2)].empty  # no score
    head = str(sheet.cells[(0, 0)].value)
    assert "1 row at the bottom is no longer in the results" in head
    assert [sheet.cells[(1, c)].value for c in range(5)] == [
        "Contact ID", "Name", "Lead score", "Called?", "Next step"
    ]  # fmt: skip
    assert sheet.cols == 6 and any("your columns kept" in d for d in report.detail)

    emu.reset_counts()
    publish(api, monkeypatch, ["C6", "C5", "C4", "C2", "C1"], run=3)  # the same again
    assert by_contact(emu)["C2"][1].formula == after["C2"][1].formula
    assert row_of(emu, "C3") == 7 and len(by_contact(emu)) == 6  # kept once, not twice
    publish(api, monkeypatch, ["C1", "C2", "C3", "C4", "C5", "C6"], run=4)  # C3 is back
    assert by_contact(emu)["C3"][1].value == "left a voicemail" and len(by_contact(emu)) == 6
    assert "no longer in the results" not in str(sheet_of(emu, "Scores").cells[(0, 0)].value)


def test_a_tab_nobody_widened_costs_no_extra_read(
    emu: SheetsEmulator, api: SheetsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(api, monkeypatch, ["C1", "C2"], run=5)
    if sheet_of(emu, "Scores").cols > 3:  # an earlier test's columns: gone with the tab
        emu.state.book(BOOK).sheets.remove(sheet_of(emu, "Scores"))
        publish(api, monkeypatch, ["C1", "C2"], run=6)
    emu.reset_counts()
    publish(api, monkeypatch, ["C2", "C1"], run=7)
    assert emu.total("GET") == 1


def test_columns_added_to_a_tab_without_ids_are_said_to_be_lost(
    emu: SheetsEmulator, api: SheetsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(api, monkeypatch, ["C1"], run=8)
    forecast = sheet_of(emu, "Forecast")
    forecast.cols += 1
    forecast.cells[(1, 2)] = Cell(value="My guess")
    report = publish(api, monkeypatch, ["C1"], run=9)
    (said,) = [d for d in report.detail if d.startswith("Forecast: the columns you added")]
    assert "(My guess)" in said and "not kept" in said


def test_a_tab_from_before_this_release_is_read_by_todays_headers(
    emu: SheetsEmulator, api: SheetsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(api, monkeypatch, ["C1", "C2"], run=10)
    sheet = sheet_of(emu, "Scores")
    sheet.metadata = [m for m in sheet.metadata if m["metadataKey"] != COLUMNS_KEY]
    sheet.cols += 1
    sheet.cells[(1, sheet.cols - 1)] = Cell(value="Owner")
    sheet.cells[(row_of(emu, "C2"), sheet.cols - 1)] = Cell(value="Ana")
    publish(api, monkeypatch, ["C2", "C1"], run=11)
    sheet = sheet_of(emu, "Scores")
    assert sheet.cells[(1, 3)].value == "Owner" and sheet.cells[(2, 3)].value == "Ana"
    assert sheet.cells[(2, 0)].value == "C2"
