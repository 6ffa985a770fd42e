"""The xlwings UDFs, called as Excel calls them, through xlwings' own conversion code.

There is no Excel here and xlwings.udfs imports pywin32 at the top, so the fixture
stands in stub pywin32 modules, imports the real xlwings.udfs (its decorators build
the metadata Excel's import reads), reloads our UDF module with those decorators, and
adds an engine whose value cleaning is the same as xlwings' Windows engine.
"""

from __future__ import annotations

import ast
import datetime as dt
import importlib
import math
import re
import sys
import types
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
import pytest
import xlwings as xw
from excel_helpers import leads_table, monthly, orders
from xlwings import conversion

import smbml_connect.store as store_module
from smbml_connect.connectors.sample.source import SampleSource
from smbml_connect.functions import REGISTRY, FunctionContext, call
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.sample import SampleConfig, generate
from smbml_connect.steps import steps_by_name
from smbml_connect.store import Store

ROOT = Path(__file__).resolve().parents[1]
MISSING = object()


class Variant:
    """pywin32's win32com.client.VARIANT: a COM value with its type."""

    def __init__(self, vartype: int, value: Any) -> None:
        self.varianttype, self.value = vartype, value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Variant) and (other.varianttype, other.value) == (
            self.varianttype,
            self.value,
        )

    __hash__ = None  # type: ignore[assignment]


VT_ERROR = 10  # pythoncom.VT_ERROR


def excel_error(code: str) -> Variant:
    from smbml_connect.excel_addin.xlwings_bridge import XL_ERRORS

    return Variant(VT_ERROR, XL_ERRORS[code])


class WindowsLikeEngine:
    """Value cleaning as in xlwings/_xlwindows.py (dates stay datetimes: no COM here)."""

    name = "excel"
    type = "desktop"

    @staticmethod
    def clean_value_data(data, datetime_builder, empty_as, number_builder, err_to_str):
        def clean(value: Any) -> Any:
            if value in ("", None):
                return empty_as
            if number_builder is not None and isinstance(value, float):
                return number_builder(value)
            return value

        return [[clean(c) for c in row] for row in data]

    @staticmethod
    def prepare_xl_data_element(x: Any, options: Any) -> Any:
        if isinstance(x, dt.date | dt.datetime):
            return x
        if x is None or (not isinstance(x, str) and pd.isna(x)):
            return ""
        if isinstance(x, np.number):
            return float(x)
        return x


@pytest.fixture(scope="module")
def udfs():
    saved = {name: sys.modules.get(name) for name in ("pythoncom", "pywintypes", "win32com",
                                                     "win32com.client", "xlwings.udfs")}  # fmt: skip
    pywintypes = types.ModuleType("pywintypes")
    pywintypes.TimeType = dt.datetime  # type: ignore[attr-defined]
    win32com = types.ModuleType("win32com")
    client = types.ModuleType("win32com.client")
    client.Dispatch = lambda *a, **k: None  # type: ignore[attr-defined]
    client.VARIANT = Variant  # type: ignore[attr-defined]
    win32com.client = client  # type: ignore[attr-defined]
    pythoncom = types.ModuleType("pythoncom")
    pythoncom.CoInitialize = lambda: None  # type: ignore[attr-defined]
    pythoncom.VT_ERROR = VT_ERROR  # type: ignore[attr-defined]
    sys.modules.update(pythoncom=pythoncom, pywintypes=pywintypes, win32com=win32com)
    sys.modules["win32com.client"] = client
    sys.modules.pop("xlwings.udfs", None)
    real = importlib.import_module("xlwings.udfs")
    originals = (xw.func, xw.arg, xw.ret)
    xw.func, xw.arg, xw.ret = real.xlfunc, real.xlarg, real.xlret
    engine = xw.main.Engine(impl=WindowsLikeEngine())
    xw.engines.add(engine)
    module = importlib.reload(importlib.import_module("smbml_connect.excel_addin.udfs"))
    yield module
    xw.func, xw.arg, xw.ret = originals
    xw.engines.engines.remove(engine)
    del xw.engines.engines_by_name["excel"]
    for name, value in saved.items():
        if value is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = value
    importlib.reload(module)


def excel_values(value: Any) -> Any:
    """Lists of rows as COM hands them over: tuples of tuples."""
    if isinstance(value, list):
        return tuple(tuple(row) for row in value)
    return value


def call_like_excel(func: Any, *cells: Any) -> list[list[Any]]:
    """What xlwings.udfs.call_udf does for values (not Range objects), then the write."""
    info = func.__xlfunc__
    args = []
    for i, value in enumerate(cells):
        arg_info = info["args"][i]
        if value is MISSING:
            args.append(arg_info.get("optional"))
        else:
            args.append(conversion.read(None, excel_values(value), arg_info["options"]))
    result = func(*args)
    return conversion.write(result, None, info["ret"]["options"])


def test_every_registry_function_has_a_udf_with_its_arguments(udfs):
    found = {n: f for n, f in vars(udfs).items() if n.startswith("SMB_") and callable(f)}
    assert set(found) == {spec.xlwings_name for spec in REGISTRY.values()}
    for name, spec in REGISTRY.items():
        info = found[spec.xlwings_name].__xlfunc__
        assert [a["name"] for a in info["args"]] == [a.name for a in spec.args]
        assert [a["doc"] for a in info["args"]] == [a.help for a in spec.args]
        assert info["ret"]["doc"] == spec.help
        assert info["category"] == "SMB ML"
        assert info["call_in_wizard"] is False  # the wizard would retrain on each keystroke
        assert info["ret"]["options"] == {}  # rows, header row first where there is one
        for arg, xl_arg in zip(spec.args, info["args"], strict=True):
            assert ("optional" in xl_arg) == arg.optional
            if arg.name == "table_with_header":
                assert xl_arg["options"] == {"convert": pd.DataFrame, "index": False,
                                             "header": True}  # fmt: skip
            elif arg.range:
                assert xl_arg["options"] == {"ndim": 2}, (name, arg.name)
            else:
                assert xl_arg["options"] == {}


def test_forecast_spills_a_table_with_dates(udfs):
    dates, values = monthly(60)
    out = call_like_excel(udfs.SMB_FORECAST, dates, values, 6.0, MISSING, MISSING)
    assert out[0] == ["date", "forecast", "low (80%)", "high (80%)"]
    assert len(out) == 7
    assert out[1][0] == dt.date(2025, 1, 1)
    for _, yhat, lo, hi in out[1:]:
        assert lo <= yhat <= hi


def test_a_single_column_read_as_one_cell_still_works(udfs):
    """ndim=2 makes one cell a 1x1 table, so a horizon given as a range works too."""
    dates, values = monthly(24)
    out = call_like_excel(udfs.SMB_FORECAST, dates, values, [[3.0]], 12.0, 95.0)
    assert out[0][2:] == ["low (95%)", "high (95%)"]
    assert len(out) == 4


def test_errors_are_excel_error_values_with_the_message_in_the_log(udfs, caplog):
    dates, values = monthly(5)
    out = call_like_excel(udfs.SMB_FORECAST, dates, values, 3.0, MISSING, MISSING)
    assert out == [[excel_error("#VALUE!")]]
    assert "SMB_FORECAST: #VALUE! FORECAST: need at least 8 dates, got 5" in caplog.text
    bad = call_like_excel(udfs.SMB_ABTEST, 30.0, 20.0, 1.0, 10.0)
    assert bad == [[excel_error("#VALUE!")]]
    assert "ABTEST: conversions_a (30) cannot exceed visitors_a (20)" in caplog.text
    unknown = call_like_excel(udfs.SMB_LEADSCORE_OF, "nobody@example.com")
    assert unknown == [[excel_error("#N/A")]]


def test_leadscore_reads_the_table_as_a_dataframe_and_marks_missing_as_na(udfs):
    table = leads_table(600, unknown=100)
    out = call_like_excel(udfs.SMB_LEADSCORE, table, MISSING)
    assert out[0] == ["score", "tier", "reasons"]
    assert len(out) == 601  # one row per input row, so it spills beside the table
    known, scored = out[1:501], out[501:]
    assert all(row[0] == excel_error("#N/A") for row in known)  # no score: outcome known
    assert all(0 <= row[0] <= 100 and row[1] in "ABCD" and row[2] for row in scored)


def test_segment_and_churn_take_three_columns(udfs):
    ids, dates, amounts = orders(80)
    segments = call_like_excel(udfs.SMB_SEGMENT, ids, dates, amounts, MISSING)
    assert segments[0][:2] == ["customer", "segment"]
    assert len(segments) == 81
    churn = call_like_excel(udfs.SMB_CHURN, ids, dates, amounts, "2025-01-01")
    assert churn[0][1] == "churn risk"
    assert all(0 <= row[1] <= 1 and row[2] >= 0 for row in churn[1:])


def test_abtest_and_price_spill_one_row(udfs):
    out = call_like_excel(udfs.SMB_ABTEST, 120.0, 1000.0, 150.0, 1000.0)
    assert len(out) == 2 and math.isclose(out[1][1], 0.25, abs_tol=0.005)
    assert 0.95 < out[1][0] < 1
    prices = [[p] for p in [10, 10, 11, 11, 12, 12, 10, 11, 12, 10]]
    units = [[q] for q in [100, 98, 90, 91, 80, 82, 99, 92, 79, 101]]
    price = call_like_excel(udfs.SMB_PRICE, prices, units, 5.0, MISSING)
    assert price[0] == ["suggested price", "elasticity", "confidence", "reason"]
    assert 9.0 <= price[1][0] <= 11.0 + 1e-9  # within the 10% step


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_only_the_bsd_part_of_xlwings_is_used():
    files = [*ROOT.glob("smbml_connect/**/*.py")]
    assert files
    for path in files:
        for name in _imports(path):
            assert not name.startswith(("xlwings.pro", "xlwings.server")), (path, name)
        text = path.read_text(encoding="utf-8")
        assert "LICENSE_KEY" not in text and "license update" not in text, path
    importlib.import_module("smbml_connect.excel_addin.udfs")
    assert xw.__pro__ is False  # no licence active in this process


def test_excel_loading_the_functions_warms_the_forecast_up(udfs, monkeypatch):
    """Excel imports the module when its UDF server starts: the CES library's import
    (about 0.4 s) is taken then, in the background, not by the first =SMB_FORECAST."""
    import threading

    import smbml_connect.functions as functions_module

    ran = threading.Event()
    monkeypatch.setattr(functions_module, "warm_up", ran.set)
    importlib.reload(udfs)
    assert udfs.WARMING.daemon
    assert ran.wait(10)


def test_a_blank_header_cell_is_named_by_its_column_not_none(udfs, caplog):
    """A merged header keeps its text in the first cell only: xlwings hands the blank
    one over as None, and the column was named "None" in what the user was told."""
    import logging

    table = leads_table(200, unknown=40)
    table[0][3] = None  # "Emails opened", merged into "Visits"
    caplog.set_level(logging.INFO)
    out = call_like_excel(udfs.SMB_LEADSCORE, table, MISSING)
    assert out[0] == ["score", "tier", "reasons"]
    reasons = " ".join(str(row[2]) for row in out[1:])
    assert "None" not in reasons and "none" not in caplog.text.lower().split()
    assert "Column 4: " in reasons


def test_ets_reads_values_stored_as_text(udfs):
    """'1,234.50' in the values: "'200.00' (row 1) is not a number" before."""
    dates, values = monthly(36)
    target = [[dt.datetime(2023, 1, 1)]]
    as_text = [[f"{v[0]:,.2f}"] for v in values]
    out = call_like_excel(udfs.SMB_FORECAST_ETS, target, as_text, dates, MISSING)
    assert out == call_like_excel(udfs.SMB_FORECAST_ETS, target, values, dates, MISSING)
    assert isinstance(out[0][0], float)


def _as_office_js(cell: Any) -> Any:
    """A cell as Office.js hands it to a custom function: a date is its serial number."""
    if isinstance(cell, dt.datetime):
        return (cell - dt.datetime(1899, 12, 30)) / dt.timedelta(days=1)
    return "" if cell is None else cell


def _office_js_cells(table: list[list]) -> tuple[list[list], list[str]]:
    """LEADSCORE as the Office.js add-in shows it: `smbml serve`'s answer, a null as #N/A."""
    from smbml_connect.excel_addin.serve import _answer

    sent = [[_as_office_js(c) for c in row] for row in table]
    answer = _answer(call("LEADSCORE", [sent], FunctionContext()))
    assert "error" not in answer, answer
    shown = [[excel_error("#N/A") if c is None else c for c in row] for row in answer["value"]]
    return shown, answer["notes"]


def _with_dates(header: str, first: dt.datetime, na_every: int | None = None) -> list[list]:
    """The leads table with one date column, `n/a` on every `na_every`-th row."""
    rng = np.random.default_rng(3)
    table = leads_table(300, unknown=60)
    out = [[*table[0][:4], header, *table[0][4:]]]
    for i, row in enumerate(table[1:]):
        when = first + dt.timedelta(days=int(rng.integers(0, 400)), hours=int(rng.integers(0, 24)))
        cell = "n/a" if na_every and i % na_every == 7 else when
        out.append([*row[:4], cell, *row[4:]])
    return out


@pytest.mark.parametrize(
    ("header", "first", "na_every"),
    [
        ("Created", dt.datetime(2024, 1, 1), 100),  # three "n/a" cells among the dates
        ("Last login", dt.datetime(2024, 1, 1), None),  # headers the date words missed
        ("Renewal", dt.datetime(2024, 1, 1), None),
        ("Trial start", dt.datetime(2024, 1, 1), None),
        ("Next follow-up", dt.datetime(2024, 1, 1), None),
        ("Date of birth", dt.datetime(1935, 1, 1), None),  # dates before 1954
    ],
)
def test_leadscore_scores_and_explains_alike_in_both_add_ins(udfs, header, first, na_every):
    """Office.js sends a date cell as its serial. "Created" with 3 "n/a" cells in 300,
    "Last login", "Renewal" or birth dates before 1954 stayed numbers there: 60 of 60
    scores differed from the xlwings add-in's, 8 tiers, and reasons read "Last login:
    45,615". Both now read the column as the dates it holds."""
    table = _with_dates(header, first, na_every)
    office_js, notes = _office_js_cells(table)
    xlwings = call_like_excel(udfs.SMB_LEADSCORE, table, MISSING)
    assert office_js[0] == xlwings[0] == ["score", "tier", "reasons"]
    assert sum(1 for row in xlwings[1:] if row[1]) == 60  # the leads without an outcome
    assert office_js == xlwings  # scores, tiers and reasons
    assert f"{header}: Excel date numbers read as dates" in notes
    assert not any(re.search(rf"{header}: \d", row[2]) for row in office_js[1:])


def test_numbers_that_may_be_dates_are_said_to_stay_numbers():
    """Where Office.js leaves a column as numbers that look like dates, a note says so."""
    table = _with_dates("Created", dt.datetime(2024, 1, 1))
    odd = [table[0], *(row[:] for row in table[1:])]
    odd[5][4] = 12.0  # one number that cannot be a date: the column stays numbers
    misnamed = [[*table[0][:4], "Demo", *table[0][5:]], *table[1:]]
    _, odd_notes = _office_js_cells(odd)
    assert "Created: kept as numbers (12 is not an Excel date of 1954-2119)" in odd_notes
    _, misnamed_notes = _office_js_cells(misnamed)
    assert any(n.startswith("Demo: its numbers look like Excel dates (45,") for n in misnamed_notes)
    born = [[*table[0][:4], "Born", *table[0][5:]]] + [
        [*row[:4], float(1950 + i % 50), *row[5:]] for i, row in enumerate(table[1:])
    ]
    _, born_notes = _office_js_cells(born)  # years of birth stay years, unremarked
    assert not any(n.startswith("Born:") for n in born_notes)


def _scored_store(path: Path, business) -> tuple[str, int, str]:
    """A store after a run of the lead scores: (email, score, tier) of a scored contact."""
    with Store(path) as store:
        options = RunOptions(steps=steps_by_name(["lead_scores"]), as_of=business.as_of)
        run_pipeline(SampleSource(business), store, options)
        scores = store.latest_outputs("scores")
        contacts = store.read("contacts").set_index("contact_id")
    lead = scores[scores["model"] == "lead_score"].iloc[-1]
    return str(contacts.loc[lead["entity_id"], "email"]), round(lead["value"]), lead["label"]


def test_leadscore_of_reads_the_store_smbml_serve_reads(udfs, small, tmp_path, monkeypatch):
    """find55_readme item 1: the add-in called the registry without a store, so every
    SMB_LEADSCORE_OF was #N/A "no lead scores stored yet: run smbml run" after a run."""
    default = tmp_path / "user data" / "store.sqlite"
    default.parent.mkdir()
    monkeypatch.setattr(store_module, "default_store_path", lambda: default)
    monkeypatch.delenv("SMBML_STORE", raising=False)
    email, score, tier = _scored_store(default, small)
    out = call_like_excel(udfs.SMB_LEADSCORE_OF, email.upper(), MISSING)
    assert out[0] == ["score", "tier", "reasons", "scored at"]
    assert out[1][:2] == [score, tier] and out[1][2]
    assert call("LEADSCORE_OF", [email], FunctionContext(store_path=default)).value[1][:2] == [
        score,
        tier,
    ]  # what smbml serve answers with its default store
    # another store, named as the add-in can be told it (it has no command line)
    other = tmp_path / "shop" / "shop.sqlite"
    other.parent.mkdir()
    shop = generate(SampleConfig(contacts=200, seed=11))  # another shop's contacts
    other_email, other_score, other_tier = _scored_store(other, shop)
    monkeypatch.setenv("SMBML_STORE", str(other))
    assert call_like_excel(udfs.SMB_LEADSCORE_OF, other_email, False) == [
        [other_score, other_tier, mock.ANY, mock.ANY]
    ]
    monkeypatch.setenv("SMBML_STORE", str(tmp_path / "nowhere.sqlite"))
    assert call_like_excel(udfs.SMB_LEADSCORE_OF, email) == [[excel_error("#N/A")]]


def test_money_under_a_date_word_is_not_read_as_dates():
    """review57 item 2: "Renewal revenue", "Balance due" and "Start MRR" hold amounts of
    20,000-80,000, which Office.js read as 1960s dates once renewal, due and start became
    date words; an amount stays a number in both add-ins."""
    import pandas as pd

    from smbml_connect.function_impls import _serial_dates_read

    money = pd.DataFrame(
        {
            "Renewal revenue": [24000.0, 36000, 52000, 41000],
            "Balance due": [25000.0, 30500, 47000, 61000],
            "Start MRR": [22000.0, 30000, 45000, 50000],
            "Renewal date": [45600.0, 45700, 45800, 45900],
        }
    )
    read, _ = _serial_dates_read(money)
    for column in ("Renewal revenue", "Balance due", "Start MRR"):
        assert read[column].tolist() == money[column].tolist(), column
    assert pd.api.types.is_datetime64_any_dtype(read["Renewal date"]) or isinstance(
        read["Renewal date"].iloc[0], pd.Timestamp
    )
