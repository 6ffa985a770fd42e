"""The HTML report and the results workbook: what a run found, for people to read.

Both are built from a RunResult, so they always agree with the store. Every piece of
text that came from a source is escaped by Jinja2 in the report and stored as text
(never a formula) in the workbook.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from smbml_connect.functions import FunctionContext
from smbml_connect.ports import PushReport, RunResult
from smbml_connect.schema import REJECT_COLUMNS, REJECTS_TAB
from smbml_connect.store import Store
from smbml_connect.workbook_extras import add_extras
from smbml_connect.xlsx import build_workbook, save_workbook

__all__ = ["HtmlReport", "ResultsWorkbook", "render_report", "workbook_sheets"]

_REJECTS_SHOWN = 50


def _cell(column: str, value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return "<td></td>"
    if isinstance(value, int | float) and not isinstance(value, bool):
        percent = any(word in column for word in ("share", "rate", "probability"))
        text = f"{value:.0%}" if percent else f"{value:,.2f}".rstrip("0").rstrip(".")
        return f'<td class="num">{escape(text)}</td>'
    return f"<td>{escape(str(value))}</td>"


def _table_html(frame: pd.DataFrame) -> Markup:
    head = "".join(f"<th>{escape(str(c).replace('_', ' '))}</th>" for c in frame.columns)
    rows = [
        "<tr>"
        + "".join(_cell(str(c), v) for c, v in zip(frame.columns, row, strict=True))
        + "</tr>"
        for row in frame.itertuples(index=False)
    ]
    return Markup(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def render_report(result: RunResult, title: str = "smbml_connect report") -> str:
    env = Environment(
        loader=PackageLoader("smbml_connect", "templates"),
        autoescape=select_autoescape(["html"]),
    )
    sections = [s for step in result.steps.values() for s in step.sections]
    summary = [line for step in result.steps.values() for line in step.summary]
    loaded = result.loaded
    cards = [(table.replace("_", " "), f"{n:,}") for table, n in loaded.items() if n]
    cards.append(("rows rejected", f"{result.rejected_rows:,}"))
    rejects = result.rejects.drop(columns=["row"]).head(_REJECTS_SHOWN)
    rejects_text = (
        f"{result.rejected_rows:,} rows could not be used and {result.cleared_values:,} values "
        "were unreadable and left empty (the rest of their row was kept)."
    )
    return env.get_template("report.html").render(
        title=title,
        as_of=f"{result.as_of:%d %B %Y}",
        source=result.source,
        run_id=result.run_id,
        cards=cards,
        summary=summary,
        errors=result.errors,
        skipped=result.skipped,
        sections=sections,
        rejects=rejects,
        rejects_total=len(result.rejects),
        rejects_text=rejects_text,
        shown=len(rejects),
        consent_skipped=result.consent_skipped,
        consent_unreadable=result.consent_unreadable,
        table_html=_table_html,
    )


def workbook_sheets(result: RunResult) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """A Summary tab, every step's tabs, then Rejects (always present, even when empty)."""
    summary_rows = [
        ("Data up to", f"{result.as_of:%Y-%m-%d}"),
        ("Source", result.source),
        ("Run", str(result.run_id)),
        *((f"{t.replace('_', ' ')} loaded", f"{n:,}") for t, n in result.loaded.items()),
        ("Rows rejected", f"{result.rejected_rows:,}"),
        ("Values left empty", f"{result.cleared_values:,}"),
        ("Contacts opted out (not scored)", f"{result.consent_skipped:,}"),
        ("of them: consent value unreadable", f"{result.consent_unreadable:,}"),
        *(("Finding", line) for step in result.steps.values() for line in step.summary),
        *(("Problem", line) for line in result.errors),
        *(("Skipped", line) for line in result.skipped),
    ]
    sheets: dict[str, pd.DataFrame] = {
        "Summary": pd.DataFrame(summary_rows, columns=["item", "value"])
    }
    notes: dict[str, str] = {}
    declared = result.tabs()
    for step in result.steps.values():
        for title, frame in step.sheets.items():
            if title not in declared or declared[title].workbook:
                sheets[title] = frame
                if title in step.notes:
                    notes[title] = step.notes[title]
    rejects = result.rejects.reindex(columns=REJECT_COLUMNS).rename(columns={"row": "original row"})
    sheets[REJECTS_TAB] = rejects
    notes[REJECTS_TAB] = (
        "Rows or values we could not use. 'row rejected': the row was left out; 'value cleared': "
        "the row was kept without this value. Fix them in the source and run again."
    )
    return sheets, notes


@dataclass
class ResultsWorkbook:
    """Destination: the results workbook (an .xlsx the user opens in Excel)."""

    path: Path
    name: str = "results workbook"

    def publish(self, result: RunResult, store: Store) -> PushReport:
        sheets, notes = workbook_sheets(result)
        tabs = result.tabs()
        formats = {title: tab.formats for title, tab in tabs.items() if tab.formats}
        workbook, placed = build_workbook(sheets, notes, formats)
        add_extras(workbook, placed, sheets, FunctionContext(store_path=store.path), tabs)
        save_workbook(workbook, self.path)
        return PushReport(destination=str(self.path), written=sum(len(f) for f in sheets.values()))


@dataclass
class HtmlReport:
    """Destination: the HTML report, one self-contained file with inline charts."""

    path: Path
    name: str = "HTML report"

    def publish(self, result: RunResult, store: Store) -> PushReport:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(render_report(result), encoding="utf-8")
        return PushReport(destination=str(self.path), written=1)
