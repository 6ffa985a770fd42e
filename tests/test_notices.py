"""Issue 23, points 7 (second half), 8 and 11: data checks, destinations that fail, wording."""

from __future__ import annotations

import csv
import errno
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from smbml_connect import report
from smbml_connect.cli import cli
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.report import HtmlReport, ResultsWorkbook, render_report
from smbml_connect.steps import steps_by_name

AS_OF = pd.Timestamp("2025-06-01", tz="UTC")
RFM = steps_by_name(["rfm_segments"])


class FrameSource:
    name = "frames"
    incremental = False

    def __init__(self, **frames: pd.DataFrame) -> None:
        self.frames = frames

    def available(self):
        return list(self.frames)

    def pull(self, entity, since=None):
        return self.frames[entity].copy()


def _shop() -> FrameSource:
    """Ten orders: two refunds, one 2030 and one 2199 order, two with no known contact,
    'ten' as a total; one order line with a negative quantity."""
    contacts = pd.DataFrame({"contact_id": ["a", "b", "c"], "email": ["a@x.io", "b@x.io", "c@x"]})
    orders = pd.DataFrame(
        {
            "order_id": [str(i) for i in range(1, 11)],
            "contact_id": ["a", "b", "c", "a", "b", "zz", "", "a", "b", "c"],
            "ordered_at": ["2025-01-05", "2025-02-01", "2025-03-03", "2025-04-04", "2025-05-05",
                           "2025-05-06", "2025-05-07", "2030-01-01", "2199-12-31", "2025-06-01"],
            "total": ["10", "20", "-20", "ten", "15", "12", "8", "99", "99", "30"],
            "status": ["paid", "refunded", "refunded", "paid", "paid", "paid", "paid", "paid",
                       "paid", "paid"],
        }
    )  # fmt: skip
    lines = pd.DataFrame(
        {
            "order_id": ["1", "2", "5", "8"],
            "line_no": ["1", "1", "1", "1"],
            "product_id": ["p", "p", "p", "p"],
            "quantity": ["1", "-2", "3", "1"],
            "unit_price": ["10", "10", "5", "99"],
        }
    )
    return FrameSource(contacts=contacts, orders=orders, order_lines=lines)


def _by_check(result) -> dict[str, int]:
    return {n.check: n.count for n in result.notices}


def test_data_checks_count_exactly_and_future_rows_are_not_used(store):
    seen: dict[str, pd.DataFrame] = {}

    def spy(tables, context):
        seen.update(tables)
        from smbml_connect.steps import StepResult

        return StepResult()

    from smbml_connect.steps import Step

    step = Step("spy", needs=(), personal=False, run=spy)
    result = run_pipeline(_shop(), store, RunOptions(steps=[step], as_of=AS_OF))
    assert result.status == "ok"
    assert result.loaded == {"contacts": 3, "orders": 10, "order_lines": 4}  # all kept in store
    assert _by_check(result) == {
        "future_dates": 2,  # 2030 and 2199; 2025-06-01 is the run's day and is fine
        "not_sales": 2,  # two refunded (one of them also negative)
        "negative_quantities": 1,
        "unmatched_credits": 1,  # c's refund of 20 came before any sale of c's
        "unknown_contacts": 2,  # 'zz' and an empty contact id
        "text_in_numbers": 1,  # total 'ten'
        "sales_without_amount": 1,  # the same order: a sale of no amount, in no money figure
    }
    assert sorted(seen["orders"]["order_id"]) == sorted(["1", "2", "3", "4", "5", "6", "7", "10"])
    assert "8" not in set(seen["order_lines"]["order_id"])  # the lines of a future order too
    future = result.rejects[result.rejects["action"] == "row not used"]
    assert len(future) == 2 and set(future["column"]) == {"ordered_at"}
    assert {json.loads(r)["order_id"] for r in future["row"]} == {"8", "9"}
    assert all(
        "dated after 00:00 UTC on 1 June 2025 (the run's time)" in r for r in future["reason"]
    )
    assert result.rejected_rows == 2  # the two future orders; 'ten' only cleared a value
    saved = store.rejects(result.run_id)
    assert (saved["action"] == "row not used").sum() == 2
    counts = json.loads(store.runs(1)["counts"].iloc[0])
    assert [n["check"] for n in counts["notices"]] == [n.check for n in result.notices]


def test_deals_naming_a_contact_not_loaded_are_counted():
    """A HubSpot deals export beside a Shopify customer list: its 3,000 deals named the
    record ids of a contacts export set aside, and no data check said so."""
    from smbml_connect.data_checks import check_data

    tables = {
        "contacts": pd.DataFrame({"contact_id": ["C1", "C2"]}),
        "deals": pd.DataFrame(
            {"deal_id": ["d1", "d2", "d3", "d3", "d4"],
             "contact_id": ["C1", "901", "902", "902", None]}
        ),
    }  # fmt: skip
    notices = check_data(tables, pd.Timestamp("2026-06-01", tz="UTC"), pd.DataFrame()).notices
    said = [n for n in notices if n.check == "unknown_deal_contacts"]
    assert [(n.table, n.count) for n in said] == [("deals", 2)]  # d3 once; d4 names no one
    assert said[0].message.startswith("2 deals name a contact that is not among the contacts")
    tables["deals"] = tables["deals"].iloc[:2]
    one = check_data(tables, pd.Timestamp("2026-06-01", tz="UTC"), pd.DataFrame()).notices
    assert [n.message[:40] for n in one if n.check == "unknown_deal_contacts"] == [
        "1 deal names a contact that is not among"
    ]


def test_refunds_and_negative_quantities_are_not_sales():
    from smbml_connect.analytics.forecast.sales_series import sales_series

    orders = pd.DataFrame(
        {
            "order_id": ["1", "2", "3"],
            "ordered_at": pd.to_datetime(["2025-01-05", "2025-01-06", "2025-02-07"], utc=True),
            "total": [10.0, -4.0, 20.0],
            "status": ["paid", "paid", "paid"],
        }
    )
    lines = pd.DataFrame(
        {"order_id": ["1", "3", "3"], "line_no": [1, 1, 2], "product_id": ["p", "p", "q"],
         "quantity": [1.0, 2.0, -1.0], "unit_price": [10.0, 10.0, 5.0], "discount": [0.0] * 3}
    )  # fmt: skip
    sales = sales_series(orders, lines, pd.Timestamp("2025-03-15", tz="UTC"))
    frame = sales.frame.set_index(["unique_id", "ds"])["y"]
    assert frame[("revenue:total", pd.Timestamp("2025-01-01"))] == 10.0  # not 10 - 4
    assert frame[("units:total", pd.Timestamp("2025-02-01"))] == 2.0  # not 2 - 1
    assert any("negative total" in n for n in sales.notes)
    assert any("negative quantity" in n for n in sales.notes)
    from smbml_connect.analytics.customers.segments import rfm_table
    from smbml_connect.analytics.customers.value import daily_purchases

    orders["contact_id"] = "a"
    as_of = pd.Timestamp("2025-03-15", tz="UTC")
    assert rfm_table(orders, as_of)["frequency"].tolist() == [2]  # the refund is no purchase
    # ... but its money is taken off the sale before it: the customer's revenue is net.
    assert daily_purchases(orders, as_of)["value"].sum() == 26.0


def test_data_that_ends_long_before_as_of_is_said_not_forecast_as_zero(store):
    dates = pd.date_range("2023-01-01", "2024-06-30", freq="5D")
    orders = pd.DataFrame(
        {"order_id": [str(i) for i in range(len(dates))], "contact_id": "a",
         "ordered_at": dates.strftime("%Y-%m-%d"), "total": "10"}
    )  # fmt: skip
    source = FrameSource(contacts=pd.DataFrame({"contact_id": ["a"]}), orders=orders)
    as_of = pd.Timestamp("2025-06-01", tz="UTC")
    result = run_pipeline(source, store, RunOptions(steps=steps_by_name(["sales_forecast"]),
                                                    as_of=as_of))  # fmt: skip
    stale = [n for n in result.notices if n.check == "data_ends_early"]
    assert len(stale) == 1 and stale[0].count == 337  # 2024-06-29 -> 2025-06-01
    assert "2024-06-29" in stale[0].message
    assert "sales_forecast" not in result.steps
    (line,) = [s for s in result.skipped if s.startswith("Sales forecast")]
    assert "orders end on 2024-06-29" in line and "expected" not in line
    html = render_report(result)
    assert "Data checks" in html and "2024-06-29" in html and "$0" not in html


class Broken:
    name = "results workbook"

    def __init__(self, error: OSError) -> None:
        self.error = error

    def publish(self, result, store):
        raise self.error


def test_a_destination_that_fails_is_reported_and_the_others_still_written(store, tmp_path):
    html = HtmlReport(tmp_path / "report.html")
    disk_full = Broken(OSError(errno.ENOSPC, "No space left on device", "/x/results.xlsx"))
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    cannot = ResultsWorkbook(blocked / "results.xlsx")  # the 'folder' is a file
    result = run_pipeline(
        _shop(), store, RunOptions(steps=RFM, as_of=AS_OF), [disk_full, cannot, html]
    )
    assert result.status == "partial"
    assert html.path.exists()
    assert [p.destination for p in result.pushes] == [str(html.path)]
    assert result.errors[0] == (
        "results workbook not written: the disk is full (free some space) (/x/results.xlsx)"
    )
    assert result.errors[1].startswith("results workbook not written: ")
    assert "a-file" in result.errors[1]
    assert store.runs(1)["status"].iloc[0] == "partial"


def test_cli_run_with_an_unwritable_results_path_exits_1_with_one_line(tmp_path):
    (tmp_path / "orders.csv").write_text("Order ID,Customer,Date,Total\n1,c1,2025-01-05,10\n")
    (tmp_path / "taken").write_text("")
    (tmp_path / "smbml.toml").write_text(
        '[source]\nkind = "files"\npath = "orders.csv"\ntables = { orders = "orders.csv" }\n'
        "[analytics]\nas_of = 2025-02-01\n"
        '[[destinations]]\nkind = "workbook"\npath = "taken/results.xlsx"\n'
        '[[destinations]]\nkind = "report"\npath = "report.html"\n'
    )
    result = CliRunner().invoke(
        cli,
        ["--log-file", str(tmp_path / "log.txt"), "run", "-c", str(tmp_path / "smbml.toml"),
         "--store", str(tmp_path / "s.sqlite"), "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    problems = [line for line in result.output.splitlines() if line.startswith("problem:")]
    assert len(problems) == 1 and "results workbook not written" in problems[0]
    assert "unexpected" not in result.output
    assert (tmp_path / "report.html").exists()
    assert f"Wrote {(tmp_path / 'report.html').resolve()}" in result.output


def test_more_rejects_than_a_sheet_holds(store, tmp_path, monkeypatch):
    monkeypatch.setattr(report, "SHEET_ROWS", 10)  # room for 7 rejects under note and header
    orders = pd.DataFrame(
        {"order_id": [str(i) for i in range(20)], "ordered_at": "not a date", "total": "1"}
    )
    orders.loc[0, "ordered_at"] = "2025-01-01"
    orders.loc[1, "total"] = '=HYPERLINK("x")'
    orders.loc[1, "ordered_at"] = "2025-01-02"
    path = tmp_path / "out" / "results.xlsx"
    result = run_pipeline(
        FrameSource(orders=orders), store, RunOptions(steps=[], as_of=AS_OF),
        [ResultsWorkbook(path), HtmlReport(tmp_path / "out" / "report.html")],
    )  # fmt: skip
    assert result.status == "ok" and len(result.rejects) == 19
    sheet = load_workbook(path)["Rejects"]
    rows = list(sheet.iter_rows(min_row=4, values_only=True))
    assert len(rows) == 7
    assert "12 more are in results-rejects.csv" in sheet["A1"].value
    with (tmp_path / "out" / "results-rejects.csv").open(newline="") as handle:
        saved = list(csv.DictReader(handle))
    assert len(saved) == 19
    assert any(r["value"] == '\'=HYPERLINK("x")' for r in saved)  # text, not a formula
    assert (tmp_path / "out" / "report.html").exists()


# -- wording --------------------------------------------------------------------------
def test_a_skipped_table_is_not_a_rejected_row_and_source_row_is_not_named(store):
    source = FrameSource(
        orders=pd.DataFrame({"order_id": ["1"], "ordered_at": ["2025-01-01"]}),
        contacts=pd.DataFrame({"email": ["a@x.io"], "_source_row": [2]}),  # no contact_id
    )
    result = run_pipeline(source, store, RunOptions(steps=[], as_of=AS_OF))
    assert result.status == "partial"
    assert result.rejected_rows == 0 and result.skipped_tables == 1
    assert "_source_row" not in " ".join(result.errors)
    assert "columns present: email" in result.errors[0]


def _run_cli(tmp_path: Path, files: dict[str, str]) -> tuple[int, str]:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = CliRunner().invoke(
        cli,
        ["--log-file", str(tmp_path / "log.txt"), "run", "-c", str(tmp_path / "smbml.toml"),
         "--store", str(tmp_path / "s.sqlite"), "--quiet"],
    )  # fmt: skip
    return result.exit_code, result.output


def test_an_empty_file_says_nothing_loaded(tmp_path):
    _, output = _run_cli(
        tmp_path,
        {"orders.csv": "Order ID,Date,Total\n",
         "smbml.toml": '[source]\nkind = "files"\npath = "orders.csv"\ntables = { orders = "orders.csv" }\n'},
    )  # fmt: skip
    assert "Loaded ." not in output and "Nothing loaded." in output, output


def test_status_of_good_runs_has_no_nan_and_plurals(tmp_path, store):
    run_pipeline(_shop(), store, RunOptions(steps=RFM, as_of=AS_OF))
    result = CliRunner().invoke(
        cli, ["--log-file", str(tmp_path / "log.txt"), "status", "--store", str(store.path)]
    )
    assert result.exit_code == 0, result.output
    assert "nan" not in result.output and "problem:" not in result.output
    assert "2 rows rejected, 2 values left empty, 0 contacts opted out" in result.output
    assert "data checks:" in result.output
    assert "2 orders dated after 00:00 UTC on 1 June 2025 (the run's time)" in result.output
    assert re.search(r"frames +3 +email", result.output)  # a row number, not 3.0


def test_status_keeps_long_rejected_lines_to_a_readable_width(tmp_path, store):
    run_pipeline(_shop(), store, RunOptions(steps=[], as_of=AS_OF))
    long = store.rejects(1).iloc[[0]].assign(value="x" * 300, reason="a damaged line")
    store.add_rejects(1, long.reset_index(drop=True))
    shown = CliRunner().invoke(
        cli, ["--log-file", str(tmp_path / "log.txt"), "status", "--store", str(store.path)]
    )
    assert shown.exit_code == 0, shown.output
    table = shown.output.split("Rejects of run 1", 1)[1].splitlines()[1:]
    assert table and max(map(len, table)) < 260  # the 300-character value is cut, not padded


def test_status_piped_into_head_ends_quietly(tmp_path, store):
    for _ in range(3):
        run_pipeline(_shop(), store, RunOptions(steps=[], as_of=AS_OF))
    store.add_rejects(1, store.rejects(1).iloc[[0] * 5000].reset_index(drop=True))
    command = (
        f"{sys.executable} -m smbml_connect --log-file {tmp_path / 'log.txt'} status -n 50 "
        f"--store {store.path} | head -n 2"
    )
    done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    assert done.stderr == "", done.stderr
    assert done.stdout.startswith("Store: ")


def test_run_piped_into_head_ends_quietly(tmp_path):
    command = (
        f"{sys.executable} -m smbml_connect --log-file {tmp_path / 'log.txt'} demo --quiet "
        f"--contacts 60 --out {tmp_path} | head -n 1"
    )
    done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0
    assert done.stderr == "", done.stderr
    assert done.stdout.startswith("Loaded ")


@pytest.mark.parametrize(
    ("rows", "cleared", "words"),
    [(1, 1, "1 row could not be used and 1 value was unreadable"),
     (3, 2, "3 rows could not be used and 2 values were unreadable")],
)  # fmt: skip
def test_rejected_rows_plural_in_report(rows, cleared, words):
    from smbml_connect.ports import RunResult

    result = RunResult(run_id=1, as_of=AS_OF, source="x")
    actions = ["row rejected"] * rows + ["value cleared"] * cleared
    result.rejects = pd.DataFrame(
        {"table": "orders", "source": "x", "source_row": range(1, len(actions) + 1),
         "column": "total", "value": "?", "reason": "r", "action": actions, "row": "{}"}
    )  # fmt: skip
    html = render_report(result)
    assert words in html
    assert ("<b>1</b>row rejected" in html) == (rows == 1)


def test_scores_on_data_that_ends_early_say_so(store):
    rng = np.random.default_rng(1)
    dates = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 545, 600), unit="D")
    orders = pd.DataFrame(
        {"order_id": [str(i) for i in range(600)],
         "contact_id": [f"c{i}" for i in rng.integers(0, 80, 600)],
         "ordered_at": dates.strftime("%Y-%m-%d"), "total": rng.integers(5, 50, 600).astype(str)}
    )  # fmt: skip
    contacts = pd.DataFrame({"contact_id": [f"c{i}" for i in range(80)]})
    options = RunOptions(steps=steps_by_name(["churn_value"]), as_of=AS_OF)
    result = run_pipeline(FrameSource(contacts=contacts, orders=orders), store, options)
    (line,) = result.steps["churn_value"].summary
    assert "the orders end on 2024-06-28, long before 2025-06-01" in line


def test_times_just_after_a_utc_run_hint_at_the_shops_own_clock():
    """A Tokyo shop with no time zone set had this morning's orders listed as after the
    run at 13:20 UTC (22:20 there): its times were read as UTC, and nothing said why (the
    one-day grace that hid it is gone; review53 item 7)."""
    from smbml_connect.data_checks import check_data
    from smbml_connect.schema import REJECT_COLUMNS

    as_of = pd.Timestamp("2026-12-07 13:20", tz="UTC")
    orders = pd.DataFrame(
        {
            "order_id": ["1", "2", "3"],
            "contact_id": ["a", "a", "b"],
            "ordered_at": pd.to_datetime(
                ["2026-12-06 09:00", "2026-12-07 12:00", "2026-12-07 21:15"], utc=True
            ),
            "total": [10.0, 12.0, 9.0],
        }
    )
    no_rejects = pd.DataFrame(columns=REJECT_COLUMNS)
    lines = pd.DataFrame({"order_id": ["1"], "line_no": [1], "product_id": ["P"]})
    (said,) = [n.message for n in check_data({"orders": orders, "order_lines": lines}, as_of,
                                             no_rejects).notices
               if n.check == "future_dates"]  # fmt: skip
    assert 'set it at the top of your config (e.g. time_zone = "Asia/Tokyo")' in said
    far = orders.assign(ordered_at=orders["ordered_at"] + pd.Timedelta(days=2))
    (far_said,) = [n.message for n in check_data({"orders": far, "order_lines": lines}, as_of,
                                                 no_rejects).notices
                   if n.check == "future_dates"]  # fmt: skip
    assert "time_zone" not in far_said  # days ahead: no clock explains them
    tokyo = as_of.tz_convert("Asia/Tokyo")  # a zone set: nothing to hint
    (zoned,) = [n.message for n in check_data({"orders": orders, "order_lines": lines}, tokyo,
                                              no_rejects).notices
                if n.check == "future_dates"]  # fmt: skip
    assert "time_zone" not in zoned
