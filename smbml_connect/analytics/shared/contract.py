"""The one contract every model in `analytics` follows, and the helpers behind it.

scikit-learn's habits: `__init__` only stores settings; `fit(...)` checks its input and
returns `self`; learned state lives in attributes ending in `_`; a model used before
`fit` raises `NotFittedError` saying what to do; `random_state` in, the same result out.
A fitted model saves as text and nothing else: `to_text()` gives JSON (a LightGBM
booster inside it in LightGBM's own text format) and the class method
`from_text(text)` reads it back, so a saved model is never unpickled.
tests/test_model_contract.py runs the same checks over every model.
"""

from __future__ import annotations

import json
import math
from typing import Any, Protocol, Self, runtime_checkable

import numpy as np
import pandas as pd

from smbml_connect.errors import DataValidationError, NotFittedError

__all__ = [
    "Model",
    "check_fitted",
    "frame_from_dict",
    "frame_to_dict",
    "read_text",
    "write_text",
]


@runtime_checkable
class Model(Protocol):
    """What every model offers besides its own `fit` and predict-like methods."""

    def fit(self, *args: Any, **kwargs: Any) -> Self: ...

    def to_text(self) -> str: ...

    @classmethod
    def from_text(cls, text: str) -> Self: ...


def check_fitted(model: object, attribute: str, what: str | None = None) -> None:
    """Raise `NotFittedError` unless `model` has the learned `attribute` (ending in `_`)."""
    if not hasattr(model, attribute):
        name = type(model).__name__
        raise NotFittedError(
            f"this {what or name} is not fitted yet: call fit(...) first, or read a saved "
            f"one with {name}.from_text(...)"
        )


def write_text(kind: str, version: int, body: dict[str, Any]) -> str:
    """A saved model: its format name and version, then `body` (plain JSON values)."""
    return json.dumps({"format": kind, "version": version, **body}, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be saved as text")


def read_text(text: str, kind: str, versions: tuple[int, ...] = (1,)) -> dict[str, Any]:
    """The body `write_text` wrote, after checking it is this kind of model."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as error:
        raise DataValidationError(f"not a saved smbml model ({kind}): {error}") from None
    if not isinstance(data, dict) or data.get("format") != kind:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise DataValidationError(f"not a saved {kind} model (found format {found!r})")
    if data.get("version") not in versions:
        raise DataValidationError(
            f"this {kind} model was saved as version {data.get('version')!r}; this version of "
            f"smbml_connect reads {', '.join(map(str, versions))}: fit it again"
        )
    return data


# -- frames as plain JSON values, exactly ------------------------------------------------


def _plain(value: Any) -> Any:
    """One cell as a JSON value; timestamps are tagged so they come back as timestamps."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return {"timestamp": value.isoformat()}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str | bool | int | float):
        return value
    if value is pd.NA:
        return None
    return str(value)


def _unplain(value: Any) -> Any:
    if isinstance(value, dict) and "timestamp" in value:
        return pd.Timestamp(value["timestamp"])
    return value


def _column_to_dict(values: pd.Series | pd.Index) -> dict[str, Any]:
    dtype = str(values.dtype)
    if isinstance(values.dtype, pd.DatetimeTZDtype) or dtype.startswith("datetime64"):
        cells = [None if pd.isna(v) else v.isoformat() for v in values]
    else:
        cells = [_plain(v) for v in values]
    return {"dtype": dtype, "values": cells}


def _column_from_dict(data: dict[str, Any]) -> pd.Series:
    dtype, values = data["dtype"], data["values"]
    if dtype.startswith("datetime64"):
        return pd.Series(pd.to_datetime(values, format="ISO8601")).astype(dtype)
    if dtype == "object":
        return pd.Series([_unplain(v) for v in values], dtype=object)
    if dtype.startswith(("float", "Float")):
        return pd.Series([np.nan if v is None else v for v in values], dtype=dtype)
    return pd.Series(values, dtype=dtype)


def frame_to_dict(frame: pd.DataFrame) -> dict[str, Any]:
    """A frame (index, column order and dtypes included) as plain JSON values.

    Python's json writes floats with `repr`, so numbers come back bit for bit.
    """
    return {
        "columns": [str(c) for c in frame.columns],
        "data": [_column_to_dict(frame[c]) for c in frame.columns],
        "index": _column_to_dict(frame.index),
        "index_name": frame.index.name,
        "attrs": frame.attrs,
    }


def frame_from_dict(data: dict[str, Any]) -> pd.DataFrame:
    index = pd.Index(_column_from_dict(data["index"]), name=data["index_name"])
    columns = {
        c: _column_from_dict(d).set_axis(index)
        for c, d in zip(data["columns"], data["data"], strict=True)
    }
    frame = pd.DataFrame(columns, index=index, columns=data["columns"])
    frame.attrs.update(data.get("attrs") or {})
    return frame
