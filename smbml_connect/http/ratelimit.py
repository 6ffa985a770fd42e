"""One rolling-window request limiter, shared by every request to the same account.

HubSpot and Google count requests per app or user, not per client object: a second
client in the process, a second process on the same token, or an earlier run that was
killed all spend the same window. So limiters are handed out per (clock, account,
window) by ``shared_limiter``, and, given a file, keep their window in it (under an OS
file lock, in wall-clock time) so that every process on the same token waits its turn.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from filelock import FileLock

from smbml_connect.http.clock import SYSTEM_CLOCK, Clock

__all__ = ["RateLimiter", "shared_limiter"]

T = TypeVar("T")

# The server counts arrivals, we count sends: a 2% longer window absorbs the difference.
_SLACK = 1.02


class RateLimiter:
    """A rolling-window limiter shared by every thread (and, with ``path``, every process)."""

    def __init__(
        self, limit: int, window: float, clock: Clock = SYSTEM_CLOCK, path: Path | None = None
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.path = path
        self._file_lock = FileLock(f"{path}.lock") if path is not None else None
        self._times: deque[float] = deque()
        self._blocked_until = 0.0
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> None:
        while True:
            with self._lock:
                wait = self._shared(self._wait)
                if wait is None:
                    return
                self.waited += wait
            self.clock.sleep(wait)

    def _now(self) -> float:
        # In a file, times must mean the same in every process: wall-clock seconds.
        return self.clock.now().timestamp() if self.path is not None else self.clock.monotonic()

    def _shared(self, change: Callable[[float], T]) -> T:
        """Run ``change(now)`` on the window, read from and written back to the file if any."""
        if self._file_lock is None or self.path is None:
            return change(self._now())
        with self._file_lock:
            self._load(self.path)
            result = change(self._now())
            self.path.write_text(
                json.dumps({"times": list(self._times), "blocked_until": self._blocked_until}),
                encoding="utf-8",
            )
            return result

    def _load(self, path: Path) -> None:
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # no file yet, or one cut short by a crash: start from this process's view
        self._times = deque(float(t) for t in state.get("times", []))
        self._blocked_until = float(state.get("blocked_until", 0.0))

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
        """The server said stop (429): every thread and process waits, not just the one refused."""

        def hold(now: float) -> None:
            self._blocked_until = max(self._blocked_until, now + seconds)

        with self._lock:
            self._shared(hold)

    def configure(self, limit: int, window: float) -> None:
        with self._lock:
            self.limit, self.window = limit, window


_LIMITERS: weakref.WeakKeyDictionary[Clock, dict[str, RateLimiter]] = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


def shared_limiter(
    clock: Clock, key: str, limit: int, window: float, folder: Path | None = None
) -> RateLimiter:
    """The one limiter of this process for ``key`` (service, account and window), made once.

    With ``folder`` its window lives in a file there, so other processes share it too.
    """
    with _REGISTRY_LOCK:
        try:
            mine = _LIMITERS.setdefault(clock, {})
        except TypeError:  # a clock that cannot be weakly referenced: this client alone
            mine = {}
        limiter = mine.get(key)
        if limiter is None:
            path = None
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"{key}.json"
            limiter = mine[key] = RateLimiter(limit, window, clock, path)
        elif limiter.window != window:  # the same account with another window length
            limiter.configure(limit, window)
        return limiter
