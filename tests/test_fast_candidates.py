"""The first pass that finds total and repeated header rows, done per distinct value,
finds exactly the rows the row-by-row reading finds."""

import re

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from smbml_connect import coerce
from smbml_connect.layouts import _TOTAL_START, _candidates


def _row_by_row(cells: pd.DataFrame) -> list[int]:
    maybe = np.zeros(len(cells), dtype=bool)
    pending = np.ones(len(cells), dtype=bool)
    for column in list(cells.columns)[:3]:
        pattern = re.compile(rf"{_TOTAL_START}|\s*{re.escape(str(column).strip())}\s*$", re.I)
        values = cells[column].to_numpy()
        for i in pending.nonzero()[0]:
            value = values[i]
            if isinstance(value, str) and value.strip():
                pending[i] = False
                maybe[i] = pattern.match(value) is not None
            elif not coerce.is_missing(value):
                pending[i] = False
    return list(map(int, maybe.nonzero()[0]))


_cell = st.one_of(
    st.sampled_from(["", "  ", "n/a", "Total", "total for Acme", " Order ID ", "Subtotal", "O1",
                     "Grand total", "Summe", "x"]),
    st.none(),
    st.integers(0, 3),
    st.just(float("nan")),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_cell, _cell, _cell, _cell), min_size=1, max_size=30))
def test_candidates_per_distinct_value_match_the_row_by_row_pass(rows):
    cells = pd.DataFrame(rows, columns=["Order ID", "Customer", "Total", "Note"], dtype=object)
    assert _candidates(cells) == _row_by_row(cells)
