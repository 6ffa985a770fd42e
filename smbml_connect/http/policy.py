"""The numbers of one HTTP policy: request windows, attempts, backoff and timeouts."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["RETRY_STATUSES", "HttpPolicy", "Window", "backoff", "secret_safe_url"]

# 408 and 429 may pass later, as may any 5xx but "not implemented" and "version not supported".
RETRY_STATUSES = frozenset({408, 429} | set(range(500, 600)) - {501, 505})


@dataclass(frozen=True)
class Window:
    """At most ``limit`` requests in any rolling ``seconds``."""

    limit: int
    seconds: float


@dataclass(frozen=True)
class HttpPolicy:
    """Everything a connector's HTTP client needs to know about patience and budget.

    ``windows`` names one limiter each ("default"; HubSpot adds "search", Sheets has
    "read" and "write"). ``attempts`` counts the first try. A server that says "too
    many requests" is waited for as long as it asks, up to ``max_wait`` in all.
    """

    windows: Mapping[str, Window] = field(default_factory=lambda: {"default": Window(100, 10.0)})
    attempts: int = 6  # for 5xx, timeouts and drops; a 429 counts against max_wait instead
    max_wait: float = 300.0  # seconds of 429 waits for one request before the run gives up
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    retry_statuses: frozenset[int] = RETRY_STATUSES

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)


def backoff(policy: HttpPolicy, attempt: int, rng: random.Random | None = None) -> float:
    """Full jitter: a random pause up to base * 2^(attempt-1), capped; many clients spread out."""
    ceiling = min(policy.backoff_cap, policy.backoff_base * 2 ** (attempt - 1))
    return (rng or random).uniform(0, ceiling)


_THIS_MACHINE = frozenset({"localhost", "127.0.0.1", "::1"})


def secret_safe_url(url: str) -> str:
    """``url`` if a token may be sent to it: https, or plain http to this machine only (the
    emulators). Anything else would carry the token across the network in clear text, so
    it is refused (ValueError, which a settings model shows under the key's name)."""
    parts = urlsplit(url)
    if parts.hostname and (
        parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _THIS_MACHINE)
    ):
        return url
    raise ValueError(
        "must be an https:// address (a token is sent there; over http:// it would cross "
        "the network readable by anyone on the way); http:// only for this machine "
        "(localhost, 127.0.0.1), where the emulators run"
    )
