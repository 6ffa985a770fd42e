"""The HTML report and the results workbook: what a run found, for people to read.

Both are built from a RunResult, so they always agree with the store. Every piece of
text that came from a source is escaped by Jinja2 in the report and stored as text
(never a formula) in the workbook.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from smbml_connect.column_labels import column_label, yes_no
from smbml_connect.functions import FunctionContext
from smbml_connect.money_words import shown_digits, shown_in
from smbml_connect.period_names import day_words
from smbml_connect.ports import PushReport, RunResult
from smbml_connect.schema import REJECT_COLUMNS, REJECTS_TAB
from smbml_connect.store import Store
from smbml_connect.value_words import reject_files, rejects_for_people, rejects_to_act_on_first
from smbml_connect.whole_files import replaced
from smbml_connect.workbook_extras import add_extras
from smbml_connect.xlsx import build_workbook, prepare_for_print, save_workbook

__all__ = [
    "HtmlReport", "ResultsWorkbook", "held_back", "rejects_file", "render_report", "workbook_sheets",
]  # fmt: skip

_REJECTS_SHOWN = 50
SHEET_ROWS = 1_048_576  # Excel's rows per sheet: more rejects than fit go to a CSV beside it
_REJECTS_TOP = 3  # the note, a blank row, the header
DATA_CHECKS_TAB = "Data checks"


_TOP_ROWS = 10  # a long table shows this many rows; the rest are one tap away
_CARD_COLUMNS = 2  # wider tables turn into one card per row on a narrow screen


def _cell(column: str, value: object) -> str:
    label = escape(column_label(column))
    value = yes_no(value)
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return f'<td data-label="{label}"></td>'
    if isinstance(value, int | float) and not isinstance(value, bool):
        percent = any(word in column for word in ("share", "rate", "probability"))
        money = any(w in column for w in ("price", "amount", "value", "revenue", "profit", "spend"))
        text = (
            f"{value:.0%}"
            if percent
            else f"{value:,.{shown_digits()}f}"
            if money
            else f"{value:,.2f}".rstrip("0").rstrip(".")
        )
        return f'<td class="num" data-label="{label}">{escape(text)}</td>'
    return f'<td data-label="{label}">{escape(str(value))}</td>'


def _rows_table(frame: pd.DataFrame, head: str, kind: str) -> str:
    rows = "".join(
        "<tr>"
        + "".join(_cell(str(c), v) for c, v in zip(frame.columns, row, strict=True))
        + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f'<div class="table"><table class="{kind}"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


def _table_html(frame: pd.DataFrame) -> Markup:
    """The first rows, the rest behind a disclosure; a wide table reads as cards on a phone.

    Every table sits in its own box that scrolls sideways if it must, so no table makes
    the page wider than the screen.
    """
    head = "".join(f"<th>{escape(column_label(c))}</th>" for c in frame.columns)
    kind = "wide" if len(frame.columns) > _CARD_COLUMNS else "narrow"
    html = _rows_table(frame.head(_TOP_ROWS), head, kind)
    rest = frame.iloc[_TOP_ROWS:]
    if len(rest):
        html += (
            f"<details><summary>Show the other {_count(len(rest), 'row')}</summary>"
            f"{_rows_table(rest, head, kind)}</details>"
        )
    return Markup(html)


def _count(n: int, word: str) -> str:
    return f"{n:,} {word if n == 1 else word + 's'}"


def _csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Text Excel would run as a formula when it opens the CSV gets a leading apostrophe."""

    def cell(value: object) -> object:
        text = isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r")
        return f"'{value}" if text else value

    return frame.map(cell)


def _data_checks(result: RunResult) -> pd.DataFrame:
    rows = [(n.check.replace("_", " "), n.table.replace("_", " "), n.count, n.message)
            for n in result.notices]  # fmt: skip
    return pd.DataFrame(rows, columns=["check", "table", "count", "notice"])


def _rejects_sheet(result: RunResult, overflow: str | None) -> tuple[pd.DataFrame, str]:
    """The Rejects tab and its note: the first rows a sheet holds, and where the rest are."""
    rejects = _rejects_in_order(result)
    rejects = rejects_for_people(rejects, REJECT_COLUMNS)
    note = (
        "Rows or values we could not use. 'row rejected': the row was left out (or, where its "
        "reason says so, the version an earlier run read still counts); 'value cleared': "
        "the row was kept without this value; 'row not used': kept in the store but dated after "
        "the run's date. Fix them in the source and run again."
    )
    room = SHEET_ROWS - _REJECTS_TOP
    if len(rejects) > room:
        where = f"{overflow}, beside this workbook," if overflow else "the store"
        note += (
            f" A sheet holds {room:,} of them: {len(rejects) - room:,} more are in {where} "
            f"(`smbml status` counts them)."
        )
        rejects = rejects.head(room)
    return rejects, note


def _rejects_in_order(result: RunResult) -> pd.DataFrame:
    """The rejects with the rows to act on first and skipped rows last, each named by its
    file (or tab) where the source has files, as every list of them shows them."""
    ordered = rejects_to_act_on_first(result.rejects)
    return ordered.assign(source=reject_files(ordered, result.files))


def _shown_words(result: RunResult, shown: int) -> str:
    """How many rejects the report lists, and in which order, and where the rest are."""
    total = len(result.rejects)
    if shown >= total:
        return f"{'it is' if total == 1 else f'all {total:,} are'} shown here."
    skipped = result.rows_skipped
    first = (
        " the rows to act on (rejected, not used, values left empty) first, then the "
        f"{_count(skipped, 'skipped row')};"
        if skipped
        else ""
    )
    return (
        f"the first {shown:,} of {total:,} are shown here,{first} the other {total - shown:,} "
        "are in the Rejects tab and in `smbml status --all-rejects`."
    )


def held_back(result: RunResult) -> list[str]:
    """The skipped lines of steps held back because a table they read did not load: their
    data is there, a file failed, so they are not said to lack data."""
    return [result.skipped_steps[s] for s in result.held_back if s in result.skipped_steps]


def render_report(result: RunResult, title: str = "smbml_connect report") -> str:
    with shown_in(result.currency):  # money columns: no decimals for yen
        return _render_report(result, title)


def _render_report(result: RunResult, title: str) -> str:
    env = Environment(
        loader=PackageLoader("smbml_connect", "templates"),
        autoescape=select_autoescape(["html"]),
    )
    sections = [s for step in result.steps.values() for s in step.sections]
    summary = [line for step in result.steps.values() for line in step.summary]
    loaded = result.loaded
    cards = [(table.replace("_", " "), f"{n:,}") for table, n in loaded.items() if n]
    cards.append((_count(result.rejected_rows, "row").split(" ", 1)[1] + " rejected",
                  f"{result.rejected_rows:,}"))  # fmt: skip
    rejects = _rejects_in_order(result).drop(columns=["row"]).head(_REJECTS_SHOWN)
    rejects_text = (
        f"{_count(result.rejected_rows, 'row')} could not be used and "
        f"{_count(result.cleared_values, 'value')} {'was' if result.cleared_values == 1 else 'were'} "
        "unreadable and left empty (the rest of their row was kept)."
    )
    if result.rows_skipped:
        rejects_text += (
            f" {_count(result.rows_skipped, 'row')} held no record of their table (blank, "
            f"total or heading row{'' if result.rows_skipped == 1 else 's'}, or another kind "
            "of record such as a supplier bill) and "
            f"{'was' if result.rows_skipped == 1 else 'were'} skipped."
        )
    return env.get_template("report.html").render(
        title=title,
        as_of=day_words(result.local_as_of),
        source=result.source,
        run_id=result.run_id,
        cards=cards,
        summary=summary,
        errors=result.errors,
        skipped=[line for line in result.skipped if line not in held_back(result)],
        held_back=held_back(result),
        sections=sections,
        rejects=rejects,
        rejects_total=len(result.rejects),
        rejects_text=rejects_text,
        shown=_shown_words(result, len(rejects)),
        consent_skipped=result.consent_skipped,
        consent_unreadable=result.consent_unreadable,
        notices=[n.message for n in result.notices],
        table_html=_table_html,
    )


def _day(moment: pd.Timestamp) -> pd.Timestamp:
    """The date of ``moment`` without a time zone (a workbook date has none)."""
    stamp = pd.Timestamp(moment)
    return (stamp.tz_localize(None) if stamp.tzinfo else stamp).normalize()


Earlier = Callable[[str], tuple[int, str] | None]  # step -> the run (id, start) of its values


def _not_computed_tabs(
    result: RunResult,
    step: str,
    earlier: Earlier | None,
    sheets: dict[str, pd.DataFrame],
    notes: dict[str, str],
) -> None:
    """The workbook tabs of a step that failed or was held back, empty, each with a note
    saying so and which run's values HubSpot and the Excel functions still show: the tabs
    vanished without a word (a Sheets tab says as much, `sheets.result_tabs`)."""
    label = result.labels.get(step) or step.replace("_", " ")
    if step in result.failed:
        why = f"{label} failed: {result.failed[step]}"
    elif step in result.held_back:
        why = f"{label} held back: {result.held_back[step]}"
    else:
        return  # skipped or not enabled: the Summary says so; HubSpot no longer shows it
    filled = earlier(step) if earlier is not None else None
    kept = (
        f"; the values run {filled[0]} computed on {pd.Timestamp(filled[1]):%Y-%m-%d} are "
        "kept: the Excel functions, and HubSpot where the run writes to it, still show them"
        if filled
        else ""
    )
    for tab in result.declared[step].tabs:
        if tab.workbook and tab.title not in sheets:
            sheets[tab.title] = pd.DataFrame(columns=list(tab.columns))
            notes[tab.title] = f"Not computed this run: {why.rstrip('. ')}{kept}."


def workbook_sheets(
    result: RunResult, overflow: str | None = None, earlier: Earlier | None = None
) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """A Summary tab, Data checks, every step's tabs, then Rejects (always present).

    ``overflow`` names the CSV that holds every reject when there are more than a sheet holds.
    ``earlier`` finds the run whose values of a step that failed this run are still shown.
    """
    held = held_back(result)
    # Values are numbers and dates (formatted by the workbook), so they sum and sort.
    summary_rows: list[tuple[str, object]] = [
        ("Data up to", _day(result.local_as_of)),
        ("Dates and times on the clock of", result.zone.words),
        ("Source", result.source),
        ("Run", result.run_id),
        *((f"{t.replace('_', ' ')} loaded", int(n)) for t, n in result.loaded.items()),
        ("Rows rejected", int(result.rejected_rows)),
        *(
            [("Rows skipped (blank, total, heading; other records)", int(result.rows_skipped))]
            if result.rows_skipped
            else []
        ),
        ("Data checks with findings", len(result.notices)),
        ("Values left empty", int(result.cleared_values)),
        ("Contacts opted out (not scored)", int(result.consent_skipped)),
        ("of them: consent value unreadable", int(result.consent_unreadable)),
        *(("Finding", line) for step in result.steps.values() for line in step.summary),
        *(("Problem", line) for line in result.errors),
        *(("Held back" if line in held else "Skipped", line) for line in result.skipped),
    ]
    sheets: dict[str, pd.DataFrame] = {
        "Summary": pd.DataFrame(summary_rows, columns=["item", "value"]),
        DATA_CHECKS_TAB: _data_checks(result),
    }
    notes: dict[str, str] = {
        DATA_CHECKS_TAB: "What the data checks found: each row says what was kept, counted or "
        "left out."
        if result.notices
        else "The data checks found nothing to report."
    }
    declared = result.tabs()
    for name in [*result.declared, *(s for s in result.steps if s not in result.declared)]:
        step = result.steps.get(name)
        if step is None:
            _not_computed_tabs(result, name, earlier, sheets, notes)
            continue
        for title, frame in step.sheets.items():
            if title not in declared or declared[title].workbook:
                sheets[title] = frame
                if title in step.notes:
                    notes[title] = step.notes[title]
    sheets[REJECTS_TAB], notes[REJECTS_TAB] = _rejects_sheet(result, overflow)
    return sheets, notes


def rejects_file(workbook: Path) -> Path:
    """Where the rejects go when more than a tab holds: a CSV beside the workbook."""
    return workbook.with_name(f"{workbook.stem}-rejects.csv")


@dataclass
class ResultsWorkbook:
    """Destination: the results workbook (an .xlsx the user opens in Excel)."""

    path: Path
    name: str = "results workbook"

    def publish(self, result: RunResult, store: Store) -> PushReport:
        overflow = None
        if len(result.rejects) > SHEET_ROWS - _REJECTS_TOP:
            overflow = rejects_file(self.path)
            # CRLF as Excel writes them; a field holding a bare CR is then quoted (with LF
            # ends it was not, and Excel, which ends a row at a CR too, read what followed
            # it as a new row's first cell: "'\r=1+1" ran =1+1).
            with replaced(overflow) as temporary:
                _csv_safe(result.rejects).to_csv(temporary, index=False, lineterminator="\r\n")
        sheets, notes = workbook_sheets(
            result, overflow.name if overflow else None, store.last_filled
        )
        tabs = result.tabs()
        formats = {title: tab.formats for title, tab in tabs.items() if tab.formats}
        with shown_in(result.currency):
            workbook, placed = build_workbook(sheets, notes, formats)
            add_extras(workbook, placed, sheets, FunctionContext(store_path=store.path), tabs)
        prepare_for_print(workbook, {sheet.title: top for sheet, top in placed.values()})
        save_workbook(workbook, self.path)
        return PushReport(destination=str(self.path), written=sum(len(f) for f in sheets.values()))


@dataclass
class HtmlReport:
    """Destination: the HTML report, one self-contained file with inline charts."""

    path: Path
    name: str = "HTML report"

    def publish(self, result: RunResult, store: Store) -> PushReport:
        text = render_report(result)
        with replaced(self.path) as temporary:  # whole or not at all, like the workbook
            temporary.write_text(text, encoding="utf-8")
        return PushReport(destination=str(self.path), written=1)
