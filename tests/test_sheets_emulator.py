"""The Sheets emulator answers like Google: checked through gspread and google-api-python-client."""

from __future__ import annotations

import json

import gspread
import pytest
import requests

from smbml_connect.connectors.gsheets.http import SheetsApi, SheetsLimits
from smbml_connect.credentials import Secret
from smbml_connect.testing.faults import Fault
from smbml_connect.testing.sheets_a1 import A1Error, GridSpan, parse_a1, quote_title
from smbml_connect.testing.sheets_emulator import SheetsEmulator, make_service_account
from smbml_connect.testing.sheets_state import CELL_CAP
from smbml_connect.testing.sheets_values import ERRORS, error_cell, parse_user_entered

KEY = "1TestSpreadsheetKey00000000000000000000"


@pytest.fixture
def emu() -> SheetsEmulator:
    with SheetsEmulator() as emulator:
        emulator.state.create(
            KEY,
            "Shop",
            {
                "Customers": [
                    ["Customer ID", "Name", "Signed up"],
                    ["'00123", "Ann", "2024-03-01"],
                ],
                "It's mine": [["a", "b"]],
            },
        )
        yield emulator


@pytest.fixture
def gc(emu: SheetsEmulator) -> gspread.Client:
    """Plain gspread routed as shared/sheets-api.md shows: errors arrive as gspread raises them."""

    class Routed(requests.Session):
        def request(self, method: str, url: str, *args: object, **kwargs: object):  # type: ignore[override]
            for real in ("https://sheets.googleapis.com", "https://www.googleapis.com"):
                if url.startswith(real):
                    url = emu.url + url[len(real) :]
            return super().request(method, url, *args, **kwargs)

    session = Routed()
    session.headers["Authorization"] = f"Bearer {emu.issue_token()}"
    return gspread.Client(auth=None, session=session)


def test_connector_client_signs_in_with_a_service_account(emu: SheetsEmulator) -> None:
    """The JWT grant google-auth makes, checked by the emulator, then an authorised read."""
    key = Secret(json.dumps(make_service_account(emu)))
    client = SheetsApi(key, api_url=emu.url, limits=SheetsLimits(attempts=1)).client
    assert client.open_by_key(KEY).title == "Shop"
    assert emu.requests["POST token"] == 1
    assert emu.total() == 1  # the token exchange is not a Sheets request


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sheet1!A1:B2", GridSpan("Sheet1", 0, 0, 2, 2)),
        ("'My tab'!C3", GridSpan("My tab", 2, 2, 3, 3, single=True)),
        ("'It''s mine'!A:B", GridSpan("It's mine", 0, 0, None, 2)),
        ("Data!2:4", GridSpan("Data", 1, 0, 4, None)),
        ("A5:B", GridSpan(None, 4, 0, None, 2)),
        ("Data", GridSpan("Data", 0, 0, None, None)),
        ("'Data'", GridSpan("Data", 0, 0, None, None)),
        ("Data!B2:A1", GridSpan("Data", 0, 0, 2, 2)),
    ],
)
def test_a1_ranges_parse_like_sheets(text: str, expected: GridSpan) -> None:
    assert parse_a1(text, ["Data", "Sheet1"]) == expected


@pytest.mark.parametrize("text", ["", "A", "'open", "'x'y!A1", "Data!1A", "Data!A0"])
def test_bad_a1_ranges_are_refused(text: str) -> None:
    with pytest.raises(A1Error):
        parse_a1(text, ["Data"])


def test_titles_are_quoted_when_they_must_be() -> None:
    assert quote_title("Scores") == "Scores"
    assert quote_title("My tab") == "'My tab'"
    assert quote_title("It's") == "'It''s'"
    assert quote_title("A1") == "'A1'"  # would read as a cell


def test_values_round_trip_through_gspread(emu: SheetsEmulator, gc: gspread.Client) -> None:
    ws = gc.open_by_key(KEY).worksheet("Customers")
    # Typed with an apostrophe: text, leading zeros kept; the date became a date serial.
    assert ws.get("A1:C2", value_render_option="UNFORMATTED_VALUE") == [
        ["Customer ID", "Name", "Signed up"],
        ["00123", "Ann", 45352],
    ]
    assert ws.get("C2", date_time_render_option="FORMATTED_STRING")[0][0] == "2024-03-01"
    ws.update([['=HYPERLINK("x")', "+1 555", "00042"]], "A3", value_input_option="RAW")
    ws.update([["=1+2", "+1 555", "00042"]], "A4", value_input_option="USER_ENTERED")
    formulas = ws.get("A3:C4", value_render_option="FORMULA")
    assert formulas[0] == ['=HYPERLINK("x")', "+1 555", "00042"]  # RAW: text stays text
    assert formulas[1] == ["=1+2", "=+1 555", 42]  # typed: a formula, a formula error, a number
    # values.get leaves out trailing empties and the values key of an empty range
    # (the emulator stores formulas but does not calculate them: their shown value is "")
    assert ws.get("A1:Z100")[-1] == ["", "#ERROR!", "42"]
    empty = emu.state.values_get(KEY, "Customers!H1:J3")
    assert "values" not in empty and empty["range"] == "Customers!H1:J3"


def test_an_amount_typed_with_its_sign_is_a_number_formatted_as_currency(
    emu: SheetsEmulator, gc: gspread.Client
) -> None:
    """Sheets keeps "95,35 €" typed in a German sheet as 95.35 with a CURRENCY format naming
    the sign: unformatted values are the bare number, the sign is in the format alone."""
    emu.state.create("1CurrencyCellsKey0000000000000000000000", "Kasse",
                     {"Orders": [["Total"], ["95,35 €"], ["1.234,50 €"], ["12"]]}, locale="de_DE")  # fmt: skip
    ws = gc.open_by_key("1CurrencyCellsKey0000000000000000000000").worksheet("Orders")
    assert ws.get("A2:A4", value_render_option="UNFORMATTED_VALUE") == [[95.35], [1234.5], [12]]
    assert ws.get("A2")[0][0] == "95.35 €"  # FORMATTED_VALUE (the emulator writes 1,234.50)
    grid = gc.http_client.fetch_sheet_metadata(
        "1CurrencyCellsKey0000000000000000000000",
        params={"includeGridData": "true", "ranges": ["Orders!A2:A"],
                "fields": "sheets(data(rowData(values(effectiveFormat/numberFormat))))"},
    )  # fmt: skip
    cells = [r["values"][0] for r in grid["sheets"][0]["data"][0]["rowData"]]
    assert cells == [
        {"effectiveFormat": {"numberFormat": {"type": "CURRENCY", "pattern": '#,##0.00 "€"'}}},
        {"effectiveFormat": {"numberFormat": {"type": "CURRENCY", "pattern": '#,##0.00 "€"'}}},
        {},  # a plain number has no number format
    ]
    assert parse_user_entered("$1,234.50").pattern == '"$"#,##0.00'
    assert parse_user_entered("¥14,300", "ja_JP").value == 14300


def test_whole_sheet_range_echoes_the_grid(emu: SheetsEmulator, gc: gspread.Client) -> None:
    answer = gc.open_by_key(KEY).values_get("'It''s mine'")
    assert answer["range"] == "'It''s mine'!A1:Z1000"
    assert answer["values"] == [["a", "b"]]


def test_append_finds_the_logical_table(emu: SheetsEmulator, gc: gspread.Client) -> None:
    ws = gc.open_by_key(KEY).worksheet("Customers")
    answer = ws.append_rows([["00999", "Bo"]], value_input_option="RAW", table_range="A1")
    assert answer["tableRange"] == "Customers!A1:C2"
    assert answer["updates"]["updatedRange"] == "Customers!A3:B3"
    assert ws.get("A3:B3") == [["00999", "Bo"]]


def test_errors_are_googles_json(emu: SheetsEmulator, gc: gspread.Client) -> None:
    book = gc.open_by_key(KEY)
    with pytest.raises(gspread.exceptions.APIError) as bad_range:
        book.values_get("Nowhere!A1")
    assert bad_range.value.code == 400
    assert bad_range.value.error["status"] == "INVALID_ARGUMENT"
    assert "Unable to parse range: Nowhere!A1" in bad_range.value.error["message"]
    with pytest.raises(gspread.exceptions.SpreadsheetNotFound) as missing:  # gspread's 404 path
        gc.open_by_key("1NoSuchSpreadsheet000000000000000000000")
    assert missing.value.args[0].json()["error"]["status"] == "NOT_FOUND"


def test_batch_update_is_atomic(emu: SheetsEmulator, gc: gspread.Client) -> None:
    book = gc.open_by_key(KEY)
    before = len(emu.state.book(KEY).sheets)
    with pytest.raises(gspread.exceptions.APIError) as refused:
        book.batch_update(
            {
                "requests": [
                    {"addSheet": {"properties": {"title": "New"}}},
                    {"deleteSheet": {"sheetId": 999}},  # no such sheet: the whole batch fails
                ]
            }
        )
    assert "requests[1]" in refused.value.error["message"]
    assert len(emu.state.book(KEY).sheets) == before
    reply = book.batch_update({"requests": [{"addSheet": {"properties": {"title": "New"}}}]})
    assert reply["replies"][0]["addSheet"]["properties"]["title"] == "New"


def test_cell_cap_and_payload_cap(emu: SheetsEmulator, gc: gspread.Client) -> None:
    book = gc.open_by_key(KEY)
    huge = {"rowCount": CELL_CAP // 26 + 1, "columnCount": 26}
    with pytest.raises(gspread.exceptions.APIError) as capped:
        book.batch_update({"requests": [{"addSheet": {"properties": {"gridProperties": huge}}}]})
    assert "above the limit of 10000000 cells" in capped.value.error["message"]
    with pytest.raises(gspread.exceptions.APIError) as too_big:
        book.values_update(
            "Customers!A1", {"valueInputOption": "RAW"}, {"values": [["x" * 11_000_000]]}
        )
    assert "payload size exceeds the limit" in too_big.value.error["message"]


def test_the_cap_is_checked_after_the_row_count_as_google_does(
    emu: SheetsEmulator, gc: gspread.Client
) -> None:
    """Rows first, then the cap, then columns (robin900/gspread-dataframe#38): 26 columns
    times the new row count is refused though the final 2 columns would fit."""
    book = gc.open_by_key(KEY)
    sheet_id = emu.state.book(KEY).sheet("Customers").sheet_id
    grid = {"rowCount": CELL_CAP // 26 + 1, "columnCount": 2}
    fields = "gridProperties.rowCount,gridProperties.columnCount"
    props = {"sheetId": sheet_id, "gridProperties": grid}
    with pytest.raises(gspread.exceptions.APIError) as capped:
        book.batch_update({"requests": [{"updateSheetProperties": {"properties": props, "fields": fields}}]})  # fmt: skip
    assert "requests[0].updateSheetProperties" in capped.value.error["message"]
    assert "above the limit of 10000000 cells" in capped.value.error["message"]
    columns_first = [
        {"updateSheetProperties": {"properties": props, "fields": "gridProperties.columnCount"}},
        {"updateSheetProperties": {"properties": props, "fields": "gridProperties.rowCount"}},
    ]
    book.batch_update({"requests": columns_first})
    assert emu.state.book(KEY).sheet("Customers").rows == grid["rowCount"]


def test_a_cell_holds_at_most_50000_characters(emu: SheetsEmulator, gc: gspread.Client) -> None:
    book = gc.open_by_key(KEY)
    with pytest.raises(gspread.exceptions.APIError) as long:
        book.values_update("Customers!A1", {"valueInputOption": "RAW"}, {"values": [["x" * 50_001]]})  # fmt: skip
    assert "maximum of 50000 characters in a single cell" in long.value.error["message"]
    sheet_id = emu.state.book(KEY).sheet("Customers").sheet_id
    cell = {"values": [{"userEnteredValue": {"stringValue": "y" * 50_001}}]}
    write = {"start": {"sheetId": sheet_id}, "rows": [cell], "fields": "userEnteredValue"}
    with pytest.raises(gspread.exceptions.APIError):
        book.batch_update({"requests": [{"updateCells": write}]})
    book.values_update("Customers!A1", {"valueInputOption": "RAW"}, {"values": [["x" * 50_000]]})


def test_developer_metadata_is_deleted_by_sheet_and_key(
    emu: SheetsEmulator, gc: gspread.Client
) -> None:
    book = gc.open_by_key(KEY)
    ids = [s.sheet_id for s in emu.state.book(KEY).sheets]
    book.batch_update(
        {
            "requests": [
                {
                    "createDeveloperMetadata": {
                        "developerMetadata": {
                            "metadataKey": "k",
                            "metadataValue": str(i),
                            "location": {"sheetId": i},
                            "visibility": "DOCUMENT",
                        }
                    }
                }
                for i in ids
            ]
        }
    )
    lookup = {"metadataKey": "k", "metadataLocation": {"sheetId": ids[1]}}
    reply = book.batch_update(
        {
            "requests": [
                {"deleteDeveloperMetadata": {"dataFilter": {"developerMetadataLookup": lookup}}}
            ]
        }
    )
    assert len(reply["replies"][0]["deleteDeveloperMetadata"]["deletedDeveloperMetadata"]) == 1
    assert [len(s.metadata) for s in emu.state.book(KEY).sheets] == [1, 0]


def test_a_dropped_answer_can_come_after_the_change(
    emu: SheetsEmulator, gc: gspread.Client
) -> None:
    """Fault(after=True): the write lands, the answer is lost (a timeout after the commit)."""
    emu.inject(Fault("drop", path=":batchUpdate", after=True))
    with pytest.raises(requests.ConnectionError):
        gc.open_by_key(KEY).batch_update({"requests": [{"addSheet": {"properties": {"title": "Landed"}}}]})  # fmt: skip
    assert "Landed" in emu.state.book(KEY).titles()


def test_per_user_quota_answers_429(emu: SheetsEmulator) -> None:
    emu.per_user = 3
    token = emu.issue_token()
    codes = [
        requests.get(
            f"{emu.url}/v4/spreadsheets/{KEY}", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    body = requests.get(
        f"{emu.url}/v4/spreadsheets/{KEY}", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert body["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert "per minute per user" in body["error"]["message"]


def test_auth_and_sharing(emu: SheetsEmulator) -> None:
    anonymous = requests.get(f"{emu.url}/v4/spreadsheets/{KEY}")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["status"] == "UNAUTHENTICATED"
    emu.state.book(KEY).shared_with = {"someone@else.com"}
    stranger = requests.get(
        f"{emu.url}/v4/spreadsheets/{KEY}",
        headers={"Authorization": f"Bearer {emu.issue_token('me@example.com')}"},
    )
    assert stranger.status_code == 403
    assert stranger.json()["error"]["status"] == "PERMISSION_DENIED"


def test_token_grant_checks_the_signature(emu: SheetsEmulator) -> None:
    forged = make_service_account(emu, "forger@example.iam.gserviceaccount.com")
    real = make_service_account(emu, "forger@example.iam.gserviceaccount.com")  # new key wins
    assert forged["private_key"] != real["private_key"]
    with pytest.raises(Exception, match="invalid_grant"):
        SheetsApi(Secret(json.dumps(forged)), api_url=emu.url).authorise()
    SheetsApi(Secret(json.dumps(real)), api_url=emu.url).authorise()


def test_second_client_with_googles_discovery_document(emu: SheetsEmulator) -> None:
    """google-api-python-client validates enums and builds URLs from Google's own description."""
    from google.oauth2.credentials import Credentials
    from googleapiclient.discovery import build

    service = build(
        "sheets",
        "v4",
        credentials=Credentials(token=emu.issue_token()),
        static_discovery=True,
        client_options={"api_endpoint": emu.url + "/"},
    )
    sheets = service.spreadsheets()
    meta = sheets.get(spreadsheetId=KEY).execute()
    assert [s["properties"]["title"] for s in meta["sheets"]] == ["Customers", "It's mine"]
    got = (
        sheets.values()
        .get(spreadsheetId=KEY, range="Customers!A1:B2", valueRenderOption="UNFORMATTED_VALUE")
        .execute()
    )
    assert got == {
        "range": "Customers!A1:B2",
        "majorDimension": "ROWS",
        "values": [["Customer ID", "Name"], ["00123", "Ann"]],
    }
    written = (
        sheets.values()
        .update(
            spreadsheetId=KEY,
            range="'It''s mine'!A2",
            valueInputOption="RAW",
            body={"values": [["=SUM(1)", 3]]},
        )
        .execute()
    )
    assert written["updatedRange"] == "'It''s mine'!A2:B2" and written["updatedCells"] == 2
    batch = (
        sheets.values()
        .batchGet(spreadsheetId=KEY, ranges=["Customers!A2", "'It''s mine'!A2:B2"])
        .execute()
    )
    assert [r.get("values") for r in batch["valueRanges"]] == [[["00123"]], [["=SUM(1)", "3"]]]
    reply = sheets.batchUpdate(
        spreadsheetId=KEY,
        body={"requests": [{"addSheet": {"properties": {"title": "From client two"}}}]},
    ).execute()
    assert reply["replies"][0]["addSheet"]["properties"]["sheetType"] == "GRID"


def test_merged_cells_keep_the_top_value_and_are_listed_in_the_metadata(
    emu: SheetsEmulator, gc: gspread.Client
) -> None:
    """Format > Merge cells keeps the top-left value only, so values.get gives it on the
    first row of the merge; spreadsheets.get lists each merge as a GridRange (zero-based,
    ends exclusive), in the metadata gspread reads anyway."""
    emu.state.create("1MergedCellsKey000000000000000000000000", "Merges", {"Orders": [
        ["Order ID", "Customer ID", "Total"], ["A1", "C1", "40"], ["A2", "C1", "25"], ["A3", "C2", "12"],
    ]})  # fmt: skip
    book = gc.open_by_key("1MergedCellsKey000000000000000000000000")
    ws = book.worksheet("Orders")
    ws.merge_cells("B2:B3", merge_type="MERGE_COLUMNS")
    assert ws.get_all_values() == [
        ["Order ID", "Customer ID", "Total"], ["A1", "C1", "40"], ["A2", "", "25"],
        ["A3", "C2", "12"],
    ]  # fmt: skip
    (sheet,) = gc.http_client.fetch_sheet_metadata(book.id)["sheets"]
    assert sheet["merges"] == [{"sheetId": ws.id, "startRowIndex": 1, "endRowIndex": 3,
                                "startColumnIndex": 1, "endColumnIndex": 2}]  # fmt: skip
    with pytest.raises(gspread.exceptions.APIError, match="crosses the merge"):
        ws.merge_cells("B3:B4")
    book.batch_update({"requests": [{"insertDimension": {
        "range": {"sheetId": ws.id, "dimension": "ROWS", "startIndex": 1, "endIndex": 2}}}]})  # fmt: skip
    assert emu.state.book(book.id).sheet("Orders").merges == [(2, 4, 1, 2)]  # moved down
    book.batch_update({"requests": [{"deleteDimension": {
        "range": {"sheetId": ws.id, "dimension": "ROWS", "startIndex": 3, "endIndex": 4}}}]})  # fmt: skip
    assert emu.state.book(book.id).sheet("Orders").merges == []  # one cell left: no merge
    ws.unmerge_cells("A1:C5")  # nothing left to undo


def test_an_error_reads_as_its_text_in_every_value_render(
    emu: SheetsEmulator, gc: gspread.Client
) -> None:
    """A failed formula (a VLOOKUP's #N/A, a division's #DIV/0!) is answered by values.get as
    its text, formatted or not (a value is a bool, a string or a number); only the grid says
    it is an error. #N/A typed in is the error too."""
    key = "1ErrorCellsKey0000000000000000000000000"
    emu.state.create(key, "Errors", {"Orders": [["Customer ID", "Total"], ["#N/A", "3"]]})
    sheet = emu.state.book(key).sheet("Orders")
    sheet.cells[(1, 1)] = error_cell("DIVIDE_BY_ZERO", "=B9/C9")
    ws = gc.open_by_key(key).worksheet("Orders")
    for render in ("FORMATTED_VALUE", "UNFORMATTED_VALUE"):
        assert ws.get("A2:B2", value_render_option=render) == [["#N/A", "#DIV/0!"]]
    assert ws.get("B2", value_render_option="FORMULA") == [["=B9/C9"]]
    grid = gc.http_client.fetch_sheet_metadata(
        key, params={"includeGridData": "true", "ranges": ["Orders!A2:B2"]}
    )
    cells = grid["sheets"][0]["data"][0]["rowData"][0]["values"]
    assert [c["effectiveValue"]["errorValue"]["type"] for c in cells] == ["N_A", "DIVIDE_BY_ZERO"]
    assert [c["formattedValue"] for c in cells] == ["#N/A", "#DIV/0!"]
    assert set(ERRORS.values()) >= {"#N/A", "#REF!", "#VALUE!", "#NAME?", "#NUM!", "#NULL!"}
