"""The files a run writes (results.xlsx, report.html) never cost the user a file: not
their data (a destination named like the source), not the last good results (a save
stopped half-way), and never listed as data the run left unread (find52_cli 1, 3, 12)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import openpyxl
import pytest
from shops import write_tiny_shop

from smbml_connect.registry import load_config
from smbml_connect.runner import build_run


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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
