"""A column as codes into its distinct values, so per-value work runs once per value.

Real columns repeat (statuses, currencies, dates, amounts), and even a column of unique
ids is cheaper to hash in C once than to walk in Python several times. Readers compute a
result per distinct value and ``take`` it back to the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

MISSING_TOKENS = frozenset(
    {"", "-", "--", "n/a", "na", "nan", "none", "null", "nil", "#n/a", "(blank)", "missing"}
)
_LONGEST_TOKEN = max(len(t) for t in MISSING_TOKENS)


@dataclass(frozen=True)
class Distinct:
    """``values[codes[i]]`` is row i's value; ``codes[i] == -1`` where it is None or NaN."""

    codes: np.ndarray
    values: list[Any]
    all_text: bool  # every distinct value is a str (a CSV column): no type checks needed

    @classmethod
    def of(cls, series: pd.Series) -> Distinct:
        codes, uniques = pd.factorize(series.astype(object), use_na_sentinel=True)
        values = list(uniques)
        return cls(codes, values, pd.api.types.infer_dtype(values, skipna=False) == "string")

    def take(self, per_value: Any, absent: Any, index: pd.Index, dtype: Any = None) -> pd.Series:
        """Rows from one result per distinct value (``absent`` where the row had none)."""
        kind = dtype if isinstance(dtype, np.dtype) else object
        table = np.empty(len(self.values) + 1, dtype=kind)
        table[:-1] = per_value
        table[-1] = absent
        return pd.Series(table[self.codes], index=index)

    def stripped(self) -> list[Any]:
        """Each text value stripped; any other value unchanged."""
        if self.all_text:
            return [v.strip() for v in self.values]
        return [v.strip() if isinstance(v, str) else v for v in self.values]

    def missing(self, stripped: list[Any] | None = None) -> np.ndarray:
        """Which distinct values stand for no value ("", "n/a", "-", ...), per value."""
        texts = self.stripped() if stripped is None else stripped
        if self.all_text:
            flags = [len(t) <= _LONGEST_TOKEN and t.lower() in MISSING_TOKENS for t in texts]
        else:
            flags = [
                isinstance(t, str) and len(t) <= _LONGEST_TOKEN and t.lower() in MISSING_TOKENS
                for t in texts
            ]
        return np.array(flags, dtype=bool)
