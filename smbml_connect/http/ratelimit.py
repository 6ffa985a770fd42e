"""One rolling-window request limiter, shared by the HubSpot and Google Sheets clients."""

from __future__ import annotations

import threading
import time
from collections import deque

__all__ = ["RateLimiter"]


class RateLimiter:
    """A rolling-window limiter shared by every thread, as HubSpot and Google count per app or user."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()
        self._blocked_until = 0.0
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                while self._times and self._times[0] <= now - self.window * 1.02:
                    self._times.popleft()
                wait = self._blocked_until - now
                if wait <= 0 and len(self._times) < self.limit:
                    self._times.append(now)
                    return
                if wait <= 0:  # 2% slack: the server counts arrivals, we count sends
                    wait = self._times[0] + self.window * 1.02 - now
            wait = max(wait, 0.0005)
            self.waited += wait
            time.sleep(wait)

    def block(self, seconds: float) -> None:
        """The server said stop (429): every thread waits, not just the one that was refused."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, time.monotonic() + seconds)

    def configure(self, limit: int, window: float) -> None:
        with self._lock:
            self.limit, self.window = limit, window
