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
from smbml_connect.connectors.gsheets.user_columns import COLUMNS_KEY, move_formula
from smbml_connect.credentials import Secret
from smbml_connect.ports import RunResult
from smbml_connect.testing.clock import FakeClock
from smbml_connect.testing.sheets_emulator import SheetsEmulator, make_service_account
from smbml_connect.testing.sheets_values import Cell

CLOCK = FakeClock()
BOOK = "1UserColumnsSpreadsheet000000000000000"


@pytest.mark.parametrize(
    ("formula", "moved"),
    [
        ("=C5>70", "=C9>70"),  # row 5 (index 4) moved to row 9 (index 8)
        ("=$C$5+C5", "=$C$5+C9"),  # an anchored row stays
        ("=C$5*D5", "=C$5*D9"),
        ('=IF(C5>70,"call A5 now","")', '=IF(C9>70,"call A5 now","")'),  # quoted text
        ("=LOG10(C5)+ATAN2(1,2)", "=LOG10(C9)+ATAN2(1,2)"),  # function names
        ("=SUM(C5:E5)*'Q1 2024'!B5", "=SUM(C9:E9)*'Q1 2024'!B5"),  # another tab stays
        ("=VLOOKUP(A5,Leads!A2:B100,2,FALSE)", "=VLOOKUP(A9,Leads!A2:B100,2,FALSE)"),
        ('=COUNTIF(C3:C200,"Hot")+C5', '=COUNTIF(C3:C200,"Hot")+C9'),  # other rows stay
        ("=COUNTIF(C:C,C5)", "=COUNTIF(C:C,C9)"),  # whole columns
        ("=C5-1", "=C9-1"),
    ],
)
def test_a_formula_moves_with_its_row_as_a_sort_moves_it(formula: str, moved: str) -> None:
    assert move_formula(formula, 4, 8, {}) == moved


def test_a_formula_follows_the_columns_it_names() -> None:
    # Called? was column C between ours; ours close up (D -> C) and it goes to E
    assert (
        move_formula('=IF(D3>70,"call","wait")&C3', 2, 5, {3: 2, 2: 4})
        == '=IF(C6>70,"call","wait")&E6'
    )


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
    mark = json.loads(marks[COLUMNS_KEY])
    assert mark["columns"] == ["Contact ID", "Name", "Lead score"] and mark["records"] == ""
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
    (said,) = [d for d in report.unwritten if d.startswith("Forecast: the columns you added")]
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


# -- what a review found -----------------------------------------------------------------
def _book(emu: SheetsEmulator, name: str) -> str:
    key = f"1UserColumns{name}".ljust(39, "0")
    emu.state.create(key, name, {"Notes": [["the user's own tab"]]})
    return key


def put(api: SheetsApi, monkeypatch: pytest.MonkeyPatch, book: str, frame: pd.DataFrame,
        run: int, note: str = "") -> Any:  # fmt: skip
    tabs = [ResultTab("scores", "Scores", frame, note=note, key="contact_id")]
    monkeypatch.setattr(gsheets, "result_tabs", lambda result: tabs)
    result = RunResult(run_id=run, as_of=pd.Timestamp("2026-12-01", tz="UTC"), source="test")
    return SheetsResults(api, book, clock=CLOCK).publish(result)


def grid(emu: SheetsEmulator, book: str) -> dict[str, list[Any]]:
    """Contact ID -> the row's cells right of ours, as (value or formula); repeated keys
    get a suffix."""
    sheet = emu.state.book(book).sheet("Scores")
    mark = json.loads(next(m["metadataValue"] for m in sheet.metadata
                           if m["metadataKey"] == COLUMNS_KEY))  # fmt: skip
    width = len(mark["columns"])
    out: dict[str, list[Any]] = {}
    headed = [
        c for c in range(sheet.cols) if (1, c) in sheet.cells and not sheet.cells[(1, c)].empty
    ]
    theirs = max(headed, default=width - 1) + 1  # the grid never shrinks: cleared columns after
    for r in range(2, 2 + mark["data"]):  # the rows written (cleared ones after)
        key = sheet.cells.get((r, 0))
        name = str(key.value) if key is not None and key.value else f"row{r}"
        while name in out:
            name += "'"
        cells = [sheet.cells.get((r, c)) for c in range(width, theirs)]
        out[name] = [None if c is None or c.empty else (c.formula or c.value) for c in cells]
    return out


def widen(emu: SheetsEmulator, book: str, header: list[str], cells: dict[str, list[Any]]) -> None:
    """The user inserts columns right of ours and types into them (Cell or value)."""
    sheet = emu.state.book(book).sheet("Scores")
    start = sheet.cols
    sheet.cols += len(header)
    for j, h in enumerate(header):
        sheet.cells[(1, start + j)] = Cell(value=h)
    for contact, values in cells.items():
        r = next(r for (r, c), cell in sheet.cells.items() if c == 0 and cell.value == contact)
        for j, v in enumerate(values):
            if v is not None:
                cell = v if isinstance(v, Cell) else Cell(value=v)
                if cell.formula:
                    cell = Cell(formula=cell.formula.replace("{r}", str(r + 1)))
                sheet.cells[(r, start + j)] = cell


def test_a_run_with_no_rows_keeps_the_users_cells_with_their_keys(
    emu: SheetsEmulator, api: SheetsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = _book(emu, "Empty")
    put(api, monkeypatch, book, scores(["C1", "C2"]), run=1)
    widen(emu, book, ["Called?"], {"C2": ["left voicemail"]})
    put(api, monkeypatch, book, pd.DataFrame(), run=2, note="Nothing to show this run (segments failed: a timeout).")  # fmt: skip
    assert grid(emu, book)["C2"] == ["left voicemail"]
    head = str(emu.state.book(book).sheet("Scores").cells[(0, 0)].value)
    assert ".." not in head and "1 row at the bottom" in head
    put(api, monkeypatch, book, scores(["C2", "C1"]), run=3)
    assert grid(emu, book) == {"C2": ["left voicemail"], "C1": [None]}


def test_a_tab_split_over_requests_that_stops_part_way_keeps_each_key_beside_its_cells(
    emu: SheetsEmulator, api: SheetsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smbml_connect.connectors.gsheets.http import SheetsLimits
    from smbml_connect.testing.faults import Fault

    book = _book(emu, "Partial")
    put(api, monkeypatch, book, scores(["C1", "C2", "C3", "C4", "C5", "C6"]), run=1)
    widen(emu, book, ["Note"], {"C1": ["do not call again"], "C2": ["call Monday"]})
    monkeypatch.setattr(gsheets, "CHUNK_BYTES", 300)  # a row or two per request
    key = Secret(json.dumps(make_service_account(emu)))
    failing = SheetsApi(key, api_url=emu.url, clock=CLOCK, limits=SheetsLimits(attempts=1))
    down = Fault("5xx", count=10**6, status=503, path=":batchUpdate", skip=1)
    emu.inject(down)
    try:
        with pytest.raises(gsheets.SheetsNotAllWritten):
            put(failing, monkeypatch, book, scores(["C6", "C5", "C4", "C3", "C2", "C1"]), run=2)
    finally:
        down.count = 0
    assert {k: v for k, v in grid(emu, book).items() if v != [None]} == {
        "C1": ["do not call again"], "C2": ["call Monday"]
    }  # fmt: skip
    put(api, monkeypatch, book, scores(["C6", "C5", "C4", "C3", "C2", "C1"]), run=3)
    assert grid(emu, book)["C1"] == ["do not call again"] and grid(emu, book)["C6"] == [None]


def test_unticked_boxes_and_a_filled_down_formula_do_not_pile_up_and_reach_new_rows(
    emu: SheetsEmulator, api: SheetsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = _book(emu, "PileUp")
    ids = ["C1", "C2", "C3", "C4", "C5"]
    put(api, monkeypatch, book, scores(ids), run=1)
    widen(emu, book, ["Called?", "Next"], {
        c: [c == "C2", Cell(formula='=IF(C{r}>52,"call","")')] for c in ids
    })  # fmt: skip
    for run, now in enumerate((["C2", "C3", "C4", "C5"], ["C6", "C2", "C4"]), start=2):
        put(api, monkeypatch, book, scores(now), run=run)
    rows = grid(emu, book)
    assert list(rows) == ["C6", "C2", "C4"]  # nobody left at the bottom
    assert rows["C2"] == [True, '=IF(C4>52,"call","")']
    assert rows["C6"] == [None, '=IF(C3>52,"call","")']  # the new contact gets the formula


def test_a_contact_shown_twice_does_not_grow_the_tab(
    emu: SheetsEmulator, api: SheetsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = _book(emu, "Twice")
    twice = scores(["C1", "C1", "C2"])
    put(api, monkeypatch, book, twice, run=1)
    widen(emu, book, ["Note"], {"C1": ["met at the fair"]})
    sheet = emu.state.book(book).sheet("Scores")
    sheet.cells[(3, 3)] = Cell(value="met at the fair")  # the rep typed it on both rows
    for run in (2, 3, 4):
        put(api, monkeypatch, book, twice, run=run)
    assert grid(emu, book) == {"C1": ["met at the fair"], "C1'": [None], "C2": [None]}


def test_columns_inserted_between_ours_move_right_and_formulas_follow_the_columns(
    emu: SheetsEmulator, api: SheetsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = _book(emu, "Between")
    put(api, monkeypatch, book, scores(["C1", "C2"]), run=1)
    sheet = emu.state.book(book).sheet("Scores")
    moved = {(r, c + 1 if c >= 2 else c): cell for (r, c), cell in sheet.cells.items()}
    moved[(1, 2)] = Cell(value="Called?")  # inserted between Name and Lead score
    sheet.cells, sheet.cols = moved, 4
    c1 = next(r for (r, c), cell in sheet.cells.items() if c == 0 and cell.value == "C1")
    sheet.cells[(c1, 2)] = Cell(value=True)
    sheet.cells[(1, 4)] = Cell(value="Next")
    sheet.cols = 5
    sheet.cells[(c1, 4)] = Cell(formula=f'=IF(AND($D{c1 + 1}>70,NOT(C{c1 + 1})),"call","")')
    put(api, monkeypatch, book, scores(["C2", "C1"]), run=2)
    head = [emu.state.book(book).sheet("Scores").cells[(1, c)].value for c in range(5)]
    assert head == ["Contact ID", "Name", "Lead score", "Called?", "Next"]
    assert grid(emu, book)["C1"] == [True, '=IF(AND($C4>70,NOT(D4)),"call","")']  # $ too


def test_a_renamed_header_of_ours_stays_ours_and_keys_with_spaces_still_match(
    emu: SheetsEmulator, api: SheetsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = _book(emu, "Renamed")
    put(api, monkeypatch, book, scores(["C1", "C2"]), run=1)
    emu.state.book(book).sheet("Scores").cells[(1, 1)] = Cell(value="Full name")
    widen(emu, book, ["Owner"], {"C2": ["Ana"]})
    spaced = scores(["C2", "C1"]).assign(contact_id=pd.Series(["C2 ", "C1"], dtype="string"))
    put(api, monkeypatch, book, spaced, run=2)
    sheet = emu.state.book(book).sheet("Scores")
    assert [sheet.cells[(1, c)].value for c in range(4)] == ["Contact ID", "Name", "Lead score", "Owner"]  # fmt: skip
    assert sheet.cols == 4 and sheet.cells[(2, 3)].value == "Ana"


def test_the_users_formats_stay_and_a_header_formula_stays_a_formula(
    emu: SheetsEmulator, api: SheetsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = _book(emu, "Formats")
    put(api, monkeypatch, book, scores(["C1", "C2"]), run=1)
    widen(emu, book, ["Follow up"], {
        "C1": [Cell(value=46_000.0, number_type="DATE")],
        "C2": [Cell(value=46_001.0, number_type="DATE")],
    })  # fmt: skip
    sheet = emu.state.book(book).sheet("Scores")
    sheet.cells[(1, 3)] = Cell(formula='="Due "&TEXT(TODAY(),"d mmm")')
    put(api, monkeypatch, book, scores(["C2", "C1"]), run=2)
    sheet = emu.state.book(book).sheet("Scores")
    assert sheet.cells[(1, 3)].formula == '="Due "&TEXT(TODAY(),"d mmm")'
    assert [(sheet.cells[(r, 3)].value, sheet.cells[(r, 3)].number_type) for r in (2, 3)] == [
        (46_001.0, "DATE"), (46_000.0, "DATE")
    ]  # fmt: skip


def test_a_column_of_ours_missing_for_a_run_keeps_its_place_for_the_users_formulas(
    emu: SheetsEmulator, api: SheetsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = _book(emu, "Missing")
    put(api, monkeypatch, book, scores(["C1", "C2"]), run=1)
    widen(emu, book, ["Hot?"], {c: [Cell(formula='=IF(C{r}>70,"call","")')] for c in ("C1", "C2")})
    put(api, monkeypatch, book, scores(["C1", "C2"]).drop(columns="lead_score"), run=2)
    sheet = emu.state.book(book).sheet("Scores")
    assert [sheet.cells[(1, c)].value for c in range(4)] == ["Contact ID", "Name", "Lead score", "Hot?"]  # fmt: skip
    put(api, monkeypatch, book, scores(["C2", "C1"]), run=3)  # the scores are back
    assert grid(emu, book)["C1"] == ['=IF(C4>70,"call","")']  # still the Lead score column


class _Accounts:
    """A store as the destination asks it: whose records the run's source holds."""

    def __init__(self, account: str) -> None:
        self.account = account

    def account_of(self, source: str) -> tuple[str, str]:
        return self.account, f"HubSpot account {self.account}"


def test_notes_typed_on_another_accounts_rows_are_not_put_beside_this_ones(
    emu: SheetsEmulator, api: SheetsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = _book(emu, "Accounts")
    tabs = [ResultTab("scores", "Scores", scores(["C1", "C2"]), key="contact_id")]
    monkeypatch.setattr(gsheets, "result_tabs", lambda result: tabs)
    result = RunResult(run_id=1, as_of=pd.Timestamp("2026-12-01", tz="UTC"), source="hubspot")
    SheetsResults(api, book, clock=CLOCK).publish(result, _Accounts("111"))
    widen(emu, book, ["Note"], {"C1": ["asked us never to call again"]})
    report = SheetsResults(api, book, clock=CLOCK).publish(result, _Accounts("222"))
    rows = grid(emu, book)
    assert rows["C1"] == [None] and rows["C1'"] == ["asked us never to call again"]  # at the bottom
    assert any("another account" in d for d in report.notes)
