"""The one clock every HTTP client, limiter and timestamp reads: injectable, so tests need no waiting."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock", "with_sleep"]


@runtime_checkable
class Clock(Protocol):
    """``monotonic`` measures waits, ``sleep`` waits, ``now`` stamps records (aware, UTC)."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    def now(self) -> datetime: ...


class SystemClock:
    """Real time: the default everywhere outside tests."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def now(self) -> datetime:
        return datetime.now(UTC)


SYSTEM_CLOCK: Clock = SystemClock()


class _OwnSleep:
    """A clock that waits with someone else's ``sleep`` (the clients' older ``sleep=`` keyword)."""

    def __init__(self, clock: Clock, sleep: Callable[[float], None]) -> None:
        self._clock, self._sleep = clock, sleep

    def monotonic(self) -> float:
        return self._clock.monotonic()

    def sleep(self, seconds: float) -> None:
        self._sleep(seconds)

    def now(self) -> datetime:
        return self._clock.now()


def with_sleep(clock: Clock, sleep: Callable[[float], None] | None) -> Clock:
    return clock if sleep is None else _OwnSleep(clock, sleep)
