"""A column about a secret is told from one that holds it by its values too, and nothing a
user's file holds reaches the terminal, the store or the workbook as a secret in clear:
a line that cannot be split into cells, a skipped row's original row, a row of a workbook
with a value right of its header, a problem's words (stop 55's known gaps)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from smbml_connect.cli import cli
from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.report import ResultsWorkbook
from smbml_connect.secret_columns import is_plain_value, left_out_columns
from smbml_connect.steps import steps_by_name
from smbml_connect.store import Store

AS_OF = pd.Timestamp("2025-06-01", tz="UTC")
# Passwords as people choose them: some with no digit, which ``redact`` cannot know by shape.
PASSWORDS = ["correcthorse", "Summer2024!", "batterystaple", "Tr0ub4dor&3", "staplehorse"]
ORDERS = [
    ["Order ID", "Customer ID", "Order Date", "Total"],
    ["O1", "C1", "2025-01-03", "10"], ["O2", "C2", "2025-02-03", "20"],
    ["O3", "C3", "2025-03-05", "30"], ["O4", "C1", "2025-03-09", "12.50"],
]  # fmt: skip


def _write(folder: Path, contacts: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "contacts.csv").write_text(contacts, encoding="utf-8")
    orders = "\n".join(",".join(r) for r in ORDERS) + "\n"
    (folder / "orders.csv").write_text(orders, encoding="utf-8")
    return folder


def _run(source: Path, tmp_path: Path):
    out = tmp_path / "out" / "results.xlsx"
    with Store(tmp_path / "store.sqlite") as store:
        options = RunOptions(steps=steps_by_name(["rfm_segments"]), as_of=AS_OF)
        result = run_pipeline(FilesSource(source), store, options, [ResultsWorkbook(out)])
        stored = store.rejects()
        contacts = store.read("contacts")
    return result, stored, out, contacts


def _texts(tmp_path: Path, out: Path) -> list[str]:
    """The store's file and every XML part of the workbook, as text."""
    texts = [(tmp_path / "store.sqlite").read_bytes().decode("latin-1")]
    with zipfile.ZipFile(out) as book:
        texts += [book.read(n).decode("utf-8") for n in book.namelist() if n.endswith(".xml")]
    return texts


def _leaks(texts: list[str], secrets: list[str]) -> list[str]:
    return [s for s in secrets if any(s in t for t in texts)]


def _config(tmp_path: Path, folder: Path) -> Path:
    config = tmp_path / "smbml.toml"
    config.write_text(
        f'store = "{(tmp_path / "store.sqlite").as_posix()}"\n'
        f'[source]\nkind = "files"\npath = "{folder.as_posix()}"\n'
        f'[[destinations]]\nkind = "workbook"\npath = "{(tmp_path / "out.xlsx").as_posix()}"\n',
        encoding="utf-8",
    )
    return config


def test_a_header_about_a_secret_keeps_its_dates_counts_and_yes_no_but_not_passwords(
    tmp_path: Path,
) -> None:
    """ "Password (set at signup)" was kept because "set" and "at" said it was about a
    password, and its passwords went into the store in clear; WordPress's
    user_activation_key too. Headers about a secret whose values are dates, counts or
    yes/no stay, each value as read."""
    contacts = (
        "Customer ID,Email,Password (set at signup),Token count,Last password change,"
        "Secret Santa,user_activation_key\n"
        f"C1,ann@example.com,{PASSWORDS[0]},1200,2025-01-02,yes,1712345678:$P$Babcdefghijklmnopq\n"
        f"C2,bob@example.com,{PASSWORDS[1]},300,never,no,\n"
        f"C3,cy@example.com,{PASSWORDS[2]},,2024-11-30,yes,1712345999:abcdef0123456789ab\n"
    )
    result, stored, out, rows = _run(_write(tmp_path / "shop", contacts), tmp_path)
    assert result.status == "ok" and result.loaded["contacts"] == 3
    secrets = [*PASSWORDS[:3], "abcdefghijklmnopq", "abcdef0123456789ab"]
    assert _leaks(_texts(tmp_path, out), secrets) == []
    (line,) = [n.message for n in result.notices if n.check == "secret_columns"]
    assert line.startswith(
        "Contacts: columns 'Password (set at signup)', 'user_activation_key' left out: their "
        "headers name a password, token or key and their values may be ones"
    )
    extra = rows.set_index("contact_id")["extra"].map(json.loads)
    assert extra["C1"] == {
        "Token count": "1200", "Last password change": "2025-01-02", "Secret Santa": "yes"
    }  # fmt: skip
    assert extra["C2"]["Last password change"] == "never"
    notes = stored[stored["action"] == "column note"]
    assert set(notes["column"]) == {"Password (set at signup)", "user_activation_key"}


@pytest.mark.parametrize(
    ("export", "columns", "left_out"),
    [
        (
            "WordPress users",
            {"ID": ["1", "2"], "user_login": ["ann", "bob"],
             "user_pass": ["$P$BZLTmQcrA0k4x1QYq7wQ1mZ0rVZ1bB.", "$P$Bq1w2e3r4t5y6u7i8o9p0aSdFgHjK."],
             "user_registered": ["2024-03-01 10:22:13", "2024-05-14 08:01:55"],
             "user_activation_key": ["", "1712345678:$P$Bxyz"], "user_status": ["0", "0"]},
            ["user_pass", "user_activation_key"],
        ),
        (
            "PrestaShop customers",
            {"id_customer": ["1", "2"], "passwd": ["$2y$10$abcdefghijklmnopqrstuv", "$2y$10$zz"],
             "last_passwd_gen": ["2024-02-01 09:00:00", "2024-06-01 12:30:00"],
             "secure_key": ["9f86d081884c7d659a2feaa0c55ad015", "5994471abb01112afcc18159f6cc74b4"],
             "reset_password_token": ["", "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"],
             "reset_password_validity": ["0000-00-00 00:00:00", "2024-06-02 12:30:00"]},
            ["passwd", "secure_key", "reset_password_token"],
        ),
        (
            "Magento customers",
            {"email": ["a@x.test", "b@x.test"], "password_hash": ["c2f1:abc:1", "9e1a:def:1"],
             "rp_token": ["0a1b2c3d4e5f", ""], "rp_token_created_at": ["2024-01-05 10:00:00", ""]},
            ["password_hash", "rp_token"],
        ),
        (
            "a German booking tool",
            {"Kundennr": ["K1", "K2"], "Passwort": ["Sommer!", "Hase1234"],
             "Passwort zuletzt geändert": ["02.01.2025", "3.4.2024"],
             "Anzahl Token": ["3", "12"], "API-Schlüssel": ["k-1f2e3d", "k-9a8b7c"]},
            ["Passwort", "API-Schlüssel"],
        ),
        (
            "a loyalty scheme",
            {"Customer": ["C1", "C2", "C3"], "Loyalty tokens": ["120", "0", "1,450"],
             "Token balance": [3, 4.5, None], "Secret shopper score": ["8", "9", ""],
             "Password strength": ["strong", "weak", "strong"], "Password hint": ["dog", "", "x"],
             "Password": ["123456", "0420", "1"]},
            ["Password hint", "Password"],
        ),
    ],
)  # fmt: skip
def test_real_exports_secret_columns(export: str, columns: dict, left_out: list[str]) -> None:
    """Each export's columns that hold a password, hash, key or token are left out; a
    count, a date or a strength about one stays (PrestaShop's date never set,
    0000-00-00, too); a number under a bare "Password" is a PIN, not a count."""
    assert left_out_columns(pd.DataFrame(columns)) == left_out, export


def test_a_value_under_a_secret_header_is_plain_only_when_it_says_nothing_secret() -> None:
    assert is_plain_value("Last password change", "2025-01-02T10:00:00Z")
    assert is_plain_value("Last password change", pd.Timestamp("2025-01-02"))
    assert is_plain_value("Token count", 1200) and is_plain_value("Token count", "1,200")
    assert not is_plain_value("Token count", "0042")  # a code, not a count
    assert not is_plain_value("Password", 123456)  # no count under a bare "Password"
    assert not is_plain_value("Password (set at signup)", "Summer2024!")
    assert is_plain_value("Notes", "Summer2024!")  # no secret's header: not this rule's


def test_lines_that_cannot_be_split_hide_the_cells_under_a_secret_header(tmp_path: Path) -> None:
    """A line with a comma too many or an unclosed quote was kept whole as the reject's
    value and original row ("C3,cy@example.com,Cy,batterystaple,5,extra"): its password in
    the store, the Rejects tab and `smbml status`, which `redact` cannot know by shape."""
    contacts = (
        "Customer ID,Email,First Name,Password,Visits\n"
        f"C1,ann@example.com,Ann,{PASSWORDS[0]},3\n"
        f"C2,bob@example.com,Bob,{PASSWORDS[1]},4\n"
        f"C3,cy@example.com,Cy,{PASSWORDS[2]},5,extra\n"
        f'C4,dee@example.com,Dee,{PASSWORDS[4]},"5\n'
        f"Total,,,{PASSWORDS[3]},7\n"
    )
    folder = _write(tmp_path / "shop", contacts)
    result, stored, out, _ = _run(folder, tmp_path)
    assert result.status == "ok" and result.loaded["contacts"] == 2
    assert _leaks(_texts(tmp_path, out), PASSWORDS) == []
    lines = stored[stored["action"] == "row rejected"].set_index("source_row")["value"]
    assert lines[4] == "C3,cy@example.com,Cy,***,***,extra"  # the password may have moved
    assert lines[5].startswith("C4,dee@example.com,Dee,***")
    skipped = stored[stored["action"] == "row skipped"]
    assert skipped["row"].tolist() == ['{"Customer ID": "Total", "Visits": "7"}']
    shown = CliRunner().invoke(cli, ["status", "-c", str(_config(tmp_path, folder))])
    assert shown.exit_code == 0 and _leaks([shown.output], PASSWORDS) == []


def test_a_workbook_row_right_of_its_header_hides_the_password(tmp_path: Path) -> None:
    """A row with a note typed right of the last named column is rejected and shown as
    its cells joined: the password under "Passwort" was among them."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Customers"
    for row in [["Customer ID", "Email", "Passwort", "Visits"],
                ["C1", "ann@example.com", PASSWORDS[0], 3],
                ["C2", "bob@example.com", PASSWORDS[1], 4, "call back"],
                ["C3", "cy@example.com", PASSWORDS[2], 5]]:  # fmt: skip
        sheet.append(row)
    orders = book.create_sheet("Orders")
    for row in ORDERS:
        orders.append(row)
    book.save(tmp_path / "shop.xlsx")
    result, stored, out, _ = _run(tmp_path / "shop.xlsx", tmp_path)
    assert result.loaded["contacts"] == 2
    assert _leaks(_texts(tmp_path, out), PASSWORDS) == []
    (value,) = stored.loc[stored["action"] == "row rejected", "value"]
    assert value == "C2, bob@example.com, ***, 4, call back"


def test_inspect_and_run_print_no_secret(tmp_path: Path) -> None:
    """A contacts file exported without its header row: its first row became the headers,
    and `smbml run` printed "problem: ... columns present: C1, ann@example.com, password:
    Summer2024x9" (the error line under it was redacted), as did the workbook's Summary.
    inspect says which headers about a secret are kept, judged by their values."""
    folder = _write(tmp_path / "headless", "C1,ann@example.com,password: Summer2024x9\n")
    config = _config(tmp_path, folder)
    ran = CliRunner().invoke(cli, ["run", "-c", str(config)])
    assert "Summer2024x9" not in ran.output and "password: ***" in ran.output, ran.output
    with zipfile.ZipFile(tmp_path / "out.xlsx") as book:
        parts = [book.read(n).decode("utf-8") for n in book.namelist() if n.endswith(".xml")]
    assert _leaks(parts, ["Summer2024x9"]) == []

    contacts = (
        "Customer ID,Email,Password (set at signup),Token count\n"
        f"C1,ann@example.com,{PASSWORDS[0]},12\nC2,bob@example.com,{PASSWORDS[1]},3\n"
    )
    _write(folder, contacts)
    shown = CliRunner().invoke(cli, ["inspect", "-c", str(config)])
    assert shown.exit_code == 0, shown.output
    assert (
        "  'Password (set at signup)' -> left out (its header names a password, token or key "
        "and its values may be ones: never stored)" in shown.output.splitlines()
    )
    assert "  'Token count' -> extra (no canonical column)" in shown.output.splitlines()
