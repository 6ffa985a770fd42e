"""Result tabs kept fresh while people use the spreadsheet (find54_sync): what the
Sheets destination has to say reaches the user, a copy of a tab does not take over, a
title row or a deleted row does not detach the user's notes, smbml's columns keep their
places, two configs do not take turns over one spreadsheet, and the user's charts,
frozen rows and cells typed below the results stay."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

import smbml_connect.connectors.gsheets.sheets as gsheets
from smbml_connect.cli import cli
from smbml_connect.connectors.gsheets.http import SheetsApi
from smbml_connect.connectors.gsheets.sheets import ResultTab, SheetsResults
from smbml_connect.credentials import Secret
from smbml_connect.ports import PushReport, RunResult
from smbml_connect.testing.clock import FakeClock
from smbml_connect.testing.sheets_emulator import SheetsEmulator, make_service_account
from smbml_connect.testing.sheets_values import parse_user_entered

CLOCK = FakeClock()


@pytest.fixture(scope="module")
def emu() -> Iterator[SheetsEmulator]:
    with SheetsEmulator(clock=CLOCK) as emulator:
        yield emulator


@pytest.fixture
def api(emu: SheetsEmulator) -> SheetsApi:
    CLOCK.advance(61)
    return SheetsApi(Secret(json.dumps(make_service_account(emu))), api_url=emu.url, clock=CLOCK)


def _book(emu: SheetsEmulator, name: str) -> str:
    key = f"1SyncTabs{name}".ljust(39, "0")
    emu.state.create(key, name, {"Notes": [["the shop's own notes"]]})
    return key


def scores(ids: list[str], **more: list[Any]) -> pd.DataFrame:
    """A Scores tab as a small shop's run gives it: a few customers, one churn risk each."""
    rng = random.Random(len(ids))
    frame = pd.DataFrame(
        {
            "contact_id": pd.Series(ids, dtype="string"),
            "name": [f"Ana {i}" for i in ids],
            "churn_risk": [round(rng.uniform(0.01, 0.6), 3) for _ in ids],
            "segment": [rng.choice(["Champions", "At Risk", "Loyal Customers"]) for _ in ids],
        }
    )
    return frame.assign(**more) if more else frame


def publish(
    api: SheetsApi,
    monkeypatch: pytest.MonkeyPatch,
    book: str,
    tabs: list[ResultTab],
    run: int,
    source: str = "files:shop~1a2b",
    **kw: Any,
) -> PushReport:
    monkeypatch.setattr(gsheets, "result_tabs", lambda result: tabs)
    result = RunResult(run_id=run, as_of=pd.Timestamp("2026-10-31", tz="UTC"), source=source)
    return SheetsResults(api, book, clock=CLOCK, **kw).publish(result)


def sheet(emu: SheetsEmulator, book: str, title: str) -> Any:
    return emu.state.book(book).sheet(title)


def head(emu: SheetsEmulator, book: str, title: str) -> str:
    return str(sheet(emu, book, title).cells[(0, 0)].value)


def put(emu: SheetsEmulator, book: str, title: str, row: int, col: int, text: str) -> None:
    """The user types into a cell (a formula, a number or text, as Sheets reads it)."""
    sheet(emu, book, title).cells[(row, col)] = parse_user_entered(text, "en_US")


def row_of(emu: SheetsEmulator, book: str, title: str, key: str) -> int:
    cells = sheet(emu, book, title).cells
    return next(r for (r, c), cell in cells.items() if c == 0 and cell.value == key)


def batch(emu: SheetsEmulator, book: str, *requests: dict[str, Any]) -> dict[str, Any]:
    """What the user does in Sheets' UI, as the API request that does the same."""
    return emu.state.batch_update(book, {"requests": list(requests)})


# -- item 2: what the destination says reaches the user; a copy does not take over ------
def _shop_tabs(n: int = 14) -> dict[str, list[list[Any]]]:
    """A small shop's spreadsheet: a few customers, irregular orders over two years."""
    rng = random.Random(7)
    customers: list[list[Any]] = [["Customer ID", "Full Name", "Email"]]
    orders: list[list[Any]] = [["Order ID", "Customer ID", "Ordered At", "Total"]]
    for i in range(1, n + 1):
        customers.append([f"C{i:03d}", f"Name{i} Family{i}", f"p{i}@shop.test"])
        for _ in range(rng.randint(1, 7)):
            month = rng.randint(1, 22)
            day = f"{2024 + (month - 1) // 12}-{(month - 1) % 12 + 1:02d}-{rng.randint(1, 28):02d}"
            orders.append([f"O{len(orders):04d}", f"C{i:03d}", day, round(rng.uniform(8, 140), 2)])
    return {"Customers": customers, "Orders": orders}


def _config(
    emu: SheetsEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, book: str, steps: str
) -> tuple[Path, str]:
    """A config reading ``book`` and writing its results back, with the ``steps`` given
    (the TOML list's inside); and a store for it."""
    monkeypatch.setenv("SMBML_GOOGLE_SERVICE_ACCOUNT", json.dumps(make_service_account(emu)))
    config = tmp_path / "smbml.toml"
    config.write_text(
        f'[source]\nkind = "gsheets"\nspreadsheet = "{book}"\n[google]\napi_url = "{emu.url}"\n'
        f"[analytics]\nas_of = 2025-10-31\nenabled = [{steps}]\n",
        encoding="utf-8",
    )
    return config, str(tmp_path / "s.sqlite")


def _run(config: Path, store: str) -> Any:
    """`smbml run` a minute after the last (a fresh minute of quota)."""
    CLOCK.advance(61)
    return CliRunner().invoke(cli, ["run", "-c", str(config), "--store", store])


def test_the_run_prints_and_keeps_what_the_sheets_tabs_could_not_keep(
    emu: SheetsEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = "1SyncTabsCli".ljust(39, "0")
    emu.state.create(book, "Shop", _shop_tabs())
    config, store = _config(emu, tmp_path, monkeypatch, book, '"rfm_segments", "sales_forecast"')
    first = _run(config, store)
    assert first.exit_code == 0, first.output
    assert "Google Sheets 1SyncTabsCli…" in first.output and "Forecast: 12 rows" in first.output
    batch(emu, book, {"insertDimension": {"range": {
        "sheetId": sheet(emu, book, "Forecast").sheet_id, "dimension": "COLUMNS",
        "startIndex": 10, "endIndex": 11}}})  # fmt: skip
    put(emu, book, "Forecast", 1, 10, "Comment")
    put(emu, book, "Forecast", 2, 10, "Boss wants 10% more here")
    second = _run(config, store)
    said = "Forecast: the columns you added (Comment) were not kept"
    assert second.output.count(said) == 1, second.output  # under the push, not again as a problem
    shown = CliRunner().invoke(cli, ["status", "-c", str(config), "--store", store])
    assert said in shown.output and "run 2 [run] partial" in shown.output, shown.output


def test_a_copy_kept_of_a_result_tab_is_a_note_not_a_partial_run(
    emu: SheetsEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The owner duplicates Segments to keep last week's figures: the copy is left as it
    is and named, but every tab was written, so the run is ok and exits 0. It was filed as
    not written: every later run was "partial" and exited 1 for as long as the copy was
    kept, a failure for any scheduler (review54 item 2). The line stays, as a note."""
    book = "1SyncCopyKept".ljust(39, "0")
    emu.state.create(book, "Shop", _shop_tabs())
    config, store = _config(emu, tmp_path, monkeypatch, book, '"rfm_segments", "sales_forecast"')
    first = _run(config, store)
    assert first.exit_code == 0, first.output
    segments = sheet(emu, book, "Segments")
    batch(emu, book, {"duplicateSheet": {"sourceSheetId": segments.sheet_id,
                                         "insertSheetIndex": segments.index + 1}})  # fmt: skip
    said = "Copy of Segments: left as it is, not refreshed"
    for _ in (2, 3):
        again = _run(config, store)
        assert again.exit_code == 0, again.output
        assert again.output.count(said) == 1 and "problem:" not in again.output, again.output
    shown = CliRunner().invoke(cli, ["status", "-c", str(config), "--store", store])
    assert "run 3 [run] ok" in shown.output and "run 2 [run] ok" in shown.output, shown.output
    assert "problem:" not in shown.output
    notes = shown.output.split("run 3 [run] ok")[1].split("run 2 [run]")[0]
    assert "    notes:\n      Google Sheets 1SyncCopyKep" in notes and f"…: {said}" in notes


@pytest.mark.parametrize("copies_metadata", [True, False])
def test_a_copy_of_a_result_tab_dragged_first_does_not_take_over(
    emu: SheetsEmulator,
    api: SheetsApi,
    monkeypatch: pytest.MonkeyPatch,
    copies_metadata: bool,
) -> None:
    book = _book(emu, f"Copy{copies_metadata}")
    tabs = [ResultTab("scores", "Scores", scores(["K1", "K2", "K3"]), key="contact_id")]
    publish(api, monkeypatch, book, tabs, run=1)
    emu.state.duplicate_copies_metadata = copies_metadata
    try:  # Google's docs do not say whether Duplicate copies developer metadata: both
        batch(emu, book, {"duplicateSheet": {
            "sourceSheetId": sheet(emu, book, "Scores").sheet_id, "insertSheetIndex": 0}})  # fmt: skip
    finally:
        emu.state.duplicate_copies_metadata = True
    assert emu.state.book(book).titles()[0] == "Copy of Scores"
    for run in (2, 3):
        report = publish(api, monkeypatch, book, tabs, run=run)
        assert f"(run {run}," in head(emu, book, "Scores")
        assert "(run 1," in head(emu, book, "Copy of Scores")
    named = [line for line in report.notes if line.startswith("Copy of Scores: left as it is")]
    assert len(named) == (1 if copies_metadata else 0)


# -- item 3: the header is found by our labels --------------------------------------------
def _with_notes(emu: SheetsEmulator, book: str, ids: list[str]) -> dict[str, str]:
    """The rep inserts a "Called?" column right of ours and notes each contact."""
    scores_tab = sheet(emu, book, "Scores")
    width = scores_tab.cols
    batch(emu, book, {"insertDimension": {"range": {
        "sheetId": scores_tab.sheet_id, "dimension": "COLUMNS",
        "startIndex": width, "endIndex": width + 1}}})  # fmt: skip
    put(emu, book, "Scores", 1, width, "Called?")
    notes = {key: f"called {key} on Monday" for key in ids}
    for key, note in notes.items():
        put(emu, book, "Scores", row_of(emu, book, "Scores", key), width, note)
    return notes


def _notes_beside(emu: SheetsEmulator, book: str) -> dict[str, str]:
    """Contact ID -> the text in the same row right of ours, as the user reads the tab."""
    tab = sheet(emu, book, "Scores")
    header = [tab.cells.get((1, c)) for c in range(tab.cols)]
    at = next(c for c, cell in enumerate(header) if cell is not None and cell.value == "Called?")
    out = {}
    for (r, c), cell in tab.cells.items():
        if c == 0 and r > 1 and cell.value and (r, at) in tab.cells:
            out[str(cell.value)] = str(tab.cells[(r, at)].value)
    return out


@pytest.mark.parametrize("change", ["title row above", "row 1 deleted"])
def test_a_row_added_above_or_row_1_deleted_keeps_every_note_beside_its_contact(
    emu: SheetsEmulator, api: SheetsApi, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    book = _book(emu, "Title" + change.split()[0])
    ids = ["K059", "K010", "K002", "K031", "K017"]
    publish(api, monkeypatch, book, [ResultTab("scores", "Scores", scores(ids), key="contact_id")], run=1)  # fmt: skip
    notes = _with_notes(emu, book, ids)
    tab_id = sheet(emu, book, "Scores").sheet_id
    if change == "title row above":
        batch(emu, book, {"insertDimension": {"range": {
            "sheetId": tab_id, "dimension": "ROWS", "startIndex": 0, "endIndex": 1}}})  # fmt: skip
        put(emu, book, "Scores", 0, 0, "CALL LIST - week 45")
    else:
        batch(emu, book, {"deleteDimension": {"range": {
            "sheetId": tab_id, "dimension": "ROWS", "startIndex": 0, "endIndex": 1}}})  # fmt: skip
    now = ["K017", "K002", "K059", "K010", "K031", "K044"]  # re-sorted, one new contact
    for run in (2, 3):
        publish(api, monkeypatch, book, [ResultTab("scores", "Scores", scores(now), key="contact_id")], run=run)  # fmt: skip
        assert _notes_beside(emu, book) == notes
        tab = sheet(emu, book, "Scores")
        assert [tab.cells[(1, c)].value for c in range(5)] == [
            "Contact ID", "Name", "Churn risk", "Segment", "Called?"
        ]  # fmt: skip
        assert tab.cols == 5  # no copy of the old table kept as "your columns"
        assert "no longer in the results" not in head(emu, book, "Scores")


def test_a_tab_whose_header_was_deleted_is_left_as_it_is_and_said(
    emu: SheetsEmulator, api: SheetsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = _book(emu, "NoHeader")
    ids = ["K1", "K2", "K3"]
    publish(api, monkeypatch, book, [ResultTab("scores", "Scores", scores(ids), key="contact_id")], run=1)  # fmt: skip
    _with_notes(emu, book, ids)
    batch(emu, book, {"deleteDimension": {"range": {
        "sheetId": sheet(emu, book, "Scores").sheet_id, "dimension": "ROWS",
        "startIndex": 0, "endIndex": 2}}})  # fmt: skip
    before = dict(sheet(emu, book, "Scores").cells)
    report = publish(api, monkeypatch, book, [ResultTab("scores", "Scores", scores(ids[::-1]), key="contact_id")], run=2)  # fmt: skip
    assert sheet(emu, book, "Scores").cells == before
    (said,) = [line for line in report.unwritten if line.startswith("Scores: left as it is")]
    assert "header row" in said


# -- item 5: the user's charts and frozen rows stay ---------------------------------------
def test_a_chart_the_user_made_and_rows_they_froze_stay_through_refreshes(
    emu: SheetsEmulator, api: SheetsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = _book(emu, "Charts")
    months = pd.Series(["2026-11-01", "2026-12-01", "2027-01-01"])
    frame = pd.DataFrame({"month": months, "forecast": [148.6, 151.2, 139.9]})
    ours = {"title": "All sales: revenue forecast", "domain": "month", "series": ["forecast"], "rows": 3}  # fmt: skip

    def tabs() -> list[ResultTab]:
        return [ResultTab("forecast", "Forecast", frame.copy(), chart=dict(ours))]

    publish(api, monkeypatch, book, tabs(), run=1)
    tab_id = sheet(emu, book, "Forecast").sheet_id
    source = {"sourceRange": {"sources": [{"sheetId": tab_id, "startRowIndex": 1, "endRowIndex": 5,
                                           "startColumnIndex": 1, "endColumnIndex": 2}]}}  # fmt: skip
    batch(
        emu,
        book,
        {"addChart": {"chart": {"spec": {"title": "My product chart", "basicChart": {
            "chartType": "COLUMN", "domains": [{"domain": source}], "series": [{"series": source}]}},
            "position": {"overlayPosition": {"anchorCell": {"sheetId": tab_id, "rowIndex": 8}}}}}},
        {"updateSheetProperties": {"properties": {"sheetId": tab_id, "gridProperties": {
            "frozenRowCount": 3, "frozenColumnCount": 1}},
            "fields": "gridProperties.frozenRowCount,gridProperties.frozenColumnCount"}},
    )  # fmt: skip
    for run in (2, 3):
        publish(api, monkeypatch, book, tabs(), run=run)
        titles = sorted(c["spec"]["title"] for c in sheet(emu, book, "Forecast").charts)
        assert titles == ["All sales: revenue forecast", "My product chart"]
        forecast = sheet(emu, book, "Forecast")
        assert (forecast.frozen_rows, forecast.frozen_cols) == (3, 1)


# -- item 4: smbml's columns keep their letters; the grid is cleared, never shrunk ---------
def test_columns_keep_their_letters_when_a_step_starts_or_stops_and_the_grid_never_shrinks(
    emu: SheetsEmulator, api: SheetsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lookup by letter (the README's XLOOKUP on Scores!E:E) reads the same figure after
    lead scores start (two columns more) and stop (those two left empty)."""
    book = _book(emu, "Letters")
    customers = ["K059", "K010", "K002", "K031"]
    order = ["contact_id", "name", "lead_score", "lead_tier", "churn_risk", "segment"]

    def tabs(frame: pd.DataFrame) -> list[ResultTab]:
        frame = frame[[c for c in order if c in frame.columns]]  # the steps' declared order
        return [ResultTab("scores", "Scores", frame, key="contact_id")]

    publish(api, monkeypatch, book, tabs(scores(customers)), run=1)
    header = [sheet(emu, book, "Scores").cells[(1, c)].value for c in range(4)]
    assert header == ["Contact ID", "Name", "Churn risk", "Segment"]
    churn = {k: sheet(emu, book, "Scores").cells[(row_of(emu, book, "Scores", k), 2)].value for k in customers}  # fmt: skip
    leads = ["L101", "L102", "L103", "L104", "L105", "L106"]  # older sign-ups: lead scores run
    lead_rows = scores(leads).assign(
        lead_score=[71, 12, 55, 40, 8, 93], lead_tier=["A", "C", "B", "B", "C", "A"],
        churn_risk=float("nan"),
    )  # fmt: skip
    both = pd.concat([scores(customers), lead_rows], ignore_index=True)
    publish(api, monkeypatch, book, tabs(both), run=2)
    tab = sheet(emu, book, "Scores")
    assert [tab.cells[(1, c)].value for c in range(6)] == [
        "Contact ID", "Name", "Churn risk", "Segment", "Lead score", "Lead tier"
    ]  # fmt: skip
    for key, risk in churn.items():  # column C still holds each customer's churn risk
        assert tab.cells[(row_of(emu, book, "Scores", key), 2)].value == risk
    grown = (tab.rows, tab.cols)
    report = publish(api, monkeypatch, book, tabs(scores(customers[:3])), run=3)
    tab = sheet(emu, book, "Scores")
    assert (tab.rows, tab.cols) == grown  # cleared, not deleted: no #REF! in Google
    assert [tab.cells[(1, c)].value for c in range(6)][4:] == ["Lead score", "Lead tier"]
    assert all((r, c) not in tab.cells or tab.cells[(r, c)].empty for r in range(2, tab.rows) for c in (4, 5))  # fmt: skip
    assert all((r, 0) not in tab.cells or tab.cells[(r, 0)].empty for r in range(5, tab.rows))
    assert "Lead score, Lead tier: not filled by this run" in head(emu, book, "Scores")
    assert not report.unwritten


# -- item 1: a second config does not take over the tabs ------------------------------------
class _Store:
    """What the destination asks of a store: its writer id, no account (files)."""

    def __init__(self, writer: str) -> None:
        self.writer = writer

    def writer_id(self) -> str:
        return self.writer

    def account_of(self, source: str) -> None:
        return None


def test_a_second_config_writing_the_same_spreadsheet_is_refused_until_it_takes_over(
    emu: SheetsEmulator, api: SheetsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = _book(emu, "TwoShops")
    shop_a, shop_b = ["K059", "K010", "K002"], ["K010", "K044", "K059", "K007"]
    tabs_a = [ResultTab("scores", "Scores", scores(shop_a), key="contact_id")]
    tabs_b = [ResultTab("scores", "Scores", scores(shop_b), key="contact_id")]

    def run(tabs: list[ResultTab], store: _Store, n: int, **kw: Any) -> PushReport:
        monkeypatch.setattr(gsheets, "result_tabs", lambda result: tabs)
        result = RunResult(run_id=n, as_of=pd.Timestamp("2026-10-31", tz="UTC"), source="files:x")
        return SheetsResults(api, book, clock=CLOCK, **kw).publish(result, store)

    publish(api, monkeypatch, book, tabs_a, run=1)  # a tab from before the writer mark
    run(tabs_a, _Store("a1b2"), 2)  # taken as ours, and marked
    notes = _with_notes(emu, book, ["K059", "K010"])
    before = dict(sheet(emu, book, "Scores").cells)
    with pytest.raises(gsheets.SheetsNotAllWritten) as refused:
        run(tabs_b, _Store("c3d4"), 1)
    said = str(refused.value)
    assert "'Scores'" in said and "another spreadsheet" in said and "take_over_tabs" in said
    assert sheet(emu, book, "Scores").cells == before  # nothing written
    report = run(tabs_b, _Store("c3d4"), 2, take_over=True)
    assert any("taken over" in line for line in report.detail)
    tab = sheet(emu, book, "Scores")
    beside = {tab.cells[(r, 0)].value: tab.cells.get((r, 4)) for r in range(2, 2 + len(shop_b))}
    assert all(cell is None or cell.empty for cell in beside.values())  # not beside shop B's K059
    kept = [(r, c.value) for (r, col), c in tab.cells.items() if col == 4 and r > 1 + len(shop_b) and c.value]  # fmt: skip
    assert sorted(v for _, v in kept) == sorted(notes.values())  # at the bottom, with old IDs
    run(tabs_b, _Store("c3d4"), 3)  # now B's: no refusal, no option needed
    with pytest.raises(gsheets.SheetsNotAllWritten):
        run(tabs_a, _Store("a1b2"), 3)


def test_a_store_keeps_one_random_writer_id(tmp_path: Path) -> None:
    from smbml_connect.store import Store

    with Store(tmp_path / "a.sqlite") as store:
        first = store.writer_id()
    with Store(tmp_path / "a.sqlite") as store:
        assert store.writer_id() == first
    with Store(tmp_path / "b.sqlite") as other:
        assert other.writer_id() != first and str(tmp_path) not in first


# -- item 6: what the user types below the results is kept -------------------------------
def test_a_total_and_a_note_typed_below_the_results_move_below_the_new_rows(
    emu: SheetsEmulator, api: SheetsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = _book(emu, "Below")
    ids = ["K059", "K010", "K002", "K031"]
    frame = scores(ids).assign(value=[877.53, 120.0, 43.1, 310.25])
    publish(api, monkeypatch, book, [ResultTab("scores", "Scores", frame, key="contact_id")], run=1)  # fmt: skip
    tab = sheet(emu, book, "Scores")
    batch(emu, book, {"appendDimension": {"sheetId": tab.sheet_id, "dimension": "ROWS", "length": 3}})  # fmt: skip
    last = 2 + len(ids)  # A1 number of the last result row
    put(emu, book, "Scores", last + 1, 0, "Total expected")
    put(emu, book, "Scores", last + 1, 4, f"=SUM(E3:E{last})")
    put(emu, book, "Scores", last + 2, 0, "Called all of the above on Monday - Anna")
    more = [*ids, "K044", "K007"]
    frame2 = scores(more).assign(value=[877.53, 120.0, 43.1, 310.25, 55.0, 19.9])
    report = publish(api, monkeypatch, book, [ResultTab("scores", "Scores", frame2, key="contact_id")], run=2)  # fmt: skip
    tab = sheet(emu, book, "Scores")
    end = 2 + len(more)
    assert tab.cells[(end + 1, 0)].value == "Total expected"
    assert tab.cells[(end + 1, 4)].formula == f"=SUM(E3:E{end})"
    assert tab.cells[(end + 2, 0)].value == "Called all of the above on Monday - Anna"
    assert any("typed below the results ('Total expected'" in line for line in report.detail)
    for run in (3, 4):  # and again as the rows shrink: found below the rows written last
        report = publish(api, monkeypatch, book, [ResultTab("scores", "Scores", scores(ids[:2]), key="contact_id")], run=run)  # fmt: skip
        tab = sheet(emu, book, "Scores")
        assert tab.cells[(5, 0)].value == "Total expected" and tab.cells[(5, 4)].formula == "=SUM(E3:E4)"  # fmt: skip
        assert tab.cells[(6, 0)].value == "Called all of the above on Monday - Anna"
        keys = [tab.cells[(r, 0)].value for r in range(2, 5) if (r, 0) in tab.cells]
        assert keys[:2] == ids[:2] and not [k for k in keys[2:] if k]


def test_a_note_typed_under_the_forecast_is_kept(
    emu: SheetsEmulator, api: SheetsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = _book(emu, "BelowForecast")
    months = ["2026-11-01", "2026-12-01", "2027-01-01"]
    frame = pd.DataFrame({"month": months, "forecast": [148.6, 151.2, 139.9]})
    publish(api, monkeypatch, book, [ResultTab("forecast", "Forecast", frame)], run=1)
    batch(emu, book, {"appendDimension": {"sheetId": sheet(emu, book, "Forecast").sheet_id,
                                          "dimension": "ROWS", "length": 2}})  # fmt: skip
    put(emu, book, "Forecast", 6, 0, "Boss wants 10% more here")
    publish(api, monkeypatch, book, [ResultTab("forecast", "Forecast", frame.iloc[:2])], run=2)
    assert sheet(emu, book, "Forecast").cells[(5, 0)].value == "Boss wants 10% more here"


# -- what the first fixer noticed: a title typed above the header is named ----------------
def test_a_title_typed_above_a_tab_without_user_columns_is_named(
    emu: SheetsEmulator, api: SheetsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = _book(emu, "TitleOnly")
    ids = ["K059", "K010", "K002"]
    publish(api, monkeypatch, book, [ResultTab("scores", "Scores", scores(ids), key="contact_id")], run=1)  # fmt: skip
    batch(emu, book, {"insertDimension": {"range": {
        "sheetId": sheet(emu, book, "Scores").sheet_id, "dimension": "ROWS",
        "startIndex": 0, "endIndex": 1}}})  # fmt: skip
    put(emu, book, "Scores", 0, 0, "CALL LIST - week 45")
    report = publish(api, monkeypatch, book, [ResultTab("scores", "Scores", scores(ids), key="contact_id")], run=2)  # fmt: skip
    (said,) = [line for line in report.notes if "above smbml's header" in line]
    assert "'CALL LIST - week 45'" in said and "Last refreshed" not in said


# -- find57_sheets item 1: an empty Forecast tab is refreshed again ----------------------
def test_an_empty_forecast_tab_is_refreshed_by_later_runs_and_gets_the_forecast(
    emu: SheetsEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run with no forecast writes the Forecast tab with no header. Every later run took
    the missing header for one the user deleted: the tab was left as it was ("smbml's
    header row (, ...) is not in it"), the run was partial and exited 1, and a later
    forecast never reached the tab (find57_sheets item 1)."""
    book = "1SyncEmptyForecast".ljust(39, "0")
    emu.state.create(book, "Shop", _shop_tabs())
    config, store = _config(emu, tmp_path, monkeypatch, book, '"rfm_segments"')
    for run in (1, 2):  # two runs in a row with nothing to forecast: both ok
        ran = _run(config, store)
        assert ran.exit_code == 0 and "not refreshed" not in ran.output, ran.output
        said = head(emu, book, "Forecast")
        assert said.startswith("Last refreshed") and f"(run {run}," in said, said
    note = "Forecast starts once we have 2 years of sales"  # typed in the empty tab: kept
    put(emu, book, "Forecast", 3, 0, note)
    config, store = _config(emu, tmp_path, monkeypatch, book, '"rfm_segments", "sales_forecast"')
    third = _run(config, store)
    assert third.exit_code == 0 and "Forecast: 12 rows" in third.output, third.output
    tab = sheet(emu, book, "Forecast")
    said = head(emu, book, "Forecast")
    assert said.startswith("Last refreshed") and "(run 3," in said, said
    assert [tab.cells[(1, c)].value for c in range(3)] == ["Series", "Measure", "Month"]
    # as far below the header as it was: two rows under the last month
    assert tab.cells[(2 + 12 + 2, 0)].value == note
    shown = CliRunner().invoke(cli, ["status", "-c", str(config), "--store", store])
    assert "partial" not in shown.output and "run 3 [run] ok" in shown.output, shown.output


# -- find57_sheets item 4: a source tab renamed between runs ----------------------------
def test_a_source_tab_renamed_is_named_with_how_to_read_it_again_not_accept_removals(
    emu: SheetsEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The owner renames "Orders" to "Data" between runs. The run blamed "a file being
    replaced or synced" and said to run --accept-removals, which would have removed every
    order; nothing named the tab. Now it names the tab the orders came from last run and
    the tabs not read, and says to rename it back or name it in [source.tables]; the
    orders still count, and renamed back they are read as before."""
    book = "1SyncRenamedSourceTab".ljust(39, "0")
    emu.state.create(book, "Shop", {**_shop_tabs(), "Notes": [["Call the printer on Monday"]]})
    config, store = _config(emu, tmp_path, monkeypatch, book, '"rfm_segments"')
    first = _run(config, store)
    assert first.exit_code == 0 and "48 orders" in first.output, first.output
    (segmented,) = [line for line in first.output.splitlines() if "RFM segments:" in line]
    orders = sheet(emu, book, "Orders")
    batch(emu, book, {"updateSheetProperties": {"properties": {"sheetId": orders.sheet_id, "title": "Data"},
                                                "fields": "title"}})  # fmt: skip
    second = _run(config, store)
    out = " ".join(second.output.split())
    assert "--accept-removals" not in out and "being replaced" not in out, second.output
    assert (
        "still count this run: no tab gives orders now; the last run read them from tab "
        "'Orders' (tabs not read: 'Data', 'Notes')" in out
    ), second.output
    assert "rename the tab back to 'Orders'" in out and '[source.tables] orders = "Data"' in out
    assert segmented in second.output  # the stored orders still count, as before
    batch(emu, book, {"updateSheetProperties": {"properties": {"sheetId": orders.sheet_id, "title": "Orders"},
                                                "fields": "title"}})  # fmt: skip
    third = _run(config, store)
    assert third.exit_code == 0 and "48 orders" in third.output, third.output
    assert "still count" not in third.output, third.output
