"""Every Google Sheets request goes through here: gspread, under the one HTTP policy.

gspread builds the requests; its own BackOffHTTPClient is not used because in 6.2.1 it
never gives up (the wait is clamped before the give-up check) and ignores Retry-After.
Instead every request goes through smbml_connect.http's caller: a slot in a rolling
60-second window (Google's quota is 60 reads and 60 writes per minute per user), the
timeout, retries of 408/429/5xx, timeouts and dropped connections with the server's
wait hints. What is Google's own is said here, once:
- a 429 without Retry-After waits truncated exponential backoff (Google's advice);
- a failed token refresh is retried when google-auth says it may pass, else refused;
- 401/403/404: one clear error that says what to do (share the sheet with the
  service account's e-mail, check the key), never retried.
The service-account key is a Secret: it never appears in a message or a log.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, TypeVar

import google.auth.exceptions
import gspread
import requests
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account
from gspread.exceptions import APIError
from gspread.http_client import FileType, ParamsType

from smbml_connect.credentials import Secret, redact
from smbml_connect.errors import (
    ApiError,
    AuthError,
    ConfigError,
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
    secret_safe_url,
)
from smbml_connect.http.clock import with_sleep

__all__ = ["GOOGLE_URLS", "SheetsApi", "SheetsHttpError", "SheetsLimits", "service_account_info"]

log = logging.getLogger(__name__)
T = TypeVar("T")
SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)
GOOGLE_URLS = ("https://sheets.googleapis.com", "https://www.googleapis.com")


@dataclass(frozen=True)
class SheetsLimits:
    """Google's per-user quota in its own words, and our patience."""

    per_minute: int = 60  # reads and writes each
    window_seconds: float = 60.0
    attempts: int = 6
    backoff_base: float = 1.0
    backoff_cap: float = 64.0  # Google: "maximum_backoff is typically 32 or 64 seconds"
    connect_timeout: float = 10.0
    read_timeout: float = 120.0

    def policy(self) -> HttpPolicy:
        window = Window(self.per_minute, self.window_seconds)
        return HttpPolicy(
            windows={"read": window, "write": window},
            attempts=self.attempts,
            backoff_base=self.backoff_base,
            backoff_cap=self.backoff_cap,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
        )


class SheetsHttpError(ApiError):
    """A request Google refused for good (a bad range, a bad request): status, redacted body."""

    def __init__(self, status: int, message: str, what: str, body: str = "") -> None:
        super().__init__(
            "Google Sheets",
            status,
            what,
            body,
            detail=message or f"HTTP {status}",
            advice="check the spreadsheet and tab named in the config; retrying will not help",
        )


def service_account_info(secret: Secret) -> dict[str, Any]:
    """The key file's JSON, checked: a clear message instead of a KeyError deep in google-auth."""
    try:
        info = json.loads(secret.reveal())
    except ValueError:
        raise AuthError(
            "the Google credentials are not a service-account JSON key file: download one in "
            "Google Cloud Console > IAM > Service accounts > Keys, then run `smbml auth google`"
        ) from None
    if not isinstance(info, dict):  # valid JSON, but a list or a text ("unexpected AttributeError")
        raise AuthError(
            f"the Google credentials are not a service-account key: they hold {_json_kind(info)}, "
            "not the key's fields (type, client_email, private_key, ...): use the JSON key of a "
            "service account as Google Cloud Console downloads it, then run `smbml auth google`"
        )
    missing = [k for k in ("client_email", "private_key", "token_uri") if not info.get(k)]
    if info.get("type") != "service_account" or missing:
        raise AuthError(
            "the Google credentials are not a service-account key"
            + (f" (missing {', '.join(missing)})" if missing else "")
            + ": use the JSON key of a service account, then run `smbml auth google`"
        )
    Secret(info["private_key"])  # registered, so it is redacted even on its own
    return info


def _json_kind(value: Any) -> str:
    """What a JSON value is, in words (never the value: it may hold the key's text)."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a text"
    return (
        "a number"
        if isinstance(value, int | float) and not isinstance(value, bool)
        else ("nothing" if value is None else "a yes or no")
    )


def _signing_credentials(info: dict[str, Any]) -> Any:
    """The key's credentials; a private key cut short when pasted, or edited, is one line
    (it was "unexpected ValueError: Unable to load PEM file"). No key text is quoted."""
    try:
        return service_account.Credentials.from_service_account_info(info, scopes=list(SCOPES))
    except (ValueError, TypeError, google.auth.exceptions.GoogleAuthError):
        raise AuthError(
            "the Google key's private_key is damaged (cut short or edited, perhaps when it was "
            "pasted): download the key again in Google Cloud Console > IAM > Service accounts "
            "> Keys, then run `smbml auth google`"
        ) from None


def _compact_json(body: Mapping[str, Any]) -> bytes:
    """A request body without spaces; ASCII (non-ASCII is escaped), so str and bytes agree."""
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode("ascii")


class _Rewriter(requests.Session):
    """A plain session that sends Google's hosts to ``base`` (token and IAM calls go here)."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self._base = base.rstrip("/")

    def request(
        self, method: str, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        for real in (*GOOGLE_URLS, "https://iamcredentials.googleapis.com"):
            if isinstance(url, str) and url.startswith(real):
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

    def request(
        self, method: str, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        if self._base:
            for real in GOOGLE_URLS:
                if isinstance(url, str) and url.startswith(real):
                    url = self._base + url[len(real) :]
        return super().request(method, url, *args, **kwargs)


class SheetsApi:
    """A gspread Client whose every request is limited and retried; ``client`` is gspread's."""

    name = "Google Sheets"

    def __init__(
        self,
        credentials: Secret,
        api_url: str | None = None,
        limits: SheetsLimits | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Clock = SYSTEM_CLOCK,
        token_url: str | None = None,
    ) -> None:
        info = service_account_info(credentials)
        if token_url:  # the config's override (a local emulator); else the key's own token_uri
            info = {**info, "token_uri": token_url}
        self.token_url = str(info["token_uri"])
        try:  # the signed assertion goes there; it buys a token for an hour
            secret_safe_url(self.token_url)
        except ValueError as exc:
            raise AuthError(f"the key's token_uri {exc}; download the key again") from None
        self.account = str(info["client_email"])
        self.limits = limits or SheetsLimits()
        creds = _signing_credentials(info)
        base = None if not api_url or api_url.startswith(GOOGLE_URLS) else api_url
        session = _RoutedSession(creds, base)
        self._credentials, self._session = creds, session
        self.http = HttpCaller(self, self.limits.policy(), with_sleep(clock, sleep))
        self.readers = self.http.limiters["read"]
        self.writers = self.http.limiters["write"]
        api = self

        class _LimitedClient(gspread.HTTPClient):
            def request(
                self,
                method: str,
                endpoint: str,
                params: ParamsType | None = None,
                data: bytes | None = None,
                json: Mapping[str, Any] | None = None,
                files: FileType = None,
                headers: MutableMapping[str, str] | None = None,
            ) -> requests.Response:
                if json is not None:  # compact: a 20,000-row tab stays well under 10 MB
                    data = _compact_json(json)
                    headers = {**(headers or {}), "Content-Type": "application/json"}
                parent = super().request
                return api.send(
                    method,
                    endpoint,
                    lambda: parent(
                        method, endpoint, params=params, data=data, files=files, headers=headers
                    ),
                )

        # gspread uses `auth` only when it builds its own session; ours is already authorised.
        self.client = gspread.Client(auth=creds, session=session, http_client=_LimitedClient)
        self.client.set_timeout(self.http.policy.timeout)

    @property
    def requests(self) -> int:
        return self.http.requests

    @property
    def retries(self) -> int:
        return self.http.retries

    @property
    def waited_on_429(self) -> float:
        return self.http.waited_on_429

    # -- the one way to make a request ------------------------------------------------
    def send(self, method: str, endpoint: str, fn: Callable[[], T]) -> T:
        window = "read" if method.upper() == "GET" else "write"
        return self.http.call(_describe(method, endpoint), fn, window)

    # -- what is Google's own (the Service the caller asks) ----------------------------
    def failure(self, exc: Exception) -> Failure | SmbmlError | None:
        if isinstance(exc, APIError):
            response = exc.response
            status = int(getattr(response, "status_code", 0) or exc.code or 0)
            headers = dict(response.headers) if response is not None else {}
            body = response.text if response is not None else json.dumps({"error": exc.error})
            return Failure(status or None, body, headers, reason="no status")
        if isinstance(exc, requests.ConnectionError | requests.Timeout):
            return Failure(None, reason=type(exc).__name__)
        if isinstance(exc, google.auth.exceptions.RefreshError):  # getting the token failed
            if getattr(exc, "retryable", False):
                return Failure(None, reason="token refresh failed")
            return _refused(exc, self.token_url)
        if isinstance(exc, google.auth.exceptions.TransportError):
            return Failure(None, reason="token endpoint unreachable")
        return None

    def rate_wait(self, failure: Failure, window: str, attempt: int) -> float:
        ceiling = min(self.limits.backoff_cap, self.limits.backoff_base * 2**attempt)
        return ceiling * (0.5 + random.random() / 2)

    def refused(self, failure: Failure, what: str) -> SmbmlError:
        status = failure.status or 0
        if status == 401:
            return TokenRejectedError(
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
        error = failure.json().get("error")
        message = str(error.get("message", "")) if isinstance(error, dict) else ""
        return SheetsHttpError(status, message, what, failure.body)

    def authorise(self) -> None:
        """Exchange the key for a token now: a bad or revoked key fails here, clearly."""
        try:
            self._credentials.refresh(self._session._auth_request)
        except google.auth.exceptions.RefreshError as exc:
            raise _refused(exc, self.token_url) from None
        except google.auth.exceptions.TransportError:
            raise SourceRetriableError(
                f"could not reach the token endpoint {self.token_url} to check the key: check "
                "the network, or the key's token_uri (normally "
                "https://oauth2.googleapis.com/token; [google] token_url overrides it)"
            ) from None


# OAuth errors that are about the key itself (RFC 6749 5.2); anything else is the endpoint.
_KEY_ERRORS = {"invalid_grant", "invalid_client", "unauthorized_client", "invalid_scope"}


def _refused(exc: Exception, token_url: str) -> AuthError:
    data = exc.args[1] if len(exc.args) > 1 else None
    error = data.get("error") if isinstance(data, Mapping) else None
    if isinstance(error, str) and error in _KEY_ERRORS:
        assert isinstance(data, Mapping)
        described = data.get("error_description")
        reason = redact(f"{error}: {described}" if described else error)[:200]
        return AuthError(
            f"Google refused the service-account key ({reason}): create a new JSON key and "
            "run `smbml auth google` again"
        )
    if isinstance(error, Mapping):  # an HTTP error page in Google's shape: a wrong address
        shown = f"HTTP {error.get('code', '?')}: {error.get('message', '')}"
    else:
        shown = data if isinstance(data, str) else "no token in the answer"
    reason = redact(" ".join(shown.split()))[:120]
    return AuthError(
        f"the token endpoint {token_url} gave no token ({reason}): check token_uri in the key "
        "(normally https://oauth2.googleapis.com/token), or set [google] token_url when "
        "pointing at a local emulator"
    )


def _describe(method: str, endpoint: str) -> str:
    tail = endpoint.split("/spreadsheets/", 1)[-1]
    return f"{method.upper()} {tail.split('?')[0][:80]}"
