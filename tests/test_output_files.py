"""The files a run writes (results.xlsx, report.html) never cost the user a file: not
their data (a destination named like the source), not the last good results (a save
stopped half-way), and never listed as data the run left unread (find52_cli 1, 3, 12)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from audit import audit, run_config
from shops import write_tiny_shop

from smbml_connect.errors import ConfigError
from smbml_connect.registry import load_config
from smbml_connect.runner import build_run


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _workbook_shop(folder: Path) -> Path:
    """The tiny shop kept as one workbook, a tab per table, as many shops keep it."""
    write_tiny_shop(folder / "csv")
    with pd.ExcelWriter(folder / "shop.xlsx") as book:
        for name in ("Customers", "Orders", "Order Lines", "Products"):
            frame = pd.read_csv(folder / "csv" / f"{name}.csv", dtype=str)
            frame.to_excel(book, sheet_name=name, index=False)
    return folder / "shop.xlsx"


def _config(folder: Path, source: str, destination: str, kind: str = "workbook") -> Path:
    path = folder / "smbml.toml"
    path.write_text(
        f'store = "shop.sqlite"\n[source]\nkind = "files"\npath = "{source}"\n'
        f'[analytics]\nas_of = 2026-11-01\nenabled = ["rfm_segments"]\n'
        f'[[destinations]]\nkind = "{kind}"\npath = "{destination}"\n'
    )
    return path


# -- 1: a destination is never a file the run reads ---------------------------------------
def test_a_workbook_destination_named_like_the_source_workbook_is_refused(tmp_path: Path):
    """It replaced the customers and orders in shop.xlsx with result tabs, exit 0."""
    shop = _workbook_shop(tmp_path)
    before = _digest(shop)
    for spelled in ("shop.xlsx", "./shop.xlsx", str(shop)):
        with pytest.raises(ConfigError) as refused:
            load_config(_config(tmp_path, "shop.xlsx", spelled))
        assert str(refused.value).startswith("config error at destinations[0].path: 'shop.xlsx'")
        assert "is the source's file (source.path)" in str(refused.value)
    assert _digest(shop) == before


@pytest.mark.parametrize(
    ("kind", "destination", "says"),
    [
        ("report", "Orders.csv", "the report is an .html file"),
        ("workbook", "Customers.csv", "the results workbook is an .xlsx file"),
        ("workbook", "results.xls", "the results workbook is an .xlsx file"),
        ("report", "report.pdf", "the report is an .html file"),
    ],
)
def test_a_destination_of_the_wrong_kind_of_file_is_refused_in_one_line(
    tmp_path: Path, kind: str, destination: str, says: str
):
    """A report "Orders.csv" wrote the HTML over the shop's orders; the next run found no
    order_id among '<meta name="viewport" ...>'."""
    config = write_tiny_shop(tmp_path)
    before = {p.name: _digest(p) for p in tmp_path.glob("*.csv")}
    with pytest.raises(ConfigError) as refused:
        load_config(_config(config.parent, ".", destination, kind))
    line = str(refused.value)
    assert line.startswith(f"config error at destinations[0].path: {destination!r}: {says}")
    assert "\n" not in line
    assert {p.name: _digest(p) for p in tmp_path.glob("*.csv")} == before


def test_a_destination_on_the_store_is_refused_also_when_the_store_comes_from_the_command(
    tmp_path: Path,
):
    config = write_tiny_shop(tmp_path)
    (tmp_path / "smbml.toml").write_text(
        config.read_text().replace('store = "shop.sqlite"', 'store = "results.xlsx"')
    )
    with pytest.raises(ConfigError, match=r"destinations\[0\]\.path: 'results.xlsx' is the store"):
        load_config(config)
    config.write_text(config.read_text().replace('store = "results.xlsx"\n', ""))
    with pytest.raises(ConfigError, match=r"'results.xlsx' is the store"):  # --store results.xlsx
        build_run(load_config(config), tmp_path / "results.xlsx", lambda message: None)
    assert not (tmp_path / "results.xlsx").exists()


# -- 3: a save stopped half-way leaves the last good file whole ---------------------------
def test_an_interrupted_save_leaves_the_last_workbook_and_report_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Ctrl+C while results.xlsx was saved left a zip with no [Content_Types].xml in its
    place, which neither Excel nor openpyxl opens; the last good workbook was gone."""
    config = load_config(write_tiny_shop(tmp_path))
    build_run(config, None, lambda message: None)
    workbook, report = tmp_path / "results.xlsx", tmp_path / "report.html"
    tabs = openpyxl.load_workbook(workbook).sheetnames
    before = {workbook: _digest(workbook), report: _digest(report)}
    save = openpyxl.Workbook.save

    def stopped_half_way(book: openpyxl.Workbook, filename: str | Path) -> None:
        save(book, filename)
        whole = Path(filename).read_bytes()
        Path(filename).write_bytes(whole[: len(whole) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(openpyxl.Workbook, "save", stopped_half_way)
    with pytest.raises(KeyboardInterrupt):
        build_run(config, None, lambda message: None)
    assert openpyxl.load_workbook(workbook).sheetnames == tabs
    assert _digest(workbook) == before[workbook]
    monkeypatch.undo()

    write_text = Path.write_text

    def disk_full(path: Path, text: str, *args: object, **kwargs: object) -> int:
        if path.name.endswith(".tmp") or path.name == "report.html":
            write_text(path, text[:1000], encoding="utf-8")
            raise OSError(28, "No space left on device")
        return write_text(path, text, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", disk_full)
    result, _ = build_run(config, None, lambda message: None)
    monkeypatch.undo()
    assert any("HTML report" in line for line in result.errors), result.errors
    assert _digest(report) == before[report]
    assert "</html>" in report.read_text(encoding="utf-8")
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# -- 12: the run's own files are not data it left unread ----------------------------------
def test_a_folder_source_passes_over_the_files_its_config_writes(tmp_path: Path):
    """From the second run on, every run said "File 'results.xlsx' was not read ... point
    source.path at the workbook": advice that, followed, made the results the source."""
    folder = tmp_path / "shop"
    config = write_tiny_shop(folder)
    build_run(load_config(config), tmp_path / "first.sqlite", lambda message: None)
    assert (folder / "results.xlsx").exists() and (folder / "report.html").exists()
    # A rejects CSV an earlier run put beside the workbook, and a workbook of the user's own.
    (folder / "results-rejects.csv").write_text("Row,Problem\r\n2,a date it cannot read\r\n")
    prices = openpyxl.Workbook()
    prices.active.append(["SKU", "Wholesale"])
    prices.active.append(["S1", 6.0])
    prices.save(folder / "Price list.xlsx")
    out = run_config(config, "tiny shop, run again")  # audited on a store of its own
    not_read = [n.message for n in out.result.notices if n.check == "not_read"]
    assert not [line for line in not_read if "results" in line or "report" in line], not_read
    assert [line for line in not_read if "'Price list.xlsx' was not read" in line], not_read
    tally = audit(out)
    assert tally.checked["a run's own files are not listed as data it did not read"] == 12
    assert not tally.problems, tally.problems
