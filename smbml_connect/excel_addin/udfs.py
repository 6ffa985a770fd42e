"""Classic xlwings add-in (Windows desktop Excel): =SMB_FORECAST(...) and friends.

Setup: `pip install smbml-connect`, `xlwings addin install`, then in the xlwings ribbon
tab set UDF Modules to `smbml_connect.excel_addin.udfs` and click Import Functions. VBA names cannot
contain dots, hence SMB_ rather than SMB. Each function is a one-line adapter over
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

import pandas as pd  # noqa: E402
import xlwings as xw  # noqa: E402

from smbml_connect.excel_addin.xlwings_bridge import (  # noqa: E402
    CATEGORY,
    arg_doc,
    described,
    run,
)

TABLE = {"convert": pd.DataFrame, "index": False, "header": True}
RANGE = {"ndim": 2}


@xw.func(category=CATEGORY, call_in_wizard=False)
@xw.arg("table_with_header", doc=arg_doc("LEADSCORE", "table_with_header"), **TABLE)
@xw.arg("target_column", doc=arg_doc("LEADSCORE", "target_column"))
@xw.ret(index=False, header=True)
@described("LEADSCORE")
def SMB_LEADSCORE(table_with_header, target_column=None):
    return run("LEADSCORE", table_with_header, target_column)


@xw.func(category=CATEGORY, call_in_wizard=False)
@xw.arg("email_or_id", doc=arg_doc("LEADSCORE_OF", "email_or_id"))
@xw.ret(index=False, header=True)
@described("LEADSCORE_OF")
def SMB_LEADSCORE_OF(email_or_id):
    return run("LEADSCORE_OF", email_or_id)


def order_args(name):
    """SEGMENT and CHURN take the same three order columns and an as-of date."""

    def apply(f):
        for arg in ("customer_ids", "order_dates", "amounts"):
            f = xw.arg(arg, doc=arg_doc(name, arg), **RANGE)(f)
        return xw.arg("as_of", doc=arg_doc(name, "as_of"))(f)

    return apply


@xw.func(category=CATEGORY, call_in_wizard=False)
@order_args("SEGMENT")
@xw.ret(index=False, header=True)
@described("SEGMENT")
def SMB_SEGMENT(customer_ids, order_dates, amounts, as_of=None):
    return run("SEGMENT", customer_ids, order_dates, amounts, as_of)


@xw.func(category=CATEGORY, call_in_wizard=False)
@order_args("CHURN")
@xw.ret(index=False, header=True)
@described("CHURN")
def SMB_CHURN(customer_ids, order_dates, amounts, as_of=None):
    return run("CHURN", customer_ids, order_dates, amounts, as_of)


@xw.func(category=CATEGORY, call_in_wizard=False)
@xw.arg("dates", doc=arg_doc("FORECAST", "dates"), **RANGE)
@xw.arg("values", doc=arg_doc("FORECAST", "values"), **RANGE)
@xw.arg("horizon", doc=arg_doc("FORECAST", "horizon"))
@xw.arg("season_length", doc=arg_doc("FORECAST", "season_length"))
@xw.arg("level", doc=arg_doc("FORECAST", "level"))
@xw.ret(index=False, header=True)
@described("FORECAST")
def SMB_FORECAST(dates, values, horizon, season_length=None, level=None):
    return run("FORECAST", dates, values, horizon, season_length, level)


@xw.func(category=CATEGORY, call_in_wizard=False)
@xw.arg("prices", doc=arg_doc("PRICE", "prices"), **RANGE)
@xw.arg("quantities", doc=arg_doc("PRICE", "quantities"), **RANGE)
@xw.arg("unit_cost", doc=arg_doc("PRICE", "unit_cost"))
@xw.arg("max_change", doc=arg_doc("PRICE", "max_change"))
@xw.ret(index=False, header=True)
@described("PRICE")
def SMB_PRICE(prices, quantities, unit_cost=None, max_change=None):
    return run("PRICE", prices, quantities, unit_cost, max_change)


@xw.func(category=CATEGORY, call_in_wizard=False)
@xw.arg("conversions_a", doc=arg_doc("ABTEST", "conversions_a"))
@xw.arg("visitors_a", doc=arg_doc("ABTEST", "visitors_a"))
@xw.arg("conversions_b", doc=arg_doc("ABTEST", "conversions_b"))
@xw.arg("visitors_b", doc=arg_doc("ABTEST", "visitors_b"))
@xw.ret(index=False, header=True)
@described("ABTEST")
def SMB_ABTEST(conversions_a, visitors_a, conversions_b, visitors_b):
    return run("ABTEST", conversions_a, visitors_a, conversions_b, visitors_b)
