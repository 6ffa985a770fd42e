"""Charts for the HTML report, rendered to inline SVG so the report is one offline file.

Uses matplotlib's object API (no pyplot), so no global backend is switched at import.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from matplotlib.figure import Figure

__all__ = ["bar_chart", "histogram"]

_BLUE = "#1F4E78"
_GREY = "#9AA5B1"


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and DOCTYPE for inline use


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    title: str,
    xlabel: str,
    highlight: Sequence[str] = (),
) -> str:
    """Horizontal bars, largest first as given; labels stay readable when long."""
    figure = Figure(figsize=(7, 0.45 * max(len(labels), 3) + 1))
    axes = figure.subplots()
    colours = [_BLUE if not highlight or label in highlight else _GREY for label in labels]
    axes.barh(list(labels)[::-1], list(values)[::-1], color=colours[::-1])
    axes.set_title(title, loc="left", fontsize=11)
    axes.set_xlabel(xlabel)
    axes.spines[["top", "right"]].set_visible(False)
    for y, value in enumerate(list(values)[::-1]):
        axes.text(value, y, f" {value:,.0f}", va="center", fontsize=8)
    return _svg(figure)


def histogram(values: Sequence[float], title: str, xlabel: str, bins: int = 30) -> str:
    figure = Figure(figsize=(7, 3))
    axes = figure.subplots()
    axes.hist(list(values), bins=bins, color=_BLUE)
    axes.set_title(title, loc="left", fontsize=11)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("customers")
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure)
