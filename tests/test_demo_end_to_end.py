"""The main job as a user runs it: the console script on a fresh folder."""

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from smbml_connect.cli import cli


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    completed = subprocess.run(
        [sys.executable, "-m", "smbml_connect", "demo", "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(out),
            "XDG_DATA_HOME": str(out / "data"),
            "XDG_STATE_HOME": str(out / "state"),
        },
    )
    assert completed.returncode == 0, completed.stderr
    assert f"Wrote {out / 'results.xlsx'}" in completed.stdout
    return out


def test_workbook_has_a_tab_per_output_and_rejects(demo_dir: Path):
    workbook = load_workbook(demo_dir / "results.xlsx")
    assert workbook.sheetnames == [
        "Summary",
        "Segments",
        "Segment summary",
        "Clusters",
        "Cluster members",
        "Customer value",
        "Value model",
        "Next products",
        "Lead scores",
        "Lead model",
        "Lead fairness",
        "Deal win chances",
        "Pipeline forecast",
        "Deal model",
        "Forecast",
        "Forecast check",
        "Prices",
        "Rejects",
    ]
    segments = workbook["Segments"]
    header = [c.value for c in segments[3]]
    assert header[:4] == ["contact_id", "name", "email", "segment"]
    assert segments.freeze_panes == "A4"
    assert segments["A3"].font.bold
    rows = list(segments.iter_rows(min_row=4, values_only=True))
    assert len(rows) > 500
    assert {r[3] for r in rows} >= {"Champions", "At Risk", "Hibernating"}
    rejects = list(workbook["Rejects"].iter_rows(min_row=4, values_only=True))
    assert len(rejects) == 10
    assert any(r[3] == "ordered_at" and r[4] == "next Tuesday" for r in rejects)
    summary = {r[0]: r[1] for r in workbook["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["Rows rejected"] == "5"


def test_report_has_findings_and_a_chart(demo_dir: Path):
    html = (demo_dir / "report.html").read_text()
    assert "<svg" in html and "Customer segments (RFM)" in html
    assert "Data quality" in html and "next Tuesday" in html
    assert "Expected units a month by price" in html  # the demand curves


def test_status_shows_the_demo_run(demo_dir: Path):
    result = CliRunner().invoke(
        cli,
        [
            "--log-file",
            str(demo_dir / "log.txt"),
            "status",
            "--store",
            str(demo_dir / "demo-store.sqlite"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "[demo] ok" in result.output and "rejected rows 5" in result.output


def test_errors_are_one_line_and_non_zero(tmp_path: Path):
    runner = CliRunner()
    log = ["--log-file", str(tmp_path / "log.txt")]
    missing = runner.invoke(cli, [*log, "run", "-c", str(tmp_path / "none.toml")])
    assert missing.exit_code == 2
    assert missing.output.strip().count("\n") == 0 and "not found" in missing.output
    (tmp_path / "bad.toml").write_text('[source]\nkind = "files"\npath = "nowhere.xlsx"\n')
    bad = runner.invoke(cli, [*log, "run", "-c", str(tmp_path / "bad.toml")])
    assert bad.exit_code == 2 and "does not exist" in bad.output
    no_store = runner.invoke(cli, [*log, "status", "--store", str(tmp_path / "x.sqlite")])
    assert no_store.exit_code == 7 and "smbml demo" in no_store.output


def test_run_with_a_files_config(tmp_path: Path):
    (tmp_path / "orders.csv").write_text(
        "Order ID,Customer,Date,Total\n1,c1,2025-01-05,10\n2,c1,2025-01-20,15\n3,c2,oops,7\n"
    )
    (tmp_path / "smbml.toml").write_text(
        '[source]\nkind = "files"\npath = "."\n'
        "[analytics]\nas_of = 2025-02-01\n"
        '[[destinations]]\nkind = "workbook"\npath = "results.xlsx"\n'
    )
    result = CliRunner().invoke(
        cli,
        [
            "--log-file",
            str(tmp_path / "log.txt"),
            "run",
            "-c",
            str(tmp_path / "smbml.toml"),
            "--store",
            str(tmp_path / "s.sqlite"),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1 rows rejected" in result.output
    workbook = load_workbook(tmp_path / "results.xlsx")
    assert workbook["Segments"].max_row == 3 + 1  # note, blank, header, one customer


def test_report_escapes_source_text():
    import pandas as pd

    from smbml_connect.pipeline import RunResult
    from smbml_connect.report import render_report
    from smbml_connect.steps import ReportSection, StepResult

    result = RunResult(run_id=1, as_of=pd.Timestamp("2025-01-01", tz="UTC"), source="x")
    table = pd.DataFrame({"name": ["<script>alert(1)</script>"], "share_of_revenue": [0.25],
                          "avg_orders": [0.5]})  # fmt: skip
    result.steps["s"] = StepResult(sections=[ReportSection("T", ["<b>hi</b>"], [], table)])
    html = render_report(result)
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;hi" in html
    assert ">25%<" in html and ">0.5<" in html
