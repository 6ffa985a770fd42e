"""Words a user reads after a run: plural agreement and plain names (issue 24, item 14)."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from smbml_connect import pipeline
from smbml_connect.cli import _print_result
from smbml_connect.ports import RunResult
from smbml_connect.report import render_report
from smbml_connect.steps import STEPS, StepContext
from smbml_connect.steps.leads import DEAL_WIN
from smbml_connect.store import Store


def test_one_contact_opted_out_is_said_in_the_singular(capsys: pytest.CaptureFixture[str]):
    result = RunResult(run_id=1, as_of=pd.Timestamp("2026-10-31", tz="UTC"), source="s")
    result.consent_skipped = 1
    _print_result(result, [])
    out = capsys.readouterr().out
    assert "1 contact opted out" in out and "1 contacts" not in out


def test_skipped_analytics_are_named_in_plain_words(store: Store):
    """'Not computed' listed churn_value and deal_win, and tables as order_lines."""
    assert all("_" not in step.label and step.label[0].isupper() for step in STEPS)
    result = RunResult(run_id=1, as_of=pd.Timestamp("2026-10-31", tz="UTC"), source="s")
    tables = {"deals": pd.DataFrame()}
    context = StepContext(as_of=result.as_of)
    pipeline._run_step(DEAL_WIN, tables, context, store, result, set())
    assert result.skipped == ["Deal win chances: no deals data"]


def test_the_report_says_one_contact_opted_out_in_the_singular():
    result = RunResult(run_id=1, as_of=pd.Timestamp("2026-10-31", tz="UTC"), source="s")
    result.consent_skipped = 1
    html = render_report(result)
    assert "1 contact opted out" in html and "1 contacts" not in html


@pytest.fixture
def root_log():
    """The root logger, its handlers as they were put back after the test."""
    import logging

    root = logging.getLogger()
    kept = list(root.handlers)
    yield root
    for handler in root.handlers:
        if handler not in kept:
            root.removeHandler(handler)
            handler.close()
    root.handlers = kept


def test_a_second_log_setup_closes_the_first_log_file(tmp_path, root_log):
    """Dropped unclosed, the first file lingered until garbage collection (a
    ResourceWarning that failed a later test under -W error, found by a review)."""
    import logging

    from smbml_connect.cli import _setup_logging

    _setup_logging(tmp_path / "a.log", verbose=False)
    (first,) = [h for h in root_log.handlers if isinstance(h, logging.FileHandler)]
    _setup_logging(tmp_path / "b.log", verbose=False)
    assert first.stream is None  # closed
    assert first not in root_log.handlers


@pytest.mark.skipif(os.name == "nt", reason="no POSIX mode bits")
def test_the_log_is_readable_by_its_user_only_even_when_it_was_not(tmp_path, root_log):
    """It names customers (a rejected row's e-mail); an older release's log was 0644."""
    import logging

    from smbml_connect.cli import _setup_logging

    old = tmp_path / "old.log"
    old.write_text("before\n")
    old.chmod(0o644)
    rotated = tmp_path / "old.log.1"  # rotated by the older release
    rotated.write_text("older\n")
    rotated.chmod(0o644)
    for path in (tmp_path / "new.log", old):
        _setup_logging(path, verbose=False)
        logging.getLogger("smbml_connect").warning("row 3, email: ann@example.com")
        assert path.stat().st_mode & 0o777 == 0o600
    assert old.read_text().startswith("before\n")  # appended to, not replaced
    assert rotated.stat().st_mode & 0o777 == 0o600
