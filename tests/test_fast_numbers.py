"""The vectorised reading of plain numbers gives exactly what the careful reader gives.

``plain_numbers`` classifies most values of a large column in C; these tests run the same
columns through the value-by-value path (every value marked not plain) and compare
everything a user can see: values, unreadable cells, reasons and column notes.
"""

import dataclasses

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from smbml_connect.coerce import ColumnFormat, is_missing, read_numbers, scan_numbers
from smbml_connect.coerce import _slow_proof as slow_proof
from smbml_connect.plain_numbers import classify


def _slow(scan):
    values = scan.distinct.values
    present = np.array([not is_missing(v) for v in values], dtype=bool)
    proofs = np.array(
        [slow_proof(v, scan.whole) if p else None for v, p in zip(values, present, strict=True)],
        dtype=object,
    )
    return dataclasses.replace(
        scan, present=present, proofs=proofs, plain=np.zeros(len(values), dtype=bool)
    )


def _same(series, whole, fmt=None):
    fast = scan_numbers(series, whole)
    slow = _slow(fast)
    assert fast.votes() == slow.votes()
    a = read_numbers(series, fmt, whole=whole, scan=fast)
    b = read_numbers(series, fmt, whole=whole, scan=slow)
    pd.testing.assert_series_equal(a.values, b.values)
    pd.testing.assert_series_equal(a.invalid, b.invalid)
    assert a.reasons == b.reasons
    assert a.notes == b.notes


_typed = st.from_regex(r"[+-]?[0-9]{0,6}([.,][0-9]{0,4}){0,2}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(_typed, st.sampled_from(["", "n/a", " 12 ", "$5", "1e3", "-"])),
        min_size=1,
        max_size=40,
    ),
    st.booleans(),
    st.sampled_from([None, ",", "."]),
)
def test_fast_and_careful_readings_agree(values, whole, decimal):
    _same(pd.Series(values, dtype=object), whole, ColumnFormat(decimal=decimal))


def test_the_classifier_on_the_cases_that_decide_a_mark():
    found = classify(
        ["12", "-3.5", "+0.125", "1.234", "1.000", "1234.567", "12.", ".5", "1.2.3", "€5",
         "1234567890123456", "12345678901234567"],
        whole=True,
    )  # fmt: skip
    assert found.plain.tolist() == [True, True, True, True, True, True, False, False, False,
                                    False, True, False]  # fmt: skip
    assert found.proof[:6].tolist() == ["", ".", ".", ",", "?", "."]
    assert found.value[:6].tolist() == [12.0, -3.5, 0.125, 1.234, 1.0, 1234.567]


def test_a_large_column_of_amounts_reads_the_same_both_ways():
    rng = np.random.default_rng(7)
    amounts = [f"{v:.2f}" for v in rng.integers(0, 10_000_000, 5_000) / 100]
    amounts += ["1,234.50", "n/a", "", "(12.00)", "3.000"]
    _same(pd.Series(amounts, dtype=object), whole=False)
    _same(pd.Series([str(v) for v in rng.integers(-999, 10**15, 2_000)], dtype=object), True)
