"""The main job as a user runs it: the console script on a fresh folder."""

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from openpyxl import load_workbook

from smbml_connect import runtime
from smbml_connect.cli import cli
from smbml_connect.excel_addin import serve as serve_module
from smbml_connect.excel_addin.serve import PAIRING_HEADER, ServerThread


def test_workbook_has_a_tab_per_output_and_rejects(demo_dir: Path):
    workbook = load_workbook(demo_dir / "results.xlsx")
    assert workbook.sheetnames == [
        "Summary",
        "Instructions",
        "Data checks",
        "Segments",
        "Segment summary",
        "Clusters",
        "Cluster members",
        "Customer value",
        "Value model",
        "Next products",
        "Lead scores",
        "How lead scores are spread",
        "Lead model",
        "Lead fairness",
        "Deal win chances",
        "Pipeline forecast",
        "Deal model",
        "Forecast",
        "Forecast chart",
        "Forecast check",
        "Prices",
        "Rejects",
    ]
    segments = workbook["Segments"]
    header = [c.value for c in segments[3]]
    assert header[:4] == ["Contact ID", "Name", "Email", "Segment"]
    assert segments.freeze_panes == "A4"
    assert segments["A3"].font.bold
    rows = list(segments.iter_rows(min_row=4, values_only=True))
    assert len(rows) > 500
    assert {r[3] for r in rows} >= {"Champions", "At Risk", "Hibernating"}
    rejects = list(workbook["Rejects"].iter_rows(min_row=4, values_only=True))
    assert len(rejects) == 10
    assert any(r[3] == "ordered_at" and r[4] == "next Tuesday" for r in rejects)
    summary = {r[0].value: r[1] for r in workbook["Summary"].iter_rows(min_row=2)}
    # numbers and dates, not text, each with a number format
    assert summary["Rows rejected"].value == 5
    assert summary["Rows rejected"].number_format == "#,##0"
    assert summary["contacts loaded"].value == 2000
    assert summary["Data up to"].is_date and summary["Data up to"].number_format == "yyyy-mm-dd"


def test_workbook_has_native_charts_colours_and_instructions(demo_dir: Path):
    workbook = load_workbook(demo_dir / "results.xlsx")
    charts = {ws.title: ws._charts for ws in workbook.worksheets if ws._charts}
    assert set(charts) == {"Forecast chart", "Segment summary", "How lead scores are spread"}
    forecast = charts["Forecast chart"][0]
    assert forecast.tagname == "areaChart" and forecast.grouping == "stacked"
    # the legend says plain words, not the table's column names (low_80, range_80) ...
    series = [*forecast.series, *forecast._charts[1].series]
    assert [s.tx.v for s in series] == ["Lowest likely", "80% range", "Actual", "Forecast"]
    assert [(e.idx, e.delete) for e in forecast.legend.legendEntry] == [(0, True)]
    # ... and the lines are straight between months, not smoothed
    assert all(s.smooth is False for s in forecast._charts[1].series)
    # the band's floor is invisible; the width sits on top of it
    assert forecast.series[0].graphicalProperties.noFill
    chart_rows = list(workbook["Forecast chart"].iter_rows(min_row=4, values_only=True))
    future = [r for r in chart_rows if r[2] is not None]
    assert len(future) == 12
    assert all(r[3] <= r[2] <= r[4] and abs(r[5] - (r[4] - r[3])) < 0.02 for r in future)
    # charts sit clear of filterable lists: a chart's own table has no filter, and ...
    assert not workbook["Forecast chart"].auto_filter.ref
    assert not workbook["Segment summary"].auto_filter.ref
    assert workbook["Lead scores"].auto_filter.ref
    # ... the score spread has a tab of its own: filtering the lead list leaves it whole
    lead_sheet = workbook["Lead scores"]
    assert not lead_sheet._charts
    assert lead_sheet.max_column == len([c for c in lead_sheet[3] if c.value is not None])
    spread = workbook["How lead scores are spread"]
    assert [spread.cell(row=1, column=c).value for c in (1, 2)] == ["Score band", "Leads"]
    counts = [spread.cell(row=r, column=2).value for r in range(2, 12)]
    scored = sum(
        1 for r in lead_sheet.iter_rows(min_row=4, max_col=4, values_only=True) if r[3] is not None
    )
    assert sum(counts) == scored
    rules = {ws.title: [str(r.sqref) for r in ws.conditional_formatting]
             for ws in workbook.worksheets if ws.conditional_formatting}  # fmt: skip
    assert set(rules) == {"Lead scores", "Deal win chances", "Customer value"}
    instructions = [[v for v in row if v is not None]
                    for row in workbook["Instructions"].iter_rows(values_only=True)]  # fmt: skip
    text = [v for row in instructions for v in row if isinstance(v, str)]
    for name in ("LEADSCORE", "LEADSCORE_OF", "SEGMENT", "CHURN", "FORECAST", "PRICE", "ABTEST"):
        assert any(t.startswith(f"=SMB.{name}(") for t in text), name
    cell = next(c for row in workbook["Instructions"].iter_rows() for c in row
                if isinstance(c.value, str) and c.value.startswith("=SMB.ABTEST(B"))  # fmt: skip
    assert cell.data_type == "s"  # shown as text, never a formula Excel would try to run
    result_row = [c.value for c in workbook["Instructions"][cell.row + 2]][3:9]
    assert 0.97 < result_row[0] < 0.98 and result_row[1] == pytest.approx(0.25, abs=0.005)
    # as the add-in shows them: chances and lifts in %, the visitors a whole number (the
    # lift's low end of 0.001 read 0.00)
    shown = [c.number_format for c in workbook["Instructions"][cell.row + 2]][3:8]
    assert shown == ["0.0%", "0.0%", "0.0%", "0.0%", "#,##0"]
    # the FORECAST example is the Forecast chart's history, so it finds the same season and
    # agrees with the chart's months (with two seasons only, it drew a flat line: December
    # $21.5k against the tab's $48.3k); the month under way is said to differ, and why
    start = next(c for row in workbook["Instructions"].iter_rows() for c in row
                 if isinstance(c.value, str) and c.value.startswith("=SMB.FORECAST(A"))  # fmt: skip
    history = [r for r in chart_rows if r[1] is not None]
    # the tab's words count the months it draws (it said "the last 36" over 35)
    assert f" {len(history)} months of history" in workbook["Forecast chart"]["A1"].value
    assert start.value == f"=SMB.FORECAST(A{start.row + 1}:A{start.row + len(history)}, " \
        f"B{start.row + 1}:B{start.row + len(history)}, 6)"  # fmt: skip
    example = [[c.value for c in workbook["Instructions"][r]][3:7]
               for r in range(start.row + 2, start.row + 8)]  # fmt: skip
    by_month = {r[0].strftime("%Y-%m"): r for r in future}
    first = example[0][0].strftime("%B %Y")
    # the lines under the result say which months differ from the chart's, and why
    lines = [workbook["Instructions"].cell(row=r, column=4).value
             for r in range(start.row + 8, start.row + 12)]  # fmt: skip
    assert any(f"not told what was already sold in {first}" in str(line) for line in lines)
    for month, value, low, high in example[1:]:
        chart = by_month[month.strftime("%Y-%m")]
        assert low <= value <= high and chart[3] <= value <= chart[4], (month, value, chart)
    email = next(
        c for row in workbook["Instructions"].iter_rows() for c in row if c.value == "email"
    )
    sheet = workbook["Instructions"]
    assert sheet.cell(row=email.row, column=4).value == f"=SMB.LEADSCORE_OF(B{email.row})"
    score, tier = (sheet.cell(row=email.row + 2, column=c).value for c in (4, 5))
    assert 0 <= score <= 100 and tier in "ABCD"


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_opens_the_workbook(demo_dir: Path, tmp_path: Path):
    done = subprocess.run(
        ["soffice", "--headless", "--norestore", f"-env:UserInstallation=file://{tmp_path}/lo",
         "--convert-to", "pdf", "--outdir", str(tmp_path), str(demo_dir / "results.xlsx")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    pdf = tmp_path / "results.pdf"
    assert pdf.exists() and pdf.stat().st_size > 50_000


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
    assert "[demo] ok" in result.output and "5 rows rejected" in result.output
    assert "data checks:" in result.output and "problem:" not in result.output


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
    assert "1 row rejected and 0 values left empty" in result.output
    workbook = load_workbook(tmp_path / "results.xlsx")
    assert workbook["Segments"].max_row == 3 + 1  # note, blank, header, one customer


def test_report_escapes_source_text():
    import pandas as pd

    from smbml_connect.ports import RunResult
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


def test_data_checks_agree_everywhere_and_no_text_says_nan(demo_dir: Path, business):
    workbook = load_workbook(demo_dir / "results.xlsx")
    checks = list(workbook["Data checks"].iter_rows(min_row=4, values_only=True))
    summary = {r[0]: r[1] for r in workbook["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["Data checks with findings"] == len(checks)
    by_check = {(r[0], r[1]): r[2] for r in checks}
    # The sample's refunded and cancelled orders, exactly: what no analytic counts as a sale.
    not_sales = business.tables["orders"]["status"].isin(["refunded", "cancelled"]).sum()
    assert by_check[("not sales", "orders")] == not_sales
    html = (demo_dir / "report.html").read_text()
    section = html[html.index("<h2>Data checks</h2>") : html.index("<h2>Data quality</h2>")]
    assert section.count("<li>") == len(checks)
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows(values_only=True):
            for value in row:
                assert not (isinstance(value, str) and value.strip().lower() == "nan"), sheet.title


def test_every_tab_prints_one_page_wide_with_its_header_repeated(demo_dir: Path):
    from openpyxl.utils import range_boundaries

    workbook = load_workbook(demo_dir / "results.xlsx")
    for sheet in workbook.worksheets:
        assert sheet.print_area, sheet.title
        min_col, min_row, max_col, max_row = range_boundaries(sheet.print_area.split("!")[1])
        assert (min_col, min_row) == (1, 1), sheet.title
        setup = sheet.page_setup
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, sheet.title
        assert (setup.fitToWidth, setup.fitToHeight) == (1, 0), sheet.title
        for chart in sheet._charts:  # charts print whole, inside the area
            start = chart.anchor._from
            assert start.col + 1 <= max_col and start.row + 1 <= max_row, sheet.title
    # the tables' header rows repeat on every page; wide tabs print landscape
    for title, header in (("Lead scores", 3), ("Cluster members", 1), ("Prices", 3)):
        assert workbook[title].print_title_rows == f"${header}:${header}", title
    assert workbook["Prices"].page_setup.orientation == "landscape"
    assert workbook["Summary"].page_setup.orientation == "portrait"
    # a long list prints its first rows, and the footer says so
    leads = workbook["Lead scores"]
    assert leads.print_area.endswith("$303")
    assert "the first 300 of" in leads.oddFooter.center.text


def test_libreoffice_prints_the_demo_workbook_in_under_80_pages(demo_dir: Path, tmp_path: Path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed (apt-get install libreoffice-calc-nogui)")
    pypdf = pytest.importorskip("pypdf")
    subprocess.run(
        [soffice, f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless",
         "--convert-to", "pdf", "--outdir", str(tmp_path), str(demo_dir / "results.xlsx")],
        capture_output=True, timeout=300, check=True,
    )  # fmt: skip
    pages = pypdf.PdfReader(tmp_path / "results.pdf").pages
    assert len(pages) < 80
    first = pages[0].extract_text()  # Summary: labels and values on one page
    assert "Rows rejected" in first and "2,000" in first and "Summary, page 1 of" in first


def test_the_instructions_lead_to_a_live_leadscore_of(
    demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """find55_readme item 2: the tab said "run `smbml serve`", which reads the user data
    folder's store, not the demo's, so its =SMB.LEADSCORE_OF example (99, A) was #N/A.
    The command the tab and the demo give is run here, from another folder with an empty
    user data folder, and the formula's call is sent to it as the add-in sends it."""
    sheet = load_workbook(demo_dir / "results.xlsx")["Instructions"]
    said = next(str(c.value) for c in sheet["A"] if "smbml serve" in str(c.value or ""))
    command = re.search(r"run `(smbml serve[^`]*)`", said)
    assert command is not None, said
    printed = (demo_dir / "state" / "demo-output.txt").read_text()
    assert f"run `{command.group(1)}`" in printed  # the demo says the same
    email = next(c for c in sheet["A"] if c.value == "email")
    shown = [sheet.cell(row=email.row + 2, column=c).value for c in (4, 5)]
    started: dict[str, Any] = {}
    monkeypatch.setattr(serve_module, "serve_forever", lambda s, c: started.update(s=s, c=c))
    monkeypatch.setattr(runtime, "freeze_loaded_objects", lambda: None)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("SMBML_STORE", raising=False)
    port = 19765 + os.getpid() % 1000
    args = [*shlex.split(command.group(1))[1:], "--port", str(port), "--cert-dir", "certs"]
    result = CliRunner().invoke(cli, ["--log-file", "log.txt", *args])
    assert result.exit_code == 0, result.output
    with ServerThread(started["s"], started["c"]), requests.Session() as session:
        session.verify, session.trust_env = str(started["c"].ca), False
        answer = session.post(
            f"https://localhost:{port}/api/batch",
            json={"calls": [{"name": "LEADSCORE_OF", "args": [sheet.cell(email.row, 2).value]}]},
            headers={PAIRING_HEADER: started["s"].secret.reveal()},
        ).json()["results"][0]
    assert "error" not in answer, answer
    assert answer["value"][1][:2] == shown and shown[1] in "ABCD"


def test_the_readme_quotes_the_demo_as_it_is(demo_dir: Path):
    """find55_readme item 5: the README quoted the demo's October as $738 expected in the
    rest of the month, which the demo had long since printed as $794."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    quoted = re.search(r'"(October \d{4} is not over: [^"]+)", the\s+demo\'s October', readme)
    assert quoted is not None
    notes = [row[9] for row in load_workbook(demo_dir / "results.xlsx")["Forecast"]
             .iter_rows(min_row=4, values_only=True) if row[:2] == ("All sales", "revenue")]  # fmt: skip
    assert " ".join(quoted.group(1).split()) in notes
    size = re.search(
        r"\(([\d,]+) contacts, ~([\d,]+) deals, three\s+years of orders over (\d+) products\)",
        readme,
    )
    assert size is not None
    loaded = (demo_dir / "state" / "demo-output.txt").read_text().splitlines()[0]
    counts = {m[2]: int(m[1].replace(",", "")) for m in re.finditer(r"([\d,]+) ([a-z]+)", loaded)}
    assert counts["contacts"] == int(size[1].replace(",", ""))
    assert counts["products"] == int(size[3])
    assert abs(counts["deals"] - int(size[2].replace(",", ""))) <= 0.05 * counts["deals"]
