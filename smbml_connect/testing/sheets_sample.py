"""Put the sample business into an emulated spreadsheet, as a shop keeping it in Sheets has it.

Headers are the words people type ("E-mail Address", "Ordered At"), values are typed
in (USER_ENTERED), so dates become date cells and numbers numbers, exactly as if a
person had entered or pasted them. A tab of the user's own ("Notes") sits beside the
tables, so tests can check that it is never touched.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from smbml_connect.sample import SampleBusiness, messy_export
from smbml_connect.testing.sheets_state import SheetsState, Spreadsheet

__all__ = ["SAMPLE_KEY", "TAB_TITLES", "load_sample_sheets", "typed_rows"]

SAMPLE_KEY = "1SmbmlSampleShopSpreadsheetKey0000000000"
TAB_TITLES = {
    "contacts": "Customers",
    "deals": "Deals",
    "orders": "Orders",
    "order_lines": "Order Lines",
    "products": "Products",
}
_HEADERS = {"email": "E-mail Address", "contact_id": "Customer ID"}


def typed_rows(frame: pd.DataFrame, headers: Mapping[str, str] | None = None) -> list[list[Any]]:
    """A header row plus the values as a person would type them."""
    names = [(headers or {}).get(c, c.replace("_", " ").title()) for c in frame.columns]
    rows: list[list[Any]] = [names]
    for record in frame.itertuples(index=False):
        rows.append([_typed(v) for v in record])
    return rows


def _typed(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        stamp = value.tz_convert(None) if value.tzinfo else value
        return stamp.strftime("%Y-%m-%d %H:%M:%S")
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def load_sample_sheets(
    state: SheetsState,
    business: SampleBusiness,
    key: str = SAMPLE_KEY,
    messy: bool = False,
    shared_with: list[str] | None = None,
) -> Spreadsheet:
    """The sample's tables as tabs; ``messy`` uses the export with known faults."""
    tables = messy_export(business)[0] if messy else business.tables
    tabs: dict[str, list[list[Any]]] = {
        "Notes": [["Our own notes: smbml must never touch this tab"], ["=1+1"]]
    }
    for table, title in TAB_TITLES.items():
        tabs[title] = typed_rows(tables[table], _HEADERS)
    return state.create(key, "Sample coffee shop", tabs, shared_with=shared_with)
