"""The one registry of worksheet functions.

Each function is declared once, as data: name, arguments (with help text, scalar or
range, type), the columns it spills and its implementation. The xlwings UDFs, the
Office.js metadata (functions.json) and the routes of `smbml serve` are loops over
`REGISTRY`, so a new function is one entry here and one implementation.

`call` never raises: a bad input comes back as an Excel error value with a short
message (#VALUE! for an input that cannot be read or computed on, #N/A for a lookup
with no match), such as #VALUE! "FORECAST: need at least 8 dates, got 5"; anything
unexpected is logged in full and the message says to look at the log. IFERROR and
ISERROR catch every one of them. Not #NUM!, as Excel's own functions would: Office.js
shows a custom function's message with #VALUE! and #N/A only.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from smbml_connect import __version__, function_impls
from smbml_connect.call_limits import OutOfTime
from smbml_connect.cell_values import (
    CellError,
    ErrorCode,
    Matrix,
    column_formats,
    filled_rows,
    flag,
    matrix_from_frame,
)
from smbml_connect.errors import DataValidationError, SmbmlError
from smbml_connect.result_cache import ResultCache, input_hash

__all__ = [
    "REGISTRY",
    "Arg",
    "CallResult",
    "FunctionContext",
    "WorksheetFunction",
    "call",
    "function",
    "warm_up",
    "without_blank_tail",
]

log = logging.getLogger(__name__)
ValueType = Literal["number", "text", "date", "any"]


@dataclass(frozen=True)
class Arg:
    name: str
    help: str
    range: bool = True  # a range of cells (or one cell) rather than a single value
    type: ValueType = "any"
    optional: bool = False


@dataclass(frozen=True)
class WorksheetFunction:
    name: str
    help: str
    args: tuple[Arg, ...]
    columns: tuple[str, ...]  # what spills: the header row, for the docs
    rows: Literal["one", "many"]  # one row, or one per input row/customer/period
    implementation: Callable[..., function_impls.Result]
    uses_store: bool = False  # reads synced results, so inputs alone do not fix the answer
    # A table with a header row (and the optional `headers` argument last), or bare
    # values in the shape Excel's own function returns (the FORECAST.ETS family).
    header: bool = True

    @property
    def required(self) -> int:
        return sum(not a.optional for a in self.args)

    @property
    def xlwings_name(self) -> str:
        """The UDF's name: VBA names cannot hold a dot (SMB_FORECAST_ETS)."""
        return "SMB_" + self.name.replace(".", "_")

    def usage(self) -> str:
        names = [a.name if not a.optional else f"[{a.name}]" for a in self.args]
        return f"{self.name}({', '.join(names)})"


_IDS = Arg("customer_ids", "Customer id or email of each order", type="text")
_DATES = Arg("order_dates", "Date of each order", type="date")
_AMOUNTS = Arg("amounts", "Amount of each order", type="number")
# The last argument of every function that spills a table: FALSE leaves the header
# row out, for a spill that goes under headers of the user's own.
HEADERS = Arg(
    "headers",
    "TRUE (default) spills a header row first; FALSE leaves it out",
    range=False,
    type="any",
    optional=True,
)
_TARGET = Arg(
    "target_date",
    "The date (or range of dates) to forecast, after the end of the timeline",
    type="date",
)
_VALUES = Arg("values", "The history: one number per point of the timeline", type="number")
_TIMELINE = Arg(
    "timeline",
    "Dates (or numbers) with a constant step, e.g. the 1st of each month; need not be sorted",
    type="date",
)
_SEASONALITY = Arg(
    "seasonality",
    "1 (default) finds the season, 0 means none, n means n points per season (up to 8760)",
    range=False,
    type="number",
    optional=True,
)
_COMPLETION = Arg(
    "data_completion",
    "1 (default) fills missing points from their neighbours, 0 counts them as zero",
    range=False,
    type="number",
    optional=True,
)
_AGGREGATION = Arg(
    "aggregation",
    "How values on the same date combine: 1 AVERAGE (default), 2 COUNT, 3 COUNTA, 4 MAX, "
    "5 MEDIAN, 6 MIN, 7 SUM",
    range=False,
    type="number",
    optional=True,
)
_AS_OF = Arg(
    "as_of",
    'Date to measure from, or "today" (default: the day after the last order)',
    range=False,
    type="date",
    optional=True,
)

REGISTRY: dict[str, WorksheetFunction] = {
    f.name: f
    for f in (
        WorksheetFunction(
            "LEADSCORE",
            "Learns from the rows that have an outcome and scores the rest 0-100, "
            "with tier A-D and the top reasons.",
            (
                Arg(
                    "table_with_header",
                    "Your leads table, header row included, with an "
                    "outcome column (yes/no, blank for the leads to score)",
                ),
                Arg(
                    "target_column",
                    "Header of the outcome column (default: a column named "
                    "like converted/won/outcome, else the last)",
                    range=False,
                    type="text",
                    optional=True,
                ),
                Arg(
                    "all_rows",
                    "TRUE scores every row, those with an outcome too; FALSE (default) "
                    "leaves those blank",
                    range=False,
                    type="any",
                    optional=True,
                ),
                HEADERS,
            ),
            ("score", "tier", "reasons"),
            "many",
            function_impls.leadscore,
        ),
        WorksheetFunction(
            "LEADSCORE_OF",
            "The lead score of a synced contact, as stored by the last run.",
            (
                Arg("email_or_id", "The contact's email address or id", range=False, type="text"),
                HEADERS,
            ),
            ("score", "tier", "reasons", "scored at"),
            "one",
            function_impls.leadscore_of,
            uses_store=True,
        ),
        WorksheetFunction(
            "SEGMENT",
            "RFM segment per customer (Champions, Loyal, At risk...) from their orders.",
            (_IDS, _DATES, _AMOUNTS, _AS_OF, HEADERS),
            ("customer", "segment", "days since last order", "orders", "spend", "RFM"),
            "many",
            function_impls.segment,
        ),
        WorksheetFunction(
            "CHURN",
            "Chance each customer buys nothing in the next 12 months, and their expected "
            "value with an 80% range.",
            (_IDS, _DATES, _AMOUNTS, _AS_OF, HEADERS),
            (
                "customer",
                "churn risk",
                "expected value (12 months)",
                "value low (80%)",
                "value high (80%)",
                "chance still active",
            ),
            "many",
            function_impls.churn,
        ),
        WorksheetFunction(
            "FORECAST",
            "Forecast of a sales series with a low-high range; the frequency and the "
            "season are found from the dates.",
            (
                Arg(
                    "dates",
                    "Dates of the history (daily, weekly, monthly or quarterly)",
                    type="date",
                ),
                Arg("values", "Values of the history, one per date", type="number"),
                Arg("horizon", "How many periods ahead", range=False, type="number"),
                Arg(
                    "season_length",
                    "Periods per season, e.g. 12 for months (default: found)",
                    range=False,
                    type="number",
                    optional=True,
                ),
                Arg(
                    "level",
                    "Range width: 0.8 or 80 for 80% (default), 0.95 or 95 for 95%",
                    range=False,
                    type="number",
                    optional=True,
                ),
                HEADERS,
            ),
            ("date", "forecast", "low (80%)", "high (80%)"),
            "many",
            function_impls.forecast,
        ),
        WorksheetFunction(
            "PRICE",
            "Suggested price from past prices and units sold at them, with the price "
            "elasticity and how sure it is.",
            (
                Arg("prices", "Price in each period", type="number"),
                Arg("quantities", "Units sold in each period", type="number"),
                Arg(
                    "unit_cost",
                    "Cost of one unit (keeps the price above it)",
                    range=False,
                    type="number",
                    optional=True,
                ),
                Arg(
                    "max_change",
                    "Largest change in one step, e.g. 10% (default 10%)",
                    range=False,
                    type="number",
                    optional=True,
                ),
                HEADERS,
                # after headers, so PRICE(p, q, c, m, FALSE) written before it still works
                Arg(
                    "dates",
                    "Date of each period: a trend in sales is then held apart from the price",
                    type="date",
                    optional=True,
                ),
            ),
            ("suggested price", "elasticity", "confidence", "reason"),
            "one",
            function_impls.price,
        ),
        WorksheetFunction(
            "ABTEST",
            "Chance version B beats A, the lift with a 95% range, and the visitors each "
            "version still needs.",
            (
                Arg("conversions_a", "Conversions of version A", range=False, type="number"),
                Arg("visitors_a", "Visitors of version A", range=False, type="number"),
                Arg("conversions_b", "Conversions of version B", range=False, type="number"),
                Arg("visitors_b", "Visitors of version B", range=False, type="number"),
                HEADERS,
            ),
            (
                "chance B beats A",
                "lift",
                "lift low (95%)",
                "lift high (95%)",
                "more visitors on A",
                "more visitors on B",
                "verdict",
            ),
            "one",
            function_impls.abtest,
        ),
        WorksheetFunction(
            "FORECAST.ETS",
            "Excel's FORECAST.ETS (AAA exponential smoothing), same arguments: the "
            "forecast at each target date.",
            (_TARGET, _VALUES, _TIMELINE, _SEASONALITY, _COMPLETION, _AGGREGATION),
            ("forecast",),
            "many",
            function_impls.forecast_ets,
            header=False,
        ),
        WorksheetFunction(
            "FORECAST.ETS.CONFINT",
            "Excel's FORECAST.ETS.CONFINT: half the width of the range around the "
            "forecast at each target date.",
            (
                _TARGET,
                _VALUES,
                _TIMELINE,
                Arg(
                    "confidence_level",
                    "Between 0 and 1 (default 0.95)",
                    range=False,
                    type="number",
                    optional=True,
                ),
                _SEASONALITY,
                _COMPLETION,
                _AGGREGATION,
            ),
            ("half width",),
            "many",
            function_impls.forecast_ets_confint,
            header=False,
        ),
        WorksheetFunction(
            "FORECAST.ETS.SEASONALITY",
            "Excel's FORECAST.ETS.SEASONALITY: the season length found (0 for none).",
            (_VALUES, _TIMELINE, _COMPLETION, _AGGREGATION),
            ("season length",),
            "one",
            function_impls.forecast_ets_seasonality,
            header=False,
        ),
    )
}


@dataclass(frozen=True)
class CallResult:
    value: Matrix | None = None
    error: str | None = None
    notes: tuple[str, ...] = ()
    cached: bool = False
    code: ErrorCode = "#VALUE!"  # the Excel error value shown when `error` is set
    header: bool = True  # the value's first row is a header row
    # Excel number format per column ("yyyy-mm-dd", "0%"), None where the cell's own
    # format should stay: Office.js sends them as formatted numbers.
    formats: tuple[str | None, ...] = ()

    @property
    def cells(self) -> Matrix:
        """What a workbook written by smbml shows: the table, or the message alone."""
        return self.value if self.value is not None else [[self.error]]


def _failure(message: str, code: ErrorCode, context: FunctionContext) -> CallResult:
    """An error result; the message also goes to the log and the task pane's list, since
    the cell itself shows only the error value."""
    log.warning("%s %s", code, message)
    context.recent_notes.append(f"{code} {message}")
    return CallResult(error=message, code=code)


@dataclass
class FunctionContext:
    """What a call may read besides its inputs: the store of synced results."""

    store_path: Path | None = None
    cache: ResultCache[CallResult] = field(
        default_factory=lambda: ResultCache(weigh=lambda r: sum(map(len, r.cells)))
    )
    # What the latest computed calls left out or assumed, newest last: the task pane
    # shows them, since a cell has no room for "row 4 was left out".
    recent_notes: deque[str] = field(default_factory=lambda: deque(maxlen=50))
    # (the newest run with scores, None before any has stored some; the scores it holds)
    _scores: tuple[int | None, pd.DataFrame] | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def lead_scores(self) -> pd.DataFrame | None:
        """Latest lead scores with emails, reloaded only when a newer run has stored some."""
        from smbml_connect.store import Store

        if self.store_path is None:
            return None
        if not Path(self.store_path).exists():
            raise CellError(
                # the advice first: a cell's error is cut at 240 characters, and a long
                # path at the front cut it off (a CI run's temporary folder did)
                "no lead scores: run smbml run (or smbml demo) first, or name the store it "
                "wrote (smbml serve --store PATH; for the xlwings add-in, the SMBML_STORE "
                f"environment variable); there is no store at {self.store_path}",
                "#N/A",
            )
        with self._lock, Store.reading(self.store_path) as store:
            newest = store.latest_run_with("scores")
            if self._scores is None or self._scores[0] != newest:
                scores = store.latest_outputs("scores")
                scores = scores[scores["model"] == "lead_score"]
                emails = store.read("contacts")[["contact_id", "email"]]
                merged = scores.merge(
                    emails, how="left", left_on="entity_id", right_on="contact_id"
                )
                merged["email"] = merged["email"].astype("string").fillna("")
                merged["zone"] = _run_zones(store, merged["run_id"])
                self._scores = (newest, merged)
            return self._scores[1]


def _run_zones(store: Any, run_ids: pd.Series) -> pd.Series:
    """The business's clock of each run (its source's zone, as the run kept it; UTC where
    none was kept): "scored at" is shown on it, as every time in the workbook is."""
    runs, zones = store.run_sources(), store.zones()
    return run_ids.map(runs).map(zones).fillna("UTC").astype(str)


DEFAULT_CONTEXT = FunctionContext()


def function(name: str) -> WorksheetFunction:
    key = name.upper().removeprefix("SMB.").removeprefix("SMB_")
    if key not in REGISTRY:
        raise KeyError(f"no worksheet function {name!r}; there are {', '.join(REGISTRY)}")
    return REGISTRY[key]


def _compute(spec: WorksheetFunction, args: Sequence[Any], context: FunctionContext) -> CallResult:
    """Run one implementation; errors become the cell's message, notes go to the log."""
    try:
        if spec.uses_store:
            frame, notes = spec.implementation(*args, context.lead_scores())
        else:
            frame, notes = spec.implementation(*args)
        value = matrix_from_frame(frame)
        formats = column_formats(frame)
    except OutOfTime:
        raise  # not cached: `call` answers it
    except (SmbmlError, ValueError) as error:
        return _failure(f"{spec.name}: {_short(error)}", _code(error), context)
    except Exception:
        log.exception("worksheet function %s failed", spec.name)
        message = f"{spec.name}: unexpected error, details are in the smbml log"
        return _failure(message, "#VALUE!", context)
    kept = tuple(n for n in notes if n)
    for note in kept:
        log.info("%s: %s", spec.name, note)
        context.recent_notes.append(f"{spec.name}: {note}")
    return CallResult(value=value, notes=kept, formats=formats)


def _code(error: Exception) -> ErrorCode:
    return error.code if isinstance(error, CellError) else "#VALUE!"


def _short(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text if len(text) <= 240 else text[:237] + "..."


def warm_up() -> None:
    """What a server's first worksheet calls would otherwise wait for (the forecast's CES
    library): run once when the server starts, beside the first calls."""
    function_impls.warm_up()


def call(name: str, args: Sequence[Any], context: FunctionContext | None = None) -> CallResult:
    """Run one worksheet function on cell values (ranges as lists of rows)."""
    context = context or DEFAULT_CONTEXT
    try:
        spec = function(name)
    except KeyError as error:
        return _failure(str(error.args[0]), "#VALUE!", context)
    args = without_blank_tail([_today_resolved(_plain(a)) for a in args])
    deep = next((i for i, a in enumerate(args) if _too_deep(a)), None)
    if deep is not None:
        name_of = spec.args[deep].name if deep < len(spec.args) else f"argument {deep + 1}"
        kind = _data_type(args[deep])
        message = (
            f"{spec.name}: {name_of} holds an Excel data type ({kind}) that is not a number, "
            "text or date: give the cells' values"
            if kind is not None
            else f"{spec.name}: {name_of} must be a value or a range of cells, got nested lists"
        )
        return _failure(message, "#VALUE!", context)
    while len(args) > spec.required and args and args[-1] is None:
        args.pop()  # Excel passes omitted optional arguments as null
    if not spec.required <= len(args) <= len(spec.args):
        wanted = (
            f"{spec.required}"
            if spec.required == len(spec.args)
            else f"{spec.required} to {len(spec.args)}"
        )
        message = f"{spec.name}: takes {wanted} arguments, got {len(args)}: {spec.usage()}"
        return _failure(message, "#VALUE!", context)
    with_header = spec.header
    at = next((i for i, a in enumerate(spec.args) if a is HEADERS), None)
    if at is not None:  # last, but for arguments added after it (PRICE's dates)
        given = args.pop(at) if len(args) > at else None
        while len(args) > spec.required and args[-1] is None:
            args.pop()  # so FORECAST(d, v, 3, , , FALSE) shares FORECAST(d, v, 3)'s answer
        try:
            with_header = flag(given, "headers", default=True)
        except DataValidationError as error:
            return _failure(f"{spec.name}: {error}", "#VALUE!", context)
    if spec.uses_store:
        try:
            return _shown(_compute(spec, args, context), with_header)
        except OutOfTime as error:
            return _failure(f"{spec.name}: {_short(error)}", error.code, context)
    key = input_hash(f"{__version__}:{spec.name}", args)
    holder: dict[str, bool] = {}

    def compute() -> CallResult:
        holder["computed"] = True
        return _compute(spec, args, context)

    try:
        result = _shown(context.cache.get_or_compute(key, compute), with_header)
    except OutOfTime as error:  # the same inputs may finish another time: not cached
        return _failure(f"{spec.name}: {_short(error)}", error.code, context)
    return result if holder else replace(result, cached=True)


def _shown(result: CallResult, with_header: bool) -> CallResult:
    """The result as the cell shows it: the header row left out when not wanted."""
    if with_header or result.value is None:
        return result
    return replace(result, value=result.value[1:], header=False)


def without_blank_tail(args: list[Any]) -> list[Any]:
    """Ranges cut below the last row any of them fills: a whole-column reference (A:A)
    is a million rows, nearly all blank, and everything after this sees only the rows
    in use. Only rows blank in every range go, so ranges of unequal size stay unequal."""
    ranges = [i for i, a in enumerate(args) if isinstance(a, list) and a and _is_rows(a)]
    if not ranges:
        return args
    used = max(filled_rows(args[i]) for i in ranges)
    return [a[:used] if i in ranges and len(a) > used else a for i, a in enumerate(args)]


def _is_rows(value: list[Any]) -> bool:
    return isinstance(value[0], list) and isinstance(value[-1], list)


def _today_resolved(value: Any) -> Any:
    """The word today, as a date argument, means the date of the call: resolved before
    the cache key is made, so tomorrow's call is computed again."""
    if isinstance(value, str) and value.strip().lower() == "today":
        return dt.date.today().isoformat()
    return value


def _plain(value: Any) -> Any:
    """A cell's plain value where Office.js hands over an object. With the manifest's
    allowCustomDataForDataTypeAny an `any` parameter receives a formatted number (the
    dates and percents an SMB function spills, passed on to another one) as
    {"type": "FormattedNumber", "basicValue": 45292, ...}, and an entity (a stock, a
    currency) as {"type": "Entity", "text": ...}: their number, and the text the cell
    shows, as the xlwings add-in receives them. An error cell is blank, as in xlwings.
    Type sets, not loops, for ranges without objects: a whole column is a million cells."""
    if isinstance(value, dict):
        return _basic(value)
    if not isinstance(value, list) or not value:
        return value
    if set(map(type, value)) <= {list, tuple}:
        if dict not in set(map(type, itertools.chain.from_iterable(value))):
            return value
        return [[_basic(c) if isinstance(c, dict) else c for c in row] for row in value]
    if dict not in set(map(type, value)):
        return value
    return [_basic(c) if isinstance(c, dict) else c for c in value]


def _basic(cell: dict[str, Any]) -> Any:
    kind = str(cell.get("type", ""))
    if kind == "Error":
        return None
    if "Entity" in kind and isinstance(cell.get("text"), str):
        return cell["text"]
    if cell.get("basicType") == "Error":
        return cell  # an image or another type with no value: refused, named
    basic = cell.get("basicValue", cell)
    return basic if isinstance(basic, str | int | float | bool) or basic is None else cell


def _data_type(value: Any) -> str | None:
    """The type of the first object left in an argument (one `_plain` could not read)."""
    cells = value if isinstance(value, list) else [value]
    rows = [c if isinstance(c, list) else [c] for c in cells]
    found = next((c for c in itertools.chain.from_iterable(rows) if isinstance(c, dict)), None)
    return None if found is None else str(found.get("type", "an object"))


def _too_deep(value: Any) -> bool:
    """Lists inside the rows of a range: not something Excel sends, and hashing or
    reading it would only fail further in (a body nested 254 levels deep once cost a
    whole batch of calls). Type sets, not loops: a whole column is a million cells."""
    if not isinstance(value, list | tuple):
        return isinstance(value, dict)
    containers = {list, tuple, dict}
    row_types = set(map(type, value))
    if not row_types <= {list, tuple}:
        return bool(row_types & containers)  # a flat list: only plain values may be in it
    return bool(set(map(type, itertools.chain.from_iterable(value))) & containers)
