"""A clock that only moves when something sleeps: rate-limit tests run in no wall time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

__all__ = ["FakeClock"]


class FakeClock:
    """``sleep`` advances time at once; share one between a client and an emulator.

    Thread-safe: sleeps from several threads add up, so fake time may run ahead of what
    parallel waiting would take, never behind it; a limiter only ever sees more room.
    """

    def __init__(self, start: datetime = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)) -> None:
        self._start = start
        self._elapsed = 0.0
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def monotonic(self) -> float:
        with self._lock:
            return self._elapsed

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self._elapsed += max(seconds, 0.0)

    def advance(self, seconds: float) -> None:
        """Time passes without anyone of ours sleeping (the server's window rolls on)."""
        with self._lock:
            self._elapsed += seconds

    def now(self) -> datetime:
        with self._lock:
            return self._start + timedelta(seconds=self._elapsed)
