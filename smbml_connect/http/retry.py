"""One retry loop for every HTTP client (HubSpot, Google Sheets), with tenacity.

A request that may pass later raises ``RetryLater``: with ``wait`` when the server said
how long (Retry-After, a rate window), else full-jitter exponential backoff with a cap,
so many clients do not retry in step. Any other exception is final at once. A 429 is
retried for as long as the server asks, up to the policy's ``max_wait`` in all (another
client may hold the window for a while); anything else up to ``attempts``. Then the
caller's ``give_up`` turns the last RetryLater into the error the user sees. Waiting goes through the clock, so a test's fake clock makes it instant.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type

from smbml_connect.http.clock import SYSTEM_CLOCK, Clock
from smbml_connect.http.policy import HttpPolicy, backoff

__all__ = ["RetryLater", "with_retries"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class RetryLater(Exception):
    def __init__(self, reason: str, wait: float | None = None, held: float = 0.0) -> None:
        super().__init__(reason)
        self.wait = wait  # None: the backoff decides
        self.held = held  # a 429's wait, spent in the limiter: counts against max_wait


def with_retries(
    attempt: Callable[[], T],
    *,
    policy: HttpPolicy,
    give_up: Callable[[int, RetryLater], Exception],
    clock: Clock = SYSTEM_CLOCK,
    on_retry: Callable[[], None] = lambda: None,
) -> T:
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryLater) and exc.wait is not None:
            return exc.wait
        return backoff(policy, state.attempt_number)

    def log_retry(state: RetryCallState) -> None:  # only when a retry follows
        on_retry()
        exc = state.outcome.exception() if state.outcome else None
        log.info("retrying after %s (attempt %d)", exc, state.attempt_number)

    def final(state: RetryCallState) -> T:
        exc = state.outcome.exception() if state.outcome else None
        assert exc is not None
        if isinstance(exc, RetryLater):
            raise give_up(state.attempt_number, exc)
        raise exc

    spent = {"held": 0.0, "failures": 0}

    def stop(state: RetryCallState) -> bool:
        """429s stop on the total wait (the server decides how long); others on attempts."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryLater) and exc.held:
            spent["held"] += exc.held
            return spent["held"] > policy.max_wait
        spent["failures"] += 1
        return spent["failures"] >= policy.attempts

    retrying = Retrying(
        retry=retry_if_exception_type(RetryLater),
        stop=stop,
        wait=wait,
        sleep=clock.sleep,
        before_sleep=log_retry,
        retry_error_callback=final,
    )
    return retrying(attempt)
