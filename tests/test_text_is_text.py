"""Issue 23, point 9: names are text on every surface (charts, HTML, workbook, Sheets)."""

from __future__ import annotations

import re

import pytest
from openpyxl import load_workbook

from smbml_connect import charts
from smbml_connect.connectors.gsheets.sheets import _extended
from smbml_connect.connectors.sample.source import SampleSource
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.report import HtmlReport, ResultsWorkbook
from smbml_connect.steps import steps_by_name

NAMES = [
    "Buy 2 for $10 ^ save $",
    "Gift card $25-$50",
    '=HYPERLINK("http://evil.example","click")',
    "+1 555 0100",
    "-2 for 1",
    "@mention me",
    "under_score \\back\\slash",
    "<b>bold</b> & <script>alert(1)</script>",
    "tab\there",
    "new\nline",
    "$x_y^2$",
]


@pytest.mark.parametrize("name", NAMES)
def test_charts_draw_names_as_text(name):
    # Mathtext draws letters from the oblique face: plain text never does.
    svg = charts.bar_chart([name, "plain"], [3.0, 4.0], name, "units", highlight=[name])
    assert "<svg" in svg and "Oblique" not in svg
    curve = charts.DemandCurve(
        label=name, prices=[1, 2, 3], units=[3, 2, 1], low=[2, 1, 0], high=[4, 3, 2],
        current=(2, 2), suggested=(2.5, 1.5), limits=(1.5, 2.8),
    )  # fmt: skip
    assert "Oblique" not in charts.demand_curves([curve], name, "units")
    assert "Oblique" not in charts.histogram([1.0, 2.0], name, name)


def test_charts_leave_matplotlib_settings_as_they_were():
    from matplotlib import rcParams

    before = rcParams["text.parse_math"]
    charts.bar_chart(["$a$"], [1.0], "t", "x")
    assert rcParams["text.parse_math"] == before


@pytest.mark.parametrize("name", NAMES)
def test_sheets_cells_are_string_values(name):
    assert _extended(name) == {"stringValue": name}


def test_names_survive_the_whole_run(business, store, tmp_path):
    source = SampleSource(business, messy=False)
    products = source.raw["products"]
    products["name"] = [f"{NAMES[i % len(NAMES)]} {i}" for i in range(len(products))]
    contacts = source.raw["contacts"]
    contacts["first_name"] = [NAMES[i % len(NAMES)] for i in range(len(contacts))]
    steps = steps_by_name(["rfm_segments", "next_product", "price_suggestions"])
    book, html = ResultsWorkbook(tmp_path / "results.xlsx"), HtmlReport(tmp_path / "report.html")
    result = run_pipeline(source, store, RunOptions(steps=steps, as_of=business.as_of),
                          [book, html])  # fmt: skip
    assert result.errors == [] and result.status == "ok"
    assert set(result.steps) == {"rfm_segments", "next_product", "price_suggestions"}

    workbook = load_workbook(book.path)
    texts = {}
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula"
                if isinstance(cell.value, str):
                    texts[cell.value] = cell.data_type
    suggested = [v for v in texts if v.startswith('=HYPERLINK("http://evil.example"')]
    assert suggested and all(texts[v] == "s" for v in suggested)
    for name in ("+1 555 0100", "-2 for 1", "@mention me", "tab\there", "new\nline"):
        assert any(v.startswith(name) for v in texts), name

    page = html.path.read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "Oblique" not in page  # no name was drawn as mathematics
    assert re.search(r"Buy 2 for \$10 \^ save \$ \d+", page)  # in the tables, as written
