"""Charts for the HTML report, rendered to inline SVG so the report is one offline file.

Uses matplotlib's object API (no pyplot), so no global backend is switched at import.
Names come from the user's data, so every chart draws text as text: matplotlib would
otherwise read "Buy 2 for $10 ^ save $" as mathematics (and fail), and a tab as a glyph
the font lacks.
"""

from __future__ import annotations

import functools
import io
import itertools
import re
import textwrap
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any, ParamSpec, TypedDict, TypeVar

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, MaxNLocator, StrMethodFormatter

__all__ = [
    "DemandCurve",
    "band_chart",
    "bar_chart",
    "calibration_chart",
    "demand_curves",
    "forecast_chart",
    "histogram",
    "period_ticks",
]

_BLUE = "#1F4E78"
_GREY = "#9AA5B1"
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # every control character but newline
# Text objects take these settings when they are made, tick labels when they are drawn:
# so the whole chart, from Figure() to savefig, is made inside them.
# Text stays text in the SVG (the browser draws it, sharp at any size) and no label is
# smaller than _SMALL points: a 5-inch chart shrunk to a 390-pixel phone is still legible.
_SMALL, _TITLE, _WIDTH = 11, 12, 5.0
_PLAIN_TEXT: dict[Any, Any] = {
    "text.parse_math": False,
    "text.usetex": False,
    "svg.fonttype": "none",
    "font.size": _SMALL,
}

P = ParamSpec("P")
R = TypeVar("R")


def _plain(value: Any) -> Any:
    """Strings (also inside lists, tuples and dicts) without control characters."""
    if isinstance(value, str):
        return _CONTROL.sub(" ", value)
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _text_is_text(function: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(function)
    def chart(*args: P.args, **kwargs: P.kwargs) -> R:
        with rc_context(_PLAIN_TEXT):
            return function(*_plain(args), **_plain(kwargs))

    return chart


class _Grouped(Formatter):
    """Axis numbers as the bar charts write them ("400,000"): thousands grouped, no "1e6"
    offset in a corner (a yen forecast's axis read 0.00 to 1.25, and a shop owner read
    "¥1.25"), and no more decimals than the ticks need (0.25 steps: "0.25", "0.50")."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        text = f"{x:,.{self._decimals()}f}"
        return text[1:] if text.startswith("-") and not text.strip("-0.,") else text  # no "-0"

    ticks: tuple[float, ...] = ()

    def set_locs(self, locs: Any) -> None:
        self.ticks = tuple(float(v) for v in locs)

    def _decimals(self) -> int:
        for digits in range(7):
            if all(abs(round(v, digits) - v) <= 1e-9 * max(1.0, abs(v)) for v in self.ticks):
                return digits
        return 6


def _numbers_axis(axis: Any, nbins: int | None = None) -> None:
    """``axis`` written as the bar charts write theirs; ``nbins`` ticks at most, so that
    "100,000 120,000 140,000" do not run together at 390 px."""
    if nbins is not None:
        axis.set_major_locator(MaxNLocator(nbins=nbins))
    axis.set_major_formatter(_Grouped())


def _svg(figure: Figure, tight: bool = True) -> str:
    """`tight` trims the margins to the drawn content, at the cost of one more full draw."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight" if tight else None)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and DOCTYPE for inline use


@_text_is_text
def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    title: str,
    xlabel: str,
    highlight: Sequence[str] = (),
) -> str:
    """Horizontal bars, largest first as given; long labels wrap, so the chart stays narrow
    enough to read on a phone."""
    wrapped = [textwrap.fill(label, 22) for label in labels]
    lines = sum(max(label.count("\n") + 1, 2) for label in wrapped)
    figure = Figure(figsize=(_WIDTH, 0.2 * max(lines, 6) + 1))
    axes = figure.subplots()
    colours = [_BLUE if not highlight or label in highlight else _GREY for label in labels]
    rows = list(range(len(labels)))
    axes.barh(rows, list(values)[::-1], color=colours[::-1])
    axes.set_yticks(rows, wrapped[::-1])
    axes.xaxis.set_major_locator(MaxNLocator(nbins=4))  # room for "140,000" on a phone
    axes.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    axes.set_title(title, loc="left", fontsize=_TITLE)
    axes.set_xlabel(xlabel)
    axes.spines[["top", "right"]].set_visible(False)
    for y, value in enumerate(list(values)[::-1]):
        axes.text(value, y, f" {value:,.0f}", va="center", fontsize=_SMALL)
    if all(float(v).is_integer() for v in values):  # counts: no 0.25-customer ticks
        axes.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    return _svg(figure)


@_text_is_text
def histogram(
    values: Sequence[float], title: str, xlabel: str, bins: int = 30, ylabel: str = "customers"
) -> str:
    figure = Figure(figsize=(_WIDTH, 3))
    axes = figure.subplots()
    axes.hist(list(values), bins=bins, color=_BLUE)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # a count of customers or leads
    _numbers_axis(axes.yaxis)
    # room for "140,000" on a phone, as in bar_chart; short labels keep matplotlib's ticks
    wide = max((abs(float(v)) for v in values), default=0.0) >= 1_000
    _numbers_axis(axes.xaxis, nbins=4 if wide else None)
    axes.set_title(title, loc="left", fontsize=_TITLE)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure)


@_text_is_text
def calibration_chart(predicted: Sequence[float], observed: Sequence[float], title: str) -> str:
    """Predicted against observed rates: points on the diagonal mean the scores are honest."""
    figure = Figure(figsize=(4.5, 4.5))
    axes = figure.subplots()
    axes.plot([0, 100], [0, 100], color=_GREY, linestyle="--", linewidth=1, label="perfect")
    axes.plot(
        [100 * p for p in predicted], [100 * o for o in observed], "o-", color=_BLUE,
        label="held-out leads",
    )  # fmt: skip
    axes.set_xlim(0, 100)
    axes.set_ylim(0, 100)
    axes.set_xlabel("predicted chance (%)")
    axes.set_ylabel("what actually happened (%)")
    axes.set_title(title, loc="left", fontsize=_TITLE)
    axes.legend(frameon=False, fontsize=_SMALL)
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure)


_MONTH = re.compile(r"(\d{4})-(\d{2})")
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
# A label's size on the page, from the font size in points: DejaVu Sans' digits and
# capitals are 0.64 of it wide (its widest; lower case is narrower) and a line 1.2 high.
_CHAR, _LINE = 0.64, 1.2


def _month_slots(labels: Sequence[str]) -> list[int] | None:
    """Each "YYYY-MM" label's place counted in months from the first, so a month without a
    bar keeps its place on the axis (the pipeline's January with no deal was simply left
    out between December and February); None when the labels are not all months in order."""
    found = [_MONTH.fullmatch(label) for label in labels]
    if not labels or not all(found):
        return None
    months = [int(m.group(1)) * 12 + int(m.group(2)) - 1 for m in found if m]
    if any(b <= a for a, b in itertools.pairwise(months)):
        return None
    return [m - months[0] for m in months]


def _month_words(index: int, short: bool) -> str:
    """A month (counted from year 0) as a person reads it: "Nov 2025", or (``short``) "Nov"
    with the year on a line below."""
    year, month = divmod(index, 12)
    return f"{_MONTHS[month]}\n{year}" if short else f"{_MONTHS[month]} {year}"


def _text_width(text: str, size: float) -> float:
    """The widest line of ``text`` in points at ``size``, by the font's widest characters."""
    return max(len(line) for line in text.split("\n")) * _CHAR * size


def period_ticks(
    labels: Sequence[str], width: float, size: float = _SMALL
) -> tuple[list[float], list[str], int]:
    """Where the ticks of bars side by side go, what they say and at what angle, so that
    labels never run into one another in ``width`` points of axis: "2025-112025-12..."
    under seven bars on a 5-inch chart, and worse under twelve.

    Months ("YYYY-MM") keep their place when one has no bar and read "Nov" with the year
    below at the first and each January; when that does not fit they are "Nov 2025" at 45
    degrees, and only every second (third, ...) one is named when even those would touch.
    Other labels stay as given, turned and thinned the same way. Returns the tick places
    (the bars' places), their labels ("" for a tick left unnamed) and the angle."""
    slots = _month_slots(labels)
    ticks = [float(t) for t in (range(slots[-1] + 1) if slots else range(len(labels)))]
    room = width / max(len(ticks), 1)  # points per bar's place
    if slots:
        found = _MONTH.fullmatch(labels[0])
        first = int(found.group(1)) * 12 + int(found.group(2)) - 1 if found else 0
        flat = [
            _month_words(first + i, short=True) if i == 0 or (first + i) % 12 == 0
            else _MONTHS[(first + i) % 12]
            for i in range(len(ticks))
        ]  # fmt: skip
        if all(_text_width(t, size) <= 0.9 * room for t in flat):
            return ticks, flat, 0
        words = [_month_words(first + i, short=False) for i in range(len(ticks))]
    else:
        words = list(labels)
        if all(_text_width(t, size) <= 0.9 * room for t in words):
            return ticks, words, 0
    across = _LINE * size * 1.42  # a line turned 45 degrees, measured along the axis
    step = int(np.ceil(across / room)) if across > room else 1
    return ticks, [w if i % step == 0 else "" for i, w in enumerate(words)], 45


def _band_figure(
    labels: Sequence[str],
    expected: Sequence[float],
    low: Sequence[float],
    high: Sequence[float],
    title: str,
    ylabel: str,
) -> Figure:
    figure = Figure(figsize=(_WIDTH, 3))
    axes = figure.subplots()
    slots = _month_slots(labels)
    x = slots if slots is not None else list(range(len(labels)))
    middle = [(lo + hi) / 2 for lo, hi in zip(low, high, strict=True)]
    half = [(hi - lo) / 2 for lo, hi in zip(low, high, strict=True)]
    axes.bar(x, list(expected), color=_BLUE)
    width = axes.get_position().width * _WIDTH * 72  # the axis' length in points
    places, words, angle = period_ticks(labels, width)
    caps = min(4.0, 0.2 * width / max(len(places), 1))  # caps of narrow bars do not touch
    axes.errorbar(x, middle, yerr=half, fmt="none", capsize=caps, ecolor="#333333")
    axes.set_xticks(places, words, rotation=angle, ha="right" if angle else "center",
                    rotation_mode="anchor" if angle else "default")  # fmt: skip
    _numbers_axis(axes.yaxis)
    axes.set_title(title, loc="left", fontsize=_TITLE)
    axes.set_ylabel(ylabel)
    axes.spines[["top", "right"]].set_visible(False)
    return figure


@_text_is_text
def band_chart(
    labels: Sequence[str],
    expected: Sequence[float],
    low: Sequence[float],
    high: Sequence[float],
    title: str,
    ylabel: str,
) -> str:
    """Expected values per period as bars, each with its interval drawn from low to high.

    The interval need not contain the bar: one deal at 95% has an expected value of 95%
    of its amount, but in 80% of outcomes it is won in full. Its labels never touch
    (`period_ticks`).
    """
    return _svg(_band_figure(labels, expected, low, high, title, ylabel))


@_text_is_text
def forecast_chart(
    history_dates: Sequence[date],
    history: Sequence[float],
    dates: Sequence[date],
    expected: Sequence[float],
    bands: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    title: str,
    ylabel: str,
) -> str:
    """History as a line, the forecast dashed, each interval as a shaded band (widest first)."""
    figure = Figure(figsize=(_WIDTH, 3.2))
    axes = figure.subplots()
    # Dates go in as object arrays: matplotlib's date converter reads them as it reads lists.
    history_x, x = np.asarray(history_dates, dtype=object), np.asarray(dates, dtype=object)
    axes.plot(history_x, list(history), color=_BLUE, linewidth=1.5, label="actual")
    for (label, low, high), alpha in zip(bands, (0.18, 0.35, 0.5), strict=False):
        axes.fill_between(x, list(low), list(high), color=_BLUE, alpha=alpha,
                          linewidth=0, label=label)  # fmt: skip
    axes.plot(x, list(expected), color=_BLUE, linestyle="--", linewidth=1.5,
              label="forecast")  # fmt: skip
    axes.set_title(title, loc="left", fontsize=_TITLE)
    axes.set_ylabel(ylabel)
    axes.set_ylim(bottom=min(0.0, min(min(b[1]) for b in bands) if bands else 0.0))
    _numbers_axis(axes.yaxis)
    axes.legend(frameon=False, fontsize=_SMALL, loc="upper left")
    axes.spines[["top", "right"]].set_visible(False)
    figure.autofmt_xdate()
    return _svg(figure)


class DemandCurve(TypedDict):
    """One product's curve: units against price with an 80% band, and three marks on it."""

    label: str
    prices: Iterable[float]
    units: Iterable[float]
    low: Iterable[float]
    high: Iterable[float]
    current: tuple[float, float]  # (price, units) today
    suggested: tuple[float, float]  # (price, units) at the suggested price
    limits: tuple[float, float]  # the allowed price range this step


@_text_is_text
def demand_curves(curves: Sequence[DemandCurve], title: str, ylabel: str) -> str:
    """Small multiples: each product's expected units against price, 80% band shaded.

    Each curve has `label, prices, units, low, high, current, suggested, limits`, where
    current and suggested are (price, units) points and limits the allowed price range.
    """
    columns = 2  # two across: each curve stays readable when the page is a phone
    rows = max(1, -(-len(curves) // columns))
    title = textwrap.fill(title, 50)
    head = 0.35 + 0.22 * (title.count("\n") + 1)  # inches for the title and the legend under it
    figure = Figure(figsize=(_WIDTH, 2.3 * rows + head + 0.4))
    axes_grid = figure.subplots(rows, columns, squeeze=False)
    for axes, curve in zip(axes_grid.ravel(), curves, strict=False):
        prices = list(curve["prices"])
        low_limit, high_limit = curve["limits"]
        axes.axvspan(low_limit, high_limit, color=_GREY, alpha=0.15, linewidth=0)
        axes.fill_between(prices, list(curve["low"]), list(curve["high"]), color=_BLUE,
                          alpha=0.18, linewidth=0)  # fmt: skip
        axes.plot(prices, list(curve["units"]), color=_BLUE, linewidth=1.2)
        now_price, now_units = curve["current"]
        axes.plot([now_price], [now_units], "o", color=_GREY, markersize=5, label="today")
        new_price, new_units = curve["suggested"]
        axes.plot([new_price], [new_units], "o", color=_BLUE, markersize=5, label="suggested")
        axes.set_title(str(curve["label"]), loc="left", fontsize=_SMALL)
        axes.tick_params(labelsize=_SMALL)
        _numbers_axis(axes.xaxis, nbins=3)  # a panel is half a phone wide: "4,000 5,000"
        _numbers_axis(axes.yaxis)
        axes.set_ylim(bottom=0)
        axes.spines[["top", "right"]].set_visible(False)
    for axes in axes_grid.ravel()[len(curves) :]:
        axes.set_visible(False)
    axes_grid[0, 0].set_ylabel(ylabel, fontsize=_SMALL)
    height = figure.get_figheight()
    figure.suptitle(title, x=0.01, y=1 - 0.05 / height, ha="left", va="top", fontsize=_TITLE)
    handles, labels = axes_grid[0, 0].get_legend_handles_labels()
    figure.legend(handles, labels, frameon=False, fontsize=_SMALL, ncols=2, loc="upper left",
                  bbox_to_anchor=(0.0, 1 - (head - 0.3) / height))  # fmt: skip
    # Fixed margins instead of tight_layout: every text size here is fixed, and measuring
    # a hundred tick labels three times took 4.6 of the demo's 34 seconds.
    figure.subplots_adjust(
        left=0.12,
        right=0.95,  # room for half of the last price tick ("5,000" was cut to "500")
        bottom=0.4 / height,
        top=1 - (head + 0.4) / height,
        wspace=0.3,
        hspace=0.6,
    )
    return _svg(figure, tight=False)
