"""Spot the numbers typed plainly ("1234", "-12.50") among a column's distinct values, in C.

Most number columns of real exports hold nothing else, and a large file holds hundreds of
thousands of distinct amounts: classifying them one by one in Python dominated a load.
Here the values become a byte matrix and numpy answers for all of them at once: which are
plain (an optional sign, digits, at most one "." with digits after it, at most 15 digits,
so ``float`` reads them exactly), which decimal mark each proves, and their value. Every
other value goes through the careful reader in ``coerce``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_WIDTH = 16  # sign + 15 digits or 15 digits and a point: exact as a float and as an int
_ZERO, _NINE, _POINT, _PLUS, _MINUS = (ord(c) for c in "09.+-")


@dataclass(frozen=True)
class PlainNumbers:
    """Per distinct value: ``plain``; for plain ones ``proof`` ("" no mark, "." a decimal
    point, "," a point grouping thousands in a whole-number column, "?" either) and
    ``value``."""

    plain: np.ndarray
    proof: np.ndarray
    value: np.ndarray


def classify(values: list[str], whole: bool) -> PlainNumbers:
    """``values`` are text; anything not plain is left to the caller (``plain`` False)."""
    n = len(values)
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=n)
    try:  # longer values are cut, and their length keeps them from being plain
        raw = np.array(values, dtype=f"S{_WIDTH}")
    except UnicodeEncodeError:  # some value is not ASCII: blank those out
        raw = np.array([v if v.isascii() else "" for v in values], dtype=f"S{_WIDTH}")
    chars = raw.view(np.uint8).reshape(n, _WIDTH)
    inside = np.arange(_WIDTH) < np.minimum(lengths, _WIDTH)[:, None]
    digit = (chars >= _ZERO) & (chars <= _NINE)
    point = chars == _POINT
    signed = (chars[:, 0] == _PLUS) | (chars[:, 0] == _MINUS)
    allowed = digit | point
    allowed[:, 0] |= signed
    has_point = point.any(axis=1)
    at = np.where(has_point, point.argmax(axis=1), lengths)
    head = at - signed
    tail = np.where(has_point, lengths - at - 1, -1)
    plain = (
        (lengths <= _WIDTH)
        & (allowed | ~inside).all(axis=1)
        & (point.sum(axis=1) <= 1)
        & (head >= 1)
        & (tail != 0)
    )
    rows = np.arange(n)
    leading_zero = chars[rows, signed.astype(np.int64)] == _ZERO
    zeros_after = np.ones(n, dtype=bool)
    for k in (1, 2, 3):
        zeros_after &= chars[rows, np.minimum(at + k, _WIDTH - 1)] == _ZERO
    point_proves = (tail != 3) | leading_zero | (head > 3)  # "12.5", "0.125", "1234.567"
    proof = np.select(
        [~has_point, point_proves, whole & ~zeros_after],
        ["", ".", ","],  # "1.234" in a whole-number column: the point groups thousands
        "?",
    ).astype(object)
    value = np.full(n, np.nan)
    value[plain] = raw[plain].astype(float)
    return PlainNumbers(plain, proof, value)
