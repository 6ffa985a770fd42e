"""Every Google Sheets request goes through here: gspread, our limiter, our retry.

gspread builds the requests; its own BackOffHTTPClient is not used because in 6.2.1 it
never gives up (the wait is clamped before the give-up check) and ignores Retry-After.
Instead every request waits for a slot in a rolling 60-second window (Google's quota is
60 reads and 60 writes per minute per user), and failures are retried by tenacity:
- 429: Retry-After when sent, else truncated exponential backoff (Google's advice),
  and the limiter holds every other request for as long;
- 5xx, 408, timeouts, dropped connections: full-jitter backoff with a cap;
- 401/403/404: one clear error that says what to do (share the sheet with the
  service account's e-mail, check the key), never retried.
The service-account key is a Secret: it never appears in a message or a log.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import google.auth.exceptions
import gspread
import requests
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account
from gspread.exceptions import APIError

from smbml_connect.credentials import Secret, redact
from smbml_connect.errors import AuthError, ConfigError, SourceFatalError, SourceRetriableError
from smbml_connect.http.ratelimit import RateLimiter
from smbml_connect.http.retry import RetryLater, with_retries

__all__ = ["GOOGLE_URLS", "SheetsApi", "SheetsHttpError", "SheetsLimits", "service_account_info"]

log = logging.getLogger(__name__)
T = TypeVar("T")
SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)
GOOGLE_URLS = ("https://sheets.googleapis.com", "https://www.googleapis.com")
_RETRY_STATUS = {408, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class SheetsLimits:
    """Google's per-user quota and our patience; the window is shortened only in tests."""

    per_minute: int = 60  # reads and writes each
    window_seconds: float = 60.0
    attempts: int = 6
    backoff_base: float = 1.0
    backoff_cap: float = 64.0  # Google: "maximum_backoff is typically 32 or 64 seconds"
    connect_timeout: float = 10.0
    read_timeout: float = 120.0


class SheetsHttpError(SourceFatalError):
    """A request Google refused for good (a bad range, a bad request): carries the status."""

    def __init__(self, status: int, message: str, what: str) -> None:
        super().__init__(f"Google Sheets refused {what} (HTTP {status}): {redact(message)[:300]}")
        self.status = status


def service_account_info(secret: Secret) -> dict[str, Any]:
    """The key file's JSON, checked: a clear message instead of a KeyError deep in google-auth."""
    try:
        info = json.loads(secret.reveal())
    except ValueError:
        raise AuthError(
            "the Google credentials are not a service-account JSON key file: download one in "
            "Google Cloud Console > IAM > Service accounts > Keys, then run `smbml auth google`"
        ) from None
    missing = [k for k in ("client_email", "private_key", "token_uri") if not info.get(k)]
    if not isinstance(info, dict) or info.get("type") != "service_account" or missing:
        raise AuthError(
            "the Google credentials are not a service-account key"
            + (f" (missing {', '.join(missing)})" if missing else "")
            + ": use the JSON key of a service account, then run `smbml auth google`"
        )
    Secret(info["private_key"])  # registered, so it is redacted even on its own
    return info


class _Rewriter(requests.Session):
    """A plain session that sends Google's hosts to ``base`` (token and IAM calls go here)."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self._base = base.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        for real in (*GOOGLE_URLS, "https://iamcredentials.googleapis.com"):
            if url.startswith(real):
                url = self._base + url[len(real) :]
        return super().request(method, url, *args, **kwargs)


class _RoutedSession(AuthorizedSession):
    """Google's authorised session, pointed at another host when ``base`` is set (an emulator).

    The auth side (token refresh, google-auth's background IAM lookup) is routed too, so
    a test never reaches for the internet.
    """

    def __init__(self, credentials: Any, base: str | None) -> None:
        from google.auth.transport.requests import Request

        auth_request = Request(session=_Rewriter(base)) if base else None
        super().__init__(credentials, auth_request=auth_request)
        self._base = base.rstrip("/") if base else None

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if self._base:
            for real in GOOGLE_URLS:
                if url.startswith(real):
                    url = self._base + url[len(real) :]
        return super().request(method, url, *args, **kwargs)


class SheetsApi:
    """A gspread Client whose every request is limited and retried; ``client`` is gspread's."""

    def __init__(
        self,
        credentials: Secret,
        api_url: str | None = None,
        limits: SheetsLimits | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        info = service_account_info(credentials)
        self.account = str(info["client_email"])
        self.limits = limits or SheetsLimits()
        creds = service_account.Credentials.from_service_account_info(info, scopes=list(SCOPES))
        base = None if not api_url or api_url.startswith(GOOGLE_URLS) else api_url
        session = _RoutedSession(creds, base)
        self._credentials, self._session = creds, session
        self.readers = RateLimiter(self.limits.per_minute, self.limits.window_seconds)
        self.writers = RateLimiter(self.limits.per_minute, self.limits.window_seconds)
        self.requests = 0
        self.retries = 0
        self.waited_on_429 = 0.0
        self._sleep = sleep
        self._count = threading.Lock()
        api = self

        class _LimitedClient(gspread.HTTPClient):
            def request(self, method: str, endpoint: str, **kwargs: Any) -> requests.Response:
                body = kwargs.pop("json", None)
                if body is not None:  # compact: a 20,000-row tab stays well under 10 MB
                    kwargs["data"] = json.dumps(body, separators=(",", ":"), allow_nan=False)
                    kwargs["headers"] = {
                        **(kwargs.get("headers") or {}),
                        "Content-Type": "application/json",
                    }
                parent = super().request
                return api.send(method, endpoint, lambda: parent(method, endpoint, **kwargs))

        self.client = gspread.Client(auth=None, session=session, http_client=_LimitedClient)
        self.client.set_timeout((self.limits.connect_timeout, self.limits.read_timeout))

    # -- the one way to make a request ------------------------------------------------
    def send(self, method: str, endpoint: str, fn: Callable[[], T]) -> T:
        what = _describe(method, endpoint)
        limiter = self.readers if method.upper() == "GET" else self.writers

        tries = 0

        def attempt() -> T:
            nonlocal tries
            tries += 1
            limiter.acquire()
            with self._count:
                self.requests += 1
            try:
                return fn()
            except APIError as exc:
                raise self._classify(exc, what, limiter, tries) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise RetryLater(f"{type(exc).__name__} on {what}") from None
            except google.auth.exceptions.RefreshError as exc:  # getting the token failed
                if getattr(exc, "retryable", False):
                    raise RetryLater(f"token refresh failed on {what}") from None
                raise _refused(exc) from None
            except google.auth.exceptions.TransportError:
                raise RetryLater(f"token endpoint unreachable on {what}") from None

        def give_up(attempts: int, last: RetryLater) -> Exception:
            return SourceRetriableError(
                f"Google Sheets kept failing on {what} after {attempts} attempts "
                f"(last: {last}); run again later."
            )

        return with_retries(
            attempt,
            attempts=self.limits.attempts,
            backoff_base=self.limits.backoff_base,
            backoff_cap=self.limits.backoff_cap,
            give_up=give_up,
            sleep=self._sleep,
            on_retry=self._count_retry,
        )

    def _count_retry(self) -> None:
        with self._count:
            self.retries += 1

    def _classify(self, exc: APIError, what: str, limiter: RateLimiter, attempt: int) -> Exception:
        response = exc.response
        status = int(getattr(response, "status_code", 0) or exc.code or 0)
        message = str(exc.error.get("message", "")) if isinstance(exc.error, Mapping) else ""
        if status in _RETRY_STATUS:
            header = response.headers.get("Retry-After") if response is not None else None
            wait = float(header) if header else None
            if status == 429:
                wait = wait if wait is not None else self._backoff_for(attempt)
                limiter.block(wait)
                self.waited_on_429 += wait
                return RetryLater(f"429 on {what}: {message[:120]}", wait=0.0)
            return RetryLater(f"HTTP {status} on {what}", wait=wait)
        if status == 401:
            return AuthError(
                "Google did not accept the service account's credentials (401): the key was "
                "deleted or disabled. Create a new key and run `smbml auth google`, or set "
                "SMBML_GOOGLE_SERVICE_ACCOUNT."
            )
        if status == 403:
            return AuthError(
                f"the service account {self.account} may not open this spreadsheet (403). In "
                f"Google Sheets, click Share and add {self.account} as an Editor; also check "
                "that the Google Sheets API is enabled for its project."
            )
        if status == 404:
            return ConfigError(
                "Google Sheets has no spreadsheet with that key (404): check source.spreadsheet "
                "in the config (the URL or the key between /d/ and /edit)."
            )
        return SheetsHttpError(status, message, what)

    def _backoff_for(self, attempt: int) -> float:
        ceiling = min(self.limits.backoff_cap, self.limits.backoff_base * 2**attempt)
        return ceiling * (0.5 + random.random() / 2)

    def authorise(self) -> None:
        """Exchange the key for a token now: a bad or revoked key fails here, clearly."""
        try:
            self._credentials.refresh(self._session._auth_request)
        except google.auth.exceptions.RefreshError as exc:
            raise _refused(exc) from None
        except google.auth.exceptions.TransportError:
            raise SourceRetriableError(
                "could not reach Google to check the key; try again"
            ) from None


def _refused(exc: Exception) -> AuthError:
    reason = redact(str(exc.args[0]) if exc.args else "refused")[:200]
    return AuthError(
        f"Google refused the service-account key ({reason}): create a new JSON key and run "
        "`smbml auth google` again"
    )


def _describe(method: str, endpoint: str) -> str:
    tail = endpoint.split("/spreadsheets/", 1)[-1]
    return f"{method.upper()} {tail.split('?')[0][:80]}"
