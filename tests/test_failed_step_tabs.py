"""A step that fails keeps its workbook tabs, each saying why it is empty (find57 item 3).

RFM segments raising an unexpected error took the Segments and Segment summary tabs out
of results.xlsx without a word, and the report's line said "see the log" without naming
the log.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path

import openpyxl
import pandas as pd

from smbml_connect.connectors.sample.source import SampleSource
from smbml_connect.log_file import PrivateLog
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.report import ResultsWorkbook
from smbml_connect.sample import SampleBusiness
from smbml_connect.steps import steps_by_name
from smbml_connect.steps.base import StepContext, StepResult
from smbml_connect.store import Store


def _broken(tables: Mapping[str, pd.DataFrame], context: StepContext) -> StepResult:
    raise ValueError("cannot convert float NaN to integer")  # a bug's shape


def test_a_failed_steps_tabs_stay_empty_with_why_and_the_log_is_named(
    small_business: SampleBusiness, tmp_path: Path
) -> None:
    log_file = tmp_path / "smbml.log"
    handler = PrivateLog(log_file)
    logging.getLogger().addHandler(handler)
    book = tmp_path / "results.xlsx"
    try:
        with Store(tmp_path / "store.sqlite") as store:
            options = RunOptions(steps=steps_by_name(["rfm_segments"]), as_of=small_business.as_of)
            source = SampleSource(small_business, messy=False)
            first = run_pipeline(source, store, options, [ResultsWorkbook(book)])
            assert "Segments" in openpyxl.load_workbook(book).sheetnames
            broken = [dataclasses.replace(s, run=_broken) for s in options.steps]
            second = run_pipeline(
                source, store, dataclasses.replace(options, steps=broken), [ResultsWorkbook(book)]
            )
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    assert second.errors == [f"Customer segments (RFM): unexpected error, details in {log_file}"]
    workbook = openpyxl.load_workbook(book)
    for title in ("Segments", "Segment summary"):
        assert title in workbook.sheetnames
        note = str(workbook[title].cell(row=1, column=1).value)
        assert note.startswith("Not computed this run: Customer segments (RFM) failed: ")
        assert str(log_file) in note
        assert f"the values run {first.run_id} computed on " in note


def test_without_a_log_file_the_line_says_how_to_get_one(
    small_business: SampleBusiness, tmp_path: Path
) -> None:
    files = [h for h in logging.getLogger().handlers if isinstance(h, PrivateLog)]
    for handler in files:  # a log an earlier test's CLI run left, or none
        logging.getLogger().removeHandler(handler)
    try:
        steps = [dataclasses.replace(s, run=_broken) for s in steps_by_name(["rfm_segments"])]
        with Store(tmp_path / "store.sqlite") as store:
            result = run_pipeline(
                SampleSource(small_business, messy=False),
                store,
                RunOptions(steps=steps, as_of=small_business.as_of),
            )
    finally:
        for handler in files:
            logging.getLogger().addHandler(handler)
    assert result.errors == [
        "Customer segments (RFM): unexpected error, no log file was written: run again with "
        "--log-file PATH for the details"
    ]
