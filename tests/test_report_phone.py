"""The report on a phone (390 px wide) and on a desktop (1280 px), as a browser draws it.

The layout tests measure the demo's report in headless Chromium through Playwright (the
system's /usr/bin/chromium, which `python3 quickstart.py test` installs from Debian's
packages when it can); without Chromium they are skipped with the reason. The structure
of the HTML is checked without a browser.
"""

from __future__ import annotations

import os
import re
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from smbml_connect.ports import ReportSection, RunResult, StepResult
from smbml_connect.report import render_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# What works in containers and CI: no sandbox (root), no GPU, nothing fetched at start.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTHS = (390, 1280)
SMALLEST_TEXT_PX = 8.5  # chart text drawn smaller than this is not read on a phone
TALLEST_SECTION_PX = 7000  # at 390 px (the Prices section was ~16,000 before)

# Everything measured in one pass over the page, in CSS pixels.
MEASURE = """() => {
  const shown = (el) => el.getClientRects().length > 0 && !el.closest('details:not([open])');
  const body = getComputedStyle(document.body), box = document.body.getBoundingClientRect();
  const left = box.left + parseFloat(body.paddingLeft), right = box.right - parseFloat(body.paddingRight);
  const tables = [...document.querySelectorAll('.table')].filter(shown).map((wrap) => {
    const table = wrap.querySelector('table'), r = wrap.getBoundingClientRect();
    const cells = [...table.querySelectorAll('td')].filter(shown);
    return {left: r.left, right: r.right, box: wrap.clientWidth, width: table.scrollWidth,
            kind: table.className, head: table.querySelector('th').textContent,
            narrowest: Math.min(...cells.map((c) => c.getBoundingClientRect().width))};
  });
  const text = [...document.querySelectorAll('figure svg')].map((svg) => {
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    return Math.min(...[...svg.querySelectorAll('text')].map(
      (t) => parseFloat(getComputedStyle(t).fontSize) * scale));
  });
  const heads = [...document.querySelectorAll('h2')];
  const sections = heads.map((h, i) => [h.textContent,
    (i + 1 < heads.length ? heads[i + 1].getBoundingClientRect().top : box.bottom)
      - h.getBoundingClientRect().top]);
  return {viewport: innerWidth, page: document.documentElement.scrollWidth, left, right,
          tables, text, sections};
}"""

# A section's list: rows shown, rows behind its disclosure (which gets an id to click).
SECTION_LIST = """(title) => {
  const head = [...document.querySelectorAll('h2')].find((h) => h.textContent === title);
  let el = head.nextElementSibling, table = null, details = null;
  while (el && el.tagName !== 'H2') {
    if (!table && el.matches('.table')) table = el;
    if (!details && el.tagName === 'DETAILS') details = el;
    el = el.nextElementSibling;
  }
  if (details) details.id = 'rest-' + title.replace(/\\W+/g, '-');
  return {shown: table.querySelectorAll('tbody tr').length, id: details && details.id,
          hidden: details ? details.querySelectorAll('tbody tr').length : 0};
}"""


def _result_with_table(rows: int, columns: int) -> RunResult:
    result = RunResult(run_id=1, as_of=pd.Timestamp("2026-10-31", tz="UTC"), source="sample")
    table = pd.DataFrame(
        {f"column_{c}": [f"r{r}c{c}" for r in range(rows)] for c in range(columns)}
    )
    result.steps["s"] = StepResult(sections=[ReportSection("Long list", [], [], table)])
    return result


def test_a_long_table_shows_ten_rows_and_the_rest_behind_a_disclosure():
    html = render_report(_result_with_table(rows=25, columns=6))
    shown, rest = html.split("<details>", 1)
    assert shown.count("<tr><td") == 10 and "r9c0" in shown and "r10c0" not in shown
    assert "<summary>Show the other 15 rows</summary>" in rest
    assert rest.count("<tr><td") == 15 and "r24c0" in rest


def test_a_wide_table_can_become_cards_each_value_under_its_column_name():
    html = render_report(_result_with_table(rows=3, columns=6))
    assert '<table class="wide">' in html and "<details>" not in html
    assert '<td data-label="Column 5">r2c5</td>' in html
    narrow = render_report(_result_with_table(rows=3, columns=2))
    assert '<table class="narrow">' in narrow


def test_chart_text_is_text_and_never_smaller_than_the_legible_size():
    from smbml_connect import charts

    svg = charts.bar_chart(["A cluster with a very long descriptive name", "B"], [3, 4], "T", "n")
    sizes = [float(s) for s in re.findall(r"<text style=\"font-size: ([\d.]+)px", svg)]
    assert sizes and min(sizes) >= 10
    # the long label wraps: the chart stays about 5 inches (360 pt) wide, so a phone
    # shrinks it (and its text) by a tenth, not by half
    width = float(re.search(r'viewBox="0 0 ([\d.]+)', svg).group(1))
    assert width <= 450


@pytest.fixture(scope="module")
def demo_report(demo_dir: Path) -> Path:
    return demo_dir / "report.html"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip(
            "Chromium is not installed (apt-get install chromium): report layout not measured"
        )
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        opened = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield opened
        opened.close()


def _page(browser: Any, report: Path, width: int) -> Any:
    page = browser.new_page(viewport={"width": width, "height": 844 if width < 600 else 900})
    page.goto(report.as_uri())
    return page


def _keep_screenshot(page: Any, path: Path) -> None:
    """A picture of the page for people to look at; the test checks the measurements, not
    it. Headless Chromium now and then answers "Unable to capture screenshot" for a full
    tall page on a busy machine (once in four clean-clone runs at stop 39), so it is tried
    twice and then only reported."""
    from playwright.sync_api import Error

    for attempt in range(2):
        try:
            page.screenshot(path=str(path), full_page=True)
            return
        except Error as error:
            if attempt:
                warnings.warn(f"screenshot {path.name} not saved: {error}", stacklevel=2)


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
def test_no_table_overflows_its_section_and_no_cell_is_a_word_wide(
    browser: Any, demo_report: Path, width: int
):
    page = _page(browser, demo_report, width)
    found = page.evaluate(MEASURE)
    shots = Path(os.environ.get("SMBML_SCREENSHOTS", demo_report.parent))
    shots.mkdir(parents=True, exist_ok=True)
    _keep_screenshot(page, shots / f"report-{width}px.png")
    page.close()
    assert found["page"] <= found["viewport"]  # the page never scrolls sideways
    assert found["tables"]
    for table in found["tables"]:
        assert found["left"] - 1 <= table["left"] and table["right"] <= found["right"] + 1, table
        assert table["width"] <= table["box"] + 1, table  # fits: no sideways scrolling needed
        if width < 600 and table["kind"] == "wide":  # a card: each value has the whole line
            assert table["narrowest"] >= 0.8 * table["box"], table
        else:
            assert table["narrowest"] >= 40, table


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
def test_chart_text_is_legible(browser: Any, demo_report: Path, width: int):
    page = _page(browser, demo_report, width)
    smallest = page.evaluate(MEASURE)["text"]
    page.close()
    assert len(smallest) >= 10  # every section's charts
    assert min(smallest) >= SMALLEST_TEXT_PX, smallest


@pytest.mark.slow
def test_long_lists_show_their_top_rows_and_sections_stay_short_on_a_phone(
    browser: Any, demo_report: Path
):
    page = _page(browser, demo_report, 390)
    sections = dict(page.evaluate(MEASURE)["sections"])
    assert max(sections.values()) <= TALLEST_SECTION_PX, sections
    for title in ("Prices", "Deals and pipeline"):
        found = page.evaluate(SECTION_LIST, title)
        assert found["shown"] == 10 and found["hidden"] > 0, (title, found)
        rest = page.locator(f"#{found['id']}")
        assert not rest.locator("tbody tr").first.is_visible(), title
        rest.locator("summary").click()
        assert rest.locator("tbody tr").first.is_visible(), title
    page.close()


# Every chart's text: which tick labels of one axis overlap, which text runs outside its
# picture (the browser cuts it there), all the text (an offset such as "1e6" is a text).
TICKS = """() => [...document.querySelectorAll('figure svg')].map((svg) => {
  const box = svg.getBoundingClientRect(), out = (r) => r.left < box.left - 0.5
    || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5;
  const texts = [...svg.querySelectorAll('text')].map((t) => [t.textContent, t.getBoundingClientRect()]);
  const overlaps = [];
  for (const group of svg.querySelectorAll('g[id^="matplotlib.axis_"]')) {
    const ticks = [...group.querySelectorAll('g[id*="tick_"] text')]  // slanted dates: their
      .filter((t) => !parseFloat((/rotate\\(([-\\d.]+)/.exec(t.getAttribute('transform')) || [0, 0])[1]))
      .map((t) => [t.textContent, t.getBoundingClientRect()]).filter(([s, r]) => s && r.width);
    ticks.forEach(([a, r], i) => ticks.slice(i + 1).forEach(([b, q]) => {
      if (r.left < q.right - 0.5 && q.left < r.right - 0.5 && r.top < q.bottom - 0.5
          && q.top < r.bottom - 0.5) overlaps.push(a + ' / ' + b);
    }));
  }
  return {texts: texts.map(([s]) => s), clipped: texts.filter(([, r]) => out(r)).map(([s]) => s),
          overlaps};
})"""


def _yen_charts_report(folder: Path) -> Path:
    """A yen shop's charts as its report draws them: revenue per month in the millions,
    spend per customer up to ¥140,000, demand curves with prices up to ¥5,000."""
    from datetime import date

    import numpy as np

    from smbml_connect import charts

    rng = np.random.default_rng(7)
    months = [date(2024 + (m // 12), m % 12 + 1, 1) for m in range(10, 34)]
    revenue = [float(v) for v in 900_000 + 300_000 * rng.random(24)]
    ahead = [date(2026, m, 1) for m in range(11, 13)] + [date(2027, m, 1) for m in range(1, 11)]
    expected = [1_050_000.0 + 10_000 * i for i in range(12)]
    bands = [("80% range", [e * 0.8 for e in expected], [e * 1.2 for e in expected])]
    spend = [float(v) for v in rng.gamma(2.0, 20_000.0, 60)] + [140_000.0]
    curve = {"label": "Ceramic Mug", "prices": [2800.0, 3400.0, 4000.0, 4600.0, 5000.0],
             "units": [9.0, 8.0, 6.5, 5.0, 4.0], "low": [7.0, 6.0, 5.0, 4.0, 3.0],
             "high": [11.0, 10.0, 8.0, 6.5, 5.5], "current": (3790.0, 6.8),
             "suggested": (4000.0, 6.5), "limits": (3400.0, 4170.0)}  # fmt: skip
    figures = [
        charts.forecast_chart(months, revenue, ahead, expected, bands, "Revenue per month", "JPY"),
        charts.histogram(spend, "Expected spend per customer, next 12 months", "JPY"),
        charts.demand_curves([curve, {**curve, "label": "Sencha"}], "Demand curves", "units"),  # type: ignore[list-item]
    ]
    result = RunResult(run_id=1, as_of=pd.Timestamp("2026-10-31", tz="UTC"), source="files")
    result.currency = "JPY"
    result.steps["s"] = StepResult(sections=[ReportSection("Charts", [], figures, None)])
    path = folder / "report.html"
    path.write_text(render_report(result), encoding="utf-8")
    return path


@pytest.mark.slow
def test_chart_numbers_are_grouped_and_tick_labels_neither_overlap_nor_clip(
    browser: Any, tmp_path: Path
):
    """At 390 px a yen shop's forecast axis read "0.00 ... 1.25" under a detached "1e6",
    the spend histogram's "100000120000140000" ran together and the demand curve's last
    price "5000" was cut to "500" (find52_money item 6)."""
    page = _page(browser, _yen_charts_report(tmp_path), 390)
    found = page.evaluate(TICKS)
    page.close()
    assert len(found) == 3
    problems = [
        (i, what, chart[what])
        for i, chart in enumerate(found)
        for what in ("overlaps", "clipped")
        if chart[what]
    ]
    offsets = [t for c in found for t in c["texts"] if re.search(r"\de[+\-\u2212]?\d|\u00d710", t)]
    assert not problems and not offsets, (problems, offsets)
    forecast, spend, demand = (chart["texts"] for chart in found)
    assert "1,000,000" in forecast
    assert any(re.fullmatch(r"1\d0,000", t) for t in spend), spend
    assert "5,000" in demand or "4,000" in demand, demand


def _pipeline_months(n: int, first: int = 2025 * 12 + 10, skip: tuple[int, ...] = ()) -> list[str]:
    """Close months as the pipeline forecast names them ("2025-11"), ``skip`` left out."""
    return [f"{m // 12}-{m % 12 + 1:02d}" for m in range(first, first + n) if m - first not in skip]


def test_pipeline_month_labels_fit_turn_or_thin_by_the_room_they_have():
    """The pipeline chart's "2025-112025-122026-02..." ran together under seven bars (and
    skipped January, which had no deal, without a mark); a full year would be worse."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from smbml_connect.charts import _PLAIN_TEXT, _band_figure, period_ticks

    places, words, angle = period_ticks(_pipeline_months(8, skip=(2,)), 280.0)
    assert angle == 0 and places == [float(i) for i in range(8)]
    assert words == ["Nov\n2025", "Dec", "Jan\n2026", "Feb", "Mar", "Apr", "May", "Jun"]
    _, words, angle = period_ticks(_pipeline_months(12), 280.0)
    assert angle == 45 and words[0] == "Nov 2025" and all(words)
    _, words, angle = period_ticks(_pipeline_months(40), 280.0)
    assert angle == 45 and words[0] == "Nov 2025" and 0 < sum(map(bool, words)) < 40
    _, words, angle = period_ticks(["Won", "Open"], 280.0)  # not months: as given
    assert (words, angle) == (["Won", "Open"], 0)
    for n in (3, 7, 12, 24, 40):  # as matplotlib draws them: no two named ticks touch
        labels = _pipeline_months(n, skip=(1,) if n > 3 else ())
        values = [1000.0 + 50 * i for i in range(len(labels))]
        with rc_context(_PLAIN_TEXT):  # as band_chart draws it
            figure = _band_figure(labels, values, [v * 0.7 for v in values],
                                  [v * 1.2 for v in values], "Pipeline", "$")  # fmt: skip
            renderer = FigureCanvasAgg(figure).get_renderer()
            named = [t for t in figure.axes[0].get_xticklabels() if t.get_text()]
            boxes = [t.get_window_extent(renderer) for t in named]
        for a, b, p, q in zip(named, named[1:], boxes, boxes[1:], strict=False):
            if a.get_rotation():  # slanted lines: apart, across them, by more than a line
                across = (q.x1 - p.x1) * np.sin(np.radians(45))
                assert across >= 1.1 * a.get_fontsize() * figure.dpi / 72, (n, a.get_text())
            else:
                assert p.x1 <= q.x0, (n, a.get_text(), b.get_text())


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
def test_pipeline_chart_month_labels_do_not_run_together(browser: Any, tmp_path: Path, width: int):
    """Seven close months, January without a deal, as a yen shop's report drew them: the
    labels read "2025-112025-122026-022026-03..." on a desktop and on a phone."""
    from smbml_connect import charts

    labels = _pipeline_months(8, skip=(2,))
    expected = [1_370_000.0, 1_450_000.0, 780_000.0, 1_620_000.0, 1_710_000.0, 880_000.0, 910_000.0]
    figure = charts.band_chart(labels, expected, [e * 0.6 for e in expected],
                               [e * 1.15 for e in expected], "Expected won revenue by close "
                               "month (JPY, 80% range)", "JPY")  # fmt: skip
    result = RunResult(run_id=1, as_of=pd.Timestamp("2025-10-31", tz="UTC"), source="files")
    result.steps["s"] = StepResult(sections=[ReportSection("Deals", [], [figure], None)])
    path = tmp_path / "report.html"
    path.write_text(render_report(result), encoding="utf-8")
    page = _page(browser, path, width)
    (chart,) = page.evaluate(TICKS)
    page.close()
    assert not chart["overlaps"] and not chart["clipped"], chart
    assert {"Nov", "Dec", "Jan", "Feb", "Jun", "2025", "2026"} <= set(chart["texts"]), chart
