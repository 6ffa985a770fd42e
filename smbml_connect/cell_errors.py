"""Spreadsheets' error values (a lookup's ``#N/A``, a division's ``#DIV/0!``) as cells
that hold no value.

Excel saves a failed formula's result as its error, and Google Sheets answers one with
the error's text whatever the value render asked for. Read as text, ``#N/A`` was taken
for a blank (the placeholder word) and the others for bad values. Each is an unreadable
cell instead (``coerce.UnreadCell``), listed with its row, column, value and meaning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from smbml_connect.coerce import UnreadCell
from smbml_connect.schema import TABLES

__all__ = ["EXCEL", "GOOGLE_SHEETS", "ErrorValues", "unreadable_errors"]


@dataclass(frozen=True)
class ErrorValues:
    """One program's error values, with what each means to a shop owner."""

    owner: str  # whose errors, as the line says it: "Excel's"
    home: str  # where the formula is corrected: "workbook"
    meanings: Mapping[str, str]

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(self.meanings)

    def reason(self, code: str) -> str:
        return (
            f"is {self.owner} error {code} ({self.meanings[code]}), not a value: correct the "
            f"formula in the {self.home} or type the value"
        )


_SHARED = {
    "#N/A": "a lookup that found nothing",
    "#DIV/0!": "a division by zero",
    "#VALUE!": "a formula given the wrong kind of value",
    "#NUM!": "a number a formula cannot compute",
    "#NULL!": "ranges that do not meet",
}
EXCEL = ErrorValues(
    "Excel's",
    "workbook",
    {
        **_SHARED,
        "#REF!": "a formula pointing at cells that were deleted",
        "#NAME?": "a formula naming something Excel does not know",
        "#GETTING_DATA": "a value Excel was still fetching when the file was saved",
        "#SPILL!": "a formula whose results had no room",
        "#CALC!": "a formula that could not be calculated",
    },
)
# Google's ErrorValue types: ERROR, NULL_VALUE, DIVIDE_BY_ZERO, VALUE, REF, NAME, NUM, N_A
# and LOADING, as the text values.get answers for them.
GOOGLE_SHEETS = ErrorValues(
    "Google Sheets'",
    "spreadsheet",
    {
        **_SHARED,
        "#REF!": "a formula pointing at cells that are gone, at itself, or with no room "
        "for its results",
        "#NAME?": "a formula naming something Google Sheets does not know",
        "#ERROR!": "a formula Google Sheets cannot read; text typed starting with + or - is "
        "taken for one",
        "Loading...": "a value Google Sheets was still fetching (IMPORTRANGE, GOOGLEFINANCE) "
        "when it was read",
    },
)


def unreadable_errors(entity: str, frame: pd.DataFrame, errors: ErrorValues) -> pd.DataFrame:
    """Error values in a table's own columns as unreadable cells: each is listed with its
    row, column and value (``#N/A`` was read as a blank, unlisted). Consent is left to its
    reader, which counts an error as no consent; extra columns keep the text."""
    if frame.empty:
        return frame
    spec = TABLES[entity]
    out = frame
    for name in [c for c in frame.columns if c in spec.names]:
        if spec.column(name).kind in ("consent", "bool") or frame[name].dtype != object:
            continue
        hits = frame[name].isin(errors.codes).to_numpy(dtype=bool)
        if hits.any():
            out = out.copy() if out is frame else out
            out[name] = [
                UnreadCell(v, errors.reason(v)) if hit else v
                for v, hit in zip(frame[name].tolist(), hits.tolist(), strict=True)
            ]
    return out
