"""Every HubSpot request goes through here, under the one HTTP policy (smbml_connect.http).

The official client is kept for transport, auth and request building, but its urllib3
retries are switched off: a retry it made on its own would bypass the limiter, and it
never retries POST (search, batch). What is HubSpot's own is said here, once:
- a 429 without Retry-After (HubSpot usually sends none) waits for the policy that was
  hit, read from the body: the whole 10-second window (requests we never saw may fill
  it: another process on the token, a killed run), then growing random pauses up to a
  minute, for up to ``max_wait`` in all; search's second; or a stop on DAILY;
- the limiters are one per token for the process (and, with ``shared_folder``, for
  every process on the token, through a file);
- 401/403: one AuthError that says what to do and which scope is missing;
- the limiter follows X-HubSpot-RateLimit-Max when the account has a bigger budget.
The token is never put in a message; errors carry HubSpot's message, not request data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import urllib3
from hubspot import HubSpot

from smbml_connect.credentials import Secret, redact
from smbml_connect.errors import (
    ApiError,
    AuthError,
    SmbmlError,
    SourceRetriableError,
    TokenRejectedError,
)
from smbml_connect.http import (
    SYSTEM_CLOCK,
    Clock,
    Failure,
    HttpCaller,
    HttpPolicy,
    Window,
    shared_limiter,
)
from smbml_connect.http.clock import with_sleep

__all__ = ["DailyLimitError", "HubSpotApi", "HubSpotHttpError", "Limits"]

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Limits:
    """HubSpot's budget in its own words. Real HubSpot: 100 (Free/Starter) or 190 per 10 s."""

    per_window: int = 100
    window_seconds: float = 10.0
    search_per_second: int = 5
    search_window_seconds: float = 1.0
    adapt_to_headers: bool = True  # follow X-HubSpot-RateLimit-Max when the account has more
    attempts: int = 6  # for 5xx, timeouts and drops
    max_wait: float = 300.0  # 429 waits for one request before giving up
    rate_wait_cap: float = 60.0  # the longest single pause after a 429
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    shared_folder: Path | None = None  # the window lives here for every process on the token

    def policy(self) -> HttpPolicy:
        return HttpPolicy(
            windows={
                "default": Window(self.per_window, self.window_seconds),
                "search": Window(self.search_per_second, self.search_window_seconds),
            },
            attempts=self.attempts,
            max_wait=self.max_wait,
            backoff_base=self.backoff_base,
            backoff_cap=self.backoff_cap,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
        )


class DailyLimitError(SourceRetriableError):
    """The account's daily API limit is used up (a 429 with policyName DAILY): every
    request fails until it resets at midnight in the account's time zone."""

    # What happened, without what to do: a push says itself when its values go.
    reason = (
        "HubSpot's daily API limit for this account is used up; it resets at midnight in the "
        "account's time zone"
    )

    def __init__(self) -> None:
        super().__init__(f"{self.reason}. Run again then.")


class HubSpotHttpError(ApiError):
    """A request HubSpot refused for good (400, 404, 409 ...): status, category, redacted body."""

    def __init__(self, status: int, body: dict[str, Any], what: str) -> None:
        self.category = str(body.get("category", ""))
        self.message = redact(str(body.get("message") or f"HTTP {status}"))[:300]
        super().__init__(
            "HubSpot",
            status,
            what,
            json.dumps(body),
            detail=f"{self.category}: {self.message}" if self.category else self.message,
            advice="fix the value or setting HubSpot names; retrying will not help",
        )


class HubSpotApi:
    """The official client under the one HTTP policy; ``call`` and ``json`` run one request."""

    name = "HubSpot"

    def __init__(
        self,
        token: Secret,
        host: str | None = None,
        limits: Limits | None = None,
        client_side_validation: bool = False,
        sleep: Callable[[float], None] | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.limits = limits or Limits()
        extra = {"host": host} if host else {}
        self.client = HubSpot(
            access_token=token.reveal(),
            retry=urllib3.Retry(
                total=0, connect=0, read=0, status=0, redirect=0, raise_on_status=False
            ),
            client_side_validation=client_side_validation,
            **extra,
        )
        policy, clock = self.limits.policy(), with_sleep(clock, sleep)
        account = "hubspot-" + hashlib.sha256(token.reveal().encode()).hexdigest()[:16]
        limiters = {
            name: shared_limiter(
                clock, f"{account}-{name}", w.limit, w.seconds, self.limits.shared_folder
            )
            for name, w in policy.windows.items()
        }
        self.http = HttpCaller(self, policy, clock, limiters)
        self.limiter = self.http.limiters["default"]
        self.search_limiter = self.http.limiters["search"]
        self._property_lists: dict[str, list[dict[str, Any]]] = {}

    @property
    def requests(self) -> int:
        return self.http.requests

    @property
    def retries(self) -> int:
        return self.http.retries

    # -- the one way to make a request ------------------------------------------------
    def call(
        self, what: str, fn: Callable[..., T], *args: Any, search: bool = False, **kwargs: Any
    ) -> T:
        """Run ``fn`` (a client method) under the policy; ``what`` names it in errors."""
        timeout = self.http.policy.timeout

        def send() -> T:
            result = fn(*args, _request_timeout=timeout, **kwargs)
            status = getattr(result, "status", None)  # a raw answer's; a model's may be text
            if isinstance(status, int) and status >= 400:
                raise _StatusError(status, result)
            self._learn_limits(result)
            return result

        return self.http.call(what, send, "search" if search else "default")

    def json(
        self, what: str, fn: Callable[..., Any], *args: Any, search: bool = False, **kwargs: Any
    ) -> dict[str, Any]:
        """Like ``call`` but returns the raw JSON: 3x faster than the client's models on big pages."""
        response = self.call(what, fn, *args, search=search, _preload_content=False, **kwargs)
        body = json.loads(response.data) if response.data else {}
        body["_status"] = int(getattr(response, "status", 200))
        return body

    def property_list(self, object_type: str, fresh: bool = False) -> list[dict[str, Any]]:
        """The object type's live properties. A client serves one run, so a list read
        earlier in it (the pull's, checking the mapping) is given again unless ``fresh``:
        the push's check that its properties still exist then costs no request."""
        if fresh or object_type not in self._property_lists:
            body = self.json(
                f"reading the {object_type} property list",
                self.client.crm.properties.core_api.get_all,
                object_type,
            )
            self._property_lists[object_type] = list(body.get("results", []))
        return self._property_lists[object_type]

    def properties_changed(self, object_type: str) -> None:
        """Properties were made: the next look at the list reads it again."""
        self._property_lists.pop(object_type, None)

    def account_details(self, **kwargs: Any) -> Any:
        """GET /account-info/v3/details (the account's portal id): the client has no API
        class for it, so its request goes through a generated client's ``call_api``, under
        the same transport, auth and policy as every other request."""
        return self._get("/account-info/v3/details", **kwargs)

    def account_me(self, **kwargs: Any) -> Any:
        """GET /integrations/v1/me: the older way to the portal id, for any access token
        (HubSpot lists no scope for it), where the details need one the token lacks."""
        return self._get("/integrations/v1/me", **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        """GET a route the client has no API class for (HubSpot's legacy email events and
        form submissions), under the same transport, auth and policy: pass it to ``json``."""
        return self._get(path, **kwargs)

    def _get(self, path: str, **kwargs: Any) -> Any:
        api_client = self.client.crm.objects.basic_api.api_client
        return api_client.call_api(
            path,
            "GET",
            header_params={"Accept": "application/json"},
            auth_settings=["oauth2"],
            **kwargs,
        )

    # -- what is HubSpot's own (the Service the caller asks) ---------------------------
    def failure(self, exc: Exception) -> Failure | SmbmlError | None:
        status = getattr(exc, "status", None)
        if not status:  # no answer at all: timeout, dropped connection, TLS failure
            if status == 0 or isinstance(exc, urllib3.exceptions.HTTPError | OSError):
                return Failure(None, reason=type(exc).__name__)
            return None
        raw = getattr(exc, "body", None) or ""
        body = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        headers = getattr(exc, "headers", None) or {}
        return Failure(int(status), body, dict(headers))

    def rate_wait(self, failure: Failure, window: str, attempt: int) -> float:
        policy = str(failure.json().get("policyName", "TEN_SECONDLY_ROLLING"))
        if policy == "DAILY":
            raise DailyLimitError()
        if window == "search" or policy == "SECONDLY":
            return self.limits.search_window_seconds * (1 + random.random())
        # The window is full with requests we may never have seen (another process, a
        # killed run): wait out a whole window, then growing random pauses.
        interval = failure.header("X-HubSpot-RateLimit-Interval-Milliseconds")
        window_s = int(interval) / 1000 if interval and interval.isdigit() else None
        whole = window_s or self.limits.window_seconds
        pause = min(self.limits.rate_wait_cap, whole * 2 ** max(0, attempt - 1))
        return pause * (1 + random.random() / 4)

    def refused(self, failure: Failure, what: str) -> SmbmlError:
        status, body = failure.status or 0, failure.json()
        if status == 401:
            return TokenRejectedError(
                "HubSpot did not accept the token (401): it is wrong, expired or was revoked. "
                "Create a new private-app token and run `smbml auth hubspot`, or set "
                "SMBML_HUBSPOT_TOKEN."
            )
        if status == 403:
            scopes = _required_scopes(body)
            need = f"the scope {', '.join(scopes)}" if scopes else "a scope it was not granted"
            return AuthError(
                f"HubSpot refused {what} (403): the private app's token lacks {need}. Add it in "
                "HubSpot under Settings > Integrations > Private Apps > Scopes, then run "
                "`smbml auth hubspot` with the new token."
            )
        return HubSpotHttpError(status, body, what)

    def _learn_limits(self, result: Any) -> None:
        """Follow the account's real budget (190 on Professional) when HubSpot states it."""
        if not self.limits.adapt_to_headers:
            return
        headers = getattr(result, "headers", None)
        if headers is None and isinstance(result, tuple) and len(result) == 3:
            headers = result[2]
        if not headers:
            return
        top = headers.get("X-HubSpot-RateLimit-Max")
        interval = headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
        if top and interval and int(top) != self.limiter.limit:
            self.limiter.configure(int(top), int(interval) / 1000)


class _StatusError(Exception):
    def __init__(self, status: int, response: Any) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = response.data.decode("utf-8", "replace") if response.data else ""
        self.headers = response.headers


def _required_scopes(body: dict[str, Any]) -> list[str]:
    scopes: list[str] = []
    for error in body.get("errors") or []:
        context = error.get("context") or {}
        scopes += context.get("requiredGranularScopes") or context.get("requiredScopes") or []
    return scopes
