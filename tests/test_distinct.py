"""Distinct values stripped and checked for "no value" on a byte matrix give what Python's
str.strip and lower give, value by value."""

from hypothesis import given, settings
from hypothesis import strategies as st

from smbml_connect.distinct import MISSING_TOKENS, Distinct, _ascii_matrix

_pieces = st.sampled_from(
    ["", " ", "\t", "\x1c", "\x1f", "n/a", "N/A", "NaN", "-", "--", "null", "(Blank)", "x", "é",
     "Order 1", "12.50", "\x00", "missing ", "MISSING", "nil"]
)  # fmt: skip
_texts = st.lists(st.lists(_pieces, max_size=3).map("".join), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(_texts)
def test_stripped_and_missing_match_the_value_by_value_answers(texts):
    values = list(dict.fromkeys(texts)) * 1  # distinct, as Distinct.of gives them
    values = (values * (1_000 // len(values) + 1))[:1_000]  # enough rows for the matrix path
    distinct = Distinct(codes=None, values=values, all_text=True)  # type: ignore[arg-type]
    stripped = distinct.stripped()
    assert stripped == [v.strip() for v in values]
    expected = [v.strip().lower() in MISSING_TOKENS for v in values]
    assert distinct.missing().tolist() == expected


def test_the_matrix_refuses_text_it_cannot_hold():
    assert _ascii_matrix(["é"] * 1_000) is None  # not ASCII
    assert _ascii_matrix(["a\x00b"] * 1_000) is None  # a NUL inside
    assert _ascii_matrix(["x" * 300] * 1_000) is None  # too wide
    assert _ascii_matrix(["ab"] * 10) is None  # too few to be worth it
    chars, lengths = _ascii_matrix(["ab", "c"] * 500)
    assert chars.shape == (1_000, 2) and lengths[:2].tolist() == [2, 1]
