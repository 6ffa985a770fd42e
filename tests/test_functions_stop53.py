"""Worksheet functions on input real sheets hold: counts and amounts typed as text with a
point before three digits, A/B counts at any size, yen prices, negative costs, numbers as
headers, prices that rose with a growing shop."""

from __future__ import annotations

import pytest

from smbml_connect.functions import FunctionContext, call


def fresh() -> FunctionContext:
    return FunctionContext()


def row(result):
    assert result.error is None, result.error
    return dict(zip(result.value[0], result.value[1], strict=True))


@pytest.mark.parametrize("exponent", range(6, 16))
def test_two_identical_versions_are_even_at_any_count(exponent):
    visitors = 10**exponent
    result = row(call("ABTEST", [visitors // 10, visitors, visitors // 10, visitors], fresh()))
    assert result["chance B beats A"] == pytest.approx(0.5, abs=1e-3)
    assert result["verdict"] == "No difference so far"


def test_huge_counts_keep_the_exact_chance_and_beyond_them_are_refused():
    # Nearly every visitor converts: the non-conversions are 0 against 2, whose chance
    # that B's rate is above A's is exactly (1/2)^3 under the flat priors.
    n = 10**15
    assert row(call("ABTEST", [n, n, n - 2, n], fresh()))["chance B beats A"] == pytest.approx(
        0.125, abs=1e-6
    )
    refused = call("ABTEST", [10**15, 10**16, 10**15, 10**16], fresh())
    assert refused.code == "#NUM!"
    assert "visitors_a can be at most 1,000,000,000,000,000" in refused.error
