"""One HTTP policy for every connector: timeouts, retries with the server's wait hints, limits.

``HttpPolicy`` holds the numbers, ``HttpCaller`` applies them to each request, the
``Clock`` decides what time it is and how to wait (a fake one in tests).
"""

from smbml_connect.http.caller import Failure, HttpCaller, Service, refused_plainly, retry_after
from smbml_connect.http.clock import SYSTEM_CLOCK, Clock, SystemClock
from smbml_connect.http.policy import (
    RETRY_STATUSES,
    HttpPolicy,
    Window,
    backoff,
    secret_safe_url,
)
from smbml_connect.http.ratelimit import RateLimiter, shared_limiter
from smbml_connect.http.retry import RetryLater, with_retries

__all__ = [
    "RETRY_STATUSES",
    "SYSTEM_CLOCK",
    "Clock",
    "Failure",
    "HttpCaller",
    "HttpPolicy",
    "RateLimiter",
    "RetryLater",
    "Service",
    "SystemClock",
    "Window",
    "backoff",
    "refused_plainly",
    "retry_after",
    "secret_safe_url",
    "shared_limiter",
    "with_retries",
]
