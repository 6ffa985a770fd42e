"""The byte-matrix check of ISO dates agrees with the regular expression it stands in for."""

from hypothesis import given, settings
from hypothesis import strategies as st

from smbml_connect.coerce import _ISO, _iso_flags

_shapes = st.from_regex(
    r"[0-9x]{4}[-/][0-9]{2}-[0-9]{1,2}([T _][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,3})?)?)?Z?",
    fullmatch=True,
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(_shapes, st.text(max_size=22)), min_size=1, max_size=30))
def test_fast_iso_check_matches_the_pattern(texts):
    assert _iso_flags(texts, matrix_from=0) == [_ISO.fullmatch(t) is not None for t in texts]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            _shapes,
            st.from_regex(r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{2,4}", fullmatch=True),
            st.sampled_from(["", "n/a", " 03/04/2025 ", "-", "2025-01-05"]),
            st.none(),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_a_scan_counts_the_order_evidence_as_date_evidence_does(values):
    import pandas as pd

    from smbml_connect.coerce import date_evidence, scan_dates

    series = pd.Series(values, dtype=object)
    scan = scan_dates(series)
    assert scan.votes == date_evidence(series.where(~scan.iso))
