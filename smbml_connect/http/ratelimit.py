"""One rolling-window request limiter, shared by the HubSpot and Google Sheets clients."""

from __future__ import annotations

import threading
from collections import deque

from smbml_connect.http.clock import SYSTEM_CLOCK, Clock

__all__ = ["RateLimiter"]

# The server counts arrivals, we count sends: a 2% longer window absorbs the difference.
_SLACK = 1.02


class RateLimiter:
    """A rolling-window limiter shared by every thread, as HubSpot and Google count per app or user."""

    def __init__(self, limit: int, window: float, clock: Clock = SYSTEM_CLOCK) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._times: deque[float] = deque()
        self._blocked_until = 0.0
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> None:
        while True:
            with self._lock:
                wait = self._wait(self.clock.monotonic())
                if wait is None:
                    return
                self.waited += wait
            self.clock.sleep(wait)

    def _wait(self, now: float) -> float | None:
        """None when a slot was taken at ``now``, else how long to wait before trying again."""
        while self._times and self._times[0] <= now - self.window * _SLACK:
            self._times.popleft()
        wait = self._blocked_until - now
        if wait <= 0 and len(self._times) < self.limit:
            self._times.append(now)
            return None
        if wait <= 0:
            wait = self._times[0] + self.window * _SLACK - now
        return max(wait, 0.0005)

    def block(self, seconds: float) -> None:
        """The server said stop (429): every thread waits, not just the one that was refused."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self.clock.monotonic() + seconds)

    def configure(self, limit: int, window: float) -> None:
        with self._lock:
            self.limit, self.window = limit, window
