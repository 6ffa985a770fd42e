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
        if not self.all_text:
            return [v.strip() if isinstance(v, str) else v for v in self.values]
        matrix = _ascii_matrix(self.values)
        if matrix is None:
            return [v.strip() for v in self.values]
        chars, lengths = matrix
        rows = np.arange(len(lengths))
        last = chars[rows, np.maximum(lengths - 1, 0)]
        edge = np.isin(chars[:, 0], _SPACES) | np.isin(last, _SPACES)
        out = list(self.values)
        for i in np.flatnonzero(edge).tolist():  # the few with spaces around them
            out[i] = out[i].strip()
        return out

    def missing(self, stripped: list[Any] | None = None) -> np.ndarray:
        """Which distinct values stand for no value ("", "n/a", "-", ...), per value."""
        texts = self.stripped() if stripped is None else stripped
        if self.all_text:
            matrix = _ascii_matrix(texts, _LONGEST_TOKEN)
            if matrix is not None:
                chars, lengths = matrix
                upper = (chars >= ord("A")) & (chars <= ord("Z"))
                lowered = np.where(upper, chars + 32, chars).astype(np.uint8)
                words = lowered.view(f"S{chars.shape[1]}").ravel()
                return (lengths <= _LONGEST_TOKEN) & np.isin(words, _TOKEN_BYTES)
            return np.array(
                [len(t) <= _LONGEST_TOKEN and t.lower() in MISSING_TOKENS for t in texts],
                dtype=bool,
            )
        flags = [
            isinstance(t, str) and len(t) <= _LONGEST_TOKEN and t.lower() in MISSING_TOKENS
            for t in texts
        ]
        return np.array(flags, dtype=bool)


# What str.strip() removes, in ASCII (numpy's own strip leaves \x1c-\x1f).
_SPACES = np.array([9, 10, 11, 12, 13, 28, 29, 30, 31, 32], dtype=np.uint8)
_TOKEN_BYTES = np.array(sorted(t.encode() for t in MISSING_TOKENS), dtype=f"S{_LONGEST_TOKEN}")
_WIDEST = 256  # wider text goes value by value: the matrix would cost more than it saves


def _ascii_matrix(
    texts: list[str], width: int | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Texts as a byte matrix (one row each, NUL-padded) and their lengths, or None when a
    text is not ASCII, holds a NUL, or the matrix would be too wide. With ``width``, longer
    texts are cut to it (their length still tells they are longer)."""
    if len(texts) < 1_000:
        return None
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    size = int(lengths.max(initial=0)) if width is None else width
    if size == 0 or size > _WIDEST:
        return None
    try:
        raw = np.array(texts, dtype=f"S{size}")
    except UnicodeEncodeError:
        return None
    chars = raw.view(np.uint8).reshape(len(texts), size)
    shown = np.minimum(lengths, size)
    if (np.count_nonzero(chars, axis=1) != shown).any():  # a NUL inside a text
        return None
    return chars, lengths
