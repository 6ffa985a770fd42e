"""A time limit on one worksheet call, kept by the loops that can run long.

Python cannot stop a thread from outside, so `smbml serve` runs each call under a
`CallLimit` (its deadline, and the server's "stopping" flag) and the loops whose work
grows with the input (FORECAST.ETS's fit: about 5 CPU seconds at 20,000 points and
minutes at a million) call `check` between passes. A call past its deadline, or running
when the server stops, ends there with `OutOfTime`, a #VALUE! that names the limit; it is
not cached, since the same inputs may finish on a quieter machine. Outside a limit
(`smbml run`, xlwings, tests), `check` does nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from smbml_connect.cell_values import CellError

__all__ = ["CallLimit", "OutOfTime", "check", "limited"]

_current = threading.local()


class OutOfTime(CellError):
    """A call stopped by its time limit or by the server stopping."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "#VALUE!")


@dataclass(frozen=True)
class CallLimit:
    seconds: float
    stopping: threading.Event


@contextmanager
def limited(limit: CallLimit) -> Iterator[None]:
    """Run the block (one call, on this thread) under `limit`."""
    before = getattr(_current, "state", None)
    _current.state = (limit, time.monotonic() + limit.seconds)
    try:
        yield
    finally:
        _current.state = before


def check(work: str) -> None:
    """Raise `OutOfTime` when this thread's call is past its limit; `work` says what
    was taking the time (such as "the fit of 120,000 points")."""
    state = getattr(_current, "state", None)
    if state is None:
        return
    limit, deadline = state
    if limit.stopping.is_set():
        raise OutOfTime(f"{work} was stopped: smbml serve is stopping")
    if time.monotonic() > deadline:
        raise OutOfTime(
            f"{work} took over {limit.seconds:g} s, the longest smbml serve gives one "
            "call: pass fewer points (the most recent ones) or a coarser timeline"
        )
