"""A table that fails to load holds back only the steps that read it (find57 item 1).

A damaged order-lines file held back Lead scores and Deal win chances, which never read
order lines, and the report filed them under "Not computed for lack of data".
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from smbml_connect.connectors.sample.source import SampleSource
from smbml_connect.errors import SourceFatalError
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.report import ResultsWorkbook, render_report, workbook_sheets
from smbml_connect.sample import SampleBusiness
from smbml_connect.steps import steps_by_name
from smbml_connect.steps.base import StepContext
from smbml_connect.steps.leads import DEAL_WIN, LEAD_SCORES
from smbml_connect.store import Store

DAMAGED = "order_lines.csv is not text in an encoding smbml reads"


class DamagedLines(SampleSource):
    """The sample with an order-lines file that cannot be read."""

    def pull(self, entity: str, since: str | None = None) -> pd.DataFrame:
        if entity == "order_lines":
            raise SourceFatalError(DAMAGED)
        return super().pull(entity, since)


def test_damaged_order_lines_hold_back_only_the_steps_that_read_them(
    small_business: SampleBusiness, tmp_path: Path
) -> None:
    steps = steps_by_name(["lead_scores", "deal_win", "next_product", "sales_forecast"])
    book = tmp_path / "results.xlsx"
    with Store(tmp_path / "store.sqlite") as store:
        result = run_pipeline(
            DamagedLines(small_business, messy=False),
            store,
            RunOptions(steps=steps, as_of=small_business.as_of),
            [ResultsWorkbook(book)],
        )
    assert "order_lines" in result.incomplete
    assert set(result.held_back) == {"next_product", "sales_forecast"}
    assert not result.errors[1:], result.errors  # the workbook was written
    workbook = openpyxl.load_workbook(book)
    for title in ("Forecast", "Forecast chart", "Lead scores"):
        assert title in workbook.sheetnames
    note = str(workbook["Forecast chart"].cell(row=1, column=1).value)
    assert note.startswith("Not computed this run: Sales forecast held back: order lines")
    assert {"lead_scores", "deal_win"} <= set(result.steps)  # computed, from complete tables
    html = render_report(result)
    held = html.index("Held back because a table did not load:")
    line = html.index("Next best product: held back, order lines did not load")
    assert held < line
    assert "Not computed for lack of data" not in html  # nothing lacked data
    summary = workbook_sheets(result)[0]["Summary"]
    said = summary.loc[summary["value"].astype(str).str.contains("held back"), "item"]
    assert list(said) == ["Held back", "Held back"]


def _without(tables: dict[str, pd.DataFrame], names: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """``tables`` with ``names`` replaced by frames of no rows and no columns: a step that
    read any column of them would fail or change its figures."""
    return {name: pd.DataFrame() if name in names else frame for name, frame in tables.items()}


@pytest.mark.parametrize("step", [LEAD_SCORES, DEAL_WIN], ids=lambda s: s.name)
def test_lead_and_deal_steps_read_no_table_they_do_not_declare(
    small_business: SampleBusiness, step
) -> None:
    """What `reads` leaves out changes nothing the step computes: the declaration is true."""
    assert step.reads is not None
    tables = dict(small_business.tables)
    read = {*step.needs, *step.reads, "contacts"}
    unread = tuple(t for t in ("order_lines", "products", "orders") if t not in read)
    assert "order_lines" in unread
    context = StepContext(as_of=small_business.as_of, currency="USD")
    whole = step.run(tables, context).outputs["scores"]
    bare = step.run(_without(tables, unread), context).outputs["scores"]
    pd.testing.assert_frame_equal(
        whole.drop(columns="scored_at"), bare.drop(columns="scored_at"), check_exact=False
    )


def test_every_table_the_lead_code_names_is_declared_read() -> None:
    """A table the lead and deal code looks up but the steps do not declare is not waited
    for: a pipeline-stages table that failed to load let both run on without it (review57
    item 4). Every table the code names must be in the steps' needs or reads."""
    import re

    root = Path(__file__).resolve().parents[1] / "smbml_connect"
    files = [*sorted((root / "analytics" / "leads").glob("*.py")), root / "steps" / "leads.py"]
    named = {
        m
        for f in files
        for m in re.findall(r'tables(?:\.get\(|\[)"([a-z_]+)"', f.read_text(encoding="utf-8"))
    }
    assert named >= {"deals", "deal_pipeline_stages"}  # the pattern still finds lookups
    declared = set(LEAD_SCORES.needs) | set(LEAD_SCORES.reads or ())
    assert named <= declared, sorted(named - declared)
    assert "orders" not in (DEAL_WIN.reads or ())
    assert {"deal_stages", "deal_pipeline_stages"} <= set(DEAL_WIN.reads or ())
