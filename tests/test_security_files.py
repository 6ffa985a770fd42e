"""Secrets and hostile files in a user's own data (find55 security items 4, 5, 6, 7): a
password or token column never reaches the store or an output; a workbook that expands to
gigabytes, a link to a device or out of the folder, a key file that is no object: one line."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from smbml_connect.connectors.files.source import FilesSource
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
     "Private key", "Square Token", "API-Schlüssel", "Clé API"],
)  # fmt: skip
def test_headers_that_name_a_secret(header: str) -> None:
    assert is_secret_header(header)


@pytest.mark.parametrize(
    "header",
    ["Card Tokenization Method", "Key account", "Passport", "Keywords", "Secretary",
     "Gift card", "Email", "Notes", "Pass-through"],
)  # fmt: skip
def test_headers_that_do_not(header: str) -> None:
    assert not is_secret_header(header)
