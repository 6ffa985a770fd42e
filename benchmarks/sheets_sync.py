"""Google Sheets refresh against the emulator: requests and time against their bounds.

Scenarios:
- refresh of 20,000 scored contacts, their segments, a 36-month forecast (all sales and
  20 products, revenue and units), prices and rejects: first run (tabs created) and
  second run (tabs rewritten in place);
- the same refresh as a typical gspread script writes it (worksheet(), clear(), update(),
  format(), freeze() per tab), measured in the same run as the reference;
- the refresh when the per-user quota is smaller than the limiter believes (another
  script shares the quota): 429s, waits, completes;
- the refresh with 5xx answers, dropped connections and slow answers injected;
- reading 20,000 contacts and 60,000 orders from a spreadsheet;
- the second refresh after the user inserted two columns in Scores (a note on every tenth
  contact, a formula filled down every row): one more read (the widened tab's cells),
  and user_cells_lost, the notes and formulas not beside their contact afterwards.

seconds is wall time with the emulator in the same process; emulator_seconds is the part
the emulator spent parsing and applying requests (Google's own time is not modelled), so
seconds - emulator_seconds is what the client itself costs.
request_bound: one batchUpdate per result tab plus one metadata read (refresh), or the
metadata read plus one values:batchGet (read). rows_lost: rows whose cells in the
spreadsheet (read back after the refresh) differ from the frame written, or rows that
did not reach the store (read). Quota windows run at --time-scale (0.1: a minute lasts
6 s) in the quota scenario; both the emulator and the client are told.

    python benchmarks/sheets_sync.py [--contacts 20000] [--time-scale 0.1]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import pandas as pd

from smbml_connect.connectors.gsheets.http import SheetsApi, SheetsLimits
from smbml_connect.connectors.gsheets.sheets import SheetsResults, SheetsSource, result_tabs
from smbml_connect.credentials import Secret
from smbml_connect.ports import RunResult
from smbml_connect.schema import REJECT_COLUMNS, validate
from smbml_connect.steps import STEPS
from smbml_connect.steps.base import StepResult
from smbml_connect.steps.customers import VALUE_TAB
from smbml_connect.steps.forecasts import FORECAST_TAB
from smbml_connect.steps.leads import LEAD_TAB
from smbml_connect.steps.pricing import PRICES_TAB
from smbml_connect.steps.segments import SEGMENTS_TAB
from smbml_connect.testing.faults import Fault
from smbml_connect.testing.sheets_emulator import SheetsEmulator, make_service_account
from smbml_connect.testing.sheets_values import Cell, render

KEY = "1BenchmarkSpreadsheet000000000000000000"
REASONS = ["+ Came from a referral", "+ Opened our emails 12 times", "- Last active 40 days ago",
           "+ Has an open deal", "- Industry: Office", "+ Lead for 12 days"]  # fmt: skip
SEGMENTS = ["Champions", "Loyal", "Need attention", "At risk", "Hibernating", "New"]


def run_result(contacts: int, rng: np.random.Generator) -> RunResult:
    """What a run over a 20,000-contact business hands the Sheets destination."""
    ids = [f"C{i:06d}" for i in range(contacts)]
    names = [f"Person {i}" for i in range(contacts)]
    emails = [f"person{i}@example.com" for i in range(contacts)]
    why = ["; ".join(rng.choice(REASONS, 3, replace=False)) for _ in range(contacts)]
    leads = contacts * 6 // 10
    lead_scores = pd.DataFrame({
        "contact_id": ids[:leads], "name": names[:leads], "email": emails[:leads],
        "score": rng.integers(1, 100, leads), "tier": rng.choice(list("ABCD"), leads),
        "why": why[:leads],
    })  # fmt: skip
    customers = contacts - leads
    value = pd.DataFrame({
        "contact_id": ids[leads:], "name": names[leads:], "email": emails[leads:],
        "churn_risk": rng.random(customers).round(3),
        "expected_value_12m": (rng.gamma(2, 300, customers)).round(2), "why": why[leads:],
    })  # fmt: skip
    segments = pd.DataFrame({
        "contact_id": ids[leads:], "name": names[leads:], "email": emails[leads:],
        "segment": rng.choice(SEGMENTS, customers), "why": "Bought recently and often",
        "what_to_do": "Thank them; offer early access",
        "last_order_at": pd.Timestamp("2026-11-01", tz="UTC")
        - pd.to_timedelta(rng.integers(0, 700, customers), unit="D"),
        "recency_days": rng.integers(0, 700, customers),
        "frequency": rng.integers(1, 40, customers),
        "monetary": rng.gamma(2, 400, customers).round(2),
    })  # fmt: skip
    months = pd.date_range("2026-12-01", periods=36, freq="MS").strftime("%Y-%m-%d")
    rows = []
    for series in ["All sales", *(f"Product {i}" for i in range(20))]:
        for measure in ("revenue", "units"):
            base = rng.uniform(100, 5000)
            for j, month in enumerate(months):
                yhat = base * (1 + 0.1 * np.sin(j / 12 * 2 * np.pi))
                rows.append((series, measure, month, round(yhat, 2), round(yhat * 0.8, 2),
                             round(yhat * 1.2, 2), round(yhat * 0.7, 2), round(yhat * 1.3, 2)))  # fmt: skip
    forecast = pd.DataFrame(rows, columns=["series", "measure", "month", "forecast", "low_80",
                                           "high_80", "low_95", "high_95"])  # fmt: skip
    prices = pd.DataFrame({
        "product": [f"Product {i}" for i in range(50)], "product_id": [f"P{i:03d}" for i in range(50)],
        "current_price": rng.uniform(5, 50, 50).round(2), "suggested_price": rng.uniform(5, 50, 50).round(2),
        "change_pct": rng.uniform(-0.1, 0.1, 50).round(3), "confidence": rng.choice(["high", "medium", "low"], 50),
        "reason": "Demand hardly moves with price",
    })  # fmt: skip
    rejects = pd.DataFrame(
        [["contacts", "gsheets", i + 2, "email", f"=HYPERLINK(\"x{i}\")", "not an email",
          "value cleared", "{}"] for i in range(40)],
        columns=REJECT_COLUMNS,
    )  # fmt: skip
    result = RunResult(run_id=1, as_of=pd.Timestamp("2026-11-23", tz="UTC"), source="bench")
    result.steps = {
        "lead_scores": StepResult(sheets={LEAD_TAB.title: lead_scores}),
        "churn_value": StepResult(sheets={VALUE_TAB.title: value}),
        "rfm_segments": StepResult(sheets={SEGMENTS_TAB.title: segments}),
        "sales_forecast": StepResult(sheets={FORECAST_TAB.title: forecast}),
        "price_suggestions": StepResult(sheets={PRICES_TAB.title: prices}),
    }
    result.declared = {step.name: step.outputs for step in STEPS}
    result.rejects = rejects
    return result


def rows_lost(emu: SheetsEmulator, result: RunResult) -> int:
    """Rows of each tab whose cells (read back unformatted) differ from what was written."""
    book = emu.state.book(KEY)
    lost = 0
    for tab in result_tabs(result):
        sheet = next(
            s for s in book.sheets if any(m["metadataValue"] == tab.role for m in s.metadata)
        )
        frame = tab.frame
        for i, record in enumerate(frame.itertuples(index=False)):
            for j, expected in enumerate(record):
                cell = sheet.cells.get((i + 2, j))
                got = None if cell is None else render(cell, "UNFORMATTED_VALUE", "SERIAL_NUMBER")
                if not _same(expected, got):
                    lost += 1
                    break
    return lost


def _same(expected: Any, got: Any) -> bool:
    if expected is None or (isinstance(expected, float) and np.isnan(expected)):
        return got is None
    if isinstance(expected, pd.Timestamp):
        serial = (expected.tz_convert(None) - pd.Timestamp("1899-12-30")).total_seconds() / 86400
        return got is not None and abs(float(got) - serial) < 1e-5
    if isinstance(expected, str) and len(expected) == 10 and expected[4] == "-":  # ISO month
        serial = (pd.Timestamp(expected) - pd.Timestamp("1899-12-30")).days
        return got == serial
    if isinstance(expected, int | float | np.integer | np.floating) and not isinstance(
        expected, bool
    ):
        return got is not None and abs(float(got) - float(expected)) < 1e-9
    return got == expected


def new_api(emu: SheetsEmulator, limits: SheetsLimits) -> SheetsApi:
    return SheetsApi(Secret(json.dumps(make_service_account(emu))), api_url=emu.url, limits=limits)


def refresh(name: str, emu: SheetsEmulator, api: SheetsApi, result: RunResult) -> dict[str, Any]:
    emu.reset_counts()
    started = time.perf_counter()
    error = None
    try:
        SheetsResults(api, KEY).publish(result)
    except Exception as exc:  # a benchmark reports, it does not stop
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    tabs = len(result_tabs(result))
    return {
        "name": name,
        "requests": emu.total(),
        "request_bound": tabs + 1,
        "refused_429": emu.statuses[429],
        "seconds": round(seconds, 2),
        "emulator_seconds": round(emu.busy_seconds, 2),
        "rows": sum(len(t.frame) for t in result_tabs(result)),
        "rows_lost": rows_lost(emu, result) if error is None else None,
        "completed": error is None,
        **({"error": error} if error else {}),
    }


def with_user_columns(emu: SheetsEmulator, api: SheetsApi, result: RunResult) -> dict[str, Any]:
    """Scores widened by the user (a note every tenth contact, a formula on every row),
    then refreshed with its rows in reverse order: the cost, and what was lost."""
    sheet = next(s for s in emu.state.book(KEY).sheets if s.title == "Scores")
    start = sheet.cols
    sheet.cols += 2
    sheet.cells[(1, start)] = Cell(value="Note")
    sheet.cells[(1, start + 1)] = Cell(value="Hot?")
    notes: dict[str, str] = {}
    for (r, c), cell in list(sheet.cells.items()):
        if c == 0 and r >= 2 and cell.value:
            if r % 10 == 0:
                notes[str(cell.value)] = f"note {cell.value}"
                sheet.cells[(r, start)] = Cell(value=notes[str(cell.value)])
            sheet.cells[(r, start + 1)] = Cell(formula=f'=IF(E{r + 1}>70,"yes","")')
    for step in result.steps.values():  # the refresh moves every row
        for title, frame in step.sheets.items():
            step.sheets[title] = frame.iloc[::-1].reset_index(drop=True)
    row = refresh(
        "refresh after the user added two columns to Scores, rows reversed", emu, api, result
    )
    row["request_bound"] += 1
    sheet = next(s for s in emu.state.book(KEY).sheets if s.title == "Scores")
    lost = 0
    for (r, c), cell in sheet.cells.items():
        if c == 0 and r >= 2 and cell.value:
            note = sheet.cells.get((r, start))
            formula = sheet.cells.get((r, start + 1))
            want = notes.get(str(cell.value))
            lost += want is not None and (note is None or note.value != want)
            lost += formula is None or formula.formula != f'=IF(E{r + 1}>70,"yes","")'
    row["user_cells"] = len(notes) + sum(1 for (r, c) in sheet.cells if c == 0 and r >= 2)
    row["user_cells_lost"] = int(lost)
    return row


def naive_gspread(emu: SheetsEmulator, api: SheetsApi, result: RunResult) -> dict[str, Any]:
    """The reference: how a typical script refreshes tabs with gspread's worksheet methods."""
    emu.reset_counts()
    started = time.perf_counter()
    book = api.client.open_by_key(KEY)
    for tab in result_tabs(result):
        title = f"{tab.title} (naive)"
        try:
            ws = book.worksheet(title)
        except Exception:
            ws = book.add_worksheet(
                title, rows=len(tab.frame) + 1, cols=max(len(tab.frame.columns), 1)
            )
        ws.clear()
        frame = tab.frame.astype(object).where(tab.frame.notna(), "")
        values = [list(map(str, frame.columns))] + [[_plain(v) for v in row] for row in frame.itertuples(index=False)]  # fmt: skip
        ws.update(values, "A1", value_input_option="RAW")
        ws.format("1:1", {"textFormat": {"bold": True}})
        ws.freeze(rows=1)
    seconds = time.perf_counter() - started
    return {
        "name": "reference: typical gspread script (worksheet, clear, update, format, freeze per tab)",
        "requests": emu.total(),
        "request_bound": len(result_tabs(result)) + 1,
        "seconds": round(seconds, 2),
        "emulator_seconds": round(emu.busy_seconds, 2),
        "rows": sum(len(t.frame) for t in result_tabs(result)),
        "rows_lost": None,
        "note": "no number formats, chart or refresh note; dates become text",
    }


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def read_scenario(
    emu: SheetsEmulator, api: SheetsApi, contacts: int, rng: np.random.Generator
) -> dict[str, Any]:
    orders = contacts * 3
    emu.state.create(
        "1BenchmarkReadSpreadsheet00000000000000",
        "Read",
        {
            "Customers": [["Customer ID", "E-mail Address", "Created"]]
            + [[f"C{i:06d}", f"p{i}@example.com", "2025-03-01"] for i in range(contacts)],
            "Orders": [["Order ID", "Customer", "Ordered At", "Total"]]
            + [[f"O{i:07d}", f"C{int(rng.integers(contacts)):06d}", "2025-04-02", float(rng.uniform(5, 90))] for i in range(orders)],
        },
    )  # fmt: skip
    emu.reset_counts()
    started = time.perf_counter()
    source = SheetsSource(api, "1BenchmarkReadSpreadsheet00000000000000")
    loaded = {t: len(validate(t, source.pull(t), source="bench").clean) for t in source.available()}
    seconds = time.perf_counter() - started
    return {
        "name": f"read {contacts:,} contacts and {orders:,} orders",
        "requests": emu.total(),
        "request_bound": 2,
        "seconds": round(seconds, 2),
        "rows": contacts + orders,
        "rows_lost": contacts + orders - sum(loaded.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--time-scale", type=float, default=0.1)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    result = run_result(args.contacts, rng)
    scenarios = []
    with SheetsEmulator() as emu:
        emu.state.create(KEY, "Bench", {"Notes": [["the user's own tab"]]})
        api = new_api(emu, SheetsLimits())
        api.authorise()
        scenarios.append(refresh("refresh: first run, tabs created", emu, api, result))
        scenarios.append(refresh("refresh: second run, tabs rewritten in place", emu, api, result))
        scenarios.append(naive_gspread(emu, api, result))
        emu.inject(Fault("5xx", count=2, status=503, path=":batchUpdate"))
        emu.inject(Fault("drop", count=1, path=":batchUpdate", skip=2))
        emu.inject(Fault("slow", count=1, delay=1.0, path=":batchUpdate", skip=1))
        faulty = new_api(emu, SheetsLimits(backoff_base=0.5, backoff_cap=4.0))
        scenarios.append(
            refresh("refresh with 5xx, a dropped connection and a slow answer", emu, faulty, result)
        )
        scenarios.append(read_scenario(emu, api, args.contacts, rng))
        scenarios.append(with_user_columns(emu, api, result))
    scale = args.time_scale
    with SheetsEmulator(per_user_per_minute=3, time_scale=scale) as emu:
        emu.state.create(KEY, "Bench", {"Notes": [["the user's own tab"]]})
        limits = SheetsLimits(
            window_seconds=60 * scale, backoff_base=10 * scale, backoff_cap=64 * scale
        )
        api = new_api(emu, limits)
        api.authorise()
        row = refresh(
            f"refresh when the quota is hit (server allows 3 per {60 * scale:g} s)",
            emu,
            api,
            result,
        )
        row["waited_on_429_seconds"] = round(api.waited_on_429, 2)
        scenarios.append(row)
    print(
        json.dumps(
            {"contacts": args.contacts, "forecast_months": 36, "scenarios": scenarios}, indent=2
        )
    )


if __name__ == "__main__":
    main()
