"""What both emulators share: injected faults and rolling request windows."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["Fault", "RollingWindow"]


@dataclass
class Fault:
    """One injected misbehaviour for the next ``count`` matching requests."""

    kind: str  # "429", "5xx", "slow", "drop"; HubSpot's also "refuse"
    count: int = 1
    path: str = ""  # only requests whose path contains this
    method: str = ""  # only this method
    status: int = 503  # for 5xx and refuse
    message: str = ""  # for refuse: the service's words
    delay: float = 0.0  # for slow
    retry_after: float | None = None  # for 429
    skip: int = 0  # let this many matching requests through first (a fault mid-sync)
    # "drop" only: the server applies the request, then the answer is lost (a timeout or a
    # reset after the commit), so a retry repeats a change that was made (the case in
    # googleapis/google-api-python-client#1064: a retried addProtectedRange got a 400)
    after: bool = False

    def matches(self, method: str, path: str) -> bool:
        if self.count <= 0 or self.path not in path or (self.method and self.method != method):
            return False
        if self.skip > 0:
            self.skip -= 1
            return False
        return True


@dataclass
class RollingWindow:
    """A rolling window of request times (HubSpot's TEN_SECONDLY_ROLLING, Google's per-minute quotas)."""

    seconds: float
    limit: int
    times: deque[float] = field(default_factory=deque)

    def admit(self, now: float) -> bool:
        while self.times and self.times[0] <= now - self.seconds:
            self.times.popleft()
        if len(self.times) >= self.limit:
            return False
        self.times.append(now)
        return True

    def remaining(self) -> int:
        return max(0, self.limit - len(self.times))
