"""A source that gives no table at all (a folder holding only a workbook, or only a CSV
whose headers are no table's): the run was "ok", exit 0, with an empty results.xlsx, and
`smbml inspect` said "rename a tab" under an internal id without naming a single file
(find57_newcomer items 1 and 2)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from smbml_connect.cli import cli

ONLY_CSV = (
    "File 'shop.xlsx' was not read: only .csv files are read from a folder (export its tabs "
    "as CSV, or point source.path at the workbook)."
)


def _folder(tmp_path: Path, kind: str) -> Path:
    """A config whose folder holds one file that gives no table, and the store beside it."""
    folder = tmp_path / "fold"
    folder.mkdir()
    if kind == "workbook":
        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = "Orders"
        sheet.append(["Order ID", "Date", "Total"])
        sheet.append(["1", "2026-01-02", 5])
        book.save(folder / "shop.xlsx")
    else:
        (folder / "export.csv").write_text("Kunde,Betrag,Datum\nMeier,12.50,2026-01-03\n")
    config = tmp_path / "smbml.toml"
    config.write_text(
        'store = "s.sqlite"\n[source]\nkind = "files"\npath = "fold"\n'
        '[[destinations]]\nkind = "workbook"\npath = "results.xlsx"\n'
    )
    return config


def _smbml(tmp_path: Path, *args: str) -> tuple[int, str]:
    ran = CliRunner().invoke(cli, ["--log-file", str(tmp_path / "log.txt"), *args])
    return ran.exit_code, ran.output


@pytest.mark.parametrize("kind", ["workbook", "unknown csv"])
def test_a_run_that_reads_no_table_fails_and_names_each_file(tmp_path: Path, kind: str):
    config = _folder(tmp_path, kind)
    code, out = _smbml(tmp_path, "run", "-c", str(config), "--quiet")
    assert code == 1, out
    error = [line for line in out.splitlines() if line.startswith("error: ")]
    assert len(error) == 1, out
    assert error[0].startswith(
        "error: no tab or file gives a table, and no earlier run stored any rows: File "
    )
    if kind == "workbook":
        assert error[0].endswith(ONLY_CSV)
    else:
        assert "File 'export.csv' was not read: its name is not a table's" in error[0]
        assert '[source.tables] <table> = "export.csv"' in error[0]
    assert not (tmp_path / "results.xlsx").exists()  # no tabs of nothing
    code, status = _smbml(tmp_path, "status", "-c", str(config))
    assert code == 0 and "run 1 [run] failed" in status, status
    assert f"problem: {error[0].removeprefix('error: ')}" in status, status


def test_inspect_names_each_file_before_it_says_no_table(tmp_path: Path):
    config = _folder(tmp_path, "workbook")
    code, out = _smbml(tmp_path, "inspect", "-c", str(config))
    assert code == 6, out
    lines = out.strip().splitlines()
    assert lines[0] == f"Source: {(tmp_path / 'fold').resolve()}"  # not files:fold#145728
    assert "#" not in out and "rename a tab" not in out
    assert lines[-3:] == [
        "Not read:",
        f"  {ONLY_CSV}",
        'error: no tab or file gives a table: each is listed above under "Not read", with why '
        "and what to do",
    ]
