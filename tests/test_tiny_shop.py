"""A tiny shop (issue 24): 10 customers, 20 orders, 3 products, headers like "Order #"."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from shops import write_tiny_shop

from smbml_connect.cli import cli
from smbml_connect.errors import DataValidationError
from smbml_connect.schema import SOURCE_ROW, validate


def _cli(*args: str, folder: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--log-file", str(folder / "log.txt"), *args])
    return result.exit_code, result.output


def test_a_tiny_shop_with_order_hash_headers_runs_through(tmp_path: Path):
    """ "Order #" was recognised in Orders.csv but not in "Order Lines.csv", so prices and the
    next product were skipped and the run exited 1; "Customer #" was not an id at all."""
    config = write_tiny_shop(tmp_path)
    code, output = _cli("inspect", "-c", str(config), folder=tmp_path)
    assert code == 0, output
    lines = output.split("\n\norder_lines:")[1]
    assert "'Order #' -> order_id" in lines and "line_no: made by the layout" in lines
    assert "'Customer #' -> contact_id" in output
    code, output = _cli("run", "-c", str(config), "--quiet", folder=tmp_path)
    assert code == 0, output
    assert "problem:" not in output and "_" not in output.split("skipped: ")[-1].split(":")[0]
    with sqlite3.connect(tmp_path / "shop.sqlite") as db:
        lines_loaded = db.execute("select count(*) from order_lines").fetchone()[0]
        linked = db.execute("select count(*) from orders where contact_id like 'K%'").fetchone()[0]
    assert lines_loaded == len(pd.read_csv(tmp_path / "Order Lines.csv")) and linked == 20
    assert {"Segments", "Prices"} <= set(
        openpyxl.load_workbook(tmp_path / "results.xlsx").sheetnames
    )


def test_a_missing_column_names_no_internal_column_and_says_how_to_map_it():
    frame = pd.DataFrame({"Order #": ["1"], "product_id": ["P"], SOURCE_ROW: [2]})
    with pytest.raises(DataValidationError) as caught:
        validate("order_lines", frame, "files:shop")
    text = str(caught.value)
    assert SOURCE_ROW not in text
    assert '[source.mapping.order_lines] "Your header" = "order_id"' in text


def test_inspect_of_a_workbook_with_no_known_tab_fails_with_one_clear_line(tmp_path: Path):
    book = openpyxl.Workbook()
    book.active.title = "Sheet1"
    book.active.append(["Foo", "Bar"])
    book.save(tmp_path / "book.xlsx")
    (tmp_path / "smbml.toml").write_text('[source]\nkind = "files"\npath = "book.xlsx"\n')
    code, output = _cli("inspect", "-c", str(tmp_path / "smbml.toml"), folder=tmp_path)
    assert code != 0
    assert "no tab or file gives a table" in output, output
    assert "Tab 'Sheet1' was not read" in output and '[source.tables] <table> = "Sheet1"' in output
