"""The one way a connector sends a request: limiter, timeout, retries, one error type.

A connector describes its service once (a ``Service``): how to read a vendor exception
as a ``Failure`` (status, body, headers; no status for a timeout or a dropped
connection), how long a 429 without Retry-After should wait, and what a final refusal
means in words. ``HttpCaller.call`` does the rest, the same way for every connector:
- no answer, 408 and 5xx: retried; Retry-After is honoured, else full-jitter backoff;
- 429: the wait is Retry-After, else the service's hint; the limiter is blocked for it,
  so every thread (and process, when the limiter is shared through a file) pauses, not
  just the one that was refused; it is retried up to the policy's total ``max_wait``;
- anything else: the service's error (``AuthError``, ``ConfigError``) or an ``ApiError``.
Vendor exceptions never leave the caller; the last of too many retries becomes a
``SourceRetriableError`` that says to run again later.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar

from smbml_connect.errors import ApiError, GaveUpError, SmbmlError
from smbml_connect.http.clock import SYSTEM_CLOCK, Clock
from smbml_connect.http.policy import HttpPolicy
from smbml_connect.http.ratelimit import RateLimiter
from smbml_connect.http.retry import RetryLater, with_retries

__all__ = ["Failure", "HttpCaller", "Service", "refused_plainly", "retry_after"]

T = TypeVar("T")


@dataclass(frozen=True)
class Failure:
    """A failed request with the vendor's types removed; ``status`` None: no answer at all."""

    status: int | None
    body: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    reason: str = ""  # for no answer: what happened (ReadTimeoutError, ConnectionError ...)

    def json(self) -> dict[str, Any]:
        try:
            parsed = json.loads(self.body) if self.body else {}
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return str(value)
        return None


class Service(Protocol):
    """What one connector tells the caller about its API."""

    name: str  # in messages: "HubSpot", "Google Sheets"

    def failure(self, exc: Exception) -> Failure | SmbmlError | None:
        """The vendor exception read as a Failure, or our own error; None: not an HTTP failure."""

    def rate_wait(self, failure: Failure, window: str, attempt: int) -> float:
        """Seconds to hold every request after a 429 without Retry-After; raise to stop instead."""

    def refused(self, failure: Failure, what: str) -> SmbmlError:
        """The error for a final refusal (401, 403, 404, 400 ...): what to do next, in words."""


def retry_after(failure: Failure, clock: Clock = SYSTEM_CLOCK) -> float | None:
    """Retry-After in seconds (it may also be an HTTP date), None when absent or unreadable."""
    value = failure.header("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - clock.now()).total_seconds())
    except (TypeError, ValueError):
        return None


class HttpCaller:
    """One policy applied to every request of one client; counts requests, retries and waits."""

    def __init__(
        self,
        service: Service,
        policy: HttpPolicy,
        clock: Clock = SYSTEM_CLOCK,
        limiters: Mapping[str, RateLimiter] | None = None,
    ) -> None:
        self.service = service
        self.policy = policy
        self.clock = clock
        # Given (shared_limiter): one per account for the process, and across processes.
        self.limiters = dict(limiters or {}) or {
            name: RateLimiter(w.limit, w.seconds, clock) for name, w in policy.windows.items()
        }
        self.requests = 0
        self.retries = 0
        self.waited_on_429 = 0.0
        self._lock = threading.Lock()

    def call(self, what: str, send: Callable[[], T], window: str = "default") -> T:
        """Run ``send`` (one request) under ``window``'s limiter with retries."""
        limiter = self.limiters[window]
        tries = 0

        def attempt() -> T:
            nonlocal tries
            tries += 1
            limiter.acquire()
            with self._lock:
                self.requests += 1
            try:
                return send()
            except (SmbmlError, RetryLater):
                raise
            except Exception as exc:
                seen = self.service.failure(exc)
                if seen is None:
                    raise
                if isinstance(seen, SmbmlError):
                    raise seen from None
                raise self.decide(seen, what, window, tries) from None

        def give_up(attempts: int, last: RetryLater) -> Exception:
            if last.held:
                return GaveUpError(
                    f"{self.service.name} kept answering 'too many requests' on {what} for "
                    f"{_duration(self.policy.max_wait)} (another app or process on the "
                    "same account may be using its limit)"
                )
            return GaveUpError(
                f"{self.service.name} kept failing on {what} after {attempts} attempts "
                f"(last: {last})"
            )

        return with_retries(
            attempt, policy=self.policy, give_up=give_up, clock=self.clock, on_retry=self._retried
        )

    def decide(self, failure: Failure, what: str, window: str, attempt: int) -> Exception:
        """A RetryLater for what may pass later, else the error the user sees."""
        status = failure.status
        if status is None:
            return RetryLater(f"{failure.reason or 'no answer'} on {what}")
        hint = retry_after(failure, self.clock)
        if status == 429:
            wait = hint if hint is not None else self.service.rate_wait(failure, window, attempt)
            self.limiters[window].block(wait)
            with self._lock:
                self.waited_on_429 += wait
            return RetryLater(f"429 on {what}", wait=0.0, held=max(wait, 0.001))
        if status in self.policy.retry_statuses:
            return RetryLater(f"HTTP {status} on {what}", wait=hint)
        return self.service.refused(failure, what)

    def _retried(self) -> None:
        with self._lock:
            self.retries += 1


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    minutes = seconds / 60
    return f"{minutes:.0f} minutes" if minutes == int(minutes) else f"{minutes:.1f} minutes"


def refused_plainly(service: str, failure: Failure, what: str, detail: str = "") -> ApiError:
    """The default final refusal: status, redacted body and the service's message."""
    return ApiError(
        service,
        failure.status or 0,
        what,
        failure.body,
        detail=detail,
        advice="check the request's settings in the config; this will not pass by retrying",
    )
