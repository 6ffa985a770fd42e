"""What the xlwings UDFs share: registry help for Excel's function wizard, and one call.

The UDFs receive what xlwings' converters made of the cells (lists of rows, a
DataFrame with its header, datetimes, None for empty cells) and hand it to the
registry; the answer goes back as a DataFrame so xlwings writes it with its header.
A missing number is #N/A, as in Excel's own functions; an error is one short message.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd

from smbml_connect.functions import call, function

__all__ = ["CATEGORY", "arg_doc", "described", "not_available", "run"]

CATEGORY = "SMB ML"
XL_ERR_NA = -2146826246  # the COM error code Excel shows as #N/A
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


def not_available() -> Any:
    """#N/A in a returned array: a COM error variant on Windows, the text elsewhere."""
    if sys.platform.startswith("win"):
        import pythoncom
        from win32com.client import VARIANT

        return VARIANT(pythoncom.VT_ERROR, XL_ERR_NA)
    return "#N/A"


def _cells(value: Any) -> Any:
    if isinstance(value, pd.DataFrame):  # a table read with its header
        header = [str(c) for c in value.columns]
        body = value.astype(object).where(value.notna(), None).to_numpy().tolist()
        return [header, *body]
    return value


def run(name: str, *args: Any) -> pd.DataFrame | str:
    result = call(name, [_cells(a) for a in args])
    if result.error is not None or not result.value:
        return result.error or ""
    header, *rows = result.value
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    return frame.where(frame.notna(), not_available())
