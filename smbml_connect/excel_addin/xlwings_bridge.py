"""What the xlwings UDFs share: registry help for Excel's function wizard, and one call.

The UDFs receive what xlwings' converters made of the cells (lists of rows, a
DataFrame with its header, datetimes, None for empty cells) and hand it to the
registry; the answer goes back as rows of real dates and numbers, header row first.
A missing number is #N/A, as in Excel's own functions. A failure is an Excel error
value (#VALUE!, #NUM!, #N/A...) that IFERROR can catch, returned as the COM error
variant pywin32 provides, the form xlwings itself reads cell errors in (the free part
of xlwings has no error type of its own for UDF results); its message goes to the
smbml log, since a cell holding an error value has no room for text. LEADSCORE_OF reads
the store `smbml serve` reads without --store: SMBML_STORE, else the default store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from smbml_connect.cell_values import header_text
from smbml_connect.functions import FunctionContext, call, function
from smbml_connect.store import worksheet_store_path

__all__ = ["CATEGORY", "XL_ERRORS", "arg_doc", "context", "described", "error_value", "run"]

log = logging.getLogger(__name__)
CATEGORY = "SMB ML"
# The COM codes (HRESULTs) of Excel's error values, as xlwings' Windows engine maps them.
XL_ERRORS = {
    "#NULL!": -2146826288,
    "#DIV/0!": -2146826281,
    "#VALUE!": -2146826273,
    "#REF!": -2146826265,
    "#NAME?": -2146826259,
    "#NUM!": -2146826252,
    "#N/A": -2146826246,
}
F = TypeVar("F", bound=Callable[..., Any])


def described(name: str) -> Callable[[F], F]:
    """Sets the docstring (Excel's function description) from the registry.

    Put it below the xlwings decorators: they read the docstring when applied.
    """

    def decorate(f: F) -> F:
        f.__doc__ = function(name).help
        return f

    return decorate


def arg_doc(name: str, arg: str) -> str:
    return next(a.help for a in function(name).args if a.name == arg)


def error_value(code: str) -> Any:
    """An Excel error value in a UDF result: a COM error variant (VT_ERROR) on Windows,
    where xlwings UDFs run; the error's text where there is no COM."""
    try:
        import pythoncom
        from win32com.client import VARIANT
    except ImportError:
        return code
    return VARIANT(pythoncom.VT_ERROR, XL_ERRORS[code])


def _cells(value: Any) -> Any:
    if isinstance(value, pd.DataFrame):  # a table read with its header
        # A blank header cell (a merged one keeps its text in the first cell only) is
        # None to xlwings: "" lets as_table name it "column 2" rather than "None"; a year
        # as a header is 2024.0 to xlwings, "2024" as Office.js sends it.
        header = [header_text(c) for c in value.columns]
        body = value.astype(object).where(value.notna(), None).to_numpy().tolist()
        return [header, *body]
    return value


_CONTEXTS: dict[Path, FunctionContext] = {}


def context() -> FunctionContext:
    """What the calls read: the store `smbml serve` reads without --store (SMBML_STORE,
    else the default store), one context per store so its scores are loaded once."""
    path = worksheet_store_path()
    return _CONTEXTS.setdefault(path, FunctionContext(store_path=path))


def run(name: str, *args: Any) -> Any:
    """The answer as rows (the header row first, unless asked to leave it out), with
    Excel's error values where a number is missing or the call failed."""
    result = call(name, [_cells(a) for a in args], context())
    if result.error is not None or result.value is None:
        log.warning("SMB_%s: %s %s", name.replace(".", "_"), result.code, result.error)
        return error_value(result.code)
    missing = error_value("#N/A")
    return [[missing if v is None else v for v in row] for row in result.value]
