"""An outsider's attacks on the product (docs/ARCHITECTURE.md, "Security review"): each
test names the attack, the output it reached and what must hold there."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook

from smbml_connect import pipeline, report
from smbml_connect.cli import cli
from smbml_connect.connectors.gsheets.http import SheetsApi
from smbml_connect.connectors.sample.source import SampleSource
from smbml_connect.credentials import Secret
from smbml_connect.errors import AuthError, ConfigError, SourceFatalError
from smbml_connect.excel_addin.local_cert import ensure_certificate
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.redaction import redact
from smbml_connect.registry import parse_config
from smbml_connect.report import HtmlReport, ResultsWorkbook
from smbml_connect.schedule import run_once
from smbml_connect.steps import steps_by_name
from smbml_connect.store import Store
from smbml_connect.testing.sheets_emulator import SheetsEmulator, make_service_account
from smbml_connect.xlsx import write_workbook

# Secrets in the shapes the services really hand out, as a message could carry them
# before anything registered them: what must go, and what must stay.
SHAPED = [
    ("Authorization: Bearer ya29.a0AfH6SMBxABCDEFGHIJ", "ya29.a0AfH6SMBx", "Bearer"),
    ("token ya29.a0AfH6SMBx-abcdefghijk_lmnop expired", "ya29.", "expired"),
    ('{"access_token": "ya29.a0AfH6SMBxabcdefghijk"}', "ya29.", "access_token"),
    ('{"refresh_token": "1//0gAbCdEfGhIjKlMnOpQrStUvWxYz-abc"}', "1//0gAbC", "refresh_token"),
    ("refresh with 1//0gAbCdEfGhIjKlMnOpQrStUvWxYz-abc failed", "1//0gAbC", "failed"),
    (
        "GET /crm/v3/objects/contacts?hapikey=1234abcd-90ab-cdef-1234-567890abcdef&limit=10",
        "1234abcd",
        "limit=10",
    ),
    ("GET /v4/spreadsheets/1AbC?key=AIzaSyA-1234567890abcdefghijklmnopqrstu", "AIzaSy", "1AbC"),
    ("Cannot connect to proxy http://alice:s3cretP4ss@proxy.example:3128", "s3cret", "alice"),
    ("{'client_secret': 'GOCSPX-abcdefghijklmnopqrstuvwxyz12'}", "GOCSPX-abc", "client_secret"),
    ("{'Authorization': 'Basic YWxpY2U6czNjcmV0UDRzcw=='}", "YWxpY2U6", "Authorization"),
    # a message cut short inside a service-account key (no END line)
    ("key {'private_key': '-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqh", "MIIEvQ", "key"),
    ("pat-eu1-12345678-90ab-cdef-1234-567890abcdef refused", "12345678-90ab", "refused"),
]


@pytest.mark.parametrize(("text", "secret", "kept"), SHAPED)
def test_secret_shapes_are_redacted_before_anything_registers_them(text, secret, kept):
    cleaned = redact(text)
    assert secret not in cleaned and "***" in cleaned and kept in cleaned


@pytest.mark.parametrize(
    "text",
    [
        "the token endpoint https://oauth2.googleapis.com/token gave no token (x): check "
        "token_uri in the key, or set [google] token_url",
        "Basic information: the bearer of news asked for a password reset; secret sauce",
        "config key hubspot.token looks like a secret",
        "https://docs.google.com/spreadsheets/d/1AbCdEfGh/edit#gid=0",
        # a product, a gift card, a rep's note and a shop's link (review)
        "Victoria's Secret: Bombshell 50ml",
        "Gift token: £25.00",
        "Notes: password: changed by rep",
        "https://shop.example/products?key=summer-sale&x=1",
    ],
)
def test_plain_words_about_secrets_stay(text):
    assert redact(text) == text


def test_an_exception_quoting_a_proxy_password_reaches_no_store_status_or_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack: a library's exception (not ours, so never redacted where it was raised)
    quotes the proxy URL with its password and a fresh Google access token. Outputs: the
    run table, `smbml status`, the scheduled run's outcome line."""
    data = tmp_path / "orders.csv"
    data.write_text("order_id,order date,total\nO1,2025-01-02,10.5\n", encoding="utf-8")
    config = tmp_path / "smbml.toml"
    config.write_text(
        f'store = "store.sqlite"\n[source]\nkind = "files"\npath = "{data.as_posix()}"\n'
        'tables = { orders = "orders.csv" }\n'
        "[analytics]\nenabled = []\n",
        encoding="utf-8",
    )

    def refused(*_: object, **__: object) -> None:
        raise ConnectionError(
            "Cannot connect to proxy http://alice:s3cretP4ss@proxy.example:3128 "
            "(Authorization: Bearer ya29.a0AfH6SMBxABCDEFGHIJ)"
        )

    monkeypatch.setattr(pipeline, "_load", refused)
    outcome = run_once(config)
    assert outcome.status == "failed" and "proxy.example" in outcome.message
    with Store(tmp_path / "store.sqlite") as store:
        error = store.runs(1)["error"].iloc[0]
    status = CliRunner().invoke(cli, ["status", "-c", str(config)]).output
    for text in (outcome.message, error, status):
        assert "s3cret" not in text and "ya29" not in text and "ConnectionError" in text


# A web form's visitor, or anyone who can edit a CRM record, chooses these bytes.
TERMINAL_ATTACKS = "\x1b]0;pwned\x07\x1b[2J\x1b]8;;http://x.example\x07click\x1b]8;;\x07\r\u202e"


def test_source_text_reaches_the_terminal_and_the_log_as_text_not_as_commands(
    tmp_path: Path,
) -> None:
    """Attack: escape sequences (retitle, clear, hyperlink), a carriage return and a
    right-to-left override in cells. Outputs: `smbml run`'s lines (a data check quotes
    the value), `smbml status` (the rejects' values), the log file. Colour is on, as on a
    terminal, so click strips nothing."""
    data = tmp_path / "orders.csv"
    data.write_text(
        "order_id,order date,total\n"
        f"O1,2025-01-02,{TERMINAL_ATTACKS}\n"
        f"O2,{TERMINAL_ATTACKS},7\n"
        "O3,2025-01-03,8\n",
        encoding="utf-8",
    )
    config = tmp_path / "smbml.toml"
    config.write_text(
        f'store = "store.sqlite"\n[source]\nkind = "files"\npath = "{data.as_posix()}"\n'
        'tables = { orders = "orders.csv" }\n[analytics]\nenabled = []\n',
        encoding="utf-8",
    )
    log = tmp_path / "smbml.log"
    runner = CliRunner()
    run = runner.invoke(cli, ["--log-file", str(log), "run", "-c", str(config)], color=True)
    status = runner.invoke(cli, ["status", "-c", str(config)], color=True)
    assert run.exit_code == 0 and status.exit_code == 0, run.output + status.output
    assert "\\x1b]0;pwned\\x07" in run.output and "\\x1b]0;pwned" in status.output
    for text in (run.output, status.output, log.read_text(encoding="utf-8")):
        assert not any(c in text for c in "\x1b\x07\r\u202e")


def _hostile_workbook(path: Path, body: str) -> None:
    """A workbook Excel could have saved, but for its sheet's XML."""
    book = Workbook()
    book.active.title = "orders"
    book.active.append(["order_id", "order date", "total"])
    book.active.append(["O1", "2025-01-02", "MARK"])
    plain = path.with_name("plain.xlsx")
    book.save(plain)
    with zipfile.ZipFile(plain) as given, zipfile.ZipFile(path, "w") as out:
        for item in given.infolist():
            data = given.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode().split("?>", 1)[-1]
                data = body.replace("SHEET", text.replace(">MARK<", ">&lol9;<")).encode()
            out.writestr(item, data)


LAUGHS = "<!DOCTYPE worksheet [<!ENTITY lol0 'lol'>" + "".join(
    f"<!ENTITY lol{i} '{f'&lol{i - 1};' * 10}'>" for i in range(1, 10)
)  # nine levels of ten: 10^9 "lol"s from under 1 kB


@pytest.mark.parametrize(
    ("body", "why"),
    [(LAUGHS + "]>SHEET", "ParseError"), ("SHEET</oops>", "ParseError")],
    ids=["billion-laughs", "not-well-formed"],
)
def test_a_hostile_or_damaged_workbook_is_one_line_naming_the_file(
    tmp_path: Path, body: str, why: str
) -> None:
    """Attack: an .xlsx whose sheet XML expands entities a billion-fold, or is cut.
    expat refuses the expansion; what the user sees must be one line, not 'unexpected'."""
    book = tmp_path / "shop.xlsx"
    _hostile_workbook(book, body)
    config = tmp_path / "smbml.toml"
    config.write_text(
        f'store = "store.sqlite"\n[source]\nkind = "files"\npath = "{book.as_posix()}"\n'
        "[analytics]\nenabled = []\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli, ["--log-file", str(tmp_path / "log"), "run", "-c", str(config)]
    )
    lines = result.output.strip().splitlines()
    assert result.exit_code == SourceFatalError.exit_code, result.output
    assert len(lines) == 1 and "unexpected" not in result.output
    assert "shop.xlsx is damaged" in lines[0] and why in lines[0]


def test_half_an_emoji_from_an_api_is_stored_written_and_shown(business, store, tmp_path):
    """Attack: JSON from the CRM or Sheets carries "\\ud83d" (an emoji cut in two by a
    form's length limit); json.loads makes it a lone surrogate, which sqlite3, openpyxl
    and the report cannot encode. Outputs: the store, the workbook, the report."""
    source = SampleSource(business, messy=False)
    source.raw = {name: frame.copy() for name, frame in source.raw.items()}  # session's own
    products = source.raw["products"]
    products["name"] = [f"Mug \ud83d {i}" for i in range(len(products))]
    source.raw["contacts"]["first_name"] = "Ann \udc00"
    steps = steps_by_name(["rfm_segments", "next_product"])
    book, html = ResultsWorkbook(tmp_path / "results.xlsx"), HtmlReport(tmp_path / "report.html")
    result = run_pipeline(
        source, store, RunOptions(steps=steps, as_of=business.as_of), [book, html]
    )
    assert result.status == "ok" and result.errors == []
    assert set(store.read("products")["name"]) == {f"Mug \ufffd {i}" for i in range(len(products))}
    cells = {c.value for s in load_workbook(book.path) for row in s.iter_rows() for c in row}
    assert any(isinstance(v, str) and v.startswith("Mug \ufffd ") for v in cells)
    assert "Mug \ufffd " in html.path.read_text(encoding="utf-8")


def test_rejects_beyond_a_sheet_go_to_a_csv_whose_formulas_excel_will_not_run(
    business, store, tmp_path, monkeypatch
):
    """Attack: rejected values written back to a CSV (Excel runs `=`, `+`, `-`, `@`, and
    a tab or CR before them, when it opens one; it also ends a row at a bare CR, so an
    unquoted "'\r=1+1" put =1+1 at the start of a row). Output: `<workbook>-rejects.csv`."""
    hostile = ["=cmd|' /C calc'!A0", "+1-2", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1"]
    source = SampleSource(business, messy=False)
    source.raw = {name: frame.copy() for name, frame in source.raw.items()}  # session's own
    orders = source.raw["orders"]
    orders["ordered_at"] = orders["ordered_at"].astype(object)
    for i, value in enumerate(hostile):
        orders.iloc[i, orders.columns.get_loc("ordered_at")] = value
    monkeypatch.setattr(report, "SHEET_ROWS", report._REJECTS_TOP + 2)  # two rows fit
    book = ResultsWorkbook(tmp_path / "results.xlsx")
    run_pipeline(source, store, RunOptions(steps=[], as_of=business.as_of), [book])
    with (tmp_path / "results-rejects.csv").open(encoding="utf-8", newline="") as file:
        rows = [row for row in csv.DictReader(file) if row["column"] == "ordered_at"]
    values = [row["value"] for row in rows]

    assert sorted(values) == sorted("'" + v for v in hostile)
    lines = (tmp_path / "results-rejects.csv").read_bytes().split(b"\r\n")  # Excel's rows
    assert not any(line.lstrip(b'"').startswith((b"=", b"+", b"-", b"@")) for line in lines)


def test_key_files_left_readable_by_others_are_narrowed_when_rewritten(tmp_path: Path) -> None:
    """Attack: key files already there with the usual 0644 (a copy, an older tool, a
    restore): os.open's 0o600 applies only to a new file. Output: the local CA's and the
    server's private keys that `smbml serve` writes."""
    for name in ("ca-key.pem", "server-key.pem"):
        (tmp_path / name).write_bytes(b"old")
        (tmp_path / name).chmod(0o644)
    files = ensure_certificate(tmp_path)
    for key in (tmp_path / "ca-key.pem", files.key):
        assert key.read_bytes() != b"old" and key.stat().st_mode & 0o777 == 0o600


def test_headers_and_notes_with_control_characters_do_not_stop_the_workbook(tmp_path):
    """Attack: NUL and BEL (a pasted name, a CRM field) in a column header or a tab's note;
    values already lost them, headers and notes made openpyxl raise IllegalCharacterError.
    Output: the results workbook."""
    frame = pd.DataFrame({"Mug\x07 sold": ["=1+1\x00"]})
    path = write_workbook(tmp_path / "r.xlsx", {"Tab": frame}, {"Tab": "Most sold: Mug\x07"})
    sheet = load_workbook(path)["Tab"]
    assert [sheet["A1"].value, sheet["A3"].value, sheet["A4"].value] == [
        "Most sold: Mug",
        "Mug sold",
        "=1+1",
    ]
    assert sheet["A4"].data_type == "s"


@pytest.mark.parametrize(
    ("key", "url", "allowed"),
    [
        ("api_url", "http://sheets.example.com", False),
        ("token_url", "http://oauth2.example.com/token", False),
        ("api_url", "sheets.googleapis.com", False),
        ("api_url", "https://sheets.googleapis.com", True),
        ("token_url", "http://127.0.0.1:8765/token", True),  # an emulator on this machine
        ("api_url", "http://localhost:8765", True),
    ],
)  # token_url is named in the token endpoint's error; it was refused as a secret's name
def test_google_addresses_that_would_carry_the_token_in_clear_text_are_refused(
    key: str, url: str, allowed: bool
) -> None:
    """Attack: a config edited to send the Google token (or the signed key assertion)
    over plain http to another host. Output: the network. HubSpot's `api_url` too
    (`test_a_hubspot_address_that_would_carry_the_token_in_clear_text_is_refused`)."""
    data = {"source": {"kind": "gsheets", "spreadsheet": "1AbC"}, "google": {key: url}}
    if allowed:
        parse_config(data)
        return
    with pytest.raises(ConfigError, match=rf"google\.{key}: .*https://"):
        parse_config(data)


def test_a_key_whose_token_uri_is_plain_http_elsewhere_is_refused_before_any_request() -> None:
    """Attack: a service-account key file whose token_uri was changed to plain http on
    another host; the signed assertion sent there buys a token for an hour."""
    with SheetsEmulator() as emulator:
        key = make_service_account(emulator)
        key["token_uri"] = "http://oauth2.example.com/token"
        with pytest.raises(AuthError, match="token_uri must be an https://"):
            SheetsApi(Secret(json.dumps(key)), api_url=emulator.url)
        assert not emulator.requests  # nothing was sent anywhere


def test_an_address_named_after_a_token_is_refused_only_when_it_holds_one() -> None:
    data = {"source": {"kind": "gsheets", "spreadsheet": "1AbC"}}
    leaky = "https://oauth2.example.com/token?access_token=ya29.a0AfH6SMBxABCDEFGHIJ"
    with pytest.raises(ConfigError, match=r"google\.token_url looks like a secret"):
        parse_config({**data, "google": {"token_url": leaky}})
    with pytest.raises(ConfigError, match=r"google\.token looks like a secret"):
        parse_config({**data, "google": {"token": "https://oauth2.example.com/token"}})


@pytest.mark.parametrize(
    ("url", "allowed"),
    [("http://api.example.com", False), ("https://api.hubapi.com", True),
     ("http://127.0.0.1:8765", True), ("ftp://api.hubapi.com", False)],
)  # fmt: skip
def test_a_hubspot_address_that_would_carry_the_token_in_clear_text_is_refused(
    url: str, allowed: bool
) -> None:
    """Attack: `[hubspot] api_url` edited to plain http on another host: the private-app
    token went out with every request, readable on the way (the security review)."""
    data = {"source": {"kind": "hubspot"}, "hubspot": {"api_url": url}}
    if allowed:
        parse_config(data)
        return
    with pytest.raises(ConfigError, match=r"hubspot\.api_url: .*https://"):
        parse_config(data)
