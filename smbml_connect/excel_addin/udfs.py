"""Classic xlwings add-in (Windows desktop Excel): =SMB_FORECAST(...) and friends.

Setup (README, "Windows desktop Excel"): the project's Python as the xlwings
interpreter, `xlwings addin install`, trust access to the VBA project, then in the
xlwings ribbon tab set UDF Modules to `smbml_connect.excel_addin.udfs` and click Import
Functions. VBA names cannot contain dots, hence SMB_ rather than SMB. and
SMB_FORECAST_ETS for SMB.FORECAST.ETS. Each function is a one-line adapter over
smbml_connect.functions; only the BSD part of xlwings is used (no xlwings.pro, no
xlwings.server, no licence key).

The functions carry no type hints on purpose: xlwings reads a hint as a converter.
`call_in_wizard=False`: Excel's Function Wizard would otherwise run each function (and
retrain LEADSCORE) on every keystroke of its dialog.
"""

from __future__ import annotations

from smbml_connect.runtime import prefer_passive_openmp_waits

# Excel's Python imports this module to serve the functions: here the import is the
# entry point, and it runs before the bridge loads LightGBM and scikit-learn (OpenMP).
prefer_passive_openmp_waits()

import threading  # noqa: E402
from typing import Any  # noqa: E402

import pandas as pd  # noqa: E402
import xlwings as xw  # noqa: E402

from smbml_connect.excel_addin.xlwings_bridge import (  # noqa: E402
    CATEGORY,
    arg_doc,
    described,
    run,
)
from smbml_connect.functions import warm_up  # noqa: E402


def warm_in_background() -> threading.Thread:
    """Excel loads this module when its UDF server starts; the first =SMB_FORECAST would
    otherwise wait for the CES library's import, as `smbml serve`'s first call would
    without its warm-up. A daemon thread takes that wait while the user is still typing."""
    thread = threading.Thread(target=warm_up, name="smbml-warm-up", daemon=True)
    thread.start()
    return thread


WARMING = warm_in_background()

TABLE = {"convert": pd.DataFrame, "index": False, "header": True}
RANGE = {"ndim": 2}
FUNC: dict[str, Any] = {"category": CATEGORY, "call_in_wizard": False}


def plain(name, *names):
    """Arguments passed as xlwings reads a single cell (or a range, unconverted)."""

    def apply(f):
        for arg in names:
            f = xw.arg(arg, doc=arg_doc(name, arg))(f)
        return f

    return apply


def ranges(name, *names):
    """Arguments read as two-dimensional ranges (lists of rows)."""

    def apply(f):
        for arg in names:
            f = xw.arg(arg, doc=arg_doc(name, arg), **RANGE)(f)
        return f

    return apply


@xw.func(**FUNC)
@xw.arg("table_with_header", doc=arg_doc("LEADSCORE", "table_with_header"), **TABLE)
@plain("LEADSCORE", "target_column", "all_rows", "headers")
@described("LEADSCORE")
def SMB_LEADSCORE(table_with_header, target_column=None, all_rows=None, headers=None):
    return run("LEADSCORE", table_with_header, target_column, all_rows, headers)


@xw.func(**FUNC)
@plain("LEADSCORE_OF", "email_or_id", "headers")
@described("LEADSCORE_OF")
def SMB_LEADSCORE_OF(email_or_id, headers=None):
    return run("LEADSCORE_OF", email_or_id, headers)


@xw.func(**FUNC)
@ranges("SEGMENT", "customer_ids", "order_dates", "amounts")
@plain("SEGMENT", "as_of", "headers")
@described("SEGMENT")
def SMB_SEGMENT(customer_ids, order_dates, amounts, as_of=None, headers=None):
    return run("SEGMENT", customer_ids, order_dates, amounts, as_of, headers)


@xw.func(**FUNC)
@ranges("CHURN", "customer_ids", "order_dates", "amounts")
@plain("CHURN", "as_of", "headers")
@described("CHURN")
def SMB_CHURN(customer_ids, order_dates, amounts, as_of=None, headers=None):
    return run("CHURN", customer_ids, order_dates, amounts, as_of, headers)


@xw.func(**FUNC)
@ranges("FORECAST", "dates", "values")
@plain("FORECAST", "horizon", "season_length", "level", "headers")
@described("FORECAST")
def SMB_FORECAST(dates, values, horizon, season_length=None, level=None, headers=None):
    return run("FORECAST", dates, values, horizon, season_length, level, headers)


@xw.func(**FUNC)
@ranges("PRICE", "prices", "quantities", "dates")
@plain("PRICE", "unit_cost", "max_change", "headers")
@described("PRICE")
def SMB_PRICE(prices, quantities, unit_cost=None, max_change=None, headers=None, dates=None):
    return run("PRICE", prices, quantities, unit_cost, max_change, headers, dates)


@xw.func(**FUNC)
@plain("ABTEST", "conversions_a", "visitors_a", "conversions_b", "visitors_b", "headers")
@described("ABTEST")
def SMB_ABTEST(conversions_a, visitors_a, conversions_b, visitors_b, headers=None):
    return run("ABTEST", conversions_a, visitors_a, conversions_b, visitors_b, headers)


ETS = ("seasonality", "data_completion", "aggregation")


@xw.func(**FUNC)
@ranges("FORECAST.ETS", "target_date", "values", "timeline")
@plain("FORECAST.ETS", *ETS)
@described("FORECAST.ETS")
def SMB_FORECAST_ETS(
    target_date, values, timeline, seasonality=None, data_completion=None, aggregation=None
):
    return run(
        "FORECAST.ETS", target_date, values, timeline, seasonality, data_completion, aggregation
    )


@xw.func(**FUNC)
@ranges("FORECAST.ETS.CONFINT", "target_date", "values", "timeline")
@plain("FORECAST.ETS.CONFINT", "confidence_level", *ETS)
@described("FORECAST.ETS.CONFINT")
def SMB_FORECAST_ETS_CONFINT(
    target_date,
    values,
    timeline,
    confidence_level=None,
    seasonality=None,
    data_completion=None,
    aggregation=None,
):
    return run(
        "FORECAST.ETS.CONFINT",
        target_date,
        values,
        timeline,
        confidence_level,
        seasonality,
        data_completion,
        aggregation,
    )


@xw.func(**FUNC)
@ranges("FORECAST.ETS.SEASONALITY", "values", "timeline")
@plain("FORECAST.ETS.SEASONALITY", "data_completion", "aggregation")
@described("FORECAST.ETS.SEASONALITY")
def SMB_FORECAST_ETS_SEASONALITY(values, timeline, data_completion=None, aggregation=None):
    return run("FORECAST.ETS.SEASONALITY", values, timeline, data_completion, aggregation)
