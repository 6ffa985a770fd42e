"""What makes the results workbook read like a report in Excel: charts, colours, how-to.

Native Excel charts (not pictures) so they stay live when the user edits a value, and
colour scales, wherever a step's tab declares them (a forecast band, bars, the spread of
scores). Charts sit clear of filterable lists: a table that is a chart's data has no
filter (and the chart plots hidden rows too), and a histogram's bins sit on a tab of
their own, away from the list they count. An Instructions tab lists the worksheet functions, with examples computed by the
same registry the add-ins call, next to the inputs they used (from the tabs that declare
themselves as examples).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from openpyxl.chart import AreaChart, BarChart, LineChart, Reference
from openpyxl.chart.legend import LegendEntry
from openpyxl.chart.series import SeriesLabel
from openpyxl.formatting.rule import ColorScaleRule
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.workbook import Workbook

from smbml_connect.analytics.forecast.timeseries import FREQUENCIES
from smbml_connect.column_labels import column_label
from smbml_connect.function_impls import TESTED_HORIZON
from smbml_connect.functions import REGISTRY, FunctionContext, call
from smbml_connect.money_words import money_format, shown_currency
from smbml_connect.period_names import period_words, periods_words
from smbml_connect.ports import (
    LEFT_OUT_PRODUCTS,
    OPENED_WITH_SALES,
    ColourScale,
    Tab,
    WorkbookChart,
)
from smbml_connect.store import STORE_VARIABLE, serve_command, worksheet_store_path

__all__ = ["add_extras"]

Placed = Mapping[str, tuple[Any, int]]
RED, AMBER, GREEN = "F8696B", "FFEB84", "63BE7B"


def _column(sheet: Any, top: int, name: str) -> int | None:
    """Where the column ``name`` sits: the header row shows its plain label."""
    label = column_label(name)
    for cell in sheet[top]:
        if cell.value == label:
            return int(cell.column)
    return None


def _text(sheet: Any, row: int, column: int, value: str, bold: bool = False) -> None:
    cell = sheet.cell(row=row, column=column)
    cell.value = value
    cell.data_type = "s"  # a formula shown as an example stays text
    if bold:
        cell.font = Font(bold=True)


def _plain_lines(chart: LineChart) -> None:
    """Straight segments: a smoothed line would invent values between the months."""
    for series in chart.series:
        series.smooth = False
    chart.smooth = False


def _band_chart(sheet: Any, top: int, frame: pd.DataFrame, spec: WorkbookChart) -> None:
    """Columns as a chart table has them: date, actual, forecast, low, high, range."""
    if not len(frame):
        return
    last = top + len(frame)
    dates = Reference(sheet, min_col=1, min_row=top + 1, max_row=last)
    band = AreaChart()
    band.grouping = "stacked"
    band.add_data(Reference(sheet, min_col=4, min_row=top + 1, max_row=last))
    band.add_data(Reference(sheet, min_col=6, min_row=top + 1, max_row=last))
    floor, width = band.series
    floor.tx = SeriesLabel(v="Lowest likely")  # the band starts at the low end ...
    floor.graphicalProperties.noFill = True
    floor.graphicalProperties.line.noFill = True
    width.tx = SeriesLabel(v="80% range")  # ... and is as tall as the range
    width.graphicalProperties.solidFill = "BDD7EE"
    width.graphicalProperties.line.noFill = True
    lines = LineChart()
    for column, label in ((2, "actual"), (3, "forecast")):
        lines.add_data(Reference(sheet, min_col=column, min_row=top + 1, max_row=last))
        lines.series[-1].tx = SeriesLabel(v=column_label(label))
    lines.series[1].graphicalProperties.line.dashStyle = "dash"
    _plain_lines(lines)
    band.set_categories(dates)
    lines.set_categories(dates)
    band += lines
    band.legend.legendEntry = [LegendEntry(idx=0, delete=True)]  # the invisible floor
    band.legend.position = "b"
    band.title = spec.title
    band.y_axis.title = spec.label
    band.x_axis.number_format = "mmm yy"
    band.height, band.width = 9, 22
    band.visible_cells_only = False  # filtering the table beside it leaves the chart whole
    sheet.add_chart(band, f"H{top}")


def _bar_chart(sheet: Any, top: int, frame: pd.DataFrame, spec: WorkbookChart) -> None:
    names, counts = _column(sheet, top, spec.category), _column(sheet, top, spec.values)
    rows = len(frame)
    if names is None or counts is None or rows == 0:
        return
    chart = BarChart()
    chart.type = "bar"
    chart.add_data(Reference(sheet, min_col=counts, min_row=top, max_row=top + rows),
                   titles_from_data=True)  # fmt: skip
    chart.set_categories(Reference(sheet, min_col=names, min_row=top + 1, max_row=top + rows))
    chart.title = spec.title
    chart.legend = None
    chart.height, chart.width = 9, 16
    chart.visible_cells_only = False
    sheet.add_chart(chart, f"{get_column_letter(sheet.max_column + 2)}{top}")


def _histogram(sheet: Any, top: int, frame: pd.DataFrame, spec: WorkbookChart) -> None:
    """A tab of its own: the bin table (counted here, so it is right without recalculation)
    and its chart, clear of the list, so filtering the list neither hides nor empties it."""
    if spec.values not in frame:
        return
    values = pd.to_numeric(frame[spec.values], errors="coerce").dropna().to_numpy()
    if not len(values):
        return
    edges = np.arange(0, 101, 10)
    counts, _ = np.histogram(np.clip(values, 0, 100), bins=edges)
    workbook = sheet.parent
    chart_sheet = workbook.create_sheet(
        spec.title[:31], index=workbook.sheetnames.index(sheet.title) + 1
    )
    _text(chart_sheet, 1, 1, column_label(f"{spec.values} band"), bold=True)
    _text(chart_sheet, 1, 2, column_label(spec.label), bold=True)
    for i, count in enumerate(counts):
        _text(chart_sheet, 2 + i, 1, f"{edges[i]}-{edges[i + 1] - (1 if i < 9 else 0)}")
        chart_sheet.cell(row=2 + i, column=2, value=int(count)).number_format = "#,##0"
    chart_sheet.column_dimensions["A"].width = 14
    chart = BarChart()
    chart.add_data(Reference(chart_sheet, min_col=2, min_row=1, max_row=1 + len(counts)),
                   titles_from_data=True)  # fmt: skip
    chart.set_categories(Reference(chart_sheet, min_col=1, min_row=2, max_row=1 + len(counts)))
    chart.title = spec.title
    chart.legend = None
    chart.gapWidth = 30
    chart.height, chart.width = 8, 14
    chart_sheet.add_chart(chart, "D1")


_CHARTS = {"band": _band_chart, "bar": _bar_chart, "histogram": _histogram}


def _colour_scale(sheet: Any, top: int, rows: int, spec: ColourScale) -> None:
    low, high = spec.low, spec.high
    col = _column(sheet, top, spec.column)
    if col is None or rows == 0:
        return
    letter = get_column_letter(col)
    first, last = (GREEN, RED) if not spec.high_is_good else (RED, GREEN)
    sheet.conditional_formatting.add(
        f"{letter}{top + 1}:{letter}{top + rows}",
        ColorScaleRule(start_type="num", start_value=low, start_color=first,
                       mid_type="num", mid_value=(low + high) / 2, mid_color=AMBER,
                       end_type="num", end_value=high, end_color=last),
    )  # fmt: skip


def _write_matrix(
    sheet: Any, row: int, col: int, matrix: list[list[Any]], formats: Sequence[str | None] = ()
) -> int:
    """A function's result as the add-in spills it: each column in the number format the
    function declares (a lift of 0.001 as 0.1%, not 0.00), else by its value."""
    for r, values in enumerate(matrix):
        for c, value in enumerate(values):
            cell = sheet.cell(row=row + r, column=col + c)
            if isinstance(value, str):
                _text(sheet, row + r, col + c, value, bold=r == 0)
            else:
                cell.value = value
                declared = formats[c] if c < len(formats) else None
                if declared and value is not None:
                    cell.number_format = declared
                elif isinstance(value, float):
                    cell.number_format = "#,##0.00"
                elif isinstance(value, int) and not isinstance(value, bool):
                    cell.number_format = "#,##0"
    return row + len(matrix)


def _instructions(
    workbook: Workbook, examples: Mapping[str, pd.DataFrame], context: FunctionContext
) -> None:
    sheet = workbook.create_sheet("Instructions", index=1 if workbook.sheetnames else 0)
    sheet["A1"] = "Worksheet functions"
    sheet["A1"].font = Font(bold=True, size=14)
    lines = [
        f"Excel on Windows, Mac or the web: run {_serve(context)}, sideload the manifest it "
        "prints (Excel on the web: Home > Add-ins > More Add-ins > My Add-ins > Upload My "
        "Add-in; Mac and Windows: see the README), enter the pairing code in the SMB ML pane, "
        "then type =SMB.FORECAST(...) and the others below.",
        "Windows desktop with xlwings: `xlwings addin install`, set UDF Modules to "
        "smbml_connect.excel_addin.udfs, Import Functions; the names are SMB_FORECAST and so on"
        + _xlwings_store(context)
        + ".",
        "Each function spills a table with a header row. A problem shows as an Excel error value "
        "(#VALUE!, #N/A) whose message, e.g. 'FORECAST: need at least 8 dates, got 5', "
        "is in the cell's error flag (Office.js), the SMB ML pane and the log.",
    ]
    for i, line in enumerate(lines, start=2):
        _text(sheet, i, 1, line)
    row = len(lines) + 3
    for col, title in enumerate(["function", "xlwings name", "what it does", "spills"], start=1):
        _text(sheet, row, col, title, bold=True)
    for spec in REGISTRY.values():
        row += 1
        _text(sheet, row, 1, f"=SMB.{spec.usage()}")
        _text(sheet, row, 2, spec.xlwings_name)
        _text(sheet, row, 3, spec.help)
        _text(sheet, row, 4, ", ".join(spec.columns))
    row += 2
    _text(sheet, row, 1, "Examples, computed with these functions when this workbook was written",
          bold=True)  # fmt: skip
    row = _forecast_example(sheet, row + 2, examples.get("forecast_history"), context)
    row = _abtest_example(sheet, row + 1, context)
    _lead_example(sheet, row + 1, examples.get("lead_emails"), context)
    for letter, width in zip("ABCDEFGH", (44, 16, 70, 40, 14, 14, 14, 30), strict=True):
        sheet.column_dimensions[letter].width = width


def _serve(context: FunctionContext) -> str:
    """The command whose LEADSCORE_OF reads the store this workbook's examples read."""
    return "`smbml serve`" if context.store_path is None else serve_command(context.store_path)


def _xlwings_store(context: FunctionContext) -> str:
    """Where the xlwings add-in is told this workbook's store, when it would not find it."""
    path = context.store_path
    if path is None or path.resolve() == worksheet_store_path().resolve():
        return ""
    return f" (for LEADSCORE_OF on this workbook's data, set {STORE_VARIABLE} to {path.resolve()})"


def _forecast_example(
    sheet: Any, row: int, table: pd.DataFrame | None, context: FunctionContext
) -> int:
    if table is None or table["actual"].notna().sum() < 8:
        return row
    # every month the Forecast chart tab shows: fewer (two seasons) and the function finds
    # no season, so its forecast would contradict the Forecast tab's for the same months
    history = table.dropna(subset=["actual"])
    ahead = table.loc[table["actual"].isna() & table["forecast"].notna()].iloc[:, 0]
    first, last = row + 1, row + len(history)
    _text(sheet, row, 1, "month", bold=True)
    _text(sheet, row, 2, "revenue", bold=True)
    for i, item in enumerate(history.itertuples(index=False)):
        sheet.cell(row=first + i, column=1, value=item[0].to_pydatetime()).number_format = "yyyy-mm"
        sheet.cell(row=first + i, column=2, value=float(item[1])).number_format = "#,##0"
    formula = f"=SMB.FORECAST(A{first}:A{last}, B{first}:B{last}, 6)"
    _text(sheet, row, 4, formula, bold=True)
    dates = [[d.to_pydatetime()] for d in history.iloc[:, 0]]
    result = call("FORECAST", [dates, [[float(v)] for v in history["actual"]], 6], context)
    if not result.value:
        _text(sheet, row + 1, 4, result.error or "")
        return last + 1
    _text(sheet, row + 1, 3, "gives:")
    end = _write_matrix(sheet, row + 1, 4, result.value, result.formats)
    for r in range(row + 2, end):
        sheet.cell(row=r, column=4).number_format = "yyyy-mm"
        for cell in sheet[r][4:]:  # revenue, in the shop's currency: no yen decimals
            if cell.number_format == "#,##0.00":
                cell.number_format = money_format(shown_currency())
    lines = _example_caveat(table, result.value) if len(ahead) else []
    for i, line in enumerate(lines):  # under the result, where the cells to its right are free
        _text(sheet, end + i, 4, line)
    return max(last, end + len(lines) - 1) + 1


_SAME = 0.01  # the chart tab's figures are rounded to the cent


@dataclass
class _Compared:
    """The example's periods against the Forecast chart tab's: the first period the tab
    forecasts (the one under way), and the periods where the two agree, where only the
    80% range differs (the call's width less the tab's), and where the forecast does."""

    opened: pd.Period
    agree: list[pd.Period] = field(default_factory=list)
    ranges: dict[pd.Period, float] = field(default_factory=dict)
    points: list[pd.Period] = field(default_factory=list)


def _compare(table: pd.DataFrame, spilled: Sequence[Sequence[Any]], freq: str) -> _Compared:
    word = str(table.columns[0])
    ahead = table.loc[table["actual"].isna() & table["forecast"].notna()]
    tab = {
        pd.Timestamp(when).to_period(freq): (float(f), float(lo), float(hi))
        for when, f, lo, hi in zip(ahead[word], ahead["forecast"], ahead["low_80"],
                                   ahead["high_80"], strict=True)
    }  # fmt: skip
    out = _Compared(opened=min(tab))
    for when, f, lo, hi in (row[:4] for row in spilled[1:]):
        period = pd.Timestamp(when).to_period(freq)
        if period not in tab:
            continue
        shown_f, shown_lo, shown_hi = tab[period]
        if abs(float(f) - shown_f) > _SAME:
            out.points.append(period)
        elif abs(float(lo) - shown_lo) > _SAME or abs(float(hi) - shown_hi) > _SAME:
            out.ranges[period] = (float(hi) - float(lo)) - (shown_hi - shown_lo)
        else:
            out.agree.append(period)
    return out


def _example_caveat(table: pd.DataFrame, spilled: Sequence[Sequence[Any]]) -> list[str]:
    """How the example's figures compare with the Forecast chart tab's for the periods both
    show, and why they differ where they do, one sentence a line. The tab's first period
    adds what was already sold in it, when the run is dated inside it (`OPENED_WITH_SALES`:
    a run dated 31 October has nothing of November, and the line had blamed sales that did
    not exist); its ranges are calibrated on every series of the shop's forecast together
    (each product's too), the call's on these totals alone; and a panel may choose its
    method otherwise, or test it over another horizon."""
    word = str(table.columns[0])
    freq = next((f for f, (w, *_) in FREQUENCIES.items() if w == word), "M")
    seen = _compare(table, spilled, freq)
    points = seen.points
    lines = [f"From the complete {word}s above, the history the Forecast chart tab draws."]
    if seen.opened in points and table.attrs.get(OPENED_WITH_SALES):
        # the method's own difference, if any, is said below too
        if points == [seen.opened]:
            points = []
        lines.append(
            f"Unlike the Forecast tab, this call is not told what was already sold in "
            f"{period_words(seen.opened, freq)}, so the two differ for that {word}."
        )
    if seen.agree:
        lines.append(
            f"{_periods(seen.agree, freq)}: the same forecast and 80% range as the Forecast tab."
        )
    if seen.ranges:
        widths = set(np.sign(list(seen.ranges.values())))
        size = "narrower" if widths == {-1} else "wider" if widths == {1} else "different"
        lines.append(
            f"{_periods(list(seen.ranges), freq)}: the Forecast tab's forecast, with a {size} "
            "80% range. This call judges how far off it may be from these totals alone; the "
            "Forecast tab also learns that from how far off its forecasts of each product's "
            "sales were in tests on the past."
        )
    left_out = list(table.attrs.get(LEFT_OUT_PRODUCTS) or [])
    if left_out and (points or seen.ranges):
        named = ", ".join(left_out[:3]) + (
            f" and {len(left_out) - 3} more" if len(left_out) > 3 else ""
        )
        one = len(left_out) == 1
        lines.append(
            f"The Forecast tab leaves out {'1 product' if one else f'{len(left_out)} products'} "
            f"not for sale now ({named}); the history above still holds "
            f"{'its' if one else 'their'} past sales, so this call forecasts "
            f"{'it' if one else 'them'} on and the tab does not."
        )
    if points:
        shown = int(table["forecast"].notna().sum())  # the tab's horizon, its tests' too
        tested = TESTED_HORIZON.get(freq, shown)
        tab_tests, own_tests = (
            (f" and by tests {shown} {word}s ahead", f" and by tests {tested} {word}s ahead")
            if tested != shown
            else ("", "")
        )
        lines.append(
            f"{_periods(points, freq)}: the forecast differs from the Forecast tab's: the tab "
            f"chooses its method with each product's sales in view{tab_tests}, this call from "
            f"these totals alone{own_tests}."
        )
    return lines


def _periods(periods: Sequence[pd.Period], freq: str) -> str:
    """Periods named in runs: 'November 2026 to March 2027', 'May 2026 and July 2026'."""
    ordered = sorted(periods)
    runs: list[list[pd.Period]] = []
    for period in ordered:
        if runs and period == runs[-1][-1] + 1:
            runs[-1].append(period)
        else:
            runs.append([period])
    named = [periods_words(run[0], run[-1], freq) for run in runs]
    text = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
    return text[0].upper() + text[1:]


def _abtest_example(sheet: Any, row: int, context: FunctionContext) -> int:
    inputs = [
        ("conversions A", 120),
        ("visitors A", 1000),
        ("conversions B", 150),
        ("visitors B", 1000),
    ]
    for i, (label, value) in enumerate(inputs):
        _text(sheet, row + i, 1, label)
        sheet.cell(row=row + i, column=2, value=value)
    _text(sheet, row, 4, f"=SMB.ABTEST(B{row}, B{row + 1}, B{row + 2}, B{row + 3})", bold=True)
    result = call("ABTEST", [value for _, value in inputs], context)
    _write_matrix(sheet, row + 1, 4, result.cells, result.formats)
    return row + len(inputs) + 1


def _lead_example(
    sheet: Any, row: int, leads: pd.DataFrame | None, context: FunctionContext
) -> None:
    if leads is None or leads.empty or "email" not in leads or context.store_path is None:
        return
    email = leads["email"].dropna()
    if email.empty:
        return
    _text(sheet, row, 1, "email")
    _text(sheet, row, 2, str(email.iloc[0]))
    _text(sheet, row, 4, f"=SMB.LEADSCORE_OF(B{row})", bold=True)
    result = call("LEADSCORE_OF", [str(email.iloc[0])], context)
    _write_matrix(sheet, row + 1, 4, result.cells, result.formats)


def add_extras(
    workbook: Workbook,
    placed: Placed,
    sheets: Mapping[str, pd.DataFrame],
    context: FunctionContext,
    tabs: Mapping[str, Tab] | None = None,
) -> None:
    """Charts and colour scales the tabs declare, then the Instructions tab."""
    examples: dict[str, pd.DataFrame] = {}
    for title, tab in (tabs or {}).items():
        if title not in placed:
            continue
        sheet, top = placed[title]
        if sheets[title].empty:  # not computed this run (its note says why): nothing to draw
            continue
        if tab.chart is not None:
            _CHARTS[tab.chart.kind](sheet, top, sheets[title], tab.chart)
            if tab.chart.kind != "histogram":  # the table is the chart's data, not a list
                sheet.auto_filter.ref = None
        if tab.colour_scale is not None:
            _colour_scale(sheet, top, len(sheets[title]), tab.colour_scale)
        if tab.example is not None:
            examples[tab.example] = sheets[title]
    _instructions(workbook, examples, context)
