"""Secrets and hostile files in a user's own data (find55 security items 4, 5, 6, 7): a
password or token column never reaches the store or an output; a workbook that expands to
gigabytes, a link to a device or out of the folder, a key file that is no object: one line."""

from __future__ import annotations

import random
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import Workbook

import smbml_connect.connectors.files.source as files_source
from smbml_connect.cli import cli
from smbml_connect.connectors.files import unpacked
from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.connectors.gsheets.http import SheetsApi
from smbml_connect.credentials import Secret
from smbml_connect.errors import AuthError, ConfigError, SourceFatalError
from smbml_connect.headers import map_headers
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.report import ResultsWorkbook
from smbml_connect.secret_columns import is_secret_header
from smbml_connect.steps import steps_by_name
from smbml_connect.store import Store

AS_OF = pd.Timestamp("2025-06-01", tz="UTC")
# What a membership tool's export carries, and a token pasted into a note by a rep.
PASSWORDS = ["Summer2024!", "hunter2hunter2", "S3cr3tP4ss", "Tr0ub4dor&3"]
TOKENS = [
    "pat-na1-11111111-2222-3333-4444-555555555555",
    "pat-na1-aaaaaaaa-2222-3333-4444-555555555555",
    "pat-eu1-bbbbbbbb-2222-3333-4444-555555555555",
    "AIzaSyA1234567890abcdefghijklmnopqrstu",
]
NOTE_TOKEN = "pat-na1-cccccccc-9999-3333-4444-555555555555"


def _customers(password: str, token: str) -> list[list[str]]:
    """Four customers, one twice (a duplicate, rejected whole) and one with an address that
    is no address (a value cleared): each reject shows its original row."""
    return [
        ["Customer ID", "Email", "First Name", password, token, "Notes"],
        ["C1", "ann@example.com", "Ann", PASSWORDS[0], TOKENS[0], "VIP"],
        ["C2", "bob@example.com", "Bob", PASSWORDS[1], TOKENS[1], f"api {NOTE_TOKEN}"],
        ["C2", "bob2@example.com", "Bob", PASSWORDS[2], TOKENS[2], ""],
        ["C3", "not-an-email", "Cy", PASSWORDS[3], TOKENS[3], "call back"],
    ]


ORDERS = [
    ["Order ID", "Customer ID", "Order Date", "Total"],
    ["O1", "C1", "2025-01-03", "10"], ["O2", "C2", "2025-02-03", "20"],
    ["O3", "C3", "notadate", "30"], ["O4", "C1", "2025-03-09", "12.50"],
]  # fmt: skip


def _run(source: Path, tmp_path: Path):
    out = tmp_path / "out" / "results.xlsx"
    with Store(tmp_path / "store.sqlite") as store:
        options = RunOptions(steps=steps_by_name(["rfm_segments"]), as_of=AS_OF)
        result = run_pipeline(FilesSource(source), store, options, [ResultsWorkbook(out)])
        stored = store.rejects()
        extra = " ".join(store.read("contacts")["extra"].dropna())
    return result, stored, out, extra


def _leaks(tmp_path: Path, out: Path) -> list[str]:
    """Each secret found in the store's file or in the workbook's XML."""
    texts = [(tmp_path / "store.sqlite").read_bytes().decode("latin-1")]
    with zipfile.ZipFile(out) as book:
        texts += [book.read(n).decode("utf-8") for n in book.namelist() if n.endswith(".xml")]
    return [s for s in [*PASSWORDS, *TOKENS, NOTE_TOKEN] if any(s in t for t in texts)]


@pytest.mark.parametrize(("password", "token"), [("Password", "API Token"), ("pwd", "api_key")])
def test_a_password_column_in_a_customers_file_is_never_stored_or_shown(
    tmp_path: Path, password: str, token: str
) -> None:
    """A customers file with Password and API Token columns: they were kept in the store
    and quoted in the Rejects tab's "Original row" of every rejected row (an explorer)."""
    folder = tmp_path / "shop"
    folder.mkdir()
    for name, rows in (("contacts.csv", _customers(password, token)), ("orders.csv", ORDERS)):
        (folder / name).write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    result, stored, out, extra = _run(folder, tmp_path)
    assert result.status == "ok"
    assert _leaks(tmp_path, out) == []
    (line,) = [n.message for n in result.notices if n.check == "secret_columns"]
    assert line.startswith(f"Contacts: columns {password!r}, {token!r} left out")
    notes = stored[stored["action"] == "column note"]
    assert set(notes["column"]) >= {password, token}
    # the rest goes through: the other columns, the rejected rows' own values, the note
    rows = " ".join(stored["row"].dropna())
    assert "bob2@example.com" in rows and "not-an-email" in rows and "call back" in rows
    assert "api ***" in extra and "VIP" in extra


def test_secret_columns_of_a_workbook_are_left_out_on_every_tab(tmp_path: Path) -> None:
    """The same customers as a workbook a booking tool exports: German headers."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Customers"
    for row in _customers("Passwort", "API-Schlüssel"):
        sheet.append(row)
    orders = book.create_sheet("Orders")
    for row in ORDERS:
        orders.append(row)
    book.save(tmp_path / "shop.xlsx")
    result, stored, out, extra = _run(tmp_path / "shop.xlsx", tmp_path)
    assert result.loaded["contacts"] == 3 and "api ***" in extra
    assert _leaks(tmp_path, out) == []
    assert set(stored.loc[stored["action"] == "column note", "column"]) >= {"Passwort"}
    (line,) = [n.message for n in result.notices if n.check == "secret_columns"]
    assert "'Passwort', 'API-Schlüssel'" in line


@pytest.mark.parametrize(
    "header",
    ["Password", "password_hash", "API Token", "api_key", "APIKey", "Access Token", "Secret",
     "Client Secret", "Passwort", "Mot de passe", "Contraseña", "Wachtwoord", "PWD",
     "Private key", "Square Token", "API-Schlüssel", "Clé API", "user_pass",
     "user_activation_key", "secure_key", "rp_token", "session_tokens",
     # about a secret: their values decide (test_secret_columns.py)
     "Token count", "Last password change", "Secret Santa", "Password (set at signup)"],
)  # fmt: skip
def test_headers_that_name_a_secret(header: str) -> None:
    assert is_secret_header(header)


@pytest.mark.parametrize(
    "header",
    ["Card Tokenization Method", "Key account", "Passport", "Keywords", "Secretary",
     "Gift card", "Email", "Notes", "Pass-through", "user_status"],
)  # fmt: skip
def test_headers_that_do_not(header: str) -> None:
    assert not is_secret_header(header)


# -- item 4: a workbook that unpacks past memory, links in a folder -----------------------
def _shop_book(path: Path) -> None:
    """A small shop's workbook: a few customers and their orders."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Customers"
    for row in [["Customer ID", "Email"], ["C1", "ann@shop.test"], ["C2", "bo@shop.test"]]:
        sheet.append(row)
    orders = book.create_sheet("Orders")
    for row in ORDERS:
        orders.append(row)
    book.save(path)


def _bomb(path: Path, megabytes: int) -> None:
    """``path`` with a shared-strings part holding one string of ``megabytes`` MB of "a":
    a file of about 100 KB per 100 MB (deflate packs a repeated byte ~1,000 times)."""
    plain = path.with_name("plain.xlsx")
    _shop_book(plain)
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "[Content_Types].xml" and b"sharedStrings" not in data:
                data = data.replace(
                    b"</Types>",
                    b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                    b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
                )
            if item.filename == "xl/_rels/workbook.xml.rels" and b"sharedStrings" not in data:
                data = data.replace(
                    b"</Relationships>",
                    b'<Relationship Id="rIdSS" Type="http://schemas.openxmlformats.org/'
                    b'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
                    b"</Relationships>",
                )
            if item.filename != "xl/sharedStrings.xml":
                out.writestr(item, data)
        with out.open("xl/sharedStrings.xml", "w") as part:
            part.write(b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/')
            part.write(b'spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>')
            for _ in range(megabytes):
                part.write(b"a" * (1 << 20))
            part.write(b"</t></si></sst>")


def test_a_workbook_that_unpacks_a_thousand_fold_is_refused_before_it_is_read(
    tmp_path: Path,
) -> None:
    """A 100 KB workbook whose shared strings unpack to 100 MB took 905 MB to read, and a
    400 KB one 2.3 GB before "Orders (0 MB) is too big for this computer's memory"."""
    book = tmp_path / "shop.xlsx"
    _bomb(book, 100)
    assert book.stat().st_size < 200_000
    config = tmp_path / "smbml.toml"
    config.write_text(
        f'store = "store.sqlite"\n[source]\nkind = "files"\npath = "{book.as_posix()}"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli, ["--log-file", str(tmp_path / "log"), "run", "-c", str(config)]
    )
    lines = result.output.strip().splitlines()
    assert result.exit_code == SourceFatalError.exit_code, result.output
    assert len(lines) == 1 and "unexpected" not in result.output
    assert "shop.xlsx (" in lines[0] and "unpacks to 100 MB" in lines[0]
    assert "xl/sharedStrings.xml" in lines[0] and "it is not read" in lines[0]


def test_a_workbook_past_this_computer_s_memory_is_refused_with_its_real_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ordinary workbook on a computer too small for it: said with the sizes, not read."""
    book = tmp_path / "shop.xlsx"
    _shop_book(book)
    monkeypatch.setattr(unpacked, "machine_memory", lambda: 64 << 10)
    with pytest.raises(SourceFatalError, match=r"memory \(64 KB\) than it can spare") as said:
        FilesSource(book)
    assert "shop.xlsx (" in str(said.value) and " KB) unpacks to " in str(said.value)
    monkeypatch.setattr(unpacked, "machine_memory", lambda: 8 << 30)
    assert FilesSource(book).available() == ["contacts", "orders"]


def test_pictures_in_a_workbook_do_not_count_against_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A products list with its photos: the pictures are never read, but counted with the
    XML they made a 160 MB workbook too big for a 4 GB laptop (rv55b item 1)."""
    book = tmp_path / "shop.xlsx"
    _shop_book(book)
    with zipfile.ZipFile(book, "a") as archive:  # 2 MB of photo bytes (do not pack)
        photo = bytes(random.Random(7).getrandbits(8) for _ in range(2 << 20))
        archive.writestr("xl/media/image1.jpeg", photo)
    monkeypatch.setattr(unpacked, "machine_memory", lambda: 8 << 20)
    assert unpacked.too_big(book) is None
    assert FilesSource(book).available() == ["contacts", "orders"]


def test_a_tab_too_big_for_memory_says_the_workbook_s_real_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The line said "Orders (0 MB) is too big": a tab's name and the file packed."""
    book = tmp_path / "shop.xlsx"
    _shop_book(book)

    def no_memory(*_: object) -> None:
        raise MemoryError

    monkeypatch.setattr(files_source, "read_sheet", no_memory)
    with Store(tmp_path / "store.sqlite") as store:
        result = run_pipeline(FilesSource(book), store, RunOptions(steps=[], as_of=AS_OF))
    said = " ".join(result.errors)
    assert "Tab 'Orders' of shop.xlsx (" in said and " KB unpacked) is too big" in said
    assert "(0 MB)" not in said


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need privileges there")
def test_links_in_a_data_folder_out_of_it_or_to_a_device_are_named_not_read(
    tmp_path: Path,
) -> None:
    """orders.csv -> /dev/zero was read until memory ran out ("unexpected MemoryError"), and
    deals.csv -> a file elsewhere was read and its first line quoted in an error."""
    folder, elsewhere = tmp_path / "shop", tmp_path / "home"
    folder.mkdir()
    elsewhere.mkdir()
    (elsewhere / "passwd").write_text("ann:x:1000:1000:Ann:/home/ann:/bin/bash\n")
    (folder / "contacts.csv").write_text("Customer ID,Email\nC1,ann@shop.test\nC2,bo@shop.test\n")
    (folder / "orders.csv").write_text("\n".join(",".join(r) for r in ORDERS) + "\n")
    (folder / "deals.csv").symlink_to(elsewhere / "passwd")
    (folder / "products.csv").symlink_to("/dev/null")
    (folder / "customers-current.csv").symlink_to("contacts.csv")  # inside: read as a file
    source = FilesSource(folder, tables={"contacts": "customers-current.csv"})
    lines = {line.split("'")[1]: line for line in source.not_read()}
    assert lines["products.csv"].startswith(
        "File 'products.csv' was not read: it is a link to a device, not a file"
    )
    assert lines["deals.csv"].startswith(
        "File 'deals.csv' was not read: it is a link to 'passwd', a file outside this folder"
    )
    assert source.available() == ["contacts", "orders"]
    with Store(tmp_path / "store.sqlite") as store:
        result = run_pipeline(source, store, RunOptions(steps=[], as_of=AS_OF))
    assert result.loaded["contacts"] == 2 and not result.errors
    assert "ann:x" not in " ".join(n.message for n in result.notices)
    with pytest.raises(ConfigError, match="is a device, not a file or a folder"):
        FilesSource(Path("/dev/null"))


# -- item 7: a key file that is JSON but no object ----------------------------------------
@pytest.mark.parametrize(
    ("text", "kind"),
    [('["-----BEGIN PRIVATE KEY-----abc", "x"]', "a list"), ('"just a string"', "a text"),
     ("42", "a number"), ("null", "nothing")],
)  # fmt: skip
def test_a_google_key_that_is_json_but_no_object_is_one_line(
    tmp_path: Path, text: str, kind: str
) -> None:
    """A key file holding a JSON list or text was "unexpected AttributeError" (exit 70),
    from `smbml auth google` and from SMBML_GOOGLE_SERVICE_ACCOUNT alike."""
    key_file = tmp_path / "key.json"
    key_file.write_text(text + "\n", encoding="utf-8")
    args = [
        "--log-file",
        str(tmp_path / "log"),
        "auth",
        "google",
        "-c",
        str(tmp_path / "none.toml"),
    ]
    result = CliRunner().invoke(cli, [*args, "--key-file", str(key_file)])
    assert result.exit_code == AuthError.exit_code, result.output
    (line,) = result.output.strip().splitlines()
    assert "unexpected" not in line and "PRIVATE KEY" not in line
    assert f"not a service-account key: they hold {kind}, not the key's fields" in line
    with pytest.raises(AuthError, match=f"they hold {kind}"):
        SheetsApi(Secret(text))


def test_inspect_says_a_secret_column_is_left_out() -> None:
    """`smbml inspect` showed "'Password' -> extra (no canonical column)": kept, it said."""
    lines = map_headers("contacts", ["Customer ID", "Email", "Password", "Notes"]).describe()
    assert (
        "'Password' -> left out (its header names a password, token or key and its values may "
        "be ones: never stored)" in lines
    )
    assert "'Notes' -> extra (no canonical column)" in lines
