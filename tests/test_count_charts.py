"""Count charts tick in whole numbers (issue 24: a tiny shop's chart had 0.25-customer ticks)."""

from __future__ import annotations

import re

from smbml_connect import charts


def _tick_labels(svg: str) -> list[str]:
    # The charts keep their text as SVG text (legible when scaled on a phone).
    return [t.strip() for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def test_a_bar_chart_of_a_few_customers_has_whole_ticks():
    svg = charts.bar_chart(["Champions", "At Risk", "New"], [2, 1, 1], "Customers", "customers")
    numbers = [t for t in _tick_labels(svg) if re.fullmatch(r"[\d.]+", t)]
    assert numbers and not [t for t in numbers if "." in t]


def test_a_histogram_counts_in_whole_numbers():
    svg = charts.histogram([10.0, 20.0, 20.0], "Scores", "score", bins=5, ylabel="leads")
    numbers = [t for t in _tick_labels(svg) if re.fullmatch(r"[\d.]+", t)]
    assert "1" in numbers or "2" in numbers
    assert not [t for t in numbers if re.fullmatch(r"\d+\.\d*[1-9]", t) and float(t) < 3]


def test_whole_amounts_keep_few_enough_ticks_to_read():
    """Revenue rounded to whole dollars is whole too, and the whole-number ticks had
    dropped the four-tick limit: nine labels from 0 to 160,000 ran together in the
    report's "Revenue per segment" (a newcomer's review, at 1280 and 390 pixels)."""
    svg = charts.bar_chart(
        ["Champions", "Loyal Customers", "At Risk", "New Customers"],
        [161234.0, 90211.0, 40000.0, 512.0],
        "Revenue per segment (USD)",
        "USD",
    )
    # tick labels; each bar's own value is written " 161,234", after a space
    ticks = re.findall(r"<text[^>]*>(\d[\d,]*)</text>", svg)
    assert 2 <= len(ticks) <= 6
